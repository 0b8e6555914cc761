//! [`Storage`] on sled, with a dedicated writer thread doing group commit.
//!
//! Trees and their encodings (all integers big-endian so that byte order is
//! numeric order):
//! - `records`: record key -> `seq u64 | flags u8 | version u64 | signature | bytes`
//!   (the current version of each record; flag bit 0 = tombstone)
//! - `changes`: `seq u64` -> `version u64 | hash [32] | record key`
//! - `applied`: `seq u64` -> `unix seconds i64`: when this node applied the
//!   change-log entry (the OAI-PMH datestamp), written in the same
//!   transaction as the entry; never decreasing along the log (a clock that
//!   steps back stamps the previous second again)
//! - `versions`: `record key | 0x00 | version u64` -> `hash [32]` (every applied
//!   version, to recognise equivocations)
//! - `evidence`: `record key | 0x00 | version u64 | hash [32]` -> `signature | bytes`
//! - `items`: item key (`item id [32] | version u64`, `docs/PROTOCOL-federation.md`
//!   9.8) -> `hash [32] | record key` (one entry per record, for its current
//!   version: the set reconciliation answers from range scans of it)
//! - one tree per [`Space`] (tokens, meta, ...)
//!
//! A record key is `origin [32] | id (ASCII)`; ids never contain 0x00, so the
//! separator keeps composite keys unambiguous.
//!
//! The writer thread is the only writer of the record trees. It reads the
//! current state outside the transaction (nobody else can change it), plans
//! the batch with an overlay for writes earlier in the same batch, commits the
//! record writes in one transaction over `records`, `changes`, `versions`,
//! `evidence` and `items`, flushes, and only then answers the waiters. The
//! `items` index is therefore never out of step with `records`; a data dir
//! written before the index existed gets it built when it is opened.

use std::collections::HashMap;
use std::ops::Bound;
use std::path::Path;
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::Instant;

use seednet_protocol::federation::reconcile::{
    item_id_of, Bound as ItemBound, Item, ItemKey, ITEM_KEY_BYTES,
};
use seednet_protocol::{NodeId, Record, RecordId, RecordKey, Signed, VersionHash};
use sled::transaction::{ConflictableTransactionError, TransactionError};
use sled::Transactional;
use tokio::sync::{mpsc, oneshot, watch};

use super::{
    join_signed, meta, split_signed, ApplyOutcome, Change, ChangeLogPage, CurrentVersion, KvWrite,
    ListPage, ListQuery, OriginCounts, Pending, PublishRefusal, PublishWithFn, Published, Purged,
    RecentChange, RecentChanges, Space, Storage, StorageError, StorageStats, StoredRecord,
    APPLY_MANY_RECORDS_MAX, CHANGES_PAGE_ENTRIES_MAX, KV_SCAN_ENTRIES_MAX, LIST_PAGE_RECORDS_MAX,
    LIST_SCAN_RECORDS_MAX, SCHEMA_VERSION, WRITE_BATCH_OPS_MAX, WRITE_QUEUE_OPS_MAX,
};

/// Most change-log entries one `changes_since` call examines (superseded
/// entries are skipped but still examined).
const CHANGES_SCAN_ENTRIES_MAX: usize = 10 * CHANGES_PAGE_ENTRIES_MAX;

const FLAG_DELETED: u8 = 1;
const RECORD_HEADER_BYTES: usize = 8 + 1 + 8 + 64;

/// sled-backed storage. Cheap to share behind an `Arc`.
pub struct SledStorage {
    inner: Arc<Inner>,
    sender: Mutex<Option<mpsc::Sender<WriteOp>>>,
    writer: Mutex<Option<JoinHandle<()>>>,
}

struct Inner {
    db: sled::Db,
    records: sled::Tree,
    changes: sled::Tree,
    applied: sled::Tree,
    versions: sled::Tree,
    evidence: sled::Tree,
    items: sled::Tree,
    spaces: HashMap<Space, sled::Tree>,
    /// The newest stamp in `applied` (writer thread only).
    last_applied_at: AtomicI64,
    stats: Mutex<StorageStats>,
    head: watch::Sender<u64>,
}

/// Called once with the commit result; answers one waiter.
type Finisher = Box<dyn FnOnce(&Result<(), String>) + Send>;

/// Who waits for an apply: one record or many.
enum ApplyReply {
    One(oneshot::Sender<Result<ApplyOutcome, StorageError>>),
    Many(oneshot::Sender<Result<Vec<ApplyOutcome>, StorageError>>),
}

enum WriteOp {
    Apply {
        records: Vec<Signed<Record>>,
        reply: ApplyReply,
    },
    Publish {
        key: RecordKey,
        build: PublishWithFn,
        reply: oneshot::Sender<Result<Result<Published, PublishRefusal>, StorageError>>,
    },
    Kv {
        space: Space,
        writes: Vec<KvWrite>,
        reply: oneshot::Sender<Result<(), StorageError>>,
    },
    /// Committed alone (never grouped), after the batch before it.
    Purge {
        origin: NodeId,
        reply: oneshot::Sender<Result<Purged, StorageError>>,
    },
}

