//! The soak: `steward serve` as a child process on the demo foundation, loaded by 16 clients (the
//! benchmark's concurrency) in five roles for `STEWARD_SOAK_SECONDS` (30 by default; 300 or more for a long
//! run by hand: `STEWARD_SOAK_SECONDS=600 cargo nextest run soak --no-capture`), on each backend.
//!
//! Representatives edit their organization's profile, send feedback and save survey answers; treasurers
//! post ledger adjustments and record dues payments; the council records metric observations and answers
//! feedback; admins read the audit log and the accounts; the public reads the start page, the transparency
//! page and its feed. Afterwards: no 5xx, every acknowledged write is in the database (counted per kind),
//! `steward check` holds, and the server's memory shows no growth trend (the rule is at [`assert_no_growth`]).

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use diesel::prelude::*;
use serde_json::{json, Value};
use steward::db::schema;

use crate::backend_tests;
use crate::support::serve::Serve;
use crate::support::{api_token_on, TestDb};

fn soak_length() -> Duration {
    let seconds = std::env::var("STEWARD_SOAK_SECONDS").ok().and_then(|s| s.parse::<u64>().ok()).unwrap_or(30);
    Duration::from_secs(seconds.max(10))
}

/// One client: who it is and what it writes.
#[derive(Clone, Debug)]
enum Client {
    Representative { token: String, member_id: i64, survey_token: String, questions: Vec<(i64, String)> },
    Treasurer { token: String, invoice_id: i64 },
    Council { token: String, metric_id: i64, feedback_id: i64 },
    Admin { token: String },
    Public,
}

