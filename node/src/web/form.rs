//! The record form of the editor pages, as the text a person typed: every
//! field of [`RecordContent`], with the repeated groups (translations,
//! relations, links, organisations, funding) as numbered rows.
//!
//! Why text: a form that is refused, or sent back to add a row or to search
//! for a record to relate to, must come back with exactly what was typed,
//! including what is not valid yet. Only [`RecordForm::to_content`]
//! (in [`content`]) turns the text into typed content.
//!
//! Input names follow the protocol's field paths (`title`, `contact.email`,
//! `sections.results`, `links[2].url`), so a validation error's path leads to
//! its input ([`fields`]). Translations are numbered rows too: the protocol
//! keys them by language, and [`fields::FieldMap`] maps a language back to its
//! row.
//!
//! Checkbox lists (themes, target groups, goals) come back in the order the
//! form lists them, the vocabulary's; that is the one change a record makes
//! by going through the form unchanged.
//!
//! Every list is bounded: the body by `WEB_FORM_BYTES_MAX`, each repeated
//! group by the protocol's own limit ([`groups::Group::max`]); rows past it
//! are not read, and the form says so.

pub mod content;
pub mod fields;
pub mod groups;
pub mod vocab;

use std::collections::BTreeMap;

use seednet_protocol::DEFAULT_LICENSE as DEFAULT_LICENSE_ID;
use seednet_protocol::{CountryCode, Kind, LanguageTag, RecordContent, RecordKey};

pub use fields::{FieldError, GENERAL_FIELD};
pub use groups::{FormAction, Group};

/// The names of the six optional sections, in the order of [`seednet_protocol::Sections::named`].
pub const SECTION_NAMES: [&str; 6] = [
    "challenge",
    "approach",
    "results",
    "lessons",
    "transferability",
    "resources",
];

/// The value a ticked checkbox sends (the reviewed flag of a translation).
pub const CHECKED: &str = "yes";

/// One translation as typed.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TranslationRow {
    pub lang: String,
    pub title: String,
    pub summary: String,
    pub body: String,
    /// `human` or `machine` ([`vocab::PROVENANCES`]); empty until chosen.
    pub provenance: String,
    pub reviewed: bool,
}

/// One relation as typed or picked from the record search.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RelationRow {
    /// A slug of [`vocab::RELATION_TYPES`].
    pub relation_type: String,
    /// `origin/id`, or a record page address.
    pub target: String,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LinkRow {
    pub url: String,
    pub title: String,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct OrganisationRow {
    pub name: String,
    pub role: String,
    pub url: String,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FundingRow {
    /// A slug of [`vocab::FUNDING_SOURCES`]; empty until chosen.
    pub source: String,
    pub programme: String,
}

/// A row of a repeated group: set from its inputs (`group[i].member`), and
/// left out of the record when nothing was typed in it.
pub trait Row: Default {
    /// The members' input names, first the one that takes focus.
    const MEMBERS: &'static [&'static str];
    fn set(&mut self, member: &str, value: String);
    fn is_blank(&self) -> bool;
}

fn all_blank(values: &[&str]) -> bool {
    values.iter().all(|value| value.trim().is_empty())
}

impl Row for TranslationRow {
    const MEMBERS: &'static [&'static str] =
        &["lang", "title", "summary", "body", "provenance", "reviewed"];
    fn set(&mut self, member: &str, value: String) {
        match member {
            "lang" => self.lang = value,
            "title" => self.title = value,
            "summary" => self.summary = value,
            "body" => self.body = value,
            "provenance" => self.provenance = value,
            "reviewed" => self.reviewed = value == CHECKED,
            _ => {}
        }
    }
    fn is_blank(&self) -> bool {
        // A provenance or the reviewed box alone is not a translation.
        all_blank(&[&self.lang, &self.title, &self.summary, &self.body])
    }
}

impl Row for RelationRow {
    const MEMBERS: &'static [&'static str] = &["target", "type"];
    fn set(&mut self, member: &str, value: String) {
        match member {
            "type" => self.relation_type = value,
            "target" => self.target = value,
            _ => {}
        }
    }
    fn is_blank(&self) -> bool {
        all_blank(&[&self.target])
    }
}

