//! End-to-end tests of the record form (issue 19) in a real browser:
//! Debian's chromium through chromedriver against real `seednet` nodes on
//! 127.0.0.1. An editor writes a whole record through the form (a section,
//! a translation, a relation found with the form's own record search),
//! mistypes and gets each message next to its input with nothing lost, and
//! previews Markdown without publishing. Every button used is a plain
//! submit button: nothing here needs the page's JavaScript.

mod web_support;

use web_support::{
    browser_available, content, link_nodes, record_count, wait_for_page_text, Browser, Node,
};

const GREEK_TITLE: &str = "Εργαστήρια συνδιαμόρφωσης με πολίτες στην Καρδίτσα";
const ITALIAN_TITLE: &str = "Laboratori di co-progettazione con i cittadini a Torino";

#[tokio::test]
async fn an_editor_writes_a_translated_record_adapted_from_another_centres_and_both_centres_show_it(
) {
    if !browser_available() {
        return;
    }
    let italy = Node::start_federating("SEED Competence Centre Italy", "IT", "it,en");
    let greece = Node::start_federating("SEED Competence Centre Greece", "GR", "el,en");
    link_nodes(&italy, &greece).await;
    let greek_path = greece
        .publish(&content(
            "el",
            "GR",
            GREEK_TITLE,
            "Ο Δήμος Καρδίτσας σχεδιάζει υπηρεσίες μαζί με τους πολίτες σε ανοιχτά εργαστήρια.",
            &["co-design"],
        ))
        .await;
    let greek_key = greek_path.trim_start_matches("/records/").to_string();
    // Italy holds the Greek record and has indexed it.
    wait_for_page_text(
        &italy,
        "/?q=%CE%9A%CE%B1%CF%81%CE%B4%CE%AF%CF%84%CF%83%CE%B1",
        &greek_path,
    )
    .await;

    let browser = Browser::start().await;
    browser.sign_in(&italy, &italy.editor_token, "en").await;
    browser.click_to_page("a[href='/editor/new']").await;
    browser.type_into("#f-title", ITALIAN_TITLE).await;
    browser
        .type_into(
            "#f-summary",
            "Il Comune di Torino progetta i servizi con i cittadini, come a Karditsa.",
        )
        .await;
    browser
        .type_into("#f-body", "Laboratori **aperti** in ogni quartiere.")
        .await;
    browser
        .find("#f-themes-co-design")
        .await
        .click()
        .await
        .unwrap();
    browser
        .find("details.form-more summary")
        .await
        .click()
        .await
        .unwrap();
    browser
        .type_into(
            "#f-sections-approach",
            "Tre incontri per quartiere, con facilitatori.",
        )
        .await;

    // A Greek translation: one more row, everything typed so far kept.
    browser
        .click_to_page("button[value='add:translations']")
        .await;
    assert_eq!(browser.value("#f-title").await, ITALIAN_TITLE);
    assert_eq!(
        browser.value("#f-sections-approach").await,
        "Tre incontri per quartiere, con facilitatori."
    );
    browser.type_into("#f-translations-0-lang", "el").await;
    browser
        .type_into(
            "#f-translations-0-title",
            "Εργαστήρια συνδιαμόρφωσης με πολίτες στο Τορίνο",
        )
        .await;
    browser
        .type_into(
            "#f-translations-0-summary",
            "Ο Δήμος του Τορίνο σχεδιάζει τις υπηρεσίες μαζί με τους πολίτες.",
        )
        .await;
    browser
        .find("#f-translations-0-provenance-machine")
        .await
        .click()
        .await
        .unwrap();

    // The Greek centre's record, found with the form's record search.
    browser.type_into("#f-relation_search-q", "Καρδίτσα").await;
    browser.click_to_page("#relation-search-button").await;
    let hit = browser
        .text(&format!(".relation-hit[data-key='{greek_key}']"))
        .await;
    assert!(
        hit.contains(GREEK_TITLE)
            && hit.contains("GR")
            && hit.contains("SEED Competence Centre Greece"),
        "the hit names its title, country and centre: {hit}"
    );
    assert_eq!(
        browser.value("#f-translations-0-title").await,
        "Εργαστήρια συνδιαμόρφωσης με πολίτες στο Τορίνο",
        "searching kept the translation"
    );
    browser
        .click_to_page(&format!(".relation-hit[data-key='{greek_key}'] button"))
        .await;
    assert_eq!(browser.value("#f-relations-0-target").await, greek_key);
    assert_eq!(browser.value("#f-relations-0-type").await, "adapted_from");
    assert_eq!(
        browser
            .text("[data-group='relations'] .relation-title")
            .await,
        GREEK_TITLE
    );
    assert!(browser
        .find("#f-translations-0-provenance-machine")
        .await
        .is_selected()
        .await
        .unwrap());
    browser.screenshot_full_page("editor-form-full").await;

    browser.click_to_page("button[value='publish']").await;
    let italian_path = browser.path().await;
    assert!(
        italian_path.starts_with(&format!("/records/{}/", italy.node_id)),
        "published: {italian_path}: {}",
        browser.text("main").await
    );
    let italian_path = italian_path.split('?').next().unwrap().to_string();
    let chip = browser.text(".translations a[hreflang='el']").await;
    assert!(
        chip.contains("Greek")
            && chip.contains("machine translation")
            && chip.contains("not reviewed"),
        "{chip}"
    );
    let main = browser.text("main").await;
    assert!(
        main.contains("The approach") && main.contains("Tre incontri per quartiere"),
        "{main}"
    );
    assert!(browser
        .text(".relation-adapted_from")
        .await
        .contains(GREEK_TITLE));

    // After sync the Greek centre's record says what was adapted from it.
    wait_for_page_text(&greece, &greek_path, ITALIAN_TITLE).await;
    browser.goto(&format!("{}{greek_path}", greece.url)).await;
    let adapted = browser.text(".relation-adapted-here").await;
    assert!(
        adapted.contains(ITALIAN_TITLE) && adapted.contains("Italy"),
        "{adapted}"
    );
    let link = browser.find(".relation-adapted-here a").await;
    assert_eq!(
        link.attr("href").await.unwrap().as_deref(),
        Some(italian_path.as_str())
    );
    browser.close().await;
}

