//! Rules and transactions for metrics and observations: definitions, observations by form, API, bulk and CSV
//! (all-or-nothing), corrections that keep history, progress, and money spent next to the change it bought.

use chrono::{Datelike, NaiveDate};
use diesel::prelude::*;
use serde::Serialize;
use serde_json::json;
use utoipa::ToSchema;

use super::model::{parse_value, Metric, Observation};
use super::progress::{self, CostPerUnit, Progress};
use crate::audit::{self, Actor, Changes, Event};
use crate::db::schema::{
    allocations, funding_priorities, initiatives, key_outcomes, ledger_entries, metric_initiatives,
    metric_observations, metrics,
};
use crate::db::{self, DbConn};
use crate::domain::{self, FieldError, ImportError, ImportProblem, ServiceError};

pub const UNITS: &[&str] = &["count", "percent", "days", "money", "score"];
pub const SOURCES: &[&str] = &["manual", "import", "survey"];
pub const SURVEY_AGGREGATES: &[&str] = &["mean", "nps", "share_agreeing"];

/// A metric as entered.
#[derive(Clone, Debug, Default)]
pub struct MetricInput {
    pub slug: String,
    pub name: String,
    pub description: String,
    pub unit: String,
    pub direction: String,
    pub priority_id: String,
    pub key_outcome_id: String,
    pub initiative_ids: Vec<String>,
    pub baseline: String,
    pub baseline_on: String,
    pub target: String,
    pub target_on: String,
    pub source: String,
    /// For a survey-fed metric: the question (of any wave) whose answers become its values.
    pub survey_question_id: String,
    pub survey_aggregate: String,
    pub expected_interval_days: String,
    pub scope_notes: String,
}

struct CheckedMetric {
    survey_question_id: Option<i64>,
    priority_id: Option<i64>,
    key_outcome_id: Option<i64>,
    initiative_ids: Vec<i64>,
    baseline: i64,
    baseline_on: NaiveDate,
    target: i64,
    target_on: NaiveDate,
    survey_aggregate: Option<String>,
    interval: i32,
}

