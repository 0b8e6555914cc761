//! Federation: what two seednet nodes say to each other, without the I/O.
//!
//! Everything a node needs to federate that can be decided from bytes alone
//! lives here, so that the node's HTTP code stays a thin adapter and a second
//! implementation can be checked against the same functions:
//!
//! - [`wire`]: the JSON bodies of the federation endpoints (changes feed page,
//!   link request, notify hint, peer list entry, key rotation statement);
//! - [`http_signature`]: the RFC 9421 profile that authenticates every
//!   node-to-node request (ed25519, `Content-Digest`, created/expires/nonce);
//! - [`reconcile`]: range-based set reconciliation (in the spirit of
//!   negentropy) that repairs what the cursors missed, at a cost that grows
//!   with the difference rather than with the store;
//! - [`limits`]: the named bounds of all of the above.
//!
//! The exact profile is written down in `docs/PROTOCOL.md` (section
//! "Federation"). Nothing here knows about HTTP libraries, sled or tokio.

mod base64;
pub mod http_signature;
pub mod limits;
pub mod reconcile;
pub mod wire;
