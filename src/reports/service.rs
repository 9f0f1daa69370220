//! Progress reports: the schedule, generating a period's report (its content frozen as JSON in one
//! transaction), previews, and sending one email per subscribed representative with an idempotency key per
//! recipient and period, so no run, repeated or on several instances at once, emails anyone twice.

use std::collections::{HashMap, HashSet};

use chrono::{NaiveDate, NaiveDateTime};
use diesel::prelude::*;
use serde::Serialize;
use serde_json::json;
use utoipa::ToSchema;

use super::model::*;
use super::period::{Frequency, Period};
use crate::accounts::{Identity, Role};
use crate::audit::{self, Actor, Event};
use crate::db::schema::{
    initiative_steps, initiatives, invoices, members, membership_tiers, outbox, report_members, reports,
    survey_invitations, survey_organization_answers, surveys, user_roles, users,
};
use crate::db::{self, DbConn};
use crate::domain::{FieldError, ServiceError};
use crate::mail::{self, Category, EmailContent, EmailContext, Outgoing, Rendered};
use crate::settings::service as settings;
use crate::surveys::service::MailSettings;

const FREQUENCY: &str = "report_frequency";
const SEND_DAY: &str = "report_send_day";
const SECTIONS: &str = "report_sections";
const AUTOMATIC: &str = "report_automatic";
/// The scheduler sends a report by itself only this many days after its send day at the latest, so turning
/// the schedule on (or starting on a copied database) never mails an old period's report out of the blue.
pub const CATCH_UP_DAYS: i64 = 14;
/// Longest foreword or "what we changed" text.
const MAX_WORDS: usize = 5_000;

// -------------------------------------------------------------------------------------------------- schedule

/// When reports go out and what they hold.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, ToSchema)]
pub struct Schedule {
    pub frequency: Frequency,
    /// Reports go this many days after their period ends (1 to 28).
    pub send_day: u32,
    pub sections: Vec<Section>,
    /// Whether the scheduler sends on the send day by itself; otherwise the council sends by hand.
    pub automatic: bool,
}

impl Schedule {
    pub fn has(&self, section: Section) -> bool {
        self.sections.contains(&section)
    }

    /// The period in progress on `today`, the next to be reported.
    pub fn next_period(&self, today: NaiveDate) -> Period {
        Period::containing(self.frequency, today)
    }
}

impl Default for Schedule {
    fn default() -> Self {
        Self { frequency: Frequency::Quarterly, send_day: 10, sections: Section::ALL.to_vec(), automatic: true }
    }
}

pub fn schedule(conn: &mut DbConn) -> Result<Schedule, ServiceError> {
    let defaults = Schedule::default();
    let frequency = settings::get(conn, FREQUENCY)?.and_then(|f| Frequency::parse(&f)).unwrap_or(defaults.frequency);
    let send_day = settings::get(conn, SEND_DAY)?
        .and_then(|d| d.parse::<u32>().ok())
        .filter(|d| (1..=28).contains(d))
        .unwrap_or(defaults.send_day);
    let sections = match settings::get(conn, SECTIONS)? {
        Some(list) => list.split(',').filter_map(Section::parse).collect(),
        None => defaults.sections,
    };
    let automatic = settings::get(conn, AUTOMATIC)?.map(|a| a == "true").unwrap_or(defaults.automatic);
    Ok(Schedule { frequency, send_day, sections, automatic })
}

/// The schedule as typed into the form or sent to the API.
#[derive(Clone, Debug, Default)]
pub struct ScheduleInput {
    pub frequency: String,
    pub send_day: String,
    pub sections: Vec<String>,
    pub automatic: bool,
}

/// Sets the schedule (admins); every field checked, nothing saved unless all are right.
pub fn set_schedule(conn: &mut DbConn, actor: i64, input: &ScheduleInput) -> Result<Schedule, ServiceError> {
    let mut errors = Vec::new();
    let frequency = Frequency::parse(input.frequency.trim());
    if frequency.is_none() {
        errors.push(FieldError::new("frequency", "Choose monthly, quarterly or half-yearly."));
    }
    let send_day = input.send_day.trim().parse::<u32>().ok().filter(|d| (1..=28).contains(d));
    if send_day.is_none() {
        errors.push(FieldError::new("send_day", "Give a number of days from 1 to 28."));
    }
    let mut sections = Vec::new();
    for raw in &input.sections {
        match Section::parse(raw) {
            Some(s) if !sections.contains(&s) => sections.push(s),
            Some(_) => {}
            None => errors.push(FieldError::new("sections", format!("'{}' is not a report section.", raw.trim()))),
        }
    }
    if sections.is_empty() && errors.iter().all(|e| e.field != "sections") {
        errors.push(FieldError::new("sections", "Choose at least one section."));
    }
    let (Some(frequency), Some(send_day), true) = (frequency, send_day, errors.is_empty()) else {
        return Err(ServiceError::Validation(errors));
    };
    sections.sort_by_key(|s| Section::ALL.iter().position(|x| x == s));
    let schedule = Schedule { frequency, send_day, sections, automatic: input.automatic };
    db::write_transaction(conn, |conn| {
        settings::set(conn, FREQUENCY, frequency.as_str())?;
        settings::set(conn, SEND_DAY, &send_day.to_string())?;
        let list: Vec<&str> = schedule.sections.iter().map(|s| s.as_str()).collect();
        settings::set(conn, SECTIONS, &list.join(","))?;
        settings::set(conn, AUTOMATIC, if schedule.automatic { "true" } else { "false" })?;
        audit::record(
            conn,
            Event::new(Actor::User(actor), "report.schedule_changed").details(json!({
                "frequency": frequency.as_str(), "send_day": send_day, "sections": list, "automatic": schedule.automatic
            })),
        )?;
        Ok(schedule.clone())
    })
}

