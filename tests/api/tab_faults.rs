//! Faults a tab causes to its own connections (`POST /api/tabs/{id}/faults`)
//! and the teacher's hub restart (`POST /api/hub/restart`): a drop ends the
//! tab's connections the way a failing network does — an answer that
//! breaks off, no last chunk, no close frame — and nobody else's; offline
//! cuts the tab's new requests for its seconds, then lets them through; a
//! restart starts a new run that every parked client is told about.

use std::time::{Duration, Instant};

use futures_util::StreamExt;
use serde_json::{Value, json};
use tokio::io::AsyncReadExt;
use tokio_tungstenite::tungstenite::{Error as WsError, Message as WsMessage};

use crate::helpers::*;

const A: &str = "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa";
const B: &str = "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb";

async fn post_fault(app: &TestApp, tab: &str, body: Value) -> (u16, Value) {
    let response = within(
        "POST faults",
        app.http
            .post(app.url(&format!("/api/tabs/{tab}/faults")))
            .json(&body)
            .send(),
    )
    .await
    .unwrap();
    let status = response.status().as_u16();
    (status, response.json().await.unwrap())
}

/// A raw request of tab `tab`, sent; the connection is returned unread.
async fn raw_get(app: &TestApp, path: &str) -> Raw {
    let mut raw = Raw::connect(app).await;
    let request = format!("GET {path} HTTP/1.1\r\nHost: localhost\r\n\r\n");
    raw.send(request.as_bytes()).await;
    raw
}

/// Everything the server still sends on `raw` until it closes the
/// connection.
async fn read_to_close(raw: &mut Raw) -> Vec<u8> {
    let mut rest = Vec::new();
    within("the server to close the connection", async {
        raw.stream.read_to_end(&mut rest).await
    })
    .await
    .expect("a clean close, not a reset");
    rest
}

/// Reads from `raw` until `needle` has come.
async fn read_until(raw: &mut Raw, needle: &str) -> String {
    let mut seen = Vec::new();
    within(&format!("{needle:?} on the wire"), async {
        while !String::from_utf8_lossy(&seen).contains(needle) {
            let mut chunk = [0u8; 4096];
            let n = raw.stream.read(&mut chunk).await.unwrap();
            assert!(n > 0, "closed before {needle:?}");
            seen.extend_from_slice(&chunk[..n]);
        }
    })
    .await;
    String::from_utf8(seen).unwrap()
}

