//! Named upper bounds on everything a record or descriptor may contain.
//!
//! Every limit is part of the protocol: a node must refuse a record that breaks
//! one, so a second implementation needs the same numbers (`docs/PROTOCOL.md`
//! lists them). Text lengths count Unicode scalar values (chars), not bytes.

/// Maximum size of a record's canonical JSON bytes (the signed bytes).
pub const RECORD_CANONICAL_BYTES_MAX: usize = 256 * 1024;
/// Maximum size of a node descriptor's canonical JSON bytes.
pub const DESCRIPTOR_CANONICAL_BYTES_MAX: usize = 8 * 1024;

pub const TITLE_CHARS_MAX: usize = 300;
pub const SUMMARY_CHARS_MAX: usize = 2_000;
pub const BODY_CHARS_MAX: usize = 100_000;
pub const SECTION_CHARS_MAX: usize = 20_000;
pub const TRANSLATION_BODY_CHARS_MAX: usize = 100_000;
pub const REGION_CHARS_MAX: usize = 120;
pub const TAG_CHARS_MAX: usize = 64;
pub const NAME_CHARS_MAX: usize = 200;
pub const ROLE_CHARS_MAX: usize = 64;
pub const PROGRAMME_CHARS_MAX: usize = 200;
pub const LINK_TITLE_CHARS_MAX: usize = 200;
pub const URL_CHARS_MAX: usize = 2_048;
pub const EMAIL_CHARS_MAX: usize = 254;
pub const LICENSE_CHARS_MAX: usize = 64;
pub const RECORD_ID_CHARS_MAX: usize = 64;
pub const NODE_NAME_CHARS_MAX: usize = 120;
pub const SOFTWARE_CHARS_MAX: usize = 64;

pub const TRANSLATIONS_MAX: usize = 12;
pub const THEMES_MAX: usize = 10;
pub const TARGET_GROUPS_MAX: usize = 14;
pub const TARGET_GROUP_TAGS_MAX: usize = 16;
pub const SDGS_MAX: usize = 17;
pub const FUNDING_MAX: usize = 16;
pub const ORGANISATIONS_MAX: usize = 32;
pub const LINKS_MAX: usize = 32;
pub const TAGS_MAX: usize = 32;
pub const RELATIONS_MAX: usize = 64;
pub const DESCRIPTOR_LANGUAGES_MAX: usize = 16;

/// Years must lie in this range (inclusive).
pub const YEAR_MIN: i64 = 1900;
pub const YEAR_MAX: i64 = 2100;

/// Largest integer allowed anywhere in a signed object: 2^53 - 1, the largest
/// integer every JSON implementation represents exactly (RFC 8785 section 3.2.2.3
/// and I-JSON, RFC 7493).
pub const JSON_SAFE_INTEGER_MAX: u64 = (1 << 53) - 1;

/// Maximum nesting depth of a signed JSON object.
pub const JSON_DEPTH_MAX: usize = 16;
