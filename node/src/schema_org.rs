//! The one mapping of a record to schema.org (`CreativeWork`, JSON-LD), used
//! wherever a record leaves the node as linked data: the JSON-LD block of a
//! record's web page, the record page asked for `application/ld+json`
//! (content negotiation) and `seednet export --format jsonld`.
//!
//! Why one: catalogues, search engines and open-data portals read these
//! fields; a record must say the same thing to each of them. Every address
//! is absolute, built from the node's public URL, and every reference to a
//! node of the graph is an `{"@id": …}` object, so it expands to an IRI
//! whatever context a consumer applies. No member is ever `null`: a field
//! the record does not have is left out.
//!
//! | record field | schema.org |
//! | --- | --- |
//! | origin/id | `@id` and `url`: the record's page (`/records/{origin}/{id}`); `identifier` (`{origin}/{id}`); the JSON API address as `encoding` (`MediaObject`, `application/json`) |
//! | title, summary, body | `name`, `description`, `text` |
//! | lang | `inLanguage` |
//! | kind | `genre` (the kind's slug) |
//! | themes (competence areas) | `about` (`DefinedTerm`: the slug as `termCode`, in the `DefinedTermSet` of the SEED competence areas) |
//! | tags | `keywords` |
//! | country, region | `spatialCoverage` (`Place` with a `PostalAddress`: `addressCountry`, `addressRegion`) |
//! | year_start, year_end | `temporalCoverage` (`2021/2023`, open end `2021/..`) |
//! | target groups and their tags | `audience` (`Audience`, `audienceType`) |
//! | organisations | `contributor` (`Organization`: name, url, role as description) |
//! | funding | `funder` (`Organization`, one per distinct source) and `funding` (`Grant`: source slug as identifier, programme as name, its `funder`) |
//! | links | `citation` (`WebPage`: url, title as name) |
//! | contact | `maintainer` (`Organization`: name, email, url; a person or an office) |
//! | relations `adapted_from`, `part_of` | `isBasedOn`, `isPartOf` (`{"@id"}` of the other record's page); `related` and `replaces` have no schema.org property and are left out |
//! | translations | `workTranslation` (`CreativeWork` with `@id` = the page with `?tr={lang}`, `inLanguage`, name, description, text, `translationOfWork` pointing back) |
//! | version, signed_at | `version`, `dateModified` |
//! | license (an SPDX id) | `license`: `{"@id": "https://spdx.org/licenses/{id}.html"}` |
//! | the origin centre's name, when known | `publisher` (`Organization`) |

use std::collections::BTreeSet;

use seednet_protocol::{FundingSource, Record, RecordContent, RecordKey, RelationType};
use serde_json::{json, Map, Value};

/// The schema.org context every document names.
pub const SCHEMA_ORG_CONTEXT: &str = "https://schema.org/";

/// The media type of a JSON-LD document (RFC 6839 suffix `+json`).
pub const JSON_LD_MEDIA_TYPE: &str = "application/ld+json";

/// Where the SPDX licence list publishes each licence, by id.
pub const SPDX_LICENSE_URL_PREFIX: &str = "https://spdx.org/licenses/";

/// The record's address in the JSON API of the node at `public_url`.
pub fn record_api_url(public_url: &str, key: &RecordKey) -> String {
    format!(
        "{}/api/v1/records/{}/{}",
        public_url.trim_end_matches('/'),
        key.origin,
        key.id
    )
}

/// The record's web page on the node at `public_url`: also its `@id`.
pub fn record_page_url(public_url: &str, key: &RecordKey) -> String {
    format!(
        "{}/records/{}/{}",
        public_url.trim_end_matches('/'),
        key.origin,
        key.id
    )
}

/// The SPDX licence list's page of the licence `spdx_id`.
pub fn license_url(spdx_id: &str) -> String {
    format!("{SPDX_LICENSE_URL_PREFIX}{spdx_id}.html")
}

