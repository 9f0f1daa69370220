//! Progress reports through the front door: one email per subscribed representative and period however the
//! job runs (twice, on two instances at once, by hand), delivered by a real SMTP server; figures equal to the
//! ledger and metrics and frozen once generated; previews, words and the send confirmation; the archive as
//! each role sees it; and a transparency page that shows nothing private.

use chrono::NaiveDate;
use diesel::prelude::*;
use serde_json::{json, Value};
use steward::accounts::Role;
use steward::db::schema;
use steward::reports::period::Period;
use steward::reports::service as reports;

use crate::backend_tests;
use crate::support::smtp::SmtpServer;
use crate::support::{steward_bin, TestApp, TestUser};

fn d(s: &str) -> NaiveDate {
    NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap()
}

/// A foundation in 2025: FY2025 open, money in and out around the third quarter, a metric observed before,
/// in and after it, and two member organizations: Acme (Alice; Bob, who turned report emails off) and
/// Globex (Carol); Dave represents a former member.
struct World {
    app: TestApp,
    council: TestUser,
    admin: TestUser,
    alice: TestUser,
    carol: TestUser,
    metric: i64,
}

async fn world(backend: crate::support::Backend) -> World {
    let app = TestApp::spawn(backend).await;
    let treasurer = app.create_user("treasurer@example.org", &[Role::Treasurer], None).await;
    let council = app.create_user("council@example.org", &[Role::Council], None).await;
    let admin = app.create_user("admin@example.org", &[Role::Admin], None).await;
    let mut orgs = Vec::new();
    for (slug, name, status) in
        [("acme", "Acme", "active"), ("globex", "Globex", "active"), ("gone", "Gone Ltd", "former")]
    {
        let id = app.create_member(slug, name).await;
        app.with_conn(move |c| {
            diesel::update(schema::members::table.find(id)).set(schema::members::status.eq(status)).execute(c).unwrap();
        })
        .await;
        orgs.push(id);
    }
    let alice = app.create_user("alice@example.org", &[Role::MemberRep], Some(orgs[0])).await;
    let bob = app.create_user("bob@example.org", &[Role::MemberRep], Some(orgs[0])).await;
    let carol = app.create_user("carol@example.org", &[Role::MemberRep], Some(orgs[1])).await;
    app.create_user("dave@example.org", &[Role::MemberRep], Some(orgs[2])).await;
    let (t, c, b) = (treasurer.id, council.id, bob.id);
    let metric = app
        .with_conn(move |conn| {
            use steward::ledger::service as ledger;
            let year = ledger::create_year(conn, t, "FY2025", "2025-01-01", "2025-12-31").unwrap();
            ledger::set_year_status(conn, t, year.id, "open").unwrap();
            for (date, direction, amount) in [
                ("2025-02-10", "in", "1000.00"),
                ("2025-08-05", "in", "1234.56"),
                ("2025-09-20", "out", "500.00"),
                ("2025-10-02", "in", "99.00"),
            ] {
                let input = ledger::AdjustmentInput {
                    entry_date: date.into(),
                    direction: direction.into(),
                    amount: amount.into(),
                    currency: "USD".into(),
                    priority_id: None,
                    memo: format!("{direction} on {date}"),
                };
                ledger::post_adjustment(conn, t, &input).unwrap();
            }
            use steward::metrics::service::{self as metrics, MetricInput, ObservationInput, Provenance};
            let input = MetricInput {
                slug: "contributors".into(),
                name: "Active contributors".into(),
                unit: "count".into(),
                direction: "higher".into(),
                baseline: "10".into(),
                baseline_on: "2025-01-01".into(),
                target: "20".into(),
                target_on: "2025-12-31".into(),
                source: "manual".into(),
                expected_interval_days: "120".into(),
                ..Default::default()
            };
            let m = metrics::create_metric(conn, c, &input).unwrap();
            let from = Provenance { source: "manual", label: String::new(), actor: Some(c) };
            for (on, value) in [("2025-06-30", "12"), ("2025-09-15", "15"), ("2025-11-01", "18")] {
                let o = ObservationInput { observed_on: on.into(), value: value.into(), note: String::new() };
                metrics::record_observations(conn, m.id, &[o], &from).unwrap();
            }
            steward::mail::preferences::set(conn, b, steward::mail::Category::Reports, false).unwrap();
            m.id
        })
        .await;
    World { app, council, admin, alice, carol, metric }
}

