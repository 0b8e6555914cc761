//! The JSON API of one node, over real HTTP on loopback against the real
//! binary with sled on disk: the record lifecycle, paging, restart, every
//! kind of bad input, token roles, health, metrics and the OpenAPI document.

mod common;

use common::{client, content, data_dir, init, InitOutput, Server};
use reqwest::{Method, StatusCode};
use seednet_protocol::{NodeDescriptor, Record, Signed, SignedWire};
use serde_json::{json, Value};

fn verify(body: &Value) -> Signed<Record> {
    let wire: SignedWire = serde_json::from_value(body.clone()).expect("signed wire");
    Signed::from_wire(&wire).expect("the node's answer verifies")
}

struct Api {
    server: Server,
    http: reqwest::Client,
    tokens: InitOutput,
}

impl Api {
    async fn send(
        &self,
        method: Method,
        path: &str,
        token: Option<&str>,
        body: Option<Value>,
    ) -> (StatusCode, reqwest::header::HeaderMap, Value) {
        let mut request = self.http.request(method, self.server.url(path));
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        if let Some(body) = body {
            request = request.json(&body);
        }
        let response = request.send().await.expect("request");
        let status = response.status();
        let headers = response.headers().clone();
        let text = response.text().await.unwrap();
        let value = serde_json::from_str(&text).unwrap_or(Value::String(text));
        (status, headers, value)
    }

    async fn publish(&self, title: &str) -> Signed<Record> {
        let (status, headers, body) = self
            .send(
                Method::POST,
                "/api/v1/records",
                Some(&self.tokens.editor_token),
                Some(content(title)),
            )
            .await;
        assert_eq!(status, StatusCode::CREATED, "{body}");
        let signed = verify(&body);
        let record = signed.value();
        assert_eq!(record.key.origin.to_string(), self.tokens.node_id);
        assert_eq!(record.version, 1);
        assert_eq!(headers["etag"], "\"1\"");
        assert_eq!(
            headers["location"],
            format!("/api/v1/records/{}/{}", record.key.origin, record.key.id).as_str()
        );
        signed
    }

    /// Every record of a listing, following cursors with `page_size`.
    async fn list_all(&self, query: &str, page_size: usize) -> Vec<Signed<Record>> {
        let mut found = Vec::new();
        let mut cursor: Option<String> = None;
        for _ in 0..1_000 {
            let mut path = format!("/api/v1/records?limit={page_size}");
            if !query.is_empty() {
                path.push('&');
                path.push_str(query);
            }
            if let Some(cursor) = &cursor {
                path.push_str(&format!("&cursor={cursor}"));
            }
            let (status, _, body) = self.send(Method::GET, &path, None, None).await;
            assert_eq!(status, StatusCode::OK, "{body}");
            let records = body["records"].as_array().unwrap();
            assert!(records.len() <= page_size);
            found.extend(records.iter().map(verify));
            match body["next_cursor"].as_str() {
                Some(next) => cursor = Some(next.to_string()),
                None => return found,
            }
        }
        panic!("listing did not end");
    }
}

async fn start() -> (tempfile::TempDir, Api) {
    let temp = tempfile::tempdir().unwrap();
    let dir = data_dir(&temp);
    let tokens = init(&dir);
    let server = Server::start(&dir);
    (
        temp,
        Api {
            server,
            http: client(),
            tokens,
        },
    )
}

fn titles(records: &[Signed<Record>]) -> Vec<String> {
    let mut titles: Vec<String> = records
        .iter()
        .filter_map(|s| s.value().content().map(|c| c.title.clone()))
        .collect();
    titles.sort();
    titles
}

