//! Rules and transactions for funding priorities.

use chrono::NaiveDate;
use diesel::prelude::*;
use serde::Serialize;
use serde_json::json;
use utoipa::ToSchema;
use validator::Validate;

use super::model::{
    Allocation, Budget, BudgetLine, FundingPriority, Initiative, InitiativeStep, KeyOutcome, NewFundingPriority,
    NewKeyOutcome, PriorityWithOutcomes,
};
use crate::accounts::{Identity, Role};
use crate::audit::{self, Actor, Changes, Event};
use crate::db::schema::{
    allocations, budget_lines, budgets, disbursements, fiscal_years, funding_priorities, initiative_steps, initiatives,
    key_outcomes, ledger_entries, users,
};
use crate::db::{self, DbConn};
use crate::domain::{self, FieldError, ServiceError};
use crate::ledger::model::FiscalYear;

/// A new priority as entered.
#[derive(Debug, Clone, Validate)]
pub struct PriorityInput {
    #[validate(
        custom(function = "crate::domain::visible_text"),
        length(min = 1, max = 200, message = "Give a title of 1 to 200 characters.")
    )]
    pub title: String,
    #[validate(length(min = 1, max = 80, message = "Give a short name of 1 to 80 characters."))]
    pub slug: String,
    #[validate(length(max = 4000, message = "Keep the summary under 4,000 characters."))]
    pub summary: String,
    pub outcomes: Vec<String>,
}

/// Active priorities in their order, each with its key outcomes (two queries, whatever the count).
pub fn list_priorities(conn: &mut DbConn) -> Result<Vec<PriorityWithOutcomes>, ServiceError> {
    let priorities: Vec<FundingPriority> = funding_priorities::table
        .filter(funding_priorities::active.eq(true))
        .order((funding_priorities::position, funding_priorities::id))
        .select(FundingPriority::as_select())
        .load(conn)?;
    let outcomes: Vec<KeyOutcome> = KeyOutcome::belonging_to(&priorities)
        .order((key_outcomes::position, key_outcomes::id))
        .select(KeyOutcome::as_select())
        .load(conn)?;
    Ok(outcomes
        .grouped_by(&priorities)
        .into_iter()
        .zip(priorities)
        .map(|(outcomes, priority)| PriorityWithOutcomes { priority, outcomes })
        .collect())
}

/// Adds a priority after the existing ones, with its outcomes, in one transaction.
pub fn create_priority(
    conn: &mut DbConn,
    actor: Actor,
    input: &PriorityInput,
) -> Result<FundingPriority, ServiceError> {
    domain::check(input)?;
    if !input.slug.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-') {
        return Err(ServiceError::invalid("slug", "Use lower-case letters, digits and hyphens only."));
    }
    if let Some(bad) = input.outcomes.iter().position(|o| o.trim().is_empty() || o.len() > 500) {
        return Err(ServiceError::invalid("outcomes", format!("Outcome {} needs 1 to 500 characters.", bad + 1)));
    }
    db::write_transaction(conn, |conn| {
        let taken: i64 =
            funding_priorities::table.filter(funding_priorities::slug.eq(&input.slug)).count().get_result(conn)?;
        if taken > 0 {
            return Err(ServiceError::invalid(
                "slug",
                format!("A priority with the short name '{}' exists.", input.slug),
            ));
        }
        let next_position: Option<i32> =
            funding_priorities::table.select(diesel::dsl::max(funding_priorities::position)).first(conn)?;
        let now = db::now();
        let new = NewFundingPriority {
            slug: &input.slug,
            title: input.title.trim(),
            summary: input.summary.trim(),
            position: next_position.unwrap_or(0) + 1,
            active: true,
            created_at: now,
            updated_at: now,
        };
        let priority: FundingPriority = crate::on_backend!(conn, |c| diesel::insert_into(funding_priorities::table)
            .values(&new)
            .returning(FundingPriority::as_returning())
            .get_result(c))?;
        let rows: Vec<NewKeyOutcome> = input
            .outcomes
            .iter()
            .enumerate()
            .map(|(i, d)| NewKeyOutcome { priority_id: priority.id, description: d.trim(), position: i as i32 + 1 })
            .collect();
        crate::on_backend!(conn, |c| diesel::insert_into(key_outcomes::table).values(&rows).execute(c))?;
        audit::record(conn, Event::new(actor, "priority.created").target("funding_priority", priority.id))?;
        Ok(priority)
    })
}

// ---------------------------------------------------------------------------------------------------------
// Priorities: editing

/// Every priority, retired ones too, in their order.
pub fn all_priorities(conn: &mut DbConn) -> Result<Vec<FundingPriority>, ServiceError> {
    Ok(funding_priorities::table
        .order((funding_priorities::position, funding_priorities::id))
        .select(FundingPriority::as_select())
        .load(conn)?)
}

pub fn find_priority(conn: &mut DbConn, id: i64) -> Result<PriorityWithOutcomes, ServiceError> {
    let priority: FundingPriority = funding_priorities::table
        .find(id)
        .select(FundingPriority::as_select())
        .first(conn)
        .optional()?
        .ok_or(ServiceError::NotFound("funding priority"))?;
    let outcomes = KeyOutcome::belonging_to(&priority)
        .order((key_outcomes::position, key_outcomes::id))
        .select(KeyOutcome::as_select())
        .load(conn)?;
    Ok(PriorityWithOutcomes { priority, outcomes })
}

