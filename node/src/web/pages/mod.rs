//! Page handlers and the shared layout.
//!
//! Every handler builds a [`Ctx`] first (interface language, session, CSRF
//! token for the sign-in form), so the layout can show the language switcher,
//! the signed-in role and the right navigation.

pub mod accounts;
pub mod admin;
mod admin_guard;
pub mod admin_peers;
pub mod audit;
pub mod editor;
pub mod network;
pub mod password;
pub mod record;
pub mod search;
pub mod signin;
pub mod tokens;

use axum::extract::{Path, Query};
use axum::http::header::{ACCEPT_LANGUAGE, COOKIE, LOCATION, SET_COOKIE};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use maud::{html, Markup, DOCTYPE};
use seednet_protocol::{Kind, LanguageTag, TargetGroup, Theme};
use serde::Deserialize;

use super::assets;
use super::backend::{BackendError, Role, WebBackend};
use super::i18n::UiLang;
pub use super::pairs::{pair, parse_pairs};
use super::session::{self, SessionView, LANG_COOKIE, SESSION_COOKIE};
use super::WebState;

/// How long the language choice is remembered.
pub const LANG_COOKIE_SECS_MAX: u64 = 365 * 24 * 3600;

/// What every page needs to know about the request.
pub struct Ctx {
    pub lang: UiLang,
    pub session: Option<SessionView>,
    /// The path and query of this page, for "back" links.
    pub here: String,
}

impl Ctx {
    /// The context of a request no page handled (an unknown address, an
    /// error from the node's layers): its language, no session.
    pub fn anonymous(headers: &HeaderMap, here: &str) -> Ctx {
        let cookies = header_text(headers, COOKIE);
        let lang = session::cookie_value(cookies, LANG_COOKIE)
            .and_then(UiLang::from_code)
            .or_else(|| UiLang::negotiate(header_text(headers, ACCEPT_LANGUAGE)))
            .unwrap_or(UiLang::En);
        Ctx {
            lang,
            session: None,
            here: here.to_string(),
        }
    }

    pub fn new<B: WebBackend>(state: &WebState<B>, headers: &HeaderMap, here: &str) -> Ctx {
        let cookies = header_text(headers, COOKIE);
        let lang = session::cookie_value(cookies, LANG_COOKIE)
            .and_then(UiLang::from_code)
            .or_else(|| UiLang::negotiate(header_text(headers, ACCEPT_LANGUAGE)))
            .unwrap_or(UiLang::En);
        let session = session::cookie_value(cookies, SESSION_COOKIE)
            .and_then(|session_id| state.sessions.get(session_id));
        Ctx {
            lang,
            session,
            here: here.to_string(),
        }
    }

    pub fn t(&self, key: &str) -> &'static str {
        self.lang.t(key)
    }

    pub fn tf(&self, key: &str, args: &[(&str, &str)]) -> String {
        self.lang.tf(key, args)
    }

    pub fn role(&self) -> Option<Role> {
        self.session.as_ref().map(|session| session.role)
    }

    /// The display name of a person signed in with an account.
    pub fn account_name(&self) -> Option<&str> {
        match &self.session.as_ref()?.credential {
            super::backend::Credential::Account { display_name, .. } => Some(display_name),
            super::backend::Credential::Token { .. } => None,
        }
    }

    pub fn csrf(&self) -> &str {
        self.session
            .as_ref()
            .map(|session| session.csrf.as_str())
            .unwrap_or("")
    }
}

pub fn header_text(headers: &HeaderMap, name: axum::http::HeaderName) -> &str {
    headers
        .get(name)
        .and_then(|value| value.to_str().ok())
        .unwrap_or("")
}

/// Which navigation entry is the current page.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Nav {
    Search,
    Network,
    Editor,
    Admin,
    SignIn,
    None,
}

/// The page frame: landmarks, skip link, navigation, language switcher.
pub fn layout(ctx: &Ctx, title: &str, nav: Nav, main: Markup) -> Markup {
    layout_with_alternates(ctx, title, nav, &[], main)
}

