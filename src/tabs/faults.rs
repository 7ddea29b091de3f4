//! Faults a tab asks for on its own connections: "drop this connection",
//! "go offline for N seconds".
//!
//! Every client of a push technique must survive a connection that breaks,
//! and each survives it its own way: a long-poll asks again after a backoff,
//! an `EventSource` reconnects by itself with `Last-Event-ID`, a WebSocket
//! client has to do it all itself, and all of them resume from their cursor
//! (or are told what they missed). To watch that happen a student breaks
//! their own lanes on purpose:
//!
//! `POST /api/tabs/{id}/faults` with `{"technique": "sse", "fault": "drop"}`
//! closes every open connection of that technique of that tab *now*, the
//! way a network that fails closes it: the server hangs up mid-way (a
//! long-poll's answer breaks off after its headers, an SSE stream stops
//! without its last chunk, a WebSocket closes without a close frame — the
//! browser reports 1006). A short poll holds nothing between two polls, so
//! for it "drop" cuts the next poll instead.
//!
//! `{"technique": "ws", "fault": "offline", "seconds": 10}` drops, and for
//! the next 1–60 seconds cuts every new request of that technique from that
//! tab the same way, as if the network were down. The lane's client meets
//! refusals, backs off, and comes back when the network does.
//!
//! Only the tab's own connections are touched: the id in the path is the
//! tab's secret (see [`crate::tabs`]). The cutting itself is [`cut::Cuts`],
//! a middleware around each technique's route: it finds the request's tab
//! ([`crate::plumbing::traffic::TabOf`]), cuts the request at once while the tab is
//! offline, and otherwise cuts it whenever the tab asks — so the four
//! technique files stay about their technique, and know nothing of this.

mod cut;

pub use cut::{Cut, Cuts};

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Mutex, PoisonError};
use std::time::{Duration, Instant};

use actix_web::middleware::from_fn;
use actix_web::{HttpResponse, web};
use futures_util::future::LocalBoxFuture;
use serde::Serialize;
use serde_json::Value;
use tokio::sync::watch;

use crate::plumbing::error::{ApiError, echo};
use crate::plumbing::origin;
use crate::plumbing::routing::{POST, resource};
use crate::plumbing::state::AppState;
use crate::technique::Technique;

/// The longest a tab may go offline, in seconds: long enough to overflow
/// a small ring, short enough that a forgotten click ends on its own.
pub const MAX_OFFLINE_S: u64 = 60;

/// One tab's faults, per technique.
#[derive(Default)]
pub struct Faults {
    techniques: [TechniqueFaults; 4],
}

/// One technique's faults for one tab.
#[derive(Default)]
struct TechniqueFaults {
    /// Counts the drops asked for. Every open connection of the technique
    /// holds a receiver and ends when the count moves; no receiver, no
    /// work.
    drops: watch::Sender<u64>,
    /// New requests are cut until then.
    offline_until: Mutex<Option<Instant>>,
    /// The next request is cut: a short poll's "drop", since nothing of
    /// it is open between two polls.
    cut_next: AtomicBool,
}

impl Faults {
    fn of(&self, technique: Technique) -> &TechniqueFaults {
        &self.techniques[technique as usize]
    }

    /// Drops the tab's open connections of `technique` (a short poll: its
    /// next request); returns how many were open.
    pub fn drop_connections(&self, technique: Technique) -> usize {
        if technique == Technique::poll {
            self.of(technique).cut_next.store(true, Ordering::Relaxed);
        }
        self.drop_open(technique)
    }

    /// Cuts every new request of `technique` for `duration`, and what is
    /// open now; returns how many were open.
    pub fn go_offline(&self, technique: Technique, duration: Duration) -> usize {
        *self
            .of(technique)
            .offline_until
            .lock()
            .unwrap_or_else(PoisonError::into_inner) = Some(Instant::now() + duration);
        self.drop_open(technique)
    }

