//! The federation HTTP surface: `/federation/v1/...` for peers (every request
//! signed, RFC 9421 profile of `docs/PROTOCOL.md` 9.3, then authorised by the
//! link table of [`crate::sync::policy::authorize`]) and the admin endpoints
//! `/api/v1/peers` and `/api/v1/blocked-origins`.
//!
//! A request whose signature does not verify, or whose signer may not call
//! the endpoint, gets its 401/403 JSON error and nothing else: no handler
//! logic runs before [`verify_signed`] has passed.

use std::cell::Cell;
use std::collections::{BTreeSet, HashMap};

use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, get, post};
use axum::{Json, Router};
use seednet_protocol::federation::http_signature::{
    verify_request, ReceivedHeaders, RequestParts, VerifyPolicy, HEADER_CONTENT_DIGEST,
    HEADER_SIGNATURE, HEADER_SIGNATURE_INPUT,
};
use seednet_protocol::federation::limits::{
    FEDERATION_SMALL_BODY_BYTES_MAX, RECONCILE_MESSAGE_BYTES_MAX, SYNC_BATCH_BYTES_MAX,
    SYNC_RECORD_OVERHEAD_BYTES,
};
use seednet_protocol::federation::reconcile::{respond, ReconcileConfig, ReconcileError};
use seednet_protocol::federation::wire::{
    ChangesQuery, ItemsRequest, ItemsResponse, KeyRotation, LinkRequest, NotifyHint, PageBuilder,
    ITEMS_REQUEST_BODY_BYTES_MAX,
};
use seednet_protocol::{NodeId, Signed, SignedWire};
use serde::Deserialize;

use super::{parse_node_id, FederationError};
use crate::http::error::ApiError;
use crate::http::extract::Admin;
use crate::state::AppState;
use crate::storage::StoredItems;
use crate::sync::policy::{authorize, Endpoint, Refusal};

/// The federation and peer-management routes.
pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/federation/v1/links", post(link_request))
        .route("/federation/v1/links/accept", post(link_accept))
        .route("/federation/v1/changes", get(changes))
        .route("/federation/v1/notify", post(notify))
        .route(super::repair::RECONCILE_PATH, post(reconcile))
        .route(super::repair::RECORDS_BY_ITEM_PATH, post(records_by_item))
        .route("/api/v1/peers", get(list_peers).post(add_peer))
        .route("/api/v1/peers/{node_id}", get(get_peer))
        .route("/api/v1/peers/{node_id}/approve", post(approve_peer))
        .route("/api/v1/peers/{node_id}/revoke", post(revoke_peer))
        .route("/api/v1/peers/{node_id}/repair", post(repair_peer))
        .route(
            "/api/v1/blocked-origins",
            get(list_blocked).post(block_origin),
        )
        .route("/api/v1/blocked-origins/{node_id}", delete(unblock_origin))
        .route("/federation/v1/rotations", post(rotation_statement))
        .route("/api/v1/node/key/rotate", post(rotate_key))
        .route("/api/v1/node/key/rotations/resend", post(resend_rotations))
        .route(
            "/api/v1/peers/{node_id}/rotation/approve",
            post(approve_rotation),
        )
}

impl From<FederationError> for ApiError {
    fn from(error: FederationError) -> Self {
        let message = error.to_string();
        match error {
            FederationError::Client(super::client::ClientError::Address(_)) => {
                ApiError::bad_request("peer_url_refused", "url", message)
            }
            FederationError::Client(super::client::ClientError::Refused { .. }) => {
                ApiError::new(StatusCode::BAD_GATEWAY, "peer_refused", message)
            }
            FederationError::Client(super::client::ClientError::Unreachable(_)) => {
                ApiError::new(StatusCode::BAD_GATEWAY, "peer_unreachable", message)
            }
            FederationError::Client(super::client::ClientError::BadResponse(_)) => {
                ApiError::new(StatusCode::BAD_GATEWAY, "peer_bad_response", message)
            }
            FederationError::UrlMismatch { .. } => {
                ApiError::bad_request("peer_url_mismatch", "url", message)
            }
            FederationError::SelfPeer => ApiError::bad_request("peer_is_self", "url", message),
            FederationError::UnknownPeer(_) => {
                ApiError::new(StatusCode::NOT_FOUND, "unknown_peer", message)
            }
            FederationError::TooManyPeers { .. } => {
                ApiError::new(StatusCode::CONFLICT, "too_many_peers", message)
            }
            FederationError::BadRequest(_) => {
                ApiError::new(StatusCode::BAD_REQUEST, "bad_request", message)
            }
            FederationError::NotActive(_) => {
                ApiError::new(StatusCode::CONFLICT, "link_not_active", message)
            }
            FederationError::PurgeInProgress(_) => {
                ApiError::new(StatusCode::CONFLICT, "purge_in_progress", message)
            }
            FederationError::RotationRefused(_) => {
                ApiError::bad_request("rotation_refused", "body", message)
            }
            FederationError::RotationDescriptor(_) => {
                ApiError::bad_request("rotation_descriptor_unavailable", "new_node_id", message)
            }
            FederationError::NoPendingRotation(_) => {
                ApiError::new(StatusCode::CONFLICT, "no_pending_rotation", message)
            }
            FederationError::RotationConflict(_) => {
                ApiError::new(StatusCode::CONFLICT, "rotation_conflict", message)
            }
            FederationError::Storage(_)
            | FederationError::NotStarted
            | FederationError::KeyFile(_) => ApiError::internal(message),
        }
    }
}

