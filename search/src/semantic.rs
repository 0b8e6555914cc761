//! The semantic tier: one embedding per record text (title and summary, in
//! the record's language and in each translation), searched by cosine
//! similarity after removing each language's mean.
//!
//! Why centring: a multilingual sentence model places texts of one language
//! near each other whatever they say, so raw cosine prefers records in the
//! query's language. Subtracting, from every passage vector, the mean vector
//! of passages in *its* language removes most of that pull; queries need no
//! language. Means are kept as records arrive and blended with shipped
//! reference means while a language has few passages
//! ([`REFERENCE_MEAN_WEIGHT`]).
//!
//! The vectors are **derived state**, like the text index: computed by the
//! node from each record version, kept in their own folder
//! (`DATA_DIR/search-vectors`, which survives a rebuild of the text index
//! because embedding is the expensive part), checked on load and rebuilt
//! from storage when missing or written by another model.
//!
//! Memory: one `i8` per dimension and a scale per passage (about 400 bytes),
//! searched exactly (brute force). On disk: an append-only log of entries,
//! each with a checksum; a torn tail after a crash is cut off at load, and
//! the log is rewritten once superseded entries outweigh live ones.

use std::collections::HashMap;
use std::fs::{self, File, OpenOptions};
use std::io::{BufReader, BufWriter, Read, Write};
use std::path::{Path, PathBuf};
use std::sync::{Mutex, RwLock};

use seednet_protocol::{RecordId, RecordKey};
use sha2::{Digest, Sha256};

use crate::index::tiebreak_of;
use crate::SearchError;

/// Dimensions of a passage or query vector (multilingual-e5-small).
pub const VECTOR_DIM: usize = 384;
/// Most passages (own text plus translations) kept per record.
pub const PASSAGES_PER_RECORD_MAX: usize = 8;
/// Weight, in passages, of a language's shipped reference mean against the
/// passages this node holds in that language.
pub const REFERENCE_MEAN_WEIGHT: f64 = 8.0;
/// The log is rewritten once it holds this many times the live entries.
const COMPACT_RATIO: usize = 2;
/// Longest entry accepted when reading the log (a corrupt length stops the
/// read instead of allocating without bound).
const ENTRY_BYTES_MAX: usize = 64 * 1024;
/// File name of the log inside the vectors folder.
pub const VECTOR_LOG_FILE: &str = "vectors.log";
/// First bytes of the log: the format name and version.
const LOG_MAGIC: &[u8; 8] = b"SNVEC\x00\x01\x00";

/// The shipped reference means (`search/data/e5-reference-means.json`,
/// made by `embed/examples/reference_means.rs` from texts written apart from
/// the evaluation set): the mean multilingual-e5-small passage vector of each
/// language, by tag.
const REFERENCE_MEANS_JSON: &str = include_str!("../data/e5-reference-means.json");

/// The shipped reference means, for [`VectorIndex::open`].
pub fn builtin_reference_means() -> Vec<(String, Vec<f32>)> {
    let parsed: std::collections::BTreeMap<String, Vec<f32>> =
        serde_json::from_str(REFERENCE_MEANS_JSON).expect("the shipped means are JSON");
    parsed
        .into_iter()
        .filter(|(_, mean)| mean.len() == VECTOR_DIM)
        .collect()
}

/// One passage to index: its language tag and its unit-length vector.
#[derive(Debug, Clone, PartialEq)]
pub struct Passage {
    /// The language of the text (the record's, or a translation's).
    pub lang: String,
    /// The model's embedding of `passage: <title>\n<summary>`, L2-normalised.
    pub vector: Vec<f32>,
}

/// The vectors of one record version.
#[derive(Debug, Clone, PartialEq)]
pub struct RecordVectors {
    /// Which record.
    pub key: RecordKey,
    /// Which version the passages were computed from.
    pub version: u64,
    /// At most [`PASSAGES_PER_RECORD_MAX`] passages.
    pub passages: Vec<Passage>,
}

/// A passage vector quantised to one byte per dimension.
#[derive(Debug, Clone)]
struct QuantisedRow {
    /// Inline, so that the rows of the index lie in one allocation.
    values: [i8; VECTOR_DIM],
    /// Multiply `values` by this to get the vector back.
    scale: f32,
}

impl QuantisedRow {
    fn of(vector: &[f32]) -> QuantisedRow {
        let max = vector.iter().fold(0.0f32, |m, v| m.max(v.abs()));
        let scale = if max > 0.0 { max / 127.0 } else { 1.0 };
        let mut values = [0i8; VECTOR_DIM];
        for (value, v) in values.iter_mut().zip(vector) {
            *value = (v / scale).round().clamp(-127.0, 127.0) as i8;
        }
        QuantisedRow { values, scale }
    }

