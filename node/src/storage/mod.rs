//! The storage boundary of a node: what the rest of the code may ask of the
//! disk, without knowing that sled sits behind it.
//!
//! Design choices, each one a promise callers rely on:
//! - **One writer.** Every write goes through a single writer thread that
//!   takes a batch of pending writes, commits them in one transaction, flushes
//!   once and only then answers each waiter (group commit). A write that was
//!   answered `Ok` is durable.
//! - **One apply path.** Local publishes and records received from peers both
//!   end in [`Storage::apply`]: idempotent, newer versions only, a record
//!   version and its change-log entry written atomically, equivocations kept
//!   as evidence and refused.
//! - **The change log is the feed.** Every applied version gets the next local
//!   sequence number; [`Storage::changes_since`] pages through it with the
//!   exact signed bytes, for peers, the search indexer and exports. The head
//!   sequence number is broadcast on a `watch` channel as a wake-up only.
//! - **Reads are blocking calls.** Async callers run them in
//!   `tokio::task::spawn_blocking`; writes return a [`Pending`] that can be
//!   awaited or waited on from a blocking thread.

pub mod sled_storage;

use std::collections::{BTreeMap, BTreeSet};

use seednet_protocol::federation::reconcile::{Bound as ItemBound, Item, ItemSource};

use seednet_protocol::federation::limits::SYNC_BATCH_BYTES_MAX;
use seednet_protocol::federation::wire::{ChangesPage, ChangesQuery, KeyRotation, PageBuilder};
use seednet_protocol::{CountryCode, SignatureBytes};
use seednet_protocol::{
    Kind, LanguageTag, NodeDescriptor, NodeId, Record, RecordKey, Signed, SignedWire, Theme,
    VerifyError, VersionHash,
};
use serde::Serialize;
use tokio::sync::{oneshot, watch};

pub use sled_storage::SledStorage;

/// Version of the on-disk layout. Bumped with a migration when it changes; a
/// node refuses to open a data dir written by a newer layout.
pub const SCHEMA_VERSION: u64 = 1;
/// Most write operations the writer commits with one flush.
pub const WRITE_BATCH_OPS_MAX: usize = 512;
/// Most write operations waiting for the writer; beyond, writes are refused
/// as busy instead of queueing without bound.
pub const WRITE_QUEUE_OPS_MAX: usize = 8_192;
/// Most records one [`Storage::apply_many`] call may carry.
pub const APPLY_MANY_RECORDS_MAX: usize = 1_000;
/// Most change-log entries one [`Storage::changes_since`] page returns.
pub const CHANGES_PAGE_ENTRIES_MAX: usize = 1_000;
/// Most records one [`Storage::list`] page returns.
pub const LIST_PAGE_RECORDS_MAX: usize = 200;
/// Most records one [`Storage::list`] call examines; a page that reaches it is
/// returned short, with a cursor to continue.
pub const LIST_SCAN_RECORDS_MAX: usize = 10_000;
/// Most entries one [`Storage::kv_scan`] returns.
pub const KV_SCAN_ENTRIES_MAX: usize = 10_000;

/// Why a storage operation failed. None of these is a caller's bad input:
/// they are operating errors (disk, corruption, shutdown, overload).
#[derive(Debug, thiserror::Error)]
pub enum StorageError {
    #[error("the data dir {path} is locked by another process (is the node running?)")]
    Locked { path: String },
    #[error("storage i/o error: {0}")]
    Io(String),
    #[error("stored data is corrupt: {0}")]
    Corrupt(String),
    #[error("a stored record no longer verifies: {0}")]
    Verify(#[from] VerifyError),
    #[error("the data dir uses schema version {found}, this seednet supports up to {supported}")]
    SchemaTooNew { found: u64, supported: u64 },
    #[error("the storage writer is closed")]
    Closed,
    #[error("the storage write queue is full ({max} pending writes)")]
    Busy { max: usize },
    #[error("too many records in one apply: {actual}, at most {max}")]
    TooMany { max: usize, actual: usize },
}

impl From<sled::Error> for StorageError {
    fn from(error: sled::Error) -> Self {
        match error {
            sled::Error::Corruption { .. } => StorageError::Corrupt(error.to_string()),
            other => StorageError::Io(other.to_string()),
        }
    }
}

/// What [`Storage::apply`] did with one signed record version.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ApplyOutcome {
    /// Stored as the current version, with this change-log sequence number.
    Applied { seq: u64 },
    /// This exact version (same hash) is already known: nothing written.
    AlreadyHave,
    /// A newer version is current: nothing written.
    Stale { have: u64 },
    /// A different signed version with the same key and version number is
    /// known: the new one is kept as evidence and refused.
    Equivocation { existing_hash: VersionHash },
}

