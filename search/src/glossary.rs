//! The multilingual concept glossary and the matcher built from it.
//!
//! Cross-language search has to work offline, with no model to download, and
//! be explainable to a civil servant ("this Romanian record matched because it
//! talks about *participatory budgeting*"). So the domain knowledge lives in a
//! reviewed data file, `search/data/glossary.toml`, compiled into the binary
//! with `include_str!`: concepts with a stable id and their terms (with common
//! inflected forms and synonyms) in each language.
//!
//! Matching happens on *analysed* token sequences: every glossary term goes
//! through the same chain as record texts of its language (stemming, stop
//! words) and is then accent-folded, so "valutazione d'impatto",
//! "valutazioni dell'impatto" and "valutazione dimpatto" typed without
//! accents all become the key `valutazion impatt`. The same matcher tags
//! record texts at index time (stored in the `concepts` field) and maps a
//! query to concepts at search time; the concept id is the bridge between
//! languages.
//!
//! Concepts can name a facet value (a country, a competence area, a kind or a
//! target group): a record carrying that value is tagged with the concept
//! even when its text never names it, and a query naming it boosts records
//! that carry it.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Mutex, OnceLock};

use seednet_protocol::{CountryCode, Kind, TargetGroup, Theme};
use serde::Deserialize;

use crate::analysis::{
    analyze, analyzer, fold_in_place, AnalysisConfig, AnalyzedToken, AnalyzerLang,
};

/// The shipped glossary source.
pub const GLOSSARY_TOML: &str = include_str!("../data/glossary.toml");

/// A glossary term longer than this many analysed tokens is ignored.
pub const TERM_TOKENS_MAX: usize = 8;

/// A facet value a concept stands for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum FacetLink {
    /// A country (the concept names the country).
    Country(CountryCode),
    /// A competence area.
    Theme(Theme),
    /// A record kind.
    Kind(Kind),
    /// A target group.
    TargetGroup(TargetGroup),
}

/// One concept: a stable id, its category, the facet value it stands for (if
/// any) and its terms per language tag.
#[derive(Debug, Clone)]
pub struct Concept {
    /// Stable id (`participatory-budgeting`), shown in `matched_via`.
    pub id: String,
    /// The glossary section it belongs to (method, policy area, ...).
    pub category: String,
    /// The facet value (theme, target group, kind) it stands for, if any.
    pub facet: Option<FacetLink>,
    /// Its terms by language tag; the first term of a language is its label.
    pub terms: BTreeMap<String, Vec<String>>,
    /// Indexes of the broader concepts it is a kind of (direct links only;
    /// see [`Glossary::ancestors`]).
    pub broader: Vec<usize>,
}

/// An error in the glossary source (a bug in shipped data: tests catch it).
#[derive(Debug, thiserror::Error)]
pub enum GlossaryError {
    #[error("glossary is not valid toml: {0}")]
    Toml(#[from] toml::de::Error),
    #[error("glossary concept {id:?}: {message}")]
    Concept { id: String, message: String },
}

/// A concept found in a text: which one and where (byte range).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConceptMatch {
    /// Index of the concept in [`Glossary::concepts`].
    pub concept: usize,
    /// Start of the matched words, in bytes of the text searched.
    pub from: usize,
    /// End (exclusive) of the matched words, in bytes.
    pub to: usize,
}

/// Folded analysed term sequences of one language, mapped to concepts.
#[derive(Default)]
struct TermMatcher {
    by_key: HashMap<String, Vec<usize>>,
    tokens_max: usize,
}

/// The loaded glossary with one matcher per language.
pub struct Glossary {
    concepts: Vec<Concept>,
    /// Every broader concept of each concept, transitively, nearest first.
    ancestors: Vec<Vec<usize>>,
    by_id: HashMap<String, usize>,
    by_facet: HashMap<FacetLink, usize>,
    matchers: BTreeMap<String, TermMatcher>,
    config: AnalysisConfig,
}