impl SledStorage {
    /// Opens (or creates) the database in `dir` and starts the writer thread.
    pub fn open(dir: &Path) -> Result<Self, StorageError> {
        let db = sled::Config::new()
            .path(dir)
            .open()
            .map_err(|error| open_error(dir, error))?;
        let records = db.open_tree("records")?;
        let changes = db.open_tree("changes")?;
        let applied = db.open_tree("applied")?;
        let versions = db.open_tree("versions")?;
        let evidence = db.open_tree("evidence")?;
        let items = db.open_tree("items")?;
        let mut spaces = HashMap::new();
        for space in Space::ALL {
            spaces.insert(*space, db.open_tree(space.tree_name())?);
        }
        check_schema(&spaces[&Space::Meta], &records)?;
        ensure_items_index(&spaces[&Space::Meta], &records, &items)?;
        ensure_applied_index(&spaces[&Space::Meta], &changes, &applied)?;
        let last_applied_at = match applied.last()? {
            Some((_, value)) => decode_u64(&value)? as i64,
            None => 0,
        };
        let head_seq = match changes.last()? {
            Some((key, _)) => decode_u64(&key)?,
            None => 0,
        };
        let stats = initial_stats(&records, &evidence, head_seq)?;
        let (head, _) = watch::channel(head_seq);
        let inner = Arc::new(Inner {
            db,
            records,
            changes,
            applied,
            versions,
            evidence,
            items,
            spaces,
            last_applied_at: AtomicI64::new(last_applied_at),
            stats: Mutex::new(stats),
            head,
        });
        let (sender, receiver) = mpsc::channel(WRITE_QUEUE_OPS_MAX);
        let writer_inner = Arc::clone(&inner);
        let writer = std::thread::Builder::new()
            .name("seednet-storage-writer".into())
            .spawn(move || run_writer(writer_inner, receiver, head_seq))
            .map_err(|e| StorageError::Io(format!("cannot start the writer thread: {e}")))?;
        Ok(SledStorage {
            inner,
            sender: Mutex::new(Some(sender)),
            writer: Mutex::new(Some(writer)),
        })
    }

    fn submit(&self, op: WriteOp) -> Result<(), StorageError> {
        let guard = self.sender.lock().expect("sender lock");
        let Some(sender) = guard.as_ref() else {
            return Err(StorageError::Closed);
        };
        sender.try_send(op).map_err(|error| match error {
            mpsc::error::TrySendError::Full(_) => StorageError::Busy {
                max: WRITE_QUEUE_OPS_MAX,
            },
            mpsc::error::TrySendError::Closed(_) => StorageError::Closed,
        })
    }
}

impl Drop for SledStorage {
    fn drop(&mut self) {
        let _ = self.shutdown();
    }
}

fn open_error(dir: &Path, error: sled::Error) -> StorageError {
    match &error {
        sled::Error::Io(io) if io.to_string().contains("could not acquire lock") => {
            StorageError::Locked {
                path: dir.display().to_string(),
            }
        }
        _ => StorageError::from(error),
    }
}

fn check_schema(meta_tree: &sled::Tree, records: &sled::Tree) -> Result<(), StorageError> {
    match meta_tree.get(meta::SCHEMA_VERSION)? {
        Some(value) => {
            let found = decode_u64(&value)?;
            if found > SCHEMA_VERSION {
                return Err(StorageError::SchemaTooNew {
                    found,
                    supported: SCHEMA_VERSION,
                });
            }
        }
        None => {
            if !records.is_empty() {
                return Err(StorageError::Corrupt(
                    "records exist but no schema version is recorded".into(),
                ));
            }
            meta_tree.insert(meta::SCHEMA_VERSION, &SCHEMA_VERSION.to_be_bytes())?;
            meta_tree.flush()?;
        }
    }
    Ok(())
}

/// Builds the `items` index from `records` unless the meta key says it is
/// complete (a data dir from before the index, or a build interrupted by a
/// crash: the index is cleared and built again).
fn ensure_items_index(
    meta_tree: &sled::Tree,
    records: &sled::Tree,
    items: &sled::Tree,
) -> Result<(), StorageError> {
    if meta_tree.get(meta::ITEMS_INDEX)?.is_some() {
        return Ok(());
    }
    let started = Instant::now();
    items.clear()?;
    let mut batch = sled::Batch::default();
    let mut count = 0u64;
    for entry in records.iter() {
        let (key, value) = entry?;
        let record_key = decode_record_key(&key)?;
        let current = decode_record_value(&value)?.current()?;
        let item_key = ItemKey::new(item_id_of(&record_key), current.version);
        batch.insert(
            item_key.0.as_slice(),
            encode_item_value(&current.hash, &key),
        );
        count += 1;
        if count.is_multiple_of(ITEMS_REBUILD_BATCH_MAX) {
            items.apply_batch(std::mem::take(&mut batch))?;
        }
    }
    items.apply_batch(batch)?;
    items.flush()?;
    meta_tree.insert(meta::ITEMS_INDEX, &1u64.to_be_bytes())?;
    meta_tree.flush()?;
    if count > 0 {
        tracing::info!(
            items = count,
            seconds = started.elapsed().as_secs_f64(),
            "items index built from the stored records (migration)"
        );
    }
    Ok(())
}

/// Stamps every change-log entry that has no `applied` entry with the time
/// of opening, unless the meta key says the index is complete: a data dir
/// from before the stamps gets them once, the moment it is upgraded (no
/// harvester can have seen it before, and the stamps stay non-decreasing).
fn ensure_applied_index(
    meta_tree: &sled::Tree,
    changes: &sled::Tree,
    applied: &sled::Tree,
) -> Result<(), StorageError> {
    if meta_tree.get(meta::APPLIED_INDEX)?.is_some() {
        return Ok(());
    }
    let now = crate::clock::now_unix_seconds();
    let mut batch = sled::Batch::default();
    let mut count = 0u64;
    for entry in changes.iter() {
        let (seq, _) = entry?;
        if applied.contains_key(&seq)? {
            continue;
        }
        batch.insert(seq, &now.to_be_bytes());
        count += 1;
        if count.is_multiple_of(ITEMS_REBUILD_BATCH_MAX) {
            applied.apply_batch(std::mem::take(&mut batch))?;
        }
    }
    applied.apply_batch(batch)?;
    applied.flush()?;
    meta_tree.insert(meta::APPLIED_INDEX, &1u64.to_be_bytes())?;
    meta_tree.flush()?;
    if count > 0 {
        tracing::info!(
            changes = count,
            "change-log entries stamped with the time of the upgrade (migration)"
        );
    }
    Ok(())
}

/// Entries written per batch while the items index is rebuilt.
const ITEMS_REBUILD_BATCH_MAX: u64 = 10_000;

