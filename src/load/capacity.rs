//! Capacity at a latency target: how many clients of one technique a
//! server serves at a given message rate while keeping a promise about
//! latency (`pushlab load --technique ws --capacity --slo-p99 100 --rate 1
//! --spawn --server-cores 0`).
//!
//! "How many connections can it hold?" alone is the wrong question: an idle
//! connection costs only memory, and a server holds far more of them than
//! it can serve. The question a team asks is "how many users, with news as
//! often as ours, before they notice?": a count, at a rate, under a latency
//! target. Past that count a queue builds faster than it drains and latency
//! climbs steeply, so the answer is a fairly sharp edge, worth finding to
//! within 10 %. With `--server-cores 0` the server has one core, so the
//! answer is per core: the unit a deployment multiplies.
//!
//! The search ([`next`], a pure function of the steps so far): each step
//! is a fresh run with that many clients (with `--spawn`, a fresh server
//! too, so no step inherits the last one's memory or backlog). It starts
//! at `--clients` and doubles while steps pass, up to `--capacity-max`
//! (one machine's load tool tops out near 20,000 clients), then halves the
//! gap between the last pass and the first failure until they are within
//! [`PRECISION`] of each other. After a doubling the gap is as wide as the
//! pass itself, so four halvings always suffice.
//!
//! A step passes when all of these hold ([`judge`]), each for a reason:
//! - p99 ≤ the target. The tail, not the median, because the tail is what
//!   users notice: at one message a second to 1,000 clients, p99 is what
//!   ten of them waited beyond, every second. Latency is receive time
//!   minus the *scheduled* publish time, so a publisher that falls behind
//!   does not hide the delay (no coordinated omission): an overloaded
//!   server shows as latency, not as fewer samples.
//! - Nothing lost. A message that never arrived has no latency, so a
//!   server that fails some clients would otherwise pass on the ones it
//!   served.
//! - Every client connected. A client that could not connect receives
//!   nothing and counts for nothing: the step did not have the clients
//!   its count claims.
//! - No publish refused. A refused message is expected by nobody, so it
//!   would vanish from both loss and latency.
//!
//! A step in which the tool used up its own core (`tool_bound`) is no
//! verdict on the server at all: a tool at its limit measures itself. Its
//! clients poll late and read late, so the server saw less load than the
//! count says, and part of the latency is the tool's own queue. The search
//! stops there: the capacity is *at least* the last passing count, and the
//! report says plainly that the tool, not the server, was the limit.
//!
//! The answer holds for this machine, rate, payload and poll interval, one
//! run per step: near the edge a step may pass or fail by luck, so treat
//! the last digit with suspicion and the order of magnitude with trust.

use std::fmt::Write as _;
use std::time::Instant;

use serde::Serialize;

use super::crossover::duration_at;
use super::report::TechniqueReport;
use super::{Error, LoadArgs, NotAllConnected, run_all};

/// The search stops when the first failure is within this share of the
/// last pass above it: finer than one run's noise is not worth more steps.
pub const PRECISION: f64 = 0.1;

/// How one step went.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Verdict {
    Pass,
    Fail,
    /// The tool used up its core: no verdict on the server.
    ToolBound,
}

/// What the search does after the steps so far.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Next {
    Try(usize),
    Stop(Stop),
}

/// Why the search ended, and where.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(tag = "stopped", rename_all = "snake_case")]
pub enum Stop {
    /// `passed` clients passed and `failed` failed, close enough.
    Bracketed { passed: usize, failed: usize },
    /// The tool was the limit at `at` clients; `passed` passed before it.
    ToolBound { passed: Option<usize>, at: usize },
    /// Every step passed, up to `--capacity-max`.
    Maximum { passed: usize },
    /// The first step, `start` clients, failed already.
    FirstFailed { start: usize },
}

