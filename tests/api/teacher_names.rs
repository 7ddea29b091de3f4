//! The teacher's names: publishing as `teacher` or `generator` takes the
//! teacher key (unless the controls are open), by POST and over WebSocket
//! alike, however the name is dressed up; every other name is anyone's.

use serde_json::{Value, json};

use crate::helpers::*;

const KEY: &str = "a-teacher-key-for-names";

/// A server on a LAN would close the controls; this one is told to.
fn closed_controls() -> pushlab::Config {
    pushlab::Config {
        open_controls: Some(false),
        teacher_key: Some(KEY.into()),
        ..test_config()
    }
}

async fn post(app: &TestApp, author: &str, key: Option<&str>, query: &str) -> (u16, Value) {
    let mut request = app
        .http
        .post(app.url(&format!("/api/messages{query}")))
        .json(&json!({"author": author, "text": "hello"}));
    if let Some(key) = key {
        request = request.bearer_auth(key);
    }
    let response = within("POST /api/messages", request.send()).await.unwrap();
    let status = response.status().as_u16();
    (status, response.json().await.unwrap())
}

/// Without the key, the two names — in any case, padded, or with invisible
/// characters inside — get 403 `teacher_only` and nothing is published.
#[tokio::test]
async fn a_student_may_not_post_as_the_teacher_or_the_generator() {
    let app = spawn_app(closed_controls());
    for author in [
        "teacher",
        "Teacher",
        " GENERATOR ",
        "te\u{200B}acher",
        "\u{202E}generator",
    ] {
        let (status, body) = post(&app, author, None, "").await;
        assert_eq!(status, 403, "{author:?}: {body}");
        assert_eq!(body["error"], "teacher_only", "{author:?}");
    }
    let (status, body) = post(&app, "ann", None, "").await;
    assert_eq!(status, 201, "{body}");
    assert_eq!(app.stats().await["hub"]["published"], 1, "only ann's");
}

/// With the key, as a Bearer token or `?key=`, the teacher publishes
/// under either name; a wrong key is no key.
#[tokio::test]
async fn the_teacher_posts_under_the_teachers_names_with_the_key() {
    let app = spawn_app(closed_controls());
    let (status, body) = post(&app, "teacher", Some(KEY), "").await;
    assert_eq!(status, 201, "{body}");
    let (status, body) = post(&app, "generator", None, &format!("?key={KEY}")).await;
    assert_eq!(status, 201, "{body}");
    let (status, _) = post(&app, "teacher", Some("not-the-teacher-key"), "").await;
    assert_eq!(status, 403);
}

/// Where the controls are open (loopback, by default), the names are open too.
#[tokio::test]
async fn open_controls_leave_the_names_open() {
    let app = spawn_app(test_config());
    let (status, body) = post(&app, "teacher", None, "").await;
    assert_eq!(status, 201, "{body}");
}

/// Over WebSocket the key is the handshake's (`/ws?key=…`): without it a
/// publish frame as `teacher` gets an error frame and the socket stays
/// open; with it, the message is published.
#[tokio::test]
async fn a_websocket_publishes_as_the_teacher_only_with_the_key_at_the_handshake() {
    let app = spawn_app(closed_controls());
    let publish = json!({"type": "publish", "author": "Teacher", "text": "hello"});

    let mut student = ws_connect(&app, "/ws").await;
    ws_next_json(&mut student).await; // hello
    ws_send_json(&mut student, publish.clone()).await;
    let reply = ws_reply(&mut student).await;
    assert_eq!(reply["type"], "error", "{reply}");
    assert_eq!(reply["error"], "teacher_only", "{reply}");
    ws_send_json(
        &mut student,
        json!({"type": "publish", "author": "ann", "text": "hi"}),
    )
    .await;
    assert_eq!(ws_reply(&mut student).await["type"], "published");

    let mut teacher = ws_connect(&app, &format!("/ws?key={KEY}")).await;
    ws_next_json(&mut teacher).await; // hello
    ws_send_json(&mut teacher, publish).await;
    let reply = ws_reply(&mut teacher).await;
    assert_eq!(reply["type"], "published", "{reply}");
}

/// The answer to a publish frame: the next frame that is not a message
/// (the published message itself may come first or after).
async fn ws_reply(socket: &mut WsStream) -> Value {
    loop {
        let frame = ws_next_json(socket).await;
        if frame["type"] != "message" {
            return frame;
        }
    }
}