fn initial_stats(
    records: &sled::Tree,
    evidence: &sled::Tree,
    head_seq: u64,
) -> Result<StorageStats, StorageError> {
    let mut stats = StorageStats {
        head_seq,
        evidence_records: evidence.len() as u64,
        ..StorageStats::default()
    };
    for entry in records.iter() {
        let (key, value) = entry?;
        let origin = decode_origin(&key)?;
        let stored = decode_record_value(&value)?;
        let counts = stats.records_by_origin.entry(origin).or_default();
        if stored.deleted {
            counts.deleted += 1;
        } else {
            counts.live += 1;
        }
    }
    Ok(stats)
}

// ---------------------------------------------------------------- encodings

pub(crate) fn record_key_bytes(key: &RecordKey) -> Vec<u8> {
    let mut bytes = Vec::with_capacity(32 + key.id.as_str().len());
    bytes.extend_from_slice(key.origin.as_bytes());
    bytes.extend_from_slice(key.id.as_str().as_bytes());
    bytes
}

fn decode_origin(bytes: &[u8]) -> Result<NodeId, StorageError> {
    let origin: [u8; 32] = bytes
        .get(..32)
        .and_then(|slice| slice.try_into().ok())
        .ok_or_else(|| StorageError::Corrupt("record key shorter than an origin".into()))?;
    NodeId::from_bytes(origin).map_err(|e| StorageError::Corrupt(format!("stored origin: {e}")))
}

fn decode_record_key(bytes: &[u8]) -> Result<RecordKey, StorageError> {
    let origin = decode_origin(bytes)?;
    let id_text = std::str::from_utf8(&bytes[32..])
        .map_err(|_| StorageError::Corrupt("stored record id is not UTF-8".into()))?;
    let id = RecordId::parse(id_text)
        .ok_or_else(|| StorageError::Corrupt(format!("stored record id {id_text:?}")))?;
    Ok(RecordKey { origin, id })
}

fn version_key(key_bytes: &[u8], version: u64) -> Vec<u8> {
    let mut bytes = Vec::with_capacity(key_bytes.len() + 9);
    bytes.extend_from_slice(key_bytes);
    bytes.push(0);
    bytes.extend_from_slice(&version.to_be_bytes());
    bytes
}

fn evidence_key(key_bytes: &[u8], version: u64, hash: &VersionHash) -> Vec<u8> {
    let mut bytes = version_key(key_bytes, version);
    bytes.extend_from_slice(&hash.0);
    bytes
}

fn decode_u64(bytes: &[u8]) -> Result<u64, StorageError> {
    let array: [u8; 8] = bytes
        .get(..8)
        .and_then(|slice| slice.try_into().ok())
        .ok_or_else(|| StorageError::Corrupt("stored integer shorter than 8 bytes".into()))?;
    Ok(u64::from_be_bytes(array))
}

fn decode_hash(bytes: &[u8]) -> Result<VersionHash, StorageError> {
    let array: [u8; 32] = bytes
        .get(..32)
        .and_then(|slice| slice.try_into().ok())
        .ok_or_else(|| StorageError::Corrupt("stored hash shorter than 32 bytes".into()))?;
    Ok(VersionHash(array))
}

fn encode_record_value(seq: u64, signed: &Signed<Record>) -> Vec<u8> {
    let record = signed.value();
    let mut value = Vec::with_capacity(RECORD_HEADER_BYTES + signed.bytes().len());
    value.extend_from_slice(&seq.to_be_bytes());
    value.push(if record.is_tombstone() {
        FLAG_DELETED
    } else {
        0
    });
    value.extend_from_slice(&record.version.to_be_bytes());
    value.extend_from_slice(&join_signed(signed.signature(), signed.bytes()));
    value
}

/// A stored record value, not yet verified.
struct RawRecord<'a> {
    seq: u64,
    deleted: bool,
    version: u64,
    signed: &'a [u8],
}

fn decode_record_value(value: &[u8]) -> Result<RawRecord<'_>, StorageError> {
    if value.len() < RECORD_HEADER_BYTES {
        return Err(StorageError::Corrupt("record value too short".into()));
    }
    Ok(RawRecord {
        seq: decode_u64(&value[..8])?,
        deleted: value[8] & FLAG_DELETED != 0,
        version: decode_u64(&value[9..17])?,
        signed: &value[17..],
    })
}

impl RawRecord<'_> {
    fn verify(&self) -> Result<StoredRecord, StorageError> {
        let (signature, bytes) = split_signed(self.signed)?;
        Ok(StoredRecord {
            signed: Signed::verify(bytes, signature)?,
            seq: self.seq,
        })
    }

    fn current(&self) -> Result<CurrentVersion, StorageError> {
        let (_, bytes) = split_signed(self.signed)?;
        Ok(CurrentVersion {
            version: self.version,
            hash: VersionHash::of(bytes),
            deleted: self.deleted,
        })
    }
}

/// `hash [32] | record key`: the value of an `items` entry.
fn encode_item_value(hash: &VersionHash, key_bytes: &[u8]) -> Vec<u8> {
    let mut value = Vec::with_capacity(32 + key_bytes.len());
    value.extend_from_slice(&hash.0);
    value.extend_from_slice(key_bytes);
    value
}

fn decode_item_key(bytes: &[u8]) -> Result<ItemKey, StorageError> {
    let array: [u8; ITEM_KEY_BYTES] = bytes
        .try_into()
        .map_err(|_| StorageError::Corrupt(format!("item key of {} bytes", bytes.len())))?;
    Ok(ItemKey(array))
}

/// The 40-byte key of the item of a record at `version`.
fn item_key_of(key: &RecordKey, version: u64) -> ItemKey {
    ItemKey::new(item_id_of(key), version)
}

fn encode_change_value(version: u64, hash: &VersionHash, key_bytes: &[u8]) -> Vec<u8> {
    let mut value = Vec::with_capacity(40 + key_bytes.len());
    value.extend_from_slice(&version.to_be_bytes());
    value.extend_from_slice(&hash.0);
    value.extend_from_slice(key_bytes);
    value
}

// ------------------------------------------------------------------- writer

