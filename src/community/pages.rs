//! Pages for community health: the series table with its data quality, the items behind each value,
//! tracked repositories and their maintainers, file imports, links from metrics, and the runs.

use actix_multipart::Multipart;
use actix_web::http::StatusCode;
use actix_web::{web, HttpResponse};
use askama::Template;
use serde::Deserialize;

use super::compute::{self, Value, SERIES};
use super::model::{CollectorRun, Maintainer, MetricLink, Repository};
use super::service::{self, LinkInput, MaintainerInput, RepositoryInput, SeriesTable, SourceItem};
use crate::accounts::{PageContext, Role};
use crate::audit::Actor;
use crate::config::Config;
use crate::db::Db;
use crate::locale::Shown;
use crate::metrics::model::show_value;
use crate::web::flash::redirect;
use crate::web::forms::{form_errors, FormErrors, FormFields};
use crate::web::{render, render_status, AppError, Layout};

fn is_council(ctx: &PageContext) -> bool {
    ctx.identity.as_ref().is_some_and(|i| i.has_role(Role::Council))
}

fn actor(ctx: &PageContext) -> Result<Actor, AppError> {
    Ok(Actor::User(ctx.user()?.user_id))
}

fn url_encode(s: &str) -> String {
    crate::web::url_encode(s)
}

// ----------------------------------------------------------------------------------------------- dashboard

#[derive(Template)]
#[template(path = "community/dashboard.html")]
struct DashboardPage {
    layout: Layout,
    table: SeriesTable,
    scopes: Vec<(String, String)>,
    can_manage: bool,
}

impl DashboardPage {
    fn shown(&self, unit: &str, v: &Value) -> String {
        v.value_milli.map(|m| show_value(unit, m)).unwrap_or_else(|| "—".into())
    }

    fn link(&self, series: &str, v: &Value) -> String {
        format!("/community/values?series={series}&scope={}&period={}", url_encode(&self.table.scope), v.period)
    }
}

#[derive(Deserialize)]
pub struct ViewQuery {
    scope: Option<String>,
    period: Option<String>,
}

pub async fn dashboard(
    ctx: PageContext,
    db: web::Data<Db>,
    query: web::Query<ViewQuery>,
) -> Result<HttpResponse, AppError> {
    let q = query.into_inner();
    let (scope, period) = (q.scope.unwrap_or_default(), q.period.unwrap_or_default());
    let (table, repos) = db
        .run(move |conn| {
            let (scope, quarterly) = service::parse_view(&scope, &period)?;
            Ok::<_, crate::domain::ServiceError>((
                service::series_table(conn, &scope, quarterly)?,
                service::list_repositories(conn)?,
            ))
        })
        .await?;
    let mut scopes = vec![("overall".to_string(), "All included repositories".to_string())];
    let mut subprojects: Vec<&str> =
        repos.iter().filter(|r| r.included && !r.subproject.is_empty()).map(|r| r.subproject.as_str()).collect();
    subprojects.dedup();
    scopes.extend(subprojects.iter().map(|s| (format!("subproject:{s}"), format!("Subproject {s}"))));
    scopes
        .extend(repos.iter().filter(|r| r.included).map(|r| (format!("repository:{}", r.full_name()), r.full_name())));
    render(&DashboardPage { layout: ctx.layout("Community health"), table, scopes, can_manage: is_council(&ctx) })
}

#[derive(Template)]
#[template(path = "community/value.html")]
struct ValuePage {
    layout: Layout,
    label: String,
    scope: String,
    shown: String,
    value: Value,
    items: Vec<SourceItem>,
}

#[derive(Deserialize)]
pub struct ValueQuery {
    series: String,
    scope: Option<String>,
    period: String,
}

pub async fn value(
    ctx: PageContext,
    db: web::Data<Db>,
    query: web::Query<ValueQuery>,
) -> Result<HttpResponse, AppError> {
    let q = query.into_inner();
    let scope_raw = q.scope.unwrap_or_default();
    let (series, period) = (q.series.clone(), q.period.clone());
    let s = scope_raw.clone();
    let (value, items) = db
        .run(move |conn| {
            let (scope, _) = service::parse_view(&s, "")?;
            service::value_sources(conn, &series, &scope, &period)
        })
        .await?;
    let unit = compute::series_unit(&q.series).unwrap_or("count");
    let label = compute::series_label(&q.series).unwrap_or_default().to_string();
    let shown = value.value_milli.map(|m| show_value(unit, m)).unwrap_or_else(|| "no value".into());
    render(&ValuePage {
        layout: ctx.layout(format!("{label}, {}", q.period)).crumb("Community health", "/community"),
        label,
        scope: if scope_raw.is_empty() { "overall".into() } else { scope_raw },
        shown,
        value,
        items,
    })
}