fn check_metric(conn: &mut DbConn, input: &MetricInput, creating: bool) -> Result<CheckedMetric, ServiceError> {
    let mut errors = Vec::new();
    if creating {
        let slug = input.slug.trim();
        if slug.is_empty()
            || slug.len() > 80
            || !slug.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
        {
            errors.push(FieldError::new("slug", "Use 1 to 80 lower-case letters, digits and hyphens."));
        } else if metrics::table.filter(metrics::slug.eq(slug)).count().get_result::<i64>(conn)? > 0 {
            errors.push(FieldError::new("slug", format!("Another metric is called '{slug}'.")));
        }
    }
    if let Some(problem) = crate::domain::hidden_characters(&input.name) {
        errors.push(FieldError::new("name", problem));
    } else if input.name.trim().is_empty() || input.name.trim().len() > 200 {
        errors.push(FieldError::new("name", "Name the metric (up to 200 characters)."));
    }
    if input.description.len() > 4000 || input.scope_notes.len() > 4000 {
        errors
            .push(FieldError::new("description", "Keep the description and scope notes under 4,000 characters each."));
    }
    if !UNITS.contains(&input.unit.as_str()) {
        errors.push(FieldError::new("unit", "Choose count, percent, days, money or score."));
    }
    if !matches!(input.direction.as_str(), "higher" | "lower") {
        errors.push(FieldError::new("direction", "Say whether higher or lower is better."));
    }
    if !SOURCES.contains(&input.source.as_str()) {
        errors.push(FieldError::new("source", "Choose manual, import or survey question."));
    }
    let survey_aggregate = match (input.source.as_str(), input.survey_aggregate.trim()) {
        ("survey", a) if SURVEY_AGGREGATES.contains(&a) => Some(a.to_string()),
        ("survey", _) => {
            errors.push(FieldError::new(
                "survey_aggregate",
                "Say how answers become a value: mean, NPS or share agreeing.",
            ));
            None
        }
        _ => None,
    };
    let survey_question_id =
        crate::domain::parse_optional_id(&input.survey_question_id, "survey_question_id", &mut errors);
    if let Some(q) = survey_question_id {
        use crate::db::schema::survey_questions;
        let kind: Option<String> =
            survey_questions::table.find(q).select(survey_questions::kind).first(conn).optional()?;
        match kind.as_deref() {
            Some("likert" | "nps" | "number") => {}
            Some(_) => {
                errors.push(FieldError::new("survey_question_id", "Choose an agree/disagree, NPS or number question."))
            }
            None => errors.push(FieldError::new("survey_question_id", "There is no such question.")),
        }
    }
    if input.source == "survey" && survey_question_id.is_none() {
        errors.push(FieldError::new("survey_question_id", "Choose the survey question that feeds it."));
    }
    let priority_id = crate::domain::parse_optional_id(&input.priority_id, "priority_id", &mut errors);
    if let Some(p) = priority_id {
        if funding_priorities::table.filter(funding_priorities::id.eq(p)).count().get_result::<i64>(conn)? == 0 {
            errors.push(FieldError::new("priority_id", "There is no such priority."));
        }
    }
    let key_outcome_id = crate::domain::parse_optional_id(&input.key_outcome_id, "key_outcome_id", &mut errors);
    if let Some(o) = key_outcome_id {
        let owner: Option<i64> =
            key_outcomes::table.find(o).select(key_outcomes::priority_id).first(conn).optional()?;
        match owner {
            None => errors.push(FieldError::new("key_outcome_id", "There is no such key outcome.")),
            Some(owner) if priority_id.is_some_and(|p| p != owner) => {
                errors.push(FieldError::new("key_outcome_id", "This outcome belongs to another priority."))
            }
            _ => {}
        }
    }
    let mut initiative_ids = Vec::new();
    for raw in &input.initiative_ids {
        if let Some(id) = crate::domain::parse_optional_id(raw, "initiative_ids", &mut errors) {
            if initiatives::table.filter(initiatives::id.eq(id)).count().get_result::<i64>(conn)? == 0 {
                errors.push(FieldError::new("initiative_ids", "There is no such initiative."));
            } else if !initiative_ids.contains(&id) {
                initiative_ids.push(id);
            }
        }
    }
    let baseline = parse_value(&input.baseline).map_err(|e| errors.push(FieldError::new("baseline", e))).ok();
    let target = parse_value(&input.target).map_err(|e| errors.push(FieldError::new("target", e))).ok();
    let baseline_on = domain::parse_date(&input.baseline_on, "baseline_on", &mut errors);
    let target_on = domain::parse_date(&input.target_on, "target_on", &mut errors);
    if let (Some(b), Some(t)) = (baseline_on, target_on) {
        if t <= b {
            errors.push(FieldError::new("target_on", "The target date must come after the baseline date."));
        }
    }
    if let (Some(b), Some(t)) = (baseline, target) {
        let wrong_way = match input.direction.as_str() {
            "higher" => t <= b,
            "lower" => t >= b,
            _ => false,
        };
        if wrong_way {
            errors.push(FieldError::new(
                "target",
                format!(
                    "With {} is better, the target must be {} than the baseline.",
                    input.direction, input.direction
                ),
            ));
        }
    }
    let interval = match input.expected_interval_days.trim().parse::<i32>() {
        Ok(n) if (1..=3660).contains(&n) => Some(n),
        _ => {
            errors.push(FieldError::new(
                "expected_interval_days",
                "Give how often, in days (1 to 3,660), a value is expected.",
            ));
            None
        }
    };
    match (baseline, baseline_on, target, target_on, interval, errors.is_empty()) {
        (Some(baseline), Some(baseline_on), Some(target), Some(target_on), Some(interval), true) => Ok(CheckedMetric {
            survey_question_id: if input.source == "survey" { survey_question_id } else { None },
            priority_id,
            key_outcome_id,
            initiative_ids,
            baseline,
            baseline_on,
            target,
            target_on,
            survey_aggregate,
            interval,
        }),
        _ => Err(ServiceError::Validation(errors)),
    }
}

fn set_initiatives(conn: &mut DbConn, metric_id: i64, ids: &[i64]) -> Result<(), ServiceError> {
    diesel::delete(metric_initiatives::table.filter(metric_initiatives::metric_id.eq(metric_id))).execute(conn)?;
    for id in ids {
        diesel::insert_into(metric_initiatives::table)
            .values((metric_initiatives::metric_id.eq(metric_id), metric_initiatives::initiative_id.eq(id)))
            .execute(conn)?;
    }
    Ok(())
}

/// Survey questions that can feed a metric (agree/disagree, NPS, number): (id, "cycle: question").
pub fn survey_question_choices(conn: &mut DbConn) -> Result<Vec<(i64, String)>, ServiceError> {
    use crate::db::schema::{survey_questions, surveys};
    let rows: Vec<(i64, String, String)> = survey_questions::table
        .inner_join(surveys::table)
        .filter(survey_questions::kind.eq_any(["likert", "nps", "number"]))
        .order((surveys::opens_at.desc(), survey_questions::position))
        .select((survey_questions::id, surveys::cycle, survey_questions::prompt))
        .load(conn)?;
    Ok(rows.into_iter().map(|(id, cycle, prompt)| (id, format!("{cycle}: {prompt}"))).collect())
}

