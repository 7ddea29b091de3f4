//! Bytes on the wire, per technique — headers and framing included.
//!
//! The lesson of the comparison is in these numbers: a short poll that
//! carries nothing still costs a request line, a dozen headers and a status
//! line, while a WebSocket message costs its text plus two bytes. So this
//! middleware, wrapped around each technique's route, counts:
//!
//! - in: the request line and headers, then every body byte as it is read
//!   (for a WebSocket, every incoming frame with its header and mask);
//! - out: the status line and headers — including the `content-length`,
//!   `transfer-encoding`, `connection` and `date` headers the HTTP/1
//!   encoder adds after the handler is done — then every body byte as it is
//!   written, with the chunked encoding's framing (for a WebSocket: every
//!   frame with its header, as actix-ws encodes them into the upgraded
//!   body).
//!
//! It also keeps `requests` and `connections_open`: a request is open from
//! the moment it arrives until its response body is finished or dropped, so
//! the gauge means "parked long-polls", "open SSE streams" and "open
//! WebSockets" without any bookkeeping in the technique files. The request
//! line and headers are counted as they arrived (the HTTP/1 decoder keeps
//! them, see `vendor/README.md`); the response's are reconstructed from the
//! response as actix's encoder writes them; a test compares the totals with
//! a raw socket's.
//!
//! A request that names its tab (`?tab=ID`, see [`crate::tabs`]) is also
//! counted for that tab alone: its request, bytes and open connection. The
//! tab goes into the request's extensions ([`TabOf`]), where the technique
//! finds it to count the tab's deliveries. A malformed tab id is a 400.
//! While the tab has its wire view open, the same bytes — not only their
//! number — go to the tab's wire log ([`crate::tabs::wire`]): the request's
//! head as read, its body, the response's head as the encoder wrote it (a
//! `HeadSink` in the response's extensions), its body as written.
//! Over HTTP/2 no head goes over the socket as text: HPACK sends the
//! fields compressed, and actix-http hands pushlab only the decoded ones.
//! So the log gets those fields as HTTP/2 carries them, pseudo-headers
//! first (`:method`, `:path`…, `:status`), one `name: value` a line
//! ([`h2_request_fields`], [`h2_response_fields`]): what the frames said,
//! not their bytes, and the page says so (static/wire.js).
//!
//! It counts `/ws/echo` the same way, into the echo demo's own counters
//! ([`Traffic::echo`]), so the demo never moves a technique's figures.
//!
//! Because it knows how many are open, it is also where a technique's
//! connection limit is kept ([`Traffic::limit`]): one more than the limit
//! is refused with a 503 before the handler runs (see [`crate::plumbing::limits`]).
//! A refused request still counts in `requests` and `bytes_in` — it did
//! arrive — and in `rejected`; its short JSON answer is not in `bytes_out`.

use std::future::{Future, Ready, ready as ready_ok};
use std::pin::Pin;
use std::rc::Rc;
use std::sync::Arc;
use std::sync::atomic::Ordering::Relaxed;
use std::task::{Context, Poll, ready};

use actix_http::h1::HeadSink;
use actix_web::body::{BodySize, MessageBody};
use actix_web::dev::{Payload, Service, ServiceRequest, ServiceResponse, Transform, forward_ready};
use actix_web::http::{ConnectionType, StatusCode, Version, header};
use actix_web::web::Bytes;
use actix_web::{Error, HttpMessage};
use futures_util::{Stream, StreamExt};

use crate::plumbing::error::ApiError;
use crate::plumbing::{hpack, limits};
use crate::stats::{Stats, WireStats};
use crate::tabs::wire::Exchange;
use crate::tabs::{self, Tab, TabOpen, Tabs};
use crate::technique::Technique;

/// `date: Fri, 27 Nov 2026 11:34:07 GMT\r\n`: the date header actix adds.
const DATE_HEADER_LEN: usize = "date: ".len() + 29 + 2;

/// The middleware: `resource.wrap(Traffic::new(stats, Technique::poll))`.
///
/// Written as a `Transform` rather than with `from_fn`, because it runs on
/// every poll: `from_fn` boxes a future per request, and that alone cost
/// short polling a tenth of its throughput.
pub struct Traffic {
    counters: Counters,
    max_open: Option<usize>,
}

