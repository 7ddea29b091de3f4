//! The broker: where a publish goes, and who numbers the messages.
//!
//! One pushlab process needs no broker: its [`Hub`] numbers messages itself
//! ([`LocalBroker`], the default, nothing to install). Several processes
//! behind a load balancer must agree on one stream — the same ids, in the
//! same order, on every instance — or a client whose next poll lands on
//! another instance would skip or repeat messages. Then Redis numbers and
//! keeps the messages ([`RedisBroker`], `--broker redis://HOST:PORT`), and
//! each instance's hub becomes a replica that Redis feeds.
//!
//! Either way the techniques read from the hub and publish through this
//! trait; they cannot tell which broker is behind it.

pub mod local;
pub mod redis;

use std::sync::Arc;
use std::time::Duration;

use futures_util::future::BoxFuture;

use crate::hub::Hub;
use crate::plumbing::config::Config;
use crate::plumbing::error::ApiError;
use crate::stats::Stats;

pub use local::LocalBroker;
pub use redis::RedisBroker;

/// Publishes messages into the stream every instance reads.
pub trait Broker: Send + Sync {
    /// Publishes a validated message and resolves to its id. The message
    /// reaches this instance's hub (and every other's) on its own; the id
    /// is what the publisher is told.
    fn publish<'a>(
        &'a self,
        author: &'a str,
        text: &'a str,
    ) -> BoxFuture<'a, Result<u64, BrokerError>>;

    /// `local` or `redis`, for `/api/stats`.
    fn kind(&self) -> &'static str;

    /// Where the broker is (without credentials), if it is elsewhere.
    fn url(&self) -> Option<&str>;
}

/// A publish the broker did not confirm.
#[derive(Debug)]
pub enum BrokerError {
    /// The broker could not be reached: nothing was published.
    Unreachable(String),
    /// The request went out but no answer came back: the message may or
    /// may not be in the stream.
    NoAnswer(String),
}

/// How long a client should wait before publishing again after a 503.
const RETRY_AFTER: Duration = Duration::from_secs(1);

impl From<BrokerError> for ApiError {
    fn from(error: BrokerError) -> ApiError {
        let message = match error {
            BrokerError::Unreachable(reason) => {
                format!("the message broker is not reachable, nothing was published: {reason}")
            }
            BrokerError::NoAnswer(reason) => format!(
                "the message broker did not confirm the publish ({reason}); \
                 it may or may not have been published: look before publishing again"
            ),
        };
        ApiError::new(
            actix_web::http::StatusCode::SERVICE_UNAVAILABLE,
            "broker_unavailable",
            message,
        )
        .retry_after(RETRY_AFTER)
    }
}

/// The broker `config` asks for, feeding `hub`: the hub itself, or Redis
/// (connected, its stream read into the hub, its relay running).
pub async fn connect(
    config: &Config,
    hub: Arc<Hub>,
    stats: Arc<Stats>,
) -> Result<Arc<dyn Broker>, String> {
    match &config.broker {
        None => Ok(Arc::new(LocalBroker::new(hub))),
        Some(url) => Ok(RedisBroker::connect(url, hub, stats, config.history as usize).await?),
    }
}
