//! Search requests and responses, query building, ranking, facets and the
//! explanation of each hit.
//!
//! A query is analysed once per analysis chain and looked up in the fields of
//! that chain, with the query's language weighted highest ([`QUERY_LANG_WEIGHT`]
//! against [`OTHER_LANG_WEIGHT`]), in the accent-folded fields, and in concept
//! space: the glossary maps the query to concepts, whose ids records carry in
//! their `concepts` field whatever language they are written in. Concepts
//! that stand for a facet value (a country, a competence area, ...) *boost*
//! records with that value; they never filter (see `docs/SEARCH.md`).
//!
//! Scores are BM25 sums, then each language competes on its own scale: the
//! best [`LANGUAGE_RANKING_WINDOW`] hits are ranked by their score divided by
//! the best score among those hits *in the same record language*
//! ([`rank_within_languages`]). A query shares more words with records of its
//! own language than with equally relevant records in other languages
//! (glossary concepts and cognates carry less weight than the query's own
//! words), so raw BM25 would bury the best foreign record behind weaker
//! same-language ones; dividing by each language's best makes each
//! language's best match score 1. Ties are broken by a stable hash of the
//! record key, so the same index gives the same order on every node and every
//! run.

use std::cmp::Reverse;
use std::collections::{BTreeSet, HashMap, HashSet};
use std::ops::Bound;
use std::time::Instant;

use seednet_protocol::{CountryCode, Kind, LanguageTag, NodeId, RecordContent, TargetGroup, Theme};
use serde::{Deserialize, Serialize};
use tantivy::collector::{Count, FacetCollector, TopDocs};
use tantivy::query::{
    AllQuery, BooleanQuery, BoostQuery, ConstScoreQuery, Occur, Query, RangeQuery, TermQuery,
    TermSetQuery,
};
use tantivy::schema::{Facet, Field, IndexRecordOption, Value};
use tantivy::{DocAddress, DocId, Score, SegmentReader, TantivyDocument, Term};

use crate::analysis::{analyze, analyzer, folded_analyzer, AnalyzerLang};
use crate::glossary::FacetLink;
use crate::index::{RecordTexts, SearchIndex, TextPart};
use crate::semantic::{SemanticMatch, VectorIndex};
use crate::snippet::{self, Snippet};
use crate::SearchError;

/// A query longer than this many characters is refused.
pub const QUERY_CHARS_MAX: usize = 500;
/// Only the first this many words of a query are searched.
pub const QUERY_TERMS_MAX: usize = 24;
/// Page size when none is asked for.
pub const LIMIT_DEFAULT: usize = 10;
/// Largest page size.
pub const LIMIT_MAX: usize = 50;
/// Largest offset: deeper paging costs more than it is worth; narrow with
/// filters instead.
pub const OFFSET_MAX: usize = 1_000;
/// Values returned per facet (the most frequent).
pub const FACET_VALUES_MAX: usize = 20;
/// Display languages one request may list.
pub const DISPLAY_LANGS_MAX: usize = 4;
/// Values one filter parameter may list.
pub const FILTER_VALUES_MAX: usize = 16;
/// Tokens of one text looked at when explaining a hit and cutting its snippet.
pub const EXPLAIN_TOKENS_MAX: usize = 10_000;

/// Field boosts: a word in the title says more than one in the body.
pub const TITLE_BOOST: f32 = 3.0;
pub const SUMMARY_BOOST: f32 = 2.0;
pub const BODY_BOOST: f32 = 1.0;
/// Weight of the query language's fields.
pub const QUERY_LANG_WEIGHT: f32 = 1.0;
/// Weight of the other languages' fields (cognates and shared names match
/// there; different stemming makes them less reliable).
pub const OTHER_LANG_WEIGHT: f32 = 0.3;
/// Weight of the accent-folded fields (a query typed without accents).
pub const FOLDED_WEIGHT: f32 = 0.5;
/// Weight of a concept shared by the query and the record.
pub const CONCEPT_BOOST: f32 = 4.0;
/// Weight of a facet value named by the query ("... Romania" boosts RO).
pub const FACET_CONCEPT_BOOST: f32 = 6.0;
/// Weight of a query concept that is broader than a concept of the record
/// (the query names a family of methods, the record one of them): less than
/// [`CONCEPT_BOOST`], since the record is about a narrower thing.
pub const BROADER_CONCEPT_BOOST: f32 = 1.0;

/// Weight of the lexical score (normalised within its language, 0 to 1) in
/// a fused score.
pub const LEXICAL_WEIGHT: f32 = 0.6;
/// Weight of the semantic similarity (centred cosine) in a fused score.
pub const SEMANTIC_WEIGHT: f32 = 0.4;
/// Candidates each tier brings to the fusion.
pub const FUSION_CANDIDATES: usize = 50;
/// Semantic candidates looked at when filters are set (most may not pass).
pub const SEMANTIC_FILTERED_CANDIDATES: usize = 500;
/// Least centred cosine for a record to match by meaning alone (below it,
/// a record is no match, only a lexical hit's tie-breaker). Centred cosines
/// are small (the best match of a query is typically 0.05 to 0.3).
pub const SEMANTIC_MIN_SIMILARITY: f32 = 0.05;
/// Least similarity, relative to the query's best match, for a record to
/// match by meaning alone: what is far behind the best is not a result.
pub const SEMANTIC_RELATIVE_MIN: f32 = 0.6;

/// Hits ranked against the best hit of their language (see the module
/// documentation); a page deeper than this widens the window to reach it.
pub const LANGUAGE_RANKING_WINDOW: usize = 200;

/// Weight of a highlighted query word when choosing the snippet window, on
/// the scale of concept specificity (squared inverse document frequency ×
/// 1000).
const WORD_HIGHLIGHT_WEIGHT: u64 = 1_000;

/// The facets counted on every search, in response order.
pub const FACET_NAMES: [&str; 7] = [
    "country",
    "lang",
    "kind",
    "theme",
    "target_group",
    "year",
    "origin",
];

/// Narrowing filters; values within one filter are alternatives (OR),
/// different filters all apply (AND).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SearchFilters {
    /// The record's country.
    pub country: Vec<CountryCode>,
    /// The language a record is written in (not the query language).
    pub lang: Vec<LanguageTag>,
    /// The record's kind (practice, method, tool, case study, know-how).
    pub kind: Vec<Kind>,
    /// One of the record's competence areas.
    pub theme: Vec<Theme>,
    /// One of the record's target groups.
    pub target_group: Vec<TargetGroup>,
    /// The node that published the record.
    pub origin: Vec<NodeId>,
    /// Earliest `year_start` of the record, inclusive.
    pub year_from: Option<i64>,
    /// Latest `year_start` of the record, inclusive.
    pub year_to: Option<i64>,
}

