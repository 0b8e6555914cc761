//! Federation in the running node: peer links, signed node-to-node requests,
//! one sync task per active peer, notify hints, the origin blocklist.
//!
//! The decisions live elsewhere and are pure: the link table and request
//! signatures in `protocol::federation`, authorisation and admission in
//! [`crate::sync::policy`], pull scheduling in [`crate::sync::machine`]. This
//! module is the I/O around them: it keeps the peers (pinned descriptor, link,
//! counters) on disk through the [`Storage`] key-value spaces, serves the
//! `/federation/v1` endpoints ([`http`]), runs the drivers ([`driver`]) and
//! exposes a [`Federation`] handle whose methods (`add_peer`, `approve`,
//! `revoke`, `list_peers`, `block_origin`, ...) the API, the CLI and the web
//! pages all call, so every way of managing peers behaves the same.

pub mod client;
pub mod driver;
pub mod http;
pub mod nonces;
pub mod purge;
pub mod repair;
pub mod rotation;

use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, Mutex};

use reqwest::Method;
use seednet_protocol::federation::limits::{FEDERATION_SMALL_BODY_BYTES_MAX, PEERS_MAX};
use seednet_protocol::federation::wire::{
    Approval, EmbeddedSigned, Link, LinkEvent, LinkRequest, LinkState, PeerEntry, RepairReport,
};
use seednet_protocol::{NodeDescriptor, NodeId, Signed, SignedWire, Timestamp};
use serde::{Deserialize, Serialize};

use crate::config::Config;
use crate::keyfile::KeyFileError;
use crate::keyring::KeyRing;
use crate::storage::{self, Space, Storage, StorageError};
use crate::sync::address::AddressPolicy;
use crate::sync::policy::RelayPolicy;
use crate::sync::{SyncConfig, SyncStatus};
use client::{ClientError, PeerClient};
use nonces::StoredNonceCache;

/// Messages a driver task waits for besides its own timers and results.
#[derive(Debug, Clone, Copy)]
pub enum DriverMessage {
    Notify { head_seq: u64 },
}

/// Capacity of a driver's message queue (notifies beyond it are dropped:
/// they are only hints).
pub const DRIVER_QUEUE_MAX: usize = 16;

/// Why a federation operation failed.
#[derive(Debug, thiserror::Error)]
pub enum FederationError {
    #[error(transparent)]
    Client(#[from] ClientError),
    #[error("the peer's descriptor names {claimed} as its URL, not {given}")]
    UrlMismatch { given: String, claimed: String },
    #[error("that URL is this node itself")]
    SelfPeer,
    #[error("no peer {0}")]
    UnknownPeer(NodeId),
    #[error("this node already has {max} peers")]
    TooManyPeers { max: usize },
    #[error("{0}")]
    BadRequest(String),
    #[error(transparent)]
    Storage(#[from] StorageError),
    #[error("federation is not started")]
    NotStarted,
    #[error("the link with peer {0} is not active")]
    NotActive(NodeId),
    #[error("the search index has not yet dropped the records purged from {0}; it does so when it opens (restart the node or run `seednet reindex`), then approve again")]
    PurgeInProgress(NodeId),
    #[error("key rotation refused: {0}")]
    RotationRefused(String),
    #[error("the new descriptor of the rotating peer cannot be fetched: {0}")]
    RotationDescriptor(ClientError),
    #[error("peer {0} has no pending key rotation")]
    NoPendingRotation(NodeId),
    #[error("the new key {0} is already a peer or this node itself")]
    RotationConflict(NodeId),
    #[error(transparent)]
    KeyFile(#[from] KeyFileError),
}

/// A peer as stored on disk (JSON in [`Space::Peers`]).
#[derive(Debug, Serialize, Deserialize)]
struct StoredPeer {
    descriptor: SignedWire,
    link: Link,
    records_received: u64,
    equivocations: u64,
    last_error: Option<String>,
    last_sync_at: Option<Timestamp>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    last_repair: Option<RepairReport>,
    /// Ids of the peer before approved key rotations (section 9.9).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    former_ids: Vec<NodeId>,
    /// A rotation announced by the peer, waiting for the admin.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pending_rotation: Option<rotation::StoredPendingRotation>,
}

/// A record origin's relation to this node (see [`Federation::origin_link`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum OriginLink {
    /// This node's own records.
    Local,
    /// A direct peer with an active link.
    Active,
    /// A direct peer this node asked; it has not approved yet.
    Requested,
    /// A direct peer that asked; this node's admin has not approved yet.
    Pending,
    /// A direct peer whose link was revoked (its records are kept).
    Revoked,
    /// Not a direct peer: its records arrived through peers.
    Relayed,
    /// Refused from now on (kept records stay until purged).
    Blocked,
}

impl OriginLink {
    pub fn as_str(self) -> &'static str {
        match self {
            OriginLink::Local => "local",
            OriginLink::Active => "active",
            OriginLink::Requested => "requested",
            OriginLink::Pending => "pending",
            OriginLink::Revoked => "revoked",
            OriginLink::Relayed => "relayed",
            OriginLink::Blocked => "blocked",
        }
    }
}

/// Why an origin is blocked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum BlockReason {
    /// `seednet block add`: stays until `block remove`.
    Admin,
    /// `peer revoke --purge`: lifted by a new approval of that peer.
    Purge,
}

