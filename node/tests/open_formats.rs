//! The open formats of a node, each read from a real node on 127.0.0.1 by a
//! consumer that did not write it: a record's schema.org JSON-LD by content
//! negotiation (expanded with `pyld` against a schema.org context the test
//! ships, no network), the Atom feeds (parsed with `feedparser`), the
//! sitemap and robots.txt, and the OAI-PMH provider (harvested with `sickle`
//! and `oaipmh-scythe`, and read in Rust for the structural rules).
//!
//! The Python consumers come from PyPI (`.ci/run` installs them). When one
//! is missing a test prints a loud SKIPPED line for that consumer and checks
//! in Rust only, unless `SEEDNET_REQUIRE_PYTHON_TOOLS=1` (set by CI), which
//! makes it a failure saying what to install.

mod web_support;

use std::io::Write;
use std::path::Path;
use std::process::{Command, Stdio};

use reqwest::header::{ACCEPT, CONTENT_TYPE, VARY};
use serde_json::{json, Value};
use web_support::{content, Node};

const JSON_LD: &str = "application/ld+json";
const BROWSER_ACCEPT: &str = "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8";

fn fixture(name: &str) -> String {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/open_formats")
        .join(name)
        .to_string_lossy()
        .into_owned()
}

/// Whether `python3` can import `module` (the PyPI package `package`);
/// prints why not, or fails when `SEEDNET_REQUIRE_PYTHON_TOOLS=1`.
fn python_has(module: &str, package: &str) -> bool {
    let found = Command::new("python3")
        .args(["-c", &format!("import {module}")])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|status| status.success());
    if found {
        return true;
    }
    if std::env::var("SEEDNET_REQUIRE_PYTHON_TOOLS").as_deref() == Ok("1") {
        panic!(
            "SEEDNET_REQUIRE_PYTHON_TOOLS=1 but the Python package {package} is missing: \
             python3 -m pip install {package}"
        );
    }
    eprintln!(
        "SKIPPED: the {package} check (python3 -m pip install {package} to run it); \
         checked in Rust only"
    );
    false
}

