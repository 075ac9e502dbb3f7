//! CSRF defence for mutating requests, which must not rely on SameSite (the widget's cookie is
//! SameSite=None): a browser's `Origin` must be the server's own or an allowed one. Bodies must
//! be JSON (enforced by `AppJson`), which a cross-site form cannot send without a preflight.
//!
//! The check wraps the whole application ([`super::app`]), outside the router, so that no route,
//! present or future, can be reached without it, and so that it costs nothing while a request
//! waits: it decides synchronously in `call` and then returns the router's own future unboxed
//! (a parked long-poll holds no extra allocation for it, unlike a `middleware::from_fn`).

use super::error::ApiError;
use crate::config::Config;
use axum::extract::Request;
use axum::http::{HeaderMap, Method, Uri, header};
use axum::response::{IntoResponse, Response};
use futures_util::future::{Either, Ready, ready};
use std::convert::Infallible;
use std::sync::Arc;
use std::task::{Context, Poll};
use tower::Service;

/// The service `inner` behind the origin check: every `/api` request whose method is not
/// GET, HEAD or OPTIONS, from a foreign `Origin` (or, without `Origin`, with
/// `Sec-Fetch-Site: cross-site`), is answered 403 `forbidden_origin` before `inner` sees it.
#[derive(Clone, Debug)]
pub struct OriginCheck<S> {
    inner: S,
    config: Arc<Config>,
}

impl<S> OriginCheck<S> {
    pub fn new(inner: S, config: Arc<Config>) -> Self {
        Self { inner, config }
    }
}

impl<S> Service<Request> for OriginCheck<S>
where
    S: Service<Request, Response = Response, Error = Infallible>,
{
    type Response = Response;
    type Error = Infallible;
    type Future = Either<Ready<Result<Response, Infallible>>, S::Future>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: Request) -> Self::Future {
        if refused(&request, &self.config) {
            tracing::info!(method = %request.method(), path = %request.uri().path(), "cross-origin write refused");
            return Either::Left(ready(Ok(ApiError::ForbiddenOrigin.into_response())));
        }
        Either::Right(self.inner.call(request))
    }
}

/// Whether the request is an API write the origin check refuses.
fn refused(request: &Request, config: &Config) -> bool {
    let safe = matches!(
        *request.method(),
        Method::GET | Method::HEAD | Method::OPTIONS
    );
    is_api(request.uri().path())
        && !safe
        && !origin_allowed(request.headers(), request.uri(), config)
}

/// Whether `path` is the API's (`/api` and below), as the router nests it.
pub fn is_api(path: &str) -> bool {
    path == "/api" || path.starts_with("/api/")
}

fn origin_allowed(headers: &HeaderMap, uri: &Uri, config: &Config) -> bool {
    let Some(origin) = headers.get(header::ORIGIN).and_then(|v| v.to_str().ok()) else {
        // No Origin: not a modern browser's cross-site request, unless it says so itself.
        return headers
            .get("sec-fetch-site")
            .and_then(|v| v.to_str().ok())
            .is_none_or(|site| site != "cross-site");
    };
    let origin = origin.trim_end_matches('/');
    // HTTP/1.1 names the server in `Host`; HTTP/2 in the `:authority` of the URI.
    let host = headers
        .get(header::HOST)
        .and_then(|v| v.to_str().ok())
        .or_else(|| uri.authority().map(|a| a.as_str()));
    if let Some(host) = host
        && let Some(rest) = origin
            .strip_prefix("http://")
            .or_else(|| origin.strip_prefix("https://"))
        && rest == host
    {
        return true;
    }
    config
        .public_url
        .iter()
        .chain(config.allowed_origins.iter())
        .any(|allowed| allowed.trim_end_matches('/') == origin)
}
