//! The treasurer's picture of one fiscal year, gathered from the features that hold each part.

use serde::Serialize;
use utoipa::ToSchema;

use crate::accounts::Identity;
use crate::db::DbConn;
use crate::disbursements::service::{self as disbursements, DisbursementFilter, DisbursementRow};
use crate::domain::ServiceError;
use crate::dues::model::Invoice;
use crate::dues::service::{self as dues, InvoiceFilter};
use crate::funding::service::{self as funding, BudgetUse};
use crate::ledger::model::FiscalYear;
use crate::ledger::service::{self as ledger, FundBalance, MonthTotals};

/// An overdue invoice with its organization.
#[derive(Clone, Debug, Serialize, ToSchema)]
pub struct OverdueInvoice {
    #[serde(flatten)]
    pub invoice: Invoice,
    pub organization: String,
    pub open_minor: i64,
}

/// Everything the treasurer's dashboard shows for a year. Every figure is summed from its source rows.
#[derive(Clone, Debug, Serialize, ToSchema)]
pub struct Dashboard {
    pub year: FiscalYear,
    pub years: Vec<FiscalYear>,
    pub currency: String,
    /// What the foundation holds: the sum of every ledger entry, all years.
    pub overall_balance_minor: i64,
    pub money_in_minor: i64,
    pub money_out_minor: i64,
    pub months: Vec<MonthTotals>,
    pub budgets: Vec<BudgetUse>,
    pub funds: Vec<FundBalance>,
    pub open_disbursements: Vec<DisbursementRow>,
    pub open_disbursement_count: i64,
    pub overdue: Vec<OverdueInvoice>,
    pub overdue_count: i64,
    /// What overdue invoices still owe, per currency (currency, minor units).
    pub overdue_owed: Vec<(String, i64)>,
}

/// The dashboard for `year_id` (or the current year); `None` when there is no fiscal year yet.
pub fn dashboard(
    conn: &mut DbConn,
    viewer: &Identity,
    year_id: Option<i64>,
) -> Result<Option<Dashboard>, ServiceError> {
    let years = ledger::list_years(conn)?;
    let year = ledger::year_to_show(conn, year_id)?;
    let Some(year) = year else { return Ok(None) };
    let (months, funds) = ledger::year_figures(conn, &year)?;
    let (open_disbursements, open_disbursement_count) =
        disbursements::list(conn, &DisbursementFilter { status: "open".into(), page: 1, ..Default::default() })?;
    let (overdue_rows, overdue_count) =
        dues::list_invoices(conn, viewer, &InvoiceFilter { status: "overdue".into(), page: 1, ..Default::default() })?;
    let overdue: Vec<OverdueInvoice> = overdue_rows
        .into_iter()
        .map(|(invoice, organization)| OverdueInvoice { open_minor: invoice.open_minor(), invoice, organization })
        .collect();
    Ok(Some(Dashboard {
        currency: ledger::base_currency(conn)?,
        overall_balance_minor: ledger::overall_balance(conn)?,
        money_in_minor: months.iter().map(|m| m.money_in).sum(),
        money_out_minor: months.iter().map(|m| m.money_out).sum(),
        budgets: funding::budget_overview(conn, year.id)?,
        funds,
        overdue_owed: dues::overdue_owed(conn, viewer)?,
        months,
        open_disbursements,
        open_disbursement_count,
        overdue,
        overdue_count,
        year,
        years,
    }))
}
