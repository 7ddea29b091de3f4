//! Cursors: how a client tells the server what it has already seen.
//!
//! Every technique resumes the same way. Short and long polls pass
//! `?since=ID`; an SSE client sends `Last-Event-ID: ID` (the browser does it
//! on its own when it reconnects) or `?since=ID`; a WebSocket client connects
//! to `/ws?since=ID`. `since` absent means "from now on", `since=0` means
//! "everything you still have". An optional `epoch=` names the run of the
//! server the cursor came from; a cursor from another run starts over with a
//! reset flag instead of silently skipping or repeating messages.
//!
//! The parsing here is strict on purpose: a cursor the server cannot
//! understand is a 400 that says why, never a guess. Whether the cursor's
//! epoch is the current one is the hub's to say ([`Cursor::against`]): it
//! checks under the lock it takes to read anyway.

use std::future::{Ready, ready};
use std::time::Duration;

use actix_web::dev::Payload;
use actix_web::{FromRequest, HttpRequest};
use serde::Deserialize;

use crate::plumbing::error::ApiError;

/// Where a reader starts.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Since {
    /// Only messages published from now on.
    Now,
    /// Messages with an id greater than this one.
    After(u64),
    /// The cursor belongs to another run of the server: start over.
    OtherEpoch,
}

/// A cursor as the client gave it: where to start, and the epoch it
/// belongs to, if it named one.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Cursor<'a> {
    pub since: Since,
    pub epoch: Option<&'a str>,
}

impl Cursor<'_> {
    /// Where a reader of the hub in `current_epoch` starts: a cursor from
    /// another epoch starts over. "From now on" needs no epoch.
    pub fn against(self, current_epoch: &str) -> Since {
        match self.epoch {
            Some(epoch) if epoch != current_epoch && self.since != Since::Now => Since::OtherEpoch,
            _ => self.since,
        }
    }
}

/// A start the server chose itself, valid in any epoch.
impl From<Since> for Cursor<'static> {
    fn from(since: Since) -> Self {
        Cursor { since, epoch: None }
    }
}

/// The query parameters the techniques share, as the client sent them.
/// Kept as strings so a bad value gets our own error message.
#[derive(Debug, Default, Deserialize)]
pub struct CursorQuery {
    pub since: Option<String>,
    pub epoch: Option<String>,
    pub timeout: Option<String>,
}

/// An extractor of its own rather than `web::Query<CursorQuery>`: every
/// technique takes it on every request, and actix's `Query` looks up and
/// clones its error handler each time, even when nothing is wrong.
impl FromRequest for CursorQuery {
    type Error = ApiError;
    type Future = Ready<Result<Self, ApiError>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        ready(serde_urlencoded::from_str(req.query_string()).map_err(ApiError::malformed_query))
    }
}

impl CursorQuery {
    /// The cursor, from `since` and `epoch`; or from `newer`, a position the
    /// client reached after it made this URL. That is SSE's `Last-Event-ID`:
    /// a new EventSource never sends it, so when it comes it is the browser
    /// reconnecting the same URL, and the id it names is newer than the
    /// URL's `since`. The URL's `epoch` still says which run both belong to.
    pub fn cursor<'a>(&'a self, newer: Option<&'a str>) -> Result<Cursor<'a>, ApiError> {
        let since = match newer.or(self.since.as_deref()) {
            None => Since::Now,
            Some(raw) => Since::After(parse_id(raw)?),
        };
        Ok(Cursor {
            since,
            epoch: self.epoch.as_deref(),
        })
    }

    /// The long-poll timeout: `timeout` in seconds (fractions allowed),
    /// clamped to 0–60, or `default` when absent. A number outside the range
    /// is a wish the server can partly grant, so it waits as long as it
    /// allows; text that is not a number is a mistake, and a 400.
    pub fn timeout(&self, default: Duration) -> Result<Duration, ApiError> {
        let Some(raw) = &self.timeout else {
            return Ok(default);
        };
        match raw.trim().parse::<f64>() {
            Ok(secs) if !secs.is_nan() => {
                Ok(Duration::from_secs_f64(secs.clamp(0.0, MAX_TIMEOUT_SECS)))
            }
            _ => Err(ApiError::bad_request(
                "bad_timeout",
                format!("timeout must be a number of seconds (0 to 60), not {raw:?}"),
            )),
        }
    }
}

