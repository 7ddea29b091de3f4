//! The one error type of the HTTP API.
//!
//! Every refusal is JSON — `{"error": "short_code", "message": "what was
//! wrong"}` — with a 4xx/5xx status, never an HTML page or a panic. The
//! extractor configs at the bottom turn actix-web's own refusals (bad query
//! string, bad JSON, body too large, wrong content type) into the same shape.
//!
//! A refusal that is only "not now" (a limit reached, see [`crate::plumbing::limits`])
//! also says when to come back, in a `Retry-After` header; a method a path
//! does not offer says which it does, in an `Allow` header.
//!
//! A refusal tells the client what was wrong with its request, not what
//! went wrong inside the server: an I/O error's text ("os error 111", an
//! address, a file name) goes to the log. And what a refusal repeats of the
//! request is cut to [`ECHO_CHARS`] characters (see [`echo`]), so an answer
//! never grows with what a client sends.

use std::fmt;
use std::time::Duration;

use actix_web::http::header::{self, HeaderValue};
use actix_web::http::{Method, StatusCode};
use actix_web::{HttpRequest, HttpResponse, ResponseError, error, web};
use serde::Serialize;

#[derive(Debug, Clone, Serialize)]
pub struct ApiError {
    #[serde(skip)]
    pub status: StatusCode,
    /// A short, stable code a program can match on.
    pub error: &'static str,
    /// A sentence for the human reading it.
    pub message: String,
    /// When trying again may succeed: sent as `Retry-After`, in whole
    /// seconds (rounded up, at least 1, so "0" never invites a hot loop).
    #[serde(skip)]
    pub retry_after: Option<Duration>,
    /// For a 405: the methods the path does offer, sent as `Allow`.
    #[serde(skip)]
    pub allow: Option<&'static [Method]>,
}

/// The most characters of a client's input a refusal repeats.
pub const ECHO_CHARS: usize = 64;

/// What a refusal may repeat of a client's input: at most [`ECHO_CHARS`]
/// characters, then an ellipsis.
pub fn echo(input: &str) -> String {
    match input.char_indices().nth(ECHO_CHARS) {
        Some((cut, _)) => format!("{}…", &input[..cut]),
        None => input.to_owned(),
    }
}

impl ApiError {
    pub fn new(status: StatusCode, error: &'static str, message: impl Into<String>) -> Self {
        ApiError {
            status,
            error,
            message: message.into(),
            retry_after: None,
            allow: None,
        }
    }

    /// The same refusal, telling the client to retry after `wait`.
    pub fn retry_after(self, wait: Duration) -> Self {
        ApiError {
            retry_after: Some(wait),
            ..self
        }
    }

    pub fn bad_request(error: &'static str, message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, error, message)
    }

    pub fn not_found(req: &HttpRequest) -> Self {
        Self::new(
            StatusCode::NOT_FOUND,
            "not_found",
            format!(
                "no route for {} {}",
                echo(req.method().as_str()),
                echo(req.path())
            ),
        )
    }

    /// A query string that does not even parse (e.g. `since` given twice).
    pub fn malformed_query(err: impl fmt::Display) -> Self {
        Self::bad_request("bad_query", format!("the query string is malformed: {err}"))
    }

    pub fn method_not_allowed(req: &HttpRequest, allowed: &'static [Method]) -> Self {
        ApiError {
            allow: Some(allowed),
            ..Self::new(
                StatusCode::METHOD_NOT_ALLOWED,
                "method_not_allowed",
                format!(
                    "{} is not allowed on {}; use {}",
                    echo(req.method().as_str()),
                    echo(req.path()),
                    method_list(allowed, " or ")
                ),
            )
        }
    }
}

impl fmt::Display for ApiError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.error, self.message)
    }
}

impl ResponseError for ApiError {
    fn status_code(&self) -> StatusCode {
        self.status
    }

    fn error_response(&self) -> HttpResponse {
        let mut response = HttpResponse::build(self.status).json(self);
        response
            .headers_mut()
            .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
        if let Some(wait) = self.retry_after {
            let seconds = wait.as_secs() + u64::from(wait.subsec_nanos() > 0);
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(seconds.max(1)));
        }
        if let Some(allowed) = self.allow {
            if let Ok(value) = HeaderValue::from_str(&method_list(allowed, ", ")) {
                response.headers_mut().insert(header::ALLOW, value);
            }
        }
        response
    }
}

/// `GET, HEAD` (an `Allow` header) or `GET or HEAD` (a sentence).
fn method_list(methods: &[Method], separator: &str) -> String {
    let names: Vec<&str> = methods.iter().map(Method::as_str).collect();
    names.join(separator)
}

/// The default service: unknown routes answer 404 in JSON.
pub async fn not_found(req: HttpRequest) -> HttpResponse {
    ApiError::not_found(&req).error_response()
}

/// Query strings that do not even parse (e.g. `since` given twice).
pub fn query_config() -> web::QueryConfig {
    web::QueryConfig::default().error_handler(|err, _req| ApiError::malformed_query(err).into())
}

/// JSON bodies: size cap, content type, syntax and shape errors.
pub fn json_config(limit: usize) -> web::JsonConfig {
    web::JsonConfig::default()
        .limit(limit)
        .error_handler(move |err, _req| {
            use error::JsonPayloadError as E;
            let api = match &err {
                E::OverflowKnownLength { .. } | E::Overflow { .. } => ApiError::new(
                    StatusCode::PAYLOAD_TOO_LARGE,
                    "body_too_large",
                    format!("the body may be at most {limit} bytes"),
                ),
                E::ContentType => ApiError::new(
                    StatusCode::UNSUPPORTED_MEDIA_TYPE,
                    "unsupported_media_type",
                    "send the body as JSON with Content-Type: application/json",
                ),
                E::Deserialize(e) => {
                    ApiError::bad_request("bad_json", format!("the body is not valid: {e}"))
                }
                other => {
                    // The reading failed (the connection, most likely):
                    // its text is the server's business, not the client's.
                    tracing::debug!(error = %other, "could not read a JSON body");
                    ApiError::bad_request("bad_body", "could not read the body")
                }
            };
            api.into()
        })
}
