//! Redis as the message source that several pushlab instances share.
//!
//! Three keys hold the stream:
//! - `pushlab:epoch` names this run of the stream (random, set once);
//! - `pushlab:last_id` is the newest id, raised by `INCR`;
//! - `pushlab:messages` is a Redis stream whose entry `42-0` is message 42,
//!   trimmed to about `--history` entries (`MAXLEN ~`).
//!
//! Publishing runs [`PUBLISH_SCRIPT`] on the server: `INCR` and `XADD` in
//! one atomic step, so ids are strictly increasing and the stream holds
//! them in id order no matter how many instances publish at once. Nothing
//! is delivered by the publishing instance itself: every instance — the
//! publisher included — runs a *relay* that reads the stream (`XREAD
//! BLOCK`) and applies each entry to its hub, so all of them see the same
//! messages in the same order with the same ids. A cursor from one instance
//! is therefore good on any other: no sticky sessions.
//!
//! When Redis goes away, publishes answer 503 and nothing is half-published;
//! clients stay connected to their instance. The relay retries, and when
//! Redis is back it reads on from the last id it applied: if Redis kept its
//! data, nothing is lost; if the stream was trimmed past that point, the
//! missing ids reach subscribers as a gap; if Redis lost everything, the
//! epoch is gone, a new one begins, and every client is told to start over
//! (a reset). Never a silent hole.

use std::sync::Arc;
use std::time::{Duration, Instant};

use futures_util::future::BoxFuture;
use redis::aio::{ConnectionManager, ConnectionManagerConfig, MultiplexedConnection};
use redis::streams::{StreamId, StreamRangeReply, StreamReadOptions, StreamReadReply};
use redis::{AsyncCommands, AsyncConnectionConfig, Client, RedisResult, Script, ScriptInvocation};

use super::{Broker, BrokerError};
use crate::clock::{new_epoch, now_us};
use crate::hub::Hub;
use crate::stats::{BrokerStats, Stats};

const EPOCH_KEY: &str = "pushlab:epoch";
const LAST_ID_KEY: &str = "pushlab:last_id";
const STREAM_KEY: &str = "pushlab:messages";

// docs:start publish-script
/// The start of both scripts: the epoch Redis holds, or — when it has none
/// (it is new, it lost its data, or the key was evicted) — a fresh one,
/// with the counter and the stream of the old one deleted, so ids start
/// from 1 again under the new name.
/// KEYS: epoch, last id, stream. ARGV[1]: a fresh epoch.
macro_rules! epoch_lua {
    () => {
        r"
local epoch = redis.call('GET', KEYS[1])
if not epoch then
  epoch = ARGV[1]
  redis.call('SET', KEYS[1], epoch)
  redis.call('DEL', KEYS[2], KEYS[3])
end
"
    };
}

/// Numbers a message and appends it to the stream, atomically. ARGV after
/// the fresh epoch: history, author, text, publish time in µs. Returns the id.
const PUBLISH_SCRIPT: &str = concat!(
    epoch_lua!(),
    r"
local id = redis.call('INCR', KEYS[2])
redis.call('XADD', KEYS[3], 'MAXLEN', '~', ARGV[2], string.format('%d-0', id),
  'epoch', epoch, 'author', ARGV[3], 'text', ARGV[4], 'at', ARGV[5])
return id
"
);

/// Returns the epoch (starting one if there is none).
const EPOCH_SCRIPT: &str = concat!(epoch_lua!(), "return epoch\n");
// docs:end publish-script

/// How long one `XREAD` waits for news before the relay checks the epoch.
const RELAY_BLOCK: Duration = Duration::from_secs(1);
/// The most entries one `XREAD` returns.
const RELAY_BATCH: usize = 1024;
/// Waits between reconnection attempts, doubling up to the maximum.
const RECONNECT_MIN: Duration = Duration::from_millis(50);
const RECONNECT_MAX: Duration = Duration::from_secs(1);
/// How often the broker's round trip is measured while nothing is published.
const PING_EVERY: Duration = Duration::from_secs(1);
/// How long a command may take before Redis counts as unreachable.
const COMMAND_TIMEOUT: Duration = Duration::from_millis(500);

pub struct RedisBroker {
    /// The address as shown in `/api/stats`: without credentials.
    shown_url: String,
    /// Commands other than the relay's blocking read: publishes and pings.
    /// It reconnects on its own after an outage.
    commands: ConnectionManager,
    publish_script: Script,
    history: usize,
    stats: Arc<BrokerStats>,
}

