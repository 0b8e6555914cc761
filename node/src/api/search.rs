//! `GET /api/v1/search`: the search crate's cross-language search over the
//! node's one index (see `crate::search_index`), as JSON.
//!
//! Why a handler of its own: the query string is checked here, name by name,
//! before the engine sees it, so every refusal is a 400 naming the parameter
//! (an unknown parameter names itself). The search (waiting for the indexer
//! to catch up, then tantivy) runs in `spawn_blocking`, never on the async
//! runtime. When the index cannot be opened the endpoint answers 503 and says
//! why, rather than silently returning nothing.

use std::time::Instant;

use axum::extract::{RawQuery, State};
use axum::http::StatusCode;
use axum::Json;
use seednet_search as engine;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::http::error::ApiError;
use crate::search_index::NodeSearchIndex;
use crate::semantic_tier::SemanticState;

/// Parameters `GET /api/v1/search` accepts.
pub const SEARCH_PARAMS: [&str; 13] = [
    "q",
    "query_lang",
    "lang",
    "country",
    "theme",
    "kind",
    "target_group",
    "year_from",
    "year_to",
    "origin",
    "offset",
    "limit",
    "display_lang",
];
/// Most query-string bytes accepted (the query itself is bounded by
/// `seednet_search::QUERY_CHARS_MAX` characters; this bounds the whole line).
pub const SEARCH_QUERY_STRING_BYTES_MAX: usize = 8 * 1024;
/// Most parameters in one query string.
pub const SEARCH_PARAMS_COUNT_MAX: usize = 64;

/// One item of a hit's `matched_via` list, as JSON: `text`, `translation`
/// (with `lang`), `concept` (with the glossary `concept` id) or
/// `narrower_concept` (the record's `concept`, a kind of the query's
/// `broader` one) or `meaning` (the semantic tier: close in meaning).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct MatchedViaItem {
    /// `text`, `translation` or `concept`.
    pub via: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lang: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub concept: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub broader: Option<String>,
}

/// One search hit.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct SearchHit {
    /// Origin node id (64 hex digits).
    pub origin: String,
    pub id: String,
    pub version: u64,
    pub title: String,
    /// HTML-escaped text with `<mark>` around the matched words, in the hit's language.
    pub snippet: String,
    /// The same snippet as plain text pieces, for clients that render it
    /// themselves (a terminal): concatenated, the pieces are the text.
    #[serde(default)]
    pub snippet_parts: Vec<SnippetSpan>,
    pub lang: String,
    pub country: String,
    pub kind: String,
    pub themes: Vec<String>,
    pub score: f32,
    pub matched_via: Vec<MatchedViaItem>,
    /// The record in a language the request asked for with `display_lang`,
    /// when it has a translation into it (the original stays in `title`
    /// and `snippet`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub display: Option<SearchHitDisplay>,
}

/// A hit's title and snippet in a translation (`display_lang`).
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct SearchHitDisplay {
    /// The translation's language.
    pub lang: String,
    pub title: String,
    /// HTML-escaped, `<mark>` around the matched words.
    pub snippet: String,
    pub snippet_parts: Vec<SnippetSpan>,
    /// `human` or `machine`.
    pub provenance: String,
    /// Whether a person reviewed the translation.
    pub reviewed: bool,
}

fn spans(snippet: &engine::Snippet) -> Vec<SnippetSpan> {
    snippet
        .parts()
        .into_iter()
        .map(|part| SnippetSpan {
            text: part.text.to_string(),
            marked: part.marked,
        })
        .collect()
}

/// A piece of a snippet: plain text, `marked` when it matched the query.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct SnippetSpan {
    pub text: String,
    pub marked: bool,
}

/// A facet value and how many matching records have it.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct FacetCount {
    pub value: String,
    pub count: u64,
}

/// Counts over all records matching the query and filters.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct SearchFacets {
    pub country: Vec<FacetCount>,
    pub lang: Vec<FacetCount>,
    pub kind: Vec<FacetCount>,
    pub theme: Vec<FacetCount>,
    pub target_group: Vec<FacetCount>,
    pub year: Vec<FacetCount>,
    pub origin: Vec<FacetCount>,
}

/// What the node understood of the query.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct SearchQueryInfo {
    /// The query's language (given as `query_lang`, else detected); absent
    /// when it could not be told.
    pub lang: Option<String>,
    /// Whether `lang` was detected rather than given.
    pub lang_detected: bool,
    /// Glossary concepts the query was mapped to (their ids).
    pub concepts: Vec<String>,
    /// Whether the semantic tier (meaning, across wordings and languages)
    /// was fused into this answer.
    pub semantic: bool,
    /// Why it was not, when it was not (no model installed, still starting).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub semantic_unavailable: Option<String>,
}

