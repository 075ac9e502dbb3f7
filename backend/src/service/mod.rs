//! Use cases: what a request means, independent of HTTP. Each function takes the shared
//! [`AppState`] and the caller's uid (already authenticated), and returns shared DTOs.

pub mod contacts;
pub mod events;
pub mod files;
pub mod groups;
pub mod identity;
pub mod messages;
pub mod presence;
pub mod session;

use crate::config::Config;
use crate::domain::ValidationError;
use crate::notify::Notifier;
use crate::store::{Store, StoreError};
use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

/// Everything a request needs, shared by all handlers: one pointer, so that the clones axum
/// makes for each request's extractors are one reference count each (cloning the fields, a
/// dozen reference counts and the node name's allocation, was 5% of the HTTP threads' time
/// under load).
#[derive(Clone)]
pub struct AppState(Arc<Shared>);

impl AppState {
    pub fn new(shared: Shared) -> Self {
        Self(Arc::new(shared))
    }
}

impl std::ops::Deref for AppState {
    type Target = Shared;

    fn deref(&self) -> &Shared {
        &self.0
    }
}

/// What [`AppState`] points to.
pub struct Shared {
    pub store: Store,
    /// Sessions already looked up (see [`session::SessionCache`]).
    pub sessions: Arc<session::SessionCache>,
    pub notifier: Notifier,
    pub config: Arc<Config>,
    /// This node's polls, for presence (see [`presence`]).
    pub presence: Arc<presence::Tracker>,
    /// File bytes and this node's running uploads (see [`files`]).
    pub files: Arc<files::Files>,
}

/// Why a use case refused or failed.
#[derive(Debug, thiserror::Error)]
pub enum ServiceError {
    #[error(transparent)]
    Invalid(#[from] ValidationError),
    #[error("no valid session")]
    Unauthenticated,
    #[error("user {0} does not exist")]
    UnknownUser(shared::UserId),
    #[error("conversation not found")]
    ConversationNotFound,
    #[error("seq {seq} is beyond the newest message {max_seq}")]
    SeqOutOfRange { seq: i64, max_seq: i64 },
    #[error("cursor {after} is ahead of the stream (head {head})")]
    CursorAhead { after: i64, head: i64 },
    /// A refusal with its own stable code (privacy, roles, requests, groups). The HTTP status
    /// follows from the code (see `http::error`).
    #[error("{message}")]
    Refused {
        code: shared::ErrorCode,
        message: String,
    },
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Storage(#[from] crate::files::StorageError),
}

impl ServiceError {
    /// A refusal with `code`, explained by `message` (for people).
    pub fn refused(code: shared::ErrorCode, message: impl Into<String>) -> Self {
        ServiceError::Refused {
            code,
            message: message.into(),
        }
    }
}

/// Milliseconds since the Unix epoch.
pub fn now_millis() -> shared::Millis {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}
