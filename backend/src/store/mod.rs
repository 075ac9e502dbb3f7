//! Persistence. Knows SQL, knows nothing of HTTP.
//!
//! SQLite in WAL mode: every write goes through one writer connection (SQLite has a single
//! writer anyway, and queuing in the pool is cheaper than busy retries), reads use a pool.
//! Positions handed to clients (`seq`, event cursors) are allocated inside the writing
//! transaction, so a reader can never see position N+1 committed before N.

use crate::domain::PageRequest;
use contacts::MessageFacts;
use serde::Serialize;
use serde::de::DeserializeOwned;
use shared::contacts::{FriendLevel, Gender, MsgPolicy, OpenLevel, PresenceLevel};
use shared::{
    AccountKind, ClientMsgId, ConversationId, ConversationKind, ConversationSummary, Cursor, Event,
    GroupId, GroupRef, Message, MessageId, MessagePage, Millis, MsgType, Peer, Seq, Target, UserId,
};
use sqlx::any::{AnyPoolOptions, AnyRow};
use sqlx::{AnyConnection, AnyPool, Row};
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

/// The settings both writer connections share, the sqlx writer's (see `Store::open`) and the
/// send writer's own (`sqlite_writer`), so that they cannot drift apart: a macro, so that each
/// can `concat!` it with what it sets besides. (Before the modules: `macro_rules!` is in scope
/// only after its definition.)
macro_rules! sqlite_writer_settings {
    () => {
        "PRAGMA synchronous = NORMAL; PRAGMA cache_size = -4096; \
         PRAGMA wal_autocheckpoint = 150000; PRAGMA temp_store = MEMORY;"
    };
}

pub mod contacts;
pub mod files;
pub mod groups;
pub mod identity;
pub mod lists;
pub mod presence;
mod sends;
mod sqlite_writer;
mod wal_vfs;

/// Everything that can go wrong below the service layer.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("database error")]
    Database(#[from] sqlx::Error),
    /// From the SQLite send writer's own connection (see `sqlite_writer`).
    #[error("database error")]
    Sqlite(rusqlite::Error),
    #[error("migration failed")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    #[error("stored data is not what the code expects: {0}")]
    Corrupt(String),
    #[error("unsupported database URL (use sqlite:PATH or postgres://...)")]
    UnsupportedUrl,
}

/// Which database is behind the store. The SQL is shared; the few differences are decided on
/// this value, in this module only.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

/// Channel on which PostgreSQL carries wake-up hints between nodes.
pub const WAKE_CHANNEL: &str = "courier_wake";

/// A user as the service layer needs it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UserRow {
    pub uid: UserId,
    pub nick_name: String,
    pub event_head: Cursor,
    pub gender: Gender,
    pub birthday: Option<u32>,
    pub profile_time: Millis,
    pub open_level: OpenLevel,
    pub friend_level: FriendLevel,
    pub msg_policy: MsgPolicy,
    pub presence_level: PresenceLevel,
    pub friend_code: String,
    pub kind: AccountKind,
}

/// Columns of `users` that [`user_row`] reads (qualify with a table alias where needed).
pub(crate) const USER_COLUMNS: &str = "uid, nick_name, event_head, gender, birthday, profile_time, \
     open_level, friend_level, msg_policy, presence_level, friend_code, kind";

/// A user's place in a conversation.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Membership {
    /// The conversation's newest seq.
    pub max_seq: Seq,
    /// The member's history starts after this seq (when they joined a group; 0 otherwise).
    pub init_seq: Seq,
}

/// A send to a user or a group, validated by the caller. Owned, since it waits in the writer's
/// queue.
#[derive(Clone, Debug)]
pub struct NewMessage {
    pub sender: UserId,
    /// The recipient user, or the group.
    pub to: Target,
    /// `d{low}_{high}` for a user, `g{gid}` for a group.
    pub conversation: ConversationId,
    pub client_msg_id: ClientMsgId,
    pub msg_type: MsgType,
    pub content: String,
    pub now: Millis,
    /// One-to-one sends: whether the recipient accepts this message, given the facts (blocks,
    /// privacy, friendship) read inside the writing transaction, so that a block or a policy
    /// change committed before the send always applies to it. The rule is the service's.
    pub accepts: Option<AcceptRule>,
}

impl NewMessage {
    /// The message this send stores, as `msg_id` and `seq`.
    fn message(&self, msg_id: MessageId, seq: Seq) -> Message {
        Message {
            msg_id,
            conversation: self.conversation.clone(),
            seq,
            sender: self.sender,
            msg_type: self.msg_type,
            content: self.content.clone(),
            time: self.now,
            client_msg_id: self.client_msg_id.clone(),
        }
    }
}

/// Whether a recipient accepts a one-to-one send, given what the store read about the pair.
pub type AcceptRule = fn(&MessageFacts) -> bool;

/// What a send did.
#[derive(Clone, Debug)]
pub enum SendOutcome {
    /// A new message, stored with an event for each of `recipients` (sender included; every
    /// member of a group).
    Created {
        message: Message,
        recipients: Vec<UserId>,
    },
    /// The sender already sent this `client_msg_id`: the original message, nothing written.
    Duplicate(Message),
    /// The recipient does not exist; nothing written.
    UnknownRecipient,
    /// The sender is not a member of the group (or it does not exist); nothing written.
    NotAMember,
    /// The recipient does not accept it (by the send's `accepts`); nothing written.
    Refused(MessageFacts),
}