// -------------------------------------------------------------------------------------------- repositories

#[derive(Template)]
#[template(path = "community/repositories.html")]
struct RepositoriesPage {
    layout: Layout,
    repositories: Vec<Repository>,
    priorities: Vec<(i64, String)>,
    form: FormFields,
    errors: FormErrors,
    can_manage: bool,
}

async fn repositories_page(
    ctx: &PageContext,
    db: &Db,
    form: FormFields,
    errors: FormErrors,
) -> Result<RepositoriesPage, AppError> {
    let (repositories, priorities) = db
        .run(|conn| Ok::<_, crate::domain::ServiceError>((service::list_repositories(conn)?, priorities(conn)?)))
        .await?;
    Ok(RepositoriesPage {
        layout: ctx.layout("Tracked repositories").crumb("Community health", "/community"),
        repositories,
        priorities,
        form,
        errors,
        can_manage: is_council(ctx),
    })
}

fn priorities(conn: &mut crate::db::DbConn) -> Result<Vec<(i64, String)>, crate::domain::ServiceError> {
    use crate::db::schema::funding_priorities;
    use diesel::prelude::*;
    Ok(funding_priorities::table
        .order(funding_priorities::id)
        .select((funding_priorities::id, funding_priorities::title))
        .load(conn)?)
}

pub async fn repositories(ctx: PageContext, db: web::Data<Db>) -> Result<HttpResponse, AppError> {
    render(&repositories_page(&ctx, &db, FormFields::default(), FormErrors::default()).await?)
}

fn repository_input(form: &FormFields) -> RepositoryInput {
    RepositoryInput {
        full_name: form.get("full_name").to_string(),
        subproject: form.get("subproject").to_string(),
        priority_id: form.get("priority_id").to_string(),
        included: form.get("included") == "yes",
        exclusion_reason: form.get("exclusion_reason").to_string(),
    }
}

pub async fn create_repository(
    ctx: PageContext,
    db: web::Data<Db>,
    config: web::Data<Config>,
    form: FormFields,
) -> Result<HttpResponse, AppError> {
    let (actor, input) = (actor(&ctx)?, repository_input(&form));
    match db.run(move |conn| service::create_repository(conn, actor, &input)).await {
        Ok(r) => Ok(redirect(
            &format!("/community/repositories/{}", r.id),
            "success",
            &format!("{} is tracked.", r.full_name()),
            config.is_https(),
        )),
        Err(e) => {
            let errors = form_errors(e)?;
            render_status(&repositories_page(&ctx, &db, form, errors).await?, StatusCode::UNPROCESSABLE_ENTITY)
        }
    }
}

#[derive(Template)]
#[template(path = "community/repository.html")]
struct RepositoryPage {
    layout: Layout,
    repository: Repository,
    maintainers: Vec<Maintainer>,
    priorities: Vec<(i64, String)>,
    form: FormFields,
    errors: FormErrors,
    maintainer_form: FormFields,
    maintainer_errors: FormErrors,
    can_manage: bool,
}

impl RepositoryPage {
    fn priority_selected(&self, id: &i64) -> bool {
        self.form.get("priority_id") == id.to_string()
    }
}

