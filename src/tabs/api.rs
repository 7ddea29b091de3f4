//! `/api/tabs/{id}`: a tab's own figures, and their reset.
//!
//! (Being built: issue 16, section 2.)

use actix_web::web;

/// The routes of a tab's figures.
pub fn routes(_cfg: &mut web::ServiceConfig) {}