fn run_writer(inner: Arc<Inner>, mut receiver: mpsc::Receiver<WriteOp>, head_seq: u64) {
    let mut next_seq = head_seq + 1;
    while let Some(first) = receiver.blocking_recv() {
        let mut batch = Vec::new();
        let mut purge = None;
        let mut next = Some(first);
        while let Some(op) = next.take() {
            if let WriteOp::Purge { origin, reply } = op {
                purge = Some((origin, reply));
                break;
            }
            batch.push(op);
            if batch.len() < WRITE_BATCH_OPS_MAX {
                next = receiver.try_recv().ok();
            }
        }
        if !batch.is_empty() {
            inner.commit_batch(batch, &mut next_seq);
        }
        if let Some((origin, reply)) = purge {
            let _ = reply.send(inner.purge_origin(origin));
        }
    }
    if let Err(error) = inner.db.flush() {
        tracing::error!(%error, "final storage flush failed");
    }
}

/// One planned record version write.
struct RecordWrite {
    key_bytes: Vec<u8>,
    record_value: Vec<u8>,
    seq: u64,
    change_value: Vec<u8>,
    version_key: Vec<u8>,
    hash: VersionHash,
    /// The items index entry of this version, and of the version it replaces.
    item_key: ItemKey,
    previous_item_key: Option<ItemKey>,
    origin: NodeId,
    previous_deleted: Option<bool>,
    deleted: bool,
}

/// What one batch will write, and the state it sees including its own writes.
#[derive(Default)]
struct Plan {
    /// When this batch applies its versions (Unix seconds, see `applied`).
    applied_at: i64,
    records: Vec<RecordWrite>,
    evidence: Vec<(Vec<u8>, Vec<u8>)>,
    kv: Vec<(Space, Vec<KvWrite>)>,
    current: HashMap<Vec<u8>, CurrentVersion>,
    hashes: HashMap<Vec<u8>, VersionHash>,
    outcomes: OutcomeCounts,
}

/// How many apply decisions of each kind a batch made.
#[derive(Default)]
struct OutcomeCounts {
    applied: u64,
    already_have: u64,
    stale: u64,
    equivocations: u64,
}

impl Plan {
    fn current(
        &self,
        inner: &Inner,
        key_bytes: &[u8],
    ) -> Result<Option<CurrentVersion>, StorageError> {
        if let Some(current) = self.current.get(key_bytes) {
            return Ok(Some(*current));
        }
        match inner.records.get(key_bytes)? {
            Some(value) => Ok(Some(decode_record_value(&value)?.current()?)),
            None => Ok(None),
        }
    }

    fn known_hash(
        &self,
        inner: &Inner,
        version_key: &[u8],
    ) -> Result<Option<VersionHash>, StorageError> {
        if let Some(hash) = self.hashes.get(version_key) {
            return Ok(Some(*hash));
        }
        match inner.versions.get(version_key)? {
            Some(value) => Ok(Some(decode_hash(&value)?)),
            None => Ok(None),
        }
    }

    fn decide(
        &mut self,
        inner: &Inner,
        signed: &Signed<Record>,
        next_seq: &mut u64,
    ) -> Result<ApplyOutcome, StorageError> {
        let record = signed.value();
        let key_bytes = record_key_bytes(&record.key);
        let hash = signed.hash();
        let version_key = version_key(&key_bytes, record.version);
        if let Some(existing_hash) = self.known_hash(inner, &version_key)? {
            if existing_hash == hash {
                self.outcomes.already_have += 1;
                return Ok(ApplyOutcome::AlreadyHave);
            }
            let evidence_key = evidence_key(&key_bytes, record.version, &hash);
            let planned = self.evidence.iter().any(|(key, _)| *key == evidence_key);
            if !planned && !inner.evidence.contains_key(&evidence_key)? {
                let value = join_signed(signed.signature(), signed.bytes());
                self.evidence.push((evidence_key, value));
            }
            self.outcomes.equivocations += 1;
            return Ok(ApplyOutcome::Equivocation { existing_hash });
        }
        let current = self.current(inner, &key_bytes)?;
        if let Some(current) = current {
            if current.version >= record.version {
                self.outcomes.stale += 1;
                return Ok(ApplyOutcome::Stale {
                    have: current.version,
                });
            }
        }
        let seq = *next_seq;
        *next_seq += 1;
        let deleted = record.is_tombstone();
        self.current.insert(
            key_bytes.clone(),
            CurrentVersion {
                version: record.version,
                hash,
                deleted,
            },
        );
        self.hashes.insert(version_key.clone(), hash);
        self.records.push(RecordWrite {
            record_value: encode_record_value(seq, signed),
            change_value: encode_change_value(record.version, &hash, &key_bytes),
            key_bytes,
            seq,
            version_key,
            hash,
            item_key: item_key_of(&record.key, record.version),
            previous_item_key: current.map(|c| item_key_of(&record.key, c.version)),
            origin: record.key.origin,
            previous_deleted: current.map(|c| c.deleted),
            deleted,
        });
        self.outcomes.applied += 1;
        Ok(ApplyOutcome::Applied { seq })
    }
}

impl Inner {
    fn commit_batch(&self, batch: Vec<WriteOp>, next_seq: &mut u64) {
        let ops = batch.len() as u64;
        let first_seq = *next_seq;
        let previous_stamp = self.last_applied_at.load(Ordering::Relaxed);
        let mut plan = Plan {
            applied_at: crate::clock::now_unix_seconds().max(previous_stamp),
            ..Plan::default()
        };
        let mut finishers: Vec<Finisher> = Vec::with_capacity(batch.len());
        for op in batch {
            finishers.push(self.plan_op(&mut plan, op, next_seq));
        }
        let started = Instant::now();
        let result = self.write_plan(&plan).map_err(|e| e.to_string());
        let flush_seconds = started.elapsed().as_secs_f64();
        match &result {
            Ok(()) => {
                if !plan.records.is_empty() {
                    self.last_applied_at
                        .store(plan.applied_at, Ordering::Relaxed);
                }
                let head_seq = *next_seq - 1;
                self.record_stats(&plan, ops, flush_seconds, head_seq);
                if head_seq >= first_seq {
                    self.head.send_replace(head_seq);
                }
            }
            Err(error) => {
                tracing::error!(%error, ops, "storage batch failed");
                *next_seq = match self.changes.last() {
                    Ok(Some((key, _))) => decode_u64(&key).unwrap_or(first_seq - 1) + 1,
                    _ => first_seq,
                };
            }
        }
        for finish in finishers {
            finish(&result);
        }
    }

