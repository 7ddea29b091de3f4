//! What each connection is told when it is accepted: how long its requests
//! may take, and whether its client already holds as many connections as
//! one client may.
//!
//! Every connection costs a file descriptor, and a process has a fixed
//! number of them. A client that trickles its requests one byte a second
//! holds its connections for as long as it keeps trickling, unless they are
//! timed; and once the descriptors are gone, the server cannot accept
//! anyone, however short its timeouts. So:
//!
//! - The HTTP/1 dispatcher (vendored actix-http, see vendor/README.md) times
//!   the head of every request (`--request-timeout`) and, with the rules
//!   given here, the whole of every body (`--body-timeout`), on any route:
//!   a request not sent in time gets a JSON 408 and the connection closes.
//!   An idle keep-alive connection closes after `--keep-alive-timeout`.
//! - One client — one IP address, or one /64 for IPv6 — may hold at most
//!   `--max-connections-per-ip` connections at once. The dispatcher answers
//!   each one past that with a JSON 503 before reading any request, and
//!   closes it at once, so its descriptor is given back the moment it was
//!   taken. nginx's `limit_conn` answers the same 503; it waits for the
//!   request head first, which a trickling client never finishes.
//! - The server never accepts more connections than its descriptor limit
//!   leaves room for, with [`RESERVED_DESCRIPTORS`] kept for itself. Past
//!   that, new connections wait in the kernel's accept queue until one
//!   closes. Without it, a burst of connections ran the process out of
//!   descriptors before the refused ones were closed, and actix answers a
//!   failed `accept` by accepting no one for half a second.
//! - That queue holds [`ACCEPT_QUEUE`] connections, not the 128 Rust's
//!   `TcpListener::bind` asks for: a burst of connects past it has the
//!   kernel drop SYNs, every client's alike, and TCP sends a dropped SYN
//!   again only a second later, then three.

use std::any::Any;
use std::collections::HashMap;
use std::io;
use std::net::{IpAddr, SocketAddr, TcpListener};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use actix_http::h1::ConnectionRules;
use actix_tls::accept::rustls_0_23::TlsStream;
use actix_web::ResponseError;
use actix_web::body::BoxBody;
use actix_web::dev::{Extensions, Response};
use actix_web::http::StatusCode;
use actix_web::rt::net::TcpStream;

use crate::plumbing::config::Config;
use crate::plumbing::error::ApiError;
use crate::plumbing::limits::client_key;

/// Connections one client may hold when the server listens beyond loopback
/// and `--max-connections-per-ip` is not given.
pub const DEFAULT_MAX_PER_IP: usize = 256;

/// When a refused client should try again.
const REFUSED_RETRY: Duration = Duration::from_secs(5);

/// A client refused again and again is logged at most this often.
const WARN_EVERY: Duration = Duration::from_secs(60);

/// Descriptors never given to connections: the listener, each worker's
/// event loop, the log, Redis, a read of `/proc`.
pub const RESERVED_DESCRIPTORS: u64 = 64;

/// actix's own limit of connections per worker, kept where descriptors
/// would allow more.
const ACTIX_MAX_PER_WORKER: u64 = 25_000;

/// Connections the kernel may hold for the server to accept: as many as
/// actix-server asks for when it binds itself (Linux caps it at
/// `net.core.somaxconn`, 4096 by default).
pub const ACCEPT_QUEUE: i32 = 2048;

/// `listener`, with an accept queue of [`ACCEPT_QUEUE`] connections.
pub fn deepen_accept_queue(listener: TcpListener) -> io::Result<TcpListener> {
    socket2::SockRef::from(&listener).listen(ACCEPT_QUEUE)?;
    Ok(listener)
}

/// How many connections each of `workers` may hold at once, so that all
/// together leave [`RESERVED_DESCRIPTORS`] of the process's descriptor limit
/// (for `HttpServer::max_connections`).
pub fn max_per_worker(workers: usize) -> usize {
    #[cfg(unix)]
    let limit = rlimit::getrlimit(rlimit::Resource::NOFILE).map_or(u64::MAX, |(soft, _)| soft);
    #[cfg(not(unix))]
    let limit = u64::MAX;
    let per_worker = limit.saturating_sub(RESERVED_DESCRIPTORS) / workers.max(1) as u64;
    per_worker.clamp(1, ACTIX_MAX_PER_WORKER) as usize
}

/// The rules every connection is served by: how long a body may take, and
/// the answer when a head or body is late. Given to the HTTP service once,
/// they cost a connection nothing.
pub fn rules(config: &Config) -> ConnectionRules {
    ConnectionRules {
        body_timeout: (!config.body_timeout.is_zero()).then_some(config.body_timeout),
        timed_out: request_timeout,
        refused: None,
    }
}

