//! Sending, conversation list, history, read positions.

use super::error::ApiError;
use super::extract::{AppJson, AppPath, AppQuery, Auth};
use crate::domain::PageRequest;
use crate::service::{AppState, messages};
use axum::Router;
use axum::extract::State;
use axum::routing::{get, post};
use serde::Deserialize;
use shared::{
    ConversationId, ConversationList, MarkRead, MessagePage, ReadState, SendAck, SendMessage,
};

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/messages", post(send))
        .route("/conversations", get(list))
        .route("/conversations/{conversation}/messages", get(history))
        .route("/conversations/{conversation}/read", post(mark_read))
}

async fn send(
    State(state): State<AppState>,
    Auth(caller): Auth,
    AppJson(request): AppJson<SendMessage>,
) -> Result<AppJson<SendAck>, ApiError> {
    Ok(AppJson(messages::send(&state, caller.uid, request).await?))
}

async fn list(
    State(state): State<AppState>,
    Auth(caller): Auth,
) -> Result<AppJson<ConversationList>, ApiError> {
    Ok(AppJson(messages::conversations(&state, caller.uid).await?))
}

#[derive(Deserialize)]
struct HistoryQuery {
    before_seq: Option<i64>,
    after_seq: Option<i64>,
    limit: Option<u32>,
}

async fn history(
    State(state): State<AppState>,
    Auth(caller): Auth,
    AppPath(conversation): AppPath<String>,
    AppQuery(query): AppQuery<HistoryQuery>,
) -> Result<AppJson<MessagePage>, ApiError> {
    let page = PageRequest::parse(query.before_seq, query.after_seq, query.limit)?;
    let conversation = ConversationId(conversation);
    Ok(AppJson(
        messages::history(&state, caller.uid, &conversation, page).await?,
    ))
}

async fn mark_read(
    State(state): State<AppState>,
    Auth(caller): Auth,
    AppPath(conversation): AppPath<String>,
    AppJson(request): AppJson<MarkRead>,
) -> Result<AppJson<ReadState>, ApiError> {
    let conversation = ConversationId(conversation);
    Ok(AppJson(
        messages::mark_read(&state, caller.uid, &conversation, request.seq).await?,
    ))
}
