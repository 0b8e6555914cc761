//! Indexing throughput and query latency (p50/p99) over a generated corpus.
//!
//! Why a plain bench binary and not criterion: what matters for a node is the
//! tail latency of a search with facets and snippets on a realistic index, and
//! the records per second a full `seednet reindex` reaches; criterion reports
//! means with confidence intervals of a micro-benchmark, not percentiles.
//!
//! The corpus is synthetic but shaped like the real one: records in the five
//! languages whose titles, summaries and bodies are drawn from the glossary's
//! terms (so concept tagging, stemming and folding all do real work) mixed
//! with filler words, with facet values spread over countries, kinds, themes,
//! target groups and years. Randomness is seeded: every run indexes the same
//! records and runs the same queries.
//!
//! The semantic tier is measured on the same index with synthetic vectors
//! (one passage per record: a random direction plus a per-language
//! component, as real multilingual embeddings have): the cost of the exact
//! vector search and of the fusion does not depend on what the vectors say.
//! The cost of embedding itself is `cargo bench -p seednet-embed`.
//!
//! `cargo bench -p seednet-search` (records: `SEEDNET_BENCH_RECORDS`, default
//! 20000; queries: `SEEDNET_BENCH_QUERIES`, default 2000).

use std::time::Instant;

use seednet_protocol::testing::{sample_content, sign_sample, test_key};
use seednet_protocol::{CountryCode, Kind, LanguageTag, Record, TargetGroup, Theme};
use seednet_search::Glossary;
use seednet_search::{
    AnalysisConfig, Passage, RecordVectors, SearchIndex, SearchRequest, SemanticQuery, VectorIndex,
    VECTOR_DIM,
};

const COMMIT_EVERY_RECORDS: usize = 1_000;
const LANGUAGES: [(&str, &str); 5] = [
    ("it", "IT"),
    ("el", "GR"),
    ("ro", "RO"),
    ("sl", "SI"),
    ("en", "IE"),
];
const FILLER: [&str; 12] = [
    "project",
    "città",
    "δήμος",
    "proiect",
    "občina",
    "2023",
    "pilot",
    "network",
    "rete",
    "δίκτυο",
    "rețea",
    "mreža",
];

/// xorshift64*: small, seeded, good enough to spread choices.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
}

fn env_usize(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn terms_of<'a>(glossary: &'a Glossary, lang: &str) -> Vec<&'a str> {
    glossary
        .concepts()
        .iter()
        .filter_map(|concept| concept.terms.get(lang))
        .flatten()
        .map(String::as_str)
        .collect()
}

fn words(rng: &mut Rng, terms: &[&str], count_min: usize, count_spread: usize) -> String {
    let count = count_min + rng.below(count_spread);
    let mut out = Vec::with_capacity(count);
    for _ in 0..count {
        if rng.below(3) == 0 {
            out.push(FILLER[rng.below(FILLER.len())]);
        } else {
            out.push(terms[rng.below(terms.len())]);
        }
    }
    out.join(" ")
}

fn generate(count: usize, glossary: &Glossary) -> Vec<Record> {
    let mut rng = Rng(0x5eed_5eed_5eed_5eed);
    let per_lang: Vec<Vec<&str>> = LANGUAGES
        .iter()
        .map(|(lang, _)| terms_of(glossary, lang))
        .collect();
    let keys: Vec<_> = (1..=8).map(test_key).collect();
    (0..count)
        .map(|n| {
            let choice = rng.below(LANGUAGES.len());
            let (lang, country) = LANGUAGES[choice];
            let terms = &per_lang[choice];
            let title = words(&mut rng, terms, 4, 4);
            let mut content = sample_content(lang, country, &title);
            content.summary = words(&mut rng, terms, 25, 20);
            content.body = words(&mut rng, terms, 120, 120);
            content.kind = Kind::ALL[rng.below(Kind::ALL.len())];
            content.themes = vec![Theme::ALL[rng.below(Theme::ALL.len())]];
            content.target_groups = vec![TargetGroup::ALL[rng.below(TargetGroup::ALL.len())]];
            content.year_start = 2014 + rng.below(12) as i64;
            content.country = CountryCode::parse(country).expect("valid country");
            content.lang = LanguageTag::parse(lang).expect("valid language");
            let key = &keys[rng.below(keys.len())];
            sign_sample(key, &format!("r{n:06}"), 1, content).into_value()
        })
        .collect()
}

