use crate::helpers::{TestApp, client, error_code};
use reqwest::StatusCode;
use reqwest::header::SET_COOKIE;
use shared::GuestSession;

store_test! {
async fn a_new_guest_gets_a_token_in_the_body_and_an_http_only_cookie() {
    let app = TestApp::spawn().await;
    let response = app
        .http
        .post(app.url("/api/session/guest"))
        .send()
        .await
        .expect("request");
    assert_eq!(response.status(), StatusCode::CREATED);
    let cookie = response
        .headers()
        .get(SET_COOKIE)
        .and_then(|v| v.to_str().ok())
        .expect("a cookie")
        .to_owned();
    let guest: GuestSession = response.json().await.expect("body");
    assert!(cookie.starts_with(&format!("courier_session={}", guest.token)));
    assert!(cookie.contains("HttpOnly"));
    assert!(guest.nick_name.starts_with("Guest-"));
    assert!(guest.token.len() >= 40, "tokens carry 256 random bits");
}
}

store_test! {
async fn the_cookie_alone_identifies_the_guest_on_later_requests() {
    let app = TestApp::spawn().await;
    let browser = reqwest::Client::builder()
        .no_proxy()
        .cookie_store(true)
        .build()
        .expect("client");
    let guest: GuestSession = browser
        .post(app.url("/api/session/guest"))
        .send()
        .await
        .expect("request")
        .json()
        .await
        .expect("body");
    let me: shared::Me = browser
        .get(app.url("/api/me"))
        .send()
        .await
        .expect("request")
        .json()
        .await
        .expect("body");
    assert_eq!(me.uid, guest.uid);
    assert_eq!(me.nick_name, guest.nick_name);
}
}

store_test! {
async fn over_https_the_cookie_works_inside_third_party_iframes() {
    let app = TestApp::spawn_with(|c| c.public_url = Some("https://chat.example.com".into())).await;
    let response = app
        .http
        .post(app.url("/api/session/guest"))
        .send()
        .await
        .expect("request");
    let cookie = response
        .headers()
        .get(SET_COOKIE)
        .and_then(|v| v.to_str().ok())
        .expect("a cookie");
    for attribute in ["HttpOnly", "Secure", "SameSite=None", "Partitioned"] {
        assert!(cookie.contains(attribute), "{cookie} lacks {attribute}");
    }
}
}

store_test! {
async fn two_guests_get_different_uids_and_the_bearer_token_identifies_each() {
    let app = TestApp::spawn().await;
    let a = app.guest().await;
    let b = app.guest().await;
    assert_ne!(a.uid, b.uid);
    assert_eq!(a.me().await.uid, a.uid);
    assert_eq!(b.me().await.uid, b.uid);
}
}

store_test! {
async fn without_a_valid_session_the_api_answers_401_unauthenticated() {
    let app = TestApp::spawn().await;
    let http = client();
    let none = http.get(app.url("/api/me")).send().await.expect("request");
    assert_eq!(
        error_code(none, StatusCode::UNAUTHORIZED).await,
        "unauthenticated"
    );
    let forged = http
        .get(app.url("/api/me"))
        .bearer_auth("not-a-real-token")
        .send()
        .await
        .expect("request");
    assert_eq!(
        error_code(forged, StatusCode::UNAUTHORIZED).await,
        "unauthenticated"
    );
    let bad_cookie = http
        .get(app.url("/api/conversations"))
        .header("cookie", "courier_session=nope")
        .send()
        .await
        .expect("request");
    assert_eq!(
        error_code(bad_cookie, StatusCode::UNAUTHORIZED).await,
        "unauthenticated"
    );
}
}