fn refusal_error(refusal: Refusal) -> ApiError {
    let status = StatusCode::from_u16(refusal.status).unwrap_or(StatusCode::FORBIDDEN);
    let message = match refusal.code {
        "link_revoked" => "this node's admin revoked the link",
        "link_pending" => "this node's admin has not approved the link yet",
        "signature_unknown_key" => "the signer is not a peer of this node",
        _ => "the link does not allow this call",
    };
    ApiError::new(status, refusal.code, message)
}

/// Verifies the request signature and authorises the signer for `endpoint`.
async fn verify_signed(
    state: &AppState,
    endpoint: Endpoint,
    method: &Method,
    uri: &Uri,
    headers: &HeaderMap,
    body: &Bytes,
) -> Result<NodeId, ApiError> {
    let federation = state.federation.clone();
    let links = federation.links_snapshot();
    let path_and_query = uri.path_and_query().map(|p| p.as_str()).unwrap_or("/");
    let target_uri = format!("{}{}", state.config.public_url, path_and_query);
    let header = |name: &str| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::to_string)
    };
    let signature_input = header(HEADER_SIGNATURE_INPUT);
    let signature = header(HEADER_SIGNATURE);
    let content_digest = header(HEADER_CONTENT_DIGEST);
    let method = method.as_str().to_string();
    let body = body.clone();
    let result = tokio::task::spawn_blocking(move || {
        let refusal = Cell::new(None);
        let accept = |id: &NodeId| match authorize(endpoint, links.get(id)) {
            Ok(()) => true,
            Err(r) => {
                refusal.set(Some(r));
                false
            }
        };
        let now = time::OffsetDateTime::now_utc().unix_timestamp();
        let mut guard = federation.inner().nonces.lock().expect("lock");
        let Some(nonces) = guard.as_mut() else {
            return Err(ApiError::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "federation_starting",
                "federation is starting; retry",
            ));
        };
        nonces.set_now(now);
        verify_request(
            &RequestParts {
                method: &method,
                target_uri: &target_uri,
                body: &body,
            },
            &ReceivedHeaders {
                signature_input: signature_input.as_deref(),
                signature: signature.as_deref(),
                content_digest: content_digest.as_deref(),
            },
            now,
            &VerifyPolicy::default(),
            &accept,
            nonces,
        )
        .map_err(|error| match (refusal.get(), &error) {
            (
                Some(refusal),
                seednet_protocol::federation::http_signature::SignatureError::UnknownKey(_),
            ) => refusal_error(refusal),
            _ => ApiError::new(
                StatusCode::from_u16(error.http_status()).unwrap_or(StatusCode::UNAUTHORIZED),
                error.code(),
                error.to_string(),
            ),
        })
    })
    .await
    .map_err(|e| ApiError::internal(format!("verification task failed: {e}")))??;
    Ok(result.signer)
}

fn small_body(body: &Bytes) -> Result<(), ApiError> {
    body_at_most(body, FEDERATION_SMALL_BODY_BYTES_MAX)
}

fn body_at_most(body: &Bytes, max: usize) -> Result<(), ApiError> {
    if body.len() > max {
        return Err(ApiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "body_too_large",
            format!("at most {max} bytes"),
        ));
    }
    Ok(())
}