/// A funding source's name in English, for the `funder` organisation.
pub fn funding_source_name(source: FundingSource) -> &'static str {
    match source {
        FundingSource::EsfPlus => "European Social Fund Plus (ESF+)",
        FundingSource::Easi => "EU programme for Employment and Social Innovation (EaSI)",
        FundingSource::Erdf => "European Regional Development Fund (ERDF)",
        FundingSource::National => "National funds",
        FundingSource::Regional => "Regional funds",
        FundingSource::Private => "Private funds",
        FundingSource::Other => "Other funds",
    }
}

/// A JSON object from `(name, value)` pairs, leaving out the absent ones:
/// the one way this module builds objects, so no member is ever `null`.
fn object<const N: usize>(members: [(&str, Option<Value>); N]) -> Value {
    let map: Map<String, Value> = members
        .into_iter()
        .filter_map(|(name, value)| value.map(|value| (name.to_string(), value)))
        .collect();
    Value::Object(map)
}

fn text(value: &str) -> Option<Value> {
    Some(json!(value))
}

fn optional(value: Option<&String>) -> Option<Value> {
    value.map(|value| json!(value))
}

fn reference(iri: String) -> Value {
    json!({ "@id": iri })
}

/// A list, or nothing when it is empty.
fn list(values: Vec<Value>) -> Option<Value> {
    (!values.is_empty()).then_some(Value::Array(values))
}

