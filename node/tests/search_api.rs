//! The search API and CLI over a real node: the `seednet` binary on
//! 127.0.0.1, sled on disk, tantivy in `DATA_DIR/search-index`.

mod common;

use std::path::Path;

use common::{client, data_dir, init, seednet, stderr, stdout, InitOutput, Server};
use serde_json::{json, Value};

/// Four records written natively in four languages; the Italian one carries
/// HTML in its body (the snippet must escape it).
fn records() -> Vec<Value> {
    vec![
        json!({
            "kind": "practice", "lang": "it",
            "title": "Laboratorio di co-progettazione a Torino",
            "summary": "Co-progettazione dei servizi di quartiere con i giovani.",
            "body": "La co-progettazione <script>alert(1)</script> ha coinvolto cittadini e uffici comunali.",
            "themes": ["co-design"], "country": "IT", "year_start": 2022,
            "target_groups": ["youth"],
        }),
        json!({
            "kind": "methodology", "lang": "ro",
            "title": "Metodologie pentru cooperative sociale din Cluj",
            "summary": "Cum se înființează o cooperativă socială de inserție.",
            "body": "Metodologia descrie pașii pentru cooperativele sociale și evaluarea impactului.",
            "themes": ["impact-evaluation"], "country": "RO", "year_start": 2020,
        }),
        json!({
            "kind": "tool", "lang": "sl",
            "title": "Orodje za digitalne spretnosti",
            "summary": "Zbirka vaj za digitalne spretnosti starejših.",
            "body": "Orodje je nastalo s sooblikovanjem skupaj z uporabniki.",
            "themes": ["co-design"], "country": "SI", "year_start": 2023,
            "target_groups": ["older-people"],
        }),
        json!({
            "kind": "case_study", "lang": "el",
            "title": "Κοινωνική καινοτομία στην Καρδίτσα",
            "summary": "Μελέτη περίπτωσης για την αξιολόγηση επιπτώσεων.",
            "body": "Η κοινωνική συνεταιριστική επιχείρηση στην Καρδίτσα.",
            "themes": ["impact-evaluation"], "country": "GR", "year_start": 2021,
        }),
    ]
}

struct Node {
    _temp: tempfile::TempDir,
    dir: std::path::PathBuf,
    tokens: InitOutput,
}

fn new_node() -> Node {
    let temp = tempfile::tempdir().unwrap();
    let dir = data_dir(&temp);
    let tokens = init(&dir);
    Node {
        _temp: temp,
        dir,
        tokens,
    }
}

async fn publish(server: &Server, token: &str, content: &Value) -> Value {
    let response = client()
        .post(server.url("/api/v1/records"))
        .bearer_auth(token)
        .json(content)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 201, "{}", response.text().await.unwrap());
    response.json().await.unwrap()
}

async fn search(server: &Server, query: &str) -> (u16, Value) {
    let response = client()
        .get(server.url(&format!("/api/v1/search?{query}")))
        .send()
        .await
        .unwrap();
    let status = response.status().as_u16();
    (status, response.json().await.unwrap())
}

async fn ok(server: &Server, query: &str) -> Value {
    let (status, body) = search(server, query).await;
    assert_eq!(status, 200, "{query}: {body}");
    body
}

fn titles(body: &Value) -> Vec<String> {
    body["hits"]
        .as_array()
        .unwrap()
        .iter()
        .map(|hit| hit["title"].as_str().unwrap().to_string())
        .collect()
}

fn facet_count(body: &Value, facet: &str, value: &str) -> u64 {
    body["facets"][facet]
        .as_array()
        .unwrap()
        .iter()
        .find(|count| count["value"] == value)
        .map(|count| count["count"].as_u64().unwrap())
        .unwrap_or(0)
}

async fn publish_all(server: &Server, node: &Node) -> Vec<Value> {
    let mut published = Vec::new();
    for content in records() {
        published.push(publish(server, &node.tokens.editor_token, &content).await);
    }
    published
}

