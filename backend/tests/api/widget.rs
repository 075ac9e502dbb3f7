//! The embeddable widget's server side: framing headers by page, sites signing their users in
//! (`POST /api/session/identify`), and a user's presence (`GET /api/users/{uid}/presence`,
//! `presence_level`).
//!
//! Tokens are signed here with the hmac and sha2 crates directly, not with the server's code,
//! so that these tests check the documented format independently.

use crate::contacts::{befriend, block_raw, patch_me, patch_me_ok};
use crate::helpers::{Guest, TestApp, client, error_code, ok_json};
use backend::config::EmbedOrigins;
use backend::domain::identity::SiteKeys;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use hmac::{Hmac, Mac};
use reqwest::{Response, StatusCode, header};
use serde_json::{Value, json};
use sha2::{Sha256, Sha512};
use shared::contacts::{PresenceLevel, UserPresence};
use shared::{AccountKind, GuestSession, Me, UserId};
use std::time::{Duration, SystemTime, UNIX_EPOCH};
use tempfile::TempDir;

const SITE: &str = "shop";
const SECRET: &str = "shop-secret-0123456789abcdef-0123456789";
const OTHER_SITE: &str = "blog.example";
const OTHER_SECRET: &str = "blog-secret-abcdefghijklmnopqrstuvwxyz";

const INDEX_HTML: &str = "<!doctype html><title>courier test index</title>";
const WIDGET_JS: &str = "/* courier widget loader (test copy) */";
const EMBED_HTML: &str = "<!doctype html><title>courier test embed page</title>";
const WIDGET_HTML: &str = "<!doctype html><title>courier test widget page</title>";

// ---------------------------------------------------------------------------------------------
// Signing, as a site would.

fn b64(bytes: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(bytes)
}

/// `b64(header).b64(claims)` signed with HMAC-SHA256 under `secret`.
fn sign_with(secret: &str, header: &Value, claims: &Value) -> String {
    let signed = format!(
        "{}.{}",
        b64(header.to_string().as_bytes()),
        b64(claims.to_string().as_bytes())
    );
    let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).expect("any key length");
    mac.update(signed.as_bytes());
    format!("{signed}.{}", b64(&mac.finalize().into_bytes()))
}

/// A token of the site `shop`, as its server would make it.
fn sign(claims: &Value) -> String {
    sign_with(SECRET, &json!({"alg": "HS256", "typ": "JWT"}), claims)
}

fn now_secs() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("after 1970")
        .as_secs() as i64
}

/// Claims of the shop's user `sub`, valid for ten minutes.
fn claims(sub: &str) -> Value {
    json!({"iss": SITE, "sub": sub, "exp": now_secs() + 600, "iat": now_secs()})
}

fn site_keys() -> SiteKeys {
    SiteKeys::parse(&format!("{SITE}={SECRET},{OTHER_SITE}={OTHER_SECRET}")).expect("valid keys")
}

async fn spawn_with_sites() -> TestApp {
    TestApp::spawn_with(|c| c.site_keys = site_keys()).await
}

async fn identify_raw(http: &reqwest::Client, app: &TestApp, token: &str) -> Response {
    http.post(app.url("/api/session/identify"))
        .json(&json!({ "token": token }))
        .send()
        .await
        .expect("request")
}

/// Signs in with `token` on a client of its own (a device), expecting success.
async fn identify(app: &TestApp, token: &str) -> Guest {
    let http = client();
    let session: GuestSession = ok_json(identify_raw(&http, app, token).await).await;
    Guest {
        base: app.base.clone(),
        http,
        uid: session.uid,
        token: session.token,
    }
}

async fn identify_code(app: &TestApp, token: &str, status: StatusCode) -> String {
    error_code(identify_raw(&app.http, app, token).await, status).await
}

// ---------------------------------------------------------------------------------------------
// Framing headers.

/// A web client directory with an index page, the widget's page, the embed page and the loader.
fn static_dir() -> TempDir {
    let dir = tempfile::tempdir().expect("temp dir");
    std::fs::write(dir.path().join("index.html"), INDEX_HTML).expect("write index");
    std::fs::write(dir.path().join("widget.html"), WIDGET_HTML).expect("write widget page");
    std::fs::write(dir.path().join("embed.html"), EMBED_HTML).expect("write embed");
    std::fs::write(dir.path().join("widget.js"), WIDGET_JS).expect("write loader");
    dir
}

