//! The classroom guide (`docs/08-classroom-guide.md`) as a class meets it.
//!
//! Its one file is served twice: as the teacher copy at
//! `/docs/08-classroom-guide` (every answer, every teacher's note) and as
//! the student handout at `/docs/handout` (neither). The first tests check
//! that split over HTTP against the real server. The last plays the guide in
//! headless Chromium: one teacher page and several students against the
//! real `pushlab` binary, started with the guide's own command line and
//! restarted with Ctrl-C (SIGINT) as the guide says, step by step
//! (`tests/browser/guide.test.mjs`). Another renders both copies for print
//! and saves what paper would show in `target/browser/print-*.png`.
//!
//! Without Chromium or `tests/browser/node_modules` the browser tests say
//! "skipped" and pass — unless `CI` is set, where a skipped test would be a
//! silent hole, so they fail.

#[allow(dead_code)] // each test crate uses a part of it
mod support;

use std::io::{BufRead, BufReader, Write};
use std::net::{Ipv4Addr, SocketAddr, TcpListener};
use std::path::Path;
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use support::browser::{assert_passed, browser_ready, run_script};
use support::{Server, wait_bounded, wait_until_listening};

const GUIDE: &str = include_str!("../docs/08-classroom-guide.md");
const TEACHER_COPY: &str = "/docs/08-classroom-guide";
const HANDOUT: &str = "/docs/handout";
/// How an answer starts in the guide's Markdown.
const ANSWER: &str = "> **Answer**";
/// What the teacher copy's HTML makes of it.
const ANSWER_HTML: &str = "<blockquote class=\"answer\">";
/// The whole guide in the browser; every step inside has its own bound.
/// About 120–175 s with its nine steps; once 232 s on a machine busy with
/// other builds on two cores.
const PLAY_TIMEOUT: Duration = Duration::from_secs(300);
const PRINT_TIMEOUT: Duration = Duration::from_secs(60);
/// Starting or stopping the server binary.
const SERVER_TIMEOUT: Duration = Duration::from_secs(20);
/// What the browser test prints to have the server restarted, and what it
/// reads back on its standard input once the server answers again (with the
/// new teacher URL: the key is new at every start).
const RESTART_ASKED: &str = "guide: restart the server";
const RESTARTED: &str = "restarted";

/// One browser test at a time: each starts a Chromium, and the guide's
/// timings are checked on a machine that may have two cores.
static ONE_BROWSER: Mutex<()> = Mutex::new(());

// ---- the two copies, over HTTP ----

/// GETs `path` from `server` and returns its text, expecting a 200 HTML page.
async fn page(server: &Server, path: &str) -> String {
    let url = format!("http://{}{path}", server.addr);
    let response = tokio::time::timeout(Duration::from_secs(10), reqwest::get(&url))
        .await
        .unwrap_or_else(|_| panic!("{url} did not answer in time"))
        .unwrap_or_else(|e| panic!("{url}: {e}"));
    assert_eq!(response.status(), 200, "{url}");
    let content_type = response.headers()["content-type"]
        .to_str()
        .unwrap()
        .to_owned();
    assert!(
        content_type.starts_with("text/html"),
        "{url}: {content_type}"
    );
    response.text().await.unwrap()
}

fn start_server() -> Server {
    Server::start(pushlab::Config {
        rate: 0.0,
        workers: Some(1),
        ..pushlab::Config::default()
    })
}

/// An HTML page's text without its tags, entities decoded, without spaces.
fn text_of(html: &str) -> String {
    let mut text = String::with_capacity(html.len());
    let mut in_tag = false;
    for c in html.chars() {
        match c {
            '<' => in_tag = true,
            '>' if in_tag => {
                in_tag = false;
                text.push(' ');
            }
            c if !in_tag => text.push(c),
            _ => {}
        }
    }
    let text = text
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&quot;", "\"")
        .replace("&#39;", "'")
        .replace("&amp;", "&");
    squeezed(&text)
}

/// Text without any whitespace, so that where tags were makes no difference.
fn squeezed(text: &str) -> String {
    text.chars().filter(|c| !c.is_whitespace()).collect()
}