    fn dot(&self, other: &[f32]) -> f32 {
        // Eight independent sums, so the compiler keeps them in one vector
        // register instead of adding in order.
        const LANES: usize = 8;
        let mut sums = [0.0f32; LANES];
        for (values, others) in self
            .values
            .chunks_exact(LANES)
            .zip(other.chunks_exact(LANES))
        {
            for lane in 0..LANES {
                sums[lane] += f32::from(values[lane]) * others[lane];
            }
        }
        sums.iter().sum::<f32>() * self.scale
    }

    fn to_f32(&self) -> Vec<f32> {
        self.values
            .iter()
            .map(|&q| f32::from(q) * self.scale)
            .collect()
    }
}

/// One indexed passage: its language, its vector and the length of the
/// vector once its language's mean is removed.
#[derive(Debug, Clone)]
struct Row {
    lang: usize,
    vector: QuantisedRow,
    centred_norm: f32,
}

/// A record with vectors.
#[derive(Debug, Clone)]
struct Slot {
    key: RecordKey,
    version: u64,
    tiebreak: u64,
    rows: Vec<usize>,
}

/// A language's mean passage vector: the sum and count of its passages.
#[derive(Debug, Clone)]
struct LanguageMean {
    tag: String,
    sum: Vec<f64>,
    count: u64,
    reference: Option<Vec<f32>>,
    /// The mean rows were last centred with.
    applied: Vec<f32>,
}

impl LanguageMean {
    fn new(tag: &str, reference: Option<Vec<f32>>) -> LanguageMean {
        let applied = reference.clone().unwrap_or_else(|| vec![0.0; VECTOR_DIM]);
        LanguageMean {
            tag: tag.to_string(),
            sum: vec![0.0; VECTOR_DIM],
            count: 0,
            reference,
            applied,
        }
    }

    /// The current estimate: the observed mean, pulled towards the
    /// reference mean (or, for a language without one, towards no shift at
    /// all) while few passages are known, so that a node holding one record
    /// in a language does not subtract that record from itself.
    fn current(&self) -> Vec<f32> {
        let total = self.count as f64 + REFERENCE_MEAN_WEIGHT;
        (0..VECTOR_DIM)
            .map(|i| {
                let prior = self
                    .reference
                    .as_ref()
                    .map_or(0.0, |reference| f64::from(reference[i]));
                ((self.sum[i] + prior * REFERENCE_MEAN_WEIGHT) / total) as f32
            })
            .collect()
    }
}

/// The in-memory state behind [`VectorIndex`]'s lock.
#[derive(Default)]
struct State {
    slots: Vec<Option<Slot>>,
    by_key: HashMap<RecordKey, usize>,
    by_tiebreak: HashMap<u64, usize>,
    free_slots: Vec<usize>,
    rows: Vec<Option<Row>>,
    free_rows: Vec<usize>,
    langs: Vec<LanguageMean>,
    lang_by_tag: HashMap<String, usize>,
    /// Entries in the log, live or superseded.
    log_entries: usize,
}

/// A semantic match: the record, its similarity to the query (centred
/// cosine, −1 to 1) and which of its passages matched best.
#[derive(Debug, Clone, PartialEq)]
pub struct SemanticMatch {
    /// The record.
    pub key: RecordKey,
    /// The stable hash the text index breaks ties with (and filters by).
    pub tiebreak: u64,
    /// The best similarity over the record's passages.
    pub similarity: f32,
    /// The language of the passage that matched best.
    pub lang: String,
}

/// The vectors of a node's records, searchable by meaning. Share it behind
/// an `Arc`: reads run concurrently, writes are serialised.
pub struct VectorIndex {
    state: RwLock<State>,
    log: Mutex<LogWriter>,
    model_id: [u8; 32],
    dir: PathBuf,
}

struct LogWriter {
    file: BufWriter<File>,
}

/// What [`VectorIndex::open`] found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum VectorsOpened {
    /// No log: every record must be embedded.
    Fresh,
    /// The log was read; `entries` live records, `dropped_bytes` of torn
    /// tail cut off.
    Reused {
        /// Records whose vectors were read.
        records: usize,
        /// Bytes of a torn last entry cut off (a crash during an append).
        dropped_bytes: u64,
    },
    /// The log was written for another model (or is not ours): started over.
    Rebuilt,
}