// -------------------------------------------------------------------------------------------------- content

pub fn parse_period(raw: &str) -> Result<Period, ServiceError> {
    Period::parse(raw).map_err(|m| ServiceError::invalid("period", m))
}

fn day_start(d: NaiveDate) -> NaiveDateTime {
    d.and_hms_opt(0, 0, 0).unwrap_or_default()
}

/// What a report for `period` says, computed now from the ledger, funding, metrics and surveys, and each
/// organization's own section.
/// Whose own sections [`build`] writes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Organizations {
    /// Every active or lapsed organization's (generation freezes them all).
    All,
    /// One organization's (a live preview for one reader).
    Only(i64),
    /// Nobody's (a live page for the treasurer, council or admins).
    NoOne,
}

pub fn build(
    conn: &mut DbConn,
    period: &Period,
    sections: &[Section],
    foundation: &str,
    whose: Organizations,
) -> Result<(ReportContent, Vec<PersonalSection>), ServiceError> {
    let (start, end) = (period.starts_on(), period.ends_on());
    let has = |s: Section| sections.contains(&s);
    let currency = crate::ledger::service::base_currency(conn)?;
    let year = crate::ledger::service::year_of(conn, end)?;
    let money = if has(Section::Money) {
        let (period_in, out) = crate::ledger::service::totals_between(conn, start, end)?;
        let period_out = -out;
        let (year_label, year_starts_on) = match &year {
            Some(y) => (y.label.clone(), y.starts_on),
            None => (end.format("%Y").to_string(), NaiveDate::from_yo_opt(period.year, 1).unwrap_or(start)),
        };
        let (year_in, out) = crate::ledger::service::totals_between(conn, year_starts_on, end)?;
        Some(MoneySection { period_in, period_out, year_label, year_starts_on, year_in, year_out: -out })
    } else {
        None
    };
    let budgets = match (&year, has(Section::Budgets)) {
        (Some(y), true) => Some(BudgetSection {
            year_label: y.label.clone(),
            lines: crate::funding::service::budget_overview(conn, y.id)?
                .into_iter()
                .filter(|b| b.budget.is_some())
                .map(|b| BudgetLine {
                    priority_id: b.priority.id,
                    priority: b.priority.title.clone(),
                    budget_minor: b.budget_minor,
                    allocated_minor: b.allocated_minor,
                    spent_minor: b.spent_minor,
                })
                .collect(),
        }),
        (None, true) => Some(BudgetSection { year_label: String::new(), lines: Vec::new() }),
        _ => None,
    };
    let metric_lines =
        if has(Section::Metrics) || has(Section::Initiatives) { metric_lines(conn, period)? } else { Vec::new() };
    let initiatives =
        if has(Section::Initiatives) { Some(initiative_section(conn, period, &metric_lines)?) } else { None };
    let survey = if has(Section::Survey) { Some(survey_section(conn, period)?) } else { None };
    let personal = if has(Section::Personal) && whose != Organizations::NoOne {
        personal_sections(conn, period, year.as_ref().map(|y| y.id), survey.as_ref(), whose)?
    } else {
        Vec::new()
    };
    let content = ReportContent {
        foundation: foundation.to_string(),
        period: period.code(),
        label: period.label(),
        starts_on: start,
        ends_on: end,
        currency,
        money,
        budgets,
        initiatives,
        metrics: has(Section::Metrics)
            .then(|| metric_lines.into_iter().filter(|(key, _)| *key).map(|(_, m)| m).collect()),
        survey,
        personal: has(Section::Personal),
    };
    Ok((content, personal))
}

/// Every metric as it stood at the period's end, flagged whether it is a key outcome's (when no metric is
/// linked to a key outcome, all count as key).
fn metric_lines(conn: &mut DbConn, period: &Period) -> Result<Vec<(bool, MetricLine)>, ServiceError> {
    use crate::metrics::service::{list_metrics, MetricFilter};
    let (start, end) = (period.starts_on(), period.ends_on());
    let all = list_metrics(conn, &MetricFilter { as_of: Some(end), ..Default::default() })?;
    let any_key = all.iter().any(|m| m.metric.key_outcome_id.is_some());
    Ok(all
        .into_iter()
        .map(|m| {
            let value_on = |date: NaiveDate| {
                m.points
                    .iter()
                    .filter(|(d, _)| *d <= date)
                    .max_by_key(|(d, _)| *d)
                    .map(|(_, v)| *v)
                    .or((date >= m.metric.baseline_on).then_some(m.metric.baseline_milli))
            };
            let line = MetricLine {
                metric_id: m.metric.id,
                name: m.metric.name.clone(),
                unit: m.metric.unit.clone(),
                start_milli: start.pred_opt().and_then(value_on),
                end_milli: value_on(end),
                target_milli: m.metric.target_milli,
                target_on: m.metric.target_on,
                percent_to_target: m.progress.percent_to_target,
                status: serde_json::to_value(m.progress.status)
                    .ok()
                    .and_then(|v| v.as_str().map(str::to_string))
                    .unwrap_or_default(),
                status_label: m.progress.status.label().to_string(),
                higher_is_better: m.metric.higher_is_better(),
            };
            (!any_key || m.metric.key_outcome_id.is_some(), line)
        })
        .collect())
}

