//! HTML pages for member organizations and tiers.

use actix_multipart::Multipart;
use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest, HttpResponse};
use askama::Template;
use serde::Deserialize;

use super::model::{MemberStatus, Tier};
use super::service::{
    self, ImportError, ImportProblem, MemberDetail, MemberFields, MemberFilter, MemberRow, TierInput,
};
use crate::accounts::service::{MailSite, RequestMeta};
use crate::accounts::{PageContext, Role};
use crate::config::Config;
use crate::db::Db;
use crate::domain::ServiceError;
use crate::locale::Shown;
use crate::web::flash::{redirect, see_other};
use crate::web::forms::{form_errors, FormErrors, FormFields};
use crate::web::{csv_download, render, render_status, AppError, Layout};

fn meta(req: &HttpRequest) -> RequestMeta {
    RequestMeta { ip: crate::accounts::session::client_ip(req), user_agent: None }
}

// ---------------------------------------------------------------------------------------------------------
// Lists

#[derive(Template)]
#[template(path = "members/list.html")]
struct ListPage {
    layout: Layout,
    rows: Vec<MemberRow>,
    tiers: Vec<(Tier, i64)>,
    q: String,
    tier: String,
    status: String,
    overdue: bool,
    sort: String,
    page: i64,
    pages: i64,
    total: i64,
    statuses: [MemberStatus; 4],
    can_add: bool,
    query_string: String,
}

#[derive(Deserialize)]
pub struct ListQuery {
    #[serde(default)]
    q: String,
    #[serde(default)]
    tier: String,
    #[serde(default)]
    status: String,
    #[serde(default)]
    sort: String,
    #[serde(default)]
    overdue: String,
    page: Option<i64>,
}

pub async fn list(ctx: PageContext, db: web::Data<Db>, query: web::Query<ListQuery>) -> Result<HttpResponse, AppError> {
    let query = query.into_inner();
    let filter = MemberFilter {
        q: query.q.chars().take(200).collect(),
        tier_id: query.tier.parse().ok(),
        status: MemberStatus::parse(&query.status),
        overdue: !query.overdue.is_empty(),
        sort: query.sort.clone(),
        page: query.page.unwrap_or(1).max(1),
    };
    let viewer = ctx.user()?.clone();
    let f = filter.clone();
    let ((rows, total), tiers) = db
        .run(move |conn| Ok::<_, ServiceError>((service::list_members(conn, &viewer, &f)?, service::list_tiers(conn)?)))
        .await?;
    let query_string = format!(
        "q={}&tier={}&status={}&overdue={}&sort={}",
        crate::web::url_encode(&filter.q),
        filter.tier_id.map(|t| t.to_string()).unwrap_or_default(),
        filter.status.map(|s| s.as_str()).unwrap_or(""),
        if filter.overdue { "1" } else { "" },
        crate::web::url_encode(&filter.sort)
    );
    render(&ListPage {
        layout: ctx.layout("Members"),
        can_add: ctx.user()?.has_role(Role::Treasurer),
        rows,
        tiers,
        q: filter.q,
        tier: filter.tier_id.map(|t| t.to_string()).unwrap_or_default(),
        status: filter.status.map(|s| s.as_str().to_string()).unwrap_or_default(),
        overdue: filter.overdue,
        sort: filter.sort,
        page: filter.page,
        pages: ((total + service::PAGE_SIZE - 1) / service::PAGE_SIZE).max(1),
        total,
        statuses: MemberStatus::ALL,
        query_string,
    })
}

pub async fn export(ctx: PageContext, db: web::Data<Db>) -> Result<HttpResponse, AppError> {
    let viewer = ctx.user()?.clone();
    let csv = db.run(move |conn| service::export_csv(conn, &viewer)).await?;
    Ok(csv_download("members.csv", csv))
}

// ---------------------------------------------------------------------------------------------------------
// One organization

#[derive(Template)]
#[template(path = "members/show.html")]
struct ShowPage {
    layout: Layout,
    detail: MemberDetail,
    show_notes: bool,
    can_edit: bool,
    can_invite: bool,
    errors: FormErrors,
    invite_email: String,
    invite_name: String,
}

