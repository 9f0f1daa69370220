//! Community health through the front door: the collector against a local server serving recorded GitHub
//! answers (Link pagination, a 403 rate limit with its reset, a bad token, an unknown repository, a failure
//! mid-run and the resume), file imports (GitHub JSON, LCOV, Cobertura; bad files write nothing), hand-checked
//! values of every series, maintainer dates, excluded repositories, and the observations a run commits.

use std::collections::HashMap;
use std::io::{Read, Write};
use std::net::TcpListener;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use diesel::prelude::*;
use serde_json::{json, Value};
use steward::accounts::Role;
use steward::audit::Actor;
use steward::community::collector::{self, GithubClient};
use steward::community::service;
use steward::db::schema;

use crate::backend_tests;
use crate::support::{TestApp, TestUser};

// ------------------------------------------------------------------------------------------ a fake GitHub

#[derive(Clone)]
struct Answer {
    status: u16,
    headers: Vec<(String, String)>,
    body: String,
}

fn ok(body: Value, next: Option<&str>) -> Answer {
    let mut headers = vec![("x-ratelimit-remaining".into(), "4999".into())];
    if let Some(n) = next {
        headers.push(("link".into(), format!("<{n}>; rel=\"next\", <{n}>; rel=\"last\"")));
    }
    Answer { status: 200, headers, body: body.to_string() }
}

fn rate_limited() -> Answer {
    Answer {
        status: 403,
        // "+1": one second after the moment it is served.
        headers: vec![("x-ratelimit-remaining".into(), "0".into()), ("x-ratelimit-reset".into(), "+1".into())],
        body: json!({ "message": "API rate limit exceeded" }).to_string(),
    }
}

fn failing() -> Answer {
    Answer { status: 502, headers: Vec::new(), body: json!({ "message": "Server Error" }).to_string() }
}

#[derive(Default)]
struct State {
    /// Request target -> answers; the last one repeats.
    routes: HashMap<String, Vec<Answer>>,
    /// Every request target served, in order.
    log: Vec<String>,
    bearer: Vec<String>,
}

/// A tiny HTTP server on a thread, speaking just enough HTTP/1.1 for the collector.
struct FakeGithub {
    base: String,
    state: Arc<Mutex<State>>,
}

impl FakeGithub {
    fn start() -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        let state = Arc::new(Mutex::new(State::default()));
        let shared = state.clone();
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                let Ok(mut stream) = stream else { continue };
                let mut buf = Vec::new();
                let mut chunk = [0u8; 4096];
                while !buf.windows(4).any(|w| w == b"\r\n\r\n") {
                    match stream.read(&mut chunk) {
                        Ok(0) | Err(_) => break,
                        Ok(n) => buf.extend_from_slice(&chunk[..n]),
                    }
                }
                let request = String::from_utf8_lossy(&buf).to_string();
                let target = request.split_whitespace().nth(1).unwrap_or("/").to_string();
                let auth = request
                    .lines()
                    .find_map(|l| l.strip_prefix("authorization: ").or_else(|| l.strip_prefix("Authorization: ")))
                    .unwrap_or("")
                    .to_string();
                let answer = {
                    let mut s = shared.lock().unwrap();
                    s.log.push(target.clone());
                    s.bearer.push(auth.clone());
                    if auth != "Bearer good-token" {
                        Answer {
                            status: 401,
                            headers: Vec::new(),
                            body: json!({ "message": "Bad credentials" }).to_string(),
                        }
                    } else {
                        // Incremental runs add `since`; the recorded answers are the same.
                        let key = match target.find("&since=") {
                            Some(i) => target[..i].to_string(),
                            None => target.clone(),
                        };
                        match s.routes.get_mut(&key) {
                            Some(list) if list.len() > 1 => list.remove(0),
                            Some(list) => list[0].clone(),
                            None => Answer {
                                status: 404,
                                headers: Vec::new(),
                                body: json!({ "message": "Not Found" }).to_string(),
                            },
                        }
                    }
                };
                let mut head = format!(
                    "HTTP/1.1 {} X\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n",
                    answer.status,
                    answer.body.len()
                );
                for (k, v) in &answer.headers {
                    let v = if v == "+1" { (chrono::Utc::now().timestamp() + 1).to_string() } else { v.clone() };
                    head.push_str(&format!("{k}: {v}\r\n"));
                }
                head.push_str("\r\n");
                let _ = stream.write_all(head.as_bytes());
                let _ = stream.write_all(answer.body.as_bytes());
            }
        });
        Self { base, state }
    }

    fn route(&self, target: &str, answers: Vec<Answer>) {
        self.state.lock().unwrap().routes.insert(target.to_string(), answers);
    }

    fn served(&self, prefix: &str) -> usize {
        self.state.lock().unwrap().log.iter().filter(|t| t.starts_with(prefix)).count()
    }

    fn client(&self, token: &str) -> GithubClient {
        let mut c = GithubClient::new(&self.base, Some(steward::config::Secret::new(token)));
        c.max_wait = Duration::from_secs(5);
        c
    }
}

