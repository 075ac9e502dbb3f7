//! Group commit for one-to-one sends.
//!
//! One writer task per process takes the queued sends and stores up to [`MAX_BATCH`] of them in
//! one transaction, with a handful of statements per batch instead of a dozen per send. Each
//! caller is answered only after that transaction committed. The guarantees of a single send
//! hold for every send of a batch:
//! - seq per conversation is allocated inside the transaction, in batch order (so gapless and
//!   equal to commit order); so are the per-user event cursors;
//! - a `client_msg_id` already stored, or used by an earlier send of the same batch, answers
//!   with the first message and writes nothing;
//! - a send to an unknown recipient fails alone, the rest of the batch goes on;
//! - rows are locked conversations first, then users, each in ascending order (PostgreSQL);
//! - when anything fails (e.g. a PostgreSQL unique violation because another node stored the
//!   same `client_msg_id`, which aborts the whole transaction), the batch is rolled back and its
//!   sends are run again one by one, each in its own transaction, by [`Store::send_alone`].

use super::{
    Backend, NewDirectMessage, SendOutcome, Store, StoreError, message_by_client_id,
    message_from_row, msg_type_str,
};
use shared::{ClientMsgId, ConversationId, Event, Message, MessageId, Seq, UserId};
use sqlx::{AnyConnection, Row};
use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::sync::Mutex;
use tokio::sync::{mpsc, oneshot};

/// Most sends stored in one transaction (keeps every statement well under the bind limits).
pub const MAX_BATCH: usize = 128;
/// Sends waiting for the writer task before callers wait to enqueue.
const QUEUE: usize = 4096;
/// Bound of the known-conversation cache; it starts over when full.
const KNOWN_CONVERSATIONS_CAP: usize = 1_000_000;

/// One queued send and where to answer it.
pub(super) struct Job {
    send: NewDirectMessage,
    reply: oneshot::Sender<Result<SendOutcome, StoreError>>,
}

/// The queue into the writer task.
pub(super) type Queue = mpsc::Sender<Job>;

/// Conversations whose rows (and both members' rows) are known to be committed. Conversations
/// and users are never deleted, so a hit lets a send skip the recipient check and the upserts.
/// Only ever filled after a commit.
#[derive(Debug, Default)]
pub(super) struct KnownConversations(Mutex<HashSet<ConversationId>>);

impl KnownConversations {
    fn contains(&self, conv: &ConversationId) -> bool {
        self.lock().contains(conv)
    }

