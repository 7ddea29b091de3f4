//! Which HTTP a connection speaks — HTTP/1.1 or HTTP/2 — and the server
//! that serves both on one port.
//!
//! - Cleartext: a client that knows the server speaks HTTP/2 ("prior
//!   knowledge": `curl --http2-prior-knowledge`, `pushlab load --http2`)
//!   opens with the connection preface `PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n`,
//!   which no HTTP/1 request can start with. So the server looks at the
//!   first bytes without taking them ([`detect`], a `peek`) and hands the
//!   connection to actix-http's HTTP/1 or HTTP/2 dispatcher.
//! - TLS (`--tls`, see [`super::tls`]): the client says in the handshake
//!   (ALPN) which it speaks; browsers offer `h2` first and get it.
//!
//! actix-web's `HttpServer` does the same (`listen_auto_h2c`), but its peek
//! waits for as long as the client stays silent: a connection that sends
//! nothing would be neither timed (the HTTP/1 dispatcher times a request
//! from its own start) nor counted against its client's connections (the
//! on-connect hook runs after), so a flood of silent connections would
//! hold every descriptor. So pushlab builds the server itself, the way
//! `HttpServer` does, and waits at most [`PREFACE_WAIT`] for the preface:
//! a client with prior knowledge sends it as soon as it connects. A
//! connection still silent then is HTTP/1, whose dispatcher counts it
//! against its client (a connection past `--max-connections-per-ip` gets
//! its 503 at once) and times its first request (`--request-timeout`).
//!
//! A client gone: over HTTP/1.1 the dispatcher drops a parked request's
//! future when its connection closes (`h1_allow_half_closed(false)`). The
//! HTTP/2 dispatcher runs each request's future in a task of its own that
//! nothing stopped, so a parked long-poll stayed until its timeout. The
//! vendored actix-http races each request's future against h2's
//! `SendResponse::poll_reset` (vendor/README.md), which reports both ends
//! of a client: a stream it resets (RST_STREAM, a browser aborting one
//! fetch), and every stream of a connection that closed or broke.
//!
//! WebSocket stays on HTTP/1.1: over HTTP/2 it needs extended CONNECT
//! (RFC 8441), which actix-http does not implement. A browser that reaches
//! the page over HTTP/2 opens its WebSocket on a separate HTTP/1.1
//! connection, as it would to any server without RFC 8441.

use std::any::Any;
use std::fmt;
use std::io;
use std::net::{SocketAddr, TcpListener};
use std::sync::Arc;
use std::time::Duration;

use actix_http::body::MessageBody;
use actix_http::error::DispatchError;
use actix_http::h1::ConnectionRules;
use actix_http::header::{HOST, HeaderValue};
use actix_http::{HttpMessage, HttpServiceBuilder, Protocol, Request, Response, Version};
use actix_server::Server;
use actix_service::{
    IntoServiceFactory, Service, ServiceFactory, ServiceFactoryExt, apply_fn_factory, fn_service,
    map_config,
};
use actix_tls::accept::TlsError;
use actix_tls::accept::rustls_0_23::{Acceptor, TlsStream};
use actix_web::Error;
use actix_web::dev::{AppConfig, Extensions};
use actix_web::error::InternalError;
use actix_web::rt::net::TcpStream;
use futures_util::future::{Either, LocalBoxFuture, ready};
use rustls::ServerConfig;
use tokio::io::{AsyncRead, AsyncWrite};

use crate::plumbing::config::Config;
use crate::plumbing::connections;

/// How long a new connection may stay silent before it is taken for
/// HTTP/1: an HTTP/2 client with prior knowledge writes its preface right
/// after connecting, so this only delays a silent HTTP/1 connection's
/// timer and per-client count.
const PREFACE_WAIT: Duration = Duration::from_millis(100);

/// What every HTTP/2 connection starts with; 12 bytes are enough to tell
/// (RFC 9113, section 3.4), and a first segment holds them.
const H2_PREFACE: &[u8] = b"PRI * HTTP/2";

/// ALPN names, best first: the client's first one we know wins.
const ALPN: [&[u8]; 2] = [b"h2", b"http/1.1"];

