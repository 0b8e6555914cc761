//! Range-based set reconciliation, in the spirit of negentropy: two nodes find
//! which record versions one has and the other lacks, exchanging data that
//! grows with the size of the difference, not with the size of their stores.
//!
//! Cursors over the changes feed are the fast path; this is the repair path
//! for what cursors cannot see (a peer restored from a backup, a change log
//! that was compacted, a bug). It runs periodically and on demand.
//!
//! ## Items and their order
//! Each record version a node holds is an [`Item`]: the record's item id
//! (SHA-256 of the origin's 32 key bytes followed by the record id's UTF-8
//! bytes, see [`item_id_of`]), its version and the [`VersionHash`] of its
//! signed bytes. Items are ordered by their 40-byte [`ItemKey`], item id then
//! version in big-endian, which spreads records uniformly over the key space.
//!
//! ## The exchange
//! The initiator and the responder exchange [`Message`]s. A message is a list
//! of consecutive ranges covering the key space from the zero key upwards;
//! each range ends at an exclusive upper [`Bound`] and carries one payload:
//! `Skip` (nothing to do), `Fingerprint` (a 16-byte digest of the sender's
//! items in the range) or `Items` (the sender's full items in the range).
//! A receiver compares each fingerprint with its own: equal ranges are
//! skipped; different ranges are answered with the receiver's item list when
//! it holds at most `list_threshold` items there, else split into `branching`
//! sub-ranges of equal item count, each with its fingerprint. Only the
//! responder sends item lists, so the initiator alone computes the difference
//! and the responder keeps no state between messages (it can answer from range
//! scans of its storage through [`ItemSource`]). The initiator is done when its
//! next message would say nothing but `Skip`.
//!
//! The fingerprint of a range is the first 16 bytes of
//! `SHA-256(sum ‖ count)`, where `sum` is the sum modulo 2^256 (little-endian)
//! of the items' element hashes `SHA-256(key ‖ version_hash)` and `count` the
//! number of items as a little-endian u64. The byte encoding of messages is
//! in [`Message::encode`] and in `docs/PROTOCOL.md`.

use std::collections::BTreeSet;
use std::fmt;

use sha2::{Digest, Sha256};

use super::limits::{
    RECONCILE_BRANCHING_DEFAULT, RECONCILE_LIST_THRESHOLD_DEFAULT, RECONCILE_MESSAGE_BYTES_MAX,
    RECONCILE_MESSAGE_BYTES_MIN, RECONCILE_RANGES_MAX, RECONCILE_ROUNDS_MAX,
};
use crate::key::{RecordKey, VersionHash};

/// Protocol version, the first byte of every message.
pub const RECONCILE_PROTOCOL_VERSION: u8 = 0x01;
/// Bytes of an item key: 32 bytes of item id, 8 bytes of version.
pub const ITEM_KEY_BYTES: usize = 40;
/// Bytes of one item in an item list: key and version hash.
pub const ITEM_WIRE_BYTES: usize = ITEM_KEY_BYTES + 32;
/// Bytes of a fingerprint.
pub const FINGERPRINT_BYTES: usize = 16;

const MODE_SKIP: u8 = 0;
const MODE_FINGERPRINT: u8 = 1;
const MODE_ITEMS: u8 = 2;
/// Bound length byte meaning "infinity" (above every key).
const BOUND_INFINITY: u8 = 0xff;

/// The item id of a record: SHA-256(origin key bytes ‖ record id bytes).
pub fn item_id_of(key: &RecordKey) -> [u8; 32] {
    let mut hasher = Sha256::new();
    hasher.update(key.origin.as_bytes());
    hasher.update(key.id.as_str().as_bytes());
    hasher.finalize().into()
}

/// Item id and version, the sort key of items.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ItemKey(pub [u8; ITEM_KEY_BYTES]);

impl ItemKey {
    /// The key of version `version` of the record with `item_id`.
    pub fn new(item_id: [u8; 32], version: u64) -> Self {
        let mut bytes = [0u8; ITEM_KEY_BYTES];
        bytes[..32].copy_from_slice(&item_id);
        bytes[32..].copy_from_slice(&version.to_be_bytes());
        ItemKey(bytes)
    }

    /// The first 32 bytes: the record's item id.
    pub fn item_id(&self) -> [u8; 32] {
        self.0[..32].try_into().expect("32 bytes")
    }

