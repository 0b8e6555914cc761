//! Router-level tests of the web pages with a scripted backend.
//!
//! These check page behaviour that does not need the real node: the admin
//! page with peers in every state (hard to arrange between real nodes),
//! CSRF and role checks on admin forms. The
//! backend here is a test double and says so; the end-to-end tests in
//! `node/tests/web_*.rs` run against the real node.

use std::sync::{Arc, Mutex};

use axum::body::Body;
use axum::http::{header, Request, StatusCode};
use axum::Router;
use seednet_protocol::testing::test_key;
use seednet_protocol::{CountryCode, LanguageTag, NodeId, RecordContent, RecordKey};
use tower::ServiceExt;

use super::accounts_backend::*;
use super::backend::*;
use super::{router, WebConfig};

/// A scripted backend: fixed peers, records every admin action.
struct ScriptedBackend {
    node_id: NodeId,
    federation: FederationView,
    actions: Mutex<Vec<String>>,
    /// Ids of tokens revoked since the test started.
    revoked: Mutex<Vec<String>>,
}

impl WebBackend for ScriptedBackend {
    fn node_info(&self) -> NodeInfo {
        NodeInfo {
            node_id: self.node_id,
            name: "Test centre".into(),
            country: CountryCode::parse("SI").unwrap(),
            base_url: "https://seed.example.org".into(),
            languages: vec![LanguageTag::parse("sl").unwrap()],
            retired_node_ids: Vec::new(),
        }
    }
    async fn authenticate(
        &self,
        token: &str,
        _client: Option<std::net::IpAddr>,
    ) -> Result<Grant, TokenRefusal> {
        let (role, token_id) = match token {
            "admin-token" => (Role::Admin, "admin"),
            "editor-token" => (Role::Editor, "editor"),
            _ => return Err(TokenRefusal::Unknown),
        };
        let via = Credential::Token {
            id: token_id.into(),
            label: String::new(),
        };
        self.session_role(&via).await.ok_or(TokenRefusal::Unknown)?;
        Ok(Grant { role, via })
    }
    async fn session_role(&self, credential: &Credential) -> Option<Role> {
        let Credential::Token { id, .. } = credential else {
            return None;
        };
        if self
            .revoked
            .lock()
            .unwrap()
            .iter()
            .any(|revoked| revoked == id)
        {
            return None;
        }
        match id.as_str() {
            "admin" => Some(Role::Admin),
            "editor" => Some(Role::Editor),
            _ => None,
        }
    }
    async fn search(&self, _request: SearchRequest) -> Result<SearchResults, SearchFailure> {
        Ok(SearchResults::default())
    }
    async fn record(&self, _key: RecordKey) -> Result<Option<RecordView>, BackendError> {
        Ok(None)
    }
    async fn feed(&self, _query: FeedQuery) -> Result<FeedPage, BackendError> {
        Ok(FeedPage::default())
    }
    async fn harvest(&self, _query: HarvestQuery) -> Result<HarvestPage, BackendError> {
        Ok(HarvestPage::default())
    }
    async fn harvest_record(&self, _key: RecordKey) -> Result<Option<HarvestItem>, BackendError> {
        Ok(None)
    }
    async fn harvest_overview(&self) -> Result<HarvestOverview, BackendError> {
        Ok(HarvestOverview::default())
    }
    async fn live_record_count(&self) -> Result<u64, BackendError> {
        Ok(0)
    }
    async fn record_index(
        &self,
        _after: Option<RecordKey>,
        _limit: usize,
    ) -> Result<RecordIndexPage, BackendError> {
        Ok(RecordIndexPage::default())
    }
    async fn own_records(&self, _limit: usize) -> Result<Vec<RecordSummary>, BackendError> {
        Ok(Vec::new())
    }
    async fn publish(
        &self,
        _actor: &Actor,
        _content: RecordContent,
    ) -> Result<Published, WriteError> {
        Err(WriteError::Backend(BackendError("not scripted".into())))
    }
    async fn update(
        &self,
        _actor: &Actor,
        _key: RecordKey,
        _expected_version: u64,
        _content: RecordContent,
    ) -> Result<Published, WriteError> {
        Err(WriteError::Backend(BackendError("not scripted".into())))
    }
    async fn delete(
        &self,
        _actor: &Actor,
        _key: RecordKey,
        _expected_version: u64,
    ) -> Result<(), WriteError> {
        Err(WriteError::Backend(BackendError("not scripted".into())))
    }
    async fn network(&self) -> Result<NetworkView, BackendError> {
        Ok(NetworkView::default())
    }
    async fn federation(&self) -> Result<FederationView, BackendError> {
        Ok(self.federation.clone())
    }
    async fn admin_action(&self, action: AdminAction) -> Result<(), AdminError> {
        let text = match action {
            AdminAction::ApprovePeer(id) => format!("approve {id}"),
            AdminAction::RevokePeer(id) => format!("revoke {id}"),
            AdminAction::ApproveRotation(id) => format!("approve-rotation {id}"),
            AdminAction::BlockOrigin { origin, reason } => format!("block {origin} {reason:?}"),
            AdminAction::UnblockOrigin(id) => format!("unblock {id}"),
            AdminAction::DismissRequest(id) => format!("dismiss {id}"),
            AdminAction::DismissAllRequests => "dismiss all".to_string(),
        };
        self.actions.lock().unwrap().push(text);
        Ok(())
    }
    async fn peer_identity(&self, _url: String) -> Result<PeerIdentity, AdminError> {
        Err(AdminError::Refused("not scripted".into()))
    }
    async fn add_peer(&self, url: String, expected: NodeId) -> Result<(), AdminError> {
        self.actions
            .lock()
            .unwrap()
            .push(format!("add {url} {expected}"));
        Ok(())
    }
    async fn purge_preview(&self, _node_id: NodeId) -> Result<PurgePreview, AdminError> {
        Err(AdminError::UnknownPeer)
    }
    async fn purge_peer(&self, _node_id: NodeId) -> Result<PurgeSummary, AdminError> {
        Err(AdminError::UnknownPeer)
    }
    async fn repair_peer(&self, _node_id: NodeId) -> Result<RepairView, AdminError> {
        Err(AdminError::UnknownPeer)
    }
}