/// Changes a priority's title, summary, outcomes (kept by position, so what refers to an outcome keeps
/// it), order and whether it is active.
pub fn update_priority(
    conn: &mut DbConn,
    actor: i64,
    id: i64,
    input: &PriorityInput,
    position: i32,
    active: bool,
) -> Result<(), ServiceError> {
    domain::check(input)?;
    let outcomes: Vec<&str> = input.outcomes.iter().map(|o| o.trim()).filter(|o| !o.is_empty()).collect();
    if let Some(bad) = outcomes.iter().position(|o| o.len() > 500) {
        return Err(ServiceError::invalid("outcomes", format!("Outcome {} needs 1 to 500 characters.", bad + 1)));
    }
    if !(1..=1000).contains(&position) {
        return Err(ServiceError::invalid("position", "Give the order as a number from 1 to 1,000."));
    }
    db::write_transaction(conn, |conn| {
        let current = find_priority(conn, id)?;
        diesel::update(funding_priorities::table.find(id))
            .set((
                funding_priorities::title.eq(input.title.trim()),
                funding_priorities::summary.eq(input.summary.trim()),
                funding_priorities::position.eq(position),
                funding_priorities::active.eq(active),
                funding_priorities::updated_at.eq(db::now()),
            ))
            .execute(conn)?;
        for (i, text) in outcomes.iter().enumerate() {
            match current.outcomes.get(i) {
                Some(existing) => {
                    diesel::update(key_outcomes::table.find(existing.id))
                        .set(key_outcomes::description.eq(*text))
                        .execute(conn)?;
                }
                None => {
                    diesel::insert_into(key_outcomes::table)
                        .values(NewKeyOutcome { priority_id: id, description: text, position: i as i32 + 1 })
                        .execute(conn)?;
                }
            }
        }
        let extra: Vec<i64> = current.outcomes.iter().skip(outcomes.len()).map(|o| o.id).collect();
        // An outcome a metric measures stays (the metric's link would break); say so instead of failing on the
        // foreign key.
        let measured: Vec<String> = crate::db::schema::metrics::table
            .filter(crate::db::schema::metrics::key_outcome_id.eq_any(extra.clone()))
            .select(crate::db::schema::metrics::name)
            .load(conn)?;
        if !measured.is_empty() {
            return Err(ServiceError::invalid(
                "outcomes",
                format!(
                    "An outcome you left out is measured by {}; keep it, or link the metric to another outcome first.",
                    measured.join(", ")
                ),
            ));
        }
        if !extra.is_empty() {
            diesel::delete(key_outcomes::table.filter(key_outcomes::id.eq_any(extra))).execute(conn)?;
        }
        audit::record(
            conn,
            Event::new(Actor::User(actor), "priority.updated")
                .target("funding_priority", id)
                .details(json!({ "active": active, "position": position }))
                .changes(
                    Changes::new()
                        .field("title", current.priority.title.as_str(), input.title.trim())
                        .field("summary", current.priority.summary.as_str(), input.summary.trim())
                        .field("position", &current.priority.position, &position)
                        .field("active", &current.priority.active, &active)
                        .field(
                            "outcomes",
                            &current.outcomes.iter().map(|o| o.description.as_str()).collect::<Vec<_>>(),
                            &outcomes,
                        ),
                ),
        )
    })
}

/// Metrics that measure priorities, as (priority id, metric id, metric name), for links from funding pages to
/// the metrics feature (which sits above funding and owns everything else about them).
pub fn metrics_of_priorities(conn: &mut DbConn) -> Result<Vec<(i64, i64, String)>, ServiceError> {
    use crate::db::schema::metrics;
    let rows: Vec<(Option<i64>, i64, String)> = metrics::table
        .filter(metrics::priority_id.is_not_null())
        .order(metrics::name)
        .select((metrics::priority_id, metrics::id, metrics::name))
        .load(conn)?;
    Ok(rows.into_iter().filter_map(|(p, id, name)| p.map(|p| (p, id, name))).collect())
}

/// Metrics that measure an initiative: (metric id, name).
pub fn metrics_of_initiative(conn: &mut DbConn, initiative_id: i64) -> Result<Vec<(i64, String)>, ServiceError> {
    use crate::db::schema::{metric_initiatives, metrics};
    Ok(metric_initiatives::table
        .inner_join(metrics::table)
        .filter(metric_initiatives::initiative_id.eq(initiative_id))
        .order(metrics::name)
        .select((metrics::id, metrics::name))
        .load(conn)?)
}

// ---------------------------------------------------------------------------------------------------------
// Budgets

/// A year that still takes budgets and allocations (planning or open).
fn writable_year(conn: &mut DbConn, year_id: i64) -> Result<FiscalYear, ServiceError> {
    let year = crate::ledger::service::find_year(conn, year_id)?;
    if year.status == "closed" {
        return Err(ServiceError::Conflict(format!(
            "{} is closed; its budgets and allocations stay as they are.",
            year.label
        )));
    }
    Ok(year)
}

/// A budget as entered: the envelope and its line items (label, amount).
#[derive(Clone, Debug, Default)]
pub struct BudgetInput {
    pub amount: String,
    pub lines: Vec<(String, String)>,
}

/// Holds the budget row for the rest of the transaction, so two requests that check its allocations run
/// one after the other (PostgreSQL: a row lock; SQLite: the write transaction already serializes writers).
fn lock_budget(conn: &mut DbConn, budget_id: i64) -> Result<Budget, ServiceError> {
    diesel::update(budgets::table.find(budget_id)).set(budgets::updated_at.eq(db::now())).execute(conn)?;
    budgets::table
        .find(budget_id)
        .select(Budget::as_select())
        .first(conn)
        .optional()?
        .ok_or(ServiceError::NotFound("budget"))
}

fn allocated_sum(conn: &mut DbConn, budget_id: i64, line_id: Option<i64>) -> Result<i64, ServiceError> {
    let mut q = allocations::table.filter(allocations::budget_id.eq(budget_id)).into_boxed();
    if let Some(line) = line_id {
        q = q.filter(allocations::budget_line_id.eq(line));
    }
    let amounts: Vec<i64> = q.select(allocations::amount_minor).load(conn)?;
    Ok(amounts.iter().sum())
}

