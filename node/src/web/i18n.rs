//! Interface strings in the five languages of the SEED centres.
//!
//! One TOML catalogue per language (`i18n/<code>.toml`, flat `key = "text"`),
//! compiled into the binary. English is the reference: a test checks that
//! every catalogue has exactly its keys. Placeholders are written `{name}`.
//!
//! The interface language is, in order: the `seednet_lang` cookie set by the
//! language switcher, the best match in `Accept-Language`, English. Record
//! text is never translated by this module.

use std::collections::HashMap;
use std::sync::LazyLock;

/// A language of the interface.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum UiLang {
    En,
    It,
    El,
    Ro,
    Sl,
}

/// The most `Accept-Language` entries examined.
pub const ACCEPT_LANGUAGE_ENTRIES_MAX: usize = 32;

impl UiLang {
    pub const ALL: [UiLang; 5] = [UiLang::En, UiLang::It, UiLang::El, UiLang::Ro, UiLang::Sl];

    pub fn code(self) -> &'static str {
        match self {
            UiLang::En => "en",
            UiLang::It => "it",
            UiLang::El => "el",
            UiLang::Ro => "ro",
            UiLang::Sl => "sl",
        }
    }

    /// The language's name in itself, for the switcher.
    pub fn endonym(self) -> &'static str {
        match self {
            UiLang::En => "English",
            UiLang::It => "Italiano",
            UiLang::El => "Ελληνικά",
            UiLang::Ro => "Română",
            UiLang::Sl => "Slovenščina",
        }
    }

    pub fn from_code(code: &str) -> Option<UiLang> {
        UiLang::ALL
            .into_iter()
            .find(|lang| lang.code().eq_ignore_ascii_case(code))
    }

    fn source(self) -> &'static str {
        match self {
            UiLang::En => include_str!("i18n/en.toml"),
            UiLang::It => include_str!("i18n/it.toml"),
            UiLang::El => include_str!("i18n/el.toml"),
            UiLang::Ro => include_str!("i18n/ro.toml"),
            UiLang::Sl => include_str!("i18n/sl.toml"),
        }
    }

    /// The interface string for `key`. Falls back to English, then to the key
    /// itself (a test keeps every catalogue complete, so this is a last resort).
    pub fn t(self, key: &str) -> &'static str {
        let catalogues = &*CATALOGUES;
        if let Some(text) = catalogues[&self].get(key) {
            return text;
        }
        debug_assert!(
            catalogues[&UiLang::En].contains_key(key),
            "interface string {key:?} is missing from i18n/en.toml"
        );
        catalogues[&UiLang::En]
            .get(key)
            .map(String::as_str)
            .unwrap_or("??")
    }

    /// Like [`UiLang::t`], with `{name}` placeholders replaced.
    pub fn tf(self, key: &str, args: &[(&str, &str)]) -> String {
        let mut text = self.t(key).to_string();
        for (name, value) in args {
            text = text.replace(&format!("{{{name}}}"), value);
        }
        text
    }

    /// Like [`UiLang::t`] for an optional key: `None` when English lacks it.
    pub fn try_t(self, key: &str) -> Option<&'static str> {
        let catalogues = &*CATALOGUES;
        catalogues[&UiLang::En].get(key)?;
        Some(self.t(key))
    }

    /// The best interface language for an `Accept-Language` header value.
    pub fn negotiate(accept_language: &str) -> Option<UiLang> {
        let mut ranked: Vec<(u16, usize, UiLang)> = Vec::new();
        for (position, entry) in accept_language
            .split(',')
            .take(ACCEPT_LANGUAGE_ENTRIES_MAX)
            .enumerate()
        {
            let mut parts = entry.trim().split(';');
            let tag = parts.next().unwrap_or("").trim();
            let primary = tag.split('-').next().unwrap_or("");
            let quality = parts
                .find_map(|part| part.trim().strip_prefix("q="))
                .and_then(|q| q.trim().parse::<f32>().ok())
                .unwrap_or(1.0);
            if let Some(lang) = UiLang::from_code(primary) {
                if quality > 0.0 {
                    let quality_permille = (quality.clamp(0.0, 1.0) * 1000.0) as u16;
                    ranked.push((quality_permille, position, lang));
                }
            }
        }
        ranked.sort_by(|a, b| b.0.cmp(&a.0).then(a.1.cmp(&b.1)));
        ranked.first().map(|(_, _, lang)| *lang)
    }
}

type Catalogue = HashMap<String, String>;

static CATALOGUES: LazyLock<HashMap<UiLang, Catalogue>> = LazyLock::new(|| {
    UiLang::ALL
        .into_iter()
        .map(|lang| (lang, parse_catalogue(lang)))
        .collect()
});

fn parse_catalogue(lang: UiLang) -> Catalogue {
    // The catalogues are compiled in and checked by tests, so a parse error is
    // a programming error, not an operating one.
    toml::from_str::<Catalogue>(lang.source()).unwrap_or_else(|error| {
        panic!(
            "i18n/{}.toml is not a flat TOML table: {error}",
            lang.code()
        )
    })
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use super::*;

    #[test]
    fn every_catalogue_has_exactly_the_english_keys() {
        let english: BTreeSet<&String> = CATALOGUES[&UiLang::En].keys().collect();
        assert!(english.len() > 100, "the English catalogue looks truncated");
        for lang in UiLang::ALL {
            let keys: BTreeSet<&String> = CATALOGUES[&lang].keys().collect();
            let missing: Vec<_> = english.difference(&keys).collect();
            let extra: Vec<_> = keys.difference(&english).collect();
            assert!(
                missing.is_empty() && extra.is_empty(),
                "i18n/{}.toml: missing {missing:?}, unknown {extra:?}",
                lang.code()
            );
            for (key, text) in &CATALOGUES[&lang] {
                assert!(!text.trim().is_empty(), "{}: {key} is empty", lang.code());
            }
        }
    }

    #[test]
    fn placeholders_match_english_in_every_language() {
        let placeholders = |text: &str| -> BTreeSet<String> {
            text.split('{')
                .skip(1)
                .filter_map(|rest| rest.split_once('}').map(|(name, _)| name.to_string()))
                .collect()
        };
        for (key, english) in &CATALOGUES[&UiLang::En] {
            for lang in UiLang::ALL {
                assert_eq!(
                    placeholders(english),
                    placeholders(lang.t(key)),
                    "{}: placeholders of {key} differ from English",
                    lang.code()
                );
            }
        }
    }

    #[test]
    fn accept_language_picks_the_best_supported_language() {
        assert_eq!(
            UiLang::negotiate("el-GR,el;q=0.9,en;q=0.8"),
            Some(UiLang::El)
        );
        assert_eq!(
            UiLang::negotiate("de-DE, ro;q=0.5, it;q=0.7"),
            Some(UiLang::It)
        );
        assert_eq!(UiLang::negotiate("sl"), Some(UiLang::Sl));
        assert_eq!(UiLang::negotiate("de, fr"), None);
        assert_eq!(UiLang::negotiate("it;q=0, en"), Some(UiLang::En));
        assert_eq!(UiLang::negotiate(""), None);
    }

    #[test]
    fn interface_strings_are_translated_and_filled() {
        assert_eq!(UiLang::En.t("nav.search"), "Search");
        assert_ne!(UiLang::El.t("nav.search"), UiLang::En.t("nav.search"));
        assert_eq!(UiLang::En.tf("record.version", &[("n", "7")]), "Version 7");
    }
}
