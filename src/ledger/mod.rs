//! The ledger and its fiscal years: every amount of money that came in or went out, append-only, and the
//! balances derived from it. Dues and disbursements post here.

pub mod model;
pub mod pages;
pub mod service;

use crate::accounts::{Access, Role, Router};

pub fn routes(r: &mut Router) {
    const TREASURER: Access = Access::Roles(&[Role::Treasurer]);
    const MONEY_READERS: Access = Access::Roles(&[Role::Treasurer, Role::Council]);
    r.get("/fiscal-years", MONEY_READERS, pages::fiscal_years)
        .post("/fiscal-years", TREASURER, pages::create_fiscal_year)
        .post("/fiscal-years/{id}/status", TREASURER, pages::set_status)
        .get("/ledger", MONEY_READERS, pages::ledger)
        .get("/ledger/export.csv", MONEY_READERS, pages::export);
}