impl RedisBroker {
    /// Connects to `url`, reads the stream's epoch and its retained messages
    /// into `hub`, and starts the relay and the round-trip pings. Fails if
    /// Redis cannot be reached now: better a clear error at start-up than a
    /// server that cannot publish.
    pub async fn connect(
        url: &str,
        hub: Arc<Hub>,
        stats: Arc<Stats>,
        history: usize,
    ) -> Result<Arc<RedisBroker>, String> {
        let shown_url = without_credentials(url);
        let fail = |e: redis::RedisError| format!("cannot use the broker at {shown_url}: {e}");
        let client = Client::open(url).map_err(fail)?;
        let config = ConnectionManagerConfig::new()
            .set_connection_timeout(Some(COMMAND_TIMEOUT))
            .set_response_timeout(Some(COMMAND_TIMEOUT))
            .set_number_of_retries(1)
            .set_max_delay(RECONNECT_MAX);
        let commands = ConnectionManager::new_with_config(client.clone(), config)
            .await
            .map_err(fail)?;
        let broker = Arc::new(RedisBroker {
            shown_url: shown_url.clone(),
            commands,
            publish_script: Script::new(PUBLISH_SCRIPT),
            history,
            stats: Arc::clone(&stats.broker),
        });
        let mut relay = Relay {
            client,
            connection: None,
            epoch_script: Script::new(EPOCH_SCRIPT),
            hub,
            history,
            stats: Arc::clone(&stats.broker),
        };
        relay.start().await.map_err(fail)?;
        tokio::spawn(relay.run());
        tokio::spawn(Arc::clone(&broker).ping_forever());
        Ok(broker)
    }

    async fn publish_now(&self, author: &str, text: &str) -> RedisResult<u64> {
        let started = Instant::now();
        let mut commands = self.commands.clone();
        let id = on_the_stream(&self.publish_script)
            .arg(self.history)
            .arg(author)
            .arg(text)
            .arg(now_us())
            .invoke_async(&mut commands)
            .await?;
        self.stats.round_trip(started.elapsed());
        Ok(id)
    }

    /// Measures the round trip to Redis once a second, which also tells
    /// `/api/stats` whether Redis is reachable right now. Stops when the
    /// server does (the runtime goes, and this task with it).
    async fn ping_forever(self: Arc<Self>) {
        let mut every = tokio::time::interval(PING_EVERY);
        loop {
            every.tick().await;
            let started = Instant::now();
            let mut commands = self.commands.clone();
            let pong: RedisResult<String> = redis::cmd("PING").query_async(&mut commands).await;
            self.stats.set_connected(pong.is_ok());
            if pong.is_ok() {
                self.stats.round_trip(started.elapsed());
            }
        }
    }
}

impl Broker for RedisBroker {
    fn publish<'a>(
        &'a self,
        author: &'a str,
        text: &'a str,
    ) -> BoxFuture<'a, Result<u64, BrokerError>> {
        Box::pin(async move {
            self.publish_now(author, text).await.map_err(|e| {
                self.stats.publish_failed();
                // Refused or never connected: the script cannot have run.
                if e.is_connection_refusal() {
                    BrokerError::Unreachable(e.to_string())
                } else {
                    BrokerError::NoAnswer(e.to_string())
                }
            })
        })
    }

    fn kind(&self) -> &'static str {
        "redis"
    }

    fn url(&self) -> Option<&str> {
        Some(&self.shown_url)
    }
}

/// Reads the stream into this instance's hub, for as long as the server
/// runs, reconnecting after every failure.
struct Relay {
    client: Client,
    /// Its own connection: a blocking `XREAD` would hold up every other
    /// command queued behind it on a shared one.
    connection: Option<MultiplexedConnection>,
    epoch_script: Script,
    hub: Arc<Hub>,
    history: usize,
    stats: Arc<BrokerStats>,
}

impl Relay {
    /// Learns the epoch and reads what the stream retains.
    async fn start(&mut self) -> RedisResult<()> {
        let epoch = self.current_epoch().await?;
        self.hub.follow_epoch(&epoch);
        let mut connection = self.connection().await?;
        let retained: StreamRangeReply = connection
            .xrevrange_count(STREAM_KEY, "+", "-", self.history)
            .await?;
        self.apply(retained.ids.iter().rev());
        Ok(())
    }

    async fn run(mut self) {
        let mut wait = RECONNECT_MIN;
        loop {
            match self.relay_once().await {
                Ok(()) => wait = RECONNECT_MIN,
                Err(_) => {
                    self.connection = None;
                    self.stats.set_connected(false);
                    tokio::time::sleep(wait).await;
                    wait = (wait * 2).min(RECONNECT_MAX);
                    // Back: the epoch tells whether Redis kept its data.
                    if self.check_epoch().await.is_ok() {
                        self.stats.set_connected(true);
                    }
                }
            }
        }
    }

