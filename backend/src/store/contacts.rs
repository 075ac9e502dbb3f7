//! Profiles, friends, friend requests and blocks (seed 000 user_info, user_friend).
//!
//! Friendship is stored in both directions. Every write between two users first locks their
//! `list_time` rows in ascending uid order ([`lock_pair`]), so two requests between the same
//! pair (or a block racing an accept) run one after the other on PostgreSQL too; the events
//! (which lock `users` rows) come last, as the store's lock order wants.

use super::lists::{ListOp, bump_list};
use super::{Store, StoreError, USER_COLUMNS, enum_str, parse_enum, user_row};
use shared::contacts::{
    FriendLevel, FriendRequest, FriendRequests, Gender, ListKind, MsgPolicy, OpenLevel,
    PresenceLevel, RequestState,
};
use shared::{Event, Millis, UserId};
use sqlx::any::AnyRow;
use sqlx::{AnyConnection, Row};
use std::collections::{BTreeSet, HashMap};

/// A profile with what the privacy rules need to know about its viewer.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ProfileRow {
    pub uid: UserId,
    pub nick_name: String,
    pub gender: Gender,
    pub birthday: Option<u32>,
    pub profile_time: Millis,
    pub open_level: OpenLevel,
    /// The viewer is the owner's friend.
    pub friends: bool,
    /// The viewer shares a live group with the owner (only looked up when the owner's
    /// `open_level` is `group_members`; `false` otherwise).
    pub share_group: bool,
}

/// What deciding on a one-to-one send needs, read inside the send's transaction (see
/// [`super::NewMessage::accepts`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct MessageFacts {
    pub msg_policy: MsgPolicy,
    /// The recipient blocked the sender.
    pub blocked_by_recipient: bool,
    /// The sender blocked the recipient.
    pub blocked_by_sender: bool,
    pub friends: bool,
    /// Only looked up when the policy is `group_members`.
    pub share_group: bool,
}

/// A profile edit, already validated; `None` leaves a field as it is.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ProfileChange {
    pub nick_name: Option<String>,
    pub gender: Option<Gender>,
    /// `Some(None)` clears the birthday.
    pub birthday: Option<Option<u32>>,
    pub open_level: Option<OpenLevel>,
    pub friend_level: Option<FriendLevel>,
    pub msg_policy: Option<MsgPolicy>,
    pub presence_level: Option<PresenceLevel>,
}

/// What a profile edit did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ProfileUpdate {
    UnknownUser,
    /// Every given field already had its value: nothing written.
    Unchanged,
    /// Stored under the new profile time; wake these users.
    Changed {
        time: Millis,
        wake: Vec<UserId>,
    },
}

/// Why a friend request was refused; nothing was written.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RequestRefusal {
    UnknownUser,
    /// The sender blocked the target.
    Blocked,
    /// The target blocked the sender (told to the sender as "closed").
    BlockedBySender,
    AlreadyFriends,
    /// The target's `friend_level` is `nobody`.
    Closed,
}

/// What sending a friend request did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum RequestOutcome {
    Refused(RequestRefusal),
    /// The two are friends now; the request (ours, or theirs to us) is accepted.
    Added(FriendRequest),
    /// The request waits for the target (`created` is false when it was already pending).
    Pending {
        request: FriendRequest,
        created: bool,
    },
}

impl RequestOutcome {
    /// The request made, found or accepted (none when refused).
    pub fn request(&self) -> Option<&FriendRequest> {
        match self {
            RequestOutcome::Added(request) | RequestOutcome::Pending { request, .. } => {
                Some(request)
            }
            RequestOutcome::Refused(_) => None,
        }
    }
}

/// What the addressee or the sender does to a pending request.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RequestAction {
    Accept,
    Reject,
    Cancel,
}

const REQUEST_SELECT: &str = "SELECT r.id, r.from_uid, f.nick_name AS from_nick, r.to_uid, \
     t.nick_name AS to_nick, r.note, r.state, r.updated_at FROM friend_requests r \
     JOIN users f ON f.uid = r.from_uid JOIN users t ON t.uid = r.to_uid";

