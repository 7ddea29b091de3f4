//! File descriptors run out: one client opens more trickling connections
//! than the server has descriptors, and another client keeps being served.
//!
//! The server here is the real `pushlab` binary, started by a shell that
//! lowers its descriptor limit first (soft and hard, so the server cannot
//! raise it back): the test's own process holds both ends of every
//! connection and needs far more. The attacker connects from 127.0.0.2 and
//! the healthy client from 127.0.0.1 — on Linux all of 127.0.0.0/8 is
//! loopback — so the server sees two clients.
//!
//! The attacker's first 400 connects come at once, and it connects again
//! as soon as the server cuts a connection off: without the limits, every
//! descriptor the server has would be held by a trickler at every moment.

use std::net::SocketAddr;
use std::process::Stdio;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::{TcpSocket, TcpStream};
use tokio::process::{Child, Command};
use tokio::sync::Mutex;

use crate::helpers::within;

/// The server's descriptor limit.
const DESCRIPTOR_LIMIT: usize = 256;
/// Trickling connections the attacker keeps open (or tries to): more than
/// the server has descriptors.
const TRICKLERS: usize = 400;
/// Connections one client may hold (`--max-connections-per-ip`).
const PER_CLIENT: usize = 64;
/// `--request-timeout`: how long a trickled head may take.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(1);
/// How long the attack lasts: a few request timeouts, so tricklers are cut
/// off and come back.
const ATTACK: Duration = Duration::from_secs(4);
/// A trickling connection sends one byte this often.
const TRICKLE_EVERY: Duration = Duration::from_millis(200);
/// A cut-off trickler connects again after this pause.
const RECONNECT_AFTER_CUT: Duration = Duration::from_millis(20);
/// A refused trickler connects again after about this pause (spread from
/// half to one and a half times it, so that the refused do not all come
/// back at once and the test's own churn stays affordable).
const RECONNECT_AFTER_REFUSAL: Duration = Duration::from_millis(500);
/// The healthy client asks again this often.
const HEALTHY_EVERY: Duration = Duration::from_millis(50);
/// The slowest answer the healthy client may get, connecting included. It
/// gets most in a few milliseconds (the slowest took 0.7 s on a busy
/// two-core machine); without the per-client limit it got 3 or 4 answers
/// in the whole attack, after 1.3 to 2.2 seconds each, waiting for a
/// trickler to be cut off.
const HEALTHY_SLOWEST: Duration = Duration::from_millis(1500);
/// How much later than the request timeout a trickler may be cut off.
const CUT_OFF_SLACK: Duration = Duration::from_millis(1500);

/// 400 trickling connections from one client against a 256-descriptor
/// server: the client keeps at most 64, the rest are refused at once with
/// a 503, the held ones are cut off at the request timeout, `accept` never
/// fails for want of a descriptor, and a second client gets its answers
/// promptly throughout.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_trickling_more_connections_than_descriptors_does_not_shut_others_out() {
    rlimit::increase_nofile_limit(u64::MAX).unwrap();
    let server = Server::start().await;
    assert_eq!(
        server.descriptor_limit(),
        DESCRIPTOR_LIMIT,
        "the server runs under the low limit"
    );

    let attack = Arc::new(Attack::default());
    let tricklers: Vec<_> = (0..TRICKLERS)
        .map(|i| {
            let pause = RECONNECT_AFTER_REFUSAL * (5 + i as u32 % 11) / 10;
            tokio::spawn(trickle(server.addr, pause, Arc::clone(&attack)))
        })
        .collect();
    let mut healthy = Vec::new();
    let mut most_descriptors = 0;
    let started = Instant::now();
    while started.elapsed() < ATTACK {
        healthy.push(ask_healthy(server.addr).await);
        most_descriptors = most_descriptors.max(server.descriptors_open());
        tokio::time::sleep(HEALTHY_EVERY).await;
    }
    attack.over.store(true, Ordering::Relaxed);
    for trickler in tricklers {
        within("a trickler to stop", trickler).await.unwrap();
    }

    let lifetimes = attack.held_for.lock().await;
    let longest = lifetimes.iter().max().copied().unwrap_or_default();
    healthy.sort();
    let median = healthy[healthy.len() / 2];
    let slowest = healthy[healthy.len() - 1];
    eprintln!(
        "{TRICKLERS} trickling connections against {DESCRIPTOR_LIMIT} descriptors: \
         {} connects, {} refused with 503, {} cut off with 408 after at most {longest:?}; \
         at most {most_descriptors} descriptors open (sampled); healthy client: \
         {} answers, median {median:?}, slowest {slowest:?}",
        attack.connects.load(Ordering::Relaxed),
        attack.refused.load(Ordering::Relaxed),
        lifetimes.len(),
        healthy.len(),
    );
    assert!(
        !server.ran_out.load(Ordering::Relaxed),
        "accept failed for want of a descriptor"
    );
    assert!(healthy.len() >= 10, "the healthy client was served");
    assert!(
        slowest < HEALTHY_SLOWEST,
        "the healthy client waited {slowest:?}"
    );
    assert!(
        attack.refused.load(Ordering::Relaxed) >= (TRICKLERS - PER_CLIENT) as u64,
        "the connections past the client's limit were refused"
    );
    assert!(!lifetimes.is_empty(), "held tricklers were cut off");
    assert!(
        longest < REQUEST_TIMEOUT + CUT_OFF_SLACK,
        "a trickler lived {longest:?}"
    );
}

/// What the attacker saw.
#[derive(Default)]
struct Attack {
    over: AtomicBool,
    connects: AtomicU64,
    refused: AtomicU64,
    /// How long each held connection lived before the server cut it off.
    held_for: Mutex<Vec<Duration>>,
}

