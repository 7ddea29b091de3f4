//! Who may change what: only known Host names reach anything that changes
//! state or opens a WebSocket (DNS rebinding), no foreign Origin may post,
//! and the global controls need the teacher key unless they are open.

use serde_json::{Value, json};

use crate::helpers::*;

const EVIL: &str = "evil.example:8080";

/// Sends one request by hand and returns its status and JSON body.
async fn send(
    app: &TestApp,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &str,
) -> (u16, Value) {
    let mut request = format!("{method} {path} HTTP/1.1\r\n");
    for (name, value) in headers {
        request.push_str(&format!("{name}: {value}\r\n"));
    }
    if !body.is_empty() {
        request.push_str(&format!(
            "Content-Type: application/json\r\nContent-Length: {}\r\n",
            body.len()
        ));
    }
    request.push_str("Connection: close\r\n\r\n");
    request.push_str(body);
    let mut raw = Raw::connect(app).await;
    raw.send(request.as_bytes()).await;
    let response = raw.read_response().await;
    let text = String::from_utf8_lossy(&response).into_owned();
    let status = text[9..12].parse().unwrap();
    let body = text.split_once("\r\n\r\n").map_or("", |(_, b)| b);
    (status, serde_json::from_str(body).unwrap_or(Value::Null))
}

async fn rate(app: &TestApp) -> f64 {
    app.get_json("/api/generator").await.1["rate"]
        .as_f64()
        .unwrap()
}

const HANDSHAKE: &[(&str, &str)] = &[
    ("Upgrade", "websocket"),
    ("Connection", "Upgrade"),
    ("Sec-WebSocket-Key", "dGhlIHNhbXBsZSBub25jZQ=="),
    ("Sec-WebSocket-Version", "13"),
];

/// A rebinding page controls both Host and Origin; the unknown Host alone
/// is refused with 421, on every endpoint that changes state, and nothing
/// changes.
#[tokio::test]
async fn a_rebound_host_changes_nothing() {
    let app = spawn_app(test_config());
    let rebound = [("Host", EVIL), ("Origin", "http://evil.example:8080")];

    let (status, body) = send(&app, "POST", "/api/generator", &rebound, r#"{"rate": 50}"#).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (421, Some("unknown_host"))
    );
    assert_eq!(rate(&app).await, 0.0);

    let (status, _) = send(
        &app,
        "POST",
        "/api/messages",
        &rebound,
        r#"{"author":"x","text":"y"}"#,
    )
    .await;
    assert_eq!(status, 421);
    assert_eq!(app.stats().await["hub"]["published"], 0);

    for path in ["/ws", "/ws/echo"] {
        let headers: Vec<_> = rebound.iter().chain(HANDSHAKE).copied().collect();
        let (status, body) = send(&app, "GET", path, &headers, "").await;
        assert_eq!(
            (status, body["error"].as_str()),
            (421, Some("unknown_host")),
            "{path}"
        );
    }
}

/// IP literals, localhost and names given with --allowed-host are served.
#[tokio::test]
async fn known_hosts_are_served() {
    let app = spawn_app(pushlab::Config {
        allowed_hosts: vec!["teacher.local".into()],
        ..test_config()
    });
    let post = |host: &'static str| {
        let app = &app;
        async move {
            let origin = format!("http://{host}");
            let headers = [("Host", host), ("Origin", origin.as_str())];
            send(
                app,
                "POST",
                "/api/messages",
                &headers,
                r#"{"author":"a","text":"b"}"#,
            )
            .await
            .0
        }
    };
    assert_eq!(post("127.0.0.1:8080").await, 201);
    assert_eq!(post("[::1]:8080").await, 201);
    assert_eq!(post("localhost:8080").await, 201);
    assert_eq!(post("teacher.local:8080").await, 201);
    assert_eq!(post("student.local:8080").await, 421);
}

/// A JSON POST from another site's page is refused, not only by the
/// browser's failed preflight; the scheme is part of the origin.
#[tokio::test]
async fn a_foreign_origin_may_not_post() {
    let app = spawn_app(test_config());
    let host = app.addr.to_string();
    for origin in ["https://evil.example", "null", &format!("https://{host}")] {
        let headers = [("Host", host.as_str()), ("Origin", origin)];
        let (status, body) = send(
            &app,
            "POST",
            "/api/messages",
            &headers,
            r#"{"author":"a","text":"b"}"#,
        )
        .await;
        assert_eq!(
            (status, body["error"].as_str()),
            (403, Some("forbidden_origin")),
            "{origin}"
        );
    }
    let headers = [
        ("Host", host.as_str()),
        ("Origin", &*format!("http://{host}")),
    ];
    let (status, _) = send(
        &app,
        "POST",
        "/api/messages",
        &headers,
        r#"{"author":"a","text":"b"}"#,
    )
    .await;
    assert_eq!(status, 201);
    assert_eq!(app.stats().await["hub"]["published"], 1);
}

/// With the controls closed, the generator's rate needs the teacher key,
/// as a Bearer token or ?key=; students still read it and still publish.
#[tokio::test]
async fn the_generator_needs_the_teacher_key_when_controls_are_closed() {
    let key = "a-teacher-key-for-tests";
    let app = spawn_app(pushlab::Config {
        teacher_key: Some(key.into()),
        open_controls: Some(false),
        ..test_config()
    });
    let host = app.addr.to_string();
    let student = [("Host", host.as_str())];
    let (status, body) = send(&app, "POST", "/api/generator", &student, r#"{"rate": 100}"#).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (403, Some("teacher_only"))
    );
    let wrong = [
        ("Host", host.as_str()),
        ("Authorization", "Bearer a-teacher-key-for-test"),
    ];
    assert_eq!(
        send(&app, "POST", "/api/generator", &wrong, r#"{"rate": 100}"#)
            .await
            .0,
        403
    );
    assert_eq!(rate(&app).await, 0.0);

    let bearer = format!("Bearer {key}");
    let teacher = [("Host", host.as_str()), ("Authorization", bearer.as_str())];
    assert_eq!(
        send(&app, "POST", "/api/generator", &teacher, r#"{"rate": 2}"#)
            .await
            .0,
        200
    );
    assert_eq!(rate(&app).await, 2.0);
    let path = format!("/api/generator?key={key}");
    assert_eq!(
        send(&app, "POST", &path, &student, r#"{"rate": 0}"#)
            .await
            .0,
        200
    );
    assert_eq!(rate(&app).await, 0.0);

    let (_, role) = app.get_json("/api/role").await;
    assert_eq!(role, json!({"teacher": false, "open_controls": false}));
    let (_, role) = app.get_json(&format!("/api/role?key={key}")).await;
    assert_eq!(role, json!({"teacher": true, "open_controls": false}));

    app.publish("student", "still allowed").await;
}

/// On loopback the controls are open by default, as before the key existed.
#[tokio::test]
async fn loopback_controls_are_open_by_default() {
    let app = spawn_app(test_config());
    let (_, role) = app.get_json("/api/role").await;
    assert_eq!(role, json!({"teacher": false, "open_controls": true}));
    let host = app.addr.to_string();
    let (status, _) = send(
        &app,
        "POST",
        "/api/generator",
        &[("Host", host.as_str())],
        r#"{"rate": 3}"#,
    )
    .await;
    assert_eq!(status, 200);
}