// ------------------------------------------------------------------------------------ recorded answers

fn user(login: &str) -> Value {
    json!({ "login": login, "id": 1, "type": "User" })
}

fn pr(id: i64, number: i64, login: &str, created: &str, merged: Option<&str>) -> Value {
    json!({ "id": id, "number": number, "title": format!("Change {number}"), "user": user(login),
        "created_at": created, "updated_at": created, "merged_at": merged, "head": { "ref": "x" },
        "html_url": format!("https://github.com/acme/core/pull/{number}") })
}

fn comment(id: i64, number: i64, login: &str, at: &str) -> Value {
    json!({ "id": id, "issue_url": format!("https://api.github.com/repos/acme/core/issues/{number}"),
        "user": user(login), "created_at": at, "updated_at": at, "body": "..." })
}

fn release(id: i64, tag: &str, at: &str, prerelease: bool) -> Value {
    json!({ "id": id, "tag_name": tag, "author": user("max"), "created_at": at, "published_at": at,
        "draft": false, "prerelease": prerelease })
}

fn pulls_page_1() -> Value {
    json!([
        pr(101, 1, "ann", "2026-07-05T10:00:00Z", Some("2026-07-06T10:00:00Z")),
        // max opened this before he became a maintainer (2026-07-15): a non-maintainer's.
        pr(102, 2, "max", "2026-07-10T00:00:00Z", Some("2026-07-20T00:00:00Z")),
    ])
}

fn pulls_page_2() -> Value {
    json!([
        pr(103, 3, "max", "2026-08-10T00:00:00Z", Some("2026-08-11T00:00:00Z")),
        pr(104, 4, "cy", "2026-08-12T00:00:00Z", None),
    ])
}

fn issues() -> Value {
    json!([
        { "id": 105, "number": 5, "title": "Crash", "user": user("bea"), "created_at": "2026-07-07T00:00:00Z" },
        { "id": 101, "number": 1, "title": "Change 1", "user": user("ann"), "created_at": "2026-07-05T10:00:00Z",
          "pull_request": { "url": "x" } },
    ])
}

fn comments() -> Value {
    json!([
        comment(201, 1, "max", "2026-07-05T16:00:00Z"),
        comment(202, 1, "ann", "2026-07-05T17:00:00Z"),
        comment(203, 5, "cy", "2026-07-08T00:00:00Z"),
        comment(204, 4, "max", "2026-08-14T12:00:00Z"),
        comment(205, 4, "dependabot[bot]", "2026-08-14T13:00:00Z"),
    ])
}

fn releases() -> Value {
    json!([
        release(301, "v1.1.0", "2026-07-15T00:00:00Z", false),
        release(302, "v1.1.1", "2026-07-25T00:00:00Z", false),
        release(303, "v1.2.0", "2026-08-20T00:00:00Z", false),
        release(304, "v2.0.0-rc.1", "2026-09-01T00:00:00Z", true),
    ])
}

fn advisories() -> Value {
    json!([{ "ghsa_id": "GHSA-1111-2222-3333", "summary": "Overflow", "published_at": "2026-07-22T00:00:00Z",
        "vulnerabilities": [{ "package": { "name": "core" }, "patched_versions": "1.1.1" }] }])
}

const Q: &str = "?state=all&sort=updated&direction=desc&per_page=100";

/// Serves acme/core, with the comments endpoint answering first with a rate limit.
fn serve_core(github: &FakeGithub) {
    let page2 = format!("{}/repos/acme/core/pulls?page=2", github.base);
    github.route(&format!("/repos/acme/core/pulls{Q}"), vec![ok(pulls_page_1(), Some(&page2))]);
    github.route("/repos/acme/core/pulls?page=2", vec![ok(pulls_page_2(), None)]);
    github.route("/repos/acme/core/issues?state=all&per_page=100", vec![ok(issues(), None)]);
    github.route("/repos/acme/core/issues/comments?per_page=100", vec![rate_limited(), ok(comments(), None)]);
    github.route("/repos/acme/core/releases?per_page=100", vec![ok(releases(), None)]);
    github.route("/repos/acme/core/security-advisories?state=published&per_page=100", vec![ok(advisories(), None)]);
}

// --------------------------------------------------------------------------------------------- set-up

