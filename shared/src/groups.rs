//! Groups: info, members and roles, join policies, invitations and join requests (seed 000:
//! group_info, group_members and the invite JSON).

use crate::{ConversationId, Millis, UserId};
use serde::{Deserialize, Serialize};
use std::fmt;

/// Longest group name, in characters (seed: varchar(254)).
pub const MAX_GNAME_CHARS: usize = 254;
/// Longest group intro, in characters (seed: varchar(2045)).
pub const MAX_INTRO_CHARS: usize = 2045;
/// Longest answer to an invitation or join request, in characters.
pub const MAX_RESULT_CHARS: usize = 200;

/// A group.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct GroupId(pub i64);

impl fmt::Display for GroupId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

/// How people get into a group.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum JoinPolicy {
    /// Anyone with the link joins at once.
    Open,
    /// A join request waits for an owner or admin.
    #[default]
    Approval,
    /// Only an admin's invitation lets someone in.
    InviteOnly,
}

deserialize_by_name!(JoinPolicy { Open = "open", Approval = "approval", InviteOnly = "invite_only" });

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum GroupRole {
    Owner,
    Admin,
    Member,
}

deserialize_by_name!(GroupRole { Owner = "owner", Admin = "admin", Member = "member" });

/// A group's details (`time` changes whenever any of them changes).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct GroupInfo {
    pub gid: GroupId,
    pub gname: String,
    pub intro: String,
    pub owner: UserId,
    pub join_policy: JoinPolicy,
    /// The group's conversation (for history, read positions and the conversation list).
    pub conversation: ConversationId,
    pub dissolved: bool,
    pub time: Millis,
}

/// `POST /api/groups` body. The creator becomes the owner.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct CreateGroup {
    pub gname: String,
    #[serde(default)]
    pub intro: String,
    #[serde(default)]
    pub join_policy: JoinPolicy,
}

/// `PATCH /api/groups/{gid}` body (owner or admin): only the fields given change.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct UpdateGroup {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gname: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub intro: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub join_policy: Option<JoinPolicy>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct GroupMember {
    pub uid: UserId,
    pub nick_name: String,
    pub role: GroupRole,
    pub joined_at: Millis,
}

/// `GET /api/groups/{gid}/members` answer (members only): owner first, then admins, then members.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct GroupMembers {
    pub gid: GroupId,
    pub members: Vec<GroupMember>,
}

/// `POST /api/groups/{gid}/members/{uid}/role` body (owner only): `admin` or `member`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SetRole {
    pub role: GroupRole,
}

/// `POST /api/groups/{gid}/transfer` body (owner only): the member who becomes owner; the old
/// owner stays as an admin.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct TransferOwnership {
    pub uid: UserId,
}

/// `POST /api/groups/{gid}/join` body.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct JoinGroup {
    #[serde(default)]
    pub note: String,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum JoinResult {
    Joined,
    /// Waits for an owner or admin (`approval` groups).
    Pending,
}

deserialize_by_name!(JoinResult { Joined = "joined", Pending = "pending" });

/// `POST /api/groups/{gid}/join` answer.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct JoinOutcome {
    pub result: JoinResult,
    pub group: GroupInfo,
    /// The pending join request, when `result` is `pending`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub request: Option<GroupJoinRequest>,
}

/// `POST /api/groups/invites` body, as in seed 000. `admin_uid` must be the caller.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct InviteToGroup {
    pub admin_uid: UserId,
    pub add_uid: UserId,
    pub gid: GroupId,
}

/// An invitation, as inviter and invitee see it. `result` is the invitee's answer text (seed 000:
/// `"result": "..."`), when they gave one.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct GroupInvite {
    pub id: i64,
    pub admin_uid: UserId,
    pub add_uid: UserId,
    pub gid: GroupId,
    pub gname: String,
    pub admin_nick: String,
    pub state: crate::contacts::RequestState,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub result: Option<String>,
    pub time: Millis,
}

/// `POST /api/groups/invites/{id}/accept` and `/decline` body (optional).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct InviteAnswer {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub result: Option<String>,
}

/// `GET /api/groups/invites` answer: pending invitations to me, and the ones I sent.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct GroupInvites {
    pub incoming: Vec<GroupInvite>,
    pub outgoing: Vec<GroupInvite>,
}

/// A request to join an `approval` group.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct GroupJoinRequest {
    pub id: i64,
    pub gid: GroupId,
    pub uid: UserId,
    pub nick_name: String,
    pub note: String,
    pub state: crate::contacts::RequestState,
    pub time: Millis,
}

/// `GET /api/groups/{gid}/requests` answer (owner and admins): pending join requests.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct GroupJoinRequests {
    pub requests: Vec<GroupJoinRequest>,
}

/// `POST /api/groups/batch` answer: like `ProfileBatch`, for groups.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct GroupBatch {
    pub groups: Vec<GroupInfo>,
    pub unchanged: Vec<GroupId>,
    pub unknown: Vec<GroupId>,
}
