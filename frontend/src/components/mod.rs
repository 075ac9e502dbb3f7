//! The views. `App` lays out the page; the sidebar lists conversations, the chat pane shows the
//! open one. Components read the `Store` with `use_store()` and change it through `actions`.

mod app;
mod chat;
mod header;
mod sidebar;

pub use app::App;
