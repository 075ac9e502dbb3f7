//! The right column: the open chat's header, history and composer.

use super::sidebar::initial_of;
use crate::actions;
use crate::components::{dynamic, effect, memo, shown};
use crate::files::{self, AttachmentView};
use crate::i18n::{self, t};
use crate::state::{ChatKey, ChatMessage, SendState, Store, Tab, use_store};
use crate::{social, util};
use leptos::ev::{ClipboardEvent, DragEvent, KeyboardEvent, SubmitEvent};
use leptos::html;
use leptos::prelude::*;
use leptos::task::spawn_local;
use shared::MsgType;

/// Distance from the bottom (px) within which new messages keep the view scrolled down.
const STICK_TO_BOTTOM_PX: i32 = 80;
/// Distance from the top (px) at which older history is loaded.
const LOAD_OLDER_PX: i32 = 60;

/// The open chat, or a hint when none is open.
#[component]
pub fn ChatPane() -> impl IntoView {
    let store = use_store();
    // A memo, so opening the chat that is already open does not rebuild it.
    let open = memo(move || store.open_chat.get());
    view! {
        <section class="chat-pane">
            {dynamic(move || match open.get() {
                Some(key) => view! { <ChatView key /> }.into_any(),
                None => {
                    view! {
                        <div class="chat-placeholder">
                            <p class="placeholder-title">"No chat open"</p>
                            <p>"Pick a conversation on the left, or start a new one with a uid."</p>
                        </div>
                    }
                        .into_any()
                }
            })}
        </section>
    }
}

/// One chat: header, history, typing note, composer. The widget shows it `bare` (it has its own
/// header) and with its `greeting` as a note at the top of the history.
#[component]
pub(crate) fn ChatView(
    key: ChatKey,
    #[prop(optional)] bare: bool,
    #[prop(default = None)] greeting: Option<String>,
) -> impl IntoView {
    let store = use_store();
    let name = memo(move || match key {
        ChatKey::User(uid) => store
            .conversations
            .with(|list| {
                list.iter()
                    .filter_map(|c| c.peer.as_ref())
                    .find(|p| p.uid == uid)
                    .map(|p| p.nick_name.clone())
            })
            .or_else(|| store.nick_of(uid)),
        ChatKey::Group(gid) => store.group_name(gid),
    });
    if let ChatKey::User(uid) = key {
        social::want_profiles(store, vec![uid]);
    }
    let (peer, gid) = match key {
        ChatKey::User(uid) => (Some(uid.0.to_string()), None),
        ChatKey::Group(gid) => (None, Some(gid.0.to_string())),
    };
    let title = dynamic(move || {
        name.get().unwrap_or_else(|| match key {
            ChatKey::User(uid) => format!("uid {uid}"),
            ChatKey::Group(gid) => format!("group {gid}"),
        })
    });
    let subtitle = dynamic(move || match key {
        ChatKey::Group(gid) => format!("group {gid}"),
        ChatKey::User(uid) => {
            let known = store
                .threads
                .with(|t| t.get(&key).is_some_and(|t| t.conversation.is_some()));
            if known {
                format!("uid {uid}")
            } else {
                "new chat — your first message starts the conversation".to_owned()
            }
        }
    });
    let details = move |_| {
        if let ChatKey::Group(gid) = key {
            store.selected_group.set(Some(gid));
            store.go(Tab::Groups);
        }
    };
    view! {
        <div
            id="chat"
            class="chat"
            data-peer=peer
            data-gid=gid
            on:dragover=|ev: DragEvent| ev.prevent_default()
            on:drop=move |ev: DragEvent| {
                ev.prevent_default();
                files::send_list(store, key, ev.data_transfer().and_then(|d| d.files()));
            }
        >
            <div class="chat-header" hidden=bare>
                <span class="avatar" class:group=matches!(key, ChatKey::Group(_)) aria-hidden="true">
                    {dynamic(move || name.get().map_or_else(|| "#".to_owned(), |n| initial_of(&n)))}
                </span>
                <div class="chat-heading">
                    <div class="chat-title">{title}</div>
                    <div class="chat-subtitle">{subtitle}</div>
                </div>
                {matches!(key, ChatKey::Group(_))
                    .then(|| {
                        view! {
                            <button
                                id="chat-group-details"
                                class="secondary"
                                type="button"
                                on:click=details
                            >
                                "Group info"
                            </button>
                        }
                    })}
            </div>
            <History key greeting />
            <TypingNote key />
            <Composer key />
        </div>
    }
}

