//! Rows of the funding tables.

use chrono::{NaiveDate, NaiveDateTime};
use diesel::prelude::*;
use serde::Serialize;
use utoipa::ToSchema;

use crate::db::schema::{
    allocations, budget_lines, budgets, funding_priorities, initiative_steps, initiatives, key_outcomes,
};

/// Something the foundation spends on for years, such as "grow contributor capacity".
#[derive(Clone, Debug, Queryable, Selectable, Identifiable, Serialize, ToSchema)]
#[diesel(table_name = funding_priorities)]
pub struct FundingPriority {
    pub id: i64,
    pub slug: String,
    pub title: String,
    pub summary: String,
    pub position: i32,
    pub active: bool,
    pub created_at: NaiveDateTime,
    pub updated_at: NaiveDateTime,
}

#[derive(Insertable)]
#[diesel(table_name = funding_priorities)]
pub struct NewFundingPriority<'a> {
    pub slug: &'a str,
    pub title: &'a str,
    pub summary: &'a str,
    pub position: i32,
    pub active: bool,
    pub created_at: NaiveDateTime,
    pub updated_at: NaiveDateTime,
}

/// What a priority should change in the world, in words; metrics measure it.
#[derive(Clone, Debug, Queryable, Selectable, Identifiable, Associations, Serialize, ToSchema)]
#[diesel(table_name = key_outcomes, belongs_to(FundingPriority, foreign_key = priority_id))]
pub struct KeyOutcome {
    pub id: i64,
    pub priority_id: i64,
    pub description: String,
    pub position: i32,
}

#[derive(Insertable)]
#[diesel(table_name = key_outcomes)]
pub struct NewKeyOutcome<'a> {
    pub priority_id: i64,
    pub description: &'a str,
    pub position: i32,
}

/// A priority with its outcomes, in order.
#[derive(Clone, Debug, Serialize, ToSchema)]
pub struct PriorityWithOutcomes {
    #[serde(flatten)]
    pub priority: FundingPriority,
    pub outcomes: Vec<KeyOutcome>,
}

/// A priority's envelope for one fiscal year, in the base currency.
#[derive(Clone, Debug, Queryable, Selectable, Identifiable, Serialize, ToSchema)]
#[diesel(table_name = budgets)]
pub struct Budget {
    pub id: i64,
    pub fiscal_year_id: i64,
    pub priority_id: i64,
    pub amount_minor: i64,
    pub currency: String,
    pub created_at: NaiveDateTime,
    pub updated_at: NaiveDateTime,
}

/// Part of a budget set aside for one kind of spending (events, contractor time, infrastructure).
#[derive(Clone, Debug, Queryable, Selectable, Identifiable, Serialize, ToSchema)]
#[diesel(table_name = budget_lines)]
pub struct BudgetLine {
    pub id: i64,
    pub budget_id: i64,
    pub label: String,
    pub amount_minor: i64,
    pub position: i32,
}

/// Work funded under a priority.
#[derive(Clone, Debug, Queryable, Selectable, Identifiable, Serialize, ToSchema)]
#[diesel(table_name = initiatives)]
pub struct Initiative {
    pub id: i64,
    pub priority_id: i64,
    pub title: String,
    pub summary: String,
    /// The subprojects it serves, comma-separated.
    pub subprojects: String,
    pub lead: String,
    /// `proposed`, `approved`, `active`, `completed` or `cancelled`.
    pub status: String,
    pub starts_on: Option<NaiveDate>,
    pub ends_on: Option<NaiveDate>,
    pub created_by: Option<i64>,
    pub created_at: NaiveDateTime,
    pub updated_at: NaiveDateTime,
}

impl Initiative {
    /// Members and the public see an initiative once it is approved.
    pub fn is_public(&self) -> bool {
        matches!(self.status.as_str(), "approved" | "active" | "completed")
    }

    /// Whether money may be allocated to it or requested for it.
    pub fn is_fundable(&self) -> bool {
        matches!(self.status.as_str(), "approved" | "active")
    }

    pub fn subproject_list(&self) -> Vec<&str> {
        self.subprojects.split(',').map(str::trim).filter(|s| !s.is_empty()).collect()
    }
}

/// One step of an initiative's life: who moved it where, and when.
#[derive(Clone, Debug, Queryable, Selectable, Serialize, ToSchema)]
#[diesel(table_name = initiative_steps)]
pub struct InitiativeStep {
    pub id: i64,
    pub initiative_id: i64,
    pub from_status: Option<String>,
    pub to_status: String,
    pub note: String,
    pub changed_by: Option<i64>,
    pub changed_at: NaiveDateTime,
}

/// Money from a priority's budget for an initiative, in the base currency.
#[derive(Clone, Debug, Queryable, Selectable, Identifiable, Serialize, ToSchema)]
#[diesel(table_name = allocations)]
pub struct Allocation {
    pub id: i64,
    pub initiative_id: i64,
    pub budget_id: i64,
    pub budget_line_id: Option<i64>,
    pub amount_minor: i64,
    pub currency: String,
    pub note: String,
    pub created_by: Option<i64>,
    pub created_at: NaiveDateTime,
    pub updated_at: NaiveDateTime,
}