/// The first words of every answer in the guide, as plain text: the
/// answer's first line after `**Answer**:`, emphasis and code marks taken
/// out, up to its first link or bracket.
fn answer_openings() -> Vec<String> {
    GUIDE
        .lines()
        .filter_map(|line| line.strip_prefix(ANSWER))
        .map(|rest| {
            let rest = rest.trim_start_matches("**").trim_start_matches(':');
            let plain: String = rest
                .chars()
                .filter(|c| !"`*".contains(*c))
                .take_while(|c| !"[(_".contains(*c))
                .collect();
            plain.split_whitespace().collect::<Vec<_>>().join(" ")
        })
        .collect()
}

/// The headings inside the guide's teacher-only notes.
fn teacher_only_headings() -> Vec<String> {
    let mut inside = false;
    let mut headings = Vec::new();
    for line in GUIDE.lines() {
        match line.trim() {
            "<!-- teacher -->" => inside = true,
            "<!-- /teacher -->" => inside = false,
            heading if inside && heading.starts_with("## ") => {
                headings.push(heading.trim_start_matches("## ").to_owned());
            }
            _ => {}
        }
    }
    headings
}

/// Every question the guide asks — a *Predict* or *Ask*, an exercise — has
/// an answer below it before the next question or heading.
#[test]
fn every_question_in_the_guide_has_its_answer() {
    let mut open: Option<&str> = None;
    let mut questions = 0;
    for line in GUIDE.lines() {
        let is_question = line.starts_with("*Predict*")
            || line.starts_with("*Ask*")
            || (line.starts_with("**")
                && line[2..]
                    .split_once(".**")
                    .is_some_and(|(n, _)| n.parse::<u32>().is_ok()));
        if is_question || line.starts_with('#') {
            assert!(open.is_none(), "no answer to: {}", open.unwrap_or_default());
        }
        if is_question {
            open = Some(line);
            questions += 1;
        }
        if line.starts_with(ANSWER) {
            open = None;
        }
    }
    assert!(open.is_none(), "no answer to: {}", open.unwrap_or_default());
    assert!(questions >= 20, "only {questions} questions found");
}

/// The timed steps add up to 40 minutes, one after the other from 0, which
/// leaves 5 of the lesson's 45 as slack; each heading's minutes match its
/// span ("(7 minutes, 4–11)").
#[test]
fn the_steps_fill_forty_of_the_forty_five_minutes() {
    let mut end = 0;
    let mut steps = 0;
    for line in GUIDE.lines().filter(|l| l.starts_with("### Step ")) {
        let timing = line
            .split_once('(')
            .and_then(|(_, rest)| rest.split_once(')'))
            .map(|(inside, _)| inside)
            .unwrap_or_else(|| panic!("no (N minutes, A–B) in {line:?}"));
        let (minutes, span) = timing
            .split_once(" minutes, ")
            .unwrap_or_else(|| panic!("{line:?}"));
        let (from, to) = span.split_once('–').unwrap_or_else(|| panic!("{line:?}"));
        let [minutes, from, to]: [u32; 3] =
            [minutes, from, to].map(|n| n.trim().parse().unwrap_or_else(|_| panic!("{line:?}")));
        assert_eq!(
            from, end,
            "{line:?} does not start where the step before ended"
        );
        assert_eq!(to - from, minutes, "{line:?}");
        end = to;
        steps += 1;
    }
    assert!(steps >= 8, "only {steps} steps");
    assert_eq!(end, 40, "the timed steps take {end} minutes, not 40");
    assert!(GUIDE.contains("45-minute lesson") && GUIDE.contains("5 minutes are slack"));
}

