//! Money that cannot break, through the front door: one grammar for amounts (forms and API), bounds on amounts,
//! converted amounts and exchange rates that keep every sum within range, multi-part API changes that are all
//! or nothing, and idempotency keys on the API's money POSTs.

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

/// A treasurer with a browser and an API token, and an open fiscal year around today.
async fn treasurer_with_open_year(app: &TestApp) -> (TestUser, Browser, String) {
    let user = app.create_user("treasurer@example.org", &[Role::Treasurer], None).await;
    let b = app.browser_signed_in(&user).await;
    b.get("/fiscal-years").await;
    let year = chrono::Utc::now().date_naive().format("%Y").to_string();
    let (starts, ends) = (format!("{year}-01-01"), format!("{year}-12-31"));
    let res =
        b.post("/fiscal-years", &[("label", &format!("FY{year}")), ("starts_on", &starts), ("ends_on", &ends)]).await;
    assert_eq!(res.status(), 303);
    let id: i64 =
        app.with_conn(|c| schema::fiscal_years::table.select(schema::fiscal_years::id).first(c).unwrap()).await;
    assert_eq!(b.post(&format!("/fiscal-years/{id}/status"), &[("status", "open")]).await.status(), 303);
    let token = app.api_token_for(user.id).await;
    (user, b, token)
}

fn today() -> String {
    chrono::Utc::now().date_naive().to_string()
}

async fn adjust(app: &TestApp, token: &str, amount: &str, currency: &str, direction: &str) -> reqwest::Response {
    reqwest::Client::new()
        .post(app.url("/api/v1/ledger/adjustments"))
        .bearer_auth(token)
        .json(&json!({"entry_date": today(), "direction": direction, "amount": amount, "currency": currency,
                      "memo": "test"}))
        .send()
        .await
        .unwrap()
}

async fn entries(app: &TestApp) -> i64 {
    app.with_conn(|c| schema::ledger_entries::table.count().get_result(c).unwrap()).await
}

/// The message of a problem+json answer's field.
async fn problem_field(res: reqwest::Response, field: &str) -> String {
    assert_eq!(res.headers()["content-type"], "application/problem+json");
    let body: Value = res.json().await.unwrap();
    let errors = body["errors"].as_array().cloned().unwrap_or_default();
    errors
        .iter()
        .find(|e| e["field"] == field)
        .and_then(|e| e["message"].as_str())
        .unwrap_or_else(|| panic!("no error for {field}: {body}"))
        .to_string()
}

