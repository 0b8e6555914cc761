//! What a practitioner and an operator rely on: accents and old keyboards do
//! not matter, every facet filters and counts, snippets are safe HTML, edits
//! and deletions show up, and a lost or damaged index is rebuilt.
//!
//! Every test indexes real records into a real tantivy index on disk (a
//! temporary folder) and asks through the public API only.

use std::collections::BTreeMap;
use std::fs;
use std::path::Path;

use seednet_protocol::testing::{sample_content, sign_sample, test_key};
use seednet_protocol::{
    Kind, LanguageTag, Provenance, Record, RecordBody, RecordContent, RecordKey, TargetGroup,
    Theme, Translation,
};
use seednet_search::{
    MatchedVia, OpenState, RebuildReason, SearchIndex, SearchRequest, SearchResponse,
};

/// A record by node `node` (1..) with id `id`, built from `content`.
fn record(node: u8, id: &str, version: u64, content: RecordContent) -> Record {
    sign_sample(&test_key(node), id, version, content).into_value()
}

fn content(lang: &str, country: &str, title: &str, summary: &str) -> RecordContent {
    let mut content = sample_content(lang, country, title);
    content.summary = summary.to_string();
    content.body = format!("{title}. {summary}");
    content
}

/// A small corpus in five languages with distinct facet values.
fn corpus() -> Vec<Record> {
    let mut romanian = content(
        "ro",
        "RO",
        "Economie socială în comunitățile rurale",
        "Cooperativa socială din Cluj sprijină femeile din mediul rural prin formare și ocupare.",
    );
    romanian.kind = Kind::Methodology;
    romanian.themes = vec![Theme::ParticipatoryLocalDevelopment];
    romanian.target_groups = vec![TargetGroup::Women, TargetGroup::RuralCommunities];
    romanian.year_start = 2021;

    let mut greek = content(
        "el",
        "GR",
        "Συμμετοχικός σχεδιασμός πολιτικής στην Καρδίτσα",
        "Οι πολίτες και οι υπηρεσίες του δήμου σχεδιάζουν μαζί τις κοινωνικές υπηρεσίες.",
    );
    greek.kind = Kind::CaseStudy;
    greek.themes = vec![Theme::CoDesign, Theme::ParticipatoryFacilitation];
    greek.target_groups = vec![TargetGroup::OlderPeople];
    greek.year_start = 2023;

    let mut italian = content(
        "it",
        "IT",
        "Città che co-progettano: il laboratorio di Torino",
        "Il Comune di Torino e il Terzo settore co-progettano servizi di inclusione per i giovani.",
    );
    italian.kind = Kind::PolicyLabProject;
    italian.themes = vec![Theme::CoDesign];
    italian.target_groups = vec![TargetGroup::Youth];
    italian.year_start = 2022;
    italian.translations.insert(
        LanguageTag::parse("en").unwrap(),
        Translation {
            title: "Cities that co-design: the Turin lab".into(),
            summary: "The City of Turin and the third sector co-design inclusion services for young people.".into(),
            body: None,
            provenance: Provenance::Human,
            reviewed: true,
        },
    );

    let mut slovenian = content(
        "sl",
        "SI",
        "Digitalne veščine za starejše",
        "Orodje za učenje digitalnih veščin v knjižnicah po vsej Sloveniji.",
    );
    slovenian.kind = Kind::Tool;
    slovenian.themes = vec![Theme::CompetenceTransfer];
    slovenian.target_groups = vec![TargetGroup::OlderPeople];
    slovenian.year_start = 2020;

    let mut english = content(
        "en",
        "IE",
        "Social impact bonds <for> homeless services & housing",
        "An outcomes contract funds housing-led support; investors are repaid when outcomes are met.",
    );
    english.kind = Kind::Practice;
    english.themes = vec![Theme::ImpactFinance];
    english.target_groups = vec![TargetGroup::Homeless];
    english.year_start = 2019;

    vec![
        record(1, "ro-coop", 1, romanian),
        record(2, "el-karditsa", 1, greek),
        record(3, "it-torino", 1, italian),
        record(4, "sl-digital", 1, slovenian),
        record(5, "en-sib", 1, english),
    ]
}

