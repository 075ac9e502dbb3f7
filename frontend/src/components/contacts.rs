//! The Contacts page: my invite link, adding a friend (by uid, invite link or code), pending
//! requests both ways, the friend list with online status, and blocked users.

use super::ui::{
    ActionButton, CopyField, Field, Form, Input, OnOpen, Row, RowButton, act, dynamic, invalid, row,
};
use crate::social;
use crate::state::{ChatKey, Store, Tab, use_store};
use crate::{actions, util};
use leptos::prelude::*;
use shared::UserId;
use shared::contacts::FriendRequest;
use std::sync::Arc;

/// The whole page.
#[component]
pub fn ContactsPage() -> impl IntoView {
    let store = use_store();
    view! {
        <main id="page-contacts" class="page" class:hidden=Signal::derive(move || store.tab.get() != Tab::Contacts)>
            <div class="page-grid">
                <InviteConfirm />
                <Requests />
                <FriendList />
                <AddFriend />
                <Blocked />
            </div>
        </main>
    }
}

/// A user's name for lists: the cached profile's nick, else the given one, else the uid.
fn display_name(store: Store, uid: UserId, known: Option<&str>) -> String {
    store
        .nick_of(uid)
        .or_else(|| known.map(str::to_owned))
        .unwrap_or_else(|| format!("uid {uid}"))
}

/// What someone typed into "add a friend": a uid, an invite link, or a bare code.
fn parse_target(text: &str) -> Result<(Option<UserId>, Option<String>), &'static str> {
    let text = text.trim();
    if text.is_empty() {
        return Err("Enter a uid, an invite link or an invite code.");
    }
    if let Ok(n) = text.parse::<i64>() {
        return if n > 0 {
            Ok((Some(UserId(n)), None))
        } else {
            Err("A uid is a positive number.")
        };
    }
    let code = match text.find("add=") {
        Some(at) => text[at + 4..]
            .split(['&', '#'])
            .next()
            .unwrap_or_default()
            .to_owned(),
        None => text.to_owned(),
    };
    if code.is_empty() || code.contains(['/', ' ', '?']) {
        return Err("That is neither a uid nor an invite link.");
    }
    Ok((None, Some(code)))
}

/// The owner of an opened `?add=CODE` link: send them a request after the user confirms.
#[component]
fn InviteConfirm() -> impl IntoView {
    let store = use_store();
    let done = RwSignal::new(None::<String>);
    let dismiss = move |_| {
        store.pending_add.set(None);
        done.set(None);
        util::clear_query();
    };
    let own = move || {
        store
            .me
            .with(|me| me.as_ref().map(|m| m.friend_code.clone()) == store.pending_add.get())
    };
    let send = act(move || async move {
        let Some(code) = store.pending_add.get_untracked() else {
            return Ok(());
        };
        let added = social::send_friend_request(store, None, Some(code), String::new()).await?;
        store.pending_add.set(None);
        util::clear_query();
        done.set(Some(
            if added {
                "You are friends now."
            } else {
                "Request sent. You become friends once they accept."
            }
            .to_owned(),
        ));
        Ok(())
    });
    let text = dynamic(move || {
        done.get().unwrap_or_else(|| {
            if own() {
                "This is your own invite link: share it with people you want to add."
            } else {
                "You opened someone's invite link. Send them a friend request?"
            }
            .to_owned()
        })
    });
    let asking = move || done.with(Option::is_none) && !own();
    view! {
        <section
            id="invite-confirm"
            class="card highlight"
            prop:hidden=Signal::derive(move || store.pending_add.with(Option::is_none) && done.with(Option::is_none))
        >
            <h2>"Friend invite link"</h2>
            <p id="invite-confirm-text">{text}</p>
            <div class="button-row">
                <span prop:hidden=Signal::derive(move || !asking())>
                    <ActionButton
                        id="invite-confirm-send"
                        class="primary"
                        label="Send friend request"
                        action=send
                    />
                </span>
                <button id="invite-confirm-dismiss" type="button" class="secondary" on:click=dismiss>
                    "Close"
                </button>
            </div>
        </section>
    }
}

