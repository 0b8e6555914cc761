//! Import and export in open formats, so a centre's knowledge is never locked
//! in.
//!
//! Import reads CSV (header in `docs/OPERATIONS.md`), a JSON array or JSON
//! lines. Each entry is either record content (published as a new record) or
//! a signed record `{"signed", "signature"}` as written by the JSON-lines
//! export (applied as is after verification: this is how a backup is
//! restored). Parsing checks every row and reports each problem as
//! `line N: <field>: <reason>`; the caller decides whether to import anything.
//!
//! Export writes JSON lines of signed records (exact bytes, tombstones
//! included: a complete, verifiable backup), CSV (live records, one row each)
//! or JSON-LD with the schema.org vocabulary.

use std::fmt;
use std::io::Write;

use seednet_protocol::{DecodeError, Record, RecordContent, Signed, SignedWire};
use serde_json::{json, Map, Value};

use crate::schema_org::{self, SCHEMA_ORG_CONTEXT};

/// Largest file `seednet import` reads.
pub const IMPORT_FILE_BYTES_MAX: usize = 256 * 1024 * 1024;
/// Most entries one import may hold.
pub const IMPORT_ENTRIES_MAX: usize = 100_000;
/// Most problems reported for one file (the rest are counted).
pub const IMPORT_ERRORS_SHOWN_MAX: usize = 1_000;

/// Columns of the CSV format, in export order. `origin`, `id` and `version`
/// are written by export and ignored by import (import always creates new
/// records). List columns separate entries with `;`; `organisations` entries
/// are `name|role|url`, `links` entries `url|title`, `funding` entries
/// `source:programme`.
pub const CSV_COLUMNS: &[&str] = &[
    "origin",
    "id",
    "version",
    "kind",
    "lang",
    "title",
    "summary",
    "body",
    "themes",
    "country",
    "region",
    "target_groups",
    "target_group_tags",
    "sdgs",
    "funding",
    "organisations",
    "contact_name",
    "contact_email",
    "contact_url",
    "year_start",
    "year_end",
    "links",
    "license",
    "tags",
    "challenge",
    "approach",
    "results",
    "lessons",
    "transferability",
    "resources",
];
/// Columns a CSV import file must have.
pub const CSV_REQUIRED_COLUMNS: &[&str] = &[
    "kind",
    "lang",
    "title",
    "summary",
    "body",
    "themes",
    "country",
    "year_start",
];
const CSV_IGNORED_COLUMNS: &[&str] = &["origin", "id", "version"];
const SECTION_COLUMNS: &[&str] = &[
    "challenge",
    "approach",
    "results",
    "lessons",
    "transferability",
    "resources",
];

/// The formats `seednet import` reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum ImportFormat {
    Csv,
    Json,
    Jsonl,
}

/// The formats `seednet export` writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum ExportFormat {
    Jsonl,
    Csv,
    Jsonld,
}

/// One entry of an import file.
#[derive(Debug, Clone)]
pub enum ImportEntry {
    /// Editor content: published as a new record of this node.
    Content(Box<RecordContent>),
    /// A signed record (from an export): applied as is.
    Signed(Box<Signed<Record>>),
}

/// An entry with the line it starts on.
#[derive(Debug, Clone)]
pub struct ImportRow {
    pub line: usize,
    pub entry: ImportEntry,
}

/// One problem with one row.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RowError {
    pub line: usize,
    pub field: String,
    pub reason: String,
}

impl fmt::Display for RowError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "line {}: {}: {}", self.line, self.field, self.reason)
    }
}

/// The good rows and the problems of a file.
#[derive(Debug, Default)]
pub struct ParsedImport {
    pub rows: Vec<ImportRow>,
    pub errors: Vec<RowError>,
}

/// A file that cannot be imported at all.
#[derive(Debug, thiserror::Error)]
pub enum ImportError {
    #[error("the file is {actual} bytes, over the limit of {max}")]
    TooLarge { max: usize, actual: usize },
    #[error("the file has more than {max} entries")]
    TooMany { max: usize },
    #[error("{0}")]
    File(RowError),
}

