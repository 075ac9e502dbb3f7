//! Courier's wire protocol.
//!
//! Every type that crosses HTTP lives here, so that the server and the browser client can never
//! drift apart. This crate holds plain serde types and a few constants only: no axum, no sqlx, no
//! leptos. `docs/api.md` describes the same contract for outside clients.

use serde::{Deserialize, Serialize};
use std::fmt;

/// `Deserialize` for an enum of unit variants, from its name (`"group_members"`): the names and
/// the JSON of serde's derive with `rename_all = "snake_case"` (which the enums keep for
/// `Serialize`; a test checks that every variant reads back what it writes), in a fraction of the
/// code: derive writes a visitor per enum, here all share one that looks the name up. The browser's
/// module reads sixteen of these enums.
macro_rules! deserialize_by_name {
    ($ty:ident { $($variant:ident = $name:literal),+ $(,)? }) => {
        impl<'de> serde::Deserialize<'de> for $ty {
            fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
                const NAMES: &[&str] = &[$($name),+];
                const ALL: &[$ty] = &[$($ty::$variant),+];
                let i = deserializer.deserialize_str($crate::NameIndex(NAMES))?;
                Ok(ALL[i])
            }
        }

        #[cfg(test)]
        impl $ty {
            /// Every variant with its name, for the round-trip test.
            #[allow(dead_code)]
            pub(crate) const NAMED: &[($ty, &str)] = &[$(($ty::$variant, $name)),+];
        }
    };
}

/// Reads one of the names and gives its position (for `deserialize_by_name!`): one visitor for
/// every such enum, and the name is not copied.
struct NameIndex(&'static [&'static str]);

impl serde::de::Visitor<'_> for NameIndex {
    type Value = usize;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("one of the names")
    }

    fn visit_str<E: serde::de::Error>(self, name: &str) -> Result<usize, E> {
        self.0
            .iter()
            .position(|n| *n == name)
            .ok_or_else(|| E::unknown_variant(name, self.0))
    }
}

pub mod contacts;
pub mod error;
pub mod files;
pub mod groups;
pub mod widget;
pub use error::{ErrorBody, ErrorCode};
pub use groups::GroupId;

/// Largest text message, counted in Unicode scalar values (characters). Larger sends get
/// `content_too_large`.
pub const MAX_TEXT_CHARS: usize = 5_000;
/// Longest `client_msg_id`, in bytes. Allowed characters: ASCII letters, digits, `-` and `_`.
pub const MAX_CLIENT_MSG_ID_LEN: usize = 64;
/// Page size of history reads when the client gives no `limit`.
pub const DEFAULT_PAGE_LIMIT: u32 = 20;
/// Largest page of history a client may ask for.
pub const MAX_PAGE_LIMIT: u32 = 100;

macro_rules! int_id {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
        #[serde(transparent)]
        pub struct $name(pub i64);

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                self.0.fmt(f)
            }
        }
    };
}

int_id!(
    /// A user, guest or registered. Always derived by the server from the session token.
    UserId
);
int_id!(
    /// A stored message, unique across the whole server.
    MessageId
);
int_id!(
    /// Position of a message inside its conversation: 1, 2, 3, ... with no gaps.
    Seq
);
int_id!(
    /// Position in one user's event stream: increases by one per event, per user.
    Cursor
);

/// A conversation, as an opaque string that every participant shares. Clients must not parse it.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct ConversationId(pub String);

impl fmt::Display for ConversationId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// The client's idempotency key for a send: a retry with the same key returns the first answer.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct ClientMsgId(pub String);

impl fmt::Display for ClientMsgId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Milliseconds since the Unix epoch, UTC.
pub type Millis = i64;

/// `POST /api/session/guest` answer (201). The token is also set as an HttpOnly cookie; the body
/// copy lets a client fall back to `Authorization: Bearer` where the browser drops the cookie.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct GuestSession {
    pub uid: UserId,
    pub token: String,
    pub nick_name: String,
}

/// What kind of account a user has.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum AccountKind {
    /// Anonymous: known by its session cookie or bearer token only.
    Guest,
    /// Signed in by an embedding site's identity token (`POST /api/session/identify`): the same
    /// site user gets the same uid on every device.
    SiteUser,
}

deserialize_by_name!(AccountKind { Guest = "guest", SiteUser = "site_user" });

