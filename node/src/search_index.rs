//! The node's one search index: the `search` crate's tantivy index in
//! `DATA_DIR/search-index`, fed from the node's change log by one dedicated
//! thread (never the async runtime), as `docs/SEARCH.md` ("Node
//! integration") describes. The JSON API (`/api/v1/search`) and the web
//! search page share it: tantivy allows one writer per folder, and one
//! indexer per node keeps the two answers identical.
//!
//! - Sharing: [`NodeSearchIndex`] (in `crate::state::AppState`) opens the
//!   index once, in the background at start-up or on first use, and every
//!   user (the JSON API, the web pages, a purge) goes through it. The
//!   indexer thread holds only a weak reference and stops once the last
//!   user has dropped the index (a node stopped inside a test process
//!   releases the folder).
//! - Startup: `open_or_create`; a fresh or rebuilt index replays the change
//!   log from the start, a reused one resumes after its last indexed seq.
//! - The indexer thread reads change-log pages, decodes each version and
//!   stages it (`upsert`, tombstones included); it sleeps on the storage's
//!   head-sequence channel when caught up. Staged changes are committed once
//!   [`INDEXER_BATCH_RECORDS_MAX`] of them wait, once the oldest has waited
//!   [`INDEXER_COMMIT_INTERVAL_MS`], or at once when a search is waiting for
//!   them; so bulk replication, which wakes the indexer for every small
//!   batch it applies, costs about one tantivy commit a second. The bytes come
//!   from this node's own storage, which verified every signature when the
//!   version was applied, so they are decoded without a second verification.
//! - On the same pass it keeps the reverse "adapted from" relations in
//!   memory ([`LiveIndex::adapted_from`]), so a record page lists what was
//!   adapted from it without scanning storage. That map is rebuilt from the
//!   whole change log at every start (decoding only; tantivy is fed only the
//!   changes it does not have yet).
//! - Read-your-writes: a search first waits (bounded by
//!   [`SEARCH_FRESHNESS_WAIT_MS_MAX`]) until the index has caught up with the
//!   change log as it was when the search arrived, so an editor who has just
//!   published finds the record.
//!
//! The index is derived state: deleting the folder rebuilds it on the next
//! start, and [`rebuild`] (`seednet reindex`, node stopped) rebuilds it from
//! storage on demand. If it cannot be opened at all, every search answers
//! [`SearchUnavailable`] (503 in the API, a "rebuild the index" page in the
//! web) and the log says why.

use std::collections::{BTreeSet, HashMap};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, Weak};
use std::time::{Duration, Instant};

use seednet_protocol::{NodeId, Record, RecordKey, RelationType};
use seednet_search::{
    OpenState, SearchIndex, SemanticQuery, INDEXER_BATCH_RECORDS_MAX, INDEXER_COMMIT_INTERVAL_MS,
};
use tokio::sync::{watch, Notify};

use crate::federation::purge;
use crate::semantic_tier::{SemanticState, SemanticTier};
use crate::storage::Storage;

/// Folder of the index inside the node's data dir.
pub const INDEX_DIR_NAME: &str = "search-index";
/// Most signed bytes read from the change log per indexer page.
pub const INDEXER_PAGE_BYTES_MAX: usize = 8 * 1024 * 1024;
/// Longest a search waits for the indexer to catch up.
pub const SEARCH_FRESHNESS_WAIT_MS_MAX: u64 = 3_000;
/// Pause after an indexer error before retrying.
pub const INDEXER_RETRY_MS: u64 = 1_000;
/// Longest the indexer sleeps without checking the change log.
pub const INDEXER_IDLE_MS_MAX: u64 = 5_000;

