//! The content of a knowledge record: what an editor writes.
//!
//! Deserialisation checks shape (types, enums, unknown fields are refused);
//! [`RecordContent::validate`] checks every other rule and reports all broken
//! rules at once, each naming its field.

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};

use crate::error::{ValidationError, ValidationErrors};
use crate::key::RecordKey;
use crate::limits::*;
use crate::vocab::{CountryCode, Kind, LanguageTag, TargetGroup, Theme};

/// The default licence of a record when the editor names none.
pub const DEFAULT_LICENSE: &str = "CC-BY-4.0";

fn default_license() -> String {
    DEFAULT_LICENSE.to_string()
}

/// What an editor writes: the `content` of a live record version
/// (`docs/PROTOCOL.md` section 5).
///
/// Lengths are in characters (Unicode scalar values). Single-line text
/// allows no control characters; multi-line text (summaries, bodies,
/// sections) allows tab, line feed and carriage return. Optional members
/// that are absent or empty are omitted from the JSON.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RecordContent {
    /// What sort of knowledge the record holds.
    pub kind: Kind,
    /// The language of the title, summary, body and sections.
    pub lang: LanguageTag,
    /// Single line, not blank, at most [`TITLE_CHARS_MAX`] characters.
    pub title: String,
    /// Multi-line, not blank, at most [`SUMMARY_CHARS_MAX`] characters.
    pub summary: String,
    /// The description, CommonMark: multi-line, not blank, at most
    /// [`BODY_CHARS_MAX`] characters.
    pub body: String,
    /// Optional structured parts of the body.
    #[serde(default, skip_serializing_if = "Sections::is_empty")]
    pub sections: Sections,
    /// Title, summary and optionally body in other languages, by language:
    /// at most [`TRANSLATIONS_MAX`], none into `lang`.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub translations: BTreeMap<LanguageTag, Translation>,
    /// The competence areas it belongs to: 1 to [`THEMES_MAX`], distinct.
    pub themes: Vec<Theme>,
    /// The country it concerns; `region` narrows it down.
    pub country: CountryCode,
    /// Region or city, free text or a NUTS code: single line, not blank, at
    /// most [`REGION_CHARS_MAX`] characters.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub region: Option<String>,
    /// The people it is for: at most [`TARGET_GROUPS_MAX`], distinct.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub target_groups: Vec<TargetGroup>,
    /// Target groups the vocabulary lacks, as free tags: at most
    /// [`TARGET_GROUP_TAGS_MAX`], distinct, each single line, not blank and at
    /// most [`TAG_CHARS_MAX`] characters.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub target_group_tags: Vec<String>,
    /// The UN Sustainable Development Goals it serves, by number: at most
    /// [`SDGS_MAX`], distinct, each 1 to 17.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub sdgs: Vec<i64>,
    /// Who paid for it: at most [`FUNDING_MAX`] entries.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub funding: Vec<Funding>,
    /// The organisations involved: at most [`ORGANISATIONS_MAX`].
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub organisations: Vec<Organisation>,
    /// Whom to ask about it: a public contact only (records are public and
    /// relayed to every node).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub contact: Option<Contact>,
    /// The year it started, [`YEAR_MIN`] to [`YEAR_MAX`].
    pub year_start: i64,
    /// The year it ended, if it did: [`YEAR_MIN`] to [`YEAR_MAX`], not
    /// before `year_start`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub year_end: Option<i64>,
    /// Web pages about it: at most [`LINKS_MAX`].
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub links: Vec<Link>,
    /// The SPDX id of the content's licence: 1 to [`LICENSE_CHARS_MAX`] of
    /// ASCII letters, digits, `.`, `-` and `+`. Absent in JSON means
    /// [`DEFAULT_LICENSE`]; always written.
    #[serde(default = "default_license")]
    pub license: String,
    /// Free keywords: at most [`TAGS_MAX`], distinct, each single line, not
    /// blank and at most [`TAG_CHARS_MAX`] characters.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tags: Vec<String>,
    /// Typed links to other records: at most [`RELATIONS_MAX`]. Targets are
    /// not checked to exist.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub relations: Vec<Relation>,
}

