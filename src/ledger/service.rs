//! Fiscal years and the ledger. Entries are only ever added: a mistake is corrected by a reversing entry,
//! and every balance is a sum of entries.

use chrono::NaiveDate;
use diesel::prelude::*;
use serde::Serialize;
use serde_json::json;

use super::model::{FiscalYear, LedgerEntry};
use crate::audit::{self, Actor, Event};
use crate::db::schema::{fiscal_years, ledger_entries};
use crate::db::{self, DbConn};
use crate::domain::{FieldError, ServiceError};

/// The currency balances are kept in (a setting; USD unless changed).
pub fn base_currency(conn: &mut DbConn) -> Result<String, ServiceError> {
    Ok(crate::settings::service::get(conn, "base_currency")?.unwrap_or_else(|| "USD".into()))
}

pub fn list_years(conn: &mut DbConn) -> Result<Vec<FiscalYear>, ServiceError> {
    Ok(fiscal_years::table.order(fiscal_years::starts_on.desc()).select(FiscalYear::as_select()).load(conn)?)
}

pub fn find_year(conn: &mut DbConn, id: i64) -> Result<FiscalYear, ServiceError> {
    fiscal_years::table
        .find(id)
        .select(FiscalYear::as_select())
        .first(conn)
        .optional()?
        .ok_or(ServiceError::NotFound("fiscal year"))
}

/// The fiscal year a date falls in, if any.
pub fn year_of(conn: &mut DbConn, date: NaiveDate) -> Result<Option<FiscalYear>, ServiceError> {
    Ok(fiscal_years::table
        .filter(fiscal_years::starts_on.le(date))
        .filter(fiscal_years::ends_on.ge(date))
        .select(FiscalYear::as_select())
        .first(conn)
        .optional()?)
}

/// Adds a fiscal year in planning; years may not overlap.
pub fn create_year(
    conn: &mut DbConn,
    actor: i64,
    label: &str,
    starts_on: &str,
    ends_on: &str,
) -> Result<FiscalYear, ServiceError> {
    let mut errors = Vec::new();
    let label = label.trim().to_string();
    if label.is_empty() || label.len() > 40 {
        errors.push(FieldError::new("label", "Name the year, e.g. FY2027 (up to 40 characters)."));
    }
    let date = |raw: &str, field: &str, errors: &mut Vec<FieldError>| {
        NaiveDate::parse_from_str(raw.trim(), "%Y-%m-%d")
            .map_err(|_| errors.push(FieldError::new(field, "Enter a date like 2027-01-01.")))
            .ok()
    };
    let starts = date(starts_on, "starts_on", &mut errors);
    let ends = date(ends_on, "ends_on", &mut errors);
    if let (Some(s), Some(e)) = (starts, ends) {
        if e <= s {
            errors.push(FieldError::new("ends_on", "The year must end after it starts."));
        } else if (e - s).num_days() > 400 {
            errors.push(FieldError::new("ends_on", "A fiscal year lasts at most about a year."));
        }
    }
    if !errors.is_empty() {
        return Err(ServiceError::Validation(errors));
    }
    let (starts, ends) = (starts.unwrap_or_default(), ends.unwrap_or_default());
    db::write_transaction(conn, |conn| {
        let overlapping: i64 = fiscal_years::table
            .filter(fiscal_years::starts_on.le(ends))
            .filter(fiscal_years::ends_on.ge(starts))
            .count()
            .get_result(conn)?;
        if overlapping > 0 {
            return Err(ServiceError::invalid("starts_on", "These dates overlap another fiscal year."));
        }
        if fiscal_years::table.filter(fiscal_years::label.eq(&label)).count().get_result::<i64>(conn)? > 0 {
            return Err(ServiceError::invalid("label", "Another fiscal year has this name."));
        }
        let now = db::now();
        let year: FiscalYear = crate::on_backend!(conn, |c| diesel::insert_into(fiscal_years::table)
            .values((
                fiscal_years::label.eq(&label),
                fiscal_years::starts_on.eq(starts),
                fiscal_years::ends_on.eq(ends),
                fiscal_years::status.eq("planning"),
                fiscal_years::created_at.eq(now),
                fiscal_years::updated_at.eq(now),
            ))
            .returning(FiscalYear::as_returning())
            .get_result(c))?;
        audit::record(conn, Event::new(Actor::User(actor), "fiscal_year.created").target("fiscal_year", year.id))?;
        Ok(year)
    })
}

