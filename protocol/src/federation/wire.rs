//! The bodies of the federation endpoints, and the rules that make them safe
//! to act on.
//!
//! - `GET /federation/v1/changes?since=SEQ&limit=N` answers a [`ChangesPage`]:
//!   the exact signed bytes of records and tombstones after `SEQ` in the
//!   serving node's change log, bounded by [`SYNC_BATCH_RECORDS_MAX`] and
//!   [`SYNC_BATCH_BYTES_MAX`]. The serving node builds it with a
//!   [`PageBuilder`]; the pulling node checks it with
//!   [`ChangesPage::check_against`] before applying anything.
//! - `POST /federation/v1/links` carries a [`Signed<LinkRequest>`], which embeds
//!   the requester's signed node descriptor so that the admin who approves
//!   sees (and pins) exactly what the requester's key signed.
//! - `POST /federation/v1/notify` carries a [`NotifyHint`].
//! - [`PeerEntry`] is one line of the admin's peer list, with the [`Link`]
//!   approval state computed by one total function.
//! - `POST /federation/v1/rotations` carries a [`Signed<KeyRotation>`], signed by
//!   the old key; a peer acts on it only after its admin approves.
//!
//! Types hold wire shapes only; the node converts them into its own storage.

use serde::{Deserialize, Serialize};

use super::limits::{
    FEDERATION_NOTE_CHARS_MAX, KEY_ROTATION_CANONICAL_BYTES_MAX, LINK_REQUEST_CANONICAL_BYTES_MAX,
    RECONCILE_FETCH_ITEMS_MAX, SYNC_BATCH_BYTES_MAX, SYNC_BATCH_RECORDS_MAX,
    SYNC_PAGE_BODY_BYTES_MAX, SYNC_RECORD_OVERHEAD_BYTES,
};
use crate::canonical::to_canonical_bytes;
use crate::content::Checker;
use crate::descriptor::NodeDescriptor;
use crate::error::{ValidationError, ValidationErrors, VerifyError};
use crate::identity::{NodeId, SignatureBytes};
use crate::signed::{Signable, Signed, SignedWire};
use crate::timestamp::Timestamp;
use crate::vocab::CountryCode;

/// A federation body that cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum WireError {
    /// A body over its limit, refused before parsing.
    #[error("body is {actual} bytes, over the limit of {max}")]
    TooLarge {
        /// The limit, in bytes.
        max: usize,
        /// The body's size, in bytes.
        actual: usize,
    },
    /// A body that is not JSON of the expected shape (unknown fields are
    /// refused), or an item id that is not 64 lowercase hex digits; holds
    /// the decoder's message.
    #[error("body is not the expected JSON: {0}")]
    Json(String),
    /// A changes query `limit` outside 1 to [`SYNC_BATCH_RECORDS_MAX`].
    #[error("limit must be between 1 and {max}, got {actual}")]
    BadLimit {
        /// The largest limit allowed.
        max: usize,
        /// The limit asked for.
        actual: usize,
    },
    /// A page with more records than its query's limit, or a by-item request
    /// or answer with more than [`RECONCILE_FETCH_ITEMS_MAX`] entries.
    #[error("page has {actual} records, over the limit of {max}")]
    TooManyRecords {
        /// The most entries allowed.
        max: usize,
        /// The entries received.
        actual: usize,
    },
    /// A page whose `next_cursor` is below the `since` it answers.
    #[error("page cursor {next_cursor} is before the requested position {since}")]
    CursorBackwards {
        /// The `since` of the query.
        since: u64,
        /// The page's `next_cursor`.
        next_cursor: u64,
    },
    /// A page with records whose `next_cursor` equals `since`.
    #[error("page has records but its cursor {next_cursor} did not move past {since}")]
    CursorStuck {
        /// The `since` of the query.
        since: u64,
        /// The page's `next_cursor`.
        next_cursor: u64,
    },
    /// A page whose `next_cursor` is above its `head_seq` (other than an
    /// empty page that leaves the cursor where it was).
    #[error("page cursor {next_cursor} is past the node's head sequence {head_seq}")]
    CursorPastHead {
        /// The page's `next_cursor`.
        next_cursor: u64,
        /// The page's `head_seq`.
        head_seq: u64,
    },
    /// The descriptor embedded in a link request does not verify.
    #[error("embedded descriptor is refused: {0}")]
    Descriptor(VerifyError),
    /// The descriptor embedded in a link request is another node's.
    #[error("embedded descriptor names node {named}, the request is signed by {signer}")]
    DescriptorMismatch {
        /// The `node_id` of the embedded descriptor.
        named: NodeId,
        /// The `from` of the link request (its signer).
        signer: NodeId,
    },
    /// A key rotation whose `old_node_id` is not the key pinned for the peer.
    #[error("rotation is signed by {signer}, but the pinned key of this peer is {pinned}")]
    RotationNotFromPinnedKey {
        /// The rotation's `old_node_id` (its signer).
        signer: NodeId,
        /// The key this node pins for the peer.
        pinned: NodeId,
    },
    /// The descriptor fetched after a key rotation names another key than
    /// the rotation's `new_node_id`.
    #[error("new descriptor names node {named}, the rotation names {expected}")]
    RotationDescriptorMismatch {
        /// The `node_id` of the fetched descriptor.
        named: NodeId,
        /// The rotation's `new_node_id`.
        expected: NodeId,
    },
}