/// Optional structured parts of the body, in the record's language. Each
/// present section is CommonMark: multi-line, not blank, at most
/// [`SECTION_CHARS_MAX`] characters.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Sections {
    /// The challenge it takes on.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub challenge: Option<String>,
    /// The approach taken.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub approach: Option<String>,
    /// Results and evidence.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub results: Option<String>,
    /// Difficulties met and lessons learnt.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lessons: Option<String>,
    /// What it takes to do it elsewhere.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub transferability: Option<String>,
    /// The resources it needs (people, money, time).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resources: Option<String>,
}

impl Sections {
    /// True when no section is present (the JSON member is then omitted).
    pub fn is_empty(&self) -> bool {
        self.named().iter().all(|(_, text)| text.is_none())
    }

    /// Each section with its name, in a fixed order.
    pub fn named(&self) -> [(&'static str, Option<&str>); 6] {
        [
            ("challenge", self.challenge.as_deref()),
            ("approach", self.approach.as_deref()),
            ("results", self.results.as_deref()),
            ("lessons", self.lessons.as_deref()),
            ("transferability", self.transferability.as_deref()),
            ("resources", self.resources.as_deref()),
        ]
    }
}

/// Who made a translation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Provenance {
    /// `human`: a person translated it.
    Human,
    /// `machine`: machine translation.
    Machine,
}

/// A record's title, summary and optionally body in another language.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Translation {
    /// Single line, not blank, at most [`TITLE_CHARS_MAX`] characters.
    pub title: String,
    /// Multi-line, not blank, at most [`SUMMARY_CHARS_MAX`] characters.
    pub summary: String,
    /// CommonMark: multi-line, not blank, at most
    /// [`TRANSLATION_BODY_CHARS_MAX`] characters.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub body: Option<String>,
    /// Who translated it.
    pub provenance: Provenance,
    /// Whether a person checked the translation.
    pub reviewed: bool,
}

/// Where money for the work came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum FundingSource {
    /// `esf-plus`: the European Social Fund Plus (ESF+).
    EsfPlus,
    /// `easi`: the EU programme for Employment and Social Innovation (EaSI).
    Easi,
    /// `erdf`: the European Regional Development Fund (ERDF).
    Erdf,
    /// `national`: national funds.
    National,
    /// `regional`: regional funds.
    Regional,
    /// `private`: private funds.
    Private,
    /// `other`: any other source.
    Other,
}

/// One source of funding.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Funding {
    /// The kind of source.
    pub source: FundingSource,
    /// The funding programme: single line, not blank, at most
    /// [`PROGRAMME_CHARS_MAX`] characters.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub programme: Option<String>,
}

/// An organisation involved in the work.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Organisation {
    /// Single line, not blank, at most [`NAME_CHARS_MAX`] characters.
    pub name: String,
    /// What it did, e.g. `lead` or `partner`: single line, not blank, at
    /// most [`ROLE_CHARS_MAX`] characters.
    pub role: String,
    /// Its web site: an http or https URL.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
}

/// A public contact for a record; every member is optional.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Contact {
    /// A person or office: single line, not blank, at most
    /// [`NAME_CHARS_MAX`] characters.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// An email address: one `@`, a non-empty local part, a dotted domain,
    /// no white space, at most [`EMAIL_CHARS_MAX`] characters.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
    /// A contact web page: an http or https URL.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
}

/// A web page about a record.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Link {
    /// An http or https URL (see [`is_http_url`]).
    pub url: String,
    /// What the page is: single line, not blank, at most
    /// [`LINK_TITLE_CHARS_MAX`] characters.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub title: Option<String>,
}

/// How a record relates to the target of a [`Relation`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RelationType {
    /// `adapted_from`: this record adapts the target, e.g. another centre's
    /// practice.
    AdaptedFrom,
    /// `related`: the two are related.
    Related,
    /// `replaces`: this record supersedes the target.
    Replaces,
    /// `part_of`: this record is part of the target.
    PartOf,
}

/// A typed link from a record to another record, possibly of another origin.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Relation {
    /// How this record relates to the target (JSON member `type`).
    #[serde(rename = "type")]
    pub relation_type: RelationType,
    /// The record related to.
    pub target: RecordKey,
}

/// Collects broken rules while walking a value.
#[derive(Default)]
pub(crate) struct Checker {
    errors: Vec<ValidationError>,
}

impl Checker {
    pub(crate) fn push(&mut self, error: ValidationError) {
        self.errors.push(error);
    }

    pub(crate) fn finish(self) -> Result<(), ValidationErrors> {
        if self.errors.is_empty() {
            Ok(())
        } else {
            Err(ValidationErrors(self.errors))
        }
    }

