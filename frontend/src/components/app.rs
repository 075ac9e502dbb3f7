//! The page: header with the tabs, error banner, and the page shown: chats (conversation list and
//! open chat), contacts, groups or profile.

use super::chat::ChatPane;
use super::contacts::ContactsPage;
use super::groups::GroupsPage;
use super::header::{Banner, Header};
use super::profile::ProfilePage;
use super::sidebar::Sidebar;
use super::ui::{effect, memo};
use crate::state::{ChatKey, Store, Tab, provide_store};
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

    let tab = memo(move || store.tab.get());
    view! {
        <div class="app">
            <Header />
            <Banner />
            // The chat layout stays mounted, so switching pages keeps drafts and scroll positions.
            <main class="layout" class:hidden=move || tab.get() != Tab::Chats>
                <Sidebar />
                <ChatPane />
            </main>
            // The other pages stay mounted too (hidden), so they follow events while not shown.
            <ContactsPage />
            <GroupsPage />
            <ProfilePage />
        </div>
    }
}

/// While a chat is open and shown and the tab is visible, its read position follows its newest
/// message.
pub(crate) fn mark_open_chat_read(store: Store) {
    effect(move || {
        let Some(key) = store.open_chat.get() else {
            return;
        };
        if !store.visible.get() || store.tab.get() != Tab::Chats {
            return;
        }
        let target = store.conversations.with(|list| {
            list.iter()
                .find(|c| ChatKey::of(c) == Some(key) && c.read_seq < c.max_seq)
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