    /// The last 8 bytes, big-endian: the version.
    pub fn version(&self) -> u64 {
        u64::from_be_bytes(self.0[32..].try_into().expect("8 bytes"))
    }
}

impl fmt::Debug for ItemKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "ItemKey({}.., v{})",
            hex::encode(&self.0[..6]),
            self.version()
        )
    }
}

/// One record version as reconciliation sees it.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Debug)]
pub struct Item {
    key: ItemKey,
    version_hash: VersionHash,
    element: [u8; 32],
}

impl Item {
    /// The item of `key` whose signed bytes hash to `version_hash`; computes
    /// its element hash `SHA-256(key ‖ version_hash)` once.
    pub fn new(key: ItemKey, version_hash: VersionHash) -> Self {
        let mut hasher = Sha256::new();
        hasher.update(key.0);
        hasher.update(version_hash.0);
        Item {
            key,
            version_hash,
            element: hasher.finalize().into(),
        }
    }

    /// The item of version `version` of record `record`.
    pub fn for_record(record: &RecordKey, version: u64, version_hash: VersionHash) -> Self {
        Item::new(ItemKey::new(item_id_of(record), version), version_hash)
    }

    /// Item id and version.
    pub fn key(&self) -> &ItemKey {
        &self.key
    }

    /// The [`VersionHash`] of the version's signed bytes.
    pub fn version_hash(&self) -> &VersionHash {
        &self.version_hash
    }
}

/// An exclusive upper (or inclusive lower) end of a range: the zero-padded
/// prefix of an item key, or infinity.
///
/// Bounds that this module builds or decodes never end in a zero byte
/// within `len`, so that equal bounds are equal values and the derived order
/// is the order of the padded keys, with `Infinity` last.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Bound {
    /// `padded` is the prefix of length `len` followed by zeros.
    Key {
        /// The prefix, zero-padded to [`ITEM_KEY_BYTES`].
        padded: [u8; ITEM_KEY_BYTES],
        /// The prefix's length in bytes, 0 to [`ITEM_KEY_BYTES`].
        len: u8,
    },
    /// Above every key.
    Infinity,
}

impl fmt::Debug for Bound {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Bound::Key { padded, len } => {
                write!(f, "Bound({})", hex::encode(&padded[..*len as usize]))
            }
            Bound::Infinity => f.write_str("Bound(∞)"),
        }
    }
}

impl Bound {
    /// The lowest bound: every key is at or above it.
    pub const ZERO: Bound = Bound::Key {
        padded: [0u8; ITEM_KEY_BYTES],
        len: 0,
    };

    /// The 40 bytes a storage range scan starts or stops at (`None` for
    /// infinity: scan to the end). A tree keyed by item key scans
    /// `[lower, upper)` with these bytes.
    pub fn scan_key(&self) -> Option<&[u8; ITEM_KEY_BYTES]> {
        match self {
            Bound::Key { padded, .. } => Some(padded),
            Bound::Infinity => None,
        }
    }

    /// True when `key` lies at or above this bound.
    pub fn admits_from(&self, key: &ItemKey) -> bool {
        match self {
            Bound::Key { padded, .. } => key.0 >= *padded,
            Bound::Infinity => false,
        }
    }

    /// True when `key` lies below this bound.
    pub fn is_above(&self, key: &ItemKey) -> bool {
        match self {
            Bound::Key { padded, .. } => key.0 < *padded,
            Bound::Infinity => true,
        }
    }

    /// The shortest bound `b` with `previous < b <= next`.
    fn between(previous: &ItemKey, next: &ItemKey) -> Bound {
        debug_assert!(previous < next);
        let shared = previous
            .0
            .iter()
            .zip(next.0.iter())
            .take_while(|(a, b)| a == b)
            .count();
        let len = shared + 1;
        let mut padded = [0u8; ITEM_KEY_BYTES];
        padded[..len].copy_from_slice(&next.0[..len]);
        Bound::Key {
            padded,
            len: len as u8,
        }
    }

    fn encoded_len(&self) -> usize {
        match self {
            Bound::Key { len, .. } => 1 + *len as usize,
            Bound::Infinity => 1,
        }
    }
}

