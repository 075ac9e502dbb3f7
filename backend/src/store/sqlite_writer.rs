//! The SQLite store's batch of sends, run straight through on the writer thread.
//!
//! The sqlx path ([`super::sends`]) hands every statement of a batch to the connection's own
//! worker thread and waits for its rows to come back, a dozen hand-offs per batch, each with
//! its arguments converted twice (to the `Any` driver's values, then to SQLite's). Here the
//! writer thread owns a connection of its own and runs the batch's statements itself, prepared
//! once and cached. The rules are the sqlx path's, statement for statement (see the module
//! notes of [`super::sends`]), except that values read in an earlier batch are used again while
//! no other connection has committed since ([`Remembered`]); only the SQLite store takes this
//! path, and PostgreSQL keeps the
//! sqlx one. The sqlx writer connection is held while a batch runs (the caller takes it from
//! its pool), so other writers still take turns with the sends.

use super::contacts::MessageFacts;
use super::sends::{Batch, newest_of_senders, participants_of};
use super::{NewMessage, SendOutcome, StoreError, msg_type_str, parse_enum, parse_msg_type};
use crate::notify::Payload;
use rusqlite::{Connection, OpenFlags, OptionalExtension, TransactionBehavior, params};
use shared::{ConversationId, Cursor, Event, Message, MessageId, Seq, Target, UserId};
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::time::Duration;

/// The writer connection's settings: those of the sqlx writer (see `Store::open`; its busy
/// timeout is set below, its page size and WAL mode belong to the database, already made),
/// except foreign keys. SQLite checks each row's references with a lookup in the parent table
/// (two per message, one per event: 4% of this connection's instructions in callgrind), and a
/// batch establishes them itself: the sender is signed in, the recipient is read before the
/// conversation is made (`UnknownRecipient` otherwise), a group's members are read from the
/// conversation's members, and users and conversations are never deleted.
const PRAGMAS: &str = concat!(sqlite_writer_settings!(), " PRAGMA foreign_keys = OFF;");

impl From<rusqlite::Error> for StoreError {
    fn from(error: rusqlite::Error) -> Self {
        StoreError::Sqlite(error)
    }
}

/// Opens the send writer's connection to the database at `path` (already created and migrated,
/// in WAL mode), through the VFS that gathers each commit's WAL frames into large writes
/// ([`super::wal_vfs`]).
pub(super) fn open(path: &str) -> Result<Connection, StoreError> {
    super::wal_vfs::register().map_err(StoreError::Corrupt)?;
    let conn = Connection::open_with_flags_and_vfs(
        path,
        OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX,
        super::wal_vfs::NAME,
    )?;
    conn.busy_timeout(Duration::from_secs(10))?;
    conn.execute_batch(PRAGMAS)?;
    conn.set_prepared_statement_cache_capacity(32);
    Ok(conn)
}

/// Copies the WAL's pages not yet in the database into it (a passive checkpoint), between two
/// batches. `false` when another checkpoint held it off (it is then asked again after the next
/// batch); a failure is logged and left to the next checkpoints.
pub(super) fn copy_wal_tail(conn: &Connection) -> bool {
    match conn.query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |row| {
        row.get::<_, i64>(0)
    }) {
        Ok(busy) => busy == 0,
        Err(error) => {
            tracing::warn!(error = %error, "checkpoint of the WAL's tail failed");
            true
        }
    }
}

/// What the writer's connection read or wrote in earlier batches and may use again: the
/// conversations' newest seqs, the users' event heads, and the facts deciding one-to-one sends
/// (blocks, friends, privacy, shared groups). Good only while no other connection has committed
/// since this one's last transaction, which SQLite's `PRAGMA data_version` tells (it changes
/// with every commit of another connection, never with this one's own): checked at the start
/// of each batch, inside its transaction, so nothing can commit in between. The facts' tables
/// are only ever written by other connections; the counters are kept as this connection
/// writes them. Under a stream of sends this spares three lookups per message (a
/// conversation's seq, two users' event heads) and the facts query.
#[derive(Default)]
pub(super) struct Remembered {
    data_version: Option<i64>,
    max_seq: HashMap<ConversationId, i64>,
    event_head: HashMap<UserId, i64>,
    facts: HashMap<(UserId, UserId), Option<MessageFacts>>,
}