/// The scrollable message history. Scrolling to the top loads older pages; new messages keep
/// the view at the bottom when it already was there.
#[component]
fn History(key: ChatKey, greeting: Option<String>) -> impl IntoView {
    let store = use_store();
    let history = NodeRef::<html::Div>::new();
    // Whether the view was near the bottom at the last scroll: new messages then scroll it down.
    let stick = StoredValue::new(true);

    let messages = move || {
        store
            .threads
            .with(|t| t.get(&key).map(|t| t.messages.clone()).unwrap_or_default())
    };
    let thread_is = move |f: fn(&crate::state::Thread) -> bool| {
        store.threads.with(|t| t.get(&key).is_some_and(f))
    };
    let has_older = move || thread_is(|t| t.loaded && t.has_older);
    let loading_older = move || thread_is(|t| t.loading_older);
    let loading = move || thread_is(|t| t.loading && t.messages.is_empty());
    let empty = move || thread_is(|t| t.loaded && t.messages.is_empty());
    let at_start = move || thread_is(|t| t.loaded && !t.has_older && !t.messages.is_empty());

    // Follow new messages at the bottom.
    effect(move || {
        let me = store.me.get().map(|m| m.uid);
        let last = store.threads.with(|t| {
            t.get(&key).and_then(|t| {
                t.messages.last().map(|m| {
                    (
                        m.key(),
                        Some(m.sender) == me && m.state == SendState::Sending,
                    )
                })
            })
        });
        let Some((_, own_send)) = last else {
            return;
        };
        if own_send || stick.try_get_value().unwrap_or(false) {
            request_animation_frame(move || {
                if let Some(div) = history.try_get_untracked().flatten() {
                    div.set_scroll_top(div.scroll_height());
                }
            });
        }
    });

    let on_scroll = move |_| {
        let Some(div) = history.get_untracked() else {
            return;
        };
        let from_bottom = div.scroll_height() - div.scroll_top() - div.client_height();
        stick.set_value(from_bottom < STICK_TO_BOTTOM_PX);
        if div.scroll_top() < LOAD_OLDER_PX && has_older() && !loading_older() {
            load_older_keeping_position(store, key, history);
        }
    };

    view! {
        <div id="history" class="history" node_ref=history on:scroll=on_scroll>
            {greeting.map(|text| view! { <p id="greeting" class="greeting">{text}</p> })}
            {shown(
                has_older,
                move || view! {
                <button
                    class="load-older"
                    type="button"
                    disabled=loading_older
                    on:click=move |_| load_older_keeping_position(store, key, history)
                >
                    {dynamic(move || t(if loading_older() { &i18n::LOADING } else { &i18n::LOAD_OLDER }))}
                </button>
                },
            )}
            {shown(
                at_start,
                move || view! {
                <p class="history-start">{t(&i18n::HISTORY_START)}</p>
                },
            )}
            {shown(
                loading,
                move || view! {
                <p class="history-note">{t(&i18n::LOADING_MESSAGES)}</p>
                },
            )}
            {shown(
                empty,
                move || view! {
                <p class="history-note">{t(&i18n::NO_MESSAGES)}</p>
                },
            )}
            <For
                each=messages
                key=|m: &ChatMessage| m.key()
                children=move |message| view! { <MessageRow key message /> }
            />
        </div>
    }
}

/// Loads the previous page and keeps the messages in view where they were.
fn load_older_keeping_position(store: Store, key: ChatKey, history: NodeRef<html::Div>) {
    let Some(div) = history.get_untracked() else {
        return;
    };
    let (height, top) = (div.scroll_height(), div.scroll_top());
    spawn_local(async move {
        if actions::load_older(store, key).await {
            request_animation_frame(move || {
                if let Some(div) = history.try_get_untracked().flatten() {
                    div.set_scroll_top(div.scroll_height() - height + top);
                }
            });
        }
    });
}

/// One message bubble.
#[component]
fn MessageRow(key: ChatKey, message: ChatMessage) -> impl IntoView {
    let store = use_store();
    let mine = store.my_uid() == Some(message.sender);
    let class = if mine {
        "message mine"
    } else {
        "message theirs"
    };
    let seq = message.seq.map(|s| s.0.to_string()).unwrap_or_default();
    let state = message.state;
    let status = mine.then(|| {
        t(match state {
            SendState::Sending => &i18n::SENDING,
            SendState::Sent => &i18n::SENT,
            SendState::Failed => &i18n::FAILED,
        })
    });
    let failed = state == SendState::Failed;
    let client_msg_id = message.client_msg_id.clone();
    let error = message.error.clone();
    let sender = message.sender;
    let sender_name = (!mine && matches!(key, ChatKey::Group(_))).then(|| {
        social::want_profiles(store, vec![sender]);
        view! {
            <div class="sender" data-uid=sender.0.to_string()>
                {dynamic(move || store.nick_of(sender).unwrap_or_else(|| format!("uid {sender}")))}
            </div>
        }
    });

    view! {
        <div class=class data-seq=seq data-state=state.as_str()>
            <div class="bubble">
                {sender_name}
                {if message.msg_type == MsgType::Text {
                    view! { <div class="content">{message.content}</div> }.into_any()
                } else {
                    view! { <AttachmentView msg_type=message.msg_type content=message.content /> }
                        .into_any()
                }}
                <div class="meta">
                    <time class="time">{util::format_clock(message.time)}</time>
                    {status.map(|s| view! { <span class="status">{s}</span> })}
                </div>
            </div>
            {failed
                .then(|| {
                    view! {
                        <div class="failure">
                            {error.map(|e| view! { <span class="error">{e}</span> })}
                            <button
                                class="retry"
                                type="button"
                                on:click=move |_| actions::retry(store, key, client_msg_id.clone())
                            >
                                {t(&i18n::RETRY)}
                            </button>
                        </div>
                    }
                })}
        </div>
    }
}

