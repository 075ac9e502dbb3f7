//! HTTP edge: routes, extractors, error mapping, CSRF origin checks and the static client.
//! Handlers extract, call one service function, and return a DTO.

mod contacts;
pub mod error;
mod events;
pub mod extract;
mod files;
mod groups;
mod messages;
mod origin;
mod presence;
mod session;

use crate::service::AppState;
use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::http::{HeaderValue, header};
use error::ApiError;
use tower::ServiceBuilder;
use tower_http::compression::CompressionLayer;
use tower_http::services::{ServeDir, ServeFile};
use tower_http::set_header::SetResponseHeaderLayer;
use tower_http::trace::TraceLayer;

/// The whole application, as served: the router behind the CSRF origin check, which sees every
/// request before any route does (see [`origin`]).
pub fn app(state: AppState) -> origin::OriginCheck<Router> {
    let config = state.config.clone();
    origin::OriginCheck::new(router(state), config)
}

/// `/api/...` and the web client at every other path.
fn router(state: AppState) -> Router {
    let api = Router::new()
        .merge(session::router())
        .merge(messages::router())
        .merge(events::router())
        .merge(contacts::router())
        .merge(groups::router())
        .merge(presence::router())
        .merge(files::router())
        .fallback(|| async { ApiError::NotFound })
        .method_not_allowed_fallback(|| async { ApiError::MethodNotAllowed })
        .layer(DefaultBodyLimit::max(state.config.max_body_bytes))
        // API answers are per user and change all the time.
        .layer(SetResponseHeaderLayer::overriding(
            header::CACHE_CONTROL,
            HeaderValue::from_static("no-store"),
        ));
    let static_dir = &state.config.static_dir;
    // Client-side routes answer with index.html and 200, so deep links work.
    // Gzipped when the browser accepts it: the wasm module shrinks to about 40%.
    let web = ServiceBuilder::new()
        .layer(CompressionLayer::new())
        .service(ServeDir::new(static_dir).fallback(ServeFile::new(static_dir.join("index.html"))));
    Router::new()
        .nest("/api", api)
        .fallback_service(web)
        .layer(TraceLayer::new_for_http())
        .with_state(state)
}
