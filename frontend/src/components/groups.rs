//! The Groups page: joining by link, invitations to me, creating a group, my groups, and the
//! details of one group (settings, members and roles, join requests, invitations, leave and
//! dissolve).

use super::contacts::parse_uid;
use super::ui::{
    ActionButton, CopyField, Field, Form, Input, OnOpen, Row, RowButton, act, chosen, index_of,
    invalid, row,
};
use crate::api::{self, ClientError};
use crate::components::{dynamic, memo};
use crate::social;
use crate::state::{ChatKey, GroupLists, Store, Tab, use_store};
use crate::{actions, util};
use leptos::prelude::*;
use leptos::task::spawn_local;
use shared::contacts::RequestState;
use shared::groups::{
    CreateGroup, GroupInfo, GroupInvite, GroupJoinRequest, GroupMember, GroupMembers, GroupRole,
    InviteAnswer, InviteToGroup, JoinPolicy, JoinResult, SetRole, TransferOwnership, UpdateGroup,
};
use shared::{GroupId, UserId};
use std::sync::Arc;

/// The join policies, in the order of `POLICY_TEXT`.
const POLICIES: [JoinPolicy; 3] = [
    JoinPolicy::Open,
    JoinPolicy::Approval,
    JoinPolicy::InviteOnly,
];

/// The join policies, explained for people.
const POLICY_TEXT: &[(&str, &str)] = &[
    ("Open", "Anyone with the group's link joins at once."),
    (
        "Approval",
        "Anyone with the link can ask to join; an owner or admin lets them in.",
    ),
    (
        "Invite only",
        "People join only when an owner or admin invites them; the link does not work.",
    ),
];

fn policy_label(policy: JoinPolicy) -> &'static str {
    POLICY_TEXT[index_of(&POLICIES, &policy)].0
}

fn policy_help(policy: JoinPolicy) -> &'static str {
    POLICY_TEXT[index_of(&POLICIES, &policy)].1
}

fn role_label(role: GroupRole) -> &'static str {
    match role {
        GroupRole::Owner => "owner",
        GroupRole::Admin => "admin",
        GroupRole::Member => "member",
    }
}

fn group_link(gid: GroupId) -> String {
    format!("{}/?join={gid}", util::origin())
}

/// The whole page: a list column and the selected group's details.
#[component]
pub fn GroupsPage() -> impl IntoView {
    let store = use_store();
    view! {
        <main id="page-groups" class="page" class:hidden=Signal::derive(move || store.tab.get() != Tab::Groups)>
            <div class="page-grid">
                <JoinPrompt />
                <Invitations />
                <GroupList />
                {dynamic(move || store.selected_group.get().map(|gid| view! { <GroupDetail gid /> }))}
                <CreateGroupForm />
            </div>
        </main>
    }
}

/// An opened `?join=GID` link: the group's name and a Join button (or the request's state).
#[component]
fn JoinPrompt() -> impl IntoView {
    let store = use_store();
    dynamic(move || {
        store
            .pending_join
            .get()
            .map(|gid| view! { <JoinCard gid /> })
    })
}