impl Traffic {
    pub fn new(stats: Arc<Stats>, tabs: Arc<Tabs>, technique: Technique) -> Self {
        Traffic {
            counters: Counters {
                stats,
                tabs,
                route: Route::Technique(technique),
            },
            max_open: None,
        }
    }

    /// For `/ws/echo`, counted apart from the techniques (`echo` in the stats).
    pub fn echo(stats: Arc<Stats>, tabs: Arc<Tabs>) -> Self {
        Traffic {
            counters: Counters {
                stats,
                tabs,
                route: Route::Echo,
            },
            max_open: None,
        }
    }

    /// Refuses requests with 503 while `max_open` are open.
    pub fn limit(self, max_open: usize) -> Self {
        Traffic {
            max_open: Some(max_open),
            ..self
        }
    }
}

impl<S, B> Transform<S, ServiceRequest> for Traffic
where
    S: Service<ServiceRequest, Response = ServiceResponse<B>, Error = Error>,
    B: MessageBody,
{
    type Response = ServiceResponse<CountedBody<B>>;
    type Error = Error;
    type Transform = TrafficService<S>;
    type InitError = ();
    type Future = Ready<Result<Self::Transform, Self::InitError>>;

    fn new_transform(&self, service: S) -> Self::Future {
        ready_ok(Ok(TrafficService {
            service,
            counters: Rc::new(self.counters.clone()),
            max_open: self.max_open,
        }))
    }
}

pub struct TrafficService<S> {
    service: S,
    /// Each worker thread has its own service, so the per-request copies
    /// can be `Rc`s: cloning an `Arc` is an atomic increment, and a poll
    /// is cheap enough for that to show.
    counters: Rc<Counters>,
    max_open: Option<usize>,
}

impl<S, B> Service<ServiceRequest> for TrafficService<S>
where
    S: Service<ServiceRequest, Response = ServiceResponse<B>, Error = Error>,
    B: MessageBody,
{
    type Response = ServiceResponse<CountedBody<B>>;
    type Error = Error;
    type Future = CountedResponse<S::Future>;

    forward_ready!(service);

    fn call(&self, mut req: ServiceRequest) -> Self::Future {
        let counters = &self.counters;
        let stats = counters.get();
        stats.requests.inc();
        let http2 = req.version() == Version::HTTP_2;
        if http2 {
            // Its heads' sizes are estimates: see plumbing/hpack.rs.
            stats.http2_requests.inc();
        }
        let head_len = request_head_len(&req) as u64;
        stats.bytes_in.inc_by(head_len);
        let tab = match counters.tab_of(&req) {
            Ok(tab) => tab,
            Err(error) => {
                return CountedResponse::Refused {
                    error: Some(error.into()),
                };
            }
        };
        let tab_open = tab.as_ref().map(|(tab, technique)| {
            let own = tab.counters.technique(*technique);
            own.requests.fetch_add(1, Relaxed);
            own.bytes_in.fetch_add(head_len, Relaxed);
            req.extensions_mut().insert(TabOf(Arc::clone(tab)));
            TabTechnique::open(tab, *technique, &counters.tabs)
        });
        let wire = tab.as_ref().and_then(|(tab, technique)| {
            if !http2 {
                return tab.wire.begin(*technique, req.head().raw(), head_len);
            }
            // Spelled out only for a log that keeps it (see WireLog::begin).
            let kept = tab.wire.is_open() || matches!(technique, Technique::sse | Technique::ws);
            kept.then(|| {
                tab.wire
                    .begin(*technique, &h2_request_fields(&req), head_len)
            })
            .flatten()
        });
        let has_body = !matches!(req.parts().1, Payload::None);
        if has_body {
            let counted = CountedPayload {
                frame_header: if http2 { hpack::FRAME_HEADER } else { 0 },
                inner: req.take_payload(),
                counters: Rc::clone(counters),
                tab: tab.clone(),
                wire: wire.clone(),
            };
            req.set_payload(Payload::Stream {
                payload: Box::pin(counted),
            });
        }
        // Open until the body is finished; if the client goes away before
        // the handler answers, actix drops the response future and the
        // guard with it.
        let Some(open) = OpenGuard::try_new(Rc::clone(counters), tab_open, wire, self.max_open)
        else {
            stats.rejected.inc();
            let max = self.max_open.unwrap_or_default();
            let full = match counters.route {
                Route::Technique(technique) => limits::full(technique, max),
                Route::Echo => limits::echo_full(max),
            };
            return CountedResponse::Refused {
                error: Some(full.into()),
            };
        };
        let version = req.version();
        CountedResponse::Admitted {
            response: self.service.call(req),
            open: Some(open),
            version,
            has_body,
        }
    }
}

