//! Snippets: a short window of a text around the words that matched, as
//! one structured value ([`Snippet`]: the window's plain text and the byte
//! ranges that matched). Every edge renders it from that value: HTML with
//! `<mark>` for the JSON API ([`Snippet::to_html`]), escaped parts for the web
//! pages and the terminal ([`Snippet::parts`]), plain text for explanations
//! ([`Snippet::to_plain`]); nobody parses HTML back.
//!
//! We cut our own snippets instead of using tantivy's `SnippetGenerator`
//! because a hit can match through a field of another language or through a
//! concept, and the snippet must show the record's own words that carried
//! the match (for a concept, the concept's term in the record's language).
//! The highlighted ranges come from the same analysis chains as the index.

use serde::{Deserialize, Serialize};

/// A snippet shows at most this many characters of text (plus ellipses).
pub const SNIPPET_CHARS_MAX: usize = 220;
/// Characters of context kept before the first highlighted word.
const CONTEXT_CHARS_BEFORE: usize = 60;

/// A window of a record's text with the words that matched marked.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Snippet {
    /// The window as plain text: line breaks and tabs become spaces, `…`
    /// stands where the text was cut.
    pub text: String,
    /// Byte ranges of `text` that matched: on char boundaries, sorted,
    /// disjoint, never empty.
    pub highlights: Vec<(usize, usize)>,
}

/// One piece of a snippet: text, and whether it matched.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SnippetPart<'a> {
    /// The piece's text (plain, unescaped).
    pub text: &'a str,
    /// Whether it matched the query.
    pub marked: bool,
}

impl Snippet {
    /// The pieces in order, alternating unmarked and marked text (empty
    /// pieces left out).
    pub fn parts(&self) -> Vec<SnippetPart<'_>> {
        let mut parts = Vec::with_capacity(2 * self.highlights.len() + 1);
        let mut cursor = 0;
        for &(from, to) in &self.highlights {
            if from > cursor {
                parts.push(SnippetPart {
                    text: &self.text[cursor..from],
                    marked: false,
                });
            }
            parts.push(SnippetPart {
                text: &self.text[from..to],
                marked: true,
            });
            cursor = to;
        }
        if cursor < self.text.len() {
            parts.push(SnippetPart {
                text: &self.text[cursor..],
                marked: false,
            });
        }
        parts
    }

    /// HTML: the text escaped (`&`, `<`, `>`, `"`, `'`), matches in `<mark>`.
    pub fn to_html(&self) -> String {
        let mut out = String::with_capacity(self.text.len() + 16 * self.highlights.len());
        for part in self.parts() {
            if part.marked {
                out.push_str("<mark>");
                escape_into(part.text, &mut out);
                out.push_str("</mark>");
            } else {
                escape_into(part.text, &mut out);
            }
        }
        out
    }

    /// Plain text with `marker` around each match (`*co-design*`).
    pub fn to_plain(&self, marker: &str) -> String {
        let mut out = String::with_capacity(self.text.len());
        for part in self.parts() {
            if part.marked {
                out.push_str(marker);
                out.push_str(part.text);
                out.push_str(marker);
            } else {
                out.push_str(part.text);
            }
        }
        out
    }
}

/// Cuts a snippet of `text` around `highlights` (byte ranges on char
/// boundaries, any order, may overlap). Without highlights, the start of the
/// text.
pub fn cut(text: &str, highlights: &[(usize, usize)]) -> Snippet {
    let weighted: Vec<(usize, usize, u64)> =
        highlights.iter().map(|&(from, to)| (from, to, 1)).collect();
    cut_weighted(text, &weighted)
}

/// [`cut`] where each highlight has a weight: the window shown is the one
/// with the largest total weight (a specific concept outweighs two generic
/// ones).
pub fn cut_weighted(text: &str, highlights: &[(usize, usize, u64)]) -> Snippet {
    let mut ranges: Vec<(usize, usize, u64)> = highlights
        .iter()
        .copied()
        .filter(|(from, to, _)| from < to && *to <= text.len())
        .collect();
    ranges.sort_unstable();
    let merged = merge(&ranges);
    let (window_from, window_to) = window(text, &merged);
    let mut snippet = Snippet::default();
    if window_from > 0 {
        snippet.text.push('…');
    }
    let mut cursor = window_from;
    for &(from, to, _) in &merged {
        if to <= window_from || from >= window_to {
            continue;
        }
        let from = from.max(window_from);
        let to = to.min(window_to);
        push_flat(&text[cursor..from], &mut snippet.text);
        let start = snippet.text.len();
        push_flat(&text[from..to], &mut snippet.text);
        snippet.highlights.push((start, snippet.text.len()));
        cursor = to;
    }
    push_flat(&text[cursor..window_to], &mut snippet.text);
    if window_to < text.len() {
        snippet.text.push('…');
    }
    snippet
}

fn merge(sorted: &[(usize, usize, u64)]) -> Vec<(usize, usize, u64)> {
    let mut merged: Vec<(usize, usize, u64)> = Vec::new();
    for &(from, to, weight) in sorted {
        match merged.last_mut() {
            Some(last) if from <= last.1 => {
                last.1 = last.1.max(to);
                last.2 = last.2.max(weight);
            }
            _ => merged.push((from, to, weight)),
        }
    }
    merged
}

