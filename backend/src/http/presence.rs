//! Presence of friends, and typing notifications.

use super::error::ApiError;
use super::extract::{AppJson, AppPath, Auth};
use crate::service::{AppState, presence};
use axum::Router;
use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::{get, post};
use shared::ConversationId;
use shared::contacts::PresenceList;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/presence", get(online_friends))
        .route("/conversations/{conversation}/typing", post(typing))
}

async fn online_friends(
    State(state): State<AppState>,
    Auth(caller): Auth,
) -> Result<AppJson<PresenceList>, ApiError> {
    Ok(AppJson(presence::online_friends(&state, caller.uid).await?))
}

async fn typing(
    State(state): State<AppState>,
    Auth(caller): Auth,
    AppPath(conversation): AppPath<String>,
) -> Result<StatusCode, ApiError> {
    presence::typing(&state, caller.uid, &ConversationId(conversation)).await?;
    Ok(StatusCode::NO_CONTENT)
}
