//! Tabs: each open page, known by the id its lanes send, with figures and a
//! wire log of its own.
//!
//! In a classroom thirty laptops share one server, so the server's counters
//! are the class's: one student's "requests" would count every laptop. To
//! give each tab its own figures, the page makes up a random id when it
//! loads and its four lanes send it with every request (`?tab=ID`, also on
//! the SSE stream's and the WebSocket's URL). [`crate::plumbing::traffic`] looks the
//! id up here and counts the request, its bytes and its open connections
//! for that tab as well as for the class; the techniques count the tab's
//! deliveries.
//!
//! A tab keeps three things:
//! - [`counters`] — its own requests, empty answers, bytes, messages and
//!   latency, per technique, resettable;
//! - [`wire`] — the last exchanges of its connections, byte for byte, kept
//!   only while the tab has its wire view open;
//! - [`faults`] — the faults it asked for on its own connections ("drop
//!   this connection").
//!
//! Memory is bounded: at most [`MAX_TABS`] tabs are known, and a tab with
//! no open connection that has sent nothing for [`FORGET_AFTER`] is
//! forgotten. The id is the tab's secret — 16 or more random characters —
//! so figures and wire logs are given to whoever names the id, and only the
//! tab itself knows it.

pub mod api;
pub mod counters;
pub mod faults;
pub mod wire;

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use crate::plumbing::error::ApiError;

pub use counters::TabCounters;
pub use faults::Faults;
pub use wire::WireLog;

/// How many tabs the server knows at once. A tab past this gets the class's
/// figures only; its requests are served as usual.
pub const MAX_TABS: usize = 4096;

/// A tab with no open connection that has sent nothing for this long has
/// gone (closed, or its laptop asleep): forget it.
pub const FORGET_AFTER: Duration = Duration::from_secs(60);

/// How often, at most, a new tab makes the registry look for gone ones.
const SWEEP_EVERY: Duration = Duration::from_secs(5);

/// The query parameter the lanes send their tab id in.
pub const PARAM: &str = "tab";

/// A valid tab id: 16–64 characters of `A–Z a–z 0–9 - _` (the page sends a
/// `crypto.randomUUID()`).
pub fn parse_id(id: &str) -> Result<&str, ApiError> {
    let valid = (16..=64).contains(&id.len())
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
    if valid {
        Ok(id)
    } else {
        Err(ApiError::bad_request(
            "bad_tab",
            "tab must be 16 to 64 characters of A-Z, a-z, 0-9, '-' and '_'",
        ))
    }
}

/// The `tab=` value in a query string, if there is one (not yet checked).
pub fn id_in_query(query: &str) -> Option<&str> {
    query.split('&').find_map(|pair| pair.strip_prefix("tab="))
}

/// Every route under `/api/tabs/{id}`: figures, wire log, faults.
pub fn routes(cfg: &mut actix_web::web::ServiceConfig) {
    api::routes(cfg);
    wire::routes(cfg);
    faults::routes(cfg);
}

/// One tab's state.
pub struct Tab {
    pub counters: TabCounters,
    pub wire: WireLog,
    pub faults: Faults,
    /// Connections of this tab open now (requests being answered, streams).
    open: AtomicUsize,
    /// When the tab last sent a request, in ms since the registry started.
    last_seen_ms: AtomicU64,
}

impl Tab {
    fn new(now_ms: u64) -> Tab {
        Tab {
            counters: TabCounters::default(),
            wire: WireLog::default(),
            faults: Faults::default(),
            open: AtomicUsize::new(0),
            last_seen_ms: AtomicU64::new(now_ms),
        }
    }

    /// A request of this tab arrived and stays open until the guard drops.
    pub fn opened(self: &Arc<Self>, tabs: &Tabs) -> TabOpen {
        self.last_seen_ms.store(tabs.now_ms(), Ordering::Relaxed);
        self.open.fetch_add(1, Ordering::Relaxed);
        TabOpen {
            tab: Arc::clone(self),
        }
    }

    fn gone(&self, now_ms: u64) -> bool {
        self.open.load(Ordering::Relaxed) == 0
            && now_ms.saturating_sub(self.last_seen_ms.load(Ordering::Relaxed))
                >= FORGET_AFTER.as_millis() as u64
    }
}

/// Keeps a tab's connection counted as open; see [`Tab::opened`].
pub struct TabOpen {
    pub tab: Arc<Tab>,
}

impl Drop for TabOpen {
    fn drop(&mut self) {
        self.tab.open.fetch_sub(1, Ordering::Relaxed);
    }
}

/// Every tab the server knows.
pub struct Tabs {
    started: Instant,
    known: Mutex<Known>,
}

#[derive(Default)]
struct Known {
    tabs: HashMap<Box<str>, Arc<Tab>>,
    last_sweep_ms: u64,
}

impl Default for Tabs {
    fn default() -> Self {
        Tabs {
            started: Instant::now(),
            known: Mutex::default(),
        }
    }
}

impl Tabs {
    fn now_ms(&self) -> u64 {
        self.started.elapsed().as_millis() as u64
    }

    fn known(&self) -> std::sync::MutexGuard<'_, Known> {
        self.known.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The tab named `id`, known from now on if it was not; `None` when
    /// [`MAX_TABS`] tabs are known and none has gone.
    pub fn enter(&self, id: &str) -> Option<Arc<Tab>> {
        let now = self.now_ms();
        let mut known = self.known();
        if let Some(tab) = known.tabs.get(id) {
            return Some(Arc::clone(tab));
        }
        if now.saturating_sub(known.last_sweep_ms) >= SWEEP_EVERY.as_millis() as u64
            || known.tabs.len() >= MAX_TABS
        {
            known.tabs.retain(|_, tab| !tab.gone(now));
            known.last_sweep_ms = now;
        }
        if known.tabs.len() >= MAX_TABS {
            return None;
        }
        let tab = Arc::new(Tab::new(now));
        known.tabs.insert(id.into(), Arc::clone(&tab));
        Some(tab)
    }

    /// The tab named `id`, if the server knows it.
    pub fn get(&self, id: &str) -> Option<Arc<Tab>> {
        let tab = self.known().tabs.get(id).cloned()?;
        tab.last_seen_ms.store(self.now_ms(), Ordering::Relaxed);
        Some(tab)
    }

    /// How many tabs are known now.
    pub fn len(&self) -> usize {
        self.known().tabs.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_checked() {
        assert!(parse_id("0b1c6f0e-5a7d-4c9e-9a51-6f2d8e3b7c10").is_ok());
        assert!(parse_id("short").is_err());
        assert!(parse_id("has spaces in it, sixteen+").is_err());
        assert!(parse_id(&"x".repeat(65)).is_err());
    }

    #[test]
    fn the_id_is_found_in_a_query() {
        assert_eq!(id_in_query("since=3&tab=abc&epoch=e"), Some("abc"));
        assert_eq!(id_in_query("since=3&xtab=abc"), None);
    }

    #[test]
    fn a_tab_is_remembered_while_open_and_forgotten_after() {
        let tabs = Tabs::default();
        let tab = tabs.enter("tab-aaaaaaaaaaaaaaaa").unwrap();
        let open = tab.opened(&tabs);
        assert!(!tab.gone(tabs.now_ms() + 10 * FORGET_AFTER.as_millis() as u64));
        drop(open);
        assert!(tab.gone(tabs.now_ms() + FORGET_AFTER.as_millis() as u64 + 1));
        assert!(Arc::ptr_eq(
            &tab,
            &tabs.get("tab-aaaaaaaaaaaaaaaa").unwrap()
        ));
    }
}
