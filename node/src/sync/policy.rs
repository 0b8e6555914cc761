//! Who may do what over federation, and which received records are admitted,
//! as pure decisions the HTTP handlers and the apply step call.
//!
//! Keeping the table of "link state × endpoint → allowed or which refusal" in
//! one function means the 401/403 behaviour is tested once here and the
//! handlers cannot drift apart (`docs/PROTOCOL.md`, 9.1 and 9.7).

use std::collections::BTreeSet;

use seednet_protocol::federation::wire::{Approval, Link};
use seednet_protocol::NodeId;

/// The federation endpoints, for authorisation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Endpoint {
    /// `POST /federation/v1/links`: open to any signed request.
    LinkRequest,
    /// `POST /federation/v1/links/accept`: from a node we asked.
    LinkAccept,
    /// Feed, notify, reconcile, records by item, rotations.
    Peer,
}

/// A refusal: HTTP status and the JSON error code.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Refusal {
    pub status: u16,
    pub code: &'static str,
}

const UNKNOWN: Refusal = Refusal {
    status: 401,
    code: "signature_unknown_key",
};
const REVOKED: Refusal = Refusal {
    status: 403,
    code: "link_revoked",
};
const PENDING: Refusal = Refusal {
    status: 403,
    code: "link_pending",
};
const NOT_ACTIVE: Refusal = Refusal {
    status: 403,
    code: "link_not_active",
};

/// Whether a request whose signature verified for `link` (None: the signer is
/// not a known peer) may call `endpoint`.
pub fn authorize(endpoint: Endpoint, link: Option<&Link>) -> Result<(), Refusal> {
    let Some(link) = link else {
        return match endpoint {
            Endpoint::LinkRequest => Ok(()),
            _ => Err(UNKNOWN),
        };
    };
    if link.local == Approval::Revoked {
        return Err(REVOKED);
    }
    match endpoint {
        // A known peer may repeat its request (e.g. it lost its state); it
        // re-approves the remote side, nothing else.
        Endpoint::LinkRequest => Ok(()),
        Endpoint::LinkAccept => {
            if link.local == Approval::Approved {
                Ok(())
            } else {
                Err(NOT_ACTIVE)
            }
        }
        Endpoint::Peer => {
            if link.serves() {
                Ok(())
            } else if link.local == Approval::None {
                Err(PENDING)
            } else {
                Err(NOT_ACTIVE)
            }
        }
    }
}

/// Which origins a node accepts through a peer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum RelayPolicy {
    /// Records of any origin, accepted because their origin signature verifies.
    #[default]
    All,
    /// Only records whose origin is the peer that sent them.
    DirectOnly,
}

/// Why a verified record from a peer is not applied.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Admission {
    Admit,
    /// The origin is on the admin's blocklist.
    BlockedOrigin,
    /// Relayed record refused by the `direct-only` policy.
    NotDirect,
    /// A record claiming to be this node's own, received from a peer: the
    /// node is the only source of its own records.
    OwnRecord,
}

/// Decides whether a verified record of `origin`, received from `peer`, goes
/// on to the apply rule (version comparison, equivocation check).
pub fn admit(
    origin: &NodeId,
    peer: &NodeId,
    local: &NodeId,
    policy: RelayPolicy,
    blocked: &BTreeSet<NodeId>,
) -> Admission {
    admit_from(
        origin,
        std::slice::from_ref(peer),
        std::slice::from_ref(local),
        policy,
        blocked,
    )
}

/// [`admit`] for identities that rotated their key (`docs/PROTOCOL-federation.md`
/// 9.9): `peer` holds the peer's current id and the former ids its rotations
/// (approved by this node's admin) retired, `own` this node's current and
/// retired ids. A record of any of them is direct from that peer, or this
/// node's own.
pub fn admit_from(
    origin: &NodeId,
    peer: &[NodeId],
    own: &[NodeId],
    policy: RelayPolicy,
    blocked: &BTreeSet<NodeId>,
) -> Admission {
    if own.contains(origin) {
        return Admission::OwnRecord;
    }
    if blocked.contains(origin) {
        return Admission::BlockedOrigin;
    }
    if policy == RelayPolicy::DirectOnly && !peer.contains(origin) {
        return Admission::NotDirect;
    }
    Admission::Admit
}

