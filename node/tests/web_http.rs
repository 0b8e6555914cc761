//! The web interface over plain HTTP against a real node on 127.0.0.1: the
//! security headers on every page, CSRF refusal, cookie flags, language
//! negotiation, HTML error pages and the long-cached, versioned assets.
//! These need no browser, so they run everywhere.

mod web_support;

use reqwest::header::{CACHE_CONTROL, CONTENT_TYPE, COOKIE, LOCATION, SET_COOKIE};
use reqwest::redirect::Policy;
use reqwest::StatusCode;
use web_support::Node;

const CSP: &str = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; frame-ancestors 'none'; form-action 'self'; base-uri 'none'";

fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(Policy::none())
        .build()
        .expect("http client")
}

/// The value of cookie `name` from a response's Set-Cookie headers.
fn set_cookie(response: &reqwest::Response, name: &str) -> Option<String> {
    response
        .headers()
        .get_all(SET_COOKIE)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .find(|value| value.starts_with(&format!("{name}=")))
        .map(str::to_string)
}

fn cookie_pair(set_cookie: &str) -> String {
    set_cookie.split(';').next().unwrap_or("").to_string()
}

fn hidden_csrf(html: &str) -> String {
    let marker = "name=\"csrf\" value=\"";
    let start = html.find(marker).expect("a csrf field") + marker.len();
    html[start..start + 64].to_string()
}

#[tokio::test]
async fn every_page_carries_the_security_headers() {
    let node = Node::start("Centre", "IT", "it");
    let record = node
        .publish(&web_support::content(
            "it",
            "IT",
            "Titolo",
            "Sintesi",
            &["co-design"],
        ))
        .await;
    let client = client();
    for path in [
        "/",
        "/?q=x&country=IT",
        "/network",
        "/signin",
        &record,
        "/records/nope/x",
        "/editor",
    ] {
        let response = client
            .get(format!("{}{path}", node.url))
            .send()
            .await
            .unwrap();
        let headers = response.headers();
        assert_eq!(headers["content-security-policy"], CSP, "{path}");
        assert_eq!(headers["x-content-type-options"], "nosniff", "{path}");
        assert!(headers.contains_key("referrer-policy"), "{path}");
        assert_eq!(headers["x-frame-options"], "DENY", "{path}");
    }
}

#[tokio::test]
async fn errors_are_html_pages_in_the_chosen_language() {
    let node = Node::start("Centre", "IT", "it");
    let response = client()
        .get(format!("{}/records/nope/x", node.url))
        .header("Accept-Language", "el-GR,el;q=0.9,en;q=0.5")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::NOT_FOUND);
    assert!(response.headers()[CONTENT_TYPE]
        .to_str()
        .unwrap()
        .starts_with("text/html"));
    let html = response.text().await.unwrap();
    assert!(html.contains("<html lang=\"el\">"));
    assert!(html.contains("Η εγγραφή δεν βρέθηκε"));
}

#[tokio::test]
async fn a_browser_gets_an_html_404_where_an_api_client_gets_json() {
    let node = Node::start("Centre", "IT", "it");
    let browser_like = client()
        .get(format!("{}/no/such/page", node.url))
        .header("Accept", "text/html,application/xhtml+xml;q=0.9,*/*;q=0.8")
        .header("Accept-Language", "ro")
        .send()
        .await
        .unwrap();
    assert_eq!(browser_like.status(), StatusCode::NOT_FOUND);
    assert!(browser_like.headers()[CONTENT_TYPE]
        .to_str()
        .unwrap()
        .starts_with("text/html"));
    assert!(browser_like
        .headers()
        .contains_key("content-security-policy"));
    let html = browser_like.text().await.unwrap();
    assert!(html.contains("<html lang=\"ro\">"), "{html}");
    assert!(
        html.contains("Pagina nu a fost găsită") || html.contains("nu a fost"),
        "{html}"
    );
    // The same unknown address asked for by a script: the JSON error shape.
    let script = client()
        .get(format!("{}/no/such/page", node.url))
        .send()
        .await
        .unwrap();
    assert_eq!(script.status(), StatusCode::NOT_FOUND);
    let body: serde_json::Value = script.json().await.unwrap();
    assert_eq!(body["error"]["code"], "not_found");
    // The API stays JSON even for a browser.
    let api = client()
        .get(format!("{}/api/v1/no-such-thing", node.url))
        .header("Accept", "text/html")
        .send()
        .await
        .unwrap();
    assert_eq!(api.status(), StatusCode::NOT_FOUND);
    let body: serde_json::Value = api.json().await.unwrap();
    assert_eq!(body["error"]["code"], "not_found");
}

