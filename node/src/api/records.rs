//! `/api/v1/records`: publish, read, update, delete and list records.
//!
//! Editors send record content; the node assigns id and version, signs and
//! stores, and answers with the signed version exactly as stored
//! (`{"signed": {..}, "signature": ".."}`), so any client can verify it.
//! `ETag` carries the version; `If-Match: "<version>"` on PUT and DELETE makes
//! the change conditional (409 `version_conflict` when it moved on).

use axum::extract::{Path, RawQuery, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use seednet_protocol::{
    CountryCode, Kind, LanguageTag, NodeId, RecordContent, RecordId, RecordKey, SignedWire, Theme,
};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use utoipa::ToSchema;

use crate::federation::OriginLink;
use crate::http::error::{ApiError, ErrorBody};
use crate::http::extract::{Editor, JsonBytes};
use crate::service::Publisher;
use crate::state::AppState;
use crate::storage::{ListQuery, Published, LIST_PAGE_RECORDS_MAX};

/// Page size when the client names none.
pub const LIST_PAGE_RECORDS_DEFAULT: usize = 50;

/// A signed record version as stored and relayed.
#[derive(ToSchema)]
#[allow(dead_code)]
pub struct SignedRecord {
    /// The record envelope `{"origin","id","version","signed_at","content"|"deleted"}`
    /// in RFC 8785 canonical form: these exact bytes are signed.
    #[schema(value_type = Object)]
    signed: serde_json::Value,
    /// ed25519 signature (128 hex digits) by the origin node.
    signature: String,
}

/// Record content as an editor writes it (see docs/PROTOCOL.md for every field).
#[derive(ToSchema)]
#[allow(dead_code)]
#[schema(example = json!({"kind": "practice", "lang": "it", "title": "Laboratorio di co-progettazione",
    "summary": "...", "body": "...", "themes": ["co-design"], "country": "IT", "year_start": 2022}))]
pub struct RecordContentInput {
    #[schema(value_type = Object)]
    content: serde_json::Value,
}

/// One page of records (`GET /api/v1/records`).
#[derive(Serialize, Deserialize, ToSchema)]
pub struct RecordList {
    #[schema(value_type = Vec<SignedRecord>)]
    pub records: Vec<SignedWire>,
    /// Pass as `cursor` to get the next page; absent on the last page.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next_cursor: Option<String>,
    /// For each origin on the page, its relation to this node (`local`,
    /// `active`, `requested`, `pending`, `revoked`, `relayed`, `blocked`):
    /// records of a revoked or blocked origin are kept until purged.
    #[schema(value_type = std::collections::BTreeMap<String, OriginLink>)]
    #[serde(default)]
    pub origin_links: BTreeMap<NodeId, OriginLink>,
}

/// Header naming the origin's relation to this node on a single record.
pub const ORIGIN_LINK_HEADER: &str = "seednet-origin-link";

/// Cursor text of a record key: `<origin>.<id>` (ids never contain dots).
pub fn cursor_text(key: &RecordKey) -> String {
    format!("{}.{}", key.origin, key.id)
}

/// The record key a cursor of [`cursor_text`] names; `None` for text that
/// is not one.
pub fn parse_cursor(text: &str) -> Option<RecordKey> {
    let (origin, id) = text.split_once('.')?;
    Some(RecordKey {
        origin: origin.parse().ok()?,
        id: RecordId::parse(id)?,
    })
}

pub fn parse_key(origin: &str, id: &str) -> Result<RecordKey, ApiError> {
    let origin: NodeId = origin
        .parse()
        .map_err(|e| ApiError::bad_request("invalid_origin", "origin", format!("{e}")))?;
    let id = RecordId::parse(id).ok_or_else(|| {
        ApiError::bad_request(
            "invalid_record_id",
            "id",
            "a record id is 1 to 64 of A-Z a-z 0-9 _ -",
        )
    })?;
    Ok(RecordKey { origin, id })
}

