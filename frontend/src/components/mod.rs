//! The views. `Widget` lays out the embeddable widget (one chat, in an iframe on another site).
//! `App` lays out the page: the header with the tabs, then the chats (the sidebar lists
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
mod widget;

pub use app::App;
pub(crate) use ui::{dynamic, effect, memo, shown};
pub use widget::Widget;