fn decode_json<T: serde::de::DeserializeOwned>(body: &[u8], max: usize) -> Result<T, WireError> {
    if body.len() > max {
        return Err(WireError::TooLarge {
            max,
            actual: body.len(),
        });
    }
    serde_json::from_slice(body).map_err(|e| WireError::Json(e.to_string()))
}

// --- Changes feed --------------------------------------------------------------

/// The query of `GET /federation/v1/changes`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ChangesQuery {
    /// Records with a change-log sequence strictly greater than this.
    pub since: u64,
    /// At most this many records (1 to [`SYNC_BATCH_RECORDS_MAX`]).
    pub limit: usize,
}

impl ChangesQuery {
    /// From the optional query parameters: `since` defaults to 0, `limit` to
    /// [`SYNC_BATCH_RECORDS_MAX`]; a limit of 0 or above the maximum is refused.
    pub fn new(since: Option<u64>, limit: Option<usize>) -> Result<Self, WireError> {
        let limit = limit.unwrap_or(SYNC_BATCH_RECORDS_MAX);
        if limit == 0 || limit > SYNC_BATCH_RECORDS_MAX {
            return Err(WireError::BadLimit {
                max: SYNC_BATCH_RECORDS_MAX,
                actual: limit,
            });
        }
        Ok(ChangesQuery {
            since: since.unwrap_or(0),
            limit,
        })
    }

    /// The path and query to request, e.g. `/federation/v1/changes?since=7&limit=500`.
    pub fn path_and_query(&self) -> String {
        format!(
            "/federation/v1/changes?since={}&limit={}",
            self.since, self.limit
        )
    }
}

/// One page of a node's changes feed.
///
/// Invariants checked by [`ChangesPage::check_against`]: every record's
/// sequence lies in `(since, next_cursor]`; `since <= next_cursor`;
/// `next_cursor <= head_seq` unless the page is empty and `since > head_seq`
/// (the serving node's log is behind the client's cursor: it was restored
/// from a backup, and the client must not reset its cursor); more records are
/// available exactly when `next_cursor < head_seq`.
#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ChangesPage {
    /// Exact signed bytes of records and tombstones, in change-log order.
    pub records: Vec<SignedWire>,
    /// The cursor to ask from next time (`since` of the next request).
    pub next_cursor: u64,
    /// The serving node's highest change-log sequence when the page was built.
    pub head_seq: u64,
}

/// What a pulling node learns from a checked page, without the records.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PageSummary {
    /// The `since` of the query the page answers.
    pub since: u64,
    /// How many records the page holds.
    pub records: usize,
    /// The page's `next_cursor`: the puller's cursor once the records are
    /// applied.
    pub next_cursor: u64,
    /// The page's `head_seq`.
    pub head_seq: u64,
}

