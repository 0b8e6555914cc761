//! Atom 1.0 documents (RFC 4287) with paging links (RFC 5005), written with
//! `quick-xml`: every text and attribute value is escaped by the writer, and
//! characters XML 1.0 cannot carry are dropped first. Pure: the handlers of
//! `crate::web::feeds` gather what a feed holds; this only writes it.

use std::io;

use quick_xml::events::{BytesDecl, BytesText, Event};
use quick_xml::Writer;
use seednet_protocol::Timestamp;

/// The Atom namespace.
pub const ATOM_NAMESPACE: &str = "http://www.w3.org/2005/Atom";
/// The media type of an Atom feed.
pub const ATOM_MEDIA_TYPE: &str = "application/atom+xml";

/// A category of an entry (`<category term scheme label>`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Category {
    pub term: String,
    /// An absolute IRI naming the vocabulary.
    pub scheme: String,
    pub label: Option<String>,
}

/// One entry of a feed.
#[derive(Debug, Clone)]
pub struct Entry {
    /// A permanent, absolute IRI.
    pub id: String,
    pub title: String,
    /// Plain text.
    pub summary: String,
    pub author: String,
    /// The language of title and summary (`xml:lang`).
    pub lang: String,
    pub categories: Vec<Category>,
    pub updated: Timestamp,
    /// The entry's page (`rel="alternate"`, HTML).
    pub link: String,
}

/// A feed document: one page of a paged feed.
#[derive(Debug, Clone)]
pub struct Feed {
    /// A permanent, absolute IRI: the feed's first page.
    pub id: String,
    pub title: String,
    /// The language of the feed's own texts (`xml:lang`).
    pub lang: String,
    /// The newest entry's time, or when the document was made.
    pub updated: Timestamp,
    /// This page's absolute address.
    pub self_url: String,
    /// The first page's absolute address (RFC 5005 `first`).
    pub first_url: String,
    /// The next, older page's absolute address (RFC 5005 `next`).
    pub next_url: Option<String>,
    /// The HTML page showing the same records.
    pub html_url: String,
    /// Who the feed is by when an entry names no one: the node's centre.
    pub author: String,
    pub entries: Vec<Entry>,
}

/// `text` without the characters XML 1.0 cannot carry (C0 controls other
/// than tab, line feed and carriage return; U+FFFE and U+FFFF).
pub fn xml_safe(text: &str) -> String {
    text.chars()
        .filter(|c| {
            matches!(*c, '\t' | '\n' | '\r' | '\u{20}'..='\u{D7FF}' | '\u{E000}'..='\u{FFFD}')
                || *c >= '\u{10000}'
        })
        .collect()
}

fn text_element(writer: &mut Writer<Vec<u8>>, name: &str, text: &str) -> io::Result<()> {
    writer
        .create_element(name)
        .write_text_content(BytesText::new(&xml_safe(text)))?;
    Ok(())
}

fn link(writer: &mut Writer<Vec<u8>>, rel: &str, media_type: &str, href: &str) -> io::Result<()> {
    writer
        .create_element("link")
        .with_attribute(("rel", rel))
        .with_attribute(("type", media_type))
        .with_attribute(("href", xml_safe(href).as_str()))
        .write_empty()?;
    Ok(())
}

fn author(writer: &mut Writer<Vec<u8>>, name: &str) -> io::Result<()> {
    writer
        .create_element("author")
        .write_inner_content(|writer| text_element(writer, "name", name))?;
    Ok(())
}

fn entry(writer: &mut Writer<Vec<u8>>, entry: &Entry) -> io::Result<()> {
    let lang = xml_safe(&entry.lang);
    writer
        .create_element("entry")
        .with_attribute(("xml:lang", lang.as_str()))
        .write_inner_content(|writer| {
            text_element(writer, "id", &entry.id)?;
            text_element(writer, "title", &entry.title)?;
            text_element(writer, "updated", &entry.updated.to_string())?;
            author(writer, &entry.author)?;
            link(writer, "alternate", "text/html", &entry.link)?;
            for category in &entry.categories {
                let term = xml_safe(&category.term);
                let scheme = xml_safe(&category.scheme);
                let label = category.label.as_deref().map(xml_safe);
                let element = writer
                    .create_element("category")
                    .with_attribute(("term", term.as_str()))
                    .with_attribute(("scheme", scheme.as_str()));
                match &label {
                    Some(label) => element.with_attribute(("label", label.as_str())),
                    None => element,
                }
                .write_empty()?;
            }
            writer
                .create_element("summary")
                .with_attribute(("type", "text"))
                .write_text_content(BytesText::new(&xml_safe(&entry.summary)))?;
            Ok(())
        })?;
    Ok(())
}

