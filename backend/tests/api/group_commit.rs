//! Sends stored together in one transaction (group commit) keep every guarantee of a single send.

use crate::helpers::{TestApp, error_code};
use futures::future::join_all;
use reqwest::StatusCode;
use serde_json::json;
use shared::{Cursor, Event, SendAck, UserId};
use std::collections::{BTreeMap, HashMap};

store_test! {
async fn concurrent_sends_reusing_client_msg_ids_store_one_message_per_id_with_gapless_seqs() {
    let app = TestApp::spawn().await;
    let a = app.guest().await;
    let b = app.guest().await;
    let c = app.guest().await;
    const IDS: usize = 20;
    const COPIES: usize = 3;
    // a -> b and a -> c reuse each id COPIES times (a retry storm); b -> a uses each id once.
    // All at once, so that copies of one id land in the same batch.
    let mut sends = Vec::new();
    for copy in 0..COPIES {
        for i in 0..IDS {
            for (from, to, id) in [
                (a.clone(), b.uid, format!("ab-{i}")),
                (a.clone(), c.uid, format!("ac-{i}")),
                (b.clone(), a.uid, format!("ba-{i}-{copy}")),
            ] {
                sends.push(tokio::spawn(async move {
                    let ack = from.send(to, &id, &id).await;
                    (from.uid, id, ack)
                }));
            }
        }
    }
    // Sends that fail validation fail alone, whatever batch they share.
    let mut unknown = Vec::new();
    for i in 0..10 {
        let a = a.clone();
        unknown.push(tokio::spawn(async move {
            let body = json!({"to": {"user": 999_999 + i}, "client_msg_id": format!("lost-{i}"), "msg_type": "text", "content": "lost"});
            error_code(a.send_raw(body).await, StatusCode::NOT_FOUND).await
        }));
    }
    let acks: Vec<(UserId, String, SendAck)> =
        join_all(sends).await.into_iter().map(|r| r.expect("task")).collect();
    for code in join_all(unknown).await {
        assert_eq!(code.expect("task"), "unknown_user");
    }

    // Every copy of an id got the same ack.
    let mut by_id: HashMap<(UserId, String), SendAck> = HashMap::new();
    for (sender, id, ack) in &acks {
        let first = by_id.entry((*sender, id.clone())).or_insert_with(|| ack.clone());
        assert_eq!(first, ack, "two acks for {id}");
    }
    assert_eq!(by_id.len(), 2 * IDS + IDS * COPIES);

    // Each conversation holds exactly one message per id, numbered 1..=n without gaps.
    let mut per_conv: BTreeMap<String, Vec<i64>> = BTreeMap::new();
    for ack in by_id.values() {
        per_conv.entry(ack.conversation.0.clone()).or_default().push(ack.seq.0);
    }
    assert_eq!(per_conv.len(), 2);
    for (conv, mut seqs) in per_conv {
        seqs.sort_unstable();
        let conv = shared::ConversationId(conv);
        let history = a.history(&conv, "after_seq=0&limit=100").await;
        assert!(!history.has_more);
        let stored: Vec<i64> = history.messages.iter().map(|m| m.seq.0).collect();
        assert_eq!(stored, (1..=seqs.len() as i64).collect::<Vec<_>>());
        assert_eq!(seqs, stored);
        let mut ids: Vec<&str> = history.messages.iter().map(|m| m.client_msg_id.0.as_str()).collect();
        let count = ids.len();
        ids.sort_unstable();
        ids.dedup();
        assert_eq!(ids.len(), count, "a client_msg_id stored twice in {conv}");
        assert!(history.messages.iter().all(|m| m.content != "lost"));
    }

    // Each stream carries each stored message once, in seq order per conversation.
    for (guest, expected) in [(&a, 2 * IDS + IDS * COPIES), (&b, IDS + IDS * COPIES), (&c, IDS)] {
        let mut cursor = Cursor(0);
        let mut seen: BTreeMap<String, Vec<i64>> = BTreeMap::new();
        loop {
            let batch = guest.poll(cursor, 0.0).await;
            if batch.events.is_empty() {
                break;
            }
            cursor = batch.cursor;
            for event in batch.events {
                if let Event::Message { message } = event {
                    seen.entry(message.conversation.0).or_default().push(message.seq.0);
                }
            }
        }
        assert_eq!(cursor, guest.me().await.cursor);
        let total: usize = seen.values().map(Vec::len).sum();
        assert_eq!(total, expected);
        for seqs in seen.values() {
            assert_eq!(*seqs, (1..=seqs.len() as i64).collect::<Vec<_>>());
        }
    }
}
}

store_test! {
async fn a_send_after_a_batch_continues_the_seqs_and_the_read_position_follows_the_sender() {
    let app = TestApp::spawn().await;
    let a = app.guest().await;
    let b = app.guest().await;
    let sends: Vec<_> = (0..20)
        .map(|i| {
            let a = a.clone();
            let to = b.uid;
            tokio::spawn(async move { a.send(to, &format!("m{i}"), "hi").await })
        })
        .collect();
    join_all(sends).await;
    let last = b.send(a.uid, "reply", "hello").await;
    assert_eq!(last.seq.0, 21);
    let list = b.conversations().await;
    assert_eq!(list.conversations[0].read_seq.0, 21);
    assert_eq!(list.conversations[0].unread, 0);
    let list = a.conversations().await;
    assert_eq!(list.conversations[0].unread, 1);
}
}

store_test! {
async fn sends_the_recipient_refuses_fail_alone_in_the_batch_they_share() {
    let app = TestApp::spawn().await;
    let owner = app.guest().await;
    let friend = app.guest().await;
    let stranger = app.guest().await;
    let blocked = app.guest().await;
    crate::contacts::befriend(&friend, &owner).await;
    crate::contacts::patch_me_ok(&owner, json!({"msg_policy": "friends"})).await;
    let response = crate::contacts::block_raw(&owner, blocked.uid).await;
    assert_eq!(response.status(), StatusCode::NO_CONTENT);
    // All at once, so that refused and accepted sends share batches.
    let mut sends = Vec::new();
    for i in 0..20 {
        for (from, expected) in [
            (friend.clone(), None),
            (stranger.clone(), Some("forbidden_by_privacy")),
            (blocked.clone(), Some("forbidden_by_privacy")),
        ] {
            let to = owner.uid;
            sends.push(tokio::spawn(async move {
                let id = format!("{}-{i}", from.uid);
                let body = json!({"to": {"user": to}, "client_msg_id": id, "msg_type": "text", "content": id});
                let response = from.send_raw(body).await;
                match expected {
                    None => assert_eq!(response.status(), StatusCode::OK),
                    Some(code) => assert_eq!(error_code(response, StatusCode::FORBIDDEN).await, code),
                }
            }));
        }
    }
    for send in join_all(sends).await {
        send.expect("task");
    }
    // Only the friend's conversation exists, holding exactly their 20 messages.
    let list = owner.conversations().await;
    assert_eq!(list.conversations.len(), 1);
    let last = list.conversations[0].last_message.as_ref().expect("a message");
    assert_eq!((last.sender, last.seq.0), (friend.uid, 20));
}
}
