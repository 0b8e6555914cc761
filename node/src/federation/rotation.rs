//! Key rotation (`docs/PROTOCOL-federation.md` 9.9) in the running node.
//!
//! **Own rotation** ([`Federation::rotate_key`]): a new key is generated; the
//! statement "old now signs as new" is signed with the old key and stored;
//! the old key file is kept as `node.key.retired-<old id>` and the new key
//! replaces `node.key` (fsync + atomic rename); the new descriptor (next
//! version, signed by the new key) is stored; the [`KeyRing`] switches, so
//! every later signature (records, descriptor, requests) uses the new key;
//! then the statement is sent to every active peer, signed with the old key.
//!
//! **A peer's rotation** ([`Federation::on_rotation`]): checked against the
//! pinned key and the peer's new descriptor, then stored with the peer as
//! *pending* and shown to the admin. Nothing else changes until
//! [`Federation::approve_rotation`], which re-keys the peer entry (link,
//! cursor and counters kept), remembers the old id as a former id (its
//! records stay valid and are still accepted from the peer), and from then on
//! only the new key may sign the peer's requests.

use std::sync::Arc;

use reqwest::Method;
use seednet_protocol::federation::limits::FEDERATION_SMALL_BODY_BYTES_MAX;
use seednet_protocol::federation::wire::{check_rotation, KeyRotation, PeerEntry};
use seednet_protocol::{NodeDescriptor, NodeId, NodeKey, Signed};
use serde::{Deserialize, Serialize};

use super::links::refresh_driver;
use super::pending_rotation::PendingRotationState;
use super::{store, Federation, FederationError};
use crate::clock::now_timestamp;
use crate::keyfile;
use crate::storage::{self, StorageError};

/// What `seednet key rotate` reports.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RotationReport {
    pub old_node_id: NodeId,
    pub new_node_id: NodeId,
    /// The file that keeps the old key (back it up with the new one).
    pub retired_key_file: String,
    /// One line per active peer the statement was sent to.
    pub peers: Vec<RotationDelivery>,
}

/// Whether one peer accepted the rotation statement (it then waits for its
/// admin's approval).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RotationDelivery {
    pub node_id: NodeId,
    pub delivered: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

impl Federation {
    /// `seednet key rotate`: replaces this node's key on the running node
    /// (see the module documentation for the order of the durable steps).
    pub async fn rotate_key(&self, reason: String) -> Result<RotationReport, FederationError> {
        let _rotating = self.inner.identity.rotating.lock().await;
        let old = self.inner.keys.current();
        let new = Arc::new(NodeKey::from_seed(rand::random()));
        let now = now_timestamp();
        let statement = Signed::sign(
            &old,
            KeyRotation {
                old_node_id: old.node_id(),
                new_node_id: new.node_id(),
                rotated_at: now,
                reason,
            },
        )
        .map_err(|e| FederationError::BadRequest(format!("cannot sign the rotation: {e}")))?;
        let current = self.inner.identity.descriptor()?;
        let descriptor = Signed::sign(
            &new,
            NodeDescriptor {
                node_id: new.node_id(),
                version: current.value().version + 1,
                signed_at: now,
                ..current.value().clone()
            },
        )
        .map_err(|e| FederationError::BadRequest(format!("cannot sign the descriptor: {e}")))?;
        let retired_key_file = {
            let storage = Arc::clone(&self.inner.storage);
            let key_path = self.inner.identity.key_path().to_path_buf();
            let (old, new) = (Arc::clone(&old), Arc::clone(&new));
            let (statement, descriptor) = (statement.clone(), descriptor.clone());
            let keys = Arc::clone(&self.inner.keys);
            tokio::task::spawn_blocking(move || -> Result<_, FederationError> {
                // The statement first: a node restarted after the key file
                // was replaced still knows which id it retired. A statement
                // of a rotation that crashed before its key was installed
                // names a new key this node never used: it is dropped.
                let mut rotations = storage::load_own_rotations(storage.as_ref())?;
                rotations.retain(|r| keys.is_own(&r.value().new_node_id));
                rotations.push(statement);
                storage::store_own_rotations(storage.as_ref(), &rotations).wait_blocking()?;
                let retired = keyfile::replace_for_rotation(&key_path, &old, &new)?;
                storage::store_descriptor(storage.as_ref(), &descriptor).wait_blocking()?;
                Ok(retired)
            })
            .await
            .map_err(|e| StorageError::Io(format!("rotation task failed: {e}")))??
        };
        self.inner.keys.rotate_to(Arc::clone(&new));
        self.inner.identity.set_descriptor(Some(descriptor));
        tracing::info!(old = %old.node_id(), new = %new.node_id(), "node key rotated");
        let targets = self.active_peers();
        let peers = self.send_rotation(&old, &statement, &targets).await;
        Ok(RotationReport {
            old_node_id: old.node_id(),
            new_node_id: new.node_id(),
            retired_key_file: retired_key_file.display().to_string(),
            peers,
        })
    }

