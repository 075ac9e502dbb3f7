//! The embeddable widget end to end in headless Chromium, across two origins on loopback: a
//! shop's page on `http://127.0.0.1:P1` (a tiny axum server in the test) embeds the widget from
//! Courier on `http://localhost:P2` (the real server, in-process). Staff use the full app.
//!
//! Needs the built client in `dist/` (scripts/build-frontend.sh, which also copies `widget.js`)
//! and Debian's `/usr/bin/chromium`. Without them the tests say they were skipped, unless
//! `COURIER_REQUIRE_BROWSER=1`, which turns a missing piece into a failure.
//!
//! The guest's browser runs without site isolation, so the cross-origin widget frame lives in the
//! page's renderer and the test reaches it over the DevTools protocol (`Page.getFrameTree`, an
//! isolated world for the frame's DOM, `DOM.resolveNode` for its main world).

use axum::Router;
use axum::extract::{Query, State};
use axum::response::Html;
use axum::routing::get;
use backend::Config;
use base64::Engine;
use clap::Parser;
use common::{Person, WAIT, click, js, message_visible, snapshot};
use headless_chrome::Tab;
use headless_chrome::protocol::cdp::{DOM, Page, Runtime};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

mod common;

/// The shop's site id and secret for signed identify (`--site-keys shop=...`).
const SITE: &str = "shop";
const SECRET: &str = "the-shop-secret-for-signing-identities-0123456789";
const GREETING: &str = "Hello! Ask us anything.";

/// Returns false (and says why) when the browser tests cannot run here.
fn prerequisites_present() -> bool {
    common::prerequisites_present("widget browser test", &["frontend_bg.wasm", "widget.js"])
}

// ---------------------------------------------------------------------------------------------
// The two servers

/// The shop (P1) and Courier (P2), in one runtime of their own.
struct Sites {
    /// `http://127.0.0.1:P1`: allowed to embed the widget.
    shop: String,
    /// `http://localhost:P1`: the same server under another origin, not allowed to embed.
    other_shop: String,
    /// `http://localhost:P2`: Courier as browsers reach it.
    courier: String,
    runtime: tokio::runtime::Runtime,
    _dir: tempfile::TempDir,
}

#[derive(Clone)]
struct ShopState {
    port: u16,
}

/// `/host.html?courier=ORIGIN&target=u:UID[&evil=1]`: a shop page with the widget snippet. It logs
/// every postMessage it receives (`window.hostLog`) and every widget event (`window.apiEvents`,
/// through `window.courierQueue`, so the replay of early calls is exercised too). With `evil=1`
/// it also holds a frame from a third origin (`http://localhost:P1/evil.html`).
async fn host_page(
    State(state): State<ShopState>,
    Query(query): Query<HashMap<String, String>>,
) -> Html<String> {
    let courier = query.get("courier").cloned().unwrap_or_default();
    let target = query.get("target").cloned().unwrap_or_default();
    let evil = if query.get("evil").is_some_and(|v| v == "1") {
        format!(
            r#"<iframe id="evil" title="ads" src="http://localhost:{}/evil.html" style="width:320px;height:80px;border:1px solid #ccc"></iframe>"#,
            state.port
        )
    } else {
        String::new()
    };
    Html(format!(
        r##"<!doctype html>
<html lang="en">
<head><meta charset="utf-8"><title>Shop</title><link rel="icon" href="data:,"></head>
<body>
<h1>The shop</h1>
<p>Products and prices.</p>
{evil}
<script>
window.hostLog = [];
window.addEventListener("message", function (e) {{
  var frame = document.getElementById("courier-frame");
  var d = e.data;
  window.hostLog.push({{
    origin: e.origin,
    fromWidget: !!frame && e.source === frame.contentWindow,
    type: d && typeof d === "object" ? d.type : null,
    data: d
  }});
}});
window.widgetMessages = function (type) {{
  return window.hostLog.filter(function (m) {{ return m.fromWidget && m.type === type; }});
}};
// Whether an element takes space on screen (fixed elements have no offsetParent).
window.shown = function (el) {{
  return !!el && el.getClientRects().length > 0 && getComputedStyle(el).visibility !== "hidden";
}};
window.apiEvents = [];
window.courierQueue = [];
["ready", "unread", "open", "close", "identified", "identify_failed"].forEach(function (name) {{
  window.courierQueue.push(["on", name, function (detail) {{ window.apiEvents.push([name, detail]); }}]);
}});
</script>
<script src="{courier}/widget.js" data-target="{target}" data-greeting="{GREETING}" data-title="Shop support" data-color="#1e9e5a" async></script>
</body>
</html>
"##
    ))
}

