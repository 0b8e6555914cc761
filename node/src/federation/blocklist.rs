//! Origins whose records this node refuses, whoever relays them, and the
//! gate that orders those refusals against applies of received records.
//!
//! A block is stored durably (`Space::BlockedOrigins`, JSON under the 32-byte
//! origin) before it takes effect in memory. Two reasons exist: an admin's
//! block stays until the admin lifts it; a block a purge set is lifted by a
//! new approval of that peer (see `super::purge`).
//!
//! The gate: every apply of received records holds it shared from the moment
//! it takes its blocklist snapshot until its write is queued; a purge holds it
//! exclusively while it blocks the origin. Since the storage writer commits
//! in queue order, no batch admitted before a purge's block can be written
//! after the purge.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, Mutex, MutexGuard};

use seednet_protocol::{NodeId, Timestamp};
use serde::{Deserialize, Serialize};
use tokio::sync::{RwLock, RwLockReadGuard};

use crate::storage::{Space, Storage, StorageError};

/// Why an origin is blocked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum BlockReason {
    /// `seednet block add`: stays until `block remove`.
    Admin,
    /// `peer revoke --purge`: lifted by a new approval of that peer.
    Purge,
}

/// A blocked origin as stored (JSON in `Space::BlockedOrigins`).
#[derive(Debug, Serialize, Deserialize)]
pub struct StoredBlock {
    pub(crate) blocked_at: Timestamp,
    #[serde(default)]
    pub(crate) by_purge: bool,
}

impl StoredBlock {
    fn new(reason: BlockReason) -> Self {
        StoredBlock {
            blocked_at: crate::clock::now_timestamp(),
            by_purge: reason == BlockReason::Purge,
        }
    }
}

#[derive(Default)]
struct Blocks {
    blocked: BTreeSet<NodeId>,
    /// The subset a purge blocked.
    by_purge: BTreeSet<NodeId>,
}

/// The blocklist of a running node.
pub struct Blocklist {
    storage: Arc<dyn Storage>,
    blocks: Mutex<Blocks>,
    gate: RwLock<()>,
}

/// What an apply of received records holds while it admits and queues:
/// the shared gate and the blocklist as it was when taken.
pub(crate) struct Admission<'a> {
    _gate: RwLockReadGuard<'a, ()>,
    pub(crate) blocked: BTreeSet<NodeId>,
}

impl Blocklist {
    pub(crate) fn new(storage: Arc<dyn Storage>) -> Self {
        Blocklist {
            storage,
            blocks: Mutex::default(),
            gate: RwLock::new(()),
        }
    }

    fn lock(&self) -> MutexGuard<'_, Blocks> {
        self.blocks
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Every stored block. Blocking.
    pub fn read_stored(
        storage: &dyn Storage,
    ) -> Result<BTreeMap<NodeId, StoredBlock>, StorageError> {
        let mut blocked = BTreeMap::new();
        for (key, value) in storage.kv_scan(Space::BlockedOrigins, b"")? {
            let Some(value) = value else { continue };
            let block: StoredBlock = serde_json::from_slice(&value)
                .map_err(|e| StorageError::Corrupt(format!("stored blocked origin: {e}")))?;
            let bytes: [u8; 32] = key
                .as_slice()
                .try_into()
                .map_err(|_| StorageError::Corrupt("blocked origin key".into()))?;
            let origin = NodeId::from_bytes(bytes)
                .map_err(|e| StorageError::Corrupt(format!("blocked origin: {e}")))?;
            blocked.insert(origin, block);
        }
        Ok(blocked)
    }

    /// Stores a purge's block, blocking (for a purge finished at start).
    pub(crate) fn store_purge_block_blocking(
        storage: &dyn Storage,
        origin: &NodeId,
    ) -> Result<StoredBlock, StorageError> {
        let block = StoredBlock::new(BlockReason::Purge);
        storage
            .kv_write(Space::BlockedOrigins, vec![encode(origin, &block)])
            .wait_blocking()?;
        Ok(block)
    }

    /// Takes the stored blocks into memory (at start).
    pub(crate) fn load(&self, stored: BTreeMap<NodeId, StoredBlock>) {
        let mut blocks = self.lock();
        blocks.by_purge = stored
            .iter()
            .filter(|(_, block)| block.by_purge)
            .map(|(origin, _)| *origin)
            .collect();
        blocks.blocked = stored.into_keys().collect();
    }

    pub(crate) fn contains(&self, origin: &NodeId) -> bool {
        self.lock().blocked.contains(origin)
    }

    /// Every blocked origin.
    pub(crate) fn list(&self) -> Vec<NodeId> {
        self.lock().blocked.iter().copied().collect()
    }

    /// Those of `origins` that a purge blocked.
    pub(crate) fn blocked_by_purge(&self, origins: &[NodeId]) -> Vec<NodeId> {
        let blocks = self.lock();
        origins
            .iter()
            .filter(|origin| blocks.by_purge.contains(origin))
            .copied()
            .collect()
    }

    /// The shared gate and a snapshot of the blocklist, for one apply.
    pub(crate) async fn admission(&self) -> Admission<'_> {
        let gate = self.gate.read().await;
        Admission {
            _gate: gate,
            blocked: self.lock().blocked.clone(),
        }
    }

    /// Blocks `origin` durably, then in memory. An admin's block replaces a
    /// purge's (it outlives a later approval).
    pub(crate) async fn block(
        &self,
        origin: &NodeId,
        reason: BlockReason,
    ) -> Result<(), StorageError> {
        let block = StoredBlock::new(reason);
        self.storage
            .kv_write(Space::BlockedOrigins, vec![encode(origin, &block)])
            .wait()
            .await?;
        let mut blocks = self.lock();
        blocks.blocked.insert(*origin);
        match reason {
            BlockReason::Purge => blocks.by_purge.insert(*origin),
            BlockReason::Admin => blocks.by_purge.remove(origin),
        };
        tracing::info!(origin = %origin, ?reason, "origin blocked");
        Ok(())
    }

    /// [`Blocklist::block`] for a purge, with the gate held exclusively: every
    /// apply admitted before it has queued its write.
    pub(crate) async fn block_for_purge(&self, origin: &NodeId) -> Result<(), StorageError> {
        let _exclusive = self.gate.write().await;
        self.block(origin, BlockReason::Purge).await
    }

    /// Lifts a block durably, then in memory; `false` if it was not blocked.
    pub(crate) async fn unblock(&self, origin: &NodeId) -> Result<bool, StorageError> {
        if !self.contains(origin) {
            return Ok(false);
        }
        self.storage
            .kv_write(
                Space::BlockedOrigins,
                vec![(origin.as_bytes().to_vec(), None)],
            )
            .wait()
            .await?;
        let mut blocks = self.lock();
        blocks.blocked.remove(origin);
        blocks.by_purge.remove(origin);
        tracing::info!(origin = %origin, "origin unblocked");
        Ok(true)
    }
}

fn encode(origin: &NodeId, block: &StoredBlock) -> (Vec<u8>, Option<Vec<u8>>) {
    (
        origin.as_bytes().to_vec(),
        Some(serde_json::to_vec(block).expect("a stored block serialises")),
    )
}
