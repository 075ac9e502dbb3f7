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
//!
//! A user's waker also outlives their polls for a while ([`RETAIN`]): a client answered by one
//! poll sends the next a moment later, and the waker still holds the events published in
//! between and the user's known stream head. The head is known only while every change of the
//! stream came through here with its cursor: a poll that read the store and found nothing new
//! notes it (unless a wake-up came in between), each published event moves it on by one, and
//! anything else forgets it (a wake-up without events, a hint from another node, a gap, a poll
//! that waited its whole timeout). A poll whose cursor is the known head parks without reading
//! the store.

use shared::{Cursor, UserId};
use std::collections::{HashMap, VecDeque};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};
use tokio::sync::Notify;

const SHARDS: usize = 64;
/// Most recent events kept per user with a parked poll.
const RECENT_CAP: usize = 256;
/// How long a user's waker (with its recent events and known head) stays after their last poll
/// ended; [`Notifier::sweep_forever`] removes it after that.
pub const RETAIN: Duration = Duration::from_secs(20);

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
    /// The newest cursor of the user's stream, while known (see the module's notes).
    head: Option<Cursor>,
    /// Since when no poll holds this waker (`None` while one does).
    idle_since: Option<Instant>,
}

impl Waker {
    fn new() -> Self {
        Self {
            signal: Arc::default(),
            recent: VecDeque::new(),
            head: None,
            idle_since: None,
        }
    }

    /// A change whose cursor is not known: the head is no longer known either.
    fn bump(&mut self) {
        self.head = None;
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
        let head = self
            .head
            .filter(|head| head.0 + 1 == cursor.0)
            .map(|_| cursor);
        self.bump();
        self.head = head;
    }
}