async fn call(app: &TestApp, token: &str, method: &str, path: &str, body: Option<Value>) -> (u16, Value) {
    let mut req = reqwest::Client::new().request(method.parse().unwrap(), app.url(path)).bearer_auth(token);
    if let Some(b) = body {
        req = req.json(&b);
    }
    let res = req.send().await.unwrap();
    let status = res.status().as_u16();
    (status, res.json().await.unwrap_or(Value::Null))
}

/// A council member with a token; acme/core (max maintains it from 2026-07-15) and acme/docs (excluded);
/// a percent metric fed by the overall quarterly share of merged pull requests by non-maintainers.
async fn setup(app: &TestApp) -> (TestUser, String, i64) {
    let council = app.create_user("council@example.org", &[Role::Council], None).await;
    let token = app.api_token_for(council.id).await;
    let (s, core) = call(
        app,
        &token,
        "POST",
        "/api/v1/community/repositories",
        Some(json!({ "repository": "acme/core", "subproject": "core" })),
    )
    .await;
    assert_eq!(s, 201, "{core}");
    let (s, _) = call(
        app,
        &token,
        "POST",
        "/api/v1/community/repositories",
        Some(json!({ "repository": "acme/docs", "included": false, "exclusion_reason": "documentation only" })),
    )
    .await;
    assert_eq!(s, 201);
    let (s, metric) = call(
        app,
        &token,
        "POST",
        "/api/v1/metrics",
        Some(json!({ "slug": "nm-prs", "name": "Merged PRs by non-maintainers", "unit": "percent",
            "direction": "higher", "baseline": "40", "baseline_on": "2026-01-01", "target": "60",
            "target_on": "2027-12-31", "source": "import", "expected_interval_days": 92 })),
    )
    .await;
    assert_eq!(s, 201, "{metric}");
    let (core_id, metric_id) = (core["id"].as_i64().unwrap(), metric["id"].as_i64().unwrap());
    app.with_conn(move |conn| {
        let m = service::MaintainerInput {
            login: "max".into(),
            since: "2026-07-15".into(),
            until: String::new(),
            source: "file".into(),
        };
        service::add_maintainer(conn, Actor::Cli, core_id, &m).unwrap();
        let link = service::LinkInput {
            metric_id: metric_id.to_string(),
            series: "non_maintainer_pr_share".into(),
            scope: "overall".into(),
            period: "quarter".into(),
        };
        service::link_metric(conn, Actor::Cli, &link).unwrap();
    })
    .await;
    (council, token, metric_id)
}

async fn collect(
    app: &TestApp,
    client: GithubClient,
) -> Result<(steward::community::model::CollectorRun, bool), String> {
    app.with_conn(move |conn| {
        collector::collect(conn, &client, Actor::Cli, steward::db::now().date(), &mut |_| {}).map_err(|e| e.to_string())
    })
    .await
}

/// The value of a series in a period, from the API.
fn value_of(table: &Value, series: &str, period: &str) -> Option<i64> {
    let row = table["rows"].as_array().unwrap().iter().find(|r| r["series"] == series).unwrap();
    let v = row["values"].as_array().unwrap().iter().find(|v| v["period"] == period).unwrap();
    v["value_milli"].as_i64()
}

async fn collector_observations(app: &TestApp, metric_id: i64) -> Vec<(chrono::NaiveDate, i64, String)> {
    app.with_conn(move |conn| {
        use schema::metric_observations as o;
        o::table
            .filter(o::metric_id.eq(metric_id))
            .filter(o::source.eq("collector"))
            .filter(o::superseded_at.is_null())
            .order(o::observed_on)
            .select((o::observed_on, o::value_milli, o::source_label))
            .load(conn)
            .unwrap()
    })
    .await
}

fn q3_end() -> chrono::NaiveDate {
    chrono::NaiveDate::from_ymd_opt(2026, 9, 30).unwrap()
}

// ----------------------------------------------------------------------------------------------- tests

