//! The versioned friend and group lists (seed 000 list_time): every add or remove bumps the
//! list's version by one and is logged, so that a client holding version V gets exactly the
//! changes after V.

use super::{StoreError, enum_str};
use shared::Millis;
use shared::contacts::ListKind;
use sqlx::AnyConnection;

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
