//! Funding: the foundation's priorities and their key outcomes (budgets, initiatives, allocations and the
//! ledger build on these).

pub mod model;
pub mod pages;
pub mod service;

use crate::accounts::{Access, Router};

pub fn routes(r: &mut Router) {
    r.get("/priorities", Access::Public, pages::priorities);
}
