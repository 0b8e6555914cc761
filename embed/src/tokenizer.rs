//! The XLM-RoBERTa SentencePiece unigram tokenizer, as the reference engine
//! runs it.
//!
//! Steps, in order (each matters for getting the same pieces):
//!
//! 1. Every code point is looked up in a per-code-point replacement table
//!    taken from the model file (it folds compatibility forms, maps tabs and
//!    newlines to a space and deletes control characters). Code points not in
//!    the table pass through. There is no composition step, so NFC and NFD
//!    spellings of a word tokenize differently, exactly as in the reference.
//! 2. Runs of U+0020 collapse to one space.
//! 3. A metaspace `▁` (U+2581) is put in front unless the text starts with a
//!    space, and every space becomes `▁`.
//! 4. Viterbi search over the pieces: the best path maximises the sum of the
//!    pieces' log-probabilities (f32, added left to right). A character that no
//!    piece covers is one `<unk>` token, scored 10 below the lowest piece. Ties
//!    keep the path found first, scanning starts left to right and, for each
//!    start, ends short to long, with the `<unk>` step last.
//!
//! The special pieces `<s>`, `</s>`, `<pad>` and `<mask>` take part in the
//! search like any other piece (the reference does so too); only `<unk>` is
//! never matched as text.

use crate::format::{malformed, Cursor};
use crate::EmbedError;

/// The metaspace marker SentencePiece uses for a word boundary.
pub const METASPACE: char = '\u{2581}';

/// How far below the lowest piece score an unknown character is scored.
const UNKNOWN_PENALTY: f32 = 10.0;

/// The special token ids of the vocabulary.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Specials {
    /// Start of sequence, `<s>`.
    pub bos: u32,
    /// End of sequence, `</s>`.
    pub eos: u32,
    /// Padding (unused by the encoder, kept for completeness).
    pub pad: u32,
    /// Unknown piece, `<unk>`.
    pub unk: u32,
}

/// A SentencePiece unigram tokenizer: pieces with scores and a normalisation
/// table. Immutable once built.
#[derive(Clone, Debug)]
pub struct Tokenizer {
    /// All piece bytes, back to back; piece `i` is `bytes[starts[i]..starts[i+1]]`.
    bytes: Vec<u8>,
    starts: Vec<u32>,
    scores: Vec<f32>,
    specials: Specials,
    unknown_score: f32,
    longest_piece: usize,
    index: PieceIndex,
    /// Normalisation table, sorted by code point; `map_out[map_at[i]..map_at[i+1]]`
    /// replaces `map_from[i]`.
    map_from: Vec<u32>,
    map_at: Vec<u32>,
    map_out: Vec<char>,
}

impl Tokenizer {
    /// Builds a tokenizer from pieces (`(text, score)`, in id order), the
    /// special ids, and a normalisation table of `(code point, replacement)`.
    /// Fails if an id is out of range or a code point is repeated.
    pub fn new(
        pieces: &[(&str, f32)],
        specials: Specials,
        normalisation: &[(char, &str)],
    ) -> Result<Self, EmbedError> {
        let mut bytes = Vec::new();
        let mut starts = vec![0u32];
        let mut scores = Vec::with_capacity(pieces.len());
        for (p, s) in pieces {
            bytes.extend_from_slice(p.as_bytes());
            starts.push(bytes.len() as u32);
            scores.push(*s);
        }
        let mut map: Vec<(u32, Vec<char>)> = normalisation
            .iter()
            .map(|(c, r)| (*c as u32, r.chars().collect()))
            .collect();
        map.sort_by_key(|m| m.0);
        Self::assemble(bytes, starts, scores, specials, map)
    }

