//! End-to-end tests of the web interface in a real browser: Debian's chromium
//! driven through chromedriver against a real `seednet` node on 127.0.0.1.
//! Each test walks one thing a person does (search across languages, publish
//! as an editor, use the admin page, mistype a token) and saves screenshots of
//! the pages it visits (see `web_support::screenshot_dir`).

mod web_support;

use serde_json::json;
use web_support::{browser_available, content, Browser, Node};

/// Three centres' records: an Italian practice with a Greek translation, a
/// Greek practice, and an unrelated Romanian one.
/// Paths of the seeded records: (Italian with a Greek translation, Greek,
/// Italian without translation).
async fn seed_cross_language(node: &Node) -> (String, String, String) {
    let mut italian = content(
        "it",
        "IT",
        "Co-progettazione dei servizi sociali a Torino",
        "Il Comune di Torino co-progetta i servizi sociali con il terzo settore e i cittadini.",
        &["co-design", "participatory-facilitation"],
    );
    italian["translations"] = json!({
        "el": {
            "title": "Συνδιαμόρφωση κοινωνικών υπηρεσιών στο Τορίνο",
            "summary": "Ο Δήμος του Τορίνο σχεδιάζει από κοινού τις κοινωνικές υπηρεσίες με τον τρίτο τομέα: συνδιαμόρφωση με τους πολίτες.",
            "provenance": "human",
            "reviewed": true
        }
    });
    italian["region"] = json!("Piemonte");
    italian["contact"] =
        json!({"name": "Ufficio innovazione sociale", "email": "innovazione@example.org"});
    let italian_path = node.publish(&italian).await;
    // The Greek practice was adapted from the Italian one.
    let mut greek = content(
        "el",
        "GR",
        "Συνδιαμόρφωση δημοτικών πολιτικών στην Καρδίτσα",
        "Ο Δήμος Καρδίτσας εφαρμόζει συνδιαμόρφωση πολιτικών με τοπικούς φορείς.",
        &["co-design"],
    );
    let italian_key: Vec<&str> = italian_path
        .trim_start_matches("/records/")
        .split('/')
        .collect();
    greek["relations"] = json!([{
        "type": "adapted_from",
        "target": {"origin": italian_key[0], "id": italian_key[1]}
    }]);
    let greek_path = node.publish(&greek).await;
    // An Italian record without any translation: only the concept glossary
    // can connect it to a Greek query.
    let milan_path = node
        .publish(&content(
            "it",
            "IT",
            "Laboratorio di co-progettazione con i giovani a Milano",
            "Percorso di co-progettazione delle politiche giovanili con le scuole.",
            &["participatory-facilitation"],
        ))
        .await;
    node.publish(&content(
        "ro",
        "RO",
        "Cooperative sociale în Cluj",
        "Metodologie pentru cooperative sociale și economie socială în Cluj-Napoca.",
        &["scaling-up"],
    ))
    .await;
    (italian_path, greek_path, milan_path)
}

