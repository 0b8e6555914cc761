//! Editor pages: the list of this node's records, and forms to publish, edit
//! (with a preview) and delete them. Validation errors from the protocol are
//! shown next to the field they concern, and summarised at the top with links
//! to the fields.

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode, Uri};
use axum::response::Response;
use maud::{html, Markup};
use seednet_protocol::{Kind, RecordContent, RecordId, RecordKey, TargetGroup, Theme};

use super::{
    html_response, kind_label, lang_label, layout, message_page, notice, pair, parse_pairs,
    see_other, server_error, target_group_label, theme_label, url_encode, Ctx, Nav,
};
use crate::web::backend::{WebBackend, WriteError};
use crate::web::form::{FieldError, RecordForm, GENERAL_FIELD, SECTION_NAMES};
use crate::web::i18n::UiLang;
use crate::web::session::{csrf_matches, SessionView};
use crate::web::{WebState, EDITOR_RECORDS_LISTED_MAX};

/// The signed-in editor (or admin), or the response that sends them to sign in.
fn require_editor(ctx: &Ctx) -> Result<&SessionView, Box<Response>> {
    match &ctx.session {
        Some(session) if session.role.can_edit() => Ok(session),
        _ => Err(Box::new(see_other(&format!(
            "/signin?required=1&next={}",
            url_encode(&ctx.here)
        )))),
    }
}

fn form_expired(ctx: &Ctx) -> Response {
    message_page(
        ctx,
        StatusCode::FORBIDDEN,
        "form.expired_title",
        ctx.t("form.expired"),
    )
}

pub async fn list<B: WebBackend>(
    State(state): State<Arc<WebState<B>>>,
    headers: HeaderMap,
    uri: Uri,
) -> Response {
    let ctx = Ctx::new(&state, &headers, "/editor");
    if let Err(response) = require_editor(&ctx) {
        return *response;
    }
    let records = match state.backend.own_records(EDITOR_RECORDS_LISTED_MAX).await {
        Ok(records) => records,
        Err(error) => return server_error(&ctx, &error),
    };
    let pairs = parse_pairs(uri.query().unwrap_or(""));
    let main = html! {
        (notice(&ctx, &pairs))
        h1 { (ctx.t("editor.heading")) }
        p { a class="button button-primary" href="/editor/new" { (ctx.t("editor.new")) } }
        @if records.is_empty() {
            p class="empty-state" { (ctx.t("editor.none")) }
        } @else {
            div class="table-scroll" {
                table {
                    caption class="visually-hidden" { (ctx.t("editor.heading")) }
                    thead {
                        tr {
                            th scope="col" { (ctx.t("field.title")) }
                            th scope="col" { (ctx.t("field.lang")) }
                            th scope="col" class="num" { (ctx.t("record.version_label")) }
                            th scope="col" { (ctx.t("record.signed_at")) }
                            th scope="col" { span class="visually-hidden" { (ctx.t("editor.actions")) } }
                        }
                    }
                    tbody {
                        @for record in &records {
                            tr {
                                th scope="row" {
                                    a href=(super::record::record_url(&record.key)) lang=(record.lang.as_str()) { (record.title) }
                                }
                                td { (lang_label(&ctx, &record.lang)) }
                                td class="num" { (record.version) }
                                td { (record.signed_at.to_string()) }
                                td {
                                    a href=(format!("/editor/records/{}/edit", record.key.id)) {
                                        (ctx.t("editor.edit"))
                                        span class="visually-hidden" { ": " (record.title) }
                                    }
                                }
                            }
                        }
                    }
                }
            }
        }
    };
    html_response(
        StatusCode::OK,
        layout(&ctx, ctx.t("editor.heading"), Nav::Editor, main),
    )
}

pub async fn new_form<B: WebBackend>(
    State(state): State<Arc<WebState<B>>>,
    headers: HeaderMap,
) -> Response {
    let ctx = Ctx::new(&state, &headers, "/editor/new");
    let session = match require_editor(&ctx) {
        Ok(session) => session.clone(),
        Err(response) => return *response,
    };
    let info = state.backend.node_info();
    let year = crate::clock::this_year();
    let form = RecordForm::blank(info.country, info.languages.first(), year);
    render_form(
        &ctx,
        &session,
        &form,
        FormMode::New,
        &[],
        None,
        StatusCode::OK,
    )
}

