//! Courier's browser client: a Leptos app rendered on the client, compiled to wasm32.
//!
//! `api` is the only module that talks HTTP, `state` holds the reactive stores, `actions` applies
//! server answers about chats to them, `social` does the same for contacts and groups (the cached
//! versioned lists), `sync` runs the tab's event loop, and `components` renders. The same crate
//! is also the embeddable widget (`/widget`): `host` talks to the page embedding it, `i18n` has
//! its words. The two are built as two modules (feature `widget`), so each leaves out the other's
//! views: the page's module carries no widget, the widget's no contacts, groups or profile pages.

mod actions;
mod api;
mod components;
mod files;
mod host;
mod i18n;
mod social;
mod state;
mod sync;
mod util;

fn main() {
    console_error_panic_hook::set_once();
    // `cfg!`, not `#[cfg]`: both branches compile (and are checked) in both builds; the one not
    // taken is dropped from the module.
    if cfg!(feature = "widget") {
        leptos::mount::mount_to_body(components::Widget);
    } else {
        leptos::mount::mount_to_body(components::App);
    }
}