/// A third party's frame inside the shop's page; the test drives it over the DevTools protocol.
async fn evil_page() -> Html<&'static str> {
    Html(
        r#"<!doctype html><html><head><meta charset="utf-8"><link rel="icon" href="data:,"></head><body><p>Advertisement</p></body></html>"#,
    )
}

/// Starts the shop and Courier. Courier lets `embed_origins` (defaults to the shop) embed the
/// widget and knows the shop's site key.
fn start_sites() -> Sites {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    let listener = runtime
        .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
        .expect("shop listens");
    let port = listener.local_addr().expect("shop address").port();
    let shop_app = Router::new()
        .route("/host.html", get(host_page))
        .route("/evil.html", get(evil_page))
        .with_state(ShopState { port });
    runtime.spawn(async move { axum::serve(listener, shop_app).await });
    let shop = format!("http://127.0.0.1:{port}");

    let dir = tempfile::tempdir().expect("temp dir");
    // The widget's options as an operator writes them (whatever types they parse into).
    let mut config = Config::try_parse_from([
        "courier".to_owned(),
        "--embed-origins".to_owned(),
        shop.clone(),
        "--site-keys".to_owned(),
        format!("{SITE}={SECRET}"),
    ])
    .expect("the widget options parse");
    config.data_dir = dir.path().to_path_buf();
    let courier = format!("http://localhost:{}", common::serve(&runtime, config));
    Sites {
        shop,
        other_shop: format!("http://localhost:{port}"),
        courier,
        runtime,
        _dir: dir,
    }
}

impl Sites {
    /// The shop's page on `origin`, embedding the widget that talks to `target`.
    fn host_url(&self, origin: &str, target: &str, evil: bool) -> String {
        format!(
            "{origin}/host.html?courier={}&target={target}{}",
            self.courier,
            if evil { "&evil=1" } else { "" }
        )
    }

    /// A staff account made over HTTP (for tests that do not need a staff browser): its uid.
    fn staff_uid(&self) -> i64 {
        let url = format!("{}/api/session/guest", self.courier);
        let body: Value = self.runtime.block_on(async {
            reqwest::Client::new()
                .post(url)
                .send()
                .await
                .expect("guest request")
                .error_for_status()
                .expect("guest created")
                .json()
                .await
                .expect("guest body")
        });
        body["uid"].as_i64().expect("a uid")
    }
}

// ---------------------------------------------------------------------------------------------
// Signed identify tokens (HS256 JWT), made here from first principles

fn hmac_sha256(key: &[u8], message: &[u8]) -> [u8; 32] {
    let mut block = [0u8; 64];
    if key.len() > 64 {
        block[..32].copy_from_slice(&Sha256::digest(key));
    } else {
        block[..key.len()].copy_from_slice(key);
    }
    let pad = |byte: u8| block.iter().map(|b| b ^ byte).collect::<Vec<u8>>();
    let inner = Sha256::new()
        .chain_update(pad(0x36))
        .chain_update(message)
        .finalize();
    Sha256::new()
        .chain_update(pad(0x5c))
        .chain_update(inner)
        .finalize()
        .into()
}

fn now_secs() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("clock after 1970")
        .as_secs() as i64
}

/// A token for the site user `sub`, valid for `valid_for` seconds (negative: already expired),
/// signed with `secret`.
fn identity_token(secret: &str, sub: &str, name: &str, valid_for: i64) -> String {
    let b64 = |bytes: &[u8]| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes);
    let header = b64(br#"{"alg":"HS256","typ":"JWT"}"#);
    let now = now_secs();
    let claims = json!({"iss": SITE, "sub": sub, "name": name, "iat": now, "exp": now + valid_for});
    let claims = b64(claims.to_string().as_bytes());
    let signing_input = format!("{header}.{claims}");
    let signature = b64(&hmac_sha256(secret.as_bytes(), signing_input.as_bytes()));
    format!("{signing_input}.{signature}")
}

#[test]
fn hmac_matches_rfc_4231() {
    // RFC 4231, test case 2.
    assert_eq!(
        hex::encode(hmac_sha256(b"Jefe", b"what do ya want for nothing?")),
        "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
    );
    // Test case 6: a key longer than the block.
    assert_eq!(
        hex::encode(hmac_sha256(
            &[0xaa; 131],
            b"Test Using Larger Than Block-Size Key - Hash Key First"
        )),
        "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54"
    );
}

// ---------------------------------------------------------------------------------------------
// Browsers