/// How the server is run: the settings `HttpServer` would have taken.
pub struct Serving {
    pub workers: usize,
    /// Connections each worker holds at most.
    pub max_connections: usize,
    /// How long a graceful stop waits for open responses.
    pub shutdown_grace: Duration,
    /// TLS settings, or cleartext.
    pub tls: Option<Arc<ServerConfig>>,
}

/// The server, on `listener`, of the app `app` makes (once per worker).
pub fn server<F, I, S, B>(
    listener: TcpListener,
    config: &Config,
    serving: Serving,
    app: F,
) -> io::Result<Server>
where
    F: Fn() -> I + Send + Clone + 'static,
    I: IntoServiceFactory<S, Request>,
    S: ServiceFactory<Request, Config = AppConfig> + 'static,
    S: ServiceFactory<Request, Error = Error>,
    S::InitError: fmt::Debug,
    S::Response: Into<Response<B>> + 'static,
    <S::Service as Service<Request>>::Future: 'static,
    S::Service: 'static,
    B: MessageBody + 'static,
{
    let address = listener.local_addr()?;
    let builder = Server::build()
        .workers(serving.workers)
        .max_concurrent_connections(serving.max_connections)
        .disable_signals()
        .shutdown_timeout(serving.shutdown_grace.as_secs());
    let stopping = builder.graceful_shutdown_signal();
    let rules = connections::rules(config);
    let on_connect = connections::on_connect(config, address, rules)
        .map(|hook| Arc::new(hook) as Arc<OnConnect>);
    let http = Http {
        address,
        secure: serving.tls.is_some(),
        request_timeout: config.request_timeout,
        keep_alive: config.keep_alive_timeout,
        rules,
        on_connect,
        stopping,
    };
    let timeout = config.request_timeout;
    let builder = match serving.tls {
        None => builder.listen("pushlab", listener, move || {
            detect().and_then(http.service(app.clone()))
        })?,
        Some(tls) => builder.listen("pushlab-tls", listener, move || {
            let mut acceptor = Acceptor::new(with_alpn(&tls));
            acceptor.set_handshake_timeout(timeout);
            acceptor
                .map_init_err(|_| ())
                .map_err(TlsError::into_service_error)
                .and_then(fn_service(negotiated))
                .and_then(http.service(app.clone()).map_err(TlsError::Service))
        })?,
    };
    Ok(builder.run())
}

/// Cleartext: HTTP/2 if the connection opens with the preface, otherwise
/// HTTP/1, also when it said nothing within [`PREFACE_WAIT`].
fn detect() -> impl ServiceFactory<
    TcpStream,
    Config = (),
    Response = (TcpStream, Protocol, Option<SocketAddr>),
    Error = DispatchError,
    InitError = (),
> + Clone {
    fn_service(|io: TcpStream| async move {
        let mut first = [0; H2_PREFACE.len()];
        let seen = match tokio::time::timeout(PREFACE_WAIT, io.peek(&mut first)).await {
            Ok(seen) => seen?,
            Err(_silent) => 0,
        };
        let protocol = if first[..seen] == *H2_PREFACE {
            Protocol::Http2
        } else {
            Protocol::Http1
        };
        let _ = io.set_nodelay(true); // only latency is lost if it fails
        let peer = io.peer_addr().ok();
        Ok((io, protocol, peer))
    })
}

/// TLS: what the handshake's ALPN chose.
async fn negotiated(
    io: TlsStream<TcpStream>,
) -> Result<(TlsStream<TcpStream>, Protocol, Option<SocketAddr>), TlsError<io::Error, DispatchError>>
{
    let (tcp, session) = io.get_ref();
    let protocol = match session.alpn_protocol() {
        Some(b"h2") => Protocol::Http2,
        _ => Protocol::Http1,
    };
    let _ = tcp.set_nodelay(true); // only latency is lost if it fails
    let peer = tcp.peer_addr().ok();
    Ok((io, protocol, peer))
}

