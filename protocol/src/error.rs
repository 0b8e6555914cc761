//! Typed errors for every rule the protocol enforces.
//!
//! Each validation rule is one [`ValidationError`] variant naming the field it
//! concerns, so an HTTP API can answer `{"field": ..., "code": ...}` and a web
//! form can show the message next to the field.

use thiserror::Error;

/// A node id or signature text that cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum IdentityError {
    /// A node id text that is not 64 lowercase hex digits.
    #[error("node id must be 64 lowercase hex digits (an ed25519 public key)")]
    BadText,
    /// Key bytes that do not decode to a point of the curve.
    #[error("node id is not a valid ed25519 point")]
    NotACurvePoint,
    /// A point of small order or with a torsion component: a key honest key
    /// generation never produces, under which forgeries are possible.
    #[error("node id is a weak (small-order) ed25519 key")]
    WeakKey,
    /// A signature text that is not 128 lowercase hex digits.
    #[error("signature must be 128 lowercase hex digits")]
    BadSignatureText,
}

/// Bytes that are not the restricted canonical JSON this protocol signs.
///
/// Paths name the offending value from the root `$`: `$.content.sdgs[0]`.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum CanonicalError {
    /// Bytes that are not JSON, or a value that cannot be encoded as JSON;
    /// holds the parser's or encoder's message.
    #[error("invalid JSON: {0}")]
    Json(String),
    /// A number that is not an integer: `1.5`, `1.0`, `1e3`, and also an
    /// integer beyond the 64-bit range (it parses as a float).
    #[error("floating-point number at {path}: only integers are allowed")]
    FloatNotAllowed {
        /// Where the number is.
        path: String,
    },
    /// An integer outside ±(2^53 − 1), i.e. ±[`JSON_SAFE_INTEGER_MAX`].
    ///
    /// [`JSON_SAFE_INTEGER_MAX`]: crate::limits::JSON_SAFE_INTEGER_MAX
    #[error("integer at {path} is outside ±(2^53-1)")]
    IntegerOutOfRange {
        /// Where the integer is.
        path: String,
    },
    /// Arrays and objects nested deeper than [`JSON_DEPTH_MAX`](crate::limits::JSON_DEPTH_MAX).
    #[error("JSON nested deeper than {max} levels")]
    TooDeep {
        /// The depth limit, [`JSON_DEPTH_MAX`](crate::limits::JSON_DEPTH_MAX).
        max: usize,
    },
    /// JSON within the rules that is not byte for byte the RFC 8785 encoding
    /// of what it contains: key order, white space, escapes or a duplicate key.
    #[error("bytes are not the RFC 8785 canonical form of their content")]
    NotCanonical,
}

