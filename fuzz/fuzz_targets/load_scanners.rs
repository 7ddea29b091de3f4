//! The load tool reads whatever a server answers — poll bodies, SSE chunks,
//! WebSocket frames — with hand-written scanners instead of a JSON parser,
//! for speed. Arbitrary bytes must never make them panic.
#![no_main]

use libfuzzer_sys::fuzz_target;
use pushlab::load::record::{id_in, missed_in, next_in, scan_messages};

fuzz_target!(|data: &[u8]| {
    let mut found = 0usize;
    scan_messages(data, |_| found += 1);
    assert!(found <= data.len());
    let _ = (missed_in(data), next_in(data), id_in(data));
});
