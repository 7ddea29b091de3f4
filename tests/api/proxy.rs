//! pushlab behind nginx, configured with the file the docs give
//! (`docs/nginx/pushlab.conf`): the test starts nginx with that very text,
//! only its upstream and `listen` lines pointed at a test server and a free
//! port, and checks what the file's comments promise. A WebSocket opens
//! through the proxy, an SSE event comes through neither buffered nor
//! compressed, a parked long-poll is answered, and without the two lines
//! that pass `Upgrade` and `Connection` on, the handshake reaches pushlab
//! as the plain GET it then is.
//!
//! nginx runs as whoever runs the tests: its own prefix, pid file and temp
//! directories in a fresh folder, in the foreground, logging to stderr
//! (kept in that folder and shown if it fails). Without nginx the tests say
//! "skipped" and pass — unless `CI` is set, where they fail.

use std::fs;
use std::io::Write;
use std::net::{SocketAddr, TcpListener};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use serde_json::Value;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::Message as WsMessage;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;

use crate::helpers::*;

/// The documented configuration, verbatim.
const SNIPPET: &str = include_str!("../../docs/nginx/pushlab.conf");
/// The lines of the snippet a reader changes for their own setup.
const UPSTREAM_LINE: &str = "server 127.0.0.1:8080;";
const LISTEN_LINE: &str = "listen 80;";
/// The lines that pass the handshake's hop-by-hop headers on.
const UPGRADE_LINES: [&str; 2] = [
    "proxy_set_header Upgrade $http_upgrade;",
    "proxy_set_header Connection $connection_upgrade;",
];

/// A WebSocket opens through nginx — with the Origin a browser on the
/// proxied page would send — gets its hello, and echoes both ways.
#[tokio::test]
async fn a_websocket_opens_through_nginx() {
    let Some(binary) = nginx_or_skip() else {
        return;
    };
    let app = spawn_app(test_config());
    let nginx = Nginx::start(&binary, &snippet_for(app.addr));

    let origin = format!("http://{}", nginx.addr);
    let mut request = format!("ws://{}/ws", nginx.addr)
        .into_client_request()
        .unwrap();
    request
        .headers_mut()
        .insert("Origin", origin.parse().unwrap());
    let (mut ws, response) = within(
        "a WebSocket through nginx",
        tokio_tungstenite::connect_async(request),
    )
    .await
    .unwrap_or_else(|e| panic!("no upgrade through nginx: {e}\n{}", nginx.log()));
    assert_eq!(response.status(), 101);
    assert_eq!(ws_next_json(&mut ws).await["type"], "hello");
    app.publish("test", "through the proxy").await;
    assert_eq!(ws_next_message(&mut ws).await["text"], "through the proxy");

    let (mut echo, _) = within(
        "an echo WebSocket through nginx",
        tokio_tungstenite::connect_async(format!("ws://{}/ws/echo", nginx.addr)),
    )
    .await
    .unwrap();
    within("send", echo.send(WsMessage::text("ping-pong")))
        .await
        .unwrap();
    let reply = within("the echo", echo.next()).await.unwrap().unwrap();
    assert_eq!(reply, WsMessage::text("ping-pong"));
}

/// An SSE event published after the stream opened comes through nginx at
/// once, to a client that accepts compression as every browser does: the
/// proxy neither buffers nor compresses the stream.
#[tokio::test]
async fn sse_events_come_through_nginx_unbuffered() {
    let Some(binary) = nginx_or_skip() else {
        return;
    };
    let app = spawn_app(test_config());
    let nginx = Nginx::start(&binary, &snippet_for(app.addr));

    let url = format!("http://{}/api/sse", nginx.addr);
    let request = app
        .http
        .get(&url)
        .header("Accept-Encoding", "gzip, deflate, br");
    let response = within("SSE through nginx", request.send()).await.unwrap();
    assert_eq!(response.status(), 200, "{}", nginx.log());
    assert_eq!(response.headers()["content-type"], "text/event-stream");
    assert!(
        !response.headers().contains_key("content-encoding"),
        "a compressed stream is a buffered stream"
    );
    let mut body = response.bytes_stream();
    // The stream is open at pushlab before the message is published, so
    // the event is a push, not part of the first answer.
    app.wait_for_stat("sse", "connections_open", 1).await;
    app.publish("test", "streamed through the proxy").await;
    let mut received = Vec::new();
    within("the event through nginx", async {
        while !String::from_utf8_lossy(&received).contains("streamed through the proxy") {
            let chunk = body.next().await.expect("the stream ended").unwrap();
            received.extend_from_slice(&chunk);
        }
    })
    .await;
    assert!(String::from_utf8_lossy(&received).contains("event: message"));
}

