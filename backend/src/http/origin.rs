//! CSRF defence for mutating requests, which must not rely on SameSite (the widget's cookie is
//! SameSite=None): a browser's `Origin` must be the server's own or an allowed one. Bodies must
//! be JSON (enforced by `AppJson`), which a cross-site form cannot send without a preflight.

use super::error::ApiError;
use crate::service::AppState;
use axum::extract::{Request, State};
use axum::http::{HeaderMap, Method, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

pub async fn check(State(state): State<AppState>, request: Request, next: Next) -> Response {
    let safe = matches!(
        *request.method(),
        Method::GET | Method::HEAD | Method::OPTIONS
    );
    if !safe && !origin_allowed(request.headers(), &state) {
        tracing::info!(method = %request.method(), path = %request.uri().path(), "cross-origin write refused");
        return ApiError::ForbiddenOrigin.into_response();
    }
    next.run(request).await
}

fn origin_allowed(headers: &HeaderMap, state: &AppState) -> bool {
    let Some(origin) = headers.get(header::ORIGIN).and_then(|v| v.to_str().ok()) else {
        // No Origin: not a modern browser's cross-site request, unless it says so itself.
        return headers
            .get("sec-fetch-site")
            .and_then(|v| v.to_str().ok())
            .is_none_or(|site| site != "cross-site");
    };
    let origin = origin.trim_end_matches('/');
    if let Some(host) = headers.get(header::HOST).and_then(|v| v.to_str().ok())
        && (origin == format!("http://{host}") || origin == format!("https://{host}"))
    {
        return true;
    }
    let config = &state.config;
    config
        .public_url
        .iter()
        .chain(config.allowed_origins.iter())
        .any(|allowed| allowed.trim_end_matches('/') == origin)
}
