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
//!
//! The driver (`crate::federation::driver`, one tokio task per active peer)
//! maps actions to I/O and outcomes back to events:
//!
//! - `FetchPage` → signed `GET /federation/v1/changes`, body read up to
//!   `SYNC_PAGE_BODY_BYTES_MAX`, `ChangesPage::decode` + `check_against`;
//!   keep the page under its `RequestId`, send `PageFetched` with its summary
//!   (or `FetchFailed`). A 403 `link_revoked` also updates the link.
//! - `ApplyBatch` → `verify_batch` in `spawn_blocking`, `policy::admit` per
//!   record, `Storage::apply_many` (one durable commit), then `BatchApplied`
//!   (or `ApplyFailed`).
//! - `PersistCursor` → durable write of the cursor for this peer.
//! - `ScheduleWake` → reset the task's sleep; on expiry send `Tick`.
//! - `Cancel` → drop the in-flight request future or the held page.
//! - `RequestRepair` → start one reconciliation pass for this peer unless
//!   one is running.
//! - `ReportError` → `tracing::warn!` with `peer = %node_id` and the peer
//!   status shown by `GET /api/v1/peers`.
//!
//! Notify handlers send `NotifyReceived`. Approving a link starts the peer's
//! task; revoking it aborts the task, so nothing is applied after it.
//!
//! The driver does its I/O through the `DriverIo` trait, so the same driver
//! code also runs under simulated time and network
//! (`crate::federation::driver_sim`, tests only: 1,000 seeds with
//! partitions, late answers, crashes, revocations and restores).

pub mod address;
pub mod machine;
pub mod policy;
pub mod rng;
#[cfg(test)]
mod sim;
#[cfg(test)]
mod sim_mesh;

pub use machine::{
    Action, Event, FetchError, PeerSync, RequestId, SyncConfig, SyncError, SyncStatus,
};
