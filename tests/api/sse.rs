//! Server-Sent Events: the stream's format, and resuming it as a browser's
//! EventSource does (`Last-Event-ID`, the hello's `id:`).

use crate::helpers::*;

/// The stream opens with `retry:` and a hello naming the run and the
/// cursor, then each message as `id:` / `event: message` / `data:`.
#[tokio::test]
async fn the_stream_is_a_hello_then_one_event_per_message() {
    let app = spawn_app(test_config());
    let response = within("SSE connect", app.http.get(app.url("/api/sse")).send())
        .await
        .unwrap();
    assert_eq!(response.headers()["cache-control"], "no-cache");
    let mut body = response.bytes_stream();
    let first = within("the hello", futures_util::StreamExt::next(&mut body))
        .await
        .unwrap()
        .unwrap();
    let hello = String::from_utf8(first.to_vec()).unwrap();
    assert!(hello.starts_with("retry: "), "{hello:?}");
    assert!(
        hello.contains("\nevent: hello\ndata: {\"epoch\":"),
        "{hello:?}"
    );

    let id = app.publish("ada", "hello, stream").await;
    let next = within("a message", futures_util::StreamExt::next(&mut body))
        .await
        .unwrap()
        .unwrap();
    let event = String::from_utf8(next.to_vec()).unwrap();
    let expected_start = format!("id: {id}\nevent: message\ndata: {{\"id\":{id},");
    assert!(event.starts_with(&expected_start), "{event:?}");
    assert!(event.ends_with("\n\n"), "{event:?}");
}

/// A browser's EventSource reconnects to the URL it was opened with, which
/// may carry `?since=`, and adds `Last-Event-ID` with the last id it saw:
/// that header is the newer position, so the stream resumes after it instead
/// of sending again what the client already has.
#[tokio::test]
async fn an_sse_reconnect_resumes_from_last_event_id_not_the_urls_since() {
    let app = spawn_app(test_config());
    for i in 1..=4 {
        app.publish("a", &format!("m{i}")).await;
    }
    let (_, answer) = app.get_json("/api/poll?since=0").await;
    let epoch = answer["epoch"].as_str().unwrap().to_owned();

    let path = format!("/api/sse?since=1&epoch={epoch}");
    let mut sse = SseClient::connect(&app, &path, Some(3)).await;
    assert_eq!(sse.next_message().await["id"], 4);
}

/// The SSE hello carries the starting cursor as its `id:`, so a stream that
/// breaks before its first message reconnects with `Last-Event-ID` and
/// still gets what was published while it was away.
#[tokio::test]
async fn an_sse_stream_broken_before_its_first_message_misses_nothing() {
    let app = spawn_app(test_config());
    app.publish("a", "before").await;
    let mut sse = SseClient::connect(&app, "/api/sse", None).await;
    let hello = sse.next_event().await.unwrap();
    assert_eq!(hello.event, "hello");
    let id: u64 = hello.id.expect("the hello has an id").parse().unwrap();
    drop(sse);

    let missed = app.publish("a", "while away").await;
    let mut sse = SseClient::connect(&app, "/api/sse", Some(id)).await;
    assert_eq!(sse.next_message().await["id"], missed);
}
