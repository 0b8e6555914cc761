//! Federation in the running node: peer links, signed node-to-node requests,
//! one sync task per active peer, notify hints, repair, key rotation, the
//! origin blocklist.
//!
//! The decisions live elsewhere and are pure: the link table and request
//! signatures in `protocol::federation`, authorisation and admission in
//! [`crate::sync::policy`], pull scheduling in [`crate::sync::machine`]. This
//! module is the I/O around them, one job per file:
//!
//! - [`registry`]: the peers in memory ([`peer`] is one of them), behind
//!   one lock, changed only through its methods;
//! - [`store`]: peers and cursors on disk; [`blocklist`]: blocked origins
//!   and the gate that orders them against applies;
//! - [`apply`]: the one path of received records (feed pages, repair,
//!   import);
//! - [`links`]: the link lifecycle; [`driver`]: one task per active peer;
//!   [`tasks`]: the notifier and the link retrier; [`repair`], [`rotation`],
//!   [`purge`]: the operations named so;
//! - [`client`]: outgoing signed requests; [`http`]: the endpoints, incoming
//!   requests verified once by the [`http::SignedRequest`] extractor with
//!   its nonces in [`nonces`].
//!
//! The [`Federation`] handle is what the API, the CLI and the web pages all
//! call (`add_peer`, `approve`, `revoke`, `list_peers`, `block_origin`,
//! ...), so every way of managing peers behaves the same.

pub mod admission;
pub mod apply;
pub mod blocklist;
pub mod client;
pub mod driver;
#[cfg(test)]
mod driver_sim;
pub mod http;
mod identity;
pub mod links;
pub mod nonces;
mod peer;
mod peer_addresses;
mod pending_rotation;
pub mod purge;
pub mod refetch;
mod registry;
pub mod repair;
pub mod rotation;
mod store;
pub mod tasks;

use std::collections::BTreeMap;
use std::sync::Arc;

use seednet_protocol::federation::wire::{Link, LinkState, PeerEntry, RepairReport};
use seednet_protocol::NodeId;
use serde::{Deserialize, Serialize};

use crate::config::Config;
use crate::keyfile::KeyFileError;
use crate::keyring::KeyRing;
use crate::storage::{self, Storage, StorageError};
use crate::sync::address::AddressPolicy;
use crate::sync::policy::RelayPolicy;
use crate::sync::SyncConfig;
use blocklist::{BlockReason, Blocklist};
use client::{ClientError, PeerClient};
use identity::OwnIdentity;
use nonces::NonceStore;
use registry::PeerRegistry;
use tasks::BackgroundTasks;

