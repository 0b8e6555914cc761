//! Shared pieces of the web tests: a real `seednet` node started from the
//! built binary on 127.0.0.1 (its own data dir, real sled, tokens from
//! `seednet init --json`), records published through the real HTTP API, and
//! Debian's chromium driven through chromedriver (WebDriver).
//!
//! When chromium or chromedriver is missing, browser tests print a loud
//! SKIPPED line and return, unless `SEEDNET_REQUIRE_BROWSER=1` (set by CI),
//! in which case they fail with a message that says what to install.

#![allow(dead_code)]

use std::io::{BufRead, BufReader};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use fantoccini::{Client, ClientBuilder, Locator};
use serde_json::{json, Value};

/// How long to wait for chromedriver to accept connections, in 100 ms steps.
pub const DRIVER_START_STEPS_MAX: usize = 150;
/// How long a page element may take to appear.
pub const ELEMENT_WAIT_SECS_MAX: u64 = 20;
/// How long a page may take to load after a click, in 50 ms steps.
pub const PAGE_LOAD_STEPS_MAX: usize = 400;
pub const CHROMIUM: &str = "/usr/bin/chromium";

/// A node process, killed when dropped.
pub struct Node {
    child: Child,
    pub url: String,
    pub node_id: String,
    pub admin_token: String,
    pub editor_token: String,
    _dir: tempfile::TempDir,
}

impl Drop for Node {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn seednet() -> Command {
    Command::new(env!("CARGO_BIN_EXE_seednet"))
}

impl Node {
    /// `seednet init` then `seednet serve --listen 127.0.0.1:0`.
    pub fn start(name: &str, country: &str, languages: &str) -> Node {
        Node::start_with(name, country, languages, false, &[])
    }

    /// A node whose public URL is its real loopback address and that accepts
    /// loopback peers (explicitly allowed in its config, as in the demo).
    pub fn start_federating(name: &str, country: &str, languages: &str) -> Node {
        Node::start_with(name, country, languages, true, &[])
    }

    fn start_with(
        name: &str,
        country: &str,
        languages: &str,
        federating: bool,
        env: &[(&str, &str)],
    ) -> Node {
        let dir = tempfile::tempdir().expect("temp dir");
        let data_dir = dir.path().join("node");
        let port = free_port();
        let (url, listen) = if federating {
            (
                format!("http://127.0.0.1:{port}"),
                format!("127.0.0.1:{port}"),
            )
        } else {
            (
                "http://127.0.0.1:8470".to_string(),
                "127.0.0.1:0".to_string(),
            )
        };
        let output = seednet()
            .arg("--data-dir")
            .arg(&data_dir)
            .args(["init", "--name", name, "--country", country])
            .args(["--url", &url, "--languages", languages, "--json"])
            .output()
            .expect("run seednet init");
        assert!(
            output.status.success(),
            "seednet init failed: {}",
            String::from_utf8_lossy(&output.stderr)
        );
        let init: Value = serde_json::from_slice(&output.stdout).expect("init prints JSON");
        if federating {
            let config_path = data_dir.join("seednet.toml");
            let mut config = std::fs::read_to_string(&config_path).expect("read config");
            config = if config.contains("[federation]\n") {
                config.replacen(
                    "[federation]\n",
                    "[federation]\nallow_loopback_peers = true\n",
                    1,
                )
            } else {
                config + "\n[federation]\nallow_loopback_peers = true\n"
            };
            std::fs::write(&config_path, config).expect("write config");
        }
        let mut child = seednet()
            .arg("--data-dir")
            .arg(&data_dir)
            .args(["serve", "--listen", &listen])
            .env("SEEDNET_LOG", "warn")
            // The pages are checked against exact lexical results.
            .env("SEEDNET_SEMANTIC", "off")
            .envs(env.iter().copied())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("run seednet serve");
        let stdout = child.stdout.take().expect("serve stdout");
        let mut lines = BufReader::new(stdout).lines();
        let url = loop {
            let line = lines
                .next()
                .expect("seednet serve exited before listening")
                .expect("read serve stdout");
            if let Some(url) = line.strip_prefix("listening on ") {
                break url.trim().to_string();
            }
        };
        // Keep draining stdout so the node never blocks on a full pipe.
        std::thread::spawn(move || for _ in lines {});
        Node {
            child,
            url,
            node_id: init["node_id"].as_str().expect("node_id").to_string(),
            admin_token: init["admin_token"]
                .as_str()
                .expect("admin_token")
                .to_string(),
            editor_token: init["editor_token"]
                .as_str()
                .expect("editor_token")
                .to_string(),
            _dir: dir,
        }
    }