impl SearchFilters {
    /// Whether no filter is set.
    pub fn is_empty(&self) -> bool {
        self == &SearchFilters::default()
    }
}

/// One search.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SearchRequest {
    /// The words typed; empty lists records by year (browsing with facets).
    pub q: String,
    /// The language the query is written in; detected when absent.
    pub query_lang: Option<LanguageTag>,
    /// What the hits must be.
    pub filters: SearchFilters,
    /// Hits to skip (at most [`OFFSET_MAX`]).
    pub offset: usize,
    /// Hits to return (1 to [`LIMIT_MAX`]).
    pub limit: usize,
    /// Languages the reader prefers, best first (at most
    /// [`DISPLAY_LANGS_MAX`]): a hit with a translation into one of them
    /// also carries that translation's title and snippet ([`Hit::display`]).
    pub display_langs: Vec<LanguageTag>,
}

impl SearchRequest {
    /// A first page for `q` with no filters.
    pub fn new(q: &str) -> SearchRequest {
        SearchRequest {
            q: q.to_string(),
            query_lang: None,
            filters: SearchFilters::default(),
            offset: 0,
            limit: LIMIT_DEFAULT,
            display_langs: Vec::new(),
        }
    }

    /// Builds a request from URL query parameters or CLI options, with the
    /// names of the HTTP API: `q, query_lang, lang, country, theme, kind,
    /// target_group, year_from, year_to, origin, offset, limit`. A filter may
    /// repeat or list values separated by commas. Unknown names and bad
    /// values are refused with the parameter's name.
    pub fn from_params<'a>(
        params: impl IntoIterator<Item = (&'a str, &'a str)>,
    ) -> Result<SearchRequest, SearchError> {
        let mut request = SearchRequest::new("");
        for (name, value) in params {
            let filters = &mut request.filters;
            match name {
                "q" => request.q = value.to_string(),
                "query_lang" => {
                    request.query_lang = Some(parse_one("query_lang", value, LanguageTag::parse)?)
                }
                "lang" => push_all(&mut filters.lang, "lang", value, LanguageTag::parse)?,
                "country" => push_all(&mut filters.country, "country", value, CountryCode::parse)?,
                "kind" => push_all(&mut filters.kind, "kind", value, |v| v.parse().ok())?,
                "theme" => push_all(&mut filters.theme, "theme", value, |v| v.parse().ok())?,
                "target_group" => {
                    push_all(&mut filters.target_group, "target_group", value, |v| {
                        v.parse().ok()
                    })?
                }
                "origin" => push_all(&mut filters.origin, "origin", value, |v| v.parse().ok())?,
                "year_from" => filters.year_from = Some(parse_one("year_from", value, parse_year)?),
                "year_to" => filters.year_to = Some(parse_one("year_to", value, parse_year)?),
                "offset" => request.offset = parse_one("offset", value, |v| v.parse().ok())?,
                "display_lang" => push_all(
                    &mut request.display_langs,
                    "display_lang",
                    value,
                    LanguageTag::parse,
                )?,
                "limit" => request.limit = parse_one("limit", value, |v| v.parse().ok())?,
                other => {
                    return Err(SearchError::InvalidParameter {
                        field: "query",
                        message: format!(
                            "unknown parameter {:?}",
                            other.chars().take(40).collect::<String>()
                        ),
                    })
                }
            }
        }
        request.validate()?;
        Ok(request)
    }

    /// Checks every limit; the error names the offending parameter.
    pub fn validate(&self) -> Result<(), SearchError> {
        let invalid = |field: &'static str, message: String| {
            Err(SearchError::InvalidParameter { field, message })
        };
        let chars = self.q.chars().count();
        if chars > QUERY_CHARS_MAX {
            return invalid(
                "q",
                format!("query has {chars} characters, at most {QUERY_CHARS_MAX} allowed"),
            );
        }
        if self.q.chars().any(|c| c.is_control() && !c.is_whitespace()) {
            return invalid("q", "query contains control characters".into());
        }
        if self.limit == 0 || self.limit > LIMIT_MAX {
            return invalid("limit", format!("limit must be between 1 and {LIMIT_MAX}"));
        }
        if self.display_langs.len() > DISPLAY_LANGS_MAX {
            return invalid(
                "display_lang",
                format!("at most {DISPLAY_LANGS_MAX} display languages"),
            );
        }
        if self.offset > OFFSET_MAX {
            return invalid(
                "offset",
                format!("offset must be at most {OFFSET_MAX}; narrow the search with filters"),
            );
        }
        let filters = &self.filters;
        let counts = [
            ("country", filters.country.len()),
            ("lang", filters.lang.len()),
            ("kind", filters.kind.len()),
            ("theme", filters.theme.len()),
            ("target_group", filters.target_group.len()),
            ("origin", filters.origin.len()),
        ];
        for (field, count) in counts {
            if count > FILTER_VALUES_MAX {
                return invalid(field, format!("at most {FILTER_VALUES_MAX} values allowed"));
            }
        }
        if let (Some(from), Some(to)) = (filters.year_from, filters.year_to) {
            if from > to {
                return invalid(
                    "year_to",
                    format!("year_to {to} is before year_from {from}"),
                );
            }
        }
        Ok(())
    }
}

fn parse_year(text: &str) -> Option<i64> {
    let year: i64 = text.parse().ok()?;
    let range = seednet_protocol::limits::YEAR_MIN..=seednet_protocol::limits::YEAR_MAX;
    range.contains(&year).then_some(year)
}

fn parse_one<T>(
    field: &'static str,
    value: &str,
    parse: impl Fn(&str) -> Option<T>,
) -> Result<T, SearchError> {
    parse(value.trim()).ok_or_else(|| SearchError::InvalidParameter {
        field,
        message: format!(
            "invalid value {:?}",
            value.chars().take(80).collect::<String>()
        ),
    })
}

fn push_all<T: PartialEq>(
    target: &mut Vec<T>,
    field: &'static str,
    value: &str,
    parse: impl Fn(&str) -> Option<T>,
) -> Result<(), SearchError> {
    for part in value.split(',').filter(|part| !part.trim().is_empty()) {
        let parsed = parse_one(field, part, &parse)?;
        if !target.contains(&parsed) {
            target.push(parsed);
        }
        if target.len() > FILTER_VALUES_MAX {
            return Err(SearchError::InvalidParameter {
                field,
                message: format!("at most {FILTER_VALUES_MAX} values allowed"),
            });
        }
    }
    Ok(())
}

