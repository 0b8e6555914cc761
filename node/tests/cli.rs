//! The `seednet` command line, run as a real process: init, record commands
//! on the local data dir (JSON and TOML input), the refusal while the node
//! runs, the same commands against the running node with --node/--token,
//! import with bad rows (CSV, JSON array, JSON lines), export in every format
//! and restoring a JSON-lines backup into a fresh node.

mod common;

use std::path::Path;

use common::{content, data_dir, init, seednet, stderr, stdout, Server, BIN};
use seednet_protocol::{Record, Signed, SignedWire};
use serde_json::Value;

/// Runs `seednet` and asserts success; returns stdout.
fn ok(dir: &Path, args: &[&str]) -> String {
    let output = seednet(dir, args);
    assert!(
        output.status.success(),
        "seednet {args:?} failed: {}",
        stderr(&output)
    );
    stdout(&output)
}

/// Runs `seednet`, asserts failure and that stderr names every `expected` text.
fn fails(dir: &Path, args: &[&str], expected: &[&str]) -> String {
    let output = seednet(dir, args);
    assert!(!output.status.success(), "seednet {args:?} should fail");
    let message = stderr(&output);
    for text in expected {
        assert!(
            message.contains(text),
            "seednet {args:?}: {text:?} not in:\n{message}"
        );
    }
    message
}

fn export_jsonl(dir: &Path) -> Vec<Signed<Record>> {
    ok(dir, &["export", "--format", "jsonl"])
        .lines()
        .map(|line| {
            let wire: SignedWire = serde_json::from_str(line).expect("JSON line");
            Signed::from_wire(&wire).expect("exported records verify")
        })
        .collect()
}

fn write(dir: &Path, name: &str, text: &str) -> String {
    let path = dir.join(name);
    std::fs::write(&path, text).unwrap();
    path.to_string_lossy().into_owned()
}

const CSV_HEADER: &str = "kind,lang,title,summary,body,themes,country,region,target_groups,sdgs,funding,organisations,contact_email,year_start,year_end,links,tags,challenge";

#[test]
fn init_refuses_bad_values_and_reinit() {
    let temp = tempfile::tempdir().unwrap();
    let dir = data_dir(&temp);
    fails(
        &dir,
        &[
            "init",
            "--name",
            "X",
            "--country",
            "XX",
            "--url",
            "https://x.example",
        ],
        &["node.country", "XX"],
    );
    assert!(
        !dir.join("node.key").exists(),
        "nothing written for a refused init"
    );
    fails(
        &dir,
        &[
            "init",
            "--name",
            "X",
            "--country",
            "IT",
            "--url",
            "ftp://x.example",
        ],
        &["node.public_url"],
    );
    let tokens = init(&dir);
    assert_eq!(tokens.node_id.len(), 64);
    assert!(tokens.admin_token.starts_with("snt_"));
    let mode = std::os::unix::fs::PermissionsExt::mode(
        &std::fs::metadata(dir.join("node.key"))
            .unwrap()
            .permissions(),
    );
    assert_eq!(mode & 0o777, 0o600);
    fails(
        &dir,
        &[
            "init",
            "--name",
            "X",
            "--country",
            "IT",
            "--url",
            "https://x.example",
        ],
        &["already initialised"],
    );
    let help = ok(&dir, &["--help"]);
    for command in [
        "init", "serve", "record", "import", "export", "token", "status",
    ] {
        assert!(help.contains(command), "--help lists {command}");
    }
}