/// What the metric form offers: priorities, key outcomes (named with their priority) and initiatives.
#[allow(clippy::type_complexity)]
pub fn choices(
    conn: &mut DbConn,
) -> Result<(Vec<(i64, String)>, Vec<(i64, String)>, Vec<(i64, String)>), ServiceError> {
    let priorities: Vec<(i64, String)> = funding_priorities::table
        .order(funding_priorities::position)
        .select((funding_priorities::id, funding_priorities::title))
        .load(conn)?;
    let outcomes: Vec<(i64, String, String)> = key_outcomes::table
        .inner_join(funding_priorities::table)
        .order((funding_priorities::position, key_outcomes::position))
        .select((key_outcomes::id, funding_priorities::title, key_outcomes::description))
        .load(conn)?;
    let initiatives: Vec<(i64, String)> = initiatives::table
        .filter(initiatives::status.ne("cancelled"))
        .order(initiatives::title)
        .select((initiatives::id, initiatives::title))
        .load(conn)?;
    Ok((priorities, outcomes.into_iter().map(|(id, p, o)| (id, format!("{p}: {o}"))).collect(), initiatives))
}

/// Defines a metric (council).
pub fn create_metric(conn: &mut DbConn, actor: i64, input: &MetricInput) -> Result<Metric, ServiceError> {
    db::write_transaction(conn, |conn| {
        let c = check_metric(conn, input, true)?;
        let now = db::now();
        let metric: Metric = crate::on_backend!(conn, |x| diesel::insert_into(metrics::table)
            .values((
                metrics::slug.eq(input.slug.trim()),
                metrics::name.eq(input.name.trim()),
                metrics::description.eq(input.description.trim()),
                metrics::unit.eq(&input.unit),
                metrics::direction.eq(&input.direction),
                metrics::priority_id.eq(c.priority_id),
                metrics::key_outcome_id.eq(c.key_outcome_id),
                metrics::baseline_milli.eq(c.baseline),
                metrics::baseline_on.eq(c.baseline_on),
                metrics::target_milli.eq(c.target),
                metrics::target_on.eq(c.target_on),
                metrics::source.eq(&input.source),
                metrics::survey_question_id.eq(c.survey_question_id),
                metrics::survey_aggregate.eq(&c.survey_aggregate),
                metrics::expected_interval_days.eq(c.interval),
                metrics::scope_notes.eq(input.scope_notes.trim()),
                metrics::created_by.eq(actor),
                metrics::created_at.eq(now),
                metrics::updated_at.eq(now),
            ))
            .returning(Metric::as_returning())
            .get_result(x))?;
        set_initiatives(conn, metric.id, &c.initiative_ids)?;
        audit::record(conn, Event::new(Actor::User(actor), "metric.created").target("metric", metric.id))?;
        Ok(metric)
    })
}

/// Changes a metric's definition (council). Its unit stays once it has observations.
pub fn update_metric(conn: &mut DbConn, actor: i64, id: i64, input: &MetricInput) -> Result<Metric, ServiceError> {
    db::write_transaction(conn, |conn| {
        let current = find_metric(conn, id)?;
        let c = check_metric(conn, input, false)?;
        if input.unit != current.unit && observation_count(conn, id)? > 0 {
            return Err(ServiceError::invalid(
                "unit",
                format!(
                    "It has observations in {}; the unit cannot change. Define a new metric instead.",
                    current.unit
                ),
            ));
        }
        diesel::update(metrics::table.find(id))
            .set((
                metrics::name.eq(input.name.trim()),
                metrics::description.eq(input.description.trim()),
                metrics::unit.eq(&input.unit),
                metrics::direction.eq(&input.direction),
                metrics::priority_id.eq(c.priority_id),
                metrics::key_outcome_id.eq(c.key_outcome_id),
                metrics::baseline_milli.eq(c.baseline),
                metrics::baseline_on.eq(c.baseline_on),
                metrics::target_milli.eq(c.target),
                metrics::target_on.eq(c.target_on),
                metrics::source.eq(&input.source),
                metrics::survey_question_id.eq(c.survey_question_id),
                metrics::survey_aggregate.eq(&c.survey_aggregate),
                metrics::expected_interval_days.eq(c.interval),
                metrics::scope_notes.eq(input.scope_notes.trim()),
                metrics::updated_at.eq(db::now()),
            ))
            .execute(conn)?;
        set_initiatives(conn, id, &c.initiative_ids)?;
        let after = find_metric(conn, id)?;
        let changes = Changes::new()
            .field("name", &current.name, &after.name)
            .field("slug", &current.slug, &after.slug)
            .field("description", &current.description, &after.description)
            .field("unit", &current.unit, &after.unit)
            .field("direction", &current.direction, &after.direction)
            .field("priority_id", &current.priority_id, &after.priority_id)
            .field("key_outcome_id", &current.key_outcome_id, &after.key_outcome_id)
            .field("baseline_milli", &current.baseline_milli, &after.baseline_milli)
            .field("baseline_on", &current.baseline_on, &after.baseline_on)
            .field("target_milli", &current.target_milli, &after.target_milli)
            .field("target_on", &current.target_on, &after.target_on)
            .field("source", &current.source, &after.source)
            .field("expected_interval_days", &current.expected_interval_days, &after.expected_interval_days)
            .field("scope_notes", &current.scope_notes, &after.scope_notes);
        audit::record(conn, Event::new(Actor::User(actor), "metric.updated").target("metric", id).changes(changes))?;
        Ok(after)
    })
}

