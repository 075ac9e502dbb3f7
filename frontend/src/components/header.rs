//! The top bar (brand, page tabs, who we are, stream status) and the error banner.

use crate::components::dynamic;
use crate::social;
use crate::state::{Tab, use_store};
use leptos::prelude::*;

/// Brand, the tabs, `#me` once signed in, and `#sync-status`.
#[component]
pub fn Header() -> impl IntoView {
    let store = use_store();
    let me = dynamic(move || {
        store.me.get().map(|me| {
            view! { <span id="me">{format!("you are {} (uid {})", me.nick_name, me.uid)}</span> }
        })
    });
    view! {
        <header class="topbar">
            <div class="brand">
                <span class="logo" aria-hidden="true">"✉"</span>
                "Courier"
            </div>
            <Tabs />
            <div class="identity">
                {me}
                <span
                    id="sync-status"
                    class="sync-status"
                    data-state=move || store.sync.get().as_str()
                    role="status"
                >
                    <span class="dot" aria-hidden="true"></span>
                    {dynamic(move || store.sync.get().label())}
                </span>
            </div>
        </header>
    }
}

/// The page tabs, with counts of what waits for the user.
#[component]
fn Tabs() -> impl IntoView {
    let store = use_store();
    let unread = move || {
        store
            .conversations
            .with(|list| list.iter().map(|c| c.unread.max(0)).sum::<i64>() as usize)
    };
    let requests = move || social::badge_counts(store).0;
    let invites = move || social::badge_counts(store).1;
    let tab = move |id: &'static str, label: &'static str, page: Tab, count: Signal<usize>| {
        let active = move || store.tab.get() == page;
        view! {
            <button
                id=id
                type="button"
                class="tab"
                class:active=active
                aria-current=move || active().then_some("page")
                on:click=move |_| store.go(page)
            >
                {label}
                {dynamic(move || {
                    let n = count.get();
                    (n > 0).then(|| view! { <span class="badge">{n}</span> })
                })}
            </button>
        }
    };
    view! {
        <nav id="tabs" class="tabs" aria-label="Pages">
            {tab("tab-chats", "Chats", Tab::Chats, Signal::derive(unread))}
            {tab("tab-contacts", "Contacts", Tab::Contacts, Signal::derive(requests))}
            {tab("tab-groups", "Groups", Tab::Groups, Signal::derive(invites))}
            {tab("tab-profile", "Profile", Tab::Profile, Signal::derive(|| 0))}
        </nav>
    }
}

/// The last error for people, until dismissed.
#[component]
pub fn Banner() -> impl IntoView {
    let store = use_store();
    dynamic(move || {
        store.banner.get().map(|message| {
            view! {
                <div id="banner" class="banner" role="alert">
                    <span class="banner-text">{message}</span>
                    <button
                        class="banner-close"
                        type="button"
                        aria-label="Dismiss"
                        on:click=move |_| store.banner.set(None)
                    >
                        "×"
                    </button>
                </div>
            }
        })
    })
}