/// Items in a sorted order, read range by range. A node implements it over
/// its storage (a range scan of a tree keyed by [`ItemKey`]); slices of
/// sorted items implement it for tests and small sets.
pub trait ItemSource {
    /// Why reading items failed ([`Infallible`](std::convert::Infallible)
    /// for items in memory).
    type Error: std::error::Error + Send + Sync + 'static;

    /// Calls `visit` for each item with `lower <= key < upper`, in ascending
    /// order of (key, version hash). Items must not change during one
    /// reconciliation message (a snapshot or a pause in writes is enough;
    /// a change only costs another round).
    fn for_each_in(
        &self,
        lower: &Bound,
        upper: &Bound,
        visit: &mut dyn FnMut(&Item),
    ) -> Result<(), Self::Error>;
}

/// A sorted slice as an item source (never fails).
impl ItemSource for [Item] {
    type Error = std::convert::Infallible;

    fn for_each_in(
        &self,
        lower: &Bound,
        upper: &Bound,
        visit: &mut dyn FnMut(&Item),
    ) -> Result<(), Self::Error> {
        let start = self.partition_point(|item| !lower.admits_from(&item.key));
        for item in &self[start..] {
            if !upper.is_above(&item.key) {
                break;
            }
            visit(item);
        }
        Ok(())
    }
}

impl ItemSource for Vec<Item> {
    type Error = std::convert::Infallible;

    fn for_each_in(
        &self,
        lower: &Bound,
        upper: &Bound,
        visit: &mut dyn FnMut(&Item),
    ) -> Result<(), Self::Error> {
        self.as_slice().for_each_in(lower, upper, visit)
    }
}

/// Running sum of element hashes and count.
#[derive(Clone, Copy, Default)]
struct Accumulator {
    sum: [u64; 4],
    count: u64,
}

impl Accumulator {
    fn add(&mut self, item: &Item) {
        let mut carry = 0u128;
        for (limb_index, limb) in self.sum.iter_mut().enumerate() {
            let start = limb_index * 8;
            let addend = u64::from_le_bytes(item.element[start..start + 8].try_into().unwrap());
            let total = u128::from(*limb) + u128::from(addend) + carry;
            *limb = total as u64;
            carry = total >> 64;
        }
        self.count += 1;
    }

    fn fingerprint(&self) -> [u8; FINGERPRINT_BYTES] {
        let mut hasher = Sha256::new();
        for limb in self.sum {
            hasher.update(limb.to_le_bytes());
        }
        hasher.update(self.count.to_le_bytes());
        let digest = hasher.finalize();
        digest[..FINGERPRINT_BYTES].try_into().unwrap()
    }
}

/// What one range of a message says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Payload {
    /// Nothing to do here: the sides agree, or the range was dealt with.
    Skip,
    /// The sender's fingerprint of its items in the range.
    Fingerprint([u8; FINGERPRINT_BYTES]),
    /// All the sender's items in the range, sorted and distinct (only a
    /// responder sends them).
    Items(Vec<Item>),
}

/// One range: from the previous range's upper bound (or [`Bound::ZERO`]) up to
/// `upper`, exclusive.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Range {
    /// The range's exclusive upper end.
    pub upper: Bound,
    /// What the sender says about the range.
    pub payload: Payload,
}

/// A reconciliation message. Ranges after the last one are implicitly `Skip`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Message {
    /// Consecutive ranges from [`Bound::ZERO`] upwards, their upper bounds
    /// strictly increasing (at most [`RECONCILE_RANGES_MAX`]).
    pub ranges: Vec<Range>,
}

/// A message that cannot be used, or a failure of the local item source.
#[derive(Debug, thiserror::Error)]
pub enum ReconcileError<E: std::error::Error + 'static> {
    /// A message that breaks a rule of its encoding ([`Message::decode`]);
    /// holds which.
    #[error("reconciliation message is malformed: {0}")]
    Malformed(String),
    /// A first byte other than [`RECONCILE_PROTOCOL_VERSION`]; holds it.
    #[error("reconciliation protocol version {0} is not supported")]
    UnsupportedVersion(u8),
    /// A message over [`RECONCILE_MESSAGE_BYTES_MAX`], refused before
    /// decoding.
    #[error("reconciliation message is {actual} bytes, over the limit of {max}")]
    TooLarge {
        /// The limit, in bytes.
        max: usize,
        /// The message's size, in bytes.
        actual: usize,
    },
    /// The responder received an item list.
    #[error("the initiator sent an item list, which only a responder may send")]
    UnexpectedItems,
    /// The initiator would send more than [`RECONCILE_ROUNDS_MAX`] messages;
    /// holds the limit.
    #[error("reconciliation did not finish within {0} rounds")]
    TooManyRounds(usize),
    /// [`Reconciler::reconcile`] was called after it returned `None`.
    #[error("reconciliation was already finished")]
    Finished,
    /// The local [`ItemSource`] failed.
    #[error("reading local items failed: {0}")]
    Source(#[source] E),
}

