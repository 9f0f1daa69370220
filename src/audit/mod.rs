//! The audit log: who did what to which entity, when and from where. Append-only.

pub mod model;
pub mod pages;
pub mod service;

pub use service::{record, Actor, Changes, Event};

use crate::accounts::{Access, Role, Router};

pub fn routes(r: &mut Router) {
    const ADMIN: Access = Access::Roles(&[Role::Admin]);
    r.get("/admin/audit", ADMIN, pages::log).get("/api/v1/audit-events", ADMIN, pages::list_api);
}
