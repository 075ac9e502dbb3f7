//! Groups: info, members and roles, join policies, invitations, join requests and group
//! messages.

use crate::helpers::{Guest, TestApp, error_code, ok_json};
use futures::future::join_all;
use reqwest::{Response, StatusCode};
use serde_json::{Value, json};
use shared::contacts::{ListKind, RequestState};
use shared::groups::{
    GroupBatch, GroupId, GroupInfo, GroupInvite, GroupInvites, GroupJoinRequests, GroupMembers,
    GroupRole, JoinOutcome, JoinResult,
};
use shared::{ConversationKind, Cursor, Event, SendAck, Seq};

/// Creates a group with `policy` and expects 201.
async fn create_group(owner: &Guest, gname: &str, policy: &str) -> GroupInfo {
    let response = owner
        .post_json(
            "/api/groups",
            json!({"gname": gname, "intro": "about it", "join_policy": policy}),
        )
        .await;
    assert_eq!(response.status(), StatusCode::CREATED);
    ok_json(response).await
}

async fn send_to_group(from: &Guest, gid: GroupId, id: &str, content: &str) -> Response {
    from.send_raw(json!({
        "to": {"group": gid},
        "client_msg_id": id,
        "msg_type": "text",
        "content": content,
    }))
    .await
}

async fn join(guest: &Guest, gid: GroupId) -> JoinOutcome {
    ok_json(
        guest
            .post_json(&format!("/api/groups/{gid}/join"), json!({"note": "hi"}))
            .await,
    )
    .await
}

/// Creates an open group and lets `others` join it.
async fn open_group_with(owner: &Guest, others: &[&Guest]) -> GroupInfo {
    let group = create_group(owner, "team", "open").await;
    for guest in others {
        assert_eq!(join(guest, group.gid).await.result, JoinResult::Joined);
    }
    group
}

/// Every event after `after`, polling until the stream is drained.
async fn all_events(guest: &Guest, after: Cursor) -> Vec<Event> {
    let mut cursor = after;
    let mut events = Vec::new();
    loop {
        let (batch, next) = guest.events_since(cursor).await;
        if batch.is_empty() {
            return events;
        }
        cursor = next;
        events.extend(batch);
    }
}

/// The group-list versions announced in `events`.
fn group_list_versions(events: &[Event]) -> Vec<i64> {
    events
        .iter()
        .filter_map(|e| match e {
            Event::ListChanged {
                list: ListKind::Group,
                version,
            } => Some(*version),
            _ => None,
        })
        .collect()
}

fn roles(members: &GroupMembers) -> Vec<(shared::UserId, GroupRole)> {
    members.members.iter().map(|m| (m.uid, m.role)).collect()
}

async fn members_of(guest: &Guest, gid: GroupId) -> GroupMembers {
    guest.get_ok(&format!("/api/groups/{gid}/members")).await
}

async fn set_role(by: &Guest, gid: GroupId, uid: shared::UserId, role: &str) -> Response {
    by.post_json(
        &format!("/api/groups/{gid}/members/{uid}/role"),
        json!({ "role": role }),
    )
    .await
}

async fn remove(by: &Guest, gid: GroupId, uid: shared::UserId) -> Response {
    by.delete(&format!("/api/groups/{gid}/members/{uid}"))
        .send()
        .await
        .expect("request")
}

async fn invite(by: &Guest, body: Value) -> Response {
    by.post_json("/api/groups/invites", body).await
}

store_test! {
async fn a_created_group_belongs_to_its_owner_and_shows_in_the_conversation_list() {
    let app = TestApp::spawn().await;
    let owner = app.guest().await;
    let group = create_group(&owner, "Rustaceans", "approval").await;
    assert_eq!(group.owner, owner.uid);
    assert_eq!(group.gname, "Rustaceans");
    assert!(!group.dissolved);

    let read: GroupInfo = owner.get_ok(&format!("/api/groups/{}", group.gid)).await;
    assert_eq!(read, group);
    let members = members_of(&owner, group.gid).await;
    assert_eq!(roles(&members), [(owner.uid, GroupRole::Owner)]);

    let list = owner.conversations().await.conversations;
    assert_eq!(list.len(), 1);
    assert_eq!(list[0].id, group.conversation);
    assert_eq!(list[0].kind, ConversationKind::Group);
    let group_ref = list[0].group.as_ref().expect("a group conversation");
    assert_eq!((group_ref.gid, group_ref.gname.as_str()), (group.gid, "Rustaceans"));
    assert_eq!(group_list_versions(&all_events(&owner, Cursor(0)).await), [1]);
}
}

