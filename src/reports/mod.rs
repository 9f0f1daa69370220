//! Periodic progress reports emailed to members: the schedule (admins), generation with the content frozen
//! as sent, previews of the exact email for any recipient, sending on confirmation (or on the scheduler's
//! send day), and the archive every signed-in person reads.

pub mod api;
pub mod model;
pub mod pages;
pub mod period;
pub mod service;

use crate::accounts::{Access, Role, Router};

pub fn routes(r: &mut Router) {
    const EDITORS: Access = Access::Roles(&[Role::Council, Role::Admin]);
    const ADMIN: Access = Access::Roles(&[Role::Admin]);
    r.get("/reports", Access::SignedIn, pages::index)
        .post("/reports", EDITORS, pages::generate)
        .get("/reports/schedule", ADMIN, pages::schedule)
        .post("/reports/schedule", ADMIN, pages::save_schedule)
        .get("/reports/{period}", Access::SignedIn, pages::show)
        .get("/reports/{period}/email", Access::SignedIn, pages::my_email)
        .post("/reports/{period}/words", EDITORS, pages::words)
        .get("/reports/{period}/preview", EDITORS, pages::preview)
        .get("/reports/{period}/preview/email", EDITORS, pages::preview_email)
        .get("/reports/{period}/send", EDITORS, pages::confirm_send)
        .post("/reports/{period}/send", EDITORS, pages::send)
        .post("/reports/{period}/publish", EDITORS, pages::publish)
        .get("/api/v1/reports", Access::SignedIn, api::list)
        .get("/api/v1/reports/schedule", EDITORS, api::schedule)
        .put("/api/v1/reports/schedule", ADMIN, api::set_schedule)
        .get("/api/v1/reports/{period}", Access::SignedIn, api::show);
}
