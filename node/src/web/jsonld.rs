//! schema.org JSON-LD for a record page, so that catalogues and search
//! engines can read a record without scraping. The block is emitted inside
//! `<script type="application/ld+json">`, which browsers never execute (the
//! CSP stays strict); `<`, `>` and `&` are written as JSON escapes so record
//! text cannot close the script element.

use seednet_protocol::{Record, RelationType};
use serde_json::{json, Value};

/// The JSON-LD object describing `record`, with `page_url` as its address.
pub fn record_json_ld(record: &Record, page_url: &str, origin_name: Option<&str>) -> Value {
    let Some(content) = record.content() else {
        return json!({});
    };
    let keywords: Vec<String> = content
        .themes
        .iter()
        .map(|theme| theme.as_str().to_string())
        .chain(content.tags.iter().cloned())
        .collect();
    let based_on: Vec<String> = content
        .relations
        .iter()
        .filter(|relation| relation.relation_type == RelationType::AdaptedFrom)
        .map(|relation| format!("/records/{}/{}", relation.target.origin, relation.target.id))
        .collect();
    let mut value = json!({
        "@context": "https://schema.org",
        "@type": "CreativeWork",
        "@id": page_url,
        "url": page_url,
        "identifier": format!("{}/{}", record.key.origin, record.key.id),
        "name": content.title,
        "description": content.summary,
        "inLanguage": content.lang.as_str(),
        "version": record.version,
        "dateModified": record.signed_at.to_string(),
        "license": content.license,
        "keywords": keywords,
        "genre": content.kind.as_str(),
        "spatialCoverage": {"@type": "Country", "identifier": content.country.as_str()},
        "temporalCoverage": match content.year_end {
            Some(end) => format!("{}/{}", content.year_start, end),
            None => format!("{}/..", content.year_start),
        },
    });
    if let Some(name) = origin_name {
        value["publisher"] = json!({"@type": "Organization", "name": name});
    }
    if !based_on.is_empty() {
        value["isBasedOn"] = json!(based_on);
    }
    if !content.translations.is_empty() {
        value["workTranslation"] = content
            .translations
            .iter()
            .map(|(lang, translation)| {
                json!({"@type": "CreativeWork", "inLanguage": lang.as_str(), "name": translation.title})
            })
            .collect();
    }
    value
}

/// JSON text safe to place inside a `<script>` element.
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
        let value = record_json_ld(signed.value(), "/records/x/r1", Some("Centro"));
        let text = script_safe(&value);
        assert!(!text.contains('<'), "{text}");
        let parsed: Value = serde_json::from_str(&text).unwrap();
        assert_eq!(parsed["name"], "</script><script>alert(1)</script>");
        assert_eq!(parsed["inLanguage"], "it");
        assert_eq!(parsed["publisher"]["name"], "Centro");
        assert_eq!(parsed["version"], 1);
    }
}
