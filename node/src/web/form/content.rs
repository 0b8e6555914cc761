//! The typed [`RecordContent`] a filled-in form describes, or every problem
//! with it at once, each at its input.
//!
//! Two kinds of problems: text that is not a value at all (a year that is
//! not a number, an unknown language, a relation target that is not a record
//! key) is found here; every other rule is the protocol's own
//! [`RecordContent::validate`], so the form never accepts what the node
//! would refuse, and never refuses what it would accept. Both are reported
//! together: a value that does not parse is replaced by a stand-in for the
//! protocol's check, and the rules that depend on the stand-in are left out.

use std::collections::BTreeMap;

use seednet_protocol::limits::{RECORD_CANONICAL_BYTES_MAX, YEAR_MIN};
use seednet_protocol::to_canonical_bytes;
use seednet_protocol::{
    Contact, CountryCode, Funding, Kind, LanguageTag, Link, Organisation, RecordContent, Relation,
    Sections, TargetGroup, Theme, Translation, ValidationError, DEFAULT_LICENSE,
};

use super::fields::{row_input_name, FieldError, FieldMap, GENERAL_FIELD};
use super::groups::Group;
use super::{list_lines, parse_record_key, vocab, RecordForm, Row};
use crate::web::i18n::UiLang;

/// Content that passed every rule, and which form row each list entry came from.
#[derive(Debug, Clone)]
pub struct Parsed {
    pub content: RecordContent,
    pub fields: FieldMap,
}

/// Problems found while reading the form, before the protocol's rules.
struct Problems {
    lang: UiLang,
    errors: Vec<FieldError>,
}

impl Problems {
    fn push(&mut self, field: impl Into<String>, key: &str) {
        self.push_text(field, self.lang.t(key).to_string());
    }

    fn push_text(&mut self, field: impl Into<String>, message: String) {
        self.errors.push(FieldError {
            field: field.into(),
            message,
        });
    }

    fn has(&self, field: &str) -> bool {
        self.errors.iter().any(|error| error.field == field)
    }

    /// `text` as a `T`, or a problem at `field`.
    fn parsed<T>(&mut self, field: &str, key: &str, value: Option<T>) -> Option<T> {
        if value.is_none() {
            self.push(field, key);
        }
        value
    }
}

/// Most canonical JSON bytes a record's envelope adds to its content (the
/// key's members, version, signing time, member names), with a record id
/// and a version of their longest.
pub const RECORD_ENVELOPE_BYTES_MAX: usize = 256;

/// Most canonical JSON bytes of the content of one record: what the
/// protocol allows a signed record, less its envelope.
pub const CONTENT_CANONICAL_BYTES_MAX: usize =
    RECORD_CANONICAL_BYTES_MAX - RECORD_ENVELOPE_BYTES_MAX;

/// A message when the content is too large to be signed (the node would
/// refuse it; the form says so instead, keeping what was typed).
fn too_large(content: &RecordContent, lang: UiLang) -> Option<FieldError> {
    let actual = to_canonical_bytes(content)
        .map(|bytes| bytes.len())
        .unwrap_or(usize::MAX);
    (actual > CONTENT_CANONICAL_BYTES_MAX).then(|| FieldError {
        field: GENERAL_FIELD.into(),
        message: lang.tf(
            "val.record_too_large",
            &[
                ("actual", &(actual / 1024).to_string()),
                ("max", &(CONTENT_CANONICAL_BYTES_MAX / 1024).to_string()),
            ],
        ),
    })
}

fn optional(text: &str) -> Option<String> {
    Some(text.trim().to_string()).filter(|text| !text.is_empty())
}

/// The non-blank rows of a group, with their form index.
fn filled<R: Row>(rows: &[R]) -> impl Iterator<Item = (usize, &R)> {
    rows.iter().enumerate().filter(|(_, row)| !row.is_blank())
}