/// Sets a priority's envelope for a year and its line items (treasurer). Never below what is already
/// allocated from it (or from a line); lines never add up to more than the envelope.
pub fn set_budget(
    conn: &mut DbConn,
    actor: i64,
    year_id: i64,
    priority_id: i64,
    input: &BudgetInput,
) -> Result<Budget, ServiceError> {
    let base = crate::ledger::service::base_currency(conn)?;
    let mut errors = Vec::new();
    let amount = domain::parse_money(&input.amount, &base, "amount", &mut errors);
    let mut lines: Vec<(String, i64)> = Vec::new();
    for (i, (label, raw)) in input.lines.iter().enumerate() {
        let label = label.trim();
        if label.is_empty() && raw.trim().is_empty() {
            continue;
        }
        if label.is_empty() || label.len() > 100 {
            errors.push(FieldError::new(format!("lines[{i}].label"), "Name the line item (up to 100 characters)."));
        } else if lines.iter().any(|(l, _)| l.eq_ignore_ascii_case(label)) {
            errors.push(FieldError::new(format!("lines[{i}].label"), "Each line item needs its own name."));
        }
        if let Some(v) = domain::parse_money(raw, &base, &format!("lines[{i}].amount"), &mut errors) {
            lines.push((label.to_string(), v));
        }
    }
    if let Some(total) = amount {
        let lined: i64 = lines.iter().map(|(_, v)| v).sum();
        if lined > total {
            errors.push(FieldError::new(
                "lines",
                format!(
                    "The line items add up to {}, more than the budget of {}.",
                    crate::money::format(lined, &base),
                    crate::money::format(total, &base)
                ),
            ));
        }
    }
    let (Some(amount), true) = (amount, errors.is_empty()) else {
        return Err(ServiceError::Validation(errors));
    };
    db::write_transaction(conn, |conn| {
        let year = writable_year(conn, year_id)?;
        find_priority(conn, priority_id)?;
        let existing: Option<(i64, i64)> = budgets::table
            .filter(budgets::fiscal_year_id.eq(year_id))
            .filter(budgets::priority_id.eq(priority_id))
            .select((budgets::id, budgets::amount_minor))
            .first(conn)
            .optional()?;
        let before_minor = existing.map(|(_, amount)| amount);
        let now = db::now();
        let budget_id = match existing.map(|(id, _)| id) {
            Some(id) => {
                lock_budget(conn, id)?;
                let allocated = allocated_sum(conn, id, None)?;
                if amount < allocated {
                    return Err(ServiceError::invalid(
                        "amount",
                        format!(
                            "{} is already allocated from this budget; it cannot be less.",
                            crate::money::format(allocated, &base)
                        ),
                    ));
                }
                diesel::update(budgets::table.find(id))
                    .set((budgets::amount_minor.eq(amount), budgets::updated_at.eq(now)))
                    .execute(conn)?;
                id
            }
            None => crate::on_backend!(conn, |c| diesel::insert_into(budgets::table)
                .values((
                    budgets::fiscal_year_id.eq(year_id),
                    budgets::priority_id.eq(priority_id),
                    budgets::amount_minor.eq(amount),
                    budgets::currency.eq(&base),
                    budgets::created_at.eq(now),
                    budgets::updated_at.eq(now),
                ))
                .returning(budgets::id)
                .get_result::<i64>(c))?,
        };
        let current: Vec<BudgetLine> = budget_lines::table
            .filter(budget_lines::budget_id.eq(budget_id))
            .select(BudgetLine::as_select())
            .load(conn)?;
        let lines_shown = |pairs: Vec<(&str, i64)>| {
            pairs.into_iter().map(|(l, v)| format!("{l}: {}", crate::money::plain(v, &base))).collect::<Vec<_>>()
        };
        let lines_before = lines_shown(current.iter().map(|l| (l.label.as_str(), l.amount_minor)).collect());
        let lines_after = lines_shown(lines.iter().map(|(l, v)| (l.as_str(), *v)).collect());
        for old in &current {
            let kept = lines.iter().position(|(l, _)| l.eq_ignore_ascii_case(&old.label));
            let allocated = allocated_sum(conn, budget_id, Some(old.id))?;
            let new_amount = kept.map(|i| lines[i].1);
            if allocated > new_amount.unwrap_or(0) {
                let field = kept.map(|i| format!("lines[{i}].amount")).unwrap_or_else(|| "lines".into());
                return Err(ServiceError::invalid(
                    field,
                    format!(
                        "{} is already allocated from '{}'; it cannot be less.",
                        crate::money::format(allocated, &base),
                        old.label
                    ),
                ));
            }
            match kept {
                Some(i) => {
                    diesel::update(budget_lines::table.find(old.id))
                        .set((budget_lines::amount_minor.eq(lines[i].1), budget_lines::position.eq(i as i32 + 1)))
                        .execute(conn)?;
                }
                None => {
                    diesel::delete(budget_lines::table.find(old.id)).execute(conn)?;
                }
            }
        }
        for (i, (label, value)) in lines.iter().enumerate() {
            if current.iter().any(|old| old.label.eq_ignore_ascii_case(label)) {
                continue;
            }
            diesel::insert_into(budget_lines::table)
                .values((
                    budget_lines::budget_id.eq(budget_id),
                    budget_lines::label.eq(label),
                    budget_lines::amount_minor.eq(value),
                    budget_lines::position.eq(i as i32 + 1),
                ))
                .execute(conn)?;
        }
        audit::record(
            conn,
            Event::new(Actor::User(actor), "budget.set")
                .target("budget", budget_id)
                .details(json!({ "fiscal_year": year.label, "priority_id": priority_id, "amount_minor": amount,
                                 "lines": lines.len() }))
                .changes(Changes::new().field("amount_minor", &before_minor, &Some(amount)).field(
                    "lines",
                    &lines_before,
                    &lines_after,
                )),
        )?;
        Ok(budgets::table.find(budget_id).select(Budget::as_select()).first(conn)?)
    })
}

