//! Rules and transactions for disbursements: request, approve, reject or cancel, pay.

use diesel::prelude::*;
use serde::Serialize;
use serde_json::json;
use utoipa::ToSchema;

use super::model::{Approval, Disbursement};
use crate::accounts::Identity;
use crate::audit::{self, Actor, Event};
use crate::db::schema::{allocations, disbursement_approvals, disbursements, initiatives, users};
use crate::db::{self, DbConn};
use crate::domain::{self, FieldError, ServiceError};
use crate::funding::service::{self as funding, AllocationView};
use crate::ledger::service::{self as ledger, NewEntry};
use crate::settings::service as settings;

/// How many approvals a request needs: `approvals` (default 1), and at least 2 above `second_above`.
#[derive(Clone, Copy, Debug, Serialize, ToSchema)]
pub struct ApprovalRule {
    pub approvals: i32,
    /// Base-currency minor units; a request above it needs at least two approvers.
    pub second_above_minor: i64,
}

impl ApprovalRule {
    pub fn required_for(&self, base_amount_minor: i64) -> i32 {
        if base_amount_minor > self.second_above_minor {
            self.approvals.max(2)
        } else {
            self.approvals
        }
    }
}

pub const APPROVALS_KEY: &str = "disbursement_approvals";
pub const SECOND_ABOVE_KEY: &str = "disbursement_second_approval_above";

pub fn approval_rule(conn: &mut DbConn) -> Result<ApprovalRule, ServiceError> {
    let approvals = settings::get(conn, APPROVALS_KEY)?.and_then(|v| v.parse().ok()).unwrap_or(1);
    let second_above_minor = settings::get(conn, SECOND_ABOVE_KEY)?.and_then(|v| v.parse().ok()).unwrap_or(1_000_000);
    Ok(ApprovalRule { approvals, second_above_minor })
}

/// Changes the approval rule (admins, on the settings page): 1 to 5 approvers; the amount above which two
/// are needed, in the base currency.
pub fn set_approval_rule(
    conn: &mut DbConn,
    actor: i64,
    approvals: &str,
    second_above: &str,
) -> Result<ApprovalRule, ServiceError> {
    let base = ledger::base_currency(conn)?;
    let mut errors = Vec::new();
    let approvals = match approvals.trim().parse::<i32>() {
        Ok(n) if (1..=5).contains(&n) => Some(n),
        _ => {
            errors.push(FieldError::new("disbursement_approvals", "Enter a number of approvers from 1 to 5."));
            None
        }
    };
    let above = domain::parse_money(second_above, &base, "disbursement_second_approval_above", &mut errors);
    let (Some(approvals), Some(second_above_minor), true) = (approvals, above, errors.is_empty()) else {
        return Err(ServiceError::Validation(errors));
    };
    db::write_transaction(conn, |conn| {
        settings::set(conn, APPROVALS_KEY, &approvals.to_string())?;
        settings::set(conn, SECOND_ABOVE_KEY, &second_above_minor.to_string())?;
        audit::record(
            conn,
            Event::new(Actor::User(actor), "settings.disbursement_approvals_changed")
                .details(json!({ "approvals": approvals, "second_above_minor": second_above_minor })),
        )?;
        Ok(ApprovalRule { approvals, second_above_minor })
    })
}

/// A disbursement request as entered.
#[derive(Clone, Debug, Default)]
pub struct RequestInput {
    pub allocation_id: String,
    pub payee: String,
    pub amount: String,
    /// Empty: the base currency.
    pub currency: String,
    pub purpose: String,
    pub document_url: String,
}

/// Holds the allocation row for the rest of the transaction so requests and payments against it are
/// checked one after the other.
fn lock_allocation(conn: &mut DbConn, allocation_id: i64) -> Result<AllocationView, ServiceError> {
    let n = diesel::update(allocations::table.find(allocation_id))
        .set(allocations::updated_at.eq(db::now()))
        .execute(conn)?;
    if n == 0 {
        return Err(ServiceError::invalid("allocation_id", "Choose one of the initiative's allocations."));
    }
    funding::find_allocation(conn, allocation_id)
}

