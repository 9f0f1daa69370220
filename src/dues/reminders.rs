//! Dues reminders on the treasurer's schedule: before a member's renewal date, and after an invoice falls
//! due unpaid. Each reminder has an idempotency key, so running the job twice, or on two instances at once,
//! emails nobody twice.

use chrono::{Duration, NaiveDate};
use diesel::prelude::*;

use super::model::Invoice;
use crate::config::SigningKey;
use crate::db::schema::{invoices, members, users};
use crate::db::{self, DbConn};
use crate::domain::{FieldError, ServiceError};
use crate::mail::{self, Category, EmailContent, EmailContext, Outgoing};
use crate::members::model::Member;
use crate::settings::service as settings;

const BEFORE_RENEWAL: &str = "reminder_days_before_renewal";
const AFTER_DUE: &str = "reminder_days_after_due";
/// A reminder whose day passed longer ago than this is not sent late (e.g. when a schedule is first set).
const CATCH_UP_DAYS: i64 = 14;

/// When reminders go: days before renewal, and days after an invoice's due date.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Schedule {
    pub before_renewal: Vec<i64>,
    pub after_due: Vec<i64>,
}

impl Schedule {
    pub fn text(days: &[i64]) -> String {
        days.iter().map(|d| d.to_string()).collect::<Vec<_>>().join(", ")
    }
}

fn parse_days(raw: &str, field: &str) -> Result<Vec<i64>, FieldError> {
    let mut days = Vec::new();
    for part in raw.split([',', ' ']).map(str::trim).filter(|p| !p.is_empty()) {
        match part.parse::<i64>() {
            Ok(d) if (1..=365).contains(&d) => days.push(d),
            _ => return Err(FieldError::new(field, format!("'{part}' is not a number of days from 1 to 365."))),
        }
    }
    days.sort_unstable();
    days.dedup();
    if days.len() > 6 {
        return Err(FieldError::new(field, "Six reminders at the most."));
    }
    Ok(days)
}

pub fn schedule(conn: &mut DbConn) -> Result<Schedule, ServiceError> {
    let read = |conn: &mut DbConn, key: &str, default: &str| -> Result<Vec<i64>, ServiceError> {
        let raw = settings::get(conn, key)?.unwrap_or_else(|| default.to_string());
        Ok(parse_days(&raw, key).unwrap_or_default())
    };
    Ok(Schedule { before_renewal: read(conn, BEFORE_RENEWAL, "30")?, after_due: read(conn, AFTER_DUE, "7, 30")? })
}

/// Sets the schedule (treasurer); empty lists turn that kind of reminder off.
pub fn set_schedule(
    conn: &mut DbConn,
    actor: i64,
    before_renewal: &str,
    after_due: &str,
) -> Result<Schedule, ServiceError> {
    let mut errors = Vec::new();
    let before = parse_days(before_renewal, "before_renewal").map_err(|e| errors.push(e)).unwrap_or_default();
    let after = parse_days(after_due, "after_due").map_err(|e| errors.push(e)).unwrap_or_default();
    if !errors.is_empty() {
        return Err(ServiceError::Validation(errors));
    }
    db::write_transaction(conn, |conn| {
        settings::set(conn, BEFORE_RENEWAL, &Schedule::text(&before))?;
        settings::set(conn, AFTER_DUE, &Schedule::text(&after))?;
        crate::audit::record(
            conn,
            crate::audit::Event::new(crate::audit::Actor::User(actor), "dues.reminder_schedule_changed")
                .details(serde_json::json!({ "before_renewal": before, "after_due": after })),
        )?;
        Ok(Schedule { before_renewal: before, after_due: after })
    })
}

pub struct OverdueEmail {
    pub name: String,
    pub organization: String,
    pub invoice: String,
    pub open: String,
    pub due_on: NaiveDate,
    pub days_late: i64,
    pub link: String,
}
crate::email_templates!(
    OverdueEmail,
    "email/dues_overdue/subject.txt",
    "email/dues_overdue/body.txt",
    "email/dues_overdue/body.html"
);

pub struct RenewalEmail {
    pub name: String,
    pub organization: String,
    pub renews_on: NaiveDate,
    pub days: i64,
    pub tier: String,
    pub dues: String,
    pub link: String,
}
crate::email_templates!(
    RenewalEmail,
    "email/renewal_reminder/subject.txt",
    "email/renewal_reminder/body.txt",
    "email/renewal_reminder/body.html"
);

