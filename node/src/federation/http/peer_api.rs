//! The `/federation/v1` endpoints peers call. Every handler takes a
//! [`SignedRequest`] of its call kind, so none runs before the request's
//! signature, the signer's link and the nonce have been checked; what is
//! left here is the endpoint's own work.

use std::collections::{BTreeSet, HashMap};

use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use seednet_protocol::federation::limits::{SYNC_BATCH_BYTES_MAX, SYNC_RECORD_OVERHEAD_BYTES};
use seednet_protocol::federation::reconcile::{respond, ReconcileConfig, ReconcileError};
use seednet_protocol::federation::wire::{
    ChangesQuery, ItemsRequest, ItemsResponse, KeyRotation, LinkRequest, NotifyHint,
};
use seednet_protocol::{NodeId, Signable, Signed, SignedWire};

use super::signed::{
    ItemsCall, LinkAcceptCall, LinkRequestCall, PeerCall, ReconcileCall, SignedRequest,
};
use crate::http::client_address::ClientAddress;
use crate::http::error::ApiError;
use crate::state::AppState;
use crate::storage::StoredItems;

/// A signed object in a federation body, decoded and verified (section 3).
fn signed_body<T: Signable>(body: &[u8], what: &str) -> Result<Signed<T>, ApiError> {
    let wire: SignedWire = serde_json::from_slice(body).map_err(|e| {
        ApiError::bad_request("bad_request", "body", format!("not a signed {what}: {e}"))
    })?;
    Signed::<T>::from_wire(&wire).map_err(|e| {
        ApiError::bad_request(
            "bad_request",
            "body",
            format!("{what} does not verify: {e}"),
        )
    })
}

fn accepted() -> Response {
    (StatusCode::ACCEPTED, Json(serde_json::json!({}))).into_response()
}

/// `POST /federation/v1/links`: a node asks for a link (9.2).
pub(super) async fn link_request(
    State(state): State<AppState>,
    ClientAddress(source): ClientAddress,
    request: SignedRequest<LinkRequestCall>,
) -> Result<Response, ApiError> {
    let link_request = signed_body::<LinkRequest>(&request.body, "link request")?;
    let value = link_request.value();
    if value.from != request.signer {
        return Err(ApiError::bad_request(
            "bad_request",
            "from",
            "the link request is not from the request's signer",
        ));
    }
    if value.to != state.node_id() {
        return Err(ApiError::bad_request(
            "bad_request",
            "to",
            "the link request is addressed to another node",
        ));
    }
    let descriptor = value
        .verified_descriptor()
        .map_err(|e| ApiError::bad_request("bad_request", "descriptor", e.to_string()))?;
    state.federation.on_link_request(descriptor, source).await?;
    Ok(accepted())
}

/// `POST /federation/v1/links/accept`: a node this one asked approved.
pub(super) async fn link_accept(
    State(state): State<AppState>,
    request: SignedRequest<LinkAcceptCall>,
) -> Result<Response, ApiError> {
    state.federation.on_link_accept(request.signer).await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

/// `GET /federation/v1/changes?since=&limit=`: one page of the feed (9.4),
/// leaving out the origins this node does not serve.
pub(super) async fn changes(
    State(state): State<AppState>,
    Query(params): Query<HashMap<String, String>>,
    _request: SignedRequest<PeerCall>,
) -> Result<Response, ApiError> {
    let number = |name: &'static str| -> Result<Option<u64>, ApiError> {
        params
            .get(name)
            .map(|text| {
                text.parse::<u64>().map_err(|_| {
                    ApiError::bad_request(
                        "bad_request",
                        name,
                        format!("{name} must be an unsigned integer"),
                    )
                })
            })
            .transpose()
    };
    let since = number("since")?;
    let limit = number("limit")?.map(|l| usize::try_from(l).unwrap_or(usize::MAX));
    let query = ChangesQuery::new(since, limit)
        .map_err(|e| ApiError::bad_request("bad_request", "limit", e.to_string()))?;
    let federation = state.federation.clone();
    let page = state
        .blocking(move |storage| {
            crate::storage::changes_page(storage, query, &|origin| federation.serves_origin(origin))
        })
        .await?;
    Ok(Json(page).into_response())
}

/// `POST /federation/v1/notify`: a peer's hint that its feed grew.
pub(super) async fn notify(
    State(state): State<AppState>,
    request: SignedRequest<PeerCall>,
) -> Result<Response, ApiError> {
    let hint = NotifyHint::decode(&request.body)
        .map_err(|e| ApiError::bad_request("bad_request", "body", e.to_string()))?;
    state.federation.on_notify(&request.signer, hint.head_seq);
    Ok(accepted())
}

/// `POST /federation/v1/reconcile`: answers one reconciliation message
/// (9.8) from range scans of the items index, leaving out the origins this
/// node does not serve. Stateless.
pub(super) async fn reconcile(
    State(state): State<AppState>,
    request: SignedRequest<ReconcileCall>,
) -> Result<Response, ApiError> {
    let skip: BTreeSet<NodeId> = state.federation.blocked_origins().into_iter().collect();
    let body = request.body;
    let reply = state
        .blocking(move |storage| {
            let source = StoredItems {
                storage,
                skip_origins: &skip,
            };
            respond(&ReconcileConfig::default(), &source, &body).map_err(|error| match error {
                ReconcileError::Source(error) => ApiError::internal(error.to_string()),
                other => ApiError::bad_request("bad_request", "body", other.to_string()),
            })
        })
        .await?;
    Ok((
        [(axum::http::header::CONTENT_TYPE, "application/octet-stream")],
        reply,
    )
        .into_response())
}

/// `POST /federation/v1/records/by-item`: the current versions this node
/// holds and serves for the item ids asked, in the order asked, bounded like
/// a changes page (it stops early at the byte bound; at least one record).
pub(super) async fn records_by_item(
    State(state): State<AppState>,
    request: SignedRequest<ItemsCall>,
) -> Result<Response, ApiError> {
    let ids = ItemsRequest::decode(&request.body)
        .map_err(|e| ApiError::bad_request("bad_request", "item_ids", e.to_string()))?;
    let federation = state.federation.clone();
    let response = state
        .blocking(move |storage| -> Result<_, ApiError> {
            let mut records = Vec::new();
            let mut accounted = 0usize;
            for id in &ids {
                let Some(stored) = storage
                    .get_by_item(id)
                    .map_err(|e| ApiError::internal(e.to_string()))?
                else {
                    continue;
                };
                if !federation.serves_origin(&stored.signed.value().key.origin) {
                    continue;
                }
                let size = stored.signed.bytes().len() + SYNC_RECORD_OVERHEAD_BYTES;
                if !records.is_empty() && accounted + size > SYNC_BATCH_BYTES_MAX {
                    break;
                }
                accounted += size;
                records.push(stored.signed.to_wire());
            }
            Ok(ItemsResponse { records })
        })
        .await?;
    Ok(Json(response).into_response())
}

/// `POST /federation/v1/rotations` from an active peer (9.9): checked and
/// stored as pending for the admin; 202.
pub(super) async fn rotation_statement(
    State(state): State<AppState>,
    request: SignedRequest<PeerCall>,
) -> Result<Response, ApiError> {
    let statement = signed_body::<KeyRotation>(&request.body, "key rotation")?;
    state
        .federation
        .on_rotation(request.signer, statement)
        .await?;
    Ok(accepted())
}
