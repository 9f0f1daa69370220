//! HTML pages for funding.

use actix_web::{web, HttpResponse};
use askama::Template;

use super::model::PriorityWithOutcomes;
use super::service;
use crate::db::Db;
use crate::settings::SiteCache;
use crate::web::{render, AppError, Layout};

#[derive(Template)]
#[template(path = "funding/priorities.html")]
struct PrioritiesPage {
    layout: Layout,
    priorities: Vec<PriorityWithOutcomes>,
}

pub async fn priorities(db: web::Data<Db>, site: web::Data<SiteCache>) -> Result<HttpResponse, AppError> {
    let site = site.get(&db).await?;
    let priorities = db.run(service::list_priorities).await?;
    render(&PrioritiesPage { layout: Layout::new("Funding priorities", site.name), priorities })
}