/// One person: a browser with a profile of its own. Site isolation is off, so cross-origin
/// frames share the page's renderer and the DevTools session of the tab reaches them.
fn person() -> Person {
    common::person_with(&[
        "--disable-site-isolation-trials",
        // The last --disable-features wins: repeat headless_chrome's own.
        "--disable-features=TranslateUI,BlinkGenPropertyTrees,IsolateOrigins,site-per-process",
    ])
}

fn open(tab: &Tab, url: &str) {
    tab.navigate_to(url)
        .unwrap_or_else(|e| panic!("navigate to {url}: {e}"))
        .wait_until_navigated()
        .unwrap_or_else(|e| panic!("{url} loads: {e}"));
}

/// The value of a JavaScript expression in the page's main world (None on an exception).
fn eval(tab: &Tab, expression: &str) -> Option<Value> {
    let method: Runtime::Evaluate = serde_json::from_value(json!({
        "expression": expression,
        "returnByValue": true,
        "awaitPromise": true,
    }))
    .expect("an Evaluate call");
    let answer = tab.call_method(method).ok()?;
    if answer.exception_details.is_some() {
        return None;
    }
    answer.result.value
}

fn eval_string(tab: &Tab, expression: &str) -> String {
    match eval(tab, expression) {
        Some(Value::String(s)) => s,
        Some(other) => other.to_string(),
        None => String::new(),
    }
}

fn page_text(tab: &Tab) -> String {
    eval_string(tab, "document.body ? document.body.innerText : ''")
}

/// Polls `check` every 25 ms until it is true; on timeout panics with `context()` (page texts).
fn poll(what: &str, mut check: impl FnMut() -> bool, context: impl Fn() -> String) {
    let deadline = Instant::now() + WAIT;
    while !check() {
        if Instant::now() > deadline {
            panic!("timed out waiting for {what}\n{}", context());
        }
        std::thread::sleep(Duration::from_millis(25));
    }
}

/// Every frame of the tab, depth first (the main frame first).
fn frames(tab: &Tab) -> Vec<Page::Frame> {
    fn walk(tree: Page::FrameTree, out: &mut Vec<Page::Frame>) {
        out.push(tree.frame);
        for child in tree.child_frames.unwrap_or_default() {
            walk(child, out);
        }
    }
    let mut out = Vec::new();
    if let Ok(answer) = tab.call_method(Page::GetFrameTree(None)) {
        walk(answer.frame_tree, &mut out);
    }
    out
}

/// The id of the first child frame whose document comes from `origin`.
fn frame_id(tab: &Tab, origin: &str) -> Option<String> {
    frames(tab)
        .into_iter()
        .skip(1)
        .find(|f| f.security_origin == origin)
        .map(|f| f.id)
}

/// What the test holds in a frame: an isolated world and the main world's `document`. Both die
/// with the frame's document (a reload, a navigation); a failing call then finds them anew.
#[derive(Clone, Default)]
struct FrameHandles {
    world: Option<u32>,
    main_document: Option<String>,
}

/// Per (tab, frame origin). Every DevTools call through headless_chrome costs about 100 ms (its
/// socket reader polls), so the handles are kept between polls.
static HANDLES: Mutex<Option<HashMap<(String, String), FrameHandles>>> = Mutex::new(None);

fn handles(tab: &Tab, origin: &str) -> FrameHandles {
    let key = (tab.get_target_id().clone(), origin.to_owned());
    let map = HANDLES.lock().unwrap_or_else(|e| e.into_inner());
    map.as_ref()
        .and_then(|m| m.get(&key).cloned())
        .unwrap_or_default()
}

fn set_handles(tab: &Tab, origin: &str, handles: FrameHandles) {
    let key = (tab.get_target_id().clone(), origin.to_owned());
    let mut map = HANDLES.lock().unwrap_or_else(|e| e.into_inner());
    map.get_or_insert_with(HashMap::new).insert(key, handles);
}

/// An isolated world in the frame from `origin` (its DOM, not its page's globals).
fn frame_world(tab: &Tab, origin: &str, fresh: bool) -> Option<u32> {
    if let Some(world) = handles(tab, origin).world.filter(|_| !fresh) {
        return Some(world);
    }
    let frame_id = frame_id(tab, origin)?;
    let world = tab
        .call_method(Page::CreateIsolatedWorld {
            frame_id,
            world_name: Some("courier-test".to_owned()),
            grant_univeral_access: None,
        })
        .ok()?
        .execution_context_id;
    set_handles(
        tab,
        origin,
        FrameHandles {
            world: Some(world),
            main_document: None,
        },
    );
    Some(world)
}

