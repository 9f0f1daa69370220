//! Hostile input at the edges: where sign-in sends people next, names and titles with hidden characters,
//! and the anonymous CSP-report endpoint.

use diesel::prelude::*;
use serde_json::{json, Value};
use steward::accounts::Role;
use steward::db::schema;

use crate::backend_tests;
use crate::support::browser::Browser;
use crate::support::TestApp;

/// `next` values that must all send to the home page after sign-in.
const HOSTILE_NEXT: &[&str] = &[
    "//evil.example",
    "//evil.example/path",
    "/\\evil.example",
    "\\\\evil.example",
    "/%2F/evil.example",
    "/%2f..",
    "/%2F..",
    "/%5Cevil.example",
    "/%5cevil.example",
    "/%09/evil.example",
    "/%0d%0aSet-Cookie:%20stolen=1",
    "https://evil.example/",
    "http:evil.example",
    "javascript:alert(1)",
    "JaVaScRiPt:alert(1)",
    "evil.example",
    " /account",
    "/\t/evil.example",
    "/ /evil.example",
    "/\r\nSet-Cookie: stolen=1",
    "/\nLocation: https://evil.example/",
    "/\u{0}account",
    "/\u{7f}account",
    "/\u{85}account",
    "/\u{2028}account",
    "/é",
    "/%",
    "/%zz",
    "/%ff",
    "",
];

/// Names and titles with characters that are hidden or reorder text: each must be refused.
const HIDDEN: &[&str] = &[
    "Acme\u{202E}gnp.exe",
    "\u{202A}Acme",
    "Acme\u{202D}",
    "\u{2066}Acme\u{2069}",
    "\u{2067}Acme",
    "Ac\u{200B}me",
    "Ac\u{200C}me",
    "Ac\u{200D}me",
    "Ac\u{2060}me",
    "\u{FEFF}Acme",
    "Ac\u{0}me",
    "Ac\u{7}me",
    "Acme\u{1b}[2J",
    "Ac\u{85}me",
];

/// A form's page (where it is also posted), the field that must show an error, and the fields sent.
type FormCase<'a> = (&'a str, &'a str, Vec<(&'a str, &'a str)>);

fn field_error<'a>(html: &'a str, field: &str) -> Option<&'a str> {
    let marker = format!("id=\"{field}-error\">");
    let at = html.find(&marker)? + marker.len();
    html[at..].split('<').next()
}

async fn row_counts(app: &TestApp) -> Vec<i64> {
    app.with_conn(|conn| {
        use schema::*;
        vec![
            members::table.count().get_result::<i64>(conn).unwrap(),
            membership_tiers::table.count().get_result::<i64>(conn).unwrap(),
            funding_priorities::table.count().get_result::<i64>(conn).unwrap(),
            initiatives::table.count().get_result::<i64>(conn).unwrap(),
            metrics::table.count().get_result::<i64>(conn).unwrap(),
            users::table.count().get_result::<i64>(conn).unwrap(),
            surveys::table.count().get_result::<i64>(conn).unwrap(),
        ]
    })
    .await
}

