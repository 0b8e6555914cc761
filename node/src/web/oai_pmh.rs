//! OAI-PMH 2.0, the pure part: what a request asks (arguments checked as the
//! specification says, each refusal with its error code), the stateless
//! resumption tokens, and the XML of a response, written with `quick-xml`
//! (every text and attribute escaped by the writer, characters XML 1.0
//! cannot carry dropped first with `atom::xml_safe`). The handler of
//! `crate::web::oai` gathers the records; this module decides nothing that
//! needs storage.
//!
//! Why stateless tokens: a token carries the whole list request (format,
//! set, `from`, `until`) and the position reached in this node's change log,
//! so it survives restarts and concurrent writes (a record changed between
//! two pages moves to a later position of the log and is listed there), and
//! the node keeps nothing per harvester.

use std::io;

use quick_xml::events::{BytesDecl, BytesText, Event};
use quick_xml::Writer;
use seednet_protocol::{CountryCode, Kind, NodeId, Record, RecordId, RecordKey, Theme, Timestamp};

use super::atom::xml_safe;

/// The OAI-PMH namespace.
pub const OAI_NAMESPACE: &str = "http://www.openarchives.org/OAI/2.0/";
/// Where the OAI-PMH schema is published.
pub const OAI_SCHEMA: &str = "http://www.openarchives.org/OAI/2.0/OAI-PMH.xsd";
/// The `oai_dc` container's namespace and schema.
pub const OAI_DC_NAMESPACE: &str = "http://www.openarchives.org/OAI/2.0/oai_dc/";
pub const OAI_DC_SCHEMA: &str = "http://www.openarchives.org/OAI/2.0/oai_dc.xsd";
/// Dublin Core elements 1.1.
pub const DC_NAMESPACE: &str = "http://purl.org/dc/elements/1.1/";
pub const XSI_NAMESPACE: &str = "http://www.w3.org/2001/XMLSchema-instance";
/// The namespace of the `schema_org` format: the record's schema.org JSON-LD
/// document as the text of one element.
pub const SCHEMA_ORG_FORMAT_NAMESPACE: &str = "urn:seednet:oai:schema-org-json-ld:1";
/// The path (under the node's public URL) of that format's XML schema.
pub const SCHEMA_ORG_FORMAT_SCHEMA_PATH: &str = "/oai/schema-org-json-ld.xsd";

/// Most records (or headers) in one list response; a longer list continues
/// with a resumption token.
pub const OAI_PAGE_RECORDS_MAX: usize = 50;
/// How long a resumption token is accepted after it was issued.
pub const RESUMPTION_TOKEN_LIFETIME_SECS: i64 = 24 * 60 * 60;
/// Most bytes of a resumption token or of any one argument accepted.
pub const ARGUMENT_BYTES_MAX: usize = 1_024;
/// The version tag a token starts with.
const TOKEN_VERSION: &str = "v1";

/// The six requests of the protocol.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verb {
    Identify,
    ListMetadataFormats,
    ListSets,
    ListIdentifiers,
    ListRecords,
    GetRecord,
}

impl Verb {
    pub const ALL: [Verb; 6] = [
        Verb::Identify,
        Verb::ListMetadataFormats,
        Verb::ListSets,
        Verb::ListIdentifiers,
        Verb::ListRecords,
        Verb::GetRecord,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Verb::Identify => "Identify",
            Verb::ListMetadataFormats => "ListMetadataFormats",
            Verb::ListSets => "ListSets",
            Verb::ListIdentifiers => "ListIdentifiers",
            Verb::ListRecords => "ListRecords",
            Verb::GetRecord => "GetRecord",
        }
    }

    /// The arguments the verb accepts besides `verb`.
    fn arguments(self) -> &'static [&'static str] {
        match self {
            Verb::Identify => &[],
            Verb::ListMetadataFormats => &["identifier"],
            Verb::ListSets => &["resumptionToken"],
            Verb::ListIdentifiers | Verb::ListRecords => {
                &["metadataPrefix", "from", "until", "set", "resumptionToken"]
            }
            Verb::GetRecord => &["identifier", "metadataPrefix"],
        }
    }
}

/// The metadata formats this node disseminates, for every record.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MetadataFormat {
    /// Unqualified Dublin Core (required by the specification).
    OaiDc,
    /// The record's schema.org JSON-LD document (`crate::schema_org`).
    SchemaOrg,
}

impl MetadataFormat {
    pub const ALL: [MetadataFormat; 2] = [MetadataFormat::OaiDc, MetadataFormat::SchemaOrg];

    pub fn prefix(self) -> &'static str {
        match self {
            MetadataFormat::OaiDc => "oai_dc",
            MetadataFormat::SchemaOrg => "schema_org",
        }
    }

    fn parse(prefix: &str) -> Option<Self> {
        MetadataFormat::ALL
            .into_iter()
            .find(|format| format.prefix() == prefix)
    }
}

