//! Groups: creating and editing them, members and roles, join policies, invitations and join
//! requests. Every write checks its rules inside the store's transaction and wakes the users
//! whose streams got events once it committed.

use super::{AppState, ServiceError, now_millis};
use crate::domain::groups::{self as rules, Refusal};
use crate::store::groups::{Done, GroupChanges, Outcome};
use shared::contacts::{BatchRequest, MAX_BATCH_IDS};
use shared::groups::{
    CreateGroup, GroupBatch, GroupId, GroupInfo, GroupInvite, GroupInvites, GroupJoinRequest,
    GroupJoinRequests, GroupMembers, GroupRole, InviteAnswer, InviteToGroup, JoinGroup,
    JoinOutcome, UpdateGroup,
};
use shared::{ErrorCode, UserId};

impl From<Refusal> for ServiceError {
    fn from(refusal: Refusal) -> Self {
        ServiceError::refused(refusal.code, refusal.message)
    }
}

/// Wakes the users of a committed write and returns its value, or the refusal.
fn finish<T>(state: &AppState, outcome: Outcome<Done<T>>) -> Result<T, ServiceError> {
    let done = outcome?;
    state.notifier.wake(&done.woken);
    Ok(done.value)
}

/// Creates a group; the caller becomes its owner.
pub async fn create(
    state: &AppState,
    caller: UserId,
    request: CreateGroup,
) -> Result<GroupInfo, ServiceError> {
    let gname = rules::parse_gname(request.gname)?;
    let intro = rules::parse_intro(request.intro)?;
    let done = state
        .store
        .create_group(caller, &gname, &intro, request.join_policy, now_millis())
        .await?;
    tracing::info!(uid = %caller, gid = %done.value.gid, "group created");
    finish(state, Ok(done))
}

/// A group's public details (name, intro, policy), so that a join link can show what it is.
pub async fn info(state: &AppState, gid: GroupId) -> Result<GroupInfo, ServiceError> {
    state
        .store
        .group(gid)
        .await?
        .ok_or_else(|| rules::GROUP_NOT_FOUND.into())
}

/// The details of the groups whose `time` differs from the client's copy.
pub async fn batch(state: &AppState, request: BatchRequest) -> Result<GroupBatch, ServiceError> {
    if request.items.len() > MAX_BATCH_IDS {
        return Err(ServiceError::refused(
            ErrorCode::TooManyIds,
            format!("ask for at most {MAX_BATCH_IDS} groups at once"),
        ));
    }
    Ok(state.store.groups_batch(&request.items).await?)
}

/// Edits a group (owner and admins).
pub async fn update(
    state: &AppState,
    caller: UserId,
    gid: GroupId,
    request: UpdateGroup,
) -> Result<GroupInfo, ServiceError> {
    let changes = GroupChanges {
        gname: request.gname.map(rules::parse_gname).transpose()?,
        intro: request.intro.map(rules::parse_intro).transpose()?,
        join_policy: request.join_policy,
    };
    let outcome = state
        .store
        .update_group(caller, gid, changes, now_millis())
        .await?;
    finish(state, outcome)
}

/// The members of a group, for its members.
pub async fn members(
    state: &AppState,
    caller: UserId,
    gid: GroupId,
) -> Result<GroupMembers, ServiceError> {
    Ok(state.store.group_members(caller, gid).await??)
}

/// Makes a member an admin or a plain member (owner only).
pub async fn set_role(
    state: &AppState,
    caller: UserId,
    gid: GroupId,
    target: UserId,
    role: GroupRole,
) -> Result<GroupMembers, ServiceError> {
    let role = rules::settable_role(role)?;
    let outcome = state
        .store
        .set_role(caller, gid, target, role, now_millis())
        .await?;
    finish(state, outcome)
}