impl VectorIndex {
    /// Opens (or creates) the vectors folder `dir` for the model with
    /// digest `model_id` (the SHA-256 of its file); `reference_means` are
    /// per-language mean vectors shipped with the node. Blocking.
    pub fn open(
        dir: &Path,
        model_id: [u8; 32],
        reference_means: &[(String, Vec<f32>)],
    ) -> Result<(VectorIndex, VectorsOpened), SearchError> {
        let io_error = |source| SearchError::Directory {
            path: dir.display().to_string(),
            source,
        };
        fs::create_dir_all(dir).map_err(io_error)?;
        let mut state = State::default();
        for (tag, mean) in reference_means {
            if mean.len() == VECTOR_DIM {
                let index = state.langs.len();
                state.langs.push(LanguageMean::new(tag, Some(mean.clone())));
                state.lang_by_tag.insert(tag.clone(), index);
            }
        }
        let path = dir.join(VECTOR_LOG_FILE);
        let opened = match read_log(&path, &model_id).map_err(io_error)? {
            LogRead::Missing => VectorsOpened::Fresh,
            LogRead::Foreign => {
                tracing::warn!(path = %path.display(), "vectors were written by another model or format; starting over");
                VectorsOpened::Rebuilt
            }
            LogRead::Entries {
                entries,
                good_len,
                file_len,
            } => {
                let count = entries.len();
                for entry in entries {
                    match entry {
                        LogEntry::Upsert(record) => state.upsert(record),
                        LogEntry::Remove(key) => state.remove(&key),
                    }
                }
                state.log_entries = count;
                if good_len < file_len {
                    let file = OpenOptions::new()
                        .write(true)
                        .open(&path)
                        .map_err(io_error)?;
                    file.set_len(good_len).map_err(io_error)?;
                    file.sync_all().map_err(io_error)?;
                    tracing::warn!(path = %path.display(), dropped = file_len - good_len, "torn end of the vectors log cut off");
                }
                VectorsOpened::Reused {
                    records: state.by_key.len(),
                    dropped_bytes: file_len - good_len,
                }
            }
        };
        state.recentre_all();
        let file = match opened {
            VectorsOpened::Reused { .. } => OpenOptions::new()
                .append(true)
                .open(&path)
                .map_err(io_error)?,
            _ => create_log(&path, &model_id).map_err(io_error)?,
        };
        Ok((
            VectorIndex {
                state: RwLock::new(state),
                log: Mutex::new(LogWriter {
                    file: BufWriter::new(file),
                }),
                model_id,
                dir: dir.to_path_buf(),
            },
            opened,
        ))
    }

    fn read(&self) -> std::sync::RwLockReadGuard<'_, State> {
        self.state
            .read()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    fn write(&self) -> std::sync::RwLockWriteGuard<'_, State> {
        self.state
            .write()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Records with vectors.
    pub fn record_count(&self) -> usize {
        self.read().by_key.len()
    }

    /// Passages indexed.
    pub fn passage_count(&self) -> usize {
        self.read().rows.iter().filter(|row| row.is_some()).count()
    }

    /// Every record with vectors.
    pub fn keys(&self) -> Vec<RecordKey> {
        self.read().by_key.keys().cloned().collect()
    }

    /// The records of `origin` with vectors.
    pub fn keys_of_origin(&self, origin: &seednet_protocol::NodeId) -> Vec<RecordKey> {
        self.read()
            .by_key
            .keys()
            .filter(|key| key.origin == *origin)
            .cloned()
            .collect()
    }

    /// The version whose vectors are held for `key`, if any.
    pub fn version_of(&self, key: &RecordKey) -> Option<u64> {
        let state = self.read();
        let slot = *state.by_key.get(key)?;
        state.slots[slot].as_ref().map(|slot| slot.version)
    }

    /// Keeps the vectors of a record version (replacing the older ones),
    /// appends them to the log and recentres its languages if their means
    /// moved. The log is flushed by [`VectorIndex::flush`]. Blocking.
    pub fn upsert(&self, record: RecordVectors) -> Result<(), SearchError> {
        let mut record = record;
        record.passages.truncate(PASSAGES_PER_RECORD_MAX);
        record
            .passages
            .retain(|passage| passage.vector.len() == VECTOR_DIM);
        self.append(&LogEntry::Upsert(record.clone()))?;
        let mut state = self.write();
        state.upsert(record);
        state.log_entries += 1;
        state.recentre_drifted();
        Ok(())
    }