fn with_alpn(tls: &ServerConfig) -> ServerConfig {
    let mut config = tls.clone();
    config.alpn_protocols = ALPN.iter().map(|name| name.to_vec()).collect();
    config
}

/// The hook that gives each connection its rules (plumbing/connections.rs).
type OnConnect = dyn Fn(&dyn Any, &mut Extensions) + Send + Sync;

/// The HTTP settings of every connection, HTTP/1 or HTTP/2.
#[derive(Clone)]
struct Http {
    address: SocketAddr,
    /// Over TLS: an HTTP/1 request's URL has no scheme, and the Origin
    /// check learns `https` from here.
    secure: bool,
    request_timeout: Duration,
    keep_alive: Duration,
    /// Every HTTP/1 connection's rules (plumbing/connections.rs).
    rules: ConnectionRules,
    /// Only when a connection needs data of its own: see
    /// `connections::on_connect`.
    on_connect: Option<Arc<OnConnect>>,
    stopping: actix_server::GracefulShutdownSignal,
}

impl Http {
    /// actix-http's services for connections of type `T`, serving `app`'s
    /// app, with the settings `HttpServer::listen` gives them.
    fn service<T, F, I, S, B>(
        &self,
        app: F,
    ) -> impl ServiceFactory<
        (T, Protocol, Option<SocketAddr>),
        Config = (),
        Response = (),
        Error = DispatchError,
        InitError = (),
    > + use<T, F, I, S, B>
    where
        T: AsyncRead + AsyncWrite + Unpin + 'static,
        F: Fn() -> I,
        I: IntoServiceFactory<S, Request>,
        S: ServiceFactory<Request, Config = AppConfig> + 'static,
        S: ServiceFactory<Request, Error = Error>,
        S::InitError: fmt::Debug,
        S::Response: Into<Response<B>> + 'static,
        <S::Service as Service<Request>>::Future: 'static,
        B: MessageBody + 'static,
    {
        let on_connect = self.on_connect.clone();
        let rules = self.rules;
        let stopping = self.stopping.clone();
        let (address, secure) = (self.address, self.secure);
        let (keep_alive, request_timeout) = (self.keep_alive, self.request_timeout);
        let builder = || {
            let stopping = stopping.clone();
            let builder = HttpServiceBuilder::default()
                .graceful_shutdown_signal(move || {
                    let stopping = stopping.clone();
                    async move { stopping.notified().await }
                })
                .keep_alive(keep_alive)
                .client_request_timeout(request_timeout)
                // A client that closes its end is gone: drop its parked
                // long-poll (and the handler's future with it) instead of
                // keeping it until the timeout.
                .h1_allow_half_closed(false)
                .local_addr(address)
                .connection_rules(rules);
            match on_connect.clone() {
                Some(on_connect) => builder.on_connect_ext(move |io: &T, data: &mut Extensions| {
                    on_connect(io as &dyn Any, data)
                }),
                None => builder,
            }
        };
        let app = || {
            let app =
                apply_fn_factory(app(), http2_request).map_err(|err: Error| err.error_response());
            map_config(app, move |()| {
                AppConfig::__priv_test_new(secure, address.to_string(), address)
            })
        };
        Both {
            h1: builder().h1(app()),
            h2: builder().h2(app()),
        }
    }
}

/// HTTP/1 connections to one service, HTTP/2 connections to the other.
///
/// actix-http's `HttpService` does the same, but keeps either protocol's
/// state in one enum: with HTTP/2 compiled in, every idle HTTP/1
/// connection carried room for an HTTP/2 connection's state, 1.8 KB more
/// per idle SSE stream, parked long-poll or WebSocket (measured at 5,000).
/// Here an HTTP/2 connection's state is boxed, so an HTTP/1 connection
/// costs what it did without HTTP/2.
struct Both<H1, H2> {
    h1: H1,
    h2: H2,
}

