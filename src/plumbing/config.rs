//! The server's settings: every flag of `pushlab serve`, with its default.
//!
//! Durations come from here rather than from constants in the technique
//! files, so the tests can run the real server with millisecond timings.

use std::time::Duration;

use clap::Args;

use crate::techniques::ws::DeflatePolicy;

/// Settings of one pushlab server.
#[derive(Args, Clone, Debug)]
pub struct Config {
    /// Generator messages per second (Poisson arrivals); 0 turns it off.
    #[arg(long, default_value_t = 1.0, value_parser = parse_rate)]
    pub rate: f64,

    /// Share the message stream with other pushlab instances through Redis:
    /// redis://[user:password@]host:port[/db], e.g. redis://127.0.0.1:6379
    /// (default: this process alone, no broker).
    #[arg(long, value_name = "URL", value_parser = parse_broker)]
    pub broker: Option<String>,

    /// How many recent messages the hub keeps for clients that resume with a cursor.
    #[arg(long, default_value_t = 1024, value_parser = clap::value_parser!(u64).range(1..=1_000_000))]
    pub history: u64,

    /// How long a long-poll waits before answering empty, when the client does
    /// not say (`?timeout=`). Seconds, or with a unit: 25, 25s, 500ms.
    #[arg(long, default_value = "25", value_parser = parse_duration)]
    pub longpoll_timeout: Duration,

    /// An extra origin allowed to open WebSockets, e.g. http://teacher.local:8080
    /// (repeatable). The page's own origin is always allowed.
    #[arg(long = "allowed-origin", value_name = "ORIGIN")]
    pub allowed_origins: Vec<String>,

    /// A host name this server answers to besides IP addresses and
    /// localhost, e.g. teacher.local (repeatable). Requests that change state
    /// or open a WebSocket under any other name get 421 (DNS rebinding).
    #[arg(long = "allowed-host", value_name = "HOST")]
    pub allowed_hosts: Vec<String>,

    /// The teacher key (at least 16 URL-safe characters); by default a new
    /// random one each start. `pushlab serve` prints the teacher URL with it.
    #[arg(long, value_name = "KEY", value_parser = parse_teacher_key)]
    pub teacher_key: Option<String>,

    /// Let every client use the global controls (generator rate, restarts)
    /// without the teacher key: true or false. Default: true when listening
    /// on loopback only, false otherwise.
    #[arg(long, value_name = "BOOL")]
    pub open_controls: Option<bool>,

    /// Largest message /ws/echo accepts, in bytes (frames and reassembled
    /// fragments alike). The conformance suite needs 16777216.
    #[arg(long, default_value_t = 1 << 20)]
    pub echo_max_message: usize,

    /// Bytes that may wait to be sent to one /ws/echo client. A message to
    /// echo that would make more wait (and is not the only one waiting)
    /// means the client stopped reading: it is closed with 1008 and counted
    /// in echo.slow_consumers. So one client that stops reading holds at
    /// most this (or one message, if larger) plus the 96 KiB of its write
    /// buffer and slice, and the message it is sending: about 3 MiB by
    /// default. (On /ws, whose frames are at most 3.4 KB, one holds under
    /// 256 KiB until --slow-consumer-timeout drops it.)
    #[arg(long, default_value_t = 2 << 20)]
    pub echo_max_queued: usize,

    /// /ws/echo connections open at once; one more is refused with 503 and
    /// Retry-After. Apart from --max-websockets: the demo must not take the
    /// class's /ws places, and an echo client can hold far more memory
    /// (--echo-max-queued plus --echo-max-message, about 3 MiB).
    #[arg(long, default_value_t = 100)]
    pub max_echo: usize,

    /// permessage-deflate on /ws and /ws/echo: `off` declines every
    /// browser's offer; `on` compresses with context takeover (the best
    /// ratio, a compressor per connection); `no-context-takeover` compresses
    /// each message alone (nothing kept per connection, a broadcast
    /// compressed once). Chapter 6 has the measurements behind the default.
    #[arg(long, value_enum, default_value_t = DeflatePolicy::default())]
    pub ws_deflate: DeflatePolicy,

    /// How often the server pings each WebSocket client.
    #[arg(long, default_value = "10s", value_parser = parse_duration)]
    pub ws_ping_interval: Duration,

    /// A WebSocket client silent for this long (no pong, no message) is dropped.
    #[arg(long, default_value = "30s", value_parser = parse_duration)]
    pub ws_idle_timeout: Duration,

    /// How long a WebSocket waits, after the hub wakes it, for more messages
    /// to write along with the first: fewer, larger writes for a little
    /// latency (Centrifugo PRO's `client.write_delay`). 0 = write at once,
    /// the default, so the page shows WebSocket's own latency; at most 1 s.
    /// Chapter 6 measures what it saves at fan-out, and what it costs.
    #[arg(long, default_value = "0", value_parser = parse_write_delay)]
    pub ws_write_delay: Duration,

