//! Rows of disbursements and their approvals.

use chrono::{NaiveDate, NaiveDateTime};
use diesel::prelude::*;
use serde::Serialize;
use utoipa::ToSchema;

use crate::db::schema::{disbursement_approvals, disbursements};

/// Money going out against an allocation.
#[derive(Clone, Debug, Queryable, Selectable, Identifiable, Serialize, ToSchema)]
#[diesel(table_name = disbursements)]
pub struct Disbursement {
    pub id: i64,
    pub allocation_id: i64,
    pub payee: String,
    /// In minor units of `currency`.
    pub amount_minor: i64,
    pub currency: String,
    pub purpose: String,
    pub document_url: String,
    /// `requested`, `approved`, `paid`, `rejected` or `cancelled`.
    pub status: String,
    pub approvals_required: i32,
    pub requested_by: i64,
    pub requested_at: NaiveDateTime,
    /// Who rejected, cancelled or paid it.
    pub closed_by: Option<i64>,
    pub closed_at: Option<NaiveDateTime>,
    pub close_reason: Option<String>,
    pub paid_on: Option<NaiveDate>,
    /// In the base currency: estimated at the rate of the request day, exact once paid.
    pub base_amount_minor: Option<i64>,
    pub ledger_entry_id: Option<i64>,
    pub updated_at: NaiveDateTime,
}

impl Disbursement {
    pub fn amount(&self) -> String {
        crate::money::format(self.amount_minor, &self.currency)
    }

    pub fn is_open(&self) -> bool {
        matches!(self.status.as_str(), "requested" | "approved")
    }
}

#[derive(Clone, Debug, Queryable, Selectable, Serialize, ToSchema)]
#[diesel(table_name = disbursement_approvals)]
pub struct Approval {
    pub id: i64,
    pub disbursement_id: i64,
    pub approver_id: i64,
    pub approved_at: NaiveDateTime,
}
