//! The peers this node knows, in memory, behind one lock.
//!
//! Why a type of its own: links, counters, cursors, drivers and pending
//! rotations of every peer change from many places (admin calls, incoming
//! link requests, each peer's driver, repair, rotation). Each change is one
//! method here that takes the lock, changes what it must and returns what
//! the caller needs next (usually the [`StoredPeer`] to write to disk), so
//! no caller holds the lock across an `await` or reaches into a peer's
//! fields. Persistence is the caller's: the registry does no I/O.

use std::collections::BTreeMap;
use std::sync::{Mutex, MutexGuard};

use seednet_protocol::federation::wire::{
    Approval, Link, LinkEvent, PeerEntry, Refetch, RefusedVersion, RepairReport,
};
use seednet_protocol::{NodeDescriptor, NodeId, RecordKey, Signed, Timestamp};

use super::apply::Refused;
use super::peer::{DriverHandle, DriverMessage, Peer, StoredPeer};
use super::pending_rotation::PendingRotationState;
use super::FederationError;
use crate::sync::SyncStatus;

/// What [`PeerRegistry::apply_link_event`] did.
pub(crate) struct LinkChange {
    /// The link before the event (`None`: the peer is new).
    pub(crate) previous: Option<Link>,
    /// The peer after the event, to store.
    pub(crate) stored: StoredPeer,
}

/// What a peer's driver should do after a link change.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum DriverNeed {
    /// The link pulls and no driver runs: start one.
    Start,
    /// Nothing to do (running while it pulls, or stopped while it does not).
    Nothing,
}

/// A peer about to move to its new key (see [`PeerRegistry::rotation_move`]).
pub(crate) struct RotationMove {
    pub(crate) new_id: NodeId,
    /// The cursor in memory (a cursor write of the stopped driver may not be
    /// committed yet; its value is here).
    pub(crate) cursor: u64,
    /// The entry as it will be stored under the new id.
    pub(crate) stored: StoredPeer,
}

/// The peers, by node id.
#[derive(Default)]
pub(crate) struct PeerRegistry {
    peers: Mutex<BTreeMap<NodeId, Peer>>,
}

impl PeerRegistry {
    fn lock(&self) -> MutexGuard<'_, BTreeMap<NodeId, Peer>> {
        // A panic while holding the lock cannot leave a peer half-updated
        // in a way later readers could misread: every method assigns whole
        // fields. Keep serving rather than poisoning the node.
        self.peers
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Replaces every peer (at start, with what was loaded) and starts a
    /// driver for each one whose link pulls.
    pub(crate) fn load(
        &self,
        loaded: BTreeMap<NodeId, Peer>,
        mut spawn: impl FnMut(NodeId, &Peer) -> DriverHandle,
    ) {
        let mut peers = self.lock();
        *peers = loaded;
        for (node_id, peer) in peers.iter_mut() {
            if peer.link.pulls() {
                peer.driver = Some(spawn(*node_id, peer));
            }
        }
    }

    pub(crate) fn len(&self) -> usize {
        self.lock().len()
    }

    pub(crate) fn contains(&self, node_id: &NodeId) -> bool {
        self.lock().contains_key(node_id)
    }

    /// Peers that count against `PEERS_MAX`: every one but the link
    /// requests waiting for the admin.
    pub(crate) fn linked_count(&self) -> usize {
        self.lock()
            .values()
            .filter(|peer| !peer.is_pending_request())
            .count()
    }

    /// Link requests waiting for the admin.
    pub(crate) fn pending_request_count(&self) -> usize {
        self.lock()
            .values()
            .filter(|peer| peer.is_pending_request())
            .count()
    }

    /// Whether `node_id` asked for a link the admin has not answered.
    pub(crate) fn is_pending_request(&self, node_id: &NodeId) -> bool {
        self.lock()
            .get(node_id)
            .is_some_and(Peer::is_pending_request)
    }

    /// Pending link requests that arrived at or before `cutoff` (or whose
    /// time is unknown: stored by an older version).
    pub(crate) fn pending_requests_before(&self, cutoff: Timestamp) -> Vec<NodeId> {
        self.lock()
            .iter()
            .filter(|(_, peer)| peer.is_pending_request())
            .filter(|(_, peer)| peer.requested_at.is_none_or(|at| at <= cutoff))
            .map(|(id, _)| *id)
            .collect()
    }

    /// Every pending link request.
    pub(crate) fn pending_requests(&self) -> Vec<NodeId> {
        self.lock()
            .iter()
            .filter(|(_, peer)| peer.is_pending_request())
            .map(|(id, _)| *id)
            .collect()
    }