/// The current version of a record, as [`PublishFn`] sees it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CurrentVersion {
    pub version: u64,
    pub hash: VersionHash,
    pub deleted: bool,
}

/// Why a publish was refused by its build function.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PublishRefusal {
    #[error("no such record")]
    NotFound,
    #[error("the record was deleted at version {version}")]
    Deleted { version: u64 },
    #[error("the record is at version {current}, not {expected}")]
    VersionConflict { expected: u64, current: u64 },
    #[error("the record already exists")]
    Exists,
    #[error("the record cannot be signed: {0}")]
    Sign(String),
}

/// Builds the version to publish from the current one. Runs on the writer
/// thread, so no other write to the same record can come in between: this is
/// what makes "next version" race-free. Must be quick (one signature).
pub type PublishFn =
    Box<dyn FnOnce(Option<CurrentVersion>) -> Result<Signed<Record>, PublishRefusal> + Send>;

/// A version built by a [`PublishWithFn`], with key-value entries that
/// describe it (the audit entry of `crate::audit`). The entries are written
/// in the same commit batch and flush as the version, so a publish answered
/// `Ok` has both on disk.
pub struct Built {
    pub signed: Signed<Record>,
    pub entries: Vec<(Space, KvWrite)>,
}

/// Like [`PublishFn`], building entries to write with the version.
pub type PublishWithFn =
    Box<dyn FnOnce(Option<CurrentVersion>) -> Result<Built, PublishRefusal> + Send>;

/// A version published through [`Storage::publish`].
#[derive(Debug, Clone)]
pub struct Published {
    pub signed: Signed<Record>,
    pub seq: u64,
}

/// What [`Storage::purge_origin`] removed.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct Purged {
    /// Records (current versions and tombstones) removed.
    pub records: u64,
    /// Change-log entries removed (superseded ones included).
    pub changes: u64,
}

/// A stored record version: the verified signed bytes and the change-log
/// sequence number that wrote it.
#[derive(Debug, Clone)]
pub struct StoredRecord {
    pub signed: Signed<Record>,
    pub seq: u64,
}

/// One change-log entry whose version is still the current one.
#[derive(Debug, Clone)]
pub struct Change {
    pub seq: u64,
    pub key: RecordKey,
    pub version: u64,
    pub hash: VersionHash,
    /// The exact signed canonical bytes (checked to be UTF-8 when read).
    pub bytes: Vec<u8>,
    pub signature: SignatureBytes,
}

impl Change {
    /// The wire form peers receive (exact bytes, never re-serialised).
    pub fn to_wire(&self) -> SignedWire {
        let text = String::from_utf8(self.bytes.clone()).expect("changes_since checks UTF-8");
        SignedWire {
            signed: serde_json::value::RawValue::from_string(text).expect("stored bytes are JSON"),
            signature: self.signature,
        }
    }
}

/// A page of the change log.
#[derive(Debug, Clone)]
pub struct ChangeLogPage {
    /// Entries in sequence order. Entries whose version was superseded since
    /// are skipped: the newer version appears later in the log.
    pub changes: Vec<Change>,
    /// The cursor for the next call: the last sequence number examined (or
    /// the caller's cursor when nothing was examined).
    pub next_seq: u64,
    /// The newest sequence number at the time of the call.
    pub head_seq: u64,
}

/// A change-log entry whose version is still the current one, by its
/// position only (see [`Storage::changes_before`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecentChange {
    pub seq: u64,
    pub key: RecordKey,
}

