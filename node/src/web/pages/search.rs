//! The search page: one query box, the query language, facets with counts
//! that filter on click and can be removed, hits with highlighted snippets and
//! a visible mark when a hit matched through another language.

use std::sync::Arc;

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, Uri};
use axum::response::Response;
use maud::{html, Markup};
use seednet_protocol::{Kind, LanguageTag, TargetGroup, Theme};

use super::{
    html_response, kind_label, lang_label, layout_with_alternates, message_page, notice, pair,
    parse_pairs, server_error, target_group_label, theme_label, url_encode, Ctx, Nav,
};
use crate::web::backend::{
    FacetCounts, FacetField, MatchExplanation, SearchFailure, SearchHit, SearchRequest,
    SearchResults, WebBackend,
};
use crate::web::feeds::{self, Alternate};
use crate::web::i18n::UiLang;
use crate::web::{WebState, SEARCH_PAGES_MAX, SEARCH_PAGE_SIZE, SEARCH_QUERY_CHARS_MAX};

/// Longest facet filter value accepted from a URL.
pub const FILTER_VALUE_CHARS_MAX: usize = 80;

/// The search request a URL asks for, and the page number (1-based). Hits
/// are shown in `reader` (the interface language) when a record has a
/// translation into it, else in the query's language if given.
fn request_from_query(query: &str, reader: &LanguageTag) -> (SearchRequest, usize) {
    let pairs = parse_pairs(query);
    let q: String = pair(&pairs, "q")
        .unwrap_or("")
        .trim()
        .chars()
        .take(SEARCH_QUERY_CHARS_MAX)
        .collect();
    let query_lang = pair(&pairs, "ql").and_then(LanguageTag::parse);
    let filters = FacetField::ALL
        .into_iter()
        .filter_map(|field| {
            let value = pair(&pairs, field.param())?.trim();
            let usable = !value.is_empty() && value.chars().count() <= FILTER_VALUE_CHARS_MAX;
            usable.then(|| (field, value.to_string()))
        })
        .collect();
    let page = pair(&pairs, "page")
        .and_then(|page| page.parse::<usize>().ok())
        .unwrap_or(1)
        .clamp(1, SEARCH_PAGES_MAX);
    let mut display_langs = vec![reader.clone()];
    display_langs.extend(query_lang.clone().filter(|lang| lang != reader));
    let request = SearchRequest {
        q,
        query_lang,
        filters,
        offset: (page - 1) * SEARCH_PAGE_SIZE,
        limit: SEARCH_PAGE_SIZE,
        display_langs,
    };
    (request, page)
}

/// The URL of a search with the same query and filters, changed by `edit`.
fn search_url(
    request: &SearchRequest,
    page: usize,
    edit: impl Fn(&mut Vec<(FacetField, String)>),
) -> String {
    let mut filters = request.filters.clone();
    edit(&mut filters);
    let mut params: Vec<(String, String)> = Vec::new();
    if !request.q.is_empty() {
        params.push(("q".into(), request.q.clone()));
    }
    if let Some(lang) = &request.query_lang {
        params.push(("ql".into(), lang.to_string()));
    }
    for (field, value) in &filters {
        params.push((field.param().into(), value.clone()));
    }
    if page > 1 {
        params.push(("page".into(), page.to_string()));
    }
    if params.is_empty() {
        return "/".into();
    }
    let query: Vec<String> = params
        .iter()
        .map(|(key, value)| format!("{key}={}", url_encode(value)))
        .collect();
    format!("/?{}", query.join("&"))
}

