//! Group rules (seed 000 group_info, group_members, invitations): what a name or intro may be,
//! which role may do what to whom, and who may invite whom. Pure functions, no I/O.

use shared::contacts::{MAX_NOTE_CHARS, MsgPolicy};
use shared::groups::{GroupId, GroupRole, MAX_GNAME_CHARS, MAX_INTRO_CHARS, MAX_RESULT_CHARS};
use shared::{ConversationId, ErrorCode};

/// A group rule said no: the stable code and a sentence for people.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Refusal {
    pub code: ErrorCode,
    pub message: &'static str,
}

impl Refusal {
    pub const fn new(code: ErrorCode, message: &'static str) -> Self {
        Self { code, message }
    }
}

pub const GROUP_NOT_FOUND: Refusal = Refusal::new(
    ErrorCode::GroupNotFound,
    "this group does not exist or was dissolved",
);
pub const NOT_A_MEMBER: Refusal = Refusal::new(
    ErrorCode::NotAMember,
    "only members of the group may do this",
);
pub const TARGET_NOT_A_MEMBER: Refusal = Refusal::new(
    ErrorCode::NotAMember,
    "that user is not a member of the group",
);
pub const ALREADY_MEMBER: Refusal = Refusal::new(
    ErrorCode::AlreadyMember,
    "that user is a member of the group already",
);
pub const REQUEST_NOT_FOUND: Refusal = Refusal::new(
    ErrorCode::RequestNotFound,
    "no such pending request or invitation for you",
);

/// The conversation of group `gid`: `g{gid}`. Clients treat it as opaque.
pub fn group_conversation(gid: GroupId) -> ConversationId {
    ConversationId(format!("g{gid}"))
}

/// A group name: 1 to 254 characters, not only whitespace.
pub fn parse_gname(gname: String) -> Result<String, Refusal> {
    if gname.trim().is_empty() || gname.chars().count() > MAX_GNAME_CHARS {
        return Err(Refusal::new(
            ErrorCode::InvalidGroupName,
            "a group name must have 1 to 254 characters, not only spaces",
        ));
    }
    Ok(gname)
}

/// A group intro: at most 2045 characters (may be empty).
pub fn parse_intro(intro: String) -> Result<String, Refusal> {
    if intro.chars().count() > MAX_INTRO_CHARS {
        return Err(Refusal::new(
            ErrorCode::IntroTooLong,
            "a group intro has at most 2045 characters",
        ));
    }
    Ok(intro)
}

/// The note of a join request: at most 200 characters.
pub fn parse_note(note: String) -> Result<String, Refusal> {
    if note.chars().count() > MAX_NOTE_CHARS {
        return Err(Refusal::new(
            ErrorCode::NoteTooLong,
            "a note has at most 200 characters",
        ));
    }
    Ok(note)
}

/// The invitee's answer text: at most 200 characters.
pub fn parse_result(result: Option<String>) -> Result<Option<String>, Refusal> {
    match result {
        Some(text) if text.chars().count() > MAX_RESULT_CHARS => Err(Refusal::new(
            ErrorCode::NoteTooLong,
            "an answer has at most 200 characters",
        )),
        other => Ok(other),
    }
}

/// The caller's role, or `not_a_member`.
pub fn member(role: Option<GroupRole>) -> Result<GroupRole, Refusal> {
    role.ok_or(NOT_A_MEMBER)
}

/// Owner and admins manage the group: edit its info, invite, answer join requests.
pub fn may_manage(role: Option<GroupRole>) -> Result<(), Refusal> {
    match member(role)? {
        GroupRole::Owner | GroupRole::Admin => Ok(()),
        GroupRole::Member => Err(Refusal::new(
            ErrorCode::InsufficientRole,
            "only the owner and admins may do this",
        )),
    }
}

/// Only the owner sets roles, transfers ownership and dissolves the group.
pub fn owner_only(role: Option<GroupRole>) -> Result<(), Refusal> {
    match member(role)? {
        GroupRole::Owner => Ok(()),
        _ => Err(Refusal::new(
            ErrorCode::InsufficientRole,
            "only the owner may do this",
        )),
    }
}

