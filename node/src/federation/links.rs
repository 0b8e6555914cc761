//! The life of a peer link (`docs/PROTOCOL-federation.md` 9.2): an admin
//! adds a peer by URL or approves one that asked, a peer's signed link
//! request or accept arrives, either side revokes. Every change goes through
//! [`Federation::change_link`]: the link table's pure transition, a durable
//! write of the peer, then the driver started or stopped to match.

use std::net::IpAddr;
use std::sync::Arc;
use std::time::Instant;

use reqwest::Method;
use seednet_protocol::federation::limits::{FEDERATION_SMALL_BODY_BYTES_MAX, PEERS_MAX};
use seednet_protocol::federation::wire::{
    Approval, EmbeddedSigned, LinkEvent, LinkRequest, PeerEntry,
};
use seednet_protocol::{NodeDescriptor, NodeId, Signed, Timestamp};

use super::admission::{PENDING_LINK_REQUESTS_MAX, PENDING_LINK_REQUEST_TTL_SECS};
use super::registry::DriverNeed;
use super::{driver, store, Federation, FederationError, Inner};

impl Federation {
    /// Fetches and verifies the signed descriptor a node serves at `url`,
    /// refusing one that names another URL or is this node: what an admin
    /// checks before asking for a link.
    pub async fn fetch_identity(
        &self,
        url: &str,
    ) -> Result<Signed<NodeDescriptor>, FederationError> {
        let inner = &self.inner;
        let base_url = url.trim().trim_end_matches('/').to_string();
        inner.client.check_url(&base_url)?;
        let descriptor = inner.client.descriptor(&base_url).await?;
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
        if inner.keys.is_own(&descriptor.value().node_id) {
            return Err(FederationError::SelfPeer);
        }
        Ok(descriptor)
    }

    /// `peer add URL`: fetch and verify the peer's descriptor, pin its key,
    /// approve the local side and send a signed link request.
    pub async fn add_peer(&self, url: &str) -> Result<PeerEntry, FederationError> {
        let descriptor = self.fetch_identity(url).await?;
        self.link_to(descriptor).await
    }

    /// [`Federation::add_peer`] for an admin who checked the identity first
    /// (the web page): refused if the node at `url` now has another key than
    /// `expected`.
    pub async fn add_peer_expecting(
        &self,
        url: &str,
        expected: &NodeId,
    ) -> Result<PeerEntry, FederationError> {
        let descriptor = self.fetch_identity(url).await?;
        let found = descriptor.value().node_id;
        if found != *expected {
            return Err(FederationError::IdentityChanged {
                expected: *expected,
                found,
            });
        }
        self.link_to(descriptor).await
    }

    /// Pins `descriptor`, approves the local side and sends the request.
    async fn link_to(
        &self,
        descriptor: Signed<NodeDescriptor>,
    ) -> Result<PeerEntry, FederationError> {
        let node_id = descriptor.value().node_id;
        self.check_room_for_link(&node_id)?;
        self.change_link(node_id, Some(descriptor), LinkEvent::LocalApprove)
            .await?;
        if let Err(error) = self.send_link_request(node_id).await {
            // The link is stored and approved on this side: the retrier
            // sends the request again every LINK_RETRY_INTERVAL_MS, so a
            // peer that is busy (429) or briefly down still gets it. The
            // admin sees why in the peer's last error.
            tracing::warn!(peer = %node_id, %error, "link request not delivered yet");
            self.inner.registry.set_last_error(
                &node_id,
                format!(
                    "link request not delivered yet (retried every {} minutes): {error}",
                    super::tasks::LINK_RETRY_INTERVAL_MS / 60_000
                ),
            );
        }
        self.inner.registry.entry(&node_id)
    }

    /// `peer approve NODE_ID`: approve the local side and tell the peer.
    pub async fn approve(&self, node_id: &NodeId) -> Result<PeerEntry, FederationError> {
        if !self.inner.registry.contains(node_id) {
            return Err(FederationError::UnknownPeer(*node_id));
        }
        self.check_room_for_link(node_id)?;
        self.lift_purge_blocks(node_id).await?;
        self.change_link(*node_id, None, LinkEvent::LocalApprove)
            .await?;
        if let Err(error) = self.send_accept(*node_id).await {
            // The peer learns of the approval at its next link request.
            tracing::warn!(peer = %node_id, %error, "link accept not delivered");
            self.inner
                .registry
                .set_last_error(node_id, format!("link accept not delivered: {error}"));
        }
        self.inner.registry.entry(node_id)
    }

