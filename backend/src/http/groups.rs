//! `/api/groups/...`: groups, members and roles, joining, invitations and join requests.

use super::error::ApiError;
use super::extract::{AppJson, AppPath, Auth};
use crate::service::{AppState, groups};
use axum::Router;
use axum::extract::{FromRequest, Request, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde::de::DeserializeOwned;
use shared::UserId;
use shared::contacts::BatchRequest;
use shared::groups::{
    CreateGroup, GroupBatch, GroupId, GroupInfo, GroupInvite, GroupInvites, GroupJoinRequest,
    GroupJoinRequests, GroupMembers, InviteAnswer, InviteToGroup, JoinGroup, JoinOutcome, SetRole,
    TransferOwnership, UpdateGroup,
};

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/groups", post(create))
        .route("/groups/batch", post(batch))
        .route("/groups/invites", get(invites).post(invite))
        .route("/groups/invites/{id}/accept", post(accept_invite))
        .route("/groups/invites/{id}/decline", post(decline_invite))
        .route("/groups/{gid}", get(info).patch(update).delete(dissolve))
        .route("/groups/{gid}/members", get(members))
        .route(
            "/groups/{gid}/members/{uid}",
            axum::routing::delete(remove_member),
        )
        .route("/groups/{gid}/members/{uid}/role", post(set_role))
        .route("/groups/{gid}/transfer", post(transfer))
        .route("/groups/{gid}/leave", post(leave))
        .route("/groups/{gid}/join", post(join))
        .route("/groups/{gid}/requests", get(join_requests))
        .route("/groups/{gid}/requests/{id}/approve", post(approve))
        .route("/groups/{gid}/requests/{id}/reject", post(reject))
}

/// A JSON body that may be left out entirely (no body and no `Content-Type`): then `T::default()`.
/// A body that is there must be valid JSON, as with [`AppJson`].
pub struct OptionalJson<T>(pub T);

impl<S, T> FromRequest<S> for OptionalJson<T>
where
    S: Send + Sync,
    T: DeserializeOwned + Default,
{
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, ApiError> {
        let headers = req.headers();
        let no_type = !headers.contains_key(header::CONTENT_TYPE);
        let no_length = headers
            .get(header::CONTENT_LENGTH)
            .is_none_or(|length| length.as_bytes() == b"0");
        if no_type && no_length && !headers.contains_key(header::TRANSFER_ENCODING) {
            return Ok(OptionalJson(T::default()));
        }
        let AppJson(value) = AppJson::<T>::from_request(req, state).await?;
        Ok(OptionalJson(value))
    }
}

async fn create(
    State(state): State<AppState>,
    Auth(caller): Auth,
    AppJson(request): AppJson<CreateGroup>,
) -> Result<Response, ApiError> {
    let info = groups::create(&state, caller.uid, request).await?;
    Ok((StatusCode::CREATED, AppJson(info)).into_response())
}

async fn info(
    State(state): State<AppState>,
    Auth(_caller): Auth,
    AppPath(gid): AppPath<GroupId>,
) -> Result<AppJson<GroupInfo>, ApiError> {
    Ok(AppJson(groups::info(&state, gid).await?))
}

async fn batch(
    State(state): State<AppState>,
    Auth(_caller): Auth,
    AppJson(request): AppJson<BatchRequest>,
) -> Result<AppJson<GroupBatch>, ApiError> {
    Ok(AppJson(groups::batch(&state, request).await?))
}

async fn update(
    State(state): State<AppState>,
    Auth(caller): Auth,
    AppPath(gid): AppPath<GroupId>,
    AppJson(request): AppJson<UpdateGroup>,
) -> Result<AppJson<GroupInfo>, ApiError> {
    Ok(AppJson(
        groups::update(&state, caller.uid, gid, request).await?,
    ))
}

async fn dissolve(
    State(state): State<AppState>,
    Auth(caller): Auth,
    AppPath(gid): AppPath<GroupId>,
) -> Result<StatusCode, ApiError> {
    groups::dissolve(&state, caller.uid, gid).await?;
    Ok(StatusCode::NO_CONTENT)
}

async fn members(
    State(state): State<AppState>,
    Auth(caller): Auth,
    AppPath(gid): AppPath<GroupId>,
) -> Result<AppJson<GroupMembers>, ApiError> {
    Ok(AppJson(groups::members(&state, caller.uid, gid).await?))
}

