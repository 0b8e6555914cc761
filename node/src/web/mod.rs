//! The web interface: server-rendered HTML pages for practitioners (search,
//! record pages, the network), editors (publish, edit, delete) and admins
//! (peer links, origin blocklist, node identity, accounts for people, API
//! tokens).
//!
//! Why server-rendered: the people who use seednet work in public offices with
//! locked-down browsers and slow links, and operators must not need a
//! front-end build step. Every page works without JavaScript; `site.js` only
//! adds small conveniences. Templates are `maud` macros, compiled and
//! type-checked with the node, so all text is HTML-escaped unless a page
//! explicitly marks it otherwise: only the JSON-LD block of
//! `crate::schema_org` (escaped for `<script>`) and record text rendered from
//! Markdown by [`markdown`] (raw HTML refused, then sanitised by an
//! allow-list) are inserted as HTML.
//!
//! Invariants:
//! - The module talks to the node only through [`backend::WebBackend`]; it
//!   knows nothing of sled, tantivy or federation internals.
//! - Every response carries the security headers of [`security`]; the CSP
//!   forbids inline script and framing.
//! - Every state-changing form is a POST carrying a CSRF token, and the
//!   session cookie is `HttpOnly`, `SameSite=Strict` (and `Secure` on https).
//! - Interface text comes from the catalogues in `i18n/*.toml` (it, el, ro,
//!   sl, en); record text is shown as written, and a translation is always
//!   labelled with its provenance, never substituted silently.

pub mod accounts_backend;
pub mod assets;
pub mod atom;
pub mod backend;
pub mod feeds;
mod form;
pub mod i18n;
pub mod markdown;
pub mod negotiate;
pub mod node_backend;
pub mod oai;
pub mod oai_pmh;
mod pages;
mod pairs;
pub mod search_adapter;
pub mod security;
pub mod session;
pub mod sitemap;
#[cfg(test)]
mod tests;

use std::sync::Arc;

use axum::extract::{Request, State};
use axum::middleware::Next;
use axum::response::Response;

use axum::extract::DefaultBodyLimit;
use axum::routing::{get, post};
use axum::Router;

pub use backend::WebBackend;
pub use node_backend::NodeBackend;

/// Room in a form body for what is not record text: input names, the CSRF
/// token, the buttons, the relation search box.
pub const WEB_FORM_OVERHEAD_BYTES: usize = 64 * 1024;
/// Largest form body the web interface accepts: the record form with a
/// record at the protocol's size limit (`RECORD_CANONICAL_BYTES_MAX`) in
/// any script. Percent-encoding turns each byte of text outside ASCII
/// letters and digits into three (Greek is two bytes a letter in UTF-8 and
/// in canonical JSON, six in a form; a line break two in JSON, six as the
/// CRLF a browser sends), so three times the record limit, plus the form's
/// own inputs. The node's body limit (`http.body_bytes_max`, 1 MiB by
/// default) is above it.
pub const WEB_FORM_BYTES_MAX: usize =
    3 * seednet_protocol::limits::RECORD_CANONICAL_BYTES_MAX + WEB_FORM_OVERHEAD_BYTES;
/// Records per search results page.
pub const SEARCH_PAGE_SIZE: usize = 20;
/// Deepest search results page that can be requested (bounds the offset).
pub const SEARCH_PAGES_MAX: usize = 50;
/// Longest query accepted from the search box, in characters.
pub const SEARCH_QUERY_CHARS_MAX: usize = 500;
/// Most own records listed on the editor page.
pub const EDITOR_RECORDS_LISTED_MAX: usize = 200;
/// Longest token accepted by the sign-in form, in characters.
pub const TOKEN_CHARS_MAX: usize = 256;

/// How the web interface is served.
#[derive(Debug, Clone, Default)]
pub struct WebConfig {
    /// Mark cookies `Secure`: set when the node's public URL is https.
    pub secure_cookies: bool,
}

impl WebConfig {
    /// Cookies are `Secure` exactly when the public URL is https.
    pub fn for_public_url(public_url: &str) -> Self {
        WebConfig {
            secure_cookies: public_url
                .trim()
                .to_ascii_lowercase()
                .starts_with("https://"),
        }
    }
}

/// Shared state of the web handlers.
pub(crate) struct WebState<B> {
    pub backend: Arc<B>,
    pub sessions: session::Sessions,
    pub config: WebConfig,
}