fn malformed<E: std::error::Error>(reason: &str) -> ReconcileError<E> {
    ReconcileError::Malformed(reason.to_string())
}

fn put_varint(out: &mut Vec<u8>, mut value: u64) {
    loop {
        let byte = (value & 0x7f) as u8;
        value >>= 7;
        if value == 0 {
            out.push(byte);
            return;
        }
        out.push(byte | 0x80);
    }
}

fn varint_len(value: u64) -> usize {
    let bits = 64 - value.leading_zeros() as usize;
    bits.div_ceil(7).max(1)
}

struct Reader<'a> {
    bytes: &'a [u8],
    position: usize,
}

impl Reader<'_> {
    fn take<E: std::error::Error>(&mut self, n: usize) -> Result<&[u8], ReconcileError<E>> {
        let end = self
            .position
            .checked_add(n)
            .filter(|end| *end <= self.bytes.len())
            .ok_or_else(|| malformed("message ends early"))?;
        let slice = &self.bytes[self.position..end];
        self.position = end;
        Ok(slice)
    }

    fn byte<E: std::error::Error>(&mut self) -> Result<u8, ReconcileError<E>> {
        Ok(self.take(1)?[0])
    }

    fn varint<E: std::error::Error>(&mut self) -> Result<u64, ReconcileError<E>> {
        let mut value = 0u64;
        for shift in (0..64).step_by(7) {
            let byte = self.byte()?;
            value |= u64::from(byte & 0x7f) << shift;
            if byte & 0x80 == 0 {
                if byte == 0 && shift > 0 {
                    return Err(malformed("varint is not minimal"));
                }
                return Ok(value);
            }
        }
        Err(malformed("varint is too long"))
    }

    fn at_end(&self) -> bool {
        self.position == self.bytes.len()
    }
}

impl Message {
    /// Encoding: the version byte, then for each range: the upper bound (one
    /// length byte `L`, 0 to 40, followed by `L` prefix bytes; `0xFF` alone for
    /// infinity), the mode byte (0 skip, 1 fingerprint, 2 items), and the
    /// payload (16 fingerprint bytes; or a LEB128 item count followed by each
    /// item's 40 key bytes and 32 version-hash bytes).
    pub fn encode(&self) -> Vec<u8> {
        let mut out = vec![RECONCILE_PROTOCOL_VERSION];
        for range in &self.ranges {
            match &range.upper {
                Bound::Key { padded, len } => {
                    out.push(*len);
                    out.extend_from_slice(&padded[..*len as usize]);
                }
                Bound::Infinity => out.push(BOUND_INFINITY),
            }
            match &range.payload {
                Payload::Skip => out.push(MODE_SKIP),
                Payload::Fingerprint(fingerprint) => {
                    out.push(MODE_FINGERPRINT);
                    out.extend_from_slice(fingerprint);
                }
                Payload::Items(items) => {
                    out.push(MODE_ITEMS);
                    put_varint(&mut out, items.len() as u64);
                    for item in items {
                        out.extend_from_slice(&item.key.0);
                        out.extend_from_slice(&item.version_hash.0);
                    }
                }
            }
        }
        out
    }