store_test! {
async fn bad_group_input_is_refused_and_writes_nothing() {
    let app = TestApp::spawn().await;
    let owner = app.guest().await;
    for (body, code) in [
        (json!({"gname": "   "}), "invalid_group_name"),
        (json!({"gname": ""}), "invalid_group_name"),
        (json!({"gname": "x".repeat(255)}), "invalid_group_name"),
        (json!({"gname": "ok", "intro": "x".repeat(2046)}), "intro_too_long"),
        (json!({"gname": "ok", "join_policy": "whoever"}), "invalid_json"),
        (json!({"intro": "no name"}), "invalid_json"),
    ] {
        let response = owner.post_json("/api/groups", body).await;
        assert_eq!(error_code(response, StatusCode::BAD_REQUEST).await, code);
    }
    assert!(owner.conversations().await.conversations.is_empty());
    assert!(all_events(&owner, Cursor(0)).await.is_empty());

    let unknown = owner.get("/api/groups/424242").send().await.expect("request");
    assert_eq!(error_code(unknown, StatusCode::NOT_FOUND).await, "group_not_found");
    let bad_id = owner.get("/api/groups/abc").send().await.expect("request");
    assert_eq!(error_code(bad_id, StatusCode::BAD_REQUEST).await, "invalid_parameter");

    // An edit that fails validation changes nothing.
    let group = create_group(&owner, "fine", "open").await;
    let path = format!("/api/groups/{}", group.gid);
    let long = owner.patch(&path).json(&json!({"gname": "new", "intro": "x".repeat(2046)}))
        .send().await.expect("request");
    assert_eq!(error_code(long, StatusCode::BAD_REQUEST).await, "intro_too_long");
    let read: GroupInfo = owner.get_ok(&path).await;
    assert_eq!(read, group);
}
}

store_test! {
async fn anyone_reads_a_groups_info_and_the_batch_skips_what_the_client_holds() {
    let app = TestApp::spawn().await;
    let owner = app.guest().await;
    let stranger = app.guest().await;
    let first = create_group(&owner, "one", "open").await;
    let second = create_group(&owner, "two", "invite_only").await;
    let read: GroupInfo = stranger.get_ok(&format!("/api/groups/{}", second.gid)).await;
    assert_eq!(read, second);

    let batch: GroupBatch = ok_json(
        stranger
            .post_json(
                "/api/groups/batch",
                json!({"items": [
                    {"id": first.gid, "time": first.time},
                    {"id": second.gid},
                    {"id": 999_999}
                ]}),
            )
            .await,
    )
    .await;
    assert_eq!(batch.unchanged, [first.gid]);
    assert_eq!(batch.groups, std::slice::from_ref(&second));
    assert_eq!(batch.unknown, [GroupId(999_999)]);

    let items: Vec<Value> = (0..201).map(|i| json!({"id": i})).collect();
    let too_many = stranger.post_json("/api/groups/batch", json!({ "items": items })).await;
    assert_eq!(error_code(too_many, StatusCode::BAD_REQUEST).await, "too_many_ids");
}
}

store_test! {
async fn owners_and_admins_edit_a_group_and_every_member_hears_of_it() {
    let app = TestApp::spawn().await;
    let owner = app.guest().await;
    let admin = app.guest().await;
    let member = app.guest().await;
    let stranger = app.guest().await;
    let group = open_group_with(&owner, &[&admin, &member]).await;
    ok_json::<GroupMembers>(set_role(&owner, group.gid, admin.uid, "admin").await).await;
    let path = format!("/api/groups/{}", group.gid);
    let head = member.me().await.cursor;

    let edited: GroupInfo = ok_json(
        admin.patch(&path).json(&json!({"gname": "renamed", "join_policy": "approval"}))
            .send().await.expect("request"),
    )
    .await;
    assert_eq!(edited.gname, "renamed");
    assert_eq!(edited.intro, group.intro, "fields not given stay");
    assert_eq!(edited.join_policy, shared::groups::JoinPolicy::Approval);
    assert!(edited.time > group.time);
    let events = all_events(&member, head).await;
    assert_eq!(events, [Event::Group { gid: group.gid, time: edited.time }]);

    let by_owner: GroupInfo = ok_json(
        owner.patch(&path).json(&json!({"intro": "new intro"})).send().await.expect("request"),
    )
    .await;
    assert!(by_owner.time > edited.time);

    let refused = member.patch(&path).json(&json!({"gname": "mine"})).send().await.expect("request");
    assert_eq!(error_code(refused, StatusCode::FORBIDDEN).await, "insufficient_role");
    let refused = stranger.patch(&path).json(&json!({"gname": "mine"})).send().await.expect("request");
    assert_eq!(error_code(refused, StatusCode::FORBIDDEN).await, "not_a_member");
    let read: GroupInfo = stranger.get_ok(&path).await;
    assert_eq!(read, by_owner);
}
}

store_test! {
async fn only_members_see_the_member_list_owner_first_then_admins() {
    let app = TestApp::spawn().await;
    let owner = app.guest().await;
    let a = app.guest().await;
    let b = app.guest().await;
    let stranger = app.guest().await;
    let group = open_group_with(&owner, &[&a, &b]).await;
    ok_json::<GroupMembers>(set_role(&owner, group.gid, b.uid, "admin").await).await;
    let members = members_of(&a, group.gid).await;
    assert_eq!(
        roles(&members),
        [(owner.uid, GroupRole::Owner), (b.uid, GroupRole::Admin), (a.uid, GroupRole::Member)]
    );
    let refused = stranger.get(&format!("/api/groups/{}/members", group.gid)).send().await.expect("request");
    assert_eq!(error_code(refused, StatusCode::FORBIDDEN).await, "not_a_member");
    let unknown = stranger.get("/api/groups/999999/members").send().await.expect("request");
    assert_eq!(error_code(unknown, StatusCode::NOT_FOUND).await, "group_not_found");
}
}

