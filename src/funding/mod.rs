//! Funding: the foundation's priorities and their key outcomes (budgets, initiatives, allocations and the
//! ledger build on these).

pub mod api;
pub mod model;
pub mod pages;
pub mod service;

use crate::accounts::{Access, Role, Router};

pub fn routes(r: &mut Router) {
    const TREASURER: Access = Access::Roles(&[Role::Treasurer]);
    const FUNDING: Access = Access::Roles(&[Role::Treasurer, Role::Council]);
    r.get("/priorities", Access::Public, pages::priorities)
        .get("/priorities/new", FUNDING, pages::new_priority)
        .post("/priorities/new", FUNDING, pages::create_priority)
        .get("/priorities/{id}/edit", FUNDING, pages::edit_priority)
        .post("/priorities/{id}/edit", FUNDING, pages::save_priority)
        .get("/budgets", FUNDING, pages::budgets)
        .get("/budgets/{year}/{priority}", TREASURER, pages::edit_budget)
        .post("/budgets/{year}/{priority}", TREASURER, pages::save_budget)
        // Approved initiatives are public; the service hides proposals from all but treasurer and council.
        .get("/initiatives", Access::Public, pages::initiatives)
        .get("/initiatives/new", FUNDING, pages::new_initiative)
        .post("/initiatives/new", FUNDING, pages::create_initiative)
        .get("/initiatives/{id}", Access::Public, pages::initiative)
        .get("/initiatives/{id}/edit", FUNDING, pages::edit_initiative)
        .post("/initiatives/{id}/edit", FUNDING, pages::save_initiative)
        .post("/initiatives/{id}/status", FUNDING, pages::change_status)
        .post("/initiatives/{id}/allocations", TREASURER, pages::allocate)
        .post("/allocations/{id}", TREASURER, pages::change_allocation)
        .get("/api/v1/priorities", Access::SignedIn, api::priorities)
        .post("/api/v1/priorities", FUNDING, api::create_priority)
        .put("/api/v1/priorities/{id}", FUNDING, api::update_priority)
        .get("/api/v1/budgets", FUNDING, api::budgets)
        .put("/api/v1/budgets/{fiscal_year_id}/{priority_id}", TREASURER, api::set_budget)
        .get("/api/v1/initiatives", Access::SignedIn, api::list_initiatives)
        .post("/api/v1/initiatives", FUNDING, api::create_initiative)
        .get("/api/v1/initiatives/{id}", Access::SignedIn, api::get_initiative)
        .put("/api/v1/initiatives/{id}", FUNDING, api::update_initiative)
        .post("/api/v1/initiatives/{id}/status", FUNDING, api::change_status)
        .post("/api/v1/initiatives/{id}/allocations", TREASURER, api::allocate)
        .get("/api/v1/allocations", FUNDING, api::list_allocations)
        .put("/api/v1/allocations/{id}", TREASURER, api::change_allocation);
}
