//! The chapters are served at /docs as HTML pages with a table of contents
//! and previous/next links, and every link in them leads somewhere.

use crate::helpers::*;

/// The chapters in reading order, at the paths the live page links to,
/// then the appendix.
const CHAPTERS: [&str; 10] = [
    "01-why-push-is-hard",
    "02-short-polling",
    "03-long-polling",
    "04-server-sent-events",
    "05-websocket",
    "06-comparison",
    "07-scaling-out",
    "08-classroom-guide",
    "09-how-pushlab-is-made-fast",
    "wire",
];

/// GETs `path`, expecting an HTML page; returns its text.
async fn html_page(app: &TestApp, path: &str) -> String {
    let response = within(path, app.http.get(app.url(path)).send())
        .await
        .unwrap();
    assert_eq!(response.status(), 200, "{path}");
    let content_type = response.headers()["content-type"].to_str().unwrap();
    assert!(
        content_type.starts_with("text/html"),
        "{path}: {content_type}"
    );
    assert!(
        response.headers().contains_key("content-security-policy"),
        "{path}"
    );
    response.text().await.unwrap()
}

/// The values of every `href="…"` and `src="…"` in a page.
fn links(html: &str) -> Vec<String> {
    let mut found = Vec::new();
    for attribute in ["href=\"", "src=\""] {
        for piece in html.split(attribute).skip(1) {
            if let Some(end) = piece.find('"') {
                found.push(piece[..end].replace("&amp;", "&"));
            }
        }
    }
    found
}

/// Every chapter renders as HTML with the contents and previous/next links.
#[tokio::test]
async fn every_chapter_renders_with_contents_and_previous_next_links() {
    let app = spawn_app(test_config());
    for (i, chapter) in CHAPTERS.iter().enumerate() {
        let html = html_page(&app, &format!("/docs/{chapter}")).await;
        assert!(
            html.contains("<nav class=\"contents\""),
            "{chapter}: contents"
        );
        for other in CHAPTERS {
            assert!(
                html.contains(&format!("href=\"/docs/{other}\"")),
                "{chapter}: contents lack {other}"
            );
        }
        assert!(html.contains("aria-current=\"page\""), "{chapter}");
        assert!(html.contains("<h1"), "{chapter}: a title");
        assert!(html.contains("rel=\"prev\""), "{chapter}: previous");
        match CHAPTERS.get(i + 1) {
            Some(next) => assert!(
                html.contains(&format!("rel=\"next\" href=\"/docs/{next}\"")),
                "{chapter}: next is {next}"
            ),
            None => assert!(!html.contains("rel=\"next\""), "{chapter}: last"),
        }
        assert!(!html.contains("style=\""), "{chapter}: inline style");
        assert!(!html.contains("<script"), "{chapter}: script");
    }
}

/// /docs is the index: every chapter listed, the first one next.
#[tokio::test]
async fn the_index_lists_every_chapter() {
    let app = spawn_app(test_config());
    let html = html_page(&app, "/docs").await;
    for chapter in CHAPTERS {
        assert!(html.contains(&format!("/docs/{chapter}\"")), "{chapter}");
    }
    assert!(html.contains(&format!("rel=\"next\" href=\"/docs/{}\"", CHAPTERS[0])));
    // The Markdown's own name still works, as forge links write it.
    html_page(&app, "/docs/03-long-polling.md").await;
}

/// Every link in the docs that stays on this server answers, and every
/// `#fragment` names a heading on its page — except on a results file, where
/// it names the figure's field or line (tests/api/figures.rs checks those).
#[tokio::test]
async fn every_internal_link_in_the_docs_resolves() {
    let app = spawn_app(test_config());
    let pages: Vec<String> = std::iter::once("/docs".to_owned())
        .chain(CHAPTERS.iter().map(|c| format!("/docs/{c}")))
        .collect();
    let mut checked = 0;
    for page in &pages {
        let html = html_page(&app, page).await;
        for link in links(&html) {
            if link.contains("://") || link.starts_with("mailto:") || link.starts_with("data:") {
                continue;
            }
            assert!(
                link.starts_with('/') || link.starts_with('#'),
                "{page}: relative link {link:?} would break when served"
            );
            let (path, fragment) = link.split_once('#').unwrap_or((&link, ""));
            let path = if path.is_empty() { page.as_str() } else { path };
            let response = within(&link, app.http.get(app.url(path)).send())
                .await
                .unwrap();
            assert_ne!(response.status(), 404, "{page} links to {link}");
            checked += 1;
            if !fragment.is_empty() && !path.starts_with("/docs/results/") {
                let target = response.text().await.unwrap();
                assert!(
                    target.contains(&format!("id=\"{fragment}\"")),
                    "{page} links to {link}, but {path} has no such heading"
                );
            }
        }
    }
    assert!(checked > 50, "only {checked} links checked");
}

/// An unknown chapter is a 404 in JSON, like every other unknown path.
#[tokio::test]
async fn an_unknown_chapter_is_a_json_404() {
    let app = spawn_app(test_config());
    for path in [
        "/docs/99-nothing",
        "/docs/results/nope.json",
        "/docs/../Cargo.toml",
    ] {
        let (status, body) = app.get_json(path).await;
        assert_eq!(status, 404, "{path}");
        assert_eq!(body["error"], "not_found", "{path}");
    }
}