fn queries(count: usize, glossary: &Glossary) -> Vec<SearchRequest> {
    let mut rng = Rng(0x0dd_ba11);
    let per_lang: Vec<Vec<&str>> = LANGUAGES
        .iter()
        .map(|(lang, _)| terms_of(glossary, lang))
        .collect();
    (0..count)
        .map(|_| {
            let terms = &per_lang[rng.below(per_lang.len())];
            let q = words(&mut rng, terms, 1, 3);
            let mut request = SearchRequest::new(&q);
            if rng.below(4) == 0 {
                request.filters.theme = vec![Theme::ALL[rng.below(Theme::ALL.len())]];
            }
            if rng.below(4) == 0 {
                request.filters.year_from = Some(2018);
            }
            request
        })
        .collect()
}

/// CPU time this thread has run, in microseconds, from the Linux scheduler
/// (`/proc/thread-self/schedstat`); `None` elsewhere. The bench machine is
/// shared with other builds, so wall time alone overstates our cost.
fn thread_cpu_us() -> Option<u128> {
    let stat = std::fs::read_to_string("/proc/thread-self/schedstat").ok()?;
    let on_cpu_ns: u128 = stat.split_whitespace().next()?.parse().ok()?;
    Some(on_cpu_ns / 1_000)
}

/// CPU time of the whole process (all threads: tantivy indexes and merges
/// on its own threads), in seconds, from `/proc/self/stat` (clock ticks of
/// 1/100 s); `None` elsewhere.
fn process_cpu_s() -> Option<f64> {
    let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
    // fields after the command name, which is in parentheses
    let after_name = &stat[stat.rfind(')')? + 2..];
    let fields: Vec<&str> = after_name.split_whitespace().collect();
    let user_ticks: f64 = fields.get(11)?.parse().ok()?;
    let system_ticks: f64 = fields.get(12)?.parse().ok()?;
    Some((user_ticks + system_ticks) / 100.0)
}

fn load_average() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .ok()
        .and_then(|text| text.split_whitespace().next().map(str::to_string))
        .unwrap_or_else(|| "n/a".into())
}

fn percentile(sorted_us: &[u128], fraction: f64) -> u128 {
    let index = ((sorted_us.len() as f64 - 1.0) * fraction).round() as usize;
    sorted_us[index]
}

/// A unit vector: a seeded random direction plus a shared component for the
/// language `lang` (0..5).
fn synthetic_vector(rng: &mut Rng, lang: usize) -> Vec<f32> {
    let mut vector: Vec<f32> = (0..VECTOR_DIM)
        .map(|_| (rng.next() % 2001) as f32 / 1000.0 - 1.0)
        .collect();
    vector[lang] += 8.0;
    let norm = vector.iter().map(|v| v * v).sum::<f32>().sqrt();
    vector.iter().map(|v| v / norm).collect()
}