/// A condition: users `a` and `b` (SQL expressions) share a group that is not dissolved. Walks
/// `a`'s groups by `group_members_uid`, then the primary key `(gid, uid)` for `b`.
pub(super) fn share_group_sql(a: &str, b: &str) -> String {
    format!(
        "EXISTS (SELECT 1 FROM group_members ga \
         JOIN group_members gb ON gb.gid = ga.gid AND gb.uid = {b} \
         JOIN group_info g ON g.gid = ga.gid AND g.dissolved = 0 WHERE ga.uid = {a})"
    )
}

/// What deciding on each one-to-one send of `pairs` (sender, recipient) needs, in one query
/// on `conn`; pairs whose recipient does not exist are missing from the answer.
pub(super) async fn message_facts(
    backend: super::Backend,
    conn: &mut AnyConnection,
    pairs: &BTreeSet<(UserId, UserId)>,
) -> Result<HashMap<(UserId, UserId), MessageFacts>, StoreError> {
    if pairs.is_empty() {
        return Ok(HashMap::new());
    }
    let values = (0..pairs.len())
        .map(|k| format!("(${}, ${})", 2 * k + 1, 2 * k + 2))
        .collect::<Vec<_>>()
        .join(", ");
    let share = share_group_sql("p.s", "p.r");
    let sql = format!(
        "WITH p (s, r) AS (VALUES {values}) \
         SELECT p.s AS sender, u.uid AS recipient, u.msg_policy, \
         (SELECT COUNT(*) FROM user_block b WHERE b.uid = p.r AND b.blocked_uid = p.s) \
           AS blocked_by_recipient, \
         (SELECT COUNT(*) FROM user_block b WHERE b.uid = p.s AND b.blocked_uid = p.r) \
           AS blocked_by_sender, \
         (SELECT COUNT(*) FROM user_friend f WHERE f.uid = p.s AND f.friend_uid = p.r) \
           AS friends, \
         CASE WHEN u.msg_policy = 'group_members' AND {share} THEN 1 ELSE 0 END \
           AS share_group \
         FROM p JOIN users u ON u.uid = p.r"
    );
    let sql = super::positional(backend, &sql);
    let mut query = sqlx::query(&sql);
    for (sender, recipient) in pairs {
        query = query.bind(sender.0).bind(recipient.0);
    }
    query
        .fetch_all(&mut *conn)
        .await?
        .iter()
        .map(|r| {
            let pair = (
                UserId(r.try_get("sender")?),
                UserId(r.try_get("recipient")?),
            );
            let facts = MessageFacts {
                msg_policy: parse_enum(&r.try_get::<String, _>("msg_policy")?)?,
                blocked_by_recipient: r.try_get::<i64, _>("blocked_by_recipient")? != 0,
                blocked_by_sender: r.try_get::<i64, _>("blocked_by_sender")? != 0,
                friends: r.try_get::<i64, _>("friends")? != 0,
                share_group: r.try_get::<i64, _>("share_group")? != 0,
            };
            Ok((pair, facts))
        })
        .collect()
}

impl Store {
    /// The profiles of `uids` that exist, with how `viewer` relates to each: one query.
    pub async fn profiles_for(
        &self,
        viewer: UserId,
        uids: &[UserId],
    ) -> Result<Vec<ProfileRow>, StoreError> {
        if uids.is_empty() {
            return Ok(Vec::new());
        }
        let share = share_group_sql("$1", "u.uid");
        let sql = format!(
            "SELECT u.uid, u.nick_name, u.gender, u.birthday, u.profile_time, u.open_level, \
             (SELECT COUNT(*) FROM user_friend f WHERE f.uid = $1 AND f.friend_uid = u.uid) \
               AS friends, \
             CASE WHEN u.open_level = 'group_members' AND {share} THEN 1 ELSE 0 END \
               AS share_group \
             FROM users u WHERE u.uid IN ({}) ORDER BY u.uid",
            placeholders(2, uids.len())
        );
        let mut query = sqlx::query(&sql).bind(viewer.0);
        for uid in uids {
            query = query.bind(uid.0);
        }
        let rows = query.fetch_all(&self.reader).await?;
        rows.iter().map(profile_row).collect()
    }

