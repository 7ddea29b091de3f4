//! A Server-Sent Events client: one `GET /api/sse`, then events as they
//! come; it resumes with `?since=` (like `Last-Event-ID`) after an error.

use std::rc::Rc;

use http_body_util::BodyExt;

use super::{after_error, connect, with_cursor};
use crate::load::Run;
use crate::load::record::{missed_in, scan_messages};

pub async fn client(run: Rc<Run>, index: usize) {
    let mut cursor = None;
    while !run.stop.is_cancelled() {
        let Ok(mut connection) = connect(&run).await else {
            after_error(&run).await;
            continue;
        };
        let Ok(response) = connection.get(&with_cursor("/api/sse", cursor)).await else {
            after_error(&run).await;
            continue;
        };
        run.recorder.borrow_mut().requests += 1;
        let mut body = response.into_body();
        let mut pending = Vec::new();
        loop {
            let frame = tokio::select! {
                () = run.stop.cancelled() => return,
                frame = body.frame() => frame,
            };
            let Some(Ok(frame)) = frame else { break };
            let Ok(data) = frame.into_data() else {
                continue;
            };
            pending.extend_from_slice(&data);
            // Handle every complete event (ends with a blank line).
            let complete = pending
                .windows(2)
                .rposition(|w| w == b"\n\n")
                .map_or(0, |p| p + 2);
            let events: Vec<u8> = pending.drain(..complete).collect();
            for event in events
                .split(|&b| b == b'\n')
                .collect::<Vec<_>>()
                .split(|l| l.is_empty())
            {
                on_event(&run, index, event, &mut cursor);
            }
        }
        after_error(&run).await;
    }
}

/// One event's lines: `event: …`, `id: …`, `data: …`.
fn on_event(run: &Run, index: usize, lines: &[&[u8]], cursor: &mut Option<u64>) {
    let field = |name: &[u8]| lines.iter().find_map(|l| l.strip_prefix(name));
    let data = field(b"data: ").unwrap_or_default();
    match field(b"event: ") {
        Some(b"hello") => {
            *cursor = cursor.or_else(|| crate::load::record::next_in(data));
            run.subscribed(index);
        }
        Some(b"gap") => run.recorder.borrow_mut().gaps += missed_in(data),
        Some(b"message") => {
            let mut recorder = run.recorder.borrow_mut();
            scan_messages(data, |seen| {
                *cursor = Some(seen.id);
                recorder.seen(index, seen);
            });
        }
        _ => {}
    }
}
