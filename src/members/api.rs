//! JSON API for member organizations and tiers.

use actix_web::{web, HttpResponse};
use chrono::NaiveDate;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::model::{Member, MemberStatus, Tier};
use super::service::{self, MemberFields, MemberFilter, TierInput};
use crate::accounts::ApiUser;
use crate::db::Db;
use crate::web::AppError;

/// An organization as the API shows it; `notes` only to the treasurer and council.
#[derive(Serialize, ToSchema)]
pub struct MemberView {
    #[serde(flatten)]
    pub member: Member,
    pub tier: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub notes: Option<String>,
}

#[derive(Serialize, ToSchema)]
pub struct MemberPage {
    pub items: Vec<MemberView>,
    pub page: i64,
    pub per_page: i64,
    pub total: i64,
}

#[derive(Deserialize, IntoParams)]
pub struct MemberQuery {
    /// Part of a name or slug.
    #[serde(default)]
    pub q: String,
    pub tier_id: Option<i64>,
    pub status: Option<MemberStatus>,
    /// Only organizations with an unpaid invoice past its due date.
    #[serde(default)]
    pub overdue: bool,
    /// `name` (default), `joined`, `renews`, `tier` or `status`.
    #[serde(default)]
    pub sort: String,
    pub page: Option<i64>,
}

/// Organizations: all of them for the treasurer, council and admins; a representative's own otherwise.
#[utoipa::path(get, path = "/api/v1/members", tag = "members", params(MemberQuery), security(("bearer" = [])),
    responses((status = 200, body = MemberPage), (status = 401, body = crate::web::error::ProblemSchema)))]
pub async fn list(user: ApiUser, db: web::Data<Db>, query: web::Query<MemberQuery>) -> Result<HttpResponse, AppError> {
    let query = query.into_inner();
    let filter = MemberFilter {
        q: query.q,
        tier_id: query.tier_id,
        status: query.status,
        overdue: query.overdue,
        sort: query.sort,
        page: query.page.unwrap_or(1).max(1),
    };
    let page = filter.page;
    let viewer = user.0;
    let notes = service::sees_notes(&viewer);
    let (rows, total) = db.run(move |conn| service::list_members(conn, &viewer, &filter)).await?;
    let items = rows
        .into_iter()
        .map(|r| MemberView {
            notes: notes.then(|| r.member.notes.clone()),
            member: r.member,
            tier: r.tier.map(|t| t.name),
        })
        .collect();
    Ok(HttpResponse::Ok().json(MemberPage { items, page, per_page: service::PAGE_SIZE, total }))
}

async fn view(db: &Db, user: ApiUser, id: i64) -> Result<MemberView, AppError> {
    let viewer = user.0;
    let notes = service::sees_notes(&viewer);
    let detail = db.run(move |conn| service::member_detail(conn, &viewer, id)).await?;
    Ok(MemberView {
        notes: notes.then(|| detail.member.notes.clone()),
        tier: detail.tier.map(|t| t.name),
        member: detail.member,
    })
}

/// One organization (a representative gets only their own: another's is 404).
#[utoipa::path(get, path = "/api/v1/members/{id}", tag = "members", security(("bearer" = [])),
    params(("id" = i64, Path, description = "Member id")),
    responses((status = 200, body = MemberView), (status = 404, body = crate::web::error::ProblemSchema)))]
pub async fn get(user: ApiUser, db: web::Data<Db>, id: web::Path<i64>) -> Result<HttpResponse, AppError> {
    Ok(HttpResponse::Ok().json(view(&db, user, id.into_inner()).await?))
}

/// An organization to create or the fields to change. Dates are `YYYY-MM-DD`.
#[derive(Deserialize, ToSchema, Default)]
#[serde(deny_unknown_fields)]
pub struct MemberBody {
    pub name: Option<String>,
    pub slug: Option<String>,
    pub tier_id: Option<i64>,
    pub status: Option<MemberStatus>,
    pub joined_on: Option<NaiveDate>,
    pub renews_on: Option<NaiveDate>,
    pub website: Option<String>,
    pub country: Option<String>,
    pub logo_url: Option<String>,
    pub notes: Option<String>,
}

impl MemberBody {
    /// Whether the body changes what only the treasurer may change.
    fn touches_membership(&self) -> bool {
        self.slug.is_some()
            || self.tier_id.is_some()
            || self.status.is_some()
            || self.joined_on.is_some()
            || self.renews_on.is_some()
            || self.notes.is_some()
    }

