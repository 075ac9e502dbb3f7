//! The left column: the "new chat" form and the conversation list.

use crate::actions;
use crate::components::{dynamic, memo};
use crate::state::{ChatKey, use_store};
use crate::util;
use leptos::ev::{KeyboardEvent, SubmitEvent};
use leptos::prelude::*;
use shared::{ConversationSummary, UserId};

/// New-chat form above the conversation list.
#[component]
pub fn Sidebar() -> impl IntoView {
    view! {
        <aside class="sidebar">
            <NewChatForm />
            <ConversationList />
        </aside>
    }
}

/// Opens a chat with a uid: its conversation if one exists, else a draft.
#[component]
fn NewChatForm() -> impl IntoView {
    let store = use_store();
    let uid_text = RwSignal::new(String::new());
    let error = RwSignal::new(None::<String>);
    let input = NodeRef::<leptos::html::Input>::new();

    let open = move |ev: SubmitEvent| {
        ev.prevent_default();
        // Read the field itself, so a value set without an input event still counts.
        let text = input
            .get_untracked()
            .map(|el| el.value())
            .unwrap_or_else(|| uid_text.get_untracked());
        match text.trim().parse::<i64>() {
            Ok(n) if n > 0 => {
                let peer = UserId(n);
                if Some(peer) == store.my_uid() {
                    error.set(Some("That is your own uid: enter someone else's.".into()));
                    return;
                }
                error.set(None);
                uid_text.set(String::new());
                actions::open_chat(store, ChatKey::User(peer));
            }
            _ => error.set(Some("Enter a user's number (uid).".into())),
        }
    };

    view! {
        <form class="new-chat" on:submit=open>
            <label for="new-chat-uid">"Start a chat"</label>
            <div class="new-chat-row">
                <input
                    id="new-chat-uid"
                    type="text"
                    inputmode="numeric"
                    autocomplete="off"
                    placeholder="uid, e.g. 42"
                    node_ref=input
                    prop:value=move || uid_text.get()
                    on:input=move |ev| uid_text.set(event_target_value(&ev))
                />
                <button id="new-chat-open" type="submit">
                    "Open"
                </button>
            </div>
            {dynamic(move || error.get().map(|e| view! { <p class="form-error">{e}</p> }))}
        </form>
    }
}

/// Conversations, newest activity first.
#[component]
fn ConversationList() -> impl IntoView {
    let store = use_store();
    let conversations = move || store.conversations.get();
    // Memos, as `<Show>` had: the list is built again only when one of them flips.
    let loaded = memo(move || store.conversations_loaded.get());
    let any = memo(move || store.conversations.with(|c| !c.is_empty()));
    view! {
        <nav class="conversations" aria-label="Conversations">
            {dynamic(move || {
                if !loaded.get() {
                    view! { <p class="empty">"Loading conversations…"</p> }.into_any()
                } else if !any.get() {
                    view! { <p class="empty">"No conversations yet — start one with a uid"</p> }
                        .into_any()
                } else {
                    view! {
                    <ul class="conversation-list">
                        <For
                            each=conversations
                            key=|c| {
                                (
                                    c.id.clone(),
                                    c.last_message.as_ref().map(|m| m.msg_id),
                                    c.unread,
                                    c.peer.as_ref().map(|p| p.nick_name.clone()),
                                    c.group.as_ref().map(|g| g.gname.clone()),
                                )
                            }
                            children=move |summary| view! { <ConversationItem summary /> }
                        />
                    </ul>
                    }
                    .into_any()
                }
            })}
        </nav>
    }
}

/// One conversation: peer or group, last message, time, unread count.
#[component]
fn ConversationItem(summary: ConversationSummary) -> impl IntoView {
    let store = use_store();
    let Some(key) = ChatKey::of(&summary) else {
        return ().into_any();
    };
    let active = move || store.open_chat.get() == Some(key);
    let (peer, gid) = match key {
        ChatKey::User(uid) => (Some(uid.0.to_string()), None),
        ChatKey::Group(gid) => (None, Some(gid.0.to_string())),
    };
    let listed_name = summary
        .peer
        .as_ref()
        .map(|p| p.nick_name.clone())
        .or_else(|| summary.group.as_ref().map(|g| g.gname.clone()))
        .unwrap_or_default();
    let nick = move || match key {
        ChatKey::Group(gid) => store.group_name(gid).unwrap_or_else(|| listed_name.clone()),
        ChatKey::User(_) => listed_name.clone(),
    };
    let initial = {
        let nick = nick.clone();
        move || initial_of(&nick())
    };
    let last = summary.last_message.as_ref();
    let mine = last.is_some_and(|m| Some(m.sender) == store.my_uid());
    let group_sender = last
        .filter(|_| !mine && matches!(key, ChatKey::Group(_)))
        .map(|m| m.sender);
    if let Some(uid) = group_sender {
        crate::social::want_profiles(store, vec![uid]);
    }
    let preview = last
        .map(|m| match m.msg_type {
            shared::MsgType::Text => m.content.clone(),
            _ => crate::files::preview(&m.content),
        })
        .unwrap_or_default();
    let time = last.map(|m| util::format_short(m.time)).unwrap_or_default();
    let unread = summary.unread;
    let open = move || actions::open_chat(store, key);

    view! {
        <li
            class="conversation-item"
            class:active=active
            class:group=gid.is_some()
            data-conversation=summary.id.0.clone()
            data-peer=peer
            data-gid=gid
            role="button"
            tabindex="0"
            aria-current=move || active().then_some("true")
            on:click=move |_| open()
            on:keydown=move |ev: KeyboardEvent| {
                if ev.key() == "Enter" || ev.key() == " " {
                    ev.prevent_default();
                    open();
                }
            }
        >
            <span class="avatar" class:group=matches!(key, ChatKey::Group(_)) aria-hidden="true">
                {initial}
            </span>
            <div class="conversation-main">
                <div class="conversation-top">
                    <span class="peer-nick">{nick.clone()}</span>
                    <span class="conversation-time">{time}</span>
                </div>
                <div class="conversation-bottom">
                    <span class="preview">
                        {mine.then_some(view! { <span class="preview-you">"You: "</span> })}
                        {group_sender
                            .map(|uid| {
                                view! {
                                    <span class="preview-you">
                                        {dynamic(move || {
                                            format!(
                                                "{}: ",
                                                store.nick_of(uid).unwrap_or_else(|| format!("uid {uid}")),
                                            )
                                        })}
                                    </span>
                                }
                            })}
                        <span class="preview-text">{preview}</span>
                    </span>
                    {(unread > 0)
                        .then(|| {
                            view! {
                                <span class="unread" aria-label=format!("{unread} unread")>
                                    {unread}
                                </span>
                            }
                        })}
                </div>
            </div>
        </li>
    }
    .into_any()
}

/// The first letter of a nick, for the avatar.
pub fn initial_of(nick: &str) -> String {
    nick.chars()
        .find(|c| c.is_alphanumeric())
        .map(|c| c.to_uppercase().collect())
        .unwrap_or_else(|| "?".into())
}
