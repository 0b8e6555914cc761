//! The life of a peer link (`docs/PROTOCOL-federation.md` 9.2): an admin
//! adds a peer by URL or approves one that asked, a peer's signed link
//! request or accept arrives, either side revokes. Every change goes through
//! [`Federation::change_link`]: the link table's pure transition, a durable
//! write of the peer, then the driver started or stopped to match.

use std::sync::Arc;

use reqwest::Method;
use seednet_protocol::federation::limits::{FEDERATION_SMALL_BODY_BYTES_MAX, PEERS_MAX};
use seednet_protocol::federation::wire::{
    Approval, EmbeddedSigned, LinkEvent, LinkRequest, PeerEntry,
};
use seednet_protocol::{NodeDescriptor, NodeId, Signed};

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
        self.change_link(node_id, Some(descriptor), LinkEvent::LocalApprove)
            .await?;
        self.send_link_request(node_id).await?;
        self.inner.registry.entry(&node_id)
    }

    /// `peer approve NODE_ID`: approve the local side and tell the peer.
    pub async fn approve(&self, node_id: &NodeId) -> Result<PeerEntry, FederationError> {
        if !self.inner.registry.contains(node_id) {
            return Err(FederationError::UnknownPeer(*node_id));
        }
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

    /// A verified link request arrived from `descriptor`'s node.
    pub(crate) async fn on_link_request(
        &self,
        descriptor: Signed<NodeDescriptor>,
    ) -> Result<(), FederationError> {
        let node_id = descriptor.value().node_id;
        let known = self.inner.registry.contains(&node_id);
        if !known && self.inner.registry.len() >= PEERS_MAX {
            return Err(FederationError::TooManyPeers { max: PEERS_MAX });
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
    let change = inner
        .registry
        .apply_link_event(node_id, descriptor, event)?;
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
