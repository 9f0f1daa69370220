//! Funding: the foundation's priorities and their key outcomes (budgets, initiatives, allocations and the
//! ledger build on these).

pub mod model;
pub mod pages;
pub mod service;

use actix_web::web;

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.route("/priorities", web::get().to(pages::priorities));
}