/// A set: records of one origin centre, country, competence area or kind.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SetSpec {
    Origin(NodeId),
    Country(CountryCode),
    Theme(Theme),
    Kind(Kind),
}

impl SetSpec {
    /// `origin:HEX`, `country:IT`, `theme:co-design`, `kind:practice`.
    pub fn parse(text: &str) -> Option<Self> {
        let (family, value) = text.split_once(':')?;
        match family {
            "origin" => value.parse().ok().map(SetSpec::Origin),
            "country" => CountryCode::parse(value).map(SetSpec::Country),
            "theme" => value.parse().ok().map(SetSpec::Theme),
            "kind" => value.parse().ok().map(SetSpec::Kind),
            _ => None,
        }
    }
}

impl std::fmt::Display for SetSpec {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            SetSpec::Origin(origin) => write!(f, "origin:{origin}"),
            SetSpec::Country(country) => write!(f, "country:{}", country.as_str()),
            SetSpec::Theme(theme) => write!(f, "theme:{}", theme.as_str()),
            SetSpec::Kind(kind) => write!(f, "kind:{}", kind.as_str()),
        }
    }
}

impl SetSpec {
    /// Whether `record` belongs to the set. A tombstone carries no content,
    /// so it is in its origin's set and in every country, theme and kind
    /// set: a selective harvester learns of every deletion (and ignores the
    /// ones of records it never had).
    pub fn contains(&self, record: &Record) -> bool {
        if let SetSpec::Origin(origin) = self {
            return record.key.origin == *origin;
        }
        let Some(content) = record.content() else {
            return true;
        };
        match self {
            SetSpec::Origin(_) => unreachable!("handled above"),
            SetSpec::Country(country) => content.country == *country,
            SetSpec::Theme(theme) => content.themes.contains(theme),
            SetSpec::Kind(kind) => content.kind == *kind,
        }
    }

    /// The sets a record's header names: its origin, and for a live version
    /// its country, competence areas and kind.
    pub fn of(record: &Record) -> Vec<SetSpec> {
        let mut sets = vec![SetSpec::Origin(record.key.origin)];
        if let Some(content) = record.content() {
            sets.push(SetSpec::Country(content.country));
            sets.extend(content.themes.iter().copied().map(SetSpec::Theme));
            sets.push(SetSpec::Kind(content.kind));
        }
        sets
    }
}

/// The arguments of a list request, as the harvester gave them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListArguments {
    pub format: MetadataFormat,
    pub set: Option<SetSpec>,
    /// Inclusive bounds in Unix seconds (a day's `until` is its last second).
    pub from: Option<i64>,
    pub until: Option<i64>,
}

/// Where a list request starts: fresh, or where a token says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListStart {
    pub arguments: ListArguments,
    /// The position in the change log reached so far (0 on the first page).
    pub after_seq: u64,
    /// How many records the earlier pages returned.
    pub cursor: u64,
    /// The size of the complete list as counted on the first page.
    pub complete_list_size: Option<u64>,
    /// Whether this came from a resumption token.
    pub resumed: bool,
}

/// One checked request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Request {
    Identify,
    ListMetadataFormats {
        identifier: Option<RecordKey>,
    },
    ListSets,
    ListIdentifiers(ListStart),
    ListRecords(ListStart),
    GetRecord {
        key: RecordKey,
        format: MetadataFormat,
    },
}

/// An OAI-PMH error condition, with its message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OaiError {
    BadArgument(String),
    BadVerb(String),
    BadResumptionToken(String),
    CannotDisseminateFormat(String),
    IdDoesNotExist(String),
    NoRecordsMatch,
    NoMetadataFormats,
    NoSetHierarchy,
}

impl OaiError {
    pub fn code(&self) -> &'static str {
        match self {
            OaiError::BadArgument(_) => "badArgument",
            OaiError::BadVerb(_) => "badVerb",
            OaiError::BadResumptionToken(_) => "badResumptionToken",
            OaiError::CannotDisseminateFormat(_) => "cannotDisseminateFormat",
            OaiError::IdDoesNotExist(_) => "idDoesNotExist",
            OaiError::NoRecordsMatch => "noRecordsMatch",
            OaiError::NoMetadataFormats => "noMetadataFormats",
            OaiError::NoSetHierarchy => "noSetHierarchy",
        }
    }

    pub fn message(&self) -> String {
        match self {
            OaiError::BadArgument(message)
            | OaiError::BadVerb(message)
            | OaiError::BadResumptionToken(message)
            | OaiError::CannotDisseminateFormat(message)
            | OaiError::IdDoesNotExist(message) => message.clone(),
            OaiError::NoRecordsMatch => "no record matches the request".into(),
            OaiError::NoMetadataFormats => "the item has no metadata format".into(),
            OaiError::NoSetHierarchy => "this repository has no sets".into(),
        }
    }

    /// Whether the response's `request` element must leave out the
    /// arguments (the specification: for badVerb and badArgument).
    fn hides_arguments(&self) -> bool {
        matches!(self, OaiError::BadArgument(_) | OaiError::BadVerb(_))
    }
}

