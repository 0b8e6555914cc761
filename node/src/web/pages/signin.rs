//! Signing in with a username and password, or with an editor or admin
//! token, and signing out.
//!
//! One form offers both: people sign in with their account; the token field
//! is for the first admin (who has only the token `seednet init` printed)
//! and for anyone an IT person gave a token. A filled token field signs in
//! with the token, otherwise the username and password are checked.
//!
//! Neither secret is kept by the browser: a successful sign-in starts a
//! server-side session (see `web::session`). Tokens and passwords are never
//! logged. A wrong token or password gets a clear message and a 401 (the
//! same message for an unknown username and a wrong password, so the form
//! does not tell which usernames exist); too many failed password sign-ins
//! get a 429 saying how many minutes to wait (`accounts::limiter`).

use std::net::SocketAddr;
use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{ConnectInfo, State};
use axum::http::header::{COOKIE, RETRY_AFTER};
use axum::http::{HeaderMap, HeaderValue, StatusCode, Uri};
use axum::response::Response;
use axum::Extension;
use maud::html;

use super::{
    header_text, html_response, layout, pair, parse_pairs, safe_back, see_other, with_cookie, Ctx,
    Nav,
};
use crate::accounts::{PASSWORD_CHARS_MAX, USERNAME_CHARS_MAX};
use crate::http::client_address::client_address;
use crate::web::backend::{Credential, Grant, PasswordRefusal, TokenRefusal, WebBackend};
use crate::web::session::{
    self, cookie_value, csrf_matches, random_token, CSRF_COOKIE, SESSION_COOKIE,
};
use crate::web::{WebState, TOKEN_CHARS_MAX};

/// Why the sign-in form is shown again.
enum Problem {
    None,
    Required,
    Expired,
    Nothing,
    WrongToken,
    EmptyPassword,
    WrongPassword,
    Disabled,
    Limited { minutes: u64 },
}

impl Problem {
    fn is_error(&self) -> bool {
        !matches!(self, Problem::None | Problem::Required)
    }

    /// Whether the message is about the token field (else the password fields).
    fn about_token(&self) -> bool {
        matches!(self, Problem::WrongToken)
    }

    fn status(&self) -> StatusCode {
        match self {
            Problem::None | Problem::Required => StatusCode::OK,
            Problem::Expired | Problem::Disabled => StatusCode::FORBIDDEN,
            Problem::Nothing | Problem::EmptyPassword => StatusCode::UNPROCESSABLE_ENTITY,
            Problem::WrongToken | Problem::WrongPassword => StatusCode::UNAUTHORIZED,
            Problem::Limited { .. } => StatusCode::TOO_MANY_REQUESTS,
        }
    }

    fn message(&self, ctx: &Ctx) -> Option<String> {
        let key = match self {
            Problem::None => return None,
            Problem::Limited { minutes: 1 } => "signin.limited_one",
            Problem::Limited { minutes } => {
                return Some(ctx.tf("signin.limited", &[("n", &minutes.to_string())]))
            }
            Problem::Required => "signin.required",
            Problem::Expired => "form.expired",
            Problem::Nothing => "signin.nothing",
            Problem::WrongToken => "signin.wrong",
            Problem::EmptyPassword => "signin.password_empty",
            Problem::WrongPassword => "signin.password_wrong",
            Problem::Disabled => "signin.disabled",
        };
        Some(ctx.t(key).to_string())
    }
}

fn render<B: WebBackend>(
    state: &WebState<B>,
    ctx: &Ctx,
    next: &str,
    username: &str,
    problem: Problem,
    headers: &HeaderMap,
) -> Response {
    // Reuse the browser's CSRF cookie if it has one, else set a new one.
    let existing = cookie_value(header_text(headers, COOKIE), CSRF_COOKIE)
        .filter(|value| value.len() == 64)
        .map(str::to_string);
    let csrf = existing.clone().unwrap_or_else(random_token);
    let message = problem.message(ctx);
    let is_error = problem.is_error();
    let token_invalid = is_error && problem.about_token();
    let password_invalid =
        is_error && !problem.about_token() && !matches!(problem, Problem::Expired);
    let described = |help: &str, invalid: bool| {
        if invalid {
            format!("{help} signin-error")
        } else {
            help.to_string()
        }
    };
    let main = html! {
        h1 { (ctx.t("signin.heading")) }
        @if let Some(message) = &message {
            @if is_error {
                p class="notice notice-error" role="alert" id="signin-error" { (message) }
            } @else {
                p class="notice" role="status" { (message) }
            }
        }
        form class="stack narrow" method="post" action="/signin" {
            input type="hidden" name="csrf" value=(csrf);
            input type="hidden" name="next" value=(next);
            fieldset class="stack" {
                legend { (ctx.t("signin.with_password")) }
                div class=(if password_invalid { "field field-invalid" } else { "field" }) {
                    label for="username" { (ctx.t("signin.username")) }
                    input type="text" id="username" name="username" value=(username)
                        maxlength=(USERNAME_CHARS_MAX) autocomplete="username"
                        autocapitalize="none" spellcheck="false"
                        aria-describedby=(described("username-help", password_invalid))
                        aria-invalid=(if password_invalid { "true" } else { "false" });
                    p id="username-help" class="help" { (ctx.t("signin.username_help")) }
                }
                div class=(if password_invalid { "field field-invalid" } else { "field" }) {
                    label for="password" { (ctx.t("signin.password")) }
                    input type="password" id="password" name="password"
                        maxlength=(PASSWORD_CHARS_MAX) autocomplete="current-password"
                        aria-invalid=(if password_invalid { "true" } else { "false" });
                }
            }
            fieldset class="stack" {
                legend { (ctx.t("signin.with_token")) }
                div class=(if token_invalid { "field field-invalid" } else { "field" }) {
                    label for="token" { (ctx.t("signin.token")) }
                    input type="password" id="token" name="token"
                        maxlength=(TOKEN_CHARS_MAX) autocomplete="off"
                        aria-describedby=(described("token-help", token_invalid))
                        aria-invalid=(if token_invalid { "true" } else { "false" });
                    p id="token-help" class="help" { (ctx.t("signin.token_help")) }
                }
            }
            button type="submit" class="button button-primary" { (ctx.t("signin.submit")) }
        }
    };
    let mut response = html_response(
        problem.status(),
        layout(ctx, ctx.t("signin.heading"), Nav::SignIn, main),
    );
    if let Problem::Limited { minutes } = problem {
        if let Ok(value) = HeaderValue::from_str(&(minutes * 60).to_string()) {
            response.headers_mut().insert(RETRY_AFTER, value);
        }
    }
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
    render(&state, &ctx, &next, "", problem, &headers)
}

