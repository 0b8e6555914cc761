//! The index on disk: schema, lifecycle (open, detect, rebuild) and writes.
//!
//! Lifecycle. The index folder belongs to this crate. Beside tantivy's files
//! it holds [`STAMP_FILE`], written after the tantivy index is created, with
//! the schema version and the analysis switches. [`SearchIndex::open_or_create`]
//! reuses an index only if the stamp matches and tantivy opens it with valid
//! checksums; otherwise it wipes the folder and starts empty, and says why
//! ([`OpenState`]), so the node replays its storage into it.
//!
//! Writes. [`SearchIndex::upsert`] and [`SearchIndex::remove`] stage changes;
//! [`SearchIndex::commit`] makes them durable and searchable together with the
//! node's change sequence number of the last staged change (the tantivy commit
//! payload), so a crash between two commits resumes from the last committed
//! sequence number and re-applies the rest (upserts are idempotent). The node
//! batches: it commits after a batch or after about a second, never per
//! record.
//!
//! Fields. Each text is indexed in the fields of its language's analysis
//! chain (`title_it`, `summary_el`, `body_sl`, ..., generic `*_xx` for other
//! languages) and again in the folded fields (`*_fold`) that ignore accents.
//! Translations go to the fields of their own language. Facet values are
//! exact-match string fields (filters) and paths in one facet field (counts).

use std::borrow::Cow;
use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::{Mutex, MutexGuard};

use seednet_protocol::{NodeId, Record, RecordContent, RecordKey};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use tantivy::schema::{
    Facet, FacetOptions, Field, IndexRecordOption, NumericOptions, Schema, TextFieldIndexing,
    TextOptions, FAST, INDEXED, STORED, STRING,
};
use tantivy::tokenizer::{PreTokenizedString, Token, TokenStream};
use tantivy::{Index, IndexReader, IndexWriter, ReloadPolicy, TantivyDocument, Term};

use crate::analysis::{self, AnalysisConfig, AnalyzerLang, FOLDED_TOKENIZER};
use crate::glossary::{FacetLink, Glossary};
use crate::SearchError;

/// Bumped whenever the schema or the meaning of a field changes; an index
/// with another version is rebuilt.
pub const SCHEMA_VERSION: u32 = 5;
/// The stamp file beside tantivy's files.
pub const STAMP_FILE: &str = "seednet-search-schema";
/// Memory the tantivy writer may use before it flushes a segment.
pub const WRITER_MEMORY_BYTES: usize = 64 * 1024 * 1024;
/// The indexer commits at least this often while changes are pending, so a
/// publish is searchable within about a second.
pub const INDEXER_COMMIT_INTERVAL_MS: u64 = 1_000;
/// The indexer commits after this many staged changes even within the
/// interval (a full reindex commits at this pace and reports progress).
pub const INDEXER_BATCH_RECORDS_MAX: usize = 1_000;
/// Tokens of one text that the concept matcher looks at (the start of very
/// long bodies is enough to know what they are about).
pub const CONCEPT_SCAN_TOKENS_MAX: usize = 20_000;

/// How [`SearchIndex::open_or_create`] found the folder.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OpenState {
    /// There was no index: a new, empty one was created. Replay all records.
    Fresh,
    /// The existing index is reused; resume after [`SearchIndex::last_indexed_seq`].
    Reused,
    /// The existing index could not be used and was replaced by an empty one.
    /// Replay all records.
    RebuiltBecause(RebuildReason),
}

/// Why an existing folder could not be reused as it is.
enum CheckFailure {
    Rebuild(RebuildReason),
    Fatal(SearchError),
}

/// Why an existing index was thrown away.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RebuildReason {
    /// Tantivy files without our stamp (a crash during creation).
    StampMissing,
    /// The stamp names another schema version or other analysis switches.
    SchemaChanged {
        /// The stamp found in the folder.
        found: String,
    },
    /// Tantivy could not open the index or a file failed its checksum.
    Corrupt {
        /// What tantivy said.
        detail: String,
    },
}