/// Accounts and tokens are not scripted here: the end-to-end tests in
/// `node/tests/web_browser_accounts.rs` run them against the real node.
impl AccountsBackend for ScriptedBackend {
    async fn sign_in_password(
        &self,
        _username: &str,
        _password: &str,
        _client: Option<std::net::IpAddr>,
    ) -> Result<Grant, PasswordRefusal> {
        Err(PasswordRefusal::Wrong)
    }
    async fn accounts(&self) -> Result<Vec<AccountInfo>, BackendError> {
        Ok(Vec::new())
    }
    async fn create_account(&self, _new: NewAccount) -> Result<AccountInfo, AccountError> {
        Err(AccountError::TooMany { max: 0 })
    }
    async fn change_account(
        &self,
        username: &str,
        _change: AccountChange,
    ) -> Result<AccountInfo, AccountError> {
        Err(AccountError::NotFound {
            username: username.into(),
        })
    }
    async fn delete_account(&self, username: &str) -> Result<(), AccountError> {
        Err(AccountError::NotFound {
            username: username.into(),
        })
    }
    async fn change_own_password(
        &self,
        _username: &str,
        _current: &str,
        _new_password: &str,
    ) -> Result<u64, AccountError> {
        Err(AccountError::WrongCurrentPassword)
    }
    async fn tokens(&self) -> Result<Vec<TokenInfo>, BackendError> {
        Ok(Vec::new())
    }
    async fn create_token(&self, _role: Role, _label: &str) -> Result<NewToken, TokenError> {
        Err(TokenError::TooMany { max: 0 })
    }
    async fn revoke_token(&self, id: &str) -> Result<(), TokenError> {
        Err(TokenError::NotFound { id: id.into() })
    }
    async fn audit_trail(&self, _key: RecordKey) -> Result<Vec<AuditEntry>, BackendError> {
        Ok(Vec::new())
    }
}

