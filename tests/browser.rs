//! The page in a real browser, as part of `cargo test`: starts the real
//! server on 127.0.0.1:0 with the generator on, and runs
//! `tests/browser/page.test.mjs` (Node + playwright-core driving Debian's
//! headless Chromium) against it. The screenshot lands in
//! `target/browser/page.png`.
//!
//! Without Chromium or `tests/browser/node_modules` (`npm ci --prefix
//! tests/browser`) the test says "skipped" and passes — unless `CI` is set,
//! where a skipped browser test would be a silent hole, so it fails.

use std::io::Write;
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use tokio::sync::oneshot;

const CHROMIUM: &str = "/usr/bin/chromium";
/// The whole browser run; every step inside has its own, shorter bound.
const BROWSER_TIMEOUT: Duration = Duration::from_secs(150);
/// Messages per second from the generator, so every lane has traffic.
const RATE: f64 = 4.0;

/// Loads the page in headless Chromium: four live lanes, publishing, HTML
/// shown as text, the other-tabs notice, no console errors.
#[test]
fn the_page_works_in_a_real_browser() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    if let Some(missing) = missing_tools(root) {
        if std::env::var_os("CI").is_some() {
            panic!("the browser test cannot run in CI: {missing}");
        }
        // Straight to stderr: libtest would swallow a println! of a passing test.
        let _ = writeln!(
            std::io::stderr(),
            "skipped: the browser test needs {missing}"
        );
        return;
    }

    let server = Server::start();
    let screenshot = root.join("target/browser/page.png");
    let node = Command::new("node")
        .arg(root.join("tests/browser/page.test.mjs"))
        .arg(format!("http://{}/", server.addr))
        .arg(&screenshot)
        .spawn()
        .expect("start node");
    let status = wait_bounded(node, BROWSER_TIMEOUT);
    server.stop();
    assert_eq!(
        status,
        Some(0),
        "the browser test failed (its output is above)"
    );
}

/// What is missing to run the browser test, if anything.
fn missing_tools(root: &Path) -> Option<String> {
    let node_modules: PathBuf = root.join("tests/browser/node_modules/playwright-core");
    if !Path::new(CHROMIUM).exists() {
        return Some(format!("{CHROMIUM} (apt-get install -y chromium)"));
    }
    if !node_modules.exists() {
        return Some("playwright-core (npm ci --prefix tests/browser)".into());
    }
    match Command::new("node").arg("--version").output() {
        Ok(out) if out.status.success() => None,
        _ => Some("node (Node.js 20 or later)".into()),
    }
}

/// Waits for `child` at most `limit`; kills it after that. Its exit code,
/// or `None` if it was killed or died of a signal.
fn wait_bounded(mut child: Child, limit: Duration) -> Option<i32> {
    let deadline = Instant::now() + limit;
    loop {
        match child.try_wait() {
            Ok(Some(status)) => return status.code(),
            Ok(None) if Instant::now() < deadline => std::thread::sleep(Duration::from_millis(100)),
            _ => {
                let _ = child.kill(); // it may have exited just now
                let _ = child.wait();
                eprintln!("the browser test took longer than {limit:?} and was stopped");
                return None;
            }
        }
    }
}

/// pushlab on 127.0.0.1:0, in its own thread, until `stop`.
struct Server {
    addr: std::net::SocketAddr,
    stop: oneshot::Sender<()>,
    thread: JoinHandle<std::io::Result<()>>,
}

impl Server {
    fn start() -> Server {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind a free port");
        let addr = listener
            .local_addr()
            .expect("a bound listener has an address");
        let config = pushlab::Config {
            rate: RATE,
            workers: Some(2),
            ..pushlab::Config::default()
        };
        let (stop, stopped) = oneshot::channel::<()>();
        let thread = std::thread::spawn(move || {
            actix_web::rt::System::new().block_on(pushlab::run(listener, config, async {
                let _ = stopped.await; // a dropped sender stops the server too
            }))
        });
        Server { addr, stop, thread }
    }

    fn stop(self) {
        let _ = self.stop.send(()); // the server may have stopped on its own
        let served = self.thread.join().expect("the server thread panicked");
        served.expect("the server ran");
    }
}
