//! The open formats of a node, each read from a real node on 127.0.0.1 by a
//! consumer that did not write it: a record's schema.org JSON-LD by content
//! negotiation (expanded with `pyld` against a schema.org context the test
//! ships, no network), the Atom feeds (parsed with `feedparser`), the
//! sitemap and robots.txt.
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