fn peer(n: u8, name: &str, state: PeerState) -> PeerView {
    PeerView {
        node_id: test_key(n).node_id(),
        name: name.into(),
        country: CountryCode::parse("GR").unwrap(),
        url: format!("https://peer{n}.example.org"),
        state,
        last_sync: None,
        records_received: 12,
        lag: Some(3),
        last_error: None,
        pending_rotation: None,
        last_repair: None,
        equivocations: 0,
        requested_at: (state == PeerState::Pending)
            .then(|| seednet_protocol::Timestamp::from_unix_seconds(1_767_225_600).unwrap()),
    }
}

fn app() -> (Router, Arc<ScriptedBackend>) {
    let backend = Arc::new(ScriptedBackend {
        node_id: test_key(1).node_id(),
        federation: FederationView::Available {
            peers: vec![
                peer(2, "Κέντρο Ικανοτήτων Ελλάδας", PeerState::Pending),
                PeerView {
                    pending_rotation: Some(test_key(4).node_id()),
                    last_repair: Some(RepairView {
                        finished_at: Some(
                            seednet_protocol::Timestamp::from_unix_seconds(1_767_225_600).unwrap(),
                        ),
                        applied: 7,
                        error: Some("peer unreachable".into()),
                    }),
                    equivocations: 2,
                    ..peer(3, "Centro di competenza Italia", PeerState::Active)
                },
            ],
            blocked: Vec::new(),
        },
        actions: Mutex::new(Vec::new()),
        revoked: Mutex::new(Vec::new()),
    });
    (
        router(
            Arc::clone(&backend),
            WebConfig::for_public_url("https://seed.example.org"),
        ),
        backend,
    )
}

async fn send(app: &Router, request: Request<Body>) -> (StatusCode, Vec<String>, String) {
    let response = app.clone().oneshot(request).await.unwrap();
    let status = response.status();
    let cookies = response
        .headers()
        .get_all(header::SET_COOKIE)
        .iter()
        .map(|v| v.to_str().unwrap().to_string())
        .collect();
    let location = response
        .headers()
        .get(header::LOCATION)
        .map(|v| v.to_str().unwrap().to_string());
    let bytes = axum::body::to_bytes(response.into_body(), 1 << 20)
        .await
        .unwrap();
    let body = location.unwrap_or_else(|| String::from_utf8_lossy(&bytes).into_owned());
    (status, cookies, body)
}

fn csrf_in(html: &str) -> String {
    let marker = "name=\"csrf\" value=\"";
    let start = html.find(marker).expect("csrf field") + marker.len();
    html[start..start + 64].to_string()
}

/// Signs in through the form; returns the session cookie pair.
async fn sign_in(app: &Router, token: &str) -> String {
    let (_, cookies, html) = send(app, Request::get("/signin").body(Body::empty()).unwrap()).await;
    let csrf_cookie = cookies[0].split(';').next().unwrap().to_string();
    let body = format!("csrf={}&token={token}&next=%2F", csrf_in(&html));
    let request = Request::post("/signin")
        .header(header::COOKIE, csrf_cookie)
        .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
        .body(Body::from(body))
        .unwrap();
    let (status, cookies, _) = send(app, request).await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    let session = cookies
        .iter()
        .find(|c| c.starts_with("seednet_session="))
        .expect("session cookie");
    assert!(
        session.contains("Secure"),
        "https public URL: cookies are Secure"
    );
    session.split(';').next().unwrap().to_string()
}

fn get(path: &str, cookie: &str) -> Request<Body> {
    Request::get(path)
        .header(header::COOKIE, cookie)
        .header(header::ACCEPT_LANGUAGE, "en")
        .body(Body::empty())
        .unwrap()
}

fn post(path: &str, cookie: &str, body: String) -> Request<Body> {
    Request::post(path)
        .header(header::COOKIE, cookie)
        .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
        .body(Body::from(body))
        .unwrap()
}