/// Budget, allocated and spent for one line item.
#[derive(Clone, Debug, Serialize, ToSchema)]
pub struct LineUse {
    pub line: BudgetLine,
    pub allocated_minor: i64,
    pub spent_minor: i64,
}

/// Budget, allocated and spent for one priority in one year. Spent is summed from the ledger.
#[derive(Clone, Debug, Serialize, ToSchema)]
pub struct BudgetUse {
    pub priority: FundingPriority,
    pub budget: Option<Budget>,
    pub budget_minor: i64,
    pub allocated_minor: i64,
    pub spent_minor: i64,
    pub lines: Vec<LineUse>,
    /// Allocated and spent outside any line item.
    pub unlined_allocated_minor: i64,
    pub unlined_spent_minor: i64,
}

impl BudgetUse {
    /// What is left to allocate.
    pub fn unallocated_minor(&self) -> i64 {
        self.budget_minor - self.allocated_minor
    }
}

/// Every active priority (and any retired one with a budget) for a year: budget, allocated and spent.
pub fn budget_overview(conn: &mut DbConn, year_id: i64) -> Result<Vec<BudgetUse>, ServiceError> {
    let priorities = all_priorities(conn)?;
    let year_budgets: Vec<Budget> =
        budgets::table.filter(budgets::fiscal_year_id.eq(year_id)).select(Budget::as_select()).load(conn)?;
    let budget_ids: Vec<i64> = year_budgets.iter().map(|b| b.id).collect();
    let lines: Vec<BudgetLine> = budget_lines::table
        .filter(budget_lines::budget_id.eq_any(&budget_ids))
        .order(budget_lines::position)
        .select(BudgetLine::as_select())
        .load(conn)?;
    let allocs: Vec<Allocation> = allocations::table
        .filter(allocations::budget_id.eq_any(&budget_ids))
        .select(Allocation::as_select())
        .load(conn)?;
    let spent = spent_by_allocation(conn, allocs.iter().map(|a| a.id).collect())?;
    let spent_of = |a: &Allocation| spent.iter().filter(|(id, _)| *id == a.id).map(|(_, v)| *v).sum::<i64>();
    Ok(priorities
        .into_iter()
        .filter_map(|priority| {
            let budget = year_budgets.iter().find(|b| b.priority_id == priority.id).cloned();
            if budget.is_none() && !priority.active {
                return None;
            }
            let mine: Vec<&Allocation> =
                allocs.iter().filter(|a| Some(a.budget_id) == budget.as_ref().map(|b| b.id)).collect();
            let line_uses = lines
                .iter()
                .filter(|l| Some(l.budget_id) == budget.as_ref().map(|b| b.id))
                .map(|l| {
                    let of_line: Vec<&&Allocation> = mine.iter().filter(|a| a.budget_line_id == Some(l.id)).collect();
                    LineUse {
                        line: l.clone(),
                        allocated_minor: of_line.iter().map(|a| a.amount_minor).sum(),
                        spent_minor: of_line.iter().map(|a| spent_of(a)).sum(),
                    }
                })
                .collect();
            let unlined: Vec<&&Allocation> = mine.iter().filter(|a| a.budget_line_id.is_none()).collect();
            Some(BudgetUse {
                budget_minor: budget.as_ref().map(|b| b.amount_minor).unwrap_or(0),
                allocated_minor: mine.iter().map(|a| a.amount_minor).sum(),
                spent_minor: mine.iter().map(|a| spent_of(a)).sum(),
                unlined_allocated_minor: unlined.iter().map(|a| a.amount_minor).sum(),
                unlined_spent_minor: unlined.iter().map(|a| spent_of(a)).sum(),
                lines: line_uses,
                priority,
                budget,
            })
        })
        .collect())
}

/// Money paid out against each allocation, from the ledger (payments less their reversals).
fn spent_by_allocation(conn: &mut DbConn, allocation_ids: Vec<i64>) -> Result<Vec<(i64, i64)>, ServiceError> {
    if allocation_ids.is_empty() {
        return Ok(Vec::new());
    }
    let rows: Vec<(Option<i64>, i64)> = ledger_entries::table
        .filter(ledger_entries::allocation_id.eq_any(allocation_ids))
        .select((ledger_entries::allocation_id, ledger_entries::base_amount_minor))
        .load(conn)?;
    Ok(rows.into_iter().filter_map(|(id, amount)| id.map(|id| (id, -amount))).collect())
}

// ---------------------------------------------------------------------------------------------------------
// Initiatives

/// Who may see proposals and cancelled initiatives, and change initiatives.
pub fn manages_funding(viewer: Option<&Identity>) -> bool {
    viewer.is_some_and(|v| v.has_any(&[Role::Treasurer, Role::Council]))
}

/// An initiative as entered.
#[derive(Clone, Debug, Default)]
pub struct InitiativeInput {
    pub priority_id: String,
    pub title: String,
    pub summary: String,
    pub subprojects: String,
    pub lead: String,
    pub starts_on: String,
    pub ends_on: String,
}

struct CheckedInitiative {
    priority_id: i64,
    subprojects: String,
    starts_on: Option<NaiveDate>,
    ends_on: Option<NaiveDate>,
}