/// What memory says about a user's stream after a poll's cursor.
#[derive(Debug, PartialEq, Eq)]
pub enum Known {
    /// The cursor is the stream's known head: nothing to read, park.
    Nothing,
    /// These events follow the cursor (a contiguous run ending at the cursor given).
    Events(Cursor, Vec<Payload>),
    /// Memory cannot tell: read the store.
    Unknown,
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
        waker.idle_since = None;
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
            let mut shard = self.shard(*uid);
            if let Some(waker) = shard.get_mut(uid) {
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
            }
        }
    }

    /// Wakes every parked poll on this node (after lost hints: each re-reads its stream).
    pub fn wake_all(&self) {
        for shard in self.shards.iter() {
            let mut shard = shard
                .lock()
                .unwrap_or_else(|poisoned| poisoned.into_inner());
            for waker in shard.values_mut() {
                waker.bump();
            }
        }
    }

    /// Removes the wakers that no poll has held for `RETAIN`, every few seconds, until the
    /// process ends.
    pub async fn sweep_forever(self) {
        let mut interval = tokio::time::interval(RETAIN / 4);
        interval.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            interval.tick().await;
            self.sweep(Instant::now());
        }
    }

    fn sweep(&self, now: Instant) {
        for shard in self.shards.iter() {
            let mut shard = shard
                .lock()
                .unwrap_or_else(|poisoned| poisoned.into_inner());
            shard.retain(|_, waker| {
                waker
                    .idle_since
                    .is_none_or(|since| now.duration_since(since) < RETAIN)
            });
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
            .map(|s| {
                s.lock()
                    .map(|m| m.values().filter(|w| w.idle_since.is_none()).count())
                    .unwrap_or(0)
            })
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

    /// What memory holds after `after`: the published events right after it (a contiguous
    /// run, at most `limit`, with the cursor of the last one), or that `after` is the known
    /// head of the stream.
    pub fn known_after(&self, after: Cursor, limit: usize) -> Known {
        let shard = self.notifier.shard(self.uid);
        let Some(waker) = shard.get(&self.uid) else {
            return Known::Unknown;
        };
        if waker.head == Some(after) {
            return Known::Nothing;
        }
        let Some((first, _)) = waker.recent.front() else {
            return Known::Unknown;
        };
        let Ok(skip) = usize::try_from(after.0 + 1 - first.0) else {
            return Known::Unknown;
        };
        let events: Vec<Payload> = waker
            .recent
            .iter()
            .skip(skip)
            .take(limit.max(1))
            .map(|(_, payload)| payload.clone())
            .collect();
        if events.is_empty() {
            return Known::Unknown;
        }
        Known::Events(Cursor(after.0 + events.len() as i64), events)
    }

    /// Notes that the store holds nothing after `head` (a read found nothing new), unless the
    /// stream changed since this subscription last looked: then it may hold more already.
    pub fn note_head(&self, head: Cursor) {
        let mut shard = self.notifier.shard(self.uid);
        if let Some(waker) = shard.get_mut(&self.uid)
            && waker.signal.version.load(Ordering::SeqCst) == self.seen
        {
            waker.head = Some(head);
        }
    }

    /// Forgets the known head (a poll waited its whole timeout: if a change ever failed to come
    /// through here, the next poll reads the store).
    pub fn forget_head(&self) {
        let mut shard = self.notifier.shard(self.uid);
        if let Some(waker) = shard.get_mut(&self.uid) {
            waker.head = None;
        }
    }
}

impl Drop for Subscription {
    fn drop(&mut self) {
        let mut shard = self.notifier.shard(self.uid);
        drop(self.signal.take());
        if let Some(waker) = shard.get_mut(&self.uid)
            && Arc::strong_count(&waker.signal) == 1
        {
            // Kept for the client's next poll; swept after `RETAIN`.
            waker.idle_since = Some(Instant::now());
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

    fn run_of(known: Known) -> Option<(Cursor, Vec<Payload>)> {
        match known {
            Known::Events(last, events) => Some((last, events)),
            _ => None,
        }
    }

    #[tokio::test]
    async fn a_woken_poll_gets_the_published_run_right_after_its_cursor() {
        let notifier = Notifier::new();
        let mut sub = notifier.subscribe(UserId(1));
        notifier.publish(&[published(1, 5), published(1, 6), published(2, 9)]);
        sub.changed().await;
        let (last, events) = run_of(sub.known_after(Cursor(4), 100)).expect("in memory");
        assert_eq!(last, Cursor(6));
        assert_eq!(events, vec![Arc::from("e5"), Arc::from("e6")]);
        let (last, events) = run_of(sub.known_after(Cursor(5), 100)).expect("in memory");
        assert_eq!((last, events.len()), (Cursor(6), 1));
        assert_eq!(
            sub.known_after(Cursor(6), 100),
            Known::Unknown,
            "head not known"
        );
        assert_eq!(
            sub.known_after(Cursor(3), 100),
            Known::Unknown,
            "cursor 4 is not in memory"
        );
    }

    #[test]
    fn a_gap_in_published_cursors_starts_a_new_run() {
        let notifier = Notifier::new();
        let sub = notifier.subscribe(UserId(1));
        notifier.publish(&[published(1, 5), published(1, 7)]);
        assert_eq!(
            sub.known_after(Cursor(4), 100),
            Known::Unknown,
            "5 was dropped with the gap"
        );
        let (last, _) = run_of(sub.known_after(Cursor(6), 100)).expect("the new run");
        assert_eq!(last, Cursor(7));
    }

    #[test]
    fn users_without_a_parked_poll_keep_nothing() {
        let notifier = Notifier::new();
        notifier.publish(&[published(3, 1)]);
        let sub = notifier.subscribe(UserId(3));
        assert_eq!(sub.known_after(Cursor(0), 100), Known::Unknown);
    }

    #[tokio::test]
    async fn the_head_is_known_only_while_every_change_came_with_its_cursor() {
        let notifier = Notifier::new();
        let mut sub = notifier.subscribe(UserId(1));
        sub.note_head(Cursor(4));
        assert_eq!(sub.known_after(Cursor(4), 100), Known::Nothing);
        assert_eq!(sub.known_after(Cursor(3), 100), Known::Unknown);
        // Published events move the head on, one by one.
        notifier.publish(&[published(1, 5), published(1, 6)]);
        sub.changed().await;
        assert_eq!(sub.known_after(Cursor(6), 100), Known::Nothing);
        // A wake-up without a cursor (another writer, another node) forgets it.
        notifier.wake(&[UserId(1)]);
        assert_eq!(sub.known_after(Cursor(6), 100), Known::Unknown);
        // A read's finding is not noted when the stream changed since the subscription looked.
        sub.note_head(Cursor(7));
        assert_eq!(sub.known_after(Cursor(7), 100), Known::Unknown);
        sub.changed().await;
        sub.note_head(Cursor(7));
        assert_eq!(sub.known_after(Cursor(7), 100), Known::Nothing);
        // A gap forgets it too.
        notifier.publish(&[published(1, 9)]);
        assert!(matches!(sub.known_after(Cursor(7), 100), Known::Unknown));
        // And so does a poll that waited its whole timeout.
        sub.changed().await;
        sub.note_head(Cursor(9));
        sub.forget_head();
        assert_eq!(sub.known_after(Cursor(9), 100), Known::Unknown);
    }

    #[tokio::test]
    async fn a_waker_outlives_its_polls_until_swept() {
        let notifier = Notifier::new();
        let sub = notifier.subscribe(UserId(1));
        sub.note_head(Cursor(2));
        drop(sub);
        assert_eq!(notifier.watched_users(), 0, "no poll parked");
        // The client's next poll, a moment later, still finds the head and what came since.
        notifier.publish(&[published(1, 3)]);
        let sub = notifier.subscribe(UserId(1));
        let (last, _) = run_of(sub.known_after(Cursor(2), 100)).expect("kept");
        assert_eq!(last, Cursor(3));
        assert_eq!(sub.known_after(Cursor(3), 100), Known::Nothing);
        drop(sub);
        notifier.sweep(Instant::now() + RETAIN / 2);
        let sub = notifier.subscribe(UserId(1));
        assert_eq!(
            sub.known_after(Cursor(3), 100),
            Known::Nothing,
            "not yet swept"
        );
        drop(sub);
        notifier.sweep(Instant::now() + RETAIN);
        let sub = notifier.subscribe(UserId(1));
        assert_eq!(sub.known_after(Cursor(3), 100), Known::Unknown, "swept");
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
        notifier.sweep(Instant::now() + RETAIN);
        assert!(
            notifier
                .shards
                .iter()
                .all(|s| s.lock().is_ok_and(|m| m.is_empty()))
        );
    }
}
