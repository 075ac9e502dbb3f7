//! Groups (seed 000 group_info, group_members, invitations) and their join requests.
//!
//! Every write checks the caller's role inside its transaction, after locking the group: on
//! PostgreSQL the group conversation's row (`g{gid}`) is the group's lock, taken first (before
//! `list_time` rows and the users locked by `emit`), and sends lock the same row before they read
//! the members, so a send and a join or leave of the same group are serialized. SQLite has a
//! single writer and needs no lock. Refusals come back as `Ok(Err(Refusal))` with nothing
//! written.

use super::lists::{ListOp, bump_list};
use super::{Backend, Store, StoreError, enum_str, parse_enum};
use crate::domain::groups::{
    self as rules, ALREADY_MEMBER, GROUP_NOT_FOUND, InviteeView, REQUEST_NOT_FOUND, Refusal,
    TARGET_NOT_A_MEMBER, group_conversation,
};
use shared::contacts::{KnownItem, ListKind, MsgPolicy, RequestState};
use shared::groups::{
    GroupBatch, GroupId, GroupInfo, GroupInvite, GroupInvites, GroupJoinRequest, GroupMember,
    GroupMembers, GroupRole, JoinOutcome, JoinPolicy, JoinResult,
};
use shared::{ErrorCode, Event, Millis, UserId};
use sqlx::any::AnyRow;
use sqlx::{AnyConnection, Row};
use std::collections::HashMap;

/// A rule's answer: the value, or why not.
pub type Outcome<T> = Result<T, Refusal>;

/// What a group write answers, and the users to wake once it committed.
#[derive(Clone, Debug)]
pub struct Done<T> {
    pub value: T,
    pub woken: Vec<UserId>,
}

/// Most invitations `GET /api/groups/invites` lists as sent.
const OUTGOING_INVITES: i64 = 50;

/// Returns `Ok(Err(refusal))` from the enclosing function when a rule says no.
macro_rules! check {
    ($rule:expr) => {
        match $rule {
            Ok(value) => value,
            Err(refusal) => return Ok(Err(refusal)),
        }
    };
}

/// A validated `PATCH /api/groups/{gid}`.
#[derive(Clone, Debug, Default)]
pub struct GroupChanges {
    pub gname: Option<String>,
    pub intro: Option<String>,
    pub join_policy: Option<JoinPolicy>,
}

const GROUP_COLUMNS: &str = "gid, gname, intro, owner_uid, join_policy, dissolved, time";

const INVITE_SELECT: &str = "SELECT i.id, i.gid, i.admin_uid, i.add_uid, i.state, i.result, \
     i.updated_at, g.gname, u.nick_name AS admin_nick \
     FROM group_invites i JOIN group_info g ON g.gid = i.gid JOIN users u ON u.uid = i.admin_uid";

const REQUEST_SELECT: &str = "SELECT r.id, r.gid, r.uid, u.nick_name, r.note, r.state, \
     r.updated_at FROM group_join_requests r JOIN users u ON u.uid = r.uid";

impl Store {
    /// Creates a group owned by `owner`, with its conversation, and adds it to the owner's
    /// group list.
    pub async fn create_group(
        &self,
        owner: UserId,
        gname: &str,
        intro: &str,
        join_policy: JoinPolicy,
        now: Millis,
    ) -> Result<Done<GroupInfo>, StoreError> {
        let mut tx = self.writer.begin().await?;
        let gid: i64 = sqlx::query_scalar(
            "INSERT INTO group_info (gname, intro, owner_uid, join_policy, dissolved, time, \
             created_at) VALUES ($1, $2, $3, $4, 0, $5, $5) RETURNING gid",
        )
        .bind(gname)
        .bind(intro)
        .bind(owner.0)
        .bind(enum_str(&join_policy)?)
        .bind(now)
        .fetch_one(&mut *tx)
        .await?;
        let gid = GroupId(gid);
        sqlx::query(
            "INSERT INTO conversations (id, kind, max_seq, last_time, created_at, gid) \
             VALUES ($1, 'group', 0, $2, $2, $3)",
        )
        .bind(&group_conversation(gid).0)
        .bind(now)
        .bind(gid.0)
        .execute(&mut *tx)
        .await?;
        let mut events = Vec::new();
        add_member(&mut tx, gid, owner, GroupRole::Owner, now, &mut events).await?;
        let woken = self.emit(&mut tx, &events, now).await?;
        tx.commit().await?;
        Ok(Done {
            value: GroupInfo {
                gid,
                gname: gname.to_owned(),
                intro: intro.to_owned(),
                owner,
                join_policy,
                conversation: group_conversation(gid),
                dissolved: false,
                time: now,
            },
            woken,
        })
    }

