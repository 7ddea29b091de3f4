//! `GET/POST /api/generator`: the generator's rate, read and changed live.
//!
//! The teacher turns the rate up and down from the page and the class
//! watches what it does to each technique: more messages make short
//! polling's empty answers rarer, long-polling busier, and cost SSE and
//! WebSocket almost nothing extra.
//!
//! `{"rate": 2.5}` in both directions, in messages per second from 0 to
//! 100. Like every endpoint it refuses bad input with a JSON 4xx that says
//! why, and because it changes what everyone sees, it takes requests only
//! from pushlab's own page (or from no page at all: curl).

use actix_web::{HttpRequest, HttpResponse, web};
use serde::Serialize;
use serde_json::Value;

use crate::generator::MAX_RATE;
use crate::plumbing::error::{ApiError, echo};
use crate::plumbing::origin;
use crate::plumbing::state::AppState;

/// The body of both answers.
#[derive(Serialize)]
struct Rate {
    /// Messages per second, on average.
    rate: f64,
}

/// `GET /api/generator` → `{"rate": 2.5}`
pub async fn get(req: HttpRequest, state: web::Data<AppState>) -> Result<HttpResponse, ApiError> {
    origin::check_same_origin(&req)?;
    Ok(answer(*state.generator_rate.borrow()))
}

/// `POST /api/generator` with `{"rate": 2.5}` → `{"rate": 2.5}`
///
/// The body is taken as a `Result` so that the Origin is checked first: a
/// foreign page gets 403 whatever it sent.
pub async fn set(
    req: HttpRequest,
    state: web::Data<AppState>,
    body: Result<web::Json<Value>, actix_web::Error>,
) -> Result<HttpResponse, actix_web::Error> {
    origin::check_same_origin(&req)?;
    let rate = rate_of(&body?.into_inner())?;
    state.generator_rate.send_replace(rate);
    tracing::info!("generator rate set to {rate} messages/s");
    Ok(answer(rate))
}

/// The rate in a body, if it is an object with a number from 0 to 100.
/// `-0.0` is such a number; it is kept as the 0 it means, not shown as
/// "-0" to everyone.
fn rate_of(body: &Value) -> Result<f64, ApiError> {
    let Some(raw) = body.get("rate") else {
        return Err(ApiError::bad_request(
            "bad_rate",
            "the body must be a JSON object like {\"rate\": 2.5}",
        ));
    };
    match raw.as_f64() {
        Some(rate) if (0.0..=MAX_RATE).contains(&rate) => Ok(rate.abs()),
        _ => Err(ApiError::bad_request(
            "bad_rate",
            format!(
                "rate must be a number of messages per second from 0 to {MAX_RATE}, not {}",
                echo(&raw.to_string())
            ),
        )),
    }
}

fn answer(rate: f64) -> HttpResponse {
    HttpResponse::Ok()
        .insert_header((actix_web::http::header::CACHE_CONTROL, "no-store"))
        .json(Rate { rate })
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn rates_are_numbers_from_0_to_100() {
        assert_eq!(rate_of(&json!({"rate": 2.5})).ok(), Some(2.5));
        assert_eq!(rate_of(&json!({"rate": 0})).ok(), Some(0.0));
        assert_eq!(rate_of(&json!({"rate": 100})).ok(), Some(100.0));
        let zero = rate_of(&json!({"rate": -0.0})).unwrap();
        assert!(zero == 0.0 && zero.is_sign_positive(), "{zero}");
        for bad in [
            json!({"rate": -1}),
            json!({"rate": 100.5}),
            json!({"rate": "2"}),
            json!({"rate": null}),
            json!({}),
            json!([2]),
            json!(2),
        ] {
            assert!(rate_of(&bad).is_err(), "{bad}");
        }
    }
}
