//! The teacher key: who may steer the whole class.
//!
//! In a classroom pushlab listens on `0.0.0.0` and every laptop on the LAN
//! reaches it. Students publish, pause their own lanes and read the figures;
//! but the controls that change what *everyone* sees — the generator's rate,
//! restarting or faulting the class — belong to the teacher. As Jupyter
//! does with its token, `pushlab serve` prints a teacher URL that carries a
//! random key (`http://192.168.1.20:8080/?key=…`); whoever opens it holds
//! the key, and the page sends it along with its own control requests, as
//! `Authorization: Bearer KEY` (or `?key=KEY` for a curl line).
//!
//! A server bound to loopback only can be reached from this machine alone,
//! so there the controls stay open to every client unless `--open-controls
//! false` says otherwise (and `--open-controls true` opens them on a LAN,
//! for a class that trusts itself).

use std::net::{IpAddr, SocketAddr, UdpSocket};

use actix_web::body::MessageBody;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::{StatusCode, header};
use actix_web::middleware::Next;
use actix_web::{HttpRequest, HttpResponse, web};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::Serialize;
use subtle::ConstantTimeEq;

use crate::plumbing::error::ApiError;
use crate::plumbing::state::AppState;

/// Random bytes in a generated key: 16 bytes, 22 URL-safe characters.
const KEY_BYTES: usize = 16;
/// The shortest key `--teacher-key` accepts, in characters.
pub const MIN_KEY_CHARS: usize = 16;

/// The key, and whether the controls are open without it.
#[derive(Debug)]
pub struct TeacherKey {
    key: String,
    open: bool,
}

impl TeacherKey {
    /// `given` (from `--teacher-key`), or a new random key.
    pub fn new(given: Option<String>, open: bool) -> Self {
        let key =
            given.unwrap_or_else(|| URL_SAFE_NO_PAD.encode(rand::random::<[u8; KEY_BYTES]>()));
        TeacherKey { key, open }
    }

    pub fn key(&self) -> &str {
        &self.key
    }

    /// Are the global controls open to every client (loopback, or asked for)?
    pub fn open(&self) -> bool {
        self.open
    }

    /// Does this request carry the key, in `Authorization: Bearer` or `?key=`?
    pub fn presented_by(&self, req: &HttpRequest) -> bool {
        self.presented(bearer(req)) || self.presented(query_key(req).as_deref())
    }

    /// Compared in constant time: how long a refusal takes says nothing
    /// about how much of a guess was right.
    fn presented(&self, candidate: Option<&str>) -> bool {
        candidate.is_some_and(|c| bool::from(c.as_bytes().ct_eq(self.key.as_bytes())))
    }

    /// May this request use the global controls?
    pub fn allows(&self, req: &HttpRequest) -> bool {
        self.open || self.presented_by(req)
    }
}

/// The token of `Authorization: Bearer TOKEN`.
fn bearer(req: &HttpRequest) -> Option<&str> {
    let value = req.headers().get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = value.trim().split_once(' ')?;
    scheme
        .eq_ignore_ascii_case("bearer")
        .then_some(token.trim())
}

/// The `key` parameter of the query string, if any.
fn query_key(req: &HttpRequest) -> Option<String> {
    serde_urlencoded::from_str::<Vec<(String, String)>>(req.query_string())
        .ok()?
        .into_iter()
        .find_map(|(name, value)| (name == "key").then_some(value))
}

/// The refusal a student gets for a teacher's control.
pub fn teacher_only() -> ApiError {
    ApiError::new(
        StatusCode::FORBIDDEN,
        "teacher_only",
        "only the teacher may change this for the whole class: open the teacher URL \
         that pushlab printed when it started (it carries ?key=…)",
    )
}

/// Middleware for the routes that steer the whole class.
pub async fn guard(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<impl MessageBody>, actix_web::Error> {
    let allowed = req
        .app_data::<web::Data<AppState>>()
        .is_some_and(|state| state.teacher.allows(req.request()));
    if !allowed {
        return Err(teacher_only().into());
    }
    Ok(next.call(req).await?.map_into_boxed_body())
}

/// What the page asks to know which controls to show: `{"teacher": true,
/// "open_controls": false}`.
#[derive(Serialize)]
struct Role {
    /// This request carries the key.
    teacher: bool,
    /// The controls are open to everyone.
    open_controls: bool,
}

/// `GET /api/role`
pub async fn role(req: HttpRequest, state: web::Data<AppState>) -> HttpResponse {
    HttpResponse::Ok()
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .json(Role {
            teacher: state.teacher.presented_by(&req),
            open_controls: state.teacher.open(),
        })
}

/// The teacher URL to print at start-up. For a server listening on every
/// address, the machine's address on its default route (what the students'
/// laptops reach), found without sending anything: connecting a UDP socket
/// only picks the route.
pub fn url(listening: SocketAddr, key: &str) -> String {
    let ip = if listening.ip().is_unspecified() {
        lan_address().unwrap_or(listening.ip())
    } else {
        listening.ip()
    };
    format!(
        "http://{}/?key={key}",
        SocketAddr::new(ip, listening.port())
    )
}

fn lan_address() -> Option<IpAddr> {
    let socket = UdpSocket::bind("0.0.0.0:0").ok()?;
    socket.connect("192.0.2.1:9").ok()?; // TEST-NET-1: never routed anywhere real
    Some(socket.local_addr().ok()?.ip()).filter(|ip| !ip.is_unspecified())
}

#[cfg(test)]
mod tests {
    use actix_web::test::TestRequest;

    use super::*;

    #[test]
    fn a_generated_key_is_long_and_url_safe() {
        let key = TeacherKey::new(None, false);
        assert!(key.key().len() >= MIN_KEY_CHARS);
        assert!(
            key.key()
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
        );
        assert_ne!(key.key(), TeacherKey::new(None, false).key());
    }

    #[test]
    fn the_key_is_accepted_as_bearer_or_query() {
        let key = TeacherKey::new(Some("k".repeat(20)), false);
        let bearer = TestRequest::default()
            .insert_header((header::AUTHORIZATION, format!("Bearer {}", "k".repeat(20))))
            .to_http_request();
        let query =
            TestRequest::with_uri(&format!("/x?a=1&key={}", "k".repeat(20))).to_http_request();
        let wrong = TestRequest::with_uri("/x?key=kkkk").to_http_request();
        let none = TestRequest::default().to_http_request();
        assert!(key.allows(&bearer));
        assert!(key.allows(&query));
        assert!(!key.allows(&wrong));
        assert!(!key.allows(&none));
        assert!(TeacherKey::new(None, true).allows(&none));
    }

    #[test]
    fn the_url_names_a_reachable_address() {
        let url = url("127.0.0.1:8080".parse().unwrap(), "abc");
        assert_eq!(url, "http://127.0.0.1:8080/?key=abc");
    }
}