    /// Forgets a record's vectors (it was deleted or purged). Blocking.
    pub fn remove(&self, key: &RecordKey) -> Result<(), SearchError> {
        if !self.read().by_key.contains_key(key) {
            return Ok(());
        }
        self.append(&LogEntry::Remove(key.clone()))?;
        let mut state = self.write();
        state.remove(key);
        state.log_entries += 1;
        Ok(())
    }

    fn append(&self, entry: &LogEntry) -> Result<(), SearchError> {
        let bytes = encode_entry(entry);
        let mut log = self.log.lock().unwrap_or_else(|p| p.into_inner());
        log.file.write_all(&bytes).map_err(|source| self.io(source))
    }

    fn io(&self, source: std::io::Error) -> SearchError {
        SearchError::Directory {
            path: self.dir.display().to_string(),
            source,
        }
    }

    /// Writes buffered log entries to the file and, when superseded
    /// entries outweigh live ones, rewrites the log. Blocking.
    pub fn flush(&self) -> Result<(), SearchError> {
        {
            let mut log = self.log.lock().unwrap_or_else(|p| p.into_inner());
            log.file.flush().map_err(|source| self.io(source))?;
        }
        let (live, entries) = {
            let state = self.read();
            (state.by_key.len(), state.log_entries)
        };
        if entries > COMPACT_RATIO * live.max(1) + 64 {
            self.compact()?;
        }
        Ok(())
    }

    /// Rewrites the log with the live records only (temporary file, fsync,
    /// rename).
    fn compact(&self) -> Result<(), SearchError> {
        let state = self.read();
        let path = self.dir.join(VECTOR_LOG_FILE);
        let temporary = self.dir.join(format!("{VECTOR_LOG_FILE}.compacting"));
        let mut out = BufWriter::new(
            create_log(&temporary, &self.model_id).map_err(|source| self.io(source))?,
        );
        let mut written = 0;
        for slot in state.slots.iter().flatten() {
            let record = RecordVectors {
                key: slot.key.clone(),
                version: slot.version,
                passages: slot
                    .rows
                    .iter()
                    .filter_map(|&row| state.rows[row].as_ref())
                    .map(|row| Passage {
                        lang: state.langs[row.lang].tag.clone(),
                        vector: row.vector.to_f32(),
                    })
                    .collect(),
            };
            out.write_all(&encode_entry(&LogEntry::Upsert(record)))
                .map_err(|source| self.io(source))?;
            written += 1;
        }
        let file = out
            .into_inner()
            .map_err(|error| self.io(error.into_error()))?;
        file.sync_all().map_err(|source| self.io(source))?;
        let mut log = self.log.lock().unwrap_or_else(|p| p.into_inner());
        fs::rename(&temporary, &path).map_err(|source| self.io(source))?;
        log.file = BufWriter::new(
            OpenOptions::new()
                .append(true)
                .open(&path)
                .map_err(|source| self.io(source))?,
        );
        drop(log);
        drop(state);
        self.write().log_entries = written;
        tracing::debug!(records = written, "vectors log compacted");
        Ok(())
    }

    /// The records most similar to `query` (a unit-length query vector),
    /// best first, at most `limit`, with a similarity of at least
    /// `min_similarity`.
    pub fn nearest(&self, query: &[f32], limit: usize, min_similarity: f32) -> Vec<SemanticMatch> {
        if query.len() != VECTOR_DIM || limit == 0 {
            return Vec::new();
        }
        let state = self.read();
        let shifts = state.query_shifts(query);
        let mut matches: Vec<SemanticMatch> = Vec::new();
        let mut scored: Vec<(f32, usize, usize)> = Vec::new();
        for (slot_index, slot) in state.slots.iter().enumerate() {
            let Some(slot) = slot else { continue };
            let best = slot
                .rows
                .iter()
                .filter_map(|&row| state.rows[row].as_ref())
                .map(|row| (state.similarity(row, query, &shifts), row.lang))
                .max_by(|a, b| a.0.total_cmp(&b.0));
            if let Some((similarity, lang)) = best {
                if similarity >= min_similarity {
                    scored.push((similarity, slot_index, lang));
                }
            }
        }
        if scored.len() > limit {
            scored.select_nth_unstable_by(limit, |a, b| b.0.total_cmp(&a.0));
            scored.truncate(limit);
        }
        for (similarity, slot_index, lang) in scored {
            if let Some(slot) = state.slots[slot_index].as_ref() {
                matches.push(SemanticMatch {
                    key: slot.key.clone(),
                    tiebreak: slot.tiebreak,
                    similarity,
                    lang: state.langs[lang].tag.clone(),
                });
            }
        }
        matches.sort_by(|a, b| {
            b.similarity
                .total_cmp(&a.similarity)
                .then(a.tiebreak.cmp(&b.tiebreak))
        });
        matches.truncate(limit);
        matches
    }