    /// Whether `a` and `b` share a group that is not dissolved.
    pub async fn share_group(&self, a: UserId, b: UserId) -> Result<bool, StoreError> {
        let shared: i64 = sqlx::query_scalar(&format!(
            "SELECT CASE WHEN {} THEN 1 ELSE 0 END",
            share_group_sql("$1", "$2")
        ))
        .bind(a.0)
        .bind(b.0)
        .fetch_one(&self.reader)
        .await?;
        Ok(shared != 0)
    }

    /// The user whose friend invite link carries `code`.
    pub async fn user_by_friend_code(&self, code: &str) -> Result<Option<UserId>, StoreError> {
        let uid: Option<i64> = sqlx::query_scalar("SELECT uid FROM users WHERE friend_code = $1")
            .bind(code)
            .fetch_optional(&self.reader)
            .await?;
        Ok(uid.map(UserId))
    }

    /// Applies a profile edit under a new profile time (later than the previous one), and
    /// sends a `profile` event to the user and their friends.
    pub async fn update_profile(
        &self,
        uid: UserId,
        change: &ProfileChange,
        now: Millis,
    ) -> Result<ProfileUpdate, StoreError> {
        // Optimistic: the events lock the users' rows (in ascending uid order, as every writer
        // does), and the update then applies only if no other edit landed since the read; on
        // PostgreSQL a racing edit makes this one start over. SQLite's single writer never races.
        loop {
            let mut tx = self.writer.begin().await?;
            let row = sqlx::query(&format!("SELECT {USER_COLUMNS} FROM users WHERE uid = $1"))
                .bind(uid.0)
                .fetch_optional(&mut *tx)
                .await?;
            let Some(old) = row.map(|r| user_row(&r)).transpose()? else {
                return Ok(ProfileUpdate::UnknownUser);
            };
            let nick_name = change.nick_name.clone().unwrap_or(old.nick_name.clone());
            let gender = change.gender.unwrap_or(old.gender);
            let birthday = change.birthday.unwrap_or(old.birthday);
            let open_level = change.open_level.unwrap_or(old.open_level);
            let friend_level = change.friend_level.unwrap_or(old.friend_level);
            let msg_policy = change.msg_policy.unwrap_or(old.msg_policy);
            let presence_level = change.presence_level.unwrap_or(old.presence_level);
            if (
                &nick_name,
                gender,
                birthday,
                open_level,
                friend_level,
                msg_policy,
                presence_level,
            ) == (
                &old.nick_name,
                old.gender,
                old.birthday,
                old.open_level,
                old.friend_level,
                old.msg_policy,
                old.presence_level,
            ) {
                return Ok(ProfileUpdate::Unchanged);
            }
            let time = crate::domain::contacts::next_profile_time(old.profile_time, now);
            let event = Event::Profile { uid, time };
            let mut events = vec![(uid, event.clone())];
            events.extend(
                friend_uids(&mut tx, uid)
                    .await?
                    .into_iter()
                    .map(|friend| (friend, event.clone())),
            );
            let wake = self.emit(&mut tx, &events, now).await?;
            let updated = sqlx::query(
                "UPDATE users SET nick_name = $1, gender = $2, birthday = $3, open_level = $4, \
                 friend_level = $5, msg_policy = $6, presence_level = $7, profile_time = $8 \
                 WHERE uid = $9 AND profile_time = $10",
            )
            .bind(&nick_name)
            .bind(enum_str(&gender)?)
            .bind(birthday.map(i64::from))
            .bind(enum_str(&open_level)?)
            .bind(enum_str(&friend_level)?)
            .bind(enum_str(&msg_policy)?)
            .bind(enum_str(&presence_level)?)
            .bind(time)
            .bind(uid.0)
            .bind(old.profile_time)
            .execute(&mut *tx)
            .await?
            .rows_affected();
            if updated == 1 {
                tx.commit().await?;
                return Ok(ProfileUpdate::Changed { time, wake });
            }
            tx.rollback().await?;
        }
    }