    /// Decodes and checks a message: bounded size and range count, strictly
    /// increasing bounds, item lists sorted, without duplicates and inside
    /// their range.
    pub fn decode<E: std::error::Error>(bytes: &[u8]) -> Result<Message, ReconcileError<E>> {
        if bytes.len() > RECONCILE_MESSAGE_BYTES_MAX {
            return Err(ReconcileError::TooLarge {
                max: RECONCILE_MESSAGE_BYTES_MAX,
                actual: bytes.len(),
            });
        }
        let mut reader = Reader { bytes, position: 0 };
        let version = reader.byte()?;
        if version != RECONCILE_PROTOCOL_VERSION {
            return Err(ReconcileError::UnsupportedVersion(version));
        }
        let mut ranges = Vec::new();
        let mut lower = Bound::ZERO;
        while !reader.at_end() {
            if ranges.len() >= RECONCILE_RANGES_MAX {
                return Err(malformed("too many ranges"));
            }
            if lower == Bound::Infinity {
                return Err(malformed("range after the infinity bound"));
            }
            let len = reader.byte()?;
            let upper = if len == BOUND_INFINITY {
                Bound::Infinity
            } else if usize::from(len) <= ITEM_KEY_BYTES {
                let mut padded = [0u8; ITEM_KEY_BYTES];
                padded[..usize::from(len)].copy_from_slice(reader.take(usize::from(len))?);
                // Trailing zero bytes do not change a bound: drop them so that
                // one bound has one representation.
                let significant = padded.iter().rposition(|b| *b != 0).map_or(0, |i| i + 1);
                Bound::Key {
                    padded,
                    len: significant as u8,
                }
            } else {
                return Err(malformed("bound longer than an item key"));
            };
            if upper <= lower {
                return Err(malformed("range bounds do not increase"));
            }
            let payload = match reader.byte()? {
                MODE_SKIP => Payload::Skip,
                MODE_FINGERPRINT => {
                    Payload::Fingerprint(reader.take(FINGERPRINT_BYTES)?.try_into().unwrap())
                }
                MODE_ITEMS => {
                    let count = reader.varint()?;
                    let remaining = (bytes.len() - reader.position) as u64;
                    if count.saturating_mul(ITEM_WIRE_BYTES as u64) > remaining {
                        return Err(malformed("item count exceeds the message"));
                    }
                    let mut items = Vec::with_capacity(count as usize);
                    for _ in 0..count {
                        let key = ItemKey(reader.take(ITEM_KEY_BYTES)?.try_into().unwrap());
                        let hash = VersionHash(reader.take(32)?.try_into().unwrap());
                        let item = Item::new(key, hash);
                        if !lower.admits_from(&item.key) || !upper.is_above(&item.key) {
                            return Err(malformed("listed item outside its range"));
                        }
                        if items.last().is_some_and(|last: &Item| *last >= item) {
                            return Err(malformed("item list is not sorted or repeats an item"));
                        }
                        items.push(item);
                    }
                    Payload::Items(items)
                }
                other => return Err(malformed(&format!("unknown mode {other}"))),
            };
            ranges.push(Range { upper, payload });
            lower = upper;
        }
        Ok(Message { ranges })
    }

    /// True when the message asks for nothing.
    pub fn is_all_skip(&self) -> bool {
        self.ranges.iter().all(|r| r.payload == Payload::Skip)
    }
}

/// Tuning of one side. Both sides may use different values; the defaults
/// are the protocol's recommended ones.
///
/// [`respond`] and [`Reconciler::new`] panic on a configuration outside
/// these bounds: `branching` at least 2, `list_threshold` at least
/// `branching`, `message_bytes_max` from [`RECONCILE_MESSAGE_BYTES_MIN`] to
/// [`RECONCILE_MESSAGE_BYTES_MAX`], and an item list of `list_threshold`
/// items well within half of `message_bytes_max`.
#[derive(Debug, Clone, Copy)]
pub struct ReconcileConfig {
    /// Sub-ranges per split (at least 2).
    pub branching: usize,
    /// Ranges with at most this many items are answered with the item list.
    pub list_threshold: usize,
    /// Budget for one outgoing message, at most [`RECONCILE_MESSAGE_BYTES_MAX`].
    pub message_bytes_max: usize,
}

impl Default for ReconcileConfig {
    fn default() -> Self {
        ReconcileConfig {
            branching: RECONCILE_BRANCHING_DEFAULT,
            list_threshold: RECONCILE_LIST_THRESHOLD_DEFAULT,
            message_bytes_max: RECONCILE_MESSAGE_BYTES_MAX,
        }
    }
}

impl ReconcileConfig {
    fn checked(self) -> Self {
        assert!(self.branching >= 2, "branching must be at least 2");
        assert!(
            self.list_threshold >= self.branching,
            "list threshold must be at least the branching factor"
        );
        assert!(
            (RECONCILE_MESSAGE_BYTES_MIN..=RECONCILE_MESSAGE_BYTES_MAX)
                .contains(&self.message_bytes_max),
            "message budget out of bounds"
        );
        assert!(
            self.list_threshold * ITEM_WIRE_BYTES + 64 < self.message_bytes_max / 2,
            "an item list must fit comfortably in a message"
        );
        self
    }
}