impl Glossary {
    /// The shipped glossary analysed with `config` (built once per config,
    /// then shared for the life of the process).
    pub fn builtin(config: AnalysisConfig) -> &'static Glossary {
        static BUILT: OnceLock<Mutex<HashMap<AnalysisConfig, &'static Glossary>>> = OnceLock::new();
        let built = BUILT.get_or_init(|| Mutex::new(HashMap::new()));
        let mut built = built
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        built.entry(config).or_insert_with(|| {
            let glossary =
                Glossary::parse(GLOSSARY_TOML, config).expect("the shipped glossary is valid");
            Box::leak(Box::new(glossary))
        })
    }

    /// Parses a glossary source and builds its matchers.
    pub fn parse(source: &str, config: AnalysisConfig) -> Result<Glossary, GlossaryError> {
        let concepts = parse_concepts(source)?;
        Ok(Glossary::from_concepts(concepts, config))
    }

    fn from_concepts(concepts: Vec<Concept>, config: AnalysisConfig) -> Glossary {
        let ancestors = ancestors_of(&concepts);
        let mut glossary = Glossary {
            ancestors,
            by_id: HashMap::new(),
            by_facet: HashMap::new(),
            matchers: BTreeMap::new(),
            concepts: Vec::new(),
            config,
        };
        for (index, concept) in concepts.iter().enumerate() {
            glossary.by_id.insert(concept.id.clone(), index);
            if let Some(facet) = concept.facet {
                glossary.by_facet.insert(facet, index);
            }
            for (lang, terms) in &concept.terms {
                let mut chain = analyzer(AnalyzerLang::for_tag(lang), config);
                let matcher = glossary.matchers.entry(lang.clone()).or_default();
                for term in terms {
                    let key = folded_key(&mut chain, term);
                    if key.is_empty() || key.len() > TERM_TOKENS_MAX {
                        continue;
                    }
                    matcher.tokens_max = matcher.tokens_max.max(key.len());
                    let ids = matcher.by_key.entry(key.join(" ")).or_default();
                    if !ids.contains(&index) {
                        ids.push(index);
                    }
                }
            }
        }
        glossary.concepts = concepts;
        glossary
    }

    /// Every concept, in glossary order (indexes are stable for one glossary).
    pub fn concepts(&self) -> &[Concept] {
        &self.concepts
    }

    /// The concept at `index` (from [`Glossary::find`] or a [`ConceptMatch`]);
    /// panics on an index this glossary did not give out.
    pub fn concept(&self, index: usize) -> &Concept {
        &self.concepts[index]
    }

    /// Every broader concept of the concept at `index` (its `broader`
    /// links, their links, and so on), nearest first: a record naming a
    /// narrower concept matches a query naming any of these.
    pub fn ancestors(&self, index: usize) -> &[usize] {
        &self.ancestors[index]
    }

    /// The index of the concept with id `id`.
    pub fn find(&self, id: &str) -> Option<usize> {
        self.by_id.get(id).copied()
    }

    /// The concept standing for a facet value, if the glossary has one.
    pub fn for_facet(&self, facet: FacetLink) -> Option<usize> {
        self.by_facet.get(&facet).copied()
    }

    /// Languages the glossary has terms for.
    pub fn languages(&self) -> impl Iterator<Item = &str> {
        self.matchers.keys().map(String::as_str)
    }

    /// Concepts mentioned in `text` written in language `lang`, with their
    /// byte ranges, in text order (overlapping matches are all kept).
    pub fn find_in(&self, lang: &str, text: &str, tokens_max: usize) -> Vec<ConceptMatch> {
        if !self.matchers.contains_key(lang) {
            return Vec::new();
        }
        let mut chain = analyzer(AnalyzerLang::for_tag(lang), self.config);
        let tokens = analyze(&mut chain, text, tokens_max);
        self.find_in_tokens(lang, tokens)
    }

    /// [`Glossary::find_in`] for a text already analysed with its language's
    /// chain (the indexer analyses each text once for both uses).
    pub fn find_in_tokens(&self, lang: &str, mut tokens: Vec<AnalyzedToken>) -> Vec<ConceptMatch> {
        let Some(matcher) = self.matchers.get(lang) else {
            return Vec::new();
        };
        for token in &mut tokens {
            fold_in_place(&mut token.term);
        }
        let mut found = Vec::new();
        let mut key = String::new();
        for start in 0..tokens.len() {
            key.clear();
            for end in start..tokens.len().min(start + matcher.tokens_max) {
                if end > start {
                    key.push(' ');
                }
                key.push_str(&tokens[end].term);
                if let Some(ids) = matcher.by_key.get(&key) {
                    for &concept in ids {
                        found.push(ConceptMatch {
                            concept,
                            from: tokens[start].from,
                            to: tokens[end].to,
                        });
                    }
                }
            }
        }
        found
    }
}

fn folded_key(chain: &mut tantivy::tokenizer::TextAnalyzer, term: &str) -> Vec<String> {
    analyze(chain, term, TERM_TOKENS_MAX + 1)
        .into_iter()
        .map(|mut token| {
            fold_in_place(&mut token.term);
            token.term
        })
        .collect()
}

/// The file shape (see the header of `search/data/glossary.toml`).
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct GlossaryFile {
    #[serde(rename = "concept")]
    concepts: Vec<ConceptEntry>,
}

#[derive(Deserialize)]
struct ConceptEntry {
    id: String,
    /// Ids of the broader concepts this one is a kind of.
    #[serde(default)]
    broader: Vec<String>,
    #[serde(flatten)]
    terms: BTreeMap<String, Vec<String>>,
}

