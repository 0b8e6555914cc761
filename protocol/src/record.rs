//! Records: the envelope an origin node signs around a [`RecordContent`].
//!
//! A record is identified by its [`RecordKey`] (origin node, record id). Each
//! change is a new version, a positive integer that strictly increases per
//! record; a deletion is a signed tombstone version. Only the origin signs its
//! records, so two versions never conflict; two *different* signed envelopes
//! with the same key and version are an equivocation, which nodes detect by
//! comparing [`VersionHash`](crate::VersionHash)es.
//!
//! Envelope JSON (the signed bytes are its canonical form):
//! `{"origin", "id", "version", "signed_at", "content": {..}}` for a live
//! version, `{"origin", "id", "version", "signed_at", "deleted": true}` for a
//! tombstone.

use serde::{Deserialize, Serialize};

use crate::content::{Checker, RecordContent};
use crate::error::{ValidationError, ValidationErrors};
use crate::identity::NodeId;
use crate::key::{RecordId, RecordKey};
use crate::limits::{JSON_SAFE_INTEGER_MAX, RECORD_CANONICAL_BYTES_MAX};
use crate::signed::Signable;
use crate::timestamp::Timestamp;

/// What a version says: the content, or that the record was deleted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RecordBody {
    /// A live version: JSON member `content`.
    Live(Box<RecordContent>),
    /// A deletion: JSON member `"deleted": true`, no content. A later live
    /// version (higher `version`) revives the record.
    Tombstone,
}

/// One signed version of a record (signer field `origin`, context
/// `seednet record v1`, at most [`RECORD_CANONICAL_BYTES_MAX`] canonical
/// bytes). Its JSON is the envelope of the module documentation: the key's
/// members flattened, and exactly one of `content` or `"deleted": true`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(into = "RecordEnvelope", try_from = "RecordEnvelope")]
pub struct Record {
    /// Origin and id (JSON members `origin` and `id`).
    pub key: RecordKey,
    /// From 1 to 2^53 − 1; strictly increases with each change of one record.
    /// The origin chooses it (seednet: the previous version + 1).
    pub version: u64,
    /// When the origin signed this version. Informational: order comes from
    /// `version` only.
    pub signed_at: Timestamp,
    /// The content, or a tombstone.
    pub body: RecordBody,
}

impl Record {
    /// The content of a live version; `None` for a tombstone.
    pub fn content(&self) -> Option<&RecordContent> {
        match &self.body {
            RecordBody::Live(content) => Some(content),
            RecordBody::Tombstone => None,
        }
    }

    /// True for a tombstone (a deletion).
    pub fn is_tombstone(&self) -> bool {
        matches!(self.body, RecordBody::Tombstone)
    }
}

/// The wire shape of [`Record`]; converted, never exposed.
#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct RecordEnvelope {
    origin: NodeId,
    id: RecordId,
    version: u64,
    signed_at: Timestamp,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    content: Option<RecordContent>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    deleted: Option<bool>,
}

impl From<Record> for RecordEnvelope {
    fn from(record: Record) -> Self {
        let (content, deleted) = match record.body {
            RecordBody::Live(content) => (Some(*content), None),
            RecordBody::Tombstone => (None, Some(true)),
        };
        RecordEnvelope {
            origin: record.key.origin,
            id: record.key.id,
            version: record.version,
            signed_at: record.signed_at,
            content,
            deleted,
        }
    }
}

impl TryFrom<RecordEnvelope> for Record {
    type Error = String;
    fn try_from(envelope: RecordEnvelope) -> Result<Self, Self::Error> {
        let body = match (envelope.content, envelope.deleted) {
            (Some(content), None) => RecordBody::Live(Box::new(content)),
            (None, Some(true)) => RecordBody::Tombstone,
            _ => return Err(
                "a record version has either \"content\" or \"deleted\": true, not both or neither"
                    .into(),
            ),
        };
        Ok(Record {
            key: RecordKey {
                origin: envelope.origin,
                id: envelope.id,
            },
            version: envelope.version,
            signed_at: envelope.signed_at,
            body,
        })
    }
}

impl Record {
    /// Checks the envelope rules and, for a live version, the content rules;
    /// returns every broken rule, content fields prefixed with `content.`
    /// (`content.title`).
    pub fn validate(&self) -> Result<(), ValidationErrors> {
        let mut check = Checker::default();
        if self.version == 0 || self.version > JSON_SAFE_INTEGER_MAX {
            check.push(ValidationError::Invalid {
                field: "version".into(),
                message: format!("version must be between 1 and {JSON_SAFE_INTEGER_MAX}"),
            });
        }
        let envelope = check.finish();
        let content = match &self.body {
            RecordBody::Live(content) => content.validate().map_err(|errors| {
                let prefixed = errors
                    .0
                    .into_iter()
                    .map(|error| prefix_field("content", error))
                    .collect();
                ValidationErrors(prefixed)
            }),
            RecordBody::Tombstone => Ok(()),
        };
        match (envelope, content) {
            (Ok(()), Ok(())) => Ok(()),
            (Err(mut a), Err(b)) => {
                a.0.extend(b.0);
                Err(a)
            }
            (Err(e), Ok(())) | (Ok(()), Err(e)) => Err(e),
        }
    }
}

fn prefix_field(prefix: &str, error: ValidationError) -> ValidationError {
    let field = format!("{prefix}.{}", error.field());
    rewrite_field(error, field)
}

fn rewrite_field(mut error: ValidationError, new_field: String) -> ValidationError {
    match &mut error {
        ValidationError::Empty { field }
        | ValidationError::TooLong { field, .. }
        | ValidationError::TooMany { field, .. }
        | ValidationError::Duplicate { field, .. }
        | ValidationError::Missing { field }
        | ValidationError::Language { field, .. }
        | ValidationError::Country { field, .. }
        | ValidationError::Url { field, .. }
        | ValidationError::Email { field, .. }
        | ValidationError::Sdg { field, .. }
        | ValidationError::Year { field, .. }
        | ValidationError::YearOrder { field }
        | ValidationError::License { field, .. }
        | ValidationError::RecordId { field, .. }
        | ValidationError::TranslationSameLanguage { field, .. }
        | ValidationError::ControlCharacter { field }
        | ValidationError::Invalid { field, .. } => *field = new_field,
    }
    error
}

impl Signable for Record {
    const CONTEXT: &'static str = "seednet record v1";
    const BYTES_MAX: usize = RECORD_CANONICAL_BYTES_MAX;
    const SIGNER_FIELD: &'static str = "origin";

    fn signer(&self) -> NodeId {
        self.key.origin
    }

    fn validate(&self) -> Result<(), ValidationErrors> {
        Record::validate(self)
    }
}
