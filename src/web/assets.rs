//! Files embedded at compile time: `static/` (scripts, styles) and `docs/`
//! (the chapters, as Markdown).

use actix_web::http::header::{self, CacheControl, CacheDirective};
use actix_web::{HttpRequest, HttpResponse, web};
use include_dir::{Dir, include_dir};

use crate::error::ApiError;

static STATIC: Dir<'_> = include_dir!("$CARGO_MANIFEST_DIR/static");
static DOCS: Dir<'_> = include_dir!("$CARGO_MANIFEST_DIR/docs");

/// `GET /static/{path}`
pub async fn static_file(
    req: HttpRequest,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let file = STATIC
        .get_file(path.as_str())
        .ok_or_else(|| ApiError::not_found(&req))?;
    Ok(HttpResponse::Ok()
        .content_type(content_type(path.as_str()))
        // Cheap to revalidate, and a teacher editing files sees changes.
        .insert_header(CacheControl(vec![CacheDirective::NoCache]))
        .body(file.contents()))
}

/// `GET /docs`: the index of the chapters.
pub async fn docs_index(req: HttpRequest) -> Result<HttpResponse, ApiError> {
    markdown(&req, "README.md")
}

/// `GET /docs/{chapter}`, with or without `.md`.
pub async fn doc(req: HttpRequest, path: web::Path<String>) -> Result<HttpResponse, ApiError> {
    let name = path.trim_end_matches(".md");
    markdown(&req, &format!("{name}.md"))
}

fn markdown(req: &HttpRequest, name: &str) -> Result<HttpResponse, ApiError> {
    let file = DOCS
        .get_file(name)
        .ok_or_else(|| ApiError::not_found(req))?;
    Ok(HttpResponse::Ok()
        .insert_header((header::CONTENT_TYPE, "text/markdown; charset=utf-8"))
        .body(file.contents()))
}

fn content_type(path: &str) -> &'static str {
    match path.rsplit('.').next() {
        Some("js") => "text/javascript; charset=utf-8",
        Some("css") => "text/css; charset=utf-8",
        Some("svg") => "image/svg+xml",
        Some("png") => "image/png",
        Some("json") => "application/json",
        Some("html") => "text/html; charset=utf-8",
        _ => "application/octet-stream",
    }
}
