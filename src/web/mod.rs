//! What a browser loads: the page, the static files and the docs, all
//! compiled into the binary so pushlab runs from any folder, offline.

pub mod assets;
pub mod demo;
pub mod docs;
pub mod lanes;
pub mod page;

use actix_web::http::StatusCode;
use actix_web::http::header::{self, HeaderValue};
use actix_web::{HttpResponse, web};
use askama::Template;

use crate::plumbing::error::ApiError;
use crate::plumbing::routing::{READ, resource};

/// The page, static and docs routes.
pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.service(resource("/", READ, page::index))
        .service(resource("/static/{path:.*}", READ, assets::static_file))
        .service(resource("/demo/echo", READ, demo::echo))
        .service(resource("/docs", READ, docs::index))
        .service(resource("/docs/{path:.*}", READ, docs::chapter));
}

/// Renders an askama page and serves it with its Content-Security-Policy,
/// the header that keeps user text from ever running as script.
pub fn html(page: &impl Template, csp: &'static str) -> Result<HttpResponse, ApiError> {
    let html = page.render().map_err(|e| {
        ApiError::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "render_failed",
            e.to_string(),
        )
    })?;
    let mut response = HttpResponse::Ok()
        .content_type("text/html; charset=utf-8")
        .body(html);
    response.headers_mut().insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(csp),
    );
    Ok(response)
}
