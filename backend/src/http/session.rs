//! `POST /api/session/guest`, `POST /api/session/identify`, `GET /api/me`.

use super::error::ApiError;
use super::extract::{AppJson, Auth, SESSION_COOKIE};
use crate::service::{AppState, identity, session};
use axum::Router;
use axum::extract::State;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use shared::widget::IdentifyRequest;
use shared::{GuestSession, Me};

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/session/guest", post(create_guest))
        .route("/session/identify", post(identify))
        .route("/me", get(me))
}

/// Creates a guest: 201 with the token in the body (for the bearer fallback) and in an HttpOnly
/// cookie.
async fn create_guest(State(state): State<AppState>) -> Result<Response, ApiError> {
    let guest = session::create_guest(&state).await?;
    Ok(session_response(&state, StatusCode::CREATED, guest))
}

/// Signs a site's user in with the site's identity token: 200 with a new session for that
/// user's uid, in the body and in the cookie, as for a guest.
async fn identify(
    State(state): State<AppState>,
    AppJson(request): AppJson<IdentifyRequest>,
) -> Result<Response, ApiError> {
    let signed_in = identity::identify(&state, &request.token).await?;
    Ok(session_response(&state, StatusCode::OK, signed_in))
}

/// `status` with the session in the body and in the session cookie.
fn session_response(state: &AppState, status: StatusCode, session: GuestSession) -> Response {
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
        session.token
    );
    let mut response = (status, AppJson(session)).into_response();
    if let Ok(value) = HeaderValue::from_str(&cookie) {
        response.headers_mut().insert(header::SET_COOKIE, value);
    }
    response
}

async fn me(State(state): State<AppState>, Auth(caller): Auth) -> Result<AppJson<Me>, ApiError> {
    Ok(AppJson(session::me(&state, &caller).await?))
}