/// Builds an outgoing message within a byte budget, merging adjacent skips.
struct Writer {
    message: Message,
    encoded_len: usize,
    budget: usize,
}

impl Writer {
    fn new(budget: usize) -> Self {
        Writer {
            message: Message::default(),
            encoded_len: 1,
            budget,
        }
    }

    fn range_len(range: &Range) -> usize {
        range.upper.encoded_len()
            + 1
            + match &range.payload {
                Payload::Skip => 0,
                Payload::Fingerprint(_) => FINGERPRINT_BYTES,
                Payload::Items(items) => {
                    varint_len(items.len() as u64) + items.len() * ITEM_WIRE_BYTES
                }
            }
    }

    /// Room for `ranges` plus a final fingerprint range to infinity.
    fn fits(&self, ranges: &[Range]) -> bool {
        let extra: usize = ranges.iter().map(Self::range_len).sum();
        let closing = 1 + 1 + FINGERPRINT_BYTES;
        self.encoded_len + extra + closing <= self.budget
    }

    fn push(&mut self, range: Range) {
        if range.payload == Payload::Skip {
            if let Some(last) = self.message.ranges.last_mut() {
                if last.payload == Payload::Skip {
                    self.encoded_len -= last.upper.encoded_len();
                    self.encoded_len += range.upper.encoded_len();
                    last.upper = range.upper;
                    return;
                }
            }
        }
        self.encoded_len += Self::range_len(&range);
        self.message.ranges.push(range);
    }

    /// The message, with trailing skips dropped (they are implicit).
    fn finish(mut self) -> Message {
        while self
            .message
            .ranges
            .last()
            .is_some_and(|r| r.payload == Payload::Skip)
        {
            self.message.ranges.pop();
        }
        self.message
    }
}

fn summarize<S: ItemSource + ?Sized>(
    source: &S,
    lower: &Bound,
    upper: &Bound,
) -> Result<Accumulator, S::Error> {
    let mut accumulator = Accumulator::default();
    source.for_each_in(lower, upper, &mut |item| accumulator.add(item))?;
    Ok(accumulator)
}

fn list<S: ItemSource + ?Sized>(
    source: &S,
    lower: &Bound,
    upper: &Bound,
) -> Result<Vec<Item>, S::Error> {
    let mut items = Vec::new();
    source.for_each_in(lower, upper, &mut |item| items.push(*item))?;
    Ok(items)
}

/// Splits `[lower, upper)`, holding `count` items, into at most `branching`
/// sub-ranges of about equal item count, each with its fingerprint.
fn split<S: ItemSource + ?Sized>(
    source: &S,
    lower: &Bound,
    upper: &Bound,
    count: u64,
    branching: usize,
) -> Result<Vec<Range>, S::Error> {
    let branching = branching as u64;
    let mut ranges = Vec::with_capacity(branching as usize);
    let mut accumulator = Accumulator::default();
    let mut bucket = 0u64;
    let mut seen = 0u64;
    let mut previous: Option<ItemKey> = None;
    source.for_each_in(lower, upper, &mut |item| {
        // Bucket `bucket` ends before item number (bucket + 1) * count / branching.
        let boundary = (bucket + 1) * count / branching;
        if seen >= boundary && bucket + 1 < branching && accumulator.count > 0 {
            if let Some(previous_key) = previous.filter(|p| *p < item.key) {
                ranges.push(Range {
                    upper: Bound::between(&previous_key, &item.key),
                    payload: Payload::Fingerprint(accumulator.fingerprint()),
                });
                accumulator = Accumulator::default();
                bucket += 1;
            }
        }
        accumulator.add(item);
        previous = Some(item.key);
        seen += 1;
    })?;
    ranges.push(Range {
        upper: *upper,
        payload: Payload::Fingerprint(accumulator.fingerprint()),
    });
    Ok(ranges)
}

