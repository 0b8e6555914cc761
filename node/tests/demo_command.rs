//! The README's first command, run as a user runs it: the real `seednet`
//! binary's `demo`, with a limited sample set to stay quick. The goal: the
//! demo shows what the network is for (a Greek search on the Greek node
//! finds records published in Italy and Romania; a record page shows what it
//! was adapted from, on another node), and `--dir` really starts the same
//! network again and says so when it stops.

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

/// Sample records per centre file in this test (3 keeps the Bari and Cluj
/// participatory-budgeting records, the second adapted from the first).
const SAMPLE_LIMIT: &str = "3";
/// Longest wait for a line of the running demo.
const LINE_TIMEOUT_MS: u64 = 120_000;

fn demo() -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_seednet"));
    command.arg("demo").env_remove("SEEDNET_DATA_DIR");
    command
}

/// The value after `label` in the block of the centre whose heading ends with
/// `(COUNTRY)`.
fn field(output: &[String], country: &str, label: &str) -> String {
    let heading = format!("({country})");
    let start = output
        .iter()
        .position(|line| line.ends_with(&heading))
        .unwrap_or_else(|| panic!("no {heading} block in {output:#?}"));
    output[start + 1..]
        .iter()
        .take(5)
        .find_map(|line| {
            line.trim()
                .strip_prefix(label)
                .map(|v| v.trim().to_string())
        })
        .unwrap_or_else(|| panic!("no {label} for {country}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_demo_command_shows_search_across_countries_and_lineage() {
    let dir = tempfile::tempdir().unwrap();
    let dir_arg = dir.path().to_str().unwrap();

    // First run: set up, publish, converge, exit; the data stays.
    let first = demo()
        .args([
            "--dir",
            dir_arg,
            "--base-port",
            "0",
            "--sample-limit",
            SAMPLE_LIMIT,
        ])
        .args(["--exit-after-converge", "--quiet"])
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&first.stdout);
    assert!(
        first.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&first.stderr)
    );
    assert!(
        stdout.contains("converged: 4 nodes hold all 24 records"),
        "{stdout}"
    );
    assert!(stdout.contains("their data is kept in"), "{stdout}");

    // Second run on the same dir: the same network again, serving until Ctrl-C.
    let mut child = demo()
        .args(["--dir", dir_arg, "--sample-limit", SAMPLE_LIMIT, "--quiet"])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let (lines, received) = mpsc::channel::<String>();
    let reader = BufReader::new(child.stdout.take().unwrap());
    let reading = std::thread::spawn(move || {
        for line in reader.lines().map_while(Result::ok) {
            if lines.send(line).is_err() {
                break;
            }
        }
    });
    let mut output = Vec::new();
    loop {
        let line = received
            .recv_timeout(Duration::from_millis(LINE_TIMEOUT_MS))
            .unwrap_or_else(|_| panic!("the demo stopped talking: {output:#?}"));
        let done = line.contains("press Ctrl-C");
        output.push(line);
        if done {
            break;
        }
    }
    assert!(
        output.iter().any(|l| l.contains("holds a demo of 4 nodes")),
        "{output:#?}"
    );
    let greek_node = field(&output, "GR", "web:");
    let italian_id = field(&output, "IT", "node:");
    let romanian_id = field(&output, "RO", "node:");

    let http = reqwest::Client::new();
    let results: serde_json::Value = http
        .get(format!("{greek_node}api/v1/search"))
        .query(&[("q", "συμμετοχικός προϋπολογισμός")])
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let hits = results["hits"].as_array().expect("hits");
    let origins: Vec<&str> = hits.iter().filter_map(|h| h["origin"].as_str()).collect();
    assert!(origins.contains(&italian_id.as_str()), "{results:#}");
    assert!(origins.contains(&romanian_id.as_str()), "{results:#}");

    // The Romanian record adapted from the Italian one, as the Greek node
    // serves it: a link to the Italian node's record.
    let mut lineage_shown = false;
    for hit in hits.iter().filter(|h| h["origin"] == romanian_id.as_str()) {
        let page = http
            .get(format!(
                "{greek_node}records/{}/{}",
                hit["origin"].as_str().unwrap(),
                hit["id"].as_str().unwrap()
            ))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        lineage_shown |= page.contains("relation-adapted_from")
            && page.contains(&format!("href=\"/records/{italian_id}/"));
    }
    assert!(
        lineage_shown,
        "no Romanian hit shows an adapted-from link to an Italian record"
    );

    // Ctrl-C: the demo stops and says the data is kept.
    let pid = child.id().to_string();
    let signalled = Command::new("kill").args(["-INT", &pid]).status().unwrap();
    assert!(signalled.success());
    let status = child.wait().unwrap();
    while let Ok(line) = received.recv_timeout(Duration::from_millis(LINE_TIMEOUT_MS)) {
        output.push(line);
    }
    reading.join().unwrap();
    assert!(status.success(), "{status}: {output:#?}");
    assert!(
        output.iter().any(|l| l.contains("their data is kept in")),
        "{output:#?}"
    );
}