fn observation_count(conn: &mut DbConn, metric_id: i64) -> Result<i64, ServiceError> {
    Ok(metric_observations::table.filter(metric_observations::metric_id.eq(metric_id)).count().get_result(conn)?)
}

pub fn find_metric(conn: &mut DbConn, id: i64) -> Result<Metric, ServiceError> {
    metrics::table.find(id).select(Metric::as_select()).first(conn).optional()?.ok_or(ServiceError::NotFound("metric"))
}

/// Current observations (not superseded) of some metrics, oldest first.
fn current_observations(conn: &mut DbConn, metric_ids: &[i64]) -> Result<Vec<Observation>, ServiceError> {
    Ok(metric_observations::table
        .filter(metric_observations::metric_id.eq_any(metric_ids))
        .filter(metric_observations::superseded_at.is_null())
        .order((metric_observations::observed_on, metric_observations::id))
        .select(Observation::as_select())
        .load(conn)?)
}

/// Which metric measures which initiative: (metric id, initiative id).
pub fn initiative_links(conn: &mut DbConn) -> Result<Vec<(i64, i64)>, ServiceError> {
    Ok(metric_initiatives::table
        .select((metric_initiatives::metric_id, metric_initiatives::initiative_id))
        .load(conn)?)
}

/// A metric with where it stands, for lists.
#[derive(Clone, Debug, Serialize, ToSchema)]
pub struct MetricSummary {
    pub metric: Metric,
    pub priority: Option<String>,
    pub progress: Progress,
    /// The current observations' (date, value), oldest first, for a sparkline.
    pub points: Vec<(NaiveDate, i64)>,
}

/// Which metrics to list.
#[derive(Clone, Debug, Default)]
pub struct MetricFilter {
    pub priority_id: Option<i64>,
    pub initiative_id: Option<i64>,
    /// Where each stood on this day (observations after it left out); today when none.
    pub as_of: Option<NaiveDate>,
}

/// Metrics with their progress, by priority order (metrics without a priority last), then name.
pub fn list_metrics(conn: &mut DbConn, filter: &MetricFilter) -> Result<Vec<MetricSummary>, ServiceError> {
    let mut q = metrics::table.left_join(funding_priorities::table).into_boxed();
    if let Some(p) = filter.priority_id {
        q = q.filter(metrics::priority_id.eq(p));
    }
    if let Some(i) = filter.initiative_id {
        let ids: Vec<i64> = metric_initiatives::table
            .filter(metric_initiatives::initiative_id.eq(i))
            .select(metric_initiatives::metric_id)
            .load(conn)?;
        q = q.filter(metrics::id.eq_any(ids));
    }
    let rows: Vec<(Metric, Option<String>, Option<i32>)> = q
        .select((Metric::as_select(), funding_priorities::title.nullable(), funding_priorities::position.nullable()))
        .load(conn)?;
    let ids: Vec<i64> = rows.iter().map(|r| r.0.id).collect();
    let mut observations = current_observations(conn, &ids)?;
    let today = filter.as_of.unwrap_or_else(|| db::now().date());
    if filter.as_of.is_some() {
        observations.retain(|o| o.observed_on <= today);
    }
    let mut by_metric: std::collections::HashMap<i64, Vec<Observation>> = Default::default();
    for o in observations {
        by_metric.entry(o.metric_id).or_default().push(o);
    }
    let mut out: Vec<(Option<i32>, MetricSummary)> = rows
        .into_iter()
        .map(|(metric, priority, position)| {
            let mine: Vec<Observation> = by_metric.remove(&metric.id).unwrap_or_default();
            let summary = MetricSummary {
                progress: progress::progress(&metric, &mine, today),
                points: mine.iter().map(|o| (o.observed_on, o.value_milli)).collect(),
                metric,
                priority,
            };
            (position, summary)
        })
        .collect();
    out.sort_by(|a, b| {
        (a.0.is_none(), a.0, a.1.metric.name.to_lowercase()).cmp(&(b.0.is_none(), b.0, b.1.metric.name.to_lowercase()))
    });
    Ok(out.into_iter().map(|(_, s)| s).collect())
}

