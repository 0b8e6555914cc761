//! The record page: every field of the current version, the translations it
//! carries (switchable, always labelled with who translated and whether it
//! was reviewed), its origin centre, the verified signature and version, its
//! relations in both directions, and schema.org JSON-LD.
//!
//! [`article`] renders the content part (everything but the signature and
//! the JSON-LD) and is also the editor's preview, so a preview shows the
//! record exactly as its page will.

use std::sync::Arc;

use axum::extract::{Path, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use maud::{html, Markup, PreEscaped};
use seednet_protocol::{
    LanguageTag, NodeId, Provenance, RecordContent, RecordId, RecordKey, RelationType,
};

use super::{
    country_label, html_response, kind_label, lang_label, layout_with_alternates, message_page,
    notice, pair, parse_pairs, server_error, target_group_label, theme_label, Ctx, Nav,
};
use crate::schema_org;
use crate::web::backend::{CentreName, RecordSummary, RecordView, WebBackend};
use crate::web::feeds::{self, Alternate};
use crate::web::{negotiate, WebState};

/// Parses the two path segments of a record URL.
pub fn parse_key(origin: &str, id: &str) -> Option<RecordKey> {
    Some(RecordKey {
        origin: origin.parse::<NodeId>().ok()?,
        id: RecordId::parse(id)?,
    })
}

pub fn record_url(key: &RecordKey) -> String {
    format!("/records/{}/{}", key.origin, key.id)
}

/// The `tr` value that asks for the original text.
pub const ORIGINAL_PARAM: &str = "orig";

pub async fn page<B: WebBackend>(
    State(state): State<Arc<WebState<B>>>,
    Path((origin, id)): Path<(String, String)>,
    headers: HeaderMap,
    uri: Uri,
) -> Response {
    let here = uri.path_and_query().map(|pq| pq.as_str()).unwrap_or("/");
    let ctx = Ctx::new(&state, &headers, here);
    let accept = headers
        .get(axum::http::header::ACCEPT)
        .and_then(|value| value.to_str().ok());
    let linked_data = negotiate::prefers(accept, schema_org::JSON_LD_MEDIA_TYPE);
    let not_found = |ctx: &Ctx| {
        if linked_data {
            return json_ld_not_found();
        }
        message_page(
            ctx,
            StatusCode::NOT_FOUND,
            "record.not_found_title",
            ctx.t("record.not_found"),
        )
    };
    let Some(key) = parse_key(&origin, &id) else {
        return not_found(&ctx);
    };
    let page = match state.backend.record(key).await {
        Ok(Some(page)) => page,
        Ok(None) => return not_found(&ctx),
        Err(error) => return server_error(&ctx, &error),
    };
    let Some(content) = page.signed.value().content() else {
        return not_found(&ctx);
    };
    let node_url = state.backend.node_info().base_url;
    if linked_data {
        return json_ld_response(&json_ld(&page, content, &node_url));
    }
    let pairs = parse_pairs(uri.query().unwrap_or(""));
    // `?tr=LANG` picks a translation, `?tr=orig` the original; without it,
    // the reader's language comes first when the record has a translation
    // into it (the original is one click away).
    let reader = LanguageTag::parse(ctx.lang.code()).filter(|lang| *lang != content.lang);
    let chosen = match pair(&pairs, "tr") {
        Some(ORIGINAL_PARAM) => None,
        Some(asked) => LanguageTag::parse(asked),
        None => reader,
    }
    .filter(|lang| content.translations.contains_key(lang));
    let own = page.signed.value().key.origin == state.backend.node_info().node_id;
    let published_by = super::audit::for_viewer(&state, &ctx, own, &page.signed.value().key).await;
    let main = html! {
        (notice(&ctx, &pairs))
        (render(&ctx, &page, content, chosen.as_ref(), own, &node_url))
        (published_by)
    };
    let title = match &chosen {
        Some(lang) => content.translations[lang].title.clone(),
        None => content.title.clone(),
    };
    let key = &page.signed.value().key;
    let centre = page
        .origin
        .as_ref()
        .map(|origin| origin.name.clone())
        .unwrap_or_else(|| key.origin.to_hex());
    let alternates = [
        Alternate {
            media_type: schema_org::JSON_LD_MEDIA_TYPE,
            title: title.clone(),
            href: record_url(key),
        },
        Alternate::atom(centre, feeds::origin_feed(&key.origin)),
    ];
    let mut response = html_response(
        StatusCode::OK,
        layout_with_alternates(&ctx, &title, Nav::None, &alternates, main),
    );
    vary_on_accept(&mut response);
    response
}

/// The record's schema.org document, as its page embeds it and as content
/// negotiation serves it: the one mapping of `crate::schema_org`.
fn json_ld(page: &RecordView, content: &RecordContent, node_url: &str) -> serde_json::Value {
    schema_org::with_context(schema_org::creative_work(
        page.signed.value(),
        content,
        node_url,
        page.origin.as_ref().map(|origin| origin.name.as_str()),
    ))
}

/// The record page's answer depends on `Accept`: caches must know.
fn vary_on_accept(response: &mut Response) {
    response
        .headers_mut()
        .insert(header::VARY, HeaderValue::from_static("accept"));
}

fn json_ld_response(document: &serde_json::Value) -> Response {
    let body = serde_json::to_string_pretty(document).expect("JSON-LD serialises");
    let mut response = (StatusCode::OK, body).into_response();
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static(schema_org::JSON_LD_MEDIA_TYPE),
    );
    vary_on_accept(&mut response);
    response
}

