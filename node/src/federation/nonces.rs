//! The nonce cache of signed federation requests, kept on disk.
//!
//! A nonce is remembered until its signature has expired (plus the skew
//! allowance); after that a replay would be refused as expired anyway. The
//! cache is written durably before the request is accepted, so a restart does
//! not reopen the replay window, and it is bounded: when it is full of
//! unexpired nonces it refuses requests (503) instead of forgetting one early.
//! The in-memory map mirrors the disk so lookups cost no read.

use std::collections::BTreeMap;
use std::sync::Arc;

use seednet_protocol::federation::http_signature::{NonceCache, NonceCacheError};
use seednet_protocol::NodeId;

use crate::storage::{Space, Storage, StorageError, KV_SCAN_ENTRIES_MAX};

/// Most unexpired nonces kept (all of them are reloaded at start, so this
/// stays within one storage scan).
pub const NONCE_CACHE_ENTRIES_MAX: usize = KV_SCAN_ENTRIES_MAX;

/// Disk key: signer (32 bytes) ‖ nonce bytes; value: forget-after time
/// (8 bytes big-endian, Unix seconds).
fn disk_key(signer: &NodeId, nonce: &str) -> Vec<u8> {
    let mut key = signer.as_bytes().to_vec();
    key.extend_from_slice(nonce.as_bytes());
    key
}

/// The node's nonce cache. Blocking: use from `spawn_blocking`.
pub struct StoredNonceCache {
    storage: Arc<dyn Storage>,
    entries: BTreeMap<Vec<u8>, i64>,
    now_unix_seconds: i64,
}

impl StoredNonceCache {
    /// Loads the stored nonces, dropping the expired ones. Blocking.
    pub fn load(storage: Arc<dyn Storage>, now_unix_seconds: i64) -> Result<Self, StorageError> {
        let mut entries = BTreeMap::new();
        let mut expired = Vec::new();
        for (key, value) in storage.kv_scan(Space::Nonces, b"")? {
            let forget_after = value
                .as_deref()
                .and_then(|v| <[u8; 8]>::try_from(v).ok())
                .map(i64::from_be_bytes)
                .unwrap_or(i64::MIN);
            if forget_after < now_unix_seconds {
                expired.push((key, None));
            } else {
                entries.insert(key, forget_after);
            }
        }
        if !expired.is_empty() {
            storage.kv_write(Space::Nonces, expired).wait_blocking()?;
        }
        Ok(StoredNonceCache {
            storage,
            entries,
            now_unix_seconds,
        })
    }

    /// Tells the cache the time, so that expired nonces can be pruned.
    pub fn set_now(&mut self, now_unix_seconds: i64) {
        self.now_unix_seconds = now_unix_seconds;
    }

    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Forgets expired nonces, in memory and on disk.
    fn prune(&mut self) -> Result<(), StorageError> {
        let now = self.now_unix_seconds;
        let expired: Vec<Vec<u8>> = self
            .entries
            .iter()
            .filter(|(_, forget_after)| **forget_after < now)
            .map(|(key, _)| key.clone())
            .collect();
        if expired.is_empty() {
            return Ok(());
        }
        let writes = expired.iter().map(|key| (key.clone(), None)).collect();
        self.storage
            .kv_write(Space::Nonces, writes)
            .wait_blocking()?;
        for key in expired {
            self.entries.remove(&key);
        }
        Ok(())
    }
}

impl NonceCache for StoredNonceCache {
    fn insert_if_fresh(
        &mut self,
        signer: &NodeId,
        nonce: &str,
        forget_after_unix_seconds: i64,
    ) -> Result<bool, NonceCacheError> {
        let key = disk_key(signer, nonce);
        if self.entries.contains_key(&key) {
            return Ok(false);
        }
        if self.entries.len() >= NONCE_CACHE_ENTRIES_MAX {
            self.prune().map_err(|e| NonceCacheError(e.to_string()))?;
            if self.entries.len() >= NONCE_CACHE_ENTRIES_MAX {
                return Err(NonceCacheError(format!(
                    "{} unexpired nonces, at capacity",
                    self.entries.len()
                )));
            }
        }
        self.storage
            .kv_write(
                Space::Nonces,
                vec![(
                    key.clone(),
                    Some(forget_after_unix_seconds.to_be_bytes().to_vec()),
                )],
            )
            .wait_blocking()
            .map_err(|e| NonceCacheError(e.to_string()))?;
        self.entries.insert(key, forget_after_unix_seconds);
        Ok(true)
    }
}