#[tokio::test]
async fn publish_read_update_delete_list_and_restart() {
    let (temp, api) = start().await;
    let editor = api.tokens.editor_token.clone();
    let mut published = Vec::new();
    for n in 0..7 {
        published.push(api.publish(&format!("Pratica {n}")).await);
    }
    let first = published[0].value().key.clone();
    let path = format!("/api/v1/records/{}/{}", first.origin, first.id);

    let (status, headers, body) = api.send(Method::GET, &path, None, None).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(headers["etag"], "\"1\"");
    assert_eq!(
        verify(&body).bytes(),
        published[0].bytes(),
        "GET returns the exact signed bytes"
    );

    let mut changed = content("Pratica 0, seconda edizione");
    changed["year_end"] = json!(2024);
    let (status, headers, body) = api
        .send(Method::PUT, &path, Some(&editor), Some(changed.clone()))
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(headers["etag"], "\"2\"");
    let updated = verify(&body);
    assert_eq!(updated.value().version, 2);
    assert_eq!(updated.value().content().unwrap().year_end, Some(2024));

    let second = published[1].value().key.clone();
    let second_path = format!("/api/v1/records/{}/{}", second.origin, second.id);
    let (status, _, body) = api
        .send(Method::DELETE, &second_path, Some(&editor), None)
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let tombstone = verify(&body);
    assert!(tombstone.value().is_tombstone());
    assert_eq!(tombstone.value().version, 2);
    let (status, _, body) = api.send(Method::GET, &second_path, None, None).await;
    assert_eq!(status, StatusCode::GONE);
    assert_eq!(body["error"]["code"], "deleted");

    let live = api.list_all("", 2).await;
    assert_eq!(live.len(), 6, "deleted records are not listed");
    assert!(titles(&live).contains(&"Pratica 0, seconda edizione".to_string()));
    let with_deleted = api.list_all("include_deleted=true", 3).await;
    assert_eq!(with_deleted.len(), 7);
    assert_eq!(
        api.list_all("theme=co-design&country=IT&lang=it&kind=practice", 4)
            .await
            .len(),
        6
    );
    assert!(api.list_all("theme=impact-finance", 4).await.is_empty());
    assert!(api.list_all("country=GR", 4).await.is_empty());
    assert_eq!(
        api.list_all(&format!("origin={}", api.tokens.node_id), 50)
            .await
            .len(),
        6
    );

    // Restart: everything is still there, byte for byte.
    let before_restart = api.list_all("include_deleted=true", 50).await;
    let Api {
        server,
        http,
        tokens,
    } = api;
    server.stop();
    let server = Server::start(&data_dir(&temp));
    let api = Api {
        server,
        http,
        tokens,
    };
    let after_restart = api.list_all("include_deleted=true", 50).await;
    let bytes = |records: &[Signed<Record>]| {
        records
            .iter()
            .map(|s| s.bytes().to_vec())
            .collect::<Vec<_>>()
    };
    assert_eq!(bytes(&before_restart), bytes(&after_restart));
    let (status, _, body) = api.send(Method::GET, &path, None, None).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(verify(&body).value().version, 2);

    let (status, _, body) = api.send(Method::GET, "/api/v1/node", None, None).await;
    assert_eq!(status, StatusCode::OK);
    let wire: SignedWire = serde_json::from_value(body).unwrap();
    let descriptor = Signed::<NodeDescriptor>::from_wire(&wire).expect("descriptor verifies");
    assert_eq!(descriptor.value().node_id.to_string(), api.tokens.node_id);
    assert_eq!(descriptor.value().name, "SEED Competence Centre Italy");
    assert_eq!(
        descriptor.value().version,
        1,
        "unchanged config does not re-sign"
    );
}

/// One bad request and the error it must get.
struct Case {
    name: &'static str,
    method: Method,
    path: String,
    token: Option<String>,
    content_type: Option<&'static str>,
    body: Option<Vec<u8>>,
    headers: Vec<(&'static str, &'static str)>,
    status: StatusCode,
    code: &'static str,
    field: Option<&'static str>,
}

