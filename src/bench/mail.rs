//! `steward bench mail`: queue N messages the way a report job would (rendered from templates, in
//! transactions of a few hundred), then deliver them with the real worker and SMTP transport to an in-process
//! SMTP sink over the loopback interface. Prints the enqueue rate, the delivery rate and the peak memory.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use diesel::prelude::*;

use super::{peak_memory_kib, BenchError};
use crate::config::{Config, ConfigError, Secret, SigningKey};
use crate::db::schema::{outbox, users};
use crate::db::{self, Db};
use crate::mail::{self, Category, DeliveryReport, EmailContent, EmailContext, Outgoing};

/// What to run.
#[derive(Clone, Debug)]
pub struct Options {
    pub messages: u32,
    /// A scratch PostgreSQL database; `None`: a temporary SQLite file.
    pub database_url: Option<String>,
    pub concurrency: u32,
    pub batch_size: u32,
}

/// A progress-report-like message of realistic size.
struct BenchEmail {
    name: String,
    period: &'static str,
    number: u32,
    lines: Vec<String>,
}

crate::email_templates!(BenchEmail, "email/bench/subject.txt", "email/bench/body.txt", "email/bench/body.html");

const USERS: u32 = 100;
const PER_TRANSACTION: u32 = 500;

/// A folder under the system's temporary folder, removed when dropped.
pub(crate) struct Scratch(pub(crate) PathBuf);

impl Scratch {
    pub(crate) fn new() -> std::io::Result<Self> {
        let dir =
            std::env::temp_dir().join(format!("steward-bench-{}-{:08x}", std::process::id(), rand::random::<u32>()));
        std::fs::create_dir_all(&dir)?;
        Ok(Self(dir))
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

pub fn run(options: &Options) -> Result<(), BenchError> {
    if options.messages == 0 {
        return Err(ConfigError::new("--messages", "must be at least 1").into());
    }
    let mut config = Config::from_lookup(|_| None)?;
    config.base_url = "https://steward.bench.invalid".into();
    config.mail.concurrency = options.concurrency.clamp(1, 64);
    config.mail.batch_size = options.batch_size.clamp(1, 1000);

    let (_scratch, db, where_) = super::open_database(options.database_url.as_deref(), config.mail.concurrency + 2)?;
    let run_id = format!("{:08x}", rand::random::<u32>());
    println!(
        "steward bench mail: {} messages on {where_}; {} sent at a time, claimed {} at once",
        options.messages, config.mail.concurrency, config.mail.batch_size
    );

    let outcome = measure(&db, &config, &run_id, options.messages);
    if options.database_url.is_some() {
        remove_rows(&db, &run_id)?;
    }
    let (enqueue_time, deliver_time, report, received) = outcome?;

    let n = f64::from(options.messages);
    println!(
        "  enqueue: {} messages in {:.2} s = {:.0} messages/s",
        options.messages,
        enqueue_time.as_secs_f64(),
        n / enqueue_time.as_secs_f64()
    );
    println!(
        "  deliver: {} messages in {:.2} s = {:.0} messages/s (the sink received {received})",
        report.sent,
        deliver_time.as_secs_f64(),
        report.sent as f64 / deliver_time.as_secs_f64()
    );
    match peak_memory_kib() {
        Some(kib) => println!("  peak memory (VmHWM): {:.1} MiB", kib as f64 / 1024.0),
        None => println!("  peak memory: not available on this system"),
    }
    if report.sent != options.messages as usize || received != u64::from(options.messages) {
        return Err(BenchError::Mismatch(format!(
            "expected {} messages delivered, got {} recorded as sent and {received} received ({report:?})",
            options.messages, report.sent
        )));
    }
    Ok(())
}

fn measure(
    db: &Db,
    config: &Config,
    run_id: &str,
    messages: u32,
) -> Result<(Duration, Duration, DeliveryReport, u64), BenchError> {
    let mut key = [0u8; 32];
    rand::RngCore::fill_bytes(&mut rand::rng(), &mut key);
    let key = SigningKey(Secret::new(hex::encode(key)));
    let user_ids = create_users(db, run_id)?;

    let started = Instant::now();
    enqueue(db, config, &key, &user_ids, run_id, messages)?;
    let enqueue_time = started.elapsed();

    let (deliver_time, report, received) = super::deliver_to_sink(db, config, key)?;
    Ok((enqueue_time, deliver_time, report, received))
}

fn create_users(db: &Db, run_id: &str) -> Result<Vec<i64>, BenchError> {
    let mut conn = db.get()?;
    let now = db::now();
    db::write_transaction(&mut conn, |conn| {
        for i in 0..USERS {
            diesel::insert_into(users::table)
                .values((
                    users::email.eq(format!("bench-{run_id}-{i}@example.invalid")),
                    users::display_name.eq(format!("Representative {i}")),
                    users::status.eq("active"),
                    users::created_at.eq(now),
                    users::updated_at.eq(now),
                ))
                .execute(conn)?;
        }
        Ok::<_, BenchError>(())
    })?;
    Ok(users::table
        .filter(users::email.like(format!("bench-{run_id}-%")))
        .order(users::id)
        .select(users::id)
        .load(&mut conn)?)
}

/// Half progress reports to accounts (bulk: preferences are checked and unsubscribe headers added), half
/// notices to bare addresses.
fn enqueue(
    db: &Db,
    config: &Config,
    key: &SigningKey,
    user_ids: &[i64],
    run_id: &str,
    messages: u32,
) -> Result<(), BenchError> {
    let mut conn = db.get()?;
    let lines: Vec<String> = [
        "Twelve new contributors landed their first pull request after the onboarding sprint.",
        "Test coverage of the core repositories rose from 61% to 68%.",
        "Two minor releases shipped on schedule; a security fix went out within four days.",
        "The mentoring programme took in six people from member organizations.",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    for first in (0..messages).step_by(PER_TRANSACTION as usize) {
        let last = (first + PER_TRANSACTION).min(messages);
        db::write_transaction(&mut conn, |conn| {
            for number in first..last {
                let bulk = number % 2 == 0;
                let user_id = bulk.then(|| user_ids[number as usize % user_ids.len()]);
                let category = if bulk { Category::Reports } else { Category::Notice };
                let context = EmailContext {
                    site_name: "Bench Foundation".into(),
                    base_url: config.base_url.clone(),
                    unsubscribe_url: user_id.map(|u| mail::unsubscribe_url(key, &config.base_url, u, category)),
                };
                let email = BenchEmail {
                    name: format!("Representative {number}"),
                    period: "2026-Q3",
                    number,
                    lines: lines.clone(),
                };
                mail::enqueue(
                    conn,
                    &Outgoing {
                        idempotency_key: format!("bench:{run_id}:{number}"),
                        category,
                        user_id,
                        to_address: format!("rep{number}@example.invalid"),
                        to_name: Some(email.name.clone()),
                        content: email.render(&context)?,
                    },
                )?;
            }
            Ok::<_, BenchError>(())
        })?;
    }
    Ok(())
}

/// On a database that outlives the bench: the rows it wrote go again.
fn remove_rows(db: &Db, run_id: &str) -> Result<(), BenchError> {
    let mut conn = db.get()?;
    db::write_transaction(&mut conn, |conn| {
        diesel::delete(outbox::table.filter(outbox::idempotency_key.like(format!("bench:{run_id}:%"))))
            .execute(conn)?;
        diesel::delete(users::table.filter(users::email.like(format!("bench-{run_id}-%")))).execute(conn)?;
        Ok::<_, BenchError>(())
    })
}