impl PageSummary {
    /// True when the serving node has more after this page.
    pub fn has_more(&self) -> bool {
        self.next_cursor < self.head_seq
    }

    /// True when the serving node's log is behind the puller's cursor.
    pub fn feed_regressed(&self) -> bool {
        self.head_seq < self.since
    }
}

impl ChangesPage {
    /// Decodes a response body, bounded by [`SYNC_PAGE_BODY_BYTES_MAX`].
    pub fn decode(body: &[u8]) -> Result<Self, WireError> {
        decode_json(body, SYNC_PAGE_BODY_BYTES_MAX)
    }

    /// The records as `(signed bytes, signature)` pairs, the input of
    /// `verify_batch::<Record>`.
    pub fn signed_items(&self) -> Vec<(&[u8], SignatureBytes)> {
        signed_items(&self.records)
    }

    /// Checks the page against the query it answers. Record signatures are
    /// not checked here (that is a batch job off the async runtime).
    pub fn check_against(&self, query: &ChangesQuery) -> Result<PageSummary, WireError> {
        let summary = PageSummary {
            since: query.since,
            records: self.records.len(),
            next_cursor: self.next_cursor,
            head_seq: self.head_seq,
        };
        check_summary(&summary, query.limit)?;
        Ok(summary)
    }
}

/// Signed records as `(signed bytes, signature)` pairs, the input of
/// `verify_batch::<Record>` (feed pages and fetches by item alike).
pub fn signed_items(records: &[SignedWire]) -> Vec<(&[u8], SignatureBytes)> {
    records
        .iter()
        .map(|wire| (wire.signed.get().as_bytes(), wire.signature))
        .collect()
}

/// The page rules on a summary (shared with the sync state machine's checks):
/// at most `limit` (and [`SYNC_BATCH_RECORDS_MAX`]) records, then the cursor
/// rules of [`ChangesPage`]; the first broken rule is the error.
pub fn check_summary(summary: &PageSummary, limit: usize) -> Result<(), WireError> {
    let max = limit.min(SYNC_BATCH_RECORDS_MAX);
    if summary.records > max {
        return Err(WireError::TooManyRecords {
            max,
            actual: summary.records,
        });
    }
    if summary.next_cursor < summary.since {
        return Err(WireError::CursorBackwards {
            since: summary.since,
            next_cursor: summary.next_cursor,
        });
    }
    if summary.records > 0 && summary.next_cursor == summary.since {
        return Err(WireError::CursorStuck {
            since: summary.since,
            next_cursor: summary.next_cursor,
        });
    }
    let regressed_and_empty = summary.records == 0 && summary.next_cursor == summary.since;
    if summary.next_cursor > summary.head_seq && !regressed_and_empty {
        return Err(WireError::CursorPastHead {
            next_cursor: summary.next_cursor,
            head_seq: summary.head_seq,
        });
    }
    Ok(())
}

/// Builds a page on the serving node while it scans its change log from
/// `since + 1` upwards: [`PageBuilder::push`] each record it serves,
/// [`PageBuilder::skip`] each entry it does not (e.g. an origin it does not
/// relay), and stop when a call returns `false` or the log ends.
#[derive(Debug)]
pub struct PageBuilder {
    query: ChangesQuery,
    head_seq: u64,
    records: Vec<SignedWire>,
    bytes: usize,
    scanned_through: u64,
    full: bool,
}

impl PageBuilder {
    /// An empty page answering `query`; `head_seq` is the log's highest
    /// sequence when the scan starts.
    pub fn new(query: ChangesQuery, head_seq: u64) -> Self {
        PageBuilder {
            query,
            head_seq,
            records: Vec::new(),
            bytes: 0,
            scanned_through: query.since,
            full: false,
        }
    }

