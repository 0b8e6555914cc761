//! Signing in with an editor or admin token, and signing out.
//!
//! The token is checked by the node (constant time, never logged) and is not
//! kept by the browser: a successful sign-in starts a server-side session
//! (see `web::session`). A wrong token gets a clear message and a 401.

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::header::COOKIE;
use axum::http::{HeaderMap, StatusCode, Uri};
use axum::response::Response;
use maud::html;

use super::{
    header_text, html_response, layout, pair, parse_pairs, safe_back, see_other, with_cookie, Ctx,
    Nav,
};
use crate::web::backend::WebBackend;
use crate::web::session::{
    self, cookie_value, csrf_matches, random_token, CSRF_COOKIE, SESSION_COOKIE,
};
use crate::web::{WebState, TOKEN_CHARS_MAX};

/// Why the sign-in form is shown again.
enum Problem {
    None,
    Empty,
    Wrong,
    Expired,
    Required,
}

fn render<B: WebBackend>(
    state: &WebState<B>,
    ctx: &Ctx,
    next: &str,
    problem: Problem,
    status: StatusCode,
    headers: &HeaderMap,
) -> Response {
    // Reuse the browser's CSRF cookie if it has one, else set a new one.
    let existing = cookie_value(header_text(headers, COOKIE), CSRF_COOKIE)
        .filter(|value| value.len() == 64)
        .map(str::to_string);
    let csrf = existing.clone().unwrap_or_else(random_token);
    let message = match problem {
        Problem::None => None,
        Problem::Empty => Some(ctx.t("signin.empty")),
        Problem::Wrong => Some(ctx.t("signin.wrong")),
        Problem::Expired => Some(ctx.t("form.expired")),
        Problem::Required => Some(ctx.t("signin.required")),
    };
    let is_error = matches!(problem, Problem::Empty | Problem::Wrong | Problem::Expired);
    let main = html! {
        h1 { (ctx.t("signin.heading")) }
        @if let Some(message) = message {
            @if is_error {
                p class="notice notice-error" role="alert" id="signin-error" { (message) }
            } @else {
                p class="notice" role="status" { (message) }
            }
        }
        form class="stack narrow" method="post" action="/signin" {
            input type="hidden" name="csrf" value=(csrf);
            input type="hidden" name="next" value=(next);
            div class=(if is_error { "field field-invalid" } else { "field" }) {
                label for="token" { (ctx.t("signin.token")) }
                input type="password" id="token" name="token" required
                    maxlength=(TOKEN_CHARS_MAX) autocomplete="current-password"
                    aria-describedby=(if is_error { "token-help signin-error" } else { "token-help" })
                    aria-invalid=(if is_error { "true" } else { "false" });
                p id="token-help" class="help" { (ctx.t("signin.token_help")) }
            }
            button type="submit" class="button button-primary" { (ctx.t("signin.submit")) }
        }
    };
    let response = html_response(
        status,
        layout(ctx, ctx.t("signin.heading"), Nav::SignIn, main),
    );
    if existing.is_some() {
        response
    } else {
        with_cookie(
            response,
            &session::set_cookie(CSRF_COOKIE, &csrf, None, state.config.secure_cookies),
        )
    }
}

pub async fn form<B: WebBackend>(
    State(state): State<Arc<WebState<B>>>,
    headers: HeaderMap,
    uri: Uri,
) -> Response {
    let ctx = Ctx::new(&state, &headers, "/signin");
    let pairs = parse_pairs(uri.query().unwrap_or(""));
    let next = safe_back(pair(&pairs, "next"));
    let problem = if pair(&pairs, "required").is_some() {
        Problem::Required
    } else {
        Problem::None
    };
    render(&state, &ctx, &next, problem, StatusCode::OK, &headers)
}

pub async fn submit<B: WebBackend>(
    State(state): State<Arc<WebState<B>>>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let ctx = Ctx::new(&state, &headers, "/signin");
    let pairs = parse_pairs(std::str::from_utf8(&body).unwrap_or(""));
    let next = safe_back(pair(&pairs, "next"));
    let expected_csrf = cookie_value(header_text(&headers, COOKIE), CSRF_COOKIE).unwrap_or("");
    if !csrf_matches(expected_csrf, pair(&pairs, "csrf").unwrap_or("")) {
        return render(
            &state,
            &ctx,
            &next,
            Problem::Expired,
            StatusCode::FORBIDDEN,
            &headers,
        );
    }
    let token = pair(&pairs, "token").unwrap_or("").trim();
    if token.is_empty() {
        return render(
            &state,
            &ctx,
            &next,
            Problem::Empty,
            StatusCode::UNPROCESSABLE_ENTITY,
            &headers,
        );
    }
    let grant = if token.chars().count() > TOKEN_CHARS_MAX {
        None
    } else {
        state.backend.authenticate(token).await
    };
    let Some(grant) = grant else {
        tracing::info!("web sign-in refused: unknown token");
        return render(
            &state,
            &ctx,
            &next,
            Problem::Wrong,
            StatusCode::UNAUTHORIZED,
            &headers,
        );
    };
    if let Some(old) = cookie_value(header_text(&headers, COOKIE), SESSION_COOKIE) {
        state.sessions.remove(old);
    }
    let session_id = state.sessions.create(&grant);
    tracing::info!(role = ?grant.role, token_id = %grant.token_id, "web sign-in");
    let destination = if next == "/" {
        if grant.role.can_administer() {
            "/admin".to_string()
        } else {
            "/editor".to_string()
        }
    } else {
        next
    };
    with_cookie(
        see_other(&destination),
        &session::set_cookie(
            SESSION_COOKIE,
            &session_id,
            None,
            state.config.secure_cookies,
        ),
    )
}

pub async fn sign_out<B: WebBackend>(
    State(state): State<Arc<WebState<B>>>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let ctx = Ctx::new(&state, &headers, "/");
    let pairs = parse_pairs(std::str::from_utf8(&body).unwrap_or(""));
    if let Some(session) = &ctx.session {
        if csrf_matches(&session.csrf, pair(&pairs, "csrf").unwrap_or("")) {
            if let Some(id) = cookie_value(header_text(&headers, COOKIE), SESSION_COOKIE) {
                state.sessions.remove(id);
            }
        } else {
            return see_other("/");
        }
    }
    with_cookie(
        see_other("/?notice=signed_out"),
        &session::set_cookie(SESSION_COOKIE, "", Some(0), state.config.secure_cookies),
    )
}