/// Chooses the byte window: the one starting shortly before the highlight
/// whose following [`SNIPPET_CHARS_MAX`] characters hold the most weight.
fn window(text: &str, merged: &[(usize, usize, u64)]) -> (usize, usize) {
    let best_start = merged
        .iter()
        .enumerate()
        .max_by_key(|(index, (from, _, _))| {
            let end = advance_chars(text, *from, SNIPPET_CHARS_MAX - CONTEXT_CHARS_BEFORE);
            let weight: u64 = merged[*index..]
                .iter()
                .take_while(|(other_from, _, _)| *other_from < end)
                .map(|(_, _, weight)| weight)
                .sum();
            // most weight first, then the earliest
            (weight, std::cmp::Reverse(*from))
        })
        .map(|(_, (from, _, _))| *from)
        .unwrap_or(0);
    let mut from = back_chars(text, best_start, CONTEXT_CHARS_BEFORE);
    if from > 0 {
        // start at a word boundary
        if let Some(space) = text[from..best_start].find(char::is_whitespace) {
            from += space + 1;
        }
    }
    let mut to = advance_chars(text, from, SNIPPET_CHARS_MAX);
    if to < text.len() {
        if let Some(space) = text[from..to].rfind(char::is_whitespace) {
            if from + space > best_start {
                to = from + space;
            }
        }
    }
    (from, to)
}

fn advance_chars(text: &str, from: usize, chars: usize) -> usize {
    text[from..]
        .char_indices()
        .nth(chars)
        .map_or(text.len(), |(offset, _)| from + offset)
}

fn back_chars(text: &str, to: usize, chars: usize) -> usize {
    text[..to]
        .char_indices()
        .rev()
        .nth(chars.saturating_sub(1))
        .map_or(0, |(offset, _)| offset)
}

/// Appends `text` with line breaks and tabs as spaces (a snippet is one line).
fn push_flat(text: &str, out: &mut String) {
    out.extend(text.chars().map(|c| match c {
        '\n' | '\r' | '\t' => ' ',
        other => other,
    }));
}

/// Escapes `&`, `<`, `>`, `"` and `'`.
fn escape_into(text: &str, out: &mut String) {
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            other => out.push(other),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::cut;

    fn render(text: &str, highlights: &[(usize, usize)]) -> String {
        cut(text, highlights).to_html()
    }

    #[test]
    fn marks_and_escapes() {
        let text = "Tools <script>alert(1)</script> & co-design for youth";
        let from = text.find("co-design").unwrap();
        let snippet = render(text, &[(from, from + "co-design".len())]);
        assert_eq!(
            snippet,
            "Tools &lt;script&gt;alert(1)&lt;/script&gt; &amp; <mark>co-design</mark> for youth"
        );
    }

    #[test]
    fn long_text_is_cut_around_the_match_on_char_boundaries() {
        let text = format!(
            "{} città partecipativa {}",
            "à".repeat(500),
            "è".repeat(500)
        );
        let from = text.find("partecipativa").unwrap();
        let snippet = render(&text, &[(from, from + "partecipativa".len())]);
        assert!(
            snippet.starts_with('…') && snippet.ends_with('…'),
            "{snippet}"
        );
        assert!(snippet.contains("<mark>partecipativa</mark>"));
        assert!(snippet.chars().count() <= super::SNIPPET_CHARS_MAX + 20);
    }

    #[test]
    fn no_highlight_gives_the_start() {
        assert_eq!(render("a < b", &[]), "a &lt; b");
    }

    #[test]
    fn every_edge_renders_the_same_snippet() {
        let text = "l'impatto <b> & co-design\nper tutti";
        let from = text.find("co-design").unwrap();
        let snippet = cut(text, &[(from, from + "co-design".len())]);
        assert_eq!(snippet.text, "l'impatto <b> & co-design per tutti");
        assert_eq!(
            snippet.to_html(),
            "l&#39;impatto &lt;b&gt; &amp; <mark>co-design</mark> per tutti"
        );
        assert_eq!(
            snippet.to_plain("*"),
            "l'impatto <b> & *co-design* per tutti"
        );
        let marked: Vec<&str> = snippet
            .parts()
            .iter()
            .filter(|part| part.marked)
            .map(|part| part.text)
            .collect();
        assert_eq!(marked, vec!["co-design"]);
    }
}

#[cfg(test)]
mod properties {
    use proptest::prelude::*;

    use super::{cut, SNIPPET_CHARS_MAX};

    fn render(text: &str, highlights: &[(usize, usize)]) -> String {
        cut(text, highlights).to_html()
    }

    /// Removes the `<mark>` tags, then checks that nothing else looks like
    /// markup and that the text is the original's escaped.
    fn check_safe(snippet: &str) {
        let without_marks = snippet.replace("<mark>", "").replace("</mark>", "");
        assert!(!without_marks.contains('<') && !without_marks.contains('>'));
        assert_eq!(
            snippet.matches("<mark>").count(),
            snippet.matches("</mark>").count()
        );
    }

    proptest! {
        /// Any text, any highlights on char boundaries: no panic, safe
        /// HTML, bounded length.
        #[test]
        fn any_text_gives_a_safe_bounded_snippet(
            text in "[a-zà-ÿα-ω<>&\"' \n-]{0,600}",
            picks in proptest::collection::vec((0usize..700, 0usize..40), 0..8),
        ) {
            let boundaries: Vec<usize> = text
                .char_indices()
                .map(|(offset, _)| offset)
                .chain(std::iter::once(text.len()))
                .collect();
            let highlights: Vec<(usize, usize)> = picks
                .iter()
                .map(|&(start, length)| {
                    let from = boundaries[start % boundaries.len()];
                    let to_index = (start % boundaries.len() + length).min(boundaries.len() - 1);
                    (from, boundaries[to_index])
                })
                .collect();
            let snippet = render(&text, &highlights);
            check_safe(&snippet);
            // escaping can lengthen the text at most six times (&quot;)
            let visible = snippet.replace("<mark>", "").replace("</mark>", "");
            prop_assert!(visible.chars().count() <= 6 * (SNIPPET_CHARS_MAX + 2));
        }
    }
}
