//! A tab's wire log (`/api/tabs/{id}/wire`) holds the exact bytes of its
//! exchanges: the same bytes a raw socket sent and received, header case,
//! order and spacing included, a WebSocket's frames both ways with the
//! client's still masked. Nothing while the view is closed; the last 20;
//! only for the tab that names itself.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use serde_json::Value;
use tokio::io::AsyncReadExt;

use crate::helpers::*;

const TAB: &str = "0123456789abcdef0123456789abcdef";
const OTHER_TAB: &str = "fedcba9876543210fedcba9876543210";

/// Makes `tab` known to the server (its first poll) and opens its wire view.
async fn open_view(app: &TestApp, tab: &str) {
    let (status, _) = app.get_json(&format!("/api/poll?tab={tab}")).await;
    assert_eq!(status, 200);
    let response = within(
        "wire/open",
        app.http
            .post(app.url(&format!("/api/tabs/{tab}/wire/open")))
            .send(),
    )
    .await
    .unwrap();
    assert_eq!(response.status(), 200);
}

async fn close_view(app: &TestApp, tab: &str) {
    let response = within(
        "wire/close",
        app.http
            .post(app.url(&format!("/api/tabs/{tab}/wire/close")))
            .send(),
    )
    .await
    .unwrap();
    assert_eq!(response.status(), 200);
}

async fn wire_log(app: &TestApp, tab: &str) -> Value {
    let (status, log) = app.get_json(&format!("/api/tabs/{tab}/wire")).await;
    assert_eq!(status, 200, "{log}");
    log
}

fn exchanges(log: &Value) -> &Vec<Value> {
    log["exchanges"].as_array().unwrap()
}

fn decode(field: &Value) -> Vec<u8> {
    BASE64.decode(field.as_str().unwrap()).unwrap()
}

/// The body bytes of one direction ("in" or "out"), in order.
fn body(exchange: &Value, dir: &str) -> Vec<u8> {
    exchange["parts"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|part| part["dir"] == dir)
        .flat_map(|part| decode(&part["bytes"]))
        .collect()
}

fn frames(exchange: &Value, dir: &str) -> Vec<Vec<u8>> {
    exchange["parts"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|part| part["dir"] == dir)
        .map(|part| decode(&part["bytes"]))
        .collect()
}

/// Waits until `ready` holds of the tab's log; returns that log.
async fn log_when(app: &TestApp, tab: &str, ready: impl Fn(&Value) -> bool) -> Value {
    within("the wire log", async {
        loop {
            let log = wire_log(app, tab).await;
            if ready(&log) {
                return log;
            }
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        }
    })
    .await
}

/// One whole server frame as it came (header and payload), read raw.
async fn read_frame(raw: &mut Raw) -> Vec<u8> {
    within("a server frame", async {
        let mut frame = vec![0u8; 2];
        raw.stream.read_exact(&mut frame).await.unwrap();
        let len = match frame[1] & 0x7f {
            126 => {
                let mut ext = [0u8; 2];
                raw.stream.read_exact(&mut ext).await.unwrap();
                frame.extend_from_slice(&ext);
                u16::from_be_bytes(ext) as usize
            }
            127 => {
                let mut ext = [0u8; 8];
                raw.stream.read_exact(&mut ext).await.unwrap();
                frame.extend_from_slice(&ext);
                u64::from_be_bytes(ext) as usize
            }
            short => short as usize,
        };
        let mut payload = vec![0u8; len];
        raw.stream.read_exact(&mut payload).await.unwrap();
        frame.extend_from_slice(&payload);
        frame
    })
    .await
}

fn payload_text(frame: &[u8]) -> String {
    String::from_utf8_lossy(&frame[2..]).into_owned()
}