#[component]
fn JoinCard(gid: GroupId) -> impl IntoView {
    let store = use_store();
    let info = RwSignal::new(None::<Result<GroupInfo, String>>);
    let note = RwSignal::new(String::new());
    let joined = RwSignal::new(false);
    spawn_local(async move {
        let answer = api::get::<GroupInfo>(&format!("/api/groups/{gid}")).await;
        info.try_set(Some(answer.map_err(|e| e.to_string())));
    });
    let policy = move || {
        info.with(|i| {
            i.as_ref()
                .and_then(|i| i.as_ref().ok())
                .map(|g| g.join_policy)
        })
    };
    let member = move || joined.get() || store.groups.with(|g| g.contains(&gid));
    let request = move || {
        store.group_lists.with(
            |GroupLists {
                 my_join_requests: m,
                 ..
             }| m.get(&gid).map(|r| r.state),
        )
    };
    let pending = move || request() == Some(RequestState::Pending);
    // Whether the Join button applies (a known group that takes requests or members by link).
    let can_join =
        move || !member() && !pending() && policy().is_some_and(|p| p != JoinPolicy::InviteOnly);
    let status = dynamic(move || {
        if member() {
            "You are a member."
        } else if pending() {
            "Your request waits for an owner or admin to let you in."
        } else if policy() == Some(JoinPolicy::InviteOnly) {
            "Ask an owner or admin of this group to invite you."
        } else if request() == Some(RequestState::Rejected) {
            "Your last request was declined; you can ask again."
        } else {
            ""
        }
    });
    let text = move |f: fn(&GroupInfo) -> String| {
        dynamic(move || {
            info.with(|i| match i {
                None => "Loading the group…".to_owned(),
                Some(Ok(g)) => f(g),
                Some(Err(e)) => e.clone(),
            })
        })
    };
    let close = move |_| {
        store.pending_join.set(None);
        util::clear_query();
    };
    let join = act(move || async move {
        if social::join_group(store, gid, note.get_untracked()).await? == JoinResult::Joined {
            joined.set(true);
        }
        Ok(())
    });
    view! {
        <section id="join-prompt" class="card highlight" data-gid=gid.0.to_string()>
            <h2>"Join a group"</h2>
            <p class="join-group-name row-title">{text(|g| g.gname.clone())}</p>
            <p class="intro">{text(|g| g.intro.clone())}</p>
            <p class="hint">{text(|g| policy_help(g.join_policy).to_owned())}</p>
            <p id="join-status" class="form-ok" data-member=move || member().to_string() data-pending=move || pending().to_string()>
                {status}
            </p>
            <div class="stack" prop:hidden=Signal::derive(move || !can_join())>
                <input
                    id="join-group-note"
                    type="text"
                    placeholder="A note for the admins (optional)"
                    prop:hidden=Signal::derive(move || policy() != Some(JoinPolicy::Approval))
                    prop:value=move || note.get()
                    on:input=move |ev| note.set(event_target_value(&ev))
                />
                <ActionButton id="join-group-send" class="primary" label="Join" action=join />
            </div>
            <div class="button-row">
                <button
                    type="button"
                    class="primary"
                    prop:hidden=Signal::derive(move || !member())
                    on:click=move |_| actions::open_chat(store, ChatKey::Group(gid))
                >
                    "Open the chat"
                </button>
                <button id="join-close" type="button" class="secondary" on:click=close>
                    "Close"
                </button>
            </div>
        </section>
    }
}

/// Invitations to me (accept or decline, with an optional answer) and the ones I sent.
#[component]
fn Invitations() -> impl IntoView {
    let store = use_store();
    let incoming = dynamic(move || {
        store.group_invites.with(|i| {
            i.incoming
                .iter()
                .map(|invite| row(invite_row(store, invite)))
                .collect::<Vec<_>>()
        })
    });
    let outgoing = dynamic(move || {
        store.group_invites.with(|i| {
            i.outgoing
                .iter()
                .map(|invite| {
                    row(Row {
                        kind: "sent-invite",
                        id: Some(invite.id),
                        gid: Some(invite.gid),
                        uid: Some(invite.add_uid),
                        title: store
                            .nick_of(invite.add_uid)
                            .unwrap_or_else(|| format!("uid {}", invite.add_uid)),
                        sub: {
                            let state = match invite.state {
                                RequestState::Pending => "waiting",
                                RequestState::Accepted => "accepted",
                                RequestState::Rejected => "declined",
                                RequestState::Cancelled => "cancelled",
                            };
                            let answer = invite
                                .result
                                .as_ref()
                                .map(|r| format!(" — “{r}”"))
                                .unwrap_or_default();
                            format!("invited to {} · {state}{answer}", invite.gname)
                        },
                        ..Row::default()
                    })
                })
                .collect::<Vec<_>>()
        })
    });
    let none = dynamic(move || {
        store
            .group_invites
            .with(|i| i.incoming.is_empty())
            .then(|| view! { <p class="empty-note">"No invitations for you."</p> })
    });
    view! {
        <section
            id="group-invitations"
            class="card"
            prop:hidden=Signal::derive(move || {
                store.group_invites.with(|i| i.incoming.is_empty() && i.outgoing.is_empty())
            })
        >
            <h2>"Invitations"</h2>
            <ul id="group-invites" class="rows">
                {incoming}
            </ul>
            {none}
            <h3 prop:hidden=Signal::derive(move || store.group_invites.with(|i| i.outgoing.is_empty()))>
                "Sent by you"
            </h3>
            <ul id="sent-invites" class="rows">
                {outgoing}
            </ul>
        </section>
    }
}

