//! Every error speaks, over real HTTP on loopback against the real binary:
//! the answers of the HTTP layer (414, 431, malformed requests) carry the
//! JSON error shape, and an HTML page for browsers where the node's own
//! limits refuse; over-limit web forms get a page; a search parameter that is
//! not UTF-8 is a 400 naming it; a peer URL refused by address gets the same
//! 400 whether it is a literal or a host name, long host names are refused
//! unresolved; a peer that never answers gets 504 well before the client's
//! own timeout.

mod common;

use std::path::Path;
use std::time::{Duration, Instant};

use common::{client, data_dir, init, InitOutput, Server};
use reqwest::StatusCode;
use serde_json::{json, Value};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// What a browser sends for a page.
const BROWSER_ACCEPT: &str = "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8";

struct Node {
    _temp: tempfile::TempDir,
    server: Server,
    tokens: InitOutput,
}

fn start_node(allow_loopback_peers: bool) -> Node {
    let temp = tempfile::tempdir().unwrap();
    let dir = data_dir(&temp);
    let tokens = init(&dir);
    if allow_loopback_peers {
        allow_loopback(&dir);
    }
    let server = Server::start(&dir);
    Node {
        _temp: temp,
        server,
        tokens,
    }
}

fn allow_loopback(dir: &Path) {
    let path = dir.join("seednet.toml");
    let config = std::fs::read_to_string(&path).unwrap();
    let config = if config.contains("[federation]\n") {
        config.replacen(
            "[federation]\n",
            "[federation]\nallow_loopback_peers = true\n",
            1,
        )
    } else {
        config + "\n[federation]\nallow_loopback_peers = true\n"
    };
    std::fs::write(&path, config).unwrap();
}

/// Sends `request` as raw bytes and reads the whole answer (the request
/// asks for `Connection: close`, or the node closes after an error).
async fn raw(node: &Node, request: &[u8]) -> (u16, String, String) {
    let address = node.server.base.trim_start_matches("http://");
    let mut stream = tokio::net::TcpStream::connect(address).await.unwrap();
    stream.write_all(request).await.unwrap();
    let mut answer = Vec::new();
    tokio::time::timeout(Duration::from_secs(10), stream.read_to_end(&mut answer))
        .await
        .expect("the node answers and closes")
        .unwrap();
    let answer = String::from_utf8_lossy(&answer).into_owned();
    let (head, body) = answer
        .split_once("\r\n\r\n")
        .unwrap_or_else(|| panic!("no head in {answer:?}"));
    let status = head
        .split(' ')
        .nth(1)
        .and_then(|code| code.parse().ok())
        .unwrap_or_else(|| panic!("no status in {head:?}"));
    (status, head.to_ascii_lowercase(), body.to_string())
}

fn request(target: &str, accept: &str, extra_headers: &str) -> Vec<u8> {
    format!(
        "GET {target} HTTP/1.1\r\nHost: 127.0.0.1\r\nAccept: {accept}\r\n{extra_headers}Connection: close\r\n\r\n"
    )
    .into_bytes()
}

fn assert_json_error(what: &str, answer: &(u16, String, String), status: u16, code: &str) {
    let (got, head, body) = answer;
    assert_eq!(*got, status, "{what}: {head}\n{body}");
    assert!(
        head.contains("content-type: application/json"),
        "{what}: {head}"
    );
    let body: Value =
        serde_json::from_str(body).unwrap_or_else(|_| panic!("{what}: not JSON: {body}"));
    assert_eq!(body["error"]["code"], code, "{what}: {body}");
    assert!(
        !body["error"]["message"].as_str().unwrap().is_empty(),
        "{what}"
    );
}

fn assert_page(what: &str, answer: &(u16, String, String), status: u16) {
    let (got, head, body) = answer;
    assert_eq!(*got, status, "{what}: {head}\n{body}");
    assert!(head.contains("content-type: text/html"), "{what}: {head}");
    assert!(body.contains("<html"), "{what}: {body}");
}

fn many_headers(count: usize) -> String {
    (0..count)
        .map(|n| format!("X-Filler-{n}: {n}\r\n"))
        .collect()
}

#[tokio::test]
async fn the_http_layer_answers_in_the_error_shape() {
    let node = start_node(false);
    let long_query = format!("/api/v1/search?q={}", "a".repeat(20_000));
    let long_page = format!("/?q={}", "a".repeat(20_000));
    let huge_target = format!("/api/v1/search?q={}", "a".repeat(70_000));
    let big_header = format!("X-Big: {}\r\n", "b".repeat(40_000));

    let cases = [
        (
            "a long API query",
            request(&long_query, "*/*", ""),
            414,
            Some("uri_too_long"),
        ),
        (
            "a long page address",
            request(&long_page, BROWSER_ACCEPT, ""),
            414,
            None,
        ),
        (
            "many API headers",
            request("/api/v1/status", "*/*", &many_headers(150)),
            431,
            Some("headers_too_large"),
        ),
        (
            "many page headers",
            request("/", BROWSER_ACCEPT, &many_headers(150)),
            431,
            None,
        ),
        (
            "one huge header",
            request("/healthz", "*/*", &big_header),
            431,
            Some("headers_too_large"),
        ),
        (
            "a target over hyper's ceiling",
            request(&huge_target, "*/*", ""),
            414,
            Some("uri_too_long"),
        ),
        (
            "headers over hyper's ceiling",
            request("/healthz", "*/*", &many_headers(1_000)),
            431,
            Some("headers_too_large"),
        ),
        (
            "a header line without a colon",
            b"GET /healthz HTTP/1.1\r\nHost: x\r\nNo colon here\r\n\r\n".to_vec(),
            400,
            Some("bad_request"),
        ),
        (
            "a request line that is not HTTP",
            b"HELLO\r\n\r\n".to_vec(),
            400,
            Some("bad_request"),
        ),
        (
            "two content lengths",
            b"POST /api/v1/records HTTP/1.1\r\nHost: x\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n{}".to_vec(),
            400,
            Some("bad_request"),
        ),
    ];
    for (what, bytes, status, code) in cases {
        let answer = raw(&node, &bytes).await;
        match code {
            Some(code) => assert_json_error(what, &answer, status, code),
            None => assert_page(what, &answer, status),
        }
    }
    // The node is up and a normal request passes the limits.
    let answer = raw(&node, &request("/healthz", "*/*", &many_headers(20))).await;
    assert_eq!(answer.0, 200, "{}", answer.2);
    drop(node.tokens);
}

