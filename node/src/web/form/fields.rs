//! Which form input a broken rule concerns, and what to tell the person.
//!
//! The protocol names each broken rule by its field path in the content
//! (`translations.el.title`, `links[2].url`, `tags[4]`); the form's inputs are
//! named by the same paths, except that rows left empty are not part of the
//! content (so `links[2]` may be the form's fourth row) and translations are
//! rows rather than keys. [`FieldMap`] remembers, for one conversion of the
//! form, which row became which entry, so every message lands next to the
//! input it is about.

use seednet_protocol::ValidationError;

use super::groups::Group;
use super::{FundingRow, LinkRow, OrganisationRow, RelationRow, TranslationRow};
use super::{Row, SECTION_NAMES};
use crate::web::i18n::UiLang;

/// A message for one form input (`_general` when it concerns no shown input).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldError {
    pub field: String,
    pub message: String,
}

pub const GENERAL_FIELD: &str = "_general";

/// Inputs named exactly by their protocol path.
const SINGLE_INPUTS: [&str; 18] = [
    "kind",
    "lang",
    "title",
    "summary",
    "body",
    "themes",
    "country",
    "region",
    "target_groups",
    "target_group_tags",
    "sdgs",
    "tags",
    "year_start",
    "year_end",
    "license",
    "contact.name",
    "contact.email",
    "contact.url",
];

/// Lists entered in one input (checkboxes, or one entry per line): an
/// error about one entry (`tags[4]`) is shown at the list's input.
const LIST_INPUTS: [&str; 5] = [
    "tags",
    "target_group_tags",
    "sdgs",
    "themes",
    "target_groups",
];

/// The HTML id of the input named `name` (`links[2].url` -> `f-links-2-url`).
pub fn input_id(name: &str) -> String {
    let mut id = String::with_capacity(name.len() + 2);
    id.push_str("f-");
    for c in name.chars() {
        match c {
            '.' | '[' => id.push('-'),
            ']' => {}
            other => id.push(other),
        }
    }
    id
}

/// The input name of a member of a group's row.
pub fn row_input_name(group: Group, index: usize, member: &str) -> String {
    format!("{}[{index}].{member}", group.name())
}

/// The input of a row that takes the focus when the row is added.
pub fn row_first_input(group: Group, index: usize) -> String {
    row_input_name(group, index, members(group)[0])
}

fn members(group: Group) -> &'static [&'static str] {
    match group {
        Group::Translations => TranslationRow::MEMBERS,
        Group::Relations => RelationRow::MEMBERS,
        Group::Links => LinkRow::MEMBERS,
        Group::Organisations => OrganisationRow::MEMBERS,
        Group::Funding => FundingRow::MEMBERS,
    }
}

/// For one conversion of the form into content: the form row of each entry
/// of the content's lists.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FieldMap {
    /// `(language as typed, trimmed; form row)` of each translation.
    translations: Vec<(String, usize)>,
    /// Per group but translations, the form row of each content entry.
    rows: Vec<(Group, Vec<usize>)>,
}

impl FieldMap {
    /// Records that the translation into `lang` came from form row `row`.
    pub fn translation(&mut self, lang: &str, row: usize) {
        self.translations.push((lang.to_string(), row));
    }

    /// Records that the next entry of `group` in the content came from form row `row`.
    pub fn entry(&mut self, group: Group, row: usize) {
        match self.rows.iter_mut().find(|(g, _)| *g == group) {
            Some((_, rows)) => rows.push(row),
            None => self.rows.push((group, vec![row])),
        }
    }

    fn row_of(&self, group: Group, entry: usize) -> Option<usize> {
        self.rows
            .iter()
            .find(|(g, _)| *g == group)
            .and_then(|(_, rows)| rows.get(entry).copied())
    }

    /// The input that shows an error about the protocol field `path` (a
    /// `content.` prefix, as the API reports it, is allowed).
    pub fn input_for(&self, path: &str) -> String {
        let path = path.strip_prefix("content.").unwrap_or(path);
        if SINGLE_INPUTS.contains(&path) {
            return path.to_string();
        }
        if let Some(section) = path.strip_prefix("sections.") {
            if SECTION_NAMES.contains(&section) {
                return path.to_string();
            }
        }
        if let Some((list, _)) = path.split_once('[') {
            if LIST_INPUTS.contains(&list) {
                return list.to_string();
            }
        }
        if let Some(rest) = path.strip_prefix("translations.") {
            let (lang, member) = rest.split_once('.').unwrap_or((rest, "lang"));
            return match self.translations.iter().find(|(typed, _)| typed == lang) {
                Some((_, row)) => row_member(Group::Translations, *row, member),
                None => Group::Translations.name().to_string(),
            };
        }
        if let Some(group) = Group::from_name(path) {
            return group.name().to_string();
        }
        if let Some((group_name, rest)) = path.split_once('[') {
            if let Some(group) = Group::from_name(group_name) {
                let (entry, member) = rest.split_once(']').unwrap_or((rest, ""));
                let member = member.trim_start_matches('.');
                return match entry.parse().ok().and_then(|e| self.row_of(group, e)) {
                    Some(row) => row_member(group, row, member),
                    None => group.name().to_string(),
                };
            }
        }
        GENERAL_FIELD.to_string()
    }

