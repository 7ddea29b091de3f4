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

/// Every lane carries the figures DESIGN.md names, and nothing on the page is inline.
#[tokio::test]
async fn the_page_marks_its_figures_and_has_no_inline_code() {
    let app = spawn_app(test_config());
    let html = app
        .http
        .get(app.url("/"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    for stat in ["requests", "empty", "messages", "bytes", "p50", "p99"] {
        let marker = format!("data-stat=\"{stat}\"");
        assert_eq!(html.matches(&marker).count(), 4, "{marker} once per lane");
    }
    for field in ["name=\"author\"", "name=\"text\""] {
        assert!(html.contains(field), "{field}");
    }
    for chapter in [
        "02-short-polling",
        "03-long-polling",
        "04-server-sent-events",
        "05-websocket",
    ] {
        assert!(
            html.contains(&format!("href=\"/docs/{chapter}\"")),
            "{chapter}"
        );
    }
    assert!(!html.contains("style="), "no inline styles");
    assert!(!has_event_handler(&html), "no inline event handlers");
    assert_eq!(
        html.matches("<script").count(),
        html.matches("<script type=\"module\" src=").count(),
        "scripts only from files"
    );
}

/// Does `html` have an attribute like ` onerror=`?
fn has_event_handler(html: &str) -> bool {
    html.match_indices(" on").any(|(at, _)| {
        let rest = &html[at + 3..];
        let name_len = rest.bytes().take_while(|b| b.is_ascii_lowercase()).count();
        name_len > 0 && rest[name_len..].starts_with('=')
    })
}

/// The page's modules, in subfolders too, are served as JavaScript.
#[tokio::test]
async fn the_page_modules_are_served() {
    let app = spawn_app(test_config());
    for module in [
        "app.js",
        "lane.js",
        "timeline.js",
        "charts.js",
        "lanes/poll.js",
        "lanes/longpoll.js",
        "lanes/sse.js",
        "lanes/ws.js",
    ] {
        let response = app
            .http
            .get(app.url(&format!("/static/{module}")))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 200, "{module}");
        let content_type = response.headers()["content-type"].to_str().unwrap();
        assert!(content_type.starts_with("text/javascript"), "{module}");
    }
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

/// HEAD answers wherever there is something to read, like GET without the
/// body: the same status, type and length (`curl -I`, uptime checks).
#[tokio::test]
async fn head_is_get_without_the_body() {
    let app = spawn_app(test_config());
    for path in [
        "/",
        "/static/app.js",
        "/docs",
        "/docs/02-short-polling",
        "/healthz",
        "/api/time",
    ] {
        let get = app.http.get(app.url(path)).send().await.unwrap();
        let head = app.http.head(app.url(path)).send().await.unwrap();
        assert_eq!(get.status(), 200, "GET {path}");
        assert_eq!(head.status(), 200, "HEAD {path}");
        for name in ["content-type", "content-length"] {
            assert_eq!(
                get.headers().get(name),
                head.headers().get(name),
                "{name} of {path}"
            );
        }
        assert!(
            head.bytes().await.unwrap().is_empty(),
            "HEAD {path} has no body"
        );
    }
    for path in ["/api/stats", "/metrics"] {
        let head = app.http.head(app.url(path)).send().await.unwrap();
        assert_eq!(head.status(), 200, "HEAD {path}");
    }
}

/// A server bound to loopback only: no one else can reach it, so the page
/// shows no address for students.
#[tokio::test]
async fn a_loopback_server_shows_no_address_for_students() {
    let app = spawn_app(test_config());
    let html = app
        .http
        .get(app.url("/"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        !html.contains("data-address"),
        "no address block on loopback"
    );
    assert!(!html.contains("<svg xmlns"), "no QR code on loopback");
}

/// A server listening on every interface, as in a classroom (`--addr
/// 0.0.0.0:8080`): the page shows the address the browser used, with its
/// port, and a QR code of it as inline SVG that the page's CSP allows (no
/// style attribute, no script).
#[tokio::test]
async fn a_server_the_class_can_reach_shows_its_address_and_a_qr_code() {
    let server = AllInterfaces::start();
    let port = server.addr.port();
    // As a student's browser that typed the teacher's LAN address would ask.
    let typed = format!("192.0.2.10:{port}");
    let response = within(
        "the page",
        reqwest::Client::new()
            .get(format!("http://127.0.0.1:{port}/"))
            .header("host", &typed)
            .send(),
    )
    .await
    .unwrap();
    assert_eq!(response.status(), 200);
    let csp = response.headers()["content-security-policy"]
        .to_str()
        .unwrap()
        .to_owned();
    assert!(csp.contains("default-src 'self'") && csp.contains("script-src 'self'"));
    let html = response.text().await.unwrap();
    let start = html.find("data-address").expect("an address block");
    let block = &html[start..];
    let block = &block[..block.find("</details>").expect("the QR code's details")];
    assert!(
        block.contains(&format!("href=\"http://{typed}/\"")),
        "the address the browser used, with the port: {block}"
    );
    let svg = &block[block.find("<svg").expect("an inline SVG QR code")..];
    assert!(svg.contains("<path") && svg.contains("</svg>"), "{svg}");
    assert!(
        !html.contains("style="),
        "no inline styles, QR code included"
    );
    assert!(
        !html.contains("<?xml"),
        "no XML declaration inside the page"
    );
}

/// pushlab listening on 0.0.0.0 (every interface), port chosen by the
/// system; stopped when dropped. Only the address block needs it.
struct AllInterfaces {
    addr: std::net::SocketAddr,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<std::io::Result<()>>>,
}

impl AllInterfaces {
    fn start() -> AllInterfaces {
        let listener = std::net::TcpListener::bind("0.0.0.0:0").expect("bind a free port");
        let addr = listener.local_addr().unwrap();
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let thread = std::thread::spawn(move || {
            actix_web::rt::System::new().block_on(pushlab::run(listener, test_config(), async {
                let _ = stopped.await; // a dropped sender stops the server too
            }))
        });
        AllInterfaces {
            addr,
            stop: Some(stop),
            thread: Some(thread),
        }
    }
}

impl Drop for AllInterfaces {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(()); // the server may have stopped on its own
        }
        if let Some(thread) = self.thread.take() {
            let _ = thread.join(); // a panic there has already failed the test
        }
    }
}