backend_tests! {
    async fn the_collector_reads_every_page_waits_out_the_rate_limit_and_computes_hand_checked_values(backend) {
        let app = TestApp::spawn(backend).await;
        let (council, token, metric_id) = setup(&app).await;
        let github = FakeGithub::start();
        serve_core(&github);

        let started = std::time::Instant::now();
        let (run, resumed) = collect(&app, github.client("good-token")).await.unwrap();
        assert!(!resumed);
        assert_eq!(run.status, "committed");
        // The 403 with x-ratelimit-remaining: 0 was waited out, then asked again.
        assert!(started.elapsed() >= Duration::from_millis(900), "waited for the reset");
        assert_eq!(github.served("/repos/acme/core/issues/comments"), 2);
        // Both pages of pull requests, through the Link header; nothing of the excluded repository.
        assert_eq!(github.served("/repos/acme/core/pulls"), 2);
        assert_eq!(github.served("/repos/acme/docs"), 0);
        assert!(github.state.lock().unwrap().bearer.iter().all(|b| b == "Bearer good-token"));
        // 4 PRs, 1 issue (the PR-as-issue is not counted twice), 4 comments (the bot's skipped), 4 releases, 1 advisory.
        assert_eq!(run.items, 14);
        assert_eq!(service::run_skipped(&run).len(), 1);

        let (s, table) = call(&app, &token, "GET", "/api/v1/community/series?scope=overall&period=quarter", None).await;
        assert_eq!(s, 200, "{table}");
        // Authors in Q3: ann, max, bea, cy.
        assert_eq!(value_of(&table, "active_contributors", "2026-Q3"), Some(4000));
        assert_eq!(value_of(&table, "new_contributors", "2026-Q3"), Some(4000));
        // Merged: #1 ann, #2 max (before he was a maintainer), #3 max (maintainer): 2 of 3.
        assert_eq!(value_of(&table, "non_maintainer_pr_share", "2026-Q3"), Some(66_667));
        // Comments: max on 07-05 (not yet a maintainer), ann, cy, max on 08-14 (maintainer): 3 of 4.
        assert_eq!(value_of(&table, "non_maintainer_comment_share", "2026-Q3"), Some(75_000));
        // Non-maintainer PRs: #1 answered after 6 h (0.25 d), #4 after 2.5 d, #2 never: median 1.375 d.
        assert_eq!(value_of(&table, "first_response_days", "2026-Q3"), Some(1375));
        // v1.1.0 and v1.2.0 (1.1.1 is a patch, 2.0.0-rc.1 a pre-release).
        assert_eq!(value_of(&table, "minor_releases", "2026-Q3"), Some(2000));
        // Published 07-22, fixed in 1.1.1 on 07-25.
        assert_eq!(value_of(&table, "advisory_fix_days", "2026-Q3"), Some(3000));
        assert_eq!(value_of(&table, "line_coverage", "2026-Q3"), None);
        assert_eq!(table["quality"]["repositories"], json!(["acme/core"]));
        assert_eq!(table["quality"]["excluded"][0]["reason"], "documentation only");
        assert_eq!(table["quality"]["skipped"][0]["reason"], "written by a bot (dependabot[bot])");

        // Monthly: July has ann, max, bea, cy; August max and cy.
        let (_, months) = call(&app, &token, "GET", "/api/v1/community/series?period=month", None).await;
        assert_eq!(value_of(&months, "active_contributors", "2026-08"), Some(2000));
        assert_eq!(value_of(&months, "new_contributors", "2026-08"), Some(0));

        // The run fed the linked metric: one observation for the ended quarter, labelled with the run.
        let obs = collector_observations(&app, metric_id).await;
        assert_eq!(obs, vec![(q3_end(), 66_667, format!("run {}", run.id))]);

        // Each value links to the items it was computed from.
        let browser = app.browser_signed_in(&council).await;
        let (s, page) = browser.get("/community?scope=overall&period=quarter").await;
        assert_eq!(s, 200);
        assert!(page.contains("/community/values?series=non_maintainer_pr_share&#38;scope=overall&#38;period=2026-Q3"), "{page}");
        assert!(page.contains("Items skipped: 1") && page.contains("acme/docs (documentation only)"), "{page}");
        let (s, page) = browser.get("/community/values?series=non_maintainer_pr_share&scope=overall&period=2026-Q3").await;
        assert_eq!(s, 200);
        assert!(page.contains("2 of 3 merged pull requests by non-maintainers"), "{page}");
        for n in ["#1 Change 1", "#2 Change 2", "#3 Change 3"] {
            assert!(page.contains(n), "{n} listed");
        }
        assert!(!page.contains("#4 Change 4"));

        // A second run fetches again, changes nothing and writes no duplicate.
        serve_core(&github);
        let (again, _) = collect(&app, github.client("good-token")).await.unwrap();
        assert_eq!(again.observations, 0);
        // Incremental: issues and comments since the last run started; pull requests (newest change first)
        // stop at the first page older than that.
        assert_eq!(github.served("/repos/acme/core/pulls"), 3);
        let log = github.state.lock().unwrap().log.clone();
        assert!(log.iter().any(|t| t.starts_with("/repos/acme/core/issues?state=all&per_page=100&since=2")), "{log:?}");
        assert_eq!(collector_observations(&app, metric_id).await.len(), 1);
        let items: i64 = app.with_conn(|conn| schema::community_items::table.count().get_result(conn).unwrap()).await;
        assert_eq!(items, 14);
    }

    async fn an_interrupted_run_writes_nothing_and_the_next_run_resumes_it(backend) {
        let app = TestApp::spawn(backend).await;
        let (_council, _token, metric_id) = setup(&app).await;
        let github = FakeGithub::start();
        serve_core(&github);
        // The comments endpoint fails once, mid-run.
        github.route("/repos/acme/core/issues/comments?per_page=100", vec![failing(), ok(comments(), None)]);

        let error = collect(&app, github.client("good-token")).await.unwrap_err();
        assert!(error.contains("502"), "{error}");
        let runs = app.with_conn(|conn| service::runs(conn, 10).unwrap()).await;
        assert_eq!(runs.len(), 1);
        assert_eq!(runs[0].status, "failed");
        assert!(runs[0].error.contains("comments"), "{}", runs[0].error);
        // Pages stored before the failure stay; no observation was written.
        assert_eq!(runs[0].items, 5);
        assert!(collector_observations(&app, metric_id).await.is_empty());

        let (run, resumed) = collect(&app, github.client("good-token")).await.unwrap();
        assert!(resumed);
        assert_eq!(run.id, runs[0].id);
        assert_eq!(run.status, "committed");
        assert_eq!(run.items, 14);
        // Pull requests and issues were not fetched again.
        assert_eq!(github.served("/repos/acme/core/pulls"), 2);
        assert_eq!(github.served("/repos/acme/core/issues?"), 1);
        assert_eq!(collector_observations(&app, metric_id).await, vec![(q3_end(), 66_667, format!("run {}", run.id))]);
    }

    async fn a_bad_token_and_an_unknown_repository_say_so(backend) {
        let app = TestApp::spawn(backend).await;
        let (_council, token, _) = setup(&app).await;
        let github = FakeGithub::start();
        serve_core(&github);

        let error = collect(&app, github.client("wrong")).await.unwrap_err();
        assert!(error.contains("GitHub refused the token (401 Bad credentials)"), "{error}");

        let (s, _) = call(&app, &token, "POST", "/api/v1/community/repositories", Some(json!({ "repository": "acme/ghost" }))).await;
        assert_eq!(s, 201);
        let error = collect(&app, github.client("good-token")).await.unwrap_err();
        assert!(error.contains("acme/ghost: GitHub has no such repository"), "{error}");
        let (s, problem) = call(&app, &token, "POST", "/api/v1/community/repositories", Some(json!({ "repository": "not a repo" }))).await;
        assert_eq!(s, 422);
        assert_eq!(problem["errors"][0]["field"], "full_name");
    }

    async fn maintainers_are_read_from_a_file_in_the_repository_or_a_team(backend) {
        use base64::Engine;
        use steward::community::collector::{read_maintainers, MaintainerSource};
        let app = TestApp::spawn(backend).await;
        let (_council, token, _) = setup(&app).await;
        let github = FakeGithub::start();
        let file = "# Maintainers\n* @ana (release manager)\n* @Bo-b\n@acme/triage-team is not a person\n";
        let encoded = base64::engine::general_purpose::STANDARD.encode(file);
        // GitHub wraps base64 at 60 characters.
        let wrapped: Vec<String> = encoded.as_bytes().chunks(60).map(|c| String::from_utf8_lossy(c).to_string()).collect();
        github.route("/repos/acme/core/contents/MAINTAINERS.md", vec![ok(json!({ "type": "file", "encoding": "base64", "content": wrapped.join("\n") }), None)]);
        let members_2 = format!("{}/orgs/acme/teams/core/members?per_page=100&page=2", github.base);
        github.route("/orgs/acme/teams/core/members?per_page=100", vec![ok(json!([user("cy")]), Some(&members_2))]);
        github.route("/orgs/acme/teams/core/members?per_page=100&page=2", vec![ok(json!([user("dee"), user("ana")]), None)]);
        let (_, repos) = call(&app, &token, "GET", "/api/v1/community/repositories", None).await;
        let core = repos.as_array().unwrap().iter().find(|r| r["name"] == "core").unwrap()["id"].as_i64().unwrap();

        let read = move |source: MaintainerSource, since: &'static str| {
            let client = github.client("good-token");
            move |conn: &mut steward::db::DbConn| read_maintainers(conn, &client, Actor::Cli, core, &source, since).map_err(|e| e.to_string())
        };
        assert_eq!(app.with_conn(read(MaintainerSource::File("MAINTAINERS.md".into()), "2026-01-01")).await, Ok(2));
        assert_eq!(app.with_conn(read(MaintainerSource::Team("acme/core".into()), "2026-02-01")).await, Ok(2), "ana is listed already");
        let error = app.with_conn(read(MaintainerSource::File("NOPE.md".into()), "2026-01-01")).await.unwrap_err();
        assert!(error.contains("acme/core: the file NOPE.md: not found"), "{error}");
        let error = app.with_conn(read(MaintainerSource::Team("acme".into()), "2026-01-01")).await.unwrap_err();
        assert!(error.contains("not a team like org/team-slug"), "{error}");
        let error = app.with_conn(read(MaintainerSource::Team("acme/core".into()), "someday")).await.unwrap_err();
        assert!(error.contains("input is not valid"), "{error}");
        let rows: Vec<(String, String, chrono::NaiveDate)> = app
            .with_conn(move |c| {
                schema::repository_maintainers::table
                    .filter(schema::repository_maintainers::repository_id.eq(core))
                    .order(schema::repository_maintainers::login)
                    .select((schema::repository_maintainers::login, schema::repository_maintainers::source, schema::repository_maintainers::since))
                    .load(c)
                    .unwrap()
            })
            .await;
        let d = |s: &str| chrono::NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap();
        assert_eq!(
            rows,
            vec![
                ("Bo-b".to_string(), "file".to_string(), d("2026-01-01")),
                ("ana".to_string(), "file".to_string(), d("2026-01-01")),
                ("cy".to_string(), "team".to_string(), d("2026-02-01")),
                ("dee".to_string(), "team".to_string(), d("2026-02-01")),
                ("max".to_string(), "file".to_string(), d("2026-07-15")),
            ]
        );
    }

    async fn file_imports_are_all_or_nothing_and_excluded_repositories_count_nowhere(backend) {
        let app = TestApp::spawn(backend).await;
        let (council, _token, _) = setup(&app).await;
        let browser = app.browser_signed_in(&council).await;
        let (s, page) = browser.get("/community/import").await;
        assert_eq!(s, 200);
        let csrf = crate::support::browser::csrf_of(&page).unwrap_or_default();
        let upload = |path: &str, fields: Vec<(&'static str, String)>, files: Vec<(&'static str, Vec<u8>)>| {
            let mut form = reqwest::multipart::Form::new();
            for (k, v) in fields {
                form = form.text(k, v);
            }
            for (name, data) in files {
                form = form.part("file", reqwest::multipart::Part::bytes(data).file_name(name));
            }
            browser.client.post(browser.url(&format!("{path}?_csrf={csrf}"))).multipart(form).send()
        };
        let counts = || {
            app.with_conn(|conn| {
                let items: i64 = schema::community_items::table.count().get_result(conn).unwrap();
                let runs: i64 = schema::collector_runs::table.count().get_result(conn).unwrap();
                (items, runs)
            })
        };

        // One good file and one cut short: nothing is written, and the bad one is named.
        let good = format!("{}\n{}", pulls_page_1(), pulls_page_2()).into_bytes();
        let res = upload(
            "/community/import/github",
            vec![("repo", "acme/core".into())],
            vec![("pulls.json", good.clone()), ("comments.json", b"[{\"id\": 1,".to_vec())],
        )
        .await
        .unwrap();
        assert_eq!(res.status().as_u16(), 422);
        assert!(res.text().await.unwrap().contains("comments.json is not valid JSON"));
        assert_eq!(counts().await, (0, 0));

        // The same data as gh api --paginate saves it: imported, and the numbers match the collector's.
        let files = vec![
            ("pulls.json", good),
            ("issues.json", issues().to_string().into_bytes()),
            ("comments.json", comments().to_string().into_bytes()),
            ("releases.json", releases().to_string().into_bytes()),
            ("advisories.json", advisories().to_string().into_bytes()),
        ];
        let res = upload("/community/import/github", vec![("repo", "acme/core".into())], files).await.unwrap();
        assert_eq!(res.status().as_u16(), 303);
        assert_eq!(counts().await, (14, 1));

        // Coverage: a malformed report writes nothing; LCOV for core, Cobertura for the excluded docs.
        let res = upload(
            "/community/import/coverage",
            vec![("repo", "acme/core".into()), ("date", "2026-09-30".into())],
            vec![("lcov.info", b"SF:src/lib.rs\nDA:1,1\n".to_vec())],
        )
        .await
        .unwrap();
        assert_eq!(res.status().as_u16(), 422);
        assert!(res.text().await.unwrap().contains("lcov.info is cut short"));
        let lcov = b"SF:src/lib.rs\nDA:1,1\nDA:2,1\nDA:3,0\nDA:4,4\nend_of_record\n".to_vec();
        let res = upload(
            "/community/import/coverage",
            vec![("repo", "acme/core".into()), ("date", "2026-09-30".into())],
            vec![("lcov.info", lcov)],
        )
        .await
        .unwrap();
        assert_eq!(res.status().as_u16(), 303);
        let cobertura = br#"<?xml version="1.0"?><coverage lines-covered="0" lines-valid="100"></coverage>"#.to_vec();
        let run = app
            .with_conn(move |conn| service::import_coverage(conn, Actor::Cli, "acme/docs", "2026-09-30", "c.xml", &cobertura).unwrap())
            .await;
        assert_eq!(run.status, "committed");
        // Activity in the excluded repository.
        let docs = json!([{ "id": 900, "number": 9, "title": "Typo", "user": user("zed"), "created_at": "2026-07-09T00:00:00Z" }]);
        app.with_conn(move |conn| {
            service::import_github(conn, Actor::Cli, "acme/docs", &[("docs.json".into(), docs.to_string().into_bytes())]).unwrap()
        })
        .await;
        let err = app
            .with_conn(|conn| service::import_github(conn, Actor::Cli, "acme/nowhere", &[("x.json".into(), b"[]".to_vec())]).unwrap_err())
            .await;
        assert!(format!("{err:?}").contains("not a tracked repository"));

        let table = app
            .with_conn(|conn| {
                let (scope, quarterly) = service::parse_view("overall", "quarter").unwrap();
                serde_json::to_value(service::series_table(conn, &scope, quarterly).unwrap()).unwrap()
            })
            .await;
        // zed (docs) does not count; docs' 0% coverage does not count: core's 3 of 4 lines.
        assert_eq!(value_of(&table, "active_contributors", "2026-Q3"), Some(4000));
        assert_eq!(value_of(&table, "line_coverage", "2026-Q3"), Some(75_000));
        assert_eq!(value_of(&table, "non_maintainer_pr_share", "2026-Q3"), Some(66_667));
        assert_eq!(value_of(&table, "first_response_days", "2026-Q3"), Some(1375));
        let (s, page) = browser.get("/community/runs").await;
        assert_eq!(s, 200);
        assert!(page.contains("committed"));
    }

    async fn maintainers_and_repositories_are_managed_on_pages_with_errors_next_to_fields(backend) {
        let app = TestApp::spawn(backend).await;
        let (council, _token, _) = setup(&app).await;
        let browser = app.browser_signed_in(&council).await;
        let (s, _) = browser.get("/community/repositories").await;
        assert_eq!(s, 200);
        let res = browser.post("/community/repositories", &[("full_name", "acme/core"), ("included", "yes")]).await;
        assert_eq!(res.status().as_u16(), 422);
        assert!(res.text().await.unwrap().contains("acme/core is tracked already."));
        let res = browser.post("/community/repositories", &[("full_name", "acme/old"), ("included", "no")]).await;
        assert_eq!(res.status().as_u16(), 422);
        assert!(res.text().await.unwrap().contains("Say why it is excluded"));
        let res = browser
            .post("/community/repositories", &[("full_name", "acme/old"), ("included", "no"), ("exclusion_reason", "archived")])
            .await;
        assert_eq!(res.status().as_u16(), 303);
        let id: i64 = app
            .with_conn(|conn| service::find_by_full_name(conn, "acme/old").unwrap().id)
            .await;
        let (s, _) = browser.get(&format!("/community/repositories/{id}")).await;
        assert_eq!(s, 200);
        let path = format!("/community/repositories/{id}/maintainers");
        let res = browser.post(&path, &[("login", "ann"), ("since", "2026-05-01"), ("until", "2026-04-01")]).await;
        assert_eq!(res.status().as_u16(), 422);
        assert!(res.text().await.unwrap().contains("The end cannot be before the start."));
        let res = browser.post(&path, &[("login", "ann"), ("since", "2026-05-01"), ("source", "team")]).await;
        assert_eq!(res.status().as_u16(), 303);
        let (_, page) = browser.get(&format!("/community/repositories/{id}")).await;
        assert!(page.contains("ann") && page.contains("2026-05-01"));
        let file_path = format!("/community/repositories/{id}/maintainers/file");
        let res = browser.post(&file_path, &[("maintainers_file", "# nobody"), ("file_since", "2026-01-01")]).await;
        assert_eq!(res.status().as_u16(), 422);
        assert!(res.text().await.unwrap().contains("No GitHub login (@login) found in the file."));
        let file = "* @ann @bo @acme/team\n";
        let res = browser.post(&file_path, &[("maintainers_file", file), ("file_since", "2026-01-01")]).await;
        assert_eq!(res.status().as_u16(), 303);
        let logins = app
            .with_conn(move |conn| service::maintainers(conn, id).unwrap().into_iter().map(|m| (m.login, m.source)).collect::<Vec<_>>())
            .await;
        assert_eq!(logins, [("ann".to_string(), "team".to_string()), ("bo".to_string(), "file".to_string())]);
        // Removing an entry asks for the box to be ticked.
        let bo = app
            .with_conn(move |conn| service::maintainers(conn, id).unwrap().into_iter().find(|m| m.login == "bo").unwrap().id)
            .await;
        let res = browser.post(&format!("/community/maintainers/{bo}/remove"), &[]).await;
        assert_eq!(res.status().as_u16(), 303);
        assert_eq!(app.with_conn(move |conn| service::maintainers(conn, id).unwrap().len()).await, 2);
        let res = browser.post(&format!("/community/maintainers/{bo}/remove"), &[("confirm", "yes")]).await;
        assert_eq!(res.status().as_u16(), 303);
        assert_eq!(app.with_conn(move |conn| service::maintainers(conn, id).unwrap().len()).await, 1);
        let (s, page) = browser.get("/community/metrics").await;
        assert_eq!(s, 200);
        assert!(page.contains("non_maintainer_pr_share"));
        let res = browser.post("/community/metrics", &[("metric_id", ""), ("series", "minor_releases"), ("scope", "overall"), ("period", "month")]).await;
        assert_eq!(res.status().as_u16(), 422);
        // A treasurer reads but does not change.
        let treasurer = app.create_user("treasurer@example.org", &[Role::Treasurer], None).await;
        let t = app.browser_signed_in(&treasurer).await;
        let (s, page) = t.get("/community").await;
        assert_eq!(s, 200);
        assert!(!page.contains("Import files"));
    }
}

