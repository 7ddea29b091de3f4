//! `pushlab load`: the same load on each technique, measured from the
//! client side.
//!
//! For each technique the tool connects `--clients` real clients (each a
//! file in `clients/`), waits until all of them are subscribed, publishes
//! `--rate` messages a second for `--duration` (at random moments, or on a
//! fixed schedule: `--arrivals`, see `arrivals.rs`), waits
//! for the last message to arrive everywhere, and reports: latency
//! percentiles (receive time minus scheduled publish time, one clock),
//! lost and duplicate messages, requests and empty answers, bytes on the
//! tool's own sockets, the burst spread of the fan-out, and the server's
//! and its own CPU and memory. Everything runs on one thread, so the tool
//! takes one core and says so when that core, not the server, is the limit.

pub mod arrivals;
pub mod capacity;
pub mod chart;
mod clients;
pub mod crossover;
mod http;
mod http2;
mod net;
mod publisher;
pub mod record;
pub mod report;
mod server;
mod websocket;

use std::cell::RefCell;
use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::rc::Rc;
use std::time::{Duration, Instant};

use arrivals::Arrivals;
use clap::Args;
use clap::builder::{PossibleValuesParser, TypedValueParser};
use indicatif::{ProgressBar, ProgressStyle};
use serde::Serialize;
use tokio_util::sync::CancellationToken;

use crate::plumbing::config::{parse_duration, parse_write_delay};
use net::ByteCounts;
use record::Recorder;
use report::{Latency, Report, Spread, TechniqueReport};
use server::Server;

use crate::process::{CoreTicks, Usage};
use crate::technique::Technique;
use crate::techniques::ws::DeflatePolicy;