impl<T, H1, H2> ServiceFactory<(T, Protocol, Option<SocketAddr>)> for Both<H1, H2>
where
    T: 'static,
    H1: ServiceFactory<(T, Option<SocketAddr>), Config = (), Response = (), Error = DispatchError>,
    H2: ServiceFactory<(T, Option<SocketAddr>), Config = (), Response = (), Error = DispatchError>,
    H1::Service: 'static,
    H2::Service: 'static,
    H1::Future: 'static,
    H2::Future: 'static,
    <H2::Service as Service<(T, Option<SocketAddr>)>>::Future: 'static,
{
    type Response = ();
    type Error = DispatchError;
    type Config = ();
    type Service = BothService<H1::Service, H2::Service>;
    type InitError = ();
    type Future = LocalBoxFuture<'static, Result<Self::Service, ()>>;

    fn new_service(&self, (): ()) -> Self::Future {
        let (h1, h2) = (self.h1.new_service(()), self.h2.new_service(()));
        Box::pin(async move {
            let h1 = h1
                .await
                .map_err(|_| tracing::error!("the HTTP/1 service did not start"))?;
            let h2 = h2
                .await
                .map_err(|_| tracing::error!("the HTTP/2 service did not start"))?;
            Ok(BothService { h1, h2 })
        })
    }
}

struct BothService<H1, H2> {
    h1: H1,
    h2: H2,
}

impl<T, H1, H2> Service<(T, Protocol, Option<SocketAddr>)> for BothService<H1, H2>
where
    H1: Service<(T, Option<SocketAddr>), Response = (), Error = DispatchError>,
    H2: Service<(T, Option<SocketAddr>), Response = (), Error = DispatchError>,
    H2::Future: 'static,
{
    type Response = ();
    type Error = DispatchError;
    type Future = Either<H1::Future, LocalBoxFuture<'static, Result<(), DispatchError>>>;

    fn poll_ready(
        &self,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Result<(), DispatchError>> {
        let h1 = self.h1.poll_ready(cx)?;
        let h2 = self.h2.poll_ready(cx)?;
        if h1.is_ready() && h2.is_ready() {
            std::task::Poll::Ready(Ok(()))
        } else {
            std::task::Poll::Pending
        }
    }

    fn call(&self, (io, protocol, peer): (T, Protocol, Option<SocketAddr>)) -> Self::Future {
        match protocol {
            Protocol::Http2 => Either::Right(Box::pin(self.h2.call((io, peer)))),
            _ => Either::Left(self.h1.call((io, peer))),
        }
    }
}

/// What HTTP/2 requests need before the app sees them; one comparison for
/// an HTTP/1 request.
///
/// - An HTTP/2 request names its host in the `:authority` pseudo-header,
///   which actix-http puts in the URL; an HTTP/1.1 request in `Host`. The
///   Host and Origin checks (plumbing/origin.rs) and the page read `Host`,
///   so an HTTP/2 request without one gets it from `:authority`, as RFC
///   9113 (section 8.3.1) asks of a server that hands requests on as
///   HTTP/1.1.
/// - A connection past its client's `--max-connections-per-ip` is refused
///   by the HTTP/1 dispatcher before it reads a request
///   (plumbing/connections.rs); the HTTP/2 dispatcher knows no such rule, so
///   each request of a refused HTTP/2 connection gets the same 503 here.
fn http2_request<S>(
    mut req: Request,
    app: &S,
) -> Either<LocalBoxFuture<'static, Result<S::Response, Error>>, S::Future>
where
    S: Service<Request, Error = Error>,
    S::Response: 'static,
{
    if req.version() != Version::HTTP_2 {
        return Either::Right(app.call(req));
    }
    if let Some(refused) = req
        .conn_data::<ConnectionRules>()
        .and_then(|rules| rules.refused)
    {
        let error = InternalError::from_response("too many connections", refused().into());
        // Boxed: a parked request's future is kept in its connection's
        // state, so what is inline here, every HTTP/1 connection carries.
        return Either::Left(Box::pin(ready(Err(error.into()))));
    }
    if !req.headers().contains_key(HOST) {
        let authority = req.uri().authority().map(|a| a.as_str());
        if let Some(host) = authority.and_then(|a| HeaderValue::from_str(a).ok()) {
            req.headers_mut().insert(HOST, host);
        }
    }
    Either::Right(app.call(req))
}