/// What a mark-read did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ReadOutcome {
    /// The user is not in the conversation (or it does not exist).
    NotMember,
    /// `seq` is beyond the conversation's newest message.
    SeqOutOfRange { max_seq: Seq },
    /// The read position now (never lower than before). `moved` tells whether an event was
    /// appended to the user's stream.
    Done {
        read_seq: Seq,
        max_seq: Seq,
        moved: bool,
    },
}

/// One poll's worth of a user's stream.
#[derive(Clone, Debug)]
pub struct EventPage {
    /// The stream's head, read before the events.
    pub head: Cursor,
    /// Each event as stored: the JSON of a `shared::Event`, passed to the client as it is.
    pub events: Vec<(Cursor, String)>,
}

/// Handle to the database; cheap to clone.
#[derive(Clone, Debug)]
pub struct Store {
    /// SQLite: one connection, the single writer. PostgreSQL: the same pool as `reader`.
    writer: AnyPool,
    reader: AnyPool,
    backend: Backend,
    /// Tags this process's wake-up hints, so that it does not wake its own waiters twice.
    node: String,
    /// Conversations known to be committed (see [`sends`]).
    known: Arc<sends::KnownConversations>,
    /// Queue of the group-commit writer task; `None` in the task itself.
    queue: Option<sends::Queue>,
    /// Where committed message events are handed to this node's parked polls (set once at
    /// start-up, shared by every clone, including the writer task's).
    published: Arc<std::sync::OnceLock<crate::notify::Notifier>>,
    /// SQLite: set by the checkpointer when the WAL should start over and only a short tail is
    /// left to copy; the send writer copies it between two batches (see [`checkpoint_forever`]).
    wal_tail_due: Arc<AtomicBool>,
}

