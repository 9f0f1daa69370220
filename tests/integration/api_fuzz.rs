//! The API fuzzed from its own OpenAPI document with schemathesis, once per caller: anonymous and each role
//! with a personal API token, against the demo foundation (so real ids exist). Every response must be no 5xx,
//! a status the document lists for that operation, the documented content type, and a body and headers that
//! match the documented schemas. Writes are allowed: fuzzing changes the test's own database.
//!
//! The tool: `STEWARD_SCHEMATHESIS`, else `target/tools/venv/bin/schemathesis` (scripts/test installs a
//! pinned schemathesis from PyPI into that virtual environment). `STEWARD_FUZZ_EXAMPLES` raises the cases
//! generated per operation and phase for a long run by hand (default [`DEFAULT_EXAMPLES`]).

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::Instant;

use diesel::prelude::*;
use serde_json::Value;
use steward::accounts::{Access, Role};
use steward::db::schema;

use crate::backend_tests;
use crate::support::TestApp;

/// Cases per operation in the fuzzing phase of the normal run: with the coverage phase's boundary and
/// negative cases, enough for every operation to see valid and invalid input while the whole test stays well
/// under a minute per backend on a 2-core machine.
const DEFAULT_EXAMPLES: u32 = 5;

/// The checks every response must pass.
const CHECKS: &str = "not_a_server_error,status_code_conformance,content_type_conformance,\
                      response_schema_conformance,response_headers_conformance";

/// The schemathesis version scripts/test installs (and this test was written against).
const VERSION: &str = "4.32.5";

fn schemathesis() -> PathBuf {
    if let Ok(path) = std::env::var("STEWARD_SCHEMATHESIS") {
        return PathBuf::from(path);
    }
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("target/tools/venv/bin/schemathesis");
    assert!(
        path.is_file(),
        "schemathesis is not installed at {}: run `python3 -m venv target/tools/venv && \
         target/tools/venv/bin/pip install schemathesis=={VERSION}` (scripts/test does), or set STEWARD_SCHEMATHESIS",
        path.display()
    );
    path
}

fn examples() -> u32 {
    match std::env::var("STEWARD_FUZZ_EXAMPLES") {
        Ok(v) => v.parse().unwrap_or_else(|_| panic!("STEWARD_FUZZ_EXAMPLES={v} is not a number")),
        Err(_) => DEFAULT_EXAMPLES,
    }
}

/// One caller: its name, the demo user whose token it uses, its role.
struct Caller {
    name: &'static str,
    email: Option<&'static str>,
    role: Option<Role>,
}

const ANONYMOUS: Caller = Caller { name: "anonymous", email: None, role: None };
const MEMBER_REP: Caller =
    Caller { name: "member_rep", email: Some("rep@demo.steward.invalid"), role: Some(Role::MemberRep) };
const COUNCIL: Caller =
    Caller { name: "council", email: Some("council@demo.steward.invalid"), role: Some(Role::Council) };
const TREASURER: Caller =
    Caller { name: "treasurer", email: Some("treasurer@demo.steward.invalid"), role: Some(Role::Treasurer) };
const ADMIN: Caller = Caller { name: "admin", email: Some("admin@demo.steward.invalid"), role: Some(Role::Admin) };

/// What one schemathesis run reported.
#[derive(Debug)]
struct Run {
    operations: u64,
    cases: u64,
    seed: String,
    seconds: f64,
}

/// Methods no route takes, tried on paths that exist: each must be refused as a method (405 or 501).
const ODD_METHODS: &[&str] = &["TRACE", "BREW", "PROPFIND"];
const ODD_METHOD_PATHS: &[&str] =
    &["/api/v1/members", "/api/v1/me", "/api/v1/openapi.json", "/healthz", "/members", "/"];