/// `GET /api/me` answer.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Me {
    pub uid: UserId,
    pub nick_name: String,
    pub kind: AccountKind,
    /// The head of this user's event stream now. A client without a stored cursor starts its
    /// stream here, and reads the current state (conversations, history) after taking it.
    pub cursor: Cursor,
    pub gender: contacts::Gender,
    /// YYYYMMDD, when set.
    pub birthday: Option<u32>,
    /// Changes whenever the profile or a privacy setting changes.
    pub time: Millis,
    pub open_level: contacts::OpenLevel,
    pub friend_level: contacts::FriendLevel,
    pub msg_policy: contacts::MsgPolicy,
    /// Who may see whether this user is online.
    #[serde(default)]
    pub presence_level: contacts::PresenceLevel,
    /// The code of this user's friend invite link (`/?add=CODE`).
    pub friend_code: String,
}

/// Who a message goes to: `{"user": 42}` or `{"group": 7}`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Target {
    User(UserId),
    Group(GroupId),
}

/// The kind of a message's content.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum MsgType {
    Text,
    /// A file: `content` is a [`files::Attachment`] as JSON.
    File,
    /// An image, shown inline: `content` is a [`files::Attachment`] as JSON.
    Image,
}

deserialize_by_name!(MsgType { Text = "text", File = "file", Image = "image" });

/// `POST /api/messages` body.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SendMessage {
    pub to: Target,
    pub client_msg_id: ClientMsgId,
    pub msg_type: MsgType,
    pub content: String,
}

/// `POST /api/messages` answer: the message is durably stored and numbered.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SendAck {
    pub msg_id: MessageId,
    pub conversation: ConversationId,
    pub seq: Seq,
    pub time: Millis,
}

/// A stored message.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Message {
    pub msg_id: MessageId,
    pub conversation: ConversationId,
    pub seq: Seq,
    pub sender: UserId,
    pub msg_type: MsgType,
    pub content: String,
    pub time: Millis,
    pub client_msg_id: ClientMsgId,
}

/// The other participant of a one-to-one conversation.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Peer {
    pub uid: UserId,
    pub nick_name: String,
}

/// Whether a conversation is one-to-one or a group's.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ConversationKind {
    #[default]
    Direct,
    Group,
}

deserialize_by_name!(ConversationKind { Direct = "direct", Group = "group" });

/// The group of a group conversation.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct GroupRef {
    pub gid: GroupId,
    pub gname: String,
}

/// One entry of `GET /api/conversations`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConversationSummary {
    pub id: ConversationId,
    #[serde(default)]
    pub kind: ConversationKind,
    /// The other participant of a one-to-one conversation.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub peer: Option<Peer>,
    /// The group of a group conversation.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub group: Option<GroupRef>,
    pub last_message: Option<Message>,
    /// Seq of the newest message (0 when empty).
    pub max_seq: Seq,
    /// Seq up to which this user has read.
    pub read_seq: Seq,
    /// `max_seq - read_seq`.
    pub unread: i64,
}

/// `GET /api/conversations` answer, newest activity first.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConversationList {
    pub conversations: Vec<ConversationSummary>,
}

/// `GET /api/conversations/{conversation}/messages` answer, in ascending `seq`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct MessagePage {
    pub messages: Vec<Message>,
    /// True when more messages exist beyond this page in the direction read (older ones for a
    /// `before_seq` or latest read, newer ones for an `after_seq` read).
    pub has_more: bool,
}

/// `POST /api/conversations/{conversation}/read` body.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct MarkRead {
    pub seq: Seq,
}

/// `POST /api/conversations/{conversation}/read` answer: the read position after the call, which
/// never moves backwards.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReadState {
    pub conversation: ConversationId,
    pub read_seq: Seq,
    pub unread: i64,
}