/// One live record version as a schema.org `CreativeWork` node, without
/// `@context` (a graph names it once; see [`with_context`]). `publisher` is
/// the origin centre's name, when this node knows it.
pub fn creative_work(
    record: &Record,
    content: &RecordContent,
    public_url: &str,
    publisher: Option<&str>,
) -> Value {
    let key = &record.key;
    let page_url = record_page_url(public_url, key);
    let related = |wanted: RelationType| -> Option<Value> {
        list(
            content
                .relations
                .iter()
                .filter(|relation| relation.relation_type == wanted)
                .map(|relation| reference(record_page_url(public_url, &relation.target)))
                .collect(),
        )
    };
    let address = object([
        ("@type", text("PostalAddress")),
        ("addressCountry", text(content.country.as_str())),
        ("addressRegion", optional(content.region.as_ref())),
    ]);
    let audiences: Vec<Value> = content
        .target_groups
        .iter()
        .map(|group| group.as_str().to_string())
        .chain(content.target_group_tags.iter().cloned())
        .map(|name| json!({"@type": "Audience", "audienceType": name}))
        .collect();
    let funder_of = |source: FundingSource| json!({"@type": "Organization", "name": funding_source_name(source)});
    let sources: BTreeSet<&'static str> = content
        .funding
        .iter()
        .map(|funding| funding_source_name(funding.source))
        .collect();
    let translations: Vec<Value> = content
        .translations
        .iter()
        .map(|(lang, translation)| {
            object([
                ("@type", text("CreativeWork")),
                ("@id", Some(json!(format!("{page_url}?tr={lang}")))),
                ("inLanguage", text(lang.as_str())),
                ("name", text(&translation.title)),
                ("description", text(&translation.summary)),
                ("text", optional(translation.body.as_ref())),
                ("translationOfWork", Some(reference(page_url.clone()))),
            ])
        })
        .collect();
    object([
        ("@type", text("CreativeWork")),
        ("@id", Some(json!(page_url))),
        ("url", Some(json!(page_url))),
        (
            "identifier",
            Some(json!(format!("{}/{}", key.origin, key.id))),
        ),
        (
            "encoding",
            Some(json!({
                "@type": "MediaObject",
                "contentUrl": record_api_url(public_url, key),
                "encodingFormat": "application/json",
            })),
        ),
        ("name", text(&content.title)),
        ("description", text(&content.summary)),
        (
            "text",
            (!content.body.is_empty()).then(|| json!(content.body)),
        ),
        ("inLanguage", text(content.lang.as_str())),
        ("genre", text(content.kind.as_str())),
        ("version", Some(json!(record.version))),
        ("dateModified", Some(json!(record.signed_at.to_string()))),
        ("license", Some(reference(license_url(&content.license)))),
        (
            "about",
            list(
                content
                    .themes
                    .iter()
                    .map(|theme| {
                        json!({
                            "@type": "DefinedTerm",
                            "termCode": theme.as_str(),
                            "inDefinedTermSet": {
                                "@type": "DefinedTermSet",
                                "name": "SEED competence areas",
                            },
                        })
                    })
                    .collect(),
            ),
        ),
        (
            "keywords",
            (!content.tags.is_empty()).then(|| json!(content.tags)),
        ),
        (
            "spatialCoverage",
            Some(json!({"@type": "Place", "address": address})),
        ),
        (
            "temporalCoverage",
            Some(json!(match content.year_end {
                Some(end) => format!("{}/{end}", content.year_start),
                None => format!("{}/..", content.year_start),
            })),
        ),
        ("audience", list(audiences)),
        (
            "contributor",
            list(
                content
                    .organisations
                    .iter()
                    .map(|organisation| {
                        object([
                            ("@type", text("Organization")),
                            ("name", text(&organisation.name)),
                            ("url", optional(organisation.url.as_ref())),
                            ("description", text(&organisation.role)),
                        ])
                    })
                    .collect(),
            ),
        ),
        (
            "funder",
            list(
                sources
                    .iter()
                    .map(|name| json!({"@type": "Organization", "name": name}))
                    .collect(),
            ),
        ),
        (
            "funding",
            list(
                content
                    .funding
                    .iter()
                    .map(|funding| {
                        object([
                            ("@type", text("Grant")),
                            (
                                "identifier",
                                Some(
                                    serde_json::to_value(funding.source)
                                        .expect("a funding source is a slug"),
                                ),
                            ),
                            ("name", optional(funding.programme.as_ref())),
                            ("funder", Some(funder_of(funding.source))),
                        ])
                    })
                    .collect(),
            ),
        ),
        (
            "citation",
            list(
                content
                    .links
                    .iter()
                    .map(|link| {
                        object([
                            ("@type", text("WebPage")),
                            ("url", text(&link.url)),
                            ("name", optional(link.title.as_ref())),
                        ])
                    })
                    .collect(),
            ),
        ),
        (
            "maintainer",
            content.contact.as_ref().map(|contact| {
                object([
                    ("@type", text("Organization")),
                    ("name", optional(contact.name.as_ref())),
                    ("email", optional(contact.email.as_ref())),
                    ("url", optional(contact.url.as_ref())),
                ])
            }),
        ),
        ("isBasedOn", related(RelationType::AdaptedFrom)),
        ("isPartOf", related(RelationType::PartOf)),
        ("workTranslation", list(translations)),
        (
            "publisher",
            publisher.map(|name| json!({"@type": "Organization", "name": name})),
        ),
    ])
}

/// `node` as a document of its own, with the schema.org `@context`.
pub fn with_context(mut node: Value) -> Value {
    if let Value::Object(map) = &mut node {
        map.insert("@context".into(), json!(SCHEMA_ORG_CONTEXT));
    }
    node
}

/// JSON text safe to place inside a `<script>` element: `<`, `>` and `&` are
/// written as JSON escapes, so record text cannot close the element.
pub fn script_safe(value: &Value) -> String {
    value
        .to_string()
        .replace('<', "\\u003c")
        .replace('>', "\\u003e")
        .replace('&', "\\u0026")
}

