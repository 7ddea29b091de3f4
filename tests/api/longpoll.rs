//! Long-polling: answers fast, times out empty, leaves nothing behind.

use std::time::{Duration, Instant};

use crate::helpers::*;

/// A parked long-poll answers within 100 ms of a publish.
#[tokio::test]
async fn long_poll_answers_soon_after_a_publish() {
    let app = spawn_app(test_config());
    let parked = app
        .http
        .get(app.url("/api/longpoll?since=0&timeout=30"))
        .send();
    let parked = tokio::spawn(parked);
    app.wait_for_stat("longpoll", "connections_open", 1).await;

    let published = Instant::now();
    app.publish("test", "wake up").await;
    let response = within("the long-poll answer", parked)
        .await
        .unwrap()
        .unwrap();
    let waited = published.elapsed();
    let answer: serde_json::Value = response.json().await.unwrap();
    assert_eq!(ids(&answer["messages"]), [1]);
    assert!(
        waited < Duration::from_millis(100),
        "answered after {waited:?}"
    );
}

/// A long-poll with nothing to say times out with an empty list.
#[tokio::test]
async fn long_poll_answers_empty_after_the_timeout() {
    let app = spawn_app(test_config());
    let started = Instant::now();
    let (status, answer) = app.get_json("/api/longpoll?since=0&timeout=0.3").await;
    assert_eq!(status, 200);
    assert!(started.elapsed() >= Duration::from_millis(300));
    assert_eq!(answer["messages"].as_array().unwrap().len(), 0);
    assert_eq!(answer["next"], 0);
    assert_eq!(app.technique_stat("longpoll", "empty_responses").await, 1);
}

/// A timeout outside 0–60 s is clamped, not refused: a negative one answers
/// at once, a huge one waits (60 s at most) and still gets the news.
#[tokio::test]
async fn out_of_range_timeouts_are_clamped() {
    let app = spawn_app(test_config());
    let (status, answer) = app.get_json("/api/longpoll?since=0&timeout=-5").await;
    assert_eq!(status, 200, "{answer}");
    assert_eq!(answer["messages"].as_array().unwrap().len(), 0);

    let url = app.url("/api/longpoll?since=0&timeout=1e9");
    let parked = tokio::spawn(app.http.get(url).send());
    app.wait_for_stat("longpoll", "connections_open", 1).await;
    app.publish("test", "still waiting").await;
    let response = within("the long-poll answer", parked)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(response.status(), 200);
    let answer: serde_json::Value = response.json().await.unwrap();
    assert_eq!(ids(&answer["messages"]), [1]);
}

/// 100 long-polls aborted mid-wait leave no waiter behind.
#[tokio::test]
async fn aborted_long_polls_leave_no_waiter_behind() {
    let app = spawn_app(test_config());
    let mut clients = Vec::new();
    for _ in 0..100 {
        let mut raw = Raw::connect(&app).await;
        raw.send(b"GET /api/longpoll?timeout=60 HTTP/1.1\r\nHost: localhost\r\n\r\n")
            .await;
        clients.push(raw);
    }
    app.wait_for_stat("longpoll", "connections_open", 100).await;
    assert_eq!(app.stats().await["hub"]["subscribers"], 100);

    drop(clients);
    app.wait_for_stat("longpoll", "connections_open", 0).await;
    assert_eq!(app.stats().await["hub"]["subscribers"], 0);
}