/// Runs `python3 args…` with `input` on stdin; panics with its output
/// unless it succeeds. Returns its stdout.
fn python(args: &[&str], input: &str) -> String {
    let mut child = Command::new("python3")
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run python3");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(input.as_bytes())
        .expect("write to python3");
    let output = child.wait_with_output().expect("python3 finishes");
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    assert!(
        output.status.success(),
        "python3 {args:?} failed:\n{stdout}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    stdout
}

/// Every `null` and every address that is not an absolute http(s) URL.
fn problems(value: &Value, path: &str, found: &mut Vec<String>) {
    match value {
        Value::Null => found.push(format!("{path}: null")),
        Value::Array(items) => {
            for (index, item) in items.iter().enumerate() {
                problems(item, &format!("{path}[{index}]"), found);
            }
        }
        Value::Object(members) => {
            for (name, member) in members {
                let here = format!("{path}.{name}");
                if matches!(name.as_str(), "@id" | "url" | "contentUrl") {
                    let text = member.as_str().unwrap_or("");
                    let absolute = reqwest::Url::parse(text)
                        .is_ok_and(|url| url.scheme().starts_with("http") && url.has_host());
                    if !absolute {
                        found.push(format!("{here}: not absolute: {member}"));
                    }
                }
                problems(member, &here, found);
            }
        }
        _ => {}
    }
}

/// An Italian record with a translation, a contact, funding and an
/// organisation, and a Greek record adapted from it; their page paths.
async fn seed(node: &Node) -> (String, String) {
    let mut italian = content(
        "it",
        "IT",
        "Bilancio partecipativo di quartiere",
        "I residenti decidono come spendere una parte del bilancio comunale.",
        &["participatory-local-development", "co-design"],
    );
    italian["translations"] = json!({
        "en": {
            "title": "Neighbourhood participatory budgeting",
            "summary": "Residents decide how to spend part of the city budget.",
            "provenance": "human",
            "reviewed": true
        }
    });
    italian["region"] = json!("Toscana");
    italian["target_groups"] = json!(["youth"]);
    italian["contact"] = json!({"name": "Ufficio partecipazione"});
    italian["funding"] = json!([{"source": "esf-plus"}]);
    italian["organisations"] = json!([{"name": "Comune", "role": "lead"}]);
    let italian_path = node.publish(&italian).await;
    let key: Vec<&str> = italian_path
        .trim_start_matches("/records/")
        .split('/')
        .collect();
    let mut greek = content(
        "el",
        "GR",
        "Συμμετοχικός προϋπολογισμός στην Καρδίτσα",
        "Οι κάτοικοι αποφασίζουν για μέρος του δημοτικού προϋπολογισμού.",
        &["co-design"],
    );
    greek["relations"] = json!([{
        "type": "adapted_from",
        "target": {"origin": key[0], "id": key[1]}
    }]);
    let greek_path = node.publish(&greek).await;
    (italian_path, greek_path)
}

#[tokio::test]
async fn a_record_page_asked_for_json_ld_answers_the_schema_org_document() {
    let node = Node::start("Centro SEED Toscana", "IT", "it,el,en");
    let (italian_path, greek_path) = seed(&node).await;
    let client = reqwest::Client::new();
    let get = |path: &str, accept: &str| {
        client
            .get(format!("{}{path}", node.url))
            .header(ACCEPT, accept)
            .send()
    };

    // A browser gets the page, which embeds the same document.
    let page = get(&italian_path, BROWSER_ACCEPT).await.unwrap();
    assert_eq!(page.status(), 200);
    assert!(page.headers()[CONTENT_TYPE]
        .to_str()
        .unwrap()
        .starts_with("text/html"));
    assert_eq!(page.headers()[VARY], "accept");
    let html = page.text().await.unwrap();
    assert!(html.contains(r#"<script type="application/ld+json">"#));

    let mut documents = Vec::new();
    for path in [&italian_path, &greek_path] {
        let response = get(path, JSON_LD).await.unwrap();
        assert_eq!(response.status(), 200, "{path}");
        assert_eq!(response.headers()[CONTENT_TYPE], JSON_LD);
        assert_eq!(response.headers()[VARY], "accept");
        let document: Value = response.json().await.unwrap();
        let mut found = Vec::new();
        problems(&document, "$", &mut found);
        assert!(found.is_empty(), "{found:#?}\n{document:#}");
        assert_eq!(
            document["@id"],
            format!("{}{path}", "http://127.0.0.1:8470")
        );
        documents.push(document);
    }
    let italian = &documents[0];
    assert_eq!(italian["@context"], "https://schema.org/");
    assert_eq!(italian["@type"], "CreativeWork");
    assert_eq!(italian["inLanguage"], "it");
    assert_eq!(
        italian["license"]["@id"],
        "https://spdx.org/licenses/CC-BY-4.0.html"
    );
    assert_eq!(
        italian["about"][0]["termCode"],
        "participatory-local-development"
    );
    assert_eq!(italian["audience"][0]["audienceType"], "youth");
    assert_eq!(
        italian["spatialCoverage"]["address"]["addressRegion"],
        "Toscana"
    );
    assert_eq!(italian["funder"][0]["@type"], "Organization");
    assert_eq!(italian["publisher"]["name"], "Centro SEED Toscana");
    assert_eq!(
        italian["workTranslation"][0]["@id"],
        format!("{}?tr=en", italian["@id"].as_str().unwrap())
    );
    assert_eq!(
        italian["workTranslation"][0]["translationOfWork"]["@id"],
        italian["@id"]
    );
    // The adaptation points at the other record's @id.
    assert_eq!(documents[1]["isBasedOn"][0]["@id"], italian["@id"]);

    // A record that does not exist: JSON, not an HTML page.
    let missing = get(
        &format!("/records/{}/01J00000000000000000000000", node.node_id),
        JSON_LD,
    )
    .await
    .unwrap();
    assert_eq!(missing.status(), 404);
    assert_eq!(missing.headers()[CONTENT_TYPE], "application/json");

    if python_has("pyld", "PyLD") {
        let context = fixture("schema-org-context.jsonld");
        let script = fixture("check_jsonld.py");
        for document in &documents {
            let report = python(&[&script, &context], &document.to_string());
            assert!(report.starts_with("ok:"), "{report}");
        }
    }
}

/// What a feed reader makes of a feed document: feedparser's view when it
/// is installed, else the same fields read in Rust with quick-xml.
fn read_feed(document: &str) -> Value {
    if python_has("feedparser", "feedparser") {
        let parsed: Value =
            serde_json::from_str(&python(&[&fixture("read_atom.py")], document)).unwrap();
        assert_eq!(
            parsed["bozo"], 0,
            "feedparser: {}",
            parsed["bozo_exception"]
        );
        assert_eq!(parsed["version"], "atom10");
        return parsed;
    }
    read_feed_in_rust(document)
}

fn read_feed_in_rust(document: &str) -> Value {
    use quick_xml::events::Event;
    let mut reader = quick_xml::Reader::from_str(document);
    let mut links = serde_json::Map::new();
    let mut entries: Vec<Value> = Vec::new();
    let mut path: Vec<String> = Vec::new();
    loop {
        let event = reader.read_event().expect("well-formed XML");
        let attribute = |start: &quick_xml::events::BytesStart, name: &str| {
            start
                .try_get_attribute(name)
                .unwrap()
                .map(|value| value.unescape_value().unwrap().into_owned())
        };
        match event {
            Event::Start(start) => {
                let name = String::from_utf8_lossy(start.name().as_ref()).into_owned();
                if name == "entry" {
                    entries.push(json!({"tags": [], "lang": attribute(&start, "xml:lang")}));
                }
                path.push(name);
            }
            Event::Empty(start) => {
                let name = String::from_utf8_lossy(start.name().as_ref()).into_owned();
                let in_entry = path.last().map(String::as_str) == Some("entry");
                match (name.as_str(), in_entry) {
                    ("link", false) => {
                        links.insert(
                            attribute(&start, "rel").unwrap(),
                            json!(attribute(&start, "href")),
                        );
                    }
                    ("link", true) => {
                        entries.last_mut().unwrap()["link"] = json!(attribute(&start, "href"))
                    }
                    ("category", true) => entries.last_mut().unwrap()["tags"]
                        .as_array_mut()
                        .unwrap()
                        .push(json!(attribute(&start, "term"))),
                    _ => {}
                }
            }
            Event::Text(text) => {
                let text = text.unescape().unwrap().into_owned();
                let names: Vec<&str> = path.iter().map(String::as_str).collect();
                match names.as_slice() {
                    [.., "entry", field @ ("id" | "title" | "summary" | "updated")] => {
                        entries.last_mut().unwrap()[*field] = json!(text)
                    }
                    [.., "entry", "author", "name"] => {
                        entries.last_mut().unwrap()["author"] = json!(text)
                    }
                    ["feed", "title"] => {}
                    _ => {}
                }
            }
            Event::End(_) => {
                path.pop();
            }
            Event::Eof => break,
            _ => {}
        }
    }
    json!({"links": links, "entries": entries})
}

async fn fetch_feed(client: &reqwest::Client, url: &str) -> Value {
    let response = client.get(url).send().await.unwrap();
    assert_eq!(response.status(), 200, "{url}");
    assert!(response.headers()[CONTENT_TYPE]
        .to_str()
        .unwrap()
        .starts_with("application/atom+xml"));
    read_feed(&response.text().await.unwrap())
}

fn titles(feed: &Value) -> Vec<String> {
    feed["entries"]
        .as_array()
        .unwrap()
        .iter()
        .map(|entry| entry["title"].as_str().unwrap().to_string())
        .collect()
}

/// The size of a feed page (`FEED_PAGE_ENTRIES_MAX` in `web/feeds.rs`).
const FEED_PAGE: usize = 50;

#[tokio::test]
async fn atom_feeds_page_newest_first_and_leave_deleted_records_out() {
    let node = Node::start("Centro SEED Toscana", "IT", "it,el,en");
    let (italian_path, greek_path) = seed(&node).await;
    // Enough records for a second page; one with markup in its summary.
    for number in 0..FEED_PAGE {
        let mut record = content(
            "it",
            "IT",
            &format!("Pratica numero {number}"),
            "Una pratica **di prova** per il feed & i suoi <lettori>.",
            &["impact-finance"],
        );
        record["summary"] = json!("Una pratica **di prova** per il feed & i suoi <lettori>.");
        node.publish(&record).await;
    }
    // A deleted record leaves the feed.
    let deleted_path = node
        .publish(&content(
            "it",
            "IT",
            "Da cancellare",
            "Sparirà.",
            &["co-design"],
        ))
        .await;
    let client = reqwest::Client::new();
    let deleted = client
        .delete(format!("{}/api/v1{}", node.url, deleted_path))
        .bearer_auth(&node.editor_token)
        .send()
        .await
        .unwrap();
    assert!(deleted.status().is_success(), "{}", deleted.status());

    let first = fetch_feed(&client, &format!("{}/feed.atom", node.url)).await;
    let first_titles = titles(&first);
    assert_eq!(first_titles.len(), FEED_PAGE);
    assert_eq!(first_titles[0], format!("Pratica numero {}", FEED_PAGE - 1));
    assert!(!first_titles.iter().any(|title| title == "Da cancellare"));
    let entry = &first["entries"][0];
    assert_eq!(entry["author"], "Centro SEED Toscana");
    assert_eq!(entry["lang"], "it");
    assert_eq!(
        entry["summary"],
        "Una pratica di prova per il feed & i suoi <lettori>."
    );
    assert_eq!(entry["id"], entry["link"]);
    assert!(entry["link"]
        .as_str()
        .unwrap()
        .starts_with("http://127.0.0.1:8470/records/"));
    let tags = entry["tags"].as_array().unwrap();
    assert!(tags.contains(&json!("impact-finance")) && tags.contains(&json!("practice")));
    assert!(entry["updated"].as_str().is_some());
    // RFC 5005: the next page holds the rest, and ends the feed.
    let next = first["links"]["next"]
        .as_str()
        .expect("a next link")
        .to_string();
    assert!(
        next.starts_with("http://127.0.0.1:8470/feed.atom?before="),
        "{next}"
    );
    let local_next = next.replace("http://127.0.0.1:8470", &node.url);
    let second = fetch_feed(&client, &local_next).await;
    assert_eq!(
        titles(&second),
        vec![
            "Συμμετοχικός προϋπολογισμός στην Καρδίτσα".to_string(),
            "Bilancio partecipativo di quartiere".to_string()
        ]
    );
    assert!(second["links"].get("next").is_none_or(Value::is_null));
    assert_eq!(second["entries"][0]["lang"], "el");

    // One competence area, one origin centre.
    let area = fetch_feed(&client, &format!("{}/feed.atom?theme=co-design", node.url)).await;
    assert_eq!(titles(&area).len(), 2);
    let origin = fetch_feed(
        &client,
        &format!(
            "{}/feed.atom?origin={}&theme=participatory-local-development",
            node.url, node.node_id
        ),
    )
    .await;
    assert_eq!(titles(&origin), vec!["Bilancio partecipativo di quartiere"]);
    let refused = client
        .get(format!("{}/feed.atom?origin=nope", node.url))
        .send()
        .await
        .unwrap();
    assert_eq!(refused.status(), 400);

    // A search as a feed, paged like the search page.
    let search = fetch_feed(&client, &format!("{}/?q=pratica&format=atom", node.url)).await;
    assert_eq!(titles(&search).len(), 20);
    assert!(search["links"]["next"]
        .as_str()
        .unwrap()
        .ends_with("/?q=pratica&page=2&format=atom"));

    // Pages advertise their feeds.
    async fn html(client: &reqwest::Client, url: String) -> String {
        client.get(url).send().await.unwrap().text().await.unwrap()
    }
    let home = html(&client, format!("{}/", node.url)).await;
    assert!(home.contains(r#"<link rel="alternate" type="application/atom+xml""#));
    assert!(home.contains(r#"href="/feed.atom""#), "{home}");
    let search_page = html(&client, format!("{}/?q=pratica", node.url)).await;
    assert!(search_page.contains(r#"href="/?q=pratica&amp;format=atom""#));
    let record_page = html(&client, format!("{}{italian_path}", node.url)).await;
    assert!(record_page.contains(&format!(r#"href="/feed.atom?origin={}""#, node.node_id)));
    assert!(record_page.contains(r#"type="application/ld+json""#));
    let network = html(&client, format!("{}/network", node.url)).await;
    assert!(network.contains(&format!(r#"href="/feed.atom?origin={}""#, node.node_id)));
    let _ = greek_path;
}

#[tokio::test]
async fn the_sitemap_lists_every_live_record_and_robots_txt_points_at_it() {
    let node = Node::start("Centro SEED Toscana", "IT", "it");
    let (italian_path, greek_path) = seed(&node).await;
    let client = reqwest::Client::new();
    let response = client
        .get(format!("{}/sitemap.xml", node.url))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    assert!(response.headers()[CONTENT_TYPE]
        .to_str()
        .unwrap()
        .starts_with("application/xml"));
    let document = response.text().await.unwrap();
    let mut reader = quick_xml::Reader::from_str(&document);
    let mut locs = Vec::new();
    let mut root = None;
    let mut in_loc = false;
    loop {
        match reader.read_event().expect("well-formed XML") {
            quick_xml::events::Event::Start(start) => {
                let name = String::from_utf8_lossy(start.name().as_ref()).into_owned();
                if root.is_none() {
                    let namespace = start.try_get_attribute("xmlns").unwrap().unwrap();
                    assert_eq!(
                        namespace.unescape_value().unwrap(),
                        "http://www.sitemaps.org/schemas/sitemap/0.9"
                    );
                    root = Some(name.clone());
                }
                in_loc = name == "loc";
            }
            quick_xml::events::Event::Text(text) if in_loc => {
                locs.push(text.unescape().unwrap().into_owned())
            }
            quick_xml::events::Event::End(_) => in_loc = false,
            quick_xml::events::Event::Eof => break,
            _ => {}
        }
    }
    assert_eq!(root.as_deref(), Some("urlset"));
    let base = "http://127.0.0.1:8470";
    assert_eq!(locs, {
        let mut records = vec![
            format!("{base}{italian_path}"),
            format!("{base}{greek_path}"),
        ];
        records.sort();
        let mut expected = vec![format!("{base}/"), format!("{base}/network")];
        expected.extend(records);
        expected
    });
    let file = client
        .get(format!("{}/sitemaps/1.xml", node.url))
        .send()
        .await
        .unwrap();
    assert_eq!(file.status(), 200);
    let beyond = client
        .get(format!("{}/sitemaps/2.xml", node.url))
        .send()
        .await
        .unwrap();
    assert_eq!(beyond.status(), 404);

    let robots = client
        .get(format!("{}/robots.txt", node.url))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    for line in [
        "User-agent: *",
        "Allow: /",
        "Disallow: /admin",
        "Disallow: /editor",
        "Sitemap: http://127.0.0.1:8470/sitemap.xml",
    ] {
        assert!(robots.lines().any(|have| have == line), "{line}:\n{robots}");
    }
}

/// The OAI-PMH page size (`OAI_PAGE_RECORDS_MAX` in `web/oai_pmh.rs`).
const OAI_PAGE: usize = 50;
const OAI_NAMESPACE: &str = "http://www.openarchives.org/OAI/2.0/";

/// What one OAI-PMH response says, read with quick-xml.
#[derive(Debug, Default)]
struct OaiResponse {
    namespace: String,
    schema_location: String,
    response_date: String,
    request_attributes: Vec<(String, String)>,
    request_url: String,
    error: Option<String>,
    /// Identifier and whether its header says deleted, in document order.
    headers: Vec<(String, bool)>,
    datestamps: Vec<String>,
    token: Option<String>,
    token_attributes: Vec<(String, String)>,
}

fn attributes(start: &quick_xml::events::BytesStart) -> Vec<(String, String)> {
    start
        .attributes()
        .map(|attribute| {
            let attribute = attribute.unwrap();
            (
                String::from_utf8_lossy(attribute.key.as_ref()).into_owned(),
                attribute.unescape_value().unwrap().into_owned(),
            )
        })
        .collect()
}

fn read_oai(document: &str) -> OaiResponse {
    use quick_xml::events::Event;
    assert!(
        document.starts_with(r#"<?xml version="1.0" encoding="UTF-8"?>"#),
        "{document}"
    );
    let mut reader = quick_xml::Reader::from_str(document);
    let mut response = OaiResponse::default();
    let mut path: Vec<String> = Vec::new();
    loop {
        let event = reader.read_event().expect("well-formed XML");
        match event {
            Event::Start(start) | Event::Empty(start) if path.is_empty() => {
                assert_eq!(start.name().as_ref(), b"OAI-PMH");
                for (name, value) in attributes(&start) {
                    match name.as_str() {
                        "xmlns" => response.namespace = value,
                        "xsi:schemaLocation" => response.schema_location = value,
                        _ => {}
                    }
                }
                path.push("OAI-PMH".into());
            }
            Event::Start(start) => {
                let name = String::from_utf8_lossy(start.name().as_ref()).into_owned();
                let here = attributes(&start);
                match name.as_str() {
                    "request" => response.request_attributes = here,
                    "error" => {
                        response.error = here.into_iter().find(|(n, _)| n == "code").map(|(_, v)| v)
                    }
                    "header" => response.headers.push((
                        String::new(),
                        here.iter().any(|(n, v)| n == "status" && v == "deleted"),
                    )),
                    "resumptionToken" => {
                        response.token = Some(String::new());
                        response.token_attributes = here;
                    }
                    _ => {}
                }
                path.push(name);
            }
            Event::Empty(start) => {
                let name = start.name();
                let here = attributes(&start);
                match name.as_ref() {
                    b"request" => response.request_attributes = here,
                    b"resumptionToken" => {
                        response.token = Some(String::new());
                        response.token_attributes = here;
                    }
                    _ => {}
                }
            }
            Event::Text(text) => {
                let text = text.unescape().unwrap().into_owned();
                match path.last().map(String::as_str) {
                    Some("responseDate") => response.response_date = text,
                    Some("request") => response.request_url = text,
                    Some("identifier") if path.iter().any(|p| p == "header") => {
                        response.headers.last_mut().unwrap().0 = text
                    }
                    Some("datestamp") => response.datestamps.push(text),
                    Some("resumptionToken") => response.token = Some(text),
                    _ => {}
                }
            }
            Event::End(_) => {
                path.pop();
            }
            Event::Eof => break,
            _ => {}
        }
    }
    assert_eq!(response.namespace, OAI_NAMESPACE);
    assert_eq!(
        response.schema_location,
        format!("{OAI_NAMESPACE} http://www.openarchives.org/OAI/2.0/OAI-PMH.xsd")
    );
    let date = &response.response_date;
    assert!(
        date.len() == 20 && date.ends_with('Z') && date.as_bytes()[10] == b'T',
        "responseDate {date}"
    );
    assert_eq!(response.request_url, "http://127.0.0.1:8470/oai");
    for datestamp in &response.datestamps {
        assert_eq!(datestamp.len(), 20, "datestamp {datestamp}");
    }
    response
}

async fn oai(client: &reqwest::Client, node: &Node, query: &[(&str, &str)]) -> OaiResponse {
    let response = client
        .get(format!("{}/oai", node.url))
        .query(query)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    assert!(response.headers()[CONTENT_TYPE]
        .to_str()
        .unwrap()
        .starts_with("text/xml"));
    read_oai(&response.text().await.unwrap())
}

fn attribute_of<'a>(pairs: &'a [(String, String)], name: &str) -> Option<&'a str> {
    pairs
        .iter()
        .find(|(have, _)| have == name)
        .map(|(_, value)| value.as_str())
}

#[tokio::test]
async fn oai_pmh_harvesters_page_through_every_record_and_see_the_deleted_one() {
    let node = Node::start("Centro SEED Toscana", "IT", "it,el,en");
    let (italian_path, greek_path) = seed(&node).await;
    let before_count = 2 * OAI_PAGE + 5;
    for number in 0..before_count {
        node.publish(&content(
            "it",
            "IT",
            &format!("Pratica numero {number}"),
            "Una pratica di prova per la raccolta OAI-PMH.",
            &["impact-finance"],
        ))
        .await;
    }
    let deleted_path = node
        .publish(&content(
            "it",
            "IT",
            "Da cancellare",
            "Sparirà.",
            &["co-design"],
        ))
        .await;
    // Later writes fall in a later second than everything above.
    let client = reqwest::Client::new();
    let identify = oai(&client, &node, &[("verb", "Identify")]).await;
    let earlier = identify.response_date.clone();
    tokio::time::sleep(std::time::Duration::from_millis(1_100)).await;
    let from = oai(&client, &node, &[("verb", "Identify")])
        .await
        .response_date;
    assert!(from > earlier);
    for number in 0..3 {
        node.publish(&content(
            "el",
            "GR",
            &format!("Νέα πρακτική {number}"),
            "Μια πρακτική.",
            &["scaling-up"],
        ))
        .await;
    }
    let deleted = client
        .delete(format!("{}/api/v1{}", node.url, deleted_path))
        .bearer_auth(&node.editor_token)
        .send()
        .await
        .unwrap();
    assert!(deleted.status().is_success(), "{}", deleted.status());
    let total = 2 + before_count + 1 + 3;
    let identifier_of =
        |path: &str| format!("oai:127.0.0.1:{}", path.trim_start_matches("/records/"));
    let deleted_identifier = identifier_of(&deleted_path);

    // A full ListRecords, page by page, read in Rust.
    let first = oai(
        &client,
        &node,
        &[("verb", "ListRecords"), ("metadataPrefix", "oai_dc")],
    )
    .await;
    assert_eq!(
        first.request_attributes,
        vec![
            ("verb".to_string(), "ListRecords".to_string()),
            ("metadataPrefix".to_string(), "oai_dc".to_string())
        ]
    );
    assert_eq!(first.headers.len(), OAI_PAGE);
    let total_text = total.to_string();
    assert_eq!(
        attribute_of(&first.token_attributes, "completeListSize"),
        Some(total_text.as_str())
    );
    assert_eq!(attribute_of(&first.token_attributes, "cursor"), Some("0"));
    assert!(attribute_of(&first.token_attributes, "expirationDate").is_some());
    let mut seen = first.headers.clone();
    let mut token = first.token.clone().unwrap();
    let mut pages = 1;
    while !token.is_empty() {
        let page = oai(
            &client,
            &node,
            &[("verb", "ListRecords"), ("resumptionToken", &token)],
        )
        .await;
        assert_eq!(
            attribute_of(&page.request_attributes, "resumptionToken"),
            Some(token.as_str())
        );
        assert_eq!(
            attribute_of(&page.token_attributes, "completeListSize"),
            Some(total_text.as_str())
        );
        seen.extend(page.headers.clone());
        token = page
            .token
            .clone()
            .expect("a resumptionToken element on every later page");
        pages += 1;
    }
    assert_eq!(pages, total.div_ceil(OAI_PAGE));
    assert_eq!(seen.len(), total);
    let unique: std::collections::BTreeSet<&String> = seen.iter().map(|(id, _)| id).collect();
    assert_eq!(unique.len(), total);
    let deleted_headers: Vec<&(String, bool)> =
        seen.iter().filter(|(_, deleted)| *deleted).collect();
    assert_eq!(deleted_headers, vec![&(deleted_identifier.clone(), true)]);

    // By set and by from.
    let by_set = oai(
        &client,
        &node,
        &[
            ("verb", "ListIdentifiers"),
            ("metadataPrefix", "oai_dc"),
            ("set", "theme:co-design"),
        ],
    )
    .await;
    let mut set_ids: Vec<String> = by_set.headers.iter().map(|(id, _)| id.clone()).collect();
    set_ids.sort();
    let mut expected_set = vec![
        identifier_of(&italian_path),
        identifier_of(&greek_path),
        deleted_identifier.clone(),
    ];
    expected_set.sort();
    assert_eq!(set_ids, expected_set);
    assert!(by_set.token.is_none(), "one page needs no token");
    let since = oai(
        &client,
        &node,
        &[
            ("verb", "ListIdentifiers"),
            ("metadataPrefix", "oai_dc"),
            ("from", &from),
        ],
    )
    .await;
    assert_eq!(since.headers.len(), 4, "{since:?}");
    assert_eq!(
        since.headers.last().unwrap(),
        &(deleted_identifier.clone(), true)
    );

    // GET and POST answer alike.
    let posted = client
        .post(format!("{}/oai", node.url))
        .form(&[
            ("verb", "GetRecord"),
            ("metadataPrefix", "schema_org"),
            ("identifier", &identifier_of(&italian_path)),
        ])
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        posted.contains("<jsonld xmlns=\"urn:seednet:oai:schema-org-json-ld:1\""),
        "{posted}"
    );
    assert!(posted.contains("Bilancio partecipativo di quartiere"));
    read_oai(&posted);

    // Every error code, once.
    for (query, code) in [
        (vec![("verb", "Dance")], "badVerb"),
        (
            vec![
                ("verb", "ListRecords"),
                ("metadataPrefix", "oai_dc"),
                ("from", "2024-13-01"),
            ],
            "badArgument",
        ),
        (
            vec![
                ("verb", "ListRecords"),
                ("metadataPrefix", "oai_dc"),
                ("from", "2024-02-01"),
                ("until", "2024-01-01"),
            ],
            "badArgument",
        ),
        (
            vec![("verb", "ListRecords"), ("resumptionToken", "v1!forged")],
            "badResumptionToken",
        ),
        (
            vec![("verb", "ListRecords"), ("metadataPrefix", "marc21")],
            "cannotDisseminateFormat",
        ),
        (
            vec![
                ("verb", "GetRecord"),
                ("metadataPrefix", "oai_dc"),
                ("identifier", "oai:127.0.0.1:nope/nope"),
            ],
            "idDoesNotExist",
        ),
        (
            vec![
                ("verb", "ListIdentifiers"),
                ("metadataPrefix", "oai_dc"),
                ("from", "9999-01-01"),
            ],
            "noRecordsMatch",
        ),
        (
            vec![
                ("verb", "ListMetadataFormats"),
                ("identifier", deleted_identifier.as_str()),
            ],
            "noMetadataFormats",
        ),
    ] {
        let response = oai(&client, &node, &query).await;
        assert_eq!(response.error.as_deref(), Some(code), "{query:?}");
        if matches!(code, "badVerb" | "badArgument") {
            assert!(response.request_attributes.is_empty(), "{query:?}");
        } else {
            assert_eq!(
                attribute_of(&response.request_attributes, "verb"),
                Some(query[0].1)
            );
        }
    }

    for (module, package, tool) in [
        ("sickle", "sickle", "sickle"),
        ("oaipmh_scythe", "oaipmh-scythe", "scythe"),
    ] {
        if !python_has(module, package) {
            continue;
        }
        let endpoint = format!("{}/oai", node.url);
        let report: Value = serde_json::from_str(&python(
            &[
                &fixture("harvest_oai.py"),
                tool,
                &endpoint,
                "theme:co-design",
                &from,
                &deleted_identifier,
            ],
            "",
        ))
        .unwrap();
        let all = report["all"].as_array().unwrap();
        assert_eq!(all.len(), total, "{tool}");
        let deleted: Vec<&Value> = all
            .iter()
            .filter(|record| record["deleted"] == true)
            .collect();
        assert_eq!(deleted.len(), 1, "{tool}");
        assert_eq!(deleted[0]["identifier"], deleted_identifier.as_str());
        let italian = all
            .iter()
            .find(|record| record["identifier"] == identifier_of(&italian_path).as_str())
            .unwrap();
        assert_eq!(
            italian["title"], "Bilancio partecipativo di quartiere",
            "{tool}"
        );
        assert_eq!(
            italian["rights"],
            "https://spdx.org/licenses/CC-BY-4.0.html"
        );
        assert!(italian["sets"]
            .as_array()
            .unwrap()
            .contains(&json!("theme:co-design")));
        let mut set_ids: Vec<String> = report["set"]
            .as_array()
            .unwrap()
            .iter()
            .map(|header| header["identifier"].as_str().unwrap().to_string())
            .collect();
        set_ids.sort();
        assert_eq!(set_ids, expected_set, "{tool}");
        assert_eq!(report["from"].as_array().unwrap().len(), 4, "{tool}");
        assert_eq!(report["deleted"]["deleted"], true, "{tool}");
        if tool == "sickle" {
            assert_eq!(report["identify"], "persistent");
            assert_eq!(report["formats"], json!(["oai_dc", "schema_org"]));
            assert!(report["sets"]
                .as_array()
                .unwrap()
                .contains(&json!("country:IT")));
            assert!(report["sets"]
                .as_array()
                .unwrap()
                .contains(&json!(format!("origin:{}", node.node_id))));
            assert_eq!(report["post"].as_array().unwrap().len(), total);
            for code in [
                "badVerb",
                "badArgument",
                "badResumptionToken",
                "cannotDisseminateFormat",
                "idDoesNotExist",
                "noRecordsMatch",
                "noMetadataFormats",
            ] {
                assert_eq!(report["errors"][code], code, "{report}");
            }
        }
    }
}
