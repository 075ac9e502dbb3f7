//! Wakers for parked long-polls, one per user with at least one parked poll.
//!
//! The protocol that loses no wake-up: a poll first [`Notifier::subscribe`]s, then reads the
//! store, and only then waits on [`Subscription::changed`]. A writer commits first and calls
//! [`Notifier::wake`] after. An event that lands between the read and the wait has bumped the
//! version the subscription already holds, so the wait returns at once.
//!
//! Writers that have the committed events at hand (message sends) [`Notifier::publish`] them
//! instead: the events are kept, briefly, next to the waker of each user with a parked poll,
//! and a woken poll answers from them without reading the database. Only a contiguous run of
//! cursors right after the poll's own cursor is served from memory; anything else (a hint from
//! another node, a gap, a poll that was not parked) reads the store as before.

use shared::{Cursor, UserId};
use std::collections::{HashMap, VecDeque};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use tokio::sync::Notify;

const SHARDS: usize = 64;
/// Most recent events kept per user with a parked poll.
const RECENT_CAP: usize = 256;

/// A committed event as the client receives it (JSON of `shared::Event`).
pub type Payload = Arc<str>;

/// What a parked poll waits on: a version that every change bumps, and the wake-up for the
/// polls waiting on it. (A `tokio::sync::watch` channel would do, at four times the memory per
/// user: it carries eight wait lists. Tens of thousands of users park at once.)
#[derive(Debug, Default)]
struct Signal {
    version: AtomicU64,
    notify: Notify,
}

/// One user's waker, and the events published since their polls subscribed.
#[derive(Debug)]
struct Waker {
    /// Held by the registry and by each subscription; the registry's is the last one when no
    /// poll is subscribed (clones and drops happen under the shard's lock).
    signal: Arc<Signal>,
    /// Contiguous cursors, oldest first.
    recent: VecDeque<(Cursor, Payload)>,
}

impl Waker {
    fn new() -> Self {
        Self {
            signal: Arc::default(),
            recent: VecDeque::new(),
        }
    }

    fn bump(&self) {
        self.signal.version.fetch_add(1, Ordering::SeqCst);
        self.signal.notify.notify_waiters();
    }

    fn remember(&mut self, cursor: Cursor, payload: Payload) {
        if let Some((last, _)) = self.recent.back()
            && last.0 + 1 != cursor.0
        {
            // Not the next cursor (an event that did not come through here, or a late
            // publisher): start a new run.
            self.recent.clear();
        }
        self.recent.push_back((cursor, payload));
        if self.recent.len() > RECENT_CAP {
            self.recent.pop_front();
        }
    }
}

type Shard = Mutex<HashMap<UserId, Waker>>;

/// Registry of per-user wakers, sharded to keep lock contention low with many parked polls.
#[derive(Clone, Debug)]
pub struct Notifier {
    shards: Arc<[Shard]>,
    shutdown: Arc<AtomicBool>,
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
            shutdown: Arc::default(),
        }
    }

    fn shard(&self, uid: UserId) -> MutexGuard<'_, HashMap<UserId, Waker>> {
        let index = (uid.0 as u64 % SHARDS as u64) as usize;
        // A poisoned shard only means a panic while holding it; the map itself stays usable.
        self.shards[index]
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Registers interest in `uid`'s stream. Call this before reading the store.
    pub fn subscribe(&self, uid: UserId) -> Subscription {
        let mut shard = self.shard(uid);
        let waker = shard.entry(uid).or_insert_with(Waker::new);
        let signal = waker.signal.clone();
        let seen = signal.version.load(Ordering::SeqCst);
        drop(shard);
        Subscription {
            signal: Some(signal),
            seen,
            uid,
            notifier: self.clone(),
        }
    }

    /// Wakes every parked poll of each user. Call after the writing transaction committed.
    pub fn wake<'a>(&self, uids: impl IntoIterator<Item = &'a UserId>) {
        for uid in uids {
            let shard = self.shard(*uid);
            if let Some(waker) = shard.get(uid) {
                waker.bump();
            }
        }
    }

    /// Wakes the parked polls of each event's user and hands them the event. Call after the
    /// writing transaction committed, with events in cursor order per user.
    pub fn publish(&self, events: &[(UserId, Cursor, Payload)]) {
        for (uid, cursor, payload) in events {
            let mut shard = self.shard(*uid);
            if let Some(waker) = shard.get_mut(uid) {
                waker.remember(*cursor, payload.clone());
                waker.bump();
            }
        }
    }

    /// Wakes every parked poll on this node (after lost hints: each re-reads its stream).
    pub fn wake_all(&self) {
        for shard in self.shards.iter() {
            let shard = shard
                .lock()
                .unwrap_or_else(|poisoned| poisoned.into_inner());
            for waker in shard.values() {
                waker.bump();
            }
        }
    }

    /// Ends every parked poll, now and from now on (graceful shutdown).
    pub fn shut_down(&self) {
        // Set before the wake-ups: a poll that missed its wake-up sees the flag instead.
        self.shutdown.store(true, Ordering::SeqCst);
        self.wake_all();
    }

    fn is_shut_down(&self) -> bool {
        self.shutdown.load(Ordering::SeqCst)
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
    /// `None` only while dropping.
    signal: Option<Arc<Signal>>,
    /// The version last seen; a different one means a change.
    seen: u64,
    uid: UserId,
    notifier: Notifier,
}

