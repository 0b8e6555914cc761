//! The one path by which records this node did not sign itself enter its
//! storage: feed pages and repair fetches from peers, and signed records
//! read from an export by `seednet import`.
//!
//! Three steps, always in this order:
//! 1. **verify**: every signature of a batch at once (`verify_batch`), off
//!    the async runtime; a record that does not verify is refused and
//!    counted, never stored;
//! 2. **admit**: [`admit_batch`] decides by provenance (a peer's records
//!    pass the relay policy and the blocklist; an import only the blocklist,
//!    so a restore can bring back this node's own records);
//! 3. **apply**: the storage apply rule in one durable commit (newer
//!    versions only, an equivocation kept as evidence and refused), then
//!    each outcome counted.
//!
//! For a peer's records the blocklist snapshot and the queued write happen
//! under the shared gate of [`super::blocklist`], so a purge never races an
//! apply.

use std::collections::BTreeSet;
use std::sync::Arc;

use seednet_protocol::federation::wire::signed_items;
use seednet_protocol::{verify_batch, NodeId, Record, RecordId, RecordKey, Signed, SignedWire};
use serde::Deserialize;

use super::Inner;
use crate::storage::{ApplyOutcome, Storage, StorageError};
use crate::sync::policy::{admit_from, Admission, RelayPolicy};

/// What one applied batch did.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct BatchCounts {
    /// Stored as the current version.
    pub applied: u64,
    /// This exact version was already stored (or is this node's own).
    pub already_have: u64,
    /// A newer version is stored.
    pub stale: u64,
    /// A second, different signed version with the same key and version:
    /// refused and kept as evidence.
    pub equivocations: u64,
    /// The signature does not verify.
    pub refused_signature: u64,
    /// Refused by policy (blocked origin, relay policy).
    pub refused_policy: u64,
}

/// What a peer's batch did: the counts, and each version refused because
/// it does not verify, for the peer status and a fetch again
/// ([`super::refetch`]).
#[derive(Debug, Default, Clone)]
pub struct PeerBatch {
    pub counts: BatchCounts,
    pub refused: Vec<Refused>,
}

/// A version refused at verification: what its unverified bytes claim.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refused {
    pub key: Option<RecordKey>,
    pub version: Option<u64>,
    pub reason: String,
}

/// The fields of a signed record that name it.
#[derive(Deserialize)]
struct KeyView {
    origin: String,
    id: String,
    #[serde(default)]
    version: Option<u64>,
}

/// The record key and version a signed record claims, read without
/// verifying it: only to say what was refused, or to find where an answer
/// stopped, never to store.
pub(super) fn unverified_key(wire: &SignedWire) -> Option<(RecordKey, Option<u64>)> {
    let view: KeyView = serde_json::from_str(wire.signed.get()).ok()?;
    let key = RecordKey {
        origin: view.origin.parse().ok()?,
        id: RecordId::parse(&view.id)?,
    };
    Some((key, view.version))
}

/// Where a batch of signed records comes from; it decides admission.
#[derive(Debug, Clone, Copy)]
pub enum Provenance<'a> {
    /// Sent by a peer whose ids (current, then former) are `peer_ids`.
    Peer {
        peer_ids: &'a [NodeId],
        relay: RelayPolicy,
    },
    /// Read from an export file by `seednet import` (node stopped).
    Import,
}

/// Step 2: the records of `verified` that go on to the apply rule;
/// `counts` gets the refusals.
pub fn admit_batch(
    verified: Vec<Signed<Record>>,
    provenance: Provenance<'_>,
    own: &[NodeId],
    blocked: &BTreeSet<NodeId>,
    counts: &mut BatchCounts,
) -> Vec<Signed<Record>> {
    let mut admitted = Vec::with_capacity(verified.len());
    for record in verified {
        let origin = record.value().key.origin;
        let admission = match provenance {
            Provenance::Peer { peer_ids, relay } => {
                admit_from(&origin, peer_ids, own, relay, blocked)
            }
            Provenance::Import if blocked.contains(&origin) => Admission::BlockedOrigin,
            Provenance::Import => Admission::Admit,
        };
        match admission {
            Admission::Admit => admitted.push(record),
            Admission::OwnRecord => counts.already_have += 1,
            Admission::BlockedOrigin | Admission::NotDirect => counts.refused_policy += 1,
        }
    }
    admitted
}

/// Step 3's counting: what the storage apply rule did with each record.
fn count_outcomes(outcomes: Vec<ApplyOutcome>, counts: &mut BatchCounts) {
    for outcome in outcomes {
        match outcome {
            ApplyOutcome::Applied { .. } => counts.applied += 1,
            ApplyOutcome::AlreadyHave => counts.already_have += 1,
            ApplyOutcome::Stale { .. } => counts.stale += 1,
            ApplyOutcome::Equivocation { existing_hash } => {
                tracing::warn!(existing = %existing_hash.to_hex(), "equivocation: a second signed version with the same key and version was refused and kept as evidence");
                counts.equivocations += 1;
            }
        }
    }
}

