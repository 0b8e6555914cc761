//! `seednet peer revoke NODE_ID --purge`: revoke a link and remove the
//! records whose origin is that peer, from storage and from the search index.
//!
//! Revoking alone keeps what was received (the records API flags those
//! records with their origin's link state); a purge removes them. A purge
//! must not be undone by the rest of the mesh, so it also blocks the origin
//! (whoever relays it); a new approval of that peer lifts that block and,
//! since the peer's cursor restarts from zero, pulls everything back.
//!
//! The steps touch three stores that cannot share one transaction (the
//! blocklist and cursors in key-value spaces, the record trees, the tantivy
//! index), so a durable marker in [`Space::Meta`] makes them resumable:
//!
//! 1. marker `purge/<origin>` = [`PHASE_STORAGE`];
//! 2. block the origin (exclusive apply gate: no batch admitted before the
//!    block is written after the purge), purge it from storage in one
//!    transaction, delete the peer's cursor;
//! 3. marker = [`PHASE_INDEX`];
//! 4. the search index deletes the origin's documents and commits, and
//!    removes the marker.
//!
//! A crash during 2 is finished by the next start ([`finish_interrupted`]);
//! a crash during 4 by the next opening of the index
//! ([`crate::search_index`]). A new approval waits until 4 is done, so the
//! index never drops records that came back.

use std::collections::BTreeMap;

use seednet_protocol::federation::wire::PeerEntry;
use seednet_protocol::NodeId;
use serde::Serialize;

use super::blocklist::{Blocklist, StoredBlock};
use super::store::{self, cursor_key};
use super::{Federation, FederationError};
use crate::storage::{Purged, Space, Storage, StorageError};

/// Meta key prefix of a purge in progress (followed by the 32-byte origin).
pub const PURGE_MARKER_PREFIX: &[u8] = b"purge/";
/// Marker value: storage, blocklist or cursor not done yet.
pub const PHASE_STORAGE: &[u8] = b"storage";
/// Marker value: only the search index is left.
pub const PHASE_INDEX: &[u8] = b"index";

/// What `peer revoke --purge` did.
#[derive(Debug, Clone, Serialize)]
pub struct PurgeReport {
    /// The peer after the revocation.
    pub peer: PeerEntry,
    /// What storage removed.
    pub purged: Purged,
    /// Whether the search index has dropped the records too (if not, it
    /// does so when it next opens; `index_pending` says why not yet).
    pub index_purged: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub index_pending: Option<String>,
}

fn marker_key(origin: &NodeId) -> Vec<u8> {
    let mut key = PURGE_MARKER_PREFIX.to_vec();
    key.extend_from_slice(origin.as_bytes());
    key
}

pub(crate) fn write_marker(
    storage: &dyn Storage,
    origin: &NodeId,
    phase: &[u8],
) -> crate::storage::Pending<()> {
    storage.kv_write(
        Space::Meta,
        vec![(marker_key(origin), Some(phase.to_vec()))],
    )
}

/// Origins whose purge is waiting for `phase`. Blocking.
pub fn pending(storage: &dyn Storage, phase: &[u8]) -> Result<Vec<NodeId>, StorageError> {
    let mut origins = Vec::new();
    for (key, value) in storage.kv_scan(Space::Meta, PURGE_MARKER_PREFIX)? {
        if value.as_deref() != Some(phase) {
            continue;
        }
        let bytes: [u8; 32] = key[PURGE_MARKER_PREFIX.len()..]
            .try_into()
            .map_err(|_| StorageError::Corrupt("purge marker key".into()))?;
        origins.push(
            NodeId::from_bytes(bytes)
                .map_err(|e| StorageError::Corrupt(format!("purge marker origin: {e}")))?,
        );
    }
    Ok(origins)
}

/// Removes the marker once the search index has dropped `origin`. Blocking.
pub fn index_done(storage: &dyn Storage, origin: &NodeId) -> Result<(), StorageError> {
    storage
        .kv_write(Space::Meta, vec![(marker_key(origin), None)])
        .wait_blocking()
}

/// Finishes the storage phase of purges a crash interrupted; adds their
/// blocks to `blocked`. Called while federation loads, before any driver
/// runs. Blocking.
pub(super) fn finish_interrupted(
    storage: &dyn Storage,
    blocked: &mut BTreeMap<NodeId, StoredBlock>,
) -> Result<(), StorageError> {
    for origin in pending(storage, PHASE_STORAGE)? {
        let block = Blocklist::store_purge_block_blocking(storage, &origin)?;
        blocked.insert(origin, block);
        let purged = storage.purge_origin(origin).wait_blocking()?;
        storage
            .kv_write(Space::Cursors, vec![(cursor_key(&origin), None)])
            .wait_blocking()?;
        write_marker(storage, &origin, PHASE_INDEX).wait_blocking()?;
        tracing::warn!(origin = %origin, records = purged.records, "an interrupted purge was finished");
    }
    Ok(())
}

impl Federation {
    /// Revokes the link with `node_id` and removes the records of its
    /// origins (its id and former ids) from storage (steps 1 to 3 above).
    /// The caller then lets the search index drop each returned origin
    /// (step 4).
    pub async fn revoke_and_purge(
        &self,
        node_id: &NodeId,
    ) -> Result<(PeerEntry, Purged, Vec<NodeId>), FederationError> {
        self.revoke(node_id).await?;
        let origins = self.inner.registry.origins_of(node_id);
        let mut total = Purged::default();
        for origin in &origins {
            let purged = self.purge_origin_records(origin).await?;
            total.records += purged.records;
            total.changes += purged.changes;
        }
        let storage = &self.inner.storage;
        store::write_cursor(storage.as_ref(), node_id, None).await?;
        self.inner.registry.restart_cursor(node_id);
        for origin in &origins {
            write_marker(storage.as_ref(), origin, PHASE_INDEX)
                .wait()
                .await?;
        }
        tracing::warn!(
            peer = %node_id,
            origins = origins.len(),
            records = total.records,
            changes = total.changes,
            "peer revoked and its records purged; its sync cursor restarts from zero if it is approved again"
        );
        Ok((self.inner.registry.entry(node_id)?, total, origins))
    }

    /// Steps 1 and 2 for one origin: marker, block, storage purge.
    async fn purge_origin_records(&self, origin: &NodeId) -> Result<Purged, FederationError> {
        let storage = &self.inner.storage;
        write_marker(storage.as_ref(), origin, PHASE_STORAGE)
            .wait()
            .await?;
        self.inner.blocklist.block_for_purge(origin).await?;
        Ok(storage.purge_origin(*origin).wait().await?)
    }

    /// On a new approval: lifts the blocks a purge of this peer set (its
    /// cursor is gone, so its records come back from the start of its feed).
    /// Refused while the search index still has to drop a purged origin (it
    /// would drop the records that come back).
    pub(super) async fn lift_purge_blocks(&self, node_id: &NodeId) -> Result<(), FederationError> {
        let origins = self.inner.registry.origins_of(node_id);
        let purged = self.inner.blocklist.blocked_by_purge(&origins);
        for origin in &purged {
            let storage = std::sync::Arc::clone(&self.inner.storage);
            let key = marker_key(origin);
            let marker = tokio::task::spawn_blocking(move || storage.kv_get(Space::Meta, &key))
                .await
                .map_err(|e| StorageError::Io(format!("marker read failed: {e}")))??;
            if marker.is_some() {
                return Err(FederationError::PurgeInProgress(*origin));
            }
        }
        for origin in &purged {
            self.inner.blocklist.unblock(origin).await?;
        }
        Ok(())
    }
}