/// `oai:{host}:{origin}/{id}`: the OAI identifier of a record.
pub fn oai_identifier(host: &str, key: &RecordKey) -> String {
    format!("oai:{host}:{}/{}", key.origin, key.id)
}

/// The record key an identifier names on this node (`host`), if any.
pub fn parse_identifier(host: &str, identifier: &str) -> Option<RecordKey> {
    let rest = identifier.strip_prefix("oai:")?.strip_prefix(host)?;
    let (origin, id) = rest.strip_prefix(':')?.split_once('/')?;
    Some(RecordKey {
        origin: origin.parse().ok()?,
        id: RecordId::parse(id)?,
    })
}

/// A datestamp at second granularity, `YYYY-MM-DDThh:mm:ssZ`.
pub fn datestamp(unix_seconds: i64) -> String {
    match Timestamp::from_unix_seconds(unix_seconds) {
        Some(timestamp) => timestamp.to_string(),
        None => "1970-01-01T00:00:00Z".into(),
    }
}

/// Which granularity a `from` or `until` was written in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Granularity {
    Day,
    Second,
}

/// Parses a `from`/`until` value: the first second it names and its
/// granularity.
fn parse_date(text: &str) -> Option<(i64, Granularity)> {
    let bytes = text.as_bytes();
    let digits = |range: std::ops::Range<usize>| bytes[range].iter().all(u8::is_ascii_digit);
    let day_shape = bytes.len() >= 10
        && digits(0..4)
        && bytes[4] == b'-'
        && digits(5..7)
        && bytes[7] == b'-'
        && digits(8..10);
    if !day_shape {
        return None;
    }
    match bytes.len() {
        10 => {
            let midnight: Timestamp = format!("{text}T00:00:00Z").parse().ok()?;
            Some((midnight.unix_seconds(), Granularity::Day))
        }
        20 => {
            let second_shape = bytes[10] == b'T'
                && digits(11..13)
                && bytes[13] == b':'
                && digits(14..16)
                && bytes[16] == b':'
                && digits(17..19)
                && bytes[19] == b'Z';
            if !second_shape {
                return None;
            }
            let at: Timestamp = text.parse().ok()?;
            Some((at.unix_seconds(), Granularity::Second))
        }
        _ => None,
    }
}

/// The request's arguments, each once (`verb` included).
pub type Arguments = Vec<(String, String)>;

fn argument<'a>(arguments: &'a Arguments, name: &str) -> Option<&'a str> {
    arguments
        .iter()
        .find(|(have, _)| have == name)
        .map(|(_, value)| value.as_str())
}

/// Checks the arguments of one request (`host` the host of this node's
/// public URL, `now` the current Unix second for token expiry).
pub fn parse_request(arguments: &Arguments, host: &str, now: i64) -> Result<Request, OaiError> {
    let verbs: Vec<&str> = arguments
        .iter()
        .filter(|(name, _)| name == "verb")
        .map(|(_, value)| value.as_str())
        .collect();
    let verb = match verbs.as_slice() {
        [] => return Err(OaiError::BadVerb("the verb argument is missing".into())),
        [one] => Verb::ALL
            .into_iter()
            .find(|verb| verb.as_str() == *one)
            .ok_or_else(|| OaiError::BadVerb(format!("{one:?} is not an OAI-PMH verb")))?,
        _ => return Err(OaiError::BadVerb("the verb argument is repeated".into())),
    };
    for (index, (name, value)) in arguments.iter().enumerate() {
        if name == "verb" {
            continue;
        }
        if !verb.arguments().contains(&name.as_str()) {
            return Err(OaiError::BadArgument(format!(
                "{} does not take the argument {name:?}",
                verb.as_str()
            )));
        }
        if arguments[..index]
            .iter()
            .any(|(earlier, _)| earlier == name)
        {
            return Err(OaiError::BadArgument(format!(
                "the argument {name} is repeated"
            )));
        }
        if value.len() > ARGUMENT_BYTES_MAX {
            return Err(OaiError::BadArgument(format!(
                "the argument {name} is longer than {ARGUMENT_BYTES_MAX} bytes"
            )));
        }
    }
    let identifier = |required: bool| -> Result<Option<RecordKey>, OaiError> {
        match argument(arguments, "identifier") {
            None if required => Err(OaiError::BadArgument(
                "the identifier argument is missing".into(),
            )),
            None => Ok(None),
            Some(text) => parse_identifier(host, text).map(Some).ok_or_else(|| {
                OaiError::IdDoesNotExist(format!(
                    "{text:?} is not an identifier of this repository"
                ))
            }),
        }
    };
    match verb {
        Verb::Identify => Ok(Request::Identify),
        Verb::ListMetadataFormats => Ok(Request::ListMetadataFormats {
            identifier: identifier(false)?,
        }),
        Verb::ListSets => match argument(arguments, "resumptionToken") {
            // This node never issues a token for ListSets.
            Some(_) => Err(OaiError::BadResumptionToken(
                "ListSets is never continued".into(),
            )),
            None => Ok(Request::ListSets),
        },
        Verb::GetRecord => {
            let format = format_argument(arguments)?;
            let key = identifier(true)?.expect("required");
            Ok(Request::GetRecord { key, format })
        }
        Verb::ListIdentifiers | Verb::ListRecords => {
            let start = match argument(arguments, "resumptionToken") {
                Some(token) => {
                    if arguments.len() > 2 {
                        return Err(OaiError::BadArgument(
                            "resumptionToken is an exclusive argument".into(),
                        ));
                    }
                    decode_token(token, now)?
                }
                None => ListStart {
                    arguments: list_arguments(arguments)?,
                    after_seq: 0,
                    cursor: 0,
                    complete_list_size: None,
                    resumed: false,
                },
            };
            Ok(if verb == Verb::ListRecords {
                Request::ListRecords(start)
            } else {
                Request::ListIdentifiers(start)
            })
        }
    }
}

