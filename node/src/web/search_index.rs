//! The search index behind the web search page: the `search` crate's tantivy
//! index in `DATA_DIR/search-index`, fed from the node's change log by one
//! dedicated thread (never the async runtime), as `docs/SEARCH.md` ("Node
//! integration") describes.
//!
//! - Startup: `open_or_create`; a fresh or rebuilt index replays the change
//!   log from the start, a reused one resumes after its last indexed seq.
//! - The indexer thread reads change-log pages, verifies each signed version,
//!   stages it (`upsert`, tombstones included) and commits once per page;
//!   it sleeps on the storage's head-sequence channel when caught up.
//! - Read-your-writes: a search first waits (bounded by
//!   [`SEARCH_FRESHNESS_WAIT_MS_MAX`]) until the index has caught up with the
//!   change log as it was when the search arrived, so an editor who has just
//!   published finds the record.
//!
//! The index is derived state: deleting the folder rebuilds it on the next
//! start. If it cannot be opened at all, the web falls back to its bounded
//! storage scan and logs why.

use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use seednet_protocol::{Record, Signed};
use seednet_search::{OpenState, SearchIndex, INDEXER_BATCH_RECORDS_MAX};
use tokio::sync::watch;

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
    #[error("a stored record no longer verifies: {0}")]
    Verify(#[from] seednet_protocol::VerifyError),
}

/// The index and how far it has caught up with the change log.
pub struct LiveIndex {
    pub index: SearchIndex,
    storage: Arc<dyn Storage>,
    /// Change-log position up to which every change is committed.
    indexed_through: AtomicU64,
}

impl LiveIndex {
    /// Opens (or builds) the index and starts its indexer thread. Blocking.
    pub fn start(
        storage: Arc<dyn Storage>,
        data_dir: &Path,
    ) -> Result<Arc<LiveIndex>, IndexerError> {
        let (index, state) = SearchIndex::open_or_create(&data_dir.join(INDEX_DIR_NAME))?;
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
            indexed_through: AtomicU64::new(resume_after),
        });
        let worker = Arc::clone(&live);
        let head = live.storage.subscribe_head();
        std::thread::Builder::new()
            .name("search-indexer".into())
            .spawn(move || worker.run(head))
            .map_err(|error| {
                IndexerError::Storage(crate::storage::StorageError::Io(format!(
                    "cannot start the indexer thread: {error}"
                )))
            })?;
        Ok(live)
    }

    /// Indexes one change-log page; `true` when more changes are waiting.
    fn index_page(&self) -> Result<bool, IndexerError> {
        let cursor = self.indexed_through.load(Ordering::SeqCst);
        let page = self.storage.changes_since(
            cursor,
            INDEXER_BATCH_RECORDS_MAX,
            INDEXER_PAGE_BYTES_MAX,
        )?;
        if page.next_seq <= cursor {
            return Ok(false);
        }
        for change in &page.changes {
            let signed = Signed::<Record>::verify(&change.bytes, change.signature)?;
            self.index.upsert(signed.value(), change.seq)?;
        }
        self.index.commit()?;
        self.indexed_through.store(page.next_seq, Ordering::SeqCst);
        Ok(page.next_seq < page.head_seq)
    }

    fn run(self: Arc<Self>, mut head: watch::Receiver<u64>) {
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
            match self.index_page() {
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