#[tokio::test]
async fn search_in_greek_read_the_greek_translation_first_and_open_the_italian_original() {
    if !browser_available() {
        return;
    }
    let node = Node::start("SEED Competence Centre Italy", "IT", "it,en");
    let (italian_path, greek_path, milan_path) = seed_cross_language(&node).await;
    let browser = Browser::start().await;

    // Interface in Greek, remembered in a cookie.
    browser.goto(&format!("{}/lang/el?back=/", node.url)).await;
    assert_eq!(
        browser
            .find("html")
            .await
            .attr("lang")
            .await
            .unwrap()
            .as_deref(),
        Some("el")
    );
    browser
        .find("#q")
        .await
        .send_keys("συνδιαμόρφωση")
        .await
        .unwrap();
    browser
        .find("#ql option[value='el']")
        .await
        .click()
        .await
        .unwrap();
    browser
        .click_to_page(".search-form button[type=submit]")
        .await;
    assert_eq!(browser.text("#results-heading").await, "3 εγγραφές");
    let concept_only = browser
        .text(&format!(".hit:has(a[href='{milan_path}']) .cross-language"))
        .await;
    assert!(
        concept_only.contains("έννοια"),
        "found through a concept: {concept_only}"
    );
    // The Italian record carries a Greek translation: a Greek reader sees
    // it first, marked as a translation, with the original one click away.
    let italian_hit = browser
        .find(&format!(".hit a[href='{italian_path}']"))
        .await;
    assert_eq!(
        italian_hit.attr("lang").await.unwrap().as_deref(),
        Some("el")
    );
    assert_eq!(
        italian_hit.text().await.unwrap(),
        "Συνδιαμόρφωση κοινωνικών υπηρεσιών στο Τορίνο"
    );
    let original_link = browser
        .find(&format!(".hit a[href='{italian_path}?tr=orig']"))
        .await;
    assert_eq!(
        original_link.attr("lang").await.unwrap().as_deref(),
        Some("it")
    );
    assert!(original_link
        .text()
        .await
        .unwrap()
        .contains("Co-progettazione dei servizi sociali a Torino"));
    let translation_note = browser
        .text(&format!(
            ".hit:has(a[href='{italian_path}']) .badge-translation"
        ))
        .await;
    assert!(
        translation_note.contains("άνθρωπο"),
        "says who translated it: {translation_note}"
    );
    let marks = browser.find_all(".hit .snippet mark").await;
    assert!(!marks.is_empty(), "snippets highlight the matched words");
    let cross = browser
        .text(&format!(
            ".hit:has(a[href='{italian_path}']) .cross-language"
        ))
        .await;
    assert!(
        cross.contains("μετάφρασ") || cross.contains("έννοια"),
        "the Italian hit says it matched through another language: {cross}"
    );
    let greek_hit_marks = browser
        .find_all(&format!(".hit:has(a[href='{greek_path}']) .cross-language"))
        .await;
    assert!(
        greek_hit_marks.is_empty(),
        "a Greek record found by its own Greek words has no cross-language mark"
    );
    browser.screenshot("search-greek").await;

    // Facet: country IT; then the filter can be removed again.
    browser
        .click_to_page(".facet a[data-facet='country'][data-value='IT']")
        .await;
    assert_eq!(browser.text("#results-heading").await, "2 εγγραφές");
    assert!(browser.path().await.contains("country=IT"));
    assert_eq!(browser.find_all(".hit .badge-country").await.len(), 2);
    for badge in browser.find_all(".hit .badge-country").await {
        assert_eq!(badge.text().await.unwrap(), "IT");
    }
    browser.screenshot("search-greek-facet-it").await;
    browser
        .click_to_page(".active-filters a[data-remove-filter='country']")
        .await;
    assert_eq!(browser.text("#results-heading").await, "3 εγγραφές");
    browser
        .click_to_page(".facet a[data-facet='country'][data-value='IT']")
        .await;

    // Open the hit: the record page also shows the Greek translation first,
    // says so, and links to the original.
    browser
        .click_to_page(&format!(".hit a[href='{italian_path}']"))
        .await;
    assert_eq!(
        browser
            .find("h1")
            .await
            .attr("lang")
            .await
            .unwrap()
            .as_deref(),
        Some("el")
    );
    let notice = browser.text(".notice-translation").await;
    assert!(notice.contains("μετάφραση από άνθρωπο"), "{notice}");
    browser.screenshot("record-greek-translation").await;
    // The original: Italian text, origin, signature, JSON-LD.
    browser.click_to_page(".notice-translation a").await;
    let title = browser.find("h1").await;
    assert_eq!(title.attr("lang").await.unwrap().as_deref(), Some("it"));
    assert_eq!(
        title.text().await.unwrap(),
        "Co-progettazione dei servizi sociali a Torino"
    );
    assert!(browser
        .text(".record-origin")
        .await
        .contains("SEED Competence Centre Italy"));
    assert_eq!(browser.text(".record-version").await, "Έκδοση 1");
    assert!(browser.text(".signature-ok").await.contains("επαληθεύτηκε"));
    let json_ld = browser
        .client
        .execute(
            "return document.querySelector('script[type=\"application/ld+json\"]').textContent",
            vec![],
        )
        .await
        .unwrap();
    let json_ld: serde_json::Value = serde_json::from_str(json_ld.as_str().unwrap()).unwrap();
    assert_eq!(json_ld["@type"], "CreativeWork");
    assert_eq!(json_ld["inLanguage"], "it");
    // What was adapted from it, in another country, is linked both ways.
    let adapted = browser.text(".relation-adapted-here").await;
    assert!(
        adapted.contains("Καρδίτσα")
            && adapted.contains("Ελλάδα")
            && adapted.contains("SEED Competence Centre Italy"),
        "names the country and the centre: {adapted}"
    );
    browser.screenshot("record-italian").await;

    // From the original, the Greek translation is one click away again.
    browser
        .click_to_page(".translations a[hreflang='el']")
        .await;
    assert_eq!(
        browser
            .find("h1")
            .await
            .attr("lang")
            .await
            .unwrap()
            .as_deref(),
        Some("el")
    );

    browser.goto(&format!("{}{greek_path}", node.url)).await;
    let adapted_from = browser.text(".relation-adapted_from").await;
    assert!(
        adapted_from.contains("Co-progettazione dei servizi sociali a Torino"),
        "{adapted_from}"
    );

    // The network page counts the practice carried from Italy to Greece.
    browser.goto(&format!("{}/network", node.url)).await;
    assert_eq!(
        browser
            .text("tr[data-from='IT'][data-to='GR'] .transfer-count")
            .await,
        "1"
    );

    // The same search page on a phone-sized window.
    browser.client.set_window_size(390, 844).await.unwrap();
    browser
        .goto(&format!(
            "{}/?q=%CF%83%CF%85%CE%BD%CE%B4%CE%B9%CE%B1%CE%BC%CF%8C%CF%81%CF%86%CF%89%CF%83%CE%B7",
            node.url
        ))
        .await;
    assert_eq!(browser.find_all(".hit").await.len(), 3);
    browser.screenshot("search-phone").await;
    browser.close().await;
}

