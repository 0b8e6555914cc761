//! `seednet backup` and `seednet restore`, run as real processes against real
//! nodes on loopback: a backup of a running node while publishes keep
//! arriving holds every acknowledged version (as of its change-log head) and
//! every line verifies; restore refuses a non-empty data dir and a backup
//! without a key unless told which key to use; the restored node holds the
//! same records and versions, starts and serves them. With `--include-key`
//! the key is in the backup (mode 0600) and a warning is printed.

mod common;

use std::collections::BTreeMap;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use common::{client, content, data_dir, init, seednet, stderr, stdout, Server};
use seednet_protocol::{Record, Signed, SignedWire};
use serde_json::Value;

/// Record key text → (version, exact signed bytes) of the newest version in
/// a JSON-lines file of signed records; every line must verify.
fn newest_versions(text: &str) -> BTreeMap<String, (u64, String)> {
    let mut newest = BTreeMap::new();
    for line in text.lines() {
        let wire: SignedWire = serde_json::from_str(line).expect("a JSON line");
        let signed = Signed::<Record>::from_wire(&wire).expect("every backed-up record verifies");
        let record = signed.value();
        let bytes = wire.signed.get().to_string();
        let entry = newest
            .entry(record.key.to_string())
            .or_insert((0, String::new()));
        if record.version > entry.0 {
            *entry = (record.version, bytes);
        }
    }
    newest
}

fn manifest(backup: &Path) -> Value {
    serde_json::from_slice(&std::fs::read(backup.join("manifest.json")).unwrap()).unwrap()
}

fn mode(path: &Path) -> u32 {
    std::fs::metadata(path).unwrap().permissions().mode() & 0o777
}