    /// A group that exists and is not dissolved.
    pub async fn group(&self, gid: GroupId) -> Result<Option<GroupInfo>, StoreError> {
        let row = sqlx::query(&format!(
            "SELECT {GROUP_COLUMNS} FROM group_info WHERE gid = $1 AND dissolved = 0"
        ))
        .bind(gid.0)
        .fetch_optional(&self.reader)
        .await?;
        row.map(|r| group_from_row(&r)).transpose()
    }

    /// The groups of `items` whose `time` differs from the client's copy, in one query.
    /// Dissolved groups count as unknown.
    pub async fn groups_batch(&self, items: &[KnownItem]) -> Result<GroupBatch, StoreError> {
        let mut batch = GroupBatch::default();
        let mut wanted: Vec<KnownItem> = Vec::with_capacity(items.len());
        for item in items {
            if !wanted.iter().any(|w| w.id == item.id) {
                wanted.push(*item);
            }
        }
        if wanted.is_empty() {
            return Ok(batch);
        }
        let sql = format!(
            "SELECT {GROUP_COLUMNS} FROM group_info WHERE dissolved = 0 AND gid IN ({})",
            placeholders(1, wanted.len())
        );
        let mut query = sqlx::query(&sql);
        for item in &wanted {
            query = query.bind(item.id);
        }
        let mut found: HashMap<i64, GroupInfo> = HashMap::new();
        for row in query.fetch_all(&self.reader).await? {
            let info = group_from_row(&row)?;
            found.insert(info.gid.0, info);
        }
        for item in wanted {
            match found.remove(&item.id) {
                None => batch.unknown.push(GroupId(item.id)),
                Some(info) if Some(info.time) == item.time => batch.unchanged.push(info.gid),
                Some(info) => batch.groups.push(info),
            }
        }
        Ok(batch)
    }

    /// Edits a group's name, intro or join policy (owner and admins).
    pub async fn update_group(
        &self,
        caller: UserId,
        gid: GroupId,
        changes: GroupChanges,
        now: Millis,
    ) -> Result<Outcome<Done<GroupInfo>>, StoreError> {
        let mut tx = self.writer.begin().await?;
        let mut info = check!(live_group(self.backend, &mut tx, gid).await?);
        check!(rules::may_manage(role_of(&mut tx, gid, caller).await?));
        let mut changed = false;
        if let Some(gname) = changes.gname.filter(|g| *g != info.gname) {
            info.gname = gname;
            changed = true;
        }
        if let Some(intro) = changes.intro.filter(|i| *i != info.intro) {
            info.intro = intro;
            changed = true;
        }
        if let Some(policy) = changes.join_policy.filter(|p| *p != info.join_policy) {
            info.join_policy = policy;
            changed = true;
        }
        if !changed {
            return Ok(Ok(Done {
                value: info,
                woken: Vec::new(),
            }));
        }
        info.time = now.max(info.time + 1);
        sqlx::query(
            "UPDATE group_info SET gname = $1, intro = $2, join_policy = $3, time = $4 \
             WHERE gid = $5",
        )
        .bind(&info.gname)
        .bind(&info.intro)
        .bind(enum_str(&info.join_policy)?)
        .bind(info.time)
        .bind(gid.0)
        .execute(&mut *tx)
        .await?;
        let event = Event::Group {
            gid,
            time: info.time,
        };
        let events = to_all(&member_uids(&mut tx, gid).await?, &event);
        let woken = self.emit(&mut tx, &events, now).await?;
        tx.commit().await?;
        Ok(Ok(Done { value: info, woken }))
    }

    /// The members of a live group, for one of its members.
    pub async fn group_members(
        &self,
        viewer: UserId,
        gid: GroupId,
    ) -> Result<Outcome<GroupMembers>, StoreError> {
        if self.group(gid).await?.is_none() {
            return Ok(Err(GROUP_NOT_FOUND));
        }
        let mut conn = self.reader.acquire().await?;
        let members = read_members(&mut conn, gid).await?;
        if !members.members.iter().any(|m| m.uid == viewer) {
            return Ok(Err(rules::NOT_A_MEMBER));
        }
        Ok(Ok(members))
    }

    /// Makes a member an admin or a plain member (owner only).
    pub async fn set_role(
        &self,
        caller: UserId,
        gid: GroupId,
        target: UserId,
        role: GroupRole,
        now: Millis,
    ) -> Result<Outcome<Done<GroupMembers>>, StoreError> {
        let mut tx = self.writer.begin().await?;
        check!(live_group(self.backend, &mut tx, gid).await?);
        check!(rules::owner_only(role_of(&mut tx, gid, caller).await?));
        let current = check!(
            role_of(&mut tx, gid, target)
                .await?
                .ok_or(TARGET_NOT_A_MEMBER)
        );
        if current == GroupRole::Owner {
            return Ok(Err(Refusal::new(
                ErrorCode::InvalidRole,
                "the owner's role changes only by transferring ownership",
            )));
        }
        let mut woken = Vec::new();
        if current != role {
            sqlx::query("UPDATE group_members SET role = $1 WHERE gid = $2 AND uid = $3")
                .bind(enum_str(&role)?)
                .bind(gid.0)
                .bind(target.0)
                .execute(&mut *tx)
                .await?;
            let events = members_changed(&mut tx, gid).await?;
            woken = self.emit(&mut tx, &events, now).await?;
        }
        let members = read_members(&mut tx, gid).await?;
        tx.commit().await?;
        Ok(Ok(Done {
            value: members,
            woken,
        }))
    }

