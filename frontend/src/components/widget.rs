//! The embeddable widget's layout (`/widget?target=...`, in an iframe that widget.js puts on a
//! host page): a compact header (title, online dot or "we'll reply here", close button), the
//! greeting, and the full app's chat view for one fixed target. Same store, sync loop, sign-in
//! and chat components as the full app; only the frame around them differs.
//!
//! The host tells the widget when its panel opens and closes; the chat counts as seen (and is
//! marked read) only while the panel is open and the page is visible. The widget tells the host
//! its unread count, when it is ready, and when its close button is pressed (see `host`).

use super::app::mark_open_chat_read;
use super::chat::ChatView;
use super::header::Banner;
use crate::components::{dynamic, effect, memo};
use crate::host::{self, Incoming, Options};
use crate::i18n::{self, t};
use crate::state::{ChatKey, GroupLists, Store, SyncState, provide_store};
use crate::{actions, api, social, sync, util};
use leptos::prelude::*;
use leptos::task::spawn_local;
use shared::contacts::RequestState;
use shared::groups::JoinResult;
use shared::widget::WidgetTarget;
use shared::{ErrorCode, GroupId, UserId};
use std::time::Duration;
use wasm_bindgen::JsCast;

/// How often the target user's presence is re-read while the panel is open.
const PRESENCE_EVERY: Duration = Duration::from_secs(30);

/// Where the widget stands with its target.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Status {
    /// Signing in, or finding out whether we are in the group.
    Starting,
    /// The chat is shown.
    Chat,
    /// Our request to join the group waits for an admin.
    Pending,
    InviteOnly,
    /// No such user or group.
    Missing,
    /// The target is not `u:UID` / `g:GID`.
    BadTarget,
    /// The target is the signed-in user (the operator previewing their own widget).
    Yourself,
}

impl Status {
    fn as_str(self) -> &'static str {
        match self {
            Status::Starting => "starting",
            Status::Chat => "chat",
            Status::Pending => "pending",
            Status::InviteOnly => "invite_only",
            Status::Missing => "missing",
            Status::BadTarget => "bad_target",
            Status::Yourself => "yourself",
        }
    }
}

/// Whether the target user shows as online to us.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Presence {
    Unknown,
    Online,
    Offline,
    /// They do not show it to us (403): treated like offline.
    Hidden,
}

impl Presence {
    fn as_str(self) -> &'static str {
        match self {
            Presence::Unknown => "unknown",
            Presence::Online => "online",
            Presence::Offline => "offline",
            Presence::Hidden => "hidden",
        }
    }
}