store_test! {
async fn only_the_owner_sets_roles_and_only_admin_or_member() {
    let app = TestApp::spawn().await;
    let owner = app.guest().await;
    let admin = app.guest().await;
    let member = app.guest().await;
    let stranger = app.guest().await;
    let group = open_group_with(&owner, &[&admin, &member]).await;
    let head = member.me().await.cursor;
    let members: GroupMembers = ok_json(set_role(&owner, group.gid, admin.uid, "admin").await).await;
    assert!(roles(&members).contains(&(admin.uid, GroupRole::Admin)));
    assert_eq!(all_events(&member, head).await, [Event::GroupMembers { gid: group.gid }]);

    for (by, target, role, status, code) in [
        (&admin, member.uid, "admin", StatusCode::FORBIDDEN, "insufficient_role"),
        (&member, member.uid, "admin", StatusCode::FORBIDDEN, "insufficient_role"),
        (&stranger, member.uid, "admin", StatusCode::FORBIDDEN, "not_a_member"),
        (&owner, member.uid, "owner", StatusCode::BAD_REQUEST, "invalid_role"),
        (&owner, owner.uid, "member", StatusCode::BAD_REQUEST, "invalid_role"),
        (&owner, stranger.uid, "admin", StatusCode::FORBIDDEN, "not_a_member"),
    ] {
        assert_eq!(error_code(set_role(by, group.gid, target, role).await, status).await, code);
    }
    let bad = set_role(&owner, group.gid, member.uid, "emperor").await;
    assert_eq!(error_code(bad, StatusCode::BAD_REQUEST).await, "invalid_json");

    let members: GroupMembers = ok_json(set_role(&owner, group.gid, admin.uid, "member").await).await;
    assert!(roles(&members).contains(&(admin.uid, GroupRole::Member)));
}
}

store_test! {
async fn the_owner_removes_anyone_else_and_admins_only_plain_members() {
    let app = TestApp::spawn().await;
    let owner = app.guest().await;
    let admin = app.guest().await;
    let admin2 = app.guest().await;
    let member = app.guest().await;
    let member2 = app.guest().await;
    let group = open_group_with(&owner, &[&admin, &admin2, &member, &member2]).await;
    for uid in [admin.uid, admin2.uid] {
        ok_json::<GroupMembers>(set_role(&owner, group.gid, uid, "admin").await).await;
    }
    for (by, target, code) in [
        (&admin, admin2.uid, "insufficient_role"),
        (&admin, owner.uid, "insufficient_role"),
        (&member, member2.uid, "insufficient_role"),
        (&owner, owner.uid, "insufficient_role"),
    ] {
        assert_eq!(error_code(remove(by, group.gid, target).await, StatusCode::FORBIDDEN).await, code);
    }
    let stranger = app.guest().await;
    assert_eq!(
        error_code(remove(&owner, group.gid, stranger.uid).await, StatusCode::FORBIDDEN).await,
        "not_a_member"
    );

    let head = member.me().await.cursor;
    assert_eq!(remove(&admin, group.gid, member.uid).await.status(), StatusCode::NO_CONTENT);
    assert_eq!(remove(&owner, group.gid, admin2.uid).await.status(), StatusCode::NO_CONTENT);
    let events = all_events(&member, head).await;
    assert_eq!(group_list_versions(&events), [2], "joined (1), then removed (2)");
    assert_eq!(
        error_code(member.history_raw(&group.conversation, "").await, StatusCode::NOT_FOUND).await,
        "conversation_not_found"
    );
    let members = members_of(&owner, group.gid).await;
    assert_eq!(
        roles(&members),
        [(owner.uid, GroupRole::Owner), (admin.uid, GroupRole::Admin), (member2.uid, GroupRole::Member)]
    );
}
}

store_test! {
async fn the_owner_hands_over_ownership_to_a_member_and_stays_as_an_admin() {
    let app = TestApp::spawn().await;
    let owner = app.guest().await;
    let admin = app.guest().await;
    let member = app.guest().await;
    let stranger = app.guest().await;
    let group = open_group_with(&owner, &[&admin, &member]).await;
    ok_json::<GroupMembers>(set_role(&owner, group.gid, admin.uid, "admin").await).await;
    let path = format!("/api/groups/{}/transfer", group.gid);
    let refused = admin.post_json(&path, json!({"uid": admin.uid})).await;
    assert_eq!(error_code(refused, StatusCode::FORBIDDEN).await, "insufficient_role");
    let refused = owner.post_json(&path, json!({"uid": stranger.uid})).await;
    assert_eq!(error_code(refused, StatusCode::FORBIDDEN).await, "not_a_member");

    let head = admin.me().await.cursor;
    let info: GroupInfo = ok_json(owner.post_json(&path, json!({"uid": member.uid})).await).await;
    assert_eq!(info.owner, member.uid);
    assert!(info.time > group.time);
    assert_eq!(
        all_events(&admin, head).await,
        [Event::Group { gid: group.gid, time: info.time }, Event::GroupMembers { gid: group.gid }]
    );
    let members = members_of(&owner, group.gid).await;
    assert_eq!(
        roles(&members),
        [(member.uid, GroupRole::Owner), (owner.uid, GroupRole::Admin), (admin.uid, GroupRole::Admin)]
    );
    // The old owner may now leave; the new one may not.
    let leave = owner.post(&format!("/api/groups/{}/leave", group.gid)).send().await.expect("request");
    assert_eq!(leave.status(), StatusCode::NO_CONTENT);
    let leave = member.post(&format!("/api/groups/{}/leave", group.gid)).send().await.expect("request");
    assert_eq!(error_code(leave, StatusCode::CONFLICT).await, "owner_cannot_leave");
}
}

