//! Crash recovery: the real binary is killed with SIGKILL at random moments
//! while clients write concurrently over HTTP. After each kill the data dir
//! is opened directly and checked: every acknowledged write is present (at
//! its acknowledged version or newer), verifies, and has its change-log
//! entry; sequence numbers never go backwards.
//!
//! Kills come at three kinds of moment, chosen per cycle: while the node
//! starts up (opening storage and the index, replaying the indexer's
//! backlog), a short while into the writes, and late enough that index
//! commits run concurrently with them. After the last cycle the node is
//! started once more and its search index must come to agree with storage:
//! one document per live record, none missing, none twice.
//!
//! Seeded: set SEEDNET_CRASH_SEED to replay a run, SEEDNET_CRASH_CYCLES to
//! run more cycles (default 20; the long mode is
//! `SEEDNET_CRASH_CYCLES=1000 cargo test --release -p seednet-node --test crash`).

mod common;

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use common::{client, content, data_dir, init, Server};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use seednet_node::storage::{SledStorage, Storage};
use seednet_protocol::{Record, RecordKey, Signed, SignedWire};

const CYCLES_DEFAULT: usize = 20;
const WRITERS: usize = 4;
/// Upper bound on writes per writer per cycle (the kill usually comes first).
const WRITES_PER_WRITER_MAX: usize = 200;

/// What clients were told: record key -> highest acknowledged version.
type Acked = Arc<Mutex<BTreeMap<RecordKey, u64>>>;

async fn writer(base: String, token: String, acked: Acked, seed: u64) {
    let http = client();
    let mut rng = StdRng::seed_from_u64(seed);
    let mut own: Vec<(RecordKey, u64)> = Vec::new();
    for n in 0..WRITES_PER_WRITER_MAX {
        let update = !own.is_empty() && rng.gen_bool(0.3);
        let request = if update {
            let (key, version) = own[rng.gen_range(0..own.len())].clone();
            http.put(format!("{base}/api/v1/records/{}/{}", key.origin, key.id))
                .header("if-match", format!("\"{version}\""))
        } else {
            http.post(format!("{base}/api/v1/records"))
        };
        let response = match request
            .bearer_auth(&token)
            .json(&content(&format!("Crash {seed} {n}")))
            .send()
            .await
        {
            Ok(response) => response,
            Err(_) => return, // the node was killed
        };
        if !response.status().is_success() {
            return;
        }
        let Ok(wire) = response.json::<SignedWire>().await else {
            return;
        };
        let signed = Signed::<Record>::from_wire(&wire).expect("acknowledged record verifies");
        let record = signed.value();
        {
            let mut acked = acked.lock().unwrap();
            let entry = acked.entry(record.key.clone()).or_insert(0);
            *entry = (*entry).max(record.version);
        }
        match own.iter_mut().find(|(key, _)| *key == record.key) {
            Some(entry) => entry.1 = record.version,
            None => own.push((record.key.clone(), record.version)),
        }
    }
}

