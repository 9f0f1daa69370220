//! Disbursements: money going out against an initiative's allocation. Requested with payee, amount and
//! purpose; approved by enough people other than the requester; paid by the treasurer, which posts the
//! ledger entry. The sum paid never exceeds the allocation.

pub mod api;
pub mod model;
pub mod pages;
pub mod service;

use crate::accounts::{Access, Role, Router};

pub fn routes(r: &mut Router) {
    const TREASURER: Access = Access::Roles(&[Role::Treasurer]);
    const FUNDING: Access = Access::Roles(&[Role::Treasurer, Role::Council]);
    // The rule that checks the treasurer's payments is set by the council or an admin, not the treasurer.
    const RULE_SETTERS: Access = Access::Roles(&[Role::Council, Role::Admin]);
    r.get("/disbursements", FUNDING, pages::list)
        .get("/disbursements/approval-rule", RULE_SETTERS, pages::rule_form)
        .post("/disbursements/approval-rule", RULE_SETTERS, pages::save_rule)
        .get("/disbursements/new", FUNDING, pages::new_form)
        .post("/disbursements/new", FUNDING, pages::create)
        .get("/disbursements/{id}", FUNDING, pages::show)
        .post("/disbursements/{id}/approve", FUNDING, pages::approve)
        .post("/disbursements/{id}/reject", FUNDING, pages::reject)
        .post("/disbursements/{id}/pay", TREASURER, pages::pay)
        .get("/api/v1/disbursements/approval-rule", Access::SignedIn, api::rule)
        .put("/api/v1/disbursements/approval-rule", RULE_SETTERS, api::set_rule)
        .get("/api/v1/disbursements", FUNDING, api::list)
        .post("/api/v1/disbursements", FUNDING, api::create)
        .get("/api/v1/disbursements/{id}", FUNDING, api::get)
        .post("/api/v1/disbursements/{id}/approve", FUNDING, api::approve)
        .post("/api/v1/disbursements/{id}/reject", FUNDING, api::reject)
        .post("/api/v1/disbursements/{id}/pay", TREASURER, api::pay);
}
