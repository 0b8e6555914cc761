//! Text analysis: how a text in a given language becomes index terms.
//!
//! Every chain is a tantivy [`TextAnalyzer`] registered under a name, so the
//! same code analyses records at index time, queries at search time, glossary
//! terms when the concept matcher is built, and texts when snippets are cut.
//! One definition, four uses: a term can only match if both sides went through
//! the identical chain.
//!
//! The chains (see `docs/SEARCH.md` for the reasoning):
//!
//! | language | chain after [`WordTokenizer`] |
//! |---|---|
//! | every language | [`normalize_token`]: NFC, lowercase, Romanian cedilla ş ţ to comma-below ș ț, Greek tonos/dialytika removed and ς to σ; then tokens longer than [`TOKEN_BYTES_MAX`] dropped |
//! | it | stop words (tantivy's Italian list plus elided articles), Snowball Italian |
//! | en | stop words (tantivy's English list), Snowball English |
//! | el | our Greek stop words, Snowball Greek |
//! | ro | our Romanian stop words, Snowball Romanian (fed the cedilla spelling it expects, stem mapped back to comma-below) |
//! | sl | our Slovenian stop words, our light stemmer ([`crate::slovenian`]) |
//! | any other (hr, ...) | generic: normalisation only |
//! | folded (all languages) | normalisation, then every diacritic removed, no stop words, no stemming |
//!
//! The tokenizer keeps combining marks inside words, so text typed in
//! decomposed form (NFD) is one token that [`normalize_token`] then composes.

use std::collections::HashMap;
use std::sync::{Mutex, OnceLock};
use tantivy::tokenizer::{
    Language, RemoveLongFilter, Stemmer, StopWordFilter, TextAnalyzer, Token, TokenFilter,
    TokenStream, Tokenizer, TokenizerManager,
};

use unicode_normalization::char::is_combining_mark;
use unicode_normalization::{is_nfc_quick, IsNormalized, UnicodeNormalization};

use crate::slovenian;

/// Tokens longer than this many bytes (after normalisation) are dropped: they
/// are base64 blobs, URLs glued together or hashes, never words anyone types.
pub const TOKEN_BYTES_MAX: usize = 60;

/// The analysis chains the index knows. A record text whose language is not
/// one of the first-class languages is analysed with [`AnalyzerLang::Generic`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum AnalyzerLang {
    /// Italian: elisions split, Snowball stemmer.
    It,
    /// Greek: final sigma and accents folded, Snowball stemmer.
    El,
    /// Romanian: comma-below and cedilla forms unified, Snowball stemmer.
    Ro,
    /// Slovenian: our light stemmer (`slovenian`).
    Sl,
    /// English: Snowball stemmer.
    En,
    /// Any other language: lowercased and folded, no stemming.
    Generic,
}

impl AnalyzerLang {
    /// Every chain, first-class languages first.
    pub const ALL: [AnalyzerLang; 6] = [
        AnalyzerLang::It,
        AnalyzerLang::El,
        AnalyzerLang::Ro,
        AnalyzerLang::Sl,
        AnalyzerLang::En,
        AnalyzerLang::Generic,
    ];

    /// The chain for a language tag: `it`, `el`, `ro`, `sl`, `en`, anything
    /// else is generic.
    pub fn for_tag(tag: &str) -> AnalyzerLang {
        match tag {
            "it" => AnalyzerLang::It,
            "el" => AnalyzerLang::El,
            "ro" => AnalyzerLang::Ro,
            "sl" => AnalyzerLang::Sl,
            "en" => AnalyzerLang::En,
            _ => AnalyzerLang::Generic,
        }
    }

    /// Short code used in field and tokenizer names (`xx` for generic).
    pub fn code(self) -> &'static str {
        match self {
            AnalyzerLang::It => "it",
            AnalyzerLang::El => "el",
            AnalyzerLang::Ro => "ro",
            AnalyzerLang::Sl => "sl",
            AnalyzerLang::En => "en",
            AnalyzerLang::Generic => "xx",
        }
    }

    /// The name the chain is registered under in the index.
    pub fn tokenizer_name(self) -> String {
        format!("seednet_{}", self.code())
    }
}