/// A 404 for a client that asked for linked data: JSON, in the shape of
/// the JSON API's errors, not an HTML page.
fn json_ld_not_found() -> Response {
    let body = serde_json::json!({
        "error": {"code": "not_found", "message": "no live record with this key"}
    });
    let mut response = (StatusCode::NOT_FOUND, body.to_string()).into_response();
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    vary_on_accept(&mut response);
    response
}

/// Record text (Markdown) as sanitised HTML in its language.
fn paragraphs(text: &str, lang: &str) -> Markup {
    html! {
        div class="prose" lang=(lang) {
            (PreEscaped(crate::web::markdown::to_safe_html(text)))
        }
    }
}

pub(crate) fn provenance_text(ctx: &Ctx, provenance: Provenance, reviewed: bool) -> String {
    let who = match provenance {
        Provenance::Human => ctx.t("record.translation_human"),
        Provenance::Machine => ctx.t("record.translation_machine"),
    };
    let review = if reviewed {
        ctx.t("record.translation_reviewed")
    } else {
        ctx.t("record.translation_unreviewed")
    };
    format!("{who}, {review}")
}

fn render(
    ctx: &Ctx,
    page: &RecordView,
    content: &RecordContent,
    chosen: Option<&LanguageTag>,
    own: bool,
    node_url: &str,
) -> Markup {
    let record = page.signed.value();
    let json_ld = json_ld(page, content, node_url);
    let around = Around {
        key: Some(&record.key),
        origin: page.origin.as_ref(),
        related: &page.related,
        adapted_from_this: &page.adapted_from_this,
        title_level: 1,
    };
    let signed_part = html! {
        (signature(ctx, page))
        @if own {
            p { a class="button" href=(format!("/editor/records/{}/edit", record.key.id)) { (ctx.t("record.edit")) } }
        }
    };
    html! {
        (article(ctx, content, chosen, &around, signed_part))
        script type="application/ld+json" { (PreEscaped(schema_org::script_safe(&json_ld))) }
    }
}

/// What the page shows around a record's content: also known for a record
/// an editor previews before it is signed (then without a key).
pub struct Around<'a> {
    /// The record's key, once it has one (the translation chips link to it).
    pub key: Option<&'a RecordKey>,
    pub origin: Option<&'a CentreName>,
    /// The records the relations point to, where this node holds them.
    pub related: &'a [RecordSummary],
    pub adapted_from_this: &'a [RecordSummary],
    /// The level of the title's heading: 1 on the record page, deeper when
    /// the record is shown inside another page (the editor's preview).
    pub title_level: u8,
}

