//! Federation sync: pulling peers' changes feeds, decided by a state machine
//! without I/O.
//!
//! [`machine::PeerSync`] decides *when* to pull from one peer, *what* to ask
//! for, and *when* a cursor may be stored; the node's driver performs the
//! actions (HTTP fetch, batch apply in a blocking thread, cursor write, timer)
//! and feeds the outcomes back as events. Keeping the decisions free of
//! tokio, sled and HTTP lets them run under a simulated clock and network
//! (`sim`, tests only) over hundreds of seeds with drops, reordering,
//! partitions and crashes.

pub mod address;
pub mod machine;
pub mod policy;
#[cfg(test)]
mod sim;
#[cfg(test)]
mod sim_mesh;

pub use machine::{
    Action, Event, FetchError, PeerSync, RequestId, SyncConfig, SyncError, SyncStatus,
};