impl Case {
    fn new(
        name: &'static str,
        method: Method,
        path: impl Into<String>,
        status: StatusCode,
        code: &'static str,
    ) -> Case {
        Case {
            name,
            method,
            path: path.into(),
            token: None,
            content_type: None,
            body: None,
            headers: Vec::new(),
            status,
            code,
            field: None,
        }
    }
    fn token(mut self, token: &str) -> Case {
        self.token = Some(token.to_string());
        self
    }
    fn json(mut self, body: impl Into<Vec<u8>>) -> Case {
        self.content_type = Some("application/json");
        self.body = Some(body.into());
        self
    }
    fn field(mut self, field: &'static str) -> Case {
        self.field = Some(field);
        self
    }
    fn header(mut self, name: &'static str, value: &'static str) -> Case {
        self.headers.push((name, value));
        self
    }
}

async fn check(api: &Api, case: Case) {
    let mut request = api
        .http
        .request(case.method.clone(), api.server.url(&case.path));
    if let Some(token) = &case.token {
        request = request.bearer_auth(token);
    }
    if let Some(content_type) = case.content_type {
        request = request.header("content-type", content_type);
    }
    for (name, value) in &case.headers {
        request = request.header(*name, *value);
    }
    if let Some(body) = case.body {
        request = request.body(body);
    }
    let response = request.send().await.unwrap();
    let status = response.status();
    let content_type = response.headers().get("content-type").cloned();
    let text = response.text().await.unwrap();
    assert_eq!(status, case.status, "{}: {text}", case.name);
    assert_eq!(
        content_type.as_ref().map(|v| v.to_str().unwrap()),
        Some("application/json"),
        "{}: error bodies are JSON",
        case.name
    );
    let body: Value =
        serde_json::from_str(&text).unwrap_or_else(|_| panic!("{}: not JSON: {text}", case.name));
    assert_eq!(body["error"]["code"], case.code, "{}: {text}", case.name);
    assert!(
        !body["error"]["message"].as_str().unwrap().is_empty(),
        "{}",
        case.name
    );
    if let Some(field) = case.field {
        assert_eq!(body["error"]["field"], field, "{}: {text}", case.name);
    }
}

