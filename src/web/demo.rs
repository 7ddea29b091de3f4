//! `GET /demo/echo`: the original article's demo, rebuilt on pushlab.
//!
//! The article's server was a Java `@ServerEndpoint` that answered every
//! message and kept a count of open connections; its client was a JSP page
//! with `new WebSocket(...)`, a box, a Send and a Close button. Here the
//! server is `/ws/echo` (`src/techniques/ws/echo.rs`), the count is the `echo`
//! section of `/api/stats`, and the client is `static/demo/echo.js`: the
//! same few lines, with every event it gets written down — `open`, each
//! `message`, `error`, and `close` with its code, so a student sees 1000
//! for a goodbye and 1006 when the server simply dies.

use actix_web::HttpResponse;
use askama::Template;

use crate::plumbing::error::ApiError;

/// The page's own script and style only, never inline (the `data:` image
/// is the empty favicon); `connect-src 'self'` also admits this origin's
/// `ws://` and `wss://` (CSP Level 3).
const CONTENT_SECURITY_POLICY: &str = "default-src 'self'; script-src 'self'; \
    style-src 'self'; img-src 'self' data:; connect-src 'self'; \
    object-src 'none'; base-uri 'none'; frame-ancestors 'none'";

#[derive(Template)]
#[template(path = "demo-echo.html")]
struct EchoDemo;

/// `GET /demo/echo`
pub async fn echo() -> Result<HttpResponse, ApiError> {
    super::html(&EchoDemo, CONTENT_SECURITY_POLICY)
}
