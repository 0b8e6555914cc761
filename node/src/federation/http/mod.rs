//! The federation HTTP surface: `/federation/v1/...` for peers
//! ([`peer_api`], every request verified by the [`SignedRequest`] extractor
//! of [`signed`]) and the admin endpoints under `/api/v1` ([`admin`]).
//! [`routes`] lists them all; `crate::app` merges them into the node's
//! router.

mod admin;
mod peer_api;
pub mod signed;

use axum::http::StatusCode;
use axum::routing::{delete, get, post};
use axum::Router;

pub use signed::SignedRequest;

use crate::federation::client::ClientError;
use crate::federation::FederationError;
use crate::http::error::ApiError;
use crate::state::AppState;

/// The federation and peer-management routes.
pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/federation/v1/links", post(peer_api::link_request))
        .route("/federation/v1/links/accept", post(peer_api::link_accept))
        .route("/federation/v1/changes", get(peer_api::changes))
        .route("/federation/v1/notify", post(peer_api::notify))
        .route(
            crate::federation::repair::RECONCILE_PATH,
            post(peer_api::reconcile),
        )
        .route(
            crate::federation::repair::RECORDS_BY_ITEM_PATH,
            post(peer_api::records_by_item),
        )
        .route(
            "/api/v1/peers",
            get(admin::list_peers).post(admin::add_peer),
        )
        .route("/api/v1/peers/{node_id}", get(admin::get_peer))
        .route("/api/v1/peers/{node_id}/approve", post(admin::approve_peer))
        .route("/api/v1/peers/{node_id}/revoke", post(admin::revoke_peer))
        .route("/api/v1/peers/{node_id}/repair", post(admin::repair_peer))
        .route("/api/v1/peers/{node_id}/dismiss", post(admin::dismiss_peer))
        .route(
            "/api/v1/peers/pending/dismiss",
            post(admin::dismiss_all_pending),
        )
        .route(
            "/api/v1/blocked-origins",
            get(admin::list_blocked).post(admin::block_origin),
        )
        .route(
            "/api/v1/blocked-origins/{node_id}",
            delete(admin::unblock_origin),
        )
        .route(
            "/federation/v1/rotations",
            post(peer_api::rotation_statement),
        )
        .route("/api/v1/node/key/rotate", post(admin::rotate_key))
        .route(
            "/api/v1/node/key/rotations/resend",
            post(admin::resend_rotations),
        )
        .route(
            "/api/v1/peers/{node_id}/rotation/approve",
            post(admin::approve_rotation),
        )
}

impl From<FederationError> for ApiError {
    fn from(error: FederationError) -> Self {
        let message = error.to_string();
        match error {
            FederationError::Client(ClientError::Address(_)) => {
                ApiError::bad_request("peer_url_refused", "url", message)
            }
            FederationError::Client(ClientError::Refused { .. }) => {
                ApiError::new(StatusCode::BAD_GATEWAY, "peer_refused", message)
            }
            FederationError::Client(ClientError::Unreachable(_)) => {
                ApiError::new(StatusCode::BAD_GATEWAY, "peer_unreachable", message)
            }
            FederationError::Client(ClientError::DidNotAnswer { .. }) => {
                ApiError::new(StatusCode::GATEWAY_TIMEOUT, "peer_did_not_answer", message)
            }
            FederationError::Client(ClientError::BadResponse(_)) => {
                ApiError::new(StatusCode::BAD_GATEWAY, "peer_bad_response", message)
            }
            FederationError::UrlMismatch { .. } => {
                ApiError::bad_request("peer_url_mismatch", "url", message)
            }
            FederationError::SelfPeer => ApiError::bad_request("peer_is_self", "url", message),
            FederationError::IdentityChanged { .. } => {
                ApiError::new(StatusCode::CONFLICT, "peer_identity_changed", message)
            }
            FederationError::UnknownPeer(_) => {
                ApiError::new(StatusCode::NOT_FOUND, "unknown_peer", message)
            }
            FederationError::TooManyPeers { .. } => {
                ApiError::new(StatusCode::CONFLICT, "too_many_peers", message)
            }
            FederationError::TooManyPendingRequests { .. } => ApiError::new(
                StatusCode::TOO_MANY_REQUESTS,
                "too_many_pending_link_requests",
                message,
            )
            .with_retry_after(crate::federation::tasks::LINK_RETRY_INTERVAL_MS / 1000),
            FederationError::LinkRequestsLimited {
                retry_after_secs, ..
            } => ApiError::new(
                StatusCode::TOO_MANY_REQUESTS,
                "link_requests_limited",
                message,
            )
            .with_retry_after(retry_after_secs),
            FederationError::NotPending(_) => {
                ApiError::new(StatusCode::CONFLICT, "not_pending", message)
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
