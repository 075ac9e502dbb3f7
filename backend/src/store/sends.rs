//! Group commit for sends, one-to-one and to groups.
//!
//! One writer task per process takes the queued sends and stores up to [`MAX_BATCH`] of them in
//! one transaction, with a handful of statements per batch instead of a dozen per send. Each
//! caller is answered only after that transaction committed. The guarantees of a single send
//! hold for every send of a batch:
//! - seq per conversation is allocated inside the transaction, in batch order (so gapless and
//!   equal to commit order); so are the per-user event cursors;
//! - a `client_msg_id` already stored, or used by an earlier send of the same batch, answers
//!   with the first message and writes nothing;
//! - a send to an unknown recipient, or to a group the sender is not a member of, fails alone,
//!   the rest of the batch goes on;
//! - a group message goes to the members read inside the transaction (one query for all the
//!   batch's groups), after their conversation rows were locked (PostgreSQL), the same lock group
//!   joins and leaves take: a member who left cannot send or receive, one who joined gets every
//!   message numbered after their `init_seq`;
//! - rows are locked group conversations first, then the other conversations, then users, each in
//!   ascending order (PostgreSQL);
//! - when anything fails (e.g. a PostgreSQL unique violation because another node stored the
//!   same `client_msg_id`, which aborts the whole transaction), the batch is rolled back and its
//!   sends are run again one by one, each in its own transaction, by [`Store::send_alone`].

use super::contacts::MessageFacts;
use super::{
    AcceptRule, Backend, NewMessage, SendOutcome, Store, StoreError, message_by_client_id,
    message_from_row, msg_type_str,
};
use crate::notify::Payload;
use shared::Cursor;
use shared::{ClientMsgId, ConversationId, Event, Message, MessageId, Seq, Target, UserId};
use sqlx::pool::PoolConnection;
use sqlx::{Any, AnyConnection, Connection, Row};
use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::sync::Mutex;
use std::sync::atomic::Ordering;
use std::time::Instant;
use tokio::sync::{mpsc, oneshot};

/// Most sends stored in one transaction (keeps every statement well under the bind limits).
pub const MAX_BATCH: usize = 128;
/// Most event rows per INSERT (4 binds each): far below SQLite's 32766 and PostgreSQL's 65535.
const EVENT_ROWS_PER_INSERT: usize = 1000;
/// Most rows one counter UPDATE reserves in (3 binds each).
const COUNTERS_PER_UPDATE: usize = 2000;
/// How long the writer task keeps the writer connection while sends keep coming. Taking it from
/// the pool and giving it back costs round trips to SQLite's connection thread (sqlx pings a
/// connection as it returns to the pool) and a spawned task per batch; other writers (presence,
/// contacts, groups) wait at most this long, plus one batch, for their turn.
const HOLD_WRITER: std::time::Duration = std::time::Duration::from_millis(50);
/// Sends waiting for the writer task before callers wait to enqueue.
const QUEUE: usize = 4096;
/// Bound of the known-conversation cache; it starts over when full.
const KNOWN_CONVERSATIONS_CAP: usize = 1_000_000;

