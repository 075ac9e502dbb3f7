//! The HTTP client: the only module that talks to the server. Every call returns
//! `Result<T, ClientError>`, and error answers are decoded from the server's `ErrorBody`.
//!
//! Authentication is the session cookie (sent automatically, same origin). Where the browser drops
//! the cookie, `set_bearer` switches every later call to `Authorization: Bearer`.

use gloo_net::http::{Method, RequestBuilder};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;
use shared::contacts::{FriendRequest, ListKind, UserPresence};
use shared::files::FileInfo;
use shared::groups::{GroupInvite, GroupJoinRequest};
use shared::widget::IdentifyRequest;
use shared::{
    ConversationId, ConversationList, Cursor, ErrorBody, ErrorCode, Event, EventBatch, GroupId,
    GuestSession, MarkRead, Me, Message, MessagePage, Millis, ReadState, SendAck, SendMessage, Seq,
    UserId,
};
use std::cell::RefCell;
use std::fmt;
use std::future::Future;
use std::marker::PhantomData;
use std::pin::Pin;
use std::rc::Rc;
use std::task::{Context, Poll};
use std::time::Duration;
use wasm_bindgen::JsCast;
use wasm_bindgen::closure::Closure;
use web_sys::{AbortController, AbortSignal};

/// How long a send may take before the client gives up and offers a retry.
pub const SEND_TIMEOUT: Duration = Duration::from_secs(15);
/// How long other short calls may take.
const CALL_TIMEOUT: Duration = Duration::from_secs(30);

thread_local! {
    /// The bearer token, when the cookie does not work. Wasm in the browser is single-threaded.
    static BEARER: RefCell<Option<String>> = const { RefCell::new(None) };
}

/// Sends `Authorization: Bearer TOKEN` on every later call (`None`: rely on the cookie).
pub fn set_bearer(token: Option<String>) {
    BEARER.with(|b| *b.borrow_mut() = token);
}

/// The bearer token in use, if the cookie does not work.
pub fn bearer() -> Option<String> {
    BEARER.with(|b| b.borrow().clone())
}

/// Why a call failed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ClientError {
    /// The request never got an answer (offline, connection refused, DNS, CORS).
    Network(String),
    /// No answer within the call's time limit.
    Timeout,
    /// The caller aborted the request (the view that started it went away).
    Aborted,
    /// The server answered with an error status; `code` and `message` come from its `ErrorBody`
    /// (or are made up from the status when the body is not one).
    Server {
        status: u16,
        code: String,
        message: String,
    },
    /// A success status with a body this client cannot read.
    Decode(String),
    /// The client refused to send it: the input is not valid (the message is for people).
    Invalid(String),
}

impl ClientError {
    /// Whether the server answered with this error code.
    pub fn is(&self, code: ErrorCode) -> bool {
        matches!(self, ClientError::Server { code: c, .. } if c == code.as_str())
    }

    /// A 4xx answer: the request itself was refused, retrying it unchanged will not help (except
    /// rate limits).
    pub fn is_client_error(&self) -> bool {
        matches!(self, ClientError::Server { status, .. } if (400..500).contains(status) && *status != 429)
    }
}

impl fmt::Display for ClientError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ClientError::Network(_) => f.write_str("Cannot reach the server"),
            ClientError::Timeout => f.write_str("The server did not answer in time"),
            ClientError::Aborted => f.write_str("Cancelled"),
            ClientError::Server {
                message,
                code,
                status,
            } => {
                if message.is_empty() {
                    write!(f, "Server error {status} ({code})")
                } else {
                    f.write_str(message)
                }
            }
            ClientError::Decode(_) => f.write_str("Unexpected answer from the server"),
            ClientError::Invalid(message) => f.write_str(message),
        }
    }
}

/// How a request may be cut short.
enum Limit {
    /// Aborted after this long.
    Timeout(Duration),
    /// Aborted when this signal fires (the caller owns the controller).
    Signal(AbortSignal),
}