/// A blocked origin as stored (JSON in [`Space::BlockedOrigins`]).
#[derive(Debug, Serialize, Deserialize)]
struct StoredBlock {
    blocked_at: Timestamp,
    #[serde(default)]
    by_purge: bool,
}

/// A peer in memory: what is stored plus the live sync status and driver.
pub(crate) struct Peer {
    descriptor: Signed<NodeDescriptor>,
    link: Link,
    records_received: u64,
    equivocations: u64,
    last_error: Option<String>,
    last_sync_at: Option<Timestamp>,
    last_repair: Option<RepairReport>,
    cursor: u64,
    sync: SyncStatus,
    driver: Option<driver::DriverHandle>,
    former_ids: Vec<NodeId>,
    pending_rotation: Option<rotation::PendingRotationState>,
}

impl Peer {
    fn stored(&self) -> StoredPeer {
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
                .map(rotation::PendingRotationState::stored),
        }
    }

    fn entry(&self) -> Option<PeerEntry> {
        let descriptor = self.descriptor.value();
        Some(PeerEntry {
            node_id: descriptor.node_id,
            name: descriptor.name.clone(),
            country: descriptor.country,
            base_url: descriptor.base_url.clone(),
            state: self.link.state()?,
            link: self.link,
            last_sync_at: self.last_sync_at,
            records_received: self.records_received,
            cursor: self.cursor.max(self.sync.cursor),
            head_seq: self.sync.head_seq,
            lag: self
                .sync
                .head_seq
                .saturating_sub(self.cursor.max(self.sync.cursor)),
            last_error: self.sync.last_error.clone().or(self.last_error.clone()),
            equivocations: self.equivocations,
            last_repair: self.last_repair.clone(),
            pending_rotation: self
                .pending_rotation
                .as_ref()
                .map(rotation::PendingRotationState::entry),
            former_node_ids: self.former_ids.clone(),
        })
    }
}

pub(crate) struct Inner {
    storage: Arc<dyn Storage>,
    /// The node's current key and retired ids (rotation switches it live).
    keys: Arc<KeyRing>,
    /// Where the current key file is (a rotation replaces it).
    key_path: std::path::PathBuf,
    /// Held while this node rotates its own key (one rotation at a time).
    rotating: tokio::sync::Mutex<()>,
    /// Held while a peer's pending rotation is stored or approved, so an
    /// approval moves exactly the rotation it checked. Never held across a
    /// network call.
    peer_rotations: tokio::sync::Mutex<()>,
    client: PeerClient,
    relay: RelayPolicy,
    sync_config: SyncConfig,
    peers: Mutex<BTreeMap<NodeId, Peer>>,
    blocked: Mutex<BTreeSet<NodeId>>,
    /// Blocked origins that a purge blocked (a new approval of that peer
    /// lifts the block; a block an admin asked for stays).
    purge_blocks: Mutex<BTreeSet<NodeId>>,
    /// Held shared by every apply of received records from its blocklist
    /// snapshot until the write is queued, and exclusively while an origin
    /// is blocked for a purge: no batch admitted before the block can be
    /// written after the purge.
    apply_gate: tokio::sync::RwLock<()>,
    nonces: Mutex<Option<StoredNonceCache>>,
    descriptor: Mutex<Option<Signed<NodeDescriptor>>>,
    tasks: Mutex<Vec<tokio::task::JoinHandle<()>>>,
    repairs: repair::RepairLocks,
}

