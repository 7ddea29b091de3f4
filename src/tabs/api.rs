//! `/api/tabs/{id}`: a tab's own figures, and their reset.
//!
//! `GET /api/tabs/{id}` (or HEAD) answers what the server counted for this
//! tab alone, per technique, in the shape of `/api/stats`'s techniques:
//! `{"techniques": {"poll": {...}, "longpoll": …, "sse": …, "ws": …}}`
//! (see [`super::counters`] for the fields). The page asks once a second
//! to show *your* figures beside the class's. The route is not wrapped in
//! [`crate::plumbing::traffic::Traffic`], so watching the figures never moves them.
//!
//! `POST /api/tabs/{id}/reset` answers 204 and starts the tab's figures
//! from zero — its own "Reset counters". No teacher key: a tab resets only
//! itself, and knowing its id is what makes a client that tab. Like every
//! POST it is refused from a foreign origin ([`crate::plumbing::origin::guard`]).
//!
//! A malformed id is a 400 `bad_tab`; an id the server does not know — never
//! seen, or forgotten since its tab went — is a 404 `unknown_tab`.

use std::sync::Arc;

use actix_web::http::StatusCode;
use actix_web::http::header::{CacheControl, CacheDirective};
use actix_web::middleware::from_fn;
use actix_web::{HttpResponse, web};
use serde::Serialize;

use super::counters::TabSnapshot;
use super::{Tab, Tabs, parse_id};
use crate::plumbing::error::ApiError;
use crate::plumbing::origin;
use crate::plumbing::routing::{POST, READ, resource};
use crate::plumbing::state::AppState;

/// The routes of a tab's figures.
pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.service(resource("/api/tabs/{id}", READ, figures))
        .service(resource("/api/tabs/{id}/reset", POST, reset).wrap(from_fn(origin::guard)));
}

/// `GET /api/tabs/{id}`'s body.
#[derive(Serialize)]
struct TabFigures {
    techniques: TabSnapshot,
}

/// `GET /api/tabs/{id}`: this tab's figures.
async fn figures(
    state: web::Data<AppState>,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let tab = known_tab(&state.tabs, &id)?;
    Ok(HttpResponse::Ok()
        .insert_header(CacheControl(vec![CacheDirective::NoStore]))
        .json(TabFigures {
            techniques: tab.counters.snapshot(),
        }))
}

/// `POST /api/tabs/{id}/reset`: this tab's figures from zero.
async fn reset(
    state: web::Data<AppState>,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    known_tab(&state.tabs, &id)?.counters.reset();
    Ok(HttpResponse::NoContent().finish())
}

/// The tab `id` names: 400 if it cannot be an id, 404 if it is not known.
fn known_tab(tabs: &Tabs, id: &str) -> Result<Arc<Tab>, ApiError> {
    let id = parse_id(id)?;
    tabs.get(id).ok_or_else(|| {
        ApiError::new(
            StatusCode::NOT_FOUND,
            "unknown_tab",
            "this server does not know that tab: it has sent no request yet, or it was \
             forgotten after a minute without one (reload the page)",
        )
    })
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::Ordering;
    use std::time::Instant;

    use super::*;
    use crate::tabs::FORGET_AFTER;

    const GONE: &str = "0123456789abcdef0123456789abcdef";
    const HERE: &str = "fedcba9876543210fedcba9876543210";

    /// A registry that has run for two minutes, so that a tab can have
    /// been quiet for longer than [`FORGET_AFTER`].
    fn running_for_a_while() -> Tabs {
        Tabs {
            started: Instant::now() - 2 * FORGET_AFTER,
            ..Tabs::default()
        }
    }

    #[test]
    fn a_forgotten_tab_is_unknown() {
        let tabs = running_for_a_while();
        tabs.enter(GONE).unwrap();
        assert!(known_tab(&tabs, GONE).is_ok());
        // Quiet since the registry started, and no sweep for as long.
        tabs.known().tabs[GONE]
            .last_seen_ms
            .store(0, Ordering::Relaxed);
        tabs.known().last_sweep_ms = 0;
        tabs.enter(HERE).unwrap(); // a new tab makes the registry sweep
        let refused = known_tab(&tabs, GONE).err().expect("the tab is forgotten");
        assert_eq!(refused.status, StatusCode::NOT_FOUND);
        assert_eq!(refused.error, "unknown_tab");
        assert!(known_tab(&tabs, HERE).is_ok());
    }

    #[test]
    fn a_malformed_id_is_a_bad_request() {
        let refused = known_tab(&Tabs::default(), "not an id").err().unwrap();
        assert_eq!(refused.status, StatusCode::BAD_REQUEST);
        assert_eq!(refused.error, "bad_tab");
    }
}
