//! Repair by set reconciliation (`docs/PROTOCOL-federation.md` 9.8): one
//! pass with one active peer finds the versions the peer holds and this node
//! lacks, whatever the cursors say, fetches them by item id and applies them
//! through the same apply path as feed pages.
//!
//! The reconciliation itself is the sans-IO [`Reconciler`] of
//! `protocol::federation::reconcile`; every step of it reads storage, so it
//! runs in `spawn_blocking`. A pass never touches the peer's cursor. At most
//! one pass runs per peer: the driver skips a scheduled pass while one runs,
//! the admin trigger waits for it.

use std::collections::{BTreeSet, HashMap};
use std::sync::{Arc, Mutex};

use reqwest::Method;
use seednet_protocol::federation::limits::{
    RECONCILE_FETCH_ITEMS_MAX, RECONCILE_MESSAGE_BYTES_MAX, SYNC_PAGE_BODY_BYTES_MAX,
};
use seednet_protocol::federation::reconcile::{
    item_id_of, Item, ReconcileConfig, ReconcileError, Reconciler,
};
use seednet_protocol::federation::wire::{ItemsRequest, ItemsResponse, RepairReport};
use seednet_protocol::NodeId;

use super::apply::{apply_from_peer, unverified_key};
use super::client::ClientError;
use super::{store, Inner};
use crate::storage::{StorageError, StoredItems};

/// Path of the reconciliation endpoint.
pub const RECONCILE_PATH: &str = "/federation/v1/reconcile";
/// Path of the fetch by item id.
pub const RECORDS_BY_ITEM_PATH: &str = "/federation/v1/records/by-item";