/// One attacking connection at a time, over and over until the attack is
/// over: connect from 127.0.0.2, trickle a request head that never ends,
/// and once cut off connect again at once, once refused after `pause`.
async fn trickle(server: SocketAddr, pause: Duration, attack: Arc<Attack>) {
    let head = b"GET /healthz HTTP/1.1\r\nHost: localhost\r\nX-Slow: aaaaaaaaaaaaaaaaaaaaaa";
    while !attack.over.load(Ordering::Relaxed) {
        let Some(mut stream) = connect_from([127, 0, 0, 2], server).await else {
            tokio::time::sleep(pause).await;
            continue;
        };
        attack.connects.fetch_add(1, Ordering::Relaxed);
        let opened = Instant::now();
        let mut answer = Vec::new();
        // Reads before each byte it sends: a refused connection is answered
        // at once, and reading first keeps that answer from being lost to
        // the reset a byte sent after the close would cause.
        for byte in head.iter().cycle() {
            let mut chunk = [0u8; 1024];
            match tokio::time::timeout(TRICKLE_EVERY, stream.read(&mut chunk)).await {
                Err(_) => {}
                Ok(Ok(0) | Err(_)) => break,
                Ok(Ok(n)) => answer.extend_from_slice(&chunk[..n]),
            }
            if attack.over.load(Ordering::Relaxed) || stream.write_all(&[*byte]).await.is_err() {
                break;
            }
        }
        let lived = opened.elapsed();
        if answer.starts_with(b"HTTP/1.1 503") {
            attack.refused.fetch_add(1, Ordering::Relaxed);
            tokio::time::sleep(pause).await;
        } else {
            if answer.starts_with(b"HTTP/1.1 408") {
                attack.held_for.lock().await.push(lived);
            }
            tokio::time::sleep(RECONNECT_AFTER_CUT).await;
        }
    }
}

/// A connection from `local` (port chosen by the system).
async fn connect_from(local: [u8; 4], server: SocketAddr) -> Option<TcpStream> {
    let socket = TcpSocket::new_v4().ok()?;
    socket.bind((local, 0).into()).ok()?;
    tokio::time::timeout(Duration::from_secs(1), socket.connect(server))
        .await
        .ok()?
        .ok()
}

/// The healthy client asks once, on a new connection as a browser opening
/// the page does; returns how long the answer took, connecting included.
async fn ask_healthy(server: SocketAddr) -> Duration {
    let asked = Instant::now();
    let answer = within("the healthy client's answer", async {
        let socket = TcpSocket::new_v4().unwrap();
        socket.bind(([127, 0, 0, 1], 0).into()).unwrap();
        let mut stream = socket.connect(server).await.unwrap();
        stream
            .write_all(b"GET /healthz HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n")
            .await
            .unwrap();
        let mut answer = Vec::new();
        let _ = stream.read_to_end(&mut answer).await;
        answer
    })
    .await;
    let answer = String::from_utf8_lossy(&answer);
    assert!(
        answer.starts_with("HTTP/1.1 200"),
        "healthy client got {answer:?}"
    );
    asked.elapsed()
}

/// The `pushlab` binary under a low descriptor limit, killed when dropped.
struct Server {
    addr: SocketAddr,
    child: Child,
    /// It logged an `accept` that failed for want of a descriptor (EMFILE).
    ran_out: Arc<AtomicBool>,
}

impl Server {
    async fn start() -> Server {
        let limit = DESCRIPTOR_LIMIT.to_string();
        let mut child = Command::new("sh")
            .args(["-c", r#"ulimit -n "$0" && exec "$@""#, &limit])
            .arg(env!("CARGO_BIN_EXE_pushlab"))
            .args(["serve", "--addr", "127.0.0.1:0", "--rate", "0"])
            .args(["--workers", "1"])
            .args(["--max-connections-per-ip", &PER_CLIENT.to_string()])
            .args([
                "--request-timeout",
                &format!("{}ms", REQUEST_TIMEOUT.as_millis()),
            ])
            .env("RUST_LOG", "info")
            .env("NO_COLOR", "1")
            .stdout(Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .expect("start pushlab");
        let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
        let addr = within("pushlab to say where it serves", async {
            loop {
                let line = lines.next_line().await.unwrap().expect("pushlab exited");
                eprintln!("pushlab: {line}");
                if let Some(addr) = line.split("serving on http://").nth(1) {
                    return addr.trim().parse::<SocketAddr>().unwrap();
                }
            }
        })
        .await;
        let ran_out = Arc::new(AtomicBool::new(false));
        let saw_it = Arc::clone(&ran_out);
        tokio::spawn(async move {
            while let Ok(Some(line)) = lines.next_line().await {
                eprintln!("pushlab: {line}");
                if line.contains("os error 24") {
                    saw_it.store(true, Ordering::Relaxed);
                }
            }
        });
        Server {
            addr,
            child,
            ran_out,
        }
    }

    fn pid(&self) -> u32 {
        self.child.id().expect("pushlab is running")
    }

    /// The soft limit on open files the server runs under.
    fn descriptor_limit(&self) -> usize {
        let limits = std::fs::read_to_string(format!("/proc/{}/limits", self.pid())).unwrap();
        let line = limits
            .lines()
            .find(|l| l.starts_with("Max open files"))
            .unwrap();
        line.split_whitespace().nth(3).unwrap().parse().unwrap()
    }

    /// The descriptors the server has open now.
    fn descriptors_open(&self) -> usize {
        std::fs::read_dir(format!("/proc/{}/fd", self.pid())).map_or(0, |entries| entries.count())
    }
}