#[tokio::test]
async fn search_finds_records_across_languages_with_facets_filters_and_snippets() {
    let node = new_node();
    let server = Server::start(&node.dir);
    publish_all(&server, &node).await;

    // Greek query, Italian and Slovenian records: the co-design concept.
    let body = ok(
        &server,
        "q=%CF%83%CF%85%CE%BD%CE%B4%CE%B9%CE%B1%CE%BC%CF%8C%CF%81%CF%86%CF%89%CF%83%CE%B7",
    )
    .await;
    let found = titles(&body);
    assert!(
        found.contains(&"Laboratorio di co-progettazione a Torino".to_string()),
        "{body}"
    );
    // The response says how the query was understood.
    assert_eq!(body["query"]["lang"], "el", "{body}");
    assert_eq!(body["query"]["lang_detected"], true);
    assert!(
        body["query"]["concepts"]
            .as_array()
            .unwrap()
            .iter()
            .any(|c| c == "theme:co-design"),
        "{body}"
    );
    let turin = body["hits"]
        .as_array()
        .unwrap()
        .iter()
        .find(|hit| hit["lang"] == "it")
        .unwrap();
    assert!(
        turin["matched_via"]
            .as_array()
            .unwrap()
            .iter()
            .any(|via| via["via"] == "concept" && via["concept"] == "theme:co-design"),
        "{turin}"
    );
    for key in [
        "origin",
        "id",
        "version",
        "title",
        "snippet",
        "lang",
        "country",
        "kind",
        "themes",
        "score",
        "matched_via",
    ] {
        assert!(turin.get(key).is_some(), "hit lacks {key}: {turin}");
    }
    let object = body.as_object().unwrap();
    let mut keys: Vec<&str> = object.keys().map(String::as_str).collect();
    keys.sort();
    assert_eq!(keys, ["facets", "hits", "query", "took_ms", "total"]);

    // The web search page answers from the same index, across languages.
    let page = client()
        .get(server.url(
            "/?q=%CF%83%CF%85%CE%BD%CE%B4%CE%B9%CE%B1%CE%BC%CF%8C%CF%81%CF%86%CF%89%CF%83%CE%B7",
        ))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        page.contains("Laboratorio di co-progettazione a Torino"),
        "{page}"
    );

    // Browsing everything: facets count every record.
    let all = ok(&server, "q=").await;
    assert_eq!(all["total"], 4, "{all}");
    assert_eq!(facet_count(&all, "country", "IT"), 1);
    assert_eq!(facet_count(&all, "country", "RO"), 1);
    assert_eq!(facet_count(&all, "theme", "co-design"), 2);
    assert_eq!(facet_count(&all, "lang", "el"), 1);
    assert_eq!(facet_count(&all, "origin", &node.tokens.node_id), 4);

    // Each filter narrows.
    let narrowed = [
        (
            "country=RO",
            "Metodologie pentru cooperative sociale din Cluj",
        ),
        ("lang=sl", "Orodje za digitalne spretnosti"),
        ("kind=case_study", "Κοινωνική καινοτομία στην Καρδίτσα"),
        (
            "target_group=youth",
            "Laboratorio di co-progettazione a Torino",
        ),
        ("year_from=2023", "Orodje za digitalne spretnosti"),
        (
            "year_to=2020",
            "Metodologie pentru cooperative sociale din Cluj",
        ),
        (
            "theme=co-design&country=IT",
            "Laboratorio di co-progettazione a Torino",
        ),
    ];
    for (filter, title) in narrowed {
        let body = ok(&server, &format!("q=&{filter}")).await;
        assert_eq!(titles(&body), vec![title.to_string()], "{filter}: {body}");
        assert_eq!(body["total"], 1, "{filter}");
    }
    let origin = ok(&server, &format!("q=&origin={}", node.tokens.node_id)).await;
    assert_eq!(origin["total"], 4);
    let two = ok(&server, "q=&theme=impact-evaluation").await;
    assert_eq!(two["total"], 2);

    // The snippet escapes the record's HTML and marks the match.
    let body = ok(&server, "q=co-progettazione&lang=it").await;
    let snippet = body["hits"][0]["snippet"].as_str().unwrap();
    assert!(snippet.contains("<mark>"), "{snippet}");
    assert!(!snippet.contains("<script>"), "{snippet}");
    server.stop();
}

#[tokio::test]
async fn updates_and_deletes_are_reflected_in_search() {
    let node = new_node();
    let server = Server::start(&node.dir);
    let published = publish_all(&server, &node).await;
    let id = published[1]["signed"]["id"]
        .as_str()
        .map(str::to_string)
        .expect("the response names the record id");
    let origin = &node.tokens.node_id;

    let mut changed = records()[1].clone();
    changed["title"] = json!("Ghid pentru întreprinderi sociale din Iași");
    let response = client()
        .put(server.url(&format!("/api/v1/records/{origin}/{id}")))
        .bearer_auth(&node.tokens.editor_token)
        .json(&changed)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let body = ok(&server, "q=Iași").await;
    assert_eq!(
        titles(&body),
        vec!["Ghid pentru întreprinderi sociale din Iași".to_string()]
    );
    assert_eq!(body["hits"][0]["version"], 2);
    let old = ok(&server, "q=Cluj").await;
    assert_eq!(old["total"], 0, "{old}");

    let response = client()
        .delete(server.url(&format!("/api/v1/records/{origin}/{id}")))
        .bearer_auth(&node.tokens.editor_token)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let gone = ok(&server, "q=Iași").await;
    assert_eq!(gone["total"], 0, "{gone}");
    let all = ok(&server, "q=").await;
    assert_eq!(all["total"], 3);
    server.stop();
}

