//! Rows of dues: invoices and payments.

use chrono::{NaiveDate, NaiveDateTime};
use diesel::prelude::*;
use serde::Serialize;
use utoipa::ToSchema;

use crate::db::schema::{invoices, payments};

#[derive(Clone, Debug, Queryable, Selectable, Identifiable, Serialize, ToSchema)]
#[diesel(table_name = invoices)]
pub struct Invoice {
    pub id: i64,
    /// Gapless: every number from 1 up belongs to exactly one invoice, void ones included.
    pub number: i64,
    pub member_id: i64,
    pub fiscal_year_id: i64,
    pub tier_id: Option<i64>,
    pub description: String,
    pub period_start: NaiveDate,
    pub period_end: NaiveDate,
    pub amount_minor: i64,
    pub currency: String,
    pub issued_on: NaiveDate,
    pub due_on: NaiveDate,
    /// `open`, `paid` or `void`.
    pub status: String,
    pub paid_minor: i64,
    pub void_reason: Option<String>,
    pub voided_at: Option<NaiveDateTime>,
    pub created_at: NaiveDateTime,
    pub updated_at: NaiveDateTime,
}

impl Invoice {
    pub fn open_minor(&self) -> i64 {
        if self.status == "void" {
            0
        } else {
            self.amount_minor - self.paid_minor
        }
    }

    pub fn is_overdue(&self, today: NaiveDate) -> bool {
        self.status == "open" && self.due_on < today && self.open_minor() > 0
    }

    /// How the number is printed: INV-000042.
    pub fn label(&self) -> String {
        format!("INV-{:06}", self.number)
    }

    /// (amount, paid, open) formatted for pages.
    pub fn shown(&self) -> (String, String, String) {
        let f = |v: i64| crate::money::format(v, &self.currency);
        (f(self.amount_minor), f(self.paid_minor), f(self.open_minor()))
    }
}

#[derive(Clone, Debug, Queryable, Selectable, Identifiable, Serialize, ToSchema)]
#[diesel(table_name = payments)]
pub struct Payment {
    pub id: i64,
    pub invoice_id: i64,
    pub amount_minor: i64,
    pub currency: String,
    pub paid_on: NaiveDate,
    pub reference: String,
    pub recorded_by: Option<i64>,
    pub created_at: NaiveDateTime,
}

impl Payment {
    pub fn amount(&self) -> String {
        crate::money::format(self.amount_minor, &self.currency)
    }
}