/// Moves a year forward: planning → open → closed. A closed year never opens again.
pub fn set_year_status(conn: &mut DbConn, actor: i64, id: i64, status: &str) -> Result<(), ServiceError> {
    db::write_transaction(conn, |conn| {
        let year = find_year(conn, id)?;
        let allowed = matches!((year.status.as_str(), status), ("planning", "open") | ("open", "closed"));
        if !allowed {
            return Err(ServiceError::Conflict(format!(
                "{} is {}; it can only move from planning to open to closed.",
                year.label, year.status
            )));
        }
        diesel::update(fiscal_years::table.find(id))
            .set((fiscal_years::status.eq(status), fiscal_years::updated_at.eq(db::now())))
            .execute(conn)?;
        audit::record(
            conn,
            Event::new(Actor::User(actor), "fiscal_year.status_changed")
                .target("fiscal_year", id)
                .details(json!({ "from": year.status, "to": status })),
        )
    })
}

/// An entry to post.
#[derive(Clone, Debug)]
pub struct NewEntry<'a> {
    pub entry_date: NaiveDate,
    pub kind: &'a str,
    pub amount_minor: i64,
    pub currency: &'a str,
    pub member_id: Option<i64>,
    pub invoice_id: Option<i64>,
    pub payment_id: Option<i64>,
    pub memo: &'a str,
    pub actor: Option<i64>,
}

/// The open fiscal year a date falls in, or why an entry on that date is refused.
pub fn open_year_for(conn: &mut DbConn, date: NaiveDate) -> Result<FiscalYear, ServiceError> {
    match year_of(conn, date)? {
        Some(year) if year.status == "open" => Ok(year),
        Some(year) if year.status == "closed" => Err(ServiceError::Conflict(format!(
            "{} is closed and accepts no entries; use a date in an open year.",
            year.label
        ))),
        Some(year) => Err(ServiceError::Conflict(format!("{} is still in planning; open it first.", year.label))),
        None => Err(ServiceError::Conflict(format!("No fiscal year covers {date}; add one first."))),
    }
}

/// Posts an entry inside the caller's transaction, into the open year of its date, in the base currency.
pub fn post(conn: &mut DbConn, entry: &NewEntry<'_>) -> Result<LedgerEntry, ServiceError> {
    let year = open_year_for(conn, entry.entry_date)?;
    let base = base_currency(conn)?;
    if entry.currency != base {
        return Err(ServiceError::Conflict(format!(
            "There is no exchange rate from {} to {base}; record amounts in {base}.",
            entry.currency
        )));
    }
    insert(conn, entry, year.id, None)
}

fn insert(
    conn: &mut DbConn,
    entry: &NewEntry<'_>,
    fiscal_year_id: i64,
    reverses: Option<i64>,
) -> Result<LedgerEntry, ServiceError> {
    Ok(crate::on_backend!(conn, |c| diesel::insert_into(ledger_entries::table)
        .values((
            ledger_entries::entry_date.eq(entry.entry_date),
            ledger_entries::fiscal_year_id.eq(fiscal_year_id),
            ledger_entries::kind.eq(entry.kind),
            ledger_entries::amount_minor.eq(entry.amount_minor),
            ledger_entries::currency.eq(entry.currency),
            ledger_entries::base_amount_minor.eq(entry.amount_minor),
            ledger_entries::exchange_rate.eq("1"),
            ledger_entries::member_id.eq(entry.member_id),
            ledger_entries::invoice_id.eq(entry.invoice_id),
            ledger_entries::payment_id.eq(entry.payment_id),
            ledger_entries::reverses_entry_id.eq(reverses),
            ledger_entries::memo.eq(entry.memo),
            ledger_entries::created_at.eq(db::now()),
            ledger_entries::created_by.eq(entry.actor),
        ))
        .returning(LedgerEntry::as_returning())
        .get_result(c))?)
}

/// Cancels an entry with its exact opposite, dated `date` (in an open year). An entry is reversed once.
pub fn reverse(
    conn: &mut DbConn,
    entry_id: i64,
    date: NaiveDate,
    memo: &str,
    actor: Option<i64>,
) -> Result<LedgerEntry, ServiceError> {
    let original: LedgerEntry = ledger_entries::table
        .find(entry_id)
        .select(LedgerEntry::as_select())
        .first(conn)
        .optional()?
        .ok_or(ServiceError::NotFound("ledger entry"))?;
    if original.reverses_entry_id.is_some() {
        return Err(ServiceError::Conflict("A reversal is not reversed; post a new entry instead.".into()));
    }
    let already: i64 =
        ledger_entries::table.filter(ledger_entries::reverses_entry_id.eq(entry_id)).count().get_result(conn)?;
    if already > 0 {
        return Err(ServiceError::Conflict("This entry is already reversed.".into()));
    }
    let year = open_year_for(conn, date)?;
    let opposite = NewEntry {
        entry_date: date,
        kind: "reversal",
        amount_minor: -original.amount_minor,
        currency: &original.currency,
        member_id: original.member_id,
        invoice_id: original.invoice_id,
        payment_id: original.payment_id,
        memo,
        actor,
    };
    insert(conn, &opposite, year.id, Some(entry_id))
}