#[tokio::test]
async fn over_limit_web_forms_get_a_page() {
    let node = start_node(false);
    let http = client();
    let big = format!("username=a&password={}", "p".repeat(2 * 1024 * 1024));
    for path in [
        "/signin",
        "/admin/tokens",
        "/account/password",
        "/editor/new",
        "/admin/peers/add",
    ] {
        let response = http
            .post(node.server.url(path))
            .header("accept", BROWSER_ACCEPT)
            .header("content-type", "application/x-www-form-urlencoded")
            .body(big.clone())
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::PAYLOAD_TOO_LARGE, "{path}");
        let content_type = response.headers()["content-type"]
            .to_str()
            .unwrap()
            .to_string();
        assert!(
            content_type.starts_with("text/html"),
            "{path}: {content_type}"
        );
    }
}

#[tokio::test]
async fn search_parameters_that_are_not_utf8_are_refused_by_name() {
    let node = start_node(false);
    let http = client();
    for query in ["q=%FF%FE", "lang=it&q=%C3"] {
        let response = http
            .get(node.server.url(&format!("/api/v1/search?{query}")))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::BAD_REQUEST, "{query}");
        let body: Value = response.json().await.unwrap();
        assert_eq!(body["error"]["code"], "invalid_utf8", "{body}");
        assert_eq!(body["error"]["field"], "q", "{body}");

        let response = http
            .get(node.server.url(&format!("/?{query}")))
            .header("accept", BROWSER_ACCEPT)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::BAD_REQUEST, "web {query}");
        let page = response.text().await.unwrap();
        assert!(page.contains("UTF-8") && page.contains("q"), "{page}");
    }
    let response = http
        .get(node.server.url("/api/v1/search?q=citt%C3%A0"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
}

async fn add_peer(node: &Node, url: &str) -> (StatusCode, Value, Duration) {
    let started = Instant::now();
    let response = client()
        .post(node.server.url("/api/v1/peers"))
        .bearer_auth(&node.tokens.admin_token)
        .json(&json!({ "url": url }))
        .send()
        .await
        .expect("the node answers before the client's timeout");
    let status = response.status();
    let body = response.json().await.unwrap_or(Value::Null);
    (status, body, started.elapsed())
}

#[tokio::test]
async fn refused_peer_addresses_are_one_400_whatever_their_spelling() {
    let node = start_node(false);
    // A listener that would count any connection the node made.
    let trap = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    trap.set_nonblocking(true).unwrap();
    let port = trap.local_addr().unwrap().port();
    let long_name = format!("{}.example", "a.".repeat(150));
    let long_label = format!("{}.example", "b".repeat(64));
    for url in [
        format!("http://127.0.0.1:{port}"),
        format!("http://localhost:{port}"),
        format!("http://[::1]:{port}"),
        format!("https://{long_name}"),
        format!("https://{long_label}"),
    ] {
        let (status, body, _) = add_peer(&node, &url).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{url}: {body}");
        assert_eq!(body["error"]["code"], "peer_url_refused", "{url}: {body}");
        assert_eq!(body["error"]["field"], "url", "{url}: {body}");
    }
    assert!(
        trap.accept().is_err(),
        "no connection reached the refused address"
    );
}

#[tokio::test]
async fn a_peer_that_never_answers_is_a_504_before_the_clients_timeout() {
    let node = start_node(true);
    let silent = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", silent.local_addr().unwrap());
    let held = tokio::spawn(async move {
        let mut connections = Vec::new();
        loop {
            let (stream, _) = silent.accept().await.unwrap();
            connections.push(stream);
        }
    });
    let (status, body, took) = add_peer(&node, &url).await;
    held.abort();
    assert_eq!(status, StatusCode::GATEWAY_TIMEOUT, "{body}");
    assert_eq!(body["error"]["code"], "peer_did_not_answer", "{body}");
    let answer_ms = seednet_node::federation::client::PEER_ANSWER_TIMEOUT_MS;
    assert!(
        took >= Duration::from_millis(answer_ms) && took < Duration::from_millis(2 * answer_ms),
        "answered after {took:?}"
    );
    assert!(
        took < Duration::from_millis(seednet_node::config::REQUEST_TIMEOUT_MS_DEFAULT),
        "before the node's own request timeout"
    );
}
