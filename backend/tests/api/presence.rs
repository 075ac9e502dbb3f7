//! Presence (friends see each other come and go) and typing notifications.

use crate::helpers::{Guest, TestApp, error_code, ok_json};
use reqwest::StatusCode;
use serde_json::json;
use shared::contacts::PresenceList;
use shared::{Cursor, Event, UserId};
use std::time::Duration;

/// Makes `a` and `b` friends through the public API (request, then accept).
async fn befriend(a: &Guest, b: &Guest) {
    let outcome: serde_json::Value = ok_json(
        a.post_json("/api/friends/requests", json!({"to": b.uid}))
            .await,
    )
    .await;
    let id = outcome["request"]["id"].as_i64().expect("request id");
    let _: serde_json::Value = ok_json(
        b.post(&format!("/api/friends/requests/{id}/accept"))
            .send()
            .await
            .expect("request"),
    )
    .await;
}

/// Polls `guest` until an event matching `wanted` arrives (or `within` passes).
async fn wait_for(
    guest: &Guest,
    mut after: Cursor,
    within: Duration,
    wanted: impl Fn(&Event) -> bool,
) -> Option<Cursor> {
    let deadline = tokio::time::Instant::now() + within;
    while tokio::time::Instant::now() < deadline {
        let batch = guest.poll(after, 1.0).await;
        if batch.events.iter().any(&wanted) {
            return Some(batch.cursor);
        }
        after = batch.cursor;
    }
    None
}

fn presence_of(uid: UserId, online: bool) -> impl Fn(&Event) -> bool {
    move |e| matches!(e, Event::Presence { uid: u, online: o } if *u == uid && *o == online)
}

store_test! {
    async fn friends_see_each_other_come_online_and_go_offline_after_the_grace() {
        let app = TestApp::spawn_with(|c| c.presence_grace = Duration::from_millis(300)).await;
        let (a, b) = (app.guest().await, app.guest().await);
        befriend(&a, &b).await;
        let start = a.me().await.cursor;

        // b's first poll brings b online; a hears of it and sees b in the presence list.
        let _ = b.poll(b.me().await.cursor, 0.0).await;
        let cursor = wait_for(&a, start, Duration::from_secs(5), presence_of(b.uid, true))
            .await
            .expect("a is told that b came online");
        let online: PresenceList = a.get_ok("/api/presence").await;
        assert!(online.online.contains(&b.uid), "{online:?}");

        // b stops polling; after the grace a is told b went offline. (a keeps polling, so a
        // itself stays online throughout.)
        wait_for(&a, cursor, Duration::from_secs(10), presence_of(b.uid, false))
            .await
            .expect("a is told that b went offline");
        let online: PresenceList = a.get_ok("/api/presence").await;
        assert!(!online.online.contains(&b.uid), "{online:?}");
    }
}

store_test! {
    async fn strangers_are_not_told_of_each_others_presence() {
        let app = TestApp::spawn_with(|c| c.presence_grace = Duration::from_millis(300)).await;
        let (a, stranger) = (app.guest().await, app.guest().await);
        let start = a.me().await.cursor;
        let _ = stranger.poll(stranger.me().await.cursor, 0.0).await;
        let heard = wait_for(&a, start, Duration::from_secs(2), |e| {
            matches!(e, Event::Presence { .. })
        })
        .await;
        assert!(heard.is_none(), "presence goes to friends only");
        let online: PresenceList = a.get_ok("/api/presence").await;
        assert!(online.online.is_empty());
    }
}

store_test! {
    async fn typing_reaches_the_other_member_once_per_interval_and_only_members_may_type() {
        let app = TestApp::spawn().await;
        let (a, b, c) = (app.guest().await, app.guest().await, app.guest().await);
        let ack = a.send(b.uid, "t1", "hello").await;
        let conv = ack.conversation.clone();
        let b_start = b.me().await.cursor;
        let a_start = a.me().await.cursor;
        let path = format!("/api/conversations/{}/typing", conv.0);
        for _ in 0..3 {
            let response = a.post(&path).send().await.expect("request");
            assert_eq!(response.status(), StatusCode::NO_CONTENT);
        }
        let (events, _) = b.events_since(b_start).await;
        let typing: Vec<_> = events
            .iter()
            .filter(|e| matches!(e, Event::Typing { conversation, uid } if *conversation == conv && *uid == a.uid))
            .collect();
        assert_eq!(typing.len(), 1, "three calls within the interval tell b once");
        let (own, _) = a.events_since(a_start).await;
        assert!(own.is_empty(), "the typist is not told of their own typing");

        let response = c.post(&path).send().await.expect("request");
        assert_eq!(
            error_code(response, StatusCode::NOT_FOUND).await,
            "conversation_not_found"
        );
    }
}