async fn show_page(
    ctx: &PageContext,
    db: &Db,
    slug: String,
    errors: FormErrors,
    invite: (String, String),
) -> Result<ShowPage, AppError> {
    let viewer = ctx.user()?.clone();
    let v = viewer.clone();
    let detail = db
        .run(move |conn| {
            let member = service::find_member_by_slug(conn, &v, &slug)?;
            service::member_detail(conn, &v, member.id)
        })
        .await?;
    let own = viewer.member_id == Some(detail.member.id);
    let mut layout = ctx.layout(detail.member.name.clone());
    if viewer.has_any(service::READERS) {
        layout = layout.crumb("Members", "/members");
    }
    Ok(ShowPage {
        layout,
        show_notes: service::sees_notes(&viewer),
        can_edit: viewer.has_role(Role::Treasurer) || (own && viewer.has_role(Role::MemberRep)),
        can_invite: viewer.has_any(&[Role::Treasurer, Role::Admin]) || (own && viewer.has_role(Role::MemberRep)),
        detail,
        errors,
        invite_email: invite.0,
        invite_name: invite.1,
    })
}

pub async fn show(ctx: PageContext, db: web::Data<Db>, slug: web::Path<String>) -> Result<HttpResponse, AppError> {
    render(&show_page(&ctx, &db, slug.into_inner(), FormErrors::default(), Default::default()).await?)
}

/// A representative's own organization.
pub async fn mine(ctx: PageContext, db: web::Data<Db>) -> Result<HttpResponse, AppError> {
    let viewer = ctx.user()?.clone();
    let Some(member_id) = viewer.member_id else {
        return Err(AppError::NotFound);
    };
    let member = db.run(move |conn| service::find_member(conn, &viewer, member_id)).await?;
    Ok(see_other(&format!("/members/{}", member.slug)))
}

#[derive(Template)]
#[template(path = "members/form.html")]
struct FormPage {
    layout: Layout,
    action: String,
    fields: MemberFields,
    tiers: Vec<(Tier, i64)>,
    statuses: [MemberStatus; 4],
    full: bool,
    errors: FormErrors,
}

fn fields_from(form: &FormFields) -> MemberFields {
    MemberFields {
        name: form.get("name").into(),
        slug: form.get("slug").into(),
        tier: form.get("tier").into(),
        status: form.get("status").into(),
        joined_on: form.get("joined_on").into(),
        renews_on: form.get("renews_on").into(),
        website: form.get("website").into(),
        country: form.get("country").into(),
        logo_url: form.get("logo_url").into(),
        notes: form.get("notes").into(),
    }
}

async fn form_page(
    ctx: &PageContext,
    db: &Db,
    title: &str,
    action: String,
    fields: MemberFields,
    errors: FormErrors,
) -> Result<FormPage, AppError> {
    let tiers = db.run(service::list_tiers).await?;
    let full = ctx.user()?.has_role(Role::Treasurer);
    Ok(FormPage {
        layout: ctx.layout(title).crumb("Members", "/members"),
        action,
        fields,
        tiers,
        statuses: MemberStatus::ALL,
        full,
        errors,
    })
}

pub async fn new_form(ctx: PageContext, db: web::Data<Db>) -> Result<HttpResponse, AppError> {
    let fields = MemberFields { status: "prospective".into(), ..Default::default() };
    render(&form_page(&ctx, &db, "Add an organization", "/members/new".into(), fields, FormErrors::default()).await?)
}

pub async fn create(
    ctx: PageContext,
    db: web::Data<Db>,
    config: web::Data<Config>,
    form: FormFields,
) -> Result<HttpResponse, AppError> {
    let (actor, fields) = (ctx.user()?.clone(), fields_from(&form));
    let submitted = fields.clone();
    match db.run(move |conn| service::create_member(conn, &actor, &submitted)).await {
        Ok(member) => Ok(redirect(
            &format!("/members/{}", member.slug),
            "success",
            &format!("{} is added.", member.name),
            config.is_https(),
        )),
        Err(e) => {
            let errors = form_errors(e)?;
            let page = form_page(&ctx, &db, "Add an organization", "/members/new".into(), fields, errors).await?;
            render_status(&page, StatusCode::UNPROCESSABLE_ENTITY)
        }
    }
}