/// One queued send and where to answer it.
pub(super) struct Job {
    send: NewMessage,
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
    pub(super) fn contains(&self, conv: &ConversationId) -> bool {
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
    pub(super) fn start_writer(&mut self, sqlite: Option<rusqlite::Connection>) {
        let (queue, jobs) = mpsc::channel(QUEUE);
        let worker = Store {
            queue: None,
            ..self.clone()
        };
        if self.backend == Backend::Sqlite {
            // SQLite: the writer task gets a thread (and a runtime) of its own, so each hand-off
            // to the connection's thread during a batch waits for nothing else: on the shared
            // runtime it queued behind every HTTP task ready at the time, once per statement.
            // Its answers go back through the server's runtime (see `run_writer`).
            let answers = tokio::runtime::Handle::try_current().ok();
            let spawned = std::thread::Builder::new()
                .name("courier-writer".into())
                .spawn(move || {
                    match tokio::runtime::Builder::new_current_thread()
                        .enable_all()
                        .build()
                    {
                        Ok(runtime) => runtime.block_on(worker.run_writer(jobs, sqlite, answers)),
                        Err(error) => {
                            tracing::error!(error = %error, "cannot start the writer's runtime")
                        }
                    }
                });
            if let Err(error) = spawned {
                tracing::error!(error = %error, "cannot start the writer thread");
            }
        } else {
            tokio::spawn(worker.run_writer(jobs, sqlite, None));
        }
        self.queue = Some(queue);
    }

    /// Stores a message: allocates its seq, appends a `message` event to every participant's
    /// stream (both of a one-to-one conversation, every member of a group), and moves the
    /// sender's read position to it. Answers after the commit (of the group of sends it was
    /// stored with).
    pub async fn send_message(&self, new: NewMessage) -> Result<SendOutcome, StoreError> {
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

    /// The writer task. With `sqlite` (the SQLite store), batches run on that connection on
    /// this thread ([`super::sqlite_writer`]), the sqlx writer connection held meanwhile so that
    /// other writers wait their turn; otherwise on the sqlx writer connection.
    ///
    /// With `answers` (the server's runtime, when this task runs on a thread of its own), a
    /// batch's answers are handed to one task there, which answers every sender: one wake-up
    /// crossing threads per batch instead of one per send. Each of those woke a server thread
    /// from the writer's and, on two cores, often handed it the writer's core mid-batch.
    async fn run_writer(
        self,
        mut jobs: mpsc::Receiver<Job>,
        mut sqlite: Option<rusqlite::Connection>,
        answers: Option<tokio::runtime::Handle>,
    ) {
        let mut batch = Vec::with_capacity(MAX_BATCH);
        // SQLite: what the writer's connection remembers from one batch to the next.
        let mut remembered = super::sqlite_writer::Remembered::default();
        // The writer connection, kept across back-to-back batches (see [`HOLD_WRITER`]).
        let mut held: Option<(PoolConnection<Any>, Instant)> = None;
        while jobs.recv_many(&mut batch, MAX_BATCH).await > 0 {
            let sends: Vec<&NewMessage> = batch.iter().map(|job| &job.send).collect();
            if held
                .as_ref()
                .is_some_and(|(_, since)| since.elapsed() >= HOLD_WRITER)
            {
                held = None;
            }
            let result = match held.take() {
                Some(conn) => Ok(conn),
                None => self
                    .writer
                    .acquire()
                    .await
                    .map(|conn| (conn, Instant::now())),
            };
            let result = match result {
                Ok((mut conn, since)) => {
                    let outcomes = match sqlite.as_mut() {
                        Some(sqlite) => super::sqlite_writer::send_batch(
                            sqlite,
                            &mut remembered,
                            &self.known,
                            &sends,
                        )
                        .and_then(|batch| batch.finish(&self)),
                        None => self.send_batch(&mut conn, &sends).await,
                    };
                    // After a failure the connection goes back (the fallback needs it).
                    if outcomes.is_ok() {
                        held = Some((conn, since));
                    }
                    outcomes
                }
                Err(error) => Err(error.into()),
            };
            if held.is_some() && jobs.is_empty() {
                // Idle: let the other writers in.
                held = None;
            }
            match result {
                Ok(outcomes) => {
                    let replies: Vec<_> =
                        batch.drain(..).map(|job| job.reply).zip(outcomes).collect();
                    let answer = async move {
                        for (reply, outcome) in replies {
                            let _ = reply.send(Ok(outcome));
                        }
                    };
                    match &answers {
                        Some(runtime) => drop(runtime.spawn(answer)),
                        None => answer.await,
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
            // The WAL's tail, once the checkpointer asks (see `checkpoint_forever`): here no
            // batch of ours is running, so the copy completes and the WAL starts over.
            if let Some(sqlite) = sqlite.as_ref()
                && self.wal_tail_due.swap(false, Ordering::AcqRel)
                && !super::sqlite_writer::copy_wal_tail(sqlite)
            {
                self.wal_tail_due.store(true, Ordering::Release);
            }
        }
    }

    /// Stores `sends` in one transaction; one outcome per send, in order.
    async fn send_batch(
        &self,
        conn: &mut AnyConnection,
        sends: &[&NewMessage],
    ) -> Result<Vec<SendOutcome>, StoreError> {
        let mut tx = conn.begin().await?;
        let mut batch = Batch::new(sends.len());

        // Idempotency against what is stored.
        let stored = messages_by_client_ids(self.backend, &mut tx, sends).await?;
        for (i, send) in sends.iter().enumerate() {
            if let Some(message) = stored.get(&(send.sender, send.client_msg_id.clone())) {
                batch.outcomes[i] = Some(SendOutcome::Duplicate(message.clone()));
            }
        }

        // Members of the groups sent to (their conversations locked first); only members send.
        let groups: BTreeSet<&ConversationId> = (0..sends.len())
            .filter(|&i| batch.outcomes[i].is_none() && matches!(sends[i].to, Target::Group(_)))
            .map(|i| &sends[i].conversation)
            .collect();
        batch.members = group_members(self.backend, &mut tx, &groups).await?;
        batch.refuse_non_members(sends);

        // One-to-one sends their recipients do not accept (blocks, privacy), as committed now.
        let pending: Vec<usize> = (0..sends.len())
            .filter(|&i| batch.outcomes[i].is_none())
            .collect();
        for (i, facts) in refusals(self.backend, &mut tx, sends, &pending).await? {
            batch.outcomes[i] = Some(SendOutcome::Refused(facts));
        }

        // Recipients of one-to-one conversations not known to exist yet.
        let unknown: Vec<(usize, UserId)> = (0..sends.len())
            .filter(|&i| {
                batch.outcomes[i].is_none() && !self.known.contains(&sends[i].conversation)
            })
            .filter_map(|i| match sends[i].to {
                Target::User(recipient) => Some((i, recipient)),
                Target::Group(_) => None,
            })
            .collect();
        if !unknown.is_empty() {
            let wanted: BTreeSet<UserId> = unknown.iter().map(|&(_, r)| r).collect();
            let existing = existing_users(&mut tx, &wanted).await?;
            let mut created: BTreeMap<&ConversationId, (UserId, UserId)> = BTreeMap::new();
            for (i, recipient) in unknown {
                let send = sends[i];
                if existing.contains(&recipient) {
                    created.insert(&send.conversation, (send.sender, recipient));
                } else {
                    batch.outcomes[i] = Some(SendOutcome::UnknownRecipient);
                }
            }
            let created: Vec<_> = created.iter().map(|(c, p)| (*c, *p)).collect();
            create_conversations(&mut tx, &created, sends[0].now).await?;
            batch.created = created.iter().map(|(c, _)| (*c).clone()).collect();
        }

        if !batch.split_repeats(sends) {
            tx.commit().await?;
            return batch.finish(self);
        }
        // Seqs: conversations locked in ascending id order, numbered in batch order.
        let (now, per_conv) = batch.seq_counts(sends);
        let mut next_seq = allocate_seqs(self.backend, &mut tx, &per_conv, now).await?;
        for &i in &batch.accepted {
            let send = sends[i];
            let seq = next_seq
                .get_mut(&send.conversation)
                .ok_or_else(|| StoreError::Corrupt(format!("no seq for {}", send.conversation)))?;
            batch.messages.push(send.message(MessageId(0), Seq(*seq)));
            *seq += 1;
        }
        insert_messages(self.backend, &mut tx, &mut batch.messages).await?;
        move_senders_read_seq(&mut tx, &batch.messages).await?;

        // Events: users locked in ascending uid order, cursors in batch order.
        batch.participants = batch
            .accepted
            .iter()
            .map(|&i| participants_of(sends[i], &batch.members))
            .collect();
        batch.published =
            append_events(self.backend, &mut tx, &batch.messages, &batch.participants).await?;
        let woken: Vec<UserId> = batch
            .participants
            .iter()
            .flatten()
            .copied()
            .collect::<BTreeSet<_>>()
            .into_iter()
            .collect();
        self.hint(&mut tx, &woken).await?;
        tx.commit().await?;
        batch.finish(self)
    }

    /// Stores one send in its own transaction (without the writer task, and as the fallback of
    /// a failed batch).
    pub(super) async fn send_alone(&self, new: &NewMessage) -> Result<SendOutcome, StoreError> {
        let mut tx = self.writer.begin().await?;
        if let Some(existing) =
            message_by_client_id(&mut tx, new.sender, &new.client_msg_id).await?
        {
            return Ok(SendOutcome::Duplicate(existing));
        }
        let mut known = true;
        let mut members = HashMap::new();
        match new.to {
            Target::Group(_) => {
                let groups = BTreeSet::from([&new.conversation]);
                members = group_members(self.backend, &mut tx, &groups).await?;
                if !is_member(&members, &new.conversation, new.sender) {
                    return Ok(SendOutcome::NotAMember);
                }
            }
            Target::User(recipient) => {
                if let Some((_, facts)) = refusals(self.backend, &mut tx, &[new], &[0]).await?.pop()
                {
                    return Ok(SendOutcome::Refused(facts));
                }
                known = self.known.contains(&new.conversation);
                if !known {
                    let wanted = BTreeSet::from([recipient]);
                    if existing_users(&mut tx, &wanted).await?.is_empty() {
                        return Ok(SendOutcome::UnknownRecipient);
                    }
                    create_conversations(
                        &mut tx,
                        &[(&new.conversation, (new.sender, recipient))],
                        new.now,
                    )
                    .await?;
                }
            }
        }
        let per_conv = BTreeMap::from([(&new.conversation, 1)]);
        let next_seq = allocate_seqs(self.backend, &mut tx, &per_conv, new.now).await?;
        let seq = next_seq
            .get(&new.conversation)
            .copied()
            .ok_or_else(|| StoreError::Corrupt(format!("no seq for {}", new.conversation)))?;
        let mut messages = vec![new.message(MessageId(0), Seq(seq))];
        if let Err(e) = insert_messages(self.backend, &mut tx, &mut messages).await {
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
        let recipients = participants_of(new, &members);
        let published = append_events(
            self.backend,
            &mut tx,
            &messages,
            std::slice::from_ref(&recipients),
        )
        .await?;
        self.hint(&mut tx, &recipients).await?;
        tx.commit().await?;
        let recipients = if self.publish(&published) {
            Vec::new()
        } else {
            recipients
        };
        if !known {
            self.known.insert_all([&new.conversation]);
        }
        let message = messages
            .pop()
            .ok_or_else(|| StoreError::Corrupt("the stored message went missing".to_owned()))?;
        Ok(SendOutcome::Created {
            message,
            recipients,
        })
    }
}

/// What a batch of sends decided, built up while its transaction runs (by either path) and
/// turned into one outcome per send after the commit by [`Batch::finish`].
pub(super) struct Batch<'s> {
    /// Decided sends (refused, duplicate, ...); `None` while still going.
    pub outcomes: Vec<Option<SendOutcome>>,
    /// Members of each group sent to, ascending.
    pub members: HashMap<ConversationId, Vec<UserId>>,
    /// One-to-one conversations this batch created.
    pub created: HashSet<ConversationId>,
    /// The sends that store a message, in batch order, and their messages and participants.
    pub accepted: Vec<usize>,
    pub messages: Vec<Message>,
    pub participants: Vec<Vec<UserId>>,
    /// Sends repeating the `client_msg_id` of an earlier send of the batch: (send, first).
    repeats: Vec<(usize, usize)>,
    /// The committed events, in cursor order per user.
    pub published: Vec<(UserId, Cursor, Payload)>,
    sends: std::marker::PhantomData<&'s NewMessage>,
}

impl<'s> Batch<'s> {
    pub fn new(len: usize) -> Self {
        Self {
            outcomes: vec![None; len],
            members: HashMap::new(),
            created: HashSet::new(),
            accepted: Vec::new(),
            messages: Vec::new(),
            participants: Vec::new(),
            repeats: Vec::new(),
            published: Vec::new(),
            sends: std::marker::PhantomData,
        }
    }

    /// Group sends from senders who are not members (by [`Batch::members`]) fail.
    pub fn refuse_non_members(&mut self, sends: &[&NewMessage]) {
        for (i, send) in sends.iter().enumerate() {
            if self.outcomes[i].is_none()
                && matches!(send.to, Target::Group(_))
                && !is_member(&self.members, &send.conversation, send.sender)
            {
                self.outcomes[i] = Some(SendOutcome::NotAMember);
            }
        }
    }

    /// Picks the sends that store a message: the undecided ones, except that a repeated
    /// `client_msg_id` within the batch answers with the first one's message. `false` when none
    /// is left.
    pub fn split_repeats(&mut self, sends: &[&NewMessage]) -> bool {
        let mut first_of: HashMap<(UserId, &ClientMsgId), usize> = HashMap::new();
        for (i, send) in sends.iter().enumerate() {
            if self.outcomes[i].is_some() {
                continue;
            }
            match first_of.entry((send.sender, &send.client_msg_id)) {
                std::collections::hash_map::Entry::Occupied(first) => {
                    self.repeats.push((i, *first.get()));
                }
                std::collections::hash_map::Entry::Vacant(slot) => {
                    slot.insert(i);
                    self.accepted.push(i);
                }
            }
        }
        !self.accepted.is_empty()
    }

    /// The newest time of the sends that store a message, and how many of them go to each
    /// conversation (the seqs each reserves).
    pub fn seq_counts<'a>(
        &self,
        sends: &[&'a NewMessage],
    ) -> (shared::Millis, BTreeMap<&'a ConversationId, i64>) {
        let now = self
            .accepted
            .iter()
            .map(|&i| sends[i].now)
            .max()
            .unwrap_or(0);
        let mut per_conv: BTreeMap<&ConversationId, i64> = BTreeMap::new();
        for &i in &self.accepted {
            *per_conv.entry(&sends[i].conversation).or_default() += 1;
        }
        (now, per_conv)
    }

    /// After the commit: remembers the created conversations, hands the events to this node's
    /// parked polls, and answers every send.
    fn finish(self, store: &Store) -> Result<Vec<SendOutcome>, StoreError> {
        let Batch {
            mut outcomes,
            created,
            accepted,
            messages,
            participants,
            repeats,
            published,
            ..
        } = self;
        store.known.insert_all(created.iter());
        let woken_here = store.publish(&published);
        for (&i, (message, recipients)) in
            accepted.iter().zip(messages.into_iter().zip(participants))
        {
            outcomes[i] = Some(SendOutcome::Created {
                message,
                recipients: if woken_here { Vec::new() } else { recipients },
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
}

/// Which of the one-to-one sends `sends[i]` (for each `i` of `candidates`) their recipients do
/// not accept, by each send's own rule, with the facts it decided on: one query for the batch.
async fn refusals(
    backend: Backend,
    tx: &mut AnyConnection,
    sends: &[&NewMessage],
    candidates: &[usize],
) -> Result<Vec<(usize, MessageFacts)>, StoreError> {
    let checked: Vec<(usize, (UserId, UserId), AcceptRule)> = candidates
        .iter()
        .filter_map(|&i| match (&sends[i].to, sends[i].accepts) {
            (&Target::User(recipient), Some(accepts)) => {
                Some((i, (sends[i].sender, recipient), accepts))
            }
            _ => None,
        })
        .collect();
    if checked.is_empty() {
        return Ok(Vec::new());
    }
    let pairs: BTreeSet<(UserId, UserId)> = checked.iter().map(|&(_, pair, _)| pair).collect();
    let facts = super::contacts::message_facts(backend, tx, &pairs).await?;
    // A recipient that does not exist has no facts: the send fails as `UnknownRecipient`.
    Ok(checked
        .into_iter()
        .filter_map(|(i, pair, accepts)| {
            let facts = *facts.get(&pair)?;
            (!accepts(&facts)).then_some((i, facts))
        })
        .collect())
}

/// Who gets a send's event, ascending: both participants of a one-to-one conversation, or every
/// member of the group (as read by [`group_members`]).
pub(super) fn participants_of(
    send: &NewMessage,
    members: &HashMap<ConversationId, Vec<UserId>>,
) -> Vec<UserId> {
    match send.to {
        Target::User(recipient) => {
            let (a, b) = (send.sender, recipient);
            if a < b { vec![a, b] } else { vec![b, a] }
        }
        Target::Group(_) => members.get(&send.conversation).cloned().unwrap_or_default(),
    }
}

fn is_member(
    members: &HashMap<ConversationId, Vec<UserId>>,
    conversation: &ConversationId,
    uid: UserId,
) -> bool {
    members
        .get(conversation)
        .is_some_and(|uids| uids.binary_search(&uid).is_ok())
}

/// The members of each group conversation, ascending, in one query. On PostgreSQL the
/// conversations' rows are locked first, in id order (joins and leaves lock the same row), so
/// the members read are the ones the message is numbered among.
async fn group_members(
    backend: Backend,
    tx: &mut AnyConnection,
    conversations: &BTreeSet<&ConversationId>,
) -> Result<HashMap<ConversationId, Vec<UserId>>, StoreError> {
    let mut members: HashMap<ConversationId, Vec<UserId>> = HashMap::new();
    if conversations.is_empty() {
        return Ok(members);
    }
    let list = placeholders(1, conversations.len());
    if backend == Backend::Postgres {
        let sql =
            format!("SELECT id FROM conversations WHERE id IN ({list}) ORDER BY id FOR UPDATE");
        let mut query = sqlx::query(&sql);
        for conv in conversations {
            query = query.bind(&conv.0);
        }
        query.fetch_all(&mut *tx).await?;
    }
    let sql = format!(
        "SELECT conversation, uid FROM conversation_members WHERE conversation IN ({list}) \
         ORDER BY conversation, uid"
    );
    let mut query = sqlx::query(&sql);
    for conv in conversations {
        query = query.bind(&conv.0);
    }
    for row in query.fetch_all(&mut *tx).await? {
        members
            .entry(ConversationId(row.try_get("conversation")?))
            .or_default()
            .push(UserId(row.try_get("uid")?));
    }
    Ok(members)
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
    backend: Backend,
    tx: &mut AnyConnection,
    sends: &[&NewMessage],
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
    let sql = super::positional(backend, &sql);
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

/// Adds `counts[key]` to the counter of each keyed row, in one UPDATE per
/// [`COUNTERS_PER_UPDATE`] rows (in key order), and returns each row's first newly reserved
/// number (a row reserves `first .. first + count`). `also_set` sets one more
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
    if counts.len() <= COUNTERS_PER_UPDATE {
        return reserve_chunk(backend, tx, &counter, counts, also_set).await;
    }
    // Ascending key order across chunks keeps the lock order.
    let entries: Vec<(&K, &i64)> = counts.iter().collect();
    let mut first = HashMap::with_capacity(counts.len());
    for chunk in entries.chunks(COUNTERS_PER_UPDATE) {
        let part: BTreeMap<K, i64> = chunk.iter().map(|(k, n)| ((*k).clone(), **n)).collect();
        first.extend(reserve_chunk(backend, tx, &counter, &part, also_set).await?);
    }
    Ok(first)
}

/// [`reserve`] for at most [`COUNTERS_PER_UPDATE`] rows.
async fn reserve_chunk<K>(
    backend: Backend,
    tx: &mut AnyConnection,
    counter: &Counter,
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
    let &Counter { table, key, column } = counter;
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
    // When every row takes the same count (a group message: one event per member), a constant
    // increment; otherwise a CASE, which SQLite evaluates arm by arm for each row.
    let same = counts
        .values()
        .next()
        .copied()
        .filter(|c| counts.values().all(|n| n == c));
    let (increment, mut next_param) = match same {
        Some(_) => ("$1".to_owned(), 2),
        None => (
            format!(
                "CASE {key} {} ELSE 0 END",
                (0..n)
                    .map(|i| format!("WHEN ${} THEN ${}", 2 * i + 1, 2 * i + 2))
                    .collect::<Vec<_>>()
                    .join(" ")
            ),
            2 * n + 1,
        ),
    };
    let also = match also_set {
        Some((name, _)) => {
            next_param += 1;
            format!(", {name} = ${}", next_param - 1)
        }
        None => String::new(),
    };
    let sql = format!(
        "UPDATE {table} SET {column} = {column} + {increment}{also} \
         WHERE {key} IN ({}) RETURNING {key}, {column}",
        placeholders(next_param, n)
    );
    let sql = super::positional(backend, &sql);
    let mut query = sqlx::query(&sql);
    match same {
        Some(count) => query = query.bind(count),
        None => {
            for (k, count) in counts {
                query = query.bind(k.clone()).bind(*count);
            }
        }
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
    backend: Backend,
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
    let sql = super::positional(backend, &sql);
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
    let newest = newest_of_senders(messages);
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

/// Each sender's newest message (its seq) in each conversation of `messages`.
pub(super) fn newest_of_senders(messages: &[Message]) -> BTreeMap<(&ConversationId, UserId), i64> {
    let mut newest: BTreeMap<(&ConversationId, UserId), i64> = BTreeMap::new();
    for m in messages {
        let seq = newest.entry((&m.conversation, m.sender)).or_default();
        *seq = (*seq).max(m.seq.0);
    }
    newest
}

/// Appends a `message` event for each message to each of its participants' streams, allocating
/// the cursors inside the transaction (users locked in ascending uid order), in INSERTs of at
/// most [`EVENT_ROWS_PER_INSERT`] rows (a large group's message is one row per member).
async fn append_events(
    backend: Backend,
    tx: &mut AnyConnection,
    messages: &[Message],
    participants: &[Vec<UserId>],
) -> Result<Vec<(UserId, Cursor, Payload)>, StoreError> {
    let mut counts: BTreeMap<i64, i64> = BTreeMap::new();
    for uid in participants.iter().flatten() {
        *counts.entry(uid.0).or_default() += 1;
    }
    let mut next = reserve(backend, tx, USER_EVENT_HEAD, &counts, None).await?;

    let mut rows: Vec<(i64, i64, usize, i64)> =
        Vec::with_capacity(counts.values().sum::<i64>() as usize);
    let mut payloads: Vec<Payload> = Vec::with_capacity(messages.len());
    for (k, (message, users)) in messages.iter().zip(participants).enumerate() {
        payloads.push(Payload::from(
            serde_json::to_string(&Event::Message {
                message: message.clone(),
            })
            .map_err(|e| StoreError::Corrupt(format!("event does not serialize: {e}")))?,
        ));
        for uid in users {
            let cursor = next
                .get_mut(&uid.0)
                .ok_or_else(|| StoreError::Corrupt(format!("no cursor for {uid}")))?;
            rows.push((uid.0, *cursor, k, message.time));
            *cursor += 1;
        }
    }
    for chunk in rows.chunks(EVENT_ROWS_PER_INSERT) {
        let values = (0..chunk.len())
            .map(|k| format!("({})", placeholders(4 * k + 1, 4)))
            .collect::<Vec<_>>()
            .join(", ");
        let sql = format!("INSERT INTO events (uid, cursor, payload, time) VALUES {values}");
        let sql = super::positional(backend, &sql);
        let mut query = sqlx::query(&sql);
        for &(uid, cursor, message, time) in chunk {
            query = query
                .bind(uid)
                .bind(cursor)
                .bind(&*payloads[message])
                .bind(time);
        }
        query.execute(&mut *tx).await?;
    }
    // In cursor order per user (rows were numbered in that order).
    Ok(rows
        .into_iter()
        .map(|(uid, cursor, message, _)| (UserId(uid), Cursor(cursor), payloads[message].clone()))
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;
    use shared::MsgType;
    use shared::groups::JoinPolicy;

    /// Beyond one event INSERT, one counter UPDATE and one NOTIFY payload.
    const MEMBERS: i64 = 2_100;

    fn send(sender: UserId, gid: shared::GroupId, id: &str) -> NewMessage {
        NewMessage {
            sender,
            to: Target::Group(gid),
            conversation: crate::domain::groups::group_conversation(gid),
            client_msg_id: ClientMsgId(id.to_owned()),
            msg_type: MsgType::Text,
            content: "to everyone".to_owned(),
            now: 2,
            accepts: None,
        }
    }

    /// A text message from `sender` to `recipient`.
    fn direct(sender: UserId, recipient: UserId, id: &str, now: shared::Millis) -> NewMessage {
        NewMessage {
            sender,
            to: Target::User(recipient),
            conversation: crate::domain::direct_conversation(sender, recipient)
                .expect("conversation"),
            client_msg_id: ClientMsgId(id.to_owned()),
            msg_type: MsgType::Text,
            content: "hello".to_owned(),
            now,
            accepts: None,
        }
    }

    /// A SQLite store in `dir` with two guests.
    async fn two_guests(dir: &std::path::Path) -> (Store, UserId, UserId) {
        let store = Store::open(&Store::sqlite_url(dir), 2, "test-node")
            .await
            .expect("store opens");
        let a = store
            .create_guest("a", "a-code", "a-token", 1)
            .await
            .expect("a");
        let b = store
            .create_guest("b", "b-code", "b-token", 1)
            .await
            .expect("b");
        (store, a, b)
    }

    async fn a_large_groups_messages_reach_every_member(url: &str) {
        let store = Store::open(url, 4, "test-node").await.expect("store opens");
        let owner = store
            .create_guest("owner", "owner-code", "owner-token", 1)
            .await
            .expect("owner");
        let gid = store
            .create_group(owner, "big", "", JoinPolicy::Open, 1)
            .await
            .expect("group")
            .value
            .gid;
        let conv = crate::domain::groups::group_conversation(gid);
        sqlx::query(
            "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < $1) \
             INSERT INTO users (nick_name, kind, created_at, profile_time, friend_code) \
             SELECT 'member', 'guest', 1, 1, 'code-' || i FROM n",
        )
        .bind(MEMBERS)
        .execute(&store.writer)
        .await
        .expect("members");
        sqlx::query(
            "INSERT INTO group_members (gid, uid, role, joined_at) \
             SELECT $1, uid, 'member', 1 FROM users WHERE uid <> $2",
        )
        .bind(gid.0)
        .bind(owner.0)
        .execute(&store.writer)
        .await
        .expect("group members");
        sqlx::query(
            "INSERT INTO conversation_members (conversation, uid, read_seq, joined_at, init_seq) \
             SELECT $1, uid, 0, 1, 0 FROM users WHERE uid <> $2",
        )
        .bind(&conv.0)
        .bind(owner.0)
        .execute(&store.writer)
        .await
        .expect("conversation members");
        let member = UserId(owner.0 + 1);
        let stranger = store
            .create_guest("stranger", "stranger-code", "stranger-token", 1)
            .await
            .expect("stranger");

        // Through the writer task (possibly one batch), then alone.
        let (a, b, c) = tokio::join!(
            store.send_message(send(owner, gid, "a")),
            store.send_message(send(member, gid, "b")),
            store.send_message(send(stranger, gid, "c")),
        );
        let alone = store.send_alone(&send(member, gid, "d")).await;
        let mut seqs = Vec::new();
        for outcome in [a, b, alone] {
            match outcome.expect("stored") {
                SendOutcome::Created {
                    message,
                    recipients,
                } => {
                    assert_eq!(recipients.len() as i64, MEMBERS + 1);
                    seqs.push(message.seq.0);
                }
                other => panic!("not created: {other:?}"),
            }
        }
        seqs.sort_unstable();
        assert_eq!(seqs, [1, 2, 3]);
        assert!(matches!(c.expect("answered"), SendOutcome::NotAMember));
        let stranger_alone = store.send_alone(&send(stranger, gid, "e")).await;
        assert!(matches!(
            stranger_alone.expect("answered"),
            SendOutcome::NotAMember
        ));

        let messages: i64 = sqlx::query_scalar(
            "SELECT COUNT(*) FROM events WHERE payload LIKE '%\"type\":\"message\"%'",
        )
        .fetch_one(&store.reader)
        .await
        .expect("count");
        assert_eq!(messages, 3 * (MEMBERS + 1));
        let heads: Vec<i64> =
            sqlx::query_scalar("SELECT event_head FROM users WHERE uid NOT IN ($1, $2)")
                .bind(owner.0)
                .bind(stranger.0)
                .fetch_all(&store.reader)
                .await
                .expect("heads");
        assert!(heads.iter().all(|&head| head == 3));
        store.close().await;
    }

    /// The WAL's checkpoint sequence number (bytes 12..16 of its header): SQLite adds one each
    /// time the WAL starts over.
    fn wal_restarts(wal: &std::path::Path) -> u32 {
        std::fs::read(wal)
            .ok()
            .and_then(|bytes| {
                bytes
                    .get(12..16)
                    .map(|b| u32::from_be_bytes([b[0], b[1], b[2], b[3]]))
            })
            .unwrap_or(0)
    }

    /// With sends coming all the time (the writer never idle, so the checkpointer beside it
    /// never finds the WAL fully copied), the WAL still starts over soon after it passes
    /// [`super::super::WAL_RESTART_PAGES`] (plus what one checkpoint interval appends: about
    /// 14,000 pages in all here, in a debug build): the writer copies the last tail between two
    /// batches. Without that it grows to the writer's own threshold of 150,000 pages first.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn the_wal_starts_over_while_sends_keep_coming() {
        use std::sync::atomic::AtomicBool;
        let dir = tempfile::tempdir().expect("temp dir");
        let (store, a, b) = two_guests(dir.path()).await;
        let wal = dir.path().join("courier.db-wal");
        let stop = std::sync::Arc::new(AtomicBool::new(false));
        let mut senders = tokio::task::JoinSet::new();
        for task in 0..32 {
            let (store, stop) = (store.clone(), stop.clone());
            senders.spawn(async move {
                let mut n = 0;
                while !stop.load(Ordering::Relaxed) {
                    let outcome = store
                        .send_message(direct(a, b, &format!("{task}-{n}"), 2))
                        .await;
                    assert!(
                        matches!(outcome, Ok(SendOutcome::Created { .. })),
                        "{outcome:?}"
                    );
                    n += 1;
                }
            });
        }
        let first = wal_restarts(&wal);
        let deadline = Instant::now() + std::time::Duration::from_secs(90);
        while wal_restarts(&wal) < first + 3 && Instant::now() < deadline {
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        }
        stop.store(true, Ordering::Relaxed);
        while let Some(sender) = senders.join_next().await {
            sender.expect("sender");
        }
        let restarts = wal_restarts(&wal) - first;
        let pages = std::fs::metadata(&wal).expect("WAL").len() / (2048 + 24);
        assert!(
            restarts >= 3,
            "the WAL started over {restarts} times in 90 s"
        );
        // The writer's own checkpoint (`wal_autocheckpoint`) would start it over at 150,000 pages.
        assert!(pages < 40_000, "the WAL grew to {pages} pages");
        store.close().await;
    }

    /// Migration 0005 rebuilds `messages` without AUTOINCREMENT: messages stored before it keep
    /// their ids, seqs and content, a retry of one is still answered from the store, and the
    /// next send takes the largest id plus one.
    #[tokio::test]
    async fn messages_stored_before_the_rowid_migration_keep_their_ids() {
        let dir = tempfile::tempdir().expect("temp dir");
        let url = Store::sqlite_url(dir.path());
        sqlx::any::install_default_drivers();
        let pool = sqlx::any::AnyPoolOptions::new()
            .max_connections(1)
            .connect(&format!("{url}?mode=rwc"))
            .await
            .expect("database");
        let mut before = sqlx::migrate!("../migrations/sqlite");
        before.migrations = before
            .migrations
            .iter()
            .filter(|migration| migration.version < 5)
            .cloned()
            .collect::<Vec<_>>()
            .into();
        before.run(&pool).await.expect("migrations 1 to 4");
        for sql in [
            "INSERT INTO users (uid, nick_name, created_at) VALUES (1, 'a', 1), (2, 'b', 1)",
            "INSERT INTO conversations (id, kind, max_seq, last_time, created_at) \
             VALUES ('d1_2', 'direct', 3, 1, 1)",
            "INSERT INTO conversation_members (conversation, uid, peer_uid, joined_at) \
             VALUES ('d1_2', 1, 2, 1), ('d1_2', 2, 1, 1)",
            // Ids with a hole: kept as they are, not renumbered.
            "INSERT INTO messages (msg_id, conversation, seq, sender, client_msg_id, msg_type, \
             content, time) VALUES (1, 'd1_2', 1, 1, 'one', 'text', 'first', 1), \
             (2, 'd1_2', 2, 2, 'two', 'text', 'second', 1), \
             (7, 'd1_2', 3, 1, 'three', 'text', 'third', 1)",
        ] {
            sqlx::query(sql).execute(&pool).await.expect(sql);
        }
        pool.close().await;

        let store = Store::open(&url, 2, "test-node")
            .await
            .expect("store opens");
        let schema: String =
            sqlx::query_scalar("SELECT sql FROM sqlite_master WHERE name = 'messages'")
                .fetch_one(&store.reader)
                .await
                .expect("schema");
        assert!(!schema.contains("AUTOINCREMENT"), "{schema}");
        let kept: Vec<(i64, i64, String)> =
            sqlx::query_as("SELECT msg_id, seq, content FROM messages ORDER BY msg_id")
                .fetch_all(&store.reader)
                .await
                .expect("messages");
        let expected = [(1, 1, "first"), (2, 2, "second"), (7, 3, "third")]
            .map(|(id, seq, content)| (id, seq, content.to_owned()));
        assert_eq!(kept, expected);

        let send = |id: &str| direct(UserId(1), UserId(2), id, 2);
        match store.send_message(send("three")).await.expect("retry") {
            SendOutcome::Duplicate(message) => {
                assert_eq!((message.msg_id, message.seq), (MessageId(7), Seq(3)))
            }
            other => panic!("a retry of a stored send: {other:?}"),
        }
        match store.send_message(send("four")).await.expect("send") {
            SendOutcome::Created { message, .. } => {
                assert_eq!((message.msg_id, message.seq), (MessageId(8), Seq(4)))
            }
            other => panic!("a new send: {other:?}"),
        }
        store.close().await;
    }

    /// SQLite prunes without an index on the events' time: each stream loses its events older
    /// than the bound, oldest first, and keeps the others; a pass with nothing old deletes
    /// nothing; the newest event stays, so that later ones are numbered after it.
    #[tokio::test]
    async fn sqlite_prunes_each_streams_oldest_events_and_keeps_the_rest() {
        let dir = tempfile::tempdir().expect("temp dir");
        let (store, a, b) = two_guests(dir.path()).await;
        for (k, now) in [10, 20, 30, 40].into_iter().enumerate() {
            let outcome = store
                .send_message(direct(a, b, &format!("m{k}"), now))
                .await;
            assert!(
                matches!(outcome, Ok(SendOutcome::Created { .. })),
                "{outcome:?}"
            );
        }
        let cursors = |uid| {
            let store = store.clone();
            async move {
                let page = store
                    .events_after(uid, Cursor(0), 100)
                    .await
                    .expect("events");
                let cursors: Vec<i64> = page.events.iter().map(|(c, _)| c.0).collect();
                (cursors, page.head.0)
            }
        };
        // Two messages older than 25, in both streams.
        assert_eq!(store.prune_events(25).await.expect("prune"), 4);
        for uid in [a, b] {
            assert_eq!(cursors(uid).await, (vec![3, 4], 4));
        }
        assert_eq!(store.prune_events(25).await.expect("prune"), 0);
        // All of them old: the newest event stays (see `Store::prune_events`).
        assert_eq!(store.prune_events(1_000).await.expect("prune"), 3);
        let (left_a, left_b) = (cursors(a).await, cursors(b).await);
        assert_eq!(left_a.1, 4);
        assert_eq!(left_b.1, 4);
        assert_eq!([left_a.0, left_b.0].concat(), [4]);
        // Events appended afterwards come after it, and outlive it.
        let outcome = store.send_message(direct(a, b, "m4", 50)).await;
        assert!(
            matches!(outcome, Ok(SendOutcome::Created { .. })),
            "{outcome:?}"
        );
        assert_eq!(store.prune_events(45).await.expect("prune"), 1);
        for uid in [a, b] {
            assert_eq!(cursors(uid).await, (vec![5], 5));
        }
        store.close().await;
    }

    #[tokio::test]
    async fn a_large_groups_messages_reach_every_member_on_sqlite() {
        let dir = tempfile::tempdir().expect("temp dir");
        a_large_groups_messages_reach_every_member(&Store::sqlite_url(dir.path())).await;
    }

    #[tokio::test]
    async fn a_large_groups_messages_reach_every_member_on_postgres() {
        use sqlx::Connection;
        let Some(admin_url) = std::env::var("TEST_DATABASE_URL")
            .ok()
            .filter(|url| !url.is_empty())
        else {
            eprintln!("skipped: TEST_DATABASE_URL is not set");
            return;
        };
        let name = format!("courier_unit_{:016x}", rand::random::<u64>());
        let mut admin = sqlx::PgConnection::connect(&admin_url)
            .await
            .expect("connect");
        sqlx::Executor::execute(&mut admin, format!("CREATE DATABASE {name}").as_str())
            .await
            .expect("create database");
        let base = admin_url.split('?').next().unwrap_or(&admin_url);
        let server = base.rsplit_once('/').map_or(base, |(server, _)| server);
        a_large_groups_messages_reach_every_member(&format!("{server}/{name}")).await;
        let drop = format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)");
        let _ = sqlx::Executor::execute(&mut admin, drop.as_str()).await;
    }
}
