//! The accounts page (`/admin/accounts`): admins create accounts for the
//! people of their centre (username, display name, role, first password),
//! disable or enable them, set a new password, and delete them.
//!
//! Every change is the same `crate::accounts` operation as
//! `/api/v1/accounts` and `seednet account`; disabling, deleting or resetting
//! the password of an account ends its sessions. An admin cannot disable or
//! delete the account they are signed in with, so a slip does not lock them
//! out. A refused form comes back with the message next to its field and
//! what was typed (never the password).

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode, Uri};
use axum::response::Response;
use maud::{html, Markup};

use super::admin_guard::{check_form, require_admin};
use super::{
    html_response, layout, pair, parse_pairs, role_key, see_other, server_error, url_encode, Ctx,
    Nav,
};
use crate::accounts::{
    DISPLAY_NAME_CHARS_MAX, PASSWORD_CHARS_MAX, PASSWORD_CHARS_MIN, USERNAME_CHARS_MAX,
};
use crate::web::accounts_backend::{AccountChange, AccountError, AccountInfo, NewAccount};
use crate::web::backend::{Credential, Role, WebBackend};
use crate::web::session::SessionView;
use crate::web::WebState;

/// The links from the admin page to the pages for people and tokens.
pub fn admin_links(ctx: &Ctx) -> Markup {
    html! {
        nav class="admin-links" aria-label=(ctx.t("accounts.admin_nav")) {
            ul class="inline-list" {
                li { a href="/admin/accounts" { (ctx.t("accounts.heading")) } }
                li { a href="/admin/tokens" { (ctx.t("tokens.heading")) } }
            }
        }
    }
}

/// What the create form shows again after a refusal.
#[derive(Default)]
struct Typed {
    username: String,
    display_name: String,
    role: Option<Role>,
}

/// A refusal to show: on a create-form field, or about one account (at the
/// top of the page, naming it).
enum Refusal {
    Field {
        field: &'static str,
        message: String,
    },
    Row {
        username: String,
        message: String,
    },
}

/// The message of an account refusal in the interface language.
pub(super) fn refusal_text(ctx: &Ctx, error: &AccountError) -> String {
    match error {
        AccountError::InvalidUsername => ctx.tf(
            "accounts.bad_username",
            &[
                ("min", &crate::accounts::USERNAME_CHARS_MIN.to_string()),
                ("max", &USERNAME_CHARS_MAX.to_string()),
            ],
        ),
        AccountError::UsernameTaken { username } => {
            ctx.tf("accounts.taken", &[("username", username)])
        }
        AccountError::InvalidDisplayName => ctx.tf(
            "accounts.bad_display_name",
            &[("max", &DISPLAY_NAME_CHARS_MAX.to_string())],
        ),
        AccountError::Password(crate::accounts::PasswordRule::TooShort { min }) => {
            ctx.tf("password.too_short", &[("min", &min.to_string())])
        }
        AccountError::Password(crate::accounts::PasswordRule::TooLong { max }) => {
            ctx.tf("password.too_long", &[("max", &max.to_string())])
        }
        AccountError::WrongCurrentPassword => ctx.t("password.wrong_current").to_string(),
        AccountError::TooManyAttempts {
            retry_after_minutes: 1,
        } => ctx.t("signin.limited_one").to_string(),
        AccountError::TooManyAttempts {
            retry_after_minutes,
        } => ctx.tf("signin.limited", &[("n", &retry_after_minutes.to_string())]),
        AccountError::NotFound { .. } => ctx.t("accounts.not_found").to_string(),
        AccountError::TooMany { max } => ctx.tf("accounts.too_many", &[("max", &max.to_string())]),
        AccountError::Hash(_) | AccountError::Storage(_) => ctx.t("error.server").to_string(),
    }
}

/// The status of a page answering an account refusal.
pub(super) fn status_of(error: &AccountError) -> StatusCode {
    match error {
        AccountError::WrongCurrentPassword => StatusCode::FORBIDDEN,
        AccountError::TooManyAttempts { .. } => StatusCode::TOO_MANY_REQUESTS,
        AccountError::UsernameTaken { .. } | AccountError::TooMany { .. } => StatusCode::CONFLICT,
        AccountError::NotFound { .. } => StatusCode::NOT_FOUND,
        AccountError::Hash(_) | AccountError::Storage(_) => StatusCode::INTERNAL_SERVER_ERROR,
        _ => StatusCode::UNPROCESSABLE_ENTITY,
    }
}