/// Evaluates `expression` (promises awaited) in an isolated world of the frame from `origin`.
/// None when there is no such frame or the expression throws.
fn frame_eval(tab: &Tab, origin: &str, expression: &str) -> Option<Value> {
    for fresh in [false, true] {
        let Some(context) = frame_world(tab, origin, fresh) else {
            continue;
        };
        let method: Runtime::Evaluate = serde_json::from_value(json!({
            "expression": expression,
            "contextId": context,
            "returnByValue": true,
            "awaitPromise": true,
        }))
        .expect("an Evaluate call");
        match tab.call_method(method) {
            // The world is gone with its document: find the frame again.
            Err(_) => continue,
            Ok(answer) if answer.exception_details.is_some() => return None,
            Ok(answer) => return answer.result.value,
        }
    }
    None
}

/// The frame's `document` in its main world: the isolated world's `document`, resolved by the
/// DOM agent (which resolves into the main world when no context is named).
fn main_document(tab: &Tab, origin: &str) -> Option<String> {
    let context = frame_world(tab, origin, true)?;
    let method: Runtime::Evaluate = serde_json::from_value(json!({
        "expression": "document",
        "contextId": context,
    }))
    .expect("an Evaluate call");
    let document = tab.call_method(method).ok()?.result.object_id?;
    let node = tab
        .call_method(DOM::DescribeNode {
            node_id: None,
            backend_node_id: None,
            object_id: Some(document),
            depth: None,
            pierce: None,
        })
        .ok()?
        .node;
    let main = tab
        .call_method(DOM::ResolveNode {
            node_id: None,
            backend_node_id: Some(node.backend_node_id),
            object_group: None,
            execution_context_id: None,
        })
        .ok()?
        .object
        .object_id?;
    set_handles(
        tab,
        origin,
        FrameHandles {
            world: Some(context),
            main_document: Some(main.clone()),
        },
    );
    Some(main)
}

/// Evaluates `expression` in the main world of the frame from `origin`, where the app's
/// globals (such as `window.courierWidget`) live.
fn frame_main_eval(tab: &Tab, origin: &str, expression: &str) -> Option<Value> {
    for fresh in [false, true] {
        let cached = if fresh {
            None
        } else {
            handles(tab, origin).main_document
        };
        let Some(document) = cached.or_else(|| main_document(tab, origin)) else {
            continue;
        };
        let method: Runtime::CallFunctionOn = serde_json::from_value(json!({
            "functionDeclaration": format!("function () {{ return ({expression}); }}"),
            "objectId": document,
            "returnByValue": true,
            "awaitPromise": true,
        }))
        .expect("a CallFunctionOn call");
        match tab.call_method(method) {
            Err(_) => continue,
            Ok(answer) if answer.exception_details.is_some() => return None,
            Ok(answer) => return answer.result.value,
        }
    }
    None
}

/// The host page's and the widget frame's texts, for failure messages.
fn both_texts(tab: &Tab, courier: &str) -> String {
    let frame = frame_eval(tab, courier, "document.body ? document.body.innerText : ''")
        .and_then(|v| v.as_str().map(str::to_owned))
        .unwrap_or_else(|| "(no widget frame)".to_owned());
    let log = eval_string(
        tab,
        "JSON.stringify(window.hostLog && window.hostLog.map(function (m) { return [m.origin, m.fromWidget, m.data]; }))",
    );
    format!(
        "host page text: {}\nwidget #courier-widget: {}\nwidget frame text: {frame}\nhost's postMessage log: {log}",
        page_text(tab),
        eval_string(
            tab,
            "(function (w) { return w ? JSON.stringify(Object.assign({}, w.dataset)) : 'absent'; })(document.getElementById('courier-widget'))"
        ),
    )
}

/// Waits for a JavaScript expression in the host page to be true.
fn wait_host(tab: &Tab, courier: &str, what: &str, expression: &str) {
    poll(
        what,
        || eval(tab, expression) == Some(Value::Bool(true)),
        || both_texts(tab, courier),
    );
}

/// Waits for a JavaScript expression in the widget frame (isolated world) to be true.
fn wait_frame(tab: &Tab, courier: &str, what: &str, expression: &str) {
    poll(
        what,
        || frame_eval(tab, courier, expression) == Some(Value::Bool(true)),
        || both_texts(tab, courier),
    );
}

/// Waits for a page of the full app (staff) to make `expression` true.
fn wait_app(tab: &Tab, what: &str, expression: &str) {
    poll(
        what,
        || eval(tab, expression) == Some(Value::Bool(true)),
        || format!("page text: {}", page_text(tab)),
    );
}

const HISTORY_TEXTS: &str = "Array.from(document.querySelectorAll('#history .message .content')).map(c => c.innerText).join('|')";

