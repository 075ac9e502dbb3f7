//! (placeholder: filled in by the groups work)

use crate::service::AppState;
use axum::Router;

pub fn router() -> Router<AppState> {
    Router::new()
}