/// Waits until `/api/stats` counts `want` hub subscribers.
async fn wait_for_subscribers(app: &TestApp, want: u64) {
    within(&format!("{want} subscribers"), async {
        while app.stats().await["hub"]["subscribers"] != want {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    })
    .await
}

/// Is `cut` a poll's answer that broke off: a head, and then no body, not
/// even the chunked body's last chunk?
fn broke_off(cut: &[u8]) -> bool {
    let cut = String::from_utf8_lossy(cut).to_lowercase();
    cut.starts_with("http/1.1 200")
        && cut.contains("transfer-encoding: chunked")
        && cut.ends_with("\r\n\r\n")
        && cut.matches("\r\n\r\n").count() == 1
}

/// A drop cuts tab A's parked long-poll: its answer breaks off after the
/// head (a browser silently resends a request that got no byte at all),
/// while tab B's goes on waiting and gets the next message.
#[tokio::test]
async fn a_drop_cuts_the_tabs_long_poll_and_not_another_tabs() {
    let app = spawn_app(test_config());
    let mut a = raw_get(&app, &format!("/api/longpoll?timeout=30&tab={A}")).await;
    let mut b = raw_get(&app, &format!("/api/longpoll?timeout=30&tab={B}")).await;
    app.wait_for_stat("longpoll", "connections_open", 2).await;

    let (status, body) =
        post_fault(&app, A, json!({"technique": "longpoll", "fault": "drop"})).await;
    assert_eq!(status, 202, "{body}");
    assert_eq!(body["dropped"], 1, "{body}");
    let cut = read_to_close(&mut a).await;
    assert!(broke_off(&cut), "{}", String::from_utf8_lossy(&cut));
    app.wait_for_stat("longpoll", "connections_open", 1).await;
    wait_for_subscribers(&app, 1).await; // A's waiter is gone, B's waits

    let id = app.publish("test", "for B").await;
    let answer = String::from_utf8(b.read_response().await).unwrap();
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    assert!(answer.contains(&format!("\"id\":{id}")), "{answer}");
}

/// A drop stops tab A's SSE stream mid-way: the connection closes without
/// the chunked body's last chunk, so the client knows it broke. Tab B's
/// stream goes on.
#[tokio::test]
async fn a_drop_breaks_the_tabs_sse_stream_and_not_another_tabs() {
    let app = spawn_app(test_config());
    let mut a = raw_get(&app, &format!("/api/sse?tab={A}")).await;
    read_until(&mut a, "event: hello").await;
    let mut b = SseClient::connect(&app, &format!("/api/sse?tab={B}"), None).await;
    app.wait_for_stat("sse", "connections_open", 2).await;

    let (status, body) = post_fault(&app, A, json!({"technique": "sse", "fault": "drop"})).await;
    assert_eq!(status, 202, "{body}");
    assert_eq!(body["dropped"], 1, "{body}");
    let rest = String::from_utf8(read_to_close(&mut a).await).unwrap();
    assert!(!rest.contains("0\r\n\r\n"), "no last chunk: {rest:?}");
    wait_for_subscribers(&app, 1).await;

    app.publish("test", "for B").await;
    assert_eq!(b.next_message().await["text"], "for B");
}

/// A drop closes tab A's WebSocket without a close frame (the browser's
/// 1006), and tab B's socket stays open.
#[tokio::test]
async fn a_drop_closes_the_tabs_websocket_without_a_close_frame() {
    let app = spawn_app(test_config());
    let mut a = ws_connect(&app, &format!("/ws?tab={A}")).await;
    let mut b = ws_connect(&app, &format!("/ws?tab={B}")).await;
    assert_eq!(ws_next_json(&mut a).await["type"], "hello");
    assert_eq!(ws_next_json(&mut b).await["type"], "hello");

    let (status, body) = post_fault(&app, A, json!({"technique": "ws", "fault": "drop"})).await;
    assert_eq!(status, 202, "{body}");
    assert_eq!(body["dropped"], 1, "{body}");
    let end = within("A's socket to end", async {
        loop {
            match a.next().await {
                Some(Ok(WsMessage::Ping(_) | WsMessage::Pong(_))) => continue,
                other => return other,
            }
        }
    })
    .await;
    assert!(
        matches!(
            end,
            None | Some(Err(WsError::Protocol(_) | WsError::ConnectionClosed))
        ),
        "the TCP connection ends with no close frame, got {end:?}"
    );
    app.wait_for_stat("ws", "connections_open", 1).await;
    wait_for_subscribers(&app, 1).await; // A's session ended with its socket

    app.publish("test", "for B").await;
    assert_eq!(ws_next_message(&mut b).await["text"], "for B");
}

/// A short poll holds nothing between two polls: its drop cuts the tab's
/// next poll, and only that one.
#[tokio::test]
async fn a_drop_cuts_the_tabs_next_short_poll_only() {
    let app = spawn_app(test_config());
    let poll = |tab: &'static str| {
        let app = &app;
        async move {
            let mut raw = raw_get(app, &format!("/api/poll?tab={tab}")).await;
            answer_or_end(&mut raw).await
        }
    };
    assert!(poll(A).await.contains("\"epoch\""));

    let (status, body) = post_fault(&app, A, json!({"technique": "poll", "fault": "drop"})).await;
    assert_eq!(status, 202, "{body}");
    assert!(poll(B).await.contains("\"epoch\""), "B's poll is answered");
    let cut = poll(A).await;
    assert!(broke_off(cut.as_bytes()), "{cut}");
    assert!(
        poll(A).await.contains("\"epoch\""),
        "only the next poll is cut"
    );
}

/// One poll's answer, whole (its JSON ends it), or what came before the
/// server closed the connection.
async fn answer_or_end(raw: &mut Raw) -> String {
    let mut seen = Vec::new();
    within("a poll's answer or its end", async {
        loop {
            let mut chunk = [0u8; 4096];
            let n = raw.stream.read(&mut chunk).await.unwrap();
            seen.extend_from_slice(&chunk[..n]);
            if n == 0 || seen.ends_with(b"}") {
                return;
            }
        }
    })
    .await;
    String::from_utf8(seen).unwrap()
}