store_test! {
async fn a_member_who_leaves_loses_the_conversation_and_the_owner_cannot_leave() {
    let app = TestApp::spawn().await;
    let owner = app.guest().await;
    let member = app.guest().await;
    let stranger = app.guest().await;
    let group = open_group_with(&owner, &[&member]).await;
    let leave_path = format!("/api/groups/{}/leave", group.gid);
    let refused = owner.post(&leave_path).send().await.expect("request");
    assert_eq!(error_code(refused, StatusCode::CONFLICT).await, "owner_cannot_leave");
    let refused = stranger.post(&leave_path).send().await.expect("request");
    assert_eq!(error_code(refused, StatusCode::FORBIDDEN).await, "not_a_member");

    ok_json::<SendAck>(send_to_group(&owner, group.gid, "m1", "before").await).await;
    let head = owner.me().await.cursor;
    let left = member.post(&leave_path).send().await.expect("request");
    assert_eq!(left.status(), StatusCode::NO_CONTENT);
    assert_eq!(all_events(&owner, head).await, [Event::GroupMembers { gid: group.gid }]);
    assert!(member.conversations().await.conversations.is_empty());
    assert_eq!(
        error_code(member.history_raw(&group.conversation, "").await, StatusCode::NOT_FOUND).await,
        "conversation_not_found"
    );
    let send = send_to_group(&member, group.gid, "m2", "after leaving").await;
    assert_eq!(error_code(send, StatusCode::FORBIDDEN).await, "not_a_member");
    assert_eq!(roles(&members_of(&owner, group.gid).await), [(owner.uid, GroupRole::Owner)]);
}
}

store_test! {
async fn an_open_group_takes_a_joiner_at_once_and_a_member_cannot_join_twice() {
    let app = TestApp::spawn().await;
    let owner = app.guest().await;
    let joiner = app.guest().await;
    let group = create_group(&owner, "open", "open").await;
    let head = owner.me().await.cursor;
    // The body is optional.
    let outcome: JoinOutcome = ok_json(
        joiner.post(&format!("/api/groups/{}/join", group.gid)).send().await.expect("request"),
    )
    .await;
    assert_eq!(outcome.result, JoinResult::Joined);
    assert_eq!(outcome.group.gid, group.gid);
    assert!(outcome.request.is_none());
    assert_eq!(all_events(&owner, head).await, [Event::GroupMembers { gid: group.gid }]);
    let events = all_events(&joiner, Cursor(0)).await;
    assert_eq!(group_list_versions(&events), [1]);
    assert!(events.contains(&Event::GroupMembers { gid: group.gid }));
    assert_eq!(joiner.conversations().await.conversations[0].id, group.conversation);

    let again = joiner.post_json(&format!("/api/groups/{}/join", group.gid), json!({})).await;
    assert_eq!(error_code(again, StatusCode::CONFLICT).await, "already_member");
    let long = app.guest().await
        .post_json(&format!("/api/groups/{}/join", group.gid), json!({"note": "x".repeat(201)}))
        .await;
    assert_eq!(error_code(long, StatusCode::BAD_REQUEST).await, "note_too_long");
    let unknown = joiner.post_json("/api/groups/999999/join", json!({})).await;
    assert_eq!(error_code(unknown, StatusCode::NOT_FOUND).await, "group_not_found");
}
}