    /// The similarity of one record to `query` (its best passage), if it
    /// has vectors.
    pub fn similarity_of(&self, key: &RecordKey, query: &[f32]) -> Option<f32> {
        if query.len() != VECTOR_DIM {
            return None;
        }
        let state = self.read();
        let slot = state.slots[*state.by_key.get(key)?].as_ref()?;
        let shifts = state.query_shifts(query);
        slot.rows
            .iter()
            .filter_map(|&row| state.rows[row].as_ref())
            .map(|row| state.similarity(row, query, &shifts))
            .reduce(f32::max)
    }

    /// The similarity of the record whose key hash is `tiebreak` (the text
    /// index's tie-breaker), if it has vectors.
    pub fn similarity_by_tiebreak(&self, tiebreak: u64, query: &[f32]) -> Option<f32> {
        let key = {
            let state = self.read();
            let slot = *state.by_tiebreak.get(&tiebreak)?;
            state.slots[slot].as_ref()?.key.clone()
        };
        self.similarity_of(&key, query)
    }

    /// The current mean passage vector of each language (for the node to
    /// ship as reference means, and for tests).
    pub fn language_means(&self) -> Vec<(String, u64, Vec<f32>)> {
        self.read()
            .langs
            .iter()
            .map(|mean| (mean.tag.clone(), mean.count, mean.current()))
            .collect()
    }
}

impl State {
    fn lang_index(&mut self, tag: &str) -> usize {
        if let Some(&index) = self.lang_by_tag.get(tag) {
            return index;
        }
        let index = self.langs.len();
        self.langs.push(LanguageMean::new(tag, None));
        self.lang_by_tag.insert(tag.to_string(), index);
        index
    }

    fn upsert(&mut self, record: RecordVectors) {
        self.remove(&record.key);
        let slot_index = self.free_slots.pop().unwrap_or_else(|| {
            self.slots.push(None);
            self.slots.len() - 1
        });
        let mut rows = Vec::with_capacity(record.passages.len());
        for passage in &record.passages {
            let lang = self.lang_index(&passage.lang);
            let quantised = QuantisedRow::of(&passage.vector);
            let mean = &mut self.langs[lang];
            for (sum, value) in mean.sum.iter_mut().zip(&quantised.to_f32()) {
                *sum += f64::from(*value);
            }
            mean.count += 1;
            let centred_norm = centred_norm(&quantised, &mean.applied);
            let row = Row {
                lang,
                vector: quantised,
                centred_norm,
            };
            let row_index = match self.free_rows.pop() {
                Some(free) => {
                    self.rows[free] = Some(row);
                    free
                }
                None => {
                    self.rows.push(Some(row));
                    self.rows.len() - 1
                }
            };
            rows.push(row_index);
        }
        let tiebreak = tiebreak_of(&record.key);
        self.by_tiebreak.insert(tiebreak, slot_index);
        self.slots[slot_index] = Some(Slot {
            tiebreak,
            key: record.key.clone(),
            version: record.version,
            rows,
        });
        self.by_key.insert(record.key, slot_index);
    }

    fn remove(&mut self, key: &RecordKey) {
        let Some(slot_index) = self.by_key.remove(key) else {
            return;
        };
        if let Some(slot) = self.slots[slot_index].take() {
            self.by_tiebreak.remove(&slot.tiebreak);
            for row_index in slot.rows {
                if let Some(row) = self.rows[row_index].take() {
                    let mean = &mut self.langs[row.lang];
                    for (sum, value) in mean.sum.iter_mut().zip(&row.vector.to_f32()) {
                        *sum -= f64::from(*value);
                    }
                    mean.count = mean.count.saturating_sub(1);
                    self.free_rows.push(row_index);
                }
            }
        }
        self.free_slots.push(slot_index);
    }

    /// Recentres every language on its current mean.
    fn recentre_all(&mut self) {
        for lang in 0..self.langs.len() {
            self.recentre(lang);
        }
    }

    /// Recentres the languages whose mean moved noticeably since their
    /// rows were last centred (more than 2 % of a unit vector).
    fn recentre_drifted(&mut self) {
        for lang in 0..self.langs.len() {
            let current = self.langs[lang].current();
            let drift: f32 = current
                .iter()
                .zip(&self.langs[lang].applied)
                .map(|(a, b)| (a - b) * (a - b))
                .sum::<f32>()
                .sqrt();
            if drift > 0.02 {
                self.recentre(lang);
            }
        }
    }

