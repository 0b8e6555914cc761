//! The JSON API: `/api/v1/...` (records, node descriptor, tokens, status,
//! search, OpenAPI), `/healthz`, `/readyz`, `/metrics`.
//!
//! Each handler file covers one resource; they share the error shape and
//! extractors of `crate::http` and the state of `crate::state`, and never
//! import each other's internals. How the routes are put together with the
//! federation and web routes, and which limits wrap them, is `crate::app`.

pub mod accounts;
pub mod audit;
pub mod backup;
pub mod records;
pub mod search;
pub mod system;

use axum::routing::{get, post};
use axum::{Json, Router};
use utoipa::OpenApi;

use crate::state::AppState;

/// The OpenAPI document, generated from the handlers' annotations.
#[derive(OpenApi)]
#[openapi(
    info(title = "seednet node API", description = "Records, node descriptor, tokens, accounts, audit. Errors are {\"error\":{\"code\",\"message\",\"field\"}}."),
    paths(
        records::create_record, records::get_record, records::update_record,
        records::delete_record, records::list_records,
        system::node_descriptor, system::healthz, system::readyz, system::metrics,
        system::status, system::create_token, system::list_tokens, system::revoke_token,
        search::search,
        accounts::create_account, accounts::list_accounts, accounts::disable_account,
        accounts::enable_account, accounts::reset_password, accounts::delete_account,
        audit::record_audit,
        backup::backup_changes, backup::backup_rotations,
    ),
    components(schemas(
        crate::http::error::ErrorBody, crate::http::error::ErrorInfo, crate::http::error::ErrorDetail,
        records::SignedRecord, records::RecordList, records::RecordContentInput,
        system::Health, system::NodeStatus, system::OriginStatus,
        system::CreateToken, system::CreatedToken,
        crate::tokens::TokenInfo, crate::tokens::Role,
        search::SearchResults, search::SearchHit, search::MatchedViaItem, search::SnippetSpan, search::SearchHitDisplay,
        search::SearchFacets, search::FacetCount, search::SearchQueryInfo,
        accounts::CreateAccount, accounts::ResetPassword, crate::accounts::AccountInfo,
        backup::BackupPage, backup::BackupRotations,
        audit::AuditTrail, crate::audit::AuditEntry, crate::audit::AuditAction, crate::audit::Actor,
    )),
    modifiers(&TokenSecurity),
)]
pub struct ApiDoc;

struct TokenSecurity;

impl utoipa::Modify for TokenSecurity {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        use utoipa::openapi::security::{Http, HttpAuthScheme, SecurityScheme};
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "token",
            SecurityScheme::Http(Http::new(HttpAuthScheme::Bearer)),
        );
    }
}

async fn openapi_json() -> Json<utoipa::openapi::OpenApi> {
    Json(ApiDoc::openapi())
}

/// The `/api/v1` routes of records, node, tokens, accounts, audit, status, search and
/// OpenAPI, plus `/healthz`, `/readyz` and `/metrics`. The peer
/// management routes under `/api/v1/peers` are federation's
/// (`crate::federation::http`); `crate::app` merges both.
pub fn api_v1_router() -> Router<AppState> {
    Router::new()
        .route(
            "/api/v1/records",
            get(records::list_records).post(records::create_record),
        )
        .route(
            "/api/v1/records/{origin}/{id}",
            get(records::get_record)
                .put(records::update_record)
                .delete(records::delete_record),
        )
        .route("/api/v1/node", get(system::node_descriptor))
        .route("/api/v1/status", get(system::status))
        .route(
            "/api/v1/tokens",
            get(system::list_tokens).post(system::create_token),
        )
        .route(
            "/api/v1/tokens/{id}",
            axum::routing::delete(system::revoke_token),
        )
        .route(
            "/api/v1/accounts",
            get(accounts::list_accounts).post(accounts::create_account),
        )
        .route(
            "/api/v1/accounts/{username}",
            axum::routing::delete(accounts::delete_account),
        )
        .route(
            "/api/v1/accounts/{username}/disable",
            post(accounts::disable_account),
        )
        .route(
            "/api/v1/accounts/{username}/enable",
            post(accounts::enable_account),
        )
        .route(
            "/api/v1/accounts/{username}/password",
            post(accounts::reset_password),
        )
        .route(
            "/api/v1/records/{origin}/{id}/audit",
            get(audit::record_audit),
        )
        .route("/api/v1/backup/changes", get(backup::backup_changes))
        .route("/api/v1/backup/rotations", get(backup::backup_rotations))
        .route("/api/v1/search", get(search::search))
        .route("/api/v1/openapi.json", get(openapi_json))
        .route("/healthz", get(system::healthz))
        .route("/readyz", get(system::readyz))
        .route("/metrics", get(system::metrics))
}
