//! Wakers for parked long-polls, one per user with at least one parked poll.
//!
//! The protocol that loses no wake-up: a poll first [`Notifier::subscribe`]s, then reads the
//! store, and only then waits on [`Subscription::changed`]. A writer commits first and calls
//! [`Notifier::wake`] after. An event that lands between the read and the wait has bumped the
//! version the subscription already holds, so the wait returns at once.

use shared::UserId;
use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};
use tokio::sync::watch;

const SHARDS: usize = 64;

type Shard = Mutex<HashMap<UserId, watch::Sender<u64>>>;

/// Registry of per-user wakers, sharded to keep lock contention low with many parked polls.
#[derive(Clone)]
pub struct Notifier {
    shards: Arc<[Shard]>,
    shutdown: Arc<watch::Sender<bool>>,
}

/// Why a parked poll woke up.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Wake {
    /// The user's stream changed: read it again.
    Changed,
    /// The server is shutting down: answer now so that the client reconnects elsewhere.
    ShuttingDown,
}

impl Default for Notifier {
    fn default() -> Self {
        Self::new()
    }
}

impl Notifier {
    pub fn new() -> Self {
        let shards: Vec<Shard> = (0..SHARDS).map(|_| Mutex::new(HashMap::new())).collect();
        Self {
            shards: shards.into(),
            shutdown: Arc::new(watch::channel(false).0),
        }
    }

    fn shard(&self, uid: UserId) -> MutexGuard<'_, HashMap<UserId, watch::Sender<u64>>> {
        let index = (uid.0 as u64 % SHARDS as u64) as usize;
        // A poisoned shard only means a panic while holding it; the map itself stays usable.
        self.shards[index]
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Registers interest in `uid`'s stream. Call this before reading the store.
    pub fn subscribe(&self, uid: UserId) -> Subscription {
        let mut shard = self.shard(uid);
        let sender = shard.entry(uid).or_insert_with(|| watch::channel(0).0);
        Subscription {
            receiver: Some(sender.subscribe()),
            shutdown: self.shutdown.subscribe(),
            uid,
            notifier: self.clone(),
        }
    }

    /// Wakes every parked poll of each user. Call after the writing transaction committed.
    pub fn wake<'a>(&self, uids: impl IntoIterator<Item = &'a UserId>) {
        for uid in uids {
            let shard = self.shard(*uid);
            if let Some(sender) = shard.get(uid) {
                sender.send_modify(|version| *version = version.wrapping_add(1));
            }
        }
    }

    /// Wakes every parked poll on this node (after lost hints: each re-reads its stream).
    pub fn wake_all(&self) {
        for shard in self.shards.iter() {
            let shard = shard
                .lock()
                .unwrap_or_else(|poisoned| poisoned.into_inner());
            for sender in shard.values() {
                sender.send_modify(|version| *version = version.wrapping_add(1));
            }
        }
    }

    /// Ends every parked poll, now and from now on (graceful shutdown).
    pub fn shut_down(&self) {
        self.shutdown.send_replace(true);
    }

    /// Number of users with at least one parked poll.
    pub fn watched_users(&self) -> usize {
        self.shards
            .iter()
            .map(|s| s.lock().map(|m| m.len()).unwrap_or(0))
            .sum()
    }
}

/// One poll's interest in one user's stream; unregisters itself when dropped.
pub struct Subscription {
    receiver: Option<watch::Receiver<u64>>,
    shutdown: watch::Receiver<bool>,
    uid: UserId,
    notifier: Notifier,
}

impl Subscription {
    /// Resolves when the user's stream changed since the subscription was made (or since the
    /// last `changed`).
    pub async fn changed(&mut self) -> Wake {
        let Some(receiver) = self.receiver.as_mut() else {
            return Wake::Changed;
        };
        tokio::select! {
            // The sender lives in the registry for as long as any receiver exists, so this
            // cannot fail; if it ever did, the caller re-reads the store, which is safe.
            _ = receiver.changed() => Wake::Changed,
            _ = self.shutdown.wait_for(|down| *down) => Wake::ShuttingDown,
        }
    }
}

impl Drop for Subscription {
    fn drop(&mut self) {
        drop(self.receiver.take());
        let mut shard = self.notifier.shard(self.uid);
        if shard
            .get(&self.uid)
            .is_some_and(|sender| sender.receiver_count() == 0)
        {
            shard.remove(&self.uid);
        }
    }
}

/// Wakes this node's waiters on the hints other nodes publish with PostgreSQL NOTIFY (sent by
/// the store inside each writing transaction, so a hint never precedes its commit). A hint lost
/// with a dropped connection costs at most one poll timeout; on reconnect every local waiter is
/// woken to re-read, so even that is avoided.
pub async fn listen_postgres(url: String, notifier: Notifier, node: String) {
    use sqlx::postgres::PgListener;
    loop {
        let mut listener = match PgListener::connect(&url).await {
            Ok(listener) => listener,
            Err(error) => {
                tracing::warn!(error = %error, "cannot connect the wake-up listener; retrying");
                tokio::time::sleep(std::time::Duration::from_secs(1)).await;
                continue;
            }
        };
        if let Err(error) = listener.listen(crate::store::WAKE_CHANNEL).await {
            tracing::warn!(error = %error, "cannot LISTEN for wake-ups; retrying");
            tokio::time::sleep(std::time::Duration::from_secs(1)).await;
            continue;
        }
        notifier.wake_all();
        loop {
            match listener.try_recv().await {
                Ok(Some(notification)) => {
                    let Some((from, uids)) = notification.payload().split_once(':') else {
                        continue;
                    };
                    if from == node {
                        continue; // this node woke its own waiters already
                    }
                    let uids: Vec<UserId> = uids
                        .split(',')
                        .filter_map(|u| u.parse().ok().map(UserId))
                        .collect();
                    notifier.wake(&uids);
                }
                Ok(None) => {
                    // The connection dropped and will be re-established; hints may be lost.
                    tracing::warn!("wake-up listener reconnecting");
                    notifier.wake_all();
                }
                Err(error) => {
                    tracing::warn!(error = %error, "wake-up listener failed; reconnecting");
                    notifier.wake_all();
                    break;
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[tokio::test]
    async fn a_wake_between_subscribe_and_wait_is_not_lost() {
        let notifier = Notifier::new();
        let mut sub = notifier.subscribe(UserId(1));
        notifier.wake(&[UserId(1)]);
        tokio::time::timeout(Duration::from_secs(1), sub.changed())
            .await
            .expect("the earlier wake is remembered");
    }

    #[tokio::test]
    async fn wakers_of_users_without_polls_are_removed() {
        let notifier = Notifier::new();
        let a = notifier.subscribe(UserId(1));
        let b = notifier.subscribe(UserId(1));
        assert_eq!(notifier.watched_users(), 1);
        drop(a);
        assert_eq!(notifier.watched_users(), 1);
        drop(b);
        assert_eq!(notifier.watched_users(), 0);
    }
}