#[tokio::test]
async fn the_keyboard_reaches_the_skip_link_and_the_search_box() {
    if !browser_available() {
        return;
    }
    let node = Node::start("SEED Competence Centre Italy", "IT", "it,en");
    let browser = Browser::start().await;
    browser.goto(&format!("{}/lang/it?back=/", node.url)).await;
    let body = browser.find("body").await;
    body.send_keys("\u{E004}").await.unwrap(); // Tab
    let focused = browser
        .client
        .execute("return document.activeElement.className", vec![])
        .await
        .unwrap();
    assert_eq!(
        focused.as_str(),
        Some("skip-link"),
        "Tab first reaches the skip link"
    );
    let skip_text = browser
        .client
        .execute("return document.activeElement.textContent", vec![])
        .await
        .unwrap();
    assert_eq!(skip_text.as_str(), Some("Vai al contenuto principale"));
    browser.screenshot("keyboard-skip-link").await;
    // The search box has a visible label tied to it.
    let label = browser.text("label[for='q']").await;
    assert_eq!(label, "Parole da cercare");
    browser.close().await;
}

#[tokio::test]
async fn editor_signs_in_publishes_a_record_and_finds_it_in_search() {
    if !browser_available() {
        return;
    }
    let node = Node::start("SEED Competence Centre Slovenia", "SI", "sl,en");
    let browser = Browser::start().await;
    browser
        .goto(&format!("{}/lang/en?back=/signin", node.url))
        .await;

    // A wrong token gets a clear message and no session.
    browser
        .find("#token")
        .await
        .send_keys("snt_0000000000000000_wrong")
        .await
        .unwrap();
    browser.click_to_page("form[action='/signin'] button").await;
    let error = browser.text("#signin-error").await;
    assert!(error.contains("This token is not valid"), "{error}");
    assert_eq!(browser.path().await, "/signin");
    browser.screenshot("signin-wrong-token").await;

    browser
        .find("#token")
        .await
        .send_keys(&node.editor_token)
        .await
        .unwrap();
    browser.click_to_page("form[action='/signin'] button").await;
    assert_eq!(browser.path().await, "/editor");
    let cookies = browser
        .client
        .execute("return document.cookie", vec![])
        .await
        .unwrap();
    assert!(
        !cookies.as_str().unwrap_or("").contains("seednet_session"),
        "the session cookie is HttpOnly"
    );
    assert!(browser.text(".empty-state").await.contains("No records"));

    // Validation errors appear next to their fields.
    browser.click_to_page("a[href='/editor/new']").await;
    assert_eq!(
        browser
            .find("#f-country")
            .await
            .prop("value")
            .await
            .unwrap()
            .as_deref(),
        Some("SI")
    );
    browser
        .find("#f-summary")
        .await
        .send_keys("Orodje za digitalne spretnosti starejših v lokalnih skupnostih.")
        .await
        .unwrap();
    browser
        .find("#f-body")
        .await
        .send_keys("Opis orodja.")
        .await
        .unwrap();
    browser
        .find("#f-contact-email")
        .await
        .send_keys("not-an-email")
        .await
        .unwrap();
    browser.click_to_page("button[value='publish']").await;
    assert!(browser
        .text("[data-field='title'] .field-error")
        .await
        .contains("must not be empty"));
    assert!(browser
        .text("[data-field='themes'] .field-error")
        .await
        .contains("Choose at least one"));
    assert!(browser
        .text("[data-field='contact.email'] .field-error")
        .await
        .contains("not an email"));
    assert_eq!(
        browser
            .find("#f-title")
            .await
            .attr("aria-invalid")
            .await
            .unwrap()
            .as_deref(),
        Some("true")
    );
    browser.screenshot("editor-validation-errors").await;

    // Fix, preview, publish.
    browser
        .find("#f-title")
        .await
        .send_keys("Digitalne spretnosti za starejše")
        .await
        .unwrap();
    browser
        .find("#f-themes-competence-transfer")
        .await
        .click()
        .await
        .unwrap();
    browser.find("#f-lang").await.clear().await.unwrap();
    browser.find("#f-lang").await.send_keys("sl").await.unwrap();
    browser
        .find("#f-contact-email")
        .await
        .clear()
        .await
        .unwrap();
    browser
        .find("#f-contact-email")
        .await
        .send_keys("info@example.si")
        .await
        .unwrap();
    browser.click_to_page("button[value='preview']").await;
    assert!(browser
        .text(".preview h3")
        .await
        .contains("Digitalne spretnosti za starejše"));
    browser.screenshot("editor-preview").await;
    browser.click_to_page("button[value='publish']").await;
    let path = browser.path().await;
    assert!(
        path.starts_with("/records/"),
        "publish went to {path}: {}",
        browser.text("main").await
    );
    assert!(browser.text(".notice-ok").await.contains("published"));
    assert_eq!(browser.text("h1").await, "Digitalne spretnosti za starejše");
    browser.screenshot("record-published").await;

    // Found in search, and listed on the editor page.
    browser.goto(&format!("{}/", node.url)).await;
    browser
        .find("#q")
        .await
        .send_keys("spretnosti")
        .await
        .unwrap();
    browser
        .click_to_page(".search-form button[type=submit]")
        .await;
    assert_eq!(browser.text("#results-heading").await, "1 record");
    assert_eq!(
        browser.text(".hit-title").await,
        "Digitalne spretnosti za starejše"
    );
    browser.goto(&format!("{}/editor", node.url)).await;
    assert_eq!(browser.find_all("tbody tr").await.len(), 1);
    browser.screenshot("editor-list").await;

    // Edit creates version 2.
    browser.click_to_page("tbody a[href$='/edit']").await;
    browser.find("#f-title").await.clear().await.unwrap();
    browser
        .find("#f-title")
        .await
        .send_keys("Digitalne spretnosti za starejše občane")
        .await
        .unwrap();
    browser.click_to_page("button[value='publish']").await;
    assert_eq!(browser.text(".record-version").await, "Version 2");

    // Deleting needs the confirmation box; then the record is gone.
    let record_path = browser.path().await;
    browser.click_to_page("a.button[href$='/edit']").await;
    let confirm = browser.find("#confirm-delete").await;
    assert_eq!(
        confirm.attr("required").await.unwrap().as_deref(),
        Some("true")
    );
    browser.find("#confirm-delete").await.click().await.unwrap();
    browser.click_to_page("#delete button[type=submit]").await;
    assert_eq!(browser.path().await, "/editor?notice=deleted");
    assert!(browser.text(".empty-state").await.contains("No records"));
    browser.goto(&format!("{}{record_path}", node.url)).await;
    assert!(browser.text(".notice-error").await.contains("deleted"));

    // Signing out ends the session.
    browser.click_to_page("form.signout button").await;
    browser.goto(&format!("{}/editor", node.url)).await;
    assert!(browser.path().await.starts_with("/signin"));
    browser.close().await;
}