/// How a hit matched; a hit lists every way it matched.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "via", rename_all = "snake_case")]
pub enum MatchedVia {
    /// Words of the query in the record's own text.
    Text,
    /// Words of the query in the record's translation into `lang`.
    Translation {
        /// The translation's language tag.
        lang: String,
    },
    /// A concept of the query that the record mentions or carries.
    Concept {
        /// The glossary id of the concept.
        concept: String,
    },
    /// A concept the record mentions that is a kind of a broader concept
    /// of the query (the glossary's `broader` links).
    NarrowerConcept {
        /// The record's concept (its terms are highlighted).
        concept: String,
        /// The query's broader concept it belongs to.
        broader: String,
    },
    /// The record's meaning is close to the query's (the semantic tier),
    /// whatever words either uses.
    Meaning,
}

/// One search result.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Hit {
    /// The origin node id (64 hex digits).
    pub origin: String,
    /// The record id.
    pub id: String,
    /// The version indexed (the current one).
    pub version: u64,
    /// The title in the record's language.
    pub title: String,
    /// The record's words that carried the match, marked.
    pub snippet: Snippet,
    /// The record's language tag.
    pub lang: String,
    /// The record's country code.
    pub country: String,
    /// The record's kind slug.
    pub kind: String,
    /// The record's competence-area slugs.
    pub themes: Vec<String>,
    /// The record's `year_start`.
    pub year: i64,
    /// The ranking score (higher first; comparable within one response only).
    pub score: f32,
    /// Every way the hit matched the query.
    pub matched_via: Vec<MatchedVia>,
    /// The record in the reader's language, when it has a translation into
    /// one of the request's display languages (the original stays in
    /// `title` and `snippet`).
    pub display: Option<DisplayText>,
}

/// A hit's title and snippet in a translation the reader asked for.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DisplayText {
    /// The translation's language.
    pub lang: String,
    /// The translated title.
    pub title: String,
    /// From the translation's summary, its matched words marked.
    pub snippet: Snippet,
    /// Who translated it: `human` or `machine`.
    pub provenance: String,
    /// Whether a person reviewed the translation.
    pub reviewed: bool,
}

/// A facet value and the number of matching records that have it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FacetCount {
    /// The value as the filter takes it (`IT`, `co-design`, a node id).
    pub value: String,
    /// Matching records with that value.
    pub count: u64,
}

/// Counts over all records matching the query and filters.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Facets {
    /// By country.
    pub country: Vec<FacetCount>,
    /// By record language.
    pub lang: Vec<FacetCount>,
    /// By kind.
    pub kind: Vec<FacetCount>,
    /// By competence area.
    pub theme: Vec<FacetCount>,
    /// By target group.
    pub target_group: Vec<FacetCount>,
    /// By `year_start`.
    pub year: Vec<FacetCount>,
    /// By origin node id.
    pub origin: Vec<FacetCount>,
}

/// What the engine understood of the query.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct QueryInfo {
    /// The query language used (given or detected); `None` when unknown.
    pub lang: Option<String>,
    /// Whether `lang` was detected (rather than given).
    pub lang_detected: bool,
    /// Concept ids the query was mapped to.
    pub concepts: Vec<String>,
    /// Whether the semantic tier took part (fused ranking).
    pub semantic: bool,
}

/// The answer to a search.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SearchResponse {
    /// Number of matching records (all pages).
    pub total: u64,
    /// Time the search took in the engine, in milliseconds.
    pub took_ms: u64,
    /// The page of hits asked for, best first.
    pub hits: Vec<Hit>,
    /// Counts over every matching record, not only this page.
    pub facets: Facets,
    /// What the engine understood of the query.
    pub query: QueryInfo,
}

impl SearchResponse {
    /// A readable rendering for a terminal (what `seednet search` prints
    /// without `--json`): one block per hit, matched words between `*`,
    /// then the facets. Plain text, no HTML.
    pub fn to_plain_text(&self) -> String {
        let mut out = format!("{} records ({} ms)\n", self.total, self.took_ms);
        for (rank, hit) in self.hits.iter().enumerate() {
            let via: Vec<String> = hit
                .matched_via
                .iter()
                .map(|via| match via {
                    MatchedVia::Text => "text".to_string(),
                    MatchedVia::Translation { lang } => format!("translation ({lang})"),
                    MatchedVia::Concept { concept } => format!("concept {concept}"),
                    MatchedVia::NarrowerConcept { concept, broader } => {
                        format!("concept {concept}, a kind of {broader}")
                    }
                    MatchedVia::Meaning => "meaning".to_string(),
                })
                .collect();
            out.push_str(&format!(
                "\n{}. {}\n   {} {} {} {} | {}/{} v{}\n   matched via: {}\n   {}\n",
                rank + 1,
                hit.title,
                hit.country,
                hit.lang,
                hit.kind,
                hit.year,
                hit.origin,
                hit.id,
                hit.version,
                via.join(", "),
                hit.snippet.to_plain("*"),
            ));
        }
        let facets = [
            ("country", &self.facets.country),
            ("lang", &self.facets.lang),
            ("kind", &self.facets.kind),
            ("theme", &self.facets.theme),
            ("target_group", &self.facets.target_group),
            ("year", &self.facets.year),
        ];
        out.push('\n');
        for (name, counts) in facets {
            let values: Vec<String> = counts
                .iter()
                .map(|count| format!("{} ({})", count.value, count.count))
                .collect();
            out.push_str(&format!("{name}: {}\n", values.join(", ")));
        }
        out
    }
}

/// The semantic side of a search: the node's vectors and the query's
/// embedding (unit length, `query: ` prefix).
#[derive(Clone, Copy)]
pub struct SemanticQuery<'a> {
    /// The records' passage vectors.
    pub vectors: &'a VectorIndex,
    /// The query's vector.
    pub query: &'a [f32],
}

/// The tuple every search collects per hit: the ranking value (score, or
/// year when browsing), the key hash for ties and the language key.
type RankKey = (f32, Reverse<u64>, u64);

