//! Node-level endpoints: the signed node descriptor, health, readiness,
//! metrics, status and token administration.

use axum::extract::{Path, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::records::SignedRecord;
use crate::http::error::{ApiError, ErrorBody};
use crate::http::extract::decode_json;
use crate::http::extract::{Admin, JsonBytes};
use crate::state::AppState;
use crate::storage::{self, Space};
use crate::tokens::{self, Role, TokenInfo};

/// The node's signed descriptor.
#[utoipa::path(get, path = "/api/v1/node", tag = "node",
    responses((status = 200, description = "signed node descriptor", body = SignedRecord),
              (status = 503, description = "no descriptor yet", body = ErrorBody)))]
pub async fn node_descriptor(State(state): State<AppState>) -> Result<Response, ApiError> {
    let descriptor = state
        .blocking(storage::load_descriptor)
        .await?
        .ok_or_else(|| {
            ApiError::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "no_descriptor",
                "the node has not signed its descriptor yet",
            )
        })?;
    Ok(Json(descriptor.to_wire()).into_response())
}

#[derive(Serialize, ToSchema)]
pub struct Health {
    pub status: String,
    /// The semantic tier (on `/readyz`): `state` is `ready`, `starting` or
    /// `off` (with `reason`); a node without it still serves lexical search.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<Object>)]
    pub semantic: Option<crate::semantic_tier::SemanticStatus>,
}

/// Liveness: the process answers.
#[utoipa::path(get, path = "/healthz", tag = "node",
    responses((status = 200, description = "alive", body = Health)))]
pub async fn healthz() -> Json<Health> {
    Json(Health {
        status: "ok".into(),
        semantic: None,
    })
}

/// Readiness: storage answers reads and accepts writes.
#[utoipa::path(get, path = "/readyz", tag = "node",
    responses((status = 200, description = "ready", body = Health),
              (status = 503, description = "not ready", body = ErrorBody)))]
pub async fn readyz(State(state): State<AppState>) -> Result<Json<Health>, ApiError> {
    state
        .blocking(|storage| storage.kv_get(Space::Meta, storage::meta::SCHEMA_VERSION))
        .await?
        .ok_or_else(|| {
            ApiError::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "not_ready",
                "storage has no schema",
            )
        })?;
    if state.shutting_down() {
        return Err(ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "shutting_down",
            "the node is shutting down",
        ));
    }
    Ok(Json(Health {
        status: "ready".into(),
        semantic: Some(state.search_index.semantic().status()),
    }))
}

/// Prometheus text metrics.
#[utoipa::path(get, path = "/metrics", tag = "node",
    responses((status = 200, description = "Prometheus text format", body = String, content_type = "text/plain")))]
pub async fn metrics(State(state): State<AppState>) -> Response {
    let peers = state.federation.list_peers();
    let mut text = state.metrics.render(&state.storage.stats(), &peers);
    text.push_str(&crate::metrics::render_semantic(
        &state.search_index.semantic().status(),
    ));
    text.push_str(&crate::metrics::render_connections(&state.connections));
    (
        [(
            header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        text,
    )
        .into_response()
}

#[derive(Serialize, Deserialize, ToSchema)]
pub struct OriginStatus {
    pub origin: String,
    pub live: u64,
    pub deleted: u64,
}

/// What `seednet status` shows.
#[derive(Serialize, Deserialize, ToSchema)]
pub struct NodeStatus {
    pub node_id: String,
    pub name: String,
    pub public_url: String,
    pub software: String,
    pub schema_version: u64,
    pub head_seq: u64,
    pub records: Vec<OriginStatus>,
    pub evidence_records: u64,
    pub tokens: usize,
    /// The semantic tier of the running node (absent when the status is
    /// read from a stopped node's data dir).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<Object>)]
    pub semantic: Option<crate::semantic_tier::SemanticStatus>,
}

/// Node status (admin).
#[utoipa::path(get, path = "/api/v1/status", tag = "node",
    responses((status = 200, description = "status", body = NodeStatus),
              (status = 401, description = "missing or unknown token", body = ErrorBody),
              (status = 403, description = "not an admin token", body = ErrorBody)),
    security(("token" = [])))]