/// A page of the change log, newest first.
#[derive(Debug, Clone, Default)]
pub struct RecentChanges {
    /// Entries in descending sequence order, superseded ones left out.
    pub changes: Vec<RecentChange>,
    /// Pass as `before_seq` for the next page; `None` when the log was read
    /// to its start.
    pub next_before: Option<u64>,
}

/// Filters and paging of [`Storage::list`].
#[derive(Debug, Clone, Default)]
pub struct ListQuery {
    pub origin: Option<NodeId>,
    pub kind: Option<Kind>,
    pub theme: Option<Theme>,
    pub country: Option<CountryCode>,
    pub lang: Option<LanguageTag>,
    /// Start after this record key (from a previous page's `next`).
    pub after: Option<RecordKey>,
    /// Page size, 1 to [`LIST_PAGE_RECORDS_MAX`].
    pub limit: usize,
    /// Include tombstones (exports and backups need them).
    pub include_deleted: bool,
}

/// A page of records in record-key order.
#[derive(Debug, Clone)]
pub struct ListPage {
    pub records: Vec<StoredRecord>,
    /// Where the next page starts; `None` when the listing is complete.
    pub next: Option<RecordKey>,
}

/// Counts of records by origin.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct OriginCounts {
    pub live: u64,
    pub deleted: u64,
}

/// Numbers the node exposes in `/metrics` and `seednet status`.
#[derive(Debug, Clone, Default)]
pub struct StorageStats {
    pub head_seq: u64,
    pub records_by_origin: BTreeMap<NodeId, OriginCounts>,
    pub evidence_records: u64,
    pub applied_total: u64,
    pub already_have_total: u64,
    pub stale_total: u64,
    pub equivocations_total: u64,
    pub write_batches_total: u64,
    pub write_ops_total: u64,
    pub flushes_total: u64,
    pub flush_seconds_total: f64,
}

/// Named key-value spaces beside the record trees. Adding one (federation:
/// peers, cursors) is one variant here and one name in [`Space::tree_name`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Space {
    /// API tokens, hashed (see `tokens`).
    Tokens,
    /// Node metadata: schema version, the signed node descriptor.
    Meta,
    /// Federation peers: pinned descriptor, link state, counters (JSON,
    /// keyed by the peer's 32-byte node id).
    Peers,
    /// Federation cursors: per peer node id, the last durably applied
    /// position in that peer's feed (8 bytes big-endian).
    Cursors,
    /// Nonces of accepted signed federation requests, kept until they expire
    /// so that a restart does not reopen the replay window.
    Nonces,
    /// Origins whose records this node refuses, whoever relays them.
    BlockedOrigins,
    /// Named accounts for people, keyed by username (see `accounts`).
    Accounts,
    /// Who published each own version, keyed by record key and version
    /// (see `audit`).
    Audit,
}

impl Space {
    pub const ALL: &'static [Space] = &[
        Space::Tokens,
        Space::Meta,
        Space::Peers,
        Space::Cursors,
        Space::Nonces,
        Space::BlockedOrigins,
        Space::Accounts,
        Space::Audit,
    ];

    pub fn tree_name(self) -> &'static str {
        match self {
            Space::Tokens => "tokens",
            Space::Meta => "meta",
            Space::Peers => "federation_peers",
            Space::Cursors => "federation_cursors",
            Space::Nonces => "federation_nonces",
            Space::BlockedOrigins => "federation_blocked_origins",
            Space::Accounts => "accounts",
            Space::Audit => "audit",
        }
    }
}

/// One key-value write: `None` removes the key.
pub type KvWrite = (Vec<u8>, Option<Vec<u8>>);

/// The answer to a queued write. Await it from async code or wait for it from
/// a blocking thread; either way it resolves only after the flush.
#[derive(Debug)]
pub struct Pending<T> {
    receiver: oneshot::Receiver<Result<T, StorageError>>,
}

impl<T> Pending<T> {
    pub(crate) fn new(receiver: oneshot::Receiver<Result<T, StorageError>>) -> Self {
        Pending { receiver }
    }