fn invite_row(store: Store, invite: &GroupInvite) -> Row {
    let id = invite.id;
    let gid = invite.gid;
    let answer = RwSignal::new(String::new());
    let respond = move |verb: &'static str| {
        act(move || async move {
            let text = answer.get_untracked();
            let body = InviteAnswer {
                result: (!text.trim().is_empty()).then_some(text),
            };
            let updated: GroupInvite =
                api::post(&format!("/api/groups/invites/{id}/{verb}"), &body).await?;
            let accepted = updated.state == RequestState::Accepted;
            social::upsert_group_invite(store, updated);
            if accepted {
                social::want_groups(store, vec![gid]);
                spawn_local(social::sync_lists(store, false));
            }
            Ok(())
        })
    };
    Row {
        kind: "group-invite",
        id: Some(id),
        gid: Some(gid),
        title: invite.gname.clone(),
        sub: format!("{} invites you", invite.admin_nick),
        answer: Some(answer),
        buttons: vec![
            RowButton::new("Accept", "invite-accept primary", respond("accept")),
            RowButton::new("Decline", "invite-decline", respond("decline")),
        ],
        ..Row::default()
    }
}

/// My groups; a click opens the group's chat, "Details" its settings.
#[component]
fn GroupList() -> impl IntoView {
    let store = use_store();
    let groups = dynamic(move || {
        let selected = store.selected_group.get();
        store
            .groups
            .get()
            .into_iter()
            .map(|gid| {
                let info = store.group_infos.with(|g| g.get(&gid).cloned());
                let sub = info.map_or_else(String::new, |g| {
                    if g.dissolved {
                        "dissolved".to_owned()
                    } else {
                        policy_label(g.join_policy).to_owned()
                    }
                });
                let open: OnOpen = Arc::new(move || actions::open_chat(store, ChatKey::Group(gid)));
                let toggle = act(move || async move {
                    store
                        .selected_group
                        .update(|s| *s = if *s == Some(gid) { None } else { Some(gid) });
                    Ok(())
                });
                row(Row {
                    kind: "group-item",
                    gid: Some(gid),
                    title: store
                        .group_name(gid)
                        .unwrap_or_else(|| format!("group {gid}")),
                    sub,
                    active: selected == Some(gid),
                    open: Some(open),
                    buttons: vec![RowButton::new(
                        if selected == Some(gid) {
                            "Hide details"
                        } else {
                            "Details"
                        },
                        "group-details secondary",
                        toggle,
                    )],
                    ..Row::default()
                })
            })
            .collect::<Vec<_>>()
    });
    let empty = dynamic(move || {
        store.groups.with(Vec::is_empty).then(|| {
            let text = if store.lists_synced.get() {
                "You are in no group yet — create one below, or open a group's link."
            } else {
                "Loading…"
            };
            view! { <p class="empty-note">{text}</p> }
        })
    });
    view! {
        <section id="my-groups" class="card">
            <h2>"My groups"</h2>
            <p class="hint">"Click a group to open its chat."</p>
            <ul id="group-list" class="rows">
                {groups}
            </ul>
            {empty}
        </section>
    }
}