pub async fn page<B: WebBackend>(
    State(state): State<Arc<WebState<B>>>,
    headers: HeaderMap,
    uri: Uri,
) -> Response {
    let here = uri.path_and_query().map(|pq| pq.as_str()).unwrap_or("/");
    let ctx = Ctx::new(&state, &headers, here);
    let query = uri.query().unwrap_or("");
    if let Err(invalid) = crate::http::query::parse_strict(query) {
        tracing::info!(parameter = %invalid.name, "web search refused: a parameter is not UTF-8");
        return message_page(
            &ctx,
            StatusCode::BAD_REQUEST,
            "error.request_title",
            &ctx.tf("search.invalid_utf8", &[("name", &invalid.name)]),
        );
    }
    let reader = LanguageTag::parse(ctx.lang.code()).expect("interface languages are tags");
    let (request, page) = request_from_query(query, &reader);
    let pairs = parse_pairs(query);
    if pair(&pairs, "format") == Some("atom") {
        let page_path = |page: usize| search_url(&request, page, |_| {});
        return feeds::search_feed(&state, request.clone(), page, SEARCH_PAGES_MAX, page_path)
            .await;
    }
    let results = match state.backend.search(request.clone()).await {
        Ok(results) => results,
        Err(SearchFailure::Unavailable { reason }) => {
            tracing::warn!(%reason, "web search refused: the index is unavailable");
            return message_page(
                &ctx,
                StatusCode::SERVICE_UNAVAILABLE,
                "error.search_unavailable_title",
                ctx.t("error.search_unavailable"),
            );
        }
        Err(SearchFailure::Backend(error)) => return server_error(&ctx, &error),
    };
    let title = if request.q.is_empty() {
        ctx.t("search.title").to_string()
    } else {
        format!("{} – {}", request.q, ctx.t("search.title"))
    };
    let has_facets = results.facets.iter().any(|facet| !facet.values.is_empty());
    let main = html! {
        (notice(&ctx, &pairs))
        h1 class="page-title" { (ctx.t("search.heading")) }
        (search_form(&ctx, &request))
        div class=(if has_facets { "search-layout" } else { "search-layout no-facets" }) {
            (facets(&ctx, &request, &results))
            section class="results" aria-labelledby="results-heading" {
                h2 id="results-heading" class="results-count" role="status" {
                    (count_text(&ctx, results.total))
                }
                (active_filters(&ctx, &request))
                @if results.hits.is_empty() {
                    (empty_state(&ctx, &request))
                } @else {
                    ol class="hits" start=(request.offset + 1) {
                        @for hit in &results.hits {
                            (hit_item(&ctx, &request, hit))
                        }
                    }
                    (pager(&ctx, &request, page, results.total))
                }
            }
        }
    };
    let mut alternates = vec![Alternate::atom(
        title.clone(),
        feeds::with_format_atom(&search_url(&request, 1, |_| {})),
    )];
    if request.q.is_empty() && request.filters.is_empty() {
        alternates.push(Alternate::atom(
            state.backend.node_info().name,
            feeds::FEED_PATH,
        ));
    }
    html_response(
        StatusCode::OK,
        layout_with_alternates(&ctx, &title, Nav::Search, &alternates, main),
    )
}

fn count_text(ctx: &Ctx, total: u64) -> String {
    if total == 1 {
        ctx.t("search.count_one").to_string()
    } else {
        ctx.tf("search.count", &[("n", &total.to_string())])
    }
}

fn search_form(ctx: &Ctx, request: &SearchRequest) -> Markup {
    let selected_lang = request.query_lang.as_ref().map(LanguageTag::as_str);
    html! {
        form class="search-form" role="search" method="get" action="/" {
            div class="field field-query" {
                label for="q" { (ctx.t("search.label")) }
                input type="search" id="q" name="q" value=(request.q)
                    maxlength=(SEARCH_QUERY_CHARS_MAX) autocomplete="off"
                    aria-describedby="q-help";
                p id="q-help" class="help" { (ctx.t("search.help")) }
            }
            div class="field field-ql" {
                label for="ql" { (ctx.t("search.query_lang")) }
                select id="ql" name="ql" {
                    option value="" selected[selected_lang.is_none()] { (ctx.t("search.query_lang_auto")) }
                    @for lang in UiLang::ALL {
                        option value=(lang.code()) selected[selected_lang == Some(lang.code())] lang=(lang.code()) {
                            (lang.endonym())
                        }
                    }
                }
            }
            @for (field, value) in &request.filters {
                input type="hidden" name=(field.param()) value=(value);
            }
            div class="field field-submit" {
                button type="submit" class="button button-primary" { (ctx.t("search.submit")) }
            }
        }
    }
}

