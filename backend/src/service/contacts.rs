//! Profiles and privacy, friends and friend requests, blocks, and the versioned lists.

use super::session::{self, Caller};
use super::{AppState, ServiceError, now_millis};
use crate::domain::contacts::{self as rules, Invalid, MAX_DELTA_CHANGES, Relation};
use crate::store::contacts::{
    MessageFacts, ProfileChange, ProfileRow, ProfileUpdate, RequestAction, RequestOutcome,
    RequestRefusal,
};
use crate::store::lists::ListHead;
use shared::contacts::{
    BatchRequest, BlockList, FriendRequest, FriendRequestOutcome, FriendRequestResult,
    FriendRequests, ListDelta, ListKind, ListSync, ListVersions, MAX_BATCH_IDS, NewFriendRequest,
    Profile, ProfileBatch, UpdateProfile,
};
use shared::{ErrorCode, GroupId, Me, UserId};
use std::collections::{BTreeSet, HashMap};

impl From<Invalid> for ServiceError {
    fn from(e: Invalid) -> Self {
        ServiceError::refused(e.code, e.message)
    }
}

/// Edits the caller's profile and privacy settings. Any actual change moves the profile's
/// `time` forward and tells the caller and their friends (`profile` event).
pub async fn update_profile(
    state: &AppState,
    caller: &Caller,
    update: UpdateProfile,
) -> Result<Me, ServiceError> {
    let change = ProfileChange {
        nick_name: update.nick_name.map(rules::parse_nick).transpose()?,
        gender: update.gender,
        birthday: update.birthday.map(rules::parse_birthday).transpose()?,
        open_level: update.open_level,
        friend_level: update.friend_level,
        msg_policy: update.msg_policy,
        presence_level: update.presence_level,
    };
    match state
        .store
        .update_profile(caller.uid, &change, now_millis())
        .await?
    {
        ProfileUpdate::UnknownUser => return Err(ServiceError::Unauthenticated),
        ProfileUpdate::Unchanged => {}
        ProfileUpdate::Changed { time, wake } => {
            state.notifier.wake(&wake);
            tracing::debug!(uid = %caller.uid, time, "profile changed");
        }
    }
    session::me(state, caller).await
}

/// One user's profile as the caller may see it: the full profile, or (when the owner's
/// `open_level` hides it from the caller) the hidden form with uid and nick name only. The
/// nick is public anyway (it is on every message), so a hidden profile answers 200 like the
/// batch does, not `forbidden_by_privacy`.
pub async fn profile(
    state: &AppState,
    viewer: UserId,
    uid: UserId,
) -> Result<Profile, ServiceError> {
    let rows = state.store.profiles_for(viewer, &[uid]).await?;
    rows.into_iter()
        .next()
        .map(|row| visible_profile(viewer, row))
        .ok_or(ServiceError::UnknownUser(uid))
}

/// Profiles of many users in one query: those whose `time` differs from the client's copy,
/// the ids the client holds current, and the ids that do not exist.
pub async fn profiles(
    state: &AppState,
    viewer: UserId,
    request: BatchRequest,
) -> Result<ProfileBatch, ServiceError> {
    if request.items.len() > MAX_BATCH_IDS {
        return Err(ServiceError::refused(
            ErrorCode::TooManyIds,
            format!("ask for at most {MAX_BATCH_IDS} ids at once"),
        ));
    }
    let mut known: HashMap<i64, Option<shared::Millis>> = HashMap::new();
    for item in &request.items {
        known.insert(item.id, item.time);
    }
    let ids: BTreeSet<UserId> = known.keys().copied().map(UserId).collect();
    let ids: Vec<UserId> = ids.into_iter().collect();
    let rows = state.store.profiles_for(viewer, &ids).await?;
    let mut batch = ProfileBatch::default();
    let mut found = BTreeSet::new();
    for row in rows {
        found.insert(row.uid);
        let profile = visible_profile(viewer, row);
        if known.get(&profile.uid.0).copied().flatten() == Some(profile.time) {
            batch.unchanged.push(profile.uid);
        } else {
            batch.profiles.push(profile);
        }
    }
    batch.unknown = ids.into_iter().filter(|id| !found.contains(id)).collect();
    Ok(batch)
}