backend_tests! {
    async fn schemathesis_finds_nothing_as_any_caller(backend) {
        let tool = schemathesis();
        let started = Instant::now();
        let app = TestApp::spawn(backend).await;
        app.seed_demo().await;

        for method in ODD_METHODS {
            for path in ODD_METHOD_PATHS {
                let method = reqwest::Method::from_bytes(method.as_bytes()).unwrap();
                let res = app.client.request(method.clone(), app.url(path)).send().await.unwrap();
                let status = res.status().as_u16();
                assert!(status == 405 || status == 501, "{method} {path} answered {status}, not 405 or 501");
            }
        }

        let document: Value = app.get("/api/v1/openapi.json").await.json().await.unwrap();
        let routes = steward::app::route_table();
        let dir = app.test_db.dir.path().to_path_buf();

        // Two at a time (the machine has two cores); the admin alone and last, because its writes (roles,
        // disabled accounts) would change who the other tokens belong to in the middle of their runs.
        let mut runs = Vec::new();
        for wave in [&[ANONYMOUS, MEMBER_REP][..], &[COUNCIL, TREASURER], &[ADMIN]] {
            let mut handles = Vec::new();
            for caller in wave {
                let token = match caller.email {
                    Some(email) => Some(token_for(&app, email).await),
                    None => None,
                };
                let doc_path = dir.join(format!("openapi-{}.json", caller.name));
                std::fs::write(&doc_path, serde_json::to_vec(&callable_by(&document, &routes, caller.role)).unwrap())
                    .unwrap();
                let mut cmd = Command::new(&tool);
                cmd.arg("run")
                    .arg(&doc_path)
                    .args(["--url", &app.address])
                    .args(["--checks", CHECKS])
                    .args(["--max-examples", &examples().to_string()])
                    .args(["--request-timeout", "20"])
                    .args(["--generation-database", "none"])
                    .arg("--no-color")
                    .current_dir(&dir);
                if caller.role.is_none() {
                    // Every operation answers an anonymous caller 401 before reading its input, so the
                    // coverage phase's thousands of malformed inputs would only repeat that; the public
                    // operations get them in every role's run.
                    cmd.args(["--phases", "examples,fuzzing"]);
                }
                if let Some(token) = &token {
                    cmd.args(["--header", &format!("Authorization: Bearer {token}")]);
                }
                let name = caller.name;
                handles.push((name, token, tokio::task::spawn_blocking(move || {
                    let started = Instant::now();
                    (cmd.output().expect("run schemathesis"), started.elapsed().as_secs_f64())
                })));
            }
            for (name, token, handle) in handles {
                let (out, seconds) = handle.await.unwrap();
                let run = report(name, &out, seconds);
                println!(
                    "api_fuzz {backend:?} {name}: {} operations, {} cases, no failures, {:.1} s (seed {})",
                    run.operations, run.cases, run.seconds, run.seed
                );
                if let Some(token) = token {
                    // The run kept its identity to the end: had the fuzzer revoked the token in use, the rest
                    // of it would have tested only the 401 answer.
                    let res = app.client.get(app.url("/api/v1/me")).bearer_auth(&token).send().await.unwrap();
                    assert_eq!(res.status(), 200, "{name}'s token no longer works after its run");
                }
                runs.push(run);
            }
        }
        println!(
            "api_fuzz {backend:?}: {} callers, {} operation runs, {} cases in {:.1} s",
            runs.len(),
            runs.iter().map(|r| r.operations).sum::<u64>(),
            runs.iter().map(|r| r.cases).sum::<u64>(),
            started.elapsed().as_secs_f64()
        );
    }
}

/// A personal API token for the demo user `email`.
async fn token_for(app: &TestApp, email: &str) -> String {
    let email = email.to_string();
    let user_id = app
        .with_conn(move |conn| {
            schema::users::table.filter(schema::users::email.eq(&email)).select(schema::users::id).first::<i64>(conn)
        })
        .await
        .expect("a demo user");
    app.api_token_for(user_id).await
}

