//! `GET /api/events?after=CURSOR&timeout=SECONDS`: the long-poll.

use super::error::ApiError;
use super::extract::{AppQuery, Auth};
use crate::domain::PollRequest;
use crate::service::{AppState, events};
use axum::Router;
use axum::extract::State;
use axum::http::header;
use axum::response::IntoResponse;
use axum::routing::get;
use serde::Deserialize;

pub fn router() -> Router<AppState> {
    Router::new().route("/events", get(poll))
}

#[derive(Deserialize)]
struct PollQuery {
    after: Option<i64>,
    timeout: Option<f64>,
}

async fn poll(
    State(state): State<AppState>,
    Auth(caller): Auth,
    AppQuery(query): AppQuery<PollQuery>,
) -> Result<impl IntoResponse, ApiError> {
    let request = PollRequest::parse(query.after, query.timeout, state.config.poll_cap)?;
    let answer = events::poll(&state, caller.uid, request).await?;
    // A `shared::EventBatch`, written from the stored event JSON as it is.
    Ok((
        [(header::CONTENT_TYPE, "application/json")],
        answer.to_json(),
    ))
}
