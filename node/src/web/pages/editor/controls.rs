//! The controls the record form is built of: a labelled input with its help
//! text and its own error messages, checkbox and radio groups, selects, and
//! the frame of a repeated group (numbered rows with "remove", and "add
//! another").
//!
//! Why one place: every input is wired the same way for screen readers
//! (`aria-describedby` to its help and its messages, `aria-invalid` when it
//! has any), and its id is the one the error summary links to
//! ([`input_id`]), so no control can forget either.

use maud::{html, Markup};

use crate::web::form::fields::input_id;
use crate::web::form::{FieldError, FormAction, Group};

/// Where a control goes and how it is described.
pub struct Control {
    pub id: String,
    pub described_by: Option<String>,
    pub invalid: bool,
    /// Put the keyboard focus here when the page loads (after an edit of the
    /// form, on what changed).
    pub autofocus: bool,
}

fn messages_for<'a>(errors: &'a [FieldError], name: &str) -> Vec<&'a FieldError> {
    errors.iter().filter(|e| e.field == name).collect()
}

fn messages(id: &str, mine: &[&FieldError]) -> Markup {
    html! {
        @if !mine.is_empty() {
            p id=(format!("{id}-error")) class="field-error" {
                @for error in mine { span { (error.message) } " " }
            }
        }
    }
}

/// The inputs' shared state: the messages of the last check and where the
/// focus goes.
pub struct Inputs<'a> {
    pub errors: &'a [FieldError],
    /// The id of the control that takes the focus.
    pub focus: Option<&'a str>,
}

impl Inputs<'_> {
    fn control(&self, name: &str, has_help: bool) -> (Control, Vec<&FieldError>) {
        let id = input_id(name);
        let mine = messages_for(self.errors, name);
        let mut described: Vec<String> = Vec::new();
        if has_help {
            described.push(format!("{id}-help"));
        }
        if !mine.is_empty() {
            described.push(format!("{id}-error"));
        }
        let control = Control {
            autofocus: self.focus == Some(id.as_str()),
            described_by: (!described.is_empty()).then(|| described.join(" ")),
            invalid: !mine.is_empty(),
            id,
        };
        (control, mine)
    }

    /// True when an input named `name`, or one inside it, has a message.
    pub fn any_error_in(&self, prefix: &str) -> bool {
        self.errors.iter().any(|e| e.field.starts_with(prefix))
    }

    /// Label, help, the input's own messages, then the input itself.
    pub fn field(
        &self,
        name: &str,
        label: &str,
        help: Option<&str>,
        input: impl FnOnce(&Control) -> Markup,
    ) -> Markup {
        let (control, mine) = self.control(name, help.is_some());
        let id = control.id.clone();
        html! {
            div class=(if control.invalid { "field field-invalid" } else { "field" }) data-field=(name) {
                label for=(id) { (label) }
                @if let Some(help) = help {
                    p id=(format!("{id}-help")) class="help" { (help) }
                }
                (messages(&id, &mine))
                (input(&control))
            }
        }
    }

    /// A group of choices (checkboxes or radio buttons) as a fieldset.
    fn choices(
        &self,
        name: &str,
        legend: &str,
        help: Option<&str>,
        input_type: &str,
        options: &[(&str, String)],
        checked: &dyn Fn(&str) -> bool,
    ) -> Markup {
        let (control, mine) = self.control(name, help.is_some());
        let id = control.id;
        html! {
            fieldset class=(if control.invalid { "field checkboxes field-invalid" } else { "field checkboxes" })
                id=(id) data-field=(name) aria-describedby=[control.described_by] {
                legend { (legend) }
                @if let Some(help) = help {
                    p id=(format!("{id}-help")) class="help" { (help) }
                }
                (messages(&id, &mine))
                div class="checkbox-grid" {
                    @for (index, (value, label)) in options.iter().enumerate() {
                        @let option_id = format!("{id}-{value}");
                        div class="checkbox" {
                            input type=(input_type) id=(option_id) name=(name) value=(value)
                                checked[checked(value)] autofocus[control.autofocus && index == 0];
                            label for=(option_id) { (label) }
                        }
                    }
                }
            }
        }
    }

    pub fn checkboxes(
        &self,
        name: &str,
        legend: &str,
        help: Option<&str>,
        options: &[(&str, String)],
        checked: &[String],
    ) -> Markup {
        let is_checked = |value: &str| checked.iter().any(|c| c == value);
        self.choices(name, legend, help, "checkbox", options, &is_checked)
    }

    pub fn radios(
        &self,
        name: &str,
        legend: &str,
        options: &[(&str, String)],
        checked: &str,
    ) -> Markup {
        let is_checked = |value: &str| value == checked.trim();
        self.choices(name, legend, None, "radio", options, &is_checked)
    }

    /// One checkbox with its label (a yes/no member of a row).
    pub fn checkbox(&self, name: &str, value: &str, label: &str, checked: bool) -> Markup {
        let (control, mine) = self.control(name, false);
        html! {
            div class="field checkbox" data-field=(name) {
                (messages(&control.id, &mine))
                input type="checkbox" id=(control.id) name=(name) value=(value) checked[checked]
                    aria-describedby=[control.described_by] autofocus[control.autofocus];
                label for=(control.id) { (label) }
            }
        }
    }
}