#[tokio::test]
async fn admin_sees_the_node_identity_and_no_invented_peers() {
    if !browser_available() {
        return;
    }
    let node = Node::start("SEED Competence Centre Greece", "GR", "el,en");
    let browser = Browser::start().await;
    browser
        .goto(&format!("{}/lang/en?back=/admin", node.url))
        .await;
    assert!(
        browser.path().await.starts_with("/signin"),
        "admin pages need a sign-in"
    );
    browser
        .find("#token")
        .await
        .send_keys(&node.admin_token)
        .await
        .unwrap();
    browser.click_to_page("form[action='/signin'] button").await;
    assert_eq!(browser.path().await, "/admin");
    assert_eq!(browser.text("#own-node-id").await, node.node_id);
    assert!(browser
        .text("#pending-heading + p")
        .await
        .contains("No link requests are waiting"));
    assert!(
        browser.find_all(".pending-peer").await.is_empty(),
        "no invented peers"
    );
    browser.screenshot("admin").await;

    browser.click_to_page("a[href='/network']").await;
    assert!(browser
        .text(".network-table tbody")
        .await
        .contains("SEED Competence Centre Greece"));
    browser.screenshot("network").await;
    browser.close().await;
}

#[tokio::test]
async fn an_editor_token_does_not_open_the_admin_page() {
    if !browser_available() {
        return;
    }
    let node = Node::start("SEED Competence Centre Romania", "RO", "ro,en");
    let browser = Browser::start().await;
    browser
        .goto(&format!("{}/lang/ro?back=/signin", node.url))
        .await;
    browser
        .find("#token")
        .await
        .send_keys(&node.editor_token)
        .await
        .unwrap();
    browser.click_to_page("form[action='/signin'] button").await;
    assert_eq!(browser.path().await, "/editor");
    assert!(browser.find_all("a[href='/admin']").await.is_empty());
    browser.goto(&format!("{}/admin", node.url)).await;
    assert!(browser
        .text(".notice-error")
        .await
        .contains("administrator"));
    browser.close().await;
}