    /// Removes a member: the owner removes anyone but himself, admins remove plain members.
    pub async fn remove_member(
        &self,
        caller: UserId,
        gid: GroupId,
        target: UserId,
        now: Millis,
    ) -> Result<Outcome<Done<()>>, StoreError> {
        let mut tx = self.writer.begin().await?;
        check!(live_group(self.backend, &mut tx, gid).await?);
        let actor = role_of(&mut tx, gid, caller).await?;
        let target_role = role_of(&mut tx, gid, target).await?;
        check!(rules::may_remove(actor, target_role));
        let mut events = Vec::new();
        remove_member_rows(&mut tx, gid, target, now, &mut events).await?;
        events.extend(members_changed(&mut tx, gid).await?);
        let woken = self.emit(&mut tx, &events, now).await?;
        tx.commit().await?;
        Ok(Ok(Done { value: (), woken }))
    }

    /// Hands ownership to another member (owner only); the old owner stays as an admin.
    pub async fn transfer_ownership(
        &self,
        caller: UserId,
        gid: GroupId,
        target: UserId,
        now: Millis,
    ) -> Result<Outcome<Done<GroupInfo>>, StoreError> {
        let mut tx = self.writer.begin().await?;
        let mut info = check!(live_group(self.backend, &mut tx, gid).await?);
        check!(rules::owner_only(role_of(&mut tx, gid, caller).await?));
        check!(
            role_of(&mut tx, gid, target)
                .await?
                .ok_or(TARGET_NOT_A_MEMBER)
        );
        if target == caller {
            return Ok(Ok(Done {
                value: info,
                woken: Vec::new(),
            }));
        }
        sqlx::query(
            "UPDATE group_members SET role = CASE WHEN uid = $1 THEN 'owner' ELSE 'admin' END \
             WHERE gid = $2 AND uid IN ($1, $3)",
        )
        .bind(target.0)
        .bind(gid.0)
        .bind(caller.0)
        .execute(&mut *tx)
        .await?;
        info.owner = target;
        info.time = now.max(info.time + 1);
        sqlx::query("UPDATE group_info SET owner_uid = $1, time = $2 WHERE gid = $3")
            .bind(target.0)
            .bind(info.time)
            .bind(gid.0)
            .execute(&mut *tx)
            .await?;
        let members = member_uids(&mut tx, gid).await?;
        let mut events = to_all(
            &members,
            &Event::Group {
                gid,
                time: info.time,
            },
        );
        events.extend(to_all(&members, &Event::GroupMembers { gid }));
        let woken = self.emit(&mut tx, &events, now).await?;
        tx.commit().await?;
        Ok(Ok(Done { value: info, woken }))
    }

    /// The caller leaves the group (anyone but the owner).
    pub async fn leave_group(
        &self,
        caller: UserId,
        gid: GroupId,
        now: Millis,
    ) -> Result<Outcome<Done<()>>, StoreError> {
        let mut tx = self.writer.begin().await?;
        check!(live_group(self.backend, &mut tx, gid).await?);
        check!(rules::may_leave(role_of(&mut tx, gid, caller).await?));
        let mut events = Vec::new();
        remove_member_rows(&mut tx, gid, caller, now, &mut events).await?;
        events.extend(members_changed(&mut tx, gid).await?);
        let woken = self.emit(&mut tx, &events, now).await?;
        tx.commit().await?;
        Ok(Ok(Done { value: (), woken }))
    }