/// Metrics on a page of the overview.
pub const PAGE_SIZE: usize = 25;

/// One page of [`list_metrics`] and how many pages there are.
pub fn list_metrics_page(
    conn: &mut DbConn,
    filter: &MetricFilter,
    page: usize,
) -> Result<(Vec<MetricSummary>, usize), ServiceError> {
    let all = list_metrics(conn, filter)?;
    let pages = all.len().div_ceil(PAGE_SIZE).max(1);
    let page = page.clamp(1, pages);
    Ok((all.into_iter().skip((page - 1) * PAGE_SIZE).take(PAGE_SIZE).collect(), pages))
}

/// An observation with who recorded it.
#[derive(Clone, Debug, Serialize, ToSchema)]
pub struct ObservationView {
    #[serde(flatten)]
    pub observation: Observation,
    pub recorded_by_name: Option<String>,
}

/// Money paid out for what a metric measures in a window, next to how the metric moved in it.
#[derive(Clone, Debug, Serialize, ToSchema)]
pub struct FundingWindow {
    pub label: String,
    pub from: NaiveDate,
    pub to: NaiveDate,
    /// Base-currency minor units paid out (payments less their reversals).
    pub spent_minor: i64,
    pub start_milli: Option<i64>,
    pub end_milli: Option<i64>,
    pub change_milli: Option<i64>,
    pub cost_per_unit: Option<CostPerUnit>,
}

/// Everything the metric page shows.
#[derive(Clone, Debug, Serialize, ToSchema)]
pub struct MetricDetail {
    pub metric: Metric,
    pub priority: Option<(i64, String)>,
    pub key_outcome: Option<String>,
    pub initiatives: Vec<(i64, String)>,
    pub progress: Progress,
    /// Every observation, superseded ones too, newest first.
    pub observations: Vec<ObservationView>,
    /// What the funding is measured against: the linked initiatives, else the priority.
    pub funded_by: String,
    pub funding: Vec<FundingWindow>,
    pub currency: String,
}

pub fn metric_detail(conn: &mut DbConn, id: i64) -> Result<MetricDetail, ServiceError> {
    use crate::db::schema::users;
    let metric = find_metric(conn, id)?;
    let priority: Option<(i64, String)> = match metric.priority_id {
        Some(p) => funding_priorities::table
            .find(p)
            .select((funding_priorities::id, funding_priorities::title))
            .first(conn)
            .optional()?,
        None => None,
    };
    let key_outcome: Option<String> = match metric.key_outcome_id {
        Some(o) => key_outcomes::table.find(o).select(key_outcomes::description).first(conn).optional()?,
        None => None,
    };
    let initiatives: Vec<(i64, String)> = metric_initiatives::table
        .inner_join(initiatives::table)
        .filter(metric_initiatives::metric_id.eq(id))
        .order(initiatives::title)
        .select((initiatives::id, initiatives::title))
        .load(conn)?;
    let all: Vec<(Observation, Option<String>)> = metric_observations::table
        .left_join(users::table.on(users::id.nullable().eq(metric_observations::recorded_by)))
        .filter(metric_observations::metric_id.eq(id))
        .order((metric_observations::observed_on.desc(), metric_observations::id.desc()))
        .select((Observation::as_select(), users::display_name.nullable()))
        .load(conn)?;
    let current: Vec<Observation> =
        all.iter().filter(|(o, _)| o.superseded_at.is_none()).map(|(o, _)| o.clone()).collect();
    let today = db::now().date();
    let funded_by = if !initiatives.is_empty() {
        format!("the {} linked initiative(s)", initiatives.len())
    } else if let Some((_, title)) = &priority {
        format!("the priority {title}")
    } else {
        String::new()
    };
    let funding = if funded_by.is_empty() {
        Vec::new()
    } else {
        let ids: Vec<i64> = initiatives.iter().map(|i| i.0).collect();
        funding_windows(conn, &metric, &current, &ids, today)?
    };
    Ok(MetricDetail {
        progress: progress::progress(&metric, &current, today),
        observations: all
            .into_iter()
            .map(|(observation, recorded_by_name)| ObservationView { observation, recorded_by_name })
            .collect(),
        currency: crate::ledger::service::base_currency(conn)?,
        metric,
        priority,
        key_outcome,
        initiatives,
        funded_by,
        funding,
    })
}

/// The first day of the quarter `date` falls in.
fn quarter_start(date: NaiveDate) -> NaiveDate {
    let month = (date.month0() / 3) * 3 + 1;
    NaiveDate::from_ymd_opt(date.year(), month, 1).unwrap_or(date)
}