fn facet_title_key(field: FacetField) -> &'static str {
    match field {
        FacetField::Country => "facet.country",
        FacetField::Lang => "facet.lang",
        FacetField::Kind => "facet.kind",
        FacetField::Theme => "facet.theme",
        FacetField::TargetGroup => "facet.target_group",
        FacetField::Year => "facet.year",
        FacetField::Origin => "facet.origin",
    }
}

/// How a facet value is shown: vocabulary labels in the interface language.
fn facet_value_label(ctx: &Ctx, field: FacetField, value: &str, label: Option<&str>) -> String {
    if let Some(label) = label {
        return label.to_string();
    }
    match field {
        FacetField::Kind => value
            .parse::<Kind>()
            .map(|kind| kind_label(ctx, kind).to_string())
            .unwrap_or_else(|_| value.to_string()),
        FacetField::Theme => value
            .parse::<Theme>()
            .map(|theme| theme_label(ctx, theme).to_string())
            .unwrap_or_else(|_| value.to_string()),
        FacetField::TargetGroup => value
            .parse::<TargetGroup>()
            .map(|group| target_group_label(ctx, group).to_string())
            .unwrap_or_else(|_| value.to_string()),
        FacetField::Country => super::country_label(ctx, value),
        FacetField::Lang => LanguageTag::parse(value)
            .map(|lang| lang_label(ctx, &lang))
            .unwrap_or_else(|| value.to_string()),
        // node ids are 64 hex digits; a value from the URL may be anything,
        // so cut by characters, never by bytes
        FacetField::Origin if value.chars().count() > 12 => {
            format!("{}…", value.chars().take(8).collect::<String>())
        }
        _ => value.to_string(),
    }
}

