//! Metrics through the front door: definitions and their bad input, observations by form, API (single and
//! bulk) and CSV (all-or-nothing), corrections that keep history, progress and status on the page and in the
//! API (higher and lower is better), and money spent next to the change it bought.

use diesel::prelude::*;
use serde_json::{json, Value};
use steward::accounts::Role;
use steward::db::schema;

use crate::backend_tests;
use crate::support::{TestApp, TestUser};

async fn call(app: &TestApp, token: &str, method: &str, path: &str, body: Option<Value>) -> (u16, Value) {
    let mut req = reqwest::Client::new().request(method.parse().unwrap(), app.url(path)).bearer_auth(token);
    if let Some(b) = body {
        req = req.json(&b);
    }
    let res = req.send().await.unwrap();
    let status = res.status().as_u16();
    if status >= 400 {
        assert_eq!(res.headers()["content-type"], "application/problem+json");
    }
    (status, res.json().await.unwrap_or(Value::Null))
}

fn fields(problem: &Value) -> Vec<String> {
    problem["errors"]
        .as_array()
        .map(|a| a.iter().map(|e| e["field"].as_str().unwrap().to_string()).collect())
        .unwrap_or_default()
}

fn today() -> chrono::NaiveDate {
    steward::db::now().date()
}

fn days_ago(n: i64) -> String {
    (today() - chrono::Duration::days(n)).to_string()
}

fn days_ahead(n: i64) -> String {
    (today() + chrono::Duration::days(n)).to_string()
}

/// A council member with a token, and one priority.
async fn setup(app: &TestApp) -> (TestUser, String, i64) {
    let council = app.create_user("council@example.org", &[Role::Council], None).await;
    let token = app.api_token_for(council.id).await;
    let priority = app
        .with_conn(|conn| {
            let input = steward::funding::service::PriorityInput {
                slug: "contributors".into(),
                title: "Grow contributor capacity".into(),
                summary: "More contributors.".into(),
                outcomes: vec!["More non-maintainer contributions".into()],
            };
            steward::funding::service::create_priority(conn, steward::audit::Actor::Cli, &input).unwrap().id
        })
        .await;
    (council, token, priority)
}

/// Uploads a CSV file to the import page as a person would.
async fn upload(b: &crate::support::browser::Browser, csv: String) -> reqwest::Response {
    let (_, page) = b.get("/metrics/import").await;
    let csrf = crate::support::browser::csrf_of(&page).unwrap();
    let part = reqwest::multipart::Part::bytes(csv.into_bytes()).file_name("q3.csv");
    let form = reqwest::multipart::Form::new().part("file", part);
    b.client.post(b.url(&format!("/metrics/import?_csrf={csrf}"))).multipart(form).send().await.unwrap()
}

fn metric_body(slug: &str, direction: &str, baseline: &str, target: &str) -> Value {
    json!({"slug": slug, "name": format!("Metric {slug}"), "unit": "count", "direction": direction,
        "baseline": baseline, "baseline_on": days_ago(365), "target": target, "target_on": days_ahead(365),
        "source": "manual", "expected_interval_days": 120})
}