/// A poll sent with odd header case, order and spacing shows in the log
/// byte for byte as sent, and its answer byte for byte as received; its
/// sizes are the raw socket's.
#[tokio::test]
async fn a_polls_bytes_in_the_log_are_the_bytes_a_raw_socket_saw() {
    let app = spawn_app(test_config());
    app.publish("test", "on the wire").await;
    open_view(&app, TAB).await;

    let mut raw = Raw::connect(&app).await;
    let request = format!(
        "GET /api/poll?since=0&tab={TAB} HTTP/1.1\r\nuSer-AgENT: raw test\r\nX-Odd:   spaced \r\nHOST: localhost\r\naccept: */*\r\n\r\n"
    );
    raw.send(request.as_bytes()).await;
    let response = raw.read_response().await;

    let log = log_when(&app, TAB, |log| !exchanges(log).is_empty()).await;
    assert_eq!(log["recording"], true);
    let exchange = &exchanges(&log)[0];
    assert_eq!(exchange["technique"], "poll");
    assert_eq!(decode(&exchange["request_head"]), request.as_bytes());
    let mut answered = decode(&exchange["response_head"]);
    answered.extend(body(exchange, "out"));
    assert_eq!(
        String::from_utf8_lossy(&answered),
        String::from_utf8_lossy(&response)
    );
    assert_eq!(exchange["bytes_in"], request.len() as u64);
    assert_eq!(exchange["request_head_bytes"], request.len() as u64);
    assert_eq!(exchange["bytes_out"], response.len() as u64);
}

/// A WebSocket's handshake shows as sent, with the extension the client
/// offered and the 101 answered; then every frame both ways, the client's
/// masked as it was sent, the server's as it was received.
#[tokio::test]
async fn a_websockets_handshake_and_frames_in_the_log_are_the_raw_sockets() {
    // The offer is declined, so the frames can be read as text here; the
    // compressed ones are the browser test's (tests/browser/wire.test.mjs).
    let app = spawn_app(pushlab::Config {
        ws_deflate: pushlab::techniques::ws::DeflatePolicy::Off,
        ..test_config()
    });
    open_view(&app, TAB).await;

    let mut raw = Raw::connect(&app).await;
    let request = format!(
        "GET /ws?tab={TAB} HTTP/1.1\r\nHost: localhost\r\nupgrade: websocket\r\nConnection: Upgrade\r\n\
         Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\
         Sec-WebSocket-Extensions: permessage-deflate; client_max_window_bits\r\n\r\n"
    );
    raw.send(request.as_bytes()).await;
    let head = raw.read_head().await;
    assert!(head.starts_with("HTTP/1.1 101"), "{head}");
    let mut received = vec![read_frame(&mut raw).await]; // hello
    let sent_before = raw.sent;
    let publish =
        serde_json::json!({"type": "publish", "author": "raw", "text": "masked?"}).to_string();
    raw.send_frame(true, 0x1, publish.as_bytes()).await;
    let client_frame = {
        // send_frame's mask is fixed; rebuild what it wrote to compare.
        let mask = [0x12, 0x34, 0x56, 0x78];
        let mut frame = vec![0x81, 0x80 | publish.len() as u8];
        frame.extend_from_slice(&mask);
        frame.extend(publish.bytes().enumerate().map(|(i, b)| b ^ mask[i % 4]));
        frame
    };
    assert_eq!(raw.sent - sent_before, client_frame.len());
    // The answer to the publish, and the message itself, in either order.
    while !received
        .iter()
        .any(|f| payload_text(f).contains("\"published\""))
        || !received.iter().any(|f| payload_text(f).contains("masked?"))
    {
        received.push(read_frame(&mut raw).await);
    }

    let want_out = received.len();
    let log = log_when(&app, TAB, |log| {
        exchanges(log)
            .iter()
            .any(|e| e["technique"] == "ws" && frames(e, "out").len() >= want_out)
    })
    .await;
    let exchange = exchanges(&log)
        .iter()
        .find(|e| e["technique"] == "ws")
        .unwrap();
    let shown_request = String::from_utf8(decode(&exchange["request_head"])).unwrap();
    assert_eq!(shown_request, request);
    assert!(
        shown_request
            .contains("Sec-WebSocket-Extensions: permessage-deflate; client_max_window_bits")
    );
    assert_eq!(
        String::from_utf8(decode(&exchange["response_head"])).unwrap(),
        head
    );
    assert_eq!(frames(exchange, "in"), vec![client_frame]);
    assert_eq!(frames(exchange, "out"), received);
    assert_eq!(exchange["bytes_in"], raw.sent as u64);
}

