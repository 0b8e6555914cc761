//! The check every admin page and form starts with: a signed-in admin (and,
//! for a form, its CSRF token). Its own file so that the admin pages
//! (`admin`, `admin_peers`, `accounts`, `tokens`) share it without
//! depending on each other.

use axum::body::Bytes;
use axum::http::StatusCode;
use axum::response::Response;

use super::{message_page, pair, parse_pairs, see_other, url_encode, Ctx};
use crate::web::session::{csrf_matches, SessionView};

/// The signed-in admin, or the response for anyone else (shared by the
/// admin pages of `accounts` and `tokens`).
pub(super) fn require_admin(ctx: &Ctx) -> Result<&SessionView, Box<Response>> {
    match &ctx.session {
        Some(session) if session.role.can_administer() => Ok(session),
        Some(_) => Err(Box::new(message_page(
            ctx,
            StatusCode::FORBIDDEN,
            "admin.forbidden_title",
            ctx.t("admin.forbidden"),
        ))),
        None => Err(Box::new(see_other(&format!(
            "/signin?required=1&next={}",
            url_encode(&ctx.here)
        )))),
    }
}

/// Checks the admin session and CSRF token of an admin form.
pub(super) fn check_form(ctx: &Ctx, body: &Bytes) -> Result<Vec<(String, String)>, Box<Response>> {
    let session = require_admin(ctx)?;
    let pairs = parse_pairs(std::str::from_utf8(body).unwrap_or(""));
    if !csrf_matches(&session.csrf, pair(&pairs, "csrf").unwrap_or("")) {
        return Err(Box::new(message_page(
            ctx,
            StatusCode::FORBIDDEN,
            "form.expired_title",
            ctx.t("form.expired"),
        )));
    }
    Ok(pairs)
}