async fn spawn_serving(web: &TempDir, origins: &str) -> TestApp {
    let web = web.path().to_path_buf();
    let origins = EmbedOrigins::parse(origins).expect("valid origins");
    TestApp::spawn_with(move |c| {
        c.static_dir = web;
        c.embed_origins = origins;
    })
    .await
}

async fn get(app: &TestApp, path: &str) -> Response {
    let response = app.http.get(app.url(path)).send().await.expect("request");
    assert_eq!(response.status(), StatusCode::OK, "{path}");
    response
}

fn header_of(response: &Response, name: header::HeaderName) -> Option<String> {
    response
        .headers()
        .get(name)
        .map(|v| v.to_str().expect("ascii header").to_owned())
}

#[tokio::test]
async fn the_widget_page_may_be_framed_by_the_configured_origins_only() {
    let web = static_dir();
    let app = spawn_serving(&web, "https://shop.example.com, http://127.0.0.1:9999/").await;
    for path in [
        "/widget",
        "/widget?target=u:42&lang=de",
        "/widget/",
        "/widget/deep",
    ] {
        let response = get(&app, path).await;
        assert_eq!(
            header_of(&response, header::CONTENT_SECURITY_POLICY).as_deref(),
            Some("frame-ancestors 'self' https://shop.example.com http://127.0.0.1:9999"),
            "{path}"
        );
        assert_eq!(
            header_of(&response, header::X_FRAME_OPTIONS),
            None,
            "{path}"
        );
        assert_eq!(response.text().await.expect("body"), WIDGET_HTML, "{path}");
    }
}

#[tokio::test]
async fn without_embed_origins_the_widget_page_is_for_courier_itself_and_a_star_opens_it_to_all() {
    let web = static_dir();
    let app = spawn_serving(&web, "").await;
    let response = get(&app, "/widget?target=u:1").await;
    assert_eq!(
        header_of(&response, header::CONTENT_SECURITY_POLICY).as_deref(),
        Some("frame-ancestors 'self'")
    );
    let app = spawn_serving(&web, "*").await;
    let response = get(&app, "/widget?target=u:1").await;
    assert_eq!(
        header_of(&response, header::CONTENT_SECURITY_POLICY).as_deref(),
        Some("frame-ancestors *")
    );
}

#[tokio::test]
async fn every_other_page_may_be_framed_by_courier_itself_only() {
    let web = static_dir();
    let app = spawn_serving(&web, "https://shop.example.com").await;
    // Each with the page it answers: the app's index.html for client-side routes too, never the
    // widget's page.
    for (path, page) in [
        ("/", INDEX_HTML),
        ("/index.html", INDEX_HTML),
        ("/embed.html?target=u:3", EMBED_HTML),
        ("/chats/d1_2", INDEX_HTML),
        ("/widgets", INDEX_HTML),
    ] {
        let response = get(&app, path).await;
        assert_eq!(
            header_of(&response, header::CONTENT_SECURITY_POLICY).as_deref(),
            Some("frame-ancestors 'self'"),
            "{path}"
        );
        assert_eq!(
            header_of(&response, header::X_FRAME_OPTIONS).as_deref(),
            Some("SAMEORIGIN"),
            "{path}"
        );
        assert_eq!(response.text().await.expect("body"), page, "{path}");
    }
}

#[tokio::test]
async fn the_widget_loader_is_javascript_revalidated_on_every_load() {
    let web = static_dir();
    let app = spawn_serving(&web, "https://shop.example.com").await;
    let response = get(&app, "/widget.js").await;
    assert_eq!(
        header_of(&response, header::CACHE_CONTROL).as_deref(),
        Some("no-cache")
    );
    let content_type = header_of(&response, header::CONTENT_TYPE).expect("a content type");
    assert!(
        content_type.starts_with("text/javascript"),
        "{content_type}"
    );
    assert_eq!(response.text().await.expect("body"), WIDGET_JS);
}