/// The document with only the operations `role` may call (anonymous: all of them, to check each one's 401).
/// An operation the role may not call answers 403 before reading any input, as
/// `tests/integration/access.rs` checks for every route and role; fuzzing it would only repeat that.
fn callable_by(document: &Value, routes: &[steward::accounts::RouteSpec], role: Option<Role>) -> Value {
    let mut doc = document.clone();
    let Some(role) = role else { return doc };
    // Left out for the roles: revoking the token in use is allowed and works at once, and schemathesis's
    // stateful phase finds that token's id in `GET /api/v1/tokens`; the rest of the run would then only see
    // 401. Revocation has its own tests (`tests/integration/accounts.rs`); anonymous callers still fuzz it.
    if let Some(item) = doc["paths"]["/api/v1/tokens/{id}"].as_object_mut() {
        item.remove("delete");
    }
    let paths = doc["paths"].as_object_mut().expect("paths in the document");
    for (path, item) in paths.iter_mut() {
        let item = item.as_object_mut().expect("a path item");
        item.retain(|method, _| {
            let route = routes.iter().find(|r| r.path == path && r.method.as_str().eq_ignore_ascii_case(method));
            match route.map(|r| r.access) {
                Some(Access::Public | Access::SignedIn) => true,
                Some(Access::Roles(roles)) => roles.contains(&role),
                None => panic!("{method} {path} is in the document but is no route"),
            }
        });
    }
    paths.retain(|_, item| item.as_object().is_some_and(|i| !i.is_empty()));
    doc
}

/// Reads the run's summary; panics with the whole output when schemathesis failed or found anything.
fn report(name: &str, out: &Output, seconds: f64) -> Run {
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "schemathesis as {name} failed ({}):\n{stdout}\n{stderr}", out.status);
    let after = |label: &str| -> Option<&str> {
        stdout.lines().skip_while(|l| !l.trim_start().starts_with(label)).nth(1).map(str::trim)
    };
    let number = |text: Option<&str>, what: &str| -> u64 {
        text.and_then(|t| t.split(|c: char| !c.is_ascii_digit()).find(|s| !s.is_empty()))
            .and_then(|n| n.parse().ok())
            .unwrap_or_else(|| panic!("no {what} in schemathesis's summary as {name}:\n{stdout}"))
    };
    let operations = number(
        stdout.lines().map(str::trim).find(|l| l.starts_with("Tested:")).map(|l| &l["Tested:".len()..]),
        "operations tested",
    );
    // "Test cases:" is followed by "N generated, N passed" (or "..., K found K unique failures").
    let cases_line = after("Test cases:");
    let cases = number(cases_line, "cases");
    assert!(
        cases_line.is_some_and(|l| !l.contains("fail") && !l.contains("error")),
        "schemathesis as {name} found failures:\n{stdout}"
    );
    let seed = stdout.lines().find_map(|l| l.strip_prefix("Seed: ")).unwrap_or("?").trim().to_string();
    assert!(operations > 0 && cases > 0, "schemathesis as {name} tested nothing:\n{stdout}");
    Run { operations, cases, seed, seconds }
}

backend_tests! {
    // What schemathesis found on PostgreSQL, which stores no NUL character in text: such input is the client's
    // error (400 with a message), never a server error. SQLite keeps the text as it came.
    async fn a_nul_character_in_text_is_a_clear_error_or_kept_never_a_server_error(backend) {
        let app = TestApp::spawn(backend).await;
        let member = app.create_member("acme", "Acme").await;
        let rep = app.create_user("rep@example.org", &[Role::MemberRep], Some(member)).await;
        let token = app.api_token_for(rep.id).await;
        let res = app
            .client
            .post(app.url("/api/v1/feedback"))
            .bearer_auth(&token)
            .header("content-type", "application/json")
            .body(r#"{"subject": "a\u0000b", "body": "A question."}"#)
            .send()
            .await
            .unwrap();
        let status = res.status().as_u16();
        let body = res.text().await.unwrap();
        match backend {
            crate::support::Backend::Postgres => {
                assert_eq!(status, 400, "{body}");
                assert!(body.contains("NUL character"), "{body}");
            }
            crate::support::Backend::Sqlite => assert_eq!(status, 201, "{body}"),
        }
    }
}