/// Why the index could not be used.
#[derive(Debug, thiserror::Error)]
pub enum IndexerError {
    #[error(transparent)]
    Search(#[from] seednet_search::SearchError),
    #[error(transparent)]
    Storage(#[from] crate::storage::StorageError),
    #[error("a stored record cannot be decoded: {0}")]
    Decode(String),
}

/// Most records listed as adapted from one record.
pub const ADAPTED_LISTED_MAX: usize = 100;

/// Reverse "adapted from" relations of the current record versions.
#[derive(Default)]
struct AdaptedMap {
    sources_by_target: HashMap<RecordKey, BTreeSet<RecordKey>>,
    targets_by_source: HashMap<RecordKey, Vec<RecordKey>>,
}

impl AdaptedMap {
    /// Records that `source` (its current version) adapts `targets`.
    fn set(&mut self, source: &RecordKey, targets: Vec<RecordKey>) {
        for old in self.targets_by_source.remove(source).unwrap_or_default() {
            if let Some(sources) = self.sources_by_target.get_mut(&old) {
                sources.remove(source);
                if sources.is_empty() {
                    self.sources_by_target.remove(&old);
                }
            }
        }
        for target in &targets {
            self.sources_by_target
                .entry(target.clone())
                .or_default()
                .insert(source.clone());
        }
        if !targets.is_empty() {
            self.targets_by_source.insert(source.clone(), targets);
        }
    }
}

/// How far the indexer has staged the change log, and what is not yet
/// committed. Guarded by [`LiveIndex::pass`].
#[derive(Default)]
struct PassState {
    /// Change-log position up to which every change is staged.
    staged_through: u64,
    /// Changes staged since the last commit.
    uncommitted: usize,
    /// When the oldest uncommitted change was staged.
    uncommitted_since: Option<Instant>,
}

impl PassState {
    fn commit_due(&self) -> bool {
        self.uncommitted >= INDEXER_BATCH_RECORDS_MAX
            || self.uncommitted_since.is_some_and(|since| {
                since.elapsed() >= Duration::from_millis(INDEXER_COMMIT_INTERVAL_MS)
            })
    }
}

/// What one indexing pass left behind.
struct PassOutcome {
    /// More changes are waiting in the change log.
    more: bool,
    /// When the oldest still uncommitted change was staged.
    uncommitted_since: Option<Instant>,
}

/// The index and how far it has caught up with the change log.
pub struct LiveIndex {
    pub index: SearchIndex,
    storage: Arc<dyn Storage>,
    /// Changes up to this sequence number are already in tantivy.
    index_resume_after: u64,
    /// Change-log position up to which every change is committed.
    indexed_through: AtomicU64,
    adapted: Mutex<AdaptedMap>,
    /// Held by each indexing pass and by [`LiveIndex::forget_origin`], so a
    /// page read before a purge is never indexed after it.
    pass: Mutex<PassState>,
    /// Set by a search that waits for changes not yet committed.
    fresh_wanted: std::sync::atomic::AtomicBool,
    /// Wakes the indexer thread for such a search.
    wake: Arc<Notify>,
    /// Tantivy commits made by the indexer since the index was opened.
    commits: AtomicU64,
}

impl LiveIndex {
    /// Opens (or builds) the index of `data_dir` over `storage` and starts
    /// its indexer thread. Blocking.
    pub fn start(
        storage: Arc<dyn Storage>,
        data_dir: &Path,
    ) -> Result<Arc<LiveIndex>, IndexerError> {
        LiveIndex::open(storage, &data_dir.join(INDEX_DIR_NAME))
    }

    fn open(storage: Arc<dyn Storage>, dir: &Path) -> Result<Arc<LiveIndex>, IndexerError> {
        let (index, state) = SearchIndex::open_or_create(dir)?;
        let resume_after = match &state {
            OpenState::Reused => index.last_indexed_seq(),
            other => {
                tracing::info!(state = ?other, "search index built from the change log");
                0
            }
        };
        let live = Arc::new(LiveIndex {
            index,
            storage,
            index_resume_after: resume_after,
            indexed_through: AtomicU64::new(0),
            adapted: Mutex::new(AdaptedMap::default()),
            pass: Mutex::new(PassState::default()),
            fresh_wanted: std::sync::atomic::AtomicBool::new(false),
            wake: Arc::new(Notify::new()),
            commits: AtomicU64::new(0),
        });
        // Purges the node finished in storage but not here (a crash, or an
        // index that could not open at the time).
        for origin in purge::pending(live.storage.as_ref(), purge::PHASE_INDEX)? {
            live.forget_origin(&origin)?;
            purge::index_done(live.storage.as_ref(), &origin)?;
            tracing::info!(origin = %origin, "search index dropped the records of a purged origin");
        }
        let worker = Arc::downgrade(&live);
        let head = live.storage.subscribe_head();
        let wake = Arc::clone(&live.wake);
        std::thread::Builder::new()
            .name("search-indexer".into())
            .spawn(move || LiveIndex::run(worker, head, wake))
            .map_err(|error| {
                IndexerError::Storage(crate::storage::StorageError::Io(format!(
                    "cannot start the indexer thread: {error}"
                )))
            })?;
        Ok(live)
    }

    /// Stages one change-log page and commits what is staged if a commit is
    /// due (see the module documentation).
    fn index_page(&self) -> Result<PassOutcome, IndexerError> {
        let mut pass = self.pass.lock().expect("indexing pass lock");
        let cursor = pass.staged_through;
        let page = self.storage.changes_since(
            cursor,
            INDEXER_BATCH_RECORDS_MAX,
            INDEXER_PAGE_BYTES_MAX,
        )?;
        let more = page.next_seq > cursor && page.next_seq < page.head_seq;
        if page.next_seq > cursor {
            self.stage(&mut pass, &page.changes)?;
            pass.staged_through = page.next_seq;
        }
        let fresh_wanted = !more && self.fresh_wanted.swap(false, Ordering::SeqCst);
        if pass.commit_due() || fresh_wanted {
            self.commit_staged(&mut pass)?;
        } else if pass.uncommitted == 0 {
            // nothing staged waits: everything read is already searchable
            self.indexed_through
                .store(pass.staged_through, Ordering::SeqCst);
        }
        Ok(PassOutcome {
            more,
            uncommitted_since: pass.uncommitted_since,
        })
    }

    /// Stages one page of changes (and keeps the relation map current).
    fn stage(
        &self,
        pass: &mut PassState,
        changes: &[crate::storage::Change],
    ) -> Result<(), IndexerError> {
        for change in changes {
            let record: Record = serde_json::from_slice(&change.bytes)
                .map_err(|error| IndexerError::Decode(format!("{}: {error}", change.key)))?;
            let targets = record
                .content()
                .map(|content| {
                    content
                        .relations
                        .iter()
                        .filter(|r| r.relation_type == RelationType::AdaptedFrom)
                        .map(|r| r.target.clone())
                        .collect()
                })
                .unwrap_or_default();
            self.adapted
                .lock()
                .expect("adapted map lock")
                .set(&record.key, targets);
            if change.seq > self.index_resume_after {
                self.index.upsert(&record, change.seq)?;
                pass.uncommitted += 1;
                pass.uncommitted_since.get_or_insert_with(Instant::now);
            }
        }
        Ok(())
    }

    /// Commits whatever is staged; everything staged is then searchable.
    fn commit_staged(&self, pass: &mut PassState) -> Result<(), IndexerError> {
        self.index.commit()?;
        if pass.uncommitted > 0 {
            self.commits.fetch_add(1, Ordering::SeqCst);
        }
        pass.uncommitted = 0;
        pass.uncommitted_since = None;
        self.indexed_through
            .store(pass.staged_through, Ordering::SeqCst);
        Ok(())
    }

    /// Tantivy commits the indexer has made since the index was opened.
    pub fn commits(&self) -> u64 {
        self.commits.load(Ordering::SeqCst)
    }

    fn run(live: Weak<LiveIndex>, mut head: watch::Receiver<u64>, wake: Arc<Notify>) {
        let waiter = match tokio::runtime::Builder::new_current_thread()
            .enable_time()
            .build()
        {
            Ok(runtime) => runtime,
            Err(error) => {
                tracing::error!(error = %error, "search indexer cannot start its timer");
                return;
            }
        };
        loop {
            let Some(this) = live.upgrade() else {
                tracing::debug!("search index dropped; indexer stops");
                return;
            };
            let indexed = this.index_page();
            drop(this);
            match indexed {
                Ok(PassOutcome { more: true, .. }) => continue,
                Ok(PassOutcome {
                    more: false,
                    uncommitted_since,
                }) => {
                    // caught up: sleep until a new change, a search that
                    // wants the staged changes, or the commit falls due
                    let sleep = match uncommitted_since {
                        Some(since) => Duration::from_millis(INDEXER_COMMIT_INTERVAL_MS)
                            .saturating_sub(since.elapsed()),
                        None => Duration::from_millis(INDEXER_IDLE_MS_MAX),
                    };
                    let closed = waiter.block_on(async {
                        tokio::select! {
                            changed = head.changed() => changed.is_err(),
                            () = wake.notified() => false,
                            () = tokio::time::sleep(sleep) => false,
                        }
                    });
                    if closed {
                        tracing::info!("storage closed; search indexer stops");
                        return;
                    }
                }
                Err(error) => {
                    tracing::error!(error = %error, "search indexing failed; retrying");
                    std::thread::sleep(Duration::from_millis(INDEXER_RETRY_MS));
                }
            }
        }
    }

    /// Removes every record of `origin` from the index and the relation map
    /// and commits, after storage purged them. Blocking.
    pub fn forget_origin(&self, origin: &NodeId) -> Result<(), IndexerError> {
        let mut pass = self.pass.lock().expect("indexing pass lock");
        self.index.remove_origin(origin)?;
        self.commit_staged(&mut pass)?;
        let mut adapted = self.adapted.lock().expect("adapted map lock");
        let sources: Vec<RecordKey> = adapted
            .targets_by_source
            .keys()
            .filter(|key| key.origin == *origin)
            .cloned()
            .collect();
        for source in sources {
            adapted.set(&source, Vec::new());
        }
        Ok(())
    }

    /// Every (adapting record, adapted record) pair of the current versions,
    /// at most `limit`.
    pub fn adaptations(&self, limit: usize) -> Vec<(RecordKey, RecordKey)> {
        let map = self.adapted.lock().expect("adapted map lock");
        map.targets_by_source
            .iter()
            .flat_map(|(source, targets)| {
                targets
                    .iter()
                    .map(move |target| (source.clone(), target.clone()))
            })
            .take(limit)
            .collect()
    }

    /// Current records that say they were adapted from `key` (at most
    /// [`ADAPTED_LISTED_MAX`]).
    pub fn adapted_from(&self, key: &RecordKey) -> Vec<RecordKey> {
        let map = self.adapted.lock().expect("adapted map lock");
        map.sources_by_target
            .get(key)
            .map(|sources| sources.iter().take(ADAPTED_LISTED_MAX).cloned().collect())
            .unwrap_or_default()
    }

    /// Waits (bounded) until every change the log held when called is
    /// searchable. Blocking.
    pub fn wait_until_fresh(&self) {
        let target = self.storage.head_seq();
        if self.indexed_through.load(Ordering::SeqCst) >= target {
            return;
        }
        self.fresh_wanted.store(true, Ordering::SeqCst);
        self.wake.notify_one();
        let deadline = Instant::now() + Duration::from_millis(SEARCH_FRESHNESS_WAIT_MS_MAX);
        while self.indexed_through.load(Ordering::SeqCst) < target && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(10));
        }
    }
}

