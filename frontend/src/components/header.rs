//! The top bar (who we are, stream status) and the error banner.

use crate::state::use_store;
use leptos::prelude::*;

/// Brand, `#me` once signed in, and `#sync-status`.
#[component]
pub fn Header() -> impl IntoView {
    let store = use_store();
    let me = move || {
        store.me.get().map(|me| {
            view! { <span id="me">{format!("you are {} (uid {})", me.nick_name, me.uid)}</span> }
        })
    };
    view! {
        <header class="topbar">
            <div class="brand">
                <span class="logo" aria-hidden="true">"✉"</span>
                "Courier"
            </div>
            <div class="identity">
                {me}
                <span
                    id="sync-status"
                    class="sync-status"
                    data-state=move || store.sync.get().as_str()
                    role="status"
                >
                    <span class="dot" aria-hidden="true"></span>
                    {move || store.sync.get().label()}
                </span>
            </div>
        </header>
    }
}

/// The last error for people, until dismissed.
#[component]
pub fn Banner() -> impl IntoView {
    let store = use_store();
    move || {
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
    }
}