/// The languages with their own analysis chain (and glossary terms).
#[cfg(test)]
pub(crate) const FIRST_CLASS: [&str; 5] = ["it", "el", "ro", "sl", "en"];

/// The name of the accent-folded chain.
pub const FOLDED_TOKENIZER: &str = "seednet_folded";

/// Switches that change analysis (and therefore the index): kept in the
/// schema stamp, so changing one rebuilds the index.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct AnalysisConfig {
    /// Apply the Slovenian light stemmer (on by default; off only to measure
    /// its effect).
    pub slovenian_stemmer: bool,
    /// Tag records and queries with glossary concepts (on by default; off
    /// only to measure what the glossary brings).
    pub concepts: bool,
}

impl Default for AnalysisConfig {
    fn default() -> Self {
        AnalysisConfig {
            slovenian_stemmer: true,
            concepts: true,
        }
    }
}

/// The chain for `lang`. Chains are built once per language and config
/// (stop-word sets are hashed at build time) and cloned for each use: a
/// clone shares the stop-word sets.
pub fn analyzer(lang: AnalyzerLang, config: AnalysisConfig) -> TextAnalyzer {
    type Cache = Mutex<HashMap<(AnalyzerLang, AnalysisConfig), TextAnalyzer>>;
    static BUILT: OnceLock<Cache> = OnceLock::new();
    let cache = BUILT.get_or_init(|| Mutex::new(HashMap::new()));
    let mut built = cache
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner());
    built
        .entry((lang, config))
        .or_insert_with(|| build_analyzer(lang, config))
        .clone()
}

fn build_analyzer(lang: AnalyzerLang, config: AnalysisConfig) -> TextAnalyzer {
    let base = TextAnalyzer::builder(WordTokenizer)
        .filter(MapTokens(normalize_token))
        .filter(RemoveLongFilter::limit(TOKEN_BYTES_MAX))
        .dynamic();
    match lang {
        AnalyzerLang::It => base
            .filter_dynamic(StopWordFilter::new(Language::Italian).expect("tantivy has italian"))
            .filter_dynamic(StopWordFilter::remove(normalized(ITALIAN_ELISIONS)))
            .filter_dynamic(Stemmer::new(Language::Italian))
            .build(),
        AnalyzerLang::En => base
            .filter_dynamic(StopWordFilter::new(Language::English).expect("tantivy has english"))
            .filter_dynamic(Stemmer::new(Language::English))
            .build(),
        AnalyzerLang::El => base
            .filter_dynamic(StopWordFilter::remove(normalized(GREEK_STOP_WORDS)))
            .filter_dynamic(Stemmer::new(Language::Greek))
            .build(),
        AnalyzerLang::Ro => base
            .filter_dynamic(StopWordFilter::remove(normalized(ROMANIAN_STOP_WORDS)))
            .filter_dynamic(MapTokens(romanian_to_stemmer_spelling))
            .filter_dynamic(Stemmer::new(Language::Romanian))
            .filter_dynamic(MapTokens(romanian_from_stemmer_spelling))
            .build(),
        AnalyzerLang::Sl => {
            let with_stop_words =
                base.filter_dynamic(StopWordFilter::remove(normalized(SLOVENIAN_STOP_WORDS)));
            if config.slovenian_stemmer {
                with_stop_words
                    .filter_dynamic(MapTokens(slovenian::stem_in_place))
                    .build()
            } else {
                with_stop_words.build()
            }
        }
        AnalyzerLang::Generic => base.build(),
    }
}

/// The accent-folded chain, shared by all languages.
pub fn folded_analyzer() -> TextAnalyzer {
    TextAnalyzer::builder(WordTokenizer)
        .filter(MapTokens(normalize_token))
        .filter(MapTokens(fold_in_place))
        .filter(RemoveLongFilter::limit(TOKEN_BYTES_MAX))
        .build()
}

/// Registers every chain under its name.
pub fn register(manager: &TokenizerManager, config: AnalysisConfig) {
    for lang in AnalyzerLang::ALL {
        manager.register(&lang.tokenizer_name(), analyzer(lang, config));
    }
    manager.register(FOLDED_TOKENIZER, folded_analyzer());
}

