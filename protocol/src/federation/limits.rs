//! Named bounds of the federation protocol. Like the record limits, they are
//! part of the protocol: a second implementation must use the same numbers
//! (listed in `docs/PROTOCOL.md`, section "Federation").

/// Most records (and tombstones) in one changes-feed page.
pub const SYNC_BATCH_RECORDS_MAX: usize = 500;
/// Most bytes of signed records in one changes-feed page, counted as the
/// length of each record's signed bytes plus [`SYNC_RECORD_OVERHEAD_BYTES`].
/// A page always holds at least one record when one is available (a record
/// is at most 256 KiB, well under this bound).
pub const SYNC_BATCH_BYTES_MAX: usize = 4 * 1024 * 1024;
/// Per-record allowance for the JSON around the signed bytes (the signature
/// in hex, field names, separators) when a page's size is accounted.
pub const SYNC_RECORD_OVERHEAD_BYTES: usize = 160;
/// Most bytes of a whole changes-feed response body that a client reads.
pub const SYNC_PAGE_BODY_BYTES_MAX: usize =
    SYNC_BATCH_BYTES_MAX + SYNC_BATCH_RECORDS_MAX * SYNC_RECORD_OVERHEAD_BYTES + 4 * 1024;

/// Most entries in a peer list answer.
pub const PEERS_MAX: usize = 256;
/// Most bytes of a link request, notify hint or rotation statement body.
pub const FEDERATION_SMALL_BODY_BYTES_MAX: usize = 16 * 1024;
/// Most bytes of the canonical form of a link request.
pub const LINK_REQUEST_CANONICAL_BYTES_MAX: usize = 12 * 1024;
/// Most bytes of the canonical form of a key rotation statement.
pub const KEY_ROTATION_CANONICAL_BYTES_MAX: usize = 2 * 1024;
/// Most characters of the free-text note in a link request or rotation.
pub const FEDERATION_NOTE_CHARS_MAX: usize = 500;

/// Default accepted clock difference between two nodes, both ways.
pub const SIGNATURE_SKEW_SECONDS_DEFAULT: i64 = 300;
/// Longest accepted lifetime (`expires - created`) of a request signature.
pub const SIGNATURE_LIFETIME_SECONDS_MAX: i64 = 300;
/// Lifetime a signer gives its request signatures by default.
pub const SIGNATURE_LIFETIME_SECONDS_DEFAULT: i64 = 60;
/// Fewest characters of the `nonce` parameter of a request signature.
pub const SIGNATURE_NONCE_CHARS_MIN: usize = 16;
/// Most characters of the `nonce` parameter of a request signature.
pub const SIGNATURE_NONCE_CHARS_MAX: usize = 64;
/// Most characters of a `Signature-Input` or `Signature` header value
/// that a verifier parses.
pub const SIGNATURE_HEADER_CHARS_MAX: usize = 2 * 1024;
/// Most characters of the target URI that is signed.
pub const SIGNATURE_TARGET_URI_CHARS_MAX: usize = 4 * 1024;

/// Sub-ranges a reconciliation range is split into when fingerprints differ.
pub const RECONCILE_BRANCHING_DEFAULT: usize = 8;
/// A range holding at most this many items is answered with the item list.
pub const RECONCILE_LIST_THRESHOLD_DEFAULT: usize = 8;
/// Most bytes of one reconciliation message (either direction).
pub const RECONCILE_MESSAGE_BYTES_MAX: usize = 256 * 1024;
/// Smallest message budget an implementation may configure: it must fit
/// one full item list, or reconciliation could stop making progress.
pub const RECONCILE_MESSAGE_BYTES_MIN: usize = 16 * 1024;
/// Most round trips an initiator performs before giving up.
pub const RECONCILE_ROUNDS_MAX: usize = 256;
/// Most ranges in one reconciliation message.
pub const RECONCILE_RANGES_MAX: usize = 16 * 1024;
/// Most item ids in one fetch after reconciliation (the answer is bounded
/// like a changes page: at most this many records).
pub const RECONCILE_FETCH_ITEMS_MAX: usize = SYNC_BATCH_RECORDS_MAX;