pin_project_lite::pin_project! {
    /// The handler's response on its way: counts its head, then wraps its
    /// body. Or the refusal of a request over the limit, which never
    /// reached the handler.
    #[project = CountedResponseProj]
    pub enum CountedResponse<F> {
        Admitted {
            #[pin]
            response: F,
            open: Option<OpenGuard>,
            version: Version,
            has_body: bool,
        },
        Refused {
            error: Option<Error>,
        },
    }
}

impl<F, B> Future for CountedResponse<F>
where
    F: Future<Output = Result<ServiceResponse<B>, Error>>,
    B: MessageBody,
{
    type Output = Result<ServiceResponse<CountedBody<B>>, Error>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let (response, open, version, has_body) = match self.project() {
            CountedResponseProj::Admitted {
                response,
                open,
                version,
                has_body,
            } => (response, open, version, has_body),
            CountedResponseProj::Refused { error } => {
                // actix renders the error with `ApiError::error_response`.
                return Poll::Ready(Err(error.take().expect("polled after completion")));
            }
        };
        let mut response = ready!(response.poll(cx))?;
        let open = open.take().expect("polled after completion");
        let head_len = response_head_len(&response, *version, *has_body) as u64;
        if let Some(exchange) = &open.wire {
            if *version == Version::HTTP_2 {
                // No encoder writes a head as text: the fields it sends.
                exchange.response_head(&h2_response_fields(&response), head_len);
            } else {
                let exchange = Arc::clone(exchange);
                let sink =
                    HeadSink::new(move |head| exchange.response_head(head, head.len() as u64));
                response.response_mut().extensions_mut().insert(sink);
            }
        }
        open.bytes_out(head_len);
        let framing = framing(&response, *version);
        Poll::Ready(Ok(response.map_body(move |_, body| CountedBody {
            body,
            framing,
            open,
        })))
    }
}

/// Which counters to add to.
#[derive(Clone)]
struct Counters {
    stats: Arc<Stats>,
    tabs: Arc<Tabs>,
    route: Route,
}

/// A technique's route, or the echo demo's.
#[derive(Clone, Copy)]
enum Route {
    Technique(Technique),
    Echo,
}

impl Counters {
    fn get(&self) -> &WireStats {
        match self.route {
            Route::Technique(technique) => &self.stats.technique(technique).wire,
            Route::Echo => &self.stats.echo.wire,
        }
    }

    /// The tab a technique's request names, if any, and the technique.
    /// The echo demo has no tab figures.
    fn tab_of(&self, req: &ServiceRequest) -> Result<Option<(Arc<Tab>, Technique)>, ApiError> {
        let Route::Technique(technique) = self.route else {
            return Ok(None);
        };
        let Some(id) = tabs::id_in_query(req.query_string()) else {
            return Ok(None);
        };
        let id = tabs::parse_id(id)?;
        Ok(self.tabs.enter(id).map(|tab| (tab, technique)))
    }
}

/// The tab a request came from, in its extensions: techniques count the
/// tab's deliveries with it (`req.extensions().get::<TabOf>()`).
#[derive(Clone)]
pub struct TabOf(pub Arc<Tab>);

/// A tab's request of one technique, open until dropped.
pub struct TabTechnique {
    open: TabOpen,
    technique: Technique,
}

impl TabTechnique {
    fn open(tab: &Arc<Tab>, technique: Technique, tabs: &Tabs) -> Self {
        tab.counters
            .technique(technique)
            .connections_open
            .fetch_add(1, Relaxed);
        TabTechnique {
            open: tab.opened(tabs),
            technique,
        }
    }

    fn counters(&self) -> &crate::tabs::counters::TechniqueCounters {
        self.open.tab.counters.technique(self.technique)
    }
}

impl Drop for TabTechnique {
    fn drop(&mut self) {
        self.counters().connections_open.fetch_sub(1, Relaxed);
    }
}

