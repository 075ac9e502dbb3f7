//! The per-user event stream and its long-poll.

use super::{AppState, ServiceError, now_millis};
use crate::domain::PollRequest;
use crate::notify::{Known, Payload, Wake};
use shared::{Cursor, UserId};
use tokio::time::Instant;

/// A poll's answer: a `shared::EventBatch` whose events are still the stored JSON (they are
/// passed through, never decoded and encoded again).
#[derive(Clone, Debug)]
pub struct PollAnswer {
    pub cursor: Cursor,
    pub events: Vec<Payload>,
    pub reset: bool,
}

impl PollAnswer {
    /// The answer as `shared::EventBatch` JSON.
    pub fn to_json(&self) -> String {
        let size: usize = self.events.iter().map(|e| e.len() + 1).sum();
        let mut body = String::with_capacity(size + 48);
        body.push_str("{\"cursor\":");
        body.push_str(&self.cursor.0.to_string());
        body.push_str(",\"events\":[");
        for (i, event) in self.events.iter().enumerate() {
            if i > 0 {
                body.push(',');
            }
            body.push_str(event);
        }
        body.push_str("],\"reset\":");
        body.push_str(if self.reset { "true" } else { "false" });
        body.push('}');
        body
    }
}

/// Returns the events after `request.after` at once if there are any; otherwise parks until one
/// arrives or the timeout passes. A cursor whose events were pruned gets `reset`.
///
/// Tens of thousands of these wait at once, so what the future holds while parked counts:
/// the store reads are boxed (their futures are large, and short-lived), leaving the
/// subscription, the timer and the request.
pub async fn poll(
    state: &AppState,
    uid: UserId,
    request: PollRequest,
) -> Result<PollAnswer, ServiceError> {
    let deadline = Instant::now() + request.timeout;
    let _online = super::presence::poll_started(state, uid);
    // Subscribe before the first read: an event committed after this line wakes us even if it
    // lands between the read and the wait.
    let mut subscription = state.notifier.subscribe(uid);
    let limit = state.config.poll_batch as usize;
    loop {
        match subscription.known_after(request.after, limit) {
            // Fast path: the writer handed the committed events to this node's wakers.
            Known::Events(cursor, events) => {
                return Ok(PollAnswer {
                    cursor,
                    events,
                    reset: false,
                });
            }
            // The cursor is the stream's known head: nothing to read.
            Known::Nothing => {}
            Known::Unknown => {
                if let Some(answer) = Box::pin(read(state, uid, request.after)).await? {
                    return Ok(answer);
                }
                // The store holds nothing after the cursor: it is the head.
                subscription.note_head(request.after);
            }
        }
        match tokio::time::timeout_at(deadline, subscription.changed()).await {
            Ok(Wake::Changed) => continue,
            Ok(Wake::ShuttingDown) => return Ok(empty(request.after)),
            Err(_) => {
                // A whole timeout without a change: should a change ever have missed this
                // node's wakers, the next poll reads the store instead of trusting the head.
                subscription.forget_head();
                return Ok(empty(request.after));
            }
        }
    }
}

/// An answer without events.
fn empty(after: Cursor) -> PollAnswer {
    PollAnswer {
        cursor: after,
        events: Vec::new(),
        reset: false,
    }
}

/// The answer the store gives at once for a poll after `after`: its events, or `reset`;
/// `None` when there is nothing yet (the poll parks).
async fn read(
    state: &AppState,
    uid: UserId,
    after: Cursor,
) -> Result<Option<PollAnswer>, ServiceError> {
    let page = state
        .store
        .events_after(uid, after, state.config.poll_batch)
        .await?;
    if after > page.head {
        return Err(ServiceError::CursorAhead {
            after: after.0,
            head: page.head.0,
        });
    }
    let first = page.events.first().map(|(cursor, _)| *cursor);
    let pruned = match first {
        Some(first) => first.0 != after.0 + 1,
        None => after < page.head,
    };
    if pruned {
        tracing::info!(uid = %uid, after = %after, head = %page.head, "cursor too old, client must reset");
        return Ok(Some(PollAnswer {
            cursor: page.head,
            events: Vec::new(),
            reset: true,
        }));
    }
    Ok(page
        .events
        .last()
        .map(|&(last, _)| last)
        .map(|last| PollAnswer {
            cursor: last,
            events: page
                .events
                .into_iter()
                .map(|(_, event)| Payload::from(event))
                .collect(),
            reset: false,
        }))
}

/// Deletes events older than the retention, every `prune_interval`, until the process ends.
pub async fn prune_forever(state: AppState) {
    let mut interval = tokio::time::interval(state.config.prune_interval);
    interval.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        interval.tick().await;
        let retention = i64::try_from(state.config.event_retention.as_millis()).unwrap_or(i64::MAX);
        let before = now_millis().saturating_sub(retention);
        match state.store.prune_events(before).await {
            Ok(0) => {}
            Ok(deleted) => tracing::info!(deleted, "old events pruned"),
            Err(error) => tracing::warn!(error = %error, "event pruning failed"),
        }
    }
}