/// Options of `pushlab load`.
#[derive(Args, Clone, Debug, Serialize)]
pub struct LoadArgs {
    /// Which technique to load; `all` runs the four one after another with the same settings.
    #[arg(long, default_value = "all", value_parser = Choice::parser())]
    pub technique: Choice,
    /// Concurrent clients (up to about 20,000 on one machine; raise `ulimit -n` for more).
    #[arg(long, default_value_t = 100)]
    pub clients: usize,
    /// How long to publish, e.g. 15s or 2m.
    #[arg(long, default_value = "10s", value_parser = parse_duration)]
    #[serde(serialize_with = "seconds")]
    pub duration: Duration,
    /// Messages per second the tool publishes itself (POST), on average;
    /// 0 measures idle clients.
    #[arg(long, default_value_t = 1.0, value_parser = parse_rate)]
    pub rate: f64,
    /// Sweep these rates (comma-separated, e.g. 0.1,0.3,1,3,10,30,100)
    /// instead of the one `--rate`: every technique at each rate, each run
    /// `--duration` or long enough for a few messages. The outputs then
    /// hold the crossover: per rate and technique, bytes, server CPU and
    /// requests per delivered message, latency p50/p99 (one SVG per measure).
    #[arg(long, value_delimiter = ',', value_parser = parse_rate, conflicts_with = "rate")]
    pub rates: Vec<f64>,
    /// Find how many clients of one `--technique` the server serves with
    /// p99 latency at most `--slo-p99`, nothing lost: fresh runs from
    /// `--clients`, doubling, then bisecting to within 10 % (capacity.rs).
    #[arg(long, requires = "slo_p99", conflicts_with_all = ["rates", "csv", "svg"])]
    pub capacity: bool,
    /// With --capacity: the latency target, ms, that a step's p99 must meet.
    #[arg(long, requires = "capacity")]
    pub slo_p99: Option<f64>,
    /// With --capacity: the most clients tried (one machine's tool tops out
    /// near 20,000); passing there, the answer is "at least".
    #[arg(long, default_value_t = 20_000, requires = "capacity")]
    pub capacity_max: usize,
    /// When the messages go out: `poisson`, at random moments like real
    /// traffic (polls then find some intervals empty and others with several
    /// messages), or `fixed`, one every 1/rate seconds exactly.
    #[arg(long, value_enum, default_value_t = Arrivals::Poisson)]
    pub arrivals: Arrivals,
    /// How often each short-polling client asks.
    #[arg(long, default_value = "1s", value_parser = parse_duration)]
    #[serde(serialize_with = "seconds")]
    pub poll_interval: Duration,
    /// The timeout long-polling clients ask for.
    #[arg(long, default_value = "25s", value_parser = parse_duration)]
    #[serde(serialize_with = "seconds")]
    pub longpoll_timeout: Duration,
    /// Bytes of text per message (at most 500).
    #[arg(long, default_value_t = 64, value_parser = clap::value_parser!(u64).range(16..=500))]
    pub payload: u64,
    /// Spread the clients' connections over this long (0 = as fast as possible).
    #[arg(long, default_value = "0s", value_parser = parse_duration)]
    #[serde(serialize_with = "seconds")]
    pub ramp: Duration,
    /// The server to load. Repeat it for several instances sharing a broker:
    /// the clients are spread evenly over them, and the tool publishes to
    /// the first.
    #[arg(long = "url", default_value = "http://127.0.0.1:8080")]
    pub url: Vec<String>,
    /// Start a server of our own instead (a child process, one per technique, generator off).
    #[arg(long)]
    pub spawn: bool,
    /// With --spawn: pin the server to these cores (taskset list, e.g. 0).
    #[arg(long, requires = "spawn")]
    pub server_cores: Option<String>,
    /// With --spawn: the server's worker threads.
    #[arg(long, default_value_t = 1)]
    pub server_workers: usize,
    /// With --spawn: the server's answer to a permessage-deflate offer (its
    /// `--ws-deflate`), so one build measures every policy.
    #[arg(long, value_enum, default_value_t = DeflatePolicy::default())]
    pub server_ws_deflate: DeflatePolicy,
    /// With --spawn: the server's `--ws-write-delay`, to measure what
    /// fewer, larger WebSocket writes save in CPU and cost in latency.
    #[arg(long, default_value = "0", value_parser = parse_write_delay)]
    #[serde(serialize_with = "seconds")]
    pub server_ws_write_delay: Duration,
    /// After the last publish, wait at most this long for it to arrive everywhere.
    #[arg(long, default_value = "10s", value_parser = parse_duration)]
    #[serde(serialize_with = "seconds")]
    pub drain: Duration,
    /// Write the results as JSON.
    #[arg(long)]
    pub json: Option<PathBuf>,
    /// Write the results as CSV.
    #[arg(long)]
    pub csv: Option<PathBuf>,
    /// Draw latency CDFs and bytes per message as SVG.
    #[arg(long)]
    pub svg: Option<PathBuf>,
    /// Write the table as Markdown.
    #[arg(long)]
    pub markdown: Option<PathBuf>,
    /// ws only: offer permessage-deflate like a browser; bytes then count
    /// what went over the wire compressed. The report shows the server's
    /// answer and what the messages inflated to. Refused with another
    /// technique; with `all`, only ws offers it.
    #[arg(long)]
    pub deflate: bool,
    /// poll, longpoll and sse only: speak HTTP/2 with prior knowledge (h2c),
    /// each client one connection whose requests are its streams
    /// (src/load/http2.rs). Refused with ws, which stays on HTTP/1.1 (and
    /// so with `all`).
    #[arg(long)]
    pub http2: bool,
}

fn parse_rate(raw: &str) -> Result<f64, String> {
    match raw.parse::<f64>() {
        Ok(rate) if rate.is_finite() && rate >= 0.0 => Ok(rate),
        _ => Err(format!(
            "{raw:?} is not a rate (messages per second, 0 or more)"
        )),
    }
}

fn seconds<S: serde::Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_f64(d.as_secs_f64())
}

/// `--technique`: one technique, or all of them (`None`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(into = "String")]
pub struct Choice(Option<Technique>);

impl Choice {
    fn techniques(self) -> Vec<Technique> {
        match self.0 {
            Some(one) => vec![one],
            None => Technique::ALL.to_vec(),
        }
    }