/// Initiatives started and completed in the period (by their dates, else their steps), and active ones at
/// risk at its end: past their planned end, or with a linked metric at risk or off track.
fn initiative_section(
    conn: &mut DbConn,
    period: &Period,
    metrics: &[(bool, MetricLine)],
) -> Result<InitiativeSection, ServiceError> {
    use crate::db::schema::funding_priorities;
    let (start, end) = (period.starts_on(), period.ends_on());
    let rows: Vec<(crate::funding::model::Initiative, String)> = initiatives::table
        .inner_join(funding_priorities::table)
        .filter(initiatives::status.eq_any(["active", "completed"]))
        .order((funding_priorities::position, initiatives::title))
        .select((crate::funding::model::Initiative::as_select(), funding_priorities::title))
        .load(conn)?;
    let steps: Vec<(i64, String, NaiveDateTime)> = initiative_steps::table
        .filter(initiative_steps::to_status.eq_any(["active", "completed"]))
        .select((initiative_steps::initiative_id, initiative_steps::to_status, initiative_steps::changed_at))
        .load(conn)?;
    let (from, until) = (day_start(start), day_start(end + chrono::Duration::days(1)));
    let stepped = |id: i64, to: &str| steps.iter().filter(|s| s.0 == id && s.1 == to).map(|s| s.2).collect::<Vec<_>>();
    let in_period = |d: Option<NaiveDate>| d.is_some_and(|d| d >= start && d <= end);
    let links = crate::metrics::service::initiative_links(conn)?;
    let mut section = InitiativeSection::default();
    for (initiative, priority) in rows {
        let line = |note: String| InitiativeLine {
            initiative_id: initiative.id,
            title: initiative.title.clone(),
            priority_id: initiative.priority_id,
            priority: priority.clone(),
            note,
        };
        // The dates entered on the initiative come first; without one, the day its status changed counts.
        let started = match initiative.starts_on {
            Some(_) => in_period(initiative.starts_on),
            None => stepped(initiative.id, "active").iter().any(|t| *t >= from && *t < until),
        };
        if started {
            section.started.push(line(String::new()));
        }
        if initiative.status == "completed" {
            let done = match initiative.ends_on {
                Some(_) => in_period(initiative.ends_on),
                None => stepped(initiative.id, "completed").iter().any(|t| *t >= from && *t < until),
            };
            if done {
                section.completed.push(line(String::new()));
            }
            continue;
        }
        let mut reasons = Vec::new();
        if initiative.ends_on.is_some_and(|d| d < end) {
            reasons.push(format!("past its planned end ({})", initiative.ends_on.unwrap_or(end)));
        }
        for (metric_id, _) in links.iter().filter(|(_, i)| *i == initiative.id) {
            if let Some((_, m)) = metrics.iter().find(|(_, m)| m.metric_id == *metric_id) {
                if matches!(m.status.as_str(), "at_risk" | "off_track") {
                    reasons.push(format!("{} is {}", m.name, m.status_label));
                }
            }
        }
        if !reasons.is_empty() {
            section.at_risk.push(line(reasons.join("; ")));
        }
    }
    Ok(section)
}

/// The latest survey closed by the period's end, with a few headline numbers, and the feedback the council
/// answered in the period and marked quotable.
fn survey_section(conn: &mut DbConn, period: &Period) -> Result<SurveySection, ServiceError> {
    let (start, end) = (period.starts_on(), period.ends_on());
    let latest: Option<i64> = surveys::table
        .filter(surveys::status.eq("closed"))
        .filter(surveys::closes_at.lt(day_start(end + chrono::Duration::days(1))))
        .order(surveys::closes_at.desc())
        .select(surveys::id)
        .first(conn)
        .optional()?;
    let survey = match latest {
        Some(id) => {
            let r = crate::surveys::service::results(conn, id)?;
            let mut headlines = Vec::new();
            for q in &r.questions {
                let value = if let Some(score) = q.nps.as_ref().and_then(|n| n.score) {
                    Some(format!("NPS {score:.0}"))
                } else if let Some(first) = q
                    .ranking
                    .iter()
                    .min_by(|a, b| a.mean_rank.unwrap_or(f64::MAX).total_cmp(&b.mean_rank.unwrap_or(f64::MAX)))
                {
                    first.mean_rank.map(|_| format!("ranked first: {}", first.option))
                } else if q.question.kind == "likert" {
                    q.summary.as_ref().and_then(|s| s.mean).map(|m| format!("{m:.1} of {}", q.question.labels().len()))
                } else {
                    None
                };
                if let Some(v) = value {
                    headlines.push((q.question.prompt.clone(), v));
                }
                if headlines.len() == 4 {
                    break;
                }
            }
            Some(SurveyHeadline {
                survey_id: r.survey.id,
                title: r.survey.title.clone(),
                cycle: r.survey.cycle.clone(),
                closed_on: r.survey.closes_at.date(),
                invited: r.invited,
                answered: r.answered,
                response_rate: r.response_rate.map(|x| (x * 10.0).round() / 10.0),
                headlines,
            })
        }
        None => None,
    };
    let feedback = crate::feedback::service::quotable(conn, day_start(start))?
        .into_iter()
        .filter(|f| f.answered_at.is_some_and(|t| t < day_start(end + chrono::Duration::days(1))))
        .map(|f| FeedbackLine { subject: f.subject, status: f.status, answer: f.answer })
        .collect();
    Ok(SurveySection { survey, feedback })
}