    /// Dissolves the group (owner only): every member is removed (and loses the conversation),
    /// pending invitations and join requests are cancelled.
    pub async fn dissolve_group(
        &self,
        caller: UserId,
        gid: GroupId,
        now: Millis,
    ) -> Result<Outcome<Done<()>>, StoreError> {
        let mut tx = self.writer.begin().await?;
        let info = check!(live_group(self.backend, &mut tx, gid).await?);
        check!(rules::owner_only(role_of(&mut tx, gid, caller).await?));
        let time = now.max(info.time + 1);
        sqlx::query("UPDATE group_info SET dissolved = 1, time = $1 WHERE gid = $2")
            .bind(time)
            .bind(gid.0)
            .execute(&mut *tx)
            .await?;
        let members = member_uids(&mut tx, gid).await?;
        sqlx::query("DELETE FROM group_members WHERE gid = $1")
            .bind(gid.0)
            .execute(&mut *tx)
            .await?;
        sqlx::query("DELETE FROM conversation_members WHERE conversation = $1")
            .bind(&group_conversation(gid).0)
            .execute(&mut *tx)
            .await?;
        for table in ["group_invites", "group_join_requests"] {
            sqlx::query(&format!(
                "UPDATE {table} SET state = 'cancelled', updated_at = $1 \
                 WHERE gid = $2 AND state = 'pending'"
            ))
            .bind(now)
            .bind(gid.0)
            .execute(&mut *tx)
            .await?;
        }
        // list_time rows in ascending uid order (member_uids is sorted).
        let mut events = Vec::with_capacity(2 * members.len());
        for &uid in &members {
            let version =
                bump_list(&mut tx, uid, ListKind::Group, gid.0, ListOp::Remove, now).await?;
            events.push((
                uid,
                Event::ListChanged {
                    list: ListKind::Group,
                    version,
                },
            ));
            events.push((uid, Event::Group { gid, time }));
        }
        let woken = self.emit(&mut tx, &events, now).await?;
        tx.commit().await?;
        Ok(Ok(Done { value: (), woken }))
    }

    /// Joins an `open` group at once, or files a join request for an `approval` group (a repeat
    /// returns the pending one).
    pub async fn join_group(
        &self,
        caller: UserId,
        gid: GroupId,
        note: &str,
        now: Millis,
    ) -> Result<Outcome<Done<JoinOutcome>>, StoreError> {
        let mut tx = self.writer.begin().await?;
        let info = check!(live_group(self.backend, &mut tx, gid).await?);
        if role_of(&mut tx, gid, caller).await?.is_some() {
            return Ok(Err(ALREADY_MEMBER));
        }
        match info.join_policy {
            JoinPolicy::InviteOnly => Ok(Err(Refusal::new(
                ErrorCode::InviteOnly,
                "this group takes new members by invitation only",
            ))),
            JoinPolicy::Open => {
                let mut events = Vec::new();
                add_member(&mut tx, gid, caller, GroupRole::Member, now, &mut events).await?;
                let woken = self.emit(&mut tx, &events, now).await?;
                tx.commit().await?;
                Ok(Ok(Done {
                    value: JoinOutcome {
                        result: JoinResult::Joined,
                        group: info,
                        request: None,
                    },
                    woken,
                }))
            }
            JoinPolicy::Approval => {
                let pending: Option<i64> = sqlx::query_scalar(
                    "SELECT id FROM group_join_requests \
                     WHERE gid = $1 AND uid = $2 AND state = 'pending' ORDER BY id LIMIT 1",
                )
                .bind(gid.0)
                .bind(caller.0)
                .fetch_optional(&mut *tx)
                .await?;
                let (id, woken) = match pending {
                    Some(id) => (id, Vec::new()),
                    None => {
                        let id: i64 = sqlx::query_scalar(
                            "INSERT INTO group_join_requests \
                             (gid, uid, note, state, created_at, updated_at) \
                             VALUES ($1, $2, $3, 'pending', $4, $4) RETURNING id",
                        )
                        .bind(gid.0)
                        .bind(caller.0)
                        .bind(note)
                        .bind(now)
                        .fetch_one(&mut *tx)
                        .await?;
                        let request = join_request(&mut tx, id).await?;
                        let events = request_events(&mut tx, &request).await?;
                        (id, self.emit(&mut tx, &events, now).await?)
                    }
                };
                let request = join_request(&mut tx, id).await?;
                tx.commit().await?;
                Ok(Ok(Done {
                    value: JoinOutcome {
                        result: JoinResult::Pending,
                        group: info,
                        request: Some(request),
                    },
                    woken,
                }))
            }
        }
    }

    /// The pending join requests of a group (owner and admins), oldest first.
    pub async fn join_requests(
        &self,
        caller: UserId,
        gid: GroupId,
    ) -> Result<Outcome<Vec<GroupJoinRequest>>, StoreError> {
        if self.group(gid).await?.is_none() {
            return Ok(Err(GROUP_NOT_FOUND));
        }
        let mut conn = self.reader.acquire().await?;
        check!(rules::may_manage(role_of(&mut conn, gid, caller).await?));
        let rows = sqlx::query(&format!(
            "{REQUEST_SELECT} WHERE r.gid = $1 AND r.state = 'pending' ORDER BY r.id"
        ))
        .bind(gid.0)
        .fetch_all(&mut *conn)
        .await?;
        Ok(Ok(rows
            .iter()
            .map(request_from_row)
            .collect::<Result<_, _>>()?))
    }