    fn insert_all<'a>(&self, convs: impl IntoIterator<Item = &'a ConversationId>) {
        let mut known = self.lock();
        for conv in convs {
            if known.len() >= KNOWN_CONVERSATIONS_CAP {
                known.clear();
            }
            known.insert(conv.clone());
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashSet<ConversationId>> {
        // A poisoned lock only means a panic while holding it; the set stays usable.
        self.0
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

impl Store {
    /// Starts the writer task; it ends when every `Store` holding its queue is dropped.
    pub(super) fn start_writer(&mut self) {
        let (queue, jobs) = mpsc::channel(QUEUE);
        let worker = Store {
            queue: None,
            ..self.clone()
        };
        tokio::spawn(worker.run_writer(jobs));
        self.queue = Some(queue);
    }

    /// Stores a one-to-one message: allocates its seq, appends a `message` event to both
    /// participants' streams, and moves the sender's read position to it. Answers after the
    /// commit (of the group of sends it was stored with).
    pub async fn send_direct(&self, new: NewDirectMessage) -> Result<SendOutcome, StoreError> {
        let Some(queue) = &self.queue else {
            return self.send_alone(&new).await;
        };
        let (reply, answer) = oneshot::channel();
        let job = Job {
            send: new.clone(),
            reply,
        };
        if queue.send(job).await.is_err() {
            return self.send_alone(&new).await;
        }
        // A dropped reply means the writer task died mid-batch, committed or not: storing the
        // send alone is safe, since a committed one is found by its client_msg_id.
        match answer.await {
            Ok(outcome) => outcome,
            Err(_) => self.send_alone(&new).await,
        }
    }

    async fn run_writer(self, mut jobs: mpsc::Receiver<Job>) {
        let mut batch = Vec::with_capacity(MAX_BATCH);
        while jobs.recv_many(&mut batch, MAX_BATCH).await > 0 {
            let sends: Vec<&NewDirectMessage> = batch.iter().map(|job| &job.send).collect();
            match self.send_batch(&sends).await {
                Ok(outcomes) => {
                    for (job, outcome) in batch.drain(..).zip(outcomes) {
                        let _ = job.reply.send(Ok(outcome));
                    }
                }
                Err(error) => {
                    tracing::warn!(error = %error, sends = batch.len(), "group commit failed; storing its sends one by one");
                    for job in batch.drain(..) {
                        let outcome = self.send_alone(&job.send).await;
                        let _ = job.reply.send(outcome);
                    }
                }
            }
        }
    }

    /// Stores `sends` in one transaction; one outcome per send, in order.
    async fn send_batch(
        &self,
        sends: &[&NewDirectMessage],
    ) -> Result<Vec<SendOutcome>, StoreError> {
        let mut tx = self.writer.begin().await?;
        let mut outcomes: Vec<Option<SendOutcome>> = vec![None; sends.len()];

        // Idempotency against what is stored.
        let stored = messages_by_client_ids(&mut tx, sends).await?;
        for (i, send) in sends.iter().enumerate() {
            if let Some(message) = stored.get(&(send.sender, send.client_msg_id.clone())) {
                outcomes[i] = Some(SendOutcome::Duplicate(message.clone()));
            }
        }

        // Recipients of conversations not known to exist yet.
        let unknown: Vec<usize> = (0..sends.len())
            .filter(|&i| outcomes[i].is_none() && !self.known.contains(&sends[i].conversation))
            .collect();
        let mut created: BTreeMap<&ConversationId, (UserId, UserId)> = BTreeMap::new();
        if !unknown.is_empty() {
            let wanted: BTreeSet<UserId> = unknown.iter().map(|&i| sends[i].recipient).collect();
            let existing = existing_users(&mut tx, &wanted).await?;
            for i in unknown {
                let send = sends[i];
                if existing.contains(&send.recipient) {
                    created.insert(&send.conversation, (send.sender, send.recipient));
                } else {
                    outcomes[i] = Some(SendOutcome::UnknownRecipient);
                }
            }
            let created: Vec<_> = created.iter().map(|(c, p)| (*c, *p)).collect();
            create_conversations(&mut tx, &created, sends[0].now).await?;
        }

        // The sends that store a message; a repeated client_msg_id inside the batch answers
        // with the first one's message.
        let mut first_of: HashMap<(UserId, &ClientMsgId), usize> = HashMap::new();
        let mut repeats: Vec<(usize, usize)> = Vec::new();
        let mut accepted: Vec<usize> = Vec::new();
        for (i, send) in sends.iter().enumerate() {
            if outcomes[i].is_some() {
                continue;
            }
            match first_of.entry((send.sender, &send.client_msg_id)) {
                std::collections::hash_map::Entry::Occupied(first) => {
                    repeats.push((i, *first.get()));
                }
                std::collections::hash_map::Entry::Vacant(slot) => {
                    slot.insert(i);
                    accepted.push(i);
                }
            }
        }
        if accepted.is_empty() {
            tx.commit().await?;
            return outcomes
                .into_iter()
                .map(|o| o.ok_or_else(|| StoreError::Corrupt("a send without an outcome".into())))
                .collect();
        }
        let now = accepted.iter().map(|&i| sends[i].now).max().unwrap_or(0);

        // Seqs: conversations locked in ascending id order, numbered in batch order.
        let mut per_conv: BTreeMap<&ConversationId, i64> = BTreeMap::new();
        for &i in &accepted {
            *per_conv.entry(&sends[i].conversation).or_default() += 1;
        }
        let mut next_seq = allocate_seqs(self.backend, &mut tx, &per_conv, now).await?;
        let mut messages: Vec<Message> = Vec::with_capacity(accepted.len());
        for &i in &accepted {
            let send = sends[i];
            let seq = next_seq
                .get_mut(&send.conversation)
                .ok_or_else(|| StoreError::Corrupt(format!("no seq for {}", send.conversation)))?;
            messages.push(Message {
                msg_id: MessageId(0),
                conversation: send.conversation.clone(),
                seq: Seq(*seq),
                sender: send.sender,
                msg_type: send.msg_type,
                content: send.content.clone(),
                time: send.now,
                client_msg_id: send.client_msg_id.clone(),
            });
            *seq += 1;
        }
        insert_messages(&mut tx, &mut messages).await?;
        move_senders_read_seq(&mut tx, &messages).await?;

        // Events: users locked in ascending uid order, cursors in batch order.
        let participants: Vec<[UserId; 2]> = accepted
            .iter()
            .map(|&i| {
                let (a, b) = (sends[i].sender, sends[i].recipient);
                if a < b { [a, b] } else { [b, a] }
            })
            .collect();
        append_events(self.backend, &mut tx, &messages, &participants).await?;
        let woken: Vec<UserId> = participants
            .iter()
            .flatten()
            .copied()
            .collect::<BTreeSet<_>>()
            .into_iter()
            .collect();
        self.hint(&mut tx, &woken).await?;
        tx.commit().await?;
        self.known.insert_all(created.keys().copied());

        for (&i, (message, recipients)) in accepted.iter().zip(messages.iter().zip(participants)) {
            outcomes[i] = Some(SendOutcome::Created {
                message: message.clone(),
                recipients: recipients.to_vec(),
            });
        }
        for (i, first) in repeats {
            let message = match &outcomes[first] {
                Some(SendOutcome::Created { message, .. }) => message.clone(),
                _ => return Err(StoreError::Corrupt("repeat of a failed send".to_owned())),
            };
            outcomes[i] = Some(SendOutcome::Duplicate(message));
        }
        outcomes
            .into_iter()
            .map(|o| o.ok_or_else(|| StoreError::Corrupt("send without outcome".to_owned())))
            .collect()
    }

    /// Stores one send in its own transaction (without the writer task, and as the fallback of
    /// a failed batch).
    pub(super) async fn send_alone(
        &self,
        new: &NewDirectMessage,
    ) -> Result<SendOutcome, StoreError> {
        let mut tx = self.writer.begin().await?;
        if let Some(existing) =
            message_by_client_id(&mut tx, new.sender, &new.client_msg_id).await?
        {
            return Ok(SendOutcome::Duplicate(existing));
        }
        let known = self.known.contains(&new.conversation);
        if !known {
            let wanted = BTreeSet::from([new.recipient]);
            if existing_users(&mut tx, &wanted).await?.is_empty() {
                return Ok(SendOutcome::UnknownRecipient);
            }
            create_conversations(
                &mut tx,
                &[(&new.conversation, (new.sender, new.recipient))],
                new.now,
            )
            .await?;
        }
        let per_conv = BTreeMap::from([(&new.conversation, 1)]);
        let next_seq = allocate_seqs(self.backend, &mut tx, &per_conv, new.now).await?;
        let seq = next_seq
            .get(&new.conversation)
            .copied()
            .ok_or_else(|| StoreError::Corrupt(format!("no seq for {}", new.conversation)))?;
        let mut messages = vec![Message {
            msg_id: MessageId(0),
            conversation: new.conversation.clone(),
            seq: Seq(seq),
            sender: new.sender,
            msg_type: new.msg_type,
            content: new.content.clone(),
            time: new.now,
            client_msg_id: new.client_msg_id.clone(),
        }];
        if let Err(e) = insert_messages(&mut tx, &mut messages).await {
            // A concurrent send with the same client_msg_id (another node, or a retry racing
            // the first try) committed first: answer with its message.
            if let StoreError::Database(db) = &e
                && super::is_unique_violation(db)
            {
                tx.rollback().await?;
                let mut conn = self.writer.acquire().await?;
                return match message_by_client_id(&mut conn, new.sender, &new.client_msg_id).await?
                {
                    Some(existing) => Ok(SendOutcome::Duplicate(existing)),
                    None => Err(e),
                };
            }
            return Err(e);
        }
        move_senders_read_seq(&mut tx, &messages).await?;
        let mut recipients = [new.sender, new.recipient];
        recipients.sort_unstable();
        append_events(self.backend, &mut tx, &messages, &[recipients]).await?;
        self.hint(&mut tx, &recipients).await?;
        tx.commit().await?;
        if !known {
            self.known.insert_all([&new.conversation]);
        }
        let message = messages
            .pop()
            .ok_or_else(|| StoreError::Corrupt("the stored message went missing".to_owned()))?;
        Ok(SendOutcome::Created {
            message,
            recipients: recipients.to_vec(),
        })
    }
}

/// `$first, $first+1, ...`: `count` placeholders.
fn placeholders(first: usize, count: usize) -> String {
    (first..first + count)
        .map(|n| format!("${n}"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// The stored messages of the sends' `(sender, client_msg_id)` pairs.
async fn messages_by_client_ids(
    tx: &mut AnyConnection,
    sends: &[&NewDirectMessage],
) -> Result<HashMap<(UserId, ClientMsgId), Message>, StoreError> {
    let keys: Vec<(UserId, &ClientMsgId)> = sends
        .iter()
        .map(|s| (s.sender, &s.client_msg_id))
        .collect::<HashSet<_>>()
        .into_iter()
        .collect();
    let condition = (0..keys.len())
        .map(|k| {
            format!(
                "(sender = ${} AND client_msg_id = ${})",
                2 * k + 1,
                2 * k + 2
            )
        })
        .collect::<Vec<_>>()
        .join(" OR ");
    let sql = format!(
        "SELECT conversation, msg_id, seq, sender, client_msg_id, msg_type, content, time \
         FROM messages WHERE {condition}"
    );
    let mut query = sqlx::query(&sql);
    for (sender, client_msg_id) in &keys {
        query = query.bind(sender.0).bind(&client_msg_id.0);
    }
    let rows = query.fetch_all(&mut *tx).await?;
    rows.iter()
        .map(|r| {
            let message = message_from_row(r, ConversationId(r.try_get("conversation")?))?;
            Ok(((message.sender, message.client_msg_id.clone()), message))
        })
        .collect()
}

/// Which of `uids` exist.
async fn existing_users(
    tx: &mut AnyConnection,
    uids: &BTreeSet<UserId>,
) -> Result<HashSet<UserId>, StoreError> {
    let sql = format!(
        "SELECT uid FROM users WHERE uid IN ({})",
        placeholders(1, uids.len())
    );
    let mut query = sqlx::query_scalar::<_, i64>(&sql);
    for uid in uids {
        query = query.bind(uid.0);
    }
    Ok(query
        .fetch_all(&mut *tx)
        .await?
        .into_iter()
        .map(UserId)
        .collect())
}

/// Creates the conversations and their two members' rows, unless they exist (another node may
/// have created one since the cache was filled).
async fn create_conversations(
    tx: &mut AnyConnection,
    convs: &[(&ConversationId, (UserId, UserId))],
    now: shared::Millis,
) -> Result<(), StoreError> {
    if convs.is_empty() {
        return Ok(());
    }
    let rows = (0..convs.len())
        .map(|k| {
            format!(
                "(${}, 'direct', 0, ${}, ${})",
                3 * k + 1,
                3 * k + 2,
                3 * k + 3
            )
        })
        .collect::<Vec<_>>()
        .join(", ");
    let sql = format!(
        "INSERT INTO conversations (id, kind, max_seq, last_time, created_at) VALUES {rows} \
         ON CONFLICT (id) DO NOTHING"
    );
    let mut query = sqlx::query(&sql);
    for (conv, _) in convs {
        query = query.bind(&conv.0).bind(now).bind(now);
    }
    query.execute(&mut *tx).await?;

    let rows = (0..2 * convs.len())
        .map(|k| {
            format!(
                "(${}, ${}, ${}, 0, ${})",
                4 * k + 1,
                4 * k + 2,
                4 * k + 3,
                4 * k + 4
            )
        })
        .collect::<Vec<_>>()
        .join(", ");
    let sql = format!(
        "INSERT INTO conversation_members (conversation, uid, peer_uid, read_seq, joined_at) \
         VALUES {rows} ON CONFLICT (conversation, uid) DO NOTHING"
    );
    let mut query = sqlx::query(&sql);
    for (conv, (sender, recipient)) in convs {
        for (uid, peer) in [(sender, recipient), (recipient, sender)] {
            query = query.bind(&conv.0).bind(uid.0).bind(peer.0).bind(now);
        }
    }
    query.execute(&mut *tx).await?;
    Ok(())
}

/// Takes `count` seqs in each conversation. Returns each conversation's first new seq.
async fn allocate_seqs(
    backend: Backend,
    tx: &mut AnyConnection,
    per_conv: &BTreeMap<&ConversationId, i64>,
    now: shared::Millis,
) -> Result<HashMap<ConversationId, i64>, StoreError> {
    let counts: BTreeMap<String, i64> = per_conv
        .iter()
        .map(|(conv, count)| (conv.0.clone(), *count))
        .collect();
    let first = reserve(
        backend,
        tx,
        CONVERSATION_SEQ,
        &counts,
        Some(("last_time", now)),
    )
    .await?;
    Ok(first
        .into_iter()
        .map(|(id, seq)| (ConversationId(id), seq))
        .collect())
}

/// Reserves `counts[uid]` event cursors for each user (locked in ascending uid order); returns
/// each user's first new cursor.
pub(super) async fn reserve_event_cursors(
    backend: Backend,
    tx: &mut AnyConnection,
    counts: &BTreeMap<i64, i64>,
) -> Result<HashMap<i64, i64>, StoreError> {
    reserve(backend, tx, USER_EVENT_HEAD, counts, None).await
}

/// A counter column in rows addressed by a key column.
struct Counter {
    table: &'static str,
    key: &'static str,
    column: &'static str,
}

const CONVERSATION_SEQ: Counter = Counter {
    table: "conversations",
    key: "id",
    column: "max_seq",
};

const USER_EVENT_HEAD: Counter = Counter {
    table: "users",
    key: "uid",
    column: "event_head",
};

/// Adds `counts[key]` to the counter of each keyed row, in one UPDATE, and returns each row's
/// first newly reserved number (a row reserves `first .. first + count`). `also_set` sets one more
/// column of those rows to a value. On PostgreSQL the rows are first locked in key order: one
/// UPDATE locks rows in scan order, and every transaction locking in the same order is what keeps
/// concurrent writers free of deadlocks.
async fn reserve<K>(
    backend: Backend,
    tx: &mut AnyConnection,
    counter: Counter,
    counts: &BTreeMap<K, i64>,
    also_set: Option<(&str, i64)>,
) -> Result<HashMap<K, i64>, StoreError>
where
    K: for<'q> sqlx::Encode<'q, sqlx::Any>
        + for<'r> sqlx::Decode<'r, sqlx::Any>
        + sqlx::Type<sqlx::Any>
        + Clone
        + Ord
        + std::hash::Hash
        + std::fmt::Display
        + Send
        + Sync,
{
    let Counter { table, key, column } = counter;
    let n = counts.len();
    if backend == Backend::Postgres && n > 1 {
        let sql = format!(
            "SELECT {key} FROM {table} WHERE {key} IN ({}) ORDER BY {key} FOR UPDATE",
            placeholders(1, n)
        );
        let mut query = sqlx::query(&sql);
        for k in counts.keys() {
            query = query.bind(k.clone());
        }
        query.fetch_all(&mut *tx).await?;
    }
    let cases = (0..n)
        .map(|i| format!("WHEN ${} THEN ${}", 2 * i + 1, 2 * i + 2))
        .collect::<Vec<_>>()
        .join(" ");
    let mut next_param = 2 * n + 1;
    let also = match also_set {
        Some((name, _)) => {
            next_param += 1;
            format!(", {name} = ${}", next_param - 1)
        }
        None => String::new(),
    };
    let sql = format!(
        "UPDATE {table} SET {column} = {column} + CASE {key} {cases} ELSE 0 END{also} \
         WHERE {key} IN ({}) RETURNING {key}, {column}",
        placeholders(next_param, n)
    );
    let mut query = sqlx::query(&sql);
    for (k, count) in counts {
        query = query.bind(k.clone()).bind(*count);
    }
    if let Some((_, value)) = also_set {
        query = query.bind(value);
    }
    for k in counts.keys() {
        query = query.bind(k.clone());
    }
    let mut first = HashMap::with_capacity(n);
    for row in query.fetch_all(&mut *tx).await? {
        let k: K = row.try_get(0)?;
        let value: i64 = row.try_get(1)?;
        let count = counts
            .get(&k)
            .ok_or_else(|| StoreError::Corrupt(format!("unexpected {table} row {k}")))?;
        first.insert(k, value - count + 1);
    }
    if first.len() != n {
        return Err(StoreError::Corrupt(format!("a {table} row is missing")));
    }
    Ok(first)
}

/// Inserts the messages and fills in their ids.
async fn insert_messages(
    tx: &mut AnyConnection,
    messages: &mut [Message],
) -> Result<(), StoreError> {
    let rows = (0..messages.len())
        .map(|k| format!("({})", placeholders(7 * k + 1, 7)))
        .collect::<Vec<_>>()
        .join(", ");
    let sql = format!(
        "INSERT INTO messages (conversation, seq, sender, client_msg_id, msg_type, content, time) \
         VALUES {rows} RETURNING msg_id, conversation, seq"
    );
    let mut query = sqlx::query(&sql);
    for m in messages.iter() {
        query = query
            .bind(&m.conversation.0)
            .bind(m.seq.0)
            .bind(m.sender.0)
            .bind(&m.client_msg_id.0)
            .bind(msg_type_str(m.msg_type))
            .bind(&m.content)
            .bind(m.time);
    }
    // RETURNING order is unspecified: match the ids by (conversation, seq).
    let mut ids: HashMap<(String, i64), i64> = HashMap::with_capacity(messages.len());
    for row in query.fetch_all(&mut *tx).await? {
        ids.insert(
            (row.try_get("conversation")?, row.try_get("seq")?),
            row.try_get("msg_id")?,
        );
    }
    for m in messages.iter_mut() {
        let id = ids
            .get(&(m.conversation.0.clone(), m.seq.0))
            .ok_or_else(|| StoreError::Corrupt("an inserted message has no id".to_owned()))?;
        m.msg_id = MessageId(*id);
    }
    Ok(())
}

/// Moves each sender's read position to their newest message (the newest of its conversation
/// when it was stored).
async fn move_senders_read_seq(
    tx: &mut AnyConnection,
    messages: &[Message],
) -> Result<(), StoreError> {
    let mut newest: BTreeMap<(&ConversationId, UserId), i64> = BTreeMap::new();
    for m in messages {
        let seq = newest.entry((&m.conversation, m.sender)).or_default();
        *seq = (*seq).max(m.seq.0);
    }
    let cases = (0..newest.len())
        .map(|k| {
            format!(
                "WHEN conversation = ${} AND uid = ${} THEN ${}",
                3 * k + 1,
                3 * k + 2,
                3 * k + 3
            )
        })
        .collect::<Vec<_>>()
        .join(" ");
    let condition = (0..newest.len())
        .map(|k| format!("(conversation = ${} AND uid = ${})", 3 * k + 1, 3 * k + 2))
        .collect::<Vec<_>>()
        .join(" OR ");
    let sql = format!(
        "UPDATE conversation_members SET read_seq = CASE {cases} ELSE read_seq END \
         WHERE {condition}"
    );
    let mut query = sqlx::query(&sql);
    for ((conv, uid), seq) in &newest {
        query = query.bind(&conv.0).bind(uid.0).bind(*seq);
    }
    query.execute(&mut *tx).await?;
    Ok(())
}

/// Appends a `message` event for each message to both participants' streams, allocating the
/// cursors inside the transaction (users locked in ascending uid order).
async fn append_events(
    backend: Backend,
    tx: &mut AnyConnection,
    messages: &[Message],
    participants: &[[UserId; 2]],
) -> Result<(), StoreError> {
    let mut per_user: BTreeMap<UserId, i64> = BTreeMap::new();
    for uid in participants.iter().flatten() {
        *per_user.entry(*uid).or_default() += 1;
    }
    let counts: BTreeMap<i64, i64> = per_user.iter().map(|(uid, n)| (uid.0, *n)).collect();
    let mut next: HashMap<UserId, i64> = reserve(backend, tx, USER_EVENT_HEAD, &counts, None)
        .await?
        .into_iter()
        .map(|(uid, cursor)| (UserId(uid), cursor))
        .collect();

    let rows = (0..2 * messages.len())
        .map(|k| format!("({})", placeholders(4 * k + 1, 4)))
        .collect::<Vec<_>>()
        .join(", ");
    let sql = format!("INSERT INTO events (uid, cursor, payload, time) VALUES {rows}");
    let mut query = sqlx::query(&sql);
    for (message, users) in messages.iter().zip(participants) {
        let payload = serde_json::to_string(&Event::Message {
            message: message.clone(),
        })
        .map_err(|e| StoreError::Corrupt(format!("event does not serialize: {e}")))?;
        for uid in users {
            let cursor = next
                .get_mut(uid)
                .ok_or_else(|| StoreError::Corrupt(format!("no cursor for {uid}")))?;
            query = query
                .bind(uid.0)
                .bind(*cursor)
                .bind(payload.clone())
                .bind(message.time);
            *cursor += 1;
        }
    }
    query.execute(&mut *tx).await?;
    Ok(())
}
