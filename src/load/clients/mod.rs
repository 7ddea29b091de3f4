//! The load tool's clients, one file per technique, shaped alike: connect,
//! ask (or listen), record what arrived, and reconnect with the cursor
//! after an error, until the run stops.

pub mod longpoll;
pub mod poll;
pub mod sse;
pub mod ws;

use std::rc::Rc;
use std::time::Duration;

use super::Run;
use super::http::Connection;
use super::record::{missed_in, next_in, scan_messages};

/// How long a client waits before reconnecting after an error.
const RECONNECT_DELAY: Duration = Duration::from_millis(200);

/// Opens an HTTP connection for client `index`, counted.
async fn connect(run: &Run) -> Result<Connection, super::http::Error> {
    let connection = Connection::open(run.addr, Rc::clone(&run.bytes)).await?;
    run.recorder.borrow_mut().connections += 1;
    Ok(connection)
}

/// Records a poll or long-poll answer; returns the cursor for the next one.
fn record_answer(run: &Run, index: usize, body: &[u8]) -> Option<u64> {
    let mut recorder = run.recorder.borrow_mut();
    recorder.requests += 1;
    let mut messages = 0;
    scan_messages(body, |seen| {
        messages += 1;
        recorder.seen(index, seen);
    });
    if messages == 0 {
        recorder.empty_responses += 1;
    }
    recorder.gaps += missed_in(body);
    next_in(body)
}

/// Records an error and waits a little before the caller reconnects.
async fn after_error(run: &Run) {
    run.recorder.borrow_mut().errors += 1;
    tokio::select! {
        () = run.stop.cancelled() => {}
        () = tokio::time::sleep(RECONNECT_DELAY) => {}
    }
}

/// `path` with `since=` when there is a cursor.
fn with_cursor(path: &str, cursor: Option<u64>) -> String {
    match cursor {
        None => path.to_owned(),
        Some(id) if path.contains('?') => format!("{path}&since={id}"),
        Some(id) => format!("{path}?since={id}"),
    }
}