/// The top `limit` hits with their [`RankKey`].
fn ranked_collector(
    limit: usize,
    browsing: bool,
) -> impl tantivy::collector::Collector<Fruit = Vec<(RankKey, DocAddress)>> {
    TopDocs::with_limit(limit).tweak_score(move |segment: &SegmentReader| {
        let tiebreak = segment.fast_fields().u64("tiebreak").ok();
        let lang_key = segment.fast_fields().u64("lang_key").ok();
        let year = segment.fast_fields().i64("year").ok();
        move |doc: DocId, score: Score| {
            let key = tiebreak.as_ref().and_then(|c| c.first(doc)).unwrap_or(0);
            let lang = lang_key.as_ref().and_then(|c| c.first(doc)).unwrap_or(0);
            let primary = if browsing {
                year.as_ref().and_then(|c| c.first(doc)).unwrap_or(0) as f32
            } else {
                score
            };
            (primary, Reverse(key), lang)
        }
    })
}

/// Fuses the lexical ranking (scores already normalised within each
/// language) with the semantic matches that passed the filters: the best
/// [`FUSION_CANDIDATES`] of each tier, scored
/// `LEXICAL_WEIGHT · lexical + SEMANTIC_WEIGHT · similarity`, best first;
/// then the rest of the lexical ranking in its order. Returns the ranking
/// and the key hashes of the records that matched by meaning.
fn fuse(
    lexical: Vec<RankedDoc>,
    meaning: &[SemanticMatch],
    admitted: &HashMap<u64, (DocAddress, u64)>,
    semantic: &SemanticQuery<'_>,
) -> (Vec<RankedDoc>, HashSet<u64>) {
    let similarity: HashMap<u64, f32> = meaning
        .iter()
        .filter(|found| admitted.contains_key(&found.tiebreak))
        .take(FUSION_CANDIDATES)
        .map(|found| (found.tiebreak, found.similarity))
        .collect();
    // Centred cosines are small and their scale varies by query: like the
    // lexical scores, they count relative to the best one.
    let best_similarity = similarity
        .values()
        .copied()
        .fold(SEMANTIC_MIN_SIMILARITY, f32::max);
    let meant: HashSet<u64> = similarity.keys().copied().collect();
    let lexical_score: HashMap<u64, f32> = lexical
        .iter()
        .map(|doc| (doc.tiebreak, doc.score))
        .collect();
    let similarity_of = |tiebreak: u64| {
        similarity
            .get(&tiebreak)
            .copied()
            .or_else(|| {
                semantic
                    .vectors
                    .similarity_by_tiebreak(tiebreak, semantic.query)
            })
            .unwrap_or(0.0)
            .max(0.0)
            / best_similarity
    };
    let mut fused: Vec<RankedDoc> = Vec::with_capacity(2 * FUSION_CANDIDATES);
    let mut seen: HashSet<u64> = HashSet::new();
    for doc in lexical.iter().take(FUSION_CANDIDATES) {
        seen.insert(doc.tiebreak);
        fused.push(RankedDoc {
            score: LEXICAL_WEIGHT * doc.score + SEMANTIC_WEIGHT * similarity_of(doc.tiebreak),
            ..*doc
        });
    }
    for (&tiebreak, &(address, lang_key)) in admitted {
        if !meant.contains(&tiebreak) || !seen.insert(tiebreak) {
            continue;
        }
        let lexical = lexical_score.get(&tiebreak).copied().unwrap_or(0.0);
        fused.push(RankedDoc {
            address,
            score: LEXICAL_WEIGHT * lexical + SEMANTIC_WEIGHT * similarity_of(tiebreak),
            tiebreak,
            lang_key,
        });
    }
    fused.sort_by(|a, b| {
        b.score
            .total_cmp(&a.score)
            .then(a.tiebreak.cmp(&b.tiebreak))
    });
    for doc in lexical {
        if seen.insert(doc.tiebreak) {
            fused.push(RankedDoc {
                score: LEXICAL_WEIGHT * doc.score,
                ..doc
            });
        }
    }
    (fused, meant)
}

/// A candidate hit before its page is cut: where it is and what ranks it.
#[derive(Debug, Clone, Copy)]
struct RankedDoc {
    address: DocAddress,
    score: f32,
    tiebreak: u64,
    lang_key: u64,
}

/// Ranks candidates by their score divided by the best score among the
/// candidates of their record language (best first; ties: the raw score,
/// then the stable key hash). Scores become those ratios, in `0..=1`.
fn rank_within_languages(mut candidates: Vec<RankedDoc>) -> Vec<RankedDoc> {
    let mut best: HashMap<u64, f32> = HashMap::new();
    for candidate in &candidates {
        let slot = best.entry(candidate.lang_key).or_insert(0.0);
        *slot = slot.max(candidate.score);
    }
    let raw: HashMap<DocAddress, f32> = candidates
        .iter()
        .map(|candidate| (candidate.address, candidate.score))
        .collect();
    for candidate in &mut candidates {
        let top = best[&candidate.lang_key];
        candidate.score = if top > 0.0 {
            candidate.score / top
        } else {
            0.0
        };
    }
    candidates.sort_by(|a, b| {
        b.score
            .total_cmp(&a.score)
            .then(raw[&b.address].total_cmp(&raw[&a.address]))
            .then(b.tiebreak.cmp(&a.tiebreak).reverse())
    });
    candidates
}

/// The query after analysis, reused to explain hits.
struct AnalyzedQuery {
    lang: Option<AnalyzerLang>,
    lang_tag: Option<String>,
    lang_detected: bool,
    terms: HashMap<AnalyzerLang, HashSet<String>>,
    folded_terms: HashSet<String>,
    concepts: BTreeSet<usize>,
    /// Specificity of each query concept (squared inverse document
    /// frequency, in thousandths): picks the snippet showing the most
    /// specific concept.
    concept_weights: HashMap<usize, u64>,
    /// The request's display languages, best first.
    display_langs: Vec<LanguageTag>,
}

impl SearchIndex {
    /// Runs a search on the last committed state, lexical tier only.
    pub fn search(&self, request: &SearchRequest) -> Result<SearchResponse, SearchError> {
        self.search_with(request, None)
    }