fn expected_version(headers: &HeaderMap) -> Result<Option<u64>, ApiError> {
    let Some(value) = headers.get(header::IF_MATCH) else {
        return Ok(None);
    };
    value
        .to_str()
        .ok()
        .map(|text| text.trim().trim_start_matches("W/").trim_matches('"'))
        .and_then(|text| text.parse::<u64>().ok())
        .map(Some)
        .ok_or_else(|| {
            ApiError::bad_request(
                "invalid_if_match",
                "If-Match",
                "If-Match must be a record version in quotes, e.g. \"3\"",
            )
        })
}

fn signed_response(status: StatusCode, published: &Published, location: bool) -> Response {
    let record = published.signed.value();
    let mut response = (status, Json(published.signed.to_wire())).into_response();
    let headers = response.headers_mut();
    headers.insert(
        header::ETAG,
        HeaderValue::from_str(&format!("\"{}\"", record.version)).expect("digits"),
    );
    if location {
        let path = format!("/api/v1/records/{}/{}", record.key.origin, record.key.id);
        headers.insert(
            header::LOCATION,
            HeaderValue::from_str(&path).expect("ASCII path"),
        );
    }
    response
}

fn decode_content(body: &[u8]) -> Result<RecordContent, ApiError> {
    // Syntax first, so a broken document is `invalid_json`, not a field error.
    serde_json::from_slice::<serde::de::IgnoredAny>(body)
        .map_err(|e| ApiError::new(StatusCode::BAD_REQUEST, "invalid_json", e.to_string()))?;
    if body.iter().find(|b| !b.is_ascii_whitespace()) != Some(&b'{') {
        return Err(ApiError::new(
            StatusCode::BAD_REQUEST,
            "invalid_json",
            "the body must be a JSON object of record content",
        ));
    }
    RecordContent::from_json(body).map_err(ApiError::decode)
}

/// Publish a new record (editor).
#[utoipa::path(post, path = "/api/v1/records", tag = "records",
    request_body(content = RecordContentInput, description = "record content (JSON object)"),
    responses(
        (status = 201, description = "published; Location and ETag set", body = SignedRecord),
        (status = 400, description = "invalid JSON, wrong type or unknown field", body = ErrorBody),
        (status = 401, description = "missing or unknown token", body = ErrorBody),
        (status = 403, description = "token role too weak", body = ErrorBody),
        (status = 413, description = "body over the limit", body = ErrorBody),
        (status = 422, description = "validation failed; field names the rule", body = ErrorBody),
    ),
    security(("token" = [])))]
pub async fn create_record(
    State(publisher): State<Publisher>,
    editor: Editor,
    JsonBytes(body): JsonBytes,
) -> Result<Response, ApiError> {
    let content = decode_content(&body)?;
    let published = publisher.create_as(&editor.actor(), content).await?;
    let record = published.signed.value();
    tracing::info!(record = %record.key, version = record.version, seq = published.seq, "record published");
    Ok(signed_response(StatusCode::CREATED, &published, true))
}

/// Read the current version of a record.
#[utoipa::path(get, path = "/api/v1/records/{origin}/{id}", tag = "records",
    params(("origin" = String, Path, description = "origin node id (64 hex digits)"),
           ("id" = String, Path, description = "record id")),
    responses(
        (status = 200, description = "the current signed version; ETag set", body = SignedRecord),
        (status = 400, description = "malformed origin or id", body = ErrorBody),
        (status = 404, description = "unknown record", body = ErrorBody),
        (status = 410, description = "the record was deleted", body = ErrorBody),
    ))]
