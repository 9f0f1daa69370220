//! `steward bench report`: a foundation of N member organizations with R representatives each (a year's
//! invoices, ledger entries, a budget, metrics with observations), then the last ended quarter's report:
//! generated (figures frozen, every organization's section), sent (one email per representative queued) and
//! delivered by the real worker to an in-process SMTP sink. Prints each step's time and the peak memory.

use std::time::Instant;

use diesel::prelude::*;

use super::{peak_memory_kib, BenchError};
use crate::accounts::model::AuthMethod;
use crate::accounts::{Identity, Role};
use crate::audit::Actor;
use crate::config::{Config, ConfigError, Secret, SigningKey};
use crate::db::schema::{members, user_roles, users};
use crate::db::{self, DbConn};
use crate::domain::ServiceError;
use crate::reports::period::{Frequency, Period};

#[derive(Clone, Debug)]
pub struct Options {
    pub organizations: u32,
    pub representatives: u32,
    /// An empty scratch PostgreSQL database; `None`: a temporary SQLite file.
    pub database_url: Option<String>,
}

fn service(e: ServiceError) -> BenchError {
    BenchError::Mismatch(format!("seeding failed: {e}"))
}

pub fn run(options: &Options) -> Result<(), BenchError> {
    if options.organizations == 0 || options.representatives == 0 {
        return Err(ConfigError::new("--organizations", "organizations and representatives must be at least 1").into());
    }
    let mut config = Config::from_lookup(|_| None)?;
    config.base_url = "https://steward.bench.invalid".into();
    let (_scratch, db, where_) = super::open_database(options.database_url.as_deref(), config.mail.concurrency + 2)?;
    let mut conn = db.get()?;
    let existing: i64 = members::table.count().get_result(&mut conn)?;
    if existing > 0 {
        return Err(ConfigError::new("--database-url", "must be an empty scratch database (it has members)").into());
    }
    let today = db::now().date();
    let period = Period::last_ended(Frequency::Quarterly, today);
    println!(
        "steward bench report: {} organizations x {} representatives on {where_}; the {} report",
        options.organizations,
        options.representatives,
        period.code()
    );
    let started = Instant::now();
    seed(&mut conn, options, &period).map_err(service)?;
    println!("  seeded in {:.1} s", started.elapsed().as_secs_f64());

    let started = Instant::now();
    let generated = crate::reports::service::generate(&mut conn, Actor::Cli, &period, today, "Bench Foundation")
        .map_err(service)?;
    let generate_time = started.elapsed();

    let mut key = [0u8; 32];
    rand::RngCore::fill_bytes(&mut rand::rng(), &mut key);
    let key = SigningKey(Secret::new(hex::encode(key)));
    let mail = crate::surveys::service::MailSettings {
        site_name: "Bench Foundation".into(),
        base_url: config.base_url.clone(),
        key: key.clone(),
    };
    let started = Instant::now();
    let sent = crate::reports::service::send(&mut conn, Actor::Cli, &period.code(), &mail).map_err(service)?;
    let send_time = started.elapsed();
    let sections: i64 = crate::db::schema::report_members::table.count().get_result(&mut conn)?;
    let invoices: i64 = crate::db::schema::invoices::table.count().get_result(&mut conn)?;
    let entries: i64 = crate::db::schema::ledger_entries::table.count().get_result(&mut conn)?;
    drop(conn);

    let (deliver_time, report, received) = super::deliver_to_sink(&db, &config, key)?;

    let size = generated.report.content.as_deref().map(str::len).unwrap_or(0);
    println!("  data: {invoices} invoices, {entries} ledger entries, 10 metrics with monthly observations");
    println!(
        "  generate: {:.3} s (frozen content {size} bytes and {sections} organizations' own sections)",
        generate_time.as_secs_f64()
    );
    println!(
        "  send (render and queue): {} emails in {:.2} s = {:.0} emails/s",
        sent.queued,
        send_time.as_secs_f64(),
        sent.queued as f64 / send_time.as_secs_f64()
    );
    println!(
        "  deliver to the SMTP sink: {} emails in {:.2} s = {:.0} emails/s (the sink received {received})",
        report.sent,
        deliver_time.as_secs_f64(),
        report.sent as f64 / deliver_time.as_secs_f64()
    );
    match peak_memory_kib() {
        Some(kib) => println!("  peak memory (VmHWM): {:.1} MiB", kib as f64 / 1024.0),
        None => println!("  peak memory: not available on this system"),
    }
    let expected = (options.organizations * options.representatives) as usize;
    if sent.queued != expected || report.sent != expected || received != expected as u64 {
        return Err(BenchError::Mismatch(format!(
            "expected {expected} emails, queued {}, sent {}, received {received}",
            sent.queued, report.sent
        )));
    }
    Ok(())
}