/// The form that creates a group.
#[component]
fn CreateGroupForm() -> impl IntoView {
    let store = use_store();
    let name = RwSignal::new(String::new());
    let intro = RwSignal::new(String::new());
    let policy = RwSignal::new(index_of(&POLICIES, &JoinPolicy::default()).to_string());
    let ok = RwSignal::new(None::<String>);
    let submit = act(move || async move {
        let gname = name.get_untracked();
        if gname.trim().is_empty() {
            return invalid("Give the group a name.");
        }
        let body = CreateGroup {
            gname,
            intro: intro.get_untracked(),
            join_policy: POLICIES[chosen(policy).min(POLICIES.len() - 1)],
        };
        let group = social::create_group(store, body).await?;
        name.set(String::new());
        intro.set(String::new());
        store.selected_group.set(Some(group.gid));
        Ok(())
    });
    let fields = vec![
        Field::new(
            "group-name",
            "Name",
            Input::Text("", shared::groups::MAX_GNAME_CHARS),
            name,
        ),
        Field::new(
            "group-intro",
            "Introduction (optional)",
            Input::Area(shared::groups::MAX_INTRO_CHARS),
            intro,
        ),
        Field::new(
            "group-policy",
            "Who can join",
            Input::Select(POLICY_TEXT),
            policy,
        ),
    ];
    view! {
        <section id="create-group" class="card">
            <h2>"Create a group"</h2>
            <Form
                id="create-group-form"
                fields
                submit_id="create-group-submit"
                submit_label="Create group"
                submit
                ok
            />
        </section>
    }
}

/// One group's details: what everyone sees, and the settings of owners and admins.
#[component]
fn GroupDetail(gid: GroupId) -> impl IntoView {
    let store = use_store();
    social::want_groups(store, vec![gid]);
    spawn_local(async move {
        social::load_members(store, gid).await;
        if matches!(
            social::my_role(store, gid),
            Some(GroupRole::Owner | GroupRole::Admin)
        ) {
            social::load_join_requests(store, gid).await;
        }
    });
    let info = memo(move || store.group_infos.with(|g| g.get(&gid).cloned()));
    let role = memo(move || social::my_role(store, gid));
    let manager = move || matches!(role.get(), Some(GroupRole::Owner | GroupRole::Admin));
    let owner = move || role.get() == Some(GroupRole::Owner);

    let leave = act(move || async move {
        api::post_empty::<serde::de::IgnoredAny>(&format!("/api/groups/{gid}/leave")).await?;
        social::group_gone(store, gid);
        Ok(())
    });
    let dissolve = act(move || async move {
        api::delete(&format!("/api/groups/{gid}")).await?;
        social::group_gone(store, gid);
        Ok(())
    });

    let text = move |f: fn(&GroupInfo) -> String| {
        dynamic(move || {
            info.with(|i| {
                i.as_ref()
                    .map_or_else(|| "Loading the group…".to_owned(), f)
            })
        })
    };
    let manage = memo(move || manager() && info.with(Option::is_some));
    view! {
        <section id="group-detail" class="card wide" data-gid=gid.0.to_string()>
            <h2 class="group-detail-name">{text(|g| g.gname.clone())}</h2>
            <p class="intro">{text(|g| g.intro.clone())}</p>
            <p class="hint">
                {text(|g| {
                    if g.dissolved {
                        "This group was dissolved.".to_owned()
                    } else {
                        format!("{} — {}", policy_label(g.join_policy), policy_help(g.join_policy))
                    }
                })}
            </p>
            <div class="button-row">
                <button
                    id="group-open-chat"
                    type="button"
                    class="primary"
                    on:click=move |_| actions::open_chat(store, ChatKey::Group(gid))
                >
                    "Open the chat"
                </button>
                <span prop:hidden=Signal::derive(move || owner() || role.get().is_none())>
                    <ActionButton
                        id="group-leave"
                        label="Leave the group"
                        confirm=Some("Really leave?")
                        action=leave
                    />
                </span>
                <span prop:hidden=Signal::derive(move || !owner())>
                    <ActionButton
                        id="group-dissolve"
                        class="danger"
                        label="Dissolve the group"
                        confirm=Some("Really dissolve it for everyone?")
                        action=dissolve
                    />
                </span>
            </div>
            <p class="hint" prop:hidden=Signal::derive(move || !owner())>
                "As the owner you cannot leave: hand the group to another member first, or dissolve it."
            </p>
            <div prop:hidden=Signal::derive(move || {
                info.with(|g| g.as_ref().is_none_or(|g| g.join_policy == JoinPolicy::InviteOnly))
            })>
                <h3>"Link to join"</h3>
                <CopyField
                    value=Signal::derive(move || group_link(gid))
                    id="group-link"
                    button_id="copy-group-link"
                />
            </div>
            {dynamic(move || {
                manage
                    .get()
                    .then(|| {
                        view! {
                            <GroupSettings gid />
                            <InviteForm gid />
                            <JoinRequests gid />
                        }
                    })
            })}
            <Members gid />
        </section>
    }
}

