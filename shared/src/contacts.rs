//! Profiles, privacy settings, friends, blocks and the versioned lists (seed 000: user_info,
//! user_friend, list_time).

use crate::{Millis, UserId};
use serde::{Deserialize, Serialize};

/// Longest nick name, in characters (seed: varchar(254)).
pub const MAX_NICK_CHARS: usize = 254;
/// Longest note on a friend request, in characters.
pub const MAX_NOTE_CHARS: usize = 200;
/// Most ids one batch-details request may ask for.
pub const MAX_BATCH_IDS: usize = 200;

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Gender {
    #[default]
    Unknown,
    Male,
    Female,
}

deserialize_by_name!(Gender { Unknown = "unknown", Male = "male", Female = "female" });

/// Who may see my profile (gender, birthday). Everyone always sees uid and nick name, so that a
/// chat can show who wrote.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum OpenLevel {
    #[default]
    Everyone,
    /// My friends only.
    Friends,
    /// My friends and people who share a group with me.
    GroupMembers,
    Nobody,
}

deserialize_by_name!(OpenLevel { Everyone = "everyone", Friends = "friends", GroupMembers = "group_members", Nobody = "nobody" });

/// Who may add me as a friend.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum FriendLevel {
    /// A request makes us friends at once.
    Anyone,
    /// A request waits until I accept it.
    #[default]
    Approval,
    /// Requests are refused (`friend_requests_closed`).
    Nobody,
}

deserialize_by_name!(FriendLevel { Anyone = "anyone", Approval = "approval", Nobody = "nobody" });

/// Who may send me one-to-one messages (and group invitations).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum MsgPolicy {
    #[default]
    Anyone,
    /// My friends and people who share a group with me.
    GroupMembers,
    /// My friends only.
    Friends,
}

deserialize_by_name!(MsgPolicy { Anyone = "anyone", GroupMembers = "group_members", Friends = "friends" });

/// A user's profile as another user may see it (`GET /api/users/{uid}`, `POST /api/users/batch`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Profile {
    pub uid: UserId,
    pub nick_name: String,
    /// `None` when the owner's `open_level` hides it from the viewer.
    pub gender: Option<Gender>,
    /// YYYYMMDD, e.g. 19700506; `None` when unset or hidden.
    pub birthday: Option<u32>,
    /// Changes whenever the profile (or its visibility settings) changes; the client caches by it.
    pub time: Millis,
    /// True when the viewer sees only uid and nick name because of the owner's `open_level`.
    pub hidden: bool,
}

/// Who may see whether I am online (`GET /api/users/{uid}/presence`, `presence` events).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum PresenceLevel {
    /// My friends only.
    #[default]
    Friends,
    /// Anyone who knows my uid: for support accounts that guests reach through a site's chat
    /// widget, which tells them "we'll reply here" while the account is offline.
    Everyone,
}

deserialize_by_name!(PresenceLevel { Friends = "friends", Everyone = "everyone" });

/// `GET /api/users/{uid}/presence` answer.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct UserPresence {
    pub uid: UserId,
    pub online: bool,
}

/// `PATCH /api/me` body: only the fields given change.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct UpdateProfile {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub nick_name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gender: Option<Gender>,
    /// YYYYMMDD; 0 clears it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub birthday: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub open_level: Option<OpenLevel>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub friend_level: Option<FriendLevel>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub msg_policy: Option<MsgPolicy>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub presence_level: Option<PresenceLevel>,
}

/// `POST /api/friends/requests` body: the target by uid, or by the code of their invite link.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct NewFriendRequest {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub to: Option<UserId>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub code: Option<String>,
    #[serde(default)]
    pub note: String,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum RequestState {
    Pending,
    Accepted,
    Rejected,
    Cancelled,
}

deserialize_by_name!(RequestState { Pending = "pending", Accepted = "accepted", Rejected = "rejected", Cancelled = "cancelled" });

/// A friend request, as both sides see it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct FriendRequest {
    pub id: i64,
    pub from: UserId,
    pub from_nick: String,
    pub to: UserId,
    pub to_nick: String,
    pub note: String,
    pub state: RequestState,
    /// Last change.
    pub time: Millis,
}

/// What sending a friend request did.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum FriendRequestResult {
    /// The target accepts anyone (or had asked us too): we are friends now.
    Added,
    /// The request waits for the target's approval.
    Pending,
}

deserialize_by_name!(FriendRequestResult { Added = "added", Pending = "pending" });

/// `POST /api/friends/requests` answer (201).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct FriendRequestOutcome {
    pub result: FriendRequestResult,
    pub request: FriendRequest,
}

/// `GET /api/friends/requests` answer: pending requests, newest first.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct FriendRequests {
    pub incoming: Vec<FriendRequest>,
    pub outgoing: Vec<FriendRequest>,
}

/// `POST /api/blocks` body.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct BlockUser {
    pub uid: UserId,
}

/// `GET /api/blocks` answer.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct BlockList {
    pub uids: Vec<UserId>,
}

/// `GET /api/presence` answer: which of my friends are online now.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct PresenceList {
    pub online: Vec<UserId>,
}

/// The two versioned lists.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ListKind {
    Friend,
    Group,
}

deserialize_by_name!(ListKind { Friend = "friend", Group = "group" });

/// `POST /api/lists/sync` body, exactly as in seed 000: the versions the client holds (0 when it
/// holds nothing).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ListVersions {
    #[serde(default)]
    pub friend_list: i64,
    #[serde(default)]
    pub group_list: i64,
}

/// One list's answer. Exactly one of three shapes:
/// - `unchanged: true`: the client's version is current; `added` and `removed` are empty;
/// - a delta: `added` and `removed` since the client's version (apply both, then store `version`);
/// - `reset: true`: the client's version was 0 or too old to diff from; `added` is the whole list
///   and replaces what the client holds.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(bound(deserialize = "T: Deserialize<'de>"))]
pub struct ListDelta<T> {
    pub version: i64,
    #[serde(default)]
    pub unchanged: bool,
    #[serde(default)]
    pub reset: bool,
    #[serde(default)]
    pub added: Vec<T>,
    #[serde(default)]
    pub removed: Vec<T>,
}

/// `POST /api/lists/sync` answer.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ListSync {
    pub friend_list: ListDelta<UserId>,
    pub group_list: ListDelta<crate::groups::GroupId>,
}

/// One id of a batch-details request, with the `time` of the copy the client holds (if any).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct KnownItem {
    pub id: i64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub time: Option<Millis>,
}

/// `POST /api/users/batch` and `POST /api/groups/batch` body (at most `MAX_BATCH_IDS` items).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct BatchRequest {
    pub items: Vec<KnownItem>,
}

/// `POST /api/users/batch` answer: profiles whose `time` differs from the client's, the ids the
/// client already holds current, and the ids that do not exist.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProfileBatch {
    pub profiles: Vec<Profile>,
    pub unchanged: Vec<UserId>,
    pub unknown: Vec<UserId>,
}
