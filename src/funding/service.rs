//! Rules and transactions for funding priorities.

use diesel::prelude::*;
use validator::Validate;

use super::model::{FundingPriority, KeyOutcome, NewFundingPriority, NewKeyOutcome, PriorityWithOutcomes};
use crate::db::schema::{funding_priorities, key_outcomes};
use crate::db::{self, DbConn};
use crate::domain::{self, ServiceError};

/// A new priority as entered.
#[derive(Debug, Clone, Validate)]
pub struct PriorityInput {
    #[validate(length(min = 1, max = 200, message = "Give a title of 1 to 200 characters."))]
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
pub fn create_priority(conn: &mut DbConn, input: &PriorityInput) -> Result<FundingPriority, ServiceError> {
    domain::check(input)?;
    if !input.slug.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-') {
        return Err(ServiceError::invalid("slug", "Use lower-case letters, digits and hyphens only."));
    }
    if let Some(bad) = input.outcomes.iter().position(|o| o.trim().is_empty() || o.len() > 500) {
        return Err(ServiceError::invalid(format!("outcomes[{bad}]"), "Each outcome needs 1 to 500 characters."));
    }
    db::write_transaction(conn, |conn| {
        let taken: i64 =
            funding_priorities::table.filter(funding_priorities::slug.eq(&input.slug)).count().get_result(conn)?;
        if taken > 0 {
            return Err(ServiceError::Conflict(format!("A priority with the short name '{}' exists.", input.slug)));
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
        Ok(priority)
    })
}
