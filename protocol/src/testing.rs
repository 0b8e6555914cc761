//! Sample keys and records for tests and benchmarks (feature `testing`).

use std::collections::BTreeMap;

use crate::content::{Funding, FundingSource, Organisation, RecordContent, Sections};
use crate::identity::NodeKey;
use crate::key::{RecordId, RecordKey};
use crate::record::{Record, RecordBody};
use crate::signed::Signed;
use crate::timestamp::Timestamp;
use crate::vocab::{CountryCode, Kind, LanguageTag, TargetGroup, Theme};

/// A deterministic key: the seed is 32 copies of `n`.
pub fn test_key(n: u8) -> NodeKey {
    NodeKey::from_seed([n; 32])
}

/// A small valid record content in `lang` with the given title.
pub fn sample_content(lang: &str, country: &str, title: &str) -> RecordContent {
    RecordContent {
        kind: Kind::Practice,
        lang: LanguageTag::parse(lang).expect("valid language"),
        title: title.to_string(),
        summary: format!("Summary of {title}"),
        body: format!("Body of {title}.\n\nSecond paragraph."),
        sections: Sections::default(),
        translations: BTreeMap::new(),
        themes: vec![Theme::CoDesign],
        country: CountryCode::parse(country).expect("valid country"),
        region: None,
        target_groups: vec![TargetGroup::Youth],
        target_group_tags: Vec::new(),
        sdgs: vec![11],
        funding: vec![Funding {
            source: FundingSource::EsfPlus,
            programme: None,
        }],
        organisations: vec![Organisation {
            name: "Test organisation".into(),
            role: "lead".into(),
            url: None,
        }],
        contact: None,
        year_start: 2022,
        year_end: None,
        links: Vec::new(),
        license: crate::content::DEFAULT_LICENSE.into(),
        tags: Vec::new(),
        relations: Vec::new(),
    }
}

/// Signs `content` as version `version` of record `id` by `key`.
pub fn sign_sample(
    key: &NodeKey,
    id: &str,
    version: u64,
    content: RecordContent,
) -> Signed<Record> {
    let record = Record {
        key: RecordKey {
            origin: key.node_id(),
            id: RecordId::parse(id).expect("valid id"),
        },
        version,
        signed_at: Timestamp::from_unix_seconds(1_767_225_600).expect("valid time"),
        body: RecordBody::Live(Box::new(content)),
    };
    Signed::sign(key, record).expect("sample record signs")
}