/// Decrements `connections_open` when dropped.
pub struct OpenGuard {
    counters: Rc<Counters>,
    tab: Option<TabTechnique>,
    /// Where this exchange's bytes are recorded, while the tab's wire view
    /// is open.
    wire: Option<Arc<Exchange>>,
}

impl OpenGuard {
    /// Counts one more open, unless `max_open` are open already. The
    /// increment and the check are one atomic step (the gauge returns the
    /// value before), so concurrent requests cannot overshoot the limit.
    fn try_new(
        counters: Rc<Counters>,
        tab: Option<TabTechnique>,
        wire: Option<Arc<Exchange>>,
        max_open: Option<usize>,
    ) -> Option<Self> {
        let before = counters.get().connections_open.inc();
        let guard = OpenGuard {
            counters,
            tab,
            wire,
        };
        match max_open {
            Some(max) if before >= max as i64 => None, // dropping the guard undoes the inc
            _ => Some(guard),
        }
    }
}

impl OpenGuard {
    /// Counts `n` bytes written, for the class and the tab.
    fn bytes_out(&self, n: u64) {
        self.counters.get().bytes_out.inc_by(n);
        if let Some(tab) = &self.tab {
            tab.counters().bytes_out.fetch_add(n, Relaxed);
        }
    }

    /// Records a body chunk as written (`None`: the body's end), counted
    /// as `counted` bytes.
    fn record_out(&self, chunk: Option<&Bytes>, chunked: bool, counted: u64) {
        if let Some(exchange) = &self.wire {
            exchange.outbound(chunk, chunked, counted);
        }
    }
}

impl Drop for OpenGuard {
    fn drop(&mut self) {
        self.counters.get().connections_open.dec();
        if let Some(exchange) = &self.wire {
            exchange.end();
        }
    }
}

/// `GET /api/poll?since=3 HTTP/1.1\r\n`, each `name: value\r\n`, `\r\n`:
/// as it arrived over HTTP/1, or as it would have been written. Over
/// HTTP/2, its HEADERS frame, estimated ([`hpack`]).
fn request_head_len(req: &ServiceRequest) -> usize {
    if req.version() == Version::HTTP_2 {
        return h2_request_head_len(req);
    }
    let raw = req.head().raw();
    if !raw.is_empty() {
        return raw.len();
    }
    let target = req.uri().path_and_query().map_or(1, |pq| pq.as_str().len());
    let request_line = req.method().as_str().len() + 1 + target + 1 + "HTTP/1.1\r\n".len();
    request_line + headers_len(req.headers()) + 2
}

/// An HTTP/2 request's HEADERS frame, estimated: its pseudo-headers and
/// headers, less the `host` actix-web's server made from `:authority`
/// (plumbing/protocols.rs).
fn h2_request_head_len(req: &ServiceRequest) -> usize {
    let uri = req.uri();
    let path = uri.path_and_query().map_or("/", |pq| pq.as_str());
    let authority = uri.authority().map(|a| a.as_str());
    let pseudo = hpack::field_len(":method", req.method().as_str().as_bytes())
        + hpack::field_len(":scheme", uri.scheme_str().unwrap_or("http").as_bytes())
        + hpack::field_len(":path", path.as_bytes())
        + authority.map_or(0, |a| hpack::field_len(":authority", a.as_bytes()));
    let made_host = |name: &header::HeaderName| authority.is_some() && name == header::HOST;
    hpack::FRAME_HEADER + pseudo + hpack::headers_len(req.headers(), made_host)
}

/// An HTTP/2 request's header fields as its HEADERS frame carried them,
/// decoded, for the wire log: the pseudo-headers, then the fields (less
/// the `host` made from `:authority`), `name: value\r\n` each, and an
/// empty line, so that the page shows them as it shows an HTTP/1 head.
fn h2_request_fields(req: &ServiceRequest) -> Bytes {
    let uri = req.uri();
    let path = uri.path_and_query().map_or("/", |pq| pq.as_str());
    let mut fields = Fields::default();
    fields.add(":method", req.method().as_str().as_bytes());
    fields.add(":scheme", uri.scheme_str().unwrap_or("http").as_bytes());
    fields.add(":path", path.as_bytes());
    let authority = uri.authority().map(|a| a.as_str());
    if let Some(authority) = authority {
        fields.add(":authority", authority.as_bytes());
    }
    for (name, value) in req.headers() {
        if !(authority.is_some() && name == header::HOST) {
            fields.add(name.as_str(), value.as_bytes());
        }
    }
    fields.done()
}