#[tokio::test]
async fn admin_sees_pending_peers_and_approves_with_the_form_token() {
    let (app, backend) = app();
    let session = sign_in(&app, "admin-token").await;
    let (status, _, html) = send(&app, get("/admin", &session)).await;
    assert_eq!(status, StatusCode::OK);
    let pending = test_key(2).node_id().to_hex();
    assert!(html.contains("Κέντρο Ικανοτήτων Ελλάδας"));
    assert!(
        html.contains(&pending),
        "the full node id is shown to check"
    );
    assert!(html.contains(&format!("action=\"/admin/peers/{pending}/approve\"")));
    assert!(html.contains("state-active"));

    // Without the form's token nothing happens.
    let forged = post(
        &format!("/admin/peers/{pending}/approve"),
        &session,
        "csrf=x".into(),
    );
    let (status, _, _) = send(&app, forged).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert!(backend.actions.lock().unwrap().is_empty());

    let body = format!("csrf={}", csrf_in(&html));
    let (status, _, location) = send(
        &app,
        post(&format!("/admin/peers/{pending}/approve"), &session, body),
    )
    .await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    assert_eq!(location, "/admin?notice=done");
    assert_eq!(
        *backend.actions.lock().unwrap(),
        vec![format!("approve {pending}")]
    );
}

#[tokio::test]
async fn admin_dismisses_one_link_request_or_all_of_them() {
    let (app, backend) = app();
    let session = sign_in(&app, "admin-token").await;
    let (_, _, html) = send(&app, get("/admin", &session)).await;
    let pending = test_key(2).node_id().to_hex();
    assert!(html.contains(&format!("action=\"/admin/peers/{pending}/dismiss\"")));
    assert!(
        html.contains("Asked at") && html.contains("2026-01-01"),
        "when the request came is shown"
    );
    assert!(
        html.contains("within 30 days is removed"),
        "the expiry is said"
    );
    let csrf = csrf_in(&html);

    let forged = post("/admin/peers/pending/dismiss", &session, "csrf=x".into());
    assert_eq!(send(&app, forged).await.0, StatusCode::FORBIDDEN);
    assert!(backend.actions.lock().unwrap().is_empty());

    let one = post(
        &format!("/admin/peers/{pending}/dismiss"),
        &session,
        format!("csrf={csrf}"),
    );
    let (status, _, location) = send(&app, one).await;
    assert_eq!(
        (status, location.as_str()),
        (StatusCode::SEE_OTHER, "/admin?notice=done")
    );
    let all = post(
        "/admin/peers/pending/dismiss",
        &session,
        format!("csrf={csrf}"),
    );
    let (status, _, location) = send(&app, all).await;
    assert_eq!(
        (status, location.as_str()),
        (StatusCode::SEE_OTHER, "/admin?notice=done")
    );
    assert_eq!(
        *backend.actions.lock().unwrap(),
        vec![format!("dismiss {pending}"), "dismiss all".to_string()]
    );
}

#[tokio::test]
async fn admin_sees_a_pending_key_rotation_and_approves_it() {
    let (app, backend) = app();
    let session = sign_in(&app, "admin-token").await;
    let (status, _, html) = send(&app, get("/admin", &session)).await;
    assert_eq!(status, StatusCode::OK);
    let peer = test_key(3).node_id().to_hex();
    let new_key = test_key(4).node_id().to_hex();
    assert!(
        html.contains(&new_key),
        "the full new key is shown to check"
    );
    let action = format!("/admin/peers/{peer}/approve-rotation");
    assert!(html.contains(&format!("action=\"{action}\"")));
    let body = format!("csrf={}", csrf_in(&html));
    let (status, _, location) = send(&app, post(&action, &session, body)).await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    assert_eq!(location, "/admin?notice=done");
    assert_eq!(
        *backend.actions.lock().unwrap(),
        vec![format!("approve-rotation {peer}")]
    );
}

#[tokio::test]
async fn admin_sees_the_last_repair_of_a_peer() {
    let (app, _) = app();
    let session = sign_in(&app, "admin-token").await;
    let (status, _, html) = send(&app, get("/admin", &session)).await;
    assert_eq!(status, StatusCode::OK);
    assert!(
        html.contains("Last repair 2026-01-01T00:00:00Z: 7 versions recovered (peer unreachable)"),
        "{html}"
    );
    // A peer that never ran a repair shows none.
    assert_eq!(html.matches("class=\"last-repair\"").count(), 1);
    // Equivocations are shown where they happened, and only there.
    assert!(
        html.contains("2 equivocations refused and kept as evidence"),
        "{html}"
    );
    assert_eq!(html.matches("class=\"equivocations\"").count(), 1);
}

