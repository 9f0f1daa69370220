//! Administration pages that are not about one account: the foundation's settings and the mail queue.

pub mod pages;
pub mod service;

use crate::accounts::{Access, Role, Router};

pub fn routes(r: &mut Router) {
    const ADMIN: Access = Access::Roles(&[Role::Admin]);
    r.get("/admin/settings", ADMIN, pages::settings_form)
        .post("/admin/settings", ADMIN, pages::save_settings)
        .get("/admin/mail", ADMIN, pages::mail_queue)
        .post("/admin/mail/{id}/retry", ADMIN, pages::retry_message)
        .post("/admin/mail/{id}/cancel", ADMIN, pages::cancel_message);
}
