//! The OAI-PMH 2.0 provider at `/oai` (GET, and POST with a form body):
//! repositories, aggregators and OpenAIRE harvest a node's records with it.
//!
//! - Items are the records this node holds, its own and received ones, each
//!   at its current version; identifiers are `oai:{host}:{origin}/{id}`
//!   (`host` that of the node's public URL).
//! - Datestamps are when this node applied the version (the change log's
//!   `applied` stamp, second granularity), not when the origin signed it: a
//!   record relayed late still falls after a harvester's last `from`.
//! - Lists run in change-log order, at most
//!   [`OAI_PAGE_RECORDS_MAX`](super::oai_pmh::OAI_PAGE_RECORDS_MAX) a page,
//!   continued by stateless tokens (`super::oai_pmh`); the first page counts
//!   the complete list, later pages repeat that count.
//! - Deleted records stay as `status="deleted"` headers (`deletedRecord`
//!   persistent: tombstones are never removed, except by an admin's purge
//!   of a whole origin).
//! - Formats: `oai_dc` (the mapping is [`dublin_core`]) and `schema_org`,
//!   the record's whole schema.org JSON-LD document (`crate::schema_org`) as
//!   the text of one element.
//! - Sets: `origin:HEX`, `country:CC`, `theme:SLUG`, `kind:SLUG`.

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{header, HeaderMap, HeaderValue, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use seednet_protocol::{Kind, Record, RecordContent, Theme};

use super::backend::{HarvestItem, HarvestQuery, NodeInfo, WebBackend};
use super::markdown;
use super::oai_pmh::{
    self, encode_token, oai_identifier, parse_request, Arguments, Body, DcElement, Header,
    Identity, ListStart, Metadata, MetadataFormat, OaiError, OaiRecord, Request, SetDescription,
    SetSpec, TokenElement, OAI_PAGE_RECORDS_MAX, RESUMPTION_TOKEN_LIFETIME_SECS,
    SCHEMA_ORG_FORMAT_NAMESPACE,
};
use super::pairs::parse_pairs;
use super::WebState;
use crate::schema_org::{creative_work, license_url, record_page_url, with_context};

/// The path of the provider.
pub const OAI_PATH: &str = "/oai";
pub use super::oai_pmh::SCHEMA_ORG_FORMAT_SCHEMA_PATH;
/// Most bytes of a POST body.
pub const OAI_POST_BODY_BYTES_MAX: usize = 8 * 1024;
/// The `adminEmail` Identify gives: the configuration has no address, and
/// the specification requires one.
const ADMIN_EMAIL_NONE: &str = "nobody@invalid";

fn base(info: &NodeInfo) -> String {
    info.base_url.trim_end_matches('/').to_string()
}

/// The host of the node's public URL: the namespace of its identifiers.
pub fn identifier_host(public_url: &str) -> String {
    url::Url::parse(public_url)
        .ok()
        .and_then(|url| url.host_str().map(str::to_string))
        .unwrap_or_else(|| "localhost".into())
}

/// `GET /oai?verb=…`.
pub(crate) async fn get_oai<B: WebBackend>(
    State(state): State<Arc<WebState<B>>>,
    uri: Uri,
) -> Response {
    let arguments = parse_pairs(uri.query().unwrap_or(""));
    answer(&state, arguments).await
}

/// `POST /oai` with `application/x-www-form-urlencoded` arguments.
pub(crate) async fn post_oai<B: WebBackend>(
    State(state): State<Arc<WebState<B>>>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let form = headers
        .get(header::CONTENT_TYPE)
        .and_then(|value| value.to_str().ok())
        .is_some_and(|value| value.starts_with("application/x-www-form-urlencoded"));
    if !form || body.len() > OAI_POST_BODY_BYTES_MAX {
        let message = format!(
            "POST needs an application/x-www-form-urlencoded body of at most {OAI_POST_BODY_BYTES_MAX} bytes"
        );
        return document(
            &state,
            Vec::new(),
            Body::Error(OaiError::BadArgument(message)),
        );
    }
    let text = String::from_utf8_lossy(&body);
    answer(&state, parse_pairs(&text)).await
}

/// `GET /oai/schema-org-json-ld.xsd`: the XML schema of the `schema_org`
/// format's one element.
pub(crate) async fn schema_org_xsd() -> Response {
    let schema = format!(
        r#"<?xml version="1.0" encoding="UTF-8"?>
<xs:schema xmlns:xs="http://www.w3.org/2001/XMLSchema"
           targetNamespace="{SCHEMA_ORG_FORMAT_NAMESPACE}"
           elementFormDefault="qualified">
 <!-- The text is a schema.org JSON-LD document (application/ld+json). -->
 <xs:element name="jsonld">
  <xs:complexType>
   <xs:simpleContent>
    <xs:extension base="xs:string">
     <xs:attribute name="type" type="xs:string" fixed="application/ld+json"/>
    </xs:extension>
   </xs:simpleContent>
  </xs:complexType>
 </xs:element>
</xs:schema>
"#
    );
    let mut response = (StatusCode::OK, schema).into_response();
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/xml; charset=utf-8"),
    );
    response
}