/// The on-connect hook for `HttpServer::on_connect`, when one client's
/// connections are limited: counts every accepted connection against its
/// client's limit, and gives one past it `rules` of its own that refuse it.
/// `None` without a limit (on loopback, unless asked for): then no
/// connection carries data of its own, which would cost each about 0.23 KB
/// (a map of its data, measured on idle SSE streams).
pub fn on_connect(
    config: &Config,
    listening: SocketAddr,
    rules: ConnectionRules,
) -> Option<impl Fn(&dyn Any, &mut Extensions) + Send + Sync + 'static> {
    let max = config
        .max_connections_per_ip
        .unwrap_or(if listening.ip().is_loopback() {
            0
        } else {
            DEFAULT_MAX_PER_IP
        });
    if max == 0 {
        return None;
    }
    let per_client = Arc::new(PerClient::new(max));
    Some(move |io: &dyn Any, data: &mut Extensions| {
        let Some(client) = peer_of(io) else {
            return;
        };
        match per_client.hold(client.ip()) {
            Some(held) => {
                data.insert(held);
            }
            None => {
                data.insert(ConnectionRules {
                    refused: Some(too_many_connections as fn() -> Response<BoxBody>),
                    ..rules
                });
            }
        }
    })
}

/// The client of a connection, cleartext or TLS (see plumbing/protocols.rs).
fn peer_of(io: &dyn Any) -> Option<SocketAddr> {
    let tcp = match io.downcast_ref::<TcpStream>() {
        Some(tcp) => tcp,
        None => io.downcast_ref::<TlsStream<TcpStream>>()?.get_ref().0,
    };
    tcp.peer_addr().ok()
}

/// The answer to a request whose head or body did not arrive in time.
fn request_timeout() -> Response<BoxBody> {
    ApiError::new(
        StatusCode::REQUEST_TIMEOUT,
        "request_timeout",
        "the request was not sent in time (see --request-timeout and --body-timeout); \
         the connection is closed",
    )
    .error_response()
    .into()
}

/// The answer to a connection past its client's limit.
fn too_many_connections() -> Response<BoxBody> {
    ApiError::new(
        StatusCode::SERVICE_UNAVAILABLE,
        "too_many_connections",
        "this address holds as many connections as one client may \
         (see --max-connections-per-ip); close one and try again",
    )
    .retry_after(REFUSED_RETRY)
    .error_response()
    .into()
}

/// How many connections each client holds, shared by every worker.
struct PerClient {
    max: usize,
    open: Mutex<HashMap<IpAddr, Open>>,
}

#[derive(Default)]
struct Open {
    connections: usize,
    /// Refused since the last warning in the log.
    refused: u64,
    warned: Option<Instant>,
}

/// A client's place, kept in its connection's data: it is given back when
/// the connection ends (the dispatcher and every request drop the data).
struct Held {
    limit: Arc<PerClient>,
    client: IpAddr,
}

impl PerClient {
    fn new(max: usize) -> Self {
        PerClient {
            max,
            open: Mutex::default(),
        }
    }

    /// A place for one more connection of `ip`, if it has one left.
    fn hold(self: &Arc<Self>, ip: IpAddr) -> Option<Held> {
        let client = client_key(ip);
        let mut open = self.open.lock().unwrap_or_else(PoisonError::into_inner);
        let count = open.entry(client).or_default();
        if count.connections >= self.max {
            count.refused += 1;
            if count.warned.is_none_or(|at| at.elapsed() >= WARN_EVERY) {
                tracing::warn!(
                    "{client} holds {} connections, the most one client may \
                     (--max-connections-per-ip); refused {} more",
                    self.max,
                    count.refused
                );
                count.warned = Some(Instant::now());
                count.refused = 0;
            }
            return None;
        }
        count.connections += 1;
        Some(Held {
            limit: Arc::clone(self),
            client,
        })
    }

    fn release(&self, client: IpAddr) {
        let mut open = self.open.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(count) = open.get_mut(&client) {
            count.connections -= 1;
            if count.connections == 0 {
                open.remove(&client);
            }
        }
    }
}

impl Drop for Held {
    fn drop(&mut self) {
        self.limit.release(self.client);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_client_holds_at_most_max_and_gets_its_places_back() {
        let limit = Arc::new(PerClient::new(2));
        let me: IpAddr = [192, 0, 2, 1].into();
        let other: IpAddr = [192, 0, 2, 2].into();
        let first = limit.hold(me).expect("first");
        let _second = limit.hold(me).expect("second");
        assert!(limit.hold(me).is_none(), "a third is refused");
        assert!(limit.hold(other).is_some(), "another client is not");
        drop(first);
        assert!(limit.hold(me).is_some(), "a place given back is free again");
    }

    #[test]
    fn an_ipv6_client_is_its_64() {
        let limit = Arc::new(PerClient::new(1));
        let _held = limit.hold("2001:db8::1".parse().unwrap()).unwrap();
        assert!(limit.hold("2001:db8::2".parse().unwrap()).is_none());
        assert!(limit.hold("2001:db8:0:1::1".parse().unwrap()).is_some());
    }

    #[test]
    fn forgotten_clients_leave_no_entry() {
        let limit = Arc::new(PerClient::new(1));
        drop(limit.hold([192, 0, 2, 1].into()));
        assert!(limit.open.lock().unwrap().is_empty());
    }
}