    /// Approves (adding the requester) or rejects a pending join request (owner and admins).
    pub async fn answer_join_request(
        &self,
        caller: UserId,
        gid: GroupId,
        id: i64,
        approve: bool,
        now: Millis,
    ) -> Result<Outcome<Done<GroupJoinRequest>>, StoreError> {
        let mut tx = self.writer.begin().await?;
        check!(live_group(self.backend, &mut tx, gid).await?);
        check!(rules::may_manage(role_of(&mut tx, gid, caller).await?));
        let requester: Option<i64> = sqlx::query_scalar(
            "SELECT uid FROM group_join_requests WHERE id = $1 AND gid = $2 AND state = 'pending'",
        )
        .bind(id)
        .bind(gid.0)
        .fetch_optional(&mut *tx)
        .await?;
        let requester = UserId(check!(requester.ok_or(REQUEST_NOT_FOUND)));
        let state = if approve {
            RequestState::Accepted
        } else {
            RequestState::Rejected
        };
        sqlx::query("UPDATE group_join_requests SET state = $1, updated_at = $2 WHERE id = $3")
            .bind(enum_str(&state)?)
            .bind(now)
            .bind(id)
            .execute(&mut *tx)
            .await?;
        let mut events = Vec::new();
        if approve && role_of(&mut tx, gid, requester).await?.is_none() {
            add_member(&mut tx, gid, requester, GroupRole::Member, now, &mut events).await?;
        }
        let request = join_request(&mut tx, id).await?;
        events.extend(request_events(&mut tx, &request).await?);
        let woken = self.emit(&mut tx, &events, now).await?;
        tx.commit().await?;
        Ok(Ok(Done {
            value: request,
            woken,
        }))
    }

    /// Invites `invitee` to a group (owner and admins), if the invitee's privacy allows it. A
    /// repeated invitation returns the pending one.
    pub async fn invite_to_group(
        &self,
        caller: UserId,
        gid: GroupId,
        invitee: UserId,
        now: Millis,
    ) -> Result<Outcome<Done<GroupInvite>>, StoreError> {
        let mut tx = self.writer.begin().await?;
        check!(live_group(self.backend, &mut tx, gid).await?);
        check!(rules::may_manage(role_of(&mut tx, gid, caller).await?));
        let row = sqlx::query(
            "SELECT u.msg_policy, \
               CASE WHEN EXISTS (SELECT 1 FROM user_friend f \
                    WHERE f.uid = $1 AND f.friend_uid = $2) THEN 1 ELSE 0 END AS friends, \
               CASE WHEN EXISTS (SELECT 1 FROM user_block b \
                    WHERE b.uid = $1 AND b.blocked_uid = $2) THEN 1 ELSE 0 END AS blocked, \
               CASE WHEN EXISTS (SELECT 1 FROM group_members a \
                    JOIN group_members b ON b.gid = a.gid \
                    JOIN group_info g ON g.gid = a.gid \
                    WHERE a.uid = $1 AND b.uid = $2 AND g.dissolved = 0) THEN 1 ELSE 0 END AS share \
             FROM users u WHERE u.uid = $1",
        )
        .bind(invitee.0)
        .bind(caller.0)
        .fetch_optional(&mut *tx)
        .await?;
        let Some(row) = row else {
            return Ok(Err(Refusal::new(
                ErrorCode::UnknownUser,
                "there is no such user",
            )));
        };
        if role_of(&mut tx, gid, invitee).await?.is_some() {
            return Ok(Err(ALREADY_MEMBER));
        }
        let view = InviteeView {
            msg_policy: parse_enum::<MsgPolicy>(&row.try_get::<String, _>("msg_policy")?)?,
            friends: row.try_get::<i64, _>("friends")? != 0,
            blocked_inviter: row.try_get::<i64, _>("blocked")? != 0,
            share_group: row.try_get::<i64, _>("share")? != 0,
        };
        check!(rules::may_invite(view));
        let pending: Option<i64> = sqlx::query_scalar(
            "SELECT id FROM group_invites WHERE gid = $1 AND admin_uid = $2 AND add_uid = $3 \
             AND state = 'pending' ORDER BY id LIMIT 1",
        )
        .bind(gid.0)
        .bind(caller.0)
        .bind(invitee.0)
        .fetch_optional(&mut *tx)
        .await?;
        if let Some(id) = pending {
            let invite = invite_by_id(&mut tx, id).await?;
            tx.commit().await?;
            return Ok(Ok(Done {
                value: invite,
                woken: Vec::new(),
            }));
        }
        let id: i64 = sqlx::query_scalar(
            "INSERT INTO group_invites (gid, admin_uid, add_uid, state, created_at, updated_at) \
             VALUES ($1, $2, $3, 'pending', $4, $4) RETURNING id",
        )
        .bind(gid.0)
        .bind(caller.0)
        .bind(invitee.0)
        .bind(now)
        .fetch_one(&mut *tx)
        .await?;
        let invite = invite_by_id(&mut tx, id).await?;
        let events = invite_events(&invite);
        let woken = self.emit(&mut tx, &events, now).await?;
        tx.commit().await?;
        Ok(Ok(Done {
            value: invite,
            woken,
        }))
    }

