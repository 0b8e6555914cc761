//! Mutation fuzzing of the node's parsers on the stable toolchain (issue #17).
//!
//! Why this shape: libFuzzer and AFL need a nightly compiler or their own
//! LLVM plugin, neither of which this project can count on, so coverage
//! guidance is not available. What remains is still worth running on every
//! CI build: start from valid inputs (a signed record, a feed page, a signed
//! request's headers, a CSV export, a config file, a search query, a
//! reconciliation message), mutate them with the classic byte operations
//! (flips, interesting bytes, inserts, deletions, duplications, splices
//! between seeds, truncation) from a seeded generator, and feed each parser
//! for a bounded time. A target must never panic, and where a parse
//! succeeds, what it accepted must hold its invariants (a record that
//! verifies keeps its exact bytes; a decoded page is within its limits).
//!
//! Every input that ever crashed a target is kept under
//! `node/tests/fuzz-regressions/<target>/` and replayed first. On a crash the
//! input is written to a temporary file and its path printed, to be copied
//! there with the fix.
//!
//! `SEEDNET_FUZZ_SECONDS` (default 2 per target) sets the budget;
//! `SEEDNET_FUZZ_SEED` replays a run.

use std::collections::BTreeMap;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::PathBuf;
use std::time::{Duration, Instant};

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use seednet_node::config::{Config, ConfigFile, Overrides};
use seednet_node::transfer::{parse_import, ExportFormat, ExportWriter, ImportFormat};
use seednet_protocol::federation::http_signature::{
    sign_request, verify_request, MemoryNonceCache, ReceivedHeaders, RequestParts, SignatureParams,
    VerifyPolicy,
};
use seednet_protocol::federation::reconcile::Message;
use seednet_protocol::federation::wire::{ChangesPage, ItemsRequest};
use seednet_protocol::testing::{sample_content, sign_sample, test_key};
use seednet_protocol::{Record, RecordContent, Signed, SignedWire};

const SECONDS_DEFAULT: u64 = 2;
/// Longest mutated input, in bytes.
const INPUT_BYTES_MAX: usize = 64 * 1024;
/// Mutations stacked on one input, at most.
const MUTATIONS_MAX: usize = 8;

const INTERESTING: &[u8] = b"\0\xff\x7f\x80\"'{}[]:,\\\n\r\t -0123456789eE.=;()*:%";

fn mutate(rng: &mut StdRng, input: &mut Vec<u8>, seeds: &[Vec<u8>]) {
    for _ in 0..rng.gen_range(1..=MUTATIONS_MAX) {
        let len = input.len();
        match rng.gen_range(0..8) {
            0 if len > 0 => {
                let at = rng.gen_range(0..len);
                input[at] ^= 1 << rng.gen_range(0..8);
            }
            1 if len > 0 => {
                let at = rng.gen_range(0..len);
                input[at] = INTERESTING[rng.gen_range(0..INTERESTING.len())];
            }
            2 => {
                let at = rng.gen_range(0..=len);
                input.insert(at, INTERESTING[rng.gen_range(0..INTERESTING.len())]);
            }
            3 if len > 0 => {
                let start = rng.gen_range(0..len);
                let end = (start + rng.gen_range(1..=16)).min(len);
                input.drain(start..end);
            }
            4 if len > 0 => {
                let start = rng.gen_range(0..len);
                let end = (start + rng.gen_range(1..=64)).min(len);
                let copy: Vec<u8> = input[start..end].to_vec();
                let at = rng.gen_range(0..=input.len());
                input.splice(at..at, copy);
            }
            5 => {
                let other = &seeds[rng.gen_range(0..seeds.len())];
                if !other.is_empty() {
                    let start = rng.gen_range(0..other.len());
                    let end = (start + rng.gen_range(1..=128)).min(other.len());
                    let at = rng.gen_range(0..=len);
                    input.splice(at..at, other[start..end].iter().copied());
                }
            }
            6 if len > 0 => input.truncate(rng.gen_range(0..len)),
            _ => {
                let at = rng.gen_range(0..=len);
                input.insert(at, rng.gen());
            }
        }
    }
    input.truncate(INPUT_BYTES_MAX);
}

/// One parser under test: its seeds and a check that panics on a defect.
struct Target {
    name: &'static str,
    seeds: Vec<Vec<u8>>,
    check: fn(&[u8]),
}

