//! One tokio task per active peer, driving [`PeerSync`]: it performs the
//! machine's actions (signed fetch, batch verification off the runtime,
//! admission, the storage apply path, durable cursor write, timers) and feeds
//! the outcomes back as events. The machine decides; this task only does.
//!
//! Revocation aborts the task: an in-flight fetch is dropped and nothing is
//! applied or stored after it.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use reqwest::Method;
use seednet_protocol::federation::limits::SYNC_PAGE_BODY_BYTES_MAX;
use seednet_protocol::federation::wire::{ChangesPage, ChangesQuery};
use seednet_protocol::NodeId;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;
use tokio::time::Instant;

use super::apply::{apply_from_peer, PeerBatch, Refused};
use super::client::ClientError;
use super::peer::{DriverHandle, DriverMessage, DRIVER_QUEUE_MAX};
use super::{store, Inner};
use crate::sync::{Action, Event, FetchError, PeerSync, RequestId, SyncConfig, SyncStatus};

/// Fetch and apply tasks of a driver, aborted when the driver is dropped
/// (revocation or shutdown), so nothing is applied after it.
struct InFlight(HashMap<RequestId, JoinHandle<()>>);

impl Drop for InFlight {
    fn drop(&mut self) {
        for task in self.0.values() {
            task.abort();
        }
    }
}

/// Least time between two automatic redeliveries of this node's key
/// rotations to one peer that refuses its new key (see
/// [`super::Federation::redeliver_rotations_to`]). The first refusal after
/// a start redelivers at once.
pub(crate) const ROTATION_REDELIVERY_INTERVAL_MS: u64 = 60_000;

/// A side task of the driver (a repair pass, a rotation redelivery), at most
/// one of each kind at a time, aborted with the driver like its fetches.
struct SideTask(Option<JoinHandle<()>>);

impl SideTask {
    fn is_running(&self) -> bool {
        self.0.as_ref().is_some_and(|task| !task.is_finished())
    }
}

impl Drop for SideTask {
    fn drop(&mut self) {
        if let Some(task) = &self.0 {
            task.abort();
        }
    }
}

/// When to send this node's key rotations again to a peer that refuses
/// its new key: at most one redelivery at a time, and one per
/// [`ROTATION_REDELIVERY_INTERVAL_MS`].
struct RotationRedelivery {
    task: SideTask,
    last: Option<Instant>,
}

impl RotationRedelivery {
    fn on_fetch_failed(&mut self, inner: &Arc<Inner>, peer: NodeId, error: &FetchError) {
        let due = self.last.is_none_or(|at| {
            at.elapsed() >= Duration::from_millis(ROTATION_REDELIVERY_INTERVAL_MS)
        });
        if !refuses_our_key(error) || !due || self.task.is_running() {
            return;
        }
        if inner.keys.retired().is_empty() {
            return;
        }
        self.last = Some(Instant::now());
        let federation = super::Federation {
            inner: Arc::clone(inner),
        };
        self.task.0 = Some(tokio::spawn(async move {
            if let Err(error) = federation.redeliver_rotations_to(peer).await {
                tracing::warn!(peer = %peer, %error, "cannot send the key rotation again");
            }
        }));
    }
}

/// Fetches again of refused versions ([`super::refetch`]) running at once
/// per peer, at most; a page refused beyond that is left to the repair pass.
pub(crate) const REFETCH_TASKS_MAX: usize = 2;

/// The driver's running fetches again of refused versions.
struct Refetches(Vec<SideTask>);

impl Refetches {
    fn start(&mut self, inner: &Arc<Inner>, peer: NodeId, refused: Vec<Refused>) {
        self.0.retain(SideTask::is_running);
        if self.0.len() >= REFETCH_TASKS_MAX {
            tracing::warn!(peer = %peer, refused = refused.len(), "refused versions left to the repair pass: fetches again already running");
            return;
        }
        let inner = Arc::clone(inner);
        self.0
            .push(SideTask(Some(tokio::spawn(super::refetch::refetch(
                inner, peer, refused,
            )))));
    }
}

enum Outcome {
    Fetched(RequestId, Result<ChangesPage, FetchError>, ChangesQuery),
    Applied(RequestId, Result<PeerBatch, String>),
}

