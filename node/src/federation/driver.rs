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
use seednet_protocol::federation::wire::{signed_items, ChangesPage, ChangesQuery};
use seednet_protocol::{verify_batch, NodeId, Record, Signed, SignedWire};
use tokio::sync::mpsc;
use tokio::task::JoinHandle;
use tokio::time::Instant;

use super::client::ClientError;
use super::{DriverMessage, Inner, Peer, DRIVER_QUEUE_MAX};
use crate::storage::ApplyOutcome;
use crate::sync::policy::{admit_from, Admission};
use crate::sync::{Action, Event, FetchError, PeerSync, RequestId};

/// A running driver.
pub(crate) struct DriverHandle {
    sender: mpsc::Sender<DriverMessage>,
    task: JoinHandle<()>,
}

impl DriverHandle {
    pub(crate) fn send(&self, message: DriverMessage) {
        // A full queue already holds a hint that will trigger a pull.
        let _ = self.sender.try_send(message);
    }

    pub(crate) fn stop(self) {
        self.task.abort();
    }

    /// Aborts the task and returns its handle, to wait for it to be gone.
    pub(crate) fn abort(self) -> JoinHandle<()> {
        self.task.abort();
        self.task
    }
}

/// What one applied page did.
#[derive(Debug, Default, Clone, Copy)]
pub struct BatchCounts {
    pub applied: u64,
    pub already_have: u64,
    pub stale: u64,
    pub equivocations: u64,
    pub refused_signature: u64,
    pub refused_policy: u64,
}

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

enum Outcome {
    Fetched(RequestId, Result<ChangesPage, FetchError>, ChangesQuery),
    Applied(RequestId, Result<BatchCounts, String>),
}

pub(crate) fn spawn(inner: &Arc<Inner>, node_id: NodeId, peer: &Peer) -> DriverHandle {
    let (sender, receiver) = mpsc::channel(DRIVER_QUEUE_MAX);
    let base_url = peer
        .descriptor
        .value()
        .base_url
        .trim_end_matches('/')
        .to_string();
    let task = tokio::spawn(run(
        Arc::clone(inner),
        node_id,
        base_url,
        peer.cursor,
        receiver,
    ));
    tracing::info!(peer = %node_id, cursor = peer.cursor, "sync started");
    DriverHandle { sender, task }
}

