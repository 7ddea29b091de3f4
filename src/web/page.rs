//! The page at `/`: four lanes side by side, each a real client of its
//! technique, rendered by askama from `templates/index.html`; and, when the
//! server listens beyond loopback, the address students type (`address`).

mod address;

use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse, web};
use askama::Template;

use self::address::StudentAddress;
use super::lanes::{self, Lane};
use crate::plumbing::error::ApiError;
use crate::plumbing::state::AppState;
use crate::publish::{MAX_AUTHOR_CHARS, MAX_TEXT_CHARS};

/// Scripts only from our own origin, never inline: user text can never run.
/// (The QR code is inline SVG markup, which needs no exception: no script,
/// no style attribute.)
const CONTENT_SECURITY_POLICY: &str = "default-src 'self'; script-src 'self'; \
    style-src 'self'; img-src 'self' data:; connect-src 'self'; \
    object-src 'none'; base-uri 'none'; frame-ancestors 'none'";

#[derive(Template)]
#[template(path = "index.html")]
struct Index<'a> {
    rate: f64,
    longpoll_timeout_s: u64,
    max_author: usize,
    max_text: usize,
    epoch: &'a str,
    lanes: Vec<Lane>,
    /// The choices of the poll-interval control, in milliseconds.
    poll_intervals: &'a [u32],
    /// The choices of the long-poll timeout control, in seconds.
    longpoll_timeouts: &'a [u64],
    /// The address block, when the class can reach this server.
    students: Option<StudentAddress>,
}

/// From "hammering" to "lazy": 4 requests a second down to one in 10 s.
const POLL_INTERVALS_MS: [u32; 6] = [250, 500, 1000, 2000, 5000, 10_000];

/// The server's default is added to these if it is not one of them.
const LONGPOLL_TIMEOUTS_S: [u64; 5] = [2, 5, 10, 25, 55];

/// `GET /`
pub async fn index(req: HttpRequest, state: web::Data<AppState>) -> Result<HttpResponse, ApiError> {
    let default_timeout = state.config.longpoll_timeout.as_secs();
    let mut timeouts = LONGPOLL_TIMEOUTS_S.to_vec();
    if (1..=60).contains(&default_timeout) && !timeouts.contains(&default_timeout) {
        timeouts.push(default_timeout);
        timeouts.sort_unstable();
    }
    let epoch = state.hub.epoch();
    let host = req
        .headers()
        .get(header::HOST)
        .and_then(|h| h.to_str().ok());
    let students = address::for_students(req.app_config().local_addr(), host);
    let page = Index {
        rate: *state.generator_rate.borrow(),
        longpoll_timeout_s: default_timeout,
        max_author: MAX_AUTHOR_CHARS,
        max_text: MAX_TEXT_CHARS,
        epoch: &epoch,
        lanes: lanes::lanes(),
        poll_intervals: &POLL_INTERVALS_MS,
        longpoll_timeouts: &timeouts,
        students,
    };
    super::html(&page, CONTENT_SECURITY_POLICY)
}
