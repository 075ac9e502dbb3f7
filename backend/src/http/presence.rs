//! Presence of friends and of single users, and typing notifications.

use super::error::ApiError;
use super::extract::{AppJson, AppPath, Auth};
use crate::service::{AppState, presence};
use axum::Router;
use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::{get, post};
use shared::contacts::{PresenceList, UserPresence};
use shared::{ConversationId, UserId};

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/presence", get(online_friends))
        .route("/users/{uid}/presence", get(user_presence))
        .route("/conversations/{conversation}/typing", post(typing))
}

async fn online_friends(
    State(state): State<AppState>,
    Auth(caller): Auth,
) -> Result<AppJson<PresenceList>, ApiError> {
    Ok(AppJson(presence::online_friends(&state, caller.uid).await?))
}

async fn user_presence(
    State(state): State<AppState>,
    Auth(caller): Auth,
    AppPath(uid): AppPath<i64>,
) -> Result<AppJson<UserPresence>, ApiError> {
    Ok(AppJson(
        presence::user_presence(&state, caller.uid, UserId(uid)).await?,
    ))
}

async fn typing(
    State(state): State<AppState>,
    Auth(caller): Auth,
    AppPath(conversation): AppPath<String>,
) -> Result<StatusCode, ApiError> {
    presence::typing(&state, caller.uid, &ConversationId(conversation)).await?;
    Ok(StatusCode::NO_CONTENT)
}