fn parse_concepts(source: &str) -> Result<Vec<Concept>, GlossaryError> {
    let file: GlossaryFile = toml::from_str(source)?;
    let index_of: HashMap<String, usize> = file
        .concepts
        .iter()
        .enumerate()
        .map(|(index, entry)| (entry.id.clone(), index))
        .collect();
    let mut seen = HashMap::new();
    let mut concepts = Vec::with_capacity(file.concepts.len());
    for entry in file.concepts {
        let fail = |message: String| GlossaryError::Concept {
            id: entry.id.clone(),
            message,
        };
        if seen.insert(entry.id.clone(), ()).is_some() {
            return Err(fail("duplicate id".into()));
        }
        let Some((category, slug)) = entry.id.split_once(':') else {
            return Err(fail("id is not <category>:<slug>".into()));
        };
        if entry.terms.values().all(Vec::is_empty) {
            return Err(fail("no terms".into()));
        }
        for lang in entry.terms.keys() {
            if seednet_protocol::LanguageTag::parse(lang).is_none() {
                return Err(fail(format!("{lang:?} is not a language tag")));
            }
        }
        let mut broader = Vec::with_capacity(entry.broader.len());
        for id in &entry.broader {
            match index_of.get(id) {
                Some(_) if *id == entry.id => return Err(fail("is broader than itself".into())),
                Some(&index) => broader.push(index),
                None => return Err(fail(format!("broader concept {id:?} does not exist"))),
            }
        }
        concepts.push(Concept {
            facet: facet_of(category, slug),
            category: category.to_string(),
            id: entry.id,
            terms: entry.terms,
            broader,
        });
    }
    if let Some(cycle) = first_cycle(&concepts) {
        return Err(GlossaryError::Concept {
            id: concepts[cycle].id.clone(),
            message: "its broader links lead back to it".into(),
        });
    }
    Ok(concepts)
}

/// A concept on a cycle of broader links, if there is one.
fn first_cycle(concepts: &[Concept]) -> Option<usize> {
    // 0 = not visited, 1 = on the current path, 2 = done
    fn visit(concepts: &[Concept], index: usize, state: &mut [u8]) -> Option<usize> {
        match state[index] {
            1 => return Some(index),
            2 => return None,
            _ => {}
        }
        state[index] = 1;
        for &parent in &concepts[index].broader {
            if let Some(found) = visit(concepts, parent, state) {
                return Some(found);
            }
        }
        state[index] = 2;
        None
    }
    let mut state = vec![0u8; concepts.len()];
    (0..concepts.len()).find_map(|index| visit(concepts, index, &mut state))
}

/// Every concept's broader concepts, transitively, nearest first (the
/// links have no cycle: [`first_cycle`] refused those).
fn ancestors_of(concepts: &[Concept]) -> Vec<Vec<usize>> {
    (0..concepts.len())
        .map(|start| {
            let mut found: Vec<usize> = Vec::new();
            let mut frontier: Vec<usize> = concepts[start].broader.clone();
            while !frontier.is_empty() {
                let mut next = Vec::new();
                for index in frontier {
                    if !found.contains(&index) {
                        found.push(index);
                        next.extend(concepts[index].broader.iter().copied());
                    }
                }
                frontier = next;
            }
            found
        })
        .collect()
}