    /// The fields as the service reads them, over `base` for anything left out.
    fn over(self, base: MemberFields) -> MemberFields {
        MemberFields {
            name: self.name.unwrap_or(base.name),
            slug: self.slug.unwrap_or(base.slug),
            tier: self.tier_id.map(|t| t.to_string()).unwrap_or(base.tier),
            status: self.status.map(|s| s.as_str().to_string()).unwrap_or(base.status),
            joined_on: self.joined_on.map(|d| d.to_string()).unwrap_or(base.joined_on),
            renews_on: self.renews_on.map(|d| d.to_string()).unwrap_or(base.renews_on),
            website: self.website.unwrap_or(base.website),
            country: self.country.unwrap_or(base.country),
            logo_url: self.logo_url.unwrap_or(base.logo_url),
            notes: self.notes.unwrap_or(base.notes),
        }
    }
}

/// Adds an organization; treasurer only.
#[utoipa::path(post, path = "/api/v1/members", tag = "members", request_body = MemberBody, security(("bearer" = [])),
    responses((status = 201, body = MemberView), (status = 422, body = crate::web::error::ProblemSchema)))]
pub async fn create(user: ApiUser, db: web::Data<Db>, body: web::Json<MemberBody>) -> Result<HttpResponse, AppError> {
    let actor = user.0.clone();
    let fields = body.into_inner().over(MemberFields::default());
    let member = db.run(move |conn| service::create_member(conn, &actor, &fields)).await?;
    Ok(HttpResponse::Created().json(view(&db, user, member.id).await?))
}

/// Changes an organization: the treasurer any field, its own representatives the public profile.
#[utoipa::path(patch, path = "/api/v1/members/{id}", tag = "members", request_body = MemberBody, security(("bearer" = [])),
    params(("id" = i64, Path, description = "Member id")),
    responses((status = 200, body = MemberView), (status = 403, body = crate::web::error::ProblemSchema),
        (status = 404, body = crate::web::error::ProblemSchema), (status = 422, body = crate::web::error::ProblemSchema)))]
pub async fn update(
    user: ApiUser,
    db: web::Data<Db>,
    id: web::Path<i64>,
    body: web::Json<MemberBody>,
) -> Result<HttpResponse, AppError> {
    let (actor, id, body) = (user.0.clone(), id.into_inner(), body.into_inner());
    if body.touches_membership() && !actor.has_role(crate::accounts::Role::Treasurer) {
        // Said plainly rather than ignored: a representative changes the profile, the treasurer the rest.
        return Err(AppError::Forbidden);
    }
    // What the body leaves out is read and the whole written in one transaction, so a concurrent edit is not
    // overwritten with stale values and a refused change leaves nothing behind.
    db.run(move |conn| {
        crate::db::write_transaction(conn, |conn| {
            let m = service::find_member(conn, &actor, id)?;
            let base = MemberFields {
                name: m.name,
                slug: m.slug,
                tier: m.tier_id.map(|t| t.to_string()).unwrap_or_default(),
                status: m.status,
                joined_on: m.joined_on.map(|d| d.to_string()).unwrap_or_default(),
                renews_on: m.renews_on.map(|d| d.to_string()).unwrap_or_default(),
                website: m.website.unwrap_or_default(),
                country: m.country.unwrap_or_default(),
                logo_url: m.logo_url.unwrap_or_default(),
                notes: m.notes,
            };
            service::update_member(conn, &actor, id, &body.over(base))
        })
    })
    .await?;
    Ok(HttpResponse::Ok().json(view(&db, user, id).await?))
}

#[derive(Serialize, ToSchema)]
pub struct TierView {
    #[serde(flatten)]
    pub tier: Tier,
    /// Organizations on this tier now.
    pub members: i64,
}

/// Membership tiers, open ones first.
#[utoipa::path(get, path = "/api/v1/tiers", tag = "members", security(("bearer" = [])),
    responses((status = 200, body = [TierView])))]
pub async fn tiers(db: web::Data<Db>) -> Result<HttpResponse, AppError> {
    let tiers = db.run(service::list_tiers).await?;
    Ok(HttpResponse::Ok().json(tiers.into_iter().map(|(tier, members)| TierView { tier, members }).collect::<Vec<_>>()))
}

/// A tier to create; `annual_dues` is a decimal string in the currency's units, e.g. "25000.00".
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TierBody {
    pub name: String,
    pub annual_dues: String,
    pub currency: String,
    #[serde(default)]
    pub benefits: String,
}

/// Adds a tier; treasurer only.
#[utoipa::path(post, path = "/api/v1/tiers", tag = "members", request_body = TierBody, security(("bearer" = [])),
    responses((status = 201, body = Tier), (status = 422, body = crate::web::error::ProblemSchema)))]
pub async fn create_tier(
    user: ApiUser,
    db: web::Data<Db>,
    body: web::Json<TierBody>,
) -> Result<HttpResponse, AppError> {
    let body = body.into_inner();
    let input =
        TierInput { name: body.name, annual_dues: body.annual_dues, currency: body.currency, benefits: body.benefits };
    let actor = user.0.user_id;
    let tier = db.run(move |conn| service::create_tier(conn, actor, &input)).await?;
    Ok(HttpResponse::Created().json(tier))
}
