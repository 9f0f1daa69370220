//! Anonymous surveys against someone holding a full copy of the database (every table; SQLite's rowid order,
//! PostgreSQL's ctid and xmin), the delivered mail (a real SMTP server's store) and the audit log, but not
//! `STEWARD_SECRET_KEY`; and against the council reading results after every answer. Several people answer
//! through the links they were emailed; the pool is flushed as the scheduled job does; then everything is read
//! and nothing may tie a response to a person, organization or invitation, or date it finer than a day.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use chrono::NaiveDateTime;
use diesel::prelude::*;
use serde_json::{json, Value};
use steward::accounts::tokens::hash_token;
use steward::accounts::Role;
use steward::config::{Secret, SigningKey};
use steward::db::schema;
use steward::db::DbConn;

use crate::backend_tests;
use crate::support::browser::Browser;
use crate::support::smtp::SmtpServer;
use crate::support::{Backend, TestApp};

const SECRET: &str = "a secret key held outside the database, 48 chars";

async fn call(app: &TestApp, token: &str, method: &str, path: &str, body: Option<Value>) -> (u16, Value) {
    let mut req = reqwest::Client::new().request(method.parse().unwrap(), app.url(path));
    if !token.is_empty() {
        req = req.bearer_auth(token);
    }
    if let Some(b) = body {
        req = req.json(&b);
    }
    let res = req.send().await.unwrap();
    let status = res.status().as_u16();
    (status, res.json().await.unwrap_or(Value::Null))
}

/// The app with its secret key in the environment (outside the database), a council token, two tiers and
/// `tiers.len()` organizations with one representative each: (app, council token, reps (user id, email)).
async fn setup(backend: Backend, tiers: &[&str]) -> (TestApp, String, Vec<(i64, String)>) {
    let app = TestApp::spawn_with(backend, |c| c.secret_key = Some(Secret::new(SECRET.to_string()))).await;
    let council = app.create_user("council@example.org", &[Role::Council], None).await;
    let token = app.api_token_for(council.id).await;
    let treasurer = app.create_user("treasurer@example.org", &[Role::Treasurer], None).await;
    let t = treasurer.id;
    let tier_ids: BTreeMap<String, i64> = app
        .with_conn(move |conn| {
            ["Gold", "Silver"]
                .iter()
                .map(|name| {
                    let input = steward::members::service::TierInput {
                        name: name.to_string(),
                        annual_dues: "1000".into(),
                        currency: "USD".into(),
                        benefits: String::new(),
                    };
                    (name.to_string(), steward::members::service::create_tier(conn, t, &input).unwrap().id)
                })
                .collect()
        })
        .await;
    let mut reps = Vec::new();
    for (o, tier) in tiers.iter().enumerate() {
        let member = app.create_member(&format!("org{o}"), &format!("Org {o}")).await;
        let tier = tier_ids[*tier];
        app.with_conn(move |conn| {
            diesel::update(schema::members::table.find(member))
                .set((schema::members::status.eq("active"), schema::members::tier_id.eq(tier)))
                .execute(conn)
                .unwrap();
        })
        .await;
        let email = format!("rep{o}@example.org");
        let user = app.create_user(&email, &[Role::MemberRep], Some(member)).await;
        reps.push((user.id, email));
    }
    (app, token, reps)
}