/// Guesses the format from the file name, then from the first character.
pub fn detect_format(file_name: &str, text: &str) -> ImportFormat {
    let lower = file_name.to_ascii_lowercase();
    if lower.ends_with(".csv") {
        ImportFormat::Csv
    } else if lower.ends_with(".jsonl") || lower.ends_with(".ndjson") {
        ImportFormat::Jsonl
    } else if lower.ends_with(".json") {
        ImportFormat::Json
    } else {
        match text.trim_start().chars().next() {
            Some('[') => ImportFormat::Json,
            Some('{') => ImportFormat::Jsonl,
            _ => ImportFormat::Csv,
        }
    }
}

/// Parses a whole import file.
pub fn parse_import(text: &str, format: ImportFormat) -> Result<ParsedImport, ImportError> {
    if text.len() > IMPORT_FILE_BYTES_MAX {
        return Err(ImportError::TooLarge {
            max: IMPORT_FILE_BYTES_MAX,
            actual: text.len(),
        });
    }
    let parsed = match format {
        ImportFormat::Csv => parse_csv(text)?,
        ImportFormat::Json => parse_json_array(text)?,
        ImportFormat::Jsonl => parse_json_lines(text)?,
    };
    if parsed.rows.len() > IMPORT_ENTRIES_MAX {
        return Err(ImportError::TooMany {
            max: IMPORT_ENTRIES_MAX,
        });
    }
    Ok(parsed)
}

fn file_error(line: usize, field: &str, reason: impl Into<String>) -> ImportError {
    ImportError::File(RowError {
        line,
        field: field.to_string(),
        reason: reason.into(),
    })
}

/// Decodes one JSON entry: signed record or content.
fn decode_entry(line: usize, json: &str, parsed: &mut ParsedImport) {
    let value: Value = match serde_json::from_str(json) {
        Ok(value) => value,
        Err(error) => {
            parsed.errors.push(RowError {
                line,
                field: "record".into(),
                reason: format!("invalid JSON: {}", strip_position(&error.to_string())),
            });
            return;
        }
    };
    let is_signed = value
        .as_object()
        .is_some_and(|object| object.contains_key("signed") && object.contains_key("signature"));
    if is_signed {
        let verified = serde_json::from_str::<SignedWire>(json)
            .map_err(|e| e.to_string())
            .and_then(|wire| Signed::<Record>::from_wire(&wire).map_err(|e| e.to_string()));
        match verified {
            Ok(signed) => parsed.rows.push(ImportRow {
                line,
                entry: ImportEntry::Signed(Box::new(signed)),
            }),
            Err(reason) => parsed.errors.push(RowError {
                line,
                field: "signed".into(),
                reason,
            }),
        }
        return;
    }
    decode_content(line, json.as_bytes(), parsed);
}

/// Decodes and validates content, one error per broken rule.
fn decode_content(line: usize, json: &[u8], parsed: &mut ParsedImport) {
    let content = match RecordContent::from_json(json) {
        Ok(content) => content,
        Err(DecodeError::Shape { path, message }) => {
            let field = if path == "$" || path == "." {
                "record".to_string()
            } else {
                path
            };
            parsed.errors.push(RowError {
                line,
                field,
                reason: strip_position(&message),
            });
            return;
        }
        Err(other) => {
            parsed.errors.push(RowError {
                line,
                field: "record".into(),
                reason: other.to_string(),
            });
            return;
        }
    };
    match content.validate() {
        Ok(()) => parsed.rows.push(ImportRow {
            line,
            entry: ImportEntry::Content(Box::new(content)),
        }),
        Err(errors) => {
            for rule in errors.0 {
                parsed.errors.push(RowError {
                    line,
                    field: rule.field().to_string(),
                    reason: rule.to_string(),
                });
            }
        }
    }
}

