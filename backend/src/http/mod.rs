//! HTTP edge: routes, extractors, error mapping, CSRF origin checks and the static client.
//! Handlers extract, call one service function, and return a DTO.

mod contacts;
pub mod error;
mod events;
pub mod extract;
mod files;
mod groups;
mod messages;
mod no_store;
mod origin;
mod presence;
mod session;
mod widget;

use crate::service::AppState;
use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::extract::Request;
use axum::middleware;
use axum::response::{IntoResponse, Response};
use error::ApiError;
use std::convert::Infallible;
use tower::{Service, ServiceBuilder};
use tower_http::compression::CompressionLayer;
use tower_http::services::{ServeDir, ServeFile};
use tower_http::trace::TraceLayer;

/// The whole application, as served: the router behind the CSRF origin check, which sees every
/// request before any route does (see [`origin`]); API answers marked `no-store`; the API's
/// body limit; request tracing around it all.
///
/// These wrap the router as a whole rather than through `Router::layer`, which would box their
/// futures once per route: a parked long-poll keeps those boxes for as long as it waits.
pub fn app(
    state: AppState,
) -> impl Service<Request, Response = Response, Error = Infallible, Future: Send> + Clone + Send + 'static
{
    let config = state.config.clone();
    ServiceBuilder::new()
        .map_response(IntoResponse::into_response)
        .layer(TraceLayer::new_for_http())
        .layer(DefaultBodyLimit::max(config.max_body_bytes))
        .layer_fn(no_store::NoStore::new)
        .service(origin::OriginCheck::new(router(state), config))
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
        .method_not_allowed_fallback(|| async { ApiError::MethodNotAllowed });
    let static_dir = &state.config.static_dir;
    // Compressed when the browser accepts it: the copies scripts/build-frontend.sh wrote
    // (brotli, gzip) as they are, anything else gzipped on the fly. The wasm module shrinks
    // to about 30%.
    let page = |file: &str| {
        ServeFile::new(static_dir.join(file))
            .precompressed_br()
            .precompressed_gzip()
    };
    // The widget's page (`/widget`, `/widget/...`) loads the widget's module; client-side
    // routes answer with the app's index.html and 200, so deep links work.
    let pages = Router::new()
        .route_service("/widget", page("widget.html"))
        .route_service("/widget/", page("widget.html"))
        .route_service("/widget/{*rest}", page("widget.html"))
        .fallback_service(
            ServeDir::new(static_dir)
                .precompressed_br()
                .precompressed_gzip()
                .fallback(page("index.html")),
        );
    // Framing headers by path (the widget page may be framed by --embed-origins).
    let web = ServiceBuilder::new()
        .layer(middleware::from_fn_with_state(
            widget::PageHeaders::new(&state.config.embed_origins),
            widget::page_headers,
        ))
        .layer(CompressionLayer::new())
        .service(pages);
    Router::new()
        .nest("/api", api)
        .fallback_service(web)
        .with_state(state)
}