/// The last four quarters (the current one so far included) and the whole time since the baseline.
fn funding_windows(
    conn: &mut DbConn,
    metric: &Metric,
    current: &[Observation],
    initiative_ids: &[i64],
    today: NaiveDate,
) -> Result<Vec<FundingWindow>, ServiceError> {
    let mut windows = Vec::new();
    let mut start = quarter_start(today);
    for _ in 0..4 {
        let end =
            start.checked_add_months(chrono::Months::new(3)).and_then(|d| d.pred_opt()).unwrap_or(start).min(today);
        let label = format!("{} Q{}", start.year(), start.month0() / 3 + 1);
        windows.push((label, start, end));
        start = start.checked_sub_months(chrono::Months::new(3)).unwrap_or(start);
    }
    windows.reverse();
    windows.push(("Since the baseline".to_string(), metric.baseline_on, today));
    windows
        .into_iter()
        .map(|(label, from, to)| {
            let spent = spent_between(conn, metric, initiative_ids, from, to)?;
            // The value just before the window opens, and at its end.
            let start_milli = from
                .pred_opt()
                .and_then(|d| progress::value_on(metric, current, d))
                .or((from == metric.baseline_on).then_some(metric.baseline_milli));
            let end_milli = progress::value_on(metric, current, to);
            let change_milli = start_milli.zip(end_milli).map(|(s, e)| e - s);
            Ok(FundingWindow {
                cost_per_unit: change_milli.map(|c| progress::cost_per_unit(metric, spent, c)),
                label,
                from,
                to,
                spent_minor: spent,
                start_milli,
                end_milli,
                change_milli,
            })
        })
        .collect()
}

/// Disbursements paid (less their reversals) between two dates for the linked initiatives, else the priority.
fn spent_between(
    conn: &mut DbConn,
    metric: &Metric,
    initiative_ids: &[i64],
    from: NaiveDate,
    to: NaiveDate,
) -> Result<i64, ServiceError> {
    let amounts: Vec<i64> = if !initiative_ids.is_empty() {
        ledger_entries::table
            .inner_join(allocations::table.on(ledger_entries::allocation_id.eq(allocations::id.nullable())))
            .filter(allocations::initiative_id.eq_any(initiative_ids))
            .filter(ledger_entries::disbursement_id.is_not_null())
            .filter(ledger_entries::entry_date.between(from, to))
            .select(ledger_entries::base_amount_minor)
            .load(conn)?
    } else if let Some(p) = metric.priority_id {
        ledger_entries::table
            .filter(ledger_entries::priority_id.eq(p))
            .filter(ledger_entries::disbursement_id.is_not_null())
            .filter(ledger_entries::entry_date.between(from, to))
            .select(ledger_entries::base_amount_minor)
            .load(conn)?
    } else {
        Vec::new()
    };
    Ok(-amounts.iter().sum::<i64>())
}

/// An observation as entered.
#[derive(Clone, Debug, Default)]
pub struct ObservationInput {
    pub observed_on: String,
    pub value: String,
    pub note: String,
}

/// Where observations come from: `manual`, `api`, `import` or `survey`, and which file or survey.
#[derive(Clone, Debug)]
pub struct Provenance {
    pub source: &'static str,
    pub label: String,
    pub actor: Option<i64>,
}

/// Checks one observation; `prefix` names its row in field names ("" for a single one).
fn check_observation(input: &ObservationInput, prefix: &str, errors: &mut Vec<FieldError>) -> Option<(NaiveDate, i64)> {
    let field = |f: &str| format!("{prefix}{f}");
    let date = domain::parse_date(&input.observed_on, &field("observed_on"), errors);
    if let Some(d) = date {
        if d > db::now().date() + chrono::Duration::days(1) {
            errors.push(FieldError::new(
                field("observed_on"),
                format!("{d} is in the future; record values once observed."),
            ));
        }
    }
    let value = parse_value(&input.value).map_err(|e| errors.push(FieldError::new(field("value"), e))).ok();
    if input.note.len() > 1000 {
        errors.push(FieldError::new(field("note"), "Keep the note under 1,000 characters."));
    }
    date.zip(value)
}

fn insert_observation(
    conn: &mut DbConn,
    metric_id: i64,
    date: NaiveDate,
    value: i64,
    note: &str,
    from: &Provenance,
) -> Result<Observation, ServiceError> {
    Ok(crate::on_backend!(conn, |c| diesel::insert_into(metric_observations::table)
        .values((
            metric_observations::metric_id.eq(metric_id),
            metric_observations::observed_on.eq(date),
            metric_observations::value_milli.eq(value),
            metric_observations::source.eq(from.source),
            metric_observations::source_label.eq(&from.label),
            metric_observations::note.eq(note.trim()),
            metric_observations::recorded_by.eq(from.actor),
            metric_observations::recorded_at.eq(db::now()),
        ))
        .returning(Observation::as_returning())
        .get_result(c))?)
}

