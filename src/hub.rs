//! The hub: the one message source that every technique reads from.
//!
//! Every message gets a strictly increasing id (from 1) and the server's
//! publish time. The hub keeps the last `history` messages in a ring, so a
//! client that comes back with a cursor ("I have seen up to id 41") gets what
//! it missed, and it wakes every waiting subscriber when something new
//! arrives.
//!
//! Two ways to read:
//! - [`Hub::read`] answers at once from the ring: short polling.
//! - [`Hub::subscribe`] returns a [`Subscription`] that first replays the ring
//!   after the cursor, then waits for live messages: long-polling, SSE and
//!   WebSocket.
//!
//! Publishing costs one lock and one `broadcast::send`: O(1) work for the
//! publisher plus one wake-up per waiting subscriber. Each subscriber then
//! drains its own queue on its own task, so a slow one never delays the rest.
//! If a subscriber falls more than [`SUBSCRIBER_QUEUE`] messages behind, its
//! queue overflows; it then catches up from the ring, and whatever the ring
//! no longer holds is reported to it as a gap — never silently skipped.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, OnceLock, PoisonError};
use std::time::{SystemTime, UNIX_EPOCH};

use bytestring::ByteString;
use serde::Serialize;
use serde_json::value::RawValue;
use tokio::sync::broadcast;

use crate::cursor::Since;

/// How many messages a subscriber may fall behind before its queue
/// overflows. The queue is the broadcast channel's buffer, shared by all
/// subscribers, so raising it costs memory once, not per client.
pub const SUBSCRIBER_QUEUE: usize = 256;

/// The most messages one [`Subscription::recv`] hands out at once. Batching
/// lets a technique put several messages into one write; the cap keeps one
/// batch from growing without bound.
pub const MAX_BATCH: usize = 256;

/// One published message, exactly as every technique shows it.
#[derive(Debug)]
pub struct Message {
    pub id: u64,
    pub author: String,
    pub text: String,
    /// Server time of publishing, in microseconds since the Unix epoch.
    pub published_at_us: u64,
    /// The message serialised once at publish time, so fanning it out to
    /// thousands of clients never serialises it again.
    json: Box<RawValue>,
    /// The message as a WebSocket frame's text, built by the first session
    /// that sends it and then shared (a reference-counted clone) by all the
    /// others: at 10,000 subscribers that is one allocation, not 10,000.
    pub ws_frame: OnceLock<ByteString>,
}

#[derive(Serialize)]
struct MessageJson<'a> {
    id: u64,
    author: &'a str,
    text: &'a str,
    published_at_us: u64,
}

impl Message {
    fn new(id: u64, author: &str, text: &str, published_at_us: u64) -> Self {
        let fields = MessageJson {
            id,
            author,
            text,
            published_at_us,
        };
        let json = serde_json::value::to_raw_value(&fields)
            .expect("a struct of strings and integers always serialises");
        Message {
            id,
            author: author.to_owned(),
            text: text.to_owned(),
            published_at_us,
            json,
            ws_frame: OnceLock::new(),
        }
    }

    /// The message as its JSON object: `{"id":…,"author":…,"text":…,"published_at_us":…}`.
    pub fn json(&self) -> &str {
        self.json.get()
    }
}

impl Serialize for Message {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        self.json.serialize(serializer)
    }
}

/// What a reader gets in one go: the messages after its cursor, and how many
/// it can no longer get.
#[derive(Debug, Default)]
pub struct Batch {
    pub messages: Vec<Arc<Message>>,
    /// Messages after the cursor that the ring no longer holds.
    pub missed: u64,
    /// True when the cursor did not belong to this run of the hub (another
    /// epoch, or an id this run never issued): the reader starts over.
    pub reset: bool,
    /// True when this subscriber's queue overflowed (it fell more than
    /// [`SUBSCRIBER_QUEUE`] messages behind) and the batch was re-read from
    /// the ring: a sign of a client that stopped reading.
    pub lagged: bool,
}

impl Batch {
    pub fn is_empty(&self) -> bool {
        self.messages.is_empty() && self.missed == 0 && !self.reset
    }
}

