//! Framing headers of the web client's pages: only the widget page (`/widget`) may be put in
//! an iframe by the sites of `--embed-origins`; every other page is for Courier's own origin
//! only (clickjacking). `/widget.js`, which sites load from their pages, is revalidated on each
//! load so that they pick up a new version at once.
//!
//! Applied to the static web service only, never to `/api`: parked polls are many and are kept
//! as small as they can be.

use crate::config::EmbedOrigins;
use axum::extract::{Request, State};
use axum::http::{HeaderValue, header};
use axum::middleware::Next;
use axum::response::Response;

/// The page CSP: framed by Courier's own pages only.
const SELF_ONLY: HeaderValue = HeaderValue::from_static("frame-ancestors 'self'");

/// The header values, built once at start-up.
#[derive(Clone, Debug)]
pub struct PageHeaders {
    widget_csp: HeaderValue,
}

impl PageHeaders {
    pub fn new(origins: &EmbedOrigins) -> Self {
        let widget_csp = HeaderValue::from_str(&origins.frame_ancestors()).unwrap_or_else(|_| {
            // Cannot happen: origins are checked at start-up to hold header-safe characters.
            tracing::warn!("embed origins do not fit in a header; the widget is same-origin only");
            SELF_ONLY
        });
        Self { widget_csp }
    }
}

/// What a path of the web client is, as far as framing goes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum PageKind {
    /// `/widget` and `/widget/...`: the iframe page.
    Widget,
    /// `/widget.js`: the loader sites include.
    Loader,
    /// Everything else: the full app, `/embed.html`, client routes, assets.
    Page,
}

impl PageKind {
    fn of(path: &str) -> Self {
        match path.strip_prefix("/widget") {
            Some("" | "/") => PageKind::Widget,
            Some(rest) if rest.starts_with('/') => PageKind::Widget,
            Some(".js") => PageKind::Loader,
            _ => PageKind::Page,
        }
    }
}

/// Adds the framing (or caching) headers that the path calls for.
pub async fn page_headers(
    State(headers): State<PageHeaders>,
    request: Request,
    next: Next,
) -> Response {
    let kind = PageKind::of(request.uri().path());
    let mut response = next.run(request).await;
    let out = response.headers_mut();
    let csp = header::CONTENT_SECURITY_POLICY;
    match kind {
        PageKind::Widget => {
            out.insert(csp, headers.widget_csp.clone());
        }
        PageKind::Loader => {
            out.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
        }
        PageKind::Page => {
            out.insert(csp, SELF_ONLY);
            out.insert(
                header::X_FRAME_OPTIONS,
                HeaderValue::from_static("SAMEORIGIN"),
            );
        }
    }
    response
}

#[cfg(test)]
mod tests {
    use super::PageKind;

    #[test]
    fn only_the_widget_page_and_its_subpaths_are_widget_pages() {
        for path in ["/widget", "/widget/", "/widget/anything"] {
            assert_eq!(PageKind::of(path), PageKind::Widget, "{path}");
        }
        assert_eq!(PageKind::of("/widget.js"), PageKind::Loader);
        for path in [
            "/",
            "/index.html",
            "/embed.html",
            "/widgets",
            "/widget.jsx",
            "/chat/widget",
        ] {
            assert_eq!(PageKind::of(path), PageKind::Page, "{path}");
        }
    }
}