/// Who hears about an organization's dues: its billing contact, else its primary contact, else every active
/// representative.
fn recipients(conn: &mut DbConn, member: &Member) -> Result<Vec<(i64, String, String)>, ServiceError> {
    let reps: Vec<(i64, String, String)> = users::table
        .filter(users::member_id.eq(member.id))
        .filter(users::status.eq("active"))
        .order(users::id)
        .select((users::id, users::email, users::display_name))
        .load(conn)?;
    for contact in [member.billing_contact_id, member.primary_contact_id].into_iter().flatten() {
        if let Some(r) = reps.iter().find(|r| r.0 == contact) {
            return Ok(vec![r.clone()]);
        }
    }
    Ok(reps)
}

/// What a run of the reminder job did.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ReminderRun {
    pub overdue: usize,
    pub renewal: usize,
}

/// Queues every reminder due on `today` that is not queued yet, in one transaction.
pub fn send_due(
    conn: &mut DbConn,
    today: NaiveDate,
    site_name: &str,
    base_url: &str,
    key: &SigningKey,
) -> Result<ReminderRun, ServiceError> {
    let schedule = schedule(conn)?;
    let fail = |e: askama::Error| ServiceError::Internal(format!("reminder email: {e}"));
    db::write_transaction(conn, |conn| {
        let mut run = ReminderRun::default();
        let context = |user_id: i64| EmailContext {
            site_name: site_name.to_string(),
            base_url: base_url.to_string(),
            unsubscribe_url: Some(mail::unsubscribe_url(key, base_url, user_id, Category::Reminders)),
        };
        for days in &schedule.after_due {
            let due_before = today - Duration::days(*days);
            let open: Vec<(Invoice, Member)> = invoices::table
                .inner_join(members::table)
                .filter(invoices::status.eq("open"))
                .filter(invoices::due_on.le(due_before))
                .filter(invoices::due_on.gt(due_before - Duration::days(CATCH_UP_DAYS)))
                .select((Invoice::as_select(), Member::as_select()))
                .load(conn)?;
            for (invoice, member) in open {
                for (user_id, email, name) in recipients(conn, &member)? {
                    let content = OverdueEmail {
                        name: name.clone(),
                        organization: member.name.clone(),
                        invoice: invoice.label(),
                        open: crate::money::format(invoice.open_minor(), &invoice.currency),
                        due_on: invoice.due_on,
                        days_late: (today - invoice.due_on).num_days(),
                        link: format!("{base_url}/invoices/{}", invoice.id),
                    }
                    .render(&context(user_id))
                    .map_err(fail)?;
                    let queued = mail::enqueue(
                        conn,
                        &Outgoing {
                            idempotency_key: format!("dues-overdue:{}:{days}:user:{user_id}", invoice.id),
                            category: Category::Reminders,
                            user_id: Some(user_id),
                            to_address: email,
                            to_name: Some(name),
                            content,
                        },
                    )?;
                    run.overdue += queued as usize;
                }
            }
        }
        for days in &schedule.before_renewal {
            let renews_by = today + Duration::days(*days);
            let renewing: Vec<(Member, Option<crate::members::model::Tier>)> = members::table
                .left_join(crate::db::schema::membership_tiers::table)
                .filter(members::status.eq("active"))
                .filter(members::renews_on.le(renews_by))
                .filter(members::renews_on.gt(renews_by - Duration::days(CATCH_UP_DAYS)))
                .filter(members::renews_on.ge(today))
                .select((Member::as_select(), Option::<crate::members::model::Tier>::as_select()))
                .load(conn)?;
            for (member, tier) in renewing {
                let Some(renews_on) = member.renews_on else { continue };
                for (user_id, email, name) in recipients(conn, &member)? {
                    let content = RenewalEmail {
                        name: name.clone(),
                        organization: member.name.clone(),
                        renews_on,
                        days: (renews_on - today).num_days(),
                        tier: tier.as_ref().map(|t| t.name.clone()).unwrap_or_default(),
                        dues: tier.as_ref().map(|t| t.dues()).unwrap_or_default(),
                        link: format!("{base_url}/members/{}", member.slug),
                    }
                    .render(&context(user_id))
                    .map_err(fail)?;
                    let queued = mail::enqueue(
                        conn,
                        &Outgoing {
                            idempotency_key: format!("dues-renewal:{}:{renews_on}:{days}:user:{user_id}", member.id),
                            category: Category::Reminders,
                            user_id: Some(user_id),
                            to_address: email,
                            to_name: Some(name),
                            content,
                        },
                    )?;
                    run.renewal += queued as usize;
                }
            }
        }
        Ok(run)
    })
}
