//! A real `redis-server` for the broker tests (`tests/api/broker.rs`, and
//! the page over two instances in `tests/browser.rs`), on a free loopback
//! port, that a test can stop and start again on the same port.
//!
//! Where `redis-server` is not installed (Debian: `apt-get install
//! redis-server`), [`RedisServer::start`] returns `None` and the test says
//! "skipped" — unless `CI` is set, where a missing Redis is a failure.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// How long Redis may take to answer its first PING.
const READY_WITHIN: Duration = Duration::from_secs(10);

pub struct RedisServer {
    port: u16,
    /// Where an append-only file lives, when the server keeps its data.
    dir: PathBuf,
    keeps_data: bool,
    child: Option<Child>,
}

impl RedisServer {
    /// A Redis that forgets everything when it stops (the default: a
    /// restart is a Redis that lost its data).
    pub fn start() -> Option<RedisServer> {
        Self::start_with(false)
    }

    /// A Redis with an append-only file: a restart keeps every message.
    pub fn start_keeping_data() -> Option<RedisServer> {
        Self::start_with(true)
    }

    fn start_with(keeps_data: bool) -> Option<RedisServer> {
        if Command::new("redis-server")
            .arg("--version")
            .output()
            .is_err()
        {
            assert!(
                std::env::var_os("CI").is_none(),
                "redis-server is not installed (apt-get install redis-server)"
            );
            eprintln!("skipped: redis-server is not installed");
            return None;
        }
        let port = free_port();
        let dir = std::env::temp_dir().join(format!("pushlab-redis-{}-{port}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("a directory for Redis");
        let mut server = RedisServer {
            port,
            dir,
            keeps_data,
            child: None,
        };
        server.restart();
        Some(server)
    }

    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}", self.port)
    }

    /// Stops Redis (SIGKILL: an outage, not a polite shutdown).
    pub fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Starts Redis (again) on the same port and waits until it answers.
    pub fn restart(&mut self) {
        self.stop();
        let persistence: &[&str] = if self.keeps_data {
            &["--appendonly", "yes", "--appendfsync", "always"]
        } else {
            &["--appendonly", "no"]
        };
        let child = Command::new("redis-server")
            .args(["--port", &self.port.to_string(), "--bind", "127.0.0.1"])
            .args(["--save", "", "--dir"])
            .arg(&self.dir)
            .args(persistence)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("redis-server starts");
        self.child = Some(child);
        self.wait_until_ready();
    }

    /// Runs one command (inline syntax, e.g. `DEL key`); Redis's first
    /// reply line.
    pub fn command(&self, command: &str) -> String {
        self.try_command(command).expect("Redis answers")
    }

    fn wait_until_ready(&self) {
        let deadline = Instant::now() + READY_WITHIN;
        while self.try_command("PING").as_deref() != Some("+PONG") {
            assert!(Instant::now() < deadline, "redis-server did not start");
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// [`RedisServer::command`], or `None` while Redis is not answering.
    fn try_command(&self, command: &str) -> Option<String> {
        let mut stream = TcpStream::connect(("127.0.0.1", self.port)).ok()?;
        stream.set_read_timeout(Some(Duration::from_secs(1))).ok()?;
        stream.write_all(format!("{command}\r\n").as_bytes()).ok()?;
        let mut reply = [0u8; 64];
        let n = stream.read(&mut reply).ok()?;
        let reply = String::from_utf8_lossy(&reply[..n]);
        reply.lines().next().map(str::to_owned)
    }
}

impl Drop for RedisServer {
    fn drop(&mut self) {
        self.stop();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn free_port() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind a free port");
    listener.local_addr().expect("a bound address").port()
}
