//! HTTP/2: cleartext with prior knowledge (h2c) on the same port as
//! HTTP/1.1, and over TLS with ALPN (`--tls self-signed`); what the byte
//! counters can say about it (src/plumbing/hpack.rs).

use reqwest::Version;
use serde_json::Value;

use crate::helpers::{STEP, TestApp, spawn_app, test_config, within};

/// A client that speaks HTTP/2 from its first byte, as
/// `curl --http2-prior-knowledge` does.
fn h2c_client() -> reqwest::Client {
    reqwest::Client::builder()
        .http2_prior_knowledge()
        .timeout(STEP)
        .build()
        .unwrap()
}

/// A TLS client that takes the server's self-signed certificate and
/// offers `h2` and `http/1.1`, as a browser does.
fn tls_client() -> reqwest::ClientBuilder {
    reqwest::Client::builder()
        .danger_accept_invalid_certs(true)
        .timeout(STEP)
}

/// GETs `url` and returns its version, status and body.
async fn get(client: &reqwest::Client, url: &str) -> (Version, u16, Vec<u8>) {
    within(url, async {
        let response = client.get(url).send().await.unwrap();
        let version = response.version();
        let status = response.status().as_u16();
        (version, status, response.bytes().await.unwrap().to_vec())
    })
    .await
}

async fn poll_stats(app: &TestApp) -> Value {
    app.stats().await["techniques"]["poll"].clone()
}

/// A poll over h2c is answered over HTTP/2 with the usual JSON, and
/// counted: the request, its body bytes and DATA frames to the byte, and
/// the JSON names the byte figures as estimates, since the heads are
/// HPACK-compressed where pushlab cannot see them.
#[tokio::test]
async fn a_poll_over_h2c_is_answered_and_its_estimates_are_named() {
    let app = spawn_app(test_config());
    let id = app.publish("t", "over h2").await;
    assert_eq!(poll_stats(&app).await["estimated"], serde_json::json!([]));

    let url = app.url("/api/poll?since=0");
    let (version, status, body) = get(&h2c_client(), &url).await;
    assert_eq!(version, Version::HTTP_2);
    assert_eq!(status, 200);
    let answer: Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(answer["messages"][0]["id"], id);
    assert_eq!(answer["next"], id);

    let poll = poll_stats(&app).await;
    assert_eq!(poll["requests"], 1);
    assert_eq!(poll["http2_requests"], 1);
    assert_eq!(
        poll["estimated"],
        serde_json::json!(["bytes_in", "bytes_out"])
    );
    // The body, one DATA frame for it and the empty one that ends the
    // stream, then the HEADERS frame: at least its 9-byte frame header
    // and one byte for `:status: 200`, at most the head HTTP/1.1 spells out.
    let framed_body = body.len() as u64 + 9 + 9;
    let head = poll["bytes_out"].as_u64().unwrap() - framed_body;
    assert!(
        (10..=200).contains(&head),
        "response head estimated {head} B"
    );
}

/// HTTP/2 requests carry no Host header, only `:authority`: the page's own
/// publish over HTTP/2 (Origin = the page's origin) passes the Origin check
/// as it does over HTTP/1.1.
#[tokio::test]
async fn a_publish_over_h2c_from_the_page_passes_the_origin_check() {
    let app = spawn_app(test_config());
    let response = within(
        "publish over h2c",
        h2c_client()
            .post(app.url("/api/messages"))
            .header("origin", format!("http://{}", app.addr))
            .json(&serde_json::json!({"author": "t", "text": "same origin"}))
            .send(),
    )
    .await
    .unwrap();
    assert_eq!(response.version(), Version::HTTP_2);
    assert_eq!(response.status(), 201);
}

/// HTTP/1.1 still works on the same port, and its bytes stay exact.
#[tokio::test]
async fn http1_and_h2c_share_one_port() {
    let app = spawn_app(test_config());
    let url = app.url("/api/poll");
    let (version, status, _) = get(&app.http, &url).await;
    assert_eq!((version, status), (Version::HTTP_11, 200));
    assert_eq!(poll_stats(&app).await["estimated"], serde_json::json!([]));
    let (version, status, _) = get(&h2c_client(), &url).await;
    assert_eq!((version, status), (Version::HTTP_2, 200));
    assert_eq!(poll_stats(&app).await["requests"], 2);
}