    /// Ends every open connection of `technique`; returns how many.
    fn drop_open(&self, technique: Technique) -> usize {
        let faults = self.of(technique);
        faults.drops.send_modify(|drops| *drops += 1);
        faults.drops.receiver_count()
    }

    /// What to do with a new request of `technique`: cut it at once (the
    /// tab is offline, or a short poll's drop waits for it), or watch it
    /// for a drop.
    fn admit(&self, technique: Technique) -> Admission {
        let faults = self.of(technique);
        let offline = faults
            .offline_until
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .is_some_and(|until| Instant::now() < until);
        if offline || faults.cut_next.swap(false, Ordering::Relaxed) {
            return Admission::Cut;
        }
        if technique == Technique::poll {
            return Admission::Pass; // answered at once: nothing to drop
        }
        let mut drops = faults.drops.subscribe();
        Admission::Watch(Box::pin(async move {
            // An error means the tab is gone: nobody can ask any more.
            if drops.changed().await.is_err() {
                std::future::pending::<()>().await;
            }
        }))
    }
}

/// What becomes of a request, as its tab's faults decide.
pub enum Admission {
    /// Serve it; nothing can drop it.
    Pass,
    /// Serve it, and cut it when this resolves (the tab asked for a drop).
    Watch(LocalBoxFuture<'static, ()>),
    /// Cut it now, unanswered.
    Cut,
}

/// This part's routes under `/api/tabs/{id}/`.
pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.service(resource("/api/tabs/{id}/faults", POST, post).wrap(from_fn(origin::guard)));
}

/// What the tab asked for.
enum Fault {
    Drop,
    Offline(Duration),
}

/// The answer: what was done, and to how many connections.
#[derive(Serialize)]
struct Done {
    technique: String,
    fault: &'static str,
    /// Connections of that technique the tab had open, now cut.
    dropped: usize,
    /// For "offline": how long new requests are cut.
    #[serde(skip_serializing_if = "Option::is_none")]
    seconds: Option<u64>,
}

/// `POST /api/tabs/{id}/faults` with `{"technique": "sse", "fault": "drop"}`
/// or `{"technique": "ws", "fault": "offline", "seconds": 10}` → 202.
///
/// The body is taken as a `Result` so that a bad tab id is told first.
pub async fn post(
    state: web::Data<AppState>,
    id: web::Path<String>,
    body: Result<web::Json<Value>, actix_web::Error>,
) -> Result<HttpResponse, actix_web::Error> {
    let id = crate::tabs::parse_id(&id)?;
    let body = body?.into_inner();
    let technique = technique_of(&body)?;
    let fault = fault_of(&body)?;
    let tab = state.tabs.get(id).ok_or_else(unknown_tab)?;
    let (dropped, seconds) = match fault {
        Fault::Drop => (tab.faults.drop_connections(technique), None),
        Fault::Offline(duration) => (
            tab.faults.go_offline(technique, duration),
            Some(duration.as_secs()),
        ),
    };
    let done = Done {
        technique: format!("{technique:?}"),
        fault: if seconds.is_some() { "offline" } else { "drop" },
        dropped,
        seconds,
    };
    Ok(HttpResponse::Accepted().json(done))
}

fn unknown_tab() -> ApiError {
    ApiError::new(
        actix_web::http::StatusCode::NOT_FOUND,
        "unknown_tab",
        "no open page has this tab id (a tab is forgotten a minute after its last request)",
    )
}

/// `technique`: one of the four lanes.
fn technique_of(body: &Value) -> Result<Technique, ApiError> {
    let name = body.get("technique").and_then(Value::as_str);
    Technique::ALL
        .into_iter()
        .find(|t| Some(format!("{t:?}").as_str()) == name)
        .ok_or_else(|| {
            ApiError::bad_request(
                "bad_technique",
                format!(
                    "technique must be \"poll\", \"longpoll\", \"sse\" or \"ws\", not {}",
                    shown(body.get("technique"))
                ),
            )
        })
}

