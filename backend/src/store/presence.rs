//! Presence across nodes: which node holds which online user, and which nodes are alive.
//! Transitions (first node to hold a user, last node to let go) append `presence` events to
//! the user's friends' streams, like every other event.

use super::{Store, StoreError};
use shared::{Event, Millis, UserId};
use sqlx::AnyConnection;

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

    /// Marks `uid` online on this node. When no live node held them before, their friends get
    /// `presence {online: true}`. Returns the users to wake.
    pub async fn set_online(
        &self,
        uid: UserId,
        now: Millis,
        alive_after: Millis,
    ) -> Result<Vec<UserId>, StoreError> {
        let mut tx = self.writer.begin().await?;
        let was_online = online_elsewhere(&mut tx, uid, &self.node, alive_after).await?;
        sqlx::query(
            "INSERT INTO presence (uid, node, since) VALUES ($1, $2, $3) \
             ON CONFLICT (uid, node) DO NOTHING",
        )
        .bind(uid.0)
        .bind(&self.node)
        .bind(now)
        .execute(&mut *tx)
        .await?;
        let woken = if was_online {
            Vec::new()
        } else {
            self.tell_friends(&mut tx, uid, true, now).await?
        };
        tx.commit().await?;
        Ok(woken)
    }

    /// Marks `uid` offline on this node. When no other live node holds them, their friends get
    /// `presence {online: false}`. Returns the users to wake.
    pub async fn set_offline(
        &self,
        uid: UserId,
        now: Millis,
        alive_after: Millis,
    ) -> Result<Vec<UserId>, StoreError> {
        let mut tx = self.writer.begin().await?;
        sqlx::query("DELETE FROM presence WHERE uid = $1 AND node = $2")
            .bind(uid.0)
            .bind(&self.node)
            .execute(&mut *tx)
            .await?;
        let woken = if online_elsewhere(&mut tx, uid, &self.node, alive_after).await? {
            Vec::new()
        } else {
            self.tell_friends(&mut tx, uid, false, now).await?
        };
        tx.commit().await?;
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
            for uid in uids.into_iter().map(UserId) {
                if !online_elsewhere(&mut tx, uid, &node, alive_after).await? {
                    woken.extend(self.tell_friends(&mut tx, uid, false, now).await?);
                }
            }
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

    async fn tell_friends(
        &self,
        tx: &mut AnyConnection,
        uid: UserId,
        online: bool,
        now: Millis,
    ) -> Result<Vec<UserId>, StoreError> {
        let friends: Vec<i64> =
            sqlx::query_scalar("SELECT friend_uid FROM user_friend WHERE uid = $1")
                .bind(uid.0)
                .fetch_all(&mut *tx)
                .await?;
        let event = Event::Presence { uid, online };
        let events: Vec<(UserId, Event)> = friends
            .into_iter()
            .map(|f| (UserId(f), event.clone()))
            .collect();
        self.emit(tx, &events, now).await
    }
}

/// Whether a live node other than `node` holds `uid`.
async fn online_elsewhere(
    tx: &mut AnyConnection,
    uid: UserId,
    node: &str,
    alive_after: Millis,
) -> Result<bool, StoreError> {
    let found: Option<i64> = sqlx::query_scalar(
        "SELECT p.uid FROM presence p JOIN nodes n ON n.node = p.node \
         WHERE p.uid = $1 AND p.node <> $2 AND n.seen_at > $3 LIMIT 1",
    )
    .bind(uid.0)
    .bind(node)
    .bind(alive_after)
    .fetch_optional(&mut *tx)
    .await?;
    Ok(found.is_some())
}
