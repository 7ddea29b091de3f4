//! One list of techniques on each side, and the two agree.
//!
//! The server's list is `pushlab::technique::Technique::ALL`; the page's is
//! `static/techniques.js`. Each technique also needs its client in
//! `static/lanes/<name>.js`, its colour in `static/style.css`, and its lane
//! on the page. A fifth technique added on one side only fails here, with
//! the place it is missing from.

use pushlab::technique::Technique;

use crate::helpers::*;

const ROOT: &str = env!("CARGO_MANIFEST_DIR");

fn read(path: &str) -> String {
    std::fs::read_to_string(format!("{ROOT}/{path}")).unwrap_or_else(|e| panic!("{path}: {e}"))
}

/// The `name: "…"` entries of `static/techniques.js`, in order.
fn page_names() -> Vec<String> {
    read("static/techniques.js")
        .lines()
        .filter_map(|line| {
            let rest = line.trim().strip_prefix("{ name: \"")?;
            Some(rest[..rest.find('"')?].to_owned())
        })
        .collect()
}

fn server_names() -> Vec<&'static str> {
    Technique::ALL.iter().map(|t| t.name()).collect()
}

#[test]
fn the_page_and_the_server_list_the_same_techniques_in_order() {
    assert_eq!(page_names(), server_names());
}

#[test]
fn every_technique_has_its_client_and_its_colour() {
    let style = read("static/style.css");
    for name in server_names() {
        assert!(
            std::path::Path::new(&format!("{ROOT}/static/lanes/{name}.js")).exists(),
            "static/lanes/{name}.js: the page's client of {name}"
        );
        assert!(
            style.contains(&format!("--{name}:")),
            "style.css: a colour --{name}"
        );
        assert!(
            style.contains(&format!("[data-lane=\"{name}\"]")),
            "style.css: [data-lane=\"{name}\"] takes its colour"
        );
    }
}

#[tokio::test]
async fn the_page_draws_one_lane_per_technique_in_order() {
    let app = spawn_app(test_config());
    let page = app.http.get(app.url("/")).send().await.unwrap();
    let html = page.text().await.unwrap();
    let lanes: Vec<&str> = html
        .split("<section class=\"lane\" data-lane=\"")
        .skip(1)
        .filter_map(|rest| rest.split('"').next())
        .collect();
    assert_eq!(lanes, server_names());
}
