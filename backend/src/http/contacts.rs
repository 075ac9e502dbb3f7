//! Profiles (`PATCH /api/me`, `/api/users/...`), friends and friend requests, blocks, and the
//! versioned lists (`POST /api/lists/sync`).

use super::error::ApiError;
use super::extract::{AppJson, AppPath, Auth};
use crate::service::{AppState, contacts};
use crate::store::contacts::RequestAction;
use axum::Router;
use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::{delete, get, patch, post};
use shared::contacts::{
    BatchRequest, BlockList, BlockUser, FriendRequest, FriendRequestOutcome, FriendRequests,
    ListSync, ListVersions, NewFriendRequest, Profile, ProfileBatch, UpdateProfile,
};
use shared::{Me, UserId};

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/me", patch(update_profile))
        .route("/users/batch", post(profiles))
        .route("/users/{uid}", get(profile))
        .route("/friends/requests", post(send_request).get(friend_requests))
        .route("/friends/requests/{id}/accept", post(accept))
        .route("/friends/requests/{id}/reject", post(reject))
        .route("/friends/requests/{id}/cancel", post(cancel))
        .route("/friends/{uid}", delete(remove_friend))
        .route("/blocks", get(blocks).post(block))
        .route("/blocks/{uid}", delete(unblock))
        .route("/lists/sync", post(sync_lists))
}

async fn update_profile(
    State(state): State<AppState>,
    Auth(caller): Auth,
    AppJson(update): AppJson<UpdateProfile>,
) -> Result<AppJson<Me>, ApiError> {
    Ok(AppJson(
        contacts::update_profile(&state, &caller, update).await?,
    ))
}

async fn profile(
    State(state): State<AppState>,
    Auth(caller): Auth,
    AppPath(uid): AppPath<i64>,
) -> Result<AppJson<Profile>, ApiError> {
    Ok(AppJson(
        contacts::profile(&state, caller.uid, UserId(uid)).await?,
    ))
}

async fn profiles(
    State(state): State<AppState>,
    Auth(caller): Auth,
    AppJson(request): AppJson<BatchRequest>,
) -> Result<AppJson<ProfileBatch>, ApiError> {
    Ok(AppJson(
        contacts::profiles(&state, caller.uid, request).await?,
    ))
}

async fn send_request(
    State(state): State<AppState>,
    Auth(caller): Auth,
    AppJson(request): AppJson<NewFriendRequest>,
) -> Result<(StatusCode, AppJson<FriendRequestOutcome>), ApiError> {
    let outcome = contacts::send_friend_request(&state, caller.uid, request).await?;
    Ok((StatusCode::CREATED, AppJson(outcome)))
}

async fn friend_requests(
    State(state): State<AppState>,
    Auth(caller): Auth,
) -> Result<AppJson<FriendRequests>, ApiError> {
    Ok(AppJson(
        contacts::friend_requests(&state, caller.uid).await?,
    ))
}

async fn answer(
    state: &AppState,
    uid: UserId,
    id: i64,
    action: RequestAction,
) -> Result<AppJson<FriendRequest>, ApiError> {
    Ok(AppJson(
        contacts::answer_friend_request(state, uid, id, action).await?,
    ))
}

async fn accept(
    State(state): State<AppState>,
    Auth(caller): Auth,
    AppPath(id): AppPath<i64>,
) -> Result<AppJson<FriendRequest>, ApiError> {
    answer(&state, caller.uid, id, RequestAction::Accept).await
}

async fn reject(
    State(state): State<AppState>,
    Auth(caller): Auth,
    AppPath(id): AppPath<i64>,
) -> Result<AppJson<FriendRequest>, ApiError> {
    answer(&state, caller.uid, id, RequestAction::Reject).await
}

async fn cancel(
    State(state): State<AppState>,
    Auth(caller): Auth,
    AppPath(id): AppPath<i64>,
) -> Result<AppJson<FriendRequest>, ApiError> {
    answer(&state, caller.uid, id, RequestAction::Cancel).await
}

async fn remove_friend(
    State(state): State<AppState>,
    Auth(caller): Auth,
    AppPath(uid): AppPath<i64>,
) -> Result<StatusCode, ApiError> {
    contacts::remove_friend(&state, caller.uid, UserId(uid)).await?;
    Ok(StatusCode::NO_CONTENT)
}

async fn blocks(
    State(state): State<AppState>,
    Auth(caller): Auth,
) -> Result<AppJson<BlockList>, ApiError> {
    Ok(AppJson(contacts::blocks(&state, caller.uid).await?))
}

async fn block(
    State(state): State<AppState>,
    Auth(caller): Auth,
    AppJson(request): AppJson<BlockUser>,
) -> Result<StatusCode, ApiError> {
    contacts::block(&state, caller.uid, request.uid).await?;
    Ok(StatusCode::NO_CONTENT)
}

async fn unblock(
    State(state): State<AppState>,
    Auth(caller): Auth,
    AppPath(uid): AppPath<i64>,
) -> Result<StatusCode, ApiError> {
    contacts::unblock(&state, caller.uid, UserId(uid)).await?;
    Ok(StatusCode::NO_CONTENT)
}

async fn sync_lists(
    State(state): State<AppState>,
    Auth(caller): Auth,
    AppJson(held): AppJson<ListVersions>,
) -> Result<AppJson<ListSync>, ApiError> {
    Ok(AppJson(
        contacts::sync_lists(&state, caller.uid, held).await?,
    ))
}
