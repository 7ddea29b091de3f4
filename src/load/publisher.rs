//! The load tool's publisher: POSTs on a schedule drawn beforehand
//! (`arrivals.rs`: evenly spaced, or at random like real traffic) that
//! never waits for answers or deliveries.
//!
//! If the publisher waited for each answer before sending the next, a slow
//! server would slow the publishing down and hide its own slowness
//! ("coordinated omission"). Here the scheduler only hands each message to
//! a small pool of connections; each message carries the time it was
//! *scheduled*, so any queueing shows up as latency.

use std::cell::RefCell;
use std::net::SocketAddr;
use std::rc::Rc;
use std::time::Duration;

use tokio::sync::mpsc;
use tokio::time::Instant;

use super::http::Connection;
use super::net::ByteCounts;
use super::record::{Recorder, message_text};

/// Connections the publisher spreads its POSTs over.
const CONNECTIONS: usize = 32;

/// The author name the tool publishes under.
pub const AUTHOR: &str = "load";

/// What the publisher got done.
#[derive(Default)]
pub struct Outcome {
    /// The ids the server accepted, in order.
    pub ids: Vec<u64>,
    /// Publishes the server refused (e.g. 429 when its `--publish-rate`
    /// limits the tool), and the first refusal's answer.
    pub refused: u64,
    pub first_refusal: Option<String>,
}

/// Publishes one message at each moment of `schedule` (from now).
pub async fn publish(
    addr: SocketAddr,
    recorder: &RefCell<Recorder>,
    schedule: &[Duration],
    payload: usize,
    mut on_tick: impl FnMut(),
) -> Outcome {
    let outcome = Rc::new(RefCell::new(Outcome::default()));
    let (jobs, queue) = mpsc::unbounded_channel::<String>();
    let queue = Rc::new(tokio::sync::Mutex::new(queue));
    let bytes = Rc::new(ByteCounts::default()); // publishing is not a technique's traffic
    let workers: Vec<_> = (0..CONNECTIONS)
        .map(|_| {
            tokio::task::spawn_local(worker(
                addr,
                Rc::clone(&queue),
                Rc::clone(&bytes),
                Rc::clone(&outcome),
            ))
        })
        .collect();

    if schedule.is_empty() {
        return Outcome::default(); // an idle run: clients connected, nothing published
    }
    let started = Instant::now();
    let started_us = recorder.borrow().now_us();
    for (seq, &at) in schedule.iter().enumerate() {
        // A late moment is sent at once: the schedule is the schedule.
        tokio::time::sleep_until(started + at).await;
        let scheduled_us = started_us + at.as_micros() as u64;
        let text = message_text(seq as u64, scheduled_us, payload);
        let body = serde_json::json!({"author": AUTHOR, "text": text}).to_string();
        let _ = jobs.send(body); // the workers live until the channel closes
        on_tick();
    }
    drop(jobs);
    for worker in workers {
        let _ = worker.await; // a worker that failed has already said so
    }
    let mut outcome = outcome.take();
    outcome.ids.sort_unstable();
    outcome
}

async fn worker(
    addr: SocketAddr,
    queue: Rc<tokio::sync::Mutex<mpsc::UnboundedReceiver<String>>>,
    bytes: Rc<ByteCounts>,
    outcome: Rc<RefCell<Outcome>>,
) {
    let mut connection = None;
    loop {
        let Some(body) = queue.lock().await.recv().await else {
            return;
        };
        for _attempt in 0..3 {
            if connection.is_none() {
                connection = Connection::open(addr, Rc::clone(&bytes)).await.ok();
            }
            let Some(conn) = connection.as_mut() else {
                continue;
            };
            match conn.post_json("/api/messages", &body).await {
                Ok((201, answer)) => {
                    if let Some(id) = super::record::id_in(answer) {
                        outcome.borrow_mut().ids.push(id);
                    }
                    break;
                }
                Ok((status, answer)) => {
                    let mut outcome = outcome.borrow_mut();
                    outcome.refused += 1;
                    outcome.first_refusal.get_or_insert_with(|| {
                        format!("{status} {}", String::from_utf8_lossy(answer))
                    });
                    break;
                }
                Err(_) => connection = None,
            }
        }
    }
}
