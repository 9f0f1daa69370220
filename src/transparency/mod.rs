//! The public transparency page, its Atom feed of published reports and the public copy of each, and the
//! settings page where admins turn it on and the council and admins choose what it shows.

pub mod pages;
pub mod service;

use crate::accounts::{Access, Role, Router};

pub fn routes(r: &mut Router) {
    const EDITORS: Access = Access::Roles(&[Role::Council, Role::Admin]);
    r.get("/transparency", Access::Public, pages::index)
        .get("/transparency/feed.atom", Access::Public, pages::feed)
        .get("/transparency/reports/{period}", Access::Public, pages::report)
        .get("/admin/transparency", EDITORS, pages::settings)
        .post("/admin/transparency", EDITORS, pages::save);
}
