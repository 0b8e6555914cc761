//! The repeated groups of the record form and the buttons that change them.
//!
//! Why buttons: the form works without JavaScript, so "add another",
//! "remove", "search records" and "add this record" are submit buttons
//! (`name="action"`). The page reads the whole form, applies the pressed
//! button's change with [`RecordForm::apply`] and renders the form again
//! with every typed value kept; only "publish" writes anything.

use seednet_protocol::limits::{
    FUNDING_MAX, LINKS_MAX, ORGANISATIONS_MAX, RELATIONS_MAX, TRANSLATIONS_MAX,
};
use seednet_protocol::{RecordKey, RelationType};

use super::{parse_record_key, vocab, RecordForm, RelationRow};

/// A repeated group of the record form.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Group {
    Translations,
    Relations,
    Links,
    Organisations,
    Funding,
}

impl Group {
    pub const ALL: [Group; 5] = [
        Group::Translations,
        Group::Relations,
        Group::Links,
        Group::Organisations,
        Group::Funding,
    ];

    /// The group's input name prefix, also its protocol field name.
    pub fn name(self) -> &'static str {
        match self {
            Group::Translations => "translations",
            Group::Relations => "relations",
            Group::Links => "links",
            Group::Organisations => "organisations",
            Group::Funding => "funding",
        }
    }

    pub fn from_name(name: &str) -> Option<Group> {
        Group::ALL.into_iter().find(|group| group.name() == name)
    }

    /// Most rows: the protocol's limit on the list.
    pub fn max(self) -> usize {
        match self {
            Group::Translations => TRANSLATIONS_MAX,
            Group::Relations => RELATIONS_MAX,
            Group::Links => LINKS_MAX,
            Group::Organisations => ORGANISATIONS_MAX,
            Group::Funding => FUNDING_MAX,
        }
    }
}

/// The value of the form's invisible first button, which a browser
/// "presses" when Enter is pressed in a text input: it previews.
pub const ENTER_KEY_VALUE: &str = "enter";

/// The button a person pressed to send the form.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FormAction {
    /// Publish the record (or save the edited version).
    Publish,
    /// Show the record as its page will, without publishing.
    Preview,
    /// Add an empty row to the group.
    Add(Group),
    /// Remove the row with this index.
    Remove(Group, usize),
    /// Search the network's records with the words of the relations' search box.
    SearchRelations,
    /// Add a relation to this record, of the type chosen next to the search box.
    PickRelation(RecordKey),
}

impl FormAction {
    /// The pressed button's value; `None` for a value this form never sends.
    /// A form sent without a button (pressing Enter where the browser finds
    /// none) previews: nothing is published without pressing "publish".
    pub fn parse(value: Option<&str>) -> Option<FormAction> {
        let Some(value) = value else {
            return Some(FormAction::Preview);
        };
        match value {
            "publish" => return Some(FormAction::Publish),
            "preview" | ENTER_KEY_VALUE => return Some(FormAction::Preview),
            "search" => return Some(FormAction::SearchRelations),
            _ => {}
        }
        if let Some(group) = value.strip_prefix("add:") {
            return Group::from_name(group).map(FormAction::Add);
        }
        if let Some(rest) = value.strip_prefix("remove:") {
            let (group, index) = rest.split_once(':')?;
            return Some(FormAction::Remove(
                Group::from_name(group)?,
                index.parse().ok()?,
            ));
        }
        let key = value.strip_prefix("pick:")?;
        parse_record_key(key).map(FormAction::PickRelation)
    }

    /// The button value that [`FormAction::parse`] reads back.
    pub fn value(&self) -> String {
        match self {
            FormAction::Publish => "publish".into(),
            FormAction::Preview => "preview".into(),
            FormAction::SearchRelations => "search".into(),
            FormAction::Add(group) => format!("add:{}", group.name()),
            FormAction::Remove(group, index) => format!("remove:{}:{index}", group.name()),
            FormAction::PickRelation(key) => format!("pick:{key}"),
        }
    }
}

/// What a form edit did, for the page to say and to put the focus on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Edited {
    /// A row was added to the group at this index.
    Added(Group, usize),
    /// A row was removed from the group.
    Removed(Group),
    /// The group already holds its most rows: nothing was added.
    Full(Group),
    /// The relation is listed already: nothing was added.
    AlreadyRelated(usize),
    /// Nothing to do (a row that is not there).
    Nothing,
}

fn add_row<R: Default>(rows: &mut Vec<R>, group: Group) -> Edited {
    if rows.len() >= group.max() {
        return Edited::Full(group);
    }
    rows.push(R::default());
    Edited::Added(group, rows.len() - 1)
}

fn remove_row<R>(rows: &mut Vec<R>, group: Group, index: usize) -> Edited {
    if index >= rows.len() {
        return Edited::Nothing;
    }
    rows.remove(index);
    Edited::Removed(group)
}

