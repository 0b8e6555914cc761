//! Which TCP connections the node takes, counted per client address.
//!
//! Why: one client holding a thousand half-sent requests used to fill the
//! node's connection cap, and every other client's connection was closed at
//! accept until the slow ones timed out. Now the cap is shared out:
//!
//! - a **public** address (anything but the reserved ones below) may hold
//!   at most [`CONNECTIONS_PER_ADDRESS_MAX`] connections, and all public
//!   addresses together at most `CONNECTIONS_MAX - CONNECTIONS_RESERVED`;
//! - the **reserve** of [`CONNECTIONS_RESERVED`] is kept for the machine
//!   itself (127.0.0.1 and ::1: the reverse proxy of
//!   `deploy/nginx-seednet.conf`, which buffers slow clients itself, and a
//!   local admin) and for the addresses approved peers' signed requests
//!   came from (`Federation::is_peer_address`), which are counted only
//!   against the whole cap.
//!
//! HTTP/1.1 serves one request at a time per connection, so the cap per
//! address also caps that address's requests in flight.
//!
//! When the node is busy (more than [`CONNECTIONS_BUSY`] open), a new
//! connection gets [`BUSY_HEADER_READ_TIMEOUT_MS`] instead of
//! [`HEADER_READ_TIMEOUT_MS`] to send its request headers, so slow and idle
//! connections give their place back sooner.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// Most open client connections in all.
pub const CONNECTIONS_MAX: usize = 1_024;
/// Of those, kept for the machine itself and approved peers.
pub const CONNECTIONS_RESERVED: usize = 128;
/// Most open connections of one public address.
pub const CONNECTIONS_PER_ADDRESS_MAX: usize = 32;
/// Open connections above which the node counts as busy.
pub const CONNECTIONS_BUSY: usize = CONNECTIONS_MAX * 3 / 4;
/// Time a client has to send its request headers.
pub const HEADER_READ_TIMEOUT_MS: u64 = 10_000;
/// The same while the node is busy.
pub const BUSY_HEADER_READ_TIMEOUT_MS: u64 = 2_000;

/// Whether `address` is this machine's own (the proxy, a local admin). Only
/// 127.0.0.1 and ::1: the rest of 127.0.0.0/8 counts as public, so that a
/// test can play a crowd from 127.0.0.2.
pub fn is_own_machine(address: IpAddr) -> bool {
    match address {
        IpAddr::V4(v4) => v4 == std::net::Ipv4Addr::LOCALHOST,
        IpAddr::V6(v6) => {
            v6 == std::net::Ipv6Addr::LOCALHOST
                || v6.to_ipv4_mapped() == Some(std::net::Ipv4Addr::LOCALHOST)
        }
    }
}

/// Why a connection was closed at accept.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refused {
    /// The whole cap (or, for a public address, the public share) is full.
    NodeFull,
    /// This public address holds its share already.
    AddressFull,
}

/// A connection let in: held until it closes.
#[derive(Debug)]
pub struct Admitted {
    _permit: Permit,
    /// How long it has to send each request's headers.
    pub header_read_timeout: Duration,
}

#[derive(Default)]
struct Open {
    total: usize,
    public: usize,
    by_address: HashMap<IpAddr, usize>,
}

/// The connection counts of one node.
#[derive(Default)]
pub struct ConnectionGate {
    open: Mutex<Open>,
    refused_node_full: AtomicU64,
    refused_address_full: AtomicU64,
}

impl ConnectionGate {
    /// Lets a connection from `address` in, or says why not. `reserved`: the
    /// address may use the reserve ([`is_own_machine`], or an approved
    /// peer's).
    pub fn admit(self: &Arc<Self>, address: IpAddr, reserved: bool) -> Result<Admitted, Refused> {
        let mut open = self.lock();
        let refused = if open.total >= CONNECTIONS_MAX {
            Some(Refused::NodeFull)
        } else if reserved {
            None
        } else if open.public >= CONNECTIONS_MAX - CONNECTIONS_RESERVED {
            Some(Refused::NodeFull)
        } else if open.by_address.get(&address).copied().unwrap_or(0) >= CONNECTIONS_PER_ADDRESS_MAX
        {
            Some(Refused::AddressFull)
        } else {
            None
        };
        if let Some(refused) = refused {
            let counter = match refused {
                Refused::NodeFull => &self.refused_node_full,
                Refused::AddressFull => &self.refused_address_full,
            };
            counter.fetch_add(1, Ordering::Relaxed);
            return Err(refused);
        }
        let busy = open.total >= CONNECTIONS_BUSY;
        open.total += 1;
        if !reserved {
            open.public += 1;
            *open.by_address.entry(address).or_default() += 1;
        }
        let header_read_timeout = Duration::from_millis(if busy {
            BUSY_HEADER_READ_TIMEOUT_MS
        } else {
            HEADER_READ_TIMEOUT_MS
        });
        Ok(Admitted {
            _permit: Permit {
                gate: Arc::clone(self),
                public_address: (!reserved).then_some(address),
            },
            header_read_timeout,
        })
    }