/// Staff: waits for the full app's header and returns the uid.
fn app_uid(tab: &Tab) -> i64 {
    wait_app(
        tab,
        "the identity header",
        "!!document.querySelector('#me') && /\\(uid \\d+\\)/.test(document.querySelector('#me').innerText)",
    );
    let text = eval_string(tab, "document.querySelector('#me').innerText");
    text.rsplit("(uid ")
        .next()
        .and_then(|rest| rest.trim_end_matches(')').parse().ok())
        .unwrap_or_else(|| panic!("no uid in {text:?}"))
}

/// Staff (full app) types into the open chat and sends with Enter; returns when Enter began.
fn app_send(tab: &Tab, text: &str) -> Instant {
    click(tab, "#composer");
    tab.type_str(text).expect("type");
    let enter = Instant::now();
    tab.press_key("Enter").expect("enter");
    enter
}

/// Guest: types into the widget's composer (value + input event) and clicks Send; returns when
/// the click began.
fn widget_send(tab: &Tab, courier: &str, text: &str) -> Instant {
    wait_frame(
        tab,
        courier,
        "the widget's composer",
        "!!document.querySelector('#composer') && !!document.querySelector('#send')",
    );
    let typed = frame_eval(
        tab,
        courier,
        &format!(
            "(() => {{ const t = document.querySelector('#composer'); t.focus(); t.value = {}; \
             t.dispatchEvent(new Event('input', {{ bubbles: true }})); return true; }})()",
            js(text)
        ),
    );
    assert_eq!(typed, Some(Value::Bool(true)), "typing into the widget");
    let click = Instant::now();
    let sent = frame_eval(
        tab,
        courier,
        "document.querySelector('#send').click(), true",
    );
    assert_eq!(sent, Some(Value::Bool(true)), "clicking Send in the widget");
    click
}

/// The uid the widget frame is signed in as, asked from the server with the frame's own
/// credentials (its stored bearer token; a cookie, if the browser kept one).
fn frame_uid(tab: &Tab, courier: &str) -> Option<i64> {
    frame_eval(
        tab,
        courier,
        "(async () => { const t = localStorage.getItem('courier.token'); \
         const r = await fetch('/api/me', { credentials: 'include', headers: t ? { Authorization: 'Bearer ' + t } : {} }); \
         return r.ok ? (await r.json()).uid : -r.status; })()",
    )
    .and_then(|v| v.as_i64())
}

/// The uid of the widget's last `ready` (after `count` of them), from the host's log.
fn wait_ready(tab: &Tab, courier: &str, count: usize) -> i64 {
    wait_host(
        tab,
        courier,
        &format!("ready #{count} from the widget"),
        &format!(
            "window.widgetMessages('ready').length >= {count} && document.getElementById('courier-widget')?.dataset.state === 'ready'"
        ),
    );
    eval(
        tab,
        "(function (l) { return l[l.length - 1].data.uid; })(window.widgetMessages('ready'))",
    )
    .and_then(|v| v.as_i64())
    .unwrap_or_else(|| panic!("ready without a uid\n{}", both_texts(tab, courier)))
}

fn unread_shows(count: u32) -> String {
    format!(
        "(() => {{ const w = document.getElementById('courier-widget'); const b = document.getElementById('courier-badge'); \
         return !!w && !!b && w.dataset.unread === '{count}' && b.innerText.trim() === '{count}' && window.shown(b); }})()"
    )
}

const BADGE_HIDDEN: &str = "(() => { const w = document.getElementById('courier-widget'); const b = document.getElementById('courier-badge'); \
     return !!w && !!b && w.dataset.unread === '0' && !window.shown(b); })()";

// ---------------------------------------------------------------------------------------------
// The tests

