//! The node's one search index: the `search` crate's tantivy index in
//! `DATA_DIR/search-index`, fed from the node's change log by one dedicated
//! thread (never the async runtime), as `docs/SEARCH.md` ("Node
//! integration") describes. The JSON API (`/api/v1/search`) and the web
//! search page share it: tantivy allows one writer per folder, and one
//! indexer per node keeps the two answers identical.
//!
//! - Sharing: [`NodeSearchIndex`] (in `AppState`) opens the index once, on
//!   start-up or first use; [`LiveIndex::start`] returns the instance already
//!   open for the same data dir and storage (a process-wide registry of weak
//!   references), so the web backend, which calls it directly, gets the same
//!   index. The indexer thread holds only a weak reference and stops once the
//!   last user has dropped the index (a node stopped inside a test process
//!   releases the folder).
//! - Startup: `open_or_create`; a fresh or rebuilt index replays the change
//!   log from the start, a reused one resumes after its last indexed seq.
//! - The indexer thread reads change-log pages, decodes each version, stages
//!   it (`upsert`, tombstones included) and commits once per page; it sleeps
//!   on the storage's head-sequence channel when caught up. The bytes come
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
//! storage on demand. If it cannot be opened at all, the web falls back to
//! its bounded storage scan and the API answers 503; both log why.

use std::collections::{BTreeSet, HashMap};
use std::path::Path;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, Weak};
use std::time::{Duration, Instant};

use seednet_protocol::{NodeId, Record, RecordKey, RelationType};
use seednet_search::{OpenState, SearchIndex, INDEXER_BATCH_RECORDS_MAX};
use tokio::sync::watch;

use crate::api::AppState;
use crate::federation::purge;
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
    pass: Mutex<()>,
}

impl LiveIndex {
    /// The index of `data_dir`: the instance already open in this process
    /// over the same storage, or a newly opened (or built) one with its
    /// indexer thread. Blocking.
    pub fn start(
        storage: Arc<dyn Storage>,
        data_dir: &Path,
    ) -> Result<Arc<LiveIndex>, IndexerError> {
        let dir = data_dir.join(INDEX_DIR_NAME);
        let mut open = OPEN_INDEXES.lock().expect("open indexes lock");
        open.retain(|(_, weak)| weak.strong_count() > 0);
        if let Some(live) = open
            .iter()
            .filter(|(open_dir, _)| *open_dir == dir)
            .find_map(|(_, weak)| weak.upgrade())
        {
            if same_storage(&live.storage, &storage) {
                return Ok(live);
            }
            return Err(IndexerError::Search(seednet_search::SearchError::Locked {
                path: dir.display().to_string(),
            }));
        }
        let live = LiveIndex::open(storage, &dir)?;
        open.push((dir, Arc::downgrade(&live)));
        Ok(live)
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
            pass: Mutex::new(()),
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
        std::thread::Builder::new()
            .name("search-indexer".into())
            .spawn(move || LiveIndex::run(worker, head))
            .map_err(|error| {
                IndexerError::Storage(crate::storage::StorageError::Io(format!(
                    "cannot start the indexer thread: {error}"
                )))
            })?;
        Ok(live)
    }

    /// Indexes one change-log page; `true` when more changes are waiting.
    fn index_page(&self) -> Result<bool, IndexerError> {
        let _pass = self.pass.lock().expect("indexing pass lock");
        let cursor = self.indexed_through.load(Ordering::SeqCst);
        let page = self.storage.changes_since(
            cursor,
            INDEXER_BATCH_RECORDS_MAX,
            INDEXER_PAGE_BYTES_MAX,
        )?;
        if page.next_seq <= cursor {
            return Ok(false);
        }
        let mut staged = false;
        for change in &page.changes {
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
                staged = true;
            }
        }
        if staged {
            self.index.commit()?;
        }
        self.indexed_through.store(page.next_seq, Ordering::SeqCst);
        Ok(page.next_seq < page.head_seq)
    }

    fn run(live: Weak<LiveIndex>, mut head: watch::Receiver<u64>) {
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
                Ok(true) => continue,
                Ok(false) => {
                    let woke = waiter.block_on(async {
                        tokio::time::timeout(
                            Duration::from_millis(INDEXER_IDLE_MS_MAX),
                            head.changed(),
                        )
                        .await
                    });
                    if let Ok(Err(_closed)) = woke {
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
        let _pass = self.pass.lock().expect("indexing pass lock");
        self.index.remove_origin(origin)?;
        self.index.commit()?;
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
        let deadline = Instant::now() + Duration::from_millis(SEARCH_FRESHNESS_WAIT_MS_MAX);
        while self.indexed_through.load(Ordering::SeqCst) < target && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(10));
        }
    }
}

/// Indexes open in this process, by folder (weak: an index lives as long as
/// its users).
static OPEN_INDEXES: Mutex<Vec<(PathBuf, Weak<LiveIndex>)>> = Mutex::new(Vec::new());

fn same_storage(a: &Arc<dyn Storage>, b: &Arc<dyn Storage>) -> bool {
    std::ptr::addr_eq(Arc::as_ptr(a), Arc::as_ptr(b))
}

/// The node's search index as `AppState` holds it: opened once (in the
/// background at start-up, or on first use), then shared by the API and the
/// web. A failure to open is kept and reported on every use (503 in the API);
/// `seednet reindex` or a restart is the way out.
#[derive(Clone, Default)]
pub struct NodeSearchIndex {
    cell: Arc<tokio::sync::OnceCell<Result<Arc<LiveIndex>, String>>>,
}

impl NodeSearchIndex {
    /// The open index, opening it off the async runtime on first call.
    pub async fn get(&self, state: &AppState) -> Result<Arc<LiveIndex>, String> {
        self.cell
            .get_or_init(|| async {
                let storage = Arc::clone(&state.storage);
                let data_dir = state.config.data_dir.clone();
                let opened =
                    tokio::task::spawn_blocking(move || LiveIndex::start(storage, &data_dir)).await;
                match opened {
                    Ok(Ok(live)) => Ok(live),
                    Ok(Err(error)) => {
                        tracing::error!(error = %error, "search index unavailable");
                        Err(error.to_string())
                    }
                    Err(error) => {
                        tracing::error!(error = %error, "search index task failed");
                        Err(format!("the index task failed: {error}"))
                    }
                }
            })
            .await
            .clone()
    }
}

/// Opens the node's index in the background, so that a missing or outdated
/// index is rebuilt at start-up rather than on the first search.
/// Drops a purged origin from the index and clears the purge marker (step
/// 4 of `crate::federation::purge`). On failure the marker stays and the next
/// opening of the index finishes the job; the error says why.
pub async fn forget_purged(state: &AppState, origin: NodeId) -> Result<(), String> {
    let live = state.search_index.get(state).await?;
    tokio::task::spawn_blocking(move || {
        live.forget_origin(&origin)?;
        purge::index_done(live.storage.as_ref(), &origin)?;
        Ok::<(), IndexerError>(())
    })
    .await
    .map_err(|error| format!("index task failed: {error}"))?
    .map_err(|error| error.to_string())
}

pub fn open_in_background(state: &AppState) {
    let state = state.clone();
    tokio::spawn(async move {
        let _ = state.search_index.get(&state).await;
    });
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
