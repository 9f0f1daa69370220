//! Outbound email end to end: the outbox delivered to a real SMTP server process (aiosmtpd, or
//! `support/smtp_faults.py` when a test needs 4xx, 5xx or a slow server), on both backends. Retry delays are
//! milliseconds here; nothing sleeps where a condition can be awaited.

use std::collections::{BTreeMap, BTreeSet};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use diesel::prelude::*;
use serde_json::Value;
use steward::config::{Config, MailSettings, Secret, SigningKey};
use steward::db::schema::{outbox, users};
use steward::db::{self, Db, DbConn};
use steward::domain::ServiceError;
use steward::mail::admin;
use steward::mail::outbox::{claim, ClaimRequest};
use steward::mail::{self, preferences, Category, Delivery, DeliveryReport, Mailer, OutboxStatus, Outgoing, Rendered};

use crate::backend_tests;
use crate::support::smtp::{Faults, SmtpServer};
use crate::support::{free_port, Backend, TestApp, TestDb};

const FROM: &str = "Open Notebook Foundation <steward@example.org>";
const SECRET_KEY: &str = "a-test-signing-key-of-more-than-32-characters";

fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

/// Settings that make retries take milliseconds.
fn fast_settings() -> MailSettings {
    MailSettings {
        max_attempts: 3,
        retry_base: ms(5),
        retry_max: ms(20),
        poll_interval: ms(50),
        lease: Duration::from_secs(5),
        batch_size: 10,
        concurrency: 2,
        smtp_timeout: Duration::from_secs(1),
        retention_days: 30,
    }
}

fn mail_config(app: &TestApp, smtp_url: Option<String>) -> Config {
    let mut config = app.config.clone();
    config.smtp_url = smtp_url.map(Secret::new);
    config.mail_from = FROM.into();
    config.mail = fast_settings();
    config
}

async fn signing_key(app: &TestApp) -> SigningKey {
    let (config, db) = (app.config.clone(), app.db.clone());
    tokio::task::spawn_blocking(move || steward::app::signing_key(&config, &db).expect("signing key")).await.unwrap()
}

async fn new_delivery(app: &TestApp, config: &Config) -> Delivery {
    let mailer = Mailer::from_config(config, signing_key(app).await).expect("mailer");
    Delivery::new(app.db.clone(), mailer, config.mail.clone())
}

fn insert_user(conn: &mut DbConn, email: &str) -> i64 {
    let now = db::now();
    diesel::insert_into(users::table)
        .values((
            users::email.eq(email),
            users::display_name.eq("Rep"),
            users::status.eq("active"),
            users::created_at.eq(now),
            users::updated_at.eq(now),
        ))
        .execute(conn)
        .expect("insert user");
    users::table.filter(users::email.eq(email)).select(users::id).first(conn).expect("user id")
}

async fn add_user(app: &TestApp, email: &'static str) -> i64 {
    app.with_conn(move |conn| insert_user(conn, email)).await
}

fn outgoing(key: &str, category: Category, user_id: Option<i64>, to: &str, unsubscribe: Option<String>) -> Outgoing {
    let subject = format!("Subject of {key}");
    let footer = unsubscribe.as_deref().map(|u| format!("\nStop these: {u}\n")).unwrap_or_default();
    Outgoing {
        idempotency_key: key.into(),
        category,
        user_id,
        to_address: to.into(),
        to_name: Some("A Representative".into()),
        content: Rendered {
            subject,
            text: format!("Plain words for {key}.\n{footer}"),
            html: format!("<p>Rich words for {key}.</p>"),
        },
    }
}

async fn queue(app: &TestApp, message: Outgoing) -> bool {
    app.with_conn(move |conn| mail::enqueue(conn, &message).expect("enqueue")).await
}

/// Queues `count` notices `notice:0`, `notice:1`, ... to one address.
fn enqueue_notices(conn: &mut DbConn, count: usize) {
    for i in 0..count {
        let message = outgoing(&format!("notice:{i}"), Category::Notice, None, "member@example.org", None);
        mail::enqueue(conn, &message).expect("enqueue");
    }
}

async fn queue_notices(app: &TestApp, count: usize) {
    app.with_conn(move |conn| enqueue_notices(conn, count)).await
}

/// A migrated database with `count` notices queued, for tests that run the `steward` binary on it.
async fn database_with_notices(backend: Backend, count: usize) -> (TestDb, Db) {
    tokio::task::spawn_blocking(move || {
        let (test_db, db) = TestDb::migrated(backend);
        enqueue_notices(&mut db.get().unwrap(), count);
        (test_db, db)
    })
    .await
    .unwrap()
}

#[derive(Debug, Queryable)]
struct Row {
    key: String,
    status: String,
    attempts: i32,
    last_error: Option<String>,
    sent_at: Option<chrono::NaiveDateTime>,
    locked_by: Option<String>,
}

fn rows_on(conn: &mut DbConn) -> Vec<Row> {
    outbox::table
        .order(outbox::id)
        .select((
            outbox::idempotency_key,
            outbox::status,
            outbox::attempts,
            outbox::last_error,
            outbox::sent_at,
            outbox::locked_by,
        ))
        .load(conn)
        .unwrap()
}