async fn run(
    inner: Arc<Inner>,
    peer: NodeId,
    base_url: String,
    cursor: u64,
    mut messages: mpsc::Receiver<DriverMessage>,
) {
    let started = Instant::now();
    let now_ms = move || started.elapsed().as_millis() as u64;
    let mut machine = PeerSync::new(inner.sync_config, cursor, true, rand::random());
    let (outcome_sender, mut outcomes) = mpsc::unbounded_channel::<Outcome>();
    let mut pages: HashMap<RequestId, ChangesPage> = HashMap::new();
    let mut in_flight = InFlight(HashMap::new());
    let far = Duration::from_secs(365 * 24 * 3600);
    let mut wake = Instant::now();
    let mut last_success = None;
    let mut repair_task = SideTask(None);
    let mut redelivery = RotationRedelivery {
        task: SideTask(None),
        last: None,
    };
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
                                tracing::warn!(peer = %peer, "peer revoked the link; sync stops");
                                inner.remote_revoked(peer).await;
                                return;
                            }
                            redelivery.on_fetch_failed(&inner, peer, &error);
                            Event::FetchFailed { request, error }
                        }
                    }
                }
                Outcome::Applied(request, result) => {
                    in_flight.0.remove(&request);
                    match result {
                        Ok(counts) => {
                            record_counts(&inner, &peer, counts);
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
                    let client = inner.client.clone();
                    let base_url = base_url.clone();
                    let sender = outcome_sender.clone();
                    let task = tokio::spawn(async move {
                        let result = client
                            .signed(
                                Method::GET,
                                &base_url,
                                &query.path_and_query(),
                                Vec::new(),
                                SYNC_PAGE_BODY_BYTES_MAX,
                            )
                            .await
                            .map_err(fetch_error)
                            .and_then(|body| {
                                ChangesPage::decode(&body)
                                    .map_err(|e| FetchError::BadPage(e.to_string()))
                            });
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
                    let inner = Arc::clone(&inner);
                    let sender = outcome_sender.clone();
                    let task = tokio::spawn(async move {
                        let result = apply_page(&inner, &peer, page).await;
                        let _ = sender.send(Outcome::Applied(request, result));
                    });
                    in_flight.0.insert(request, task);
                }
                Action::PersistCursor { cursor } => {
                    if let Err(error) = inner.persist_progress(&peer, cursor).await {
                        tracing::error!(peer = %peer, %error, "cannot store the sync cursor");
                    }
                }
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
                    tracing::warn!(peer = %peer, %error, "sync error");
                }
                Action::RequestRepair => {
                    // Its own task (a pass takes several round trips), aborted
                    // with the driver; skipped while a pass is running.
                    if !repair_task.is_running() {
                        let inner = Arc::clone(&inner);
                        repair_task.0 = Some(tokio::spawn(async move {
                            super::repair::run_if_idle(&inner, peer).await;
                        }));
                    } else {
                        tracing::debug!(peer = %peer, "repair requested while one runs");
                    }
                }
            }
        }
        let status = machine.status().clone();
        let succeeded = status.last_success_ms != last_success;
        last_success = status.last_success_ms;
        inner.update_peer(&peer, |progress| {
            *progress.sync = status;
            if succeeded {
                *progress.last_sync_at = Some(super::timestamp_now());
                *progress.last_error = None;
            }
        });
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

pub(crate) fn record_counts(inner: &Inner, peer: &NodeId, counts: BatchCounts) {
    inner.update_peer(peer, |progress| {
        *progress.records_received += counts.applied;
        *progress.equivocations += counts.equivocations;
    });
    if counts.applied > 0 {
        tracing::info!(peer = %peer, applied = counts.applied, "records received");
    }
    if counts.refused_signature + counts.refused_policy + counts.equivocations > 0 {
        tracing::warn!(
            peer = %peer,
            bad_signature = counts.refused_signature,
            refused_by_policy = counts.refused_policy,
            equivocations = counts.equivocations,
            "records refused"
        );
    }
}

/// Verifies a page's records in a blocking thread, admits them, and applies
/// the admitted ones through the storage apply path in one durable commit.
pub(crate) async fn apply_page(
    inner: &Arc<Inner>,
    peer: &NodeId,
    page: ChangesPage,
) -> Result<BatchCounts, String> {
    apply_records(inner, peer, page.records).await
}

/// The one apply path of records received from `peer` (feed pages and
/// repair fetches): batch verification off the runtime, admission (own
/// records, blocked origins, relay policy), then the storage apply rule
/// (newer versions only, equivocations kept as evidence).
pub(crate) async fn apply_records(
    inner: &Arc<Inner>,
    peer: &NodeId,
    records: Vec<SignedWire>,
) -> Result<BatchCounts, String> {
    let own = inner.keys.own_ids();
    let peer_ids = inner.peer_ids(peer);
    let relay = inner.relay;
    // Shared until the write is queued (see `Inner::apply_gate`).
    let gate = inner.apply_gate.read().await;
    let blocked = inner.blocked.lock().expect("lock").clone();
    let peer = *peer;
    let (admitted, mut counts) = tokio::task::spawn_blocking(move || {
        let items = signed_items(&records);
        let verified = verify_batch::<Record>(&items);
        let mut counts = BatchCounts::default();
        let mut admitted: Vec<Signed<Record>> = Vec::new();
        for result in verified {
            match result {
                Ok(record) => {
                    let origin = record.value().key.origin;
                    match admit_from(&origin, &peer_ids, &own, relay, &blocked) {
                        Admission::Admit => admitted.push(record),
                        Admission::OwnRecord => counts.already_have += 1,
                        Admission::BlockedOrigin | Admission::NotDirect => {
                            counts.refused_policy += 1
                        }
                    }
                }
                Err(error) => {
                    tracing::warn!(peer = %peer, %error, "record refused: it does not verify");
                    counts.refused_signature += 1;
                }
            }
        }
        (admitted, counts)
    })
    .await
    .map_err(|e| format!("verification task failed: {e}"))?;
    if admitted.is_empty() {
        return Ok(counts);
    }
    let queued = inner.storage.apply_many(admitted);
    drop(gate);
    let outcomes = queued.wait().await.map_err(|e| e.to_string())?;
    for outcome in outcomes {
        match outcome {
            ApplyOutcome::Applied { .. } => counts.applied += 1,
            ApplyOutcome::AlreadyHave => counts.already_have += 1,
            ApplyOutcome::Stale { .. } => counts.stale += 1,
            ApplyOutcome::Equivocation { existing_hash } => {
                tracing::warn!(peer = %peer, existing = ?existing_hash, "equivocation: a second signed version with the same key and version was refused and kept as evidence");
                counts.equivocations += 1;
            }
        }
    }
    Ok(counts)
}