/// The federation handle kept in the app state. Cheap to clone.
#[derive(Clone)]
pub struct Federation {
    inner: Arc<Inner>,
}

fn now_unix() -> i64 {
    time::OffsetDateTime::now_utc().unix_timestamp()
}

fn now_timestamp() -> Timestamp {
    Timestamp::from_unix_seconds(now_unix()).expect("the clock is within range")
}

fn cursor_key(peer: &NodeId) -> Vec<u8> {
    peer.as_bytes().to_vec()
}

impl Federation {
    /// A handle that does no I/O until [`Federation::start`].
    pub fn new(storage: Arc<dyn Storage>, keys: Arc<KeyRing>, config: &Config) -> Self {
        let settings = config.federation;
        let policy = AddressPolicy {
            allow_loopback: settings.allow_loopback_peers,
            allow_private: settings.allow_private_peers,
        };
        let sync_config = SyncConfig {
            interval_ms: settings.sync_interval_ms,
            repair_interval_ms: settings.repair_interval_ms,
            ..SyncConfig::default()
        };
        Federation {
            inner: Arc::new(Inner {
                client: PeerClient::new(Arc::clone(&keys), policy),
                storage,
                keys,
                key_path: config.key_path(),
                rotating: tokio::sync::Mutex::new(()),
                peer_rotations: tokio::sync::Mutex::new(()),
                relay: if settings.relay_direct_only {
                    RelayPolicy::DirectOnly
                } else {
                    RelayPolicy::All
                },
                sync_config,
                peers: Mutex::new(BTreeMap::new()),
                blocked: Mutex::new(BTreeSet::new()),
                purge_blocks: Mutex::new(BTreeSet::new()),
                apply_gate: tokio::sync::RwLock::new(()),
                nonces: Mutex::new(None),
                descriptor: Mutex::new(None),
                tasks: Mutex::new(Vec::new()),
                repairs: repair::RepairLocks::default(),
            }),
        }
    }

    /// The id of the node's current key.
    pub fn node_id(&self) -> NodeId {
        self.inner.keys.node_id()
    }

    /// Loads peers, cursors, blocklist and nonces, starts a driver for each
    /// active peer and the notifier that tells peers about new changes.
    pub async fn start(&self) -> Result<(), FederationError> {
        let inner = Arc::clone(&self.inner);
        let loaded = tokio::task::spawn_blocking(move || load(&inner))
            .await
            .map_err(|e| StorageError::Io(format!("load task failed: {e}")))??;
        let Loaded {
            peers,
            blocked,
            nonces,
            descriptor,
        } = loaded;
        *self.inner.purge_blocks.lock().expect("lock") = blocked
            .iter()
            .filter(|(_, block)| block.by_purge)
            .map(|(origin, _)| *origin)
            .collect();
        *self.inner.blocked.lock().expect("lock") = blocked.into_keys().collect();
        *self.inner.nonces.lock().expect("lock") = Some(nonces);
        *self.inner.descriptor.lock().expect("lock") = descriptor;
        {
            let mut map = self.inner.peers.lock().expect("lock");
            *map = peers;
            for (node_id, peer) in map.iter_mut() {
                if peer.link.pulls() {
                    peer.driver = Some(driver::spawn(&self.inner, *node_id, peer));
                }
            }
        }
        let notifier = tokio::spawn(notifier(Arc::clone(&self.inner)));
        let retrier = tokio::spawn(link_retrier(self.clone()));
        self.inner
            .tasks
            .lock()
            .expect("lock")
            .extend([notifier, retrier]);
        tracing::info!(
            peers = self.inner.peers.lock().expect("lock").len(),
            "federation started"
        );
        Ok(())
    }

    /// Stops every driver and background task and waits until they are gone
    /// (they hold the storage, whose data dir lock is released only then).
    pub async fn stop(&self) {
        let mut handles: Vec<tokio::task::JoinHandle<()>> =
            self.inner.tasks.lock().expect("lock").drain(..).collect();
        for peer in self.inner.peers.lock().expect("lock").values_mut() {
            if let Some(driver) = peer.driver.take() {
                handles.push(driver.abort());
            }
        }
        for handle in handles {
            handle.abort();
            let _ = handle.await;
        }
    }

    fn own_descriptor(&self) -> Result<Signed<NodeDescriptor>, FederationError> {
        self.inner
            .descriptor
            .lock()
            .expect("lock")
            .clone()
            .ok_or(FederationError::NotStarted)
    }

