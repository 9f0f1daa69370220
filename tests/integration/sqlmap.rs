//! SQL injection: sqlmap (Debian's package), signed in, over the main endpoints whose parameters reach the
//! database: list pages' filters, search and paging; the forms that change members, invoices, the ledger,
//! survey answers and feedback; the API's query parameters and JSON bodies; and the session cookie. Every
//! parameter must come out "not injectable", every request must stay signed in (no 401, no redirect to sign-in)
//! and none may answer 5xx.
//!
//! The normal run uses boolean-based, error-based, UNION and stacked-query payloads (`--technique=BEUS`) for
//! the backend under test at level 1 (level 2 for the cookie, which level 1 leaves alone); it sends about a
//! quarter of level 2's requests. `STEWARD_SQLMAP_FULL=1` (`scripts/test --long`) runs everything at level 2,
//! adds time-based payloads (`T`) and more endpoints. The tool: `STEWARD_SQLMAP`, else `sqlmap` on the PATH
//! (`apt-get install -y sqlmap`).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::{Arc, Mutex};
use std::time::Instant;

use diesel::prelude::*;
use steward::db::schema;

use crate::backend_tests;
use crate::support::{Backend, TestApp};

/// sqlmap processes at once: each spends about half its time waiting for the server, on two cores.
const PARALLEL: usize = 3;

fn sqlmap() -> PathBuf {
    if let Ok(path) = std::env::var("STEWARD_SQLMAP") {
        return PathBuf::from(path);
    }
    std::env::var_os("PATH")
        .and_then(|paths| std::env::split_paths(&paths).map(|dir| dir.join("sqlmap")).find(|p| p.is_file()))
        .unwrap_or_else(|| {
            panic!(
                "sqlmap is not installed: run `apt-get install -y sqlmap` (scripts/test does), or set STEWARD_SQLMAP"
            )
        })
}

fn full() -> bool {
    std::env::var("STEWARD_SQLMAP_FULL").is_ok_and(|v| v == "1")
}

/// How a target proves who is calling.
#[derive(Clone)]
enum Auth {
    /// A page session: the cookie, and the CSRF token as the `X-CSRF-Token` header (fixed for the session).
    Session {
        cookie: String,
        csrf: String,
    },
    Bearer(String),
}

/// One endpoint for sqlmap.
#[derive(Clone)]
struct Target {
    name: &'static str,
    method: &'static str,
    /// Path and query.
    path: String,
    /// A url-encoded form or a JSON body.
    body: Option<String>,
    auth: Auth,
    /// Whether sqlmap tries only the session cookie, at level 2 (once is enough: every page reads it the same
    /// way), instead of the parameters.
    cookie_only: bool,
    /// The parameters sqlmap must report as tested, as it names them.
    params: Vec<String>,
}

impl Target {
    fn new(name: &'static str, method: &'static str, path: String, body: Option<String>, auth: &Auth) -> Self {
        let (query, names): (&str, Vec<String>) = match (&body, path.split_once('?')) {
            (Some(b), _) if b.starts_with('{') => ("", json_names(b)),
            (Some(b), _) => (b.as_str(), Vec::new()),
            (None, Some((_, q))) => (q, Vec::new()),
            (None, None) => ("", Vec::new()),
        };
        let mut params = names;
        params.extend(query.split('&').filter(|p| !p.is_empty()).map(|p| p.split('=').next().unwrap().to_string()));
        Self { name, method, path, body, auth: auth.clone(), cookie_only: false, params }
    }
}

/// The names sqlmap gives a flat JSON object's values (`JSON name`); nested values are left to it.
fn json_names(body: &str) -> Vec<String> {
    let value: serde_json::Value = serde_json::from_str(body).unwrap();
    value
        .as_object()
        .unwrap()
        .iter()
        .filter(|(_, v)| v.is_string() || v.is_number() || v.is_boolean())
        .map(|(k, _)| format!("JSON {k}"))
        .collect()
}

/// What one sqlmap run did.
#[derive(Debug)]
struct Outcome {
    name: &'static str,
    tested: Vec<String>,
    injectable: Vec<String>,
    requests: usize,
    statuses: BTreeMap<u16, usize>,
    first_status: Option<u16>,
    finished: bool,
    output: String,
}