impl Store {
    /// Opens the database at `url` (`sqlite:PATH` or `postgres://...`) and applies pending
    /// migrations. `pool_size` is the read pool for SQLite and the whole pool for PostgreSQL.
    pub async fn open(url: &str, pool_size: u32, node: &str) -> Result<Self, StoreError> {
        sqlx::any::install_default_drivers();
        let pool_size = pool_size.max(1);
        if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            let pool = AnyPoolOptions::new()
                .max_connections(pool_size)
                .acquire_timeout(Duration::from_secs(30))
                .connect(url)
                .await?;
            sqlx::migrate!("../migrations/postgres").run(&pool).await?;
            let mut store = Self {
                writer: pool.clone(),
                reader: pool,
                backend: Backend::Postgres,
                node: node.to_owned(),
                known: Arc::default(),
                queue: None,
                published: Arc::default(),
                wal_tail_due: Arc::default(),
            };
            store.start_writer(None);
            return Ok(store);
        }
        if !url.starts_with("sqlite:") {
            return Err(StoreError::UnsupportedUrl);
        }
        // In WAL mode, synchronous=NORMAL survives a process crash (kill -9); only an OS crash
        // or power loss can drop the last commits.
        //
        // The writers' page cache is 4 MiB (2,048 pages of 2 KiB; SQLite's default is 2 MB):
        // a batch of sends dirties a few hundred pages (each event row lands on its user's
        // page), and a transaction whose dirty pages outgrow the cache spills them to the WAL
        // early. It was 16 MiB, but every commit walks the whole page cache: a B-tree page
        // split parks a page at the number of SQLite's lock page (524,289 with 2 KiB pages),
        // and the end of the transaction then drops every cached page past the database's end
        // by visiting them all (`pcache1TruncateUnsafe`, 4-6% of the send writer's time in
        // `perf` with 16 MiB, 1.5% with 4 MiB). With 2 MiB the writer read pages back from the
        // WAL instead (`pread`, 10% of its time). Figures in docs/benchmarks.md, session 10.
        //
        // Checkpoints (copying the WAL back into the database) run beside the writer, on a
        // connection of their own (see `checkpoint_forever`), not inside the commit that
        // crosses the threshold: a send batch no longer waits for one. The writer's own
        // automatic checkpoint stays as a backstop, at 150,000 pages instead of 1,000
        // (above where the WAL starts over, `WAL_RESTART_PAGES`, with room for the catch-up).
        //
        // Pages of 2 KiB (a new database's; one made before keeps its 4 KiB): a send dirties
        // about four random B-tree leaves, each copied whole into the WAL, checksummed and
        // copied back by the checkpoint, so half the page is half those bytes. Sends at
        // C = 256 went from 29,100-30,000 to 31,200-32,100 a second (docs/benchmarks.md,
        // session 8); rows of this schema fit a 2 KiB page as they fit a 4 KiB one.
        //
        // Statement journals stay in memory (`temp_store = MEMORY`): a multi-row statement inside
        // a transaction keeps one so that it can be undone alone, and past 64 KiB SQLite spilled
        // it to a temporary file, created, written and deleted for every large statement of a
        // batch (a sixth of the writer thread's time in `perf`).
        const WRITER_PRAGMAS: &str = concat!(
            "PRAGMA page_size = 2048; PRAGMA journal_mode = WAL; PRAGMA busy_timeout = 10000; \
             PRAGMA foreign_keys = ON; ",
            sqlite_writer_settings!()
        );
        let path = url.split('?').next().unwrap_or(url);
        // No ping before each acquire (sqlx's default): a SQLite connection is a file handle
        // in this process, never dropped by a network, and each ping is one more round trip to
        // the connection's worker thread (a wake-up and a context switch each way).
        let writer = AnyPoolOptions::new()
            .max_connections(1)
            .min_connections(1)
            .test_before_acquire(false)
            .acquire_timeout(Duration::from_secs(60))
            .after_connect(|conn, _| sqlite_pragmas(conn, WRITER_PRAGMAS))
            .connect(&format!("{path}?mode=rwc"))
            .await?;
        sqlx::migrate!("../migrations/sqlite").run(&writer).await?;
        let checkpointer = AnyPoolOptions::new()
            .max_connections(1)
            .test_before_acquire(false)
            .acquire_timeout(Duration::from_secs(30))
            .after_connect(|conn, _| sqlite_pragmas(conn, "PRAGMA busy_timeout = 10000;"))
            .connect(&format!("{path}?mode=rw"))
            .await?;
        let wal_tail_due = Arc::new(AtomicBool::new(false));
        tokio::spawn(checkpoint_forever(
            checkpointer,
            writer.clone(),
            wal_tail_due.clone(),
        ));
        let reader = AnyPoolOptions::new()
            .max_connections(pool_size)
            .test_before_acquire(false)
            .acquire_timeout(Duration::from_secs(30))
            .after_connect(|conn, _| sqlite_pragmas(conn, "PRAGMA busy_timeout = 10000;"))
            .connect(&format!("{path}?mode=ro"))
            .await?;
        let sends = sqlite_writer::open(
            path.trim_start_matches("sqlite://")
                .trim_start_matches("sqlite:"),
        )?;
        let mut store = Self {
            writer,
            reader,
            backend: Backend::Sqlite,
            node: node.to_owned(),
            known: Arc::default(),
            queue: None,
            published: Arc::default(),
            wal_tail_due,
        };
        store.start_writer(Some(sends));
        Ok(store)
    }

    /// The URL of the default SQLite database in `data_dir`.
    pub fn sqlite_url(data_dir: &Path) -> String {
        format!("sqlite://{}", data_dir.join("courier.db").display())
    }

    /// Hands every committed message event to `notifier` (which wakes the recipients' parked
    /// polls with the event at hand). Without it, callers wake recipients themselves.
    pub fn publish_to(&self, notifier: crate::notify::Notifier) {
        let _ = self.published.set(notifier);
    }

    /// Publishes committed events (see [`Store::publish_to`]); `false` when nothing listens.
    fn publish(&self, events: &[(UserId, Cursor, crate::notify::Payload)]) -> bool {
        match self.published.get() {
            Some(notifier) => {
                notifier.publish(events);
                true
            }
            None => false,
        }
    }

    pub fn backend(&self) -> Backend {
        self.backend
    }

    /// Closes both pools, waiting for running queries.
    pub async fn close(&self) {
        self.writer.close().await;
        self.reader.close().await;
    }

    /// Creates a guest with its first session. Returns the new uid.
    pub async fn create_guest(
        &self,
        nick_name: &str,
        friend_code: &str,
        token_hash: &str,
        now: Millis,
    ) -> Result<UserId, StoreError> {
        let mut tx = self.writer.begin().await?;
        let uid: i64 = sqlx::query_scalar(
            "INSERT INTO users (nick_name, kind, created_at, profile_time, friend_code) \
             VALUES ($1, 'guest', $2, $2, $3) RETURNING uid",
        )
        .bind(nick_name)
        .bind(now)
        .bind(friend_code)
        .fetch_one(&mut *tx)
        .await?;
        sqlx::query(
            "INSERT INTO sessions (token_hash, uid, created_at, last_seen) VALUES ($1, $2, $3, $4)",
        )
        .bind(token_hash)
        .bind(uid)
        .bind(now)
        .bind(now)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(UserId(uid))
    }

    /// The user a session token (by its hash) belongs to.
    pub async fn user_by_token_hash(
        &self,
        token_hash: &str,
    ) -> Result<Option<UserRow>, StoreError> {
        let row = sqlx::query(&format!(
            "SELECT {USER_COLUMNS} FROM users WHERE uid = \
             (SELECT uid FROM sessions WHERE token_hash = $1)"
        ))
        .bind(token_hash)
        .fetch_optional(&self.reader)
        .await?;
        row.map(|r| user_row(&r)).transpose()
    }

    /// A user by uid.
    pub async fn user(&self, uid: UserId) -> Result<Option<UserRow>, StoreError> {
        let row = sqlx::query(&format!("SELECT {USER_COLUMNS} FROM users WHERE uid = $1"))
            .bind(uid.0)
            .fetch_optional(&self.reader)
            .await?;
        row.map(|r| user_row(&r)).transpose()
    }

    /// The message `sender` stored under `client_msg_id`, if any.
    pub async fn sent_message(
        &self,
        sender: UserId,
        client_msg_id: &ClientMsgId,
    ) -> Result<Option<Message>, StoreError> {
        let mut conn = self.reader.acquire().await?;
        message_by_client_id(&mut conn, sender, client_msg_id).await
    }

    /// The user's conversations, most recent activity first.
    pub async fn conversations(&self, uid: UserId) -> Result<Vec<ConversationSummary>, StoreError> {
        let rows = sqlx::query(
            "SELECT c.id, c.max_seq, cm.read_seq, cm.peer_uid, p.nick_name AS peer_nick, \
                    c.gid, g.gname, \
                    m.msg_id, m.seq, m.sender, m.client_msg_id, m.msg_type, m.content, m.time \
             FROM conversation_members cm \
             JOIN conversations c ON c.id = cm.conversation \
             LEFT JOIN users p ON p.uid = cm.peer_uid \
             LEFT JOIN group_info g ON g.gid = c.gid \
             LEFT JOIN messages m ON m.conversation = c.id AND m.seq = c.max_seq \
             WHERE cm.uid = $1 \
             ORDER BY c.last_time DESC, c.id",
        )
        .bind(uid.0)
        .fetch_all(&self.reader)
        .await?;
        rows.iter()
            .map(|r| {
                let id = ConversationId(r.try_get("id")?);
                let max_seq: i64 = r.try_get("max_seq")?;
                let read_seq: i64 = r.try_get("read_seq")?;
                let last_message = match r.try_get::<Option<i64>, _>("msg_id")? {
                    Some(_) => Some(message_from_row(r, id.clone())?),
                    None => None,
                };
                let peer = match r.try_get::<Option<i64>, _>("peer_uid")? {
                    Some(uid) => Some(Peer {
                        uid: UserId(uid),
                        nick_name: r.try_get("peer_nick")?,
                    }),
                    None => None,
                };
                let group = match r.try_get::<Option<i64>, _>("gid")? {
                    Some(gid) => Some(GroupRef {
                        gid: GroupId(gid),
                        gname: r.try_get("gname")?,
                    }),
                    None => None,
                };
                Ok(ConversationSummary {
                    kind: if group.is_some() {
                        ConversationKind::Group
                    } else {
                        ConversationKind::Direct
                    },
                    peer,
                    group,
                    id,
                    last_message,
                    max_seq: Seq(max_seq),
                    read_seq: Seq(read_seq),
                    unread: (max_seq - read_seq).max(0),
                })
            })
            .collect()
    }

    /// The user's place in a conversation; `None` if not a member.
    pub async fn membership(
        &self,
        conv: &ConversationId,
        uid: UserId,
    ) -> Result<Option<Membership>, StoreError> {
        let row = sqlx::query(
            "SELECT c.max_seq, cm.init_seq FROM conversation_members cm \
             JOIN conversations c ON c.id = cm.conversation \
             WHERE cm.conversation = $1 AND cm.uid = $2",
        )
        .bind(&conv.0)
        .bind(uid.0)
        .fetch_optional(&self.reader)
        .await?;
        row.map(|r| {
            Ok(Membership {
                max_seq: Seq(r.try_get("max_seq")?),
                init_seq: Seq(r.try_get("init_seq")?),
            })
        })
        .transpose()
    }

    /// One page of a conversation's history, ascending by seq, never at or below `floor` (where
    /// a member's history starts).
    pub async fn messages(
        &self,
        conv: &ConversationId,
        page: PageRequest,
        floor: Seq,
    ) -> Result<MessagePage, StoreError> {
        const COLUMNS: &str =
            "msg_id, seq, sender, client_msg_id, msg_type, content, time FROM messages";
        let (rows, limit, newest_first) = match page {
            PageRequest::Before { before, limit } => {
                let rows = sqlx::query(&format!(
                    "SELECT {COLUMNS} WHERE conversation = $1 AND seq < $2 AND seq > $3 \
                     ORDER BY seq DESC LIMIT $4"
                ))
                .bind(&conv.0)
                .bind(before.map_or(i64::MAX, |s| s.0))
                .bind(floor.0)
                .bind(i64::from(limit) + 1)
                .fetch_all(&self.reader)
                .await?;
                (rows, limit, true)
            }
            PageRequest::After {
                after,
                before,
                limit,
            } => {
                let rows = sqlx::query(&format!(
                    "SELECT {COLUMNS} WHERE conversation = $1 AND seq > $2 AND seq < $3 \
                     ORDER BY seq ASC LIMIT $4"
                ))
                .bind(&conv.0)
                .bind(after.0.max(floor.0))
                .bind(before.map_or(i64::MAX, |s| s.0))
                .bind(i64::from(limit) + 1)
                .fetch_all(&self.reader)
                .await?;
                (rows, limit, false)
            }
        };
        let has_more = rows.len() > limit as usize;
        let mut messages = rows
            .iter()
            .take(limit as usize)
            .map(|r| message_from_row(r, conv.clone()))
            .collect::<Result<Vec<_>, _>>()?;
        if newest_first {
            messages.reverse();
        }
        Ok(MessagePage { messages, has_more })
    }

    /// Moves the user's read position forward to `seq` (never backward), and appends a `read`
    /// event to the user's own stream when it moved.
    pub async fn mark_read(
        &self,
        conv: &ConversationId,
        uid: UserId,
        seq: Seq,
        now: Millis,
    ) -> Result<(ReadOutcome, Option<UserId>), StoreError> {
        let mut tx = self.writer.begin().await?;
        let row = sqlx::query(
            "SELECT cm.read_seq, c.max_seq FROM conversation_members cm \
             JOIN conversations c ON c.id = cm.conversation \
             WHERE cm.conversation = $1 AND cm.uid = $2",
        )
        .bind(&conv.0)
        .bind(uid.0)
        .fetch_optional(&mut *tx)
        .await?;
        let Some(row) = row else {
            return Ok((ReadOutcome::NotMember, None));
        };
        let read_seq: i64 = row.try_get("read_seq")?;
        let max_seq: i64 = row.try_get("max_seq")?;
        if seq.0 > max_seq {
            return Ok((
                ReadOutcome::SeqOutOfRange {
                    max_seq: Seq(max_seq),
                },
                None,
            ));
        }
        if seq.0 <= read_seq {
            return Ok((
                ReadOutcome::Done {
                    read_seq: Seq(read_seq),
                    max_seq: Seq(max_seq),
                    moved: false,
                },
                None,
            ));
        }
        sqlx::query(
            "UPDATE conversation_members SET read_seq = $1 WHERE conversation = $2 AND uid = $3",
        )
        .bind(seq.0)
        .bind(&conv.0)
        .bind(uid.0)
        .execute(&mut *tx)
        .await?;
        let event = Event::Read {
            conversation: conv.clone(),
            read_seq: seq,
        };
        append_event(&mut tx, uid, &event, now).await?;
        self.hint(&mut tx, &[uid]).await?;
        tx.commit().await?;
        Ok((
            ReadOutcome::Done {
                read_seq: seq,
                max_seq: Seq(max_seq),
                moved: true,
            },
            Some(uid),
        ))
    }

    /// The user's events after `after`, at most `limit`, with the stream's head read first (so
    /// that every event up to `head` had committed when the events were read).
    pub async fn events_after(
        &self,
        uid: UserId,
        after: Cursor,
        limit: u32,
    ) -> Result<EventPage, StoreError> {
        let head: Option<i64> = sqlx::query_scalar("SELECT event_head FROM users WHERE uid = $1")
            .bind(uid.0)
            .fetch_optional(&self.reader)
            .await?;
        let head = head.ok_or_else(|| StoreError::Corrupt(format!("user {uid} has no row")))?;
        let rows = sqlx::query(
            "SELECT cursor, payload FROM events WHERE uid = $1 AND cursor > $2 \
             ORDER BY cursor LIMIT $3",
        )
        .bind(uid.0)
        .bind(after.0)
        .bind(i64::from(limit))
        .fetch_all(&self.reader)
        .await?;
        let events = rows
            .iter()
            .map(|r| Ok((Cursor(r.try_get("cursor")?), r.try_get("payload")?)))
            .collect::<Result<Vec<_>, StoreError>>()?;
        Ok(EventPage {
            head: Cursor(head),
            events,
        })
    }

    /// Appends each `(uid, event)` to that user's stream inside `tx` (cursors allocated in the
    /// transaction, users locked in ascending uid order), and tells the other nodes when it
    /// commits. Returns the users to wake (locally) once the transaction committed.
    pub(crate) async fn emit(
        &self,
        tx: &mut AnyConnection,
        events: &[(UserId, Event)],
        now: Millis,
    ) -> Result<Vec<UserId>, StoreError> {
        let uids = append_events_to(self.backend, tx, events, now).await?;
        self.hint(tx, &uids).await?;
        Ok(uids)
    }

    /// Tells the other nodes, when the transaction commits, which users' streams changed.
    /// PostgreSQL delivers NOTIFY only on commit, and never for a rolled-back transaction. With
    /// SQLite there is one node, and nothing to tell.
    async fn hint(&self, tx: &mut AnyConnection, uids: &[UserId]) -> Result<(), StoreError> {
        if self.backend != Backend::Postgres {
            return Ok(());
        }
        // A NOTIFY payload must stay under 8000 bytes: a large group takes several hints.
        const MAX_HINT_BYTES: usize = 7000;
        let mut payloads = Vec::new();
        let mut payload = String::new();
        for uid in uids {
            let uid = uid.to_string();
            if !payload.is_empty() && payload.len() + uid.len() + 1 > MAX_HINT_BYTES {
                payloads.push(std::mem::take(&mut payload));
            }
            if payload.is_empty() {
                payload = format!("{}:", self.node);
            } else {
                payload.push(',');
            }
            payload.push_str(&uid);
        }
        payloads.extend((!payload.is_empty()).then_some(payload));
        for payload in payloads {
            // pg_notify returns void, which the Any driver cannot decode; select a constant.
            sqlx::query("SELECT 1 AS sent FROM (SELECT pg_notify($1, $2)) AS n")
                .bind(WAKE_CHANNEL)
                .bind(payload)
                .execute(&mut *tx)
                .await?;
        }
        Ok(())
    }

    /// Deletes events older than `before`. Returns how many were deleted.
    ///
    /// SQLite keeps no index on the events' time (migration 0006): there the events go in the
    /// order they were appended (rowid order, which is commit order: one writer at a time,
    /// each row after the last) up to the first one at or after `before`, found by reading
    /// from the oldest. Every stream thus loses a prefix, never a middle, as a poll's `reset`
    /// expects; an event older than `before` appended after a newer one (the send times of
    /// one batch differ by milliseconds) waits for the next pass. The newest event always
    /// stays: SQLite numbers a row after the largest rowid, or from 1 in an empty table, so
    /// emptying it could number an event sent meanwhile below the bound and delete it.
    pub async fn prune_events(&self, before: Millis) -> Result<u64, StoreError> {
        let (delete, bound) = if self.backend == Backend::Sqlite {
            let end: i64 = sqlx::query_scalar(
                "SELECT COALESCE(\
                 (SELECT rowid FROM events WHERE time >= $1 ORDER BY rowid LIMIT 1), \
                 (SELECT MAX(rowid) FROM events), 0)",
            )
            .bind(before)
            .fetch_one(&self.reader)
            .await?;
            (
                "DELETE FROM events WHERE rowid IN \
                 (SELECT rowid FROM events WHERE rowid < $1 ORDER BY rowid LIMIT 5000)",
                end,
            )
        } else {
            (
                "DELETE FROM events WHERE (uid, cursor) IN \
                 (SELECT uid, cursor FROM events WHERE time < $1 LIMIT 5000)",
                before,
            )
        };
        let mut total = 0;
        loop {
            // Small batches keep the single writer available to sends.
            let deleted = sqlx::query(delete)
                .bind(bound)
                .execute(&self.writer)
                .await?
                .rows_affected();
            total += deleted;
            if deleted == 0 {
                return Ok(total);
            }
        }
    }
}