pub async fn status(
    State(state): State<AppState>,
    _admin: Admin,
) -> Result<Json<NodeStatus>, ApiError> {
    let config = state.config.clone();
    let node_id = state.node_id();
    let semantic = state.search_index.semantic().status();
    let mut status = state
        .blocking(move |storage| node_status(storage, node_id, &config.name, &config.public_url))
        .await?;
    status.semantic = Some(semantic);
    Ok(Json(status))
}

/// Status from storage; shared by the API and the local CLI. Blocking.
pub fn node_status(
    storage: &dyn storage::Storage,
    node_id: seednet_protocol::NodeId,
    name: &str,
    public_url: &str,
) -> Result<NodeStatus, tokens::TokenError> {
    let stats = storage.stats();
    let tokens = tokens::list(storage)?.len();
    Ok(NodeStatus {
        node_id: node_id.to_string(),
        name: name.to_string(),
        public_url: public_url.to_string(),
        software: crate::SOFTWARE.to_string(),
        schema_version: storage::SCHEMA_VERSION,
        head_seq: stats.head_seq,
        records: stats
            .records_by_origin
            .iter()
            .map(|(origin, counts)| OriginStatus {
                origin: origin.to_string(),
                live: counts.live,
                deleted: counts.deleted,
            })
            .collect(),
        evidence_records: stats.evidence_records,
        tokens,
        semantic: None,
    })
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateToken {
    pub role: Role,
    #[serde(default)]
    pub label: String,
}

/// A new token: the only time the secret is shown.
#[derive(Serialize, Deserialize, ToSchema)]
pub struct CreatedToken {
    pub id: String,
    pub role: Role,
    pub label: String,
    pub token: String,
}

/// Create a token (admin).
#[utoipa::path(post, path = "/api/v1/tokens", tag = "tokens",
    request_body = CreateToken,
    responses((status = 201, description = "created; the token is shown once", body = CreatedToken),
              (status = 400, description = "invalid body", body = ErrorBody),
              (status = 401, description = "missing or unknown token", body = ErrorBody),
              (status = 403, description = "not an admin token", body = ErrorBody)),
    security(("token" = [])))]
pub async fn create_token(
    State(state): State<AppState>,
    _admin: Admin,
    JsonBytes(body): JsonBytes,
) -> Result<Response, ApiError> {
    let request: CreateToken = decode_json(&body)?;
    let (new, write) = state
        .blocking(move |storage| tokens::create(storage, request.role, &request.label))
        .await?;
    write.wait().await?;
    tracing::info!(token_id = %new.info.id, role = new.info.role.as_str(), "token created");
    let created = CreatedToken {
        id: new.info.id,
        role: new.info.role,
        label: new.info.label,
        token: new.token,
    };
    Ok((StatusCode::CREATED, Json(created)).into_response())
}

/// List tokens without their secrets (admin).
#[utoipa::path(get, path = "/api/v1/tokens", tag = "tokens",
    responses((status = 200, description = "tokens", body = Vec<TokenInfo>),
              (status = 401, description = "missing or unknown token", body = ErrorBody),
              (status = 403, description = "not an admin token", body = ErrorBody)),
    security(("token" = [])))]
pub async fn list_tokens(
    State(state): State<AppState>,
    _admin: Admin,
) -> Result<Json<Vec<TokenInfo>>, ApiError> {
    Ok(Json(state.blocking(tokens::list).await?))
}

/// Revoke a token (admin).
#[utoipa::path(delete, path = "/api/v1/tokens/{id}", tag = "tokens",
    params(("id" = String, Path, description = "token id")),
    responses((status = 204, description = "revoked"),
              (status = 404, description = "no such token", body = ErrorBody)),
    security(("token" = [])))]
pub async fn revoke_token(
    State(state): State<AppState>,
    _admin: Admin,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    let revoke_id = id.clone();
    let write = state
        .blocking(move |storage| tokens::revoke(storage, &revoke_id))
        .await?;
    write.wait().await?;
    tracing::info!(token_id = %id, "token revoked");
    Ok(StatusCode::NO_CONTENT)
}
