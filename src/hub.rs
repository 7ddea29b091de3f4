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
//! The hub is the message source of one process. When several processes
//! share a broker (`--broker redis://…`, see [`crate::broker`]), each keeps
//! its own hub as a *replica*: the broker assigns the ids and the epoch, and
//! [`Hub::apply`] feeds every message in, in order, on every instance alike.
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
use std::time::Duration;

use bytestring::ByteString;
use serde::Serialize;
use serde_json::value::RawValue;
use tokio::sync::{broadcast, watch};

use crate::clock::{new_epoch, now_us};
use crate::cursor::{Cursor, Since};

/// How many messages a subscriber may fall behind before its queue
/// overflows. The queue is the broadcast channel's buffer, shared by all
/// subscribers, so raising it costs memory once, not per client.
pub const SUBSCRIBER_QUEUE: usize = 256;

/// The most messages one [`Subscription::recv`] hands out at once. Batching
/// lets a technique put several messages into one write; the cap keeps one
/// batch from growing without bound.
pub const MAX_BATCH: usize = 256;

/// How long a replica waits for a message a client says it has already
/// seen (on another instance) before calling the cursor one it never
/// issued. The broker hands a message to every instance within about a
/// round trip, so this only runs out for cursors that really are foreign.
pub const REPLICA_CATCH_UP: Duration = Duration::from_secs(1);

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
    ///
    /// The one technique-specific field of the hub, and a measured
    /// exception: the other techniques do not need one (a poll answer wraps
    /// several messages, and SSE writes `json` into its chunk), while
    /// building the frame in each WebSocket session would cost an
    /// allocation and a copy per delivery, on the very path the fan-out
    /// figures measure. A fifth technique with a per-message encoding of
    /// its own would earn a field like it.
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
    pub(crate) fn new(id: u64, author: &str, text: &str, published_at_us: u64) -> Self {
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
    pub messages: Messages,
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

/// Messages handed out together, oldest first — used as a slice — and what
/// the counters need to know about how the reader asked for them.
///
/// A client that comes back after a pause or a reconnect, or asks for
/// `since=0`, gets messages published long before it asked: their latency
/// is how long the client was away, not how fast the technique is. So the
/// counters ([`crate::stats`]) report a message published more than
/// [`crate::stats::LIVE_WINDOW`] before its request or connection began
/// apart from live deliveries, and count the reads that took the whole ring.
#[derive(Debug, Default)]
pub struct Messages {
    list: Vec<Arc<Message>>,
    /// Every message was published after the reader began: a subscriber's
    /// batches after its first. Otherwise (a read, or the backlog a
    /// subscription starts with, both handed over as the request or
    /// connection begins) a message may be from well before.
    all_live: bool,
    /// The reader's cursor lay before the oldest retained message, so it
    /// got everything the ring holds: `since=0`, a cursor too old, or one
    /// from another run.
    whole_ring: bool,
}

impl Messages {
    /// Messages published after their subscriber began.
    fn live(list: Vec<Arc<Message>>) -> Messages {
        Messages {
            list,
            all_live: true,
            whole_ring: false,
        }
    }

    /// Were all published after the reader began (none can be a backlog)?
    pub fn all_live(&self) -> bool {
        self.all_live
    }

    /// Did the reader take everything the ring holds?
    pub fn whole_ring(&self) -> bool {
        self.whole_ring
    }
}

impl std::ops::Deref for Messages {
    type Target = [Arc<Message>];

    fn deref(&self) -> &Self::Target {
        &self.list
    }
}

impl<'a> IntoIterator for &'a Messages {
    type Item = &'a Arc<Message>;
    type IntoIter = std::slice::Iter<'a, Arc<Message>>;

    fn into_iter(self) -> Self::IntoIter {
        self.list.iter()
    }
}

/// The ring of retained messages, the newest id, and the channel that wakes
/// subscribers: everything a publish changes, behind one lock.
struct Ring {
    /// Names this run of the message source.
    epoch: Arc<str>,
    messages: VecDeque<Arc<Message>>,
    capacity: usize,
    last_id: u64,
    /// Wakes subscribers. Sent to while holding the ring lock (see
    /// [`Hub::publish`]); replaced when the epoch changes, which wakes every
    /// subscriber of the old one.
    wakeups: broadcast::Sender<Arc<Message>>,
}

impl Ring {
    fn new(epoch: Arc<str>, capacity: usize) -> Ring {
        Ring {
            epoch,
            messages: VecDeque::with_capacity(capacity),
            capacity,
            last_id: 0,
            wakeups: broadcast::channel(SUBSCRIBER_QUEUE).0,
        }
    }

    fn push(&mut self, message: Arc<Message>) {
        if self.messages.len() == self.capacity {
            self.messages.pop_front();
        }
        self.last_id = message.id;
        self.messages.push_back(Arc::clone(&message));
        // An error only means nobody is subscribed right now.
        let _ = self.wakeups.send(message);
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
        // Ids in the ring increase, but a replica's may skip some (it lost
        // its broker for longer than the broker kept them), so search for
        // the first wanted one and count every id that is not there.
        let first = self.messages.partition_point(|m| m.id <= after);
        let list: Vec<_> = self.messages.range(first..).cloned().collect();
        let missed = (self.last_id - after) - list.len() as u64;
        let messages = Messages {
            whole_ring: first == 0 && !list.is_empty(),
            all_live: false,
            list,
        };
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
    ring: Mutex<Ring>,
    /// A replica's newest id, for readers that wait until it has caught up
    /// (see [`Hub::caught_up`]; a hub of its own never makes them wait).
    newest: watch::Sender<u64>,
    /// True when a broker assigns the ids and [`Hub::apply`] feeds them in.
    replica: bool,
    /// Subscribers whose queue overflowed (they caught up from the ring).
    lagged: AtomicU64,
}

impl Hub {
    /// The message source of a single process: it assigns the ids itself.
    pub fn new(history: usize) -> Arc<Hub> {
        Self::with_role(history, false)
    }

    /// A replica of a broker's stream: ids and epoch come from the broker
    /// through [`Hub::apply`].
    pub fn replica(history: usize) -> Arc<Hub> {
        Self::with_role(history, true)
    }

    fn with_role(history: usize, replica: bool) -> Arc<Hub> {
        Arc::new(Hub {
            ring: Mutex::new(Ring::new(new_epoch().into(), history.max(1))),
            newest: watch::Sender::new(0),
            replica,
            lagged: AtomicU64::new(0),
        })
    }

    /// Names this run of the message source. Cursors are only meaningful
    /// within one epoch.
    pub fn epoch(&self) -> Arc<str> {
        Arc::clone(&self.lock().epoch)
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
        self.lock().wakeups.receiver_count()
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
        // `push` wakes the subscribers while we still hold the ring lock.
        // `subscribe` takes its ring snapshot and its channel receiver under
        // this same lock, so every message reaches every subscriber exactly
        // once: either in the snapshot or through the channel, never both,
        // never neither.
        ring.push(Arc::clone(&message));
        message
    }
    // docs:end publish

    /// Feeds in a message that the broker numbered: a replica's only way
    /// in. Ids already held are ignored, so re-reading the broker's stream
    /// after a reconnect delivers nothing twice. (The broker's relay moves
    /// the hub to a new epoch first, with [`Hub::follow_epoch`].)
    pub fn apply(&self, id: u64, author: &str, text: &str, published_at_us: u64) {
        let mut ring = self.lock();
        if id <= ring.last_id {
            return;
        }
        ring.push(Arc::new(Message::new(id, author, text, published_at_us)));
        self.newest.send_replace(id);
    }

    /// Moves to `epoch` if it is not the current one (a replica learning the
    /// broker's epoch, or the broker starting over after losing its data);
    /// true if it moved.
    pub fn follow_epoch(&self, epoch: &str) -> bool {
        let mut ring = self.lock();
        let moved = *ring.epoch != *epoch;
        if moved {
            self.start_epoch(&mut ring, epoch);
        }
        moved
    }

    /// Starts a new run of this hub without restarting the server (the
    /// teacher's "restart the hub", see [`crate::restart`]): a new epoch, the
    /// ring emptied, ids from 1 again. Every subscriber is woken and told to
    /// start over, and every cursor from before is answered with a reset,
    /// exactly as after a real restart. Returns the new epoch, or `None` on
    /// a replica, whose epoch is the broker's to change.
    pub fn restart(&self) -> Option<Arc<str>> {
        if self.replica {
            return None;
        }
        let mut ring = self.lock();
        let mut epoch = new_epoch();
        while *ring.epoch == *epoch {
            epoch = new_epoch(); // one in 2^64, but a reset must never be missed
        }
        self.start_epoch(&mut ring, &epoch);
        Some(Arc::clone(&ring.epoch))
    }

    /// Empties the ring under a new epoch. Replacing the channel closes the
    /// old one, which wakes every subscriber; each rejoins and reports a
    /// reset (see [`Subscription::recv`]).
    fn start_epoch(&self, ring: &mut Ring, epoch: &str) {
        *ring = Ring::new(epoch.into(), ring.capacity);
        self.newest.send_replace(0);
    }

    /// `cursor`, once this hub holds the message it names. On a replica a
    /// client may come with a cursor from another instance that is a step
    /// ahead; waiting (at most [`REPLICA_CATCH_UP`]) for the broker to
    /// deliver here too keeps that cursor from looking foreign. Costs
    /// nothing in the common case and on a hub of its own.
    async fn caught_up<'c>(&self, cursor: impl Into<Cursor<'c>>) -> Cursor<'c> {
        let cursor = cursor.into();
        let Since::After(id) = cursor.since else {
            return cursor;
        };
        if !self.replica || id <= *self.newest.borrow() {
            return cursor;
        }
        if cursor.against(&self.epoch()) == Since::OtherEpoch {
            return cursor; // no point waiting: it starts over
        }
        // Boxed: only a replica ever waits here, and the wait's state (a
        // timer among it) would otherwise sit in the future of every parked
        // long-poll for as long as it is parked: hundreds of bytes each.
        Box::pin(self.newest_reaches(id)).await;
        cursor
    }

    /// Waits until this replica holds message `id`, at most
    /// [`REPLICA_CATCH_UP`]. Not there in time: the read or subscription
    /// treats the cursor as foreign.
    async fn newest_reaches(&self, id: u64) {
        let mut newest = self.newest.subscribe();
        let arrived = newest.wait_for(|&newest| newest >= id);
        let _ = tokio::time::timeout(REPLICA_CATCH_UP, arrived).await;
    }

    /// The messages after `cursor`. On a hub of its own this answers at
    /// once; a replica first waits (briefly) for the message the cursor
    /// names, see [`Hub::caught_up`].
    pub async fn read<'c>(&self, cursor: impl Into<Cursor<'c>>) -> Read {
        let cursor = self.caught_up(cursor).await;
        self.read_now(cursor)
    }

    /// The messages after `cursor`, from the ring as it is now.
    pub fn read_now<'c>(&self, cursor: impl Into<Cursor<'c>>) -> Read {
        let ring = self.lock();
        // The epoch is checked under the lock the read takes anyway.
        let since = cursor.into().against(&ring.epoch);
        Read {
            batch: ring.after(since),
            next: ring.last_id,
            epoch: Arc::clone(&ring.epoch),
        }
    }

    /// Registers for wake-ups and takes the backlog after `cursor` (see
    /// [`Hub::subscribe_now`]), once a replica holds what the cursor names.
    pub async fn subscribe<'c>(self: &Arc<Self>, cursor: impl Into<Cursor<'c>>) -> Subscription {
        let cursor = self.caught_up(cursor).await;
        self.subscribe_now(cursor)
    }

    // docs:start lost-wakeup
    /// Registers for wake-ups and takes the backlog after `cursor` in one
    /// step.
    pub fn subscribe_now<'c>(self: &Arc<Self>, cursor: impl Into<Cursor<'c>>) -> Subscription {
        let ring = self.lock();
        let since = cursor.into().against(&ring.epoch);
        // Register for the wake-up *before* releasing the lock we checked
        // the ring under: a publish that happened between "check the ring"
        // and "start listening" would otherwise be lost, and the client
        // would wait for a message that already came.
        let wakeups = ring.wakeups.subscribe();
        let backlog = ring.after(since);
        let start = match since {
            Since::After(id) if !backlog.reset => id,
            Since::Now => ring.last_id,
            _ => 0,
        };
        // The backlog runs up to the newest message.
        let backlog_end = ring.last_id;
        let epoch = Arc::clone(&ring.epoch);
        drop(ring);
        Subscription {
            hub: Arc::clone(self),
            epoch,
            wakeups,
            backlog: (!backlog.is_empty()).then(|| Box::new(backlog)),
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

/// What a short poll gets: the batch, the cursor after it, and the epoch
/// both belong to.
pub struct Read {
    pub batch: Batch,
    pub next: u64,
    pub epoch: Arc<str>,
}

/// One subscriber's view of the hub: the backlog after its cursor, then live
/// messages as they are published.
pub struct Subscription {
    hub: Arc<Hub>,
    /// The epoch `next` belongs to.
    epoch: Arc<str>,
    wakeups: broadcast::Receiver<Arc<Message>>,
    /// What the ring held after the cursor at subscribe time, if anything;
    /// handed out by the first `recv`. Boxed: most subscribers start with
    /// none, and every parked long-poll, SSE stream and WebSocket keeps
    /// this field for as long as it lives.
    backlog: Option<Box<Batch>>,
    /// The newest id at subscribe time: where the backlog ends.
    backlog_end: u64,
    /// The id of the last message handed out (or the starting cursor).
    next: u64,
}

impl Subscription {
    /// The epoch of the cursor [`Subscription::next`]; a batch with
    /// `reset` set moves it to the hub's new one.
    pub fn epoch(&self) -> &str {
        &self.epoch
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
                // The hub replaced the channel: the broker started a new
                // epoch.
                Err(broadcast::error::RecvError::Closed) => return self.rejoin(),
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
                Err(broadcast::error::TryRecvError::Closed) => return Some(self.rejoin()),
                Err(broadcast::error::TryRecvError::Empty) => return None,
            }
        }
    }

    fn take_backlog(&mut self) -> Option<Batch> {
        let backlog = self.backlog.take()?;
        self.next = self.backlog_end;
        Some(*backlog)
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
                    messages.append(&mut batch.messages.list);
                    return Batch {
                        messages: Messages::live(messages),
                        missed: batch.missed,
                        reset: false,
                        lagged: true,
                    };
                }
                Err(_) => break,
            }
        }
        let missed = skipped_ids(self.next, &messages);
        self.next = messages.last().map_or(self.next, |m| m.id);
        Batch {
            messages: Messages::live(messages),
            missed,
            reset: false,
            lagged: false,
        }
    }

    /// The hub moved to a new epoch: listen on its new channel and start
    /// over from everything it holds, flagged as a reset.
    fn rejoin(&mut self) -> Batch {
        let ring = self.hub.lock();
        self.wakeups = ring.wakeups.subscribe();
        self.epoch = Arc::clone(&ring.epoch);
        self.next = ring.last_id;
        self.reread(ring.after(Since::OtherEpoch))
    }

    /// Our queue overflowed: re-register and re-read the ring after our
    /// cursor, in one step, as `subscribe` does.
    fn catch_up(&mut self) -> Option<Batch> {
        self.hub.lagged.fetch_add(1, Ordering::Relaxed);
        let ring = self.hub.lock();
        self.wakeups = ring.wakeups.subscribe();
        let batch = Batch {
            lagged: true,
            ..self.reread(ring.after(Since::After(self.next)))
        };
        self.next = ring.last_id;
        drop(ring);
        (!batch.is_empty()).then_some(batch)
    }

    /// A batch re-read from the ring because of the hub (a new epoch) or of
    /// this subscriber's pace (it lagged), not because the client asked for
    /// old messages: all were published after it subscribed, so all are
    /// live, and even the whole ring is not counted as a read of it.
    fn reread(&self, mut batch: Batch) -> Batch {
        batch.messages.all_live = true;
        batch.messages.whole_ring = false;
        batch
    }
}