#[test]
fn record_commands_on_the_data_dir_and_against_the_running_node() {
    let temp = tempfile::tempdir().unwrap();
    let dir = data_dir(&temp);
    let tokens = init(&dir);
    let json_file = write(
        temp.path(),
        "record.json",
        &content("Laboratorio urbano").to_string(),
    );
    let toml_file = write(
        temp.path(),
        "record.toml",
        "kind = \"tool\"\nlang = \"sl\"\ntitle = \"Digitalna orodja\"\nsummary = \"Povzetek\"\nbody = \"Besedilo\"\nthemes = [\"competence-transfer\"]\ncountry = \"SI\"\nyear_start = 2023\n",
    );
    let bad_file = write(
        temp.path(),
        "bad.json",
        "{\"kind\": \"practice\", \"lang\": \"it\"}",
    );

    let added = ok(&dir, &["record", "add", &json_file, "--json"]);
    let wire: SignedWire = serde_json::from_str(added.trim()).unwrap();
    let signed = Signed::<Record>::from_wire(&wire).unwrap();
    let id = signed.value().key.id.to_string();
    assert!(ok(&dir, &["record", "add", &toml_file]).starts_with("published "));
    fails(
        &dir,
        &["record", "add", &bad_file],
        &["bad.json", "missing field"],
    );
    let updated = ok(
        &dir,
        &["record", "update", &id, &toml_file, "--if-version", "1"],
    );
    assert!(updated.contains("version 2"), "{updated}");
    fails(
        &dir,
        &["record", "update", &id, &json_file, "--if-version", "1"],
        &["version 2, not 1"],
    );
    let got = ok(&dir, &["record", "get", &id]);
    assert!(got.contains("Digitalna orodja"));
    let listed = ok(&dir, &["record", "list"]);
    assert_eq!(listed.lines().count(), 2, "{listed}");
    let status = ok(&dir, &["status", "--json"]);
    let status: Value = serde_json::from_str(&status).unwrap();
    assert_eq!(status["records"][0]["live"], 2);
    assert_eq!(status["tokens"], 2);

    // While the node runs, local commands are refused with the way out.
    let server = Server::start(&dir);
    fails(
        &dir,
        &["record", "list"],
        &["the node is running", "--node URL --token T"],
    );
    let node = server.base.clone();
    let remote = |args: &[&str], token: &str| -> Vec<String> {
        let mut full = vec![
            "--node".to_string(),
            node.clone(),
            "--token".to_string(),
            token.to_string(),
        ];
        full.extend(args.iter().map(|a| a.to_string()));
        full
    };
    let run = |args: Vec<String>| {
        std::process::Command::new(BIN)
            .args(&args)
            .output()
            .unwrap()
    };
    let output = run(remote(&["record", "add", &json_file], &tokens.editor_token));
    assert!(output.status.success(), "{}", stderr(&output));
    let output = run(remote(&["record", "delete", &id], &tokens.editor_token));
    assert!(output.status.success(), "{}", stderr(&output));
    let output = run(remote(&["record", "get", &id], &tokens.editor_token));
    assert!(!output.status.success());
    assert!(
        stderr(&output).contains("410 deleted"),
        "{}",
        stderr(&output)
    );
    let output = run(remote(
        &["token", "create", "--role", "editor", "--json"],
        &tokens.editor_token,
    ));
    assert!(!output.status.success(), "editors cannot create tokens");
    assert!(
        stderr(&output).contains("403 forbidden"),
        "{}",
        stderr(&output)
    );
    let output = run(remote(
        &[
            "token", "create", "--role", "editor", "--label", "web", "--json",
        ],
        &tokens.admin_token,
    ));
    assert!(output.status.success(), "{}", stderr(&output));
    let created: Value = serde_json::from_slice(&output.stdout).unwrap();
    assert!(created["token"].as_str().unwrap().starts_with("snt_"));
    let output = run(remote(&["status", "--json"], &tokens.admin_token));
    let status: Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(status["records"][0]["live"], 2);
    assert_eq!(status["records"][0]["deleted"], 1);
    assert_eq!(status["tokens"], 3);
    let output = run(remote(&["record", "list", "--json"], &tokens.editor_token));
    assert_eq!(stdout(&output).lines().count(), 2);
    server.stop();

    // Stopped again: the local data dir shows the same.
    let listed = ok(&dir, &["token", "list"]);
    assert_eq!(listed.lines().count(), 3);
    let id_of_web = listed
        .lines()
        .find(|l| l.ends_with("web"))
        .unwrap()
        .split('\t')
        .next()
        .unwrap()
        .to_string();
    ok(&dir, &["token", "revoke", &id_of_web]);
    fails(
        &dir,
        &["token", "revoke", &id_of_web],
        &["no token with id"],
    );
    assert_eq!(ok(&dir, &["token", "list"]).lines().count(), 2);
}

