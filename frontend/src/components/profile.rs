//! The Profile page: nick name, gender, birthday, and the privacy settings in plain words, saved
//! with `PATCH /api/me`.

use super::ui::{Choice, form_error, index_of, run};
use crate::api;
use crate::state::use_store;
use leptos::ev::SubmitEvent;
use leptos::prelude::*;
use shared::Me;
use shared::contacts::{FriendLevel, Gender, MsgPolicy, OpenLevel, UpdateProfile};

const GENDERS: [Gender; 3] = [Gender::Unknown, Gender::Female, Gender::Male];
const GENDER_TEXT: &[(&str, &str)] = &[("Not said", ""), ("Female", ""), ("Male", "")];

const OPEN_LEVELS: [OpenLevel; 4] = [
    OpenLevel::Everyone,
    OpenLevel::GroupMembers,
    OpenLevel::Friends,
    OpenLevel::Nobody,
];
const OPEN_LEVEL_TEXT: &[(&str, &str)] = &[
    ("Everyone", "Anyone can see your gender and birthday."),
    (
        "Friends and group members",
        "Your friends and people in a group with you can see them.",
    ),
    ("Friends", "Only your friends can see them."),
    (
        "Nobody",
        "Nobody sees them. Everyone still sees your nick name and uid.",
    ),
];

const FRIEND_LEVELS: [FriendLevel; 3] = [
    FriendLevel::Approval,
    FriendLevel::Anyone,
    FriendLevel::Nobody,
];
const FRIEND_LEVEL_TEXT: &[(&str, &str)] = &[
    (
        "With my approval",
        "Anyone can send you a friend request; you decide whether to accept.",
    ),
    (
        "Anyone, at once",
        "Anyone who adds you becomes your friend right away.",
    ),
    ("Nobody", "Nobody can send you friend requests."),
];

const MSG_POLICIES: [MsgPolicy; 3] = [
    MsgPolicy::Anyone,
    MsgPolicy::GroupMembers,
    MsgPolicy::Friends,
];
const MSG_POLICY_TEXT: &[(&str, &str)] = &[
    (
        "Anyone",
        "Anyone can write to you and invite you to groups.",
    ),
    (
        "Friends and group members",
        "Only your friends and people in a group with you can write to you or invite you.",
    ),
    (
        "Friends",
        "Only your friends can write to you or invite you to groups.",
    ),
];

/// `YYYYMMDD` as the `YYYY-MM-DD` of a date input.
fn birthday_to_input(birthday: Option<u32>) -> String {
    birthday
        .filter(|b| *b > 0)
        .map(|b| format!("{:04}-{:02}-{:02}", b / 10000, b / 100 % 100, b % 100))
        .unwrap_or_default()
}

/// A date input's `YYYY-MM-DD` as `YYYYMMDD` (0 clears it). `None` when it is not a date.
fn birthday_from_input(text: &str) -> Option<u32> {
    let text = text.trim();
    if text.is_empty() {
        return Some(0);
    }
    let digits: String = text.chars().filter(|c| *c != '-').collect();
    (digits.len() == 8 && digits.chars().all(|c| c.is_ascii_digit()))
        .then(|| digits.parse().ok())
        .flatten()
}

/// The whole page (a form once we know who we are).
#[component]
pub fn ProfilePage() -> impl IntoView {
    let store = use_store();
    // Rebuilt when the user changes, not when the saved profile comes back.
    let uid = Memo::new(move |_| store.me.with(|m| m.as_ref().map(|m| m.uid)));
    view! {
        <main id="page-profile" class="page">
            <div class="page-grid">
                {move || match uid.get().and_then(|_| store.me.get_untracked()) {
                    Some(me) => view! { <ProfileForm me /> }.into_any(),
                    None => view! { <p class="muted">"Signing in…"</p> }.into_any(),
                }}
            </div>
        </main>
    }
}

#[component]
fn ProfileForm(me: Me) -> impl IntoView {
    let store = use_store();
    let nick = RwSignal::new(me.nick_name.clone());
    let gender = RwSignal::new(index_of(&GENDERS, &me.gender));
    let birthday = RwSignal::new(birthday_to_input(me.birthday));
    let open_level = RwSignal::new(index_of(&OPEN_LEVELS, &me.open_level));
    let friend_level = RwSignal::new(index_of(&FRIEND_LEVELS, &me.friend_level));
    let msg_policy = RwSignal::new(index_of(&MSG_POLICIES, &me.msg_policy));
    let busy = RwSignal::new(false);
    let error = RwSignal::new(None::<String>);
    let saved = RwSignal::new(false);

    let submit = move |ev: SubmitEvent| {
        ev.prevent_default();
        saved.set(false);
        let Some(birthday) = birthday_from_input(&birthday.get_untracked()) else {
            error.set(Some("The birthday is not a date.".to_owned()));
            return;
        };
        let body = UpdateProfile {
            nick_name: Some(nick.get_untracked()),
            gender: Some(GENDERS[gender.get_untracked()]),
            birthday: Some(birthday),
            open_level: Some(OPEN_LEVELS[open_level.get_untracked()]),
            friend_level: Some(FRIEND_LEVELS[friend_level.get_untracked()]),
            msg_policy: Some(MSG_POLICIES[msg_policy.get_untracked()]),
        };
        run(busy, error, async move {
            let me: Me = api::patch("/api/me", &body).await?;
            store.me.set(Some(me));
            saved.set(true);
            Ok(())
        });
    };

    view! {
        <form id="profile-form" class="card stack" on:submit=submit>
            <h2>"Your profile"</h2>
            <p class="hint">{format!("Your uid is {}. Everyone sees your nick name and uid.", me.uid)}</p>
            <label class="field">
                <span class="field-label">"Nick name"</span>
                <input
                    id="profile-nick"
                    type="text"
                    maxlength=shared::contacts::MAX_NICK_CHARS.to_string()
                    prop:value=move || nick.get()
                    on:input=move |ev| nick.set(event_target_value(&ev))
                />
            </label>
            <Choice id="profile-gender" label="Gender" value=gender choices=GENDER_TEXT />
            <label class="field">
                <span class="field-label">"Birthday"</span>
                <input
                    id="profile-birthday"
                    type="date"
                    prop:value=move || birthday.get()
                    on:input=move |ev| birthday.set(event_target_value(&ev))
                />
            </label>
            <h3>"Privacy"</h3>
            <Choice
                id="profile-open-level"
                label="Who can see your gender and birthday"
                value=open_level
                choices=OPEN_LEVEL_TEXT
            />
            <Choice
                id="profile-friend-level"
                label="Who can add you as a friend"
                value=friend_level
                choices=FRIEND_LEVEL_TEXT
            />
            <Choice
                id="profile-msg-policy"
                label="Who can message you"
                value=msg_policy
                choices=MSG_POLICY_TEXT
            />
            <button id="profile-save" class="primary" type="submit" disabled=move || busy.get()>
                {move || if busy.get() { "Saving…" } else { "Save" }}
            </button>
            {move || saved.get().then(|| view! { <p id="profile-saved" class="form-ok">"Saved."</p> })}
            <div id="profile-error">{form_error(error)}</div>
        </form>
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_birthday_goes_between_the_date_input_and_yyyymmdd() {
        assert_eq!(birthday_to_input(Some(19700506)), "1970-05-06");
        assert_eq!(birthday_to_input(None), "");
        assert_eq!(birthday_from_input("1970-05-06"), Some(19700506));
        assert_eq!(birthday_from_input(""), Some(0));
        assert_eq!(birthday_from_input("May 6"), None);
    }
}