    /// `peer add URL`: fetch and verify the peer's descriptor, pin its key,
    /// approve the local side and send a signed link request.
    pub async fn add_peer(&self, url: &str) -> Result<PeerEntry, FederationError> {
        let base_url = url.trim().trim_end_matches('/').to_string();
        self.inner.client.check_url(&base_url)?;
        let descriptor = self.inner.client.descriptor(&base_url).await?;
        let claimed = descriptor
            .value()
            .base_url
            .trim_end_matches('/')
            .to_string();
        if claimed != base_url {
            return Err(FederationError::UrlMismatch {
                given: base_url,
                claimed,
            });
        }
        let node_id = descriptor.value().node_id;
        if self.inner.keys.is_own(&node_id) {
            return Err(FederationError::SelfPeer);
        }
        self.upsert(node_id, Some(descriptor), LinkEvent::LocalApprove)
            .await?;
        self.send_link_request(node_id).await?;
        self.entry(&node_id)
    }

    async fn send_link_request(&self, node_id: NodeId) -> Result<(), FederationError> {
        let own = self.own_descriptor()?;
        let base_url = self.base_url(&node_id)?;
        let key = self.inner.keys.current();
        let request = LinkRequest {
            from: key.node_id(),
            to: node_id,
            descriptor: EmbeddedSigned::from_signed(&own),
            requested_at: now_timestamp(),
            note: String::new(),
        };
        let signed = Signed::sign(&key, request).map_err(|e| {
            FederationError::BadRequest(format!("cannot sign the link request: {e}"))
        })?;
        let body = serde_json::to_vec(&signed.to_wire()).expect("wire form serialises");
        self.inner
            .client
            .signed(
                Method::POST,
                &base_url,
                "/federation/v1/links",
                body,
                FEDERATION_SMALL_BODY_BYTES_MAX,
            )
            .await?;
        Ok(())
    }

    async fn send_accept(&self, node_id: NodeId) -> Result<(), FederationError> {
        let base_url = self.base_url(&node_id)?;
        self.inner
            .client
            .signed(
                Method::POST,
                &base_url,
                "/federation/v1/links/accept",
                Vec::new(),
                FEDERATION_SMALL_BODY_BYTES_MAX,
            )
            .await?;
        Ok(())
    }

    fn base_url(&self, node_id: &NodeId) -> Result<String, FederationError> {
        self.inner
            .peers
            .lock()
            .expect("lock")
            .get(node_id)
            .map(|p| {
                p.descriptor
                    .value()
                    .base_url
                    .trim_end_matches('/')
                    .to_string()
            })
            .ok_or(FederationError::UnknownPeer(*node_id))
    }

    /// `peer approve NODE_ID`: approve the local side and tell the peer.
    pub async fn approve(&self, node_id: &NodeId) -> Result<PeerEntry, FederationError> {
        if !self.inner.peers.lock().expect("lock").contains_key(node_id) {
            return Err(FederationError::UnknownPeer(*node_id));
        }
        self.lift_purge_blocks(node_id).await?;
        self.upsert(*node_id, None, LinkEvent::LocalApprove).await?;
        if let Err(error) = self.send_accept(*node_id).await {
            // The peer learns of the approval at its next link request.
            tracing::warn!(peer = %node_id, %error, "link accept not delivered");
            self.set_last_error(node_id, format!("link accept not delivered: {error}"));
        }
        self.entry(node_id)
    }

    /// `peer revoke NODE_ID`: takes effect at once, both directions.
    pub async fn revoke(&self, node_id: &NodeId) -> Result<PeerEntry, FederationError> {
        if !self.inner.peers.lock().expect("lock").contains_key(node_id) {
            return Err(FederationError::UnknownPeer(*node_id));
        }
        self.upsert(*node_id, None, LinkEvent::LocalRevoke).await?;
        self.entry(node_id)
    }

    /// `peer list`: every peer with its link and sync status.
    pub fn list_peers(&self) -> Vec<PeerEntry> {
        self.inner
            .peers
            .lock()
            .expect("lock")
            .values()
            .filter_map(Peer::entry)
            .collect()
    }

    /// One peer's entry.
    pub fn entry(&self, node_id: &NodeId) -> Result<PeerEntry, FederationError> {
        self.inner
            .peers
            .lock()
            .expect("lock")
            .get(node_id)
            .and_then(Peer::entry)
            .ok_or(FederationError::UnknownPeer(*node_id))
    }

