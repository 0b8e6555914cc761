//! Federation state on disk: peers (`Space::Peers`, JSON [`StoredPeer`] under
//! the 32-byte node id), sync cursors (`Space::Cursors`, 8 bytes big-endian
//! under the peer's node id), read once at start and written through here.
//!
//! Every write waits until it is durable (the storage writer's group
//! commit): a cursor is only stored after the batch it covers, so a crash
//! never moves a cursor past records that were not written.

use std::collections::BTreeMap;
use std::sync::Arc;

use seednet_protocol::NodeId;

use super::peer::{Peer, StoredPeer};
use crate::storage::{Space, Storage, StorageError};

/// Disk key of a peer's cursor.
pub(crate) fn cursor_key(peer: &NodeId) -> Vec<u8> {
    peer.as_bytes().to_vec()
}

/// A stored cursor: none means the peer was never pulled (start at 0); a
/// value of the wrong size is corruption, never a silent restart from zero.
pub(crate) fn decode_cursor(value: Option<&[u8]>) -> Result<u64, StorageError> {
    match value {
        None => Ok(0),
        Some(bytes) => <[u8; 8]>::try_from(bytes)
            .map(u64::from_be_bytes)
            .map_err(|_| {
                StorageError::Corrupt(format!(
                    "a stored sync cursor has {} bytes instead of 8",
                    bytes.len()
                ))
            }),
    }
}

/// Reads a peer's cursor, off the async runtime.
pub(crate) async fn read_cursor(
    storage: &Arc<dyn Storage>,
    peer: &NodeId,
) -> Result<u64, StorageError> {
    let storage = Arc::clone(storage);
    let key = cursor_key(peer);
    let value = tokio::task::spawn_blocking(move || storage.kv_get(Space::Cursors, &key))
        .await
        .map_err(|e| StorageError::Io(format!("cursor read failed: {e}")))??;
    decode_cursor(value.as_deref())
}

/// Stores a peer's cursor durably (`None` deletes it).
pub(crate) async fn write_cursor(
    storage: &dyn Storage,
    peer: &NodeId,
    cursor: Option<u64>,
) -> Result<(), StorageError> {
    let value = cursor.map(|cursor| cursor.to_be_bytes().to_vec());
    storage
        .kv_write(Space::Cursors, vec![(cursor_key(peer), value)])
        .wait()
        .await
}

/// Stores one peer durably under its node id.
pub(crate) async fn write_peer(
    storage: &dyn Storage,
    node_id: &NodeId,
    stored: &StoredPeer,
) -> Result<(), StorageError> {
    let value = serde_json::to_vec(stored).expect("a stored peer serialises");
    storage
        .kv_write(
            Space::Peers,
            vec![(node_id.as_bytes().to_vec(), Some(value))],
        )
        .wait()
        .await
}

/// Removes peers' entries in one durable batch (pending link requests:
/// they never pulled, so they have no cursor).
pub(crate) async fn delete_peers(
    storage: &dyn Storage,
    node_ids: &[NodeId],
) -> Result<(), StorageError> {
    let writes = node_ids
        .iter()
        .map(|id| (id.as_bytes().to_vec(), None))
        .collect();
    storage.kv_write(Space::Peers, writes).wait().await
}

/// Moves a peer's entry from `old_id` to `new_id` in one durable batch.
pub(crate) async fn move_peer(
    storage: &dyn Storage,
    old_id: &NodeId,
    new_id: &NodeId,
    stored: &StoredPeer,
) -> Result<(), StorageError> {
    let value = serde_json::to_vec(stored).expect("a stored peer serialises");
    storage
        .kv_write(
            Space::Peers,
            vec![
                (new_id.as_bytes().to_vec(), Some(value)),
                (old_id.as_bytes().to_vec(), None),
            ],
        )
        .wait()
        .await
}

/// Every stored peer with its cursor, descriptors verified. Blocking.
pub(crate) fn load_peers(storage: &dyn Storage) -> Result<BTreeMap<NodeId, Peer>, StorageError> {
    let mut peers = BTreeMap::new();
    for (key, value) in storage.kv_scan(Space::Peers, b"")? {
        let Some(value) = value else { continue };
        let stored: StoredPeer = serde_json::from_slice(&value)
            .map_err(|e| StorageError::Corrupt(format!("stored peer: {e}")))?;
        let peer = Peer::from_stored(stored)?;
        let node_id = peer.node_id();
        if key != node_id.as_bytes() {
            return Err(StorageError::Corrupt(
                "peer stored under another key".into(),
            ));
        }
        let cursor = decode_cursor(
            storage
                .kv_get(Space::Cursors, &cursor_key(&node_id))?
                .as_deref(),
        )?;
        peers.insert(node_id, peer.with_cursor(cursor));
    }
    Ok(peers)
}