/// The facet value a concept id names: `theme:<slug>`, `kind:<slug>`,
/// `target:<slug>` (a controlled target group) and `country:<CC>`. Other
/// categories, and target groups outside the controlled list, name none.
fn facet_of(category: &str, slug: &str) -> Option<FacetLink> {
    match category {
        "theme" => slug.parse().ok().map(FacetLink::Theme),
        "kind" => slug.parse().ok().map(FacetLink::Kind),
        "target" => slug.parse().ok().map(FacetLink::TargetGroup),
        "country" => CountryCode::parse(slug).map(FacetLink::Country),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn glossary() -> &'static Glossary {
        Glossary::builtin(AnalysisConfig::default())
    }

    fn concept_ids(lang: &str, text: &str) -> Vec<String> {
        let glossary = glossary();
        let mut ids: Vec<String> = glossary
            .find_in(lang, text, 1_000)
            .into_iter()
            .map(|found| glossary.concept(found.concept).id.clone())
            .collect();
        ids.sort();
        ids.dedup();
        ids
    }

    #[test]
    fn shipped_glossary_is_complete() {
        let glossary = glossary();
        assert!(
            glossary.concepts().len() >= 400,
            "{}",
            glossary.concepts().len()
        );
        for concept in glossary.concepts() {
            for lang in crate::analysis::FIRST_CLASS {
                assert!(
                    concept
                        .terms
                        .get(lang)
                        .is_some_and(|terms| !terms.is_empty()),
                    "concept {} has no {lang} term",
                    concept.id
                );
            }
        }
        for theme in Theme::ALL {
            assert!(
                glossary.for_facet(FacetLink::Theme(*theme)).is_some(),
                "{theme}"
            );
        }
        for kind in Kind::ALL {
            assert!(
                glossary.for_facet(FacetLink::Kind(*kind)).is_some(),
                "{kind}"
            );
        }
        for group in TargetGroup::ALL {
            assert!(
                glossary.for_facet(FacetLink::TargetGroup(*group)).is_some(),
                "{group}"
            );
        }
        for country in ["IT", "GR", "RO", "SI"] {
            let code = CountryCode::parse(country).unwrap();
            assert!(
                glossary.for_facet(FacetLink::Country(code)).is_some(),
                "{country}"
            );
        }
    }

    #[test]
    fn a_query_maps_to_concepts_and_facets() {
        let ids = concept_ids("it", "valutazione d'impatto Romania");
        assert!(
            ids.contains(&"theme:impact-evaluation".to_string()),
            "{ids:?}"
        );
        assert!(ids.contains(&"country:RO".to_string()), "{ids:?}");
    }

    #[test]
    fn inflected_accentless_and_cedilla_forms_match() {
        let plain = concept_ids("ro", "dezvoltarea locală");
        assert!(!plain.is_empty());
        assert_eq!(concept_ids("ro", "dezvoltarea locala"), plain);
        let greek = concept_ids("el", "τοπική ανάπτυξη");
        assert!(!greek.is_empty());
        assert_eq!(concept_ids("el", "τοπικη αναπτυξη"), greek);
    }

    #[test]
    fn no_two_concepts_share_an_analysed_term() {
        // The glossary's rule, checked after analysis: a key that maps to two
        // concepts would tag texts with both.
        let glossary = glossary();
        for (lang, matcher) in &glossary.matchers {
            for (key, concepts) in &matcher.by_key {
                let ids: Vec<&str> = concepts
                    .iter()
                    .map(|&concept| glossary.concept(concept).id.as_str())
                    .collect();
                assert_eq!(ids.len(), 1, "{lang} term {key:?} belongs to {ids:?}");
            }
        }
    }

    #[test]
    fn a_bad_glossary_is_refused() {
        let duplicate = "[[concept]]\nid = \"field:a\"\nen = [\"alpha\"]\n[[concept]]\nid = \"field:a\"\nen = [\"beta\"]\n";
        assert!(Glossary::parse(duplicate, AnalysisConfig::default()).is_err());
        let no_category = "[[concept]]\nid = \"a\"\nen = [\"alpha\"]\n";
        assert!(Glossary::parse(no_category, AnalysisConfig::default()).is_err());
    }

    fn concept(id: &str, broader: &[&str], term: &str) -> String {
        let broader: Vec<String> = broader.iter().map(|b| format!("\"{b}\"")).collect();
        format!(
            "[[concept]]\nid = \"{id}\"\nbroader = [{}]\nen = [\"{term}\"]\n",
            broader.join(", ")
        )
    }

    #[test]
    fn broader_links_are_transitive_and_checked() {
        let source = [
            concept("field:care", &[], "care"),
            concept("policy:housing", &["field:care"], "housing"),
            concept("method:housing-first", &["policy:housing"], "housing first"),
        ]
        .concat();
        let glossary = Glossary::parse(&source, AnalysisConfig::default()).unwrap();
        let ids = |index: usize| -> Vec<&str> {
            glossary
                .ancestors(index)
                .iter()
                .map(|&a| glossary.concept(a).id.as_str())
                .collect()
        };
        let first = glossary.find("method:housing-first").unwrap();
        assert_eq!(ids(first), vec!["policy:housing", "field:care"]);
        assert!(ids(glossary.find("field:care").unwrap()).is_empty());

        let unknown = concept("policy:housing", &["field:nowhere"], "housing");
        assert!(Glossary::parse(&unknown, AnalysisConfig::default()).is_err());
        let itself = concept("policy:housing", &["policy:housing"], "housing");
        assert!(Glossary::parse(&itself, AnalysisConfig::default()).is_err());
        let cycle = [
            concept("field:a", &["field:b"], "alpha"),
            concept("field:b", &["field:a"], "beta"),
        ]
        .concat();
        assert!(Glossary::parse(&cycle, AnalysisConfig::default()).is_err());
    }

    #[test]
    fn the_shipped_glossary_links_methods_to_their_families() {
        let glossary = glossary();
        let housing_first = glossary.find("method:housing-first").unwrap();
        let housing = glossary.find("policy:housing").unwrap();
        let inclusion = glossary.find("policy:social-inclusion").unwrap();
        assert!(glossary.ancestors(housing_first).contains(&housing));
        assert!(glossary.ancestors(housing_first).contains(&inclusion));
    }
}