#[tokio::test]
async fn bad_parameters_get_a_400_naming_the_parameter() {
    let node = new_node();
    let server = Server::start(&node.dir);
    let long_query = format!("q={}", "a".repeat(501));
    // more parameters than SEARCH_PARAMS_COUNT_MAX: the whole query is at fault
    let too_many = vec!["lang=it"; 65].join("&");
    let huge = format!("q=x&tag={}", "b".repeat(9 * 1024));
    let cases = [
        ("q=x&colour=red", "colour"),
        ("country=XX", "country"),
        ("theme=astrology", "theme"),
        ("kind=poem", "kind"),
        ("lang=%21%21", "lang"),
        ("target_group=cats", "target_group"),
        ("year_from=2024&year_to=2020", "year_to"),
        ("year_from=soon", "year_from"),
        ("limit=0", "limit"),
        ("limit=51", "limit"),
        ("offset=1001", "offset"),
        ("origin=nobody", "origin"),
        (long_query.as_str(), "q"),
        (too_many.as_str(), "query"),
        // a query string over SEARCH_QUERY_STRING_BYTES_MAX: the whole of it
        (huge.as_str(), "query"),
    ];
    for (query, field) in cases {
        let (status, body) = search(&server, query).await;
        assert_eq!(status, 400, "{query}: {body}");
        assert_eq!(body["error"]["field"], field, "{query}: {body}");
        assert!(body["error"]["code"].is_string());
        assert!(body["error"]["message"].is_string());
    }
    // Documented in the OpenAPI document.
    let doc: Value = client()
        .get(server.url("/api/v1/openapi.json"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let params = doc["paths"]["/api/v1/search"]["get"]["parameters"]
        .as_array()
        .expect("search is documented");
    assert!(params.iter().any(|p| p["name"] == "target_group"));
    assert!(doc["components"]["schemas"]["SearchResults"].is_object());
    server.stop();
}

fn index_dir(dir: &Path) -> std::path::PathBuf {
    dir.join("search-index")
}

#[tokio::test]
async fn the_index_is_rebuilt_after_deletion_and_by_reindex_and_the_cli_searches() {
    let node = new_node();
    let server = Server::start(&node.dir);
    publish_all(&server, &node).await;
    assert_eq!(ok(&server, "q=").await["total"], 4);

    // Reindex is refused while the node runs.
    let refused = seednet(&node.dir, &["reindex"]);
    assert!(!refused.status.success());
    assert!(stderr(&refused).contains("running"), "{}", stderr(&refused));

    // `seednet search --json` against the running node.
    let output = seednet(
        &node.dir,
        &[
            "--node",
            &server.base,
            "search",
            "cooperativă socială",
            "--country",
            "RO",
            "--json",
        ],
    );
    assert!(output.status.success(), "{}", stderr(&output));
    let body: Value = serde_json::from_str(&stdout(&output)).unwrap();
    assert_eq!(body["total"], 1, "{body}");
    assert_eq!(body["hits"][0]["country"], "RO");
    // Readable output: badges and bracketed matches (not a terminal).
    let output = seednet(
        &node.dir,
        &[
            "--node",
            &server.base,
            "search",
            "co-progettazione",
            "--lang",
            "it",
        ],
    );
    assert!(output.status.success(), "{}", stderr(&output));
    let text = stdout(&output);
    assert!(
        text.contains("Laboratorio di co-progettazione a Torino"),
        "{text}"
    );
    assert!(text.contains("[IT] [it] [practice]"), "{text}");
    assert!(text.contains("matched via: text"), "{text}");
    assert!(
        text.contains("[co-progettazione]") || text.contains("[Co-progettazione]"),
        "{text}"
    );
    // The origin facet lists full node ids, which --origin takes back.
    let own = node.tokens.node_id.as_str();
    assert!(text.contains(&format!("origin: {own} (1)\n")), "{text}");
    for (origin, total) in [
        (own.to_string(), "2 records"),
        (
            seednet_protocol::testing::test_key(9).node_id().to_hex(),
            "0 records",
        ),
    ] {
        let output = seednet(
            &node.dir,
            &[
                "--node",
                &server.base,
                "search",
                "co-progettazione",
                "--origin",
                &origin,
            ],
        );
        assert!(output.status.success(), "{}", stderr(&output));
        assert!(stdout(&output).starts_with(total), "{}", stdout(&output));
    }
    let help = stdout(&seednet(&node.dir, &["search", "--help"]));
    assert!(
        help.contains("--origin") && help.contains("origin facet"),
        "{help}"
    );
    // A bad parameter is a clear CLI error naming it.
    let output = seednet(
        &node.dir,
        &["--node", &server.base, "search", "x", "--country", "XX"],
    );
    assert!(!output.status.success());
    assert!(stderr(&output).contains("country"), "{}", stderr(&output));
    server.stop();

    // Delete the index folder: the restarted node rebuilds it.
    std::fs::remove_dir_all(index_dir(&node.dir)).unwrap();
    let server = Server::start(&node.dir);
    let body = ok(&server, "q=").await;
    assert_eq!(body["total"], 4, "{body}");
    let greek = ok(
        &server,
        "q=%CE%9A%CE%B1%CF%81%CE%B4%CE%AF%CF%84%CF%83%CE%B1",
    )
    .await;
    assert_eq!(greek["total"], 1, "{greek}");
    server.stop();

    // `seednet reindex` with the node stopped rebuilds from storage.
    let output = seednet(&node.dir, &["reindex"]);
    assert!(output.status.success(), "{}", stderr(&output));
    assert!(
        stdout(&output).contains("reindexed 4 records"),
        "{}",
        stdout(&output)
    );
    let server = Server::start(&node.dir);
    assert_eq!(ok(&server, "q=").await["total"], 4);
    server.stop();
}

#[tokio::test]
async fn an_index_that_cannot_open_is_a_503_with_a_clear_error() {
    let node = new_node();
    // A folder of someone else's files where the index belongs: the engine
    // refuses to delete them, so the index cannot open.
    std::fs::create_dir_all(index_dir(&node.dir)).unwrap();
    std::fs::write(index_dir(&node.dir).join("notes.txt"), "not an index").unwrap();
    let server = Server::start(&node.dir);
    let (status, body) = search(&server, "q=co-design").await;
    assert_eq!(status, 503, "{body}");
    assert_eq!(body["error"]["code"], "search_unavailable");
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("reindex"),
        "{body}"
    );
    // Bad parameters are still refused first, naming the parameter.
    let (status, body) = search(&server, "country=XX").await;
    assert_eq!(status, 400);
    assert_eq!(body["error"]["field"], "country");
    server.stop();
    // `seednet reindex` clears the folder and rebuilds: search works again.
    let output = seednet(&node.dir, &["reindex"]);
    assert!(output.status.success(), "{}", stderr(&output));
    let server = Server::start(&node.dir);
    assert_eq!(ok(&server, "q=").await["total"], 0);
    server.stop();
}

#[tokio::test]
async fn search_without_node_asks_the_listen_address_of_the_data_dir() {
    let node = new_node();
    // Give the node a free loopback port in its config file.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let config_path = node.dir.join("seednet.toml");
    let config = std::fs::read_to_string(&config_path).unwrap();
    let listen_line = config
        .lines()
        .find(|line| line.trim_start().starts_with("listen"))
        .expect("init writes a listen address")
        .to_string();
    std::fs::write(
        &config_path,
        config.replace(&listen_line, &format!("listen = \"127.0.0.1:{port}\"")),
    )
    .unwrap();
    let mut child = std::process::Command::new(common::BIN)
        .arg("--data-dir")
        .arg(&node.dir)
        .arg("serve")
        .env("SEEDNET_LOG", "warn")
        .env_remove("SEEDNET_LISTEN")
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let mut line = String::new();
    std::io::BufRead::read_line(
        &mut std::io::BufReader::new(child.stdout.take().unwrap()),
        &mut line,
    )
    .unwrap();
    let server = Server {
        child,
        base: line.trim().trim_start_matches("listening on ").to_string(),
    };
    assert_eq!(server.base, format!("http://127.0.0.1:{port}"));
    publish(&server, &node.tokens.editor_token, &records()[2]).await;
    let output = seednet(&node.dir, &["search", "spretnosti", "--json"]);
    assert!(output.status.success(), "{}", stderr(&output));
    let body: Value = serde_json::from_str(&stdout(&output)).unwrap();
    assert_eq!(body["total"], 1, "{body}");
    assert_eq!(body["hits"][0]["lang"], "sl");
    server.stop();
    // With the node stopped, the CLI says it cannot reach it.
    let output = seednet(&node.dir, &["search", "spretnosti"]);
    assert!(!output.status.success());
    assert!(
        stderr(&output).contains("cannot reach"),
        "{}",
        stderr(&output)
    );
}

#[tokio::test]
async fn the_web_search_page_says_the_index_is_unavailable_like_the_api() {
    let node = new_node();
    std::fs::create_dir_all(index_dir(&node.dir)).unwrap();
    std::fs::write(index_dir(&node.dir).join("notes.txt"), "not an index").unwrap();
    let server = Server::start(&node.dir);
    // The web page asks the same index as the API: no second way to search.
    let response = reqwest::Client::new()
        .get(server.url("/?q=co-design"))
        .header("accept-language", "en")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status().as_u16(), 503);
    let html = response.text().await.unwrap();
    assert!(html.contains("Search is unavailable"), "{html}");
    assert!(html.contains("seednet reindex"), "{html}");
    server.stop();
}
