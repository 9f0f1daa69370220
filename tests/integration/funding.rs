//! Funding through the front door: budgets and line items, initiatives and who may move them, allocations that
//! never exceed a budget (also under 20 concurrent requests), disbursements approved by someone else and never
//! more than their allocation, exchange rates, adjustments, transfers and reversals in an append-only ledger,
//! the treasury dashboard, and a property test that every balance stays the sum of its entries.

use chrono::Datelike;
use diesel::prelude::*;
use serde_json::{json, Value};
use steward::accounts::Role;
use steward::db::schema;

use crate::backend_tests;
use crate::support::{TestApp, TestUser};

/// Calls the JSON API with a bearer token.
struct Api {
    client: reqwest::Client,
    base: String,
    token: String,
}

impl Api {
    async fn new(app: &TestApp, user: &TestUser) -> Self {
        Self { client: reqwest::Client::new(), base: app.address.clone(), token: app.api_token_for(user.id).await }
    }

    async fn send(&self, method: &str, path: &str, body: Option<Value>) -> (u16, Value) {
        let mut req =
            self.client.request(method.parse().unwrap(), format!("{}{}", self.base, path)).bearer_auth(&self.token);
        if let Some(b) = body {
            req = req.json(&b);
        }
        let res = req.send().await.expect("API call");
        let status = res.status().as_u16();
        if status >= 400 {
            assert_eq!(res.headers()["content-type"], "application/problem+json", "{method} {path}");
        }
        (status, res.json().await.unwrap_or(Value::Null))
    }

    async fn get(&self, path: &str) -> (u16, Value) {
        self.send("GET", path, None).await
    }

    async fn post(&self, path: &str, body: Value) -> (u16, Value) {
        self.send("POST", path, Some(body)).await
    }

    async fn put(&self, path: &str, body: Value) -> (u16, Value) {
        self.send("PUT", path, Some(body)).await
    }
}

/// The fields named in a problem+json's errors.
fn fields(problem: &Value) -> Vec<String> {
    problem["errors"]
        .as_array()
        .map(|a| a.iter().map(|e| e["field"].as_str().unwrap().to_string()).collect())
        .unwrap_or_default()
}

fn message(problem: &Value) -> String {
    let mut text = problem["detail"].as_str().unwrap_or_default().to_string();
    for e in problem["errors"].as_array().into_iter().flatten() {
        text.push(' ');
        text.push_str(e["message"].as_str().unwrap_or_default());
    }
    text
}

/// A treasurer, two council members, this calendar year open as a fiscal year, and the priorities' ids.
struct Setup {
    app: TestApp,
    treasurer: TestUser,
    t: Api,
    c1: Api,
    c2: Api,
    year: i64,
    priorities: Vec<i64>,
    year_start: chrono::NaiveDate,
}

async fn setup(backend: crate::support::Backend) -> Setup {
    let app = TestApp::spawn(backend).await;
    app.seed_priorities().await;
    let treasurer = app.create_user("treasurer@example.org", &[Role::Treasurer], None).await;
    let council1 = app.create_user("council1@example.org", &[Role::Council], None).await;
    let council2 = app.create_user("council2@example.org", &[Role::Council], None).await;
    let (t, c1, c2) =
        (Api::new(&app, &treasurer).await, Api::new(&app, &council1).await, Api::new(&app, &council2).await);
    let today = steward::db::now().date();
    let year_start = chrono::NaiveDate::from_ymd_opt(today.year(), 1, 1).unwrap();
    let actor = treasurer.id;
    let (year, priorities) = app
        .with_conn(move |conn| {
            let label = format!("FY{}", year_start.year());
            let end = chrono::NaiveDate::from_ymd_opt(year_start.year(), 12, 31).unwrap();
            let y =
                steward::ledger::service::create_year(conn, actor, &label, &year_start.to_string(), &end.to_string())
                    .unwrap();
            steward::ledger::service::set_year_status(conn, actor, y.id, "open").unwrap();
            let priorities =
                steward::funding::service::all_priorities(conn).unwrap().into_iter().map(|p| p.id).collect();
            (y.id, priorities)
        })
        .await;
    Setup { app, treasurer, t, c1, c2, year, priorities, year_start }
}

/// An initiative under `priority`, proposed by the treasurer and approved by the council.
async fn approved_initiative(s: &Setup, priority: i64, title: &str) -> i64 {
    let (status, body) = s
        .t
        .post("/api/v1/initiatives", json!({"priority_id": priority, "title": title, "summary": "Work worth funding."}))
        .await;
    assert_eq!(status, 201, "{body}");
    let id = body["id"].as_i64().unwrap();
    let (status, body) = s.c1.post(&format!("/api/v1/initiatives/{id}/status"), json!({"status": "approved"})).await;
    assert_eq!(status, 200, "{body}");
    id
}

async fn set_budget(s: &Setup, priority: i64, amount: &str) {
    let (status, body) = s.t.put(&format!("/api/v1/budgets/{}/{priority}", s.year), json!({"amount": amount})).await;
    assert_eq!(status, 200, "{body}");
}

async fn allocate(s: &Setup, initiative: i64, amount: &str) -> i64 {
    let (status, body) =
        s.t.post(
            &format!("/api/v1/initiatives/{initiative}/allocations"),
            json!({"fiscal_year_id": s.year, "amount": amount}),
        )
        .await;
    assert_eq!(status, 201, "{body}");
    body["id"].as_i64().unwrap()
}

/// Every ledger entry as (year, priority, base amount).
async fn entries(app: &TestApp) -> Vec<(i64, Option<i64>, i64)> {
    app.with_conn(|c| {
        use schema::ledger_entries as l;
        l::table.select((l::fiscal_year_id, l::priority_id, l::base_amount_minor)).load(c).unwrap()
    })
    .await
}

