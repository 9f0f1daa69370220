//! The start page: who the foundation is and what it funds.

use actix_web::{web, HttpResponse};
use askama::Template;

use crate::accounts::PageContext;
use crate::db::Db;
use crate::funding::model::PriorityWithOutcomes;
use crate::funding::service as funding;
use crate::locale::Shown;
use crate::settings::Site;
use crate::web::{render, AppError, Layout};

#[derive(Template)]
#[template(path = "home/index.html")]
struct HomePage {
    layout: Layout,
    site: Site,
    priorities: Vec<PriorityWithOutcomes>,
}

#[derive(Template)]
#[template(path = "home/dashboard.html")]
struct DashboardPage {
    layout: Layout,
    site: Site,
    name: String,
    d: super::service::Dashboard,
    today: chrono::NaiveDate,
}

impl DashboardPage {
    fn money(&self, minor: impl std::borrow::Borrow<i64>, currency: &str) -> String {
        crate::money::format(*minor.borrow(), currency)
    }

    fn overdue(&self, invoice: &crate::dues::model::Invoice) -> bool {
        invoice.is_overdue(self.today)
    }

    fn owed(&self, invoice: &crate::dues::model::Invoice) -> String {
        crate::money::format(invoice.open_minor(), &invoice.currency)
    }
}

/// Signed in: what needs the viewer, per role. Otherwise: who the foundation is and what it funds.
pub async fn index(ctx: PageContext, db: web::Data<Db>) -> Result<HttpResponse, AppError> {
    if let Some(viewer) = ctx.identity.clone() {
        let name = viewer.display_name.clone();
        let d = db.run(move |conn| super::service::dashboard(conn, &viewer)).await?;
        return render(&DashboardPage {
            layout: ctx.layout("Home"),
            site: ctx.site.clone(),
            name,
            d,
            today: crate::db::now().date(),
        });
    }
    let priorities = db.run(funding::list_priorities).await?;
    render(&HomePage { layout: ctx.layout("Home"), site: ctx.site.clone(), priorities })
}
