//! The versioned friend and group lists: `POST /api/lists/sync` answers unchanged, an exact
//! delta from the stored changes, or the whole list.

use crate::contacts::{
    befriend, list_events, patch_me_ok, request, shared_group, sync, unfriend_raw,
};
use crate::helpers::{Guest, TestApp, error_code, ok_json};
use reqwest::StatusCode;
use serde_json::json;
use shared::contacts::{ListDelta, ListKind, ListSync};
use shared::{Cursor, GroupId, UserId};

fn delta(version: i64, added: &[UserId], removed: &[UserId]) -> ListDelta<UserId> {
    ListDelta {
        version,
        unchanged: false,
        reset: false,
        added: added.to_vec(),
        removed: removed.to_vec(),
    }
}

fn reset(version: i64, all: &[UserId]) -> ListDelta<UserId> {
    ListDelta {
        reset: true,
        ..delta(version, all, &[])
    }
}

fn unchanged(version: i64) -> ListDelta<UserId> {
    ListDelta {
        unchanged: true,
        ..delta(version, &[], &[])
    }
}

async fn friend_sync(guest: &Guest, held: i64) -> ListDelta<UserId> {
    sync(guest, held, 0).await.friend_list
}

fn sorted(mut uids: Vec<UserId>) -> Vec<UserId> {
    uids.sort();
    uids
}

store_test! {
async fn the_friend_list_syncs_by_exact_deltas_through_adds_and_removes() {
    let app = TestApp::spawn().await;
    let me = app.guest().await;
    let b = app.guest().await;
    let c = app.guest().await;
    for other in [&b, &c] {
        patch_me_ok(other, json!({"friend_level": "anyone"})).await;
    }
    let start = me.me().await.cursor;
    assert_eq!(friend_sync(&me, 0).await, reset(0, &[]));

    request(&me, &b).await; // v1: +b
    assert_eq!(friend_sync(&me, 0).await, reset(1, &[b.uid]));
    request(&me, &c).await; // v2: +c
    assert_eq!(friend_sync(&me, 1).await, delta(2, &[c.uid], &[]));
    assert_eq!(unfriend_raw(&me, b.uid).await.status(), StatusCode::NO_CONTENT); // v3: -b
    assert_eq!(friend_sync(&me, 2).await, delta(3, &[], &[b.uid]));
    assert_eq!(friend_sync(&me, 1).await, delta(3, &[c.uid], &[b.uid]));
    request(&me, &b).await; // v4: +b again
    assert_eq!(friend_sync(&me, 3).await, delta(4, &[b.uid], &[]));
    // Each item counts by its last change: b left and came back, so it is (re)added.
    assert_eq!(friend_sync(&me, 2).await, delta(4, &[b.uid], &[]));
    assert_eq!(friend_sync(&me, 1).await, delta(4, &sorted(vec![b.uid, c.uid]), &[]));
    // The other side ends a friendship: my list changes too.
    assert_eq!(unfriend_raw(&c, me.uid).await.status(), StatusCode::NO_CONTENT); // v5: -c
    assert_eq!(friend_sync(&me, 4).await, delta(5, &[], &[c.uid]));
    assert_eq!(friend_sync(&me, 3).await, delta(5, &[b.uid], &[c.uid]));
    // A client at v1 never had c (added at v2, removed at v5); removing it is harmless, and
    // documented.
    assert_eq!(friend_sync(&me, 1).await, delta(5, &[b.uid], &[c.uid]));
    assert_eq!(friend_sync(&me, 5).await, unchanged(5));
    assert_eq!(friend_sync(&me, 0).await, reset(5, &[b.uid]));

    // Every version was announced, in order.
    let (events, _) = me.events_since(start).await;
    let versions: Vec<(ListKind, i64)> = (1..=5).map(|v| (ListKind::Friend, v)).collect();
    assert_eq!(list_events(&events), versions);

    // The other sides' lists moved by their own versions.
    assert_eq!(friend_sync(&b, 0).await, reset(3, &[me.uid]));
    assert_eq!(friend_sync(&b, 1).await, delta(3, &[me.uid], &[]));
    assert_eq!(friend_sync(&c, 1).await, delta(2, &[], &[me.uid]));
}
}