impl RecordForm {
    /// The record content the form describes, or every problem found, each
    /// attached to its input, with messages in `lang`.
    pub fn to_content(&self, lang: UiLang) -> Result<Parsed, Vec<FieldError>> {
        let mut problems = Problems {
            lang,
            errors: Vec::new(),
        };
        let mut fields = FieldMap::default();
        let kind = problems.parsed("kind", "val.choose", self.kind.parse::<Kind>().ok());
        let record_lang =
            problems.parsed("lang", "val.language", LanguageTag::parse(self.lang.trim()));
        let country = problems.parsed(
            "country",
            "val.country",
            CountryCode::parse(self.country.trim()),
        );
        let themes = self.vocabulary::<Theme>(&mut problems, "themes", &self.themes);
        let target_groups =
            self.vocabulary::<TargetGroup>(&mut problems, "target_groups", &self.target_groups);
        let mut sdgs = Vec::new();
        for sdg in &self.sdgs {
            match sdg.trim().parse::<i64>() {
                Ok(number) => sdgs.push(number),
                Err(_) if !problems.has("sdgs") => problems.push("sdgs", "val.sdg"),
                Err(_) => {}
            }
        }
        let year = |text: &str| text.trim().parse::<i64>().ok();
        let year_start = problems.parsed("year_start", "val.year_number", year(&self.year_start));
        let year_end = match self.year_end.trim() {
            "" => Some(None),
            text => problems
                .parsed("year_end", "val.year_number", year(text))
                .map(Some),
        };

        let mut translations = BTreeMap::new();
        for (row, typed) in filled(&self.translations) {
            let lang_input = row_input_name(Group::Translations, row, "lang");
            let Some(tag) = problems.parsed(
                &lang_input,
                "val.language",
                LanguageTag::parse(typed.lang.trim()),
            ) else {
                continue;
            };
            let provenance = problems.parsed(
                &row_input_name(Group::Translations, row, "provenance"),
                "val.choose",
                vocab::parse_provenance(&typed.provenance),
            );
            if translations.contains_key(&tag) {
                problems.push_text(
                    lang_input,
                    lang.tf("val.duplicate", &[("value", tag.as_str())]),
                );
                continue;
            }
            let Some(provenance) = provenance else {
                continue;
            };
            fields.translation(tag.as_str(), row);
            translations.insert(
                tag,
                Translation {
                    title: typed.title.trim().to_string(),
                    summary: typed.summary.trim().to_string(),
                    body: optional(&typed.body),
                    provenance,
                    reviewed: typed.reviewed,
                },
            );
        }

        let mut relations = Vec::new();
        for (row, typed) in filled(&self.relations) {
            let relation_type = problems.parsed(
                &row_input_name(Group::Relations, row, "type"),
                "val.choose",
                vocab::parse_relation(&typed.relation_type),
            );
            let target = parse_record_key(&typed.target);
            if target.is_none() {
                problems.push_text(
                    row_input_name(Group::Relations, row, "target"),
                    lang.tf("val.record_key", &[("value", typed.target.trim())]),
                );
            }
            if let (Some(relation_type), Some(target)) = (relation_type, target) {
                fields.entry(Group::Relations, row);
                relations.push(Relation {
                    relation_type,
                    target,
                });
            }
        }

        let links = filled(&self.links)
            .map(|(row, typed)| {
                fields.entry(Group::Links, row);
                Link {
                    url: typed.url.trim().to_string(),
                    title: optional(&typed.title),
                }
            })
            .collect();
        let organisations = filled(&self.organisations)
            .map(|(row, typed)| {
                fields.entry(Group::Organisations, row);
                Organisation {
                    name: typed.name.trim().to_string(),
                    role: typed.role.trim().to_string(),
                    url: optional(&typed.url),
                }
            })
            .collect();
        let mut funding = Vec::new();
        for (row, typed) in filled(&self.funding) {
            let source = problems.parsed(
                &row_input_name(Group::Funding, row, "source"),
                "val.choose",
                vocab::parse_funding(&typed.source),
            );
            if let Some(source) = source {
                fields.entry(Group::Funding, row);
                funding.push(Funding {
                    source,
                    programme: optional(&typed.programme),
                });
            }
        }
        for group in &self.overfull {
            problems.push_text(
                group.name(),
                lang.tf("val.too_many", &[("max", &group.max().to_string())]),
            );
        }

        let contact = Contact {
            name: optional(&self.contact_name),
            email: optional(&self.contact_email),
            url: optional(&self.contact_url),
        };
        let section = |name: &str| optional(self.section(name));
        // Stand-ins for values that did not parse, so the protocol's rules
        // still check everything else.
        let content = RecordContent {
            kind: kind.unwrap_or(Kind::Practice),
            lang: record_lang
                .clone()
                .unwrap_or_else(|| LanguageTag::parse("und").expect("a valid tag")),
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
            translations,
            themes,
            country: country.unwrap_or_else(|| CountryCode::parse("IT").expect("a valid code")),
            region: optional(&self.region),
            target_groups,
            target_group_tags: list_lines(&self.target_group_tags)
                .map(str::to_string)
                .collect(),
            sdgs,
            funding,
            organisations,
            contact: (contact != Contact::default()).then_some(contact),
            year_start: year_start.unwrap_or(YEAR_MIN),
            year_end: year_end.flatten(),
            links,
            license: optional(&self.license).unwrap_or_else(|| DEFAULT_LICENSE.into()),
            tags: list_lines(&self.tags).map(str::to_string).collect(),
            relations,
        };
        let broken = match content.validate() {
            Ok(()) => Vec::new(),
            Err(broken) => broken.0,
        };
        let mut errors = problems.errors;
        let already: Vec<String> = errors.iter().map(|e| e.field.clone()).collect();
        errors.extend(
            fields
                .errors(lang, &broken)
                .into_iter()
                .zip(&broken)
                .filter(|(error, rule)| {
                    let stand_in = match rule {
                        ValidationError::TranslationSameLanguage { .. } => record_lang.is_none(),
                        ValidationError::YearOrder { .. } => year_start.is_none(),
                        _ => false,
                    };
                    !stand_in && !already.contains(&error.field)
                })
                .map(|(error, _)| error),
        );
        if errors.is_empty() {
            errors.extend(too_large(&content, lang));
        }
        if errors.is_empty() && kind.is_some() && record_lang.is_some() && country.is_some() {
            Ok(Parsed { content, fields })
        } else {
            Err(errors)
        }
    }