async fn set_role(
    State(state): State<AppState>,
    Auth(caller): Auth,
    AppPath((gid, uid)): AppPath<(GroupId, UserId)>,
    AppJson(request): AppJson<SetRole>,
) -> Result<AppJson<GroupMembers>, ApiError> {
    Ok(AppJson(
        groups::set_role(&state, caller.uid, gid, uid, request.role).await?,
    ))
}

async fn remove_member(
    State(state): State<AppState>,
    Auth(caller): Auth,
    AppPath((gid, uid)): AppPath<(GroupId, UserId)>,
) -> Result<StatusCode, ApiError> {
    groups::remove_member(&state, caller.uid, gid, uid).await?;
    Ok(StatusCode::NO_CONTENT)
}

async fn transfer(
    State(state): State<AppState>,
    Auth(caller): Auth,
    AppPath(gid): AppPath<GroupId>,
    AppJson(request): AppJson<TransferOwnership>,
) -> Result<AppJson<GroupInfo>, ApiError> {
    Ok(AppJson(
        groups::transfer(&state, caller.uid, gid, request.uid).await?,
    ))
}

async fn leave(
    State(state): State<AppState>,
    Auth(caller): Auth,
    AppPath(gid): AppPath<GroupId>,
) -> Result<StatusCode, ApiError> {
    groups::leave(&state, caller.uid, gid).await?;
    Ok(StatusCode::NO_CONTENT)
}

async fn join(
    State(state): State<AppState>,
    Auth(caller): Auth,
    AppPath(gid): AppPath<GroupId>,
    OptionalJson(request): OptionalJson<JoinGroup>,
) -> Result<AppJson<JoinOutcome>, ApiError> {
    Ok(AppJson(
        groups::join(&state, caller.uid, gid, request).await?,
    ))
}

async fn join_requests(
    State(state): State<AppState>,
    Auth(caller): Auth,
    AppPath(gid): AppPath<GroupId>,
) -> Result<AppJson<GroupJoinRequests>, ApiError> {
    Ok(AppJson(
        groups::join_requests(&state, caller.uid, gid).await?,
    ))
}

async fn approve(
    State(state): State<AppState>,
    Auth(caller): Auth,
    AppPath((gid, id)): AppPath<(GroupId, i64)>,
) -> Result<AppJson<GroupJoinRequest>, ApiError> {
    Ok(AppJson(
        groups::answer_join_request(&state, caller.uid, gid, id, true).await?,
    ))
}

async fn reject(
    State(state): State<AppState>,
    Auth(caller): Auth,
    AppPath((gid, id)): AppPath<(GroupId, i64)>,
) -> Result<AppJson<GroupJoinRequest>, ApiError> {
    Ok(AppJson(
        groups::answer_join_request(&state, caller.uid, gid, id, false).await?,
    ))
}

async fn invite(
    State(state): State<AppState>,
    Auth(caller): Auth,
    AppJson(request): AppJson<InviteToGroup>,
) -> Result<Response, ApiError> {
    let invite = groups::invite(&state, caller.uid, request).await?;
    Ok((StatusCode::CREATED, AppJson(invite)).into_response())
}

async fn invites(
    State(state): State<AppState>,
    Auth(caller): Auth,
) -> Result<AppJson<GroupInvites>, ApiError> {
    Ok(AppJson(groups::invites(&state, caller.uid).await?))
}

async fn accept_invite(
    State(state): State<AppState>,
    Auth(caller): Auth,
    AppPath(id): AppPath<i64>,
    OptionalJson(answer): OptionalJson<InviteAnswer>,
) -> Result<AppJson<GroupInvite>, ApiError> {
    Ok(AppJson(
        groups::answer_invite(&state, caller.uid, id, true, answer).await?,
    ))
}

async fn decline_invite(
    State(state): State<AppState>,
    Auth(caller): Auth,
    AppPath(id): AppPath<i64>,
    OptionalJson(answer): OptionalJson<InviteAnswer>,
) -> Result<AppJson<GroupInvite>, ApiError> {
    Ok(AppJson(
        groups::answer_invite(&state, caller.uid, id, false, answer).await?,
    ))
}