/// Each active or lapsed organization's own section.
fn personal_sections(
    conn: &mut DbConn,
    period: &Period,
    year_id: Option<i64>,
    survey: Option<&SurveySection>,
    whose: Organizations,
) -> Result<Vec<PersonalSection>, ServiceError> {
    let end = period.ends_on();
    let mut q = members::table
        .left_join(membership_tiers::table)
        .filter(members::status.eq_any(["active", "lapsed"]))
        .into_boxed();
    let mut bills_q = invoices::table.into_boxed();
    if let Organizations::Only(id) = whose {
        q = q.filter(members::id.eq(id));
        bills_q = bills_q.filter(invoices::member_id.eq(id));
    }
    let orgs: Vec<(crate::members::model::Member, Option<(String, String)>)> = q
        .order(members::name)
        .select((
            crate::members::model::Member::as_select(),
            (membership_tiers::name, membership_tiers::benefits).nullable(),
        ))
        .load(conn)?;
    let bills: Vec<crate::dues::model::Invoice> = match year_id {
        Some(y) => bills_q
            .filter(invoices::fiscal_year_id.eq(y))
            .filter(invoices::status.ne("void"))
            .order(invoices::number)
            .select(crate::dues::model::Invoice::as_select())
            .load(conn)?,
        None => Vec::new(),
    };
    let survey_head = survey.and_then(|s| s.survey.as_ref());
    let answered: HashSet<i64> = match survey_head {
        Some(s) => {
            let mut set: HashSet<i64> = survey_organization_answers::table
                .filter(survey_organization_answers::survey_id.eq(s.survey_id))
                .select(survey_organization_answers::member_id)
                .load::<i64>(conn)?
                .into_iter()
                .collect();
            let used: Vec<Option<i64>> = survey_invitations::table
                .filter(survey_invitations::survey_id.eq(s.survey_id))
                .filter(survey_invitations::used.eq(true))
                .select(survey_invitations::member_id)
                .load(conn)?;
            set.extend(used.into_iter().flatten());
            set
        }
        None => HashSet::new(),
    };
    let mut by_member: HashMap<i64, Vec<&crate::dues::model::Invoice>> = HashMap::new();
    for bill in &bills {
        by_member.entry(bill.member_id).or_default().push(bill);
    }
    Ok(orgs
        .into_iter()
        .map(|(member, tier)| {
            let mine = by_member.remove(&member.id).unwrap_or_default();
            let currency = mine.first().map(|i| i.currency.clone()).unwrap_or_default();
            let open: i64 = mine.iter().map(|i| i.open_minor()).sum();
            PersonalSection {
                member_id: member.id,
                organization: member.name.clone(),
                status: member.status.clone(),
                tier: tier.as_ref().map(|t| t.0.clone()),
                benefits: tier.map(|t| t.1).unwrap_or_default(),
                renews_on: member.renews_on,
                invoices: mine
                    .iter()
                    .map(|i| InvoiceLine {
                        label: i.label(),
                        amount: crate::money::format(i.amount_minor, &i.currency),
                        open: crate::money::format(i.open_minor(), &i.currency),
                        due_on: i.due_on,
                        status: if i.open_minor() == 0 {
                            "paid".into()
                        } else if i.due_on < end {
                            "overdue".into()
                        } else {
                            "open".into()
                        },
                    })
                    .collect(),
                open_total: if currency.is_empty() { String::new() } else { crate::money::format(open, &currency) },
                has_open: open > 0,
                survey: survey_head.map(|s| (s.title.clone(), answered.contains(&member.id))),
            }
        })
        .collect())
}

// -------------------------------------------------------------------------------------------------- rows

fn find_row(conn: &mut DbConn, code: &str) -> Result<Option<Report>, ServiceError> {
    Ok(reports::table.filter(reports::period.eq(code)).select(Report::as_select()).first(conn).optional()?)
}

/// The report's row, made if it is not there yet (also when another instance makes it at the same moment),
/// and held for the rest of the caller's transaction.
fn hold_row(conn: &mut DbConn, period: &Period) -> Result<Report, ServiceError> {
    let now = db::now();
    let code = period.code();
    crate::on_backend!(conn, |c| diesel::insert_into(reports::table)
        .values((
            reports::period.eq(&code),
            reports::starts_on.eq(period.starts_on()),
            reports::ends_on.eq(period.ends_on()),
            reports::created_at.eq(now),
            reports::updated_at.eq(now),
        ))
        .on_conflict(reports::period)
        .do_nothing()
        .execute(c))?;
    diesel::update(reports::table.filter(reports::period.eq(&code))).set(reports::updated_at.eq(now)).execute(conn)?;
    find_row(conn, &code)?.ok_or(ServiceError::NotFound("report"))
}

