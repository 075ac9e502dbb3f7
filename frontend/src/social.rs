//! Contacts and groups: the versioned friend and group lists with their details (profiles, group
//! infos), cached in localStorage and kept current incrementally; friend requests, blocks,
//! presence, group invitations and join requests; and the events that change them.
//!
//! The lists: the client holds each list's version. On start, after a stream reset, and whenever
//! a `list_changed` event names a newer version, `POST /api/lists/sync` with the held versions
//! answers `unchanged`, a delta, or a `reset` (the whole list). Details are fetched lazily with
//! `POST /api/users/batch` / `POST /api/groups/batch`, sending the `time` of every copy held, so
//! the server sends only what changed. `profile` and `group` events invalidate one entry.

use crate::api::{self, ClientError};
use crate::state::{ChatKey, GroupLists, Store};
use crate::util;
use leptos::prelude::*;
use leptos::task::spawn_local;
use serde::{Deserialize, Serialize};
use shared::contacts::{
    BatchRequest, BlockList, BlockUser, FriendRequest, FriendRequestOutcome, FriendRequests,
    KnownItem, ListDelta, ListSync, ListVersions, PresenceList, Profile, ProfileBatch,
    RequestState,
};
use shared::groups::{
    GroupBatch, GroupInfo, GroupInvite, GroupInvites, GroupJoinRequest, GroupJoinRequests,
    GroupMembers,
};
use shared::{ErrorCode, Event, GroupId, Millis, UserId};

/// What is kept in localStorage per user: the lists, their versions, and the details.
#[derive(Default, Serialize, Deserialize)]
struct ListCache {
    #[serde(default)]
    versions: ListVersions,
    #[serde(default)]
    friends: Vec<UserId>,
    #[serde(default)]
    groups: Vec<GroupId>,
    #[serde(default)]
    profiles: Vec<Profile>,
    #[serde(default)]
    group_infos: Vec<GroupInfo>,
}

/// Profiles of non-friends kept in the cache at most (senders in groups, requesters).
const MAX_OTHER_PROFILES: usize = 300;

fn cache_key(uid: UserId) -> String {
    format!("courier.lists.{uid}")
}

/// Reads the cached lists and details of `uid` into the store.
fn load_cache(store: Store, uid: UserId) {
    let cache: ListCache = util::storage_get(&cache_key(uid))
        .and_then(|text| serde_json::from_str(&text).ok())
        .unwrap_or_default();
    store.versions.set_value(cache.versions);
    store.friends.set(cache.friends);
    store.groups.set(cache.groups);
    store
        .profiles
        .set(cache.profiles.into_iter().map(|p| (p.uid, p)).collect());
    store
        .group_infos
        .set(cache.group_infos.into_iter().map(|g| (g.gid, g)).collect());
}

/// Writes the lists, their versions and the details to localStorage.
fn save_cache(store: Store) {
    let Some(uid) = store.my_uid() else {
        return;
    };
    let friends = store.friends.get_untracked();
    let groups = store.groups.get_untracked();
    let mut others = 0;
    let profiles = store.profiles.with_untracked(|p| {
        p.values()
            .filter(|p| {
                friends.contains(&p.uid) || {
                    others += 1;
                    others <= MAX_OTHER_PROFILES
                }
            })
            .cloned()
            .collect()
    });
    let group_infos = store.group_infos.with_untracked(|g| {
        g.values()
            .filter(|g| groups.contains(&g.gid))
            .cloned()
            .collect()
    });
    let cache = ListCache {
        versions: store.versions.get_value(),
        friends,
        groups,
        profiles,
        group_infos,
    };
    if let Ok(text) = serde_json::to_string(&cache) {
        util::storage_set(&cache_key(uid), &text);
    }
}

/// After sign-in: the cached lists at once, then the server's changes, requests, invitations,
/// blocks and presence. Also picks up an opened invite link (`?add=CODE`, `?join=GID`).
pub fn start(store: Store, uid: UserId) {
    take_invite_link(store);
    load_cache(store, uid);
    spawn_local(reload_all(store));
}