/// What the clients saw.
#[derive(Default)]
struct Tally {
    requests: usize,
    statuses: BTreeMap<u16, usize>,
    failures: Vec<String>,
    /// Acknowledged writes by kind.
    writes: BTreeMap<&'static str, usize>,
    /// Markers of acknowledged writes that must be stored exactly once (memo, payment reference, note, subject).
    once: Vec<(&'static str, String)>,
    /// The last acknowledged value of something overwritten: (kind, id, value).
    last: BTreeMap<(&'static str, i64), String>,
}

impl Tally {
    fn merge(&mut self, other: Tally) {
        self.requests += other.requests;
        for (s, n) in other.statuses {
            *self.statuses.entry(s).or_default() += n;
        }
        self.failures.extend(other.failures);
        for (k, n) in other.writes {
            *self.writes.entry(k).or_default() += n;
        }
        self.once.extend(other.once);
        self.last.extend(other.last);
    }
}

async fn send(tally: &mut Tally, label: &str, request: reqwest::RequestBuilder, expect: u16) -> bool {
    tally.requests += 1;
    match request.send().await {
        Ok(res) => {
            let status = res.status().as_u16();
            *tally.statuses.entry(status).or_default() += 1;
            if status != expect {
                let body = res.text().await.unwrap_or_default();
                tally.failures.push(format!(
                    "{label}: {status} (expected {expect}): {}",
                    body.chars().take(300).collect::<String>()
                ));
                return false;
            }
            let _ = res.bytes().await;
            true
        }
        Err(e) => {
            tally.failures.push(format!("{label}: no answer: {e}"));
            false
        }
    }
}

async fn run_client(base: String, index: usize, client: Client, stop: Arc<AtomicBool>) -> Tally {
    let http = reqwest::Client::builder().timeout(Duration::from_secs(30)).build().unwrap();
    let url = |p: &str| format!("{base}{p}");
    let mut t = Tally::default();
    let today = chrono::Utc::now().date_naive();
    let mut n = 0usize;
    while !stop.load(Ordering::Relaxed) {
        let mark = format!("soak-{index}-{n}");
        match &client {
            Client::Representative { token, member_id, survey_token, questions } => match n % 5 {
                0 => {
                    let website = format!("https://{mark}.example.org");
                    let req = http
                        .patch(url(&format!("/api/v1/members/{member_id}")))
                        .bearer_auth(token)
                        .json(&json!({"website": website}));
                    if send(&mut t, "edit organization", req, 200).await {
                        *t.writes.entry("organization edits").or_default() += 1;
                        t.last.insert(("website", *member_id), website);
                    }
                }
                1 => {
                    let mut answers = serde_json::Map::new();
                    for (id, kind) in questions {
                        let value = match kind.as_str() {
                            "likert" => json!([(1 + n % 5).to_string()]),
                            "nps" => json!([(n % 11).to_string()]),
                            _ => json!([mark.clone()]),
                        };
                        answers.insert(id.to_string(), value);
                    }
                    let req = http
                        .post(url("/api/v1/survey-answers"))
                        .json(&json!({"token": survey_token, "answers": answers, "submit": false}));
                    if send(&mut t, "survey answer", req, 200).await {
                        *t.writes.entry("survey answers").or_default() += 1;
                        t.last.insert(("survey", index as i64), mark.clone());
                    }
                }
                2 if n % 20 == 2 => {
                    let req = http.post(url("/api/v1/feedback")).bearer_auth(token).json(&json!({"subject": mark, "body": "Sent by the soak.", "priority_id": null, "initiative_id": null}));
                    if send(&mut t, "feedback", req, 201).await {
                        *t.writes.entry("feedback sent").or_default() += 1;
                        t.once.push(("feedback", mark.clone()));
                    }
                }
                3 => {
                    send(
                        &mut t,
                        "own organization",
                        http.get(url(&format!("/api/v1/members/{member_id}"))).bearer_auth(token),
                        200,
                    )
                    .await;
                }
                _ => {
                    send(&mut t, "invoices", http.get(url("/api/v1/invoices")).bearer_auth(token), 200).await;
                }
            },
            Client::Treasurer { token, invoice_id } => match n % 4 {
                0 => {
                    let req = http.post(url("/api/v1/ledger/adjustments")).bearer_auth(token).json(&json!({"entry_date": today.to_string(), "direction": if n.is_multiple_of(8) { "in" } else { "out" }, "amount": "0.75", "currency": "", "memo": mark}));
                    if send(&mut t, "ledger adjustment", req, 201).await {
                        *t.writes.entry("ledger adjustments").or_default() += 1;
                        t.once.push(("memo", mark.clone()));
                    }
                }
                1 => {
                    let req = http
                        .post(url(&format!("/api/v1/invoices/{invoice_id}/payments")))
                        .bearer_auth(token)
                        .json(&json!({"amount": "0.01", "paid_on": today.to_string(), "reference": mark}));
                    if send(&mut t, "dues payment", req, 201).await {
                        *t.writes.entry("dues payments").or_default() += 1;
                        t.once.push(("payment", mark.clone()));
                    }
                }
                2 => {
                    send(&mut t, "balances", http.get(url("/api/v1/ledger/balances")).bearer_auth(token), 200).await;
                }
                _ => {
                    send(&mut t, "treasury", http.get(url("/api/v1/treasury")).bearer_auth(token), 200).await;
                }
            },
            Client::Council { token, metric_id, feedback_id } => match n % 4 {
                0 => {
                    // One observation a day per metric: each client walks back from today on its own metric.
                    let day = today - chrono::Duration::days(n as i64 / 4);
                    let req = http
                        .post(url(&format!("/api/v1/metrics/{metric_id}/observations")))
                        .bearer_auth(token)
                        .json(&json!({"observed_on": day.to_string(), "value": (n % 97).to_string(), "note": mark}));
                    if send(&mut t, "observation", req, 201).await {
                        *t.writes.entry("observations").or_default() += 1;
                        t.once.push(("observation", mark.clone()));
                    }
                }
                1 => {
                    let req = http
                        .post(url(&format!("/api/v1/feedback/{feedback_id}/answer")))
                        .bearer_auth(token)
                        .json(&json!({"status": "answered", "answer": mark, "quotable": false}));
                    if send(&mut t, "feedback answer", req, 200).await {
                        *t.writes.entry("feedback answers").or_default() += 1;
                        t.last.insert(("feedback", *feedback_id), mark.clone());
                    }
                }
                2 => {
                    send(
                        &mut t,
                        "metric",
                        http.get(url(&format!("/api/v1/metrics/{metric_id}"))).bearer_auth(token),
                        200,
                    )
                    .await;
                }
                _ => {
                    send(&mut t, "feedback list", http.get(url("/api/v1/feedback")).bearer_auth(token), 200).await;
                }
            },
            Client::Admin { token } => {
                let path = if n.is_multiple_of(2) { "/api/v1/audit-events" } else { "/api/v1/users" };
                send(&mut t, path, http.get(url(path)).bearer_auth(token), 200).await;
            }
            Client::Public => {
                let path = ["/", "/transparency", "/transparency/feed.atom"][n % 3];
                send(&mut t, path, http.get(url(path)), 200).await;
            }
        }
        n += 1;
    }
    t
}

/// The clients, from the demo foundation: 5 representatives of different organizations, 3 treasurer
/// clients, 3 council clients, 2 admins, 3 public readers.
fn clients(conn: &mut steward::db::DbConn) -> Vec<Client> {
    use schema::{invoices, metrics, outbox, survey_questions, surveys, user_roles, users};
    let with_role = |conn: &mut steward::db::DbConn, role: &str| -> Vec<(i64, Option<i64>, String)> {
        users::table
            .inner_join(user_roles::table)
            .filter(user_roles::role.eq(role))
            .filter(users::status.eq("active"))
            .order(users::id)
            .select((users::id, users::member_id, users::email))
            .load(conn)
            .unwrap()
    };
    let first = |conn: &mut steward::db::DbConn, role: &str| with_role(conn, role).first().map(|u| u.0).expect(role);
    let (treasurer, council, admin) = (first(conn, "treasurer"), first(conn, "council"), first(conn, "admin"));

    // The open survey, its questions that take any draft, and each representative's personal link.
    let survey: i64 =
        surveys::table.filter(surveys::status.eq("open")).select(surveys::id).first(conn).expect("an open survey");
    let questions: Vec<(i64, String)> = survey_questions::table
        .filter(survey_questions::survey_id.eq(survey))
        .filter(survey_questions::kind.eq_any(["likert", "nps", "long_text"]))
        .select((survey_questions::id, survey_questions::kind))
        .load(conn)
        .unwrap();
    let links: Vec<(String, String)> = outbox::table
        .filter(outbox::idempotency_key.like(format!("survey:{survey}:invitation:%")))
        .select((outbox::to_address, outbox::body_text))
        .load(conn)
        .unwrap();
    let mut reps = Vec::new();
    let mut seen_members = std::collections::BTreeSet::new();
    for (_, member, email) in with_role(conn, "member_rep") {
        let Some(member_id) = member else { continue };
        let Some((_, body)) = links.iter().find(|(to, _)| to == &email) else { continue };
        let Some(survey_token) = body.split("/s/").nth(1).and_then(|t| t.split_whitespace().next()) else { continue };
        if seen_members.insert(member_id) {
            reps.push((email, member_id, survey_token.to_string()));
        }
    }
    assert!(reps.len() >= 5, "the demo has five representatives of different organizations with survey links");

    // The invoice with the most left to pay takes the treasurer's cent payments.
    let open: Vec<(i64, i64)> = invoices::table
        .filter(invoices::status.ne("void"))
        .select((invoices::id, invoices::amount_minor))
        .load(conn)
        .unwrap();
    let paid = |conn: &mut steward::db::DbConn, id: i64| -> i64 {
        schema::payments::table
            .filter(schema::payments::invoice_id.eq(id))
            .select(schema::payments::amount_minor)
            .load::<i64>(conn)
            .unwrap()
            .into_iter()
            .sum()
    };
    let invoice_id = open
        .iter()
        .map(|&(id, amount)| (amount - paid(conn, id), id))
        .max()
        .filter(|(left, _)| *left >= 100_000)
        .map(|(_, id)| id)
        .expect("an invoice with at least 1000.00 open");
    let metric_ids: Vec<i64> = metrics::table.order(metrics::id).select(metrics::id).limit(3).load(conn).unwrap();
    assert_eq!(metric_ids.len(), 3);

    let mut out = Vec::new();
    for (email, member_id, survey_token) in reps.into_iter().take(5) {
        let user: i64 = users::table.filter(users::email.eq(&email)).select(users::id).first(conn).unwrap();
        let token = api_token_on(conn, user);
        out.push(Client::Representative { token, member_id, survey_token, questions: questions.clone() });
    }
    for _ in 0..3 {
        out.push(Client::Treasurer { token: api_token_on(conn, treasurer), invoice_id });
    }
    // Each gets its own feedback item to answer once the server runs (`feedback_id` is set then).
    for metric_id in metric_ids {
        out.push(Client::Council { token: api_token_on(conn, council), metric_id, feedback_id: 0 });
    }
    for _ in 0..2 {
        out.push(Client::Admin { token: api_token_on(conn, admin) });
    }
    for _ in 0..3 {
        out.push(Client::Public);
    }
    assert_eq!(out.len(), 16);
    out
}

/// Memory: VmRSS sampled every second. After a warm-up (the first quarter of the run, at least 5 s: pools,
/// caches and the allocator's arenas fill up), the samples are cut in thirds; the last third's mean may not
/// exceed the first third's by more than 10% + 8 MiB. A leak of a few hundred bytes per request (thousands
/// of requests a second here) climbs steadily and fails it; the allocator's step-wise arena growth and
/// page-level noise (a few MiB up and down) do not.
fn assert_no_growth(samples: &[u64], warm_up: usize) -> (f64, f64) {
    let steady = &samples[warm_up.min(samples.len())..];
    assert!(steady.len() >= 6, "too few memory samples: {samples:?}");
    let third = steady.len() / 3;
    let mean = |s: &[u64]| s.iter().sum::<u64>() as f64 / s.len() as f64;
    let (first, last) = (mean(&steady[..third]), mean(&steady[steady.len() - third..]));
    assert!(
        last <= first * 1.10 + 8.0 * 1024.0,
        "memory grows: first third {first:.0} KiB, last third {last:.0} KiB; samples {samples:?}"
    );
    (first, last)
}

backend_tests! {
    async fn soak_mixed_roles_no_errors_no_lost_writes_no_growth(backend) {
        let started = Instant::now();
        let length = soak_length();
        let (test_db, db) = tokio::task::spawn_blocking(move || TestDb::migrated(backend)).await.unwrap();
        let setup = db.clone();
        let mut clients = tokio::task::spawn_blocking(move || {
            let mut conn = setup.get().unwrap();
            steward::demo::seed(&mut conn, "http://127.0.0.1").expect("demo");
            clients(&mut conn)
        })
        .await
        .unwrap();
        let serve = Serve::start(&test_db.url_string(), &[]).await;

        // Each council client gets its own feedback item to answer, sent by a representative through the API.
        let http = reqwest::Client::new();
        let rep_tokens: Vec<String> = clients
            .iter()
            .filter_map(|c| match c {
                Client::Representative { token, .. } => Some(token.clone()),
                _ => None,
            })
            .collect();
        for (i, client) in clients.iter_mut().enumerate() {
            if let Client::Council { feedback_id, .. } = client {
                let res = http
                    .post(serve.url("/api/v1/feedback"))
                    .bearer_auth(&rep_tokens[i % rep_tokens.len()])
                    .json(&json!({"subject": format!("soak question {i}"), "body": "For the council.", "priority_id": null, "initiative_id": null}))
                    .send()
                    .await
                    .unwrap();
                assert_eq!(res.status(), 201);
                let item: Value = res.json().await.unwrap();
                *feedback_id = item["id"].as_i64().expect("feedback id");
            }
        }

        let stop = Arc::new(AtomicBool::new(false));
        let tasks: Vec<_> = clients
            .iter()
            .cloned()
            .enumerate()
            .map(|(i, c)| tokio::spawn(run_client(serve.base.clone(), i, c, stop.clone())))
            .collect();
        let mut samples = Vec::new();
        let load_started = Instant::now();
        while load_started.elapsed() < length {
            tokio::time::sleep(Duration::from_secs(1)).await;
            samples.push(serve.rss_kib().expect("the server's VmRSS"));
        }
        stop.store(true, Ordering::Relaxed);
        let mut tally = Tally::default();
        for task in tasks {
            tally.merge(task.await.unwrap());
        }
        let load_took = load_started.elapsed();
        let peak = serve.peak_kib().unwrap_or(0);
        let mut serve = serve;
        assert!(serve.is_running(), "the server survived the soak");
        serve.stop();

        let server_errors: usize = tally.statuses.iter().filter(|(s, _)| **s >= 500).map(|(_, n)| n).sum();
        assert_eq!(server_errors, 0, "5xx during the soak: {:?}\n{}", tally.statuses, tally.failures.join("\n"));
        assert!(tally.failures.is_empty(), "unexpected answers ({}):\n{}", tally.failures.len(), tally.failures.iter().take(20).cloned().collect::<Vec<_>>().join("\n"));
        for kind in ["organization edits", "survey answers", "ledger adjustments", "dues payments", "observations", "feedback answers"] {
            assert!(tally.writes.get(kind).copied().unwrap_or(0) > 0, "no {kind} during the soak: {:?}", tally.writes);
        }

        // Every acknowledged write is stored: exactly once where each makes a row, as last written where each
        // overwrites one.
        let once = tally.once.clone();
        let last = tally.last.clone();
        // Anonymous answers wait sealed in the pool: the link (with the server's key) reads them back.
        let survey_tokens: std::collections::BTreeMap<i64, String> = clients
            .iter()
            .enumerate()
            .filter_map(|(i, c)| match c {
                Client::Representative { survey_token, .. } => Some((i as i64, survey_token.clone())),
                _ => None,
            })
            .collect();
        tokio::task::spawn_blocking(move || {
            let mut conn = db.get().unwrap();
            let count = |conn: &mut steward::db::DbConn, kind: &str, mark: &str| -> i64 {
                match kind {
                    "memo" => schema::ledger_entries::table.filter(schema::ledger_entries::memo.eq(mark)).count().get_result(conn),
                    "payment" => schema::payments::table.filter(schema::payments::reference.eq(mark)).count().get_result(conn),
                    "observation" => schema::metric_observations::table.filter(schema::metric_observations::note.eq(mark)).count().get_result(conn),
                    "feedback" => schema::feedback_items::table.filter(schema::feedback_items::subject.eq(mark)).count().get_result(conn),
                    other => panic!("unknown kind {other}"),
                }
                .unwrap()
            };
            for (kind, mark) in &once {
                assert_eq!(count(&mut conn, kind, mark), 1, "{kind} {mark}");
            }
            // Nothing stored that no client was told about, for the kinds that make rows.
            let memos: i64 = schema::ledger_entries::table.filter(schema::ledger_entries::memo.like("soak-%")).count().get_result(&mut conn).unwrap();
            let payments: i64 = schema::payments::table.filter(schema::payments::reference.like("soak-%")).count().get_result(&mut conn).unwrap();
            assert_eq!(memos as usize, once.iter().filter(|(k, _)| *k == "memo").count());
            assert_eq!(payments as usize, once.iter().filter(|(k, _)| *k == "payment").count());
            for ((kind, id), value) in &last {
                let stored: i64 = match *kind {
                    "website" => schema::members::table.filter(schema::members::id.eq(id)).filter(schema::members::website.eq(value)).count().get_result(&mut conn),
                    "feedback" => schema::feedback_items::table.filter(schema::feedback_items::id.eq(id)).filter(schema::feedback_items::answer.eq(value)).count().get_result(&mut conn),
                    "survey" => {
                        let key = steward::config::SigningKey(steward::settings::service::secret_key(&mut conn).unwrap());
                        let form = steward::surveys::service::answer_form(&mut conn, &key, &survey_tokens[id]).unwrap();
                        Ok(form.answers.values().filter(|a| serde_json::to_string(a).unwrap().contains(value.as_str())).count() as i64)
                    }
                    other => panic!("unknown kind {other}"),
                }
                .unwrap();
                assert!(stored >= 1, "the last acknowledged {kind} write of {id} ({value}) is not stored");
            }
            let report = steward::check::run(&mut conn).expect("steward check runs");
            let failed: Vec<String> = report.invariants.iter().filter(|i| !i.holds()).map(|i| i.line()).collect();
            assert!(failed.is_empty(), "steward check after the soak:\n{}", failed.join("\n"));
        })
        .await
        .unwrap();

        let warm_up = (samples.len() / 4).max(5);
        let (first, last) = assert_no_growth(&samples, warm_up);
        let writes: usize = tally.writes.values().sum();
        println!(
            "soak ({backend:?}): {:.0} s, 16 clients, {} requests ({:.0}/s), {writes} writes acknowledged and found \
             ({:?}), statuses {:?}; server RSS first {} KiB, last {} KiB, peak {} KiB (VmHWM), steady first-third \
             mean {first:.0} KiB, last-third mean {last:.0} KiB; test {:.1} s",
            load_took.as_secs_f64(),
            tally.requests,
            tally.requests as f64 / load_took.as_secs_f64(),
            tally.writes,
            tally.statuses,
            samples.first().copied().unwrap_or(0),
            samples.last().copied().unwrap_or(0),
            peak,
            started.elapsed().as_secs_f64()
        );
    }
}