store_test! {
async fn an_approval_group_queues_join_requests_until_an_admin_approves_or_rejects_them() {
    let app = TestApp::spawn().await;
    let owner = app.guest().await;
    let admin = app.guest().await;
    let member = app.guest().await;
    let asker = app.guest().await;
    let other = app.guest().await;
    let group = create_group(&owner, "club", "approval").await;
    // Let admin and member in through an open phase, then switch to approval.
    let path = format!("/api/groups/{}", group.gid);
    ok_json::<GroupInfo>(owner.patch(&path).json(&json!({"join_policy": "open"})).send().await.expect("request")).await;
    join(&admin, group.gid).await;
    join(&member, group.gid).await;
    ok_json::<GroupInfo>(owner.patch(&path).json(&json!({"join_policy": "approval"})).send().await.expect("request")).await;
    ok_json::<GroupMembers>(set_role(&owner, group.gid, admin.uid, "admin").await).await;

    let owner_head = owner.me().await.cursor;
    let outcome = join(&asker, group.gid).await;
    assert_eq!(outcome.result, JoinResult::Pending);
    let request = outcome.request.expect("a pending request");
    assert_eq!((request.uid, request.note.as_str(), request.state), (asker.uid, "hi", RequestState::Pending));
    let again = join(&asker, group.gid).await;
    assert_eq!(again.request.map(|r| r.id), Some(request.id), "a repeat returns the pending one");
    assert_eq!(
        all_events(&owner, owner_head).await,
        [Event::GroupJoinRequest { request: request.clone() }]
    );
    assert!(all_events(&asker, Cursor(0)).await.contains(&Event::GroupJoinRequest { request: request.clone() }));
    let denied = send_to_group(&asker, group.gid, "early", "am I in?").await;
    assert_eq!(error_code(denied, StatusCode::FORBIDDEN).await, "not_a_member");

    let requests_path = format!("/api/groups/{}/requests", group.gid);
    let listed: GroupJoinRequests = admin.get_ok(&requests_path).await;
    assert_eq!(listed.requests, std::slice::from_ref(&request));
    let refused = member.get(&requests_path).send().await.expect("request");
    assert_eq!(error_code(refused, StatusCode::FORBIDDEN).await, "insufficient_role");
    let refused = member.post(&format!("{requests_path}/{}/approve", request.id)).send().await.expect("request");
    assert_eq!(error_code(refused, StatusCode::FORBIDDEN).await, "insufficient_role");

    let asker_head = asker.me().await.cursor;
    let approved: shared::groups::GroupJoinRequest = ok_json(
        admin.post(&format!("{requests_path}/{}/approve", request.id)).send().await.expect("request"),
    )
    .await;
    assert_eq!(approved.state, RequestState::Accepted);
    let events = all_events(&asker, asker_head).await;
    assert_eq!(group_list_versions(&events), [1]);
    assert!(events.contains(&Event::GroupJoinRequest { request: approved.clone() }));
    assert!(roles(&members_of(&asker, group.gid).await).contains(&(asker.uid, GroupRole::Member)));
    let twice = admin.post(&format!("{requests_path}/{}/approve", request.id)).send().await.expect("request");
    assert_eq!(error_code(twice, StatusCode::NOT_FOUND).await, "request_not_found");

    let other_request = join(&other, group.gid).await.request.expect("pending");
    let rejected: shared::groups::GroupJoinRequest = ok_json(
        owner.post(&format!("{requests_path}/{}/reject", other_request.id)).send().await.expect("request"),
    )
    .await;
    assert_eq!(rejected.state, RequestState::Rejected);
    let refused = other.get(&format!("/api/groups/{}/members", group.gid)).send().await.expect("request");
    assert_eq!(error_code(refused, StatusCode::FORBIDDEN).await, "not_a_member");
    let listed: GroupJoinRequests = owner.get_ok(&requests_path).await;
    assert!(listed.requests.is_empty());
}
}

store_test! {
async fn an_invite_only_group_refuses_joins() {
    let app = TestApp::spawn().await;
    let owner = app.guest().await;
    let joiner = app.guest().await;
    let group = create_group(&owner, "secret", "invite_only").await;
    let refused = joiner.post_json(&format!("/api/groups/{}/join", group.gid), json!({})).await;
    assert_eq!(error_code(refused, StatusCode::FORBIDDEN).await, "invite_only");
    assert!(joiner.conversations().await.conversations.is_empty());
}
}

store_test! {
async fn an_invitation_in_the_seed_json_lets_the_invitee_into_an_invite_only_group_with_an_answer() {
    let app = TestApp::spawn().await;
    let owner = app.guest().await;
    let invitee = app.guest().await;
    let group = create_group(&owner, "secret", "invite_only").await;
    let body = json!({"admin_uid": owner.uid, "add_uid": invitee.uid, "gid": group.gid});
    let response = invite(&owner, body.clone()).await;
    assert_eq!(response.status(), StatusCode::CREATED);
    let sent: GroupInvite = ok_json(response).await;
    assert_eq!((sent.admin_uid, sent.add_uid, sent.gid), (owner.uid, invitee.uid, group.gid));
    assert_eq!((sent.gname.as_str(), sent.state, sent.result.as_deref()), ("secret", RequestState::Pending, None));
    let repeat: GroupInvite = ok_json(invite(&owner, body).await).await;
    assert_eq!(repeat, sent, "a repeat returns the pending invitation");
    assert!(all_events(&invitee, Cursor(0)).await.contains(&Event::GroupInvite { invite: sent.clone() }));

    let mine: GroupInvites = invitee.get_ok("/api/groups/invites").await;
    assert_eq!(mine.incoming, std::slice::from_ref(&sent));
    assert!(mine.outgoing.is_empty());
    let theirs: GroupInvites = owner.get_ok("/api/groups/invites").await;
    assert_eq!(theirs.outgoing, std::slice::from_ref(&sent));

    // Only the invitee answers.
    let accept_path = format!("/api/groups/invites/{}/accept", sent.id);
    let refused = owner.post_json(&accept_path, json!({})).await;
    assert_eq!(error_code(refused, StatusCode::NOT_FOUND).await, "request_not_found");
    let long = invitee.post_json(&accept_path, json!({"result": "x".repeat(201)})).await;
    assert_eq!(error_code(long, StatusCode::BAD_REQUEST).await, "note_too_long");

    let owner_head = owner.me().await.cursor;
    let accepted: GroupInvite = ok_json(invitee.post_json(&accept_path, json!({"result": "glad to join"})).await).await;
    assert_eq!(accepted.state, RequestState::Accepted);
    assert_eq!(accepted.result.as_deref(), Some("glad to join"));
    let events = all_events(&owner, owner_head).await;
    assert!(events.contains(&Event::GroupInvite { invite: accepted.clone() }));
    assert!(events.contains(&Event::GroupMembers { gid: group.gid }));
    let theirs: GroupInvites = owner.get_ok("/api/groups/invites").await;
    assert_eq!(theirs.outgoing[0].result.as_deref(), Some("glad to join"));
    assert!(roles(&members_of(&invitee, group.gid).await).contains(&(invitee.uid, GroupRole::Member)));
    let mine: GroupInvites = invitee.get_ok("/api/groups/invites").await;
    assert!(mine.incoming.is_empty());
    let twice = invitee.post_json(&accept_path, json!({})).await;
    assert_eq!(error_code(twice, StatusCode::NOT_FOUND).await, "request_not_found");
}
}