    /// Required text: not blank, at most `max` chars, no control characters
    /// except newline and tab in multi-line text.
    pub(crate) fn text(&mut self, field: &str, value: &str, max: usize, multiline: bool) {
        if value.trim().is_empty() {
            self.push(ValidationError::Empty {
                field: field.into(),
            });
            return;
        }
        self.optional_text(field, value, max, multiline);
    }

    /// Like [`Checker::text`] but an empty string is allowed.
    pub(crate) fn optional_text(&mut self, field: &str, value: &str, max: usize, multiline: bool) {
        let actual = value.chars().count();
        if actual > max {
            self.push(ValidationError::TooLong {
                field: field.into(),
                max,
                actual,
            });
        }
        let allowed = |c: char| multiline && (c == '\n' || c == '\t' || c == '\r');
        if value.chars().any(|c| c.is_control() && !allowed(c)) {
            self.push(ValidationError::ControlCharacter {
                field: field.into(),
            });
        }
    }

    pub(crate) fn count(&mut self, field: &str, actual: usize, max: usize) {
        if actual > max {
            self.push(ValidationError::TooMany {
                field: field.into(),
                max,
                actual,
            });
        }
    }

    pub(crate) fn url(&mut self, field: &str, value: &str) {
        if !is_http_url(value) {
            self.push(ValidationError::Url {
                field: field.into(),
                value: truncate_for_message(value),
            });
        }
    }

    fn unique<T: Ord + std::fmt::Display>(&mut self, field: &str, values: &[T]) {
        let mut seen = BTreeSet::new();
        for value in values {
            if !seen.insert(value) {
                self.push(ValidationError::Duplicate {
                    field: field.into(),
                    value: value.to_string(),
                });
            }
        }
    }

    fn year(&mut self, field: &str, value: i64) {
        if !(YEAR_MIN..=YEAR_MAX).contains(&value) {
            self.push(ValidationError::Year {
                field: field.into(),
                value,
                min: YEAR_MIN,
                max: YEAR_MAX,
            });
        }
    }
}

/// True for an absolute http or https URL with a host, within the size limit.
pub fn is_http_url(value: &str) -> bool {
    if value.chars().count() > URL_CHARS_MAX {
        return false;
    }
    match url::Url::parse(value) {
        Ok(parsed) => {
            matches!(parsed.scheme(), "http" | "https")
                && parsed.host_str().is_some_and(|host| !host.is_empty())
        }
        Err(_) => false,
    }
}

fn is_email(value: &str) -> bool {
    let Some((local, domain)) = value.split_once('@') else {
        return false;
    };
    value.chars().count() <= EMAIL_CHARS_MAX
        && !local.is_empty()
        && domain.contains('.')
        && !domain.starts_with('.')
        && !domain.ends_with('.')
        && !domain.contains('@')
        && !value.chars().any(|c| c.is_whitespace() || c.is_control())
}

fn is_spdx_id(value: &str) -> bool {
    !value.is_empty()
        && value.len() <= LICENSE_CHARS_MAX
        && value
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'-' | b'+'))
}

fn truncate_for_message(value: &str) -> String {
    value.chars().take(80).collect()
}