/// A parked long-poll is answered through nginx when a message comes.
#[tokio::test]
async fn a_long_poll_is_answered_through_nginx() {
    let Some(binary) = nginx_or_skip() else {
        return;
    };
    let app = spawn_app(test_config());
    let nginx = Nginx::start(&binary, &snippet_for(app.addr));

    let url = format!("http://{}/api/longpoll?since=0", nginx.addr);
    let parked = tokio::spawn(app.http.get(url).send());
    app.wait_for_stat("longpoll", "connections_open", 1).await;
    app.publish("test", "woken through the proxy").await;
    let response = within("the long-poll's answer", parked)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(response.status(), 200, "{}", nginx.log());
    let answer: Value = response.json().await.unwrap();
    assert_eq!(answer["messages"][0]["text"], "woken through the proxy");
}

/// Without the lines that pass `Upgrade` and `Connection` on, nginx drops
/// them like any hop-by-hop header: pushlab sees a plain GET and answers
/// its JSON 400, and the client never gets a 101.
#[tokio::test]
async fn without_the_upgrade_lines_the_handshake_arrives_as_a_plain_get() {
    let Some(binary) = nginx_or_skip() else {
        return;
    };
    let app = spawn_app(test_config());
    let mut snippet = snippet_for(app.addr);
    for line in UPGRADE_LINES {
        snippet = replace_once(&snippet, line, "");
    }
    let nginx = Nginx::start(&binary, &snippet);

    let (head, body) = raw_handshake(nginx.addr, "/ws").await;
    assert!(head.starts_with("HTTP/1.1 400"), "{head}\n{}", nginx.log());
    let body: Value = serde_json::from_slice(&body).expect("pushlab's JSON error");
    assert_eq!(body["error"], "bad_handshake", "{body}");
    assert!(
        body["message"]
            .as_str()
            .unwrap()
            .contains("Upgrade: websocket"),
        "{body}"
    );
}

/// The snippet with its upstream pointed at `upstream` and its `listen`
/// line at a free port of 127.0.0.1. Each line must be there exactly once,
/// so an edit of the documented file cannot silently test something else.
fn snippet_for(upstream: SocketAddr) -> String {
    let port = free_port();
    let snippet = replace_once(SNIPPET, UPSTREAM_LINE, &format!("server {upstream};"));
    replace_once(&snippet, LISTEN_LINE, &format!("listen 127.0.0.1:{port};"))
}

fn replace_once(text: &str, line: &str, with: &str) -> String {
    assert_eq!(
        text.matches(line).count(),
        1,
        "docs/nginx/pushlab.conf must contain `{line}` exactly once"
    );
    text.replace(line, with)
}

/// A port nobody listens on now (the OS picks it; nginx binds it just after).
fn free_port() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind a free port");
    listener.local_addr().unwrap().port()
}

/// The nginx binary, or `None` after saying the test is skipped. With `CI`
/// set a missing nginx fails the test: there a skip would be a silent hole.
fn nginx_or_skip() -> Option<PathBuf> {
    let on_path = std::env::var_os("PATH")
        .map(|path| std::env::split_paths(&path).collect::<Vec<_>>())
        .unwrap_or_default();
    let found = on_path
        .into_iter()
        .chain([PathBuf::from("/usr/sbin")])
        .map(|dir| dir.join("nginx"))
        .find(|candidate| candidate.is_file());
    if found.is_none() {
        assert!(
            std::env::var_os("CI").is_none(),
            "the nginx proxy tests cannot run in CI: nginx is not installed"
        );
        // Straight to stderr: the test harness captures `eprintln!`.
        let _ = writeln!(
            std::io::stderr(),
            "skipped: the proxy tests need nginx (apt-get install nginx)"
        );
    }
    found
}

/// nginx in the foreground with its own folder, stopped and cleaned up
/// when dropped.
struct Nginx {
    addr: SocketAddr,
    dir: PathBuf,
    child: Child,
}