fn visible_profile(viewer: UserId, row: ProfileRow) -> Profile {
    let relation = Relation {
        is_self: viewer == row.uid,
        friends: row.friends,
        share_group: row.share_group,
    };
    let hidden = !rules::may_see_profile(row.open_level, relation);
    Profile {
        uid: row.uid,
        nick_name: row.nick_name,
        gender: (!hidden).then_some(row.gender),
        birthday: if hidden { None } else { row.birthday },
        time: rules::viewer_time(row.profile_time, hidden),
        hidden,
    }
}

/// Why the recipient's blocks or `msg_policy` refuse a one-to-one send with these facts;
/// `None` when it may go. The store applies it inside the send's transaction (see
/// [`accepts`]); an unknown recipient has no facts and fails as `unknown_user`.
pub fn refusal(facts: &MessageFacts) -> Option<ServiceError> {
    if facts.blocked_by_recipient {
        return Some(ServiceError::refused(
            ErrorCode::ForbiddenByPrivacy,
            "this user does not accept messages from you",
        ));
    }
    if facts.blocked_by_sender {
        return Some(ServiceError::refused(
            ErrorCode::Blocked,
            "you blocked this user; unblock them to write to them",
        ));
    }
    let relation = Relation {
        is_self: false,
        friends: facts.friends,
        share_group: facts.share_group,
    };
    if !rules::may_message(facts.msg_policy, relation) {
        return Some(ServiceError::refused(
            ErrorCode::ForbiddenByPrivacy,
            "this user accepts messages only from friends (or people in their groups)",
        ));
    }
    None
}

/// Whether a one-to-one send with these facts may go (see [`refusal`]): the rule a send hands
/// to the store, `store::NewMessage::accepts`.
pub fn accepts(facts: &MessageFacts) -> bool {
    // The error is built only for a refusal, the rare case.
    refusal(facts).is_none()
}

/// Sends a friend request to a user, by uid or by their invite link's code.
pub async fn send_friend_request(
    state: &AppState,
    from: UserId,
    request: NewFriendRequest,
) -> Result<FriendRequestOutcome, ServiceError> {
    let note = rules::parse_note(request.note)?;
    let to = match (request.to, request.code) {
        (Some(to), None) => to,
        (None, Some(code)) => state
            .store
            .user_by_friend_code(&code)
            .await?
            .ok_or_else(|| {
                ServiceError::refused(ErrorCode::UnknownUser, "no user has this invite code")
            })?,
        _ => {
            return Err(ServiceError::refused(
                ErrorCode::InvalidJson,
                "give exactly one of `to` (a uid) and `code` (an invite code)",
            ));
        }
    };
    if to == from {
        return Err(ServiceError::refused(
            ErrorCode::CannotAddSelf,
            "you cannot add yourself as a friend",
        ));
    }
    let (outcome, wake) = state
        .store
        .send_friend_request(from, to, &note, now_millis())
        .await?;
    state.notifier.wake(&wake);
    match outcome {
        RequestOutcome::Refused(refusal) => Err(refusal_error(refusal, to)),
        RequestOutcome::Added(request) => {
            tracing::debug!(uid = %from, friend = %to, "friends now");
            Ok(FriendRequestOutcome {
                result: FriendRequestResult::Added,
                request,
            })
        }
        RequestOutcome::Pending { request, .. } => Ok(FriendRequestOutcome {
            result: FriendRequestResult::Pending,
            request,
        }),
    }
}

fn refusal_error(refusal: RequestRefusal, to: UserId) -> ServiceError {
    match refusal {
        RequestRefusal::UnknownUser => ServiceError::UnknownUser(to),
        RequestRefusal::Blocked => ServiceError::refused(
            ErrorCode::Blocked,
            "you blocked this user; unblock them first",
        ),
        // A block is not revealed: the blocked user sees the same answer as for `nobody`.
        RequestRefusal::BlockedBySender | RequestRefusal::Closed => ServiceError::refused(
            ErrorCode::FriendRequestsClosed,
            "this user accepts no friend requests",
        ),
        RequestRefusal::AlreadyFriends => {
            ServiceError::refused(ErrorCode::AlreadyFriends, "you are friends already")
        }
    }
}

