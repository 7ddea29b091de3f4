//! What every handler shares: the hub, the counters, the settings and the
//! shutdown signal.

use std::sync::Arc;

use tokio_util::sync::CancellationToken;

use crate::config::Config;
use crate::hub::Hub;
use crate::stats::Stats;

#[derive(Clone)]
pub struct AppState {
    pub hub: Arc<Hub>,
    pub stats: Arc<Stats>,
    pub config: Arc<Config>,
    /// Cancelled when the server begins to shut down: parked long-polls
    /// answer, SSE streams end and WebSockets close with 1001, so the
    /// graceful stop does not wait for connections that would never end.
    pub shutdown: CancellationToken,
}

impl AppState {
    pub fn new(config: Config) -> Self {
        AppState {
            hub: Hub::new(config.history as usize),
            stats: Arc::new(Stats::new()),
            config: Arc::new(config),
            shutdown: CancellationToken::new(),
        }
    }
}