fn mail_settings(app: &TestApp) -> steward::surveys::service::MailSettings {
    let key = steward::app::signing_key(&app.config, &app.db).unwrap();
    steward::surveys::service::MailSettings { site_name: "Steward".into(), base_url: app.address.clone(), key }
}

/// Report emails in the outbox: (idempotency key, recipient), by key.
async fn report_mail(app: &TestApp) -> Vec<(String, String)> {
    app.with_conn(|c| {
        schema::outbox::table
            .filter(schema::outbox::idempotency_key.like("report:%"))
            .order(schema::outbox::idempotency_key)
            .select((schema::outbox::idempotency_key, schema::outbox::to_address))
            .load(c)
            .unwrap()
    })
    .await
}

async fn api(app: &TestApp, token: &str, method: &str, path: &str, body: Option<Value>) -> (u16, Value) {
    let mut req = app.client.request(method.parse().unwrap(), app.url(path)).bearer_auth(token);
    if let Some(b) = body {
        req = req.json(&b);
    }
    let res = req.send().await.unwrap();
    let status = res.status().as_u16();
    (status, res.json().await.unwrap_or(Value::Null))
}

backend_tests! {
    async fn a_period_report_reaches_each_subscribed_representative_exactly_once(backend) {
        let w = world(backend).await;
        let mail = mail_settings(&w.app);
        // The scheduler on 12 October 2025: Q3 ended, its send day (the 10th) has come.
        let m = mail.clone();
        let first = w.app.with_conn(move |c| reports::run_schedule(c, d("2025-10-12"), &m).unwrap()).await;
        assert_eq!(first.generated.as_deref(), Some("2025-Q3"));
        assert_eq!((first.sent.queued, first.sent.unsubscribed), (2, 1), "Alice and Carol; not Bob, not Dave");
        let m = mail.clone();
        let again = w.app.with_conn(move |c| reports::run_schedule(c, d("2025-10-13"), &m).unwrap()).await;
        assert_eq!((again.generated, again.sent.queued), (None, 0), "a second run sends nothing");

        // Two instances (two connection pools on the same database) run the job for Q4 at the same moment.
        let barrier = std::sync::Arc::new(std::sync::Barrier::new(2));
        let runs: Vec<_> = (0..2)
            .map(|_| {
                let (db, m, barrier) = (w.app.test_db.connect(), mail.clone(), barrier.clone());
                std::thread::spawn(move || {
                    let mut conn = db.get().unwrap();
                    barrier.wait();
                    reports::run_schedule(&mut conn, d("2026-01-12"), &m).unwrap()
                })
            })
            .collect();
        let runs: Vec<_> = runs.into_iter().map(|t| t.join().unwrap()).collect();
        assert_eq!(runs.iter().filter(|r| r.generated.is_some()).count(), 1, "generated once");
        assert_eq!(runs.iter().map(|r| r.sent.queued).sum::<usize>(), 2, "queued once per recipient");

        // By hand, with the command: sending again queues nothing.
        let url = w.app.test_db.url_string();
        for _ in 0..2 {
            let out = std::process::Command::new(steward_bin())
                .args(["report", "send", "--period", "2025-Q3"])
                .env("DATABASE_URL", &url)
                .env("RUST_LOG", "error")
                .env("STEWARD_BASE_URL", &w.app.address)
                .output()
                .unwrap();
            let stdout = String::from_utf8_lossy(&out.stdout);
            assert!(out.status.success(), "{stdout} {}", String::from_utf8_lossy(&out.stderr));
            assert!(stdout.contains("0 emails queued, 2 had it already, 1 turned report emails off"), "{stdout}");
        }
        let out = std::process::Command::new(steward_bin())
            .args(["report", "generate", "--period", "2025-Q3"])
            .env("DATABASE_URL", &url)
            .env("RUST_LOG", "error")
            .output()
            .unwrap();
        assert!(String::from_utf8_lossy(&out.stdout).contains("was generated before"));
        let out = std::process::Command::new(steward_bin())
            .args(["report", "generate", "--period", "2025-Q9"])
            .env("DATABASE_URL", &url)
            .env("RUST_LOG", "error")
            .output()
            .unwrap();
        assert!(!out.status.success());
        assert!(String::from_utf8_lossy(&out.stderr).contains("not a period like 2026-Q3"));

        let queued = report_mail(&w.app).await;
        assert_eq!(
            queued,
            vec![
                ("report:2025-Q3:user:".to_string() + &w.alice.id.to_string(), "alice@example.org".to_string()),
                ("report:2025-Q3:user:".to_string() + &w.carol.id.to_string(), "carol@example.org".to_string()),
                ("report:2025-Q4:user:".to_string() + &w.alice.id.to_string(), "alice@example.org".to_string()),
                ("report:2025-Q4:user:".to_string() + &w.carol.id.to_string(), "carol@example.org".to_string()),
            ]
        );

        // A real SMTP server receives each exactly once, as HTML with a plain-text part.
        let smtp = SmtpServer::start();
        let report = w.app.deliver_mail_to(&smtp).await;
        assert_eq!(report.sent, 4);
        let received = smtp.wait_for(4, std::time::Duration::from_secs(10)).await;
        let mut subjects: Vec<(String, String)> = received
            .iter()
            .map(|m| {
                let to = m.header("To").unwrap_or_default();
                let address = to.rsplit('<').next().unwrap_or_default().trim_end_matches('>').to_string();
                (address, m.header("Subject").unwrap_or_default())
            })
            .collect();
        subjects.sort();
        assert_eq!(subjects.len(), 4);
        assert!(subjects[0].0.contains("alice@example.org") && subjects[0].1.contains("July to September 2025"), "{subjects:?}");
        assert!(subjects[1].0.contains("alice@example.org") && subjects[1].1.contains("October to December 2025"));
        assert!(subjects.iter().all(|(to, _)| !to.contains("bob@") && !to.contains("dave@")));
        assert!(smtp.copies_by_message_id().values().all(|n| *n == 1));
        let raw = &received[0].raw;
        assert!(raw.contains("text/plain") && raw.contains("text/html"), "both parts");
        assert!(!raw.contains("<script") && !raw.contains("<svg") && !raw.contains("<img"), "no script, SVG or images");
        assert_eq!(w.app.deliver_mail_to(&smtp).await.sent, 0, "nothing left to send");
    }

    async fn figures_equal_the_ledger_and_metrics_and_stay_frozen(backend) {
        let w = world(backend).await;
        let council = w.app.api_token_for(w.council.id).await;
        let b = w.app.browser_signed_in(&w.council).await;
        b.get("/reports").await;
        let res = b.post("/reports", &[("period", "2025-Q3")]).await;
        assert_eq!(res.status(), 303);
        let (status, doc) = api(&w.app, &council, "GET", "/api/v1/reports/2025-Q3", None).await;
        assert_eq!(status, 200, "{doc}");
        assert_eq!(doc["report"]["status"], "generated");
        assert_eq!(doc["live"], false);
        let money = &doc["content"]["money"];
        assert_eq!((money["period_in"].as_i64(), money["period_out"].as_i64()), (Some(123_456), Some(50_000)));
        assert_eq!((money["year_in"].as_i64(), money["year_out"].as_i64()), (Some(223_456), Some(50_000)));
        assert_eq!(money["year_label"], "FY2025");
        let metric = &doc["content"]["metrics"][0];
        assert_eq!(metric["name"], "Active contributors");
        assert_eq!((metric["start_milli"].as_i64(), metric["end_milli"].as_i64()), (Some(12_000), Some(15_000)));
        // Baseline 10, target 20: 15 is half way.
        assert_eq!(metric["percent_to_target"].as_f64(), Some(50.0));

        // The same figures straight from the ledger.
        let (period_in, period_out) = w
            .app
            .with_conn(|c| steward::ledger::service::totals_between(c, d("2025-07-01"), d("2025-09-30")).unwrap())
            .await;
        assert_eq!((period_in, -period_out), (123_456, 50_000));

        // Corrections afterwards: the September value becomes 16, and a late entry lands in September.
        let m = w.metric;
        let observation: i64 = w
            .app
            .with_conn(move |c| {
                schema::metric_observations::table
                    .filter(schema::metric_observations::metric_id.eq(m))
                    .filter(schema::metric_observations::observed_on.eq(d("2025-09-15")))
                    .select(schema::metric_observations::id)
                    .first(c)
                    .unwrap()
            })
            .await;
        let (status, _) = api(&w.app, &council, "POST", &format!("/api/v1/observations/{observation}/correct"),
            Some(json!({"value": "16", "note": "recount"}))).await;
        assert_eq!(status, 201);
        let treasurer = w.app.create_user("late@example.org", &[Role::Treasurer], None).await;
        let t = treasurer.id;
        w.app
            .with_conn(move |c| {
                let input = steward::ledger::service::AdjustmentInput {
                    entry_date: "2025-09-25".into(),
                    direction: "in".into(),
                    amount: "10.00".into(),
                    currency: "USD".into(),
                    priority_id: None,
                    memo: "late".into(),
                };
                steward::ledger::service::post_adjustment(c, t, &input).unwrap();
            })
            .await;
        let (_, after) = api(&w.app, &council, "GET", "/api/v1/reports/2025-Q3", None).await;
        assert_eq!(after["content"], doc["content"], "the frozen content does not change");
        let (_, page) = b.get("/reports/2025-Q3").await;
        assert!(page.contains(">15<") && !page.contains(">16<"), "the archive page shows the value as generated");
        assert!(page.contains("USD 1,234.56"));
        // A period not generated yet shows live figures, corrections included.
        let (_, live) = api(&w.app, &council, "GET", "/api/v1/reports/2025-09", None).await;
        assert_eq!(live["live"], true);
        assert_eq!(live["content"]["metrics"][0]["end_milli"].as_i64(), Some(16_000));
        assert_eq!(live["content"]["money"]["period_in"].as_i64(), Some(1_000));

        // The emails sent afterwards carry the frozen figures too.
        let mail = mail_settings(&w.app);
        w.app.with_conn(move |c| reports::send(c, steward::audit::Actor::Cli, "2025-Q3", &mail).unwrap()).await;
        let outbox = w.app.outbox().await;
        let (_, _, text) = outbox.iter().find(|(to, _, _)| to == "alice@example.org").unwrap();
        assert!(text.contains("Active contributors: 15 (up 3 in the period)"), "{text}");
        assert!(text.contains("In the period: USD 1,234.56 in, USD 500.00 out."), "{text}");
    }

    async fn the_council_previews_writes_and_confirms_before_anything_is_sent(backend) {
        let w = world(backend).await;
        let b = w.app.browser_signed_in(&w.council).await;
        // Before generation: a live draft with the council's words.
        let (status, page) = b.get("/reports/2025-Q3").await;
        assert_eq!(status, 200);
        assert!(page.contains("Not generated yet"));
        let res = b.post("/reports/2025-Q3/words", &[("foreword", "Dear members,\n\nA <b>strong</b> quarter."), ("changes", "Release notes now come with every release.")]).await;
        assert_eq!(res.status(), 303);
        let long = "x".repeat(5_001);
        let res = b.post("/reports/2025-Q3/words", &[("foreword", long.as_str()), ("changes", "kept")]).await;
        assert_eq!(res.status(), 422);
        let html = res.text().await.unwrap();
        assert!(html.contains("id=\"foreword-error\"") && html.contains(">kept</textarea>"), "error by the field; input kept");

        // The exact email for Alice: her organization's section, the foreword escaped.
        let alice = w.alice.id;
        let (status, preview) = b.get(&format!("/reports/2025-Q3/preview?user={alice}")).await;
        assert_eq!(status, 200);
        assert!(preview.contains("alice@example.org") && preview.contains("ACME"), "text part with Acme's section");
        let res = b.client.get(b.url(&format!("/reports/2025-Q3/preview/email?user={alice}"))).send().await.unwrap();
        assert_eq!(res.status(), 200);
        let csp = res.headers().get("content-security-policy").unwrap().to_str().unwrap().to_string();
        assert!(csp.contains("default-src 'none'") && csp.contains("frame-ancestors 'self'"));
        let email = res.text().await.unwrap();
        assert!(email.contains("Dear members,") && !email.contains("<b>strong</b>"), "escaped foreword");
        assert!(email.contains("Release notes now come with every release."));
        assert!(email.contains("Acme") && !email.contains("Globex"));

        // Sending needs a generated report and a ticked confirmation.
        let res = b.post("/reports/2025-Q3/send", &[("confirm", "yes")]).await;
        assert_eq!(res.status(), 409);
        for bad in ["2025-Q9", "someday", "2099-Q1"] {
            let res = b.post("/reports", &[("period", bad)]).await;
            assert_eq!(res.status(), 422, "{bad}");
            let html = res.text().await.unwrap();
            assert!(html.contains("id=\"period-error\""), "{bad}");
        }
        assert_eq!(b.post("/reports", &[("period", "2025-Q3")]).await.status(), 303);
        let (_, confirm) = b.get("/reports/2025-Q3/send").await;
        assert!(confirm.contains("each of 2 representatives") && confirm.contains("1 who turned report emails off"));
        let res = b.post("/reports/2025-Q3/send", &[]).await;
        assert_eq!(res.status(), 422);
        assert!(report_mail(&w.app).await.is_empty(), "nothing sent without the confirmation");
        assert_eq!(b.post("/reports/2025-Q3/send", &[("confirm", "yes")]).await.status(), 303);
        assert_eq!(report_mail(&w.app).await.len(), 2);
        assert_eq!(b.post("/reports/2025-Q3/send", &[("confirm", "yes")]).await.status(), 303);
        assert_eq!(report_mail(&w.app).await.len(), 2, "sending again queues nothing new");
        let res = b.post("/reports/2025-Q3/words", &[("foreword", "Changed after sending"), ("changes", "")]).await;
        assert_eq!(res.status(), 303);
        let (_, page) = b.get("/reports/2025-Q3").await;
        assert!(page.contains("can no longer change") && !page.contains("Changed after sending"));

        // Representatives: the archive of sent reports, their own section and their own copy of the email.
        let a = w.app.browser_signed_in(&w.alice).await;
        let (_, list) = a.get("/reports").await;
        assert!(list.contains("/reports/2025-Q3") && !list.contains("Generate"));
        let (status, page) = a.get("/reports/2025-Q3").await;
        assert_eq!(status, 200);
        assert!(page.contains("Acme") && !page.contains("Globex") && !page.contains("Preview the email"));
        let (status, copy) = a.get("/reports/2025-Q3/email").await;
        assert_eq!(status, 200);
        assert!(copy.contains("Hello alice@example.org"));
        assert_eq!(a.get("/reports/2025-Q4").await.0, 404, "not sent: not theirs to see");
        assert_eq!(a.get("/reports/2025-Q3/preview").await.0, 403);
        let token = w.app.api_token_for(w.alice.id).await;
        let (status, doc) = api(&w.app, &token, "GET", "/api/v1/reports/2025-Q3", None).await;
        assert_eq!(status, 200);
        assert_eq!(doc["personal"]["organization"], "Acme");
        let (_, list) = api(&w.app, &token, "GET", "/api/v1/reports", None).await;
        assert_eq!(list.as_array().map(|l| l.len()), Some(1));
        let c = w.app.browser_signed_in(&w.carol).await;
        let (_, page) = c.get("/reports/2025-Q3").await;
        assert!(page.contains("Globex") && !page.contains("Acme"));

        // The schedule: admins set it; every field is checked; the API shows it.
        let ad = w.app.browser_signed_in(&w.admin).await;
        ad.get("/reports/schedule").await;
        let res = ad.post("/reports/schedule", &[("frequency", "weekly"), ("send_day", "40")]).await;
        assert_eq!(res.status(), 422);
        let html = res.text().await.unwrap();
        for field in ["frequency", "send_day", "sections"] {
            assert!(html.contains(&format!("id=\"{field}-error\"")), "{field}");
        }
        let res = ad.post("/reports/schedule", &[("frequency", "monthly"), ("send_day", "5"), ("sections", "money"), ("sections", "metrics")]).await;
        assert_eq!(res.status(), 303);
        let council = w.app.api_token_for(w.council.id).await;
        let (_, schedule) = api(&w.app, &council, "GET", "/api/v1/reports/schedule", None).await;
        assert_eq!(schedule, json!({"frequency": "monthly", "send_day": 5, "sections": ["money", "metrics"], "automatic": false}));
        let admin = w.app.api_token_for(w.admin.id).await;
        let (status, problem) = api(&w.app, &admin, "PUT", "/api/v1/reports/schedule",
            Some(json!({"frequency": "quarterly", "send_day": 0, "sections": ["money", "gossip"], "automatic": true}))).await;
        assert_eq!(status, 422, "{problem}");
        let (_, unchanged) = api(&w.app, &council, "GET", "/api/v1/reports/schedule", None).await;
        assert_eq!(unchanged, schedule);
    }

    async fn the_transparency_page_shows_nothing_private(backend) {
        let app = TestApp::spawn(backend).await;
        app.seed_demo().await;
        // Off: no page, no feed.
        app.with_conn(|c| steward::settings::service::set(c, steward::settings::service::TRANSPARENCY, "false").unwrap()).await;
        assert_eq!(app.get("/transparency").await.status(), 404);
        assert_eq!(app.get("/transparency/feed.atom").await.status(), 404);
        assert_eq!(app.get("/transparency/reports/2026-Q3").await.status(), 404);
        app.with_conn(|c| steward::settings::service::set(c, steward::settings::service::TRANSPARENCY, "true").unwrap()).await;

        // What is private: survey answers, people, member organizations, dues, proposals, feedback, forewords;
        // and a priority and a metric taken off the page.
        let private: Vec<String> = app
            .with_conn(|c| {
                let mut out: Vec<String> = schema::survey_answers::table
                    .select(schema::survey_answers::value)
                    .load::<String>(c)
                    .unwrap()
                    .into_iter()
                    .filter(|v| v.len() > 20)
                    .collect();
                out.extend(schema::users::table.select(schema::users::display_name).load::<String>(c).unwrap());
                out.extend(schema::users::table.select(schema::users::email).load::<String>(c).unwrap());
                out.extend(schema::members::table.select(schema::members::name).load::<String>(c).unwrap());
                let amounts: Vec<(i64, String)> = schema::invoices::table
                    .select((schema::invoices::amount_minor, schema::invoices::currency))
                    .load(c)
                    .unwrap();
                out.extend(amounts.into_iter().filter(|(a, _)| a % 100_000 != 0).map(|(a, cur)| steward::money::format(a, &cur)));
                out.extend(schema::initiatives::table.filter(schema::initiatives::status.eq_any(["proposed", "cancelled"])).select(schema::initiatives::title).load::<String>(c).unwrap());
                out.extend(schema::feedback_items::table.select(schema::feedback_items::body).load::<String>(c).unwrap());
                out.extend(schema::feedback_items::table.select(schema::feedback_items::answer).load::<String>(c).unwrap().into_iter().filter(|a| !a.is_empty()));
                out.extend(schema::reports::table.select(schema::reports::foreword).load::<String>(c).unwrap().into_iter().filter(|f| !f.is_empty()));
                let hidden_priority: (i64, String) = schema::funding_priorities::table.order(schema::funding_priorities::id.desc()).select((schema::funding_priorities::id, schema::funding_priorities::title)).first(c).unwrap();
                let hidden_metric: (i64, String) = schema::metrics::table.order(schema::metrics::id.desc()).select((schema::metrics::id, schema::metrics::name)).first(c).unwrap();
                diesel::update(schema::funding_priorities::table.find(hidden_priority.0)).set(schema::funding_priorities::public.eq(false)).execute(c).unwrap();
                diesel::update(schema::metrics::table.find(hidden_metric.0)).set(schema::metrics::public.eq(false)).execute(c).unwrap();
                out.push(hidden_priority.1);
                out.push(hidden_metric.1);
                out
            })
            .await;
        assert!(private.len() > 40, "the demo has private data to look for: {}", private.len());

        let index = app.get("/transparency").await.text().await.unwrap();
        let feed = app.get("/transparency/feed.atom").await;
        assert_eq!(feed.headers().get("content-type").unwrap(), "application/atom+xml; charset=utf-8");
        let feed = feed.text().await.unwrap();
        let periods: Vec<String> = app
            .with_conn(|c| schema::reports::table.filter(schema::reports::published.eq(true)).select(schema::reports::period).load(c).unwrap())
            .await;
        assert_eq!(periods.len(), 4, "the demo's four sent reports are published");
        assert_eq!(feed.matches("<entry>").count(), 4);
        let mut pages = vec![("index".to_string(), index.clone()), ("feed".to_string(), feed)];
        for p in &periods {
            let res = app.get(&format!("/transparency/reports/{p}")).await;
            assert_eq!(res.status(), 200);
            pages.push((p.clone(), res.text().await.unwrap()));
        }
        // What is public is there.
        assert!(index.contains("Grow contributor capacity") && index.contains("where the money goes"), "{index}");
        assert!(pages[2].1.contains("Money in and out"));
        for (name, body) in &pages {
            let text = body.replace("&#39;", "'").replace("&#x27;", "'").replace("&amp;", "&").replace("&quot;", "\"");
            for secret in &private {
                assert!(!text.contains(secret.as_str()), "{name} shows private data: {secret}");
            }
            assert!(!text.contains("What members told us") && !text.contains("Invoice"), "{name}");
        }
        // A report not published is not public, and drafts never are.
        let first = periods[0].clone();
        let council = app.with_conn(|c| schema::users::table.filter(schema::users::email.eq("council@demo.steward.invalid")).select(schema::users::id).first::<i64>(c).unwrap()).await;
        app.with_conn(move |c| reports::set_published(c, council, &first, false).unwrap()).await;
        assert_eq!(app.get(&format!("/transparency/reports/{}", periods[0])).await.status(), 404);
        let next = Period::containing(steward::reports::period::Frequency::Quarterly, steward::db::now().date()).code();
        assert_eq!(app.get(&format!("/transparency/reports/{next}")).await.status(), 404);
        let err = app.with_conn(move |c| reports::set_published(c, council, &next, true)).await;
        assert!(err.is_err(), "only sent reports can be published");
    }
}
