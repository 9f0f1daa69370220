//! The treasurer's dashboard: income and spending by month, budget against allocated and spent per priority
//! and line item, fund balances, open disbursement requests and overdue dues, for one fiscal year.

pub mod api;
pub mod pages;
pub mod service;

use crate::accounts::{Access, Role, Router};

pub fn routes(r: &mut Router) {
    const FUNDING: Access = Access::Roles(&[Role::Treasurer, Role::Council]);
    r.get("/treasury", FUNDING, pages::dashboard).get("/api/v1/treasury", FUNDING, api::dashboard);
}