fn content_of(report: &Report) -> Result<Option<ReportContent>, ServiceError> {
    report
        .content
        .as_deref()
        .map(|c| {
            serde_json::from_str(c)
                .map_err(|e| ServiceError::Internal(format!("report {} content: {e}", report.period)))
        })
        .transpose()
}

fn personal_of(conn: &mut DbConn, report_id: i64, member_id: i64) -> Result<Option<PersonalSection>, ServiceError> {
    let raw: Option<String> =
        report_members::table.find((report_id, member_id)).select(report_members::content).first(conn).optional()?;
    raw.map(|r| serde_json::from_str(&r).map_err(|e| ServiceError::Internal(format!("personal section: {e}"))))
        .transpose()
}

/// The account behind an action, when a person took it.
fn person(actor: &Actor) -> Option<i64> {
    match actor {
        Actor::User(id) => Some(*id),
        _ => None,
    }
}

/// What generating did.
#[derive(Clone, Debug)]
pub struct Generated {
    pub report: Report,
    /// False when it had been generated before (nothing changed).
    pub created: bool,
}

/// Generates the report of an ended period: computes its content and freezes it, with every organization's
/// own section, in one transaction. A report generated before is left as it is.
pub fn generate(
    conn: &mut DbConn,
    actor: Actor,
    period: &Period,
    today: NaiveDate,
    foundation: &str,
) -> Result<Generated, ServiceError> {
    if period.ends_on() >= today {
        return Err(ServiceError::invalid(
            "period",
            format!(
                "{} ends on {}; its report can be generated from {} on.",
                period.code(),
                period.ends_on(),
                period.ends_on() + chrono::Duration::days(1)
            ),
        ));
    }
    // Generated before (the scheduler asks every 15 minutes): nothing to write.
    if let Some(report) = find_row(conn, &period.code())?.filter(|r| r.content.is_some()) {
        return Ok(Generated { report, created: false });
    }
    let schedule = schedule(conn)?;
    db::write_transaction(conn, |conn| {
        let report = hold_row(conn, period)?;
        if report.content.is_some() {
            return Ok(Generated { report, created: false });
        }
        let (content, personal) = build(conn, period, &schedule.sections, foundation, Organizations::All)?;
        let json = serde_json::to_string(&content).map_err(|e| ServiceError::Internal(e.to_string()))?;
        let now = db::now();
        let by = person(&actor);
        diesel::update(reports::table.find(report.id))
            .set((
                reports::content.eq(Some(json)),
                reports::generated_at.eq(Some(now)),
                reports::generated_by.eq(by),
                reports::updated_at.eq(now),
            ))
            .execute(conn)?;
        let rows: Vec<(i64, String)> = personal
            .iter()
            .map(|p| Ok((p.member_id, serde_json::to_string(p).map_err(|e| ServiceError::Internal(e.to_string()))?)))
            .collect::<Result<_, ServiceError>>()?;
        for chunk in rows.chunks(500) {
            let values: Vec<_> = chunk
                .iter()
                .map(|(member, text)| {
                    (
                        report_members::report_id.eq(report.id),
                        report_members::member_id.eq(*member),
                        report_members::content.eq(text),
                    )
                })
                .collect();
            crate::on_backend!(conn, |c| diesel::insert_into(report_members::table).values(&values).execute(c))?;
        }
        audit::record(
            conn,
            Event::new(actor, "report.generated")
                .target("report", report.id)
                .details(json!({ "period": report.period, "organizations": rows.len() })),
        )?;
        let report = find_row(conn, &period.code())?.ok_or(ServiceError::NotFound("report"))?;
        Ok(Generated { report, created: true })
    })
}

/// The foreword and the "what we changed because of your feedback" text, until the report is sent.
pub fn set_words(
    conn: &mut DbConn,
    actor: i64,
    period: &Period,
    foreword: &str,
    changes: &str,
) -> Result<Report, ServiceError> {
    let mut errors = Vec::new();
    for (field, text) in [("foreword", foreword), ("changes", changes)] {
        if text.chars().count() > MAX_WORDS {
            errors.push(FieldError::new(field, format!("Keep it under {MAX_WORDS} characters.")));
        }
    }
    if !errors.is_empty() {
        return Err(ServiceError::Validation(errors));
    }
    db::write_transaction(conn, |conn| {
        let report = hold_row(conn, period)?;
        if report.sent_at.is_some() {
            return Err(ServiceError::Conflict("This report has been sent; what it says can no longer change.".into()));
        }
        diesel::update(reports::table.find(report.id))
            .set((
                reports::foreword.eq(foreword.trim()),
                reports::changes.eq(changes.trim()),
                reports::updated_at.eq(db::now()),
            ))
            .execute(conn)?;
        audit::record(conn, Event::new(Actor::User(actor), "report.words_changed").target("report", report.id))?;
        find_row(conn, &report.period)?.ok_or(ServiceError::NotFound("report"))
    })
}

/// Shows a sent report on the transparency page (or takes it off).
pub fn set_published(conn: &mut DbConn, actor: i64, code: &str, published: bool) -> Result<(), ServiceError> {
    db::write_transaction(conn, |conn| {
        let report = find_row(conn, code)?.ok_or(ServiceError::NotFound("report"))?;
        if published && report.sent_at.is_none() {
            return Err(ServiceError::Conflict(format!(
                "{code} has not been sent yet; only sent reports are published."
            )));
        }
        diesel::update(reports::table.find(report.id))
            .set((reports::published.eq(published), reports::updated_at.eq(db::now())))
            .execute(conn)?;
        audit::record(
            conn,
            Event::new(Actor::User(actor), "report.published")
                .target("report", report.id)
                .details(json!({ "published": published })),
        )
    })
}