/// What a driver does to the world, for one peer: the live node
/// ([`LiveIo`]) or a simulation (`driver_sim`, tests only), so that the
/// driver's own code (event loop, in-flight requests, cancellation, timers)
/// runs under simulated time and network too.
pub(crate) trait DriverIo: Send + Sync + 'static {
    /// One signed fetch of the peer's feed, decoded (not yet checked).
    fn fetch(
        &self,
        query: ChangesQuery,
    ) -> impl std::future::Future<Output = Result<ChangesPage, FetchError>> + Send;
    /// The apply path for the records of a checked page.
    fn apply(
        &self,
        records: Vec<seednet_protocol::SignedWire>,
    ) -> impl std::future::Future<Output = Result<PeerBatch, String>> + Send;
    /// Stores the cursor durably.
    fn persist_cursor(&self, cursor: u64) -> impl std::future::Future<Output = ()> + Send;
    /// The peer answered 403 `link_revoked`: the driver stops after this.
    fn peer_revoked(&self) -> impl std::future::Future<Output = ()> + Send;
    /// A fetch failed (after the page checks).
    fn fetch_failed(&self, error: &FetchError);
    /// A page held versions that do not verify.
    fn refused(&self, refused: Vec<Refused>);
    /// The machine asks for a repair pass.
    fn request_repair(&self);
    /// The machine's status after each event.
    fn report(&self, status: &SyncStatus);
}

/// Starts the driver of `node_id` at `base_url`, pulling from `cursor`.
pub(crate) fn spawn(
    inner: &Arc<Inner>,
    node_id: NodeId,
    base_url: String,
    cursor: u64,
) -> DriverHandle {
    let (sender, receiver) = mpsc::channel(DRIVER_QUEUE_MAX);
    let io = Arc::new(LiveIo {
        inner: Arc::clone(inner),
        peer: node_id,
        base_url,
        side: std::sync::Mutex::new(SideTasks {
            repair: SideTask(None),
            refetches: Refetches(Vec::new()),
            redelivery: RotationRedelivery {
                task: SideTask(None),
                last: None,
            },
            last_success: None,
        }),
    });
    let task = tokio::spawn(drive(
        io,
        inner.sync_config,
        cursor,
        rand::random(),
        receiver,
    ));
    tracing::info!(peer = %node_id, cursor, "sync started");
    DriverHandle::new(sender, task)
}

/// The driver's side tasks, aborted with it (dropped with [`LiveIo`]).
struct SideTasks {
    repair: SideTask,
    refetches: Refetches,
    redelivery: RotationRedelivery,
    last_success: Option<u64>,
}

/// The live node as a driver sees it.
struct LiveIo {
    inner: Arc<Inner>,
    peer: NodeId,
    base_url: String,
    side: std::sync::Mutex<SideTasks>,
}

impl LiveIo {
    fn side(&self) -> std::sync::MutexGuard<'_, SideTasks> {
        self.side.lock().unwrap_or_else(|p| p.into_inner())
    }
}

impl DriverIo for LiveIo {
    async fn fetch(&self, query: ChangesQuery) -> Result<ChangesPage, FetchError> {
        let body = self
            .inner
            .client
            .signed(
                Method::GET,
                &self.base_url,
                &query.path_and_query(),
                Vec::new(),
                SYNC_PAGE_BODY_BYTES_MAX,
            )
            .await
            .map_err(fetch_error)?;
        ChangesPage::decode(&body).map_err(|e| FetchError::BadPage(e.to_string()))
    }

    async fn apply(&self, records: Vec<seednet_protocol::SignedWire>) -> Result<PeerBatch, String> {
        apply_from_peer(&self.inner, &self.peer, records).await
    }

    async fn persist_cursor(&self, cursor: u64) {
        if let Err(error) = persist_progress(&self.inner, &self.peer, cursor).await {
            tracing::error!(peer = %self.peer, %error, "cannot store the sync cursor");
        }
    }

    async fn peer_revoked(&self) {
        tracing::warn!(peer = %self.peer, "peer revoked the link; sync stops");
        self.inner.remote_revoked(self.peer).await;
    }

    fn fetch_failed(&self, error: &FetchError) {
        self.side()
            .redelivery
            .on_fetch_failed(&self.inner, self.peer, error);
    }

    fn refused(&self, refused: Vec<Refused>) {
        self.side().refetches.start(&self.inner, self.peer, refused);
    }

    fn request_repair(&self) {
        // Its own task (a pass takes several round trips), aborted with the
        // driver; skipped while a pass is running.
        let mut side = self.side();
        if side.repair.is_running() {
            tracing::debug!(peer = %self.peer, "repair requested while one runs");
            return;
        }
        let inner = Arc::clone(&self.inner);
        let peer = self.peer;
        side.repair.0 = Some(tokio::spawn(async move {
            super::repair::run_if_idle(&inner, peer).await;
        }));
    }

    fn report(&self, status: &SyncStatus) {
        let mut side = self.side();
        let succeeded = status.last_success_ms != side.last_success;
        side.last_success = status.last_success_ms;
        drop(side);
        let succeeded_at = succeeded.then(crate::clock::now_timestamp);
        self.inner
            .registry
            .record_sync(&self.peer, status.clone(), succeeded_at);
    }
}

