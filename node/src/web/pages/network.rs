//! The network page: the centres whose records this node holds, their
//! countries and record counts.

use std::sync::Arc;

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, Uri};
use axum::response::Response;
use maud::html;

use super::{
    country_label, html_response, layout_with_alternates, server_error, url_encode, Ctx, Nav,
};
use crate::web::backend::WebBackend;
use crate::web::feeds::{self, Alternate};
use crate::web::WebState;

pub async fn page<B: WebBackend>(
    State(state): State<Arc<WebState<B>>>,
    headers: HeaderMap,
    uri: Uri,
) -> Response {
    let here = uri
        .path_and_query()
        .map(|pq| pq.as_str())
        .unwrap_or("/network");
    let ctx = Ctx::new(&state, &headers, here);
    let (mut centres, transfers) = match state.backend.network().await {
        Ok(view) => (view.centres, view.transfers),
        Err(error) => return server_error(&ctx, &error),
    };
    centres.sort_by(|a, b| b.is_self.cmp(&a.is_self).then(b.records.cmp(&a.records)));
    let total: u64 = centres.iter().map(|centre| centre.records).sum();
    let mut alternates = vec![Alternate::atom(
        state.backend.node_info().name,
        feeds::FEED_PATH,
    )];
    alternates.extend(centres.iter().map(|centre| {
        Alternate::atom(
            centre
                .name
                .clone()
                .unwrap_or_else(|| centre.origin.to_hex()),
            feeds::origin_feed(&centre.origin),
        )
    }));
    let mut countries: Vec<&str> = centres
        .iter()
        .filter_map(|centre| centre.country.as_ref().map(|c| c.as_str()))
        .collect();
    countries.sort_unstable();
    countries.dedup();
    let main = html! {
        h1 { (ctx.t("network.heading")) }
        p { (ctx.t("network.intro")) }
        p class="network-summary" {
            (ctx.tf("network.summary", &[
                ("centres", &centres.len().to_string()),
                ("countries", &countries.len().to_string()),
                ("records", &total.to_string()),
            ]))
        }
        @if centres.is_empty() {
            p class="empty-state" { (ctx.t("network.empty")) }
        } @else {
            div class="table-scroll" {
                table class="network-table" {
                    caption class="visually-hidden" { (ctx.t("network.heading")) }
                    thead {
                        tr {
                            th scope="col" { (ctx.t("network.centre")) }
                            th scope="col" { (ctx.t("facet.country")) }
                            th scope="col" class="num" { (ctx.t("network.records")) }
                            th scope="col" { (ctx.t("network.node_id")) }
                        }
                    }
                    tbody {
                        @for centre in &centres {
                            tr {
                                th scope="row" {
                                    (centre.name.as_deref().unwrap_or(ctx.t("network.unnamed")))
                                    @if centre.is_self { " " span class="badge" { (ctx.t("network.this_node")) } }
                                }
                                td { (centre.country.map(|c| country_label(&ctx, c.as_str())).unwrap_or_else(|| "–".into())) }
                                td class="num" {
                                    a href=(format!("/?origin={}", url_encode(&centre.origin.to_hex()))) { (centre.records) }
                                }
                                td { code class="node-id" title=(centre.origin.to_hex()) { (centre.origin.short()) "…" } }
                            }
                        }
                    }
                }
            }
        }
        section class="transfers" aria-labelledby="transfers-heading" {
            h2 id="transfers-heading" { (ctx.t("network.transfers")) }
            p class="help" { (ctx.t("network.transfers_help")) }
            @if transfers.is_empty() {
                p class="empty-state" { (ctx.t("network.transfers_none")) }
            } @else {
                table class="transfers-table" {
                    thead {
                        tr {
                            th scope="col" { (ctx.t("network.transfer_from")) }
                            th scope="col" { (ctx.t("network.transfer_to")) }
                            th scope="col" class="num" { (ctx.t("network.transfer_count")) }
                        }
                    }
                    tbody {
                        @for transfer in &transfers {
                            tr data-from=(transfer.from.as_str()) data-to=(transfer.to.as_str()) {
                                td { (country_label(&ctx, transfer.from.as_str())) }
                                td { (country_label(&ctx, transfer.to.as_str())) }
                                td class="num transfer-count" { (transfer.count) }
                            }
                        }
                    }
                }
            }
        }
    };
    html_response(
        StatusCode::OK,
        layout_with_alternates(
            &ctx,
            ctx.t("network.heading"),
            Nav::Network,
            &alternates,
            main,
        ),
    )
}
