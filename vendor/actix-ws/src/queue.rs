//! pushlab: the queue of messages a [`Session`](crate::Session) hands to
//! the connection's [`StreamingBody`](crate::StreamingBody), which encodes
//! and writes them.
//!
//! Upstream this is a `tokio::sync::mpsc` channel of 32 messages. Tokio's
//! channel allocates its storage in blocks of 32 slots up front, so every
//! open WebSocket, idle or not, kept about 1.9 KB for a queue that is
//! almost always empty, and `PollSender` boxed a future more. A server with
//! ten thousand idle WebSockets paid 19 MB for it.
//!
//! This queue is a `VecDeque` behind a mutex: it holds what it holds, and
//! an idle connection's queue costs about a hundred bytes. Its rules are the
//! channel's:
//! - at most `capacity` messages wait; a sender finding the queue full
//!   waits until the body takes one (that wait is how a server notices a
//!   client that stopped reading);
//! - the body ends when every sender is gone and the queue is empty;
//! - once the body closes the queue (a close frame went out) or is dropped
//!   (the connection ended), sending fails with [`Closed`].
//!
//! A burst of messages wakes the body once: a sender wakes it only if it
//! is waiting, and it then takes everything queued in one poll.
//!
//! A session may also give the body a [`Feed`]: a stream of messages the
//! body pulls itself, on the connection's own task, whenever the queue is
//! empty and the socket can take more. A server that pushes one source to
//! many connections (a broadcast) then wakes each connection once per
//! message, not a task of its own and then the connection; the queue keeps
//! what the session sends itself (pongs, replies, the close), and those go
//! first. The feed goes with the queue: when the body closes it, or the last
//! sender is gone, the feed is dropped at once, even if the body is never
//! polled again (a client that stopped reading).

use std::{
    collections::VecDeque,
    future::poll_fn,
    pin::Pin,
    sync::{Arc, Mutex, MutexGuard, PoisonError},
    task::{Context, Poll, Waker},
};

use actix_http::ws::Message;
use futures_core::Stream;

use crate::Closed;

/// Messages the body pulls itself when the queue is empty (see the module
/// docs): a session's broadcast, say.
pub type Feed = Pin<Box<dyn Stream<Item = Message> + Send>>;

/// A queue for `capacity` messages: the sending half and the receiving half.
pub(crate) fn channel(capacity: usize) -> (Sender, Receiver) {
    let shared = Arc::new(Shared {
        state: Mutex::new(State {
            messages: VecDeque::new(),
            capacity: capacity.max(1),
            senders: 1,
            closed: false,
            receiver: None,
            waiting_senders: Vec::new(),
            feed: None,
        }),
    });
    (
        Sender {
            shared: Arc::clone(&shared),
        },
        Receiver { shared },
    )
}