/// The handout asks every question the teacher copy asks, leaves room to
/// write under each, and holds no answer and no teacher's note; the teacher
/// copy has them all.
#[tokio::test]
async fn the_handout_has_no_answers_and_the_teacher_copy_has_them() {
    let server = start_server();
    let teacher = page(&server, TEACHER_COPY).await;
    let handout = page(&server, HANDOUT).await;
    server.stop();

    let answers = GUIDE.lines().filter(|l| l.starts_with(ANSWER)).count();
    assert!(answers >= 20, "only {answers} answers in the guide");
    assert_eq!(
        teacher.matches(ANSWER_HTML).count(),
        answers,
        "teacher copy"
    );
    assert_eq!(handout.matches(ANSWER_HTML).count(), 0, "handout");
    assert_eq!(
        handout.matches("<div class=\"write-in\">").count(),
        answers,
        "room to write"
    );
    assert!(
        !handout.contains("<strong>Answer"),
        "an answer's label in the handout"
    );

    let (teacher_text, handout_text) = (text_of(&teacher), text_of(&handout));
    for opening in answer_openings() {
        assert!(
            opening.len() >= 10,
            "answer opening too short to look for: {opening:?}"
        );
        let words = squeezed(&opening);
        assert!(
            teacher_text.contains(&words),
            "teacher copy lacks the answer {opening:?}"
        );
        assert!(
            !handout_text.contains(&words),
            "handout shows the answer {opening:?}"
        );
    }
    let notes = teacher_only_headings();
    assert!(notes.iter().any(|h| h == "The day before"), "{notes:?}");
    for heading in &notes {
        assert!(
            teacher_text.contains(&squeezed(heading)),
            "teacher copy lacks {heading:?}"
        );
        assert!(
            !handout_text.contains(&squeezed(heading)),
            "handout shows {heading:?}"
        );
    }
    assert!(teacher.contains("<div class=\"teacher-only\">"));
    assert!(!handout.contains("teacher-only"));

    for question in ["<em>Predict</em>", "<em>Ask</em>", "<strong>8.</strong>"] {
        let asked = teacher.matches(question).count();
        assert!(asked > 0, "{question}");
        assert_eq!(
            handout.matches(question).count(),
            asked,
            "{question} in the handout"
        );
    }
    assert!(
        handout.contains("<title>Classroom guide: student handout"),
        "handout title"
    );
}

/// Each copy says which it is and links to the other; every docs page links
/// to the handout; the stylesheet has rules for paper.
#[tokio::test]
async fn each_copy_links_to_the_other_and_the_docs_print() {
    let server = start_server();
    let teacher = page(&server, TEACHER_COPY).await;
    let handout = page(&server, HANDOUT).await;
    let index = page(&server, "/docs").await;
    let url = format!("http://{}/static/docs.css", server.addr);
    let css = reqwest::get(&url).await.unwrap().text().await.unwrap();
    server.stop();

    assert!(teacher.contains("data-copy=\"teacher\""));
    assert!(teacher.contains("href=\"/docs/handout\""));
    assert!(handout.contains("data-copy=\"handout\""));
    assert!(handout.contains("href=\"/docs/08-classroom-guide\""));
    assert!(
        index.contains("href=\"/docs/handout\""),
        "the index links the handout"
    );
    for copy in [&teacher, &handout] {
        assert!(copy.contains("href=\"/static/docs.css\""));
        assert!(!copy.contains("<script"));
        assert!(!copy.contains("style=\""));
    }
    assert!(css.contains("@media print"), "a print stylesheet");
    assert!(css.contains("@page"), "page margins for paper");
}

// ---- the guide in a real browser ----

/// The guide, step by step, in headless Chromium: a teacher page and
/// students on other origins, against the real binary on 0.0.0.0, which
/// the test restarts with Ctrl-C when the guide does.
#[test]
fn the_guide_plays_in_a_real_browser() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    if !browser_ready(root) {
        return;
    }
    let _alone = ONE_BROWSER
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner());
    let server = Arc::new(Mutex::new(Pushlab::start(free_port())));
    let teacher_url = server.lock().unwrap().teacher_url.clone();
    let mut node = Command::new("node")
        .arg(root.join("tests/browser/guide.test.mjs"))
        .arg("play")
        .arg(teacher_url)
        .arg(root.join("docs/08-classroom-guide.md"))
        .arg(root.join("target/browser"))
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("start node");
    let stdin = node.stdin.take().expect("piped stdin");
    let stdout = node.stdout.take().expect("piped stdout");
    let restarter = {
        let server = Arc::clone(&server);
        std::thread::spawn(move || serve_restarts(BufReader::new(stdout), stdin, &server))
    };
    let status = wait_bounded(node, PLAY_TIMEOUT);
    let _ = restarter.join(); // ends with node's output
    server.lock().unwrap().stop();
    assert_eq!(
        status,
        Some(0),
        "the guide's browser test failed (its output is above)"
    );
}