fn document<B: WebBackend>(state: &WebState<B>, arguments: Arguments, body: Body) -> Response {
    let info = state.backend.node_info();
    let public_url = base(&info);
    let response = oai_pmh::Response {
        response_date: crate::clock::now_unix_seconds(),
        base_url: format!("{public_url}{OAI_PATH}"),
        public_url,
        arguments,
        body,
    };
    let mut http = (StatusCode::OK, oai_pmh::render(&response)).into_response();
    http.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/xml; charset=utf-8"),
    );
    http
}

async fn answer<B: WebBackend>(state: &WebState<B>, arguments: Arguments) -> Response {
    let info = state.backend.node_info();
    let host = identifier_host(&info.base_url);
    let now = crate::clock::now_unix_seconds();
    let body = match parse_request(&arguments, &host, now) {
        Err(error) => Body::Error(error),
        Ok(request) => match respond(state, &info, &host, request, now).await {
            Ok(body) => body,
            Err(failure) => return failure,
        },
    };
    document(state, arguments, body)
}

/// The body answering a checked request; an HTTP 500 when storage fails.
async fn respond<B: WebBackend>(
    state: &WebState<B>,
    info: &NodeInfo,
    host: &str,
    request: Request,
    now: i64,
) -> Result<Body, Response> {
    let unavailable = |error: super::backend::BackendError| {
        tracing::error!(error = %error, "oai-pmh request failed");
        (
            StatusCode::INTERNAL_SERVER_ERROR,
            "the repository is unavailable",
        )
            .into_response()
    };
    let base = base(info);
    match request {
        Request::Identify => {
            let overview = state
                .backend
                .harvest_overview()
                .await
                .map_err(unavailable)?;
            Ok(Body::Identify(Identity {
                repository_name: info.name.clone(),
                admin_email: Some(ADMIN_EMAIL_NONE.into()),
                earliest_datestamp: overview.earliest_applied_at.unwrap_or(now),
            }))
        }
        Request::ListMetadataFormats { identifier } => {
            if let Some(key) = identifier {
                match state
                    .backend
                    .harvest_record(key)
                    .await
                    .map_err(unavailable)?
                {
                    None => return Ok(Body::Error(unknown_identifier())),
                    Some(item) if item.signed.value().content().is_none() => {
                        return Ok(Body::Error(OaiError::NoMetadataFormats))
                    }
                    Some(_) => {}
                }
            }
            Ok(Body::ListMetadataFormats(MetadataFormat::ALL.to_vec()))
        }
        Request::ListSets => {
            let overview = state
                .backend
                .harvest_overview()
                .await
                .map_err(unavailable)?;
            Ok(Body::ListSets(set_descriptions(&overview)))
        }
        Request::GetRecord { key, format } => {
            match state
                .backend
                .harvest_record(key)
                .await
                .map_err(unavailable)?
            {
                None => Ok(Body::Error(unknown_identifier())),
                Some(item) => Ok(Body::GetRecord(oai_record(&item, format, &base, host))),
            }
        }
        Request::ListIdentifiers(start) => {
            let (items, token) = list(state, &start, now).await.map_err(unavailable)?;
            if items.is_empty() && !start.resumed {
                return Ok(Body::Error(OaiError::NoRecordsMatch));
            }
            let headers = items.iter().map(|item| header_of(item, host)).collect();
            Ok(Body::ListIdentifiers(headers, token))
        }
        Request::ListRecords(start) => {
            let (items, token) = list(state, &start, now).await.map_err(unavailable)?;
            if items.is_empty() && !start.resumed {
                return Ok(Body::Error(OaiError::NoRecordsMatch));
            }
            let format = start.arguments.format;
            let records = items
                .iter()
                .map(|item| oai_record(item, format, &base, host))
                .collect();
            Ok(Body::ListRecords(records, token))
        }
    }
}