pub async fn get_record(
    State(state): State<AppState>,
    Path((origin, id)): Path<(String, String)>,
) -> Result<Response, ApiError> {
    let key = parse_key(&origin, &id)?;
    let lookup_key = key.clone();
    let stored = state
        .blocking(move |storage| storage.get(&lookup_key))
        .await?
        .ok_or_else(|| ApiError::not_found(format!("no record {key}")))?;
    let record = stored.signed.value();
    if record.is_tombstone() {
        return Err(ApiError::new(
            StatusCode::GONE,
            "deleted",
            format!("record {key} was deleted at version {}", record.version),
        ));
    }
    let published = Published {
        signed: stored.signed,
        seq: stored.seq,
    };
    let mut response = signed_response(StatusCode::OK, &published, false);
    response.headers_mut().insert(
        ORIGIN_LINK_HEADER,
        HeaderValue::from_static(state.federation.origin_link(&key.origin).as_str()),
    );
    Ok(response)
}

/// Publish a new version of one of this node's records (editor).
#[utoipa::path(put, path = "/api/v1/records/{origin}/{id}", tag = "records",
    params(("origin" = String, Path, description = "must be this node's id"),
           ("id" = String, Path, description = "record id"),
           ("If-Match" = Option<String>, Header, description = "expected current version, e.g. \"3\"")),
    request_body(content = RecordContentInput, description = "the new record content"),
    responses(
        (status = 200, description = "the new signed version", body = SignedRecord),
        (status = 400, description = "invalid JSON, wrong type or unknown field", body = ErrorBody),
        (status = 401, description = "missing or unknown token", body = ErrorBody),
        (status = 403, description = "not this node's record, or role too weak", body = ErrorBody),
        (status = 404, description = "unknown record", body = ErrorBody),
        (status = 409, description = "If-Match does not name the current version", body = ErrorBody),
        (status = 410, description = "the record was deleted", body = ErrorBody),
        (status = 422, description = "validation failed", body = ErrorBody),
    ),
    security(("token" = [])))]
pub async fn update_record(
    State(publisher): State<Publisher>,
    editor: Editor,
    Path((origin, id)): Path<(String, String)>,
    headers: HeaderMap,
    JsonBytes(body): JsonBytes,
) -> Result<Response, ApiError> {
    let key = parse_key(&origin, &id)?;
    publisher.check_own(&key)?;
    let expected = expected_version(&headers)?;
    let content = decode_content(&body)?;
    let published = publisher
        .update_as(&editor.actor(), key.id, content, expected)
        .await?;
    let record = published.signed.value();
    tracing::info!(record = %record.key, version = record.version, seq = published.seq, "record updated");
    Ok(signed_response(StatusCode::OK, &published, false))
}

/// Delete one of this node's records: publishes a signed tombstone (editor).
#[utoipa::path(delete, path = "/api/v1/records/{origin}/{id}", tag = "records",
    params(("origin" = String, Path, description = "must be this node's id"),
           ("id" = String, Path, description = "record id"),
           ("If-Match" = Option<String>, Header, description = "expected current version")),
    responses(
        (status = 200, description = "the signed tombstone", body = SignedRecord),
        (status = 401, description = "missing or unknown token", body = ErrorBody),
        (status = 403, description = "not this node's record, or role too weak", body = ErrorBody),
        (status = 404, description = "unknown record", body = ErrorBody),
        (status = 409, description = "If-Match does not name the current version", body = ErrorBody),
        (status = 410, description = "already deleted", body = ErrorBody),
    ),
    security(("token" = [])))]
pub async fn delete_record(
    State(publisher): State<Publisher>,
    editor: Editor,
    Path((origin, id)): Path<(String, String)>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let key = parse_key(&origin, &id)?;
    publisher.check_own(&key)?;
    let expected = expected_version(&headers)?;
    let published = publisher
        .delete_as(&editor.actor(), key.id, expected)
        .await?;
    let record = published.signed.value();
    tracing::info!(record = %record.key, version = record.version, seq = published.seq, "record deleted");
    Ok(signed_response(StatusCode::OK, &published, false))
}