fn format_argument(arguments: &Arguments) -> Result<MetadataFormat, OaiError> {
    let prefix = argument(arguments, "metadataPrefix")
        .ok_or_else(|| OaiError::BadArgument("the metadataPrefix argument is missing".into()))?;
    MetadataFormat::parse(prefix).ok_or_else(|| {
        OaiError::CannotDisseminateFormat(format!(
            "{prefix:?} is not a format of this repository (oai_dc, schema_org)"
        ))
    })
}

fn list_arguments(arguments: &Arguments) -> Result<ListArguments, OaiError> {
    let format = format_argument(arguments)?;
    let date = |name: &str| -> Result<Option<(i64, Granularity)>, OaiError> {
        match argument(arguments, name) {
            None => Ok(None),
            Some(text) => parse_date(text).map(Some).ok_or_else(|| {
                OaiError::BadArgument(format!(
                    "{name} must be YYYY-MM-DD or YYYY-MM-DDThh:mm:ssZ, not {text:?}"
                ))
            }),
        }
    };
    let from = date("from")?;
    let until = date("until")?;
    if let (Some((_, from_granularity)), Some((_, until_granularity))) = (from, until) {
        if from_granularity != until_granularity {
            return Err(OaiError::BadArgument(
                "from and until must have the same granularity".into(),
            ));
        }
    }
    // A day's `until` includes the whole day.
    let until = until.map(|(seconds, granularity)| match granularity {
        Granularity::Day => seconds + 86_399,
        Granularity::Second => seconds,
    });
    let from = from.map(|(seconds, _)| seconds);
    if let (Some(from), Some(until)) = (from, until) {
        if from > until {
            return Err(OaiError::BadArgument("from is later than until".into()));
        }
    }
    let set = match argument(arguments, "set") {
        None => None,
        Some(text) => Some(SetSpec::parse(text).ok_or_else(|| {
            OaiError::BadArgument(format!(
                "{text:?} is not a set of this repository (origin:HEX, country:CC, theme:SLUG, kind:SLUG)"
            ))
        })?),
    };
    Ok(ListArguments {
        format,
        set,
        from,
        until,
    })
}

/// The token continuing a list after `start`'s arguments at `after_seq`,
/// issued at `now`: `v1!prefix!set!from!until!after!cursor!size!expires`
/// (`-` for an absent value).
pub fn encode_token(
    arguments: &ListArguments,
    after_seq: u64,
    cursor: u64,
    complete_list_size: Option<u64>,
    expires_at: i64,
) -> String {
    let optional = |value: Option<String>| value.unwrap_or_else(|| "-".into());
    [
        TOKEN_VERSION.to_string(),
        arguments.format.prefix().to_string(),
        optional(arguments.set.map(|set| set.to_string())),
        optional(arguments.from.map(|from| from.to_string())),
        optional(arguments.until.map(|until| until.to_string())),
        after_seq.to_string(),
        cursor.to_string(),
        optional(complete_list_size.map(|size| size.to_string())),
        expires_at.to_string(),
    ]
    .join("!")
}

/// The list position a token names; badResumptionToken when it is not one
/// of this node's tokens or has expired.
pub fn decode_token(token: &str, now: i64) -> Result<ListStart, OaiError> {
    let bad = || OaiError::BadResumptionToken(format!("{token:?} is not a valid resumption token"));
    let parts: Vec<&str> = token.split('!').collect();
    let [version, prefix, set, from, until, after, cursor, size, expires] = parts.as_slice() else {
        return Err(bad());
    };
    if *version != TOKEN_VERSION {
        return Err(bad());
    }
    let number = |text: &str| text.parse::<i64>().map_err(|_| bad());
    let optional_number = |text: &str| match text {
        "-" => Ok(None),
        text => number(text).map(Some),
    };
    let count = |text: &str| text.parse::<u64>().map_err(|_| bad());
    let expires_at = number(expires)?;
    if expires_at < now {
        return Err(OaiError::BadResumptionToken(
            "the resumption token has expired: start the list again".into(),
        ));
    }
    let set = match *set {
        "-" => None,
        text => Some(SetSpec::parse(text).ok_or_else(bad)?),
    };
    Ok(ListStart {
        arguments: ListArguments {
            format: MetadataFormat::parse(prefix).ok_or_else(bad)?,
            set,
            from: optional_number(from)?,
            until: optional_number(until)?,
        },
        after_seq: count(after)?,
        cursor: count(cursor)?,
        complete_list_size: match *size {
            "-" => None,
            text => Some(count(text)?),
        },
        resumed: true,
    })
}

