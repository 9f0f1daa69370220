//! Rows of surveys, their questions, invitations and responses, and answers as they are stored.

use chrono::{NaiveDate, NaiveDateTime};
use diesel::prelude::*;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::db::schema::{survey_questions, surveys};

#[derive(Clone, Debug, Queryable, Selectable, Identifiable, Serialize, ToSchema)]
#[diesel(table_name = surveys)]
pub struct Survey {
    pub id: i64,
    pub title: String,
    pub introduction: String,
    /// e.g. 2026-H2; waves of the same survey are compared by their copied questions.
    pub cycle: String,
    pub opens_at: NaiveDateTime,
    pub closes_at: NaiveDateTime,
    /// `per_organization` (one answer per member organization), `per_person` (each representative),
    /// `selected` (the chosen organizations, one answer each), or `community` (a public link, anonymous).
    pub audience: String,
    pub anonymous: bool,
    /// No breakdown shows a group smaller than this.
    pub min_group_size: i32,
    /// Days before closing on which those who have not answered are reminded, e.g. "7,2".
    pub reminder_days: String,
    /// A community survey's public link token (shared openly; not a secret).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub public_token: Option<String>,
    /// `draft`, `open` or `closed`.
    pub status: String,
    pub created_by: Option<i64>,
    pub created_at: NaiveDateTime,
    pub updated_at: NaiveDateTime,
}

impl Survey {
    /// Whether answers are accepted at `now`.
    pub fn accepts_answers(&self, now: NaiveDateTime) -> bool {
        self.status == "open" && now >= self.opens_at && now < self.closes_at
    }

    /// One answer per organization (rather than per person).
    pub fn one_per_organization(&self) -> bool {
        matches!(self.audience.as_str(), "per_organization" | "selected")
    }

    pub fn is_community(&self) -> bool {
        self.audience == "community"
    }
}

/// The kinds of question.
pub const KINDS: &[(&str, &str)] = &[
    ("likert", "Agree or disagree, 1 to 5"),
    ("nps", "How likely to recommend, 0 to 10"),
    ("single", "One choice"),
    ("multi", "Several choices"),
    ("ranking", "Rank the options"),
    ("points", "Spread 100 points over the funding priorities"),
    ("number", "A number"),
    ("short_text", "A short text"),
    ("long_text", "A long text"),
];

#[derive(Clone, Debug, Queryable, Selectable, Identifiable, Serialize, ToSchema)]
#[diesel(table_name = survey_questions)]
pub struct Question {
    pub id: i64,
    pub survey_id: i64,
    pub position: i32,
    pub kind: String,
    pub prompt: String,
    pub required: bool,
    /// JSON: labels of the options (choices, ranking), of the scale (likert: 5), or priority ids (points).
    pub options: String,
    /// The question of an earlier wave this one repeats, for comparison.
    pub copied_from: Option<i64>,
}

impl Question {
    /// The option labels (or, for likert, the scale's labels).
    pub fn labels(&self) -> Vec<String> {
        serde_json::from_str(&self.options).unwrap_or_default()
    }

    /// For a points question: the priorities' ids, in order.
    pub fn priority_ids(&self) -> Vec<i64> {
        serde_json::from_str(&self.options).unwrap_or_default()
    }

    pub fn kind_label(&self) -> &'static str {
        KINDS.iter().find(|(k, _)| *k == self.kind).map(|(_, l)| *l).unwrap_or("")
    }
}

/// An answer as stored (JSON in `survey_answers.value`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(untagged)]
pub enum Answer {
    /// likert (1-5), nps (0-10), single (option index), number (thousandths)
    Number(i64),
    /// multi (option indexes), ranking (option indexes, best first), points (per option, summing to 100)
    List(Vec<i64>),
    /// short and long text
    Text(String),
}

/// A day, the finest time an anonymous response keeps.
pub type Day = NaiveDate;

impl Survey {
    /// The reminder days, largest first.
    pub fn reminders(&self) -> Vec<i64> {
        let mut days: Vec<i64> = self.reminder_days.split(',').filter_map(|d| d.trim().parse().ok()).collect();
        days.sort_by(|a, b| b.cmp(a));
        days.dedup();
        days
    }
}