    /// Runs a search on the last committed state; with `semantic`, the
    /// lexical and semantic tiers are fused (see the module documentation).
    pub fn search_with(
        &self,
        request: &SearchRequest,
        semantic: Option<SemanticQuery<'_>>,
    ) -> Result<SearchResponse, SearchError> {
        let started = Instant::now();
        request.validate()?;
        let mut analyzed = self.analyze_query(request);
        let browsing = analyzed.is_empty();
        // Semantic candidates first: they join the matching set, so the
        // total and the facets count them.
        let semantic = semantic.filter(|_| !browsing);
        let meaning: Vec<SemanticMatch> = match &semantic {
            Some(semantic) => {
                let wanted = if request.filters.is_empty() {
                    FUSION_CANDIDATES
                } else {
                    SEMANTIC_FILTERED_CANDIDATES
                };
                let mut found =
                    semantic
                        .vectors
                        .nearest(semantic.query, wanted, SEMANTIC_MIN_SIMILARITY);
                let floor = found
                    .first()
                    .map_or(0.0, |best| best.similarity * SEMANTIC_RELATIVE_MIN);
                found.retain(|candidate| candidate.similarity >= floor);
                found
            }
            None => Vec::new(),
        };
        let meaning_terms: Vec<Term> = meaning
            .iter()
            .map(|found| Term::from_field_u64(self.fields.tiebreak, found.tiebreak))
            .collect();
        let query = self.build_query(&analyzed, &request.filters, &meaning_terms);

        let searcher = self.reader.searcher();
        analyzed.concept_weights = self.concept_weights(&searcher, &analyzed.concepts)?;
        let mut facet_collector = FacetCollector::for_field("facets");
        for name in FACET_NAMES {
            facet_collector.add_facet(Facet::from_path([name]));
        }
        let wanted = request.offset + request.limit;
        let window = if browsing {
            wanted
        } else {
            wanted.max(LANGUAGE_RANKING_WINDOW)
        };
        let (top_docs, total, facet_counts) = searcher.search(
            &query,
            &(ranked_collector(window, browsing), Count, facet_collector),
        )?;
        let candidates: Vec<RankedDoc> = top_docs
            .into_iter()
            .map(
                |((primary, Reverse(tiebreak), lang_key), address)| RankedDoc {
                    address,
                    score: if browsing { 0.0 } else { primary },
                    tiebreak,
                    lang_key,
                },
            )
            .filter(|candidate| browsing || candidate.score > 0.0)
            .collect();
        let ranked = if browsing {
            candidates
        } else {
            rank_within_languages(candidates)
        };
        let (ranked, meant) = match &semantic {
            Some(semantic) if !meaning.is_empty() => {
                let admitted =
                    self.admitted_matches(&searcher, &request.filters, &meaning_terms)?;
                fuse(ranked, &meaning, &admitted, semantic)
            }
            _ => (ranked, HashSet::new()),
        };

        let mut hits = Vec::with_capacity(request.limit);
        for candidate in ranked.into_iter().skip(request.offset).take(request.limit) {
            let mut hit = self.hit(&searcher, candidate.address, candidate.score, &analyzed)?;
            if meant.contains(&candidate.tiebreak) {
                hit.matched_via.push(MatchedVia::Meaning);
            }
            hits.push(hit);
        }
        let facets = facets_from(&facet_counts);
        let concepts = analyzed
            .concepts
            .iter()
            .map(|&concept| self.glossary.concept(concept).id.clone())
            .collect();
        Ok(SearchResponse {
            total: total as u64,
            took_ms: started.elapsed().as_millis() as u64,
            hits,
            facets,
            query: QueryInfo {
                lang: analyzed.lang_tag.clone(),
                lang_detected: analyzed.lang_detected,
                concepts,
                semantic: semantic.is_some(),
            },
        })
    }

    /// The semantic candidates (by their key hash) that pass the filters,
    /// with where they are in the index and their record language.
    fn admitted_matches(
        &self,
        searcher: &tantivy::Searcher,
        filters: &SearchFilters,
        meaning_terms: &[Term],
    ) -> Result<HashMap<u64, (DocAddress, u64)>, SearchError> {
        let mut must: Vec<(Occur, Box<dyn Query>)> = vec![(
            Occur::Must,
            Box::new(TermSetQuery::new(meaning_terms.iter().cloned())),
        )];
        must.extend(self.filter_clauses(filters));
        let query = BooleanQuery::new(must);
        let found = searcher.search(&query, &ranked_collector(meaning_terms.len().max(1), true))?;
        Ok(found
            .into_iter()
            .map(|((_, Reverse(tiebreak), lang_key), address)| (tiebreak, (address, lang_key)))
            .collect())
    }

    fn analyze_query(&self, request: &SearchRequest) -> AnalyzedQuery {
        let q = request.q.trim();
        let (lang_tag, lang_detected) = match &request.query_lang {
            Some(tag) => (Some(tag.as_str().to_string()), false),
            None => (detect_language(q).map(str::to_string), true),
        };
        let lang = lang_tag.as_deref().map(AnalyzerLang::for_tag);
        let mut terms = HashMap::new();
        for chain_lang in AnalyzerLang::ALL {
            let mut chain = analyzer(chain_lang, self.config);
            let set: HashSet<String> = analyze(&mut chain, q, QUERY_TERMS_MAX)
                .into_iter()
                .map(|token| token.term)
                .collect();
            terms.insert(chain_lang, set);
        }
        // The folded chain keeps every word; single letters (the "d" of
        // "d'impatto") would match nearly every record and light up snippets.
        let folded_terms = analyze(&mut folded_analyzer(), q, QUERY_TERMS_MAX)
            .into_iter()
            .map(|token| token.term)
            .filter(|term| term.chars().count() > 1)
            .collect();
        let mut concepts = BTreeSet::new();
        let glossary_langs: Vec<&str> = if self.config.concepts {
            self.glossary.languages().collect()
        } else {
            Vec::new()
        };
        for glossary_lang in glossary_langs {
            for found in self.glossary.find_in(glossary_lang, q, QUERY_TERMS_MAX) {
                concepts.insert(found.concept);
            }
        }
        AnalyzedQuery {
            lang,
            lang_tag,
            lang_detected,
            terms,
            folded_terms,
            concepts,
            concept_weights: HashMap::new(),
            display_langs: request.display_langs.clone(),
        }
    }

    fn concept_weights(
        &self,
        searcher: &tantivy::Searcher,
        concepts: &BTreeSet<usize>,
    ) -> Result<HashMap<usize, u64>, SearchError> {
        let records = searcher.num_docs() as f64;
        let mut weights = HashMap::new();
        for &concept in concepts {
            let id = &self.glossary.concept(concept).id;
            let term = Term::from_field_text(self.fields.concepts, id);
            let with_concept = searcher.doc_freq(&term)? as f64;
            let idf = (1.0 + records / (with_concept + 1.0)).ln();
            // squared: one specific concept outweighs two generic ones
            weights.insert(concept, (idf * idf * 1000.0) as u64);
        }
        Ok(weights)
    }