/// A call on its way: the request as one boxed future that is the same for every call, then its
/// body decoded as `T`. Only this small `poll` and the decoding exist once per answer type;
/// the request code, and the state machines of the callers awaiting a `Call`, do not grow with
/// the number of answer types.
#[must_use = "a call does nothing unless awaited"]
pub struct Call<T> {
    text: Pin<Box<dyn Future<Output = Result<String, ClientError>>>>,
    answer: PhantomData<fn() -> T>,
}

impl<T: DeserializeOwned> Future for Call<T> {
    type Output = Result<T, ClientError>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        self.text
            .as_mut()
            .poll(cx)
            .map(|text| text.and_then(|text| decode(&text)))
    }
}

/// Reads an answer's body as `T`; 204 No Content reads as `null`, which is what `()` expects.
fn decode<T: DeserializeOwned>(text: &str) -> Result<T, ClientError> {
    let text = if text.trim().is_empty() { "null" } else { text };
    serde_json::from_str(text).map_err(|e| ClientError::Decode(e.to_string()))
}

/// `GET /api/me`.
pub fn me() -> Call<Me> {
    call(
        Method::GET,
        "/api/me",
        None::<&()>,
        Limit::Timeout(CALL_TIMEOUT),
    )
}

/// `POST /api/session/guest`: a new guest identity.
pub fn create_guest() -> Call<GuestSession> {
    call(
        Method::POST,
        "/api/session/guest",
        None::<&()>,
        Limit::Timeout(CALL_TIMEOUT),
    )
}

/// `POST /api/session/identify`: signs in as a site's user with the site's identity token (the
/// widget's `identify`). A new session, with its token in the body as for a guest.
pub fn identify(token: &str) -> Call<GuestSession> {
    post(
        "/api/session/identify",
        &IdentifyRequest {
            token: token.to_owned(),
        },
    )
}

/// `GET /api/users/{uid}/presence`: whether a user is online (403 `forbidden_by_privacy` when
/// they do not show it to the caller).
pub fn user_presence(uid: UserId) -> Call<UserPresence> {
    get(&format!("/api/users/{uid}/presence"))
}

/// `POST /api/conversations/{id}/typing`: tells the other members that we are typing.
pub async fn typing(conversation: &ConversationId) -> Result<(), ClientError> {
    let url = format!("/api/conversations/{}/typing", encode(&conversation.0));
    post::<_, serde::de::IgnoredAny>(&url, &Empty {})
        .await
        .map(|_| ())
}

/// `GET /api/conversations`.
pub fn conversations() -> Call<ConversationList> {
    call(
        Method::GET,
        "/api/conversations",
        None::<&()>,
        Limit::Timeout(CALL_TIMEOUT),
    )
}

/// Which page of a conversation's history to read.
#[derive(Clone, Copy, Debug)]
pub enum Page {
    /// The latest page (the server's default size).
    Latest,
    /// The latest `limit` messages with a seq below this one (older history).
    Before(Seq, u32),
    /// The first `limit` messages with a seq above this one (a gap).
    After(Seq, u32),
}

/// `GET /api/conversations/{id}/messages`.
pub fn history(conversation: &ConversationId, page: Page) -> Call<MessagePage> {
    let query = match page {
        Page::Latest => String::new(),
        Page::Before(seq, limit) => format!("?before_seq={seq}&limit={limit}"),
        Page::After(seq, limit) => format!("?after_seq={seq}&limit={limit}"),
    };
    let url = format!(
        "/api/conversations/{}/messages{query}",
        encode(&conversation.0)
    );
    call(Method::GET, &url, None::<&()>, Limit::Timeout(CALL_TIMEOUT))
}

/// `POST /api/conversations/{id}/read`.
pub fn mark_read(conversation: &ConversationId, seq: Seq) -> Call<ReadState> {
    let url = format!("/api/conversations/{}/read", encode(&conversation.0));
    call(
        Method::POST,
        &url,
        Some(&MarkRead { seq }),
        Limit::Timeout(CALL_TIMEOUT),
    )
}

/// `POST /api/messages`, given up after `SEND_TIMEOUT`.
pub fn send_message(message: &SendMessage) -> Call<SendAck> {
    call(
        Method::POST,
        "/api/messages",
        Some(message),
        Limit::Timeout(SEND_TIMEOUT),
    )
}