/// The responder: answers one message from the initiator, reading its own
/// items from `source`. Stateless: the same message and items give the same
/// reply. Panics on a configuration out of bounds ([`ReconcileConfig`]).
pub fn respond<S: ItemSource + ?Sized>(
    config: &ReconcileConfig,
    source: &S,
    message: &[u8],
) -> Result<Vec<u8>, ReconcileError<S::Error>> {
    let config = config.checked();
    let message = Message::decode::<S::Error>(message)?;
    let mut writer = Writer::new(config.message_bytes_max);
    let mut lower = Bound::ZERO;
    for range in &message.ranges {
        let outputs = match &range.payload {
            Payload::Skip => vec![Range {
                upper: range.upper,
                payload: Payload::Skip,
            }],
            Payload::Items(_) => return Err(ReconcileError::UnexpectedItems),
            Payload::Fingerprint(theirs) => {
                let ours =
                    summarize(source, &lower, &range.upper).map_err(ReconcileError::Source)?;
                if ours.fingerprint() == *theirs {
                    vec![Range {
                        upper: range.upper,
                        payload: Payload::Skip,
                    }]
                } else if ours.count as usize <= config.list_threshold {
                    let items =
                        list(source, &lower, &range.upper).map_err(ReconcileError::Source)?;
                    vec![Range {
                        upper: range.upper,
                        payload: Payload::Items(items),
                    }]
                } else {
                    let ranges = split(source, &lower, &range.upper, ours.count, config.branching)
                        .map_err(ReconcileError::Source)?;
                    if ranges.len() >= 2 {
                        ranges
                    } else {
                        // Every item here has the same key (equivocating
                        // copies): no bound separates them, so list them.
                        let items =
                            list(source, &lower, &range.upper).map_err(ReconcileError::Source)?;
                        vec![Range {
                            upper: range.upper,
                            payload: Payload::Items(items),
                        }]
                    }
                }
            }
        };
        if !writer.fits(&outputs) {
            close_with_fingerprint(&mut writer, source, &lower)?;
            return Ok(writer.finish().encode());
        }
        for output in outputs {
            writer.push(output);
        }
        lower = range.upper;
    }
    Ok(writer.finish().encode())
}

/// Ends a message that ran out of budget: one fingerprint over everything
/// from `lower` up, so the other side continues from there next round.
fn close_with_fingerprint<S: ItemSource + ?Sized>(
    writer: &mut Writer,
    source: &S,
    lower: &Bound,
) -> Result<(), ReconcileError<S::Error>> {
    let rest = summarize(source, lower, &Bound::Infinity).map_err(ReconcileError::Source)?;
    writer.push(Range {
        upper: Bound::Infinity,
        payload: Payload::Fingerprint(rest.fingerprint()),
    });
    Ok(())
}

/// The result of a reconciliation, from the initiator's point of view.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Outcome {
    /// Items the initiator has and the peer lacks, sorted.
    pub have: Vec<Item>,
    /// Items the peer has and the initiator lacks, sorted. An item whose
    /// record the initiator holds at an older version appears here; one
    /// with the same key and another version hash is an equivocation.
    pub need: Vec<Item>,
    /// Messages the initiator sent.
    pub rounds: usize,
}

/// The initiator of a reconciliation. Sans I/O: [`Reconciler::initiate`] gives
/// the first message; each reply goes into [`Reconciler::reconcile`], which
/// gives the next message or `None` when done; then [`Reconciler::finish`].
#[derive(Debug)]
pub struct Reconciler {
    config: ReconcileConfig,
    have: BTreeSet<Item>,
    need: BTreeSet<Item>,
    rounds: usize,
    finished: bool,
}

impl Reconciler {
    /// An initiator that has sent nothing yet. Panics on a configuration out
    /// of bounds ([`ReconcileConfig`]).
    pub fn new(config: ReconcileConfig) -> Self {
        Reconciler {
            config: config.checked(),
            have: BTreeSet::new(),
            need: BTreeSet::new(),
            rounds: 0,
            finished: false,
        }
    }

    /// The first message: fingerprints of the whole key space, split when the
    /// initiator holds more than `list_threshold` items.
    pub fn initiate<S: ItemSource + ?Sized>(
        &mut self,
        source: &S,
    ) -> Result<Vec<u8>, ReconcileError<S::Error>> {
        let all =
            summarize(source, &Bound::ZERO, &Bound::Infinity).map_err(ReconcileError::Source)?;
        let ranges = if all.count as usize > self.config.list_threshold {
            split(
                source,
                &Bound::ZERO,
                &Bound::Infinity,
                all.count,
                self.config.branching,
            )
            .map_err(ReconcileError::Source)?
        } else {
            vec![Range {
                upper: Bound::Infinity,
                payload: Payload::Fingerprint(all.fingerprint()),
            }]
        };
        self.rounds = 1;
        Ok(Message { ranges }.encode())
    }