    /// Reads the tokenizer section of a model file.
    pub(crate) fn read(c: &mut Cursor<'_>) -> Result<Self, EmbedError> {
        let n = c.count("piece count", 1 << 22)?;
        let mut id = |what: &str| -> Result<u32, EmbedError> {
            let v = c.i32(what)?;
            if v < 0 || v as usize >= n {
                return Err(malformed(format!("{what} id {v} outside 0..{n}")));
            }
            Ok(v as u32)
        };
        let specials = Specials {
            bos: id("<s>")?,
            eos: id("</s>")?,
            pad: id("<pad>")?,
            unk: id("<unk>")?,
        };
        let blob_len = c.u64("piece bytes length")?;
        let raw_starts = c.take((n + 1) * 4, "piece offsets")?;
        let raw_scores = c.take(n * 4, "piece scores")?;
        let blob_len = usize::try_from(blob_len).map_err(|_| malformed("piece bytes length"))?;
        let blob = c.take(blob_len, "piece bytes")?;
        let starts: Vec<u32> = raw_starts
            .chunks_exact(4)
            .map(|b| u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
            .collect();
        if starts[0] != 0
            || starts.windows(2).any(|w| w[0] > w[1])
            || starts[n] as usize > blob.len()
        {
            return Err(malformed(
                "piece offsets are not increasing within the piece bytes",
            ));
        }
        let scores: Vec<f32> = raw_scores
            .chunks_exact(4)
            .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
            .collect();
        if scores.iter().any(|s| !s.is_finite()) {
            return Err(malformed("a piece score is not finite"));
        }

        let entries = c.count("normalisation entries", 1 << 21)?;
        let table_len = c.u32("normalisation table length")? as usize;
        let mut t = Cursor::new(c.take(table_len, "normalisation table")?);
        let mut map = Vec::with_capacity(entries);
        for _ in 0..entries {
            let from = t.u32("normalised code point")?;
            let k = t.u8("replacement length")? as usize;
            let mut out = Vec::with_capacity(k);
            for _ in 0..k {
                let cp = t.u32("replacement code point")?;
                out.push(
                    char::from_u32(cp).ok_or_else(|| {
                        malformed(format!("replacement U+{cp:X} is no character"))
                    })?,
                );
            }
            map.push((from, out));
        }
        if map.windows(2).any(|w| w[0].0 >= w[1].0) {
            return Err(malformed("normalisation table is not sorted by code point"));
        }
        Self::assemble(
            blob[..starts[n] as usize].to_vec(),
            starts,
            scores,
            specials,
            map,
        )
    }

    fn assemble(
        bytes: Vec<u8>,
        starts: Vec<u32>,
        scores: Vec<f32>,
        specials: Specials,
        map: Vec<(u32, Vec<char>)>,
    ) -> Result<Self, EmbedError> {
        let n = scores.len();
        for (what, v) in [
            ("<s>", specials.bos),
            ("</s>", specials.eos),
            ("<pad>", specials.pad),
            ("<unk>", specials.unk),
        ] {
            if v as usize >= n {
                return Err(malformed(format!("{what} id {v} outside 0..{n}")));
            }
        }
        if map.windows(2).any(|w| w[0].0 == w[1].0) {
            return Err(malformed(
                "a code point appears twice in the normalisation table",
            ));
        }
        let lowest = scores.iter().copied().fold(f32::INFINITY, f32::min);
        let longest_piece = starts
            .windows(2)
            .map(|w| (w[1] - w[0]) as usize)
            .max()
            .unwrap_or(0)
            .max(1);
        let index = PieceIndex::build(&bytes, &starts, specials.unk);
        let mut map_from = Vec::with_capacity(map.len());
        let mut map_at = Vec::with_capacity(map.len() + 1);
        let mut map_out = Vec::new();
        for (from, out) in map {
            map_from.push(from);
            map_at.push(map_out.len() as u32);
            map_out.extend(out);
        }
        map_at.push(map_out.len() as u32);
        Ok(Tokenizer {
            bytes,
            starts,
            scores,
            specials,
            unknown_score: if n == 0 {
                -UNKNOWN_PENALTY
            } else {
                lowest - UNKNOWN_PENALTY
            },
            longest_piece,
            index,
            map_from,
            map_at,
            map_out,
        })
    }

    /// Approximate heap bytes held by the tables.
    pub(crate) fn heap_bytes(&self) -> usize {
        self.bytes.capacity()
            + 4 * (self.starts.capacity() + self.scores.capacity() + self.index.slots.capacity())
            + 4 * (self.map_from.capacity() + self.map_at.capacity() + self.map_out.capacity())
    }

    /// The special token ids.
    pub fn specials(&self) -> Specials {
        self.specials
    }

    /// Number of pieces in the vocabulary.
    pub fn len(&self) -> usize {
        self.scores.len()
    }

    /// True for an empty vocabulary.
    pub fn is_empty(&self) -> bool {
        self.scores.is_empty()
    }

    /// The bytes of piece `id` (UTF-8 for every piece of the real model).
    pub fn piece(&self, id: u32) -> &[u8] {
        let i = id as usize;
        &self.bytes[self.starts[i] as usize..self.starts[i + 1] as usize]
    }

    /// The pieces of `text`, without `<s>`/`</s>` and without any prefix.
    pub fn encode(&self, text: &str) -> Vec<u32> {
        let mut out = Vec::new();
        self.encode_into(text, &mut Workspace::default(), &mut out);
        out
    }

    /// Like [`encode`](Self::encode), appending to `out` and reusing buffers.
    pub(crate) fn encode_into(&self, text: &str, ws: &mut Workspace, out: &mut Vec<u32>) {
        self.normalise(text, ws);
        self.viterbi(ws, out);
    }

    fn replacement(&self, c: char) -> Option<&[char]> {
        let i = self.map_from.binary_search(&(c as u32)).ok()?;
        Some(&self.map_out[self.map_at[i] as usize..self.map_at[i + 1] as usize])
    }

    /// Steps 1-3: fills `ws.text` with the normalised, metaspaced text and
    /// `ws.bounds` with the byte offset of every character (plus the end).
    fn normalise(&self, text: &str, ws: &mut Workspace) {
        ws.text.clear();
        ws.bounds.clear();
        let mut first = true;
        let mut last_was_space = false;
        let mut push = |ws: &mut Workspace, c: char| {
            if c == ' ' && last_was_space {
                return;
            }
            last_was_space = c == ' ';
            if first {
                first = false;
                if c != ' ' {
                    ws.bounds.push(0);
                    ws.text.push(METASPACE);
                }
            }
            ws.bounds.push(ws.text.len());
            ws.text.push(if c == ' ' { METASPACE } else { c });
        };
        for c in text.chars() {
            match self.replacement(c) {
                None => push(ws, c),
                Some(r) => r.iter().for_each(|&c| push(ws, c)),
            }
        }
        if first {
            // Nothing survived normalisation: the text is a lone metaspace.
            ws.bounds.push(0);
            ws.text.push(METASPACE);
        }
        ws.bounds.push(ws.text.len());
    }

    /// Step 4 over `ws.text`; appends the pieces of the best path to `out`.
    fn viterbi(&self, ws: &mut Workspace, out: &mut Vec<u32>) {
        let chars = ws.bounds.len() - 1;
        let text = ws.text.as_bytes();
        ws.best.clear();
        ws.best.resize(chars + 1, Step::default());
        ws.best[0].score = 0.0;
        for from in 0..chars {
            let here = ws.best[from].score;
            if here == f32::NEG_INFINITY {
                continue;
            }
            let start = ws.bounds[from];
            let mut hash = FNV_OFFSET;
            let mut hashed = start;
            for to in from + 1..=chars {
                let end = ws.bounds[to];
                if end - start > self.longest_piece {
                    break;
                }
                for &b in &text[hashed..end] {
                    hash = fnv_step(hash, b);
                }
                hashed = end;
                if let Some(id) = self.index.find(hash, &text[start..end], self) {
                    let score = here + self.scores[id as usize];
                    if score > ws.best[to].score {
                        ws.best[to] = Step {
                            score,
                            piece: id,
                            from: from as u32,
                        };
                    }
                }
            }
            let score = here + self.unknown_score;
            if score > ws.best[from + 1].score {
                ws.best[from + 1] = Step {
                    score,
                    piece: self.specials.unk,
                    from: from as u32,
                };
            }
        }
        let first = out.len();
        let mut at = chars;
        while at > 0 {
            let s = ws.best[at];
            out.push(s.piece);
            at = s.from as usize;
        }
        out[first..].reverse();
    }
}

/// Reusable buffers for tokenizing.
#[derive(Default, Debug)]
pub(crate) struct Workspace {
    text: String,
    bounds: Vec<usize>,
    best: Vec<Step>,
}

#[derive(Clone, Copy, Debug)]
struct Step {
    score: f32,
    piece: u32,
    from: u32,
}

impl Default for Step {
    fn default() -> Self {
        Step {
            score: f32::NEG_INFINITY,
            piece: 0,
            from: 0,
        }
    }
}

const FNV_OFFSET: u64 = 0xcbf2_9ce4_8422_2325;
const FNV_PRIME: u64 = 0x0000_0100_0000_01b3;

fn fnv_step(h: u64, b: u8) -> u64 {
    (h ^ b as u64).wrapping_mul(FNV_PRIME)
}

/// Open-addressing hash set of piece ids keyed by their bytes (FNV-1a, so a
/// lookup can hash a growing candidate incrementally). A slot holds
/// `id + 1`; 0 marks an empty slot. When two pieces have the same bytes the
/// lower id wins; `<unk>` is left out so text can never match it.
#[derive(Clone, Debug)]
struct PieceIndex {
    slots: Vec<u32>,
    mask: usize,
}

impl PieceIndex {
    fn build(bytes: &[u8], starts: &[u32], unk: u32) -> Self {
        let n = starts.len() - 1;
        let size = (2 * n).next_power_of_two().max(16);
        let mut slots = vec![0u32; size];
        let mask = size - 1;
        for id in 0..n {
            let piece = &bytes[starts[id] as usize..starts[id + 1] as usize];
            if piece.is_empty() || id as u32 == unk {
                continue;
            }
            let mut at = piece.iter().fold(FNV_OFFSET, |h, &b| fnv_step(h, b)) as usize & mask;
            loop {
                match slots[at] {
                    0 => {
                        slots[at] = id as u32 + 1;
                        break;
                    }
                    s => {
                        let other = (s - 1) as usize;
                        if &bytes[starts[other] as usize..starts[other + 1] as usize] == piece {
                            break; // duplicate: keep the lower id
                        }
                        at = (at + 1) & mask;
                    }
                }
            }
        }
        PieceIndex { slots, mask }
    }

