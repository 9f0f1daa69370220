//! Administration pages that are not about one account: the foundation's settings.

pub mod pages;

use crate::accounts::{Access, Role, Router};

pub fn routes(r: &mut Router) {
    const ADMIN: Access = Access::Roles(&[Role::Admin]);
    r.get("/admin/settings", ADMIN, pages::settings_form).post("/admin/settings", ADMIN, pages::save_settings);
}