#[tokio::test]
async fn admin_checks_the_identity_of_a_pending_peer_and_approves_it() {
    if !browser_available() {
        return;
    }
    let greece = Node::start_federating("SEED Competence Centre Greece", "GR", "el,en");
    let italy = Node::start_federating("SEED Competence Centre Italy", "IT", "it,en");
    // Italy's admin asks for a link to Greece (the API the CLI uses).
    let response = reqwest::Client::new()
        .post(format!("{}/api/v1/peers", italy.url))
        .bearer_auth(&italy.admin_token)
        .json(&json!({ "url": greece.url }))
        .send()
        .await
        .expect("add peer");
    assert!(
        response.status().is_success(),
        "peer add refused: {}",
        response.text().await.unwrap()
    );

    let browser = Browser::start().await;
    browser
        .goto(&format!("{}/lang/en?back=/admin", greece.url))
        .await;
    browser
        .find("#token")
        .await
        .send_keys(&greece.admin_token)
        .await
        .unwrap();
    browser.click_to_page("form[action='/signin'] button").await;
    assert_eq!(browser.path().await, "/admin");
    let pending = browser.text(".pending-peer").await;
    assert!(
        pending.contains("SEED Competence Centre Italy"),
        "{pending}"
    );
    assert!(
        pending.contains(&italy.node_id),
        "the full node id is there to check: {pending}"
    );
    browser.screenshot("admin-pending-peer").await;
    browser
        .click_to_page(&format!(
            "button[data-action='approve'][data-peer='{}']",
            italy.node_id
        ))
        .await;
    assert!(browser.text(".notice-ok").await.contains("Done"));
    assert!(browser.find_all(".pending-peer").await.is_empty());
    let state = browser
        .text(&format!("tr[data-peer='{}'] .peer-state", italy.node_id))
        .await;
    assert_eq!(state, "active");
    browser.screenshot("admin-peer-approved").await;
    browser.close().await;
}