impl std::fmt::Display for RebuildReason {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            RebuildReason::StampMissing => f.write_str("schema stamp missing"),
            RebuildReason::SchemaChanged { found } => {
                write!(
                    f,
                    "schema changed (found {found:?}, expected {:?})",
                    stamp_text(None)
                )
            }
            RebuildReason::Corrupt { detail } => write!(f, "index corrupt: {detail}"),
        }
    }
}

fn stamp_text(config: Option<AnalysisConfig>) -> String {
    let config = config.unwrap_or_default();
    format!(
        "seednet-search schema {SCHEMA_VERSION} sl-stemmer={} concepts={}",
        config.slovenian_stemmer, config.concepts
    )
}

/// The text fields of one analysis chain.
#[derive(Debug, Clone, Copy)]
pub(crate) struct TextFields {
    pub title: Field,
    pub summary: Field,
    pub body: Field,
}

/// Every field of the schema, resolved once.
#[derive(Debug, Clone)]
pub(crate) struct Fields {
    pub key: Field,
    pub origin: Field,
    pub id: Field,
    pub version: Field,
    pub lang: Field,
    pub country: Field,
    pub kind: Field,
    pub theme: Field,
    pub target_group: Field,
    pub year: Field,
    pub tiebreak: Field,
    /// The record language as a number ([`lang_key_of`]), a fast field for
    /// ranking each language's hits against their own best.
    pub lang_key: Field,
    pub facets: Field,
    pub concepts: Field,
    /// Ids of the broader concepts of the record's concepts (not its own):
    /// a query naming a family of methods finds a record naming one of them.
    pub broader_concepts: Field,
    pub content_json: Field,
    pub by_lang: Vec<(AnalyzerLang, TextFields)>,
    pub folded: TextFields,
}

impl Fields {
    pub fn text(&self, lang: AnalyzerLang) -> TextFields {
        self.by_lang
            .iter()
            .find(|(candidate, _)| *candidate == lang)
            .map(|(_, fields)| *fields)
            .expect("every analyzer language has fields")
    }
}

fn build_schema() -> (Schema, Fields) {
    let mut builder = Schema::builder();
    let text = |tokenizer: &str| {
        TextOptions::default().set_indexing_options(
            TextFieldIndexing::default()
                .set_tokenizer(tokenizer)
                .set_index_option(IndexRecordOption::WithFreqsAndPositions),
        )
    };
    let mut by_lang = Vec::new();
    for lang in AnalyzerLang::ALL {
        let name = lang.tokenizer_name();
        let code = lang.code();
        let fields = TextFields {
            title: builder.add_text_field(&format!("title_{code}"), text(&name)),
            summary: builder.add_text_field(&format!("summary_{code}"), text(&name)),
            body: builder.add_text_field(&format!("body_{code}"), text(&name)),
        };
        by_lang.push((lang, fields));
    }
    let folded = TextFields {
        title: builder.add_text_field("title_fold", text(FOLDED_TOKENIZER)),
        summary: builder.add_text_field("summary_fold", text(FOLDED_TOKENIZER)),
        body: builder.add_text_field("body_fold", text(FOLDED_TOKENIZER)),
    };
    let fields = Fields {
        key: builder.add_text_field("key", STRING | STORED),
        origin: builder.add_text_field("origin", STRING | STORED),
        id: builder.add_text_field("id", STRING | STORED),
        version: builder.add_u64_field("version", STORED),
        lang: builder.add_text_field("lang", STRING | STORED),
        country: builder.add_text_field("country", STRING | STORED),
        kind: builder.add_text_field("kind", STRING | STORED),
        theme: builder.add_text_field("theme", STRING | STORED),
        target_group: builder.add_text_field("target_group", STRING | STORED),
        year: builder.add_i64_field(
            "year",
            NumericOptions::default()
                .set_indexed()
                .set_stored()
                .set_fast(),
        ),
        tiebreak: builder.add_u64_field("tiebreak", FAST | INDEXED),
        lang_key: builder.add_u64_field("lang_key", FAST),
        facets: builder.add_facet_field("facets", FacetOptions::default()),
        concepts: builder.add_text_field("concepts", STRING | STORED),
        broader_concepts: builder.add_text_field("broader_concepts", STRING | STORED),
        content_json: builder.add_text_field("content_json", STORED),
        by_lang,
        folded,
    };
    (builder.build(), fields)
}