    /// `peer repair NODE_ID`: one repair pass with an active peer now
    /// (after any pass already running with it); its counts.
    pub async fn repair(&self, node_id: &NodeId) -> Result<RepairReport, FederationError> {
        match self.link(node_id) {
            None => Err(FederationError::UnknownPeer(*node_id)),
            Some(link) if !link.pulls() => Err(FederationError::NotActive(*node_id)),
            Some(_) => Ok(repair::run_now(&self.inner, *node_id).await),
        }
    }

    /// The link with a peer, if known.
    pub fn link(&self, node_id: &NodeId) -> Option<Link> {
        self.inner
            .peers
            .lock()
            .expect("lock")
            .get(node_id)
            .map(|p| p.link)
    }

    /// Refuses records of `origin` from now on, whoever relays them.
    pub async fn block_origin(&self, origin: &NodeId) -> Result<(), FederationError> {
        self.store_block(origin, BlockReason::Admin).await
    }

    /// Stores a block durably, then applies it to every later batch.
    async fn store_block(
        &self,
        origin: &NodeId,
        reason: BlockReason,
    ) -> Result<(), FederationError> {
        if self.inner.keys.is_own(origin) {
            return Err(FederationError::BadRequest(
                "a node cannot block its own records".into(),
            ));
        }
        let stored = StoredBlock {
            blocked_at: now_timestamp(),
            by_purge: reason == BlockReason::Purge,
        };
        let value = serde_json::to_vec(&stored).expect("json");
        self.inner
            .storage
            .kv_write(
                Space::BlockedOrigins,
                vec![(origin.as_bytes().to_vec(), Some(value))],
            )
            .wait()
            .await?;
        self.inner.blocked.lock().expect("lock").insert(*origin);
        let mut purge_blocks = self.inner.purge_blocks.lock().expect("lock");
        if stored.by_purge {
            purge_blocks.insert(*origin);
        } else {
            // An admin's own block outlives any later approval.
            purge_blocks.remove(origin);
        }
        tracing::info!(origin = %origin, ?reason, "origin blocked");
        Ok(())
    }

    /// Accepts records of `origin` again (from the next pull on).
    pub async fn unblock_origin(&self, origin: &NodeId) -> Result<bool, FederationError> {
        let known = self.inner.blocked.lock().expect("lock").contains(origin);
        if known {
            self.inner
                .storage
                .kv_write(
                    Space::BlockedOrigins,
                    vec![(origin.as_bytes().to_vec(), None)],
                )
                .wait()
                .await?;
            self.inner.blocked.lock().expect("lock").remove(origin);
            self.inner.purge_blocks.lock().expect("lock").remove(origin);
            tracing::info!(origin = %origin, "origin unblocked");
        }
        Ok(known)
    }

    pub fn blocked_origins(&self) -> Vec<NodeId> {
        self.inner
            .blocked
            .lock()
            .expect("lock")
            .iter()
            .copied()
            .collect()
    }

    fn set_last_error(&self, node_id: &NodeId, error: String) {
        if let Some(peer) = self.inner.peers.lock().expect("lock").get_mut(node_id) {
            peer.last_error = Some(error);
        }
    }

    /// Applies a link event to a peer (creating it when `descriptor` is
    /// given), stores it durably, then starts or stops its driver.
    async fn upsert(
        &self,
        node_id: NodeId,
        descriptor: Option<Signed<NodeDescriptor>>,
        event: LinkEvent,
    ) -> Result<(), FederationError> {
        upsert(&self.inner, node_id, descriptor, event).await
    }

    /// A verified link request arrived from `descriptor`'s node.
    pub(crate) async fn on_link_request(
        &self,
        descriptor: Signed<NodeDescriptor>,
    ) -> Result<(), FederationError> {
        let node_id = descriptor.value().node_id;
        let previous = self.link(&node_id);
        if previous.is_none() && self.inner.peers.lock().expect("lock").len() >= PEERS_MAX {
            return Err(FederationError::TooManyPeers { max: PEERS_MAX });
        }
        self.upsert(node_id, Some(descriptor), LinkEvent::RemoteApprove)
            .await?;
        // A node that asks again may have lost our accept: send it again.
        if previous.is_some_and(|link| link.local == Approval::Approved) {
            let federation = self.clone();
            tokio::spawn(async move {
                if let Err(error) = federation.send_accept(node_id).await {
                    tracing::warn!(peer = %node_id, %error, "link accept not delivered");
                }
            });
        }
        Ok(())
    }