pub async fn new_submit<B: WebBackend>(
    State(state): State<Arc<WebState<B>>>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let ctx = Ctx::new(&state, &headers, "/editor/new");
    let session = match require_editor(&ctx) {
        Ok(session) => session.clone(),
        Err(response) => return *response,
    };
    let pairs = parse_pairs(std::str::from_utf8(&body).unwrap_or(""));
    if !csrf_matches(&session.csrf, pair(&pairs, "csrf").unwrap_or("")) {
        return form_expired(&ctx);
    }
    let form = RecordForm::from_pairs(&pairs);
    let content = match form.to_content(None, ctx.lang) {
        Ok(content) => content,
        Err(errors) => {
            return render_form(
                &ctx,
                &session,
                &form,
                FormMode::New,
                &errors,
                None,
                StatusCode::UNPROCESSABLE_ENTITY,
            )
        }
    };
    if pair(&pairs, "action") == Some("preview") {
        return render_form(
            &ctx,
            &session,
            &form,
            FormMode::New,
            &[],
            Some(&content),
            StatusCode::OK,
        );
    }
    match state
        .backend
        .publish(&session.credential.actor(), content)
        .await
    {
        Ok(published) => see_other(&format!(
            "{}?notice=published",
            super::record::record_url(&published.key)
        )),
        Err(error) => write_failed(&ctx, &session, &form, FormMode::New, error),
    }
}

/// What a write refusal looks like on the form.
fn write_failed(
    ctx: &Ctx,
    session: &SessionView,
    form: &RecordForm,
    mode: FormMode,
    error: WriteError,
) -> Response {
    let general = |message: String| {
        vec![FieldError {
            field: GENERAL_FIELD.into(),
            message,
        }]
    };
    match error {
        WriteError::Invalid(broken) => {
            let errors: Vec<FieldError> = broken
                .0
                .iter()
                .map(|error| FieldError {
                    field: crate::web::form::form_field_for(
                        error.field().trim_start_matches("content."),
                    )
                    .into(),
                    message: crate::web::form::validation_message(ctx.lang, error),
                })
                .collect();
            render_form(
                ctx,
                session,
                form,
                mode,
                &errors,
                None,
                StatusCode::UNPROCESSABLE_ENTITY,
            )
        }
        WriteError::Conflict { current } => render_form(
            ctx,
            session,
            form,
            mode,
            &general(ctx.tf("editor.conflict", &[("n", &current.to_string())])),
            None,
            StatusCode::CONFLICT,
        ),
        WriteError::NotFound => message_page(
            ctx,
            StatusCode::NOT_FOUND,
            "record.not_found_title",
            ctx.t("record.not_found"),
        ),
        WriteError::NotOwn => message_page(
            ctx,
            StatusCode::FORBIDDEN,
            "editor.not_own_title",
            ctx.t("editor.not_own"),
        ),
        WriteError::Backend(error) => server_error(ctx, &error),
    }
}

fn own_key<B: WebBackend>(state: &WebState<B>, id: &str) -> Option<RecordKey> {
    Some(RecordKey {
        origin: state.backend.node_info().node_id,
        id: RecordId::parse(id)?,
    })
}

pub async fn edit_form<B: WebBackend>(
    State(state): State<Arc<WebState<B>>>,
    Path(id): Path<String>,
    headers: HeaderMap,
    uri: Uri,
) -> Response {
    let ctx = Ctx::new(&state, &headers, &format!("/editor/records/{id}/edit"));
    let session = match require_editor(&ctx) {
        Ok(session) => session.clone(),
        Err(response) => return *response,
    };
    let Some(key) = own_key(&state, &id) else {
        return message_page(
            &ctx,
            StatusCode::NOT_FOUND,
            "record.not_found_title",
            ctx.t("record.not_found"),
        );
    };
    let page = match state.backend.record(key.clone()).await {
        Ok(Some(page)) => page,
        Ok(None) => {
            return message_page(
                &ctx,
                StatusCode::NOT_FOUND,
                "record.not_found_title",
                ctx.t("record.not_found"),
            )
        }
        Err(error) => return server_error(&ctx, &error),
    };
    let record = page.signed.value();
    let Some(content) = record.content() else {
        return message_page(
            &ctx,
            StatusCode::NOT_FOUND,
            "record.not_found_title",
            ctx.t("record.not_found"),
        );
    };
    let form = RecordForm::from_content(content, record.version);
    let delete_unconfirmed =
        pair(&parse_pairs(uri.query().unwrap_or("")), "confirm") == Some("needed");
    render_form(
        &ctx,
        &session,
        &form,
        FormMode::Edit {
            key,
            delete_unconfirmed,
        },
        &[],
        None,
        StatusCode::OK,
    )
}

