//! The public transparency page: off until an admin turns it on, and then showing only what the council and
//! admins marked public (priorities, initiatives, metrics) and the sent reports they published, without
//! anyone's own section, survey text, feedback or forewords.

use std::collections::HashSet;

use chrono::{NaiveDate, NaiveDateTime};
use diesel::prelude::*;
use serde_json::json;

use crate::accounts::{Identity, Role};
use crate::audit::{self, Actor, Event};
use crate::db::schema::{funding_priorities, initiatives, metrics, reports};
use crate::db::{self, DbConn};
use crate::domain::ServiceError;
use crate::metrics::service::{list_metrics, MetricFilter, MetricSummary};
use crate::reports::model::ReportContent;
use crate::reports::period::Period;
use crate::reports::service::ReportView;
use crate::settings::service as settings;

pub fn enabled(conn: &mut DbConn) -> Result<bool, ServiceError> {
    Ok(settings::get(conn, settings::TRANSPARENCY)?.as_deref() == Some("true"))
}

fn require_enabled(conn: &mut DbConn) -> Result<(), ServiceError> {
    if enabled(conn)? {
        Ok(())
    } else {
        Err(ServiceError::NotFound("page"))
    }
}

/// The ids marked public.
#[derive(Clone, Debug, Default)]
pub struct Marks {
    pub priorities: HashSet<i64>,
    pub initiatives: HashSet<i64>,
    pub metrics: HashSet<i64>,
}

pub fn marks(conn: &mut DbConn) -> Result<Marks, ServiceError> {
    let ids = |v: Vec<i64>| v.into_iter().collect::<HashSet<i64>>();
    Ok(Marks {
        priorities: ids(funding_priorities::table
            .filter(funding_priorities::public.eq(true))
            .select(funding_priorities::id)
            .load(conn)?),
        initiatives: ids(initiatives::table.filter(initiatives::public.eq(true)).select(initiatives::id).load(conn)?),
        metrics: ids(metrics::table.filter(metrics::public.eq(true)).select(metrics::id).load(conn)?),
    })
}

/// A report's content with only what is public: public priorities, initiatives and metrics, the money
/// totals; no survey section, no reasons (they may name private metrics), no personal sections.
pub fn public_content(mut content: ReportContent, marks: &Marks) -> ReportContent {
    if let Some(b) = content.budgets.as_mut() {
        b.lines.retain(|l| marks.priorities.contains(&l.priority_id));
    }
    if let Some(i) = content.initiatives.as_mut() {
        for list in [&mut i.started, &mut i.completed, &mut i.at_risk] {
            list.retain(|l| marks.initiatives.contains(&l.initiative_id));
            for l in list.iter_mut() {
                l.note.clear();
                if !marks.priorities.contains(&l.priority_id) {
                    l.priority.clear();
                }
            }
        }
    }
    if let Some(m) = content.metrics.as_mut() {
        m.retain(|l| marks.metrics.contains(&l.metric_id));
    }
    content.survey = None;
    content.personal = false;
    content
}

/// A public priority with this year's money.
#[derive(Clone, Debug)]
pub struct PublicPriority {
    pub title: String,
    pub summary: String,
    pub budget_minor: i64,
    pub allocated_minor: i64,
    pub spent_minor: i64,
}

#[derive(Clone, Debug)]
pub struct PublicInitiative {
    pub title: String,
    pub summary: String,
    /// Empty when the priority is not public.
    pub priority: String,
    pub status: String,
    pub starts_on: Option<NaiveDate>,
    pub ends_on: Option<NaiveDate>,
}

#[derive(Clone, Debug)]
pub struct PublishedReport {
    pub period: String,
    pub label: String,
    pub sent_at: NaiveDateTime,
}

/// Everything the public page shows.
#[derive(Clone, Debug)]
pub struct PublicPage {
    pub currency: String,
    pub year: Option<String>,
    pub priorities: Vec<PublicPriority>,
    pub initiatives: Vec<PublicInitiative>,
    pub metrics: Vec<MetricSummary>,
    pub reports: Vec<PublishedReport>,
}

pub fn page(conn: &mut DbConn) -> Result<PublicPage, ServiceError> {
    require_enabled(conn)?;
    let marks = marks(conn)?;
    let year = crate::ledger::service::year_to_show(conn, None)?;
    let uses = match &year {
        Some(y) => crate::funding::service::budget_overview(conn, y.id)?,
        None => Vec::new(),
    };
    let priorities = crate::funding::service::all_priorities(conn)?
        .into_iter()
        .filter(|p| p.active && marks.priorities.contains(&p.id))
        .map(|p| {
            let used = uses.iter().find(|u| u.priority.id == p.id);
            PublicPriority {
                budget_minor: used.map(|u| u.budget_minor).unwrap_or(0),
                allocated_minor: used.map(|u| u.allocated_minor).unwrap_or(0),
                spent_minor: used.map(|u| u.spent_minor).unwrap_or(0),
                title: p.title,
                summary: p.summary,
            }
        })
        .collect();
    let initiative_rows: Vec<(crate::funding::model::Initiative, String)> = initiatives::table
        .inner_join(funding_priorities::table)
        .filter(initiatives::public.eq(true))
        .filter(initiatives::status.eq_any(["approved", "active", "completed"]))
        .order((funding_priorities::position, initiatives::title))
        .select((crate::funding::model::Initiative::as_select(), funding_priorities::title))
        .load(conn)?;
    let metrics = list_metrics(conn, &MetricFilter::default())?
        .into_iter()
        .filter(|m| marks.metrics.contains(&m.metric.id))
        .collect();
    Ok(PublicPage {
        currency: crate::ledger::service::base_currency(conn)?,
        year: year.map(|y| y.label),
        priorities,
        initiatives: initiative_rows
            .into_iter()
            .map(|(i, priority)| PublicInitiative {
                priority: if marks.priorities.contains(&i.priority_id) { priority } else { String::new() },
                title: i.title,
                summary: i.summary,
                status: i.status,
                starts_on: i.starts_on,
                ends_on: i.ends_on,
            })
            .collect(),
        metrics,
        reports: published(conn)?,
    })
}