async fn repository_page(
    ctx: &PageContext,
    db: &Db,
    id: i64,
    form: Option<(FormFields, FormErrors)>,
    maintainer: Option<(FormFields, FormErrors)>,
) -> Result<RepositoryPage, AppError> {
    let (repository, maintainers, priorities) = db
        .run(move |conn| {
            Ok::<_, crate::domain::ServiceError>((
                service::find_repository(conn, id)?,
                service::maintainers(conn, id)?,
                priorities(conn)?,
            ))
        })
        .await?;
    let (form, errors) = form.unwrap_or_else(|| {
        (
            FormFields(vec![
                ("full_name".into(), repository.full_name()),
                ("subproject".into(), repository.subproject.clone()),
                ("priority_id".into(), repository.priority_id.map(|p| p.to_string()).unwrap_or_default()),
                ("included".into(), if repository.included { "yes" } else { "no" }.into()),
                ("exclusion_reason".into(), repository.exclusion_reason.clone()),
            ]),
            FormErrors::default(),
        )
    });
    let (maintainer_form, maintainer_errors) = maintainer.unwrap_or_default();
    Ok(RepositoryPage {
        layout: ctx
            .layout(repository.full_name())
            .crumb("Community health", "/community")
            .crumb("Tracked repositories", "/community/repositories"),
        repository,
        maintainers,
        priorities,
        form,
        errors,
        maintainer_form,
        maintainer_errors,
        can_manage: is_council(ctx),
    })
}

pub async fn repository(ctx: PageContext, db: web::Data<Db>, id: web::Path<i64>) -> Result<HttpResponse, AppError> {
    render(&repository_page(&ctx, &db, id.into_inner(), None, None).await?)
}

pub async fn save_repository(
    ctx: PageContext,
    db: web::Data<Db>,
    config: web::Data<Config>,
    id: web::Path<i64>,
    form: FormFields,
) -> Result<HttpResponse, AppError> {
    let (id, actor, input) = (id.into_inner(), actor(&ctx)?, repository_input(&form));
    match db.run(move |conn| service::update_repository(conn, actor, id, &input)).await {
        Ok(r) => Ok(redirect(
            &format!("/community/repositories/{id}"),
            "success",
            &format!("{} is saved.", r.full_name()),
            config.is_https(),
        )),
        Err(e) => {
            let errors = form_errors(e)?;
            render_status(
                &repository_page(&ctx, &db, id, Some((form, errors)), None).await?,
                StatusCode::UNPROCESSABLE_ENTITY,
            )
        }
    }
}

pub async fn add_maintainer(
    ctx: PageContext,
    db: web::Data<Db>,
    config: web::Data<Config>,
    id: web::Path<i64>,
    form: FormFields,
) -> Result<HttpResponse, AppError> {
    let (id, actor) = (id.into_inner(), actor(&ctx)?);
    let input = MaintainerInput {
        login: form.get("login").to_string(),
        since: form.get("since").to_string(),
        until: form.get("until").to_string(),
        source: form.get("source").to_string(),
    };
    match db.run(move |conn| service::add_maintainer(conn, actor, id, &input)).await {
        Ok(m) => Ok(redirect(
            &format!("/community/repositories/{id}"),
            "success",
            &format!("{} is listed as a maintainer from {}.", m.login, m.since),
            config.is_https(),
        )),
        Err(e) => {
            let errors = form_errors(e)?;
            render_status(
                &repository_page(&ctx, &db, id, None, Some((form, errors))).await?,
                StatusCode::UNPROCESSABLE_ENTITY,
            )
        }
    }
}

pub async fn maintainers_file(
    ctx: PageContext,
    db: web::Data<Db>,
    config: web::Data<Config>,
    id: web::Path<i64>,
    form: FormFields,
) -> Result<HttpResponse, AppError> {
    let (id, actor) = (id.into_inner(), actor(&ctx)?);
    let (text, since) = (form.get("maintainers_file").to_string(), form.get("file_since").to_string());
    match db.run(move |conn| service::add_maintainers_from_file(conn, actor, id, &text, &since)).await {
        Ok(n) => Ok(redirect(
            &format!("/community/repositories/{id}"),
            "success",
            &format!("{n} maintainers added from the file."),
            config.is_https(),
        )),
        Err(e) => {
            let errors = form_errors(e)?;
            render_status(
                &repository_page(&ctx, &db, id, None, Some((form, errors))).await?,
                StatusCode::UNPROCESSABLE_ENTITY,
            )
        }
    }
}

