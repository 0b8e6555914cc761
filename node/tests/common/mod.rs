//! Shared helpers for the node's integration tests: a real `seednet` binary
//! with a temporary data dir, started on 127.0.0.1 with a free port, spoken
//! to over HTTP with reqwest.

#![allow(dead_code)]

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::Duration;

use serde_json::{json, Value};

pub const BIN: &str = env!("CARGO_BIN_EXE_seednet");

/// Tokens printed by `seednet init --json`.
#[derive(Clone, Debug)]
pub struct InitOutput {
    pub node_id: String,
    pub admin_token: String,
    pub editor_token: String,
}

/// Runs the binary with `args` on `data_dir` and returns its output.
pub fn seednet(data_dir: &Path, args: &[&str]) -> Output {
    Command::new(BIN)
        .arg("--data-dir")
        .arg(data_dir)
        .args(args)
        .env_remove("SEEDNET_NODE")
        .env_remove("SEEDNET_TOKEN")
        .env_remove("SEEDNET_LISTEN")
        .output()
        .expect("run seednet")
}

pub fn stdout(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

pub fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

/// `seednet init --json` in `data_dir`.
pub fn init(data_dir: &Path) -> InitOutput {
    let output = seednet(
        data_dir,
        &[
            "init",
            "--name",
            "SEED Competence Centre Italy",
            "--country",
            "IT",
            "--url",
            "https://seed-it.example",
            "--languages",
            "it,en",
            "--json",
        ],
    );
    assert!(output.status.success(), "init failed: {}", stderr(&output));
    let value: Value = serde_json::from_slice(&output.stdout).expect("init --json prints JSON");
    InitOutput {
        node_id: value["node_id"].as_str().unwrap().to_string(),
        admin_token: value["admin_token"].as_str().unwrap().to_string(),
        editor_token: value["editor_token"].as_str().unwrap().to_string(),
    }
}

/// A running `seednet serve` child process.
pub struct Server {
    pub child: Child,
    pub base: String,
}

impl Server {
    /// Starts `seednet serve` on a free loopback port and waits until it listens.
    pub fn start(data_dir: &Path) -> Server {
        Self::start_with_env(data_dir, &[])
    }

    pub fn start_with_env(data_dir: &Path, env: &[(&str, &str)]) -> Server {
        let mut child = Self::spawn(data_dir, env);
        let stdout = child.stdout.take().expect("piped stdout");
        let mut line = String::new();
        BufReader::new(stdout)
            .read_line(&mut line)
            .expect("read the listening line");
        let base = line
            .trim()
            .strip_prefix("listening on ")
            .unwrap_or_else(|| panic!("unexpected first line {line:?}"))
            .to_string();
        Server { child, base }
    }

    /// Starts `seednet serve` without waiting for it (to kill it while it
    /// starts up).
    pub fn spawn(data_dir: &Path, env: &[(&str, &str)]) -> Child {
        let mut command = Command::new(BIN);
        command
            .arg("--data-dir")
            .arg(data_dir)
            .args(["serve", "--listen", "127.0.0.1:0"])
            .env("SEEDNET_LOG", "warn")
            // Tests of exact result sets run lexical search only, whether
            // this machine has the model or not; `tests/semantic.rs` turns
            // the semantic tier on.
            .env("SEEDNET_SEMANTIC", "off")
            .stdout(Stdio::piped())
            .stderr(Stdio::null());
        for (name, value) in env {
            command.env(name, value);
        }
        command.spawn().expect("start seednet serve")
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    /// SIGTERM, then wait for a clean exit.
    pub fn stop(mut self) {
        let pid = self.child.id().to_string();
        let status = Command::new("kill").args(["-TERM", &pid]).status().unwrap();
        assert!(status.success());
        let exit = self.child.wait().unwrap();
        assert!(exit.success(), "graceful shutdown exits 0, got {exit:?}");
    }

    /// SIGKILL: the process gets no chance to flush.
    pub fn kill(mut self) {
        self.child.kill().unwrap();
        self.child.wait().unwrap();
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

pub fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .timeout(Duration::from_secs(30))
        .build()
        .unwrap()
}

/// Valid record content with the given title.
pub fn content(title: &str) -> Value {
    json!({
        "kind": "practice",
        "lang": "it",
        "title": title,
        "summary": format!("Sintesi di {title}"),
        "body": "Il laboratorio ha coinvolto cittadini e uffici comunali.",
        "themes": ["co-design", "participatory-facilitation"],
        "country": "IT",
        "region": "Piemonte",
        "year_start": 2022,
        "funding": [{"source": "esf-plus", "programme": "PON Metro Plus 2021-2027"}]
    })
}

/// A temporary data dir path (the dir itself is created by `init`).
pub fn data_dir(temp: &tempfile::TempDir) -> PathBuf {
    temp.path().join("node")
}