    /// Plans one operation; returns how to answer it once the batch commits.
    fn plan_op(&self, plan: &mut Plan, op: WriteOp, next_seq: &mut u64) -> Finisher {
        match op {
            WriteOp::Apply { records, reply } => {
                let mut outcomes = Vec::with_capacity(records.len());
                let mut failure = None;
                for signed in &records {
                    match plan.decide(self, signed, next_seq) {
                        Ok(outcome) => outcomes.push(outcome),
                        Err(error) => {
                            failure = Some(error);
                            break;
                        }
                    }
                }
                Box::new(move |result| {
                    let answer = match (failure, result) {
                        (Some(error), _) => Err(error),
                        (None, Err(message)) => Err(StorageError::Io(message.clone())),
                        (None, Ok(())) => Ok(outcomes),
                    };
                    match reply {
                        ApplyReply::Many(reply) => {
                            let _ = reply.send(answer);
                        }
                        ApplyReply::One(reply) => {
                            let one = answer.map(|mut outcomes| {
                                outcomes.pop().expect("one outcome for one record")
                            });
                            let _ = reply.send(one);
                        }
                    }
                })
            }
            WriteOp::Publish { key, build, reply } => {
                let answer = self.plan_publish(plan, key, build, next_seq);
                Box::new(move |result| {
                    let answer = match (answer, result) {
                        (Err(error), _) => Err(error),
                        (Ok(Err(refusal)), _) => Ok(Err(refusal)),
                        (Ok(Ok(_)), Err(message)) => Err(StorageError::Io(message.clone())),
                        (Ok(Ok(published)), Ok(())) => Ok(Ok(published)),
                    };
                    let _ = reply.send(answer);
                })
            }
            WriteOp::Kv {
                space,
                writes,
                reply,
            } => {
                plan.kv.push((space, writes));
                Box::new(move |result| {
                    let answer = result
                        .clone()
                        .map_err(|message| StorageError::Io(message.clone()));
                    let _ = reply.send(answer);
                })
            }
            // `run_writer` never groups a purge; should one get here, it is
            // still committed on its own before the batch.
            WriteOp::Purge { origin, reply } => {
                let answer = self.purge_origin(origin);
                Box::new(move |_| {
                    let _ = reply.send(answer);
                })
            }
        }
    }

    fn plan_publish(
        &self,
        plan: &mut Plan,
        key: RecordKey,
        build: PublishWithFn,
        next_seq: &mut u64,
    ) -> Result<Result<Published, PublishRefusal>, StorageError> {
        let key_bytes = record_key_bytes(&key);
        let current = plan.current(self, &key_bytes)?;
        let (signed, entries) = match build(current) {
            Ok(built) => (built.signed, built.entries),
            Err(refusal) => return Ok(Err(refusal)),
        };
        let record = signed.value();
        let newer = current.is_none_or(|current| record.version > current.version);
        if record.key != key || !newer {
            return Ok(Err(PublishRefusal::Sign(format!(
                "built version {} of {} does not follow the current version of {key}",
                record.version, record.key
            ))));
        }
        match plan.decide(self, &signed, next_seq)? {
            ApplyOutcome::Applied { seq } => {
                // Written after the record transaction, before the batch's
                // one flush: answered only once both are durable.
                for (space, write) in entries {
                    plan.kv.push((space, vec![write]));
                }
                Ok(Ok(Published { signed, seq }))
            }
            other => Ok(Err(PublishRefusal::Sign(format!(
                "publish was not applied: {other:?}"
            )))),
        }
    }

    fn write_plan(&self, plan: &Plan) -> Result<(), StorageError> {
        if !plan.records.is_empty() || !plan.evidence.is_empty() {
            (
                &self.records,
                &self.changes,
                &self.applied,
                &self.versions,
                &self.evidence,
                &self.items,
            )
                .transaction(|(records, changes, applied, versions, evidence, items)| {
                    for write in &plan.records {
                        records
                            .insert(write.key_bytes.as_slice(), write.record_value.as_slice())?;
                        changes.insert(&write.seq.to_be_bytes(), write.change_value.as_slice())?;
                        applied.insert(&write.seq.to_be_bytes(), &plan.applied_at.to_be_bytes())?;
                        versions.insert(write.version_key.as_slice(), &write.hash.0)?;
                        if let Some(previous) = &write.previous_item_key {
                            items.remove(previous.0.as_slice())?;
                        }
                        items.insert(
                            write.item_key.0.as_slice(),
                            encode_item_value(&write.hash, &write.key_bytes),
                        )?;
                    }
                    for (key, value) in &plan.evidence {
                        evidence.insert(key.as_slice(), value.as_slice())?;
                    }
                    Ok::<(), ConflictableTransactionError<()>>(())
                })
                .map_err(|error| match error {
                    TransactionError::Storage(error) => StorageError::from(error),
                    TransactionError::Abort(()) => {
                        StorageError::Io("record transaction aborted".into())
                    }
                })?;
        }
        for (space, writes) in &plan.kv {
            let mut batch = sled::Batch::default();
            for (key, value) in writes {
                match value {
                    Some(value) => batch.insert(key.as_slice(), value.as_slice()),
                    None => batch.remove(key.as_slice()),
                }
            }
            self.spaces[space].apply_batch(batch)?;
        }
        self.db.flush()?;
        Ok(())
    }