fn own_username(session: &SessionView) -> Option<&str> {
    match &session.credential {
        Credential::Account { username, .. } => Some(username),
        Credential::Token { .. } => None,
    }
}

fn field_class(refusal: Option<&Refusal>, name: &str) -> &'static str {
    match refusal {
        Some(Refusal::Field { field, .. }) if *field == name => "field field-invalid",
        _ => "field",
    }
}

fn field_error(refusal: Option<&Refusal>, name: &str) -> Markup {
    html! {
        @if let Some(Refusal::Field { field, message }) = refusal {
            @if *field == name {
                p class="field-error" id=(format!("{name}-error")) { (message) }
            }
        }
    }
}

fn described_by(refusal: Option<&Refusal>, name: &str, help: &str) -> String {
    match refusal {
        Some(Refusal::Field { field, .. }) if *field == name => format!("{help} {name}-error"),
        _ => help.to_string(),
    }
}

fn when(seconds: i64) -> String {
    seednet_protocol::Timestamp::from_unix_seconds(seconds)
        .map(|t| t.to_string())
        .unwrap_or_else(|| "–".into())
}

fn row_form(
    session: &SessionView,
    account: &AccountInfo,
    action: &str,
    label: &str,
    class: &str,
) -> Markup {
    html! {
        form method="post" action=(format!("/admin/accounts/{}/{action}", account.username)) class="inline-form" {
            input type="hidden" name="csrf" value=(session.csrf);
            button type="submit" class=(class) data-account=(account.username) data-action=(action) {
                (label) span class="visually-hidden" { ": " (account.username) }
            }
        }
    }
}

fn account_row(ctx: &Ctx, session: &SessionView, account: &AccountInfo) -> Markup {
    let is_self = own_username(session) == Some(account.username.as_str());
    let reset_id = format!("reset-{}", account.username);
    html! {
        tr data-account=(account.username) {
            th scope="row" { code { (account.username) } }
            td { (account.display_name) }
            td { (ctx.t(role_key(account.role))) }
            td class=(if account.disabled { "account-state state-disabled" } else { "account-state state-active" }) {
                (ctx.t(if account.disabled { "accounts.state_disabled" } else { "accounts.state_active" }))
            }
            td { (when(account.created_at)) }
            td {
                @if is_self {
                    p class="help" { (ctx.t("accounts.is_you")) }
                } @else {
                    @if account.disabled {
                        (row_form(session, account, "enable", ctx.t("accounts.enable"), "button"))
                    } @else {
                        (row_form(session, account, "disable", ctx.t("accounts.disable"), "button button-danger"))
                    }
                    " "
                    (row_form(session, account, "delete", ctx.t("accounts.delete"), "button button-danger"))
                }
                details class="form-more" {
                    summary { (ctx.t("accounts.new_password")) span class="visually-hidden" { ": " (account.username) } }
                    form method="post" action=(format!("/admin/accounts/{}/reset-password", account.username)) class="stack" {
                        input type="hidden" name="csrf" value=(session.csrf);
                        label for=(reset_id) { (ctx.t("accounts.new_password")) }
                        input type="password" id=(reset_id) name="password" required
                            minlength=(PASSWORD_CHARS_MIN) maxlength=(PASSWORD_CHARS_MAX) autocomplete="new-password";
                        button type="submit" class="button" data-account=(account.username) data-action="reset-password" {
                            (ctx.t("accounts.reset")) span class="visually-hidden" { ": " (account.username) }
                        }
                    }
                }
            }
        }
    }
}

