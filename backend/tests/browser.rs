//! End to end in headless Chromium: two separate browser profiles (two guests) use the built web
//! client served by the real server, as people would.
//!
//! Needs the built client in `dist/` (scripts/build-frontend.sh) and Debian's `/usr/bin/chromium`.
//! Without them the test says it was skipped, unless `COURIER_REQUIRE_BROWSER=1` (set by .ci/run),
//! which turns a missing piece into a failure.

mod common;

use backend::Config;
use common::{WAIT, click, js, message_visible, snapshot};
use headless_chrome::Tab;
use std::time::{Duration, Instant};

/// The real server on 127.0.0.1:0 in a runtime of its own, serving the built client.
struct Server {
    base: String,
    runtime: tokio::runtime::Runtime,
    _dir: tempfile::TempDir,
}

fn start_server() -> Server {
    let dir = tempfile::tempdir().expect("temp dir");
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    let port = common::serve(&runtime, Config::for_data_dir(dir.path().to_path_buf()));
    let base = format!("http://127.0.0.1:{port}");
    Server {
        base,
        runtime,
        _dir: dir,
    }
}

/// Issue 7's budget: a first visit to the app (the page, its script and its module) downloads
/// at most 250 KB gzipped, as the server sends them over HTTP. Applies to a client built with
/// every size tool (`dist/size-tools.txt` says `complete`); a build without some of them is
/// larger by design and is skipped with a note (a failure with `COURIER_REQUIRE_BROWSER=1`).
#[test]
fn a_first_visit_to_the_app_downloads_at_most_250_kb_gzipped() {
    const BUDGET: usize = 250_000;
    let files = [
        "index.html",
        "frontend.js",
        "frontend_bg.wasm",
        "size-tools.txt",
    ];
    let why_not = if !files.iter().all(|f| common::dist_dir().join(f).exists()) {
        Some(format!("dist/ lacks {files:?} (scripts/build-frontend.sh)"))
    } else {
        let tools =
            std::fs::read_to_string(common::dist_dir().join("size-tools.txt")).unwrap_or_default();
        (tools.trim() != "complete")
            .then(|| format!("the client was built with size tools {}", tools.trim()))
    };
    if let Some(why_not) = why_not {
        let required = std::env::var("COURIER_REQUIRE_BROWSER").is_ok_and(|v| v == "1");
        assert!(!required, "{why_not}");
        eprintln!("SKIPPED download budget: {why_not}");
        return;
    }
    let server = start_server();
    let client = reqwest::Client::new();
    let mut total = 0;
    for path in ["/", "/frontend.js", "/frontend_bg.wasm"] {
        let response = server
            .runtime
            .block_on(
                client
                    .get(format!("{}{path}", server.base))
                    .header("Accept-Encoding", "gzip")
                    .send(),
            )
            .expect("request");
        assert_eq!(response.status(), 200, "{path}");
        let encoding = response.headers().get("content-encoding").cloned();
        assert_eq!(
            encoding.as_ref().map(|v| v.as_bytes()),
            Some(&b"gzip"[..]),
            "{path}"
        );
        let body = server.runtime.block_on(response.bytes()).expect("body");
        eprintln!("{path}: {} bytes gzipped", body.len());
        total += body.len();
    }
    eprintln!("first visit: {total} bytes gzipped (budget {BUDGET})");
    assert!(
        total <= BUDGET,
        "a first visit downloads {total} bytes gzipped, over {BUDGET}"
    );
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

/// A person with the flags every test uses.
fn person() -> common::Person {
    common::person_with(&[])
}

/// Returns false (and says why) when the browser tests cannot run here.
fn prerequisites_present() -> bool {
    common::prerequisites_present("browser test", &["frontend_bg.wasm"])
}

fn type_into(tab: &Tab, selector: &str, text: &str) {
    click(tab, selector);
    tab.type_str(text).expect("type");
}

fn present(selector: &str) -> String {
    format!("!!document.querySelector({})", js(selector))
}

fn eval_number(tab: &Tab, expression: &str) -> f64 {
    tab.evaluate(expression, false)
        .ok()
        .and_then(|r| r.value)
        .and_then(|v| v.as_f64())
        .unwrap_or(f64::NAN)
}

#[test]
fn two_people_become_friends_chat_in_a_group_and_a_reload_transfers_no_unchanged_lists() {
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
    let (_, alice_uid) = identity(&alice.tab);
    let (_, bob_uid) = identity(&bob.tab);
    for p in [&alice, &bob] {
        wait_until(
            &p.tab,
            "the stream to be live",
            "document.querySelector('#sync-status')?.dataset.state === 'live'",
        );
    }

    // Alice asks Bob to be friends, by uid.
    click(&alice.tab, "#tab-contacts");
    type_into(&alice.tab, "#add-friend-input", &bob_uid.to_string());
    click(&alice.tab, "#add-friend-send");
    wait_until(
        &alice.tab,
        "Alice's pending request to Bob",
        &present(&format!(
            "#outgoing-requests .friend-request[data-uid='{bob_uid}']"
        )),
    );

    // Bob sees it live (the Contacts tab counts it), opens Contacts and accepts.
    wait_until(
        &bob.tab,
        "the request badge on Bob's Contacts tab",
        "(document.querySelector('#tab-contacts .badge')?.innerText || '').trim() === '1'",
    );
    click(&bob.tab, "#tab-contacts");
    snapshot(&bob.tab, "contacts-incoming-request");
    click(
        &bob.tab,
        &format!("#incoming-requests .friend-request[data-uid='{alice_uid}'] .accept"),
    );

    // Both see each other as friends, without reloading.
    wait_until(
        &bob.tab,
        "Alice in Bob's friend list",
        &present(&format!("#friend-list .friend[data-uid='{alice_uid}']")),
    );
    wait_until(
        &alice.tab,
        "Bob in Alice's friend list",
        &present(&format!("#friend-list .friend[data-uid='{bob_uid}']")),
    );
    wait_until(
        &alice.tab,
        "the request gone from Alice's outgoing list",
        &format!(
            "!{}",
            present(&format!(
                "#outgoing-requests .friend-request[data-uid='{bob_uid}']"
            ))
        ),
    );

    // Alice creates a group and invites Bob.
    click(&alice.tab, "#tab-groups");
    type_into(&alice.tab, "#group-name", "Weekend plans");
    click(&alice.tab, "#create-group-submit");
    wait_until(
        &alice.tab,
        "the new group's details",
        "!!document.querySelector('#group-detail[data-gid]') && !!document.querySelector('#group-list .group-item[data-gid]')",
    );
    let gid = eval_string(
        &alice.tab,
        "document.querySelector('#group-detail').dataset.gid",
    );
    assert!(!gid.is_empty(), "the group has an id");
    snapshot(&alice.tab, "group-details-owner");
    type_into(&alice.tab, "#group-invite-uid", &bob_uid.to_string());
    click(&alice.tab, "#group-invite-send");
    wait_until(
        &alice.tab,
        "the invitation to be sent",
        &present("#group-invite .form-ok"),
    );

    // Bob sees the invitation live, accepts it, and the group shows in his list.
    wait_until(
        &bob.tab,
        "the invitation badge on Bob's Groups tab",
        "(document.querySelector('#tab-groups .badge')?.innerText || '').trim() === '1'",
    );
    click(&bob.tab, "#tab-groups");
    click(
        &bob.tab,
        &format!("#group-invites .group-invite[data-gid='{gid}'] .invite-accept"),
    );
    let bob_group = format!("#group-list .group-item[data-gid='{gid}']");
    wait_until(
        &bob.tab,
        "the group in Bob's list, with its name",
        &format!(
            "(document.querySelector({})?.querySelector('.row-title')?.innerText || '') === 'Weekend plans'",
            js(&bob_group)
        ),
    );

    // Bob opens the group's chat and writes; Alice sees it live, with Bob's nick, and answers.
    click(&bob.tab, &format!("{bob_group} .row-open"));
    wait_until(
        &bob.tab,
        "the group chat open for Bob",
        &present(&format!("#chat[data-gid='{gid}']")),
    );
    type_and_send(&bob.tab, "Hello group from Bob");
    wait_until(
        &bob.tab,
        "Bob's group message acknowledged",
        &message_visible("Hello group from Bob", ".mine[data-state='sent']"),
    );
    click(&alice.tab, "#tab-chats");
    let alice_item = format!(".conversation-item[data-gid='{gid}']");
    click(&alice.tab, &alice_item);
    wait_until(
        &alice.tab,
        "Bob's message in Alice's group chat",
        &message_visible("Hello group from Bob", ".theirs"),
    );
    let bob_nick = eval_string(
        &bob.tab,
        "document.querySelector('#me').innerText.replace(/^you are /, '').replace(/ \\(uid \\d+\\)$/, '')",
    );
    wait_until(
        &alice.tab,
        "Bob's nick over his group message",
        &format!(
            "Array.from(document.querySelectorAll('#history .message.theirs .sender')).some(s => s.innerText === {})",
            js(&bob_nick)
        ),
    );
    snapshot(&alice.tab, "group-chat");
    type_and_send(&alice.tab, "Hi Bob, see you Saturday");
    wait_until(
        &bob.tab,
        "Alice's group message in Bob's open chat",
        &message_visible("Hi Bob, see you Saturday", ".theirs"),
    );

    // Alice reloads: both lists are unchanged, so the sync answers `unchanged` and no profile or
    // group details travel again (the client sends the `time` of every copy it holds).
    alice
        .tab
        .reload(false, None)
        .expect("reload")
        .wait_until_navigated()
        .expect("reloaded");
    identity(&alice.tab);
    wait_until(
        &alice.tab,
        "the first list sync after the reload",
        "(window.courierDebug?.listSyncs || 0) >= 1",
    );
    assert_eq!(
        eval_string(&alice.tab, "window.courierDebug.lastListSync"),
        "friend:unchanged group:unchanged"
    );
    assert_eq!(
        eval_number(&alice.tab, "window.courierDebug.profilesReceived || 0"),
        0.0,
        "no profile was sent again"
    );
    assert_eq!(
        eval_number(&alice.tab, "window.courierDebug.groupsReceived || 0"),
        0.0,
        "no group was sent again"
    );
    // The cached lists show at once after the reload.
    click(&alice.tab, "#tab-contacts");
    wait_until(
        &alice.tab,
        "Bob in Alice's friend list after the reload",
        &present(&format!("#friend-list .friend[data-uid='{bob_uid}']")),
    );
    snapshot(&alice.tab, "contacts-friends");
    click(&alice.tab, "#tab-groups");
    wait_until(
        &alice.tab,
        "the group in Alice's list after the reload",
        &format!(
            "(document.querySelector({})?.querySelector('.row-title')?.innerText || '') === 'Weekend plans'",
            js(&format!("#group-list .group-item[data-gid='{gid}']"))
        ),
    );
    click(&alice.tab, "#tab-profile");
    wait_until(&alice.tab, "the profile form", &present("#profile-nick"));
    snapshot(&alice.tab, "profile");
}

#[test]
fn an_invite_link_sends_a_friend_request_and_a_join_link_waits_for_approval() {
    if !prerequisites_present() {
        return;
    }
    let server = start_server();
    let alice = person();
    let carol = person();
    alice
        .tab
        .set_default_timeout(WAIT)
        .navigate_to(&server.base)
        .expect("navigate")
        .wait_until_navigated()
        .expect("page loads");
    let (_, alice_uid) = identity(&alice.tab);
    wait_until(
        &alice.tab,
        "Alice's stream to be live",
        "document.querySelector('#sync-status')?.dataset.state === 'live'",
    );

    // Alice's invite link, and a group that asks for approval (the default policy).
    click(&alice.tab, "#tab-contacts");
    wait_until(
        &alice.tab,
        "Alice's invite link",
        "(document.querySelector('#my-invite-link')?.value || '').includes('/?add=')",
    );
    let link = eval_string(
        &alice.tab,
        "document.querySelector('#my-invite-link').value",
    );
    click(&alice.tab, "#tab-groups");
    type_into(&alice.tab, "#group-name", "Book club");
    click(&alice.tab, "#create-group-submit");
    wait_until(
        &alice.tab,
        "the group's join link",
        "(document.querySelector('#group-link')?.value || '').includes('/?join=')",
    );
    let join_link = eval_string(&alice.tab, "document.querySelector('#group-link').value");

    // Carol opens the invite link: nothing is sent until she confirms.
    carol
        .tab
        .set_default_timeout(WAIT)
        .navigate_to(&link)
        .expect("navigate")
        .wait_until_navigated()
        .expect("page loads");
    let (_, carol_uid) = identity(&carol.tab);
    wait_until(
        &carol.tab,
        "the invite confirmation",
        &present("#invite-confirm:not([hidden]) #invite-confirm-send"),
    );
    click(&carol.tab, "#invite-confirm-send");
    wait_until(
        &carol.tab,
        "the request to be sent",
        "(document.querySelector('#invite-confirm-text')?.innerText || '').startsWith('Request sent')",
    );
    wait_until(
        &alice.tab,
        "Carol's request at Alice, live",
        &present(&format!(
            "#incoming-requests .friend-request[data-uid='{carol_uid}']"
        )),
    );

    // Carol opens the group's join link and asks to join; Alice lets her in from the group's
    // details; Carol sees that she is a member, without reloading.
    carol
        .tab
        .navigate_to(&join_link)
        .expect("navigate")
        .wait_until_navigated()
        .expect("page loads");
    wait_until(
        &carol.tab,
        "the group's name on the join card",
        "(document.querySelector('#join-prompt .join-group-name')?.innerText || '') === 'Book club'",
    );
    click(&carol.tab, "#join-group-send");
    wait_until(
        &carol.tab,
        "the pending state",
        "document.querySelector('#join-status')?.dataset.pending === 'true'",
    );
    let request = format!("#join-requests .join-request[data-uid='{carol_uid}']");
    wait_until(
        &alice.tab,
        "Carol's join request in the open group details, live",
        &present(&request),
    );
    click(&alice.tab, &format!("{request} .join-approve"));
    wait_until(
        &carol.tab,
        "Carol to be a member",
        "document.querySelector('#join-status')?.dataset.member === 'true'",
    );
    wait_until(
        &alice.tab,
        "Carol in the member list",
        &present(&format!(
            "#group-members .member[data-uid='{carol_uid}'][data-role='member']"
        )),
    );
    assert_ne!(alice_uid, carol_uid);
}

/// Pseudo-random bytes (xorshift), so files do not compress and differ from run to run only by
/// the seed.
fn noise(len: usize, mut seed: u64) -> Vec<u8> {
    (0..len)
        .map(|_| {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed as u8
        })
        .collect()
}

fn sha256_hex(bytes: &[u8]) -> String {
    use sha2::Digest;
    hex::encode(sha2::Sha256::digest(bytes))
}

/// JS: the SHA-256 (hex) and length of what `url` downloads in this page, as "LEN:HEX".
fn fetched_digest(tab: &Tab, url_expression: &str) -> String {
    let expression = format!(
        "(async () => {{ const r = await fetch({url_expression}); const b = await r.arrayBuffer(); \
         const d = await crypto.subtle.digest('SHA-256', b); \
         return b.byteLength + ':' + Array.from(new Uint8Array(d)).map(x => x.toString(16).padStart(2, '0')).join(''); }})()"
    );
    tab.evaluate(&expression, true)
        .ok()
        .and_then(|r| r.value)
        .and_then(|v| v.as_str().map(str::to_owned))
        .unwrap_or_default()
}

#[test]
fn files_sent_through_the_file_input_appear_for_the_peer_and_download_intact() {
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
    let (_, alice_uid) = identity(&alice.tab);
    let (_, bob_uid) = identity(&bob.tab);
    wait_until(
        &bob.tab,
        "Bob's stream to be live",
        "document.querySelector('#sync-status')?.dataset.state === 'live'",
    );
    type_into(&alice.tab, "#new-chat-uid", &bob_uid.to_string());
    click(&alice.tab, "#new-chat-open");
    type_and_send(&alice.tab, "files follow");
    let bob_item = format!(".conversation-item[data-peer='{alice_uid}']");
    wait_until(
        &bob.tab,
        "the conversation in Bob's list",
        &present(&bob_item),
    );
    click(&bob.tab, &bob_item);
    wait_until(
        &bob.tab,
        "the first message",
        &message_visible("files follow", ".theirs"),
    );
    // Bob's page records every state an attachment shows.
    bob.tab
        .evaluate(
            "window.fileStates = []; new MutationObserver(() => document.querySelectorAll('#history .attachment[data-file]').forEach(a => window.fileStates.push(a.dataset.file + ':' + a.dataset.state))).observe(document.body, {subtree: true, childList: true, attributes: true, attributeFilter: ['data-state']}); true",
            false,
        )
        .expect("observer");

    // A 64×64 noisy PNG (uploaded: above 1 KB), a 1 MB file, and a small text (inline).
    let dir = tempfile::tempdir().expect("temp dir");
    let pixels = noise(64 * 64 * 3, 0x9E37_79B9_7F4A_7C15);
    let picture = image::RgbImage::from_raw(64, 64, pixels).expect("an image");
    let png_path = dir.path().join("dots.png");
    picture.save(&png_path).expect("write png");
    let png = std::fs::read(&png_path).expect("read png");
    assert!(png.len() > 1024, "the PNG is uploaded, not inline");
    let big = noise(1 << 20, 42);
    let big_path = dir.path().join("data.bin");
    std::fs::write(&big_path, &big).expect("write big file");
    let small_path = dir.path().join("note.txt");
    std::fs::write(&small_path, "a small note").expect("write small file");
    let paths: Vec<String> = [&png_path, &big_path, &small_path]
        .iter()
        .map(|p| p.to_string_lossy().into_owned())
        .collect();
    let paths: Vec<&str> = paths.iter().map(String::as_str).collect();
    alice
        .tab
        .wait_for_element("#attach-input")
        .expect("file input")
        .set_input_files(&paths)
        .expect("choose files");

    // Alice's history shows the three at once with name and size; they end up sent and ready.
    for (name, size) in [
        (
            "dots.png",
            format!(
                "{}.{} KB",
                png.len() * 10 / 1024 / 10,
                png.len() * 10 / 1024 % 10
            ),
        ),
        ("data.bin", "1.0 MB".to_owned()),
        ("note.txt", "12 B".to_owned()),
    ] {
        wait_until(
            &alice.tab,
            &format!("{name} in Alice's history"),
            &format!(
                "Array.from(document.querySelectorAll('#history .message.mine .attachment')).some(a => a.querySelector('.file-name')?.innerText === {} && a.querySelector('.file-size')?.innerText === {})",
                js(name),
                js(&size)
            ),
        );
    }
    wait_until(
        &alice.tab,
        "Alice's uploads to finish",
        "document.querySelectorAll('#history .message.mine[data-state=\"sent\"] .attachment[data-state=\"ready\"]').length === 3 && !document.querySelector('.upload-progress')",
    );

    // Bob sees the image (its thumbnail, linking to the full picture) and the links.
    let attachment = |name: &str| {
        format!(
            "Array.from(document.querySelectorAll('#history .message.theirs .attachment')).find(a => a.querySelector('.file-name')?.innerText === {})",
            js(name)
        )
    };
    wait_until(
        &bob.tab,
        "the picture in Bob's chat",
        &format!(
            "(() => {{ const a = {}; const img = a?.querySelector('a.file-open img.file-image'); return a?.dataset.state === 'ready' && !!img && img.complete && img.naturalWidth > 0; }})()",
            attachment("dots.png")
        ),
    );
    wait_until(
        &bob.tab,
        "the big file's link in Bob's chat",
        &format!(
            "(() => {{ const a = {}; return a?.dataset.state === 'ready' && !!a.querySelector('a.file-link[href]'); }})()",
            attachment("data.bin")
        ),
    );
    wait_until(
        &bob.tab,
        "the small note's link in Bob's chat",
        &format!(
            "!!{}?.querySelector('a.file-link[href^=\"blob:\"]')",
            attachment("note.txt")
        ),
    );
    snapshot(&bob.tab, "files-bob");

    // What Bob downloads is what Alice chose.
    let href =
        |name: &str, link: &str| format!("{}.querySelector({}).href", attachment(name), js(link));
    assert_eq!(
        fetched_digest(&bob.tab, &href("data.bin", "a.file-link")),
        format!("{}:{}", big.len(), sha256_hex(&big))
    );
    assert_eq!(
        fetched_digest(&bob.tab, &href("dots.png", "a.file-open")),
        format!("{}:{}", png.len(), sha256_hex(&png))
    );
    assert_eq!(
        fetched_digest(&bob.tab, &href("note.txt", "a.file-link")),
        format!("12:{}", sha256_hex(b"a small note"))
    );
    let states = eval_string(&bob.tab, "window.fileStates.join(' ')");
    eprintln!("browser: attachment states Bob saw: {states}");
    // Both uploaded files showed `uploading` first (their messages arrive before the bytes)
    // and `ready` last.
    let mut seen: Vec<(&str, Vec<&str>)> = Vec::new();
    for entry in states.split_whitespace() {
        let (id, state) = entry.split_once(':').expect("id:state");
        match seen.iter_mut().find(|(i, _)| *i == id) {
            Some((_, list)) => list.push(state),
            None => seen.push((id, vec![state])),
        }
    }
    assert_eq!(seen.len(), 2, "two uploaded files: {states}");
    for (id, list) in &seen {
        assert_eq!(list.first(), Some(&"uploading"), "{id}: {states}");
        assert_eq!(list.last(), Some(&"ready"), "{id}: {states}");
        assert!(!list.contains(&"failed"), "{id}: {states}");
    }
}
