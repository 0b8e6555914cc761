//! The one mapping of a record to schema.org (`CreativeWork`, JSON-LD), used
//! wherever a record leaves the node as linked data: the JSON-LD block of a
//! record's web page and `seednet export --format jsonld`.
//!
//! Why one: catalogues, search engines and open-data portals read these
//! fields; a record must say the same thing to each of them. Addresses are
//! absolute and built from the node's public URL: `@id` is the record in the
//! JSON API (`/api/v1/records/{origin}/{id}`, stable and machine-readable),
//! `url` its page for people (`/records/{origin}/{id}`).
//!
//! | record field | schema.org |
//! | --- | --- |
//! | origin/id | `identifier`; `@id`, `url` as above |
//! | title, summary, body | `name`, `description`, `text` |
//! | lang | `inLanguage` |
//! | kind | `genre` (the kind's slug) |
//! | themes | `about` (`DefinedTerm` with the theme's slug as `termCode`) |
//! | tags | `keywords` |
//! | country, region | `spatialCoverage` (`Place`, `PostalAddress`) |
//! | year_start, year_end | `temporalCoverage` (`2021/2023`, open end `2021/..`) |
//! | target groups and their tags | `audience` (`Audience`) |
//! | organisations | `contributor` (`Organization`: name, url, role as description) |
//! | funding | `funding` (`Grant`: source slug as identifier, programme as name) |
//! | links | `citation` (`WebPage`: url, title as name) |
//! | contact | `author` (`ContactPoint`) |
//! | relations `adapted_from` | `isBasedOn` (the other record's `@id`) |
//! | translations | `workTranslation` (`CreativeWork`: inLanguage, name, description, text) |
//! | version, signed_at, license | `version`, `dateModified`, `license` |
//! | the origin centre's name, when known | `publisher` (`Organization`) |

use seednet_protocol::{Record, RecordContent, RecordKey, RelationType};
use serde_json::{json, Map, Value};

/// The schema.org context every document names.
pub const SCHEMA_ORG_CONTEXT: &str = "https://schema.org/";

/// The record's address in the JSON API of the node at `public_url`.
pub fn record_api_url(public_url: &str, key: &RecordKey) -> String {
    format!(
        "{}/api/v1/records/{}/{}",
        public_url.trim_end_matches('/'),
        key.origin,
        key.id
    )
}

