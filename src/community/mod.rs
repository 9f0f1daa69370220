//! Community health measured from repository data: tracked repositories and their maintainers (with the
//! dates they held the role), the GitHub collector and file imports (GitHub JSON, Cobertura, LCOV), the
//! computed series (contributors, non-maintainer shares, first response, minor releases, advisory fixes,
//! coverage) with the items each value stands on, and the observations they feed into metrics.

pub mod api;
pub mod collector;
pub mod compute;
pub mod import;
pub mod model;
pub mod pages;
pub mod service;

use crate::accounts::{Access, Role, Router};

pub fn routes(r: &mut Router) {
    // The council manages what is measured; the treasurer and admins may read it.
    const READ: Access = Access::Roles(&[Role::Council, Role::Treasurer, Role::Admin]);
    const COUNCIL: Access = Access::Roles(&[Role::Council]);
    r.get("/community", READ, pages::dashboard)
        .get("/community/values", READ, pages::value)
        .get("/community/repositories", READ, pages::repositories)
        .post("/community/repositories", COUNCIL, pages::create_repository)
        .get("/community/repositories/{id}", READ, pages::repository)
        .post("/community/repositories/{id}", COUNCIL, pages::save_repository)
        .post("/community/repositories/{id}/maintainers", COUNCIL, pages::add_maintainer)
        .post("/community/repositories/{id}/maintainers/file", COUNCIL, pages::maintainers_file)
        .post("/community/maintainers/{id}/remove", COUNCIL, pages::remove_maintainer)
        .get("/community/import", COUNCIL, pages::import_form)
        .post("/community/import/github", COUNCIL, pages::import_github)
        .post("/community/import/coverage", COUNCIL, pages::import_coverage)
        .get("/community/metrics", READ, pages::links)
        .post("/community/metrics", COUNCIL, pages::link)
        .post("/community/metrics/{id}/unlink", COUNCIL, pages::unlink)
        .get("/community/runs", READ, pages::runs)
        .get("/api/v1/community/repositories", READ, api::repositories)
        .post("/api/v1/community/repositories", COUNCIL, api::create_repository)
        .get("/api/v1/community/runs", READ, api::runs)
        .get("/api/v1/community/series", READ, api::series);
}