/// Appends events to users' streams, allocating cursors inside the transaction with one locking
/// UPDATE (users in ascending uid order) and inserting in chunks. Returns the distinct users,
/// ascending.
async fn append_events_to(
    backend: Backend,
    tx: &mut AnyConnection,
    events: &[(UserId, Event)],
    now: Millis,
) -> Result<Vec<UserId>, StoreError> {
    let mut counts: std::collections::BTreeMap<i64, i64> = std::collections::BTreeMap::new();
    for (uid, _) in events {
        *counts.entry(uid.0).or_default() += 1;
    }
    if counts.is_empty() {
        return Ok(Vec::new());
    }
    let mut next = sends::reserve_event_cursors(backend, tx, &counts).await?;
    // 4 parameters per row; 500 rows stay far below every bind limit.
    for chunk in events.chunks(500) {
        let rows = (0..chunk.len())
            .map(|k| {
                format!(
                    "(${}, ${}, ${}, ${})",
                    4 * k + 1,
                    4 * k + 2,
                    4 * k + 3,
                    4 * k + 4
                )
            })
            .collect::<Vec<_>>()
            .join(", ");
        let sql = format!("INSERT INTO events (uid, cursor, payload, time) VALUES {rows}");
        let sql = positional(backend, &sql);
        let mut query = sqlx::query(&sql);
        for (uid, event) in chunk {
            let cursor = next
                .get_mut(&uid.0)
                .ok_or_else(|| StoreError::Corrupt(format!("no cursor for {uid}")))?;
            let payload = serde_json::to_string(event)
                .map_err(|e| StoreError::Corrupt(format!("event does not serialize: {e}")))?;
            query = query.bind(uid.0).bind(*cursor).bind(payload).bind(now);
            *cursor += 1;
        }
        query.execute(&mut *tx).await?;
    }
    Ok(counts.into_keys().map(UserId).collect())
}