/// One broken validation rule, with the dotted path of the field.
///
/// `field` is the path from the validated value: `links[2].url` for
/// [`RecordContent::validate`](crate::RecordContent::validate),
/// `content.links[2].url` for a [`Record`](crate::Record). A refused URL,
/// email address, licence or record id is quoted cut to 80 characters.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum ValidationError {
    /// Required text that is empty or only white space.
    #[error("{field} must not be empty")]
    Empty {
        /// The field's path.
        field: String,
    },
    /// Text over its limit.
    #[error("{field} is too long: {actual} characters, at most {max}")]
    TooLong {
        /// The field's path.
        field: String,
        /// The limit, in characters.
        max: usize,
        /// The text's length, in characters.
        actual: usize,
    },
    /// A list with more entries than its limit.
    #[error("{field} has too many entries: {actual}, at most {max}")]
    TooMany {
        /// The list's path.
        field: String,
        /// The limit, in entries.
        max: usize,
        /// The list's length, in entries.
        actual: usize,
    },
    /// A list that must hold distinct values repeats one (reported once per
    /// repetition).
    #[error("{field} lists {value:?} more than once")]
    Duplicate {
        /// The list's path.
        field: String,
        /// The repeated value's text form.
        value: String,
    },
    /// An empty list that needs at least one entry (`themes`, a
    /// descriptor's `languages`).
    #[error("{field} needs at least one entry")]
    Missing {
        /// The list's path.
        field: String,
    },
    /// Text that is not a language tag. This crate refuses such values
    /// already when decoding ([`DecodeError::Shape`]), so its own validation
    /// does not produce this variant.
    #[error("{field}: {value:?} is not a language tag (2 or 3 lowercase letters, e.g. it, el, ro, sl, en)")]
    Language {
        /// The field's path.
        field: String,
        /// The refused text.
        value: String,
    },
    /// Text that is not an assigned ISO 3166-1 alpha-2 code. Like
    /// [`ValidationError::Language`], refused when decoding and not produced
    /// by this crate's validation.
    #[error("{field}: {value:?} is not an ISO 3166-1 alpha-2 country code (e.g. IT, GR, RO, SI)")]
    Country {
        /// The field's path.
        field: String,
        /// The refused text.
        value: String,
    },
    /// Not an absolute http or https URL with a host, or longer than
    /// [`URL_CHARS_MAX`](crate::limits::URL_CHARS_MAX) characters.
    #[error("{field}: {value:?} is not an http or https URL")]
    Url {
        /// The field's path.
        field: String,
        /// The refused text.
        value: String,
    },
    /// Not an email address (one `@`, a non-empty local part, a dotted
    /// domain, no white space), or longer than [`EMAIL_CHARS_MAX`] characters.
    ///
    /// [`EMAIL_CHARS_MAX`]: crate::limits::EMAIL_CHARS_MAX
    #[error("{field}: {value:?} is not an email address")]
    Email {
        /// The field's path.
        field: String,
        /// The refused text.
        value: String,
    },
    /// A sustainable development goal number outside 1 to 17.
    #[error("{field}: {value} is not a sustainable development goal (1 to 17)")]
    Sdg {
        /// The entry's path, e.g. `sdgs[3]`.
        field: String,
        /// The refused number.
        value: i64,
    },
    /// A year outside [`YEAR_MIN`] to [`YEAR_MAX`].
    ///
    /// [`YEAR_MIN`]: crate::limits::YEAR_MIN
    /// [`YEAR_MAX`]: crate::limits::YEAR_MAX
    #[error("{field}: {value} is outside the years {min} to {max}")]
    Year {
        /// The field's path.
        field: String,
        /// The refused year.
        value: i64,
        /// The earliest year allowed, [`YEAR_MIN`](crate::limits::YEAR_MIN).
        min: i64,
        /// The latest year allowed, [`YEAR_MAX`](crate::limits::YEAR_MAX).
        max: i64,
    },
    /// `year_end` before `year_start`.
    #[error("{field} must not be before year_start")]
    YearOrder {
        /// The path of `year_end`.
        field: String,
    },
    /// Not an SPDX id: 1 to [`LICENSE_CHARS_MAX`] of ASCII letters, digits,
    /// `.`, `-` and `+`.
    ///
    /// [`LICENSE_CHARS_MAX`]: crate::limits::LICENSE_CHARS_MAX
    #[error("{field}: {value:?} is not an SPDX licence id (letters, digits, '.', '-', '+')")]
    License {
        /// The field's path.
        field: String,
        /// The refused text.
        value: String,
    },
    /// Not a record id ([`RecordId`](crate::RecordId)); the error of parsing
    /// one from text.
    #[error("{field}: {value:?} is not a record id (1 to 64 of A-Z a-z 0-9 _ -)")]
    RecordId {
        /// The field's path (`id` when parsed from text).
        field: String,
        /// The refused text.
        value: String,
    },
    /// A translation into the record's own `lang`.
    #[error("{field}: a translation into the record's own language {value:?} is not allowed")]
    TranslationSameLanguage {
        /// The translation's path, e.g. `translations.it`.
        field: String,
        /// The language tag.
        value: String,
    },
    /// A control character in text: any in single-line text, any but tab,
    /// line feed and carriage return in multi-line text.
    #[error("{field} contains a control character")]
    ControlCharacter {
        /// The field's path.
        field: String,
    },
    /// Any other rule, explained in `message` (e.g. a `version` of 0).
    #[error("{field}: {message}")]
    Invalid {
        /// The field's path.
        field: String,
        /// What is wrong, for people.
        message: String,
    },
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