/// With `--tls self-signed` the server speaks HTTPS: a client that offers
/// `h2` (as browsers do) gets HTTP/2, one that offers only `http/1.1` gets
/// that, both are answered and counted, and the JSON names the byte
/// figures as estimates.
#[tokio::test]
async fn tls_self_signed_serves_http2_to_clients_that_offer_it() {
    let app = spawn_app(pushlab::Config {
        tls: vec!["self-signed".into()],
        ..test_config()
    });
    let url = format!("https://{}/api/poll", app.addr);
    let h2 = tls_client().build().unwrap();
    let (version, status, body) = get(&h2, &url).await;
    assert_eq!((version, status), (Version::HTTP_2, 200));
    let h1 = tls_client().http1_only().build().unwrap();
    let (version, status, _) = get(&h1, &url).await;
    assert_eq!((version, status), (Version::HTTP_11, 200));
    let (_, _, stats) = get(&h1, &format!("https://{}/api/stats", app.addr)).await;
    let stats: Value = serde_json::from_slice(&stats).unwrap();
    let poll = &stats["techniques"]["poll"];
    assert_eq!(
        poll["estimated"],
        serde_json::json!(["bytes_in", "bytes_out"])
    );
    assert_eq!(
        (&poll["requests"], &poll["http2_requests"]),
        (&2.into(), &1.into())
    );
    // Both answers' bodies (the same JSON), the HTTP/2 one's two DATA
    // frames, and the heads on top.
    let bytes_out = poll["bytes_out"].as_u64().unwrap();
    assert!(
        bytes_out > 2 * body.len() as u64 + 18,
        "bytes_out {bytes_out}"
    );
}

#[derive(clap::Parser)]
struct LoadCli {
    #[command(flatten)]
    load: pushlab::load::LoadArgs,
}

/// Runs `pushlab load` against `app` (2 clients, 2 s), with `extra` flags.
async fn load_run(app: &TestApp, extra: &[&str]) -> Result<pushlab::load::report::Report, String> {
    use clap::Parser;
    let url = app.url("");
    let mut argv = vec!["load", "--url", &url, "--clients", "2", "--rate", "5"];
    argv.extend_from_slice(&["--duration", "2s", "--poll-interval", "100ms"]);
    argv.extend_from_slice(extra);
    let args = LoadCli::parse_from(argv).load;
    let local = tokio::task::LocalSet::new();
    let run = local.run_until(pushlab::load::run_all(args));
    tokio::time::timeout(std::time::Duration::from_secs(60), run)
        .await
        .expect("the load run finishes within a minute")
        .map_err(|e| e.to_string())
}

/// `pushlab load --http2` polls over h2c: every message arrives, every
/// request reached the server as HTTP/2, and a poll costs fewer bytes on
/// the tool's sockets than over HTTP/1.1 (HPACK), preface and SETTINGS
/// included. With ws it is refused: WebSocket stays on HTTP/1.1.
#[tokio::test]
async fn the_load_tools_http2_polls_arrive_and_cost_fewer_bytes() {
    let app = spawn_app(test_config());
    let h1 = load_run(&app, &["--technique", "poll"]).await.unwrap();
    let before = poll_stats(&app).await;
    let h2 = load_run(&app, &["--technique", "poll", "--http2"])
        .await
        .unwrap();
    let after = poll_stats(&app).await;
    let (h1, h2) = (&h1.techniques["poll"], &h2.techniques["poll"]);
    assert_eq!((h2.lost, h2.errors), (0, 0));
    assert_eq!(h2.delivered, h2.expected);
    let server_requests =
        after["requests"].as_u64().unwrap() - before["requests"].as_u64().unwrap();
    assert_eq!(server_requests, h2.requests);
    assert_eq!(after["http2_requests"].as_u64(), Some(h2.requests));
    let per_poll = |r: &pushlab::load::report::TechniqueReport| {
        (r.bytes_up + r.bytes_down) as f64 / r.requests as f64
    };
    assert!(
        per_poll(h2) < per_poll(h1),
        "HTTP/2 {:.0} B per poll, HTTP/1.1 {:.0}",
        per_poll(h2),
        per_poll(h1)
    );

    let refused = load_run(&app, &["--technique", "ws", "--http2"]).await;
    assert!(refused.is_err_and(|e| e.contains("HTTP/1.1")));
}

/// Long-polls and SSE streams over h2c, one connection per client and its
/// requests as streams: every message arrives once.
#[tokio::test]
async fn the_load_tools_http2_longpolls_and_streams_deliver_everything() {
    let app = spawn_app(test_config());
    for technique in ["longpoll", "sse"] {
        let report = load_run(&app, &["--technique", technique, "--http2"])
            .await
            .unwrap();
        let run = &report.techniques[technique];
        assert_eq!((run.lost, run.duplicates), (0, 0), "{technique}");
        assert_eq!(run.delivered, run.expected, "{technique}");
        assert!(run.expected > 0, "{technique}");
        let server = &app.stats().await["techniques"][technique];
        assert!(server["http2_requests"].as_u64() >= Some(2), "{technique}");
    }
}