    /// Pending invitations to `uid` (newest first), and the latest ones `uid` sent.
    pub async fn group_invites(&self, uid: UserId) -> Result<GroupInvites, StoreError> {
        let incoming = sqlx::query(&format!(
            "{INVITE_SELECT} WHERE i.add_uid = $1 AND i.state = 'pending' \
             ORDER BY i.updated_at DESC, i.id DESC"
        ))
        .bind(uid.0)
        .fetch_all(&self.reader)
        .await?;
        let outgoing = sqlx::query(&format!(
            "{INVITE_SELECT} WHERE i.admin_uid = $1 ORDER BY i.updated_at DESC, i.id DESC LIMIT $2"
        ))
        .bind(uid.0)
        .bind(OUTGOING_INVITES)
        .fetch_all(&self.reader)
        .await?;
        Ok(GroupInvites {
            incoming: incoming
                .iter()
                .map(invite_from_row)
                .collect::<Result<_, _>>()?,
            outgoing: outgoing
                .iter()
                .map(invite_from_row)
                .collect::<Result<_, _>>()?,
        })
    }

    /// The invitee accepts (joining whatever the join policy) or declines a pending invitation,
    /// with an optional answer text the inviter sees.
    pub async fn answer_invite(
        &self,
        caller: UserId,
        id: i64,
        accept: bool,
        result: Option<&str>,
        now: Millis,
    ) -> Result<Outcome<Done<GroupInvite>>, StoreError> {
        let mut tx = self.writer.begin().await?;
        let gid: Option<i64> = sqlx::query_scalar(
            "SELECT gid FROM group_invites WHERE id = $1 AND add_uid = $2 AND state = 'pending'",
        )
        .bind(id)
        .bind(caller.0)
        .fetch_optional(&mut *tx)
        .await?;
        let gid = GroupId(check!(gid.ok_or(REQUEST_NOT_FOUND)));
        check!(live_group(self.backend, &mut tx, gid).await?);
        // Read again under the group's lock: a concurrent answer may have come first.
        let still_pending: Option<i64> =
            sqlx::query_scalar("SELECT id FROM group_invites WHERE id = $1 AND state = 'pending'")
                .bind(id)
                .fetch_optional(&mut *tx)
                .await?;
        check!(still_pending.ok_or(REQUEST_NOT_FOUND));
        let state = if accept {
            RequestState::Accepted
        } else {
            RequestState::Rejected
        };
        sqlx::query(
            "UPDATE group_invites SET state = $1, result = $2, updated_at = $3 WHERE id = $4",
        )
        .bind(enum_str(&state)?)
        .bind(result)
        .bind(now)
        .bind(id)
        .execute(&mut *tx)
        .await?;
        let mut events = Vec::new();
        if accept && role_of(&mut tx, gid, caller).await?.is_none() {
            add_member(&mut tx, gid, caller, GroupRole::Member, now, &mut events).await?;
        }
        let invite = invite_by_id(&mut tx, id).await?;
        events.extend(invite_events(&invite));
        let woken = self.emit(&mut tx, &events, now).await?;
        tx.commit().await?;
        Ok(Ok(Done {
            value: invite,
            woken,
        }))
    }
}

/// Locks the group (PostgreSQL: its conversation row) and reads it; dissolved or unknown groups
/// are `group_not_found`.
async fn live_group(
    backend: Backend,
    tx: &mut AnyConnection,
    gid: GroupId,
) -> Result<Outcome<GroupInfo>, StoreError> {
    if backend == Backend::Postgres {
        sqlx::query("SELECT id FROM conversations WHERE id = $1 FOR UPDATE")
            .bind(&group_conversation(gid).0)
            .fetch_optional(&mut *tx)
            .await?;
    }
    let row = sqlx::query(&format!(
        "SELECT {GROUP_COLUMNS} FROM group_info WHERE gid = $1"
    ))
    .bind(gid.0)
    .fetch_optional(&mut *tx)
    .await?;
    match row.map(|r| group_from_row(&r)).transpose()? {
        Some(info) if !info.dissolved => Ok(Ok(info)),
        _ => Ok(Err(GROUP_NOT_FOUND)),
    }
}

/// A user's role in a group, `None` when not a member.
async fn role_of(
    conn: &mut AnyConnection,
    gid: GroupId,
    uid: UserId,
) -> Result<Option<GroupRole>, StoreError> {
    let role: Option<String> =
        sqlx::query_scalar("SELECT role FROM group_members WHERE gid = $1 AND uid = $2")
            .bind(gid.0)
            .bind(uid.0)
            .fetch_optional(&mut *conn)
            .await?;
    role.map(|r| parse_enum(&r)).transpose()
}