pub async fn edit_submit<B: WebBackend>(
    State(state): State<Arc<WebState<B>>>,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let ctx = Ctx::new(&state, &headers, &format!("/editor/records/{id}/edit"));
    let session = match require_editor(&ctx) {
        Ok(session) => session.clone(),
        Err(response) => return *response,
    };
    let pairs = parse_pairs(std::str::from_utf8(&body).unwrap_or(""));
    if !csrf_matches(&session.csrf, pair(&pairs, "csrf").unwrap_or("")) {
        return form_expired(&ctx);
    }
    let Some(key) = own_key(&state, &id) else {
        return message_page(
            &ctx,
            StatusCode::NOT_FOUND,
            "record.not_found_title",
            ctx.t("record.not_found"),
        );
    };
    let base = match state.backend.record(key.clone()).await {
        Ok(Some(page)) => page.signed.value().content().cloned(),
        Ok(None) => None,
        Err(error) => return server_error(&ctx, &error),
    };
    let Some(base) = base else {
        return message_page(
            &ctx,
            StatusCode::NOT_FOUND,
            "record.not_found_title",
            ctx.t("record.not_found"),
        );
    };
    let form = RecordForm::from_pairs(&pairs);
    let mode = FormMode::Edit {
        key: key.clone(),
        delete_unconfirmed: false,
    };
    let content = match form.to_content(Some(&base), ctx.lang) {
        Ok(content) => content,
        Err(errors) => {
            return render_form(
                &ctx,
                &session,
                &form,
                mode,
                &errors,
                None,
                StatusCode::UNPROCESSABLE_ENTITY,
            )
        }
    };
    if pair(&pairs, "action") == Some("preview") {
        return render_form(
            &ctx,
            &session,
            &form,
            mode,
            &[],
            Some(&content),
            StatusCode::OK,
        );
    }
    let Some(expected_version) = form.expected_version else {
        return form_expired(&ctx);
    };
    match state
        .backend
        .update(&session.credential.actor(), key, expected_version, content)
        .await
    {
        Ok(published) => see_other(&format!(
            "{}?notice=updated",
            super::record::record_url(&published.key)
        )),
        Err(error) => write_failed(&ctx, &session, &form, mode, error),
    }
}

pub async fn delete_submit<B: WebBackend>(
    State(state): State<Arc<WebState<B>>>,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let ctx = Ctx::new(&state, &headers, &format!("/editor/records/{id}/edit"));
    let session = match require_editor(&ctx) {
        Ok(session) => session.clone(),
        Err(response) => return *response,
    };
    let pairs = parse_pairs(std::str::from_utf8(&body).unwrap_or(""));
    if !csrf_matches(&session.csrf, pair(&pairs, "csrf").unwrap_or("")) {
        return form_expired(&ctx);
    }
    let Some(key) = own_key(&state, &id) else {
        return message_page(
            &ctx,
            StatusCode::NOT_FOUND,
            "record.not_found_title",
            ctx.t("record.not_found"),
        );
    };
    if pair(&pairs, "confirm") != Some("yes") {
        return see_other(&format!("/editor/records/{id}/edit?confirm=needed#delete"));
    }
    let Some(expected_version) = pair(&pairs, "expected_version").and_then(|v| v.parse().ok())
    else {
        return form_expired(&ctx);
    };
    match state
        .backend
        .delete(&session.credential.actor(), key, expected_version)
        .await
    {
        Ok(()) => see_other("/editor?notice=deleted"),
        Err(WriteError::Conflict { current }) => message_page(
            &ctx,
            StatusCode::CONFLICT,
            "editor.conflict_title",
            &ctx.tf("editor.conflict", &[("n", &current.to_string())]),
        ),
        Err(WriteError::NotFound) => message_page(
            &ctx,
            StatusCode::NOT_FOUND,
            "record.not_found_title",
            ctx.t("record.not_found"),
        ),
        Err(WriteError::NotOwn) => message_page(
            &ctx,
            StatusCode::FORBIDDEN,
            "editor.not_own_title",
            ctx.t("editor.not_own"),
        ),
        Err(WriteError::Invalid(broken)) => message_page(
            &ctx,
            StatusCode::UNPROCESSABLE_ENTITY,
            "editor.errors_title",
            &broken.to_string(),
        ),
        Err(WriteError::Backend(error)) => server_error(&ctx, &error),
    }
}

