//! Each content rule is refused with its own typed error naming the field.

use seednet_protocol::testing::sample_content;
use seednet_protocol::{DecodeError, RecordContent};

/// Applies `edit` to a valid sample and expects exactly the error `code` on `field`.
fn check(edit: impl FnOnce(&mut RecordContent), code: &str, field: &str) {
    let mut content = sample_content("it", "IT", "Titolo");
    edit(&mut content);
    let errors = content.validate().expect_err("edit should break a rule");
    assert!(
        errors
            .0
            .iter()
            .any(|e| e.code() == code && e.field() == field),
        "expected {code} on {field}, got {errors:?}"
    );
}

/// Decodes JSON built from the sample with `edit`, expecting a shape error at `path`.
fn check_json(edit: impl FnOnce(&mut serde_json::Value), path: &str, message_part: &str) {
    let mut json = serde_json::to_value(sample_content("it", "IT", "Titolo")).unwrap();
    edit(&mut json);
    let error = RecordContent::from_json(json.to_string().as_bytes()).expect_err("should fail");
    match error {
        DecodeError::Shape { path: got, message } => {
            assert_eq!(got, path, "{message}");
            assert!(message.contains(message_part), "{message}");
        }
        other => panic!("expected a shape error, got {other:?}"),
    }
}

#[test]
fn the_sample_is_valid() {
    sample_content("sl", "SI", "Naslov").validate().unwrap();
    sample_content("hr", "HR", "Naslov").validate().unwrap();
}

#[test]
fn text_rules() {
    check(|c| c.title = "  ".into(), "empty", "title");
    check(|c| c.title = "x".repeat(301), "too_long", "title");
    check(|c| c.title = "a\nb".into(), "control_character", "title");
    check(
        |c| c.summary = "\u{7}".into(),
        "control_character",
        "summary",
    );
    check(|c| c.body = String::new(), "empty", "body");
    check(
        |c| c.sections.results = Some("".into()),
        "empty",
        "sections.results",
    );
    check(|c| c.region = Some("r".repeat(121)), "too_long", "region");
}

#[test]
fn list_rules() {
    check(|c| c.themes.clear(), "missing", "themes");
    check(|c| c.themes.push(c.themes[0]), "duplicate", "themes");
    check(
        |c| c.tags = (0..33).map(|i| format!("t{i}")).collect(),
        "too_many",
        "tags",
    );
    check(
        |c| c.tags = vec!["a".into(), "a".into()],
        "duplicate",
        "tags",
    );
    check(|c| c.sdgs = vec![18], "invalid_sdg", "sdgs[0]");
    check(|c| c.sdgs = vec![0], "invalid_sdg", "sdgs[0]");
}

#[test]
fn years_urls_emails_licences() {
    check(|c| c.year_start = 1800, "invalid_year", "year_start");
    check(|c| c.year_end = Some(2000), "year_order", "year_end");
    check(
        |c| {
            c.links.push(seednet_protocol::Link {
                url: "ftp://x.org".into(),
                title: None,
            })
        },
        "invalid_url",
        "links[0].url",
    );
    check(
        |c| {
            c.links.push(seednet_protocol::Link {
                url: "javascript:alert(1)".into(),
                title: None,
            })
        },
        "invalid_url",
        "links[0].url",
    );
    check(
        |c| {
            c.contact = Some(seednet_protocol::Contact {
                email: Some("nobody".into()),
                ..Default::default()
            })
        },
        "invalid_email",
        "contact.email",
    );
    check(|c| c.license = "CC BY".into(), "invalid_license", "license");
}

#[test]
fn translation_into_own_language_is_refused() {
    check(
        |c| {
            c.translations.insert(
                seednet_protocol::LanguageTag::parse("it").unwrap(),
                seednet_protocol::Translation {
                    title: "T".into(),
                    summary: "S".into(),
                    body: None,
                    provenance: seednet_protocol::Provenance::Human,
                    reviewed: true,
                },
            );
        },
        "translation_same_language",
        "translations.it",
    );
}

#[test]
fn shape_errors_name_the_field() {
    check_json(
        |j| j["colour"] = "blue".into(),
        "colour",
        "unknown field `colour`",
    );
    check_json(
        |j| j["kind"] = "recipe".into(),
        "kind",
        "unknown Kind \"recipe\"",
    );
    check_json(
        |j| j["themes"] = serde_json::json!(["cooking"]),
        "themes[0]",
        "unknown Theme",
    );
    check_json(|j| j["country"] = "XX".into(), "country", "ISO 3166-1");
    check_json(|j| j["lang"] = "Italian".into(), "lang", "language tag");
    check_json(
        |j| j["year_start"] = "2020".into(),
        "year_start",
        "invalid type",
    );
    check_json(
        |j| j["year_start"] = serde_json::json!(2020.5),
        "year_start",
        "invalid type",
    );
    check_json(
        |j| {
            j.as_object_mut().unwrap().remove("title");
        },
        "$",
        "missing field `title`",
    );
    check_json(
        |j| j["funding"] = serde_json::json!([{"source": "esf"}]),
        "funding[0].source",
        "unknown variant",
    );
}

#[test]
fn default_licence_is_filled_in() {
    let mut json = serde_json::to_value(sample_content("en", "IE", "Title")).unwrap();
    json.as_object_mut().unwrap().remove("license");
    let content = RecordContent::from_json(json.to_string().as_bytes()).unwrap();
    assert_eq!(content.license, "CC-BY-4.0");
}
