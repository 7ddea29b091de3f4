//! The page, its static files, the docs and the health check are served
//! from the binary.

use crate::helpers::*;

/// GET / renders the page with its four lanes and a strict CSP.
#[tokio::test]
async fn the_page_renders_with_four_lanes() {
    let app = spawn_app(test_config());
    let response = app.http.get(app.url("/")).send().await.unwrap();
    assert_eq!(response.status(), 200);
    let csp = response.headers()["content-security-policy"]
        .to_str()
        .unwrap()
        .to_owned();
    assert!(csp.contains("script-src 'self'"));
    let html = response.text().await.unwrap();
    for lane in ["poll", "longpoll", "sse", "ws"] {
        assert!(
            html.contains(&format!("data-lane=\"{lane}\"")),
            "lane {lane}"
        );
    }
    assert!(html.contains("data-action=\"publish\""));
    let script = app
        .http
        .get(app.url("/static/app.js"))
        .send()
        .await
        .unwrap();
    assert_eq!(script.status(), 200);
    assert!(
        script.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/javascript")
    );
}

/// GET /healthz answers 200, and the docs are served.
#[tokio::test]
async fn health_and_docs_are_served() {
    let app = spawn_app(test_config());
    assert_eq!(
        app.http
            .get(app.url("/healthz"))
            .send()
            .await
            .unwrap()
            .status(),
        200
    );
    let docs = app.http.get(app.url("/docs")).send().await.unwrap();
    assert_eq!(docs.status(), 200);
    assert!(docs.text().await.unwrap().contains("wire"));
    let missing = app
        .http
        .get(app.url("/static/nope.js"))
        .send()
        .await
        .unwrap();
    assert_eq!(missing.status(), 404);
}