/// The next step, from the steps so far (`(clients, verdict)` in the order
/// they ran): double while passing, then bisect between the largest pass
/// and the smallest failure.
pub fn next(start: usize, max: usize, steps: &[(usize, Verdict)]) -> Next {
    let counts = |wanted: Verdict| steps.iter().filter(move |s| s.1 == wanted).map(|s| s.0);
    let passed = counts(Verdict::Pass).max();
    let failed = counts(Verdict::Fail).min();
    match (steps.last(), passed, failed) {
        (None, _, _) => Next::Try(start.min(max)),
        (Some(&(at, Verdict::ToolBound)), passed, _) => Next::Stop(Stop::ToolBound { passed, at }),
        (Some(_), None, _) => Next::Stop(Stop::FirstFailed { start: steps[0].0 }),
        (Some(_), Some(passed), None) if passed >= max => Next::Stop(Stop::Maximum { passed }),
        (Some(_), Some(passed), None) => Next::Try(passed.saturating_mul(2).min(max)),
        (Some(_), Some(passed), Some(failed)) if close_enough(passed, failed) => {
            Next::Stop(Stop::Bracketed { passed, failed })
        }
        (Some(_), Some(passed), Some(failed)) => Next::Try(passed + (failed - passed) / 2),
    }
}

/// Whether a pass and a failure above it pin the capacity down: within
/// [`PRECISION`], or no count left between them. (A failure at or below
/// the pass, which only noise makes, ends the search too.)
fn close_enough(passed: usize, failed: usize) -> bool {
    let gap = failed.saturating_sub(passed);
    gap <= 1 || gap as f64 <= PRECISION * passed as f64
}

/// One step of the search, as the table and the JSON show it.
#[derive(Clone, Debug, Serialize)]
pub struct Step {
    pub clients: usize,
    pub verdict: Verdict,
    /// Why it did not pass (empty when it did).
    pub reasons: Vec<String>,
    /// What the run measured; none when not every client could connect.
    pub figures: Option<Figures>,
    /// The step's wall time, connecting to draining.
    pub seconds: f64,
}

/// A step's measures.
#[derive(Clone, Debug, Serialize)]
pub struct Figures {
    pub latency_p50_ms: f64,
    pub latency_p99_ms: f64,
    pub latency_max_ms: f64,
    pub delivered: u64,
    pub lost: u64,
    pub publish_refused: u64,
    /// The server's CPU time over the step's wall time: the share of one
    /// core it used, connecting, publishing and draining.
    pub server_cpu_share: f64,
    /// The server's peak resident memory.
    pub server_rss_kb: u64,
    pub tool_bound: bool,
    pub tool_core_busy: Option<f64>,
}

/// A step's verdict and the reasons it did not pass: p99 over the target,
/// losses, refused publishes, and the tool at its limit.
pub fn judge(t: &TechniqueReport, target_ms: f64) -> (Verdict, Vec<String>) {
    let mut reasons = Vec::new();
    if t.latency_ms.p99 > target_ms {
        reasons.push(format!("p99 {:.1} ms > {target_ms} ms", t.latency_ms.p99));
    }
    if t.lost > 0 {
        reasons.push(format!("{} of {} lost", t.lost, t.expected));
    }
    if t.publish_refused > 0 {
        reasons.push(format!("{} publishes refused", t.publish_refused));
    }
    if t.expected == 0 {
        // Nothing was measured, so nothing was shown to be fast enough.
        reasons.push("no message published (a longer --duration)".to_owned());
    }
    if t.tool_bound {
        reasons.insert(0, tool_note(t.tool_core_busy));
        return (Verdict::ToolBound, reasons);
    }
    let verdict = if reasons.is_empty() {
        Verdict::Pass
    } else {
        Verdict::Fail
    };
    (verdict, reasons)
}

fn tool_note(core_busy: Option<f64>) -> String {
    match core_busy {
        Some(busy) => format!("the load tool's core was {:.0} % busy", busy * 100.0),
        None => "the load tool used its whole core".to_owned(),
    }
}

/// `--json`: the search and its answer.
#[derive(Serialize)]
pub struct Capacity {
    pub settings: serde_json::Value,
    pub technique: String,
    pub rate: f64,
    pub slo_p99_ms: f64,
    pub steps: Vec<Step>,
    pub answer: Answer,
}

/// What the search found.
#[derive(Clone, Debug, Serialize)]
pub struct Answer {
    /// The most clients that passed, if any did.
    pub clients: Option<usize>,
    /// The capacity may be higher: the tool or `--capacity-max` ended the
    /// search, not a failing step.
    pub at_least: bool,
    #[serde(flatten)]
    pub stop: Stop,
    /// The passing step's p99 and the server's memory there.
    pub latency_p99_ms: Option<f64>,
    pub server_rss_kb: Option<u64>,
    /// The answer in one sentence.
    pub sentence: String,
}