/// All the rules a value broke, in the order they were checked (never empty
/// when this crate builds it).
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[error("{}", .0.iter().map(ToString::to_string).collect::<Vec<_>>().join("; "))]
pub struct ValidationErrors(pub Vec<ValidationError>);

impl ValidationErrors {
    /// The first broken rule. Panics on an empty list.
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
    Shape {
        /// The field's path from the decoded value, e.g. `funding[0].source`
        /// (no leading `$`), or `$` when the error concerns the whole
        /// document (syntax, a missing field, trailing bytes).
        path: String,
        /// The decoder's message.
        message: String,
    },
    /// The value cannot be encoded canonically (only when signing).
    #[error(transparent)]
    Canonical(#[from] CanonicalError),
    /// The value decoded but breaks rules of its type.
    #[error(transparent)]
    Invalid(#[from] ValidationErrors),
    /// The canonical encoding is over the type's limit (only when signing).
    #[error("size {actual} bytes is over the limit of {max} bytes")]
    TooLarge {
        /// The limit, in bytes.
        max: usize,
        /// The encoding's size, in bytes.
        actual: usize,
    },
}

impl DecodeError {
    /// The field path the error concerns, if it concerns one field: the path
    /// of a [`DecodeError::Shape`] other than `$`, or the field of the first
    /// rule of [`DecodeError::Invalid`]; `None` otherwise.
    pub fn field(&self) -> Option<String> {
        match self {
            DecodeError::Shape { path, .. } if path != "$" && path != "." => Some(path.clone()),
            DecodeError::Invalid(errors) => Some(errors.first().field().to_string()),
            _ => None,
        }
    }
}

/// Why a signed object was refused.
///
/// Each variant is one step of the verification order of `docs/PROTOCOL.md`
/// section 3; the first failing step decides.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum VerifyError {
    /// The signed bytes are over the type's limit (step 1).
    #[error("signed bytes are {actual} bytes, over the limit of {max}")]
    TooLarge {
        /// The type's limit, in bytes ([`Signable::BYTES_MAX`]).
        ///
        /// [`Signable::BYTES_MAX`]: crate::Signable::BYTES_MAX
        max: usize,
        /// The size received, in bytes.
        actual: usize,
    },
    /// The bytes are not JSON (step 2), or, once the signature verified,
    /// break the number or depth rules or are not canonical (step 4).
    #[error("signed object is not canonical JSON: {0}")]
    Canonical(#[from] CanonicalError),
    /// The signer field is missing, not a string, or not a valid node id
    /// (weak keys included) (step 2).
    #[error("signer field {field:?} is missing or not a valid node id: {reason}")]
    Signer {
        /// The signer field's name ([`Signable::SIGNER_FIELD`]).
        ///
        /// [`Signable::SIGNER_FIELD`]: crate::Signable::SIGNER_FIELD
        field: &'static str,
        /// Why the field was refused.
        reason: String,
    },
    /// The signature does not verify strictly over the signed message with
    /// the signer's key (step 3).
    #[error("signature does not verify for the signer's key")]
    BadSignature,
    /// Authentic, canonical bytes that are not a valid object of the type:
    /// [`DecodeError::Shape`] (step 5) or [`DecodeError::Invalid`] (step 6).
    #[error("signed object is malformed: {0}")]
    Decode(DecodeError),
}