/// One analysed token with its byte range in the analysed text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AnalyzedToken {
    pub term: String,
    pub from: usize,
    pub to: usize,
}

/// Runs `analyzer` over `text`, collecting at most `tokens_max` tokens.
pub fn analyze(analyzer: &mut TextAnalyzer, text: &str, tokens_max: usize) -> Vec<AnalyzedToken> {
    let mut stream = analyzer.token_stream(text);
    let mut tokens = Vec::new();
    while tokens.len() < tokens_max && stream.advance() {
        let token = stream.token();
        tokens.push(AnalyzedToken {
            term: token.text.clone(),
            from: token.offset_from,
            to: token.offset_to,
        });
    }
    tokens
}

/// NFC, lowercase, Romanian cedilla letters to comma-below, Greek accents
/// removed and final sigma to sigma. Idempotent.
pub fn normalize_token(token: &mut String) -> bool {
    if token.is_ascii() {
        // the common case: no composition, no special letters
        token.make_ascii_lowercase();
        return !token.is_empty();
    }
    // Cedilla first: NFC does not unify ş (U+015F) and ș (U+0219).
    let cedilla_mapped = token.chars().map(|c| match c {
        'ş' | 'Ş' => 'ș',
        'ţ' | 'Ţ' => 'ț',
        other => other,
    });
    let composed: String = if is_nfc_quick(token.chars()) == IsNormalized::Yes {
        cedilla_mapped.collect()
    } else {
        cedilla_mapped.nfc().collect()
    };
    token.clear();
    for c in composed.chars() {
        for lower in c.to_lowercase() {
            token.push(match lower {
                // cedilla forms may reappear when composing a decomposed s + U+0327
                'ş' => 'ș',
                'ţ' => 'ț',
                other => greek_base(other),
            });
        }
    }
    !token.is_empty()
}

/// The Snowball Romanian stemmer (rust-stemmers) only knows the old cedilla
/// letters ş ţ: a word written with comma-below ș ț (which [`normalize_token`]
/// produces) would keep endings such as "-ățile" or "-ației". The `ro` chain
/// therefore hands the stemmer the cedilla spelling and maps the stem back.
fn romanian_to_stemmer_spelling(token: &mut String) -> bool {
    replace_chars(token, &[('ș', 'ş'), ('ț', 'ţ')]);
    true
}

/// The inverse of [`romanian_to_stemmer_spelling`], so index terms keep the
/// comma-below spelling every other chain uses.
fn romanian_from_stemmer_spelling(token: &mut String) -> bool {
    replace_chars(token, &[('ş', 'ș'), ('ţ', 'ț')]);
    !token.is_empty()
}

fn replace_chars(token: &mut String, pairs: &[(char, char)]) {
    if token
        .chars()
        .any(|c| pairs.iter().any(|&(from, _)| from == c))
    {
        *token = token
            .chars()
            .map(|c| {
                pairs
                    .iter()
                    .find(|&&(from, _)| from == c)
                    .map_or(c, |&(_, to)| to)
            })
            .collect();
    }
}

/// Greek lowercase letter without tonos or dialytika, final sigma as sigma.
fn greek_base(c: char) -> char {
    match c {
        'ά' => 'α',
        'έ' => 'ε',
        'ή' => 'η',
        'ί' | 'ϊ' | 'ΐ' => 'ι',
        'ό' => 'ο',
        'ύ' | 'ϋ' | 'ΰ' => 'υ',
        'ώ' => 'ω',
        'ς' => 'σ',
        other => other,
    }
}

/// Removes every diacritic (decomposes, drops combining marks) and maps the
/// few letters that do not decompose (đ, ł, ø, ß, æ, œ). Expects a
/// normalised token.
pub fn fold_in_place(token: &mut String) -> bool {
    if token.is_ascii() {
        return true;
    }
    let mut out = String::with_capacity(token.len());
    for c in token.nfd() {
        if is_combining_mark(c) {
            continue;
        }
        match c {
            'đ' => out.push('d'),
            'ł' => out.push('l'),
            'ø' => out.push('o'),
            'ß' => out.push_str("ss"),
            'æ' => out.push_str("ae"),
            'œ' => out.push_str("oe"),
            other => out.push(other),
        }
    }
    *token = out;
    !token.is_empty()
}