/// Every `null` and every relative address in a JSON-LD document, as
/// `path: value` lines: `@id` values and the members that hold addresses
/// (`url`, `contentUrl`) must be absolute http(s) URLs. Empty when the
/// document is clean; the tests of every JSON-LD producer ask it.
pub fn check_document(value: &Value) -> Vec<String> {
    fn walk(value: &Value, path: &str, problems: &mut Vec<String>) {
        match value {
            Value::Null => problems.push(format!("{path}: null")),
            Value::Array(items) => {
                for (index, item) in items.iter().enumerate() {
                    walk(item, &format!("{path}[{index}]"), problems);
                }
            }
            Value::Object(members) => {
                for (name, member) in members {
                    let here = format!("{path}.{name}");
                    let holds_address = matches!(name.as_str(), "@id" | "url" | "contentUrl");
                    if holds_address {
                        let absolute = member
                            .as_str()
                            .and_then(|text| url::Url::parse(text).ok())
                            .is_some_and(|url| {
                                matches!(url.scheme(), "http" | "https") && url.has_host()
                            });
                        if !absolute {
                            problems.push(format!("{here}: not an absolute URL: {member}"));
                        }
                    }
                    walk(member, &here, problems);
                }
            }
            _ => {}
        }
    }
    let mut problems = Vec::new();
    walk(value, "$", &mut problems);
    problems
}

#[cfg(test)]
mod tests {
    use super::*;
    use seednet_protocol::testing::{sample_content, sign_sample, test_key};
    use seednet_protocol::{
        Contact, Funding, Link, Organisation, Provenance, RecordId, Relation, Translation,
    };

    /// A record that uses every optional part, half-filled where it can be
    /// (a contact with a name only, funding without a programme, an
    /// organisation without a web site, a translation without a body).
    fn rich_content() -> RecordContent {
        let mut content = sample_content("it", "IT", "Bilancio partecipativo");
        content.region = Some("Toscana".into());
        content.tags = vec!["quartieri".into()];
        content.target_group_tags = vec!["associazioni di quartiere".into()];
        content.funding = vec![
            Funding {
                source: FundingSource::EsfPlus,
                programme: None,
            },
            Funding {
                source: FundingSource::EsfPlus,
                programme: Some("PON Inclusione".into()),
            },
        ];
        content.organisations = vec![
            Organisation {
                name: "Comune".into(),
                role: "lead".into(),
                url: None,
            },
            Organisation {
                name: "Rete".into(),
                role: "partner".into(),
                url: Some("https://rete.example/".into()),
            },
        ];
        content.contact = Some(Contact {
            name: Some("Ufficio partecipazione".into()),
            ..Contact::default()
        });
        content.links = vec![Link {
            url: "https://comune.example/bilancio".into(),
            title: None,
        }];
        content.translations.insert(
            seednet_protocol::LanguageTag::parse("en").unwrap(),
            Translation {
                title: "Participatory budgeting".into(),
                summary: "Residents decide".into(),
                body: None,
                provenance: Provenance::Human,
                reviewed: false,
            },
        );
        content.relations = vec![
            Relation {
                relation_type: RelationType::AdaptedFrom,
                target: RecordKey {
                    origin: test_key(2).node_id(),
                    id: RecordId::parse("01J0000000000000000000000A").unwrap(),
                },
            },
            Relation {
                relation_type: RelationType::PartOf,
                target: RecordKey {
                    origin: test_key(1).node_id(),
                    id: RecordId::parse("01J0000000000000000000000B").unwrap(),
                },
            },
        ];
        content
    }

    /// The record's document as a page of the node at `public_url` shows it.
    fn document(content: RecordContent, public_url: &str, publisher: Option<&str>) -> Value {
        let signed = sign_sample(&test_key(1), "r1", 3, content);
        let record = signed.value();
        with_context(creative_work(
            record,
            record.content().unwrap(),
            public_url,
            publisher,
        ))
    }

