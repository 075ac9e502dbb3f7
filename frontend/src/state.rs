//! The client's reactive state: who we are, the conversation list, the loaded message threads and
//! the sync status. One `Store` per tab, provided with `provide_context` and read with
//! `use_store()`. The pure rules (merging, ordering, gap tracking) are plain methods here, so the
//! async code in `actions.rs` and `sync.rs` only decides *when* to apply them.

use leptos::prelude::*;
use shared::contacts::{FriendRequests, ListVersions, Profile};
use shared::files::{FileId, FileInfo};
use shared::groups::{GroupInfo, GroupInvites, GroupJoinRequest, GroupMember};
use shared::{
    ClientMsgId, ConversationId, ConversationKind, ConversationSummary, GroupId, Me, Message,
    MessageId, Millis, MsgType, Seq, Target, UserId,
};
use std::collections::{HashMap, HashSet};

/// A chat: one-to-one with a user, or a group's.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ChatKey {
    User(UserId),
    Group(GroupId),
}

impl ChatKey {
    /// Where messages of this chat are sent.
    pub fn target(self) -> Target {
        match self {
            ChatKey::User(uid) => Target::User(uid),
            ChatKey::Group(gid) => Target::Group(gid),
        }
    }

    /// The chat a conversation-list entry stands for.
    pub fn of(summary: &ConversationSummary) -> Option<ChatKey> {
        match (summary.kind, &summary.peer, &summary.group) {
            (ConversationKind::Group, _, Some(group)) => Some(ChatKey::Group(group.gid)),
            (_, Some(peer), _) => Some(ChatKey::User(peer.uid)),
            (_, None, Some(group)) => Some(ChatKey::Group(group.gid)),
            (_, None, None) => None,
        }
    }
}

/// The pages of the app.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Tab {
    Chats,
    Contacts,
    Groups,
    Profile,
}

/// Delivery state of a message in the open chat.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum SendState {
    /// Sent by this tab, no acknowledgement yet.
    Sending,
    /// Stored by the server (acknowledged, or received from the server).
    Sent,
    /// The send failed or timed out; it can be retried with the same `client_msg_id`.
    Failed,
}

impl SendState {
    /// The value of the `data-state` attribute.
    pub fn as_str(self) -> &'static str {
        match self {
            SendState::Sending => "sending",
            SendState::Sent => "sent",
            SendState::Failed => "failed",
        }
    }
}

/// A message as the chat view shows it: either stored on the server (it has a `seq`), or a send
/// of this tab still on its way (or failed).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ChatMessage {
    pub sender: UserId,
    pub client_msg_id: ClientMsgId,
    pub msg_type: MsgType,
    pub content: String,
    pub msg_id: Option<MessageId>,
    pub seq: Option<Seq>,
    pub time: Millis,
    pub state: SendState,
    /// Why the send failed, for people.
    pub error: Option<String>,
}

/// Everything that changes how a message row looks: the `<For>` key, so a row is rebuilt when
/// its message is acknowledged or fails.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct MessageKey {
    sender: UserId,
    client_msg_id: String,
    msg_id: Option<MessageId>,
    seq: Option<Seq>,
    time: Millis,
    state: SendState,
    error: Option<String>,
}

impl ChatMessage {
    /// A message the server stored.
    pub fn stored(message: Message) -> Self {
        ChatMessage {
            sender: message.sender,
            client_msg_id: message.client_msg_id,
            msg_type: message.msg_type,
            content: message.content,
            msg_id: Some(message.msg_id),
            seq: Some(message.seq),
            time: message.time,
            state: SendState::Sent,
            error: None,
        }
    }

    /// The row key for `<For>`.
    pub fn key(&self) -> MessageKey {
        MessageKey {
            sender: self.sender,
            client_msg_id: self.client_msg_id.0.clone(),
            msg_id: self.msg_id,
            seq: self.seq,
            time: self.time,
            state: self.state,
            error: self.error.clone(),
        }
    }

    fn same_message(&self, other: &ChatMessage) -> bool {
        (self.msg_id.is_some() && self.msg_id == other.msg_id)
            || (self.sender == other.sender && self.client_msg_id == other.client_msg_id)
            || (self.seq.is_some() && self.seq == other.seq)
    }
}

