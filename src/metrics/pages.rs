//! Pages for metrics: the overview by priority with sparklines, a metric with its chart, progress, funding
//! and observations, the definition form, and CSV import and export.

use actix_multipart::Multipart;
use actix_web::http::StatusCode;
use actix_web::{web, HttpResponse};
use askama::Template;
use serde::Deserialize;

use super::model::Metric;
use super::progress::{CostPerUnit, METHOD};
use super::service::{self, MetricDetail, MetricFilter, MetricInput, MetricSummary, ObservationInput, Provenance};
use crate::accounts::{PageContext, Role};
use crate::config::Config;
use crate::db::Db;
use crate::domain::{ImportError, ImportProblem, ServiceError};
use crate::locale::Shown;
use crate::web::chart::{self, LineChart};
use crate::web::flash::redirect;
use crate::web::forms::{form_errors, read_upload, FormErrors, FormFields};
use crate::web::{csv_download, render, render_status, AppError, Layout};

fn is_council(ctx: &PageContext) -> bool {
    ctx.identity.as_ref().is_some_and(|i| i.has_role(Role::Council))
}

// --------------------------------------------------------------------------------------------------- overview

struct OverviewRow {
    summary: MetricSummary,
    spark: LineChart,
}

#[derive(Template)]
#[template(path = "metrics/list.html")]
struct ListPage {
    layout: Layout,
    /// (priority title, its metrics) in priority order; metrics without a priority last.
    groups: Vec<(String, Vec<OverviewRow>)>,
    can_define: bool,
    filtered: bool,
    page: usize,
    pages: usize,
    /// The filter's query string, for the page links.
    query: String,
}

impl ListPage {
    fn show(&self, metric: &Metric, milli: impl std::borrow::Borrow<Option<i64>>) -> String {
        milli.borrow().map(|v| metric.show(v)).unwrap_or_else(|| "—".into())
    }
}

#[derive(Deserialize)]
pub struct ListQuery {
    #[serde(default, deserialize_with = "crate::web::forms::blank_as_none")]
    priority: Option<i64>,
    #[serde(default, deserialize_with = "crate::web::forms::blank_as_none")]
    initiative: Option<i64>,
    page: Option<usize>,
}

pub async fn list(ctx: PageContext, db: web::Data<Db>, query: web::Query<ListQuery>) -> Result<HttpResponse, AppError> {
    let filter = MetricFilter { priority_id: query.priority, initiative_id: query.initiative, as_of: None };
    let filtered = query.priority.is_some() || query.initiative.is_some();
    let page = query.page.unwrap_or(1).max(1);
    let (rows, pages) = db.run(move |conn| service::list_metrics_page(conn, &filter, page)).await?;
    let mut links = Vec::new();
    if let Some(p) = query.priority {
        links.push(format!("priority={p}"));
    }
    if let Some(i) = query.initiative {
        links.push(format!("initiative={i}"));
    }
    let mut groups: Vec<(String, Vec<OverviewRow>)> = Vec::new();
    for summary in rows {
        let title = summary.priority.clone().unwrap_or_else(|| "Not tied to a priority".into());
        let m = summary.metric.clone();
        let spark = chart::line(&summary.points, &[("target", m.target_milli)], 160, 40, |v| m.show(v));
        match groups.iter_mut().find(|(t, _)| *t == title) {
            Some((_, list)) => list.push(OverviewRow { summary, spark }),
            None => groups.push((title, vec![OverviewRow { summary, spark }])),
        }
    }
    render(&ListPage {
        layout: ctx.layout("Outcome metrics"),
        groups,
        can_define: is_council(&ctx),
        filtered,
        page: page.min(pages),
        pages,
        query: links.join("&"),
    })
}

// ----------------------------------------------------------------------------------------------- one metric

#[derive(Template)]
#[template(path = "metrics/show.html")]
struct ShowPage {
    layout: Layout,
    d: MetricDetail,
    chart: LineChart,
    method: &'static str,
    can_record: bool,
    observed_on: String,
    value: String,
    note: String,
    errors: FormErrors,
}

