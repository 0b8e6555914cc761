//! Admin pages: the node's identity (to read out to peer admins), pending
//! link requests with the requesting node's identity to check before
//! approving, peers with their health, and the origin blocklist.
//!
//! Until federation runs on this node the page says so plainly and shows only
//! the identity; it never shows invented peers.

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode, Uri};
use axum::response::Response;
use maud::{html, Markup};
use seednet_protocol::NodeId;

use super::admin_guard::{check_form, require_admin};
use super::{
    html_response, layout, message_page, notice, pair, parse_pairs, see_other, server_error, Ctx,
    Nav,
};
use crate::federation::admission::{PENDING_LINK_REQUESTS_MAX, PENDING_LINK_REQUEST_TTL_SECS};
use crate::web::backend::{
    AdminAction, AdminError, FederationView, PeerState, PeerView, WebBackend,
};
use crate::web::session::SessionView;
use crate::web::WebState;

/// Longest blocklist reason accepted, in characters.
pub const BLOCK_REASON_CHARS_MAX: usize = 200;

pub async fn page<B: WebBackend>(
    State(state): State<Arc<WebState<B>>>,
    headers: HeaderMap,
    uri: Uri,
) -> Response {
    let ctx = Ctx::new(&state, &headers, "/admin");
    let session = match require_admin(&ctx) {
        Ok(session) => session.clone(),
        Err(response) => return *response,
    };
    let federation = match state.backend.federation().await {
        Ok(view) => view,
        Err(error) => return server_error(&ctx, &error),
    };
    let info = state.backend.node_info();
    let pairs = parse_pairs(uri.query().unwrap_or(""));
    let error = pair(&pairs, "error").and_then(|code| match code {
        "unknown_peer" => Some(ctx.t("admin.unknown_peer")),
        "bad_node_id" => Some(ctx.t("admin.bad_node_id")),
        "refused" => Some(ctx.t("admin.refused")),
        "not_available" => Some(ctx.t("admin.no_federation")),
        _ => None,
    });
    let main = html! {
        (notice(&ctx, &pairs))
        @if let Some(error) = error { p class="notice notice-error" role="alert" { (error) } }
        h1 { (ctx.t("admin.heading")) }
        (super::accounts::admin_links(&ctx))
        section aria-labelledby="identity-heading" class="card" {
            h2 id="identity-heading" { (ctx.t("admin.identity")) }
            dl {
                dt { (ctx.t("admin.name")) } dd { (info.name) }
                dt { (ctx.t("facet.country")) } dd { (info.country.as_str()) }
                dt { (ctx.t("admin.url")) } dd { (info.base_url) }
                dt { (ctx.t("admin.node_id")) }
                dd { code class="node-id" id="own-node-id" { (info.node_id.to_hex()) } }
                dt { (ctx.t("admin.key_fingerprint")) }
                dd { code class="key-fingerprint" { (fingerprint(&info.node_id)) } }
                dt { (ctx.t("admin.key_retired")) }
                dd {
                    @if info.retired_node_ids.is_empty() {
                        (ctx.t("admin.key_retired_none"))
                    } @else {
                        ul {
                            @for id in &info.retired_node_ids {
                                li { code class="node-id" { (id.to_hex()) } }
                            }
                        }
                    }
                }
            }
            p class="help" { (ctx.t("admin.identity_help")) }
        }
        @match &federation {
            FederationView::NotAvailable => {
                section aria-labelledby="federation-heading" class="card" {
                    h2 id="federation-heading" { (ctx.t("admin.peers")) }
                    p class="notice" role="status" id="no-federation" { (ctx.t("admin.no_federation")) }
                }
            }
            FederationView::Available { peers, blocked } => {
                (super::admin_peers::add_form(&ctx, &session))
                (pending_section(&ctx, &session, peers))
                (peers_section(&ctx, &session, peers))
                section aria-labelledby="blocklist-heading" class="card" {
                    h2 id="blocklist-heading" { (ctx.t("admin.blocklist")) }
                    p class="help" { (ctx.t("admin.blocklist_help")) }
                    @if blocked.is_empty() {
                        p { (ctx.t("admin.blocklist_none")) }
                    } @else {
                        ul class="blocklist" {
                            @for entry in blocked {
                                li {
                                    code class="node-id" { (entry.origin.to_hex()) }
                                    @if let Some(reason) = &entry.reason { " – " (reason) }
                                    form method="post" action=(format!("/admin/blocklist/{}/remove", entry.origin)) class="inline-form" {
                                        input type="hidden" name="csrf" value=(session.csrf);
                                        button type="submit" class="button" { (ctx.t("admin.unblock")) }
                                    }
                                }
                            }
                        }
                    }
                    form method="post" action="/admin/blocklist" class="stack" {
                        input type="hidden" name="csrf" value=(session.csrf);
                        div class="field" {
                            label for="block-origin" { (ctx.t("admin.block_origin")) }
                            input type="text" id="block-origin" name="origin" required maxlength="64" pattern="[0-9a-f]{64}" spellcheck="false";
                        }
                        div class="field" {
                            label for="block-reason" { (ctx.t("admin.reason")) }
                            input type="text" id="block-reason" name="reason" maxlength=(BLOCK_REASON_CHARS_MAX);
                        }
                        button type="submit" class="button button-danger" { (ctx.t("admin.block")) }
                    }
                }
            }
        }
    };
    html_response(
        StatusCode::OK,
        layout(&ctx, ctx.t("admin.heading"), Nav::Admin, main),
    )
}

