//! What every handler shares: the hub, the broker, the counters, the
//! settings, the generator's rate, the publish limiter and the shutdown
//! signal.

use std::sync::Arc;

use tokio::sync::watch;
use tokio_util::sync::CancellationToken;

use crate::broker::{self, Broker};
use crate::hub::Hub;
use crate::plumbing::config::Config;
use crate::plumbing::limits::PublishLimiter;
use crate::stats::Stats;
use crate::tabs::Tabs;
use crate::teacher::TeacherKey;

#[derive(Clone)]
pub struct AppState {
    /// Where the techniques read messages from.
    pub hub: Arc<Hub>,
    /// Where messages are published: the hub itself, or a broker that
    /// feeds the hubs of several instances (`--broker`).
    pub broker: Arc<dyn Broker>,
    pub stats: Arc<Stats>,
    pub config: Arc<Config>,
    /// The generator's rate in messages per second. `config.rate` is only
    /// where it starts: `POST /api/generator` sends a new one, and the
    /// generator, holding the receiving end, follows at once.
    pub generator_rate: Arc<watch::Sender<f64>>,
    /// Cancelled when the server begins to shut down: parked long-polls
    /// answer, SSE streams end and WebSockets close with 1001, so the
    /// graceful stop does not wait for connections that would never end.
    pub shutdown: CancellationToken,
    /// Each client's publish rate, shared by POST and WebSocket publishing
    /// so that switching technique does not double a client's allowance.
    pub publish_limit: Arc<PublishLimiter>,
    /// Who may use the global controls (see [`crate::teacher`]).
    pub teacher: Arc<TeacherKey>,
    /// Each open page's own figures (see [`crate::tabs`]).
    pub tabs: Arc<Tabs>,
}

impl AppState {
    /// The shared state, with the broker connected; fails when the broker
    /// `config` names cannot be reached. `loopback_only` says whether only
    /// this machine can reach the server, which opens the controls by default.
    pub async fn start(config: Config, loopback_only: bool) -> Result<Self, String> {
        let stats = Arc::new(Stats::new());
        let history = config.history as usize;
        let hub = match config.broker {
            None => Hub::new(history),
            Some(_) => Hub::replica(history),
        };
        let broker = broker::connect(&config, Arc::clone(&hub), Arc::clone(&stats)).await?;
        Ok(AppState {
            hub,
            broker,
            publish_limit: Arc::new(PublishLimiter::new(
                config.publish_rate,
                config.publish_burst,
                stats.publish_rejected.clone(),
            )),
            teacher: Arc::new(TeacherKey::new(
                config.teacher_key.clone(),
                config.open_controls.unwrap_or(loopback_only),
            )),
            stats,
            generator_rate: Arc::new(watch::Sender::new(config.rate)),
            config: Arc::new(config),
            shutdown: CancellationToken::new(),
            tabs: Arc::default(),
        })
    }
}
