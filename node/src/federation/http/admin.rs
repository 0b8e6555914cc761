//! The admin endpoints of federation: `/api/v1/peers` (add, list, approve,
//! dismiss pending requests, revoke with or without purge, repair, approve a key rotation),
//! `/api/v1/blocked-origins` and `/api/v1/node/key/...`. Each takes an admin
//! token and calls the same [`Federation`](crate::federation::Federation)
//! method as the CLI and the web pages.

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use seednet_protocol::NodeId;
use serde::Deserialize;

use crate::federation::{parse_node_id, Federation};
use crate::http::error::ApiError;
use crate::http::extract::Admin;
use crate::search_index::NodeSearchIndex;

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
    crate::http::extract::decode_json(body)
}

pub(super) async fn add_peer(
    State(federation): State<Federation>,
    _admin: Admin,
    body: Bytes,
) -> Result<Response, ApiError> {
    let request: AddPeer = json_body(&body)?;
    let entry = federation.add_peer(&request.url).await?;
    Ok((StatusCode::CREATED, Json(entry)).into_response())
}

pub(super) async fn list_peers(State(federation): State<Federation>, _admin: Admin) -> Response {
    Json(serde_json::json!({ "peers": federation.list_peers() })).into_response()
}

pub(super) async fn get_peer(
    State(federation): State<Federation>,
    _admin: Admin,
    Path(node_id): Path<String>,
) -> Result<Response, ApiError> {
    let node_id = path_node_id(&node_id)?;
    Ok(Json(federation.entry(&node_id)?).into_response())
}

pub(super) async fn approve_peer(
    State(federation): State<Federation>,
    _admin: Admin,
    Path(node_id): Path<String>,
) -> Result<Response, ApiError> {
    let node_id = path_node_id(&node_id)?;
    Ok(Json(federation.approve(&node_id).await?).into_response())
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
/// records (answering a [`crate::federation::purge::PurgeReport`] instead of the entry).
pub(super) async fn revoke_peer(
    State(federation): State<Federation>,
    State(search_index): State<NodeSearchIndex>,
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
        return Ok(Json(federation.revoke(&node_id).await?).into_response());
    }
    let (peer, purged, origins) = federation.revoke_and_purge(&node_id).await?;
    let mut index_pending = None;
    for origin in origins {
        if let Err(error) = search_index.forget_purged(origin).await {
            index_pending = Some(error);
        }
    }
    Ok(Json(crate::federation::purge::PurgeReport {
        peer,
        purged,
        index_purged: index_pending.is_none(),
        index_pending,
    })
    .into_response())
}

pub(super) async fn repair_peer(
    State(federation): State<Federation>,
    _admin: Admin,
    Path(node_id): Path<String>,
) -> Result<Response, ApiError> {
    let node_id = path_node_id(&node_id)?;
    Ok(Json(federation.repair(&node_id).await?).into_response())
}

/// `POST /api/v1/peers/{node_id}/dismiss`: forgets one pending link request.
pub(super) async fn dismiss_peer(
    State(federation): State<Federation>,
    _admin: Admin,
    Path(node_id): Path<String>,
) -> Result<Response, ApiError> {
    let node_id = path_node_id(&node_id)?;
    federation.dismiss(&node_id).await?;
    Ok(Json(serde_json::json!({ "dismissed": 1 })).into_response())
}

/// `POST /api/v1/peers/pending/dismiss`: forgets every pending link request.
pub(super) async fn dismiss_all_pending(
    State(federation): State<Federation>,
    _admin: Admin,
) -> Result<Response, ApiError> {
    let dismissed = federation.dismiss_all_pending().await?;
    Ok(Json(serde_json::json!({ "dismissed": dismissed })).into_response())
}

pub(super) async fn list_blocked(State(federation): State<Federation>, _admin: Admin) -> Response {
    Json(serde_json::json!({ "blocked_origins": federation.blocked_origins() })).into_response()
}

pub(super) async fn block_origin(
    State(federation): State<Federation>,
    _admin: Admin,
    body: Bytes,
) -> Result<Response, ApiError> {
    let request: BlockOrigin = json_body(&body)?;
    let origin = path_node_id(&request.node_id)?;
    federation.block_origin(&origin).await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

pub(super) async fn unblock_origin(
    State(federation): State<Federation>,
    _admin: Admin,
    Path(node_id): Path<String>,
) -> Result<Response, ApiError> {
    let origin = path_node_id(&node_id)?;
    if federation.unblock_origin(&origin).await? {
        Ok(StatusCode::NO_CONTENT.into_response())
    } else {
        Err(ApiError::not_found(format!(
            "origin {origin} is not blocked"
        )))
    }
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct RotateKey {
    #[serde(default)]
    reason: String,
}

/// `POST /api/v1/node/key/rotate` (admin): `seednet key rotate`.
pub(super) async fn rotate_key(
    State(federation): State<Federation>,
    _admin: Admin,
    body: Bytes,
) -> Result<Response, ApiError> {
    let request: RotateKey = if body.is_empty() {
        RotateKey::default()
    } else {
        json_body(&body)?
    };
    let report = federation.rotate_key(request.reason).await?;
    Ok(Json(report).into_response())
}

/// `POST /api/v1/node/key/rotations/resend` (admin): `seednet key
/// resend-rotation`.
pub(super) async fn resend_rotations(
    State(federation): State<Federation>,
    _admin: Admin,
) -> Result<Response, ApiError> {
    let reports = federation.resend_rotations().await?;
    Ok(Json(serde_json::json!({ "rotations": reports })).into_response())
}

/// `POST /api/v1/peers/{node_id}/rotation/approve` (admin).
pub(super) async fn approve_rotation(
    State(federation): State<Federation>,
    _admin: Admin,
    Path(node_id): Path<String>,
) -> Result<Response, ApiError> {
    let node_id = path_node_id(&node_id)?;
    Ok(Json(federation.approve_rotation(&node_id).await?).into_response())
}