impl Nginx {
    /// Starts nginx serving `snippet` and waits until it accepts connections.
    fn start(binary: &Path, snippet: &str) -> Nginx {
        static STARTED: AtomicU32 = AtomicU32::new(0);
        let dir = std::env::temp_dir().join(format!(
            "pushlab-nginx-{}-{}",
            std::process::id(),
            STARTED.fetch_add(1, Ordering::Relaxed)
        ));
        fs::create_dir_all(&dir).expect("create nginx's folder");
        let conf = dir.join("nginx.conf");
        fs::write(&conf, main_conf(&dir, snippet)).expect("write nginx.conf");
        let log = fs::File::create(dir.join("stderr.log")).expect("create nginx's log");
        let child = Command::new(binary)
            .arg("-p")
            .arg(&dir)
            .arg("-c")
            .arg(&conf)
            .args(["-e", "stderr"])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .expect("start nginx");
        let addr = listen_addr(snippet);
        let mut nginx = Nginx { addr, dir, child };
        nginx.wait_until_listening();
        nginx
    }

    /// Polls the port until nginx accepts a connection (it has no "ready"
    /// message to wait for), failing at once if nginx exits, or after a
    /// bound.
    fn wait_until_listening(&mut self) {
        let deadline = std::time::Instant::now() + STEP;
        loop {
            if let Ok(Some(status)) = self.child.try_wait() {
                panic!("nginx exited ({status}):\n{}", self.log());
            }
            if std::net::TcpStream::connect(self.addr).is_ok() {
                return;
            }
            assert!(
                std::time::Instant::now() < deadline,
                "nginx did not listen on {} within {STEP:?}:\n{}",
                self.addr,
                self.log()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// What nginx wrote to stderr, for failure messages.
    fn log(&self) -> String {
        fs::read_to_string(self.dir.join("stderr.log")).unwrap_or_default()
    }
}

impl Drop for Nginx {
    fn drop(&mut self) {
        let _ = self.child.kill(); // it may have exited already
        let _ = self.child.wait();
        let _ = fs::remove_dir_all(&self.dir); // only a leftover temp folder if this fails
    }
}

/// The address of the snippet's (replaced) `listen` line.
fn listen_addr(snippet: &str) -> SocketAddr {
    snippet
        .lines()
        .find_map(|line| line.trim().strip_prefix("listen "))
        .and_then(|rest| rest.trim_end_matches(';').parse().ok())
        .expect("a `listen 127.0.0.1:PORT;` line")
}

/// The main configuration around the snippet: one process in the
/// foreground (so killing it stops everything), every file it writes in
/// `dir`, no access log; the snippet is the `http` block's content, as
/// where Debian's nginx.conf includes `conf.d/*.conf`.
fn main_conf(dir: &Path, snippet: &str) -> String {
    let dir = dir.display();
    format!(
        "daemon off;\n\
         master_process off;\n\
         pid {dir}/nginx.pid;\n\
         error_log stderr;\n\
         events {{ worker_connections 64; }}\n\
         http {{\n\
         access_log off;\n\
         client_body_temp_path {dir}/client_body;\n\
         proxy_temp_path {dir}/proxy;\n\
         fastcgi_temp_path {dir}/fastcgi;\n\
         uwsgi_temp_path {dir}/uwsgi;\n\
         scgi_temp_path {dir}/scgi;\n\
         {snippet}\n\
         }}\n"
    )
}

/// A WebSocket handshake by hand to `addr`; the answer's head and body
/// (read by its `content-length`).
async fn raw_handshake(addr: SocketAddr, path: &str) -> (String, Vec<u8>) {
    within("a handshake through nginx", async {
        let mut stream = TcpStream::connect(addr).await.unwrap();
        let request = format!(
            "GET {path} HTTP/1.1\r\nHost: {addr}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
             Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n"
        );
        stream.write_all(request.as_bytes()).await.unwrap();
        let mut data = Vec::new();
        loop {
            let mut chunk = [0u8; 4096];
            let n = stream.read(&mut chunk).await.unwrap();
            assert!(n > 0, "nginx closed before a whole answer");
            data.extend_from_slice(&chunk[..n]);
            let Some(end) = data.windows(4).position(|w| w == b"\r\n\r\n") else {
                continue;
            };
            let head = String::from_utf8_lossy(&data[..end]).into_owned();
            let length = head
                .lines()
                .find_map(|l| {
                    l.to_ascii_lowercase()
                        .strip_prefix("content-length:")
                        .map(|v| v.trim().parse::<usize>().unwrap())
                })
                .unwrap_or(0);
            if data.len() >= end + 4 + length {
                return (head, data[end + 4..end + 4 + length].to_vec());
            }
        }
    })
    .await
}
