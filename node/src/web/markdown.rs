//! Record bodies and sections are Markdown (CommonMark, plus tables and
//! strikethrough); this renders them to HTML that is safe to put in a page.
//!
//! Safety in two layers: raw HTML in the Markdown is never passed through (it
//! is turned into escaped text before rendering), and the rendered HTML is
//! then cleaned by `ammonia` with an allow-list (no scripts, no styles, no
//! images, no event attributes; links only to http, https and mailto, with
//! `rel="nofollow noopener"`). Headings move down two levels so a body's
//! `# Title` never competes with the page's own `h1`.

use pulldown_cmark::{html, Event, HeadingLevel, Options, Parser, Tag, TagEnd};

/// Longest Markdown text rendered (a record's body is bounded by the
/// protocol; this bounds the work per call).
pub const MARKDOWN_BYTES_MAX: usize = 512 * 1024;

fn lower(level: HeadingLevel) -> HeadingLevel {
    match level {
        HeadingLevel::H1 => HeadingLevel::H3,
        HeadingLevel::H2 => HeadingLevel::H4,
        HeadingLevel::H3 => HeadingLevel::H5,
        _ => HeadingLevel::H6,
    }
}

/// The Markdown `text` as sanitised HTML.
pub fn to_safe_html(text: &str) -> String {
    let text = truncated(text);
    let options = Options::ENABLE_TABLES | Options::ENABLE_STRIKETHROUGH;
    let events = Parser::new_ext(text, options).map(|event| match event {
        // Raw HTML is shown as the text it is, never as markup.
        Event::Html(raw) | Event::InlineHtml(raw) => Event::Text(raw),
        Event::Start(Tag::Heading {
            level,
            id,
            classes,
            attrs,
        }) => Event::Start(Tag::Heading {
            level: lower(level),
            id,
            classes,
            attrs,
        }),
        Event::End(TagEnd::Heading(level)) => Event::End(TagEnd::Heading(lower(level))),
        other => other,
    });
    let mut rendered = String::with_capacity(text.len() * 3 / 2);
    html::push_html(&mut rendered, events);
    ammonia::Builder::default()
        .rm_tags(["img"])
        .url_schemes(["http", "https", "mailto"].into_iter().collect())
        .link_rel(Some("nofollow noopener"))
        .clean(&rendered)
        .to_string()
}

/// The Markdown `text` as plain text, for places that take no markup (feed
/// summaries): the words of every block, links as their text, raw HTML as
/// the text it is; one line per block, runs of spaces collapsed.
pub fn to_plain_text(text: &str) -> String {
    let text = truncated(text);
    let options = Options::ENABLE_TABLES | Options::ENABLE_STRIKETHROUGH;
    let mut plain = String::with_capacity(text.len());
    for event in Parser::new_ext(text, options) {
        match event {
            Event::Text(words)
            | Event::Code(words)
            | Event::Html(words)
            | Event::InlineHtml(words) => plain.push_str(&words),
            Event::SoftBreak => plain.push(' '),
            Event::HardBreak
            | Event::End(
                TagEnd::Paragraph
                | TagEnd::Heading(_)
                | TagEnd::Item
                | TagEnd::CodeBlock
                | TagEnd::TableRow
                | TagEnd::TableHead,
            ) => plain.push('\n'),
            Event::End(TagEnd::TableCell) => plain.push(' '),
            _ => {}
        }
    }
    plain
        .lines()
        .map(|line| line.split_whitespace().collect::<Vec<_>>().join(" "))
        .filter(|line| !line.is_empty())
        .collect::<Vec<_>>()
        .join("\n")
}

/// `text` cut at a character boundary to at most [`MARKDOWN_BYTES_MAX`].
fn truncated(text: &str) -> &str {
    if text.len() <= MARKDOWN_BYTES_MAX {
        return text;
    }
    let end = text
        .char_indices()
        .map(|(index, _)| index)
        .take_while(|index| *index <= MARKDOWN_BYTES_MAX)
        .last()
        .unwrap_or(0);
    &text[..end]
}

#[cfg(test)]
mod tests {
    use super::{to_plain_text, to_safe_html};

    #[test]
    fn plain_text_keeps_the_words_and_drops_the_markup() {
        let plain = to_plain_text(
            "# Risultati\n\n**Come** lavora\nil [Comune](https://x.example)\n\n- uno\n- due\n\n<b>x</b> & y",
        );
        assert_eq!(
            plain,
            "Risultati\nCome lavora il Comune\nuno\ndue\n<b>x</b> & y"
        );
    }

    #[test]
    fn lists_and_emphasis_become_html() {
        let html = to_safe_html("**Come lavora**\n\n- uno\n- due\n");
        assert!(html.contains("<strong>Come lavora</strong>"), "{html}");
        assert!(
            html.contains("<ul>") && html.contains("<li>uno</li>"),
            "{html}"
        );
    }

    #[test]
    fn raw_html_and_scripts_stay_inert() {
        let html = to_safe_html(
            "<script>alert(1)</script>\n\n[x](javascript:alert(1)) <img src=x onerror=alert(1)> [ok](https://example.org)",
        );
        assert!(!html.contains("<script"), "{html}");
        assert!(html.contains("&lt;script&gt;"), "{html}");
        assert!(!html.contains("javascript:"), "{html}");
        assert!(!html.contains("<img"), "{html}");
        assert!(
            html.contains(r#"<a href="https://example.org" rel="nofollow noopener">ok</a>"#),
            "{html}"
        );
    }

    #[test]
    fn headings_move_below_the_page_title() {
        let html = to_safe_html("# Risultati\n\ntesto");
        assert!(html.contains("<h3>Risultati</h3>"), "{html}");
    }
}