    /// Removes every record of `origin` in one transaction and flushes.
    /// Runs on the writer thread, so nothing else writes records meanwhile.
    fn purge_origin(&self, origin: NodeId) -> Result<Purged, StorageError> {
        let prefix = origin.as_bytes().to_vec();
        let mut record_keys = Vec::new();
        let mut item_keys = Vec::new();
        for entry in self.records.scan_prefix(&prefix) {
            let (key, value) = entry?;
            let version = decode_record_value(&value)?.version;
            item_keys.push(item_key_of(&decode_record_key(&key)?, version));
            record_keys.push(key);
        }
        let mut version_keys = Vec::new();
        for entry in self.versions.scan_prefix(&prefix) {
            version_keys.push(entry?.0);
        }
        // The change log is ordered by sequence number, not by origin: a
        // purge is a rare admin action, so one pass over it is acceptable.
        let mut change_keys = Vec::new();
        for entry in self.changes.iter() {
            let (seq, value) = entry?;
            if value.get(40..72) == Some(prefix.as_slice()) {
                change_keys.push(seq);
            }
        }
        (
            &self.records,
            &self.changes,
            &self.applied,
            &self.versions,
            &self.items,
        )
            .transaction(|(records, changes, applied, versions, items)| {
                for key in &record_keys {
                    records.remove(key)?;
                }
                for key in &item_keys {
                    items.remove(key.0.as_slice())?;
                }
                for key in &change_keys {
                    changes.remove(key)?;
                    applied.remove(key)?;
                }
                for key in &version_keys {
                    versions.remove(key)?;
                }
                Ok::<(), ConflictableTransactionError<()>>(())
            })
            .map_err(|error| match error {
                TransactionError::Storage(error) => StorageError::from(error),
                TransactionError::Abort(()) => StorageError::Io("purge transaction aborted".into()),
            })?;
        self.db.flush()?;
        let mut stats = self.stats.lock().expect("stats lock");
        stats.records_by_origin.remove(&origin);
        stats.flushes_total += 1;
        Ok(Purged {
            records: record_keys.len() as u64,
            changes: change_keys.len() as u64,
        })
    }

    fn record_stats(&self, plan: &Plan, ops: u64, flush_seconds: f64, head_seq: u64) {
        let mut stats = self.stats.lock().expect("stats lock");
        for write in &plan.records {
            let counts: &mut OriginCounts =
                stats.records_by_origin.entry(write.origin).or_default();
            match write.previous_deleted {
                Some(true) => counts.deleted -= 1,
                Some(false) => counts.live -= 1,
                None => {}
            }
            if write.deleted {
                counts.deleted += 1;
            } else {
                counts.live += 1;
            }
        }
        stats.head_seq = head_seq;
        stats.evidence_records += plan.evidence.len() as u64;
        stats.applied_total += plan.outcomes.applied;
        stats.already_have_total += plan.outcomes.already_have;
        stats.stale_total += plan.outcomes.stale;
        stats.equivocations_total += plan.outcomes.equivocations;
        stats.write_batches_total += 1;
        stats.write_ops_total += ops;
        stats.flushes_total += 1;
        stats.flush_seconds_total += flush_seconds;
    }

    fn list(&self, query: &ListQuery) -> Result<ListPage, StorageError> {
        let limit = query.limit.clamp(1, LIST_PAGE_RECORDS_MAX);
        let lower = match (&query.after, &query.origin) {
            // A cursor before the origin's range starts at the range.
            (Some(after), Some(origin)) if after.origin < *origin => {
                Bound::Included(origin.as_bytes().to_vec())
            }
            (Some(after), _) => Bound::Excluded(record_key_bytes(after)),
            (None, Some(origin)) => Bound::Included(origin.as_bytes().to_vec()),
            (None, None) => Bound::Unbounded,
        };
        let mut records = Vec::new();
        let mut scanned = 0usize;
        for entry in self.records.range::<Vec<u8>, _>((lower, Bound::Unbounded)) {
            let (key, value) = entry?;
            if let Some(origin) = &query.origin {
                if !key.starts_with(origin.as_bytes()) {
                    return Ok(ListPage {
                        records,
                        next: None,
                    });
                }
            }
            scanned += 1;
            let raw = decode_record_value(&value)?;
            if matches_query(&raw, query)? {
                records.push(raw.verify()?);
                if records.len() == limit {
                    return Ok(ListPage {
                        records,
                        next: Some(decode_record_key(&key)?),
                    });
                }
            }
            if scanned == LIST_SCAN_RECORDS_MAX {
                return Ok(ListPage {
                    records,
                    next: Some(decode_record_key(&key)?),
                });
            }
        }
        Ok(ListPage {
            records,
            next: None,
        })
    }

    fn changes_since(
        &self,
        after_seq: u64,
        limit: usize,
        bytes_max: usize,
    ) -> Result<ChangeLogPage, StorageError> {
        let head_seq = *self.head.borrow();
        let limit = limit.clamp(1, CHANGES_PAGE_ENTRIES_MAX);
        let mut page = ChangeLogPage {
            changes: Vec::new(),
            next_seq: after_seq,
            head_seq,
        };
        let Some(start) = after_seq.checked_add(1) else {
            return Ok(page);
        };
        let mut bytes_total = 0usize;
        for (examined, entry) in self.changes.range(start.to_be_bytes()..).enumerate() {
            if examined == CHANGES_SCAN_ENTRIES_MAX {
                break;
            }
            let (seq_bytes, value) = entry?;
            let seq = decode_u64(&seq_bytes)?;
            if value.len() < 40 {
                return Err(StorageError::Corrupt(format!("change {seq} too short")));
            }
            let version = decode_u64(&value[..8])?;
            let hash = decode_hash(&value[8..40])?;
            let key_bytes = &value[40..];
            let current = match self.records.get(key_bytes)? {
                Some(stored) => stored,
                None => {
                    return Err(StorageError::Corrupt(format!(
                        "change {seq} names a record that is not stored"
                    )))
                }
            };
            let raw = decode_record_value(&current)?;
            if raw.version != version {
                page.next_seq = seq;
                continue;
            }
            let (signature, bytes) = split_signed(raw.signed)?;
            if std::str::from_utf8(bytes).is_err() {
                return Err(StorageError::Corrupt(format!(
                    "record of change {seq} is not UTF-8"
                )));
            }
            if !page.changes.is_empty() && bytes_total + bytes.len() > bytes_max {
                break;
            }
            bytes_total += bytes.len();
            page.next_seq = seq;
            page.changes.push(Change {
                seq,
                key: decode_record_key(key_bytes)?,
                version,
                hash,
                bytes: bytes.to_vec(),
                signature,
            });
            if page.changes.len() == limit {
                break;
            }
        }
        Ok(page)
    }