/// Requests money from an allocation (treasurer or council). What is requested, approved and paid from an
/// allocation never adds up to more than it.
pub fn request(conn: &mut DbConn, actor: i64, input: &RequestInput) -> Result<Disbursement, ServiceError> {
    let base = ledger::base_currency(conn)?;
    let mut errors = Vec::new();
    let allocation_id = input.allocation_id.trim().parse::<i64>().ok();
    if allocation_id.is_none() {
        errors.push(FieldError::new("allocation_id", "Choose the allocation to pay from."));
    }
    let payee = input.payee.trim();
    if payee.is_empty() || payee.len() > 200 {
        errors.push(FieldError::new("payee", "Name who is paid (up to 200 characters)."));
    }
    let currency = if input.currency.trim().is_empty() { base.clone() } else { input.currency.clone() };
    let currency =
        crate::money::parse_currency(&currency).map_err(|e| errors.push(FieldError::new("currency", e))).ok();
    let amount = currency.as_deref().and_then(|c| domain::parse_money(&input.amount, c, "amount", &mut errors));
    if amount == Some(0) {
        errors.push(FieldError::new("amount", "A disbursement must be more than zero."));
    }
    let purpose = input.purpose.trim();
    if purpose.is_empty() || purpose.len() > 2000 {
        errors.push(FieldError::new("purpose", "Say what the money is for (up to 2,000 characters)."));
    }
    let document_url = input.document_url.trim();
    if !document_url.is_empty()
        && (document_url.len() > 2000
            || url::Url::parse(document_url).map(|u| !matches!(u.scheme(), "http" | "https")).unwrap_or(true))
    {
        errors.push(FieldError::new("document_url", "Give a link starting with https:// (or leave it empty)."));
    }
    let (Some(allocation_id), Some(currency), Some(amount), true) =
        (allocation_id, currency, amount, errors.is_empty())
    else {
        return Err(ServiceError::Validation(errors));
    };
    let rule = approval_rule(conn)?;
    db::write_transaction(conn, |conn| {
        let allocation = lock_allocation(conn, allocation_id)?;
        let initiative = funding::find_initiative(conn, allocation.allocation.initiative_id)?;
        if !initiative.is_fundable() {
            return Err(ServiceError::Conflict(format!(
                "The initiative is {}; money is requested only for approved or active initiatives.",
                initiative.status
            )));
        }
        let year = ledger::find_year(conn, allocation.fiscal_year_id)?;
        if year.status == "closed" {
            return Err(ServiceError::Conflict(format!("{} is closed and accepts no entries.", year.label)));
        }
        let (estimate, _) = crate::ledger::rates::to_base(conn, amount, &currency, db::now().date())?;
        let committed = funding::committed_minor(conn, allocation_id)?;
        if committed + estimate > allocation.allocation.amount_minor {
            return Err(ServiceError::invalid(
                "amount",
                format!(
                    "Only {} of the allocation is not yet requested or paid.",
                    crate::money::format(allocation.allocation.amount_minor - committed, &base)
                ),
            ));
        }
        let now = db::now();
        let row: Disbursement = crate::on_backend!(conn, |c| diesel::insert_into(disbursements::table)
            .values((
                disbursements::allocation_id.eq(allocation_id),
                disbursements::payee.eq(payee),
                disbursements::amount_minor.eq(amount),
                disbursements::currency.eq(&currency),
                disbursements::purpose.eq(purpose),
                disbursements::document_url.eq(document_url),
                disbursements::status.eq("requested"),
                disbursements::approvals_required.eq(rule.required_for(estimate)),
                disbursements::requested_by.eq(actor),
                disbursements::requested_at.eq(now),
                disbursements::base_amount_minor.eq(estimate),
                disbursements::updated_at.eq(now),
            ))
            .returning(Disbursement::as_returning())
            .get_result(c))?;
        audit::record(
            conn,
            Event::new(Actor::User(actor), "disbursement.requested")
                .target("disbursement", row.id)
                .details(json!({ "allocation_id": allocation_id, "amount_minor": amount, "currency": currency,
                                 "approvals_required": row.approvals_required })),
        )?;
        Ok(row)
    })
}