/// The Atom feed's entries: the published reports, while the page is on.
pub fn feed(conn: &mut DbConn) -> Result<Vec<PublishedReport>, ServiceError> {
    require_enabled(conn)?;
    published(conn)
}

/// Sent reports marked published, newest first.
pub fn published(conn: &mut DbConn) -> Result<Vec<PublishedReport>, ServiceError> {
    let rows: Vec<(String, Option<NaiveDateTime>)> = reports::table
        .filter(reports::published.eq(true))
        .filter(reports::sent_at.is_not_null())
        .order(reports::ends_on.desc())
        .select((reports::period, reports::sent_at))
        .load(conn)?;
    Ok(rows
        .into_iter()
        .filter_map(|(period, sent_at)| {
            Some(PublishedReport { label: Period::parse(&period).ok()?.label(), period, sent_at: sent_at? })
        })
        .collect())
}

/// The public copy of a published report.
pub fn report(conn: &mut DbConn, code: &str) -> Result<(ReportView, NaiveDateTime), ServiceError> {
    require_enabled(conn)?;
    let row: Option<(Option<String>, Option<NaiveDateTime>)> = reports::table
        .filter(reports::period.eq(code.trim().to_ascii_uppercase()))
        .filter(reports::published.eq(true))
        .select((reports::content, reports::sent_at))
        .first(conn)
        .optional()?;
    let (Some(text), Some(sent_at)) = row.unwrap_or((None, None)) else {
        return Err(ServiceError::NotFound("report"));
    };
    let content: ReportContent =
        serde_json::from_str(&text).map_err(|e| ServiceError::Internal(format!("report content: {e}")))?;
    let content = public_content(content, &marks(conn)?);
    Ok((ReportView { content, foreword: String::new(), changes: String::new(), personal: None, live: false }, sent_at))
}

/// What the transparency settings page lists: (id, name, detail, public) per kind.
#[derive(Clone, Debug, Default)]
pub struct Choices {
    pub enabled: bool,
    pub priorities: Vec<(i64, String, bool)>,
    pub initiatives: Vec<(i64, String, String, bool)>,
    pub metrics: Vec<(i64, String, bool)>,
    pub reports: Vec<PublishedReport>,
}

pub fn choices(conn: &mut DbConn) -> Result<Choices, ServiceError> {
    Ok(Choices {
        enabled: enabled(conn)?,
        priorities: funding_priorities::table
            .filter(funding_priorities::active.eq(true))
            .order(funding_priorities::position)
            .select((funding_priorities::id, funding_priorities::title, funding_priorities::public))
            .load(conn)?,
        initiatives: initiatives::table
            .filter(initiatives::status.eq_any(["approved", "active", "completed"]))
            .order(initiatives::title)
            .select((initiatives::id, initiatives::title, initiatives::status, initiatives::public))
            .load(conn)?,
        metrics: metrics::table
            .order(metrics::name)
            .select((metrics::id, metrics::name, metrics::public))
            .load(conn)?,
        reports: published(conn)?,
    })
}

/// What the settings form sends: the page on or off (admins only; `None` from others) and the ids to show.
#[derive(Clone, Debug, Default)]
pub struct ChoicesInput {
    pub enabled: Option<bool>,
    pub priorities: Vec<i64>,
    pub initiatives: Vec<i64>,
    pub metrics: Vec<i64>,
}

/// Saves what is public, in one transaction. Only approved, active or completed initiatives can be public.
pub fn save(conn: &mut DbConn, actor: &Identity, input: &ChoicesInput) -> Result<(), ServiceError> {
    if input.enabled.is_some() && !actor.has_role(Role::Admin) {
        return Err(ServiceError::Forbidden);
    }
    db::write_transaction(conn, |conn| {
        if let Some(on) = input.enabled {
            settings::set(conn, settings::TRANSPARENCY, if on { "true" } else { "false" })?;
        }
        diesel::update(funding_priorities::table)
            .set(funding_priorities::public.eq(funding_priorities::id.eq_any(&input.priorities)))
            .execute(conn)?;
        diesel::update(initiatives::table)
            .set(initiatives::public.eq(initiatives::id.eq_any(&input.initiatives).and(initiatives::status.eq_any([
                "approved",
                "active",
                "completed",
            ]))))
            .execute(conn)?;
        diesel::update(metrics::table).set(metrics::public.eq(metrics::id.eq_any(&input.metrics))).execute(conn)?;
        audit::record(
            conn,
            Event::new(Actor::User(actor.user_id), "transparency.changed").details(json!({
                "enabled": input.enabled,
                "priorities": input.priorities,
                "initiatives": input.initiatives,
                "metrics": input.metrics,
            })),
        )
    })
}