/// [`layout`], advertising `alternates` (feeds, linked data) in the head.
pub fn layout_with_alternates(
    ctx: &Ctx,
    title: &str,
    nav: Nav,
    alternates: &[crate::web::feeds::Alternate],
    main: Markup,
) -> Markup {
    let nav_link = |href: &str, key: &str, entry: Nav| {
        html! {
            li {
                @if nav == entry {
                    a href=(href) aria-current="page" { (ctx.t(key)) }
                } @else {
                    a href=(href) { (ctx.t(key)) }
                }
            }
        }
    };
    html! {
        (DOCTYPE)
        html lang=(ctx.lang.code()) {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                title { (title) " · seednet" }
                link rel="stylesheet" href=(assets::url("site.css"));
                link rel="icon" href=(assets::url("icon.svg")) type="image/svg+xml";
                script src=(assets::url("site.js")) defer {}
                @for alternate in alternates {
                    link rel="alternate" type=(alternate.media_type) title=(alternate.title) href=(alternate.href);
                }
            }
            body {
                a class="skip-link" href="#main" { (ctx.t("skip")) }
                header class="site-header" {
                    div class="wrap header-row" {
                        a class="brand" href="/" {
                            img src=(assets::url("icon.svg")) alt="" width="28" height="28";
                            span { "seednet" }
                        }
                        nav aria-label=(ctx.t("nav.label")) {
                            ul class="nav-list" {
                                (nav_link("/", "nav.search", Nav::Search))
                                (nav_link("/network", "nav.network", Nav::Network))
                                @match ctx.role() {
                                    Some(role) => {
                                        (nav_link("/editor", "nav.editor", Nav::Editor))
                                        @if role.can_administer() {
                                            (nav_link("/admin", "nav.admin", Nav::Admin))
                                        }
                                    }
                                    None => {
                                        (nav_link("/signin", "nav.signin", Nav::SignIn))
                                    }
                                }
                            }
                        }
                        @if let Some(role) = ctx.role() {
                            form class="signout" method="post" action="/signout" {
                                input type="hidden" name="csrf" value=(ctx.csrf());
                                @if let Some(name) = ctx.account_name() {
                                    a class="account-link" href="/account/password" title=(ctx.t("password.heading")) { (name) }
                                }
                                span class="role-badge" { (ctx.t(role_key(role))) }
                                button type="submit" class="link-button" { (ctx.t("nav.signout")) }
                            }
                        }
                    }
                }
                main id="main" class="wrap" tabindex="-1" {
                    (main)
                }
                footer class="site-footer" {
                    div class="wrap footer-row" {
                        nav aria-label=(ctx.t("ui.language")) class="lang-switch" {
                            span id="ui-lang-label" { (ctx.t("ui.language")) ": " }
                            ul aria-labelledby="ui-lang-label" {
                                @for lang in UiLang::ALL {
                                    li {
                                        @if lang == ctx.lang {
                                            span aria-current="true" lang=(lang.code()) { (lang.endonym()) }
                                        } @else {
                                            a href=(format!("/lang/{}?back={}", lang.code(), url_encode(&ctx.here)))
                                              lang=(lang.code()) hreflang=(lang.code()) { (lang.endonym()) }
                                        }
                                    }
                                }
                            }
                        }
                        p class="footer-note" { (ctx.t("footer.note")) }
                    }
                }
            }
        }
    }
}

pub fn role_key(role: Role) -> &'static str {
    match role {
        Role::Editor => "role.editor",
        Role::Admin => "role.admin",
    }
}

/// Percent-encodes a query parameter value.
pub fn url_encode(text: &str) -> String {
    url::form_urlencoded::byte_serialize(text.as_bytes()).collect()
}

/// A local path to go back to: must start with one `/` (never `//host`).
pub fn safe_back(path: Option<&str>) -> String {
    match path {
        Some(path)
            if path.starts_with('/')
                && !path.starts_with("//")
                && !path.contains('\\')
                && !path.chars().any(char::is_control) =>
        {
            path.to_string()
        }
        _ => "/".to_string(),
    }
}

/// A 303 redirect (after a POST, or to the sign-in page).
pub fn see_other(location: &str) -> Response {
    let mut response = StatusCode::SEE_OTHER.into_response();
    if let Ok(value) = HeaderValue::from_str(location) {
        response.headers_mut().insert(LOCATION, value);
    }
    response
}