/// The web interface's routes over `backend`, with security headers on every
/// response. `crate::app` merges this into the node's router once, at start;
/// no path here overlaps `/api`, `/federation`, `/healthz`, `/readyz` or
/// `/metrics`.
pub fn router<B: WebBackend>(backend: Arc<B>, config: WebConfig) -> Router {
    let state = Arc::new(WebState {
        backend,
        sessions: session::Sessions::default(),
        config,
    });
    let session_check =
        axum::middleware::from_fn_with_state(Arc::clone(&state), end_revoked_sessions::<B>);
    Router::new()
        .route("/", get(pages::search::page::<B>))
        .route("/records/{origin}/{id}", get(pages::record::page::<B>))
        .route("/network", get(pages::network::page::<B>))
        .route(feeds::FEED_PATH, get(feeds::change_feed::<B>))
        .route(
            oai::OAI_PATH,
            get(oai::get_oai::<B>).post(oai::post_oai::<B>),
        )
        .route(oai::SCHEMA_ORG_FORMAT_SCHEMA_PATH, get(oai::schema_org_xsd))
        .route("/sitemap.xml", get(sitemap::sitemap::<B>))
        .route("/sitemaps/{name}", get(sitemap::sitemap_file::<B>))
        .route("/robots.txt", get(sitemap::robots::<B>))
        .route("/lang/{code}", get(pages::switch_language))
        .route(
            "/signin",
            get(pages::signin::form::<B>).post(pages::signin::submit::<B>),
        )
        .route("/signout", post(pages::signin::sign_out::<B>))
        .route("/editor", get(pages::editor::list::<B>))
        .route(
            "/editor/new",
            get(pages::editor::new_form::<B>).post(pages::editor::new_submit::<B>),
        )
        .route(
            "/editor/records/{id}/edit",
            get(pages::editor::edit_form::<B>).post(pages::editor::edit_submit::<B>),
        )
        .route(
            "/editor/records/{id}/delete",
            post(pages::editor::delete_submit::<B>),
        )
        .route("/admin", get(pages::admin::page::<B>))
        .route(
            "/admin/peers/add",
            post(pages::admin_peers::add_submit::<B>),
        )
        .route(
            "/admin/peers/add/confirm",
            post(pages::admin_peers::add_confirm::<B>),
        )
        .route(
            "/admin/peers/pending/dismiss",
            post(pages::admin::dismiss_all_pending::<B>),
        )
        .route(
            "/admin/peers/{node_id}/purge",
            get(pages::admin_peers::purge_form::<B>).post(pages::admin::peer_action_purge::<B>),
        )
        .route(
            "/admin/peers/{node_id}/{action}",
            post(pages::admin::peer_action::<B>),
        )
        .route("/admin/blocklist", post(pages::admin::block::<B>))
        .route(
            "/admin/blocklist/{node_id}/remove",
            post(pages::admin::unblock::<B>),
        )
        .route(
            "/account/password",
            get(pages::password::form::<B>).post(pages::password::submit::<B>),
        )
        .route(
            "/admin/accounts",
            get(pages::accounts::page::<B>).post(pages::accounts::create::<B>),
        )
        .route(
            "/admin/accounts/{username}/{action}",
            post(pages::accounts::action::<B>),
        )
        .route(
            "/admin/tokens",
            get(pages::tokens::page::<B>).post(pages::tokens::create::<B>),
        )
        .route(
            "/admin/tokens/{id}/revoke",
            post(pages::tokens::revoke::<B>),
        )
        .route("/assets/{version}/{name}", get(assets::serve))
        .layer(session_check)
        .layer(DefaultBodyLimit::max(WEB_FORM_BYTES_MAX))
        .layer(axum::middleware::map_response(security::add_headers))
        .with_state(state)
}

/// The prefixes of the node's machine interfaces: their errors are always
/// JSON, whoever asks.
pub const MACHINE_PATH_PREFIXES: [&str; 5] =
    ["/api/", "/federation/", "/healthz", "/readyz", "/metrics"];

/// Whether a request is a browser's for a page: not to a machine interface,
/// and accepting HTML.
pub fn wants_page(path: &str, headers: &axum::http::HeaderMap) -> bool {
    let accepts_html = headers
        .get(axum::http::header::ACCEPT)
        .and_then(|value| value.to_str().ok())
        .is_some_and(|accept| accept.contains("text/html"));
    accepts_html
        && !MACHINE_PATH_PREFIXES
            .iter()
            .any(|prefix| path.starts_with(prefix))
}

/// The HTML error page for `status`, in the reader's language, with the
/// security headers every page carries (404 for an unknown address, 403,
/// 500, and a general one for the node's other refusals: 405, 408, 413).
pub fn error_page(
    status: axum::http::StatusCode,
    headers: &axum::http::HeaderMap,
    path: &str,
) -> Response {
    use axum::http::StatusCode;
    let ctx = pages::Ctx::anonymous(headers, path);
    let (title, message) = match status {
        StatusCode::NOT_FOUND => ("error.not_found_title", "error.not_found"),
        StatusCode::FORBIDDEN | StatusCode::UNAUTHORIZED => {
            ("error.forbidden_title", "error.forbidden")
        }
        status if status.is_server_error() => ("error.server_title", "error.server"),
        _ => ("error.request_title", "error.request"),
    };
    security::with_headers(pages::message_page(&ctx, status, title, ctx.t(message)))
}

/// Ends the request's session before any page sees it if what it was started
/// with no longer grants its role: revoking a token signs out every browser
/// that signed in with it, and disabling or deleting an account or changing
/// its password signs out its browsers (the one that changed the password
/// moved to the new epoch first).
async fn end_revoked_sessions<B: WebBackend>(
    State(state): State<Arc<WebState<B>>>,
    request: Request,
    next: Next,
) -> Response {
    let session_id = request
        .headers()
        .get(axum::http::header::COOKIE)
        .and_then(|value| value.to_str().ok())
        .and_then(|cookies| session::cookie_value(cookies, session::SESSION_COOKIE))
        .map(str::to_string);
    if let Some(session_id) = session_id {
        if let Some(session) = state.sessions.get(&session_id) {
            if state.backend.session_role(&session.credential).await != Some(session.role) {
                match &session.credential {
                    backend::Credential::Token { id, .. } => {
                        tracing::info!(token_id = %id, "web session ended: its token is revoked");
                    }
                    backend::Credential::Account { username, .. } => {
                        tracing::info!(username = %username, "web session ended: the account was disabled, deleted or its password changed");
                    }
                }
                state.sessions.remove(&session_id);
            }
        }
    }
    next.run(request).await
}