backend_tests! {
    async fn the_overview_comes_a_page_at_a_time(backend) {
        let app = TestApp::spawn(backend).await;
        let (council, _, _) = setup(&app).await;
        let c = council.id;
        app.with_conn(move |conn| {
            for n in 0..30 {
                let input = steward::metrics::service::MetricInput {
                    slug: format!("metric-{n:02}"),
                    name: format!("Metric number {n:02}"),
                    unit: "count".into(),
                    direction: "higher".into(),
                    baseline: "1".into(),
                    baseline_on: "2026-01-01".into(),
                    target: "2".into(),
                    target_on: "2027-01-01".into(),
                    source: "manual".into(),
                    expected_interval_days: "90".into(),
                    ..Default::default()
                };
                steward::metrics::service::create_metric(conn, c, &input).unwrap();
            }
        })
        .await;
        let b = app.browser_signed_in(&council).await;
        let (_, first) = b.get("/metrics").await;
        assert!(first.contains("Page 1 of 2") && first.contains("Metric number 24") && !first.contains("Metric number 25"));
        let (_, second) = b.get("/metrics?page=2").await;
        assert!(second.contains("Page 2 of 2") && second.contains("Metric number 29") && !second.contains("Metric number 00"));
        let (status, beyond) = b.get("/metrics?page=9").await;
        assert!(status == 200 && beyond.contains("Page 2 of 2"), "a page past the end shows the last");
    }

    async fn a_metric_is_defined_with_clear_errors_for_bad_input(backend) {
        let app = TestApp::spawn(backend).await;
        let (_, token, priority) = setup(&app).await;
        let (status, problem) = call(&app, &token, "POST", "/api/v1/metrics", Some(json!({"slug": "Bad Slug", "name": "", "unit": "litres",
            "direction": "sideways", "baseline": "NaN", "baseline_on": "2026-05-01", "target": "inf", "target_on": "2026-01-01",
            "source": "guess", "expected_interval_days": 0}))).await;
        assert_eq!(status, 422);
        for f in ["slug", "name", "unit", "direction", "baseline", "target", "target_on", "source", "expected_interval_days"] {
            assert!(fields(&problem).contains(&f.to_string()), "{f}: {problem}");
        }
        let (status, problem) = call(&app, &token, "POST", "/api/v1/metrics", Some(metric_body("fixes", "lower", "30", "40"))).await;
        assert_eq!((status, fields(&problem)), (422, vec!["target".to_string()]), "lower is better: the target must be lower");
        let mut body = metric_body("contributors", "higher", "40", "60");
        body["priority_id"] = json!(priority);
        let (status, metric) = call(&app, &token, "POST", "/api/v1/metrics", Some(body.clone())).await;
        assert_eq!(status, 201, "{metric}");
        assert_eq!(metric["baseline_milli"], 40_000);
        let (status, problem) = call(&app, &token, "POST", "/api/v1/metrics", Some(body)).await;
        assert_eq!((status, fields(&problem)), (422, vec!["slug".to_string()]));
        // The unit cannot change once there are observations.
        let id = metric["id"].as_i64().unwrap();
        call(&app, &token, "POST", &format!("/api/v1/metrics/{id}/observations"), Some(json!({"observed_on": days_ago(10), "value": "45"}))).await;
        let mut change = metric_body("contributors", "higher", "40", "60");
        change["unit"] = json!("percent");
        let (status, problem) = call(&app, &token, "PUT", &format!("/api/v1/metrics/{id}"), Some(change)).await;
        assert_eq!((status, fields(&problem)), (422, vec!["unit".to_string()]));
        // Only the council defines metrics; everyone signed in reads them.
        let treasurer = app.create_user("treasurer@example.org", &[Role::Treasurer], None).await;
        let t = app.api_token_for(treasurer.id).await;
        assert_eq!(call(&app, &t, "POST", "/api/v1/metrics", Some(metric_body("x", "higher", "1", "2"))).await.0, 403);
        assert_eq!(call(&app, &t, "GET", &format!("/api/v1/metrics/{id}"), None).await.0, 200);
    }

    async fn observations_by_form_api_bulk_and_csv_with_corrections_that_keep_history(backend) {
        let app = TestApp::spawn(backend).await;
        let (council, token, _) = setup(&app).await;
        let (_, metric) = call(&app, &token, "POST", "/api/v1/metrics", Some(metric_body("prs", "higher", "100", "200"))).await;
        let id = metric["id"].as_i64().unwrap();

        // The form: bad values are refused next to their field, and the typed values stay.
        let b = app.browser_signed_in(&council).await;
        b.get(&format!("/metrics/{id}")).await;
        for (date, value, field) in [(days_ago(1), "NaN".to_string(), "value"), (days_ago(1), "1e9".to_string(), "value"),
            (days_ahead(3), "120".to_string(), "observed_on"), ("yesterday".to_string(), "120".to_string(), "observed_on")] {
            let res = b.post(&format!("/metrics/{id}/observations"), &[("observed_on", &date), ("value", &value), ("note", "typed")]).await;
            assert_eq!(res.status(), 422, "{date} {value}");
            let html = res.text().await.unwrap();
            assert!(html.contains(&format!("id=\"{field}-error\"")) && html.contains("value=\"typed\""), "{field}");
        }
        let d90 = days_ago(90);
        assert_eq!(b.post(&format!("/metrics/{id}/observations"), &[("observed_on", &d90), ("value", "130"), ("note", "Q count")]).await.status(), 303);
        let res = b.post(&format!("/metrics/{id}/observations"), &[("observed_on", &d90), ("value", "131")]).await;
        assert_eq!(res.status(), 422, "one value per date and source");
        assert!(res.text().await.unwrap().contains("correct that one instead"));

        // Bulk through the API: all or nothing, errors named by row.
        let (status, problem) = call(&app, &token, "POST", &format!("/api/v1/metrics/{id}/observations/bulk"), Some(json!({"observations": [
            {"observed_on": days_ago(60), "value": "140"}, {"observed_on": days_ago(30), "value": "abc"}, {"observed_on": days_ago(20), "value": "150"}]}))).await;
        assert_eq!(status, 422);
        assert_eq!(fields(&problem), vec!["[1].value".to_string()]);
        let (status, saved) = call(&app, &token, "POST", &format!("/api/v1/metrics/{id}/observations/bulk"), Some(json!({"observations": [
            {"observed_on": days_ago(60), "value": "140"}, {"observed_on": days_ago(30), "value": "150", "note": "from the API"}]}))).await;
        assert_eq!(status, 201, "{saved}");
        assert_eq!(saved.as_array().unwrap().len(), 2);

        // CSV: every row checked; nothing imported when one is wrong.
        let before: i64 = app.with_conn(|c| schema::metric_observations::table.count().get_result(c).unwrap()).await;
        let bad = upload(&b, format!("metric,observed_on,value,note\nprs,{},155,ok\nnope,{},1,\nprs,{},x,\n", days_ago(10), days_ago(9), days_ago(8))).await;
        assert_eq!(bad.status(), 422);
        let html = bad.text().await.unwrap();
        assert!(html.contains("Line 3, metric: There is no metric") && html.contains("Line 4, value"), "{html}");
        let after: i64 = app.with_conn(|c| schema::metric_observations::table.count().get_result(c).unwrap()).await;
        assert_eq!(before, after, "nothing imported");
        assert_eq!(upload(&b, "observed_on,value\n".into()).await.status(), 422, "a wrong header");
        let good = upload(&b, format!("metric,observed_on,value,note\nprs,{},155,from the tracker\n", days_ago(10))).await;
        assert_eq!(good.status(), 303);

        // A correction replaces the value and keeps the old one, marked, in the history.
        let latest: Value = call(&app, &token, "GET", &format!("/api/v1/metrics/{id}"), None).await.1;
        assert_eq!(latest["progress"]["latest_milli"], 155_000);
        let obs_id = latest["observations"][0]["id"].as_i64().unwrap();
        assert_eq!(latest["observations"][0]["source"], "import");
        assert_eq!(latest["observations"][0]["source_label"], "q3.csv");
        let (status, problem) = call(&app, &token, "POST", &format!("/api/v1/observations/{obs_id}/correct"), Some(json!({"value": "156", "note": ""}))).await;
        assert_eq!((status, fields(&problem)), (422, vec!["note".to_string()]));
        let (status, corrected) = call(&app, &token, "POST", &format!("/api/v1/observations/{obs_id}/correct"), Some(json!({"value": "158.5", "note": "Tracker recount"}))).await;
        assert_eq!(status, 201, "{corrected}");
        assert_eq!(call(&app, &token, "POST", &format!("/api/v1/observations/{obs_id}/correct"), Some(json!({"value": "1", "note": "again"}))).await.0, 409);
        let detail: Value = call(&app, &token, "GET", &format!("/api/v1/metrics/{id}"), None).await.1;
        assert_eq!(detail["progress"]["latest_milli"], 158_500);
        let old = detail["observations"].as_array().unwrap().iter().find(|o| o["id"] == obs_id).unwrap().clone();
        assert_eq!(old["superseded_by"], corrected["id"]);
        assert_eq!(old["value_milli"], 155_000, "the old value is kept");
        let (_, page) = b.get(&format!("/metrics/{id}")).await;
        assert!(page.contains("<del>155</del>") && page.contains("158.5") && page.contains("corrected"), "history on the page");
        let csv = b.client.get(b.url(&format!("/metrics/{id}/observations.csv"))).send().await.unwrap().text().await.unwrap();
        assert!(csv.contains("prs,") && csv.contains(",155,import,q3.csv,") && csv.contains(",158.5,import,q3.csv,Tracker recount"), "{csv}");
    }

    async fn progress_and_status_follow_the_trend_both_ways(backend) {
        let app = TestApp::spawn(backend).await;
        let (council, token, _) = setup(&app).await;
        // Higher is better: 100 -> 200 over two years, half way after one year: on track.
        let (_, up) = call(&app, &token, "POST", "/api/v1/metrics", Some(metric_body("up", "higher", "100", "200"))).await;
        let up = up["id"].as_i64().unwrap();
        call(&app, &token, "POST", &format!("/api/v1/metrics/{up}/observations"), Some(json!({"observed_on": days_ago(0), "value": "152"}))).await;
        // Lower is better: days to fix 30 -> 10, but it got worse: off track, negative way to target.
        let (_, down) = call(&app, &token, "POST", "/api/v1/metrics", Some(metric_body("days-to-fix", "lower", "30", "10"))).await;
        let down = down["id"].as_i64().unwrap();
        call(&app, &token, "POST", &format!("/api/v1/metrics/{down}/observations"), Some(json!({"observed_on": days_ago(200), "value": "35"}))).await;
        let list: Value = call(&app, &token, "GET", "/api/v1/metrics", None).await.1;
        let find = |id: i64| list.as_array().unwrap().iter().find(|m| m["metric"]["id"] == id).unwrap().clone();
        let up_p = find(up)["progress"].clone();
        assert_eq!(up_p["status"], "on_track", "{up_p}");
        assert_eq!(up_p["percent_to_target"], 52.0);
        assert_eq!(up_p["stale"], false);
        let down_p = find(down)["progress"].clone();
        assert_eq!(down_p["status"], "off_track");
        assert_eq!(down_p["percent_to_target"], -25.0);
        assert_eq!(down_p["change_milli"], 5_000);
        assert_eq!(down_p["stale"], true, "200 days old with a 120-day interval");
        let b = app.browser_signed_in(&council).await;
        let (_, page) = b.get("/metrics").await;
        assert!(page.contains("on track") && page.contains("off track") && page.contains("stale"), "{page}");
        let (_, page) = b.get(&format!("/metrics/{down}")).await;
        assert!(page.contains("least squares") && page.contains("-25.0%") && page.contains("lower is better"), "the page says how");
    }

    async fn money_spent_is_shown_next_to_the_change_it_bought(backend) {
        let app = TestApp::spawn(backend).await;
        let (council, token, priority) = setup(&app).await;
        let treasurer = app.create_user("treasurer@example.org", &[Role::Treasurer], None).await;
        let t = app.api_token_for(treasurer.id).await;
        // A fiscal year covering the last year and today, a budget, an approved initiative and a payment today.
        let year_id = app.with_conn(move |conn| {
            let start = today() - chrono::Duration::days(400);
            let y = steward::ledger::service::create_year(conn, treasurer.id, "FY-test", &start.to_string(), &(start + chrono::Duration::days(400)).to_string()).unwrap();
            steward::ledger::service::set_year_status(conn, treasurer.id, y.id, "open").unwrap();
            y.id
        }).await;
        call(&app, &t, "PUT", &format!("/api/v1/budgets/{year_id}/{priority}"), Some(json!({"amount": "50000"}))).await;
        let (_, i) = call(&app, &t, "POST", "/api/v1/initiatives", Some(json!({"priority_id": priority, "title": "Mentoring", "summary": "x"}))).await;
        let i = i["id"].as_i64().unwrap();
        call(&app, &token, "POST", &format!("/api/v1/initiatives/{i}/status"), Some(json!({"status": "approved"}))).await;
        let (_, a) = call(&app, &t, "POST", &format!("/api/v1/initiatives/{i}/allocations"), Some(json!({"fiscal_year_id": year_id, "amount": "20000"}))).await;
        let (_, d) = call(&app, &token, "POST", "/api/v1/disbursements", Some(json!({"allocation_id": a["id"], "payee": "Mentor", "amount": "9000", "purpose": "Mentoring"}))).await;
        let d = d["id"].as_i64().unwrap();
        call(&app, &t, "POST", &format!("/api/v1/disbursements/{d}/approve"), Some(json!({}))).await;
        assert_eq!(call(&app, &t, "POST", &format!("/api/v1/disbursements/{d}/pay"), Some(json!({"paid_on": today().to_string()}))).await.0, 200);

        let mut body = metric_body("contributors", "higher", "40", "60");
        body["initiative_ids"] = json!([i]);
        let (_, m) = call(&app, &token, "POST", "/api/v1/metrics", Some(body)).await;
        let m = m["id"].as_i64().unwrap();
        call(&app, &token, "POST", &format!("/api/v1/metrics/{m}/observations"), Some(json!({"observed_on": today().to_string(), "value": "48"}))).await;
        let detail: Value = call(&app, &token, "GET", &format!("/api/v1/metrics/{m}"), None).await.1;
        let windows = detail["funding"].as_array().unwrap();
        assert_eq!(windows.len(), 5, "four quarters and the whole time since the baseline");
        let all = windows.last().unwrap();
        assert_eq!(all["spent_minor"], 900_000);
        assert_eq!(all["change_milli"], 8_000);
        assert_eq!(all["cost_per_unit"], json!({"kind": "per_unit", "minor": 112_500}), "USD 9,000 for 8 more: USD 1,125 each");
        let this_quarter = &windows[3];
        assert_eq!(this_quarter["spent_minor"], 900_000);
        assert_eq!(windows[0]["cost_per_unit"], json!({"kind": "no_spending"}));
        let b = app.browser_signed_in(&council).await;
        let (_, page) = b.get(&format!("/metrics/{m}")).await;
        assert!(page.contains("USD 1,125.00 per unit") && page.contains("correlation, not proof"), "{page}");
        // A correction that makes it worse: the cost is not computed.
        let obs = detail["observations"][0]["id"].as_i64().unwrap();
        call(&app, &token, "POST", &format!("/api/v1/observations/{obs}/correct"), Some(json!({"value": "38", "note": "recount"}))).await;
        let detail: Value = call(&app, &token, "GET", &format!("/api/v1/metrics/{m}"), None).await.1;
        assert_eq!(detail["funding"].as_array().unwrap().last().unwrap()["cost_per_unit"], json!({"kind": "worsened"}));
        // The initiative page links to the metric.
        let (_, page) = b.get(&format!("/initiatives/{i}")).await;
        assert!(page.contains(&format!("href=\"/metrics/{m}\"")));
    }
}