/// The key term of a record: `origin-hex/id`.
pub(crate) fn key_text(key: &RecordKey) -> String {
    format!("{}/{}", key.origin.to_hex(), key.id)
}

/// A stable number per record key for deterministic tie-breaking of equal
/// scores (the same on every node and after every rebuild).
pub(crate) fn tiebreak_of(key: &RecordKey) -> u64 {
    let digest = Sha256::digest(key_text(key).as_bytes());
    u64::from_be_bytes(digest[..8].try_into().expect("8 bytes"))
}

/// A number per language tag, the same on every node: the tag's bytes
/// (lowercase ASCII, at most 8 of them; longer tags share their first 8).
pub(crate) fn lang_key_of(tag: &str) -> u64 {
    let mut bytes = [0u8; 8];
    for (slot, byte) in bytes.iter_mut().zip(tag.bytes()) {
        *slot = byte.to_ascii_lowercase();
    }
    u64::from_be_bytes(bytes)
}

#[derive(Serialize, Deserialize)]
struct CommitPayload {
    last_indexed_seq: u64,
}

struct WriterState {
    writer: IndexWriter,
    staged_seq: Option<u64>,
}

/// The search index of one node. Share it behind an `Arc`: every method
/// takes `&self`; writes are serialised by an internal lock, searches run
/// concurrently on the last committed state.
pub struct SearchIndex {
    pub(crate) reader: IndexReader,
    pub(crate) fields: Fields,
    pub(crate) config: AnalysisConfig,
    pub(crate) glossary: &'static Glossary,
    writer: Mutex<WriterState>,
    committed_seq: Mutex<u64>,
    dir: PathBuf,
}

impl SearchIndex {
    /// Opens the index in `dir`, creating or rebuilding it as needed (see
    /// [`OpenState`]). Uses the default analysis.
    pub fn open_or_create(dir: &Path) -> Result<(SearchIndex, OpenState), SearchError> {
        SearchIndex::open_or_create_with(dir, AnalysisConfig::default())
    }

    /// [`SearchIndex::open_or_create`] with explicit analysis switches (an
    /// index built with other switches is rebuilt).
    pub fn open_or_create_with(
        dir: &Path,
        config: AnalysisConfig,
    ) -> Result<(SearchIndex, OpenState), SearchError> {
        let io_error = |source| SearchError::Directory {
            path: dir.display().to_string(),
            source,
        };
        fs::create_dir_all(dir).map_err(io_error)?;
        let is_empty = fs::read_dir(dir).map_err(io_error)?.next().is_none();
        if is_empty {
            let index = SearchIndex::create(dir, config)?;
            return Ok((index, OpenState::Fresh));
        }
        let reason = match SearchIndex::check_existing(dir, config) {
            Ok(index) => return Ok((index, OpenState::Reused)),
            Err(CheckFailure::Rebuild(reason)) => reason,
            Err(CheckFailure::Fatal(error)) => return Err(error),
        };
        let looks_like_ours = dir.join(STAMP_FILE).exists() || dir.join("meta.json").exists();
        if !looks_like_ours {
            return Err(SearchError::ForeignDirectory {
                path: dir.display().to_string(),
            });
        }
        tracing::warn!(dir = %dir.display(), reason = %reason, "rebuilding search index");
        fs::remove_dir_all(dir).map_err(io_error)?;
        fs::create_dir_all(dir).map_err(io_error)?;
        let index = SearchIndex::create(dir, config)?;
        Ok((index, OpenState::RebuiltBecause(reason)))
    }