pub async fn edit_form(ctx: PageContext, db: web::Data<Db>, slug: web::Path<String>) -> Result<HttpResponse, AppError> {
    let viewer = ctx.user()?.clone();
    let slug = slug.into_inner();
    let s = slug.clone();
    let member = db.run(move |conn| service::find_member_by_slug(conn, &viewer, &s)).await?;
    let fields = MemberFields {
        name: member.name.clone(),
        slug: member.slug.clone(),
        tier: member.tier_id.map(|t| t.to_string()).unwrap_or_default(),
        status: member.status.clone(),
        joined_on: member.joined_on.map(|d| d.to_string()).unwrap_or_default(),
        renews_on: member.renews_on.map(|d| d.to_string()).unwrap_or_default(),
        website: member.website.clone().unwrap_or_default(),
        country: member.country.clone().unwrap_or_default(),
        logo_url: member.logo_url.clone().unwrap_or_default(),
        notes: if service::sees_notes(ctx.user()?) { member.notes.clone() } else { String::new() },
    };
    let title = format!("Edit {}", member.name);
    render(&form_page(&ctx, &db, &title, format!("/members/{slug}/edit"), fields, FormErrors::default()).await?)
}

pub async fn update(
    ctx: PageContext,
    db: web::Data<Db>,
    config: web::Data<Config>,
    slug: web::Path<String>,
    form: FormFields,
) -> Result<HttpResponse, AppError> {
    let (actor, fields, slug) = (ctx.user()?.clone(), fields_from(&form), slug.into_inner());
    let (submitted, s) = (fields.clone(), slug.clone());
    let result = db
        .run(move |conn| {
            let member = service::find_member_by_slug(conn, &actor, &s)?;
            service::update_member(conn, &actor, member.id, &submitted)
        })
        .await;
    match result {
        Ok(member) => {
            Ok(redirect(&format!("/members/{}", member.slug), "success", "Changes saved.", config.is_https()))
        }
        Err(e) => {
            let errors = form_errors(e)?;
            let page =
                form_page(&ctx, &db, "Edit organization", format!("/members/{slug}/edit"), fields, errors).await?;
            render_status(&page, StatusCode::UNPROCESSABLE_ENTITY)
        }
    }
}

pub async fn set_contacts(
    ctx: PageContext,
    db: web::Data<Db>,
    config: web::Data<Config>,
    slug: web::Path<String>,
    form: FormFields,
) -> Result<HttpResponse, AppError> {
    let (actor, slug) = (ctx.user()?.clone(), slug.into_inner());
    let pick = |name: &str| -> Result<Option<i64>, AppError> {
        match form.get(name).trim() {
            "" => Ok(None),
            raw => raw.parse().map(Some).map_err(|_| AppError::BadRequest(format!("{name} is not a person"))),
        }
    };
    let (primary, billing) = (pick("primary")?, pick("billing")?);
    let s = slug.clone();
    let result = db
        .run(move |conn| {
            let member = service::find_member_by_slug(conn, &actor, &s)?;
            service::set_contacts(conn, &actor, member.id, primary, billing)
        })
        .await;
    match result {
        Ok(()) => Ok(redirect(&format!("/members/{slug}"), "success", "Contacts saved.", config.is_https())),
        Err(e) => {
            let errors = form_errors(e)?;
            let page = show_page(&ctx, &db, slug, errors, Default::default()).await?;
            render_status(&page, StatusCode::UNPROCESSABLE_ENTITY)
        }
    }
}

