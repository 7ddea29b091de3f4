//! The Origin and Host checks that protect WebSockets from cross-site
//! hijacking, and the server's state from other sites.
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
//! Everything else gets 403 before the upgrade. "Same" means the same
//! scheme, host and port: `https://host` is not the origin of `http://host`.
//!
//! The settings the page changes (`/api/generator`) and publishing are
//! stricter: only the page itself, or a client that is no page at all. A
//! site a student happens to visit must not be able to flood the
//! classroom's server.
//!
//! Comparing Origin with Host is not enough on its own: a page on
//! `evil.example` whose DNS name is re-pointed at the classroom server (DNS
//! rebinding) sends `Host: evil.example:8080` *and* a matching Origin. So
//! the requests that change state or open a WebSocket are served only for
//! Host names pushlab knows ([`check_host`]): IP literals, `localhost`, and
//! names given with `--allowed-host` or `--allowed-origin`. Anything else is
//! a 421 before the request reaches its handler ([`guard`]).

use std::net::IpAddr;

use actix_web::body::MessageBody;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::{Method, StatusCode, header};
use actix_web::middleware::Next;
use actix_web::{HttpRequest, web};

use crate::plumbing::error::ApiError;
use crate::plumbing::state::AppState;

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

/// Does `origin` name the scheme, host and port this request was sent to?
fn is_same_origin(req: &HttpRequest, origin: &str) -> bool {
    let Some(host) = host_of(req) else {
        return false;
    };
    let scheme = req.connection_info().scheme().to_owned();
    origin
        .strip_prefix(scheme.as_str())
        .and_then(|rest| rest.strip_prefix("://"))
        .is_some_and(|authority| authority.eq_ignore_ascii_case(host))
}

/// The `Host` header, if there is one and it is text.
fn host_of(req: &HttpRequest) -> Option<&str> {
    let host = req.headers().get(header::HOST)?.to_str().ok()?.trim();
    (!host.is_empty()).then_some(host)
}

fn forbidden(message: String) -> ApiError {
    ApiError::new(StatusCode::FORBIDDEN, "forbidden_origin", message)
}
// docs:end origin-check

/// Is the request's `Host` one this server answers to? IP literals,
/// `localhost` and `*.localhost`, and the names given with `--allowed-host`
/// or inside `--allowed-origin`. A request without `Host` (HTTP/1.0, a
/// script) is no browser page, so no rebinding: it passes.
pub fn check_host(
    req: &HttpRequest,
    allowed_hosts: &[String],
    allowed_origins: &[String],
) -> Result<(), ApiError> {
    let Some(host) = host_of(req) else {
        return Ok(());
    };
    let name = name_of(host);
    let known = name.parse::<IpAddr>().is_ok()
        || name.eq_ignore_ascii_case("localhost")
        || name.to_ascii_lowercase().ends_with(".localhost")
        || allowed_hosts
            .iter()
            .any(|h| name_of(h.trim()).eq_ignore_ascii_case(name))
        || allowed_origins
            .iter()
            .filter_map(|o| {
                o.trim()
                    .split_once("://")
                    .map(|(_, a)| a.trim_end_matches('/'))
            })
            .any(|authority| name_of(authority).eq_ignore_ascii_case(name));
    if known {
        return Ok(());
    }
    let shown: String = name.chars().take(64).collect();
    Err(ApiError::new(
        StatusCode::MISDIRECTED_REQUEST,
        "unknown_host",
        format!(
            "this server does not answer to the name {shown:?}; use its IP address, \
             or start pushlab with --allowed-host {shown}"
        ),
    ))
}

/// The host name of `host[:port]` or `[v6]:port`, without the port.
fn name_of(host: &str) -> &str {
    if let Some(rest) = host.strip_prefix('[') {
        return rest.split(']').next().unwrap_or(rest);
    }
    match host.rsplit_once(':') {
        Some((name, port)) if port.bytes().all(|b| b.is_ascii_digit()) => name,
        _ => host,
    }
}

/// Middleware for every route that changes state or opens a WebSocket: a
/// known `Host`, and for anything but a GET (which here is only a
/// WebSocket handshake, whose Origin its handler checks) no foreign Origin.
pub async fn guard(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<impl MessageBody>, actix_web::Error> {
    if let Some(state) = req.app_data::<web::Data<AppState>>() {
        let config = &state.config;
        check_host(
            req.request(),
            &config.allowed_hosts,
            &config.allowed_origins,
        )?;
        if req.method() != Method::GET {
            check_same_origin(req.request())?;
        }
    }
    Ok(next.call(req).await?.map_into_boxed_body())
}

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
    fn the_scheme_is_part_of_the_origin() {
        assert!(check(&request(Some("https://127.0.0.1:8080")), &[]).is_err());
        assert!(check_same_origin(&request(Some("https://127.0.0.1:8080"))).is_err());
    }

    fn host(value: &str) -> HttpRequest {
        TestRequest::default()
            .insert_header((header::HOST, value))
            .to_http_request()
    }

    #[test]
    fn only_known_hosts_are_served() {
        let none: &[String] = &[];
        for known in [
            "127.0.0.1:8080",
            "192.168.1.20",
            "[::1]:8080",
            "localhost:8080",
            "app.localhost",
        ] {
            assert!(check_host(&host(known), none, none).is_ok(), "{known}");
        }
        let evil = host("evil.example:8080");
        assert_eq!(
            check_host(&evil, none, none).unwrap_err().status,
            StatusCode::MISDIRECTED_REQUEST
        );
        assert!(check_host(&evil, &["evil.example".into()], none).is_ok());
        assert!(check_host(&evil, none, &["http://evil.example:8080".into()]).is_ok());
        assert!(check_host(&TestRequest::default().to_http_request(), none, none).is_ok());
    }

    #[test]
    fn settings_accept_only_the_page_itself() {
        assert!(check_same_origin(&request(None)).is_ok());
        assert!(check_same_origin(&request(Some("http://127.0.0.1:8080/"))).is_ok());
        assert!(check_same_origin(&request(Some("https://evil.example"))).is_err());
        assert!(check_same_origin(&request(Some("null"))).is_err());
    }
}