/// List current records, filtered and paged in record-key order.
#[utoipa::path(get, path = "/api/v1/records", tag = "records",
    params(
        ("origin" = Option<String>, Query, description = "origin node id"),
        ("kind" = Option<String>, Query, description = "record kind slug"),
        ("theme" = Option<String>, Query, description = "competence-area slug"),
        ("country" = Option<String>, Query, description = "ISO 3166-1 alpha-2"),
        ("lang" = Option<String>, Query, description = "language tag"),
        ("cursor" = Option<String>, Query, description = "next_cursor of the previous page"),
        ("limit" = Option<usize>, Query, description = "page size, 1 to 200, default 50"),
        ("include_deleted" = Option<bool>, Query, description = "also list tombstones (no content filters)"),
    ),
    responses(
        (status = 200, description = "a page of signed records", body = RecordList),
        (status = 400, description = "unknown or malformed parameter; field names it", body = ErrorBody),
    ))]
pub async fn list_records(
    State(state): State<AppState>,
    RawQuery(raw): RawQuery,
) -> Result<Json<RecordList>, ApiError> {
    let query = parse_list_query(raw.as_deref().unwrap_or(""))?;
    let page = state.blocking(move |storage| storage.list(&query)).await?;
    Ok(Json(RecordList {
        records: page
            .records
            .iter()
            .map(|stored| stored.signed.to_wire())
            .collect(),
        next_cursor: page.next.as_ref().map(cursor_text),
        origin_links: page
            .records
            .iter()
            .map(|stored| {
                let origin = stored.signed.value().key.origin;
                (origin, state.federation.origin_link(&origin))
            })
            .collect(),
    }))
}

fn invalid(field: &str, message: String) -> ApiError {
    ApiError::bad_request("invalid_parameter", field, message)
}

/// Parses list parameters strictly: unknown or repeated names are refused.
pub fn parse_list_query(raw: &str) -> Result<ListQuery, ApiError> {
    let mut query = ListQuery {
        limit: LIST_PAGE_RECORDS_DEFAULT,
        ..ListQuery::default()
    };
    let mut seen = std::collections::BTreeSet::new();
    for (name, value) in url::form_urlencoded::parse(raw.as_bytes()) {
        if !seen.insert(name.to_string()) {
            return Err(invalid(&name, format!("{name} is given more than once")));
        }
        let value = value.as_ref();
        match name.as_ref() {
            "origin" => {
                query.origin = Some(
                    value
                        .parse()
                        .map_err(|e| invalid("origin", format!("{e}")))?,
                )
            }
            "kind" => {
                query.kind = Some(value.parse::<Kind>().map_err(|e| invalid("kind", e.to_string()))?)
            }
            "theme" => {
                query.theme = Some(
                    value
                        .parse::<Theme>()
                        .map_err(|e| invalid("theme", e.to_string()))?,
                )
            }
            "country" => {
                query.country = Some(CountryCode::parse(value).ok_or_else(|| {
                    invalid("country", format!("{value:?} is not a country code such as IT"))
                })?)
            }
            "lang" => {
                query.lang = Some(LanguageTag::parse(value).ok_or_else(|| {
                    invalid("lang", format!("{value:?} is not a language tag such as it"))
                })?)
            }
            "cursor" => {
                query.after = Some(
                    parse_cursor(value)
                        .ok_or_else(|| invalid("cursor", "not a cursor from next_cursor".into()))?,
                )
            }
            "limit" => {
                let limit: usize = value
                    .parse()
                    .map_err(|_| invalid("limit", format!("{value:?} is not a number")))?;
                if !(1..=LIST_PAGE_RECORDS_MAX).contains(&limit) {
                    return Err(invalid(
                        "limit",
                        format!("limit must be 1 to {LIST_PAGE_RECORDS_MAX}"),
                    ));
                }
                query.limit = limit;
            }
            "include_deleted" => {
                query.include_deleted = match value {
                    "true" => true,
                    "false" => false,
                    _ => return Err(invalid("include_deleted", "must be true or false".into())),
                }
            }
            other => {
                return Err(ApiError::bad_request(
                    "unknown_parameter",
                    other,
                    format!(
                        "unknown parameter {other:?}; known: origin, kind, theme, country, lang, cursor, limit, include_deleted"
                    ),
                ))
            }
        }
    }
    Ok(query)
}