#[derive(Clone)]
enum FormMode {
    New,
    /// `delete_unconfirmed`: a deletion was just submitted without ticking
    /// the confirmation box, so the delete form says what is missing.
    Edit {
        key: RecordKey,
        delete_unconfirmed: bool,
    },
}

fn field_id(name: &str) -> String {
    format!("f-{}", name.replace('.', "-"))
}

fn errors_for<'a>(errors: &'a [FieldError], field: &str) -> Vec<&'a FieldError> {
    errors.iter().filter(|e| e.field == field).collect()
}

/// Label, control and the field's own error messages, wired for screen readers.
fn field(
    ctx: &Ctx,
    errors: &[FieldError],
    name: &str,
    label_key: &str,
    help_key: Option<&str>,
    control: impl Fn(&str, Option<String>, bool) -> Markup,
) -> Markup {
    let id = field_id(name);
    let mine = errors_for(errors, name);
    let invalid = !mine.is_empty();
    let mut described: Vec<String> = Vec::new();
    if help_key.is_some() {
        described.push(format!("{id}-help"));
    }
    if invalid {
        described.push(format!("{id}-error"));
    }
    let described_by = (!described.is_empty()).then(|| described.join(" "));
    html! {
        div class=(if invalid { "field field-invalid" } else { "field" }) data-field=(name) {
            label for=(id) { (ctx.t(label_key)) }
            @if let Some(help) = help_key {
                p id=(format!("{id}-help")) class="help" { (ctx.t(help)) }
            }
            @if invalid {
                p id=(format!("{id}-error")) class="field-error" {
                    @for error in &mine { span { (error.message) } " " }
                }
            }
            (control(&id, described_by, invalid))
        }
    }
}

fn text_input<'a>(
    name: &str,
    value: &'a str,
    required: bool,
) -> impl Fn(&str, Option<String>, bool) -> Markup + 'a {
    let name = name.to_string();
    move |id: &str, described_by: Option<String>, invalid: bool| {
        html! {
            input type="text" id=(id) name=(name) value=(value) required[required]
                aria-describedby=[described_by] aria-invalid=[invalid.then_some("true")];
        }
    }
}

fn text_area<'a>(
    name: &str,
    value: &'a str,
    rows: u32,
    required: bool,
) -> impl Fn(&str, Option<String>, bool) -> Markup + 'a {
    let name = name.to_string();
    move |id: &str, described_by: Option<String>, invalid: bool| {
        html! {
            textarea id=(id) name=(name) rows=(rows) required[required]
                aria-describedby=[described_by] aria-invalid=[invalid.then_some("true")] { (value) }
        }
    }
}

/// A group of checkboxes as a fieldset, with its errors.
fn checkbox_group(
    ctx: &Ctx,
    errors: &[FieldError],
    name: &str,
    legend_key: &str,
    options: &[(&str, String)],
    checked: &[String],
) -> Markup {
    let mine = errors_for(errors, name);
    let id = field_id(name);
    html! {
        fieldset class=(if mine.is_empty() { "field checkboxes" } else { "field checkboxes field-invalid" }) id=(id) data-field=(name)
            aria-describedby=[(!mine.is_empty()).then(|| format!("{id}-error"))] {
            legend { (ctx.t(legend_key)) }
            @if !mine.is_empty() {
                p id=(format!("{id}-error")) class="field-error" { @for error in &mine { span { (error.message) } " " } }
            }
            div class="checkbox-grid" {
                @for (value, label) in options {
                    @let option_id = format!("{id}-{value}");
                    div class="checkbox" {
                        input type="checkbox" id=(option_id) name=(name) value=(value) checked[checked.iter().any(|c| c == value)];
                        label for=(option_id) { (label) }
                    }
                }
            }
        }
    }
}