/// Who is typing in this chat (for a few seconds after they were last seen typing).
#[component]
fn TypingNote(key: ChatKey) -> impl IntoView {
    let store = use_store();
    let who = memo(move || {
        let conversation = store
            .threads
            .with(|t| t.get(&key).and_then(|t| t.conversation.clone()))?;
        let uid = store.typing.with(|t| {
            t.get(&conversation)
                .and_then(|list| list.first().map(|(u, _)| *u))
        })?;
        let name = store
            .nick_of(uid)
            .unwrap_or_else(|| t(&i18n::SOMEONE).to_owned());
        Some(t(&i18n::TYPING).replace("{}", &name))
    });
    view! {
        <div id="typing" class="typing" aria-live="polite" hidden=move || who.with(Option::is_none)>
            {who}
        </div>
    }
}

/// The message input: Enter sends, Shift+Enter adds a line.
#[component]
fn Composer(key: ChatKey) -> impl IntoView {
    let store = use_store();
    let text = RwSignal::new(String::new());
    let input = NodeRef::<html::Textarea>::new();

    let send = move || {
        // Read the field itself, so a value set without an input event still counts.
        let content = input
            .get_untracked()
            .map(|el| el.value())
            .unwrap_or_else(|| text.get_untracked());
        if content.trim().is_empty() {
            return;
        }
        text.set(String::new());
        if let Some(el) = input.get_untracked() {
            el.set_value("");
            let _ = el.focus();
        }
        actions::send_text(store, key, content);
    };
    let on_submit = move |ev: SubmitEvent| {
        ev.prevent_default();
        send();
    };
    let on_keydown = move |ev: KeyboardEvent| {
        if ev.key() == "Enter" && !ev.shift_key() && !ev.is_composing() {
            ev.prevent_default();
            send();
        }
    };
    let on_paste = move |ev: ClipboardEvent| {
        let list = ev.clipboard_data().and_then(|d| d.files());
        if list.as_ref().is_some_and(|l| l.length() > 0) {
            ev.prevent_default();
            files::send_list(store, key, list);
        }
    };
    let picker = NodeRef::<html::Input>::new();
    let on_pick = move |_| {
        if let Some(el) = picker.get_untracked() {
            files::send_list(store, key, el.files());
            // The same file can be picked again.
            el.set_value("");
        }
    };
    let count = move || text.with(|t| t.chars().count());
    let too_long = move || count() > shared::MAX_TEXT_CHARS;

    effect(move || {
        if let Some(el) = input.get() {
            let _ = el.focus();
        }
    });

    view! {
        <form class="composer" on:submit=on_submit>
            <textarea
                id="composer"
                rows="2"
                placeholder=t(&i18n::PLACEHOLDER)
                aria-label=t(&i18n::MESSAGE)
                node_ref=input
                prop:value=move || text.get()
                on:input=move |ev| {
                    text.set(event_target_value(&ev));
                    actions::typing(store, key);
                }
                on:keydown=on_keydown
                on:paste=on_paste
            ></textarea>
            <div class="composer-side">
                <input id="attach-input" type="file" multiple hidden node_ref=picker on:change=on_pick />
                <button
                    id="attach"
                    class="secondary"
                    type="button"
                    title=t(&i18n::ATTACH_TITLE)
                    on:click=move |_| {
                        if let Some(el) = picker.get_untracked() {
                            el.click();
                        }
                    }
                >
                    {t(&i18n::ATTACH)}
                </button>
                <button id="send" type="submit">
                    {t(&i18n::SEND)}
                </button>
                {shown(
                    too_long,
                    move || view! {
                    <span class="char-count">
                        {dynamic(move || format!("{} / {}", count(), shared::MAX_TEXT_CHARS))}
                    </span>
                    },
                )}
            </div>
        </form>
    }
}