/// Appends one event to `uid`'s stream, allocating its cursor inside the transaction.
async fn append_event(
    tx: &mut AnyConnection,
    uid: UserId,
    event: &Event,
    now: Millis,
) -> Result<Cursor, StoreError> {
    let cursor: i64 = sqlx::query_scalar(
        "UPDATE users SET event_head = event_head + 1 WHERE uid = $1 RETURNING event_head",
    )
    .bind(uid.0)
    .fetch_one(&mut *tx)
    .await?;
    let payload = serde_json::to_string(event)
        .map_err(|e| StoreError::Corrupt(format!("event does not serialize: {e}")))?;
    sqlx::query("INSERT INTO events (uid, cursor, payload, time) VALUES ($1, $2, $3, $4)")
        .bind(uid.0)
        .bind(cursor)
        .bind(payload)
        .bind(now)
        .execute(&mut *tx)
        .await?;
    Ok(Cursor(cursor))
}

async fn message_by_client_id(
    tx: &mut AnyConnection,
    sender: UserId,
    client_msg_id: &ClientMsgId,
) -> Result<Option<Message>, StoreError> {
    let row = sqlx::query(
        "SELECT conversation, msg_id, seq, sender, client_msg_id, msg_type, content, time \
         FROM messages WHERE sender = $1 AND client_msg_id = $2",
    )
    .bind(sender.0)
    .bind(&client_msg_id.0)
    .fetch_optional(&mut *tx)
    .await?;
    row.map(|r| message_from_row(&r, ConversationId(r.try_get("conversation")?)))
        .transpose()
}

