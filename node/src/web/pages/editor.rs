//! Editor pages: the list of this node's records, and the record form to
//! publish, edit (with a preview) and delete them.
//!
//! The form covers every field of the record content (`crate::web::form`);
//! its buttons all send the whole form, and this module does what the
//! pressed one asks: add or remove a row of a repeated group, search the
//! network for a record to relate to, preview, publish. Only "publish"
//! writes, and a refused form comes back with every value as typed and each
//! message next to its input, summarised at the top with links to them.

mod controls;
mod relation_search;
mod render;

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode, Uri};
use axum::response::Response;
use maud::html;
use seednet_protocol::{RecordContent, RecordId, RecordKey};

use super::{
    html_response, lang_label, layout, message_page, notice, pair, parse_pairs, see_other,
    server_error, url_encode, Ctx, Nav,
};
use crate::web::backend::{CentreName, RecordSummary, WebBackend, WriteError};
use crate::web::form::content::Parsed;
use crate::web::form::fields::{input_id, row_first_input, row_input_name};
use crate::web::form::groups::Edited;
use crate::web::form::{FieldError, FormAction, Group, RecordForm, GENERAL_FIELD};
use crate::web::session::{csrf_matches, SessionView};
use crate::web::{WebState, EDITOR_RECORDS_LISTED_MAX, WEB_FORM_BYTES_MAX};
use relation_search::Outcome;
use render::FormPage;

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

/// The fields of a submitted form, once its body fits
/// [`WEB_FORM_BYTES_MAX`] and it carries the session's CSRF token.
fn read_form(
    ctx: &Ctx,
    session: &SessionView,
    body: Result<Bytes, BytesRejection>,
) -> Result<Vec<(String, String)>, Box<Response>> {
    let body = body.map_err(|rejection| {
        tracing::info!(%rejection, "editor form refused");
        Box::new(message_page(
            ctx,
            StatusCode::PAYLOAD_TOO_LARGE,
            "editor.form_too_large_title",
            &ctx.tf(
                "editor.form_too_large",
                &[("max", &(WEB_FORM_BYTES_MAX / 1024).to_string())],
            ),
        ))
    })?;
    let pairs = parse_pairs(std::str::from_utf8(&body).unwrap_or(""));
    if !csrf_matches(&session.csrf, pair(&pairs, "csrf").unwrap_or("")) {
        return Err(Box::new(form_expired(ctx)));
    }
    Ok(pairs)
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
    respond(&state, &ctx, &session, View::new(FormMode::New, form)).await
}

pub async fn new_submit<B: WebBackend>(
    State(state): State<Arc<WebState<B>>>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Response {
    let ctx = Ctx::new(&state, &headers, "/editor/new");
    let session = match require_editor(&ctx) {
        Ok(session) => session.clone(),
        Err(response) => return *response,
    };
    let pairs = match read_form(&ctx, &session, body) {
        Ok(pairs) => pairs,
        Err(response) => return *response,
    };
    submit(&state, &ctx, &session, FormMode::New, &pairs).await
}

fn own_key<B: WebBackend>(state: &WebState<B>, id: &str) -> Option<RecordKey> {
    Some(RecordKey {
        origin: state.backend.node_info().node_id,
        id: RecordId::parse(id)?,
    })
}

fn not_found(ctx: &Ctx) -> Response {
    message_page(
        ctx,
        StatusCode::NOT_FOUND,
        "record.not_found_title",
        ctx.t("record.not_found"),
    )
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
        return not_found(&ctx);
    };
    let page = match state.backend.record(key.clone()).await {
        Ok(Some(page)) => page,
        Ok(None) => return not_found(&ctx),
        Err(error) => return server_error(&ctx, &error),
    };
    let record = page.signed.value();
    let Some(content) = record.content() else {
        return not_found(&ctx);
    };
    let form = RecordForm::from_content(content, record.version);
    let delete_unconfirmed =
        pair(&parse_pairs(uri.query().unwrap_or("")), "confirm") == Some("needed");
    let mode = FormMode::Edit {
        key,
        delete_unconfirmed,
    };
    respond(&state, &ctx, &session, View::new(mode, form)).await
}