#[test]
fn a_guest_chats_with_staff_through_the_widget_and_keeps_uid_and_history_after_a_reload() {
    if !prerequisites_present() {
        return;
    }
    let sites = start_sites();
    let courier = sites.courier.as_str();

    // Staff sign in to the full app on Courier's own origin.
    let staff = person();
    open(&staff.tab, &format!("{courier}/"));
    let staff_uid = app_uid(&staff.tab);
    wait_app(
        &staff.tab,
        "the staff's stream to be live",
        "document.querySelector('#sync-status')?.dataset.state === 'live'",
    );

    // The guest opens the shop; the widget loads closed, in the corner.
    let guest = person();
    let loading = Instant::now();
    open(
        &guest.tab,
        &sites.host_url(&sites.shop, &format!("u:{staff_uid}"), false),
    );
    let g = &guest.tab;
    let guest_uid = wait_ready(g, courier, 1);
    eprintln!(
        "widget: host page navigation to ready took {} ms",
        loading.elapsed().as_millis()
    );
    assert_ne!(guest_uid, staff_uid);
    assert_eq!(
        frame_uid(g, courier),
        Some(guest_uid),
        "ready names the frame's user"
    );
    wait_host(
        g,
        courier,
        "the closed widget without a badge",
        &format!(
            "document.getElementById('courier-widget').dataset.open === 'false' && {BADGE_HIDDEN} \
             && window.apiEvents.some(e => e[0] === 'ready')"
        ),
    );

    // The guest opens the panel and writes.
    click(g, "#courier-launcher");
    wait_host(
        g,
        courier,
        "the panel to open",
        "document.getElementById('courier-widget').dataset.open === 'true' && window.shown(document.getElementById('courier-panel'))",
    );
    wait_frame(
        g,
        courier,
        "the greeting in the widget",
        &format!("document.body.innerText.includes({})", js(GREETING)),
    );
    let sent_at = widget_send(g, courier, "Hello, is the blue one in stock?");
    wait_frame(
        g,
        courier,
        "the guest's message to be acknowledged",
        &message_visible(
            "Hello, is the blue one in stock?",
            ".mine[data-state='sent']",
        ),
    );

    // Staff see the conversation appear live and answer.
    let item = format!(".conversation-item[data-peer='{guest_uid}']");
    wait_app(
        &staff.tab,
        "the guest's conversation in the staff's list",
        &format!("!!document.querySelector({})", js(&item)),
    );
    eprintln!(
        "widget: guest Send to the conversation in the staff's list took {} ms",
        sent_at.elapsed().as_millis()
    );
    click(&staff.tab, &item);
    wait_app(
        &staff.tab,
        "the guest's message at the staff",
        &message_visible("Hello, is the blue one in stock?", ".theirs"),
    );
    let replied = app_send(&staff.tab, "Yes, we have three left.");
    wait_frame(
        g,
        courier,
        "the staff's reply live in the open widget",
        &message_visible("Yes, we have three left.", ".theirs"),
    );
    eprintln!(
        "widget: staff Enter to the reply showing in the open widget took {} ms",
        replied.elapsed().as_millis()
    );
    wait_host(
        g,
        courier,
        "no unread while the panel is open",
        BADGE_HIDDEN,
    );
    snapshot(g, "widget-open");

    // The guest closes the panel; the next replies count on the launcher's badge.
    click(g, "#courier-launcher");
    wait_host(
        g,
        courier,
        "the panel to close",
        "document.getElementById('courier-widget').dataset.open === 'false' && !window.shown(document.getElementById('courier-panel'))",
    );
    let replied = app_send(&staff.tab, "Shall I reserve one for you?");
    wait_host(g, courier, "the badge to show 1", &unread_shows(1));
    eprintln!(
        "widget: staff Enter to the closed widget's badge showing 1 took {} ms",
        replied.elapsed().as_millis()
    );
    app_send(&staff.tab, "It's the last blue one.");
    wait_host(g, courier, "the badge to show 2", &unread_shows(2));
    snapshot(g, "widget-closed-badge");
    assert!(
        eval(
            g,
            "window.widgetMessages('unread').some(m => m.data.count === 2) && window.apiEvents.some(e => e[0] === 'unread')"
        ) == Some(Value::Bool(true)),
        "the unread count came from the widget frame\n{}",
        both_texts(g, courier)
    );

    // The guest comes back (reload): same uid, the unread count and the whole history.
    let reloading = Instant::now();
    g.reload(false, None)
        .expect("reload")
        .wait_until_navigated()
        .expect("reloaded");
    let uid_after_reload = wait_ready(g, courier, 1);
    eprintln!(
        "widget: host page reload to ready took {} ms",
        reloading.elapsed().as_millis()
    );
    assert_eq!(uid_after_reload, guest_uid, "the guest keeps the uid");
    assert_eq!(frame_uid(g, courier), Some(guest_uid));
    wait_host(
        g,
        courier,
        "the unread count to survive the reload",
        &unread_shows(2),
    );
    eval(g, "Courier.open(), true").expect("Courier.open()");
    wait_frame(
        g,
        courier,
        "the whole history after the reload",
        &format!(
            "{HISTORY_TEXTS} === {}",
            js(
                "Hello, is the blue one in stock?|Yes, we have three left.|Shall I reserve one for you?|It's the last blue one."
            )
        ),
    );
    wait_host(
        g,
        courier,
        "the badge to clear once the panel is open",
        &format!(
            "document.getElementById('courier-widget').dataset.open === 'true' && {BADGE_HIDDEN}"
        ),
    );
}