#[test]
fn import_reports_bad_rows_and_imports_nothing_unless_told() {
    let temp = tempfile::tempdir().unwrap();
    let dir = data_dir(&temp);
    init(&dir);
    let csv = format!(
        "{CSV_HEADER}\n\
         practice,it,Orti urbani,Sintesi,Testo,co-design;scaling-up,IT,Piemonte,youth;older-people,10;11,esf-plus:PON Metro,Comune di Torino|lead|https://comune.example,info@comune.example,2021,2023,https://orti.example|Sito,orti;verde,Spazi vuoti\n\
         practice,it,Anno sbagliato,Sintesi,Testo,co-design,IT,,,,,,,duemila,,,,\n\
         tool,el,Εργαλείο,Περίληψη,\"Κείμενο\nσε δύο γραμμές\",co_design,GR,,,,,,,2022,,,,\n\
         methodology,ro,Metodă,Rezumat,Text,impact-evaluation,RO,,,,,,not-an-email,2020,2019,,,\n\
         case_study,sl,Študija,Povzetek,Besedilo,research-mapping,SI,,,,,,,2024,,,,\n"
    );
    let csv_path = write(temp.path(), "records.csv", &csv);
    let message = fails(
        &dir,
        &["import", &csv_path],
        &[
            "line 3: year_start:",
            "line 4: themes[0]:",
            "line 6: contact.email:",
            "line 6: year_end:",
            "3 bad entries; nothing imported",
        ],
    );
    assert!(!message.contains("line 2:"), "{message}");
    assert!(
        export_jsonl(&dir).is_empty(),
        "nothing imported from a file with errors"
    );

    let report = ok(&dir, &["import", &csv_path, "--skip-invalid"]);
    assert!(report.contains("imported 2 records"), "{report}");
    let records = export_jsonl(&dir);
    assert_eq!(records.len(), 2);
    let orti = records
        .iter()
        .filter_map(|s| s.value().content())
        .find(|c| c.title == "Orti urbani")
        .expect("the first row");
    assert_eq!(orti.themes.len(), 2);
    assert_eq!(orti.sdgs, vec![10, 11]);
    assert_eq!(
        orti.organisations[0].url.as_deref(),
        Some("https://comune.example")
    );
    assert_eq!(orti.funding[0].programme.as_deref(), Some("PON Metro"));
    assert_eq!(orti.year_end, Some(2023));
    assert_eq!(orti.sections.challenge.as_deref(), Some("Spazi vuoti"));

    // A JSON array: problems are reported with the line each record starts on.
    let mut unknown = content("Campo ignoto");
    unknown["colour"] = Value::from("green");
    let array = format!(
        "[\n{},\n{},\n{}\n]\n",
        content("Primo"),
        unknown,
        content("Terzo")
    );
    let array_path = write(temp.path(), "records.json", &array);
    fails(
        &dir,
        &["import", &array_path],
        &["line 3: colour: unknown field `colour`"],
    );
    let header_path = write(temp.path(), "bad-header.csv", "kind,lang,colour\n");
    fails(
        &dir,
        &["import", &header_path],
        &["line 1: header: unknown column \"colour\""],
    );

    // JSON lines of content import in one go.
    let lines: String = (0..60)
        .map(|n| format!("{}\n", content(&format!("Riga {n}"))))
        .collect();
    let lines_path = write(temp.path(), "records.jsonl", &lines);
    let report = ok(&dir, &["import", &lines_path]);
    assert!(report.contains("imported 60 records"), "{report}");
    assert_eq!(export_jsonl(&dir).len(), 62);
}