async fn rows(db: &Db) -> Vec<Row> {
    let db = db.clone();
    tokio::task::spawn_blocking(move || rows_on(&mut db.get().unwrap())).await.unwrap()
}

async fn row(db: &Db, key: &str) -> Row {
    rows(db).await.into_iter().find(|r| r.key == key).unwrap_or_else(|| panic!("no outbox row {key}"))
}

/// Runs the worker until nothing is pending any more (retries come due within milliseconds here).
async fn settle(delivery: &Delivery, db: &Db, within: Duration) -> DeliveryReport {
    let deadline = Instant::now() + within;
    let mut total = DeliveryReport::default();
    loop {
        total += delivery.run_until_idle().await.expect("delivery");
        if rows(db).await.iter().all(|r| r.status != "pending") {
            return total;
        }
        assert!(Instant::now() < deadline, "still pending after {within:?}: {:?}", rows(db).await);
        tokio::time::sleep(ms(10)).await;
    }
}

fn by_subject(received: &[crate::support::smtp::ReceivedMail], key: &str) -> crate::support::smtp::ReceivedMail {
    let subject = format!("Subject of {key}");
    received
        .iter()
        .find(|m| m.header("Subject").as_deref() == Some(subject.as_str()))
        .unwrap_or_else(|| panic!("no message {key} among {}", received.len()))
        .clone()
}

/// Runs `steward ARGS` with only the given environment (plus PATH).
fn steward_command(args: &[&str], env: &[(&str, String)]) -> Command {
    let mut cmd = crate::support::steward_command();
    cmd.args(args);
    for (k, v) in env {
        cmd.env(k, v);
    }
    cmd
}

async fn steward_output(args: &'static [&'static str], env: Vec<(&'static str, String)>) -> Output {
    tokio::task::spawn_blocking(move || steward_command(args, &env).output().expect("run steward")).await.unwrap()
}

/// The environment of a `steward mail deliver` child with fast settings.
fn child_env(test_db: &TestDb, smtp_url: &str) -> Vec<(&'static str, String)> {
    vec![
        ("DATABASE_URL", test_db.url_string()),
        ("STEWARD_SMTP_URL", smtp_url.to_string()),
        ("STEWARD_SECRET_KEY", SECRET_KEY.into()),
        ("STEWARD_MAIL_FROM", FROM.into()),
        ("STEWARD_MAIL_RETRY_BASE", "5ms".into()),
        ("STEWARD_MAIL_RETRY_MAX", "20ms".into()),
        ("RUST_LOG", "warn".into()),
    ]
}