/// Re-reads everything (on start, and after the event stream was reset): the list deltas with
/// every held detail revalidated, pending requests and invitations, blocks and presence.
pub async fn reload_all(store: Store) {
    store.fetching.set_value(Default::default());
    sync_lists(store, true).await;
    let requests = api::get::<FriendRequests>("/api/friends/requests");
    let invites = api::get::<GroupInvites>("/api/groups/invites");
    match requests.await {
        Ok(requests) => {
            want_profiles(
                store,
                requests
                    .incoming
                    .iter()
                    .map(|r| r.from)
                    .chain(requests.outgoing.iter().map(|r| r.to))
                    .collect(),
            );
            store.friend_requests.set(requests);
        }
        Err(error) => store.show_error(format!("Cannot load friend requests: {error}")),
    }
    match invites.await {
        Ok(invites) => store.group_invites.set(invites),
        Err(error) => store.show_error(format!("Cannot load group invitations: {error}")),
    }
    reload_blocks(store).await;
    reload_presence(store).await;
    // Views that were open re-read what they show.
    let loaded: Vec<GroupId> = store
        .group_lists
        .with_untracked(|GroupLists { members: m, .. }| m.keys().copied().collect());
    for gid in loaded {
        spawn_local(load_members(store, gid));
    }
    if let Some(gid) = store.selected_group.get_untracked() {
        spawn_local(load_join_requests(store, gid));
    }
}

fn take_invite_link(store: Store) {
    if let Some(code) = util::query_param("add").filter(|c| !c.trim().is_empty()) {
        store.pending_add.set(Some(code.trim().to_owned()));
        store.go(crate::state::Tab::Contacts);
    } else if let Some(gid) = util::query_param("join").and_then(|g| g.trim().parse().ok()) {
        store.pending_join.set(Some(GroupId(gid)));
        store.go(crate::state::Tab::Groups);
    }
}

/// `GET /api/blocks`.
pub async fn reload_blocks(store: Store) {
    match api::get::<BlockList>("/api/blocks").await {
        Ok(list) => {
            want_profiles(store, list.uids.clone());
            store.blocks.set(list.uids);
        }
        Err(error) => store.show_error(format!("Cannot load blocked users: {error}")),
    }
}

/// `GET /api/presence`; a server without it (404) leaves presence unknown, shown as nothing.
async fn reload_presence(store: Store) {
    match api::get::<PresenceList>("/api/presence").await {
        Ok(list) => store.presence.set(Some(list.online.into_iter().collect())),
        Err(error) if error.is(ErrorCode::NotFound) => store.presence.set(None),
        Err(error) => store.show_error(format!("Cannot load who is online: {error}")),
    }
}

/// Brings the lists up to date (`POST /api/lists/sync`), then fetches the details they lack;
/// with `revalidate`, also asks whether every held detail is still current. Concurrent calls
/// collapse into one more run.
pub async fn sync_lists(store: Store, revalidate: bool) {
    let busy = store.list_sync.with_value(|(running, _, _)| *running);
    if busy {
        store.list_sync.update_value(|(_, again, full)| {
            *again = true;
            *full |= revalidate;
        });
        return;
    }
    store.list_sync.set_value((true, false, false));
    let mut revalidate = revalidate;
    loop {
        if let Err(error) = sync_once(store, revalidate).await {
            store.show_error(format!("Cannot update your contacts and groups: {error}"));
        }
        let (_, again, full) = store.list_sync.get_value();
        if !again {
            break;
        }
        revalidate = full;
        store.list_sync.set_value((true, false, false));
    }
    store.list_sync.set_value((false, false, false));
}

/// The shape of a list answer, for `window.courierDebug.lastListSync`.
fn shape<T>(delta: &ListDelta<T>) -> String {
    if delta.unchanged {
        "unchanged".to_owned()
    } else if delta.reset {
        format!("reset+{}", delta.added.len())
    } else {
        format!("delta+{}-{}", delta.added.len(), delta.removed.len())
    }
}