fn indexed(dir: &Path, records: &[Record]) -> SearchIndex {
    let (index, state) = SearchIndex::open_or_create(dir).unwrap();
    assert_eq!(state, OpenState::Fresh);
    for (seq, record) in records.iter().enumerate() {
        index.upsert(record, seq as u64 + 1).unwrap();
    }
    index.commit().unwrap();
    index
}

fn search(index: &SearchIndex, request: SearchRequest) -> SearchResponse {
    index.search(&request).unwrap()
}

fn ids(response: &SearchResponse) -> Vec<String> {
    response.hits.iter().map(|hit| hit.id.clone()).collect()
}

fn params(index: &SearchIndex, pairs: &[(&str, &str)]) -> SearchResponse {
    let request = SearchRequest::from_params(pairs.iter().copied()).unwrap();
    index.search(&request).unwrap()
}

/// Asserts that the query (as parameters) finds exactly `expected` ids, in any order.
fn check(index: &SearchIndex, pairs: &[(&str, &str)], expected: &[&str]) {
    let mut found = ids(&params(index, pairs));
    found.sort();
    let mut expected: Vec<String> = expected.iter().map(|id| id.to_string()).collect();
    expected.sort();
    assert_eq!(found, expected, "query {pairs:?}");
}

#[test]
fn accentless_and_cedilla_queries_find_romanian_text() {
    let dir = tempfile::tempdir().unwrap();
    let index = indexed(dir.path(), &corpus());
    // comma-below (correct), cedilla (old keyboards), no diacritics at all
    for q in [
        "economie socială",
        "economie socială",
        "economie sociala",
        "ECONOMIE SOCIALĂ",
    ] {
        let response = search(&index, SearchRequest::new(q));
        assert_eq!(
            ids(&response).first().map(String::as_str),
            Some("ro-coop"),
            "{q}"
        );
    }
    let cedilla = search(&index, SearchRequest::new("comunităţile rurale"));
    assert_eq!(ids(&cedilla).first().map(String::as_str), Some("ro-coop"));
    let accentless_italian = search(&index, SearchRequest::new("citta co-progettano"));
    assert_eq!(
        ids(&accentless_italian).first().map(String::as_str),
        Some("it-torino")
    );
}

#[test]
fn romanian_inflections_with_comma_below_letters_meet_either_spelling() {
    let dir = tempfile::tempdir().unwrap();
    let index = indexed(dir.path(), &corpus());
    // the record says "comunitățile" (comma-below); other inflections, typed
    // with comma-below, cedilla or without the letter at all, find it
    for q in [
        "comunitate",
        "comunităților",
        "comunităţilor",
        "comunităţile",
    ] {
        let response = search(&index, SearchRequest::new(q));
        assert_eq!(ids(&response), vec!["ro-coop"], "{q}");
    }
}

#[test]
fn greek_final_sigma_and_tonos_do_not_matter() {
    let dir = tempfile::tempdir().unwrap();
    let index = indexed(dir.path(), &corpus());
    for q in [
        "συμμετοχικός σχεδιασμός",
        "συμμετοχικοσ σχεδιασμοσ",
        "ΣΥΜΜΕΤΟΧΙΚΟΣ ΣΧΕΔΙΑΣΜΟΣ",
    ] {
        let response = search(&index, SearchRequest::new(q));
        assert_eq!(
            ids(&response).first().map(String::as_str),
            Some("el-karditsa"),
            "{q}"
        );
    }
}

#[test]
fn slovenian_inflections_meet() {
    let dir = tempfile::tempdir().unwrap();
    let index = indexed(dir.path(), &corpus());
    let response = search(&index, SearchRequest::new("digitalnimi veščinami"));
    assert_eq!(
        ids(&response).first().map(String::as_str),
        Some("sl-digital")
    );
}

