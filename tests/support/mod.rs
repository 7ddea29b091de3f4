//! What every integration test shares: start pushlab on 127.0.0.1:0 in its
//! own thread, or as a process of its own ([`Server`]), start a real `redis-server` ([`redis_server`]),
//! run a browser test script ([`browser`]) and wait for any child process
//! (a browser, a protocol suite) with a bound.
//!
//! Each test crate (`tests/api`, `tests/browser.rs`, `tests/classroom.rs`,
//! …) includes this module and uses part of it, hence the `dead_code`
//! allowance where it is included.

pub mod browser;
pub mod redis_server;

use std::net::TcpListener;
use std::process::Child;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use tokio::sync::oneshot;

/// Waits for `child` at most `limit`; kills it after that. Its exit code,
/// or `None` if it was killed or died of a signal.
pub fn wait_bounded(mut child: Child, limit: Duration) -> Option<i32> {
    let deadline = Instant::now() + limit;
    loop {
        match child.try_wait() {
            Ok(Some(status)) => return status.code(),
            Ok(None) if Instant::now() < deadline => std::thread::sleep(Duration::from_millis(100)),
            _ => {
                let _ = child.kill(); // it may have exited just now
                let _ = child.wait();
                eprintln!(
                    "{:?} took longer than {limit:?} and was stopped",
                    child.id()
                );
                return None;
            }
        }
    }
}

/// pushlab on 127.0.0.1:0, in its own thread or its own process, until
/// stopped (or dropped).
pub struct Server {
    pub addr: std::net::SocketAddr,
    stop: Option<oneshot::Sender<()>>,
    thread: Option<JoinHandle<std::io::Result<()>>>,
    process: Option<Child>,
}

impl Server {
    pub fn start(config: pushlab::Config) -> Server {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind a free port");
        let addr = listener
            .local_addr()
            .expect("a bound listener has an address");
        let (stop, stopped) = oneshot::channel::<()>();
        let thread = std::thread::spawn(move || {
            actix_web::rt::System::new().block_on(pushlab::run(listener, config, async {
                let _ = stopped.await; // a dropped sender stops the server too
            }))
        });
        Server {
            addr,
            stop: Some(stop),
            thread: Some(thread),
            process: None,
        }
    }

    /// `pushlab serve` as a process of its own, with `args` after its
    /// address. For what a test measures of the server alone: its memory
    /// and CPU, which in the test binary's process are every test's.
    pub fn start_process(args: &[&str]) -> Server {
        let addr = TcpListener::bind("127.0.0.1:0")
            .and_then(|listener| listener.local_addr())
            .expect("a free port");
        let process = std::process::Command::new(env!("CARGO_BIN_EXE_pushlab"))
            .args(["serve", "--addr", &addr.to_string()])
            .args(args)
            .env("RUST_LOG", "warn")
            .stdout(std::process::Stdio::null())
            .spawn()
            .expect("start pushlab");
        let server = Server {
            addr,
            stop: None,
            thread: None,
            process: Some(process),
        };
        wait_until_listening(addr, Duration::from_secs(10));
        server
    }

    /// Stops the server gracefully and waits for it: what `pushlab::run`
    /// returned (Ok once stopped before).
    pub fn shut_down(&mut self) -> std::io::Result<()> {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(()); // the server may have stopped on its own
        }
        if let Some(mut process) = self.process.take() {
            let _ = process.kill(); // it may have exited on its own
            process.wait()?;
        }
        match self.thread.take() {
            Some(thread) => thread.join().expect("the server thread panicked"),
            None => Ok(()),
        }
    }

    /// Stops the server, failing the test if it did not run cleanly.
    pub fn stop(mut self) {
        self.shut_down().expect("the server ran");
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.shut_down();
    }
}

/// Waits until something accepts connections on `addr`, for at most
/// `within`: a server started as a process of its own says nothing when it
/// is ready, so the test knocks until the door opens.
pub fn wait_until_listening(addr: std::net::SocketAddr, within: Duration) {
    let deadline = Instant::now() + within;
    while std::net::TcpStream::connect_timeout(&addr, Duration::from_millis(200)).is_err() {
        assert!(
            Instant::now() < deadline,
            "pushlab did not listen on {addr} within {within:?}"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}