pub fn text_input<'a>(
    name: &'a str,
    value: &'a str,
    required: bool,
) -> impl FnOnce(&Control) -> Markup + 'a {
    move |control: &Control| {
        html! {
            input type="text" id=(control.id) name=(name) value=(value) required[required]
                aria-describedby=[&control.described_by] aria-invalid=[control.invalid.then_some("true")]
                autofocus[control.autofocus];
        }
    }
}

/// A single-line input of `type` (text, email, search), with an
/// `inputmode` hint for on-screen keyboards (`url` for web addresses, kept
/// `type="text"` so the page's styles and the protocol's own URL check
/// apply, not the browser's).
pub fn typed_input<'a>(
    input_type: &'a str,
    inputmode: Option<&'a str>,
    name: &'a str,
    value: &'a str,
) -> impl FnOnce(&Control) -> Markup + 'a {
    move |control: &Control| {
        html! {
            input type=(input_type) inputmode=[inputmode] id=(control.id) name=(name) value=(value)
                aria-describedby=[&control.described_by] aria-invalid=[control.invalid.then_some("true")]
                autofocus[control.autofocus];
        }
    }
}

/// A web address input.
pub fn url_input<'a>(name: &'a str, value: &'a str) -> impl FnOnce(&Control) -> Markup + 'a {
    typed_input("text", Some("url"), name, value)
}

pub fn text_area<'a>(
    name: &'a str,
    value: &'a str,
    rows: u32,
    required: bool,
) -> impl FnOnce(&Control) -> Markup + 'a {
    move |control: &Control| {
        html! {
            textarea id=(control.id) name=(name) rows=(rows) required[required]
                aria-describedby=[&control.described_by] aria-invalid=[control.invalid.then_some("true")]
                autofocus[control.autofocus] { (value) }
        }
    }
}

/// A select of `options`; `placeholder` adds an empty first option (the
/// value is then not chosen until the person chooses).
pub fn select<'a>(
    name: &'a str,
    options: &'a [(&'a str, String)],
    selected: &'a str,
    placeholder: Option<&'a str>,
) -> impl FnOnce(&Control) -> Markup + 'a {
    move |control: &Control| {
        html! {
            select id=(control.id) name=(name)
                aria-describedby=[&control.described_by] aria-invalid=[control.invalid.then_some("true")]
                autofocus[control.autofocus] {
                @if let Some(placeholder) = placeholder {
                    option value="" selected[selected.trim().is_empty()] { (placeholder) }
                }
                @for (value, label) in options {
                    option value=(value) selected[selected.trim() == *value] { (label) }
                }
            }
        }
    }
}

/// The interface text of a repeated group.
pub struct GroupText<'a> {
    pub legend: &'a str,
    pub help: &'a str,
    /// The add button's label.
    pub add: &'a str,
    /// "This list is full" when no row can be added.
    pub full: String,
    /// The legend of row `n` (from 1).
    pub row: &'a dyn Fn(usize) -> String,
    /// The remove button's visible label.
    pub remove: &'a str,
}

/// The id of a group's add button (the focus goes there after a removal).
pub fn add_button_id(group: Group) -> String {
    format!("add-{}", group.name())
}

impl Inputs<'_> {
    /// A repeated group: its legend, help and messages, one fieldset per row
    /// (`row` renders the members of row `index`) with a remove button,
    /// `extra` (the record search, for relations), and the add button.
    pub fn group(
        &self,
        group: Group,
        text: &GroupText,
        notice: Option<&str>,
        rows: usize,
        row: impl Fn(usize) -> Markup,
        extra: Markup,
    ) -> Markup {
        let (control, mine) = self.control(group.name(), true);
        let id = control.id;
        let add_id = add_button_id(group);
        html! {
            fieldset class=(if control.invalid { "group field-invalid" } else { "group" }) id=(id)
                data-group=(group.name()) aria-describedby=[control.described_by] {
                legend { (text.legend) }
                p id=(format!("{id}-help")) class="help" { (text.help) }
                (messages(&id, &mine))
                @if let Some(notice) = notice {
                    p class="notice group-notice" role="status" { (notice) }
                }
                @for index in 0..rows {
                    @let legend = (text.row)(index + 1);
                    fieldset class="group-row" data-row=(format!("{}[{index}]", group.name())) {
                        legend { (legend) }
                        (row(index))
                        button type="submit" name="action" value=(FormAction::Remove(group, index).value())
                            class="button button-small button-remove" {
                            (text.remove) span class="visually-hidden" { ": " (legend) }
                        }
                    }
                }
                (extra)
                @if rows < group.max() {
                    button type="submit" name="action" value=(FormAction::Add(group).value()) id=(add_id)
                        class="button button-add" autofocus[self.focus == Some(add_id.as_str())] { (text.add) }
                } @else {
                    p class="help" { (text.full) }
                }
            }
        }
    }
}