/// A socket opened before the view was: opening the view shows its
/// handshake, and the frames from then on — none from before.
#[tokio::test]
async fn a_socket_open_before_the_view_shows_its_handshake_and_later_frames() {
    let app = spawn_app(test_config());
    let mut raw = Raw::connect(&app).await;
    let request = format!(
        "GET /ws?tab={TAB} HTTP/1.1\r\nHost: localhost\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
         Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n"
    );
    raw.send(request.as_bytes()).await;
    let head = raw.read_head().await;
    read_frame(&mut raw).await; // hello, before the view opened
    assert!(exchanges(&wire_log(&app, TAB).await).is_empty());

    let response = within(
        "wire/open",
        app.http
            .post(app.url(&format!("/api/tabs/{TAB}/wire/open")))
            .send(),
    )
    .await
    .unwrap();
    assert_eq!(response.status(), 200);
    app.publish("test", "after the view opened").await;
    let message = read_frame(&mut raw).await;

    let log = log_when(&app, TAB, |log| {
        exchanges(log)
            .first()
            .is_some_and(|e| !frames(e, "out").is_empty())
    })
    .await;
    let exchange = &exchanges(&log)[0];
    assert_eq!(decode(&exchange["request_head"]), request.as_bytes());
    assert_eq!(
        String::from_utf8(decode(&exchange["response_head"])).unwrap(),
        head
    );
    assert_eq!(frames(exchange, "out"), vec![message]);
    assert!(exchange["recorded_since_us"].is_u64());
}

/// An SSE stream's head as sent and answered, then each event as the
/// encoder wrote it: in chunked framing, `{size}\r\n…\r\n`.
#[tokio::test]
async fn an_sse_streams_chunks_are_logged_with_their_framing() {
    let app = spawn_app(test_config());
    open_view(&app, TAB).await;
    let mut raw = Raw::connect(&app).await;
    let request = format!(
        "GET /api/sse?since=0&tab={TAB} HTTP/1.1\r\nHost: localhost\r\nAccept: text/event-stream\r\n\r\n"
    );
    raw.send(request.as_bytes()).await;
    let head = raw.read_head().await;
    app.publish("test", "over SSE").await;
    // Read until the message's chunk has come whole.
    let mut body = Vec::new();
    within("the message's chunk", async {
        while !(String::from_utf8_lossy(&body).contains("over SSE") && body.ends_with(b"\r\n")) {
            let mut chunk = [0u8; 4096];
            let n = raw.stream.read(&mut chunk).await.unwrap();
            assert!(n > 0, "the stream closed");
            body.extend_from_slice(&chunk[..n]);
        }
    })
    .await;

    let log = log_when(&app, TAB, |log| {
        exchanges(log)
            .iter()
            .any(|e| e["technique"] == "sse" && body_of(e).len() >= body.len())
    })
    .await;
    let exchange = exchanges(&log)
        .iter()
        .find(|e| e["technique"] == "sse")
        .unwrap();
    assert_eq!(decode(&exchange["request_head"]), request.as_bytes());
    assert_eq!(
        String::from_utf8(decode(&exchange["response_head"])).unwrap(),
        head
    );
    assert!(head.contains("transfer-encoding: chunked"), "{head}");
    assert_eq!(
        String::from_utf8_lossy(&body_of(exchange)[..body.len()]),
        String::from_utf8_lossy(&body)
    );
}

fn body_of(exchange: &Value) -> Vec<u8> {
    body(exchange, "out")
}