fn render(
    ctx: &Ctx,
    session: &SessionView,
    accounts: &[AccountInfo],
    typed: &Typed,
    refusal: Option<&Refusal>,
    notice_key: Option<&str>,
    status: StatusCode,
) -> Response {
    let role = typed.role.unwrap_or(Role::Editor);
    let main = html! {
        @if let Some(key) = notice_key {
            p class="notice notice-ok" role="status" { (ctx.t(key)) }
        }
        @if let Some(Refusal::Row { username, message }) = refusal {
            p class="notice notice-error" role="alert" id="account-error" {
                code { (username) } ": " (message)
            }
        }
        p { a href="/admin" { "← " (ctx.t("admin.heading")) } }
        h1 { (ctx.t("accounts.heading")) }
        p class="help" { (ctx.t("accounts.help")) }
        section aria-labelledby="accounts-list-heading" class="card" {
            h2 id="accounts-list-heading" { (ctx.t("accounts.list")) }
            @if accounts.is_empty() {
                p id="no-accounts" { (ctx.t("accounts.none")) }
            } @else {
                div class="table-scroll" {
                    table class="accounts-table" {
                        thead {
                            tr {
                                th scope="col" { (ctx.t("signin.username")) }
                                th scope="col" { (ctx.t("accounts.display_name")) }
                                th scope="col" { (ctx.t("accounts.role")) }
                                th scope="col" { (ctx.t("admin.state")) }
                                th scope="col" { (ctx.t("accounts.created")) }
                                th scope="col" { span class="visually-hidden" { (ctx.t("editor.actions")) } }
                            }
                        }
                        tbody {
                            @for account in accounts {
                                (account_row(ctx, session, account))
                            }
                        }
                    }
                }
            }
        }
        section aria-labelledby="account-new-heading" class="card" {
            h2 id="account-new-heading" { (ctx.t("accounts.create_heading")) }
            form method="post" action="/admin/accounts" class="stack narrow" id="account-new" {
                input type="hidden" name="csrf" value=(session.csrf);
                div class=(field_class(refusal, "username")) {
                    label for="new-username" { (ctx.t("signin.username")) }
                    input type="text" id="new-username" name="username" required value=(typed.username)
                        maxlength=(USERNAME_CHARS_MAX) autocomplete="off" autocapitalize="none" spellcheck="false"
                        aria-describedby=(described_by(refusal, "username", "new-username-help"));
                    p id="new-username-help" class="help" {
                        (ctx.tf("accounts.username_help", &[("max", &USERNAME_CHARS_MAX.to_string())]))
                    }
                    (field_error(refusal, "username"))
                }
                div class=(field_class(refusal, "display_name")) {
                    label for="new-display-name" { (ctx.t("accounts.display_name")) }
                    input type="text" id="new-display-name" name="display_name" required value=(typed.display_name)
                        maxlength=(DISPLAY_NAME_CHARS_MAX) autocomplete="off"
                        aria-describedby=(described_by(refusal, "display_name", "new-display-name-help"));
                    p id="new-display-name-help" class="help" { (ctx.t("accounts.display_name_help")) }
                    (field_error(refusal, "display_name"))
                }
                div class=(field_class(refusal, "role")) {
                    label for="new-role" { (ctx.t("accounts.role")) }
                    select id="new-role" name="role" {
                        option value="editor" selected[role == Role::Editor] { (ctx.t("role.editor")) }
                        option value="admin" selected[role == Role::Admin] { (ctx.t("role.admin")) }
                    }
                    (field_error(refusal, "role"))
                }
                div class=(field_class(refusal, "password")) {
                    label for="new-password" { (ctx.t("accounts.first_password")) }
                    input type="password" id="new-password" name="password" required
                        minlength=(PASSWORD_CHARS_MIN) maxlength=(PASSWORD_CHARS_MAX) autocomplete="new-password"
                        aria-describedby=(described_by(refusal, "password", "new-password-help"));
                    p id="new-password-help" class="help" {
                        (ctx.tf("accounts.first_password_help", &[("min", &PASSWORD_CHARS_MIN.to_string())]))
                    }
                    (field_error(refusal, "password"))
                }
                button type="submit" class="button button-primary" { (ctx.t("accounts.create")) }
            }
        }
    };
    html_response(
        status,
        layout(ctx, ctx.t("accounts.heading"), Nav::Admin, main),
    )
}

/// The page with a refusal or a notice, listing the accounts as they are now.
async fn show<B: WebBackend>(
    state: &WebState<B>,
    ctx: &Ctx,
    session: &SessionView,
    typed: &Typed,
    refusal: Option<&Refusal>,
    notice_key: Option<&str>,
    status: StatusCode,
) -> Response {
    match state.backend.accounts().await {
        Ok(accounts) => render(ctx, session, &accounts, typed, refusal, notice_key, status),
        Err(error) => server_error(ctx, &error),
    }
}

/// Notices after a redirect; only known values, so nothing is reflected.
fn notice_key(pairs: &[(String, String)]) -> Option<&'static str> {
    match pair(pairs, "notice") {
        Some("created") => Some("accounts.notice_created"),
        Some("disabled") => Some("accounts.notice_disabled"),
        Some("enabled") => Some("accounts.notice_enabled"),
        Some("deleted") => Some("accounts.notice_deleted"),
        Some("reset-password") => Some("accounts.notice_reset"),
        _ => None,
    }
}

