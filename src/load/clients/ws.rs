//! A WebSocket client: one upgrade to `/ws`, then a frame per message; it
//! resumes with `?since=` after an error. With `--deflate` it offers
//! permessage-deflate, and records the server's answer and what the
//! compressed messages inflated to.

use std::rc::Rc;

use super::{Error, with_cursor};
use crate::load::Run;
use crate::load::record::{missed_in, next_in, scan_messages};
use crate::load::websocket::Socket;

pub async fn connection(run: &Run, index: usize, cursor: &mut Option<u64>) -> Result<(), Error> {
    let server = run.server_of(index);
    let path = with_cursor("/ws", *cursor);
    let deflate = run.settings.deflate;
    let mut socket = Socket::connect(server, Rc::clone(&run.bytes), &path, deflate).await?;
    {
        let mut recorder = run.recorder.borrow_mut();
        recorder.connections += 1;
        recorder.requests += 1;
        if deflate && recorder.ws_extension.is_none() {
            let answer = socket.extension().unwrap_or("declined");
            recorder.ws_extension = Some(answer.to_owned());
        }
    }
    loop {
        // Pings are answered by the socket itself; a close ends the loop
        // with an error, and the caller reconnects.
        let text = socket.next_text().await?;
        on_frame(run, index, text, cursor);
        // Zero unless that message was compressed: the recorder is left alone.
        let inflated = socket.take_inflated();
        if inflated > 0 {
            run.recorder.borrow_mut().payload_bytes_inflated += inflated;
        }
    }
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
