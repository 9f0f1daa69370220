//! Dues through the front door: fiscal years, invoices prorated and numbered without gaps, payments that
//! post to the ledger, voids that reverse them, closed years, and who sees which invoice.

use diesel::prelude::*;
use serde_json::{json, Value};
use steward::accounts::Role;
use steward::db::schema;

use crate::backend_tests;
use crate::support::browser::Browser;
use crate::support::{TestApp, TestUser};

fn field_error<'a>(html: &'a str, field: &str) -> Option<&'a str> {
    let marker = format!("id=\"{field}-error\">");
    let at = html.find(&marker)? + marker.len();
    html[at..].split('<').next()
}

/// A treasurer, an open FY2025, a Gold tier (USD 10,000.00) and an active member on it.
async fn setup(app: &TestApp, joined: &str) -> (TestUser, Browser, i64, i64) {
    let user = app.create_user("treasurer@example.org", &[Role::Treasurer], None).await;
    let b = app.browser_signed_in(&user).await;
    b.get("/fiscal-years").await;
    let res =
        b.post("/fiscal-years", &[("label", "FY2025"), ("starts_on", "2025-01-01"), ("ends_on", "2025-12-31")]).await;
    assert_eq!(res.status(), 303);
    let year: i64 =
        app.with_conn(|c| schema::fiscal_years::table.select(schema::fiscal_years::id).first(c).unwrap()).await;
    assert_eq!(b.post(&format!("/fiscal-years/{year}/status"), &[("status", "open")]).await.status(), 303);
    b.get("/tiers/new").await;
    b.post("/tiers/new", &[("name", "Gold"), ("annual_dues", "10000"), ("currency", "USD")]).await;
    let tier: i64 =
        app.with_conn(|c| schema::membership_tiers::table.select(schema::membership_tiers::id).first(c).unwrap()).await;
    b.get("/members/new").await;
    let res = b
        .post(
            "/members/new",
            &[
                ("name", "Acme"),
                ("slug", "acme"),
                ("tier", &tier.to_string()),
                ("status", "active"),
                ("joined_on", joined),
            ],
        )
        .await;
    assert_eq!(res.status(), 303);
    let member: i64 = app.with_conn(|c| schema::members::table.select(schema::members::id).first(c).unwrap()).await;
    (user, b, year, member)
}

async fn ledger_sum(app: &TestApp) -> i64 {
    let amounts: Vec<i64> = app
        .with_conn(|c| schema::ledger_entries::table.select(schema::ledger_entries::amount_minor).load(c).unwrap())
        .await;
    amounts.iter().sum()
}

