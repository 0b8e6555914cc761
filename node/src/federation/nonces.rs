//! The nonce cache of signed federation requests, kept on disk.
//!
//! A nonce is remembered until its signature has expired (plus the skew
//! allowance); after that a replay would be refused as expired anyway. The
//! cache is bounded: when it is full of unexpired nonces it refuses requests
//! (503) instead of forgetting one early. The in-memory map mirrors the disk
//! so lookups cost no read.
//!
//! Durability without a queue behind one lock: a request's nonce is checked
//! and reserved in memory under the cache lock, and its disk write is only
//! *queued* there (the storage writer commits queued writes together, one
//! flush for many). The lock is then released, and the request goes on only
//! once that write is durable ([`NonceReservation::into_write`], awaited by
//! the `SignedRequest` extractor). So a restart never reopens the replay
//! window for a request that was answered, and concurrent requests share
//! flushes instead of waiting for each other's. A replay that arrives while
//! the first write is still in flight is refused at once: the nonce is
//! already in memory. If the write fails, the first request is refused too
//! (its nonce stays reserved, so the replay window stays shut).

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, MutexGuard};

use seednet_protocol::federation::http_signature::{NonceCache, NonceCacheError};
use seednet_protocol::NodeId;

use crate::storage::{Pending, Space, Storage, StorageError, KV_SCAN_ENTRIES_MAX};

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

/// The nonces in memory, mirroring `Space::Nonces`.
pub struct StoredNonceCache {
    storage: Arc<dyn Storage>,
    entries: BTreeMap<Vec<u8>, i64>,
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
        Ok(StoredNonceCache { storage, entries })
    }

    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Forgets nonces expired at `now`, in memory, and queues their removal
    /// from disk (not awaited: an expired nonce left on disk is dropped at
    /// the next load anyway).
    fn prune(&mut self, now_unix_seconds: i64) {
        let expired: Vec<Vec<u8>> = self
            .entries
            .iter()
            .filter(|(_, forget_after)| **forget_after < now_unix_seconds)
            .map(|(key, _)| key.clone())
            .collect();
        if expired.is_empty() {
            return;
        }
        let writes = expired.iter().map(|key| (key.clone(), None)).collect();
        drop(self.storage.kv_write(Space::Nonces, writes));
        for key in expired {
            self.entries.remove(&key);
        }
    }

    /// Reserves a nonce: `Ok(None)` for a replay, `Ok(Some(write))` for a
    /// fresh one, with its queued durable write.
    fn reserve(
        &mut self,
        signer: &NodeId,
        nonce: &str,
        forget_after_unix_seconds: i64,
        now_unix_seconds: i64,
    ) -> Result<Option<Pending<()>>, NonceCacheError> {
        let key = disk_key(signer, nonce);
        if self.entries.contains_key(&key) {
            return Ok(None);
        }
        if self.entries.len() >= NONCE_CACHE_ENTRIES_MAX {
            self.prune(now_unix_seconds);
            if self.entries.len() >= NONCE_CACHE_ENTRIES_MAX {
                return Err(NonceCacheError(format!(
                    "{} unexpired nonces, at capacity",
                    self.entries.len()
                )));
            }
        }
        let write = self.storage.kv_write(
            Space::Nonces,
            vec![(
                key.clone(),
                Some(forget_after_unix_seconds.to_be_bytes().to_vec()),
            )],
        );
        self.entries.insert(key, forget_after_unix_seconds);
        Ok(Some(write))
    }
}

/// The node's nonce cache while it runs (empty until federation loads it).
#[derive(Default)]
pub(crate) struct NonceStore {
    cache: Mutex<Option<StoredNonceCache>>,
}

/// Federation has not loaded its nonces yet: signed requests wait.
#[derive(Debug, thiserror::Error)]
#[error("federation is starting; retry")]
pub(crate) struct NoncesNotLoaded;

impl NonceStore {
    fn lock(&self) -> MutexGuard<'_, Option<StoredNonceCache>> {
        self.cache
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    pub(crate) fn load(&self, cache: StoredNonceCache) {
        *self.lock() = Some(cache);
    }

    /// The nonce check of one request verified at `now`.
    pub(crate) fn reservation(
        &self,
        now_unix_seconds: i64,
    ) -> Result<NonceReservation<'_>, NoncesNotLoaded> {
        if self.lock().is_none() {
            return Err(NoncesNotLoaded);
        }
        Ok(NonceReservation {
            store: self,
            now_unix_seconds,
            write: None,
        })
    }
}

/// The [`NonceCache`] one request verification uses: it holds the cache
/// lock only inside [`NonceCache::insert_if_fresh`], and keeps the queued
/// write of a fresh nonce for the caller to await.
pub(crate) struct NonceReservation<'a> {
    store: &'a NonceStore,
    now_unix_seconds: i64,
    write: Option<Pending<()>>,
}

impl NonceReservation<'_> {
    /// The durable write of the reserved nonce, to await before the request
    /// is answered (`None` when verification stopped before the nonce).
    pub(crate) fn into_write(self) -> Option<Pending<()>> {
        self.write
    }
}

impl NonceCache for NonceReservation<'_> {
    fn insert_if_fresh(
        &mut self,
        signer: &NodeId,
        nonce: &str,
        forget_after_unix_seconds: i64,
    ) -> Result<bool, NonceCacheError> {
        let mut guard = self.store.lock();
        let cache = guard
            .as_mut()
            .ok_or_else(|| NonceCacheError(NoncesNotLoaded.to_string()))?;
        match cache.reserve(
            signer,
            nonce,
            forget_after_unix_seconds,
            self.now_unix_seconds,
        )? {
            Some(write) => {
                self.write = Some(write);
                Ok(true)
            }
            None => Ok(false),
        }
    }
}