backend_tests! {
    async fn delivered_personal_links_are_redacted_and_old_bodies_purged(backend) {
        let app = TestApp::spawn(backend).await;
        let smtp = SmtpServer::start();
        app.create_user("bob@example.org", &[steward::accounts::Role::Council], None).await;
        let b = crate::support::browser::Browser::new(&app.address);
        b.get("/password/forgot").await;
        assert_eq!(b.post("/password/forgot", &[("email", "bob@example.org")]).await.status(), 200);
        // Before delivery the outbox holds the link (the worker needs it), after delivery only the mail does.
        let link = app.last_link_to("bob@example.org").await;
        let token = link.rsplit('/').next().unwrap().to_string();
        assert!(link.contains("/password/reset/") && token.len() >= 40, "{link}");
        let report = app.deliver_mail_to(&smtp).await;
        assert_eq!(report.sent, 1);
        let received = smtp.wait_for(1, Duration::from_secs(10)).await;
        assert!(received[0].raw.contains(&token), "the person gets their link");
        let (text, html, status): (String, String, String) = app
            .with_conn(|c| outbox::table.select((outbox::body_text, outbox::body_html, outbox::status)).first(c).unwrap())
            .await;
        assert_eq!(status, "sent");
        assert!(!text.contains(&token) && !html.contains(&token), "{text}");
        assert!(text.contains(&format!("/password/reset/{}", mail::outbox::REDACTED)), "{text}");
        assert!(!mail::outbox::holds_secret_link(&text) && !mail::outbox::holds_secret_link(&html));
        // The link still works: Steward keeps its hash, not the link.
        assert_eq!(b.get(&format!("/password/reset/{token}")).await.0, 200);

        // After the retention period the scheduled jobs empty the bodies of settled mail; pending mail keeps its.
        b.post("/password/forgot", &[("email", "bob@example.org")]).await;
        let old = db::now() - chrono::Duration::days(31);
        app.with_conn(move |c| {
            diesel::update(outbox::table.filter(outbox::status.eq("sent"))).set(outbox::updated_at.eq(old)).execute(c).unwrap()
        })
        .await;
        let key = signing_key(&app).await;
        let run = steward::jobs::run_once(&app.config, &app.db, &key).await.unwrap();
        assert_eq!(run.mail_purged, 1);
        let bodies: Vec<(String, String, String)> = app
            .with_conn(|c| outbox::table.order(outbox::id).select((outbox::status, outbox::body_text, outbox::body_html)).load(c).unwrap())
            .await;
        assert_eq!(bodies.len(), 2);
        assert_eq!((bodies[0].1.as_str(), bodies[0].2.as_str()), ("", ""), "the sent body is gone");
        assert_eq!(bodies[1].0, "pending");
        assert!(!bodies[1].1.is_empty(), "a message not yet sent keeps its body");
    }

    async fn delivers_multipart_mail_with_the_right_headers(backend) {
        let app = TestApp::spawn(backend).await;
        let smtp = SmtpServer::start();
        let key = signing_key(&app).await;
        let user = add_user(&app, "rep@example.org").await;
        let unsubscribe = mail::unsubscribe_url(&key, &app.config.base_url, user, Category::Reports);
        queue(&app, outgoing("reset:1", Category::Security, Some(user), "rep@example.org", None)).await;
        queue(&app, outgoing("report:2026-Q3:1", Category::Reports, Some(user), "rep@example.org", Some(unsubscribe.clone()))).await;

        let config = mail_config(&app, Some(smtp.url()));
        let report = new_delivery(&app, &config).await.run_until_idle().await.unwrap();
        assert_eq!(report, DeliveryReport { sent: 2, ..Default::default() });
        let received = smtp.wait_for(2, Duration::from_secs(10)).await;
        assert_eq!(received.len(), 2);

        for (key, bulk) in [("reset:1", false), ("report:2026-Q3:1", true)] {
            let m = by_subject(&received, key);
            let from = m.header("From").unwrap();
            assert!(from.contains("Open Notebook Foundation") && from.contains("<steward@example.org>"), "{from}");
            let to = m.header("To").unwrap();
            assert!(to.contains("A Representative") && to.contains("<rep@example.org>"), "{to}");
            assert_eq!(m.header("Message-ID").unwrap(), mail::transport::message_id(key, "127.0.0.1"));
            assert!(m.header("Date").is_some());
            assert!(m.header("Content-Type").unwrap().starts_with("multipart/alternative"), "{}", m.raw);
            assert!(m.raw.contains("Content-Type: text/plain; charset=utf-8"), "{}", m.raw);
            assert!(m.raw.contains("Content-Type: text/html; charset=utf-8"), "{}", m.raw);
            assert!(m.raw.contains(&format!("Plain words for {key}.")), "{}", m.raw);
            assert!(m.raw.contains(&format!("<p>Rich words for {key}.</p>")), "{}", m.raw);
            if bulk {
                assert_eq!(m.header("List-Unsubscribe").unwrap(), format!("<{unsubscribe}>"));
                assert_eq!(m.header("List-Unsubscribe-Post").as_deref(), Some("List-Unsubscribe=One-Click"));
                assert!(m.raw.contains("/email/unsubscribe?u="), "the body carries the link: {}", m.raw);
            } else {
                assert_eq!(m.header("List-Unsubscribe"), None, "security mail has no unsubscribe header");
                assert_eq!(m.header("List-Unsubscribe-Post"), None);
            }
        }
        for r in rows(&app.db).await {
            assert_eq!((r.status.as_str(), r.attempts, r.locked_by.as_deref()), ("sent", 1, None));
            assert!(r.sent_at.is_some());
        }
    }

    async fn the_same_key_twice_is_one_row_and_one_email(backend) {
        let app = TestApp::spawn(backend).await;
        let smtp = SmtpServer::start();
        assert!(queue(&app, outgoing("invoice:7", Category::Notice, None, "treasurer@example.org", None)).await);
        assert!(!queue(&app, outgoing("invoice:7", Category::Notice, None, "treasurer@example.org", None)).await);
        assert_eq!(rows(&app.db).await.len(), 1);

        let delivery = new_delivery(&app, &mail_config(&app, Some(smtp.url()))).await;
        assert_eq!(delivery.run_until_idle().await.unwrap().sent, 1);
        // A key already sent is not queued again either.
        assert!(!queue(&app, outgoing("invoice:7", Category::Notice, None, "treasurer@example.org", None)).await);
        assert!(delivery.run_until_idle().await.unwrap().is_idle());
        // The server wrote each message before it answered 250, so this count is final.
        assert_eq!(smtp.messages().len(), 1);
    }

    async fn a_server_that_is_down_then_up_gets_the_message_once(backend) {
        let app = TestApp::spawn(backend).await;
        let mut smtp = SmtpServer::start();
        smtp.stop();
        queue(&app, outgoing("notice:down", Category::Notice, None, "member@example.org", None)).await;
        let mut config = mail_config(&app, Some(smtp.url()));
        config.mail.max_attempts = 10;
        let delivery = new_delivery(&app, &config).await;

        let first = delivery.run_batch().await.unwrap();
        assert_eq!(first, DeliveryReport { retrying: 1, ..Default::default() });
        let waiting = row(&app.db, "notice:down").await;
        assert_eq!((waiting.status.as_str(), waiting.attempts, waiting.locked_by.as_deref()), ("pending", 1, None));
        assert!(waiting.last_error.as_deref().unwrap_or_default().to_lowercase().contains("connection"), "{waiting:?}");

        smtp.restart();
        let report = settle(&delivery, &app.db, Duration::from_secs(10)).await;
        assert_eq!(report.sent, 1);
        assert_eq!(smtp.copies_by_message_id().into_values().collect::<Vec<_>>(), vec![1]);
        let sent = row(&app.db, "notice:down").await;
        assert_eq!((sent.status.as_str(), sent.attempts), ("sent", 2));
    }

    async fn temporary_refusals_are_retried_until_accepted(backend) {
        let app = TestApp::spawn(backend).await;
        let smtp = SmtpServer::start_faulty(Faults { tempfail: 2, ..Default::default() });
        queue(&app, outgoing("notice:greylisted", Category::Notice, None, "member@example.org", None)).await;
        let delivery = new_delivery(&app, &mail_config(&app, Some(smtp.url()))).await;
        let report = settle(&delivery, &app.db, Duration::from_secs(10)).await;
        assert_eq!((report.retrying, report.sent, report.dead), (2, 1, 0));
        let r = row(&app.db, "notice:greylisted").await;
        assert_eq!((r.status.as_str(), r.attempts), ("sent", 3));
        assert!(r.last_error.as_deref().unwrap_or_default().contains("451"), "{r:?}");
        assert_eq!(smtp.messages().len(), 1);
    }

    async fn permanent_refusals_and_exhausted_retries_are_dead(backend) {
        let app = TestApp::spawn(backend).await;
        let smtp = SmtpServer::start_faulty(Faults::default());
        queue(&app, outgoing("notice:reject", Category::Notice, None, "reject@example.org", None)).await;
        queue(&app, outgoing("notice:fine", Category::Notice, None, "fine@example.org", None)).await;
        let delivery = new_delivery(&app, &mail_config(&app, Some(smtp.url()))).await;
        let report = settle(&delivery, &app.db, Duration::from_secs(10)).await;
        assert_eq!((report.sent, report.dead, report.retrying), (1, 1, 0));
        let rejected = row(&app.db, "notice:reject").await;
        assert_eq!((rejected.status.as_str(), rejected.attempts), ("dead", 1));
        assert!(rejected.last_error.as_deref().unwrap_or_default().contains("550"), "{rejected:?}");
        assert_eq!(smtp.messages().len(), 1, "the refusal of one message does not hold up the other");

        // Nobody listens here: temporary failures until the attempts run out.
        queue(&app, outgoing("notice:nowhere", Category::Notice, None, "member@example.org", None)).await;
        let nowhere = new_delivery(&app, &mail_config(&app, Some(format!("smtp://127.0.0.1:{}", free_port())))).await;
        let report = settle(&nowhere, &app.db, Duration::from_secs(10)).await;
        assert_eq!((report.retrying, report.dead), (2, 1));
        let given_up = row(&app.db, "notice:nowhere").await;
        assert_eq!((given_up.status.as_str(), given_up.attempts), ("dead", 3));
        assert!(given_up.last_error.as_deref().unwrap_or_default().starts_with("gave up after 3 attempts"), "{given_up:?}");
    }

    async fn two_workers_at_once_send_each_message_once(backend) {
        let app = TestApp::spawn(backend).await;
        // A slightly slow server, so that the two workers' batches overlap.
        let smtp = SmtpServer::start_faulty(Faults { delay: ms(10), ..Default::default() });
        queue_notices(&app, 30).await;
        let mut config = mail_config(&app, Some(smtp.url()));
        config.mail.batch_size = 4;
        let (first, second) = (new_delivery(&app, &config).await, new_delivery(&app, &config).await);
        assert_ne!(first.worker_id(), second.worker_id());
        let (a, b) = tokio::join!(first.run_until_idle(), second.run_until_idle());
        let (a, b) = (a.unwrap(), b.unwrap());
        assert_eq!(a.sent + b.sent, 30, "{a:?} {b:?}");
        assert_eq!(a.lost + b.lost, 0);
        let copies = smtp.copies_by_message_id();
        assert_eq!(copies.len(), 30);
        assert!(copies.values().all(|n| *n == 1), "{copies:?}");
        assert!(rows(&app.db).await.iter().all(|r| r.status == "sent" && r.attempts == 1));
    }

    async fn a_claim_whose_worker_died_is_taken_over_after_its_lease(backend) {
        let app = TestApp::spawn(backend).await;
        let smtp = SmtpServer::start();
        queue(&app, outgoing("notice:orphan", Category::Notice, None, "member@example.org", None)).await;
        // A worker claims the message with a short lease, then dies without a word.
        let lease_until = db::now() + chrono::Duration::milliseconds(300);
        let claimed = app
            .with_conn(move |conn| {
                claim(conn, &ClaimRequest { worker: "died", now: db::now(), lease_until, limit: 10, max_attempts: 3 })
                    .unwrap()
            })
            .await;
        assert_eq!(claimed.messages.len(), 1);

        let delivery = new_delivery(&app, &mail_config(&app, Some(smtp.url()))).await;
        assert!(delivery.run_until_idle().await.unwrap().is_idle(), "a live lease keeps others away");
        let report = settle(&delivery, &app.db, Duration::from_secs(10)).await;
        assert_eq!(report.sent, 1, "{report:?} {:?}", rows(&app.db).await);
        let r = row(&app.db, "notice:orphan").await;
        assert_eq!((r.status.as_str(), r.attempts), ("sent", 2), "the interrupted try counts");
        assert_eq!(smtp.messages().len(), 1);

        // A message whose last allowed try never finished is given up, not tried once more.
        queue(&app, outgoing("notice:last-try", Category::Notice, None, "member@example.org", None)).await;
        let lapsed = db::now() - chrono::Duration::seconds(1);
        app.with_conn(move |conn| {
            claim(conn, &ClaimRequest { worker: "died", now: db::now(), lease_until: lapsed, limit: 10, max_attempts: 1 })
                .unwrap()
        })
        .await;
        let mut config = mail_config(&app, Some(smtp.url()));
        config.mail.max_attempts = 1;
        let report = new_delivery(&app, &config).await.run_until_idle().await.unwrap();
        assert_eq!(report, DeliveryReport { dead: 1, ..Default::default() });
        let r = row(&app.db, "notice:last-try").await;
        assert_eq!(r.status, "dead");
        assert!(r.last_error.as_deref().unwrap_or_default().contains("never finished"), "{r:?}");
        assert_eq!(smtp.messages().len(), 1);
    }

    async fn a_stopping_worker_finishes_its_sends_and_releases_the_rest(backend) {
        let app = TestApp::spawn(backend).await;
        let smtp = SmtpServer::start_faulty(Faults { delay: ms(150), ..Default::default() });
        queue_notices(&app, 6).await;
        let mut config = mail_config(&app, Some(smtp.url()));
        config.mail.concurrency = 1;
        let stopping = new_delivery(&app, &config).await;
        let batch = tokio::spawn({
            let stopping = stopping.clone();
            async move { stopping.run_batch().await.unwrap() }
        });
        smtp.wait_for(1, Duration::from_secs(10)).await;
        stopping.stop_sending();
        let report = batch.await.unwrap();
        assert_eq!(report.sent + report.released, 6, "{report:?}");
        assert!(report.released >= 3, "{report:?}");
        assert!(stopping.run_batch().await.unwrap().is_idle(), "a stopped worker claims nothing more");

        // Released messages are free at once, untouched: another worker need not wait for a lease.
        let released: Vec<Row> = rows(&app.db).await.into_iter().filter(|r| r.status == "pending").collect();
        assert_eq!(released.len(), report.released);
        assert!(released.iter().all(|r| r.attempts == 0 && r.locked_by.is_none()), "{released:?}");
        let other = new_delivery(&app, &config).await.run_until_idle().await.unwrap();
        assert_eq!(other.sent, report.released);
        assert_eq!(smtp.copies_by_message_id().values().filter(|n| **n == 1).count(), 6);
    }

    async fn an_unsubscribed_person_gets_security_mail_but_no_bulk_mail(backend) {
        let app = TestApp::spawn(backend).await;
        let smtp = SmtpServer::start();
        let key = signing_key(&app).await;
        let user = add_user(&app, "quiet@example.org").await;
        app.with_conn(move |conn| preferences::set(conn, user, Category::Reports, false).unwrap()).await;
        let link = |c| Some(mail::unsubscribe_url(&key, &app.config.base_url, user, c));
        queue(&app, outgoing("report:q3", Category::Reports, Some(user), "quiet@example.org", link(Category::Reports))).await;
        queue(&app, outgoing("survey:h2", Category::Surveys, Some(user), "quiet@example.org", link(Category::Surveys))).await;
        queue(&app, outgoing("reset:9", Category::Security, Some(user), "quiet@example.org", None)).await;

        let report = new_delivery(&app, &mail_config(&app, Some(smtp.url()))).await.run_until_idle().await.unwrap();
        assert_eq!((report.sent, report.cancelled), (2, 1));
        let cancelled = row(&app.db, "report:q3").await;
        assert_eq!((cancelled.status.as_str(), cancelled.attempts), ("cancelled", 0));
        assert!(cancelled.last_error.as_deref().unwrap_or_default().contains("turned off reports"), "{cancelled:?}");

        let received = smtp.messages();
        assert_eq!(received.len(), 2);
        assert_eq!(by_subject(&received, "reset:9").header("List-Unsubscribe"), None);
        assert!(by_subject(&received, "survey:h2").header("List-Unsubscribe").unwrap().contains("c=surveys"));
    }

    async fn the_unsubscribe_page_asks_first_and_checks_the_signature(backend) {
        let app = TestApp::spawn(backend).await;
        let key = signing_key(&app).await;
        let user = add_user(&app, "rep@example.org").await;
        let prefs = || app.with_conn(move |conn| preferences::for_user(conn, user).unwrap());
        let link = |c| mail::unsubscribe_url(&key, &app.config.base_url, user, c);

        // GET shows a form and changes nothing.
        let res = app.client.get(link(Category::Reports)).send().await.unwrap();
        assert_eq!(res.status(), 200);
        let html = res.text().await.unwrap();
        assert!(html.contains("progress report emails") && html.contains("<form method=\"post\""), "{html}");
        assert!(prefs().await.reports);

        // The form posts back to the signed link; that turns the category off.
        let action = html.split("action=\"").nth(1).and_then(|rest| rest.split('"').next()).unwrap().replace("&#38;", "&").replace("&amp;", "&");
        assert!(action.starts_with("/email/unsubscribe?u="), "{action}");
        let res = app.client.post(app.url(&action)).send().await.unwrap();
        assert_eq!(res.status(), 200);
        assert!(res.text().await.unwrap().contains("no longer get progress report emails"));
        let after = prefs().await;
        assert!(!after.reports && after.reminders && after.surveys, "{after:?}");

        // A forged or damaged link is refused with a page that says so, and changes nothing.
        let forged = link(Category::Reminders).replace("c=reminders", "c=surveys");
        for res in [app.client.get(&forged).send().await.unwrap(), app.client.post(&forged).send().await.unwrap()] {
            assert_eq!(res.status(), 400);
            assert!(res.headers()["content-type"].to_str().unwrap().starts_with("text/html"));
            assert!(res.text().await.unwrap().contains("This unsubscribe link is not valid"));
        }
        let cut = link(Category::Reminders);
        let cut = &cut[..cut.len() - 10];
        assert_eq!(app.client.post(cut).send().await.unwrap().status(), 400);
        assert_eq!(app.get("/email/unsubscribe").await.status(), 400);
        assert_eq!(app.client.get(link(Category::Security)).send().await.unwrap().status(), 400);
        assert!(prefs().await.surveys && prefs().await.reminders);

        // RFC 8058 one-click: the mail client posts to the header's link.
        let res = app
            .client
            .post(link(Category::Surveys))
            .header("Content-Type", "application/x-www-form-urlencoded")
            .body("List-Unsubscribe=One-Click")
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 200);
        assert!(!prefs().await.surveys);

        // A valid link for an account that no longer exists.
        let gone = mail::unsubscribe_url(&key, &app.config.base_url, user + 1000, Category::Reports);
        assert_eq!(app.client.post(gone).send().await.unwrap().status(), 404);
    }

    async fn readyz_shows_the_mail_queue(backend) {
        let app = TestApp::spawn(backend).await;
        let body: Value = app.get("/readyz").await.json().await.unwrap();
        assert_eq!(body["mail"], serde_json::json!({"pending": 0, "oldest_pending_age_seconds": 0, "dead": 0}));
        queue_notices(&app, 3).await;
        app.with_conn(|conn| {
            diesel::update(outbox::table.filter(outbox::idempotency_key.eq("notice:0")))
                .set(outbox::status.eq("dead"))
                .execute(conn)
                .unwrap();
            // The oldest pending message has waited a minute.
            diesel::update(outbox::table.filter(outbox::idempotency_key.eq("notice:1")))
                .set(outbox::created_at.eq(db::now() - chrono::Duration::seconds(60)))
                .execute(conn)
                .unwrap();
        })
        .await;
        let res = app.get("/readyz").await;
        assert_eq!(res.status(), 200);
        let body: Value = res.json().await.unwrap();
        assert_eq!(body["status"], "ready");
        assert_eq!(body["mail"]["pending"], 2);
        assert_eq!(body["mail"]["dead"], 1);
        let age = body["mail"]["oldest_pending_age_seconds"].as_i64().unwrap();
        assert!((60..120).contains(&age), "{body}");
    }

    async fn admin_queue_service_counts_lists_retries_and_cancels(backend) {
        let app = TestApp::spawn(backend).await;
        let smtp = SmtpServer::start_faulty(Faults::default());
        for (key, to) in [("a", "reject@example.org"), ("b", "reject@example.org"), ("c", "ok@example.org")] {
            queue(&app, outgoing(key, Category::Notice, None, to, None)).await;
        }
        let config = mail_config(&app, Some(smtp.url()));
        let delivery = new_delivery(&app, &config).await;
        delivery.run_until_idle().await.unwrap();
        for key in ["d", "e"] {
            queue(&app, outgoing(key, Category::Notice, None, "ok@example.org", None)).await;
        }

        let counts = app.with_conn(|conn| admin::counts(conn).unwrap()).await;
        assert_eq!(counts, admin::QueueCounts { pending: 2, sent: 1, dead: 2, cancelled: 0 });

        let dead = app.with_conn(|conn| admin::list(conn, OutboxStatus::Dead, 1, 1).unwrap()).await;
        assert_eq!((dead.total, dead.entries.len(), dead.page_count()), (2, 1, 2));
        let newest_dead = &dead.entries[0];
        assert_eq!((newest_dead.subject.as_str(), newest_dead.to_address.as_str()), ("Subject of b", "reject@example.org"));
        assert_eq!((newest_dead.category.as_str(), newest_dead.attempts), ("notice", 1));
        assert!(newest_dead.last_error.as_deref().unwrap_or_default().contains("550"));
        assert!(newest_dead.sent_at.is_none() && newest_dead.created_at <= db::now());
        let second_page = app.with_conn(|conn| admin::list(conn, OutboxStatus::Dead, 2, 1).unwrap()).await;
        assert_eq!(second_page.entries[0].subject, "Subject of a");
        let sent = app.with_conn(|conn| admin::list(conn, OutboxStatus::Sent, 1, 50).unwrap()).await;
        assert!(sent.entries[0].sent_at.is_some());
        let pending = app.with_conn(|conn| admin::list(conn, OutboxStatus::Pending, 1, 50).unwrap()).await;
        let subjects: Vec<&str> = pending.entries.iter().map(|e| e.subject.as_str()).collect();
        assert_eq!(subjects, ["Subject of d", "Subject of e"], "pending: oldest first");
        for (page, per_page) in [(0, 10), (1, 0), (1, admin::MAX_PER_PAGE + 1)] {
            let refused = app.with_conn(move |conn| admin::list(conn, OutboxStatus::Pending, page, per_page)).await;
            assert!(matches!(refused, Err(ServiceError::Validation(_))), "{page} {per_page}");
        }

        // Retry a dead message: pending again, attempts from zero; only dead ones can be retried.
        let (dead_id, pending_id) = (dead.entries[0].id, pending.entries[0].id);
        app.with_conn(move |conn| admin::retry(conn, dead_id).unwrap()).await;
        let retried = row(&app.db, "b").await;
        assert_eq!((retried.status.as_str(), retried.attempts), ("pending", 0));
        let refused = app.with_conn(move |conn| admin::retry(conn, pending_id)).await;
        assert!(matches!(refused, Err(ServiceError::Conflict(_))));
        assert!(matches!(app.with_conn(|conn| admin::retry(conn, 999_999)).await, Err(ServiceError::NotFound(_))));

        // Cancel a pending message; not one that is sent, nor one a worker holds right now.
        app.with_conn(move |conn| admin::cancel(conn, pending_id).unwrap()).await;
        assert_eq!(row(&app.db, "d").await.status, "cancelled");
        let sent_id = sent.entries[0].id;
        assert!(matches!(app.with_conn(move |conn| admin::cancel(conn, sent_id)).await, Err(ServiceError::Conflict(_))));
        let lease_until = db::now() + chrono::Duration::seconds(30);
        let held = app
            .with_conn(move |conn| {
                claim(conn, &ClaimRequest { worker: "busy", now: db::now(), lease_until, limit: 10, max_attempts: 3 })
                    .unwrap()
            })
            .await;
        let held_id = held.messages.iter().find(|m| m.idempotency_key == "e").unwrap().id;
        assert!(matches!(app.with_conn(move |conn| admin::cancel(conn, held_id)).await, Err(ServiceError::Conflict(_))));
        let counts = app.with_conn(|conn| admin::counts(conn).unwrap()).await;
        assert_eq!(counts, admin::QueueCounts { pending: 2, sent: 1, dead: 1, cancelled: 1 });
    }

    async fn mail_deliver_sends_everything_once_and_says_so(backend) {
        let (test_db, db) = database_with_notices(backend, 6).await;
        let smtp = SmtpServer::start();
        let mut env = child_env(&test_db, &smtp.url());
        env.push(("RUST_LOG", "info".into()));
        let out = steward_output(&["mail", "deliver"], env.clone()).await;
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        let said = String::from_utf8_lossy(&out.stdout);
        assert!(said.starts_with("6 sent, 0 to try again later, 0 dead, 0 cancelled"), "{said}");
        let logs = String::from_utf8_lossy(&out.stderr);
        assert!(logs.contains("email sent") && logs.contains("outbox.id"), "{logs}");
        assert!(!logs.contains("@example.org"), "addresses stay out of the logs: {logs}");
        let copies = smtp.copies_by_message_id();
        assert_eq!((copies.len(), copies.values().sum::<usize>()), (6, 6));

        // Nothing left: a second run sends nothing.
        let again = steward_output(&["mail", "deliver"], env).await;
        assert!(String::from_utf8_lossy(&again.stdout).starts_with("0 sent"));
        assert_eq!(smtp.messages().len(), 6);

        // Without an SMTP server, mail becomes .eml files in the data folder.
        tokio::task::spawn_blocking({
            let db = db.clone();
            move || mail::enqueue(&mut db.get().unwrap(), &outgoing("notice:file", Category::Notice, None, "x@example.org", None)).unwrap()
        })
        .await
        .unwrap();
        let data_dir = test_db.dir.path().join("data");
        let file_env: Vec<(&'static str, String)> = vec![
            ("DATABASE_URL", test_db.url_string()),
            ("STEWARD_DATA_DIR", data_dir.to_string_lossy().into_owned()),
            ("RUST_LOG", "warn".into()),
        ];
        let out = steward_output(&["mail", "deliver"], file_env).await;
        assert!(String::from_utf8_lossy(&out.stdout).contains("1 sent"), "{out:?}");
        let files: Vec<_> = std::fs::read_dir(data_dir.join("mail")).unwrap().map(|e| e.unwrap().path()).collect();
        assert_eq!(files.len(), 1, "{files:?}");
        assert!(files[0].extension().is_some_and(|e| e == "eml"));
        assert!(std::fs::read_to_string(&files[0]).unwrap().contains("Subject: Subject of notice:file"));

        // A bad setting ends the command at once with one line naming it.
        let bad = child_env(&test_db, "smtp://mail.example.org?tls=sometimes");
        let out = steward_output(&["mail", "deliver"], bad).await;
        assert!(!out.status.success());
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(stderr.lines().count(), 1, "{stderr}");
        assert!(stderr.starts_with("steward: STEWARD_SMTP_URL:"), "{stderr}");
    }

    async fn a_worker_killed_mid_batch_loses_nothing_and_repeats_only_what_was_in_flight(backend) {
        const MESSAGES: usize = 12;
        let (test_db, db) = database_with_notices(backend, MESSAGES).await;
        let smtp = SmtpServer::start_faulty(Faults { delay: ms(150), ..Default::default() });
        let mut env = child_env(&test_db, &smtp.url());
        env.extend([
            ("STEWARD_MAIL_CONCURRENCY", "2".to_string()),
            ("STEWARD_MAIL_BATCH_SIZE", "4".to_string()),
            ("STEWARD_SMTP_TIMEOUT", "500ms".to_string()),
            ("STEWARD_MAIL_LEASE", "2100ms".to_string()),
        ]);

        let mut child = steward_command(&["mail", "deliver"], &env).stdout(Stdio::null()).stderr(Stdio::null()).spawn().unwrap();
        let deadline = Instant::now() + Duration::from_secs(20);
        while smtp.messages().len() < 3 {
            assert!(Instant::now() < deadline, "the first messages did not arrive");
            assert!(child.try_wait().unwrap().is_none(), "the worker finished before it could be killed");
            tokio::time::sleep(ms(10)).await;
        }
        child.kill().unwrap(); // SIGKILL: no chance to record anything more
        child.wait().unwrap();

        // Claimed but not recorded at the kill: the only messages that may arrive twice.
        let unrecorded: BTreeSet<String> = rows(&db)
            .await
            .into_iter()
            .filter(|r| r.status == "pending" && r.locked_by.is_some())
            .map(|r| mail::transport::message_id(&r.key, "127.0.0.1"))
            .collect();
        assert!(rows(&db).await.iter().any(|r| r.status == "pending"), "the kill came too late to test anything");

        // Start again until everything is sent (the orphaned claims come free when their lease runs out).
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let out = steward_output(&["mail", "deliver"], env.clone()).await;
            assert!(out.status.success(), "{:?} {}", out.status, String::from_utf8_lossy(&out.stderr));
            if rows(&db).await.iter().all(|r| r.status == "sent") {
                break;
            }
            assert!(Instant::now() < deadline, "not everything was sent: {:?}", rows(&db).await);
            tokio::time::sleep(ms(100)).await;
        }

        let received = smtp.messages();
        let mut ids_by_subject: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
        for m in &received {
            ids_by_subject.entry(m.header("Subject").unwrap()).or_default().insert(m.header("Message-ID").unwrap());
        }
        assert_eq!(ids_by_subject.len(), MESSAGES, "every message arrived");
        assert!(ids_by_subject.values().all(|ids| ids.len() == 1), "a repeat carries the same Message-ID");
        let repeated: Vec<String> =
            smtp.copies_by_message_id().into_iter().filter(|(_, n)| *n > 1).map(|(id, _)| id).collect();
        assert!(repeated.len() <= 2, "at most the two sends in flight repeat: {repeated:?}");
        for id in &repeated {
            assert!(unrecorded.contains(id), "{id} arrived twice but was not in flight at the kill");
        }
    }

    async fn serve_delivers_in_the_background_and_stops_cleanly(backend) {
        let test_db = TestDb::empty(backend);
        let smtp = SmtpServer::start();
        let port = free_port();
        let mut env = child_env(&test_db, &smtp.url());
        env.extend([("STEWARD_BIND", format!("127.0.0.1:{port}")), ("STEWARD_MAIL_POLL_INTERVAL", "50ms".into())]);
        let mut child = steward_command(&["serve"], &env).stdout(Stdio::null()).stderr(Stdio::null()).spawn().unwrap();
        let deadline = Instant::now() + Duration::from_secs(20);
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(Instant::now() < deadline, "steward serve did not start");
            assert!(child.try_wait().unwrap().is_none(), "steward serve exited");
            tokio::time::sleep(ms(25)).await;
        }
        let db = test_db.connect();
        tokio::task::spawn_blocking(move || {
            mail::enqueue(&mut db.get().unwrap(), &outgoing("notice:served", Category::Notice, None, "someone@example.org", None))
                .unwrap()
        })
        .await
        .unwrap();
        let received = smtp.wait_for(1, Duration::from_secs(10)).await;
        assert_eq!(received.len(), 1, "the worker inside serve sent the message");

        let killed = Command::new("kill").args(["-TERM", &child.id().to_string()]).status().unwrap();
        assert!(killed.success());
        let deadline = Instant::now() + Duration::from_secs(20);
        let status = loop {
            if let Some(status) = child.try_wait().unwrap() {
                break status;
            }
            assert!(Instant::now() < deadline, "steward serve did not stop after SIGTERM");
            tokio::time::sleep(ms(25)).await;
        };
        assert!(status.success(), "{status:?}");
        assert_eq!(row(&test_db.connect(), "notice:served").await.status, "sent");
    }
}