/// The record's web page on the node at `public_url`.
pub fn record_page_url(public_url: &str, key: &RecordKey) -> String {
    format!(
        "{}/records/{}/{}",
        public_url.trim_end_matches('/'),
        key.origin,
        key.id
    )
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
    let mut node = Map::new();
    let mut set = |name: &str, value: Value| {
        node.insert(name.to_string(), value);
    };
    set("@type", json!("CreativeWork"));
    set("@id", json!(record_api_url(public_url, key)));
    set("url", json!(record_page_url(public_url, key)));
    set("identifier", json!(format!("{}/{}", key.origin, key.id)));
    set("name", json!(content.title));
    set("description", json!(content.summary));
    if !content.body.is_empty() {
        set("text", json!(content.body));
    }
    set("inLanguage", json!(content.lang.as_str()));
    set("genre", json!(content.kind.as_str()));
    set("version", json!(record.version));
    set("dateModified", json!(record.signed_at.to_string()));
    set("license", json!(content.license));
    set(
        "about",
        content
            .themes
            .iter()
            .map(|theme| json!({"@type": "DefinedTerm", "termCode": theme.as_str()}))
            .collect(),
    );
    if !content.tags.is_empty() {
        set("keywords", json!(content.tags));
    }
    let mut address = json!({"@type": "PostalAddress", "addressCountry": content.country.as_str()});
    if let Some(region) = &content.region {
        address["addressRegion"] = json!(region);
    }
    set(
        "spatialCoverage",
        json!({"@type": "Place", "address": address}),
    );
    set(
        "temporalCoverage",
        json!(match content.year_end {
            Some(end) => format!("{}/{end}", content.year_start),
            None => format!("{}/..", content.year_start),
        }),
    );
    let audiences: Vec<Value> = content
        .target_groups
        .iter()
        .map(|group| group.as_str().to_string())
        .chain(content.target_group_tags.iter().cloned())
        .map(|name| json!({"@type": "Audience", "audienceType": name}))
        .collect();
    if !audiences.is_empty() {
        set("audience", json!(audiences));
    }
    if !content.organisations.is_empty() {
        set(
            "contributor",
            content
                .organisations
                .iter()
                .map(|o| json!({"@type": "Organization", "name": o.name, "url": o.url, "description": o.role}))
                .collect(),
        );
    }
    if !content.funding.is_empty() {
        set(
            "funding",
            content
                .funding
                .iter()
                .map(|f| {
                    let source =
                        serde_json::to_value(f.source).expect("a funding source is a slug");
                    json!({"@type": "Grant", "identifier": source, "name": f.programme})
                })
                .collect(),
        );
    }
    if !content.links.is_empty() {
        set(
            "citation",
            content
                .links
                .iter()
                .map(|link| json!({"@type": "WebPage", "url": link.url, "name": link.title}))
                .collect(),
        );
    }
    if let Some(contact) = &content.contact {
        set(
            "author",
            json!({"@type": "ContactPoint", "name": contact.name, "email": contact.email, "url": contact.url}),
        );
    }
    let based_on: Vec<Value> = content
        .relations
        .iter()
        .filter(|relation| relation.relation_type == RelationType::AdaptedFrom)
        .map(|relation| json!({"@id": record_api_url(public_url, &relation.target)}))
        .collect();
    if !based_on.is_empty() {
        set("isBasedOn", json!(based_on));
    }
    if !content.translations.is_empty() {
        set(
            "workTranslation",
            content
                .translations
                .iter()
                .map(|(lang, translation)| {
                    json!({
                        "@type": "CreativeWork",
                        "inLanguage": lang.as_str(),
                        "name": translation.title,
                        "description": translation.summary,
                        "text": translation.body,
                    })
                })
                .collect(),
        );
    }
    if let Some(name) = publisher {
        set("publisher", json!({"@type": "Organization", "name": name}));
    }
    Value::Object(node)
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

#[cfg(test)]
mod tests {
    use super::*;
    use seednet_protocol::testing::{sample_content, sign_sample, test_key};

    #[test]
    fn record_text_cannot_close_the_script_element() {
        let content = sample_content("it", "IT", "</script><script>alert(1)</script>");
        let signed = sign_sample(&test_key(1), "r1", 1, content);
        let record = signed.value();
        let value = with_context(creative_work(
            record,
            record.content().unwrap(),
            "https://seed-it.example",
            Some("Centro"),
        ));
        let text = script_safe(&value);
        assert!(!text.contains('<'), "{text}");
        let parsed: Value = serde_json::from_str(&text).unwrap();
        assert_eq!(parsed["name"], "</script><script>alert(1)</script>");
        assert_eq!(parsed["inLanguage"], "it");
        assert_eq!(parsed["publisher"]["name"], "Centro");
        assert_eq!(parsed["version"], 1);
        assert_eq!(parsed["@context"], SCHEMA_ORG_CONTEXT);
    }

    #[test]
    fn the_page_and_the_export_address_the_record_the_same_way() {
        let signed = sign_sample(&test_key(1), "r1", 3, sample_content("el", "GR", "Τίτλος"));
        let record = signed.value();
        let value = creative_work(
            record,
            record.content().unwrap(),
            "https://seed-gr.example/",
            None,
        );
        let origin = test_key(1).node_id();
        assert_eq!(
            value["@id"],
            format!("https://seed-gr.example/api/v1/records/{origin}/r1")
        );
        assert_eq!(
            value["url"],
            format!("https://seed-gr.example/records/{origin}/r1")
        );
        assert_eq!(value["spatialCoverage"]["address"]["addressCountry"], "GR");
        assert!(value.get("publisher").is_none());
    }
}
