//! Text a hostile client sends, and text the server sends back: invisible
//! and bidi characters in messages, `-0` as a rate, internal error text in
//! an error body, and a path of any length echoed by a 404.

use std::time::Duration;

use serde_json::{Value, json};

use crate::helpers::*;
use crate::support::redis_server::RedisServer;

/// Posts a message; the status and the JSON answer.
async fn post_message(app: &TestApp, author: &str, text: &str) -> (u16, Value) {
    let response = within(
        "POST /api/messages",
        app.http
            .post(app.url("/api/messages"))
            .json(&json!({"author": author, "text": text}))
            .send(),
    )
    .await
    .unwrap();
    let status = response.status().as_u16();
    (status, response.json().await.unwrap())
}

/// The messages the server keeps, as `/api/poll?since=0` gives them.
async fn retained(app: &TestApp) -> Vec<Value> {
    let (status, body) = app.get_json("/api/poll?since=0").await;
    assert_eq!(status, 200, "{body}");
    body["messages"].as_array().unwrap().clone()
}

/// An author or text made only of invisible characters — zero-width spaces,
/// bidi controls, a byte-order mark, with or without spaces — is refused as
/// empty, over POST and over WebSocket, and nothing is published.
#[tokio::test]
async fn a_field_of_only_invisible_characters_is_refused_as_empty() {
    let app = spawn_app(test_config());
    let invisible = [
        "\u{200B}",
        "\u{202E}",
        "\u{2066}\u{2069}",
        " \u{200B} \u{FEFF} ",
        "\u{200D}\u{200C}",
    ];
    for blank in invisible {
        for (author, text) in [(blank, "hello"), ("ann", blank)] {
            let (status, body) = post_message(&app, author, text).await;
            assert_eq!(status, 400, "{author:?}/{text:?}: {body}");
            assert_eq!(body["error"], "bad_message");
            assert!(
                body["message"].as_str().unwrap().contains("empty"),
                "{body}"
            );
        }
    }

    let mut socket = ws_connect(&app, "/ws").await;
    ws_next_json(&mut socket).await; // hello
    let publish = json!({"type": "publish", "author": "ann", "text": "\u{202E}\u{200B}"});
    ws_send_json(&mut socket, publish).await;
    let reply = ws_next_json(&mut socket).await;
    assert_eq!(reply["type"], "error", "{reply}");
    assert_eq!(reply["error"], "bad_message");

    assert!(retained(&app).await.is_empty(), "nothing was published");
}

/// Bidi controls and other format characters are removed before a message
/// is stored, so no reader's page shows a line reversed from the middle
/// ("exe.gnp" read as "png.exe"); the joiners that hold emoji together stay.
#[tokio::test]
async fn format_characters_are_removed_before_a_message_is_stored() {
    let app = spawn_app(test_config());
    let author = "te\u{200B}ach\u{202E}er";
    let text = "open \u{202E}gnp.exe\u{202C} and \u{2067}this\u{2069} 👩\u{200D}💻";
    let (status, body) = post_message(&app, author, text).await;
    assert_eq!(status, 201, "{body}");

    let messages = retained(&app).await;
    assert_eq!(messages.len(), 1);
    assert_eq!(messages[0]["author"], "teacher");
    assert_eq!(messages[0]["text"], "open gnp.exe and this 👩\u{200D}💻");
}

/// `-0.0` is a rate inside 0–100; it is stored and shown as 0, never "-0".
#[tokio::test]
async fn a_rate_of_minus_zero_is_stored_and_shown_as_0() {
    let app = spawn_app(test_config());
    for raw in ["{\"rate\": -0.0}", "{\"rate\": -0}", "{\"rate\": -0e3}"] {
        let response = within(
            "POST /api/generator",
            app.http
                .post(app.url("/api/generator"))
                .header("content-type", "application/json")
                .body(raw)
                .send(),
        )
        .await
        .unwrap();
        assert_eq!(response.status(), 200, "{raw}");
        let answer = response.text().await.unwrap();
        assert!(!answer.contains("-0"), "{raw} was answered {answer}");

        let shown = within("GET /api/generator", async {
            let response = app.http.get(app.url("/api/generator")).send().await;
            response.unwrap().text().await.unwrap()
        })
        .await;
        assert!(!shown.contains("-0"), "{raw} is shown as {shown}");
        let rate: Value = serde_json::from_str(&shown).unwrap();
        assert_eq!(rate["rate"], 0.0, "{shown}");
    }
}

/// With the broker gone, a publish is refused 503 with a sentence about the
/// message, not the broker's own error ("Connection refused (os error
/// 111)", its address), over POST and over WebSocket.
#[tokio::test]
async fn error_bodies_carry_no_internal_error_text() {
    let Some(mut redis) = RedisServer::start() else {
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
    let mut socket = ws_connect(&app, "/ws").await;
    ws_next_json(&mut socket).await; // hello
    redis.stop();

    let (status, body) = post_message(&app, "ann", "while the broker is away").await;
    assert_eq!(status, 503, "{body}");
    assert_eq!(body["error"], "broker_unavailable");
    assert_internal_text_absent(&body.to_string(), &redis.url());

    let publish = json!({"type": "publish", "author": "ann", "text": "and over WebSocket"});
    ws_send_json(&mut socket, publish).await;
    let reply = ws_next_json(&mut socket).await;
    assert_eq!(reply["error"], "broker_unavailable", "{reply}");
    assert_internal_text_absent(&reply.to_string(), &redis.url());
}

fn assert_internal_text_absent(body: &str, broker_url: &str) {
    let address = broker_url.trim_start_matches("redis://");
    let lower = body.to_lowercase();
    for internal in ["os error", "refused", "redis", address] {
        assert!(!lower.contains(internal), "{internal:?} in {body}");
    }
}

/// A 404 repeats at most 64 characters of the path and of the method, then
/// an ellipsis, however long they were.
#[tokio::test]
async fn a_404_does_not_echo_a_long_path_or_method() {
    let app = spawn_app(test_config());
    let long = "a".repeat(8000);
    let (status, body) = app.get_json(&format!("/{long}")).await;
    assert_eq!(status, 404, "{body}");
    assert_short_echo(&body);

    let method = "M".repeat(2000);
    let mut raw = Raw::connect(&app).await;
    let request = format!("{method} /{long} HTTP/1.1\r\nHost: localhost\r\n\r\n");
    raw.send(request.as_bytes()).await;
    let response = raw.read_response().await;
    let text = String::from_utf8_lossy(&response);
    assert!(text.starts_with("HTTP/1.1 404"), "{}", &text[..80]);
    let body: Value = serde_json::from_str(text.split("\r\n\r\n").nth(1).unwrap()).unwrap();
    assert_short_echo(&body);
}

fn assert_short_echo(body: &Value) {
    let message = body["message"].as_str().unwrap();
    let start: String = message.chars().take(100).collect();
    assert!(message.contains('…'), "{start}");
    assert!(
        message.chars().count() < 2 * 64 + 20,
        "{} characters: {start}",
        message.chars().count()
    );
}