/// The messages of one chat that this tab has loaded.
///
/// Stored messages are kept sorted by `seq`, never duplicated (by `msg_id`, by the sender's
/// `client_msg_id`, and by `seq`); this tab's unacknowledged sends follow them in the order they
/// were written.
#[derive(Clone, Debug, Default)]
pub struct Thread {
    /// `None` for a draft: a chat with someone we have not written with yet.
    pub conversation: Option<ConversationId>,
    pub messages: Vec<ChatMessage>,
    /// The latest page was read (or this is a draft): `known` is meaningful.
    pub loaded: bool,
    pub loading: bool,
    /// Older history exists on the server beyond the oldest loaded message.
    pub has_older: bool,
    pub loading_older: bool,
    /// Highest seq up to which every message (from the first page loaded on) is present. A message
    /// with a higher seq beyond `known + 1` means a gap to fetch.
    pub known: i64,
    /// A gap fill is running.
    pub filling: bool,
}

impl Thread {
    /// A chat with no conversation yet: nothing to load, the first send starts at seq 1.
    pub fn draft() -> Self {
        Thread {
            loaded: true,
            ..Thread::default()
        }
    }

    /// A chat for an existing conversation, to be loaded.
    pub fn for_conversation(conversation: ConversationId) -> Self {
        Thread {
            conversation: Some(conversation),
            ..Thread::default()
        }
    }

    /// Adds a message, or updates the one it duplicates (a server copy replaces this tab's pending
    /// one, keeping its place in `seq` order).
    pub fn upsert(&mut self, incoming: ChatMessage) {
        match self.messages.iter_mut().find(|m| m.same_message(&incoming)) {
            Some(existing) => {
                if incoming.seq.is_some() || existing.seq.is_none() {
                    *existing = incoming;
                }
            }
            None => self.messages.push(incoming),
        }
        // Stable: pending sends (no seq) keep their order after every stored message.
        self.messages
            .sort_by_key(|m| m.seq.map_or(i64::MAX, |s| s.0));
        self.advance_known();
    }

    /// Adds a page of stored messages.
    pub fn merge(&mut self, messages: Vec<Message>) {
        for message in messages {
            self.upsert(ChatMessage::stored(message));
        }
    }

    /// Marks the latest page as read in: everything from its first message on is now contiguous.
    pub fn mark_loaded(&mut self, first_seq_of_page: Option<Seq>, has_older: bool) {
        self.loaded = true;
        self.has_older = has_older && first_seq_of_page.is_some_and(|s| s.0 > 1);
        self.known = first_seq_of_page.map_or(0, |s| s.0 - 1);
        self.advance_known();
    }

    fn advance_known(&mut self) {
        if !self.loaded {
            return;
        }
        while self.has_seq(self.known + 1) {
            self.known += 1;
        }
    }

    fn has_seq(&self, seq: i64) -> bool {
        self.messages.iter().any(|m| m.seq == Some(Seq(seq)))
    }

    /// Highest stored seq loaded (0 when none).
    pub fn max_seq(&self) -> i64 {
        self.messages
            .iter()
            .filter_map(|m| m.seq)
            .map(|s| s.0)
            .max()
            .unwrap_or(0)
    }

    /// Lowest stored seq loaded.
    pub fn min_seq(&self) -> Option<i64> {
        self.messages
            .iter()
            .filter_map(|m| m.seq)
            .map(|s| s.0)
            .min()
    }

    /// Messages are missing between `known` and the newest one loaded.
    pub fn has_gap(&self) -> bool {
        self.loaded && self.max_seq() > self.known
    }

    /// Whether this thread holds the message (stored copy or pending send).
    pub fn holds(&self, sender: UserId, client_msg_id: &ClientMsgId) -> bool {
        self.messages
            .iter()
            .any(|m| m.sender == sender && &m.client_msg_id == client_msg_id)
    }

    /// Forgets stored messages (after a stream reset), keeping this tab's unacknowledged sends.
    pub fn forget_stored(&mut self) {
        self.messages.retain(|m| m.seq.is_none());
        self.loaded = self.conversation.is_none();
        self.loading = false;
        self.has_older = false;
        self.known = 0;
    }

    /// Sets a pending message's state.
    pub fn set_state(
        &mut self,
        sender: UserId,
        client_msg_id: &ClientMsgId,
        state: SendState,
        error: Option<String>,
    ) {
        if let Some(m) = self
            .messages
            .iter_mut()
            .find(|m| m.sender == sender && &m.client_msg_id == client_msg_id && m.seq.is_none())
        {
            m.state = state;
            m.error = error;
        }
    }
}