    /// Every broken rule, each at its input, in the interface language.
    pub fn errors(&self, lang: UiLang, broken: &[ValidationError]) -> Vec<FieldError> {
        broken
            .iter()
            .map(|error| FieldError {
                field: self.input_for(error.field()),
                message: validation_message(lang, error),
            })
            .collect()
    }
}

/// The input of `member` in a row; an unknown member (a nested path) is
/// shown at the row's first input.
fn row_member(group: Group, row: usize, member: &str) -> String {
    let known = members(group);
    let member = match member.split('.').next() {
        Some(member) if known.contains(&member) => member,
        _ => known[0],
    };
    row_input_name(group, row, member)
}

/// A protocol validation error in the interface language; rules without a
/// catalogue entry keep the protocol's English message.
pub fn validation_message(lang: UiLang, error: &ValidationError) -> String {
    match error {
        ValidationError::Empty { .. } => lang.t("val.empty").into(),
        ValidationError::Missing { .. } => lang.t("val.missing").into(),
        ValidationError::TooLong { max, actual, .. } => lang.tf(
            "val.too_long",
            &[("max", &max.to_string()), ("actual", &actual.to_string())],
        ),
        ValidationError::TooMany { max, .. } => {
            lang.tf("val.too_many", &[("max", &max.to_string())])
        }
        ValidationError::Duplicate { value, .. } => lang.tf("val.duplicate", &[("value", value)]),
        ValidationError::Url { value, .. } => lang.tf("val.url", &[("value", value)]),
        ValidationError::Email { .. } => lang.t("val.email").into(),
        ValidationError::Year { min, max, .. } => lang.tf(
            "val.year_range",
            &[("min", &min.to_string()), ("max", &max.to_string())],
        ),
        ValidationError::YearOrder { .. } => lang.t("val.year_order").into(),
        ValidationError::License { .. } => lang.t("val.license").into(),
        ValidationError::ControlCharacter { .. } => lang.t("val.control").into(),
        ValidationError::Sdg { .. } => lang.t("val.sdg").into(),
        ValidationError::TranslationSameLanguage { .. } => {
            lang.t("val.translation_same_language").into()
        }
        other => other.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The form of a record whose second link row and first organisation
    /// row were left empty, with translations typed as el (row 0) and
    /// ro (row 2).
    fn map() -> FieldMap {
        let mut map = FieldMap::default();
        map.translation("el", 0);
        map.translation("ro", 2);
        for row in [0, 2, 3] {
            map.entry(Group::Links, row);
        }
        map.entry(Group::Organisations, 1);
        map.entry(Group::Funding, 0);
        map.entry(Group::Relations, 4);
        map
    }

    #[test]
    fn protocol_paths_lead_to_the_inputs_that_show_them() {
        let map = map();
        let cases = [
            ("title", "title"),
            ("content.summary", "summary"),
            ("contact.email", "contact.email"),
            ("sections.lessons", "sections.lessons"),
            ("tags[4]", "tags"),
            ("target_group_tags[0]", "target_group_tags"),
            ("sdgs[2]", "sdgs"),
            ("themes", "themes"),
            ("translations.el.title", "translations[0].title"),
            ("translations.ro.summary", "translations[2].summary"),
            ("translations.ro", "translations[2].lang"),
            ("translations.hr.title", "translations"),
            ("translations", "translations"),
            ("links[0].url", "links[0].url"),
            ("links[1].title", "links[2].title"),
            ("content.links[2].url", "links[3].url"),
            ("links[7].url", "links"),
            ("links", "links"),
            ("organisations[0].role", "organisations[1].role"),
            ("funding[0].programme", "funding[0].programme"),
            ("relations[0].target.origin", "relations[4].target"),
            ("relations", "relations"),
            ("sections.other", GENERAL_FIELD),
            ("version", GENERAL_FIELD),
        ];
        for (path, input) in cases {
            assert_eq!(map.input_for(path), input, "{path}");
        }
    }

    #[test]
    fn input_ids_are_valid_fragment_targets() {
        assert_eq!(input_id("links[2].url"), "f-links-2-url");
        assert_eq!(input_id("contact.email"), "f-contact-email");
        assert_eq!(input_id("translations[0].title"), "f-translations-0-title");
    }

    #[test]
    fn messages_are_in_the_interface_language() {
        let broken = [ValidationError::Url {
            field: "links[1].url".into(),
            value: "ftp://x".into(),
        }];
        let errors = map().errors(UiLang::It, &broken);
        assert_eq!(errors[0].field, "links[2].url");
        assert_ne!(
            errors[0].message,
            validation_message(UiLang::En, &broken[0]),
            "Italian, not English"
        );
        assert!(errors[0].message.contains("ftp://x"));
    }
}