#[test]
fn every_facet_filters_and_counts() {
    let dir = tempfile::tempdir().unwrap();
    let index = indexed(dir.path(), &corpus());
    let all = params(&index, &[]);
    assert_eq!(all.total, 5);
    let count = |values: &[seednet_search::FacetCount], value: &str| {
        values.iter().find(|c| c.value == value).map(|c| c.count)
    };
    assert_eq!(count(&all.facets.country, "RO"), Some(1));
    assert_eq!(count(&all.facets.lang, "el"), Some(1));
    assert_eq!(count(&all.facets.kind, "tool"), Some(1));
    assert_eq!(count(&all.facets.theme, "co-design"), Some(2));
    assert_eq!(count(&all.facets.target_group, "older-people"), Some(2));
    assert_eq!(count(&all.facets.year, "2021"), Some(1));
    assert_eq!(all.facets.origin.len(), 5);

    check(&index, &[("country", "RO")], &["ro-coop"]);
    check(&index, &[("country", "RO,GR")], &["ro-coop", "el-karditsa"]);
    check(&index, &[("lang", "sl")], &["sl-digital"]);
    check(&index, &[("kind", "case_study")], &["el-karditsa"]);
    check(
        &index,
        &[("theme", "co-design")],
        &["el-karditsa", "it-torino"],
    );
    check(
        &index,
        &[("target_group", "older-people")],
        &["el-karditsa", "sl-digital"],
    );
    check(
        &index,
        &[("year_from", "2021"), ("year_to", "2022")],
        &["ro-coop", "it-torino"],
    );
    check(&index, &[("year_from", "2023")], &["el-karditsa"]);
    let origin = test_key(4).node_id().to_hex();
    check(&index, &[("origin", origin.as_str())], &["sl-digital"]);
    check(
        &index,
        &[("theme", "co-design"), ("target_group", "older-people")],
        &["el-karditsa"],
    );
    // facets count what the filters leave
    let filtered = params(&index, &[("theme", "co-design")]);
    assert_eq!(filtered.total, 2);
    assert_eq!(count(&filtered.facets.country, "RO"), None);
    assert_eq!(count(&filtered.facets.country, "IT"), Some(1));
}

#[test]
fn snippets_escape_html_and_mark_the_match() {
    let dir = tempfile::tempdir().unwrap();
    let index = indexed(dir.path(), &corpus());
    let response = search(&index, SearchRequest::new("homeless"));
    let hit = &response.hits[0];
    assert_eq!(hit.id, "en-sib");
    assert!(
        hit.snippet.to_html().contains("<mark>homeless</mark>"),
        "{}",
        hit.snippet.to_html()
    );
    assert!(
        hit.snippet.to_html().contains("&lt;for&gt;"),
        "{}",
        hit.snippet.to_html()
    );
    assert!(
        hit.snippet.to_html().contains("&amp;"),
        "{}",
        hit.snippet.to_html()
    );
    assert!(!hit.snippet.to_html().contains("<for>"));
    assert_eq!(
        hit.title,
        "Social impact bonds <for> homeless services & housing"
    );
}

#[test]
fn a_translation_match_is_reported_as_such() {
    let dir = tempfile::tempdir().unwrap();
    let index = indexed(dir.path(), &corpus());
    let response = search(
        &index,
        SearchRequest::new("young people inclusion services"),
    );
    let hit = response
        .hits
        .iter()
        .find(|hit| hit.id == "it-torino")
        .unwrap();
    assert!(
        hit.matched_via
            .contains(&MatchedVia::Translation { lang: "en".into() }),
        "{:?}",
        hit.matched_via
    );
}

#[test]
fn updates_and_deletions_are_reflected_after_commit() {
    let dir = tempfile::tempdir().unwrap();
    let records = corpus();
    let index = indexed(dir.path(), &records);
    assert_eq!(index.last_indexed_seq(), 5);

    let mut changed = records[3].content().unwrap().clone();
    changed.title = "Knjižnični programi za medgeneracijsko učenje".into();
    changed.summary = "Medgeneracijsko učenje v knjižnicah.".into();
    changed.body = "Medgeneracijsko učenje.".into();
    let version_two = record(4, "sl-digital", 2, changed);
    index.upsert(&version_two, 6).unwrap();
    // staged, not yet visible
    assert_eq!(
        ids(&search(&index, SearchRequest::new("digitalne veščine"))),
        vec!["sl-digital"]
    );
    index.commit().unwrap();
    assert!(ids(&search(&index, SearchRequest::new("digitalne veščine"))).is_empty());
    let updated = search(&index, SearchRequest::new("medgeneracijsko"));
    assert_eq!(ids(&updated), vec!["sl-digital"]);
    assert_eq!(updated.hits[0].version, 2);
    assert_eq!(index.record_count(), 5);

    // a tombstone through upsert, and a removal by key
    let tombstone = Record {
        body: RecordBody::Tombstone,
        version: 2,
        ..records[0].clone()
    };
    index.upsert(&tombstone, 7).unwrap();
    index.remove(&records[4].key, 8).unwrap();
    index.commit().unwrap();
    assert_eq!(index.record_count(), 3);
    assert!(ids(&search(&index, SearchRequest::new("economie sociala"))).is_empty());
    assert!(ids(&search(&index, SearchRequest::new("homeless"))).is_empty());
    assert_eq!(index.last_indexed_seq(), 8);
}