/// The whole widget page.
#[component]
pub fn Widget() -> impl IntoView {
    let options = Options::from_query();
    i18n::set(options.lang);
    if let Some(root) = web_sys::window()
        .and_then(|w| w.document())
        .and_then(|d| d.document_element())
    {
        let _ = root.set_attribute("lang", options.lang.code());
    }
    let store = provide_store();
    let talking = host::connect(options.parent.as_deref());
    // Without a host to say otherwise (opened on its own, or framed without widget.js), the
    // panel counts as open; a host that may not talk to us never opens it.
    let open = RwSignal::new(!talking && (!host::framed() || options.parent.is_none()));
    let page_visible = RwSignal::new(util::page_visible());
    let visibility = window_event_listener_untyped("visibilitychange", move |_| {
        page_visible.set(util::page_visible());
    });
    on_cleanup(move || visibility.remove());
    effect(move || store.visible.set(open.get() && page_visible.get()));

    let status = RwSignal::new(Status::Starting);
    let presence = RwSignal::new(Presence::Unknown);
    let key = options.target.map(|target| match target {
        WidgetTarget::User(uid) => ChatKey::User(uid),
        WidgetTarget::Group(gid) => ChatKey::Group(gid),
    });
    match key {
        Some(key) => {
            sync::start(store);
            mark_open_chat_read(store);
            resolve(store, key, status);
        }
        None => status.set(Status::BadTarget),
    }

    let refresh = move || {
        if let Some(ChatKey::User(uid)) = key {
            spawn_local(read_presence(store, uid, presence, status));
        }
    };
    host::listen(move |message| match message {
        Incoming::Open => {
            open.set(true);
            refresh();
            focus_composer();
        }
        Incoming::Close => open.set(false),
        Incoming::Identify(token) => spawn_local(host::identify(store, token)),
        Incoming::Logout => spawn_local(host::logout(store)),
    });
    if let Ok(handle) = set_interval_with_handle(
        move || {
            if open.get_untracked() {
                refresh();
            }
        },
        PRESENCE_EVERY,
    ) {
        on_cleanup(move || handle.clear());
    }

    // Once signed in and the target is resolved: `ready` (once), a pending `identified`, and
    // the presence.
    Effect::new(move |done: Option<bool>| {
        if done == Some(true) {
            return true;
        }
        let (Some(uid), current) = (store.me.with(|m| m.as_ref().map(|m| m.uid)), status.get())
        else {
            return false;
        };
        if current == Status::Starting {
            return false;
        }
        host::post_uid("ready", uid);
        host::signed_in(uid);
        refresh();
        true
    });
    // The unread count of the target's conversation, 0 while it is seen.
    let unread = memo(move || {
        let Some(key) = key.filter(|_| !store.visible.get()) else {
            return 0;
        };
        store.conversations.with(|list| {
            list.iter()
                .find(|c| ChatKey::of(c) == Some(key))
                .map_or(0, |c| c.unread.max(0))
        })
    });
    effect(move || host::post("unread", Some(("count", (unread.get() as f64).into()))));

    let escape = window_event_listener_untyped("keydown", move |ev| {
        let escape = ev
            .dyn_ref::<web_sys::KeyboardEvent>()
            .is_some_and(|ev| ev.key() == "Escape" && !ev.is_composing());
        if escape && open.get_untracked() {
            host::post("close_request", None);
        }
    });
    on_cleanup(move || escape.remove());

    let style = options
        .color
        .as_ref()
        .map(|c| format!("--accent:{c};--mine:{c}"));
    let greeting = options.greeting.clone();
    let title = options.title.clone();
    let name = move || match key {
        Some(ChatKey::User(uid)) => store.nick_of(uid).or_else(|| {
            // The operator previewing their own widget.
            store.me.with(|m| {
                m.as_ref()
                    .filter(|m| m.uid == uid)
                    .map(|m| m.nick_name.clone())
            })
        }),
        Some(ChatKey::Group(gid)) => store.group_name(gid),
        None => None,
    };
    let title = dynamic(move || {
        title
            .clone()
            .or_else(name)
            .unwrap_or_else(|| t(&i18n::CHAT).to_owned())
    });
    view! {
        <div
            id="widget"
            class="widget"
            style=style
            data-target=options.target.map(|target| target.to_string())
            data-status=move || status.get().as_str()
            data-open=move || open.get().to_string()
        >
            <header class="widget-header">
                <div class="widget-heading">
                    <div id="widget-title" class="widget-title">{title}</div>
                    <StatusLine store presence />
                </div>
                <button
                    id="widget-close"
                    class="widget-close"
                    type="button"
                    aria-label=t(&i18n::CLOSE)
                    title=t(&i18n::CLOSE)
                    hidden=!talking
                    on:click=|_| host::post("close_request", None)
                >
                    "×"
                </button>
            </header>
            <Banner />
            {dynamic(move || {
                let key = key.filter(|_| status.get() == Status::Chat)?;
                Some(view! { <ChatView key bare=true greeting=greeting.clone() /> }.into_any())
            })}
            <Notice store status key greeting=options.greeting />
        </div>
    }
}

/// Under the title: online, or "we'll reply here", or the connection state.
#[component]
fn StatusLine(store: Store, presence: RwSignal<Presence>) -> impl IntoView {
    let text = dynamic(move || match (store.sync.get(), presence.get()) {
        (SyncState::Reconnecting, _) => t(&i18n::RECONNECTING),
        (_, Presence::Online) => t(&i18n::ONLINE),
        (_, Presence::Offline | Presence::Hidden) => t(&i18n::REPLY_HERE),
        (SyncState::Connecting, _) => t(&i18n::CONNECTING),
        _ => "",
    });
    view! {
        <div
            id="widget-presence"
            class="widget-status"
            data-presence=move || presence.get().as_str()
            role="status"
        >
            <span class="dot" aria-hidden="true" hidden=move || presence.get() != Presence::Online></span>
            {text}
        </div>
    }
}

