//! Dues: invoices to member organizations, payments and voids, posting to the ledger.

pub mod api;
pub mod model;
pub mod pages;
pub mod reminders;
pub mod service;

use crate::accounts::{Access, Role, Router};

pub fn routes(r: &mut Router) {
    const TREASURER: Access = Access::Roles(&[Role::Treasurer]);
    const WITH_REPS: Access = Access::Roles(&[Role::Treasurer, Role::Council, Role::Admin, Role::MemberRep]);
    // Representatives list and export too: the service gives them their own organization's invoices only.
    r.get("/invoices", WITH_REPS, pages::list)
        .post("/invoices/issue", TREASURER, pages::issue)
        .get("/invoices/export.csv", WITH_REPS, pages::export)
        .get("/invoices/reminders", TREASURER, pages::reminders_form)
        .post("/invoices/reminders", TREASURER, pages::save_reminders)
        .get("/invoices/{id}", WITH_REPS, pages::show)
        .post("/invoices/{id}/payments", TREASURER, pages::record_payment)
        .post("/invoices/{id}/void", TREASURER, pages::void)
        .get("/api/v1/invoices", WITH_REPS, api::list)
        .get("/api/v1/invoices/{id}", WITH_REPS, api::get)
        .post("/api/v1/invoices/{id}/payments", TREASURER, api::record_payment);
}
