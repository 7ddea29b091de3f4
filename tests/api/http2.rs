//! HTTP/2: cleartext with prior knowledge (h2c) on the same port as
//! HTTP/1.1, and over TLS with ALPN (`--tls self-signed`); what the byte
//! counters can say about it (src/plumbing/hpack.rs).

use reqwest::Version;
use serde_json::Value;

use crate::helpers::{STEP, TestApp, spawn_app, test_config, within};

/// A client that speaks HTTP/2 from its first byte, as
/// `curl --http2-prior-knowledge` does.
fn h2c_client() -> reqwest::Client {
    reqwest::Client::builder()
        .http2_prior_knowledge()
        .timeout(STEP)
        .build()
        .unwrap()
}

/// A TLS client that takes the server's self-signed certificate and
/// offers `h2` and `http/1.1`, as a browser does.
fn tls_client() -> reqwest::ClientBuilder {
    reqwest::Client::builder()
        .danger_accept_invalid_certs(true)
        .timeout(STEP)
}

/// GETs `url` and returns its version, status and body.
async fn get(client: &reqwest::Client, url: &str) -> (Version, u16, Vec<u8>) {
    within(url, async {
        let response = client.get(url).send().await.unwrap();
        let version = response.version();
        let status = response.status().as_u16();
        (version, status, response.bytes().await.unwrap().to_vec())
    })
    .await
}

async fn poll_stats(app: &TestApp) -> Value {
    app.stats().await["techniques"]["poll"].clone()
}

/// A poll over h2c is answered over HTTP/2 with the usual JSON, and
/// counted: the request, its body bytes and DATA frames to the byte, and
/// the JSON names the byte figures as estimates, since the heads are
/// HPACK-compressed where pushlab cannot see them.
#[tokio::test]
async fn a_poll_over_h2c_is_answered_and_its_estimates_are_named() {
    let app = spawn_app(test_config());
    let id = app.publish("t", "over h2").await;
    assert_eq!(poll_stats(&app).await["estimated"], serde_json::json!([]));

    let url = app.url("/api/poll?since=0");
    let (version, status, body) = get(&h2c_client(), &url).await;
    assert_eq!(version, Version::HTTP_2);
    assert_eq!(status, 200);
    let answer: Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(answer["messages"][0]["id"], id);
    assert_eq!(answer["next"], id);

    let poll = poll_stats(&app).await;
    assert_eq!(poll["requests"], 1);
    assert_eq!(poll["http2_requests"], 1);
    assert_eq!(
        poll["estimated"],
        serde_json::json!(["bytes_in", "bytes_out"])
    );
    // The body, one DATA frame for it and the empty one that ends the
    // stream, then the HEADERS frame: at least its 9-byte frame header
    // and one byte for `:status: 200`, at most the head HTTP/1.1 spells out.
    let framed_body = body.len() as u64 + 9 + 9;
    let head = poll["bytes_out"].as_u64().unwrap() - framed_body;
    assert!(
        (10..=200).contains(&head),
        "response head estimated {head} B"
    );
}

/// HTTP/2 requests carry no Host header, only `:authority`: the page's own
/// publish over HTTP/2 (Origin = the page's origin) passes the Origin check
/// as it does over HTTP/1.1.
#[tokio::test]
async fn a_publish_over_h2c_from_the_page_passes_the_origin_check() {
    let app = spawn_app(test_config());
    let response = within(
        "publish over h2c",
        h2c_client()
            .post(app.url("/api/messages"))
            .header("origin", format!("http://{}", app.addr))
            .json(&serde_json::json!({"author": "t", "text": "same origin"}))
            .send(),
    )
    .await
    .unwrap();
    assert_eq!(response.version(), Version::HTTP_2);
    assert_eq!(response.status(), 201);
}

/// HTTP/1.1 still works on the same port, and its bytes stay exact.
#[tokio::test]
async fn http1_and_h2c_share_one_port() {
    let app = spawn_app(test_config());
    let url = app.url("/api/poll");
    let (version, status, _) = get(&app.http, &url).await;
    assert_eq!((version, status), (Version::HTTP_11, 200));
    assert_eq!(poll_stats(&app).await["estimated"], serde_json::json!([]));
    let (version, status, _) = get(&h2c_client(), &url).await;
    assert_eq!((version, status), (Version::HTTP_2, 200));
    assert_eq!(poll_stats(&app).await["requests"], 2);
}

/// With `--tls self-signed` the server speaks HTTPS: a client that offers
/// `h2` (as browsers do) gets HTTP/2, one that offers only `http/1.1` gets
/// that, and both are answered.
#[tokio::test]
async fn tls_self_signed_serves_http2_to_clients_that_offer_it() {
    let app = spawn_app(pushlab::Config {
        tls: vec!["self-signed".into()],
        ..test_config()
    });
    let url = format!("https://{}/api/poll", app.addr);
    let h2 = tls_client().build().unwrap();
    let (version, status, _) = get(&h2, &url).await;
    assert_eq!((version, status), (Version::HTTP_2, 200));
    let h1 = tls_client().http1_only().build().unwrap();
    let (version, status, _) = get(&h1, &url).await;
    assert_eq!((version, status), (Version::HTTP_11, 200));
    let (_, _, stats) = get(&h1, &format!("https://{}/api/stats", app.addr)).await;
    let stats: Value = serde_json::from_slice(&stats).unwrap();
    let poll = &stats["techniques"]["poll"];
    assert_eq!(
        (&poll["requests"], &poll["http2_requests"]),
        (&2.into(), &1.into())
    );
}