backend_tests! {
    async fn sqlmap_finds_no_injectable_parameter(backend) {
        let tool = sqlmap();
        let started = Instant::now();
        let app = TestApp::spawn(backend).await;
        app.seed_demo().await;
        let targets = targets(&app).await;
        let dir = app.test_db.dir.path().join("sqlmap");
        std::fs::create_dir_all(&dir).unwrap();

        let queue = Arc::new(Mutex::new(targets.clone()));
        let results = Arc::new(Mutex::new(Vec::new()));
        let base = app.address.clone();
        let dbms = match backend {
            Backend::Sqlite => "SQLite",
            Backend::Postgres => "PostgreSQL",
        };
        let workers: Vec<_> = (0..PARALLEL)
            .map(|_| {
                let (queue, results, tool, dir, base) =
                    (queue.clone(), results.clone(), tool.clone(), dir.clone(), base.clone());
                tokio::task::spawn_blocking(move || loop {
                    let Some(target) = queue.lock().unwrap().pop() else { break };
                    let outcome = run_sqlmap(&tool, &dir, &base, dbms, &target);
                    results.lock().unwrap().push(outcome);
                })
            })
            .collect();
        for worker in workers {
            worker.await.unwrap();
        }
        let outcomes = std::mem::take(&mut *results.lock().unwrap());

        let mut problems = Vec::new();
        for target in &targets {
            let o = outcomes.iter().find(|o| o.name == target.name).unwrap();
            let expected =
                if target.cookie_only { vec!["steward_session".to_string()] } else { target.params.clone() };
            let untested: Vec<&String> = expected.iter().filter(|p| !o.tested.contains(p)).collect();
            let server_errors: usize = o.statuses.range(500..).map(|(_, n)| n).sum();
            let signed_out = o.statuses.get(&401).copied().unwrap_or(0) + o.statuses.get(&403).copied().unwrap_or(0);
            let mut wrong = Vec::new();
            if !o.injectable.is_empty() {
                wrong.push(format!("INJECTABLE: {:?}", o.injectable));
            }
            if !o.finished || !untested.is_empty() {
                wrong.push(format!("did not finish testing {untested:?} (tested {:?})", o.tested));
            }
            if server_errors > 0 {
                wrong.push(format!("{server_errors} answers were 5xx"));
            }
            // Trying the session cookie signs the request out by design; anything else must stay signed in.
            if signed_out > 0 && !target.cookie_only {
                wrong.push(format!("{signed_out} answers were 401/403: the run was not signed in"));
            }
            if !o.first_status.is_some_and(|s| (200..400).contains(&s)) {
                wrong.push(format!("the unchanged request answered {:?}, not success", o.first_status));
            }
            if !wrong.is_empty() {
                problems.push(format!("{} {}: {}\n{}", target.method, target.path, wrong.join("; "), o.output));
            }
            println!(
                "sqlmap {backend:?} {}: {} parameters, {} requests, statuses {:?}",
                target.name,
                o.tested.len(),
                o.requests,
                o.statuses
            );
        }
        assert!(problems.is_empty(), "sqlmap:\n{}", problems.join("\n\n"));
        println!(
            "sqlmap {backend:?}: {} endpoints, {} parameters, {} requests, 0 injectable ({}) in {:.1} s",
            targets.len(),
            outcomes.iter().map(|o| o.tested.len()).sum::<usize>(),
            outcomes.iter().map(|o| o.requests).sum::<usize>(),
            if full() { "techniques BEUST" } else { "techniques BEUS" },
            started.elapsed().as_secs_f64()
        );
    }
}