    /// A write that failed before reaching the writer.
    pub(crate) fn failed(error: StorageError) -> Self {
        let (sender, receiver) = oneshot::channel();
        let _ = sender.send(Err(error));
        Pending { receiver }
    }

    pub async fn wait(self) -> Result<T, StorageError> {
        self.receiver.await.unwrap_or(Err(StorageError::Closed))
    }

    /// Blocks the calling thread: never call from async code.
    pub fn wait_blocking(self) -> Result<T, StorageError> {
        self.receiver
            .blocking_recv()
            .unwrap_or(Err(StorageError::Closed))
    }
}

/// What a node keeps on disk. Implementations must make every acknowledged
/// write durable and keep a record version and its change-log entry together.
pub trait Storage: Send + Sync + 'static {
    /// Applies one signed record version (local or received from a peer).
    /// Idempotent: the same version again is [`ApplyOutcome::AlreadyHave`].
    fn apply(&self, record: Signed<Record>) -> Pending<ApplyOutcome>;

    /// Applies many versions in order, in one commit; one outcome per record.
    /// At most [`APPLY_MANY_RECORDS_MAX`] records.
    fn apply_many(&self, records: Vec<Signed<Record>>) -> Pending<Vec<ApplyOutcome>>;

    /// Publishes a version built by `build` from the current version of
    /// `key`, on the writer thread (see [`PublishFn`]). The built record must
    /// have `key` and a version above the current one.
    fn publish(
        &self,
        key: RecordKey,
        build: PublishFn,
    ) -> Pending<Result<Published, PublishRefusal>> {
        self.publish_with(
            key,
            Box::new(move |current| {
                build(current).map(|signed| Built {
                    signed,
                    entries: Vec::new(),
                })
            }),
        )
    }

    /// [`Storage::publish`], also writing the key-value entries `build`
    /// returns with the version (see [`Built`]); nothing of them when the
    /// build refuses or the version is not applied.
    fn publish_with(
        &self,
        key: RecordKey,
        build: PublishWithFn,
    ) -> Pending<Result<Published, PublishRefusal>>;

    /// Removes every record of `origin` (current versions, tombstones, their
    /// change-log entries and known version hashes) in one durable commit,
    /// so that the records can be received again later. Equivocation
    /// evidence is kept. The origin must not be this node. Blocking work
    /// runs on the writer thread.
    fn purge_origin(&self, origin: NodeId) -> Pending<Purged>;

    /// Writes key-value entries of one space atomically and durably.
    fn kv_write(&self, space: Space, writes: Vec<KvWrite>) -> Pending<()>;

    /// The current version of a record, verified. Blocking.
    fn get(&self, key: &RecordKey) -> Result<Option<StoredRecord>, StorageError>;

    /// The current version number, hash and tombstone flag. Blocking.
    fn current_version(&self, key: &RecordKey) -> Result<Option<CurrentVersion>, StorageError>;

    /// A page of current records matching `query`. Blocking.
    fn list(&self, query: &ListQuery) -> Result<ListPage, StorageError>;

    /// Change-log entries after `after_seq`: at most `limit` (capped at
    /// [`CHANGES_PAGE_ENTRIES_MAX`]) and about `bytes_max` bytes of signed
    /// records (at least one entry). Blocking.
    fn changes_since(
        &self,
        after_seq: u64,
        limit: usize,
        bytes_max: usize,
    ) -> Result<ChangeLogPage, StorageError>;

    /// Change-log entries below `before_seq`, newest first (what feeds
    /// show): at most `limit` (capped at [`CHANGES_PAGE_ENTRIES_MAX`]),
    /// superseded entries skipped, at most a bounded number of entries
    /// examined per call. Tombstones are included (the caller decides).
    /// `u64::MAX` starts at the head. Blocking.
    fn changes_before(&self, before_seq: u64, limit: usize) -> Result<RecentChanges, StorageError>;

    /// When this node applied change-log entry `seq` (Unix seconds); `None`
    /// for a position with no entry (never written, or purged). Stamps never
    /// decrease along the log. Blocking.
    fn applied_at(&self, seq: u64) -> Result<Option<i64>, StorageError>;

    /// The last position of the log whose entry was applied before
    /// `unix_seconds` (0 when none was): `changes_since` from it starts with
    /// the first entry applied at or after that second. Blocking.
    fn seq_applied_before(&self, unix_seconds: i64) -> Result<u64, StorageError>;

    /// When the oldest entry still in the log was applied; `None` for an
    /// empty log. Blocking.
    fn earliest_applied_at(&self) -> Result<Option<i64>, StorageError>;

    /// The newest change-log sequence number (0 for an empty log).
    fn head_seq(&self) -> u64;

    /// A wake-up channel carrying the head sequence number after each commit.
    fn subscribe_head(&self) -> watch::Receiver<u64>;

    /// Calls `visit` with each item (`docs/PROTOCOL-federation.md` 9.8: one
    /// per stored record, at its current version, tombstones included) whose
    /// item key lies in `[lower, upper)`, in item-key order, with the 32
    /// bytes of the record's origin. A range scan of the items index, kept in
    /// the same transaction as the records. Blocking.
    fn for_each_item(
        &self,
        lower: &ItemBound,
        upper: &ItemBound,
        visit: &mut dyn FnMut(&Item, &[u8; 32]),
    ) -> Result<(), StorageError>;

    /// The current version of the record whose item id is `item_id`,
    /// verified. Blocking.
    fn get_by_item(&self, item_id: &[u8; 32]) -> Result<Option<StoredRecord>, StorageError>;

    /// Signed versions refused as equivocations, for one record. Blocking.
    fn evidence(&self, key: &RecordKey) -> Result<Vec<Signed<Record>>, StorageError>;

    /// One key-value entry. Blocking.
    fn kv_get(&self, space: Space, key: &[u8]) -> Result<Option<Vec<u8>>, StorageError>;

    /// Entries of a space whose key starts with `prefix`, in key order, at
    /// most [`KV_SCAN_ENTRIES_MAX`]. Blocking.
    fn kv_scan(&self, space: Space, prefix: &[u8]) -> Result<Vec<KvWrite>, StorageError>;

    /// Counters and record counts.
    fn stats(&self) -> StorageStats;

    /// Finishes queued writes, flushes and stops the writer. Later writes
    /// fail with [`StorageError::Closed`]. Blocking.
    fn shutdown(&self) -> Result<(), StorageError>;
}