impl Row for LinkRow {
    const MEMBERS: &'static [&'static str] = &["url", "title"];
    fn set(&mut self, member: &str, value: String) {
        match member {
            "url" => self.url = value,
            "title" => self.title = value,
            _ => {}
        }
    }
    fn is_blank(&self) -> bool {
        all_blank(&[&self.url, &self.title])
    }
}

impl Row for OrganisationRow {
    const MEMBERS: &'static [&'static str] = &["name", "role", "url"];
    fn set(&mut self, member: &str, value: String) {
        match member {
            "name" => self.name = value,
            "role" => self.role = value,
            "url" => self.url = value,
            _ => {}
        }
    }
    fn is_blank(&self) -> bool {
        all_blank(&[&self.name, &self.role, &self.url])
    }
}

impl Row for FundingRow {
    const MEMBERS: &'static [&'static str] = &["source", "programme"];
    fn set(&mut self, member: &str, value: String) {
        match member {
            "source" => self.source = value,
            "programme" => self.programme = value,
            _ => {}
        }
    }
    fn is_blank(&self) -> bool {
        all_blank(&[&self.source, &self.programme])
    }
}

/// The record form as submitted (or prefilled), all values as text.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RecordForm {
    pub kind: String,
    pub lang: String,
    pub title: String,
    pub summary: String,
    pub body: String,
    /// In the order of [`SECTION_NAMES`].
    pub sections: [String; 6],
    pub themes: Vec<String>,
    pub country: String,
    pub region: String,
    pub target_groups: Vec<String>,
    /// One tag per line (a tag may hold commas, never a line break).
    pub target_group_tags: String,
    /// Goal numbers as text.
    pub sdgs: Vec<String>,
    /// One keyword per line.
    pub tags: String,
    pub year_start: String,
    pub year_end: String,
    pub license: String,
    pub contact_name: String,
    pub contact_email: String,
    pub contact_url: String,
    pub translations: Vec<TranslationRow>,
    pub relations: Vec<RelationRow>,
    pub links: Vec<LinkRow>,
    pub organisations: Vec<OrganisationRow>,
    pub funding: Vec<FundingRow>,
    /// The words in the record search box of the relations group.
    pub relation_query: String,
    /// The relation type a picked search result is added as.
    pub relation_query_type: String,
    pub expected_version: Option<u64>,
    /// Groups sent with more rows than the protocol allows (the rows past
    /// the limit were not read).
    pub overfull: Vec<Group>,
}

/// Lines of a one-per-line list, trimmed, without blank ones.
pub fn list_lines(text: &str) -> impl Iterator<Item = &str> {
    text.lines().map(str::trim).filter(|line| !line.is_empty())
}

/// The rows of one group, by the index typed in their input names.
#[derive(Default)]
struct RowsBuilder<R> {
    rows: BTreeMap<usize, R>,
    overfull: bool,
}

impl<R: Row> RowsBuilder<R> {
    fn set(&mut self, group: Group, index: usize, member: &str, value: String) {
        if index >= group.max() {
            self.overfull = true;
            return;
        }
        self.rows.entry(index).or_default().set(member, value);
    }

    /// The rows in index order, numbered afresh from 0.
    fn finish(self, group: Group, overfull: &mut Vec<Group>) -> Vec<R> {
        if self.overfull {
            overfull.push(group);
        }
        self.rows.into_values().collect()
    }
}

/// `group[index].member` split up, for a known group and a decimal index
/// (one too large for `usize` is past every limit: `usize::MAX`).
fn row_input(name: &str) -> Option<(Group, usize, &str)> {
    let (group, rest) = name.split_once('[')?;
    let (index, member) = rest.split_once("].")?;
    if index.is_empty() || !index.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    Some((
        Group::from_name(group)?,
        index.parse().unwrap_or(usize::MAX),
        member,
    ))
}

impl RecordForm {
    /// A new record's defaults: this node's country and main language.
    pub fn blank(country: CountryCode, lang: Option<&LanguageTag>, year: i32) -> Self {
        RecordForm {
            kind: Kind::Practice.as_str().into(),
            lang: lang.map(|l| l.to_string()).unwrap_or_else(|| "en".into()),
            country: country.to_string(),
            year_start: year.to_string(),
            license: DEFAULT_LICENSE_ID.into(),
            relation_query_type: vocab::relation_slug(seednet_protocol::RelationType::AdaptedFrom)
                .into(),
            ..RecordForm::default()
        }
    }