/// `fault`: "drop", or "offline" with whole `seconds` from 1 to 60.
fn fault_of(body: &Value) -> Result<Fault, ApiError> {
    match body.get("fault").and_then(Value::as_str) {
        Some("drop") => Ok(Fault::Drop),
        Some("offline") => {
            let seconds = body.get("seconds");
            match seconds.and_then(Value::as_u64) {
                Some(s) if (1..=MAX_OFFLINE_S).contains(&s) => {
                    Ok(Fault::Offline(Duration::from_secs(s)))
                }
                _ => Err(ApiError::bad_request(
                    "bad_seconds",
                    format!(
                        "an offline fault needs \"seconds\", a whole number from 1 to \
                         {MAX_OFFLINE_S}, not {}",
                        shown(seconds)
                    ),
                )),
            }
        }
        _ => Err(ApiError::bad_request(
            "bad_fault",
            format!(
                "fault must be \"drop\" or \"offline\", not {}",
                shown(body.get("fault"))
            ),
        )),
    }
}

/// A field's value as the client sent it, clipped, for an error message.
fn shown(value: Option<&Value>) -> String {
    value.map_or_else(|| "nothing".to_owned(), |v| echo(&v.to_string()))
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn faults_are_read_strictly() {
        assert_eq!(
            technique_of(&json!({"technique": "sse"})).unwrap(),
            Technique::sse
        );
        assert!(technique_of(&json!({"technique": "SSE"})).is_err());
        assert!(technique_of(&json!({})).is_err());
        assert!(matches!(
            fault_of(&json!({"fault": "drop"})),
            Ok(Fault::Drop)
        ));
        assert!(matches!(
            fault_of(&json!({"fault": "offline", "seconds": 60})),
            Ok(Fault::Offline(d)) if d == Duration::from_secs(60)
        ));
        for bad in [
            json!({"fault": "offline"}),
            json!({"fault": "offline", "seconds": 0}),
            json!({"fault": "offline", "seconds": 61}),
            json!({"fault": "offline", "seconds": 1.5}),
            json!({"fault": "offline", "seconds": "5"}),
            json!({"fault": "unplug"}),
        ] {
            assert!(fault_of(&bad).is_err(), "{bad}");
        }
    }

    fn watched(admission: Admission) -> LocalBoxFuture<'static, ()> {
        match admission {
            Admission::Watch(dropped) => dropped,
            _ => panic!("expected a watched request"),
        }
    }

    #[tokio::test]
    async fn a_drop_reaches_every_open_connection_and_a_short_polls_next() {
        let faults = Faults::default();
        let one = watched(faults.admit(Technique::sse));
        let two = watched(faults.admit(Technique::sse));
        assert_eq!(faults.drop_connections(Technique::sse), 2);
        one.await;
        two.await;
        let later = faults.admit(Technique::sse);
        assert!(
            matches!(later, Admission::Watch(_)),
            "a drop is not offline"
        );
        faults.drop_connections(Technique::poll);
        let next = faults.admit(Technique::poll);
        assert!(matches!(next, Admission::Cut), "the next poll is cut");
        let after = faults.admit(Technique::poll);
        assert!(matches!(after, Admission::Pass), "only the next");
    }

    #[test]
    fn offline_cuts_new_requests_until_it_ends() {
        let faults = Faults::default();
        faults.go_offline(Technique::ws, Duration::from_secs(5));
        assert!(matches!(faults.admit(Technique::ws), Admission::Cut));
        let sse = faults.admit(Technique::sse);
        assert!(matches!(sse, Admission::Watch(_)), "only that technique");
        faults.go_offline(Technique::ws, Duration::ZERO);
        assert!(matches!(faults.admit(Technique::ws), Admission::Watch(_)));
        faults.go_offline(Technique::poll, Duration::ZERO);
        let poll = faults.admit(Technique::poll);
        assert!(
            matches!(poll, Admission::Pass),
            "no cut left over after offline"
        );
    }
}