/// Applies a list answer to the ids held. Returns whether anything changed.
pub fn apply_delta<T: PartialEq + Copy>(held: &mut Vec<T>, delta: &ListDelta<T>) -> bool {
    if delta.unchanged {
        return false;
    }
    let before = held.clone();
    if delta.reset {
        held.clear();
    } else {
        held.retain(|id| !delta.removed.contains(id));
    }
    for id in &delta.added {
        if !held.contains(id) {
            held.push(*id);
        }
    }
    *held != before
}

async fn sync_once(store: Store, revalidate: bool) -> Result<(), ClientError> {
    let versions = store.versions.get_value();
    let answer: ListSync = api::post("/api/lists/sync", &versions).await?;
    let mut friends = store.friends.get_untracked();
    let mut groups = store.groups.get_untracked();
    if apply_delta(&mut friends, &answer.friend_list) {
        store.friends.set(friends);
    }
    if apply_delta(&mut groups, &answer.group_list) {
        store.groups.set(groups);
        if answer.group_list.reset || !answer.group_list.removed.is_empty() {
            // Group conversations left behind leave the conversation list too.
            spawn_local(crate::actions::reload_conversations(store));
        }
    }
    store.versions.set_value(ListVersions {
        friend_list: answer.friend_list.version,
        group_list: answer.group_list.version,
    });
    save_cache(store);
    store.lists_synced.set(true);

    fetch_details(store, revalidate).await;
    util::debug_set(
        "lastListSync",
        format!(
            "friend:{} group:{}",
            shape(&answer.friend_list),
            shape(&answer.group_list)
        )
        .into(),
    );
    util::debug_add("listSyncs", 1.0);
    Ok(())
}

/// Fetches the details of list entries that have none; with `revalidate`, also sends the `time`
/// of every held profile and group, so the server answers only those that changed.
async fn fetch_details(store: Store, revalidate: bool) {
    let friends = store.friends.get_untracked();
    let groups = store.groups.get_untracked();
    let profile_items: Vec<KnownItem> = store.profiles.with_untracked(|held| {
        let mut items: Vec<KnownItem> = friends
            .iter()
            .filter(|uid| revalidate || !held.contains_key(uid))
            .map(|uid| KnownItem {
                id: uid.0,
                time: held.get(uid).map(|p| p.time),
            })
            .collect();
        if revalidate {
            items.extend(
                held.values()
                    .filter(|p| !friends.contains(&p.uid))
                    .map(|p| KnownItem {
                        id: p.uid.0,
                        time: Some(p.time),
                    }),
            );
        }
        items
    });
    let group_items: Vec<KnownItem> = store.group_infos.with_untracked(|held| {
        groups
            .iter()
            .filter(|gid| revalidate || !held.contains_key(gid))
            .map(|gid| KnownItem {
                id: gid.0,
                time: held.get(gid).map(|g| g.time),
            })
            .collect()
    });
    // Groups no longer in the list are forgotten.
    store
        .group_infos
        .update(|held| held.retain(|gid, _| groups.contains(gid)));
    fetch_profiles(store, profile_items).await;
    fetch_groups(store, group_items).await;
    crate::actions::attach_drafts(store);
}

/// Fetches the profiles of these users that this tab does not hold yet (in the background).
pub fn want_profiles(store: Store, uids: Vec<UserId>) {
    let Some(me) = store.my_uid() else {
        return;
    };
    let items: Vec<KnownItem> = store.profiles.with_untracked(|held| {
        store.fetching.with_value(|(users, _)| {
            let mut items: Vec<KnownItem> = Vec::new();
            for uid in uids {
                if uid != me
                    && !held.contains_key(&uid)
                    && !users.contains(&uid)
                    && !items.iter().any(|i| i.id == uid.0)
                {
                    items.push(KnownItem {
                        id: uid.0,
                        time: None,
                    });
                }
            }
            items
        })
    });
    if !items.is_empty() {
        spawn_local(fetch_profiles(store, items));
    }
}

