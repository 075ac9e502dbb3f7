//! The baseline: the same request shapes as Courier on the same stack (axum + tokio), with
//! everything in memory and nothing durable. It shows what the hardware and the HTTP stack
//! allow, so that Courier's figures can be read as a ratio to it.
//!
//! Like Courier it keeps one event list and one waker per user, appends a `message` event to
//! both participants' streams, numbers each conversation's messages, answers a repeated
//! `client_msg_id` with the first ack, and parks a poll by subscribing before it reads.

use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::Deserialize;
use shared::groups::{CreateGroup, GroupInfo};
use shared::{
    AccountKind, ClientMsgId, ConversationId, Cursor, ErrorBody, Event, EventBatch, GroupId,
    GuestSession, Me, Message, MessageId, SendAck, SendMessage, Seq, Target, UserId,
};
use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, SystemTime, UNIX_EPOCH};
use tokio::sync::watch;

/// The same cap as Courier's default `--poll-cap`.
const POLL_CAP: Duration = Duration::from_secs(30);

/// Serves the baseline on `listen` until the process is killed; prints its address first, in
/// the same words as Courier.
pub async fn serve(listen: SocketAddr) -> std::io::Result<()> {
    let listener = tokio::net::TcpListener::bind(listen).await?;
    let addr = listener.local_addr()?;
    println!("Baseline is running at http://{addr}/");
    axum::serve(listener, router().into_make_service()).await
}

fn router() -> Router {
    Router::new()
        .route("/api/session/guest", post(guest))
        .route("/api/me", get(me))
        .route("/api/messages", post(send))
        .route("/api/events", get(poll))
        .route("/api/groups", post(create_group))
        .route("/api/groups/{gid}/join", post(join_group))
        .with_state(Arc::new(Baseline::default()))
}

#[derive(Default)]
struct Baseline {
    next_uid: AtomicI64,
    next_msg: AtomicI64,
    sessions: RwLock<HashMap<String, UserId>>,
    streams: RwLock<HashMap<UserId, Arc<Stream>>>,
    /// Last seq per conversation.
    conversations: Mutex<HashMap<ConversationId, i64>>,
    /// First ack per (sender, client_msg_id).
    sent: Mutex<HashMap<(UserId, ClientMsgId), SendAck>>,
    next_gid: AtomicI64,
    /// Members per group.
    groups: RwLock<HashMap<GroupId, Vec<UserId>>>,
}

/// One user's event stream; the watch value is the stream's head (its length).
struct Stream {
    events: Mutex<Vec<Event>>,
    head: watch::Sender<i64>,
}

impl Stream {
    fn new() -> Self {
        Self {
            events: Mutex::new(Vec::new()),
            head: watch::channel(0).0,
        }
    }

    fn push(&self, event: Event) {
        let mut events = lock(&self.events);
        events.push(event);
        // Under the list's lock, so heads are announced in order.
        self.head.send_replace(events.len() as i64);
    }
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

type Shared = State<Arc<Baseline>>;

fn error(status: StatusCode, code: &str) -> Response {
    let body = ErrorBody {
        code: code.to_owned(),
        message: code.replace('_', " "),
    };
    (status, Json(body)).into_response()
}

fn now_millis() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

impl Baseline {
    fn caller(&self, headers: &HeaderMap) -> Option<(UserId, Arc<Stream>)> {
        let token = headers
            .get(header::AUTHORIZATION)?
            .to_str()
            .ok()?
            .strip_prefix("Bearer ")?;
        let uid = *self
            .sessions
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .get(token)?;
        let stream = self.stream(uid)?;
        Some((uid, stream))
    }