/// Why a search cannot be answered: the index could not be opened. The
/// reason is kept from the failed opening; `seednet reindex` (node stopped)
/// or a restart is the way out.
#[derive(Debug, Clone, thiserror::Error)]
#[error("the search index cannot be opened ({reason}); stop the node and run `seednet reindex`")]
pub struct SearchUnavailable {
    pub reason: String,
}

/// The node's search index as the state holds it: opened once (in the
/// background at start-up, or on first use), then shared by every user. A
/// failure to open is kept and reported on every use.
#[derive(Clone)]
pub struct NodeSearchIndex {
    storage: Arc<dyn Storage>,
    data_dir: PathBuf,
    cell: Arc<tokio::sync::OnceCell<Result<Arc<LiveIndex>, SearchUnavailable>>>,
    /// The semantic tier fused into every search once it is ready.
    semantic: SemanticTier,
}

/// A search's answer and whether the semantic tier took part.
pub struct NodeSearchResponse {
    /// The engine's answer.
    pub response: seednet_search::SearchResponse,
    /// The semantic tier's state when the search ran.
    pub semantic: SemanticState,
}

impl NodeSearchIndex {
    /// The index of `data_dir` over `storage`; nothing is opened yet.
    pub fn new(storage: Arc<dyn Storage>, data_dir: &Path) -> Self {
        NodeSearchIndex {
            semantic: SemanticTier::new(Arc::clone(&storage)),
            storage,
            data_dir: data_dir.to_path_buf(),
            cell: Arc::default(),
        }
    }

