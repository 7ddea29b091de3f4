//! The page at `/`: four lanes side by side, each a real client of its
//! technique, rendered by askama from `templates/index.html`.

use actix_web::http::header::{self, HeaderValue};
use actix_web::{HttpResponse, web};
use askama::Template;

use crate::error::ApiError;
use crate::publish::{MAX_AUTHOR_CHARS, MAX_TEXT_CHARS};
use crate::state::AppState;

/// Scripts only from our own origin, never inline: user text can never run.
const CONTENT_SECURITY_POLICY: &str = "default-src 'self'; script-src 'self'; \
    style-src 'self'; img-src 'self' data:; connect-src 'self'; \
    object-src 'none'; base-uri 'none'; frame-ancestors 'none'";

#[derive(Template)]
#[template(path = "index.html")]
struct Index<'a> {
    rate: f64,
    longpoll_timeout_s: u64,
    max_author: usize,
    max_text: usize,
    epoch: &'a str,
}

/// `GET /`
pub async fn index(state: web::Data<AppState>) -> Result<HttpResponse, ApiError> {
    let page = Index {
        rate: *state.generator_rate.borrow(),
        longpoll_timeout_s: state.config.longpoll_timeout.as_secs(),
        max_author: MAX_AUTHOR_CHARS,
        max_text: MAX_TEXT_CHARS,
        epoch: state.hub.epoch(),
    };
    let html = page.render().map_err(|e| {
        ApiError::new(
            actix_web::http::StatusCode::INTERNAL_SERVER_ERROR,
            "render_failed",
            e.to_string(),
        )
    })?;
    let mut response = HttpResponse::Ok()
        .content_type("text/html; charset=utf-8")
        .body(html);
    response.headers_mut().insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(CONTENT_SECURITY_POLICY),
    );
    Ok(response)
}