pub async fn edit_submit<B: WebBackend>(
    State(state): State<Arc<WebState<B>>>,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Response {
    let ctx = Ctx::new(&state, &headers, &format!("/editor/records/{id}/edit"));
    let session = match require_editor(&ctx) {
        Ok(session) => session.clone(),
        Err(response) => return *response,
    };
    let pairs = match read_form(&ctx, &session, body) {
        Ok(pairs) => pairs,
        Err(response) => return *response,
    };
    let Some(key) = own_key(&state, &id) else {
        return not_found(&ctx);
    };
    let mode = FormMode::Edit {
        key,
        delete_unconfirmed: false,
    };
    submit(&state, &ctx, &session, mode, &pairs).await
}

/// Which record the form writes.
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

impl FormMode {
    fn key(&self) -> Option<&RecordKey> {
        match self {
            FormMode::New => None,
            FormMode::Edit { key, .. } => Some(key),
        }
    }
}

/// One showing of the form page: the form and what to show around it.
struct View {
    mode: FormMode,
    form: RecordForm,
    errors: Vec<FieldError>,
    preview: Option<RecordContent>,
    search: Option<Outcome>,
    /// The id of the control that takes the focus.
    focus: Option<String>,
    notice: Option<(Group, String)>,
    status: StatusCode,
}

impl View {
    fn new(mode: FormMode, form: RecordForm) -> View {
        View {
            mode,
            form,
            errors: Vec::new(),
            preview: None,
            search: None,
            focus: None,
            notice: None,
            status: StatusCode::OK,
        }
    }

    /// Refused, with `errors` next to their inputs.
    fn refused(mut self, errors: Vec<FieldError>, status: StatusCode) -> View {
        self.errors = errors;
        self.status = status;
        self
    }

    /// Where the focus goes, and what the page says, after a form edit.
    fn edited(&mut self, ctx: &Ctx, edited: Edited) {
        match edited {
            Edited::Added(group, index) => {
                self.focus = Some(input_id(&row_first_input(group, index)));
            }
            Edited::Removed(group) => self.focus = Some(controls::add_button_id(group)),
            Edited::Full(group) => {
                self.notice = Some((
                    group,
                    ctx.tf("editor.group_full", &[("max", &group.max().to_string())]),
                ));
            }
            Edited::AlreadyRelated(index) => {
                self.notice = Some((Group::Relations, ctx.t("editor.relation_listed").into()));
                self.focus = Some(input_id(&row_input_name(Group::Relations, index, "target")));
            }
            Edited::Nothing => {}
        }
    }
}

fn general(message: String) -> Vec<FieldError> {
    vec![FieldError {
        field: GENERAL_FIELD.into(),
        message,
    }]
}

/// Reads the submitted form and does what the pressed button asks: edit
/// the form, search for records to relate to, preview, or publish.
async fn submit<B: WebBackend>(
    state: &WebState<B>,
    ctx: &Ctx,
    session: &SessionView,
    mode: FormMode,
    pairs: &[(String, String)],
) -> Response {
    let mut view = View::new(mode, RecordForm::from_pairs(pairs));
    let Some(action) = FormAction::parse(pair(pairs, "action")) else {
        let view = view.refused(
            general(ctx.t("editor.unknown_action").into()),
            StatusCode::BAD_REQUEST,
        );
        return respond(state, ctx, session, view).await;
    };
    match action {
        FormAction::SearchRelations => {
            let outcome = relation_search::run(
                &*state.backend,
                ctx,
                &view.form.relation_query,
                view.mode.key(),
            )
            .await;
            view.focus = Some(match &outcome {
                Outcome::Found(found) if !found.is_empty() => relation_search::pick_button_id(0),
                _ => input_id("relation_search.q"),
            });
            view.search = Some(outcome);
        }
        FormAction::Preview => match view.form.to_content(ctx.lang) {
            Ok(parsed) => view.preview = Some(parsed.content),
            Err(errors) => view = view.refused(errors, StatusCode::UNPROCESSABLE_ENTITY),
        },
        FormAction::Publish => match view.form.to_content(ctx.lang) {
            Ok(parsed) => return write(state, ctx, session, view, parsed).await,
            Err(errors) => view = view.refused(errors, StatusCode::UNPROCESSABLE_ENTITY),
        },
        edit => {
            let edited = view.form.apply(&edit);
            view.edited(ctx, edited);
        }
    }
    respond(state, ctx, session, view).await
}

/// Publishes or saves the content; a refusal shows the form again.
async fn write<B: WebBackend>(
    state: &WebState<B>,
    ctx: &Ctx,
    session: &SessionView,
    view: View,
    parsed: Parsed,
) -> Response {
    let actor = session.credential.actor();
    let (result, notice) = match &view.mode {
        FormMode::New => (
            state.backend.publish(&actor, parsed.content).await,
            "published",
        ),
        FormMode::Edit { key, .. } => {
            let Some(expected_version) = view.form.expected_version else {
                return form_expired(ctx);
            };
            let result = state
                .backend
                .update(&actor, key.clone(), expected_version, parsed.content)
                .await;
            (result, "updated")
        }
    };
    let view = match result {
        Ok(published) => {
            return see_other(&format!(
                "{}?notice={notice}",
                super::record::record_url(&published.key)
            ))
        }
        Err(WriteError::Invalid(broken)) => view.refused(
            parsed.fields.errors(ctx.lang, &broken.0),
            StatusCode::UNPROCESSABLE_ENTITY,
        ),
        Err(WriteError::Conflict { current }) => view.refused(
            general(ctx.tf("editor.conflict", &[("n", &current.to_string())])),
            StatusCode::CONFLICT,
        ),
        Err(WriteError::NotFound) => return not_found(ctx),
        Err(WriteError::NotOwn) => {
            return message_page(
                ctx,
                StatusCode::FORBIDDEN,
                "editor.not_own_title",
                ctx.t("editor.not_own"),
            )
        }
        Err(WriteError::Backend(error)) => return server_error(ctx, &error),
    };
    respond(state, ctx, session, view).await
}

/// The records the relation rows name, where this node holds them (at
/// most one lookup per row, so at most the protocol's `RELATIONS_MAX`).
async fn related_records<B: WebBackend>(backend: &B, form: &RecordForm) -> Vec<RecordSummary> {
    let mut targets = form.relation_targets();
    targets.sort();
    targets.dedup();
    let mut related = Vec::new();
    for key in targets {
        match backend.record(key.clone()).await {
            Ok(Some(view)) => {
                let record = view.signed.value();
                if let Some(content) = record.content() {
                    related.push(RecordSummary {
                        key,
                        version: record.version,
                        title: content.title.clone(),
                        lang: content.lang.clone(),
                        country: content.country,
                        signed_at: record.signed_at,
                        centre: view.origin.map(|origin| origin.name),
                    });
                }
            }
            Ok(None) => {}
            // A title is a courtesy: the relation is still shown by its key.
            Err(error) => tracing::warn!(error = %error, "a related record is unavailable"),
        }
    }
    related
}

/// The form page for `view`.
async fn respond<B: WebBackend>(
    state: &WebState<B>,
    ctx: &Ctx,
    session: &SessionView,
    view: View,
) -> Response {
    let related = related_records(&*state.backend, &view.form).await;
    let info = state.backend.node_info();
    let centre = CentreName {
        name: info.name,
        country: info.country,
    };
    let page = FormPage {
        mode: &view.mode,
        form: &view.form,
        errors: &view.errors,
        preview: view.preview.as_ref(),
        search: view.search.as_ref(),
        related: &related,
        centre: &centre,
        focus: view.focus.as_deref(),
        notice: view.notice.clone(),
    };
    let main = render::main(ctx, session, &page);
    html_response(
        view.status,
        layout(ctx, render::heading(ctx, &view.mode), Nav::Editor, main),
    )
}

pub async fn delete_submit<B: WebBackend>(
    State(state): State<Arc<WebState<B>>>,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Response {
    let ctx = Ctx::new(&state, &headers, &format!("/editor/records/{id}/edit"));
    let session = match require_editor(&ctx) {
        Ok(session) => session.clone(),
        Err(response) => return *response,
    };
    let pairs = match read_form(&ctx, &session, body) {
        Ok(pairs) => pairs,
        Err(response) => return *response,
    };
    let Some(key) = own_key(&state, &id) else {
        return not_found(&ctx);
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
        Err(WriteError::NotFound) => not_found(&ctx),
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
