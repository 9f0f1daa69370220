//! Rows of the ledger.

use chrono::{NaiveDate, NaiveDateTime};
use diesel::prelude::*;
use serde::Serialize;
use utoipa::ToSchema;

use crate::db::schema::{fiscal_years, ledger_entries};

#[derive(Clone, Debug, Queryable, Selectable, Identifiable, Serialize, ToSchema)]
#[diesel(table_name = fiscal_years)]
pub struct FiscalYear {
    pub id: i64,
    pub label: String,
    pub starts_on: NaiveDate,
    pub ends_on: NaiveDate,
    /// `planning`, `open` (takes entries) or `closed` (takes none, ever again).
    pub status: String,
    pub created_at: NaiveDateTime,
    pub updated_at: NaiveDateTime,
}

impl FiscalYear {
    pub fn contains(&self, date: NaiveDate) -> bool {
        self.starts_on <= date && date <= self.ends_on
    }

    /// Days in the year, both ends counted.
    pub fn days(&self) -> i64 {
        (self.ends_on - self.starts_on).num_days() + 1
    }
}

impl LedgerEntry {
    /// The amount formatted for pages.
    pub fn amount(&self) -> String {
        crate::money::format(self.amount_minor, &self.currency)
    }
}

#[derive(Clone, Debug, Queryable, Selectable, Identifiable, Serialize, ToSchema)]
#[diesel(table_name = ledger_entries)]
pub struct LedgerEntry {
    pub id: i64,
    pub entry_date: NaiveDate,
    pub fiscal_year_id: i64,
    /// `dues_received`, `disbursement_paid`, `adjustment`, `transfer` or `reversal`.
    pub kind: String,
    /// Positive: money in; negative: money out; in minor units of `currency`.
    pub amount_minor: i64,
    pub currency: String,
    /// The amount in the foundation's base currency.
    pub base_amount_minor: i64,
    pub exchange_rate: String,
    pub member_id: Option<i64>,
    pub invoice_id: Option<i64>,
    pub payment_id: Option<i64>,
    /// For a reversal: the entry it cancels.
    pub reverses_entry_id: Option<i64>,
    pub memo: String,
    pub created_at: NaiveDateTime,
    pub created_by: Option<i64>,
    /// The fund the money belongs to: a priority's, or none for the general fund.
    pub priority_id: Option<i64>,
    pub allocation_id: Option<i64>,
    pub disbursement_id: Option<i64>,
    /// For a transfer's second leg: its first.
    pub transfer_of_entry_id: Option<i64>,
}
