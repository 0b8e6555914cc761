//! The record form of the editor pages: parsing a submitted form into a
//! [`RecordContent`], and mapping every broken rule to the form field it
//! concerns, so the page can show each message next to its field.
//!
//! The form covers the fields an editor writes by hand. Translations,
//! funding, organisations and goals of an existing record are carried over
//! unchanged on edit (they are edited through the API or CLI), so saving the
//! form never drops data it does not show.

use std::collections::BTreeMap;

use seednet_protocol::DEFAULT_LICENSE as DEFAULT_LICENSE_ID;
use seednet_protocol::{
    Contact, CountryCode, Kind, LanguageTag, Link, RecordContent, RecordKey, Relation,
    RelationType, Sections, TargetGroup, Theme, ValidationError,
};

use super::i18n::UiLang;

/// The names of the six optional sections, as in [`Sections::named`].
pub const SECTION_NAMES: [&str; 6] = [
    "challenge",
    "approach",
    "results",
    "lessons",
    "transferability",
    "resources",
];

/// Most lines read from the links and "adapted from" text areas.
pub const FORM_LINES_MAX: usize = 64;

/// The record form as submitted (or prefilled), all values as text.
#[derive(Debug, Clone, Default)]
pub struct RecordForm {
    pub kind: String,
    pub lang: String,
    pub title: String,
    pub summary: String,
    pub body: String,
    pub sections: BTreeMap<String, String>,
    pub themes: Vec<String>,
    pub country: String,
    pub region: String,
    pub target_groups: Vec<String>,
    pub tags: String,
    pub year_start: String,
    pub year_end: String,
    pub license: String,
    pub contact_name: String,
    pub contact_email: String,
    pub contact_url: String,
    pub links: String,
    pub adapted_from: String,
    pub expected_version: Option<u64>,
}

/// A message for one form field (`_general` when it concerns no shown field).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldError {
    pub field: String,
    pub message: String,
}

pub const GENERAL_FIELD: &str = "_general";

impl RecordForm {
    /// A new record's defaults: this node's country and main language.
    pub fn blank(country: CountryCode, lang: Option<&LanguageTag>, year: i32) -> Self {
        RecordForm {
            kind: Kind::Practice.as_str().into(),
            lang: lang.map(|l| l.to_string()).unwrap_or_else(|| "en".into()),
            country: country.to_string(),
            year_start: year.to_string(),
            license: DEFAULT_LICENSE_ID.into(),
            ..RecordForm::default()
        }
    }

    pub fn from_content(content: &RecordContent, version: u64) -> Self {
        let sections = content
            .sections
            .named()
            .iter()
            .filter_map(|(name, text)| text.map(|text| (name.to_string(), text.to_string())))
            .collect();
        let contact = content.contact.clone().unwrap_or_default();
        RecordForm {
            kind: content.kind.as_str().into(),
            lang: content.lang.to_string(),
            title: content.title.clone(),
            summary: content.summary.clone(),
            body: content.body.clone(),
            sections,
            themes: content.themes.iter().map(|t| t.as_str().into()).collect(),
            country: content.country.to_string(),
            region: content.region.clone().unwrap_or_default(),
            target_groups: content
                .target_groups
                .iter()
                .map(|g| g.as_str().into())
                .collect(),
            tags: content.tags.join(", "),
            year_start: content.year_start.to_string(),
            year_end: content.year_end.map(|y| y.to_string()).unwrap_or_default(),
            license: content.license.clone(),
            contact_name: contact.name.unwrap_or_default(),
            contact_email: contact.email.unwrap_or_default(),
            contact_url: contact.url.unwrap_or_default(),
            links: content
                .links
                .iter()
                .map(|link| match &link.title {
                    Some(title) => format!("{} {title}", link.url),
                    None => link.url.clone(),
                })
                .collect::<Vec<_>>()
                .join("\n"),
            adapted_from: content
                .relations
                .iter()
                .filter(|r| r.relation_type == RelationType::AdaptedFrom)
                .map(|r| r.target.to_string())
                .collect::<Vec<_>>()
                .join("\n"),
            expected_version: Some(version),
        }
    }

