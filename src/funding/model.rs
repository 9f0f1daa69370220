//! Rows of the funding tables.

use chrono::NaiveDateTime;
use diesel::prelude::*;
use serde::Serialize;

use crate::db::schema::{funding_priorities, key_outcomes};

/// Something the foundation spends on for years, such as "grow contributor capacity".
#[derive(Clone, Debug, Queryable, Selectable, Identifiable, Serialize)]
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
#[derive(Clone, Debug, Queryable, Selectable, Identifiable, Associations, Serialize)]
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
#[derive(Clone, Debug, Serialize)]
pub struct PriorityWithOutcomes {
    #[serde(flatten)]
    pub priority: FundingPriority,
    pub outcomes: Vec<KeyOutcome>,
}