#[test]
fn a_site_not_in_embed_origins_gets_an_unavailable_widget_whose_frame_never_loads() {
    if !prerequisites_present() {
        return;
    }
    let sites = start_sites();
    let courier = sites.courier.as_str();
    let target = format!("u:{}", sites.staff_uid());
    let guest = person();
    let g = &guest.tab;

    // http://localhost:P1 is not in embed_origins (only http://127.0.0.1:P1 is).
    let loading = Instant::now();
    open(g, &sites.host_url(&sites.other_shop, &target, false));
    wait_host(
        g,
        courier,
        "the widget to be unavailable",
        "document.getElementById('courier-widget')?.dataset.state === 'unavailable'",
    );
    eprintln!(
        "widget: blocked frame to 'unavailable' took {} ms",
        loading.elapsed().as_millis()
    );
    let frame_list: Vec<(String, String)> = frames(g)
        .into_iter()
        .map(|f| (f.url, f.security_origin))
        .collect();
    eprintln!("widget: frames of the page that may not embed: {frame_list:?}");
    snapshot(g, "widget-unavailable");
    assert!(
        frame_list
            .iter()
            .skip(1)
            .all(|(_, origin)| origin != courier),
        "no frame holds a Courier document: {frame_list:?}"
    );
    assert!(
        frame_list
            .iter()
            .skip(1)
            .any(|(url, _)| url.contains("/widget") || url.starts_with("chrome-error:")),
        "the widget frame was created: {frame_list:?}"
    );
    assert_eq!(
        eval(
            g,
            &format!(
                "window.hostLog.filter(m => m.origin === {}).length",
                js(courier)
            )
        ),
        Some(json!(0)),
        "the blocked frame never talked\n{}",
        both_texts(g, courier)
    );
    assert_eq!(
        eval(
            g,
            "!!document.getElementById('courier-launcher') && !window.shown(document.getElementById('courier-launcher'))"
        ),
        Some(Value::Bool(true)),
        "the launcher is hidden\n{}",
        both_texts(g, courier)
    );

    // Control: the same page from the allowed origin gets a working widget.
    open(g, &sites.host_url(&sites.shop, &target, false));
    let uid = wait_ready(g, courier, 1);
    assert_eq!(frame_uid(g, courier), Some(uid));
}

