//! Member organizations: tiers and dues levels, organizations with their status history, and the
//! representatives who speak for them.

pub mod api;
pub mod model;
pub mod pages;
pub mod service;

use crate::accounts::{Access, Role, Router};

const TREASURER: Access = Access::Roles(&[Role::Treasurer]);
const READERS: Access = Access::Roles(&[Role::Treasurer, Role::Council, Role::Admin]);
/// Representatives reach only their own organization; the service checks which.
const WITH_REPS: Access = Access::Roles(&[Role::Treasurer, Role::Council, Role::Admin, Role::MemberRep]);
/// Who changes an organization: the treasurer, or (its profile only) its own representatives.
const EDITORS: Access = Access::Roles(&[Role::Treasurer, Role::MemberRep]);

pub fn routes(r: &mut Router) {
    r.get("/members", READERS, pages::list)
        .get("/members/new", TREASURER, pages::new_form)
        .post("/members/new", TREASURER, pages::create)
        .get("/members/export.csv", READERS, pages::export)
        .get("/members/import", TREASURER, pages::import_form)
        .post("/members/import", TREASURER, pages::import)
        .get("/my-organization", Access::Roles(&[Role::MemberRep]), pages::mine)
        .get("/members/{slug}", WITH_REPS, pages::show)
        .get("/members/{slug}/edit", EDITORS, pages::edit_form)
        .post("/members/{slug}/edit", EDITORS, pages::update)
        .post("/members/{slug}/contacts", EDITORS, pages::set_contacts)
        .post(
            "/members/{slug}/representatives",
            Access::Roles(&[Role::Treasurer, Role::Admin, Role::MemberRep]),
            pages::invite_representative,
        )
        .get("/tiers", Access::SignedIn, pages::tiers)
        .get("/tiers/new", TREASURER, pages::new_tier_form)
        .post("/tiers/new", TREASURER, pages::create_tier)
        .get("/tiers/{id}/edit", TREASURER, pages::edit_tier_form)
        .post("/tiers/{id}/edit", TREASURER, pages::update_tier)
        .post("/tiers/{id}/retire", TREASURER, pages::retire_tier)
        .post("/tiers/{id}/reinstate", TREASURER, pages::reinstate_tier)
        .post("/tiers/{id}/delete", TREASURER, pages::delete_tier)
        .get("/api/v1/members", WITH_REPS, api::list)
        .post("/api/v1/members", TREASURER, api::create)
        .get("/api/v1/members/{id}", WITH_REPS, api::get)
        .patch("/api/v1/members/{id}", EDITORS, api::update)
        .get("/api/v1/tiers", Access::SignedIn, api::tiers)
        .post("/api/v1/tiers", TREASURER, api::create_tier);
}
