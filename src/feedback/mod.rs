//! The always-open feedback channel between surveys: a representative sends a suggestion or question,
//! optionally about a priority or initiative; the council triages and answers it, the representative is
//! emailed, and answered items marked quotable can go into the progress reports.

pub mod api;
pub mod model;
pub mod pages;
pub mod service;

use crate::accounts::{Access, Role, Router};

pub fn routes(r: &mut Router) {
    const REPS: Access = Access::Roles(&[Role::MemberRep]);
    const COUNCIL: Access = Access::Roles(&[Role::Council]);
    r.get("/feedback", REPS, pages::mine)
        .post("/feedback", REPS, pages::send)
        .get("/feedback/triage", COUNCIL, pages::triage)
        .post("/feedback/{id}/answer", COUNCIL, pages::answer)
        .get("/api/v1/feedback", Access::Roles(&[Role::MemberRep, Role::Council]), api::list)
        .post("/api/v1/feedback", REPS, api::send)
        .post("/api/v1/feedback/{id}/answer", COUNCIL, api::answer);
}
