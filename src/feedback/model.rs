//! Rows of the feedback channel.

use chrono::NaiveDateTime;
use diesel::prelude::*;
use serde::Serialize;
use utoipa::ToSchema;

use crate::db::schema::feedback_items;

/// A suggestion or question from a representative, with the council's answer.
#[derive(Clone, Debug, Queryable, Selectable, Identifiable, Serialize, ToSchema)]
#[diesel(table_name = feedback_items)]
pub struct FeedbackItem {
    pub id: i64,
    pub user_id: i64,
    pub member_id: Option<i64>,
    pub subject: String,
    pub body: String,
    pub priority_id: Option<i64>,
    pub initiative_id: Option<i64>,
    /// `new`, `answered`, `planned` or `declined`.
    pub status: String,
    pub answer: String,
    pub answered_by: Option<i64>,
    pub answered_at: Option<NaiveDateTime>,
    /// May be quoted in the progress reports' "what we changed because of your feedback".
    pub quotable: bool,
    pub created_at: NaiveDateTime,
    pub updated_at: NaiveDateTime,
}