#[test]
fn the_last_indexed_seq_survives_a_reopen() {
    let dir = tempfile::tempdir().unwrap();
    {
        let index = indexed(dir.path(), &corpus());
        // staged but never committed: lost, to be re-applied from seq 6
        let extra = record(
            6,
            "extra",
            1,
            content("en", "FR", "Extra", "Never committed."),
        );
        index.upsert(&extra, 6).unwrap();
    }
    let (index, state) = SearchIndex::open_or_create(dir.path()).unwrap();
    assert_eq!(state, OpenState::Reused);
    assert_eq!(index.last_indexed_seq(), 5);
    assert_eq!(index.record_count(), 5);
    assert_eq!(
        index.commit().unwrap(),
        5,
        "nothing staged, nothing changes"
    );
}

#[test]
fn a_deleted_index_folder_is_rebuilt_empty() {
    let parent = tempfile::tempdir().unwrap();
    let dir = parent.path().join("index");
    drop(indexed(&dir, &corpus()));
    fs::remove_dir_all(&dir).unwrap();
    let (index, state) = SearchIndex::open_or_create(&dir).unwrap();
    assert_eq!(state, OpenState::Fresh);
    assert_eq!(index.last_indexed_seq(), 0);
    assert_eq!(index.record_count(), 0);
    for (seq, record) in corpus().iter().enumerate() {
        index.upsert(record, seq as u64 + 1).unwrap();
    }
    index.commit().unwrap();
    assert_eq!(
        ids(&search(&index, SearchRequest::new("homeless"))),
        vec!["en-sib"]
    );
}

#[test]
fn a_corrupt_index_is_rebuilt() {
    let dir = tempfile::tempdir().unwrap();
    drop(indexed(dir.path(), &corpus()));
    // damage every segment file
    for entry in fs::read_dir(dir.path()).unwrap() {
        let path = entry.unwrap().path();
        let name = path.file_name().unwrap().to_string_lossy().to_string();
        if name.ends_with(".idx") || name.ends_with(".term") || name.ends_with(".store") {
            let mut bytes = fs::read(&path).unwrap();
            let middle = bytes.len() / 2;
            for byte in &mut bytes[middle..] {
                *byte ^= 0x5a;
            }
            fs::write(&path, bytes).unwrap();
        }
    }
    let (index, state) = SearchIndex::open_or_create(dir.path()).unwrap();
    assert!(
        matches!(
            state,
            OpenState::RebuiltBecause(RebuildReason::Corrupt { .. })
        ),
        "{state:?}"
    );
    assert_eq!(index.record_count(), 0);
    assert_eq!(index.last_indexed_seq(), 0);
}

#[test]
fn a_garbled_meta_file_is_rebuilt() {
    let dir = tempfile::tempdir().unwrap();
    drop(indexed(dir.path(), &corpus()));
    fs::write(dir.path().join("meta.json"), b"{ not json").unwrap();
    let (_, state) = SearchIndex::open_or_create(dir.path()).unwrap();
    assert!(matches!(
        state,
        OpenState::RebuiltBecause(RebuildReason::Corrupt { .. })
    ));
}

#[test]
fn an_older_schema_is_rebuilt() {
    let dir = tempfile::tempdir().unwrap();
    drop(indexed(dir.path(), &corpus()));
    fs::write(
        dir.path().join("seednet-search-schema"),
        "seednet-search schema 0",
    )
    .unwrap();
    let (index, state) = SearchIndex::open_or_create(dir.path()).unwrap();
    assert!(matches!(
        state,
        OpenState::RebuiltBecause(RebuildReason::SchemaChanged { .. })
    ));
    assert_eq!(index.record_count(), 0);
}

