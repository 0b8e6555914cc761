//! "Published by": the audit log's lines on the record page.
//!
//! Shown only to a signed-in editor or admin, and only for this node's own
//! records: the names of the people who publish are the centre's internal
//! business, not part of the public record (they are not in the signed
//! record, and anonymous readers never see them; see `crate::audit`). For
//! an anonymous reader the audit log is not even read.

use maud::{html, Markup};
use seednet_protocol::RecordKey;

use super::Ctx;
use crate::audit::{Actor, AuditAction};
use crate::web::backend::WebBackend;
use crate::web::WebState;

/// The name of who published, in the interface language.
fn actor_name(ctx: &Ctx, actor: &Actor) -> String {
    match actor {
        Actor::Account { display_name, .. } => display_name.clone(),
        Actor::Token { id, label } if label.is_empty() => {
            ctx.tf("audit.by_token_id", &[("id", id)])
        }
        Actor::Token { label, .. } => ctx.tf("audit.by_token", &[("label", label)]),
        Actor::Local => ctx.t("audit.by_local").to_string(),
    }
}

/// The audit lines of an own record for a signed-in viewer; nothing for
/// anyone else, for other origins, or when the log cannot be read (logged).
pub async fn for_viewer<B: WebBackend>(
    state: &WebState<B>,
    ctx: &Ctx,
    own: bool,
    key: &RecordKey,
) -> Markup {
    if !own || ctx.role().is_none() {
        return html! {};
    }
    let entries = match state.backend.audit_trail(key.clone()).await {
        Ok(entries) => entries,
        Err(error) => {
            tracing::error!(%error, record = %key, "record page without its audit lines");
            return html! {};
        }
    };
    html! {
        section class="record-audit" aria-labelledby="audit-heading" {
            h2 id="audit-heading" { (ctx.t("audit.heading")) }
            @if entries.is_empty() {
                p { (ctx.t("audit.none")) }
            } @else {
                ul class="audit-list" {
                    @for entry in entries.iter().rev() {
                        @let action_key = match entry.action {
                            AuditAction::Create => "audit.published_by",
                            AuditAction::Update => "audit.updated_by",
                            AuditAction::Delete => "audit.deleted_by",
                        };
                        li class="published-by" data-version=(entry.version) {
                            (ctx.tf(action_key, &[
                                ("version", &entry.version.to_string()),
                                ("name", &actor_name(ctx, &entry.actor)),
                            ]))
                            @if let Some(at) = seednet_protocol::Timestamp::from_unix_seconds(entry.at) {
                                " · " time datetime=(at.to_string()) { (at.to_string()) }
                            }
                        }
                    }
                }
                p class="help" { (ctx.t("audit.private")) }
            }
        }
    }
}