    #[test]
    fn record_text_cannot_close_the_script_element() {
        let content = sample_content("it", "IT", "</script><script>alert(1)</script>");
        let value = document(content, "https://seed-it.example", Some("Centro"));
        let text = script_safe(&value);
        assert!(!text.contains('<'), "{text}");
        let parsed: Value = serde_json::from_str(&text).unwrap();
        assert_eq!(parsed["name"], "</script><script>alert(1)</script>");
        assert_eq!(parsed["inLanguage"], "it");
        assert_eq!(parsed["publisher"]["name"], "Centro");
        assert_eq!(parsed["version"], 3);
        assert_eq!(parsed["@context"], SCHEMA_ORG_CONTEXT);
    }

    #[test]
    fn the_record_is_identified_by_its_page() {
        let value = document(
            sample_content("el", "GR", "Τίτλος"),
            "https://seed-gr.example/",
            None,
        );
        let origin = test_key(1).node_id();
        let page = format!("https://seed-gr.example/records/{origin}/r1");
        assert_eq!(value["@id"], page);
        assert_eq!(value["url"], page);
        assert_eq!(
            value["encoding"]["contentUrl"],
            format!("https://seed-gr.example/api/v1/records/{origin}/r1")
        );
        assert_eq!(value["spatialCoverage"]["@type"], "Place");
        assert_eq!(value["spatialCoverage"]["address"]["addressCountry"], "GR");
        assert_eq!(
            value["license"]["@id"],
            "https://spdx.org/licenses/CC-BY-4.0.html"
        );
        assert!(value.get("publisher").is_none());
    }

    #[test]
    fn no_value_is_null_and_every_address_is_absolute() {
        for content in [sample_content("sl", "SI", "Naslov"), rich_content()] {
            let value = document(content, "http://127.0.0.1:8470", Some("Centro"));
            assert_eq!(check_document(&value), Vec::<String>::new(), "{value:#}");
        }
    }

    #[test]
    fn every_field_of_a_rich_record_has_its_property() {
        let value = document(rich_content(), "https://seed-it.example", None);
        let page = value["@id"].as_str().unwrap().to_string();
        assert_eq!(value["about"][0]["termCode"], "co-design");
        assert_eq!(value["audience"][0]["audienceType"], "youth");
        assert_eq!(
            value["audience"][1]["audienceType"],
            "associazioni di quartiere"
        );
        assert_eq!(
            value["spatialCoverage"]["address"]["addressRegion"],
            "Toscana"
        );
        // One funder per distinct source; each grant names its funder.
        assert_eq!(value["funder"].as_array().unwrap().len(), 1);
        assert_eq!(
            value["funder"][0]["name"],
            "European Social Fund Plus (ESF+)"
        );
        assert_eq!(value["funding"][1]["name"], "PON Inclusione");
        assert!(value["funding"][0].get("name").is_none());
        assert_eq!(value["contributor"][0].get("url"), None);
        let based_on = value["isBasedOn"][0]["@id"].as_str().unwrap();
        assert!(
            based_on.starts_with("https://seed-it.example/records/")
                && based_on.ends_with("/01J0000000000000000000000A"),
            "{based_on}"
        );
        assert!(value["isPartOf"][0]["@id"]
            .as_str()
            .unwrap()
            .ends_with("/01J0000000000000000000000B"));
        let translation = &value["workTranslation"][0];
        assert_eq!(translation["@id"], format!("{page}?tr=en"));
        assert_eq!(translation["inLanguage"], "en");
        assert_eq!(translation["translationOfWork"]["@id"], page);
        assert!(translation.get("text").is_none());
        assert_eq!(value["maintainer"]["name"], "Ufficio partecipazione");
        assert_eq!(value["temporalCoverage"], "2022/..");
    }

    #[test]
    fn the_check_finds_nulls_and_relative_addresses() {
        let value = json!({"@id": "/records/a/b", "x": [null], "url": "https://ok.example/"});
        let problems = check_document(&value);
        assert_eq!(problems.len(), 2, "{problems:?}");
    }
}