/// A fiscal year's money: in, out and the balance, all summed from entries.
#[derive(Clone, Debug, Serialize)]
pub struct YearBalance {
    pub year: FiscalYear,
    pub currency: String,
    pub money_in: i64,
    pub money_out: i64,
    pub balance: i64,
}

impl YearBalance {
    /// (money in, money out, balance) formatted for pages.
    pub fn shown(&self) -> (String, String, String) {
        let f = |v: i64| crate::money::format(v, &self.currency);
        (f(self.money_in), f(self.money_out), f(self.balance))
    }
}

pub fn balances(conn: &mut DbConn) -> Result<Vec<YearBalance>, ServiceError> {
    let years = list_years(conn)?;
    let currency = base_currency(conn)?;
    let sums: Vec<(i64, i64)> =
        ledger_entries::table.select((ledger_entries::fiscal_year_id, ledger_entries::base_amount_minor)).load(conn)?;
    Ok(years
        .into_iter()
        .map(|year| {
            let amounts: Vec<i64> = sums.iter().filter(|(y, _)| *y == year.id).map(|(_, a)| *a).collect();
            let money_in: i64 = amounts.iter().filter(|a| **a > 0).sum();
            let money_out: i64 = amounts.iter().filter(|a| **a < 0).sum();
            YearBalance { year, currency: currency.clone(), money_in, money_out, balance: money_in + money_out }
        })
        .collect())
}

pub const PAGE_SIZE: i64 = 50;

pub fn list_entries(
    conn: &mut DbConn,
    year_id: Option<i64>,
    page: i64,
) -> Result<(Vec<LedgerEntry>, i64), ServiceError> {
    let query = || {
        let mut q = ledger_entries::table.into_boxed();
        if let Some(y) = year_id {
            q = q.filter(ledger_entries::fiscal_year_id.eq(y));
        }
        q
    };
    let total = query().count().get_result(conn)?;
    let rows = query()
        .order((ledger_entries::entry_date.desc(), ledger_entries::id.desc()))
        .limit(PAGE_SIZE)
        .offset((page.max(1) - 1) * PAGE_SIZE)
        .select(LedgerEntry::as_select())
        .load(conn)?;
    Ok((rows, total))
}

/// Every entry as CSV for the accountant, cells neutralised against formulas.
pub fn export_csv(conn: &mut DbConn) -> Result<String, ServiceError> {
    let rows: Vec<LedgerEntry> =
        ledger_entries::table.order(ledger_entries::id).select(LedgerEntry::as_select()).load(conn)?;
    let mut out = csv::Writer::from_writer(Vec::new());
    let fail = |e: csv::Error| ServiceError::Internal(format!("writing CSV: {e}"));
    out.write_record([
        "id",
        "date",
        "kind",
        "amount",
        "currency",
        "base_amount",
        "exchange_rate",
        "member_id",
        "invoice_id",
        "payment_id",
        "reverses_entry_id",
        "memo",
    ])
    .map_err(fail)?;
    let opt = |v: Option<i64>| v.map(|v| v.to_string()).unwrap_or_default();
    for e in rows {
        let record = [
            e.id.to_string(),
            e.entry_date.to_string(),
            e.kind,
            crate::money::plain(e.amount_minor, &e.currency),
            e.currency.clone(),
            crate::money::plain(e.base_amount_minor, &e.currency),
            e.exchange_rate,
            opt(e.member_id),
            opt(e.invoice_id),
            opt(e.payment_id),
            opt(e.reverses_entry_id),
            e.memo,
        ];
        out.write_record(record.iter().map(|v| crate::domain::csv_cell(v))).map_err(fail)?;
    }
    let bytes = out.into_inner().map_err(|e| ServiceError::Internal(format!("writing CSV: {e}")))?;
    String::from_utf8(bytes).map_err(|e| ServiceError::Internal(e.to_string()))
}
