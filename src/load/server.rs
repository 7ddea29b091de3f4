//! The server under test: one the tool starts itself (`--spawn`, a child
//! process whose CPU and memory it reads from `/proc`), or one it is
//! pointed at (`--url`, whose figures come from its `/api/stats`).

use std::net::{SocketAddr, TcpListener, ToSocketAddrs};
use std::process::Stdio;
use std::rc::Rc;
use std::time::Duration;

use clap::ValueEnum;
use tokio::process::{Child, Command};

use super::LoadArgs;
use super::http::{Connection, Error};
use crate::process::{self, Usage};

pub struct Server {
    pub addr: SocketAddr,
    child: Option<Child>,
}

impl Server {
    /// Starts `pushlab serve` on a free loopback port, generator off and
    /// publish rate unlimited (the tool publishes thousands of messages a
    /// second from one address), with the `--server-*` settings of `args`:
    /// pinned to cores with taskset, its workers, its compression policy,
    /// its WebSocket write delay.
    pub async fn spawn(args: &LoadArgs, history: u64) -> Result<Server, Error> {
        let port = TcpListener::bind("127.0.0.1:0")?.local_addr()?.port();
        let addr: SocketAddr = ([127, 0, 0, 1], port).into();
        let exe = std::env::current_exe()?;
        let policy = args
            .server_ws_deflate
            .to_possible_value()
            .expect("every policy has a name on the command line");
        let mut command = match &args.server_cores {
            Some(cores) => {
                let mut c = Command::new("taskset");
                c.args(["-c", cores]).arg(exe);
                c
            }
            None => Command::new(exe),
        };
        command
            .args(["serve", "--addr", &addr.to_string(), "--rate", "0"])
            .args(["--publish-rate", "0"])
            .args([
                "--workers",
                &args.server_workers.to_string(),
                "--history",
                &history.to_string(),
            ])
            .args(["--ws-deflate", policy.get_name()])
            .args([
                "--ws-write-delay",
                &args.server_ws_write_delay.as_secs_f64().to_string(),
            ])
            .env("RUST_LOG", "warn")
            .stdout(Stdio::null())
            .kill_on_drop(true);
        let child = command.spawn()?;
        let server = Server {
            addr,
            child: Some(child),
        };
        server.wait_until_up().await?;
        Ok(server)
    }

    /// A server already running at `url` (`http://host:port`).
    pub async fn at(url: &str) -> Result<Server, Error> {
        let authority = url
            .trim_start_matches("http://")
            .trim_end_matches('/')
            .to_owned();
        let addr = authority
            .to_socket_addrs()?
            .next()
            .ok_or_else(|| format!("{url}: no address"))?;
        let server = Server { addr, child: None };
        server.wait_until_up().await?;
        Ok(server)
    }

    async fn wait_until_up(&self) -> Result<(), Error> {
        for _ in 0..100 {
            if let Ok(mut connection) = Connection::open(self.addr, Rc::default()).await {
                if let Ok((200, _)) = connection.get_body("/healthz").await {
                    return Ok(());
                }
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        Err(format!("no pushlab answering at {} after 10 s", self.addr).into())
    }

    /// The server's CPU and memory now.
    pub async fn usage(&self) -> Option<Usage> {
        match &self.child {
            Some(child) => process::of_pid(child.id()?),
            None => self.usage_from_stats().await,
        }
    }

    async fn usage_from_stats(&self) -> Option<Usage> {
        let stats = self.stats().await.ok()?;
        serde_json::from_value(stats.get("process")?.clone()).ok()
    }

    /// The newest message id on the server (from `/api/stats`, so asking
    /// is not traffic of any technique).
    pub async fn last_id(&self) -> Result<u64, Error> {
        self.stats().await?["hub"]["last_id"]
            .as_u64()
            .ok_or_else(|| "no hub.last_id in /api/stats".into())
    }

    /// The server's `/api/stats`, on a connection of its own whose bytes
    /// count for no technique.
    async fn stats(&self) -> Result<serde_json::Value, Error> {
        let mut connection = Connection::open(self.addr, Rc::default()).await?;
        let (_, body) = connection.get_body("/api/stats").await?;
        Ok(serde_json::from_slice(body)?)
    }

    pub fn spawned(&self) -> bool {
        self.child.is_some()
    }
}