    /// The open index, opening it off the async runtime on first call.
    pub async fn get(&self) -> Result<Arc<LiveIndex>, SearchUnavailable> {
        self.cell
            .get_or_init(|| async {
                let storage = Arc::clone(&self.storage);
                let data_dir = self.data_dir.clone();
                let opened =
                    tokio::task::spawn_blocking(move || LiveIndex::start(storage, &data_dir)).await;
                let reason = match opened {
                    Ok(Ok(live)) => return Ok(live),
                    Ok(Err(error)) => error.to_string(),
                    Err(error) => format!("the index task failed: {error}"),
                };
                tracing::error!(error = %reason, "search index unavailable");
                Err(SearchUnavailable { reason })
            })
            .await
            .clone()
    }

    /// Opens the index in the background, so that a missing or outdated
    /// index is rebuilt at start-up rather than on the first search, and
    /// starts the semantic tier (its own thread) as `config` says.
    pub fn open_in_background(&self, config: &crate::config::Config) {
        let index = self.clone();
        tokio::spawn(async move {
            let _ = index.get().await;
        });
        self.semantic.start(config);
    }

    /// The semantic tier (for status and metrics).
    pub fn semantic(&self) -> &SemanticTier {
        &self.semantic
    }

    /// Searches once the index holds every change stored when called,
    /// fusing the semantic tier when it is ready. The `Err` of the inner
    /// result is the engine's (a bad request).
    pub async fn search(
        &self,
        request: seednet_search::SearchRequest,
    ) -> Result<Result<NodeSearchResponse, seednet_search::SearchError>, SearchUnavailable> {
        let semantic = self.semantic.clone();
        self.read_fresh(move |live| {
            let state = semantic.state();
            let vector = match state {
                SemanticState::Ready if !request.q.trim().is_empty() => {
                    semantic.embed_query(&request.q)
                }
                _ => None,
            };
            let response = match &vector {
                Some(vector) => semantic
                    .with_ready(|_, vectors| {
                        live.index.search_with(
                            &request,
                            Some(SemanticQuery {
                                vectors,
                                query: vector,
                            }),
                        )
                    })
                    .unwrap_or_else(|| live.index.search(&request)),
                None => live.index.search(&request),
            };
            response.map(|response| NodeSearchResponse {
                response,
                semantic: state,
            })
        })
        .await
    }

