//! Admin pages that change links with other centres in more than one click:
//! asking a new centre for a link (its identity is fetched and shown before
//! anything is sent), revoking a link with the removal of the peer's records
//! (a confirmation page says what will be removed), and a repair pass now.
//! The same operations as `seednet peer add`, `peer revoke --purge` and
//! `peer repair`, through the same `Federation` methods.

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use maud::{html, Markup};
use seednet_protocol::NodeId;

use super::admin_guard::{check_form, require_admin};
use super::{
    country_label, html_response, lang_label, layout, message_page, pair, see_other, Ctx, Nav,
};
use crate::web::backend::{AdminError, PeerIdentity, WebBackend};
use crate::web::session::SessionView;
use crate::web::WebState;

/// Longest peer address accepted from the form, in characters.
pub const PEER_URL_CHARS_MAX: usize = 512;

fn page(ctx: &Ctx, status: StatusCode, main: Markup) -> Response {
    html_response(
        status,
        layout(ctx, ctx.t("admin.heading"), Nav::Admin, main),
    )
}

fn refused(ctx: &Ctx, error: &AdminError) -> Response {
    let reason = match error {
        AdminError::NotAvailable => ctx.t("admin.no_federation").to_string(),
        AdminError::UnknownPeer => ctx.t("admin.unknown_peer").to_string(),
        AdminError::Refused(reason) => reason.clone(),
        AdminError::Backend(error) => {
            tracing::error!(%error, "admin action failed");
            ctx.t("error.server").to_string()
        }
    };
    page(
        ctx,
        StatusCode::BAD_REQUEST,
        html! {
            h1 { (ctx.t("admin.add_heading")) }
            p class="notice notice-error" role="alert" {
                (ctx.tf("admin.add_failed", &[("reason", &reason)]))
            }
            p { a href="/admin" { (ctx.t("admin.back")) } }
        },
    )
}

/// The form on the admin page that starts a link with a new centre.
pub fn add_form(ctx: &Ctx, session: &SessionView) -> Markup {
    html! {
        section aria-labelledby="add-heading" class="card" {
            h2 id="add-heading" { (ctx.t("admin.add_heading")) }
            p class="help" { (ctx.t("admin.add_help")) }
            form method="post" action="/admin/peers/add" class="stack" {
                input type="hidden" name="csrf" value=(session.csrf);
                div class="field" {
                    label for="peer-url" { (ctx.t("admin.add_url")) }
                    input type="url" id="peer-url" name="url" required maxlength=(PEER_URL_CHARS_MAX) spellcheck="false";
                }
                button type="submit" class="button button-primary" id="fetch-identity" { (ctx.t("admin.add_fetch")) }
            }
        }
    }
}

fn identity_list(ctx: &Ctx, identity: &PeerIdentity) -> Markup {
    html! {
        dl class="peer-identity" {
            dt { (ctx.t("admin.name")) } dd class="identity-name" { (identity.name) }
            dt { (ctx.t("facet.country")) } dd { (country_label(ctx, identity.country.as_str())) }
            dt { (ctx.t("admin.url")) } dd { (identity.url) }
            dt { (ctx.t("admin.languages")) }
            dd {
                (identity.languages.iter().map(|lang| lang_label(ctx, lang)).collect::<Vec<_>>().join(", "))
            }
            dt { (ctx.t("admin.software")) } dd { (identity.software) }
            dt { (ctx.t("admin.node_id")) }
            dd { code class="node-id" id="peer-node-id" { (identity.node_id.to_hex()) } }
        }
    }
}

/// `POST /admin/peers/add`: fetches the identity at the URL and shows it.
pub async fn add_submit<B: WebBackend>(
    State(state): State<Arc<WebState<B>>>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let ctx = Ctx::new(&state, &headers, "/admin");
    let pairs = match check_form(&ctx, &body) {
        Ok(pairs) => pairs,
        Err(response) => return *response,
    };
    let Some(session) = ctx.session.clone() else {
        return see_other("/signin?required=1");
    };
    let url: String = pair(&pairs, "url")
        .unwrap_or("")
        .trim()
        .chars()
        .take(PEER_URL_CHARS_MAX)
        .collect();
    let identity = match state.backend.peer_identity(url.clone()).await {
        Ok(identity) => identity,
        Err(error) => return refused(&ctx, &error),
    };
    page(
        &ctx,
        StatusCode::OK,
        html! {
            h1 { (ctx.t("admin.add_check_heading")) }
            p class="help" { (ctx.t("admin.add_check_help")) }
            (identity_list(&ctx, &identity))
            form method="post" action="/admin/peers/add/confirm" class="stack" {
                input type="hidden" name="csrf" value=(session.csrf);
                input type="hidden" name="url" value=(url);
                input type="hidden" name="node_id" value=(identity.node_id.to_hex());
                button type="submit" class="button button-primary" id="send-link-request" { (ctx.t("admin.add_send")) }
            }
            p { a href="/admin" { (ctx.t("admin.back")) } }
        },
    )
}