#[tokio::test]
async fn every_bad_input_gets_a_json_error() {
    let (_temp, api) = start().await;
    let editor = api.tokens.editor_token.clone();
    let admin = api.tokens.admin_token.clone();
    let own = api.publish("Pratica propria").await;
    let own_key = own.value().key.clone();
    let own_path = format!("/api/v1/records/{}/{}", own_key.origin, own_key.id);
    let deleted = api.publish("Pratica cancellata").await;
    let deleted_path = format!(
        "/api/v1/records/{}/{}",
        deleted.value().key.origin,
        deleted.value().key.id
    );
    let (status, _, _) = api
        .send(Method::DELETE, &deleted_path, Some(&editor), None)
        .await;
    assert_eq!(status, StatusCode::OK);
    let other_origin = seednet_protocol::testing::test_key(9).node_id();
    let valid = content("Valida").to_string();
    let mut wrong_type = content("Tipo sbagliato");
    wrong_type["year_start"] = json!("2022");
    let mut unknown_field = content("Campo ignoto");
    unknown_field["colour"] = json!("green");
    let mut bad_email = content("Email sbagliata");
    bad_email["contact"] = json!({"email": "not-an-email"});
    let mut bad_theme = content("Tema ignoto");
    bad_theme["themes"] = json!(["co_design"]);
    let huge = format!("{{\"title\": \"{}\"}}", "x".repeat(2 * 1024 * 1024));
    let records = "/api/v1/records";

    let cases = vec![
        Case::new(
            "invalid JSON",
            Method::POST,
            records,
            StatusCode::BAD_REQUEST,
            "invalid_json",
        )
        .token(&editor)
        .json("{\"kind\": "),
        Case::new(
            "not an object",
            Method::POST,
            records,
            StatusCode::BAD_REQUEST,
            "invalid_json",
        )
        .token(&editor)
        .json("[1, 2]"),
        Case::new(
            "wrong type",
            Method::POST,
            records,
            StatusCode::BAD_REQUEST,
            "invalid_field",
        )
        .token(&editor)
        .json(wrong_type.to_string())
        .field("year_start"),
        Case::new(
            "unknown field",
            Method::POST,
            records,
            StatusCode::BAD_REQUEST,
            "unknown_field",
        )
        .token(&editor)
        .json(unknown_field.to_string())
        .field("colour"),
        Case::new(
            "unknown slug",
            Method::POST,
            records,
            StatusCode::BAD_REQUEST,
            "invalid_field",
        )
        .token(&editor)
        .json(bad_theme.to_string())
        .field("themes[0]"),
        Case::new(
            "failed validation",
            Method::POST,
            records,
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_email",
        )
        .token(&editor)
        .json(bad_email.to_string())
        .field("contact.email"),
        Case::new(
            "body over the limit",
            Method::POST,
            records,
            StatusCode::PAYLOAD_TOO_LARGE,
            "body_too_large",
        )
        .token(&editor)
        .json(huge),
        Case::new(
            "not JSON content type",
            Method::POST,
            records,
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported_media_type",
        )
        .token(&editor)
        .header("content-type", "text/plain"),
        Case::new(
            "no token",
            Method::POST,
            records,
            StatusCode::UNAUTHORIZED,
            "unauthorized",
        )
        .json(valid.clone()),
        Case::new(
            "unknown token",
            Method::POST,
            records,
            StatusCode::UNAUTHORIZED,
            "invalid_token",
        )
        .token("snt_0123456789abcdef_00")
        .json(valid.clone()),
        Case::new(
            "garbage token",
            Method::POST,
            records,
            StatusCode::UNAUTHORIZED,
            "invalid_token",
        )
        .token("hunter2")
        .json(valid.clone()),
        Case::new(
            "unknown record",
            Method::GET,
            format!("/api/v1/records/{}/NOSUCHRECORD", own_key.origin),
            StatusCode::NOT_FOUND,
            "not_found",
        ),
        Case::new(
            "bad origin",
            Method::GET,
            "/api/v1/records/xyz/abc",
            StatusCode::BAD_REQUEST,
            "invalid_origin",
        )
        .field("origin"),
        Case::new(
            "bad id",
            Method::GET,
            format!("/api/v1/records/{}/a.b", own_key.origin),
            StatusCode::BAD_REQUEST,
            "invalid_record_id",
        )
        .field("id"),
        Case::new(
            "deleted record",
            Method::GET,
            deleted_path.clone(),
            StatusCode::GONE,
            "deleted",
        ),
        Case::new(
            "update another origin's record",
            Method::PUT,
            format!("/api/v1/records/{other_origin}/abc"),
            StatusCode::FORBIDDEN,
            "not_own_record",
        )
        .token(&editor)
        .json(valid.clone()),
        Case::new(
            "update unknown record",
            Method::PUT,
            format!("/api/v1/records/{}/NOSUCHRECORD", own_key.origin),
            StatusCode::NOT_FOUND,
            "not_found",
        )
        .token(&editor)
        .json(valid.clone()),
        Case::new(
            "update with stale If-Match",
            Method::PUT,
            own_path.clone(),
            StatusCode::CONFLICT,
            "version_conflict",
        )
        .token(&editor)
        .json(valid.clone())
        .header("if-match", "\"7\""),
        Case::new(
            "update with bad If-Match",
            Method::PUT,
            own_path.clone(),
            StatusCode::BAD_REQUEST,
            "invalid_if_match",
        )
        .token(&editor)
        .json(valid.clone())
        .header("if-match", "soon")
        .field("If-Match"),
        Case::new(
            "update with invalid content",
            Method::PUT,
            own_path.clone(),
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_email",
        )
        .token(&editor)
        .json(bad_email.to_string())
        .field("contact.email"),
        Case::new(
            "update a deleted record",
            Method::PUT,
            deleted_path.clone(),
            StatusCode::GONE,
            "deleted",
        )
        .token(&editor)
        .json(valid.clone()),
        Case::new(
            "update without token",
            Method::PUT,
            own_path.clone(),
            StatusCode::UNAUTHORIZED,
            "unauthorized",
        )
        .json(valid.clone()),
        Case::new(
            "delete twice",
            Method::DELETE,
            deleted_path.clone(),
            StatusCode::GONE,
            "deleted",
        )
        .token(&editor),
        Case::new(
            "delete with stale If-Match",
            Method::DELETE,
            own_path.clone(),
            StatusCode::CONFLICT,
            "version_conflict",
        )
        .token(&editor)
        .header("if-match", "\"3\""),
        Case::new(
            "delete another origin's record",
            Method::DELETE,
            format!("/api/v1/records/{other_origin}/abc"),
            StatusCode::FORBIDDEN,
            "not_own_record",
        )
        .token(&editor),
        Case::new(
            "delete without token",
            Method::DELETE,
            own_path.clone(),
            StatusCode::UNAUTHORIZED,
            "unauthorized",
        ),
        Case::new(
            "list unknown parameter",
            Method::GET,
            "/api/v1/records?colour=green",
            StatusCode::BAD_REQUEST,
            "unknown_parameter",
        )
        .field("colour"),
        Case::new(
            "list limit zero",
            Method::GET,
            "/api/v1/records?limit=0",
            StatusCode::BAD_REQUEST,
            "invalid_parameter",
        )
        .field("limit"),
        Case::new(
            "list limit too big",
            Method::GET,
            "/api/v1/records?limit=100000",
            StatusCode::BAD_REQUEST,
            "invalid_parameter",
        )
        .field("limit"),
        Case::new(
            "list limit not a number",
            Method::GET,
            "/api/v1/records?limit=ten",
            StatusCode::BAD_REQUEST,
            "invalid_parameter",
        )
        .field("limit"),
        Case::new(
            "list bad theme",
            Method::GET,
            "/api/v1/records?theme=co_design",
            StatusCode::BAD_REQUEST,
            "invalid_parameter",
        )
        .field("theme"),
        Case::new(
            "list bad country",
            Method::GET,
            "/api/v1/records?country=XX",
            StatusCode::BAD_REQUEST,
            "invalid_parameter",
        )
        .field("country"),
        Case::new(
            "list bad cursor",
            Method::GET,
            "/api/v1/records?cursor=nonsense",
            StatusCode::BAD_REQUEST,
            "invalid_parameter",
        )
        .field("cursor"),
        Case::new(
            "list repeated parameter",
            Method::GET,
            "/api/v1/records?kind=tool&kind=practice",
            StatusCode::BAD_REQUEST,
            "invalid_parameter",
        )
        .field("kind"),
        Case::new(
            "status without token",
            Method::GET,
            "/api/v1/status",
            StatusCode::UNAUTHORIZED,
            "unauthorized",
        ),
        Case::new(
            "status with editor token",
            Method::GET,
            "/api/v1/status",
            StatusCode::FORBIDDEN,
            "forbidden",
        )
        .token(&editor),
        Case::new(
            "token create by editor",
            Method::POST,
            "/api/v1/tokens",
            StatusCode::FORBIDDEN,
            "forbidden",
        )
        .token(&editor)
        .json("{\"role\":\"editor\"}"),
        Case::new(
            "token create bad role",
            Method::POST,
            "/api/v1/tokens",
            StatusCode::BAD_REQUEST,
            "invalid_field",
        )
        .token(&admin)
        .json("{\"role\":\"superuser\"}")
        .field("role"),
        Case::new(
            "token create unknown field",
            Method::POST,
            "/api/v1/tokens",
            StatusCode::BAD_REQUEST,
            "unknown_field",
        )
        .token(&admin)
        .json("{\"role\":\"editor\",\"expires\":1}"),
        Case::new(
            "token create invalid JSON",
            Method::POST,
            "/api/v1/tokens",
            StatusCode::BAD_REQUEST,
            "invalid_json",
        )
        .token(&admin)
        .json("{"),
        Case::new(
            "token list by editor",
            Method::GET,
            "/api/v1/tokens",
            StatusCode::FORBIDDEN,
            "forbidden",
        )
        .token(&editor),
        Case::new(
            "revoke unknown token",
            Method::DELETE,
            "/api/v1/tokens/0000000000000000",
            StatusCode::NOT_FOUND,
            "not_found",
        )
        .token(&admin),
        Case::new(
            "unknown route",
            Method::GET,
            "/api/v1/nothing-here",
            StatusCode::NOT_FOUND,
            "not_found",
        ),
        Case::new(
            "wrong method",
            Method::PATCH,
            records,
            StatusCode::METHOD_NOT_ALLOWED,
            "method_not_allowed",
        ),
    ];
    for case in cases {
        check(&api, case).await;
    }

    // Nothing above changed the records.
    let (status, _, body) = api.send(Method::GET, &own_path, None, None).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(verify(&body).bytes(), own.bytes());
    assert_eq!(api.list_all("include_deleted=true", 50).await.len(), 2);
}