impl ShowPage {
    fn show(&self, milli: impl std::borrow::Borrow<Option<i64>>) -> String {
        milli.borrow().map(|v| self.d.metric.show(v)).unwrap_or_else(|| "—".into())
    }

    fn value(&self, milli: impl std::borrow::Borrow<i64>) -> String {
        self.d.metric.show(*milli.borrow())
    }

    fn money(&self, minor: impl std::borrow::Borrow<i64>) -> String {
        crate::money::format(*minor.borrow(), &self.d.currency)
    }

    fn cost(&self, cost: impl std::borrow::Borrow<Option<CostPerUnit>>) -> String {
        match *cost.borrow() {
            Some(CostPerUnit::PerUnit { minor }) => format!("{} per unit", self.money(minor)),
            Some(CostPerUnit::NoChange) => "no change: not computed".into(),
            Some(CostPerUnit::Worsened) => "moved the wrong way: not computed".into(),
            Some(CostPerUnit::NoSpending) => "nothing spent".into(),
            None => "no data".into(),
        }
    }

    fn percent(&self) -> String {
        match self.d.progress.percent_to_target {
            Some(p) => format!("{p:.1}%"),
            None => "—".into(),
        }
    }
}

async fn show_page(
    ctx: &PageContext,
    db: &Db,
    id: i64,
    form: ObservationInput,
    errors: FormErrors,
) -> Result<ShowPage, AppError> {
    let d = db.run(move |conn| service::metric_detail(conn, id)).await?;
    let m = d.metric.clone();
    let mut points: Vec<(chrono::NaiveDate, i64)> = vec![(m.baseline_on, m.baseline_milli)];
    points.extend(
        d.observations
            .iter()
            .rev()
            .filter(|o| o.observation.superseded_at.is_none())
            .map(|o| (o.observation.observed_on, o.observation.value_milli)),
    );
    points.sort();
    let chart =
        chart::line(&points, &[("Baseline", m.baseline_milli), ("Target", m.target_milli)], 640, 220, |v| m.show(v));
    Ok(ShowPage {
        layout: ctx.layout(d.metric.name.clone()).crumb("Outcome metrics", "/metrics"),
        chart,
        method: METHOD,
        can_record: is_council(ctx),
        observed_on: if form.observed_on.is_empty() { crate::db::now().date().to_string() } else { form.observed_on },
        value: form.value,
        note: form.note,
        errors,
        d,
    })
}

pub async fn show(ctx: PageContext, db: web::Data<Db>, id: web::Path<i64>) -> Result<HttpResponse, AppError> {
    render(&show_page(&ctx, &db, id.into_inner(), ObservationInput::default(), FormErrors::default()).await?)
}

pub async fn record(
    ctx: PageContext,
    db: web::Data<Db>,
    config: web::Data<Config>,
    id: web::Path<i64>,
    form: FormFields,
) -> Result<HttpResponse, AppError> {
    let (actor, id) = (ctx.user()?.user_id, id.into_inner());
    let input = ObservationInput {
        observed_on: form.get("observed_on").to_string(),
        value: form.get("value").to_string(),
        note: form.get("note").to_string(),
    };
    let i = input.clone();
    let from = Provenance { source: "manual", label: String::new(), actor: Some(actor) };
    match db.run(move |conn| service::record_observations(conn, id, &[i], &from)).await {
        Ok(_) => Ok(redirect(&format!("/metrics/{id}"), "success", "The value is recorded.", config.is_https())),
        Err(e) => {
            render_status(&show_page(&ctx, &db, id, input, form_errors(e)?).await?, StatusCode::UNPROCESSABLE_ENTITY)
        }
    }
}

pub async fn correct(
    ctx: PageContext,
    db: web::Data<Db>,
    config: web::Data<Config>,
    id: web::Path<i64>,
    form: FormFields,
) -> Result<HttpResponse, AppError> {
    let (actor, id) = (ctx.user()?.user_id, id.into_inner());
    let (value, note) = (form.get("value").to_string(), form.get("note").to_string());
    match db.run(move |conn| service::correct_observation(conn, actor, id, &value, &note)).await {
        Ok(o) => Ok(redirect(
            &format!("/metrics/{}", o.metric_id),
            "success",
            "The value is corrected; the old one stays in the history.",
            config.is_https(),
        )),
        // A small form on a table row: its reason comes back as the message at the top of the page.
        Err(ServiceError::Validation(errors)) => {
            let metric = db
                .run(move |conn| {
                    use crate::db::schema::metric_observations as o;
                    use diesel::prelude::*;
                    Ok::<i64, ServiceError>(o::table.find(id).select(o::metric_id).first(conn)?)
                })
                .await?;
            let message = crate::domain::messages(errors);
            Ok(redirect(&format!("/metrics/{metric}"), "error", &message, config.is_https()))
        }
        Err(other) => Err(other.into()),
    }
}

