//! Small browser helpers: timers, storage, random ids and time formatting. Nothing here talks to
//! the server (that is `api.rs`).

use std::time::Duration;
use wasm_bindgen_futures::JsFuture;

/// The browser window, if there is one (there always is in the app; tests on the host have none).
fn window() -> Option<web_sys::Window> {
    web_sys::window()
}

/// Waits `duration` without blocking the page.
pub async fn sleep(duration: Duration) {
    let ms = i32::try_from(duration.as_millis()).unwrap_or(i32::MAX);
    let promise = js_sys::Promise::new(&mut |resolve, _reject| {
        if let Some(window) = window() {
            // If the timer cannot be set, resolve at once rather than hang forever.
            if window
                .set_timeout_with_callback_and_timeout_and_arguments_0(&resolve, ms)
                .is_err()
            {
                let _ = resolve.call0(&wasm_bindgen::JsValue::NULL);
            }
        }
    });
    let _ = JsFuture::from(promise).await;
}

/// Waits for the browser's `online` event (the network came back).
pub async fn wait_for_online() {
    let promise = js_sys::Promise::new(&mut |resolve, _reject| {
        if let Some(window) = window() {
            let options = web_sys::AddEventListenerOptions::new();
            options.set_once(true);
            let _ = window.add_event_listener_with_callback_and_add_event_listener_options(
                "online", &resolve, &options,
            );
        }
    });
    let _ = JsFuture::from(promise).await;
}

/// `localStorage`, when the browser allows it (it may not in a sandboxed iframe).
fn local_storage() -> Option<web_sys::Storage> {
    window()?.local_storage().ok().flatten()
}

/// Reads a `localStorage` entry.
pub fn storage_get(key: &str) -> Option<String> {
    local_storage()?.get_item(key).ok().flatten()
}

/// Writes a `localStorage` entry; storage failures (quota, privacy mode) are ignored, since the
/// stored values are only a cache the server can rebuild.
pub fn storage_set(key: &str, value: &str) {
    if let Some(storage) = local_storage() {
        let _ = storage.set_item(key, value);
    }
}

/// Removes a `localStorage` entry.
pub fn storage_remove(key: &str) {
    if let Some(storage) = local_storage() {
        let _ = storage.remove_item(key);
    }
}

/// A fresh idempotency key: 16 random bytes as 32 hex digits (within `[A-Za-z0-9_-]{1,64}`).
pub fn random_id() -> String {
    let mut bytes = [0u8; 16];
    let filled = window()
        .and_then(|w| w.crypto().ok())
        .is_some_and(|crypto| crypto.get_random_values_with_u8_array(&mut bytes).is_ok());
    if !filled {
        for byte in &mut bytes {
            *byte = (js_sys::Math::random() * 256.0) as u8;
        }
    }
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Now, in milliseconds since the Unix epoch.
pub fn now_millis() -> i64 {
    js_sys::Date::now() as i64
}

/// `HH:MM` in the browser's time zone.
pub fn format_clock(millis: i64) -> String {
    let date = js_sys::Date::new(&wasm_bindgen::JsValue::from_f64(millis as f64));
    format!("{:02}:{:02}", date.get_hours(), date.get_minutes())
}

/// `HH:MM` for today, otherwise the date (`YYYY-MM-DD`): for the conversation list.
pub fn format_short(millis: i64) -> String {
    let date = js_sys::Date::new(&wasm_bindgen::JsValue::from_f64(millis as f64));
    let today = js_sys::Date::new_0();
    let same_day = date.get_full_year() == today.get_full_year()
        && date.get_month() == today.get_month()
        && date.get_date() == today.get_date();
    if same_day {
        format_clock(millis)
    } else {
        format!(
            "{:04}-{:02}-{:02}",
            date.get_full_year(),
            date.get_month() + 1,
            date.get_date()
        )
    }
}

/// Whether the page is visible (not a background tab).
pub fn page_visible() -> bool {
    window()
        .and_then(|w| w.document())
        .is_none_or(|d| d.visibility_state() == web_sys::VisibilityState::Visible)
}

/// The page's origin, e.g. `https://chat.example` (for invite links).
pub fn origin() -> String {
    window()
        .and_then(|w| w.location().origin().ok())
        .unwrap_or_default()
}

/// A parameter of the page's query string (`?add=CODE`, `?join=GID`).
pub fn query_param(name: &str) -> Option<String> {
    let search = window()?.location().search().ok()?;
    search.trim_start_matches('?').split('&').find_map(|pair| {
        let (key, value) = pair.split_once('=')?;
        (key == name).then(|| {
            js_sys::decode_uri_component(value)
                .map(String::from)
                .unwrap_or_else(|_| value.to_owned())
        })
    })
}

/// Removes the query string from the address bar (after an invite link was handled), without
/// reloading.
pub fn clear_query() {
    if let Some(window) = window()
        && let Ok(history) = window.history()
    {
        let _ = history.replace_state_with_url(&wasm_bindgen::JsValue::NULL, "", Some("/"));
    }
}

/// Copies text to the clipboard. Returns false when the browser refuses.
pub async fn copy_text(text: &str) -> bool {
    let Some(window) = window() else {
        return false;
    };
    let promise = window.navigator().clipboard().write_text(text);
    JsFuture::from(promise).await.is_ok()
}

/// Records a number or text under `window.courierDebug[key]`: what the client did, for tests
/// and for people looking at the console (never message text or tokens).
pub fn debug_set(key: &str, value: wasm_bindgen::JsValue) {
    let Some(window) = window() else {
        return;
    };
    let name = wasm_bindgen::JsValue::from_str("courierDebug");
    let object = match js_sys::Reflect::get(&window, &name) {
        Ok(v) if v.is_object() => v,
        _ => {
            let v: wasm_bindgen::JsValue = js_sys::Object::new().into();
            let _ = js_sys::Reflect::set(&window, &name, &v);
            v
        }
    };
    let _ = js_sys::Reflect::set(&object, &wasm_bindgen::JsValue::from_str(key), &value);
}

/// Adds `by` to the number `window.courierDebug[key]`.
pub fn debug_add(key: &str, by: f64) {
    let current = window()
        .and_then(|w| js_sys::Reflect::get(&w, &"courierDebug".into()).ok())
        .filter(|o| o.is_object())
        .and_then(|o| js_sys::Reflect::get(&o, &key.into()).ok())
        .and_then(|v| v.as_f64())
        .unwrap_or(0.0);
    debug_set(key, (current + by).into());
}