    /// Adds the record at change-log sequence `seq`. Returns `false` (and does
    /// not add it) when the page is full by count or bytes; the first record
    /// is always added. Sequences must increase: panics on a `seq` at or below
    /// one already pushed or skipped.
    pub fn push(&mut self, seq: u64, record: SignedWire) -> bool {
        assert!(
            seq > self.scanned_through,
            "change log scanned out of order"
        );
        let size = record.signed.get().len() + SYNC_RECORD_OVERHEAD_BYTES;
        let over_bytes = !self.records.is_empty() && self.bytes + size > SYNC_BATCH_BYTES_MAX;
        if self.full || self.records.len() >= self.query.limit || over_bytes {
            self.full = true;
            return false;
        }
        self.bytes += size;
        self.records.push(record);
        self.scanned_through = seq;
        true
    }

    /// Passes over the entry at `seq` without serving it. Returns `false`
    /// when the page is already full (the entry stays for the next page).
    /// Panics, like [`PageBuilder::push`], on a sequence out of order.
    pub fn skip(&mut self, seq: u64) -> bool {
        assert!(
            seq > self.scanned_through,
            "change log scanned out of order"
        );
        if self.full {
            return false;
        }
        self.scanned_through = seq;
        true
    }

    /// The page. `log_exhausted` is true when the scan reached the end of
    /// the log (then the cursor moves to the head even past skipped entries).
    pub fn finish(self, log_exhausted: bool) -> ChangesPage {
        let next_cursor = if log_exhausted && !self.full {
            self.head_seq.max(self.query.since)
        } else {
            self.scanned_through
        };
        ChangesPage {
            records: self.records,
            next_cursor,
            head_seq: self.head_seq,
        }
    }
}

// --- Notify -------------------------------------------------------------------

/// `POST /federation/v1/notify`: "I have new changes up to `head_seq`". Only a
/// hint: the receiver pulls as usual, so a lost or forged-order notify costs
/// nothing but latency.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NotifyHint {
    /// The sender's highest change-log sequence.
    pub head_seq: u64,
}

impl NotifyHint {
    /// Decodes a body of at most [`FEDERATION_SMALL_BODY_BYTES_MAX`] bytes
    /// ([`WireError::TooLarge`]; [`WireError::Json`] for anything but
    /// `{"head_seq": N}`).
    ///
    /// [`FEDERATION_SMALL_BODY_BYTES_MAX`]: super::limits::FEDERATION_SMALL_BODY_BYTES_MAX
    pub fn decode(body: &[u8]) -> Result<Self, WireError> {
        decode_json(body, super::limits::FEDERATION_SMALL_BODY_BYTES_MAX)
    }
}

// --- Fetch by item id (after reconciliation) ---------------------------------

/// `POST /federation/v1/records/by-item`: the current versions of the
/// records whose item ids (see [`super::reconcile::item_id_of`]) a
/// reconciliation found missing, as 64 lowercase hex digits each.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ItemsRequest {
    /// The item ids, at most [`RECONCILE_FETCH_ITEMS_MAX`].
    pub item_ids: Vec<String>,
}

/// The answer to an [`ItemsRequest`]: signed versions in the order asked,
/// records the node does not hold (or does not relay) left out.
#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ItemsResponse {
    /// Exact signed bytes of the current versions, not yet verified.
    pub records: Vec<SignedWire>,
}

impl ItemsResponse {
    /// Decodes a response body, bounded like a changes page
    /// ([`SYNC_PAGE_BODY_BYTES_MAX`]); at most [`RECONCILE_FETCH_ITEMS_MAX`]
    /// records.
    pub fn decode(body: &[u8]) -> Result<Self, WireError> {
        let response: ItemsResponse = decode_json(body, SYNC_PAGE_BODY_BYTES_MAX)?;
        if response.records.len() > RECONCILE_FETCH_ITEMS_MAX {
            return Err(WireError::TooManyRecords {
                max: RECONCILE_FETCH_ITEMS_MAX,
                actual: response.records.len(),
            });
        }
        Ok(response)
    }
}

