//! Report rows and the frozen content: what a report says is kept as JSON in the shapes below, written once
//! when the report is generated and only read after.

use chrono::{NaiveDate, NaiveDateTime};
use diesel::prelude::*;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::db::schema::reports;

/// A report's row. `content` is `None` until it is generated.
#[derive(Clone, Debug, Queryable, Selectable, Serialize, ToSchema)]
#[diesel(table_name = reports)]
pub struct Report {
    pub id: i64,
    /// `2026-Q3`, `2026-H2` or `2026-09`.
    pub period: String,
    pub starts_on: NaiveDate,
    pub ends_on: NaiveDate,
    #[serde(skip)]
    pub content: Option<String>,
    pub foreword: String,
    /// "What we changed because of your feedback".
    pub changes: String,
    pub generated_at: Option<NaiveDateTime>,
    #[serde(skip)]
    pub generated_by: Option<i64>,
    pub sent_at: Option<NaiveDateTime>,
    #[serde(skip)]
    pub sent_by: Option<i64>,
    /// Emails queued for it, over every send.
    pub recipients: i32,
    /// On the public transparency page and in its feed.
    pub published: bool,
    pub created_at: NaiveDateTime,
    pub updated_at: NaiveDateTime,
}

impl Report {
    /// `upcoming` (not generated), `generated` (frozen, not sent) or `sent`.
    pub fn status(&self) -> &'static str {
        match (&self.content, self.sent_at) {
            (None, _) => "upcoming",
            (Some(_), None) => "generated",
            (Some(_), Some(_)) => "sent",
        }
    }
}

/// The parts a report can have; the schedule says which go in.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Section {
    Money,
    Budgets,
    Initiatives,
    Metrics,
    Survey,
    Personal,
}

impl Section {
    pub const ALL: [Section; 6] =
        [Self::Money, Self::Budgets, Self::Initiatives, Self::Metrics, Self::Survey, Self::Personal];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Money => "money",
            Self::Budgets => "budgets",
            Self::Initiatives => "initiatives",
            Self::Metrics => "metrics",
            Self::Survey => "survey",
            Self::Personal => "personal",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|x| x.as_str() == s.trim())
    }

    pub fn label(self) -> &'static str {
        match self {
            Self::Money => "Money in and out, in the period and the year to date",
            Self::Budgets => "Budget, allocated and spent per priority",
            Self::Initiatives => "Initiatives started, completed and at risk",
            Self::Metrics => "Key outcome metrics: trend and progress to target",
            Self::Survey => "The latest survey's headlines and what we changed because of your feedback",
            Self::Personal => "The recipient's organization: dues, survey participation, tier benefits",
        }
    }
}

/// Everything a report says to all its readers, frozen at generation.
#[derive(Clone, Debug, Serialize, Deserialize, ToSchema)]
pub struct ReportContent {
    pub foundation: String,
    pub period: String,
    /// "July to September 2026".
    pub label: String,
    pub starts_on: NaiveDate,
    pub ends_on: NaiveDate,
    /// The base currency every amount is in.
    pub currency: String,
    pub money: Option<MoneySection>,
    pub budgets: Option<BudgetSection>,
    pub initiatives: Option<InitiativeSection>,
    pub metrics: Option<Vec<MetricLine>>,
    pub survey: Option<SurveySection>,
    /// Whether each organization's own section goes in.
    pub personal: bool,
}

/// Money in and out of the foundation (transfers between its funds left out), in minor units; money out is
/// a positive amount.
#[derive(Clone, Debug, Serialize, Deserialize, ToSchema)]
pub struct MoneySection {
    pub period_in: i64,
    pub period_out: i64,
    /// The fiscal year the period ends in, if one is set up; else the calendar year.
    pub year_label: String,
    pub year_starts_on: NaiveDate,
    pub year_in: i64,
    pub year_out: i64,
}

#[derive(Clone, Debug, Serialize, Deserialize, ToSchema)]
pub struct BudgetSection {
    pub year_label: String,
    pub lines: Vec<BudgetLine>,
}

/// One priority's envelope for the year, as it stood at generation.
// Named apart from funding's `BudgetLine` (a line of a budget): the document keeps one schema per name.
#[derive(Clone, Debug, Serialize, Deserialize, ToSchema)]
#[schema(as = ReportBudgetLine)]
pub struct BudgetLine {
    pub priority_id: i64,
    pub priority: String,
    pub budget_minor: i64,
    pub allocated_minor: i64,
    pub spent_minor: i64,
}

impl BudgetLine {
    /// Share of the budget allocated, 0 to 100, for a bar.
    pub fn allocated_percent(&self) -> i64 {
        share(self.allocated_minor, self.budget_minor)
    }

    /// Share of the budget spent, 0 to 100, for a bar.
    pub fn spent_percent(&self) -> i64 {
        share(self.spent_minor, self.budget_minor)
    }

    pub fn allocated_bar(&self) -> Bar {
        Bar { percent: self.allocated_percent() }
    }

    pub fn spent_bar(&self) -> Bar {
        Bar { percent: self.spent_percent() }
    }
}

/// A progress bar drawn without images: a filled share, 0 to 100.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Bar {
    pub percent: i64,
}

impl Bar {
    pub fn has_fill(&self) -> bool {
        self.percent > 0
    }

    pub fn has_rest(&self) -> bool {
        self.percent < 100
    }
}

