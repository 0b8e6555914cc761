//! Typed errors for every rule the protocol enforces.
//!
//! Each validation rule is one [`ValidationError`] variant naming the field it
//! concerns, so an HTTP API can answer `{"field": ..., "code": ...}` and a web
//! form can show the message next to the field.

use thiserror::Error;

/// A node id or signature text that cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum IdentityError {
    #[error("node id must be 64 lowercase hex digits (an ed25519 public key)")]
    BadText,
    #[error("node id is not a valid ed25519 point")]
    NotACurvePoint,
    #[error("node id is a weak (small-order) ed25519 key")]
    WeakKey,
    #[error("signature must be 128 lowercase hex digits")]
    BadSignatureText,
}

/// Bytes that are not the restricted canonical JSON this protocol signs.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum CanonicalError {
    #[error("invalid JSON: {0}")]
    Json(String),
    #[error("floating-point number at {path}: only integers are allowed")]
    FloatNotAllowed { path: String },
    #[error("integer at {path} is outside ±(2^53-1)")]
    IntegerOutOfRange { path: String },
    #[error("JSON nested deeper than {max} levels")]
    TooDeep { max: usize },
    #[error("bytes are not the RFC 8785 canonical form of their content")]
    NotCanonical,
}

/// One broken validation rule, with the dotted path of the field.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum ValidationError {
    #[error("{field} must not be empty")]
    Empty { field: String },
    #[error("{field} is too long: {actual} characters, at most {max}")]
    TooLong {
        field: String,
        max: usize,
        actual: usize,
    },
    #[error("{field} has too many entries: {actual}, at most {max}")]
    TooMany {
        field: String,
        max: usize,
        actual: usize,
    },
    #[error("{field} lists {value:?} more than once")]
    Duplicate { field: String, value: String },
    #[error("{field} needs at least one entry")]
    Missing { field: String },
    #[error("{field}: {value:?} is not a language tag (2 or 3 lowercase letters, e.g. it, el, ro, sl, en)")]
    Language { field: String, value: String },
    #[error("{field}: {value:?} is not an ISO 3166-1 alpha-2 country code (e.g. IT, GR, RO, SI)")]
    Country { field: String, value: String },
    #[error("{field}: {value:?} is not an http or https URL")]
    Url { field: String, value: String },
    #[error("{field}: {value:?} is not an email address")]
    Email { field: String, value: String },
    #[error("{field}: {value} is not a sustainable development goal (1 to 17)")]
    Sdg { field: String, value: i64 },
    #[error("{field}: {value} is outside the years {min} to {max}")]
    Year {
        field: String,
        value: i64,
        min: i64,
        max: i64,
    },
    #[error("{field} must not be before year_start")]
    YearOrder { field: String },
    #[error("{field}: {value:?} is not an SPDX licence id (letters, digits, '.', '-', '+')")]
    License { field: String, value: String },
    #[error("{field}: {value:?} is not a record id (1 to 64 of A-Z a-z 0-9 _ -)")]
    RecordId { field: String, value: String },
    #[error("{field}: a translation into the record's own language {value:?} is not allowed")]
    TranslationSameLanguage { field: String, value: String },
    #[error("{field} contains a control character")]
    ControlCharacter { field: String },
    #[error("{field}: {message}")]
    Invalid { field: String, message: String },
}

impl ValidationError {
    /// The dotted path of the field the error is about.
    pub fn field(&self) -> &str {
        match self {
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
            | ValidationError::Invalid { field, .. } => field,
        }
    }

    /// A stable machine-readable code for the rule.
    pub fn code(&self) -> &'static str {
        match self {
            ValidationError::Empty { .. } => "empty",
            ValidationError::TooLong { .. } => "too_long",
            ValidationError::TooMany { .. } => "too_many",
            ValidationError::Duplicate { .. } => "duplicate",
            ValidationError::Missing { .. } => "missing",
            ValidationError::Language { .. } => "invalid_language",
            ValidationError::Country { .. } => "invalid_country",
            ValidationError::Url { .. } => "invalid_url",
            ValidationError::Email { .. } => "invalid_email",
            ValidationError::Sdg { .. } => "invalid_sdg",
            ValidationError::Year { .. } => "invalid_year",
            ValidationError::YearOrder { .. } => "year_order",
            ValidationError::License { .. } => "invalid_license",
            ValidationError::RecordId { .. } => "invalid_record_id",
            ValidationError::TranslationSameLanguage { .. } => "translation_same_language",
            ValidationError::ControlCharacter { .. } => "control_character",
            ValidationError::Invalid { .. } => "invalid",
        }
    }
}

/// All the rules a value broke (never empty).
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[error("{}", .0.iter().map(ToString::to_string).collect::<Vec<_>>().join("; "))]
pub struct ValidationErrors(pub Vec<ValidationError>);

impl ValidationErrors {
    pub fn first(&self) -> &ValidationError {
        &self.0[0]
    }
}

/// A JSON document that could not become a typed protocol value.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum DecodeError {
    /// Syntax error, wrong type, unknown field or unknown enum value, with the
    /// path of the offending field (`$` for the document itself).
    #[error("at {path}: {message}")]
    Shape { path: String, message: String },
    #[error(transparent)]
    Canonical(#[from] CanonicalError),
    #[error(transparent)]
    Invalid(#[from] ValidationErrors),
    #[error("size {actual} bytes is over the limit of {max} bytes")]
    TooLarge { max: usize, actual: usize },
}

impl DecodeError {
    /// The field path the error concerns, if it concerns one field.
    pub fn field(&self) -> Option<String> {
        match self {
            DecodeError::Shape { path, .. } if path != "$" && path != "." => Some(path.clone()),
            DecodeError::Invalid(errors) => Some(errors.first().field().to_string()),
            _ => None,
        }
    }
}

/// Why a signed object was refused.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum VerifyError {
    #[error("signed bytes are {actual} bytes, over the limit of {max}")]
    TooLarge { max: usize, actual: usize },
    #[error("signed object is not canonical JSON: {0}")]
    Canonical(#[from] CanonicalError),
    #[error("signer field {field:?} is missing or not a valid node id: {reason}")]
    Signer { field: &'static str, reason: String },
    #[error("signature does not verify for the signer's key")]
    BadSignature,
    #[error("signed object is malformed: {0}")]
    Decode(DecodeError),
}
