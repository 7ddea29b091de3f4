//! Publishing: what a user may post, checked once for every way in
//! (`POST /api/messages` and a WebSocket text frame).
//!
//! Limits count characters, not bytes, so "é" and "e" weigh the same.
//! How often a client may publish is [`crate::plumbing::limits`]' business; both
//! ways in ask it before publishing.
//!
//! Invisible format characters (Unicode category Cf) are removed before
//! anything else: zero-width spaces would let an empty-looking message or a
//! look-alike name through, and the bidi controls (U+202A–U+202E,
//! U+2066–U+2069) would reverse the rest of the line on every reader's page.
//! Removing them here, once, protects every client of every technique, not
//! only pushlab's own page. Only the zero-width joiners stay in the text:
//! they hold emoji sequences (👩‍💻) and Persian and Indic words together,
//! and they reorder nothing.
//!
//! Two names are the teacher's: `teacher`, and `generator`, the name the
//! server's own random messages carry. Publishing under either needs the
//! teacher key (see [`crate::teacher`]) unless the controls are open; a
//! student gets 403 `teacher_only`, so nobody can speak for the teacher or
//! pass a message off as the server's. They are compared as a reader sees
//! them: without format or control characters, trimmed, in any case.

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};
use serde::Deserialize;
use unicode_properties::{GeneralCategory, UnicodeGeneralCategory};

use crate::broker::{Broker, BrokerError};
use crate::plumbing::error::ApiError;
use crate::plumbing::state::AppState;

pub const MAX_AUTHOR_CHARS: usize = 32;
pub const MAX_TEXT_CHARS: usize = 500;
/// The largest body `POST /api/messages` reads: 500 four-byte characters,
/// an author and JSON escaping fit well inside.
pub const MAX_BODY_BYTES: usize = 4096;
/// Zero-width non-joiner and joiner: the format characters text keeps.
const JOINERS: [char; 2] = ['\u{200C}', '\u{200D}'];
/// The authors only the teacher may publish as, lowercase.
pub const TEACHER_AUTHORS: [&str; 2] = ["teacher", crate::generator::AUTHOR];

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

    /// Removes its format characters, validates what is left and, if it
    /// is acceptable — a teacher's name only from the `teacher` — publishes
    /// that; its id, or why it was not published.
    pub async fn publish_to(&self, broker: &dyn Broker, teacher: bool) -> Result<u64, ApiError> {
        let message = self.without_format_characters();
        message.validate()?;
        if !teacher && message.has_teacher_author() {
            return Err(teacher_author());
        }
        broker
            .publish(&message.author, &message.text)
            .await
            .map_err(unconfirmed)
    }

    /// The message as it is published: every format character removed from
    /// the author, every one but the joiners from the text.
    pub fn without_format_characters(&self) -> NewMessage {
        NewMessage {
            author: self.author.chars().filter(|&c| !is_format(c)).collect(),
            text: self
                .text
                .chars()
                .filter(|&c| !is_format(c) || JOINERS.contains(&c))
                .collect(),
        }
    }

    /// Is the author one of [`TEACHER_AUTHORS`], as a reader would see it?
    pub fn has_teacher_author(&self) -> bool {
        let seen: String = self
            .author
            .chars()
            .filter(|&c| !(is_format(c) || c.is_control()))
            .collect();
        let seen = seen.trim().to_lowercase();
        TEACHER_AUTHORS.contains(&seen.as_str())
    }

    /// Refuses empty or over-long fields, saying which and why. A field of
    /// only invisible characters (spaces, controls, format characters) is
    /// empty.
    pub fn validate(&self) -> Result<(), ApiError> {
        check_length("author", &self.author, MAX_AUTHOR_CHARS)?;
        check_length("text", &self.text, MAX_TEXT_CHARS)
    }
}

/// A format character (Unicode category Cf): it has no glyph of its own.
fn is_format(c: char) -> bool {
    c.general_category() == GeneralCategory::Format
}

/// Whether a reader would see anything of `c`.
fn is_visible(c: char) -> bool {
    !(c.is_whitespace() || c.is_control() || is_format(c))
}

fn check_length(field: &str, value: &str, max: usize) -> Result<(), ApiError> {
    let chars = value.chars().count();
    if !value.chars().any(is_visible) {
        return Err(ApiError::bad_request(
            "bad_message",
            format!("{field} must not be empty (invisible characters do not count)"),
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

/// The refusal of a teacher's name to a student.
fn teacher_author() -> ApiError {
    ApiError::new(
        StatusCode::FORBIDDEN,
        "teacher_only",
        "the authors \"teacher\" and \"generator\" are the teacher's: publish under your \
         own name (the teacher publishes under them from the teacher URL, which carries ?key=…)",
    )
}

/// A publish the broker did not confirm, as the client is told it: what
/// became of the message, without the broker's own error text (an address,
/// "Connection refused (os error 111)"), which goes to the log instead.
fn unconfirmed(error: BrokerError) -> ApiError {
    tracing::warn!(?error, "a publish was not confirmed by the broker");
    let message = match &error {
        BrokerError::Unreachable(_) => "the message broker is not reachable, nothing was published",
        BrokerError::NoAnswer(_) => {
            "the message broker did not confirm the publish; it may or may not have \
             been published: look before publishing again"
        }
    };
    ApiError {
        message: message.to_owned(),
        ..ApiError::from(error)
    }
}

/// `POST /api/messages` with `{"author": "...", "text": "..."}` → 201
/// `{"id": N}`, 403 for a teacher's name without the teacher key
/// (`Authorization: Bearer KEY` or `?key=KEY`), 429 when this client is
/// over its publish rate, 503 when the broker cannot be reached.
pub async fn post_message(
    req: HttpRequest,
    state: web::Data<AppState>,
    body: web::Json<serde_json::Value>,
) -> Result<HttpResponse, ApiError> {
    let new = NewMessage::from_json(body.into_inner())?;
    state
        .publish_limit
        .check(req.peer_addr().map(|peer| peer.ip()))?;
    let teacher = state.teacher.allows(&req);
    let id = new.publish_to(state.broker.as_ref(), teacher).await?;
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

    #[test]
    fn fields_of_invisible_characters_are_empty() {
        for invisible in [
            "\u{200B}",
            "\u{202E}",
            " \u{2066}\u{2069} ",
            "\u{FEFF}\u{0}",
        ] {
            assert!(message(invisible, "x").validate().is_err(), "{invisible:?}");
            assert!(message("a", invisible).validate().is_err(), "{invisible:?}");
        }
    }

    #[test]
    fn the_teachers_names_are_seen_through_case_spaces_and_invisible_characters() {
        for author in [
            "teacher",
            "Teacher",
            " GENERATOR ",
            "te\u{200B}acher",
            "\u{202E}generator",
            "teacher\u{0}",
        ] {
            assert!(message(author, "x").has_teacher_author(), "{author:?}");
        }
        for author in ["teachers", "the teacher", "gen erator", "ann"] {
            assert!(!message(author, "x").has_teacher_author(), "{author:?}");
        }
    }

    #[test]
    fn format_characters_are_removed_but_joiners_stay_in_the_text() {
        let cleaned = message(
            "te\u{200B}acher\u{200D}",
            "\u{202E}olleh 👩\u{200D}💻\u{2069}",
        )
        .without_format_characters();
        assert_eq!(cleaned.author, "teacher");
        assert_eq!(cleaned.text, "olleh 👩\u{200D}💻");
    }
}