    /// `--technique`'s values: every technique's name, and `all`.
    fn parser() -> impl TypedValueParser<Value = Choice> {
        let names = Technique::ALL.map(Technique::name);
        PossibleValuesParser::new(names.into_iter().chain(["all"]))
            .map(|name| Choice(Technique::named(&name)))
    }
}

impl From<Choice> for String {
    fn from(choice: Choice) -> String {
        choice.0.map_or("all", Technique::name).to_owned()
    }
}

/// What every client of one technique's run shares.
pub struct Run {
    /// Every server; client `i` connects to the `i`-th modulo their number,
    /// and the tool publishes to the first.
    pub addrs: Vec<SocketAddr>,
    pub settings: LoadArgs,
    pub recorder: RefCell<Recorder>,
    pub bytes: Rc<ByteCounts>,
    pub stop: CancellationToken,
    subscribed: RefCell<Vec<bool>>,
}

impl Run {
    /// The server client `index` talks to.
    pub fn server_of(&self, index: usize) -> SocketAddr {
        self.addrs[index % self.addrs.len()]
    }

    /// The server the tool publishes to.
    pub fn publish_server(&self) -> SocketAddr {
        self.addrs[0]
    }

    /// Client `index` is ready: it holds a cursor or an open subscription.
    pub fn subscribed(&self, index: usize) {
        let mut flags = self.subscribed.borrow_mut();
        if !flags[index] {
            flags[index] = true;
            self.recorder.borrow_mut().subscribed += 1;
        }
    }
}

pub type Error = Box<dyn std::error::Error>;

/// Runs the whole load test (or the crossover sweep, with `--rates`, or
/// the capacity search, with `--capacity`) and writes the outputs.
pub fn main(args: LoadArgs) -> Result<(), Error> {
    raise_open_files_limit(if args.capacity {
        args.capacity_max
    } else {
        args.clients
    })?;
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let local = tokio::task::LocalSet::new();
    if args.capacity {
        let capacity = local.block_on(&runtime, capacity::search(args.clone()))?;
        print!("{}", capacity::table(&capacity));
        return capacity::write(&capacity, &args);
    }
    if !args.rates.is_empty() {
        let crossover = local.block_on(&runtime, crossover::sweep(args.clone()))?;
        print!("{}", crossover::markdown(&crossover, None));
        return crossover::write(&crossover, &args);
    }
    let report = local.block_on(&runtime, run_all(args.clone()))?;
    write_outputs(&report, &args)
}

/// Prints one run's tables and writes the files `args` asks for.
fn write_outputs(report: &Report, args: &LoadArgs) -> Result<(), Error> {
    print!("{}", report::table(report));
    println!();
    print!("{}", report::overhead_table(report));
    if let Some(path) = &args.json {
        std::fs::write(path, serde_json::to_string_pretty(report)?)?;
    }
    if let Some(path) = &args.csv {
        report::write_csv(report, path)?;
    }
    if let Some(path) = &args.svg {
        chart::draw(report, path)?;
    }
    if let Some(path) = &args.markdown {
        std::fs::write(path, report::markdown(report))?;
    }
    Ok(())
}

/// Runs the techniques in turn, in the current `LocalSet`.
pub async fn run_all(args: LoadArgs) -> Result<Report, Error> {
    if args.deflate && args.technique.0.is_some_and(|one| one != Technique::ws) {
        // Better than a run whose figures would look compressed and are not.
        return Err("--deflate is for the ws technique (or all, where ws alone uses it)".into());
    }
    if args.http2 && args.technique.0.is_none_or(|one| one == Technique::ws) {
        return Err(
            "--http2 is for poll, longpoll and sse: WebSocket stays on HTTP/1.1 \
                    (actix-http has no RFC 8441)"
                .into(),
        );
    }
    let mut techniques = BTreeMap::new();
    let shared = if args.spawn {
        None
    } else {
        let mut servers = Vec::new();
        for url in &args.url {
            servers.push(Server::at(url).await?);
        }
        Some(servers)
    };
    for technique in args.technique.techniques() {
        // A fresh server per technique, so its memory and CPU are this
        // technique's alone.
        let spawned = match &shared {
            Some(_) => None,
            None => Some(vec![Server::spawn(&args, 1024).await?]),
        };
        let servers = shared
            .as_ref()
            .or(spawned.as_ref())
            .expect("one of the two is set");
        let result = run_technique(technique, &args, servers).await?;
        techniques.insert(technique.name().to_owned(), result);
    }
    Ok(Report {
        settings: serde_json::to_value(&args)?,
        techniques,
    })
}