    fn recentre(&mut self, lang: usize) {
        let mean = self.langs[lang].current();
        for row in self
            .rows
            .iter_mut()
            .flatten()
            .filter(|row| row.lang == lang)
        {
            row.centred_norm = centred_norm(&row.vector, &mean);
        }
        self.langs[lang].applied = mean;
    }

    /// `query · mean` for every language's applied mean.
    fn query_shifts(&self, query: &[f32]) -> Vec<f32> {
        self.langs
            .iter()
            .map(|mean| mean.applied.iter().zip(query).map(|(m, q)| m * q).sum())
            .collect()
    }

    /// Cosine between the query and the row once its language's mean is
    /// removed: `(q·r − q·m) / |r − m|`.
    fn similarity(&self, row: &Row, query: &[f32], shifts: &[f32]) -> f32 {
        if row.centred_norm <= f32::EPSILON {
            return 0.0;
        }
        (row.vector.dot(query) - shifts[row.lang]) / row.centred_norm
    }
}

/// `|r − m|` of a quantised row and a mean.
fn centred_norm(row: &QuantisedRow, mean: &[f32]) -> f32 {
    row.values
        .iter()
        .zip(mean)
        .map(|(&q, &m)| {
            let difference = f32::from(q) * row.scale - m;
            difference * difference
        })
        .sum::<f32>()
        .sqrt()
}

// ------------------------------------------------------------------- log

enum LogEntry {
    Upsert(RecordVectors),
    Remove(RecordKey),
}

enum LogRead {
    Missing,
    Foreign,
    Entries {
        entries: Vec<LogEntry>,
        good_len: u64,
        file_len: u64,
    },
}

const ENTRY_UPSERT: u8 = 1;
const ENTRY_REMOVE: u8 = 2;
const CHECKSUM_BYTES: usize = 8;

fn create_log(path: &Path, model_id: &[u8; 32]) -> std::io::Result<File> {
    let mut file = File::create(path)?;
    file.write_all(LOG_MAGIC)?;
    file.write_all(model_id)?;
    file.sync_all()?;
    Ok(file)
}

/// Entry layout: length (u32 LE, of what follows up to the checksum) ‖ kind
/// (u8) ‖ key text length (u16 LE) ‖ key text (`origin-hex/id`) ‖ then for
/// an upsert: version (u64 LE) ‖ passages (u8) ‖ per passage: language tag
/// length (u8) ‖ tag ‖ scale (f32 LE) ‖ 384 × i8 ‖ and last the first 8
/// bytes of the SHA-256 of everything before them in the entry.
fn encode_entry(entry: &LogEntry) -> Vec<u8> {
    let mut body = Vec::new();
    let key = match entry {
        LogEntry::Upsert(record) => &record.key,
        LogEntry::Remove(key) => key,
    };
    let key_text = format!("{}/{}", key.origin.to_hex(), key.id);
    body.push(match entry {
        LogEntry::Upsert(_) => ENTRY_UPSERT,
        LogEntry::Remove(_) => ENTRY_REMOVE,
    });
    body.extend_from_slice(&(key_text.len() as u16).to_le_bytes());
    body.extend_from_slice(key_text.as_bytes());
    if let LogEntry::Upsert(record) = entry {
        body.extend_from_slice(&record.version.to_le_bytes());
        body.push(record.passages.len() as u8);
        for passage in &record.passages {
            let tag = passage.lang.as_bytes();
            body.push(tag.len().min(255) as u8);
            body.extend_from_slice(&tag[..tag.len().min(255)]);
            let quantised = QuantisedRow::of(&passage.vector);
            body.extend_from_slice(&quantised.scale.to_le_bytes());
            body.extend(quantised.values.iter().map(|&v| v as u8));
        }
    }
    let mut out = Vec::with_capacity(body.len() + 4 + CHECKSUM_BYTES);
    out.extend_from_slice(&(body.len() as u32).to_le_bytes());
    out.extend_from_slice(&body);
    let digest = Sha256::digest(&out);
    out.extend_from_slice(&digest[..CHECKSUM_BYTES]);
    out
}

