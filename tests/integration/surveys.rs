//! Surveys through the front door: drafting, opening (a personal link per representative through the
//! outbox), answering by link with every kind of bad input refused, drafts and changes until close, one
//! answer per organization (also under concurrent submissions), anonymity proved by inspecting the database,
//! results arithmetic by hand, minimum group size, and survey-fed metrics on close.

use diesel::prelude::*;
use serde_json::{json, Value};
use steward::accounts::Role;
use steward::db::schema;

use crate::backend_tests;
use crate::support::browser::Browser;
use crate::support::TestApp;

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

/// The world a survey needs: two tiers, organizations with representatives, two priorities, a council token.
struct World {
    app: TestApp,
    council: String,
    /// (user id, email, member id)
    reps: Vec<(i64, String, i64)>,
    gold: i64,
}

async fn world(backend: crate::support::Backend, orgs: usize, reps_per_org: usize) -> World {
    let app = TestApp::spawn(backend).await;
    let council = app.create_user("council@example.org", &[Role::Council], None).await;
    let token = app.api_token_for(council.id).await;
    let treasurer = app.create_user("treasurer@example.org", &[Role::Treasurer], None).await;
    let t = treasurer.id;
    let (gold, silver) = app
        .with_conn(move |conn| {
            for (slug, title) in [("people", "People"), ("software", "Software")] {
                let input = steward::funding::service::PriorityInput {
                    slug: slug.into(),
                    title: title.into(),
                    summary: String::new(),
                    outcomes: vec![],
                };
                steward::funding::service::create_priority(conn, steward::audit::Actor::Cli, &input).unwrap();
            }
            let mut tier = |name: &str| {
                let input = steward::members::service::TierInput {
                    name: name.into(),
                    annual_dues: "1000".into(),
                    currency: "USD".into(),
                    benefits: String::new(),
                };
                steward::members::service::create_tier(conn, t, &input).unwrap().id
            };
            (tier("Gold"), tier("Silver"))
        })
        .await;
    let mut reps = Vec::new();
    for o in 0..orgs {
        let member = app.create_member(&format!("org{o}"), &format!("Org {o}")).await;
        let tier = if o < 2 { gold } else { silver };
        app.with_conn(move |conn| {
            diesel::update(schema::members::table.find(member))
                .set((schema::members::status.eq("active"), schema::members::tier_id.eq(tier)))
                .execute(conn)
                .unwrap();
        })
        .await;
        for r in 0..reps_per_org {
            let email = format!("rep{o}-{r}@example.org");
            let user = app.create_user(&email, &[Role::MemberRep], Some(member)).await;
            reps.push((user.id, email, member));
        }
    }
    World { app, council: token, reps, gold }
}

/// A survey with one question of every kind, opened; its question ids in order.
async fn open_survey(w: &World, anonymous: bool, audience: &str) -> (i64, Vec<i64>) {
    let now = steward::db::now();
    let (status, s) = call(
        &w.app,
        &w.council,
        "POST",
        "/api/v1/surveys",
        Some(json!({"title": "Member survey", "cycle": "2026-H2",
        "opens_at": (now - chrono::Duration::hours(1)).format("%Y-%m-%dT%H:%M").to_string(),
        "closes_at": (now + chrono::Duration::days(14)).format("%Y-%m-%dT%H:%M").to_string(),
        "audience": audience, "anonymous": anonymous, "min_group_size": 2})),
    )
    .await;
    assert_eq!(status, 201, "{s}");
    let id = s["id"].as_i64().unwrap();
    let mut questions = Vec::new();
    for (kind, prompt, options, required) in [
        ("likert", "Membership is worth its dues", vec![], true),
        ("nps", "How likely are you to recommend membership?", vec![], true),
        ("single", "Main use", vec!["Research", "Teaching", "Industry"], false),
        ("multi", "Which subprojects do you use?", vec!["JupyterLab", "Notebook", "Hub"], false),
        ("ranking", "Rank these needs", vec!["Docs", "Speed", "Security"], false),
        ("points", "Spread 100 points", vec![], false),
        ("number", "How many users do you have?", vec![], false),
        ("short_text", "One word for the software", vec![], false),
        ("long_text", "What should we change?", vec![], false),
    ] {
        let (status, q) = call(
            &w.app,
            &w.council,
            "POST",
            &format!("/api/v1/surveys/{id}/questions"),
            Some(json!({"kind": kind, "prompt": prompt, "options": options, "required": required})),
        )
        .await;
        assert_eq!(status, 201, "{kind}: {q}");
        questions.push(q["id"].as_i64().unwrap());
    }
    let (status, opened) = call(&w.app, &w.council, "POST", &format!("/api/v1/surveys/{id}/open"), None).await;
    assert_eq!(status, 200, "{opened}");
    (id, questions)
}

/// The personal link token emailed to `email`.
async fn link_of(app: &TestApp, email: &str) -> String {
    let link = app.last_link_to(email).await;
    link.rsplit("/s/").next().unwrap().to_string()
}