pub async fn page<B: WebBackend>(
    State(state): State<Arc<WebState<B>>>,
    headers: HeaderMap,
    uri: Uri,
) -> Response {
    let ctx = Ctx::new(&state, &headers, "/admin/accounts");
    let session = match require_admin(&ctx) {
        Ok(session) => session.clone(),
        Err(response) => return *response,
    };
    let pairs = parse_pairs(uri.query().unwrap_or(""));
    show(
        &state,
        &ctx,
        &session,
        &Typed::default(),
        None,
        notice_key(&pairs),
        StatusCode::OK,
    )
    .await
}

pub async fn create<B: WebBackend>(
    State(state): State<Arc<WebState<B>>>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let ctx = Ctx::new(&state, &headers, "/admin/accounts");
    let pairs = match check_form(&ctx, &body) {
        Ok(pairs) => pairs,
        Err(response) => return *response,
    };
    let session = ctx.session.clone().expect("check_form needs a session");
    let role_text = pair(&pairs, "role").unwrap_or("");
    let typed = Typed {
        username: pair(&pairs, "username")
            .unwrap_or("")
            .trim()
            .chars()
            .take(USERNAME_CHARS_MAX * 2)
            .collect(),
        display_name: pair(&pairs, "display_name")
            .unwrap_or("")
            .chars()
            .take(DISPLAY_NAME_CHARS_MAX * 2)
            .collect(),
        role: role_text.parse().ok(),
    };
    let Some(role) = typed.role else {
        let refusal = Refusal::Field {
            field: "role",
            message: ctx.t("accounts.bad_role").to_string(),
        };
        return show(
            &state,
            &ctx,
            &session,
            &typed,
            Some(&refusal),
            None,
            StatusCode::UNPROCESSABLE_ENTITY,
        )
        .await;
    };
    let new = NewAccount {
        username: typed.username.clone(),
        display_name: typed.display_name.clone(),
        role,
        password: pair(&pairs, "password").unwrap_or("").to_string(),
    };
    match state.backend.create_account(new).await {
        Ok(_) => see_other("/admin/accounts?notice=created"),
        Err(error) => {
            if matches!(error, AccountError::Hash(_) | AccountError::Storage(_)) {
                tracing::error!(%error, "creating an account failed");
            }
            let refusal = Refusal::Field {
                field: error.field().unwrap_or("username"),
                message: refusal_text(&ctx, &error),
            };
            show(
                &state,
                &ctx,
                &session,
                &typed,
                Some(&refusal),
                None,
                status_of(&error),
            )
            .await
        }
    }
}

pub async fn action<B: WebBackend>(
    State(state): State<Arc<WebState<B>>>,
    Path((username, action)): Path<(String, String)>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let ctx = Ctx::new(&state, &headers, "/admin/accounts");
    let pairs = match check_form(&ctx, &body) {
        Ok(pairs) => pairs,
        Err(response) => return *response,
    };
    let session = ctx.session.clone().expect("check_form needs a session");
    let row_refusal = |message: String| Refusal::Row {
        username: username.clone(),
        message,
    };
    let is_self = own_username(&session) == Some(username.as_str());
    if is_self && matches!(action.as_str(), "disable" | "delete") {
        let refusal = row_refusal(ctx.t("accounts.not_yourself").to_string());
        return show(
            &state,
            &ctx,
            &session,
            &Typed::default(),
            Some(&refusal),
            None,
            StatusCode::CONFLICT,
        )
        .await;
    }
    let outcome = match action.as_str() {
        "disable" => state
            .backend
            .change_account(&username, AccountChange::Disable)
            .await
            .map(|_| ()),
        "enable" => state
            .backend
            .change_account(&username, AccountChange::Enable)
            .await
            .map(|_| ()),
        "reset-password" => {
            let password = pair(&pairs, "password").unwrap_or("").to_string();
            state
                .backend
                .change_account(&username, AccountChange::ResetPassword(password))
                .await
                .map(|_| ())
        }
        "delete" => state.backend.delete_account(&username).await,
        _ => {
            return super::message_page(
                &ctx,
                StatusCode::NOT_FOUND,
                "error.not_found_title",
                ctx.t("error.not_found"),
            )
        }
    };
    match outcome {
        Ok(()) => see_other(&format!("/admin/accounts?notice={}", url_encode(&action))),
        Err(error) => {
            if matches!(error, AccountError::Hash(_) | AccountError::Storage(_)) {
                tracing::error!(%error, "changing an account failed");
            }
            let refusal = row_refusal(refusal_text(&ctx, &error));
            show(
                &state,
                &ctx,
                &session,
                &Typed::default(),
                Some(&refusal),
                None,
                status_of(&error),
            )
            .await
        }
    }
}