impl RecordForm {
    /// Applies a button that edits the form; other actions change nothing.
    pub fn apply(&mut self, action: &FormAction) -> Edited {
        match action {
            FormAction::Add(group) => match group {
                Group::Translations => add_row(&mut self.translations, *group),
                Group::Relations => {
                    let edited = add_row(&mut self.relations, *group);
                    if let Edited::Added(_, index) = edited {
                        self.relations[index].relation_type = self.relation_type_to_add().into();
                    }
                    edited
                }
                Group::Links => add_row(&mut self.links, *group),
                Group::Organisations => add_row(&mut self.organisations, *group),
                Group::Funding => add_row(&mut self.funding, *group),
            },
            FormAction::Remove(group, index) => match group {
                Group::Translations => remove_row(&mut self.translations, *group, *index),
                Group::Relations => remove_row(&mut self.relations, *group, *index),
                Group::Links => remove_row(&mut self.links, *group, *index),
                Group::Organisations => remove_row(&mut self.organisations, *group, *index),
                Group::Funding => remove_row(&mut self.funding, *group, *index),
            },
            FormAction::PickRelation(target) => self.pick_relation(target),
            FormAction::Publish | FormAction::Preview | FormAction::SearchRelations => {
                Edited::Nothing
            }
        }
    }

    /// The type chosen next to the search box (`adapted_from` until chosen).
    fn relation_type_to_add(&self) -> &'static str {
        vocab::relation_slug(
            vocab::parse_relation(&self.relation_query_type).unwrap_or(RelationType::AdaptedFrom),
        )
    }

    /// Adds a relation to `target` of the chosen type, into the first empty
    /// row if there is one.
    fn pick_relation(&mut self, target: &RecordKey) -> Edited {
        let relation_type = self.relation_type_to_add();
        if let Some(index) = self.relations.iter().position(|row| {
            row.relation_type == relation_type
                && parse_record_key(&row.target).as_ref() == Some(target)
        }) {
            return Edited::AlreadyRelated(index);
        }
        let row = RelationRow {
            relation_type: relation_type.into(),
            target: target.to_string(),
        };
        if let Some(index) = self
            .relations
            .iter()
            .position(|row| row.target.trim().is_empty())
        {
            self.relations[index] = row;
            return Edited::Added(Group::Relations, index);
        }
        if self.relations.len() >= Group::Relations.max() {
            return Edited::Full(Group::Relations);
        }
        self.relations.push(row);
        Edited::Added(Group::Relations, self.relations.len() - 1)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use seednet_protocol::testing::test_key;

    fn key(n: u8, id: &str) -> RecordKey {
        parse_record_key(&format!("{}/{id}", test_key(n).node_id())).unwrap()
    }

    #[test]
    fn every_button_value_reads_back_as_its_action() {
        let actions = [
            FormAction::Publish,
            FormAction::Preview,
            FormAction::SearchRelations,
            FormAction::Add(Group::Organisations),
            FormAction::Remove(Group::Translations, 3),
            FormAction::PickRelation(key(2, "torino")),
        ];
        for action in actions {
            assert_eq!(FormAction::parse(Some(&action.value())), Some(action));
        }
        assert_eq!(FormAction::parse(None), Some(FormAction::Preview));
        assert_eq!(
            FormAction::parse(Some(ENTER_KEY_VALUE)),
            Some(FormAction::Preview)
        );
        assert_eq!(FormAction::parse(Some("add:nothing")), None);
        assert_eq!(FormAction::parse(Some("remove:links:x")), None);
        assert_eq!(FormAction::parse(Some("delete")), None);
    }

    #[test]
    fn rows_are_added_up_to_the_protocol_limit_and_removed() {
        let mut form = RecordForm::default();
        for index in 0..Group::Funding.max() {
            assert_eq!(
                form.apply(&FormAction::Add(Group::Funding)),
                Edited::Added(Group::Funding, index)
            );
        }
        assert_eq!(
            form.apply(&FormAction::Add(Group::Funding)),
            Edited::Full(Group::Funding)
        );
        assert_eq!(form.funding.len(), 16);
        form.funding[1].programme = "FSE+ Piemonte".into();
        form.apply(&FormAction::Remove(Group::Funding, 0));
        assert_eq!(form.funding[0].programme, "FSE+ Piemonte");
        assert_eq!(
            form.apply(&FormAction::Remove(Group::Funding, 99)),
            Edited::Nothing
        );
    }

    #[test]
    fn a_picked_record_becomes_a_relation_of_the_chosen_type_once() {
        let mut form = RecordForm {
            relation_query_type: "part_of".into(),
            ..RecordForm::default()
        };
        let target = key(3, "kardista");
        assert_eq!(
            form.apply(&FormAction::PickRelation(target.clone())),
            Edited::Added(Group::Relations, 0)
        );
        assert_eq!(form.relations[0].relation_type, "part_of");
        assert_eq!(form.relations[0].target, target.to_string());
        assert_eq!(
            form.apply(&FormAction::PickRelation(target.clone())),
            Edited::AlreadyRelated(0)
        );
        // An empty row added by hand is filled first.
        form.relation_query_type = "adapted_from".into();
        form.apply(&FormAction::Add(Group::Relations));
        assert_eq!(form.relations[1].relation_type, "adapted_from");
        form.apply(&FormAction::PickRelation(target));
        assert_eq!(form.relations.len(), 2);
        assert_eq!(form.relations[1].relation_type, "adapted_from");
    }
}
