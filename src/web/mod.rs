//! What a browser loads: the page, the static files and the docs, all
//! compiled into the binary so pushlab runs from any folder, offline.

pub mod assets;
pub mod docs;
pub mod lanes;
pub mod page;

use actix_web::web;

/// The page, static and docs routes.
pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.route("/", web::get().to(page::index))
        .route("/static/{path:.*}", web::get().to(assets::static_file))
        .route("/docs", web::get().to(docs::index))
        .route("/docs/{path:.*}", web::get().to(docs::chapter));
}