    fn check_existing(dir: &Path, config: AnalysisConfig) -> Result<SearchIndex, CheckFailure> {
        let stamp = match fs::read_to_string(dir.join(STAMP_FILE)) {
            Ok(stamp) => stamp,
            Err(_) => return Err(CheckFailure::Rebuild(RebuildReason::StampMissing)),
        };
        if stamp.trim() != stamp_text(Some(config)) {
            return Err(CheckFailure::Rebuild(RebuildReason::SchemaChanged {
                found: stamp.trim().chars().take(200).collect(),
            }));
        }
        let corrupt = |detail: String| CheckFailure::Rebuild(RebuildReason::Corrupt { detail });
        let index = Index::open_in_dir(dir).map_err(|e| corrupt(e.to_string()))?;
        let damaged = index
            .validate_checksum()
            .map_err(|e| corrupt(e.to_string()))?;
        if !damaged.is_empty() {
            let names: Vec<String> = damaged.iter().map(|p| p.display().to_string()).collect();
            return Err(corrupt(format!(
                "checksum mismatch in {}",
                names.join(", ")
            )));
        }
        let (_, fields) = build_schema();
        SearchIndex::from_index(index, fields, dir, config).map_err(|error| match error {
            // Another writer holds the folder (a second node process on the
            // same data directory): never wipe it.
            SearchError::Index(tantivy::TantivyError::LockFailure(..)) => {
                CheckFailure::Fatal(SearchError::Locked {
                    path: dir.display().to_string(),
                })
            }
            other => corrupt(other.to_string()),
        })
    }

    fn create(dir: &Path, config: AnalysisConfig) -> Result<SearchIndex, SearchError> {
        let (schema, fields) = build_schema();
        let index = Index::create_in_dir(dir, schema)?;
        let search_index = SearchIndex::from_index(index, fields, dir, config)?;
        write_stamp(dir, config).map_err(|source| SearchError::Directory {
            path: dir.display().to_string(),
            source,
        })?;
        Ok(search_index)
    }

    fn from_index(
        index: Index,
        fields: Fields,
        dir: &Path,
        config: AnalysisConfig,
    ) -> Result<SearchIndex, SearchError> {
        analysis::register(index.tokenizers(), config);
        let expected = build_schema().0;
        if index.schema() != expected {
            return Err(SearchError::Index(tantivy::TantivyError::SchemaError(
                "schema differs from this version's schema".into(),
            )));
        }
        let committed_seq = read_payload_seq(&index)?;
        let reader = index
            .reader_builder()
            .reload_policy(ReloadPolicy::Manual)
            .try_into()?;
        let writer = index.writer_with_num_threads(1, WRITER_MEMORY_BYTES)?;
        Ok(SearchIndex {
            glossary: Glossary::builtin(config),
            reader,
            fields,
            config,
            writer: Mutex::new(WriterState {
                writer,
                staged_seq: None,
            }),
            committed_seq: Mutex::new(committed_seq),
            dir: dir.to_path_buf(),
        })
    }

    /// The folder of this index.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The node's change sequence number of the last committed change (0 for
    /// a new index): resume tailing after it.
    pub fn last_indexed_seq(&self) -> u64 {
        *lock(&self.committed_seq)
    }

    /// Stages `record` (the version the node stores at change `seq`): a live
    /// version replaces whatever the index had for its key, a tombstone
    /// removes it. Visible after [`SearchIndex::commit`].
    pub fn upsert(&self, record: &Record, seq: u64) -> Result<(), SearchError> {
        let Some(content) = record.content() else {
            return self.remove(&record.key, seq);
        };
        let document = self.document(record, content);
        let mut state = lock(&self.writer);
        state.writer.delete_term(Term::from_field_text(
            self.fields.key,
            &key_text(&record.key),
        ));
        state.writer.add_document(document)?;
        state.staged_seq = Some(seq);
        Ok(())
    }

