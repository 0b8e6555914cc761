//! Try a query against the labelled evaluation set and see the JSON response
//! the API would return (hits with snippets and `matched_via`, facets, the
//! concepts the query was mapped to).
//!
//! `cargo run -p seednet-search --example search_eval_set -- "συμμετοχικός προϋπολογισμός" [limit]`
//!
//! The records of `tests/search_eval/records.jsonl` are signed by one test
//! node per country and indexed into a temporary folder.

use seednet_protocol::testing::{sign_sample, test_key};
use seednet_protocol::RecordContent;
use seednet_search::{SearchIndex, SearchRequest};

#[derive(serde::Deserialize)]
struct EvalRecord {
    #[serde(rename = "ref")]
    reference: String,
    content: RecordContent,
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let q = args.next().ok_or("usage: search_eval_set QUERY [LIMIT]")?;
    let limit: usize = args.next().map(|l| l.parse()).transpose()?.unwrap_or(3);
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../tests/search_eval/records.jsonl"
    );
    let dir = tempfile::tempdir()?;
    let (index, _) = SearchIndex::open_or_create(dir.path())?;
    for (seq, line) in std::fs::read_to_string(path)?.lines().enumerate() {
        let record: EvalRecord = serde_json::from_str(line)?;
        let node = match record.content.country.as_str() {
            "IT" => 1,
            "GR" => 2,
            "RO" => 3,
            "SI" => 4,
            _ => 5,
        };
        let signed = sign_sample(&test_key(node), &record.reference, 1, record.content);
        index.upsert(signed.value(), seq as u64 + 1)?;
    }
    index.commit()?;
    let mut request = SearchRequest::new(&q);
    request.limit = limit;
    let response = index.search(&request)?;
    println!("{}", serde_json::to_string_pretty(&response)?);
    Ok(())
}
