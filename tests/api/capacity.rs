//! `pushlab load --capacity`: a real search against a real server ends in
//! an answer with every step it took, and the flags it cannot work without
//! are refused with a message that says why.

use clap::Parser;
use pushlab::load::LoadArgs;
use pushlab::load::capacity;

use crate::helpers::*;

#[derive(Parser)]
struct Cli {
    #[command(flatten)]
    load: LoadArgs,
}

fn parse(args: &[&str]) -> Result<LoadArgs, clap::Error> {
    Cli::try_parse_from([&["load"], args].concat()).map(|cli| cli.load)
}

/// A search from 4 clients with a generous target passes at 4, 8 and the
/// maximum 16, and its JSON holds those steps and an "at least 16" answer.
/// The tool runs as `pushlab load`, a process of its own: it judges whether
/// it was the limit by its own CPU time, which in the test binary would be
/// every test's.
#[tokio::test]
async fn a_capacity_search_writes_its_steps_and_answer() {
    let app = spawn_app(test_config());
    let json = std::env::temp_dir().join(format!("pushlab-capacity-{}.json", std::process::id()));
    let search = tokio::process::Command::new(env!("CARGO_BIN_EXE_pushlab"))
        .args(["load", "--url", &app.url(""), "--technique", "sse"])
        .args(["--capacity", "--slo-p99", "10000"]) // generous: the point is the search
        .args(["--clients", "4", "--capacity-max", "16"])
        .args(["--rate", "5", "--duration", "2s", "--json"])
        .arg(&json)
        .stdout(std::process::Stdio::null())
        .kill_on_drop(true)
        .status();
    let status = tokio::time::timeout(std::time::Duration::from_secs(90), search)
        .await
        .expect("the search finishes within 90 s")
        .expect("pushlab load runs");
    assert!(status.success(), "pushlab load --capacity: {status}");
    let written = std::fs::read_to_string(&json).expect("the JSON file exists");
    let _ = std::fs::remove_file(&json); // a leftover in the temp dir is harmless
    let value: serde_json::Value = serde_json::from_str(&written).expect("valid JSON");

    let clients: Vec<u64> = value["steps"]
        .as_array()
        .expect("steps")
        .iter()
        .map(|step| step["clients"].as_u64().expect("a count"))
        .collect();
    assert_eq!(clients, [4, 8, 16], "{written}");
    for step in value["steps"].as_array().into_iter().flatten() {
        assert_eq!(step["verdict"], "pass", "{step}");
        assert_eq!(step["figures"]["lost"], 0, "{step}");
    }
    let answer = &value["answer"];
    assert_eq!(answer["stopped"], "maximum", "{answer}");
    assert_eq!(answer["clients"], 16);
    assert_eq!(answer["at_least"], true);
    let sentence = answer["sentence"].as_str().expect("a sentence");
    assert!(
        sentence.starts_with("at least 16 clients on the server at 5 msg/s with p99 ≤ 10000 ms"),
        "{sentence}"
    );
}

/// `--capacity` ramps one technique; with `all` it stops before any run
/// and says what to choose instead.
#[tokio::test]
async fn a_capacity_search_of_all_techniques_is_refused() {
    let args = parse(&["--technique", "all", "--capacity", "--slo-p99", "100"])
        .expect("the flags themselves parse");
    let local = tokio::task::LocalSet::new();
    let error = local
        .run_until(capacity::search(args))
        .await
        .err()
        .expect("refused");
    assert_eq!(
        error.to_string(),
        "--capacity ramps one technique: choose --technique poll, longpoll, sse or ws, not all"
    );
}

/// A search needs a target and a target needs a search; a sweep of rates
/// is another mode.
#[test]
fn capacity_and_its_target_come_together() {
    let without_target = parse(&["--technique", "ws", "--capacity"]).err();
    assert!(
        without_target.is_some_and(|e| e.to_string().contains("--slo-p99")),
        "--capacity without --slo-p99 is refused, naming it"
    );
    let without_search = parse(&["--technique", "ws", "--slo-p99", "100"]).err();
    assert!(
        without_search.is_some_and(|e| e.to_string().contains("--capacity")),
        "--slo-p99 without --capacity is refused, naming it"
    );
    let with_rates = parse(&["--capacity", "--slo-p99", "100", "--rates", "1,10"]);
    assert!(with_rates.is_err(), "--capacity with --rates is refused");
}
