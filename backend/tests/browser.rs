//! End to end in headless Chromium: two separate browser profiles (two guests) use the built web
//! client served by the real server, as people would.
//!
//! Needs the built client in `dist/` (scripts/build-frontend.sh) and Debian's `/usr/bin/chromium`.
//! Without them the test says it was skipped, unless `COURIER_REQUIRE_BROWSER=1` (set by .ci/run),
//! which turns a missing piece into a failure.

use backend::{Application, Config};
use headless_chrome::{Browser, LaunchOptions, Tab};
use std::ffi::OsStr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

const CHROMIUM: &str = "/usr/bin/chromium";
const WAIT: Duration = Duration::from_secs(20);

fn dist_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../dist")
}

/// Returns false (and says why) when the browser test cannot run here.
fn prerequisites_present() -> bool {
    let missing: Vec<String> = [
        (
            Path::new(CHROMIUM).exists(),
            format!("{CHROMIUM} (apt-get install chromium)"),
        ),
        (
            dist_dir().join("frontend_bg.wasm").exists(),
            "dist/ (scripts/build-frontend.sh)".to_owned(),
        ),
    ]
    .into_iter()
    .filter(|(present, _)| !present)
    .map(|(_, what)| what)
    .collect();
    if missing.is_empty() {
        return true;
    }
    let required = std::env::var("COURIER_REQUIRE_BROWSER").is_ok_and(|v| v == "1");
    assert!(!required, "browser test prerequisites missing: {missing:?}");
    eprintln!("SKIPPED browser test: missing {missing:?}");
    false
}

/// The real server on 127.0.0.1:0 in a runtime of its own, serving the built client.
struct Server {
    base: String,
    _runtime: tokio::runtime::Runtime,
    _dir: tempfile::TempDir,
}

fn start_server() -> Server {
    let dir = tempfile::tempdir().expect("temp dir");
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    let mut config = Config::for_data_dir(dir.path().to_path_buf());
    config.listen = "127.0.0.1:0".parse().expect("address");
    config.static_dir = dist_dir();
    let app = runtime
        .block_on(Application::build(config))
        .expect("server builds");
    let base = format!("http://127.0.0.1:{}", app.port());
    runtime.spawn(app.run_until_stopped(std::future::pending()));
    Server {
        base,
        _runtime: runtime,
        _dir: dir,
    }
}

/// One person: a browser with a profile of its own.
struct Person {
    _browser: Browser,
    tab: Arc<Tab>,
    _profile: tempfile::TempDir,
}

fn person() -> Person {
    let profile = tempfile::tempdir().expect("profile dir");
    let args: Vec<&OsStr> = [
        "--disable-gpu",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--no-first-run",
        "--disable-quic",
    ]
    .iter()
    .map(OsStr::new)
    .collect();
    let options = LaunchOptions::default_builder()
        .path(Some(PathBuf::from(CHROMIUM)))
        .headless(true)
        .sandbox(false)
        .user_data_dir(Some(profile.path().to_path_buf()))
        .args(args)
        .idle_browser_timeout(Duration::from_secs(120))
        .build()
        .expect("launch options");
    let browser = Browser::new(options).expect("chromium starts");
    let tab = browser.new_tab().expect("a tab");
    Person {
        _browser: browser,
        tab,
        _profile: profile,
    }
}

/// Polls a JavaScript expression until it is true.
fn wait_until(tab: &Tab, what: &str, expression: &str) {
    let deadline = Instant::now() + WAIT;
    loop {
        let value = tab
            .evaluate(expression, false)
            .ok()
            .and_then(|r| r.value)
            .and_then(|v| v.as_bool());
        if value == Some(true) {
            return;
        }
        if Instant::now() > deadline {
            let body = tab
                .evaluate("document.body ? document.body.innerText : ''", false)
                .ok()
                .and_then(|r| r.value)
                .unwrap_or_default();
            panic!("timed out waiting for {what}; page text: {body}");
        }
        std::thread::sleep(Duration::from_millis(25));
    }
}

fn eval_string(tab: &Tab, expression: &str) -> String {
    tab.evaluate(expression, false)
        .ok()
        .and_then(|r| r.value)
        .and_then(|v| v.as_str().map(str::to_owned))
        .unwrap_or_default()
}

fn js(s: &str) -> String {
    serde_json::to_string(s).expect("a JS string literal")
}

/// Waits for the header and returns (text, uid).
fn identity(tab: &Tab) -> (String, i64) {
    wait_until(
        tab,
        "the identity header",
        "!!document.querySelector('#me') && /\\(uid \\d+\\)/.test(document.querySelector('#me').innerText)",
    );
    let text = eval_string(tab, "document.querySelector('#me').innerText");
    let uid = text
        .rsplit("(uid ")
        .next()
        .and_then(|rest| rest.trim_end_matches(')').parse().ok())
        .unwrap_or_else(|| panic!("no uid in {text:?}"));
    (text, uid)
}