/// My invite link, and the form that sends a friend request.
#[component]
fn AddFriend() -> impl IntoView {
    let store = use_store();
    let target = RwSignal::new(String::new());
    let note = RwSignal::new(String::new());
    let ok = RwSignal::new(None::<String>);
    let link = Signal::derive(move || {
        store.me.with(|me| {
            me.as_ref()
                .map(|m| format!("{}/?add={}", util::origin(), m.friend_code))
                .unwrap_or_default()
        })
    });
    let submit = act(move || async move {
        let (to, code) = match parse_target(&target.get_untracked()) {
            Ok(parsed) => parsed,
            Err(message) => return invalid(message),
        };
        if to.is_some() && to == store.my_uid() {
            return invalid("That is your own uid.");
        }
        let added = social::send_friend_request(store, to, code, note.get_untracked()).await?;
        target.set(String::new());
        note.set(String::new());
        ok.set(Some(
            if added {
                "You are friends now."
            } else {
                "Request sent. You become friends once they accept."
            }
            .to_owned(),
        ));
        Ok(())
    });
    let fields = vec![
        Field::new(
            "add-friend-input",
            "Their uid, invite link or code",
            Input::Text("e.g. 42", 400),
            target,
        ),
        Field::new(
            "add-friend-note",
            "A note for them (optional)",
            Input::Text("", shared::contacts::MAX_NOTE_CHARS),
            note,
        ),
    ];
    view! {
        <section id="add-friend" class="card">
            <h2>"Add a friend"</h2>
            <p class="hint">"Share your invite link: whoever opens it can send you a friend request."</p>
            <CopyField value=link id="my-invite-link" button_id="copy-invite-link" />
            <Form
                id="add-friend-form"
                fields
                submit_id="add-friend-send"
                submit_label="Send friend request"
                submit
                ok
            />
        </section>
    }
}

/// Pending requests: to me (accept, reject, block) and from me (cancel).
#[component]
fn Requests() -> impl IntoView {
    let store = use_store();
    let rows_of = move |incoming: bool| {
        dynamic(move || {
            store.friend_requests.with(|r| {
                let list = if incoming { &r.incoming } else { &r.outgoing };
                list.iter()
                    .map(|r| row(request_row(store, r, incoming)))
                    .collect::<Vec<_>>()
            })
        })
    };
    view! {
        <section
            id="friend-requests"
            class="card"
            prop:hidden=Signal::derive(move || {
                store.friend_requests.with(|r| r.incoming.is_empty() && r.outgoing.is_empty())
            })
        >
            <h2>"Friend requests"</h2>
            <h3>"To you"</h3>
            <ul id="incoming-requests" class="rows">
                {rows_of(true)}
            </ul>
            {empty_note(
                Signal::derive(move || store.friend_requests.with(|r| r.incoming.is_empty())),
                "None waiting for you.",
            )}
            <h3>"From you"</h3>
            <ul id="outgoing-requests" class="rows">
                {rows_of(false)}
            </ul>
            {empty_note(
                Signal::derive(move || store.friend_requests.with(|r| r.outgoing.is_empty())),
                "You have no requests waiting.",
            )}
        </section>
    }
}

/// A note shown while a list is empty.
fn empty_note(empty: Signal<bool>, text: &'static str) -> impl IntoView {
    dynamic(move || {
        empty
            .get()
            .then(|| view! { <p class="empty-note">{text}</p> })
    })
}

fn request_row(store: Store, request: &FriendRequest, incoming: bool) -> Row {
    let id = request.id;
    let (uid, nick) = if incoming {
        (request.from, &request.from_nick)
    } else {
        (request.to, &request.to_nick)
    };
    let mut sub = format!("uid {uid}");
    if !request.note.is_empty() {
        sub.push_str(&format!(" — “{}”", request.note));
    }
    let answer =
        move |verb: &'static str| act(move || social::answer_friend_request(store, id, verb));
    let buttons = if incoming {
        vec![
            RowButton::new("Accept", "accept primary", answer("accept")),
            RowButton::new("Reject", "reject", answer("reject")),
            RowButton::new("Block", "block", act(move || social::block(store, uid)))
                .confirm("Really block?"),
        ]
    } else {
        sub.push_str(" · waiting");
        vec![RowButton::new("Cancel", "cancel", answer("cancel"))]
    };
    Row {
        kind: "friend-request",
        id: Some(id),
        uid: Some(uid),
        title: display_name(store, uid, Some(nick)),
        sub,
        buttons,
        ..Row::default()
    }
}