#[test]
fn a_foreign_folder_is_never_wiped() {
    let dir = tempfile::tempdir().unwrap();
    fs::write(dir.path().join("notes.txt"), "precious").unwrap();
    assert!(SearchIndex::open_or_create(dir.path()).is_err());
    assert!(dir.path().join("notes.txt").exists());
}

#[test]
fn paging_is_stable_and_ties_are_deterministic() {
    let dir = tempfile::tempdir().unwrap();
    let records: Vec<Record> = (0..30)
        .map(|n| {
            record(
                7,
                &format!("same-{n:02}"),
                1,
                content("en", "FR", "Identical title", "Identical summary."),
            )
        })
        .collect();
    let index = indexed(dir.path(), &records);
    let first = params(&index, &[("q", "identical"), ("limit", "10")]);
    let again = params(&index, &[("q", "identical"), ("limit", "10")]);
    assert_eq!(ids(&first), ids(&again));
    let second = params(
        &index,
        &[("q", "identical"), ("limit", "10"), ("offset", "10")],
    );
    assert_eq!(first.total, 30);
    assert!(ids(&first).iter().all(|id| !ids(&second).contains(id)));
    // a rebuilt index gives the same order
    let other_dir = tempfile::tempdir().unwrap();
    let mut reversed = records.clone();
    reversed.reverse();
    let rebuilt = indexed(other_dir.path(), &reversed);
    assert_eq!(
        ids(&params(&rebuilt, &[("q", "identical"), ("limit", "10")])),
        ids(&first)
    );
}

#[test]
fn translations_are_searchable_under_their_language() {
    let dir = tempfile::tempdir().unwrap();
    let mut with_translation = content("it", "IT", "Sportello unico", "Un solo sportello.");
    with_translation.translations = BTreeMap::from([(
        LanguageTag::parse("sl").unwrap(),
        Translation {
            title: "Enotna vstopna točka".into(),
            summary: "Ena sama vstopna točka za občane.".into(),
            body: None,
            provenance: Provenance::Machine,
            reviewed: false,
        },
    )]);
    let index = indexed(dir.path(), &[record(8, "it-one-stop", 1, with_translation)]);
    let response = search(&index, SearchRequest::new("vstopne točke"));
    assert_eq!(ids(&response), vec!["it-one-stop"]);
    assert_eq!(
        response.hits[0].matched_via,
        vec![MatchedVia::Translation { lang: "sl".into() }]
    );
    assert!(
        response.hits[0].snippet.to_html().contains("<mark>"),
        "{}",
        response.hits[0].snippet.to_html()
    );
}

#[test]
fn records_remove_by_key_even_if_never_indexed() {
    let dir = tempfile::tempdir().unwrap();
    let index = indexed(dir.path(), &corpus());
    let key = RecordKey {
        origin: test_key(9).node_id(),
        id: "unknown".parse().unwrap(),
    };
    index.remove(&key, 6).unwrap();
    assert_eq!(index.commit().unwrap(), 6);
    assert_eq!(index.record_count(), 5);
}

#[test]
fn a_greek_query_finds_an_italian_record_through_a_concept() {
    let dir = tempfile::tempdir().unwrap();
    let mut italian = content(
        "it",
        "IT",
        "Il bilancio partecipativo di Bari",
        "I cittadini decidono come spendere una parte del bilancio comunale.",
    );
    italian.body = "Nel 2022 il Comune ha avviato il bilancio partecipativo nei quartieri.".into();
    let index = indexed(dir.path(), &[record(1, "it-bari", 1, italian)]);
    let response = search(&index, SearchRequest::new("συμμετοχικός προϋπολογισμός"));
    assert_eq!(response.query.lang.as_deref(), Some("el"));
    assert!(response.query.lang_detected);
    assert_eq!(ids(&response), vec!["it-bari"]);
    let hit = &response.hits[0];
    assert!(hit.matched_via.contains(&MatchedVia::Concept {
        concept: "method:participatory-budgeting".into()
    }));
    assert!(!hit.matched_via.contains(&MatchedVia::Text));
    // the concept's term in the record's own language is what is marked
    assert!(
        hit.snippet
            .to_html()
            .contains("<mark>bilancio partecipativo</mark>"),
        "{}",
        hit.snippet.to_html()
    );
}