/// Why a federation operation failed.
#[derive(Debug, thiserror::Error)]
pub enum FederationError {
    #[error(transparent)]
    Client(#[from] ClientError),
    #[error("the peer's descriptor names {claimed} as its URL, not {given}")]
    UrlMismatch { given: String, claimed: String },
    #[error("that URL is this node itself")]
    SelfPeer,
    #[error("the node at that URL now has key {found}, not {expected} as checked; check its identity again")]
    IdentityChanged { expected: NodeId, found: NodeId },
    #[error("no peer {0}")]
    UnknownPeer(NodeId),
    #[error("this node already has {max} peers")]
    TooManyPeers { max: usize },
    #[error("{max} link requests already wait for this node's admin; ask again later or ask the admin to look at them")]
    TooManyPendingRequests { max: usize },
    #[error("too many link requests from unknown nodes ({}); ask again in {retry_after_secs} s", scope.as_str())]
    LinkRequestsLimited {
        scope: admission::AdmissionScope,
        retry_after_secs: u64,
    },
    #[error("peer {0} is not a pending link request (approve or revoke it instead)")]
    NotPending(NodeId),
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

/// What every part of federation shares: the services, each behind its
/// own type, never a bare map or lock.
pub(crate) struct Inner {
    storage: Arc<dyn Storage>,
    /// The node's current key and retired ids (rotation switches it live).
    keys: Arc<KeyRing>,
    identity: OwnIdentity,
    client: PeerClient,
    relay: RelayPolicy,
    sync_config: SyncConfig,
    registry: PeerRegistry,
    blocklist: Blocklist,
    nonces: NonceStore,
    /// Held while a peer's pending rotation is stored or approved, so an
    /// approval moves exactly the rotation it checked. Never held across a
    /// network call.
    peer_rotations: tokio::sync::Mutex<()>,
    tasks: BackgroundTasks,
    repairs: repair::RepairLocks,
    admission: admission::LinkRequestAdmission,
    peer_addresses: peer_addresses::PeerAddresses,
}

/// The federation handle kept in the app state. Cheap to clone.
#[derive(Clone)]
pub struct Federation {
    inner: Arc<Inner>,
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
                blocklist: Blocklist::new(Arc::clone(&storage)),
                nonces: NonceStore::default(),
                storage,
                keys,
                identity: OwnIdentity::new(config.key_path()),
                peer_rotations: tokio::sync::Mutex::new(()),
                relay: if settings.relay_direct_only {
                    RelayPolicy::DirectOnly
                } else {
                    RelayPolicy::All
                },
                sync_config,
                registry: PeerRegistry::default(),
                tasks: BackgroundTasks::default(),
                repairs: repair::RepairLocks::default(),
                admission: admission::LinkRequestAdmission::default(),
                peer_addresses: peer_addresses::PeerAddresses::default(),
            }),
        }
    }

    /// `signer` sent a verified request from `address`: remembered while
    /// its link is active, so its connections use the reserve
    /// (`crate::http::connections`).
    pub fn note_peer_address(&self, signer: &NodeId, address: std::net::IpAddr) {
        if self.inner.registry.pulling_base_url(signer).is_some() {
            self.inner.peer_addresses.note(address, *signer);
        }
    }

    /// Whether `address` is where an active peer's requests come from.
    pub fn is_peer_address(&self, address: std::net::IpAddr) -> bool {
        self.inner
            .peer_addresses
            .peer_at(address)
            .is_some_and(|peer| self.inner.registry.pulling_base_url(&peer).is_some())
    }

    /// The id of the node's current key.
    pub fn node_id(&self) -> NodeId {
        self.inner.keys.node_id()
    }

    /// This node's current and retired keys.
    pub fn keys(&self) -> &Arc<KeyRing> {
        &self.inner.keys
    }

    /// Loads peers, cursors, blocklist and nonces, starts a driver for each
    /// active peer, the notifier that tells peers about new changes and the
    /// link retrier.
    pub async fn start(&self) -> Result<(), FederationError> {
        let storage = Arc::clone(&self.inner.storage);
        let loaded = tokio::task::spawn_blocking(move || load(&storage))
            .await
            .map_err(|e| StorageError::Io(format!("load task failed: {e}")))??;
        self.inner.blocklist.load(loaded.blocked);
        self.inner.nonces.load(loaded.nonces);
        self.inner.identity.set_descriptor(loaded.descriptor);
        let inner = &self.inner;
        inner.registry.load(loaded.peers, |node_id, peer| {
            driver::spawn(inner, node_id, peer.base_url(), peer.cursor)
        });
        inner.tasks.start(self);
        tracing::info!(peers = inner.registry.len(), "federation started");
        Ok(())
    }

    /// Stops every driver and background task and waits until they are gone
    /// (they hold the storage, whose data dir lock is released only then).
    pub async fn stop(&self) {
        let mut handles = self.inner.tasks.take();
        handles.extend(
            self.inner
                .registry
                .take_drivers()
                .into_iter()
                .map(peer::DriverHandle::abort),
        );
        for handle in handles {
            handle.abort();
            let _ = handle.await;
        }
    }

    /// `peer list`: every peer with its link and sync status.
    pub fn list_peers(&self) -> Vec<PeerEntry> {
        self.inner.registry.entries()
    }

    /// One peer's entry.
    pub fn entry(&self, node_id: &NodeId) -> Result<PeerEntry, FederationError> {
        self.inner.registry.entry(node_id)
    }

    /// The link with a peer, if known.
    pub fn link(&self, node_id: &NodeId) -> Option<Link> {
        self.inner.registry.link(node_id)
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

    /// Refuses records of `origin` from now on, whoever relays them.
    pub async fn block_origin(&self, origin: &NodeId) -> Result<(), FederationError> {
        if self.inner.keys.is_own(origin) {
            return Err(FederationError::BadRequest(
                "a node cannot block its own records".into(),
            ));
        }
        Ok(self
            .inner
            .blocklist
            .block(origin, BlockReason::Admin)
            .await?)
    }

    /// Accepts records of `origin` again (from the next pull on); `false`
    /// if it was not blocked.
    pub async fn unblock_origin(&self, origin: &NodeId) -> Result<bool, FederationError> {
        Ok(self.inner.blocklist.unblock(origin).await?)
    }

    /// Every blocked origin.
    pub fn blocked_origins(&self) -> Vec<NodeId> {
        self.inner.blocklist.list()
    }

    /// A verified notify arrived.
    pub(crate) fn on_notify(&self, node_id: &NodeId, head_seq: u64) {
        self.inner.registry.notify(node_id, head_seq);
    }

    /// Every peer's link, to authorise a signed request.
    pub(crate) fn links_snapshot(&self) -> BTreeMap<NodeId, Link> {
        self.inner.registry.links()
    }

    /// How this node relates to the origin of a record it holds: the flag
    /// the records API shows beside received records.
    pub fn origin_link(&self, origin: &NodeId) -> OriginLink {
        if self.inner.keys.is_own(origin) {
            return OriginLink::Local;
        }
        if self.inner.blocklist.contains(origin) {
            return OriginLink::Blocked;
        }
        // A peer's records stay under the ids it had before a key rotation.
        match self
            .inner
            .registry
            .link_of_origin(origin)
            .and_then(|link| link.state())
        {
            Some(LinkState::Active) => OriginLink::Active,
            Some(LinkState::Requested) => OriginLink::Requested,
            Some(LinkState::Pending) => OriginLink::Pending,
            Some(LinkState::Revoked) => OriginLink::Revoked,
            None => OriginLink::Relayed,
        }
    }

    /// Whether this node serves records of `origin` to its peers (the feed
    /// and the fetch by item apply the same rule).
    pub(crate) fn serves_origin(&self, origin: &NodeId) -> bool {
        !self.inner.blocklist.contains(origin)
    }

    /// The nonce store of incoming signed requests.
    pub(crate) fn nonces(&self) -> &NonceStore {
        &self.inner.nonces
    }
}