    /// Stages the removal of a record (its tombstone arrived at change `seq`).
    pub fn remove(&self, key: &RecordKey, seq: u64) -> Result<(), SearchError> {
        let mut state = lock(&self.writer);
        state
            .writer
            .delete_term(Term::from_field_text(self.fields.key, &key_text(key)));
        state.staged_seq = Some(seq);
        Ok(())
    }

    /// Stages the removal of every record of `origin` (an admin purged them
    /// from storage); the indexed sequence number does not move.
    pub fn remove_origin(&self, origin: &NodeId) -> Result<(), SearchError> {
        let mut state = lock(&self.writer);
        state
            .writer
            .delete_term(Term::from_field_text(self.fields.origin, &origin.to_hex()));
        if state.staged_seq.is_none() {
            state.staged_seq = Some(self.last_indexed_seq());
        }
        Ok(())
    }

    /// Stages the removal of every record, for a full reindex from storage;
    /// the sequence number restarts at 0 when committed.
    pub fn clear(&self) -> Result<(), SearchError> {
        let mut state = lock(&self.writer);
        state.writer.delete_all_documents()?;
        state.staged_seq = Some(0);
        Ok(())
    }

    /// Makes staged changes durable and searchable; returns the last indexed
    /// sequence number. A commit with nothing staged is a cheap no-op.
    pub fn commit(&self) -> Result<u64, SearchError> {
        let mut state = lock(&self.writer);
        let Some(seq) = state.staged_seq else {
            return Ok(self.last_indexed_seq());
        };
        let payload = serde_json::to_string(&CommitPayload {
            last_indexed_seq: seq,
        })
        .expect("payload serialises");
        let mut prepared = state.writer.prepare_commit()?;
        prepared.set_payload(&payload);
        prepared.commit()?;
        state.staged_seq = None;
        *lock(&self.committed_seq) = seq;
        drop(state);
        self.reader.reload()?;
        tracing::debug!(last_indexed_seq = seq, "search index committed");
        Ok(seq)
    }

    /// Number of records in the committed index.
    pub fn record_count(&self) -> u64 {
        self.reader.searcher().num_docs()
    }