fn check_initiative(conn: &mut DbConn, input: &InitiativeInput) -> Result<CheckedInitiative, ServiceError> {
    let mut errors = Vec::new();
    let priority_id = input.priority_id.trim().parse::<i64>().ok();
    let priority_ok = match priority_id {
        Some(id) => {
            funding_priorities::table
                .filter(funding_priorities::id.eq(id))
                .filter(funding_priorities::active.eq(true))
                .count()
                .get_result::<i64>(conn)?
                > 0
        }
        None => false,
    };
    if !priority_ok {
        errors.push(FieldError::new("priority_id", "Choose one of the active funding priorities."));
    }
    if let Some(problem) = domain::hidden_characters(&input.title) {
        errors.push(FieldError::new("title", problem));
    } else if input.title.trim().is_empty() || input.title.trim().len() > 200 {
        errors.push(FieldError::new("title", "Give a title of 1 to 200 characters."));
    }
    if input.summary.trim().is_empty() || input.summary.len() > 8000 {
        errors.push(FieldError::new("summary", "Say what it does and why, in up to 8,000 characters."));
    }
    let subprojects: Vec<&str> = input.subprojects.split(',').map(str::trim).filter(|s| !s.is_empty()).collect();
    if subprojects.iter().any(|s| s.len() > 100) || subprojects.len() > 20 {
        errors.push(FieldError::new(
            "subprojects",
            "List up to 20 subprojects, comma-separated, each under 100 characters.",
        ));
    }
    if input.lead.trim().len() > 200 {
        errors.push(FieldError::new("lead", "Keep the lead's name under 200 characters."));
    }
    let optional_date = |raw: &str, field: &str, errors: &mut Vec<FieldError>| {
        if raw.trim().is_empty() {
            None
        } else {
            domain::parse_date(raw, field, errors)
        }
    };
    let starts_on = optional_date(&input.starts_on, "starts_on", &mut errors);
    let ends_on = optional_date(&input.ends_on, "ends_on", &mut errors);
    if let (Some(s), Some(e)) = (starts_on, ends_on) {
        if e < s {
            errors.push(FieldError::new("ends_on", "It cannot end before it starts."));
        }
    }
    match (priority_id, errors.is_empty()) {
        (Some(priority_id), true) => {
            Ok(CheckedInitiative { priority_id, subprojects: subprojects.join(", "), starts_on, ends_on })
        }
        _ => Err(ServiceError::Validation(errors)),
    }
}

/// Proposes an initiative (treasurer or council); it starts as `proposed`.
pub fn create_initiative(conn: &mut DbConn, actor: i64, input: &InitiativeInput) -> Result<Initiative, ServiceError> {
    db::write_transaction(conn, |conn| {
        let checked = check_initiative(conn, input)?;
        let now = db::now();
        let initiative: Initiative = crate::on_backend!(conn, |c| diesel::insert_into(initiatives::table)
            .values((
                initiatives::priority_id.eq(checked.priority_id),
                initiatives::title.eq(input.title.trim()),
                initiatives::summary.eq(input.summary.trim()),
                initiatives::subprojects.eq(&checked.subprojects),
                initiatives::lead.eq(input.lead.trim()),
                initiatives::status.eq("proposed"),
                initiatives::starts_on.eq(checked.starts_on),
                initiatives::ends_on.eq(checked.ends_on),
                initiatives::created_by.eq(actor),
                initiatives::created_at.eq(now),
                initiatives::updated_at.eq(now),
            ))
            .returning(Initiative::as_returning())
            .get_result(c))?;
        diesel::insert_into(initiative_steps::table)
            .values((
                initiative_steps::initiative_id.eq(initiative.id),
                initiative_steps::to_status.eq("proposed"),
                initiative_steps::changed_by.eq(actor),
                initiative_steps::changed_at.eq(now),
            ))
            .execute(conn)?;
        audit::record(conn, Event::new(Actor::User(actor), "initiative.proposed").target("initiative", initiative.id))?;
        Ok(initiative)
    })
}

/// Changes what an initiative is about (treasurer or council). Its status changes only by [`change_status`].
pub fn update_initiative(conn: &mut DbConn, actor: i64, id: i64, input: &InitiativeInput) -> Result<(), ServiceError> {
    db::write_transaction(conn, |conn| {
        let current = find_initiative(conn, id)?;
        let checked = check_initiative(conn, input)?;
        if checked.priority_id != current.priority_id {
            let allocated: i64 =
                allocations::table.filter(allocations::initiative_id.eq(id)).count().get_result(conn)?;
            if allocated > 0 {
                return Err(ServiceError::invalid(
                    "priority_id",
                    "It has allocations from its priority's budget; it stays under that priority.",
                ));
            }
        }
        diesel::update(initiatives::table.find(id))
            .set((
                initiatives::priority_id.eq(checked.priority_id),
                initiatives::title.eq(input.title.trim()),
                initiatives::summary.eq(input.summary.trim()),
                initiatives::subprojects.eq(&checked.subprojects),
                initiatives::lead.eq(input.lead.trim()),
                initiatives::starts_on.eq(checked.starts_on),
                initiatives::ends_on.eq(checked.ends_on),
                initiatives::updated_at.eq(db::now()),
            ))
            .execute(conn)?;
        audit::record(
            conn,
            Event::new(Actor::User(actor), "initiative.updated").target("initiative", id).changes(
                Changes::new()
                    .field("priority_id", &current.priority_id, &checked.priority_id)
                    .field("title", current.title.as_str(), input.title.trim())
                    .field("summary", current.summary.as_str(), input.summary.trim())
                    .field("subprojects", &current.subprojects, &checked.subprojects)
                    .field("lead", current.lead.as_str(), input.lead.trim())
                    .field("starts_on", &current.starts_on, &checked.starts_on)
                    .field("ends_on", &current.ends_on, &checked.ends_on),
            ),
        )
    })
}