#[tokio::test]
async fn api_answers_carry_no_framing_headers() {
    let web = static_dir();
    let app = spawn_serving(&web, "https://shop.example.com").await;
    let guest = app.guest().await;
    let response = guest.get("/api/me").send().await.expect("request");
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(header_of(&response, header::CONTENT_SECURITY_POLICY), None);
    assert_eq!(header_of(&response, header::X_FRAME_OPTIONS), None);
    assert_eq!(
        header_of(&response, header::CACHE_CONTROL).as_deref(),
        Some("no-store")
    );
}

// ---------------------------------------------------------------------------------------------
// Signed identify.

store_test! {
    async fn a_valid_identity_token_signs_the_site_user_in_with_a_session_cookie() {
        let app = spawn_with_sites().await;
        let mut claims = claims("customer-17");
        claims["name"] = json!("  Ada Lovelace ");
        let response = identify_raw(&app.http, &app, &sign(&claims)).await;
        assert_eq!(response.status(), StatusCode::OK);
        let cookie = header_of(&response, header::SET_COOKIE).expect("a session cookie");
        let session: GuestSession = response.json().await.expect("a session");
        assert_eq!(
            cookie,
            format!(
                "courier_session={}; Path=/; Max-Age=31536000; HttpOnly; SameSite=Lax",
                session.token
            )
        );
        assert_eq!(session.nick_name, "Ada Lovelace");

        // The cookie alone authenticates, as for a guest.
        let me: Me = ok_json(
            app.http
                .get(app.url("/api/me"))
                .header("cookie", format!("courier_session={}", session.token))
                .send()
                .await
                .expect("request"),
        )
        .await;
        assert_eq!(me.uid, session.uid);
        assert_eq!(me.kind, AccountKind::SiteUser);
        assert_eq!(me.nick_name, "Ada Lovelace");
        // Guests stay guests.
        assert_eq!(app.guest().await.me().await.kind, AccountKind::Guest);
    }
}

store_test! {
    async fn the_same_site_user_keeps_one_uid_on_every_device() {
        let app = spawn_with_sites().await;
        let phone = identify(&app, &sign(&claims("customer-17"))).await;
        let laptop = identify(&app, &sign(&claims("customer-17"))).await;
        assert_eq!(phone.uid, laptop.uid);
        assert_ne!(phone.token, laptop.token, "each device has its own session");
        // Both sessions work, and a message sent from one is in the other's history.
        let staff = app.guest().await;
        let ack = phone.send(staff.uid, "m1", "hello from the phone").await;
        assert_eq!(phone.me().await.uid, laptop.me().await.uid);
        let history = laptop.history(&ack.conversation, "").await;
        assert_eq!(history.messages.len(), 1);
        assert_eq!(history.messages[0].content, "hello from the phone");

        // Another user of the site, and the same user id at another site, are other users.
        let other_user = identify(&app, &sign(&claims("customer-18"))).await;
        assert_ne!(other_user.uid, phone.uid);
        let mut elsewhere = claims("customer-17");
        elsewhere["iss"] = json!(OTHER_SITE);
        let other_site = identify(
            &app,
            &sign_with(OTHER_SECRET, &json!({"alg": "HS256"}), &elsewhere),
        )
        .await;
        assert_ne!(other_site.uid, phone.uid);
        assert_ne!(other_site.uid, other_user.uid);
    }
}

store_test! {
    async fn a_new_name_in_the_token_becomes_the_nick_and_no_name_keeps_it() {
        let app = spawn_with_sites().await;
        let mut named = claims("customer-17");
        named["name"] = json!("Ada");
        let first = identify(&app, &sign(&named)).await;
        let before = first.me().await;
        assert_eq!(before.nick_name, "Ada");

        named["name"] = json!("Ada L.");
        let second = identify(&app, &sign(&named)).await;
        assert_eq!(second.uid, first.uid);
        let after = first.me().await;
        assert_eq!(after.nick_name, "Ada L.");
        assert!(after.time > before.time, "the profile time moves forward");

        let unnamed = identify(&app, &sign(&claims("customer-17"))).await;
        assert_eq!(unnamed.me().await.nick_name, "Ada L.");
        assert_eq!(unnamed.me().await.time, after.time);

        // Without a name a new site user gets a generated nick.
        let anonymous = identify(&app, &sign(&claims("customer-99"))).await;
        assert!(!anonymous.me().await.nick_name.trim().is_empty());
    }
}

