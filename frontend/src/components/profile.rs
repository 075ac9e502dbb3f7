//! The Profile page: nick name, gender, birthday, and the privacy settings in plain words, saved
//! with `PATCH /api/me`.

use super::ui::{Field, Form, Input, act, chosen, index_of, invalid};
use crate::api;
use crate::components::{dynamic, memo};
use crate::state::{Tab, use_store};
use leptos::prelude::*;
use shared::Me;
use shared::contacts::{FriendLevel, Gender, MsgPolicy, OpenLevel, PresenceLevel, UpdateProfile};

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

const PRESENCE_LEVELS: [PresenceLevel; 2] = [PresenceLevel::Friends, PresenceLevel::Everyone];
const PRESENCE_LEVEL_TEXT: &[(&str, &str)] = &[
    ("Friends", "Only your friends see when you are online."),
    (
        "Everyone",
        "Anyone who knows your uid sees when you are online: a chat with you on a website then shows visitors whether you are there.",
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
    let uid = memo(move || store.me.with(|m| m.as_ref().map(|m| m.uid)));
    view! {
        <main id="page-profile" class="page" class:hidden=Signal::derive(move || store.tab.get() != Tab::Profile)>
            <div class="page-grid">
                {dynamic(move || match uid.get().and_then(|_| store.me.get_untracked()) {
                    Some(me) => view! { <ProfileForm me /> }.into_any(),
                    None => view! { <p class="muted">"Signing in…"</p> }.into_any(),
                })}
            </div>
        </main>
    }
}

#[component]
fn ProfileForm(me: Me) -> impl IntoView {
    let store = use_store();
    let text = |value: String| RwSignal::new(value);
    let nick = text(me.nick_name.clone());
    let gender = text(index_of(&GENDERS, &me.gender).to_string());
    let birthday = text(birthday_to_input(me.birthday));
    let open_level = text(index_of(&OPEN_LEVELS, &me.open_level).to_string());
    let friend_level = text(index_of(&FRIEND_LEVELS, &me.friend_level).to_string());
    let msg_policy = text(index_of(&MSG_POLICIES, &me.msg_policy).to_string());
    let presence_level = text(index_of(&PRESENCE_LEVELS, &me.presence_level).to_string());
    let ok = RwSignal::new(None::<String>);

    let submit = act(move || async move {
        let Some(birthday) = birthday_from_input(&birthday.get_untracked()) else {
            return invalid("The birthday is not a date.");
        };
        let pick = |len: usize, signal| chosen(signal).min(len - 1);
        let body = UpdateProfile {
            nick_name: Some(nick.get_untracked()),
            gender: Some(GENDERS[pick(GENDERS.len(), gender)]),
            birthday: Some(birthday),
            open_level: Some(OPEN_LEVELS[pick(OPEN_LEVELS.len(), open_level)]),
            friend_level: Some(FRIEND_LEVELS[pick(FRIEND_LEVELS.len(), friend_level)]),
            msg_policy: Some(MSG_POLICIES[pick(MSG_POLICIES.len(), msg_policy)]),
            presence_level: Some(PRESENCE_LEVELS[pick(PRESENCE_LEVELS.len(), presence_level)]),
        };
        let me: Me = api::patch("/api/me", &body).await?;
        store.me.set(Some(me));
        ok.set(Some("Saved.".to_owned()));
        Ok(())
    });
    let fields = vec![
        Field::new(
            "profile-nick",
            "Nick name",
            Input::Text("", shared::contacts::MAX_NICK_CHARS),
            nick,
        ),
        Field::new(
            "profile-gender",
            "Gender",
            Input::Select(GENDER_TEXT),
            gender,
        ),
        Field::new("profile-birthday", "Birthday", Input::Date, birthday),
        Field::new(
            "profile-open-level",
            "Who can see your gender and birthday",
            Input::Select(OPEN_LEVEL_TEXT),
            open_level,
        ),
        Field::new(
            "profile-friend-level",
            "Who can add you as a friend",
            Input::Select(FRIEND_LEVEL_TEXT),
            friend_level,
        ),
        Field::new(
            "profile-msg-policy",
            "Who can message you",
            Input::Select(MSG_POLICY_TEXT),
            msg_policy,
        ),
        Field::new(
            "profile-presence-level",
            "Who sees when you're online",
            Input::Select(PRESENCE_LEVEL_TEXT),
            presence_level,
        ),
    ];
    let embed = format!("/embed.html?target=u:{}", me.uid);
    view! {
        <section id="profile" class="card">
            <h2>"Your profile"</h2>
            <p class="hint">
                {format!("Your uid is {}. Everyone sees your nick name and uid; the rest follows your privacy choices below.", me.uid)}
            </p>
            <Form id="profile-form" fields submit_id="profile-save" submit_label="Save" submit ok />
            <p class="hint">
                <a id="profile-embed-link" href=embed target="_blank" rel="noopener">
                    "Put a chat with you on your website"
                </a>
            </p>
        </section>
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