// -------------------------------------------------------------------------------------------------- recipients

/// A representative a report can go to.
#[derive(Clone, Debug, Serialize, ToSchema)]
pub struct Recipient {
    pub user_id: i64,
    pub email: String,
    pub name: String,
    pub member_id: i64,
    pub organization: String,
    /// Whether they take report emails.
    pub subscribed: bool,
}

/// Every active representative of an active or lapsed organization, with whether they take report emails.
pub fn recipients(conn: &mut DbConn) -> Result<Vec<Recipient>, ServiceError> {
    let reps: Vec<i64> = user_roles::table
        .filter(user_roles::role.eq(Role::MemberRep.as_str()))
        .select(user_roles::user_id)
        .load(conn)?;
    let rows: Vec<(i64, String, String, i64, String)> = users::table
        .inner_join(members::table)
        .filter(users::status.eq("active"))
        .filter(members::status.eq_any(["active", "lapsed"]))
        .filter(users::id.eq_any(&reps))
        .order((members::name, users::id))
        .select((users::id, users::email, users::display_name, members::id, members::name))
        .load(conn)?;
    let ids: Vec<i64> = rows.iter().map(|r| r.0).collect();
    let choices = mail::preferences::for_users(conn, &ids)?;
    Ok(rows
        .into_iter()
        .map(|(user_id, email, name, member_id, organization)| Recipient {
            subscribed: choices.get(&user_id).copied().unwrap_or_default().wants(Category::Reports),
            user_id,
            email,
            name,
            member_id,
            organization,
        })
        .collect())
}

// -------------------------------------------------------------------------------------------------- showing

/// A report as pages and emails show it.
#[derive(Clone, Debug, Serialize, ToSchema)]
pub struct ReportView {
    pub content: ReportContent,
    pub foreword: String,
    pub changes: String,
    /// The reader's organization's section, when there is a reader and the report has one.
    pub personal: Option<PersonalSection>,
    /// True when the content is computed now, not frozen (a period not generated yet).
    pub live: bool,
}

impl ReportView {
    pub fn money(&self, minor: impl std::borrow::Borrow<i64>) -> String {
        crate::money::format(*minor.borrow(), &self.content.currency)
    }

    pub fn foreword_paragraphs(&self) -> Vec<&str> {
        paragraphs(&self.foreword)
    }

    pub fn changes_paragraphs(&self) -> Vec<&str> {
        paragraphs(&self.changes)
    }
}

fn paragraphs(text: &str) -> Vec<&str> {
    text.split("\n\n").map(str::trim).filter(|p| !p.is_empty()).collect()
}

pub fn is_staff(viewer: &Identity) -> bool {
    viewer.has_any(&[Role::Treasurer, Role::Council, Role::Admin])
}

/// A report page: the row (none for a period nobody has touched) and what it says.
#[derive(Clone, Debug)]
pub struct ReportPage {
    pub period: String,
    pub report: Option<Report>,
    pub view: ReportView,
    /// Whether the reader received it by email (representatives).
    pub has_email: bool,
}

/// A report for `viewer`. Representatives see sent reports only, with their own organization's section; the
/// treasurer, council and admins see every report, and a live draft for a period not generated yet.
pub fn show(conn: &mut DbConn, viewer: &Identity, code: &str, foundation: &str) -> Result<ReportPage, ServiceError> {
    let period = Period::parse(code).map_err(|_| ServiceError::NotFound("report"))?;
    let report = find_row(conn, &period.code())?;
    let staff = is_staff(viewer);
    if !staff && report.as_ref().is_none_or(|r| r.sent_at.is_none()) {
        return Err(ServiceError::NotFound("report"));
    }
    // A period that has not begun has nothing to say yet.
    if report.is_none() && period.starts_on() > db::now().date() {
        return Err(ServiceError::NotFound("report"));
    }
    let reader = viewer.member_id.filter(|_| viewer.has_role(Role::MemberRep));
    let view = view_for(conn, &period, report.as_ref(), reader, foundation)?;
    let has_email = email_copy(conn, &period.code(), viewer.user_id)?.is_some();
    Ok(ReportPage { period: period.code(), report, view, has_email })
}

/// The frozen content of a generated report (or live content otherwise), with `member_id`'s section.
fn view_for(
    conn: &mut DbConn,
    period: &Period,
    report: Option<&Report>,
    member_id: Option<i64>,
    foundation: &str,
) -> Result<ReportView, ServiceError> {
    let (foreword, changes) = report.map(|r| (r.foreword.clone(), r.changes.clone())).unwrap_or_default();
    match report.map(content_of).transpose()?.flatten() {
        Some(content) => {
            let personal = match (member_id, report, content.personal) {
                (Some(m), Some(r), true) => personal_of(conn, r.id, m)?,
                _ => None,
            };
            Ok(ReportView { content, foreword, changes, personal, live: false })
        }
        None => {
            let sections = schedule(conn)?.sections;
            let whose = member_id.map(Organizations::Only).unwrap_or(Organizations::NoOne);
            let (content, personal) = build(conn, period, &sections, foundation, whose)?;
            let personal = member_id.and_then(|m| personal.into_iter().find(|p| p.member_id == m));
            Ok(ReportView { content, foreword, changes, personal, live: true })
        }
    }
}