pub async fn export(db: web::Data<Db>, id: web::Path<i64>) -> Result<HttpResponse, AppError> {
    let id = id.into_inner();
    let (slug, csv) = db
        .run(move |conn| Ok::<_, ServiceError>((service::find_metric(conn, id)?.slug, service::export_csv(conn, id)?)))
        .await?;
    Ok(csv_download(&format!("{slug}-observations.csv"), csv))
}

// -------------------------------------------------------------------------------------------------- the form

#[derive(Template)]
#[template(path = "metrics/form.html")]
struct FormPage {
    layout: Layout,
    id: Option<i64>,
    action: String,
    input: MetricInput,
    /// (id, title) of every priority.
    priorities: Vec<(i64, String)>,
    /// (id, "priority: outcome") of every key outcome.
    outcomes: Vec<(i64, String)>,
    initiatives: Vec<(i64, String)>,
    survey_questions: Vec<(i64, String)>,
    errors: FormErrors,
}

impl FormPage {
    fn chosen(&self, id: impl std::borrow::Borrow<i64>) -> bool {
        self.input.initiative_ids.iter().any(|v| *v == id.borrow().to_string())
    }
}

async fn form_page(
    ctx: &PageContext,
    db: &Db,
    id: Option<i64>,
    input: MetricInput,
    errors: FormErrors,
) -> Result<FormPage, AppError> {
    let ((priorities, outcomes, initiatives), survey_questions) = db
        .run(|conn| Ok::<_, ServiceError>((service::choices(conn)?, service::survey_question_choices(conn)?)))
        .await?;
    let (title, action) = match id {
        Some(id) => ("Edit metric".to_string(), format!("/metrics/{id}/edit")),
        None => ("Define a metric".to_string(), "/metrics/new".to_string()),
    };
    Ok(FormPage {
        layout: ctx.layout(title).crumb("Outcome metrics", "/metrics"),
        id,
        action,
        input,
        priorities,
        outcomes,
        initiatives,
        survey_questions,
        errors,
    })
}

fn metric_input(form: &FormFields) -> MetricInput {
    MetricInput {
        slug: form.get("slug").to_string(),
        name: form.get("name").to_string(),
        description: form.get("description").to_string(),
        unit: form.get("unit").to_string(),
        direction: form.get("direction").to_string(),
        priority_id: form.get("priority_id").to_string(),
        key_outcome_id: form.get("key_outcome_id").to_string(),
        initiative_ids: form.all("initiative_ids").into_iter().map(str::to_string).collect(),
        baseline: form.get("baseline").to_string(),
        baseline_on: form.get("baseline_on").to_string(),
        target: form.get("target").to_string(),
        target_on: form.get("target_on").to_string(),
        source: form.get("source").to_string(),
        survey_question_id: form.get("survey_question_id").to_string(),
        survey_aggregate: form.get("survey_aggregate").to_string(),
        expected_interval_days: form.get("expected_interval_days").to_string(),
        scope_notes: form.get("scope_notes").to_string(),
    }
}

pub async fn new_form(ctx: PageContext, db: web::Data<Db>) -> Result<HttpResponse, AppError> {
    let input = MetricInput {
        unit: "count".into(),
        direction: "higher".into(),
        source: "manual".into(),
        expected_interval_days: "90".into(),
        ..Default::default()
    };
    render(&form_page(&ctx, &db, None, input, FormErrors::default()).await?)
}