pub fn find(conn: &mut DbConn, id: i64) -> Result<Disbursement, ServiceError> {
    disbursements::table
        .find(id)
        .select(Disbursement::as_select())
        .first(conn)
        .optional()?
        .ok_or(ServiceError::NotFound("disbursement"))
}

/// Holds the disbursement row for the rest of the transaction: two approvals or payments of one request
/// run one after the other.
fn lock(conn: &mut DbConn, id: i64) -> Result<Disbursement, ServiceError> {
    diesel::update(disbursements::table.find(id)).set(disbursements::updated_at.eq(db::now())).execute(conn)?;
    find(conn, id)
}

/// Approves a request (treasurer or council). Nobody approves their own request, or the same one twice;
/// with enough approvals it is ready to pay.
pub fn approve(conn: &mut DbConn, actor: &Identity, id: i64) -> Result<Disbursement, ServiceError> {
    db::write_transaction(conn, |conn| {
        let d = lock(conn, id)?;
        if d.status != "requested" {
            return Err(ServiceError::Conflict(format!(
                "This disbursement is {}; only a request is approved.",
                d.status
            )));
        }
        if d.requested_by == actor.user_id {
            return Err(ServiceError::Conflict(
                "You requested this disbursement; someone else must approve it.".into(),
            ));
        }
        let mine: i64 = disbursement_approvals::table
            .filter(disbursement_approvals::disbursement_id.eq(id))
            .filter(disbursement_approvals::approver_id.eq(actor.user_id))
            .count()
            .get_result(conn)?;
        if mine > 0 {
            return Err(ServiceError::Conflict("You have already approved this; it needs another approver.".into()));
        }
        diesel::insert_into(disbursement_approvals::table)
            .values((
                disbursement_approvals::disbursement_id.eq(id),
                disbursement_approvals::approver_id.eq(actor.user_id),
                disbursement_approvals::approved_at.eq(db::now()),
            ))
            .execute(conn)?;
        let count: i64 = disbursement_approvals::table
            .filter(disbursement_approvals::disbursement_id.eq(id))
            .count()
            .get_result(conn)?;
        let ready = count >= i64::from(d.approvals_required);
        if ready {
            diesel::update(disbursements::table.find(id))
                .set((disbursements::status.eq("approved"), disbursements::updated_at.eq(db::now())))
                .execute(conn)?;
        }
        audit::record(
            conn,
            Event::new(Actor::User(actor.user_id), "disbursement.approved")
                .target("disbursement", id)
                .details(json!({ "approvals": count, "required": d.approvals_required, "ready_to_pay": ready })),
        )?;
        find(conn, id)
    })
}

/// Turns a request down with a reason (treasurer or council); the requester withdrawing it cancels it.
/// What was set aside for it becomes available again.
pub fn reject(conn: &mut DbConn, actor: &Identity, id: i64, reason: &str) -> Result<Disbursement, ServiceError> {
    let reason = reason.trim();
    if reason.is_empty() || reason.len() > 2000 {
        return Err(ServiceError::invalid(
            "reason",
            "Give the reason (up to 2,000 characters); the requester sees it.",
        ));
    }
    db::write_transaction(conn, |conn| {
        let d = lock(conn, id)?;
        if !d.is_open() {
            return Err(ServiceError::Conflict(format!(
                "This disbursement is {}; it can no longer be turned down.",
                d.status
            )));
        }
        let status = if d.requested_by == actor.user_id { "cancelled" } else { "rejected" };
        let now = db::now();
        diesel::update(disbursements::table.find(id))
            .set((
                disbursements::status.eq(status),
                disbursements::closed_by.eq(actor.user_id),
                disbursements::closed_at.eq(now),
                disbursements::close_reason.eq(reason),
                disbursements::updated_at.eq(now),
            ))
            .execute(conn)?;
        audit::record(
            conn,
            Event::new(
                Actor::User(actor.user_id),
                if status == "cancelled" { "disbursement.cancelled" } else { "disbursement.rejected" },
            )
            .target("disbursement", id),
        )?;
        find(conn, id)
    })
}