pub async fn invite_representative(
    req: HttpRequest,
    ctx: PageContext,
    db: web::Data<Db>,
    config: web::Data<Config>,
    slug: web::Path<String>,
    form: FormFields,
) -> Result<HttpResponse, AppError> {
    let (actor, slug, meta) = (ctx.user()?.clone(), slug.into_inner(), meta(&req));
    let site = MailSite { site_name: ctx.site.name.clone(), base_url: config.base_url.clone() };
    let (email, name) = (form.get("email").to_string(), form.get("display_name").to_string());
    let (s, e, n) = (slug.clone(), email.clone(), name.clone());
    let result = db
        .run(move |conn| {
            let member = service::find_member_by_slug(conn, &actor, &s)?;
            service::invite_representative(conn, &actor, member.id, &e, &n, &site, &meta)
        })
        .await;
    match result {
        Ok(()) => Ok(redirect(
            &format!("/members/{slug}"),
            "success",
            &format!("Invitation sent to {}.", email.trim()),
            config.is_https(),
        )),
        Err(e) => {
            let errors = form_errors(e)?;
            let page = show_page(&ctx, &db, slug, errors, (email, name)).await?;
            render_status(&page, StatusCode::UNPROCESSABLE_ENTITY)
        }
    }
}

// ---------------------------------------------------------------------------------------------------------
// Import

#[derive(Template)]
#[template(path = "members/import.html")]
struct ImportPage {
    layout: Layout,
    problems: Vec<ImportProblem>,
    columns: String,
}

fn import_page(ctx: &PageContext, problems: Vec<ImportProblem>) -> ImportPage {
    ImportPage {
        layout: ctx.layout("Import organizations").crumb("Members", "/members"),
        problems,
        columns: service::CSV_COLUMNS.join(","),
    }
}

pub async fn import_form(ctx: PageContext) -> Result<HttpResponse, AppError> {
    render(&import_page(&ctx, Vec::new()))
}

/// Largest CSV accepted (about 10,000 organizations).
const MAX_IMPORT_BYTES: usize = 2 * 1024 * 1024;

pub async fn import(
    ctx: PageContext,
    db: web::Data<Db>,
    config: web::Data<Config>,
    payload: Multipart,
) -> Result<HttpResponse, AppError> {
    let (_, data) = crate::web::forms::read_upload(payload, "file", MAX_IMPORT_BYTES).await?;
    let actor = ctx.user()?.clone();
    match db.run(move |conn| service::import_csv(conn, &actor, &data)).await {
        Ok(n) => Ok(redirect("/members", "success", &format!("{n} organizations imported."), config.is_https())),
        Err(ImportError::Problems(problems)) => {
            render_status(&import_page(&ctx, problems), StatusCode::UNPROCESSABLE_ENTITY)
        }
        Err(ImportError::Service(e)) => Err(e.into()),
    }
}

// ---------------------------------------------------------------------------------------------------------
// Tiers

#[derive(Template)]
#[template(path = "members/tiers.html")]
struct TiersPage {
    layout: Layout,
    tiers: Vec<(Tier, i64)>,
    can_manage: bool,
}

pub async fn tiers(ctx: PageContext, db: web::Data<Db>) -> Result<HttpResponse, AppError> {
    let tiers = db.run(service::list_tiers).await?;
    render(&TiersPage {
        layout: ctx.layout("Membership tiers"),
        tiers,
        can_manage: ctx.user()?.has_role(Role::Treasurer),
    })
}

#[derive(Template)]
#[template(path = "members/tier_form.html")]
struct TierFormPage {
    layout: Layout,
    action: String,
    input: TierInput,
    errors: FormErrors,
}

fn tier_input(form: &FormFields) -> TierInput {
    TierInput {
        name: form.get("name").into(),
        annual_dues: form.get("annual_dues").into(),
        currency: form.get("currency").into(),
        benefits: form.get("benefits").into(),
    }
}

fn tier_form(ctx: &PageContext, title: &str, action: String, input: TierInput, errors: FormErrors) -> TierFormPage {
    TierFormPage { layout: ctx.layout(title).crumb("Membership tiers", "/tiers"), action, input, errors }
}

pub async fn new_tier_form(ctx: PageContext) -> Result<HttpResponse, AppError> {
    let input = TierInput { currency: "USD".into(), ..Default::default() };
    render(&tier_form(&ctx, "Add a tier", "/tiers/new".into(), input, FormErrors::default()))
}