/// My friends, with online status; a click opens the chat.
#[component]
fn FriendList() -> impl IntoView {
    let store = use_store();
    let friends = dynamic(move || {
        let online = store.presence.get();
        store
            .friends
            .get()
            .into_iter()
            .map(|uid| {
                let open: OnOpen = Arc::new(move || actions::open_chat(store, ChatKey::User(uid)));
                row(Row {
                    kind: "friend",
                    uid: Some(uid),
                    title: display_name(store, uid, None),
                    sub: format!("uid {uid}"),
                    presence: online.as_ref().map(|o| o.contains(&uid)),
                    open: Some(open),
                    buttons: vec![
                        RowButton::new(
                            "Remove",
                            "friend-remove",
                            act(move || social::remove_friend(store, uid)),
                        )
                        .confirm("Really remove?"),
                        RowButton::new(
                            "Block",
                            "friend-block",
                            act(move || social::block(store, uid)),
                        )
                        .confirm("Really block?"),
                    ],
                    ..Row::default()
                })
            })
            .collect::<Vec<_>>()
    });
    let empty = dynamic(move || {
        store.friends.with(Vec::is_empty).then(|| {
            let text = if store.lists_synced.get() {
                "No friends yet — add someone with their uid or invite link."
            } else {
                "Loading…"
            };
            view! { <p class="empty-note">{text}</p> }
        })
    });
    view! {
        <section id="friends" class="card">
            <h2>"Friends"</h2>
            <p class="hint">"Click a friend to open your chat."</p>
            <ul id="friend-list" class="rows">
                {friends}
            </ul>
            {empty}
        </section>
    }
}

/// Users I blocked, with Unblock; and blocking by uid.
#[component]
fn Blocked() -> impl IntoView {
    let store = use_store();
    let uid_text = RwSignal::new(String::new());
    let ok = RwSignal::new(None::<String>);
    let submit = act(move || async move {
        let Some(uid) = parse_uid(&uid_text.get_untracked()) else {
            return invalid("Enter a user's number (uid).");
        };
        social::block(store, uid).await?;
        uid_text.set(String::new());
        Ok(())
    });
    let blocked = dynamic(move || {
        store
            .blocks
            .get()
            .into_iter()
            .map(|uid| {
                row(Row {
                    kind: "blocked",
                    uid: Some(uid),
                    title: display_name(store, uid, None),
                    sub: format!("uid {uid}"),
                    buttons: vec![RowButton::new(
                        "Unblock",
                        "unblock",
                        act(move || social::unblock(store, uid)),
                    )],
                    ..Row::default()
                })
            })
            .collect::<Vec<_>>()
    });
    view! {
        <section id="blocked" class="card">
            <h2>"Blocked"</h2>
            <p class="hint">
                "Blocked people cannot send you friend requests; blocking also ends a friendship."
            </p>
            <ul id="block-list" class="rows">
                {blocked}
            </ul>
            <Form
                id="block-form"
                fields=vec![Field::new("block-uid", "Block someone", Input::Text("their uid", 20), uid_text)]
                submit_id="block-send"
                submit_label="Block"
                submit
                ok
            />
        </section>
    }
}

/// A uid typed by someone.
pub fn parse_uid(text: &str) -> Option<UserId> {
    text.trim()
        .parse::<i64>()
        .ok()
        .filter(|n| *n > 0)
        .map(UserId)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_uid_a_link_and_a_bare_code_are_all_understood() {
        assert_eq!(parse_target(" 42 "), Ok((Some(UserId(42)), None)));
        assert_eq!(
            parse_target("https://chat.example/?add=Ab_9&x=1"),
            Ok((None, Some("Ab_9".to_owned())))
        );
        assert_eq!(parse_target("Ab_9"), Ok((None, Some("Ab_9".to_owned()))));
        assert!(parse_target("").is_err());
        assert!(parse_target("-3").is_err());
    }
}