store_test! {
async fn a_version_of_zero_negative_or_ahead_of_the_list_gets_the_whole_list() {
    let app = TestApp::spawn().await;
    let me = app.guest().await;
    let b = app.guest().await;
    let c = app.guest().await;
    befriend(&me, &c).await;
    befriend(&me, &b).await;
    let all = sorted(vec![b.uid, c.uid]);
    for held in [0, -1, i64::MIN, 3, 1_000_000, i64::MAX] {
        assert_eq!(friend_sync(&me, held).await, reset(2, &all), "held {held}");
    }
    assert_eq!(friend_sync(&me, 2).await, unchanged(2));
    // Missing fields mean "nothing held".
    let answer: ListSync = ok_json(me.post_json("/api/lists/sync", json!({})).await).await;
    assert_eq!(answer.friend_list, reset(2, &all));
    assert!(answer.group_list.reset);
    assert_eq!(answer.group_list.version, 0);
    assert!(answer.group_list.added.is_empty());
}
}

store_test! {
async fn a_user_whose_lists_never_changed_gets_empty_lists() {
    let app = TestApp::spawn().await;
    let me = app.guest().await;
    let answer = sync(&me, 0, 0).await;
    assert_eq!(answer.friend_list, reset(0, &[]));
    assert_eq!(answer.group_list.version, 0);
    assert!(answer.group_list.added.is_empty() && answer.group_list.reset);
}
}

store_test! {
async fn a_malformed_sync_request_is_invalid_json() {
    let app = TestApp::spawn().await;
    let me = app.guest().await;
    for body in [json!({"friend_list": "x"}), json!("x"), json!({"group_list": 1.5})] {
        let response = me.post_json("/api/lists/sync", body.clone()).await;
        assert_eq!(error_code(response, StatusCode::BAD_REQUEST).await, "invalid_json", "{body}");
    }
    let response = me.get("/api/lists/sync").send().await.expect("request");
    assert_eq!(error_code(response, StatusCode::METHOD_NOT_ALLOWED).await, "method_not_allowed");
}
}

store_test! {
async fn past_500_changes_the_sync_sends_the_whole_list_instead_of_a_delta() {
    let app = TestApp::spawn().await;
    let me = app.guest().await;
    let b = app.guest().await;
    let c = app.guest().await;
    patch_me_ok(&b, json!({"friend_level": "anyone"})).await;
    befriend(&me, &c).await; // v1: +c
    // 250 times +b, -b: versions 2..=501.
    for _ in 0..250 {
        request(&me, &b).await;
        assert_eq!(unfriend_raw(&me, b.uid).await.status(), StatusCode::NO_CONTENT);
    }
    // From v1, exactly 500 changes: still a delta (b added and removed again).
    assert_eq!(friend_sync(&me, 1).await, delta(501, &[], &[b.uid]));
    // One more change makes 501 after v1: the whole list instead.
    assert_eq!(unfriend_raw(&me, c.uid).await.status(), StatusCode::NO_CONTENT); // v502
    assert_eq!(friend_sync(&me, 1).await, reset(502, &[]));
    assert_eq!(friend_sync(&me, 2).await, delta(502, &[], &[b.uid, c.uid]));
}
}

store_test! {
async fn the_group_list_syncs_the_groups_one_is_in() {
    let app = TestApp::spawn().await;
    let owner = app.guest().await;
    let member = app.guest().await;
    let Some(group) = shared_group(&owner, &member).await else {
        return;
    };
    let start: Cursor = Cursor(0);
    let held = sync(&member, 0, 0).await.group_list;
    assert!(held.reset);
    assert_eq!(held.added, vec![group.gid]);
    let owners = sync(&owner, 0, 0).await.group_list;
    assert_eq!(owners.added, vec![group.gid]);
    let again = sync(&member, 0, held.version).await.group_list;
    assert!(again.unchanged);
    let response = member
        .post(&format!("/api/groups/{}/leave", group.gid))
        .send()
        .await
        .expect("request");
    assert_eq!(response.status(), StatusCode::NO_CONTENT);
    let after = sync(&member, 0, held.version).await.group_list;
    assert_eq!(
        after,
        ListDelta::<GroupId> {
            version: after.version,
            unchanged: false,
            reset: false,
            added: vec![],
            removed: vec![group.gid],
        }
    );
    assert!(after.version > held.version);
    let (events, _) = member.events_since(start).await;
    assert!(list_events(&events).contains(&(ListKind::Group, after.version)));
}
}