fn user_row(r: &AnyRow) -> Result<UserRow, StoreError> {
    let birthday: Option<i64> = r.try_get("birthday")?;
    Ok(UserRow {
        uid: UserId(r.try_get("uid")?),
        nick_name: r.try_get("nick_name")?,
        event_head: Cursor(r.try_get("event_head")?),
        gender: parse_enum(&r.try_get::<String, _>("gender")?)?,
        birthday: birthday.and_then(|b| u32::try_from(b).ok()),
        profile_time: r.try_get("profile_time")?,
        open_level: parse_enum(&r.try_get::<String, _>("open_level")?)?,
        friend_level: parse_enum(&r.try_get::<String, _>("friend_level")?)?,
        msg_policy: parse_enum(&r.try_get::<String, _>("msg_policy")?)?,
        presence_level: parse_enum(&r.try_get::<String, _>("presence_level")?)?,
        friend_code: r
            .try_get::<Option<String>, _>("friend_code")?
            .unwrap_or_default(),
        kind: parse_enum(&r.try_get::<String, _>("kind")?)?,
    })
}

/// SQL with `$1, $2, ...` rewritten to anonymous `?` parameters for SQLite, when each appears
/// once and in order (otherwise unchanged). SQLite finds a numbered parameter's name by a linear
/// scan, so binding n of them costs O(n^2): measured, 13% of the server's CPU under batched
/// sends went to `sqlite3_bind_parameter_name`. Anonymous parameters bind in O(1).
pub(crate) fn positional(backend: Backend, sql: &str) -> std::borrow::Cow<'_, str> {
    use std::borrow::Cow;
    if backend != Backend::Sqlite || !sql.contains('$') {
        return Cow::Borrowed(sql);
    }
    let mut out = String::with_capacity(sql.len());
    let mut expected = 1usize;
    let mut chars = sql.char_indices().peekable();
    while let Some((_, c)) = chars.next() {
        if c != '$' {
            out.push(c);
            continue;
        }
        let mut n = 0usize;
        let mut digits = 0;
        while let Some(&(_, d)) = chars.peek() {
            let Some(v) = d.to_digit(10) else { break };
            n = n * 10 + v as usize;
            digits += 1;
            chars.next();
        }
        if digits == 0 || n != expected {
            return Cow::Borrowed(sql);
        }
        out.push('?');
        expected += 1;
    }
    Cow::Owned(out)
}

