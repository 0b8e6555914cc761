//! Upgrades, exercised: `tests/fixtures/data-dir-schema-1/` is a data dir
//! written by seednet 0.1.0 (storage schema 1). The binary under test opens a
//! copy of it and must find every record at its version with its exact
//! signed bytes (each signature verifies), the same node id, its tokens and
//! its account; the node then starts, serves, searches and publishes. When
//! the schema version changes, this is the test of the migration from
//! schema 1 (see tests/fixtures/README.md).

mod common;

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use common::{client, seednet, stderr, stdout, Server};
use seednet_protocol::{Record, Signed, SignedWire};
use serde_json::Value;

const FIXTURE: &str = "tests/fixtures/data-dir-schema-1";

fn fixture_path(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(name)
}

/// Copies the fixture (never opened in place: opening writes to it) and
/// restores the modes git does not keep.
fn copy_fixture(to: &Path) {
    fn copy_dir(from: &Path, to: &Path) {
        std::fs::create_dir_all(to).unwrap();
        for entry in std::fs::read_dir(from).unwrap() {
            let entry = entry.unwrap();
            let target = to.join(entry.file_name());
            if entry.file_type().unwrap().is_dir() {
                copy_dir(&entry.path(), &target);
            } else {
                std::fs::copy(entry.path(), &target).unwrap();
            }
        }
    }
    copy_dir(&fixture_path(FIXTURE), to);
    std::fs::set_permissions(to, std::fs::Permissions::from_mode(0o700)).unwrap();
    std::fs::set_permissions(to.join("node.key"), std::fs::Permissions::from_mode(0o600)).unwrap();
}

/// Record key → exact signed bytes, every line verified.
fn signed_lines(text: &str) -> Vec<(String, u64, String)> {
    let mut records: Vec<_> = text
        .lines()
        .map(|line| {
            let wire: SignedWire = serde_json::from_str(line).expect("a JSON line");
            let signed = Signed::<Record>::from_wire(&wire).expect("the signature verifies");
            let record = signed.value();
            (
                record.key.to_string(),
                record.version,
                wire.signed.get().to_string(),
            )
        })
        .collect();
    records.sort();
    records
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_data_dir_of_schema_1_opens_with_every_record_and_signature() {
    let init: Value = serde_json::from_slice(
        &std::fs::read(fixture_path(&format!("{FIXTURE}.init.json"))).unwrap(),
    )
    .unwrap();
    let node_id = init["node_id"].as_str().unwrap();
    let admin = init["admin_token"].as_str().unwrap();
    let editor = init["editor_token"].as_str().unwrap();
    let expected = signed_lines(
        &std::fs::read_to_string(fixture_path(&format!("{FIXTURE}.expected.jsonl"))).unwrap(),
    );
    assert_eq!(expected.len(), 3);

    let temp = tempfile::tempdir().unwrap();
    let dir = temp.path().join("node");
    copy_fixture(&dir);

    // Opened by the command line: status, then the exact signed records.
    let output = seednet(&dir, &["status", "--json"]);
    assert!(output.status.success(), "status: {}", stderr(&output));
    let status: Value = serde_json::from_str(&stdout(&output)).unwrap();
    assert_eq!(status["node_id"], node_id);
    assert_eq!(
        status["schema_version"].as_u64().unwrap(),
        seednet_node::storage::SCHEMA_VERSION,
        "opened (and migrated, once the schema changes) to the current schema"
    );
    assert_eq!(status["records"][0]["live"], 2);
    assert_eq!(status["records"][0]["deleted"], 1);
    assert_eq!(status["tokens"], 2);
    let output = seednet(&dir, &["export", "--format", "jsonl"]);
    assert!(output.status.success(), "export: {}", stderr(&output));
    assert_eq!(signed_lines(&stdout(&output)), expected);

    // The node starts on it and serves, searches and publishes.
    let server = Server::start(&dir);
    let http = client();
    let (practice_key, _, _) = expected
        .iter()
        .find(|(_, _, bytes)| bytes.contains("co-progettazione"))
        .expect("the practice");
    let response = http
        .get(server.url(&format!("/api/v1/records/{practice_key}")))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let served: SignedWire = response.json().await.unwrap();
    Signed::<Record>::from_wire(&served).expect("served as signed");

    let accounts: Value = http
        .get(server.url("/api/v1/accounts"))
        .bearer_auth(admin)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!(
        accounts.to_string().contains("maria.rossi"),
        "the account is kept: {accounts}"
    );

    let hits: Value = http
        .get(server.url("/api/v1/search?q=co-progettazione"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let titles: Vec<&str> = hits["hits"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|hit| hit["title"].as_str())
        .collect();
    assert!(
        titles
            .iter()
            .any(|title| title.contains("co-progettazione")),
        "the index is rebuilt from the old records: {titles:?}"
    );

    let (methodology_key, version, _) = expected
        .iter()
        .find(|(_, version, bytes)| *version == 2 && bytes.contains("\"content\""))
        .expect("the updated methodology");
    assert_eq!(*version, 2);
    let response = http
        .put(server.url(&format!("/api/v1/records/{methodology_key}")))
        .bearer_auth(editor)
        .json(&common::content("Valutazione d'impatto, terza edizione"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200, "{}", response.text().await.unwrap());
    let updated: SignedWire = response.json().await.unwrap();
    let updated = Signed::<Record>::from_wire(&updated).unwrap();
    assert_eq!(updated.value().version, 3);
    assert_eq!(updated.value().key.origin.to_string(), node_id);
    server.stop();
}