/// Accepts, rejects or cancels a pending friend request.
pub async fn answer_friend_request(
    state: &AppState,
    uid: UserId,
    id: i64,
    action: RequestAction,
) -> Result<FriendRequest, ServiceError> {
    let (request, wake) = state
        .store
        .answer_friend_request(uid, id, action, now_millis())
        .await?;
    state.notifier.wake(&wake);
    request.ok_or_else(|| {
        ServiceError::refused(
            ErrorCode::RequestNotFound,
            "no such pending request for you to answer",
        )
    })
}

/// The caller's pending friend requests, both ways, newest first.
pub async fn friend_requests(
    state: &AppState,
    uid: UserId,
) -> Result<FriendRequests, ServiceError> {
    Ok(state.store.friend_requests(uid).await?)
}

/// Ends a friendship, on both sides.
pub async fn remove_friend(
    state: &AppState,
    uid: UserId,
    friend: UserId,
) -> Result<(), ServiceError> {
    let (removed, wake) = state.store.remove_friend(uid, friend, now_millis()).await?;
    state.notifier.wake(&wake);
    if !removed {
        return Err(ServiceError::refused(
            ErrorCode::NotFriends,
            "this user is not your friend",
        ));
    }
    Ok(())
}

/// Blocks a user (again is fine): ends the friendship and cancels pending requests, both ways.
pub async fn block(state: &AppState, uid: UserId, target: UserId) -> Result<(), ServiceError> {
    if target == uid {
        return Err(ServiceError::refused(
            ErrorCode::CannotAddSelf,
            "you cannot block yourself",
        ));
    }
    let (exists, wake) = state.store.block(uid, target, now_millis()).await?;
    state.notifier.wake(&wake);
    if !exists {
        return Err(ServiceError::UnknownUser(target));
    }
    Ok(())
}

/// Lifts a block (none is fine).
pub async fn unblock(state: &AppState, uid: UserId, target: UserId) -> Result<(), ServiceError> {
    Ok(state.store.unblock(uid, target).await?)
}

/// The users the caller blocked, ascending.
pub async fn blocks(state: &AppState, uid: UserId) -> Result<BlockList, ServiceError> {
    Ok(BlockList {
        uids: state.store.blocks(uid).await?,
    })
}

/// What changed in the caller's friend and group lists since the versions the client holds.
pub async fn sync_lists(
    state: &AppState,
    uid: UserId,
    held: ListVersions,
) -> Result<ListSync, ServiceError> {
    // Heads first: a list or change read afterwards may be newer than its head, never older, so
    // a client stores a version it has all the changes of (re-applying one is harmless).
    let (friend, group) = state.store.list_heads(uid).await?;
    let friend_list = list_delta(state, uid, ListKind::Friend, friend, held.friend_list).await?;
    let group_list = list_delta(state, uid, ListKind::Group, group, held.group_list).await?;
    Ok(ListSync {
        friend_list: convert(friend_list, UserId),
        group_list: convert(group_list, GroupId),
    })
}

async fn list_delta(
    state: &AppState,
    uid: UserId,
    list: ListKind,
    head: ListHead,
    held: i64,
) -> Result<ListDelta<i64>, ServiceError> {
    let reset = || async {
        Ok::<_, ServiceError>(ListDelta {
            version: head.version,
            unchanged: false,
            reset: true,
            added: state.store.list_items(uid, list).await?,
            removed: Vec::new(),
        })
    };
    if held <= 0 || held > head.version || held < head.floor {
        return reset().await;
    }
    if held == head.version {
        return Ok(ListDelta {
            version: head.version,
            unchanged: true,
            reset: false,
            added: Vec::new(),
            removed: Vec::new(),
        });
    }
    let changes = state
        .store
        .list_changes(uid, list, held, head.version, MAX_DELTA_CHANGES + 1)
        .await?;
    if changes.len() > MAX_DELTA_CHANGES {
        return reset().await;
    }
    let (added, removed) = rules::fold_changes(&changes);
    Ok(ListDelta {
        version: head.version,
        unchanged: false,
        reset: false,
        added,
        removed,
    })
}

fn convert<T>(delta: ListDelta<i64>, id: impl Fn(i64) -> T) -> ListDelta<T> {
    ListDelta {
        version: delta.version,
        unchanged: delta.unchanged,
        reset: delta.reset,
        added: delta.added.into_iter().map(&id).collect(),
        removed: delta.removed.into_iter().map(&id).collect(),
    }
}