/// The longest a long-poll may be asked to wait, in seconds.
pub const MAX_TIMEOUT_SECS: f64 = 60.0;

/// A message id as a client sends it: decimal digits only, fitting in u64.
pub fn parse_id(raw: &str) -> Result<u64, ApiError> {
    let digits_only = !raw.is_empty() && raw.bytes().all(|b| b.is_ascii_digit());
    if !digits_only {
        return Err(ApiError::bad_request(
            "bad_cursor",
            format!("since must be a message id (a non-negative integer), not {raw:?}"),
        ));
    }
    raw.parse().map_err(|_| {
        ApiError::bad_request(
            "bad_cursor",
            format!("since is too large: {raw} does not fit in 64 bits"),
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn query(since: Option<&str>, epoch: Option<&str>) -> CursorQuery {
        CursorQuery {
            since: since.map(str::to_owned),
            epoch: epoch.map(str::to_owned),
            timeout: None,
        }
    }

    #[test]
    fn ids_are_digits_that_fit_in_u64() {
        assert_eq!(parse_id("0").unwrap(), 0);
        assert_eq!(parse_id("18446744073709551615").unwrap(), u64::MAX);
        for bad in ["", "-1", "+1", "1.5", "abc", " 1", "18446744073709551616"] {
            assert!(parse_id(bad).is_err(), "{bad:?} must be refused");
        }
    }

    fn since(q: &CursorQuery, current_epoch: &str, fallback: Option<&str>) -> Since {
        q.cursor(fallback).unwrap().against(current_epoch)
    }

    #[test]
    fn a_cursor_from_another_epoch_starts_over() {
        let q = query(Some("5"), Some("old"));
        assert_eq!(since(&q, "new", None), Since::OtherEpoch);
        assert_eq!(since(&q, "old", None), Since::After(5));
        let from_now = query(None, Some("old"));
        assert_eq!(since(&from_now, "new", None), Since::Now);
    }

    #[test]
    fn last_event_id_wins_over_the_query() {
        assert_eq!(since(&query(None, None), "e", Some("7")), Since::After(7));
        assert_eq!(
            since(&query(Some("3"), None), "e", Some("7")),
            Since::After(7)
        );
        assert_eq!(
            since(&query(Some("3"), Some("old")), "new", Some("7")),
            Since::OtherEpoch
        );
        assert_eq!(since(&query(None, None), "e", None), Since::Now);
    }

    #[test]
    fn timeouts_are_seconds_clamped_to_0_to_60() {
        let with = |t: &str| CursorQuery {
            timeout: Some(t.to_owned()),
            ..Default::default()
        };
        let default = Duration::from_secs(25);
        assert_eq!(CursorQuery::default().timeout(default).unwrap(), default);
        assert_eq!(
            with("0.5").timeout(default).unwrap(),
            Duration::from_millis(500)
        );
        assert_eq!(
            with("60").timeout(default).unwrap(),
            Duration::from_secs(60)
        );
        assert_eq!(
            with("61").timeout(default).unwrap(),
            Duration::from_secs(60)
        );
        assert_eq!(
            with("1e9").timeout(default).unwrap(),
            Duration::from_secs(60)
        );
        assert_eq!(
            with("inf").timeout(default).unwrap(),
            Duration::from_secs(60)
        );
        assert_eq!(with("-1").timeout(default).unwrap(), Duration::ZERO);
        for bad in ["NaN", "soon", "", "1s"] {
            assert!(
                with(bad).timeout(default).is_err(),
                "{bad:?} must be refused"
            );
        }
    }
}