/// Fetches the details of these groups that this tab does not hold yet (in the background).
pub fn want_groups(store: Store, gids: Vec<GroupId>) {
    let items: Vec<KnownItem> = store.group_infos.with_untracked(|held| {
        store.fetching.with_value(|(_, groups)| {
            gids.into_iter()
                .filter(|gid| !held.contains_key(gid) && !groups.contains(gid))
                .map(|gid| KnownItem {
                    id: gid.0,
                    time: None,
                })
                .collect()
        })
    });
    if !items.is_empty() {
        spawn_local(fetch_groups(store, items));
    }
}

/// `POST /api/users/batch` in chunks of at most `MAX_BATCH_IDS`.
async fn fetch_profiles(store: Store, items: Vec<KnownItem>) {
    for chunk in items.chunks(shared::contacts::MAX_BATCH_IDS) {
        store.fetching.update_value(|(users, _)| {
            users.extend(chunk.iter().map(|i| UserId(i.id)));
        });
        let answer: Result<ProfileBatch, _> = api::post(
            "/api/users/batch",
            &BatchRequest {
                items: chunk.to_vec(),
            },
        )
        .await;
        store.fetching.update_value(|(users, _)| {
            for item in chunk {
                users.remove(&UserId(item.id));
            }
        });
        util::debug_add("userBatches", 1.0);
        match answer {
            Ok(batch) => {
                util::debug_add("profilesReceived", batch.profiles.len() as f64);
                if !batch.profiles.is_empty() {
                    store.profiles.update(|held| {
                        for profile in batch.profiles {
                            held.insert(profile.uid, profile);
                        }
                    });
                    save_cache(store);
                }
            }
            Err(error) => store.show_error(format!("Cannot load profiles: {error}")),
        }
    }
}

/// `POST /api/groups/batch` in chunks of at most `MAX_BATCH_IDS`.
async fn fetch_groups(store: Store, items: Vec<KnownItem>) {
    for chunk in items.chunks(shared::contacts::MAX_BATCH_IDS) {
        store.fetching.update_value(|(_, groups)| {
            groups.extend(chunk.iter().map(|i| GroupId(i.id)));
        });
        let answer: Result<GroupBatch, _> = api::post(
            "/api/groups/batch",
            &BatchRequest {
                items: chunk.to_vec(),
            },
        )
        .await;
        store.fetching.update_value(|(_, groups)| {
            for item in chunk {
                groups.remove(&GroupId(item.id));
            }
        });
        util::debug_add("groupBatches", 1.0);
        match answer {
            Ok(batch) => {
                util::debug_add("groupsReceived", batch.groups.len() as f64);
                if !batch.groups.is_empty() {
                    for group in batch.groups {
                        put_group(store, group);
                    }
                    save_cache(store);
                    crate::actions::attach_drafts(store);
                }
            }
            Err(error) => store.show_error(format!("Cannot load groups: {error}")),
        }
    }
}

/// Stores a group's details (newer `time` wins).
pub fn put_group(store: Store, group: GroupInfo) {
    store.group_infos.update(|held| {
        let newer = held.get(&group.gid).is_none_or(|g| g.time <= group.time);
        if newer {
            held.insert(group.gid, group);
        }
    });
}

/// Refetches one profile when the event's `time` differs from the held copy.
fn profile_changed(store: Store, uid: UserId, time: Millis) {
    if Some(uid) == store.my_uid() {
        spawn_local(async move {
            match api::me().await {
                Ok(me) => store.me.set(Some(me)),
                Err(error) => store.show_error(format!("Cannot reload your profile: {error}")),
            }
        });
        return;
    }
    let held = store
        .profiles
        .with_untracked(|p| p.get(&uid).map(|p| p.time));
    let wanted = held.is_some() || store.friends.with_untracked(|f| f.contains(&uid));
    if wanted && held != Some(time) {
        spawn_local(fetch_profiles(
            store,
            vec![KnownItem {
                id: uid.0,
                time: held,
            }],
        ));
    }
}

