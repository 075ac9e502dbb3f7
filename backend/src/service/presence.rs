//! Presence and typing.
//!
//! A user is online while one of their polls is parked on some node, or ended less than
//! `presence_grace` ago (a client polls again at once, so only a closed tab or a lost network
//! lets the grace run out). Each node tracks its own polls in memory and writes only the
//! transitions to the store, which tells the user's friends (`presence` events) when the first
//! node takes the user or the last one lets go. Nodes heartbeat every few seconds; a node that
//! dies is reaped by the others, and its users go offline unless they reconnected elsewhere.

use super::{AppState, ServiceError, now_millis};
use crate::domain::contacts::{Relation, may_see_presence};
use shared::contacts::{PresenceList, UserPresence};
use shared::{ConversationId, ErrorCode, Event, UserId};
use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;
use tokio::time::Instant;

/// How often a node records that it is alive, and sweeps its idle users.
const HEARTBEAT: Duration = Duration::from_secs(2);
/// At most one typing notification per user and conversation in this interval.
const TYPING_INTERVAL: Duration = Duration::from_secs(2);

#[derive(Debug)]
struct Local {
    parked: u32,
    last_seen: Instant,
}

/// This node's view of its own users' polls.
#[derive(Debug, Default)]
pub struct Tracker {
    users: Mutex<HashMap<UserId, Local>>,
    typing: Mutex<HashMap<(UserId, ConversationId), Instant>>,
    /// Users who came online on this node, and who went offline, not written to the store yet.
    arrived: Mutex<Vec<UserId>>,
    departed: Mutex<Vec<UserId>>,
    /// Tells the writer task that `arrived` or `departed` has entries.
    changes: tokio::sync::Notify,
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(|p| p.into_inner())
}

impl Tracker {
    fn users(&self) -> MutexGuard<'_, HashMap<UserId, Local>> {
        self.users.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Counts a poll; returns true when the user just came online on this node.
    fn start(&self, uid: UserId) -> bool {
        let mut users = self.users();
        match users.get_mut(&uid) {
            Some(local) => {
                local.parked += 1;
                local.last_seen = Instant::now();
                false
            }
            None => {
                users.insert(
                    uid,
                    Local {
                        parked: 1,
                        last_seen: Instant::now(),
                    },
                );
                true
            }
        }
    }

    fn end(&self, uid: UserId) {
        if let Some(local) = self.users().get_mut(&uid) {
            local.parked = local.parked.saturating_sub(1);
            local.last_seen = Instant::now();
        }
    }

    /// Removes and returns the users idle for longer than `grace`.
    fn take_idle(&self, grace: Duration) -> Vec<UserId> {
        let mut users = self.users();
        let idle: Vec<UserId> = users
            .iter()
            .filter(|(_, l)| l.parked == 0 && l.last_seen.elapsed() > grace)
            .map(|(uid, _)| *uid)
            .collect();
        for uid in &idle {
            users.remove(uid);
        }
        idle
    }

    /// Whether a typing notification may go out now (and records it).
    fn may_type(&self, uid: UserId, conversation: &ConversationId) -> bool {
        let mut typing = self.typing.lock().unwrap_or_else(|p| p.into_inner());
        let now = Instant::now();
        if typing.len() > 100_000 {
            typing.retain(|_, at| now.duration_since(*at) < TYPING_INTERVAL);
        }
        match typing.get(&(uid, conversation.clone())) {
            Some(at) if now.duration_since(*at) < TYPING_INTERVAL => false,
            _ => {
                typing.insert((uid, conversation.clone()), now);
                true
            }
        }
    }
}

/// Held while a poll runs; dropping it (answer sent, or client gone) ends the poll's count.
pub struct PollPresence {
    tracker: Arc<Tracker>,
    uid: UserId,
}

impl Drop for PollPresence {
    fn drop(&mut self) {
        self.tracker.end(self.uid);
    }
}

/// Heartbeats after this time mean a node is alive.
fn alive_after(state: &AppState) -> shared::Millis {
    let timeout = i64::try_from(state.config.node_timeout.as_millis()).unwrap_or(i64::MAX);
    now_millis().saturating_sub(timeout)
}