/// The ring of retained messages and the newest id.
struct Ring {
    messages: VecDeque<Arc<Message>>,
    capacity: usize,
    last_id: u64,
}

impl Ring {
    fn push(&mut self, message: Arc<Message>) {
        if self.messages.len() == self.capacity {
            self.messages.pop_front();
        }
        self.last_id = message.id;
        self.messages.push_back(message);
    }

    /// Everything after `since`, plus what is no longer there.
    fn after(&self, since: Since) -> Batch {
        let (after, reset) = match since {
            Since::Now => return Batch::default(),
            Since::After(id) if id <= self.last_id => (id, false),
            // An id from the future or another epoch: this run never issued
            // it, so the client's view is from an earlier run. Start it over.
            Since::After(_) | Since::OtherEpoch => (0, true),
        };
        let oldest = self.messages.front().map_or(self.last_id + 1, |m| m.id);
        let missed = oldest.saturating_sub(after + 1);
        // Ids in the ring are consecutive, so the first wanted one sits at
        // a known offset.
        let skip = (after + 1).saturating_sub(oldest) as usize;
        let messages = self.messages.iter().skip(skip).cloned().collect();
        Batch {
            messages,
            missed,
            reset,
            lagged: false,
        }
    }
}

/// The message source. Shared as `Arc<Hub>` by every worker thread.
pub struct Hub {
    epoch: String,
    ring: Mutex<Ring>,
    /// Wakes subscribers. Sent to while holding the ring lock (see
    /// [`Hub::publish`]).
    wakeups: broadcast::Sender<Arc<Message>>,
    /// Subscribers whose queue overflowed (they caught up from the ring).
    lagged: AtomicU64,
}

impl Hub {
    pub fn new(history: usize) -> Arc<Hub> {
        let (wakeups, _) = broadcast::channel(SUBSCRIBER_QUEUE);
        Arc::new(Hub {
            epoch: format!("{:016x}", rand::random::<u64>()),
            ring: Mutex::new(Ring {
                messages: VecDeque::with_capacity(history.max(1)),
                capacity: history.max(1),
                last_id: 0,
            }),
            wakeups,
            lagged: AtomicU64::new(0),
        })
    }

    /// Names this run of the hub. Cursors are only meaningful within one epoch.
    pub fn epoch(&self) -> &str {
        &self.epoch
    }

    /// The newest id, 0 before the first message.
    pub fn last_id(&self) -> u64 {
        self.lock().last_id
    }

    /// Messages published since start-up (ids are consecutive, so this is
    /// the newest id).
    pub fn published(&self) -> u64 {
        self.last_id()
    }

    /// Subscribers waiting right now (long-polls, SSE streams, WebSockets).
    pub fn subscribers(&self) -> usize {
        self.wakeups.receiver_count()
    }

    /// How many times a subscriber's queue overflowed.
    pub fn lagged(&self) -> u64 {
        self.lagged.load(Ordering::Relaxed)
    }

    // docs:start publish
    /// Publishes a message and wakes every subscriber. The caller has
    /// validated author and text.
    pub fn publish(&self, author: &str, text: &str) -> Arc<Message> {
        let published_at_us = now_us();
        let mut ring = self.lock();
        let message = Arc::new(Message::new(
            ring.last_id + 1,
            author,
            text,
            published_at_us,
        ));
        ring.push(Arc::clone(&message));
        // Send while still holding the ring lock. `subscribe` takes its ring
        // snapshot and its channel receiver under this same lock, so every
        // message reaches every subscriber exactly once: either in the
        // snapshot or through the channel, never both, never neither.
        // An error only means nobody is subscribed right now.
        let _ = self.wakeups.send(Arc::clone(&message));
        message
    }
    // docs:end publish

    /// The messages after `since`, answered at once.
    pub fn read(&self, since: Since) -> (Batch, u64) {
        let ring = self.lock();
        (ring.after(since), ring.last_id)
    }

