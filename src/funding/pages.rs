//! HTML pages for funding.

use actix_web::{web, HttpResponse};
use askama::Template;

use super::model::PriorityWithOutcomes;
use super::service;
use crate::accounts::PageContext;
use crate::db::Db;
use crate::web::{render, AppError, Layout};

#[derive(Template)]
#[template(path = "funding/priorities.html")]
struct PrioritiesPage {
    layout: Layout,
    priorities: Vec<PriorityWithOutcomes>,
}

pub async fn priorities(ctx: PageContext, db: web::Data<Db>) -> Result<HttpResponse, AppError> {
    let priorities = db.run(service::list_priorities).await?;
    render(&PrioritiesPage { layout: ctx.layout("Funding priorities"), priorities })
}