struct Shared {
    state: Mutex<State>,
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, State> {
        // A panic while holding the lock leaves the queue consistent: each
        // critical section is a push, a pop or a flag.
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

struct State {
    messages: VecDeque<Message>,
    capacity: usize,
    /// Live senders; at zero the body ends once the queue is empty.
    senders: usize,
    /// The body closed the queue or is gone: nothing more is accepted.
    closed: bool,
    /// The body, waiting for a message.
    receiver: Option<Waker>,
    /// Senders waiting for room.
    waiting_senders: Vec<Waker>,
    /// What the body pulls when the queue is empty; out of here while the
    /// body polls it.
    feed: Option<Feed>,
}

impl State {
    /// Wakes every sender waiting for room; they look again.
    fn wake_senders(&mut self) -> Vec<Waker> {
        std::mem::take(&mut self.waiting_senders)
    }
}

/// The sending half, held by a [`Session`](crate::Session) and its clones.
pub(crate) struct Sender {
    shared: Arc<Shared>,
}

impl Sender {
    /// Ready once a message may be pushed: there is room, or the queue is
    /// closed (`Err`).
    pub(crate) fn poll_ready(&self, cx: &mut Context<'_>) -> Poll<Result<(), Closed>> {
        let mut state = self.shared.lock();
        if state.closed {
            return Poll::Ready(Err(Closed));
        }
        if state.messages.len() < state.capacity {
            return Poll::Ready(Ok(()));
        }
        if !state.waiting_senders.iter().any(|w| w.will_wake(cx.waker())) {
            state.waiting_senders.push(cx.waker().clone());
        }
        Poll::Pending
    }

    /// Queues `message` whether or not there is room (after
    /// [`Sender::poll_ready`], there is, unless a clone took it first), and
    /// wakes the body if it waits.
    pub(crate) fn push(&self, message: Message) -> Result<(), Closed> {
        let mut state = self.shared.lock();
        if state.closed {
            return Err(Closed);
        }
        state.messages.push_back(message);
        let receiver = state.receiver.take();
        drop(state);
        if let Some(receiver) = receiver {
            receiver.wake();
        }
        Ok(())
    }

    /// Waits for room, then queues `message`.
    pub(crate) async fn send(&self, message: Message) -> Result<(), Closed> {
        poll_fn(|cx| self.poll_ready(cx)).await?;
        self.push(message)
    }

    /// Gives the body `feed` to pull from (replacing any before it), and
    /// wakes the body if it waits.
    pub(crate) fn set_feed(&self, feed: Feed) -> Result<(), Closed> {
        let mut state = self.shared.lock();
        if state.closed {
            return Err(Closed); // `feed` is dropped once the lock is let go
        }
        let replaced = state.feed.replace(feed);
        let receiver = state.receiver.take();
        drop(state);
        drop(replaced);
        if let Some(receiver) = receiver {
            receiver.wake();
        }
        Ok(())
    }
}

impl Clone for Sender {
    fn clone(&self) -> Self {
        self.shared.lock().senders += 1;
        Sender {
            shared: Arc::clone(&self.shared),
        }
    }
}

impl Drop for Sender {
    fn drop(&mut self) {
        let mut state = self.shared.lock();
        state.senders -= 1;
        let (receiver, feed) = if state.senders == 0 {
            (state.receiver.take(), state.feed.take())
        } else {
            (None, None)
        };
        drop(state);
        // Dropped outside the lock: a feed may hold locks of its own.
        drop(feed);
        if let Some(receiver) = receiver {
            receiver.wake();
        }
    }
}

/// The receiving half, held by the connection's body.
pub(crate) struct Receiver {
    shared: Arc<Shared>,
}

impl Receiver {
    /// The next message; `None` once the queue is closed, or empty with
    /// every sender gone.
    pub(crate) fn poll_recv(&mut self, cx: &mut Context<'_>) -> Poll<Option<Message>> {
        let mut state = self.shared.lock();
        if let Some(message) = state.messages.pop_front() {
            let senders = if state.messages.len() < state.capacity {
                state.wake_senders()
            } else {
                Vec::new()
            };
            drop(state);
            senders.into_iter().for_each(Waker::wake);
            return Poll::Ready(Some(message));
        }
        if state.closed || state.senders == 0 {
            return Poll::Ready(None);
        }
        match &mut state.receiver {
            Some(waker) if waker.will_wake(cx.waker()) => {}
            other => *other = Some(cx.waker().clone()),
        }
        Poll::Pending
    }

    /// Takes the feed out to poll it, if there is one and the queue is
    /// still open; give it back with [`Receiver::return_feed`].
    pub(crate) fn take_feed(&mut self) -> Option<Feed> {
        let mut state = self.shared.lock();
        if state.closed || state.senders == 0 {
            return None;
        }
        state.feed.take()
    }

    /// Puts back the feed [`Receiver::take_feed`] took, unless the queue
    /// was closed, every sender left or another feed was set meanwhile:
    /// then it is dropped.
    pub(crate) fn return_feed(&mut self, feed: Feed) {
        let mut state = self.shared.lock();
        if state.closed || state.senders == 0 || state.feed.is_some() {
            drop(state);
            drop(feed);
            return;
        }
        state.feed = Some(feed);
    }

    /// Waits for the next message (see [`Receiver::poll_recv`]).
    #[cfg(test)]
    pub(crate) async fn recv(&mut self) -> Option<Message> {
        poll_fn(|cx| self.poll_recv(cx)).await
    }

    /// Accepts nothing more and lets go of what waits: senders get
    /// [`Closed`] from now on.
    pub(crate) fn close(&mut self) {
        let mut state = self.shared.lock();
        state.closed = true;
        let dropped = std::mem::take(&mut state.messages);
        let feed = state.feed.take();
        let senders = state.wake_senders();
        drop(state);
        drop(dropped);
        drop(feed);
        senders.into_iter().for_each(Waker::wake);
    }
}

impl Drop for Receiver {
    fn drop(&mut self) {
        self.close();
    }
}