/// Applies a new message to the conversation list. Returns false when the conversation is not in
/// the list (the caller reloads it).
pub fn summary_apply_message(
    list: &mut [ConversationSummary],
    message: &Message,
    me: UserId,
) -> bool {
    let Some(summary) = list.iter_mut().find(|c| c.id == message.conversation) else {
        return false;
    };
    let newer = summary
        .last_message
        .as_ref()
        .is_none_or(|last| last.seq <= message.seq);
    if newer {
        summary.last_message = Some(message.clone());
    }
    if message.seq > summary.max_seq {
        summary.max_seq = message.seq;
    }
    // The server moves the sender's read position with every send.
    if message.sender == me && message.seq > summary.read_seq {
        summary.read_seq = message.seq;
    }
    summary.unread = (summary.max_seq.0 - summary.read_seq.0).max(0);
    sort_summaries(list);
    true
}

/// Applies a read position (which only moves forward) to the conversation list.
pub fn summary_apply_read(
    list: &mut [ConversationSummary],
    conversation: &ConversationId,
    read_seq: Seq,
) {
    if let Some(summary) = list.iter_mut().find(|c| &c.id == conversation) {
        if read_seq > summary.read_seq {
            summary.read_seq = read_seq;
        }
        summary.unread = (summary.max_seq.0 - summary.read_seq.0).max(0);
    }
}

/// Newest activity first (stable, so equal times keep the server's order).
pub fn sort_summaries(list: &mut [ConversationSummary]) {
    list.sort_by_key(|c| std::cmp::Reverse(c.last_message.as_ref().map_or(0, |m| m.time)));
}

/// State of the tab's event stream.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SyncState {
    Connecting,
    Live,
    Reconnecting,
}

impl SyncState {
    /// The value of `#sync-status[data-state]`.
    pub fn as_str(self) -> &'static str {
        match self {
            SyncState::Connecting => "connecting",
            SyncState::Live => "live",
            SyncState::Reconnecting => "reconnecting",
        }
    }

    /// What people see.
    pub fn label(self) -> &'static str {
        match self {
            SyncState::Connecting => "connecting…",
            SyncState::Live => "live",
            SyncState::Reconnecting => "reconnecting…",
        }
    }
}

/// The tab's state. Every field is a reactive handle, so `Store` is `Copy`.
#[derive(Clone, Copy)]
pub struct Store {
    /// Who we are; `None` until the session is established.
    pub me: RwSignal<Option<Me>>,
    /// The conversation list, newest activity first.
    pub conversations: RwSignal<Vec<ConversationSummary>>,
    /// The conversation list has been read at least once.
    pub conversations_loaded: RwSignal<bool>,
    /// Loaded chats.
    pub threads: RwSignal<HashMap<ChatKey, Thread>>,
    /// The chat shown on the right.
    pub open_chat: RwSignal<Option<ChatKey>>,
    /// The page shown.
    pub tab: RwSignal<Tab>,
    pub sync: RwSignal<SyncState>,
    /// An error for people, shown in the banner until dismissed.
    pub banner: RwSignal<Option<String>>,
    /// The tab is visible (not in the background).
    pub visible: RwSignal<bool>,
    /// Read positions already sent (or being sent), so an update is posted once.
    pub(crate) reads_posted: StoredValue<HashMap<ConversationId, Seq>>,
    /// A conversation-list reload is running / another one was asked for meanwhile.
    pub(crate) list_reload: StoredValue<(bool, bool)>,

    /// My friends (the versioned friend list), cached in localStorage.
    pub friends: RwSignal<Vec<UserId>>,
    /// My groups (the versioned group list), cached in localStorage.
    pub groups: RwSignal<Vec<GroupId>>,
    /// Profiles this tab knows (friends, group members, senders), cached by `time`.
    pub profiles: RwSignal<HashMap<UserId, Profile>>,
    /// Group details this tab knows, cached by `time`.
    pub group_infos: RwSignal<HashMap<GroupId, GroupInfo>>,
    /// The lists were synced with the server at least once since the page loaded.
    pub lists_synced: RwSignal<bool>,
    /// The list versions held (those of `friends` and `groups`).
    pub(crate) versions: StoredValue<ListVersions>,
    /// A list sync is running / another one was asked for meanwhile / that one revalidates.
    pub(crate) list_sync: StoredValue<(bool, bool, bool)>,
    /// Profiles and groups whose details are being fetched.
    pub(crate) fetching: StoredValue<(HashSet<UserId>, HashSet<GroupId>)>,
    /// Pending friend requests to and from me.
    pub friend_requests: RwSignal<FriendRequests>,
    /// Users I blocked.
    pub blocks: RwSignal<Vec<UserId>>,
    /// Friends online now; `None` while unknown (or when the server has no presence).
    pub presence: RwSignal<Option<HashSet<UserId>>>,
    /// Pending group invitations to me and from me.
    pub group_invites: RwSignal<GroupInvites>,
    /// Member lists and join requests of groups (one signal: each signal type costs the module
    /// its own copy of Leptos's signal code).
    pub group_lists: RwSignal<GroupLists>,
    /// The group whose details are shown on the Groups page.
    pub selected_group: RwSignal<Option<GroupId>>,
    /// A friend invite code from an opened `?add=CODE` link, waiting for confirmation.
    pub pending_add: RwSignal<Option<String>>,
    /// A group from an opened `?join=GID` link.
    pub pending_join: RwSignal<Option<GroupId>>,
    /// Uploaded files and this tab's uploads (one signal: each signal type costs the module its
    /// own copy of Leptos's signal code).
    pub files: RwSignal<Files>,
    /// Who is typing where, each until when (ms since the epoch).
    pub typing: RwSignal<HashMap<ConversationId, Vec<(UserId, Millis)>>>,
    /// When this tab last said it is typing.
    pub(crate) typing_sent: StoredValue<Millis>,
}