pub fn with_cookie(mut response: Response, cookie: &str) -> Response {
    if let Ok(value) = HeaderValue::from_str(cookie) {
        response.headers_mut().append(SET_COOKIE, value);
    }
    response
}

/// An HTML page with a status.
pub fn html_response(status: StatusCode, markup: Markup) -> Response {
    let mut response = (status, markup).into_response();
    response.headers_mut().insert(
        axum::http::header::CACHE_CONTROL,
        HeaderValue::from_static("no-store"),
    );
    response
}

/// A page with a heading and one message (errors, "not found").
pub fn message_page(ctx: &Ctx, status: StatusCode, title_key: &str, message: &str) -> Response {
    let title = ctx.t(title_key);
    html_response(
        status,
        layout(
            ctx,
            title,
            Nav::None,
            html! {
                h1 { (title) }
                p class="notice notice-error" role="alert" { (message) }
                p { a href="/" { (ctx.t("error.back_to_search")) } }
            },
        ),
    )
}

/// The page for a failure of the node itself; details go to the log only.
pub fn server_error(ctx: &Ctx, error: &BackendError) -> Response {
    tracing::error!(error = %error, "web page failed");
    message_page(
        ctx,
        StatusCode::INTERNAL_SERVER_ERROR,
        "error.server_title",
        ctx.t("error.server"),
    )
}

/// A notice shown after a redirect; only known keys, so nothing is reflected.
pub fn notice(ctx: &Ctx, pairs: &[(String, String)]) -> Markup {
    let key = match pair(pairs, "notice") {
        Some("published") => Some("notice.published"),
        Some("updated") => Some("notice.updated"),
        Some("deleted") => Some("notice.deleted"),
        Some("signed_out") => Some("notice.signed_out"),
        Some("done") => Some("notice.done"),
        Some("link_requested") => Some("admin.add_requested"),
        _ => None,
    };
    html! {
        @if let Some(key) = key {
            p class="notice notice-ok" role="status" { (ctx.t(key)) }
        }
    }
}

/// Interface name of a kind, theme, target group or first-class language.
pub fn kind_label(ctx: &Ctx, kind: Kind) -> &'static str {
    ctx.t(&format!("kind.{}", kind.as_str()))
}

pub fn theme_label(ctx: &Ctx, theme: Theme) -> &'static str {
    ctx.t(&format!("theme.{}", theme.as_str()))
}

pub fn target_group_label(ctx: &Ctx, group: TargetGroup) -> &'static str {
    ctx.t(&format!("tg.{}", group.as_str()))
}

/// The language's name in the interface language, or the tag itself.
/// A country's name in the interface language (its code when the
/// catalogue has no name for it).
pub fn country_label(ctx: &Ctx, code: &str) -> String {
    ctx.lang
        .try_t(&format!("country.{code}"))
        .map(str::to_string)
        .unwrap_or_else(|| code.to_string())
}

pub fn lang_label(ctx: &Ctx, lang: &LanguageTag) -> String {
    ctx.lang
        .try_t(&format!("lang.{}", lang.as_str()))
        .map(str::to_string)
        .unwrap_or_else(|| lang.as_str().to_string())
}

#[derive(Deserialize)]
pub struct BackQuery {
    back: Option<String>,
}

/// `/lang/{code}?back=/path`: remembers the interface language in a cookie.
pub async fn switch_language(Path(code): Path<String>, Query(query): Query<BackQuery>) -> Response {
    let back = safe_back(query.back.as_deref());
    match UiLang::from_code(&code) {
        Some(lang) => with_cookie(
            see_other(&back),
            &session::set_cookie(LANG_COOKIE, lang.code(), Some(LANG_COOKIE_SECS_MAX), false),
        ),
        None => see_other(&back),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn back_links_stay_on_this_node() {
        assert_eq!(safe_back(Some("/network?x=1")), "/network?x=1");
        assert_eq!(safe_back(Some("//evil.example/")), "/");
        assert_eq!(safe_back(Some("https://evil.example/")), "/");
        assert_eq!(safe_back(Some("/\\evil")), "/");
        assert_eq!(safe_back(None), "/");
    }
}
