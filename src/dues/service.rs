//! Dues: invoices from the tier's yearly dues (prorated to the day for members who join mid-year), numbered
//! without gaps; payments that post to the ledger; voiding that keeps the number and reverses the money.

use chrono::NaiveDate;
use diesel::prelude::*;
use serde_json::json;

use super::model::{Invoice, Payment};
use crate::accounts::{Identity, Role};
use crate::audit::{self, Actor, Event};
use crate::db::schema::{invoices, ledger_entries, members, membership_tiers, payments, sequences};
use crate::db::{self, DbConn};
use crate::domain::{FieldError, ServiceError};
use crate::ledger::model::FiscalYear;
use crate::ledger::service::{self as ledger, NewEntry};
use crate::members::model::{Member, Tier};
use crate::money;

/// Days after issue that an invoice falls due.
pub const DAYS_TO_PAY: i64 = 30;
pub const PAGE_SIZE: i64 = 25;

/// The dues for a year, prorated to the day when the member joined after the year began: the yearly amount
/// times the days from joining to the year's end (both counted) over the days of the year, rounded half up to
/// the minor unit. Returns the amount and the first day billed.
pub fn prorate(annual_minor: i64, year: &FiscalYear, joined_on: Option<NaiveDate>) -> (i64, NaiveDate) {
    match joined_on {
        Some(joined) if joined > year.starts_on && joined <= year.ends_on => {
            let days = year.days() as i128;
            let billed = ((year.ends_on - joined).num_days() + 1) as i128;
            let amount = (annual_minor as i128 * billed * 2 + days) / (days * 2);
            (amount as i64, joined)
        }
        _ => (annual_minor, year.starts_on),
    }
}

/// The next invoice number, taken inside the caller's transaction: if it rolls back, so does the number.
fn next_invoice_number(conn: &mut DbConn) -> Result<i64, ServiceError> {
    let next: i64 = crate::on_backend!(conn, |c| diesel::update(sequences::table.find("invoice"))
        .set(sequences::next_value.eq(sequences::next_value + 1))
        .returning(sequences::next_value)
        .get_result(c))?;
    Ok(next - 1)
}

fn treasurer_only(actor: &Identity) -> Result<(), ServiceError> {
    if actor.has_role(Role::Treasurer) {
        Ok(())
    } else {
        Err(ServiceError::Forbidden)
    }
}

/// Issues the year's dues invoice for one member, unless a live one exists.
pub fn issue_invoice(
    conn: &mut DbConn,
    actor: &Identity,
    member_id: i64,
    fiscal_year_id: i64,
    issued_on: NaiveDate,
) -> Result<Invoice, ServiceError> {
    treasurer_only(actor)?;
    db::write_transaction(conn, |conn| {
        let year = ledger::find_year(conn, fiscal_year_id)?;
        if year.status == "closed" {
            return Err(ServiceError::Conflict(format!("{} is closed; it takes no new invoices.", year.label)));
        }
        let (member, tier): (Member, Option<Tier>) = members::table
            .left_join(membership_tiers::table)
            .filter(members::id.eq(member_id))
            .select((Member::as_select(), Option::<Tier>::as_select()))
            .first(conn)
            .optional()?
            .ok_or(ServiceError::NotFound("member"))?;
        let Some(tier) = tier else {
            return Err(ServiceError::Conflict(format!(
                "{} has no tier, so there are no dues to invoice.",
                member.name
            )));
        };
        if member.status != "active" {
            return Err(ServiceError::Conflict(format!(
                "{} is {}; only active members are invoiced.",
                member.name, member.status
            )));
        }
        if member.joined_on.is_some_and(|j| j > year.ends_on) {
            return Err(ServiceError::Conflict(format!("{} joins after {} ends.", member.name, year.label)));
        }
        let live: i64 = invoices::table
            .filter(invoices::member_id.eq(member_id))
            .filter(invoices::fiscal_year_id.eq(fiscal_year_id))
            .filter(invoices::status.ne("void"))
            .count()
            .get_result(conn)?;
        if live > 0 {
            return Err(ServiceError::Conflict(format!("{} already has an invoice for {}.", member.name, year.label)));
        }
        let (amount, period_start) = prorate(tier.annual_dues_minor, &year, member.joined_on);
        let prorated = period_start != year.starts_on;
        let description = format!(
            "Membership dues {} ({}){}",
            year.label,
            tier.name,
            if prorated { format!(", prorated from {period_start}") } else { String::new() }
        );
        let number = next_invoice_number(conn)?;
        let now = db::now();
        let invoice: Invoice = crate::on_backend!(conn, |c| diesel::insert_into(invoices::table)
            .values((
                invoices::number.eq(number),
                invoices::member_id.eq(member_id),
                invoices::fiscal_year_id.eq(fiscal_year_id),
                invoices::tier_id.eq(tier.id),
                invoices::description.eq(&description),
                invoices::period_start.eq(period_start),
                invoices::period_end.eq(year.ends_on),
                invoices::amount_minor.eq(amount),
                invoices::currency.eq(&tier.currency),
                invoices::issued_on.eq(issued_on),
                invoices::due_on.eq(issued_on + chrono::Duration::days(DAYS_TO_PAY)),
                invoices::status.eq("open"),
                invoices::paid_minor.eq(0),
                invoices::created_at.eq(now),
                invoices::updated_at.eq(now),
            ))
            .returning(Invoice::as_returning())
            .get_result(c))?;
        audit::record(
            conn,
            Event::new(Actor::User(actor.user_id), "invoice.issued").target("invoice", invoice.id).details(
                json!({ "number": number, "member_id": member_id, "amount_minor": amount, "currency": tier.currency }),
            ),
        )?;
        Ok(invoice)
    })
}