/// Records an approved disbursement as paid (treasurer) and posts it to the ledger, converted at the rate of
/// the payment date. The sum paid from an allocation never exceeds it.
pub fn pay(conn: &mut DbConn, actor: i64, id: i64, paid_on: &str) -> Result<Disbursement, ServiceError> {
    let mut errors = Vec::new();
    let Some(paid_on) = domain::parse_date(paid_on, "paid_on", &mut errors) else {
        return Err(ServiceError::Validation(errors));
    };
    let base = ledger::base_currency(conn)?;
    db::write_transaction(conn, |conn| {
        let d = lock(conn, id)?;
        if d.status != "approved" {
            return Err(ServiceError::Conflict(match d.status.as_str() {
                "requested" => "This disbursement is not approved yet; it cannot be paid.".to_string(),
                "paid" => "This disbursement is already paid.".to_string(),
                other => format!("This disbursement is {other}; it cannot be paid."),
            }));
        }
        let allocation = lock_allocation(conn, d.allocation_id)?;
        let (base_amount, _) = crate::ledger::rates::to_base(conn, d.amount_minor, &d.currency, paid_on)?;
        let paid: Vec<Option<i64>> = disbursements::table
            .filter(disbursements::allocation_id.eq(d.allocation_id))
            .filter(disbursements::status.eq("paid"))
            .select(disbursements::base_amount_minor)
            .load(conn)?;
        let paid: i64 = paid.into_iter().flatten().sum();
        if paid + base_amount > allocation.allocation.amount_minor {
            return Err(ServiceError::Conflict(format!(
                "Paying {} would take the allocation past its {} ({} is paid already).",
                crate::money::format(base_amount, &base),
                crate::money::format(allocation.allocation.amount_minor, &base),
                crate::money::format(paid, &base)
            )));
        }
        let memo = format!("{} to {}: {}", allocation.initiative, d.payee, d.purpose);
        let memo: String = memo.chars().take(500).collect();
        let entry = ledger::post(
            conn,
            &NewEntry {
                entry_date: paid_on,
                kind: "disbursement_paid",
                amount_minor: -d.amount_minor,
                currency: &d.currency,
                priority_id: Some(allocation.priority_id),
                allocation_id: Some(d.allocation_id),
                disbursement_id: Some(id),
                memo: &memo,
                actor: Some(actor),
                ..Default::default()
            },
        )?;
        let now = db::now();
        diesel::update(disbursements::table.find(id))
            .set((
                disbursements::status.eq("paid"),
                disbursements::paid_on.eq(paid_on),
                disbursements::base_amount_minor.eq(-entry.base_amount_minor),
                disbursements::ledger_entry_id.eq(entry.id),
                disbursements::closed_by.eq(actor),
                disbursements::closed_at.eq(now),
                disbursements::updated_at.eq(now),
            ))
            .execute(conn)?;
        audit::record(
            conn,
            Event::new(Actor::User(actor), "disbursement.paid")
                .target("disbursement", id)
                .details(json!({ "ledger_entry_id": entry.id, "amount_minor": d.amount_minor, "currency": d.currency,
                                 "base_amount_minor": -entry.base_amount_minor, "paid_on": paid_on })),
        )?;
        find(conn, id)
    })
}

