//! A graceful stop: parked long-polls answer, SSE streams end, WebSockets
//! get close 1001, and the server finishes.

use crate::helpers::*;

/// Shutting down answers every kind of open connection instead of cutting it.
#[tokio::test]
async fn shutdown_answers_long_polls_ends_streams_and_closes_websockets() {
    let mut app = spawn_app(test_config());
    let longpoll = tokio::spawn(app.http.get(app.url("/api/longpoll?timeout=60")).send());
    let mut sse = SseClient::connect(&app, "/api/sse", None).await;
    assert_eq!(sse.next_event().await.unwrap().event, "hello");
    let mut ws = Raw::connect(&app).await;
    ws.ws_handshake("/ws", None).await;
    app.wait_for_stat("longpoll", "connections_open", 1).await;

    let stopper = tokio::task::spawn_blocking(move || app.stop());

    let answer = within("the long-poll answer", longpoll)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(answer.status(), 200);
    assert!(sse.next_event().await.is_none(), "the SSE stream ends");
    assert_eq!(ws.read_close_code().await, 1001);
    within("the server to stop", stopper)
        .await
        .unwrap()
        .unwrap();
}