/// Refetches one group's details when the event's `time` differs from the held copy.
fn group_changed(store: Store, gid: GroupId, time: Millis) {
    let held = store
        .group_infos
        .with_untracked(|g| g.get(&gid).map(|g| g.time));
    let wanted = held.is_some()
        || store.groups.with_untracked(|g| g.contains(&gid))
        || store.pending_join.get_untracked() == Some(gid);
    if wanted && held != Some(time) {
        spawn_local(fetch_groups(
            store,
            vec![KnownItem {
                id: gid.0,
                time: held,
            }],
        ));
    }
}

/// Puts a friend request in the incoming or outgoing list while it is pending, and takes it out
/// once answered.
pub fn upsert_friend_request(store: Store, request: FriendRequest) {
    let Some(me) = store.my_uid() else {
        return;
    };
    let other = if request.from == me {
        request.to
    } else {
        request.from
    };
    store.friend_requests.update(|lists| {
        lists.incoming.retain(|r| r.id != request.id);
        lists.outgoing.retain(|r| r.id != request.id);
        if request.state == RequestState::Pending {
            if request.to == me {
                lists.incoming.insert(0, request);
            } else {
                lists.outgoing.insert(0, request);
            }
        }
    });
    want_profiles(store, vec![other]);
}

/// Same for a group invitation to me; the ones I sent stay listed in any state (the server lists
/// the latest 50), so the inviter sees the answer.
pub fn upsert_group_invite(store: Store, invite: GroupInvite) {
    let Some(me) = store.my_uid() else {
        return;
    };
    store.group_invites.update(|lists| {
        lists.incoming.retain(|i| i.id != invite.id);
        if invite.add_uid == me {
            if invite.state == RequestState::Pending {
                lists.incoming.insert(0, invite);
            }
        } else if let Some(held) = lists.outgoing.iter_mut().find(|i| i.id == invite.id) {
            *held = invite;
        } else {
            lists.outgoing.insert(0, invite);
            lists.outgoing.truncate(50);
        }
    });
}

/// A join request: mine (its latest state, for the join page), or one to a group I manage
/// (listed while pending).
pub fn upsert_join_request(store: Store, request: GroupJoinRequest) {
    if Some(request.uid) == store.my_uid() {
        store.group_lists.update(
            |GroupLists {
                 my_join_requests: mine,
                 ..
             }| drop(mine.insert(request.gid, request)),
        );
        return;
    }
    store.group_lists.update(
        |GroupLists {
             join_requests: all, ..
         }| {
            let list = all.entry(request.gid).or_default();
            list.retain(|r| r.id != request.id);
            if request.state == RequestState::Pending {
                list.push(request);
            }
        },
    );
}

/// Applies the events of contacts and groups. Returns the events it does not handle.
pub fn apply_event(store: Store, event: Event) -> Option<Event> {
    match event {
        Event::FriendRequest { request } => upsert_friend_request(store, request),
        Event::ListChanged { list, version } => {
            let held = store.versions.with_value(|v| match list {
                shared::contacts::ListKind::Friend => v.friend_list,
                shared::contacts::ListKind::Group => v.group_list,
            });
            if version != held {
                spawn_local(sync_lists(store, false));
            }
        }
        Event::Profile { uid, time } => profile_changed(store, uid, time),
        Event::Presence { uid, online } => store.presence.update(|p| {
            let set = p.get_or_insert_with(Default::default);
            if online {
                set.insert(uid);
            } else {
                set.remove(&uid);
            }
        }),
        Event::GroupInvite { invite } => upsert_group_invite(store, invite),
        Event::GroupJoinRequest { request } => upsert_join_request(store, request),
        Event::Group { gid, time } => group_changed(store, gid, time),
        Event::GroupMembers { gid } => {
            if store
                .group_lists
                .with_untracked(|GroupLists { members: m, .. }| m.contains_key(&gid))
            {
                spawn_local(load_members(store, gid));
            }
        }
        other => return Some(other),
    }
    None
}

