//! The tab's one sync loop: long-polls the user's event stream from the stored cursor, applies
//! the events to the `Store`, saves the cursor after every batch, and backs off on errors. It
//! stops, aborting the poll in flight, when the component that started it is cleaned up.

use crate::api::{self, ClientError};
use crate::state::{Store, SyncState};
use crate::util;
use crate::{actions, social};
use leptos::prelude::*;
use leptos::task::spawn_local;
use shared::{Cursor, ErrorCode, UserId};
use std::time::Duration;
use web_sys::AbortController;

/// Seconds a poll may park on the server.
const POLL_TIMEOUT_SECS: u32 = 25;
/// Pause between retries after a failed poll.
const RETRY_DELAY: Duration = Duration::from_secs(5);
/// Retries before waiting for the browser's `online` event.
const MAX_RETRIES: u32 = 20;

/// Signs in, then runs the sync loop until the calling component is cleaned up.
pub fn start(store: Store) {
    let stopped = StoredValue::new(false);
    let in_flight: StoredValue<Option<AbortController>, LocalStorage> =
        StoredValue::new_local(None);
    on_cleanup(move || {
        stopped.try_set_value(true);
        if let Some(Some(controller)) = in_flight.try_get_value() {
            controller.abort();
        }
    });
    spawn_local(async move {
        let me = actions::bootstrap(store).await;
        store.me.set(Some(me.clone()));
        run(store, me.uid, me.cursor, stopped, in_flight).await;
    });
}

fn cursor_key(uid: UserId) -> String {
    format!("courier.cursor.{uid}")
}

fn save_cursor(uid: UserId, cursor: Cursor) {
    util::storage_set(&cursor_key(uid), &cursor.0.to_string());
}

async fn run(
    store: Store,
    uid: UserId,
    head: Cursor,
    stopped: StoredValue<bool>,
    in_flight: StoredValue<Option<AbortController>, LocalStorage>,
) {
    let is_stopped = move || stopped.try_get_value().unwrap_or(true);
    let stored = util::storage_get(&cursor_key(uid))
        .and_then(|s| s.parse::<i64>().ok())
        .filter(|c| *c >= 0)
        .map(Cursor);
    let mut cursor = match stored {
        Some(cursor) => cursor,
        None => {
            save_cursor(uid, head);
            head
        }
    };
    // The stream position is fixed first, so the lists read next miss nothing.
    social::start(store, uid);
    actions::reload_conversations(store).await;

    let mut failures: u32 = 0;
    // The first poll after (re)connecting does not park, so "live" shows as soon as the server
    // answers; later polls park up to POLL_TIMEOUT_SECS.
    let mut park = false;
    while !is_stopped() {
        let Ok(controller) = AbortController::new() else {
            store.show_error("This browser cannot run the message stream");
            return;
        };
        let signal = controller.signal();
        in_flight.try_set_value(Some(controller));
        let timeout = if park { POLL_TIMEOUT_SECS } else { 0 };
        let result = api::poll_events(cursor, timeout, &signal).await;
        in_flight.try_set_value(None);
        if is_stopped() {
            return;
        }
        match result {
            Ok(batch) => {
                failures = 0;
                park = true;
                store.sync.set(SyncState::Live);
                if batch.reset {
                    spawn_local(social::reload_all(store));
                    actions::resync(store).await;
                }
                actions::apply_events(store, batch.events);
                cursor = batch.cursor;
                save_cursor(uid, cursor);
            }
            Err(error) if error.is(ErrorCode::InvalidCursor) => {
                // Our cursor is ahead of the stream (a reset server, or another browser's
                // storage): start again from the head and re-read the state.
                match api::me().await {
                    Ok(me) => {
                        cursor = me.cursor;
                        save_cursor(uid, cursor);
                        park = false;
                        spawn_local(social::reload_all(store));
                        actions::resync(store).await;
                    }
                    Err(error) => {
                        failures += 1;
                        back_off(store, &error, failures).await;
                    }
                }
            }
            Err(ClientError::Aborted) => return,
            Err(error) => {
                failures += 1;
                park = false;
                back_off(store, &error, failures).await;
                if failures > MAX_RETRIES {
                    failures = 0;
                }
            }
        }
    }
}

async fn back_off(store: Store, error: &ClientError, failures: u32) {
    store.sync.set(SyncState::Reconnecting);
    if error.is(ErrorCode::Unauthenticated) {
        store.show_error("Your session has ended. Reload the page to start a new one.");
    } else if error.is_client_error() {
        store.show_error(format!("Message stream refused: {error}"));
    }
    if failures > MAX_RETRIES {
        util::wait_for_online().await;
    } else {
        util::sleep(RETRY_DELAY).await;
    }
}