    /// Forgets a pending link request (once its removal is on disk); a
    /// peer in any other state is kept.
    pub(crate) fn remove_pending_request(&self, node_id: &NodeId) -> bool {
        let mut peers = self.lock();
        if peers.get(node_id).is_some_and(Peer::is_pending_request) {
            peers.remove(node_id);
            true
        } else {
            false
        }
    }

    /// One peer as `peer list` shows it.
    pub(crate) fn entry(&self, node_id: &NodeId) -> Result<PeerEntry, FederationError> {
        self.lock()
            .get(node_id)
            .and_then(Peer::entry)
            .ok_or(FederationError::UnknownPeer(*node_id))
    }

    /// One peer as it is stored.
    pub(crate) fn stored(&self, node_id: &NodeId) -> Option<StoredPeer> {
        self.lock().get(node_id).map(Peer::stored)
    }

    /// Every peer as `peer list` shows it.
    pub(crate) fn entries(&self) -> Vec<PeerEntry> {
        self.lock().values().filter_map(Peer::entry).collect()
    }

    pub(crate) fn link(&self, node_id: &NodeId) -> Option<Link> {
        self.lock().get(node_id).map(|peer| peer.link)
    }

    /// Every peer's link, for authorising a signed request.
    pub(crate) fn links(&self) -> BTreeMap<NodeId, Link> {
        self.lock()
            .iter()
            .map(|(id, peer)| (*id, peer.link))
            .collect()
    }

    /// The link of the peer whose records `origin` signs (its current or a
    /// former id), if it is a direct peer.
    pub(crate) fn link_of_origin(&self, origin: &NodeId) -> Option<Link> {
        self.lock()
            .values()
            .find(|peer| peer.owns_origin(origin))
            .map(|peer| peer.link)
    }

    /// The peer's base URL.
    pub(crate) fn base_url(&self, node_id: &NodeId) -> Result<String, FederationError> {
        self.lock()
            .get(node_id)
            .map(Peer::base_url)
            .ok_or(FederationError::UnknownPeer(*node_id))
    }

    /// The peer's base URL while its link pulls; `None` otherwise.
    pub(crate) fn pulling_base_url(&self, node_id: &NodeId) -> Option<String> {
        self.lock()
            .get(node_id)
            .filter(|peer| peer.link.pulls())
            .map(Peer::base_url)
    }

    /// Ids and base URLs of the peers whose link pulls.
    pub(crate) fn pulling(&self) -> Vec<(NodeId, String)> {
        self.lock()
            .iter()
            .filter(|(_, peer)| peer.link.pulls())
            .map(|(id, peer)| (*id, peer.base_url()))
            .collect()
    }

    /// Peers this node approved that have not approved it yet.
    pub(crate) fn awaiting_their_approval(&self) -> Vec<NodeId> {
        self.lock()
            .iter()
            .filter(|(_, peer)| {
                peer.link.local == Approval::Approved && peer.link.remote == Approval::None
            })
            .map(|(id, _)| *id)
            .collect()
    }

    /// A peer's current id followed by its former ids (the origins of its
    /// records).
    pub(crate) fn origins_of(&self, node_id: &NodeId) -> Vec<NodeId> {
        let mut ids = vec![*node_id];
        if let Some(peer) = self.lock().get(node_id) {
            ids.extend(peer.former_ids.iter().copied());
        }
        ids
    }

    /// Applies a link event to a peer, creating it when `descriptor` is
    /// given and the peer is new (a newer descriptor replaces the pinned
    /// one).
    pub(crate) fn apply_link_event(
        &self,
        node_id: NodeId,
        descriptor: Option<Signed<NodeDescriptor>>,
        event: LinkEvent,
        now: Timestamp,
    ) -> Result<LinkChange, FederationError> {
        let mut peers = self.lock();
        let previous = peers.get(&node_id).map(|peer| peer.link);
        let peer = match peers.get_mut(&node_id) {
            Some(peer) => {
                if let Some(descriptor) = descriptor {
                    if descriptor.value().version >= peer.descriptor.value().version {
                        peer.descriptor = descriptor;
                    }
                }
                peer
            }
            None => {
                let descriptor = descriptor.ok_or(FederationError::UnknownPeer(node_id))?;
                peers.entry(node_id).or_insert(Peer::new(descriptor))
            }
        };
        peer.link = peer.link.on(event);
        if !peer.is_pending_request() {
            peer.requested_at = None;
        } else if event == LinkEvent::RemoteApprove {
            peer.requested_at = Some(now);
        }
        Ok(LinkChange {
            previous,
            stored: peer.stored(),
        })
    }