    fn document(&self, record: &Record, content: &RecordContent) -> TantivyDocument {
        let fields = &self.fields;
        let mut document = TantivyDocument::default();
        document.add_text(fields.key, key_text(&record.key));
        document.add_text(fields.origin, record.key.origin.to_hex());
        document.add_text(fields.id, record.key.id.as_str());
        document.add_u64(fields.version, record.version);
        document.add_text(fields.lang, content.lang.as_str());
        document.add_text(fields.country, content.country.as_str());
        document.add_text(fields.kind, content.kind.as_str());
        document.add_i64(fields.year, content.year_start);
        document.add_u64(fields.tiebreak, tiebreak_of(&record.key));
        document.add_u64(fields.lang_key, lang_key_of(content.lang.as_str()));
        let facet_paths = [
            ("country", content.country.as_str().to_string()),
            ("lang", content.lang.as_str().to_string()),
            ("kind", content.kind.as_str().to_string()),
            ("year", content.year_start.to_string()),
            ("origin", record.key.origin.to_hex()),
        ];
        for (facet, value) in facet_paths {
            document.add_facet(fields.facets, Facet::from_path([facet, value.as_str()]));
        }
        for theme in &content.themes {
            document.add_text(fields.theme, theme.as_str());
            document.add_facet(fields.facets, Facet::from_path(["theme", theme.as_str()]));
        }
        for group in &content.target_groups {
            document.add_text(fields.target_group, group.as_str());
            document.add_facet(
                fields.facets,
                Facet::from_path(["target_group", group.as_str()]),
            );
        }

        let texts = RecordTexts::of(content);
        let mut concepts: Vec<usize> = Vec::new();
        for text in &texts.0 {
            let lang_fields = fields.text(AnalyzerLang::for_tag(text.lang));
            let (target, folded) = match text.part {
                TextPart::Title => (lang_fields.title, fields.folded.title),
                TextPart::Summary => (lang_fields.summary, fields.folded.summary),
                TextPart::Body | TextPart::Extra => (lang_fields.body, fields.folded.body),
            };
            // Analysed once: the tokens feed the language field and the
            // concept matcher.
            let mut chain = analysis::analyzer(AnalyzerLang::for_tag(text.lang), self.config);
            let mut stream = chain.token_stream(&text.text);
            let mut tokens: Vec<Token> = Vec::new();
            while stream.advance() {
                tokens.push(stream.token().clone());
            }
            drop(stream);
            if self.config.concepts {
                let scanned = tokens
                    .iter()
                    .take(CONCEPT_SCAN_TOKENS_MAX)
                    .map(|token| analysis::AnalyzedToken {
                        term: token.text.clone(),
                        from: token.offset_from,
                        to: token.offset_to,
                    })
                    .collect();
                for found in self.glossary.find_in_tokens(text.lang, scanned) {
                    concepts.push(found.concept);
                }
            }
            document.add_pre_tokenized_text(
                target,
                PreTokenizedString {
                    text: text.text.to_string(),
                    tokens,
                },
            );
            document.add_text(folded, text.text.as_ref());
        }
        for facet in facet_links(content)
            .into_iter()
            .filter(|_| self.config.concepts)
        {
            if let Some(concept) = self.glossary.for_facet(facet) {
                concepts.push(concept);
            }
        }
        concepts.sort_unstable();
        concepts.dedup();
        let mut broader: Vec<usize> = concepts
            .iter()
            .flat_map(|&concept| self.glossary.ancestors(concept).iter().copied())
            .filter(|ancestor| concepts.binary_search(ancestor).is_err())
            .collect();
        broader.sort_unstable();
        broader.dedup();
        for concept in concepts {
            document.add_text(fields.concepts, &self.glossary.concept(concept).id);
        }
        for concept in broader {
            document.add_text(fields.broader_concepts, &self.glossary.concept(concept).id);
        }
        let json = serde_json::to_string(content).expect("record content serialises");
        document.add_text(fields.content_json, json);
        document
    }
}

/// The facet values of a record that glossary concepts may stand for.
pub(crate) fn facet_links(content: &RecordContent) -> Vec<FacetLink> {
    let mut links = vec![
        FacetLink::Country(content.country),
        FacetLink::Kind(content.kind),
    ];
    links.extend(content.themes.iter().map(|theme| FacetLink::Theme(*theme)));
    links.extend(
        content
            .target_groups
            .iter()
            .map(|group| FacetLink::TargetGroup(*group)),
    );
    links
}

/// Which part of a record a text is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum TextPart {
    Title,
    Summary,
    /// The body and its sections.
    Body,
    /// Short metadata texts (tags, region, organisations, programmes):
    /// indexed with the body, never preferred for snippets.
    Extra,
}

/// One searchable text of a record with its language.
pub(crate) struct RecordText<'a> {
    pub lang: &'a str,
    pub part: TextPart,
    /// Plain text: Markdown (bodies and sections) is reduced to its words,
    /// so that matches, snippets and highlights see what a reader sees.
    pub text: Cow<'a, str>,
    /// True for a translation, false for the record's own text.
    pub translated: bool,
}

/// Every searchable text of a record, originals first.
pub(crate) struct RecordTexts<'a>(pub Vec<RecordText<'a>>);