    /// Processes the responder's reply. Returns the next message to send, or
    /// `None` when the two sets have been fully compared.
    pub fn reconcile<S: ItemSource + ?Sized>(
        &mut self,
        source: &S,
        reply: &[u8],
    ) -> Result<Option<Vec<u8>>, ReconcileError<S::Error>> {
        if self.finished {
            return Err(ReconcileError::Finished);
        }
        let reply = Message::decode::<S::Error>(reply)?;
        let mut writer = Writer::new(self.config.message_bytes_max);
        let mut lower = Bound::ZERO;
        for range in &reply.ranges {
            let outputs = match &range.payload {
                Payload::Skip => vec![Range {
                    upper: range.upper,
                    payload: Payload::Skip,
                }],
                Payload::Items(theirs) => {
                    let ours =
                        list(source, &lower, &range.upper).map_err(ReconcileError::Source)?;
                    self.record_difference(&ours, theirs);
                    vec![Range {
                        upper: range.upper,
                        payload: Payload::Skip,
                    }]
                }
                Payload::Fingerprint(theirs) => {
                    let ours =
                        summarize(source, &lower, &range.upper).map_err(ReconcileError::Source)?;
                    if ours.fingerprint() == *theirs {
                        vec![Range {
                            upper: range.upper,
                            payload: Payload::Skip,
                        }]
                    } else if ours.count as usize > self.config.list_threshold {
                        split(
                            source,
                            &lower,
                            &range.upper,
                            ours.count,
                            self.config.branching,
                        )
                        .map_err(ReconcileError::Source)?
                    } else {
                        // Few items here: let the responder answer with its list.
                        vec![Range {
                            upper: range.upper,
                            payload: Payload::Fingerprint(ours.fingerprint()),
                        }]
                    }
                }
            };
            if !writer.fits(&outputs) {
                close_with_fingerprint(&mut writer, source, &lower)?;
                return self.next(writer.finish());
            }
            for output in outputs {
                writer.push(output);
            }
            lower = range.upper;
        }
        self.next(writer.finish())
    }

    fn next<E: std::error::Error>(
        &mut self,
        message: Message,
    ) -> Result<Option<Vec<u8>>, ReconcileError<E>> {
        if message.is_all_skip() {
            self.finished = true;
            return Ok(None);
        }
        if self.rounds >= RECONCILE_ROUNDS_MAX {
            return Err(ReconcileError::TooManyRounds(RECONCILE_ROUNDS_MAX));
        }
        self.rounds += 1;
        Ok(Some(message.encode()))
    }

    /// Merges two sorted lists: what only we hold, what only they hold.
    fn record_difference(&mut self, ours: &[Item], theirs: &[Item]) {
        let (mut i, mut j) = (0, 0);
        while i < ours.len() || j < theirs.len() {
            match (ours.get(i), theirs.get(j)) {
                (Some(a), Some(b)) if a == b => {
                    i += 1;
                    j += 1;
                }
                (Some(a), Some(b)) if a < b => {
                    self.have.insert(*a);
                    i += 1;
                }
                (Some(_), Some(b)) => {
                    self.need.insert(*b);
                    j += 1;
                }
                (Some(a), None) => {
                    self.have.insert(*a);
                    i += 1;
                }
                (None, Some(b)) => {
                    self.need.insert(*b);
                    j += 1;
                }
                (None, None) => unreachable!(),
            }
        }
    }

    /// Messages sent so far.
    pub fn rounds(&self) -> usize {
        self.rounds
    }

    /// True once [`Reconciler::reconcile`] returned `None`.
    pub fn is_finished(&self) -> bool {
        self.finished
    }

    /// The difference found (complete only once [`Reconciler::reconcile`]
    /// returned `None`).
    pub fn finish(self) -> Outcome {
        Outcome {
            have: self.have.into_iter().collect(),
            need: self.need.into_iter().collect(),
            rounds: self.rounds,
        }
    }
}

#[cfg(test)]
mod tests;