#[cfg(test)]
mod tests {
    use seednet_protocol::federation::wire::LinkEvent;
    use seednet_protocol::testing::test_key;

    use super::*;

    fn link(events: &[LinkEvent]) -> Link {
        events.iter().fold(Link::NEW, |link, event| link.on(*event))
    }

    #[test]
    fn authorization_table() {
        use Endpoint::*;
        use LinkEvent::*;
        let active = link(&[LocalApprove, RemoteApprove]);
        let requested = link(&[LocalApprove]);
        let pending = link(&[RemoteApprove]);
        let revoked = link(&[LocalApprove, RemoteApprove, LocalRevoke]);
        let revoked_by_peer = link(&[LocalApprove, RemoteApprove, RemoteRevoke]);
        let cases: &[(Endpoint, Option<&Link>, Result<(), Refusal>)] = &[
            (LinkRequest, None, Ok(())),
            (LinkAccept, None, Err(UNKNOWN)),
            (Peer, None, Err(UNKNOWN)),
            (Peer, Some(&active), Ok(())),
            (Peer, Some(&requested), Ok(())),
            (Peer, Some(&pending), Err(PENDING)),
            (Peer, Some(&revoked), Err(REVOKED)),
            (Peer, Some(&revoked_by_peer), Err(NOT_ACTIVE)),
            (LinkAccept, Some(&requested), Ok(())),
            (LinkAccept, Some(&pending), Err(NOT_ACTIVE)),
            (LinkAccept, Some(&revoked), Err(REVOKED)),
            (LinkRequest, Some(&revoked), Err(REVOKED)),
            (LinkRequest, Some(&active), Ok(())),
        ];
        for (endpoint, link, expected) in cases {
            assert_eq!(
                authorize(*endpoint, *link),
                *expected,
                "{endpoint:?} {link:?}"
            );
        }
    }

    #[test]
    fn relay_policy_and_blocklist() {
        let local = test_key(1).node_id();
        let italy = test_key(2).node_id();
        let greece = test_key(3).node_id();
        let none = BTreeSet::new();
        let blocked: BTreeSet<NodeId> = [greece].into();
        // Greece's record relayed by Italy: accepted by default.
        assert_eq!(
            admit(&greece, &italy, &local, RelayPolicy::All, &none),
            Admission::Admit
        );
        assert_eq!(
            admit(&greece, &italy, &local, RelayPolicy::DirectOnly, &none),
            Admission::NotDirect
        );
        assert_eq!(
            admit(&italy, &italy, &local, RelayPolicy::DirectOnly, &none),
            Admission::Admit
        );
        // A blocked origin is refused whoever relays it, even directly.
        assert_eq!(
            admit(&greece, &italy, &local, RelayPolicy::All, &blocked),
            Admission::BlockedOrigin
        );
        assert_eq!(
            admit(&greece, &greece, &local, RelayPolicy::All, &blocked),
            Admission::BlockedOrigin
        );
        assert_eq!(
            admit(&local, &italy, &local, RelayPolicy::All, &none),
            Admission::OwnRecord
        );
    }

    #[test]
    fn former_ids_of_a_peer_and_retired_ids_of_this_node_count_as_theirs() {
        let (local, retired) = (test_key(1).node_id(), test_key(4).node_id());
        let (italy, italy_before) = (test_key(2).node_id(), test_key(5).node_id());
        let greece = test_key(3).node_id();
        let none = BTreeSet::new();
        let peer = [italy, italy_before];
        let own = [local, retired];
        let decide =
            |origin: &NodeId| admit_from(origin, &peer, &own, RelayPolicy::DirectOnly, &none);
        assert_eq!(decide(&italy_before), Admission::Admit);
        assert_eq!(decide(&italy), Admission::Admit);
        assert_eq!(decide(&greece), Admission::NotDirect);
        assert_eq!(decide(&retired), Admission::OwnRecord);
        assert_eq!(decide(&local), Admission::OwnRecord);
    }
}