    /// Stops the driver of a peer whose link no longer pulls; says whether
    /// one must be started.
    pub(crate) fn driver_need(&self, node_id: &NodeId) -> DriverNeed {
        let mut peers = self.lock();
        let Some(peer) = peers.get_mut(node_id) else {
            return DriverNeed::Nothing;
        };
        if peer.link.pulls() {
            return if peer.driver.is_none() {
                DriverNeed::Start
            } else {
                DriverNeed::Nothing
            };
        }
        if let Some(driver) = peer.driver.take() {
            driver.stop();
            tracing::info!(peer = %node_id, "sync stopped");
        }
        DriverNeed::Nothing
    }

    /// Starts a driver from `cursor` if the link still pulls and none runs
    /// (the link may have changed while the cursor was read).
    pub(crate) fn start_driver(
        &self,
        node_id: &NodeId,
        cursor: u64,
        spawn: impl FnOnce(&Peer) -> DriverHandle,
    ) {
        let mut peers = self.lock();
        if let Some(peer) = peers.get_mut(node_id) {
            if peer.link.pulls() && peer.driver.is_none() {
                peer.cursor = cursor;
                peer.driver = Some(spawn(peer));
            }
        }
    }

    /// Takes the driver of one peer (to stop it and wait for it).
    pub(crate) fn take_driver(&self, node_id: &NodeId) -> Option<DriverHandle> {
        self.lock()
            .get_mut(node_id)
            .and_then(|peer| peer.driver.take())
    }

    /// Takes every driver (at shutdown).
    pub(crate) fn take_drivers(&self) -> Vec<DriverHandle> {
        self.lock()
            .values_mut()
            .filter_map(|peer| peer.driver.take())
            .collect()
    }

    /// Passes a notify hint to the peer's driver, if one runs.
    pub(crate) fn notify(&self, node_id: &NodeId, head_seq: u64) {
        if let Some(driver) = self.lock().get(node_id).and_then(|p| p.driver.as_ref()) {
            driver.send(DriverMessage::Notify { head_seq });
        }
    }

    pub(crate) fn set_last_error(&self, node_id: &NodeId, error: String) {
        if let Some(peer) = self.lock().get_mut(node_id) {
            peer.last_error = Some(error);
        }
    }

    /// What the driver's state machine reports after each event; a new
    /// success clears the last error and stamps the sync time.
    pub(crate) fn record_sync(
        &self,
        node_id: &NodeId,
        status: SyncStatus,
        succeeded_at: Option<Timestamp>,
    ) {
        if let Some(peer) = self.lock().get_mut(node_id) {
            peer.sync = status;
            if let Some(at) = succeeded_at {
                peer.last_sync_at = Some(at);
                peer.last_error = None;
            }
        }
    }

    /// Counts records received from the peer (feed pages and repair).
    pub(crate) fn add_received(&self, node_id: &NodeId, applied: u64, equivocations: u64) {
        if let Some(peer) = self.lock().get_mut(node_id) {
            peer.records_received += applied;
            peer.equivocations += equivocations;
        }
    }

    /// Counts versions `node_id` sent that did not verify; the last one is
    /// shown in the peer status, its fetch again pending.
    pub(crate) fn add_refused(&self, node_id: &NodeId, refused: &[Refused]) {
        let Some(last) = refused.last() else {
            return;
        };
        if let Some(peer) = self.lock().get_mut(node_id) {
            peer.refused_versions += refused.len() as u64;
            peer.last_refused = Some(RefusedVersion {
                key: last.key.clone(),
                version: last.version,
                reason: last.reason.clone(),
                refused_at: crate::clock::now_timestamp(),
                refetch: if last.key.is_some() {
                    Refetch::Pending
                } else {
                    Refetch::Unknown
                },
            });
        }
    }

    /// What fetching `key` again did, if it is still the peer's last
    /// refused version; the stored peer to write.
    pub(crate) fn set_refetch(
        &self,
        node_id: &NodeId,
        key: &RecordKey,
        refetch: Refetch,
    ) -> Option<StoredPeer> {
        let mut peers = self.lock();
        let peer = peers.get_mut(node_id)?;
        let last = peer.last_refused.as_mut()?;
        if last.key.as_ref() != Some(key) {
            return None;
        }
        last.refetch = refetch;
        Some(peer.stored())
    }

