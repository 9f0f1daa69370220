//! Rows of community health: tracked repositories, their maintainers, collector runs, collected items,
//! coverage reports and links from metrics to computed series.

use chrono::{NaiveDate, NaiveDateTime};
use diesel::prelude::*;
use serde::Serialize;
use utoipa::ToSchema;

use crate::db::schema::{
    collector_runs, community_items, community_metric_links, coverage_reports, repositories, repository_maintainers,
};

/// A repository whose activity counts towards the foundation's outcomes (unless excluded).
#[derive(Clone, Debug, Queryable, Selectable, Identifiable, Serialize, ToSchema)]
#[diesel(table_name = repositories)]
pub struct Repository {
    pub id: i64,
    pub owner: String,
    pub name: String,
    pub subproject: String,
    pub priority_id: Option<i64>,
    /// Excluded repositories (archived, documentation) are kept but count nowhere.
    pub included: bool,
    pub exclusion_reason: String,
    pub created_at: NaiveDateTime,
    pub updated_at: NaiveDateTime,
}

impl Repository {
    pub fn full_name(&self) -> String {
        format!("{}/{}", self.owner, self.name)
    }
}

/// Someone who maintained a repository between two dates (`until` open while they still do).
#[derive(Clone, Debug, Queryable, Selectable, Identifiable, Serialize, ToSchema)]
#[diesel(table_name = repository_maintainers)]
pub struct Maintainer {
    pub id: i64,
    pub repository_id: i64,
    pub login: String,
    pub since: NaiveDate,
    pub until: Option<NaiveDate>,
    /// `manual`, `file` (a maintainers file in the repository) or `team`.
    pub source: String,
    pub created_at: NaiveDateTime,
}

/// One collection or import, with its resume cursor and outcome.
#[derive(Clone, Debug, Queryable, Selectable, Identifiable, Serialize, ToSchema)]
#[diesel(table_name = collector_runs)]
pub struct CollectorRun {
    pub id: i64,
    /// `github` or `import`.
    pub kind: String,
    /// `running`, `committed` or `failed` (a failed run resumes at the next one).
    pub status: String,
    pub started_at: NaiveDateTime,
    pub finished_at: Option<NaiveDateTime>,
    pub since: Option<NaiveDateTime>,
    /// The next page of each repository and endpoint, as JSON.
    pub cursor: String,
    pub items: i32,
    /// Items left out and why, as JSON.
    pub skipped: String,
    pub observations: i32,
    pub error: String,
    pub started_by: Option<i64>,
}

/// A pull request, issue, comment, release or advisory as collected.
#[derive(Clone, Debug, Queryable, Selectable, Identifiable, Serialize, ToSchema)]
#[diesel(table_name = community_items)]
pub struct CommunityItem {
    pub id: i64,
    pub repository_id: i64,
    pub kind: String,
    pub github_id: i64,
    pub number: Option<i64>,
    pub author: String,
    pub occurred_at: NaiveDateTime,
    pub merged_at: Option<NaiveDateTime>,
    pub title: String,
    pub detail: String,
    pub url: String,
    pub run_id: Option<i64>,
}

/// Line coverage of a repository on a date.
#[derive(Clone, Debug, Queryable, Selectable, Identifiable, Serialize, ToSchema)]
#[diesel(table_name = coverage_reports)]
pub struct CoverageReport {
    pub id: i64,
    pub repository_id: i64,
    pub measured_on: NaiveDate,
    pub lines_covered: i64,
    pub lines_valid: i64,
    pub format: String,
    pub filename: String,
    pub run_id: Option<i64>,
}

/// Which computed series feeds a metric.
#[derive(Clone, Debug, Queryable, Selectable, Serialize, ToSchema)]
#[diesel(table_name = community_metric_links)]
pub struct MetricLink {
    pub metric_id: i64,
    pub series: String,
    pub scope: String,
    /// `month` or `quarter`.
    pub period: String,
    pub created_at: NaiveDateTime,
}