#[test]
fn a_country_named_in_the_query_boosts_without_filtering() {
    let dir = tempfile::tempdir().unwrap();
    // the same English text published in Italy and in Romania: only the
    // country named in the query can tell them apart
    let twin = |country: &str| {
        let mut twin = content(
            "en",
            country,
            "Impact evaluation of employment programmes",
            "A counterfactual impact evaluation of measures funded by the ESF+.",
        );
        twin.themes = vec![Theme::ImpactEvaluation];
        twin
    };
    let mut records = corpus();
    records.push(record(1, "it-eval", 1, twin("IT")));
    records.push(record(3, "ro-eval", 1, twin("RO")));
    let index = indexed(dir.path(), &records);
    for q in ["impact evaluation Romania", "valutazione d'impatto Romania"] {
        let response = search(&index, SearchRequest::new(q));
        assert!(response.query.concepts.contains(&"country:RO".to_string()));
        assert!(response
            .query
            .concepts
            .contains(&"theme:impact-evaluation".to_string()));
        let found = ids(&response);
        assert_eq!(found[0], "ro-eval", "{q}: {found:?}");
        assert!(
            found.contains(&"it-eval".to_string()),
            "{q}: a boost, not a filter"
        );
    }
}

#[test]
fn a_request_over_a_limit_is_refused_with_its_parameter() {
    let dir = tempfile::tempdir().unwrap();
    let index = indexed(dir.path(), &corpus());
    let mut request = SearchRequest::new("co-design");
    request.limit = seednet_search::LIMIT_MAX + 1;
    assert_eq!(index.search(&request).unwrap_err().field(), Some("limit"));
    request.limit = 10;
    request.offset = seednet_search::OFFSET_MAX + 1;
    assert_eq!(index.search(&request).unwrap_err().field(), Some("offset"));
}

#[test]
fn an_index_in_use_is_refused_not_wiped() {
    let dir = tempfile::tempdir().unwrap();
    let index = indexed(dir.path(), &corpus());
    let second = SearchIndex::open_or_create(dir.path());
    assert!(
        matches!(second, Err(seednet_search::SearchError::Locked { .. })),
        "{:?}",
        second.err()
    );
    // the first one still has everything
    assert_eq!(index.record_count(), 5);
    assert_eq!(
        ids(&search(&index, SearchRequest::new("homeless"))),
        vec!["en-sib"]
    );
}

#[test]
fn a_croatian_record_is_found_through_the_generic_chain() {
    let dir = tempfile::tempdir().unwrap();
    let croatian = content(
        "hr",
        "HR",
        "Društvene inovacije u lokalnim zajednicama",
        "Centar kompetencija podržava općine u razvoju društvenih inovacija.",
    );
    let index = indexed(dir.path(), &[record(9, "hr-centre", 1, croatian)]);
    for q in ["društvene inovacije", "drustvene inovacije", "OPĆINE"] {
        let response = params(&index, &[("q", q), ("query_lang", "hr")]);
        assert_eq!(ids(&response), vec!["hr-centre"], "{q}");
        assert!(response.hits[0].matched_via.contains(&MatchedVia::Text));
    }
    check(&index, &[("lang", "hr")], &["hr-centre"]);
}

#[test]
fn searches_run_while_another_thread_indexes() {
    let dir = tempfile::tempdir().unwrap();
    let index = std::sync::Arc::new(indexed(dir.path(), &corpus()));
    let writer = {
        let index = std::sync::Arc::clone(&index);
        std::thread::spawn(move || {
            for n in 0..200u64 {
                let extra = record(
                    6,
                    &format!("extra-{n}"),
                    1,
                    content(
                        "en",
                        "FR",
                        "Community kitchens",
                        "Shared meals in the neighbourhood.",
                    ),
                );
                index.upsert(&extra, 6 + n).unwrap();
                if n % 20 == 19 {
                    index.commit().unwrap();
                }
            }
            index.commit().unwrap();
        })
    };
    for _ in 0..50 {
        let response = search(&index, SearchRequest::new("homeless"));
        assert_eq!(ids(&response).first().map(String::as_str), Some("en-sib"));
    }
    writer.join().unwrap();
    assert_eq!(index.record_count(), 205);
    assert_eq!(index.last_indexed_seq(), 205);
    assert_eq!(params(&index, &[("q", "community kitchens")]).total, 200);
}

