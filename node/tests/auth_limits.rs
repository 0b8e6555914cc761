//! Failed token authentications are limited, over real HTTP on loopback
//! against the real binary: many wrong secrets for a real token id get 429
//! with `Retry-After` and the JSON error shape, the guessing address is then
//! refused unchecked until the window passes, and the real holder of the
//! token, from another address, is never locked out.
//!
//! Clients are told apart by `X-Forwarded-For`, which the node believes from
//! a loopback peer (its reverse proxy), so every request stays on 127.0.0.1.

mod common;

use std::time::Duration;

use common::{client, data_dir, init, Server};
use reqwest::StatusCode;
use seednet_node::tokens::{TOKEN_ADDRESS_FAILURES_MAX, TOKEN_ID_FAILURES_MAX};
use serde_json::Value;

/// The failed-authentication window of the node under test.
const WINDOW_SECS: u64 = 3;
const ATTACKER: &str = "192.0.2.66";
const HOLDER: &str = "192.0.2.10";
/// As many wrong secrets as the report that found the defect sent.
const GUESSES: usize = 300;

struct Answer {
    status: StatusCode,
    retry_after: Option<u64>,
    body: Value,
}

async fn list_tokens(http: &reqwest::Client, server: &Server, token: &str, from: &str) -> Answer {
    let response = http
        .get(server.url("/api/v1/tokens"))
        .bearer_auth(token)
        .header("x-forwarded-for", from)
        .send()
        .await
        .expect("request");
    let status = response.status();
    let retry_after = response
        .headers()
        .get("retry-after")
        .map(|value| value.to_str().unwrap().parse().unwrap());
    if status.is_client_error() {
        assert_eq!(
            response.headers()["content-type"],
            "application/json",
            "error bodies are JSON"
        );
    }
    let body = response.json().await.unwrap_or(Value::Null);
    Answer {
        status,
        retry_after,
        body,
    }
}

/// The token with its id kept and its secret replaced.
fn wrong_secret(token: &str, n: usize) -> String {
    let (id_part, _secret) = token.rsplit_once('_').unwrap();
    format!("{id_part}_{n:064x}")
}

fn assert_limited(answer: &Answer, what: &str) {
    assert_eq!(
        answer.status,
        StatusCode::TOO_MANY_REQUESTS,
        "{what}: {}",
        answer.body
    );
    assert_eq!(
        answer.body["error"]["code"], "too_many_failed_authentications",
        "{what}"
    );
    assert!(
        !answer.body["error"]["message"].as_str().unwrap().is_empty(),
        "{what}"
    );
    let wait = answer.retry_after.expect("429 carries Retry-After");
    assert!(
        (1..=WINDOW_SECS).contains(&wait),
        "{what}: Retry-After {wait}"
    );
}

#[tokio::test]
async fn wrong_token_secrets_are_limited_without_locking_out_the_holder() {
    let temp = tempfile::tempdir().unwrap();
    let dir = data_dir(&temp);
    let tokens = init(&dir);
    let window = WINDOW_SECS.to_string();
    let server = Server::start_with_env(&dir, &[("SEEDNET_SIGN_IN_WINDOW_SECS", &window)]);
    let http = client();
    let admin = tokens.admin_token.clone();

    // Guess at the admin token's secret from one address.
    let mut unauthorized = 0;
    let mut limited = Vec::new();
    for n in 0..GUESSES {
        let answer = list_tokens(&http, &server, &wrong_secret(&admin, n), ATTACKER).await;
        match answer.status {
            StatusCode::UNAUTHORIZED => {
                assert_eq!(answer.body["error"]["code"], "invalid_token");
                assert!(limited.is_empty(), "no 401 after the first 429");
                unauthorized += 1;
            }
            _ => limited.push(answer),
        }
    }
    assert_eq!(
        unauthorized, TOKEN_ID_FAILURES_MAX,
        "only the id's count of wrong secrets is checked and answered 401"
    );
    assert_eq!(limited.len(), GUESSES - TOKEN_ID_FAILURES_MAX);
    for answer in &limited {
        assert_limited(answer, "a wrong secret over the limits");
    }
    let by_scope = |scope: &str| {
        limited
            .iter()
            .filter(|a| a.body["error"]["message"].as_str().unwrap().contains(scope))
            .count()
    };
    assert_eq!(
        by_scope("(token_id)"),
        TOKEN_ADDRESS_FAILURES_MAX - TOKEN_ID_FAILURES_MAX,
        "then the token id's count refuses the wrong secrets"
    );
    assert_eq!(
        by_scope("(address)"),
        GUESSES - TOKEN_ADDRESS_FAILURES_MAX,
        "then the address is refused unchecked"
    );

    // The holder of the token, elsewhere, is not locked out by the full id.
    let answer = list_tokens(&http, &server, &admin, HOLDER).await;
    assert_eq!(answer.status, StatusCode::OK, "{}", answer.body);
    // The guessing address is refused even with the right token...
    let answer = list_tokens(&http, &server, &admin, ATTACKER).await;
    assert_limited(&answer, "the right token from the guessing address");
    // ... until the window passes.
    tokio::time::sleep(Duration::from_secs(WINDOW_SECS) + Duration::from_millis(300)).await;
    let answer = list_tokens(&http, &server, &admin, ATTACKER).await;
    assert_eq!(answer.status, StatusCode::OK, "{}", answer.body);
    // A wrong secret after the window is an ordinary 401 again.
    let answer = list_tokens(&http, &server, &wrong_secret(&admin, 1), ATTACKER).await;
    assert_eq!(answer.status, StatusCode::UNAUTHORIZED, "{}", answer.body);
}