/// Entries past which [`Remembered`] starts over (a few MB).
const REMEMBERED_CAP: usize = 100_000;

impl Remembered {
    /// Forgets everything unless this connection made the last commit (see [`Remembered`]).
    fn check(&mut self, tx: &rusqlite::Transaction<'_>) -> Result<(), StoreError> {
        let version: i64 = tx.query_row("PRAGMA data_version", [], |row| row.get(0))?;
        let size = self.max_seq.len() + self.event_head.len() + self.facts.len();
        if self.data_version != Some(version) || size > REMEMBERED_CAP {
            self.forget();
        }
        self.data_version = Some(version);
        Ok(())
    }

    /// Forgets everything (after a transaction that did not commit).
    fn forget(&mut self) {
        self.data_version = None;
        self.max_seq.clear();
        self.event_head.clear();
        self.facts.clear();
    }
}

/// Stores `sends` in one transaction on `conn`. Returns the batch's decisions for
/// [`Batch::finish`] (called after the commit).
pub(super) fn send_batch<'s>(
    conn: &mut Connection,
    remembered: &mut Remembered,
    known: &super::sends::KnownConversations,
    sends: &[&'s NewMessage],
) -> Result<Batch<'s>, StoreError> {
    let result = write_batch(conn, remembered, known, sends);
    if result.is_err() {
        // Rolled back: what was remembered during it may not be in the database.
        remembered.forget();
    }
    result
}