impl ItemsRequest {
    /// The request for `item_ids`, in that order. The caller keeps to
    /// [`RECONCILE_FETCH_ITEMS_MAX`] ids: the receiver refuses more.
    pub fn new(item_ids: &[[u8; 32]]) -> Self {
        ItemsRequest {
            item_ids: item_ids.iter().map(hex::encode).collect(),
        }
    }

    /// Decodes and checks a request body of at most
    /// [`ITEMS_REQUEST_BODY_BYTES_MAX`] bytes: at most
    /// [`RECONCILE_FETCH_ITEMS_MAX`] ids ([`WireError::TooManyRecords`]), each
    /// 64 lowercase hex digits ([`WireError::Json`]). Returns the ids in order.
    pub fn decode(body: &[u8]) -> Result<Vec<[u8; 32]>, WireError> {
        let request: ItemsRequest = decode_json(body, ITEMS_REQUEST_BODY_BYTES_MAX)?;
        if request.item_ids.len() > RECONCILE_FETCH_ITEMS_MAX {
            return Err(WireError::TooManyRecords {
                max: RECONCILE_FETCH_ITEMS_MAX,
                actual: request.item_ids.len(),
            });
        }
        request
            .item_ids
            .iter()
            .map(|text| {
                let lowercase_hex = text.len() == 64
                    && text.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'));
                let mut id = [0u8; 32];
                if !lowercase_hex || hex::decode_to_slice(text, &mut id).is_err() {
                    return Err(WireError::Json(format!("{text:?} is not an item id")));
                }
                Ok(id)
            })
            .collect()
    }
}

/// Most bytes of an [`ItemsRequest`] body: 70 bytes for each of
/// [`RECONCILE_FETCH_ITEMS_MAX`] ids (64 hex digits, quotes, a separator and
/// some white space) and 64 for the surrounding object.
pub const ITEMS_REQUEST_BODY_BYTES_MAX: usize = RECONCILE_FETCH_ITEMS_MAX * 70 + 64;

// --- Links --------------------------------------------------------------------

/// A signed object carried inside another signed object: its canonical JSON
/// as a value (the outer canonical form contains the inner one unchanged, so
/// the inner bytes are recovered exactly by canonical re-encoding).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EmbeddedSigned {
    /// The inner object, as parsed from its canonical bytes.
    pub signed: serde_json::Value,
    /// The inner object's own signature.
    pub signature: SignatureBytes,
}

impl EmbeddedSigned {
    /// The embedded form of `signed`.
    pub fn from_signed<T: Signable>(signed: &Signed<T>) -> Self {
        let value = serde_json::from_slice(signed.bytes()).expect("signed bytes are JSON");
        EmbeddedSigned {
            signed: value,
            signature: signed.signature(),
        }
    }

    /// Verifies the embedded object as a `T`: re-encodes `signed` canonically
    /// and verifies those bytes like [`Signed::verify`].
    pub fn verify<T: Signable>(&self) -> Result<Signed<T>, VerifyError> {
        let bytes = to_canonical_bytes(&self.signed).map_err(VerifyError::Canonical)?;
        Signed::verify(&bytes, self.signature)
    }
}

/// A request to link, signed by the requester (`from`). Sent after its admin
/// ran `peer add`; the receiver stores it as *pending* until its own admin
/// approves, showing the embedded descriptor's id, name, country and URL.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LinkRequest {
    /// The requester, whose key signs the request.
    pub from: NodeId,
    /// The receiver, never `from` (the receiver checks that it is its own id).
    pub to: NodeId,
    /// The requester's signed node descriptor; it must name `from`
    /// ([`LinkRequest::verified_descriptor`]).
    pub descriptor: EmbeddedSigned,
    /// When the requester signed the request.
    pub requested_at: Timestamp,
    /// A note for the receiving admin (may be empty): at most
    /// [`FEDERATION_NOTE_CHARS_MAX`] characters, no control characters but
    /// tab, line feed and carriage return.
    #[serde(default)]
    pub note: String,
}

