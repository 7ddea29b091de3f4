//! Where a technique counts what it handed over: for the class, and for the
//! tab that asked.
//!
//! Every technique ends its work the same way — "these messages went out",
//! "this answer was empty", "these were missed" — and each of those counts
//! twice: in the class's figures ([`crate::stats`]) and, when the request
//! named its tab, in that tab's ([`crate::tabs`]). A [`Tally`] does both, so
//! the technique files say what happened once.

use std::sync::Arc;
use std::sync::atomic::Ordering::Relaxed;

use actix_web::HttpMessage;

use crate::hub::{Batch, Messages};
use crate::stats::{Stats, TechniqueStats};
use crate::tabs::Tab;
use crate::tabs::counters::TechniqueCounters;
use crate::technique::Technique;

/// The class's counters of a technique, and the asking tab's.
#[derive(Clone)]
pub struct Tally {
    stats: Arc<Stats>,
    technique: Technique,
    tab: Option<Arc<Tab>>,
}

impl Tally {
    pub fn new(stats: &Arc<Stats>, technique: Technique, tab: Option<Arc<Tab>>) -> Self {
        Tally {
            stats: Arc::clone(stats),
            technique,
            tab,
        }
    }

    /// The class's counters (for what only the class counts).
    pub fn class(&self) -> &TechniqueStats {
        self.stats.technique(self.technique)
    }

    fn tab(&self) -> Option<&TechniqueCounters> {
        Some(self.tab.as_ref()?.counters.technique(self.technique))
    }

    /// An answer that carried no message.
    pub fn empty(&self) {
        self.class().empty_responses.inc();
        if let Some(tab) = self.tab() {
            tab.empty_responses.fetch_add(1, Relaxed);
        }
    }

    /// A batch handed to a response or frames now: its messages delivered,
    /// and what it says was missed.
    pub fn handed_over(&self, batch: &Batch) {
        self.delivered(&batch.messages);
        self.missed(batch);
    }

    /// Messages handed to a response or frame now.
    fn delivered(&self, messages: &Messages) {
        self.class().delivered(messages);
        if let Some(tab) = self.tab() {
            tab.delivered(messages);
        }
    }

    /// What a batch says was missed: asked for but no longer retained,
    /// and whether the client earned the gap by falling behind.
    fn missed(&self, batch: &Batch) {
        self.class().missed(batch.missed);
        self.class().gapped(batch);
        if let Some(tab) = self.tab()
            && batch.missed > 0
        {
            tab.messages_missed.fetch_add(batch.missed, Relaxed);
        }
    }
}

impl Tally {
    /// The tally of `technique` for a request: the tab it named, if any
    /// ([`crate::plumbing::traffic`] put it in the request's extensions).
    pub fn of(req: &actix_web::HttpRequest, stats: &Arc<Stats>, technique: Technique) -> Self {
        let tab = req
            .extensions()
            .get::<crate::plumbing::traffic::TabOf>()
            .map(|tab| Arc::clone(&tab.0));
        Tally::new(stats, technique, tab)
    }
}
