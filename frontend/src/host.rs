//! The widget's side of the embedding: its options from the query string, the postMessage
//! protocol with the host page (widget.js), and a site's signed identity.
//!
//! Every message is `{courier: 1, type, ...}`. The frame accepts one only when it comes from
//! `window.parent` with the origin given in `?parent=`, and posts only to that origin; it talks
//! to nobody when `location.ancestorOrigins[0]` names another origin. index.html's inline script
//! posts `loaded` and keeps the messages that arrive before the module runs in
//! `window.courierInbox`; `listen` takes them over. `window.courierWidget` counts the messages
//! accepted and ignored (for tests).

use crate::actions::TOKEN_KEY;
use crate::i18n::Lang;
use crate::state::Store;
use crate::{api, util};
use js_sys::{Array, Reflect};
use serde::{Deserialize, Serialize};
use shared::UserId;
use shared::widget::WidgetTarget;
use std::cell::RefCell;
use wasm_bindgen::JsCast;
use wasm_bindgen::prelude::*;
use web_sys::{MessageEvent, Window};

/// The site identity this browser is signed in as: the token's `iss` and `sub`, and the uid.
const IDENTITY_KEY: &str = "courier.identity";
/// Set before the reload that follows an identify; the restarted widget then posts `identified`.
const IDENTIFIED_KEY: &str = "courier.identified";

/// The widget's options (`/widget?target=u:42&color=...&lang=...&greeting=...&title=...&parent=...`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Options {
    /// `None` when `target` is missing or not `u:UID` / `g:GID`.
    pub target: Option<WidgetTarget>,
    /// `#rgb` or `#rrggbb`.
    pub color: Option<String>,
    pub lang: Lang,
    /// Plain text, at most 500 characters.
    pub greeting: Option<String>,
    /// At most 80 characters.
    pub title: Option<String>,
    /// The host page's origin.
    pub parent: Option<String>,
}

impl Options {
    /// Reads the page's query string.
    pub fn from_query() -> Self {
        Self::parse(&|name| util::query_param(name))
    }

    fn parse(param: &dyn Fn(&str) -> Option<String>) -> Self {
        let text = |name, max| {
            param(name)
                .map(|v| v.trim().chars().take(max).collect::<String>())
                .filter(|v| !v.is_empty())
        };
        Options {
            target: param("target").and_then(|t| t.parse().ok()),
            color: param("color").filter(|c| is_color(c)),
            lang: Lang::parse(&param("lang").unwrap_or_default()),
            greeting: text("greeting", 500),
            title: text("title", 80),
            parent: param("parent").filter(|p| !p.is_empty()),
        }
    }
}

/// `#rgb` or `#rrggbb` (nothing else reaches the style attribute).
fn is_color(text: &str) -> bool {
    text.strip_prefix('#').is_some_and(|hex| {
        (hex.len() == 3 || hex.len() == 6) && hex.chars().all(|c| c.is_ascii_hexdigit())
    })
}

/// A message from the host page.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Incoming {
    Open,
    Close,
    Identify(String),
    Logout,
}

thread_local! {
    /// The host page to talk to: its window and origin. `None` when the page is not framed by a
    /// host it may talk to.
    static HOST: RefCell<Option<(Window, String)>> = const { RefCell::new(None) };
}

/// Decides whether to talk to the host page at all: the page must be framed, `parent` given, and
/// the browser's `location.ancestorOrigins[0]` (where it has one) must be that same origin.
/// Returns whether a host is connected.
pub fn connect(parent: Option<&str>) -> bool {
    let Some(window) = web_sys::window() else {
        return false;
    };
    let Some(frame_parent) = window.parent().ok().flatten() else {
        return false;
    };
    let framed = JsValue::from(&frame_parent) != JsValue::from(&window);
    let ancestor = Reflect::get(&window.location(), &"ancestorOrigins".into())
        .ok()
        .filter(|list| list.is_object())
        .and_then(|list| Reflect::get(&list, &0.into()).ok())
        .and_then(|first| first.as_string());
    let Some(parent) = parent.filter(|_| framed) else {
        return false;
    };
    if ancestor.is_some_and(|a| a != parent) {
        return false;
    }
    HOST.with(|h| *h.borrow_mut() = Some((frame_parent, parent.to_owned())));
    true
}

/// Whether the page is in a frame (embedded by some page, talking to it or not).
pub fn framed() -> bool {
    web_sys::window().is_some_and(|w| {
        w.parent()
            .ok()
            .flatten()
            .is_some_and(|p| JsValue::from(&p) != JsValue::from(&w))
    })
}

