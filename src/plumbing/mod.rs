//! The server's plumbing: what every request passes through on its way to
//! a technique and back, and what the handlers share.
//!
//! None of it is a lesson about pushing news to a browser, all of it is
//! needed to do that in a room full of laptops:
//! - [`config`] — the command line's settings, `Config`;
//! - [`state`] — what every handler shares (`AppState`);
//! - [`routing`] — which methods each path answers; a JSON 405 for the rest;
//! - [`error`] — the API's one error type, rendered as JSON;
//! - [`traffic`] — the middleware that counts requests, open connections
//!   and bytes on the wire per technique (and per tab); [`hpack`] — what
//!   an HTTP/2 head costs, estimated;
//! - [`limits`] — connection limits and the per-client publish rate;
//! - [`connections`] — each connection's timeouts and its client's limit;
//! - [`protocols`] — HTTP/1.1 or HTTP/2 on each connection, and the server;
//!   [`tls`] — HTTPS, for browsers' HTTP/2;
//! - [`origin`] — the Origin and Host checks that guard WebSockets and
//!   everything that changes state.

pub mod config;
pub mod connections;
pub mod error;
pub mod hpack;
pub mod limits;
pub mod origin;
pub mod protocols;
pub mod routing;
pub mod state;
pub mod tls;
pub mod traffic;
