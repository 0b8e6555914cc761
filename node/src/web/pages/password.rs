//! Changing one's own password (`/account/password`).
//!
//! The person proves the current password, then gives the new one twice.
//! On success this browser's session moves to the account's new session
//! epoch and every other session of the account ends (a password that
//! leaked is no longer enough to stay signed in elsewhere). Someone signed
//! in with a token has no password to change and is told so.

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::header::COOKIE;
use axum::http::{HeaderMap, StatusCode, Uri};
use axum::response::Response;
use maud::html;

use super::accounts::{refusal_text, status_of};
use super::{
    header_text, html_response, layout, message_page, pair, parse_pairs, see_other, url_encode,
    Ctx, Nav,
};
use crate::accounts::{PASSWORD_CHARS_MAX, PASSWORD_CHARS_MIN};
use crate::web::accounts_backend::AccountError;
use crate::web::backend::{Credential, WebBackend};
use crate::web::session::{cookie_value, csrf_matches, SessionView, SESSION_COOKIE};
use crate::web::WebState;

/// What went wrong, on which field.
struct Problem {
    field: &'static str,
    message: String,
}

/// The account of the session, or the page that says why there is none.
fn require_account(ctx: &Ctx) -> Result<(SessionView, String), Box<Response>> {
    match &ctx.session {
        Some(session) => match &session.credential {
            Credential::Account { username, .. } => Ok((session.clone(), username.clone())),
            Credential::Token { .. } => Err(Box::new(message_page(
                ctx,
                StatusCode::CONFLICT,
                "password.heading",
                ctx.t("password.token_session"),
            ))),
        },
        None => Err(Box::new(see_other(&format!(
            "/signin?required=1&next={}",
            url_encode(&ctx.here)
        )))),
    }
}

fn render(
    ctx: &Ctx,
    session: &SessionView,
    username: &str,
    problem: Option<&Problem>,
    done: bool,
    status: StatusCode,
) -> Response {
    let field = |name: &str| match problem {
        Some(problem) if problem.field == name => "field field-invalid",
        _ => "field",
    };
    let error = |name: &str| {
        html! {
            @if let Some(problem) = problem {
                @if problem.field == name {
                    p class="field-error" role="alert" id=(format!("{name}-error")) { (problem.message) }
                }
            }
        }
    };
    let main = html! {
        @if done {
            p class="notice notice-ok" role="status" id="password-changed" { (ctx.t("password.changed")) }
        }
        h1 { (ctx.t("password.heading")) }
        p { (ctx.tf("password.for", &[("username", username)])) }
        form method="post" action="/account/password" class="stack narrow" {
            input type="hidden" name="csrf" value=(session.csrf);
            // A hidden username lets password managers file the new password.
            input type="hidden" name="username" value=(username) autocomplete="username";
            div class=(field("current_password")) {
                label for="current-password" { (ctx.t("password.current")) }
                input type="password" id="current-password" name="current_password" required
                    maxlength=(PASSWORD_CHARS_MAX) autocomplete="current-password";
                (error("current_password"))
            }
            div class=(field("password")) {
                label for="new-password" { (ctx.t("password.new")) }
                input type="password" id="new-password" name="password" required
                    minlength=(PASSWORD_CHARS_MIN) maxlength=(PASSWORD_CHARS_MAX) autocomplete="new-password"
                    aria-describedby="new-password-help";
                p id="new-password-help" class="help" {
                    (ctx.tf("password.rules", &[("min", &PASSWORD_CHARS_MIN.to_string()), ("max", &PASSWORD_CHARS_MAX.to_string())]))
                }
                (error("password"))
            }
            div class=(field("repeat")) {
                label for="repeat-password" { (ctx.t("password.repeat")) }
                input type="password" id="repeat-password" name="repeat" required
                    maxlength=(PASSWORD_CHARS_MAX) autocomplete="new-password";
                (error("repeat"))
            }
            button type="submit" class="button button-primary" { (ctx.t("password.submit")) }
        }
    };
    html_response(
        status,
        layout(ctx, ctx.t("password.heading"), Nav::None, main),
    )
}

pub async fn form<B: WebBackend>(
    State(state): State<Arc<WebState<B>>>,
    headers: HeaderMap,
    uri: Uri,
) -> Response {
    let ctx = Ctx::new(&state, &headers, "/account/password");
    let (session, username) = match require_account(&ctx) {
        Ok(found) => found,
        Err(response) => return *response,
    };
    let done = pair(&parse_pairs(uri.query().unwrap_or("")), "notice") == Some("changed");
    render(&ctx, &session, &username, None, done, StatusCode::OK)
}

pub async fn submit<B: WebBackend>(
    State(state): State<Arc<WebState<B>>>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let ctx = Ctx::new(&state, &headers, "/account/password");
    let (session, username) = match require_account(&ctx) {
        Ok(found) => found,
        Err(response) => return *response,
    };
    let pairs = parse_pairs(std::str::from_utf8(&body).unwrap_or(""));
    if !csrf_matches(&session.csrf, pair(&pairs, "csrf").unwrap_or("")) {
        return message_page(
            &ctx,
            StatusCode::FORBIDDEN,
            "form.expired_title",
            ctx.t("form.expired"),
        );
    }
    let current = pair(&pairs, "current_password").unwrap_or("");
    let new_password = pair(&pairs, "password").unwrap_or("");
    if pair(&pairs, "repeat").unwrap_or("") != new_password {
        let problem = Problem {
            field: "repeat",
            message: ctx.t("password.mismatch").to_string(),
        };
        return render(
            &ctx,
            &session,
            &username,
            Some(&problem),
            false,
            StatusCode::UNPROCESSABLE_ENTITY,
        );
    }
    match state
        .backend
        .change_own_password(&username, current, new_password)
        .await
    {
        Ok(epoch) => {
            if let Some(id) = cookie_value(header_text(&headers, COOKIE), SESSION_COOKIE) {
                state.sessions.move_to_epoch(id, epoch);
            }
            see_other("/account/password?notice=changed")
        }
        Err(error) => {
            if matches!(error, AccountError::Hash(_) | AccountError::Storage(_)) {
                tracing::error!(%error, "changing a password failed");
            }
            let (status, message) = (status_of(&error), refusal_text(&ctx, &error));
            let problem = Problem {
                field: error.field().unwrap_or("password"),
                message,
            };
            render(&ctx, &session, &username, Some(&problem), false, status)
        }
    }
}