#[tokio::test]
async fn sign_in_needs_the_form_token_and_sets_a_strict_http_only_session() {
    let node = Node::start("Centre", "SI", "sl");
    let client = client();
    let form = client
        .get(format!("{}/signin", node.url))
        .send()
        .await
        .unwrap();
    let csrf_cookie = set_cookie(&form, "seednet_csrf").expect("csrf cookie");
    assert!(csrf_cookie.contains("HttpOnly") && csrf_cookie.contains("SameSite=Strict"));
    let csrf = hidden_csrf(&form.text().await.unwrap());

    // Without the CSRF cookie the form is refused, even with a good token.
    let forged = client
        .post(format!("{}/signin", node.url))
        .form(&[
            ("csrf", csrf.as_str()),
            ("token", node.editor_token.as_str()),
            ("next", "/"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(forged.status(), StatusCode::FORBIDDEN);
    assert!(set_cookie(&forged, "seednet_session").is_none());

    // A wrong token: 401 and a clear message, no session.
    let wrong = client
        .post(format!("{}/signin", node.url))
        .header(COOKIE, cookie_pair(&csrf_cookie))
        .form(&[
            ("csrf", csrf.as_str()),
            ("token", "snt_0123456789abcdef_nope"),
            ("next", "/"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(wrong.status(), StatusCode::UNAUTHORIZED);
    assert!(set_cookie(&wrong, "seednet_session").is_none());
    assert!(wrong
        .text()
        .await
        .unwrap()
        .contains("This token is not valid"));

    let good = client
        .post(format!("{}/signin", node.url))
        .header(COOKIE, cookie_pair(&csrf_cookie))
        .form(&[
            ("csrf", csrf.as_str()),
            ("token", node.editor_token.as_str()),
            ("next", "/"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(good.status(), StatusCode::SEE_OTHER);
    assert_eq!(good.headers()[LOCATION], "/editor");
    let session = set_cookie(&good, "seednet_session").expect("session cookie");
    assert!(session.contains("HttpOnly"));
    assert!(session.contains("SameSite=Strict"));
    assert!(!session.contains("Secure"), "the node's public URL is http");
    assert!(
        !session.contains(&node.editor_token),
        "the token never goes into a cookie"
    );

    // A publish form without the session's CSRF token is refused and stores nothing.
    let session_pair = cookie_pair(&session);
    let post = client
        .post(format!("{}/editor/new", node.url))
        .header(COOKIE, &session_pair)
        .form(&[
            ("csrf", "0".repeat(64).as_str()),
            ("kind", "practice"),
            ("lang", "sl"),
            ("title", "Ponarejen zapis"),
            ("summary", "s"),
            ("body", "b"),
            ("themes", "co-design"),
            ("country", "SI"),
            ("year_start", "2024"),
            ("action", "publish"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(post.status(), StatusCode::FORBIDDEN);
    let list = client
        .get(format!("{}/api/v1/records", node.url))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(!list.contains("Ponarejen"), "nothing was published: {list}");
}

#[tokio::test]
async fn assets_are_versioned_and_cached_for_a_year() {
    let node = Node::start("Centre", "RO", "ro");
    let client = client();
    let html = client
        .get(format!("{}/", node.url))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let start = html.find("/assets/").expect("an asset link");
    let end = start + html[start..].find("site.css").expect("the stylesheet") + "site.css".len();
    let css_path = &html[start..end];
    let css = client
        .get(format!("{}{css_path}", node.url))
        .send()
        .await
        .unwrap();
    assert_eq!(css.status(), StatusCode::OK);
    assert!(css.headers()[CACHE_CONTROL]
        .to_str()
        .unwrap()
        .contains("immutable"));
    assert!(css.headers()[CONTENT_TYPE]
        .to_str()
        .unwrap()
        .starts_with("text/css"));
    let stale = client
        .get(format!("{}/assets/000000000000/site.css", node.url))
        .send()
        .await
        .unwrap();
    assert_eq!(stale.headers()[CACHE_CONTROL], "no-cache");
    let missing = client
        .get(format!("{}/assets/000000000000/nope.js", node.url))
        .send()
        .await
        .unwrap();
    assert_eq!(missing.status(), StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn record_text_is_escaped_everywhere_it_is_shown() {
    let node = Node::start("Centre", "IT", "it");
    let attack = "<script>alert('x')</script><img src=x onerror=alert(1)>";
    let mut content = web_support::content("it", "IT", attack, attack, &["co-design"]);
    content["tags"] = serde_json::json!([attack.chars().take(60).collect::<String>()]);
    let record = node.publish(&content).await;
    let client = client();
    for path in [record.as_str(), "/?q=script", "/"] {
        let html = client
            .get(format!("{}{path}", node.url))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        assert!(
            !html.contains("<script>alert"),
            "{path} shows raw record text"
        );
        assert!(!html.contains("<img src=x"), "{path} shows raw record text");
        assert!(
            html.contains("&lt;script&gt;alert"),
            "{path} shows the escaped text"
        );
    }
    // In the JSON-LD block, `<` is written as a JSON escape.
    let html = client
        .get(format!("{}{record}", node.url))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(html.contains("\\u003cscript\\u003ealert"));
}

/// Signs in through the web form with `token`; returns the session cookie pair.
async fn sign_in(client: &reqwest::Client, node: &Node, token: &str) -> String {
    let form = client
        .get(format!("{}/signin", node.url))
        .send()
        .await
        .unwrap();
    let csrf_cookie = set_cookie(&form, "seednet_csrf").expect("csrf cookie");
    let csrf = hidden_csrf(&form.text().await.unwrap());
    let signed_in = client
        .post(format!("{}/signin", node.url))
        .header(COOKIE, cookie_pair(&csrf_cookie))
        .form(&[("csrf", csrf.as_str()), ("token", token), ("next", "/")])
        .send()
        .await
        .unwrap();
    assert_eq!(signed_in.status(), StatusCode::SEE_OTHER);
    cookie_pair(&set_cookie(&signed_in, "seednet_session").expect("session cookie"))
}

async fn page(client: &reqwest::Client, node: &Node, path: &str, session: &str) -> String {
    client
        .get(format!("{}{path}", node.url))
        .header(COOKIE, session)
        .header(reqwest::header::ACCEPT_LANGUAGE, "en")
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap()
}

#[tokio::test]
async fn a_delete_without_the_confirmation_box_says_so_and_deletes_nothing() {
    let node = Node::start("Centre", "IT", "it");
    let content = web_support::content("it", "IT", "Da non cancellare", "Resta.", &["co-design"]);
    let record = node.publish(&content).await;
    let id = record.rsplit('/').next().unwrap();
    let client = client();
    let session = sign_in(&client, &node, &node.editor_token).await;
    let edit = format!("/editor/records/{id}/edit");
    let html = page(&client, &node, &edit, &session).await;
    assert!(
        !html.contains("Nothing was deleted"),
        "no message before a submit"
    );
    let version_marker = "name=\"expected_version\" value=\"";
    let start = html.find(version_marker).expect("delete form") + version_marker.len();
    let version: String = html[start..]
        .chars()
        .take_while(char::is_ascii_digit)
        .collect();
    let refused = client
        .post(format!("{}/editor/records/{id}/delete", node.url))
        .header(COOKIE, &session)
        .form(&[
            ("csrf", hidden_csrf(&html).as_str()),
            ("expected_version", version.as_str()),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(refused.status(), StatusCode::SEE_OTHER);
    let back = refused.headers()[LOCATION].to_str().unwrap().to_string();
    let html = page(&client, &node, &back, &session).await;
    assert!(
        html.contains("Nothing was deleted: tick “Yes, delete this record” first."),
        "{back}: {html}"
    );
    let still_there = client
        .get(format!("{}{record}", node.url))
        .send()
        .await
        .unwrap();
    assert_eq!(still_there.status(), StatusCode::OK);
}

#[tokio::test]
async fn a_web_session_ends_when_its_token_is_revoked() {
    let node = Node::start("Centre", "SI", "sl");
    let client = client();
    let session = sign_in(&client, &node, &node.editor_token).await;
    let editor = |session: String| {
        let client = client.clone();
        let url = format!("{}/editor", node.url);
        async move {
            client
                .get(url)
                .header(COOKIE, session)
                .send()
                .await
                .unwrap()
        }
    };
    assert_eq!(editor(session.clone()).await.status(), StatusCode::OK);

    let tokens: serde_json::Value = client
        .get(format!("{}/api/v1/tokens", node.url))
        .bearer_auth(&node.admin_token)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let editor_id = tokens
        .as_array()
        .unwrap()
        .iter()
        .find(|token| token["role"] == "editor")
        .expect("the editor token is listed")["id"]
        .as_str()
        .unwrap()
        .to_string();
    let revoked = client
        .delete(format!("{}/api/v1/tokens/{editor_id}", node.url))
        .bearer_auth(&node.admin_token)
        .send()
        .await
        .unwrap();
    assert_eq!(revoked.status(), StatusCode::NO_CONTENT);

    let after = editor(session).await;
    assert_eq!(after.status(), StatusCode::SEE_OTHER);
    assert!(after.headers()[LOCATION]
        .to_str()
        .unwrap()
        .starts_with("/signin"));
}