store_test! {
    async fn refused_identity_tokens_answer_identity_invalid_and_write_nothing() {
        let app = spawn_with_sites().await;
        let mut named = claims("customer-17");
        named["name"] = json!("Ada");
        let ada = identify(&app, &sign(&named)).await;
        let ada_before = ada.me().await;
        let first = app.guest().await;

        let good = sign(&named);
        let parts: Vec<&str> = good.split('.').collect();
        let mut forged_claims = named.clone();
        forged_claims["name"] = json!("Mallory");
        let forged = format!(
            "{}.{}.{}",
            parts[0],
            b64(forged_claims.to_string().as_bytes()),
            parts[2]
        );
        let hs512 = {
            let header = json!({"alg": "HS512", "typ": "JWT"});
            let signed = format!(
                "{}.{}",
                b64(header.to_string().as_bytes()),
                b64(forged_claims.to_string().as_bytes())
            );
            let mut mac = Hmac::<Sha512>::new_from_slice(SECRET.as_bytes()).expect("key");
            mac.update(signed.as_bytes());
            format!("{signed}.{}", b64(&mac.finalize().into_bytes()))
        };
        let unsigned = format!(
            "{}.{}.",
            b64(br#"{"alg":"none","typ":"JWT"}"#),
            b64(forged_claims.to_string().as_bytes())
        );
        let none_signed = sign_with(SECRET, &json!({"alg": "none"}), &forged_claims);
        let mut unknown_site = forged_claims.clone();
        unknown_site["iss"] = json!("unknown-site");
        let mut no_exp = forged_claims.clone();
        no_exp.as_object_mut().expect("object").remove("exp");
        let mut no_sub = forged_claims.clone();
        no_sub.as_object_mut().expect("object").remove("sub");
        let bad_json = format!("{}.{}.{}", parts[0], b64(b"{\"iss\": \"shop\""), parts[2]);
        let cases = [
            ("a changed claim under the original signature", forged),
            ("signed with another secret", sign_with(OTHER_SECRET, &json!({"alg": "HS256"}), &forged_claims)),
            ("signed with another site's secret for this site", sign_with(OTHER_SECRET, &json!({"alg": "HS256"}), &named)),
            ("alg HS512", hs512),
            ("alg none, no signature", unsigned),
            ("alg none, signed anyway", none_signed),
            ("an unknown site", sign(&unknown_site)),
            ("no exp", sign(&no_exp)),
            ("no sub", sign(&no_sub)),
            ("two parts", format!("{}.{}", parts[0], parts[1])),
            ("four parts", format!("{good}.{}", parts[2])),
            ("bad base64", format!("{}.{}!.{}", parts[0], parts[1], parts[2])),
            ("padded base64", format!("{}.{}.{}=", parts[0], parts[1], parts[2])),
            ("bad JSON", bad_json),
            ("empty", String::new()),
        ];
        for (what, token) in cases {
            assert_eq!(
                identify_code(&app, &token, StatusCode::UNAUTHORIZED).await,
                "identity_invalid",
                "{what}"
            );
        }
        // A body that is not an identify request is bad JSON, not a bad token.
        for body in [json!({}), json!({"token": 5})] {
            let response = app
                .http
                .post(app.url("/api/session/identify"))
                .json(&body)
                .send()
                .await
                .expect("request");
            assert_eq!(error_code(response, StatusCode::BAD_REQUEST).await, "invalid_json");
        }

        // Nothing was written: no user was created in between (uids are handed out in order),
        // and Ada's nick is still hers.
        let next = app.guest().await;
        assert_eq!(next.uid, UserId(first.uid.0 + 1));
        assert_eq!(ada.me().await, ada_before);
    }
}

store_test! {
    async fn an_expired_token_is_refused_as_expired_with_thirty_seconds_of_leeway() {
        let app = spawn_with_sites().await;
        let first = app.guest().await;
        let mut expired = claims("customer-17");
        expired["exp"] = json!(now_secs() - 120);
        assert_eq!(
            identify_code(&app, &sign(&expired), StatusCode::UNAUTHORIZED).await,
            "identity_expired"
        );
        expired["exp"] = json!(now_secs() - 45);
        assert_eq!(
            identify_code(&app, &sign(&expired), StatusCode::UNAUTHORIZED).await,
            "identity_expired"
        );
        let next = app.guest().await;
        assert_eq!(next.uid, UserId(first.uid.0 + 1), "nothing was written");

        // Ten seconds past exp is within the leeway (clocks of site and server differ).
        let mut skewed = claims("customer-17");
        skewed["exp"] = json!(now_secs() - 10);
        let user = identify(&app, &sign(&skewed)).await;
        assert_eq!(user.me().await.kind, AccountKind::SiteUser);
    }
}

store_test! {
    async fn an_identify_from_a_foreign_origin_is_refused_and_creates_nothing() {
        let app = spawn_with_sites().await;
        let first = app.guest().await;
        let response = app
            .http
            .post(app.url("/api/session/identify"))
            .header("origin", "https://evil.example")
            .json(&json!({ "token": sign(&claims("customer-17")) }))
            .send()
            .await
            .expect("request");
        assert_eq!(
            error_code(response, StatusCode::FORBIDDEN).await,
            "forbidden_origin"
        );
        let next = app.guest().await;
        assert_eq!(next.uid, UserId(first.uid.0 + 1), "nothing was written");
        // From the server's own origin it works.
        let response = app
            .http
            .post(app.url("/api/session/identify"))
            .header("origin", app.base.clone())
            .json(&json!({ "token": sign(&claims("customer-17")) }))
            .send()
            .await
            .expect("request");
        assert_eq!(response.status(), StatusCode::OK);
    }
}

store_test! {
    async fn concurrent_first_identifies_of_one_site_user_make_one_uid() {
        let app = spawn_with_sites().await;
        let token = sign(&claims("brand-new-customer"));
        let attempts = (0..10).map(|_| async {
            let http = client();
            let response = identify_raw(&http, &app, &token).await;
            let session: GuestSession = ok_json(response).await;
            session.uid
        });
        let uids = futures::future::join_all(attempts).await;
        assert!(uids.iter().all(|uid| *uid == uids[0]), "{uids:?}");
        let again = identify(&app, &token).await;
        assert_eq!(again.uid, uids[0]);
    }
}

// ---------------------------------------------------------------------------------------------
// Presence of one user.

async fn presence_raw(viewer: &Guest, uid: UserId) -> Response {
    viewer
        .get(&format!("/api/users/{uid}/presence"))
        .send()
        .await
        .expect("request")
}

async fn presence(viewer: &Guest, uid: UserId) -> UserPresence {
    let presence: UserPresence = ok_json(presence_raw(viewer, uid).await).await;
    assert_eq!(presence.uid, uid);
    presence
}

/// Asks until `viewer` sees `uid`'s presence as `online` (or `within` passes).
async fn wait_for_presence(viewer: &Guest, uid: UserId, online: bool, within: Duration) -> bool {
    let deadline = tokio::time::Instant::now() + within;
    loop {
        if presence(viewer, uid).await.online == online {
            return true;
        }
        if tokio::time::Instant::now() > deadline {
            return false;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
}

store_test! {
    async fn presence_is_for_friends_only_by_default() {
        let app = TestApp::spawn().await;
        let (owner, friend, stranger) = (app.guest().await, app.guest().await, app.guest().await);
        befriend(&friend, &owner).await;
        assert_eq!(owner.me().await.presence_level, PresenceLevel::Friends);
        assert_eq!(
            error_code(presence_raw(&stranger, owner.uid).await, StatusCode::FORBIDDEN).await,
            "forbidden_by_privacy"
        );
        // Nobody polled yet: visible, and offline.
        assert!(!presence(&friend, owner.uid).await.online);
        assert!(!presence(&owner, owner.uid).await.online);
        // The owner always sees their own.
        let _ = owner.poll(owner.me().await.cursor, 0.0).await;
        assert!(wait_for_presence(&owner, owner.uid, true, Duration::from_secs(3)).await);
        assert_eq!(
            error_code(presence_raw(&stranger, owner.uid).await, StatusCode::FORBIDDEN).await,
            "forbidden_by_privacy"
        );
    }
}

store_test! {
    async fn with_presence_level_everyone_anyone_sees_online_while_a_poll_is_parked_and_offline_after_the_grace() {
        let app = TestApp::spawn_with(|c| c.presence_grace = Duration::from_millis(300)).await;
        let (owner, friend, stranger) = (app.guest().await, app.guest().await, app.guest().await);
        befriend(&friend, &owner).await;
        let me = patch_me_ok(&owner, json!({"presence_level": "everyone"})).await;
        assert_eq!(me.presence_level, PresenceLevel::Everyone);
        assert!(!presence(&stranger, owner.uid).await.online);

        // The owner parks a poll (nothing arrives: it waits its whole timeout).
        let cursor = owner.me().await.cursor;
        let parked = {
            let owner = owner.clone();
            tokio::spawn(async move { owner.poll(cursor, 4.0).await })
        };
        assert!(
            wait_for_presence(&stranger, owner.uid, true, Duration::from_secs(3)).await,
            "the stranger sees the owner online while the poll is parked"
        );
        assert!(presence(&friend, owner.uid).await.online);
        assert!(presence(&owner, owner.uid).await.online);
        assert!(!parked.is_finished(), "still parked while seen online");

        // The poll ends and no other follows: offline once the grace has run out.
        let batch = parked.await.expect("poll task");
        assert!(batch.events.is_empty());
        assert!(
            wait_for_presence(&stranger, owner.uid, false, Duration::from_secs(10)).await,
            "the stranger sees the owner go offline after the grace"
        );
        assert!(!presence(&friend, owner.uid).await.online);
    }
}

store_test! {
    async fn someone_the_user_blocked_never_sees_their_presence_and_unknown_users_are_404() {
        let app = TestApp::spawn().await;
        let (owner, blocked, other) = (app.guest().await, app.guest().await, app.guest().await);
        befriend(&blocked, &owner).await;
        patch_me_ok(&owner, json!({"presence_level": "everyone"})).await;
        assert_eq!(presence(&blocked, owner.uid).await.uid, owner.uid);
        let response = block_raw(&owner, blocked.uid).await;
        assert_eq!(response.status(), StatusCode::NO_CONTENT);
        assert_eq!(
            error_code(presence_raw(&blocked, owner.uid).await, StatusCode::FORBIDDEN).await,
            "forbidden_by_privacy"
        );
        // Others still see it; the blocker still sees the one they blocked (friends-only, so
        // refused: they are not friends any more).
        assert_eq!(presence(&other, owner.uid).await.uid, owner.uid);
        assert_eq!(
            error_code(presence_raw(&owner, blocked.uid).await, StatusCode::FORBIDDEN).await,
            "forbidden_by_privacy"
        );
        assert_eq!(
            error_code(presence_raw(&other, UserId(owner.uid.0 + 1000)).await, StatusCode::NOT_FOUND).await,
            "unknown_user"
        );
        // Without a session: 401, as everywhere.
        let response = app
            .http
            .get(app.url(&format!("/api/users/{}/presence", owner.uid)))
            .send()
            .await
            .expect("request");
        assert_eq!(error_code(response, StatusCode::UNAUTHORIZED).await, "unauthenticated");
    }
}

store_test! {
    async fn presence_level_round_trips_through_patch_me_and_refuses_unknown_values() {
        let app = TestApp::spawn().await;
        let owner = app.guest().await;
        let before = owner.me().await;
        assert_eq!(before.presence_level, PresenceLevel::Friends);

        let changed = patch_me_ok(&owner, json!({"presence_level": "everyone"})).await;
        assert_eq!(changed.presence_level, PresenceLevel::Everyone);
        assert!(changed.time > before.time, "a privacy change moves the profile time");
        let raw: Value = owner.get_ok("/api/me").await;
        assert_eq!(raw["presence_level"], "everyone");

        let response = patch_me(&owner, json!({"presence_level": "sometimes"})).await;
        assert_eq!(error_code(response, StatusCode::BAD_REQUEST).await, "invalid_json");
        assert_eq!(owner.me().await.presence_level, PresenceLevel::Everyone);

        let back = patch_me_ok(&owner, json!({"presence_level": "friends"})).await;
        assert_eq!(back.presence_level, PresenceLevel::Friends);
        assert_eq!(owner.me().await.presence_level, PresenceLevel::Friends);
    }
}