    fn applied_at(&self, seq: u64) -> Result<Option<i64>, StorageError> {
        match self.applied.get(seq.to_be_bytes())? {
            Some(value) => Ok(Some(decode_u64(&value)? as i64)),
            None => Ok(None),
        }
    }

    /// The stamp of the first entry at or after `seq`; `None` past the end.
    fn stamp_from(&self, seq: u64) -> Result<Option<i64>, StorageError> {
        match self.applied.range(seq.to_be_bytes()..).next() {
            Some(entry) => Ok(Some(decode_u64(&entry?.1)? as i64)),
            None => Ok(None),
        }
    }

    fn seq_applied_before(&self, unix_seconds: i64) -> Result<u64, StorageError> {
        // Stamps never decrease along the log: find the smallest position
        // whose next entry is stamped at or after `unix_seconds`.
        let mut low = 1u64;
        let mut high = *self.head.borrow() + 1;
        while low < high {
            let middle = low + (high - low) / 2;
            match self.stamp_from(middle)? {
                Some(stamp) if stamp < unix_seconds => low = middle + 1,
                _ => high = middle,
            }
        }
        Ok(low - 1)
    }

    fn earliest_applied_at(&self) -> Result<Option<i64>, StorageError> {
        self.stamp_from(0)
    }

    fn changes_before(&self, before_seq: u64, limit: usize) -> Result<RecentChanges, StorageError> {
        let limit = limit.clamp(1, CHANGES_PAGE_ENTRIES_MAX);
        let mut page = RecentChanges {
            changes: Vec::new(),
            next_before: None,
        };
        let mut examined = 0usize;
        for entry in self.changes.range(..before_seq.to_be_bytes()).rev() {
            let (seq_bytes, value) = entry?;
            let seq = decode_u64(&seq_bytes)?;
            examined += 1;
            if examined > CHANGES_SCAN_ENTRIES_MAX || page.changes.len() == limit {
                // Entries remain below the last one examined.
                page.next_before = Some(seq + 1);
                return Ok(page);
            }
            if value.len() < 40 {
                return Err(StorageError::Corrupt(format!("change {seq} too short")));
            }
            let version = decode_u64(&value[..8])?;
            let key_bytes = &value[40..];
            let Some(current) = self.records.get(key_bytes)? else {
                return Err(StorageError::Corrupt(format!(
                    "change {seq} names a record that is not stored"
                )));
            };
            if decode_record_value(&current)?.version != version {
                continue;
            }
            page.changes.push(RecentChange {
                seq,
                key: decode_record_key(key_bytes)?,
            });
        }
        Ok(page)
    }
}

/// The fields filters look at, read without verifying (only the page's
/// records are verified).
#[derive(serde::Deserialize)]
struct FilterView {
    #[serde(default)]
    content: Option<FilterContent>,
}

#[derive(serde::Deserialize)]
struct FilterContent {
    kind: String,
    lang: String,
    country: String,
    #[serde(default)]
    themes: Vec<String>,
}

fn matches_query(raw: &RawRecord<'_>, query: &ListQuery) -> Result<bool, StorageError> {
    if raw.deleted {
        return Ok(query.include_deleted
            && query.kind.is_none()
            && query.theme.is_none()
            && query.country.is_none()
            && query.lang.is_none());
    }
    let no_content_filter = query.kind.is_none()
        && query.theme.is_none()
        && query.country.is_none()
        && query.lang.is_none();
    if no_content_filter {
        return Ok(true);
    }
    let (_, bytes) = split_signed(raw.signed)?;
    let view: FilterView = serde_json::from_slice(bytes)
        .map_err(|e| StorageError::Corrupt(format!("stored record is not JSON: {e}")))?;
    let Some(content) = view.content else {
        return Ok(false);
    };
    let kind_ok = query.kind.is_none_or(|kind| content.kind == kind.as_str());
    let lang_ok = query
        .lang
        .as_ref()
        .is_none_or(|lang| content.lang == lang.as_str());
    let country_ok = query
        .country
        .is_none_or(|country| content.country == country.as_str());
    let theme_ok = query
        .theme
        .is_none_or(|theme| content.themes.iter().any(|t| t == theme.as_str()));
    Ok(kind_ok && lang_ok && country_ok && theme_ok)
}

impl Storage for SledStorage {
    fn apply(&self, record: Signed<Record>) -> Pending<ApplyOutcome> {
        let (reply, receiver) = oneshot::channel();
        match self.submit(WriteOp::Apply {
            records: vec![record],
            reply: ApplyReply::One(reply),
        }) {
            Ok(()) => Pending::new(receiver),
            Err(error) => Pending::failed(error),
        }
    }

    fn apply_many(&self, records: Vec<Signed<Record>>) -> Pending<Vec<ApplyOutcome>> {
        if records.len() > APPLY_MANY_RECORDS_MAX {
            return Pending::failed(StorageError::TooMany {
                max: APPLY_MANY_RECORDS_MAX,
                actual: records.len(),
            });
        }
        let (reply, receiver) = oneshot::channel();
        match self.submit(WriteOp::Apply {
            records,
            reply: ApplyReply::Many(reply),
        }) {
            Ok(()) => Pending::new(receiver),
            Err(error) => Pending::failed(error),
        }
    }

    fn publish_with(
        &self,
        key: RecordKey,
        build: PublishWithFn,
    ) -> Pending<Result<Published, PublishRefusal>> {
        let (reply, receiver) = oneshot::channel();
        match self.submit(WriteOp::Publish { key, build, reply }) {
            Ok(()) => Pending::new(receiver),
            Err(error) => Pending::failed(error),
        }
    }

