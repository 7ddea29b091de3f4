//! The load tool's clients, one file per technique, shaped alike: each
//! file's `connection` is one connection's life — connect, ask (or listen),
//! record what arrives — until an error. [`client`] reconnects with the
//! cursor after each error, until the run stops.

pub mod longpoll;
pub mod poll;
pub mod sse;
pub mod ws;

use std::rc::Rc;
use std::time::Duration;

use super::Run;
use super::http::Error;
use super::http2::Asking;
use super::record::{missed_in, next_in, scan_messages};
use crate::technique::Technique;

/// How long a client waits before reconnecting after an error.
const RECONNECT_DELAY: Duration = Duration::from_millis(200);

/// Client `index` of `technique`: connected, and reconnected with its cursor
/// after every error, until the run stops.
pub async fn client(technique: Technique, run: Rc<Run>, index: usize) {
    let mut cursor = None;
    let reconnecting = async {
        loop {
            let _ = match technique {
                Technique::poll => poll::connection(&run, index, &mut cursor).await,
                Technique::longpoll => longpoll::connection(&run, index, &mut cursor).await,
                Technique::sse => sse::connection(&run, index, &mut cursor).await,
                Technique::ws => ws::connection(&run, index, &mut cursor).await,
            };
            run.recorder.borrow_mut().errors += 1;
            tokio::time::sleep(RECONNECT_DELAY).await;
        }
    };
    // One wait for the stop around the whole life, not one per message.
    tokio::select! {
        () = run.stop.cancelled() => {}
        () = reconnecting => {}
    }
}

/// Opens client `index`'s counted HTTP connection: HTTP/1.1, or HTTP/2
/// with `--http2`.
async fn connect(run: &Run, index: usize) -> Result<Asking, Error> {
    let connection = Asking::open(run, index).await?;
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

/// `path` with `since=` when there is a cursor.
fn with_cursor(path: &str, cursor: Option<u64>) -> String {
    match cursor {
        None => path.to_owned(),
        Some(id) if path.contains('?') => format!("{path}&since={id}"),
        Some(id) => format!("{path}?since={id}"),
    }
}

/// A non-200 answer, as an error.
fn unexpected(status: u16) -> Error {
    format!("unexpected HTTP status {status}").into()
}