#[tokio::test]
async fn editors_cannot_use_admin_forms() {
    let (app, backend) = app();
    let session = sign_in(&app, "editor-token").await;
    let (status, _, html) = send(&app, get("/admin", &session)).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert!(html.contains("admin token"));
    let (_, _, editor_page) = send(&app, get("/editor", &session)).await;
    let body = format!("csrf={}", csrf_in(&editor_page));
    let target = test_key(2).node_id().to_hex();
    let (status, _, _) = send(
        &app,
        post(&format!("/admin/peers/{target}/approve"), &session, body),
    )
    .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert!(backend.actions.lock().unwrap().is_empty());
}

#[tokio::test]
async fn a_wrong_token_gets_401_and_a_message_in_the_browser_language() {
    let (app, _) = app();
    let (_, cookies, html) = send(&app, Request::get("/signin").body(Body::empty()).unwrap()).await;
    let csrf_cookie = cookies[0].split(';').next().unwrap().to_string();
    let request = Request::post("/signin")
        .header(header::COOKIE, csrf_cookie)
        .header(header::ACCEPT_LANGUAGE, "ro-RO,ro;q=0.9")
        .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
        .body(Body::from(format!(
            "csrf={}&token=nope&next=%2F",
            csrf_in(&html)
        )))
        .unwrap();
    let (status, cookies, html) = send(&app, request).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert!(html.contains("Acest token nu este valid"));
    assert!(!cookies.iter().any(|c| c.starts_with("seednet_session=")));
}

#[tokio::test]
async fn an_origin_filter_with_multibyte_characters_is_shown_not_a_crash() {
    let (app, _) = app();
    // five euro signs: 15 bytes, 5 characters (the label was cut at byte 8)
    let (status, _, html) = send(
        &app,
        get("/?origin=%E2%82%AC%E2%82%AC%E2%82%AC%E2%82%AC%E2%82%AC", ""),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert!(html.contains("€€€€€"), "short values are shown whole");
    let long = "ș".repeat(20);
    let (status, _, html) = send(
        &app,
        get(&format!("/?origin={}", super::pages::url_encode(&long)), ""),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert!(
        html.contains(&format!("{}…", "ș".repeat(8))),
        "long values are cut after 8 characters"
    );
}

#[tokio::test]
async fn revoking_a_token_ends_the_sessions_started_with_it() {
    let (app, backend) = app();
    let editor = sign_in(&app, "editor-token").await;
    let admin = sign_in(&app, "admin-token").await;
    let (status, _, _) = send(&app, get("/editor", &editor)).await;
    assert_eq!(status, StatusCode::OK);
    backend.revoked.lock().unwrap().push("editor".into());
    let (status, _, location) = send(&app, get("/editor", &editor)).await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    assert!(location.starts_with("/signin"), "{location}");
    // the session stays gone, and other tokens' sessions are untouched
    let (status, _, _) = send(&app, get("/editor", &editor)).await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    let (status, _, _) = send(&app, get("/admin", &admin)).await;
    assert_eq!(status, StatusCode::OK);
}

#[tokio::test]
async fn a_record_form_over_the_body_limit_gets_a_page_that_says_so() {
    let (app, _) = app();
    let session = sign_in(&app, "editor-token").await;
    let body = format!("csrf=x&body={}", "a".repeat(super::WEB_FORM_BYTES_MAX));
    let request = Request::post("/editor/new")
        .header(header::COOKIE, &session)
        .header(header::ACCEPT_LANGUAGE, "el")
        .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
        .body(Body::from(body))
        .unwrap();
    let (status, _, html) = send(&app, request).await;
    assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE);
    let max = (super::WEB_FORM_BYTES_MAX / 1024).to_string();
    assert!(
        html.contains("Πολύ μεγάλη φόρμα") && html.contains(&max),
        "{html}"
    );
}
