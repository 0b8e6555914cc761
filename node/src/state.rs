//! The state the whole running node shares: storage, publisher,
//! configuration, metrics, the search index and federation.
//!
//! Why a file of its own: every handler (JSON API, federation endpoints, web)
//! and the router use this state, and none of them defines it, so the
//! dependency points one way: handlers → state → services. A handler that
//! needs one part takes it as a narrow sub-state (`State<Federation>`,
//! `State<NodeSearchIndex>`, ...) through the [`FromRef`] impls below, which
//! says at a glance what it can touch.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use axum::extract::FromRef;
use seednet_protocol::NodeId;

use crate::config::Config;
use crate::federation::Federation;
use crate::http::connections::ConnectionGate;
use crate::http::error::ApiError;
use crate::metrics::Metrics;
use crate::search_index::NodeSearchIndex;
use crate::service::Publisher;
use crate::storage::Storage;
use crate::tokens::{self, TokenLimiter};

/// Everything a handler may use. Cheap to clone.
#[derive(Clone)]
pub struct AppState {
    pub storage: Arc<dyn Storage>,
    pub publisher: Publisher,
    pub config: Arc<Config>,
    pub metrics: Arc<Metrics>,
    /// The node's one search index (see `crate::search_index`).
    pub search_index: NodeSearchIndex,
    /// Peers, links and sync (see `crate::federation`).
    pub federation: Federation,
    /// Open client connections, per address (see `crate::http::connections`).
    pub connections: Arc<ConnectionGate>,
    /// Failed token authentications of the API and the web sign-in (see
    /// `crate::tokens`).
    pub token_limiter: Arc<TokenLimiter>,
    shutting_down: Arc<AtomicBool>,
}

impl AppState {
    /// The state of a node over its opened storage and publisher. Nothing
    /// is started: [`Federation::start`] and
    /// [`NodeSearchIndex::open_in_background`] are the server's to call.
    pub fn new(
        storage: Arc<dyn Storage>,
        publisher: Publisher,
        config: Arc<Config>,
        metrics: Arc<Metrics>,
    ) -> Self {
        let federation =
            Federation::new(Arc::clone(&storage), Arc::clone(publisher.keys()), &config);
        let search_index = NodeSearchIndex::new(Arc::clone(&storage), &config.data_dir);
        let token_limiter = Arc::new(tokens::token_limiter(std::time::Duration::from_secs(
            config.sign_in_window_secs,
        )));
        AppState {
            connections: Arc::default(),
            federation,
            token_limiter,
            search_index,
            storage,
            publisher,
            config,
            metrics,
            shutting_down: Arc::new(AtomicBool::new(false)),
        }
    }

    /// The id of the node's current key (it changes when the key rotates).
    pub fn node_id(&self) -> NodeId {
        self.publisher.node_id()
    }

    /// Runs blocking storage work off the async runtime.
    pub async fn blocking<T, E>(
        &self,
        work: impl FnOnce(&dyn Storage) -> Result<T, E> + Send + 'static,
    ) -> Result<T, ApiError>
    where
        T: Send + 'static,
        E: Into<ApiError> + Send + 'static,
    {
        let storage = Arc::clone(&self.storage);
        tokio::task::spawn_blocking(move || work(storage.as_ref()))
            .await
            .map_err(|e| ApiError::internal(format!("blocking task failed: {e}")))?
            .map_err(Into::into)
    }

    /// Marks the node as shutting down (readiness turns 503).
    pub fn begin_shutdown(&self) {
        self.shutting_down.store(true, Ordering::SeqCst);
    }

    /// Whether a shutdown has begun.
    pub fn shutting_down(&self) -> bool {
        self.shutting_down.load(Ordering::SeqCst)
    }
}

impl FromRef<AppState> for Federation {
    fn from_ref(state: &AppState) -> Self {
        state.federation.clone()
    }
}

impl FromRef<AppState> for NodeSearchIndex {
    fn from_ref(state: &AppState) -> Self {
        state.search_index.clone()
    }
}

impl FromRef<AppState> for Arc<Metrics> {
    fn from_ref(state: &AppState) -> Self {
        Arc::clone(&state.metrics)
    }
}

impl FromRef<AppState> for Arc<Config> {
    fn from_ref(state: &AppState) -> Self {
        Arc::clone(&state.config)
    }
}

impl FromRef<AppState> for Publisher {
    fn from_ref(state: &AppState) -> Self {
        state.publisher.clone()
    }
}