fn unknown_identifier() -> OaiError {
    OaiError::IdDoesNotExist("no record of this repository has that identifier".into())
}

/// One page of a list and the token element to send with it: none for a
/// list complete in one page, an empty token on the last page of several.
async fn list<B: WebBackend>(
    state: &WebState<B>,
    start: &ListStart,
    now: i64,
) -> Result<(Vec<HarvestItem>, Option<TokenElement>), super::backend::BackendError> {
    let page = state
        .backend
        .harvest(HarvestQuery {
            after_seq: start.after_seq,
            from: start.arguments.from,
            until: start.arguments.until,
            set: start.arguments.set,
            limit: OAI_PAGE_RECORDS_MAX,
            count: !start.resumed,
        })
        .await?;
    let complete_list_size = start.complete_list_size.or(page.complete_list_size);
    let token = match page.next_after {
        Some(after_seq) => {
            let expires_at = now + RESUMPTION_TOKEN_LIFETIME_SECS;
            let cursor = start.cursor + page.items.len() as u64;
            Some(TokenElement {
                token: encode_token(
                    &start.arguments,
                    after_seq,
                    cursor,
                    complete_list_size,
                    expires_at,
                ),
                cursor: start.cursor,
                complete_list_size,
                expires_at: Some(expires_at),
            })
        }
        None if start.resumed => Some(TokenElement {
            token: String::new(),
            cursor: start.cursor,
            complete_list_size,
            expires_at: None,
        }),
        None => None,
    };
    Ok((page.items, token))
}

fn header_of(item: &HarvestItem, host: &str) -> Header {
    let record = item.signed.value();
    Header {
        identifier: oai_identifier(host, &record.key),
        datestamp: item.applied_at,
        set_specs: SetSpec::of(record)
            .iter()
            .map(ToString::to_string)
            .collect(),
        deleted: record.is_tombstone(),
    }
}

fn oai_record(item: &HarvestItem, format: MetadataFormat, base: &str, host: &str) -> OaiRecord {
    let record = item.signed.value();
    let metadata = record.content().map(|content| match format {
        MetadataFormat::OaiDc => {
            Metadata::Dc(dublin_core(record, content, base, item.centre.as_deref()))
        }
        MetadataFormat::SchemaOrg => {
            let node = creative_work(record, content, base, item.centre.as_deref());
            Metadata::SchemaOrg(with_context(node).to_string())
        }
    });
    OaiRecord {
        header: header_of(item, host),
        metadata,
    }
}

