//! Files embedded at compile time: `static/` (scripts and styles). The
//! chapters, which are rendered rather than served as they are, live in
//! `docs.rs`.

use actix_web::http::header::{CacheControl, CacheDirective};
use actix_web::{HttpRequest, HttpResponse, web};
use include_dir::{Dir, include_dir};

use crate::plumbing::error::ApiError;

static STATIC: Dir<'_> = include_dir!("$CARGO_MANIFEST_DIR/static");

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

/// The `Content-Type` for a file name, by its extension.
pub fn content_type(path: &str) -> &'static str {
    match path.rsplit('.').next() {
        Some("js") => "text/javascript; charset=utf-8",
        Some("css") => "text/css; charset=utf-8",
        Some("svg") => "image/svg+xml",
        Some("png") => "image/png",
        Some("json") => "application/json",
        Some("html") => "text/html; charset=utf-8",
        Some("md") => "text/markdown; charset=utf-8",
        Some("csv") => "text/csv; charset=utf-8",
        Some("txt") => "text/plain; charset=utf-8",
        _ => "application/octet-stream",
    }
}