/// The steps an initiative may take, and which roles may take them.
pub const TRANSITIONS: &[(&str, &str, &[Role])] = &[
    ("proposed", "approved", &[Role::Council]),
    ("proposed", "cancelled", &[Role::Council, Role::Treasurer]),
    ("approved", "active", &[Role::Council, Role::Treasurer]),
    ("approved", "cancelled", &[Role::Council, Role::Treasurer]),
    ("active", "completed", &[Role::Council, Role::Treasurer]),
    ("active", "cancelled", &[Role::Council, Role::Treasurer]),
];

/// The statuses `viewer` may move an initiative in `status` to.
pub fn next_statuses(viewer: &Identity, status: &str) -> Vec<&'static str> {
    TRANSITIONS
        .iter()
        .filter(|(from, _, roles)| *from == status && viewer.has_any(roles))
        .map(|(_, to, _)| *to)
        .collect()
}

/// Moves an initiative one step, recording who and when. Approval is the council's.
pub fn change_status(
    conn: &mut DbConn,
    actor: &Identity,
    id: i64,
    to: &str,
    note: &str,
) -> Result<Initiative, ServiceError> {
    if note.len() > 2000 {
        return Err(ServiceError::invalid("note", "Keep the note under 2,000 characters."));
    }
    db::write_transaction(conn, |conn| {
        let current = find_initiative(conn, id)?;
        let Some((_, _, roles)) = TRANSITIONS.iter().find(|(from, t, _)| *from == current.status && *t == to) else {
            return Err(ServiceError::Conflict(format!(
                "An initiative that is {} cannot become {to}; it goes proposed, approved, active, completed (or cancelled).",
                current.status
            )));
        };
        if !actor.has_any(roles) {
            return Err(ServiceError::Forbidden);
        }
        let now = db::now();
        diesel::update(initiatives::table.find(id))
            .set((initiatives::status.eq(to), initiatives::updated_at.eq(now)))
            .execute(conn)?;
        diesel::insert_into(initiative_steps::table)
            .values((
                initiative_steps::initiative_id.eq(id),
                initiative_steps::from_status.eq(&current.status),
                initiative_steps::to_status.eq(to),
                initiative_steps::note.eq(note.trim()),
                initiative_steps::changed_by.eq(actor.user_id),
                initiative_steps::changed_at.eq(now),
            ))
            .execute(conn)?;
        audit::record(
            conn,
            Event::new(Actor::User(actor.user_id), "initiative.status_changed")
                .target("initiative", id)
                .details(json!({ "from": current.status, "to": to })),
        )?;
        find_initiative(conn, id)
    })
}

pub fn find_initiative(conn: &mut DbConn, id: i64) -> Result<Initiative, ServiceError> {
    initiatives::table
        .find(id)
        .select(Initiative::as_select())
        .first(conn)
        .optional()?
        .ok_or(ServiceError::NotFound("initiative"))
}

pub const PAGE_SIZE: i64 = 25;

/// Which initiatives to list.
#[derive(Clone, Debug, Default)]
pub struct InitiativeFilter {
    pub status: String,
    pub priority_id: Option<i64>,
    pub page: i64,
}

/// Initiatives the viewer may see (approved ones for everyone; all for treasurer and council), newest
/// first, with their priority's title.
pub fn list_initiatives(
    conn: &mut DbConn,
    viewer: Option<&Identity>,
    filter: &InitiativeFilter,
) -> Result<(Vec<(Initiative, String)>, i64), ServiceError> {
    let all = manages_funding(viewer);
    let query = || {
        let mut q = initiatives::table.inner_join(funding_priorities::table).into_boxed();
        if !all {
            q = q.filter(initiatives::status.eq_any(["approved", "active", "completed"]));
        }
        if !filter.status.is_empty() {
            q = q.filter(initiatives::status.eq(filter.status.clone()));
        }
        if let Some(p) = filter.priority_id {
            q = q.filter(initiatives::priority_id.eq(p));
        }
        q
    };
    let total: i64 = query().count().get_result(conn)?;
    let rows = query()
        .order((funding_priorities::position, initiatives::id.desc()))
        .limit(PAGE_SIZE)
        .offset(crate::domain::page_offset(filter.page, PAGE_SIZE))
        .select((Initiative::as_select(), funding_priorities::title))
        .load(conn)?;
    Ok((rows, total))
}

/// A step with the name of who took it.
#[derive(Clone, Debug, Serialize, ToSchema)]
pub struct StepView {
    #[serde(flatten)]
    pub step: InitiativeStep,
    pub changed_by_name: Option<String>,
}

/// An allocation with its year and what was paid out of it.
#[derive(Clone, Debug, Serialize, ToSchema)]
pub struct AllocationView {
    #[serde(flatten)]
    pub allocation: Allocation,
    pub fiscal_year_id: i64,
    pub fiscal_year: String,
    /// The year's status: a closed year's allocations no longer change.
    pub fiscal_year_status: String,
    pub priority_id: i64,
    pub initiative: String,
    pub line: Option<String>,
    pub spent_minor: i64,
}

/// An initiative with its priority, history and money.
#[derive(Clone, Debug, Serialize, ToSchema)]
pub struct InitiativeDetail {
    pub initiative: Initiative,
    pub priority: FundingPriority,
    pub steps: Vec<StepView>,
    pub allocations: Vec<AllocationView>,
    pub allocated_minor: i64,
    pub spent_minor: i64,
}