impl Signable for LinkRequest {
    const CONTEXT: &'static str = "seednet link request v1";
    const BYTES_MAX: usize = LINK_REQUEST_CANONICAL_BYTES_MAX;
    const SIGNER_FIELD: &'static str = "from";

    fn signer(&self) -> NodeId {
        self.from
    }

    fn validate(&self) -> Result<(), ValidationErrors> {
        let mut check = Checker::default();
        if self.from == self.to {
            check.push(ValidationError::Invalid {
                field: "to".into(),
                message: "a node cannot link to itself".into(),
            });
        }
        check.optional_text("note", &self.note, FEDERATION_NOTE_CHARS_MAX, true);
        check.finish()
    }
}

impl LinkRequest {
    /// The requester's descriptor, verified ([`WireError::Descriptor`]), and
    /// checked to be the signer's ([`WireError::DescriptorMismatch`]).
    pub fn verified_descriptor(&self) -> Result<Signed<NodeDescriptor>, WireError> {
        let descriptor = self
            .descriptor
            .verify::<NodeDescriptor>()
            .map_err(WireError::Descriptor)?;
        if descriptor.value().node_id != self.from {
            return Err(WireError::DescriptorMismatch {
                named: descriptor.value().node_id,
                signer: self.from,
            });
        }
        Ok(descriptor)
    }
}

/// One side's decision about a link.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Approval {
    /// No decision yet.
    None,
    /// That side's admin approved: for `local`, `peer add` or `peer
    /// approve`; for `remote`, a link request or accept from the peer.
    Approved,
    /// That side's admin revoked: for `local`, `peer revoke`; for `remote`, a
    /// `link_revoked` refusal from the peer.
    Revoked,
}

/// Both sides' decisions; the shown [`LinkState`] follows from them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Link {
    /// This node's admin.
    pub local: Approval,
    /// The peer's admin, as this node learnt it (a link request or accept
    /// means approved; a `link_revoked` refusal means revoked).
    pub remote: Approval,
}

/// The state an admin sees.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LinkState {
    /// This node approved (asked); the peer has not approved yet.
    Requested,
    /// The peer asked; this node's admin has not approved yet.
    Pending,
    /// Both approved: records flow both ways.
    Active,
    /// One side revoked: nothing flows.
    Revoked,
}

impl LinkState {
    /// Every state, in declaration order.
    pub const ALL: [LinkState; 4] = [
        LinkState::Requested,
        LinkState::Pending,
        LinkState::Active,
        LinkState::Revoked,
    ];

    /// The state's name, as on the wire.
    pub fn as_str(self) -> &'static str {
        match self {
            LinkState::Requested => "requested",
            LinkState::Pending => "pending",
            LinkState::Active => "active",
            LinkState::Revoked => "revoked",
        }
    }
}

/// What happened to a link.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LinkEvent {
    /// This node's admin ran `peer add` or `peer approve`.
    LocalApprove,
    /// This node's admin ran `peer revoke`.
    LocalRevoke,
    /// A valid link request or accept arrived from the peer.
    RemoteApprove,
    /// The peer refused a request with `link_revoked`.
    RemoteRevoke,
}

impl Link {
    /// No decision on either side: not a link yet ([`Link::state`] is `None`).
    pub const NEW: Link = Link {
        local: Approval::None,
        remote: Approval::None,
    };

    /// The link after `event`. Total: every event is meaningful in every
    /// state, and a new approval reverses a revocation of the same side.
    pub fn on(self, event: LinkEvent) -> Link {
        match event {
            LinkEvent::LocalApprove => Link {
                local: Approval::Approved,
                ..self
            },
            LinkEvent::LocalRevoke => Link {
                local: Approval::Revoked,
                ..self
            },
            LinkEvent::RemoteApprove => Link {
                remote: Approval::Approved,
                ..self
            },
            LinkEvent::RemoteRevoke => Link {
                remote: Approval::Revoked,
                ..self
            },
        }
    }

