//! A WebSocket client: one upgrade to `/ws`, then a frame per message; it
//! resumes with `?since=` after an error.

use std::rc::Rc;

use futures_util::StreamExt;
use tokio_tungstenite::tungstenite::Message;

use super::{after_error, with_cursor};
use crate::load::Run;
use crate::load::net::CountedStream;
use crate::load::record::{missed_in, next_in, scan_messages};

pub async fn client(run: Rc<Run>, index: usize) {
    let mut cursor = None;
    while !run.stop.is_cancelled() {
        let url = format!("ws://{}{}", run.addr, with_cursor("/ws", cursor));
        let socket = match CountedStream::connect(run.addr, Rc::clone(&run.bytes)).await {
            Ok(stream) => tokio_tungstenite::client_async(url, stream).await,
            Err(error) => Err(error.into()),
        };
        let Ok((mut socket, _)) = socket else {
            after_error(&run).await;
            continue;
        };
        {
            let mut recorder = run.recorder.borrow_mut();
            recorder.connections += 1;
            recorder.requests += 1;
        }
        loop {
            let frame = tokio::select! {
                () = run.stop.cancelled() => return,
                frame = socket.next() => frame,
            };
            match frame {
                Some(Ok(Message::Text(text))) => {
                    on_frame(&run, index, text.as_bytes(), &mut cursor)
                }
                Some(Ok(_)) => {} // pings are answered by tungstenite itself
                _ => break,
            }
        }
        after_error(&run).await;
    }
}

fn on_frame(run: &Run, index: usize, frame: &[u8], cursor: &mut Option<u64>) {
    // The type comes first in pushlab's frames; look a little further so
    // another server's key order works too.
    let head = &frame[..frame.len().min(64)];
    let is = |kind: &[u8]| memchr::memmem::find(head, kind).is_some();
    if is(br#""type":"message""#) {
        let mut recorder = run.recorder.borrow_mut();
        scan_messages(frame, |seen| {
            *cursor = Some(seen.id);
            recorder.seen(index, seen);
        });
    } else if is(br#""type":"gap""#) {
        run.recorder.borrow_mut().gaps += missed_in(frame);
    } else if is(br#""type":"hello""#) {
        *cursor = cursor.or_else(|| next_in(frame));
        run.subscribed(index);
    }
}