    /// A verified link accept arrived from `node_id`.
    pub(crate) async fn on_link_accept(&self, node_id: NodeId) -> Result<(), FederationError> {
        self.upsert(node_id, None, LinkEvent::RemoteApprove).await
    }

    /// A verified notify arrived.
    pub(crate) fn on_notify(&self, node_id: &NodeId, head_seq: u64) {
        if let Some(peer) = self.inner.peers.lock().expect("lock").get(node_id) {
            if let Some(driver) = &peer.driver {
                driver.send(DriverMessage::Notify { head_seq });
            }
        }
    }

    pub(crate) fn links_snapshot(&self) -> BTreeMap<NodeId, Link> {
        self.inner
            .peers
            .lock()
            .expect("lock")
            .iter()
            .map(|(id, p)| (*id, p.link))
            .collect()
    }

    /// How this node relates to the origin of a record it holds: the flag
    /// the records API shows beside received records.
    pub fn origin_link(&self, origin: &NodeId) -> OriginLink {
        if self.inner.keys.is_own(origin) {
            return OriginLink::Local;
        }
        if self.is_blocked(origin) {
            return OriginLink::Blocked;
        }
        // A peer's records stay under the ids it had before a key rotation.
        let link = self
            .inner
            .peers
            .lock()
            .expect("lock")
            .iter()
            .find_map(|(id, peer)| {
                (id == origin || peer.former_ids.contains(origin)).then_some(peer.link)
            });
        match link.and_then(|link| link.state()) {
            Some(LinkState::Active) => OriginLink::Active,
            Some(LinkState::Requested) => OriginLink::Requested,
            Some(LinkState::Pending) => OriginLink::Pending,
            Some(LinkState::Revoked) => OriginLink::Revoked,
            None => OriginLink::Relayed,
        }
    }

    pub(crate) fn is_blocked(&self, origin: &NodeId) -> bool {
        self.inner.blocked.lock().expect("lock").contains(origin)
    }

    /// Whether this node serves records of `origin` to its peers (the feed
    /// and the fetch by item apply the same rule).
    pub(crate) fn serves_origin(&self, origin: &NodeId) -> bool {
        !self.is_blocked(origin)
    }

    pub(crate) fn inner(&self) -> &Arc<Inner> {
        &self.inner
    }
}

/// See [`Federation::upsert`].
async fn upsert(
    inner: &Arc<Inner>,
    node_id: NodeId,
    descriptor: Option<Signed<NodeDescriptor>>,
    event: LinkEvent,
) -> Result<(), FederationError> {
    let stored = {
        let mut peers = inner.peers.lock().expect("lock");
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
                peers.entry(node_id).or_insert(Peer {
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
                })
            }
        };
        peer.link = peer.link.on(event);
        peer.stored()
    };
    inner.write_peer(&node_id, &stored).await?;
    tracing::info!(peer = %node_id, state = ?stored.link.state(), "peer link changed");
    refresh_driver(inner, &node_id).await?;
    Ok(())
}

/// Starts the driver of a peer whose link pulls, stops it otherwise.
async fn refresh_driver(inner: &Arc<Inner>, node_id: &NodeId) -> Result<(), FederationError> {
    let needs_start = {
        let mut peers = inner.peers.lock().expect("lock");
        let Some(peer) = peers.get_mut(node_id) else {
            return Ok(());
        };
        if !peer.link.pulls() {
            if let Some(driver) = peer.driver.take() {
                driver.stop();
                tracing::info!(peer = %node_id, "sync stopped");
            }
            false
        } else {
            peer.driver.is_none()
        }
    };
    if needs_start {
        let storage = Arc::clone(&inner.storage);
        let key = cursor_key(node_id);
        let cursor = tokio::task::spawn_blocking(move || storage.kv_get(Space::Cursors, &key))
            .await
            .map_err(|e| StorageError::Io(format!("cursor read failed: {e}")))??;
        let cursor = decode_cursor(cursor.as_deref())?;
        let mut peers = inner.peers.lock().expect("lock");
        if let Some(peer) = peers.get_mut(node_id) {
            if peer.link.pulls() && peer.driver.is_none() {
                peer.cursor = cursor;
                peer.driver = Some(driver::spawn(inner, *node_id, peer));
            }
        }
    }
    Ok(())
}