fn signed_record() -> Signed<Record> {
    let mut content = sample_content("it", "IT", "Laboratorio di quartiere");
    content.summary = "Sintesi: *co-progettazione* con i cittadini".into();
    sign_sample(&test_key(1), "01JQZ8Y6V4D2B1N0M9K8J7H6G5", 3, content)
}

fn record_seed() -> Vec<u8> {
    serde_json::to_vec(&signed_record().to_wire()).unwrap()
}

fn check_record(bytes: &[u8]) {
    let Ok(wire) = serde_json::from_slice::<SignedWire>(bytes) else {
        return;
    };
    if let Ok(record) = Signed::<Record>::from_wire(&wire) {
        assert_eq!(
            record.bytes(),
            wire.signed.get().as_bytes(),
            "a verified record keeps its exact bytes"
        );
    }
}

fn check_content(bytes: &[u8]) {
    if let Ok(content) = RecordContent::from_json(bytes) {
        let again = serde_json::to_vec(&content).unwrap();
        assert!(
            RecordContent::from_json(&again).is_ok(),
            "accepted content re-encodes to accepted content"
        );
    }
}

fn page_seed() -> Vec<u8> {
    serde_json::to_vec(&serde_json::json!({
        "records": [signed_record().to_wire(), signed_record().to_wire()],
        "next_cursor": 7,
        "head_seq": 9,
    }))
    .unwrap()
}

fn check_page(bytes: &[u8]) {
    if let Ok(page) = ChangesPage::decode(bytes) {
        assert!(page.records.len() <= seednet_protocol::federation::limits::SYNC_BATCH_RECORDS_MAX);
    }
    let _ = ItemsRequest::decode(bytes);
}

const TARGET_URI: &str = "https://seed-it.example/federation/v1/changes?since=0";
const NOW: i64 = 1_767_225_600;

/// The two signature headers joined by a newline (the fuzzer mutates both).
fn signature_seed() -> Vec<u8> {
    let headers = sign_request(
        &test_key(2),
        &RequestParts {
            method: "GET",
            target_uri: TARGET_URI,
            body: b"",
        },
        &SignatureParams::new(NOW, "0123456789abcdef0123".to_string()),
    )
    .unwrap();
    format!("{}\n{}", headers.signature_input, headers.signature).into_bytes()
}

fn check_signature(bytes: &[u8]) {
    let text = String::from_utf8_lossy(bytes);
    let (input, signature) = text.split_once('\n').unwrap_or((&text, ""));
    let mut nonces = MemoryNonceCache::new(16);
    let _ = verify_request(
        &RequestParts {
            method: "GET",
            target_uri: TARGET_URI,
            body: b"",
        },
        &ReceivedHeaders {
            signature_input: Some(input),
            signature: Some(signature),
            content_digest: None,
        },
        NOW,
        &VerifyPolicy::default(),
        &|_| true,
        &mut nonces,
    );
}

fn csv_seed() -> Vec<u8> {
    let mut out = Vec::new();
    let mut writer =
        ExportWriter::new(ExportFormat::Csv, &mut out, "https://seed-it.example").unwrap();
    writer.write(&signed_record()).unwrap();
    writer.finish().unwrap();
    out
}

fn check_import(bytes: &[u8]) {
    let text = String::from_utf8_lossy(bytes);
    for format in [ImportFormat::Csv, ImportFormat::Json, ImportFormat::Jsonl] {
        let _ = parse_import(&text, format);
    }
}

fn config_seed() -> Vec<u8> {
    br#"[node]
name = "SEED Competence Centre Italy"
country = "IT"
public_url = "https://seed-it.example"
languages = ["it", "en"]

[http]
listen = "127.0.0.1:8470"
body_limit_bytes = 1048576

[federation]
allow_loopback_peers = false
sync_interval_ms = 30000
relay = "all"
"#
    .to_vec()
}

fn check_config(bytes: &[u8]) {
    let text = String::from_utf8_lossy(bytes);
    if let Ok(file) = toml::from_str::<ConfigFile>(&text) {
        let _ = Config::resolve(
            std::path::Path::new("/nonexistent/seednet"),
            &file,
            &BTreeMap::new(),
            &Overrides::default(),
        );
    }
}

fn query_seed() -> Vec<u8> {
    b"q=co-progettazione%20quartiere&lang=it,en&country=IT&theme=co-design&kind=practice&year_from=2019&year_to=2024&limit=10&offset=0&display_lang=el,en".to_vec()
}

