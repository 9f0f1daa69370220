//! Outcome metrics: what the foundation measures to know whether its money moves its key outcomes.
//! Baselines and targets, dated observations with provenance (corrections keep history), progress and status
//! from the trend, and the money spent next to the change it bought.

pub mod api;
pub mod model;
pub mod pages;
pub mod progress;
pub mod service;

use crate::accounts::{Access, Role, Router};

pub fn routes(r: &mut Router) {
    // Everyone signed in may read the outcomes; the council defines metrics and records their values.
    const COUNCIL: Access = Access::Roles(&[Role::Council]);
    r.get("/metrics", Access::SignedIn, pages::list)
        .get("/metrics/new", COUNCIL, pages::new_form)
        .post("/metrics/new", COUNCIL, pages::create)
        .get("/metrics/import", COUNCIL, pages::import_form)
        .post("/metrics/import", COUNCIL, pages::import)
        .get("/metrics/{id}", Access::SignedIn, pages::show)
        .get("/metrics/{id}/edit", COUNCIL, pages::edit_form)
        .post("/metrics/{id}/edit", COUNCIL, pages::save)
        .post("/metrics/{id}/observations", COUNCIL, pages::record)
        .get("/metrics/{id}/observations.csv", Access::SignedIn, pages::export)
        .post("/metrics/observations/{id}/correct", COUNCIL, pages::correct)
        .get("/api/v1/metrics", Access::SignedIn, api::list)
        .post("/api/v1/metrics", COUNCIL, api::create)
        .get("/api/v1/metrics/{id}", Access::SignedIn, api::get)
        .put("/api/v1/metrics/{id}", COUNCIL, api::update)
        .post("/api/v1/metrics/{id}/observations", COUNCIL, api::record)
        .post("/api/v1/metrics/{id}/observations/bulk", COUNCIL, api::record_bulk)
        .post("/api/v1/observations/{id}/correct", COUNCIL, api::correct);
}