    /// Publishes record content through `POST /api/v1/records`; returns the
    /// record's page path (`/records/ORIGIN/ID`).
    pub async fn publish(&self, content: &Value) -> String {
        let response = reqwest::Client::new()
            .post(format!("{}/api/v1/records", self.url))
            .bearer_auth(&self.editor_token)
            .json(content)
            .send()
            .await
            .expect("publish request");
        let status = response.status();
        let body: Value = response.json().await.expect("publish answers JSON");
        assert_eq!(status.as_u16(), 201, "publish refused: {body}");
        let signed = if body["signed"].is_object() {
            &body["signed"]
        } else {
            &body
        };
        format!(
            "/records/{}/{}",
            signed["origin"].as_str().expect("origin"),
            signed["id"].as_str().expect("id")
        )
    }
}

/// Minimal record content in the protocol's JSON shape.
pub fn content(lang: &str, country: &str, title: &str, summary: &str, themes: &[&str]) -> Value {
    json!({
        "kind": "practice",
        "lang": lang,
        "title": title,
        "summary": summary,
        "body": format!("{summary}\n\n{title}."),
        "themes": themes,
        "country": country,
        "year_start": 2023,
    })
}

/// Whether this machine can run the browser tests; prints why not.
pub fn browser_available() -> bool {
    let chromium = Path::new(CHROMIUM).exists();
    let driver = which("chromedriver").is_some();
    if chromium && driver {
        return true;
    }
    let missing = match (chromium, driver) {
        (false, false) => "chromium and chromedriver",
        (false, true) => "chromium",
        _ => "chromedriver",
    };
    if std::env::var("SEEDNET_REQUIRE_BROWSER").as_deref() == Ok("1") {
        panic!(
            "SEEDNET_REQUIRE_BROWSER=1 but {missing} is missing: \
             apt-get install -y --no-install-recommends chromium chromium-driver"
        );
    }
    eprintln!(
        "\n!!!!!!!! SKIPPED: install chromium chromium-driver ({missing} missing; \
         set SEEDNET_REQUIRE_BROWSER=1 to fail instead) !!!!!!!!\n"
    );
    false
}

fn which(program: &str) -> Option<PathBuf> {
    std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths)
            .map(|dir| dir.join(program))
            .find(|path| path.is_file())
    })
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .expect("bind a free port")
        .local_addr()
        .expect("local addr")
        .port()
}

/// A headless chromium session behind its own chromedriver, closed on drop.
pub struct Browser {
    pub client: Client,
    driver: DriverProcess,
    _profile: tempfile::TempDir,
}

/// The chromedriver process and the browser profile it started chromium
/// with. Dropping it (also when a test panics, before the session is closed)
/// kills chromedriver and every chromium process using that profile, found
/// by their ids in /proc, so no browser outlives its test.
struct DriverProcess {
    child: Child,
    profile_arg: String,
}

impl Drop for DriverProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        for pid in processes_with_arg(&self.profile_arg) {
            let _ = Command::new("kill").arg(pid.to_string()).status();
        }
    }
}

/// Ids of the processes whose command line contains `arg` exactly.
fn processes_with_arg(arg: &str) -> Vec<u32> {
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    entries
        .filter_map(|entry| entry.ok())
        .filter_map(|entry| entry.file_name().to_str()?.parse::<u32>().ok())
        .filter(|pid| {
            std::fs::read(format!("/proc/{pid}/cmdline"))
                .map(|cmdline| {
                    cmdline
                        .split(|b| *b == 0)
                        .any(|part| part == arg.as_bytes())
                })
                .unwrap_or(false)
        })
        .collect()
}