backend_tests! {
    async fn invoices_are_prorated_paid_and_voided_through_the_ledger(backend) {
        let app = TestApp::spawn(backend).await;
        let (_, b, year, _) = setup(&app, "2025-07-01").await;
        b.get("/invoices").await;
        let res = b.post("/invoices/issue", &[("fiscal_year", &year.to_string()), ("issued_on", "2025-07-01")]).await;
        assert_eq!(res.status(), 303);
        assert!(b.get("/invoices").await.1.contains("1 invoice issued"));
        b.post("/invoices/issue", &[("fiscal_year", &year.to_string()), ("issued_on", "2025-07-02")]).await;
        let (id, number, amount, due): (i64, i64, i64, chrono::NaiveDate) = app.with_conn(|c| {
            schema::invoices::table.select((schema::invoices::id, schema::invoices::number, schema::invoices::amount_minor, schema::invoices::due_on)).first(c).unwrap()
        }).await;
        assert_eq!((number, amount), (1, 504_110), "184 of 365 days of USD 10,000.00, one invoice only");
        assert_eq!(due.to_string(), "2025-07-31");
        let (status, page) = b.get(&format!("/invoices/{id}")).await;
        assert_eq!(status, 200);
        assert!(page.contains("INV-000001") && page.contains("USD 5,041.10") && page.contains("prorated from 2025-07-01"));

        for (amount, paid_on, field, says) in [
            ("6000", "2025-08-01", "amount", "more than the open balance"),
            ("-5", "2025-08-01", "amount", "negative"),
            ("10.001", "2025-08-01", "amount", "2 decimal places"),
            ("0", "2025-08-01", "amount", "more than zero"),
            ("100", "yesterday", "paid_on", "date"),
        ] {
            let res = b.post(&format!("/invoices/{id}/payments"), &[("confirm", "yes"), ("amount", amount), ("paid_on", paid_on), ("reference", "")]).await;
            assert_eq!(res.status(), 422, "{amount} {paid_on}");
            assert!(field_error(&res.text().await.unwrap(), field).unwrap_or_default().contains(says), "{amount}");
        }
        // Money moving needs its box ticked; the form comes back with what was typed.
        let res = b.post(&format!("/invoices/{id}/payments"), &[("amount", "2,000.00"), ("paid_on", "2025-08-01"), ("reference", "wire 1")]).await;
        assert_eq!(res.status(), 422);
        let html = res.text().await.unwrap();
        assert!(html.contains("id=\"confirm-payment-error\"") && html.contains("value=\"wire 1\""), "unconfirmed: error by the box, input kept");
        assert_eq!(ledger_sum(&app).await, 0, "nothing posted on bad input");
        assert_eq!(b.post(&format!("/invoices/{id}/payments"), &[("confirm", "yes"), ("amount", "2,000.00"), ("paid_on", "2025-08-01"), ("reference", "wire 1")]).await.status(), 303);
        assert_eq!(b.post(&format!("/invoices/{id}/payments"), &[("confirm", "yes"), ("amount", "3041.10"), ("paid_on", "2025-08-15"), ("reference", "wire 2")]).await.status(), 303);
        let status: String = app.with_conn(move |c| schema::invoices::table.find(id).select(schema::invoices::status).first(c).unwrap()).await;
        assert_eq!(status, "paid");
        assert_eq!(ledger_sum(&app).await, 504_110);
        assert_eq!(b.post(&format!("/invoices/{id}/payments"), &[("confirm", "yes"), ("amount", "1"), ("paid_on", "2025-08-16")]).await.status(), 409);

        // Voiding keeps the number and reverses both payments.
        assert_eq!(b.post(&format!("/invoices/{id}/void"), &[("confirm", "yes"), ("reason", "")]).await.status(), 422);
        assert_eq!(b.post(&format!("/invoices/{id}/void"), &[("confirm", "yes"), ("reason", "Issued to the wrong entity")]).await.status(), 303);
        let entries: Vec<(String, i64, Option<i64>)> = app.with_conn(|c| {
            schema::ledger_entries::table.order(schema::ledger_entries::id)
                .select((schema::ledger_entries::kind, schema::ledger_entries::amount_minor, schema::ledger_entries::reverses_entry_id)).load(c).unwrap()
        }).await;
        assert_eq!(entries.iter().filter(|e| e.0 == "reversal").count(), 2);
        assert!(entries.iter().filter(|e| e.0 == "reversal").all(|e| e.2.is_some()));
        assert_eq!(ledger_sum(&app).await, 0, "the ledger balances to zero after the void");
        assert!(b.get(&format!("/invoices/{id}")).await.1.contains("Issued to the wrong entity"));
        // A new invoice takes the next number; the void one keeps 1.
        b.post("/invoices/issue", &[("fiscal_year", &year.to_string()), ("issued_on", "2025-09-01")]).await;
        let numbers: Vec<i64> = app.with_conn(|c| schema::invoices::table.order(schema::invoices::number).select(schema::invoices::number).load(c).unwrap()).await;
        assert_eq!(numbers, vec![1, 2]);
        // The accountant's CSV keeps negative amounts as numbers.
        let csv = b.client.get(b.url("/ledger/export.csv")).send().await.unwrap().text().await.unwrap();
        assert!(csv.contains(",-2000.00,") && !csv.contains("'-2000.00"), "{csv}");
        let (_, years) = b.get("/fiscal-years").await;
        assert!(years.contains("USD 0.00"), "the year's balance is summed from the entries");
    }

    async fn a_closed_year_takes_no_entries_and_never_reopens(backend) {
        let app = TestApp::spawn(backend).await;
        let (_, b, year, _) = setup(&app, "2024-01-01").await;
        b.post("/invoices/issue", &[("fiscal_year", &year.to_string()), ("issued_on", "2025-01-15")]).await;
        let id: i64 = app.with_conn(|c| schema::invoices::table.select(schema::invoices::id).first(c).unwrap()).await;
        assert_eq!(b.post(&format!("/fiscal-years/{year}/status"), &[("confirm", "yes"), ("status", "closed")]).await.status(), 303);
        let res = b.post(&format!("/invoices/{id}/payments"), &[("confirm", "yes"), ("amount", "100"), ("paid_on", "2025-03-01")]).await;
        assert_eq!(res.status(), 409);
        assert!(res.text().await.unwrap().contains("closed"));
        assert_eq!(b.post(&format!("/fiscal-years/{year}/status"), &[("status", "open")]).await.status(), 409);
        let res = b.post(&format!("/invoices/{id}/payments"), &[("confirm", "yes"), ("amount", "100"), ("paid_on", "2026-03-01")]).await;
        assert_eq!(res.status(), 409, "no open year covers the date");
        assert_eq!(ledger_sum(&app).await, 0);
        // Overlapping years are refused.
        let res = b.post("/fiscal-years", &[("label", "FY2025b"), ("starts_on", "2025-06-01"), ("ends_on", "2026-05-31")]).await;
        assert_eq!(res.status(), 422);
    }

    async fn invoice_numbers_have_no_gaps_under_concurrent_issuing(backend) {
        let app = TestApp::spawn(backend).await;
        let (user, _b, year, first) = setup(&app, "2024-01-01").await;
        let tier: i64 = app.with_conn(|c| schema::membership_tiers::table.select(schema::membership_tiers::id).first(c).unwrap()).await;
        let mut members = vec![first];
        for i in 0..19 {
            let id = app.with_conn(move |c| {
                let now = steward::db::now();
                steward::on_backend!(c, |c| diesel::insert_into(schema::members::table)
                    .values((schema::members::slug.eq(format!("org-{i}")), schema::members::name.eq(format!("Org {i}")),
                        schema::members::status.eq("active"), schema::members::tier_id.eq(tier),
                        schema::members::created_at.eq(now), schema::members::updated_at.eq(now)))
                    .returning(schema::members::id).get_result::<i64>(c)).unwrap()
            }).await;
            members.push(id);
        }
        // One that fails in its transaction (no tier) must not use up a number.
        let broken = app.create_member("broken", "Broken").await;
        app.with_conn(move |c| diesel::update(schema::members::table.find(broken)).set(schema::members::status.eq("active")).execute(c).unwrap()).await;
        members.insert(7, broken);
        let identity = steward::accounts::Identity {
            user_id: user.id, email: user.email.clone(), display_name: "T".into(), member_id: None,
            roles: vec![Role::Treasurer], has_two_factor: false,
            via: steward::accounts::model::AuthMethod::ApiToken { token_id: 0 },
            time_zone: "UTC".into(),
        };
        let handles: Vec<_> = members.into_iter().map(|m| {
            let (db, identity) = (app.db.clone(), identity.clone());
            tokio::task::spawn_blocking(move || {
                let mut conn = db.get().unwrap();
                steward::dues::service::issue_invoice(&mut conn, &identity, m, year, chrono::NaiveDate::from_ymd_opt(2025, 2, 1).unwrap()).is_ok()
            })
        }).collect();
        let mut ok = 0;
        for h in handles {
            ok += h.await.unwrap() as usize;
        }
        assert_eq!(ok, 20);
        let numbers: Vec<i64> = app.with_conn(|c| schema::invoices::table.order(schema::invoices::number).select(schema::invoices::number).load(c).unwrap()).await;
        assert_eq!(numbers, (1..=20).collect::<Vec<i64>>(), "every number once, none skipped");
    }

    async fn reminders_follow_the_schedule_once_each_and_respect_unsubscribes(backend) {
        let app = TestApp::spawn(backend).await;
        let today = steward::db::now().date();
        let (_, b, _, acme) = setup(&app, "2024-01-01").await;
        // A fiscal year around today, and an invoice 10 days past due.
        let (start, end) = (today - chrono::Duration::days(100), today + chrono::Duration::days(200));
        b.post("/fiscal-years", &[("label", "Current"), ("starts_on", &start.to_string()), ("ends_on", &end.to_string())]).await;
        let current: i64 = app.with_conn(|c| schema::fiscal_years::table.filter(schema::fiscal_years::label.eq("Current")).select(schema::fiscal_years::id).first(c).unwrap()).await;
        b.post(&format!("/fiscal-years/{current}/status"), &[("status", "open")]).await;
        b.post("/invoices/issue", &[("fiscal_year", &current.to_string()), ("issued_on", &(today - chrono::Duration::days(40)).to_string())]).await;
        // Acme renews in 30 days; its representative is the billing contact.
        let renews = (today + chrono::Duration::days(30)).to_string();
        app.with_conn(move |c| diesel::update(schema::members::table.find(acme)).set(schema::members::renews_on.eq(chrono::NaiveDate::parse_from_str(&renews, "%Y-%m-%d").unwrap())).execute(c).unwrap()).await;
        let rep = app.create_user("billing@acme.example", &[Role::MemberRep], Some(acme)).await;

        b.get("/invoices/reminders").await;
        let res = b.post("/invoices/reminders", &[("before_renewal", "30"), ("after_due", "7, lots")]).await;
        assert_eq!(res.status(), 422);
        assert!(field_error(&res.text().await.unwrap(), "after_due").unwrap().contains("lots"));
        assert_eq!(b.post("/invoices/reminders", &[("before_renewal", "30"), ("after_due", "7")]).await.status(), 303);

        let (config, db) = (app.config.clone(), app.db.clone());
        let key = tokio::task::spawn_blocking(move || steward::app::signing_key(&config, &db).unwrap()).await.unwrap();
        let first = steward::jobs::run_once(&app.config, &app.db, &key).await.unwrap();
        assert_eq!((first.dues.overdue, first.dues.renewal), (1, 1));
        let again = steward::jobs::run_once(&app.config, &app.db, &key).await.unwrap();
        assert_eq!((again.dues.overdue, again.dues.renewal), (0, 0), "a second run queues nothing new");
        let smtp = crate::support::smtp::SmtpServer::start();
        assert_eq!(app.deliver_mail_to(&smtp).await.sent, 2);
        let mail = smtp.wait_for(2, std::time::Duration::from_secs(10)).await;
        assert!(mail.iter().all(|m| m.header("To").unwrap().contains("billing@acme.example")));
        assert!(mail.iter().any(|m| m.header("Subject").unwrap().contains("past due")));
        assert!(mail.iter().any(|m| m.header("Subject").unwrap().contains("renews on")));
        assert!(mail.iter().all(|m| m.header("List-Unsubscribe").is_some()), "reminders are bulk mail");

        // After unsubscribing from reminders, the next one is not sent.
        let rep_id = rep.id;
        app.with_conn(move |c| steward::mail::preferences::set(c, rep_id, steward::mail::Category::Reminders, false).unwrap()).await;
        app.with_conn(|c| diesel::delete(schema::outbox::table).execute(c).unwrap()).await;
        let rerun = steward::jobs::run_once(&app.config, &app.db, &key).await.unwrap();
        assert_eq!(rerun.dues.overdue + rerun.dues.renewal, 2, "queued again once the earlier rows are gone");
        let report = app.deliver_mail_to(&smtp).await;
        assert_eq!((report.sent, report.cancelled), (0, 2));
        assert_eq!(smtp.messages().len(), 2);
    }

    async fn representatives_see_their_own_invoices_only(backend) {
        let app = TestApp::spawn(backend).await;
        let (treasurer, b, year, acme) = setup(&app, "2024-01-01").await;
        b.get("/members/new").await;
        let tier: i64 = app.with_conn(|c| schema::membership_tiers::table.select(schema::membership_tiers::id).first(c).unwrap()).await;
        b.post("/members/new", &[("name", "Beta"), ("slug", "beta"), ("tier", &tier.to_string()), ("status", "active"), ("joined_on", "2024-01-01")]).await;
        b.post("/invoices/issue", &[("fiscal_year", &year.to_string()), ("issued_on", "2025-01-15")]).await;
        let invoices: Vec<(i64, i64)> = app.with_conn(|c| schema::invoices::table.select((schema::invoices::id, schema::invoices::member_id)).load(c).unwrap()).await;
        assert_eq!(invoices.len(), 2);
        let own = invoices.iter().find(|(_, m)| *m == acme).unwrap().0;
        let other = invoices.iter().find(|(_, m)| *m != acme).unwrap().0;
        let rep = app.create_user("rep@acme.example", &[Role::MemberRep], Some(acme)).await;
        let r = app.browser_signed_in(&rep).await;
        assert_eq!(r.get(&format!("/invoices/{own}")).await.0, 200);
        assert_eq!(r.get(&format!("/invoices/{other}")).await.0, 404);
        let (status, list) = r.get("/invoices").await;
        assert_eq!(status, 200);
        assert!(list.contains(&format!("/invoices/{own}\"")) && !list.contains(&format!("/invoices/{other}\"")));
        let csv = r.client.get(r.url("/invoices/export.csv")).send().await.unwrap().text().await.unwrap();
        assert!(csv.contains("Acme") && !csv.contains("Beta"), "{csv}");
        let token = app.api_token_for(rep.id).await;
        let api = reqwest::Client::new();
        let list: Value = api.get(app.url("/api/v1/invoices")).bearer_auth(&token).send().await.unwrap().json().await.unwrap();
        assert_eq!(list["total"], 1);
        assert_eq!(list["items"][0]["id"], own);
        assert_eq!(api.get(app.url(&format!("/api/v1/invoices/{other}"))).bearer_auth(&token).send().await.unwrap().status(), 404);
        let res = api.post(app.url(&format!("/api/v1/invoices/{own}/payments"))).bearer_auth(&token).json(&json!({"amount": "1", "paid_on": "2025-02-01"})).send().await.unwrap();
        assert_eq!(res.status(), 403, "representatives do not record payments");
        let t_token = app.api_token_for(treasurer.id).await;
        let res = api.post(app.url(&format!("/api/v1/invoices/{own}/payments"))).bearer_auth(&t_token).json(&json!({"amount": "10000.00", "paid_on": "2025-02-01", "reference": "wire"})).send().await.unwrap();
        assert_eq!(res.status(), 201);
        let paid: Value = api.get(app.url(&format!("/api/v1/invoices/{own}"))).bearer_auth(&token).send().await.unwrap().json().await.unwrap();
        assert_eq!(paid["status"], "paid");
        assert_eq!(paid["payments"].as_array().unwrap().len(), 1);
        let overdue: Value = api.get(app.url("/api/v1/invoices?status=overdue")).bearer_auth(&t_token).send().await.unwrap().json().await.unwrap();
        assert_eq!(overdue["total"], 1, "Beta's invoice is past due");
        let late: Value = api.get(app.url("/api/v1/members?overdue=true")).bearer_auth(&t_token).send().await.unwrap().json().await.unwrap();
        assert_eq!(late["total"], 1);
        assert_eq!(late["items"][0]["slug"], "beta");
        let (_, page) = b.get("/members?overdue=1").await;
        assert!(page.contains(">Beta</a>") && !page.contains(">Acme</a>"));
    }
}