/// The members' uids, ascending.
async fn member_uids(tx: &mut AnyConnection, gid: GroupId) -> Result<Vec<UserId>, StoreError> {
    let uids: Vec<i64> =
        sqlx::query_scalar("SELECT uid FROM group_members WHERE gid = $1 ORDER BY uid")
            .bind(gid.0)
            .fetch_all(&mut *tx)
            .await?;
    Ok(uids.into_iter().map(UserId).collect())
}

/// Owner first, then admins, then members, each by join time.
async fn read_members(conn: &mut AnyConnection, gid: GroupId) -> Result<GroupMembers, StoreError> {
    let rows = sqlx::query(
        "SELECT gm.uid, u.nick_name, gm.role, gm.joined_at FROM group_members gm \
         JOIN users u ON u.uid = gm.uid WHERE gm.gid = $1 \
         ORDER BY CASE gm.role WHEN 'owner' THEN 0 WHEN 'admin' THEN 1 ELSE 2 END, \
                  gm.joined_at, gm.uid",
    )
    .bind(gid.0)
    .fetch_all(&mut *conn)
    .await?;
    let members = rows
        .iter()
        .map(|r| {
            Ok(GroupMember {
                uid: UserId(r.try_get("uid")?),
                nick_name: r.try_get("nick_name")?,
                role: parse_enum(&r.try_get::<String, _>("role")?)?,
                joined_at: r.try_get("joined_at")?,
            })
        })
        .collect::<Result<_, StoreError>>()?;
    Ok(GroupMembers { gid, members })
}

/// Adds `uid` to the group and its conversation (history from the conversation's newest seq
/// on), bumps their group list, settles their other pending requests and invitations to this
/// group, and queues `list_changed` for them and `group_members` for every member.
async fn add_member(
    tx: &mut AnyConnection,
    gid: GroupId,
    uid: UserId,
    role: GroupRole,
    now: Millis,
    events: &mut Vec<(UserId, Event)>,
) -> Result<(), StoreError> {
    sqlx::query("INSERT INTO group_members (gid, uid, role, joined_at) VALUES ($1, $2, $3, $4)")
        .bind(gid.0)
        .bind(uid.0)
        .bind(enum_str(&role)?)
        .bind(now)
        .execute(&mut *tx)
        .await?;
    sqlx::query(
        "INSERT INTO conversation_members (conversation, uid, read_seq, joined_at, init_seq) \
         SELECT id, $2, max_seq, $3, max_seq FROM conversations WHERE id = $1",
    )
    .bind(&group_conversation(gid).0)
    .bind(uid.0)
    .bind(now)
    .execute(&mut *tx)
    .await?;
    sqlx::query(
        "UPDATE group_join_requests SET state = 'accepted', updated_at = $1 \
         WHERE gid = $2 AND uid = $3 AND state = 'pending'",
    )
    .bind(now)
    .bind(gid.0)
    .bind(uid.0)
    .execute(&mut *tx)
    .await?;
    sqlx::query(
        "UPDATE group_invites SET state = 'cancelled', updated_at = $1 \
         WHERE gid = $2 AND add_uid = $3 AND state = 'pending'",
    )
    .bind(now)
    .bind(gid.0)
    .bind(uid.0)
    .execute(&mut *tx)
    .await?;
    let version = bump_list(tx, uid, ListKind::Group, gid.0, ListOp::Add, now).await?;
    events.push((
        uid,
        Event::ListChanged {
            list: ListKind::Group,
            version,
        },
    ));
    events.extend(members_changed(tx, gid).await?);
    Ok(())
}

/// Takes `uid` out of the group and its conversation, bumps their group list and queues their
/// `list_changed`.
async fn remove_member_rows(
    tx: &mut AnyConnection,
    gid: GroupId,
    uid: UserId,
    now: Millis,
    events: &mut Vec<(UserId, Event)>,
) -> Result<(), StoreError> {
    sqlx::query("DELETE FROM group_members WHERE gid = $1 AND uid = $2")
        .bind(gid.0)
        .bind(uid.0)
        .execute(&mut *tx)
        .await?;
    sqlx::query("DELETE FROM conversation_members WHERE conversation = $1 AND uid = $2")
        .bind(&group_conversation(gid).0)
        .bind(uid.0)
        .execute(&mut *tx)
        .await?;
    let version = bump_list(tx, uid, ListKind::Group, gid.0, ListOp::Remove, now).await?;
    events.push((
        uid,
        Event::ListChanged {
            list: ListKind::Group,
            version,
        },
    ));
    Ok(())
}

/// The same event for each of `uids`.
/// Groups larger than this tell only their owner and admins when the member list changes
/// (every member would otherwise get one event per join: quadratic in the group's size);
/// other members re-read the list when they open it.
const MEMBER_EVENTS_TO_ALL_UP_TO: i64 = 500;