fn main() {
    // `cargo bench` passes `--bench`; nothing else to parse.
    let record_count = env_usize("SEEDNET_BENCH_RECORDS", 20_000);
    let query_count = env_usize("SEEDNET_BENCH_QUERIES", 2_000);
    let glossary = Glossary::builtin(AnalysisConfig::default());
    let records = generate(record_count, glossary);
    let dir = tempfile::tempdir().expect("temporary folder");
    let (index, _) = SearchIndex::open_or_create(dir.path()).expect("index opens");

    let load_before = load_average();
    let started = Instant::now();
    let cpu_started = process_cpu_s();
    for (n, record) in records.iter().enumerate() {
        index.upsert(record, n as u64 + 1).expect("upsert");
        if (n + 1) % COMMIT_EVERY_RECORDS == 0 {
            index.commit().expect("commit");
        }
    }
    index.commit().expect("commit");
    let indexing_s = started.elapsed().as_secs_f64();
    let indexing_cpu_s = cpu_started.zip(process_cpu_s()).map(|(from, to)| to - from);

    let requests = queries(query_count, glossary);
    let mut latencies_us = Vec::with_capacity(requests.len());
    let mut cpu_us = Vec::with_capacity(requests.len());
    let mut total_hits = 0u64;
    for request in &requests {
        let cpu_before = thread_cpu_us();
        let started = Instant::now();
        let response = index.search(request).expect("search");
        latencies_us.push(started.elapsed().as_micros());
        if let (Some(before), Some(after)) = (cpu_before, thread_cpu_us()) {
            cpu_us.push(after - before);
        }
        total_hits += response.total;
    }
    latencies_us.sort_unstable();
    cpu_us.sort_unstable();
    let mean_total = total_hits as f64 / requests.len() as f64;

    println!("| measure | value |");
    println!("|---|---|");
    println!(
        "| load average before / after | {load_before} / {} |",
        load_average()
    );
    println!("| records | {record_count} |");
    if let Some(cpu_s) = indexing_cpu_s {
        println!(
            "| indexing throughput_records_per_cpu_s (all threads) | {:.0} |",
            record_count as f64 / cpu_s
        );
    }
    println!(
        "| indexing throughput_records_per_s (commit every {COMMIT_EVERY_RECORDS}) | {:.0} |",
        record_count as f64 / indexing_s
    );
    println!("| queries | {query_count} (1-3 glossary words, 25% with a theme filter, 25% with year_from) |");
    println!("| mean matching records per query | {mean_total:.0} |");
    println!(
        "| query latency_ms_p50 (limit 10, facets, snippets) | {:.2} |",
        percentile(&latencies_us, 0.50) as f64 / 1000.0
    );
    println!(
        "| query latency_ms_p99 | {:.2} |",
        percentile(&latencies_us, 0.99) as f64 / 1000.0
    );
    println!(
        "| query latency_ms_max | {:.2} |",
        *latencies_us.last().expect("queries ran") as f64 / 1000.0
    );
    if !cpu_us.is_empty() {
        println!(
            "| query cpu_ms_p50 / p99 | {:.2} / {:.2} |",
            percentile(&cpu_us, 0.50) as f64 / 1000.0,
            percentile(&cpu_us, 0.99) as f64 / 1000.0
        );
    }

    // The semantic tier over the same records.
    let vectors_dir = tempfile::tempdir().expect("temporary folder");
    let (vectors, _) = VectorIndex::open(vectors_dir.path(), [0; 32], &[]).expect("vectors open");
    let mut rng = Rng(0x5eed_5eed);
    let started = Instant::now();
    for record in &records {
        let lang = rng.below(LANGUAGES.len());
        vectors
            .upsert(RecordVectors {
                key: record.key.clone(),
                version: record.version,
                passages: vec![Passage {
                    lang: LANGUAGES[lang].0.into(),
                    vector: synthetic_vector(&mut rng, lang),
                }],
            })
            .expect("upsert vectors");
    }
    vectors.flush().expect("flush vectors");
    let vector_load_s = started.elapsed().as_secs_f64();
    let query_vectors: Vec<Vec<f32>> = (0..requests.len())
        .map(|_| {
            let lang = rng.below(LANGUAGES.len());
            synthetic_vector(&mut rng, lang)
        })
        .collect();
    let mut nearest_us = Vec::with_capacity(requests.len());
    let mut fused_us = Vec::with_capacity(requests.len());
    for (request, query) in requests.iter().zip(&query_vectors) {
        let started = Instant::now();
        let _ = vectors.nearest(query, 50, 0.0);
        nearest_us.push(started.elapsed().as_micros());
        let started = Instant::now();
        let semantic = SemanticQuery {
            vectors: &vectors,
            query,
        };
        index
            .search_with(request, Some(semantic))
            .expect("fused search");
        fused_us.push(started.elapsed().as_micros());
    }
    nearest_us.sort_unstable();
    fused_us.sort_unstable();
    println!(
        "| vectors stored (synthetic, one passage per record) | {} in {vector_load_s:.1} s |",
        vectors.passage_count()
    );
    println!(
        "| exact vector search (top 50) latency_ms_p50 / p99 | {:.2} / {:.2} |",
        percentile(&nearest_us, 0.50) as f64 / 1000.0,
        percentile(&nearest_us, 0.99) as f64 / 1000.0
    );
    println!(
        "| fused search latency_ms_p50 / p99 (query vector given) | {:.2} / {:.2} |",
        percentile(&fused_us, 0.50) as f64 / 1000.0,
        percentile(&fused_us, 0.99) as f64 / 1000.0
    );
}