impl RecordContent {
    /// Checks every rule not expressed by the types; returns all broken rules,
    /// each naming its field (`links[2].url`).
    pub fn validate(&self) -> Result<(), ValidationErrors> {
        let mut check = Checker::default();
        check.text("title", &self.title, TITLE_CHARS_MAX, false);
        check.text("summary", &self.summary, SUMMARY_CHARS_MAX, true);
        check.text("body", &self.body, BODY_CHARS_MAX, true);
        for (name, text) in self.sections.named() {
            if let Some(text) = text {
                check.text(&format!("sections.{name}"), text, SECTION_CHARS_MAX, true);
            }
        }
        self.validate_translations(&mut check);
        if self.themes.is_empty() {
            check.push(ValidationError::Missing {
                field: "themes".into(),
            });
        }
        check.count("themes", self.themes.len(), THEMES_MAX);
        check.unique("themes", &self.themes);
        if let Some(region) = &self.region {
            check.text("region", region, REGION_CHARS_MAX, false);
        }
        check.count("target_groups", self.target_groups.len(), TARGET_GROUPS_MAX);
        check.unique("target_groups", &self.target_groups);
        Self::validate_tags(
            &mut check,
            "target_group_tags",
            &self.target_group_tags,
            TARGET_GROUP_TAGS_MAX,
        );
        Self::validate_tags(&mut check, "tags", &self.tags, TAGS_MAX);
        check.count("sdgs", self.sdgs.len(), SDGS_MAX);
        check.unique("sdgs", &self.sdgs);
        for (index, sdg) in self.sdgs.iter().enumerate() {
            if !(1..=17).contains(sdg) {
                check.push(ValidationError::Sdg {
                    field: format!("sdgs[{index}]"),
                    value: *sdg,
                });
            }
        }
        check.count("funding", self.funding.len(), FUNDING_MAX);
        for (index, funding) in self.funding.iter().enumerate() {
            if let Some(programme) = &funding.programme {
                check.text(
                    &format!("funding[{index}].programme"),
                    programme,
                    PROGRAMME_CHARS_MAX,
                    false,
                );
            }
        }
        check.count("organisations", self.organisations.len(), ORGANISATIONS_MAX);
        for (index, organisation) in self.organisations.iter().enumerate() {
            let field = format!("organisations[{index}]");
            check.text(
                &format!("{field}.name"),
                &organisation.name,
                NAME_CHARS_MAX,
                false,
            );
            check.text(
                &format!("{field}.role"),
                &organisation.role,
                ROLE_CHARS_MAX,
                false,
            );
            if let Some(url) = &organisation.url {
                check.url(&format!("{field}.url"), url);
            }
        }
        if let Some(contact) = &self.contact {
            Self::validate_contact(&mut check, contact);
        }
        check.year("year_start", self.year_start);
        if let Some(year_end) = self.year_end {
            check.year("year_end", year_end);
            if year_end < self.year_start {
                check.push(ValidationError::YearOrder {
                    field: "year_end".into(),
                });
            }
        }
        check.count("links", self.links.len(), LINKS_MAX);
        for (index, link) in self.links.iter().enumerate() {
            check.url(&format!("links[{index}].url"), &link.url);
            if let Some(title) = &link.title {
                check.text(
                    &format!("links[{index}].title"),
                    title,
                    LINK_TITLE_CHARS_MAX,
                    false,
                );
            }
        }
        if !is_spdx_id(&self.license) {
            check.push(ValidationError::License {
                field: "license".into(),
                value: truncate_for_message(&self.license),
            });
        }
        check.count("relations", self.relations.len(), RELATIONS_MAX);
        check.finish()
    }

    fn validate_translations(&self, check: &mut Checker) {
        check.count("translations", self.translations.len(), TRANSLATIONS_MAX);
        for (lang, translation) in &self.translations {
            let field = format!("translations.{lang}");
            if *lang == self.lang {
                check.push(ValidationError::TranslationSameLanguage {
                    field: field.clone(),
                    value: lang.to_string(),
                });
            }
            check.text(
                &format!("{field}.title"),
                &translation.title,
                TITLE_CHARS_MAX,
                false,
            );
            check.text(
                &format!("{field}.summary"),
                &translation.summary,
                SUMMARY_CHARS_MAX,
                true,
            );
            if let Some(body) = &translation.body {
                check.text(
                    &format!("{field}.body"),
                    body,
                    TRANSLATION_BODY_CHARS_MAX,
                    true,
                );
            }
        }
    }

    fn validate_tags(check: &mut Checker, field: &str, tags: &[String], max: usize) {
        check.count(field, tags.len(), max);
        check.unique(field, tags);
        for (index, tag) in tags.iter().enumerate() {
            check.text(&format!("{field}[{index}]"), tag, TAG_CHARS_MAX, false);
        }
    }

    fn validate_contact(check: &mut Checker, contact: &Contact) {
        if let Some(name) = &contact.name {
            check.text("contact.name", name, NAME_CHARS_MAX, false);
        }
        if let Some(email) = &contact.email {
            if !is_email(email) {
                check.push(ValidationError::Email {
                    field: "contact.email".into(),
                    value: truncate_for_message(email),
                });
            }
        }
        if let Some(url) = &contact.url {
            check.url("contact.url", url);
        }
    }

    /// Decodes editor input (JSON) strictly: unknown fields and trailing bytes
    /// are refused, and a [`DecodeError::Shape`](crate::DecodeError::Shape)
    /// carries the field path. Does not validate: call
    /// [`RecordContent::validate`] next.
    pub fn from_json(json: &[u8]) -> Result<Self, crate::DecodeError> {
        crate::decode::decode_json(json)
    }
}