/// `group_members {gid}` for the members who should hear of a member-list change.
async fn members_changed(
    tx: &mut AnyConnection,
    gid: GroupId,
) -> Result<Vec<(UserId, Event)>, StoreError> {
    let count: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM group_members WHERE gid = $1")
        .bind(gid.0)
        .fetch_one(&mut *tx)
        .await?;
    let uids = if count <= MEMBER_EVENTS_TO_ALL_UP_TO {
        member_uids(tx, gid).await?
    } else {
        sqlx::query_scalar::<_, i64>(
            "SELECT uid FROM group_members WHERE gid = $1 AND role IN ('owner', 'admin') \
             ORDER BY uid",
        )
        .bind(gid.0)
        .fetch_all(&mut *tx)
        .await?
        .into_iter()
        .map(UserId)
        .collect()
    };
    Ok(to_all(&uids, &Event::GroupMembers { gid }))
}

fn to_all(uids: &[UserId], event: &Event) -> Vec<(UserId, Event)> {
    uids.iter().map(|uid| (*uid, event.clone())).collect()
}

/// A join request's change goes to the owner, the admins and the requester.
async fn request_events(
    tx: &mut AnyConnection,
    request: &GroupJoinRequest,
) -> Result<Vec<(UserId, Event)>, StoreError> {
    let managers: Vec<i64> = sqlx::query_scalar(
        "SELECT uid FROM group_members WHERE gid = $1 AND role IN ('owner', 'admin') \
         ORDER BY uid",
    )
    .bind(request.gid.0)
    .fetch_all(&mut *tx)
    .await?;
    let mut uids: Vec<UserId> = managers.into_iter().map(UserId).collect();
    if !uids.contains(&request.uid) {
        uids.push(request.uid);
    }
    Ok(to_all(
        &uids,
        &Event::GroupJoinRequest {
            request: request.clone(),
        },
    ))
}

/// An invitation's change goes to the invitee and the inviter.
fn invite_events(invite: &GroupInvite) -> Vec<(UserId, Event)> {
    to_all(
        &[invite.add_uid, invite.admin_uid],
        &Event::GroupInvite {
            invite: invite.clone(),
        },
    )
}

async fn join_request(tx: &mut AnyConnection, id: i64) -> Result<GroupJoinRequest, StoreError> {
    let row = sqlx::query(&format!("{REQUEST_SELECT} WHERE r.id = $1"))
        .bind(id)
        .fetch_one(&mut *tx)
        .await?;
    request_from_row(&row)
}

async fn invite_by_id(tx: &mut AnyConnection, id: i64) -> Result<GroupInvite, StoreError> {
    let row = sqlx::query(&format!("{INVITE_SELECT} WHERE i.id = $1"))
        .bind(id)
        .fetch_one(&mut *tx)
        .await?;
    invite_from_row(&row)
}

fn group_from_row(r: &AnyRow) -> Result<GroupInfo, StoreError> {
    let gid = GroupId(r.try_get("gid")?);
    Ok(GroupInfo {
        gid,
        gname: r.try_get("gname")?,
        intro: r.try_get("intro")?,
        owner: UserId(r.try_get("owner_uid")?),
        join_policy: parse_enum(&r.try_get::<String, _>("join_policy")?)?,
        conversation: group_conversation(gid),
        dissolved: r.try_get::<i64, _>("dissolved")? != 0,
        time: r.try_get("time")?,
    })
}

fn request_from_row(r: &AnyRow) -> Result<GroupJoinRequest, StoreError> {
    Ok(GroupJoinRequest {
        id: r.try_get("id")?,
        gid: GroupId(r.try_get("gid")?),
        uid: UserId(r.try_get("uid")?),
        nick_name: r.try_get("nick_name")?,
        note: r.try_get("note")?,
        state: parse_enum(&r.try_get::<String, _>("state")?)?,
        time: r.try_get("updated_at")?,
    })
}

fn invite_from_row(r: &AnyRow) -> Result<GroupInvite, StoreError> {
    Ok(GroupInvite {
        id: r.try_get("id")?,
        admin_uid: UserId(r.try_get("admin_uid")?),
        add_uid: UserId(r.try_get("add_uid")?),
        gid: GroupId(r.try_get("gid")?),
        gname: r.try_get("gname")?,
        admin_nick: r.try_get("admin_nick")?,
        state: parse_enum(&r.try_get::<String, _>("state")?)?,
        result: r.try_get("result")?,
        time: r.try_get("updated_at")?,
    })
}

/// `$first, $first+1, ...`: `count` placeholders.
fn placeholders(first: usize, count: usize) -> String {
    (first..first + count)
        .map(|n| format!("${n}"))
        .collect::<Vec<_>>()
        .join(", ")
}