    /// The query of a search: the lexical clauses (and, when given, the
    /// semantic candidates by key hash, scoring nothing), all filters.
    fn build_query(
        &self,
        analyzed: &AnalyzedQuery,
        filters: &SearchFilters,
        meaning_terms: &[Term],
    ) -> Box<dyn Query> {
        let fields = &self.fields;
        let mut weighted: HashMap<(Field, String), f32> = HashMap::new();
        let mut add = |field: Field, term: &str, weight: f32| {
            let slot = weighted.entry((field, term.to_string())).or_insert(0.0);
            *slot = slot.max(weight);
        };
        for (chain_lang, terms) in &analyzed.terms {
            let lang_weight = match analyzed.lang {
                Some(query_lang) if query_lang == *chain_lang => QUERY_LANG_WEIGHT,
                Some(_) => OTHER_LANG_WEIGHT,
                None => QUERY_LANG_WEIGHT,
            };
            let text_fields = fields.text(*chain_lang);
            for term in terms {
                add(text_fields.title, term, TITLE_BOOST * lang_weight);
                add(text_fields.summary, term, SUMMARY_BOOST * lang_weight);
                add(text_fields.body, term, BODY_BOOST * lang_weight);
            }
        }
        for term in &analyzed.folded_terms {
            add(fields.folded.title, term, TITLE_BOOST * FOLDED_WEIGHT);
            add(fields.folded.summary, term, SUMMARY_BOOST * FOLDED_WEIGHT);
            add(fields.folded.body, term, BODY_BOOST * FOLDED_WEIGHT);
        }
        let mut should: Vec<(Occur, Box<dyn Query>)> = Vec::new();
        let mut sorted: Vec<((Field, String), f32)> = weighted.into_iter().collect();
        sorted.sort_by(|a, b| a.0.cmp(&b.0));
        for ((field, term), weight) in sorted {
            should.push((Occur::Should, boosted(field, &term, weight, true)));
        }
        for &concept in &analyzed.concepts {
            let entry = self.glossary.concept(concept);
            should.push((
                Occur::Should,
                boosted(fields.concepts, &entry.id, CONCEPT_BOOST, false),
            ));
            should.push((
                Occur::Should,
                boosted(
                    fields.broader_concepts,
                    &entry.id,
                    BROADER_CONCEPT_BOOST,
                    false,
                ),
            ));
            if let Some(facet) = entry.facet {
                let (field, value) = self.facet_term(facet);
                should.push((
                    Occur::Should,
                    boosted(field, &value, FACET_CONCEPT_BOOST, false),
                ));
            }
        }

        if !meaning_terms.is_empty() {
            let by_meaning = TermSetQuery::new(meaning_terms.iter().cloned());
            should.push((
                Occur::Should,
                Box::new(ConstScoreQuery::new(Box::new(by_meaning), 0.0)),
            ));
        }
        let mut must: Vec<(Occur, Box<dyn Query>)> = Vec::new();
        if analyzed.is_empty() {
            must.push((Occur::Must, Box::new(AllQuery)));
        } else {
            must.push((Occur::Must, Box::new(BooleanQuery::new(should))));
        }
        must.extend(self.filter_clauses(filters));
        Box::new(BooleanQuery::new(must))
    }

    /// One constant-score clause per filter that has values.
    fn filter_clauses(&self, filters: &SearchFilters) -> Vec<(Occur, Box<dyn Query>)> {
        let fields = &self.fields;
        let mut must: Vec<(Occur, Box<dyn Query>)> = Vec::new();
        let mut filter = |field: Field, values: Vec<String>| {
            if values.is_empty() {
                return;
            }
            let alternatives: Vec<(Occur, Box<dyn Query>)> = values
                .iter()
                .map(|value| {
                    let term = Term::from_field_text(field, value);
                    let query: Box<dyn Query> =
                        Box::new(TermQuery::new(term, IndexRecordOption::Basic));
                    (Occur::Should, query)
                })
                .collect();
            let any_of = BooleanQuery::new(alternatives);
            must.push((
                Occur::Must,
                Box::new(ConstScoreQuery::new(Box::new(any_of), 0.0)),
            ));
        };
        filter(fields.country, strings(&filters.country));
        filter(fields.lang, strings(&filters.lang));
        filter(fields.kind, strings(&filters.kind));
        filter(fields.theme, strings(&filters.theme));
        filter(fields.target_group, strings(&filters.target_group));
        filter(
            fields.origin,
            filters.origin.iter().map(NodeId::to_hex).collect(),
        );
        if filters.year_from.is_some() || filters.year_to.is_some() {
            let bound = |year: Option<i64>| match year {
                Some(year) => Bound::Included(Term::from_field_i64(fields.year, year)),
                None => Bound::Unbounded,
            };
            let range = RangeQuery::new(bound(filters.year_from), bound(filters.year_to));
            must.push((
                Occur::Must,
                Box::new(ConstScoreQuery::new(Box::new(range), 0.0)),
            ));
        }
        must
    }

    fn facet_term(&self, facet: FacetLink) -> (Field, String) {
        let fields = &self.fields;
        match facet {
            FacetLink::Country(country) => (fields.country, country.as_str().to_string()),
            FacetLink::Theme(theme) => (fields.theme, theme.as_str().to_string()),
            FacetLink::Kind(kind) => (fields.kind, kind.as_str().to_string()),
            FacetLink::TargetGroup(group) => (fields.target_group, group.as_str().to_string()),
        }
    }