/// A heading of `level` (1 to 6): maud has no tag names chosen at run time.
fn heading(
    level: u8,
    id: Option<&str>,
    class: Option<&str>,
    lang: Option<&str>,
    text: Markup,
) -> Markup {
    match level {
        1 => html! { h1 id=[id] class=[class] lang=[lang] { (text) } },
        2 => html! { h2 id=[id] class=[class] lang=[lang] { (text) } },
        3 => html! { h3 id=[id] class=[class] lang=[lang] { (text) } },
        4 => html! { h4 id=[id] class=[class] lang=[lang] { (text) } },
        5 => html! { h5 id=[id] class=[class] lang=[lang] { (text) } },
        _ => html! { h6 id=[id] class=[class] lang=[lang] { (text) } },
    }
}

/// The record's content as its page shows it: kind, title, origin,
/// languages, text (Markdown rendered safely), details and relations, then
/// `tail` (the signature, on the record page).
pub fn article(
    ctx: &Ctx,
    content: &RecordContent,
    chosen: Option<&LanguageTag>,
    around: &Around,
    tail: Markup,
) -> Markup {
    let original_lang = content.lang.as_str();
    let translation = chosen.map(|lang| (lang, &content.translations[lang]));
    let (title, title_lang) = match translation {
        Some((lang, translated)) => (translated.title.as_str(), lang.as_str()),
        None => (content.title.as_str(), original_lang),
    };
    let level = around.title_level;
    let part = level + 1;
    html! {
        article class="record" {
            header class="record-header" {
                p class="record-kind" { (kind_label(ctx, content.kind)) }
                (heading(level, None, None, Some(title_lang), html! { (title) }))
                ul class="badges" {
                    li class="badge badge-country" { (content.country.as_str()) }
                    li class="badge badge-lang" { (lang_label(ctx, &content.lang)) }
                    @if let Some(region) = &content.region { li class="badge" { (region) } }
                }
                p class="record-origin" {
                    (ctx.t("record.origin")) ": "
                    @match around.origin {
                        Some(origin) => { strong { (origin.name) } " (" (origin.country.as_str()) ")" }
                        None => { (ctx.t("record.origin_unknown")) }
                    }
                }
            }
            @if !content.translations.is_empty() {
                nav class="translations" aria-label=(ctx.t("record.languages")) {
                    (heading(part, None, Some("inline-heading"), None, html! { (ctx.t("record.languages")) }))
                    ul {
                        li {
                            @if chosen.is_none() {
                                span aria-current="true" class="chip selected" {
                                    (lang_label(ctx, &content.lang)) " · " (ctx.t("record.original"))
                                }
                            } @else {
                                (chip(around.key.map(|key| format!("{}?tr={ORIGINAL_PARAM}", record_url(key))), None, html! {
                                    (lang_label(ctx, &content.lang)) " · " (ctx.t("record.original"))
                                }))
                            }
                        }
                        @for (lang, translated) in &content.translations {
                            li {
                                @let label = format!("{} · {}", lang_label(ctx, lang), provenance_text(ctx, translated.provenance, translated.reviewed));
                                @if chosen == Some(lang) {
                                    span aria-current="true" class="chip selected" { (label) }
                                } @else {
                                    (chip(around.key.map(|key| format!("{}?tr={}", record_url(key), lang)), Some(lang.as_str()), html! { (label) }))
                                }
                            }
                        }
                    }
                }
            }
            @if let Some((lang, translated)) = translation {
                p class="notice notice-translation" role="note" {
                    (ctx.tf("record.reading_translation", &[
                        ("lang", &lang_label(ctx, lang)),
                        ("provenance", &provenance_text(ctx, translated.provenance, translated.reviewed)),
                        ("original", &lang_label(ctx, &content.lang)),
                    ]))
                    " "
                    @if let Some(key) = around.key {
                        a href=(format!("{}?tr={ORIGINAL_PARAM}", record_url(key))) { (ctx.t("record.show_original")) }
                    }
                }
                section aria-labelledby="summary-heading" {
                    (heading(part, Some("summary-heading"), None, None, html! { (ctx.t("record.summary")) }))
                    (paragraphs(&translated.summary, lang.as_str()))
                }
                section aria-labelledby="body-heading" {
                    (heading(part, Some("body-heading"), None, None, html! { (ctx.t("record.body")) }))
                    @if let Some(body) = &translated.body {
                        (paragraphs(body, lang.as_str()))
                    } @else {
                        // Never an empty description: the original's, marked.
                        p class="notice notice-original" role="note" {
                            (ctx.tf("record.body_in_original", &[("original", &lang_label(ctx, &content.lang))]))
                        }
                        (paragraphs(&content.body, original_lang))
                    }
                }
                @for (name, text) in content.sections.named() {
                    @if let Some(text) = text {
                        section {
                            (heading(part, None, None, None, html! { (ctx.t(&format!("section.{name}"))) }))
                            (paragraphs(text, original_lang))
                        }
                    }
                }
            } @else {
                section aria-labelledby="summary-heading" {
                    (heading(part, Some("summary-heading"), None, None, html! { (ctx.t("record.summary")) }))
                    (paragraphs(&content.summary, original_lang))
                }
                section aria-labelledby="body-heading" {
                    (heading(part, Some("body-heading"), None, None, html! { (ctx.t("record.body")) }))
                    (paragraphs(&content.body, original_lang))
                }
                @for (name, text) in content.sections.named() {
                    @if let Some(text) = text {
                        section {
                            (heading(part, None, None, None, html! { (ctx.t(&format!("section.{name}"))) }))
                            (paragraphs(text, original_lang))
                        }
                    }
                }
            }
            (details(ctx, content, part))
            (relations(ctx, around, content, part))
            (tail)
        }
    }
}