    /// Every field of `content`, for editing version `version`.
    pub fn from_content(content: &RecordContent, version: u64) -> Self {
        let sections = content
            .sections
            .named()
            .map(|(_, text)| text.unwrap_or_default().to_string());
        let contact = content.contact.clone().unwrap_or_default();
        let optional = |text: &Option<String>| text.clone().unwrap_or_default();
        RecordForm {
            kind: content.kind.as_str().into(),
            lang: content.lang.to_string(),
            title: content.title.clone(),
            summary: content.summary.clone(),
            body: content.body.clone(),
            sections,
            themes: content.themes.iter().map(|t| t.as_str().into()).collect(),
            country: content.country.to_string(),
            region: optional(&content.region),
            target_groups: content
                .target_groups
                .iter()
                .map(|g| g.as_str().into())
                .collect(),
            target_group_tags: content.target_group_tags.join("\n"),
            sdgs: content.sdgs.iter().map(i64::to_string).collect(),
            tags: content.tags.join("\n"),
            year_start: content.year_start.to_string(),
            year_end: content.year_end.map(|y| y.to_string()).unwrap_or_default(),
            license: content.license.clone(),
            contact_name: optional(&contact.name),
            contact_email: optional(&contact.email),
            contact_url: optional(&contact.url),
            translations: content
                .translations
                .iter()
                .map(|(lang, translation)| TranslationRow {
                    lang: lang.to_string(),
                    title: translation.title.clone(),
                    summary: translation.summary.clone(),
                    body: optional(&translation.body),
                    provenance: vocab::provenance_slug(translation.provenance).into(),
                    reviewed: translation.reviewed,
                })
                .collect(),
            relations: content
                .relations
                .iter()
                .map(|relation| RelationRow {
                    relation_type: vocab::relation_slug(relation.relation_type).into(),
                    target: relation.target.to_string(),
                })
                .collect(),
            links: content
                .links
                .iter()
                .map(|link| LinkRow {
                    url: link.url.clone(),
                    title: optional(&link.title),
                })
                .collect(),
            organisations: content
                .organisations
                .iter()
                .map(|organisation| OrganisationRow {
                    name: organisation.name.clone(),
                    role: organisation.role.clone(),
                    url: optional(&organisation.url),
                })
                .collect(),
            funding: content
                .funding
                .iter()
                .map(|funding| FundingRow {
                    source: vocab::funding_slug(funding.source).into(),
                    programme: optional(&funding.programme),
                })
                .collect(),
            relation_query: String::new(),
            relation_query_type: vocab::relation_slug(seednet_protocol::RelationType::AdaptedFrom)
                .into(),
            expected_version: Some(version),
            overfull: Vec::new(),
        }
    }

    /// Reads a submitted form body (`application/x-www-form-urlencoded`).
    /// Unknown inputs are ignored (the CSRF token and the pressed button are
    /// read by the page); line breaks become LF.
    pub fn from_pairs(pairs: &[(String, String)]) -> Self {
        let mut form = RecordForm::default();
        let mut translations = RowsBuilder::<TranslationRow>::default();
        let mut relations = RowsBuilder::<RelationRow>::default();
        let mut links = RowsBuilder::<LinkRow>::default();
        let mut organisations = RowsBuilder::<OrganisationRow>::default();
        let mut funding = RowsBuilder::<FundingRow>::default();
        for (name, value) in pairs {
            // Browsers send a text area's line breaks as CRLF; records keep
            // the LF they were written with.
            let value = value.replace("\r\n", "\n");
            match name.as_str() {
                "kind" => form.kind = value,
                "lang" => form.lang = value,
                "title" => form.title = value,
                "summary" => form.summary = value,
                "body" => form.body = value,
                "themes" => form.themes.push(value),
                "country" => form.country = value,
                "region" => form.region = value,
                "target_groups" => form.target_groups.push(value),
                "target_group_tags" => form.target_group_tags = value,
                "sdgs" => form.sdgs.push(value),
                "tags" => form.tags = value,
                "year_start" => form.year_start = value,
                "year_end" => form.year_end = value,
                "license" => form.license = value,
                "contact.name" => form.contact_name = value,
                "contact.email" => form.contact_email = value,
                "contact.url" => form.contact_url = value,
                "relation_search.q" => form.relation_query = value,
                "relation_search.type" => form.relation_query_type = value,
                "expected_version" => form.expected_version = value.trim().parse().ok(),
                other => {
                    if let Some(section) = other.strip_prefix("sections.") {
                        if let Some(slot) = SECTION_NAMES.iter().position(|s| *s == section) {
                            form.sections[slot] = value;
                        }
                        continue;
                    }
                    let Some((group, index, member)) = row_input(other) else {
                        continue;
                    };
                    match group {
                        Group::Translations => translations.set(group, index, member, value),
                        Group::Relations => relations.set(group, index, member, value),
                        Group::Links => links.set(group, index, member, value),
                        Group::Organisations => organisations.set(group, index, member, value),
                        Group::Funding => funding.set(group, index, member, value),
                    }
                }
            }
        }
        let overfull = &mut form.overfull;
        form.translations = translations.finish(Group::Translations, overfull);
        form.relations = relations.finish(Group::Relations, overfull);
        form.links = links.finish(Group::Links, overfull);
        form.organisations = organisations.finish(Group::Organisations, overfull);
        form.funding = funding.finish(Group::Funding, overfull);
        form
    }