/// `GET /api/groups/{gid}/members` into the store.
pub async fn load_members(store: Store, gid: GroupId) {
    match api::get::<GroupMembers>(&format!("/api/groups/{gid}/members")).await {
        Ok(list) => {
            // Member nicks seed the profile cache's fallback for senders.
            store
                .group_lists
                .update(|GroupLists { members: m, .. }| drop(m.insert(gid, list.members)));
        }
        Err(error) if error.is(ErrorCode::NotAMember) || error.is(ErrorCode::GroupNotFound) => {
            store
                .group_lists
                .update(|GroupLists { members: m, .. }| drop(m.remove(&gid)));
        }
        Err(error) => store.show_error(format!("Cannot load the members: {error}")),
    }
}

/// `GET /api/groups/{gid}/requests` (owner and admins) into the store.
pub async fn load_join_requests(store: Store, gid: GroupId) {
    match api::get::<GroupJoinRequests>(&format!("/api/groups/{gid}/requests")).await {
        Ok(list) => store.group_lists.update(
            |GroupLists {
                 join_requests: all, ..
             }| drop(all.insert(gid, list.requests)),
        ),
        // Plain members may not see them: nothing to show.
        Err(error)
            if error.is(ErrorCode::InsufficientRole)
                || error.is(ErrorCode::NotAMember)
                || error.is(ErrorCode::GroupNotFound) => {}
        Err(error) => store.show_error(format!("Cannot load join requests: {error}")),
    }
}

// ---- Actions started by people. Each returns the error for the view to show next to the button.

/// Sends a friend request by uid or invite code. Returns whether we are friends at once.
pub async fn send_friend_request(
    store: Store,
    to: Option<UserId>,
    code: Option<String>,
    note: String,
) -> Result<bool, ClientError> {
    let outcome: FriendRequestOutcome = api::post(
        "/api/friends/requests",
        &shared::contacts::NewFriendRequest { to, code, note },
    )
    .await?;
    upsert_friend_request(store, outcome.request);
    Ok(outcome.result == shared::contacts::FriendRequestResult::Added)
}

/// Accepts, rejects or cancels a friend request (`verb`).
pub async fn answer_friend_request(store: Store, id: i64, verb: &str) -> Result<(), ClientError> {
    let request: FriendRequest =
        api::post_empty(&format!("/api/friends/requests/{id}/{verb}")).await?;
    upsert_friend_request(store, request);
    Ok(())
}

/// Ends a friendship (both sides).
pub async fn remove_friend(store: Store, uid: UserId) -> Result<(), ClientError> {
    api::delete(&format!("/api/friends/{uid}")).await?;
    store.friends.update(|f| f.retain(|u| *u != uid));
    spawn_local(sync_lists(store, false));
    Ok(())
}

/// Blocks a user (which also ends a friendship and pending requests).
pub async fn block(store: Store, uid: UserId) -> Result<(), ClientError> {
    let _: serde::de::IgnoredAny = api::post("/api/blocks", &BlockUser { uid }).await?;
    store.blocks.update(|b| {
        if !b.contains(&uid) {
            b.push(uid);
        }
    });
    store.friend_requests.update(|r| {
        r.incoming.retain(|q| q.from != uid);
        r.outgoing.retain(|q| q.to != uid);
    });
    spawn_local(sync_lists(store, false));
    Ok(())
}

/// Unblocks a user.
pub async fn unblock(store: Store, uid: UserId) -> Result<(), ClientError> {
    api::delete(&format!("/api/blocks/{uid}")).await?;
    store.blocks.update(|b| b.retain(|u| *u != uid));
    Ok(())
}