/// Offline cuts every new WebSocket handshake of the tab for its seconds,
/// then lets them through; other techniques and other tabs are not cut.
#[tokio::test]
async fn offline_cuts_the_tabs_new_requests_for_its_seconds() {
    let app = spawn_app(test_config());
    // The tab is known once it has sent a request.
    let mut open = ws_connect(&app, &format!("/ws?tab={A}")).await;
    assert_eq!(ws_next_json(&mut open).await["type"], "hello");

    let asked = Instant::now();
    let (status, body) = post_fault(
        &app,
        A,
        json!({"technique": "ws", "fault": "offline", "seconds": 1}),
    )
    .await;
    assert_eq!(status, 202, "{body}");
    assert_eq!(body["seconds"], 1, "{body}");
    assert!(
        within("the open socket to end", open.next())
            .await
            .is_none_or(|r| r.is_err()),
        "offline drops what is open"
    );
    let connect =
        |tab: &str| tokio_tungstenite::connect_async(app.ws_url(&format!("/ws?tab={tab}")));
    let refused = within("a handshake while offline", connect(A)).await;
    assert!(refused.is_err(), "cut while offline");
    assert!(
        within("B's handshake", connect(B)).await.is_ok(),
        "B is online"
    );
    let sse = app.http.get(app.url(&format!("/api/sse?tab={A}"))).send();
    assert_eq!(
        within("A's SSE", sse).await.unwrap().status(),
        200,
        "only ws is offline"
    );

    within("A back online", async {
        while connect(A).await.is_err() {
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    })
    .await;
    let offline_for = asked.elapsed();
    assert!(
        offline_for >= Duration::from_millis(950),
        "back after {offline_for:?}, before its second was over"
    );
}

/// Bad faults are 400s that say what was wrong, in JSON; a tab the
/// server does not know is a 404; another site's page is refused.
#[tokio::test]
async fn bad_faults_are_400_json_and_an_unknown_tab_404() {
    let app = spawn_app(test_config());
    app.get_json(&format!("/api/poll?tab={A}")).await;
    for (body, error) in [
        (
            json!({"technique": "smoke", "fault": "drop"}),
            "bad_technique",
        ),
        (json!({"fault": "drop"}), "bad_technique"),
        (json!({"technique": "sse", "fault": "unplug"}), "bad_fault"),
        (json!({"technique": "sse"}), "bad_fault"),
        (
            json!({"technique": "ws", "fault": "offline"}),
            "bad_seconds",
        ),
        (
            json!({"technique": "ws", "fault": "offline", "seconds": 0}),
            "bad_seconds",
        ),
        (
            json!({"technique": "ws", "fault": "offline", "seconds": 61}),
            "bad_seconds",
        ),
        (
            json!({"technique": "ws", "fault": "offline", "seconds": "5"}),
            "bad_seconds",
        ),
    ] {
        let (status, answer) = post_fault(&app, A, body.clone()).await;
        assert_eq!(status, 400, "{body} → {answer}");
        assert_eq!(answer["error"], error, "{body} → {answer}");
        assert!(answer["message"].as_str().is_some_and(|m| !m.is_empty()));
    }
    let drop = json!({"technique": "sse", "fault": "drop"});
    let (status, answer) = post_fault(&app, B, drop.clone()).await;
    assert_eq!(
        (status, &answer["error"]),
        (404, &json!("unknown_tab")),
        "{answer}"
    );
    let (status, answer) = post_fault(&app, "not-a-tab", drop.clone()).await;
    assert_eq!(
        (status, &answer["error"]),
        (400, &json!("bad_tab")),
        "{answer}"
    );

    let response = app
        .http
        .post(app.url(&format!("/api/tabs/{A}/faults")))
        .header("Origin", "https://evil.example")
        .json(&drop)
        .send();
    let response = within("a foreign page's fault", response).await.unwrap();
    assert_eq!(response.status(), 403);
}

async fn post_restart(app: &TestApp, key: Option<&str>) -> (u16, Value) {
    let mut request = app.http.post(app.url("/api/hub/restart"));
    if let Some(key) = key {
        request = request.bearer_auth(key);
    }
    let response = within("POST restart", request.send()).await.unwrap();
    let status = response.status().as_u16();
    (status, response.json().await.unwrap())
}

/// With the controls closed, restarting the hub takes the teacher key;
/// with it, the hub begins a new run: a new epoch, ids from 1 again.
#[tokio::test]
async fn restarting_the_hub_takes_the_teacher_key_and_starts_a_new_run() {
    let key = "a-teacher-key-of-some-length";
    let app = spawn_app(pushlab::Config {
        teacher_key: Some(key.into()),
        open_controls: Some(false),
        ..test_config()
    });
    app.publish("test", "one").await;
    app.publish("test", "two").await;
    let (_, before) = app.get_json("/api/poll?since=0").await;

    let (status, refused) = post_restart(&app, None).await;
    assert_eq!(
        (status, &refused["error"]),
        (403, &json!("teacher_only")),
        "{refused}"
    );
    let (status, refused) = post_restart(&app, Some("not-the-key-at-all")).await;
    assert_eq!(status, 403, "{refused}");
    assert_eq!(
        app.get_json("/api/poll?since=0").await.1["epoch"],
        before["epoch"]
    );

    let (status, restarted) = post_restart(&app, Some(key)).await;
    assert_eq!(status, 200, "{restarted}");
    assert_eq!(restarted["previous_epoch"], before["epoch"]);
    assert_ne!(restarted["epoch"], before["epoch"]);
    let old_cursor = format!(
        "/api/poll?since=2&epoch={}",
        before["epoch"].as_str().unwrap()
    );
    let (_, after) = app.get_json(&old_cursor).await;
    assert_eq!(after["epoch"], restarted["epoch"]);
    assert_eq!(after["reset"], true, "a cursor from before starts over");
    assert_eq!(after["next"], 0, "the ring is empty");
    assert_eq!(app.publish("test", "again").await, 1, "ids from 1 again");
}

/// A parked long-poll, an SSE stream and a WebSocket are each told at once
/// that the hub started over, with the new epoch, and go on with its ids.
#[tokio::test]
async fn a_restart_tells_every_parked_client_to_start_over() {
    let app = spawn_app(test_config());
    for text in ["one", "two", "three"] {
        app.publish("test", text).await;
    }
    let longpoll = tokio::spawn({
        let (http, url) = (
            app.http.clone(),
            app.url("/api/longpoll?since=3&timeout=30"),
        );
        async move { http.get(url).send().await?.json::<Value>().await }
    });
    let mut sse = SseClient::connect(&app, "/api/sse?since=3", None).await;
    let mut ws = ws_connect(&app, "/ws?since=3").await;
    assert_eq!(ws_next_json(&mut ws).await["type"], "hello");
    wait_for_subscribers(&app, 3).await;

    let (status, restarted) = post_restart(&app, None).await;
    assert_eq!(status, 200, "controls are open on loopback: {restarted}");
    let epoch = &restarted["epoch"];

    let answer = within("the long-poll's answer", longpoll)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        (&answer["reset"], &answer["epoch"]),
        (&json!(true), epoch),
        "{answer}"
    );
    assert_eq!(answer["next"], 0, "{answer}");
    let gap = loop {
        let event = sse.next_event().await.expect("the stream goes on");
        if event.event == "gap" {
            break serde_json::from_str::<Value>(&event.data).unwrap();
        }
    };
    assert_eq!(
        (&gap["reset"], &gap["epoch"]),
        (&json!(true), epoch),
        "{gap}"
    );
    let frame = ws_next_json(&mut ws).await;
    assert_eq!(frame["type"], "gap", "{frame}");
    assert_eq!(
        (&frame["reset"], &frame["epoch"]),
        (&json!(true), epoch),
        "{frame}"
    );

    app.publish("test", "new run").await;
    assert_eq!(sse.next_message().await["id"], 1);
    assert_eq!(ws_next_message(&mut ws).await["id"], 1);
}

/// With a shared broker one instance cannot start the stream over alone:
/// a 409 that says so, and nothing changes.
#[tokio::test]
async fn a_restart_with_a_shared_broker_is_refused_with_409() {
    let Some(redis) = crate::support::redis_server::RedisServer::start() else {
        return;
    };
    let app = spawn_app(pushlab::Config {
        broker: Some(redis.url()),
        ..test_config()
    });
    within("the instance to serve", async {
        while app.http.get(app.url("/healthz")).send().await.is_err() {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    })
    .await;
    let (_, before) = app.get_json("/api/poll").await;
    let (status, refused) = post_restart(&app, None).await;
    assert_eq!(
        (status, &refused["error"]),
        (409, &json!("shared_broker")),
        "{refused}"
    );
    assert_eq!(app.get_json("/api/poll").await.1["epoch"], before["epoch"]);
}