/// How many clients may be connecting at once when there is no ramp:
/// enough to be quick, few enough not to overflow the listen backlog.
const CONNECTING_AT_ONCE: usize = 256;

/// Busier than this while publishing, the tool, not the server, may be what
/// the figures measure. Not 1.0: under a tool near its limit the two sides
/// take turns at saturating their cores, and the average stays below.
const TOOL_BOUND_SHARE: f64 = 0.85;

/// The servers' (summed over instances) and the tool's usage at one moment.
struct Usages {
    server: Usage,
    tool: Usage,
    /// The tool's cores, when it is pinned to some (see [`CoreTicks`]).
    tool_cores: Option<CoreTicks>,
}

impl Usages {
    async fn now(servers: &[Server]) -> Usages {
        let mut server = Usage::default();
        for one in servers {
            let usage = one.usage().await.unwrap_or_default();
            server.cpu_s += usage.cpu_s;
            server.rss_kb += usage.rss_kb;
            server.rss_peak_kb += usage.rss_peak_kb;
        }
        Usages {
            server,
            tool: crate::process::own().unwrap_or_default(),
            tool_cores: CoreTicks::of_own_cores(),
        }
    }
}

/// What the publishing phase produced.
struct Published {
    ids: Vec<u64>,
    refused: u64,
    /// Publishing alone.
    seconds: f64,
    /// Requests (or connections) made per second while publishing.
    requests_per_s: f64,
    /// Publishing and draining: when the tool was busiest.
    busy_seconds: f64,
    started_us: u64,
}

/// One technique's run: connect every client, publish, drain, measure.
async fn run_technique(
    technique: Technique,
    args: &LoadArgs,
    servers: &[Server],
) -> Result<TechniqueReport, Error> {
    let clock = Instant::now();
    let server = &servers[0];
    let run = Rc::new(Run {
        addrs: servers.iter().map(|s| s.addr).collect(),
        settings: args.clone(),
        recorder: Recorder::new(clock, args.clients),
        bytes: Rc::new(ByteCounts::default()),
        stop: CancellationToken::new(),
        subscribed: RefCell::new(vec![false; args.clients]),
    });
    let before = Usages::now(servers).await;
    let tasks = connect_clients(technique, &run).await;
    if run.recorder.borrow().subscribed < args.clients {
        run.stop.cancel();
        return Err(NotAllConnected {
            technique,
            subscribed: run.recorder.borrow().subscribed,
            clients: args.clients,
        }
        .into());
    }
    tokio::time::sleep(Duration::from_millis(500)).await; // let memory settle
    let idle = Usages::now(servers).await;
    let first_id = server.last_id().await? + 1;
    run.recorder.borrow_mut().start_counting_at(first_id);

    let published = publish_and_drain(technique, &run).await;
    run.stop.cancel();
    for task in tasks {
        let _ = tokio::time::timeout(Duration::from_secs(5), task).await; // a stuck client is abandoned
    }
    let after = Usages::now(servers).await;
    Ok(report_of(&run, server, &published, [before, idle, after]))
}

/// A run whose clients did not all connect: an error for one run, a
/// failing step for the capacity search, which tells it from the others.
#[derive(Debug)]
pub struct NotAllConnected {
    technique: Technique,
    subscribed: usize,
    clients: usize,
}

impl std::fmt::Display for NotAllConnected {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{}: only {} of {} clients could connect within 60 s",
            self.technique.name(),
            self.subscribed,
            self.clients
        )
    }
}

impl std::error::Error for NotAllConnected {}

