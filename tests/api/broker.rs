//! Several instances over one Redis (`--broker`): the same stream with the
//! same ids on each, cursors that work on any instance, and a Redis outage
//! that refuses publishes and reports what it cost, never a silent hole.
//! Each test starts a real `redis-server` (see `redis_server.rs`).

use std::time::Duration;

use serde_json::{Value, json};

use crate::helpers::*;
use crate::support::redis_server::RedisServer;

/// Two instances, A and B, sharing `redis`, both serving.
async fn two_instances(redis: &RedisServer) -> (TestApp, TestApp) {
    let config = || pushlab::Config {
        broker: Some(redis.url()),
        ..test_config()
    };
    let (a, b) = (spawn_app(config()), spawn_app(config()));
    ready(&a).await;
    ready(&b).await;
    (a, b)
}

/// Waits until `app` serves (its broker connection is made before it
/// listens, so the first answer means it is ready).
async fn ready(app: &TestApp) {
    within("the instance to serve", async {
        while app.http.get(app.url("/healthz")).send().await.is_err() {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    })
    .await;
}

/// (id, text) of each message in a JSON array.
fn id_texts(messages: &[Value]) -> Vec<(u64, String)> {
    messages
        .iter()
        .map(|m| {
            (
                m["id"].as_u64().unwrap(),
                m["text"].as_str().unwrap().into(),
            )
        })
        .collect()
}

/// Long-polls `app` from `since` until `count` messages came; every answer
/// must be clean (no gap, no reset).
async fn longpoll_collect(app: &TestApp, mut since: u64, count: usize) -> Vec<Value> {
    let mut got = Vec::new();
    while got.len() < count {
        let (status, answer) = app
            .get_json(&format!("/api/longpoll?since={since}&timeout=5"))
            .await;
        assert_eq!(status, 200);
        assert_eq!(answer["missed"], 0, "{answer}");
        assert_eq!(answer["reset"], false, "{answer}");
        got.extend(answer["messages"].as_array().unwrap().iter().cloned());
        since = answer["next"].as_u64().unwrap();
    }
    got
}

#[tokio::test]
async fn messages_published_on_one_instance_reach_every_technique_on_the_other() {
    let Some(redis) = RedisServer::start() else {
        return;
    };
    let (a, b) = two_instances(&redis).await;

    // B's clients, one per technique, all from the start of the stream.
    let mut sse = SseClient::connect(&b, "/api/sse?since=0", None).await;
    let mut ws = ws_connect(&b, "/ws?since=0").await;
    assert_eq!(ws_next_json(&mut ws).await["type"], "hello");
    // A publishes three by POST and two over its WebSocket, while B's
    // long-poll client waits for them.
    let (published, over_longpoll) = tokio::join!(publish_five(&a), longpoll_collect(&b, 0, 5));

    let mut over_sse = Vec::new();
    let mut over_ws = Vec::new();
    for _ in 0..5 {
        over_sse.push(sse.next_message().await);
        over_ws.push(ws_next_message(&mut ws).await);
    }
    assert_eq!(id_texts(&over_sse), published, "SSE on B");
    assert_eq!(id_texts(&over_ws), published, "WebSocket on B");
    assert_eq!(id_texts(&over_longpoll), published, "long-polling on B");
    let (_, poll) = b.get_json("/api/poll?since=0").await;
    assert_eq!(
        id_texts(poll["messages"].as_array().unwrap()),
        published,
        "short polling on B"
    );
    assert_eq!(poll["epoch"], a.stats().await["hub"]["epoch"], "one epoch");
}

/// Three messages by POST and two over a WebSocket, on `app`: (id, text)
/// of each, as `app` answered.
async fn publish_five(app: &TestApp) -> Vec<(u64, String)> {
    let mut published = Vec::new();
    for text in ["one", "two", "three"] {
        published.push((app.publish("a", text).await, text.to_owned()));
    }
    let mut publisher = ws_connect(app, "/ws").await;
    assert_eq!(ws_next_json(&mut publisher).await["type"], "hello");
    for text in ["four", "five"] {
        ws_send_json(
            &mut publisher,
            json!({"type": "publish", "author": "a", "text": text}),
        )
        .await;
        let reply = loop {
            let frame = ws_next_json(&mut publisher).await;
            if frame["type"] == "published" {
                break frame;
            }
        };
        published.push((reply["id"].as_u64().unwrap(), text.to_owned()));
    }
    assert_eq!(
        published.iter().map(|(id, _)| *id).collect::<Vec<_>>(),
        [1, 2, 3, 4, 5],
        "Redis numbers the messages from 1"
    );

    published
}

#[tokio::test]
async fn a_client_alternating_between_instances_sees_every_message_once() {
    let Some(redis) = RedisServer::start() else {
        return;
    };
    let (a, b) = two_instances(&redis).await;
    const TOTAL: u64 = 48;
    // Both instances publish, interleaved, while the client hops.
    let publishing = {
        let (a_url, b_url) = (a.url("/api/messages"), b.url("/api/messages"));
        tokio::spawn(async move {
            let http = reqwest::Client::new();
            for n in 0..TOTAL {
                let url = if n % 2 == 0 { &a_url } else { &b_url };
                let sent = http
                    .post(url)
                    .json(&json!({"author": "p", "text": format!("m{n}")}))
                    .send()
                    .await
                    .unwrap();
                assert_eq!(sent.status(), 201);
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
        })
    };

    // Each hop: another technique, on the other instance, from the cursor
    // the previous hop ended with.
    let mut seen: Vec<u64> = Vec::new();
    let mut cursor = 0;
    let mut hop = 0;
    while (seen.len() as u64) < TOTAL {
        let app = if hop % 2 == 0 { &a } else { &b };
        let got = match hop % 4 {
            0 => poll_once(app, cursor).await,
            1 => longpoll_collect(app, cursor, 1).await,
            2 => sse_some(app, cursor).await,
            _ => ws_some(app, cursor).await,
        };
        seen.extend(got.iter().map(|m| m["id"].as_u64().unwrap()));
        cursor = seen.last().copied().unwrap_or(cursor);
        hop += 1;
    }
    within("the publisher", publishing).await.unwrap();
    assert_eq!(
        seen,
        (1..=TOTAL).collect::<Vec<_>>(),
        "each id once, in order"
    );
}

/// One short poll; the messages it got (maybe none).
async fn poll_once(app: &TestApp, since: u64) -> Vec<Value> {
    let (status, answer) = app.get_json(&format!("/api/poll?since={since}")).await;
    assert_eq!(status, 200);
    assert_eq!(answer["missed"], 0, "{answer}");
    assert_eq!(answer["reset"], false, "{answer}");
    answer["messages"].as_array().unwrap().clone()
}

/// An SSE stream resumed with `Last-Event-ID`, read for one message.
async fn sse_some(app: &TestApp, since: u64) -> Vec<Value> {
    let mut sse = SseClient::connect(app, "/api/sse", Some(since)).await;
    loop {
        let event = sse.next_event().await.expect("the stream goes on");
        assert_ne!(event.event, "gap", "{}", event.data);
        if event.event == "message" {
            return vec![serde_json::from_str(&event.data).unwrap()];
        }
    }
}

/// A WebSocket resumed with `?since=`, read for one message.
async fn ws_some(app: &TestApp, since: u64) -> Vec<Value> {
    let mut ws = ws_connect(app, &format!("/ws?since={since}")).await;
    loop {
        let frame = ws_next_json(&mut ws).await;
        assert_ne!(frame["type"], "gap", "{frame}");
        if frame["type"] == "message" {
            return vec![frame];
        }
    }
}

/// POSTs a message; the status and the JSON answer.
async fn try_publish(app: &TestApp, text: &str) -> (u16, Value, Option<String>) {
    let response = within(
        "publish",
        app.http
            .post(app.url("/api/messages"))
            .json(&json!({"author": "a", "text": text}))
            .send(),
    )
    .await
    .unwrap();
    let status = response.status().as_u16();
    let retry_after = response
        .headers()
        .get("retry-after")
        .map(|v| v.to_str().unwrap().to_owned());
    (status, response.json().await.unwrap(), retry_after)
}

/// Publishes until the broker takes it (it is coming back); the id.
async fn publish_when_back(app: &TestApp, text: &str) -> u64 {
    within("the broker to come back", async {
        loop {
            match try_publish(app, text).await {
                (201, answer, _) => return answer["id"].as_u64().unwrap(),
                (503, _, _) => tokio::time::sleep(Duration::from_millis(50)).await,
                (status, answer, _) => panic!("unexpected {status}: {answer}"),
            }
        }
    })
    .await
}

#[tokio::test]
async fn a_redis_outage_refuses_publishes_and_its_lost_data_is_reported() {
    let Some(mut redis) = RedisServer::start() else {
        return;
    };
    let (a, b) = two_instances(&redis).await;
    let mut sse = SseClient::connect(&b, "/api/sse?since=0", None).await;
    let mut ws = ws_connect(&b, "/ws?since=0").await;
    for text in ["before-1", "before-2"] {
        a.publish("a", text).await;
    }
    for _ in 0..2 {
        sse.next_message().await;
        ws_next_message(&mut ws).await;
    }
    let old_epoch = b.stats().await["hub"]["epoch"].clone();

    redis.stop();
    let (status, answer, retry_after) = try_publish(&a, "during").await;
    assert_eq!(status, 503, "{answer}");
    assert_eq!(answer["error"], "broker_unavailable");
    assert!(retry_after.is_some(), "a 503 says when to retry");
    let mut publisher = ws_connect(&a, "/ws").await;
    ws_send_json(
        &mut publisher,
        json!({"type": "publish", "author": "a", "text": "during"}),
    )
    .await;
    let reply = loop {
        let frame = ws_next_json(&mut publisher).await;
        if frame["type"] != "hello" {
            break frame;
        }
    };
    assert_eq!(reply["type"], "error", "{reply}");
    assert_eq!(reply["error"], "broker_unavailable");

    // Redis comes back empty: the stream starts over under a new epoch.
    redis.restart();
    let id = publish_when_back(&a, "after").await;
    assert_eq!(id, 1, "a new stream numbers from 1");

    // B's clients stayed connected, and are told to start over first.
    let gap = loop {
        let event = sse.next_event().await.expect("the SSE stream stayed open");
        if event.event == "gap" {
            break serde_json::from_str::<Value>(&event.data).unwrap();
        }
        assert_ne!(
            event.event, "message",
            "no message before the gap: {event:?}"
        );
    };
    assert_eq!(gap["reset"], true, "{gap}");
    assert_ne!(gap["epoch"], old_epoch, "{gap}");
    assert_eq!(sse.next_message().await["text"], "after");
    let frame = ws_next_json(&mut ws).await;
    assert_eq!(frame["type"], "gap", "{frame}");
    assert_eq!(frame["reset"], true, "{frame}");
    assert_eq!(ws_next_message(&mut ws).await["text"], "after");
    // A poll with the old epoch's cursor is told too.
    let (_, answer) = b
        .get_json(&format!(
            "/api/poll?since=2&epoch={}",
            old_epoch.as_str().unwrap()
        ))
        .await;
    assert_eq!(answer["reset"], true, "{answer}");
    assert_eq!(ids(&answer["messages"]), [1]);

    let stats = b.stats().await;
    assert!(
        stats["broker"]["epoch_resets"].as_u64().unwrap() >= 1,
        "{stats}"
    );
    // The two refused during the outage, and any 503 that
    // `publish_when_back` met while Redis was starting again.
    let errors = a.stats().await["broker"]["publish_errors"]
        .as_u64()
        .unwrap();
    assert!(errors >= 2, "publish_errors {errors}");
}

#[tokio::test]
async fn a_redis_restart_that_keeps_its_data_loses_nothing() {
    let Some(mut redis) = RedisServer::start_keeping_data() else {
        return;
    };
    let (a, b) = two_instances(&redis).await;
    let mut sse = SseClient::connect(&b, "/api/sse?since=0", None).await;
    for text in ["one", "two"] {
        a.publish("a", text).await;
    }
    redis.stop();
    assert_eq!(try_publish(&a, "refused").await.0, 503);
    redis.restart();
    assert_eq!(publish_when_back(&a, "three").await, 3, "ids go on");
    let mut texts = Vec::new();
    while texts.len() < 3 {
        let event = sse.next_event().await.expect("the stream stayed open");
        assert_ne!(event.event, "gap", "nothing was lost: {}", event.data);
        if event.event == "message" {
            let message: Value = serde_json::from_str(&event.data).unwrap();
            texts.push(message["text"].as_str().unwrap().to_owned());
        }
    }
    assert_eq!(texts, ["one", "two", "three"]);
    let (_, answer) = b.get_json("/api/poll?since=2").await;
    assert_eq!(ids(&answer["messages"]), [3]);
}

#[tokio::test]
async fn a_lost_epoch_key_starts_a_new_stream_that_every_client_is_told_of() {
    let Some(redis) = RedisServer::start() else {
        return;
    };
    let (a, b) = two_instances(&redis).await;
    let mut sse = SseClient::connect(&b, "/api/sse?since=0", None).await;
    a.publish("a", "old").await;
    assert_eq!(sse.next_message().await["text"], "old");
    let old_epoch = b.stats().await["hub"]["epoch"].clone();
    // As if Redis had evicted the key under memory pressure. B's relay
    // notices within a quiet second and starts the new stream itself.
    assert_eq!(redis.command("DEL pushlab:epoch"), ":1");
    within("B to follow the new epoch", async {
        while b.stats().await["hub"]["epoch"] == old_epoch {
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    })
    .await;
    assert_eq!(
        a.publish("a", "new").await,
        1,
        "a new stream numbers from 1"
    );
    let gap = loop {
        let event = sse.next_event().await.expect("the stream stayed open");
        if event.event == "gap" {
            break serde_json::from_str::<Value>(&event.data).unwrap();
        }
    };
    assert_eq!(gap["reset"], true, "{gap}");
    assert_eq!(sse.next_message().await["text"], "new");
}

#[tokio::test]
async fn stats_and_metrics_report_the_broker() {
    let Some(redis) = RedisServer::start() else {
        return;
    };
    let (a, _b) = two_instances(&redis).await;
    a.publish("a", "measured").await;
    let broker = &a.stats().await["broker"];
    assert_eq!(broker["kind"], "redis");
    assert_eq!(broker["url"], redis.url());
    assert_eq!(broker["connected"], true);
    assert!(
        broker["round_trip_ms"]["count"].as_u64().unwrap() >= 1,
        "{broker}"
    );
    let metrics = a.metrics().await;
    for name in [
        "pushlab_broker_connected 1",
        "pushlab_broker_round_trip_ms{quantile=\"0.99\"}",
        "pushlab_broker_publish_errors_total 0",
    ] {
        assert!(metrics.contains(name), "{name} missing from /metrics");
    }
}

#[test]
fn an_unreachable_broker_stops_the_start_with_a_clear_error() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    // A port nobody listens on: bound, then released.
    let nobody = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("redis://{}", nobody.local_addr().unwrap());
    drop(nobody);
    let config = pushlab::Config {
        broker: Some(url.clone()),
        ..test_config()
    };
    let served = actix_web::rt::System::new().block_on(pushlab::run(listener, config, async {}));
    let error = served.expect_err("the server must not start without its broker");
    assert!(
        error.to_string().contains(&url),
        "the error names the broker: {error}"
    );
}

#[derive(clap::Parser)]
struct LoadCli {
    #[command(flatten)]
    load: pushlab::load::LoadArgs,
}

/// `pushlab load --url A --url B`: the clients are split over two instances,
/// the tool publishes to A, and every client on either gets every message.
#[tokio::test]
async fn the_load_tool_spreads_its_clients_over_instances_and_loses_nothing() {
    let Some(redis) = RedisServer::start() else {
        return;
    };
    let (a, b) = two_instances(&redis).await;
    let (a_url, b_url) = (a.url(""), b.url(""));
    let argv = [
        "load",
        "--url",
        &a_url,
        "--url",
        &b_url,
        "--clients",
        "20",
        "--rate",
        "20",
        "--duration",
        "1s",
    ];
    let args = <LoadCli as clap::Parser>::parse_from(argv).load;
    let local = tokio::task::LocalSet::new();
    let report = within(
        "the load run",
        local.run_until(pushlab::load::run_all(args)),
    )
    .await
    .expect("the load run succeeds");
    for (technique, result) in &report.techniques {
        assert_eq!(result.delivered, result.expected, "{technique}");
        assert_eq!(
            result.lost + result.duplicates + result.gaps,
            0,
            "{technique}"
        );
    }
    // Half of the clients were B's.
    assert_eq!(b.stats().await["techniques"]["ws"]["requests"], 10);
}