store_test! {
async fn a_declined_invitation_keeps_the_invitee_out_and_tells_the_inviter_why() {
    let app = TestApp::spawn().await;
    let owner = app.guest().await;
    let invitee = app.guest().await;
    let group = create_group(&owner, "secret", "invite_only").await;
    let sent: GroupInvite = ok_json(
        invite(&owner, json!({"admin_uid": owner.uid, "add_uid": invitee.uid, "gid": group.gid})).await,
    )
    .await;
    // No body at all is fine too.
    let declined: GroupInvite = ok_json(
        invitee.post(&format!("/api/groups/invites/{}/decline", sent.id)).send().await.expect("request"),
    )
    .await;
    assert_eq!((declined.state, declined.result), (RequestState::Rejected, None));
    let refused = invitee.get(&format!("/api/groups/{}/members", group.gid)).send().await.expect("request");
    assert_eq!(error_code(refused, StatusCode::FORBIDDEN).await, "not_a_member");

    let again: GroupInvite = ok_json(
        invite(&owner, json!({"admin_uid": owner.uid, "add_uid": invitee.uid, "gid": group.gid})).await,
    )
    .await;
    assert_ne!(again.id, sent.id, "a new invitation after an answer");
    let declined: GroupInvite = ok_json(
        invitee.post_json(&format!("/api/groups/invites/{}/decline", again.id), json!({"result": "no thanks"})).await,
    )
    .await;
    assert_eq!(declined.result.as_deref(), Some("no thanks"));
    let theirs: GroupInvites = owner.get_ok("/api/groups/invites").await;
    assert_eq!(theirs.outgoing.len(), 2);
    assert_eq!(theirs.outgoing[0], declined, "recent first");
}
}

store_test! {
async fn invitations_are_refused_to_plain_members_strangers_and_for_bad_targets() {
    let app = TestApp::spawn().await;
    let owner = app.guest().await;
    let member = app.guest().await;
    let stranger = app.guest().await;
    let target = app.guest().await;
    let group = open_group_with(&owner, &[&member]).await;
    let gid = group.gid;
    for (by, body, status, code) in [
        (&member, json!({"admin_uid": member.uid, "add_uid": target.uid, "gid": gid}), StatusCode::FORBIDDEN, "insufficient_role"),
        (&stranger, json!({"admin_uid": stranger.uid, "add_uid": target.uid, "gid": gid}), StatusCode::FORBIDDEN, "not_a_member"),
        (&owner, json!({"admin_uid": member.uid, "add_uid": target.uid, "gid": gid}), StatusCode::BAD_REQUEST, "invalid_parameter"),
        (&owner, json!({"admin_uid": owner.uid, "add_uid": owner.uid, "gid": gid}), StatusCode::BAD_REQUEST, "cannot_add_self"),
        (&owner, json!({"admin_uid": owner.uid, "add_uid": 999_999, "gid": gid}), StatusCode::NOT_FOUND, "unknown_user"),
        (&owner, json!({"admin_uid": owner.uid, "add_uid": member.uid, "gid": gid}), StatusCode::CONFLICT, "already_member"),
        (&owner, json!({"admin_uid": owner.uid, "add_uid": target.uid, "gid": 999_999}), StatusCode::NOT_FOUND, "group_not_found"),
        (&owner, json!({"admin_uid": owner.uid, "gid": gid}), StatusCode::BAD_REQUEST, "invalid_json"),
    ] {
        assert_eq!(error_code(invite(by, body).await, status).await, code);
    }
    let theirs: GroupInvites = target.get_ok("/api/groups/invites").await;
    assert!(theirs.incoming.is_empty());
    assert!(all_events(&target, Cursor(0)).await.is_empty());
}
}

store_test! {
async fn an_invitee_who_takes_messages_from_friends_only_cannot_be_invited_by_a_stranger() {
    let app = TestApp::spawn().await;
    let owner = app.guest().await;
    let invitee = app.guest().await;
    let group = create_group(&owner, "secret", "invite_only").await;
    let patched = invitee.patch("/api/me").json(&json!({"msg_policy": "friends"})).send().await.expect("request");
    if matches!(patched.status(), StatusCode::NOT_FOUND | StatusCode::METHOD_NOT_ALLOWED) {
        eprintln!("skipped: PATCH /api/me is not on this branch");
        return;
    }
    assert!(patched.status().is_success());
    let refused = invite(&owner, json!({"admin_uid": owner.uid, "add_uid": invitee.uid, "gid": group.gid})).await;
    assert_eq!(error_code(refused, StatusCode::FORBIDDEN).await, "forbidden_by_privacy");
    let theirs: GroupInvites = invitee.get_ok("/api/groups/invites").await;
    assert!(theirs.incoming.is_empty());

    // group_members: sharing a group is enough.
    let patched = invitee.patch("/api/me").json(&json!({"msg_policy": "group_members"})).send().await.expect("request");
    assert!(patched.status().is_success());
    let refused = invite(&owner, json!({"admin_uid": owner.uid, "add_uid": invitee.uid, "gid": group.gid})).await;
    assert_eq!(error_code(refused, StatusCode::FORBIDDEN).await, "forbidden_by_privacy");
    let shared_group = create_group(&owner, "lobby", "open").await;
    join(&invitee, shared_group.gid).await;
    let sent = invite(&owner, json!({"admin_uid": owner.uid, "add_uid": invitee.uid, "gid": group.gid})).await;
    assert_eq!(sent.status(), StatusCode::CREATED);
}
}