    fn hit(
        &self,
        searcher: &tantivy::Searcher,
        address: DocAddress,
        score: f32,
        analyzed: &AnalyzedQuery,
    ) -> Result<Hit, SearchError> {
        let document: TantivyDocument = searcher.doc(address)?;
        let fields = &self.fields;
        let text_of = |field: Field| {
            document
                .get_first(field)
                .and_then(|value| value.as_str())
                .unwrap_or_default()
                .to_string()
        };
        let content: RecordContent =
            serde_json::from_str(&text_of(fields.content_json)).map_err(|e| {
                SearchError::Index(tantivy::TantivyError::InvalidArgument(format!(
                    "stored record content: {e}"
                )))
            })?;
        let record_concepts: HashSet<String> = document
            .get_all(fields.concepts)
            .filter_map(|value| value.as_str().map(str::to_string))
            .collect();
        let shared_concepts: Vec<usize> = analyzed
            .concepts
            .iter()
            .copied()
            .filter(|&concept| record_concepts.contains(&self.glossary.concept(concept).id))
            .collect();
        // Concepts of the record that are kinds of a query concept it does
        // not carry itself: (record concept, query concept).
        let narrower: Vec<(usize, usize)> = record_concepts
            .iter()
            .filter_map(|id| self.glossary.find(id))
            .flat_map(|concept| {
                self.glossary
                    .ancestors(concept)
                    .iter()
                    .filter(|ancestor| {
                        analyzed.concepts.contains(ancestor) && !shared_concepts.contains(ancestor)
                    })
                    .map(move |&ancestor| (concept, ancestor))
            })
            .collect();
        let explanation = self.explain(&content, analyzed, &shared_concepts, &narrower);
        let version = document
            .get_first(fields.version)
            .and_then(|value| value.as_u64())
            .unwrap_or(0);
        Ok(Hit {
            origin: text_of(fields.origin),
            id: text_of(fields.id),
            version,
            title: content.title.clone(),
            snippet: explanation.snippet,
            lang: content.lang.as_str().to_string(),
            country: content.country.as_str().to_string(),
            kind: content.kind.as_str().to_string(),
            themes: content
                .themes
                .iter()
                .map(|t| t.as_str().to_string())
                .collect(),
            year: content.year_start,
            score,
            matched_via: explanation.matched_via,
            display: explanation.display,
        })
    }

    /// Finds which texts carried the match and cuts the snippet.
    fn explain(
        &self,
        content: &RecordContent,
        analyzed: &AnalyzedQuery,
        shared_concepts: &[usize],
        narrower: &[(usize, usize)],
    ) -> Explanation {
        // Narrower concepts are highlighted like shared ones, weighted by the
        // specificity of the query concept they stand for.
        let mut highlighted: Vec<usize> = shared_concepts.to_vec();
        let mut weights = analyzed.concept_weights.clone();
        for &(concept, broader) in narrower {
            highlighted.push(concept);
            let weight = weights.get(&broader).copied().unwrap_or(1);
            weights.entry(concept).or_insert(weight);
        }
        let shared_concepts = &highlighted[..];
        let texts = RecordTexts::of(content).0;
        let mut folded_chain = folded_analyzer();
        let mut word_matches: Vec<Candidate> = Vec::new();
        for (index, text) in texts.iter().enumerate() {
            let chain_lang = AnalyzerLang::for_tag(text.lang);
            let mut chain = analyzer(chain_lang, self.config);
            let query_terms = &analyzed.terms[&chain_lang];
            let mut highlights = Vec::new();
            let mut distinct: HashSet<String> = HashSet::new();
            for token in analyze(&mut chain, &text.text, EXPLAIN_TOKENS_MAX) {
                if query_terms.contains(&token.term) {
                    highlights.push((token.from, token.to, WORD_HIGHLIGHT_WEIGHT));
                    distinct.insert(token.term);
                }
            }
            for token in analyze(&mut folded_chain, &text.text, EXPLAIN_TOKENS_MAX) {
                if analyzed.folded_terms.contains(&token.term) {
                    highlights.push((token.from, token.to, WORD_HIGHLIGHT_WEIGHT));
                    distinct.insert(token.term);
                }
            }
            if !highlights.is_empty() {
                word_matches.push(Candidate {
                    text: index,
                    highlights,
                    weight: distinct.len() as u64,
                });
            }
        }
        // Concept terms are highlighted in the record's own language.
        let mut concept_matches: Vec<Candidate> = Vec::new();
        if !shared_concepts.is_empty() {
            for (index, text) in texts.iter().enumerate().filter(|(_, t)| !t.translated) {
                let found: Vec<_> = self
                    .glossary
                    .find_in(text.lang, &text.text, EXPLAIN_TOKENS_MAX)
                    .into_iter()
                    .filter(|found| shared_concepts.contains(&found.concept))
                    .collect();
                let distinct: BTreeSet<usize> = found.iter().map(|f| f.concept).collect();
                let specificity: u64 = distinct
                    .iter()
                    .map(|concept| weights.get(concept).copied().unwrap_or(1))
                    .sum();
                if !found.is_empty() {
                    concept_matches.push(Candidate {
                        text: index,
                        highlights: found
                            .iter()
                            .map(|f| {
                                let weight = weights.get(&f.concept).copied().unwrap_or(1);
                                (f.from, f.to, weight)
                            })
                            .collect(),
                        weight: specificity,
                    });
                }
            }
        }
        let part_rank = |index: usize| match texts[index].part {
            TextPart::Summary => 0,
            TextPart::Body => 1,
            TextPart::Title => 2,
            TextPart::Extra => 3,
        };
        // The most distinct query words (or concepts); then summary, body,
        // title, metadata; then the earliest text.
        let best = |candidates: &mut dyn Iterator<Item = &Candidate>| {
            candidates
                .max_by_key(|c| (c.weight, Reverse(part_rank(c.text)), Reverse(c.text)))
                .cloned()
        };
        // Own texts with query words first, then own texts with concept
        // terms, then translations.
        let chosen = best(&mut word_matches.iter().filter(|c| !texts[c.text].translated))
            .map(|mut candidate| {
                for concept in concept_matches.iter().filter(|c| c.text == candidate.text) {
                    candidate
                        .highlights
                        .extend(concept.highlights.iter().copied());
                }
                candidate
            })
            .or_else(|| best(&mut concept_matches.iter()))
            .or_else(|| best(&mut word_matches.iter().filter(|c| texts[c.text].translated)));
        let snippet = match chosen {
            Some(candidate) => {
                snippet::cut_weighted(&texts[candidate.text].text, &candidate.highlights)
            }
            None => snippet::cut(&crate::index::markdown_text(&content.summary), &[]),
        };

        let mut matched_via = Vec::new();
        if word_matches.iter().any(|c| !texts[c.text].translated) {
            matched_via.push(MatchedVia::Text);
        }
        let translation_langs: BTreeSet<&str> = word_matches
            .iter()
            .filter(|c| texts[c.text].translated)
            .map(|c| texts[c.text].lang)
            .collect();
        for lang in translation_langs {
            matched_via.push(MatchedVia::Translation {
                lang: lang.to_string(),
            });
        }
        for &concept in &shared_concepts[..shared_concepts.len() - narrower.len()] {
            matched_via.push(MatchedVia::Concept {
                concept: self.glossary.concept(concept).id.clone(),
            });
        }
        for &(concept, broader) in narrower {
            matched_via.push(MatchedVia::NarrowerConcept {
                concept: self.glossary.concept(concept).id.clone(),
                broader: self.glossary.concept(broader).id.clone(),
            });
        }
        let display = self.display_text(content, analyzed, &texts, &word_matches);
        Explanation {
            snippet,
            matched_via,
            display,
        }
    }