    /// The state an admin sees (`docs/PROTOCOL-federation.md` section 9.2);
    /// `None` while neither side has decided.
    pub fn state(&self) -> Option<LinkState> {
        match (self.local, self.remote) {
            (Approval::Revoked, _) | (_, Approval::Revoked) => Some(LinkState::Revoked),
            (Approval::Approved, Approval::Approved) => Some(LinkState::Active),
            (Approval::Approved, Approval::None) => Some(LinkState::Requested),
            (Approval::None, Approval::Approved) => Some(LinkState::Pending),
            (Approval::None, Approval::None) => None,
        }
    }

    /// Whether this node pulls from the peer.
    pub fn pulls(&self) -> bool {
        self.state() == Some(LinkState::Active)
    }

    /// Whether this node answers the peer's federation requests (feed,
    /// reconcile). Only this node's own decision counts: a peer that revoked
    /// simply stops asking.
    pub fn serves(&self) -> bool {
        self.local == Approval::Approved && self.remote != Approval::Revoked
    }
}

/// One line of `GET /api/v1/peers` / `seednet peer list`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PeerEntry {
    /// The key pinned for the peer: only it speaks for the peer.
    pub node_id: NodeId,
    /// The centre's name, from the peer's last verified descriptor.
    pub name: String,
    /// The centre's country, from the same descriptor.
    pub country: CountryCode,
    /// The peer's public base URL, from the same descriptor.
    pub base_url: String,
    /// The state shown, [`Link::state`] of `link`.
    pub state: LinkState,
    /// Both sides' decisions.
    pub link: Link,
    /// Last time a pull completed without error.
    pub last_sync_at: Option<Timestamp>,
    /// Record versions received from this peer and applied.
    pub records_received: u64,
    /// This node's cursor in the peer's feed.
    pub cursor: u64,
    /// The peer's head sequence when last seen.
    pub head_seq: u64,
    /// `head_seq - cursor` when last seen.
    pub lag: u64,
    /// The last error met with this peer, for the admin, if any.
    pub last_error: Option<String>,
    /// Equivocations (two signed versions with one key and version) seen in
    /// records received from this peer.
    pub equivocations: u64,
    /// The last repair pass (set reconciliation) with this peer, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_repair: Option<RepairReport>,
    /// A key rotation the peer announced (verified, its new descriptor
    /// fetched) that waits for this node's admin. Nothing changes until the
    /// admin approves it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pending_rotation: Option<PendingRotation>,
    /// Ids the peer signed with before rotations this node's admin approved,
    /// oldest first: records of these origins stay valid and are still
    /// accepted from this peer.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub former_node_ids: Vec<NodeId>,
    /// While the state is `pending`: when the peer's link request arrived
    /// (unanswered requests expire; see `docs/PROTOCOL-federation.md` 9.2).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub requested_at: Option<Timestamp>,
    /// Record versions this peer sent that were refused (the signature does
    /// not verify, or the record is not valid), counted since the link began.
    #[serde(default)]
    pub refused_versions: u64,
    /// The latest refused version and what fetching it again did.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_refused: Option<RefusedVersion>,
}

/// A record version a peer sent that this node refused, and what fetching
/// that record again (from the same peer, then from the others) did.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RefusedVersion {
    /// The record the refused bytes claimed to be (read without trusting
    /// them; `None` when even that could not be read).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key: Option<crate::key::RecordKey>,
    /// The version they claimed, when readable.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub version: Option<u64>,
    /// Why the version was refused.
    pub reason: String,
    /// When it was refused.
    pub refused_at: Timestamp,
    /// What fetching the record again did.
    pub refetch: Refetch,
}

/// The state of the fetch again of a refused version.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "state", deny_unknown_fields)]
pub enum Refetch {
    /// Being fetched again.
    Pending,
    /// A valid version at least as new is now held, fetched from `from`
    /// (or it was already held).
    Recovered {
        /// The peer it came from; `None` when it was held already.
        from: Option<NodeId>,
    },
    /// No peer had a valid version; the next repair pass looks again.
    Missing,
    /// The refused bytes do not say which record they were: nothing to ask.
    Unknown,
}