/// Checks what the form carries: the token if one was typed, else the
/// username and password.
async fn check<B: WebBackend>(
    state: &WebState<B>,
    pairs: &[(String, String)],
    peer: Option<SocketAddr>,
    headers: &HeaderMap,
) -> Result<Grant, Problem> {
    let token = pair(pairs, "token").unwrap_or("").trim();
    let username = pair(pairs, "username").unwrap_or("").trim();
    let password = pair(pairs, "password").unwrap_or("");
    let client = client_address(peer, headers);
    if !token.is_empty() {
        if token.chars().count() > TOKEN_CHARS_MAX {
            return Err(Problem::WrongToken);
        }
        return state
            .backend
            .authenticate(token, client)
            .await
            .map_err(|refusal| match refusal {
                TokenRefusal::Unknown => {
                    tracing::info!("web sign-in refused: unknown token");
                    Problem::WrongToken
                }
                TokenRefusal::Limited {
                    retry_after_minutes,
                } => Problem::Limited {
                    minutes: retry_after_minutes,
                },
            });
    }
    if username.is_empty() && password.is_empty() {
        return Err(Problem::Nothing);
    }
    if username.is_empty() || password.is_empty() {
        return Err(Problem::EmptyPassword);
    }
    state
        .backend
        .sign_in_password(username, password, client)
        .await
        .map_err(|refusal| match refusal {
            PasswordRefusal::Wrong => Problem::WrongPassword,
            PasswordRefusal::Disabled => Problem::Disabled,
            PasswordRefusal::Limited {
                retry_after_minutes,
            } => Problem::Limited {
                minutes: retry_after_minutes,
            },
            PasswordRefusal::Backend(error) => {
                tracing::error!(%error, "password sign-in failed");
                Problem::WrongPassword
            }
        })
}

pub async fn submit<B: WebBackend>(
    State(state): State<Arc<WebState<B>>>,
    connect: Option<Extension<ConnectInfo<SocketAddr>>>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let ctx = Ctx::new(&state, &headers, "/signin");
    let pairs = parse_pairs(std::str::from_utf8(&body).unwrap_or(""));
    let next = safe_back(pair(&pairs, "next"));
    let username: String = pair(&pairs, "username")
        .unwrap_or("")
        .trim()
        .chars()
        .take(USERNAME_CHARS_MAX)
        .collect();
    let expected_csrf = cookie_value(header_text(&headers, COOKIE), CSRF_COOKIE).unwrap_or("");
    if !csrf_matches(expected_csrf, pair(&pairs, "csrf").unwrap_or("")) {
        return render(&state, &ctx, &next, &username, Problem::Expired, &headers);
    }
    let peer = connect.map(|Extension(ConnectInfo(address))| address);
    let grant = match check(&state, &pairs, peer, &headers).await {
        Ok(grant) => grant,
        Err(problem) => return render(&state, &ctx, &next, &username, problem, &headers),
    };
    if let Some(old) = cookie_value(header_text(&headers, COOKIE), SESSION_COOKIE) {
        state.sessions.remove(old);
    }
    let session_id = state.sessions.create(&grant);
    match &grant.via {
        Credential::Token { id, .. } => {
            tracing::info!(role = grant.role.as_str(), token_id = %id, "web sign-in with a token");
        }
        Credential::Account { username, .. } => {
            tracing::info!(role = grant.role.as_str(), username = %username, "web sign-in with a password");
        }
    }
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
