//! What the client does: sign in, load and page history, send and retry, mark read, and apply
//! what the server reports. Each function calls `api` and applies the answer to the `Store`.

use crate::api::{self, ClientError, Page};
use crate::state::{
    ChatKey, ChatMessage, SendState, Store, Thread, sort_summaries, summary_apply_message,
    summary_apply_read,
};
use crate::util;
use leptos::prelude::*;
use leptos::task::spawn_local;
use shared::{
    ClientMsgId, ConversationId, ErrorCode, Event, Me, Message, MsgType, SendAck, SendMessage, Seq,
};
use std::collections::HashMap;
use std::time::Duration;

/// Page size for older history.
const OLDER_PAGE: u32 = 20;
/// Page size for gap fills.
const GAP_PAGE: u32 = shared::MAX_PAGE_LIMIT;
/// Where the bearer-token fallback is kept.
pub(crate) const TOKEN_KEY: &str = "courier.token";
/// How long a typing notice shows without a newer one.
const TYPING_SHOWN: Duration = Duration::from_secs(5);
/// At most one typing notice is posted in this interval (the server drops more anyway).
const TYPING_EVERY_MS: i64 = 3_000;

/// Establishes the session: the cookie, else a stored bearer token, else a new guest. Retries on
/// network errors until it works.
pub async fn bootstrap(store: Store) -> Me {
    loop {
        match try_bootstrap().await {
            Ok(me) => {
                store.banner.set(None);
                return me;
            }
            Err(error) => {
                store.show_error(format!("Cannot sign in: {error}. Retrying…"));
                util::sleep(Duration::from_secs(5)).await;
            }
        }
    }
}

async fn try_bootstrap() -> Result<Me, ClientError> {
    match api::me().await {
        Ok(me) => return Ok(me),
        Err(e) if e.is(ErrorCode::Unauthenticated) => {}
        Err(e) => return Err(e),
    }
    if let Some(token) = util::storage_get(TOKEN_KEY) {
        api::set_bearer(Some(token));
        match api::me().await {
            Ok(me) => return Ok(me),
            Err(e) if e.is(ErrorCode::Unauthenticated) => {
                api::set_bearer(None);
                util::storage_remove(TOKEN_KEY);
            }
            Err(e) => return Err(e),
        }
    }
    let guest = api::create_guest().await?;
    util::storage_set(TOKEN_KEY, &guest.token);
    match api::me().await {
        Ok(me) => Ok(me),
        // The browser dropped the cookie: use the token from the body.
        Err(e) if e.is(ErrorCode::Unauthenticated) => {
            api::set_bearer(Some(guest.token));
            api::me().await
        }
        Err(e) => Err(e),
    }
}

/// Re-reads the conversation list. Concurrent requests collapse into one extra reload.
pub async fn reload_conversations(store: Store) {
    let busy = store.list_reload.with_value(|(running, _)| *running);
    if busy {
        store.list_reload.update_value(|(_, again)| *again = true);
        return;
    }
    store.list_reload.set_value((true, false));
    loop {
        match api::conversations().await {
            Ok(mut list) => {
                sort_summaries(&mut list.conversations);
                store.conversations.set(list.conversations);
                store.conversations_loaded.set(true);
                attach_drafts(store);
            }
            Err(error) => store.show_error(format!("Cannot load conversations: {error}")),
        }
        let again = store.list_reload.with_value(|(_, again)| *again);
        if !again {
            break;
        }
        store.list_reload.set_value((true, false));
    }
    store.list_reload.set_value((false, false));
}

/// A draft chat that now has a conversation (someone wrote first, our first send landed in
/// another tab, or a group's details arrived) becomes that conversation.
pub fn attach_drafts(store: Store) {
    let mut to_load = Vec::new();
    store.threads.update(|threads| {
        for (key, thread) in threads.iter_mut() {
            if thread.conversation.is_none()
                && let Some(conversation) = store
                    .summary_for(*key)
                    .map(|s| s.id)
                    .or_else(|| store.known_conversation(*key))
            {
                thread.conversation = Some(conversation);
                thread.loaded = false;
                to_load.push(*key);
            }
        }
    });
    let open = store.open_chat.get_untracked();
    for key in to_load {
        if Some(key) == open {
            spawn_local(load_latest(store, key));
        }
    }
}

