//! Short polling: answers at once, with what came after the cursor.

use std::time::{Duration, Instant};

use crate::helpers::*;

/// Without `since` a poll starts from now: no messages, `next` the newest
/// id. With `since=0` it gets everything retained; with `since=next` only
/// what came after.
#[tokio::test]
async fn a_poll_answers_what_came_after_its_cursor() {
    let app = spawn_app(test_config());
    let first = app.publish("a", "one").await;
    let second = app.publish("a", "two").await;

    let (status, now) = app.get_json("/api/poll").await;
    assert_eq!(status, 200);
    assert_eq!(ids(&now["messages"]), Vec::<u64>::new());
    assert_eq!(now["next"], second);

    let (_, all) = app.get_json("/api/poll?since=0").await;
    assert_eq!(ids(&all["messages"]), vec![first, second]);
    assert_eq!(all["missed"], 0);

    let third = app.publish("a", "three").await;
    let (_, after) = app.get_json(&format!("/api/poll?since={second}")).await;
    assert_eq!(ids(&after["messages"]), vec![third]);
    assert_eq!(after["next"], third);
}

/// Nothing waits: a poll with nothing new is answered at once, empty.
#[tokio::test]
async fn an_empty_poll_is_answered_at_once() {
    let app = spawn_app(test_config());
    let started = Instant::now();
    let (status, answer) = app.get_json("/api/poll?since=0").await;
    assert_eq!(status, 200);
    assert_eq!(ids(&answer["messages"]), Vec::<u64>::new());
    // A poll that waited for news would still be waiting: nothing is
    // published. (A generous bound: this is not a speed figure.)
    assert!(started.elapsed() < Duration::from_secs(5));
}