pub async fn remove_maintainer(
    ctx: PageContext,
    db: web::Data<Db>,
    config: web::Data<Config>,
    id: web::Path<i64>,
    form: FormFields,
) -> Result<HttpResponse, AppError> {
    let (id, actor) = (id.into_inner(), actor(&ctx)?);
    if let Err(crate::domain::ServiceError::Validation(errors)) = form.confirmed("removing the maintainer entry") {
        let back = db.run(move |conn| service::maintainer_repository(conn, id)).await?;
        let message = crate::domain::messages(errors);
        return Ok(redirect(&format!("/community/repositories/{back}"), "error", &message, config.is_https()));
    }
    let repo = db.run(move |conn| service::remove_maintainer(conn, actor, id)).await?;
    Ok(redirect(
        &format!("/community/repositories/{repo}"),
        "success",
        "The maintainer entry is removed.",
        config.is_https(),
    ))
}

// --------------------------------------------------------------------------------------------------- imports

#[derive(Template)]
#[template(path = "community/import.html")]
struct ImportPage {
    layout: Layout,
    repositories: Vec<String>,
    form: FormFields,
    errors: FormErrors,
    /// Which form the errors belong to: `github` or `coverage`.
    which: String,
}

async fn import_page(
    ctx: &PageContext,
    db: &Db,
    form: FormFields,
    errors: FormErrors,
    which: &str,
) -> Result<ImportPage, AppError> {
    let repositories = db.run(service::list_repositories).await?.iter().map(Repository::full_name).collect();
    Ok(ImportPage {
        layout: ctx.layout("Import repository data").crumb("Community health", "/community"),
        repositories,
        form,
        errors,
        which: which.into(),
    })
}

pub async fn import_form(ctx: PageContext, db: web::Data<Db>) -> Result<HttpResponse, AppError> {
    render(&import_page(&ctx, &db, FormFields::default(), FormErrors::default(), "").await?)
}

/// Largest upload accepted, all files together.
const MAX_IMPORT_BYTES: usize = 32 * 1024 * 1024;

/// The text fields and the files (field `file`, repeatable) of a multipart form.
async fn read_form(mut payload: Multipart) -> Result<(FormFields, Vec<(String, Vec<u8>)>), AppError> {
    use futures_util::StreamExt;
    let (mut fields, mut files, mut total) = (Vec::new(), Vec::new(), 0usize);
    while let Some(field) = payload.next().await {
        let mut field = field.map_err(|e| AppError::BadRequest(e.to_string()))?;
        let name = field.name().unwrap_or_default().to_string();
        let filename = field.content_disposition().and_then(|d| d.get_filename()).map(str::to_string);
        let mut data = Vec::new();
        while let Some(chunk) = field.next().await {
            let chunk = chunk.map_err(|e| AppError::BadRequest(e.to_string()))?;
            total += chunk.len();
            if total > MAX_IMPORT_BYTES {
                return Err(AppError::PayloadTooLarge);
            }
            data.extend_from_slice(&chunk);
        }
        match filename {
            Some(f) if name == "file" => {
                if !(f.is_empty() && data.is_empty()) {
                    files.push((f, data));
                }
            }
            _ => fields.push((name, String::from_utf8_lossy(&data).into_owned())),
        }
    }
    Ok((FormFields(fields), files))
}

pub async fn import_github(
    ctx: PageContext,
    db: web::Data<Db>,
    config: web::Data<Config>,
    payload: Multipart,
) -> Result<HttpResponse, AppError> {
    let (form, files) = read_form(payload).await?;
    let (actor, repo) = (actor(&ctx)?, form.get("repo").to_string());
    match db.run(move |conn| service::import_github(conn, actor, &repo, &files)).await {
        Ok(run) => Ok(redirect(
            "/community/runs",
            "success",
            &format!("Imported {} items (run {}); {} observations written.", run.items, run.id, run.observations),
            config.is_https(),
        )),
        Err(e) => {
            let errors = form_errors(e)?;
            render_status(&import_page(&ctx, &db, form, errors, "github").await?, StatusCode::UNPROCESSABLE_ENTITY)
        }
    }
}

