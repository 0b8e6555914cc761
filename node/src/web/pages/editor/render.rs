//! The record form page: every field of the record content, the summary of
//! what to correct (each entry a link to its input), and the preview.
//!
//! The fields come in the order an editor tells a practice: what it is and
//! its text, its translations, the records it relates to, where and when,
//! whom it is for, who did it and who paid, links, keywords, a public
//! contact and the licence. Every button is a submit button of the one
//! form, so adding a row, removing one, searching for a record and
//! previewing all keep what was typed ([`crate::web::form::groups`]).

use maud::{html, Markup};
use seednet_protocol::{Kind, RecordContent, RecordKey, TargetGroup, Theme};

use super::super::record::{article, Around};
use super::super::{kind_label, target_group_label, theme_label, Ctx};
use super::controls::{select, text_area, text_input, typed_input, url_input, GroupText, Inputs};
use super::relation_search::{self, Outcome};
use super::FormMode;
use crate::web::backend::{CentreName, RecordSummary};
use crate::web::form::fields::{input_id, row_input_name};
use crate::web::form::groups::ENTER_KEY_VALUE;
use crate::web::form::{
    parse_record_key, vocab, FieldError, FormAction, Group, RecordForm, CHECKED, GENERAL_FIELD,
    SECTION_NAMES,
};
use crate::web::i18n::UiLang;
use crate::web::session::SessionView;

/// Rows shown for the one-per-line lists (keywords, other target groups).
const LIST_ROWS: u32 = 3;

/// Everything the form page shows.
pub struct FormPage<'a> {
    pub mode: &'a FormMode,
    pub form: &'a RecordForm,
    /// The messages of the last check, each at its input.
    pub errors: &'a [FieldError],
    /// The content to show as its record page will, above the form.
    pub preview: Option<&'a RecordContent>,
    /// The results of the record search of the relations group.
    pub search: Option<&'a Outcome>,
    /// The records the relation rows name, where this node holds them.
    pub related: &'a [RecordSummary],
    /// This node, the centre the record is published by.
    pub centre: &'a CentreName,
    /// The id of the control that takes the focus.
    pub focus: Option<&'a str>,
    /// A message about the last edit of a group (a full list, a relation
    /// listed already).
    pub notice: Option<(Group, String)>,
}

/// The page heading for `mode`.
pub fn heading(ctx: &Ctx, mode: &FormMode) -> &'static str {
    match mode {
        FormMode::New => ctx.t("editor.new"),
        FormMode::Edit { .. } => ctx.t("editor.edit_heading"),
    }
}

/// The main part of the form page.
pub fn main(ctx: &Ctx, session: &SessionView, page: &FormPage) -> Markup {
    let form = page.form;
    let (action, submit_key) = match page.mode {
        FormMode::New => ("/editor/new".to_string(), "editor.publish"),
        FormMode::Edit { key, .. } => (format!("/editor/records/{}/edit", key.id), "editor.save"),
    };
    let inputs = Inputs {
        errors: page.errors,
        focus: page.focus,
    };
    let general: Vec<&FieldError> = page
        .errors
        .iter()
        .filter(|e| e.field == GENERAL_FIELD)
        .collect();
    html! {
        h1 { (heading(ctx, page.mode)) }
        (error_summary(ctx, page.errors))
        @if let Some(content) = page.preview {
            (preview(ctx, page, content))
        }
        form class="record-form stack" method="post" action=(action) novalidate {
            // Pressing Enter in a text input sends the form with its first
            // button: this one, so Enter previews and never removes a row.
            button type="submit" name="action" value=(ENTER_KEY_VALUE) class="visually-hidden"
                tabindex="-1" aria-hidden="true" { (ctx.t("editor.preview")) }
            input type="hidden" name="csrf" value=(session.csrf);
            @if let Some(version) = form.expected_version {
                input type="hidden" name="expected_version" value=(version);
            }
            @for error in general { p class="field-error" { (error.message) } }
            (what_it_is(ctx, &inputs, form))
            (translations(ctx, &inputs, page))
            (relations(ctx, &inputs, page))
            (where_and_when(ctx, &inputs, form))
            (people(ctx, &inputs, form))
            (organisations(ctx, &inputs, page))
            (funding(ctx, &inputs, page))
            (links(ctx, &inputs, page))
            (inputs.field("tags", ctx.t("field.tags"), Some(ctx.t("editor.tags_help")), text_area("tags", &form.tags, LIST_ROWS, false)))
            (contact(ctx, &inputs, form))
            (inputs.field("license", ctx.t("field.license"), Some(ctx.t("field.license_help")), text_input("license", &form.license, false)))
            div class="form-actions" {
                button type="submit" name="action" value=(FormAction::Preview.value()) class="button" { (ctx.t("editor.preview")) }
                button type="submit" name="action" value=(FormAction::Publish.value()) class="button button-primary" { (ctx.t(submit_key)) }
            }
        }
        @if let FormMode::Edit { key, delete_unconfirmed } = page.mode {
            @if let Some(version) = form.expected_version {
                (delete_form(ctx, session, key, version, *delete_unconfirmed))
            }
        }
    }
}