/// An HTTP/2 response's header fields, as actix-http's HTTP/2 dispatcher
/// sends them: `:status`, the handler's fields less HTTP/1's connection
/// headers, `content-length` for a sized body and `date` (this second's:
/// the dispatcher's own is not seen here). See [`h2_response_head_len`].
fn h2_response_fields<B: MessageBody>(res: &ServiceResponse<B>) -> Bytes {
    let status = res.status();
    let size = res.response().body().size();
    let mut fields = Fields::default();
    fields.add(":status", status.as_str().as_bytes());
    for (name, value) in res.headers() {
        let hop_by_hop = matches!(
            *name,
            header::CONNECTION | header::TRANSFER_ENCODING | header::UPGRADE
        );
        let sized = matches!(size, BodySize::Sized(_)) && name == header::CONTENT_LENGTH;
        if !hop_by_hop && !sized {
            fields.add(name.as_str(), value.as_bytes());
        }
    }
    if let BodySize::Sized(n) = size
        && status != StatusCode::NO_CONTENT
    {
        fields.add("content-length", n.to_string().as_bytes());
    }
    if !res.headers().contains_key(header::DATE) {
        let now = header::HttpDate::from(std::time::SystemTime::now());
        fields.add("date", now.to_string().as_bytes());
    }
    fields.done()
}

/// Header fields written out `name: value\r\n`, then an empty line.
#[derive(Default)]
struct Fields(Vec<u8>);

impl Fields {
    fn add(&mut self, name: &str, value: &[u8]) {
        self.0.extend_from_slice(name.as_bytes());
        self.0.extend_from_slice(b": ");
        self.0.extend_from_slice(value);
        self.0.extend_from_slice(b"\r\n");
    }

    fn done(mut self) -> Bytes {
        self.0.extend_from_slice(b"\r\n");
        Bytes::from(self.0)
    }
}

/// An HTTP/2 response's HEADERS frame, estimated: `:status`, the
/// handler's headers less HTTP/1's connection headers, and what actix-http
/// adds (`content-length`, `date`), as its HTTP/2 dispatcher does.
fn h2_response_head_len<B: MessageBody>(res: &ServiceResponse<B>) -> usize {
    let status = res.status();
    let size = res.response().body().size();
    let sized = matches!(size, BodySize::Sized(_));
    let hop_by_hop = |name: &header::HeaderName| {
        matches!(
            *name,
            header::CONNECTION | header::TRANSFER_ENCODING | header::UPGRADE
        ) || (sized && name == header::CONTENT_LENGTH)
    };
    let mut len = hpack::FRAME_HEADER
        + hpack::field_len(":status", status.as_str().as_bytes())
        + hpack::headers_len(res.headers(), hop_by_hop);
    if let BodySize::Sized(n) = size
        && status != StatusCode::NO_CONTENT
    {
        len += hpack::field_len("content-length", n.to_string().as_bytes());
    }
    if !res.headers().contains_key(header::DATE) {
        len += hpack::field_len("date", &[b' '; DATE_HEADER_LEN - "date: ".len() - 2]);
    }
    len
}

/// `HTTP/1.1 200 OK\r\n`, the headers actix writes, `\r\n`.
fn response_head_len<B: MessageBody>(
    res: &ServiceResponse<B>,
    version: Version,
    request_has_body: bool,
) -> usize {
    if version == Version::HTTP_2 {
        return h2_response_head_len(res);
    }
    let status = res.status();
    let reason = status.canonical_reason().unwrap_or("");
    let status_line = "HTTP/1.1 200 ".len() + reason.len() + 2;
    // One pass over the handler's headers: this runs on every poll.
    let (mut own, mut has_date, mut upgrade) = (0, false, false);
    for (name, value) in res.headers() {
        match *name {
            // actix writes its own connection header; one set by a handler
            // is not sent.
            header::CONNECTION => continue,
            header::DATE => has_date = true,
            header::UPGRADE => upgrade = true,
            _ => {}
        }
        own += header_len(name, value);
    }
    let mut added = 0;
    if !has_date {
        added += DATE_HEADER_LEN;
    }
    let body_less = matches!(
        status,
        StatusCode::SWITCHING_PROTOCOLS | StatusCode::NO_CONTENT | StatusCode::NOT_MODIFIED
    );
    if !body_less {
        added += match res.response().body().size() {
            BodySize::Sized(n) => "content-length: \r\n".len() + decimal_digits(n),
            BodySize::Stream if version >= Version::HTTP_11 => {
                "transfer-encoding: chunked\r\n".len()
            }
            BodySize::Stream | BodySize::None => 0,
        };
    }
    added += connection_header(res, version, upgrade, request_has_body).len();
    status_line + own + added + 2
}