/// What an admin sees of a peer's announced key rotation before approving.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PendingRotation {
    /// The key the peer will sign with once approved.
    pub new_node_id: NodeId,
    /// When the peer signed the statement.
    pub rotated_at: Timestamp,
    /// The peer's reason (may be empty).
    #[serde(default)]
    pub reason: String,
    /// When this node received and checked it.
    pub received_at: Timestamp,
}

/// What one repair pass (set reconciliation with one peer, then the fetch
/// of the versions it lacked) did: the answer of
/// `POST /api/v1/peers/{node_id}/repair` and the `last_repair` of a
/// [`PeerEntry`].
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RepairReport {
    /// When the pass ended.
    pub finished_at: Option<Timestamp>,
    /// Reconciliation messages sent.
    pub rounds: u64,
    /// Bytes of reconciliation messages sent.
    pub bytes_sent: u64,
    /// Bytes of reconciliation messages received.
    pub bytes_received: u64,
    /// Items the peer holds and this node lacks.
    pub needed: u64,
    /// Of those, records the peer sent back when asked by item.
    pub fetched: u64,
    /// Of those, versions applied (the rest were stale, refused or known).
    pub applied: u64,
    /// Items this node holds and the peer lacks (it fetches them itself).
    pub have: u64,
    /// Why the pass stopped early, if it did.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

// --- Key rotation -------------------------------------------------------------

/// "Node `old_node_id` now signs as `new_node_id`", signed by the OLD key.
///
/// A peer that receives it checks it against the key it pinned, fetches and
/// verifies the new descriptor, and shows both to its admin; only the admin's
/// approval moves the link to the new key. Records signed by the old key stay
/// valid (their origin is the old id). A lost key cannot sign this: it means a
/// new identity and a new link.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KeyRotation {
    /// The key being retired; it signs the statement.
    pub old_node_id: NodeId,
    /// The key the node signs with from now on; never `old_node_id`.
    pub new_node_id: NodeId,
    /// When the old key signed the statement.
    pub rotated_at: Timestamp,
    /// Why, for the admins (may be empty): at most
    /// [`FEDERATION_NOTE_CHARS_MAX`] characters, no control characters but
    /// tab, line feed and carriage return.
    #[serde(default)]
    pub reason: String,
}

impl Signable for KeyRotation {
    const CONTEXT: &'static str = "seednet key rotation v1";
    const BYTES_MAX: usize = KEY_ROTATION_CANONICAL_BYTES_MAX;
    const SIGNER_FIELD: &'static str = "old_node_id";

    fn signer(&self) -> NodeId {
        self.old_node_id
    }

    fn validate(&self) -> Result<(), ValidationErrors> {
        let mut check = Checker::default();
        if self.old_node_id == self.new_node_id {
            check.push(ValidationError::Invalid {
                field: "new_node_id".into(),
                message: "the new key must differ from the old one".into(),
            });
        }
        check.optional_text("reason", &self.reason, FEDERATION_NOTE_CHARS_MAX, true);
        check.finish()
    }
}

/// Checks a verified rotation against the key pinned for the peer and the
/// new descriptor fetched from the peer. Passing means "show to the admin",
/// never "apply". Fails with [`WireError::RotationNotFromPinnedKey`] or
/// [`WireError::RotationDescriptorMismatch`]; checking that the descriptor
/// keeps the peer's `base_url` is the caller's.
pub fn check_rotation(
    rotation: &Signed<KeyRotation>,
    pinned: &NodeId,
    new_descriptor: &Signed<NodeDescriptor>,
) -> Result<(), WireError> {
    let statement = rotation.value();
    if statement.old_node_id != *pinned {
        return Err(WireError::RotationNotFromPinnedKey {
            signer: statement.old_node_id,
            pinned: *pinned,
        });
    }
    if new_descriptor.value().node_id != statement.new_node_id {
        return Err(WireError::RotationDescriptorMismatch {
            named: new_descriptor.value().node_id,
            expected: statement.new_node_id,
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests;