/// serde's " at line L column C" counts within one entry, not the file.
fn strip_position(message: &str) -> String {
    match message.rfind(" at line ") {
        Some(index) => message[..index].to_string(),
        None => message.to_string(),
    }
}

fn parse_json_lines(text: &str) -> Result<ParsedImport, ImportError> {
    let mut parsed = ParsedImport::default();
    for (index, line) in text.lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        if parsed.rows.len() + parsed.errors.len() >= IMPORT_ENTRIES_MAX {
            return Err(ImportError::TooMany {
                max: IMPORT_ENTRIES_MAX,
            });
        }
        decode_entry(index + 1, line, &mut parsed);
    }
    Ok(parsed)
}

fn parse_json_array(text: &str) -> Result<ParsedImport, ImportError> {
    let entries: Vec<&serde_json::value::RawValue> = serde_json::from_str(text).map_err(|e| {
        file_error(
            e.line(),
            "file",
            format!("not a JSON array of records: {e}"),
        )
    })?;
    if entries.len() > IMPORT_ENTRIES_MAX {
        return Err(ImportError::TooMany {
            max: IMPORT_ENTRIES_MAX,
        });
    }
    let mut parsed = ParsedImport::default();
    for entry in entries {
        let json = entry.get();
        // RawValue borrows from `text`, so its offset gives the line.
        let offset = json.as_ptr() as usize - text.as_ptr() as usize;
        let line = text[..offset].matches('\n').count() + 1;
        decode_entry(line, json, &mut parsed);
    }
    Ok(parsed)
}

fn split_list(text: &str) -> Vec<&str> {
    text.split(';')
        .map(str::trim)
        .filter(|part| !part.is_empty())
        .collect()
}

/// Turns one CSV row into the JSON object of record content.
fn csv_row_to_json(
    headers: &[String],
    row: &csv::StringRecord,
) -> Result<Map<String, Value>, (String, String)> {
    let mut object = Map::new();
    let mut contact = Map::new();
    let mut sections = Map::new();
    for (name, value) in headers.iter().zip(row.iter()) {
        let value = value.trim();
        let name = name.as_str();
        if CSV_IGNORED_COLUMNS.contains(&name) {
            continue;
        }
        let required = CSV_REQUIRED_COLUMNS.contains(&name);
        if value.is_empty() && !required {
            continue;
        }
        let field = |v: Value| (name.to_string(), v);
        let (key, json_value) = match name {
            "themes" | "target_groups" | "target_group_tags" | "tags" => {
                field(json!(split_list(value)))
            }
            "sdgs" => {
                let mut numbers = Vec::new();
                for part in split_list(value) {
                    let number: i64 = part.parse().map_err(|_| {
                        (name.to_string(), format!("{part:?} is not a whole number"))
                    })?;
                    numbers.push(number);
                }
                field(json!(numbers))
            }
            "year_start" | "year_end" => {
                let number: i64 = value.parse().map_err(|_| {
                    (
                        name.to_string(),
                        format!("{value:?} is not a year like 2023"),
                    )
                })?;
                field(json!(number))
            }
            "funding" => {
                let entries: Vec<Value> = split_list(value)
                    .into_iter()
                    .map(|entry| match entry.split_once(':') {
                        Some((source, programme)) => {
                            json!({"source": source.trim(), "programme": programme.trim()})
                        }
                        None => json!({"source": entry}),
                    })
                    .collect();
                field(json!(entries))
            }
            "organisations" => {
                let mut entries = Vec::new();
                for entry in split_list(value) {
                    let parts: Vec<&str> = entry.split('|').map(str::trim).collect();
                    match parts.as_slice() {
                        [org_name, role] => entries.push(json!({"name": org_name, "role": role})),
                        [org_name, role, url] => {
                            entries.push(json!({"name": org_name, "role": role, "url": url}))
                        }
                        _ => {
                            return Err((
                                name.to_string(),
                                format!("{entry:?} is not name|role or name|role|url"),
                            ))
                        }
                    }
                }
                field(json!(entries))
            }
            "links" => {
                let entries: Vec<Value> = split_list(value)
                    .into_iter()
                    .map(|entry| match entry.split_once('|') {
                        Some((url, title)) => json!({"url": url.trim(), "title": title.trim()}),
                        None => json!({"url": entry}),
                    })
                    .collect();
                field(json!(entries))
            }
            "contact_name" | "contact_email" | "contact_url" => {
                let key = name.trim_start_matches("contact_");
                contact.insert(key.to_string(), json!(value));
                continue;
            }
            section if SECTION_COLUMNS.contains(&section) => {
                sections.insert(section.to_string(), json!(value));
                continue;
            }
            _ => field(json!(value)),
        };
        object.insert(key, json_value);
    }
    if !contact.is_empty() {
        object.insert("contact".into(), Value::Object(contact));
    }
    if !sections.is_empty() {
        object.insert("sections".into(), Value::Object(sections));
    }
    Ok(object)
}