#[tokio::test]
async fn a_greek_reader_reads_a_romanian_record_in_greek_and_its_markdown_renders_safely() {
    if !browser_available() {
        return;
    }
    let node = Node::start("SEED Competence Centre Romania", "RO", "ro,en");
    let mut romanian = content(
        "ro",
        "RO",
        "Bugetare participativă în Cluj-Napoca",
        "Locuitorii propun și votează proiecte pentru cartierele lor.",
        &["participatory-facilitation"],
    );
    romanian["body"] = json!(
        "**Cum funcționează**\n\n- adunări de cartier;\n- vot online.\n\n<script>window.pwned = true</script>"
    );
    romanian["translations"] = json!({
        "el": {
            "title": "Συμμετοχικός προϋπολογισμός στο Κλουζ-Νάποκα",
            "summary": "Οι κάτοικοι προτείνουν και ψηφίζουν έργα για τις γειτονιές τους.",
            "provenance": "machine",
            "reviewed": false
        }
    });
    let path = node.publish(&romanian).await;
    let browser = Browser::start().await;
    browser.goto(&format!("{}/lang/el?back=/", node.url)).await;
    browser
        .goto(&format!("{}/?q=%CF%80%CF%81%CE%BF%CF%8B%CF%80%CE%BF%CE%BB%CE%BF%CE%B3%CE%B9%CF%83%CE%BC%CF%8C%CF%82", node.url))
        .await;
    let hit = browser.find(&format!(".hit a[href='{path}']")).await;
    assert_eq!(
        hit.text().await.unwrap(),
        "Συμμετοχικός προϋπολογισμός στο Κλουζ-Νάποκα"
    );
    let note = browser.text(".hit .badge-translation").await;
    assert!(
        note.contains("χωρίς έλεγχο"),
        "machine, not reviewed: {note}"
    );

    // The record page: the Greek translation first; the translation has no
    // description, so the original's is shown, marked, rendered from
    // Markdown, with its script inert.
    browser
        .click_to_page(&format!(".hit a[href='{path}']"))
        .await;
    assert_eq!(
        browser.text("h1").await,
        "Συμμετοχικός προϋπολογισμός στο Κλουζ-Νάποκα"
    );
    assert!(!browser.find_all(".notice-original").await.is_empty());
    assert_eq!(browser.find_all(".prose ul li").await.len(), 2);
    assert_eq!(browser.text(".prose strong").await, "Cum funcționează");
    assert!(browser.find_all(".prose script").await.is_empty());
    let pwned = browser
        .client
        .execute("return window.pwned === true", vec![])
        .await
        .unwrap();
    assert_eq!(pwned.as_bool(), Some(false), "the script did not run");
    assert!(browser
        .text("main")
        .await
        .contains("<script>window.pwned = true</script>"));
    browser.screenshot("record-romanian-in-greek").await;

    // The original, one click away.
    browser.click_to_page(".notice-translation a").await;
    assert_eq!(
        browser.text("h1").await,
        "Bugetare participativă în Cluj-Napoca"
    );
    browser.close().await;
}

/// Signs the browser in to `node` with its admin token, landing on `/admin`.
async fn sign_in_as_admin(browser: &Browser, node: &Node) {
    browser
        .goto(&format!("{}/lang/el?back=/admin", node.url))
        .await;
    browser
        .find("#token")
        .await
        .send_keys(&node.admin_token)
        .await
        .unwrap();
    browser.click_to_page("form[action='/signin'] button").await;
    assert_eq!(browser.path().await, "/admin");
}