/// Opens the killed node's database and checks the recovery invariant:
/// every acknowledged record is present at its version or newer; records in
/// `full` (acknowledged since the last check) are also verified and matched
/// with their change-log entry. (Signature checks are slow in debug builds,
/// so each record gets the full check once per change, and all of them at
/// the end.)
fn check_recovered(
    db: &std::path::Path,
    acked: &BTreeMap<RecordKey, u64>,
    full: &BTreeMap<RecordKey, u64>,
    last_seq: &mut BTreeMap<RecordKey, u64>,
    last_head: &mut u64,
) {
    let storage = SledStorage::open(db).expect("reopen after kill");
    let head = storage.head_seq();
    assert!(
        head >= *last_head,
        "head went backwards: {head} < {last_head}"
    );
    *last_head = head;
    for (key, version) in acked {
        let current = storage
            .current_version(key)
            .expect("read")
            .unwrap_or_else(|| panic!("acknowledged record {key} is missing"));
        assert!(
            current.version >= *version,
            "{key}: acknowledged version {version}, found {}",
            current.version
        );
    }
    for (key, version) in full {
        let stored = storage
            .get(key)
            .expect("read")
            .unwrap_or_else(|| panic!("acknowledged record {key} is missing"));
        let record = stored.signed.value();
        assert!(
            record.version >= *version,
            "{key}: acknowledged version {version}, found {}",
            record.version
        );
        assert!(stored.seq <= head);
        let page = storage
            .changes_since(stored.seq - 1, 1, usize::MAX)
            .unwrap();
        let change = page
            .changes
            .first()
            .unwrap_or_else(|| panic!("{key}: no change-log entry at seq {}", stored.seq));
        assert_eq!(change.seq, stored.seq);
        assert_eq!(&change.key, key);
        assert_eq!(change.version, record.version);
        assert_eq!(change.hash, stored.signed.hash());
        let previous = last_seq.insert(key.clone(), stored.seq).unwrap_or(0);
        assert!(stored.seq >= previous, "{key}: sequence went backwards");
    }
    storage.shutdown().unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn acknowledged_writes_survive_sigkill() {
    let seed: u64 = std::env::var("SEEDNET_CRASH_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(rand::random);
    let cycles: usize = std::env::var("SEEDNET_CRASH_CYCLES")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(CYCLES_DEFAULT);
    eprintln!("crash test seed {seed} ({cycles} cycles); replay with SEEDNET_CRASH_SEED={seed}");
    let mut rng = StdRng::seed_from_u64(seed);
    let temp = tempfile::tempdir().unwrap();
    let dir = data_dir(&temp);
    let tokens = init(&dir);
    let acked: Acked = Arc::default();
    let mut last_seq = BTreeMap::new();
    let mut last_head = 0;
    let mut checked: BTreeMap<RecordKey, u64> = BTreeMap::new();
    let mut kinds = [0usize; 3];
    for cycle in 0..cycles {
        let moment = match rng.gen_range(0..4) {
            0 => Moment::StartUp,
            1 => Moment::DuringIndexCommits,
            _ => Moment::DuringWrites,
        };
        kinds[moment as usize] += 1;
        if moment == Moment::StartUp {
            let mut child = Server::spawn(&dir, &[]);
            tokio::time::sleep(Duration::from_millis(rng.gen_range(0..150))).await;
            child.kill().unwrap();
            child.wait().unwrap();
            let snapshot = acked.lock().unwrap().clone();
            let db = dir.join("db");
            (last_seq, last_head) =
                check_off_runtime(&db, snapshot, BTreeMap::new(), last_seq, last_head).await;
            continue;
        }
        let server = Server::start(&dir);
        let mut writers = Vec::new();
        for w in 0..WRITERS {
            writers.push(tokio::spawn(writer(
                server.base.clone(),
                tokens.editor_token.clone(),
                Arc::clone(&acked),
                seed ^ ((cycle * WRITERS + w) as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15),
            )));
        }
        let kill_after_ms = match moment {
            Moment::DuringIndexCommits => rng.gen_range(400..1_500),
            _ => rng.gen_range(20..250),
        };
        tokio::time::sleep(Duration::from_millis(kill_after_ms)).await;
        server.kill();
        for handle in writers {
            handle.await.expect("writer task");
        }
        let snapshot = acked.lock().unwrap().clone();
        let last_cycle = cycle + 1 == cycles;
        let full: BTreeMap<RecordKey, u64> = snapshot
            .iter()
            .filter(|(key, version)| last_cycle || checked.get(*key) != Some(*version))
            .map(|(key, version)| (key.clone(), *version))
            .collect();
        checked.extend(full.clone());
        let db = dir.join("db");
        (last_seq, last_head) = check_off_runtime(&db, snapshot, full, last_seq, last_head).await;
    }
    let total = acked.lock().unwrap().len();
    eprintln!(
        "crash test: {cycles} kills ({} at start-up, {} during writes, {} during index commits), {total} acknowledged records, change-log head {last_head}",
        kinds[Moment::StartUp as usize],
        kinds[Moment::DuringWrites as usize],
        kinds[Moment::DuringIndexCommits as usize],
    );
    assert!(total > 0, "some writes were acknowledged");
    index_agrees_with_storage(&dir, &tokens.admin_token).await;
}

/// [`check_recovered`] on a blocking thread (it opens sled), carrying the
/// sequence numbers and head seen so far from one kill to the next.
async fn check_off_runtime(
    db: &std::path::Path,
    acked: BTreeMap<RecordKey, u64>,
    full: BTreeMap<RecordKey, u64>,
    mut last_seq: BTreeMap<RecordKey, u64>,
    mut last_head: u64,
) -> (BTreeMap<RecordKey, u64>, u64) {
    let db = db.to_path_buf();
    tokio::task::spawn_blocking(move || {
        check_recovered(&db, &acked, &full, &mut last_seq, &mut last_head);
        (last_seq, last_head)
    })
    .await
    .unwrap_or_else(|panic| std::panic::resume_unwind(panic.into_panic()))
}

/// When a cycle kills the node.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Moment {
    StartUp = 0,
    DuringWrites = 1,
    DuringIndexCommits = 2,
}

/// Longest wait for the restarted node's index to catch up with storage.
const INDEX_CATCH_UP: Duration = Duration::from_secs(60);

/// Starts the node once more and waits until a query every record matches
/// counts exactly the live records in storage; more is a duplicate in the
/// index and fails at once.
async fn index_agrees_with_storage(dir: &std::path::Path, admin_token: &str) {
    let server = Server::start(dir);
    let http = client();
    let status: serde_json::Value = http
        .get(server.url("/api/v1/status"))
        .bearer_auth(admin_token)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let live: u64 = status["records"]
        .as_array()
        .unwrap()
        .iter()
        .map(|origin| origin["live"].as_u64().unwrap())
        .sum();
    let deadline = tokio::time::Instant::now() + INDEX_CATCH_UP;
    loop {
        // Every record's body says "laboratorio" (see `common::content`).
        let answer: serde_json::Value = http
            .get(server.url("/api/v1/search?q=laboratorio&limit=1"))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        let indexed = answer["total"].as_u64().expect("a total");
        assert!(
            indexed <= live,
            "the index holds {indexed} documents for {live} live records"
        );
        if indexed == live {
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "the index stopped at {indexed} of {live} live records"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    server.stop();
}

/// SIGTERM while clients write: the node exits 0 after finishing in-flight
/// requests, and every acknowledged write is there after restart.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn graceful_shutdown_keeps_every_acknowledged_write() {
    let temp = tempfile::tempdir().unwrap();
    let dir = data_dir(&temp);
    let tokens = init(&dir);
    let acked: Acked = Arc::default();
    let server = Server::start(&dir);
    let mut writers = Vec::new();
    for w in 0..WRITERS {
        writers.push(tokio::spawn(writer(
            server.base.clone(),
            tokens.editor_token.clone(),
            Arc::clone(&acked),
            w as u64,
        )));
    }
    tokio::time::sleep(Duration::from_millis(150)).await;
    tokio::task::spawn_blocking(move || server.stop())
        .await
        .expect("SIGTERM ends the node with exit status 0");
    for handle in writers {
        handle.await.expect("writer task");
    }
    let snapshot = acked.lock().unwrap().clone();
    assert!(
        !snapshot.is_empty(),
        "some writes were acknowledged before SIGTERM"
    );
    let db = dir.join("db");
    tokio::task::spawn_blocking(move || {
        let mut seqs = BTreeMap::new();
        let mut head = 0;
        check_recovered(&db, &snapshot, &snapshot, &mut seqs, &mut head);
    })
    .await
    .unwrap_or_else(|panic| std::panic::resume_unwind(panic.into_panic()));
}