pub async fn create(
    ctx: PageContext,
    db: web::Data<Db>,
    config: web::Data<Config>,
    form: FormFields,
) -> Result<HttpResponse, AppError> {
    let (actor, input) = (ctx.user()?.user_id, metric_input(&form));
    let i = input.clone();
    match db.run(move |conn| service::create_metric(conn, actor, &i)).await {
        Ok(m) => Ok(redirect(&format!("/metrics/{}", m.id), "success", "The metric is defined.", config.is_https())),
        Err(e) => {
            render_status(&form_page(&ctx, &db, None, input, form_errors(e)?).await?, StatusCode::UNPROCESSABLE_ENTITY)
        }
    }
}

pub async fn edit_form(ctx: PageContext, db: web::Data<Db>, id: web::Path<i64>) -> Result<HttpResponse, AppError> {
    let id = id.into_inner();
    let d = db.run(move |conn| service::metric_detail(conn, id)).await?;
    let m = d.metric;
    let input = MetricInput {
        slug: m.slug,
        name: m.name,
        description: m.description,
        unit: m.unit,
        direction: m.direction,
        priority_id: m.priority_id.map(|v| v.to_string()).unwrap_or_default(),
        key_outcome_id: m.key_outcome_id.map(|v| v.to_string()).unwrap_or_default(),
        initiative_ids: d.initiatives.iter().map(|(i, _)| i.to_string()).collect(),
        baseline: super::model::plain(m.baseline_milli),
        baseline_on: m.baseline_on.to_string(),
        target: super::model::plain(m.target_milli),
        target_on: m.target_on.to_string(),
        source: m.source,
        survey_question_id: m.survey_question_id.map(|v| v.to_string()).unwrap_or_default(),
        survey_aggregate: m.survey_aggregate.unwrap_or_default(),
        expected_interval_days: m.expected_interval_days.to_string(),
        scope_notes: m.scope_notes,
    };
    render(&form_page(&ctx, &db, Some(id), input, FormErrors::default()).await?)
}

pub async fn save(
    ctx: PageContext,
    db: web::Data<Db>,
    config: web::Data<Config>,
    id: web::Path<i64>,
    form: FormFields,
) -> Result<HttpResponse, AppError> {
    let (actor, id, input) = (ctx.user()?.user_id, id.into_inner(), metric_input(&form));
    let i = input.clone();
    match db.run(move |conn| service::update_metric(conn, actor, id, &i)).await {
        Ok(_) => Ok(redirect(&format!("/metrics/{id}"), "success", "The metric is saved.", config.is_https())),
        Err(e) => render_status(
            &form_page(&ctx, &db, Some(id), input, form_errors(e)?).await?,
            StatusCode::UNPROCESSABLE_ENTITY,
        ),
    }
}

// ----------------------------------------------------------------------------------------------------- import

#[derive(Template)]
#[template(path = "metrics/import.html")]
struct ImportPage {
    layout: Layout,
    columns: String,
    problems: Vec<ImportProblem>,
}

fn import_page(ctx: &PageContext, problems: Vec<ImportProblem>) -> ImportPage {
    ImportPage {
        layout: ctx.layout("Import observations").crumb("Outcome metrics", "/metrics"),
        columns: service::CSV_COLUMNS.join(","),
        problems,
    }
}

pub async fn import_form(ctx: PageContext) -> Result<HttpResponse, AppError> {
    render(&import_page(&ctx, Vec::new()))
}

/// Largest CSV accepted (about 50,000 observations).
const MAX_IMPORT_BYTES: usize = 4 * 1024 * 1024;

pub async fn import(
    ctx: PageContext,
    db: web::Data<Db>,
    config: web::Data<Config>,
    payload: Multipart,
) -> Result<HttpResponse, AppError> {
    let (filename, data) = read_upload(payload, "file", MAX_IMPORT_BYTES).await?;
    let actor = ctx.user()?.user_id;
    match db.run(move |conn| service::import_csv(conn, actor, &filename, &data)).await {
        Ok(n) => Ok(redirect("/metrics", "success", &format!("{n} observations imported."), config.is_https())),
        Err(ImportError::Problems(problems)) => {
            render_status(&import_page(&ctx, problems), StatusCode::UNPROCESSABLE_ENTITY)
        }
        Err(ImportError::Service(e)) => Err(e.into()),
    }
}