/// `POST /admin/peers/add/confirm`: sends the link request to the identity
/// the admin checked.
pub async fn add_confirm<B: WebBackend>(
    State(state): State<Arc<WebState<B>>>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let ctx = Ctx::new(&state, &headers, "/admin");
    let pairs = match check_form(&ctx, &body) {
        Ok(pairs) => pairs,
        Err(response) => return *response,
    };
    let url: String = pair(&pairs, "url")
        .unwrap_or("")
        .chars()
        .take(PEER_URL_CHARS_MAX)
        .collect();
    let Some(expected) = pair(&pairs, "node_id").and_then(|text| text.parse::<NodeId>().ok())
    else {
        return see_other("/admin?error=bad_node_id");
    };
    match state.backend.add_peer(url, expected).await {
        Ok(()) => see_other("/admin?notice=link_requested"),
        Err(error) => refused(&ctx, &error),
    }
}

/// `GET /admin/peers/{node_id}/purge`: what revoking with a purge removes,
/// and the confirmation.
pub async fn purge_form<B: WebBackend>(
    State(state): State<Arc<WebState<B>>>,
    Path(node_id): Path<String>,
    headers: HeaderMap,
) -> Response {
    let ctx = Ctx::new(&state, &headers, "/admin");
    let session = match require_admin(&ctx) {
        Ok(session) => session.clone(),
        Err(response) => return *response,
    };
    let Ok(node_id) = node_id.parse::<NodeId>() else {
        return see_other("/admin?error=bad_node_id");
    };
    let preview = match state.backend.purge_preview(node_id).await {
        Ok(preview) => preview,
        Err(error) => return refused(&ctx, &error),
    };
    let records = preview.records.to_string();
    page(
        &ctx,
        StatusCode::OK,
        html! {
            h1 { (ctx.t("admin.purge_heading")) }
            p class="notice notice-warning purge-explain" {
                (ctx.tf("admin.purge_explain", &[("peer", &preview.peer.name), ("records", &records)]))
            }
            form method="post" action=(format!("/admin/peers/{node_id}/purge")) class="stack" {
                input type="hidden" name="csrf" value=(session.csrf);
                div class="field field-check" {
                    input type="checkbox" id="purge-confirm" name="confirm" value="yes";
                    label for="purge-confirm" { (ctx.t("admin.purge_confirm")) }
                }
                button type="submit" class="button button-danger" id="purge-submit" { (ctx.t("admin.purge_submit")) }
            }
            p { a href="/admin" { (ctx.t("admin.back")) } }
        },
    )
}

/// `POST /admin/peers/{node_id}/purge`: revokes and removes, if confirmed.
pub async fn purge_submit<B: WebBackend>(
    state: &WebState<B>,
    ctx: &Ctx,
    node_id: NodeId,
    pairs: &[(String, String)],
) -> Response {
    if pair(pairs, "confirm") != Some("yes") {
        return message_page(
            ctx,
            StatusCode::BAD_REQUEST,
            "admin.purge_heading",
            ctx.t("admin.purge_unconfirmed"),
        );
    }
    let name = match state.backend.purge_preview(node_id).await {
        Ok(preview) => preview.peer.name,
        Err(error) => return refused(ctx, &error),
    };
    match state.backend.purge_peer(node_id).await {
        Ok(summary) => page(
            ctx,
            StatusCode::OK,
            html! {
                h1 { (ctx.t("admin.purge_heading")) }
                p class="notice notice-ok purge-done" role="status" {
                    (ctx.tf("admin.purge_done", &[("peer", &name), ("records", &summary.records.to_string())]))
                }
                @if let Some(reason) = &summary.index_pending {
                    p class="notice" { (ctx.tf("admin.purge_index_pending", &[("reason", reason)])) }
                }
                p { a href="/admin" { (ctx.t("admin.back")) } }
            },
        ),
        Err(error) => refused(ctx, &error),
    }
}

/// `POST /admin/peers/{node_id}/repair`: one repair pass now.
pub async fn repair_submit<B: WebBackend>(
    state: &WebState<B>,
    ctx: &Ctx,
    node_id: NodeId,
) -> Response {
    let name = state
        .backend
        .purge_preview(node_id)
        .await
        .map(|preview| preview.peer.name)
        .unwrap_or_else(|_| node_id.short());
    match state.backend.repair_peer(node_id).await {
        Ok(report) => {
            let text = match &report.error {
                None => ctx.tf(
                    "admin.repair_done",
                    &[("peer", &name), ("applied", &report.applied.to_string())],
                ),
                Some(reason) => ctx.tf("admin.repair_failed", &[("reason", reason)]),
            };
            page(
                ctx,
                StatusCode::OK,
                html! {
                    h1 { (ctx.t("admin.repair")) }
                    p class="notice notice-ok repair-done" role="status" { (text) }
                    p { a href="/admin" { (ctx.t("admin.back")) } }
                },
            )
        }
        Err(error) => refused(ctx, &error),
    }
}