#[test]
fn other_frames_cannot_drive_the_widget_and_signed_identify_keeps_a_site_user_across_devices() {
    if !prerequisites_present() {
        return;
    }
    let sites = start_sites();
    let courier = sites.courier.as_str();
    let third = sites.other_shop.as_str();
    let target = format!("u:{}", sites.staff_uid());
    let laptop = person();
    let g = &laptop.tab;
    open(g, &sites.host_url(&sites.shop, &target, true));
    let guest_uid = wait_ready(g, courier, 1);
    poll(
        "the third-party frame",
        || frame_eval(g, third, "document.readyState === 'complete'") == Some(Value::Bool(true)),
        || both_texts(g, courier),
    );
    let evil = |expression: &str| {
        frame_eval(g, third, expression)
            .unwrap_or_else(|| panic!("the third-party frame runs {expression}"))
    };

    // A third-party frame tells the host page there are 99 unread: the badge ignores it.
    evil("parent.postMessage({ courier: 1, type: 'unread', count: 99 }, '*'), true");
    wait_host(
        g,
        courier,
        "the host page to receive the forged unread",
        &format!(
            "window.hostLog.some(m => m.origin === {} && m.data && m.data.count === 99)",
            js(third)
        ),
    );
    wait_host(
        g,
        courier,
        "the badge to stay at 0 after the forged unread",
        BADGE_HIDDEN,
    );

    // It posts a valid identity token and `open` to the widget frame: both ignored.
    let ignored = |tab: &Tab| {
        frame_main_eval(
            tab,
            courier,
            "window.courierWidget ? window.courierWidget.ignored : null",
        )
        .and_then(|v| v.as_i64())
    };
    let ignored_before = ignored(g).unwrap_or_else(|| {
        panic!(
            "window.courierWidget.ignored in the widget frame\n{}",
            both_texts(g, courier)
        )
    });
    let alice = identity_token(SECRET, "alice-1001", "Alice", 600);
    evil(&format!(
        "(() => {{ const token = {}; let n = 0; \
         for (let i = 0; i < parent.frames.length; i++) {{ const f = parent.frames[i]; if (f === window) continue; \
           f.postMessage({{ courier: 1, type: 'identify', token }}, '*'); \
           f.postMessage({{ courier: 1, type: 'open' }}, '*'); n++; }} \
         return n; }})()",
        js(&alice)
    ));
    poll(
        "the widget to count the third party's two messages as ignored",
        || ignored(g).is_some_and(|n| n >= ignored_before + 2),
        || both_texts(g, courier),
    );
    assert_eq!(
        eval(
            g,
            "document.getElementById('courier-widget').dataset.open === 'false' \
             && window.widgetMessages('identified').length === 0 && window.widgetMessages('identify_failed').length === 0"
        ),
        Some(Value::Bool(true)),
        "the widget neither opened nor identified\n{}",
        both_texts(g, courier)
    );
    assert_eq!(frame_uid(g, courier), Some(guest_uid), "still the guest");

    // The host itself identifies with the very same token: now it works.
    let identifying = Instant::now();
    eval(g, &format!("Courier.identify({}), true", js(&alice))).expect("Courier.identify");
    wait_host(
        g,
        courier,
        "`identified` from the widget",
        "window.widgetMessages('identified').length === 1",
    );
    eprintln!(
        "widget: Courier.identify to `identified` took {} ms",
        identifying.elapsed().as_millis()
    );
    let alice_uid = eval(g, "window.widgetMessages('identified')[0].data.uid")
        .and_then(|v| v.as_i64())
        .expect("identified carries a uid");
    assert_ne!(alice_uid, guest_uid, "a site user is a new uid");
    poll(
        "the widget frame to be signed in as the site user",
        || frame_uid(g, courier) == Some(alice_uid),
        || both_texts(g, courier),
    );
    wait_host(
        g,
        courier,
        "the widget ready again as the site user",
        &format!(
            "(function (l) {{ return l.length >= 2 && l[l.length - 1].data.uid === {alice_uid}; }})(window.widgetMessages('ready')) \
             && document.getElementById('courier-widget').dataset.state === 'ready' \
             && window.apiEvents.some(e => e[0] === 'identified')"
        ),
    );

    // Alice writes from her laptop.
    eval(g, "Courier.open(), true").expect("Courier.open()");
    widget_send(g, courier, "Order 1001 has not arrived");
    wait_frame(
        g,
        courier,
        "Alice's message to be acknowledged",
        &message_visible("Order 1001 has not arrived", ".mine[data-state='sent']"),
    );

    // A forged token (wrong secret) and an expired one: refused, Alice stays signed in.
    for (token, code) in [
        (
            identity_token(
                "not-the-shop-secret-but-long-enough-0123",
                "mallory",
                "M",
                600,
            ),
            "identity_invalid",
        ),
        (
            identity_token(SECRET, "mallory", "M", -3600),
            "identity_expired",
        ),
    ] {
        let failures = eval(g, "window.widgetMessages('identify_failed').length")
            .and_then(|v| v.as_i64())
            .unwrap_or(0);
        eval(g, &format!("Courier.identify({}), true", js(&token))).expect("Courier.identify");
        wait_host(
            g,
            courier,
            &format!("identify_failed with {code}"),
            &format!(
                "(function (l) {{ return l.length === {} && l[l.length - 1].data.code === {}; }})(window.widgetMessages('identify_failed'))",
                failures + 1,
                js(code)
            ),
        );
        assert_eq!(frame_uid(g, courier), Some(alice_uid), "after {code}");
        assert_eq!(
            eval(g, "window.widgetMessages('identified').length"),
            Some(json!(1)),
            "no second identified after {code}"
        );
    }
    assert!(
        eval(g, "window.apiEvents.some(e => e[0] === 'identify_failed')")
            == Some(Value::Bool(true)),
        "Courier.on('identify_failed') fired"
    );

    // Her phone: another browser, a guest at first; a fresh token for the same user makes it the
    // same uid, with the history.
    let phone = person();
    let p = &phone.tab;
    open(p, &sites.host_url(&sites.shop, &target, false));
    let phone_guest = wait_ready(p, courier, 1);
    assert_ne!(phone_guest, alice_uid);
    let fresh = identity_token(SECRET, "alice-1001", "Alice", 600);
    eval(p, &format!("Courier.identify({}), true", js(&fresh))).expect("Courier.identify");
    wait_host(
        p,
        courier,
        "`identified` on the phone",
        "window.widgetMessages('identified').length === 1",
    );
    assert_eq!(
        eval(p, "window.widgetMessages('identified')[0].data.uid").and_then(|v| v.as_i64()),
        Some(alice_uid),
        "the same site user is the same uid on another device"
    );
    eval(p, "Courier.open(), true").expect("Courier.open()");
    wait_frame(
        p,
        courier,
        "Alice's history on the phone",
        &message_visible("Order 1001 has not arrived", ".mine"),
    );
    assert_eq!(frame_uid(p, courier), Some(alice_uid));
    snapshot(p, "widget-identified-phone");
}