    // docs:start relay
    /// One `XREAD`: waits up to [`RELAY_BLOCK`] for entries after the last
    /// applied id and applies them; on a quiet second, checks that the
    /// epoch is still the one the hub follows.
    async fn relay_once(&mut self) -> RedisResult<()> {
        let after = format!("{}-0", self.hub.last_id());
        let options = StreamReadOptions::default()
            .block(RELAY_BLOCK.as_millis() as usize)
            .count(RELAY_BATCH);
        let mut connection = self.connection().await?;
        let reply: Option<StreamReadReply> = connection
            .xread_options(&[STREAM_KEY], &[after], &options)
            .await?;
        match reply {
            Some(reply) => {
                let entries = reply.keys.iter().flat_map(|key| key.ids.iter());
                self.apply(entries);
                Ok(())
            }
            None => self.check_epoch().await,
        }
    }
    // docs:end relay

    /// Follows Redis's epoch; a new one (Redis lost its data and started
    /// over) empties the hub, which tells every subscriber to start over.
    async fn check_epoch(&mut self) -> RedisResult<()> {
        let epoch = self.current_epoch().await?;
        self.follow_epoch(&epoch);
        Ok(())
    }

    /// Moves the hub to the broker's `epoch`, counting the reset if that is
    /// a new one; true if it was.
    fn follow_epoch(&self, epoch: &str) -> bool {
        let moved = self.hub.follow_epoch(epoch);
        if moved {
            self.stats.epoch_reset();
        }
        moved
    }

    /// Applies entries in stream order. An entry of another epoch (Redis
    /// started over while this relay was reading) moves the hub to that
    /// epoch and stops: its ids start again from 1, so the next `XREAD`
    /// reads the new stream from its beginning.
    fn apply<'a>(&self, entries: impl Iterator<Item = &'a StreamId>) {
        for entry in entries {
            let Some(message) = StoredMessage::read(entry) else {
                continue; // not written by PUBLISH_SCRIPT: not ours to show
            };
            if self.follow_epoch(&message.epoch) {
                return;
            }
            self.hub.apply(
                message.id,
                &message.author,
                &message.text,
                message.published_at_us,
            );
        }
    }

    /// The epoch Redis holds, starting one if it has none ([`EPOCH_SCRIPT`]:
    /// atomic, so instances starting together agree on the first).
    async fn current_epoch(&mut self) -> RedisResult<String> {
        let mut connection = self.connection().await?;
        on_the_stream(&self.epoch_script)
            .invoke_async(&mut connection)
            .await
    }

    /// The relay's connection (a cheap handle to it), made anew after a
    /// failure.
    async fn connection(&mut self) -> RedisResult<MultiplexedConnection> {
        if self.connection.is_none() {
            let config = AsyncConnectionConfig::new()
                .set_connection_timeout(Some(COMMAND_TIMEOUT))
                // The blocking read answers within RELAY_BLOCK when Redis is there.
                .set_response_timeout(Some(RELAY_BLOCK + COMMAND_TIMEOUT));
            let connection = self
                .client
                .get_multiplexed_async_connection_with_config(&config)
                .await?;
            self.connection = Some(connection);
        }
        Ok(self.connection.clone().expect("connected just above"))
    }
}

/// `script` with what both scripts start from (see `epoch_lua!`): the three
/// keys, and a fresh epoch in case Redis has none.
fn on_the_stream(script: &Script) -> ScriptInvocation<'_> {
    let mut invocation = script.key(EPOCH_KEY);
    invocation.key(LAST_ID_KEY).key(STREAM_KEY).arg(new_epoch());
    invocation
}

/// A stream entry as [`PUBLISH_SCRIPT`] wrote it.
struct StoredMessage {
    epoch: String,
    id: u64,
    author: String,
    text: String,
    published_at_us: u64,
}

impl StoredMessage {
    fn read(entry: &StreamId) -> Option<StoredMessage> {
        let id = entry.id.strip_suffix("-0")?.parse().ok()?;
        Some(StoredMessage {
            epoch: entry.get("epoch")?,
            id,
            author: entry.get("author")?,
            text: entry.get("text")?,
            published_at_us: entry.get("at")?,
        })
    }
}

/// `redis://user:secret@host:6379/0` → `redis://host:6379/0`.
fn without_credentials(url: &str) -> String {
    match (url.split_once("://"), url.rsplit_once('@')) {
        (Some((scheme, _)), Some((_, host))) => format!("{scheme}://{host}"),
        _ => url.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shown_urls_carry_no_credentials() {
        assert_eq!(
            without_credentials("redis://user:secret@host:6379/0"),
            "redis://host:6379/0"
        );
        assert_eq!(
            without_credentials("redis://127.0.0.1:6379"),
            "redis://127.0.0.1:6379"
        );
    }
}