/// The email as it was queued for `user_id`: (subject, text, HTML).
pub fn email_copy(
    conn: &mut DbConn,
    code: &str,
    user_id: i64,
) -> Result<Option<(String, String, String)>, ServiceError> {
    Ok(outbox::table
        .filter(outbox::idempotency_key.eq(idempotency_key(code, user_id)))
        .select((outbox::subject, outbox::body_text, outbox::body_html))
        .first(conn)
        .optional()?)
}

fn idempotency_key(code: &str, user_id: i64) -> String {
    format!("report:{code}:user:{user_id}")
}

/// A report in the archive list.
#[derive(Clone, Debug, Serialize, ToSchema)]
pub struct ReportRow {
    pub period: String,
    pub label: String,
    /// `upcoming`, `generated` or `sent`.
    pub status: String,
    pub generated_at: Option<NaiveDateTime>,
    pub sent_at: Option<NaiveDateTime>,
    pub recipients: i32,
    pub published: bool,
}

impl ReportRow {
    /// A report's row, or an untouched period's (upcoming, nothing sent).
    fn of(period: &Period, report: Option<&Report>) -> ReportRow {
        ReportRow {
            period: period.code(),
            label: period.label(),
            status: report.map(|r| r.status()).unwrap_or("upcoming").to_string(),
            generated_at: report.and_then(|r| r.generated_at),
            sent_at: report.and_then(|r| r.sent_at),
            recipients: report.map(|r| r.recipients).unwrap_or(0),
            published: report.is_some_and(|r| r.published),
        }
    }
}

/// Reports newest first: sent ones for representatives; for the others every report and the period in
/// progress.
pub fn list(conn: &mut DbConn, viewer: &Identity, today: NaiveDate) -> Result<Vec<ReportRow>, ServiceError> {
    let rows: Vec<Report> = reports::table.order(reports::ends_on.desc()).select(Report::as_select()).load(conn)?;
    let staff = is_staff(viewer);
    let mut out: Vec<ReportRow> = rows
        .into_iter()
        .filter(|r| staff || r.sent_at.is_some())
        .filter_map(|r| Period::parse(&r.period).ok().map(|p| ReportRow::of(&p, Some(&r))))
        .collect();
    if staff {
        let next = schedule(conn)?.next_period(today);
        if !out.iter().any(|r| r.period == next.code()) {
            out.insert(0, ReportRow::of(&next, None));
        }
    }
    Ok(out)
}

/// A report and where it stands, for the API.
#[derive(Clone, Debug, Serialize, ToSchema)]
pub struct ReportDocument {
    pub report: ReportRow,
    pub foreword: String,
    pub changes: String,
    pub content: ReportContent,
    pub personal: Option<PersonalSection>,
    /// True when `content` is computed now (not generated yet), not frozen.
    pub live: bool,
}

pub fn document(
    conn: &mut DbConn,
    viewer: &Identity,
    code: &str,
    foundation: &str,
) -> Result<ReportDocument, ServiceError> {
    let page = show(conn, viewer, code, foundation)?;
    let period = parse_period(&page.period)?;
    Ok(ReportDocument {
        report: ReportRow::of(&period, page.report.as_ref()),
        foreword: page.view.foreword,
        changes: page.view.changes,
        content: page.view.content,
        personal: page.view.personal,
        live: page.view.live,
    })
}

// -------------------------------------------------------------------------------------------------- email

/// The report email.
pub struct ReportEmail {
    pub name: String,
    pub view: ReportView,
    /// The report's page in the archive.
    pub link: String,
}
crate::email_templates!(ReportEmail, "email/report/subject.txt", "email/report/body.txt", "email/report/body.html");

fn render_for(
    recipient: &Recipient,
    view: ReportView,
    code: &str,
    mail: &MailSettings,
) -> Result<Rendered, ServiceError> {
    let context = EmailContext {
        site_name: mail.site_name.clone(),
        base_url: mail.base_url.clone(),
        unsubscribe_url: Some(mail::unsubscribe_url(&mail.key, &mail.base_url, recipient.user_id, Category::Reports)),
    };
    ReportEmail { name: recipient.name.clone(), view, link: format!("{}/reports/{code}", mail.base_url) }
        .render(&context)
        .map_err(|e| ServiceError::Internal(format!("report email: {e}")))
}

/// The exact email `user_id` would get (or got) for a period: frozen content once generated, live before.
pub fn preview(
    conn: &mut DbConn,
    code: &str,
    user_id: i64,
    mail: &MailSettings,
) -> Result<(Recipient, Rendered), ServiceError> {
    let period = parse_period(code)?;
    let recipient =
        recipients(conn)?.into_iter().find(|r| r.user_id == user_id).ok_or(ServiceError::NotFound("recipient"))?;
    if let Some(sent) = email_copy(conn, &period.code(), user_id)? {
        return Ok((recipient, Rendered { subject: sent.0, text: sent.1, html: sent.2 }));
    }
    let report = find_row(conn, &period.code())?;
    let view = view_for(conn, &period, report.as_ref(), Some(recipient.member_id), &mail.site_name)?;
    let rendered = render_for(&recipient, view, &period.code(), mail)?;
    Ok((recipient, rendered))
}

