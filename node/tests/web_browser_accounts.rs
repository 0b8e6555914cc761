//! Accounts, password sign-in, its limits, the audit log and the tokens
//! page, end to end: a real `seednet` node on 127.0.0.1 (sled on disk),
//! Debian's chromium for what a person does in the browser, and plain HTTP
//! for what needs status codes or two sessions at once.
//!
//! The nodes here count failed sign-ins in a window of
//! [`SIGN_IN_WINDOW_SECS`] seconds (`SEEDNET_SIGN_IN_WINDOW_SECS`), so the
//! test of the limit waits seconds, not the 15 minutes of a real node.

mod web_support;

use std::time::Duration;

use reqwest::header::{COOKIE, LOCATION, RETRY_AFTER, SET_COOKIE};
use reqwest::redirect::Policy;
use reqwest::StatusCode;
use serde_json::{json, Value};
use web_support::{browser_available, content, Browser, Node};

/// The failed-sign-in window of the nodes of these tests.
const SIGN_IN_WINDOW_SECS: u64 = 10;
/// Failed sign-ins per username before the node pauses them (the node's
/// `accounts::limiter::USERNAME_FAILURES_MAX`).
const USERNAME_FAILURES_MAX: usize = 5;
const PASSWORD: &str = "correct horse battery";

fn start_node(name: &str) -> Node {
    Node::start_with_env(
        name,
        "IT",
        "it,en",
        &[(
            "SEEDNET_SIGN_IN_WINDOW_SECS",
            &SIGN_IN_WINDOW_SECS.to_string(),
        )],
    )
}

fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(Policy::none())
        .build()
        .unwrap()
}

/// `POST /api/v1/accounts` with the admin token; returns status and body.
async fn api_create_account(node: &Node, body: Value) -> (StatusCode, Value) {
    let response = client()
        .post(format!("{}/api/v1/accounts", node.url))
        .bearer_auth(&node.admin_token)
        .json(&body)
        .send()
        .await
        .unwrap();
    let status = response.status();
    (status, response.json().await.unwrap_or(Value::Null))
}

