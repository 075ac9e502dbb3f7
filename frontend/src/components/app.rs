//! The page: header, error banner, conversation list and open chat.

use super::chat::ChatPane;
use super::header::{Banner, Header};
use super::sidebar::Sidebar;
use crate::state::{Store, provide_store};
use crate::{actions, sync, util};
use leptos::prelude::*;
use leptos::task::spawn_local;

/// The whole client. Owns the tab's store and its one sync loop.
#[component]
pub fn App() -> impl IntoView {
    let store = provide_store();
    sync::start(store);

    let visibility = window_event_listener_untyped("visibilitychange", move |_| {
        store.visible.set(util::page_visible());
    });
    on_cleanup(move || visibility.remove());
    mark_open_chat_read(store);

    view! {
        <div class="app">
            <Header />
            <Banner />
            <main class="layout">
                <Sidebar />
                <ChatPane />
            </main>
        </div>
    }
}

/// While a chat is open and the tab is visible, its read position follows its newest message.
fn mark_open_chat_read(store: Store) {
    Effect::new(move |_| {
        let Some(peer) = store.open_peer.get() else {
            return;
        };
        if !store.visible.get() {
            return;
        }
        let target = store.conversations.with(|list| {
            list.iter()
                .find(|c| c.peer.uid == peer && c.read_seq < c.max_seq)
                .map(|c| (c.id.clone(), c.max_seq))
        });
        let Some((conversation, seq)) = target else {
            return;
        };
        let posted = store
            .reads_posted
            .with_value(|posted| posted.get(&conversation).is_some_and(|s| *s >= seq));
        if posted {
            return;
        }
        store.reads_posted.update_value(|posted| {
            posted.insert(conversation.clone(), seq);
        });
        spawn_local(actions::mark_read(store, conversation, seq));
    });
}