fn parse_csv(text: &str) -> Result<ParsedImport, ImportError> {
    let mut reader = csv::ReaderBuilder::new()
        .flexible(false)
        .from_reader(text.as_bytes());
    let headers: Vec<String> = reader
        .headers()
        .map_err(|e| file_error(1, "header", e.to_string()))?
        .iter()
        .map(|h| h.trim().to_string())
        .collect();
    for header in &headers {
        if !CSV_COLUMNS.contains(&header.as_str()) {
            return Err(file_error(
                1,
                "header",
                format!(
                    "unknown column {header:?}; known columns: {}",
                    CSV_COLUMNS.join(",")
                ),
            ));
        }
    }
    for required in CSV_REQUIRED_COLUMNS {
        if !headers.iter().any(|h| h == required) {
            return Err(file_error(
                1,
                "header",
                format!("missing required column {required:?}"),
            ));
        }
    }
    let mut parsed = ParsedImport::default();
    for result in reader.records() {
        if parsed.rows.len() + parsed.errors.len() >= IMPORT_ENTRIES_MAX {
            return Err(ImportError::TooMany {
                max: IMPORT_ENTRIES_MAX,
            });
        }
        let row = match result {
            Ok(row) => row,
            Err(error) => {
                let line = error
                    .position()
                    .map(|p| p.line() as usize)
                    .unwrap_or_default();
                parsed.errors.push(RowError {
                    line,
                    field: "row".into(),
                    reason: error.to_string(),
                });
                continue;
            }
        };
        let line = row
            .position()
            .map(|p| p.line() as usize)
            .unwrap_or_default();
        match csv_row_to_json(&headers, &row) {
            Ok(object) => {
                let json = serde_json::to_vec(&Value::Object(object)).expect("JSON serialises");
                decode_content(line, &json, &mut parsed);
            }
            Err((field, reason)) => parsed.errors.push(RowError {
                line,
                field,
                reason,
            }),
        }
    }
    Ok(parsed)
}

// ------------------------------------------------------------------ export

/// Where export output goes: plain bytes, or a CSV writer owning them.
enum Sink<W: Write> {
    Plain(W),
    Csv(Box<csv::Writer<W>>),
}

/// Writes records one by one in one export format.
pub struct ExportWriter<W: Write> {
    format: ExportFormat,
    sink: Sink<W>,
    public_url: String,
    written: usize,
}

impl<W: Write> ExportWriter<W> {
    /// Starts an export; `public_url` makes JSON-LD `@id`s absolute.
    pub fn new(format: ExportFormat, mut out: W, public_url: &str) -> std::io::Result<Self> {
        let sink = match format {
            ExportFormat::Jsonl => Sink::Plain(out),
            ExportFormat::Jsonld => {
                out.write_all(
                    format!("{{\"@context\":\"{SCHEMA_ORG_CONTEXT}\",\"@graph\":[\n").as_bytes(),
                )?;
                Sink::Plain(out)
            }
            ExportFormat::Csv => {
                let mut writer = csv::Writer::from_writer(out);
                writer.write_record(CSV_COLUMNS).map_err(csv_io)?;
                Sink::Csv(Box::new(writer))
            }
        };
        Ok(ExportWriter {
            format,
            sink,
            public_url: public_url.trim_end_matches('/').to_string(),
            written: 0,
        })
    }