store_test! {
async fn a_member_who_joins_later_sees_history_from_the_join_point_on() {
    let app = TestApp::spawn().await;
    let owner = app.guest().await;
    let early = app.guest().await;
    let late = app.guest().await;
    let group = open_group_with(&owner, &[&early]).await;
    for i in 1..=3 {
        ok_json::<SendAck>(send_to_group(&owner, group.gid, &format!("old{i}"), &format!("old {i}")).await).await;
    }
    join(&late, group.gid).await;
    let late_head = late.me().await.cursor;
    let ack: SendAck = ok_json(send_to_group(&early, group.gid, "new1", "new 1").await).await;
    assert_eq!(ack.seq, Seq(4));
    assert_eq!(ack.conversation, group.conversation);

    let page = late.history(&group.conversation, "").await;
    let contents: Vec<&str> = page.messages.iter().map(|m| m.content.as_str()).collect();
    assert_eq!(contents, ["new 1"]);
    assert!(!page.has_more);
    let gap = late.history(&group.conversation, "after_seq=0").await;
    assert_eq!(gap.messages.iter().map(|m| m.seq.0).collect::<Vec<_>>(), [4]);
    let events = all_events(&late, late_head).await;
    assert_eq!(crate::helpers::contents(&shared::EventBatch { cursor: Cursor(0), events, reset: false }), ["new 1"]);
    let summary = &late.conversations().await.conversations[0];
    assert_eq!((summary.max_seq, summary.unread), (Seq(4), 1), "unread counts only what they can see");

    let full = early.history(&group.conversation, "").await;
    assert_eq!(full.messages.len(), 4);
}
}

store_test! {
async fn group_messages_from_concurrent_members_reach_every_member_once_in_gapless_seq_order() {
    let app = TestApp::spawn().await;
    let owner = app.guest().await;
    let mut others = Vec::new();
    for _ in 0..7 {
        others.push(app.guest().await);
    }
    let refs: Vec<&Guest> = others.iter().collect();
    let group = open_group_with(&owner, &refs).await;
    let mut everyone = vec![owner.clone()];
    everyone.extend(others.iter().cloned());
    let heads: Vec<Cursor> = join_all(everyone.iter().map(|g| async move { g.me().await.cursor })).await;

    const EACH: usize = 20;
    let mut sends = Vec::new();
    for i in 0..EACH {
        for member in &everyone {
            let member = member.clone();
            let gid = group.gid;
            sends.push(tokio::spawn(async move {
                let id = format!("{}-{i}", member.uid);
                ok_json::<SendAck>(send_to_group(&member, gid, &id, &id).await).await
            }));
        }
    }
    // A stranger's sends fail alone, whatever batch they share.
    let stranger = app.guest().await;
    let mut refused = Vec::new();
    for i in 0..5 {
        let stranger = stranger.clone();
        let gid = group.gid;
        refused.push(tokio::spawn(async move {
            error_code(send_to_group(&stranger, gid, &format!("s{i}"), "let me in").await, StatusCode::FORBIDDEN).await
        }));
    }
    let acks: Vec<SendAck> = join_all(sends).await.into_iter().map(|r| r.expect("task")).collect();
    for code in join_all(refused).await {
        assert_eq!(code.expect("task"), "not_a_member");
    }
    let total = EACH * everyone.len();
    let mut seqs: Vec<i64> = acks.iter().map(|a| a.seq.0).collect();
    seqs.sort_unstable();
    assert_eq!(seqs, (1..=total as i64).collect::<Vec<_>>());

    for (member, head) in everyone.iter().zip(heads) {
        let seen: Vec<i64> = all_events(member, head)
            .await
            .into_iter()
            .filter_map(|e| match e {
                Event::Message { message } => Some(message.seq.0),
                _ => None,
            })
            .collect();
        assert_eq!(seen, (1..=total as i64).collect::<Vec<_>>(), "uid {}", member.uid);
        let summary = &member.conversations().await.conversations[0];
        assert_eq!(summary.max_seq, Seq(total as i64));
    }
    let history = owner.history(&group.conversation, "after_seq=0&limit=100").await;
    assert!(history.messages.iter().all(|m| m.content != "let me in"));
    assert!(all_events(&stranger, Cursor(0)).await.is_empty());
}
}

store_test! {
async fn a_retried_group_send_returns_the_first_message() {
    let app = TestApp::spawn().await;
    let owner = app.guest().await;
    let member = app.guest().await;
    let group = open_group_with(&owner, &[&member]).await;
    let head = member.me().await.cursor;
    let first: SendAck = ok_json(send_to_group(&owner, group.gid, "retry", "hello").await).await;
    let retry: SendAck = ok_json(send_to_group(&owner, group.gid, "retry", "changed").await).await;
    assert_eq!(first, retry);
    let events = all_events(&member, head).await;
    assert_eq!(events.len(), 1);
    let page = member.history(&group.conversation, "").await;
    assert_eq!(page.messages.len(), 1);
    assert_eq!(page.messages[0].content, "hello");
    let read = &owner.conversations().await.conversations[0];
    assert_eq!((read.read_seq, read.unread), (Seq(1), 0), "the sender's read position moved");
}
}