/// `GET /api/events?after=CURSOR&timeout=SECS`: the long-poll, cancelled by `signal`.
pub async fn poll_events(
    after: Cursor,
    timeout_secs: u32,
    signal: &AbortSignal,
) -> Result<EventBatch, ClientError> {
    let url = format!("/api/events?after={after}&timeout={timeout_secs}");
    let raw: RawBatch = call(
        Method::GET,
        &url,
        None::<&()>,
        Limit::Signal(signal.clone()),
    )
    .await?;
    Ok(EventBatch {
        cursor: raw.cursor,
        events: raw.events.iter().filter_map(|e| decode_event(e)).collect(),
        reset: raw.reset,
    })
}

/// `EventBatch` with each event kept as its JSON text.
#[derive(Deserialize)]
struct RawBatch {
    cursor: Cursor,
    events: Vec<Box<RawValue>>,
    reset: bool,
}

/// The fields of every event kind but the two whose `request` differs in type.
#[derive(Deserialize)]
struct EventFields {
    #[serde(rename = "type")]
    kind: String,
    message: Option<Message>,
    conversation: Option<ConversationId>,
    read_seq: Option<Seq>,
    list: Option<ListKind>,
    version: Option<i64>,
    uid: Option<UserId>,
    time: Option<Millis>,
    online: Option<bool>,
    invite: Option<GroupInvite>,
    gid: Option<GroupId>,
    file: Option<FileInfo>,
}

#[derive(Deserialize)]
struct Request<T> {
    request: T,
}

/// One event of the stream, or `None` for kinds this client does not use or know (skipped, as
/// the contract asks), and for malformed ones.
///
/// `shared::Event` is internally tagged, and serde's code for reading such an enum (buffering
/// every variant's fields) is the largest single piece of the module; reading the fields
/// directly keeps the same types at a fraction of the size.
fn decode_event(raw: &RawValue) -> Option<Event> {
    let text = raw.get();
    let f: EventFields = serde_json::from_str(text).ok()?;
    Some(match f.kind.as_str() {
        "message" => Event::Message {
            message: f.message?,
        },
        "read" => Event::Read {
            conversation: f.conversation?,
            read_seq: f.read_seq?,
        },
        "friend_request" => Event::FriendRequest {
            request: serde_json::from_str::<Request<FriendRequest>>(text)
                .ok()?
                .request,
        },
        "list_changed" => Event::ListChanged {
            list: f.list?,
            version: f.version?,
        },
        "profile" => Event::Profile {
            uid: f.uid?,
            time: f.time?,
        },
        "presence" => Event::Presence {
            uid: f.uid?,
            online: f.online?,
        },
        "group_invite" => Event::GroupInvite { invite: f.invite? },
        "group_join_request" => Event::GroupJoinRequest {
            request: serde_json::from_str::<Request<GroupJoinRequest>>(text)
                .ok()?
                .request,
        },
        "group" => Event::Group {
            gid: f.gid?,
            time: f.time?,
        },
        "group_members" => Event::GroupMembers { gid: f.gid? },
        "file_ready" => Event::FileReady { file: f.file? },
        "typing" => Event::Typing {
            conversation: f.conversation?,
            uid: f.uid?,
        },
        // Kinds of newer servers are skipped.
        _ => return None,
    })
}

/// `GET url`.
pub fn get<T: DeserializeOwned>(url: &str) -> Call<T> {
    call(Method::GET, url, None::<&()>, Limit::Timeout(CALL_TIMEOUT))
}

/// `POST url` with a JSON body.
pub fn post<B: Serialize + ?Sized, T: DeserializeOwned>(url: &str, body: &B) -> Call<T> {
    call(Method::POST, url, Some(body), Limit::Timeout(CALL_TIMEOUT))
}

/// `POST url` for an action without parameters (sends `{}`, so the body is always JSON).
pub fn post_empty<T: DeserializeOwned>(url: &str) -> Call<T> {
    post(url, &Empty {})
}