pub async fn create_tier(
    ctx: PageContext,
    db: web::Data<Db>,
    config: web::Data<Config>,
    form: FormFields,
) -> Result<HttpResponse, AppError> {
    let (actor, input) = (ctx.user()?.user_id, tier_input(&form));
    let submitted = input.clone();
    match db.run(move |conn| service::create_tier(conn, actor, &submitted)).await {
        Ok(tier) => Ok(redirect("/tiers", "success", &format!("The tier {} is added.", tier.name), config.is_https())),
        Err(e) => {
            let page = tier_form(&ctx, "Add a tier", "/tiers/new".into(), input, form_errors(e)?);
            render_status(&page, StatusCode::UNPROCESSABLE_ENTITY)
        }
    }
}

pub async fn edit_tier_form(ctx: PageContext, db: web::Data<Db>, id: web::Path<i64>) -> Result<HttpResponse, AppError> {
    let id = id.into_inner();
    let tier = db.run(move |conn| service::find_tier(conn, id)).await?;
    let input = TierInput {
        name: tier.name.clone(),
        annual_dues: crate::money::plain(tier.annual_dues_minor, &tier.currency),
        currency: tier.currency.clone(),
        benefits: tier.benefits.clone(),
    };
    render(&tier_form(&ctx, &format!("Edit {}", tier.name), format!("/tiers/{id}/edit"), input, FormErrors::default()))
}

pub async fn update_tier(
    ctx: PageContext,
    db: web::Data<Db>,
    config: web::Data<Config>,
    id: web::Path<i64>,
    form: FormFields,
) -> Result<HttpResponse, AppError> {
    let (actor, input, id) = (ctx.user()?.user_id, tier_input(&form), id.into_inner());
    let submitted = input.clone();
    match db.run(move |conn| service::update_tier(conn, actor, id, &submitted)).await {
        Ok(_) => Ok(redirect("/tiers", "success", "The tier is saved.", config.is_https())),
        Err(e) => {
            let page = tier_form(&ctx, "Edit tier", format!("/tiers/{id}/edit"), input, form_errors(e)?);
            render_status(&page, StatusCode::UNPROCESSABLE_ENTITY)
        }
    }
}

async fn set_retired(
    ctx: PageContext,
    db: web::Data<Db>,
    config: web::Data<Config>,
    id: i64,
    retired: bool,
) -> Result<HttpResponse, AppError> {
    let actor = ctx.user()?.user_id;
    db.run(move |conn| service::set_tier_retired(conn, actor, id, retired)).await?;
    let message = if retired {
        "The tier is retired: members on it keep it; nobody new joins it."
    } else {
        "The tier is open again."
    };
    Ok(redirect("/tiers", "success", message, config.is_https()))
}

pub async fn retire_tier(
    ctx: PageContext,
    db: web::Data<Db>,
    config: web::Data<Config>,
    id: web::Path<i64>,
) -> Result<HttpResponse, AppError> {
    set_retired(ctx, db, config, id.into_inner(), true).await
}

pub async fn reinstate_tier(
    ctx: PageContext,
    db: web::Data<Db>,
    config: web::Data<Config>,
    id: web::Path<i64>,
) -> Result<HttpResponse, AppError> {
    set_retired(ctx, db, config, id.into_inner(), false).await
}

pub async fn delete_tier(
    ctx: PageContext,
    db: web::Data<Db>,
    config: web::Data<Config>,
    id: web::Path<i64>,
    form: FormFields,
) -> Result<HttpResponse, AppError> {
    let (actor, id) = (ctx.user()?.user_id, id.into_inner());
    if let Err(ServiceError::Validation(errors)) = form.confirmed("deleting the tier") {
        return Ok(redirect("/tiers", "error", &crate::domain::messages(errors), config.is_https()));
    }
    db.run(move |conn| service::delete_tier(conn, actor, id)).await?;
    Ok(redirect("/tiers", "success", "The tier is deleted.", config.is_https()))
}