/// Meta keys.
pub mod meta {
    pub const SCHEMA_VERSION: &[u8] = b"schema_version";
    pub const DESCRIPTOR: &[u8] = b"descriptor";
    /// The key rotations this node signed, oldest first (JSON array of
    /// signed `KeyRotation` statements).
    pub const OWN_ROTATIONS: &[u8] = b"own_key_rotations";
    /// Present once the items index is complete (see `sled_storage`).
    pub const ITEMS_INDEX: &[u8] = b"items_index_v1";
    /// Present once every change-log entry has its `applied` stamp.
    pub const APPLIED_INDEX: &[u8] = b"applied_index_v1";
}

/// A node's stored items as a reconciliation [`ItemSource`]: range scans of
/// the items index, leaving out the records of `skip_origins` (a responder
/// does not offer what it would not serve). Blocking, like every read.
pub struct StoredItems<'a> {
    pub storage: &'a dyn Storage,
    pub skip_origins: &'a BTreeSet<NodeId>,
}

impl ItemSource for StoredItems<'_> {
    type Error = StorageError;

    fn for_each_in(
        &self,
        lower: &ItemBound,
        upper: &ItemBound,
        visit: &mut dyn FnMut(&Item),
    ) -> Result<(), StorageError> {
        if self.skip_origins.is_empty() {
            return self
                .storage
                .for_each_item(lower, upper, &mut |item, _| visit(item));
        }
        self.storage
            .for_each_item(lower, upper, &mut |item, origin| {
                let skipped = self
                    .skip_origins
                    .iter()
                    .any(|blocked| blocked.as_bytes() == origin);
                if !skipped {
                    visit(item);
                }
            })
    }
}

