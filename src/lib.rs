//! pushlab: Ajax short polling, HTTP long-polling, Server-Sent Events and
//! WebSocket, side by side over one message source, every request, byte and
//! millisecond counted.
//!
//! The map of the crate, from the centre out:
//! - [`hub`] — the one message source: ids, the ring, wake-ups.
//! - [`techniques`] — one file (or folder) per technique: `poll`,
//!   `longpoll`, `sse`, `ws`; [`technique`] names them, the one list.
//! - [`cursor`] — how a client says what it has already seen.
//! - [`broker`] — where publishes go: the hub itself, or Redis shared by
//!   several instances; [`publish`] — what a user may post;
//!   [`generator`] — random messages at a Poisson rate.
//! - [`stats`], [`tally`] — the class's counters and latency per technique,
//!   and where a technique counts a delivery; [`tabs`] — each open page's
//!   own figures, wire log and faults.
//! - [`web`] — the page, the docs and the static files, embedded.
//! - [`load`] — `pushlab load`: the same load on each technique, measured.
//! - [`plumbing`] — what every request passes through: settings, shared
//!   state, routing, errors, the traffic counter, limits, connection rules,
//!   the Origin check.
//! - The small routes: [`api`] (`/api/stats`, `/metrics`, `/healthz`),
//!   [`clock`] (the server's clock, `/api/time`), [`rate`] (the generator's
//!   rate), [`restart`] (the teacher restarts the hub), [`teacher`] (the
//!   teacher key), [`ws_accept`] (the handshake's accept key, step by step),
//!   [`process`] (CPU and memory from `/proc`).
//!
//! [`run`] serves on a listener the caller bound, until a shutdown future
//! resolves: `main` passes Ctrl-C/SIGTERM, the tests a channel.

pub mod api;
pub mod broker;
pub mod clock;
pub mod cursor;
pub mod generator;
pub mod hub;
pub mod load;
pub mod plumbing;
pub mod process;
pub mod publish;
pub mod rate;
pub mod restart;
pub mod stats;
pub mod tabs;
pub mod tally;
pub mod teacher;
pub mod technique;
pub mod techniques;
pub mod web;
pub mod ws_accept;

use std::future::Future;
use std::net::TcpListener;
use std::time::Duration;

use actix_web::http::Method;
use actix_web::middleware::from_fn;
use actix_web::{App, web as routes};

pub use plumbing::config::Config;
use plumbing::routing::{self, GET, POST, READ, resource};
use plumbing::state::AppState;
use plumbing::{connections, error, limits, origin, protocols, tls, traffic};
use technique::Technique;
use techniques::{longpoll, poll, sse, ws};

/// How long the graceful stop waits for open responses after shutdown has
/// told every stream to end.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(5);

/// Serves pushlab on `listener` until `shutdown` resolves, then stops
/// gracefully: long-polls answer, SSE streams end, WebSockets close 1001.
pub async fn run(
    listener: TcpListener,
    config: Config,
    shutdown: impl Future<Output = ()>,
) -> std::io::Result<()> {
    let address = listener.local_addr()?;
    let tls = match tls::Certificate::from_args(&config.tls)
        .map_err(|e| std::io::Error::new(std::io::ErrorKind::InvalidInput, e))?
    {
        Some(certificate) => Some(tls::server_config(&certificate, address)?),
        None => None,
    };
    let state = AppState::start(config, address.ip().is_loopback())
        .await
        .map_err(std::io::Error::other)?;
    let scheme = if tls.is_some() { "https" } else { "http" };
    tracing::info!("pushlab serving on {scheme}://{address}");
    announce_teacher(&state, address, scheme);
    if let Some(url) = state.broker.url() {
        tracing::info!("sharing one message stream through {url}");
    }
    let workers = state
        .config
        .workers
        .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()));
    let generator = actix_web::rt::spawn(generator::run(
        state.broker.clone(),
        state.generator_rate.subscribe(),
        state.shutdown.clone(),
    ));
    let forgetting = actix_web::rt::spawn(forget_idle_publishers(state.clone()));

    let app_state = state.clone();
    // HTTP/1.1 and HTTP/2 on one port (see plumbing/protocols.rs). A client
    // that trickles a request's head (slowloris) or body is answered 408 and
    // closed, an idle one is closed, one client holds at most
    // --max-connections-per-ip, and no burst of connections runs the
    // process out of file descriptors: see plumbing/connections.rs.
    let serving = protocols::Serving {
        workers,
        max_connections: connections::max_per_worker(workers),
        shutdown_grace: SHUTDOWN_GRACE,
        tls,
    };
    let server = protocols::server(
        connections::deepen_accept_queue(listener)?,
        &state.config,
        serving,
        move || {
            App::new()
                .app_data(routes::Data::new(app_state.clone()))
                .configure(|cfg| routes_of(cfg, &app_state))
        },
    )?;

    let handle = server.handle();
    let stopper = async move {
        shutdown.await;
        tracing::info!("shutting down");
        state.shutdown.cancel();
        handle.stop(true).await;
    };
    let (served, ()) = tokio::join!(server, stopper);
    generator.abort();
    forgetting.abort();
    served
}