    /// Sets the cursor reached (about to be stored); the entry to store.
    pub(crate) fn set_cursor(&self, node_id: &NodeId, cursor: u64) -> Option<StoredPeer> {
        let mut peers = self.lock();
        let peer = peers.get_mut(node_id)?;
        peer.cursor = cursor;
        Some(peer.stored())
    }

    /// Forgets how far the peer's feed was pulled (after a purge: its
    /// records come back from the start when it is approved again).
    pub(crate) fn restart_cursor(&self, node_id: &NodeId) {
        if let Some(peer) = self.lock().get_mut(node_id) {
            peer.cursor = 0;
            peer.sync = SyncStatus::default();
        }
    }

    /// Keeps the last repair pass; the entry to store.
    pub(crate) fn set_repair(&self, node_id: &NodeId, report: RepairReport) -> Option<StoredPeer> {
        let mut peers = self.lock();
        let peer = peers.get_mut(node_id)?;
        peer.last_repair = Some(report);
        Some(peer.stored())
    }

    /// Keeps a checked rotation the peer announced (replacing an earlier
    /// one); the entry to store.
    pub(crate) fn set_pending_rotation(
        &self,
        node_id: &NodeId,
        pending: PendingRotationState,
    ) -> Result<StoredPeer, FederationError> {
        let mut peers = self.lock();
        let peer = peers
            .get_mut(node_id)
            .ok_or(FederationError::UnknownPeer(*node_id))?;
        peer.pending_rotation = Some(pending);
        Ok(peer.stored())
    }

    /// The new id of the peer's pending rotation, refused when it collides
    /// with a known peer or `is_own` says it is this node's.
    pub(crate) fn pending_rotation_target(
        &self,
        old_id: &NodeId,
        is_own: impl Fn(&NodeId) -> bool,
    ) -> Result<NodeId, FederationError> {
        let peers = self.lock();
        let peer = peers
            .get(old_id)
            .ok_or(FederationError::UnknownPeer(*old_id))?;
        let new_id = peer
            .pending_rotation
            .as_ref()
            .ok_or(FederationError::NoPendingRotation(*old_id))?
            .new_node_id();
        if is_own(&new_id) || peers.contains_key(&new_id) {
            return Err(FederationError::RotationConflict(new_id));
        }
        Ok(new_id)
    }

    /// How the stopped peer `old_id` will be stored under its new id:
    /// pinned to the new descriptor, the old id added to its former ids.
    /// `stored_cursor` is the cursor on disk.
    pub(crate) fn rotation_move(
        &self,
        old_id: &NodeId,
        stored_cursor: u64,
    ) -> Result<RotationMove, FederationError> {
        let peers = self.lock();
        let peer = peers
            .get(old_id)
            .ok_or(FederationError::UnknownPeer(*old_id))?;
        let pending = peer
            .pending_rotation
            .as_ref()
            .ok_or(FederationError::NoPendingRotation(*old_id))?;
        let mut stored = peer.stored();
        stored.descriptor = pending.descriptor().to_wire();
        stored.former_ids.push(*old_id);
        stored.pending_rotation = None;
        Ok(RotationMove {
            new_id: pending.new_node_id(),
            cursor: stored_cursor.max(peer.cursor),
            stored,
        })
    }

    /// Moves the peer in memory once [`RotationMove`] is on disk: link,
    /// counters and cursor kept, the pending rotation's descriptor pinned.
    pub(crate) fn finish_rotation_move(
        &self,
        old_id: &NodeId,
        moved: &RotationMove,
    ) -> Result<(), FederationError> {
        let mut peers = self.lock();
        let old = peers
            .remove(old_id)
            .ok_or(FederationError::UnknownPeer(*old_id))?;
        let pending = old
            .pending_rotation
            .ok_or(FederationError::NoPendingRotation(*old_id))?;
        peers.insert(
            moved.new_id,
            Peer {
                descriptor: pending.into_descriptor(),
                link: old.link,
                records_received: old.records_received,
                equivocations: old.equivocations,
                last_error: old.last_error,
                last_sync_at: old.last_sync_at,
                last_repair: old.last_repair,
                cursor: moved.cursor,
                sync: SyncStatus {
                    cursor: moved.cursor,
                    ..old.sync
                },
                driver: None,
                former_ids: moved.stored.former_ids.clone(),
                pending_rotation: None,
                requested_at: old.requested_at,
                refused_versions: old.refused_versions,
                last_refused: old.last_refused,
            },
        );
        Ok(())
    }
}