/// Name, intro and join policy, for owners and admins.
#[component]
fn GroupSettings(gid: GroupId) -> impl IntoView {
    let store = use_store();
    let current = store.group_infos.with_untracked(|g| g.get(&gid).cloned());
    let name = RwSignal::new(
        current
            .as_ref()
            .map(|g| g.gname.clone())
            .unwrap_or_default(),
    );
    let intro = RwSignal::new(
        current
            .as_ref()
            .map(|g| g.intro.clone())
            .unwrap_or_default(),
    );
    let policy = RwSignal::new(
        index_of(
            &POLICIES,
            &current.map(|g| g.join_policy).unwrap_or_default(),
        )
        .to_string(),
    );
    let ok = RwSignal::new(None::<String>);
    let submit = act(move || async move {
        let body = UpdateGroup {
            gname: Some(name.get_untracked()),
            intro: Some(intro.get_untracked()),
            join_policy: Some(POLICIES[chosen(policy).min(POLICIES.len() - 1)]),
        };
        let group: GroupInfo = api::patch(&format!("/api/groups/{gid}"), &body).await?;
        social::group_updated(store, group);
        ok.set(Some("Saved.".to_owned()));
        Ok(())
    });
    let fields = vec![
        Field::new(
            "group-edit-name",
            "Name",
            Input::Text("", shared::groups::MAX_GNAME_CHARS),
            name,
        ),
        Field::new(
            "group-edit-intro",
            "Introduction",
            Input::Area(shared::groups::MAX_INTRO_CHARS),
            intro,
        ),
        Field::new(
            "group-edit-policy",
            "Who can join",
            Input::Select(POLICY_TEXT),
            policy,
        ),
    ];
    view! {
        <Form
            id="group-settings"
            title="Settings"
            fields
            submit_id="group-edit-save"
            submit_label="Save"
            submit
            ok
        />
    }
}

/// Invites a user by uid.
#[component]
fn InviteForm(gid: GroupId) -> impl IntoView {
    let store = use_store();
    let uid_text = RwSignal::new(String::new());
    let ok = RwSignal::new(None::<String>);
    let submit = act(move || async move {
        let Some(me) = store.my_uid() else {
            return Ok(());
        };
        let Some(add_uid) = parse_uid(&uid_text.get_untracked()) else {
            return invalid("Enter a user's number (uid).");
        };
        let invite: GroupInvite = api::post(
            "/api/groups/invites",
            &InviteToGroup {
                admin_uid: me,
                add_uid,
                gid,
            },
        )
        .await?;
        social::upsert_group_invite(store, invite);
        uid_text.set(String::new());
        ok.set(Some(format!("Invitation sent to uid {add_uid}.")));
        Ok(())
    });
    view! {
        <Form
            id="group-invite"
            title="Invite someone"
            fields=vec![Field::new("group-invite-uid", "Their uid", Input::Text("e.g. 42", 20), uid_text)]
            submit_id="group-invite-send"
            submit_label="Invite"
            submit
            ok
        />
    }
}

/// Pending requests to join (owners and admins).
#[component]
fn JoinRequests(gid: GroupId) -> impl IntoView {
    let store = use_store();
    let answer = move |id: i64, verb: &'static str| {
        act(move || async move {
            let request: GroupJoinRequest =
                api::post_empty(&format!("/api/groups/{gid}/requests/{id}/{verb}")).await?;
            social::upsert_join_request(store, request);
            Ok(())
        })
    };
    let requests = dynamic(move || {
        store.group_lists.with(
            |GroupLists {
                 join_requests: all, ..
             }| {
                all.get(&gid)
                    .into_iter()
                    .flatten()
                    .map(|r| {
                        let mut sub = format!("uid {}", r.uid);
                        if !r.note.is_empty() {
                            sub.push_str(&format!(" — “{}”", r.note));
                        }
                        row(Row {
                            kind: "join-request",
                            id: Some(r.id),
                            uid: Some(r.uid),
                            title: r.nick_name.clone(),
                            sub,
                            buttons: vec![
                                RowButton::new(
                                    "Let in",
                                    "join-approve primary",
                                    answer(r.id, "approve"),
                                ),
                                RowButton::new("Decline", "join-reject", answer(r.id, "reject")),
                            ],
                            ..Row::default()
                        })
                    })
                    .collect::<Vec<_>>()
            },
        )
    });
    view! {
        <h3>"Asking to join"</h3>
        <ul id="join-requests" class="rows">
            {requests}
        </ul>
    }
}