/// Issues the year's invoices for every active member that has none yet, all in one transaction.
pub fn issue_for_year(
    conn: &mut DbConn,
    actor: &Identity,
    fiscal_year_id: i64,
    issued_on: NaiveDate,
) -> Result<usize, ServiceError> {
    treasurer_only(actor)?;
    db::write_transaction(conn, |conn| {
        let year = ledger::find_year(conn, fiscal_year_id)?;
        let invoiced = invoices::table
            .filter(invoices::fiscal_year_id.eq(fiscal_year_id))
            .filter(invoices::status.ne("void"))
            .select(invoices::member_id);
        let due: Vec<i64> = members::table
            .filter(members::status.eq("active"))
            .filter(members::tier_id.is_not_null())
            .filter(members::id.ne_all(invoiced))
            .filter(members::joined_on.is_null().or(members::joined_on.le(year.ends_on)))
            .order(members::name)
            .select(members::id)
            .load(conn)?;
        for member_id in &due {
            issue_invoice(conn, actor, *member_id, fiscal_year_id, issued_on)?;
        }
        Ok(due.len())
    })
}

/// Whether `viewer` may see invoices of `member_id`.
fn may_see(viewer: &Identity, member_id: i64) -> bool {
    viewer.has_any(&[Role::Treasurer, Role::Council, Role::Admin])
        || (viewer.has_role(Role::MemberRep) && viewer.member_id == Some(member_id))
}

/// An invoice with its organization and payments.
#[derive(Clone, Debug)]
pub struct InvoiceDetail {
    pub invoice: Invoice,
    pub member: Member,
    pub payments: Vec<Payment>,
    pub year: FiscalYear,
}

pub fn invoice_detail(conn: &mut DbConn, viewer: &Identity, id: i64) -> Result<InvoiceDetail, ServiceError> {
    let invoice: Invoice = invoices::table
        .find(id)
        .select(Invoice::as_select())
        .first(conn)
        .optional()?
        .ok_or(ServiceError::NotFound("invoice"))?;
    if !may_see(viewer, invoice.member_id) {
        return Err(ServiceError::NotFound("invoice"));
    }
    let member = members::table.find(invoice.member_id).select(Member::as_select()).first(conn)?;
    let payments = payments::table
        .filter(payments::invoice_id.eq(id))
        .order(payments::id)
        .select(Payment::as_select())
        .load(conn)?;
    let year = ledger::find_year(conn, invoice.fiscal_year_id)?;
    Ok(InvoiceDetail { invoice, member, payments, year })
}

