//! The Origin check that protects WebSockets from cross-site hijacking, and
//! the page's own controls from other sites.
//!
//! A WebSocket handshake carries the visitor's cookies but is not bound by
//! the same-origin policy: any page on the web can open
//! `new WebSocket("ws://your-server/ws")`. The browser always says who is
//! asking in the `Origin` header, so the server must look. pushlab accepts:
//! - no `Origin` at all: not a browser page (websocat, load tools, scripts),
//!   so nobody's cookies can be abused;
//! - the page's own origin (the `Origin` names the same host as `Host`);
//! - origins named with `--allowed-origin`.
//!
//! Everything else gets 403 before the upgrade.
//!
//! The settings the page changes (`/api/generator`) are stricter: only the
//! page itself, or a client that is no page at all. A site a student
//! happens to visit must not be able to flood the classroom's server.

use actix_web::HttpRequest;
use actix_web::http::{StatusCode, header};

use crate::error::ApiError;

// docs:start origin-check
/// For WebSockets: no Origin, our own, or one named with `--allowed-origin`.
pub fn check(req: &HttpRequest, allowed: &[String]) -> Result<(), ApiError> {
    let Some(origin) = origin_of(req) else {
        return Ok(());
    };
    let listed = allowed
        .iter()
        .any(|a| a.trim().trim_end_matches('/').eq_ignore_ascii_case(origin));
    if is_same_origin(req, origin) || listed {
        return Ok(());
    }
    Err(forbidden(format!(
        "WebSocket connections from origin {origin:?} are not allowed; \
         start pushlab with --allowed-origin {origin} to allow it"
    )))
}

/// For the page's controls: no Origin, or our own; never another site.
pub fn check_same_origin(req: &HttpRequest) -> Result<(), ApiError> {
    match origin_of(req) {
        Some(origin) if !is_same_origin(req, origin) => Err(forbidden(format!(
            "a page from origin {origin:?} may not change this server's settings; \
             only pushlab's own page may"
        ))),
        _ => Ok(()),
    }
}

/// The `Origin` header without a trailing slash, if the request has one.
/// A header that is not even text counts as an origin that matches nothing.
fn origin_of(req: &HttpRequest) -> Option<&str> {
    let origin = req.headers().get(header::ORIGIN)?;
    Some(origin.to_str().unwrap_or("").trim().trim_end_matches('/'))
}

/// Does `origin` name the host this request was sent to?
fn is_same_origin(req: &HttpRequest, origin: &str) -> bool {
    let host = req
        .headers()
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .unwrap_or("");
    let authority = origin
        .strip_prefix("http://")
        .or_else(|| origin.strip_prefix("https://"));
    authority.is_some_and(|a| !host.is_empty() && a.eq_ignore_ascii_case(host))
}

fn forbidden(message: String) -> ApiError {
    ApiError::new(StatusCode::FORBIDDEN, "forbidden_origin", message)
}
// docs:end origin-check

#[cfg(test)]
mod tests {
    use actix_web::test::TestRequest;

    use super::*;

    fn request(origin: Option<&str>) -> HttpRequest {
        let mut req = TestRequest::default().insert_header((header::HOST, "127.0.0.1:8080"));
        if let Some(origin) = origin {
            req = req.insert_header((header::ORIGIN, origin));
        }
        req.to_http_request()
    }

    #[test]
    fn same_origin_and_no_origin_are_allowed() {
        assert!(check(&request(None), &[]).is_ok());
        assert!(check(&request(Some("http://127.0.0.1:8080")), &[]).is_ok());
    }

    #[test]
    fn foreign_origins_need_to_be_listed() {
        let evil = request(Some("https://evil.example"));
        assert!(check(&evil, &[]).is_err());
        assert!(check(&evil, &["https://evil.example/".into()]).is_ok());
        assert!(check(&request(Some("null")), &[]).is_err());
        assert!(check(&request(Some("http://127.0.0.1:9999")), &[]).is_err());
    }

    #[test]
    fn settings_accept_only_the_page_itself() {
        assert!(check_same_origin(&request(None)).is_ok());
        assert!(check_same_origin(&request(Some("http://127.0.0.1:8080/"))).is_ok());
        assert!(check_same_origin(&request(Some("https://evil.example"))).is_err());
        assert!(check_same_origin(&request(Some("null"))).is_err());
    }
}