/// Posts `{courier: 1, type: kind}` plus one field to the host (nothing without a host).
pub fn post(kind: &str, field: Option<(&str, JsValue)>) {
    HOST.with(|h| {
        let Some((window, origin)) = &*h.borrow() else {
            return;
        };
        let message = js_sys::Object::new();
        let _ = Reflect::set(&message, &"courier".into(), &1.into());
        let _ = Reflect::set(&message, &"type".into(), &kind.into());
        if let Some((name, value)) = field {
            let _ = Reflect::set(&message, &name.into(), &value);
        }
        let _ = window.post_message(&message, origin);
    });
}

/// Posts a message carrying a uid (`ready`, `identified`).
pub fn post_uid(kind: &str, uid: UserId) {
    post(kind, Some(("uid", (uid.0 as f64).into())));
}

/// Calls `on_message` with every accepted message from the host, those that arrived before
/// included; counts the accepted and the ignored ones in `window.courierWidget`.
pub fn listen(on_message: impl Fn(Incoming) + 'static) {
    let Some(window) = web_sys::window() else {
        return;
    };
    let counters = js_sys::Object::new();
    for name in ["accepted", "ignored"] {
        let _ = Reflect::set(&counters, &name.into(), &0.into());
    }
    let _ = Reflect::set(&window, &"courierWidget".into(), &counters);
    let handler = Closure::<dyn Fn(MessageEvent)>::new(move |event: MessageEvent| {
        let message = accept(&event);
        let counter = if message.is_some() {
            "accepted"
        } else {
            "ignored"
        };
        let count = Reflect::get(&counters, &counter.into())
            .ok()
            .and_then(|v| v.as_f64())
            .unwrap_or(0.0);
        let _ = Reflect::set(&counters, &counter.into(), &(count + 1.0).into());
        if let Some(message) = message {
            on_message(message);
        }
    });
    let function: &js_sys::Function = handler.as_ref().unchecked_ref();
    let _ = Reflect::set(&window, &"courierOnMessage".into(), function);
    if let Ok(inbox) = Reflect::get(&window, &"courierInbox".into())
        && let Ok(inbox) = inbox.dyn_into::<Array>()
    {
        for event in inbox.iter() {
            let _ = function.call1(&JsValue::NULL, &event);
        }
        inbox.set_length(0);
    }
    // The handler serves the page until it unloads.
    handler.forget();
}

/// The message, if it comes from the host's window and origin and is one of the protocol's.
fn accept(event: &MessageEvent) -> Option<Incoming> {
    let source = JsValue::from(event.source()?);
    let from_host = HOST.with(|h| {
        h.borrow().as_ref().is_some_and(|(window, origin)| {
            source == JsValue::from(window) && event.origin() == *origin
        })
    });
    if !from_host {
        return None;
    }
    let data = event.data();
    if !data.is_object() {
        return None;
    }
    let field = |name: &str| Reflect::get(&data, &name.into()).ok();
    if field("courier")?.as_f64() != Some(1.0) {
        return None;
    }
    match field("type")?.as_string()?.as_str() {
        "open" => Some(Incoming::Open),
        "close" => Some(Incoming::Close),
        "identify" => field("token")?.as_string().map(Incoming::Identify),
        "logout" => Some(Incoming::Logout),
        _ => None,
    }
}

/// The site identity kept in this browser.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
struct Identity {
    iss: String,
    sub: String,
    #[serde(default)]
    uid: Option<UserId>,
}

/// The `iss` and `sub` of an identity token (read, not verified: the server verifies it).
fn claims_of(token: &str) -> Option<Identity> {
    let payload = token.split('.').nth(1)?;
    // From text, not bytes: one copy of the JSON reader in the module.
    let text = String::from_utf8(base64url(payload)?).ok()?;
    let claims: Identity = serde_json::from_str(&text).ok()?;
    Some(Identity {
        uid: None,
        ..claims
    })
}

/// Decodes base64url (padding optional).
fn base64url(text: &str) -> Option<Vec<u8>> {
    let mut out = Vec::with_capacity(text.len() * 3 / 4);
    let (mut bits, mut count) = (0u32, 0u32);
    for c in text.trim_end_matches('=').bytes() {
        let value = match c {
            b'A'..=b'Z' => c - b'A',
            b'a'..=b'z' => c - b'a' + 26,
            b'0'..=b'9' => c - b'0' + 52,
            b'-' | b'+' => 62,
            b'_' | b'/' => 63,
            _ => return None,
        };
        bits = (bits << 6) | u32::from(value);
        count += 6;
        if count >= 8 {
            count -= 8;
            out.push((bits >> count) as u8);
        }
    }
    Some(out)
}

fn stored_identity() -> Option<Identity> {
    serde_json::from_str(&util::storage_get(IDENTITY_KEY)?).ok()
}

