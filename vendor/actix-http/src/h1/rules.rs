//! pushlab: rules for HTTP/1 connections: the service's, given to its
//! builder once (`HttpServiceBuilder::connection_rules`), or one
//! connection's own, put in its data by the server's on-connect hook
//! (`actix_web::HttpServer::on_connect`), which win. The service's cost a
//! connection nothing; an on-connect hook costs each connection a map of
//! its data, so it is for what differs between connections (a refusal).
//!
//! Upstream times only the head of a connection's first request, and has no
//! setting for a body's time or for refusing a connection: a client that
//! trickles its body, or opens more connections than the server has file
//! descriptors, holds them for as long as it likes. A connection without
//! rules is served as upstream serves it.

use std::time::Duration;

use crate::{body::BoxBody, Response};

/// pushlab: how the dispatcher treats one connection.
#[derive(Debug, Clone, Copy)]
pub struct ConnectionRules {
    /// How long a request's body may take, from the end of its head to its
    /// last byte. A body not complete by then is answered with `timed_out`
    /// if its request is not answered yet, and the connection is closed.
    /// The stream that follows an upgrade's head is timed the same way
    /// until a 101 accepts the upgrade. `None`: no limit, as upstream.
    pub body_timeout: Option<Duration>,

    /// The answer to a request whose head or body did not arrive in time
    /// (upstream sends an empty 408). It is the connection's last.
    pub timed_out: fn() -> Response<BoxBody>,

    /// `Some`: the connection is refused. It is given this answer at once,
    /// before any request is read, and closed.
    pub refused: Option<fn() -> Response<BoxBody>>,
}