/// One initiative as the viewer may see it: a proposal or cancelled one is "not found" to others.
pub fn initiative_detail(
    conn: &mut DbConn,
    viewer: Option<&Identity>,
    id: i64,
) -> Result<InitiativeDetail, ServiceError> {
    let initiative = find_initiative(conn, id)?;
    if !initiative.is_public() && !manages_funding(viewer) {
        return Err(ServiceError::NotFound("initiative"));
    }
    let priority = find_priority(conn, initiative.priority_id)?.priority;
    let steps: Vec<(InitiativeStep, Option<String>)> = initiative_steps::table
        .left_join(users::table.on(users::id.nullable().eq(initiative_steps::changed_by)))
        .filter(initiative_steps::initiative_id.eq(id))
        .order(initiative_steps::id)
        .select((InitiativeStep::as_select(), users::display_name.nullable()))
        .load(conn)?;
    let allocations = list_allocations(conn, &AllocationFilter { initiative_id: Some(id), ..Default::default() })?;
    Ok(InitiativeDetail {
        allocated_minor: allocations.iter().map(|a| a.allocation.amount_minor).sum(),
        spent_minor: allocations.iter().map(|a| a.spent_minor).sum(),
        steps: steps.into_iter().map(|(step, changed_by_name)| StepView { step, changed_by_name }).collect(),
        allocations,
        initiative,
        priority,
    })
}

// ---------------------------------------------------------------------------------------------------------
// Allocations

/// An allocation as entered.
#[derive(Clone, Debug, Default)]
pub struct AllocationInput {
    pub fiscal_year_id: String,
    pub amount: String,
    /// A line item of the budget, or empty.
    pub budget_line_id: String,
    pub note: String,
}

/// Which allocations to list.
#[derive(Clone, Debug, Default)]
pub struct AllocationFilter {
    pub initiative_id: Option<i64>,
    pub fiscal_year_id: Option<i64>,
}

pub fn list_allocations(conn: &mut DbConn, filter: &AllocationFilter) -> Result<Vec<AllocationView>, ServiceError> {
    let mut q = allocations::table
        .inner_join(budgets::table.inner_join(fiscal_years::table))
        .inner_join(initiatives::table)
        .left_join(budget_lines::table)
        .into_boxed();
    if let Some(i) = filter.initiative_id {
        q = q.filter(allocations::initiative_id.eq(i));
    }
    if let Some(y) = filter.fiscal_year_id {
        q = q.filter(budgets::fiscal_year_id.eq(y));
    }
    // (allocation, year id, year label, year status, priority id, initiative title, line item label)
    type Row = (Allocation, i64, String, String, i64, String, Option<String>);
    let rows: Vec<Row> = q
        .order((fiscal_years::starts_on.desc(), allocations::id))
        .select((
            Allocation::as_select(),
            budgets::fiscal_year_id,
            fiscal_years::label,
            fiscal_years::status,
            budgets::priority_id,
            initiatives::title,
            budget_lines::label.nullable(),
        ))
        .load(conn)?;
    let spent = spent_by_allocation(conn, rows.iter().map(|r| r.0.id).collect())?;
    Ok(rows
        .into_iter()
        .map(|(allocation, fiscal_year_id, fiscal_year, fiscal_year_status, priority_id, initiative, line)| {
            AllocationView {
                spent_minor: spent.iter().filter(|(id, _)| *id == allocation.id).map(|(_, v)| v).sum(),
                allocation,
                fiscal_year_id,
                fiscal_year,
                fiscal_year_status,
                priority_id,
                initiative,
                line,
            }
        })
        .collect())
}

pub fn find_allocation(conn: &mut DbConn, id: i64) -> Result<AllocationView, ServiceError> {
    let allocation: Allocation = allocations::table
        .find(id)
        .select(Allocation::as_select())
        .first(conn)
        .optional()?
        .ok_or(ServiceError::NotFound("allocation"))?;
    list_allocations(conn, &AllocationFilter { initiative_id: Some(allocation.initiative_id), ..Default::default() })?
        .into_iter()
        .find(|a| a.allocation.id == id)
        .ok_or(ServiceError::NotFound("allocation"))
}

/// What has been asked for, approved or paid out of an allocation (base currency); what it cannot go below.
pub fn committed_minor(conn: &mut DbConn, allocation_id: i64) -> Result<i64, ServiceError> {
    let amounts: Vec<Option<i64>> = disbursements::table
        .filter(disbursements::allocation_id.eq(allocation_id))
        .filter(disbursements::status.eq_any(["requested", "approved", "paid"]))
        .select(disbursements::base_amount_minor)
        .load(conn)?;
    Ok(amounts.into_iter().flatten().sum())
}

/// Refuses an allocation that would take a budget (or a line item) past its amount. Runs with the budget
/// row held, so concurrent requests are checked one after the other.
fn check_within_budget(
    conn: &mut DbConn,
    budget: &Budget,
    line: Option<&BudgetLine>,
    amount: i64,
    replacing: Option<&Allocation>,
) -> Result<(), ServiceError> {
    let others = |sum: i64, same_line: bool| sum - replacing.filter(|_| same_line).map(|a| a.amount_minor).unwrap_or(0);
    let allocated = others(allocated_sum(conn, budget.id, None)?, true);
    if allocated + amount > budget.amount_minor {
        return Err(ServiceError::invalid(
            "amount",
            format!(
                "Only {} of this budget is unallocated ({} of {} is allocated).",
                crate::money::format(budget.amount_minor - allocated, &budget.currency),
                crate::money::format(allocated, &budget.currency),
                crate::money::format(budget.amount_minor, &budget.currency)
            ),
        ));
    }
    if let Some(line) = line {
        let same = replacing.is_some_and(|a| a.budget_line_id == Some(line.id));
        let on_line = others(allocated_sum(conn, budget.id, Some(line.id))?, same);
        if on_line + amount > line.amount_minor {
            return Err(ServiceError::invalid(
                "amount",
                format!(
                    "Only {} of the line item '{}' is unallocated.",
                    crate::money::format(line.amount_minor - on_line, &budget.currency),
                    line.label
                ),
            ));
        }
    }
    Ok(())
}