    /// Writes one record. CSV and JSON-LD skip tombstones; JSON lines keeps
    /// them (a backup must carry deletions). Returns whether it was written.
    pub fn write(&mut self, signed: &Signed<Record>) -> std::io::Result<bool> {
        let record = signed.value();
        match (&mut self.sink, self.format) {
            (Sink::Plain(out), ExportFormat::Jsonl) => {
                let line = serde_json::to_string(&signed.to_wire()).expect("wire serialises");
                out.write_all(line.as_bytes())?;
                out.write_all(b"\n")?;
            }
            (Sink::Csv(writer), _) => {
                let Some(content) = record.content() else {
                    return Ok(false);
                };
                writer
                    .write_record(csv_row(record, content))
                    .map_err(csv_io)?;
            }
            (Sink::Plain(out), _) => {
                let Some(content) = record.content() else {
                    return Ok(false);
                };
                let node = schema_org::creative_work(record, content, &self.public_url, None);
                if self.written > 0 {
                    out.write_all(b",\n")?;
                }
                out.write_all(serde_json::to_string(&node).expect("JSON").as_bytes())?;
            }
        }
        self.written += 1;
        Ok(true)
    }

    /// Finishes the document and flushes; returns how many records were written.
    pub fn finish(self) -> std::io::Result<usize> {
        match self.sink {
            Sink::Plain(mut out) => {
                if self.format == ExportFormat::Jsonld {
                    out.write_all(b"\n]}\n")?;
                }
                out.flush()?;
            }
            Sink::Csv(mut writer) => writer.flush()?,
        }
        Ok(self.written)
    }
}

fn csv_io(error: csv::Error) -> std::io::Error {
    std::io::Error::other(error.to_string())
}

fn join<T: AsRef<str>>(values: impl IntoIterator<Item = T>) -> String {
    values
        .into_iter()
        .map(|v| v.as_ref().to_string())
        .collect::<Vec<_>>()
        .join(";")
}

fn csv_row(record: &Record, content: &RecordContent) -> Vec<String> {
    let contact = content.contact.clone().unwrap_or_default();
    let mut row = vec![
        record.key.origin.to_string(),
        record.key.id.to_string(),
        record.version.to_string(),
        content.kind.to_string(),
        content.lang.to_string(),
        content.title.clone(),
        content.summary.clone(),
        content.body.clone(),
        join(content.themes.iter().map(|t| t.as_str())),
        content.country.to_string(),
        content.region.clone().unwrap_or_default(),
        join(content.target_groups.iter().map(|t| t.as_str())),
        join(&content.target_group_tags),
        join(content.sdgs.iter().map(|n| n.to_string())),
        join(content.funding.iter().map(|f| {
            let source = serde_json::to_value(f.source).expect("slug");
            let source = source.as_str().unwrap_or_default().to_string();
            match &f.programme {
                Some(programme) => format!("{source}:{programme}"),
                None => source,
            }
        })),
        join(content.organisations.iter().map(|o| match &o.url {
            Some(url) => format!("{}|{}|{url}", o.name, o.role),
            None => format!("{}|{}", o.name, o.role),
        })),
        contact.name.unwrap_or_default(),
        contact.email.unwrap_or_default(),
        contact.url.unwrap_or_default(),
        content.year_start.to_string(),
        content.year_end.map(|y| y.to_string()).unwrap_or_default(),
        join(content.links.iter().map(|l| match &l.title {
            Some(title) => format!("{}|{title}", l.url),
            None => l.url.clone(),
        })),
        content.license.clone(),
        join(&content.tags),
    ];
    for (_, text) in content.sections.named() {
        row.push(text.unwrap_or_default().to_string());
    }
    row
}