/// Records a payment (full or part) of an open invoice and posts it to the ledger.
pub fn record_payment(
    conn: &mut DbConn,
    actor: &Identity,
    invoice_id: i64,
    amount: &str,
    paid_on: &str,
    reference: &str,
) -> Result<Payment, ServiceError> {
    treasurer_only(actor)?;
    db::write_transaction(conn, |conn| {
        hold_invoice(conn, invoice_id)?;
        let detail = invoice_detail(conn, actor, invoice_id)?;
        let invoice = detail.invoice;
        let mut errors = Vec::new();
        if invoice.status != "open" {
            return Err(ServiceError::Conflict(format!(
                "{} is {}; it takes no payments.",
                invoice.label(),
                invoice.status
            )));
        }
        let amount =
            money::parse_amount(amount, &invoice.currency).map_err(|m| errors.push(FieldError::new("amount", m))).ok();
        if amount == Some(0) {
            errors.push(FieldError::new("amount", "A payment is more than zero."));
        }
        if let Some(a) = amount.filter(|a| *a > invoice.open_minor()) {
            errors.push(FieldError::new(
                "amount",
                format!(
                    "{} is more than the open balance of {}.",
                    money::format(a, &invoice.currency),
                    money::format(invoice.open_minor(), &invoice.currency)
                ),
            ));
        }
        let paid_on = match NaiveDate::parse_from_str(paid_on.trim(), "%Y-%m-%d") {
            Ok(d) if d > db::now().date() + chrono::Duration::days(1) => {
                errors.push(FieldError::new("paid_on", "A payment cannot be dated in the future."));
                None
            }
            Ok(d) => Some(d),
            Err(_) => {
                errors.push(FieldError::new("paid_on", "Enter the date the money arrived, like 2026-07-01."));
                None
            }
        };
        let reference = reference.trim();
        if reference.chars().count() > 200 {
            errors.push(FieldError::new("reference", "Keep the reference under 200 characters."));
        }
        if !errors.is_empty() {
            return Err(ServiceError::Validation(errors));
        }
        let (amount, paid_on) = (amount.unwrap_or_default(), paid_on.unwrap_or_default());
        let payment: Payment = crate::on_backend!(conn, |c| diesel::insert_into(payments::table)
            .values((
                payments::invoice_id.eq(invoice_id),
                payments::amount_minor.eq(amount),
                payments::currency.eq(&invoice.currency),
                payments::paid_on.eq(paid_on),
                payments::reference.eq(reference),
                payments::recorded_by.eq(actor.user_id),
                payments::created_at.eq(db::now()),
            ))
            .returning(Payment::as_returning())
            .get_result(c))?;
        let memo = format!("Dues {} from {}", invoice.label(), detail.member.name);
        ledger::post(
            conn,
            &NewEntry {
                entry_date: paid_on,
                kind: "dues_received",
                amount_minor: amount,
                currency: &invoice.currency,
                member_id: Some(invoice.member_id),
                invoice_id: Some(invoice_id),
                payment_id: Some(payment.id),
                memo: &memo,
                actor: Some(actor.user_id),
                ..Default::default()
            },
        )?;
        let paid = invoice.paid_minor + amount;
        let status = if paid >= invoice.amount_minor { "paid" } else { "open" };
        diesel::update(invoices::table.find(invoice_id))
            .set((invoices::paid_minor.eq(paid), invoices::status.eq(status), invoices::updated_at.eq(db::now())))
            .execute(conn)?;
        audit::record(
            conn,
            Event::new(Actor::User(actor.user_id), "invoice.payment_recorded")
                .target("invoice", invoice_id)
                .details(json!({ "amount_minor": amount, "paid_on": paid_on, "status": status })),
        )?;
        Ok(payment)
    })
}

/// Voids an invoice: it keeps its number, and every payment on it is reversed in the ledger.
/// Holds the invoice's row for the rest of the transaction, so that two payments (or a payment and a void)
/// run one after the other: each reads the paid amount the other wrote. Without it, PostgreSQL's
/// READ COMMITTED let concurrent payments each add to the same old amount (the soak found it); SQLite's
/// `BEGIN IMMEDIATE` serializes them already.
fn hold_invoice(conn: &mut DbConn, invoice_id: i64) -> Result<(), ServiceError> {
    diesel::update(invoices::table.find(invoice_id)).set(invoices::updated_at.eq(db::now())).execute(conn)?;
    Ok(())
}