fn normalized(words: &[&str]) -> Vec<String> {
    words
        .iter()
        .map(|word| {
            let mut token = word.to_string();
            normalize_token(&mut token);
            token
        })
        .collect()
}

/// Splits text into words: maximal runs of alphanumeric characters and
/// combining marks. Everything else (spaces, punctuation, apostrophes,
/// hyphens) separates words.
#[derive(Clone, Default)]
pub struct WordTokenizer;

pub struct WordTokenStream<'a> {
    text: &'a str,
    cursor: usize,
    token: Token,
}

impl Tokenizer for WordTokenizer {
    type TokenStream<'a> = WordTokenStream<'a>;

    fn token_stream<'a>(&'a mut self, text: &'a str) -> WordTokenStream<'a> {
        WordTokenStream {
            text,
            cursor: 0,
            token: Token {
                position: usize::MAX,
                ..Token::default()
            },
        }
    }
}

fn is_word_char(c: char) -> bool {
    c.is_alphanumeric() || is_combining_mark(c)
}

impl TokenStream for WordTokenStream<'_> {
    fn advance(&mut self) -> bool {
        let rest = &self.text[self.cursor..];
        let Some(start_rel) = rest.find(is_word_char) else {
            self.cursor = self.text.len();
            return false;
        };
        let start = self.cursor + start_rel;
        let end = self.text[start..]
            .find(|c: char| !is_word_char(c))
            .map_or(self.text.len(), |end_rel| start + end_rel);
        self.token.text.clear();
        self.token.text.push_str(&self.text[start..end]);
        self.token.offset_from = start;
        self.token.offset_to = end;
        self.token.position = self.token.position.wrapping_add(1);
        self.token.position_length = 1;
        self.cursor = end;
        true
    }

    fn token(&self) -> &Token {
        &self.token
    }

    fn token_mut(&mut self) -> &mut Token {
        &mut self.token
    }
}

/// A token filter from a function that rewrites a token in place and says
/// whether to keep it.
#[derive(Clone, Copy)]
pub struct MapTokens(pub fn(&mut String) -> bool);

#[derive(Clone)]
pub struct MapTokensTokenizer<T> {
    map: fn(&mut String) -> bool,
    inner: T,
}

pub struct MapTokensStream<S> {
    map: fn(&mut String) -> bool,
    tail: S,
}

impl TokenFilter for MapTokens {
    type Tokenizer<T: Tokenizer> = MapTokensTokenizer<T>;

    fn transform<T: Tokenizer>(self, tokenizer: T) -> MapTokensTokenizer<T> {
        MapTokensTokenizer {
            map: self.0,
            inner: tokenizer,
        }
    }
}

impl<T: Tokenizer> Tokenizer for MapTokensTokenizer<T> {
    type TokenStream<'a> = MapTokensStream<T::TokenStream<'a>>;

    fn token_stream<'a>(&'a mut self, text: &'a str) -> Self::TokenStream<'a> {
        MapTokensStream {
            map: self.map,
            tail: self.inner.token_stream(text),
        }
    }
}

impl<S: TokenStream> TokenStream for MapTokensStream<S> {
    fn advance(&mut self) -> bool {
        while self.tail.advance() {
            if (self.map)(&mut self.tail.token_mut().text) {
                return true;
            }
        }
        false
    }

    fn token(&self) -> &Token {
        self.tail.token()
    }

    fn token_mut(&mut self) -> &mut Token {
        self.tail.token_mut()
    }
}

/// Italian elided forms the apostrophe split leaves behind ("dell'impatto").
const ITALIAN_ELISIONS: &[&str] = &[
    "d", "l", "dell", "all", "dall", "nell", "sull", "un", "quest", "quell", "c", "s", "m", "t",
    "v", "po",
];