async fn create_editor(node: &Node, username: &str, display_name: &str) {
    let (status, body) = api_create_account(
        node,
        json!({"username": username, "display_name": display_name, "role": "editor", "password": PASSWORD}),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
}

/// A browser-like HTTP session: the CSRF cookie of the sign-in form, then
/// the session cookie.
struct WebSession {
    url: String,
    cookies: Vec<String>,
}

fn set_cookies(response: &reqwest::Response) -> Vec<String> {
    response
        .headers()
        .get_all(SET_COOKIE)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .map(|value| value.split(';').next().unwrap_or("").to_string())
        .collect()
}

fn csrf_in(html: &str) -> String {
    let marker = "name=\"csrf\" value=\"";
    let start = html.find(marker).expect("a csrf field") + marker.len();
    html[start..start + 64].to_string()
}

impl WebSession {
    fn new(node: &Node) -> WebSession {
        WebSession {
            url: node.url.clone(),
            cookies: Vec::new(),
        }
    }

    fn keep(&mut self, response: &reqwest::Response) {
        for cookie in set_cookies(response) {
            let name = cookie.split('=').next().unwrap_or("").to_string();
            self.cookies
                .retain(|kept| !kept.starts_with(&format!("{name}=")));
            self.cookies.push(cookie);
        }
    }

    async fn get(&mut self, path: &str) -> (StatusCode, String, String) {
        let response = client()
            .get(format!("{}{path}", self.url))
            .header(COOKIE, self.cookies.join("; "))
            .send()
            .await
            .unwrap();
        self.keep(&response);
        let status = response.status();
        let location = response
            .headers()
            .get(LOCATION)
            .map(|value| value.to_str().unwrap().to_string())
            .unwrap_or_default();
        (status, location, response.text().await.unwrap())
    }

    /// Posts a form to `path` with the CSRF token of the page at `form_page`.
    async fn post(
        &mut self,
        form_page: &str,
        path: &str,
        fields: &[(&str, &str)],
    ) -> reqwest::Response {
        let (_, _, html) = self.get(form_page).await;
        let csrf = csrf_in(&html);
        let mut form: Vec<(&str, &str)> = vec![("csrf", csrf.as_str())];
        form.extend_from_slice(fields);
        let response = client()
            .post(format!("{}{path}", self.url))
            .header(COOKIE, self.cookies.join("; "))
            .form(&form)
            .send()
            .await
            .unwrap();
        self.keep(&response);
        response
    }

    async fn sign_in(&mut self, username: &str, password: &str) -> reqwest::Response {
        self.post(
            "/signin",
            "/signin",
            &[
                ("username", username),
                ("password", password),
                ("next", "/"),
            ],
        )
        .await
    }
}

/// Signs the browser in through the sign-in form.
async fn browser_sign_in(browser: &Browser, node: &Node, fields: &[(&str, &str)]) {
    browser
        .goto(&format!("{}/lang/en?back=/signin", node.url))
        .await;
    for (id, text) in fields {
        browser
            .find(&format!("#{id}"))
            .await
            .send_keys(text)
            .await
            .unwrap();
    }
    browser.click_to_page("form[action='/signin'] button").await;
}

#[tokio::test]
async fn an_admin_creates_an_editor_who_publishes_and_is_named_only_to_signed_in_viewers() {
    if !browser_available() {
        return;
    }
    let node = start_node("SEED Competence Centre Italy");
    let browser = Browser::start().await;

    // The first admin has only the token `seednet init` printed.
    browser_sign_in(&browser, &node, &[("token", &node.admin_token)]).await;
    assert_eq!(browser.path().await, "/admin");
    browser.click_to_page("a[href='/admin/accounts']").await;
    assert!(browser
        .text("#no-accounts")
        .await
        .contains("No accounts yet"));
    for (id, text) in [
        ("new-username", "maria.rossi"),
        ("new-display-name", "Maria Rossi"),
        ("new-password", PASSWORD),
    ] {
        browser
            .find(&format!("#{id}"))
            .await
            .send_keys(text)
            .await
            .unwrap();
    }
    browser
        .find("#new-role option[value='editor']")
        .await
        .click()
        .await
        .unwrap();
    browser.click_to_page("#account-new button").await;
    assert!(browser
        .text(".notice-ok")
        .await
        .contains("account is created"));
    let row = browser.text("tr[data-account='maria.rossi']").await;
    assert!(
        row.contains("Maria Rossi") && row.contains("Editor") && row.contains("Active"),
        "{row}"
    );
    browser.screenshot("web-accounts").await;
    browser.click_to_page("form.signout button").await;

    // The editor signs in with username and password.
    browser
        .goto(&format!("{}/lang/en?back=/signin", node.url))
        .await;
    browser
        .find("#username")
        .await
        .send_keys("maria.rossi")
        .await
        .unwrap();
    browser
        .find("#password")
        .await
        .send_keys(PASSWORD)
        .await
        .unwrap();
    browser.screenshot("web-signin-password").await;
    browser.click_to_page("form[action='/signin'] button").await;
    assert_eq!(browser.path().await, "/editor");
    assert_eq!(browser.text(".account-link").await, "Maria Rossi");

    // ... and publishes a record through the editor form.
    browser.click_to_page("a[href='/editor/new']").await;
    browser
        .find("#f-title")
        .await
        .send_keys("Sportello digitale di quartiere")
        .await
        .unwrap();
    browser
        .find("#f-summary")
        .await
        .send_keys("Volontari aiutano gli anziani a usare i servizi pubblici online.")
        .await
        .unwrap();
    browser
        .find("#f-body")
        .await
        .send_keys("Ogni martedì in biblioteca.")
        .await
        .unwrap();
    browser
        .find("#f-themes-competence-transfer")
        .await
        .click()
        .await
        .unwrap();
    browser.find("#f-lang").await.clear().await.unwrap();
    browser.find("#f-lang").await.send_keys("it").await.unwrap();
    browser.click_to_page("button[value='publish']").await;
    let record_path = browser.path().await;
    assert!(
        record_path.starts_with("/records/"),
        "publish went to {record_path}: {}",
        browser.text("main").await
    );
    let record_path = record_path.split('?').next().unwrap().to_string();

    // A signed-in viewer sees who published it.
    assert_eq!(
        browser
            .text(".published-by[data-version='1']")
            .await
            .split(" · ")
            .next()
            .unwrap(),
        "Version 1 published by Maria Rossi"
    );

    // An anonymous reader does not: the name is not even in the page.
    let anonymous = client()
        .get(format!("{}{record_path}", node.url))
        .send()
        .await
        .unwrap();
    assert_eq!(anonymous.status(), StatusCode::OK);
    let html = anonymous.text().await.unwrap();
    assert!(html.contains("Sportello digitale di quartiere"));
    assert!(
        !html.contains("Maria Rossi") && !html.contains("record-audit"),
        "{html}"
    );
    browser.click_to_page("form.signout button").await;
    browser.goto(&format!("{}{record_path}", node.url)).await;
    assert!(browser.find_all(".record-audit").await.is_empty());

    // The admin API tells the same, naming the account.
    let audit: Value = client()
        .get(format!("{}/api/v1{}/audit", node.url, record_path))
        .bearer_auth(&node.admin_token)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(audit["entries"][0]["version"], 1);
    assert_eq!(audit["entries"][0]["action"], "create");
    assert_eq!(audit["entries"][0]["actor"]["kind"], "account");
    assert_eq!(audit["entries"][0]["actor"]["username"], "maria.rossi");
    let as_editor = client()
        .get(format!("{}/api/v1{}/audit", node.url, record_path))
        .bearer_auth(&node.editor_token)
        .send()
        .await
        .unwrap();
    assert_eq!(as_editor.status(), StatusCode::FORBIDDEN);
    browser.close().await;
}

#[tokio::test]
async fn wrong_passwords_pause_sign_in_even_with_the_right_one_until_the_window_passes() {
    if !browser_available() {
        return;
    }
    let node = start_node("SEED Competence Centre Italy");
    create_editor(&node, "ana", "Ana Bianchi").await;
    let browser = Browser::start().await;
    browser
        .goto(&format!("{}/lang/en?back=/signin", node.url))
        .await;
    let attempt = |password: &'static str| {
        let browser = &browser;
        async move {
            browser.find("#username").await.clear().await.unwrap();
            browser
                .find("#username")
                .await
                .send_keys("ana")
                .await
                .unwrap();
            browser
                .find("#password")
                .await
                .send_keys(password)
                .await
                .unwrap();
            browser.click_to_page("form[action='/signin'] button").await;
        }
    };
    for _ in 0..USERNAME_FAILURES_MAX {
        attempt("not the password").await;
        let error = browser.text("#signin-error").await;
        assert!(
            error.contains("username or the password is not right"),
            "{error}"
        );
    }
    // Paused: the next wrong one and then the right one get the limit message.
    attempt("still not it").await;
    let limited = browser.text("#signin-error").await;
    assert!(
        limited.contains("Too many failed sign-ins; try again in a minute"),
        "{limited}"
    );
    attempt(PASSWORD).await;
    assert_eq!(browser.path().await, "/signin");
    assert!(browser
        .text("#signin-error")
        .await
        .contains("Too many failed sign-ins"));

    // The status is 429 with Retry-After, from any client, for this username.
    let mut other = WebSession::new(&node);
    let refused = other.sign_in("ana", PASSWORD).await;
    assert_eq!(refused.status(), StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(refused.headers()[RETRY_AFTER], "60");
    assert!(refused
        .text()
        .await
        .unwrap()
        .contains("Too many failed sign-ins"));
    // Another person is not paused.
    create_editor(&node, "luca", "Luca Verdi").await;
    assert_eq!(
        other.sign_in("luca", PASSWORD).await.status(),
        StatusCode::SEE_OTHER
    );

    // After the window the right password works again.
    tokio::time::sleep(Duration::from_secs(SIGN_IN_WINDOW_SECS + 1)).await;
    attempt(PASSWORD).await;
    assert_eq!(browser.path().await, "/editor");
    browser.close().await;
}

#[tokio::test]
async fn a_token_made_on_the_admin_page_is_shown_once_works_and_stops_when_revoked() {
    if !browser_available() {
        return;
    }
    let node = start_node("SEED Competence Centre Italy");
    let browser = Browser::start().await;
    browser_sign_in(&browser, &node, &[("token", &node.admin_token)]).await;
    browser.click_to_page("a[href='/admin/tokens']").await;
    // The two tokens of `seednet init` are listed, without secrets.
    assert_eq!(browser.find_all("tr[data-token]").await.len(), 2);
    browser
        .find("#token-label")
        .await
        .send_keys("import script")
        .await
        .unwrap();
    browser
        .find("#token-role option[value='editor']")
        .await
        .click()
        .await
        .unwrap();
    browser.click_to_page("#token-new button").await;
    let secret = browser
        .find("#new-token-secret")
        .await
        .prop("value")
        .await
        .unwrap()
        .expect("the secret is on the page");
    assert!(secret.starts_with("snt_"), "{secret}");
    assert!(browser
        .text("#new-token-hint")
        .await
        .contains("shown only this once"));
    browser.screenshot("web-tokens").await;

    // The next load of the page lists the token, never its secret.
    browser.goto(&format!("{}/admin/tokens", node.url)).await;
    assert!(browser.find_all("#new-token-secret").await.is_empty());
    let source = browser.client.source().await.unwrap();
    assert!(source.contains("import script"));
    assert!(!source.contains(&secret));
    let id = secret
        .trim_start_matches("snt_")
        .split('_')
        .next()
        .unwrap()
        .to_string();

    // It works against the API...
    let publish = |token: String| {
        let url = node.url.clone();
        async move {
            client()
                .post(format!("{url}/api/v1/records"))
                .bearer_auth(token)
                .json(&content(
                    "it",
                    "IT",
                    "Orti urbani",
                    "Orti condivisi in città.",
                    &["co-design"],
                ))
                .send()
                .await
                .unwrap()
                .status()
        }
    };
    assert_eq!(publish(secret.clone()).await, StatusCode::CREATED);

    // ... until it is revoked from the page.
    browser
        .click_to_page(&format!("button[data-token='{id}']"))
        .await;
    assert!(browser.text(".notice-ok").await.contains("revoked"));
    assert!(browser
        .find_all(&format!("tr[data-token='{id}']"))
        .await
        .is_empty());
    assert_eq!(publish(secret).await, StatusCode::UNAUTHORIZED);
    browser.close().await;
}

#[tokio::test]
async fn changing_ones_password_needs_the_current_one_and_ends_the_other_sessions() {
    let node = start_node("SEED Competence Centre Italy");
    create_editor(&node, "maria", "Maria Rossi").await;
    let mut laptop = WebSession::new(&node);
    let mut phone = WebSession::new(&node);
    assert_eq!(
        laptop.sign_in("maria", PASSWORD).await.status(),
        StatusCode::SEE_OTHER
    );
    assert_eq!(
        phone.sign_in("maria", PASSWORD).await.status(),
        StatusCode::SEE_OTHER
    );

    let new_password = "a brand new passphrase";
    let wrong = laptop
        .post(
            "/account/password",
            "/account/password",
            &[
                ("current_password", "not my password"),
                ("password", new_password),
                ("repeat", new_password),
            ],
        )
        .await;
    assert_eq!(wrong.status(), StatusCode::FORBIDDEN);
    assert!(wrong
        .text()
        .await
        .unwrap()
        .contains("The current password is not right"));
    let short = laptop
        .post(
            "/account/password",
            "/account/password",
            &[
                ("current_password", PASSWORD),
                ("password", "short"),
                ("repeat", "short"),
            ],
        )
        .await;
    assert_eq!(short.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert!(short
        .text()
        .await
        .unwrap()
        .contains("at least 12 characters"));

    // Guessing the current password in an open session is limited like sign-in.
    let mut guesses = WebSession::new(&node);
    create_editor(&node, "guess", "Guess Target").await;
    assert_eq!(
        guesses.sign_in("guess", PASSWORD).await.status(),
        StatusCode::SEE_OTHER
    );
    let mut statuses = Vec::new();
    for _ in 0..=USERNAME_FAILURES_MAX {
        let guess = guesses
            .post(
                "/account/password",
                "/account/password",
                &[
                    ("current_password", "a wrong guess"),
                    ("password", new_password),
                    ("repeat", new_password),
                ],
            )
            .await;
        statuses.push(guess.status());
    }
    assert_eq!(
        statuses[..USERNAME_FAILURES_MAX],
        [StatusCode::FORBIDDEN; USERNAME_FAILURES_MAX]
    );
    assert_eq!(
        statuses[USERNAME_FAILURES_MAX],
        StatusCode::TOO_MANY_REQUESTS
    );

    let changed = laptop
        .post(
            "/account/password",
            "/account/password",
            &[
                ("current_password", PASSWORD),
                ("password", new_password),
                ("repeat", new_password),
            ],
        )
        .await;
    assert_eq!(changed.status(), StatusCode::SEE_OTHER);
    // This session goes on; the phone's ended.
    let (status, _, html) = laptop.get("/account/password?notice=changed").await;
    assert_eq!(status, StatusCode::OK);
    assert!(html.contains("Your password is changed"));
    let (status, location, _) = phone.get("/editor").await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    assert!(location.starts_with("/signin"), "{location}");
    // The old password no longer signs in; the new one does.
    let mut again = WebSession::new(&node);
    assert_eq!(
        again.sign_in("maria", PASSWORD).await.status(),
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        again.sign_in("maria", new_password).await.status(),
        StatusCode::SEE_OTHER
    );
}

#[tokio::test]
async fn disabling_an_account_ends_its_session_and_refuses_its_password() {
    let node = start_node("SEED Competence Centre Italy");
    create_editor(&node, "maria", "Maria Rossi").await;
    let mut session = WebSession::new(&node);
    assert_eq!(
        session.sign_in("maria", PASSWORD).await.status(),
        StatusCode::SEE_OTHER
    );
    assert_eq!(session.get("/editor").await.0, StatusCode::OK);

    let disabled = client()
        .post(format!("{}/api/v1/accounts/maria/disable", node.url))
        .bearer_auth(&node.admin_token)
        .send()
        .await
        .unwrap();
    assert_eq!(disabled.status(), StatusCode::OK);
    assert_eq!(disabled.json::<Value>().await.unwrap()["disabled"], true);

    let (status, location, _) = session.get("/editor").await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    assert!(location.starts_with("/signin"), "{location}");
    let refused = WebSession::new(&node).sign_in("maria", PASSWORD).await;
    assert_eq!(refused.status(), StatusCode::FORBIDDEN);
    assert!(refused
        .text()
        .await
        .unwrap()
        .contains("This account is disabled"));
}

#[tokio::test]
async fn account_api_errors_are_json_naming_the_field() {
    let node = start_node("SEED Competence Centre Italy");
    create_editor(&node, "maria", "Maria Rossi").await;
    let cases = [
        (
            json!({"username": "maria", "display_name": "Another Maria", "role": "editor", "password": PASSWORD}),
            StatusCode::CONFLICT,
            "username_taken",
            "username",
        ),
        (
            json!({"username": "Maria Rossi", "display_name": "Maria", "role": "editor", "password": PASSWORD}),
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_username",
            "username",
        ),
        (
            json!({"username": "ana", "display_name": "Ana", "role": "editor", "password": "short"}),
            StatusCode::UNPROCESSABLE_ENTITY,
            "password_too_short",
            "password",
        ),
        (
            json!({"username": "ana", "display_name": "", "role": "editor", "password": PASSWORD}),
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_display_name",
            "display_name",
        ),
        (
            json!({"username": "ana", "display_name": "Ana", "role": "boss", "password": PASSWORD}),
            StatusCode::BAD_REQUEST,
            "invalid_field",
            "role",
        ),
    ];
    for (body, status, code, field) in cases {
        let (got, error) = api_create_account(&node, body.clone()).await;
        assert_eq!(got, status, "{body} -> {error}");
        assert_eq!(error["error"]["code"], code, "{error}");
        assert_eq!(error["error"]["field"], field, "{error}");
        assert!(error["error"]["message"]
            .as_str()
            .is_some_and(|m| !m.is_empty()));
    }
    // Only admins manage accounts, and no answer ever carries a password hash.
    let as_editor = client()
        .get(format!("{}/api/v1/accounts", node.url))
        .bearer_auth(&node.editor_token)
        .send()
        .await
        .unwrap();
    assert_eq!(as_editor.status(), StatusCode::FORBIDDEN);
    let listed = client()
        .get(format!("{}/api/v1/accounts", node.url))
        .bearer_auth(&node.admin_token)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        listed.contains("\"username\":\"maria\"") && !listed.contains("argon2"),
        "{listed}"
    );
    // The OpenAPI document describes the new endpoints.
    let openapi: Value = client()
        .get(format!("{}/api/v1/openapi.json", node.url))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    for path in [
        "/api/v1/accounts",
        "/api/v1/accounts/{username}",
        "/api/v1/accounts/{username}/disable",
        "/api/v1/accounts/{username}/enable",
        "/api/v1/accounts/{username}/password",
        "/api/v1/records/{origin}/{id}/audit",
    ] {
        assert!(
            openapi["paths"].get(path).is_some(),
            "{path} missing from OpenAPI"
        );
    }
    assert!(openapi["components"]["schemas"]
        .get("CreateAccount")
        .is_some());
    let missing = client()
        .post(format!("{}/api/v1/accounts/nobody/password", node.url))
        .bearer_auth(&node.admin_token)
        .json(&json!({"password": PASSWORD}))
        .send()
        .await
        .unwrap();
    assert_eq!(missing.status(), StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn the_cli_manages_accounts_on_a_running_node() {
    let node = start_node("SEED Competence Centre Italy");
    let seednet = |args: &[&str], stdin: &str| {
        let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_seednet"))
            .args(["--node", &node.url, "--token", &node.admin_token])
            .args(args)
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        use std::io::Write;
        child
            .stdin
            .take()
            .unwrap()
            .write_all(stdin.as_bytes())
            .unwrap();
        let output = child.wait_with_output().unwrap();
        (
            output.status.success(),
            String::from_utf8_lossy(&output.stdout).into_owned(),
            String::from_utf8_lossy(&output.stderr).into_owned(),
        )
    };
    let (ok, out, err) = seednet(
        &[
            "account",
            "add",
            "ana",
            "--name",
            "Ana Bianchi",
            "--role",
            "editor",
            "--password-stdin",
        ],
        &format!("{PASSWORD}\n"),
    );
    assert!(ok, "{err}");
    assert!(out.contains("created editor account ana"), "{out}");
    assert_eq!(
        WebSession::new(&node)
            .sign_in("ana", PASSWORD)
            .await
            .status(),
        StatusCode::SEE_OTHER
    );

    // A generated password is printed once and signs in.
    let (ok, out, err) = seednet(&["account", "reset-password", "ana"], "");
    assert!(ok, "{err}");
    let generated = out
        .lines()
        .find_map(|line| line.strip_prefix("password (shown once; ask them to change it): "))
        .expect("the generated password is printed")
        .to_string();
    assert_eq!(
        WebSession::new(&node)
            .sign_in("ana", &generated)
            .await
            .status(),
        StatusCode::SEE_OTHER
    );

    let (ok, _, err) = seednet(&["account", "disable", "ana"], "");
    assert!(ok, "{err}");
    let (ok, out, _) = seednet(&["account", "list", "--json"], "");
    assert!(ok);
    let list: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(list[0]["username"], "ana");
    assert_eq!(list[0]["disabled"], true);
    let (ok, _, err) = seednet(
        &[
            "account", "add", "Bad Name", "--name", "X", "--role", "editor",
        ],
        "",
    );
    assert!(!ok);
    assert!(
        err.contains("invalid_username") && err.contains("field username"),
        "{err}"
    );
}
