//! (placeholder: filled in by the contacts work)

use crate::service::AppState;
use axum::Router;

pub fn router() -> Router<AppState> {
    Router::new()
}