/// The answer to `GET /api/v1/search`.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct SearchResults {
    /// Matching records over all pages.
    pub total: u64,
    /// Time spent on the search in the node, in milliseconds.
    pub took_ms: u64,
    pub hits: Vec<SearchHit>,
    pub facets: SearchFacets,
    /// What the node understood of the query.
    pub query: SearchQueryInfo,
}

impl From<engine::SearchResponse> for SearchResults {
    fn from(response: engine::SearchResponse) -> Self {
        let counts = |values: Vec<engine::FacetCount>| {
            values
                .into_iter()
                .map(|c| FacetCount {
                    value: c.value,
                    count: c.count,
                })
                .collect()
        };
        let facets = response.facets;
        let query = SearchQueryInfo {
            lang: response.query.lang,
            lang_detected: response.query.lang_detected,
            concepts: response.query.concepts,
            semantic: response.query.semantic,
            semantic_unavailable: None,
        };
        SearchResults {
            query,
            total: response.total,
            took_ms: response.took_ms,
            hits: response
                .hits
                .into_iter()
                .map(|hit| SearchHit {
                    origin: hit.origin,
                    id: hit.id,
                    version: hit.version,
                    title: hit.title,
                    snippet: hit.snippet.to_html(),
                    snippet_parts: spans(&hit.snippet),
                    display: hit.display.map(|display| SearchHitDisplay {
                        snippet: display.snippet.to_html(),
                        snippet_parts: spans(&display.snippet),
                        lang: display.lang,
                        title: display.title,
                        provenance: display.provenance,
                        reviewed: display.reviewed,
                    }),
                    lang: hit.lang,
                    country: hit.country,
                    kind: hit.kind,
                    themes: hit.themes,
                    score: hit.score,
                    matched_via: hit.matched_via.into_iter().map(matched_via).collect(),
                })
                .collect(),
            facets: SearchFacets {
                country: counts(facets.country),
                lang: counts(facets.lang),
                kind: counts(facets.kind),
                theme: counts(facets.theme),
                target_group: counts(facets.target_group),
                year: counts(facets.year),
                origin: counts(facets.origin),
            },
        }
    }
}

fn matched_via(via: engine::MatchedVia) -> MatchedViaItem {
    match via {
        engine::MatchedVia::Text => MatchedViaItem {
            via: "text".into(),
            lang: None,
            concept: None,
            broader: None,
        },
        engine::MatchedVia::Translation { lang } => MatchedViaItem {
            via: "translation".into(),
            lang: Some(lang),
            concept: None,
            broader: None,
        },
        engine::MatchedVia::Concept { concept } => MatchedViaItem {
            via: "concept".into(),
            lang: None,
            concept: Some(concept),
            broader: None,
        },
        engine::MatchedVia::Meaning => MatchedViaItem {
            via: "meaning".into(),
            lang: None,
            concept: None,
            broader: None,
        },
        engine::MatchedVia::NarrowerConcept { concept, broader } => MatchedViaItem {
            via: "narrower_concept".into(),
            lang: None,
            concept: Some(concept),
            broader: Some(broader),
        },
    }
}

/// Parses and checks the query string; every error names its parameter.
pub fn parse_search_query(raw: &str) -> Result<engine::SearchRequest, ApiError> {
    if raw.len() > SEARCH_QUERY_STRING_BYTES_MAX {
        return Err(ApiError::bad_request(
            "query_too_long",
            "query",
            format!("the query string is over {SEARCH_QUERY_STRING_BYTES_MAX} bytes"),
        ));
    }
    let params = crate::http::query::parse_strict(raw).map_err(|invalid| {
        ApiError::bad_request(
            "invalid_utf8",
            &invalid.name,
            format!(
                "parameter {:?} is not UTF-8 once percent-decoded",
                invalid.name
            ),
        )
    })?;
    if params.len() > SEARCH_PARAMS_COUNT_MAX {
        return Err(ApiError::bad_request(
            "too_many_parameters",
            "query",
            format!("at most {SEARCH_PARAMS_COUNT_MAX} parameters allowed"),
        ));
    }
    for (name, _) in &params {
        if !SEARCH_PARAMS.contains(&name.as_str()) {
            let shown: String = name.chars().take(40).collect();
            return Err(ApiError::bad_request(
                "unknown_parameter",
                &shown,
                format!(
                    "unknown parameter {shown:?}; known: {}",
                    SEARCH_PARAMS.join(", ")
                ),
            ));
        }
    }
    engine::SearchRequest::from_params(params.iter().map(|(n, v)| (n.as_str(), v.as_str())))
        .map_err(search_error)
}

