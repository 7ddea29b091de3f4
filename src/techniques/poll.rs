//! Ajax short polling: the client asks "any news?" on a timer, and the
//! server answers at once — usually "no".
//!
//! `GET /api/poll?since=ID` returns the messages after ID that the hub still
//! holds, and `next`, the cursor for the following request. Nothing waits
//! for news: the handler reads the ring and answers.
//!
//! The cost model follows from that. N clients polling every T seconds make
//! N / T requests a second whether anything happened or not; most answers
//! are empty when messages are rarer than polls; and a message waits on
//! average T / 2 (at worst T) for the next poll to pick it up. Every one of
//! those requests pays a full request line, headers and a status line —
//! the page shows how many bytes that is.

use actix_web::{HttpRequest, HttpResponse, web};

use crate::cursor::CursorQuery;
use crate::plumbing::error::ApiError;
use crate::plumbing::state::AppState;
use crate::tally::Tally;
use crate::technique::Technique;

// docs:start poll-handler
/// `GET /api/poll?since=ID`
pub async fn handle(
    req: HttpRequest,
    state: web::Data<AppState>,
    query: CursorQuery,
) -> Result<HttpResponse, ApiError> {
    let cursor = query.cursor(None)?;

    // Whatever is there right now — possibly nothing.
    let read = state.hub.read(cursor).await;

    let tally = Tally::of(&req, &state.stats, Technique::poll);
    Ok(super::hand_over(
        &tally,
        &read.epoch,
        &read.batch,
        read.next,
    ))
}
// docs:end poll-handler