#[tokio::test]
async fn a_refused_form_shows_each_message_at_its_input_and_keeps_everything_typed() {
    if !browser_available() {
        return;
    }
    let node = Node::start("SEED Competence Centre Romania", "RO", "ro,en");
    let browser = Browser::start().await;
    browser.sign_in(&node, &node.editor_token, "en").await;
    browser.click_to_page("a[href='/editor/new']").await;
    browser
        .type_into("#f-title", "Cooperative sociale în Cluj")
        .await;
    browser
        .type_into("#f-summary", "Metodologie pentru cooperative sociale.")
        .await;
    browser.type_into("#f-body", "Descriere.").await;
    browser
        .find("#f-themes-scaling-up")
        .await
        .click()
        .await
        .unwrap();
    browser.type_into("#f-region", "Cluj").await;
    browser.type_into("#f-tags", "economie socială").await;
    browser.click_to_page("button[value='add:links']").await;
    browser
        .type_into("#f-links-0-url", "ftp://files.example.org/raport.pdf")
        .await;
    browser.type_into("#f-links-0-title", "Raport").await;
    browser
        .click_to_page("button[value='add:translations']")
        .await;
    browser.type_into("#f-translations-0-lang", "en").await;
    browser
        .type_into(
            "#f-translations-0-summary",
            "A method for social cooperatives.",
        )
        .await;
    browser
        .find("#f-translations-0-provenance-human")
        .await
        .click()
        .await
        .unwrap();
    browser
        .click_to_page("button[value='add:organisations']")
        .await;
    browser
        .type_into("#f-organisations-0-name", "Asociația Exemplu")
        .await;
    browser
        .type_into("#f-organisations-0-role", "partener")
        .await;
    browser.click_to_page("button[value='publish']").await;

    let link_error = browser
        .text("[data-field='links[0].url'] .field-error")
        .await;
    assert!(link_error.contains("is not a web address"), "{link_error}");
    assert_eq!(
        browser
            .find("#f-links-0-url")
            .await
            .attr("aria-invalid")
            .await
            .unwrap()
            .as_deref(),
        Some("true")
    );
    let title_error = browser
        .text("[data-field='translations[0].title'] .field-error")
        .await;
    assert!(title_error.contains("must not be empty"), "{title_error}");
    let summary = browser.text("#error-summary").await;
    assert_eq!(
        browser.find_all("#error-summary li").await.len(),
        2,
        "{summary}"
    );
    assert!(
        browser
            .text("#error-summary a[href='#f-links-0-url']")
            .await
            .starts_with("Link 1 · Address:"),
        "{summary}"
    );
    assert!(
        browser
            .text("#error-summary a[href='#f-translations-0-title']")
            .await
            .starts_with("Translation 1 · Title:"),
        "{summary}"
    );
    // Nothing typed is lost.
    for (input, typed) in [
        ("#f-title", "Cooperative sociale în Cluj"),
        ("#f-summary", "Metodologie pentru cooperative sociale."),
        ("#f-body", "Descriere."),
        ("#f-region", "Cluj"),
        ("#f-tags", "economie socială"),
        ("#f-links-0-url", "ftp://files.example.org/raport.pdf"),
        ("#f-links-0-title", "Raport"),
        ("#f-translations-0-lang", "en"),
        (
            "#f-translations-0-summary",
            "A method for social cooperatives.",
        ),
        ("#f-organisations-0-name", "Asociația Exemplu"),
        ("#f-organisations-0-role", "partener"),
    ] {
        assert_eq!(browser.value(input).await, typed, "{input}");
    }
    for checked in ["#f-themes-scaling-up", "#f-translations-0-provenance-human"] {
        assert!(
            browser.find(checked).await.is_selected().await.unwrap(),
            "{checked}"
        );
    }
    assert_eq!(record_count(&node).await, 0, "nothing was published");
    browser.screenshot("editor-form-errors").await;

    // Corrected, it publishes; the edit form holds every field again.
    browser.find("#f-links-0-url").await.clear().await.unwrap();
    browser
        .type_into("#f-links-0-url", "https://files.example.org/raport.pdf")
        .await;
    browser
        .type_into("#f-translations-0-title", "Social cooperatives in Cluj")
        .await;
    browser.click_to_page("button[value='publish']").await;
    assert!(
        browser.path().await.starts_with("/records/"),
        "{}",
        browser.text("main").await
    );
    assert_eq!(record_count(&node).await, 1);
    browser.click_to_page("a.button[href$='/edit']").await;
    for (input, typed) in [
        ("#f-links-0-url", "https://files.example.org/raport.pdf"),
        ("#f-translations-0-title", "Social cooperatives in Cluj"),
        ("#f-organisations-0-role", "partener"),
        ("#f-tags", "economie socială"),
    ] {
        assert_eq!(browser.value(input).await, typed, "{input}");
    }
    browser.close().await;
}