    fn stream(&self, uid: UserId) -> Option<Arc<Stream>> {
        self.streams
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .get(&uid)
            .cloned()
    }
}

async fn guest(State(state): Shared) -> Response {
    let uid = UserId(state.next_uid.fetch_add(1, Ordering::Relaxed) + 1);
    let token = format!("t{}x{:x}", uid.0, now_millis() ^ (uid.0 * 0x9e37_79b9));
    state
        .streams
        .write()
        .unwrap_or_else(|p| p.into_inner())
        .insert(uid, Arc::new(Stream::new()));
    state
        .sessions
        .write()
        .unwrap_or_else(|p| p.into_inner())
        .insert(token.clone(), uid);
    let session = GuestSession {
        uid,
        token,
        nick_name: format!("Guest-{}", uid.0),
    };
    (StatusCode::CREATED, Json(session)).into_response()
}

async fn me(State(state): Shared, headers: HeaderMap) -> Response {
    let Some((uid, stream)) = state.caller(&headers) else {
        return error(StatusCode::UNAUTHORIZED, "unauthenticated");
    };
    let cursor = Cursor(*stream.head.borrow());
    Json(Me {
        uid,
        nick_name: format!("Guest-{}", uid.0),
        kind: AccountKind::Guest,
        cursor,
        gender: Default::default(),
        birthday: None,
        time: 0,
        open_level: Default::default(),
        friend_level: Default::default(),
        msg_policy: Default::default(),
        presence_level: Default::default(),
        friend_code: String::new(),
    })
    .into_response()
}

async fn send(State(state): Shared, headers: HeaderMap, Json(body): Json<SendMessage>) -> Response {
    let Some((sender, sender_stream)) = state.caller(&headers) else {
        return error(StatusCode::UNAUTHORIZED, "unauthenticated");
    };
    let recipient = match body.to {
        Target::User(recipient) => recipient,
        Target::Group(gid) => return send_to_group(&state, sender, gid, body),
    };
    if recipient == sender {
        return error(StatusCode::BAD_REQUEST, "cannot_message_self");
    }
    let Some(recipient_stream) = state.stream(recipient) else {
        return error(StatusCode::NOT_FOUND, "unknown_user");
    };
    if body.content.trim().is_empty() {
        return error(StatusCode::BAD_REQUEST, "content_empty");
    }
    let (low, high) = if sender < recipient {
        (sender, recipient)
    } else {
        (recipient, sender)
    };
    let conversation = ConversationId(format!("d{low}_{high}"));
    store_message(
        &state,
        sender,
        conversation,
        body,
        &[sender_stream, recipient_stream],
    )
}

/// Stores a message (or answers a repeated `client_msg_id` with the first ack): numbers it in
/// its conversation and appends a `message` event to each of `streams`.
fn store_message(
    state: &Baseline,
    sender: UserId,
    conversation: ConversationId,
    body: SendMessage,
    streams: &[Arc<Stream>],
) -> Response {
    let key = (sender, body.client_msg_id.clone());
    let mut sent = lock(&state.sent);
    if let Some(ack) = sent.get(&key) {
        return Json(ack.clone()).into_response();
    }
    let seq = {
        let mut conversations = lock(&state.conversations);
        let last = conversations.entry(conversation.clone()).or_insert(0);
        *last += 1;
        Seq(*last)
    };
    let message = Message {
        msg_id: MessageId(state.next_msg.fetch_add(1, Ordering::Relaxed) + 1),
        conversation,
        seq,
        sender,
        msg_type: body.msg_type,
        content: body.content,
        time: now_millis(),
        client_msg_id: body.client_msg_id,
    };
    let ack = SendAck {
        msg_id: message.msg_id,
        conversation: message.conversation.clone(),
        seq: message.seq,
        time: message.time,
    };
    sent.insert(key, ack.clone());
    drop(sent);
    for stream in streams {
        stream.push(Event::Message {
            message: message.clone(),
        });
    }
    Json(ack).into_response()
}

#[derive(Deserialize)]
struct PollQuery {
    after: Option<i64>,
    timeout: Option<f64>,
}

async fn poll(
    State(state): Shared,
    headers: HeaderMap,
    Query(query): Query<PollQuery>,
) -> Response {
    let Some((_, stream)) = state.caller(&headers) else {
        return error(StatusCode::UNAUTHORIZED, "unauthenticated");
    };
    let after = query.after.unwrap_or(0);
    let timeout = query.timeout.unwrap_or(0.0);
    if after < 0 {
        return error(StatusCode::BAD_REQUEST, "invalid_cursor");
    }
    if !timeout.is_finite() || timeout < 0.0 {
        return error(StatusCode::BAD_REQUEST, "invalid_parameter");
    }
    let deadline = tokio::time::Instant::now() + Duration::from_secs_f64(timeout).min(POLL_CAP);
    // Subscribe before reading, so an event pushed in between wakes the wait below.
    let mut head = stream.head.subscribe();
    loop {
        let batch = {
            let events = lock(&stream.events);
            let len = events.len() as i64;
            if after > len {
                return error(StatusCode::BAD_REQUEST, "invalid_cursor");
            }
            (after < len).then(|| {
                let start = after as usize;
                let end = (start + 500).min(events.len());
                EventBatch {
                    cursor: Cursor(end as i64),
                    events: events[start..end].to_vec(),
                    reset: false,
                }
            })
        };
        if let Some(batch) = batch {
            return Json(batch).into_response();
        }
        match tokio::time::timeout_at(deadline, head.changed()).await {
            Ok(Ok(())) => continue,
            Ok(Err(_)) | Err(_) => {
                return Json(EventBatch {
                    cursor: Cursor(after),
                    events: Vec::new(),
                    reset: false,
                })
                .into_response();
            }
        }
    }
}

async fn create_group(
    State(state): Shared,
    headers: HeaderMap,
    Json(body): Json<CreateGroup>,
) -> Response {
    let Some((owner, _)) = state.caller(&headers) else {
        return error(StatusCode::UNAUTHORIZED, "unauthenticated");
    };
    let gid = GroupId(state.next_gid.fetch_add(1, Ordering::Relaxed) + 1);
    state
        .groups
        .write()
        .unwrap_or_else(|p| p.into_inner())
        .insert(gid, vec![owner]);
    let info = GroupInfo {
        gid,
        gname: body.gname,
        intro: body.intro,
        owner,
        join_policy: body.join_policy,
        conversation: ConversationId(format!("g{gid}")),
        dissolved: false,
        time: now_millis(),
    };
    (StatusCode::CREATED, Json(info)).into_response()
}

async fn join_group(State(state): Shared, headers: HeaderMap, Path(gid): Path<i64>) -> Response {
    let Some((uid, _)) = state.caller(&headers) else {
        return error(StatusCode::UNAUTHORIZED, "unauthenticated");
    };
    let mut groups = state.groups.write().unwrap_or_else(|p| p.into_inner());
    let Some(members) = groups.get_mut(&GroupId(gid)) else {
        return error(StatusCode::NOT_FOUND, "group_not_found");
    };
    if !members.contains(&uid) {
        members.push(uid);
    }
    Json(serde_json::json!({"result": "joined"})).into_response()
}

/// A group message: numbered in the group's conversation, one event per member.
fn send_to_group(state: &Baseline, sender: UserId, gid: GroupId, body: SendMessage) -> Response {
    let members = {
        let groups = state.groups.read().unwrap_or_else(|p| p.into_inner());
        match groups.get(&gid) {
            Some(members) if members.contains(&sender) => members.clone(),
            Some(_) => return error(StatusCode::FORBIDDEN, "not_a_member"),
            None => return error(StatusCode::NOT_FOUND, "group_not_found"),
        }
    };
    let streams: Vec<Arc<Stream>> = members
        .into_iter()
        .filter_map(|member| state.stream(member))
        .collect();
    store_message(
        state,
        sender,
        ConversationId(format!("g{gid}")),
        body,
        &streams,
    )
}