/// Allocates money from the initiative's priority budget for a year (treasurer). The sum of a budget's
/// allocations never exceeds it.
pub fn allocate(
    conn: &mut DbConn,
    actor: i64,
    initiative_id: i64,
    input: &AllocationInput,
) -> Result<Allocation, ServiceError> {
    let base = crate::ledger::service::base_currency(conn)?;
    let mut errors = Vec::new();
    let year_id = input.fiscal_year_id.trim().parse::<i64>().ok();
    if year_id.is_none() {
        errors.push(FieldError::new("fiscal_year_id", "Choose a fiscal year."));
    }
    let amount = domain::parse_money(&input.amount, &base, "amount", &mut errors);
    if amount == Some(0) {
        errors.push(FieldError::new("amount", "An allocation must be more than zero."));
    }
    let line_id = match input.budget_line_id.trim() {
        "" => None,
        raw => match raw.parse::<i64>() {
            Ok(id) => Some(id),
            Err(_) => {
                errors.push(FieldError::new("budget_line_id", "Choose a line item of the budget, or none."));
                None
            }
        },
    };
    if input.note.len() > 2000 {
        errors.push(FieldError::new("note", "Keep the note under 2,000 characters."));
    }
    let (Some(year_id), Some(amount), true) = (year_id, amount, errors.is_empty()) else {
        return Err(ServiceError::Validation(errors));
    };
    db::write_transaction(conn, |conn| {
        let initiative = find_initiative(conn, initiative_id)?;
        if !initiative.is_fundable() {
            return Err(ServiceError::Conflict(format!(
                "The initiative is {}; money is allocated only to approved or active initiatives.",
                initiative.status
            )));
        }
        let year = writable_year(conn, year_id)?;
        let budget_id: Option<i64> = budgets::table
            .filter(budgets::fiscal_year_id.eq(year_id))
            .filter(budgets::priority_id.eq(initiative.priority_id))
            .select(budgets::id)
            .first(conn)
            .optional()?;
        let Some(budget_id) = budget_id else {
            return Err(ServiceError::invalid(
                "fiscal_year_id",
                format!("The initiative's priority has no budget for {}; set one first.", year.label),
            ));
        };
        let budget = lock_budget(conn, budget_id)?;
        let line = line_of(conn, &budget, line_id)?;
        check_within_budget(conn, &budget, line.as_ref(), amount, None)?;
        let now = db::now();
        let allocation: Allocation = crate::on_backend!(conn, |c| diesel::insert_into(allocations::table)
            .values((
                allocations::initiative_id.eq(initiative_id),
                allocations::budget_id.eq(budget_id),
                allocations::budget_line_id.eq(line_id),
                allocations::amount_minor.eq(amount),
                allocations::currency.eq(&budget.currency),
                allocations::note.eq(input.note.trim()),
                allocations::created_by.eq(actor),
                allocations::created_at.eq(now),
                allocations::updated_at.eq(now),
            ))
            .returning(Allocation::as_returning())
            .get_result(c))?;
        audit::record(
            conn,
            Event::new(Actor::User(actor), "allocation.created")
                .target("allocation", allocation.id)
                .details(json!({ "initiative_id": initiative_id, "fiscal_year": year.label, "amount_minor": amount })),
        )?;
        Ok(allocation)
    })
}

fn line_of(conn: &mut DbConn, budget: &Budget, line_id: Option<i64>) -> Result<Option<BudgetLine>, ServiceError> {
    let Some(id) = line_id else { return Ok(None) };
    budget_lines::table
        .find(id)
        .filter(budget_lines::budget_id.eq(budget.id))
        .select(BudgetLine::as_select())
        .first(conn)
        .optional()?
        .map(Some)
        .ok_or_else(|| ServiceError::invalid("budget_line_id", "That line item is not part of this budget."))
}

/// Changes an allocation's amount (treasurer): within the budget, and never below what has been requested,
/// approved or paid from it.
pub fn change_allocation(
    conn: &mut DbConn,
    actor: i64,
    allocation_id: i64,
    amount: &str,
) -> Result<Allocation, ServiceError> {
    let base = crate::ledger::service::base_currency(conn)?;
    let mut errors = Vec::new();
    let Some(amount) = domain::parse_money(amount, &base, "amount", &mut errors) else {
        return Err(ServiceError::Validation(errors));
    };
    db::write_transaction(conn, |conn| {
        let current: Allocation = allocations::table
            .find(allocation_id)
            .select(Allocation::as_select())
            .first(conn)
            .optional()?
            .ok_or(ServiceError::NotFound("allocation"))?;
        let budget = lock_budget(conn, current.budget_id)?;
        writable_year(conn, budget.fiscal_year_id)?;
        // Hold the allocation too, so no disbursement request slips in between the check and the change.
        diesel::update(allocations::table.find(allocation_id))
            .set(allocations::updated_at.eq(db::now()))
            .execute(conn)?;
        let committed = committed_minor(conn, allocation_id)?;
        if amount < committed {
            return Err(ServiceError::invalid(
                "amount",
                format!(
                    "{} has been requested or paid from it; it cannot be less.",
                    crate::money::format(committed, &budget.currency)
                ),
            ));
        }
        let line = line_of(conn, &budget, current.budget_line_id)?;
        check_within_budget(conn, &budget, line.as_ref(), amount, Some(&current))?;
        diesel::update(allocations::table.find(allocation_id))
            .set((allocations::amount_minor.eq(amount), allocations::updated_at.eq(db::now())))
            .execute(conn)?;
        audit::record(
            conn,
            Event::new(Actor::User(actor), "allocation.changed")
                .target("allocation", allocation_id)
                .details(json!({ "from_minor": current.amount_minor, "to_minor": amount }))
                .changes(Changes::new().field("amount_minor", &current.amount_minor, &amount)),
        )?;
        Ok(allocations::table.find(allocation_id).select(Allocation::as_select()).first(conn)?)
    })
}