    /// The hit in the first display language the record has a translation
    /// into (not its own language), its snippet from the translation's
    /// summary with the query's words marked.
    fn display_text(
        &self,
        content: &RecordContent,
        analyzed: &AnalyzedQuery,
        texts: &[crate::index::RecordText<'_>],
        word_matches: &[Candidate],
    ) -> Option<DisplayText> {
        let (lang, translation) = analyzed
            .display_langs
            .iter()
            .filter(|lang| **lang != content.lang)
            .find_map(|lang| content.translations.get_key_value(lang))?;
        let summary_text = texts.iter().position(|text| {
            text.translated && text.lang == lang.as_str() && text.part == TextPart::Summary
        });
        let snippet = match summary_text.and_then(|index| {
            word_matches
                .iter()
                .find(|candidate| candidate.text == index)
        }) {
            Some(candidate) => {
                snippet::cut_weighted(&texts[candidate.text].text, &candidate.highlights)
            }
            None => snippet::cut(&crate::index::markdown_text(&translation.summary), &[]),
        };
        Some(DisplayText {
            lang: lang.as_str().to_string(),
            title: translation.title.clone(),
            snippet,
            provenance: match translation.provenance {
                seednet_protocol::Provenance::Human => "human".into(),
                seednet_protocol::Provenance::Machine => "machine".into(),
            },
            reviewed: translation.reviewed,
        })
    }
}

/// A text of the hit and the byte ranges to highlight in it.
#[derive(Clone)]
struct Candidate {
    text: usize,
    /// Byte ranges with their weight ([`WORD_HIGHLIGHT_WEIGHT`] per query word; a concept's
    /// specificity for concept terms).
    highlights: Vec<(usize, usize, u64)>,
    /// Distinct query words found in the text, or the summed specificity
    /// of the distinct concepts found.
    weight: u64,
}

struct Explanation {
    snippet: Snippet,
    matched_via: Vec<MatchedVia>,
    display: Option<DisplayText>,
}

impl AnalyzedQuery {
    fn is_empty(&self) -> bool {
        self.concepts.is_empty()
            && self.folded_terms.is_empty()
            && self.terms.values().all(HashSet::is_empty)
    }
}

fn boosted(field: Field, text: &str, weight: f32, with_freqs: bool) -> Box<dyn Query> {
    let option = if with_freqs {
        IndexRecordOption::WithFreqs
    } else {
        IndexRecordOption::Basic
    };
    let term = TermQuery::new(Term::from_field_text(field, text), option);
    Box::new(BoostQuery::new(Box::new(term), weight))
}

fn strings<T: std::fmt::Display>(values: &[T]) -> Vec<String> {
    values.iter().map(ToString::to_string).collect()
}

/// The most frequent values of each facet, ties by value.
fn facets_from(facet_counts: &tantivy::collector::FacetCounts) -> Facets {
    let mut facets = Facets::default();
    for name in FACET_NAMES {
        let mut counts: Vec<FacetCount> = facet_counts
            .get(Facet::from_path([name]))
            .map(|(facet, count)| FacetCount {
                value: facet
                    .to_path()
                    .last()
                    .map(|segment| segment.to_string())
                    .unwrap_or_default(),
                count,
            })
            .collect();
        counts.sort_by(|a, b| b.count.cmp(&a.count).then_with(|| a.value.cmp(&b.value)));
        counts.truncate(FACET_VALUES_MAX);
        *facets_slot(&mut facets, name) = counts;
    }
    facets
}

fn facets_slot<'a>(facets: &'a mut Facets, name: &str) -> &'a mut Vec<FacetCount> {
    match name {
        "country" => &mut facets.country,
        "lang" => &mut facets.lang,
        "kind" => &mut facets.kind,
        "theme" => &mut facets.theme,
        "target_group" => &mut facets.target_group,
        "year" => &mut facets.year,
        _ => &mut facets.origin,
    }
}

/// Detects the query language among the first-class languages; `None` for
/// an empty query or when no language is likely.
pub fn detect_language(q: &str) -> Option<&'static str> {
    use whatlang::{Detector, Lang};
    if q.trim().is_empty() {
        return None;
    }
    let detector =
        Detector::with_allowlist(vec![Lang::Ita, Lang::Ell, Lang::Ron, Lang::Slv, Lang::Eng]);
    let info = detector.detect(q)?;
    let tag = match info.lang() {
        Lang::Ita => "it",
        Lang::Ell => "el",
        Lang::Ron => "ro",
        Lang::Slv => "sl",
        Lang::Eng => "en",
        _ => return None,
    };
    Some(tag)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn params_are_parsed_and_named_in_errors() {
        let request = SearchRequest::from_params([
            ("q", "co-design"),
            ("country", "IT,RO"),
            ("country", "SI"),
            ("year_from", "2020"),
            ("limit", "20"),
        ])
        .unwrap();
        assert_eq!(request.filters.country.len(), 3);
        assert_eq!(request.limit, 20);
        let field_of = |params: &[(&'static str, &'static str)]| {
            SearchRequest::from_params(params.iter().copied())
                .unwrap_err()
                .field()
        };
        assert_eq!(field_of(&[("country", "XX")]), Some("country"));
        assert_eq!(field_of(&[("theme", "cooking")]), Some("theme"));
        assert_eq!(field_of(&[("limit", "51")]), Some("limit"));
        assert_eq!(field_of(&[("limit", "0")]), Some("limit"));
        assert_eq!(field_of(&[("offset", "1001")]), Some("offset"));
        assert_eq!(
            field_of(&[("year_from", "2020"), ("year_to", "2019")]),
            Some("year_to")
        );
        assert_eq!(field_of(&[("origin", "abc")]), Some("origin"));
        assert_eq!(field_of(&[("bogus", "1")]), Some("query"));
        let long = "a".repeat(QUERY_CHARS_MAX + 1);
        assert_eq!(
            SearchRequest::from_params([("q", long.as_str())])
                .unwrap_err()
                .field(),
            Some("q")
        );
    }

    #[test]
    fn languages_are_detected_among_ours() {
        assert_eq!(
            detect_language("κοινωνική καινοτομία στην Ελλάδα"),
            Some("el")
        );
        assert_eq!(
            detect_language("valutazione dell'impatto sociale dei progetti"),
            Some("it")
        );
        assert_eq!(
            detect_language("digitalne veščine za starejše občane"),
            Some("sl")
        );
        assert_eq!(detect_language(""), None);
    }
}
