//! # seednet-search
//!
//! Full-text and cross-language search over seednet records. This crate owns
//! the tantivy index and knows nothing of HTTP, sled or tokio: the node feeds
//! it records in its local change order and asks it questions, both through
//! plain synchronous calls (the node runs them on a dedicated indexing thread
//! or in `spawn_blocking`).
//!
//! The index is **derived state**: everything in it can be rebuilt from the
//! node's storage. [`SearchIndex::open_or_create`] says whether the index was
//! reused or had to be (re)built, and [`SearchIndex::last_indexed_seq`] says
//! where to resume tailing the node's change feed; the sequence number is
//! stored atomically with each tantivy commit.
//!
//! How a query finds records in other languages (per-language analysis,
//! accent folding, the concept glossary) and how hits are ranked and
//! explained is described in `docs/SEARCH.md`; the modules carry the details:
//! [`analysis`] (chains per language), [`slovenian`] (our light stemmer),
//! [`glossary`] (concepts and their matcher), [`index`] (schema, lifecycle,
//! writes), [`query`] (requests, responses, ranking, facets), [`snippet`].

#![forbid(unsafe_code)]
#![warn(missing_docs)]

mod analysis;
mod glossary;
mod index;
mod query;
mod semantic;
mod slovenian;
mod snippet;

pub use analysis::{AnalysisConfig, AnalyzerLang};
pub use glossary::{Concept, ConceptMatch, FacetLink, Glossary};
pub use index::{
    OpenState, RebuildReason, SearchIndex, INDEXER_BATCH_RECORDS_MAX, INDEXER_COMMIT_INTERVAL_MS,
    SCHEMA_VERSION,
};
pub use query::{
    detect_language, DisplayText, FacetCount, Facets, Hit, MatchedVia, QueryInfo, SearchFilters,
    SearchRequest, SearchResponse, SemanticQuery, DISPLAY_LANGS_MAX, FACET_VALUES_MAX,
    FILTER_VALUES_MAX, FUSION_CANDIDATES, LEXICAL_WEIGHT, LIMIT_DEFAULT, LIMIT_MAX, OFFSET_MAX,
    QUERY_CHARS_MAX, QUERY_TERMS_MAX, SEMANTIC_MIN_SIMILARITY, SEMANTIC_RELATIVE_MIN,
    SEMANTIC_WEIGHT,
};
pub use semantic::{
    builtin_reference_means, Passage, RecordVectors, SemanticMatch, VectorIndex, VectorsOpened,
    PASSAGES_PER_RECORD_MAX, REFERENCE_MEAN_WEIGHT, VECTOR_DIM, VECTOR_LOG_FILE,
};
pub use snippet::{Snippet, SnippetPart};

/// Why a search or an index operation failed.
#[derive(Debug, thiserror::Error)]
pub enum SearchError {
    /// A request parameter is invalid; `field` names the parameter as the
    /// HTTP API and the CLI spell it.
    #[error("invalid parameter {field}: {message}")]
    InvalidParameter {
        /// The parameter (`q`, `country`, `limit`, ...).
        field: &'static str,
        /// What is wrong with its value.
        message: String,
    },
    /// tantivy failed (I/O, a corrupt segment found while searching).
    #[error("search index error: {0}")]
    Index(#[from] tantivy::TantivyError),
    /// The index directory could not be prepared.
    #[error("search index directory {path}: {source}")]
    Directory {
        /// The folder.
        path: String,
        /// What the file system said.
        #[source]
        source: std::io::Error,
    },
    /// Another index writer (another process) holds the folder.
    #[error("search index {path} is in use by another process")]
    Locked {
        /// The folder.
        path: String,
    },
    /// The directory holds files that are not a seednet index; refusing to
    /// delete them.
    #[error("{path} is not empty and is not a seednet search index; refusing to overwrite it")]
    ForeignDirectory {
        /// The folder.
        path: String,
    },
}

impl SearchError {
    /// The parameter to name in a 400 error, for invalid requests.
    pub fn field(&self) -> Option<&'static str> {
        match self {
            SearchError::InvalidParameter { field, .. } => Some(field),
            _ => None,
        }
    }
}