async fn audit_actions(app: &TestApp) -> Vec<String> {
    app.with_conn(|c| schema::audit_events::table.select(schema::audit_events::action).load(c).unwrap()).await
}

impl TestApp {
    /// The three demo priorities (the funding feature's own service call).
    async fn seed_priorities(&self) {
        self.with_conn(|conn| {
            for (slug, title) in [
                ("contributors", "Grow contributor capacity"),
                ("reliability", "Reliability and security"),
                ("foundation", "Develop the foundation"),
            ] {
                let input = steward::funding::service::PriorityInput {
                    slug: slug.into(),
                    title: title.into(),
                    summary: format!("{title}."),
                    outcomes: vec!["An outcome".into()],
                };
                steward::funding::service::create_priority(conn, steward::audit::Actor::Cli, &input).unwrap();
            }
        })
        .await
    }
}

backend_tests! {
    async fn budgets_line_items_and_allocations_stay_within_their_limits(backend) {
        let s = setup(backend).await;
        let p = s.priorities[0];
        // Through the page: an envelope with line items that add up to more is refused, next to the field.
        let b = s.app.browser_signed_in(&s.treasurer).await;
        let path = format!("/budgets/{}/{p}", s.year);
        let (status, page) = b.get(&path).await;
        assert_eq!(status, 200);
        assert!(page.contains("Line items"));
        let res = b.post(&path, &[("amount", "10,000.00"), ("line_label", "Events"), ("line_amount", "6000"),
            ("line_label", "Contractors"), ("line_amount", "5000")]).await;
        assert_eq!(res.status(), 422);
        let html = res.text().await.unwrap();
        assert!(html.contains("The line items add up to USD 11,000.00, more than the budget of USD 10,000.00."), "{html}");
        assert!(html.contains("value=\"Contractors\""), "entered values are kept");
        let res = b.post(&path, &[("amount", "10000.005")]).await;
        assert_eq!(res.status(), 422, "fractions of a cent are refused");
        assert!(res.text().await.unwrap().contains("2 decimal places"));
        let res = b.post(&path, &[("amount", "10,000.00"), ("line_label", "Events"), ("line_amount", "6000"),
            ("line_label", "Contractors"), ("line_amount", "3000")]).await;
        assert_eq!(res.status(), 303);
        let (_, page) = b.get(&format!("/budgets?year={}", s.year)).await;
        assert!(page.contains("USD 10,000.00") && page.contains("Events") && page.contains("USD 6,000.00"), "{page}");

        // Allocations: only to approved initiatives, within the budget and the line item.
        let (status, body) = s.t.post("/api/v1/initiatives", json!({"priority_id": p, "title": "Sprint", "summary": "A sprint."})).await;
        assert_eq!(status, 201);
        let proposed = body["id"].as_i64().unwrap();
        let (status, body) = s.t.post(&format!("/api/v1/initiatives/{proposed}/allocations"), json!({"fiscal_year_id": s.year, "amount": "10"})).await;
        assert_eq!(status, 409, "a proposal gets no money: {body}");
        let (status, _) = s.t.post(&format!("/api/v1/initiatives/{proposed}/status"), json!({"status": "approved"})).await;
        assert_eq!(status, 403, "approval is the council's");
        let i = approved_initiative(&s, p, "Contributor sprints").await;
        let budget_view = s.t.get(&format!("/api/v1/budgets?fiscal_year_id={}", s.year)).await.1;
        let events = budget_view[0]["lines"][0]["line"]["id"].as_i64().unwrap();
        let (status, body) = s.t.post(&format!("/api/v1/initiatives/{i}/allocations"),
            json!({"fiscal_year_id": s.year, "amount": "6000.01", "budget_line_id": events})).await;
        assert_eq!(status, 422);
        assert!(message(&body).contains("Only USD 6,000.00 of the line item 'Events' is unallocated."), "{body}");
        let (status, _) = s.t.post(&format!("/api/v1/initiatives/{i}/allocations"),
            json!({"fiscal_year_id": s.year, "amount": "6000", "budget_line_id": events})).await;
        assert_eq!(status, 201);
        let (status, body) = s.t.post(&format!("/api/v1/initiatives/{i}/allocations"), json!({"fiscal_year_id": s.year, "amount": "4000.01"})).await;
        assert_eq!(status, 422);
        assert!(message(&body).contains("Only USD 4,000.00 of this budget is unallocated"), "{body}");
        let second = allocate(&s, i, "4000").await;
        // The budget cannot drop below what is allocated, nor a line item below its allocations.
        let (status, body) = s.t.put(&format!("/api/v1/budgets/{}/{p}", s.year), json!({"amount": "9999.99"})).await;
        assert_eq!(status, 422);
        assert!(message(&body).contains("USD 10,000.00 is already allocated"), "{body}");
        let (status, body) = s.t.put(&format!("/api/v1/budgets/{}/{p}", s.year),
            json!({"amount": "20000", "lines": [{"label": "Events", "amount": "5000"}]})).await;
        assert_eq!(status, 422);
        assert!(message(&body).contains("already allocated from 'Events'"), "{body}");
        // Raising the budget makes room; changing an allocation is checked the same way.
        let (status, body) = s.t.put(&format!("/api/v1/budgets/{}/{p}", s.year),
            json!({"amount": "12000", "lines": [{"label": "Events", "amount": "6000"}, {"label": "Contractors", "amount": "3000"}]})).await;
        assert_eq!(status, 200, "{body}");
        let (status, body) = s.t.put(&format!("/api/v1/allocations/{second}"), json!({"amount": "6000.01"})).await;
        assert_eq!(status, 422, "{body}");
        let (status, body) = s.t.put(&format!("/api/v1/allocations/{second}"), json!({"amount": "6000"})).await;
        assert_eq!(status, 200, "{body}");
        let view = s.t.get(&format!("/api/v1/budgets?fiscal_year_id={}", s.year)).await.1;
        assert_eq!(view[0]["budget_minor"], 1_200_000);
        assert_eq!(view[0]["allocated_minor"], 1_200_000);
        assert_eq!(view[0]["lines"][0]["allocated_minor"], 600_000);
        // A closed year takes no budget or allocation changes.
        let (year, actor) = (s.year, s.treasurer.id);
        s.app.with_conn(move |c| steward::ledger::service::set_year_status(c, actor, year, "closed").unwrap()).await;
        let (status, body) = s.t.put(&format!("/api/v1/budgets/{}/{p}", s.year), json!({"amount": "50000"})).await;
        assert_eq!(status, 409);
        assert!(message(&body).contains("is closed"), "{body}");
        let (status, _) = s.t.post(&format!("/api/v1/initiatives/{i}/allocations"), json!({"fiscal_year_id": s.year, "amount": "1"})).await;
        assert_eq!(status, 409);
        let actions = audit_actions(&s.app).await;
        for a in ["budget.set", "initiative.proposed", "initiative.status_changed", "allocation.created", "allocation.changed"] {
            assert!(actions.iter().any(|x| x == a), "{a} is audited");
        }
    }

    async fn twenty_concurrent_allocations_never_exceed_the_budget(backend) {
        let s = setup(backend).await;
        let p = s.priorities[1];
        set_budget(&s, p, "10000").await;
        let i = approved_initiative(&s, p, "Security audits").await;
        let mut handles = Vec::new();
        for _ in 0..20 {
            let (client, url, token, year) =
                (s.t.client.clone(), format!("{}/api/v1/initiatives/{i}/allocations", s.app.address), s.t.token.clone(), s.year);
            handles.push(tokio::spawn(async move {
                client.post(url).bearer_auth(token).json(&json!({"fiscal_year_id": year, "amount": "1500"})).send().await.unwrap().status().as_u16()
            }));
        }
        let mut statuses = Vec::new();
        for h in handles {
            statuses.push(h.await.unwrap());
        }
        assert_eq!(statuses.iter().filter(|s| **s == 201).count(), 6, "6 x 1,500 fit in 10,000: {statuses:?}");
        assert!(statuses.iter().all(|s| *s == 201 || *s == 422), "{statuses:?}");
        let total: Vec<i64> = s.app.with_conn(|c| schema::allocations::table.select(schema::allocations::amount_minor).load(c).unwrap()).await;
        assert_eq!(total.iter().sum::<i64>(), 900_000);
    }

    async fn disbursements_are_approved_by_others_and_never_exceed_their_allocation(backend) {
        let s = setup(backend).await;
        let p = s.priorities[0];
        set_budget(&s, p, "50000").await;
        let i = approved_initiative(&s, p, "Mentoring").await;
        let allocation = allocate(&s, i, "1000").await;
        let today = steward::db::now().date().to_string();

        // Bad input: each field named; nothing written.
        let (status, body) = s.t.post("/api/v1/disbursements", json!({"allocation_id": allocation, "payee": "", "amount": "-5",
            "purpose": "", "document_url": "javascript:alert(1)"})).await;
        assert_eq!(status, 422);
        for f in ["payee", "amount", "purpose", "document_url"] {
            assert!(fields(&body).contains(&f.to_string()), "{f}: {body}");
        }
        let (status, body) = s.t.post("/api/v1/disbursements", json!({"allocation_id": allocation, "payee": "Ada", "amount": "10.001", "purpose": "x"})).await;
        assert_eq!(status, 422, "{body}");
        let (status, body) = s.t.post("/api/v1/disbursements", json!({"allocation_id": allocation, "payee": "Ada", "amount": "1000.01", "purpose": "Too much"})).await;
        assert_eq!(status, 422);
        assert!(message(&body).contains("Only USD 1,000.00 of the allocation"), "{body}");

        let (status, d) = s.t.post("/api/v1/disbursements", json!({"allocation_id": allocation, "payee": "Ada Mentor",
            "amount": "600", "purpose": "Mentoring, March", "document_url": "https://example.org/invoice-7.pdf"})).await;
        assert_eq!(status, 201, "{d}");
        let d = d["id"].as_i64().unwrap();
        assert_eq!(s.t.post(&format!("/api/v1/disbursements/{d}/pay"), json!({"paid_on": today})).await.0, 409, "not approved yet");
        let (status, body) = s.t.post(&format!("/api/v1/disbursements/{d}/approve"), json!({})).await;
        assert_eq!(status, 409, "nobody approves their own request");
        assert!(message(&body).contains("someone else must approve"), "{body}");
        let (status, body) = s.c1.post(&format!("/api/v1/disbursements/{d}/approve"), json!({})).await;
        assert_eq!(status, 200);
        assert_eq!(body["status"], "approved");
        assert_eq!(s.c1.post(&format!("/api/v1/disbursements/{d}/pay"), json!({"paid_on": today})).await.0, 403, "the council does not pay");
        // While 600 is committed, only 400 more can be requested.
        let (status, _) = s.c1.post("/api/v1/disbursements", json!({"allocation_id": allocation, "payee": "Bob", "amount": "400.01", "purpose": "x"})).await;
        assert_eq!(status, 422);
        let (status, body) = s.t.post(&format!("/api/v1/disbursements/{d}/pay"), json!({"paid_on": "2001-01-01"})).await;
        assert_eq!(status, 409, "no open fiscal year covers that date: {body}");
        let (status, body) = s.t.post(&format!("/api/v1/disbursements/{d}/pay"), json!({"paid_on": today})).await;
        assert_eq!(status, 200, "{body}");
        assert_eq!(body["status"], "paid");
        assert_eq!(s.t.post(&format!("/api/v1/disbursements/{d}/pay"), json!({"paid_on": today})).await.0, 409, "paid once");
        let ledger = entries(&s.app).await;
        assert_eq!(ledger, vec![(s.year, Some(p), -60_000)]);
        let detail = s.t.get(&format!("/api/v1/initiatives/{i}")).await.1;
        assert_eq!(detail["spent_minor"], 60_000);

        // Above the threshold two people approve; a rejection frees what the request held.
        let (status, _) = s.c1.put("/api/v1/disbursements/approval-rule", json!({"approvals": 1, "second_approval_above": "100"})).await;
        assert_eq!(status, 200);
        let (status, _) = s.t.put("/api/v1/disbursements/approval-rule", json!({"approvals": 1, "second_approval_above": "0"})).await;
        assert_eq!(status, 403, "the treasurer does not set the rule that checks their payments");
        let (_, big) = s.c1.post("/api/v1/disbursements", json!({"allocation_id": allocation, "payee": "Carol", "amount": "300", "purpose": "Travel"})).await;
        assert_eq!(big["approvals_required"], 2);
        let big = big["id"].as_i64().unwrap();
        assert_eq!(s.c1.post(&format!("/api/v1/disbursements/{big}/approve"), json!({})).await.0, 409, "own request");
        assert_eq!(s.t.post(&format!("/api/v1/disbursements/{big}/approve"), json!({})).await.1["status"], "requested", "one of two");
        assert_eq!(s.t.post(&format!("/api/v1/disbursements/{big}/approve"), json!({})).await.0, 409, "the same person twice");
        assert_eq!(s.c2.post(&format!("/api/v1/disbursements/{big}/approve"), json!({})).await.1["status"], "approved");
        let (status, body) = s.c2.post(&format!("/api/v1/disbursements/{big}/reject"), json!({"reason": ""})).await;
        assert_eq!((status, fields(&body)), (422, vec!["reason".to_string()]));
        let (_, body) = s.c2.post(&format!("/api/v1/disbursements/{big}/reject"), json!({"reason": "Travel is paid from the events line"})).await;
        assert_eq!(body["status"], "rejected");
        let (status, _) = s.c1.post("/api/v1/disbursements", json!({"allocation_id": allocation, "payee": "Bob", "amount": "400", "purpose": "x"})).await;
        assert_eq!(status, 201, "the rejected request's money is free again");
        // An allocation cannot drop below what is requested or paid from it.
        let (status, body) = s.t.put(&format!("/api/v1/allocations/{allocation}"), json!({"amount": "999.99"})).await;
        assert_eq!(status, 422);
        assert!(message(&body).contains("USD 1,000.00 has been requested or paid"), "{body}");
        let actions = audit_actions(&s.app).await;
        for a in ["disbursement.requested", "disbursement.approved", "disbursement.paid", "disbursement.rejected"] {
            assert!(actions.iter().any(|x| x == a), "{a} is audited");
        }

        // The pages show the same: the requester sees no approve button; an approver does.
        let b = s.app.browser_signed_in(&s.treasurer).await;
        let (status, page) = b.get(&format!("/disbursements/{d}")).await;
        assert_eq!(status, 200);
        assert!(page.contains("Ada Mentor") && page.contains("USD 600.00") && page.contains("ledger entry"), "{page}");
        let (_, list) = b.get("/disbursements?status=open").await;
        assert!(list.contains("Bob") && !list.contains("Carol"), "{list}");
    }

    async fn foreign_currency_needs_a_rate_and_keeps_both_amounts(backend) {
        let s = setup(backend).await;
        let p = s.priorities[2];
        set_budget(&s, p, "5000").await;
        let i = approved_initiative(&s, p, "Governance review").await;
        let allocation = allocate(&s, i, "1000").await;
        let (status, body) = s.t.post("/api/v1/disbursements", json!({"allocation_id": allocation, "payee": "Kanzlei", "amount": "100",
            "currency": "EUR", "purpose": "Advice"})).await;
        assert_eq!(status, 409);
        assert!(message(&body).contains("There is no exchange rate from EUR to USD"), "{body}");
        let rate_from = s.year_start.to_string();
        for (body, field) in [
            (json!({"currency": "USD", "effective_on": rate_from, "rate": "1"}), "currency"),
            (json!({"currency": "EUR", "effective_on": "soon", "rate": "1.1"}), "effective_on"),
            (json!({"currency": "EUR", "effective_on": rate_from, "rate": "-1"}), "rate"),
            (json!({"currency": "XYZ", "effective_on": rate_from, "rate": "1.1"}), "currency"),
        ] {
            let (status, problem) = s.t.post("/api/v1/exchange-rates", body).await;
            assert_eq!(status, 422);
            assert!(fields(&problem).contains(&field.to_string()), "{problem}");
        }
        let (status, _) = s.t.post("/api/v1/exchange-rates", json!({"currency": "eur", "effective_on": rate_from, "rate": "1.1050"})).await;
        assert_eq!(status, 201);
        assert_eq!(s.t.post("/api/v1/exchange-rates", json!({"currency": "EUR", "effective_on": rate_from, "rate": "1.2"})).await.0, 422, "one rate per day");
        let (status, d) = s.t.post("/api/v1/disbursements", json!({"allocation_id": allocation, "payee": "Kanzlei", "amount": "100.05",
            "currency": "EUR", "purpose": "Advice"})).await;
        assert_eq!(status, 201, "{d}");
        assert_eq!(d["base_amount_minor"], 11_056, "EUR 100.05 at 1.1050 = USD 110.55525, rounded half up");
        let id = d["id"].as_i64().unwrap();
        s.c1.post(&format!("/api/v1/disbursements/{id}/approve"), json!({})).await;
        let (status, paid) = s.t.post(&format!("/api/v1/disbursements/{id}/pay"), json!({"paid_on": steward::db::now().date().to_string()})).await;
        assert_eq!(status, 200, "{paid}");
        let entry: (i64, String, i64, String) = s.app.with_conn(|c| {
            use schema::ledger_entries as l;
            l::table.select((l::amount_minor, l::currency, l::base_amount_minor, l::exchange_rate)).first(c).unwrap()
        }).await;
        assert_eq!(entry, (-10_005, "EUR".to_string(), -11_056, "1.1050".to_string()));
        // An adjustment in a currency with a rate converts too; the CSV shows both amounts.
        let (status, e) = s.t.post("/api/v1/ledger/adjustments", json!({"entry_date": steward::db::now().date().to_string(),
            "direction": "in", "amount": "10", "currency": "EUR", "memo": "Refund of a bank fee"})).await;
        assert_eq!(status, 201, "{e}");
        assert_eq!(e["base_amount_minor"], 1_105);
        let b = s.app.browser_signed_in(&s.treasurer).await;
        let csv = b.client.get(b.url("/ledger/export.csv")).send().await.unwrap().text().await.unwrap();
        assert!(csv.contains(",-100.05,EUR,-110.56,1.1050,"), "{csv}");
    }

    async fn the_ledger_is_append_only_and_reversals_cancel_exactly(backend) {
        let s = setup(backend).await;
        let (p, q) = (s.priorities[0], s.priorities[1]);
        let today = steward::db::now().date().to_string();
        // Bad input: every field named, nothing posted.
        let (status, body) = s.t.post("/api/v1/ledger/adjustments", json!({"entry_date": "", "direction": "sideways", "amount": "1.234", "memo": ""})).await;
        assert_eq!(status, 422);
        for f in ["entry_date", "direction", "amount", "memo"] {
            assert!(fields(&body).contains(&f.to_string()), "{f}: {body}");
        }
        let (status, _) = s.t.post("/api/v1/ledger/adjustments", json!({"entry_date": "1999-05-01", "direction": "in", "amount": "1", "memo": "x"})).await;
        assert_eq!(status, 409, "no fiscal year covers 1999");
        let (status, body) = s.t.post("/api/v1/ledger/transfers", json!({"entry_date": today, "amount": "5", "from_priority_id": p, "to_priority_id": p, "memo": "x"})).await;
        assert_eq!((status, fields(&body)), (422, vec!["to_priority_id".to_string()]));
        assert!(entries(&s.app).await.is_empty());

        let (status, adj) = s.t.post("/api/v1/ledger/adjustments", json!({"entry_date": today, "direction": "in", "amount": "125.50", "priority_id": p, "memo": "Grant"})).await;
        assert_eq!(status, 201);
        let (status, legs) = s.t.post("/api/v1/ledger/transfers", json!({"entry_date": today, "amount": "1000", "to_priority_id": q, "memo": "Fund the audit"})).await;
        assert_eq!(status, 201);
        let balances = s.t.get("/api/v1/ledger/balances").await.1;
        assert_eq!(balances["overall_minor"], 12_550, "a transfer moves money, it adds none");
        let fund = |b: &Value, id: Option<i64>| b["funds"].as_array().unwrap().iter().find(|f| f["priority_id"].as_i64() == id).cloned().unwrap();
        assert_eq!(fund(&balances, None)["balance"], -100_000);
        assert_eq!(fund(&balances, Some(q))["balance"], 100_000);
        assert_eq!(fund(&balances, Some(q))["transfers"], 100_000);
        assert_eq!(fund(&balances, Some(p))["money_in"], 12_550);
        assert_eq!(balances["years"][0]["money_in"], 12_550, "transfers are not income");

        // Reversing the second leg reverses the whole transfer; a reversal is not reversed again.
        let second = legs[1]["id"].as_i64().unwrap();
        let (status, reversed) = s.t.post(&format!("/api/v1/ledger/entries/{second}/reverse"), json!({"entry_date": today, "memo": "Wrong fund"})).await;
        assert_eq!(status, 201, "{reversed}");
        assert_eq!(reversed.as_array().unwrap().len(), 2);
        let again = reversed[0]["id"].as_i64().unwrap();
        assert_eq!(s.t.post(&format!("/api/v1/ledger/entries/{again}/reverse"), json!({"entry_date": today, "memo": "x"})).await.0, 409);
        assert_eq!(s.t.post(&format!("/api/v1/ledger/entries/{second}/reverse"), json!({"entry_date": today, "memo": "x"})).await.0, 409, "once");
        let adj_id = adj["id"].as_i64().unwrap();
        assert_eq!(s.t.post(&format!("/api/v1/ledger/entries/{adj_id}/reverse"), json!({"entry_date": today, "memo": "Duplicate"})).await.0, 201);
        let all = entries(&s.app).await;
        assert_eq!(all.len(), 6);
        assert_eq!(all.iter().map(|e| e.2).sum::<i64>(), 0, "every entry is cancelled by its reversal");
        let balances = s.t.get("/api/v1/ledger/balances").await.1;
        assert_eq!(balances["overall_minor"], 0);
        assert!(balances["funds"].as_array().unwrap().iter().all(|f| f["balance"] == 0), "{balances}");

        // The database itself refuses to change or remove an entry.
        let (updated, deleted) = s.app.with_conn(|c| {
            use schema::ledger_entries as l;
            let updated = diesel::update(l::table).set(l::amount_minor.eq(1)).execute(c);
            let deleted = diesel::delete(l::table).execute(c);
            (updated, deleted)
        }).await;
        assert!(updated.unwrap_err().to_string().contains("append-only"));
        assert!(deleted.unwrap_err().to_string().contains("append-only"));
        assert_eq!(entries(&s.app).await.len(), 6);

        // Through the page: the adjustment form keeps what was typed and names the field.
        let b = s.app.browser_signed_in(&s.treasurer).await;
        b.get("/ledger").await;
        let res = b.post("/ledger/adjustments", &[("confirm", "yes"), ("entry_date", &today), ("direction", "out"), ("amount", "twelve"), ("memo", "Bank fee")]).await;
        assert_eq!(res.status(), 422);
        let html = res.text().await.unwrap();
        assert!(html.contains("id=\"adj-amount-error\"") && html.contains("value=\"Bank fee\""), "{html}");
        let res = b.post("/ledger/adjustments", &[("confirm", "yes"), ("entry_date", &today), ("direction", "out"), ("amount", "12.50"), ("memo", "Bank fee")]).await;
        assert_eq!(res.status(), 303);
        let (_, page) = b.get("/ledger").await;
        assert!(page.contains("-USD 12.50"));
        assert_eq!(page.matches("/reverse\"").count(), 1, "only the new adjustment offers a reversal");
        assert!(!page.contains(&format!("action=\"/ledger/{adj_id}/reverse\"")), "a reversed entry offers none");
    }

    async fn approved_initiatives_are_public_and_proposals_are_not(backend) {
        let s = setup(backend).await;
        let p = s.priorities[0];
        let council = s.app.create_user("council3@example.org", &[Role::Council], None).await;
        let cb = s.app.browser_signed_in(&council).await;
        cb.get("/initiatives/new").await;
        let res = cb.post("/initiatives/new", &[("priority_id", ""), ("title", ""), ("summary", "x"), ("starts_on", "2026-05-01"), ("ends_on", "2026-04-01")]).await;
        assert_eq!(res.status(), 422);
        let html = res.text().await.unwrap();
        for f in ["priority_id", "title", "ends_on"] {
            assert!(html.contains(&format!("id=\"{f}-error\"")), "{f}");
        }
        let res = cb.post("/initiatives/new", &[("priority_id", &p.to_string()), ("title", "Docs <sprint>"), ("summary", "Write the docs."),
            ("subprojects", "JupyterLab, Jupyter Server"), ("lead", "Grace")]).await;
        assert_eq!(res.status(), 303);
        let location = crate::support::browser::Browser::location(&res);
        let id: i64 = location.rsplit('/').next().unwrap().parse().unwrap();

        let anonymous = reqwest::Client::new();
        let status = |path: String| { let a = anonymous.clone(); async move { a.get(path).send().await.unwrap() } };
        assert_eq!(status(s.app.url(&format!("/initiatives/{id}"))).await.status(), 404, "a proposal is not public");
        assert!(!status(s.app.url("/initiatives")).await.text().await.unwrap().contains("Docs"));
        let rep_member = s.app.create_member("acme", "Acme").await;
        let rep = s.app.create_user("rep@example.org", &[Role::MemberRep], Some(rep_member)).await;
        let rep_api = Api::new(&s.app, &rep).await;
        assert_eq!(rep_api.get(&format!("/api/v1/initiatives/{id}")).await.0, 404);
        assert_eq!(rep_api.get("/api/v1/initiatives").await.1["total"], 0);

        let (_, page) = cb.get(&format!("/initiatives/{id}")).await;
        assert!(!page.contains("Docs <sprint>") && page.contains("Docs &"), "escaped");
        assert!(page.contains("value=\"approved\""), "the council may approve");
        assert_eq!(cb.post(&format!("/initiatives/{id}/status"), &[("status", "completed")]).await.status(), 409, "no skipping steps");
        assert_eq!(cb.post(&format!("/initiatives/{id}/status"), &[("status", "approved"), ("note", "Fits the priority")]).await.status(), 303);
        let res = status(s.app.url(&format!("/initiatives/{id}"))).await;
        assert_eq!(res.status(), 200);
        let html = res.text().await.unwrap();
        assert!(html.contains("proposed → approved") && html.contains("Fits the priority"), "who and when: {html}");
        assert_eq!(rep_api.get("/api/v1/initiatives").await.1["total"], 1);
        let steps = s.t.get(&format!("/api/v1/initiatives/{id}")).await.1["steps"].clone();
        assert_eq!(steps.as_array().unwrap().len(), 2);
        assert_eq!(steps[1]["changed_by"], council.id);
    }

    async fn the_treasury_dashboard_adds_up(backend) {
        let s = setup(backend).await;
        let b = s.app.browser_signed_in(&s.treasurer).await;
        let (status, page) = b.get("/treasury").await;
        assert_eq!(status, 200);
        assert!(page.contains("<svg") && page.contains("No priorities have a budget"), "{page}");
        let p = s.priorities[0];
        set_budget(&s, p, "2000").await;
        let i = approved_initiative(&s, p, "Outreach").await;
        let allocation = allocate(&s, i, "1500").await;
        let (_, d) = s.c1.post("/api/v1/disbursements", json!({"allocation_id": allocation, "payee": "Printer", "amount": "250", "purpose": "Flyers"})).await;
        let d = d["id"].as_i64().unwrap();
        s.t.post(&format!("/api/v1/disbursements/{d}/approve"), json!({})).await;
        let today = steward::db::now().date().to_string();
        s.t.post(&format!("/api/v1/disbursements/{d}/pay"), json!({"paid_on": today})).await;
        s.t.post("/api/v1/ledger/adjustments", json!({"entry_date": today, "direction": "in", "amount": "900", "memo": "Donation"})).await;
        s.c1.post("/api/v1/disbursements", json!({"allocation_id": allocation, "payee": "Venue", "amount": "100", "purpose": "Room"})).await;

        let (status, dash) = s.c2.get("/api/v1/treasury").await;
        assert_eq!(status, 200);
        assert_eq!(dash["months"].as_array().unwrap().len(), 12);
        assert_eq!(dash["money_in_minor"], 90_000);
        assert_eq!(dash["money_out_minor"], -25_000);
        assert_eq!(dash["overall_balance_minor"], 65_000);
        let month_sum: i64 = dash["months"].as_array().unwrap().iter().map(|m| m["money_in"].as_i64().unwrap() + m["money_out"].as_i64().unwrap()).sum();
        assert_eq!(month_sum, 65_000, "the months add up to the year");
        let row = dash["budgets"].as_array().unwrap().iter().find(|b| b["priority"]["id"] == p).unwrap();
        assert_eq!((row["budget_minor"].as_i64(), row["allocated_minor"].as_i64(), row["spent_minor"].as_i64()), (Some(200_000), Some(150_000), Some(25_000)));
        assert_eq!(dash["open_disbursement_count"], 1);
        let (_, page) = b.get("/treasury").await;
        for text in ["USD 2,000.00", "USD 1,500.00", "USD 250.00", "USD 900.00", "Venue: USD 100.00", "<title id=\"budgets-title\">"] {
            assert!(page.contains(text), "{text} in the dashboard");
        }
        // A representative has no business here.
        let rep_member = s.app.create_member("acme", "Acme").await;
        let rep = s.app.create_user("rep@example.org", &[Role::MemberRep], Some(rep_member)).await;
        assert_eq!(Api::new(&s.app, &rep).await.get("/api/v1/treasury").await.0, 403);
    }

    async fn any_sequence_of_valid_operations_keeps_every_balance_the_sum_of_its_entries(backend) {
        let s = setup(backend).await;
        let today = steward::db::now().date().to_string();
        for p in &s.priorities {
            set_budget(&s, *p, "3000").await;
        }
        let mut initiatives = Vec::new();
        for (n, p) in s.priorities.iter().enumerate() {
            initiatives.push((*p, approved_initiative(&s, *p, &format!("Initiative {n}")).await));
        }
        let mut allocations: Vec<i64> = Vec::new();
        let mut reversible: Vec<i64> = Vec::new();
        let mut open: Vec<(i64, bool)> = Vec::new();
        // A small deterministic generator: the same operations on every run and both backends.
        let mut seed: u64 = 0x5eed_f00d;
        let mut next = |n: u64| { seed = seed.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407); (seed >> 33) % n };
        for step in 0..70 {
            let fund = |k: u64| if k == 3 { Value::Null } else { json!(s.priorities[k as usize]) };
            match next(7) {
                0 => {
                    let (st, e) = s.t.post("/api/v1/ledger/adjustments", json!({"entry_date": today, "direction": if next(2) == 0 { "in" } else { "out" },
                        "amount": format!("{}.{:02}", next(500), next(100)), "priority_id": fund(next(4)), "memo": format!("step {step}")})).await;
                    if st == 201 { reversible.push(e["id"].as_i64().unwrap()); } else { assert_eq!(st, 422, "{e}"); }
                }
                1 => {
                    let (from, to) = (next(4), next(4));
                    let (st, e) = s.t.post("/api/v1/ledger/transfers", json!({"entry_date": today, "amount": format!("{}", next(300) + 1),
                        "from_priority_id": fund(from), "to_priority_id": fund(to), "memo": "move"})).await;
                    if from == to { assert_eq!(st, 422); } else { assert_eq!(st, 201, "{e}"); reversible.push(e[0]["id"].as_i64().unwrap()); }
                }
                2 if !reversible.is_empty() => {
                    let id = reversible.remove(next(reversible.len() as u64) as usize);
                    let (st, e) = s.t.post(&format!("/api/v1/ledger/entries/{id}/reverse"), json!({"entry_date": today, "memo": "undo"})).await;
                    assert_eq!(st, 201, "{e}");
                }
                3 => {
                    let (_, i) = initiatives[next(3) as usize];
                    let (st, a) = s.t.post(&format!("/api/v1/initiatives/{i}/allocations"),
                        json!({"fiscal_year_id": s.year, "amount": format!("{}", next(900) + 1)})).await;
                    if st == 201 { allocations.push(a["id"].as_i64().unwrap()); } else { assert_eq!(st, 422, "over the budget: {a}"); }
                }
                4 if !allocations.is_empty() => {
                    let a = allocations[next(allocations.len() as u64) as usize];
                    let (st, d) = s.c1.post("/api/v1/disbursements", json!({"allocation_id": a, "payee": "P", "amount": format!("{}", next(400) + 1), "purpose": "work"})).await;
                    if st == 201 { open.push((d["id"].as_i64().unwrap(), false)); } else { assert_eq!(st, 422, "{d}"); }
                }
                5 if !open.is_empty() => {
                    let k = next(open.len() as u64) as usize;
                    let (id, approved) = open[k];
                    if approved {
                        let (st, e) = s.t.post(&format!("/api/v1/disbursements/{id}/pay"), json!({"paid_on": today})).await;
                        assert_eq!(st, 200, "{e}");
                        open.remove(k);
                    } else {
                        let (st, e) = s.t.post(&format!("/api/v1/disbursements/{id}/approve"), json!({})).await;
                        assert_eq!(st, 200, "{e}");
                        open[k].1 = true;
                    }
                }
                _ if !open.is_empty() && next(3) == 0 => {
                    let (id, _) = open.remove(0);
                    assert_eq!(s.c2.post(&format!("/api/v1/disbursements/{id}/reject"), json!({"reason": "not now"})).await.0, 200);
                }
                _ => {}
            }
            if step % 10 == 9 {
                let all = entries(&s.app).await;
                let b = s.t.get("/api/v1/ledger/balances").await.1;
                assert_eq!(b["overall_minor"].as_i64().unwrap(), all.iter().map(|e| e.2).sum::<i64>(), "overall at step {step}");
                assert_eq!(b["years"][0]["balance"].as_i64().unwrap(), all.iter().filter(|e| e.0 == s.year).map(|e| e.2).sum::<i64>());
                for f in b["funds"].as_array().unwrap() {
                    let id = f["priority_id"].as_i64();
                    let sum: i64 = all.iter().filter(|e| e.1 == id).map(|e| e.2).sum();
                    assert_eq!(f["balance"].as_i64().unwrap(), sum, "fund {id:?} at step {step}");
                    assert_eq!(f["money_in"].as_i64().unwrap() + f["money_out"].as_i64().unwrap() + f["transfers"].as_i64().unwrap(), sum);
                }
                let budgets = s.t.get(&format!("/api/v1/budgets?fiscal_year_id={}", s.year)).await.1;
                for row in budgets.as_array().unwrap() {
                    assert!(row["allocated_minor"].as_i64() <= row["budget_minor"].as_i64(), "{row}");
                    assert!(row["spent_minor"].as_i64() <= row["allocated_minor"].as_i64(), "{row}");
                }
                let allocs = s.t.get(&format!("/api/v1/allocations?fiscal_year_id={}", s.year)).await.1;
                for a in allocs.as_array().unwrap() {
                    assert!(a["spent_minor"].as_i64() <= a["amount_minor"].as_i64(), "{a}");
                }
            }
        }
        assert!(entries(&s.app).await.len() > 10, "the sequence did real work");
    }

    async fn a_payment_never_takes_an_allocation_past_its_amount(backend) {
        let s = setup(backend).await;
        let p = s.priorities[0];
        set_budget(&s, p, "5000").await;
        let i = approved_initiative(&s, p, "Design work").await;
        let allocation = allocate(&s, i, "1000").await;
        let before = (s.year_start - chrono::Duration::days(1)).to_string();
        assert_eq!(s.t.post("/api/v1/exchange-rates", json!({"currency": "EUR", "effective_on": before, "rate": "1"})).await.0, 201);
        let (_, d) = s.c1.post("/api/v1/disbursements", json!({"allocation_id": allocation, "payee": "Studio", "amount": "900", "currency": "EUR", "purpose": "Logo"})).await;
        assert_eq!(d["base_amount_minor"], 90_000);
        let d = d["id"].as_i64().unwrap();
        s.t.post(&format!("/api/v1/disbursements/{d}/approve"), json!({})).await;
        // The euro rises before the money leaves: EUR 900 is now USD 1,080, more than the allocation.
        let today = steward::db::now().date().to_string();
        assert_eq!(s.t.post("/api/v1/exchange-rates", json!({"currency": "EUR", "effective_on": today, "rate": "1.2"})).await.0, 201);
        let (status, body) = s.t.post(&format!("/api/v1/disbursements/{d}/pay"), json!({"paid_on": today})).await;
        assert_eq!(status, 409);
        assert!(message(&body).contains("would take the allocation past its USD 1,000.00"), "{body}");
        assert!(entries(&s.app).await.is_empty(), "nothing is posted");
        // Raising the allocation makes room; then it pays at the day's rate.
        assert_eq!(s.t.put(&format!("/api/v1/allocations/{allocation}"), json!({"amount": "1080"})).await.0, 200);
        let (status, paid) = s.t.post(&format!("/api/v1/disbursements/{d}/pay"), json!({"paid_on": today})).await;
        assert_eq!(status, 200, "{paid}");
        assert_eq!(paid["base_amount_minor"], 108_000);
    }

    async fn priorities_are_added_and_edited_with_their_outcomes(backend) {
        let s = setup(backend).await;
        let b = s.app.browser_signed_in(&s.treasurer).await;
        b.get("/priorities/new").await;
        let res = b.post("/priorities/new", &[("title", "Accessibility"), ("slug", "Bad Slug"), ("summary", ""), ("outcomes", "")]).await;
        assert_eq!(res.status(), 422);
        assert!(res.text().await.unwrap().contains("id=\"slug-error\""));
        let res = b.post("/priorities/new", &[("title", "Accessibility"), ("slug", "contributors"), ("outcomes", "")]).await;
        assert_eq!(res.status(), 422);
        assert!(res.text().await.unwrap().contains("A priority with the short name &#39;contributors&#39; exists."));
        let res = b.post("/priorities/new", &[("title", "Accessibility"), ("slug", "accessibility"), ("summary", "Usable by everyone."),
            ("outcomes", "Screen-reader audits pass\nKeyboard use everywhere")]).await;
        assert_eq!(res.status(), 303);
        let (_, page) = b.get("/priorities").await;
        assert!(page.contains("Accessibility") && page.contains("Keyboard use everywhere"));
        let list = s.c1.get("/api/v1/priorities").await.1;
        let added = list.as_array().unwrap().iter().find(|p| p["slug"] == "accessibility").unwrap().clone();
        let (id, first_outcome) = (added["id"].as_i64().unwrap(), added["outcomes"][0]["id"].clone());
        let (status, body) = s.c1.put(&format!("/api/v1/priorities/{id}"), json!({"title": "Accessibility", "summary": "Usable by everyone.",
            "outcomes": ["Screen-reader audits pass on every release"], "position": 9, "active": false})).await;
        assert_eq!(status, 200, "{body}");
        assert_eq!(body["outcomes"].as_array().unwrap().len(), 1);
        assert_eq!(body["outcomes"][0]["id"], first_outcome, "an outcome keeps its id when its text changes");
        let anonymous = reqwest::get(s.app.url("/priorities")).await.unwrap().text().await.unwrap();
        assert!(!anonymous.contains("Accessibility"), "a retired priority is no longer listed");
        assert!(b.get("/priorities").await.1.contains("Retired priorities"));
        let (status, _) = s.c1.put(&format!("/api/v1/priorities/{id}"), json!({"title": "", "position": 0, "active": true})).await;
        assert_eq!(status, 422);
    }
}