backend_tests! {
    async fn hostile_next_values_send_to_the_home_page_and_never_break_a_header(backend) {
        let app = TestApp::spawn_with(backend, |c| c.sign_in_per_ip = 1000).await;
        let user = app.create_user("next@example.org", &[Role::Council], None).await;
        let b = Browser::new(&app.address);
        for next in HOSTILE_NEXT {
            b.get("/sign-in").await;
            let res = b.post("/sign-in", &[("email", user.email.as_str()), ("password", user.password.as_str()), ("next", next)]).await;
            assert_eq!(res.status(), 303, "next = {next:?}");
            assert_eq!(Browser::location(&res), "/", "next = {next:?}");
            b.forget_csrf();
            // Signed in, the sign-in page sends on at once: also to the home page.
            let url = format!("{}/sign-in?next={}", app.address, steward::web::url_encode(next));
            let res = b.client.get(url).send().await.unwrap();
            assert_eq!(res.status(), 303, "GET next = {next:?}");
            assert_eq!(Browser::location(&res), "/", "GET next = {next:?}");
            b.post("/sign-out", &[]).await;
            b.forget_csrf();
        }
        // Paths on this site are kept.
        for next in ["/account", "/members?page=2&q=acme%20corp", "/initiatives/3", "/reports/2026-Q1"] {
            b.get("/sign-in").await;
            let res = b.post("/sign-in", &[("email", user.email.as_str()), ("password", user.password.as_str()), ("next", next)]).await;
            assert_eq!(Browser::location(&res), next);
            b.forget_csrf();
            b.post("/sign-out", &[]).await;
            b.forget_csrf();
        }
        // A person with a second factor keeps only a safe `next` through the second step.
        let secret = steward::accounts::totp::new_secret();
        let id = user.id;
        app.with_conn(move |conn| {
            diesel::update(schema::users::table.find(id))
                .set((schema::users::totp_secret.eq(&secret), schema::users::totp_enabled_at.eq(steward::db::now())))
                .execute(conn)
                .unwrap();
        })
        .await;
        b.get("/sign-in").await;
        let res = b.post("/sign-in", &[("email", user.email.as_str()), ("password", user.password.as_str()), ("next", "/\r\nX: y")]).await;
        assert_eq!(Browser::location(&res), "/sign-in/two-factor?next=%2F");
        let sessions: i64 = app.with_conn(|conn| schema::sessions::table.count().get_result(conn).unwrap()).await;
        assert_eq!(sessions, 1, "one session per sign-in, none left behind by the refused values");
    }

    async fn names_and_titles_refuse_hidden_and_control_characters_before_the_database(backend) {
        let app = TestApp::spawn(backend).await;
        let staff = app.create_user("staff@example.org", &[Role::Treasurer, Role::Council, Role::Admin], None).await;
        let member = app.create_member("acme", "Acme").await;
        let token = app.api_token_for(staff.id).await;
        let api = |path: &'static str, body: Value| {
            let req = app.client.post(app.url(path)).bearer_auth(&token).json(&body);
            async move {
                let res = req.send().await.unwrap();
                let status = res.status().as_u16();
                (status, res.json::<Value>().await.unwrap_or(Value::Null))
            }
        };
        let (status, priority) = api("/api/v1/priorities", json!({"slug": "clean", "title": "Clean", "summary": "s", "outcomes": []})).await;
        assert_eq!(status, 201, "{priority}");
        let priority_id = priority["id"].as_i64().unwrap();
        let before = row_counts(&app).await;
        let now = chrono::Utc::now();
        for (i, bad) in HIDDEN.iter().enumerate() {
            let bodies: Vec<(&'static str, &'static str, Value)> = vec![
                ("/api/v1/members", "name", json!({"name": bad, "slug": format!("h-{i}")})),
                ("/api/v1/tiers", "name", json!({"name": bad, "annual_dues": "100.00", "currency": "USD", "benefits": ""})),
                ("/api/v1/priorities", "title", json!({"slug": format!("h-{i}"), "title": bad, "summary": "s", "outcomes": []})),
                ("/api/v1/initiatives", "title", json!({"priority_id": priority_id, "title": bad, "summary": "s", "lead": "", "subprojects": ""})),
                ("/api/v1/metrics", "name", json!({
                    "slug": format!("h-{i}"), "name": bad, "description": "", "scope_notes": "", "unit": "count",
                    "direction": "higher", "baseline": "1", "baseline_on": "2026-01-01", "target": "10",
                    "target_on": "2027-12-31", "source": "manual", "expected_interval_days": 30
                })),
                ("/api/v1/users", "display_name", json!({"email": format!("h{i}@example.org"), "display_name": bad, "roles": ["council"]})),
                ("/api/v1/surveys", "title", json!({
                    "title": bad, "introduction": "", "cycle": format!("H{i}"),
                    "opens_at": (now - chrono::Duration::hours(1)).format("%Y-%m-%dT%H:%M").to_string(),
                    "closes_at": (now + chrono::Duration::days(9)).format("%Y-%m-%dT%H:%M").to_string(),
                    "audience": "selected", "targets": [member], "anonymous": false, "min_group_size": 1
                })),
            ];
            for (path, field, body) in bodies {
                let (status, problem) = api(path, body).await;
                assert_eq!(status, 422, "{path} with {bad:?}: {problem}");
                let errors = problem["errors"].as_array().cloned().unwrap_or_default();
                let named = errors.iter().find(|e| e["field"] == field).unwrap_or_else(|| panic!("{path}: no error on {field}: {problem}"));
                assert!(named["message"].as_str().unwrap().starts_with("Remove"), "{path}: {named}");
            }
        }
        // The forms say the same beside the field.
        let b = app.browser_signed_in(&staff).await;
        for (i, bad) in HIDDEN.iter().enumerate() {
            let slug = format!("f-{i}");
            let forms: Vec<FormCase> = vec![
                ("/members/new", "name", vec![("name", bad), ("slug", &slug), ("status", "active"), ("joined_on", "2026-01-01")]),
                ("/priorities/new", "title", vec![("title", bad), ("slug", &slug), ("summary", "s")]),
                ("/admin/users/invite", "display_name", vec![("email", "form@example.org"), ("display_name", bad), ("roles", "council")]),
                ("/admin/settings", "name", vec![("name", bad), ("tagline", "")]),
            ];
            for (action, field, fields) in forms {
                b.get(action).await;
                let res = b.post(action, &fields).await;
                assert_eq!(res.status(), 422, "{action} with {bad:?}");
                let html = res.text().await.unwrap();
                let message = field_error(&html, field).unwrap_or_else(|| panic!("{action}: no error beside {field}"));
                assert!(message.starts_with("Remove"), "{action}: {message}");
            }
        }
        assert_eq!(row_counts(&app).await, before, "nothing was stored");
        // Names that merely look foreign are welcome.
        let (status, body) = api("/api/v1/members", json!({"name": "Zürich Öffentlich مرحبا 日本", "slug": "intl"})).await;
        assert_eq!(status, 201, "{body}");
    }

    async fn csp_reports_are_rate_limited_per_address(backend) {
        let app = TestApp::spawn(backend).await;
        let report = json!({"csp-report": {"violated-directive": "script-src", "blocked-uri": "https://x.example/\nforged"}});
        let limit = steward::accounts::rate_limit::CSP_REPORTS_PER_IP.max as usize;
        let mut statuses = Vec::new();
        for _ in 0..limit + 5 {
            let res = app.client.post(app.url("/csp-report")).header("content-type", "application/csp-report").body(report.to_string()).send().await.unwrap();
            statuses.push(res.status().as_u16());
        }
        // The first `limit` reports are taken, then refused. (A counting window that ends during the burst
        // starts the count again: then up to twice the limit pass, never more.)
        let first_refused = statuses.iter().position(|s| *s == 429).expect("a report refused");
        assert!(first_refused >= limit, "refused after {first_refused}: {statuses:?}");
        assert!(statuses[..first_refused].iter().all(|s| *s == 204), "{statuses:?}");
        assert!(statuses.iter().filter(|s| **s == 204).count() <= 2 * limit);
        let res = app.client.post(app.url("/csp-report")).body(report.to_string()).send().await.unwrap();
        assert!(res.status() == 429 || first_refused > limit, "{}", res.status());
        assert!(res.status() != 429 || res.headers().contains_key("retry-after"));
    }
}
