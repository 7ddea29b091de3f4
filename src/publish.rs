//! Publishing: what a user may post, checked once for every way in
//! (`POST /api/messages` and a WebSocket text frame).
//!
//! Limits count characters, not bytes, so "é" and "e" weigh the same.
//! How often a client may publish is [`crate::limits`]' business; both
//! ways in ask it before publishing.

use actix_web::{HttpRequest, HttpResponse, web};
use serde::Deserialize;

use crate::broker::Broker;
use crate::error::ApiError;
use crate::state::AppState;

pub const MAX_AUTHOR_CHARS: usize = 32;
pub const MAX_TEXT_CHARS: usize = 500;
/// The largest body `POST /api/messages` reads: 500 four-byte characters,
/// an author and JSON escaping fit well inside.
pub const MAX_BODY_BYTES: usize = 4096;

/// A message as a user submits it.
#[derive(Debug, Deserialize)]
pub struct NewMessage {
    pub author: String,
    pub text: String,
}

impl NewMessage {
    /// Reads a message from parsed JSON: an object with string fields
    /// `author` and `text` (other fields are ignored).
    pub fn from_json(value: serde_json::Value) -> Result<NewMessage, ApiError> {
        if !value.is_object() {
            return Err(ApiError::bad_request(
                "bad_json",
                "the body must be a JSON object: {\"author\": \"...\", \"text\": \"...\"}",
            ));
        }
        serde_json::from_value(value)
            .map_err(|e| ApiError::bad_request("bad_json", format!("the body is not valid: {e}")))
    }

    /// Validates the message and, if it is acceptable, publishes it;
    /// its id, or why it was not published.
    pub async fn publish_to(&self, broker: &dyn Broker) -> Result<u64, ApiError> {
        self.validate()?;
        Ok(broker.publish(&self.author, &self.text).await?)
    }

    /// Refuses empty or over-long fields, saying which and why.
    pub fn validate(&self) -> Result<(), ApiError> {
        check_length("author", &self.author, MAX_AUTHOR_CHARS)?;
        check_length("text", &self.text, MAX_TEXT_CHARS)
    }
}

fn check_length(field: &str, value: &str, max: usize) -> Result<(), ApiError> {
    let chars = value.chars().count();
    if value.trim().is_empty() {
        return Err(ApiError::bad_request(
            "bad_message",
            format!("{field} must not be empty"),
        ));
    }
    if chars > max {
        return Err(ApiError::bad_request(
            "bad_message",
            format!("{field} is {chars} characters long; at most {max} are allowed"),
        ));
    }
    Ok(())
}

/// `POST /api/messages` with `{"author": "...", "text": "..."}` → 201
/// `{"id": N}`, 429 when this client is over its publish rate, 503 when
/// the broker cannot be reached.
pub async fn post_message(
    req: HttpRequest,
    state: web::Data<AppState>,
    body: web::Json<serde_json::Value>,
) -> Result<HttpResponse, ApiError> {
    let new = NewMessage::from_json(body.into_inner())?;
    state
        .publish_limit
        .check(req.peer_addr().map(|peer| peer.ip()))?;
    let id = new.publish_to(state.broker.as_ref()).await?;
    Ok(HttpResponse::Created().json(serde_json::json!({ "id": id })))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn message(author: &str, text: &str) -> NewMessage {
        NewMessage {
            author: author.into(),
            text: text.into(),
        }
    }

    #[test]
    fn limits_count_characters_not_bytes() {
        assert!(
            message(&"é".repeat(32), &"😀".repeat(500))
                .validate()
                .is_ok()
        );
        assert!(message(&"é".repeat(33), "x").validate().is_err());
        assert!(message("a", &"😀".repeat(501)).validate().is_err());
    }

    #[test]
    fn empty_fields_are_refused() {
        assert!(message("", "x").validate().is_err());
        assert!(message("a", "   ").validate().is_err());
    }
}