impl<'a> RecordTexts<'a> {
    pub fn of(content: &'a RecordContent) -> RecordTexts<'a> {
        let lang = content.lang.as_str();
        let own = |part, text| RecordText {
            lang,
            part,
            text,
            translated: false,
        };
        let mut texts = vec![
            own(TextPart::Title, Cow::Borrowed(content.title.as_str())),
            own(TextPart::Summary, markdown_text(&content.summary)),
            own(TextPart::Body, markdown_text(&content.body)),
        ];
        for (_, section) in content.sections.named() {
            if let Some(section) = section {
                texts.push(own(TextPart::Body, markdown_text(section)));
            }
        }
        let extras = content
            .region
            .iter()
            .chain(content.tags.iter())
            .chain(content.target_group_tags.iter())
            .map(String::as_str)
            .chain(content.organisations.iter().map(|o| o.name.as_str()))
            .chain(
                content
                    .funding
                    .iter()
                    .filter_map(|funding| funding.programme.as_deref()),
            );
        for extra in extras {
            texts.push(own(TextPart::Extra, Cow::Borrowed(extra)));
        }
        for (translation_lang, translation) in &content.translations {
            let translated = |part, text| RecordText {
                lang: translation_lang.as_str(),
                part,
                text,
                translated: true,
            };
            texts.push(translated(
                TextPart::Title,
                Cow::Borrowed(translation.title.as_str()),
            ));
            texts.push(translated(
                TextPart::Summary,
                markdown_text(&translation.summary),
            ));
            if let Some(body) = &translation.body {
                texts.push(translated(TextPart::Body, markdown_text(body)));
            }
        }
        RecordTexts(texts)
    }
}

/// The words of a Markdown text as a reader sees them: emphasis marks,
/// link targets, list bullets and heading hashes dropped, blocks separated
/// by line breaks. Text without Markdown syntax is returned as is.
pub(crate) fn markdown_text(text: &str) -> Cow<'_, str> {
    use pulldown_cmark::{Event, Parser, TagEnd};
    const SYNTAX: &[char] = &['*', '_', '#', '[', '`', '>', '-', '|', '<', '~', '!'];
    if !text.contains(SYNTAX)
        && !text.lines().any(|line| {
            let trimmed = line.trim_start();
            trimmed.starts_with(|c: char| c.is_ascii_digit()) && trimmed.contains(". ")
        })
    {
        return Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len());
    for event in Parser::new(text) {
        match event {
            Event::Text(words)
            | Event::Code(words)
            | Event::Html(words)
            | Event::InlineHtml(words) => out.push_str(&words),
            Event::SoftBreak | Event::HardBreak => out.push(' '),
            Event::End(
                TagEnd::Paragraph
                | TagEnd::Heading(_)
                | TagEnd::Item
                | TagEnd::TableCell
                | TagEnd::CodeBlock,
            ) if !out.ends_with('\n') => out.push('\n'),
            _ => {}
        }
    }
    Cow::Owned(out.trim_end().to_string())
}

fn read_payload_seq(index: &Index) -> Result<u64, SearchError> {
    let metas = index.load_metas()?;
    let Some(payload) = metas.payload else {
        return Ok(0);
    };
    let parsed: CommitPayload = serde_json::from_str(&payload).map_err(|e| {
        SearchError::Index(tantivy::TantivyError::InvalidArgument(format!(
            "commit payload: {e}"
        )))
    })?;
    Ok(parsed.last_indexed_seq)
}

fn write_stamp(dir: &Path, config: AnalysisConfig) -> std::io::Result<()> {
    let temporary = dir.join(format!("{STAMP_FILE}.tmp"));
    let mut file = fs::File::create(&temporary)?;
    file.write_all(stamp_text(Some(config)).as_bytes())?;
    file.sync_all()?;
    fs::rename(&temporary, dir.join(STAMP_FILE))?;
    Ok(())
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    // A panic while holding the lock leaves tantivy's writer usable (its own
    // state is transactional), so poisoning is not a reason to stop serving.
    mutex
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}
