//! What a page handler needs to draw the frame: who is signed in, the CSRF token, the site, a flash
//! message, and the navigation for the viewer's roles.

use std::future::Future;
use std::pin::Pin;

use actix_web::dev::Payload;
use actix_web::{web, FromRequest, HttpMessage, HttpRequest};

use super::csrf::CookieCsrfToken;
use super::model::{Identity, Role};
use super::session::identity_of;
use crate::db::Db;
use crate::settings::{Site, SiteCache};
use crate::web::flash::Flash;
use crate::web::layout::NavLink;
use crate::web::{AppError, Layout};

pub struct PageContext {
    pub identity: Option<Identity>,
    pub csrf: String,
    pub site: Site,
    pub flash: Option<Flash>,
    pub path: String,
    pub ip: Option<String>,
    pub https: bool,
}

impl PageContext {
    /// The frame for a page titled `title`.
    pub fn layout(&self, title: impl Into<String>) -> Layout {
        let mut layout = Layout::new(title, self.site.name.clone());
        layout.csrf = self.csrf.clone();
        layout.user_name = self.identity.as_ref().map(|i| i.display_name.clone());
        layout.flash = self.flash.clone();
        layout.nav = nav_for(self.identity.as_ref(), &self.path, self.site.transparency);
        if let Some(i) = &self.identity {
            layout.time_zone = i.time_zone.clone();
        }
        layout
    }

    /// The signed-in person; routes declared `SignedIn` or `Roles` always have one.
    pub fn user(&self) -> Result<&Identity, AppError> {
        self.identity.as_ref().ok_or(AppError::Unauthenticated)
    }
}

/// The links the viewer's roles open, in a fixed order.
fn nav_for(identity: Option<&Identity>, path: &str, transparency: bool) -> Vec<NavLink> {
    let has = |roles: &[Role]| identity.is_some_and(|i| i.has_any(roles));
    let mut links = vec![("Home", "/", true)];
    links.push(("My organization", "/my-organization", has(&[Role::MemberRep])));
    links.push(("Members", "/members", has(&[Role::Treasurer, Role::Council, Role::Admin])));
    links.push(("Dues", "/invoices", has(&[Role::Treasurer, Role::Council, Role::Admin, Role::MemberRep])));
    links.push(("Treasury", "/treasury", has(&[Role::Treasurer, Role::Council])));
    links.push(("Budgets", "/budgets", has(&[Role::Treasurer, Role::Council])));
    links.push(("Disbursements", "/disbursements", has(&[Role::Treasurer, Role::Council])));
    links.push(("Ledger", "/ledger", has(&[Role::Treasurer, Role::Council])));
    links.push(("Funding priorities", "/priorities", true));
    links.push(("Initiatives", "/initiatives", true));
    links.push(("Metrics", "/metrics", identity.is_some()));
    links.push(("Reports", "/reports", identity.is_some()));
    links.push(("Community health", "/community", has(&[Role::Council, Role::Treasurer, Role::Admin])));
    links.push(("Surveys", "/surveys", has(&[Role::Council])));
    links.push(("Surveys to answer", "/my-surveys", has(&[Role::MemberRep]) && !has(&[Role::Council])));
    links.push(("Feedback", "/feedback", has(&[Role::MemberRep]) && !has(&[Role::Council])));
    links.push(("Feedback", "/feedback/triage", has(&[Role::Council])));
    links.push(("Transparency", "/transparency", transparency));
    links.push(("Users", "/admin/users", has(&[Role::Admin])));
    links.push(("Audit log", "/admin/audit", has(&[Role::Admin])));
    links.push(("Mail", "/admin/mail", has(&[Role::Admin])));
    links.push(("Settings", "/admin/settings", has(&[Role::Admin])));
    links.push(("Public page", "/admin/transparency", has(&[Role::Council, Role::Admin])));
    links
        .into_iter()
        .filter(|(_, _, shown)| *shown)
        .map(|(label, href, _)| NavLink {
            label,
            href,
            current: if href == "/" { path == "/" } else { path == href || path.starts_with(&format!("{href}/")) },
        })
        .collect()
}

impl FromRequest for PageContext {
    type Error = AppError;
    type Future = Pin<Box<dyn Future<Output = Result<Self, AppError>>>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let req = req.clone();
        Box::pin(async move {
            let identity = identity_of(&req).await?;
            // Signed in: the session's token; before: the cookie's.
            let csrf = match identity.as_ref().map(|i| &i.via) {
                Some(super::model::AuthMethod::Session { csrf_token, .. }) => csrf_token.clone(),
                _ => req.extensions().get::<CookieCsrfToken>().map(|t| t.0.clone()).unwrap_or_default(),
            };
            let flash = req.extensions().get::<Flash>().cloned();
            let site = match (req.app_data::<web::Data<SiteCache>>(), req.app_data::<web::Data<Db>>()) {
                (Some(cache), Some(db)) => cache.get(db).await?,
                _ => Site::default(),
            };
            let https = req.app_data::<web::Data<crate::config::Config>>().map(|c| c.is_https()).unwrap_or(false);
            Ok(Self {
                identity,
                csrf,
                site,
                flash,
                path: req.path().to_string(),
                ip: super::session::client_ip(&req),
                https,
            })
        })
    }
}

/// The signed-in person, for API handlers (routes declared `SignedIn` or `Roles`).
pub struct ApiUser(pub Identity);

impl FromRequest for ApiUser {
    type Error = AppError;
    type Future = Pin<Box<dyn Future<Output = Result<Self, AppError>>>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let req = req.clone();
        Box::pin(async move { identity_of(&req).await?.map(ApiUser).ok_or(AppError::Unauthenticated) })
    }
}
