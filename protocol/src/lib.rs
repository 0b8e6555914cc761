//! # seednet-protocol
//!
//! The data the seednet network carries, defined once: knowledge records, node
//! descriptors, their canonical encoding (RFC 8785), their ed25519 signatures and
//! the wire types that carry them between nodes.
//!
//! This crate performs no I/O and depends on no runtime, storage or HTTP crate, so
//! it cannot fail for I/O reasons and can be checked byte for byte against a
//! second implementation (see `tests/vectors/` and `docs/PROTOCOL.md`).
//!
//! The central rule: **the signed bytes are the record**. A node verifies the
//! exact bytes it received, keeps them, and relays them unchanged; nobody
//! re-serialises a record before verifying it. Typed values ([`Record`],
//! [`NodeDescriptor`]) are only ever produced from bytes whose signature and
//! canonical form have been checked ([`Signed::verify`]).

#![forbid(unsafe_code)]
#![warn(missing_docs)]

mod canonical;
mod content;
mod decode;
mod descriptor;
mod error;
pub mod federation;
mod identity;
mod key;
pub mod limits;
mod record;
mod signed;
#[cfg(any(test, feature = "testing"))]
pub mod testing;
mod timestamp;
mod vocab;

pub use canonical::to_canonical_bytes;
pub use content::{
    is_http_url, Contact, Funding, FundingSource, Link, Organisation, Provenance, RecordContent,
    Relation, RelationType, Sections, Translation, DEFAULT_LICENSE,
};
pub use descriptor::NodeDescriptor;
pub use error::{
    CanonicalError, DecodeError, IdentityError, ValidationError, ValidationErrors, VerifyError,
};
pub use identity::{NodeId, NodeKey, SignatureBytes};
pub use key::{RecordId, RecordKey, VersionHash};
pub use record::{Record, RecordBody};
pub use signed::{signed_message, verify_batch, SignError, Signable, Signed, SignedWire};
pub use timestamp::{Timestamp, TimestampError};
pub use vocab::{CountryCode, Kind, LanguageTag, TargetGroup, Theme, UnknownSlug};