/// A stored cursor: none means the peer was never pulled (start at 0); a value
/// of the wrong size is corruption, never a silent restart from zero.
fn decode_cursor(value: Option<&[u8]>) -> Result<u64, StorageError> {
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

/// The federation state read at start.
struct Loaded {
    peers: BTreeMap<NodeId, Peer>,
    blocked: BTreeMap<NodeId, StoredBlock>,
    nonces: StoredNonceCache,
    descriptor: Option<Signed<NodeDescriptor>>,
}

/// Reads the federation state from storage. Blocking.
fn load(inner: &Inner) -> Result<Loaded, FederationError> {
    let storage = inner.storage.as_ref();
    let mut peers = BTreeMap::new();
    for (key, value) in storage.kv_scan(Space::Peers, b"")? {
        let Some(value) = value else { continue };
        let stored: StoredPeer = serde_json::from_slice(&value)
            .map_err(|e| StorageError::Corrupt(format!("stored peer: {e}")))?;
        let descriptor = Signed::<NodeDescriptor>::from_wire(&stored.descriptor)
            .map_err(|e| StorageError::Corrupt(format!("stored peer descriptor: {e}")))?;
        let node_id = descriptor.value().node_id;
        if key != node_id.as_bytes() {
            return Err(StorageError::Corrupt("peer stored under another key".into()).into());
        }
        let cursor = decode_cursor(
            storage
                .kv_get(Space::Cursors, &cursor_key(&node_id))?
                .as_deref(),
        )?;
        peers.insert(
            node_id,
            Peer {
                descriptor,
                link: stored.link,
                records_received: stored.records_received,
                equivocations: stored.equivocations,
                last_error: stored.last_error,
                last_sync_at: stored.last_sync_at,
                last_repair: stored.last_repair,
                cursor,
                sync: SyncStatus {
                    cursor,
                    ..SyncStatus::default()
                },
                driver: None,
                pending_rotation: stored
                    .pending_rotation
                    .as_ref()
                    .map(rotation::PendingRotationState::load)
                    .transpose()?,
                former_ids: stored.former_ids,
            },
        );
    }
    let mut blocked = BTreeMap::new();
    for (key, value) in storage.kv_scan(Space::BlockedOrigins, b"")? {
        let Some(value) = value else { continue };
        let block: StoredBlock = serde_json::from_slice(&value)
            .map_err(|e| StorageError::Corrupt(format!("stored blocked origin: {e}")))?;
        let bytes: [u8; 32] = key
            .as_slice()
            .try_into()
            .map_err(|_| StorageError::Corrupt("blocked origin key".into()))?;
        blocked.insert(
            NodeId::from_bytes(bytes)
                .map_err(|e| StorageError::Corrupt(format!("blocked origin: {e}")))?,
            block,
        );
    }
    purge::finish_interrupted(storage, &mut blocked)?;
    let nonces = StoredNonceCache::load(Arc::clone(&inner.storage), now_unix())?;
    let descriptor = storage::load_descriptor(storage)?;
    Ok(Loaded {
        peers,
        blocked,
        nonces,
        descriptor,
    })
}

/// Interval at which link requests to peers that have not approved yet are
/// sent again (a lost accept is answered by a new accept, `docs/PROTOCOL.md`
/// 9.2).
pub const LINK_RETRY_INTERVAL_MS: u64 = 5 * 60_000;

async fn link_retrier(federation: Federation) {
    let interval = std::time::Duration::from_millis(LINK_RETRY_INTERVAL_MS);
    loop {
        tokio::time::sleep(interval).await;
        let requested: Vec<NodeId> = federation
            .inner
            .peers
            .lock()
            .expect("lock")
            .iter()
            .filter(|(_, p)| p.link.local == Approval::Approved && p.link.remote == Approval::None)
            .map(|(id, _)| *id)
            .collect();
        for node_id in requested {
            if let Err(error) = federation.send_link_request(node_id).await {
                tracing::debug!(peer = %node_id, %error, "link request retry failed");
            }
        }
    }
}

/// Least time between two rounds of notifies.
pub const NOTIFY_SEND_MIN_INTERVAL_MS: u64 = 200;

/// Tells every active peer about new log entries, following the storage
/// head wake-up. Hints only: failures are logged at debug level.
async fn notifier(inner: Arc<Inner>) {
    let mut head = inner.storage.subscribe_head();
    loop {
        if head.changed().await.is_err() {
            return;
        }
        let head_seq = *head.borrow_and_update();
        let targets: Vec<(NodeId, String)> = inner
            .peers
            .lock()
            .expect("lock")
            .iter()
            .filter(|(_, p)| p.link.pulls())
            .map(|(id, p)| {
                (
                    *id,
                    p.descriptor
                        .value()
                        .base_url
                        .trim_end_matches('/')
                        .to_string(),
                )
            })
            .collect();
        let body = serde_json::to_vec(&serde_json::json!({ "head_seq": head_seq })).expect("json");
        for (node_id, base_url) in targets {
            let client = inner.client.clone();
            let body = body.clone();
            tokio::spawn(async move {
                if let Err(error) = client
                    .signed(
                        Method::POST,
                        &base_url,
                        "/federation/v1/notify",
                        body,
                        FEDERATION_SMALL_BODY_BYTES_MAX,
                    )
                    .await
                {
                    tracing::debug!(peer = %node_id, %error, "notify not delivered");
                }
            });
        }
        tokio::time::sleep(std::time::Duration::from_millis(
            NOTIFY_SEND_MIN_INTERVAL_MS,
        ))
        .await;
    }
}

impl Inner {
    /// The peer refused us with `link_revoked`: record it and stop pulling.
    pub(crate) async fn remote_revoked(self: &Arc<Self>, node_id: NodeId) {
        if let Err(error) = upsert(self, node_id, None, LinkEvent::RemoteRevoke).await {
            tracing::warn!(peer = %node_id, %error, "cannot record the peer's revocation");
        }
    }

    /// Durably stores a peer's cursor and counters after an applied batch.
    pub(crate) async fn persist_progress(
        &self,
        node_id: &NodeId,
        cursor: u64,
    ) -> Result<(), StorageError> {
        let stored = {
            let mut peers = self.peers.lock().expect("lock");
            let Some(peer) = peers.get_mut(node_id) else {
                return Ok(());
            };
            peer.cursor = cursor;
            peer.stored()
        };
        self.storage
            .kv_write(
                Space::Cursors,
                vec![(cursor_key(node_id), Some(cursor.to_be_bytes().to_vec()))],
            )
            .wait()
            .await?;
        self.write_peer(node_id, &stored).await
    }

    /// Stores one peer durably under its node id.
    async fn write_peer(&self, node_id: &NodeId, stored: &StoredPeer) -> Result<(), StorageError> {
        let value = serde_json::to_vec(stored).expect("peer serialises");
        self.storage
            .kv_write(
                Space::Peers,
                vec![(node_id.as_bytes().to_vec(), Some(value))],
            )
            .wait()
            .await
    }

    /// Keeps the last repair pass in the peer status, durably.
    pub(crate) async fn record_repair(&self, node_id: &NodeId, report: RepairReport) {
        let stored = {
            let mut peers = self.peers.lock().expect("lock");
            let Some(peer) = peers.get_mut(node_id) else {
                return;
            };
            peer.last_repair = Some(report);
            peer.stored()
        };
        if let Err(error) = self.write_peer(node_id, &stored).await {
            tracing::warn!(peer = %node_id, %error, "cannot store the repair status");
        }
    }

    pub(crate) fn update_peer(&self, node_id: &NodeId, update: impl FnOnce(&mut PeerProgress<'_>)) {
        if let Some(peer) = self.peers.lock().expect("lock").get_mut(node_id) {
            let mut progress = PeerProgress {
                records_received: &mut peer.records_received,
                equivocations: &mut peer.equivocations,
                last_sync_at: &mut peer.last_sync_at,
                sync: &mut peer.sync,
                last_error: &mut peer.last_error,
            };
            update(&mut progress);
        }
    }
}

/// The mutable counters of one peer, for the driver.
pub(crate) struct PeerProgress<'a> {
    pub records_received: &'a mut u64,
    pub equivocations: &'a mut u64,
    pub last_sync_at: &'a mut Option<Timestamp>,
    pub sync: &'a mut SyncStatus,
    pub last_error: &'a mut Option<String>,
}

pub(crate) fn timestamp_now() -> Timestamp {
    now_timestamp()
}

/// Parses a node id given by an admin (64 hex characters).
pub fn parse_node_id(text: &str) -> Result<NodeId, FederationError> {
    text.parse::<NodeId>().map_err(|error| {
        FederationError::BadRequest(format!(
            "{text:?} is not a node id (the 64 hex digits of an ed25519 public key): {error}"
        ))
    })
}
