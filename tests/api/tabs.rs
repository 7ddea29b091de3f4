//! A tab's own figures (`/api/tabs/{id}`): each tab counts exactly its own
//! requests, bytes and deliveries, the class counts everyone's, a tab's
//! reset touches that tab alone, and the class's recent window forgets.

use serde_json::Value;

use crate::helpers::*;

const A: &str = "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa";
const B: &str = "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb";

/// `GET /api/tabs/{id}`'s figures of one technique.
async fn tab(app: &TestApp, id: &str, technique: &str) -> Value {
    let (status, body) = app.get_json(&format!("/api/tabs/{id}")).await;
    assert_eq!(status, 200, "{body}");
    body["techniques"][technique].clone()
}

/// Polls the tab's figures until `field` of `technique` equals `want`.
async fn wait_for_tab(app: &TestApp, id: &str, technique: &str, field: &str, want: u64) {
    within(&format!("tab {technique}.{field} == {want}"), async {
        while tab(app, id, technique).await[field] != want {
            tokio::time::sleep(std::time::Duration::from_millis(10)).await;
        }
    })
    .await
}

async fn post_reset(app: &TestApp, id: &str, origin: Option<&str>) -> reqwest::Response {
    let mut request = app.http.post(app.url(&format!("/api/tabs/{id}/reset")));
    if let Some(origin) = origin {
        request = request.header("Origin", origin);
    }
    within("reset", request.send()).await.unwrap()
}

/// Two tabs and a client without one: each tab sees only its own
/// requests and deliveries, the class sees all of them, and reading a
/// tab's figures is nobody's traffic.
#[tokio::test]
async fn each_tab_counts_its_own_and_the_class_counts_all() {
    let app = spawn_app(test_config());
    app.publish("test", "one").await;
    for _ in 0..3 {
        app.get_json(&format!("/api/poll?since=0&tab={A}")).await;
    }
    for _ in 0..2 {
        app.get_json(&format!("/api/poll?since=1&tab={B}")).await;
    }
    for _ in 0..4 {
        app.get_json("/api/poll?since=0").await;
    }
    app.get_json(&format!("/api/longpoll?since=0&tab={B}"))
        .await;
    let mut sse = SseClient::connect(&app, &format!("/api/sse?since=0&tab={A}"), None).await;
    assert_eq!(sse.next_message().await["text"], "one");
    let mut ws = ws_connect(&app, &format!("/ws?since=0&tab={B}")).await;
    assert_eq!(ws_next_message(&mut ws).await["text"], "one");
    wait_for_tab(&app, B, "ws", "messages_delivered", 1).await;

    let a_poll = tab(&app, A, "poll").await;
    assert_eq!(a_poll["requests"], 3);
    assert_eq!(a_poll["empty_responses"], 0);
    assert_eq!(a_poll["messages_delivered"], 3);
    assert_eq!(a_poll["latency_ms"]["count"], 3);
    let b_poll = tab(&app, B, "poll").await;
    assert_eq!(b_poll["requests"], 2);
    assert_eq!(b_poll["empty_responses"], 2);
    assert_eq!(b_poll["messages_delivered"], 0);
    assert_eq!(tab(&app, A, "longpoll").await["requests"], 0);
    assert_eq!(tab(&app, B, "longpoll").await["requests"], 1);
    assert_eq!(tab(&app, B, "longpoll").await["messages_delivered"], 1);
    let a_sse = tab(&app, A, "sse").await;
    assert_eq!(a_sse["requests"], 1);
    assert_eq!(a_sse["connections_open"], 1);
    assert_eq!(a_sse["messages_delivered"], 1);
    assert_eq!(tab(&app, B, "sse").await["requests"], 0);
    assert_eq!(tab(&app, A, "ws").await["requests"], 0);
    assert_eq!(tab(&app, B, "ws").await["connections_open"], 1);

    let class = &app.stats().await["techniques"];
    assert_eq!(class["poll"]["requests"], 9);
    assert_eq!(class["poll"]["messages_delivered"], 7);
    assert_eq!(class["longpoll"]["requests"], 1);
    assert_eq!(class["sse"]["requests"], 1);
    assert_eq!(class["ws"]["requests"], 1);

    // The stream closed, the tab's open connection is gone too.
    drop(sse);
    wait_for_tab(&app, A, "sse", "connections_open", 0).await;
    // All the reading above moved no technique's counter.
    assert_eq!(app.technique_stat("poll", "requests").await, 9);
}

/// A tab's bytes are the bytes on the wire: what a raw socket sent and
/// received, request line, headers and framing included.
#[tokio::test]
async fn a_tabs_bytes_are_the_bytes_on_the_wire() {
    let app = spawn_app(test_config());
    app.publish("test", "counted").await;
    let mut raw = Raw::connect(&app).await;
    let mut received = 0;
    for since in [0, 1] {
        let request = format!(
            "GET /api/poll?since={since}&tab={A} HTTP/1.1\r\nHost: localhost\r\nUser-Agent: test\r\n\r\n"
        );
        raw.send(request.as_bytes()).await;
        received += raw.read_response().await.len();
    }
    let poll = tab(&app, A, "poll").await;
    assert_eq!(poll["bytes_in"], raw.sent as u64);
    assert_eq!(poll["bytes_out"], received as u64);
    assert_eq!(poll["requests"], 2);

    // A WebSocket: the handshake, then each frame with its header.
    let mut raw = Raw::connect(&app).await;
    let head = raw.ws_handshake(&format!("/ws?tab={B}"), None).await;
    assert!(head.starts_with("HTTP/1.1 101"), "{head}");
    let hello = {
        use tokio::io::AsyncReadExt;
        let mut header = [0u8; 2];
        raw.stream.read_exact(&mut header).await.unwrap();
        let mut payload = vec![0u8; (header[1] & 0x7f) as usize];
        raw.stream.read_exact(&mut payload).await.unwrap();
        2 + payload.len()
    };
    wait_for_tab(&app, B, "ws", "bytes_out", (head.len() + hello) as u64).await;
    let frame = serde_json::json!({"type": "publish", "author": "a", "text": "b"}).to_string();
    raw.send_frame(true, 0x1, frame.as_bytes()).await;
    wait_for_tab(&app, B, "ws", "bytes_in", raw.sent as u64).await;
    // Tab A's figures did not move, the class's hold both.
    assert_eq!(tab(&app, A, "ws").await["bytes_in"], 0);
    assert_eq!(
        app.technique_stat("poll", "bytes_out").await,
        received as u64
    );
}