/// A language chip: a link when the record has a page to link to.
fn chip(href: Option<String>, hreflang: Option<&str>, label: Markup) -> Markup {
    html! {
        @match href {
            Some(href) => { a class="chip" href=(href) hreflang=[hreflang] { (label) } }
            None => { span class="chip" { (label) } }
        }
    }
}

fn details(ctx: &Ctx, content: &RecordContent, level: u8) -> Markup {
    html! {
        section class="record-details" aria-labelledby="details-heading" {
            (heading(level, Some("details-heading"), None, None, html! { (ctx.t("record.details")) }))
            dl {
                dt { (ctx.t("field.themes")) }
                dd { ul class="inline-list" { @for theme in &content.themes { li { (theme_label(ctx, *theme)) } } } }
                @if !content.target_groups.is_empty() || !content.target_group_tags.is_empty() {
                    dt { (ctx.t("field.target_groups")) }
                    dd {
                        ul class="inline-list" {
                            @for group in &content.target_groups { li { (target_group_label(ctx, *group)) } }
                            @for tag in &content.target_group_tags { li lang=(content.lang.as_str()) { (tag) } }
                        }
                    }
                }
                dt { (ctx.t("record.years")) }
                dd {
                    (content.year_start)
                    @match content.year_end { Some(end) => { "–" (end) } None => { "–" } }
                }
                @if !content.funding.is_empty() {
                    dt { (ctx.t("record.funding")) }
                    dd {
                        ul class="inline-list" {
                            @for funding in &content.funding {
                                li {
                                    (ctx.t(&format!("funding.{}", serde_json::to_value(funding.source).ok().and_then(|v| v.as_str().map(str::to_string)).unwrap_or_default())))
                                    @if let Some(programme) = &funding.programme { " · " (programme) }
                                }
                            }
                        }
                    }
                }
                @if !content.organisations.is_empty() {
                    dt { (ctx.t("record.organisations")) }
                    dd {
                        ul {
                            @for organisation in &content.organisations {
                                li {
                                    @match &organisation.url {
                                        Some(url) => { a href=(url) rel="nofollow noopener" { (organisation.name) } }
                                        None => { (organisation.name) }
                                    }
                                    " (" (organisation.role) ")"
                                }
                            }
                        }
                    }
                }
                @if !content.sdgs.is_empty() {
                    dt { (ctx.t("record.sdgs")) }
                    dd { (content.sdgs.iter().map(i64::to_string).collect::<Vec<_>>().join(", ")) }
                }
                @if !content.tags.is_empty() {
                    dt { (ctx.t("field.tags")) }
                    dd { ul class="inline-list" lang=(content.lang.as_str()) { @for tag in &content.tags { li { (tag) } } } }
                }
                dt { (ctx.t("field.license")) }
                dd { (content.license) }
                @if let Some(contact) = &content.contact {
                    dt { (ctx.t("record.contact")) }
                    dd {
                        @if let Some(name) = &contact.name { (name) br; }
                        @if let Some(email) = &contact.email { a href=(format!("mailto:{email}")) { (email) } br; }
                        @if let Some(url) = &contact.url { a href=(url) rel="nofollow noopener" { (url) } }
                    }
                }
            }
            @if !content.links.is_empty() {
                (heading(level + 1, None, None, None, html! { (ctx.t("record.links")) }))
                ul {
                    @for link in &content.links {
                        li { a href=(link.url) rel="nofollow noopener" { (link.title.as_deref().unwrap_or(&link.url)) } }
                    }
                }
            }
        }
    }
}