    fn find(&self, hash: u64, key: &[u8], tok: &Tokenizer) -> Option<u32> {
        let mut at = hash as usize & self.mask;
        loop {
            let s = self.slots[at];
            if s == 0 {
                return None;
            }
            if tok.piece(s - 1) == key {
                return Some(s - 1);
            }
            at = (at + 1) & self.mask;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SPECIALS: Specials = Specials {
        bos: 0,
        eos: 2,
        pad: 1,
        unk: 3,
    };

    /// A toy vocabulary; ids 0..=3 are the specials like in XLM-R.
    fn toy() -> Tokenizer {
        let pieces = [
            ("<s>", 0.0),
            ("<pad>", 0.0),
            ("</s>", 0.0),
            ("<unk>", 0.0),
            ("▁", -2.0),   // 4
            ("a", -3.0),   // 5
            ("b", -3.0),   // 6
            ("▁a", -2.5),  // 7
            ("ab", -2.0),  // 8
            ("▁ab", -6.0), // 9
            ("č", -1.0),   // 10
            ("▁bi", -1.0), // 11
            ("▁b", -1.5),  // 12
            ("i", -1.5),   // 13
            ("▁ș", -1.0),  // 14
        ];
        let norm = [('\t', " "), ('\u{0007}', ""), ('ﬁ', "fi"), ('Ⅻ', "XII")];
        Tokenizer::new(&pieces, SPECIALS, &norm).unwrap()
    }

    #[test]
    fn best_path_by_hand() {
        let t = toy();
        // "▁ab": [▁ab] = -6, [▁a][b] = -5.5, [▁][ab] = -4.0 (best),
        // [▁][a][b] = -8.
        assert_eq!(t.encode("ab"), vec![4, 8]);
        // "▁a" = -2.5 beats [▁][a] = -5.
        assert_eq!(t.encode("a"), vec![7]);
        // "▁bi" = -1 beats [▁b][i] = -3.
        assert_eq!(t.encode("bi"), vec![11]);
    }

    #[test]
    fn spaces_collapse_and_become_metaspace() {
        let t = toy();
        assert_eq!(t.encode("a  \t  a"), t.encode("a a"));
        assert_eq!(t.encode("a a"), vec![7, 7]);
        // A leading space is not doubled: " a" is "▁a" too.
        assert_eq!(t.encode(" a"), vec![7]);
        // A trailing space is a lone metaspace.
        assert_eq!(t.encode("a "), vec![7, 4]);
        // Nothing at all: one metaspace.
        assert_eq!(t.encode(""), vec![4]);
        // Deleted control characters leave nothing behind.
        assert_eq!(t.encode("\u{0007}"), vec![4]);
        assert_eq!(t.encode("a\u{0007}b"), t.encode("ab"));
    }

    #[test]
    fn unknown_characters_are_single_unk_tokens() {
        let t = toy();
        // 'x' and 'y' are in no piece: one <unk> each, never merged.
        assert_eq!(t.encode("axy"), vec![7, 3, 3]);
        // An emoji is one character, one <unk>.
        assert_eq!(t.encode("😀"), vec![4, 3]);
    }

    #[test]
    fn normalisation_table_applies_per_code_point() {
        let t = toy();
        // U+FB01 expands to "fi": "f" is unknown, "i" is piece 13.
        assert_eq!(t.encode("ﬁ"), vec![4, 3, 13]);
        assert_eq!(t.encode("Ⅻ").len(), 4);
        // NFD "č" (c + U+030C) is not composed, so it is not the piece "č".
        assert_eq!(t.encode("č"), vec![4, 10]);
        assert_eq!(t.encode("c\u{030C}"), vec![4, 3, 3]);
        // Romanian comma-below ș is a piece with its metaspace; the old
        // cedilla form ş is another character and unknown here.
        assert_eq!(t.encode("ș"), vec![14]);
        assert_eq!(t.encode("ş"), vec![4, 3]);
    }

    #[test]
    fn unk_is_never_matched_as_text_but_other_specials_are() {
        let t = toy();
        let unk = t.encode("<unk>");
        assert!(unk.iter().all(|&i| i == 3 || i == 4), "{unk:?}");
        assert_eq!(unk.len(), 6);
        // "<s>" is a piece with score 0, so literal "<s>" becomes id 0.
        assert_eq!(t.encode("<s>"), vec![4, 0]);
    }

    #[test]
    fn ties_keep_the_first_path_found() {
        // "▁xy": [▁][xy] and [▁x][y] both score -2. End 3 is first reached
        // from start 1 ([▁] then "xy"); the later candidate from start 2
        // ([▁x] then "y") is equal, not better, so the first one stays.
        let pieces = [
            ("<s>", 0.0),
            ("<pad>", 0.0),
            ("</s>", 0.0),
            ("<unk>", 0.0),
            ("▁", -1.0),  // 4
            ("xy", -1.0), // 5
            ("▁x", -1.0), // 6
            ("y", -1.0),  // 7
        ];
        let t = Tokenizer::new(&pieces, SPECIALS, &[]).unwrap();
        assert_eq!(t.encode("xy"), vec![4, 5]);
    }

    #[test]
    fn rejects_bad_specials() {
        let bad = Specials { unk: 9, ..SPECIALS };
        assert!(Tokenizer::new(&[("a", 0.0)], bad, &[]).is_err());
    }
}
