//! Who may leave a link request at this node's door.
//!
//! Why: any node may ask for a link (section 9.2), so the door is open to
//! anyone who can make a key. A crowd of fresh keys must neither fill the
//! peer table (approved links and the admin's own requests keep their room:
//! pending requests have their own cap, [`PENDING_LINK_REQUESTS_MAX`]) nor
//! bury the admin's page under names the attacker chose. Requests from
//! nodes this node does not know yet are therefore counted per source
//! address ([`LINK_REQUESTS_PER_ADDRESS`]) and for the whole node
//! ([`LINK_REQUESTS_GLOBAL`]); a request over either gets 429 with
//! `Retry-After`. A request from a node already in the peer table (one the
//! admin added, approved or left pending) is never counted or refused here.
//! Unanswered requests expire after [`PENDING_LINK_REQUEST_TTL_SECS`], and
//! the admin may dismiss one or all at any time.

use std::net::IpAddr;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use crate::rate_limit::{OverLimit, WindowCounter, WindowLimit};

/// Link requests from unknown nodes waiting for the admin, at most.
pub const PENDING_LINK_REQUESTS_MAX: usize = 32;
/// Seconds an unanswered link request is kept (30 days): a centre that still
/// wants the link asks again.
pub const PENDING_LINK_REQUEST_TTL_SECS: i64 = 30 * 24 * 3600;
/// Link requests from unknown nodes per source address: 5 per hour.
pub const LINK_REQUESTS_PER_ADDRESS: WindowLimit = WindowLimit {
    max: 5,
    window: Duration::from_secs(3600),
};
/// Link requests from unknown nodes on the whole node: 30 per hour.
pub const LINK_REQUESTS_GLOBAL: WindowLimit = WindowLimit {
    max: 30,
    window: Duration::from_secs(3600),
};
/// Source addresses counted at once.
pub const LINK_REQUEST_ADDRESSES_MAX: usize = 4096;

/// Which count refused a link request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AdmissionScope {
    Address,
    Global,
}

impl AdmissionScope {
    pub fn as_str(self) -> &'static str {
        match self {
            AdmissionScope::Address => "address",
            AdmissionScope::Global => "global",
        }
    }
}

/// A link request refused by a rate limit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Refused {
    pub scope: AdmissionScope,
    pub over: OverLimit,
}

struct Counts {
    per_address: WindowCounter<IpAddr>,
    global: WindowCounter<()>,
}

/// The counts of link requests from unknown nodes.
pub(crate) struct LinkRequestAdmission {
    counts: Mutex<Counts>,
}

impl Default for LinkRequestAdmission {
    fn default() -> Self {
        LinkRequestAdmission {
            counts: Mutex::new(Counts {
                per_address: WindowCounter::new(
                    LINK_REQUESTS_PER_ADDRESS,
                    LINK_REQUEST_ADDRESSES_MAX,
                ),
                global: WindowCounter::new(LINK_REQUESTS_GLOBAL, 1),
            }),
        }
    }
}

impl LinkRequestAdmission {
    /// Counts a link request from an unknown node arriving from `source`
    /// (`None`: the address is not known, only the global count applies).
    pub(crate) fn admit(&self, source: Option<IpAddr>, now: Instant) -> Result<(), Refused> {
        let mut counts = self.counts.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(address) = source {
            counts
                .per_address
                .check(&address, now)
                .map_err(|over| Refused {
                    scope: AdmissionScope::Address,
                    over,
                })?;
        }
        counts.global.record(&(), now).map_err(|over| Refused {
            scope: AdmissionScope::Global,
            over,
        })?;
        if let Some(address) = source {
            // Checked above under the same lock: this cannot refuse.
            let _ = counts.per_address.record(&address, now);
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_address_is_limited_before_the_node_is() {
        let admission = LinkRequestAdmission::default();
        let now = Instant::now();
        let crowd: IpAddr = "192.0.2.1".parse().unwrap();
        for _ in 0..LINK_REQUESTS_PER_ADDRESS.max {
            admission.admit(Some(crowd), now).unwrap();
        }
        let refused = admission.admit(Some(crowd), now).unwrap_err();
        assert_eq!(refused.scope, AdmissionScope::Address);
        assert_eq!(refused.over.retry_after_secs(), 3600);
        // Another address still gets in.
        admission
            .admit(Some("192.0.2.2".parse().unwrap()), now)
            .unwrap();
    }

    #[test]
    fn many_addresses_meet_the_global_limit() {
        let admission = LinkRequestAdmission::default();
        let now = Instant::now();
        let mut admitted = 0;
        let mut refused = None;
        for host in 1..=200u8 {
            let address = IpAddr::from([198, 51, 100, host]);
            match admission.admit(Some(address), now) {
                Ok(()) => admitted += 1,
                Err(error) => {
                    refused = Some(error);
                    break;
                }
            }
        }
        assert_eq!(admitted, LINK_REQUESTS_GLOBAL.max);
        assert_eq!(refused.unwrap().scope, AdmissionScope::Global);
        // Once the window has passed, the node admits again.
        let later = now + LINK_REQUESTS_GLOBAL.window;
        admission
            .admit(Some(IpAddr::from([198, 51, 100, 1])), later)
            .unwrap();
    }
}