/// What the send confirmation says: who gets it, and whether it went before.
#[derive(Clone, Debug)]
pub struct SendPlan {
    pub period: String,
    pub label: String,
    pub subscribed: usize,
    pub unsubscribed: usize,
    pub already_sent: bool,
}

pub fn send_plan(conn: &mut DbConn, code: &str) -> Result<SendPlan, ServiceError> {
    let period = Period::parse(code).map_err(|_| ServiceError::NotFound("report"))?;
    let report = find_row(conn, &period.code())?;
    if report.is_none() && period.starts_on() > db::now().date() {
        return Err(ServiceError::NotFound("report"));
    }
    let recipients = recipients(conn)?;
    let subscribed = recipients.iter().filter(|r| r.subscribed).count();
    Ok(SendPlan {
        period: period.code(),
        label: period.label(),
        subscribed,
        unsubscribed: recipients.len() - subscribed,
        already_sent: report.is_some_and(|r| r.sent_at.is_some()),
    })
}

/// What sending did.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, ToSchema)]
pub struct SendRun {
    /// Emails queued now.
    pub queued: usize,
    /// Subscribed representatives who had it queued already.
    pub already: usize,
    /// Representatives who turned report emails off.
    pub unsubscribed: usize,
}

/// Queues a generated report for every subscribed representative, once each, in one transaction.
pub fn send(conn: &mut DbConn, actor: Actor, code: &str, mail: &MailSettings) -> Result<SendRun, ServiceError> {
    let period = parse_period(code)?;
    db::write_transaction(conn, |conn| {
        // Held for the transaction: a second sender waits here, then finds every email queued.
        let held = diesel::update(reports::table.filter(reports::period.eq(period.code())))
            .set(reports::updated_at.eq(db::now()))
            .execute(conn)?;
        let report = match (held, find_row(conn, &period.code())?) {
            (1, Some(report)) => report,
            _ => return Err(ServiceError::NotFound("report")),
        };
        let Some(content) = content_of(&report)? else {
            return Err(ServiceError::Conflict(format!(
                "{} has not been generated yet; generate it first.",
                report.period
            )));
        };
        let frozen: HashMap<i64, PersonalSection> = report_members::table
            .filter(report_members::report_id.eq(report.id))
            .select((report_members::member_id, report_members::content))
            .load::<(i64, String)>(conn)?
            .into_iter()
            .filter_map(|(m, text)| serde_json::from_str(&text).ok().map(|p| (m, p)))
            .collect();
        let mut run = SendRun::default();
        for recipient in recipients(conn)? {
            if !recipient.subscribed {
                run.unsubscribed += 1;
                continue;
            }
            let key = idempotency_key(&report.period, recipient.user_id);
            let view = ReportView {
                content: content.clone(),
                foreword: report.foreword.clone(),
                changes: report.changes.clone(),
                personal: if content.personal { frozen.get(&recipient.member_id).cloned() } else { None },
                live: false,
            };
            let rendered = render_for(&recipient, view, &report.period, mail)?;
            let queued = mail::enqueue(
                conn,
                &Outgoing {
                    idempotency_key: key,
                    category: Category::Reports,
                    user_id: Some(recipient.user_id),
                    to_address: recipient.email.clone(),
                    to_name: Some(recipient.name.clone()),
                    content: rendered,
                },
            )?;
            if queued {
                run.queued += 1;
            } else {
                run.already += 1;
            }
        }
        let now = db::now();
        let by = person(&actor);
        diesel::update(reports::table.find(report.id))
            .set((
                reports::sent_at.eq(Some(report.sent_at.unwrap_or(now))),
                reports::sent_by.eq(report.sent_by.or(by)),
                reports::recipients.eq(report.recipients + run.queued as i32),
                reports::updated_at.eq(now),
            ))
            .execute(conn)?;
        audit::record(
            conn,
            Event::new(actor, "report.sent")
                .target("report", report.id)
                .details(json!({ "period": report.period, "queued": run.queued, "already": run.already })),
        )?;
        Ok(run)
    })
}

// -------------------------------------------------------------------------------------------------- scheduler

/// What a scheduler run did.
#[derive(Clone, Debug, Default)]
pub struct ReportRun {
    /// The period generated in this run, if one was.
    pub generated: Option<String>,
    pub sent: SendRun,
}

/// The scheduler's part: generate the latest ended period's report if it is not yet, and, when sending is
/// automatic, send it from its send day on (for [`CATCH_UP_DAYS`]).
pub fn run_schedule(conn: &mut DbConn, today: NaiveDate, mail: &MailSettings) -> Result<ReportRun, ServiceError> {
    let s = schedule(conn)?;
    let period = Period::last_ended(s.frequency, today);
    let generated = generate(conn, Actor::System, &period, today, &mail.site_name)?;
    let mut run = ReportRun { generated: generated.created.then(|| period.code()), ..Default::default() };
    let send_on = period.send_on(s.send_day);
    let in_window = today >= send_on && (today - send_on).num_days() <= CATCH_UP_DAYS;
    if s.automatic && in_window && generated.report.sent_at.is_none() {
        run.sent = send(conn, Actor::System, &period.code(), mail)?;
    }
    Ok(run)
}