fn read_log(path: &Path, model_id: &[u8; 32]) -> std::io::Result<LogRead> {
    let file = match File::open(path) {
        Ok(file) => file,
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => return Ok(LogRead::Missing),
        Err(error) => return Err(error),
    };
    let file_len = file.metadata()?.len();
    let mut reader = BufReader::new(file);
    let mut header = [0u8; 40];
    if reader.read_exact(&mut header).is_err()
        || &header[..8] != LOG_MAGIC
        || header[8..40] != model_id[..]
    {
        return Ok(LogRead::Foreign);
    }
    let mut entries = Vec::new();
    let mut good_len = header.len() as u64;
    loop {
        let mut length = [0u8; 4];
        if reader.read_exact(&mut length).is_err() {
            break;
        }
        let body_len = u32::from_le_bytes(length) as usize;
        if body_len > ENTRY_BYTES_MAX {
            break;
        }
        let mut rest = vec![0u8; body_len + CHECKSUM_BYTES];
        if reader.read_exact(&mut rest).is_err() {
            break;
        }
        let mut hashed = length.to_vec();
        hashed.extend_from_slice(&rest[..body_len]);
        if Sha256::digest(&hashed)[..CHECKSUM_BYTES] != rest[body_len..] {
            break;
        }
        let Some(entry) = decode_body(&rest[..body_len]) else {
            break;
        };
        entries.push(entry);
        good_len += (4 + body_len + CHECKSUM_BYTES) as u64;
    }
    Ok(LogRead::Entries {
        entries,
        good_len,
        file_len,
    })
}