/// Runs the search for `args.technique` and returns every step and the
/// answer. Errors only when a run cannot happen at all (bad flags, no
/// server); a step whose clients could not all connect is a failing step.
pub async fn search(args: LoadArgs) -> Result<Capacity, Error> {
    let target_ms = check(&args)?;
    let duration = duration_at(args.rate, args.duration);
    let mut steps: Vec<Step> = Vec::new();
    let stop = loop {
        let history: Vec<_> = steps.iter().map(|s| (s.clients, s.verdict)).collect();
        match next(args.clients, args.capacity_max, &history) {
            Next::Stop(stop) => break stop,
            Next::Try(clients) => {
                eprintln!("== capacity step {}: {clients} clients", steps.len() + 1);
                let at_count = LoadArgs {
                    clients,
                    duration,
                    ..args.clone()
                };
                steps.push(step(at_count, target_ms).await?);
            }
        }
    };
    let answer = answer(&args, target_ms, &steps, stop);
    Ok(Capacity {
        settings: serde_json::to_value(&args)?,
        technique: String::from(args.technique),
        rate: args.rate,
        slo_p99_ms: target_ms,
        steps,
        answer,
    })
}

/// The flags a search needs: one technique, a target, messages to measure.
fn check(args: &LoadArgs) -> Result<f64, Error> {
    if args.technique.0.is_none() {
        return Err(
            "--capacity ramps one technique: choose --technique poll, longpoll, sse \
                    or ws, not all"
                .into(),
        );
    }
    let target_ms = match args.slo_p99 {
        Some(ms) if ms > 0.0 => ms,
        _ => return Err("--capacity needs --slo-p99 <ms>, a latency target above 0".into()),
    };
    if args.rate <= 0.0 {
        return Err("--capacity measures latency, so it needs messages: --rate above 0".into());
    }
    if args.clients == 0 || args.capacity_max < args.clients {
        return Err(format!(
            "--capacity starts at --clients ({}) and stops at --capacity-max ({}): \
             the start must be at least 1 and at most the maximum",
            args.clients, args.capacity_max
        )
        .into());
    }
    Ok(target_ms)
}

/// One step: a fresh run with `args.clients` clients, judged.
async fn step(args: LoadArgs, target_ms: f64) -> Result<Step, Error> {
    let clients = args.clients;
    let started = Instant::now();
    let outcome = run_all(args).await;
    let seconds = started.elapsed().as_secs_f64();
    let report = match outcome {
        Ok(report) => report,
        Err(error) if error.is::<NotAllConnected>() => {
            return Ok(Step {
                clients,
                verdict: Verdict::Fail,
                reasons: vec![error.to_string()],
                figures: None,
                seconds,
            });
        }
        Err(error) => return Err(error),
    };
    let t = (report.techniques.into_values().next()).ok_or("the run measured no technique")?;
    let (verdict, reasons) = judge(&t, target_ms);
    Ok(Step {
        clients,
        verdict,
        reasons,
        figures: Some(Figures {
            latency_p50_ms: t.latency_ms.p50,
            latency_p99_ms: t.latency_ms.p99,
            latency_max_ms: t.latency_ms.max,
            delivered: t.delivered,
            lost: t.lost,
            publish_refused: t.publish_refused,
            server_cpu_share: t.server_cpu_s / seconds.max(1e-9),
            server_rss_kb: t.server_rss_kb,
            tool_bound: t.tool_bound,
            tool_core_busy: t.tool_core_busy,
        }),
        seconds,
    })
}

