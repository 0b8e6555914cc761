//! One peer: what is kept on disk ([`StoredPeer`], JSON in `Space::Peers`)
//! and what lives beside it in memory while the node runs ([`Peer`]: the
//! live sync status and the driver task).
//!
//! A running driver is held here as a [`DriverHandle`] (what the task is
//! and how to reach it), so this file needs nothing of the driver itself.
//!
//! Only [`super::registry::PeerRegistry`] holds `Peer`s; every other part of
//! federation asks the registry, so the rules for a peer's fields (which
//! error shows, which cursor counts) are written once, here.

use seednet_protocol::federation::wire::{
    Link, LinkState, PeerEntry, Refetch, RefusedVersion, RepairReport,
};
use seednet_protocol::{NodeDescriptor, NodeId, Signed, SignedWire, Timestamp};
use serde::{Deserialize, Serialize};

use tokio::sync::mpsc;
use tokio::task::JoinHandle;

use super::pending_rotation::{PendingRotationState, StoredPendingRotation};
use crate::storage::StorageError;
use crate::sync::SyncStatus;

/// A peer as stored on disk (JSON in `Space::Peers`, under its node id).
#[derive(Debug, Serialize, Deserialize)]
pub(crate) struct StoredPeer {
    pub(crate) descriptor: SignedWire,
    pub(crate) link: Link,
    pub(crate) records_received: u64,
    pub(crate) equivocations: u64,
    pub(crate) last_error: Option<String>,
    pub(crate) last_sync_at: Option<Timestamp>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) last_repair: Option<RepairReport>,
    /// Ids of the peer before approved key rotations (section 9.9).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub(crate) former_ids: Vec<NodeId>,
    /// A rotation announced by the peer, waiting for the admin.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) pending_rotation: Option<StoredPendingRotation>,
    /// When the peer's link request arrived, while it waits for this node's
    /// admin (the request expires after
    /// [`super::admission::PENDING_LINK_REQUEST_TTL_SECS`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) requested_at: Option<Timestamp>,
    /// Versions this peer sent that did not verify.
    #[serde(default)]
    pub(crate) refused_versions: u64,
    /// The latest of them and what fetching it again did.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) last_refused: Option<RefusedVersion>,
}

/// A peer in memory: what is stored plus the live sync status and driver.
pub(crate) struct Peer {
    pub(super) descriptor: Signed<NodeDescriptor>,
    pub(super) link: Link,
    pub(super) records_received: u64,
    pub(super) equivocations: u64,
    pub(super) last_error: Option<String>,
    pub(super) last_sync_at: Option<Timestamp>,
    pub(super) last_repair: Option<RepairReport>,
    /// The cursor last stored durably.
    pub(super) cursor: u64,
    /// What the driver's state machine reports.
    pub(super) sync: SyncStatus,
    pub(super) driver: Option<DriverHandle>,
    pub(super) former_ids: Vec<NodeId>,
    pub(super) pending_rotation: Option<PendingRotationState>,
    pub(super) requested_at: Option<Timestamp>,
    pub(super) refused_versions: u64,
    pub(super) last_refused: Option<RefusedVersion>,
}

impl Peer {
    /// A peer just learnt of, with no link yet.
    pub(super) fn new(descriptor: Signed<NodeDescriptor>) -> Peer {
        Peer {
            descriptor,
            link: Link::NEW,
            records_received: 0,
            equivocations: 0,
            last_error: None,
            last_sync_at: None,
            last_repair: None,
            cursor: 0,
            sync: SyncStatus::default(),
            driver: None,
            former_ids: Vec::new(),
            pending_rotation: None,
            requested_at: None,
            refused_versions: 0,
            last_refused: None,
        }
    }

    /// A peer read from disk; its descriptor and any pending rotation are
    /// verified again. Its cursor is set by [`Peer::with_cursor`].
    pub(super) fn from_stored(stored: StoredPeer) -> Result<Peer, StorageError> {
        let descriptor = Signed::<NodeDescriptor>::from_wire(&stored.descriptor)
            .map_err(|e| StorageError::Corrupt(format!("stored peer descriptor: {e}")))?;
        Ok(Peer {
            descriptor,
            link: stored.link,
            records_received: stored.records_received,
            equivocations: stored.equivocations,
            last_error: stored.last_error,
            last_sync_at: stored.last_sync_at,
            last_repair: stored.last_repair,
            cursor: 0,
            sync: SyncStatus::default(),
            driver: None,
            pending_rotation: stored
                .pending_rotation
                .as_ref()
                .map(PendingRotationState::load)
                .transpose()?,
            former_ids: stored.former_ids,
            requested_at: stored.requested_at,
            refused_versions: stored.refused_versions,
            last_refused: stored.last_refused,
        })
    }