/// Counts a poll of `uid`; the first one on this node marks the user online (written by
/// [`record_arrivals_forever`] together with others, a few milliseconds later, so that ten
/// thousand clients reconnecting at once cost a handful of transactions, not ten thousand).
pub fn poll_started(state: &AppState, uid: UserId) -> PollPresence {
    if state.presence.start(uid) {
        lock(&state.presence.arrived).push(uid);
        state.presence.changes.notify_one();
    }
    PollPresence {
        tracker: state.presence.clone(),
        uid,
    }
}

/// Writes who came online and who went offline, in batches, until the process ends. One task
/// writes both, departures of a round before its arrivals, so that a user who left and came
/// back is recorded in that order.
pub async fn record_changes_forever(state: AppState) {
    loop {
        state.presence.changes.notified().await;
        // Gather the changes of a few milliseconds into one transaction.
        tokio::time::sleep(Duration::from_millis(5)).await;
        let departed = std::mem::take(&mut *lock(&state.presence.departed));
        let arrived = std::mem::take(&mut *lock(&state.presence.arrived));
        for (uids, online) in [(departed, false), (arrived, true)] {
            if uids.is_empty() {
                continue;
            }
            match state
                .store
                .set_presence(&uids, online, now_millis(), alive_after(&state))
                .await
            {
                Ok(woken) => state.notifier.wake(&woken),
                Err(error) => {
                    tracing::warn!(error = %error, users = uids.len(), online, "cannot record presence")
                }
            }
        }
    }
}

/// Which of the caller's friends are online.
pub async fn online_friends(state: &AppState, uid: UserId) -> Result<PresenceList, ServiceError> {
    Ok(PresenceList {
        online: state.store.online_friends(uid, alive_after(state)).await?,
    })
}

/// Whether `uid` is online, when the viewer may know: the user themself, a friend, or anyone
/// when the user's `presence_level` is `everyone`, but never someone the user blocked.
pub async fn user_presence(
    state: &AppState,
    viewer: UserId,
    uid: UserId,
) -> Result<UserPresence, ServiceError> {
    let facts = state
        .store
        .presence_facts(viewer, uid, alive_after(state))
        .await?
        .ok_or(ServiceError::UnknownUser(uid))?;
    let relation = Relation {
        is_self: viewer == uid,
        friends: facts.friends,
        share_group: false,
    };
    if !may_see_presence(facts.presence_level, relation, facts.blocked_by_owner) {
        return Err(ServiceError::refused(
            ErrorCode::ForbiddenByPrivacy,
            "this user shows whether they are online to their friends only",
        ));
    }
    Ok(UserPresence {
        uid,
        online: facts.online,
    })
}

/// Tells the other members of a conversation that `uid` is typing (at most once per
/// `TYPING_INTERVAL`; extra calls are accepted and dropped).
pub async fn typing(
    state: &AppState,
    uid: UserId,
    conversation: &ConversationId,
) -> Result<(), ServiceError> {
    if state.store.membership(conversation, uid).await?.is_none() {
        return Err(ServiceError::ConversationNotFound);
    }
    if !state.presence.may_type(uid, conversation) {
        return Ok(());
    }
    let others = state.store.other_members(conversation, uid).await?;
    let event = Event::Typing {
        conversation: conversation.clone(),
        uid,
    };
    let woken = state.store.emit_to(&others, event, now_millis()).await?;
    state.notifier.wake(&woken);
    Ok(())
}

/// Heartbeats this node, takes idle users offline and reaps dead nodes, until the process ends.
pub async fn sweep_forever(state: AppState) {
    // Tests shrink the grace and the node timeout; the sweep keeps up with both.
    let config = &state.config;
    let period = HEARTBEAT
        .min(config.presence_grace / 2)
        .min(config.node_timeout / 3)
        .max(Duration::from_millis(50));
    let mut interval = tokio::time::interval(period);
    interval.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        interval.tick().await;
        if let Err(error) = sweep(&state).await {
            tracing::warn!(error = %error, "presence sweep failed");
        }
    }
}

async fn sweep(state: &AppState) -> Result<(), ServiceError> {
    let now = now_millis();
    state.store.heartbeat(now).await?;
    let idle = state.presence.take_idle(state.config.presence_grace);
    if !idle.is_empty() {
        lock(&state.presence.departed).extend(idle);
        state.presence.changes.notify_one();
    }
    let woken = state.store.reap_dead_nodes(now, alive_after(state)).await?;
    state.notifier.wake(&woken);
    Ok(())
}