store_test! {
async fn strangers_cannot_send_to_or_read_a_group_and_unknown_groups_are_not_found() {
    let app = TestApp::spawn().await;
    let owner = app.guest().await;
    let stranger = app.guest().await;
    let group = create_group(&owner, "private", "approval").await;
    ok_json::<SendAck>(send_to_group(&owner, group.gid, "1", "members only").await).await;
    let send = send_to_group(&stranger, group.gid, "1", "hi").await;
    assert_eq!(error_code(send, StatusCode::FORBIDDEN).await, "not_a_member");
    assert_eq!(
        error_code(stranger.history_raw(&group.conversation, "").await, StatusCode::NOT_FOUND).await,
        "conversation_not_found"
    );
    assert_eq!(
        error_code(stranger.read_raw(&group.conversation, 1).await, StatusCode::NOT_FOUND).await,
        "conversation_not_found"
    );
    let unknown = send_to_group(&stranger, GroupId(999_999), "2", "hi").await;
    assert_eq!(error_code(unknown, StatusCode::NOT_FOUND).await, "group_not_found");
    let empty = send_to_group(&owner, group.gid, "3", "   ").await;
    assert_eq!(error_code(empty, StatusCode::BAD_REQUEST).await, "content_empty");
    assert_eq!(owner.history(&group.conversation, "").await.messages.len(), 1);
}
}

store_test! {
async fn the_group_list_version_bumps_on_create_join_leave_remove_and_dissolve() {
    let app = TestApp::spawn().await;
    let owner = app.guest().await;
    let member = app.guest().await;
    let g1 = create_group(&owner, "one", "open").await;
    let g2 = create_group(&owner, "two", "open").await;
    assert_eq!(group_list_versions(&all_events(&owner, Cursor(0)).await), [1, 2]);

    join(&member, g1.gid).await;
    join(&member, g2.gid).await;
    let left = member.post(&format!("/api/groups/{}/leave", g1.gid)).send().await.expect("request");
    assert_eq!(left.status(), StatusCode::NO_CONTENT);
    join(&member, g1.gid).await;
    assert_eq!(remove(&owner, g1.gid, member.uid).await.status(), StatusCode::NO_CONTENT);
    let dissolved = owner.delete(&format!("/api/groups/{}", g2.gid)).send().await.expect("request");
    assert_eq!(dissolved.status(), StatusCode::NO_CONTENT);
    assert_eq!(group_list_versions(&all_events(&member, Cursor(0)).await), [1, 2, 3, 4, 5, 6]);
    assert_eq!(group_list_versions(&all_events(&owner, Cursor(0)).await), [1, 2, 3]);
}
}

store_test! {
async fn dissolving_a_group_takes_it_from_every_member_and_only_the_owner_may() {
    let app = TestApp::spawn().await;
    let owner = app.guest().await;
    let admin = app.guest().await;
    let member = app.guest().await;
    let invitee = app.guest().await;
    let group = open_group_with(&owner, &[&admin, &member]).await;
    ok_json::<GroupMembers>(set_role(&owner, group.gid, admin.uid, "admin").await).await;
    ok_json::<SendAck>(send_to_group(&member, group.gid, "1", "bye soon").await).await;
    let pending: GroupInvite = ok_json(
        invite(&admin, json!({"admin_uid": admin.uid, "add_uid": invitee.uid, "gid": group.gid})).await,
    )
    .await;
    let path = format!("/api/groups/{}", group.gid);
    for guest in [&admin, &member] {
        let refused = guest.delete(&path).send().await.expect("request");
        assert_eq!(error_code(refused, StatusCode::FORBIDDEN).await, "insufficient_role");
    }
    let head = member.me().await.cursor;
    let gone = owner.delete(&path).send().await.expect("request");
    assert_eq!(gone.status(), StatusCode::NO_CONTENT);

    let events = all_events(&member, head).await;
    assert_eq!(group_list_versions(&events), [2]);
    assert!(events.iter().any(|e| matches!(e, Event::Group { gid, .. } if *gid == group.gid)));
    for guest in [&owner, &admin, &member] {
        assert!(guest.conversations().await.conversations.is_empty());
        assert_eq!(
            error_code(guest.history_raw(&group.conversation, "").await, StatusCode::NOT_FOUND).await,
            "conversation_not_found"
        );
        let send = send_to_group(guest, group.gid, "after", "anyone?").await;
        assert_eq!(error_code(send, StatusCode::NOT_FOUND).await, "group_not_found");
    }
    let info = owner.get(&path).send().await.expect("request");
    assert_eq!(error_code(info, StatusCode::NOT_FOUND).await, "group_not_found");
    let again = owner.delete(&path).send().await.expect("request");
    assert_eq!(error_code(again, StatusCode::NOT_FOUND).await, "group_not_found");
    let join = invitee.post_json(&format!("{path}/join"), json!({})).await;
    assert_eq!(error_code(join, StatusCode::NOT_FOUND).await, "group_not_found");
    let accept = invitee.post_json(&format!("/api/groups/invites/{}/accept", pending.id), json!({})).await;
    assert_eq!(error_code(accept, StatusCode::NOT_FOUND).await, "request_not_found");
}
}