/// An anonymous survey per organization with a required likert question and an optional text, opened;
/// (survey id, likert question id, text question id).
async fn open_anonymous(app: &TestApp, council: &str, min: i32) -> (i64, i64, i64) {
    let now = steward::db::now();
    let (status, s) = call(
        app,
        council,
        "POST",
        "/api/v1/surveys",
        Some(json!({"title": "Anonymous pulse", "cycle": "2026-H2",
        "opens_at": (now - chrono::Duration::hours(1)).format("%Y-%m-%dT%H:%M").to_string(),
        "closes_at": (now + chrono::Duration::days(14)).format("%Y-%m-%dT%H:%M").to_string(),
        "audience": "per_organization", "anonymous": true, "min_group_size": min})),
    )
    .await;
    assert_eq!(status, 201, "{s}");
    let id = s["id"].as_i64().unwrap();
    let mut q = Vec::new();
    for (kind, required) in [("likert", true), ("long_text", false)] {
        let (status, body) = call(
            app,
            council,
            "POST",
            &format!("/api/v1/surveys/{id}/questions"),
            Some(json!({"kind": kind, "prompt": format!("A {kind} question"), "required": required})),
        )
        .await;
        assert_eq!(status, 201, "{body}");
        q.push(body["id"].as_i64().unwrap());
    }
    assert_eq!(call(app, council, "POST", &format!("/api/v1/surveys/{id}/open"), None).await.0, 200);
    (id, q[0], q[1])
}

/// The text of a raw message, its parts decoded (quoted-printable or base64).
fn decoded(raw: &str) -> String {
    use base64::Engine;
    let mut out = String::new();
    let raw = raw.replace("\r\n", "\n");
    for part in raw.split("\n--") {
        let (head, body) = part.split_once("\n\n").unwrap_or((part, ""));
        let head = head.to_ascii_lowercase();
        if head.contains("content-transfer-encoding: base64") {
            let joined: String = body.lines().take_while(|l| !l.starts_with("--")).collect();
            if let Ok(bytes) = base64::engine::general_purpose::STANDARD.decode(joined.trim()) {
                out.push_str(&String::from_utf8_lossy(&bytes));
            }
        } else if head.contains("content-transfer-encoding: quoted-printable") {
            let soft = body.replace("=\n", "");
            let mut bytes = Vec::new();
            let b = soft.as_bytes();
            let mut i = 0;
            while i < b.len() {
                if b[i] == b'=' && i + 2 < b.len() {
                    if let Ok(v) = u8::from_str_radix(&soft[i + 1..i + 3], 16) {
                        bytes.push(v);
                        i += 3;
                        continue;
                    }
                }
                bytes.push(b[i]);
                i += 1;
            }
            out.push_str(&String::from_utf8_lossy(&bytes));
        } else {
            out.push_str(body);
        }
        out.push('\n');
    }
    out
}

/// Survey tokens per recipient, read from the mail the SMTP server received.
fn tokens_in_mail(smtp: &SmtpServer) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    for m in smtp.messages() {
        let to = m.header("To").unwrap_or_default();
        let text = decoded(&m.raw);
        if let Some(rest) = text.split("/s/").nth(1) {
            let token: String =
                rest.chars().take_while(|c| c.is_ascii_alphanumeric() || *c == '-' || *c == '_').collect();
            let address = to.rsplit('<').next().unwrap_or(&to).trim_end_matches('>').to_string();
            out.insert(address, token);
        }
    }
    out
}

#[derive(QueryableByName)]
struct Text {
    #[diesel(sql_type = diesel::sql_types::Text)]
    t: String,
}

#[derive(QueryableByName)]
struct Located {
    #[diesel(sql_type = diesel::sql_types::BigInt)]
    id: i64,
    /// ctid on PostgreSQL: read so that rows come in their physical order.
    #[diesel(sql_type = diesel::sql_types::Text)]
    #[allow(dead_code)]
    place: String,
    #[diesel(sql_type = diesel::sql_types::Text)]
    tx: String,
}