/// Instead of the chat (hidden once it shows): the greeting and why there is no chat (yet).
#[component]
fn Notice(
    store: Store,
    status: RwSignal<Status>,
    key: Option<ChatKey>,
    greeting: Option<String>,
) -> impl IntoView {
    let text = dynamic(move || {
        let declined = match key {
            Some(ChatKey::Group(gid)) => store.group_lists.with(
                |GroupLists {
                     my_join_requests: m,
                     ..
                 }| {
                    m.get(&gid)
                        .is_some_and(|r| r.state == RequestState::Rejected)
                },
            ),
            _ => false,
        };
        t(match status.get() {
            Status::Pending if declined => &i18n::DECLINED,
            Status::Starting | Status::Chat => &i18n::CONNECTING,
            Status::Pending => &i18n::WAITING,
            Status::InviteOnly => &i18n::INVITE_ONLY,
            Status::Missing => &i18n::MISSING,
            Status::BadTarget => &i18n::BAD_TARGET,
            Status::Yourself => &i18n::SELF,
        })
    });
    view! {
        <div class="widget-body history" hidden=move || status.get() == Status::Chat>
            {greeting.map(|text| view! { <p id="greeting" class="greeting">{text}</p> })}
            <div id="widget-notice" class="widget-notice" data-status=move || status.get().as_str()>
                <p class="widget-notice-title">{text}</p>
                <p class="muted" hidden=move || status.get() != Status::Pending>
                    {t(&i18n::WAITING_HINT)}
                </p>
            </div>
        </div>
    }
}

/// Finds out how the widget stands with its target once signed in: a user's chat opens at
/// once; a group's after joining it when we are not a member yet.
fn resolve(store: Store, key: ChatKey, status: RwSignal<Status>) {
    let joining = StoredValue::new(false);
    effect(move || {
        let Some(me) = store.me.with(|m| m.as_ref().map(|m| m.uid)) else {
            return;
        };
        if status.get_untracked() != Status::Starting {
            return;
        }
        match key {
            ChatKey::User(uid) if uid == me => status.set(Status::Yourself),
            ChatKey::User(_) => {
                actions::open_chat(store, key);
                status.set(Status::Chat);
            }
            // Decided once the group list is current.
            ChatKey::Group(gid) => {
                if store.lists_synced.get() && !joining.get_value() {
                    joining.set_value(true);
                    spawn_local(join(store, gid, status));
                }
            }
        }
    });
    if let ChatKey::Group(gid) = key {
        // A pending request that an admin approves shows up in the group list.
        effect(move || {
            let member = store.groups.with(|g| g.contains(&gid));
            if member && status.get() == Status::Pending {
                actions::open_chat(store, key);
                status.set(Status::Chat);
            }
        });
    }
}

/// Opens the group's chat, joining the group first when we are not a member.
async fn join(store: Store, gid: GroupId, status: RwSignal<Status>) {
    let next = joined(store, gid).await;
    if status.get_untracked() == Status::Starting {
        if next == Status::Chat {
            actions::open_chat(store, ChatKey::Group(gid));
        }
        status.set(next);
    }
}

/// Where we stand with the group after joining it if need be (network errors are retried).
async fn joined(store: Store, gid: GroupId) -> Status {
    let mut failures = 0;
    loop {
        if store.groups.with_untracked(|g| g.contains(&gid)) {
            return Status::Chat;
        }
        match social::join_group(store, gid, String::new()).await {
            Ok(JoinResult::Joined) => return Status::Chat,
            Ok(JoinResult::Pending) => return Status::Pending,
            Err(e) if e.is(ErrorCode::AlreadyMember) => {
                spawn_local(social::sync_lists(store, false));
                return Status::Chat;
            }
            Err(e) if e.is(ErrorCode::InviteOnly) => return Status::InviteOnly,
            Err(e) if e.is_client_error() => {
                if !e.is(ErrorCode::GroupNotFound) {
                    store.show_error(i18n::error(&e));
                }
                return Status::Missing;
            }
            Err(e) => {
                failures += 1;
                if failures == 3 {
                    store.show_error(i18n::error(&e));
                }
                util::sleep(Duration::from_secs(5)).await;
            }
        }
    }
}

/// `GET /api/users/{uid}/presence` into `presence` (a missing user ends the chat).
async fn read_presence(
    store: Store,
    uid: UserId,
    presence: RwSignal<Presence>,
    status: RwSignal<Status>,
) {
    if store.my_uid().is_none() || status.get_untracked() == Status::Yourself {
        return;
    }
    match api::user_presence(uid).await {
        Ok(p) => presence.set(if p.online {
            Presence::Online
        } else {
            Presence::Offline
        }),
        Err(e) if e.is(ErrorCode::ForbiddenByPrivacy) => presence.set(Presence::Hidden),
        Err(e) if e.is(ErrorCode::UnknownUser) => status.set(Status::Missing),
        // Unknown for now; the next refresh tries again.
        Err(_) => {}
    }
}

/// Puts the cursor in the message field (when the panel opens).
fn focus_composer() {
    let field = web_sys::window()
        .and_then(|w| w.document())
        .and_then(|d| d.get_element_by_id("composer"))
        .and_then(|e| e.dyn_into::<web_sys::HtmlElement>().ok());
    if let Some(field) = field {
        let _ = field.focus();
    }
}
