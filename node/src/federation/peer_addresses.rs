//! The client addresses approved peers' signed requests came from.
//!
//! Why: the connection gate (`crate::http::connections`) keeps a reserve
//! of connections that a crowd of public clients cannot take; approved
//! peers belong in it, but a peer is only known by its key once a request
//! is verified, long after the connection was accepted. So each verified
//! request of an active peer leaves its address here, and the next
//! connections from that address use the reserve. An address counts only
//! while its peer's link is still active (checked at each question), and at
//! most [`PEER_ADDRESSES_MAX`] are kept (the least recently seen goes first).

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Mutex;
use std::time::Instant;

use seednet_protocol::NodeId;

/// Addresses remembered at most.
pub const PEER_ADDRESSES_MAX: usize = 1_024;

#[derive(Default)]
pub(crate) struct PeerAddresses(Mutex<HashMap<IpAddr, (NodeId, Instant)>>);

impl PeerAddresses {
    /// `peer` (whose link is active) sent a verified request from `address`.
    pub(crate) fn note(&self, address: IpAddr, peer: NodeId) {
        let mut seen = self.0.lock().unwrap_or_else(|p| p.into_inner());
        if seen.len() >= PEER_ADDRESSES_MAX && !seen.contains_key(&address) {
            if let Some(oldest) = seen
                .iter()
                .min_by_key(|(_, (_, at))| *at)
                .map(|(address, _)| *address)
            {
                seen.remove(&oldest);
            }
        }
        seen.insert(address, (peer, Instant::now()));
    }

    /// The peer whose requests last came from `address`, if any.
    pub(crate) fn peer_at(&self, address: IpAddr) -> Option<NodeId> {
        let seen = self.0.lock().unwrap_or_else(|p| p.into_inner());
        seen.get(&address).map(|(peer, _)| *peer)
    }
}

#[cfg(test)]
mod tests {
    use seednet_protocol::testing::test_key;

    use super::*;

    #[test]
    fn the_least_recently_seen_address_goes_first() {
        let addresses = PeerAddresses::default();
        for n in 0..PEER_ADDRESSES_MAX as u32 {
            addresses.note(IpAddr::from(n.to_be_bytes()), test_key(1).node_id());
        }
        let newcomer = IpAddr::from([203, 0, 113, 1]);
        addresses.note(newcomer, test_key(2).node_id());
        assert_eq!(addresses.peer_at(newcomer), Some(test_key(2).node_id()));
        assert_eq!(addresses.peer_at(IpAddr::from(0u32.to_be_bytes())), None);
        assert_eq!(addresses.0.lock().unwrap().len(), PEER_ADDRESSES_MAX);
    }
}
