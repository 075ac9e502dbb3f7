//! The versioned friend and group lists (seed 000 list_time): every add or remove bumps the
//! list's version by one and is logged, so that a client holding version V gets exactly the
//! changes after V.

use super::{Store, StoreError, enum_str};
use shared::contacts::ListKind;
use shared::{Millis, UserId};
use sqlx::{AnyConnection, Row};

/// Whether an entry joined or left a list.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ListOp {
    Add,
    Remove,
}

impl ListOp {
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            ListOp::Add => "add",
            ListOp::Remove => "remove",
        }
    }
}

/// The `list_time` column holding a list's version.
pub(crate) fn version_column(list: ListKind) -> &'static str {
    match list {
        ListKind::Friend => "friend_list",
        ListKind::Group => "group_list",
    }
}

/// The `list_time` column holding a list's floor (oldest version a delta can start from).
pub(crate) fn floor_column(list: ListKind) -> &'static str {
    match list {
        ListKind::Friend => "friend_floor",
        ListKind::Group => "group_floor",
    }
}

/// Records, inside `tx`, that `item` was added to or removed from `uid`'s `list`: bumps the
/// list's version by one and logs the change under the new version, which it returns. The
/// caller also emits a `list_changed` event with that version. Lock order: call this after any
/// group/conversation row locks and before `Store::emit` (which locks users).
pub(crate) async fn bump_list(
    tx: &mut AnyConnection,
    uid: shared::UserId,
    list: ListKind,
    item: i64,
    op: ListOp,
    now: Millis,
) -> Result<i64, StoreError> {
    sqlx::query("INSERT INTO list_time (uid) VALUES ($1) ON CONFLICT (uid) DO NOTHING")
        .bind(uid.0)
        .execute(&mut *tx)
        .await?;
    let column = version_column(list);
    let version: i64 = sqlx::query_scalar(&format!(
        "UPDATE list_time SET {column} = {column} + 1 WHERE uid = $1 RETURNING {column}"
    ))
    .bind(uid.0)
    .fetch_one(&mut *tx)
    .await?;
    sqlx::query(
        "INSERT INTO list_changes (uid, list, version, item, op, time) \
         VALUES ($1, $2, $3, $4, $5, $6)",
    )
    .bind(uid.0)
    .bind(enum_str(&list)?)
    .bind(version)
    .bind(item)
    .bind(op.as_str())
    .bind(now)
    .execute(&mut *tx)
    .await?;
    Ok(version)
}

/// A list's version and floor (the oldest version a delta can start from).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ListHead {
    pub version: i64,
    pub floor: i64,
}

impl Store {
    /// The user's friend and group list heads (0 and 0 for a user whose lists never changed).
    pub async fn list_heads(&self, uid: UserId) -> Result<(ListHead, ListHead), StoreError> {
        let row = sqlx::query(&format!(
            "SELECT {} AS fv, {} AS ff, {} AS gv, {} AS gf FROM list_time WHERE uid = $1",
            version_column(ListKind::Friend),
            floor_column(ListKind::Friend),
            version_column(ListKind::Group),
            floor_column(ListKind::Group),
        ))
        .bind(uid.0)
        .fetch_optional(&self.reader)
        .await?;
        let Some(r) = row else {
            return Ok((ListHead::default(), ListHead::default()));
        };
        Ok((
            ListHead {
                version: r.try_get("fv")?,
                floor: r.try_get("ff")?,
            },
            ListHead {
                version: r.try_get("gv")?,
                floor: r.try_get("gf")?,
            },
        ))
    }

    /// The changes of `list` with `after < version <= upto`, ascending by version, at most
    /// `limit` (primary-key range scan); `true` marks an add.
    pub async fn list_changes(
        &self,
        uid: UserId,
        list: ListKind,
        after: i64,
        upto: i64,
        limit: usize,
    ) -> Result<Vec<(i64, bool)>, StoreError> {
        let rows = sqlx::query(
            "SELECT item, op FROM list_changes WHERE uid = $1 AND list = $2 \
             AND version > $3 AND version <= $4 ORDER BY version LIMIT $5",
        )
        .bind(uid.0)
        .bind(enum_str(&list)?)
        .bind(after)
        .bind(upto)
        .bind(i64::try_from(limit).unwrap_or(i64::MAX))
        .fetch_all(&self.reader)
        .await?;
        rows.iter()
            .map(|r| {
                let op: String = r.try_get("op")?;
                let added = match op.as_str() {
                    "add" => true,
                    "remove" => false,
                    other => return Err(StoreError::Corrupt(format!("list op {other:?}"))),
                };
                Ok((r.try_get("item")?, added))
            })
            .collect()
    }

    /// The whole list, ascending: friend uids, or the gids of the live groups the user is in.
    pub async fn list_items(&self, uid: UserId, list: ListKind) -> Result<Vec<i64>, StoreError> {
        let sql = match list {
            ListKind::Friend => {
                "SELECT friend_uid FROM user_friend WHERE uid = $1 ORDER BY friend_uid"
            }
            ListKind::Group => {
                "SELECT m.gid FROM group_members m JOIN group_info g ON g.gid = m.gid \
                 WHERE m.uid = $1 AND g.dissolved = 0 ORDER BY m.gid"
            }
        };
        Ok(sqlx::query_scalar(sql)
            .bind(uid.0)
            .fetch_all(&self.reader)
            .await?)
    }
}