/// What the log says each exchange carried adds up to what the tab's own
/// figures counted while it recorded.
#[tokio::test]
async fn the_logs_sizes_add_up_to_the_tabs_figures() {
    let app = spawn_app(test_config());
    app.publish("test", "counted twice").await;
    open_view(&app, TAB).await;
    let (_, before) = app.get_json(&format!("/api/tabs/{TAB}")).await;
    for since in [0, 1, 0] {
        app.get_json(&format!("/api/poll?since={since}&tab={TAB}"))
            .await;
    }
    let (_, after) = app.get_json(&format!("/api/tabs/{TAB}")).await;
    let log = wire_log(&app, TAB).await;
    for field in ["bytes_in", "bytes_out"] {
        let counted = after["techniques"]["poll"][field].as_u64().unwrap()
            - before["techniques"]["poll"][field].as_u64().unwrap();
        let logged: u64 = exchanges(&log)
            .iter()
            .map(|e| e[field].as_u64().unwrap())
            .sum();
        assert_eq!(logged, counted, "{field}");
    }
}

/// Polls made while the view is closed leave nothing; closing it forgets
/// what was recorded.
#[tokio::test]
async fn nothing_is_recorded_while_the_view_is_closed() {
    let app = spawn_app(test_config());
    for _ in 0..3 {
        app.get_json(&format!("/api/poll?tab={TAB}")).await;
    }
    let log = wire_log(&app, TAB).await;
    assert_eq!(log["recording"], false);
    assert!(exchanges(&log).is_empty());

    open_view(&app, TAB).await;
    app.get_json(&format!("/api/poll?tab={TAB}")).await;
    assert_eq!(exchanges(&wire_log(&app, TAB).await).len(), 1);

    close_view(&app, TAB).await;
    app.get_json(&format!("/api/poll?tab={TAB}")).await;
    let log = wire_log(&app, TAB).await;
    assert_eq!(log["recording"], false);
    assert!(exchanges(&log).is_empty());
}

/// However many exchanges, the log keeps the newest 20.
#[tokio::test]
async fn the_log_keeps_the_last_20_exchanges() {
    let app = spawn_app(test_config());
    open_view(&app, TAB).await;
    for since in 0..25 {
        app.get_json(&format!("/api/poll?since={since}&tab={TAB}"))
            .await;
    }
    let log = wire_log(&app, TAB).await;
    let kept = exchanges(&log);
    assert_eq!(kept.len(), 20);
    let heads: Vec<String> = kept
        .iter()
        .map(|e| String::from_utf8(decode(&e["request_head"])).unwrap())
        .collect();
    assert!(
        heads[0].starts_with("GET /api/poll?since=5&"),
        "{}",
        heads[0]
    );
    assert!(
        heads[19].starts_with("GET /api/poll?since=24&"),
        "{}",
        heads[19]
    );
}

/// An open stream stays in the log however many polls come after it.
#[tokio::test]
async fn an_open_stream_stays_listed_while_polls_come_and_go() {
    let app = spawn_app(test_config());
    open_view(&app, TAB).await;
    let mut socket = ws_connect(&app, &format!("/ws?tab={TAB}")).await;
    ws_next_json(&mut socket).await; // hello: the handshake is done
    for _ in 0..25 {
        app.get_json(&format!("/api/poll?tab={TAB}")).await;
    }
    let log = wire_log(&app, TAB).await;
    let kept = exchanges(&log);
    assert_eq!(kept.len(), 20);
    assert_eq!(kept[0]["technique"], "ws");
    assert_eq!(kept.iter().filter(|e| e["technique"] == "poll").count(), 19);
}

/// Another tab's id sees nothing of this tab's exchanges; an unknown id is
/// a 404 and a malformed one a 400, both JSON.
#[tokio::test]
async fn another_tab_sees_nothing_of_this_tabs_wire() {
    let app = spawn_app(test_config());
    open_view(&app, TAB).await;
    app.get_json(&format!("/api/poll?since=0&tab={TAB}")).await;
    assert_eq!(exchanges(&wire_log(&app, TAB).await).len(), 1);

    open_view(&app, OTHER_TAB).await;
    let theirs = wire_log(&app, OTHER_TAB).await;
    assert!(
        exchanges(&theirs)
            .iter()
            .all(|e| !String::from_utf8(decode(&e["request_head"]))
                .unwrap()
                .contains(TAB)),
        "{theirs}"
    );

    let (status, body) = app
        .get_json("/api/tabs/aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa/wire")
        .await;
    assert_eq!((status, body["error"].as_str()), (404, Some("unknown_tab")));
    let (status, body) = app.get_json("/api/tabs/not-a-tab/wire").await;
    assert_eq!((status, body["error"].as_str()), (400, Some("bad_tab")));
}