fn check_query(bytes: &[u8]) {
    let text = String::from_utf8_lossy(bytes);
    let pairs: Vec<(String, String)> = url::form_urlencoded::parse(text.as_bytes())
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect();
    let _ = seednet_search::SearchRequest::from_params(
        pairs.iter().map(|(k, v)| (k.as_str(), v.as_str())),
    );
}

fn reconcile_seed() -> Vec<u8> {
    let mut message = vec![0x01, 0x02, 0x01];
    message.extend_from_slice(&[0u8; 72]);
    message.extend_from_slice(&[0x02, 0x00, 0x10]);
    message
}

fn check_reconcile(bytes: &[u8]) {
    let _ = Message::decode::<std::io::Error>(bytes);
}

fn targets() -> Vec<Target> {
    vec![
        Target {
            name: "record",
            seeds: vec![record_seed()],
            check: check_record,
        },
        Target {
            name: "content",
            seeds: vec![serde_json::to_vec(&sample_content("el", "GR", "Συμμετοχικός")).unwrap()],
            check: check_content,
        },
        Target {
            name: "feed_page",
            seeds: vec![page_seed()],
            check: check_page,
        },
        Target {
            name: "signature_headers",
            seeds: vec![signature_seed()],
            check: check_signature,
        },
        Target {
            name: "import",
            seeds: vec![csv_seed(), record_seed()],
            check: check_import,
        },
        Target {
            name: "config",
            seeds: vec![config_seed()],
            check: check_config,
        },
        Target {
            name: "search_query",
            seeds: vec![query_seed()],
            check: check_query,
        },
        Target {
            name: "reconcile",
            seeds: vec![reconcile_seed()],
            check: check_reconcile,
        },
    ]
}

fn regressions(target: &str) -> Vec<Vec<u8>> {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fuzz-regressions")
        .join(target);
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    entries
        .filter_map(|entry| std::fs::read(entry.ok()?.path()).ok())
        .collect()
}

#[test]
fn parsers_survive_mutated_input() {
    let seconds: u64 = std::env::var("SEEDNET_FUZZ_SECONDS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(SECONDS_DEFAULT);
    let seed: u64 = std::env::var("SEEDNET_FUZZ_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(rand::random);
    eprintln!("fuzz seed {seed}, {seconds} s per target; replay with SEEDNET_FUZZ_SEED={seed}");
    // The checks' own assertion messages are enough; keep the output short.
    let hook = std::panic::take_hook();
    std::panic::set_hook(Box::new(|_| {}));
    let mut crashes = Vec::new();
    let mut report = Vec::new();
    for target in targets() {
        let mut rng = StdRng::seed_from_u64(seed ^ target.name.len() as u64);
        let mut runs = 0u64;
        let kept = regressions(target.name);
        let mut run = |input: &[u8]| {
            runs += 1;
            let outcome = catch_unwind(AssertUnwindSafe(|| (target.check)(input)));
            outcome.err().map(|panic| {
                panic
                    .downcast_ref::<String>()
                    .cloned()
                    .or_else(|| panic.downcast_ref::<&str>().map(|s| s.to_string()))
                    .unwrap_or_default()
            })
        };
        let mut found = None;
        for input in kept.iter().chain(&target.seeds) {
            if let Some(message) = run(input) {
                found = Some((input.clone(), message));
                break;
            }
        }
        let deadline = Instant::now() + Duration::from_secs(seconds);
        while found.is_none() && Instant::now() < deadline {
            let mut input = target.seeds[rng.gen_range(0..target.seeds.len())].clone();
            mutate(&mut rng, &mut input, &target.seeds);
            if let Some(message) = run(&input) {
                found = Some((input, message));
            }
        }
        report.push(format!("{} {runs}", target.name));
        if let Some((input, message)) = found {
            let path =
                std::env::temp_dir().join(format!("seednet-fuzz-{}-{seed}.bin", target.name));
            let _ = std::fs::write(&path, &input);
            crashes.push(format!(
                "{}: {message} (input in {})",
                target.name,
                path.display()
            ));
        }
    }
    std::panic::set_hook(hook);
    eprintln!("fuzz runs per target: {}", report.join(", "));
    assert!(crashes.is_empty(), "crashes:\n{}", crashes.join("\n"));
}
