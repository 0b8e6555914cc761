//! `GET /api/v1/backup/changes`: the node's whole change log, page by page,
//! for `seednet backup` against a running node (sled locks the data dir, so
//! a backup of a running node goes through the node).
//!
//! It is the federation feed's page (`storage::changes_page`) for an admin
//! token instead of a signed peer request, with every origin this node
//! stores (tombstones included, nothing left out). Paging until
//! `next_cursor == head_seq` yields every record at its current version as
//! of that last head: a consistent copy, however many publishes run
//! meanwhile (a record changed during the backup appears in its old version
//! and again later in its new one; applying the lines in order keeps the
//! newer). `GET /api/v1/backup/rotations` adds the key rotation statements
//! this node signed (public statements its peers received), so that a
//! restored node can still send them again.

use std::collections::HashMap;

use axum::extract::{Query, State};
use axum::Json;
use seednet_protocol::federation::wire::ChangesQuery;
use seednet_protocol::{Signed, SignedWire};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::records::SignedRecord;
use crate::http::error::{ApiError, ErrorBody};
use crate::http::extract::Admin;
use crate::state::AppState;
use crate::storage;

/// One page of the change log (`GET /api/v1/backup/changes`).
#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct BackupPage {
    /// Exact signed bytes of records and tombstones, in change-log order.
    #[schema(value_type = Vec<SignedRecord>)]
    pub records: Vec<SignedWire>,
    /// Pass as `since` for the next page.
    pub next_cursor: u64,
    /// The newest change-log sequence when the page was built; the backup
    /// is complete when `next_cursor` reaches it.
    pub head_seq: u64,
}

/// A page of every stored record version after change-log sequence `since` (admin).
#[utoipa::path(get, path = "/api/v1/backup/changes", tag = "node",
    params(("since" = Option<u64>, Query, description = "change-log sequence to continue after (default 0)"),
           ("limit" = Option<u64>, Query, description = "records per page, 1 to 500 (default 500)")),
    responses((status = 200, description = "one page of the change log", body = BackupPage),
              (status = 400, description = "bad since or limit", body = ErrorBody),
              (status = 401, description = "missing or unknown token", body = ErrorBody),
              (status = 403, description = "not an admin token", body = ErrorBody)),
    security(("token" = [])))]
pub async fn backup_changes(
    State(state): State<AppState>,
    _admin: Admin,
    Query(params): Query<HashMap<String, String>>,
) -> Result<Json<BackupPage>, ApiError> {
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
    let page = state
        .blocking(move |storage| storage::changes_page(storage, query, &|_| true))
        .await?;
    Ok(Json(BackupPage {
        records: page.records,
        next_cursor: page.next_cursor,
        head_seq: page.head_seq,
    }))
}

/// The key rotations this node signed (`GET /api/v1/backup/rotations`).
#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct BackupRotations {
    /// Signed rotation statements, oldest first.
    #[schema(value_type = Vec<SignedRecord>)]
    pub rotations: Vec<SignedWire>,
}

/// The key rotation statements this node signed, oldest first (admin).
#[utoipa::path(get, path = "/api/v1/backup/rotations", tag = "node",
    responses((status = 200, description = "signed rotation statements", body = BackupRotations),
              (status = 401, description = "missing or unknown token", body = ErrorBody),
              (status = 403, description = "not an admin token", body = ErrorBody)),
    security(("token" = [])))]
pub async fn backup_rotations(
    State(state): State<AppState>,
    _admin: Admin,
) -> Result<Json<BackupRotations>, ApiError> {
    let rotations = state.blocking(storage::load_own_rotations).await?;
    Ok(Json(BackupRotations {
        rotations: rotations.iter().map(Signed::to_wire).collect(),
    }))
}