/// Creates a group; returns its details (also stored, so the list shows it at once).
pub async fn create_group(
    store: Store,
    body: shared::groups::CreateGroup,
) -> Result<GroupInfo, ClientError> {
    let group: GroupInfo = api::post("/api/groups", &body).await?;
    put_group(store, group.clone());
    store.groups.update(|g| {
        if !g.contains(&group.gid) {
            g.push(group.gid);
        }
    });
    spawn_local(sync_lists(store, false));
    Ok(group)
}

/// Joins a group (`POST /api/groups/{gid}/join`): a member at once, or a pending request.
pub async fn join_group(
    store: Store,
    gid: GroupId,
    note: String,
) -> Result<shared::groups::JoinResult, ClientError> {
    let outcome: shared::groups::JoinOutcome = api::post(
        &format!("/api/groups/{gid}/join"),
        &shared::groups::JoinGroup { note },
    )
    .await?;
    put_group(store, outcome.group);
    match outcome.result {
        shared::groups::JoinResult::Joined => {
            store.groups.update(|g| {
                if !g.contains(&gid) {
                    g.push(gid);
                }
            });
            spawn_local(sync_lists(store, false));
        }
        shared::groups::JoinResult::Pending => {
            if let Some(request) = outcome.request {
                upsert_join_request(store, request);
            }
        }
    }
    Ok(outcome.result)
}

/// Applies the answer of a group write that returns the group.
pub fn group_updated(store: Store, group: GroupInfo) {
    put_group(store, group);
    save_cache(store);
}

/// Forgets a group this user left, was removed from, or dissolved.
pub fn group_gone(store: Store, gid: GroupId) {
    store.groups.update(|g| g.retain(|x| *x != gid));
    store
        .group_lists
        .update(|GroupLists { members: m, .. }| drop(m.remove(&gid)));
    if store.selected_group.get_untracked() == Some(gid) {
        store.selected_group.set(None);
    }
    if store.open_chat.get_untracked() == Some(ChatKey::Group(gid)) {
        store.open_chat.set(None);
    }
    spawn_local(sync_lists(store, false));
    spawn_local(crate::actions::reload_conversations(store));
}

/// My role in a group, from its loaded member list (tracked).
pub fn my_role(store: Store, gid: GroupId) -> Option<shared::groups::GroupRole> {
    let me = store.me.with(|m| m.as_ref().map(|m| m.uid))?;
    store.group_lists.with(|GroupLists { members: m, .. }| {
        m.get(&gid)
            .and_then(|list| list.iter().find(|x| x.uid == me).map(|x| x.role))
    })
}

/// Pending incoming friend requests and invitations, for the tab badges (tracked).
pub fn badge_counts(store: Store) -> (usize, usize) {
    let friends = store.friend_requests.with(|r| r.incoming.len());
    let groups = store.group_invites.with(|i| i.incoming.len())
        + store.group_lists.with(
            |GroupLists {
                 join_requests: all, ..
             }| all.values().map(Vec::len).sum::<usize>(),
        );
    (friends, groups)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn delta(unchanged: bool, reset: bool, added: &[i64], removed: &[i64]) -> ListDelta<UserId> {
        ListDelta {
            version: 9,
            unchanged,
            reset,
            added: added.iter().map(|&i| UserId(i)).collect(),
            removed: removed.iter().map(|&i| UserId(i)).collect(),
        }
    }

    #[test]
    fn a_delta_adds_and_removes_and_a_reset_replaces_the_list() {
        let mut held = vec![UserId(1), UserId(2)];
        assert!(!apply_delta(&mut held, &delta(true, false, &[], &[])));
        assert!(apply_delta(&mut held, &delta(false, false, &[3, 2], &[1])));
        assert_eq!(held, vec![UserId(2), UserId(3)]);
        assert!(apply_delta(&mut held, &delta(false, true, &[7], &[])));
        assert_eq!(held, vec![UserId(7)]);
    }
}
