use crate::helpers::{TestApp, contents, error_code, ok_json};
use reqwest::StatusCode;
use shared::{Cursor, EventBatch};
use std::time::{Duration, Instant};

store_test! {
async fn a_parked_poll_returns_the_message_as_soon_as_it_is_sent() {
    let app = TestApp::spawn().await;
    let a = app.guest().await;
    let b = app.guest().await;
    let poller = {
        let b = b.clone();
        tokio::spawn(async move { b.poll(Cursor(0), 20.0).await })
    };
    // Give the poll time to park; if it had not, it would still return the event at once.
    tokio::time::sleep(Duration::from_millis(200)).await;
    let ack = a.send(b.uid, "1", "wake up").await;
    let batch = poller.await.expect("poll task");
    assert_eq!(
        contents(&batch),
        ["wake up"],
        "delivered by the wake-up, not the 20 s timeout"
    );
    assert_eq!(batch.cursor, Cursor(1));
    let shared::Event::Message { message } = &batch.events[0] else {
        panic!("a message event");
    };
    assert_eq!(
        (message.msg_id, message.seq, message.sender),
        (ack.msg_id, ack.seq, a.uid)
    );
    assert_eq!(message.client_msg_id.0, "1");
}
}

store_test! {
async fn a_send_racing_with_a_poll_is_never_left_for_the_timeout() {
    let app = TestApp::spawn().await;
    let a = app.guest().await;
    let b = app.guest().await;
    let mut cursor = Cursor(0);
    for i in 0..60 {
        let poller = {
            let b = b.clone();
            tokio::spawn(async move { b.poll(cursor, 10.0).await })
        };
        // No pause: the send lands before, during or after the poll's read.
        if i % 2 == 0 {
            tokio::task::yield_now().await;
        }
        a.send(b.uid, &format!("r{i}"), &format!("race {i}")).await;
        let started = Instant::now();
        let batch = poller.await.expect("poll task");
        assert_eq!(contents(&batch), [format!("race {i}")], "round {i}");
        assert!(
            started.elapsed() < Duration::from_secs(9),
            "round {i} waited for the timeout: a lost wake-up"
        );
        cursor = batch.cursor;
    }
}
}

store_test! {
async fn an_idle_poll_answers_empty_at_its_timeout_and_the_cap_bounds_it() {
    let app = TestApp::spawn_with(|c| c.poll_cap = Duration::from_millis(300)).await;
    let a = app.guest().await;
    let started = Instant::now();
    let batch = a.poll(Cursor(0), 25.0).await;
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "capped at 300 ms"
    );
    assert_eq!(
        batch,
        EventBatch {
            cursor: Cursor(0),
            events: vec![],
            reset: false
        }
    );
}
}

store_test! {
async fn a_client_that_was_away_resumes_from_its_cursor_and_gets_everything_once() {
    let app = TestApp::spawn().await;
    let a = app.guest().await;
    let b = app.guest().await;
    a.send(b.uid, "0", "before").await;
    let cursor = b.poll(Cursor(0), 0.0).await.cursor;
    // B closes the tab; A sends five.
    for i in 1..=5 {
        a.send(b.uid, &format!("{i}"), &format!("away {i}")).await;
    }
    let batch = b.poll(cursor, 5.0).await;
    assert_eq!(
        contents(&batch),
        ["away 1", "away 2", "away 3", "away 4", "away 5"]
    );
    // Polling twice from the same cursor returns the same events.
    let again = b.poll(cursor, 5.0).await;
    assert_eq!(again, batch);
    // And the next cursor acknowledges them: nothing more.
    let after = b.poll(batch.cursor, 0.0).await;
    assert!(after.events.is_empty());
    assert_eq!(after.cursor, batch.cursor);
}
}

store_test! {
async fn a_poll_returns_every_waiting_event_up_to_the_batch_cap() {
    let app = TestApp::spawn_with(|c| c.poll_batch = 3).await;
    let a = app.guest().await;
    let b = app.guest().await;
    for i in 1..=7 {
        a.send(b.uid, &format!("{i}"), &format!("{i}")).await;
    }
    let first = b.poll(Cursor(0), 0.0).await;
    assert_eq!(contents(&first), ["1", "2", "3"]);
    let second = b.poll(first.cursor, 0.0).await;
    assert_eq!(contents(&second), ["4", "5", "6"]);
    let third = b.poll(second.cursor, 0.0).await;
    assert_eq!(contents(&third), ["7"]);
}
}

store_test! {
async fn a_cursor_whose_events_were_pruned_gets_an_explicit_reset() {
    let app = TestApp::spawn_with(|c| {
        c.event_retention = Duration::ZERO;
        c.prune_interval = Duration::from_millis(20);
    })
    .await;
    let a = app.guest().await;
    let b = app.guest().await;
    a.send(b.uid, "1", "old").await;
    a.send(b.uid, "2", "older").await;
    let deadline = Instant::now() + Duration::from_secs(10);
    let batch = loop {
        let batch = b.poll(Cursor(0), 0.0).await;
        if batch.reset || Instant::now() > deadline {
            break batch;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    assert!(batch.reset, "a pruned cursor is never served silently");
    assert!(batch.events.is_empty());
    assert_eq!(
        batch.cursor,
        Cursor(2),
        "the client continues from the head"
    );
    // The messages themselves are still there to re-read.
    let conv = b.conversations().await.conversations[0].id.clone();
    assert_eq!(b.history(&conv, "").await.messages.len(), 2);
    // From the head, the stream goes on normally.
    let fresh = b.poll(batch.cursor, 0.0).await;
    assert!(!fresh.reset);
    assert_eq!(fresh.cursor, batch.cursor);
}
}

store_test! {
async fn a_cursor_the_server_never_handed_out_is_refused() {
    let app = TestApp::spawn().await;
    let a = app.guest().await;
    for (query, code) in [
        ("after=5&timeout=0", "invalid_cursor"),
        ("after=-1&timeout=0", "invalid_cursor"),
        ("after=abc&timeout=0", "invalid_parameter"),
        ("after=0&timeout=-2", "invalid_parameter"),
        ("after=0&timeout=soon", "invalid_parameter"),
    ] {
        assert_eq!(
            error_code(a.poll_raw(query).await, StatusCode::BAD_REQUEST).await,
            code,
            "{query}"
        );
    }
}
}

store_test! {
async fn shutting_down_ends_parked_polls_at_once() {
    let mut app = TestApp::spawn().await;
    let a = app.guest().await;
    let poller = {
        let a = a.clone();
        tokio::spawn(async move { a.poll_raw("after=0&timeout=25").await })
    };
    tokio::time::sleep(Duration::from_millis(200)).await;
    let started = Instant::now();
    app.stop().await;
    let response = poller.await.expect("poll task");
    let batch: EventBatch = ok_json(response).await;
    assert!(batch.events.is_empty());
    assert!(started.elapsed() < Duration::from_secs(5));
}
}