    /// How often an idle SSE stream gets a keep-alive comment, so proxies
    /// and browsers don't give up on it.
    #[arg(long, default_value = "15s", value_parser = parse_duration)]
    pub sse_keepalive: Duration,

    /// Worker threads serving HTTP (default: one per CPU core).
    #[arg(long)]
    pub workers: Option<usize>,

    /// WebSockets open at once; one more is refused with 503 and
    /// Retry-After. Each costs about 10 KB and a file descriptor.
    #[arg(long, default_value_t = 20_000)]
    pub max_websockets: usize,

    /// SSE streams open at once; one more is refused with 503 and Retry-After.
    #[arg(long, default_value_t = 20_000)]
    pub max_sse: usize,

    /// Long-polls parked at once; one more is refused with 503 and Retry-After.
    #[arg(long, default_value_t = 20_000)]
    pub max_longpolls: usize,

    /// Messages one client (one IP address) may publish per second, by POST
    /// and WebSocket alike; more are refused with 429 and Retry-After.
    /// 0 = unlimited (`pushlab load --spawn` starts its server so).
    #[arg(long, default_value_t = 20)]
    pub publish_rate: u32,

    /// How many messages one client may publish at once before
    /// --publish-rate applies (the bucket refills at that rate).
    #[arg(long, default_value_t = 20, value_parser = clap::value_parser!(u32).range(1..))]
    pub publish_burst: u32,

    /// How long a client may take to send a request's head, from its first
    /// byte (on a fresh connection, from the connect); a slower one is
    /// answered 408 and closed, so trickled headers (slowloris) cannot hold
    /// connections forever.
    #[arg(long, default_value = "5s", value_parser = parse_duration)]
    pub request_timeout: Duration,

    /// How long a client may take to send a request's whole body, from the
    /// end of its head, on any route; a slower one is answered 408 (or, if
    /// the answer is already under way, cut off) and closed. 0 = no limit.
    #[arg(long, default_value = "10s", value_parser = parse_duration)]
    pub body_timeout: Duration,

    /// How long an idle keep-alive connection waits for its next request
    /// before it is closed; 0 turns keep-alive off. Longer than the page's
    /// slowest poll interval (10 s), so a polling tab keeps reusing one
    /// connection, and well short of nginx's 75 s, so the idle connections
    /// of a class give their file descriptors back soon.
    #[arg(long, default_value = "15s", value_parser = parse_duration)]
    pub keep_alive_timeout: Duration,

    /// Connections one client (one IP address, one /64 for IPv6) may hold
    /// at once; one more is answered 503 and closed at once, so no client
    /// can take every file descriptor. An open page holds up to 7 (the
    /// browser's 6 per host, plus its WebSocket): a class behind one NAT
    /// needs about 8 per laptop. 0 = unlimited. Default: 256, or unlimited
    /// when listening on loopback only, where `pushlab load` runs its
    /// thousands of clients.
    #[arg(long, value_name = "N")]
    pub max_connections_per_ip: Option<usize>,

    // Slow consumers: see src/techniques/ws/session.rs (dropped) and sse.rs (gapped).
    /// A WebSocket client whose queue has stayed full this long (it stopped
    /// reading) is dropped, so it cannot hold its session and memory forever.
    #[arg(long, default_value = "10s", value_parser = parse_duration)]
    pub slow_consumer_timeout: Duration,

    /// Serve HTTPS, so browsers speak HTTP/2 (ALPN): `--tls CERT KEY` with
    /// two PEM files (the chain, leaf first, and its private key), or
    /// `--tls self-signed` for a certificate made at start (localhost,
    /// the loopback addresses, --addr). Without it, cleartext HTTP/1.1 and
    /// HTTP/2 with prior knowledge (h2c) share the port.
    #[arg(long, num_args = 1..=2, value_names = ["CERT", "KEY"])]
    pub tls: Vec<String>,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            rate: 1.0,
            broker: None,
            history: 1024,
            longpoll_timeout: Duration::from_secs(25),
            allowed_origins: Vec::new(),
            allowed_hosts: Vec::new(),
            teacher_key: None,
            open_controls: None,
            echo_max_message: 1 << 20,
            echo_max_queued: 2 << 20,
            max_echo: 100,
            ws_deflate: DeflatePolicy::default(),
            ws_ping_interval: Duration::from_secs(10),
            ws_idle_timeout: Duration::from_secs(30),
            ws_write_delay: Duration::ZERO,
            sse_keepalive: Duration::from_secs(15),
            workers: None,
            max_websockets: 20_000,
            max_sse: 20_000,
            max_longpolls: 20_000,
            publish_rate: 20,
            publish_burst: 20,
            request_timeout: Duration::from_secs(5),
            body_timeout: Duration::from_secs(10),
            keep_alive_timeout: Duration::from_secs(15),
            max_connections_per_ip: None,
            slow_consumer_timeout: Duration::from_secs(10),
            tls: Vec::new(),
        }
    }
}