/// Reset starts one tab's figures from zero: not another tab's, not the
/// class's, and not its open connections (a reset closes nothing). It is
/// refused from a foreign page.
#[tokio::test]
async fn a_reset_zeroes_that_tab_only() {
    let app = spawn_app(test_config());
    app.publish("test", "one").await;
    for id in [A, B] {
        app.get_json(&format!("/api/poll?since=0&tab={id}")).await;
    }
    let mut sse = SseClient::connect(&app, &format!("/api/sse?since=0&tab={A}"), None).await;
    sse.next_message().await;

    let refused = post_reset(&app, A, Some("http://evil.example")).await;
    assert_eq!(refused.status(), 403);
    assert_eq!(tab(&app, A, "poll").await["requests"], 1);

    let response = post_reset(&app, A, None).await;
    assert_eq!(response.status(), 204);
    let poll = tab(&app, A, "poll").await;
    for field in [
        "requests",
        "empty_responses",
        "messages_delivered",
        "bytes_in",
        "bytes_out",
    ] {
        assert_eq!(poll[field], 0, "{field}");
    }
    assert_eq!(poll["latency_ms"]["count"], 0);
    let a_sse = tab(&app, A, "sse").await;
    assert_eq!(a_sse["requests"], 0);
    assert_eq!(a_sse["messages_delivered"], 0);
    assert_eq!(a_sse["connections_open"], 1, "a reset closes nothing");

    let other = tab(&app, B, "poll").await;
    assert_eq!(other["requests"], 1);
    assert_eq!(other["messages_delivered"], 1);
    assert_eq!(app.technique_stat("poll", "requests").await, 2);
    assert_eq!(app.technique_stat("sse", "messages_delivered").await, 1);

    // Counting goes on from zero.
    app.publish("test", "two").await;
    sse.next_message().await;
    wait_for_tab(&app, A, "sse", "messages_delivered", 1).await;
}

/// A malformed id is a 400 `bad_tab`, an id never seen a 404
/// `unknown_tab`, both in JSON; HEAD answers as GET does, without a body.
#[tokio::test]
async fn bad_and_unknown_tabs_are_refused_clearly() {
    let app = spawn_app(test_config());
    for path in [
        "/api/tabs/short",
        "/api/tabs/has%20a%20space%20in%20it%20here",
    ] {
        let (status, body) = app.get_json(path).await;
        assert_eq!(status, 400, "{path}");
        assert_eq!(body["error"], "bad_tab");
    }
    let (status, body) = app.get_json(&format!("/api/tabs/{A}")).await;
    assert_eq!(status, 404);
    assert_eq!(body["error"], "unknown_tab");
    assert!(body["message"].as_str().unwrap().contains("forgotten"));
    let response = post_reset(&app, A, None).await;
    assert_eq!(response.status(), 404);
    assert_eq!(
        response.json::<Value>().await.unwrap()["error"],
        "unknown_tab"
    );
    let response = post_reset(&app, "nope", None).await;
    assert_eq!(response.status(), 400);

    app.get_json(&format!("/api/poll?tab={A}")).await;
    let head = within(
        "HEAD",
        app.http.head(app.url(&format!("/api/tabs/{A}"))).send(),
    )
    .await
    .unwrap();
    assert_eq!(head.status(), 200);
    assert_eq!(head.headers()["content-type"], "application/json");
    assert!(head.bytes().await.unwrap().is_empty());
    let wrong = within(
        "DELETE",
        app.http.delete(app.url(&format!("/api/tabs/{A}"))).send(),
    )
    .await
    .unwrap();
    assert_eq!(wrong.status(), 405);
}

/// Every technique in `/api/stats` has a recent window beside the whole
/// run's figures: live latency of the last minute, backlog apart.
#[tokio::test]
async fn the_class_figures_have_a_recent_window() {
    let app = spawn_app(test_config());
    let empty = &app.stats().await["techniques"]["poll"]["recent"];
    assert_eq!(empty["window_s"], 60);
    assert_eq!(empty["latency_ms"]["count"], 0);
    app.publish("test", "one").await;
    app.get_json("/api/poll?since=0").await;
    let poll = &app.stats().await["techniques"]["poll"];
    assert_eq!(poll["recent"]["latency_ms"]["count"], 1);
    assert_eq!(poll["recent"]["backlog_delivered"], 0);
    assert_eq!(
        poll["recent"]["latency_ms"]["count"],
        poll["latency_ms"]["count"]
    );
    // The contract's fields are all still there.
    for field in [
        "requests",
        "empty_responses",
        "connections_open",
        "messages_delivered",
        "messages_missed",
        "bytes_in",
        "bytes_out",
    ] {
        assert!(poll[field].is_u64(), "{field}");
    }
    for q in ["count", "p50", "p90", "p99", "max"] {
        assert!(poll["latency_ms"][q].is_number(), "{q}");
    }
}