    // docs:start lost-wakeup
    /// Registers for wake-ups and takes the backlog after `since` in one
    /// step.
    pub fn subscribe(self: &Arc<Self>, since: Since) -> Subscription {
        let ring = self.lock();
        // Register for the wake-up *before* releasing the lock we checked
        // the ring under: a publish that happened between "check the ring"
        // and "start listening" would otherwise be lost, and the client
        // would wait for a message that already came.
        let wakeups = self.wakeups.subscribe();
        let backlog = ring.after(since);
        let start = match since {
            Since::After(id) if !backlog.reset => id,
            Since::Now => ring.last_id,
            _ => 0,
        };
        // The backlog runs up to the newest message.
        let backlog_end = ring.last_id;
        drop(ring);
        Subscription {
            hub: Arc::clone(self),
            wakeups,
            backlog,
            backlog_end,
            next: start,
        }
    }
    // docs:end lost-wakeup

    fn lock(&self) -> MutexGuard<'_, Ring> {
        // The ring stays consistent even if a holder panicked: each method
        // finishes its update before anything can panic.
        self.ring.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// One subscriber's view of the hub: the backlog after its cursor, then live
/// messages as they are published.
pub struct Subscription {
    hub: Arc<Hub>,
    wakeups: broadcast::Receiver<Arc<Message>>,
    /// What the ring held after the cursor at subscribe time; handed out by
    /// the first `recv`.
    backlog: Batch,
    /// The newest id at subscribe time: where the backlog ends.
    backlog_end: u64,
    /// The id of the last message handed out (or the starting cursor).
    next: u64,
}

impl Subscription {
    pub fn epoch(&self) -> &str {
        self.hub.epoch()
    }

    /// The cursor after everything handed out so far (before the first
    /// `recv`, the starting cursor): a client that reconnects with it misses
    /// nothing.
    pub fn next(&self) -> u64 {
        self.next
    }

    /// Waits for at least one message (or gap) and returns everything that is
    /// ready, up to [`MAX_BATCH`] messages.
    pub async fn recv(&mut self) -> Batch {
        if let Some(backlog) = self.take_backlog() {
            return backlog;
        }
        loop {
            match self.wakeups.recv().await {
                Ok(first) => return self.batch_starting_with(first),
                Err(broadcast::error::RecvError::Lagged(_)) => {
                    if let Some(batch) = self.catch_up() {
                        return batch;
                    }
                }
                // The hub owns the sender and we hold the hub, so the
                // channel cannot close while this subscription exists.
                Err(broadcast::error::RecvError::Closed) => std::future::pending::<()>().await,
            }
        }
    }

    /// Returns what is ready without waiting, if anything.
    pub fn try_recv(&mut self) -> Option<Batch> {
        if let Some(backlog) = self.take_backlog() {
            return Some(backlog);
        }
        loop {
            match self.wakeups.try_recv() {
                Ok(first) => return Some(self.batch_starting_with(first)),
                Err(broadcast::error::TryRecvError::Lagged(_)) => {
                    if let Some(batch) = self.catch_up() {
                        return Some(batch);
                    }
                }
                Err(_) => return None,
            }
        }
    }

    fn take_backlog(&mut self) -> Option<Batch> {
        if self.backlog.is_empty() {
            return None;
        }
        self.next = self.backlog_end;
        Some(std::mem::take(&mut self.backlog))
    }

    fn batch_starting_with(&mut self, first: Arc<Message>) -> Batch {
        let mut messages = vec![first];
        while messages.len() < MAX_BATCH {
            match self.wakeups.try_recv() {
                Ok(message) => messages.push(message),
                Err(broadcast::error::TryRecvError::Lagged(_)) => {
                    // Hand out what we have; the next call catches up.
                    self.next = messages.last().map_or(self.next, |m| m.id);
                    let mut batch = self.catch_up().unwrap_or_default();
                    messages.append(&mut batch.messages);
                    return Batch {
                        messages,
                        missed: batch.missed,
                        reset: false,
                        lagged: true,
                    };
                }
                Err(_) => break,
            }
        }
        self.next = messages.last().map_or(self.next, |m| m.id);
        Batch {
            messages,
            missed: 0,
            reset: false,
            lagged: false,
        }
    }