fn run_sqlmap(tool: &Path, dir: &Path, base: &str, dbms: &str, target: &Target) -> Outcome {
    let out_dir = dir.join(target.name);
    let traffic = dir.join(format!("{}.traffic", target.name));
    let mut cmd = Command::new(tool);
    cmd.arg("-u")
        .arg(format!("{base}{}", target.path))
        .args(["--method", target.method])
        // Level 1 sends a quarter of level 2's requests (sqlmap's own work was most of this test's time); level 2
        // is needed for a cookie, and runs everywhere in the long run.
        .args(["--batch", "--level", if full() || target.cookie_only { "2" } else { "1" }, "--risk", "1"])
        .arg("--disable-coloring")
        .arg(format!("--dbms={dbms}"))
        .arg(format!("--technique={}", if full() { "BEUST" } else { "BEUS" }))
        // After a form's 303, read the page it leads to (as a browser does), without posting to it again.
        .arg("--answers=resend=N")
        .arg("--output-dir")
        .arg(&out_dir)
        .arg("-t")
        .arg(&traffic);
    if let Some(body) = &target.body {
        cmd.args(["--data", body]);
    }
    let mut headers = Vec::new();
    match &target.auth {
        Auth::Session { cookie, csrf } => {
            cmd.args(["--cookie", &format!("steward_session={cookie}")]);
            headers.push(format!("X-CSRF-Token: {csrf}"));
            if target.cookie_only {
                cmd.args(["-p", "steward_session"]);
            } else {
                cmd.arg("--skip=steward_session");
            }
        }
        Auth::Bearer(token) => headers.push(format!("Authorization: Bearer {token}")),
    }
    if target.body.as_deref().is_some_and(|b| b.starts_with('{')) {
        headers.push("Content-Type: application/json".into());
    }
    cmd.args(["--headers", &headers.join("\n")]);
    let out = cmd.output().expect("run sqlmap");
    let output = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    let traffic = std::fs::read_to_string(&traffic).unwrap_or_default();

    let quoted = |line: &str| line.split('\'').nth(1).map(|s| s.to_string());
    let tested = output.lines().filter(|l| l.contains("does not seem to be injectable")).filter_map(quoted).collect();
    let injectable = output
        .lines()
        .filter(|l| l.contains("is vulnerable") || l.starts_with("Parameter: ") || l.contains("injection point(s)"))
        .map(str::to_string)
        .collect();
    let mut statuses = BTreeMap::new();
    let mut first_status = None;
    for line in traffic.lines().filter(|l| l.starts_with("HTTP response [#")) {
        // HTTP response [#12] (422 Unprocessable Entity):
        let status = line.split('(').nth(1).and_then(|s| s.split(' ').next()).and_then(|s| s.parse::<u16>().ok());
        if let Some(status) = status {
            first_status.get_or_insert(status);
            *statuses.entry(status).or_insert(0) += 1;
        }
    }
    Outcome {
        name: target.name,
        tested,
        injectable,
        requests: traffic.lines().filter(|l| l.starts_with("HTTP request [#")).count(),
        statuses,
        first_status,
        finished: out.status.success() && output.contains("all tested parameters do not appear to be injectable"),
        output,
    }
}