pub fn void_invoice(conn: &mut DbConn, actor: &Identity, invoice_id: i64, reason: &str) -> Result<(), ServiceError> {
    treasurer_only(actor)?;
    let reason = reason.trim();
    if reason.is_empty() || reason.chars().count() > 500 {
        return Err(ServiceError::invalid("reason", "Say why the invoice is void (up to 500 characters)."));
    }
    db::write_transaction(conn, |conn| {
        hold_invoice(conn, invoice_id)?;
        let detail = invoice_detail(conn, actor, invoice_id)?;
        if detail.invoice.status == "void" {
            return Err(ServiceError::Conflict(format!("{} is already void.", detail.invoice.label())));
        }
        let today = db::now().date();
        let entries: Vec<(i64, NaiveDate)> = ledger_entries::table
            .filter(ledger_entries::invoice_id.eq(invoice_id))
            .filter(ledger_entries::kind.eq("dues_received"))
            .select((ledger_entries::id, ledger_entries::entry_date))
            .load(conn)?;
        let memo = format!("Void {}: {reason}", detail.invoice.label());
        // A reversal is dated today when today's year is open, else on the payment's own date (its year must
        // still be open); a closed year is never written to.
        let today_open = ledger::open_year_for(conn, today).is_ok();
        for (entry, paid_on) in entries {
            let date = if today_open { today } else { paid_on };
            ledger::reverse(conn, entry, date, &memo, Some(actor.user_id))?;
        }
        diesel::update(invoices::table.find(invoice_id))
            .set((
                invoices::status.eq("void"),
                invoices::void_reason.eq(reason),
                invoices::voided_at.eq(db::now()),
                invoices::updated_at.eq(db::now()),
            ))
            .execute(conn)?;
        audit::record(
            conn,
            Event::new(Actor::User(actor.user_id), "invoice.voided")
                .target("invoice", invoice_id)
                .details(json!({ "number": detail.invoice.number, "refunded_minor": detail.invoice.paid_minor })),
        )
    })
}

#[derive(Clone, Debug, Default)]
pub struct InvoiceFilter {
    pub member_id: Option<i64>,
    pub fiscal_year_id: Option<i64>,
    /// `open`, `paid`, `void` or `overdue`.
    pub status: String,
    pub page: i64,
}

/// Invoices the viewer may see, newest number first, with the organization's name.
pub fn list_invoices(
    conn: &mut DbConn,
    viewer: &Identity,
    filter: &InvoiceFilter,
) -> Result<(Vec<(Invoice, String)>, i64), ServiceError> {
    let own = if viewer.has_any(&[Role::Treasurer, Role::Council, Role::Admin]) {
        None
    } else {
        Some(viewer.member_id.unwrap_or(-1))
    };
    let today = db::now().date();
    let query = || {
        let mut q = invoices::table.inner_join(members::table).into_boxed();
        if let Some(id) = own.or(filter.member_id) {
            q = q.filter(invoices::member_id.eq(id));
        }
        if let Some(y) = filter.fiscal_year_id {
            q = q.filter(invoices::fiscal_year_id.eq(y));
        }
        match filter.status.as_str() {
            "overdue" => q = q.filter(invoices::status.eq("open")).filter(invoices::due_on.lt(today)),
            s @ ("open" | "paid" | "void") => q = q.filter(invoices::status.eq(s.to_string())),
            _ => {}
        }
        q
    };
    let total = query().count().get_result(conn)?;
    let rows = query()
        .order(invoices::number.desc())
        .limit(PAGE_SIZE)
        .offset(crate::domain::page_offset(filter.page, PAGE_SIZE))
        .select((Invoice::as_select(), members::name))
        .load(conn)?;
    Ok((rows, total))
}

/// What the overdue invoices the viewer may see still owe, per currency (currency, minor units), summed by
/// the database.
pub fn overdue_owed(conn: &mut DbConn, viewer: &Identity) -> Result<Vec<(String, i64)>, ServiceError> {
    use diesel::dsl::sql;
    use diesel::sql_types::BigInt;
    let today = db::now().date();
    let mut q = invoices::table
        .filter(invoices::status.eq("open"))
        .filter(invoices::due_on.lt(today))
        .group_by(invoices::currency)
        .select((invoices::currency, sql::<BigInt>("CAST(SUM(amount_minor - paid_minor) AS BIGINT)")))
        .order(invoices::currency)
        .into_boxed();
    if !viewer.has_any(&[Role::Treasurer, Role::Council, Role::Admin]) {
        q = q.filter(invoices::member_id.eq(viewer.member_id.unwrap_or(-1)));
    }
    Ok(q.load(conn)?)
}