/// The role the owner may give: admin or member (ownership moves by transfer).
pub fn settable_role(role: GroupRole) -> Result<GroupRole, Refusal> {
    match role {
        GroupRole::Owner => Err(Refusal::new(
            ErrorCode::InvalidRole,
            "ownership moves by transfer; set admin or member",
        )),
        other => Ok(other),
    }
}

/// Who may remove whom: the owner removes anyone but himself, admins remove plain members.
pub fn may_remove(actor: Option<GroupRole>, target: Option<GroupRole>) -> Result<(), Refusal> {
    let actor = member(actor)?;
    let target = target.ok_or(TARGET_NOT_A_MEMBER)?;
    match (actor, target) {
        (_, GroupRole::Owner) => Err(Refusal::new(
            ErrorCode::InsufficientRole,
            "the owner cannot be removed; transfer ownership or dissolve the group",
        )),
        (GroupRole::Owner, _) | (GroupRole::Admin, GroupRole::Member) => Ok(()),
        _ => Err(Refusal::new(
            ErrorCode::InsufficientRole,
            "admins may remove plain members only",
        )),
    }
}

/// Anyone but the owner may leave.
pub fn may_leave(role: Option<GroupRole>) -> Result<(), Refusal> {
    match member(role)? {
        GroupRole::Owner => Err(Refusal::new(
            ErrorCode::OwnerCannotLeave,
            "the owner must transfer ownership or dissolve the group before leaving",
        )),
        _ => Ok(()),
    }
}

/// What the invitee's settings say about the inviter.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct InviteeView {
    pub msg_policy: MsgPolicy,
    pub friends: bool,
    /// They share a group that is not dissolved.
    pub share_group: bool,
    /// The invitee blocked the inviter.
    pub blocked_inviter: bool,
}

/// The invitee's `msg_policy` decides who may invite them; a block refuses always.
pub fn may_invite(view: InviteeView) -> Result<(), Refusal> {
    let allowed = !view.blocked_inviter
        && match view.msg_policy {
            MsgPolicy::Anyone => true,
            MsgPolicy::GroupMembers => view.friends || view.share_group,
            MsgPolicy::Friends => view.friends,
        };
    if allowed {
        Ok(())
    } else {
        Err(Refusal::new(
            ErrorCode::ForbiddenByPrivacy,
            "this user's privacy settings do not allow your invitation",
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_must_have_something_and_fit() {
        assert!(parse_gname("  ".into()).is_err());
        assert!(parse_gname("é".repeat(MAX_GNAME_CHARS)).is_ok());
        assert!(parse_gname("é".repeat(MAX_GNAME_CHARS + 1)).is_err());
        assert!(parse_intro(String::new()).is_ok());
        assert!(parse_intro("x".repeat(MAX_INTRO_CHARS + 1)).is_err());
    }

    #[test]
    fn the_owner_removes_anyone_else_and_admins_only_plain_members() {
        use GroupRole::*;
        assert!(may_remove(Some(Owner), Some(Admin)).is_ok());
        assert!(may_remove(Some(Owner), Some(Member)).is_ok());
        assert!(may_remove(Some(Owner), Some(Owner)).is_err());
        assert!(may_remove(Some(Admin), Some(Member)).is_ok());
        assert!(may_remove(Some(Admin), Some(Admin)).is_err());
        assert!(may_remove(Some(Member), Some(Member)).is_err());
        assert_eq!(
            may_remove(None, Some(Member)).map_err(|r| r.code),
            Err(ErrorCode::NotAMember)
        );
    }

    #[test]
    fn the_msg_policy_decides_who_may_invite() {
        let view = |msg_policy, friends, share_group, blocked_inviter| InviteeView {
            msg_policy,
            friends,
            share_group,
            blocked_inviter,
        };
        assert!(may_invite(view(MsgPolicy::Anyone, false, false, false)).is_ok());
        assert!(may_invite(view(MsgPolicy::Anyone, true, true, true)).is_err());
        assert!(may_invite(view(MsgPolicy::Friends, false, true, false)).is_err());
        assert!(may_invite(view(MsgPolicy::Friends, true, false, false)).is_ok());
        assert!(may_invite(view(MsgPolicy::GroupMembers, false, true, false)).is_ok());
        assert!(may_invite(view(MsgPolicy::GroupMembers, false, false, false)).is_err());
    }
}