fn already_recorded(conn: &mut DbConn, metric_id: i64, date: NaiveDate, source: &str) -> Result<bool, ServiceError> {
    let n: i64 = metric_observations::table
        .filter(metric_observations::metric_id.eq(metric_id))
        .filter(metric_observations::observed_on.eq(date))
        .filter(metric_observations::source.eq(source))
        .filter(metric_observations::superseded_at.is_null())
        .count()
        .get_result(conn)?;
    Ok(n > 0)
}

fn duplicate_message(date: NaiveDate, source: &str) -> String {
    format!("There is already a {source} value for {date}; correct that one instead.")
}

/// Records observations of one metric: all of them, or none when any is wrong (each named by its row).
pub fn record_observations(
    conn: &mut DbConn,
    metric_id: i64,
    inputs: &[ObservationInput],
    from: &Provenance,
) -> Result<Vec<Observation>, ServiceError> {
    let single = inputs.len() == 1;
    let mut errors = Vec::new();
    let mut checked = Vec::new();
    for (i, input) in inputs.iter().enumerate() {
        let prefix = if single { String::new() } else { format!("[{i}].") };
        if let Some(ok) = check_observation(input, &prefix, &mut errors) {
            if checked.iter().any(|(d, _, _): &(NaiveDate, i64, String)| *d == ok.0) {
                errors.push(FieldError::new(format!("{prefix}observed_on"), format!("{} appears twice.", ok.0)));
            }
            checked.push((ok.0, ok.1, prefix));
        }
    }
    if inputs.is_empty() {
        errors.push(FieldError::new("observations", "Send at least one observation."));
    }
    if !errors.is_empty() {
        return Err(ServiceError::Validation(errors));
    }
    db::write_transaction(conn, |conn| {
        find_metric(conn, metric_id)?;
        let mut errors = Vec::new();
        for (date, _, prefix) in &checked {
            if already_recorded(conn, metric_id, *date, from.source)? {
                errors.push(FieldError::new(format!("{prefix}observed_on"), duplicate_message(*date, from.source)));
            }
        }
        if !errors.is_empty() {
            return Err(ServiceError::Validation(errors));
        }
        let mut out = Vec::new();
        for ((date, value, _), input) in checked.iter().zip(inputs) {
            out.push(insert_observation(conn, metric_id, *date, *value, &input.note, from)?);
        }
        audit::record(
            conn,
            Event::new(from.actor.map(Actor::User).unwrap_or(Actor::System), "metric.observations_recorded")
                .target("metric", metric_id)
                .details(json!({ "count": out.len(), "source": from.source })),
        )?;
        Ok(out)
    })
}

/// Replaces an observation's value (council): the old one stays in the history, marked superseded.
pub fn correct_observation(
    conn: &mut DbConn,
    actor: i64,
    observation_id: i64,
    value: &str,
    note: &str,
) -> Result<Observation, ServiceError> {
    let value = parse_value(value).map_err(|e| ServiceError::invalid("value", e))?;
    let note = note.trim();
    if note.is_empty() || note.len() > 1000 {
        return Err(ServiceError::invalid("note", "Say why it is corrected (up to 1,000 characters)."));
    }
    db::write_transaction(conn, |conn| {
        let old: Observation = metric_observations::table
            .find(observation_id)
            .select(Observation::as_select())
            .first(conn)
            .optional()?
            .ok_or(ServiceError::NotFound("observation"))?;
        if old.superseded_at.is_some() {
            return Err(ServiceError::Conflict("This value was already corrected; correct the newer one.".into()));
        }
        let now = db::now();
        diesel::update(metric_observations::table.find(old.id))
            .set(metric_observations::superseded_at.eq(now))
            .execute(conn)?;
        let source: &'static str = match old.source.as_str() {
            "api" => "api",
            "import" => "import",
            "survey" => "survey",
            "collector" => "collector",
            _ => "manual",
        };
        let from = Provenance { source, label: old.source_label.clone(), actor: Some(actor) };
        let new = insert_observation(conn, old.metric_id, old.observed_on, value, note, &from)?;
        diesel::update(metric_observations::table.find(old.id))
            .set(metric_observations::superseded_by.eq(new.id))
            .execute(conn)?;
        audit::record(
            conn,
            Event::new(Actor::User(actor), "metric.observation_corrected")
                .target("metric_observation", old.id)
                .details(json!({ "from_milli": old.value_milli, "to_milli": value, "by": new.id })),
        )?;
        Ok(new)
    })
}

pub const CSV_COLUMNS: &[&str] = &["metric", "observed_on", "value", "note"];