fn share(part: i64, whole: i64) -> i64 {
    if whole <= 0 {
        return 0;
    }
    ((i128::from(part.max(0)) * 100 / i128::from(whole)) as i64).clamp(0, 100)
}

#[derive(Clone, Debug, Default, Serialize, Deserialize, ToSchema)]
pub struct InitiativeSection {
    pub started: Vec<InitiativeLine>,
    pub completed: Vec<InitiativeLine>,
    pub at_risk: Vec<InitiativeLine>,
}

impl InitiativeSection {
    pub fn is_empty(&self) -> bool {
        self.started.is_empty() && self.completed.is_empty() && self.at_risk.is_empty()
    }
}

#[derive(Clone, Debug, Serialize, Deserialize, ToSchema)]
pub struct InitiativeLine {
    pub initiative_id: i64,
    pub title: String,
    pub priority_id: i64,
    /// The priority's title; empty in a public copy when the priority is not public.
    pub priority: String,
    /// Why it is at risk; empty for started and completed ones.
    pub note: String,
}

/// One outcome metric over the period.
#[derive(Clone, Debug, Serialize, Deserialize, ToSchema)]
pub struct MetricLine {
    pub metric_id: i64,
    pub name: String,
    pub unit: String,
    /// Its value when the period began and when it ended (thousandths); none before its baseline.
    pub start_milli: Option<i64>,
    pub end_milli: Option<i64>,
    pub target_milli: i64,
    pub target_on: NaiveDate,
    /// How far from baseline to target it had come at the period's end.
    pub percent_to_target: Option<f64>,
    /// `met`, `on_track`, `at_risk`, `off_track` or `no_data`.
    pub status: String,
    pub status_label: String,
    pub higher_is_better: bool,
}

impl MetricLine {
    pub fn show(&self, milli: impl std::borrow::Borrow<i64>) -> String {
        crate::metrics::model::show_value(&self.unit, *milli.borrow())
    }

    /// The value at the period's end, or "no value yet".
    pub fn end_shown(&self) -> String {
        self.end_milli.map(|v| self.show(v)).unwrap_or_else(|| "no value yet".into())
    }

    pub fn target_shown(&self) -> String {
        self.show(self.target_milli)
    }

    /// "up 12", "down 3.5 points", "no change", or empty without both values.
    pub fn trend(&self) -> String {
        let change = |d: i64| {
            if self.unit == "percent" {
                format!("{} points", crate::metrics::model::show_value("count", d))
            } else {
                self.show(d)
            }
        };
        match (self.start_milli, self.end_milli) {
            (Some(a), Some(b)) if b > a => format!("up {}", change(b - a)),
            (Some(a), Some(b)) if b < a => format!("down {}", change(a - b)),
            (Some(_), Some(_)) => "no change".into(),
            _ => String::new(),
        }
    }

    /// Whether the change in the period went the good way.
    pub fn improved(&self) -> bool {
        match (self.start_milli, self.end_milli) {
            (Some(a), Some(b)) => (b > a) == self.higher_is_better && a != b,
            _ => false,
        }
    }

    /// Progress to target, 0 to 100, for a bar.
    pub fn bar_percent(&self) -> i64 {
        self.percent_to_target.map(|p| p.clamp(0.0, 100.0).round() as i64).unwrap_or(0)
    }

    pub fn bar(&self) -> Bar {
        Bar { percent: self.bar_percent() }
    }

    pub fn is_good(&self) -> bool {
        matches!(self.status.as_str(), "met" | "on_track")
    }
}

/// The latest closed survey's headlines, and the council's answers to feedback in the period.
#[derive(Clone, Debug, Default, Serialize, Deserialize, ToSchema)]
pub struct SurveySection {
    pub survey: Option<SurveyHeadline>,
    /// Feedback items the council answered in the period and marked quotable.
    pub feedback: Vec<FeedbackLine>,
}

#[derive(Clone, Debug, Serialize, Deserialize, ToSchema)]
pub struct SurveyHeadline {
    pub survey_id: i64,
    pub title: String,
    pub cycle: String,
    pub closed_on: NaiveDate,
    pub invited: i64,
    pub answered: i64,
    /// Percent, one decimal.
    pub response_rate: Option<f64>,
    /// A few numbers: (question, result), e.g. ("How likely ...", "NPS 32").
    pub headlines: Vec<(String, String)>,
}

#[derive(Clone, Debug, Serialize, Deserialize, ToSchema)]
pub struct FeedbackLine {
    pub subject: String,
    /// `answered`, `planned` or `declined`.
    pub status: String,
    pub answer: String,
}

/// One organization's own section, frozen with the report. Amounts are shown as formatted text.
#[derive(Clone, Debug, Serialize, Deserialize, ToSchema)]
pub struct PersonalSection {
    pub member_id: i64,
    pub organization: String,
    pub status: String,
    pub tier: Option<String>,
    pub benefits: String,
    pub renews_on: Option<NaiveDate>,
    /// Invoices of the fiscal year the period ends in (void ones left out).
    pub invoices: Vec<InvoiceLine>,
    /// What is open on every invoice at the period's end, formatted.
    pub open_total: String,
    pub has_open: bool,
    /// The survey in the report, and whether the organization answered it.
    pub survey: Option<(String, bool)>,
}

#[derive(Clone, Debug, Serialize, Deserialize, ToSchema)]
pub struct InvoiceLine {
    pub label: String,
    pub amount: String,
    pub open: String,
    pub due_on: NaiveDate,
    /// `paid`, `open` or `overdue`, at the period's end.
    pub status: String,
}