/// The records of a batch whose signatures verify (step 1); the others go
/// to `refused`. Blocking.
fn verify_wires(
    wires: &[SignedWire],
    counts: &mut BatchCounts,
    refused: &mut Vec<Refused>,
) -> Vec<Signed<Record>> {
    let items = signed_items(wires);
    let mut verified = Vec::with_capacity(wires.len());
    for (result, wire) in verify_batch::<Record>(&items).into_iter().zip(wires) {
        match result {
            Ok(record) => verified.push(record),
            Err(error) => {
                let claimed = unverified_key(wire);
                tracing::warn!(
                    %error,
                    claimed = claimed.as_ref().map(|(key, _)| key.to_string()),
                    "record refused: it does not verify"
                );
                counts.refused_signature += 1;
                refused.push(Refused {
                    key: claimed.as_ref().map(|(key, _)| key.clone()),
                    version: claimed.and_then(|(_, version)| version),
                    reason: error.to_string(),
                });
            }
        }
    }
    verified
}

/// Applies records `peer` sent (a feed page or a repair fetch) and counts
/// them in the peer's status.
pub(crate) async fn apply_from_peer(
    inner: &Inner,
    peer: &NodeId,
    wires: Vec<SignedWire>,
) -> Result<PeerBatch, String> {
    let own = inner.keys.own_ids();
    let peer_ids = inner.registry.origins_of(peer);
    let relay = inner.relay;
    let admission = inner.blocklist.admission().await;
    let blocked = admission.blocked.clone();
    let (admitted, mut batch) = tokio::task::spawn_blocking(move || {
        let mut batch = PeerBatch::default();
        let verified = verify_wires(&wires, &mut batch.counts, &mut batch.refused);
        let provenance = Provenance::Peer {
            peer_ids: &peer_ids,
            relay,
        };
        let admitted = admit_batch(verified, provenance, &own, &blocked, &mut batch.counts);
        (admitted, batch)
    })
    .await
    .map_err(|e| format!("verification task failed: {e}"))?;
    if !admitted.is_empty() {
        let queued = inner.storage.apply_many(admitted);
        drop(admission);
        let outcomes = queued.wait().await.map_err(|e| e.to_string())?;
        count_outcomes(outcomes, &mut batch.counts);
    }
    record_counts(inner, peer, &batch);
    Ok(batch)
}

/// Applies signed records read from an export (`seednet import`, node
/// stopped): verified when the file was parsed, refused when their origin
/// is blocked.
pub async fn apply_imported(
    storage: &Arc<dyn Storage>,
    records: Vec<Signed<Record>>,
    blocked: &BTreeSet<NodeId>,
) -> Result<BatchCounts, StorageError> {
    let mut counts = BatchCounts::default();
    let admitted = admit_batch(records, Provenance::Import, &[], blocked, &mut counts);
    if !admitted.is_empty() {
        let outcomes = storage.apply_many(admitted).wait().await?;
        count_outcomes(outcomes, &mut counts);
    }
    Ok(counts)
}

/// Adds a batch to the peer's counters and logs what was refused.
fn record_counts(inner: &Inner, peer: &NodeId, batch: &PeerBatch) {
    let counts = batch.counts;
    inner
        .registry
        .add_received(peer, counts.applied, counts.equivocations);
    inner.registry.add_refused(peer, &batch.refused);
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

#[cfg(test)]
mod tests {
    use seednet_protocol::testing::{sample_content, sign_sample, test_key};

    use super::*;

    fn records(origins: &[u8]) -> Vec<Signed<Record>> {
        origins
            .iter()
            .map(|n| {
                sign_sample(
                    &test_key(*n),
                    &format!("r{n}"),
                    1,
                    sample_content("en", "IE", "Practice"),
                )
            })
            .collect()
    }

    #[test]
    fn a_peer_batch_passes_the_relay_policy_and_the_blocklist() {
        let (own, peer, relayed, blocked) = (test_key(1), test_key(2), test_key(3), test_key(4));
        let batch = records(&[1, 2, 3, 4]);
        let blocklist: BTreeSet<NodeId> = [blocked.node_id()].into();
        let mut counts = BatchCounts::default();
        let admitted = admit_batch(
            batch.clone(),
            Provenance::Peer {
                peer_ids: &[peer.node_id()],
                relay: RelayPolicy::DirectOnly,
            },
            &[own.node_id()],
            &blocklist,
            &mut counts,
        );
        let origins: Vec<NodeId> = admitted.iter().map(|r| r.value().key.origin).collect();
        assert_eq!(origins, vec![peer.node_id()]);
        assert_eq!(counts.already_have, 1, "its own record");
        assert_eq!(
            counts.refused_policy, 2,
            "relayed under direct-only, and blocked"
        );
        let _ = relayed;
    }

    #[test]
    fn an_import_restores_own_records_but_not_blocked_ones() {
        let (own, blocked) = (test_key(1), test_key(4));
        let blocklist: BTreeSet<NodeId> = [blocked.node_id()].into();
        let mut counts = BatchCounts::default();
        let admitted = admit_batch(
            records(&[1, 4]),
            Provenance::Import,
            &[own.node_id()],
            &blocklist,
            &mut counts,
        );
        let origins: Vec<NodeId> = admitted.iter().map(|r| r.value().key.origin).collect();
        assert_eq!(origins, vec![own.node_id()]);
        assert_eq!(counts.refused_policy, 1);
    }
}
