//! Translation between the web interface's search types and the `search`
//! crate's requests and responses.
//!
//! Snippets pass through as the search crate's structured
//! [`engine::Snippet`] (plain text and matched ranges); the page template
//! escapes each part, so no HTML is ever parsed or inserted.

use seednet_protocol::{CountryCode, Kind, LanguageTag, NodeId, TargetGroup, Theme};
use seednet_search as engine;

use super::backend::{
    FacetCounts, FacetField, FacetValue, HitDisplay, MatchExplanation, SearchHit, SearchRequest,
    SearchResults,
};

/// The engine's request for a web search; `None` when a filter value cannot
/// match anything (e.g. an unknown country code typed into the URL).
pub fn to_engine_request(request: &SearchRequest) -> Option<engine::SearchRequest> {
    let mut engine_request = engine::SearchRequest::new(&request.q);
    engine_request.query_lang = request.query_lang.clone();
    engine_request.offset = request.offset.min(engine::OFFSET_MAX);
    engine_request.limit = request.limit.clamp(1, engine::LIMIT_MAX);
    engine_request.display_langs = request
        .display_langs
        .iter()
        .take(engine::DISPLAY_LANGS_MAX)
        .cloned()
        .collect();
    let filters = &mut engine_request.filters;
    for (field, value) in &request.filters {
        match field {
            FacetField::Country => filters.country.push(CountryCode::parse(value)?),
            FacetField::Lang => filters.lang.push(LanguageTag::parse(value)?),
            FacetField::Kind => filters.kind.push(value.parse::<Kind>().ok()?),
            FacetField::Theme => filters.theme.push(value.parse::<Theme>().ok()?),
            FacetField::TargetGroup => filters
                .target_group
                .push(value.parse::<TargetGroup>().ok()?),
            FacetField::Origin => filters.origin.push(value.parse::<NodeId>().ok()?),
            FacetField::Year => {
                let year = value.parse::<i64>().ok()?;
                filters.year_from = Some(year);
                filters.year_to = Some(year);
            }
        }
    }
    Some(engine_request)
}

/// The web's view of an engine response. `origin_label` names the centres it
/// knows (by node id) for the origin facet.
pub fn from_engine_response(
    response: engine::SearchResponse,
    origin_label: impl Fn(&str) -> Option<String>,
) -> SearchResults {
    let hits = response
        .hits
        .into_iter()
        .filter_map(hit_from_engine)
        .collect();
    let facets = response.facets;
    let facet = |field: FacetField, counts: Vec<engine::FacetCount>| FacetCounts {
        field,
        values: counts
            .into_iter()
            .map(|count| FacetValue {
                label: match field {
                    FacetField::Origin => origin_label(&count.value),
                    _ => None,
                },
                value: count.value,
                count: count.count,
            })
            .collect(),
    };
    SearchResults {
        total: response.total,
        hits,
        facets: vec![
            facet(FacetField::Country, facets.country),
            facet(FacetField::Lang, facets.lang),
            facet(FacetField::Kind, facets.kind),
            facet(FacetField::Theme, facets.theme),
            facet(FacetField::TargetGroup, facets.target_group),
            facet(FacetField::Year, facets.year),
            facet(FacetField::Origin, facets.origin),
        ],
    }
}

/// One engine hit; `None` if the engine returned values the protocol refuses
/// (a corrupt index entry), which is logged and skipped.
fn hit_from_engine(hit: engine::Hit) -> Option<SearchHit> {
    let parsed = (|| {
        Some(SearchHit {
            key: seednet_protocol::RecordKey {
                origin: hit.origin.parse().ok()?,
                id: seednet_protocol::RecordId::parse(&hit.id)?,
            },
            version: hit.version,
            title: hit.title.clone(),
            snippet: hit.snippet.clone(),
            display: hit.display.as_ref().and_then(|display| {
                Some(HitDisplay {
                    lang: LanguageTag::parse(&display.lang)?,
                    title: display.title.clone(),
                    snippet: display.snippet.clone(),
                    provenance: if display.provenance == "human" {
                        seednet_protocol::Provenance::Human
                    } else {
                        seednet_protocol::Provenance::Machine
                    },
                    reviewed: display.reviewed,
                })
            }),
            lang: LanguageTag::parse(&hit.lang)?,
            country: CountryCode::parse(&hit.country)?,
            kind: hit.kind.parse().ok()?,
            themes: hit.themes.iter().filter_map(|t| t.parse().ok()).collect(),
            matched_via: hit
                .matched_via
                .iter()
                .filter_map(|via| match via {
                    engine::MatchedVia::Text => Some(MatchExplanation::Text),
                    engine::MatchedVia::Translation { lang } => {
                        LanguageTag::parse(lang).map(|lang| MatchExplanation::Translation { lang })
                    }
                    engine::MatchedVia::Concept { concept } => Some(MatchExplanation::Concept {
                        concept: concept.clone(),
                        labels: concept_labels(concept),
                    }),
                    engine::MatchedVia::Meaning => Some(MatchExplanation::Meaning),
                    engine::MatchedVia::NarrowerConcept { concept, broader } => {
                        Some(MatchExplanation::NarrowerConcept {
                            concept: concept.clone(),
                            labels: concept_labels(concept),
                            broader: broader.clone(),
                            broader_labels: concept_labels(broader),
                        })
                    }
                })
                .collect(),
        })
    })();
    if parsed.is_none() {
        tracing::warn!(origin = %hit.origin, id = %hit.id, "search hit with invalid fields skipped");
    }
    parsed
}

/// The first term of a glossary concept in each language, for display.
fn concept_labels(concept_id: &str) -> Vec<(String, String)> {
    let glossary = engine::Glossary::builtin(engine::AnalysisConfig::default());
    let Some(index) = glossary.find(concept_id) else {
        return Vec::new();
    };
    glossary
        .concept(index)
        .terms
        .iter()
        .filter_map(|(lang, terms)| terms.first().map(|term| (lang.clone(), term.clone())))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn filters_map_to_engine_filters_and_bad_values_match_nothing() {
        let request = SearchRequest {
            q: "συνδιαμόρφωση".into(),
            query_lang: LanguageTag::parse("el"),
            filters: vec![
                (FacetField::Country, "IT".into()),
                (FacetField::Year, "2023".into()),
                (FacetField::Theme, "co-design".into()),
            ],
            offset: 20,
            limit: 20,
            display_langs: vec![LanguageTag::parse("el").unwrap()],
        };
        let engine_request = to_engine_request(&request).expect("valid filters");
        assert_eq!(
            engine_request.filters.country,
            vec![CountryCode::parse("IT").unwrap()]
        );
        assert_eq!(engine_request.filters.year_from, Some(2023));
        assert_eq!(engine_request.filters.year_to, Some(2023));
        assert_eq!(engine_request.filters.theme, vec![Theme::CoDesign]);
        assert_eq!(engine_request.offset, 20);
        assert!(engine_request.validate().is_ok());
        let bad = SearchRequest {
            filters: vec![(FacetField::Country, "XX".into())],
            ..request
        };
        assert!(to_engine_request(&bad).is_none());
    }
}
