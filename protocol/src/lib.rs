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

pub mod canonical;
pub mod content;
mod decode;
pub mod descriptor;
pub mod error;
pub mod federation;
pub mod identity;
mod key;
pub mod limits;
pub mod record;
pub mod signed;
#[cfg(any(test, feature = "testing"))]
pub mod testing;
pub mod timestamp;
pub mod vocab;

pub use content::{
    Contact, Funding, FundingSource, Link, Organisation, Provenance, RecordContent, Relation,
    RelationType, Sections, Translation,
};
pub use descriptor::NodeDescriptor;
pub use error::{DecodeError, ValidationError, ValidationErrors, VerifyError};
pub use identity::{NodeId, NodeKey, SignatureBytes};
pub use record::{Record, RecordBody, RecordId, RecordKey, VersionHash};
pub use signed::{verify_batch, Signable, Signed, SignedWire};
pub use timestamp::Timestamp;
pub use vocab::{CountryCode, Kind, LanguageTag, TargetGroup, Theme};