    /// Sends a friend request from `from` to `to` (distinct users), or makes them friends at
    /// once when `to` accepts anyone or had asked `from` already. Both sides get a
    /// `friend_request` event for every request made or changed, and a `list_changed` event
    /// when they become friends. Returns the users to wake.
    pub async fn send_friend_request(
        &self,
        from: UserId,
        to: UserId,
        note: &str,
        now: Millis,
    ) -> Result<(RequestOutcome, Vec<UserId>), StoreError> {
        let mut tx = self.writer.begin().await?;
        let level: Option<String> =
            sqlx::query_scalar("SELECT friend_level FROM users WHERE uid = $1")
                .bind(to.0)
                .fetch_optional(&mut *tx)
                .await?;
        let Some(level) = level else {
            return Ok((RequestOutcome::Refused(RequestRefusal::UnknownUser), vec![]));
        };
        let level: FriendLevel = parse_enum(&level)?;
        lock_pair(&mut tx, from, to).await?;
        if is_blocked(&mut tx, from, to).await? {
            return Ok((RequestOutcome::Refused(RequestRefusal::Blocked), vec![]));
        }
        if is_blocked(&mut tx, to, from).await? {
            return Ok((
                RequestOutcome::Refused(RequestRefusal::BlockedBySender),
                vec![],
            ));
        }
        if are_friends(&mut tx, from, to).await? {
            return Ok((
                RequestOutcome::Refused(RequestRefusal::AlreadyFriends),
                vec![],
            ));
        }
        let mut events = Vec::new();
        // They asked us first: ours accepts theirs.
        let outcome = if let Some(id) = pending_request(&mut tx, to, from).await? {
            set_request_state(&mut tx, id, RequestState::Accepted, now).await?;
            events.extend(make_friends(&mut tx, from, to, now).await?);
            RequestOutcome::Added(request_by_id(&mut tx, id).await?)
        } else if level == FriendLevel::Nobody {
            return Ok((RequestOutcome::Refused(RequestRefusal::Closed), vec![]));
        } else if let Some(id) = pending_request(&mut tx, from, to).await? {
            if level == FriendLevel::Anyone {
                // They opened up since we asked: our request goes through now.
                set_request_state(&mut tx, id, RequestState::Accepted, now).await?;
                events.extend(make_friends(&mut tx, from, to, now).await?);
                RequestOutcome::Added(request_by_id(&mut tx, id).await?)
            } else {
                let request = request_by_id(&mut tx, id).await?;
                return Ok((
                    RequestOutcome::Pending {
                        request,
                        created: false,
                    },
                    vec![],
                ));
            }
        } else {
            let state = if level == FriendLevel::Anyone {
                RequestState::Accepted
            } else {
                RequestState::Pending
            };
            let id: i64 = sqlx::query_scalar(
                "INSERT INTO friend_requests (from_uid, to_uid, note, state, created_at, \
                 updated_at) VALUES ($1, $2, $3, $4, $5, $5) RETURNING id",
            )
            .bind(from.0)
            .bind(to.0)
            .bind(note)
            .bind(enum_str(&state)?)
            .bind(now)
            .fetch_one(&mut *tx)
            .await?;
            if state == RequestState::Accepted {
                events.extend(make_friends(&mut tx, from, to, now).await?);
                RequestOutcome::Added(request_by_id(&mut tx, id).await?)
            } else {
                RequestOutcome::Pending {
                    request: request_by_id(&mut tx, id).await?,
                    created: true,
                }
            }
        };
        let mut all = outcome.request().map(request_events).unwrap_or_default();
        all.extend(events);
        let wake = self.emit(&mut tx, &all, now).await?;
        tx.commit().await?;
        Ok((outcome, wake))
    }

