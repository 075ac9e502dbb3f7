//! `Cache-Control: no-store` on every `/api` answer: they are per user and change all the time.
//!
//! A service around the whole application (see [`super::app`]) rather than a
//! `Router::layer`, which boxes its future once per route; a parked long-poll would keep that
//! box for as long as it waits. Here the router's future is only wrapped, unboxed.

use super::origin::is_api;
use axum::extract::Request;
use axum::http::{HeaderValue, header};
use axum::response::Response;
use futures_util::FutureExt;
use futures_util::future::{Either, Map};
use std::convert::Infallible;
use std::task::{Context, Poll};
use tower::Service;

type Marked<F> = Map<F, fn(Result<Response, Infallible>) -> Result<Response, Infallible>>;

/// The service `inner`, whose `/api` answers are marked `no-store`.
#[derive(Clone, Debug)]
pub struct NoStore<S> {
    inner: S,
}

impl<S> NoStore<S> {
    pub fn new(inner: S) -> Self {
        Self { inner }
    }
}

impl<S> Service<Request> for NoStore<S>
where
    S: Service<Request, Response = Response, Error = Infallible>,
{
    type Response = Response;
    type Error = Infallible;
    type Future = Either<Marked<S::Future>, S::Future>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: Request) -> Self::Future {
        if is_api(request.uri().path()) {
            Either::Left(self.inner.call(request).map(mark as fn(_) -> _))
        } else {
            Either::Right(self.inner.call(request))
        }
    }
}

fn mark(response: Result<Response, Infallible>) -> Result<Response, Infallible> {
    response.map(|mut response| {
        response
            .headers_mut()
            .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
        response
    })
}