/// Greek function words (written with accents; normalised when loaded).
pub const GREEK_STOP_WORDS: &[&str] = &[
    "ο",
    "η",
    "το",
    "οι",
    "τα",
    "του",
    "της",
    "των",
    "τον",
    "την",
    "τους",
    "τις",
    "τη",
    "ένα",
    "ένας",
    "μια",
    "μία",
    "ενός",
    "μιας",
    "και",
    "κι",
    "ή",
    "να",
    "θα",
    "δεν",
    "μη",
    "μην",
    "με",
    "σε",
    "για",
    "από",
    "προς",
    "κατά",
    "μετά",
    "χωρίς",
    "ως",
    "έως",
    "παρά",
    "αντί",
    "στο",
    "στη",
    "στην",
    "στον",
    "στα",
    "στους",
    "στις",
    "στων",
    "που",
    "πως",
    "ότι",
    "όπως",
    "είναι",
    "ήταν",
    "έχει",
    "έχουν",
    "αυτό",
    "αυτή",
    "αυτός",
    "αυτά",
    "αυτές",
    "αυτοί",
    "αυτών",
    "αυτού",
    "αυτής",
    "οποίο",
    "οποία",
    "οποίος",
    "οποίοι",
    "οποίες",
    "αλλά",
    "επίσης",
    "ενώ",
    "όταν",
    "αν",
    "εάν",
    "επί",
    "υπό",
    "μέσα",
    "μέσω",
    "πολύ",
    "όλα",
    "όλες",
    "όλοι",
    "κάθε",
    "μας",
    "σας",
    "ήδη",
    "έτσι",
    "εδώ",
];

/// Romanian function words (comma-below spelling; cedilla forms are mapped
/// by normalisation before the list is consulted).
pub const ROMANIAN_STOP_WORDS: &[&str] = &[
    "și", "în", "la", "de", "cu", "pe", "din", "pentru", "care", "ce", "un", "o", "este", "sunt",
    "a", "al", "ale", "ai", "prin", "sau", "nu", "se", "să", "mai", "fi", "fost", "ca", "cum",
    "dar", "după", "între", "până", "spre", "despre", "sub", "asupra", "acest", "această",
    "aceste", "acestei", "acestui", "acești", "acestor", "lor", "sa", "sale", "său", "ei", "el",
    "ea", "au", "am", "are", "fie", "iar", "deci", "doar", "foarte", "tot", "toate", "toți",
    "decât", "unei", "unui", "unor", "unii", "unele", "cel", "cea", "cei", "cele", "cât", "când",
    "unde", "dintre", "printre", "față", "fără", "ori", "îi", "își", "le", "li", "ne", "vă", "va",
    "vor", "ar", "avea", "era", "aceasta", "acesta",
];

/// Slovenian function words.
pub const SLOVENIAN_STOP_WORDS: &[&str] = &[
    "in", "je", "v", "na", "za", "z", "s", "so", "da", "se", "ki", "ter", "ali", "pa", "od", "do",
    "pri", "po", "o", "k", "h", "iz", "med", "nad", "pod", "pred", "skozi", "kot", "tudi", "že",
    "še", "ni", "bo", "bodo", "bi", "biti", "smo", "ste", "sem", "si", "to", "ta", "te", "ti",
    "tega", "temu", "tem", "teh", "tej", "ne", "več", "lahko", "kar", "kjer", "kako", "ko", "vse",
    "vsi", "vseh", "ob", "ga", "jih", "jo", "jim", "mu", "njihov", "njihova", "njihove", "svoj",
    "svoja", "svoje", "svojih", "saj", "oziroma", "ker", "če", "tako", "zato", "kateri", "katera",
    "katere", "katerih", "ena", "eno", "en", "bil", "bila", "bilo", "bili", "sta", "nas", "vas",
];

#[cfg(test)]
mod tests {
    use super::*;

    fn terms(lang: AnalyzerLang, text: &str) -> Vec<String> {
        let mut chain = analyzer(lang, AnalysisConfig::default());
        analyze(&mut chain, text, 1_000)
            .into_iter()
            .map(|token| token.term)
            .collect()
    }

    fn folded(text: &str) -> Vec<String> {
        let mut chain = folded_analyzer();
        analyze(&mut chain, text, 1_000)
            .into_iter()
            .map(|token| token.term)
            .collect()
    }