/// A client past `--max-connections-per-ip` is refused over HTTP/2 too:
/// the HTTP/1 dispatcher refuses the connection before any request, the
/// HTTP/2 one knows no such rule, so each request gets the same JSON 503.
#[tokio::test]
async fn a_connection_past_the_per_client_limit_is_refused_over_h2c() {
    let app = spawn_app(pushlab::Config {
        max_connections_per_ip: Some(1),
        ..test_config()
    });
    // One connection held open by an event stream takes the client's place.
    let stream = within("the held stream", app.http.get(app.url("/api/sse")).send())
        .await
        .unwrap();
    assert_eq!(stream.status(), 200);
    let (version, status, body) = get(&h2c_client(), &app.url("/api/poll")).await;
    assert_eq!((version, status), (Version::HTTP_2, 503));
    let body: Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(body["error"], "too_many_connections");
    drop(stream);
}

/// An HTTP/2 connection with prior knowledge, its frames written by hand
/// so that the test decides when a stream is reset and when the socket
/// closes (a client library keeps its connection open while it has
/// streams). What the server sends is left unread: a few hundred bytes.
struct RawH2 {
    tcp: tokio::net::TcpStream,
    authority: String,
    next_stream: u32,
}

impl RawH2 {
    /// Connects, writes the preface and an empty SETTINGS frame.
    async fn connect(app: &TestApp) -> RawH2 {
        use tokio::io::AsyncWriteExt;
        let mut tcp = within("connect", tokio::net::TcpStream::connect(app.addr))
            .await
            .unwrap();
        let mut opening = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n".to_vec();
        opening.extend(frame(0x4, 0, 0, &[]));
        within("the preface", tcp.write_all(&opening))
            .await
            .unwrap();
        RawH2 {
            tcp,
            authority: app.addr.to_string(),
            next_stream: 1,
        }
    }

    /// A GET of `path` on a new stream (HEADERS with END_STREAM); its id.
    async fn get(&mut self, path: &str) -> u32 {
        use tokio::io::AsyncWriteExt;
        // HPACK: `:method: GET` and `:scheme: http` from the static table,
        // `:path` and `:authority` literals with indexed names (RFC 7541).
        let mut block = vec![0x82, 0x86];
        for (name_index, value) in [(4, path), (1, self.authority.as_str())] {
            assert!(value.len() < 127);
            block.extend([name_index, value.len() as u8]);
            block.extend(value.as_bytes());
        }
        let id = self.next_stream;
        self.next_stream += 2;
        let headers = frame(0x1, 0x4 | 0x1, id, &block); // END_HEADERS | END_STREAM
        within("HEADERS", self.tcp.write_all(&headers))
            .await
            .unwrap();
        id
    }

    /// RST_STREAM(CANCEL), as a browser aborting a fetch sends.
    async fn reset(&mut self, id: u32) {
        use tokio::io::AsyncWriteExt;
        let cancel = frame(0x3, 0, id, &8u32.to_be_bytes());
        within("RST_STREAM", self.tcp.write_all(&cancel))
            .await
            .unwrap();
    }
}

/// An HTTP/2 frame: 24-bit length, type, flags, stream id, payload.
fn frame(kind: u8, flags: u8, stream: u32, payload: &[u8]) -> Vec<u8> {
    let mut frame = (payload.len() as u32).to_be_bytes()[1..].to_vec();
    frame.extend([kind, flags]);
    frame.extend(stream.to_be_bytes());
    frame.extend(payload);
    frame
}

/// A client that closes its HTTP/2 connection while long-polls are parked
/// on it is gone, as over HTTP/1.1: the parked requests end at once (the
/// open count drops) instead of waiting out their 60 s.
#[tokio::test]
async fn a_longpoll_over_h2c_ends_when_its_connection_closes() {
    let app = spawn_app(test_config());
    let mut h2 = RawH2::connect(&app).await;
    h2.get("/api/longpoll?timeout=60").await;
    h2.get("/api/longpoll?timeout=60").await;
    app.wait_for_stat("longpoll", "connections_open", 2).await;
    assert_eq!(
        app.stats().await["techniques"]["longpoll"]["http2_requests"],
        2
    );

    drop(h2);
    app.wait_for_stat("longpoll", "connections_open", 0).await;
}

/// A browser aborting one fetch over HTTP/2 resets that stream only
/// (RST_STREAM), the connection staying open: the parked long-poll ends at
/// once, the other one stays. Guards the vendored actix-http's HTTP/2
/// dispatcher racing the service's future against h2's
/// `SendResponse::poll_reset` (src/h2/dispatcher.rs, `until_reset`):
/// nothing else in the request sees the reset (its body, a GET's, ended
/// with its HEADERS frame), and without it the request waits for news or
/// its timeout.
#[tokio::test]
async fn a_longpoll_over_h2c_ends_when_its_stream_is_reset() {
    let app = spawn_app(test_config());
    let mut h2 = RawH2::connect(&app).await;
    let parked = h2.get("/api/longpoll?timeout=60").await;
    h2.get("/api/longpoll?timeout=60").await;
    app.wait_for_stat("longpoll", "connections_open", 2).await;

    h2.reset(parked).await;
    app.wait_for_stat("longpoll", "connections_open", 1).await;
}