    /// The text of the section `name` (one of [`SECTION_NAMES`]).
    pub fn section(&self, name: &str) -> &str {
        SECTION_NAMES
            .iter()
            .position(|s| *s == name)
            .map(|slot| self.sections[slot].as_str())
            .unwrap_or("")
    }

    /// The record keys the relation rows name, where they parse.
    pub fn relation_targets(&self) -> Vec<RecordKey> {
        self.relations
            .iter()
            .filter_map(|row| parse_record_key(&row.target))
            .collect()
    }
}

/// `origin/id` as shown on record pages (a record URL path is accepted too).
pub fn parse_record_key(text: &str) -> Option<RecordKey> {
    let text = text.trim().trim_end_matches('/');
    let path = match text.find("/records/") {
        Some(start) => &text[start + "/records/".len()..],
        None => text,
    };
    let (origin, id) = path.split_once('/')?;
    super::pages::record::parse_key(origin, id)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pairs(list: &[(&str, &str)]) -> Vec<(String, String)> {
        list.iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn rows_are_read_by_index_and_renumbered() {
        let form = RecordForm::from_pairs(&pairs(&[
            ("links[3].url", "https://b.example/"),
            ("links[0].url", "https://a.example/"),
            ("links[0].title", "A"),
            ("translations[1].lang", "el"),
            ("translations[1].reviewed", CHECKED),
            ("sections.results", "Più iscritti"),
            ("sections.unknown", "ignored"),
        ]));
        assert_eq!(
            form.links,
            vec![
                LinkRow {
                    url: "https://a.example/".into(),
                    title: "A".into()
                },
                LinkRow {
                    url: "https://b.example/".into(),
                    title: String::new()
                },
            ]
        );
        assert_eq!(form.translations.len(), 1);
        assert!(form.translations[0].reviewed);
        assert_eq!(form.section("results"), "Più iscritti");
        assert!(form.overfull.is_empty());
    }

    #[test]
    fn rows_past_the_protocol_limit_are_not_read_and_are_reported() {
        let far = format!("links[{}].url", Group::Links.max());
        let form = RecordForm::from_pairs(&pairs(&[
            (&far, "https://x.example/"),
            ("funding[99999999999999999999999].source", "easi"),
        ]));
        assert!(form.links.is_empty() && form.funding.is_empty());
        assert_eq!(form.overfull, vec![Group::Links, Group::Funding]);
    }

    #[test]
    fn section_names_follow_the_protocol_order() {
        let names = seednet_protocol::Sections::default()
            .named()
            .map(|(name, _)| name);
        assert_eq!(names, SECTION_NAMES);
    }

    #[test]
    fn record_keys_are_read_from_keys_and_addresses() {
        let origin = seednet_protocol::testing::test_key(2).node_id();
        let key = format!("{origin}/torino-1");
        assert_eq!(parse_record_key(&key).unwrap().to_string(), key);
        assert_eq!(
            parse_record_key(&format!("https://seed.example/records/{key}/"))
                .unwrap()
                .to_string(),
            key
        );
        assert!(parse_record_key("not-a-key").is_none());
    }
}