/// A live record as unqualified Dublin Core:
///
/// | record | `oai_dc` |
/// | --- | --- |
/// | title, and each translation's title | `dc:title` (`xml:lang`) |
/// | summary (plain text), and each translation's | `dc:description` (`xml:lang`) |
/// | the origin centre | `dc:creator` and `dc:publisher` |
/// | organisations | `dc:contributor` |
/// | competence areas, target groups, tags | `dc:subject` |
/// | kind | `dc:type` |
/// | signed_at | `dc:date` |
/// | the record's page | `dc:identifier` |
/// | lang | `dc:language` |
/// | country, region | `dc:coverage` |
/// | licence | `dc:rights` (the SPDX licence URL) |
/// | relations | `dc:relation` (the other record's page) |
pub fn dublin_core(
    record: &Record,
    content: &RecordContent,
    base: &str,
    centre: Option<&str>,
) -> Vec<DcElement> {
    let element = |name: &'static str, value: String, lang: Option<&str>| DcElement {
        name,
        value,
        lang: lang.map(str::to_string),
    };
    let lang = content.lang.as_str();
    let centre = centre
        .map(str::to_string)
        .unwrap_or_else(|| format!("seednet node {}", record.key.origin));
    let mut elements = vec![element("title", content.title.clone(), Some(lang))];
    for (translation_lang, translation) in &content.translations {
        elements.push(element(
            "title",
            translation.title.clone(),
            Some(translation_lang.as_str()),
        ));
    }
    elements.push(element("creator", centre.clone(), None));
    elements.extend(
        content
            .themes
            .iter()
            .map(|theme: &Theme| element("subject", theme.as_str().to_string(), None)),
    );
    elements.extend(
        content
            .target_groups
            .iter()
            .map(|group| element("subject", group.as_str().to_string(), None)),
    );
    elements.extend(
        content
            .tags
            .iter()
            .map(|tag| element("subject", tag.clone(), None)),
    );
    elements.push(element(
        "description",
        markdown::to_plain_text(&content.summary),
        Some(lang),
    ));
    for (translation_lang, translation) in &content.translations {
        elements.push(element(
            "description",
            markdown::to_plain_text(&translation.summary),
            Some(translation_lang.as_str()),
        ));
    }
    elements.push(element("publisher", centre, None));
    elements.extend(
        content
            .organisations
            .iter()
            .map(|organisation| element("contributor", organisation.name.clone(), None)),
    );
    elements.push(element("date", record.signed_at.to_string(), None));
    let kind: Kind = content.kind;
    elements.push(element("type", kind.as_str().to_string(), None));
    elements.push(element(
        "identifier",
        record_page_url(base, &record.key),
        None,
    ));
    elements.push(element("language", lang.to_string(), None));
    elements.push(element(
        "coverage",
        content.country.as_str().to_string(),
        None,
    ));
    if let Some(region) = &content.region {
        elements.push(element("coverage", region.clone(), None));
    }
    elements.push(element("rights", license_url(&content.license), None));
    elements.extend(
        content
            .relations
            .iter()
            .map(|relation| element("relation", record_page_url(base, &relation.target), None)),
    );
    elements
}

/// Every set: the origins this node holds, the countries of its records,
/// every competence area and every kind.
fn set_descriptions(overview: &super::backend::HarvestOverview) -> Vec<SetDescription> {
    let mut sets: Vec<SetDescription> = overview
        .origins
        .iter()
        .map(|(origin, name)| SetDescription {
            spec: SetSpec::Origin(*origin).to_string(),
            name: format!(
                "Records of {}",
                name.clone().unwrap_or_else(|| format!("node {origin}"))
            ),
        })
        .collect();
    sets.extend(overview.countries.iter().map(|country| SetDescription {
        spec: SetSpec::Country(*country).to_string(),
        name: format!("Records about country {}", country.as_str()),
    }));
    sets.extend(Theme::ALL.iter().map(|theme| SetDescription {
        spec: SetSpec::Theme(*theme).to_string(),
        name: format!("Competence area {}", theme.as_str()),
    }));
    sets.extend(Kind::ALL.iter().map(|kind| SetDescription {
        spec: SetSpec::Kind(*kind).to_string(),
        name: format!("Kind {}", kind.as_str()),
    }));
    sets
}