/// The stored form of a unit enum of `shared` (its snake_case wire name), e.g. `"approval"`.
pub(crate) fn enum_str<T: Serialize>(value: &T) -> Result<String, StoreError> {
    match serde_json::to_value(value) {
        Ok(serde_json::Value::String(s)) => Ok(s),
        _ => Err(StoreError::Corrupt("not a unit enum".to_owned())),
    }
}

/// Reads a unit enum stored by [`enum_str`].
pub(crate) fn parse_enum<T: DeserializeOwned>(s: &str) -> Result<T, StoreError> {
    serde_json::from_value(serde_json::Value::String(s.to_owned()))
        .map_err(|_| StoreError::Corrupt(format!("unexpected stored value {s:?}")))
}

fn message_from_row(r: &AnyRow, conversation: ConversationId) -> Result<Message, StoreError> {
    let msg_type: String = r.try_get("msg_type")?;
    Ok(Message {
        msg_id: MessageId(r.try_get("msg_id")?),
        conversation,
        seq: Seq(r.try_get("seq")?),
        sender: UserId(r.try_get("sender")?),
        msg_type: parse_msg_type(&msg_type)?,
        content: r.try_get("content")?,
        time: r.try_get("time")?,
        client_msg_id: ClientMsgId(r.try_get("client_msg_id")?),
    })
}

type ConnectFuture<'c> =
    std::pin::Pin<Box<dyn std::future::Future<Output = Result<(), sqlx::Error>> + Send + 'c>>;

/// How often the WAL is checkpointed beside the writer (SQLite only). Under a stream of sends
/// the WAL grows by about 60,000 pages a second here, past the writer's old threshold of
/// 10,000 pages between two of these checkpoints, and the writer then checkpointed inside a
/// commit (copying and fsyncing the database while the batch's sends waited: 14% of its time
/// in `perf`); its threshold is now 150,000 pages. Checkpointing every 50 ms instead cost more
/// CPU per send (pages changed again within 200 ms are copied once, not several times) and
/// was no faster.
const CHECKPOINT_INTERVAL: Duration = Duration::from_millis(200);

