//! Integration tests: the real server, started on 127.0.0.1:0 inside each
//! test, talked to over real sockets by ordinary clients (reqwest,
//! tokio-tungstenite) and by a raw TCP socket where the bytes themselves
//! are the point.

mod backlog;
mod bad_input;
mod broker;
mod capacity;
mod controls;
mod counters;
mod descriptors;
mod docs;
mod echo_limits;
mod excerpts;
mod faults;
mod figures;
mod frame_limits;
mod guard;
mod helpers;
mod hostile_text;
mod http2;
mod limits;
mod load;
mod longpoll;
mod ordering;
mod page;
mod pipelining;
mod poll;
mod props;
mod proxy;
mod shutdown;
mod slow;
mod sse;
#[path = "../support/mod.rs"]
#[allow(dead_code)] // the other test crates use the rest
mod support;
mod tab_faults;
mod tabs;
mod teacher_names;
mod techniques;
mod vendor;
mod websocket;
mod wire;
mod ws_accept;
mod ws_deflate;