/// The driver of one peer: feeds the machine its events (notifies, fetch
/// and apply outcomes, wake-ups) and performs its actions through `io`,
/// until the message channel closes or the peer revokes the link.
pub(crate) async fn drive<Io: DriverIo>(
    io: Arc<Io>,
    config: SyncConfig,
    cursor: u64,
    jitter_seed: u64,
    mut messages: mpsc::Receiver<DriverMessage>,
) {
    let started = Instant::now();
    let now_ms = move || started.elapsed().as_millis() as u64;
    let mut machine = PeerSync::new(config, cursor, true, jitter_seed);
    let (outcome_sender, mut outcomes) = mpsc::unbounded_channel::<Outcome>();
    let mut pages: HashMap<RequestId, ChangesPage> = HashMap::new();
    let mut in_flight = InFlight(HashMap::new());
    let far = Duration::from_secs(365 * 24 * 3600);
    let mut wake = Instant::now();
    loop {
        let event = tokio::select! {
            message = messages.recv() => match message {
                Some(DriverMessage::Notify { head_seq }) => Event::NotifyReceived { head_seq },
                None => return,
            },
            Some(outcome) = outcomes.recv() => match outcome {
                Outcome::Fetched(request, result, query) => {
                    in_flight.0.remove(&request);
                    match result.and_then(|page| {
                        page.check_against(&query)
                            .map(|summary| (page, summary))
                            .map_err(|e| FetchError::BadPage(e.to_string()))
                    }) {
                        Ok((page, summary)) => {
                            pages.insert(request, page);
                            Event::PageFetched { request, page: summary }
                        }
                        Err(error) => {
                            if matches!(&error, FetchError::Refused { status: 403, code } if code == "link_revoked") {
                                io.peer_revoked().await;
                                return;
                            }
                            io.fetch_failed(&error);
                            Event::FetchFailed { request, error }
                        }
                    }
                }
                Outcome::Applied(request, result) => {
                    in_flight.0.remove(&request);
                    match result {
                        Ok(batch) => {
                            if !batch.refused.is_empty() {
                                io.refused(batch.refused);
                            }
                            Event::BatchApplied { request }
                        }
                        Err(error) => Event::ApplyFailed { request, error },
                    }
                }
            },
            () = tokio::time::sleep_until(wake) => {
                wake = Instant::now() + far;
                Event::Tick
            }
        };
        let actions = machine.handle(now_ms(), event);
        for action in actions {
            match action {
                Action::FetchPage {
                    request,
                    since,
                    limit,
                } => {
                    let query = ChangesQuery { since, limit };
                    let io = Arc::clone(&io);
                    let sender = outcome_sender.clone();
                    let task = tokio::spawn(async move {
                        let result = io.fetch(query).await;
                        let _ = sender.send(Outcome::Fetched(request, result, query));
                    });
                    in_flight.0.insert(request, task);
                }
                Action::ApplyBatch { request } => {
                    let Some(page) = pages.remove(&request) else {
                        let _ = outcome_sender
                            .send(Outcome::Applied(request, Err("page not held".into())));
                        continue;
                    };
                    let io = Arc::clone(&io);
                    let sender = outcome_sender.clone();
                    let task = tokio::spawn(async move {
                        let result = io.apply(page.records).await;
                        let _ = sender.send(Outcome::Applied(request, result));
                    });
                    in_flight.0.insert(request, task);
                }
                Action::PersistCursor { cursor } => io.persist_cursor(cursor).await,
                Action::ScheduleWake { at_ms } => {
                    wake = started + Duration::from_millis(at_ms);
                }
                Action::Cancel { request } => {
                    if let Some(task) = in_flight.0.remove(&request) {
                        task.abort();
                    }
                    pages.remove(&request);
                }
                Action::ReportError { error } => {
                    tracing::warn!(%error, "sync error");
                }
                Action::RequestRepair => io.request_repair(),
            }
        }
        io.report(machine.status());
    }
}

/// The peer does not know the key that signed the request: after a rotation
/// of this node's key, the peer still pins the old one.
fn refuses_our_key(error: &FetchError) -> bool {
    matches!(error, FetchError::Refused { status: 401, code } if code == "signature_unknown_key")
}

fn fetch_error(error: ClientError) -> FetchError {
    match error {
        ClientError::Refused { status, code, .. } => FetchError::Refused { status, code },
        ClientError::BadResponse(reason) => FetchError::BadPage(reason),
        ClientError::Unreachable(reason) => FetchError::Unreachable(reason),
        other => FetchError::Unreachable(other.to_string()),
    }
}

/// Durably stores a peer's cursor and counters after an applied batch.
pub(super) async fn persist_progress(
    inner: &Inner,
    node_id: &NodeId,
    cursor: u64,
) -> Result<(), crate::storage::StorageError> {
    let Some(stored) = inner.registry.set_cursor(node_id, cursor) else {
        return Ok(());
    };
    store::write_cursor(inner.storage.as_ref(), node_id, Some(cursor)).await?;
    store::write_peer(inner.storage.as_ref(), node_id, &stored).await
}
