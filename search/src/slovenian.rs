//! A light suffix stripper for Slovenian.
//!
//! No Slovenian stemmer exists in Snowball, Lucene or any Rust crate we found,
//! and Slovenian inflects nouns and adjectives in six cases and three numbers,
//! so "digitalne veščine", "digitalnih veščin" and "digitalnimi veščinami" must
//! meet. A full morphological analyser needs a lexicon; a *light* stemmer
//! removes one inflectional ending and nothing derivational, which is the
//! approach that works best for other Slavic languages in the retrieval
//! literature (light stemmers for Czech, Bulgarian and Croatian keep most of
//! the gain of an aggressive stemmer with far fewer wrong conflations).
//!
//! The rule: remove the longest ending of [`ENDINGS`] whose removal leaves at
//! least [`STEM_CHARS_MIN`] characters; then, if the result ends in a vowel
//! that is itself an ending (`a e i o u`) and the stem stays long enough,
//! remove that too (so `-anje`/`-anja`/`-anju` verbal nouns and their bases
//! meet). Words of [`STEM_CHARS_MIN`] characters or fewer stay untouched.
//! Its measured effect on the labelled set is in `docs/SEARCH.md`.

/// A stem keeps at least this many characters.
pub const STEM_CHARS_MIN: usize = 4;

/// Inflectional endings, longest first within the list order that matters
/// (the longest matching one wins anyway).
pub const ENDINGS: &[&str] = &[
    // verbal nouns and their cases
    "anjem", "enjem", "anjih", "enjih", "anja", "enja", "anje", "enje", "anju", "enju",
    // adjectives (definite/indefinite, all cases)
    "ejšega", "ejšemu", "ejših", "ejšim", "ega", "emu", "ima", "imi", "ih", "im", "ja", "ji", "jo",
    "je", "ju", // soft-stem nouns (inovacija, inovacije, inovacijo, inovaciji)
    // nouns
    "ama", "ami", "ah", "om", "em", "ov", "ev", "oma", "ema", "ovi", "evi", "ovih", "evih",
    "ij", // infinitive and present tense
    "ati", "iti", "eti", "ajo", "ejo", "amo", "emo", "imo", "ate", "ete", "ite", "aš", "eš", "iš",
    "am", // single vowels last
    "a", "e", "i", "o", "u",
];

/// Stems `word` (already lowercased and NFC) and returns the stem.
pub fn stem(word: &str) -> String {
    let chars = word.chars().count();
    if chars <= STEM_CHARS_MIN {
        return word.to_string();
    }
    let first = strip_longest(word).unwrap_or(word);
    let second = match first.chars().last() {
        Some('a' | 'e' | 'i' | 'o' | 'u') if first.len() < word.len() => {
            strip_vowel(first).unwrap_or(first)
        }
        _ => first,
    };
    second.to_string()
}

fn strip_longest(word: &str) -> Option<&str> {
    ENDINGS
        .iter()
        .filter(|ending| word.ends_with(*ending))
        .map(|ending| &word[..word.len() - ending.len()])
        .filter(|stem| stem.chars().count() >= STEM_CHARS_MIN)
        .min_by_key(|stem| stem.len())
}

fn strip_vowel(word: &str) -> Option<&str> {
    let last = word.chars().last()?;
    let stem = &word[..word.len() - last.len_utf8()];
    (stem.chars().count() >= STEM_CHARS_MIN).then_some(stem)
}

/// The token-filter form of [`stem`].
pub fn stem_in_place(token: &mut String) -> bool {
    let stemmed = stem(token);
    *token = stemmed;
    true
}

#[cfg(test)]
mod tests {
    use super::stem;

    /// Each group lists inflected forms that must share one stem.
    fn check_conflates(forms: &[&str]) {
        let stems: Vec<String> = forms.iter().map(|form| stem(form)).collect();
        assert!(
            stems.windows(2).all(|pair| pair[0] == pair[1]),
            "forms {forms:?} gave stems {stems:?}"
        );
    }

    #[test]
    fn noun_and_adjective_cases_conflate() {
        check_conflates(&[
            "digitalne",
            "digitalnih",
            "digitalnimi",
            "digitalna",
            "digitalno",
        ]);
        check_conflates(&["veščine", "veščin", "veščinami", "veščinah", "veščina"]);
        check_conflates(&[
            "inovacija",
            "inovacije",
            "inovacijo",
            "inovaciji",
            "inovacij",
        ]);
        check_conflates(&[
            "socialno",
            "socialne",
            "socialnih",
            "socialnega",
            "socialnemu",
        ]);
        check_conflates(&[
            "vključevanje",
            "vključevanja",
            "vključevanju",
            "vključevanjem",
        ]);
        check_conflates(&["občina", "občine", "občini", "občino", "občinah"]);
    }

    #[test]
    fn different_words_stay_apart() {
        assert_ne!(stem("mladi"), stem("mleko"));
        assert_ne!(stem("občina"), stem("občutek"));
        assert_ne!(stem("podjetje"), stem("podpora"));
    }

    #[test]
    fn short_words_are_untouched() {
        assert_eq!(stem("mala"), "mala");
        assert_eq!(stem("eu"), "eu");
        assert_eq!(stem("esad"), "esad");
    }
}
