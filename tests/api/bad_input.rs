//! Every bad input gets a 4xx JSON error that says what was wrong, and
//! nothing is stored.

use reqwest::Method;
use serde_json::Value;

use crate::helpers::*;

async fn assert_refused(app: &TestApp, response: reqwest::Response, status: u16, code: &str) {
    assert_eq!(response.status().as_u16(), status, "status for {code}");
    assert!(
        response.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("application/json")
    );
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["error"], code, "{body}");
    assert!(body["message"].as_str().unwrap().len() > 10, "{body}");
    assert_eq!(
        app.stats().await["hub"]["last_id"],
        0,
        "nothing may be stored"
    );
}

/// `since` must be a non-negative integer that fits in 64 bits, on every technique.
#[tokio::test]
async fn bad_cursors_are_refused_on_every_technique() {
    let app = spawn_app(test_config());
    for technique in ["/api/poll", "/api/longpoll", "/api/sse", "/ws"] {
        for bad in ["abc", "-1", "1.5", "18446744073709551616", ""] {
            let url = app.url(&format!("{technique}?since={bad}"));
            let response = within(&url, app.http.get(&url).send()).await.unwrap();
            assert_refused(&app, response, 400, "bad_cursor").await;
        }
    }
    let response = app
        .http
        .get(app.url("/api/sse"))
        .header("Last-Event-ID", "yesterday")
        .send()
        .await
        .unwrap();
    assert_refused(&app, response, 400, "bad_cursor").await;
}

/// A long-poll timeout that is not a number of seconds is refused (one
/// outside 0–60 is clamped: `longpoll.rs`).
#[tokio::test]
async fn bad_timeouts_are_refused() {
    let app = spawn_app(test_config());
    for bad in ["soon", "NaN", "", "1s", "5%20min"] {
        let url = app.url(&format!("/api/longpoll?timeout={bad}"));
        let response = app.http.get(&url).send().await.unwrap();
        assert_refused(&app, response, 400, "bad_timeout").await;
    }
}

/// A query string that does not parse (a parameter given twice) is
/// refused, on every technique.
#[tokio::test]
async fn a_malformed_query_is_refused() {
    let app = spawn_app(test_config());
    for technique in ["/api/poll", "/api/longpoll", "/api/sse", "/ws"] {
        let url = app.url(&format!("{technique}?since=1&since=2"));
        let response = within(&url, app.http.get(&url).send()).await.unwrap();
        assert_refused(&app, response, 400, "bad_query").await;
    }
}

async fn post(
    app: &TestApp,
    content_type: &str,
    body: impl Into<reqwest::Body>,
) -> reqwest::Response {
    within(
        "POST /api/messages",
        app.http
            .post(app.url("/api/messages"))
            .header("content-type", content_type)
            .body(body)
            .send(),
    )
    .await
    .unwrap()
}

/// Malformed JSON, missing fields and wrong types are 400s.
#[tokio::test]
async fn malformed_json_is_refused() {
    let app = spawn_app(test_config());
    for body in [
        "{not json",
        r#"{"author": "a"}"#,
        r#"{"author": 5, "text": "x"}"#,
        r#"["a", "b"]"#,
        "",
    ] {
        let response = post(&app, "application/json", body).await;
        assert_refused(&app, response, 400, "bad_json").await;
    }
}

/// A body that is not declared as JSON is a 415.
#[tokio::test]
async fn a_wrong_content_type_is_refused() {
    let app = spawn_app(test_config());
    let body = r#"{"author": "a", "text": "b"}"#;
    for content_type in ["text/plain", "application/x-www-form-urlencoded"] {
        let response = post(&app, content_type, body).await;
        assert_refused(&app, response, 415, "unsupported_media_type").await;
    }
}

/// Empty or over-long fields are 400s; limits count characters, not bytes.
#[tokio::test]
async fn empty_or_overlong_fields_are_refused() {
    let app = spawn_app(test_config());
    for (author, text) in [
        ("".to_string(), "x".to_string()),
        ("a".to_string(), "".to_string()),
        ("a".to_string(), "   ".to_string()),
        ("a".repeat(33), "x".to_string()),
        ("a".to_string(), "x".repeat(501)),
        ("a".to_string(), "é".repeat(501)),
    ] {
        let body = serde_json::json!({"author": author, "text": text}).to_string();
        let response = post(&app, "application/json", body).await;
        assert_refused(&app, response, 400, "bad_message").await;
    }
    // 500 two-byte characters are 1000 bytes but within the limit.
    let body = serde_json::json!({"author": "é".repeat(32), "text": "é".repeat(500)}).to_string();
    assert_eq!(post(&app, "application/json", body).await.status(), 201);
}

/// A body over 4 KiB is a 413, whether its length is declared or streamed.
#[tokio::test]
async fn a_body_over_4_kib_is_refused() {
    let app = spawn_app(test_config());
    let big = serde_json::json!({"author": "a", "text": "x".repeat(5000)}).to_string();
    let response = post(&app, "application/json", big.clone()).await;
    assert_refused(&app, response, 413, "body_too_large").await;

    let stream = futures_util::stream::iter(vec![Ok::<_, std::io::Error>(big.into_bytes())]);
    let response = post(&app, "application/json", reqwest::Body::wrap_stream(stream)).await;
    assert_refused(&app, response, 413, "body_too_large").await;
}

/// Unknown routes are a JSON 404; a wrong method on a known route a JSON 405
/// whose `Allow` header says what works there.
#[tokio::test]
async fn unknown_routes_and_methods_are_json_errors() {
    let app = spawn_app(test_config());
    let response = app
        .http
        .get(app.url("/api/nothing-here"))
        .send()
        .await
        .unwrap();
    assert_refused(&app, response, 404, "not_found").await;
    let wrong = [
        (Method::DELETE, "/api/poll", "GET"),
        (Method::HEAD, "/api/sse", "GET"),
        (Method::POST, "/ws", "GET"),
        (Method::GET, "/api/messages", "POST"),
        (Method::PUT, "/api/generator", "GET, HEAD, POST"),
        (Method::POST, "/", "GET, HEAD"),
        (Method::DELETE, "/docs/02-short-polling", "GET, HEAD"),
        (Method::POST, "/healthz", "GET, HEAD"),
    ];
    for (method, path, allowed) in wrong {
        let response = app
            .http
            .request(method.clone(), app.url(path))
            .send()
            .await
            .unwrap();
        assert_eq!(response.headers()["allow"], allowed, "{method} {path}");
        if method == Method::HEAD {
            assert_eq!(response.status(), 405, "{method} {path}");
        } else {
            assert_refused(&app, response, 405, "method_not_allowed").await;
        }
    }
}

/// A plain GET on /ws (no upgrade) is a JSON 400, not a crash.
#[tokio::test]
async fn a_plain_get_on_ws_is_refused() {
    let app = spawn_app(test_config());
    let response = app.http.get(app.url("/ws")).send().await.unwrap();
    assert_refused(&app, response, 400, "bad_handshake").await;
}