/// The `connection` header actix writes, as its HTTP/1 encoder decides it.
/// The request's wish comes first (HTTP/1.1 keeps the connection unless
/// told `close`; 1.0 closes it unless told `keep-alive`), then the
/// answer's own (a 101 upgrades). An upgrade the answer declines leaves an
/// ordinary connection (see `vendor/README.md`), except a declined
/// WebSocket handshake: actix took the rest of its stream for the request's
/// body (it was to be the WebSocket's), and closes rather than read it as
/// the next request.
///
/// A copy of a decision made elsewhere, kept in step by hand: the vendored
/// encoder's (`vendor/actix-http/src/h1/codec.rs`, `Codec::encode`, which
/// points back here, and `encoder.rs`, `encode_headers`). If the two part,
/// `tests/api/counters.rs` fails: it compares these counts with a raw
/// socket's bytes, `connection` header included.
fn connection_header<B>(
    res: &ServiceResponse<B>,
    version: Version,
    answer_upgrades: bool,
    request_has_body: bool,
) -> &'static str {
    let request = res.request().head();
    let switching = res.status() == StatusCode::SWITCHING_PROTOCOLS;
    let mut connection = match res.response().head().connection_type() {
        ConnectionType::KeepAlive => request.connection_type(),
        answer_says => answer_says,
    };
    let http11 = version >= Version::HTTP_11;
    if !switching && request_has_body && asks_websocket(request.headers()) {
        connection = ConnectionType::Close;
    } else if !switching && connection == ConnectionType::Upgrade {
        connection = if http11 {
            ConnectionType::KeepAlive
        } else {
            ConnectionType::Close
        };
    }
    match (connection, answer_upgrades) {
        (ConnectionType::Close, true) if http11 => "connection: close, upgrade\r\n",
        (ConnectionType::KeepAlive, true) if !http11 => "connection: keep-alive, upgrade\r\n",
        (ConnectionType::Upgrade, _) | (_, true) => "connection: upgrade\r\n",
        (ConnectionType::KeepAlive, false) if !http11 => "connection: keep-alive\r\n",
        (ConnectionType::Close, false) if http11 => "connection: close\r\n",
        _ => "",
    }
}

/// `Upgrade: websocket`, the opening of a WebSocket handshake.
fn asks_websocket(headers: &header::HeaderMap) -> bool {
    headers
        .get(header::UPGRADE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.trim().eq_ignore_ascii_case("websocket"))
}

/// `name: value\r\n`
fn header_len(name: &header::HeaderName, value: &header::HeaderValue) -> usize {
    name.as_str().len() + 2 + value.len() + 2
}

fn headers_len(headers: &header::HeaderMap) -> usize {
    headers
        .iter()
        .map(|(name, value)| header_len(name, value))
        .sum()
}

/// How a response's body goes on the wire.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Framing {
    /// As it is: a sized HTTP/1 body, an HTTP/1.0 stream, an upgraded
    /// connection's byte stream.
    Plain,
    /// A streamed HTTP/1.1 body: `{len:X}\r\n` + data + `\r\n` per chunk,
    /// `0\r\n\r\n` at the end.
    Chunked,
    /// HTTP/2: a DATA frame per chunk (actix-http's dispatcher sends at
    /// most 16 KiB in one), and an empty one that ends the stream.
    Http2,
}

/// A streamed HTTP/1.1 body is sent chunked, except after an upgrade, where
/// the body *is* the new protocol's byte stream.
fn framing<B: MessageBody>(res: &ServiceResponse<B>, version: Version) -> Framing {
    if version == Version::HTTP_2 {
        Framing::Http2
    } else if res.status() != StatusCode::SWITCHING_PROTOCOLS
        && version == Version::HTTP_11
        && matches!(res.response().body().size(), BodySize::Stream)
    {
        Framing::Chunked
    } else {
        Framing::Plain
    }
}