    /// Reads a submitted form body (`application/x-www-form-urlencoded`).
    pub fn from_pairs(pairs: &[(String, String)]) -> Self {
        let one = |name: &str| {
            pairs
                .iter()
                .find(|(key, _)| key == name)
                .map(|(_, value)| value.clone())
                .unwrap_or_default()
        };
        let all = |name: &str| {
            pairs
                .iter()
                .filter(|(key, _)| key == name)
                .map(|(_, value)| value.clone())
                .collect::<Vec<_>>()
        };
        let sections = SECTION_NAMES
            .iter()
            .map(|name| (name.to_string(), one(&format!("sections.{name}"))))
            .filter(|(_, text)| !text.trim().is_empty())
            .collect();
        RecordForm {
            kind: one("kind"),
            lang: one("lang"),
            title: one("title"),
            summary: one("summary"),
            body: one("body"),
            sections,
            themes: all("themes"),
            country: one("country"),
            region: one("region"),
            target_groups: all("target_groups"),
            tags: one("tags"),
            year_start: one("year_start"),
            year_end: one("year_end"),
            license: one("license"),
            contact_name: one("contact.name"),
            contact_email: one("contact.email"),
            contact_url: one("contact.url"),
            links: one("links"),
            adapted_from: one("adapted_from"),
            expected_version: one("expected_version").trim().parse().ok(),
        }
    }

    /// The record content the form describes, or every problem found, each
    /// attached to its form field. `base` is the record being edited: fields
    /// the form does not show are taken from it.
    pub fn to_content(
        &self,
        base: Option<&RecordContent>,
        lang: UiLang,
    ) -> Result<RecordContent, Vec<FieldError>> {
        let mut errors = Vec::new();
        let mut push = |field: &str, message: String| {
            errors.push(FieldError {
                field: field.into(),
                message,
            })
        };
        let kind = self.kind.parse::<Kind>().ok();
        if kind.is_none() {
            push("kind", lang.t("val.choose").into());
        }
        let record_lang = LanguageTag::parse(self.lang.trim());
        if record_lang.is_none() {
            push("lang", lang.t("val.language").into());
        }
        let country = CountryCode::parse(self.country.trim());
        if country.is_none() {
            push("country", lang.t("val.country").into());
        }
        let themes: Vec<Theme> = self.themes.iter().filter_map(|t| t.parse().ok()).collect();
        let target_groups: Vec<TargetGroup> = self
            .target_groups
            .iter()
            .filter_map(|g| g.parse().ok())
            .collect();
        let year_start = self.year_start.trim().parse::<i64>().ok();
        if year_start.is_none() {
            push("year_start", lang.t("val.year_number").into());
        }
        let year_end = match self.year_end.trim() {
            "" => Some(None),
            text => text.parse::<i64>().ok().map(Some),
        };
        if year_end.is_none() {
            push("year_end", lang.t("val.year_number").into());
        }
        let links: Vec<Link> = non_empty_lines(&self.links)
            .map(|line| match line.split_once(char::is_whitespace) {
                Some((url, title)) => Link {
                    url: url.to_string(),
                    title: Some(title.trim().to_string()),
                },
                None => Link {
                    url: line.to_string(),
                    title: None,
                },
            })
            .collect();
        let mut relations: Vec<Relation> = base
            .map(|base| {
                base.relations
                    .iter()
                    .filter(|r| r.relation_type != RelationType::AdaptedFrom)
                    .cloned()
                    .collect()
            })
            .unwrap_or_default();
        for line in non_empty_lines(&self.adapted_from) {
            match parse_record_key(line) {
                Some(target) => relations.push(Relation {
                    relation_type: RelationType::AdaptedFrom,
                    target,
                }),
                None => push(
                    "adapted_from",
                    lang.tf("val.record_key", &[("value", line)]),
                ),
            }
        }
        let (Some(kind), Some(record_lang), Some(country), Some(year_start), Some(year_end)) =
            (kind, record_lang, country, year_start, year_end)
        else {
            return Err(errors);
        };
        let section = |name: &str| {
            self.sections
                .get(name)
                .map(|text| text.trim().to_string())
                .filter(|text| !text.is_empty())
        };
        let optional = |text: &str| Some(text.trim().to_string()).filter(|text| !text.is_empty());
        let contact = Contact {
            name: optional(&self.contact_name),
            email: optional(&self.contact_email),
            url: optional(&self.contact_url),
        };
        let content = RecordContent {
            kind,
            lang: record_lang,
            title: self.title.trim().to_string(),
            summary: self.summary.trim().to_string(),
            body: self.body.trim().to_string(),
            sections: Sections {
                challenge: section("challenge"),
                approach: section("approach"),
                results: section("results"),
                lessons: section("lessons"),
                transferability: section("transferability"),
                resources: section("resources"),
            },
            translations: base.map(|b| b.translations.clone()).unwrap_or_default(),
            themes,
            country,
            region: optional(&self.region),
            target_groups,
            target_group_tags: base
                .map(|b| b.target_group_tags.clone())
                .unwrap_or_default(),
            sdgs: base.map(|b| b.sdgs.clone()).unwrap_or_default(),
            funding: base.map(|b| b.funding.clone()).unwrap_or_default(),
            organisations: base.map(|b| b.organisations.clone()).unwrap_or_default(),
            contact: (contact != Contact::default()).then_some(contact),
            year_start,
            year_end,
            links,
            license: optional(&self.license).unwrap_or_else(|| DEFAULT_LICENSE_ID.into()),
            tags: self
                .tags
                .split(',')
                .map(str::trim)
                .filter(|tag| !tag.is_empty())
                .map(str::to_string)
                .collect(),
            relations,
        };
        if !errors.is_empty() {
            return Err(errors);
        }
        match content.validate() {
            Ok(()) => Ok(content),
            Err(broken) => Err(broken
                .0
                .iter()
                .map(|error| FieldError {
                    field: form_field_for(error.field()).into(),
                    message: validation_message(lang, error),
                })
                .collect()),
        }
    }
}