/// Every row of every table as one line of text, per table.
fn dump(conn: &mut DbConn) -> BTreeMap<String, Vec<String>> {
    let mut out = BTreeMap::new();
    match conn {
        DbConn::Sqlite(c) => {
            let tables: Vec<Text> = diesel::sql_query(
                "SELECT name AS t FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY name",
            )
            .load(c)
            .unwrap();
            for table in tables {
                let columns: Vec<Text> =
                    diesel::sql_query(format!("SELECT name AS t FROM pragma_table_info('{}')", table.t))
                        .load(c)
                        .unwrap();
                let expr = columns
                    .iter()
                    .map(|col| format!("COALESCE(CAST(\"{}\" AS TEXT), 'NULL')", col.t))
                    .collect::<Vec<_>>()
                    .join(" || '|' || ");
                let rows: Vec<Text> =
                    diesel::sql_query(format!("SELECT {expr} AS t FROM \"{}\"", table.t)).load(c).unwrap();
                out.insert(table.t, rows.into_iter().map(|r| r.t).collect());
            }
        }
        DbConn::Postgres(c) => {
            let tables: Vec<Text> = diesel::sql_query(
                "SELECT table_name::text AS t FROM information_schema.tables \
                 WHERE table_schema = current_schema() AND table_type = 'BASE TABLE' ORDER BY 1",
            )
            .load(c)
            .unwrap();
            for table in tables {
                let rows: Vec<Text> = diesel::sql_query(format!(
                    "SELECT x::text || '|' || x.ctid::text || '|' || x.xmin::text AS t FROM \"{}\" x",
                    table.t
                ))
                .load(c)
                .unwrap();
                out.insert(table.t, rows.into_iter().map(|r| r.t).collect());
            }
        }
    }
    out
}

/// Every date-and-time written in `line` (`2026-12-03 17:50:01.123456`, or with a T).
fn times_in(line: &str) -> Vec<NaiveDateTime> {
    let mut out = Vec::new();
    let b = line.as_bytes();
    let mut i = 0;
    while i + 19 <= line.len() {
        let candidate = &line[i..];
        let looks = b[i].is_ascii_digit()
            && candidate.len() >= 19
            && candidate.as_bytes()[4] == b'-'
            && (candidate.as_bytes()[10] == b' ' || candidate.as_bytes()[10] == b'T')
            && candidate.as_bytes()[13] == b':';
        if looks && candidate.is_char_boundary(19) {
            let end =
                candidate[19..].find(|c: char| !(c.is_ascii_digit() || c == '.')).map_or(candidate.len(), |e| 19 + e);
            let text = candidate[..end].replace('T', " ");
            if let Ok(t) = NaiveDateTime::parse_from_str(&text, "%Y-%m-%d %H:%M:%S%.f") {
                out.push(t);
                i += end;
                continue;
            }
        }
        i += 1;
    }
    out
}

async fn answered(app: &TestApp, council: &str, survey: i64) -> i64 {
    call(app, council, "GET", &format!("/api/v1/surveys/{survey}/results"), None).await.1["answered"].as_i64().unwrap()
}

