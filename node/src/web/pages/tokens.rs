//! The tokens page (`/admin/tokens`): admins list API tokens (label, role,
//! created), create one and revoke one: the same `crate::tokens` operations
//! as `/api/v1/tokens` and `seednet token`.
//!
//! A new token's secret exists only in the answer to the create form: the
//! node stores its SHA-256 alone, so the page shows the secret once, with a
//! hint to copy it now, and no later page can show it again (the answer is
//! `Cache-Control: no-store`, and it is not a redirect target that a reload
//! would fetch again). Revoking a token ends the web sessions started with
//! it at their next request.

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode, Uri};
use axum::response::Response;
use maud::html;

use super::admin_guard::{check_form, require_admin};
use super::{
    html_response, layout, pair, parse_pairs, role_key, see_other, server_error, Ctx, Nav,
};
use crate::tokens::TOKEN_LABEL_CHARS_MAX;
use crate::web::accounts_backend::{NewToken, TokenError};
use crate::web::backend::{Role, WebBackend};
use crate::web::session::SessionView;
use crate::web::WebState;

/// What the page shows above the list.
enum Outcome<'a> {
    None,
    Notice(&'static str),
    Created(&'a NewToken),
    Refused(String),
}

async fn show<B: WebBackend>(
    state: &WebState<B>,
    ctx: &Ctx,
    session: &SessionView,
    outcome: Outcome<'_>,
    status: StatusCode,
) -> Response {
    let tokens = match state.backend.tokens().await {
        Ok(tokens) => tokens,
        Err(error) => return server_error(ctx, &error),
    };
    let main = html! {
        @match &outcome {
            Outcome::None => {}
            Outcome::Notice(key) => { p class="notice notice-ok" role="status" { (ctx.t(key)) } }
            Outcome::Refused(message) => {
                p class="notice notice-error" role="alert" id="token-error" { (message) }
            }
            Outcome::Created(new) => {
                section class="card new-token" aria-labelledby="new-token-heading" role="status" {
                    h2 id="new-token-heading" { (ctx.t("tokens.created_heading")) }
                    p {
                        (ctx.t(role_key(new.info.role))) " · "
                        @if new.info.label.is_empty() { code { (new.info.id) } } @else { (new.info.label) }
                    }
                    label for="new-token-secret" { (ctx.t("tokens.secret")) }
                    input type="text" id="new-token-secret" readonly value=(new.token)
                        class="token-secret" spellcheck="false" autocomplete="off";
                    p class="help" id="new-token-hint" { (ctx.t("tokens.copy_hint")) }
                }
            }
        }
        p { a href="/admin" { "← " (ctx.t("admin.heading")) } }
        h1 { (ctx.t("tokens.heading")) }
        p class="help" { (ctx.t("tokens.help")) }
        section aria-labelledby="tokens-list-heading" class="card" {
            h2 id="tokens-list-heading" { (ctx.t("tokens.list")) }
            @if tokens.is_empty() {
                p { (ctx.t("tokens.none")) }
            } @else {
                div class="table-scroll" {
                    table class="tokens-table" {
                        thead {
                            tr {
                                th scope="col" { (ctx.t("tokens.label")) }
                                th scope="col" { (ctx.t("tokens.id")) }
                                th scope="col" { (ctx.t("accounts.role")) }
                                th scope="col" { (ctx.t("accounts.created")) }
                                th scope="col" { span class="visually-hidden" { (ctx.t("editor.actions")) } }
                            }
                        }
                        tbody {
                            @for token in &tokens {
                                tr data-token=(token.id) {
                                    th scope="row" {
                                        @if token.label.is_empty() { "–" } @else { (token.label) }
                                    }
                                    td { code { (token.id) } }
                                    td { (ctx.t(role_key(token.role))) }
                                    td {
                                        (seednet_protocol::Timestamp::from_unix_seconds(token.created_at)
                                            .map(|t| t.to_string())
                                            .unwrap_or_else(|| "–".into()))
                                    }
                                    td {
                                        form method="post" action=(format!("/admin/tokens/{}/revoke", token.id)) class="inline-form" {
                                            input type="hidden" name="csrf" value=(session.csrf);
                                            button type="submit" class="button button-danger" data-token=(token.id) {
                                                (ctx.t("tokens.revoke"))
                                                span class="visually-hidden" { ": " (token.label) " " (token.id) }
                                            }
                                        }
                                    }
                                }
                            }
                        }
                    }
                }
            }
        }
        section aria-labelledby="token-new-heading" class="card" {
            h2 id="token-new-heading" { (ctx.t("tokens.create_heading")) }
            form method="post" action="/admin/tokens" class="stack narrow" id="token-new" {
                input type="hidden" name="csrf" value=(session.csrf);
                div class="field" {
                    label for="token-label" { (ctx.t("tokens.label")) }
                    input type="text" id="token-label" name="label" maxlength=(TOKEN_LABEL_CHARS_MAX)
                        aria-describedby="token-label-help";
                    p id="token-label-help" class="help" { (ctx.t("tokens.label_help")) }
                }
                div class="field" {
                    label for="token-role" { (ctx.t("accounts.role")) }
                    select id="token-role" name="role" {
                        option value="editor" selected { (ctx.t("role.editor")) }
                        option value="admin" { (ctx.t("role.admin")) }
                    }
                }
                button type="submit" class="button button-primary" { (ctx.t("tokens.create")) }
            }
        }
    };
    html_response(
        status,
        layout(ctx, ctx.t("tokens.heading"), Nav::Admin, main),
    )
}

fn refusal_text(ctx: &Ctx, error: &TokenError) -> String {
    match error {
        TokenError::TooMany { max } => ctx.tf("tokens.too_many", &[("max", &max.to_string())]),
        TokenError::LabelTooLong { max } => {
            ctx.tf("tokens.label_too_long", &[("max", &max.to_string())])
        }
        TokenError::NotFound { .. } => ctx.t("tokens.not_found").to_string(),
        TokenError::Storage(_) => ctx.t("error.server").to_string(),
    }
}

fn status_of(error: &TokenError) -> StatusCode {
    match error {
        TokenError::TooMany { .. } => StatusCode::CONFLICT,
        TokenError::LabelTooLong { .. } => StatusCode::UNPROCESSABLE_ENTITY,
        TokenError::NotFound { .. } => StatusCode::NOT_FOUND,
        TokenError::Storage(error) => {
            tracing::error!(%error, "token change failed");
            StatusCode::INTERNAL_SERVER_ERROR
        }
    }
}

pub async fn page<B: WebBackend>(
    State(state): State<Arc<WebState<B>>>,
    headers: HeaderMap,
    uri: Uri,
) -> Response {
    let ctx = Ctx::new(&state, &headers, "/admin/tokens");
    let session = match require_admin(&ctx) {
        Ok(session) => session.clone(),
        Err(response) => return *response,
    };
    let pairs = parse_pairs(uri.query().unwrap_or(""));
    let outcome = match pair(&pairs, "notice") {
        Some("revoked") => Outcome::Notice("tokens.notice_revoked"),
        _ => Outcome::None,
    };
    show(&state, &ctx, &session, outcome, StatusCode::OK).await
}

pub async fn create<B: WebBackend>(
    State(state): State<Arc<WebState<B>>>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let ctx = Ctx::new(&state, &headers, "/admin/tokens");
    let pairs = match check_form(&ctx, &body) {
        Ok(pairs) => pairs,
        Err(response) => return *response,
    };
    let session = ctx.session.clone().expect("check_form needs a session");
    let Ok(role) = pair(&pairs, "role").unwrap_or("").parse::<Role>() else {
        let refused = Outcome::Refused(ctx.t("accounts.bad_role").to_string());
        return show(
            &state,
            &ctx,
            &session,
            refused,
            StatusCode::UNPROCESSABLE_ENTITY,
        )
        .await;
    };
    let label = pair(&pairs, "label").unwrap_or("").trim().to_string();
    match state.backend.create_token(role, &label).await {
        Ok(new) => {
            show(
                &state,
                &ctx,
                &session,
                Outcome::Created(&new),
                StatusCode::CREATED,
            )
            .await
        }
        Err(error) => {
            let status = status_of(&error);
            let refused = Outcome::Refused(refusal_text(&ctx, &error));
            show(&state, &ctx, &session, refused, status).await
        }
    }
}

pub async fn revoke<B: WebBackend>(
    State(state): State<Arc<WebState<B>>>,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let ctx = Ctx::new(&state, &headers, "/admin/tokens");
    if let Err(response) = check_form(&ctx, &body) {
        return *response;
    }
    let session = ctx.session.clone().expect("check_form needs a session");
    match state.backend.revoke_token(&id).await {
        Ok(()) => see_other("/admin/tokens?notice=revoked"),
        Err(error) => {
            let status = status_of(&error);
            let refused = Outcome::Refused(refusal_text(&ctx, &error));
            show(&state, &ctx, &session, refused, status).await
        }
    }
}