    /// The peer with the cursor stored for it.
    pub(super) fn with_cursor(mut self, cursor: u64) -> Peer {
        self.cursor = cursor;
        self.sync.cursor = cursor;
        self
    }

    pub(super) fn node_id(&self) -> NodeId {
        self.descriptor.value().node_id
    }

    /// The peer's base URL, without a trailing slash.
    pub(super) fn base_url(&self) -> String {
        self.descriptor
            .value()
            .base_url
            .trim_end_matches('/')
            .to_string()
    }

    /// Whether records of `origin` are this peer's own (its id or a former one).
    pub(super) fn owns_origin(&self, origin: &NodeId) -> bool {
        self.node_id() == *origin || self.former_ids.contains(origin)
    }

    /// Whether the peer asked for a link this node's admin has not answered.
    pub(super) fn is_pending_request(&self) -> bool {
        self.link.state() == Some(LinkState::Pending)
    }

    /// The cursor the node holds for this peer: the newer of the stored one
    /// and the one the driver reached.
    fn effective_cursor(&self) -> u64 {
        self.cursor.max(self.sync.cursor)
    }

    pub(super) fn stored(&self) -> StoredPeer {
        StoredPeer {
            descriptor: self.descriptor.to_wire(),
            link: self.link,
            records_received: self.records_received,
            equivocations: self.equivocations,
            last_error: self.last_error.clone(),
            last_sync_at: self.last_sync_at,
            last_repair: self.last_repair.clone(),
            former_ids: self.former_ids.clone(),
            pending_rotation: self
                .pending_rotation
                .as_ref()
                .map(PendingRotationState::stored),
            requested_at: self.requested_at,
            refused_versions: self.refused_versions,
            last_refused: self.last_refused.clone(),
        }
    }

    /// What `peer list` shows; `None` for a peer without a link state yet.
    pub(super) fn entry(&self) -> Option<PeerEntry> {
        let descriptor = self.descriptor.value();
        let cursor = self.effective_cursor();
        Some(PeerEntry {
            node_id: descriptor.node_id,
            name: descriptor.name.clone(),
            country: descriptor.country,
            base_url: descriptor.base_url.clone(),
            state: self.link.state()?,
            link: self.link,
            last_sync_at: self.last_sync_at,
            records_received: self.records_received,
            cursor,
            head_seq: self.sync.head_seq,
            lag: self.sync.head_seq.saturating_sub(cursor),
            last_error: self
                .sync
                .last_error
                .clone()
                .or(self.last_error.clone())
                .or_else(|| self.last_refused.as_ref().and_then(refusal_error)),
            equivocations: self.equivocations,
            last_repair: self.last_repair.clone(),
            pending_rotation: self
                .pending_rotation
                .as_ref()
                .map(PendingRotationState::entry),
            former_node_ids: self.former_ids.clone(),
            requested_at: self.requested_at,
            refused_versions: self.refused_versions,
            last_refused: self.last_refused.clone(),
        })
    }
}

/// The error a refused version shows until a valid version is held: a feed
/// page with a refused version still counts as a successful pull, so this
/// is not cleared by the next one.
fn refusal_error(refused: &RefusedVersion) -> Option<String> {
    let what = match (&refused.key, refused.version) {
        (Some(key), Some(version)) => format!("{key} version {version}"),
        (Some(key), None) => key.to_string(),
        (None, _) => "a record that names no readable key".to_string(),
    };
    let state = match refused.refetch {
        Refetch::Recovered { .. } => return None,
        Refetch::Pending => "fetching it again",
        Refetch::Missing => "no peer had a valid version; the next repair pass looks again",
        Refetch::Unknown => "it cannot be asked for again",
    };
    Some(format!(
        "refused {what} from this peer ({}): {state}",
        refused.reason
    ))
}

/// Messages a driver task waits for besides its own timers and results.
#[derive(Debug, Clone, Copy)]
pub enum DriverMessage {
    Notify { head_seq: u64 },
}

/// Capacity of a driver's message queue (notifies beyond it are dropped:
/// they are only hints).
pub const DRIVER_QUEUE_MAX: usize = 16;

/// A running driver.
pub(crate) struct DriverHandle {
    sender: mpsc::Sender<DriverMessage>,
    task: JoinHandle<()>,
}

impl DriverHandle {
    pub(crate) fn new(sender: mpsc::Sender<DriverMessage>, task: JoinHandle<()>) -> Self {
        DriverHandle { sender, task }
    }

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