fn state_key(state: PeerState) -> &'static str {
    match state {
        PeerState::Requested => "admin.state_requested",
        PeerState::Pending => "admin.state_pending",
        PeerState::Active => "admin.state_active",
        PeerState::Revoked => "admin.state_revoked",
    }
}

fn action_form(
    ctx: &Ctx,
    session: &SessionView,
    peer: &PeerView,
    action: &str,
    label_key: &str,
    class: &str,
) -> Markup {
    html! {
        form method="post" action=(format!("/admin/peers/{}/{action}", peer.node_id)) class="inline-form" {
            input type="hidden" name="csrf" value=(session.csrf);
            button type="submit" class=(class) data-peer=(peer.node_id.to_hex()) data-action=(action) {
                (ctx.t(label_key)) span class="visually-hidden" { ": " (peer.name) }
            }
        }
    }
}

fn pending_section(ctx: &Ctx, session: &SessionView, peers: &[PeerView]) -> Markup {
    let pending: Vec<&PeerView> = peers
        .iter()
        .filter(|p| p.state == PeerState::Pending)
        .collect();
    html! {
        section aria-labelledby="pending-heading" class="card" {
            h2 id="pending-heading" { (ctx.t("admin.pending")) }
            @if pending.is_empty() {
                p { (ctx.t("admin.pending_none")) }
            } @else {
                p class="help" { (ctx.t("admin.pending_help")) }
                p class="help" {
                    (ctx.tf("admin.pending_expiry", &[
                        ("days", &(PENDING_LINK_REQUEST_TTL_SECS / 86_400).to_string()),
                        ("max", &PENDING_LINK_REQUESTS_MAX.to_string()),
                    ]))
                }
                @if pending.len() > 1 {
                    form method="post" action="/admin/peers/pending/dismiss" class="inline-form dismiss-all" {
                        input type="hidden" name="csrf" value=(session.csrf);
                        button type="submit" class="button button-danger" data-action="dismiss-all" {
                            (ctx.tf("admin.dismiss_all", &[("count", &pending.len().to_string())]))
                        }
                    }
                }
                ul class="pending-list" {
                    @for peer in pending {
                        li class="pending-peer" {
                            dl {
                                dt { (ctx.t("admin.name")) } dd { (peer.name) }
                                dt { (ctx.t("facet.country")) } dd { (peer.country.as_str()) }
                                dt { (ctx.t("admin.url")) } dd { (peer.url) }
                                dt { (ctx.t("admin.node_id")) } dd { code class="node-id" { (peer.node_id.to_hex()) } }
                                @if let Some(asked) = peer.requested_at {
                                    dt { (ctx.t("admin.requested_at")) } dd { (asked.to_string()) }
                                }
                            }
                            (action_form(ctx, session, peer, "approve", "admin.approve", "button button-primary"))
                            (action_form(ctx, session, peer, "dismiss", "admin.dismiss", "button"))
                        }
                    }
                }
            }
        }
    }
}

