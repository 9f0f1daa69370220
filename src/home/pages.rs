//! The start page: who the foundation is and what it funds.

use actix_web::{web, HttpResponse};
use askama::Template;

use crate::accounts::PageContext;
use crate::db::Db;
use crate::funding::model::PriorityWithOutcomes;
use crate::funding::service as funding;
use crate::settings::Site;
use crate::web::{render, AppError, Layout};

#[derive(Template)]
#[template(path = "home/index.html")]
struct HomePage {
    layout: Layout,
    site: Site,
    priorities: Vec<PriorityWithOutcomes>,
}

pub async fn index(ctx: PageContext, db: web::Data<Db>) -> Result<HttpResponse, AppError> {
    let priorities = db.run(funding::list_priorities).await?;
    render(&HomePage { layout: ctx.layout("Home"), site: ctx.site.clone(), priorities })
}