#[test]
fn export_formats_and_restore_from_a_backup() {
    let temp = tempfile::tempdir().unwrap();
    let dir = data_dir(&temp);
    let tokens = init(&dir);
    let lines: String = (0..5)
        .map(|n| format!("{}\n", content(&format!("Pratica {n}"))))
        .collect();
    ok(&dir, &["import", &write(temp.path(), "in.jsonl", &lines)]);
    let first_id = export_jsonl(&dir)[0].value().key.id.to_string();
    ok(&dir, &["record", "delete", &first_id]);

    let backup = temp.path().join("backup.jsonl");
    ok(
        &dir,
        &[
            "export",
            "--format",
            "jsonl",
            "--output",
            backup.to_str().unwrap(),
        ],
    );
    let backed_up = std::fs::read_to_string(&backup).unwrap();
    assert_eq!(backed_up.lines().count(), 5, "JSON lines keep tombstones");

    let csv = ok(&dir, &["export", "--format", "csv"]);
    let mut reader = csv::Reader::from_reader(csv.as_bytes());
    let header: Vec<String> = reader.headers().unwrap().iter().map(String::from).collect();
    assert_eq!(
        header[..6],
        ["origin", "id", "version", "kind", "lang", "title"]
    );
    assert_eq!(reader.records().count(), 4, "CSV lists live records");
    // The exported CSV imports back (origin, id and version are ignored).
    let other = tempfile::tempdir().unwrap();
    let other_dir = data_dir(&other);
    init(&other_dir);
    let report = ok(
        &other_dir,
        &["import", &write(temp.path(), "export.csv", &csv)],
    );
    assert!(report.contains("imported 4 records"), "{report}");

    let jsonld: Value = serde_json::from_str(&ok(&dir, &["export", "--format", "jsonld"])).unwrap();
    assert_eq!(jsonld["@context"], "https://schema.org/");
    let graph = jsonld["@graph"].as_array().unwrap();
    assert_eq!(graph.len(), 4);
    assert_eq!(graph[0]["@type"], "CreativeWork");
    assert_eq!(graph[0]["inLanguage"], "it");
    assert_eq!(
        graph[0]["spatialCoverage"]["address"]["addressCountry"],
        "IT"
    );
    assert!(graph[0]["@id"]
        .as_str()
        .unwrap()
        .starts_with("https://seed-it.example/records/"));

    // Restore: a fresh node applies the signed backup as is, tombstone included.
    let restored = tempfile::tempdir().unwrap();
    let restored_dir = data_dir(&restored);
    init(&restored_dir);
    let report = ok(&restored_dir, &["import", backup.to_str().unwrap()]);
    assert!(report.contains("5 signed applied"), "{report}");
    let report = ok(&restored_dir, &["import", backup.to_str().unwrap()]);
    assert!(
        report.contains("5 already present"),
        "importing twice changes nothing: {report}"
    );
    let again: Vec<Vec<u8>> = export_jsonl(&restored_dir)
        .iter()
        .map(|s| s.bytes().to_vec())
        .collect();
    let original: Vec<Vec<u8>> = export_jsonl(&dir)
        .iter()
        .map(|s| s.bytes().to_vec())
        .collect();
    assert_eq!(
        again, original,
        "the restored node holds the same signed bytes"
    );
    let status: Value = serde_json::from_str(&ok(&restored_dir, &["status", "--json"])).unwrap();
    let origin_row = status["records"]
        .as_array()
        .unwrap()
        .iter()
        .find(|row| row["origin"] == tokens.node_id.as_str())
        .expect("records of the original origin");
    assert_eq!(
        (origin_row["live"].as_u64(), origin_row["deleted"].as_u64()),
        (Some(4), Some(1))
    );

    // A tampered backup line is refused with its line number.
    let tampered = backed_up.replacen("Pratica", "Pratika", 1);
    let tampered_path = write(temp.path(), "tampered.jsonl", &tampered);
    let fresh = tempfile::tempdir().unwrap();
    let fresh_dir = data_dir(&fresh);
    init(&fresh_dir);
    fails(
        &fresh_dir,
        &["import", &tampered_path],
        &["signed: signature does not verify", "nothing imported"],
    );
}