/// Opens a chat on the Chats page: its conversation if there is one, else a draft.
pub fn open_chat(store: Store, key: ChatKey) {
    store.go(crate::state::Tab::Chats);
    store.open_chat.set(Some(key));
    ensure_thread(store, key);
}

/// Makes sure the chat's thread exists and its latest page is (being) loaded.
fn ensure_thread(store: Store, key: ChatKey) {
    let conversation = store
        .summary_for(key)
        .map(|s| s.id)
        .or_else(|| store.known_conversation(key));
    let mut needs_load = false;
    store.threads.update(|threads| {
        let thread = threads.entry(key).or_insert_with(|| match &conversation {
            Some(id) => Thread::for_conversation(id.clone()),
            None => Thread::draft(),
        });
        if thread.conversation.is_none()
            && let Some(id) = &conversation
        {
            thread.conversation = Some(id.clone());
            thread.loaded = false;
        }
        needs_load = thread.conversation.is_some() && !thread.loaded && !thread.loading;
    });
    if needs_load {
        spawn_local(load_latest(store, key));
    }
}

/// Reads the latest page of a chat's conversation.
pub async fn load_latest(store: Store, key: ChatKey) {
    let Some(conversation) = start_loading(store, key) else {
        return;
    };
    let result = api::history(&conversation, Page::Latest).await;
    let mut fill = false;
    store.threads.update(|threads| {
        let Some(thread) = threads.get_mut(&key) else {
            return;
        };
        thread.loading = false;
        if let Ok(page) = &result {
            let first = page.messages.first().map(|m| m.seq);
            thread.merge(page.messages.clone());
            thread.mark_loaded(first, page.has_more);
            fill = thread.has_gap();
        }
    });
    match result {
        Ok(_) if fill => fill_gap(store, key).await,
        Ok(_) => {}
        Err(error) => store.show_error(format!("Cannot load messages: {error}")),
    }
}

fn start_loading(store: Store, key: ChatKey) -> Option<ConversationId> {
    let mut conversation = None;
    store.threads.update(|threads| {
        if let Some(thread) = threads.get_mut(&key)
            && !thread.loading
        {
            thread.loading = true;
            conversation = thread.conversation.clone();
            if conversation.is_none() {
                thread.loading = false;
            }
        }
    });
    conversation
}

/// Reads the page before the oldest loaded message. Returns whether anything was added.
pub async fn load_older(store: Store, key: ChatKey) -> bool {
    let mut request = None;
    store.threads.update(|threads| {
        if let Some(thread) = threads.get_mut(&key)
            && thread.loaded
            && thread.has_older
            && !thread.loading_older
            && let (Some(conversation), Some(min)) = (thread.conversation.clone(), thread.min_seq())
        {
            if min <= 1 {
                thread.has_older = false;
            } else {
                thread.loading_older = true;
                request = Some((conversation, min));
            }
        }
    });
    let Some((conversation, min)) = request else {
        return false;
    };
    let result = api::history(&conversation, Page::Before(Seq(min), OLDER_PAGE)).await;
    let mut added = false;
    store.threads.update(|threads| {
        let Some(thread) = threads.get_mut(&key) else {
            return;
        };
        thread.loading_older = false;
        if let Ok(page) = &result {
            added = !page.messages.is_empty();
            thread.merge(page.messages.clone());
            thread.has_older = page.has_more && thread.min_seq().is_some_and(|s| s > 1);
        }
    });
    if let Err(error) = result {
        store.show_error(format!("Cannot load older messages: {error}"));
    }
    added
}

/// Fetches the messages missing between `known` and the newest loaded one.
pub async fn fill_gap(store: Store, key: ChatKey) {
    let mut start = None;
    store.threads.update(|threads| {
        if let Some(thread) = threads.get_mut(&key)
            && thread.has_gap()
            && !thread.filling
            && let Some(conversation) = thread.conversation.clone()
        {
            thread.filling = true;
            start = Some(conversation);
        }
    });
    let Some(conversation) = start else {
        return;
    };
    // Bounded, so bad server data can never spin forever.
    for _ in 0..50 {
        let known = store
            .threads
            .with_untracked(|t| t.get(&key).filter(|t| t.has_gap()).map(|t| t.known));
        let Some(known) = known else {
            break;
        };
        match api::history(&conversation, Page::After(Seq(known), GAP_PAGE)).await {
            Ok(page) => {
                let empty = page.messages.is_empty();
                store.threads.update(|threads| {
                    if let Some(thread) = threads.get_mut(&key) {
                        thread.merge(page.messages);
                    }
                });
                if empty {
                    break;
                }
            }
            Err(error) => {
                store.show_error(format!("Cannot load missing messages: {error}"));
                break;
            }
        }
    }
    store.threads.update(|threads| {
        if let Some(thread) = threads.get_mut(&key) {
            thread.filling = false;
        }
    });
}