/// A disbursement with what lists show beside it.
#[derive(Clone, Debug, Serialize, ToSchema)]
pub struct DisbursementRow {
    #[serde(flatten)]
    pub disbursement: Disbursement,
    pub initiative_id: i64,
    pub initiative: String,
    pub approvals: i64,
}

/// Which disbursements to list.
#[derive(Clone, Debug, Default)]
pub struct DisbursementFilter {
    /// A status, or `open` for requested and approved ones.
    pub status: String,
    pub initiative_id: Option<i64>,
    pub page: i64,
}

pub const PAGE_SIZE: i64 = 50;

pub fn list(conn: &mut DbConn, filter: &DisbursementFilter) -> Result<(Vec<DisbursementRow>, i64), ServiceError> {
    let query = || {
        let mut q = disbursements::table.inner_join(allocations::table.inner_join(initiatives::table)).into_boxed();
        match filter.status.as_str() {
            "" => {}
            "open" => q = q.filter(disbursements::status.eq_any(["requested", "approved"])),
            s => q = q.filter(disbursements::status.eq(s.to_string())),
        }
        if let Some(i) = filter.initiative_id {
            q = q.filter(allocations::initiative_id.eq(i));
        }
        q
    };
    let total: i64 = query().count().get_result(conn)?;
    let rows: Vec<(Disbursement, i64, String)> = query()
        .order(disbursements::id.desc())
        .limit(PAGE_SIZE)
        .offset(crate::domain::page_offset(filter.page, PAGE_SIZE))
        .select((Disbursement::as_select(), initiatives::id, initiatives::title))
        .load(conn)?;
    let ids: Vec<i64> = rows.iter().map(|r| r.0.id).collect();
    let approvals: Vec<i64> = disbursement_approvals::table
        .filter(disbursement_approvals::disbursement_id.eq_any(&ids))
        .select(disbursement_approvals::disbursement_id)
        .load(conn)?;
    Ok((
        rows.into_iter()
            .map(|(disbursement, initiative_id, initiative)| DisbursementRow {
                approvals: approvals.iter().filter(|id| **id == disbursement.id).count() as i64,
                disbursement,
                initiative_id,
                initiative,
            })
            .collect(),
        total,
    ))
}

/// An approval with the approver's name.
#[derive(Clone, Debug, Serialize, ToSchema)]
pub struct ApprovalView {
    #[serde(flatten)]
    pub approval: Approval,
    pub approver: String,
}

/// One disbursement with its allocation, approvals and people.
#[derive(Clone, Debug, Serialize, ToSchema)]
pub struct DisbursementDetail {
    pub disbursement: Disbursement,
    pub allocation: AllocationView,
    pub approvals: Vec<ApprovalView>,
    pub requested_by_name: String,
    pub closed_by_name: Option<String>,
}

pub fn detail(conn: &mut DbConn, id: i64) -> Result<DisbursementDetail, ServiceError> {
    let disbursement = find(conn, id)?;
    let allocation = funding::find_allocation(conn, disbursement.allocation_id)?;
    let approvals: Vec<(Approval, String)> = disbursement_approvals::table
        .inner_join(users::table)
        .filter(disbursement_approvals::disbursement_id.eq(id))
        .order(disbursement_approvals::id)
        .select((Approval::as_select(), users::display_name))
        .load(conn)?;
    let name = |conn: &mut DbConn, id: i64| -> Result<String, ServiceError> {
        Ok(users::table.find(id).select(users::display_name).first(conn)?)
    };
    Ok(DisbursementDetail {
        requested_by_name: name(conn, disbursement.requested_by)?,
        closed_by_name: disbursement.closed_by.map(|id| name(conn, id)).transpose()?,
        approvals: approvals.into_iter().map(|(approval, approver)| ApprovalView { approval, approver }).collect(),
        allocation,
        disbursement,
    })
}
