//! Faults: clients that vanish, a server that restarts, a WebSocket peer
//! that stops mid-frame, and a request head that never ends. Each must
//! leave the server clean, or tell the client plainly what happened.

use std::time::{Duration, Instant};

use pushlab::Config;
use serde_json::Value;
use tokio::io::AsyncReadExt;

use crate::helpers::*;

/// 1,000 long-polls aborted mid-wait leave no waiter and no open count
/// behind.
#[tokio::test]
async fn a_thousand_aborted_long_polls_leave_no_waiter_behind() {
    const CLIENTS: u64 = 1000;
    let app = spawn_app(test_config());
    let mut clients = Vec::new();
    for _ in 0..CLIENTS {
        let mut raw = Raw::connect(&app).await;
        raw.send(b"GET /api/longpoll?timeout=60 HTTP/1.1\r\nHost: localhost\r\n\r\n")
            .await;
        clients.push(raw);
    }
    app.wait_for_stat("longpoll", "connections_open", CLIENTS)
        .await;
    assert_eq!(app.stats().await["hub"]["subscribers"], CLIENTS);

    drop(clients);
    app.wait_for_stat("longpoll", "connections_open", 0).await;
    assert_eq!(app.stats().await["hub"]["subscribers"], 0);
}

/// A cursor and epoch taken from a server that has since restarted.
struct OldCursor {
    next: u64,
    epoch: String,
}

/// Runs a server, publishes five messages, reads the cursor a client would
/// hold, and stops it.
async fn cursor_from_a_stopped_server() -> OldCursor {
    let mut old = spawn_app(test_config());
    for n in 1..=5 {
        old.publish("old", &format!("before the restart {n}")).await;
    }
    let (_, answer) = old.get_json("/api/poll?since=0").await;
    let cursor = OldCursor {
        next: answer["next"].as_u64().unwrap(),
        epoch: answer["epoch"].as_str().unwrap().to_owned(),
    };
    assert_eq!(cursor.next, 5);
    old.stop().unwrap();
    cursor
}

/// After a restart, a client resuming with its old cursor and epoch is told
/// to start over (`reset`) by every technique, and gets the new run's
/// messages from the start, instead of silently skipping them.
#[tokio::test]
async fn a_restarted_server_tells_every_technique_to_start_over() {
    let old = cursor_from_a_stopped_server().await;
    let new = spawn_app(test_config());
    new.publish("new", "after the restart 1").await;
    new.publish("new", "after the restart 2").await;
    let (next, epoch) = (old.next, &old.epoch);

    for technique in ["poll", "longpoll"] {
        let path = format!("/api/{technique}?since={next}&epoch={epoch}&timeout=5");
        let (status, answer) = new.get_json(&path).await;
        assert_eq!(status, 200);
        assert_eq!(answer["reset"], true, "{technique}: {answer}");
        assert_ne!(answer["epoch"], *epoch);
        assert_eq!(ids(&answer["messages"]), [1, 2], "{technique}");
    }

    let mut sse = SseClient::connect(&new, &format!("/api/sse?epoch={epoch}"), Some(next)).await;
    let hello = sse.next_event().await.unwrap();
    assert_eq!(hello.event, "hello");
    let gap = sse.next_event().await.unwrap();
    assert_eq!(gap.event, "gap");
    assert_eq!(
        serde_json::from_str::<Value>(&gap.data).unwrap()["reset"],
        true
    );
    assert_eq!(sse.next_message().await["id"], 1);

    let mut ws = ws_connect(&new, &format!("/ws?since={next}&epoch={epoch}")).await;
    let hello = ws_next_json(&mut ws).await;
    assert_eq!(hello["type"], "hello");
    assert_ne!(hello["epoch"], *epoch);
    let gap = ws_next_json(&mut ws).await;
    assert_eq!(gap["type"], "gap");
    assert_eq!(gap["reset"], true);
    assert_eq!(ws_next_message(&mut ws).await["id"], 1);
}

/// Only the epoch catches a restart after which the new run has already
/// passed the old cursor: without it, the client would skip ids 1 to 5.
#[tokio::test]
async fn a_restart_past_the_old_cursor_is_caught_by_the_epoch() {
    let old = cursor_from_a_stopped_server().await;
    let new = spawn_app(test_config());
    for n in 1..=8 {
        new.publish("new", &format!("after the restart {n}")).await;
    }
    let path = format!("/api/poll?since={}&epoch={}", old.next, old.epoch);
    let (_, answer) = new.get_json(&path).await;
    assert_eq!(answer["reset"], true);
    assert_eq!(ids(&answer["messages"]), [1, 2, 3, 4, 5, 6, 7, 8]);
}

/// A peer that sends half a WebSocket frame and goes silent is closed by
/// the idle timeout (1008), and its connection is gone.
#[tokio::test]
async fn a_websocket_peer_silent_mid_frame_is_dropped_by_the_idle_timeout() {
    let app = spawn_app(Config {
        ws_ping_interval: Duration::from_millis(50),
        ws_idle_timeout: Duration::from_millis(200),
        ..test_config()
    });
    let mut raw = Raw::connect(&app).await;
    let head = raw.ws_handshake("/ws", None).await;
    assert!(head.starts_with("HTTP/1.1 101"), "{head}");
    app.wait_for_stat("ws", "connections_open", 1).await;

    // A masked text frame header announcing 100 bytes, then only 3 of them.
    let started = Instant::now();
    raw.send(&[0x81, 0x80 | 100, 1, 2, 3, 4, b'a', b'b', b'c'])
        .await;
    assert_eq!(raw.read_close_code().await, 1008);
    let mut rest = [0u8; 64];
    let closed = within("the server to close the socket", async {
        loop {
            match raw.stream.read(&mut rest).await {
                Ok(0) | Err(_) => return,
                Ok(_) => continue, // pings sent before the close
            }
        }
    });
    closed.await;
    assert!(started.elapsed() < Duration::from_secs(5));
    app.wait_for_stat("ws", "connections_open", 0).await;
    assert_eq!(app.stats().await["hub"]["subscribers"], 0);
}

/// A request head trickled one byte at a time and never finished
/// (slowloris) is cut off at the request timeout: 408, then closed.
#[tokio::test]
async fn a_slowloris_request_is_cut_off_at_the_request_timeout() {
    let app = spawn_app(Config {
        request_timeout: Duration::from_millis(300),
        ..test_config()
    });
    let mut raw = Raw::connect(&app).await;
    let started = Instant::now();
    let trickle = b"GET /api/poll HTTP/1.1\r\nHost: localhost\r\nX-Slow: aaaaaaaaaaaaaaaaaaaaaaaa";
    let mut answer = Vec::new();
    within("the server to give up on the slow head", async {
        for byte in trickle.iter().cycle() {
            if raw.stream.try_write(&[*byte]).is_err() {
                break; // the server closed its end
            }
            let mut chunk = [0u8; 256];
            match tokio::time::timeout(Duration::from_millis(20), raw.stream.read(&mut chunk)).await
            {
                Err(_) => continue, // nothing yet: trickle on
                Ok(Ok(0) | Err(_)) => break,
                Ok(Ok(n)) => answer.extend_from_slice(&chunk[..n]),
            }
        }
    })
    .await;
    let elapsed = started.elapsed();
    let answer = String::from_utf8_lossy(&answer);
    assert!(
        answer.is_empty() || answer.starts_with("HTTP/1.1 408"),
        "{answer}"
    );
    assert!(
        elapsed >= Duration::from_millis(300) && elapsed < Duration::from_secs(3),
        "cut off after {elapsed:?}"
    );
}