/// Ids missing between `cursor` and the messages after it. Always 0 on a
/// hub of its own; on a replica, messages its broker no longer had.
fn skipped_ids(cursor: u64, messages: &[Arc<Message>]) -> u64 {
    let mut previous = cursor;
    let mut skipped = 0;
    for message in messages {
        skipped += message.id.saturating_sub(previous + 1);
        previous = message.id;
    }
    skipped
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
        let Read { batch, next, .. } = hub.read_now(Since::After(2));
        assert_eq!(next, 10);
        assert_eq!(batch.missed, 5, "ids 3..=7 are gone");
        let ids: Vec<u64> = batch.messages.iter().map(|m| m.id).collect();
        assert_eq!(ids, [8, 9, 10]);
    }

    #[test]
    fn a_cursor_this_run_never_issued_starts_over() {
        let hub = Hub::new(8);
        hub.publish("a", "x");
        let batch = hub.read_now(Since::After(99)).batch;
        assert!(batch.reset);
        assert_eq!(batch.messages.len(), 1);
    }

    #[test]
    fn a_cursor_from_another_epoch_starts_over() {
        let hub = Hub::new(8);
        hub.publish("a", "x");
        let epoch = hub.epoch();
        let cursor = |epoch| Cursor {
            since: Since::After(1),
            epoch: Some(epoch),
        };
        assert!(!hub.read_now(cursor(&epoch)).batch.reset);
        let foreign = hub.read_now(cursor("another run"));
        assert!(foreign.batch.reset);
        assert_eq!(foreign.batch.messages.len(), 1);
        assert!(
            hub.subscribe_now(cursor("another run"))
                .try_recv()
                .unwrap()
                .reset
        );
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
        let mut sub = hub.subscribe_now(Since::After(0));
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
        let mut sub = hub.subscribe_now(Since::Now);
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
    async fn a_replica_waits_for_a_cursor_from_an_instance_ahead() {
        let hub = Hub::replica(8);
        hub.apply(1, "a", "x", 0);
        // The client saw id 2 on another instance; it arrives here a moment later.
        let (since, ()) = tokio::join!(hub.caught_up(Since::After(2)), async {
            tokio::task::yield_now().await;
            hub.apply(2, "a", "y", 0);
        });
        let read = hub.read_now(since);
        assert!(!read.batch.reset, "the cursor is not foreign");
        assert!(read.batch.messages.is_empty());
        assert_eq!(read.next, 2);
    }

    #[tokio::test(start_paused = true)]
    async fn a_replica_calls_a_cursor_foreign_when_it_never_arrives() {
        let hub = Hub::replica(8);
        hub.apply(1, "a", "x", 0);
        let since = hub.caught_up(Since::After(9)).await;
        assert!(hub.read_now(since).batch.reset);
    }

    #[tokio::test]
    async fn ids_a_replica_never_received_are_reported_missed() {
        let hub = Hub::replica(8);
        let mut sub = hub.subscribe_now(Since::Now);
        for id in [1, 2, 5] {
            hub.apply(id, "a", "x", 0);
        }
        let read = hub.read_now(Since::After(1));
        assert_eq!(
            read.batch.messages.iter().map(|m| m.id).collect::<Vec<_>>(),
            [2, 5]
        );
        assert_eq!(read.batch.missed, 2, "ids 3 and 4");
        let live = sub.recv().await;
        assert_eq!(live.messages.len(), 3);
        assert_eq!(live.missed, 2);
    }

    #[tokio::test]
    async fn a_new_epoch_tells_every_subscriber_to_start_over() {
        let hub = Hub::replica(8);
        hub.follow_epoch("first");
        hub.apply(1, "a", "x", 0);
        let mut sub = hub.subscribe_now(Since::After(1));
        assert!(hub.follow_epoch("second"));
        assert!(!hub.follow_epoch("second"), "already there");
        let batch = sub.recv().await;
        assert!(batch.reset);
        assert_eq!(sub.epoch(), "second");
        hub.apply(1, "b", "new", 0);
        let batch = sub.recv().await;
        assert_eq!(batch.messages[0].text, "new");
        assert!(!batch.reset);
    }

    #[tokio::test]
    async fn a_restart_starts_a_new_run_and_tells_every_subscriber() {
        let hub = Hub::new(8);
        hub.publish("a", "x");
        hub.publish("a", "y");
        let before = hub.epoch();
        let mut sub = hub.subscribe_now(Since::After(2));
        let epoch = hub.restart().expect("a hub of its own restarts");
        assert_ne!(epoch, before);
        assert_eq!(hub.epoch(), epoch);
        let batch = sub.recv().await;
        assert!(batch.reset);
        assert_eq!(sub.epoch(), &*epoch);
        assert_eq!(sub.next(), 0);
        assert_eq!(hub.publish("a", "again").id, 1, "ids from 1 again");
        let old = Cursor {
            since: Since::After(1),
            epoch: Some(&before),
        };
        assert!(
            hub.read_now(old).batch.reset,
            "a cursor from before starts over"
        );
        assert!(
            Hub::replica(8).restart().is_none(),
            "a broker's epoch is its own"
        );
    }

    #[tokio::test]
    async fn an_overflowing_subscriber_beyond_the_ring_gets_a_gap() {
        let hub = Hub::new(4);
        let mut sub = hub.subscribe_now(Since::Now);
        let total = SUBSCRIBER_QUEUE as u64 + 10;
        for i in 0..total {
            hub.publish("a", &i.to_string());
        }
        let batch = sub.try_recv().expect("something is ready");
        assert_eq!(batch.missed, total - 4);
        assert_eq!(batch.messages.len(), 4);
    }
}