    /// `seednet key resend-rotation`: sends every rotation this node signed
    /// again, oldest first, each signed by its old key (read from its
    /// retired key file), to every active peer: for a peer that missed a
    /// statement (it was unreachable). A peer that already approved a
    /// statement refuses it again with 401 `signature_unknown_key` (it no
    /// longer pins that key), which the report shows.
    pub async fn resend_rotations(&self) -> Result<Vec<RotationReport>, FederationError> {
        let _rotating = self.inner.identity.rotating.lock().await;
        let targets = self.active_peers();
        let mut reports = Vec::new();
        for (statement, old, path) in self.retired_statements().await? {
            reports.push(RotationReport {
                old_node_id: statement.value().old_node_id,
                new_node_id: statement.value().new_node_id,
                retired_key_file: path.display().to_string(),
                peers: self.send_rotation(&old, &statement, &targets).await,
            });
        }
        Ok(reports)
    }

    /// What the sync driver does when `peer` refuses this node's requests
    /// with 401 `signature_unknown_key`: the peer still pins a key this node
    /// retired, so it missed (or has not yet approved) a rotation. Every
    /// statement is sent to that peer again, as `key resend-rotation` would;
    /// the peer keeps it pending for its admin. Returns how many statements
    /// it accepted. The driver bounds how often this runs
    /// ([`super::driver::ROTATION_REDELIVERY_INTERVAL_MS`]).
    pub(crate) async fn redeliver_rotations_to(
        &self,
        peer: NodeId,
    ) -> Result<usize, FederationError> {
        let _rotating = self.inner.identity.rotating.lock().await;
        let mut accepted = 0;
        for (statement, old, _) in self.retired_statements().await? {
            let delivery = self.send_rotation(&old, &statement, &[peer]).await;
            accepted += delivery.iter().filter(|d| d.delivered).count();
        }
        if accepted > 0 {
            tracing::info!(%peer, accepted, "key rotation sent again to a peer that refused the new key");
        }
        Ok(accepted)
    }

    /// The ids of the peers whose link is active.
    fn active_peers(&self) -> Vec<NodeId> {
        self.inner
            .registry
            .pulling()
            .into_iter()
            .map(|(id, _)| id)
            .collect()
    }

    /// Every completed rotation this node signed, oldest first, with its old
    /// key (from its retired key file) and that file's path.
    async fn retired_statements(
        &self,
    ) -> Result<Vec<(Signed<KeyRotation>, NodeKey, std::path::PathBuf)>, FederationError> {
        let storage = Arc::clone(&self.inner.storage);
        let key_path = self.inner.identity.key_path().to_path_buf();
        let retired = self.inner.keys.retired();
        tokio::task::spawn_blocking(move || -> Result<_, FederationError> {
            let mut loaded = Vec::new();
            for statement in storage::load_own_rotations(storage.as_ref())? {
                let old_id = statement.value().old_node_id;
                // A statement whose rotation did not complete retired nothing.
                if !retired.contains(&old_id) {
                    continue;
                }
                let path = keyfile::retired_path(&key_path, &old_id);
                let old = keyfile::load(&path)?;
                if old.node_id() != old_id {
                    return Err(FederationError::BadRequest(format!(
                        "{} does not hold the key of {old_id}",
                        path.display()
                    )));
                }
                loaded.push((statement, old, path));
            }
            Ok(loaded)
        })
        .await
        .map_err(|e| StorageError::Io(format!("rotation task failed: {e}")))?
    }

    /// Sends the statement, signed by `old`, to each of `targets`.
    async fn send_rotation(
        &self,
        old: &NodeKey,
        statement: &Signed<KeyRotation>,
        targets: &[NodeId],
    ) -> Vec<RotationDelivery> {
        let body = serde_json::to_vec(&statement.to_wire()).expect("wire form serialises");
        let mut deliveries = Vec::with_capacity(targets.len());
        for &node_id in targets {
            let result = match self.inner.registry.base_url(&node_id) {
                Ok(base_url) => self
                    .inner
                    .client
                    .signed_as(
                        old,
                        Method::POST,
                        &base_url,
                        "/federation/v1/rotations",
                        body.clone(),
                        FEDERATION_SMALL_BODY_BYTES_MAX,
                    )
                    .await
                    .map_err(|e| e.to_string()),
                Err(e) => Err(e.to_string()),
            };
            if let Err(error) = &result {
                tracing::warn!(peer = %node_id, %error, "key rotation not delivered");
            }
            deliveries.push(RotationDelivery {
                node_id,
                delivered: result.is_ok(),
                error: result.err(),
            });
        }
        deliveries
    }

