//! The views. `App` lays out the page: the header with the tabs, then the chats (the sidebar lists
//! conversations, the chat pane shows the open one) or the contacts, groups or profile page.
//! Components read the `Store` with `use_store()` and change it through `actions` and `social`.

mod app;
mod chat;
mod contacts;
mod groups;
mod header;
mod profile;
mod sidebar;
mod ui;

pub use app::App;