/// Lists about groups that this tab loaded or received.
#[derive(Clone, Debug, Default)]
pub struct GroupLists {
    /// Member lists of the groups whose details were opened.
    pub members: HashMap<GroupId, Vec<GroupMember>>,
    /// Pending join requests to groups I manage, by group (those loaded or received live).
    pub join_requests: HashMap<GroupId, Vec<GroupJoinRequest>>,
    /// My own join requests, by group (the latest state of each).
    pub my_join_requests: HashMap<GroupId, GroupJoinRequest>,
}

/// What this tab knows about uploaded files.
#[derive(Clone, Debug, Default)]
pub struct Files {
    /// Files this tab knows the state of (from `GET /api/files/{id}`, `file_ready`, and its own
    /// uploads).
    pub info: HashMap<FileId, FileInfo>,
    /// Uploads this tab runs or ran: progress, or why they stopped.
    pub uploads: HashMap<FileId, Upload>,
}

/// An upload of this tab.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Upload {
    /// Bytes the server has (or that the browser has sent in the running request).
    pub sent: u64,
    pub size: u64,
    pub running: bool,
    /// Why it stopped (cancelled, failed); it can be retried.
    pub error: Option<String>,
}

impl Upload {
    /// Progress in whole percent.
    pub fn percent(&self) -> u64 {
        (self.sent * 100)
            .checked_div(self.size)
            .unwrap_or(100)
            .min(100)
    }
}

impl Store {
    fn new() -> Self {
        Store {
            me: RwSignal::new(None),
            conversations: RwSignal::new(Vec::new()),
            conversations_loaded: RwSignal::new(false),
            threads: RwSignal::new(HashMap::new()),
            open_chat: RwSignal::new(None),
            tab: RwSignal::new(Tab::Chats),
            sync: RwSignal::new(SyncState::Connecting),
            banner: RwSignal::new(None),
            visible: RwSignal::new(crate::util::page_visible()),
            reads_posted: StoredValue::new(HashMap::new()),
            list_reload: StoredValue::new((false, false)),
            friends: RwSignal::new(Vec::new()),
            groups: RwSignal::new(Vec::new()),
            profiles: RwSignal::new(HashMap::new()),
            group_infos: RwSignal::new(HashMap::new()),
            lists_synced: RwSignal::new(false),
            versions: StoredValue::new(ListVersions::default()),
            list_sync: StoredValue::new((false, false, false)),
            fetching: StoredValue::new(Default::default()),
            friend_requests: RwSignal::new(FriendRequests::default()),
            blocks: RwSignal::new(Vec::new()),
            presence: RwSignal::new(None),
            group_invites: RwSignal::new(GroupInvites::default()),
            group_lists: RwSignal::new(GroupLists::default()),
            selected_group: RwSignal::new(None),
            pending_add: RwSignal::new(None),
            pending_join: RwSignal::new(None),
            files: RwSignal::new(Files::default()),
            typing: RwSignal::new(HashMap::new()),
            typing_sent: StoredValue::new(0),
        }
    }

    /// Our uid, once known.
    pub fn my_uid(&self) -> Option<UserId> {
        self.me.with_untracked(|me| me.as_ref().map(|m| m.uid))
    }