/// One entry of a user's event stream.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Event {
    /// A new message in one of the user's conversations (including the user's own sends, so that
    /// their other tabs see them).
    Message { message: Message },
    /// The user's own read position moved (on any of their tabs).
    Read {
        conversation: ConversationId,
        read_seq: Seq,
    },
    /// A friend request to or from the user was made or changed state.
    FriendRequest { request: contacts::FriendRequest },
    /// The user's friend list or group list has a new version: pull the delta
    /// (`POST /api/lists/sync`).
    ListChanged {
        list: contacts::ListKind,
        version: i64,
    },
    /// A user's profile changed (sent to the user and their friends); refetch if `time` differs.
    Profile { uid: UserId, time: Millis },
    /// A friend came online or went offline.
    Presence { uid: UserId, online: bool },
    /// Someone is typing in a conversation (not stored for long; shown for a few seconds).
    Typing {
        conversation: ConversationId,
        uid: UserId,
    },
    /// An invitation to a group, to the invitee or from the inviter, was made or changed state.
    GroupInvite { invite: groups::GroupInvite },
    /// A join request to a group (to its owner and admins, and to the requester) was made or
    /// changed state.
    GroupJoinRequest { request: groups::GroupJoinRequest },
    /// A group's info changed (name, intro, policy, owner, dissolved); refetch if `time` differs.
    Group { gid: GroupId, time: Millis },
    /// A group's member list or roles changed.
    GroupMembers { gid: GroupId },
    /// An uploaded file sent in one of the user's conversations (or uploaded by the user) is
    /// complete: download it now.
    FileReady { file: files::FileInfo },
    /// An event kind this client does not know yet (newer server). Clients skip it.
    #[serde(other)]
    Unknown,
}

/// `GET /api/events?after=CURSOR&timeout=SECONDS` answer.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct EventBatch {
    /// Pass this as `after` in the next poll; it acknowledges every event in this batch.
    pub cursor: Cursor,
    pub events: Vec<Event>,
    /// True when the given cursor is too old to serve (its events were pruned): the client must
    /// re-read its state and continue from `cursor`. Nothing is silently skipped.
    pub reset: bool,
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Each enum read by name reads back what `Serialize` (serde's derive) writes, for every
    /// variant, and refuses other names and other JSON types.
    #[test]
    fn enums_read_by_name_read_back_what_they_write() {
        fn round_trip<T>(named: &[(T, &str)])
        where
            T: Serialize + serde::de::DeserializeOwned + PartialEq + fmt::Debug + Copy,
        {
            for &(variant, name) in named {
                let json = serde_json::to_string(&variant).expect("serializes");
                assert_eq!(json, format!("\"{name}\""));
                assert_eq!(
                    serde_json::from_str::<T>(&json).expect("reads back"),
                    variant
                );
            }
            for bad in ["\"\"", "\"Nobody_\"", "1", "null", "{}", "[\"x\"]"] {
                assert!(serde_json::from_str::<T>(bad).is_err(), "{bad}");
            }
            let err = serde_json::from_str::<T>("\"zzz\"").expect_err("unknown name");
            assert!(err.to_string().contains("unknown variant `zzz`"), "{err}");
        }
        round_trip(contacts::Gender::NAMED);
        round_trip(contacts::OpenLevel::NAMED);
        round_trip(contacts::FriendLevel::NAMED);
        round_trip(contacts::MsgPolicy::NAMED);
        round_trip(contacts::PresenceLevel::NAMED);
        round_trip(contacts::RequestState::NAMED);
        round_trip(contacts::FriendRequestResult::NAMED);
        round_trip(contacts::ListKind::NAMED);
        round_trip(files::FileState::NAMED);
        round_trip(files::FileFailure::NAMED);
        round_trip(groups::JoinPolicy::NAMED);
        round_trip(groups::GroupRole::NAMED);
        round_trip(groups::JoinResult::NAMED);
        round_trip(AccountKind::NAMED);
        round_trip(MsgType::NAMED);
        round_trip(ConversationKind::NAMED);
    }

    #[test]
    fn a_target_is_written_as_an_object_keyed_by_kind() {
        let send = SendMessage {
            to: Target::User(UserId(7)),
            client_msg_id: ClientMsgId("a1".into()),
            msg_type: MsgType::Text,
            content: "hi".into(),
        };
        let json = serde_json::to_value(&send).expect("serializes");
        assert_eq!(json["to"], serde_json::json!({"user": 7}));
        assert_eq!(json["msg_type"], "text");
    }

    #[test]
    fn events_are_tagged_by_type_and_unknown_kinds_are_tolerated() {
        let read = Event::Read {
            conversation: ConversationId("d1_2".into()),
            read_seq: Seq(3),
        };
        let json = serde_json::to_value(&read).expect("serializes");
        assert_eq!(json["type"], "read");
        let unknown: Event =
            serde_json::from_str(r#"{"type":"hologram","who":1}"#).expect("tolerated");
        assert_eq!(unknown, Event::Unknown);
    }
}