fn decode_body(body: &[u8]) -> Option<LogEntry> {
    let mut at = 0usize;
    let mut take = |n: usize| -> Option<&[u8]> {
        let slice = body.get(at..at + n)?;
        at += n;
        Some(slice)
    };
    let kind = take(1)?[0];
    let key_len = u16::from_le_bytes(take(2)?.try_into().ok()?) as usize;
    let key_text = std::str::from_utf8(take(key_len)?).ok()?;
    let (origin, id) = key_text.split_once('/')?;
    let key = RecordKey {
        origin: origin.parse().ok()?,
        id: RecordId::parse(id)?,
    };
    match kind {
        ENTRY_REMOVE => Some(LogEntry::Remove(key)),
        ENTRY_UPSERT => {
            let version = u64::from_le_bytes(take(8)?.try_into().ok()?);
            let count = take(1)?[0] as usize;
            let mut passages = Vec::with_capacity(count);
            for _ in 0..count {
                let tag_len = take(1)?[0] as usize;
                let lang = std::str::from_utf8(take(tag_len)?).ok()?.to_string();
                let scale = f32::from_le_bytes(take(4)?.try_into().ok()?);
                let values = take(VECTOR_DIM)?;
                passages.push(Passage {
                    lang,
                    vector: values.iter().map(|&v| f32::from(v as i8) * scale).collect(),
                });
            }
            Some(LogEntry::Upsert(RecordVectors {
                key,
                version,
                passages,
            }))
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use seednet_protocol::testing::test_key;

    fn key(n: u8, id: &str) -> RecordKey {
        RecordKey {
            origin: test_key(n).node_id(),
            id: RecordId::parse(id).unwrap(),
        }
    }

    /// A unit vector pointing mostly along `axis`, plus a shared
    /// "language" component along `lang_axis`.
    fn vector(axis: usize, lang_axis: usize) -> Vec<f32> {
        let mut v = vec![0.0f32; VECTOR_DIM];
        v[axis] = 0.6;
        v[lang_axis] = 0.8;
        v
    }

    fn passage(lang: &str, v: Vec<f32>) -> Passage {
        Passage {
            lang: lang.into(),
            vector: v,
        }
    }

    #[test]
    fn centring_removes_the_pull_of_the_query_language() {
        let dir = tempfile::tempdir().unwrap();
        let along = |axis: usize| {
            let mut v = vec![0.0f32; VECTOR_DIM];
            v[axis] = 0.8;
            v
        };
        let references = [
            ("it".to_string(), along(100)),
            ("el".to_string(), along(200)),
        ];
        let (index, opened) = VectorIndex::open(dir.path(), [7; 32], &references).unwrap();
        assert_eq!(opened, VectorsOpened::Fresh);
        // Italian passages share axis 100, Greek ones axis 200.
        for (n, topic) in [(0, 10), (1, 11), (2, 12), (3, 13)] {
            index
                .upsert(RecordVectors {
                    key: key(1, &format!("it-{n}")),
                    version: 1,
                    passages: vec![passage("it", vector(topic, 100))],
                })
                .unwrap();
            index
                .upsert(RecordVectors {
                    key: key(2, &format!("el-{n}")),
                    version: 1,
                    passages: vec![passage("el", vector(topic + 20, 200))],
                })
                .unwrap();
        }
        // A Greek record about topic 10 (the Italian it-0's topic).
        index
            .upsert(RecordVectors {
                key: key(2, "el-same-topic"),
                version: 1,
                passages: vec![passage("el", vector(10, 200))],
            })
            .unwrap();
        // The query: topic 10, written in Italian. Raw cosine would rank
        // every Italian record (0.64) above the Greek one on its topic
        // (0.36); centred, the two records on topic 10 lead.
        let query = vector(10, 100);
        let found = index.nearest(&query, 3, -1.0);
        let mut top: Vec<String> = found[..2].iter().map(|m| m.key.id.to_string()).collect();
        top.sort();
        assert_eq!(top, vec!["el-same-topic", "it-0"], "{found:?}");
        assert!(found[2].similarity < found[1].similarity - 0.3, "{found:?}");
    }

    #[test]
    fn the_log_survives_a_reopen_a_torn_tail_and_another_model() {
        let dir = tempfile::tempdir().unwrap();
        {
            let (index, _) = VectorIndex::open(dir.path(), [1; 32], &[]).unwrap();
            index
                .upsert(RecordVectors {
                    key: key(1, "a"),
                    version: 1,
                    passages: vec![passage("it", vector(1, 100))],
                })
                .unwrap();
            index
                .upsert(RecordVectors {
                    key: key(1, "a"),
                    version: 2,
                    passages: vec![passage("it", vector(2, 100)), passage("en", vector(2, 101))],
                })
                .unwrap();
            index
                .upsert(RecordVectors {
                    key: key(1, "b"),
                    version: 1,
                    passages: vec![passage("it", vector(3, 100))],
                })
                .unwrap();
            index.remove(&key(1, "b")).unwrap();
            index.flush().unwrap();
        }
        // A crash in the middle of an append leaves a torn entry.
        let path = dir.path().join(VECTOR_LOG_FILE);
        let mut bytes = fs::read(&path).unwrap();
        bytes.extend_from_slice(&[200, 1, 0, 0, 1, 2, 3]);
        fs::write(&path, &bytes).unwrap();
        let (index, opened) = VectorIndex::open(dir.path(), [1; 32], &[]).unwrap();
        assert_eq!(
            opened,
            VectorsOpened::Reused {
                records: 1,
                dropped_bytes: 7
            }
        );
        assert_eq!(index.version_of(&key(1, "a")), Some(2));
        assert_eq!(index.version_of(&key(1, "b")), None);
        assert_eq!(index.passage_count(), 2);
        let similarity = index.similarity_of(&key(1, "a"), &vector(2, 100)).unwrap();
        assert!(similarity > 0.9, "{similarity}");
        drop(index);
        // Another model's vectors are never mixed in.
        let (index, opened) = VectorIndex::open(dir.path(), [2; 32], &[]).unwrap();
        assert_eq!(opened, VectorsOpened::Rebuilt);
        assert_eq!(index.record_count(), 0);
    }

    #[test]
    fn the_log_is_compacted_when_superseded_entries_pile_up() {
        let dir = tempfile::tempdir().unwrap();
        let (index, _) = VectorIndex::open(dir.path(), [1; 32], &[]).unwrap();
        for version in 1..=200 {
            index
                .upsert(RecordVectors {
                    key: key(1, "a"),
                    version,
                    passages: vec![passage("it", vector(1, 100))],
                })
                .unwrap();
        }
        index.flush().unwrap();
        let size = fs::metadata(dir.path().join(VECTOR_LOG_FILE))
            .unwrap()
            .len();
        assert!(size < 2_000, "the log holds one live entry, {size} bytes");
        drop(index);
        let (index, _) = VectorIndex::open(dir.path(), [1; 32], &[]).unwrap();
        assert_eq!(index.version_of(&key(1, "a")), Some(200));
    }

    #[test]
    fn reference_means_ship_for_the_network_languages() {
        let means = builtin_reference_means();
        for lang in ["it", "el", "ro", "sl", "en"] {
            assert!(means.iter().any(|(tag, _)| tag == lang), "{lang}");
        }
    }

    #[test]
    fn quantised_rows_keep_the_cosine() {
        let v: Vec<f32> = (0..VECTOR_DIM)
            .map(|i| ((i * 37 % 101) as f32 - 50.0) / 500.0)
            .collect();
        let norm = v.iter().map(|x| x * x).sum::<f32>().sqrt();
        let v: Vec<f32> = v.iter().map(|x| x / norm).collect();
        let row = QuantisedRow::of(&v);
        assert!((row.dot(&v) - 1.0).abs() < 0.002, "{}", row.dot(&v));
    }
}