// ------------------------------------------------------------------ writing

/// A record's header.
#[derive(Debug, Clone)]
pub struct Header {
    pub identifier: String,
    /// When this node applied the version (Unix seconds).
    pub datestamp: i64,
    pub set_specs: Vec<String>,
    pub deleted: bool,
}

/// One Dublin Core element of an `oai_dc` record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DcElement {
    /// The element's local name (`title`, `creator`, …).
    pub name: &'static str,
    pub value: String,
    pub lang: Option<String>,
}

/// A record's metadata in the requested format.
#[derive(Debug, Clone)]
pub enum Metadata {
    Dc(Vec<DcElement>),
    /// The JSON-LD document's text.
    SchemaOrg(String),
}

/// A record: its header, and its metadata unless it is deleted.
#[derive(Debug, Clone)]
pub struct OaiRecord {
    pub header: Header,
    pub metadata: Option<Metadata>,
}

/// The `resumptionToken` element of an incomplete list (and of the last
/// page of one, with an empty token).
#[derive(Debug, Clone)]
pub struct TokenElement {
    pub token: String,
    pub cursor: u64,
    pub complete_list_size: Option<u64>,
    pub expires_at: Option<i64>,
}

/// What Identify says.
#[derive(Debug, Clone)]
pub struct Identity {
    pub repository_name: String,
    pub admin_email: Option<String>,
    pub earliest_datestamp: i64,
}

/// One set of ListSets.
#[derive(Debug, Clone)]
pub struct SetDescription {
    pub spec: String,
    pub name: String,
}

/// The body of a response.
#[derive(Debug, Clone)]
pub enum Body {
    Identify(Identity),
    ListMetadataFormats(Vec<MetadataFormat>),
    ListSets(Vec<SetDescription>),
    ListIdentifiers(Vec<Header>, Option<TokenElement>),
    ListRecords(Vec<OaiRecord>, Option<TokenElement>),
    GetRecord(OaiRecord),
    Error(OaiError),
}

/// A whole response.
#[derive(Debug, Clone)]
pub struct Response {
    pub response_date: i64,
    /// The base URL of the repository (`{public_url}/oai`).
    pub base_url: String,
    /// This node's public URL, without a final `/`.
    pub public_url: String,
    /// The request's arguments, echoed as attributes of `request` (left out
    /// for badVerb and badArgument).
    pub arguments: Arguments,
    pub body: Body,
}

type XmlResult = io::Result<()>;

fn text_element(writer: &mut Writer<Vec<u8>>, name: &str, text: &str) -> XmlResult {
    writer
        .create_element(name)
        .write_text_content(BytesText::new(&xml_safe(text)))?;
    Ok(())
}

fn header(writer: &mut Writer<Vec<u8>>, header: &Header) -> XmlResult {
    let element = writer.create_element("header");
    let element = if header.deleted {
        element.with_attribute(("status", "deleted"))
    } else {
        element
    };
    element.write_inner_content(|writer| {
        text_element(writer, "identifier", &header.identifier)?;
        text_element(writer, "datestamp", &datestamp(header.datestamp))?;
        for spec in &header.set_specs {
            text_element(writer, "setSpec", spec)?;
        }
        Ok(())
    })?;
    Ok(())
}

fn metadata(writer: &mut Writer<Vec<u8>>, metadata: &Metadata, public_url: &str) -> XmlResult {
    writer
        .create_element("metadata")
        .write_inner_content(|writer| {
            match metadata {
                Metadata::Dc(elements) => {
                    writer
                        .create_element("oai_dc:dc")
                        .with_attribute(("xmlns:oai_dc", OAI_DC_NAMESPACE))
                        .with_attribute(("xmlns:dc", DC_NAMESPACE))
                        .with_attribute(("xmlns:xsi", XSI_NAMESPACE))
                        .with_attribute((
                            "xsi:schemaLocation",
                            format!("{OAI_DC_NAMESPACE} {OAI_DC_SCHEMA}").as_str(),
                        ))
                        .write_inner_content(|writer| {
                            for element in elements {
                                let name = format!("dc:{}", element.name);
                                let value = xml_safe(&element.value);
                                let start = writer.create_element(name.as_str());
                                let lang = element.lang.as_deref().map(xml_safe);
                                match &lang {
                                    Some(lang) => start.with_attribute(("xml:lang", lang.as_str())),
                                    None => start,
                                }
                                .write_text_content(BytesText::new(&value))?;
                            }
                            Ok(())
                        })?;
                }
                Metadata::SchemaOrg(json) => {
                    let location = format!(
                        "{SCHEMA_ORG_FORMAT_NAMESPACE} {public_url}{SCHEMA_ORG_FORMAT_SCHEMA_PATH}"
                    );
                    writer
                        .create_element("jsonld")
                        .with_attribute(("xmlns", SCHEMA_ORG_FORMAT_NAMESPACE))
                        .with_attribute(("xmlns:xsi", XSI_NAMESPACE))
                        .with_attribute(("xsi:schemaLocation", location.as_str()))
                        .with_attribute(("type", "application/ld+json"))
                        .write_text_content(BytesText::new(&xml_safe(json)))?;
                }
            }
            Ok(())
        })?;
    Ok(())
}