fn relation_key(relation_type: RelationType) -> &'static str {
    match relation_type {
        RelationType::AdaptedFrom => "rel.adapted_from",
        RelationType::Related => "rel.related",
        RelationType::Replaces => "rel.replaces",
        RelationType::PartOf => "rel.part_of",
    }
}

/// The other record of a relation: its title, and where it comes from
/// (country, centre), or that this node does not hold it.
fn related_record(ctx: &Ctx, key: &RecordKey, summary: Option<&RecordSummary>) -> Markup {
    html! {
        @match summary {
            Some(summary) => {
                a href=(record_url(key)) lang=(summary.lang.as_str()) { (summary.title) }
                " "
                span class="relation-origin" {
                    "(" (country_label(ctx, summary.country.as_str()))
                    @if let Some(centre) = &summary.centre { " · " (centre) }
                    ")"
                }
            }
            None => {
                a href=(record_url(key)) { (key.id.as_str()) }
                " " span class="muted" { (ctx.t("record.not_stored")) }
            }
        }
    }
}

fn relations(ctx: &Ctx, around: &Around, content: &RecordContent, level: u8) -> Markup {
    let summary_of = |key: &RecordKey| around.related.iter().find(|summary| summary.key == *key);
    html! {
        @if !content.relations.is_empty() || !around.adapted_from_this.is_empty() {
            section class="record-relations" aria-labelledby="relations-heading" {
                (heading(level, Some("relations-heading"), None, None, html! { (ctx.t("record.relations")) }))
                ul {
                    @for relation in &content.relations {
                        li class=(format!("relation relation-{}", relation_key(relation.relation_type).trim_start_matches("rel."))) {
                            strong { (ctx.t(relation_key(relation.relation_type))) ": " }
                            (related_record(ctx, &relation.target, summary_of(&relation.target)))
                        }
                    }
                    @for adapted in around.adapted_from_this {
                        li class="relation relation-adapted-here" {
                            strong { (ctx.t("record.adapted_from_this")) ": " }
                            (related_record(ctx, &adapted.key, Some(adapted)))
                        }
                    }
                }
            }
        }
    }
}

fn signature(ctx: &Ctx, page: &RecordView) -> Markup {
    let record = page.signed.value();
    html! {
        section class="record-signature" aria-labelledby="signature-heading" {
            h2 id="signature-heading" { (ctx.t("record.signature")) }
            p class="signature-ok" {
                span aria-hidden="true" { "✓ " }
                (ctx.t("record.signature_ok"))
            }
            dl {
                dt { (ctx.t("record.version_label")) }
                dd class="record-version" { (ctx.tf("record.version", &[("n", &record.version.to_string())])) }
                dt { (ctx.t("record.signed_at")) }
                dd { time datetime=(record.signed_at.to_string()) { (record.signed_at.to_string()) } }
                dt { (ctx.t("record.origin_id")) }
                dd { code class="node-id" { (record.key.origin.to_hex()) } }
                dt { (ctx.t("record.version_hash")) }
                dd { code { (page.signed.hash().to_hex()) } }
            }
            p {
                a href=(format!("/api/v1/records/{}/{}", record.key.origin, record.key.id)) { (ctx.t("record.signed_json")) }
            }
        }
    }
}