fn non_empty_lines(text: &str) -> impl Iterator<Item = &str> {
    text.lines()
        .map(str::trim)
        .filter(|line| !line.is_empty())
        .take(FORM_LINES_MAX)
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

/// The form field that shows a protocol validation error about `path`.
pub fn form_field_for(path: &str) -> &'static str {
    const DIRECT: [&str; 16] = [
        "title",
        "summary",
        "body",
        "themes",
        "region",
        "target_groups",
        "year_start",
        "year_end",
        "license",
        "contact.name",
        "contact.email",
        "contact.url",
        "kind",
        "lang",
        "country",
        "tags",
    ];
    if let Some(field) = DIRECT.iter().find(|field| **field == path) {
        return field;
    }
    for name in SECTION_NAMES {
        if path == format!("sections.{name}") {
            return match name {
                "challenge" => "sections.challenge",
                "approach" => "sections.approach",
                "results" => "sections.results",
                "lessons" => "sections.lessons",
                "transferability" => "sections.transferability",
                _ => "sections.resources",
            };
        }
    }
    if path.starts_with("tags[") {
        "tags"
    } else if path.starts_with("links") {
        "links"
    } else if path.starts_with("relations") {
        "adapted_from"
    } else {
        GENERAL_FIELD
    }
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
        other => other.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use seednet_protocol::testing::sample_content;

    fn check(pairs: &[(&str, &str)], expected_fields: &[&str]) {
        let pairs: Vec<(String, String)> = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        let form = RecordForm::from_pairs(&pairs);
        let result = form.to_content(None, UiLang::En);
        let mut fields: Vec<String> = match result {
            Ok(_) => Vec::new(),
            Err(errors) => errors.into_iter().map(|e| e.field).collect(),
        };
        fields.sort();
        fields.dedup();
        let mut expected: Vec<String> = expected_fields.iter().map(|f| f.to_string()).collect();
        expected.sort();
        assert_eq!(fields, expected);
    }

    const VALID: [(&str, &str); 9] = [
        ("kind", "practice"),
        ("lang", "el"),
        ("title", "Συνδιαμόρφωση"),
        ("summary", "Περίληψη"),
        ("body", "Κείμενο"),
        ("themes", "co-design"),
        ("country", "GR"),
        ("year_start", "2024"),
        ("license", "CC-BY-4.0"),
    ];

    fn with(changes: &[(&'static str, &'static str)]) -> Vec<(&'static str, &'static str)> {
        let mut pairs: Vec<(&str, &str)> = VALID
            .iter()
            .filter(|(k, _)| !changes.iter().any(|(c, _)| c == k))
            .copied()
            .collect();
        pairs.extend(changes.iter().filter(|(_, v)| !v.is_empty()).copied());
        pairs
    }

    #[test]
    fn a_valid_form_becomes_content() {
        check(&VALID, &[]);
    }

    #[test]
    fn each_broken_rule_lands_on_its_field() {
        check(&with(&[("title", "")]), &["title"]);
        check(&with(&[("themes", "")]), &["themes"]);
        check(&with(&[("year_start", "soon")]), &["year_start"]);
        check(&with(&[("year_end", "2001")]), &["year_end"]);
        check(&with(&[("contact.email", "nobody")]), &["contact.email"]);
        check(&with(&[("links", "ftp://x.example/ file")]), &["links"]);
        check(&with(&[("adapted_from", "not-a-key")]), &["adapted_from"]);
        check(&with(&[("country", "XX")]), &["country"]);
        check(
            &with(&[("title", ""), ("summary", "")]),
            &["summary", "title"],
        );
    }

    #[test]
    fn editing_keeps_what_the_form_does_not_show() {
        let mut base = sample_content("it", "IT", "Co-progettazione a Torino");
        base.sdgs = vec![10, 11];
        let form = RecordForm::from_content(&base, 3);
        let pairs: Vec<(String, String)> = Vec::new();
        assert_eq!(RecordForm::from_pairs(&pairs).expected_version, None);
        let content = form.to_content(Some(&base), UiLang::It).expect("valid");
        assert_eq!(content, base);
    }
}
