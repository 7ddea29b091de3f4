//! Which methods each path answers, and a clear refusal for the rest.
//!
//! Everything a browser or a monitor reads — the page, the docs, static
//! files, `/healthz`, `/api/stats`, `/metrics`, `/api/time` — answers GET
//! and HEAD. HEAD is GET without the body: `curl -I`, link checkers and
//! uptime monitors use it, and HTTP expects a server to offer it wherever it
//! offers GET.
//!
//! The technique endpoints answer GET only. HEAD on an SSE stream would
//! never end, on a long-poll it would wait for news it never shows, and on
//! any of them it would count traffic the technique never carried.
//!
//! Any other method on a known path is a JSON 405 whose `Allow` header lists
//! what works there (HTTP requires the header); an unknown path is a JSON 404
//! ([`crate::plumbing::error::not_found`]).

use actix_web::http::Method;
use actix_web::{FromRequest, Handler, HttpRequest, Resource, Responder, ResponseError, Route};
use actix_web::{guard, web};

use crate::plumbing::error::ApiError;

/// The techniques' endpoints.
pub const GET: &[Method] = &[Method::GET];
/// What can be read: the page, docs, files, stats and health.
pub const READ: &[Method] = &[Method::GET, Method::HEAD];
/// Publishing a message.
pub const POST: &[Method] = &[Method::POST];

/// A resource whose one handler answers `methods`; any other method gets a
/// 405 that names them.
pub fn resource<F, Args>(path: &str, methods: &'static [Method], handler: F) -> Resource
where
    F: Handler<Args>,
    Args: FromRequest + 'static,
    F::Output: Responder + 'static,
{
    web::resource(path)
        .route(route(methods).to(handler))
        .default_service(wrong_method(methods))
}

/// A route for `methods`. Not `web::get()`: its method guard records the
/// allowed methods in every request's extensions (three allocations per
/// poll) for an `Allow` header that [`wrong_method`] writes itself.
pub fn route(methods: &'static [Method]) -> Route {
    web::route().guard(guard::fn_guard(move |ctx| {
        methods.contains(&ctx.head().method)
    }))
}

/// The answer to a method a resource does not offer: 405, `Allow: …`.
pub fn wrong_method(allowed: &'static [Method]) -> Route {
    web::to(move |req: HttpRequest| async move {
        ApiError::method_not_allowed(&req, allowed).error_response()
    })
}