fn facets(ctx: &Ctx, request: &SearchRequest, results: &SearchResults) -> Markup {
    let shown: Vec<&FacetCounts> = results
        .facets
        .iter()
        .filter(|facet| !facet.values.is_empty())
        .collect();
    html! {
        @if !shown.is_empty() {
            nav class="facets" aria-label=(ctx.t("search.filters")) {
                h2 class="visually-hidden" { (ctx.t("search.filters")) }
                @for facet in shown {
                    section class="facet" {
                        h3 id=(format!("facet-{}", facet.field.param())) { (ctx.t(facet_title_key(facet.field))) }
                        ul aria-labelledby=(format!("facet-{}", facet.field.param())) {
                            @for value in &facet.values {
                                @let label = facet_value_label(ctx, facet.field, &value.value, value.label.as_deref());
                                @let selected = request.filter(facet.field) == Some(value.value.as_str());
                                li {
                                    @if selected {
                                        a class="facet-value selected" aria-current="true"
                                          href=(search_url(request, 1, |filters| filters.retain(|(f, _)| *f != facet.field)))
                                          title=(ctx.t("search.remove_filter")) {
                                            span class="facet-label" { (label) }
                                            span class="count" { (value.count) }
                                        }
                                    } @else {
                                        a class="facet-value" data-facet=(facet.field.param()) data-value=(value.value)
                                          href=(search_url(request, 1, |filters| {
                                              filters.retain(|(f, _)| *f != facet.field);
                                              filters.push((facet.field, value.value.clone()));
                                          })) {
                                            span class="facet-label" { (label) }
                                            span class="count" { (value.count) }
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

fn active_filters(ctx: &Ctx, request: &SearchRequest) -> Markup {
    html! {
        @if !request.filters.is_empty() {
            div class="active-filters" {
                span class="active-filters-label" { (ctx.t("search.active_filters")) }
                ul {
                    @for (field, value) in &request.filters {
                        @let label = format!("{}: {}", ctx.t(facet_title_key(*field)), facet_value_label(ctx, *field, value, None));
                        li {
                            a class="chip" data-remove-filter=(field.param())
                              href=(search_url(request, 1, |filters| filters.retain(|(f, _)| f != field)))
                              aria-label=(ctx.tf("search.remove_named_filter", &[("filter", &label)])) {
                                (label) span aria-hidden="true" { " ×" }
                            }
                        }
                    }
                    li {
                        a class="chip chip-clear" href=(search_url(request, 1, |filters| filters.clear())) {
                            (ctx.t("search.clear_filters"))
                        }
                    }
                }
            }
        }
    }
}

/// A concept's name in the interface language, else in English, else its id.
fn concept_label<'a>(ctx: &Ctx, concept: &'a str, labels: &'a [(String, String)]) -> &'a str {
    let label_in = |code: &str| {
        labels
            .iter()
            .find(|(lang, _)| lang == code)
            .map(|(_, term)| term.as_str())
    };
    label_in(ctx.lang.code())
        .or_else(|| label_in("en"))
        .unwrap_or(concept)
}

fn hit_item(ctx: &Ctx, request: &SearchRequest, hit: &SearchHit) -> Markup {
    let href = format!("/records/{}/{}", hit.key.origin, hit.key.id);
    // A hit that matched in its own words needs no cross-language mark.
    let matched_own_text = hit.matched_via.contains(&MatchExplanation::Text);
    let cross_language: Vec<String> = hit
        .matched_via
        .iter()
        .filter(|_| !matched_own_text)
        .filter_map(|via| match via {
            MatchExplanation::Text => None,
            MatchExplanation::Meaning => Some(ctx.t("search.matched_meaning").to_string()),
            MatchExplanation::Translation { lang } => Some(ctx.tf(
                "search.matched_translation",
                &[("lang", &lang_label(ctx, lang))],
            )),
            MatchExplanation::Concept { concept, labels } => Some(ctx.tf(
                "search.matched_concept",
                &[("concept", concept_label(ctx, concept, labels))],
            )),
            MatchExplanation::NarrowerConcept {
                concept,
                labels,
                broader,
                broader_labels,
            } => Some(ctx.tf(
                "search.matched_narrower_concept",
                &[
                    ("concept", concept_label(ctx, concept, labels)),
                    ("broader", concept_label(ctx, broader, broader_labels)),
                ],
            )),
        })
        .collect();
    // The snippet is in a translation's language only when the hit matched
    // through that translation alone; otherwise it is the record's own text.
    let snippet_lang = match hit.matched_via.as_slice() {
        [MatchExplanation::Translation { lang }] => lang.as_str(),
        _ => hit.lang.as_str(),
    };
    let other_language = request
        .query_lang
        .as_ref()
        .is_some_and(|query_lang| *query_lang != hit.lang);
    html! {
        li class="hit" {
            article {
                @if let Some(display) = &hit.display {
                    // The reader's language first; the original one click away.
                    h3 class="hit-title" {
                        a href=(href) lang=(display.lang.as_str()) { (display.title) }
                    }
                    p class="translation-note" {
                        span class="badge badge-translation" {
                            (super::record::provenance_text(ctx, display.provenance, display.reviewed))
                        }
                        " "
                        a href=(format!("{href}?tr={}", super::record::ORIGINAL_PARAM)) lang=(hit.lang.as_str()) class="original-link" {
                            (ctx.tf("search.original_title", &[("lang", &lang_label(ctx, &hit.lang))]))
                            ": " (hit.title)
                        }
                    }
                    @if !display.snippet.text.is_empty() {
                        p class="snippet" lang=(display.lang.as_str()) {
                            @for part in display.snippet.parts() {
                                @if part.marked { mark { (part.text) } } @else { (part.text) }
                            }
                        }
                    }
                } @else {
                    h3 class="hit-title" {
                        a href=(href) lang=(hit.lang.as_str()) { (hit.title) }
                    }
                    @if !hit.snippet.text.is_empty() {
                        p class="snippet" lang=(snippet_lang) {
                            @for part in hit.snippet.parts() {
                                @if part.marked { mark { (part.text) } } @else { (part.text) }
                            }
                        }
                    }
                }
                ul class="badges" {
                    li class="badge badge-country" title=(super::country_label(ctx, hit.country.as_str())) { (hit.country.as_str()) }
                    li class=(if other_language { "badge badge-lang badge-other-lang" } else { "badge badge-lang" })
                       title=(ctx.t("facet.lang")) {
                        (lang_label(ctx, &hit.lang))
                    }
                    li class="badge badge-kind" { (kind_label(ctx, hit.kind)) }
                    @for theme in hit.themes.iter().take(3) {
                        li class="badge badge-theme" { (theme_label(ctx, *theme)) }
                    }
                }
                @if !cross_language.is_empty() {
                    p class="cross-language" {
                        span class="cross-language-icon" aria-hidden="true" { "⇄ " }
                        (cross_language.join(" · "))
                    }
                }
            }
        }
    }
}

fn empty_state(ctx: &Ctx, request: &SearchRequest) -> Markup {
    let nothing_asked = request.q.is_empty() && request.filters.is_empty();
    html! {
        div class="empty-state" {
            @if nothing_asked {
                h3 { (ctx.t("search.empty_node_title")) }
                p { (ctx.t("search.empty_node")) }
            } @else {
                h3 { (ctx.t("search.empty_title")) }
                ul {
                    @if !request.q.is_empty() {
                        li { (ctx.t("search.empty_words")) }
                        @if request.query_lang.is_some() {
                            li {
                                a href=(search_url(&SearchRequest { query_lang: None, ..request.clone() }, 1, |_| {})) {
                                    (ctx.t("search.empty_any_language"))
                                }
                            }
                        }
                    }
                    @if !request.filters.is_empty() {
                        li {
                            a href=(search_url(request, 1, |filters| filters.clear())) { (ctx.t("search.empty_filters")) }
                        }
                    }
                    li { a href="/network" { (ctx.t("search.empty_network")) } }
                }
            }
        }
    }
}

fn pager(ctx: &Ctx, request: &SearchRequest, page: usize, total: u64) -> Markup {
    let pages_total = (total as usize)
        .div_ceil(SEARCH_PAGE_SIZE)
        .clamp(1, SEARCH_PAGES_MAX);
    html! {
        @if pages_total > 1 {
            nav class="pager" aria-label=(ctx.t("search.pages")) {
                @if page > 1 {
                    a rel="prev" href=(search_url(request, page - 1, |_| {})) { "← " (ctx.t("search.prev")) }
                }
                span class="pager-status" {
                    (ctx.tf("search.page_of", &[("n", &page.to_string()), ("m", &pages_total.to_string())]))
                }
                @if page < pages_total {
                    a rel="next" href=(search_url(request, page + 1, |_| {})) { (ctx.t("search.next")) " →" }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn english() -> LanguageTag {
        LanguageTag::parse("en").unwrap()
    }

    #[test]
    fn urls_round_trip_query_filters_and_page() {
        let (request, page) = request_from_query(
            "q=%CF%83%CF%85%CE%BD&ql=el&country=IT&theme=co-design&page=3",
            &english(),
        );
        assert_eq!(request.q, "συν");
        assert_eq!(request.query_lang.as_ref().map(|l| l.as_str()), Some("el"));
        assert_eq!(request.filter(FacetField::Country), Some("IT"));
        assert_eq!(page, 3);
        assert_eq!(request.offset, 2 * SEARCH_PAGE_SIZE);
        let url = search_url(&request, 3, |_| {});
        let (again, again_page) = request_from_query(url.trim_start_matches("/?"), &english());
        assert_eq!(again.q, request.q);
        assert_eq!(again.filters, request.filters);
        assert_eq!(again_page, 3);
        let without = search_url(&request, 1, |f| {
            f.retain(|(field, _)| *field != FacetField::Country)
        });
        assert!(!without.contains("country="));
        assert!(without.contains("theme=co-design"));
    }

    #[test]
    fn pages_and_queries_are_bounded() {
        let long = "a".repeat(SEARCH_QUERY_CHARS_MAX + 10);
        let (request, page) = request_from_query(&format!("q={long}&page=999999"), &english());
        assert_eq!(request.q.chars().count(), SEARCH_QUERY_CHARS_MAX);
        assert_eq!(page, SEARCH_PAGES_MAX);
    }
}
