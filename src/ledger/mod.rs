//! The ledger and its fiscal years: every amount of money that came in or went out, append-only, and the
//! balances derived from it. Dues and disbursements post here.

pub mod api;
pub mod model;
pub mod pages;
pub mod rates;
pub mod service;

use crate::accounts::{Access, Role, Router};

pub fn routes(r: &mut Router) {
    const TREASURER: Access = Access::Roles(&[Role::Treasurer]);
    const MONEY_READERS: Access = Access::Roles(&[Role::Treasurer, Role::Council]);
    r.get("/fiscal-years", MONEY_READERS, pages::fiscal_years)
        .post("/fiscal-years", TREASURER, pages::create_fiscal_year)
        .post("/fiscal-years/{id}/status", TREASURER, pages::set_status)
        .get("/ledger", MONEY_READERS, pages::ledger)
        .get("/ledger/export.csv", MONEY_READERS, pages::export)
        .post("/ledger/adjustments", TREASURER, pages::adjust)
        .post("/ledger/transfers", TREASURER, pages::transfer)
        .post("/ledger/{id}/reverse", TREASURER, pages::reverse)
        .get("/exchange-rates", MONEY_READERS, pages::exchange_rates)
        .post("/exchange-rates", TREASURER, pages::record_rate)
        .get("/api/v1/fiscal-years", MONEY_READERS, api::fiscal_years)
        .get("/api/v1/ledger/entries", MONEY_READERS, api::entries)
        .get("/api/v1/ledger/balances", MONEY_READERS, api::balances)
        .post("/api/v1/ledger/adjustments", TREASURER, api::adjust)
        .post("/api/v1/ledger/transfers", TREASURER, api::transfer)
        .post("/api/v1/ledger/entries/{id}/reverse", TREASURER, api::reverse)
        .get("/api/v1/exchange-rates", MONEY_READERS, api::exchange_rates)
        .post("/api/v1/exchange-rates", TREASURER, api::record_rate);
}