/// Imports observations of any metrics from CSV (metric slug, date, value, note): every row is checked
/// first, and nothing is written unless all are good.
pub fn import_csv(conn: &mut DbConn, actor: i64, filename: &str, data: &[u8]) -> Result<usize, ImportError> {
    let problem = |line: usize, column: &str, message: String| ImportProblem { line, column: column.into(), message };
    let mut reader = csv::ReaderBuilder::new().has_headers(true).flexible(false).from_reader(data);
    let headers: Vec<String> = match reader.headers() {
        Ok(h) => h.iter().map(|c| c.trim().trim_start_matches('\u{feff}').to_lowercase()).collect(),
        Err(e) => return Err(ImportError::Problems(vec![problem(1, "", format!("The file is not CSV: {e}"))])),
    };
    if headers != CSV_COLUMNS {
        return Err(ImportError::Problems(vec![problem(
            1,
            "",
            format!("The header must be exactly: {}. It is: {}.", CSV_COLUMNS.join(","), headers.join(",")),
        )]));
    }
    let label =
        if filename.trim().is_empty() { "CSV upload".to_string() } else { filename.chars().take(200).collect() };
    db::write_transaction(conn, |conn| {
        let mut problems = Vec::new();
        let mut rows: Vec<(i64, NaiveDate, i64, String, usize)> = Vec::new();
        let slugs: Vec<(String, i64)> = metrics::table.select((metrics::slug, metrics::id)).load(conn)?;
        for (i, record) in reader.records().enumerate() {
            let line = i + 2;
            let record = match record {
                Ok(r) => r,
                Err(e) => {
                    problems.push(problem(line, "", format!("This line cannot be read: {e}")));
                    continue;
                }
            };
            let get = |n: usize| record.get(n).unwrap_or("").to_string();
            let metric = slugs.iter().find(|(s, _)| *s == get(0).trim()).map(|(_, id)| *id);
            if metric.is_none() {
                problems.push(problem(line, "metric", format!("There is no metric '{}'.", get(0).trim())));
            }
            let input = ObservationInput { observed_on: get(1), value: get(2), note: get(3) };
            let mut errors = Vec::new();
            let checked = check_observation(&input, "", &mut errors);
            problems.extend(errors.into_iter().map(|e| problem(line, &e.field, e.message)));
            if let (Some(metric), Some((date, value))) = (metric, checked) {
                if let Some(first) = rows.iter().find(|r| r.0 == metric && r.1 == date).map(|r| r.4) {
                    problems.push(problem(
                        line,
                        "observed_on",
                        format!("The same metric and date are on line {first}."),
                    ));
                } else if already_recorded(conn, metric, date, "import")? {
                    problems.push(problem(line, "observed_on", duplicate_message(date, "import")));
                }
                rows.push((metric, date, value, input.note.clone(), line));
            }
        }
        if rows.is_empty() && problems.is_empty() {
            problems.push(problem(2, "", "The file has no rows.".into()));
        }
        if !problems.is_empty() {
            return Err(ImportError::Problems(problems));
        }
        let from = Provenance { source: "import", label: label.clone(), actor: Some(actor) };
        for (metric, date, value, note, _) in &rows {
            insert_observation(conn, *metric, *date, *value, note, &from)?;
        }
        audit::record(
            conn,
            Event::new(Actor::User(actor), "metric.observations_imported")
                .details(json!({ "rows": rows.len(), "file": label })),
        )?;
        Ok(rows.len())
    })
}

/// Every observation of a metric (superseded ones marked) as CSV, cells neutralised against formulas.
pub fn export_csv(conn: &mut DbConn, metric_id: i64) -> Result<String, ServiceError> {
    let detail = metric_detail(conn, metric_id)?;
    let fail = |e: csv::Error| ServiceError::Internal(format!("writing CSV: {e}"));
    let mut out = csv::Writer::from_writer(Vec::new());
    out.write_record([
        "metric",
        "observed_on",
        "value",
        "source",
        "source_label",
        "note",
        "recorded_by",
        "recorded_at",
        "superseded_by",
    ])
    .map_err(fail)?;
    for o in detail.observations {
        let ob = o.observation;
        let record = [
            detail.metric.slug.clone(),
            ob.observed_on.to_string(),
            super::model::plain(ob.value_milli),
            ob.source,
            ob.source_label,
            ob.note,
            o.recorded_by_name.unwrap_or_default(),
            ob.recorded_at.format("%Y-%m-%d %H:%M:%S").to_string(),
            ob.superseded_by.map(|v| v.to_string()).unwrap_or_default(),
        ];
        out.write_record(record.iter().map(|v| domain::csv_cell(v))).map_err(fail)?;
    }
    let bytes = out.into_inner().map_err(|e| ServiceError::Internal(format!("writing CSV: {e}")))?;
    String::from_utf8(bytes).map_err(|e| ServiceError::Internal(e.to_string()))
}