    fn purge_origin(&self, origin: NodeId) -> Pending<Purged> {
        let (reply, receiver) = oneshot::channel();
        match self.submit(WriteOp::Purge { origin, reply }) {
            Ok(()) => Pending::new(receiver),
            Err(error) => Pending::failed(error),
        }
    }

    fn kv_write(&self, space: Space, writes: Vec<KvWrite>) -> Pending<()> {
        let (reply, receiver) = oneshot::channel();
        match self.submit(WriteOp::Kv {
            space,
            writes,
            reply,
        }) {
            Ok(()) => Pending::new(receiver),
            Err(error) => Pending::failed(error),
        }
    }

    fn get(&self, key: &RecordKey) -> Result<Option<StoredRecord>, StorageError> {
        match self.inner.records.get(record_key_bytes(key))? {
            Some(value) => Ok(Some(decode_record_value(&value)?.verify()?)),
            None => Ok(None),
        }
    }

    fn current_version(&self, key: &RecordKey) -> Result<Option<CurrentVersion>, StorageError> {
        match self.inner.records.get(record_key_bytes(key))? {
            Some(value) => Ok(Some(decode_record_value(&value)?.current()?)),
            None => Ok(None),
        }
    }

    fn list(&self, query: &ListQuery) -> Result<ListPage, StorageError> {
        self.inner.list(query)
    }

    fn changes_since(
        &self,
        after_seq: u64,
        limit: usize,
        bytes_max: usize,
    ) -> Result<ChangeLogPage, StorageError> {
        self.inner.changes_since(after_seq, limit, bytes_max)
    }

    fn changes_before(&self, before_seq: u64, limit: usize) -> Result<RecentChanges, StorageError> {
        self.inner.changes_before(before_seq, limit)
    }

    fn applied_at(&self, seq: u64) -> Result<Option<i64>, StorageError> {
        self.inner.applied_at(seq)
    }

    fn seq_applied_before(&self, unix_seconds: i64) -> Result<u64, StorageError> {
        self.inner.seq_applied_before(unix_seconds)
    }

    fn earliest_applied_at(&self) -> Result<Option<i64>, StorageError> {
        self.inner.earliest_applied_at()
    }

    fn head_seq(&self) -> u64 {
        *self.inner.head.borrow()
    }

    fn subscribe_head(&self) -> watch::Receiver<u64> {
        self.inner.head.subscribe()
    }

    fn for_each_item(
        &self,
        lower: &ItemBound,
        upper: &ItemBound,
        visit: &mut dyn FnMut(&Item, &[u8; 32]),
    ) -> Result<(), StorageError> {
        let Some(lower) = lower.scan_key() else {
            return Ok(());
        };
        let upper = match upper.scan_key() {
            Some(upper) if upper <= lower => return Ok(()),
            Some(upper) => Bound::Excluded(upper.to_vec()),
            None => Bound::Unbounded,
        };
        for entry in self
            .inner
            .items
            .range::<Vec<u8>, _>((Bound::Included(lower.to_vec()), upper))
        {
            let (key, value) = entry?;
            let item_key = decode_item_key(&key)?;
            if value.len() < 32 + 32 {
                return Err(StorageError::Corrupt("items entry too short".into()));
            }
            let origin: [u8; 32] = value[32..64]
                .try_into()
                .map_err(|_| StorageError::Corrupt("items entry origin".into()))?;
            visit(&Item::new(item_key, decode_hash(&value)?), &origin);
        }
        Ok(())
    }

    fn get_by_item(&self, item_id: &[u8; 32]) -> Result<Option<StoredRecord>, StorageError> {
        // One entry per record: the first one under the id is the current one
        // (item ids of distinct records collide only if SHA-256 does).
        let Some(entry) = self.inner.items.scan_prefix(item_id).next() else {
            return Ok(None);
        };
        let (_, value) = entry?;
        let key_bytes = value
            .get(32..)
            .ok_or_else(|| StorageError::Corrupt("items entry too short".into()))?;
        match self.inner.records.get(key_bytes)? {
            Some(value) => Ok(Some(decode_record_value(&value)?.verify()?)),
            None => Err(StorageError::Corrupt(
                "an items entry names a record that is not stored".into(),
            )),
        }
    }

    fn evidence(&self, key: &RecordKey) -> Result<Vec<Signed<Record>>, StorageError> {
        let mut prefix = record_key_bytes(key);
        prefix.push(0);
        let mut found = Vec::new();
        for entry in self.inner.evidence.scan_prefix(prefix) {
            let (_, value) = entry?;
            let (signature, bytes) = split_signed(&value)?;
            found.push(Signed::verify(bytes, signature)?);
        }
        Ok(found)
    }

    fn kv_get(&self, space: Space, key: &[u8]) -> Result<Option<Vec<u8>>, StorageError> {
        Ok(self.inner.spaces[&space]
            .get(key)?
            .map(|value| value.to_vec()))
    }

    fn kv_scan(&self, space: Space, prefix: &[u8]) -> Result<Vec<KvWrite>, StorageError> {
        let mut entries = Vec::new();
        for entry in self.inner.spaces[&space]
            .scan_prefix(prefix)
            .take(KV_SCAN_ENTRIES_MAX)
        {
            let (key, value) = entry?;
            entries.push((key.to_vec(), Some(value.to_vec())));
        }
        Ok(entries)
    }

    fn stats(&self) -> StorageStats {
        self.inner.stats.lock().expect("stats lock").clone()
    }

    fn shutdown(&self) -> Result<(), StorageError> {
        let sender = self.sender.lock().expect("sender lock").take();
        drop(sender);
        let writer = self.writer.lock().expect("writer lock").take();
        if let Some(writer) = writer {
            writer
                .join()
                .map_err(|_| StorageError::Io("the storage writer thread panicked".into()))?;
        }
        self.inner.db.flush()?;
        Ok(())
    }
}
