//! `/api/v1/accounts`: named accounts for people (admin token).
//!
//! The same operations as the admin pages and `seednet account`: create,
//! list, disable, enable, reset a password, delete. Passwords travel only in
//! request bodies, are hashed with argon2id off the async runtime and are
//! never logged or returned. Every refusal names its field (`username`,
//! `display_name`, `role`, `password`).

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::accounts::{self, AccountChange, AccountInfo, NewAccount};
use crate::http::error::{ApiError, ErrorBody};
use crate::http::extract::decode_json;
use crate::http::extract::{Admin, JsonBytes};
use crate::state::AppState;
use crate::tokens::Role;

/// A new account.
#[derive(Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateAccount {
    /// 2 to 32 of a-z 0-9 . _ - (starting with a letter or digit).
    pub username: String,
    /// The name shown in the interface and the audit log (1 to 100 characters).
    pub display_name: String,
    pub role: Role,
    /// 12 to 128 characters.
    pub password: String,
}

/// A new password set by an admin.
#[derive(Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ResetPassword {
    pub password: String,
}

/// Create an account (admin).
#[utoipa::path(post, path = "/api/v1/accounts", tag = "accounts",
    request_body = CreateAccount,
    responses((status = 201, description = "created", body = AccountInfo),
              (status = 400, description = "invalid JSON, unknown field or unknown role; field names it", body = ErrorBody),
              (status = 401, description = "missing or unknown token", body = ErrorBody),
              (status = 403, description = "not an admin token", body = ErrorBody),
              (status = 409, description = "username taken, or too many accounts", body = ErrorBody),
              (status = 422, description = "bad username, display name or password; field names it", body = ErrorBody)),
    security(("token" = [])))]
pub async fn create_account(
    State(state): State<AppState>,
    admin: Admin,
    JsonBytes(body): JsonBytes,
) -> Result<Response, ApiError> {
    let request: CreateAccount = decode_json(&body)?;
    let new = NewAccount {
        username: request.username,
        display_name: request.display_name,
        role: request.role,
        password: request.password,
    };
    let info = state
        .blocking(move |storage| accounts::create(storage, &new))
        .await?;
    tracing::info!(username = %info.username, role = info.role.as_str(), by_token = %admin.0.id, "account created");
    Ok((StatusCode::CREATED, Json(info)).into_response())
}

/// List accounts, without password hashes (admin).
#[utoipa::path(get, path = "/api/v1/accounts", tag = "accounts",
    responses((status = 200, description = "accounts in username order", body = Vec<AccountInfo>),
              (status = 401, description = "missing or unknown token", body = ErrorBody),
              (status = 403, description = "not an admin token", body = ErrorBody)),
    security(("token" = [])))]
pub async fn list_accounts(
    State(state): State<AppState>,
    _admin: Admin,
) -> Result<Json<Vec<AccountInfo>>, ApiError> {
    Ok(Json(state.blocking(accounts::list).await?))
}

async fn apply_change(
    state: &AppState,
    admin: &Admin,
    username: String,
    change: AccountChange,
) -> Result<Json<AccountInfo>, ApiError> {
    let what = match &change {
        AccountChange::Disable => "disabled",
        AccountChange::Enable => "enabled",
        AccountChange::ResetPassword(_) => "password reset",
    };
    let info = state
        .blocking(move |storage| accounts::change(storage, &username, &change))
        .await?;
    tracing::info!(username = %info.username, by_token = %admin.0.id, "account {what}; its sessions end");
    Ok(Json(info))
}

/// Disable an account: it cannot sign in and its sessions end (admin).
#[utoipa::path(post, path = "/api/v1/accounts/{username}/disable", tag = "accounts",
    params(("username" = String, Path, description = "the account's username")),
    responses((status = 200, description = "disabled", body = AccountInfo),
              (status = 404, description = "no such account", body = ErrorBody)),
    security(("token" = [])))]
pub async fn disable_account(
    State(state): State<AppState>,
    admin: Admin,
    Path(username): Path<String>,
) -> Result<Json<AccountInfo>, ApiError> {
    apply_change(&state, &admin, username, AccountChange::Disable).await
}

/// Enable a disabled account again (admin).
#[utoipa::path(post, path = "/api/v1/accounts/{username}/enable", tag = "accounts",
    params(("username" = String, Path, description = "the account's username")),
    responses((status = 200, description = "enabled", body = AccountInfo),
              (status = 404, description = "no such account", body = ErrorBody)),
    security(("token" = [])))]
pub async fn enable_account(
    State(state): State<AppState>,
    admin: Admin,
    Path(username): Path<String>,
) -> Result<Json<AccountInfo>, ApiError> {
    apply_change(&state, &admin, username, AccountChange::Enable).await
}

/// Set a new password for an account; its sessions end (admin).
#[utoipa::path(post, path = "/api/v1/accounts/{username}/password", tag = "accounts",
    params(("username" = String, Path, description = "the account's username")),
    request_body = ResetPassword,
    responses((status = 200, description = "password replaced", body = AccountInfo),
              (status = 404, description = "no such account", body = ErrorBody),
              (status = 422, description = "password too short or too long", body = ErrorBody)),
    security(("token" = [])))]
pub async fn reset_password(
    State(state): State<AppState>,
    admin: Admin,
    Path(username): Path<String>,
    JsonBytes(body): JsonBytes,
) -> Result<Json<AccountInfo>, ApiError> {
    let request: ResetPassword = decode_json(&body)?;
    apply_change(
        &state,
        &admin,
        username,
        AccountChange::ResetPassword(request.password),
    )
    .await
}

/// Delete an account; its audit entries stay (admin).
#[utoipa::path(delete, path = "/api/v1/accounts/{username}", tag = "accounts",
    params(("username" = String, Path, description = "the account's username")),
    responses((status = 204, description = "deleted"),
              (status = 404, description = "no such account", body = ErrorBody)),
    security(("token" = [])))]
pub async fn delete_account(
    State(state): State<AppState>,
    admin: Admin,
    Path(username): Path<String>,
) -> Result<StatusCode, ApiError> {
    let name = username.clone();
    state
        .blocking(move |storage| accounts::delete(storage, &name))
        .await?;
    tracing::info!(username = %username, by_token = %admin.0.id, "account deleted");
    Ok(StatusCode::NO_CONTENT)
}