    /// Accepts, rejects (the addressee) or cancels (the sender) a pending request. `None` when
    /// there is no such pending request for `uid` to act on; nothing written then.
    pub async fn answer_friend_request(
        &self,
        uid: UserId,
        id: i64,
        action: RequestAction,
        now: Millis,
    ) -> Result<(Option<FriendRequest>, Vec<UserId>), StoreError> {
        let mut tx = self.writer.begin().await?;
        let row = sqlx::query(
            "SELECT from_uid, to_uid FROM friend_requests WHERE id = $1 AND state = 'pending'",
        )
        .bind(id)
        .fetch_optional(&mut *tx)
        .await?;
        let Some(row) = row else {
            return Ok((None, vec![]));
        };
        let from = UserId(row.try_get("from_uid")?);
        let to = UserId(row.try_get("to_uid")?);
        let allowed = match action {
            RequestAction::Accept | RequestAction::Reject => uid == to,
            RequestAction::Cancel => uid == from,
        };
        if !allowed {
            return Ok((None, vec![]));
        }
        lock_pair(&mut tx, from, to).await?;
        // Read again under the pair's lock: a racing answer may have come first.
        if pending_request(&mut tx, from, to).await? != Some(id) {
            return Ok((None, vec![]));
        }
        let state = match action {
            RequestAction::Accept => RequestState::Accepted,
            RequestAction::Reject => RequestState::Rejected,
            RequestAction::Cancel => RequestState::Cancelled,
        };
        set_request_state(&mut tx, id, state, now).await?;
        let request = request_by_id(&mut tx, id).await?;
        let mut events = request_events(&request);
        if state == RequestState::Accepted {
            events.extend(make_friends(&mut tx, from, to, now).await?);
        }
        let wake = self.emit(&mut tx, &events, now).await?;
        tx.commit().await?;
        Ok((Some(request), wake))
    }

    /// The pending requests to and from `uid`, newest first.
    pub async fn friend_requests(&self, uid: UserId) -> Result<FriendRequests, StoreError> {
        let rows = sqlx::query(&format!(
            "{REQUEST_SELECT} WHERE r.state = 'pending' AND (r.to_uid = $1 OR r.from_uid = $1) \
             ORDER BY r.created_at DESC, r.id DESC"
        ))
        .bind(uid.0)
        .fetch_all(&self.reader)
        .await?;
        let mut requests = FriendRequests::default();
        for row in &rows {
            let request = friend_request(row)?;
            if request.to == uid {
                requests.incoming.push(request);
            } else {
                requests.outgoing.push(request);
            }
        }
        Ok(requests)
    }

    /// Ends the friendship of `uid` and `friend` on both sides. `false` (nothing written) when
    /// they were not friends.
    pub async fn remove_friend(
        &self,
        uid: UserId,
        friend: UserId,
        now: Millis,
    ) -> Result<(bool, Vec<UserId>), StoreError> {
        let mut tx = self.writer.begin().await?;
        // Not friends (or no such user): nothing to lock or write.
        if !are_friends(&mut tx, uid, friend).await? {
            return Ok((false, vec![]));
        }
        lock_pair(&mut tx, uid, friend).await?;
        let events = unfriend(&mut tx, uid, friend, now).await?;
        if events.is_empty() {
            return Ok((false, vec![]));
        }
        let wake = self.emit(&mut tx, &events, now).await?;
        tx.commit().await?;
        Ok((true, wake))
    }

    /// Blocks `target` for `uid` (again is fine): ends their friendship and cancels pending
    /// requests between them, both ways. `false` when `target` does not exist.
    pub async fn block(
        &self,
        uid: UserId,
        target: UserId,
        now: Millis,
    ) -> Result<(bool, Vec<UserId>), StoreError> {
        let mut tx = self.writer.begin().await?;
        let exists: Option<i64> = sqlx::query_scalar("SELECT uid FROM users WHERE uid = $1")
            .bind(target.0)
            .fetch_optional(&mut *tx)
            .await?;
        if exists.is_none() {
            return Ok((false, vec![]));
        }
        lock_pair(&mut tx, uid, target).await?;
        sqlx::query(
            "INSERT INTO user_block (uid, blocked_uid, created_at) VALUES ($1, $2, $3) \
             ON CONFLICT (uid, blocked_uid) DO NOTHING",
        )
        .bind(uid.0)
        .bind(target.0)
        .bind(now)
        .execute(&mut *tx)
        .await?;
        let mut events = Vec::new();
        for (from, to) in [(uid, target), (target, uid)] {
            if let Some(id) = pending_request(&mut tx, from, to).await? {
                set_request_state(&mut tx, id, RequestState::Cancelled, now).await?;
                events.extend(request_events(&request_by_id(&mut tx, id).await?));
            }
        }
        events.extend(unfriend(&mut tx, uid, target, now).await?);
        let wake = self.emit(&mut tx, &events, now).await?;
        tx.commit().await?;
        Ok((true, wake))
    }