/// Runs `steward ARGS` against the test app's database, with quiet logs.
fn steward(app: &TestApp, args: &[&str]) -> std::process::Output {
    crate::support::steward_command()
        .args(args)
        .env("RUST_LOG", "error")
        .env("DATABASE_URL", app.test_db.url_string())
        .output()
        .expect("run steward")
}

backend_tests! {
    async fn the_commands_collect_and_import_and_say_what_went_wrong_in_one_line(backend) {
        let app = TestApp::spawn(backend).await;
        setup(&app).await;
        let github = FakeGithub::start();
        serve_core(&github);
        let dir = tempfile::tempdir().unwrap();
        let (base, bad, good) = (github.base.clone(), dir.path().join("bad.info"), dir.path().join("core.info"));
        std::fs::write(&bad, "not coverage at all").unwrap();
        std::fs::write(&good, "SF:a\nLF:10\nLH:9\nend_of_record\n").unwrap();
        let app = std::sync::Arc::new(app);
        let a = app.clone();
        let (collect, wrong, bad_file, good_file) = tokio::task::spawn_blocking(move || {
            let wrong = steward(&a, &["collect", "github", "--api-url", &base, "--token", "nope"]);
            let collect = steward(&a, &["collect", "github", "--api-url", &base, "--token", "good-token"]);
            let cov = |f: &std::path::Path| {
                steward(&a, &["import", "coverage", "--repo", "acme/core", "--date", "2026-09-30", f.to_str().unwrap()])
            };
            (collect, wrong, cov(&bad), cov(&good))
        })
        .await
        .unwrap();
        let stderr = String::from_utf8_lossy(&wrong.stderr);
        assert!(!wrong.status.success());
        assert!(stderr.contains("steward: GitHub refused the token (401 Bad credentials)"), "{stderr}");
        assert!(collect.status.success(), "{}", String::from_utf8_lossy(&collect.stderr));
        let out = String::from_utf8_lossy(&collect.stdout);
        assert!(out.contains("(resumed): 14 items stored, 1 skipped, 1 observations written"), "{out}");
        // The progress line names the repository and endpoint.
        assert!(String::from_utf8_lossy(&collect.stderr).contains("[1/1] acme/core advisories"));
        assert!(!bad_file.status.success());
        let stderr = String::from_utf8_lossy(&bad_file.stderr);
        assert!(stderr.contains("nothing imported:") && stderr.contains("is not LCOV"), "{stderr}");
        assert!(good_file.status.success(), "{}", String::from_utf8_lossy(&good_file.stderr));
        let table = app
            .with_conn(|conn| serde_json::to_value(service::series_table(conn, &compute_overall(), true).unwrap()).unwrap())
            .await;
        assert_eq!(value_of(&table, "line_coverage", "2026-Q3"), Some(90_000));
    }
}

fn compute_overall() -> steward::community::compute::Scope {
    steward::community::compute::Scope::Overall
}