    #[test]
    fn romanian_cedilla_and_comma_below_are_one_term() {
        let comma = terms(AnalyzerLang::Ro, "inovație socială și participare");
        let cedilla = terms(AnalyzerLang::Ro, "inovaţie socială şi participare");
        let upper = terms(AnalyzerLang::Ro, "INOVAŢIE SOCIALĂ ŞI PARTICIPARE");
        assert_eq!(comma, cedilla);
        assert_eq!(comma, upper);
        assert!(!comma.iter().any(|t| t == "si" || t == "și"), "{comma:?}");
    }

    #[test]
    fn romanian_words_with_comma_below_letters_are_stemmed() {
        // Snowball strips "-ățile" only when it sees the cedilla spelling;
        // comma-below text must reach the same stem as its other inflections.
        for (inflected, base) in [
            ("comunitățile", "comunitate"),
            ("specializați", "specializată"),
            ("educației", "educaţie"),
        ] {
            assert_eq!(
                terms(AnalyzerLang::Ro, inflected),
                terms(AnalyzerLang::Ro, base),
                "{inflected} / {base}"
            );
        }
        assert_eq!(terms(AnalyzerLang::Ro, "comunitățile"), vec!["comun"]);
        assert_eq!(
            terms(
                AnalyzerLang::Ro,
                "evaluarea impactului social al organizațiilor"
            ),
            terms(AnalyzerLang::Ro, "evaluare impact sociale organizaţie")
        );
        // stems that keep the letter keep the comma-below spelling
        assert_eq!(terms(AnalyzerLang::Ro, "ţărilor"), vec!["țăr"]);
    }

    #[test]
    fn greek_tonos_and_final_sigma_do_not_matter() {
        let accented = terms(AnalyzerLang::El, "κοινωνικής καινοτομίας");
        let plain = terms(AnalyzerLang::El, "ΚΟΙΝΩΝΙΚΗΣ ΚΑΙΝΟΤΟΜΙΑΣ");
        let sigma = terms(AnalyzerLang::El, "κοινωνικησ καινοτομιασ");
        assert_eq!(accented, plain);
        assert_eq!(accented, sigma);
        assert!(accented.iter().all(|t| !t.contains('ς')));
    }

    #[test]
    fn greek_inflections_meet_in_one_stem() {
        assert_eq!(
            terms(AnalyzerLang::El, "πολιτική"),
            terms(AnalyzerLang::El, "πολιτικής")
        );
    }

    #[test]
    fn decomposed_input_is_one_word() {
        let decomposed = "citta\u{300}";
        assert_eq!(folded(decomposed), vec!["citta"]);
        assert_eq!(
            terms(AnalyzerLang::Generic, decomposed),
            terms(AnalyzerLang::Generic, "città")
        );
    }

    #[test]
    fn folding_removes_every_accent() {
        assert_eq!(
            folded("Città Socială Κοινωνία Đakovo"),
            vec!["citta", "sociala", "κοινωνια", "dakovo"]
        );
    }

    #[test]
    fn italian_stop_words_and_elisions_go() {
        assert_eq!(
            terms(AnalyzerLang::It, "valutazione d'impatto dell'intervento"),
            terms(AnalyzerLang::It, "valutazioni impatto intervento")
        );
    }

    #[test]
    fn stop_words_of_our_lists_go() {
        assert_eq!(terms(AnalyzerLang::El, "και για το"), Vec::<String>::new());
        assert_eq!(
            terms(AnalyzerLang::Ro, "şi pentru care"),
            Vec::<String>::new()
        );
        assert_eq!(terms(AnalyzerLang::Sl, "in za je ki"), Vec::<String>::new());
    }

    #[test]
    fn long_tokens_are_dropped() {
        let long = "a".repeat(TOKEN_BYTES_MAX + 1);
        assert_eq!(
            terms(AnalyzerLang::Generic, &format!("x {long} y")),
            vec!["x", "y"]
        );
    }

    #[test]
    fn generic_chain_keeps_croatian_words() {
        assert_eq!(
            terms(AnalyzerLang::Generic, "Socijalne inovacije"),
            vec!["socijalne", "inovacije"]
        );
    }
}