/// `PATCH url` with a JSON body.
pub fn patch<B: Serialize + ?Sized, T: DeserializeOwned>(url: &str, body: &B) -> Call<T> {
    call(Method::PATCH, url, Some(body), Limit::Timeout(CALL_TIMEOUT))
}

/// `DELETE url` (the answer is 204, or a body that is ignored).
pub async fn delete(url: &str) -> Result<(), ClientError> {
    call::<(), serde::de::IgnoredAny>(Method::DELETE, url, None, Limit::Timeout(CALL_TIMEOUT))
        .await
        .map(|_| ())
}

/// The body `{}`.
#[derive(Serialize)]
struct Empty {}

fn encode(segment: &str) -> String {
    String::from(js_sys::encode_uri_component(segment))
}

fn call<B: Serialize + ?Sized, T>(
    method: Method,
    url: &str,
    body: Option<&B>,
    limit: Limit,
) -> Call<T> {
    let json = body
        .map(serde_json::to_string)
        .transpose()
        .map_err(|e| ClientError::Decode(e.to_string()));
    Call {
        text: start(method, url.to_owned(), json, limit),
        answer: PhantomData,
    }
}

/// The request part of every call, boxed: one copy of it in the module.
fn start(
    method: Method,
    url: String,
    body: Result<Option<String>, ClientError>,
    limit: Limit,
) -> Pin<Box<dyn Future<Output = Result<String, ClientError>>>> {
    Box::pin(async move { call_text(method, &url, body?, limit).await })
}

/// Sends a request and returns the body of a success answer, or the error the answer carries.
async fn call_text(
    method: Method,
    url: &str,
    body: Option<String>,
    limit: Limit,
) -> Result<String, ClientError> {
    // A timeout is an abort fired by a timer; `timed_out` tells it apart from the caller's abort.
    let timed_out = Rc::new(RefCell::new(false));
    let mut _timer = None;
    let own_controller;
    let signal = match limit {
        Limit::Signal(signal) => signal,
        Limit::Timeout(duration) => {
            own_controller = AbortController::new()
                .map_err(|_| ClientError::Network("AbortController unavailable".into()))?;
            let controller = own_controller.clone();
            let flag = timed_out.clone();
            _timer = leptos::prelude::set_timeout_with_handle(
                move || {
                    *flag.borrow_mut() = true;
                    controller.abort();
                },
                duration,
            )
            .ok()
            .map(TimerGuard);
            own_controller.signal()
        }
    };

    let mut builder = RequestBuilder::new(url)
        .method(method)
        .header("Accept", "application/json")
        .abort_signal(Some(&signal));
    if let Some(token) = bearer() {
        builder = builder.header("Authorization", &format!("Bearer {token}"));
    }
    let request = match body {
        Some(json) => builder
            .header("Content-Type", "application/json")
            .body(json),
        None => builder.build(),
    }
    .map_err(|e| ClientError::Network(e.to_string()))?;

    let failed = |error: gloo_net::Error| {
        if *timed_out.borrow() {
            ClientError::Timeout
        } else if signal.aborted() {
            ClientError::Aborted
        } else {
            ClientError::Network(error.to_string())
        }
    };
    let response = request.send().await.map_err(failed)?;
    let status = response.status();
    let text = response.text().await.map_err(failed)?;

    answer(status, text)
}

/// The body of a success answer, or the error an answer carries.
fn answer(status: u16, text: String) -> Result<String, ClientError> {
    if (200..300).contains(&status) {
        Ok(text)
    } else {
        Err(match serde_json::from_str::<ErrorBody>(&text) {
            Ok(body) => ClientError::Server {
                status,
                code: body.code,
                message: body.message,
            },
            Err(_) => ClientError::Server {
                status,
                code: String::new(),
                message: format!("Server error {status}"),
            },
        })
    }
}

/// A running `PUT /api/files/{id}/content` (an `XMLHttpRequest`, for its upload progress
/// events). Keep it until `on_done` has run; dropping it earlier drops the callbacks.
pub struct Upload {
    xhr: web_sys::XmlHttpRequest,
    _progress: Closure<dyn FnMut(web_sys::ProgressEvent)>,
    _done: Closure<dyn FnMut()>,
}