/// Prints the teacher URL, as Jupyter prints its token.
fn announce_teacher(state: &AppState, address: std::net::SocketAddr, scheme: &str) {
    let url = teacher::url(address, state.teacher.key());
    let url = match url.strip_prefix("http://") {
        Some(rest) => format!("{scheme}://{rest}"),
        None => url,
    };
    if state.teacher.open() {
        tracing::info!("controls are open to every client; teacher: {url}");
    } else {
        tracing::info!("teacher (global controls need this key): {url}");
    }
}

/// Keeps the publish limiter's memory bounded by the clients of the last
/// minute, not every client ever seen.
async fn forget_idle_publishers(state: AppState) {
    let mut every = tokio::time::interval(limits::FORGET_IDLE_EVERY);
    loop {
        every.tick().await;
        state.publish_limit.forget_idle();
    }
}

/// The whole route table.
fn routes_of(cfg: &mut routes::ServiceConfig, state: &AppState) {
    let counted =
        |technique| traffic::Traffic::new(state.stats.clone(), state.tabs.clone(), technique);
    // Inside `counted`, which finds the tab: cuts what the tab asks to cut.
    let faults = tabs::faults::Cuts::new;
    let config = &state.config;
    cfg.app_data(error::query_config())
        .app_data(error::json_config(publish::MAX_BODY_BYTES))
        .service(
            resource("/api/poll", GET, poll::handle)
                .wrap(faults(Technique::poll))
                .wrap(counted(Technique::poll)),
        )
        .service(
            resource("/api/longpoll", GET, longpoll::handle)
                .wrap(faults(Technique::longpoll))
                .wrap(counted(Technique::longpoll).limit(config.max_longpolls)),
        )
        .service(
            resource("/api/sse", GET, sse::handle)
                .wrap(faults(Technique::sse))
                .wrap(counted(Technique::sse).limit(config.max_sse)),
        )
        .service(
            resource("/ws", GET, ws::handle)
                .wrap(from_fn(origin::guard))
                .wrap(faults(Technique::ws))
                .wrap(counted(Technique::ws).limit(config.max_websockets)),
        )
        .service(
            resource("/ws/echo", GET, ws::echo)
                .wrap(from_fn(origin::guard))
                .wrap(
                    traffic::Traffic::echo(state.stats.clone(), state.tabs.clone())
                        .limit(config.max_echo),
                ),
        )
        .service(
            resource("/api/messages", POST, publish::post_message).wrap(from_fn(origin::guard)),
        )
        .service(
            routes::resource("/api/generator")
                .route(routing::route(READ).to(rate::get))
                .route(
                    routing::route(POST)
                        .to(rate::set)
                        .wrap(from_fn(teacher::guard))
                        .wrap(from_fn(origin::guard)),
                )
                .default_service(routing::wrong_method(&[
                    Method::GET,
                    Method::HEAD,
                    Method::POST,
                ])),
        )
        .service(
            resource("/api/hub/restart", POST, restart::post)
                .wrap(from_fn(teacher::guard))
                .wrap(from_fn(origin::guard)),
        )
        .service(resource("/api/role", READ, teacher::role))
        .service(resource("/api/time", READ, clock::time))
        .service(resource("/api/stats", READ, api::stats))
        .service(resource("/metrics", READ, api::metrics))
        .service(resource("/healthz", READ, api::healthz))
        .service(resource("/api/ws-accept", READ, ws_accept::handle))
        .configure(tabs::routes)
        .configure(web::routes)
        .default_service(routes::to(error::not_found));
}