    /// Lifts `uid`'s block of `target`, if any.
    pub async fn unblock(&self, uid: UserId, target: UserId) -> Result<(), StoreError> {
        sqlx::query("DELETE FROM user_block WHERE uid = $1 AND blocked_uid = $2")
            .bind(uid.0)
            .bind(target.0)
            .execute(&self.writer)
            .await?;
        Ok(())
    }

    /// The users `uid` blocked, ascending.
    pub async fn blocks(&self, uid: UserId) -> Result<Vec<UserId>, StoreError> {
        let uids: Vec<i64> = sqlx::query_scalar(
            "SELECT blocked_uid FROM user_block WHERE uid = $1 ORDER BY blocked_uid",
        )
        .bind(uid.0)
        .fetch_all(&self.reader)
        .await?;
        Ok(uids.into_iter().map(UserId).collect())
    }
}

/// `$first, $first+1, ...`: `count` numbered placeholders.
fn placeholders(first: usize, count: usize) -> String {
    (first..first + count)
        .map(|i| format!("${i}"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// Locks the two users' `list_time` rows (creating them if needed) in ascending uid order.
async fn lock_pair(tx: &mut AnyConnection, a: UserId, b: UserId) -> Result<(), StoreError> {
    let (low, high) = if a < b { (a, b) } else { (b, a) };
    sqlx::query("INSERT INTO list_time (uid) VALUES ($1), ($2) ON CONFLICT (uid) DO NOTHING")
        .bind(low.0)
        .bind(high.0)
        .execute(&mut *tx)
        .await?;
    for uid in [low, high] {
        sqlx::query("UPDATE list_time SET friend_list = friend_list WHERE uid = $1")
            .bind(uid.0)
            .execute(&mut *tx)
            .await?;
    }
    Ok(())
}

async fn is_blocked(
    tx: &mut AnyConnection,
    uid: UserId,
    blocked: UserId,
) -> Result<bool, StoreError> {
    let n: i64 =
        sqlx::query_scalar("SELECT COUNT(*) FROM user_block WHERE uid = $1 AND blocked_uid = $2")
            .bind(uid.0)
            .bind(blocked.0)
            .fetch_one(&mut *tx)
            .await?;
    Ok(n != 0)
}

async fn are_friends(tx: &mut AnyConnection, a: UserId, b: UserId) -> Result<bool, StoreError> {
    let n: i64 =
        sqlx::query_scalar("SELECT COUNT(*) FROM user_friend WHERE uid = $1 AND friend_uid = $2")
            .bind(a.0)
            .bind(b.0)
            .fetch_one(&mut *tx)
            .await?;
    Ok(n != 0)
}

async fn friend_uids(tx: &mut AnyConnection, uid: UserId) -> Result<Vec<UserId>, StoreError> {
    let uids: Vec<i64> = sqlx::query_scalar("SELECT friend_uid FROM user_friend WHERE uid = $1")
        .bind(uid.0)
        .fetch_all(&mut *tx)
        .await?;
    Ok(uids.into_iter().map(UserId).collect())
}

/// The id of the pending request from `from` to `to`, if any (at most one exists).
async fn pending_request(
    tx: &mut AnyConnection,
    from: UserId,
    to: UserId,
) -> Result<Option<i64>, StoreError> {
    Ok(sqlx::query_scalar(
        "SELECT id FROM friend_requests WHERE from_uid = $1 AND to_uid = $2 \
         AND state = 'pending' ORDER BY id LIMIT 1",
    )
    .bind(from.0)
    .bind(to.0)
    .fetch_optional(&mut *tx)
    .await?)
}

async fn set_request_state(
    tx: &mut AnyConnection,
    id: i64,
    state: RequestState,
    now: Millis,
) -> Result<(), StoreError> {
    sqlx::query("UPDATE friend_requests SET state = $1, updated_at = $2 WHERE id = $3")
        .bind(enum_str(&state)?)
        .bind(now)
        .bind(id)
        .execute(&mut *tx)
        .await?;
    Ok(())
}

async fn request_by_id(tx: &mut AnyConnection, id: i64) -> Result<FriendRequest, StoreError> {
    let row = sqlx::query(&format!("{REQUEST_SELECT} WHERE r.id = $1"))
        .bind(id)
        .fetch_one(&mut *tx)
        .await?;
    friend_request(&row)
}

/// The `friend_request` event, for both sides.
fn request_events(request: &FriendRequest) -> Vec<(UserId, Event)> {
    [request.from, request.to]
        .into_iter()
        .map(|uid| {
            (
                uid,
                Event::FriendRequest {
                    request: request.clone(),
                },
            )
        })
        .collect()
}

/// Makes `a` and `b` friends (both directions), bumps both friend lists (lower uid first) and
/// returns their `list_changed` events. Nothing when they already were.
async fn make_friends(
    tx: &mut AnyConnection,
    a: UserId,
    b: UserId,
    now: Millis,
) -> Result<Vec<(UserId, Event)>, StoreError> {
    let inserted = sqlx::query(
        "INSERT INTO user_friend (uid, friend_uid, since) VALUES ($1, $2, $3), ($2, $1, $3) \
         ON CONFLICT (uid, friend_uid) DO NOTHING",
    )
    .bind(a.0)
    .bind(b.0)
    .bind(now)
    .execute(&mut *tx)
    .await?
    .rows_affected();
    if inserted == 0 {
        return Ok(Vec::new());
    }
    bump_both(tx, a, b, ListOp::Add, now).await
}

/// Ends the friendship of `a` and `b` (both directions), bumps both friend lists and returns
/// their `list_changed` events. Nothing when they were not friends.
async fn unfriend(
    tx: &mut AnyConnection,
    a: UserId,
    b: UserId,
    now: Millis,
) -> Result<Vec<(UserId, Event)>, StoreError> {
    let deleted = sqlx::query(
        "DELETE FROM user_friend WHERE (uid = $1 AND friend_uid = $2) \
         OR (uid = $2 AND friend_uid = $1)",
    )
    .bind(a.0)
    .bind(b.0)
    .execute(&mut *tx)
    .await?
    .rows_affected();
    if deleted == 0 {
        return Ok(Vec::new());
    }
    bump_both(tx, a, b, ListOp::Remove, now).await
}

async fn bump_both(
    tx: &mut AnyConnection,
    a: UserId,
    b: UserId,
    op: ListOp,
    now: Millis,
) -> Result<Vec<(UserId, Event)>, StoreError> {
    let (low, high) = if a < b { (a, b) } else { (b, a) };
    let mut events = Vec::with_capacity(2);
    for (uid, other) in [(low, high), (high, low)] {
        let version = bump_list(tx, uid, ListKind::Friend, other.0, op, now).await?;
        events.push((
            uid,
            Event::ListChanged {
                list: ListKind::Friend,
                version,
            },
        ));
    }
    Ok(events)
}

fn friend_request(r: &AnyRow) -> Result<FriendRequest, StoreError> {
    Ok(FriendRequest {
        id: r.try_get("id")?,
        from: UserId(r.try_get("from_uid")?),
        from_nick: r.try_get("from_nick")?,
        to: UserId(r.try_get("to_uid")?),
        to_nick: r.try_get("to_nick")?,
        note: r.try_get("note")?,
        state: parse_enum(&r.try_get::<String, _>("state")?)?,
        time: r.try_get("updated_at")?,
    })
}

fn profile_row(r: &AnyRow) -> Result<ProfileRow, StoreError> {
    let birthday: Option<i64> = r.try_get("birthday")?;
    Ok(ProfileRow {
        uid: UserId(r.try_get("uid")?),
        nick_name: r.try_get("nick_name")?,
        gender: parse_enum(&r.try_get::<String, _>("gender")?)?,
        birthday: birthday.and_then(|b| u32::try_from(b).ok()),
        profile_time: r.try_get("profile_time")?,
        open_level: parse_enum(&r.try_get::<String, _>("open_level")?)?,
        friends: r.try_get::<i64, _>("friends")? != 0,
        share_group: r.try_get::<i64, _>("share_group")? != 0,
    })
}