/// One page of the change log from `query.since`, as the federation feed
/// (9.4) and backups serve it: the entries whose current version is still
/// the one they wrote, in sequence order, leaving out (but moving the cursor
/// past) the records whose origin `serves` refuses; at most `query.limit`
/// records and about [`SYNC_BATCH_BYTES_MAX`] bytes. Entries written after
/// the scan started are left for the next page, so a reader that pages until
/// `next_cursor == head_seq` has seen every record at its version as of that
/// last head. Blocking.
pub fn changes_page(
    storage: &dyn Storage,
    query: ChangesQuery,
    serves: &dyn Fn(&NodeId) -> bool,
) -> Result<ChangesPage, StorageError> {
    let head_seq = storage.head_seq();
    let mut builder = PageBuilder::new(query, head_seq);
    let mut after = query.since;
    loop {
        if after >= head_seq {
            return Ok(builder.finish(true));
        }
        let page = storage.changes_since(after, query.limit, SYNC_BATCH_BYTES_MAX)?;
        for change in page.changes {
            if change.seq > head_seq {
                return Ok(builder.finish(true));
            }
            let kept = if serves(&change.key.origin) {
                builder.push(change.seq, change.to_wire())
            } else {
                builder.skip(change.seq)
            };
            if !kept {
                return Ok(builder.finish(false));
            }
        }
        if page.next_seq <= after {
            return Ok(builder.finish(true));
        }
        after = page.next_seq;
    }
}

/// Reads the signed node descriptor from [`Space::Meta`]. Blocking.
pub fn load_descriptor(
    storage: &dyn Storage,
) -> Result<Option<Signed<NodeDescriptor>>, StorageError> {
    let Some(bytes) = storage.kv_get(Space::Meta, meta::DESCRIPTOR)? else {
        return Ok(None);
    };
    let (signature, body) = split_signed(&bytes)?;
    Ok(Some(Signed::verify(body, signature)?))
}

/// Stores the signed node descriptor durably.
pub fn store_descriptor(storage: &dyn Storage, descriptor: &Signed<NodeDescriptor>) -> Pending<()> {
    let value = join_signed(descriptor.signature(), descriptor.bytes());
    storage.kv_write(Space::Meta, vec![(meta::DESCRIPTOR.to_vec(), Some(value))])
}

/// The key rotations this node signed, oldest first. Blocking.
pub fn load_own_rotations(storage: &dyn Storage) -> Result<Vec<Signed<KeyRotation>>, StorageError> {
    let Some(bytes) = storage.kv_get(Space::Meta, meta::OWN_ROTATIONS)? else {
        return Ok(Vec::new());
    };
    let wires: Vec<SignedWire> = serde_json::from_slice(&bytes)
        .map_err(|e| StorageError::Corrupt(format!("stored key rotations: {e}")))?;
    wires
        .iter()
        .map(|wire| Signed::from_wire(wire).map_err(StorageError::Verify))
        .collect()
}

/// Stores the list of key rotations this node signed, durably.
pub fn store_own_rotations(
    storage: &dyn Storage,
    rotations: &[Signed<KeyRotation>],
) -> Pending<()> {
    let wires: Vec<SignedWire> = rotations.iter().map(Signed::to_wire).collect();
    let value = serde_json::to_vec(&wires).expect("signed wires serialise");
    storage.kv_write(
        Space::Meta,
        vec![(meta::OWN_ROTATIONS.to_vec(), Some(value))],
    )
}

/// `signature (64 bytes) || bytes`: how signed objects are stored.
pub(crate) fn join_signed(signature: SignatureBytes, bytes: &[u8]) -> Vec<u8> {
    let mut value = Vec::with_capacity(64 + bytes.len());
    value.extend_from_slice(&signature.0);
    value.extend_from_slice(bytes);
    value
}

pub(crate) fn split_signed(value: &[u8]) -> Result<(SignatureBytes, &[u8]), StorageError> {
    if value.len() < 64 {
        return Err(StorageError::Corrupt(
            "signed value shorter than a signature".into(),
        ));
    }
    let mut signature = [0u8; 64];
    signature.copy_from_slice(&value[..64]);
    Ok((SignatureBytes(signature), &value[64..]))
}
