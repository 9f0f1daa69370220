//! The start page: who the foundation is and what it funds.

use actix_web::{web, HttpResponse};
use askama::Template;

use crate::db::Db;
use crate::funding::model::PriorityWithOutcomes;
use crate::funding::service as funding;
use crate::settings::{Site, SiteCache};
use crate::web::{render, AppError, Layout};

#[derive(Template)]
#[template(path = "home/index.html")]
struct HomePage {
    layout: Layout,
    site: Site,
    priorities: Vec<PriorityWithOutcomes>,
}

pub async fn index(db: web::Data<Db>, site: web::Data<SiteCache>) -> Result<HttpResponse, AppError> {
    let site = site.get(&db).await?;
    let priorities = db.run(funding::list_priorities).await?;
    render(&HomePage { layout: Layout::new("Home", site.name.clone()), site, priorities })
}
