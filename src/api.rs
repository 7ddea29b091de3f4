//! The small JSON/text routes around the techniques: stats, metrics and
//! health. None of them is counted as traffic of a technique, so the page
//! watching the figures does not move them.

use actix_web::http::header::{CacheControl, CacheDirective, ContentType};
use actix_web::{HttpResponse, web};
use serde_json::json;

use crate::plumbing::state::AppState;

/// `GET /api/stats`: every counter, as JSON, and the generator's rate, so
/// that a page whose controls are read-only follows the teacher's changes.
pub async fn stats(state: web::Data<AppState>) -> HttpResponse {
    let mut snapshot = state.stats.snapshot(&state.hub);
    // Which broker: the counters know its figures, not the broker itself.
    snapshot["broker"]["kind"] = json!(state.broker.kind());
    snapshot["broker"]["url"] = json!(state.broker.url());
    snapshot["generator"] = json!({ "rate": *state.generator_rate.borrow() });
    HttpResponse::Ok()
        .insert_header(CacheControl(vec![CacheDirective::NoStore]))
        .json(snapshot)
}

/// `GET /metrics`: the same figures for Prometheus.
pub async fn metrics(state: web::Data<AppState>) -> HttpResponse {
    HttpResponse::Ok()
        .content_type("application/openmetrics-text; version=1.0.0; charset=utf-8")
        .body(state.stats.metrics(&state.hub))
}

/// `GET /healthz`: 200 while the server runs.
pub async fn healthz() -> HttpResponse {
    HttpResponse::Ok()
        .insert_header(ContentType::plaintext())
        .body("ok\n")
}