    /// `peer revoke NODE_ID`: takes effect at once, both directions.
    pub async fn revoke(&self, node_id: &NodeId) -> Result<PeerEntry, FederationError> {
        if !self.inner.registry.contains(node_id) {
            return Err(FederationError::UnknownPeer(*node_id));
        }
        self.change_link(*node_id, None, LinkEvent::LocalRevoke)
            .await?;
        self.inner.registry.entry(node_id)
    }

    /// Refuses a new link (an admin's add or approval) once `PEERS_MAX`
    /// peers are linked; pending requests do not count, so a crowd of them
    /// never stands in the admin's way.
    fn check_room_for_link(&self, node_id: &NodeId) -> Result<(), FederationError> {
        let registry = &self.inner.registry;
        let counted = registry.contains(node_id) && !registry.is_pending_request(node_id);
        if !counted && registry.linked_count() >= PEERS_MAX {
            return Err(FederationError::TooManyPeers { max: PEERS_MAX });
        }
        Ok(())
    }

    /// Sends this node's signed link request to a known peer.
    pub(crate) async fn send_link_request(&self, node_id: NodeId) -> Result<(), FederationError> {
        let inner = &self.inner;
        let own = inner.identity.descriptor()?;
        let base_url = inner.registry.base_url(&node_id)?;
        let key = inner.keys.current();
        let request = LinkRequest {
            from: key.node_id(),
            to: node_id,
            descriptor: EmbeddedSigned::from_signed(&own),
            requested_at: crate::clock::now_timestamp(),
            note: String::new(),
        };
        let signed = Signed::sign(&key, request).map_err(|e| {
            FederationError::BadRequest(format!("cannot sign the link request: {e}"))
        })?;
        let body = serde_json::to_vec(&signed.to_wire()).expect("wire form serialises");
        inner
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
        let base_url = self.inner.registry.base_url(&node_id)?;
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

    /// A verified link request arrived from `descriptor`'s node, sent from
    /// `source` (the client address, when known). A node already in the
    /// peer table always gets through; an unknown one is counted by
    /// [`super::admission::LinkRequestAdmission`] and must find room among the pending
    /// requests.
    pub(crate) async fn on_link_request(
        &self,
        descriptor: Signed<NodeDescriptor>,
        source: Option<IpAddr>,
    ) -> Result<(), FederationError> {
        let node_id = descriptor.value().node_id;
        if !self.inner.registry.contains(&node_id) {
            self.admit_unknown(source).await?;
        }
        let previous = self
            .change_link(node_id, Some(descriptor), LinkEvent::RemoteApprove)
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

    /// The checks a link request from an unknown node passes: the rate
    /// limits, then room among the pending requests (expired ones are
    /// dropped first).
    async fn admit_unknown(&self, source: Option<IpAddr>) -> Result<(), FederationError> {
        let inner = &self.inner;
        if let Err(refused) = inner.admission.admit(source, Instant::now()) {
            tracing::warn!(
                source = ?source,
                scope = refused.scope.as_str(),
                "link request from an unknown node refused by the rate limit"
            );
            return Err(FederationError::LinkRequestsLimited {
                scope: refused.scope,
                retry_after_secs: refused.over.retry_after_secs(),
            });
        }
        self.expire_pending_requests().await?;
        if inner.registry.pending_request_count() >= PENDING_LINK_REQUESTS_MAX {
            return Err(FederationError::TooManyPendingRequests {
                max: PENDING_LINK_REQUESTS_MAX,
            });
        }
        if inner.registry.len() >= PEERS_MAX + PENDING_LINK_REQUESTS_MAX {
            return Err(FederationError::TooManyPeers { max: PEERS_MAX });
        }
        Ok(())
    }

    /// Drops the link requests older than [`PENDING_LINK_REQUEST_TTL_SECS`];
    /// returns how many went.
    pub(crate) async fn expire_pending_requests(&self) -> Result<usize, FederationError> {
        let cutoff = Timestamp::from_unix_seconds(
            crate::clock::now_unix_seconds() - PENDING_LINK_REQUEST_TTL_SECS,
        );
        let Some(cutoff) = cutoff else { return Ok(0) };
        let expired = self.inner.registry.pending_requests_before(cutoff);
        let count = self.dismiss_requests(&expired).await?;
        if count > 0 {
            tracing::info!(count, "unanswered link requests expired");
        }
        Ok(count)
    }

    /// `peer dismiss NODE_ID`: forgets a link request this node's admin does
    /// not want, without revoking anything (the node may ask again).
    pub async fn dismiss(&self, node_id: &NodeId) -> Result<(), FederationError> {
        if !self.inner.registry.contains(node_id) {
            return Err(FederationError::UnknownPeer(*node_id));
        }
        if !self.inner.registry.is_pending_request(node_id) {
            return Err(FederationError::NotPending(*node_id));
        }
        self.dismiss_requests(&[*node_id]).await?;
        Ok(())
    }

    /// `peer dismiss --all-pending`: forgets every link request waiting for
    /// the admin; returns how many.
    pub async fn dismiss_all_pending(&self) -> Result<usize, FederationError> {
        let pending = self.inner.registry.pending_requests();
        self.dismiss_requests(&pending).await
    }

    /// Removes pending requests from disk in one batch, then from memory
    /// (a request that became something else meanwhile is written back).
    async fn dismiss_requests(&self, node_ids: &[NodeId]) -> Result<usize, FederationError> {
        if node_ids.is_empty() {
            return Ok(0);
        }
        let inner = &self.inner;
        store::delete_peers(inner.storage.as_ref(), node_ids).await?;
        let mut dismissed = 0;
        for node_id in node_ids {
            if inner.registry.remove_pending_request(node_id) {
                dismissed += 1;
            } else if let Some(stored) = inner.registry.stored(node_id) {
                // Approved between the read and the removal: keep it.
                store::write_peer(inner.storage.as_ref(), node_id, &stored).await?;
            }
        }
        tracing::info!(dismissed, "pending link requests dismissed");
        Ok(dismissed)
    }

    /// A verified link accept arrived from `node_id`.
    pub(crate) async fn on_link_accept(&self, node_id: NodeId) -> Result<(), FederationError> {
        self.change_link(node_id, None, LinkEvent::RemoteApprove)
            .await
            .map(|_| ())
    }

    /// Applies a link event to a peer (creating it when `descriptor` is
    /// given), stores it durably, then starts or stops its driver. Returns
    /// the link before the event.
    pub(crate) async fn change_link(
        &self,
        node_id: NodeId,
        descriptor: Option<Signed<NodeDescriptor>>,
        event: LinkEvent,
    ) -> Result<Option<seednet_protocol::federation::wire::Link>, FederationError> {
        change_link(&self.inner, node_id, descriptor, event).await
    }
}

/// See [`Federation::change_link`].
async fn change_link(
    inner: &Arc<Inner>,
    node_id: NodeId,
    descriptor: Option<Signed<NodeDescriptor>>,
    event: LinkEvent,
) -> Result<Option<seednet_protocol::federation::wire::Link>, FederationError> {
    let change = inner.registry.apply_link_event(
        node_id,
        descriptor,
        event,
        crate::clock::now_timestamp(),
    )?;
    store::write_peer(inner.storage.as_ref(), &node_id, &change.stored).await?;
    tracing::info!(peer = %node_id, state = ?change.stored.link.state(), "peer link changed");
    refresh_driver(inner, &node_id).await?;
    Ok(change.previous)
}

/// Starts the driver of a peer whose link pulls, stops it otherwise.
pub(crate) async fn refresh_driver(
    inner: &Arc<Inner>,
    node_id: &NodeId,
) -> Result<(), FederationError> {
    if inner.registry.driver_need(node_id) == DriverNeed::Start {
        let cursor = store::read_cursor(&inner.storage, node_id).await?;
        inner.registry.start_driver(node_id, cursor, |peer| {
            driver::spawn(inner, *node_id, peer.base_url(), cursor)
        });
    }
    Ok(())
}

impl Inner {
    /// The peer refused us with `link_revoked`: record it and stop pulling.
    pub(crate) async fn remote_revoked(self: &Arc<Self>, node_id: NodeId) {
        if let Err(error) = change_link(self, node_id, None, LinkEvent::RemoteRevoke).await {
            tracing::warn!(peer = %node_id, %error, "cannot record the peer's revocation");
        }
    }
}