    /// A verified rotation statement arrived from the active peer `signer`:
    /// check it and its new descriptor, store it as pending. Never applied
    /// here.
    pub(crate) async fn on_rotation(
        &self,
        signer: NodeId,
        statement: Signed<KeyRotation>,
    ) -> Result<(), FederationError> {
        let new_id = statement.value().new_node_id;
        // The cheap checks before any fetch.
        if statement.value().old_node_id != signer {
            return Err(FederationError::RotationRefused(format!(
                "the statement is signed by {}, but the pinned key of this peer is {signer}",
                statement.value().old_node_id
            )));
        }
        if self.inner.keys.is_own(&new_id) || self.link(&new_id).is_some() {
            return Err(FederationError::RotationConflict(new_id));
        }
        let base_url = self.inner.registry.base_url(&signer)?;
        let descriptor = self
            .inner
            .client
            .descriptor(&base_url)
            .await
            .map_err(FederationError::RotationDescriptor)?;
        check_rotation(&statement, &signer, &descriptor)
            .map_err(|e| FederationError::RotationRefused(e.to_string()))?;
        let claimed = descriptor.value().base_url.trim_end_matches('/');
        if claimed != base_url {
            return Err(FederationError::RotationRefused(format!(
                "the new descriptor names {claimed} as its URL, the peer is at {base_url}"
            )));
        }
        self.store_pending_rotation(
            signer,
            PendingRotationState::new(statement, descriptor, now_timestamp()),
        )
        .await?;
        tracing::info!(peer = %signer, new = %new_id, "key rotation received; waiting for the admin");
        Ok(())
    }

    /// Stores a checked rotation with its peer, durably (it replaces an
    /// earlier pending one).
    async fn store_pending_rotation(
        &self,
        node_id: NodeId,
        pending: PendingRotationState,
    ) -> Result<(), FederationError> {
        let _guard = self.inner.peer_rotations.lock().await;
        let stored = self
            .inner
            .registry
            .set_pending_rotation(&node_id, pending)?;
        store::write_peer(self.inner.storage.as_ref(), &node_id, &stored).await?;
        Ok(())
    }

    /// `seednet peer approve-rotation NODE_ID`: pins the pending new key of
    /// peer `old_id`. The entry moves to the new id with its link, cursor and
    /// counters; the old id becomes a former id of the peer.
    pub async fn approve_rotation(&self, old_id: &NodeId) -> Result<PeerEntry, FederationError> {
        let _guard = self.inner.peer_rotations.lock().await;
        let keys = &self.inner.keys;
        let new_id = self
            .inner
            .registry
            .pending_rotation_target(old_id, |id| keys.is_own(id))?;
        let driver = self.inner.registry.take_driver(old_id);
        // The driver writes the cursor: it must be gone before it moves.
        if let Some(driver) = driver {
            let _ = driver.abort().await;
        }
        if let Err(error) = self.move_peer(old_id, new_id).await {
            // Nothing moved in memory: the old entry syncs on as before.
            refresh_driver(&self.inner, old_id).await?;
            return Err(error);
        }
        tracing::info!(old = %old_id, new = %new_id, "peer key rotation approved");
        refresh_driver(&self.inner, &new_id).await?;
        self.inner.registry.entry(&new_id)
    }

