//! Controlled vocabularies: record kinds, the ten competence areas (themes) of
//! the SEED Competence Centres, target groups, language tags and countries.
//!
//! Slugs are part of the protocol and never change; a new value is added at the
//! end of a list, and `docs/PROTOCOL.md` lists them all.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// Declares a closed vocabulary: an enum, its slugs, `ALL`, `as_str` and parsing.
/// Each variant's documentation ends with its slug.
macro_rules! vocabulary {
    ($(#[$meta:meta])* $name:ident {
        $($(#[$variant_meta:meta])* $variant:ident => $slug:literal),+ $(,)?
    }) => {
        $(#[$meta])*
        ///
        /// The text form (JSON, [`Display`](fmt::Display), [`FromStr`]) is the
        /// variant's slug; parsing anything else fails with [`UnknownSlug`].
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub enum $name {
            $(
                $(#[$variant_meta])*
                #[doc = ""]
                #[doc = concat!("Slug `", $slug, "`.")]
                $variant
            ),+
        }

        impl $name {
            /// Every value, in the order of `docs/PROTOCOL.md` (also the
            /// order of [`Ord`]).
            pub const ALL: &'static [$name] = &[$($name::$variant),+];

            /// The slug, as on the wire.
            pub fn as_str(&self) -> &'static str {
                match self { $($name::$variant => $slug),+ }
            }
        }

        impl FromStr for $name {
            type Err = UnknownSlug;
            fn from_str(text: &str) -> Result<Self, Self::Err> {
                match text {
                    $($slug => Ok($name::$variant),)+
                    _ => Err(UnknownSlug {
                        vocabulary: stringify!($name),
                        value: text.to_string(),
                        expected: &[$($slug),+],
                    }),
                }
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl Serialize for $name {
            fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
                serializer.serialize_str(self.as_str())
            }
        }

        impl<'de> Deserialize<'de> for $name {
            fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
                let text = String::deserialize(deserializer)?;
                text.parse().map_err(serde::de::Error::custom)
            }
        }
    };
}

/// A value outside a closed vocabulary.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown {vocabulary} {value:?}, expected one of: {}", expected.join(", "))]
pub struct UnknownSlug {
    /// The vocabulary's type name, e.g. `Theme`.
    pub vocabulary: &'static str,
    /// The text that was refused, as given.
    pub value: String,
    /// Every valid slug of the vocabulary, in order.
    pub expected: &'static [&'static str],
}

vocabulary! {
    /// What sort of knowledge a record holds.
    Kind {
        Practice => "practice",
        Methodology => "methodology",
        Tool => "tool",
        CaseStudy => "case_study",
        PolicyLabProject => "policy_lab_project",
    }
}

vocabulary! {
    /// The ten competence areas of the SEED Competence Centres.
    Theme {
        ParticipatoryLocalDevelopment => "participatory-local-development",
        ParticipatoryFacilitation => "participatory-facilitation",
        CompetenceTransfer => "competence-transfer",
        ScalingUp => "scaling-up",
        /// Reorganisation of public administration.
        PaReorganisation => "pa-reorganisation",
        ImpactFinance => "impact-finance",
        ResearchMapping => "research-mapping",
        ImpactEvaluation => "impact-evaluation",
        ExperimentationValidation => "experimentation-validation",
        CoDesign => "co-design",
    }
}

vocabulary! {
    /// Controlled target groups; free-text groups go to `target_group_tags`.
    TargetGroup {
        Youth => "youth",
        /// Young people not in employment, education or training.
        Neet => "neet",
        ChildrenFamilies => "children-families",
        OlderPeople => "older-people",
        PeopleWithDisabilities => "people-with-disabilities",
        MigrantsRefugees => "migrants-refugees",
        Roma => "roma",
        LongTermUnemployed => "long-term-unemployed",
        Women => "women",
        LowIncomeHouseholds => "low-income-households",
        Homeless => "homeless",
        RuralCommunities => "rural-communities",
        CivilServants => "civil-servants",
        SocialEconomyOrganisations => "social-economy-organisations",
    }
}

/// A BCP 47 primary language subtag: 2 or 3 lowercase ASCII letters.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(transparent)]
pub struct LanguageTag(String);

impl LanguageTag {
    /// The tag, or `None` unless `text` is 2 or 3 lowercase ASCII letters.
    /// Any such tag is accepted, not only assigned ones (`hr`, `fil`).
    pub fn parse(text: &str) -> Option<Self> {
        let valid = (2..=3).contains(&text.len()) && text.bytes().all(|b| b.is_ascii_lowercase());
        valid.then(|| LanguageTag(text.to_string()))
    }

    /// The tag as text, e.g. `it`.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for LanguageTag {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl<'de> Deserialize<'de> for LanguageTag {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        LanguageTag::parse(&text).ok_or_else(|| {
            serde::de::Error::custom(format!(
                "{text:?} is not a language tag (2 or 3 lowercase letters, e.g. it, el, ro, sl, en, hr)"
            ))
        })
    }
}