/// Invoices as CSV, cells neutralised against formulas.
pub fn export_csv(conn: &mut DbConn, viewer: &Identity) -> Result<String, ServiceError> {
    let filter = InvoiceFilter { page: 1, ..Default::default() };
    let mut all = Vec::new();
    let mut page = 1;
    loop {
        let (rows, total) = list_invoices(conn, viewer, &InvoiceFilter { page, ..filter.clone() })?;
        all.extend(rows);
        if all.len() as i64 >= total {
            break;
        }
        page += 1;
    }
    let mut out = csv::Writer::from_writer(Vec::new());
    let fail = |e: csv::Error| ServiceError::Internal(format!("writing CSV: {e}"));
    out.write_record([
        "number",
        "organization",
        "description",
        "amount",
        "paid",
        "currency",
        "issued_on",
        "due_on",
        "status",
    ])
    .map_err(fail)?;
    for (i, org) in all {
        let record = [
            i.label(),
            org,
            i.description.clone(),
            money::plain(i.amount_minor, &i.currency),
            money::plain(i.paid_minor, &i.currency),
            i.currency.clone(),
            i.issued_on.to_string(),
            i.due_on.to_string(),
            i.status.clone(),
        ];
        out.write_record(record.iter().map(|v| crate::domain::csv_cell(v))).map_err(fail)?;
    }
    let bytes = out.into_inner().map_err(|e| ServiceError::Internal(format!("writing CSV: {e}")))?;
    String::from_utf8(bytes).map_err(|e| ServiceError::Internal(e.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn year(starts: &str, ends: &str) -> FiscalYear {
        let d = |s: &str| NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap();
        FiscalYear {
            id: 1,
            label: "FY".into(),
            starts_on: d(starts),
            ends_on: d(ends),
            status: "open".into(),
            created_at: db::now(),
            updated_at: db::now(),
        }
    }

    fn on(s: &str) -> Option<NaiveDate> {
        Some(NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap())
    }

    #[test]
    fn proration_to_the_day() {
        let y2025 = year("2025-01-01", "2025-12-31");
        // Joined before or on the first day: the whole year.
        assert_eq!(prorate(1_000_000, &y2025, on("2024-06-01")).0, 1_000_000);
        assert_eq!(prorate(1_000_000, &y2025, on("2025-01-01")).0, 1_000_000);
        assert_eq!(prorate(1_000_000, &y2025, None).0, 1_000_000);
        // 2025-07-01 to 2025-12-31 is 184 of 365 days: 10,000.00 * 184 / 365 = 5,041.0958... -> 5,041.10.
        assert_eq!(prorate(1_000_000, &y2025, on("2025-07-01")), (504_110, on("2025-07-01").unwrap()));
        // The last day alone: 10,000.00 / 365 = 27.397... -> 27.40.
        assert_eq!(prorate(1_000_000, &y2025, on("2025-12-31")).0, 2_740);
        // Month edge: from 2025-03-01 is 306 days -> 8,383.5616... -> 8,383.56.
        assert_eq!(prorate(1_000_000, &y2025, on("2025-03-01")).0, 838_356);
        // Leap year: 2024-03-01 to 2024-12-31 is 306 of 366 days -> 8,360.6557... -> 8,360.66.
        let y2024 = year("2024-01-01", "2024-12-31");
        assert_eq!(prorate(1_000_000, &y2024, on("2024-03-01")).0, 836_066);
        // 2024-02-29 itself: 307 of 366 -> 8,387.9781... -> 8,387.98.
        assert_eq!(prorate(1_000_000, &y2024, on("2024-02-29")).0, 838_798);
        // A July-June fiscal year, and half a cent rounding up: 1 minor unit * 183/366 = 0.5 -> 1.
        let july = year("2024-07-01", "2025-06-30");
        assert_eq!(july.days(), 365);
        assert_eq!(prorate(1, &year("2024-01-01", "2024-12-31"), on("2024-07-02")).0, 1);
        // Zero-decimal currencies round to whole units the same way.
        assert_eq!(prorate(500_000, &y2025, on("2025-07-01")).0, 252_055);
    }
}