/// A teacher key long enough not to be guessed, in characters a URL keeps.
fn parse_teacher_key(raw: &str) -> Result<String, String> {
    let key = raw.trim();
    let url_safe = key
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || "-_.~".contains(c));
    if key.chars().count() < crate::teacher::MIN_KEY_CHARS || !url_safe {
        return Err(format!(
            "a teacher key is at least {} characters of A-Z a-z 0-9 - _ . ~",
            crate::teacher::MIN_KEY_CHARS
        ));
    }
    Ok(key.to_owned())
}

/// A broker address: Redis, the one broker pushlab speaks.
fn parse_broker(raw: &str) -> Result<String, String> {
    let url = raw.trim();
    let host = url.strip_prefix("redis://").unwrap_or_default();
    if host.is_empty() {
        return Err(format!(
            "{raw:?} is not a Redis address (try redis://127.0.0.1:6379)"
        ));
    }
    Ok(url.to_owned())
}

/// A duration as a number of seconds (`25`, `0.5`) or with a unit (`25s`,
/// `500ms`, `2m`).
pub fn parse_duration(raw: &str) -> Result<Duration, String> {
    let raw = raw.trim();
    let split = raw
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(raw.len());
    let (number, unit) = raw.split_at(split);
    let number: f64 = number
        .parse()
        .map_err(|_| format!("{raw:?} is not a duration (try 25, 25s, 500ms or 2m)"))?;
    let seconds = match unit.trim() {
        "" | "s" => number,
        "ms" => number / 1000.0,
        "m" | "min" => number * 60.0,
        "h" => number * 3600.0,
        other => {
            return Err(format!(
                "unknown unit {other:?} in {raw:?} (use ms, s, m or h)"
            ));
        }
    };
    Duration::try_from_secs_f64(seconds).map_err(|e| format!("{raw:?}: {e}"))
}

/// `--ws-write-delay`: a duration of at most a second.
pub fn parse_write_delay(raw: &str) -> Result<Duration, String> {
    let delay = parse_duration(raw)?;
    if delay > Duration::from_secs(1) {
        return Err(format!(
            "{raw:?}: a write delay is at most 1s (a few ms already saves most writes)"
        ));
    }
    Ok(delay)
}

fn parse_rate(raw: &str) -> Result<f64, String> {
    match raw.parse::<f64>() {
        Ok(rate) if rate.is_finite() && (0.0..=100_000.0).contains(&rate) => Ok(rate),
        _ => Err(format!(
            "{raw:?}: the rate must be a number of messages per second from 0 to 100000"
        )),
    }
}

#[cfg(test)]
mod tests {
    use clap::Parser;

    use super::*;

    #[derive(Parser)]
    struct Cli {
        #[command(flatten)]
        config: Config,
    }

    #[test]
    fn a_broker_must_be_a_redis_address() {
        let parse = |args: &[&str]| Cli::try_parse_from([&["pushlab"], args].concat());
        let cli = parse(&["--broker", "redis://127.0.0.1:6379"]).expect("a Redis URL");
        assert_eq!(cli.config.broker.as_deref(), Some("redis://127.0.0.1:6379"));
        for bad in ["http://127.0.0.1:6379", "redis://", "127.0.0.1:6379", ""] {
            let error = parse(&["--broker", bad]).err().expect("refused");
            assert!(error.to_string().contains("not a Redis address"), "{error}");
        }
    }

    #[test]
    fn the_flags_defaults_are_the_defaults_tests_start_from() {
        let flags = Cli::parse_from(["pushlab"]).config;
        let default = Config::default();
        assert_eq!(format!("{flags:?}"), format!("{default:?}"));
    }

    #[test]
    fn publish_rate_zero_is_accepted_and_a_zero_burst_is_not() {
        let flags = Cli::parse_from(["pushlab", "--publish-rate", "0"]).config;
        assert_eq!(flags.publish_rate, 0);
        assert!(Cli::try_parse_from(["pushlab", "--publish-burst", "0"]).is_err());
    }

    #[test]
    fn a_write_delay_is_at_most_a_second() {
        let parse = |delay| Cli::try_parse_from(["pushlab", "--ws-write-delay", delay]);
        let flags = parse("10ms").expect("10 ms is a delay").config;
        assert_eq!(flags.ws_write_delay, Duration::from_millis(10));
        for bad in ["2s", "1.5", "soon"] {
            assert!(parse(bad).is_err(), "{bad} accepted");
        }
        let error = parse("2s").err().expect("refused").to_string();
        assert!(error.contains("at most 1s"), "{error}");
    }

    #[test]
    fn durations_accept_plain_seconds_and_units() {
        assert_eq!(parse_duration("25").unwrap(), Duration::from_secs(25));
        assert_eq!(parse_duration("0.5").unwrap(), Duration::from_millis(500));
        assert_eq!(parse_duration("500ms").unwrap(), Duration::from_millis(500));
        assert_eq!(parse_duration("2m").unwrap(), Duration::from_secs(120));
        assert!(parse_duration("soon").is_err());
        assert!(parse_duration("5 parsecs").is_err());
    }
}
