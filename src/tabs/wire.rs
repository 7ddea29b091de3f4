//! A tab's wire log: the last exchanges of its own connections, byte for
//! byte, as the server read and wrote them.
//!
//! (Being built: see issue 16, section 3. Until then nothing is recorded.)

/// The recorder of one tab.
#[derive(Default)]
pub struct WireLog {}

/// This part's routes under `/api/tabs/{id}/`.
pub fn routes(_cfg: &mut actix_web::web::ServiceConfig) {}
