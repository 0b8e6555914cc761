//! `GET /api/v1/records/{origin}/{id}/audit`: who published each version of
//! one of this node's records (admin token). See `crate::audit` for what is
//! recorded and why it stays on this node.

use axum::extract::{Path, State};
use axum::Json;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::records::parse_key;
use crate::audit::{self, AuditEntry};
use crate::http::error::{ApiError, ErrorBody};
use crate::http::extract::Admin;
use crate::state::AppState;

/// The audit entries of one record, oldest version first. Empty for records
/// of other origins and versions published before the log existed.
#[derive(Serialize, Deserialize, ToSchema)]
pub struct AuditTrail {
    pub entries: Vec<AuditEntry>,
}

/// Who published each version of a record (admin).
#[utoipa::path(get, path = "/api/v1/records/{origin}/{id}/audit", tag = "records",
    params(("origin" = String, Path, description = "origin node id (64 hex digits)"),
           ("id" = String, Path, description = "record id")),
    responses((status = 200, description = "the record's audit entries", body = AuditTrail),
              (status = 400, description = "malformed origin or id", body = ErrorBody),
              (status = 401, description = "missing or unknown token", body = ErrorBody),
              (status = 403, description = "not an admin token", body = ErrorBody)),
    security(("token" = [])))]
pub async fn record_audit(
    State(state): State<AppState>,
    _admin: Admin,
    Path((origin, id)): Path<(String, String)>,
) -> Result<Json<AuditTrail>, ApiError> {
    let key = parse_key(&origin, &id)?;
    let entries = state
        .blocking(move |storage| audit::trail(storage, &key))
        .await?;
    Ok(Json(AuditTrail { entries }))
}
