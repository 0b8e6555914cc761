//! The names of records and versions: [`RecordId`] (chosen by the origin),
//! [`RecordKey`] (origin and id: a record's global identity) and
//! [`VersionHash`] (SHA-256 of a version's canonical bytes, by which two
//! signed versions are told apart).
//!
//! A file of their own because records, contents (relations point at other
//! records), signatures and the federation wire types all use them, and
//! none of those should need the others to name a record.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use sha2::{Digest, Sha256};

use crate::error::ValidationError;
use crate::identity::NodeId;
use crate::limits::RECORD_ID_CHARS_MAX;

/// A record id chosen by the origin: 1 to 64 of `A-Z a-z 0-9 _ -`.
/// seednet nodes assign ULIDs.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct RecordId(String);

impl RecordId {
    /// The id, or `None` unless `text` is 1 to [`RECORD_ID_CHARS_MAX`] of
    /// `A-Z a-z 0-9 _ -`. Parsing with [`FromStr`] (and from JSON) applies the
    /// same rule and fails with [`ValidationError::RecordId`].
    pub fn parse(text: &str) -> Option<Self> {
        let valid = !text.is_empty()
            && text.len() <= RECORD_ID_CHARS_MAX
            && text
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-');
        valid.then(|| RecordId(text.to_string()))
    }

    /// The id as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl FromStr for RecordId {
    type Err = ValidationError;
    fn from_str(text: &str) -> Result<Self, Self::Err> {
        RecordId::parse(text).ok_or_else(|| ValidationError::RecordId {
            field: "id".into(),
            value: text.chars().take(80).collect(),
        })
    }
}

impl fmt::Display for RecordId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl Serialize for RecordId {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.0)
    }
}

impl<'de> Deserialize<'de> for RecordId {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        text.parse().map_err(serde::de::Error::custom)
    }
}

/// The global identity of a record: who published it and under which id.
/// JSON `{"origin", "id"}` (in a relation's `target`); text form
/// `origin/id` ([`Display`](fmt::Display)).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RecordKey {
    /// The node that publishes the record; only its key signs versions of it.
    pub origin: NodeId,
    /// The id the origin chose for it.
    pub id: RecordId,
}

impl fmt::Display for RecordKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.origin, self.id)
    }
}

/// SHA-256 of a version's canonical bytes.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct VersionHash(pub [u8; 32]);

impl VersionHash {
    /// The hash of `canonical_bytes`: the signed bytes, not the signed
    /// message (no context prefix).
    pub fn of(canonical_bytes: &[u8]) -> Self {
        VersionHash(Sha256::digest(canonical_bytes).into())
    }

    /// The text form: 64 lowercase hex digits.
    pub fn to_hex(&self) -> String {
        hex::encode(self.0)
    }
}

impl fmt::Debug for VersionHash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "VersionHash({})", self.to_hex())
    }
}