fn peers_section(ctx: &Ctx, session: &SessionView, peers: &[PeerView]) -> Markup {
    let linked: Vec<&PeerView> = peers
        .iter()
        .filter(|p| p.state != PeerState::Pending)
        .collect();
    html! {
        section aria-labelledby="peers-heading" class="card" {
            h2 id="peers-heading" { (ctx.t("admin.peers")) }
            @if linked.is_empty() {
                p { (ctx.t("admin.peers_none")) }
            } @else {
                div class="table-scroll" {
                    table class="peers-table" {
                        thead {
                            tr {
                                th scope="col" { (ctx.t("admin.name")) }
                                th scope="col" { (ctx.t("admin.state")) }
                                th scope="col" { (ctx.t("admin.last_sync")) }
                                th scope="col" class="num" { (ctx.t("admin.received")) }
                                th scope="col" class="num" { (ctx.t("admin.lag")) }
                                th scope="col" { (ctx.t("admin.last_error")) }
                                th scope="col" { span class="visually-hidden" { (ctx.t("editor.actions")) } }
                            }
                        }
                        tbody {
                            @for peer in linked {
                                tr data-peer=(peer.node_id.to_hex()) {
                                    th scope="row" {
                                        (peer.name) " (" (peer.country.as_str()) ")" br;
                                        code class="node-id" title=(peer.node_id.to_hex()) { (peer.node_id.short()) "…" }
                                    }
                                    td class=(format!("peer-state state-{}", peer.state.slug())) { (ctx.t(state_key(peer.state))) }
                                    td {
                                        (peer.last_sync.map(|t| t.to_string()).unwrap_or_else(|| ctx.t("admin.never").to_string()))
                                        @if let Some(repair) = &peer.last_repair {
                                            br;
                                            span class="last-repair" {
                                                (ctx.t("admin.last_repair")) " "
                                                (repair.finished_at.map(|t| t.to_string()).unwrap_or_else(|| "–".into()))
                                                ": " (repair.applied) " " (ctx.t("admin.repair_applied"))
                                                @if let Some(error) = &repair.error { " (" (error) ")" }
                                            }
                                        }
                                    }
                                    td class="num" { (peer.records_received) }
                                    td class="num" { (peer.lag.map(|l| l.to_string()).unwrap_or_else(|| "–".into())) }
                                    td {
                                        (peer.last_error.as_deref().unwrap_or("–"))
                                        @if peer.equivocations > 0 {
                                            br;
                                            strong class="equivocations" {
                                                (peer.equivocations) " " (ctx.t("admin.equivocations"))
                                            }
                                        }
                                    }
                                    td {
                                        @if let Some(new_key) = peer.pending_rotation {
                                            p class="pending-rotation" {
                                                (ctx.t("admin.rotation_pending")) " "
                                                code class="node-id" { (new_key.to_hex()) }
                                            }
                                            (action_form(ctx, session, peer, "approve-rotation", "admin.approve_rotation", "button button-primary"))
                                        }
                                        @match peer.state {
                                            PeerState::Revoked => { (action_form(ctx, session, peer, "approve", "admin.approve", "button")) }
                                            _ => { (action_form(ctx, session, peer, "revoke", "admin.revoke", "button button-danger")) }
                                        }
                                        @if peer.state == PeerState::Active {
                                            (action_form(ctx, session, peer, "repair", "admin.repair", "button"))
                                        }
                                        a class="button button-danger purge-link" data-peer=(peer.node_id.to_hex())
                                          href=(format!("/admin/peers/{}/purge", peer.node_id)) {
                                            (ctx.t("admin.purge")) span class="visually-hidden" { ": " (peer.name) }
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
}

/// A node id in groups of four hex digits, easier to read out and compare.
fn fingerprint(node_id: &NodeId) -> String {
    node_id
        .to_hex()
        .as_bytes()
        .chunks(4)
        .map(|group| std::str::from_utf8(group).unwrap_or(""))
        .collect::<Vec<_>>()
        .join(" ")
}

/// Runs an admin action and redirects back to the admin page with the outcome.
async fn run<B: WebBackend>(state: &WebState<B>, action: AdminAction) -> Response {
    match state.backend.admin_action(action).await {
        Ok(()) => see_other("/admin?notice=done"),
        Err(AdminError::NotAvailable) => see_other("/admin?error=not_available"),
        Err(AdminError::UnknownPeer) => see_other("/admin?error=unknown_peer"),
        Err(AdminError::Refused(reason)) => {
            tracing::info!(reason = %reason, "admin action refused");
            see_other("/admin?error=refused")
        }
        Err(AdminError::Backend(error)) => {
            tracing::error!(error = %error, "admin action failed");
            see_other("/admin?error=refused")
        }
    }
}

pub async fn peer_action<B: WebBackend>(
    State(state): State<Arc<WebState<B>>>,
    Path((node_id, action)): Path<(String, String)>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    named_peer_action(&state, &node_id, &action, &headers, &body).await
}

/// `POST /admin/peers/{node_id}/purge` (its own route: the same path has a
/// GET confirmation page).
pub async fn peer_action_purge<B: WebBackend>(
    State(state): State<Arc<WebState<B>>>,
    Path(node_id): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    named_peer_action(&state, &node_id, "purge", &headers, &body).await
}

async fn named_peer_action<B: WebBackend>(
    state: &Arc<WebState<B>>,
    node_id: &str,
    action: &str,
    headers: &HeaderMap,
    body: &Bytes,
) -> Response {
    let ctx = Ctx::new(state, headers, "/admin");
    let pairs = match check_form(&ctx, body) {
        Ok(pairs) => pairs,
        Err(response) => return *response,
    };
    let Ok(node_id) = node_id.parse::<NodeId>() else {
        return see_other("/admin?error=bad_node_id");
    };
    let action = match action {
        "repair" => return super::admin_peers::repair_submit(state, &ctx, node_id).await,
        "purge" => return super::admin_peers::purge_submit(state, &ctx, node_id, &pairs).await,
        "approve" => AdminAction::ApprovePeer(node_id),
        "revoke" => AdminAction::RevokePeer(node_id),
        "approve-rotation" => AdminAction::ApproveRotation(node_id),
        "dismiss" => AdminAction::DismissRequest(node_id),
        _ => {
            return message_page(
                &ctx,
                StatusCode::NOT_FOUND,
                "error.not_found_title",
                ctx.t("error.not_found"),
            )
        }
    };
    run(state, action).await
}

/// `POST /admin/peers/pending/dismiss`: every link request still waiting.
pub async fn dismiss_all_pending<B: WebBackend>(
    State(state): State<Arc<WebState<B>>>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let ctx = Ctx::new(&state, &headers, "/admin");
    if let Err(response) = check_form(&ctx, &body) {
        return *response;
    }
    run(&state, AdminAction::DismissAllRequests).await
}

pub async fn block<B: WebBackend>(
    State(state): State<Arc<WebState<B>>>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let ctx = Ctx::new(&state, &headers, "/admin");
    let pairs = match check_form(&ctx, &body) {
        Ok(pairs) => pairs,
        Err(response) => return *response,
    };
    let Some(origin) = pair(&pairs, "origin").and_then(|text| text.trim().parse::<NodeId>().ok())
    else {
        return see_other("/admin?error=bad_node_id");
    };
    let reason = pair(&pairs, "reason")
        .map(|text| {
            text.trim()
                .chars()
                .take(BLOCK_REASON_CHARS_MAX)
                .collect::<String>()
        })
        .filter(|text| !text.is_empty());
    run(&state, AdminAction::BlockOrigin { origin, reason }).await
}

pub async fn unblock<B: WebBackend>(
    State(state): State<Arc<WebState<B>>>,
    Path(node_id): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let ctx = Ctx::new(&state, &headers, "/admin");
    if let Err(response) = check_form(&ctx, &body) {
        return *response;
    }
    let Ok(origin) = node_id.parse::<NodeId>() else {
        return see_other("/admin?error=bad_node_id");
    };
    run(&state, AdminAction::UnblockOrigin(origin)).await
}