fn write_batch<'s>(
    conn: &mut Connection,
    remembered: &mut Remembered,
    known: &super::sends::KnownConversations,
    sends: &[&'s NewMessage],
) -> Result<Batch<'s>, StoreError> {
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    remembered.check(&tx)?;
    let mut batch = Batch::new(sends.len());

    // Idempotency against what is stored.
    {
        let mut find = tx.prepare_cached(
            "SELECT msg_id, conversation, seq, msg_type, content, time FROM messages \
             WHERE sender = ?1 AND client_msg_id = ?2",
        )?;
        for (i, send) in sends.iter().enumerate() {
            let stored = find
                .query_row(params![send.sender.0, send.client_msg_id.0], |row| {
                    Ok((
                        row.get::<_, i64>(0)?,
                        row.get::<_, String>(1)?,
                        row.get::<_, i64>(2)?,
                        row.get::<_, String>(3)?,
                        row.get::<_, String>(4)?,
                        row.get::<_, i64>(5)?,
                    ))
                })
                .optional()?;
            if let Some((msg_id, conversation, seq, msg_type, content, time)) = stored {
                batch.outcomes[i] = Some(SendOutcome::Duplicate(Message {
                    msg_id: MessageId(msg_id),
                    conversation: ConversationId(conversation),
                    seq: Seq(seq),
                    sender: send.sender,
                    msg_type: parse_msg_type(&msg_type)?,
                    content,
                    time,
                    client_msg_id: send.client_msg_id.clone(),
                }));
            }
        }
    }

    // Members of the groups sent to; only members send.
    let groups: BTreeSet<&ConversationId> = (0..sends.len())
        .filter(|&i| batch.outcomes[i].is_none() && matches!(sends[i].to, Target::Group(_)))
        .map(|i| &sends[i].conversation)
        .collect();
    if !groups.is_empty() {
        let mut members = tx.prepare_cached(
            "SELECT uid FROM conversation_members WHERE conversation = ?1 ORDER BY uid",
        )?;
        for conv in groups {
            let uids = members
                .query_map(params![conv.0], |row| row.get::<_, i64>(0).map(UserId))?
                .collect::<Result<Vec<_>, _>>()?;
            batch.members.insert(conv.clone(), uids);
        }
    }
    batch.refuse_non_members(sends);

    // One-to-one sends their recipients do not accept (blocks, privacy), as committed now.
    {
        let share = super::contacts::share_group_sql("?1", "?2");
        let sql = format!(
            "SELECT u.msg_policy, \
             (SELECT COUNT(*) FROM user_block b WHERE b.uid = ?2 AND b.blocked_uid = ?1), \
             (SELECT COUNT(*) FROM user_block b WHERE b.uid = ?1 AND b.blocked_uid = ?2), \
             (SELECT COUNT(*) FROM user_friend f WHERE f.uid = ?1 AND f.friend_uid = ?2), \
             CASE WHEN u.msg_policy = 'group_members' AND {share} THEN 1 ELSE 0 END \
             FROM users u WHERE u.uid = ?2"
        );
        let mut facts_of = tx.prepare_cached(&sql)?;
        let facts = &mut remembered.facts;
        for (i, send) in sends.iter().enumerate() {
            let (&Target::User(recipient), Some(accepts), None) =
                (&send.to, send.accepts, &batch.outcomes[i])
            else {
                continue;
            };
            let pair = (send.sender, recipient);
            let pair_facts = match facts.get(&pair) {
                Some(known) => *known,
                None => {
                    let row = facts_of
                        .query_row(params![pair.0.0, pair.1.0], |row| {
                            Ok((
                                row.get::<_, String>(0)?,
                                row.get::<_, i64>(1)?,
                                row.get::<_, i64>(2)?,
                                row.get::<_, i64>(3)?,
                                row.get::<_, i64>(4)?,
                            ))
                        })
                        .optional()?;
                    let read = match row {
                        Some((policy, by_recipient, by_sender, friends, share_group)) => {
                            Some(MessageFacts {
                                msg_policy: parse_enum(&policy)?,
                                blocked_by_recipient: by_recipient != 0,
                                blocked_by_sender: by_sender != 0,
                                friends: friends != 0,
                                share_group: share_group != 0,
                            })
                        }
                        None => None,
                    };
                    facts.insert(pair, read);
                    read
                }
            };
            // A recipient that does not exist has no facts: the send fails as `UnknownRecipient`.
            if let Some(pair_facts) = pair_facts
                && !accepts(&pair_facts)
            {
                batch.outcomes[i] = Some(SendOutcome::Refused(pair_facts));
            }
        }
    }

    // Recipients of one-to-one conversations not known to exist yet: create the conversation
    // (unless it exists) when the recipient does.
    {
        let mut user_exists = tx.prepare_cached("SELECT 1 FROM users WHERE uid = ?1")?;
        let mut add_conversation = tx.prepare_cached(
            "INSERT INTO conversations (id, kind, max_seq, last_time, created_at) \
             VALUES (?1, 'direct', 0, ?2, ?2) ON CONFLICT (id) DO NOTHING",
        )?;
        let mut add_member = tx.prepare_cached(
            "INSERT INTO conversation_members (conversation, uid, peer_uid, read_seq, joined_at) \
             VALUES (?1, ?2, ?3, 0, ?4) ON CONFLICT (conversation, uid) DO NOTHING",
        )?;
        let now = sends[0].now;
        for (i, send) in sends.iter().enumerate() {
            let &Target::User(recipient) = &send.to else {
                continue;
            };
            if batch.outcomes[i].is_some()
                || known.contains(&send.conversation)
                || batch.created.contains(&send.conversation)
            {
                continue;
            }
            if !user_exists.exists(params![recipient.0])? {
                batch.outcomes[i] = Some(SendOutcome::UnknownRecipient);
                continue;
            }
            add_conversation.execute(params![send.conversation.0, now])?;
            for (uid, peer) in [(send.sender, recipient), (recipient, send.sender)] {
                add_member.execute(params![send.conversation.0, uid.0, peer.0, now])?;
            }
            batch.created.insert(send.conversation.clone());
        }
    }

    if !batch.split_repeats(sends) {
        tx.commit()?;
        return Ok(batch);
    }
    // Seqs, numbered in batch order.
    let (now, per_conv) = batch.seq_counts(sends);
    let mut next_seq: HashMap<&ConversationId, i64> = HashMap::with_capacity(per_conv.len());
    {
        // A read and a write rather than one `UPDATE ... RETURNING`: SQLite gathers RETURNING
        // rows in a temporary table, opened and freed per statement (see the events' cursors below).
        let mut head = tx.prepare_cached("SELECT max_seq FROM conversations WHERE id = ?1")?;
        let mut reserve = tx.prepare_cached(
            "UPDATE conversations SET max_seq = ?1, last_time = ?2 WHERE id = ?3",
        )?;
        for (conv, count) in &per_conv {
            let last = match remembered.max_seq.get(*conv) {
                Some(&last) => last,
                None => head
                    .query_row(params![conv.0], |row| row.get(0))
                    .optional()?
                    .ok_or_else(|| StoreError::Corrupt(format!("no conversation {conv}")))?,
            };
            reserve.execute(params![last + count, now, conv.0])?;
            remembered.max_seq.insert((*conv).clone(), last + count);
            next_seq.insert(conv, last + 1);
        }
    }

    // The messages, and each sender's read position at their newest one.
    {
        let mut insert = tx.prepare_cached(
            "INSERT INTO messages (conversation, seq, sender, client_msg_id, msg_type, content, \
             time) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
        )?;
        for &i in &batch.accepted {
            let send = sends[i];
            let seq = next_seq
                .get_mut(&send.conversation)
                .ok_or_else(|| StoreError::Corrupt(format!("no seq for {}", send.conversation)))?;
            insert.execute(params![
                send.conversation.0,
                *seq,
                send.sender.0,
                send.client_msg_id.0,
                msg_type_str(send.msg_type),
                send.content,
                send.now,
            ])?;
            batch
                .messages
                .push(send.message(MessageId(tx.last_insert_rowid()), Seq(*seq)));
            *seq += 1;
        }
        let mut read = tx.prepare_cached(
            "UPDATE conversation_members SET read_seq = ?1 WHERE conversation = ?2 AND uid = ?3",
        )?;
        for ((conv, uid), seq) in newest_of_senders(&batch.messages) {
            read.execute(params![seq, conv.0, uid.0])?;
        }
    }

    // Events: cursors in batch order per user.
    batch.participants = batch
        .accepted
        .iter()
        .map(|&i| participants_of(sends[i], &batch.members))
        .collect();
    let mut counts: BTreeMap<UserId, i64> = BTreeMap::new();
    for uid in batch.participants.iter().flatten() {
        *counts.entry(*uid).or_default() += 1;
    }
    let mut next: HashMap<UserId, i64> = HashMap::with_capacity(counts.len());
    {
        // As for seqs: a read and a write. `UPDATE ... RETURNING` made SQLite open, fill and
        // free a temporary table per user (a B-tree and its pager, with their allocations):
        // 14% of this thread's time in `perf`, with the seqs' reservation above.
        let mut read = tx.prepare_cached("SELECT event_head FROM users WHERE uid = ?1")?;
        let mut reserve = tx.prepare_cached("UPDATE users SET event_head = ?1 WHERE uid = ?2")?;
        for (uid, count) in &counts {
            let head = match remembered.event_head.get(uid) {
                Some(&head) => head,
                None => read
                    .query_row(params![uid.0], |row| row.get(0))
                    .optional()?
                    .ok_or_else(|| StoreError::Corrupt(format!("no user {uid}")))?,
            };
            reserve.execute(params![head + count, uid.0])?;
            remembered.event_head.insert(*uid, head + count);
            next.insert(*uid, head + 1);
        }
    }
    {
        let mut insert = tx.prepare_cached(
            "INSERT INTO events (uid, cursor, payload, time) VALUES (?1, ?2, ?3, ?4)",
        )?;
        for (message, users) in batch.messages.iter().zip(&batch.participants) {
            let payload = Payload::from(
                serde_json::to_string(&Event::Message {
                    message: message.clone(),
                })
                .map_err(|e| StoreError::Corrupt(format!("event does not serialize: {e}")))?,
            );
            for uid in users {
                let cursor = next
                    .get_mut(uid)
                    .ok_or_else(|| StoreError::Corrupt(format!("no cursor for {uid}")))?;
                insert.execute(params![uid.0, *cursor, &*payload, message.time])?;
                batch
                    .published
                    .push((*uid, Cursor(*cursor), payload.clone()));
                *cursor += 1;
            }
        }
    }
    tx.commit()?;
    Ok(batch)
}