pub async fn import_coverage(
    ctx: PageContext,
    db: web::Data<Db>,
    config: web::Data<Config>,
    payload: Multipart,
) -> Result<HttpResponse, AppError> {
    let (form, mut files) = read_form(payload).await?;
    let (actor, repo, date) = (actor(&ctx)?, form.get("repo").to_string(), form.get("date").to_string());
    let done = match files.len() {
        1 => {
            let (name, data) = files.remove(0);
            db.run(move |conn| service::import_coverage(conn, actor, &repo, &date, &name, &data)).await
        }
        _ => Err(crate::domain::ServiceError::invalid("file", "Choose one Cobertura XML or LCOV file.")),
    };
    match done {
        Ok(run) => Ok(redirect(
            "/community/runs",
            "success",
            &format!("Coverage imported (run {}); {} observations written.", run.id, run.observations),
            config.is_https(),
        )),
        Err(e) => {
            let errors = form_errors(e)?;
            render_status(&import_page(&ctx, &db, form, errors, "coverage").await?, StatusCode::UNPROCESSABLE_ENTITY)
        }
    }
}

// ---------------------------------------------------------------------------------------------- metric links

#[derive(Template)]
#[template(path = "community/links.html")]
struct LinksPage {
    layout: Layout,
    links: Vec<(MetricLink, String)>,
    metrics: Vec<(i64, String)>,
    series: Vec<(&'static str, &'static str)>,
    form: FormFields,
    errors: FormErrors,
    can_manage: bool,
}

async fn links_page(ctx: &PageContext, db: &Db, form: FormFields, errors: FormErrors) -> Result<LinksPage, AppError> {
    let (links, metrics) = db
        .run(|conn| Ok::<_, crate::domain::ServiceError>((service::links(conn)?, service::metric_choices(conn)?)))
        .await?;
    let links = links
        .into_iter()
        .map(|l| {
            let name = metrics.iter().find(|(id, _)| *id == l.metric_id).map(|(_, n)| n.clone()).unwrap_or_default();
            (l, name)
        })
        .collect();
    Ok(LinksPage {
        layout: ctx.layout("Metrics fed by community health").crumb("Community health", "/community"),
        links,
        metrics,
        series: SERIES.iter().map(|(k, l, _)| (*k, *l)).collect(),
        form,
        errors,
        can_manage: is_council(ctx),
    })
}

pub async fn links(ctx: PageContext, db: web::Data<Db>) -> Result<HttpResponse, AppError> {
    render(&links_page(&ctx, &db, FormFields::default(), FormErrors::default()).await?)
}

pub async fn link(
    ctx: PageContext,
    db: web::Data<Db>,
    config: web::Data<Config>,
    form: FormFields,
) -> Result<HttpResponse, AppError> {
    let actor = actor(&ctx)?;
    let input = LinkInput {
        metric_id: form.get("metric_id").to_string(),
        series: form.get("series").to_string(),
        scope: form.get("scope").to_string(),
        period: form.get("period").to_string(),
    };
    match db.run(move |conn| service::link_metric(conn, actor, &input)).await {
        Ok(_) => Ok(redirect(
            "/community/metrics",
            "success",
            "The metric is fed by the series from the next run on.",
            config.is_https(),
        )),
        Err(e) => {
            let errors = form_errors(e)?;
            render_status(&links_page(&ctx, &db, form, errors).await?, StatusCode::UNPROCESSABLE_ENTITY)
        }
    }
}

pub async fn unlink(
    ctx: PageContext,
    db: web::Data<Db>,
    config: web::Data<Config>,
    id: web::Path<i64>,
) -> Result<HttpResponse, AppError> {
    let (id, actor) = (id.into_inner(), actor(&ctx)?);
    db.run(move |conn| service::unlink_metric(conn, actor, id)).await?;
    Ok(redirect("/community/metrics", "success", "The metric is no longer fed by a series.", config.is_https()))
}

// ------------------------------------------------------------------------------------------------------ runs

#[derive(Template)]
#[template(path = "community/runs.html")]
struct RunsPage {
    layout: Layout,
    runs: Vec<(CollectorRun, Vec<service::SkippedItem>)>,
}

pub async fn runs(ctx: PageContext, db: web::Data<Db>) -> Result<HttpResponse, AppError> {
    let runs = db.run(|conn| service::runs(conn, 50)).await?;
    let runs = runs
        .into_iter()
        .map(|r| {
            let skipped = serde_json::from_str(&r.skipped).unwrap_or_default();
            (r, skipped)
        })
        .collect();
    render(&RunsPage { layout: ctx.layout("Collector runs").crumb("Community health", "/community"), runs })
}