    /// Runs `work` on the index once it holds every change the log held
    /// when called (read-your-writes), off the async runtime.
    pub async fn read_fresh<T: Send + 'static>(
        &self,
        work: impl FnOnce(&LiveIndex) -> T + Send + 'static,
    ) -> Result<T, SearchUnavailable> {
        let live = self.get().await?;
        tokio::task::spawn_blocking(move || {
            live.wait_until_fresh();
            work(&live)
        })
        .await
        .map_err(|error| SearchUnavailable {
            reason: format!("the search task failed: {error}"),
        })
    }

    /// Drops a purged origin from the index and clears the purge marker
    /// (step 4 of `crate::federation::purge`). On failure the marker stays
    /// and the next opening of the index finishes the job; the error says
    /// why.
    pub async fn forget_purged(&self, origin: NodeId) -> Result<(), String> {
        let live = self.get().await.map_err(|error| error.reason)?;
        let semantic = self.semantic.clone();
        tokio::task::spawn_blocking(move || {
            live.forget_origin(&origin)?;
            semantic.forget_origin(&origin);
            purge::index_done(live.storage.as_ref(), &origin)?;
            Ok::<(), IndexerError>(())
        })
        .await
        .map_err(|error| format!("index task failed: {error}"))?
        .map_err(|error| error.to_string())
    }
}

/// What [`rebuild`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RebuildSummary {
    /// Change-log entries read.
    pub changes: u64,
    /// Records in the rebuilt index (current versions, tombstones excluded).
    pub records: u64,
}