impl Subscription {
    /// Resolves when the user's stream changed since the subscription was made (or since the
    /// last `changed`), or at once when the server is shutting down.
    pub async fn changed(&mut self) -> Wake {
        let Some(signal) = self.signal.as_deref() else {
            return Wake::Changed;
        };
        loop {
            // Register for the wake-up before looking at the version, so that a bump in
            // between is not missed.
            let notified = signal.notify.notified();
            let mut notified = std::pin::pin!(notified);
            notified.as_mut().enable();
            if self.notifier.is_shut_down() {
                return Wake::ShuttingDown;
            }
            let version = signal.version.load(Ordering::SeqCst);
            if version != self.seen {
                self.seen = version;
                return Wake::Changed;
            }
            notified.await;
        }
    }

    /// The published events right after `after` (a contiguous run, at most `limit`), with the
    /// cursor of the last one; `None` when memory does not hold the event after `after`.
    pub fn recent_after(&self, after: Cursor, limit: usize) -> Option<(Cursor, Vec<Payload>)> {
        let shard = self.notifier.shard(self.uid);
        let recent = &shard.get(&self.uid)?.recent;
        let (first, _) = recent.front()?;
        let skip = usize::try_from(after.0 + 1 - first.0).ok()?;
        let events: Vec<Payload> = recent
            .iter()
            .skip(skip)
            .take(limit.max(1))
            .map(|(_, payload)| payload.clone())
            .collect();
        if events.is_empty() {
            return None;
        }
        Some((Cursor(after.0 + events.len() as i64), events))
    }
}

impl Drop for Subscription {
    fn drop(&mut self) {
        let mut shard = self.notifier.shard(self.uid);
        drop(self.signal.take());
        if shard
            .get(&self.uid)
            .is_some_and(|waker| Arc::strong_count(&waker.signal) == 1)
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
    async fn a_parked_wait_wakes_on_a_later_wake_and_then_waits_again() {
        let notifier = Notifier::new();
        let mut a = notifier.subscribe(UserId(1));
        let mut b = notifier.subscribe(UserId(1));
        let waker = notifier.clone();
        let task = tokio::spawn(async move {
            tokio::time::sleep(Duration::from_millis(20)).await;
            waker.wake(&[UserId(1)]);
        });
        let (wa, wb) = tokio::join!(a.changed(), b.changed());
        assert_eq!((wa, wb), (Wake::Changed, Wake::Changed), "both polls woke");
        task.await.expect("waker task");
        // The change was consumed: the next wait parks until the next one.
        assert!(
            tokio::time::timeout(Duration::from_millis(50), a.changed())
                .await
                .is_err(),
            "no new change"
        );
    }

    #[tokio::test]
    async fn shutting_down_ends_parked_and_later_waits() {
        let notifier = Notifier::new();
        let mut parked = notifier.subscribe(UserId(1));
        let stopper = notifier.clone();
        let task = tokio::spawn(async move {
            tokio::time::sleep(Duration::from_millis(20)).await;
            stopper.shut_down();
        });
        let woke = tokio::time::timeout(Duration::from_secs(1), parked.changed()).await;
        assert_eq!(woke, Ok(Wake::ShuttingDown));
        task.await.expect("shutdown task");
        let mut later = notifier.subscribe(UserId(2));
        assert_eq!(later.changed().await, Wake::ShuttingDown);
    }

    fn published(uid: i64, cursor: i64) -> (UserId, Cursor, Payload) {
        (UserId(uid), Cursor(cursor), Arc::from(format!("e{cursor}")))
    }

    #[tokio::test]
    async fn a_woken_poll_gets_the_published_run_right_after_its_cursor() {
        let notifier = Notifier::new();
        let mut sub = notifier.subscribe(UserId(1));
        notifier.publish(&[published(1, 5), published(1, 6), published(2, 9)]);
        sub.changed().await;
        let (last, events) = sub.recent_after(Cursor(4), 100).expect("in memory");
        assert_eq!(last, Cursor(6));
        assert_eq!(events, vec![Arc::from("e5"), Arc::from("e6")]);
        let (last, events) = sub.recent_after(Cursor(5), 100).expect("in memory");
        assert_eq!((last, events.len()), (Cursor(6), 1));
        assert!(sub.recent_after(Cursor(6), 100).is_none(), "nothing newer");
        assert!(
            sub.recent_after(Cursor(3), 100).is_none(),
            "cursor 4 is not in memory"
        );
    }

    #[test]
    fn a_gap_in_published_cursors_starts_a_new_run() {
        let notifier = Notifier::new();
        let sub = notifier.subscribe(UserId(1));
        notifier.publish(&[published(1, 5), published(1, 7)]);
        assert!(
            sub.recent_after(Cursor(4), 100).is_none(),
            "5 was dropped with the gap"
        );
        let (last, _) = sub.recent_after(Cursor(6), 100).expect("the new run");
        assert_eq!(last, Cursor(7));
    }

    #[test]
    fn users_without_a_parked_poll_keep_nothing() {
        let notifier = Notifier::new();
        notifier.publish(&[published(3, 1)]);
        let sub = notifier.subscribe(UserId(3));
        assert!(sub.recent_after(Cursor(0), 100).is_none());
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