/// The largest DATA frame actix-http's HTTP/2 dispatcher sends.
const H2_CHUNK: usize = 16_384;

/// A chunk of `len` body bytes as it goes on the wire, framing included.
fn framed_len(framing: Framing, len: usize) -> usize {
    match framing {
        _ if len == 0 => 0,
        Framing::Plain => len,
        // `{len:X}\r\n` + data + `\r\n`
        Framing::Chunked => hex_digits(len) + 2 + len + 2,
        Framing::Http2 => len.div_ceil(H2_CHUNK) * hpack::FRAME_HEADER + len,
    }
}

pin_project_lite::pin_project! {
    /// A response body that counts what it hands to the encoder.
    pub struct CountedBody<B> {
        #[pin]
        body: B,
        framing: Framing,
        open: OpenGuard,
    }
}

impl<B: MessageBody> MessageBody for CountedBody<B> {
    type Error = B::Error;

    fn size(&self) -> BodySize {
        self.body.size()
    }

    /// Lets actix take a complete body in one piece (its fast path for
    /// JSON answers) instead of polling it.
    fn try_into_bytes(self) -> Result<Bytes, Self> {
        let CountedBody {
            body,
            framing,
            open,
        } = self;
        match body.try_into_bytes() {
            Ok(bytes) => {
                // Only HTTP/1 takes this path; over HTTP/2 the frames
                // would be counted here all the same.
                let ends = if framing == Framing::Http2 {
                    hpack::FRAME_HEADER
                } else {
                    0
                };
                let counted = (framed_len(framing, bytes.len()) + ends) as u64;
                open.bytes_out(counted);
                open.record_out(Some(&bytes), framing == Framing::Chunked, counted);
                Ok(bytes)
            }
            Err(body) => Err(CountedBody {
                body,
                framing,
                open,
            }),
        }
    }

    fn poll_next(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Bytes, Self::Error>>> {
        let this = self.project();
        let next = ready!(this.body.poll_next(cx));
        let framing = *this.framing;
        let wire = match &next {
            Some(Ok(chunk)) => framed_len(framing, chunk.len()),
            None => match framing {
                // The last chunk, `0\r\n\r\n`.
                Framing::Chunked => 5,
                // The empty DATA frame that ends the stream.
                Framing::Http2 => hpack::FRAME_HEADER,
                Framing::Plain => 0,
            },
            Some(Err(_)) => 0,
        };
        let wire = wire as u64;
        this.open.bytes_out(wire);
        let chunked = framing == Framing::Chunked;
        match &next {
            Some(Ok(chunk)) => this.open.record_out(Some(chunk), chunked, wire),
            None => this.open.record_out(None, chunked, wire),
            Some(Err(_)) => {}
        }
        Poll::Ready(next)
    }
}

/// How many decimal digits `n` takes.
fn decimal_digits(n: u64) -> usize {
    n.checked_ilog10().map_or(1, |log| log as usize + 1)
}

/// How many hex digits the chunk-size line needs for `n`.
fn hex_digits(n: usize) -> usize {
    (usize::BITS - n.leading_zeros()).div_ceil(4).max(1) as usize
}

/// A request body that counts what the handler reads.
struct CountedPayload {
    /// Over HTTP/2, each chunk came in a DATA frame of its own.
    frame_header: usize,
    inner: Payload,
    counters: Rc<Counters>,
    tab: Option<(Arc<Tab>, Technique)>,
    wire: Option<Arc<Exchange>>,
}

impl Stream for CountedPayload {
    type Item = Result<Bytes, actix_web::error::PayloadError>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let next = ready!(self.inner.poll_next_unpin(cx));
        if let Some(Ok(bytes)) = &next {
            let wire = (self.frame_header + bytes.len()) as u64;
            self.counters.get().bytes_in.inc_by(wire);
            if let Some((tab, technique)) = &self.tab {
                let own = tab.counters.technique(*technique);
                own.bytes_in.fetch_add(wire, Relaxed);
            }
            if let Some(exchange) = &self.wire {
                exchange.inbound(bytes, wire);
            }
        }
        Poll::Ready(next)
    }
}