/// Every record of a running node (tombstones included), as `newest_versions`.
async fn served_records(server: &Server, token: &str) -> BTreeMap<String, (u64, String)> {
    let http = client();
    let mut lines = String::new();
    let mut cursor: Option<String> = None;
    loop {
        let mut url = server.url("/api/v1/records?include_deleted=true&limit=200");
        if let Some(cursor) = &cursor {
            url.push_str(&format!("&cursor={cursor}"));
        }
        let page: Value = http
            .get(url)
            .bearer_auth(token)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        for record in page["records"].as_array().unwrap() {
            lines.push_str(&serde_json::to_string(record).unwrap());
            lines.push('\n');
        }
        match page["next_cursor"].as_str() {
            Some(next) => cursor = Some(next.to_string()),
            None => break,
        }
    }
    newest_versions(&lines)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn backup_of_a_running_node_under_publishes_restores_the_same_records() {
    let temp = tempfile::tempdir().unwrap();
    let dir = data_dir(&temp);
    let tokens = init(&dir);
    let server = Server::start(&dir);
    let http = client();
    let records_url = server.url("/api/v1/records");
    let publish = {
        let http = http.clone();
        let editor = tokens.editor_token.clone();
        move |title: String| {
            let http = http.clone();
            let url = records_url.clone();
            let token = editor.clone();
            async move {
                let response = http
                    .post(url)
                    .bearer_auth(token)
                    .json(&content(&title))
                    .send()
                    .await
                    .unwrap();
                assert_eq!(response.status(), 201, "publish {title}");
                response.json::<Value>().await.unwrap()
            }
        }
    };
    // Records from before the backup: some updated, one deleted.
    let mut first_ids = Vec::new();
    for n in 0..12 {
        let signed = publish(format!("Laboratorio {n}")).await;
        first_ids.push(signed["signed"]["id"].as_str().unwrap().to_string());
    }
    for id in &first_ids[..3] {
        let response = http
            .put(server.url(&format!("/api/v1/records/{}/{id}", tokens.node_id)))
            .bearer_auth(&tokens.editor_token)
            .json(&content("Laboratorio rivisto"))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 200);
    }
    let response = http
        .delete(server.url(&format!(
            "/api/v1/records/{}/{}",
            tokens.node_id, first_ids[3]
        )))
        .bearer_auth(&tokens.editor_token)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);

    // Publishes keep arriving while the backup runs; each acknowledged id
    // is noted.
    let stop = Arc::new(AtomicBool::new(false));
    let acknowledged = Arc::new(Mutex::new(Vec::<String>::new()));
    let publisher = {
        let stop = Arc::clone(&stop);
        let acknowledged = Arc::clone(&acknowledged);
        let publish = publish.clone();
        tokio::spawn(async move {
            let mut n = 0;
            while !stop.load(Ordering::SeqCst) {
                let signed = publish(format!("Pratica concorrente {n}")).await;
                let id = signed["signed"]["id"].as_str().unwrap().to_string();
                acknowledged.lock().unwrap().push(id);
                n += 1;
            }
        })
    };
    while acknowledged.lock().unwrap().len() < 3 {
        tokio::time::sleep(std::time::Duration::from_millis(5)).await;
    }
    let acknowledged_before = acknowledged.lock().unwrap().clone();
    let backup = temp.path().join("backup-1");
    let output = {
        let dir = dir.clone();
        let backup = backup.clone();
        let base = server.base.clone();
        let admin = tokens.admin_token.clone();
        tokio::task::spawn_blocking(move || {
            seednet(
                &dir,
                &[
                    "backup",
                    "--output",
                    backup.to_str().unwrap(),
                    "--node",
                    &base,
                    "--token",
                    &admin,
                ],
            )
        })
        .await
        .unwrap()
    };
    let acknowledged_after = acknowledged.lock().unwrap().len();
    stop.store(true, Ordering::SeqCst);
    publisher.await.unwrap();
    assert!(output.status.success(), "backup: {}", stderr(&output));
    assert!(
        acknowledged_after > acknowledged_before.len(),
        "publishes were acknowledged while the backup ran"
    );
    assert!(
        stdout(&output).contains("without the node key"),
        "{}",
        stdout(&output)
    );

    // The backup: manifest, files, no key, no temporary dir left.
    let manifest = manifest(&backup);
    assert_eq!(manifest["format"], "seednet-backup");
    assert_eq!(manifest["format_version"], 1);
    assert_eq!(manifest["node_id"], tokens.node_id.as_str());
    assert_eq!(manifest["includes_node_key"], false);
    assert!(backup.join("seednet.toml").exists());
    assert!(!backup.join("node.key").exists());
    let leftovers: Vec<_> = std::fs::read_dir(temp.path())
        .unwrap()
        .map(|entry| entry.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|name| name.contains("partial"))
        .collect();
    assert!(leftovers.is_empty(), "temporary dirs left: {leftovers:?}");
    let backed_up =
        newest_versions(&std::fs::read_to_string(backup.join("records.jsonl")).unwrap());
    assert_eq!(
        manifest["records"].as_u64().unwrap(),
        backed_up.len() as u64
    );
    assert_eq!(manifest["deleted"], 1);
    // Every record acknowledged before the backup started is there, at its
    // version then.
    for (n, id) in first_ids.iter().enumerate() {
        let key = format!("{}/{id}", tokens.node_id);
        // Three updated and one deleted (its tombstone is version 2).
        let expected_version = if n <= 3 { 2 } else { 1 };
        let (version, _) = backed_up
            .get(&key)
            .unwrap_or_else(|| panic!("{key} missing"));
        assert_eq!(*version, expected_version, "{key}");
    }
    for id in &acknowledged_before {
        let key = format!("{}/{id}", tokens.node_id);
        assert!(
            backed_up.contains_key(&key),
            "{key} acknowledged before the backup, missing"
        );
    }

    // Restore: a backup without the key needs to be told which key.
    let restored_dir = temp.path().join("restored");
    let refused = seednet(&restored_dir, &["restore", backup.to_str().unwrap()]);
    assert!(!refused.status.success());
    let message = stderr(&refused);
    assert!(
        message.contains("--key FILE") && message.contains("--new-key"),
        "{message}"
    );
    assert!(
        !restored_dir.exists(),
        "nothing written for a refused restore"
    );
    // A non-empty data dir is refused, whatever the key.
    let occupied = seednet(
        &dir,
        &[
            "restore",
            backup.to_str().unwrap(),
            "--key",
            dir.join("node.key").to_str().unwrap(),
        ],
    );
    assert!(!occupied.status.success());
    assert!(
        stderr(&occupied).contains("is not empty"),
        "{}",
        stderr(&occupied)
    );

    let restored = seednet(
        &restored_dir,
        &[
            "restore",
            backup.to_str().unwrap(),
            "--key",
            dir.join("node.key").to_str().unwrap(),
        ],
    );
    assert!(restored.status.success(), "restore: {}", stderr(&restored));
    let said = stdout(&restored);
    assert!(said.contains("(the same key)"), "{said}");
    let restored_admin = said
        .lines()
        .find_map(|line| line.strip_prefix("admin token (shown once, keep it safe): "))
        .expect("restore prints an admin token")
        .to_string();
    assert_eq!(mode(&restored_dir.join("node.key")), 0o600);
    assert_eq!(mode(&restored_dir), 0o700);
    server.stop();

    // The restored node starts and serves the same records and versions,
    // byte for byte, under the same node id.
    let restored_server = Server::start(&restored_dir);
    let descriptor: Value = http
        .get(restored_server.url("/api/v1/node"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let envelope: Value = serde_json::from_str(&descriptor["signed"].to_string()).unwrap();
    assert_eq!(envelope["node_id"], tokens.node_id.as_str());
    let served = served_records(&restored_server, &restored_admin).await;
    assert_eq!(served, backed_up);
    let first = format!("{}/{}", tokens.node_id, first_ids[0]);
    let response = http
        .get(restored_server.url(&format!("/api/v1/records/{first}")))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    // The restored node's records are its own: it can edit them.
    let status: Value = http
        .get(restored_server.url("/api/v1/status"))
        .bearer_auth(&restored_admin)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(status["node_id"], tokens.node_id.as_str());
    restored_server.stop();
}

#[test]
fn backup_of_a_stopped_node_with_its_key_and_a_restore_under_a_new_key() {
    let temp = tempfile::tempdir().unwrap();
    let dir = data_dir(&temp);
    let tokens = init(&dir);
    let record = temp.path().join("record.json");
    std::fs::write(&record, content("Bilancio partecipativo").to_string()).unwrap();
    for _ in 0..3 {
        let output = seednet(&dir, &["record", "add", record.to_str().unwrap()]);
        assert!(output.status.success(), "{}", stderr(&output));
    }

    let backup = temp.path().join("with-key");
    let output = seednet(
        &dir,
        &[
            "backup",
            "--output",
            backup.to_str().unwrap(),
            "--include-key",
            "--json",
        ],
    );
    assert!(output.status.success(), "backup: {}", stderr(&output));
    assert!(
        stderr(&output).contains("warning") && stderr(&output).contains("node key"),
        "{}",
        stderr(&output)
    );
    let printed: Value = serde_json::from_str(&stdout(&output)).unwrap();
    assert_eq!(printed["records"], 3);
    assert_eq!(printed["includes_node_key"], true);
    assert_eq!(mode(&backup.join("node.key")), 0o600);
    assert_eq!(
        std::fs::read(backup.join("node.key")).unwrap(),
        std::fs::read(dir.join("node.key")).unwrap()
    );
    // A second backup into the same directory is refused.
    let again = seednet(&dir, &["backup", "--output", backup.to_str().unwrap()]);
    assert!(!again.status.success());
    assert!(stderr(&again).contains("already exists"));

    // With the key in the backup: the same node id, no flags needed.
    let same = temp.path().join("same");
    let output = seednet(&same, &["restore", backup.to_str().unwrap()]);
    assert!(output.status.success(), "restore: {}", stderr(&output));
    assert!(stdout(&output).contains("(the same key)"));
    let status = seednet(&same, &["status", "--json"]);
    let status: Value = serde_json::from_slice(&status.stdout).unwrap();
    assert_eq!(status["node_id"], tokens.node_id.as_str());

    // A damaged backup is refused before anything is written.
    let damaged = temp.path().join("damaged");
    let copy = seednet(&dir, &["backup", "--output", damaged.to_str().unwrap()]);
    assert!(copy.status.success(), "{}", stderr(&copy));
    std::fs::write(damaged.join("records.jsonl"), "{}\n").unwrap();
    let output = seednet(
        &temp.path().join("never"),
        &["restore", damaged.to_str().unwrap(), "--new-key"],
    );
    assert!(!output.status.success());
    assert!(stderr(&output).contains("damaged"), "{}", stderr(&output));
    assert!(!temp.path().join("never").exists());

    // Under a new key: a new id, the old records kept and read-only.
    let fresh = temp.path().join("fresh");
    let without_key = temp.path().join("without-key");
    let copy = seednet(&dir, &["backup", "--output", without_key.to_str().unwrap()]);
    assert!(copy.status.success(), "{}", stderr(&copy));
    let output = seednet(
        &fresh,
        &["restore", without_key.to_str().unwrap(), "--new-key"],
    );
    assert!(output.status.success(), "restore: {}", stderr(&output));
    assert!(
        stdout(&output).contains("NEW node id"),
        "{}",
        stdout(&output)
    );
    let status = seednet(&fresh, &["status", "--json"]);
    let status: Value = serde_json::from_slice(&status.stdout).unwrap();
    assert_ne!(status["node_id"], tokens.node_id.as_str());
    let origins = status["records"].as_array().unwrap();
    assert_eq!(origins.len(), 1);
    assert_eq!(origins[0]["origin"], tokens.node_id.as_str());
    assert_eq!(origins[0]["live"], 3);
}

#[test]
fn backup_and_restore_help_say_what_they_do() {
    let temp = tempfile::tempdir().unwrap();
    let dir = data_dir(&temp);
    let backup_help = stdout(&seednet(&dir, &["backup", "--help"]));
    for text in [
        "--output",
        "--include-key",
        "manifest.json",
        "consistent",
        "--token",
    ] {
        assert!(
            backup_help.contains(text),
            "{text:?} not in:\n{backup_help}"
        );
    }
    let restore_help = stdout(&seednet(&dir, &["restore", "--help"]));
    for text in ["BACKUP_DIR", "--key", "--new-key", "empty"] {
        assert!(
            restore_help.contains(text),
            "{text:?} not in:\n{restore_help}"
        );
    }
}

/// deploy/seednet-backup.sh, as the nightly timer runs it: each run adds a
/// backup and only the newest SEEDNET_BACKUP_KEEP stay.
#[test]
fn the_nightly_backup_script_keeps_the_newest_backups() {
    let temp = tempfile::tempdir().unwrap();
    let dir = data_dir(&temp);
    init(&dir);
    let backups = temp.path().join("backups");
    std::fs::create_dir(&backups).unwrap();
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("../deploy/seednet-backup.sh");
    let run = |keep: &str| {
        std::process::Command::new("sh")
            .arg(&script)
            .env("SEEDNET_BIN", common::BIN)
            .env("SEEDNET_DATA_DIR", &dir)
            .env("SEEDNET_BACKUP_DIR", &backups)
            .env("SEEDNET_BACKUP_KEEP", keep)
            .env_remove("SEEDNET_NODE")
            .env_remove("SEEDNET_TOKEN")
            .output()
            .unwrap()
    };
    let listed = || {
        let mut names: Vec<String> = std::fs::read_dir(&backups)
            .unwrap()
            .map(|entry| entry.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        names.sort();
        names
    };
    let mut made = Vec::new();
    for _ in 0..3 {
        let output = run("2");
        assert!(output.status.success(), "{}", stderr(&output));
        let names = listed();
        made.push(names.last().unwrap().clone());
        for name in &names {
            assert!(backups.join(name).join("manifest.json").exists(), "{name}");
        }
        // Names sort by time: wait so that the next one sorts after.
        std::thread::sleep(std::time::Duration::from_millis(1100));
    }
    assert_eq!(listed(), made[1..].to_vec(), "the oldest one removed");
    let output = run("none");
    assert!(!output.status.success());
    assert!(stderr(&output).contains("whole number"));
    assert_eq!(
        listed(),
        made[1..].to_vec(),
        "nothing removed by a refused run"
    );
}

/// After a key rotation a backup carries the retired key file and the
/// rotation statement; the node restored with its current key keeps the old
/// id's records as its own and can still send the statement again.
#[test]
fn a_backup_after_a_key_rotation_keeps_the_retired_key_and_the_statement() {
    let temp = tempfile::tempdir().unwrap();
    let dir = data_dir(&temp);
    let tokens = init(&dir);
    let record = temp.path().join("record.json");
    std::fs::write(&record, content("Laboratorio urbano").to_string()).unwrap();
    let output = seednet(&dir, &["record", "add", record.to_str().unwrap()]);
    assert!(output.status.success(), "{}", stderr(&output));

    let server = Server::start(&dir);
    let remote = |args: &[&str]| {
        std::process::Command::new(common::BIN)
            .args(["--node", &server.base, "--token", &tokens.admin_token])
            .args(args)
            .output()
            .unwrap()
    };
    let output = remote(&["key", "rotate", "--reason", "scheduled", "--json"]);
    assert!(output.status.success(), "{}", stderr(&output));
    let report: Value = serde_json::from_slice(&output.stdout).unwrap();
    let new_id = report["new_node_id"].as_str().unwrap().to_string();

    let backup = temp.path().join("after-rotation");
    let output = seednet(
        &dir,
        &[
            "backup",
            "--output",
            backup.to_str().unwrap(),
            "--node",
            &server.base,
            "--token",
            &tokens.admin_token,
        ],
    );
    assert!(output.status.success(), "backup: {}", stderr(&output));
    server.stop();
    let manifest = manifest(&backup);
    assert_eq!(manifest["node_id"], new_id.as_str());
    assert_eq!(manifest["key_rotations"], 1);
    let retired = backup.join(format!("node.key.retired-{}", tokens.node_id));
    assert_eq!(mode(&retired), 0o600);

    let restored = temp.path().join("restored");
    let output = seednet(
        &restored,
        &[
            "restore",
            backup.to_str().unwrap(),
            "--key",
            dir.join("node.key").to_str().unwrap(),
        ],
    );
    assert!(output.status.success(), "restore: {}", stderr(&output));
    let admin = stdout(&output)
        .lines()
        .find_map(|line| line.strip_prefix("admin token (shown once, keep it safe): "))
        .unwrap()
        .to_string();
    assert!(restored
        .join(format!("node.key.retired-{}", tokens.node_id))
        .exists());
    let server = Server::start(&restored);
    let output = std::process::Command::new(common::BIN)
        .args(["--node", &server.base, "--token", &admin])
        .args(["key", "resend-rotation"])
        .output()
        .unwrap();
    assert!(output.status.success(), "{}", stderr(&output));
    assert!(
        stdout(&output).contains(&format!("old node id: {}", tokens.node_id)),
        "{}",
        stdout(&output)
    );
    server.stop();
}