/// Starts every client (paced by `--ramp`, or a few hundred connecting at a
/// time) and waits up to a minute until all are subscribed.
async fn connect_clients(technique: Technique, run: &Rc<Run>) -> Vec<tokio::task::JoinHandle<()>> {
    let clients = run.settings.clients;
    eprintln!("{}: connecting {clients} clients…", technique.name());
    let mut tasks = Vec::with_capacity(clients);
    let pause = run.settings.ramp.div_f64(clients.max(1) as f64);
    for index in 0..clients {
        let client = clients::client(technique, Rc::clone(run), index);
        tasks.push(tokio::task::spawn_local(client));
        if !pause.is_zero() {
            tokio::time::sleep(pause).await;
        } else {
            wait_until(Duration::from_secs(30), || {
                run.recorder.borrow().subscribed + CONNECTING_AT_ONCE > index
            })
            .await;
        }
    }
    wait_until(Duration::from_secs(60), || {
        run.recorder.borrow().subscribed == clients
    })
    .await;
    tasks
}

/// Publishes for `--duration` with a progress bar, then waits (up to
/// `--drain`) until the last message has reached every client.
async fn publish_and_drain(technique: Technique, run: &Run) -> Published {
    let args = &run.settings;
    let schedule = arrivals::schedule(args.arrivals, args.rate, args.duration, &mut rand::rng());
    let progress = ProgressBar::new(schedule.len() as u64).with_style(
        ProgressStyle::with_template("{prefix:>8} [{bar:30}] {pos}/{len} published, {msg}")
            .expect("a valid template")
            .progress_chars("=> "),
    );
    progress.set_prefix(technique.name());
    let started = Instant::now();
    let started_us = run.recorder.borrow().now_us();
    let requests_before = run.recorder.borrow().requests;
    let outcome = publisher::publish(
        run.publish_server(),
        &run.recorder,
        &schedule,
        args.payload as usize,
        || {
            progress.inc(1);
            progress.set_message(format!("{} delivered", run.recorder.borrow().delivered));
        },
    )
    .await;
    let seconds = started.elapsed().as_secs_f64();
    let requests = run.recorder.borrow().requests - requests_before;
    if let Some(refusal) = &outcome.first_refusal {
        eprintln!(
            "{}: the server refused {} of the tool's publishes (first: {refusal}); \
             if it limits publishing per client, start it with --publish-rate 0",
            technique.name(),
            outcome.refused
        );
    }
    let ids = outcome.ids;
    if let Some(&last) = ids.last() {
        wait_until(args.drain, || run.recorder.borrow().all_reached(last)).await;
    }
    progress.finish_and_clear();
    Published {
        ids,
        refused: outcome.refused,
        seconds,
        requests_per_s: requests as f64 / seconds.max(1e-9),
        busy_seconds: started.elapsed().as_secs_f64(),
        started_us,
    }
}

/// Whether the tool, while publishing and draining for `busy_seconds`,
/// came close to using up its core. Its cores' own busy share when it is
/// pinned (`core_busy`): their softirq work, loopback TCP, is the tool's
/// too. Otherwise its CPU time, which leaves that work out.
fn tool_used_its_core(core_busy: Option<f64>, tool_cpu_s: f64, busy_seconds: f64) -> bool {
    match core_busy {
        Some(busy) => busy > TOOL_BOUND_SHARE,
        None => tool_cpu_s > TOOL_BOUND_SHARE * busy_seconds,
    }
}