    /// Moves the stopped peer `old_id` (with a pending rotation to `new_id`)
    /// to `new_id`: on disk first, then in memory.
    async fn move_peer(&self, old_id: &NodeId, new_id: NodeId) -> Result<(), FederationError> {
        let storage = &self.inner.storage;
        let stored_cursor = store::read_cursor(storage, old_id).await?;
        let moved = self.inner.registry.rotation_move(old_id, stored_cursor)?;
        debug_assert_eq!(moved.new_id, new_id);
        // Durable order: the cursor under the new id, then the peer entry
        // moved in one batch, then the old cursor removed. A crash in
        // between leaves the old entry with its pending rotation (approve
        // again) or an orphan cursor (harmless).
        store::write_cursor(storage.as_ref(), &new_id, Some(moved.cursor)).await?;
        store::move_peer(storage.as_ref(), old_id, &new_id, &moved.stored).await?;
        store::write_cursor(storage.as_ref(), old_id, None).await?;
        self.inner.registry.finish_rotation_move(old_id, &moved)?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use seednet_protocol::federation::wire::LinkEvent;
    use seednet_protocol::testing::test_key;

    use super::*;
    use crate::config::{Config, Overrides};
    use crate::demo::local::init_node;
    use crate::keyring::KeyRing;
    use crate::storage::Space;
    use crate::storage::Storage;

    async fn federation(config: &Config, storage: &Arc<dyn Storage>) -> Federation {
        let key = Arc::new(keyfile::load(&config.key_path()).unwrap());
        let federation = Federation::new(
            Arc::clone(storage),
            Arc::new(KeyRing::new(key, Vec::new())),
            config,
        );
        federation.start().await.unwrap();
        federation
    }

    /// Opens the database once the background threads of the instance that
    /// `init_node` just closed have let go of its lock.
    async fn open_when_released(dir: &std::path::Path) -> crate::storage::SledStorage {
        for _ in 0..100 {
            match crate::storage::SledStorage::open(dir) {
                Err(crate::storage::StorageError::Locked { .. }) => {
                    tokio::time::sleep(std::time::Duration::from_millis(100)).await
                }
                opened => return opened.unwrap(),
            }
        }
        panic!("{} stayed locked", dir.display());
    }

    #[tokio::test]
    async fn a_pending_rotation_survives_a_restart_and_approval_moves_the_entry() {
        let dir = tempfile::tempdir().unwrap();
        let setup = init_node(&dir.path().join("b"), "b", "GR", &["en"], 600_000)
            .await
            .unwrap();
        let config =
            Config::load(&setup.data_dir, &Default::default(), &Overrides::default()).unwrap();
        let storage: Arc<dyn Storage> = Arc::new(open_when_released(&config.db_dir()).await);
        let (old, new) = (test_key(5), test_key(6));
        let fed = federation(&config, &storage).await;
        let template = fed.inner.identity.descriptor().unwrap().value().clone();
        let descriptor_of = |key: &NodeKey, version| {
            Signed::sign(
                key,
                NodeDescriptor {
                    node_id: key.node_id(),
                    base_url: "http://127.0.0.1:9".into(),
                    version,
                    ..template.clone()
                },
            )
            .unwrap()
        };
        fed.change_link(
            old.node_id(),
            Some(descriptor_of(&old, 1)),
            LinkEvent::RemoteApprove,
        )
        .await
        .unwrap();
        super::super::driver::persist_progress(&fed.inner, &old.node_id(), 7)
            .await
            .unwrap();
        let statement = Signed::sign(
            &old,
            KeyRotation {
                old_node_id: old.node_id(),
                new_node_id: new.node_id(),
                rotated_at: now_timestamp(),
                reason: "test".into(),
            },
        )
        .unwrap();
        fed.store_pending_rotation(
            old.node_id(),
            PendingRotationState::new(statement, descriptor_of(&new, 2), now_timestamp()),
        )
        .await
        .unwrap();
        fed.stop().await;

        // After a restart: still pending, still under the old id.
        let fed = federation(&config, &storage).await;
        let entry = fed.entry(&old.node_id()).unwrap();
        let pending = entry.pending_rotation.expect("pending after restart");
        assert_eq!(pending.new_node_id, new.node_id());
        assert_eq!(pending.reason, "test");
        assert_eq!(entry.cursor, 7);
        assert!(fed.entry(&new.node_id()).is_err());

        let approved = fed.approve_rotation(&old.node_id()).await.unwrap();
        assert_eq!(approved.node_id, new.node_id());
        assert_eq!(approved.former_node_ids, vec![old.node_id()]);
        assert_eq!(approved.link, entry.link);
        assert_eq!(approved.cursor, 7);
        assert!(approved.pending_rotation.is_none());
        assert!(matches!(
            fed.approve_rotation(&old.node_id()).await,
            Err(FederationError::UnknownPeer(_))
        ));
        assert!(matches!(
            fed.approve_rotation(&new.node_id()).await,
            Err(FederationError::NoPendingRotation(_))
        ));
        assert_eq!(
            fed.inner.registry.origins_of(&new.node_id()),
            vec![new.node_id(), old.node_id()]
        );
        fed.stop().await;

        // On disk: the entry and the cursor moved, nothing is left under the old id.
        let old_key = old.node_id().as_bytes().to_vec();
        assert!(storage.kv_get(Space::Peers, &old_key).unwrap().is_none());
        assert!(storage.kv_get(Space::Cursors, &old_key).unwrap().is_none());
        let fed = federation(&config, &storage).await;
        let entry = fed.entry(&new.node_id()).unwrap();
        assert_eq!(entry.former_node_ids, vec![old.node_id()]);
        assert_eq!(entry.cursor, 7);
        fed.stop().await;
        storage.shutdown().unwrap();
    }

    #[test]
    fn a_peer_stored_before_rotations_existed_still_loads() {
        let stored = r#"{"descriptor":{"signed":{"a":1},"signature":"00000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000"},"link":{"local":"approved","remote":"approved"},"records_received":3,"equivocations":0,"last_error":null,"last_sync_at":null}"#;
        let peer: super::super::peer::StoredPeer = serde_json::from_str(stored).unwrap();
        assert!(peer.former_ids.is_empty());
        assert!(peer.pending_rotation.is_none());
        let text = serde_json::to_string(&peer).unwrap();
        assert!(!text.contains("former_ids") && !text.contains("pending_rotation"));
    }
}