/// The answer from where the search stopped.
fn answer(args: &LoadArgs, target_ms: f64, steps: &[Step], stop: Stop) -> Answer {
    let (clients, at_least) = match stop {
        Stop::Bracketed { passed, .. } => (Some(passed), false),
        Stop::ToolBound { passed, .. } => (passed, passed.is_some()),
        Stop::Maximum { passed } => (Some(passed), true),
        Stop::FirstFailed { .. } => (None, false),
    };
    let at = |count: usize| steps.iter().find(|s| s.clients == count);
    let figures = clients.and_then(at).and_then(|s| s.figures.as_ref());
    let reasons = |count: usize| at(count).map_or(String::new(), |s| s.reasons.join("; "));
    let promise = format!(
        "{} at {} msg/s with p99 ≤ {target_ms} ms",
        on_what(args),
        args.rate
    );
    let memory = figures.map_or(String::new(), |f| {
        format!("server RSS {}", megabytes(f.server_rss_kb))
    });
    let sentence = match (stop, clients) {
        (Stop::Bracketed { failed, .. }, Some(n)) => format!(
            "{n} clients {promise} ({memory}; {failed} failed: {})",
            reasons(failed)
        ),
        (Stop::ToolBound { at, .. }, Some(n)) => format!(
            "at least {n} clients {promise} ({memory}): the tool was the limit at {at} \
             clients ({}), not the server",
            reasons(at)
        ),
        (Stop::ToolBound { at, .. }, None) => format!(
            "unknown: the tool was the limit already at {at} clients ({}), before any step \
             passed; give it a quiet core of its own or start lower",
            reasons(at)
        ),
        (Stop::Maximum { .. }, Some(n)) => {
            format!("at least {n} clients {promise} ({memory}): the maximum tried (--capacity-max)")
        }
        (_, _) => {
            let start = steps.first().map_or(args.clients, |s| s.clients);
            format!(
                "none: even {start} clients failed ({}); start lower with --clients",
                reasons(start)
            )
        }
    };
    Answer {
        clients,
        at_least,
        stop,
        latency_p99_ms: figures.map(|f| f.latency_p99_ms),
        server_rss_kb: figures.map(|f| f.server_rss_kb),
        sentence,
    }
}

/// What the server ran on: one core when pinned to one.
fn on_what(args: &LoadArgs) -> String {
    match &args.server_cores {
        Some(cores) if cores.trim().parse::<usize>().is_ok() => "on one core".to_owned(),
        Some(cores) => format!("on cores {cores}"),
        None => "on the server".to_owned(),
    }
}

/// KiB, as `/proc` counts them, in MB to one decimal.
fn megabytes(kb: u64) -> String {
    format!("{:.1} MB", kb as f64 * 1024.0 / 1e6)
}

/// The table printed at the end: one row per step, then the answer.
pub fn table(capacity: &Capacity) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "{:>8} {:>10} {:>10} {:>8} {:>9} {:>10} {:>10}  verdict",
        "clients", "p99 ms", "p50 ms", "lost", "srv CPU", "srv RSS", "tool-bound"
    );
    for step in &capacity.steps {
        let cells = cells(step);
        let _ = writeln!(
            out,
            "{:>8} {:>10} {:>10} {:>8} {:>9} {:>10} {:>10}  {}",
            step.clients, cells[0], cells[1], cells[2], cells[3], cells[4], cells[5], cells[6]
        );
    }
    let _ = writeln!(out, "capacity: {}", capacity.answer.sentence);
    out
}

/// The steps as a Markdown table under a heading, then the answer.
pub fn markdown(capacity: &Capacity) -> String {
    let mut out = format!(
        "### {} at {} msg/s, p99 ≤ {} ms\n\n\
         | clients | p99 ms | p50 ms | lost | server CPU | server RSS | tool-bound | verdict |\n\
         |---:|---:|---:|---:|---:|---:|---|---|\n",
        capacity.technique, capacity.rate, capacity.slo_p99_ms
    );
    for step in &capacity.steps {
        let _ = writeln!(out, "| {} | {} |", step.clients, cells(step).join(" | "));
    }
    let _ = writeln!(out, "\n**Capacity:** {}", capacity.answer.sentence);
    out
}

/// A step's cells after its client count: p99, p50, lost, server CPU,
/// server RSS, tool-bound, verdict.
fn cells(step: &Step) -> [String; 7] {
    let verdict = match step.verdict {
        Verdict::Pass => "pass".to_owned(),
        Verdict::Fail => format!("fail: {}", step.reasons.join("; ")),
        Verdict::ToolBound => format!("no verdict: {}", step.reasons.join("; ")),
    };
    match &step.figures {
        Some(f) => [
            format!("{:.1}", f.latency_p99_ms),
            format!("{:.1}", f.latency_p50_ms),
            f.lost.to_string(),
            format!("{:.0} %", f.server_cpu_share * 100.0),
            megabytes(f.server_rss_kb),
            if f.tool_bound { "yes" } else { "no" }.to_owned(),
            verdict,
        ],
        None => {
            let none = || "–".to_owned();
            [none(), none(), none(), none(), none(), none(), verdict]
        }
    }
}