/// Applies one stored message (from an event or a send's acknowledgement) to the list and to
/// its loaded thread.
pub fn apply_message(store: Store, message: Message) {
    let Some(me) = store.my_uid() else {
        return;
    };
    let mut known = false;
    store
        .conversations
        .update(|list| known = summary_apply_message(list, &message, me));
    if !known {
        spawn_local(reload_conversations(store));
    }
    let key = store.chat_of(&message.conversation).or_else(|| {
        // Our own send from this tab whose acknowledgement has not come back yet.
        store.threads.with_untracked(|threads| {
            threads
                .iter()
                .find(|(_, t)| t.holds(message.sender, &message.client_msg_id))
                .map(|(key, _)| *key)
        })
    });
    stop_typing(store, &message.conversation, message.sender);
    let Some(key) = key else {
        return;
    };
    let mut gap = false;
    store.threads.update(|threads| {
        if let Some(thread) = threads.get_mut(&key) {
            if thread.conversation.is_none() {
                thread.conversation = Some(message.conversation.clone());
            }
            if thread.conversation.as_ref() == Some(&message.conversation) {
                thread.upsert(ChatMessage::stored(message));
                gap = thread.has_gap();
            }
        }
    });
    if gap {
        spawn_local(fill_gap(store, key));
    }
}

/// Applies a batch of events from the stream.
pub fn apply_events(store: Store, events: Vec<Event>) {
    for event in events {
        let Some(event) = crate::social::apply_event(store, event) else {
            continue;
        };
        match event {
            Event::Message { message } => apply_message(store, message),
            Event::FileReady { file } => crate::files::known(store, file),
            Event::Read {
                conversation,
                read_seq,
            } => store
                .conversations
                .update(|list| summary_apply_read(list, &conversation, read_seq)),
            Event::Typing { conversation, uid } => typing_seen(store, conversation, uid),
            // Unknown kinds come from newer servers.
            _ => {}
        }
    }
}

/// Re-reads everything after the stream could not be resumed: the list, and the open chat.
pub async fn resync(store: Store) {
    store.threads.update(|threads| {
        for thread in threads.values_mut() {
            thread.forget_stored();
        }
    });
    store.reads_posted.set_value(Default::default());
    reload_conversations(store).await;
    if let Some(key) = store.open_chat.get_untracked() {
        ensure_thread(store, key);
    }
}

/// Sends a text to a chat: shown at once as `sending`, then `sent` or `failed`.
pub fn send_text(store: Store, key: ChatKey, content: String) {
    send(store, key, MsgType::Text, content);
}

/// Sends a message of any type (files: `content` is an `Attachment` as JSON).
pub fn send(store: Store, key: ChatKey, msg_type: MsgType, content: String) {
    let Some(me) = store.my_uid() else {
        return;
    };
    let client_msg_id = ClientMsgId(util::random_id());
    let pending = ChatMessage {
        sender: me,
        client_msg_id: client_msg_id.clone(),
        msg_type,
        content: content.clone(),
        msg_id: None,
        seq: None,
        time: util::now_millis(),
        state: SendState::Sending,
        error: None,
    };
    store.threads.update(|threads| {
        threads
            .entry(key)
            .or_insert_with(Thread::draft)
            .upsert(pending);
    });
    spawn_local(deliver(store, key, client_msg_id, msg_type, content));
}

/// Sends a failed message again, with the same `client_msg_id` (the server answers a duplicate
/// with the original acknowledgement).
pub fn retry(store: Store, key: ChatKey, client_msg_id: ClientMsgId) {
    let Some(me) = store.my_uid() else {
        return;
    };
    let mut content = None;
    store.threads.update(|threads| {
        if let Some(thread) = threads.get_mut(&key) {
            content = thread
                .messages
                .iter()
                .find(|m| m.sender == me && m.client_msg_id == client_msg_id && m.seq.is_none())
                .map(|m| (m.msg_type, m.content.clone()));
            thread.set_state(me, &client_msg_id, SendState::Sending, None);
        }
    });
    if let Some((msg_type, content)) = content {
        spawn_local(deliver(store, key, client_msg_id, msg_type, content));
    }
}