fn record(writer: &mut Writer<Vec<u8>>, item: &OaiRecord, public_url: &str) -> XmlResult {
    writer
        .create_element("record")
        .write_inner_content(|writer| {
            header(writer, &item.header)?;
            if let Some(data) = &item.metadata {
                metadata(writer, data, public_url)?;
            }
            Ok(())
        })?;
    Ok(())
}

fn token(writer: &mut Writer<Vec<u8>>, token: &TokenElement) -> XmlResult {
    let cursor = token.cursor.to_string();
    let size = token.complete_list_size.map(|size| size.to_string());
    let expires = token.expires_at.map(datestamp);
    let mut element = writer
        .create_element("resumptionToken")
        .with_attribute(("cursor", cursor.as_str()));
    if let Some(size) = &size {
        element = element.with_attribute(("completeListSize", size.as_str()));
    }
    if let Some(expires) = &expires {
        element = element.with_attribute(("expirationDate", expires.as_str()));
    }
    if token.token.is_empty() {
        element.write_empty()?;
    } else {
        element.write_text_content(BytesText::new(&xml_safe(&token.token)))?;
    }
    Ok(())
}

fn format_description(
    writer: &mut Writer<Vec<u8>>,
    format: MetadataFormat,
    public_url: &str,
) -> XmlResult {
    let (schema, namespace) = match format {
        MetadataFormat::OaiDc => (OAI_DC_SCHEMA.to_string(), OAI_DC_NAMESPACE),
        MetadataFormat::SchemaOrg => (
            format!("{public_url}{SCHEMA_ORG_FORMAT_SCHEMA_PATH}"),
            SCHEMA_ORG_FORMAT_NAMESPACE,
        ),
    };
    writer
        .create_element("metadataFormat")
        .write_inner_content(|writer| {
            text_element(writer, "metadataPrefix", format.prefix())?;
            text_element(writer, "schema", &schema)?;
            text_element(writer, "metadataNamespace", namespace)
        })?;
    Ok(())
}

fn body(writer: &mut Writer<Vec<u8>>, response: &Response) -> XmlResult {
    let public_url = response.public_url.as_str();
    match &response.body {
        Body::Error(error) => {
            writer
                .create_element("error")
                .with_attribute(("code", error.code()))
                .write_text_content(BytesText::new(&xml_safe(&error.message())))?;
        }
        Body::Identify(identity) => {
            writer
                .create_element("Identify")
                .write_inner_content(|writer| {
                    text_element(writer, "repositoryName", &identity.repository_name)?;
                    text_element(writer, "baseURL", &response.base_url)?;
                    text_element(writer, "protocolVersion", "2.0")?;
                    // The specification requires one adminEmail.
                    let email = identity
                        .admin_email
                        .clone()
                        .unwrap_or_else(|| "admin@invalid".to_string());
                    text_element(writer, "adminEmail", &email)?;
                    text_element(
                        writer,
                        "earliestDatestamp",
                        &datestamp(identity.earliest_datestamp),
                    )?;
                    text_element(writer, "deletedRecord", "persistent")?;
                    text_element(writer, "granularity", "YYYY-MM-DDThh:mm:ssZ")
                })?;
        }
        Body::ListMetadataFormats(formats) => {
            writer
                .create_element("ListMetadataFormats")
                .write_inner_content(|writer| {
                    for format in formats {
                        format_description(writer, *format, public_url)?;
                    }
                    Ok(())
                })?;
        }
        Body::ListSets(sets) => {
            writer
                .create_element("ListSets")
                .write_inner_content(|writer| {
                    for set in sets {
                        writer.create_element("set").write_inner_content(|writer| {
                            text_element(writer, "setSpec", &set.spec)?;
                            text_element(writer, "setName", &set.name)
                        })?;
                    }
                    Ok(())
                })?;
        }
        Body::ListIdentifiers(headers, resumption) => {
            writer
                .create_element("ListIdentifiers")
                .write_inner_content(|writer| {
                    for item in headers {
                        header(writer, item)?;
                    }
                    if let Some(resumption) = resumption {
                        token(writer, resumption)?;
                    }
                    Ok(())
                })?;
        }
        Body::ListRecords(records, resumption) => {
            writer
                .create_element("ListRecords")
                .write_inner_content(|writer| {
                    for item in records {
                        record(writer, item, public_url)?;
                    }
                    if let Some(resumption) = resumption {
                        token(writer, resumption)?;
                    }
                    Ok(())
                })?;
        }
        Body::GetRecord(item) => {
            writer
                .create_element("GetRecord")
                .write_inner_content(|writer| record(writer, item, public_url))?;
        }
    }
    Ok(())
}