impl Upload {
    /// Stops the request; `on_done` then runs with an error.
    pub fn abort(&self) {
        let _ = self.xhr.abort();
    }
}

/// Starts uploading `body` (the file from byte `offset` on) to `url`. `on_progress` gets the
/// bytes of `body` sent so far, `on_done` the server's `FileInfo` or the error.
pub fn upload(
    url: &str,
    offset: u64,
    body: &web_sys::Blob,
    on_progress: impl Fn(u64) + 'static,
    on_done: impl FnOnce(Result<FileInfo, ClientError>) + 'static,
) -> Result<Upload, ClientError> {
    let failed = |_| ClientError::Network("XMLHttpRequest unavailable".into());
    let xhr = web_sys::XmlHttpRequest::new().map_err(failed)?;
    xhr.open("PUT", url).map_err(failed)?;
    xhr.set_request_header(shared::files::UPLOAD_OFFSET_HEADER, &offset.to_string())
        .map_err(failed)?;
    if let Some(token) = bearer() {
        xhr.set_request_header("Authorization", &format!("Bearer {token}"))
            .map_err(failed)?;
    }
    let progress =
        Closure::<dyn FnMut(web_sys::ProgressEvent)>::new(move |e: web_sys::ProgressEvent| {
            on_progress(e.loaded() as u64)
        });
    xhr.upload()
        .map_err(failed)?
        .set_onprogress(Some(progress.as_ref().unchecked_ref()));
    let mut on_done = Some(on_done);
    let request = xhr.clone();
    let done = Closure::<dyn FnMut()>::new(move || {
        let Some(on_done) = on_done.take() else {
            return;
        };
        let status = request.status().unwrap_or(0);
        on_done(if status == 0 {
            Err(ClientError::Network("upload interrupted".into()))
        } else {
            let text = request.response_text().ok().flatten().unwrap_or_default();
            answer(status, text).and_then(|text| {
                serde_json::from_str(&text).map_err(|e| ClientError::Decode(e.to_string()))
            })
        });
    });
    xhr.set_onloadend(Some(done.as_ref().unchecked_ref()));
    xhr.send_with_opt_blob(Some(body)).map_err(failed)?;
    Ok(Upload {
        xhr,
        _progress: progress,
        _done: done,
    })
}

/// `GET url` as a `blob:` URL (revoke it when done): downloads with the bearer token, which
/// `<img src>` and `<a href>` cannot send.
pub async fn blob_url(url: &str) -> Result<String, ClientError> {
    let mut builder = RequestBuilder::new(url);
    if let Some(token) = bearer() {
        builder = builder.header("Authorization", &format!("Bearer {token}"));
    }
    let network = |e: gloo_net::Error| ClientError::Network(e.to_string());
    let response = builder.send().await.map_err(network)?;
    let status = response.status();
    if !(200..300).contains(&status) {
        // Not a success: `answer` returns the error.
        answer(status, response.text().await.unwrap_or_default())?;
    }
    let js = |_| ClientError::Decode("not a file".into());
    let raw: web_sys::Response = response.into();
    let blob = wasm_bindgen_futures::JsFuture::from(raw.blob().map_err(js)?)
        .await
        .map_err(js)?;
    web_sys::Url::create_object_url_with_blob(&blob.unchecked_into()).map_err(js)
}

/// Clears its timer when the call ends.
struct TimerGuard(leptos::prelude::TimeoutHandle);

impl Drop for TimerGuard {
    fn drop(&mut self) {
        self.0.clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn events_decode_as_the_shared_types_and_unknown_kinds_are_skipped() {
        let event = Event::ListChanged {
            list: ListKind::Group,
            version: 4,
        };
        let text = serde_json::to_string(&event).expect("serializes");
        let raw = RawValue::from_string(text).expect("raw");
        assert_eq!(decode_event(&raw), Some(event));
        let raw = RawValue::from_string(r#"{"type":"hologram","x":1}"#.to_owned()).expect("raw");
        assert_eq!(decode_event(&raw), None);
    }
}
