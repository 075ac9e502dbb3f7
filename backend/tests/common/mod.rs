//! What the two browser test files share: prerequisites, launching Debian's Chromium with a
//! profile of its own, and small page helpers.

use headless_chrome::protocol::cdp::Page;
use headless_chrome::{Browser, LaunchOptions, Tab};
use std::ffi::OsStr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

pub const CHROMIUM: &str = "/usr/bin/chromium";
pub const WAIT: Duration = Duration::from_secs(20);

pub fn dist_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../dist")
}

/// Returns false (and says why) when the browser tests of `suite` cannot run here: Chromium
/// or one of `dist_files` is missing. With `COURIER_REQUIRE_BROWSER=1` (set by .ci/run) a
/// missing piece fails instead.
pub fn prerequisites_present(suite: &str, dist_files: &[&str]) -> bool {
    let dist_complete = dist_files.iter().all(|f| dist_dir().join(f).exists());
    let missing: Vec<String> = [
        (
            Path::new(CHROMIUM).exists(),
            format!("{CHROMIUM} (apt-get install chromium)"),
        ),
        (
            dist_complete,
            format!("dist/ with {dist_files:?} (scripts/build-frontend.sh)"),
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
    assert!(!required, "{suite} prerequisites missing: {missing:?}");
    eprintln!("SKIPPED {suite}: missing {missing:?}");
    false
}

/// Starts the real server with `config` on 127.0.0.1 (a port of its own) serving the built
/// client, in `runtime`, until the runtime is dropped; returns its port.
pub fn serve(runtime: &tokio::runtime::Runtime, mut config: backend::Config) -> u16 {
    config.listen = "127.0.0.1:0".parse().expect("address");
    config.static_dir = dist_dir();
    let app = runtime
        .block_on(backend::Application::build(config))
        .expect("server builds");
    let port = app.port();
    runtime.spawn(app.run_until_stopped(std::future::pending()));
    port
}

/// One person: a headless Chromium with a profile of its own, and its tab.
pub struct Person {
    _browser: Browser,
    pub tab: Arc<Tab>,
    _profile: tempfile::TempDir,
}

/// Starts a person's browser with the flags every test uses, plus `extra_args`.
pub fn person_with(extra_args: &[&str]) -> Person {
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
    .chain(extra_args)
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
    tab.set_default_timeout(WAIT);
    Person {
        _browser: browser,
        tab,
        _profile: profile,
    }
}

/// A JavaScript string literal.
pub fn js(s: &str) -> String {
    serde_json::to_string(s).expect("a JS string literal")
}

/// A JavaScript expression: whether a message with exactly `text` shows in the history.
pub fn message_visible(text: &str, extra_selector: &str) -> String {
    let selector = format!("#history .message{extra_selector}");
    format!(
        "Array.from(document.querySelectorAll({})).some(m => {{ const c = m.querySelector('.content'); return !!c && c.innerText === {}; }})",
        js(&selector),
        js(text)
    )
}

/// With `COURIER_SCREENSHOTS=DIR`, saves a PNG of the page (frames included) as DIR/NAME.png.
pub fn snapshot(tab: &Tab, name: &str) {
    let Ok(dir) = std::env::var("COURIER_SCREENSHOTS") else {
        return;
    };
    let png = tab
        .capture_screenshot(Page::CaptureScreenshotFormatOption::Png, None, None, true)
        .expect("screenshot");
    std::fs::write(Path::new(&dir).join(format!("{name}.png")), png).expect("write screenshot");
}

pub fn click(tab: &Tab, selector: &str) {
    tab.wait_for_element(selector)
        .unwrap_or_else(|e| panic!("{selector}: {e}"))
        .click()
        .unwrap_or_else(|e| panic!("click {selector}: {e}"));
}