/// Removes a member (owner: anyone else; admins: plain members).
pub async fn remove_member(
    state: &AppState,
    caller: UserId,
    gid: GroupId,
    target: UserId,
) -> Result<(), ServiceError> {
    let outcome = state
        .store
        .remove_member(caller, gid, target, now_millis())
        .await?;
    finish(state, outcome)
}

/// Hands ownership to another member (owner only).
pub async fn transfer(
    state: &AppState,
    caller: UserId,
    gid: GroupId,
    target: UserId,
) -> Result<GroupInfo, ServiceError> {
    let outcome = state
        .store
        .transfer_ownership(caller, gid, target, now_millis())
        .await?;
    finish(state, outcome)
}

/// The caller leaves a group (not the owner).
pub async fn leave(state: &AppState, caller: UserId, gid: GroupId) -> Result<(), ServiceError> {
    let outcome = state.store.leave_group(caller, gid, now_millis()).await?;
    finish(state, outcome)
}

/// Dissolves a group (owner only).
pub async fn dissolve(state: &AppState, caller: UserId, gid: GroupId) -> Result<(), ServiceError> {
    let outcome = state
        .store
        .dissolve_group(caller, gid, now_millis())
        .await?;
    if outcome.is_ok() {
        tracing::info!(uid = %caller, gid = %gid, "group dissolved");
    }
    finish(state, outcome)
}

/// Joins an open group, or asks to join an approval group.
pub async fn join(
    state: &AppState,
    caller: UserId,
    gid: GroupId,
    request: JoinGroup,
) -> Result<JoinOutcome, ServiceError> {
    let note = rules::parse_note(request.note)?;
    let outcome = state
        .store
        .join_group(caller, gid, &note, now_millis())
        .await?;
    finish(state, outcome)
}

/// Pending join requests (owner and admins).
pub async fn join_requests(
    state: &AppState,
    caller: UserId,
    gid: GroupId,
) -> Result<GroupJoinRequests, ServiceError> {
    let requests = state.store.join_requests(caller, gid).await??;
    Ok(GroupJoinRequests { requests })
}

/// Approves or rejects a pending join request (owner and admins).
pub async fn answer_join_request(
    state: &AppState,
    caller: UserId,
    gid: GroupId,
    id: i64,
    approve: bool,
) -> Result<GroupJoinRequest, ServiceError> {
    let outcome = state
        .store
        .answer_join_request(caller, gid, id, approve, now_millis())
        .await?;
    finish(state, outcome)
}

/// Invites a user to a group (seed 000's invite JSON). `admin_uid` must be the caller: the uid
/// always comes from the session, so a different one is `invalid_parameter`.
pub async fn invite(
    state: &AppState,
    caller: UserId,
    request: InviteToGroup,
) -> Result<GroupInvite, ServiceError> {
    if request.admin_uid != caller {
        return Err(ServiceError::refused(
            ErrorCode::InvalidParameter,
            "admin_uid must be your own uid",
        ));
    }
    if request.add_uid == caller {
        return Err(ServiceError::refused(
            ErrorCode::CannotAddSelf,
            "you cannot invite yourself",
        ));
    }
    let outcome = state
        .store
        .invite_to_group(caller, request.gid, request.add_uid, now_millis())
        .await?;
    finish(state, outcome)
}

/// Pending invitations to the caller, and the latest ones they sent.
pub async fn invites(state: &AppState, caller: UserId) -> Result<GroupInvites, ServiceError> {
    Ok(state.store.group_invites(caller).await?)
}

/// Accepts (joining the group whatever its policy) or declines an invitation to the caller.
pub async fn answer_invite(
    state: &AppState,
    caller: UserId,
    id: i64,
    accept: bool,
    answer: InviteAnswer,
) -> Result<GroupInvite, ServiceError> {
    let result = rules::parse_result(answer.result)?;
    let outcome = state
        .store
        .answer_invite(caller, id, accept, result.as_deref(), now_millis())
        .await?;
    finish(state, outcome)
}