fn message_visible(text: &str, extra_selector: &str) -> String {
    let selector = format!("#history .message{extra_selector}");
    format!(
        "Array.from(document.querySelectorAll({})).some(m => {{ const c = m.querySelector('.content'); return !!c && c.innerText === {}; }})",
        js(&selector),
        js(text)
    )
}

fn type_and_send(tab: &Tab, text: &str) {
    let composer = tab.wait_for_element("#composer").expect("composer");
    composer.click().expect("focus composer");
    tab.type_str(text).expect("type");
    tab.press_key("Enter").expect("enter");
}

#[test]
fn two_guests_chat_live_and_a_reload_keeps_identity_and_history() {
    if !prerequisites_present() {
        return;
    }
    let server = start_server();
    let alice = person();
    let bob = person();
    for p in [&alice, &bob] {
        p.tab
            .set_default_timeout(WAIT)
            .navigate_to(&server.base)
            .expect("navigate")
            .wait_until_navigated()
            .expect("page loads");
    }
    let (alice_text, alice_uid) = identity(&alice.tab);
    let (_, bob_uid) = identity(&bob.tab);
    assert!(alice_text.starts_with("you are Guest-"), "{alice_text}");
    assert_ne!(alice_uid, bob_uid, "two profiles are two guests");
    wait_until(
        &bob.tab,
        "Bob's stream to be live",
        "document.querySelector('#sync-status')?.dataset.state === 'live'",
    );

    // Alice starts a chat with Bob's uid and sends.
    let uid_input = alice
        .tab
        .wait_for_element("#new-chat-uid")
        .expect("uid box");
    uid_input.click().expect("focus");
    alice.tab.type_str(&bob_uid.to_string()).expect("type uid");
    alice
        .tab
        .wait_for_element("#new-chat-open")
        .expect("open button")
        .click()
        .expect("click");
    let typing = Instant::now();
    type_and_send(&alice.tab, "Hello Bob <b>not bold</b>");
    let sent_at = Instant::now();
    eprintln!("browser: typing took {} ms", typing.elapsed().as_millis());
    wait_until(
        &alice.tab,
        "Alice's message to be acknowledged",
        &message_visible("Hello Bob <b>not bold</b>", ".mine[data-state='sent']"),
    );

    eprintln!(
        "browser: Enter to 'sent' took {} ms",
        sent_at.elapsed().as_millis()
    );
    // Bob sees the conversation appear live, without reloading, and opens it.
    let bob_item = format!(".conversation-item[data-peer='{alice_uid}']");
    wait_until(
        &bob.tab,
        "the conversation in Bob's list",
        &format!("!!document.querySelector({})", js(&bob_item)),
    );
    let delivered = sent_at.elapsed();
    wait_until(
        &bob.tab,
        "an unread badge",
        &format!(
            "(document.querySelector({})?.querySelector('.unread')?.innerText || '').trim() === '1'",
            js(&bob_item)
        ),
    );
    bob.tab
        .wait_for_element(&bob_item)
        .expect("item")
        .click()
        .expect("open");
    wait_until(
        &bob.tab,
        "Alice's message in Bob's chat, as text",
        &message_visible("Hello Bob <b>not bold</b>", ".theirs"),
    );
    assert_eq!(
        eval_string(
            &bob.tab,
            "String(document.querySelectorAll('#history b').length)"
        ),
        "0",
        "message text is never rendered as HTML"
    );

    // Bob replies; Alice, whose chat is open, sees it live.
    type_and_send(&bob.tab, "Hi Alice");
    wait_until(
        &alice.tab,
        "Bob's reply in Alice's open chat",
        &message_visible("Hi Alice", ".theirs"),
    );

    // Alice reloads: same uid, whole conversation, in order, once.
    let reloaded = Instant::now();
    alice
        .tab
        .reload(false, None)
        .expect("reload")
        .wait_until_navigated()
        .expect("reloaded");
    let alice_item = format!(".conversation-item[data-peer='{bob_uid}']");
    wait_until(
        &alice.tab,
        "the conversation list after reload",
        &format!("!!document.querySelector({})", js(&alice_item)),
    );
    eprintln!(
        "browser: reload to conversation list shown took {} ms",
        reloaded.elapsed().as_millis()
    );
    let (_, uid_after_reload) = identity(&alice.tab);
    assert_eq!(uid_after_reload, alice_uid, "the cookie keeps the guest");
    alice
        .tab
        .wait_for_element(&alice_item)
        .expect("conversation after reload")
        .click()
        .expect("open");
    wait_until(
        &alice.tab,
        "both messages after reload",
        &format!(
            "{} && {}",
            message_visible("Hello Bob <b>not bold</b>", ".mine"),
            message_visible("Hi Alice", ".theirs")
        ),
    );
    let texts = eval_string(
        &alice.tab,
        "Array.from(document.querySelectorAll('#history .message .content')).map(c => c.innerText).join('|')",
    );
    assert_eq!(texts, "Hello Bob <b>not bold</b>|Hi Alice");
    eprintln!(
        "browser: Alice's Enter to the conversation showing in Bob's list took {} ms",
        delivered.as_millis()
    );
}