/// The teacher copy and the handout as they print: no navigation, black on
/// white, nothing wider than A4's or Letter's printable width. Saves
/// `target/browser/print-teacher.png` and `print-handout.png`.
#[test]
fn both_copies_print_cleanly() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    if !browser_ready(root) {
        return;
    }
    let _alone = ONE_BROWSER
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner());
    let server = start_server();
    let status = run_script(
        root,
        "guide.test.mjs",
        &[
            &"print",
            &format!("http://{}/", server.addr),
            &root.join("target/browser"),
        ],
        PRINT_TIMEOUT,
    );
    server.stop();
    assert_passed(status);
}

/// Passes the browser test's output on, and restarts the server whenever
/// it asks, answering on its standard input once the server is back.
fn serve_restarts(
    output: BufReader<std::process::ChildStdout>,
    mut input: ChildStdin,
    server: &Mutex<Pushlab>,
) {
    for line in output.lines() {
        let Ok(line) = line else { break };
        eprintln!("{line}");
        if line.trim() == RESTART_ASKED {
            let mut server = server.lock().unwrap();
            server.restart();
            // The browser test may have failed meanwhile and be gone.
            let _ = writeln!(input, "{RESTARTED} {}", server.teacher_url);
        }
    }
}

/// The `pushlab` binary as the guide starts it: `--addr 0.0.0.0:PORT`,
/// everything else at its default (the generator at one message a second).
struct Pushlab {
    port: u16,
    /// The teacher URL it printed, with the key (new at every start).
    teacher_url: String,
    process: Option<Child>,
}

impl Pushlab {
    fn start(port: u16) -> Pushlab {
        let mut process = Command::new(env!("CARGO_BIN_EXE_pushlab"))
            .arg("--addr")
            .arg(format!("0.0.0.0:{port}"))
            .stdout(Stdio::piped())
            .spawn()
            .expect("start pushlab");
        let output = BufReader::new(process.stdout.take().expect("piped stdout"));
        let (found, teacher_url) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            for line in output.lines().map_while(Result::ok) {
                eprintln!("pushlab: {line}");
                if let Some(url) = teacher_url_in(&line) {
                    let _ = found.send(url); // only the first is awaited
                }
            }
        });
        let teacher_url = teacher_url
            .recv_timeout(SERVER_TIMEOUT)
            .expect("pushlab printed no teacher URL");
        wait_until_listening(
            SocketAddr::from((Ipv4Addr::LOCALHOST, port)),
            SERVER_TIMEOUT,
        );
        Pushlab {
            port,
            teacher_url,
            process: Some(process),
        }
    }

    /// Ctrl-C, as the teacher presses it, then the same command again.
    fn restart(&mut self) {
        self.stop();
        *self = Pushlab::start(self.port);
    }

    fn stop(&mut self) {
        let Some(process) = self.process.take() else {
            return;
        };
        let interrupted = Command::new("kill")
            .arg("-INT")
            .arg(process.id().to_string())
            .status()
            .is_ok_and(|s| s.success());
        assert!(interrupted, "could not send SIGINT to pushlab");
        let code = wait_bounded(process, SERVER_TIMEOUT);
        assert_eq!(code, Some(0), "pushlab did not stop cleanly on Ctrl-C");
    }
}

/// The teacher URL in a line of pushlab's log: `http://…/?key=…`.
fn teacher_url_in(line: &str) -> Option<String> {
    let start = line.find("http://")?;
    let url: String = line[start..]
        .chars()
        .take_while(|c| !c.is_whitespace() && !c.is_control())
        .collect();
    url.contains("?key=").then_some(url)
}

impl Drop for Pushlab {
    fn drop(&mut self) {
        if let Some(mut process) = self.process.take() {
            let _ = process.kill(); // a failed test must not leave it running
            let _ = process.wait();
        }
    }
}

/// A port free on every interface right now.
fn free_port() -> u16 {
    let listener = TcpListener::bind((Ipv4Addr::UNSPECIFIED, 0)).expect("bind a free port");
    listener
        .local_addr()
        .expect("a bound listener has an address")
        .port()
}