/// The figures of one technique's run.
fn report_of(
    run: &Run,
    server: &Server,
    published: &Published,
    [before, idle, after]: [Usages; 3],
) -> TechniqueReport {
    let clients = run.settings.clients;
    let recorder = run.recorder.borrow();
    let delivered = recorder.delivered;
    let (bytes_up, bytes_down) = (run.bytes.up.get(), run.bytes.down.get());
    let (spread_p50, spread_max) = recorder.spread_ms();
    let (last_p50, last_max) = recorder.last_receipt_ms();
    let tool_cpu_s = after.tool.cpu_s - before.tool.cpu_s;
    let tool_core_busy = (idle.tool_cores)
        .zip(after.tool_cores)
        .map(|(idle, after)| after.busy_since(idle));
    let tool_busy_cpu_s = after.tool.cpu_s - idle.tool.cpu_s;
    let per_message = |x: f64| {
        if delivered > 0 {
            x / delivered as f64
        } else {
            0.0
        }
    };
    // From the first scheduled publish to the last delivery anywhere.
    let delivering_s = recorder
        .last_delivery_us
        .saturating_sub(published.started_us) as f64
        / 1e6;
    TechniqueReport {
        clients,
        requests: recorder.requests,
        empty_responses: recorder.empty_responses,
        expected: published.ids.len() as u64 * clients as u64,
        delivered,
        lost: recorder.lost(&published.ids),
        duplicates: recorder.duplicates,
        gaps: recorder.gaps,
        bytes_up,
        bytes_down,
        bytes_per_message: per_message((bytes_up + bytes_down) as f64),
        latency_ms: Latency {
            p50: recorder.latency_ms(0.5),
            p90: recorder.latency_ms(0.9),
            p99: recorder.latency_ms(0.99),
            p999: recorder.latency_ms(0.999),
            max: recorder.latency_max_ms(),
        },
        server_cpu_s: after.server.cpu_s - before.server.cpu_s,
        server_rss_kb: if server.spawned() {
            after.server.rss_peak_kb
        } else {
            after.server.rss_kb.max(idle.server.rss_kb)
        },
        tool_cpu_s,
        connections: recorder.connections,
        errors: recorder.errors,
        published: published.ids.len() as u64,
        publish_refused: published.refused,
        publish_seconds: published.seconds,
        deliveries_per_s: delivered as f64 / delivering_s.max(1e-9),
        burst_spread_ms: Spread {
            p50: spread_p50,
            max: spread_max,
        },
        last_receipt_ms: Spread {
            p50: last_p50,
            max: last_max,
        },
        server_rss_idle_kb: idle.server.rss_kb,
        server_rss_base_kb: before.server.rss_kb,
        server_kb_per_client: idle.server.rss_kb.saturating_sub(before.server.rss_kb) as f64
            / clients.max(1) as f64,
        requests_per_message: per_message(recorder.requests as f64),
        requests_per_s: published.requests_per_s,
        tool_bound: !published.ids.is_empty()
            && tool_used_its_core(tool_core_busy, tool_busy_cpu_s, published.busy_seconds),
        tool_core_busy,
        deflate: (recorder.ws_extension.clone()).map(|extension| report::Deflate {
            extension,
            payload_bytes_inflated: recorder.payload_bytes_inflated,
        }),
        latency_cdf: recorder.latency_cdf(),
    }
}

/// Polls `done` every few milliseconds until it holds or `limit` passes;
/// returns whether it held.
async fn wait_until(limit: Duration, mut done: impl FnMut() -> bool) -> bool {
    let deadline = tokio::time::Instant::now() + limit;
    while !done() {
        if tokio::time::Instant::now() >= deadline {
            return false;
        }
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
    true
}

/// Each client needs a socket (and a spawned server one per client, in its
/// own process, which inherits the limit): raise the soft open-files limit
/// to the hard one; past the hard one if the process may (root, or
/// `CAP_SYS_RESOURCE`); and say so if that is not enough.
fn raise_open_files_limit(clients: usize) -> Result<(), Error> {
    let limit = rlimit::increase_nofile_limit(u64::MAX).unwrap_or(1024);
    let needed = clients as u64 + 128;
    if limit < needed && rlimit::Resource::NOFILE.set(needed, needed).is_err() {
        return Err(format!(
            "{clients} clients need about {needed} open files, but the limit is {limit}; \
             raise it (e.g. `ulimit -n {needed}`) or use fewer clients"
        )
        .into());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_pinned_tool_is_judged_by_its_cores() {
        // 80 % of its own CPU time, but the core was saturated by softirqs.
        assert!(tool_used_its_core(Some(0.95), 8.0, 10.0));
        assert!(!tool_used_its_core(Some(0.5), 8.0, 10.0));
        // Not pinned: its CPU time is all there is to go by.
        assert!(tool_used_its_core(None, 9.5, 10.0));
        assert!(!tool_used_its_core(None, 8.0, 10.0));
    }
}
