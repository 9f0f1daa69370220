//! Member surveys: the council drafts questions, opens the survey (a personal link to each representative
//! through the outbox), members answer by link (drafts, changes until close; anonymity that holds), the
//! council closes it (survey-fed metrics get their values) and reads the results.

pub mod api;
pub mod model;
pub mod pages;
pub mod pool;
pub mod service;
pub mod stats;

use crate::accounts::{Access, Role, Router};

pub fn routes(r: &mut Router) {
    const COUNCIL: Access = Access::Roles(&[Role::Council]);
    r.get("/surveys", COUNCIL, pages::list)
        .get("/surveys/new", COUNCIL, pages::new_form)
        .post("/surveys/new", COUNCIL, pages::create)
        .get("/surveys/{id}", COUNCIL, pages::show)
        .post("/surveys/{id}/questions", COUNCIL, pages::add_question)
        .post("/surveys/{id}/copy", COUNCIL, pages::copy_questions)
        .post("/surveys/{id}/open", COUNCIL, pages::open)
        .post("/surveys/{id}/close", COUNCIL, pages::close)
        .get("/surveys/{id}/results", COUNCIL, pages::results)
        .get("/surveys/{id}/results.csv", COUNCIL, pages::results_csv)
        .get("/surveys/{id}/responses.csv", COUNCIL, pages::responses_csv)
        .post("/surveys/questions/{id}/remove", COUNCIL, pages::remove_question)
        .get("/my-surveys", Access::Roles(&[Role::MemberRep]), pages::mine)
        .post("/my-surveys/{id}/link", Access::Roles(&[Role::MemberRep]), pages::resend)
        .post("/my-surveys/{id}/answer", Access::Roles(&[Role::MemberRep]), pages::answer_now)
        // The personal link is the authority: whoever holds it answers, signed in or not.
        .get("/s/{token}", Access::Public, pages::answer_form)
        .get("/c/{token}", Access::Public, pages::community_form)
        .post("/c/{token}", Access::Public, pages::community_answer)
        .post("/s/{token}", Access::Public, pages::answer)
        .get("/api/v1/surveys", COUNCIL, api::list)
        .post("/api/v1/surveys", COUNCIL, api::create)
        .get("/api/v1/surveys/{id}", COUNCIL, api::get)
        .post("/api/v1/surveys/{id}/questions", COUNCIL, api::add_question)
        .post("/api/v1/surveys/{id}/open", COUNCIL, api::open)
        .post("/api/v1/surveys/{id}/close", COUNCIL, api::close)
        .get("/api/v1/surveys/{id}/results", COUNCIL, api::results)
        .post("/api/v1/survey-answers", Access::Public, api::answer)
        .post("/api/v1/community-answers", Access::Public, api::answer_community);
}
