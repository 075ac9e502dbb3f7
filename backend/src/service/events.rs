//! The per-user event stream and its long-poll.

use super::{AppState, ServiceError, now_millis};
use crate::domain::PollRequest;
use crate::notify::Wake;
use shared::{EventBatch, UserId};
use tokio::time::Instant;

/// Returns the events after `request.after` at once if there are any; otherwise parks until one
/// arrives or the timeout passes. A cursor whose events were pruned gets `reset`.
pub async fn poll(
    state: &AppState,
    uid: UserId,
    request: PollRequest,
) -> Result<EventBatch, ServiceError> {
    let deadline = Instant::now() + request.timeout;
    let _online = super::presence::poll_started(state, uid).await?;
    // Subscribe before the first read: an event committed after this line wakes us even if it
    // lands between the read and the wait.
    let mut subscription = state.notifier.subscribe(uid);
    loop {
        let page = state
            .store
            .events_after(uid, request.after, state.config.poll_batch)
            .await?;
        if request.after > page.head {
            return Err(ServiceError::CursorAhead {
                after: request.after.0,
                head: page.head.0,
            });
        }
        let first = page.events.first().map(|(cursor, _)| *cursor);
        let pruned = match first {
            Some(first) => first.0 != request.after.0 + 1,
            None => request.after < page.head,
        };
        if pruned {
            tracing::info!(uid = %uid, after = %request.after, head = %page.head, "cursor too old, client must reset");
            return Ok(EventBatch {
                cursor: page.head,
                events: Vec::new(),
                reset: true,
            });
        }
        if let Some((last, _)) = page.events.last() {
            return Ok(EventBatch {
                cursor: *last,
                events: page.events.into_iter().map(|(_, event)| event).collect(),
                reset: false,
            });
        }
        match tokio::time::timeout_at(deadline, subscription.changed()).await {
            Ok(Wake::Changed) => continue,
            Ok(Wake::ShuttingDown) | Err(_) => {
                return Ok(EventBatch {
                    cursor: request.after,
                    events: Vec::new(),
                    reset: false,
                });
            }
        }
    }
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