#[tokio::test]
async fn an_admin_links_two_centres_entirely_from_the_browser_and_can_purge_again() {
    if !browser_available() {
        return;
    }
    let greece = Node::start_federating("SEED Competence Centre Greece", "GR", "el,en");
    let italy = Node::start_federating("SEED Competence Centre Italy", "IT", "it,en");
    italy
        .publish(&content(
            "it",
            "IT",
            "Bilancio partecipativo a Bari",
            "I cittadini di Bari decidono come spendere una parte del bilancio comunale.",
            &["participatory-facilitation"],
        ))
        .await;
    let browser = Browser::start().await;

    // Italy's admin asks Greece for a link: the identity first, then the request.
    sign_in_as_admin(&browser, &italy).await;
    browser
        .find("#peer-url")
        .await
        .send_keys(&greece.url)
        .await
        .unwrap();
    browser.click_to_page("#fetch-identity").await;
    assert_eq!(browser.text("#peer-node-id").await, greece.node_id);
    assert_eq!(
        browser.text(".identity-name").await,
        "SEED Competence Centre Greece"
    );
    browser.screenshot("admin-add-peer-identity").await;
    browser.click_to_page("#send-link-request").await;
    assert!(!browser.text(".notice-ok").await.is_empty());
    let state = browser
        .text(&format!("tr[data-peer='{}'] .peer-state", greece.node_id))
        .await;
    assert_eq!(state, "ζητήθηκε, αναμονή για το άλλο κέντρο");

    // Greece's admin approves it from the browser too.
    sign_in_as_admin(&browser, &greece).await;
    let pending = browser.text(".pending-peer").await;
    assert!(pending.contains(&italy.node_id), "{pending}");
    browser
        .click_to_page(&format!(
            "button[data-action='approve'][data-peer='{}']",
            italy.node_id
        ))
        .await;

    // Greece receives Italy's record; its search names the centre and the
    // country in Greek, not by codes.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    loop {
        browser.goto(&format!("{}/", greece.url)).await;
        if browser.find_all(".hit").await.len() == 1 {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the record did not arrive"
        );
        tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    }
    let origin_facet = browser.text(".facet a[data-facet='origin']").await;
    assert!(
        origin_facet.contains("SEED Competence Centre Italy"),
        "{origin_facet}"
    );
    let country_facet = browser
        .text(".facet a[data-facet='country'][data-value='IT']")
        .await;
    assert!(country_facet.contains("Ιταλία"), "{country_facet}");

    // A repair pass from the browser finds nothing missing.
    browser.goto(&format!("{}/admin", greece.url)).await;
    browser
        .click_to_page(&format!(
            "button[data-action='repair'][data-peer='{}']",
            italy.node_id
        ))
        .await;
    assert!(browser.text(".repair-done").await.contains('0'));

    // Revoke with purge: the confirmation says what goes; unticked, nothing does.
    browser.goto(&format!("{}/admin", greece.url)).await;
    browser
        .click_to_page(&format!(".purge-link[data-peer='{}']", italy.node_id))
        .await;
    let explain = browser.text(".purge-explain").await;
    assert!(
        explain.contains("SEED Competence Centre Italy") && explain.contains('1'),
        "{explain}"
    );
    browser.screenshot("admin-purge-confirm").await;
    browser.click_to_page("#purge-submit").await;
    browser.goto(&format!("{}/", greece.url)).await;
    assert_eq!(browser.find_all(".hit").await.len(), 1, "nothing removed");
    browser.goto(&format!("{}/admin", greece.url)).await;
    browser
        .click_to_page(&format!(".purge-link[data-peer='{}']", italy.node_id))
        .await;
    browser.find("#purge-confirm").await.click().await.unwrap();
    browser.click_to_page("#purge-submit").await;
    assert!(browser.text(".purge-done").await.contains('1'));
    browser.goto(&format!("{}/", greece.url)).await;
    assert!(browser.find_all(".hit").await.is_empty());
    browser.close().await;
}