/// The response as an OAI-PMH document, UTF-8.
pub fn render(response: &Response) -> String {
    let mut writer = Writer::new_with_indent(Vec::new(), b' ', 1);
    let written: XmlResult = (|| {
        writer.write_event(Event::Decl(BytesDecl::new("1.0", Some("UTF-8"), None)))?;
        writer
            .create_element("OAI-PMH")
            .with_attribute(("xmlns", OAI_NAMESPACE))
            .with_attribute(("xmlns:xsi", XSI_NAMESPACE))
            .with_attribute((
                "xsi:schemaLocation",
                format!("{OAI_NAMESPACE} {OAI_SCHEMA}").as_str(),
            ))
            .write_inner_content(|writer| {
                text_element(writer, "responseDate", &datestamp(response.response_date))?;
                let hide = matches!(&response.body, Body::Error(error) if error.hides_arguments());
                let safe: Vec<(String, String)> = if hide {
                    Vec::new()
                } else {
                    response
                        .arguments
                        .iter()
                        .map(|(name, value)| (xml_safe(name), xml_safe(value)))
                        .collect()
                };
                let mut request = writer.create_element("request");
                for (name, value) in &safe {
                    request = request.with_attribute((name.as_str(), value.as_str()));
                }
                request.write_text_content(BytesText::new(&xml_safe(&response.base_url)))?;
                body(writer, response)
            })?;
        Ok(())
    })();
    written.expect("writing to memory cannot fail");
    String::from_utf8(writer.into_inner()).expect("the writer writes UTF-8")
}

#[cfg(test)]
mod tests {
    use super::*;

    const HOST: &str = "seed-it.example";
    const NOW: i64 = 1_700_000_000;
    const ORIGIN: &str = "8a88e3dd7409f195fd52db2d3cba5d72ca6709bf1d94121bf3748801b40f6f5c";

    fn arguments(pairs: &[(&str, &str)]) -> Arguments {
        pairs
            .iter()
            .map(|(name, value)| (name.to_string(), value.to_string()))
            .collect()
    }

    /// The error code `pairs` are refused with, or `"ok"`.
    fn check(pairs: &[(&str, &str)], expected: &str) {
        let outcome = match parse_request(&arguments(pairs), HOST, NOW) {
            Ok(_) => "ok",
            Err(error) => error.code(),
        };
        assert_eq!(outcome, expected, "{pairs:?}");
    }

    #[test]
    fn arguments_are_checked_as_the_specification_says() {
        let identifier = format!("oai:{HOST}:{ORIGIN}/01J00000000000000000000000");
        let list = [("verb", "ListRecords"), ("metadataPrefix", "oai_dc")];
        check(&[], "badVerb");
        check(&[("verb", "Dance")], "badVerb");
        check(&[("verb", "Identify"), ("verb", "Identify")], "badVerb");
        check(&[("verb", "Identify")], "ok");
        check(&[("verb", "Identify"), ("set", "x")], "badArgument");
        check(&[("verb", "ListSets")], "ok");
        check(
            &[("verb", "ListSets"), ("resumptionToken", "x")],
            "badResumptionToken",
        );
        check(&[("verb", "ListMetadataFormats")], "ok");
        check(
            &[("verb", "ListMetadataFormats"), ("identifier", &identifier)],
            "ok",
        );
        check(
            &[
                ("verb", "ListMetadataFormats"),
                ("identifier", "oai:other.example:x/y"),
            ],
            "idDoesNotExist",
        );
        check(
            &[("verb", "GetRecord"), ("identifier", &identifier)],
            "badArgument",
        );
        check(
            &[("verb", "GetRecord"), ("metadataPrefix", "oai_dc")],
            "badArgument",
        );
        check(
            &[
                ("verb", "GetRecord"),
                ("identifier", &identifier),
                ("metadataPrefix", "marc"),
            ],
            "cannotDisseminateFormat",
        );
        check(
            &[
                ("verb", "GetRecord"),
                ("identifier", &identifier),
                ("metadataPrefix", "schema_org"),
            ],
            "ok",
        );
        check(&list, "ok");
        check(&[("verb", "ListIdentifiers")], "badArgument");
        check(&[list[0], list[1], list[1]], "badArgument");
        check(
            &[list[0], ("metadataPrefix", "marc")],
            "cannotDisseminateFormat",
        );
        for (date, expected) in [
            ("2024-02-29", "ok"),
            ("2024-02-29T10:00:00Z", "ok"),
            ("2023-02-29", "badArgument"),
            ("2024-02-29T10:00Z", "badArgument"),
            ("2024-02-29T10:00:00.5Z", "badArgument"),
            ("2024-02-29T10:00:00+01:00", "badArgument"),
            ("yesterday", "badArgument"),
        ] {
            check(&[list[0], list[1], ("from", date)], expected);
        }
        check(
            &[
                list[0],
                list[1],
                ("from", "2024-01-02"),
                ("until", "2024-01-01"),
            ],
            "badArgument",
        );
        check(
            &[
                list[0],
                list[1],
                ("from", "2024-01-01"),
                ("until", "2024-01-01"),
            ],
            "ok",
        );
        check(
            &[
                list[0],
                list[1],
                ("from", "2024-01-01"),
                ("until", "2024-01-01T00:00:00Z"),
            ],
            "badArgument",
        );
        for (set, expected) in [
            ("country:IT", "ok"),
            ("theme:co-design", "ok"),
            ("kind:practice", "ok"),
            (&format!("origin:{ORIGIN}") as &str, "ok"),
            ("country:XX", "badArgument"),
            ("colour:blue", "badArgument"),
        ] {
            check(&[list[0], list[1], ("set", set)], expected);
        }
        check(
            &[list[0], ("resumptionToken", "nonsense")],
            "badResumptionToken",
        );
        check(
            &[list[0], list[1], ("resumptionToken", "nonsense")],
            "badArgument",
        );
    }

