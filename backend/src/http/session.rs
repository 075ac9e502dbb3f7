//! `POST /api/session/guest`, `GET /api/me`.

use super::error::ApiError;
use super::extract::{AppJson, Auth, SESSION_COOKIE};
use crate::service::{AppState, session};
use axum::Router;
use axum::extract::State;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use shared::Me;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/session/guest", post(create_guest))
        .route("/me", get(me))
}

/// Creates a guest: 201 with the token in the body (for the bearer fallback) and in an HttpOnly
/// cookie.
async fn create_guest(State(state): State<AppState>) -> Result<Response, ApiError> {
    let guest = session::create_guest(&state).await?;
    let secure = state
        .config
        .public_url
        .as_deref()
        .is_some_and(|url| url.starts_with("https://"));
    // Over HTTPS the cookie must also work inside third-party iframes (the widget): SameSite=None
    // needs Secure, and Partitioned keeps it in browsers that block third-party cookies. Plain
    // http (local development) cannot carry Secure cookies, so it stays Lax.
    let attributes = if secure {
        "HttpOnly; Secure; SameSite=None; Partitioned"
    } else {
        "HttpOnly; SameSite=Lax"
    };
    let cookie = format!(
        "{SESSION_COOKIE}={}; Path=/; Max-Age=31536000; {attributes}",
        guest.token
    );
    let mut response = (StatusCode::CREATED, AppJson(guest)).into_response();
    if let Ok(value) = HeaderValue::from_str(&cookie) {
        response.headers_mut().insert(header::SET_COOKIE, value);
    }
    Ok(response)
}

async fn me(State(state): State<AppState>, Auth(caller): Auth) -> Result<AppJson<Me>, ApiError> {
    Ok(AppJson(session::me(&state, &caller).await?))
}