fn search_error(error: engine::SearchError) -> ApiError {
    match error {
        engine::SearchError::InvalidParameter { field, message } => {
            let code = if field == "q" {
                "invalid_query"
            } else {
                "invalid_parameter"
            };
            ApiError::bad_request(code, field, message)
        }
        other => ApiError::internal(format!("search failed: {other}")),
    }
}

/// Searches the records this node holds, across languages.
#[utoipa::path(get, path = "/api/v1/search", tag = "search",
    params(
        ("q" = Option<String>, Query, description = "the words, in any supported language (at most 500 characters); empty browses by year"),
        ("query_lang" = Option<String>, Query, description = "language of q (it, el, ro, sl, en, ...); detected when absent"),
        ("lang" = Option<String>, Query, description = "record language filter; repeat or separate values by commas"),
        ("country" = Option<String>, Query, description = "ISO 3166-1 alpha-2 country filter, e.g. IT"),
        ("theme" = Option<String>, Query, description = "competence-area filter, e.g. co-design"),
        ("kind" = Option<String>, Query, description = "record kind filter, e.g. practice"),
        ("target_group" = Option<String>, Query, description = "target-group filter"),
        ("year_from" = Option<i64>, Query, description = "first year (inclusive)"),
        ("year_to" = Option<i64>, Query, description = "last year (inclusive); not before year_from"),
        ("origin" = Option<String>, Query, description = "origin node id filter (64 hex digits)"),
        ("offset" = Option<usize>, Query, description = "hits to skip (at most 1000)"),
        ("limit" = Option<usize>, Query, description = "hits per page (1 to 50, default 10)"),
        ("display_lang" = Option<String>, Query, description = "languages the reader prefers, best first (comma-separated, at most 4): a hit with a translation into one of them carries it in `display`"),
    ),
    responses(
        (status = 200, description = "hits with snippets and how each matched, plus facet counts", body = SearchResults),
        (status = 400, description = "unknown parameter or bad value; field names the parameter", body = crate::http::error::ErrorBody),
        (status = 503, description = "the search index cannot be opened on this node", body = crate::http::error::ErrorBody),
    ))]
pub async fn search(
    State(index): State<NodeSearchIndex>,
    RawQuery(raw): RawQuery,
) -> Result<Json<SearchResults>, ApiError> {
    let request = parse_search_query(raw.as_deref().unwrap_or(""))?;
    let started = Instant::now();
    let answer = index
        .search(request)
        .await
        .map_err(|unavailable| {
            ApiError::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "search_unavailable",
                unavailable.to_string(),
            )
        })?
        .map_err(search_error)?;
    tracing::debug!(
        total = answer.response.total,
        hits = answer.response.hits.len(),
        elapsed_ms = started.elapsed().as_millis() as u64,
        semantic = answer.response.query.semantic,
        "search answered"
    );
    let mut results = SearchResults::from(answer.response);
    if !results.query.semantic {
        results.query.semantic_unavailable = Some(match answer.semantic {
            SemanticState::Off { reason } => reason,
            SemanticState::Starting => "the semantic tier is starting".into(),
            SemanticState::Ready => "the query has no words to embed".into(),
        });
    }
    Ok(Json(results))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn field_of(raw: &str) -> String {
        let error = parse_search_query(raw).expect_err("refused");
        assert_eq!(error.status, StatusCode::BAD_REQUEST);
        error.info.field.expect("names a parameter")
    }

    #[test]
    fn bad_parameters_are_named() {
        assert_eq!(field_of("q=x&colour=red"), "colour");
        assert_eq!(field_of("country=XX"), "country");
        assert_eq!(field_of("theme=nothing-like-this"), "theme");
        assert_eq!(field_of("kind=poem"), "kind");
        assert_eq!(field_of("lang=not%20a%20tag"), "lang");
        assert_eq!(field_of("limit=0"), "limit");
        assert_eq!(field_of("limit=51"), "limit");
        assert_eq!(field_of("offset=1001"), "offset");
        assert_eq!(field_of("year_from=2024&year_to=2020"), "year_to");
        assert_eq!(field_of(&format!("q={}", "a".repeat(501))), "q");
    }

    #[test]
    fn good_parameters_reach_the_engine_request() {
        let request =
            parse_search_query("q=co-design&country=IT,GR&theme=co-design&limit=5&offset=5")
                .expect("valid");
        assert_eq!(request.q, "co-design");
        assert_eq!(request.filters.country.len(), 2);
        assert_eq!(request.limit, 5);
        assert_eq!(request.offset, 5);
        assert!(parse_search_query("").is_ok());
    }
}