/// All officially assigned ISO 3166-1 alpha-2 codes.
const ISO_3166_ALPHA2: &str = "AD AE AF AG AI AL AM AO AQ AR AS AT AU AW AX AZ BA BB BD BE BF BG BH BI BJ BL BM BN BO BQ BR BS BT BV BW BY BZ CA CC CD CF CG CH CI CK CL CM CN CO CR CU CV CW CX CY CZ DE DJ DK DM DO DZ EC EE EG EH ER ES ET FI FJ FK FM FO FR GA GB GD GE GF GG GH GI GL GM GN GP GQ GR GS GT GU GW GY HK HM HN HR HT HU ID IE IL IM IN IO IQ IR IS IT JE JM JO JP KE KG KH KI KM KN KP KR KW KY KZ LA LB LC LI LK LR LS LT LU LV LY MA MC MD ME MF MG MH MK ML MM MN MO MP MQ MR MS MT MU MV MW MX MY MZ NA NC NE NF NG NI NL NO NP NR NU NZ OM PA PE PF PG PH PK PL PM PN PR PS PT PW PY QA RE RO RS RU RW SA SB SC SD SE SG SH SI SJ SK SL SM SN SO SR SS ST SV SX SY SZ TC TD TF TG TH TJ TK TL TM TN TO TR TT TV TW TZ UA UG UM US UY UZ VA VC VE VG VI VN VU WF WS YE YT ZA ZM ZW";

/// An ISO 3166-1 alpha-2 country code (upper case, officially assigned).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct CountryCode([u8; 2]);

impl CountryCode {
    /// The code, or `None` unless `text` is an officially assigned code in
    /// upper case (`IT`; not `it`, not the unassigned `XX`).
    pub fn parse(text: &str) -> Option<Self> {
        let bytes = text.as_bytes();
        let assigned = bytes.len() == 2
            && bytes.iter().all(u8::is_ascii_uppercase)
            && ISO_3166_ALPHA2.split(' ').any(|code| code == text);
        assigned.then(|| CountryCode([bytes[0], bytes[1]]))
    }

    /// The code as text, e.g. `IT`.
    pub fn as_str(&self) -> &str {
        std::str::from_utf8(&self.0).expect("country codes are ASCII")
    }
}

impl fmt::Display for CountryCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl Serialize for CountryCode {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.as_str())
    }
}

impl<'de> Deserialize<'de> for CountryCode {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        CountryCode::parse(&text).ok_or_else(|| {
            serde::de::Error::custom(format!(
                "{text:?} is not an ISO 3166-1 alpha-2 country code (upper case, e.g. IT, GR, RO, SI)"
            ))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slugs_round_trip() {
        for theme in Theme::ALL {
            assert_eq!(theme.as_str().parse::<Theme>().unwrap(), *theme);
        }
        assert_eq!(Theme::ALL.len(), 10);
        assert!("co_design".parse::<Theme>().is_err());
        assert_eq!("case_study".parse::<Kind>().unwrap(), Kind::CaseStudy);
    }

    #[test]
    fn languages_and_countries() {
        assert!(LanguageTag::parse("hr").is_some());
        assert!(LanguageTag::parse("fil").is_some());
        assert!(LanguageTag::parse("EN").is_none());
        assert!(LanguageTag::parse("en-GB").is_none());
        assert!(CountryCode::parse("SI").is_some());
        assert!(CountryCode::parse("XX").is_none());
        assert!(CountryCode::parse("it").is_none());
    }
}