    /// Checkbox values of a controlled vocabulary; a value the form never
    /// offers is a problem at the group.
    fn vocabulary<T: std::str::FromStr>(
        &self,
        problems: &mut Problems,
        field: &str,
        values: &[String],
    ) -> Vec<T> {
        let mut parsed = Vec::with_capacity(values.len());
        for value in values {
            match value.parse::<T>() {
                Ok(value) => parsed.push(value),
                Err(_) if !problems.has(field) => problems.push(field, "val.choose"),
                Err(_) => {}
            }
        }
        parsed
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use seednet_protocol::testing::{sample_content, test_key};
    use seednet_protocol::{FundingSource, Provenance, RecordKey, RelationType};

    fn pairs(list: &[(&str, &str)]) -> Vec<(String, String)> {
        list.iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    /// The inputs (sorted) that have a message, for a form made of `list`.
    fn error_inputs(list: &[(&str, &str)]) -> Vec<String> {
        let form = RecordForm::from_pairs(&pairs(list));
        let mut fields: Vec<String> = match form.to_content(UiLang::En) {
            Ok(_) => Vec::new(),
            Err(errors) => errors.into_iter().map(|e| e.field).collect(),
        };
        fields.sort();
        fields.dedup();
        fields
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

    fn with<'a>(changes: &[(&'a str, &'a str)]) -> Vec<(&'a str, &'a str)> {
        let mut list: Vec<(&str, &str)> = VALID
            .iter()
            .filter(|(k, _)| !changes.iter().any(|(c, _)| c == k))
            .copied()
            .collect();
        // An empty value for a field of VALID leaves it out; other empty
        // values are sent as a browser sends an empty input.
        let dropped = |(k, v): &&(&str, &str)| v.is_empty() && VALID.iter().any(|(f, _)| f == k);
        list.extend(changes.iter().filter(|c| !dropped(c)).copied());
        list
    }

    fn expect(changes: &[(&str, &str)], inputs: &[&str]) {
        let mut expected: Vec<String> = inputs.iter().map(|i| i.to_string()).collect();
        expected.sort();
        assert_eq!(error_inputs(&with(changes)), expected, "{changes:?}");
    }

    #[test]
    fn a_valid_form_becomes_content() {
        expect(&[], &[]);
    }

    #[test]
    fn each_broken_rule_lands_on_its_input() {
        let origin = test_key(2).node_id().to_string();
        let good_key = format!("{origin}/torino");
        expect(&[("title", "")], &["title"]);
        expect(&[("themes", "")], &["themes"]);
        expect(&[("themes", "no-such-theme")], &["themes"]);
        expect(&[("year_start", "soon")], &["year_start"]);
        expect(&[("year_end", "2001")], &["year_end"]);
        expect(&[("contact.email", "nobody")], &["contact.email"]);
        expect(&[("country", "XX")], &["country"]);
        expect(&[("title", ""), ("summary", "")], &["summary", "title"]);
        expect(&[("sdgs", "18")], &["sdgs"]);
        expect(&[("sdgs", "five")], &["sdgs"]);
        expect(&[("tags", "uno\nuno")], &["tags"]);
        // Rows: the second link row is empty, the third is broken.
        expect(
            &[
                ("links[0].url", "https://a.example/"),
                ("links[1].url", ""),
                ("links[1].title", " "),
                ("links[2].url", "ftp://x.example/"),
            ],
            &["links[2].url"],
        );
        expect(
            &[("organisations[0].name", "Comune di Torino")],
            &["organisations[0].role"],
        );
        expect(&[("funding[0].programme", "FSE+")], &["funding[0].source"]);
        expect(
            &[
                ("relations[0].type", "adapted_from"),
                ("relations[0].target", "not-a-key"),
            ],
            &["relations[0].target"],
        );
        expect(
            &[
                ("relations[0].type", "cites"),
                ("relations[0].target", &good_key),
            ],
            &["relations[0].type"],
        );
        expect(
            &[
                ("translations[0].lang", ""),
                ("translations[0].provenance", "human"),
                ("translations[1].lang", "it"),
                ("translations[1].title", "Co-progettazione"),
                ("translations[1].provenance", "machine"),
            ],
            &["translations[1].summary"],
        );
        expect(
            &[
                ("translations[0].lang", "el"),
                ("translations[0].title", "Ίδια γλώσσα"),
                ("translations[0].summary", "Περίληψη"),
                ("translations[0].provenance", "human"),
            ],
            &["translations[0].lang"],
        );
        expect(
            &[
                ("translations[0].lang", "greek"),
                ("translations[0].title", "x"),
            ],
            &["translations[0].lang"],
        );
        expect(
            &[
                ("translations[0].lang", "it"),
                ("translations[0].title", "x"),
                ("translations[0].summary", "y"),
            ],
            &["translations[0].provenance"],
        );
    }

    #[test]
    fn problems_found_while_reading_are_reported_with_the_protocol_rules() {
        // An unknown language and an empty title in one go; the stand-in
        // language does not produce messages of its own.
        expect(
            &[
                ("lang", "greek"),
                ("title", ""),
                ("translations[0].lang", "und"),
                ("translations[0].title", "x"),
                ("translations[0].summary", "y"),
                ("translations[0].provenance", "human"),
            ],
            &["lang", "title"],
        );
        expect(
            &[("year_start", "soon"), ("year_end", "1800")],
            &["year_end", "year_start"],
        );
    }

    /// A record with every field of the content filled in.
    pub fn full_content() -> RecordContent {
        let mut content = sample_content("it", "IT", "Co-progettazione dei servizi a Torino");
        content.body = "**Come** funziona:\n\n- uno\n- due".into();
        content.sections.challenge = Some("La sfida".into());
        content.sections.resources = Some("Due persone, un anno".into());
        content.translations.insert(
            LanguageTag::parse("el").unwrap(),
            Translation {
                title: "Συνδιαμόρφωση υπηρεσιών στο Τορίνο".into(),
                summary: "Περίληψη".into(),
                body: None,
                provenance: Provenance::Machine,
                reviewed: false,
            },
        );
        content.translations.insert(
            LanguageTag::parse("en").unwrap(),
            Translation {
                title: "Co-design of services in Turin".into(),
                summary: "Summary".into(),
                body: Some("Body, *reviewed*.".into()),
                provenance: Provenance::Human,
                reviewed: true,
            },
        );
        // In the vocabulary's order, as checkboxes send them.
        content.themes = vec![Theme::ScalingUp, Theme::CoDesign];
        content.region = Some("Piemonte".into());
        content.target_groups = vec![TargetGroup::Youth, TargetGroup::Roma];
        content.target_group_tags = vec!["caregiver, familiari".into(), "volontari".into()];
        content.sdgs = vec![1, 11, 17];
        content.funding = vec![
            Funding {
                source: FundingSource::EsfPlus,
                programme: Some("PR FSE+ Piemonte".into()),
            },
            Funding {
                source: FundingSource::National,
                programme: None,
            },
        ];
        content.organisations.push(Organisation {
            name: "Cooperativa Esempio".into(),
            role: "partner".into(),
            url: Some("https://coop.example.org/".into()),
        });
        content.contact = Some(Contact {
            name: Some("Ufficio innovazione".into()),
            email: Some("innovazione@example.org".into()),
            url: Some("https://comune.example.org/innovazione".into()),
        });
        content.year_end = Some(2025);
        content.links = vec![
            Link {
                url: "https://comune.example.org/".into(),
                title: Some("Comune".into()),
            },
            Link {
                url: "https://example.org/report.pdf".into(),
                title: None,
            },
        ];
        content.license = "CC-BY-SA-4.0".into();
        content.tags = vec!["welfare, comunità".into(), "terzo settore".into()];
        let target = |n: u8, id: &str| RecordKey {
            origin: test_key(n).node_id(),
            id: seednet_protocol::RecordId::parse(id).unwrap(),
        };
        content.relations = vec![
            Relation {
                relation_type: RelationType::AdaptedFrom,
                target: target(2, "kardista"),
            },
            Relation {
                relation_type: RelationType::PartOf,
                target: target(3, "programma"),
            },
            Relation {
                relation_type: RelationType::Related,
                target: target(2, "milano"),
            },
            Relation {
                relation_type: RelationType::Replaces,
                target: target(1, "vecchia"),
            },
        ];
        content.validate().expect("the full content is valid");
        content
    }

    #[test]
    fn every_field_survives_content_to_form_to_content() {
        let content = full_content();
        let form = RecordForm::from_content(&content, 4);
        assert_eq!(form.expected_version, Some(4));
        let parsed = form.to_content(UiLang::El).expect("valid");
        assert_eq!(parsed.content, content);
    }

    #[test]
    fn the_envelope_of_a_record_fits_its_named_bound() {
        let content = full_content();
        let id = "r".repeat(seednet_protocol::limits::RECORD_ID_CHARS_MAX);
        let mut signed =
            seednet_protocol::testing::sign_sample(&test_key(1), &id, 1, content.clone());
        let record_bytes = signed.bytes().len();
        let content_bytes = to_canonical_bytes(&content).unwrap().len();
        let version_digits = seednet_protocol::limits::JSON_SAFE_INTEGER_MAX
            .to_string()
            .len();
        assert!(
            record_bytes - content_bytes + version_digits <= RECORD_ENVELOPE_BYTES_MAX,
            "{record_bytes} - {content_bytes}"
        );
        signed = seednet_protocol::testing::sign_sample(&test_key(1), "r", 1, content);
        assert!(signed.bytes().len() < record_bytes);
    }

    #[test]
    fn a_record_too_large_to_sign_is_refused_with_its_size() {
        let mut form = RecordForm::from_content(&full_content(), 1);
        // Within every text limit, too large together.
        form.body = "x".repeat(100_000);
        for section in form.sections.iter_mut() {
            *section = "y".repeat(20_000);
        }
        form.translations[1].body = "z".repeat(100_000);
        let errors = form.to_content(UiLang::En).expect_err("too large");
        assert_eq!(errors.len(), 1, "{errors:?}");
        assert_eq!(errors[0].field, GENERAL_FIELD);
        let max = (CONTENT_CANONICAL_BYTES_MAX / 1024).to_string();
        assert!(errors[0].message.contains(&max), "{}", errors[0].message);
    }

    #[test]
    fn empty_rows_are_left_out_and_errors_still_find_their_row() {
        let mut form = RecordForm::from_content(&full_content(), 1);
        form.links.insert(0, Default::default());
        form.links[2].url = "mailto:someone@example.org".into();
        let errors = form.to_content(UiLang::En).expect_err("a mail link");
        assert_eq!(errors.len(), 1, "{errors:?}");
        assert_eq!(errors[0].field, "links[2].url");
        assert!(errors[0].message.contains("mailto:someone@example.org"));
    }
}
