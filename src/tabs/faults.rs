//! Faults a tab asks for on its own connections: "drop this connection".
//!
//! (Being built: see issue 16, section 9.)

/// One tab's pending faults.
#[derive(Default)]
pub struct Faults {}

/// This part's routes under `/api/tabs/{id}/`.
pub fn routes(_cfg: &mut actix_web::web::ServiceConfig) {}