    /// Our queue overflowed: re-register and re-read the ring after our
    /// cursor, in one step, as `subscribe` does.
    fn catch_up(&mut self) -> Option<Batch> {
        self.hub.lagged.fetch_add(1, Ordering::Relaxed);
        let ring = self.hub.lock();
        self.wakeups = self.hub.wakeups.subscribe();
        let batch = Batch {
            lagged: true,
            ..ring.after(Since::After(self.next))
        };
        self.next = ring.last_id;
        drop(ring);
        (!batch.is_empty()).then_some(batch)
    }
}

/// Microseconds since the Unix epoch: the clock `published_at_us` uses, so
/// browsers and the load tool can compare against it.
pub fn now_us() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_micros() as u64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_start_at_one_and_increase() {
        let hub = Hub::new(4);
        assert_eq!(hub.publish("a", "x").id, 1);
        assert_eq!(hub.publish("a", "y").id, 2);
        assert_eq!(hub.last_id(), 2);
    }

    #[test]
    fn reading_past_the_ring_reports_what_was_missed() {
        let hub = Hub::new(3);
        for i in 0..10 {
            hub.publish("a", &i.to_string());
        }
        let (batch, next) = hub.read(Since::After(2));
        assert_eq!(next, 10);
        assert_eq!(batch.missed, 5, "ids 3..=7 are gone");
        let ids: Vec<u64> = batch.messages.iter().map(|m| m.id).collect();
        assert_eq!(ids, [8, 9, 10]);
    }

    #[test]
    fn a_cursor_this_run_never_issued_starts_over() {
        let hub = Hub::new(8);
        hub.publish("a", "x");
        let (batch, _) = hub.read(Since::After(99));
        assert!(batch.reset);
        assert_eq!(batch.messages.len(), 1);
    }

    #[test]
    fn message_json_has_the_contract_fields() {
        let hub = Hub::new(8);
        let m = hub.publish("ann", "hi \"there\"");
        let v: serde_json::Value = serde_json::from_str(m.json()).unwrap();
        assert_eq!(v["id"], 1);
        assert_eq!(v["author"], "ann");
        assert_eq!(v["text"], "hi \"there\"");
        assert!(v["published_at_us"].as_u64().unwrap() > 0);
    }

    #[tokio::test]
    async fn a_subscriber_gets_the_backlog_then_live_messages_once_each() {
        let hub = Hub::new(8);
        hub.publish("a", "1");
        let mut sub = hub.subscribe(Since::After(0));
        hub.publish("a", "2");
        let first = sub.recv().await;
        assert_eq!(first.messages.iter().map(|m| m.id).collect::<Vec<_>>(), [1]);
        let second = sub.recv().await;
        assert_eq!(
            second.messages.iter().map(|m| m.id).collect::<Vec<_>>(),
            [2]
        );
        assert_eq!(sub.next(), 2);
    }

    #[tokio::test]
    async fn an_overflowing_subscriber_catches_up_from_the_ring() {
        let hub = Hub::new(SUBSCRIBER_QUEUE * 4);
        let mut sub = hub.subscribe(Since::Now);
        let total = SUBSCRIBER_QUEUE as u64 * 2;
        for i in 0..total {
            hub.publish("a", &i.to_string());
        }
        let mut seen = Vec::new();
        while let Some(batch) = sub.try_recv() {
            assert_eq!(batch.missed, 0);
            seen.extend(batch.messages.iter().map(|m| m.id));
        }
        assert_eq!(seen, (1..=total).collect::<Vec<_>>());
        assert_eq!(hub.lagged(), 1);
    }

    #[tokio::test]
    async fn an_overflowing_subscriber_beyond_the_ring_gets_a_gap() {
        let hub = Hub::new(4);
        let mut sub = hub.subscribe(Since::Now);
        let total = SUBSCRIBER_QUEUE as u64 + 10;
        for i in 0..total {
            hub.publish("a", &i.to_string());
        }
        let batch = sub.try_recv().expect("something is ready");
        assert_eq!(batch.missed, total - 4);
        assert_eq!(batch.messages.len(), 4);
    }
}