/// A complete set of answers: likert, nps, single, multi, ranking (ranks per option), points, number, texts.
fn answers(q: &[i64], likert: i64, nps: i64, ranks: [i64; 3], points: [i64; 2]) -> Value {
    json!({
        q[0].to_string(): [likert.to_string()],
        q[1].to_string(): [nps.to_string()],
        q[2].to_string(): ["1"],
        q[3].to_string(): ["0", "2"],
        q[4].to_string(): ranks.iter().map(|r| r.to_string()).collect::<Vec<_>>(),
        q[5].to_string(): points.iter().map(|p| p.to_string()).collect::<Vec<_>>(),
        q[6].to_string(): ["1200.5"],
        q[7].to_string(): ["fast"],
        q[8].to_string(): [format!("More docs, please ({likert})")],
    })
}

backend_tests! {
    async fn answering_by_link_refuses_bad_input_keeps_drafts_and_allows_changes_until_close(backend) {
        let w = world(backend, 2, 2).await;
        let (survey, q) = open_survey(&w, true, "per_organization").await;
        let messages = w.app.outbox().await;
        assert_eq!(messages.iter().filter(|m| m.1.contains("Member survey")).count(), 4, "each representative is invited");
        let token = link_of(&w.app, &w.reps[0].1).await;

        // The link's page works without signing in and says what is stored.
        let b = Browser::new(&w.app.address);
        let (status, page) = b.get(&format!("/s/{token}")).await;
        assert_eq!(status, 200);
        assert!(page.contains("This survey is anonymous") && page.contains("Membership is worth its dues"));
        assert_eq!(b.get("/s/not-a-real-token").await.0, 404);

        // Bad input: each answer named, nothing written.
        for (bad, field) in [
            (answers(&q, 6, 9, [1, 2, 3], [50, 50]), q[0]),
            (answers(&q, 4, 11, [1, 2, 3], [50, 50]), q[1]),
            (answers(&q, 4, 9, [1, 1, 3], [50, 50]), q[4]),
            (answers(&q, 4, 9, [1, 2, 3], [60, 30]), q[5]),
        ] {
            let (status, problem) = call(&w.app, "", "POST", "/api/v1/survey-answers", Some(json!({"token": token, "answers": bad, "submit": true}))).await;
            assert_eq!(status, 422);
            assert_eq!(fields(&problem), vec![format!("q{field}")], "{problem}");
        }
        let (status, problem) = call(&w.app, "", "POST", "/api/v1/survey-answers", Some(json!({"token": token, "answers": {}, "submit": true}))).await;
        assert_eq!(status, 422, "required questions");
        assert_eq!(fields(&problem), vec![format!("q{}", q[0]), format!("q{}", q[1])]);
        let rows: i64 = w.app.with_conn(|c| schema::survey_responses::table.count().get_result(c).unwrap()).await;
        assert_eq!(rows, 0, "nothing written");

        // A draft may be partial; the page shows it again; submitting completes it.
        let (_, page) = b.get(&format!("/s/{token}")).await;
        let _ = page;
        let res = b.post(&format!("/s/{token}"), &[(&format!("q{}", q[0]), "4"), ("action", "save")]).await;
        assert_eq!(res.status(), 303);
        let (_, page) = b.get(&format!("/s/{token}")).await;
        assert!(page.contains("You have a saved draft") && page.contains(&format!("name=\"q{}\" value=\"4\" checked", q[0])), "{page}");
        let res = b.post(&format!("/s/{token}"), &[(&format!("q{}", q[1]), "12"), ("action", "submit")]).await;
        assert_eq!(res.status(), 422, "the page names the bad answer");
        assert!(res.text().await.unwrap().contains(&format!("id=\"q{}-error\"", q[1])));
        let (status, body) = call(&w.app, "", "POST", "/api/v1/survey-answers", Some(json!({"token": token, "answers": answers(&q, 4, 9, [1, 2, 3], [70, 30]), "submit": true}))).await;
        assert_eq!((status, body["status"].as_str()), (200, Some("submitted")));
        // Changing the answer replaces it; still one answer, waiting in the pool (anonymous), none counted yet.
        let (status, _) = call(&w.app, "", "POST", "/api/v1/survey-answers", Some(json!({"token": token, "answers": answers(&q, 5, 10, [1, 2, 3], [70, 30]), "submit": true}))).await;
        assert_eq!(status, 200);
        let rows: (i64, i64) = w.app.with_conn(|c| (schema::survey_pool::table.count().get_result(c).unwrap(), schema::survey_responses::table.count().get_result(c).unwrap())).await;
        assert_eq!(rows, (1, 0));
        // The second representative of the same organization cannot answer again.
        let other = link_of(&w.app, &w.reps[1].1).await;
        let (status, problem) = call(&w.app, "", "POST", "/api/v1/survey-answers", Some(json!({"token": other, "answers": answers(&q, 1, 0, [3, 2, 1], [10, 90]), "submit": true}))).await;
        assert_eq!(status, 409);
        assert!(problem["detail"].as_str().unwrap().contains("already answered"));
        // Questions are fixed once open.
        let (status, _) = call(&w.app, &w.council, "POST", &format!("/api/v1/surveys/{survey}/questions"), Some(json!({"kind": "nps", "prompt": "Late?"}))).await;
        assert_eq!(status, 409);
        // After close the link answers no more, and nothing is overwritten.
        assert_eq!(call(&w.app, &w.council, "POST", &format!("/api/v1/surveys/{survey}/close"), None).await.0, 200);
        let (status, problem) = call(&w.app, "", "POST", "/api/v1/survey-answers", Some(json!({"token": token, "answers": answers(&q, 1, 0, [3, 2, 1], [10, 90]), "submit": true}))).await;
        assert_eq!(status, 409);
        assert!(problem["detail"].as_str().unwrap().contains("closed"));
        let results = call(&w.app, &w.council, "GET", &format!("/api/v1/surveys/{survey}/results"), None).await.1;
        assert_eq!((results["answered"].as_i64(), results["withheld"].as_bool()), (Some(1), Some(true)), "one answer is under the minimum of 2: {results}");
        assert!(results["questions"][0]["summary"].is_null() && results["questions"][0]["withheld"] == true);
        let stored: Vec<String> = w.app.with_conn(move |c| schema::survey_answers::table.filter(schema::survey_answers::question_id.eq(q[0])).select(schema::survey_answers::value).load(c).unwrap()).await;
        assert_eq!(stored, vec!["5".to_string()], "the changed answer counts, once, moved from the pool at close");
        assert_eq!(w.app.with_conn(|c| schema::survey_pool::table.count().get_result::<i64>(c).unwrap()).await, 0);
        let (_, page) = b.get(&format!("/s/{token}")).await;
        assert!(page.contains("have been counted with others") && !page.contains("value=\"5\" checked"), "counted answers are not shown again: {page}");
    }

    async fn an_anonymous_response_cannot_be_traced_to_a_person_or_organization(backend) {
        let w = world(backend, 3, 1).await;
        let (survey, q) = open_survey(&w, true, "per_person").await;
        for (i, (_, email, _)) in w.reps.iter().enumerate() {
            let token = link_of(&w.app, email).await;
            let (status, _) = call(&w.app, "", "POST", "/api/v1/survey-answers", Some(json!({"token": token, "answers": answers(&q, 3 + i as i64 % 3, 8, [1, 2, 3], [50, 50]), "submit": true}))).await;
            assert_eq!(status, 200);
        }
        assert_eq!(call(&w.app, &w.council, "POST", &format!("/api/v1/surveys/{survey}/close"), None).await.0, 200, "closing counts the pooled answers");
        let reps = w.reps.clone();
        let (responses, answers_text, invitations, audit) = w.app.with_conn(move |c| {
            use schema::{audit_events, survey_answers, survey_invitations, survey_responses};
            type Row = (i64, Option<i64>, Option<i64>, String, chrono::NaiveDate);
            let responses: Vec<Row> = survey_responses::table
                .select((survey_responses::id, survey_responses::user_id, survey_responses::member_id, survey_responses::resume_hash, survey_responses::updated_on))
                .load(c).unwrap();
            let answers: Vec<String> = survey_answers::table.select(survey_answers::value).load(c).unwrap();
            let invitations: Vec<(String, bool)> = survey_invitations::table.select((survey_invitations::token_hash, survey_invitations::used)).load(c).unwrap();
            let audit: Vec<(Option<i64>, String, String)> = audit_events::table
                .filter(audit_events::action.like("survey.answered%").or(audit_events::action.like("survey.draft%")))
                .select((audit_events::actor_user_id, audit_events::actor_label, audit_events::details)).load(c).unwrap();
            let _ = reps;
            (responses, answers, invitations, audit)
        }).await;
        assert_eq!(responses.len(), 3);
        for (id, user, member, resume, _) in &responses {
            assert_eq!((user, member), (&None, &None), "no person or organization on the response");
            assert!(!invitations.iter().any(|(h, _)| h == resume), "the response's key is not the invitation's");
            assert!(!w.reps.iter().any(|(u, _, m)| id == u || id == m), "ids say nothing");
        }
        let mut ids: Vec<i64> = responses.iter().map(|r| r.0).collect();
        assert!(ids.windows(2).any(|p| p[1] != p[0] + 1) || { ids.sort(); ids.windows(2).any(|p| p[1] != p[0] + 1) }, "ids are not a sequence");
        assert!(invitations.iter().all(|(_, used)| *used), "the invitation records only that it was used");
        assert!(!answers_text.iter().any(|a| w.reps.iter().any(|(_, email, _)| a.contains(email.as_str()))));
        assert!(audit.is_empty(), "an anonymous answer writes no timed event: {audit:?}");
        // No column of the responses table holds a time finer than a day.
        let columns = w.app.with_conn(|c| {
            #[derive(QueryableByName)]
            struct Col { #[diesel(sql_type = diesel::sql_types::Text)] name: String, #[diesel(sql_type = diesel::sql_types::Text)] kind: String }
            let sql = match c {
                steward::db::DbConn::Sqlite(_) => "SELECT name, type AS kind FROM pragma_table_info('survey_responses')",
                steward::db::DbConn::Postgres(_) => "SELECT column_name AS name, data_type AS kind FROM information_schema.columns WHERE table_name = 'survey_responses'",
            };
            diesel::sql_query(sql).load::<Col>(c).unwrap().into_iter().map(|c| (c.name, c.kind.to_lowercase())).collect::<Vec<_>>()
        }).await;
        assert!(!columns.iter().any(|(_, kind)| kind.contains("timestamp")), "{columns:?}");
        let results = call(&w.app, &w.council, "GET", &format!("/api/v1/surveys/{survey}/results"), None).await.1;
        assert_eq!(results["answered"], 3);
        let council = w.app.create_user("council2@example.org", &[Role::Council], None).await;
        let cb = w.app.browser_signed_in(&council).await;
        let res = cb.client.get(cb.url(&format!("/surveys/{survey}/responses.csv"))).send().await.unwrap();
        assert_eq!(res.status(), 409, "an anonymous survey has no answers to export one by one");
    }

    async fn results_add_up_by_hand_and_small_groups_stay_hidden(backend) {
        let w = world(backend, 5, 1).await;
        let (survey, q) = open_survey(&w, false, "per_organization").await;
        // Five organizations: Gold are org0 and org1, Silver org2..org4. Minimum group size is 2.
        let plan: [(i64, i64, [i64; 3], [i64; 2]); 4] = [
            (5, 10, [1, 2, 3], [80, 20]),
            (4, 9, [2, 1, 3], [60, 40]),
            (2, 6, [1, 3, 2], [50, 50]),
            (3, 0, [3, 2, 1], [30, 70]),
        ];
        // org0 (Gold) and org2, org3, org4 (Silver) answer: Gold has one answer, under the minimum of 2.
        for (i, rep) in [0usize, 2, 3, 4].iter().enumerate() {
            let token = link_of(&w.app, &w.reps[*rep].1).await;
            let (likert, nps, ranks, points) = plan[i];
            let (status, body) = call(&w.app, "", "POST", "/api/v1/survey-answers", Some(json!({"token": token, "answers": answers(&q, likert, nps, ranks, points), "submit": true}))).await;
            assert_eq!(status, 200, "{body}");
        }
        let r = call(&w.app, &w.council, "GET", &format!("/api/v1/surveys/{survey}/results"), None).await.1;
        assert_eq!((r["invited"].as_i64(), r["answered"].as_i64(), r["response_rate"].as_f64()), (Some(5), Some(4), Some(80.0)));
        let tiers = r["by_tier"].as_array().unwrap();
        let gold = tiers.iter().find(|t| t["tier"] == "Gold").unwrap();
        assert_eq!((gold["invited"].as_i64(), gold["answered"].is_null()), (Some(2), true), "one Gold answer is not shown apart");
        let silver = tiers.iter().find(|t| t["tier"] == "Silver").unwrap();
        assert!(silver["answered"].is_null(), "Silver's 3 would give Gold's 1 away by subtraction from the 4: {silver}");
        let likert = &r["questions"][0];
        assert_eq!(likert["summary"], json!({"count": 4, "mean": 3.5, "median": 3.5}));
        assert_eq!(likert["distribution"][1], json!(["Disagree", 1]));
        assert_eq!(likert["by_tier"], json!([]), "Gold's mean would reveal one organization's answer, and so would Silver's beside the overall mean");
        // NPS: promoters 10 and 9, detractors 6 and 0, of 4: 50% - 50% = 0.
        assert_eq!(r["questions"][1]["nps"], json!({"count": 4, "promoters": 2, "passives": 0, "detractors": 2, "score": 0.0}));
        // Ranking (ranks per option Docs, Speed, Security): Docs ranks 1, 2, 1, 3 -> mean 1.75, first for 2 of 4.
        let ranking = r["questions"][4]["ranking"].as_array().unwrap();
        assert_eq!(ranking[0], json!({"option": "Docs", "mean_rank": 1.75, "first_share": 50.0}));
        assert_eq!(ranking[1], json!({"option": "Speed", "mean_rank": 2.0, "first_share": 25.0}));
        assert_eq!(ranking[2], json!({"option": "Security", "mean_rank": 2.25, "first_share": 25.0}));
        // Points: People 80, 60, 50, 30 -> 55%; Software 45%.
        let points = r["questions"][5]["points"].as_array().unwrap();
        assert_eq!((points[0][0].as_str(), points[0][1].as_f64()), (Some("People"), Some(55.0)));
        assert_eq!(points[1][1], 45.0);
        assert_eq!(r["questions"][6]["summary"]["mean"], 1200.5);
        // A named survey lists its texts in order.
        assert_eq!(r["questions"][8]["texts"].as_array().unwrap().len(), 4);
        let b = Browser::new(&w.app.address);
        let council = w.app.create_user("council2@example.org", &[Role::Council], None).await;
        let _ = b;
        let cb = w.app.browser_signed_in(&council).await;
        let (status, page) = cb.get(&format!("/surveys/{survey}/results")).await;
        assert_eq!(status, 200);
        assert!(page.contains("Net promoter score") && page.contains("fewer than 2") && page.contains("<svg"), "{page}");
        let csv = cb.client.get(cb.url(&format!("/surveys/{survey}/results.csv"))).send().await.unwrap().text().await.unwrap();
        assert!(csv.contains("How likely are you to recommend membership?,nps,nps,0,4") && csv.contains("mean rank: Docs,1.75"), "{csv}");
        let raw = cb.client.get(cb.url(&format!("/surveys/{survey}/responses.csv"))).send().await.unwrap();
        assert_eq!(raw.status(), 200, "a named survey exports its answers");
        assert!(raw.text().await.unwrap().contains("Org 0,rep0-0@example.org,Membership is worth its dues,5"));
        let _ = w.gold;
    }

    async fn concurrent_submissions_of_one_link_make_one_response(backend) {
        let w = world(backend, 1, 2).await;
        let (_, q) = open_survey(&w, true, "per_organization").await;
        let token = link_of(&w.app, &w.reps[0].1).await;
        let other = link_of(&w.app, &w.reps[1].1).await;
        let mut handles = Vec::new();
        for i in 0..6 {
            let (url, tok) = (w.app.url("/api/v1/survey-answers"), if i % 2 == 0 { token.clone() } else { other.clone() });
            let body = json!({"token": tok, "answers": answers(&q, 4, 9, [1, 2, 3], [50, 50]), "submit": true});
            handles.push(tokio::spawn(async move {
                reqwest::Client::new().post(url).json(&body).send().await.unwrap().status().as_u16()
            }));
        }
        let mut statuses = Vec::new();
        for h in handles {
            statuses.push(h.await.unwrap());
        }
        let rows: i64 = w.app.with_conn(|c| schema::survey_pool::table.count().get_result(c).unwrap()).await;
        assert_eq!(rows, 1, "one organization, one answer (waiting in the pool): {statuses:?}");
        assert!(statuses.iter().all(|s| *s == 200 || *s == 409), "{statuses:?}");
        assert_eq!(statuses.iter().filter(|s| **s == 200).count(), 3, "one link's three submissions succeed: {statuses:?}");
    }

    async fn closing_a_survey_feeds_its_metrics(backend) {
        let w = world(backend, 2, 1).await;
        let (survey, q) = open_survey(&w, true, "per_organization").await;
        let today = steward::db::now().date();
        let (status, m) = call(&w.app, &w.council, "POST", "/api/v1/metrics", Some(json!({"slug": "member-value", "name": "Members who find value",
            "unit": "percent", "direction": "higher", "baseline": "60", "baseline_on": (today - chrono::Duration::days(200)).to_string(),
            "target": "80", "target_on": (today + chrono::Duration::days(200)).to_string(), "source": "survey", "survey_question_id": q[0],
            "survey_aggregate": "share_agreeing", "expected_interval_days": 200}))).await;
        assert_eq!(status, 201, "{m}");
        let (status, bad) = call(&w.app, &w.council, "POST", "/api/v1/metrics", Some(json!({"slug": "x", "name": "x", "unit": "percent", "direction": "higher",
            "baseline": "1", "baseline_on": today.to_string(), "target": "2", "target_on": (today + chrono::Duration::days(2)).to_string(),
            "source": "survey", "survey_question_id": q[7], "survey_aggregate": "mean", "expected_interval_days": 10}))).await;
        assert_eq!((status, fields(&bad)), (422, vec!["survey_question_id".to_string()]), "a text question feeds no metric");
        for (rep, likert) in [(0usize, 5), (1, 2)] {
            let token = link_of(&w.app, &w.reps[rep].1).await;
            call(&w.app, "", "POST", "/api/v1/survey-answers", Some(json!({"token": token, "answers": answers(&q, likert, 9, [1, 2, 3], [50, 50]), "submit": true}))).await;
        }
        let (status, closed) = call(&w.app, &w.council, "POST", &format!("/api/v1/surveys/{survey}/close"), None).await;
        assert_eq!((status, closed["count"].as_i64()), (200, Some(1)));
        let detail = call(&w.app, &w.council, "GET", &format!("/api/v1/metrics/{}", m["id"]), None).await.1;
        let obs = &detail["observations"][0];
        assert_eq!((obs["value_milli"].as_i64(), obs["source"].as_str(), obs["source_label"].as_str()), (Some(50_000), Some("survey"), Some("2026-H2")), "1 of 2 agrees: 50%");
        assert_eq!(call(&w.app, &w.council, "POST", &format!("/api/v1/surveys/{survey}/close"), None).await.0, 409, "closed once");
    }

    async fn reminders_reach_only_those_who_have_not_answered_and_a_lost_link_can_be_replaced(backend) {
        let w = world(backend, 3, 1).await;
        let now = steward::db::now();
        let (_, s) = call(&w.app, &w.council, "POST", "/api/v1/surveys", Some(json!({"title": "Quick poll", "cycle": "2026-Q4",
            "opens_at": (now - chrono::Duration::hours(1)).format("%Y-%m-%dT%H:%M").to_string(),
            "closes_at": (now + chrono::Duration::days(3)).format("%Y-%m-%dT%H:%M").to_string(),
            "audience": "per_organization", "anonymous": true, "reminder_days": [7, 1]}))).await;
        let id = s["id"].as_i64().unwrap();
        let (_, q) = call(&w.app, &w.council, "POST", &format!("/api/v1/surveys/{id}/questions"), Some(json!({"kind": "nps", "prompt": "Recommend?", "required": true}))).await;
        let q = q["id"].as_i64().unwrap();
        call(&w.app, &w.council, "POST", &format!("/api/v1/surveys/{id}/open"), None).await;
        // The first representative answers; the other two do not.
        let first = link_of(&w.app, &w.reps[0].1).await;
        call(&w.app, "", "POST", "/api/v1/survey-answers", Some(json!({"token": first, "answers": {q.to_string(): ["9"]}, "submit": true}))).await;
        let old = link_of(&w.app, &w.reps[1].1).await;
        let (config, db) = (w.app.config.clone(), w.app.db.clone());
        let key = tokio::task::spawn_blocking(move || steward::app::signing_key(&config, &db).unwrap()).await.unwrap();
        let run = steward::jobs::run_once(&w.app.config, &w.app.db, &key).await.unwrap();
        assert_eq!(run.survey_reminders, 2, "the 7-day reminder is due (closing in 3 days); the 1-day one is not yet");
        assert_eq!(steward::jobs::run_once(&w.app.config, &w.app.db, &key).await.unwrap().survey_reminders, 0, "once");
        let outbox = w.app.outbox().await;
        assert!(outbox.iter().any(|m| m.0 == w.reps[1].1 && m.1.starts_with("Reminder:")));
        assert!(!outbox.iter().any(|m| m.0 == w.reps[0].1 && m.1.starts_with("Reminder:")), "who answered is not reminded");
        assert_eq!(Browser::new(&w.app.address).get(&format!("/s/{old}")).await.0, 404, "the reminder's link replaces the old one");
        let fresh = link_of(&w.app, &w.reps[1].1).await;
        assert_eq!(Browser::new(&w.app.address).get(&format!("/s/{fresh}")).await.0, 200);

        // A representative who lost the link asks for a new one from their page.
        let rep = crate::support::TestUser { id: w.reps[2].0, email: w.reps[2].1.clone(), password: crate::support::TEST_PASSWORD.into() };
        let b = w.app.browser_signed_in(&rep).await;
        let (_, page) = b.get("/my-surveys").await;
        assert!(page.contains("Quick poll") && page.contains("You have not answered yet"));
        let before = link_of(&w.app, &rep.email).await;
        assert_eq!(b.post(&format!("/my-surveys/{id}/link"), &[]).await.status(), 303);
        let after = link_of(&w.app, &rep.email).await;
        assert_ne!(before, after);
        assert_eq!(Browser::new(&w.app.address).get(&format!("/s/{before}")).await.0, 404);
        // Once used in an anonymous survey, the link cannot be replaced: nothing else finds those answers.
        call(&w.app, "", "POST", "/api/v1/survey-answers", Some(json!({"token": after, "answers": {q.to_string(): ["3"]}, "submit": false}))).await;
        let res = b.post(&format!("/my-surveys/{id}/link"), &[]).await;
        assert_eq!(res.status(), 303);
        assert!(b.get("/my-surveys").await.1.contains("only that link finds your answers"));
        assert_eq!(link_of(&w.app, &rep.email).await, after, "no new link was sent");
        assert_eq!(b.post(&format!("/my-surveys/{id}/answer"), &[]).await.status(), 303, "nor can it be answered here");
        assert!(b.get("/my-surveys").await.1.contains("only that link finds your answers"));

        // In a named survey a representative answers from their page, and comes back to change the answers.
        let (named, nq) = open_survey(&w, false, "per_person").await;
        let res = b.post(&format!("/my-surveys/{named}/answer"), &[]).await;
        assert_eq!(res.status(), 303);
        let here = Browser::location(&res);
        assert!(here.starts_with("/s/"), "{here}");
        let here_token = here.trim_start_matches("/s/").to_string();
        let (status, _) = call(&w.app, "", "POST", "/api/v1/survey-answers", Some(json!({"token": here_token, "answers": answers(&nq, 2, 5, [1, 2, 3], [50, 50]), "submit": true}))).await;
        assert_eq!(status, 200);
        let again = Browser::location(&b.post(&format!("/my-surveys/{named}/answer"), &[]).await);
        assert_ne!(again, here);
        let (_, page) = b.get(&again).await;
        assert!(page.contains("Your answers are in") && page.contains(&format!("name=\"q{}\" value=\"2\" checked", nq[0])), "the answers follow the new link");
    }

    async fn feedback_between_surveys_is_answered_and_can_be_quoted(backend) {
        let w = world(backend, 2, 1).await;
        let rep = crate::support::TestUser { id: w.reps[0].0, email: w.reps[0].1.clone(), password: crate::support::TEST_PASSWORD.into() };
        let b = w.app.browser_signed_in(&rep).await;
        b.get("/feedback").await;
        let res = b.post("/feedback", &[("subject", ""), ("body", "typed text"), ("priority_id", "999")]).await;
        assert_eq!(res.status(), 422);
        let html = res.text().await.unwrap();
        assert!(html.contains("id=\"subject-error\"") && html.contains("typed text") && html.contains("no such priority"), "{html}");
        let res = b.post("/feedback", &[("subject", "Release notes"), ("body", "Please publish <b>release notes</b> for minor versions.")]).await;
        assert_eq!(res.status(), 303);
        let list = call(&w.app, &w.council, "GET", "/api/v1/feedback?status=new", None).await.1;
        let id = list[0]["id"].as_i64().unwrap();
        assert_eq!(list[0]["organization"], "Org 0");
        let (status, problem) = call(&w.app, &w.council, "POST", &format!("/api/v1/feedback/{id}/answer"), Some(json!({"status": "declined", "answer": "No.", "quotable": true}))).await;
        assert_eq!((status, fields(&problem)), (422, vec!["quotable".to_string()]));
        let (status, item) = call(&w.app, &w.council, "POST", &format!("/api/v1/feedback/{id}/answer"), Some(json!({"status": "planned", "answer": "Starting with 4.3, every minor release has notes.", "quotable": true}))).await;
        assert_eq!((status, item["status"].as_str()), (200, Some("planned")));
        let mail = w.app.outbox().await;
        assert!(mail.iter().any(|m| m.0 == rep.email && m.1.contains("is planned") && m.2.contains("every minor release has notes")));
        let (_, page) = b.get("/feedback").await;
        assert!(page.contains("every minor release has notes") && page.contains("release notes") && !page.contains("<b>release notes"), "escaped, answered");
        // The council's list comes a page at a time.
        let sender = w.reps[0].0;
        w.app
            .with_conn(move |c| {
                let identity = steward::accounts::Identity {
                    user_id: sender,
                    email: String::new(),
                    display_name: String::new(),
                    member_id: None,
                    roles: vec![Role::MemberRep],
                    has_two_factor: false,
                    via: steward::accounts::model::AuthMethod::ApiToken { token_id: 0 },
                    time_zone: "UTC".into(),
                };
                for n in 0..30 {
                    let input = steward::feedback::service::FeedbackInput { subject: format!("Idea number {n:02}"), body: "more".into(), ..Default::default() };
                    steward::feedback::service::send(c, &identity, &input).unwrap();
                }
            })
            .await;
        let council = w.app.create_user("council-reader@example.org", &[Role::Council], None).await;
        let cb = w.app.browser_signed_in(&council).await;
        let (_, first) = cb.get("/feedback/triage").await;
        assert!(first.contains("Page 1 of 2") && first.contains("Idea number 29") && first.contains("Idea number 05") && !first.contains("Idea number 04"));
        let (_, second) = cb.get("/feedback/triage?page=2").await;
        assert!(second.contains("Page 2 of 2") && second.contains("Idea number 00") && second.contains("Release notes"));
        // Another organization's representative sees none of it.
        let other_token = w.app.api_token_for(w.reps[1].0).await;
        assert_eq!(call(&w.app, &other_token, "GET", "/api/v1/feedback", None).await.1.as_array().unwrap().len(), 0);
        let quoted = w.app.with_conn(|c| steward::feedback::service::quotable(c, steward::db::now() - chrono::Duration::days(1)).unwrap()).await;
        assert_eq!(quoted.len(), 1);
    }

    async fn a_community_survey_takes_anonymous_answers_a_few_per_client_and_sits_beside_the_members_weights(backend) {
        let w = world(backend, 2, 1).await;
        let now = steward::db::now();
        let window = |days: i64| (now + chrono::Duration::days(days)).format("%Y-%m-%dT%H:%M").to_string();
        let (_, c) = call(&w.app, &w.council, "POST", "/api/v1/surveys", Some(json!({"title": "Contributor pulse", "cycle": "2026-H2",
            "opens_at": window(-1), "closes_at": window(10), "audience": "community", "anonymous": false}))).await;
        assert_eq!(c["anonymous"], true, "a community survey is always anonymous");
        let cid = c["id"].as_i64().unwrap();
        let (_, cq) = call(&w.app, &w.council, "POST", &format!("/api/v1/surveys/{cid}/questions"), Some(json!({"kind": "points", "prompt": "Spread 100 points", "required": true}))).await;
        let cq = cq["id"].as_i64().unwrap();
        let (_, opened) = call(&w.app, &w.council, "POST", &format!("/api/v1/surveys/{cid}/open"), None).await;
        assert_eq!(opened["count"], 0, "nobody is emailed");
        let token = call(&w.app, &w.council, "GET", &format!("/api/v1/surveys/{cid}"), None).await.1["public_token"].as_str().unwrap().to_string();
        let b = Browser::new(&w.app.address);
        let (status, page) = b.get(&format!("/c/{token}")).await;
        assert_eq!(status, 200);
        assert!(page.contains("<strong>0</strong> people have answered"));
        let res = b.post(&format!("/c/{token}"), &[(&format!("q{cq}"), "30"), (&format!("q{cq}"), "30")]).await;
        assert_eq!(res.status(), 422, "points must add up to 100");
        for (people, software) in [("20", "80"), ("40", "60"), ("30", "70"), ("10", "90"), ("50", "50")] {
            let res = b.post(&format!("/c/{token}"), &[(&format!("q{cq}"), people), (&format!("q{cq}"), software)]).await;
            assert_eq!(res.status(), 303);
        }
        let res = b.post(&format!("/c/{token}"), &[(&format!("q{cq}"), "50"), (&format!("q{cq}"), "50")]).await;
        assert_eq!(res.status(), 429, "five a day from one client");
        assert!(res.headers().get("retry-after").is_some());
        assert!(b.get(&format!("/c/{token}")).await.1.contains("<strong>0</strong> people have answered"), "answers wait in the pool");
        assert_eq!(call(&w.app, &w.council, "POST", &format!("/api/v1/surveys/{cid}/close"), None).await.0, 200);
        assert!(b.get(&format!("/c/{token}")).await.1.contains("<strong>5</strong> people have answered"), "counted at close");
        let rows: Vec<(Option<i64>, Option<i64>, Option<i64>)> = w.app.with_conn(|c| {
            use schema::survey_responses as r;
            r::table.select((r::user_id, r::member_id, r::tier_id)).load(c).unwrap()
        }).await;
        assert!(rows.iter().all(|r| *r == (None, None, None)));
        // The members' survey of the same cycle shows the community's weights beside its own.
        let (survey, q) = open_survey(&w, true, "per_organization").await;
        for rep in 0..2 {
            let t = link_of(&w.app, &w.reps[rep].1).await;
            call(&w.app, "", "POST", "/api/v1/survey-answers", Some(json!({"token": t, "answers": answers(&q, 4, 9, [1, 2, 3], [70, 30]), "submit": true}))).await;
        }
        assert_eq!(call(&w.app, &w.council, "POST", &format!("/api/v1/surveys/{survey}/close"), None).await.0, 200);
        let r = call(&w.app, &w.council, "GET", &format!("/api/v1/surveys/{survey}/results"), None).await.1;
        let points = r["questions"][5]["points"].as_array().unwrap();
        assert_eq!((points[0][1].as_f64(), points[0][3].as_f64()), (Some(70.0), Some(30.0)), "members 70, community (20+40+30+10+50)/5 = 30");
        assert_eq!(points[1][3], 70.0);
    }
}

/// The logs of a real `steward serve` process, at debug level, say nothing that ties an anonymous answer to
/// its link, person or organization.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn logs_of_an_anonymous_answer_name_nobody() {
    use std::io::Read;
    use std::process::{Command, Stdio};

    let w = world(crate::support::Backend::Sqlite, 1, 1).await;
    let (_, q) = open_survey(&w, true, "per_organization").await;
    let token = link_of(&w.app, &w.reps[0].1).await;
    let port = crate::support::free_port();
    let base = format!("http://127.0.0.1:{port}");
    let mut child = Command::new(crate::support::steward_bin())
        .arg("serve")
        .env("DATABASE_URL", w.app.test_db.url_string())
        .env("STEWARD_BIND", format!("127.0.0.1:{port}"))
        .env("STEWARD_BASE_URL", &base)
        .env("STEWARD_DATA_DIR", w.app.test_db.dir.path().join("child-data"))
        .env("RUST_LOG", "debug")
        .stderr(Stdio::piped())
        .stdout(Stdio::null())
        .spawn()
        .unwrap();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(std::time::Instant::now() < deadline, "the server did not start");
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    let b = Browser::new(&base);
    assert_eq!(b.get(&format!("/s/{token}")).await.0, 200);
    let res = b.post(&format!("/s/{token}"), &[(&format!("q{}", q[0]), "4"), ("action", "save")]).await;
    assert_eq!(res.status(), 303);
    let body = json!({"token": token, "answers": answers(&q, 4, 9, [1, 2, 3], [50, 50]), "submit": true});
    let res = reqwest::Client::new().post(format!("{base}/api/v1/survey-answers")).json(&body).send().await.unwrap();
    assert_eq!(res.status(), 200);
    let _ = Command::new("kill").args(["-TERM", &child.id().to_string()]).status();
    let mut logs = String::new();
    child.stderr.take().unwrap().read_to_string(&mut logs).unwrap();
    let _ = child.wait();
    assert!(
        logs.contains("request finished") && logs.contains("/s/{token}"),
        "requests are logged by route pattern:\n{logs}"
    );
    let (user, email, member) = (&w.reps[0].0, &w.reps[0].1, &w.reps[0].2);
    let (pool_id, locator): (String, String) = w
        .app
        .with_conn(|c| {
            schema::survey_pool::table.select((schema::survey_pool::id, schema::survey_pool::locator)).first(c).unwrap()
        })
        .await;
    assert!(!logs.contains(&token), "the link's token is not logged");
    assert!(!logs.contains(email.as_str()), "no address");
    assert!(!logs.contains(&pool_id) && !logs.contains(&locator), "no pool id or locator");
    for field in [format!("user.id={user}"), format!("user_id={user}"), format!("member.id={member}")] {
        assert!(!logs.contains(&field), "{field} in the logs");
    }
}