/// The endpoints, signed in as the role each belongs to, with real ids from the demo foundation.
async fn targets(app: &TestApp) -> Vec<Target> {
    let user = |email: &'static str| {
        app.with_conn(move |conn| {
            schema::users::table.filter(schema::users::email.eq(email)).select(schema::users::id).first::<i64>(conn)
        })
    };
    let (treasurer, council, rep, admin) = (
        user("treasurer@demo.steward.invalid").await.unwrap(),
        user("council@demo.steward.invalid").await.unwrap(),
        user("rep@demo.steward.invalid").await.unwrap(),
        user("admin@demo.steward.invalid").await.unwrap(),
    );
    let session = |(cookie, csrf)| Auth::Session { cookie, csrf };
    let treasurer_page = session(app.session_for(treasurer).await);
    let rep_page = session(app.session_for(rep).await);
    let admin_page = session(app.session_for(admin).await);
    let council_page = session(app.session_for(council).await);
    let treasurer_api = Auth::Bearer(app.api_token_for(treasurer).await);
    let rep_api = Auth::Bearer(app.api_token_for(rep).await);

    let (member_id, slug, tier_id, invoice_id) = app
        .with_conn(|conn| {
            let (member_id, slug, tier): (i64, String, Option<i64>) = schema::members::table
                .filter(schema::members::slug.eq("quanta-labs"))
                .select((schema::members::id, schema::members::slug, schema::members::tier_id))
                .first(conn)
                .unwrap();
            let invoice: i64 = schema::invoices::table
                .filter(schema::invoices::status.eq("open"))
                .order(schema::invoices::id)
                .select(schema::invoices::id)
                .first(conn)
                .unwrap();
            (member_id, slug, tier.unwrap_or_default(), invoice)
        })
        .await;
    let (survey_token, questions) = survey_link(app, rep).await;
    let today = chrono::Utc::now().date_naive();

    let t = Target::new;
    let members_page = "/members?q=quanta&tier=&status=active&sort=name&overdue=&page=1";
    let mut targets = vec![
        Target { cookie_only: true, ..t("session_cookie", "GET", members_page.into(), None, &treasurer_page) },
        t("members_page", "GET", members_page.into(), None, &treasurer_page),
        t(
            "invoices_page",
            "GET",
            format!("/invoices?member={member_id}&year=&status=open&page=1"),
            None,
            &treasurer_page,
        ),
        t("ledger_page", "GET", "/ledger?year=&page=1".into(), None, &treasurer_page),
        t(
            "member_edit",
            "POST",
            format!("/members/{slug}/edit"),
            Some(format!(
                "name=Quanta+Labs&slug={slug}&tier={tier_id}&status=active&joined_on=2023-02-01&renews_on=&\
                 website=https%3A%2F%2Fquanta.example&country=US&logo_url=&notes=Renews+by+purchase+order"
            )),
            &treasurer_page,
        ),
        t(
            "invoice_payment",
            "POST",
            format!("/invoices/{invoice_id}/payments"),
            Some(format!("amount=0.01&paid_on={today}&reference=wire+42&confirm=yes")),
            &treasurer_page,
        ),
        t(
            "ledger_adjustment",
            "POST",
            "/ledger/adjustments".into(),
            Some(format!(
                "entry_date={today}&direction=in&amount=1.00&currency=USD&priority_id=&memo=Bank+interest&confirm=yes"
            )),
            &treasurer_page,
        ),
        t(
            "survey_answers",
            "POST",
            format!("/s/{survey_token}"),
            Some(format!(
                "{}&action=draft",
                questions.iter().map(|(id, v)| format!("q{id}={v}")).collect::<Vec<_>>().join("&")
            )),
            &rep_page,
        ),
        t(
            "feedback",
            "POST",
            "/feedback".into(),
            Some("subject=Docs&body=More+examples+please&priority_id=&initiative_id=".into()),
            &rep_page,
        ),
        t("api_members", "GET", "/api/v1/members?q=quanta&status=active&sort=name&page=1".into(), None, &treasurer_api),
        t(
            "api_member_update",
            "PATCH",
            format!("/api/v1/members/{member_id}"),
            Some(r#"{"name":"Quanta Labs","website":"https://quanta.example","country":"US","notes":"PO"}"#.into()),
            &treasurer_api,
        ),
        t(
            "api_adjustment",
            "POST",
            "/api/v1/ledger/adjustments".into(),
            Some(format!(
                r#"{{"entry_date":"{today}","direction":"in","amount":"1.00","currency":"USD","memo":"Interest"}}"#
            )),
            &treasurer_api,
        ),
        t(
            "api_feedback",
            "POST",
            "/api/v1/feedback".into(),
            Some(r#"{"subject":"Docs","body":"More examples please"}"#.into()),
            &rep_api,
        ),
    ];
    if full() {
        targets.extend([
            t("initiatives_page", "GET", "/initiatives?status=active&priority=&page=1".into(), None, &council_page),
            t("audit_page", "GET", "/admin/audit?action=user.&page=1".into(), None, &admin_page),
            t(
                "api_invoices",
                "GET",
                format!("/api/v1/invoices?member_id={member_id}&status=open&page=1"),
                None,
                &treasurer_api,
            ),
            t(
                "api_ledger_entries",
                "GET",
                "/api/v1/ledger/entries?fiscal_year_id=1&page=1".into(),
                None,
                &treasurer_api,
            ),
            t(
                "api_payment",
                "POST",
                format!("/api/v1/invoices/{invoice_id}/payments"),
                Some(format!(r#"{{"amount":"0.01","paid_on":"{today}","reference":"wire 43"}}"#)),
                &treasurer_api,
            ),
            t(
                "api_audit",
                "GET",
                "/api/v1/audit-events?action=user.&page=1".into(),
                None,
                &Auth::Bearer(app.api_token_for(admin).await),
            ),
            t("metrics_page", "GET", "/metrics?priority=1&initiative=&page=1".into(), None, &council_page),
            t("member_page", "GET", format!("/members/{slug}?tab=overview"), None, &treasurer_page),
        ]);
    }
    targets
}

/// A personal link to the demo's open survey for `rep`, made as "answer now" makes it, and a draft answer to
/// each of its scale questions.
async fn survey_link(app: &TestApp, rep: i64) -> (String, Vec<(i64, String)>) {
    app.with_conn(move |conn| {
        let survey: i64 = schema::surveys::table
            .filter(schema::surveys::status.eq("open"))
            .inner_join(schema::survey_invitations::table)
            .filter(schema::survey_invitations::user_id.eq(rep))
            .select(schema::surveys::id)
            .first(conn)
            .expect("an open demo survey the representative is invited to");
        let token =
            steward::surveys::service::renew_link(conn, rep, survey, steward::surveys::service::LinkDelivery::Here)
                .expect("a personal link");
        let questions: Vec<(i64, String)> = schema::survey_questions::table
            .filter(schema::survey_questions::survey_id.eq(survey))
            .select((schema::survey_questions::id, schema::survey_questions::kind))
            .load(conn)
            .unwrap();
        let answers = questions
            .into_iter()
            .filter_map(|(id, kind)| match kind.as_str() {
                "likert" => Some((id, "4".to_string())),
                "nps" => Some((id, "9".to_string())),
                "long_text" | "short_text" => Some((id, "Good".to_string())),
                _ => None,
            })
            .collect();
        (token, answers)
    })
    .await
}