/// The separate form that deletes an edited record (a signed tombstone).
fn delete_form(
    ctx: &Ctx,
    session: &SessionView,
    key: &RecordKey,
    version: u64,
    unconfirmed: bool,
) -> Markup {
    html! {
        form id="delete" class="danger-zone stack" method="post" action=(format!("/editor/records/{}/delete", key.id)) {
            h2 { (ctx.t("editor.delete_heading")) }
            p { (ctx.t("editor.delete_help")) }
            @if unconfirmed {
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

fn error_summary(ctx: &Ctx, errors: &[FieldError]) -> Markup {
    html! {
        @if !errors.is_empty() {
            div class="notice notice-error error-summary" role="alert" tabindex="-1" id="error-summary" {
                h2 { (ctx.t("editor.errors")) }
                ul {
                    @for error in errors {
                        li {
                            @if error.field == GENERAL_FIELD {
                                (error.message)
                            } @else {
                                a href=(format!("#{}", input_id(&error.field))) {
                                    (input_label(ctx, &error.field)) ": " (error.message)
                                }
                            }
                        }
                    }
                }
            }
        }
    }
}

/// The record as its page will show it, without publishing. Its language
/// chips are not links: leaving the form would lose what was typed.
fn preview(ctx: &Ctx, page: &FormPage, content: &RecordContent) -> Markup {
    let around = Around {
        key: None,
        origin: Some(page.centre),
        related: page.related,
        adapted_from_this: &[],
        title_level: 3,
    };
    html! {
        section class="preview" aria-labelledby="preview-heading" {
            h2 id="preview-heading" { (ctx.t("editor.preview_heading")) }
            (article(ctx, content, None, &around, html! {}))
        }
    }
}

fn what_it_is(ctx: &Ctx, inputs: &Inputs, form: &RecordForm) -> Markup {
    let kinds: Vec<(&str, String)> = Kind::ALL
        .iter()
        .map(|k| (k.as_str(), kind_label(ctx, *k).to_string()))
        .collect();
    let themes: Vec<(&str, String)> = Theme::ALL
        .iter()
        .map(|t| (t.as_str(), theme_label(ctx, *t).to_string()))
        .collect();
    let sections_open = SECTION_NAMES.iter().any(|name| {
        !form.section(name).trim().is_empty() || inputs.any_error_in(&format!("sections.{name}"))
    });
    html! {
        div class="form-row" {
            (inputs.field("kind", ctx.t("field.kind"), None, select("kind", &kinds, &form.kind, None)))
            (inputs.field("lang", ctx.t("field.lang"), Some(ctx.t("field.lang_help")), |c| html! {
                input type="text" id=(c.id) name="lang" value=(form.lang) required maxlength="3" size="4"
                    aria-describedby=[&c.described_by] aria-invalid=[c.invalid.then_some("true")] list="lang-options";
                (language_options())
            }))
            (inputs.field("country", ctx.t("field.country"), Some(ctx.t("field.country_help")), |c| html! {
                input type="text" id=(c.id) name="country" value=(form.country) required maxlength="2" size="3"
                    aria-describedby=[&c.described_by] aria-invalid=[c.invalid.then_some("true")];
            }))
        }
        (inputs.field("title", ctx.t("field.title"), None, text_input("title", &form.title, true)))
        (inputs.field("summary", ctx.t("field.summary"), Some(ctx.t("field.summary_help")), text_area("summary", &form.summary, 3, true)))
        (inputs.field("body", ctx.t("field.body"), Some(ctx.t("editor.markdown_help")), text_area("body", &form.body, 10, true)))
        (inputs.checkboxes("themes", ctx.t("field.themes"), None, &themes, &form.themes))
        details class="form-more" open[sections_open] {
            summary { (ctx.t("field.sections")) }
            p class="help" { (ctx.t("editor.markdown_help")) }
            @for name in SECTION_NAMES {
                @let input = format!("sections.{name}");
                (inputs.field(&input, ctx.t(&format!("section.{name}")), None, text_area(&input, form.section(name), 4, false)))
            }
        }
    }
}

/// The first-class languages as suggestions for a language input.
fn language_options() -> Markup {
    html! {
        datalist id="lang-options" {
            @for lang in UiLang::ALL { option value=(lang.code()) { (lang.endonym()) } }
        }
    }
}

/// The interface text of each repeated group.
struct GroupKeys {
    legend: &'static str,
    help: &'static str,
    add: &'static str,
    row: &'static str,
}

fn group_keys(group: Group) -> GroupKeys {
    match group {
        Group::Translations => GroupKeys {
            legend: "editor.translations",
            help: "editor.translations_help",
            add: "editor.add_translation",
            row: "editor.translation_n",
        },
        Group::Relations => GroupKeys {
            legend: "editor.relations",
            help: "editor.relations_help",
            add: "editor.add_relation",
            row: "editor.relation_n",
        },
        Group::Links => GroupKeys {
            legend: "field.links",
            help: "editor.links_help",
            add: "editor.add_link",
            row: "editor.link_n",
        },
        Group::Organisations => GroupKeys {
            legend: "record.organisations",
            help: "editor.organisations_help",
            add: "editor.add_organisation",
            row: "editor.organisation_n",
        },
        Group::Funding => GroupKeys {
            legend: "record.funding",
            help: "editor.funding_help",
            add: "editor.add_funding",
            row: "editor.funding_n",
        },
    }
}

/// The legend of row `index` (from 0) of `group`.
fn row_legend(ctx: &Ctx, group: Group, index: usize) -> String {
    ctx.tf(group_keys(group).row, &[("n", &(index + 1).to_string())])
}

/// A repeated group with its rows; `row` renders the members of one.
fn group(
    ctx: &Ctx,
    inputs: &Inputs,
    page: &FormPage,
    group: Group,
    rows: usize,
    row: impl Fn(usize) -> Markup,
    extra: Markup,
) -> Markup {
    let keys = group_keys(group);
    let legend = |n: usize| ctx.tf(keys.row, &[("n", &n.to_string())]);
    let text = GroupText {
        legend: ctx.t(keys.legend),
        help: ctx.t(keys.help),
        add: ctx.t(keys.add),
        full: ctx.tf("editor.group_full", &[("max", &group.max().to_string())]),
        row: &legend,
        remove: ctx.t("editor.remove"),
    };
    let notice = page
        .notice
        .as_ref()
        .filter(|(noticed, _)| *noticed == group)
        .map(|(_, message)| message.as_str());
    inputs.group(group, &text, notice, rows, row, extra)
}

/// The label of member `member` of a row of `group`.
fn member_label(ctx: &Ctx, group: Group, member: &str) -> &'static str {
    ctx.t(match (group, member) {
        (Group::Translations, "lang") => "editor.translation_lang",
        (Group::Translations, "title") => "field.title",
        (Group::Translations, "summary") => "field.summary",
        (Group::Translations, "body") => "editor.translation_body",
        (Group::Translations, "provenance") => "editor.provenance",
        (Group::Translations, _) => "editor.reviewed",
        (Group::Relations, "type") => "editor.relation_type",
        (Group::Relations, _) => "editor.relation_target",
        (Group::Links, "url") => "editor.link_url",
        (Group::Links, _) => "editor.link_title",
        (Group::Organisations, "name") => "editor.organisation_name",
        (Group::Organisations, "role") => "editor.organisation_role",
        (Group::Organisations, _) => "editor.organisation_url",
        (Group::Funding, "source") => "editor.funding_source",
        (Group::Funding, _) => "editor.funding_programme",
    })
}

fn translations(ctx: &Ctx, inputs: &Inputs, page: &FormPage) -> Markup {
    let rows = &page.form.translations;
    let provenances: Vec<(&str, String)> = vocab::PROVENANCES
        .iter()
        .map(|p| {
            let slug = vocab::provenance_slug(*p);
            (
                slug,
                ctx.t(&format!("editor.provenance_{slug}")).to_string(),
            )
        })
        .collect();
    let row = |index: usize| {
        let typed = &rows[index];
        let name = |member: &str| row_input_name(Group::Translations, index, member);
        let label = |member: &str| member_label(ctx, Group::Translations, member);
        let (lang, title, summary, body, provenance, reviewed) = (
            name("lang"),
            name("title"),
            name("summary"),
            name("body"),
            name("provenance"),
            name("reviewed"),
        );
        html! {
            (inputs.field(&lang, label("lang"), Some(ctx.t("field.lang_help")), |c| html! {
                input type="text" id=(c.id) name=(lang) value=(typed.lang) maxlength="3" size="4" list="lang-options"
                    aria-describedby=[&c.described_by] aria-invalid=[c.invalid.then_some("true")] autofocus[c.autofocus];
            }))
            (inputs.field(&title, label("title"), None, text_input(&title, &typed.title, false)))
            (inputs.field(&summary, label("summary"), None, text_area(&summary, &typed.summary, 3, false)))
            (inputs.field(&body, label("body"), Some(ctx.t("editor.translation_body_help")), text_area(&body, &typed.body, 5, false)))
            (inputs.radios(&provenance, label("provenance"), &provenances, &typed.provenance))
            (inputs.checkbox(&reviewed, CHECKED, label("reviewed"), typed.reviewed))
        }
    };
    group(
        ctx,
        inputs,
        page,
        Group::Translations,
        rows.len(),
        row,
        html! {},
    )
}

fn relations(ctx: &Ctx, inputs: &Inputs, page: &FormPage) -> Markup {
    let form = page.form;
    let rows = &form.relations;
    let types: Vec<(&str, String)> = vocab::RELATION_TYPES
        .iter()
        .map(|t| {
            let slug = vocab::relation_slug(*t);
            (slug, ctx.t(&format!("rel.{slug}")).to_string())
        })
        .collect();
    let title_of = |target: &str| {
        let key = parse_record_key(target)?;
        page.related
            .iter()
            .find(|known| known.key == key)
            .map(|known| known.title.clone())
    };
    let row = |index: usize| {
        let typed = &rows[index];
        let type_name = row_input_name(Group::Relations, index, "type");
        let target_name = row_input_name(Group::Relations, index, "target");
        html! {
            div class="form-row" {
                (inputs.field(&type_name, member_label(ctx, Group::Relations, "type"), None,
                    select(&type_name, &types, &typed.relation_type, None)))
                (inputs.field(&target_name, member_label(ctx, Group::Relations, "target"), None,
                    text_input(&target_name, &typed.target, false)))
            }
            @if !typed.target.trim().is_empty() {
                p class="relation-title" {
                    @match title_of(&typed.target) {
                        Some(title) => { (title) }
                        None => { span class="muted" { (ctx.t("record.not_stored")) } }
                    }
                }
            }
        }
    };
    let search = html! {
        div class="relation-search" {
            h3 { (ctx.t("editor.relation_search_heading")) }
            div class="form-row" {
                (inputs.field("relation_search.q", ctx.t("editor.relation_search"), Some(ctx.t("editor.relation_search_help")),
                    typed_input("search", None, "relation_search.q", &form.relation_query)))
                (inputs.field("relation_search.type", ctx.t("editor.relation_search_type"), None,
                    select("relation_search.type", &types, &form.relation_query_type, None)))
            }
            button type="submit" name="action" value=(FormAction::SearchRelations.value()) class="button" id="relation-search-button" {
                (ctx.t("editor.relation_search_button"))
            }
            @if let Some(outcome) = page.search {
                (relation_search::render(ctx, outcome, page.focus))
            }
        }
    };
    group(ctx, inputs, page, Group::Relations, rows.len(), row, search)
}

fn where_and_when(ctx: &Ctx, inputs: &Inputs, form: &RecordForm) -> Markup {
    html! {
        div class="form-row" {
            (inputs.field("region", ctx.t("field.region"), None, text_input("region", &form.region, false)))
            (inputs.field("year_start", ctx.t("field.year_start"), None, |c| html! {
                input type="text" inputmode="numeric" id=(c.id) name="year_start" value=(form.year_start) required size="6"
                    aria-describedby=[&c.described_by] aria-invalid=[c.invalid.then_some("true")];
            }))
            (inputs.field("year_end", ctx.t("field.year_end"), None, |c| html! {
                input type="text" inputmode="numeric" id=(c.id) name="year_end" value=(form.year_end) size="6"
                    aria-describedby=[&c.described_by] aria-invalid=[c.invalid.then_some("true")];
            }))
        }
    }
}

fn people(ctx: &Ctx, inputs: &Inputs, form: &RecordForm) -> Markup {
    let groups: Vec<(&str, String)> = TargetGroup::ALL
        .iter()
        .map(|g| (g.as_str(), target_group_label(ctx, *g).to_string()))
        .collect();
    let goals: Vec<(String, String)> = (1..=17)
        .map(|n| {
            (
                n.to_string(),
                format!("{n}. {}", ctx.t(&format!("sdg.{n}"))),
            )
        })
        .collect();
    let goals: Vec<(&str, String)> = goals
        .iter()
        .map(|(value, label)| (value.as_str(), label.clone()))
        .collect();
    html! {
        (inputs.checkboxes("target_groups", ctx.t("field.target_groups"), None, &groups, &form.target_groups))
        (inputs.field("target_group_tags", ctx.t("editor.target_group_tags"), Some(ctx.t("editor.target_group_tags_help")),
            text_area("target_group_tags", &form.target_group_tags, LIST_ROWS, false)))
        (inputs.checkboxes("sdgs", ctx.t("record.sdgs"), Some(ctx.t("editor.sdgs_help")), &goals, &form.sdgs))
    }
}

fn organisations(ctx: &Ctx, inputs: &Inputs, page: &FormPage) -> Markup {
    let rows = &page.form.organisations;
    let row = |index: usize| {
        let typed = &rows[index];
        let name = |member: &str| row_input_name(Group::Organisations, index, member);
        let label = |member: &str| member_label(ctx, Group::Organisations, member);
        let (org_name, role, url) = (name("name"), name("role"), name("url"));
        html! {
            div class="form-row" {
                (inputs.field(&org_name, label("name"), None, text_input(&org_name, &typed.name, false)))
                (inputs.field(&role, label("role"), None, text_input(&role, &typed.role, false)))
                (inputs.field(&url, label("url"), None, url_input(&url, &typed.url)))
            }
        }
    };
    group(
        ctx,
        inputs,
        page,
        Group::Organisations,
        rows.len(),
        row,
        html! {},
    )
}

fn funding(ctx: &Ctx, inputs: &Inputs, page: &FormPage) -> Markup {
    let rows = &page.form.funding;
    let sources: Vec<(&str, String)> = vocab::FUNDING_SOURCES
        .iter()
        .map(|s| {
            let slug = vocab::funding_slug(*s);
            (slug, ctx.t(&format!("funding.{slug}")).to_string())
        })
        .collect();
    let row = |index: usize| {
        let typed = &rows[index];
        let source = row_input_name(Group::Funding, index, "source");
        let programme = row_input_name(Group::Funding, index, "programme");
        html! {
            div class="form-row" {
                (inputs.field(&source, member_label(ctx, Group::Funding, "source"), None,
                    select(&source, &sources, &typed.source, Some(ctx.t("editor.choose")))))
                (inputs.field(&programme, member_label(ctx, Group::Funding, "programme"), None,
                    text_input(&programme, &typed.programme, false)))
            }
        }
    };
    group(ctx, inputs, page, Group::Funding, rows.len(), row, html! {})
}

fn links(ctx: &Ctx, inputs: &Inputs, page: &FormPage) -> Markup {
    let rows = &page.form.links;
    let row = |index: usize| {
        let typed = &rows[index];
        let url = row_input_name(Group::Links, index, "url");
        let title = row_input_name(Group::Links, index, "title");
        html! {
            div class="form-row" {
                (inputs.field(&url, member_label(ctx, Group::Links, "url"), None, url_input(&url, &typed.url)))
                (inputs.field(&title, member_label(ctx, Group::Links, "title"), None, text_input(&title, &typed.title, false)))
            }
        }
    };
    group(ctx, inputs, page, Group::Links, rows.len(), row, html! {})
}

fn contact(ctx: &Ctx, inputs: &Inputs, form: &RecordForm) -> Markup {
    html! {
        fieldset class="group" {
            legend { (ctx.t("editor.contact")) }
            p class="help" { (ctx.t("editor.contact_help")) }
            div class="form-row" {
                (inputs.field("contact.name", ctx.t("field.contact_name"), None, text_input("contact.name", &form.contact_name, false)))
                (inputs.field("contact.email", ctx.t("field.contact_email"), None, typed_input("email", None, "contact.email", &form.contact_email)))
                (inputs.field("contact.url", ctx.t("field.contact_url"), None, url_input("contact.url", &form.contact_url)))
            }
        }
    }
}

/// The name of the input `field` in the error summary: a row's input says
/// which row (`Link 3 · Address`).
pub fn input_label(ctx: &Ctx, field: &str) -> String {
    if let Some((group_name, rest)) = field.split_once('[') {
        if let Some(group) = Group::from_name(group_name) {
            if let Some((index, member)) = rest.split_once("].") {
                if let Ok(index) = index.parse::<usize>() {
                    return format!(
                        "{} · {}",
                        row_legend(ctx, group, index),
                        member_label(ctx, group, member)
                    );
                }
            }
        }
    }
    if let Some(group) = Group::from_name(field) {
        return ctx.t(group_keys(group).legend).into();
    }
    if let Some(section) = field.strip_prefix("sections.") {
        return ctx.t(&format!("section.{section}")).into();
    }
    let key = match field {
        "contact.name" => "field.contact_name",
        "contact.email" => "field.contact_email",
        "contact.url" => "field.contact_url",
        "target_group_tags" => "editor.target_group_tags",
        "sdgs" => "record.sdgs",
        other => return ctx.t(&format!("field.{other}")).into(),
    };
    ctx.t(key).into()
}

#[cfg(test)]
mod tests {
    //! The rendered form, read back as a browser would send it: every input
    //! and its value (ticked boxes and chosen options only, text areas with
    //! CRLF line breaks).

    use super::*;
    use crate::web::backend::Role;
    use crate::web::form::content::tests::full_content;
    use seednet_protocol::{CountryCode, LanguageTag, Translation};

    fn unescape(text: &str) -> String {
        text.replace("&quot;", "\"")
            .replace("&lt;", "<")
            .replace("&gt;", ">")
            .replace("&amp;", "&")
    }

    /// The attributes of the tag that starts at `html` (after its name).
    fn attributes(tag: &str) -> Vec<(String, Option<String>)> {
        let mut found = Vec::new();
        let mut rest = tag;
        loop {
            rest = rest.trim_start();
            if rest.is_empty() || rest.starts_with('>') {
                return found;
            }
            let end = rest
                .find(|c: char| c == '=' || c == '>' || c.is_whitespace())
                .unwrap_or(rest.len());
            let name = rest[..end].to_string();
            rest = &rest[end..];
            if let Some(quoted) = rest.strip_prefix("=\"") {
                let close = quoted.find('"').expect("closing quote");
                found.push((name, Some(unescape(&quoted[..close]))));
                rest = &quoted[close + 1..];
            } else {
                found.push((name, None));
            }
        }
    }

    fn attr<'a>(attrs: &'a [(String, Option<String>)], name: &str) -> Option<&'a str> {
        attrs
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_deref().unwrap_or(""))
    }

    /// What a browser sends for the form (without a pressed button).
    fn submitted(html: &str) -> Vec<(String, String)> {
        let form_start = html
            .find("<form class=\"record-form")
            .expect("the record form");
        let form_end = form_start + html[form_start..].find("</form>").expect("form end");
        let form = &html[form_start..form_end];
        let mut pairs = Vec::new();
        let mut rest = form;
        while let Some(start) = rest.find('<') {
            rest = &rest[start + 1..];
            let tag_end = rest.find('>').expect("tag end");
            let (name, tag) = rest[..tag_end]
                .split_once(' ')
                .unwrap_or((&rest[..tag_end], ""));
            let attrs = attributes(tag);
            let field = attr(&attrs, "name").map(str::to_string);
            match (name, field) {
                ("input", Some(field)) => {
                    let kind = attr(&attrs, "type").unwrap_or("text");
                    let ticked = attr(&attrs, "checked").is_some();
                    if !matches!(kind, "checkbox" | "radio") || ticked {
                        pairs.push((field, attr(&attrs, "value").unwrap_or("").to_string()));
                    }
                }
                ("textarea", Some(field)) => {
                    let body = &rest[tag_end + 1..];
                    let text = &body[..body.find("</textarea>").expect("textarea end")];
                    pairs.push((field, unescape(text).replace('\n', "\r\n")));
                }
                ("select", Some(field)) => {
                    let body = &rest[tag_end + 1..];
                    let options = &body[..body.find("</select>").expect("select end")];
                    let chosen = options
                        .split("<option ")
                        .skip(1)
                        .map(|option| attributes(&option[..option.find('>').unwrap()]))
                        .find(|attrs| attr(attrs, "selected").is_some())
                        .and_then(|attrs| attr(&attrs, "value").map(str::to_string))
                        .unwrap_or_default();
                    pairs.push((field, chosen));
                }
                _ => {}
            }
        }
        pairs
    }

    fn render_form(content: &RecordContent) -> String {
        let ctx = Ctx {
            lang: UiLang::It,
            session: None,
            here: "/editor/new".into(),
        };
        let session = SessionView {
            role: Role::Editor,
            csrf: "c".repeat(64),
            credential: crate::web::backend::Credential::Token {
                id: "editor".into(),
                label: "editor".into(),
            },
        };
        let form = RecordForm::from_content(content, 2);
        let centre = CentreName {
            name: "Centro".into(),
            country: CountryCode::parse("IT").unwrap(),
        };
        let page = FormPage {
            mode: &FormMode::New,
            form: &form,
            errors: &[],
            preview: None,
            search: None,
            related: &[],
            centre: &centre,
            focus: None,
            notice: None,
        };
        main(&ctx, &session, &page).into_string()
    }

    #[test]
    fn the_rendered_form_sends_back_every_field_of_the_record() {
        let content = full_content();
        let pairs = submitted(&render_form(&content));
        assert!(pairs.iter().any(|(k, _)| k == "translations[1].reviewed"));
        let parsed = RecordForm::from_pairs(&pairs)
            .to_content(UiLang::It)
            .expect("valid");
        assert_eq!(parsed.content, content);
    }

    #[test]
    fn a_record_at_the_protocol_size_limit_fits_the_form_body_limit() {
        // Greek text and line breaks: what percent-encoding grows most.
        let greek = |chars: usize| "Συνδιαμόρφωση\n".repeat(chars / 14);
        let mut content = full_content();
        content.body = greek(60_000);
        for name in ["challenge", "approach", "results", "lessons"] {
            let text = Some(greek(2_000));
            match name {
                "challenge" => content.sections.challenge = text,
                "approach" => content.sections.approach = text,
                "results" => content.sections.results = text,
                _ => content.sections.lessons = text,
            }
        }
        for lang in ["el", "ro", "sl", "hr", "de", "fr"] {
            content.translations.insert(
                LanguageTag::parse(lang).unwrap(),
                Translation {
                    title: "Τίτλος".into(),
                    summary: greek(1_900),
                    body: Some(greek(7_000)),
                    provenance: seednet_protocol::Provenance::Machine,
                    reviewed: false,
                },
            );
        }
        let canonical = serde_json::to_vec(&content).unwrap().len();
        let limit = seednet_protocol::limits::RECORD_CANONICAL_BYTES_MAX;
        assert!(
            canonical > limit * 9 / 10 && canonical < limit,
            "near the record limit: {canonical} bytes"
        );
        let body: String = url::form_urlencoded::Serializer::new(String::new())
            .extend_pairs(submitted(&render_form(&content)))
            .finish();
        assert!(
            body.len() > crate::web::WEB_FORM_OVERHEAD_BYTES * 8,
            "the form body is larger than the old limit would allow: {}",
            body.len()
        );
        assert!(
            body.len() <= crate::web::WEB_FORM_BYTES_MAX,
            "{} bytes of form for {canonical} bytes of record",
            body.len()
        );
    }
}