/// Writes what `args` asks for: JSON and Markdown.
pub fn write(capacity: &Capacity, args: &LoadArgs) -> Result<(), Error> {
    if let Some(path) = &args.json {
        std::fs::write(path, serde_json::to_string_pretty(capacity)?)?;
    }
    if let Some(path) = &args.markdown {
        std::fs::write(path, markdown(capacity))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use Verdict::{Fail, Pass, ToolBound};

    #[test]
    fn it_starts_at_the_start_and_doubles_while_passing() {
        assert_eq!(next(100, 20_000, &[]), Next::Try(100));
        assert_eq!(next(100, 20_000, &[(100, Pass)]), Next::Try(200));
        assert_eq!(
            next(100, 20_000, &[(100, Pass), (200, Pass)]),
            Next::Try(400)
        );
    }

    #[test]
    fn after_a_failure_it_bisects_until_within_ten_percent() {
        let mut steps = vec![(400, Pass), (800, Pass), (1600, Fail)];
        assert_eq!(next(400, 20_000, &steps), Next::Try(1200));
        steps.push((1200, Pass));
        assert_eq!(next(400, 20_000, &steps), Next::Try(1400));
        steps.push((1400, Fail));
        assert_eq!(next(400, 20_000, &steps), Next::Try(1300));
        steps.push((1300, Pass));
        assert_eq!(
            next(400, 20_000, &steps),
            Next::Stop(Stop::Bracketed {
                passed: 1300,
                failed: 1400
            })
        );
    }

    #[test]
    fn four_halvings_always_suffice_after_a_doubling() {
        // The worst case: every bisection step fails, so the pass never moves.
        let mut steps = vec![(1000, Pass), (2000, Fail)];
        let mut bisections = 0;
        while let Next::Try(clients) = next(1000, 20_000, &steps) {
            steps.push((clients, Fail));
            bisections += 1;
        }
        assert!(bisections <= 4, "{bisections} bisections: {steps:?}");
    }

    #[test]
    fn a_tool_bound_step_stops_the_search_at_the_last_pass() {
        let steps = [(100, Pass), (200, Pass), (400, ToolBound)];
        assert_eq!(
            next(100, 20_000, &steps),
            Next::Stop(Stop::ToolBound {
                passed: Some(200),
                at: 400
            })
        );
        // Also while bisecting, and when nothing passed yet.
        let bisecting = [(100, Pass), (200, Fail), (150, ToolBound)];
        assert!(matches!(
            next(100, 20_000, &bisecting),
            Next::Stop(Stop::ToolBound {
                passed: Some(100),
                at: 150
            })
        ));
        assert_eq!(
            next(100, 20_000, &[(100, ToolBound)]),
            Next::Stop(Stop::ToolBound {
                passed: None,
                at: 100
            })
        );
    }

    #[test]
    fn the_maximum_is_tried_once_and_ends_the_search() {
        assert_eq!(
            next(5000, 12_000, &[(5000, Pass), (10_000, Pass)]),
            Next::Try(12_000)
        );
        assert_eq!(
            next(
                5000,
                12_000,
                &[(5000, Pass), (10_000, Pass), (12_000, Pass)]
            ),
            Next::Stop(Stop::Maximum { passed: 12_000 })
        );
    }

    #[test]
    fn a_failing_first_step_ends_the_search_with_none() {
        assert_eq!(
            next(500, 20_000, &[(500, Fail)]),
            Next::Stop(Stop::FirstFailed { start: 500 })
        );
    }

    #[test]
    fn a_step_passes_only_fast_complete_and_unrefused() {
        let fine = TechniqueReport {
            expected: 1000,
            delivered: 1000,
            latency_ms: super::super::report::Latency {
                p99: 80.0,
                ..Default::default()
            },
            ..Default::default()
        };
        assert_eq!(judge(&fine, 100.0), (Pass, vec![]));
        let slow_and_lossy = TechniqueReport {
            lost: 3,
            publish_refused: 2,
            latency_ms: super::super::report::Latency {
                p99: 150.0,
                ..Default::default()
            },
            ..fine.clone()
        };
        let (verdict, reasons) = judge(&slow_and_lossy, 100.0);
        assert_eq!(verdict, Fail);
        assert_eq!(
            reasons,
            [
                "p99 150.0 ms > 100 ms",
                "3 of 1000 lost",
                "2 publishes refused"
            ]
        );
        let busy_tool = TechniqueReport {
            tool_bound: true,
            tool_core_busy: Some(0.97),
            ..fine
        };
        assert_eq!(
            judge(&busy_tool, 100.0),
            (
                ToolBound,
                vec!["the load tool's core was 97 % busy".to_owned()]
            )
        );
    }
}