/// Once signed in as `uid`: forgets a stored identity that belongs to another user, and posts
/// `identified` when this start follows an identify.
pub fn signed_in(uid: UserId) {
    if stored_identity().is_some_and(|i| i.uid != Some(uid)) {
        util::storage_remove(IDENTITY_KEY);
    }
    if util::storage_get(IDENTIFIED_KEY).is_some() {
        util::storage_remove(IDENTIFIED_KEY);
        post_uid("identified", uid);
    }
}

/// `identify`: signs in as the site's user, unless this browser already is that user, and
/// restarts the widget as them (the restarted widget posts `identified`). A refusal posts
/// `identify_failed` with the error code.
pub async fn identify(store: Store, token: String) {
    let me = store.my_uid();
    let claims = claims_of(&token);
    if let (Some(claims), Some(held), Some(me)) = (&claims, stored_identity(), me)
        && held.iss == claims.iss
        && held.sub == claims.sub
        && held.uid == Some(me)
    {
        post_uid("identified", me);
        return;
    }
    match api::identify(&token).await {
        Ok(session) => {
            util::storage_set(TOKEN_KEY, &session.token);
            match claims {
                Some(claims) => {
                    let identity = Identity {
                        uid: Some(session.uid),
                        ..claims
                    };
                    if let Ok(text) = serde_json::to_string(&identity) {
                        util::storage_set(IDENTITY_KEY, &text);
                    }
                }
                None => util::storage_remove(IDENTITY_KEY),
            }
            util::storage_set(IDENTIFIED_KEY, "1");
            reload();
        }
        Err(error) => {
            let code = match error {
                api::ClientError::Server { code, .. } if !code.is_empty() => code,
                api::ClientError::Timeout => "timeout".to_owned(),
                _ => "network".to_owned(),
            };
            post("identify_failed", Some(("code", code.into())));
        }
    }
}

/// `logout`: forgets the site identity and restarts as a fresh guest (the new guest's cookie
/// replaces the old one; its token replaces the stored bearer token).
pub async fn logout(store: Store) {
    match api::create_guest().await {
        Ok(guest) => {
            util::storage_remove(IDENTITY_KEY);
            util::storage_remove(IDENTIFIED_KEY);
            util::storage_set(TOKEN_KEY, &guest.token);
            reload();
        }
        Err(error) => store.show_error(crate::i18n::error(&error)),
    }
}

fn reload() {
    if let Some(window) = web_sys::window() {
        let _ = window.location().reload();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn options_keep_only_valid_values_and_clip_the_texts() {
        let long = "x".repeat(600);
        let param = |name: &str| {
            match name {
                "target" => Some("g:7"),
                "color" => Some("red;background:url(x)"),
                "lang" => Some("fr"),
                "greeting" => Some(long.as_str()),
                "title" => Some("  "),
                "parent" => Some("https://shop.example"),
                _ => None,
            }
            .map(str::to_owned)
        };
        let options = Options::parse(&param);
        assert_eq!(
            options.target,
            Some(WidgetTarget::Group(shared::GroupId(7)))
        );
        assert_eq!(options.color, None);
        assert_eq!(options.lang, Lang::Fr);
        assert_eq!(options.greeting.map(|g| g.chars().count()), Some(500));
        assert_eq!(options.title, None);
        assert_eq!(options.parent.as_deref(), Some("https://shop.example"));
        let none = Options::parse(&|_| None);
        assert_eq!((none.target, none.lang), (None, Lang::En));
    }

    #[test]
    fn only_hex_colours_pass() {
        for good in ["#abc", "#2f6fed", "#ABCDEF"] {
            assert!(is_color(good), "{good}");
        }
        for bad in ["abc", "#abcd", "#ggg", "#2f6fed;x:y", "", "#"] {
            assert!(!is_color(bad), "{bad}");
        }
    }

    #[test]
    fn the_iss_and_sub_are_read_from_the_token_payload() {
        // {"alg":"HS256","typ":"JWT"} . {"iss":"shop","sub":"u-1","exp":1,"name":"Ann"} . sig
        let token = "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.\
                     eyJpc3MiOiJzaG9wIiwic3ViIjoidS0xIiwiZXhwIjoxLCJuYW1lIjoiQW5uIn0.c2ln";
        let claims = claims_of(token).expect("decodes");
        assert_eq!((claims.iss.as_str(), claims.sub.as_str()), ("shop", "u-1"));
        assert_eq!(claims_of("not a token"), None);
        assert_eq!(claims_of("a.!!!.c"), None);
        assert_eq!(base64url("aGk"), Some(b"hi".to_vec()));
        assert_eq!(base64url("aGk="), Some(b"hi".to_vec()));
    }
}