/// The feed as an Atom document, UTF-8.
pub fn render(feed: &Feed) -> String {
    let mut writer = Writer::new_with_indent(Vec::new(), b' ', 1);
    let written: io::Result<()> = (|| {
        writer.write_event(Event::Decl(BytesDecl::new("1.0", Some("utf-8"), None)))?;
        let lang = xml_safe(&feed.lang);
        writer
            .create_element("feed")
            .with_attribute(("xmlns", ATOM_NAMESPACE))
            .with_attribute(("xml:lang", lang.as_str()))
            .write_inner_content(|writer| {
                text_element(writer, "id", &feed.id)?;
                text_element(writer, "title", &feed.title)?;
                text_element(writer, "updated", &feed.updated.to_string())?;
                author(writer, &feed.author)?;
                writer
                    .create_element("generator")
                    .with_attribute(("version", env!("CARGO_PKG_VERSION")))
                    .write_text_content(BytesText::new("seednet"))?;
                link(writer, "self", ATOM_MEDIA_TYPE, &feed.self_url)?;
                link(writer, "first", ATOM_MEDIA_TYPE, &feed.first_url)?;
                if let Some(next) = &feed.next_url {
                    link(writer, "next", ATOM_MEDIA_TYPE, next)?;
                }
                link(writer, "alternate", "text/html", &feed.html_url)?;
                for item in &feed.entries {
                    entry(writer, item)?;
                }
                Ok(())
            })?;
        Ok(())
    })();
    written.expect("writing to memory cannot fail");
    String::from_utf8(writer.into_inner()).expect("the writer writes UTF-8")
}

#[cfg(test)]
mod tests {
    use super::*;
    use quick_xml::events::Event;
    use quick_xml::Reader;

    fn sample(title: &str) -> Feed {
        let at = Timestamp::from_unix_seconds(1_700_000_000).unwrap();
        Feed {
            id: "https://n.example/feed.atom".into(),
            title: "Feed & co".into(),
            lang: "it".into(),
            updated: at,
            self_url: "https://n.example/feed.atom?before=9&x=\"y\"".into(),
            first_url: "https://n.example/feed.atom".into(),
            next_url: Some("https://n.example/feed.atom?before=3".into()),
            html_url: "https://n.example/".into(),
            author: "Centro".into(),
            entries: vec![Entry {
                id: "https://n.example/records/a/b".into(),
                title: title.into(),
                summary: "a < b && c".into(),
                author: "Centro <IT>".into(),
                lang: "it".into(),
                categories: vec![Category {
                    term: "co-design".into(),
                    scheme: "https://n.example/?theme=".into(),
                    label: Some("Co-design \"x\"".into()),
                }],
                updated: at,
                link: "https://n.example/records/a/b".into(),
            }],
        }
    }

    /// The document's text content of every `name` element, parsed back.
    fn texts(document: &str, name: &str) -> Vec<String> {
        let mut reader = Reader::from_str(document);
        let mut inside = false;
        let mut found = Vec::new();
        loop {
            match reader.read_event().expect("well-formed XML") {
                Event::Start(start) if start.name().as_ref() == name.as_bytes() => inside = true,
                Event::Text(text) if inside => found.push(text.unescape().unwrap().into_owned()),
                Event::End(_) => inside = false,
                Event::Eof => return found,
                _ => {}
            }
        }
    }

    #[test]
    fn every_text_is_escaped_and_reads_back_as_written() {
        let title = "</title><script>alert(1)</script> ş ț Καρδίτσα";
        let document = render(&sample(title));
        assert!(!document.contains("<script>"), "{document}");
        assert_eq!(texts(&document, "title"), vec!["Feed & co", title]);
        assert_eq!(texts(&document, "summary"), vec!["a < b && c"]);
        assert!(document.contains(r#"<link rel="next" type="application/atom+xml" href="https://n.example/feed.atom?before=3"/>"#), "{document}");
        assert!(document.starts_with("<?xml version=\"1.0\" encoding=\"utf-8\"?>"));
    }

    #[test]
    fn characters_xml_cannot_carry_are_dropped() {
        let document = render(&sample("bell\u{7} and nul\u{0}"));
        assert_eq!(texts(&document, "title")[1], "bell and nul");
    }
}