    /// The chat of a conversation, from the list, a loaded thread or a known group.
    pub fn chat_of(&self, conversation: &ConversationId) -> Option<ChatKey> {
        self.conversations
            .with_untracked(|list| {
                list.iter()
                    .find(|c| &c.id == conversation)
                    .and_then(ChatKey::of)
            })
            .or_else(|| {
                self.threads.with_untracked(|threads| {
                    threads
                        .iter()
                        .find(|(_, t)| t.conversation.as_ref() == Some(conversation))
                        .map(|(key, _)| *key)
                })
            })
            .or_else(|| {
                self.group_infos.with_untracked(|infos| {
                    infos
                        .values()
                        .find(|g| &g.conversation == conversation)
                        .map(|g| ChatKey::Group(g.gid))
                })
            })
    }

    /// The list entry for a chat.
    pub fn summary_for(&self, key: ChatKey) -> Option<ConversationSummary> {
        self.conversations
            .with_untracked(|list| list.iter().find(|c| ChatKey::of(c) == Some(key)).cloned())
    }

    /// The conversation of a chat, when known without a list entry (a group's).
    pub fn known_conversation(&self, key: ChatKey) -> Option<ConversationId> {
        match key {
            ChatKey::User(_) => None,
            ChatKey::Group(gid) => self
                .group_infos
                .with_untracked(|infos| infos.get(&gid).map(|g| g.conversation.clone())),
        }
    }

    /// A user's nick name, from the cached profiles or a loaded member list (tracked).
    pub fn nick_of(&self, uid: UserId) -> Option<String> {
        self.profiles
            .with(|p| p.get(&uid).map(|p| p.nick_name.clone()))
            .or_else(|| {
                self.group_lists.with(|GroupLists { members: m, .. }| {
                    m.values()
                        .flatten()
                        .find(|x| x.uid == uid)
                        .map(|x| x.nick_name.clone())
                })
            })
    }

    /// A group's name, from the cached details or the conversation list (tracked).
    pub fn group_name(&self, gid: GroupId) -> Option<String> {
        self.group_infos
            .with(|g| g.get(&gid).map(|g| g.gname.clone()))
            .or_else(|| {
                self.conversations.with(|list| {
                    list.iter()
                        .filter_map(|c| c.group.as_ref())
                        .find(|g| g.gid == gid)
                        .map(|g| g.gname.clone())
                })
            })
    }

    /// Opens a page.
    pub fn go(&self, tab: Tab) {
        self.tab.set(tab);
    }

    /// Shows an error in the banner.
    pub fn show_error(&self, message: impl Into<String>) {
        self.banner.set(Some(message.into()));
    }
}

/// Creates the tab's store and provides it to every component below.
pub fn provide_store() -> Store {
    let store = Store::new();
    provide_context(store);
    store
}

/// The tab's store (provided by `App`).
pub fn use_store() -> Store {
    use_context::<Store>().expect("App provides the Store before any component uses it")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn msg(seq: i64, sender: i64, cmid: &str) -> Message {
        Message {
            msg_id: MessageId(100 + seq),
            conversation: ConversationId("c".into()),
            seq: Seq(seq),
            sender: UserId(sender),
            msg_type: MsgType::Text,
            content: format!("m{seq}"),
            time: seq,
            client_msg_id: ClientMsgId(cmid.into()),
        }
    }

    #[test]
    fn a_server_copy_replaces_the_pending_send_and_nothing_is_duplicated() {
        let mut t = Thread::draft();
        t.upsert(ChatMessage {
            sender: UserId(1),
            client_msg_id: ClientMsgId("a".into()),
            msg_type: MsgType::Text,
            content: "hi".into(),
            msg_id: None,
            seq: None,
            time: 0,
            state: SendState::Sending,
            error: None,
        });
        t.merge(vec![msg(1, 1, "a"), msg(1, 1, "a")]);
        assert_eq!(t.messages.len(), 1);
        assert_eq!(t.messages[0].state, SendState::Sent);
        assert_eq!(t.known, 1);
    }

    #[test]
    fn a_message_beyond_known_plus_one_is_a_gap_until_filled() {
        let mut t = Thread::for_conversation(ConversationId("c".into()));
        t.merge(vec![msg(3, 2, "x"), msg(4, 2, "y")]);
        t.mark_loaded(Some(Seq(3)), true);
        assert_eq!(t.known, 4);
        t.merge(vec![msg(7, 2, "z")]);
        assert!(t.has_gap());
        t.merge(vec![msg(6, 2, "w"), msg(5, 2, "v")]);
        assert!(!t.has_gap());
        let seqs: Vec<_> = t
            .messages
            .iter()
            .filter_map(|m| m.seq.map(|s| s.0))
            .collect();
        assert_eq!(seqs, vec![3, 4, 5, 6, 7]);
    }
}
