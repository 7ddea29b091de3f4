//! Everything pushlab parses from a client, fed arbitrary bytes: the
//! `since`, `epoch` and `timeout` query values, the `Last-Event-ID` header
//! and the body of `POST /api/messages` (or a WebSocket publish frame).
//! None of it may panic; a parsed id must print back as the same text.
#![no_main]

use std::time::Duration;

use libfuzzer_sys::fuzz_target;
use pushlab::cursor::{CursorQuery, parse_id};
use pushlab::publish::NewMessage;

fuzz_target!(|data: &[u8]| {
    // The body path: bytes -> JSON -> a message -> its limits.
    if let Ok(value) = serde_json::from_slice::<serde_json::Value>(data) {
        if let Ok(message) = NewMessage::from_json(value) {
            let _ = message.validate();
        }
    }
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(id) = parse_id(text) {
        assert_eq!(id.to_string(), text.trim_start_matches('0').max("0"));
    }
    // Split the input into the three query values and a header value.
    let mut parts = text.splitn(4, '\n').map(str::to_owned);
    let query = CursorQuery {
        since: parts.next().filter(|s| !s.is_empty()),
        epoch: parts.next().filter(|s| !s.is_empty()),
        timeout: parts.next(),
    };
    let last_event_id = parts.next();
    if let Ok(cursor) = query.cursor(last_event_id.as_deref().map(str::trim)) {
        let _ = cursor.against("epoch");
    }
    if let Ok(timeout) = query.timeout(Duration::from_secs(25)) {
        assert!(timeout <= Duration::from_secs(60));
    }
});