/// An active account with one role.
fn insert_user(
    conn: &mut DbConn,
    email: &str,
    name: &str,
    member: Option<i64>,
    role: Role,
) -> Result<i64, ServiceError> {
    let now = db::now();
    let id = crate::on_backend!(conn, |c| diesel::insert_into(users::table)
        .values((
            users::email.eq(email),
            users::display_name.eq(name),
            users::member_id.eq(member),
            users::status.eq("active"),
            users::created_at.eq(now),
            users::updated_at.eq(now),
        ))
        .returning(users::id)
        .get_result::<i64>(c))?;
    diesel::insert_into(user_roles::table)
        .values((user_roles::user_id.eq(id), user_roles::role.eq(role.as_str()), user_roles::granted_at.eq(now)))
        .execute(conn)?;
    Ok(id)
}

/// The foundation: a tier, the organizations and their representatives, the year with its invoices and
/// ledger entries, a budget and metrics.
fn seed(conn: &mut DbConn, options: &Options, period: &Period) -> Result<(), ServiceError> {
    let now = db::now();
    let treasurer = db::write_transaction(conn, |conn| {
        insert_user(conn, "treasurer@bench.invalid", "Bench Treasurer", None, Role::Treasurer)
    })?;
    let identity = Identity {
        user_id: treasurer,
        email: "treasurer@bench.invalid".into(),
        display_name: "Bench Treasurer".into(),
        member_id: None,
        roles: vec![Role::Treasurer],
        has_two_factor: false,
        via: AuthMethod::ApiToken { token_id: 0 },
        time_zone: "UTC".into(),
    };
    let tier = crate::members::service::create_tier(
        conn,
        treasurer,
        &crate::members::service::TierInput {
            name: "Silver".into(),
            annual_dues: "25000".into(),
            currency: "USD".into(),
            benefits: "A seat at the members' meeting; logo on the website".into(),
        },
    )?;
    db::write_transaction(conn, |conn| {
        for o in 0..options.organizations {
            let member = crate::on_backend!(conn, |c| diesel::insert_into(members::table)
                .values((
                    members::slug.eq(format!("org-{o}")),
                    members::name.eq(format!("Organization {o:04}")),
                    members::tier_id.eq(tier.id),
                    members::status.eq("active"),
                    members::created_at.eq(now),
                    members::updated_at.eq(now),
                ))
                .returning(members::id)
                .get_result::<i64>(c))?;
            for r in 0..options.representatives {
                let (email, name) =
                    (format!("rep-{o}-{r}@bench.invalid"), format!("Representative {r} of organization {o}"));
                insert_user(conn, &email, &name, Some(member), Role::MemberRep)?;
            }
        }
        Ok::<_, ServiceError>(())
    })?;
    let year = crate::ledger::service::create_year(
        conn,
        treasurer,
        &format!("FY{}", period.year),
        &format!("{}-01-01", period.year),
        &format!("{}-12-31", period.year),
    )?;
    crate::ledger::service::set_year_status(conn, treasurer, year.id, "open")?;
    crate::dues::service::issue_for_year(conn, &identity, year.id, period.starts_on())?;
    let priority = crate::funding::service::create_priority(
        conn,
        Actor::Cli,
        &crate::funding::service::PriorityInput {
            slug: "contributors".into(),
            title: "Grow contributor capacity".into(),
            summary: String::new(),
            outcomes: vec!["More people who are not maintainers land changes".into()],
        },
    )?;
    crate::funding::service::set_budget(
        conn,
        treasurer,
        year.id,
        priority.id,
        &crate::funding::service::BudgetInput { amount: "500000".into(), lines: Vec::new() },
    )?;
    for day in 0..90 {
        let date = period.starts_on() + chrono::Duration::days(day);
        if date > period.ends_on() {
            break;
        }
        for (direction, amount) in [("in", "2500.00"), ("out", "1200.50")] {
            crate::ledger::service::post_adjustment(
                conn,
                treasurer,
                &crate::ledger::service::AdjustmentInput {
                    entry_date: date.to_string(),
                    direction: direction.into(),
                    amount: amount.into(),
                    currency: "USD".into(),
                    priority_id: Some(priority.id),
                    memo: format!("bench {direction} {day}"),
                },
            )?;
        }
    }
    use crate::metrics::service::{self as metrics, MetricInput, ObservationInput, Provenance};
    for m in 0..10 {
        let metric = metrics::create_metric(
            conn,
            treasurer,
            &MetricInput {
                slug: format!("metric-{m}"),
                name: format!("Outcome metric {m}"),
                unit: "count".into(),
                direction: "higher".into(),
                priority_id: priority.id.to_string(),
                baseline: "100".into(),
                baseline_on: format!("{}-01-01", period.year),
                target: "200".into(),
                target_on: format!("{}-12-31", period.year),
                source: "manual".into(),
                expected_interval_days: "31".into(),
                ..Default::default()
            },
        )?;
        let inputs: Vec<ObservationInput> = (1..=period.ends_on().format("%m").to_string().parse::<u32>().unwrap_or(1))
            .map(|month| ObservationInput {
                observed_on: format!("{}-{month:02}-15", period.year),
                value: (100 + month * (m + 5)).to_string(),
                note: String::new(),
            })
            .collect();
        metrics::record_observations(
            conn,
            metric.id,
            &inputs,
            &Provenance { source: "import", label: "bench".into(), actor: None },
        )?;
    }
    Ok(())
}
