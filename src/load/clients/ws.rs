//! A WebSocket client: one upgrade to `/ws`, then a frame per message; it
//! resumes with `?since=` after an error.

use std::rc::Rc;

use futures_util::StreamExt;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;

use super::{Error, with_cursor};
use crate::load::Run;
use crate::load::net::CountedStream;
use crate::load::record::{missed_in, next_in, scan_messages};

pub async fn connection(run: &Run, index: usize, cursor: &mut Option<u64>) -> Result<(), Error> {
    let server = run.server_of(index);
    let stream = CountedStream::connect(server, Rc::clone(&run.bytes)).await?;
    let url = format!("ws://{server}{}", with_cursor("/ws", *cursor));
    let (mut socket, _) =
        tokio_tungstenite::client_async_with_config(url, stream, Some(config())).await?;
    {
        let mut recorder = run.recorder.borrow_mut();
        recorder.connections += 1;
        recorder.requests += 1;
    }
    while let Some(frame) = socket.next().await {
        // Pings are answered by tungstenite itself.
        if let Message::Text(text) = frame? {
            on_frame(run, index, text.as_bytes(), cursor);
        }
    }
    Err("the WebSocket closed".into())
}

/// tungstenite's defaults suit a few big connections: a 128 KiB read
/// buffer per socket, zero-filled before every read. For thousands of
/// small-message subscribers, 8 KiB is plenty and costs a sixteenth.
fn config() -> WebSocketConfig {
    WebSocketConfig::default()
        .read_buffer_size(8 * 1024)
        .write_buffer_size(0)
}

/// One frame: `{"type":"message",…}`, `{"type":"gap",…}` or `{"type":"hello",…}`.
fn on_frame(run: &Run, index: usize, frame: &[u8], cursor: &mut Option<u64>) {
    match frame_type(frame) {
        b"message" => {
            let mut recorder = run.recorder.borrow_mut();
            scan_messages(frame, |seen| {
                *cursor = Some(seen.id);
                recorder.seen(index, seen);
            });
        }
        b"gap" => run.recorder.borrow_mut().gaps += missed_in(frame),
        b"hello" => {
            *cursor = cursor.or_else(|| next_in(frame));
            run.subscribed(index);
        }
        _ => {}
    }
}

/// The value of `"type"`: pushlab puts it first, so this is a prefix check.
fn frame_type(frame: &[u8]) -> &[u8] {
    let Some(rest) = frame.strip_prefix(br#"{"type":""#) else {
        return b"";
    };
    let end = rest.iter().position(|&b| b == b'"').unwrap_or(0);
    &rest[..end]
}