/// The federation state read at start.
struct Loaded {
    peers: BTreeMap<NodeId, peer::Peer>,
    blocked: BTreeMap<NodeId, blocklist::StoredBlock>,
    nonces: nonces::StoredNonceCache,
    descriptor: Option<seednet_protocol::Signed<seednet_protocol::NodeDescriptor>>,
}

/// Reads the federation state from storage, finishing any purge a crash
/// interrupted. Blocking.
fn load(storage: &Arc<dyn Storage>) -> Result<Loaded, FederationError> {
    let peers = store::load_peers(storage.as_ref())?;
    let mut blocked = Blocklist::read_stored(storage.as_ref())?;
    purge::finish_interrupted(storage.as_ref(), &mut blocked)?;
    let nonces =
        nonces::StoredNonceCache::load(Arc::clone(storage), crate::clock::now_unix_seconds())?;
    let descriptor = storage::load_descriptor(storage.as_ref())?;
    Ok(Loaded {
        peers,
        blocked,
        nonces,
        descriptor,
    })
}

/// Parses a node id given by an admin (64 hex characters).
pub fn parse_node_id(text: &str) -> Result<NodeId, FederationError> {
    text.parse::<NodeId>().map_err(|error| {
        FederationError::BadRequest(format!(
            "{text:?} is not a node id (the 64 hex digits of an ed25519 public key): {error}"
        ))
    })
}