    /// Open connections now.
    pub fn open(&self) -> usize {
        self.lock().total
    }

    /// Connections closed at accept since start: (node full, address full).
    pub fn refused(&self) -> (u64, u64) {
        (
            self.refused_node_full.load(Ordering::Relaxed),
            self.refused_address_full.load(Ordering::Relaxed),
        )
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Open> {
        self.open
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    fn release(&self, public_address: Option<IpAddr>) {
        let mut open = self.lock();
        open.total -= 1;
        if let Some(address) = public_address {
            open.public -= 1;
            if let Some(count) = open.by_address.get_mut(&address) {
                *count -= 1;
                if *count == 0 {
                    open.by_address.remove(&address);
                }
            }
        }
    }
}

/// Gives the connection's place back when dropped.
struct Permit {
    gate: Arc<ConnectionGate>,
    public_address: Option<IpAddr>,
}

impl std::fmt::Debug for Permit {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Permit")
            .field("public_address", &self.public_address)
            .finish()
    }
}

impl Drop for Permit {
    fn drop(&mut self) {
        self.gate.release(self.public_address);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn address(last: u8) -> IpAddr {
        IpAddr::from([198, 51, 100, last])
    }

    #[test]
    fn one_address_gets_its_share_and_no_more() {
        let gate = Arc::new(ConnectionGate::default());
        let held: Vec<Admitted> = (0..CONNECTIONS_PER_ADDRESS_MAX)
            .map(|_| gate.admit(address(1), false).unwrap())
            .collect();
        assert_eq!(
            gate.admit(address(1), false).unwrap_err(),
            Refused::AddressFull
        );
        assert!(
            gate.admit(address(2), false).is_ok(),
            "another address gets in"
        );
        drop(held);
        assert!(gate.admit(address(1), false).is_ok(), "places come back");
        assert_eq!(gate.refused(), (0, 1));
    }

    #[test]
    fn the_reserve_stays_for_the_machine_and_peers_when_the_public_share_is_full() {
        let gate = Arc::new(ConnectionGate::default());
        let public = CONNECTIONS_MAX - CONNECTIONS_RESERVED;
        let held: Vec<Admitted> = (0..public)
            .map(|n| {
                gate.admit(IpAddr::from([10, 0, (n / 256) as u8, n as u8]), false)
                    .unwrap()
            })
            .collect();
        assert_eq!(
            gate.admit(address(9), false).unwrap_err(),
            Refused::NodeFull
        );
        let reserved: Vec<Admitted> = (0..CONNECTIONS_RESERVED)
            .map(|_| gate.admit(IpAddr::from([127, 0, 0, 1]), true).unwrap())
            .collect();
        assert_eq!(
            gate.admit(IpAddr::from([127, 0, 0, 1]), true).unwrap_err(),
            Refused::NodeFull,
            "the whole cap holds for the reserve too"
        );
        assert_eq!(gate.open(), CONNECTIONS_MAX);
        drop((held, reserved));
        assert_eq!(gate.open(), 0);
    }

    #[test]
    fn a_busy_node_gives_new_connections_less_time_for_their_headers() {
        let gate = Arc::new(ConnectionGate::default());
        let first = gate.admit(address(1), true).unwrap();
        assert_eq!(
            first.header_read_timeout,
            Duration::from_millis(HEADER_READ_TIMEOUT_MS)
        );
        let _held: Vec<Admitted> = (0..CONNECTIONS_BUSY)
            .map(|_| gate.admit(address(1), true).unwrap())
            .collect();
        let late = gate.admit(address(1), true).unwrap();
        assert_eq!(
            late.header_read_timeout,
            Duration::from_millis(BUSY_HEADER_READ_TIMEOUT_MS)
        );
    }

    #[test]
    fn only_the_machine_s_own_addresses_are_its_own() {
        assert!(is_own_machine("127.0.0.1".parse().unwrap()));
        assert!(is_own_machine("::1".parse().unwrap()));
        assert!(is_own_machine("::ffff:127.0.0.1".parse().unwrap()));
        assert!(!is_own_machine("127.0.0.2".parse().unwrap()));
        assert!(!is_own_machine("198.51.100.1".parse().unwrap()));
    }
}