async fn deliver(
    store: Store,
    key: ChatKey,
    client_msg_id: ClientMsgId,
    msg_type: MsgType,
    content: String,
) {
    let Some(me) = store.my_uid() else {
        return;
    };
    let request = SendMessage {
        to: key.target(),
        client_msg_id: client_msg_id.clone(),
        msg_type,
        content: content.clone(),
    };
    match api::send_message(&request).await {
        Ok(SendAck {
            msg_id,
            conversation,
            seq,
            time,
        }) => {
            store.threads.update(|threads| {
                if let Some(thread) = threads.get_mut(&key)
                    && thread.conversation.is_none()
                {
                    thread.conversation = Some(conversation.clone());
                }
            });
            apply_message(
                store,
                Message {
                    msg_id,
                    conversation,
                    seq,
                    sender: me,
                    msg_type,
                    content,
                    time,
                    client_msg_id,
                },
            );
        }
        Err(error) => {
            let text = if error.is_client_error() {
                let text = crate::i18n::error(&error);
                store.show_error(text.clone());
                text
            } else {
                format!("Not delivered: {}", crate::i18n::error(&error))
            };
            store.threads.update(|threads| {
                if let Some(thread) = threads.get_mut(&key) {
                    thread.set_state(me, &client_msg_id, SendState::Failed, Some(text));
                }
            });
        }
    }
}

/// Moves the read position of a conversation to `seq` on the server (and so on every tab).
pub async fn mark_read(store: Store, conversation: ConversationId, seq: Seq) {
    match api::mark_read(&conversation, seq).await {
        Ok(state) => store
            .conversations
            .update(|list| summary_apply_read(list, &state.conversation, state.read_seq)),
        Err(error) => {
            // Allow a later attempt.
            store.reads_posted.update_value(|posted| {
                posted.remove(&conversation);
            });
            if !matches!(error, ClientError::Network(_) | ClientError::Timeout) {
                store.show_error(format!("Cannot mark as read: {error}"));
            }
        }
    }
}

/// Tells the chat's other members that we are typing (at most every few seconds; nothing for a
/// chat that has no conversation yet).
pub fn typing(store: Store, key: ChatKey) {
    let now = util::now_millis();
    if now - store.typing_sent.get_value() < TYPING_EVERY_MS {
        return;
    }
    let conversation = store
        .threads
        .with_untracked(|t| t.get(&key).and_then(|t| t.conversation.clone()));
    if let Some(conversation) = conversation {
        store.typing_sent.set_value(now);
        // A lost typing notice does not matter.
        spawn_local(async move {
            let _ = api::typing(&conversation).await;
        });
    }
}

/// Someone else is typing in a conversation: shown until `TYPING_SHOWN` passes without a newer
/// notice, or their message arrives.
fn typing_seen(store: Store, conversation: ConversationId, uid: shared::UserId) {
    if Some(uid) == store.my_uid() {
        return;
    }
    let until = util::now_millis() + TYPING_SHOWN.as_millis() as i64;
    store.typing.update(|all| {
        let list = all.entry(conversation).or_default();
        list.retain(|(u, _)| *u != uid);
        list.push((uid, until));
    });
    set_timeout(
        move || {
            let now = util::now_millis();
            store.typing.try_maybe_update(|all| {
                let count = |all: &HashMap<_, Vec<_>>| all.values().map(Vec::len).sum::<usize>();
                let before = count(all);
                all.retain(|_, list| {
                    list.retain(|(_, until)| *until > now);
                    !list.is_empty()
                });
                (count(all) != before, ())
            });
        },
        TYPING_SHOWN,
    );
}

/// A message arrived from `uid`: they stopped typing there.
fn stop_typing(store: Store, conversation: &ConversationId, uid: shared::UserId) {
    store.typing.maybe_update(|all| {
        let Some(list) = all.get_mut(conversation) else {
            return false;
        };
        list.retain(|(u, _)| *u != uid);
        if list.is_empty() {
            all.remove(conversation);
        }
        true
    });
}