async fn set_role(
    store: Store,
    gid: GroupId,
    uid: UserId,
    role: GroupRole,
) -> Result<(), ClientError> {
    let list: GroupMembers = api::post(
        &format!("/api/groups/{gid}/members/{uid}/role"),
        &SetRole { role },
    )
    .await?;
    store
        .group_lists
        .update(|GroupLists { members: m, .. }| drop(m.insert(gid, list.members)));
    Ok(())
}

/// The member list, with what my role allows on each member.
#[component]
fn Members(gid: GroupId) -> impl IntoView {
    let store = use_store();
    let members = dynamic(move || {
        let my_role = social::my_role(store, gid);
        let me = store.my_uid();
        store.group_lists.with(|GroupLists { members: m, .. }| {
            m.get(&gid)
                .into_iter()
                .flatten()
                .map(|member| row(member_row(store, gid, member, my_role, me)))
                .collect::<Vec<_>>()
        })
    });
    let loading = dynamic(move || {
        (!store
            .group_lists
            .with(|GroupLists { members: m, .. }| m.contains_key(&gid)))
        .then(|| view! { <p class="muted">"Loading members…"</p> })
    });
    view! {
        <h3>"Members"</h3>
        <ul id="group-members" class="rows">
            {members}
        </ul>
        {loading}
    }
}

fn member_row(
    store: Store,
    gid: GroupId,
    member: &GroupMember,
    my_role: Option<GroupRole>,
    me: Option<UserId>,
) -> Row {
    let uid = member.uid;
    let is_me = me == Some(uid);
    let owner = my_role == Some(GroupRole::Owner) && !is_me;
    let mut buttons = Vec::new();
    if owner && member.role == GroupRole::Member {
        buttons.push(RowButton::new(
            "Make admin",
            "member-promote",
            act(move || set_role(store, gid, uid, GroupRole::Admin)),
        ));
    }
    if owner && member.role == GroupRole::Admin {
        buttons.push(RowButton::new(
            "Make member",
            "member-demote",
            act(move || set_role(store, gid, uid, GroupRole::Member)),
        ));
    }
    if owner {
        buttons.push(
            RowButton::new(
                "Make owner",
                "member-transfer",
                act(move || async move {
                    let group: GroupInfo = api::post(
                        &format!("/api/groups/{gid}/transfer"),
                        &TransferOwnership { uid },
                    )
                    .await?;
                    social::group_updated(store, group);
                    social::load_members(store, gid).await;
                    Ok(())
                }),
            )
            .confirm("Hand the group over?"),
        );
    }
    let can_remove = !is_me
        && match my_role {
            Some(GroupRole::Owner) => true,
            Some(GroupRole::Admin) => member.role == GroupRole::Member,
            _ => false,
        };
    if can_remove {
        buttons.push(
            RowButton::new(
                "Remove",
                "member-remove danger",
                act(move || async move {
                    api::delete(&format!("/api/groups/{gid}/members/{uid}")).await?;
                    social::load_members(store, gid).await;
                    Ok(())
                }),
            )
            .confirm("Really remove?"),
        );
    }
    let role = role_label(member.role);
    Row {
        kind: "member",
        uid: Some(uid),
        role: Some(role),
        title: if is_me {
            format!("{} (you)", member.nick_name)
        } else {
            member.nick_name.clone()
        },
        sub: format!("{role} · uid {uid}"),
        buttons,
        ..Row::default()
    }
}
