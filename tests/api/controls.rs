//! The page's helpers around the techniques: the server's clock and the
//! generator's rate, with every bad input refused.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde_json::{Value, json};

use crate::helpers::*;

fn our_clock_us() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_micros() as u64
}

async fn set_rate(
    app: &TestApp,
    content_type: &str,
    origin: Option<&str>,
    body: &str,
) -> (u16, Value) {
    let mut request = app
        .http
        .post(app.url("/api/generator"))
        .header("content-type", content_type)
        .body(body.to_owned());
    if let Some(origin) = origin {
        request = request.header("origin", origin);
    }
    let response = within("POST /api/generator", request.send()).await.unwrap();
    let status = response.status().as_u16();
    (status, response.json().await.unwrap())
}

/// GET /api/time tells the server's clock in µs, and is no technique's traffic.
#[tokio::test]
async fn the_time_is_the_servers_clock_and_not_counted() {
    let app = spawn_app(test_config());
    let before = our_clock_us();
    let (status, body) = app.get_json("/api/time").await;
    let after = our_clock_us();
    assert_eq!(status, 200);
    let now = body["now_us"].as_u64().unwrap();
    assert!(before <= now && now <= after, "{before} ≤ {now} ≤ {after}");
    for technique in ["poll", "longpoll", "sse", "ws"] {
        assert_eq!(app.technique_stat(technique, "requests").await, 0);
    }
}

/// The rate starts at --rate, and a POST changes it: the generator follows at once.
#[tokio::test]
async fn the_generator_follows_a_new_rate() {
    let app = spawn_app(test_config());
    assert_eq!(app.get_json("/api/generator").await.1, json!({"rate": 0.0}));

    let (status, body) = set_rate(&app, "application/json", None, r#"{"rate": 100}"#).await;
    assert_eq!((status, body), (200, json!({"rate": 100.0})));
    within("generated messages", async {
        while app.stats().await["hub"]["last_id"].as_u64().unwrap() < 3 {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    })
    .await;

    let own_page = format!("http://{}", app.addr);
    let (status, _) = set_rate(&app, "application/json", Some(&own_page), r#"{"rate": 0}"#).await;
    assert_eq!(status, 200);
    let stopped_at = app.stats().await["hub"]["last_id"].as_u64().unwrap();
    tokio::time::sleep(Duration::from_millis(200)).await;
    let later = app.stats().await["hub"]["last_id"].as_u64().unwrap();
    assert!(
        later <= stopped_at + 1,
        "at most one in flight: {stopped_at} → {later}"
    );
    assert_eq!(app.get_json("/api/generator").await.1, json!({"rate": 0.0}));
}

/// Non-numeric, negative, too high, missing or non-JSON rates are refused, and the rate stays.
#[tokio::test]
async fn bad_rates_are_refused() {
    let app = spawn_app(test_config());
    for (content_type, body, status, code) in [
        ("application/json", r#"{"rate": "fast"}"#, 400, "bad_rate"),
        ("application/json", r#"{"rate": null}"#, 400, "bad_rate"),
        ("application/json", r#"{"rate": -1}"#, 400, "bad_rate"),
        ("application/json", r#"{"rate": 100.01}"#, 400, "bad_rate"),
        ("application/json", r#"{"rate": 1e999}"#, 400, "bad_json"),
        ("application/json", r#"{"speed": 2}"#, 400, "bad_rate"),
        ("application/json", "2", 400, "bad_rate"),
        ("application/json", "{not json", 400, "bad_json"),
        (
            "text/plain",
            r#"{"rate": 2}"#,
            415,
            "unsupported_media_type",
        ),
        (
            "application/x-www-form-urlencoded",
            "rate=2",
            415,
            "unsupported_media_type",
        ),
    ] {
        let (got, answer) = set_rate(&app, content_type, None, body).await;
        assert_eq!(got, status, "{body}: {answer}");
        assert_eq!(answer["error"], code, "{body}: {answer}");
        assert!(answer["message"].as_str().unwrap().len() > 10, "{answer}");
    }
    assert_eq!(app.get_json("/api/generator").await.1, json!({"rate": 0.0}));
}

/// A page from another origin may neither read nor set the rate.
#[tokio::test]
async fn a_foreign_origin_is_refused() {
    let app = spawn_app(test_config());
    for origin in ["https://evil.example", "null", "http://127.0.0.1:1"] {
        let (status, answer) =
            set_rate(&app, "application/json", Some(origin), r#"{"rate": 50}"#).await;
        assert_eq!(status, 403, "{origin}");
        assert_eq!(answer["error"], "forbidden_origin");
        // Even a body that is itself wrong gets the 403: the Origin is checked first.
        let (status, _) = set_rate(&app, "text/plain", Some(origin), "x").await;
        assert_eq!(status, 403, "{origin}");
        let read = app
            .http
            .get(app.url("/api/generator"))
            .header("origin", origin)
            .send()
            .await
            .unwrap();
        assert_eq!(read.status(), 403);
    }
    assert_eq!(app.get_json("/api/generator").await.1, json!({"rate": 0.0}));
}

/// Other methods on the new routes are JSON 405s.
#[tokio::test]
async fn other_methods_are_refused() {
    let app = spawn_app(test_config());
    let response = app
        .http
        .delete(app.url("/api/generator"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 405);
    let response = app.http.post(app.url("/api/time")).send().await.unwrap();
    assert_eq!(response.status(), 405);
}