/// Over HTTP/2 no head crosses the socket as text (HPACK compresses it),
/// so the log shows the header fields as the HEADERS frames carried them,
/// decoded: pseudo-headers first, one `name: value` a line; not an empty
/// head. The body is the answer's.
#[tokio::test]
async fn a_poll_over_h2c_shows_its_header_fields_decoded() {
    let app = spawn_app(test_config());
    app.publish("test", "over h2").await;
    open_view(&app, TAB).await;
    let (_, before) = app.get_json(&format!("/api/tabs/{TAB}")).await;
    let h2c = reqwest::Client::builder()
        .http2_prior_knowledge()
        .timeout(STEP)
        .build()
        .unwrap();
    let response = within(
        "a poll over h2c",
        h2c.get(app.url(&format!("/api/poll?since=0&tab={TAB}")))
            .header("x-odd", "Kept As Sent")
            .send(),
    )
    .await
    .unwrap();
    assert_eq!(response.version(), reqwest::Version::HTTP_2);
    let answer = within("its body", response.bytes()).await.unwrap();

    let log = log_when(&app, TAB, |log| {
        exchanges(log)
            .iter()
            .any(|e| e["technique"] == "poll" && e["ended_at_us"].is_u64())
    })
    .await;
    let exchange = exchanges(&log)
        .iter()
        .find(|e| e["technique"] == "poll")
        .unwrap();
    let request = String::from_utf8(decode(&exchange["request_head"])).unwrap();
    let lines: Vec<&str> = request.split("\r\n").collect();
    assert_eq!(lines[0], ":method: GET", "{request}");
    assert_eq!(lines[1], ":scheme: http", "{request}");
    assert_eq!(lines[2], format!(":path: /api/poll?since=0&tab={TAB}"));
    assert_eq!(lines[3], format!(":authority: {}", app.addr));
    assert!(lines.contains(&"x-odd: Kept As Sent"), "{request}");
    assert!(!request.to_lowercase().contains("\nhost:"), "{request}");
    assert!(request.ends_with("\r\n\r\n"));

    let head = String::from_utf8(decode(&exchange["response_head"])).unwrap();
    assert!(head.starts_with(":status: 200\r\n"), "{head}");
    assert!(
        head.contains("content-type: application/json\r\n"),
        "{head}"
    );
    assert!(
        head.contains(&format!("content-length: {}\r\n", answer.len())),
        "{head}"
    );
    assert!(!head.contains("connection:"), "{head}");
    assert_eq!(body(exchange, "out"), answer.to_vec());

    // The sizes are the counters': each head HPACK's estimate of its
    // HEADERS frame, below the decoded text's length, and the totals what
    // the tab's figures counted (DATA frame headers included).
    let request_head_bytes = exchange["request_head_bytes"].as_u64().unwrap();
    let response_head_bytes = exchange["response_head_bytes"].as_u64().unwrap();
    assert!(request_head_bytes < request.len() as u64, "{exchange}");
    assert!(response_head_bytes < head.len() as u64, "{exchange}");
    let (_, after) = app.get_json(&format!("/api/tabs/{TAB}")).await;
    for field in ["bytes_in", "bytes_out"] {
        let counted = after["techniques"]["poll"][field].as_u64().unwrap()
            - before["techniques"]["poll"][field].as_u64().unwrap();
        assert_eq!(exchange[field], counted, "{field}: {exchange}");
    }
    assert_eq!(
        exchange["bytes_out"].as_u64().unwrap(),
        response_head_bytes + answer.len() as u64 + 2 * 9,
        "the head, the body and two DATA frame headers (the body's, the end's)"
    );
}
