//! The slugs of the content's small closed vocabularies that the protocol
//! crate names only through serde (relation types, translation provenance,
//! funding sources), as the form's select and radio values.
//!
//! Why here and not through serde at every use: the form needs both
//! directions for every value, cheaply, while rendering. A test checks each
//! slug against the protocol's JSON, so they cannot drift apart.

use seednet_protocol::{FundingSource, Provenance, RelationType};

/// Every relation type, in the order the form offers them.
pub const RELATION_TYPES: [RelationType; 4] = [
    RelationType::AdaptedFrom,
    RelationType::Related,
    RelationType::Replaces,
    RelationType::PartOf,
];

pub const PROVENANCES: [Provenance; 2] = [Provenance::Human, Provenance::Machine];

pub const FUNDING_SOURCES: [FundingSource; 7] = [
    FundingSource::EsfPlus,
    FundingSource::Easi,
    FundingSource::Erdf,
    FundingSource::National,
    FundingSource::Regional,
    FundingSource::Private,
    FundingSource::Other,
];

/// The JSON name of a relation type (`adapted_from`).
pub fn relation_slug(relation_type: RelationType) -> &'static str {
    match relation_type {
        RelationType::AdaptedFrom => "adapted_from",
        RelationType::Related => "related",
        RelationType::Replaces => "replaces",
        RelationType::PartOf => "part_of",
    }
}

pub fn provenance_slug(provenance: Provenance) -> &'static str {
    match provenance {
        Provenance::Human => "human",
        Provenance::Machine => "machine",
    }
}

/// The JSON name of a funding source (`esf-plus`).
pub fn funding_slug(source: FundingSource) -> &'static str {
    match source {
        FundingSource::EsfPlus => "esf-plus",
        FundingSource::Easi => "easi",
        FundingSource::Erdf => "erdf",
        FundingSource::National => "national",
        FundingSource::Regional => "regional",
        FundingSource::Private => "private",
        FundingSource::Other => "other",
    }
}

fn parse<T: Copy>(all: &[T], slug_of: fn(T) -> &'static str, text: &str) -> Option<T> {
    let text = text.trim();
    all.iter().copied().find(|value| slug_of(*value) == text)
}

pub fn parse_relation(text: &str) -> Option<RelationType> {
    parse(&RELATION_TYPES, relation_slug, text)
}

pub fn parse_provenance(text: &str) -> Option<Provenance> {
    parse(&PROVENANCES, provenance_slug, text)
}

pub fn parse_funding(text: &str) -> Option<FundingSource> {
    parse(&FUNDING_SOURCES, funding_slug, text)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn json_name<T: serde::Serialize>(value: T) -> String {
        serde_json::to_value(value)
            .unwrap()
            .as_str()
            .unwrap()
            .to_string()
    }

    #[test]
    fn slugs_are_the_protocol_json_names_both_ways() {
        for value in RELATION_TYPES {
            assert_eq!(relation_slug(value), json_name(value));
            assert_eq!(parse_relation(relation_slug(value)), Some(value));
        }
        for value in PROVENANCES {
            assert_eq!(provenance_slug(value), json_name(value));
            assert_eq!(parse_provenance(provenance_slug(value)), Some(value));
        }
        for value in FUNDING_SOURCES {
            assert_eq!(funding_slug(value), json_name(value));
            assert_eq!(parse_funding(funding_slug(value)), Some(value));
        }
        assert_eq!(parse_funding("ESF+"), None);
        assert_eq!(parse_relation(""), None);
    }
}
