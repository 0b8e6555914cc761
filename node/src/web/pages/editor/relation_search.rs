//! The record search inside the relations group of the record form: finds
//! records of the network (this node's and its peers') to relate to, and
//! lists each with its title, country and centre, and a button that adds it.
//!
//! Why inside the form: an editor who writes that a practice was adapted
//! from another centre's should pick that record, not copy its key from
//! another tab. Without JavaScript the search is a submit button of the
//! record form: the page re-renders with every typed value kept and the
//! results under the search box; each result's button (`pick:origin/id`)
//! sends the form again and adds the relation. It goes through
//! [`WebBackend::search`], the same search as the search page.

use maud::{html, Markup};
use seednet_protocol::{CountryCode, Kind, LanguageTag, RecordKey};

use super::super::{kind_label, Ctx};
use crate::web::backend::{SearchFailure, SearchRequest, WebBackend};
use crate::web::form::FormAction;
use crate::web::SEARCH_QUERY_CHARS_MAX;

/// Most records listed under the search box.
pub const RELATION_HITS_MAX: usize = 10;

/// A record found to relate to.
#[derive(Debug, Clone)]
pub struct Candidate {
    pub key: RecordKey,
    pub title: String,
    pub lang: LanguageTag,
    pub country: CountryCode,
    pub kind: Kind,
    /// The name of its centre, when this node knows it.
    pub centre: Option<String>,
}

/// What the search box shows after a search.
#[derive(Debug, Clone)]
pub enum Outcome {
    Found(Vec<Candidate>),
    /// No search was run, or it failed: the message says why.
    Refused(String),
}

/// The id of the button that adds the `index`th result.
pub fn pick_button_id(index: usize) -> String {
    format!("pick-{index}")
}

/// Searches for `query`, leaving out `exclude` (the record being edited).
pub async fn run<B: WebBackend>(
    backend: &B,
    ctx: &Ctx,
    query: &str,
    exclude: Option<&RecordKey>,
) -> Outcome {
    let query = query.trim();
    if query.is_empty() {
        return Outcome::Refused(ctx.t("editor.relation_query_empty").into());
    }
    let chars = query.chars().count();
    if chars > SEARCH_QUERY_CHARS_MAX {
        return Outcome::Refused(ctx.tf(
            "val.too_long",
            &[
                ("max", &SEARCH_QUERY_CHARS_MAX.to_string()),
                ("actual", &chars.to_string()),
            ],
        ));
    }
    let request = SearchRequest {
        q: query.to_string(),
        query_lang: None,
        filters: Vec::new(),
        offset: 0,
        limit: RELATION_HITS_MAX + 1,
        // The editor links records by their original titles.
        display_langs: Vec::new(),
    };
    let (results, centres) = tokio::join!(backend.search(request), backend.network());
    let results = match results {
        Ok(results) => results,
        Err(SearchFailure::Unavailable { reason }) => {
            tracing::warn!(%reason, "relation search: the search index is unavailable");
            return Outcome::Refused(ctx.t("editor.relation_unavailable").into());
        }
        Err(SearchFailure::Backend(error)) => {
            tracing::error!(error = %error, "relation search failed");
            return Outcome::Refused(ctx.t("error.server").into());
        }
    };
    // Centre names are a courtesy: without them the records are still listed.
    let centres = centres
        .map(|network| network.centres)
        .unwrap_or_else(|error| {
            tracing::warn!(error = %error, "relation search: centre names unavailable");
            Vec::new()
        });
    let centre_of = |key: &RecordKey| {
        centres
            .iter()
            .find(|centre| centre.origin == key.origin)
            .and_then(|centre| centre.name.clone())
    };
    Outcome::Found(
        results
            .hits
            .into_iter()
            .filter(|hit| Some(&hit.key) != exclude)
            .take(RELATION_HITS_MAX)
            .map(|hit| Candidate {
                centre: centre_of(&hit.key),
                key: hit.key,
                title: hit.title,
                lang: hit.lang,
                country: hit.country,
                kind: hit.kind,
            })
            .collect(),
    )
}

/// The results under the search box; `focus` is the id of the control
/// that takes the focus.
pub fn render(ctx: &Ctx, outcome: &Outcome, focus: Option<&str>) -> Markup {
    html! {
        div class="relation-results" role="status" {
            @match outcome {
                Outcome::Refused(message) => { p class="field-error" { (message) } }
                Outcome::Found(found) if found.is_empty() => {
                    p class="empty-state" { (ctx.t("editor.relation_none")) }
                }
                Outcome::Found(found) => {
                    p { (ctx.tf("editor.relation_found", &[("n", &found.len().to_string())])) }
                    ul class="relation-hits" {
                        @for (index, candidate) in found.iter().enumerate() {
                            @let button_id = pick_button_id(index);
                            li class="relation-hit" data-key=(candidate.key.to_string()) {
                                span class="relation-hit-text" {
                                    strong lang=(candidate.lang.as_str()) { (candidate.title) }
                                    " · " (kind_label(ctx, candidate.kind))
                                    " · " span class="badge badge-country" { (candidate.country.as_str()) }
                                    " · " (candidate.centre.as_deref().unwrap_or(ctx.t("record.origin_unknown")))
                                }
                                button type="submit" name="action" id=(button_id)
                                    value=(FormAction::PickRelation(candidate.key.clone()).value())
                                    class="button button-small" autofocus[focus == Some(button_id.as_str())] {
                                    (ctx.t("editor.relation_pick"))
                                    span class="visually-hidden" { ": " (candidate.title) }
                                }
                            }
                        }
                    }
                }
            }
        }
    }
}