#[test]
fn key_rotate_switches_the_running_node_to_a_new_key_and_keeps_the_old_one() {
    let temp = tempfile::tempdir().unwrap();
    let dir = data_dir(&temp);
    let tokens = init(&dir);
    let json_file = write(
        temp.path(),
        "record.json",
        &content("Laboratorio urbano").to_string(),
    );
    let added = ok(&dir, &["record", "add", &json_file, "--json"]);
    let wire: SignedWire = serde_json::from_str(added.trim()).unwrap();
    let old_key = Signed::<Record>::from_wire(&wire)
        .unwrap()
        .value()
        .key
        .clone();
    let old_id = old_key.origin.to_hex();

    let server = Server::start(&dir);
    let run = |args: &[&str]| {
        std::process::Command::new(BIN)
            .args(["--node", &server.base, "--token", &tokens.admin_token])
            .args(args)
            .output()
            .unwrap()
    };
    let output = run(&["key", "rotate", "--reason", "scheduled", "--json"]);
    assert!(output.status.success(), "{}", stderr(&output));
    let report: Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(report["old_node_id"], old_id.as_str());
    let new_id = report["new_node_id"].as_str().unwrap().to_string();
    assert_ne!(new_id, old_id);
    assert_eq!(report["peers"], serde_json::json!([]));
    let status: Value = serde_json::from_slice(&run(&["status", "--json"]).stdout).unwrap();
    assert_eq!(
        status["node_id"],
        new_id.as_str(),
        "the running node switched"
    );
    let output = run(&["peer", "approve-rotation", &old_id]);
    assert!(!output.status.success());
    assert!(
        stderr(&output).contains("404 unknown_peer"),
        "{}",
        stderr(&output)
    );
    server.stop();

    // The old key is kept beside the new one, private; the node restarts
    // with the new key; the old record keeps its origin and is read-only.
    let retired = dir.join(format!("node.key.retired-{old_id}"));
    let mode = std::os::unix::fs::PermissionsExt::mode(
        &std::fs::metadata(&retired).unwrap().permissions(),
    );
    assert_eq!(mode & 0o777, 0o600);
    let status: Value = serde_json::from_str(&ok(&dir, &["status", "--json"])).unwrap();
    assert_eq!(status["node_id"], new_id.as_str());
    let got = ok(&dir, &["record", "get", &old_key.to_string()]);
    assert!(got.contains("Laboratorio urbano"), "{got}");
    fails(
        &dir,
        &["record", "update", &old_key.id.to_string(), &json_file],
        &["retired key", "read-only"],
    );
    assert!(ok(&dir, &["record", "add", &json_file]).contains(&new_id));
}

#[test]
fn init_defaults_the_languages_to_the_country_s_own_and_english() {
    let temp = tempfile::tempdir().unwrap();
    let languages_written = |name: &str, extra: &[&str]| -> Vec<String> {
        let dir = temp.path().join(name);
        let country = name.split('-').next().unwrap();
        let mut args = vec![
            "init",
            "--name",
            "Centre",
            "--country",
            country,
            "--url",
            "https://centre.example",
        ];
        args.extend_from_slice(extra);
        ok(&dir, &args);
        let text = std::fs::read_to_string(dir.join("seednet.toml")).unwrap();
        let config: toml::Value = toml::from_str(&text).unwrap();
        config["node"]["languages"]
            .as_array()
            .unwrap()
            .iter()
            .map(|value| value.as_str().unwrap().to_string())
            .collect()
    };
    for (country, expected) in [
        ("IT", &["it", "en"][..]),
        ("GR", &["el", "en"]),
        ("RO", &["ro", "en"]),
        ("SI", &["sl", "en"]),
        ("HR", &["hr", "en"]),
        ("IE", &["en"]),
    ] {
        assert_eq!(languages_written(country, &[]), expected, "{country}");
    }
    // --languages says otherwise.
    assert_eq!(
        languages_written("GR-explicit", &["--languages", "en,el"]),
        ["en", "el"]
    );
}
