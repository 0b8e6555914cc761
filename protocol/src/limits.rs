//! Named upper bounds on everything a record or descriptor may contain.
//!
//! Every limit is part of the protocol: a node must refuse a record that breaks
//! one, so a second implementation needs the same numbers (`docs/PROTOCOL.md`
//! lists them). Text lengths count Unicode scalar values (chars), not bytes.

/// Maximum size of a record's canonical JSON bytes (the signed bytes).
pub const RECORD_CANONICAL_BYTES_MAX: usize = 256 * 1024;
/// Maximum size of a node descriptor's canonical JSON bytes.
pub const DESCRIPTOR_CANONICAL_BYTES_MAX: usize = 8 * 1024;

/// Most characters of a record's `title`, and of each translation's `title`.
pub const TITLE_CHARS_MAX: usize = 300;
/// Most characters of a record's `summary`, and of each translation's `summary`.
pub const SUMMARY_CHARS_MAX: usize = 2_000;
/// Most characters of a record's `body` (CommonMark).
pub const BODY_CHARS_MAX: usize = 100_000;
/// Most characters of each of a record's `sections`.
pub const SECTION_CHARS_MAX: usize = 20_000;
/// Most characters of a translation's optional `body`.
pub const TRANSLATION_BODY_CHARS_MAX: usize = 100_000;
/// Most characters of a record's `region` (free text or a NUTS code).
pub const REGION_CHARS_MAX: usize = 120;
/// Most characters of each entry of `tags` and of `target_group_tags`.
pub const TAG_CHARS_MAX: usize = 64;
/// Most characters of an organisation's `name` and of the contact's `name`.
pub const NAME_CHARS_MAX: usize = 200;
/// Most characters of an organisation's `role`.
pub const ROLE_CHARS_MAX: usize = 64;
/// Most characters of a funding entry's `programme`.
pub const PROGRAMME_CHARS_MAX: usize = 200;
/// Most characters of a link's `title`.
pub const LINK_TITLE_CHARS_MAX: usize = 200;
/// Most characters of any URL: links, organisation and contact URLs, a
/// descriptor's `base_url`.
pub const URL_CHARS_MAX: usize = 2_048;
/// Most characters of the contact's `email`.
pub const EMAIL_CHARS_MAX: usize = 254;
/// Most characters of a record's `license` (an SPDX id, ASCII only).
pub const LICENSE_CHARS_MAX: usize = 64;
/// Most characters of a record id (ASCII only; at least one).
pub const RECORD_ID_CHARS_MAX: usize = 64;
/// Most characters of a node descriptor's `name`.
pub const NODE_NAME_CHARS_MAX: usize = 120;
/// Most characters of a node descriptor's `software`.
pub const SOFTWARE_CHARS_MAX: usize = 64;

/// Most entries of a record's `translations`.
pub const TRANSLATIONS_MAX: usize = 12;
/// Most entries of a record's `themes` (at least one is required).
pub const THEMES_MAX: usize = 10;
/// Most entries of a record's `target_groups` (as many as there are groups).
pub const TARGET_GROUPS_MAX: usize = 14;
/// Most entries of a record's `target_group_tags`.
pub const TARGET_GROUP_TAGS_MAX: usize = 16;
/// Most entries of a record's `sdgs` (as many as there are goals).
pub const SDGS_MAX: usize = 17;
/// Most entries of a record's `funding`.
pub const FUNDING_MAX: usize = 16;
/// Most entries of a record's `organisations`.
pub const ORGANISATIONS_MAX: usize = 32;
/// Most entries of a record's `links`.
pub const LINKS_MAX: usize = 32;
/// Most entries of a record's `tags`.
pub const TAGS_MAX: usize = 32;
/// Most entries of a record's `relations`.
pub const RELATIONS_MAX: usize = 64;
/// Most entries of a node descriptor's `languages` (at least one is required).
pub const DESCRIPTOR_LANGUAGES_MAX: usize = 16;

/// Earliest `year_start` or `year_end` of a record (inclusive).
pub const YEAR_MIN: i64 = 1900;
/// Latest `year_start` or `year_end` of a record (inclusive).
pub const YEAR_MAX: i64 = 2100;

/// Largest integer allowed anywhere in a signed object: 2^53 - 1, the largest
/// integer every JSON implementation represents exactly (RFC 8785 section 3.2.2.3
/// and I-JSON, RFC 7493).
pub const JSON_SAFE_INTEGER_MAX: u64 = (1 << 53) - 1;

/// Maximum nesting depth of a signed JSON object.
pub const JSON_DEPTH_MAX: usize = 16;