#[tokio::test]
async fn token_roles_create_and_revoke() {
    let (_temp, api) = start().await;
    let admin = api.tokens.admin_token.clone();

    let (status, _, created) = api
        .send(
            Method::POST,
            "/api/v1/tokens",
            Some(&admin),
            Some(json!({"role": "editor", "label": "Maria"})),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{created}");
    let new_editor = created["token"].as_str().unwrap().to_string();
    let new_id = created["id"].as_str().unwrap().to_string();

    // The new editor publishes; an admin may publish too.
    let (status, _, _) = api
        .send(
            Method::POST,
            "/api/v1/records",
            Some(&new_editor),
            Some(content("Da Maria")),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED);
    let (status, _, _) = api
        .send(
            Method::POST,
            "/api/v1/records",
            Some(&admin),
            Some(content("Dall'admin")),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED);

    // Listing shows ids and roles, never secrets or hashes.
    let (status, _, list) = api
        .send(Method::GET, "/api/v1/tokens", Some(&admin), None)
        .await;
    assert_eq!(status, StatusCode::OK);
    let entries = list.as_array().unwrap();
    assert_eq!(entries.len(), 3);
    assert!(entries
        .iter()
        .any(|t| t["id"] == new_id.as_str() && t["role"] == "editor" && t["label"] == "Maria"));
    let text = list.to_string();
    assert!(
        !text.contains(&new_editor) && !text.contains("sha256"),
        "{text}"
    );

    // Revoked: the token stops working at once.
    let (status, _, _) = api
        .send(
            Method::DELETE,
            &format!("/api/v1/tokens/{new_id}"),
            Some(&admin),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let (status, _, body) = api
        .send(
            Method::POST,
            "/api/v1/records",
            Some(&new_editor),
            Some(content("Revocato")),
        )
        .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(body["error"]["code"], "invalid_token");

    // An admin token made through the API can see status.
    let (_, _, created) = api
        .send(
            Method::POST,
            "/api/v1/tokens",
            Some(&admin),
            Some(json!({"role": "admin"})),
        )
        .await;
    let second_admin = created["token"].as_str().unwrap().to_string();
    let (status, _, status_body) = api
        .send(Method::GET, "/api/v1/status", Some(&second_admin), None)
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(status_body["records"][0]["live"], 2);
    assert_eq!(status_body["tokens"], 3);
}

#[tokio::test]
async fn health_metrics_and_openapi() {
    let (_temp, api) = start().await;
    api.publish("Pratica misurata").await;
    let (status, _, body) = api.send(Method::GET, "/healthz", None, None).await;
    assert_eq!(
        (status, body["status"].as_str()),
        (StatusCode::OK, Some("ok"))
    );
    let (status, _, body) = api.send(Method::GET, "/readyz", None, None).await;
    assert_eq!(
        (status, body["status"].as_str()),
        (StatusCode::OK, Some("ready"))
    );
    let (_, _, _) = api
        .send(Method::GET, "/api/v1/records/xyz/abc", None, None)
        .await;

    let response = api
        .http
        .get(api.server.url("/metrics"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert!(response.headers()["content-type"]
        .to_str()
        .unwrap()
        .starts_with("text/plain"));
    let metrics = response.text().await.unwrap();
    let origin = &api.tokens.node_id;
    for expected in [
        format!("seednet_records{{origin=\"{origin}\",state=\"live\"}} 1"),
        "seednet_http_requests_total{route=\"/api/v1/records\",method=\"POST\",status=\"201\"} 1"
            .to_string(),
        "seednet_http_errors_total{code=\"invalid_origin\"} 1".to_string(),
        "seednet_writes_total{outcome=\"applied\"} 1".to_string(),
        "seednet_http_request_duration_seconds_count{route=\"/healthz\"} 1".to_string(),
    ] {
        assert!(
            metrics.contains(&expected),
            "missing {expected} in\n{metrics}"
        );
    }

    let (status, _, openapi) = api
        .send(Method::GET, "/api/v1/openapi.json", None, None)
        .await;
    assert_eq!(status, StatusCode::OK);
    assert!(openapi["openapi"].as_str().unwrap().starts_with("3."));
    for path in [
        "/api/v1/records",
        "/api/v1/records/{origin}/{id}",
        "/api/v1/node",
        "/api/v1/tokens",
    ] {
        assert!(
            openapi["paths"].get(path).is_some(),
            "{path} missing from OpenAPI"
        );
    }
    assert!(openapi["paths"]["/api/v1/records"]["post"]["responses"]
        .get("422")
        .is_some());
    assert!(openapi["components"]["schemas"].get("ErrorBody").is_some());
}

#[tokio::test]
async fn limits_come_from_the_environment() {
    let temp = tempfile::tempdir().unwrap();
    let dir = data_dir(&temp);
    let tokens = init(&dir);
    let server = Server::start_with_env(&dir, &[("SEEDNET_BODY_BYTES_MAX", "2048")]);
    let api = Api {
        server,
        http: client(),
        tokens,
    };
    let mut long = content("Corpo lungo");
    long["body"] = json!("parola ".repeat(500));
    let (status, _, body) = api
        .send(
            Method::POST,
            "/api/v1/records",
            Some(&api.tokens.editor_token),
            Some(long),
        )
        .await;
    assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE, "{body}");
    assert_eq!(body["error"]["code"], "body_too_large");
    api.publish("Corto").await;
}

/// A request that holds the only concurrency slot (its body never finishes
/// arriving) makes the next request get 503, and itself ends with 408 when
/// the request timeout passes; then the node serves again.
#[tokio::test]
async fn concurrency_limit_and_request_timeout_really_apply() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let temp = tempfile::tempdir().unwrap();
    let dir = data_dir(&temp);
    let tokens = init(&dir);
    let server = Server::start_with_env(
        &dir,
        &[
            ("SEEDNET_CONCURRENCY_MAX", "1"),
            ("SEEDNET_REQUEST_TIMEOUT_MS", "1500"),
        ],
    );
    let api = Api {
        server,
        http: client(),
        tokens,
    };
    let address = api.server.base.trim_start_matches("http://").to_string();
    let mut slow = tokio::net::TcpStream::connect(&address).await.unwrap();
    let head = format!(
        "POST /api/v1/records HTTP/1.1\r\nHost: {address}\r\nAuthorization: Bearer {}\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{{",
        api.tokens.editor_token
    );
    slow.write_all(head.as_bytes()).await.unwrap();

    // Wait (bounded) until the slow request holds the slot.
    let mut refused = None;
    for _ in 0..100 {
        let (status, _, body) = api.send(Method::GET, "/healthz", None, None).await;
        if status == StatusCode::SERVICE_UNAVAILABLE {
            refused = Some(body);
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    let refused = refused.expect("a second request is refused while the slot is taken");
    assert_eq!(refused["error"]["code"], "overloaded");

    let mut answer = Vec::new();
    slow.read_to_end(&mut answer).await.unwrap();
    let answer = String::from_utf8_lossy(&answer);
    assert!(answer.starts_with("HTTP/1.1 408"), "{answer}");
    assert!(answer.contains("\"code\":\"timeout\""), "{answer}");

    let (status, _, _) = api.send(Method::GET, "/healthz", None, None).await;
    assert_eq!(status, StatusCode::OK);
}

/// A client uploading too much reads the 413 JSON error, never a reset
/// connection: the server reads (and drops) a bounded amount of what is over
/// the limit before it answers. Repeated, because the reset was a race.
#[tokio::test]
async fn an_oversized_upload_gets_its_json_error_not_a_reset() {
    let (_temp, api) = start().await;
    let editor = api.tokens.editor_token.clone();
    let huge = format!("{{\"title\": \"{}\"}}", "x".repeat(6 * 1024 * 1024));
    for attempt in 0..4 {
        let response = api
            .http
            .post(api.server.url("/api/v1/records"))
            .bearer_auth(&editor)
            .header("content-type", "application/json")
            .body(huge.clone())
            .send()
            .await
            .unwrap_or_else(|e| panic!("attempt {attempt}: the upload was cut off: {e:?}"));
        assert_eq!(response.status(), StatusCode::PAYLOAD_TOO_LARGE);
        let body: Value = response.json().await.unwrap();
        assert_eq!(body["error"]["code"], "body_too_large", "{body}");
        assert!(
            body["error"]["message"]
                .as_str()
                .unwrap()
                .contains(&(1024 * 1024).to_string()),
            "the message names the limit: {body}"
        );
    }

    // Chunked, so no Content-Length warns the server: the limit still holds.
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let address = api.server.url("").trim_start_matches("http://").to_string();
    let address = address.trim_end_matches('/').to_string();
    let stream = tokio::net::TcpStream::connect(&address).await.unwrap();
    let (mut read, mut write) = stream.into_split();
    let head = format!(
        "POST /api/v1/records HTTP/1.1\r\nhost: {address}\r\nauthorization: Bearer {editor}\r\n\
         content-type: application/json\r\ntransfer-encoding: chunked\r\n\r\n"
    );
    let writer = tokio::spawn(async move {
        write.write_all(head.as_bytes()).await?;
        let chunk = vec![b'x'; 64 * 1024];
        for _ in 0..32 {
            write
                .write_all(format!("{:x}\r\n", chunk.len()).as_bytes())
                .await?;
            write.write_all(&chunk).await?;
            write.write_all(b"\r\n").await?;
        }
        write.write_all(b"0\r\n\r\n").await?;
        // Returned, not dropped: dropping it would half-close the socket,
        // and the server drops a half-closed connection unanswered.
        std::io::Result::Ok(write)
    });
    let mut answer = Vec::new();
    tokio::time::timeout(
        std::time::Duration::from_secs(30),
        read.read_to_end(&mut answer),
    )
    .await
    .expect("the server answers and closes the connection")
    .expect("the connection ends cleanly");
    let answer = String::from_utf8_lossy(&answer);
    assert!(answer.starts_with("HTTP/1.1 413"), "{answer}");
    assert!(answer.contains("\"body_too_large\""), "{answer}");
    drop(writer);

    // Under the limit, bodies still arrive whole.
    let created = api.publish("Pratica dopo il rifiuto").await;
    assert_eq!(created.value().version, 1);
}