async fn link_request(
    State(state): State<AppState>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, ApiError> {
    small_body(&body)?;
    let signer = verify_signed(
        &state,
        Endpoint::LinkRequest,
        &method,
        &uri,
        &headers,
        &body,
    )
    .await?;
    let wire: SignedWire = serde_json::from_slice(&body).map_err(|e| {
        ApiError::bad_request(
            "bad_request",
            "body",
            format!("not a signed link request: {e}"),
        )
    })?;
    let request = Signed::<LinkRequest>::from_wire(&wire).map_err(|e| {
        ApiError::bad_request(
            "bad_request",
            "body",
            format!("link request does not verify: {e}"),
        )
    })?;
    let value = request.value();
    if value.from != signer {
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
    state.federation.on_link_request(descriptor).await?;
    Ok((StatusCode::ACCEPTED, Json(serde_json::json!({}))).into_response())
}

async fn link_accept(
    State(state): State<AppState>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, ApiError> {
    small_body(&body)?;
    let signer =
        verify_signed(&state, Endpoint::LinkAccept, &method, &uri, &headers, &body).await?;
    state.federation.on_link_accept(signer).await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

async fn changes(
    State(state): State<AppState>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    Query(params): Query<HashMap<String, String>>,
    body: Bytes,
) -> Result<Response, ApiError> {
    let _signer = verify_signed(&state, Endpoint::Peer, &method, &uri, &headers, &body).await?;
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
        .blocking(move |storage| -> Result<_, ApiError> {
            let head_seq = storage.head_seq();
            let mut builder = PageBuilder::new(query, head_seq);
            let mut after = query.since;
            let mut exhausted = false;
            'scan: loop {
                if after >= head_seq {
                    exhausted = true;
                    break;
                }
                let page = storage
                    .changes_since(after, query.limit, SYNC_BATCH_BYTES_MAX)
                    .map_err(|e| ApiError::internal(e.to_string()))?;
                for change in page.changes {
                    if change.seq > head_seq {
                        exhausted = true;
                        break 'scan;
                    }
                    let served = federation.serves_origin(&change.key.origin);
                    let kept = if served {
                        builder.push(change.seq, change.to_wire())
                    } else {
                        builder.skip(change.seq)
                    };
                    if !kept {
                        break 'scan;
                    }
                }
                if page.next_seq <= after {
                    exhausted = true;
                    break;
                }
                after = page.next_seq;
            }
            Ok(builder.finish(exhausted))
        })
        .await?;
    Ok(Json(page).into_response())
}

async fn notify(
    State(state): State<AppState>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, ApiError> {
    small_body(&body)?;
    let signer = verify_signed(&state, Endpoint::Peer, &method, &uri, &headers, &body).await?;
    let hint = NotifyHint::decode(&body)
        .map_err(|e| ApiError::bad_request("bad_request", "body", e.to_string()))?;
    state.federation.on_notify(&signer, hint.head_seq);
    Ok((StatusCode::ACCEPTED, Json(serde_json::json!({}))).into_response())
}

/// `POST /federation/v1/reconcile`: answers one reconciliation message
/// (9.8) from range scans of the items index, leaving out the origins this
/// node does not serve. Stateless.
async fn reconcile(
    State(state): State<AppState>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, ApiError> {
    body_at_most(&body, RECONCILE_MESSAGE_BYTES_MAX)?;
    let _signer = verify_signed(&state, Endpoint::Peer, &method, &uri, &headers, &body).await?;
    let skip: BTreeSet<NodeId> = state.federation.blocked_origins().into_iter().collect();
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
async fn records_by_item(
    State(state): State<AppState>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, ApiError> {
    body_at_most(&body, ITEMS_REQUEST_BODY_BYTES_MAX)?;
    let _signer = verify_signed(&state, Endpoint::Peer, &method, &uri, &headers, &body).await?;
    let ids = ItemsRequest::decode(&body)
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

// ------------------------------------------------------------------ admin

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct AddPeer {
    url: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct BlockOrigin {
    node_id: String,
}

fn path_node_id(text: &str) -> Result<NodeId, ApiError> {
    parse_node_id(text).map_err(|e| ApiError::bad_request("bad_request", "node_id", e.to_string()))
}

fn json_body<T: serde::de::DeserializeOwned>(body: &Bytes) -> Result<T, ApiError> {
    serde_json::from_slice(body)
        .map_err(|e| ApiError::bad_request("bad_request", "body", e.to_string()))
}

async fn add_peer(
    State(state): State<AppState>,
    _admin: Admin,
    body: Bytes,
) -> Result<Response, ApiError> {
    let request: AddPeer = json_body(&body)?;
    let entry = state.federation.add_peer(&request.url).await?;
    Ok((StatusCode::CREATED, Json(entry)).into_response())
}

async fn list_peers(State(state): State<AppState>, _admin: Admin) -> Response {
    Json(serde_json::json!({ "peers": state.federation.list_peers() })).into_response()
}

async fn get_peer(
    State(state): State<AppState>,
    _admin: Admin,
    Path(node_id): Path<String>,
) -> Result<Response, ApiError> {
    let node_id = path_node_id(&node_id)?;
    Ok(Json(state.federation.entry(&node_id)?).into_response())
}

async fn approve_peer(
    State(state): State<AppState>,
    _admin: Admin,
    Path(node_id): Path<String>,
) -> Result<Response, ApiError> {
    let node_id = path_node_id(&node_id)?;
    Ok(Json(state.federation.approve(&node_id).await?).into_response())
}

/// Body of `POST /api/v1/peers/{node_id}/revoke` (optional).
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RevokePeer {
    /// Also remove the records whose origin is that peer.
    #[serde(default)]
    purge: bool,
}

/// Revokes a link; with `{"purge": true}` also removes that origin's
/// records (answering a [`super::purge::PurgeReport`] instead of the entry).
async fn revoke_peer(
    State(state): State<AppState>,
    _admin: Admin,
    Path(node_id): Path<String>,
    body: Bytes,
) -> Result<Response, ApiError> {
    let node_id = path_node_id(&node_id)?;
    let request: RevokePeer = if body.is_empty() {
        RevokePeer::default()
    } else {
        json_body(&body)?
    };
    if !request.purge {
        return Ok(Json(state.federation.revoke(&node_id).await?).into_response());
    }
    let (peer, purged, origins) = state.federation.revoke_and_purge(&node_id).await?;
    let mut index_pending = None;
    for origin in origins {
        if let Err(error) = state.search_index.forget_purged(origin).await {
            index_pending = Some(error);
        }
    }
    Ok(Json(super::purge::PurgeReport {
        peer,
        purged,
        index_purged: index_pending.is_none(),
        index_pending,
    })
    .into_response())
}

async fn repair_peer(
    State(state): State<AppState>,
    _admin: Admin,
    Path(node_id): Path<String>,
) -> Result<Response, ApiError> {
    let node_id = path_node_id(&node_id)?;
    Ok(Json(state.federation.repair(&node_id).await?).into_response())
}

async fn list_blocked(State(state): State<AppState>, _admin: Admin) -> Response {
    Json(serde_json::json!({ "blocked_origins": state.federation.blocked_origins() }))
        .into_response()
}

async fn block_origin(
    State(state): State<AppState>,
    _admin: Admin,
    body: Bytes,
) -> Result<Response, ApiError> {
    let request: BlockOrigin = json_body(&body)?;
    let origin = path_node_id(&request.node_id)?;
    state.federation.block_origin(&origin).await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

async fn unblock_origin(
    State(state): State<AppState>,
    _admin: Admin,
    Path(node_id): Path<String>,
) -> Result<Response, ApiError> {
    let origin = path_node_id(&node_id)?;
    if state.federation.unblock_origin(&origin).await? {
        Ok(StatusCode::NO_CONTENT.into_response())
    } else {
        Err(ApiError::not_found(format!(
            "origin {origin} is not blocked"
        )))
    }
}

// ------------------------------------------------------------ key rotation

/// A signed object in a federation body, decoded and verified (section 3).
fn signed_body<T: seednet_protocol::Signable>(
    body: &Bytes,
    what: &str,
) -> Result<Signed<T>, ApiError> {
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

/// `POST /federation/v1/rotations` from an active peer (9.9): checked and
/// stored as pending for the admin; 202.
async fn rotation_statement(
    State(state): State<AppState>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, ApiError> {
    small_body(&body)?;
    let signer = verify_signed(&state, Endpoint::Peer, &method, &uri, &headers, &body).await?;
    let statement = signed_body::<KeyRotation>(&body, "key rotation")?;
    state.federation.on_rotation(signer, statement).await?;
    Ok((StatusCode::ACCEPTED, Json(serde_json::json!({}))).into_response())
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct RotateKey {
    #[serde(default)]
    reason: String,
}

/// `POST /api/v1/node/key/rotate` (admin): `seednet key rotate`.
async fn rotate_key(
    State(state): State<AppState>,
    _admin: Admin,
    body: Bytes,
) -> Result<Response, ApiError> {
    let request: RotateKey = if body.is_empty() {
        RotateKey::default()
    } else {
        json_body(&body)?
    };
    let report = state.federation.rotate_key(request.reason).await?;
    Ok(Json(report).into_response())
}

/// `POST /api/v1/node/key/rotations/resend` (admin): `seednet key
/// resend-rotation`.
async fn resend_rotations(
    State(state): State<AppState>,
    _admin: Admin,
) -> Result<Response, ApiError> {
    let reports = state.federation.resend_rotations().await?;
    Ok(Json(serde_json::json!({ "rotations": reports })).into_response())
}

/// `POST /api/v1/peers/{node_id}/rotation/approve` (admin).
async fn approve_rotation(
    State(state): State<AppState>,
    _admin: Admin,
    Path(node_id): Path<String>,
) -> Result<Response, ApiError> {
    let node_id = path_node_id(&node_id)?;
    Ok(Json(state.federation.approve_rotation(&node_id).await?).into_response())
}