backend_tests! {
    async fn a_database_reader_with_the_mail_and_audit_log_cannot_tie_an_anonymous_answer_to_anyone(backend) {
        let tiers = ["Gold", "Silver", "Gold", "Silver", "Gold", "Gold", "Silver", "Gold"];
        let (app, council, reps) = setup(backend, &tiers).await;
        let min = 3;
        let (survey, likert, text) = open_anonymous(&app, &council, min).await;
        let smtp = SmtpServer::start();
        assert_eq!(app.deliver_mail_to(&smtp).await.sent, reps.len());
        smtp.wait_for(reps.len(), Duration::from_secs(10)).await;
        let tokens = tokens_in_mail(&smtp);
        assert_eq!(tokens.len(), reps.len(), "every representative got a link: {tokens:?}");
        let key = SigningKey(Secret::new(SECRET.to_string()));

        // People answer in an order that is neither their ids' nor their organizations'. After each answer the
        // pool is flushed (as the scheduled job does) and the council reads the results.
        let order = [5usize, 2, 7, 0, 3, 6, 1, 4];
        let started = steward::db::now();
        let mut seen = vec![0];
        for (n, person) in order.iter().enumerate() {
            let token = &tokens[&reps[*person].1];
            let b = Browser::new(&app.address);
            let (status, page) = b.get(&format!("/s/{token}")).await;
            assert_eq!(status, 200, "{page}");
            if n == 0 {
                // A draft first, changed and then submitted: still one answer.
                let res = b.post(&format!("/s/{token}"), &[(&format!("q{likert}"), "1"), ("action", "save")]).await;
                assert_eq!(res.status(), 303);
            }
            let words = format!("words of person {person}");
            let res = b
                .post(&format!("/s/{token}"), &[(&format!("q{likert}"), &(1 + person % 5).to_string()), (&format!("q{text}"), &words), ("action", "submit")])
                .await;
            assert_eq!(res.status(), 303, "{}", res.text().await.unwrap());
            let k = key.clone();
            app.with_conn(move |c| steward::surveys::pool::flush_all(c, &k).unwrap()).await;
            seen.push(answered(&app, &council, survey).await);
        }
        let finished = steward::db::now();
        assert_eq!(call(&app, &council, "POST", &format!("/api/v1/surveys/{survey}/close"), None).await.0, 200);
        seen.push(answered(&app, &council, survey).await);
        // Results move only in steps of at least the minimum group.
        for step in seen.windows(2) {
            assert!(step[1] == step[0] || step[1] - step[0] >= i64::from(min), "results moved by less than {min}: {seen:?}");
        }
        assert_eq!(seen, vec![0, 0, 0, 0, 0, 0, 3, 3, 3, 8], "a batch of 3 once 6 waited, the rest (5) at close");

        // Which person gave which response, known only to the test (by the words each wrote).
        let responses: Vec<(i64, String)> = app
            .with_conn(move |c| {
                schema::survey_answers::table
                    .filter(schema::survey_answers::question_id.eq(text))
                    .select((schema::survey_answers::response_id, schema::survey_answers::value))
                    .load(c)
                    .unwrap()
            })
            .await;
        assert_eq!(responses.len(), reps.len());
        let person_of: BTreeMap<i64, usize> = responses
            .iter()
            .map(|(id, v)| (*id, v.trim_matches('"').rsplit(' ').next().unwrap().parse().unwrap()))
            .collect();
        let answer_order: Vec<usize> = order.to_vec();

        // 1. The order rows are stored in says nothing.
        let (physical, org_order, invitation_tx, org_tx) = app
            .with_conn(move |c| {
                let physical: Vec<Located>;
                let orgs: Vec<Located>;
                let invitation_tx: Vec<String>;
                match c {
                    DbConn::Sqlite(lite) => {
                        for table in steward::check::ANONYMOUS_TABLES {
                            let err = diesel::sql_query(format!("SELECT rowid AS t FROM {table}")).load::<Text>(lite);
                            assert!(err.is_err(), "{table} has no rowid");
                        }
                        physical = diesel::sql_query(format!("SELECT id, '' AS place, '' AS tx FROM survey_responses WHERE survey_id = {survey}")).load(lite).unwrap();
                        orgs = diesel::sql_query(format!("SELECT member_id AS id, '' AS place, '' AS tx FROM survey_organization_answers WHERE survey_id = {survey}")).load(lite).unwrap();
                        invitation_tx = Vec::new();
                    }
                    DbConn::Postgres(pg) => {
                        physical = diesel::sql_query(format!("SELECT id, ctid::text AS place, xmin::text AS tx FROM survey_responses WHERE survey_id = {survey} ORDER BY ctid")).load(pg).unwrap();
                        orgs = diesel::sql_query(format!("SELECT member_id AS id, ctid::text AS place, xmin::text AS tx FROM survey_organization_answers WHERE survey_id = {survey}")).load(pg).unwrap();
                        invitation_tx = diesel::sql_query(format!("SELECT xmin::text AS t FROM survey_invitations WHERE survey_id = {survey}")).load::<Text>(pg).unwrap().into_iter().map(|t| t.t).collect();
                    }
                }
                let org_tx: Vec<String> = orgs.iter().map(|o| o.tx.clone()).collect();
                (physical, orgs.into_iter().map(|o| o.id).collect::<Vec<_>>(), invitation_tx, org_tx)
            })
            .await;
        let stored_order: Vec<usize> = physical.iter().map(|r| person_of[&r.id]).collect();
        assert_ne!(stored_order, answer_order, "responses are not stored in the order people answered");
        if backend == Backend::Sqlite {
            // Without a rowid, rows lie in key order: random ids for responses, member ids for organizations.
            let ids: Vec<i64> = physical.iter().map(|r| r.id).collect();
            let sorted = { let mut s = ids.clone(); s.sort(); s };
            assert_eq!(ids, sorted, "responses lie in the order of their random ids");
            let mut members = org_order.clone();
            members.sort();
            assert_eq!(org_order, members, "answering organizations lie in member id order, not answer order");
        } else {
            // One transaction per batch: a response's xmin is its batch's, never an answer's or an invitation's.
            let batches: BTreeSet<&str> = physical.iter().map(|r| r.tx.as_str()).collect();
            assert_eq!(batches.len(), 2, "two batches, two transaction ids: {:?}", physical.iter().map(|r| &r.tx).collect::<Vec<_>>());
            for r in &physical {
                assert!(!invitation_tx.contains(&r.tx) && !org_tx.contains(&r.tx), "a response shares a transaction with an answer");
            }
        }

        // 2. Nothing in any table holds a link, the hash of one (but the invitation's own), or a time at which
        //    someone was answering.
        let tables = app.with_conn(dump).await;
        let mut anonymous_rows = 0;
        for (table, rows) in &tables {
            for row in rows {
                for token in tokens.values() {
                    assert!(!row.contains(token.as_str()), "{table} holds a link's token: {row}");
                    assert!(!row.contains(&hash_token(&format!("resume:{token}"))), "{table} holds a resume hash of a link: {row}");
                    if table != "survey_invitations" {
                        assert!(!row.contains(&hash_token(token)), "{table} holds the hash of a link: {row}");
                    }
                }
                for t in times_in(row) {
                    assert!(t < started || t > finished, "{table} holds a time ({t}) from while people answered: {row}");
                }
                if steward::check::ANONYMOUS_TABLES.contains(&table.as_str()) {
                    anonymous_rows += 1;
                    for (_, email) in &reps {
                        assert!(!row.contains(email.as_str()), "{table} names {email}: {row}");
                    }
                }
            }
        }
        assert!(anonymous_rows >= 8 + 16 + 8, "the dump read the anonymous tables");
        assert!(tables["survey_pool"].is_empty(), "the pool is empty once the survey closed");
        let named: i64 = app
            .with_conn(|c| schema::survey_responses::table.filter(schema::survey_responses::user_id.is_not_null().or(schema::survey_responses::member_id.is_not_null())).count().get_result(c).unwrap())
            .await;
        assert_eq!(named, 0, "no response names a user or organization");

        // 3. The audit log has no event for an anonymous answer, and none in the answering window at all.
        let audit: Vec<(NaiveDateTime, Option<i64>, String)> = app
            .with_conn(|c| {
                schema::audit_events::table
                    .select((schema::audit_events::at, schema::audit_events::actor_user_id, schema::audit_events::action))
                    .load(c)
                    .unwrap()
            })
            .await;
        assert!(!audit.iter().any(|(_, _, action)| action.starts_with("survey.answered") || action.starts_with("survey.draft")), "{audit:?}");
        assert!(!audit.iter().any(|(at, _, _)| *at >= started && *at <= finished), "{audit:?}");

        // 4. The delivered mail: every token is in the SMTP store, none in the outbox, and the outbox is redacted.
        let outbox: Vec<(String, String)> = app
            .with_conn(|c| schema::outbox::table.select((schema::outbox::body_text, schema::outbox::body_html)).load(c).unwrap())
            .await;
        assert!(outbox.iter().all(|(t, h)| !steward::mail::outbox::holds_secret_link(t) && !steward::mail::outbox::holds_secret_link(h)));

        // 5. Only the day survives, and `steward check` agrees with all of it.
        let days: Vec<chrono::NaiveDate> =
            app.with_conn(|c| schema::survey_responses::table.select(schema::survey_responses::updated_on).load(c).unwrap()).await;
        assert!(days.iter().all(|d| *d == steward::db::now().date()));
        let report = app.with_conn(|c| steward::check::run(c).unwrap()).await;
        assert!(report.holds(), "{:?}", report.invariants.iter().filter(|i| !i.holds()).collect::<Vec<_>>());

        // 6. A tier is kept only where its group in the batch was large enough.
        let tier_counts: Vec<(Option<i64>, i64)> = app
            .with_conn(|c| {
                use diesel::dsl::count_star;
                schema::survey_responses::table
                    .group_by(schema::survey_responses::tier_id)
                    .select((schema::survey_responses::tier_id, count_star()))
                    .load(c)
                    .unwrap()
            })
            .await;
        assert!(tier_counts.iter().all(|(tier, n)| tier.is_none() || *n >= i64::from(min)), "{tier_counts:?}");
    }

    async fn small_groups_stay_hidden_also_by_subtraction_and_small_tiers_lose_their_tier(backend) {
        // Four Gold organizations and two Silver; the minimum group is 3.
        let (app, council, reps) = setup(backend, &["Gold", "Gold", "Gold", "Gold", "Silver", "Silver"]).await;
        let submit = |app: &TestApp, token: String, body: Value| {
            let url = app.url("/api/v1/survey-answers");
            async move {
                let res = reqwest::Client::new().post(url).json(&json!({"token": token, "answers": body, "submit": true})).send().await.unwrap();
                assert_eq!(res.status(), 200);
            }
        };

        // Two answers (one Gold, one Silver): nothing is counted while open, and at close the two are fewer
        // than the minimum: the survey shows no results, and neither keeps its tier.
        let (first, likert, text) = open_anonymous(&app, &council, 3).await;
        let smtp = SmtpServer::start();
        app.deliver_mail_to(&smtp).await;
        smtp.wait_for(reps.len(), Duration::from_secs(10)).await;
        let tokens = tokens_in_mail(&smtp);
        for (i, likert_value) in [(0usize, 5), (4, 1)] {
            submit(&app, tokens[&reps[i].1].clone(), json!({likert.to_string(): [likert_value.to_string()]})).await;
            let r = call(&app, &council, "GET", &format!("/api/v1/surveys/{first}/results"), None).await.1;
            assert_eq!((r["answered"].as_i64(), r["withheld"].as_bool()), (Some(0), Some(true)), "{r}");
        }
        let (config, db) = (app.config.clone(), app.db.clone());
        let key = tokio::task::spawn_blocking(move || steward::app::signing_key(&config, &db).unwrap()).await.unwrap();
        let run = steward::jobs::run_once(&app.config, &app.db, &key).await.unwrap();
        assert_eq!(run.survey_answers_counted, 0, "two waiting are fewer than twice the minimum");
        assert_eq!(call(&app, &council, "POST", &format!("/api/v1/surveys/{first}/close"), None).await.0, 200);
        let r = call(&app, &council, "GET", &format!("/api/v1/surveys/{first}/results"), None).await.1;
        assert_eq!((r["answered"].as_i64(), r["withheld"].as_bool()), (Some(2), Some(true)), "{r}");
        let likert_result = &r["questions"][0];
        assert!(likert_result["summary"].is_null() && likert_result["distribution"] == json!([]), "{likert_result}");
        assert!(r["by_tier"].as_array().unwrap().iter().all(|t| t["answered"].is_null()), "{r}");
        let council_user = app.create_user("council2@example.org", &[Role::Council], None).await;
        let cb = app.browser_signed_in(&council_user).await;
        let (_, page) = cb.get(&format!("/surveys/{first}/results")).await;
        assert!(page.contains("no results are shown yet"), "{page}");
        let csv = cb.client.get(cb.url(&format!("/surveys/{first}/results.csv"))).send().await.unwrap().text().await.unwrap();
        assert!(!csv.contains("mean") && !csv.contains("count:"), "{csv}");
        let tiers_of_first: Vec<Option<i64>> = app
            .with_conn(move |c| schema::survey_responses::table.filter(schema::survey_responses::survey_id.eq(first)).select(schema::survey_responses::tier_id).load(c).unwrap())
            .await;
        assert_eq!(tiers_of_first, vec![None, None], "a tier of one in its batch is not kept");

        // Five answers (four Gold, one Silver), one of them with a text: Gold's tier is kept and Silver's
        // dropped; but Gold's four shown beside the total of five would give the fifth away, so no tier is shown.
        let (second, likert, text2) = open_anonymous(&app, &council, 3).await;
        let _ = text;
        let before = smtp.messages().len();
        app.deliver_mail_to(&smtp).await;
        smtp.wait_for(before + reps.len(), Duration::from_secs(10)).await;
        let tokens: BTreeMap<String, String> = {
            let mut latest = BTreeMap::new();
            for m in smtp.messages().into_iter().skip(before) {
                let to = m.header("To").unwrap_or_default();
                let body = decoded(&m.raw);
                if let Some(rest) = body.split("/s/").nth(1) {
                    let token: String = rest.chars().take_while(|c| c.is_ascii_alphanumeric() || *c == '-' || *c == '_').collect();
                    latest.insert(to.rsplit('<').next().unwrap_or(&to).trim_end_matches('>').to_string(), token);
                }
            }
            latest
        };
        for (i, v) in [(0usize, 5), (1, 4), (2, 4), (3, 2), (4, 1)] {
            let mut body = json!({likert.to_string(): [v.to_string()]});
            if i == 0 {
                body[text2.to_string()] = json!(["only one person wrote this"]);
            }
            submit(&app, tokens[&reps[i].1].clone(), body).await;
        }
        assert_eq!(call(&app, &council, "POST", &format!("/api/v1/surveys/{second}/close"), None).await.0, 200);
        let tiers: Vec<Option<i64>> = app
            .with_conn(move |c| schema::survey_responses::table.filter(schema::survey_responses::survey_id.eq(second)).select(schema::survey_responses::tier_id).load(c).unwrap())
            .await;
        assert_eq!(tiers.iter().filter(|t| t.is_some()).count(), 4, "Gold's four keep their tier: {tiers:?}");
        assert_eq!(tiers.iter().filter(|t| t.is_none()).count(), 1, "Silver's one loses it");
        let r = call(&app, &council, "GET", &format!("/api/v1/surveys/{second}/results"), None).await.1;
        assert_eq!((r["answered"].as_i64(), r["withheld"].as_bool()), (Some(5), Some(false)));
        assert_eq!(r["questions"][0]["summary"], json!({"count": 5, "mean": 3.2, "median": 4.0}));
        assert!(r["by_tier"].as_array().unwrap().iter().all(|t| t["answered"].is_null()), "Gold's 4 of 5 would reveal the other one: {r}");
        assert_eq!(r["questions"][0]["by_tier"], json!([]));
        let text_result = &r["questions"][1];
        assert_eq!((text_result["answered"].as_i64(), text_result["withheld"].as_bool()), (Some(1), Some(true)));
        assert_eq!(text_result["texts"], json!([]), "a question one person answered shows nothing of it");
        let (_, page) = cb.get(&format!("/surveys/{second}/results")).await;
        assert!(!page.contains("only one person wrote this") && page.contains("nothing more is shown"), "{page}");
    }
}