backend_tests! {
    async fn amounts_take_commas_only_between_groups_of_three_on_forms_and_in_the_api(backend) {
        let app = TestApp::spawn(backend).await;
        let (_, b, token) = treasurer_with_open_year(&app).await;
        b.get("/ledger").await;
        let date = today();
        let form = |amount: &'static str| {
            vec![("entry_date", date.clone()), ("direction", "in".to_string()), ("amount", amount.to_string()),
                 ("currency", "USD".to_string()), ("memo", "grant".to_string()), ("confirm", "yes".to_string())]
        };
        // A comma as decimal mark was read as thousands: 12,50 stored as 1,250.00. Now it is refused, naming the form.
        for bad in ["12,50", "1,2345"] {
            let fields = form(bad);
            let fields: Vec<(&str, &str)> = fields.iter().map(|(k, v)| (*k, v.as_str())).collect();
            let res = b.post("/ledger/adjustments", &fields).await;
            assert_eq!(res.status(), 422, "{bad}");
            let html = res.text().await.unwrap();
            let message = field_error(&html, "adj-amount").unwrap_or_else(|| panic!("a field error for {bad}"));
            assert!(message.contains("1,234.50") && message.contains(bad), "{bad}: {message}");

            let res = adjust(&app, &token, bad, "USD", "in").await;
            assert_eq!(res.status(), 422, "{bad}");
            let message = problem_field(res, "amount").await;
            assert!(message.contains("1,234.50"), "{bad}: {message}");
        }
        assert_eq!(entries(&app).await, 0, "nothing refused was posted");
        // Groups of three are fine, on the form and in the API.
        let fields = form("1,234.50");
        let fields: Vec<(&str, &str)> = fields.iter().map(|(k, v)| (*k, v.as_str())).collect();
        assert_eq!(b.post("/ledger/adjustments", &fields).await.status(), 303);
        let res = adjust(&app, &token, "12,345.67", "USD", "in").await;
        assert_eq!(res.status(), 201);
        let amounts: Vec<i64> = app
            .with_conn(|c| {
                schema::ledger_entries::table
                    .order(schema::ledger_entries::id)
                    .select(schema::ledger_entries::amount_minor)
                    .load(c)
                    .unwrap()
            })
            .await;
        assert_eq!(amounts, vec![123_450, 1_234_567]);
    }

    async fn out_of_range_amounts_and_rates_are_refused_and_the_largest_keep_every_page_answering(backend) {
        let app = TestApp::spawn(backend).await;
        let (_, b, token) = treasurer_with_open_year(&app).await;
        let api = reqwest::Client::new();
        let rate = |currency: &str, rate: &str| {
            api.post(app.url("/api/v1/exchange-rates"))
                .bearer_auth(&token)
                .json(&json!({"currency": currency, "effective_on": "2000-01-01", "rate": rate}))
                .send()
        };
        // Rates outside 0.000001 to 1,000,000 are refused.
        let res = rate("GBP", "1000000.5").await.unwrap();
        assert_eq!(res.status(), 422);
        assert!(problem_field(res, "rate").await.contains("at most 1,000,000"));
        let res = rate("GBP", "0.0000001").await.unwrap();
        assert_eq!(res.status(), 422);
        assert!(problem_field(res, "rate").await.contains("at least 0.000001"));
        assert_eq!(rate("EUR", "9000").await.unwrap().status(), 201);

        // What once broke the treasury for good: two adjustments of 10^13 EUR at 9000 overflowed every sum.
        for _ in 0..2 {
            let res = adjust(&app, &token, "10000000000000", "EUR", "in").await;
            assert_eq!(res.status(), 422);
            assert!(problem_field(res, "amount").await.contains("at most EUR 999,999,999,999.99"));
        }
        // Within the amount bound, but beyond it once converted: refused, naming the base currency's bound.
        let res = adjust(&app, &token, "999,999,999,999.99", "EUR", "in").await;
        assert_eq!(res.status(), 422);
        assert!(problem_field(res, "amount").await.contains("in USD it would be more than USD 999,999,999,999.99"));
        assert_eq!(entries(&app).await, 0);

        let res = adjust(&app, &token, "111,111,111.12", "EUR", "in").await;
        assert_eq!(res.status(), 422, "just beyond the bound once converted");
        assert_eq!(entries(&app).await, 0);
        // The largest accepted: EUR 111,111,111.11 at 9000 is USD 999,999,999,990.00; and the bound itself in USD.
        let mut posted = 0;
        for (amount, currency, direction) in [
            ("111,111,111.11", "EUR", "in"),
            ("111,111,111.11", "EUR", "in"),
            ("999,999,999,999.99", "USD", "in"),
            ("999,999,999,999.99", "USD", "in"),
            ("999,999,999,999.99", "USD", "out"),
        ] {
            let res = adjust(&app, &token, amount, currency, direction).await;
            assert_eq!(res.status(), 201, "{amount} {currency}: {}", res.text().await.unwrap());
            posted += 1;
        }
        assert_eq!(entries(&app).await, posted);
        for page in ["/treasury", "/", "/ledger", "/fiscal-years"] {
            let (status, html) = b.get(page).await;
            assert_eq!(status, 200, "{page}: {html}");
        }
        for path in ["/api/v1/ledger/balances", "/api/v1/treasury", "/api/v1/fiscal-years"] {
            let res = api.get(app.url(path)).bearer_auth(&token).send().await.unwrap();
            assert_eq!(res.status(), 200, "{path}");
        }
        let balances: Value =
            api.get(app.url("/api/v1/ledger/balances")).bearer_auth(&token).send().await.unwrap().json().await.unwrap();
        // 2 × USD 999,999,999,990.00 + USD 999,999,999,999.99 (in twice, out once).
        let expected = 2 * 99_999_999_999_000i64 + 99_999_999_999_999;
        assert_eq!(balances["overall_minor"], expected, "{balances}");

        // The ledger's volume (the sum of all amounts taken positive) stays within 64 bits, so no total can
        // overflow even after ~92,000 of the largest entries: one written by hand brings it near the limit, then
        // the largest amount is refused and a small one still taken.
        let volume = 2 * 99_999_999_999_000i64 + 3 * 99_999_999_999_999;
        let near = i64::MAX - volume - 50_000_000_000_000;
        app.with_conn(move |c| {
            use diesel::connection::SimpleConnection;
            c.batch_execute(&format!(
                "INSERT INTO ledger_entries (entry_date, fiscal_year_id, kind, amount_minor, currency, base_amount_minor, \
                 exchange_rate, memo, created_at) SELECT entry_date, fiscal_year_id, 'adjustment', {near}, 'USD', {near}, \
                 '1', 'by hand', created_at FROM ledger_entries WHERE currency = 'USD' ORDER BY id LIMIT 1"
            ))
            .unwrap()
        })
        .await;
        let res = adjust(&app, &token, "999,999,999,999.99", "USD", "out").await;
        assert_eq!(res.status(), 422);
        assert!(problem_field(res, "amount").await.contains("more than Steward can count"));
        assert_eq!(adjust(&app, &token, "1.00", "USD", "out").await.status(), 201);
        for page in ["/treasury", "/", "/ledger", "/fiscal-years"] {
            assert_eq!(b.get(page).await.0, 200, "{page}");
        }
        let res = api.get(app.url("/api/v1/ledger/balances")).bearer_auth(&token).send().await.unwrap();
        assert_eq!(res.status(), 200);
        let balances: Value = res.json().await.unwrap();
        assert_eq!(balances["overall_minor"], expected + near - 100, "{balances}");
    }

    async fn a_users_roles_and_status_change_together_or_not_at_all(backend) {
        let app = TestApp::spawn(backend).await;
        let admin = app.create_user("admin@example.org", &[Role::Admin], None).await;
        let token = app.api_token_for(admin.id).await;
        let api = reqwest::Client::new();
        // Adding a role and disabling oneself: the status is refused (409), so the role is not added either.
        let res = api
            .patch(app.url(&format!("/api/v1/users/{}", admin.id)))
            .bearer_auth(&token)
            .json(&json!({"roles": ["admin", "council"], "status": "disabled"}))
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 409);
        let me: Value = api.get(app.url("/api/v1/me")).bearer_auth(&token).send().await.unwrap().json().await.unwrap();
        assert_eq!(me["roles"], json!(["admin"]), "the role change was rolled back with the refused status");
        let events: i64 = app
            .with_conn(|c| {
                schema::audit_events::table
                    .filter(schema::audit_events::action.eq("user.roles_changed"))
                    .count()
                    .get_result(c)
                    .unwrap()
            })
            .await;
        assert_eq!(events, 0, "nor its audit event");
        // A refused 'invited' changes nothing either.
        let other = app.create_user("someone@example.org", &[Role::Council], None).await;
        let res = api
            .patch(app.url(&format!("/api/v1/users/{}", other.id)))
            .bearer_auth(&token)
            .json(&json!({"roles": ["treasurer"], "status": "invited"}))
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 422);
        let user: Value = api
            .get(app.url(&format!("/api/v1/users/{}", other.id)))
            .bearer_auth(&token)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        assert_eq!(user["roles"], json!(["council"]));
        // Both valid: both applied.
        let res = api
            .patch(app.url(&format!("/api/v1/users/{}", other.id)))
            .bearer_auth(&token)
            .json(&json!({"roles": ["treasurer"], "status": "disabled"}))
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 200);
        let user: Value = res.json().await.unwrap();
        assert_eq!((user["roles"].clone(), user["status"].clone()), (json!(["treasurer"]), json!("disabled")));
    }

    async fn a_payment_retried_with_its_idempotency_key_is_recorded_once(backend) {
        let app = TestApp::spawn(backend).await;
        let (_, b, token) = treasurer_with_open_year(&app).await;
        b.get("/tiers/new").await;
        b.post("/tiers/new", &[("name", "Gold"), ("annual_dues", "10000"), ("currency", "USD")]).await;
        let tier: i64 = app
            .with_conn(|c| schema::membership_tiers::table.select(schema::membership_tiers::id).first(c).unwrap())
            .await;
        b.get("/members/new").await;
        let year = chrono::Utc::now().date_naive().format("%Y").to_string();
        let res = b
            .post(
                "/members/new",
                &[("name", "Acme"), ("slug", "acme"), ("tier", &tier.to_string()), ("status", "active"),
                  ("joined_on", &format!("{year}-01-01"))],
            )
            .await;
        assert_eq!(res.status(), 303);
        let fy: i64 =
            app.with_conn(|c| schema::fiscal_years::table.select(schema::fiscal_years::id).first(c).unwrap()).await;
        b.post("/invoices/issue", &[("fiscal_year", &fy.to_string()), ("issued_on", &format!("{year}-01-01"))]).await;
        let invoice: i64 = app.with_conn(|c| schema::invoices::table.select(schema::invoices::id).first(c).unwrap()).await;
        let payments = || async {
            app.with_conn(|c| schema::payments::table.count().get_result::<i64>(c).unwrap()).await
        };
        let api = reqwest::Client::new();
        let url = app.url(&format!("/api/v1/invoices/{invoice}/payments"));
        let pay = |key: Option<&str>, amount: &str| {
            let mut req = api.post(&url).bearer_auth(&token).json(&json!({"amount": amount, "paid_on": today(), "reference": "wire"}));
            if let Some(key) = key {
                req = req.header("Idempotency-Key", key);
            }
            req.send()
        };
        let before = entries(&app).await;
        let first = pay(Some("7d6f1c7e-payment-1"), "100.00").await.unwrap();
        assert_eq!(first.status(), 201);
        let first_body = first.text().await.unwrap();
        let again = pay(Some("7d6f1c7e-payment-1"), "100.00").await.unwrap();
        assert_eq!(again.status(), 201);
        assert_eq!(again.text().await.unwrap(), first_body, "the retry answers exactly as the first time");
        assert_eq!(payments().await, 1, "one payment recorded");
        assert_eq!(entries(&app).await, before + 1, "posted to the ledger once");
        // The same key with another body is refused.
        let res = pay(Some("7d6f1c7e-payment-1"), "200.00").await.unwrap();
        assert_eq!(res.status(), 422);
        assert!(problem_field(res, "Idempotency-Key").await.contains("different request"));
        assert_eq!(payments().await, 1);
        // The key is the caller's: another treasurer's same key is another request.
        let other = app.create_user("treasurer2@example.org", &[Role::Treasurer], None).await;
        let other_token = app.api_token_for(other.id).await;
        let res = api.post(&url).bearer_auth(&other_token).header("Idempotency-Key", "7d6f1c7e-payment-1")
            .json(&json!({"amount": "100.00", "paid_on": today(), "reference": "wire"})).send().await.unwrap();
        assert_eq!(res.status(), 201);
        assert_eq!(payments().await, 2);
        // Without a key, as before: each POST records a payment.
        assert_eq!(pay(None, "1.00").await.unwrap().status(), 201);
        assert_eq!(pay(None, "1.00").await.unwrap().status(), 201);
        assert_eq!(payments().await, 4);
        // A refused request keeps nothing under its key: fixed and retried with the same key, it is recorded.
        let res = pay(Some("payment-2"), "12,50").await.unwrap();
        assert_eq!(res.status(), 422);
        let res = pay(Some("payment-2"), "12.50").await.unwrap();
        assert_eq!(res.status(), 201);
        assert_eq!(payments().await, 5);
        // A key with a space (not visible ASCII) is a 400.
        let res = pay(Some("two words"), "1.00").await.unwrap();
        assert_eq!(res.status(), 400);
        assert_eq!(payments().await, 5);
        // Adjustments take keys the same way.
        let adjust_with = |key: &'static str| {
            api.post(app.url("/api/v1/ledger/adjustments")).bearer_auth(&token).header("Idempotency-Key", key)
                .json(&json!({"entry_date": today(), "direction": "in", "amount": "5", "memo": "grant"})).send()
        };
        let before = entries(&app).await;
        // The API document lists the header on each money POST.
        let doc: Value = api.get(app.url("/api/v1/openapi.json")).send().await.unwrap().json().await.unwrap();
        for path in ["/api/v1/invoices/{id}/payments", "/api/v1/ledger/adjustments", "/api/v1/ledger/transfers",
                     "/api/v1/ledger/entries/{id}/reverse", "/api/v1/disbursements", "/api/v1/disbursements/{id}/pay",
                     "/api/v1/initiatives/{id}/allocations"] {
            let parameters = doc["paths"][path]["post"]["parameters"].as_array().cloned().unwrap_or_default();
            assert!(parameters.iter().any(|p| p["name"] == "Idempotency-Key" && p["in"] == "header"
                && p["required"] != true), "{path}: {parameters:?}");
        }
        let a = adjust_with("adjust-1").await.unwrap();
        let a_body = (a.status(), a.text().await.unwrap());
        let b2 = adjust_with("adjust-1").await.unwrap();
        assert_eq!((b2.status(), b2.text().await.unwrap()), a_body);
        assert_eq!(entries(&app).await, before + 1);
    }
}