/// Deletes the index folder of `data_dir` and rebuilds it from the whole
/// change log of `storage`; `progress(read, head)` is called after each
/// committed page. Blocking; for `seednet reindex` with the node stopped
/// (the storage handle proves it: sled locks the data dir).
pub fn rebuild(
    storage: &dyn Storage,
    data_dir: &Path,
    mut progress: impl FnMut(u64, u64),
) -> Result<RebuildSummary, IndexerError> {
    let dir = data_dir.join(INDEX_DIR_NAME);
    if dir.exists() {
        std::fs::remove_dir_all(&dir).map_err(|source| {
            IndexerError::Search(seednet_search::SearchError::Directory {
                path: dir.display().to_string(),
                source,
            })
        })?;
    }
    let (index, _state) = SearchIndex::open_or_create(&dir)?;
    let mut cursor = 0;
    let mut changes = 0;
    loop {
        let page =
            storage.changes_since(cursor, INDEXER_BATCH_RECORDS_MAX, INDEXER_PAGE_BYTES_MAX)?;
        if page.next_seq <= cursor {
            break;
        }
        for change in &page.changes {
            let record: Record = serde_json::from_slice(&change.bytes)
                .map_err(|error| IndexerError::Decode(format!("{}: {error}", change.key)))?;
            index.upsert(&record, change.seq)?;
            changes += 1;
        }
        index.commit()?;
        cursor = page.next_seq;
        progress(cursor, page.head_seq.max(cursor));
        if page.next_seq >= page.head_seq {
            break;
        }
    }
    index.commit()?;
    // A rebuilt index holds exactly what storage holds: no purge is left.
    for origin in purge::pending(storage, purge::PHASE_INDEX)? {
        purge::index_done(storage, &origin)?;
    }
    Ok(RebuildSummary {
        changes,
        records: index.record_count(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use seednet_protocol::testing::test_key;
    use seednet_protocol::RecordId;

    fn key(n: u8, id: &str) -> RecordKey {
        RecordKey {
            origin: test_key(n).node_id(),
            id: RecordId::parse(id).unwrap(),
        }
    }

    #[test]
    fn an_index_purge_left_pending_is_finished_when_the_index_opens() {
        use crate::storage::SledStorage;
        use seednet_protocol::testing::{sample_content, sign_sample};
        let dir = tempfile::tempdir().unwrap();
        let storage: Arc<dyn Storage> =
            Arc::new(SledStorage::open(&dir.path().join("db")).unwrap());
        let index_dir = dir.path().join(INDEX_DIR_NAME);
        let (kept, gone) = (test_key(1), test_key(2));
        storage
            .apply_many(vec![
                sign_sample(
                    &kept,
                    "kept",
                    1,
                    sample_content("en", "IT", "Kept practice"),
                ),
                sign_sample(
                    &gone,
                    "gone",
                    1,
                    sample_content("en", "GR", "Purged practice"),
                ),
            ])
            .wait_blocking()
            .unwrap();
        let live = LiveIndex::open(Arc::clone(&storage), &index_dir).unwrap();
        live.wait_until_fresh();
        assert_eq!(live.index.record_count(), 2);
        drop(live);
        // The node purged `gone` from storage and stopped before the index
        // dropped it: only the marker remembers.
        storage
            .purge_origin(gone.node_id())
            .wait_blocking()
            .unwrap();
        purge::write_marker(storage.as_ref(), &gone.node_id(), purge::PHASE_INDEX)
            .wait_blocking()
            .unwrap();
        let live = LiveIndex::open(Arc::clone(&storage), &index_dir).unwrap();
        assert_eq!(live.index.record_count(), 1);
        assert!(purge::pending(storage.as_ref(), purge::PHASE_INDEX)
            .unwrap()
            .is_empty());
    }

    #[test]
    fn a_stream_of_small_writes_is_committed_in_batches_and_stays_searchable() {
        use seednet_protocol::testing::{sample_content, sign_sample};
        let dir = tempfile::tempdir().unwrap();
        let storage: Arc<dyn Storage> =
            Arc::new(crate::storage::SledStorage::open(&dir.path().join("db")).unwrap());
        let live = LiveIndex::start(Arc::clone(&storage), dir.path()).unwrap();
        let started = Instant::now();
        // replication applies records a few at a time; every write wakes the indexer
        let records = 600;
        for n in 0..records {
            let record = sign_sample(
                &test_key(2),
                &format!("rec-{n}"),
                1,
                sample_content("it", "IT", &format!("Pratica {n}")),
            );
            storage.apply(record).wait_blocking().unwrap();
        }
        live.wait_until_fresh();
        assert_eq!(live.index.record_count(), records);
        let elapsed_secs = started.elapsed().as_secs();
        // one commit per commit interval, one per full batch, one for the search
        assert!(
            live.commits() <= elapsed_secs + 3,
            "{} commits in {elapsed_secs} s for {records} records",
            live.commits()
        );
        // a single publish is searchable at once for a search that waits for it
        let record = sign_sample(&test_key(2), "late", 1, sample_content("en", "IE", "Late"));
        storage.apply(record).wait_blocking().unwrap();
        live.wait_until_fresh();
        assert_eq!(live.index.record_count(), records + 1);
    }

    #[test]
    fn adapted_relations_follow_the_current_version() {
        let mut map = AdaptedMap::default();
        let (turin, karditsa, cluj) = (key(1, "turin"), key(2, "karditsa"), key(3, "cluj"));
        map.set(&karditsa, vec![turin.clone()]);
        map.set(&cluj, vec![turin.clone()]);
        assert_eq!(map.sources_by_target[&turin].len(), 2);
        // A new version of Karditsa no longer adapts Turin.
        map.set(&karditsa, Vec::new());
        assert_eq!(
            map.sources_by_target[&turin].iter().collect::<Vec<_>>(),
            vec![&cluj]
        );
        // A tombstone of Cluj (no content) removes its relation too.
        map.set(&cluj, Vec::new());
        assert!(!map.sources_by_target.contains_key(&turin));
        assert!(map.targets_by_source.is_empty());
    }
}