impl Browser {
    pub async fn start() -> Browser {
        let port = free_port();
        let profile = tempfile::tempdir().expect("profile dir");
        let profile_arg = format!("--user-data-dir={}", profile.path().display());
        let driver = DriverProcess {
            child: Command::new("chromedriver")
                .arg(format!("--port={port}"))
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .expect("start chromedriver"),
            profile_arg: profile_arg.clone(),
        };
        let args = vec![
            "--headless=new".to_string(),
            "--no-sandbox".into(),
            "--disable-gpu".into(),
            "--disable-dev-shm-usage".into(),
            "--disable-background-networking".into(),
            "--disable-component-update".into(),
            "--disable-sync".into(),
            "--no-first-run".into(),
            "--window-size=1280,900".into(),
            "--lang=en-US".into(),
            profile_arg,
        ];
        let mut capabilities = serde_json::Map::new();
        capabilities.insert(
            "goog:chromeOptions".into(),
            json!({"binary": CHROMIUM, "args": args}),
        );
        let connector = hyper_util::client::legacy::connect::HttpConnector::new();
        let url = format!("http://127.0.0.1:{port}");
        let mut last_error = String::new();
        for _ in 0..DRIVER_START_STEPS_MAX {
            match ClientBuilder::new(connector.clone())
                .capabilities(capabilities.clone())
                .connect(&url)
                .await
            {
                Ok(client) => {
                    return Browser {
                        client,
                        driver,
                        _profile: profile,
                    }
                }
                Err(error) => {
                    last_error = error.to_string();
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
            }
        }
        panic!("chromedriver on port {port} did not start a session: {last_error}");
    }

    pub async fn goto(&self, url: &str) {
        self.client.goto(url).await.expect("navigate");
    }

    /// Waits for an element (pages render server-side; this covers navigation).
    pub async fn find(&self, css: &str) -> fantoccini::elements::Element {
        self.client
            .wait()
            .at_most(Duration::from_secs(ELEMENT_WAIT_SECS_MAX))
            .for_element(Locator::Css(css))
            .await
            .unwrap_or_else(|error| panic!("no element {css:?} on the page: {error}"))
    }

    /// Clicks an element that leads to a new page and waits until that page
    /// has loaded (the old document is marked first, so a page that reloads
    /// at the same address is waited for too).
    pub async fn click_to_page(&self, css: &str) {
        self.client
            .execute("document.documentElement.dataset.stale = '1'", vec![])
            .await
            .expect("mark the old page");
        self.find(css).await.click().await.expect("click");
        for _ in 0..PAGE_LOAD_STEPS_MAX {
            let loaded = self
                .client
                .execute(
                    "return document.readyState === 'complete' && !document.documentElement.dataset.stale",
                    vec![],
                )
                .await
                .ok()
                .and_then(|value| value.as_bool())
                .unwrap_or(false);
            if loaded {
                return;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!("clicking {css:?} did not load a new page");
    }

    pub async fn find_all(&self, css: &str) -> Vec<fantoccini::elements::Element> {
        self.client
            .find_all(Locator::Css(css))
            .await
            .expect("find elements")
    }

    pub async fn text(&self, css: &str) -> String {
        self.find(css).await.text().await.expect("element text")
    }

    pub async fn path(&self) -> String {
        let url = self.client.current_url().await.expect("current url");
        match url.query() {
            Some(query) => format!("{}?{query}", url.path()),
            None => url.path().to_string(),
        }
    }

    /// Saves a PNG of the current page under the screenshot folder.
    pub async fn screenshot(&self, name: &str) {
        let png = self.client.screenshot().await.expect("screenshot");
        let dir = screenshot_dir();
        std::fs::create_dir_all(&dir).expect("screenshot dir");
        std::fs::write(dir.join(format!("{name}.png")), png).expect("write screenshot");
    }

    pub async fn close(self) {
        let Browser { client, driver, .. } = self;
        let _ = client.close().await;
        drop(driver);
    }
}

/// `$SEEDNET_SCREENSHOT_DIR`, else `<target dir>/web-screenshots`.
pub fn screenshot_dir() -> PathBuf {
    if let Some(dir) = std::env::var_os("SEEDNET_SCREENSHOT_DIR") {
        return PathBuf::from(dir);
    }
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../target"));
    target.join("web-screenshots")
}

/// How long two linked nodes may take to pass a record on.
pub const SYNC_WAIT_SECS_MAX: u64 = 60;

/// Links two federating nodes through the API: `b`'s admin asks `a` for a
/// link, `a`'s admin approves it; both then pull each other's records.
pub async fn link_nodes(a: &Node, b: &Node) {
    let client = reqwest::Client::new();
    let request = client
        .post(format!("{}/api/v1/peers", b.url))
        .bearer_auth(&b.admin_token)
        .json(&json!({ "url": a.url }))
        .send()
        .await
        .expect("peer add");
    assert!(
        request.status().is_success(),
        "link request refused: {}",
        request.text().await.unwrap_or_default()
    );
    let approve = client
        .post(format!("{}/api/v1/peers/{}/approve", a.url, b.node_id))
        .bearer_auth(&a.admin_token)
        .send()
        .await
        .expect("peer approve");
    assert!(
        approve.status().is_success(),
        "approval refused: {}",
        approve.text().await.unwrap_or_default()
    );
}

/// Waits until `node` serves the page at `path` and it contains `text`
/// (a record passed on by a peer, then indexed).
pub async fn wait_for_page_text(node: &Node, path: &str, text: &str) {
    let deadline = std::time::Instant::now() + Duration::from_secs(SYNC_WAIT_SECS_MAX);
    let client = reqwest::Client::new();
    loop {
        let page = client
            .get(format!("{}{path}", node.url))
            .send()
            .await
            .expect("page request");
        if page.status().is_success() && page.text().await.unwrap_or_default().contains(text) {
            return;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "{}{path} did not show {text:?} within {SYNC_WAIT_SECS_MAX} s",
            node.url
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// How many records `node` lists through the API.
pub async fn record_count(node: &Node) -> usize {
    let list: Value = reqwest::Client::new()
        .get(format!("{}/api/v1/records", node.url))
        .send()
        .await
        .expect("list records")
        .json()
        .await
        .expect("records as JSON");
    list["records"].as_array().expect("records array").len()
}

impl Browser {
    /// Signs in on `node` with `token`, the interface in `lang`.
    pub async fn sign_in(&self, node: &Node, token: &str, lang: &str) {
        self.goto(&format!("{}/lang/{lang}?back=/signin", node.url))
            .await;
        self.find("#token")
            .await
            .send_keys(token)
            .await
            .expect("type the token");
        self.click_to_page("form[action='/signin'] button").await;
        assert_eq!(self.path().await, "/editor", "signed in");
    }

    /// The current value of a form control.
    pub async fn value(&self, css: &str) -> String {
        self.find(css)
            .await
            .prop("value")
            .await
            .expect("value property")
            .unwrap_or_default()
    }

    /// Types `text` into the control `css` (after what it holds).
    pub async fn type_into(&self, css: &str, text: &str) {
        self.find(css)
            .await
            .send_keys(text)
            .await
            .unwrap_or_else(|error| panic!("type into {css:?}: {error}"));
    }

    /// Saves a PNG of the whole page, however long, under the screenshot folder.
    pub async fn screenshot_full_page(&self, name: &str) {
        let (width, height) = (1280, 900);
        let full = self
            .client
            .execute("return document.documentElement.scrollHeight", vec![])
            .await
            .expect("page height")
            .as_u64()
            .unwrap_or(height as u64) as u32;
        self.client
            .set_window_size(width, full.max(height))
            .await
            .expect("tall window");
        self.client
            .execute("window.scrollTo(0, 0)", vec![])
            .await
            .expect("scroll to the top");
        self.screenshot(name).await;
        self.client
            .set_window_size(width, height)
            .await
            .expect("window back");
    }
}

impl Node {
    /// [`Node::start`] with extra `SEEDNET_*` variables for `seednet serve`
    /// (e.g. a short failed-sign-in window).
    pub fn start_with_env(
        name: &str,
        country: &str,
        languages: &str,
        env: &[(&str, &str)],
    ) -> Node {
        Node::start_with(name, country, languages, false, env)
    }
}