/// WAL length (pages) past which it should start over from its beginning.
///
/// The WAL starts over only when a write transaction begins with every page of it copied
/// back, which a checkpoint beside a busy writer never achieves (the writer appends while it
/// copies). Until session 8 the writer's own checkpoint (then at 40,000 pages) did it:
/// copying what had accumulated since the last checkpoint here and waiting for two `fsync`s
/// of the pages written meanwhile (30-40 ms, while no send was stored: the writer spent 11%
/// of its time waiting for the disk, 96% of that in those `fsync`s). Now this task copies all
/// but a short tail and the writer copies the tail between two batches (see
/// [`checkpoint_forever`]).
///
/// That copy still waits for three `fsync`s (the WAL, the database, then the WAL's new header:
/// 5-20 ms in all, while no send is stored), so the WAL starts over as seldom as its size
/// allows. At 16,000 pages, sends at C = 256 appended that much every 0.1 s and the WAL started
/// over about five times a second, the writer waiting for the disk 8% of its time; at 64,000
/// (125 MiB of 2 KiB pages; with the catch-up the WAL peaks at 75,000-114,000 pages, and the
/// file keeps its largest size) about twice a second, and those sends went from a median of
/// 28,300 to 32,300 a second, their p99 from 32-33 ms to 27-28 ms (docs/benchmarks.md,
/// session 9).
/// (Smaller in unit tests, so that a test sees the WAL start over several times in seconds.)
pub(super) const WAL_RESTART_PAGES: i64 = if cfg!(test) { 1_000 } else { 64_000 };
/// The tail (pages appended during the last pass) short enough to leave to the writer.
const WAL_TAIL_PAGES: i64 = if cfg!(test) { 100 } else { 2_000 };
/// Most extra passes spent shortening the tail before it is left to the writer.
const WAL_CATCH_UP_PASSES: usize = 4;

/// Copies the WAL back into the database every [`CHECKPOINT_INTERVAL`] (a passive checkpoint:
/// it waits for no reader and no writer), until the writer's pool is closed.
///
/// Once the WAL is longer than [`WAL_RESTART_PAGES`], more passes follow at once, each copying
/// what was appended during the previous one, until that is at most [`WAL_TAIL_PAGES`]; then
/// `tail_due` asks the send writer to copy the rest itself after its current batch (no write
/// can come in between there, so the copy completes and the next transaction starts the WAL
/// over). Its two `fsync`s then cover a few milliseconds of writes, not a few hundred.
async fn checkpoint_forever(checkpointer: AnyPool, writer: AnyPool, tail_due: Arc<AtomicBool>) {
    let mut interval = tokio::time::interval(CHECKPOINT_INTERVAL);
    interval.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        interval.tick().await;
        if writer.is_closed() {
            checkpointer.close().await;
            return;
        }
        let Some(mut wal_pages) = checkpoint_pass(&checkpointer).await else {
            continue;
        };
        if wal_pages < WAL_RESTART_PAGES || tail_due.load(Ordering::Acquire) {
            continue;
        }
        for _ in 0..WAL_CATCH_UP_PASSES {
            match checkpoint_pass(&checkpointer).await {
                // Appended during the last pass: a short tail, or the WAL started over.
                Some(now) if now - wal_pages <= WAL_TAIL_PAGES => {
                    wal_pages = now;
                    break;
                }
                Some(now) => wal_pages = now,
                None => break,
            }
        }
        if wal_pages >= WAL_RESTART_PAGES {
            tail_due.store(true, Ordering::Release);
        }
    }
}

/// One passive checkpoint; returns the WAL's length in pages, `None` when it failed.
async fn checkpoint_pass(checkpointer: &AnyPool) -> Option<i64> {
    match sqlx::query_as::<_, (i64, i64, i64)>("PRAGMA wal_checkpoint(PASSIVE)")
        .fetch_one(checkpointer)
        .await
    {
        Ok((_busy, wal_pages, _copied)) => Some(wal_pages),
        Err(error) => {
            tracing::warn!(error = %error, "WAL checkpoint failed; the writer's own checkpoints take over");
            None
        }
    }
}

/// Sets SQLite pragmas on each new connection.
fn sqlite_pragmas<'c>(conn: &'c mut AnyConnection, pragmas: &'static str) -> ConnectFuture<'c> {
    Box::pin(async move {
        sqlx::Executor::execute(conn, pragmas).await?;
        Ok(())
    })
}

fn is_unique_violation(e: &sqlx::Error) -> bool {
    e.as_database_error()
        .is_some_and(|db| db.is_unique_violation())
}

fn msg_type_str(t: MsgType) -> &'static str {
    match t {
        MsgType::Text => "text",
        MsgType::File => "file",
        MsgType::Image => "image",
    }
}

fn parse_msg_type(s: &str) -> Result<MsgType, StoreError> {
    match s {
        "text" => Ok(MsgType::Text),
        "file" => Ok(MsgType::File),
        "image" => Ok(MsgType::Image),
        other => Err(StoreError::Corrupt(format!("unknown msg_type {other:?}"))),
    }
}

#[cfg(test)]
mod positional_tests {
    use super::{Backend, positional};

    #[test]
    fn sequential_numbered_parameters_become_anonymous_for_sqlite_only() {
        let sql = "INSERT INTO t VALUES ($1, $2), ($3, $4)";
        assert_eq!(
            positional(Backend::Sqlite, sql),
            "INSERT INTO t VALUES (?, ?), (?, ?)"
        );
        assert_eq!(positional(Backend::Postgres, sql), sql);
    }

    #[test]
    fn reused_or_unordered_parameters_are_left_alone() {
        for sql in ["a = $1 OR b = $1", "a = $2 AND b = $1", "x = $1 AND y = $3"] {
            assert_eq!(positional(Backend::Sqlite, sql), sql);
        }
    }
}