    #[test]
    fn a_day_until_covers_the_whole_day() {
        let pairs = arguments(&[
            ("verb", "ListIdentifiers"),
            ("metadataPrefix", "oai_dc"),
            ("from", "2024-01-01"),
            ("until", "2024-01-01"),
        ]);
        let Ok(Request::ListIdentifiers(start)) = parse_request(&pairs, HOST, NOW) else {
            panic!("a list request");
        };
        assert_eq!(start.arguments.from, Some(1_704_067_200));
        assert_eq!(start.arguments.until, Some(1_704_067_200 + 86_399));
    }

    #[test]
    fn tokens_carry_the_request_and_the_position_and_expire() {
        let arguments = ListArguments {
            format: MetadataFormat::SchemaOrg,
            set: Some(SetSpec::parse("theme:co-design").unwrap()),
            from: Some(1_704_067_200),
            until: None,
        };
        let token = encode_token(&arguments, 812, 50, Some(130), NOW + 60);
        let start = decode_token(&token, NOW).unwrap();
        assert_eq!(start.arguments, arguments);
        assert_eq!(
            (
                start.after_seq,
                start.cursor,
                start.complete_list_size,
                start.resumed
            ),
            (812, 50, Some(130), true)
        );
        assert_eq!(
            decode_token(&token, NOW + 61).unwrap_err().code(),
            "badResumptionToken"
        );
        for forged in [
            "",
            "v1",
            "v2!oai_dc!-!-!-!1!0!-!9999999999",
            &token.replace("812", "x"),
        ] {
            assert_eq!(
                decode_token(forged, NOW).unwrap_err().code(),
                "badResumptionToken",
                "{forged}"
            );
        }
    }

    #[test]
    fn identifiers_name_this_repository_only() {
        let key = RecordKey {
            origin: ORIGIN.parse().unwrap(),
            id: RecordId::parse("01J00000000000000000000000").unwrap(),
        };
        let identifier = oai_identifier(HOST, &key);
        assert_eq!(
            identifier,
            format!("oai:{HOST}:{ORIGIN}/01J00000000000000000000000")
        );
        assert_eq!(parse_identifier(HOST, &identifier), Some(key));
        assert_eq!(parse_identifier("other.example", &identifier), None);
        assert_eq!(
            parse_identifier(HOST, &format!("oai:{HOST}:{ORIGIN}")),
            None
        );
    }

    #[test]
    fn errors_hide_the_arguments_only_for_bad_verb_and_bad_argument() {
        let mut response = Response {
            response_date: NOW,
            base_url: "https://seed-it.example/oai".into(),
            public_url: "https://seed-it.example".into(),
            arguments: arguments(&[("verb", "ListSets"), ("resumptionToken", "<&\u{7}>")]),
            body: Body::Error(OaiError::BadResumptionToken("bad <token>".into())),
        };
        let document = render(&response);
        assert!(document.starts_with("<?xml version=\"1.0\" encoding=\"UTF-8\"?>"));
        assert!(
            document.contains(r#"<request verb="ListSets" resumptionToken="&lt;&amp;&gt;">https://seed-it.example/oai</request>"#),
            "{document}"
        );
        assert!(document.contains(r#"<error code="badResumptionToken">bad &lt;token&gt;</error>"#));
        response.body = Body::Error(OaiError::BadVerb("no".into()));
        assert!(render(&response).contains("<request>https://seed-it.example/oai</request>"));
    }
}