store_test! {
async fn a_write_from_a_foreign_origin_is_refused_and_creates_nothing() {
    let app = TestApp::spawn().await;
    let a = app.guest().await;
    let b = app.guest().await;
    let response = a
        .post("/api/messages")
        .header("origin", "https://evil.example")
        .json(&serde_json::json!({"to": {"user": b.uid}, "client_msg_id": "x1", "msg_type": "text", "content": "hi"}))
        .send()
        .await
        .expect("request");
    assert_eq!(
        error_code(response, StatusCode::FORBIDDEN).await,
        "forbidden_origin"
    );
    assert!(b.conversations().await.conversations.is_empty());
    // The server's own origin and configured ones are fine.
    let own = a
        .post("/api/messages")
        .header("origin", app.base.clone())
        .json(&serde_json::json!({"to": {"user": b.uid}, "client_msg_id": "x2", "msg_type": "text", "content": "hi"}))
        .send()
        .await
        .expect("request");
    assert_eq!(own.status(), StatusCode::OK);
}
}

/// Every mutating route the HTTP modules declare (`.route("PATH", post(..).delete(..))`), read
/// from their source so that a route added later is covered without editing this list: the
/// method and the path under `/api`, parameters filled with `1`.
fn declared_write_routes() -> Vec<(reqwest::Method, String)> {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("src/http");
    let mut routes = Vec::new();
    for entry in std::fs::read_dir(&dir).expect("src/http") {
        let path = entry.expect("entry").path();
        let source = std::fs::read_to_string(&path).expect("source");
        for declaration in source.split(".route(").skip(1) {
            // The declaration ends where the next item starts.
            let declaration = declaration.split("\n}").next().unwrap_or_default();
            let Some(route) = declaration.split('"').nth(1) else {
                continue;
            };
            let route: String = route
                .split('/')
                .map(|part| if part.starts_with('{') { "1" } else { part })
                .collect::<Vec<_>>()
                .join("/");
            for (name, method) in [
                ("post(", reqwest::Method::POST),
                ("put(", reqwest::Method::PUT),
                ("patch(", reqwest::Method::PATCH),
                ("delete(", reqwest::Method::DELETE),
            ] {
                let declared = declaration.match_indices(name).any(|(at, _)| {
                    at == 0
                        || !declaration[..at].ends_with(|c: char| c.is_alphanumeric() || c == '_')
                });
                if declared {
                    routes.push((method, format!("/api{route}")));
                }
            }
        }
    }
    routes
}

store_test! {
async fn every_declared_write_route_refuses_a_foreign_origin_before_its_handler() {
    let app = TestApp::spawn().await;
    let a = app.guest().await;
    let mut routes = declared_write_routes();
    assert!(routes.len() >= 25, "found only {routes:?}");
    routes.push((reqwest::Method::POST, "/api/no/such/route".to_owned()));
    for (method, path) in &routes {
        let foreign = a
            .http
            .request(method.clone(), a.url(path))
            .bearer_auth(&a.token)
            .header("origin", "https://evil.example")
            .json(&serde_json::json!({}))
            .send()
            .await
            .expect("request");
        assert_eq!(foreign.status(), StatusCode::FORBIDDEN, "{method} {path}");
        assert_eq!(
            error_code(foreign, StatusCode::FORBIDDEN).await,
            "forbidden_origin",
            "{method} {path}"
        );
        // The same request from the server's own page gets past the check (and then fails
        // or succeeds on its merits).
        let own = a
            .http
            .request(method.clone(), a.url(path))
            .bearer_auth(&a.token)
            .header("origin", app.base.clone())
            .json(&serde_json::json!({}))
            .send()
            .await
            .expect("request");
        let own = own.text().await.expect("body");
        assert!(!own.contains("forbidden_origin"), "{method} {path}: {own}");
    }
    // Without Origin, a browser's own word that the request is cross-site is enough.
    let cross_site = a
        .post("/api/messages")
        .header("sec-fetch-site", "cross-site")
        .json(&serde_json::json!({}))
        .send()
        .await
        .expect("request");
    assert_eq!(
        error_code(cross_site, StatusCode::FORBIDDEN).await,
        "forbidden_origin"
    );
    // Reads are not refused: a page elsewhere may not read them anyway (no CORS).
    let read = a
        .get("/api/me")
        .header("origin", "https://evil.example")
        .send()
        .await
        .expect("request");
    assert_eq!(read.status(), StatusCode::OK);
}
}
