//! `GET /api/events?after=CURSOR&timeout=SECONDS`: the long-poll.

use super::error::ApiError;
use super::extract::{AppQuery, Auth};
use crate::domain::PollRequest;
use crate::service::session::Caller;
use crate::service::{AppState, events};
use axum::Router;
use axum::extract::FromRequestParts;
use axum::http::header;
use axum::http::request::Parts;
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

/// Everything the long-poll takes from the request, as one extractor: with a single extractor
/// axum keeps no copy of the request's parts while the handler runs, so a parked poll holds
/// little more than what it waits with.
struct PollCall {
    state: AppState,
    caller: Caller,
    request: PollRequest,
}

impl FromRequestParts<AppState> for PollCall {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let Auth(caller) = Auth::from_request_parts(parts, state).await?;
        let AppQuery(query) = AppQuery::<PollQuery>::from_request_parts(parts, state).await?;
        let request = PollRequest::parse(query.after, query.timeout, state.config.poll_cap)?;
        Ok(Self {
            state: state.clone(),
            caller,
            request,
        })
    }
}

// Not an `async fn`: its future would hold the argument twice (as passed, and as the local it
// is moved into; rustc 1.95 still does, measured); this block holds `call` once and uses its
// fields in place.
#[allow(clippy::manual_async_fn)]
fn poll(call: PollCall) -> impl Future<Output = Result<impl IntoResponse, ApiError>> + Send {
    async move {
        let answer = events::poll(&call.state, call.caller.uid, call.request).await?;
        // A `shared::EventBatch`, written from the stored event JSON as it is.
        Ok((
            [(header::CONTENT_TYPE, "application/json")],
            answer.to_json(),
        ))
    }
}