/// Why a repair pass stopped.
#[derive(Debug, thiserror::Error)]
pub enum RepairError {
    #[error("the link with the peer is not active")]
    NotActive,
    #[error(transparent)]
    Client(#[from] ClientError),
    #[error("reconciliation failed: {0}")]
    Reconcile(#[from] ReconcileError<StorageError>),
    #[error("the peer sent a bad answer: {0}")]
    BadResponse(String),
    #[error("applying repaired records failed: {0}")]
    Apply(String),
    #[error("repair task failed: {0}")]
    Task(String),
}

/// One lock per peer: held for the whole of a pass.
#[derive(Default)]
pub(crate) struct RepairLocks(Mutex<HashMap<NodeId, Arc<tokio::sync::Mutex<()>>>>);

impl RepairLocks {
    fn of(&self, peer: &NodeId) -> Arc<tokio::sync::Mutex<()>> {
        Arc::clone(
            self.0
                .lock()
                .unwrap_or_else(|poisoned| poisoned.into_inner())
                .entry(*peer)
                .or_default(),
        )
    }
}

/// Runs one pass now, waiting for a pass already running with this peer to
/// end first (the admin trigger).
pub(crate) async fn run_now(inner: &Arc<Inner>, peer: NodeId) -> RepairReport {
    let lock = inner.repairs.of(&peer);
    let _guard = lock.lock().await;
    finish(inner, peer, pass(inner, peer).await).await
}

/// Runs one pass unless one is already running with this peer (the
/// scheduled trigger); `None` when skipped.
pub(crate) async fn run_if_idle(inner: &Arc<Inner>, peer: NodeId) -> Option<RepairReport> {
    let lock = inner.repairs.of(&peer);
    let Ok(_guard) = lock.try_lock() else {
        tracing::debug!(peer = %peer, "repair already running; this trigger is skipped");
        return None;
    };
    Some(finish(inner, peer, pass(inner, peer).await).await)
}

/// Logs the pass and records it in the peer status.
async fn finish(
    inner: &Arc<Inner>,
    peer: NodeId,
    (mut report, result): (RepairReport, Result<(), RepairError>),
) -> RepairReport {
    report.finished_at = Some(crate::clock::now_timestamp());
    match result {
        Ok(()) => tracing::info!(
            peer = %peer,
            rounds = report.rounds,
            bytes_sent = report.bytes_sent,
            bytes_received = report.bytes_received,
            needed = report.needed,
            fetched = report.fetched,
            applied = report.applied,
            have = report.have,
            "repair pass done"
        ),
        Err(error) => {
            tracing::warn!(peer = %peer, %error, rounds = report.rounds, applied = report.applied, "repair pass failed");
            report.error = Some(error.to_string());
        }
    }
    record_repair(inner, &peer, report.clone()).await;
    report
}

/// Keeps the last repair pass in the peer status, durably.
async fn record_repair(inner: &Inner, node_id: &NodeId, report: RepairReport) {
    let Some(stored) = inner.registry.set_repair(node_id, report) else {
        return;
    };
    if let Err(error) = store::write_peer(inner.storage.as_ref(), node_id, &stored).await {
        tracing::warn!(peer = %node_id, %error, "cannot store the repair status");
    }
}

/// The pass: the report so far, and how it ended.
async fn pass(inner: &Arc<Inner>, peer: NodeId) -> (RepairReport, Result<(), RepairError>) {
    let mut report = RepairReport::default();
    let result = reconcile_and_fetch(inner, peer, &mut report).await;
    (report, result)
}

fn active_base_url(inner: &Inner, peer: &NodeId) -> Result<String, RepairError> {
    inner
        .registry
        .pulling_base_url(peer)
        .ok_or(RepairError::NotActive)
}

/// Runs one reconciliation step (which reads storage) in a blocking thread.
async fn step<T: Send + 'static>(
    inner: &Arc<Inner>,
    mut reconciler: Reconciler,
    work: impl FnOnce(&mut Reconciler, &StoredItems<'_>) -> Result<T, ReconcileError<StorageError>>
        + Send
        + 'static,
) -> Result<(Reconciler, T), RepairError> {
    let storage = Arc::clone(&inner.storage);
    tokio::task::spawn_blocking(move || {
        // The initiator offers everything it holds: records of origins it
        // blocked are matched rather than fetched again.
        let none = BTreeSet::new();
        let source = StoredItems {
            storage: storage.as_ref(),
            skip_origins: &none,
        };
        let value = work(&mut reconciler, &source)?;
        Ok((reconciler, value))
    })
    .await
    .map_err(|e| RepairError::Task(e.to_string()))?
}

async fn reconcile_and_fetch(
    inner: &Arc<Inner>,
    peer: NodeId,
    report: &mut RepairReport,
) -> Result<(), RepairError> {
    let base_url = active_base_url(inner, &peer)?;
    let reconciler = Reconciler::new(ReconcileConfig::default());
    let (mut reconciler, mut message) =
        step(inner, reconciler, |r, source| r.initiate(source)).await?;
    loop {
        active_base_url(inner, &peer)?;
        report.rounds += 1;
        report.bytes_sent += message.len() as u64;
        let reply = inner
            .client
            .signed_binary(
                &base_url,
                RECONCILE_PATH,
                message,
                RECONCILE_MESSAGE_BYTES_MAX,
            )
            .await?;
        report.bytes_received += reply.len() as u64;
        let (next_reconciler, next) = step(inner, reconciler, move |r, source| {
            r.reconcile(source, &reply)
        })
        .await?;
        reconciler = next_reconciler;
        match next {
            Some(next) => message = next,
            None => break,
        }
    }
    let outcome = reconciler.finish();
    report.have = outcome.have.len() as u64;
    report.needed = outcome.need.len() as u64;
    let wanted = worth_fetching(&outcome.have, &outcome.need);
    fetch_and_apply(inner, peer, &base_url, &wanted, report).await
}

/// The item ids of `need` worth asking for: not those of records this node
/// holds at a newer version (they would be stale). Same-version items with
/// another hash are kept: fetching them reveals and records an equivocation.
fn worth_fetching(have: &[Item], need: &[Item]) -> Vec<[u8; 32]> {
    let held: HashMap<[u8; 32], u64> = have
        .iter()
        .map(|item| (item.key().item_id(), item.key().version()))
        .collect();
    let mut seen = BTreeSet::new();
    need.iter()
        .filter(|item| {
            held.get(&item.key().item_id())
                .is_none_or(|version| *version <= item.key().version())
        })
        .map(|item| item.key().item_id())
        .filter(|id| seen.insert(*id))
        .collect()
}

/// Asks for `ids` in batches of at most [`RECONCILE_FETCH_ITEMS_MAX`]. A
/// peer answers in the order asked and may stop early at its byte bound, so
/// the next batch starts after the last id it answered (each request makes
/// progress; ids it does not hold are asked at most twice).
pub(super) async fn fetch_and_apply(
    inner: &Arc<Inner>,
    peer: NodeId,
    base_url: &str,
    ids: &[[u8; 32]],
    report: &mut RepairReport,
) -> Result<(), RepairError> {
    let mut pending = ids;
    while !pending.is_empty() {
        active_base_url(inner, &peer)?;
        let batch = &pending[..pending.len().min(RECONCILE_FETCH_ITEMS_MAX)];
        let body = serde_json::to_vec(&ItemsRequest::new(batch)).expect("json");
        let answer = inner
            .client
            .signed(
                Method::POST,
                base_url,
                RECORDS_BY_ITEM_PATH,
                body,
                SYNC_PAGE_BODY_BYTES_MAX,
            )
            .await?;
        let response =
            ItemsResponse::decode(&answer).map_err(|e| RepairError::BadResponse(e.to_string()))?;
        let positions: HashMap<[u8; 32], usize> =
            batch.iter().enumerate().map(|(i, id)| (*id, i)).collect();
        let mut last_answered = None;
        for wire in &response.records {
            // Unverified here (verification is batched in the apply path):
            // only used to find where the answer stopped.
            let position = unverified_key(wire)
                .and_then(|(key, _)| positions.get(&item_id_of(&key)).copied())
                .ok_or_else(|| {
                    RepairError::BadResponse("a record that was not asked for".into())
                })?;
            last_answered = Some(last_answered.map_or(position, |last: usize| last.max(position)));
        }
        report.fetched += response.records.len() as u64;
        if !response.records.is_empty() {
            let batch = apply_from_peer(inner, &peer, response.records)
                .await
                .map_err(RepairError::Apply)?;
            report.applied += batch.counts.applied;
        }
        pending = match last_answered {
            Some(last) if last + 1 < batch.len() => &pending[last + 1..],
            _ => &pending[batch.len()..],
        };
    }
    Ok(())
}