#[tokio::test]
async fn preview_renders_markdown_as_the_record_page_does_and_publishes_nothing() {
    if !browser_available() {
        return;
    }
    let node = Node::start("SEED Competence Centre Slovenia", "SI", "sl,en");
    node.publish(&content(
        "sl",
        "SI",
        "Digitalne spretnosti za starejše",
        "Orodje za digitalne spretnosti starejših.",
        &["competence-transfer"],
    ))
    .await;
    let before = record_count(&node).await;
    let browser = Browser::start().await;
    browser.sign_in(&node, &node.editor_token, "en").await;
    browser.click_to_page("a[href='/editor/new']").await;
    browser
        .type_into("#f-title", "Skupnostni vrtovi v Mariboru")
        .await;
    browser
        .type_into(
            "#f-summary",
            "Mestna občina in prebivalci skupaj urejajo vrtove.",
        )
        .await;
    browser
        .type_into(
            "#f-body",
            "**Kako deluje**\n\n- prebivalci izberejo zemljišče\n- občina priskrbi vodo\n",
        )
        .await;
    browser
        .find("#f-themes-participatory-local-development")
        .await
        .click()
        .await
        .unwrap();
    browser.click_to_page("button[value='preview']").await;

    assert_eq!(
        browser.text(".preview h3").await,
        "Skupnostni vrtovi v Mariboru"
    );
    assert_eq!(
        browser.text(".preview #body-heading + .prose strong").await,
        "Kako deluje"
    );
    let items = browser
        .find_all(".preview #body-heading + .prose ul li")
        .await;
    assert_eq!(items.len(), 2);
    assert_eq!(items[1].text().await.unwrap(), "občina priskrbi vodo");
    assert!(browser
        .text(".preview .record-origin")
        .await
        .contains("SEED Competence Centre Slovenia"));
    assert_eq!(browser.path().await, "/editor/new", "still on the form");
    assert_eq!(
        browser.value("#f-title").await,
        "Skupnostni vrtovi v Mariboru",
        "the form is still filled in under the preview"
    );
    assert_eq!(
        record_count(&node).await,
        before,
        "preview publishes nothing"
    );
    browser.screenshot("editor-form-preview").await;
    browser.close().await;
}