fn render_form(
    ctx: &Ctx,
    session: &SessionView,
    form: &RecordForm,
    mode: FormMode,
    errors: &[FieldError],
    preview: Option<&RecordContent>,
    status: StatusCode,
) -> Response {
    let (heading, action, submit_key) = match &mode {
        FormMode::New => (
            ctx.t("editor.new"),
            "/editor/new".to_string(),
            "editor.publish",
        ),
        FormMode::Edit { key, .. } => (
            ctx.t("editor.edit_heading"),
            format!("/editor/records/{}/edit", key.id),
            "editor.save",
        ),
    };
    let kinds: Vec<(&str, String)> = Kind::ALL
        .iter()
        .map(|k| (k.as_str(), kind_label(ctx, *k).to_string()))
        .collect();
    let themes: Vec<(&str, String)> = Theme::ALL
        .iter()
        .map(|t| (t.as_str(), theme_label(ctx, *t).to_string()))
        .collect();
    let groups: Vec<(&str, String)> = TargetGroup::ALL
        .iter()
        .map(|g| (g.as_str(), target_group_label(ctx, *g).to_string()))
        .collect();
    let general: Vec<&FieldError> = errors_for(errors, GENERAL_FIELD);
    let section_value = |name: &str| form.sections.get(name).cloned().unwrap_or_default();
    let main = html! {
        h1 { (heading) }
        @if !errors.is_empty() {
            div class="notice notice-error error-summary" role="alert" tabindex="-1" id="error-summary" {
                h2 { (ctx.t("editor.errors")) }
                ul {
                    @for error in errors {
                        li {
                            @if error.field == GENERAL_FIELD {
                                (error.message)
                            } @else {
                                a href=(format!("#{}", field_id(&error.field))) { (field_label(ctx, &error.field)) ": " (error.message) }
                            }
                        }
                    }
                }
            }
        }
        @if let Some(content) = preview {
            section class="preview" aria-labelledby="preview-heading" {
                h2 id="preview-heading" { (ctx.t("editor.preview_heading")) }
                (preview_card(ctx, content))
            }
        }
        form class="record-form stack" method="post" action=(action) novalidate {
            input type="hidden" name="csrf" value=(session.csrf);
            @if let Some(version) = form.expected_version {
                input type="hidden" name="expected_version" value=(version);
            }
            @for error in general { p class="field-error" { (error.message) } }
            div class="form-row" {
                (field(ctx, errors, "kind", "field.kind", None, |id, _, _| html! {
                    select id=(id) name="kind" {
                        @for (value, label) in &kinds { option value=(value) selected[form.kind == *value] { (label) } }
                    }
                }))
                (field(ctx, errors, "lang", "field.lang", Some("field.lang_help"), |id, described, invalid| html! {
                    input type="text" id=(id) name="lang" value=(form.lang) required maxlength="3" size="4"
                        aria-describedby=[described] aria-invalid=[invalid.then_some("true")] list="lang-options";
                    datalist id="lang-options" { @for lang in UiLang::ALL { option value=(lang.code()) { (lang.endonym()) } } }
                }))
                (field(ctx, errors, "country", "field.country", Some("field.country_help"), |id, described, invalid| html! {
                    input type="text" id=(id) name="country" value=(form.country) required maxlength="2" size="3"
                        aria-describedby=[described] aria-invalid=[invalid.then_some("true")];
                }))
            }
            (field(ctx, errors, "title", "field.title", None, text_input("title", &form.title, true)))
            (field(ctx, errors, "summary", "field.summary", Some("field.summary_help"), text_area("summary", &form.summary, 3, true)))
            (field(ctx, errors, "body", "field.body", None, text_area("body", &form.body, 10, true)))
            (checkbox_group(ctx, errors, "themes", "field.themes", &themes, &form.themes))
            details class="form-more" open[SECTION_NAMES.iter().any(|n| form.sections.contains_key(*n)) || SECTION_NAMES.iter().any(|n| !errors_for(errors, &format!("sections.{n}")).is_empty())] {
                summary { (ctx.t("field.sections")) }
                @for name in SECTION_NAMES {
                    @let field_name = format!("sections.{name}");
                    @let value = section_value(name);
                    (field(ctx, errors, &field_name, &format!("section.{name}"), None, text_area(&field_name, &value, 4, false)))
                }
            }
            (checkbox_group(ctx, errors, "target_groups", "field.target_groups", &groups, &form.target_groups))
            div class="form-row" {
                (field(ctx, errors, "region", "field.region", None, text_input("region", &form.region, false)))
                (field(ctx, errors, "year_start", "field.year_start", None, |id, described, invalid| html! {
                    input type="text" inputmode="numeric" id=(id) name="year_start" value=(form.year_start) required size="6"
                        aria-describedby=[described] aria-invalid=[invalid.then_some("true")];
                }))
                (field(ctx, errors, "year_end", "field.year_end", None, |id, described, invalid| html! {
                    input type="text" inputmode="numeric" id=(id) name="year_end" value=(form.year_end) size="6"
                        aria-describedby=[described] aria-invalid=[invalid.then_some("true")];
                }))
            }
            (field(ctx, errors, "tags", "field.tags", Some("field.tags_help"), text_input("tags", &form.tags, false)))
            (field(ctx, errors, "links", "field.links", Some("field.links_help"), text_area("links", &form.links, 3, false)))
            (field(ctx, errors, "adapted_from", "field.adapted_from", Some("field.adapted_from_help"), text_area("adapted_from", &form.adapted_from, 2, false)))
            div class="form-row" {
                (field(ctx, errors, "contact.name", "field.contact_name", None, text_input("contact.name", &form.contact_name, false)))
                (field(ctx, errors, "contact.email", "field.contact_email", None, |id, described, invalid| html! {
                    input type="email" id=(id) name="contact.email" value=(form.contact_email)
                        aria-describedby=[described] aria-invalid=[invalid.then_some("true")];
                }))
                (field(ctx, errors, "contact.url", "field.contact_url", None, text_input("contact.url", &form.contact_url, false)))
            }
            (field(ctx, errors, "license", "field.license", Some("field.license_help"), text_input("license", &form.license, false)))
            @if matches!(mode, FormMode::Edit { .. }) {
                p class="help" { (ctx.t("form.kept")) }
            }
            div class="form-actions" {
                button type="submit" name="action" value="preview" class="button" { (ctx.t("editor.preview")) }
                button type="submit" name="action" value="publish" class="button button-primary" { (ctx.t(submit_key)) }
            }
        }
        @if let FormMode::Edit { key, delete_unconfirmed } = &mode {
            @if let Some(version) = form.expected_version {
                form id="delete" class="danger-zone stack" method="post" action=(format!("/editor/records/{}/delete", key.id)) {
                    h2 { (ctx.t("editor.delete_heading")) }
                    p { (ctx.t("editor.delete_help")) }
                    @if *delete_unconfirmed {
                        p class="notice notice-error" role="alert" { (ctx.t("editor.delete_unconfirmed")) }
                    }
                    input type="hidden" name="csrf" value=(session.csrf);
                    input type="hidden" name="expected_version" value=(version);
                    div class="checkbox" {
                        input type="checkbox" id="confirm-delete" name="confirm" value="yes" required;
                        label for="confirm-delete" { (ctx.t("editor.delete_confirm")) }
                    }
                    button type="submit" class="button button-danger" { (ctx.t("editor.delete")) }
                }
            }
        }
    };
    html_response(status, layout(ctx, heading, Nav::Editor, main))
}

fn field_label(ctx: &Ctx, field: &str) -> &'static str {
    match field {
        "contact.name" => ctx.t("field.contact_name"),
        "contact.email" => ctx.t("field.contact_email"),
        "contact.url" => ctx.t("field.contact_url"),
        other => match other.strip_prefix("sections.") {
            Some(section) => ctx.t(&format!("section.{section}")),
            None => ctx.t(&format!("field.{other}")),
        },
    }
}

fn preview_card(ctx: &Ctx, content: &RecordContent) -> Markup {
    html! {
        article class="record record-preview" {
            p class="record-kind" { (kind_label(ctx, content.kind)) }
            h3 lang=(content.lang.as_str()) { (content.title) }
            ul class="badges" {
                li class="badge badge-country" { (content.country.as_str()) }
                li class="badge badge-lang" { (lang_label(ctx, &content.lang)) }
                @for theme in &content.themes { li class="badge badge-theme" { (theme_label(ctx, *theme)) } }
            }
            div class="prose" lang=(content.lang.as_str()) {
                p { strong { (content.summary) } }
                @for paragraph in content.body.split("\n\n") { p { (paragraph) } }
            }
        }
    }
}
