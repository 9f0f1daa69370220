//! Fiscal years and the ledger. Entries are only ever added: a mistake is corrected by a reversing entry,
//! and every balance is a sum of entries.

use chrono::{Datelike, NaiveDate};
use diesel::prelude::*;
use serde::Serialize;
use serde_json::json;

use super::model::{FiscalYear, LedgerEntry};
use crate::audit::{self, Actor, Event};
use crate::db::schema::{fiscal_years, ledger_entries};
use crate::db::{self, DbConn};
use crate::domain::{self, FieldError, ServiceError};

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

/// The year to show: the one asked for, else the one today falls in, else the newest; none without years.
pub fn year_to_show(conn: &mut DbConn, asked: Option<i64>) -> Result<Option<FiscalYear>, ServiceError> {
    if let Some(id) = asked {
        return find_year(conn, id).map(Some);
    }
    match year_of(conn, crate::db::now().date())? {
        Some(year) => Ok(Some(year)),
        None => Ok(list_years(conn)?.into_iter().next()),
    }
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
    let starts = domain::parse_date(starts_on, "starts_on", &mut errors);
    let ends = domain::parse_date(ends_on, "ends_on", &mut errors);
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

/// An entry to post. What it does not name stays empty (`..Default::default()`).
#[derive(Clone, Debug, Default)]
pub struct NewEntry<'a> {
    pub entry_date: NaiveDate,
    pub kind: &'a str,
    /// Positive: money in; negative: money out; in minor units of `currency`.
    pub amount_minor: i64,
    pub currency: &'a str,
    pub member_id: Option<i64>,
    pub invoice_id: Option<i64>,
    pub payment_id: Option<i64>,
    pub priority_id: Option<i64>,
    pub allocation_id: Option<i64>,
    pub disbursement_id: Option<i64>,
    pub transfer_of_entry_id: Option<i64>,
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

/// Posts an entry inside the caller's transaction, into the open year of its date. An entry in a foreign
/// currency is converted at the rate in force on its date; without one it is refused.
pub fn post(conn: &mut DbConn, entry: &NewEntry<'_>) -> Result<LedgerEntry, ServiceError> {
    let year = open_year_for(conn, entry.entry_date)?;
    let (base_amount, rate) = super::rates::to_base(conn, entry.amount_minor, entry.currency, entry.entry_date)?;
    insert(conn, entry, year.id, None, base_amount, &rate.to_string())
}

/// The ledger's volume, the sum of every entry's base amount taken positive, stays within `i64`: then every
/// balance, month, fund, year and overall total (each a signed sum of some entries) fits in `i64` too, on
/// pages, in the API and in the database's own `SUM`. With each amount at most `money::MAX_MINOR` that takes
/// at least 92,233 entries of the largest amount; the sum is read (as text: PostgreSQL sums `BIGINT` as
/// `NUMERIC`) from the same index the balances read, and an entry that would take it beyond `i64` is refused.
fn check_volume(conn: &mut DbConn, base_amount: i64) -> Result<(), ServiceError> {
    use diesel::sql_types::{Nullable, Text};
    let too_large = || {
        ServiceError::invalid(
            "amount",
            "The ledger cannot take this amount: its entries would add up to more than Steward can count.",
        )
    };
    if base_amount.unsigned_abs() > crate::money::MAX_MINOR as u64 {
        return Err(too_large());
    }
    let volume: Option<String> = ledger_entries::table
        .select(diesel::dsl::sql::<Nullable<Text>>("CAST(SUM(ABS(base_amount_minor)) AS TEXT)"))
        .first(conn)?;
    let volume: i128 =
        volume.as_deref().unwrap_or("0").parse().map_err(|_| ServiceError::Internal("the ledger's volume".into()))?;
    if volume + base_amount.unsigned_abs() as i128 > i64::MAX as i128 {
        return Err(too_large());
    }
    Ok(())
}

fn insert(
    conn: &mut DbConn,
    entry: &NewEntry<'_>,
    fiscal_year_id: i64,
    reverses: Option<i64>,
    base_amount: i64,
    rate: &str,
) -> Result<LedgerEntry, ServiceError> {
    check_volume(conn, base_amount)?;
    Ok(crate::on_backend!(conn, |c| diesel::insert_into(ledger_entries::table)
        .values((
            ledger_entries::entry_date.eq(entry.entry_date),
            ledger_entries::fiscal_year_id.eq(fiscal_year_id),
            ledger_entries::kind.eq(entry.kind),
            ledger_entries::amount_minor.eq(entry.amount_minor),
            ledger_entries::currency.eq(entry.currency),
            ledger_entries::base_amount_minor.eq(base_amount),
            ledger_entries::exchange_rate.eq(rate),
            ledger_entries::member_id.eq(entry.member_id),
            ledger_entries::invoice_id.eq(entry.invoice_id),
            ledger_entries::payment_id.eq(entry.payment_id),
            ledger_entries::reverses_entry_id.eq(reverses),
            ledger_entries::memo.eq(entry.memo),
            ledger_entries::created_at.eq(db::now()),
            ledger_entries::created_by.eq(entry.actor),
            ledger_entries::priority_id.eq(entry.priority_id),
            ledger_entries::allocation_id.eq(entry.allocation_id),
            ledger_entries::disbursement_id.eq(entry.disbursement_id),
            ledger_entries::transfer_of_entry_id.eq(entry.transfer_of_entry_id),
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
        priority_id: original.priority_id,
        allocation_id: original.allocation_id,
        disbursement_id: original.disbursement_id,
        transfer_of_entry_id: None,
        memo,
        actor,
    };
    // The exact opposite, at the original's rate, so the pair sums to zero in both currencies.
    insert(conn, &opposite, year.id, Some(entry_id), -original.base_amount_minor, &original.exchange_rate)
}

/// A fiscal year's money: in, out and the balance, all summed from entries.
#[derive(Clone, Debug, Serialize, utoipa::ToSchema)]
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

/// In, out and balance of a set of (kind, transfer_of, reverses, base amount) rows. A reversal counts on the
/// side of what it reverses, so a voided payment is less money in, not money out.
fn sum_in_out(rows: &[&EntrySums]) -> (i64, i64, i64) {
    let (mut money_in, mut money_out, mut balance) = (0i128, 0i128, 0i128);
    for r in rows {
        balance += r.base_amount_minor;
        if r.transfer {
            continue;
        }
        if r.income {
            money_in += r.base_amount_minor;
        } else {
            money_out += r.base_amount_minor;
        }
    }
    (narrow(money_in), narrow(money_out), narrow(balance))
}

/// A total back in `i64`. While `check_volume` holds every total fits; a ledger changed by hand beyond it
/// shows the largest number rather than failing the pages that show it.
fn narrow(total: i128) -> i64 {
    i64::try_from(total).unwrap_or(if total < 0 { i64::MIN } else { i64::MAX })
}

/// What the sums need of one entry.
#[derive(Clone, Debug)]
struct EntrySums {
    fiscal_year_id: i64,
    priority_id: Option<i64>,
    month: String,
    /// Money in (or the reversal of money in).
    income: bool,
    /// Transfers move money between funds inside the foundation: they count in a fund's balance, never as
    /// money in or out of the foundation.
    transfer: bool,
    base_amount_minor: i128,
}

/// One query for every entry's year, priority, month and direction; reversals take their original's.
fn entry_sums(conn: &mut DbConn, year_id: Option<i64>) -> Result<Vec<EntrySums>, ServiceError> {
    entry_sums_within(conn, year_id, None)
}

/// [`entry_sums`] of the entries of a year, of dates from..=to, or both.
fn entry_sums_within(
    conn: &mut DbConn,
    year_id: Option<i64>,
    dates: Option<(NaiveDate, NaiveDate)>,
) -> Result<Vec<EntrySums>, ServiceError> {
    use std::collections::HashMap;
    // Read from one index (`ledger_entries_sums`) and summed here: a database GROUP BY sorts every row first and
    // is slower than this on SQLite. Kinds are not read as text: the database says whether an entry is a transfer.
    let is_transfer = ledger_entries::kind.eq("transfer").or(ledger_entries::transfer_of_entry_id.is_not_null());
    let mut q = ledger_entries::table.into_boxed();
    if let Some(y) = year_id {
        q = q.filter(ledger_entries::fiscal_year_id.eq(y));
    }
    if let Some((from, to)) = dates {
        q = q.filter(ledger_entries::entry_date.ge(from)).filter(ledger_entries::entry_date.le(to));
    }
    type Row = (i64, Option<i64>, NaiveDate, i64, bool, Option<i64>);
    let rows: Vec<Row> = q
        .select((
            ledger_entries::fiscal_year_id,
            ledger_entries::priority_id,
            ledger_entries::entry_date,
            ledger_entries::base_amount_minor,
            is_transfer,
            ledger_entries::reverses_entry_id,
        ))
        .load(conn)?;
    // A reversal counts on its original's side and as its kind; the original may lie in another year.
    let reversed: Vec<i64> = rows.iter().filter_map(|r| r.5).collect();
    let originals: HashMap<i64, (i64, bool)> = if reversed.is_empty() {
        HashMap::new()
    } else {
        ledger_entries::table
            .filter(ledger_entries::id.eq_any(&reversed))
            .select((ledger_entries::id, ledger_entries::base_amount_minor, is_transfer))
            .load::<(i64, i64, bool)>(conn)?
            .into_iter()
            .map(|(id, amount, transfer)| (id, (amount, transfer)))
            .collect()
    };
    // (year, fund, calendar year, month, money in, transfer) -> sum
    type Group = (i64, Option<i64>, i32, u32, bool, bool);
    // Added up in i128: no number of entries overflows it (each fits i64), and the ledger's volume bound
    // (`check_volume`) keeps every group's total within i64.
    let mut sums: HashMap<Group, i128> = HashMap::new();
    for (year, priority, date, amount, transfer, reverses) in rows {
        let (signed, transfer) = reverses.and_then(|id| originals.get(&id).copied()).unwrap_or((amount, transfer));
        *sums.entry((year, priority, date.year(), date.month(), signed > 0, transfer)).or_default() += amount as i128;
    }
    Ok(sums
        .into_iter()
        .map(|((fiscal_year_id, priority_id, y, m, income, transfer), total)| EntrySums {
            fiscal_year_id,
            priority_id,
            month: format!("{y:04}-{m:02}"),
            income,
            transfer,
            base_amount_minor: total,
        })
        .collect())
}

pub fn balances(conn: &mut DbConn) -> Result<Vec<YearBalance>, ServiceError> {
    let years = list_years(conn)?;
    let currency = base_currency(conn)?;
    let sums = entry_sums(conn, None)?;
    Ok(years
        .into_iter()
        .map(|year| {
            let rows: Vec<&EntrySums> = sums.iter().filter(|r| r.fiscal_year_id == year.id).collect();
            let (money_in, money_out, balance) = sum_in_out(&rows);
            YearBalance { year, currency: currency.clone(), money_in, money_out, balance }
        })
        .collect())
}

/// One fund's money in a year: a priority's, or the general fund's (`priority_id` none).
#[derive(Clone, Debug, Serialize, utoipa::ToSchema)]
pub struct FundBalance {
    pub priority_id: Option<i64>,
    pub money_in: i64,
    pub money_out: i64,
    /// Transfers in less transfers out.
    pub transfers: i64,
    pub balance: i64,
}

/// Balances per fund for one year (or all years), each summed from the entries.
pub fn fund_balances(conn: &mut DbConn, year_id: Option<i64>) -> Result<Vec<FundBalance>, ServiceError> {
    Ok(funds_of(&entry_sums(conn, year_id)?))
}

fn funds_of(sums: &[EntrySums]) -> Vec<FundBalance> {
    let mut funds: Vec<Option<i64>> = sums.iter().map(|r| r.priority_id).collect();
    funds.sort();
    funds.dedup();
    funds
        .into_iter()
        .map(|fund| {
            let rows: Vec<&EntrySums> = sums.iter().filter(|r| r.priority_id == fund).collect();
            let (money_in, money_out, balance) = sum_in_out(&rows);
            FundBalance { priority_id: fund, money_in, money_out, transfers: balance - money_in - money_out, balance }
        })
        .collect()
}

/// Money in and out of the foundation per month of a year (transfers between funds left out).
#[derive(Clone, Debug, Serialize, utoipa::ToSchema)]
pub struct MonthTotals {
    /// `YYYY-MM`
    pub month: String,
    pub money_in: i64,
    pub money_out: i64,
}

/// Every month of the year, in order, including months with no entries.
pub fn monthly(conn: &mut DbConn, year: &FiscalYear) -> Result<Vec<MonthTotals>, ServiceError> {
    Ok(months_of(year, &entry_sums(conn, Some(year.id))?))
}

/// A year's months and its funds' balances, from one sum of its entries.
pub fn year_figures(
    conn: &mut DbConn,
    year: &FiscalYear,
) -> Result<(Vec<MonthTotals>, Vec<FundBalance>), ServiceError> {
    let sums = entry_sums(conn, Some(year.id))?;
    Ok((months_of(year, &sums), funds_of(&sums)))
}

fn months_of(year: &FiscalYear, sums: &[EntrySums]) -> Vec<MonthTotals> {
    let mut months = Vec::new();
    let mut day = year.starts_on.with_day(1).unwrap_or(year.starts_on);
    while day <= year.ends_on {
        let month = day.format("%Y-%m").to_string();
        let rows: Vec<&EntrySums> = sums.iter().filter(|r| r.month == month).collect();
        let (money_in, money_out, _) = sum_in_out(&rows);
        months.push(MonthTotals { month, money_in, money_out });
        day = match day.checked_add_months(chrono::Months::new(1)) {
            Some(next) => next,
            None => break,
        };
    }
    months
}

/// Money in and out of the foundation on the days from `from` to `to`, both included, in the base currency
/// (transfers between funds left out; a reversal counts on its original's side, on its own date).
pub fn totals_between(conn: &mut DbConn, from: NaiveDate, to: NaiveDate) -> Result<(i64, i64), ServiceError> {
    let sums = entry_sums_within(conn, None, Some((from, to)))?;
    let (money_in, money_out, _) = sum_in_out(&sums.iter().collect::<Vec<_>>());
    Ok((money_in, money_out))
}

/// The sum of every entry in the base currency: what the foundation holds.
pub fn overall_balance(conn: &mut DbConn) -> Result<i64, ServiceError> {
    use diesel::sql_types::{Nullable, Text};
    // Read as text: PostgreSQL sums BIGINT as NUMERIC; within the volume bound it fits i64.
    let total: Option<String> = ledger_entries::table
        .select(diesel::dsl::sql::<Nullable<Text>>("CAST(SUM(base_amount_minor) AS TEXT)"))
        .first(conn)?;
    let total: i128 =
        total.as_deref().unwrap_or("0").parse().map_err(|_| ServiceError::Internal("the ledger's sum".into()))?;
    Ok(narrow(total))
}

/// A correction or other entry the treasurer posts by hand.
#[derive(Clone, Debug, Default)]
pub struct AdjustmentInput {
    pub entry_date: String,
    /// `in` or `out`.
    pub direction: String,
    pub amount: String,
    pub currency: String,
    pub priority_id: Option<i64>,
    pub memo: String,
}

/// Posts an adjustment (treasurer): in or out of the foundation, optionally charged to a priority's fund.
pub fn post_adjustment(conn: &mut DbConn, actor: i64, input: &AdjustmentInput) -> Result<LedgerEntry, ServiceError> {
    let mut errors = Vec::new();
    let date = domain::parse_date(&input.entry_date, "entry_date", &mut errors);
    let sign = match input.direction.as_str() {
        "in" => 1,
        "out" => -1,
        _ => {
            errors.push(FieldError::new("direction", "Choose money in or money out."));
            0
        }
    };
    let base = base_currency(conn)?;
    let currency = if input.currency.trim().is_empty() { base } else { input.currency.trim().to_ascii_uppercase() };
    let currency =
        crate::money::parse_currency(&currency).map_err(|e| errors.push(FieldError::new("currency", e))).ok();
    let amount = currency.as_deref().and_then(|c| domain::parse_money(&input.amount, c, "amount", &mut errors));
    if amount == Some(0) {
        errors.push(FieldError::new("amount", "An adjustment must be more than zero."));
    }
    let memo = input.memo.trim();
    if memo.is_empty() || memo.len() > 500 {
        errors.push(FieldError::new("memo", "Say why, in up to 500 characters: the accountant reads this."));
    }
    let (Some(date), Some(currency), Some(amount), true) = (date, currency, amount, errors.is_empty()) else {
        return Err(ServiceError::Validation(errors));
    };
    db::write_transaction(conn, |conn| {
        check_priority(conn, input.priority_id, "priority_id")?;
        let entry = post(
            conn,
            &NewEntry {
                entry_date: date,
                kind: "adjustment",
                amount_minor: sign * amount,
                currency: &currency,
                priority_id: input.priority_id,
                memo,
                actor: Some(actor),
                ..Default::default()
            },
        )?;
        audit::record(
            conn,
            Event::new(Actor::User(actor), "ledger.adjustment_posted")
                .target("ledger_entry", entry.id)
                .details(json!({ "amount_minor": entry.amount_minor, "currency": entry.currency })),
        )?;
        Ok(entry)
    })
}

fn check_priority(conn: &mut DbConn, priority_id: Option<i64>, field: &str) -> Result<(), ServiceError> {
    use crate::db::schema::funding_priorities;
    if let Some(id) = priority_id {
        let found: i64 = funding_priorities::table.filter(funding_priorities::id.eq(id)).count().get_result(conn)?;
        if found == 0 {
            return Err(ServiceError::invalid(field, "There is no such priority."));
        }
    }
    Ok(())
}

/// A move of money between two funds (a priority's or the general fund).
#[derive(Clone, Debug, Default)]
pub struct TransferInput {
    pub entry_date: String,
    pub amount: String,
    pub from_priority_id: Option<i64>,
    pub to_priority_id: Option<i64>,
    pub memo: String,
}

/// Posts a transfer as two entries that sum to zero (treasurer), in the base currency.
pub fn post_transfer(
    conn: &mut DbConn,
    actor: i64,
    input: &TransferInput,
) -> Result<(LedgerEntry, LedgerEntry), ServiceError> {
    let mut errors = Vec::new();
    let base = base_currency(conn)?;
    let date = domain::parse_date(&input.entry_date, "entry_date", &mut errors);
    let amount = domain::parse_money(&input.amount, &base, "amount", &mut errors);
    if amount == Some(0) {
        errors.push(FieldError::new("amount", "A transfer must be more than zero."));
    }
    if input.from_priority_id == input.to_priority_id {
        errors.push(FieldError::new("to_priority_id", "Choose a different fund to move the money to."));
    }
    let memo = input.memo.trim();
    if memo.is_empty() || memo.len() > 500 {
        errors.push(FieldError::new("memo", "Say why, in up to 500 characters."));
    }
    let (Some(date), Some(amount), true) = (date, amount, errors.is_empty()) else {
        return Err(ServiceError::Validation(errors));
    };
    db::write_transaction(conn, |conn| {
        check_priority(conn, input.from_priority_id, "from_priority_id")?;
        check_priority(conn, input.to_priority_id, "to_priority_id")?;
        let leg = |priority_id, amount_minor, transfer_of_entry_id| NewEntry {
            entry_date: date,
            kind: "transfer",
            amount_minor,
            currency: &base,
            priority_id,
            transfer_of_entry_id,
            memo,
            actor: Some(actor),
            ..Default::default()
        };
        let out = post(conn, &leg(input.from_priority_id, -amount, None))?;
        let into = post(conn, &leg(input.to_priority_id, amount, Some(out.id)))?;
        audit::record(
            conn,
            Event::new(Actor::User(actor), "ledger.transfer_posted")
                .target("ledger_entry", out.id)
                .details(json!({ "amount_minor": amount, "from": input.from_priority_id, "to": input.to_priority_id })),
        )?;
        Ok((out, into))
    })
}

/// Reverses an adjustment or a transfer (both legs) by hand (treasurer). Dues payments are reversed by
/// voiding their invoice, and paid disbursements by an adjustment, so their records stay consistent.
pub fn reverse_entry(
    conn: &mut DbConn,
    actor: i64,
    entry_id: i64,
    date: &str,
    memo: &str,
) -> Result<Vec<LedgerEntry>, ServiceError> {
    let mut errors = Vec::new();
    let date = domain::parse_date(date, "entry_date", &mut errors);
    let memo = memo.trim();
    if memo.is_empty() || memo.len() > 500 {
        errors.push(FieldError::new("memo", "Say why, in up to 500 characters."));
    }
    let (Some(date), true) = (date, errors.is_empty()) else {
        return Err(ServiceError::Validation(errors));
    };
    db::write_transaction(conn, |conn| {
        let entry: LedgerEntry = ledger_entries::table
            .find(entry_id)
            .select(LedgerEntry::as_select())
            .first(conn)
            .optional()?
            .ok_or(ServiceError::NotFound("ledger entry"))?;
        let legs: Vec<i64> = match entry.kind.as_str() {
            "adjustment" => vec![entry.id],
            "transfer" => {
                let first = entry.transfer_of_entry_id.unwrap_or(entry.id);
                let second: Option<i64> = ledger_entries::table
                    .filter(ledger_entries::transfer_of_entry_id.eq(first))
                    .select(ledger_entries::id)
                    .first(conn)
                    .optional()?;
                std::iter::once(first).chain(second).collect()
            }
            "dues_received" => {
                return Err(ServiceError::Conflict("A dues payment is reversed by voiding its invoice.".into()))
            }
            "disbursement_paid" => {
                return Err(ServiceError::Conflict(
                    "A paid disbursement stays on record; post an adjustment for money that came back.".into(),
                ))
            }
            _ => return Err(ServiceError::Conflict("A reversal is not reversed; post a new entry instead.".into())),
        };
        let mut out = Vec::new();
        for id in legs {
            out.push(reverse(conn, id, date, memo, Some(actor))?);
        }
        audit::record(conn, Event::new(Actor::User(actor), "ledger.entry_reversed").target("ledger_entry", entry_id))?;
        Ok(out)
    })
}

/// (id, title) of every priority, for naming funds on ledger pages.
pub fn priority_names(conn: &mut DbConn) -> Result<Vec<(i64, String)>, ServiceError> {
    use crate::db::schema::funding_priorities;
    Ok(funding_priorities::table
        .order(funding_priorities::position)
        .select((funding_priorities::id, funding_priorities::title))
        .load(conn)?)
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
        .offset(crate::domain::page_offset(page, PAGE_SIZE))
        .select(LedgerEntry::as_select())
        .load(conn)?;
    Ok((rows, total))
}

/// Which of these entries have been reversed already.
pub fn reversed_among(conn: &mut DbConn, ids: &[i64]) -> Result<Vec<i64>, ServiceError> {
    let reversed: Vec<Option<i64>> = ledger_entries::table
        .filter(ledger_entries::reverses_entry_id.eq_any(ids))
        .select(ledger_entries::reverses_entry_id)
        .load(conn)?;
    Ok(reversed.into_iter().flatten().collect())
}

/// Every entry as CSV for the accountant, cells neutralised against formulas.
pub fn export_csv(conn: &mut DbConn) -> Result<String, ServiceError> {
    let base = base_currency(conn)?;
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
        "transfer_of_entry_id",
        "priority_id",
        "allocation_id",
        "disbursement_id",
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
            crate::money::plain(e.base_amount_minor, &base),
            e.exchange_rate,
            opt(e.member_id),
            opt(e.invoice_id),
            opt(e.payment_id),
            opt(e.reverses_entry_id),
            opt(e.transfer_of_entry_id),
            opt(e.priority_id),
            opt(e.allocation_id),
            opt(e.disbursement_id),
            e.memo,
        ];
        out.write_record(record.iter().map(|v| crate::domain::csv_cell(v))).map_err(fail)?;
    }
    let bytes = out.into_inner().map_err(|e| ServiceError::Internal(format!("writing CSV: {e}")))?;
    String::from_utf8(bytes).map_err(|e| ServiceError::Internal(e.to_string()))
}
