//! Presence across nodes: which node holds which online user, and which nodes are alive.
//! Transitions (first node to hold a user, last node to let go) append `presence` events to
//! the user's friends' streams, like every other event.

use super::{Store, StoreError, parse_enum};
use shared::contacts::PresenceLevel;
use shared::{Event, Millis, UserId};
use sqlx::{AnyConnection, Row};

/// What deciding whether a viewer may see a user's presence needs, and the presence itself.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PresenceFacts {
    pub presence_level: PresenceLevel,
    /// The viewer is the owner's friend.
    pub friends: bool,
    /// The owner blocked the viewer.
    pub blocked_by_owner: bool,
    /// A live node holds the owner.
    pub online: bool,
}

impl Store {
    /// Records that this node is alive.
    pub async fn heartbeat(&self, now: Millis) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO nodes (node, seen_at) VALUES ($1, $2) \
             ON CONFLICT (node) DO UPDATE SET seen_at = excluded.seen_at",
        )
        .bind(&self.node)
        .bind(now)
        .execute(&self.writer)
        .await?;
        Ok(())
    }

    /// Marks `uids` online on this node (or offline, when `online` is false), in one
    /// transaction. Friends are told (`presence` events) of each user whom no other live node
    /// holds. Returns the users to wake.
    pub async fn set_presence(
        &self,
        uids: &[UserId],
        online: bool,
        now: Millis,
        alive_after: Millis,
    ) -> Result<Vec<UserId>, StoreError> {
        let mut woken = Vec::new();
        // 2 parameters per row; 400 rows stay far below every bind limit.
        for chunk in uids.chunks(400) {
            let mut tx = self.writer.begin().await?;
            let elsewhere = online_elsewhere_many(&mut tx, chunk, &self.node, alive_after).await?;
            if online {
                let rows = (0..chunk.len())
                    .map(|k| format!("(${}, $1, $2)", k + 3))
                    .collect::<Vec<_>>()
                    .join(", ");
                let sql = format!(
                    "INSERT INTO presence (uid, node, since) VALUES {rows} \
                     ON CONFLICT (uid, node) DO NOTHING"
                );
                let mut query = sqlx::query(&sql).bind(&self.node).bind(now);
                for uid in chunk {
                    query = query.bind(uid.0);
                }
                query.execute(&mut *tx).await?;
            } else {
                let sql = format!(
                    "DELETE FROM presence WHERE node = $1 AND uid IN ({})",
                    (0..chunk.len())
                        .map(|k| format!("${}", k + 2))
                        .collect::<Vec<_>>()
                        .join(", ")
                );
                let mut query = sqlx::query(&sql).bind(&self.node);
                for uid in chunk {
                    query = query.bind(uid.0);
                }
                query.execute(&mut *tx).await?;
            }
            let changed: Vec<UserId> = chunk
                .iter()
                .copied()
                .filter(|uid| !elsewhere.contains(uid))
                .collect();
            woken.extend(self.tell_friends(&mut tx, &changed, online, now).await?);
            tx.commit().await?;
        }
        woken.sort_unstable();
        woken.dedup();
        Ok(woken)
    }

    /// Forgets nodes whose heartbeat is older than `alive_after` (they died), and tells the
    /// friends of each user they held, and no live node holds, that the user went offline.
    /// Returns the users to wake.
    pub async fn reap_dead_nodes(
        &self,
        now: Millis,
        alive_after: Millis,
    ) -> Result<Vec<UserId>, StoreError> {
        let mut tx = self.writer.begin().await?;
        let dead: Vec<String> =
            sqlx::query_scalar("SELECT node FROM nodes WHERE seen_at <= $1 AND node <> $2")
                .bind(alive_after)
                .bind(&self.node)
                .fetch_all(&mut *tx)
                .await?;
        let mut woken = Vec::new();
        for node in dead {
            let uids: Vec<i64> = sqlx::query_scalar("SELECT uid FROM presence WHERE node = $1")
                .bind(&node)
                .fetch_all(&mut *tx)
                .await?;
            sqlx::query("DELETE FROM presence WHERE node = $1")
                .bind(&node)
                .execute(&mut *tx)
                .await?;
            sqlx::query("DELETE FROM nodes WHERE node = $1")
                .bind(&node)
                .execute(&mut *tx)
                .await?;
            let uids: Vec<UserId> = uids.into_iter().map(UserId).collect();
            let mut gone = Vec::new();
            for chunk in uids.chunks(400) {
                let elsewhere = online_elsewhere_many(&mut tx, chunk, &node, alive_after).await?;
                gone.extend(chunk.iter().copied().filter(|uid| !elsewhere.contains(uid)));
            }
            woken.extend(self.tell_friends(&mut tx, &gone, false, now).await?);
        }
        tx.commit().await?;
        woken.sort_unstable();
        woken.dedup();
        Ok(woken)
    }

    /// Which of the user's friends are online on a live node, ascending.
    pub async fn online_friends(
        &self,
        uid: UserId,
        alive_after: Millis,
    ) -> Result<Vec<UserId>, StoreError> {
        let uids: Vec<i64> = sqlx::query_scalar(
            "SELECT DISTINCT f.friend_uid FROM user_friend f \
             JOIN presence p ON p.uid = f.friend_uid \
             JOIN nodes n ON n.node = p.node \
             WHERE f.uid = $1 AND n.seen_at > $2 ORDER BY f.friend_uid",
        )
        .bind(uid.0)
        .bind(alive_after)
        .fetch_all(&self.reader)
        .await?;
        Ok(uids.into_iter().map(UserId).collect())
    }

    /// Whether `owner` is online on a live node, with what deciding whether `viewer` may know
    /// it needs, in one query on primary keys; `None` when the owner does not exist.
    pub async fn presence_facts(
        &self,
        viewer: UserId,
        owner: UserId,
        alive_after: Millis,
    ) -> Result<Option<PresenceFacts>, StoreError> {
        let row = sqlx::query(
            "SELECT u.presence_level, \
             (SELECT COUNT(*) FROM user_friend f WHERE f.uid = $1 AND f.friend_uid = $2) \
               AS friends, \
             (SELECT COUNT(*) FROM user_block b WHERE b.uid = $2 AND b.blocked_uid = $1) \
               AS blocked_by_owner, \
             (SELECT COUNT(*) FROM presence p JOIN nodes n ON n.node = p.node \
               WHERE p.uid = $2 AND n.seen_at > $3) AS online \
             FROM users u WHERE u.uid = $2",
        )
        .bind(viewer.0)
        .bind(owner.0)
        .bind(alive_after)
        .fetch_optional(&self.reader)
        .await?;
        row.map(|r| {
            Ok(PresenceFacts {
                presence_level: parse_enum(&r.try_get::<String, _>("presence_level")?)?,
                friends: r.try_get::<i64, _>("friends")? != 0,
                blocked_by_owner: r.try_get::<i64, _>("blocked_by_owner")? != 0,
                online: r.try_get::<i64, _>("online")? != 0,
            })
        })
        .transpose()
    }

    /// The members of a conversation other than `uid`.
    pub async fn other_members(
        &self,
        conversation: &shared::ConversationId,
        uid: UserId,
    ) -> Result<Vec<UserId>, StoreError> {
        let uids: Vec<i64> = sqlx::query_scalar(
            "SELECT uid FROM conversation_members WHERE conversation = $1 AND uid <> $2",
        )
        .bind(&conversation.0)
        .bind(uid.0)
        .fetch_all(&self.reader)
        .await?;
        Ok(uids.into_iter().map(UserId).collect())
    }

    /// Appends `event` to each of `uids`' streams in one transaction. Returns the users to wake.
    pub async fn emit_to(
        &self,
        uids: &[UserId],
        event: Event,
        now: Millis,
    ) -> Result<Vec<UserId>, StoreError> {
        if uids.is_empty() {
            return Ok(Vec::new());
        }
        let events: Vec<(UserId, Event)> = uids.iter().map(|&uid| (uid, event.clone())).collect();
        let mut tx = self.writer.begin().await?;
        let woken = self.emit(&mut tx, &events, now).await?;
        tx.commit().await?;
        Ok(woken)
    }

    /// Appends `presence {uid, online}` for each of `uids` to their friends' streams.
    async fn tell_friends(
        &self,
        tx: &mut AnyConnection,
        uids: &[UserId],
        online: bool,
        now: Millis,
    ) -> Result<Vec<UserId>, StoreError> {
        let mut events: Vec<(UserId, Event)> = Vec::new();
        for chunk in uids.chunks(400) {
            let sql = format!(
                "SELECT uid, friend_uid FROM user_friend WHERE uid IN ({})",
                (1..=chunk.len())
                    .map(|k| format!("${k}"))
                    .collect::<Vec<_>>()
                    .join(", ")
            );
            let mut query = sqlx::query_as::<_, (i64, i64)>(&sql);
            for uid in chunk {
                query = query.bind(uid.0);
            }
            for (uid, friend) in query.fetch_all(&mut *tx).await? {
                events.push((
                    UserId(friend),
                    Event::Presence {
                        uid: UserId(uid),
                        online,
                    },
                ));
            }
        }
        self.emit(tx, &events, now).await
    }
}

/// Which of `uids` a live node other than `node` holds.
async fn online_elsewhere_many(
    tx: &mut AnyConnection,
    uids: &[UserId],
    node: &str,
    alive_after: Millis,
) -> Result<std::collections::HashSet<UserId>, StoreError> {
    if uids.is_empty() {
        return Ok(Default::default());
    }
    let sql = format!(
        "SELECT DISTINCT p.uid FROM presence p JOIN nodes n ON n.node = p.node \
         WHERE p.node <> $1 AND n.seen_at > $2 AND p.uid IN ({})",
        (0..uids.len())
            .map(|k| format!("${}", k + 3))
            .collect::<Vec<_>>()
            .join(", ")
    );
    let mut query = sqlx::query_scalar::<_, i64>(&sql)
        .bind(node)
        .bind(alive_after);
    for uid in uids {
        query = query.bind(uid.0);
    }
    Ok(query
        .fetch_all(&mut *tx)
        .await?
        .into_iter()
        .map(UserId)
        .collect())
}
