use crate::helpers::{TestApp, contents, error_code};
use futures::future::join_all;
use reqwest::StatusCode;
use shared::{Cursor, Event, ReadState, Seq};

store_test! {
async fn a_retried_send_with_the_same_client_msg_id_returns_the_first_message() {
    let app = TestApp::spawn().await;
    let a = app.guest().await;
    let b = app.guest().await;
    let first = a.send(b.uid, "retry-1", "hello").await;
    let retry = a.send(b.uid, "retry-1", "hello").await;
    assert_eq!(first, retry);
    // Even a retry whose body changed cannot create a second message.
    let changed = a.send(b.uid, "retry-1", "hello again").await;
    assert_eq!(first, changed);

    let history = b.history(&first.conversation, "").await;
    assert_eq!(history.messages.len(), 1);
    let batch = b.poll(Cursor(0), 0.0).await;
    assert_eq!(contents(&batch), ["hello"]);
}
}

store_test! {
async fn the_same_client_msg_id_from_two_senders_makes_two_messages() {
    let app = TestApp::spawn().await;
    let a = app.guest().await;
    let b = app.guest().await;
    let from_a = a.send(b.uid, "same", "from a").await;
    let from_b = b.send(a.uid, "same", "from b").await;
    assert_ne!(from_a.msg_id, from_b.msg_id);
    assert_eq!(from_a.conversation, from_b.conversation);
    assert_eq!((from_a.seq, from_b.seq), (Seq(1), Seq(2)));
}
}

store_test! {
async fn concurrent_senders_get_gapless_seqs_and_the_recipient_sees_each_once_in_order() {
    let app = TestApp::spawn().await;
    let a = app.guest().await;
    let b = app.guest().await;
    const EACH: usize = 40;
    let mut sends = Vec::new();
    for i in 0..EACH {
        for (from, to) in [(a.clone(), b.uid), (b.clone(), a.uid)] {
            let id = format!("{}-{i}", from.uid);
            sends.push(tokio::spawn(async move { from.send(to, &id, &id).await }));
        }
    }
    let acks: Vec<_> = join_all(sends)
        .await
        .into_iter()
        .map(|r| r.expect("task"))
        .collect();
    let mut seqs: Vec<i64> = acks.iter().map(|ack| ack.seq.0).collect();
    seqs.sort_unstable();
    assert_eq!(seqs, (1..=2 * EACH as i64).collect::<Vec<_>>());

    // Both participants' streams carry every message once, in seq order.
    for guest in [&a, &b] {
        let seen: Vec<i64> = guest
            .whole_stream()
            .await
            .iter()
            .map(|m| m.seq.0)
            .collect();
        assert_eq!(seen, (1..=2 * EACH as i64).collect::<Vec<_>>());
    }
}
}

store_test! {
async fn history_pages_backwards_twenty_at_a_time_and_caps_the_limit() {
    let app = TestApp::spawn().await;
    let a = app.guest().await;
    let b = app.guest().await;
    let mut conv = None;
    for i in 1..=45 {
        conv = Some(
            a.send(b.uid, &format!("m{i}"), &format!("message {i}"))
                .await
                .conversation,
        );
    }
    let conv = conv.expect("a conversation");

    let latest = b.history(&conv, "").await;
    let seqs =
        |page: &shared::MessagePage| page.messages.iter().map(|m| m.seq.0).collect::<Vec<_>>();
    assert_eq!(seqs(&latest), (26..=45).collect::<Vec<_>>());
    assert!(latest.has_more);
    let older = b.history(&conv, "before_seq=26").await;
    assert_eq!(seqs(&older), (6..=25).collect::<Vec<_>>());
    let oldest = b.history(&conv, "before_seq=6").await;
    assert_eq!(seqs(&oldest), (1..=5).collect::<Vec<_>>());
    assert!(!oldest.has_more);

    let gap = b.history(&conv, "after_seq=40").await;
    assert_eq!(seqs(&gap), (41..=45).collect::<Vec<_>>());
    assert!(!gap.has_more);
    let range = b.history(&conv, "after_seq=10&before_seq=14").await;
    assert_eq!(seqs(&range), [11, 12, 13]);
    let capped = b.history(&conv, "after_seq=0&limit=1000").await;
    assert_eq!(capped.messages.len(), 45);
}
}

store_test! {
async fn conversations_list_the_peer_last_message_and_unread_count() {
    let app = TestApp::spawn().await;
    let a = app.guest().await;
    let b = app.guest().await;
    let c = app.guest().await;
    a.send(b.uid, "1", "to b").await;
    a.send(c.uid, "2", "to c, first").await;
    a.send(c.uid, "3", "to c, second").await;

    let list = a.conversations().await.conversations;
    assert_eq!(list.len(), 2);
    assert_eq!(list[0].peer.as_ref().map(|p| p.uid), Some(c.uid), "newest activity first");
    assert_eq!(
        list[0].last_message.as_ref().map(|m| m.content.as_str()),
        Some("to c, second")
    );
    assert_eq!(list[0].unread, 0, "own messages are read");

    let c_list = c.conversations().await.conversations;
    assert_eq!(c_list.len(), 1);
    assert_eq!(c_list[0].peer.as_ref().map(|p| p.uid), Some(a.uid));
    assert_eq!(
        (c_list[0].max_seq, c_list[0].read_seq, c_list[0].unread),
        (Seq(2), Seq(0), 2)
    );
}
}

store_test! {
async fn the_read_position_only_moves_forward_and_other_tabs_hear_of_it() {
    let app = TestApp::spawn().await;
    let a = app.guest().await;
    let b = app.guest().await;
    let mut conv = None;
    for i in 1..=3 {
        conv = Some(a.send(b.uid, &format!("{i}"), "x").await.conversation);
    }
    let conv = conv.expect("conversation");
    let head = b.me().await.cursor;

    let read: ReadState = crate::helpers::ok_json(b.read_raw(&conv, 2).await).await;
    assert_eq!((read.read_seq, read.unread), (Seq(2), 1));
    let back: ReadState = crate::helpers::ok_json(b.read_raw(&conv, 1).await).await;
    assert_eq!((back.read_seq, back.unread), (Seq(2), 1), "never backwards");
    assert_eq!(b.conversations().await.conversations[0].unread, 1);

    let batch = b.poll(head, 0.0).await;
    assert_eq!(
        batch.events,
        [Event::Read {
            conversation: conv.clone(),
            read_seq: Seq(2)
        }],
        "one event for the move, none for the no-op"
    );
    assert_eq!(
        error_code(b.read_raw(&conv, 4).await, StatusCode::BAD_REQUEST).await,
        "invalid_seq"
    );
}
}

store_test! {
async fn a_stranger_cannot_read_or_mark_a_conversation() {
    let app = TestApp::spawn().await;
    let a = app.guest().await;
    let b = app.guest().await;
    let stranger = app.guest().await;
    let conv = a.send(b.uid, "1", "private").await.conversation;
    assert_eq!(
        error_code(stranger.history_raw(&conv, "").await, StatusCode::NOT_FOUND).await,
        "conversation_not_found"
    );
    assert_eq!(
        error_code(stranger.read_raw(&conv, 1).await, StatusCode::NOT_FOUND).await,
        "conversation_not_found"
    );
}
}