#[test]
fn the_plain_text_rendering_shows_hits_and_facets() {
    let dir = tempfile::tempdir().unwrap();
    let index = indexed(dir.path(), &corpus());
    let text = search(&index, SearchRequest::new("homeless")).to_plain_text();
    assert!(text.starts_with("1 records"), "{text}");
    assert!(
        text.contains("1. Social impact bonds <for> homeless services & housing"),
        "{text}"
    );
    assert!(text.contains("*homeless*"), "{text}");
    assert!(text.contains("matched via: text"), "{text}");
    assert!(text.contains("country: IE (1)"), "{text}");
    assert!(!text.contains("<mark>"));
}

#[test]
fn the_best_record_of_each_language_competes_with_the_query_language() {
    // Six Italian records share the query's own words; the one Greek record
    // on the same practice matches only through the concept. Ranked by raw
    // BM25 it would come after every Italian one; ranked against the best
    // hit of its own language, it reaches the first page of three.
    let dir = tempfile::tempdir().unwrap();
    let mut records: Vec<Record> = (0..6)
        .map(|n| {
            // the first names the practice in its title and summary, the
            // others in passing
            let (title, summary) = if n == 0 {
                (
                    "Bilancio partecipativo nel quartiere".to_string(),
                    "Il bilancio partecipativo del quartiere: assemblee, proposte e voto sul bilancio partecipativo.".to_string(),
                )
            } else {
                (
                    format!("Servizi di prossimità nel quartiere {n}"),
                    "Sportelli di quartiere per famiglie, con un cenno al bilancio partecipativo.".to_string(),
                )
            };
            record(1, &format!("it-{n}"), 1, content("it", "IT", &title, &summary))
        })
        .collect();
    records.push(record(
        2,
        "el-patra",
        1,
        content(
            "el",
            "GR",
            "Συμμετοχικός προϋπολογισμός στην Πάτρα",
            "Οι κάτοικοι της Πάτρας ψηφίζουν για έργα της γειτονιάς τους.",
        ),
    ));
    let index = indexed(dir.path(), &records);
    let mut request = SearchRequest::new("bilancio partecipativo");
    request.limit = 3;
    let response = search(&index, request);
    assert!(
        ids(&response).contains(&"el-patra".to_string()),
        "{:?}",
        ids(&response)
    );
    assert_eq!(response.total, 7);
}

#[test]
fn a_query_naming_a_family_of_methods_finds_a_record_naming_one_of_them() {
    // The record names a randomised trial; the query asks for
    // counterfactual evaluation, the family it belongs to.
    let dir = tempfile::tempdir().unwrap();
    let trial = content(
        "ro",
        "RO",
        "Studiu randomizat privind consilierea pentru ocuparea forței de muncă",
        "Un studiu randomizat controlat a comparat două grupuri de șomeri din Iași.",
    );
    let index = indexed(dir.path(), &[record(3, "ro-trial", 1, trial)]);
    let response = search(&index, SearchRequest::new("counterfactual evaluation"));
    assert_eq!(ids(&response), vec!["ro-trial"], "{response:?}");
    assert!(
        response.hits[0]
            .matched_via
            .contains(&MatchedVia::NarrowerConcept {
                concept: "method:randomised-controlled-trial".into(),
                broader: "method:counterfactual-evaluation".into(),
            }),
        "{:?}",
        response.hits[0].matched_via
    );
    assert!(
        response.hits[0].snippet.to_html().contains("<mark>"),
        "{}",
        response.hits[0].snippet.to_html()
    );
}

#[test]
fn snippets_show_the_words_of_markdown_not_its_marks() {
    let dir = tempfile::tempdir().unwrap();
    let mut italian = content(
        "it",
        "IT",
        "Laboratorio di quartiere",
        "Un laboratorio per i residenti.",
    );
    italian.body = "**Come lavora**\n\n- sessioni di *co-progettazione* con i residenti;\n- [mappe](https://example.org) dei servizi.".into();
    let index = indexed(dir.path(), &[record(1, "it-lab", 1, italian)]);
    let response = search(&index, SearchRequest::new("mappe servizi"));
    let snippet = response.hits[0].snippet.to_plain("");
    assert!(
        !snippet.contains('*') && !snippet.contains("](") && !snippet.contains("- "),
        "{snippet}"
    );
    assert!(snippet.contains("mappe dei servizi"), "{snippet}");
}
