//! The bench's large foundation (`steward::bench::seed`), at a small scale: it holds exactly the rows asked
//! for, and the app's own pages and API accept it, for every role the bench signs in as.

use std::time::Instant;

use diesel::prelude::*;
use steward::bench::seed::{self, SeedOptions, Seeded, BENCH_PASSWORD};

use crate::backend_tests;
use crate::support::browser::Browser;
use crate::support::{TestApp, TestUser};

async fn seeded(app: &TestApp, options: &SeedOptions) -> Seeded {
    let options = options.clone();
    let started = Instant::now();
    let seeded = app
        .with_conn(move |conn| seed::seed(conn, &options, steward::db::now().date()))
        .await
        .unwrap_or_else(|e| panic!("seeding failed: {e}"));
    eprintln!("seeded in {:.2} s: {:?}", started.elapsed().as_secs_f64(), seeded.counts);
    seeded
}

fn count(seeded: &Seeded, table: &str) -> i64 {
    seeded.counts.iter().find(|(t, _)| *t == table).unwrap_or_else(|| panic!("no count of {table}")).1
}

fn account(email: &str) -> TestUser {
    TestUser { id: 0, email: email.into(), password: BENCH_PASSWORD.into() }
}

/// The council's API results of a survey, through a personal API token.
async fn api_results(app: &TestApp, seeded: &Seeded) -> serde_json::Value {
    let email = seeded.council_email.clone();
    let council: i64 = app
        .with_conn(move |conn| {
            use steward::db::schema::users;
            users::table.filter(users::email.eq(email)).select(users::id).first(conn).unwrap()
        })
        .await;
    let token = app.api_token_for(council).await;
    let res = app
        .client
        .get(app.url(&format!("/api/v1/surveys/{}/results", seeded.survey_id)))
        .bearer_auth(token)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    res.json().await.unwrap()
}

backend_tests! {
    async fn a_scaled_foundation_has_the_rows_asked_for_and_every_role_sees_it(backend) {
        let app = TestApp::spawn(backend).await;
        let options = SeedOptions::scaled(0.01);
        let seeded = seeded(&app, &options).await;

        let (orgs, reps) = (i64::from(options.organizations), i64::from(options.representatives));
        assert_eq!(count(&seeded, "members"), orgs);
        assert_eq!(count(&seeded, "users"), orgs * reps + 3);
        assert_eq!(count(&seeded, "user_roles"), orgs * reps + 3);
        assert_eq!(count(&seeded, "ledger_entries"), i64::from(options.ledger_entries));
        assert_eq!(count(&seeded, "fiscal_years"), i64::from(options.fiscal_years));
        assert_eq!(count(&seeded, "initiatives"), i64::from(options.initiatives));
        assert_eq!(count(&seeded, "metrics"), i64::from(options.metrics));
        assert_eq!(
            count(&seeded, "metric_observations"),
            i64::from(options.metrics) * i64::from(options.observations_per_metric)
        );
        assert_eq!(count(&seeded, "surveys"), i64::from(options.surveys));
        assert_eq!(
            count(&seeded, "survey_responses"),
            i64::from(options.surveys) * i64::from(options.responses_per_survey)
        );
        assert!(count(&seeded, "invoices") > 0 && count(&seeded, "payments") > 0, "dues through the service");
        assert!(count(&seeded, "survey_answers") >= count(&seeded, "survey_responses") * 6, "every required question");
        assert!(count(&seeded, "audit_events") > 0, "the services record what they did");
        let pending: i64 = app
            .with_conn(|conn| {
                use steward::db::schema::outbox;
                outbox::table.filter(outbox::status.eq("pending")).count().get_result(conn).unwrap()
            })
            .await;
        assert_eq!(pending, 0, "no mail left for a bench server to deliver");

        let org_name = app
            .with_conn({
                let id = seeded.member_id;
                move |conn| {
                    use steward::db::schema::members;
                    members::table.find(id).select(members::name).first::<String>(conn).unwrap()
                }
            })
            .await;

        let rep = app.browser_signed_in(&account(&seeded.representative_email)).await;
        let (status, page) = rep.get("/").await;
        assert_eq!(status, 200);
        assert!(page.contains(&org_name), "{page}");
        let res = rep.client.get(rep.url("/my-organization")).send().await.unwrap();
        let own = format!("/members/{}", seeded.member_slug);
        assert_eq!((res.status().as_u16(), Browser::location(&res)), (303, own.clone()), "their own organization's page");
        let (status, page) = rep.get(&own).await;
        assert_eq!(status, 200);
        assert!(page.contains(&org_name) && page.contains(&seeded.representative_email), "{page}");

        let treasurer = app.browser_signed_in(&account(&seeded.treasurer_email)).await;
        let (status, page) = treasurer.get("/").await;
        assert_eq!(status, 200);
        assert!(page.contains("The foundation holds"), "{page}");
        let (status, page) = treasurer.get("/members").await;
        assert_eq!(status, 200);
        assert!(page.contains(&org_name), "{page}");
        let (status, page) = treasurer.get("/ledger").await;
        assert_eq!(status, 200);
        assert!(page.contains("(ref "), "bulk entries are listed: {page}");
        let (status, page) = treasurer.get("/treasury").await;
        assert_eq!(status, 200);
        let year = format!("FY{}", chrono::Datelike::year(&steward::db::now().date()));
        assert!(page.contains(&year), "{page}");

        let council = app.browser_signed_in(&account(&seeded.council_email)).await;
        let (status, page) = council.get("/").await;
        assert_eq!(status, 200);
        assert!(page.contains("For the council") && page.contains(&format!("{} answers", options.responses_per_survey)), "{page}");
        let (status, page) = council.get(&format!("/surveys/{}/results", seeded.survey_id)).await;
        assert_eq!(status, 200);
        assert!(page.contains("Membership in the foundation is worth its dues"), "{page}");
        let (status, page) = council.get(&format!("/metrics/{}", seeded.metric_id)).await;
        assert_eq!(status, 200);
        assert!(page.contains("Pull requests from new contributors per month"), "{page}");

        let admin = app.browser_signed_in(&account(&seeded.admin_email)).await;
        let (status, page) = admin.get("/").await;
        assert_eq!(status, 200);
        assert!(page.contains("Recent events"), "{page}");

        let results = api_results(&app, &seeded).await;
        assert_eq!(results["answered"], i64::from(options.responses_per_survey), "{results}");
        assert_eq!(results["survey"]["status"], "closed");
        assert_eq!(results["questions"].as_array().map(Vec::len), Some(9), "every kind of question");
    }

    async fn with_enough_representatives_the_member_survey_asks_each_of_them(backend) {
        let app = TestApp::spawn(backend).await;
        let options = SeedOptions {
            organizations: 12,
            representatives: 3,
            fiscal_years: 2,
            ledger_entries: 600,
            initiatives: 12,
            metrics: 3,
            observations_per_metric: 20,
            surveys: 2,
            responses_per_survey: 30,
        };
        let seeded = seeded(&app, &options).await;
        assert_eq!(count(&seeded, "survey_responses"), 60);
        assert_eq!(count(&seeded, "survey_invitations"), 72, "every representative of every member, twice");
        assert_eq!(count(&seeded, "ledger_entries"), 600);

        let results = api_results(&app, &seeded).await;
        assert_eq!(results["survey"]["audience"], "per_person", "{results}");
        assert_eq!((results["invited"].as_i64(), results["answered"].as_i64()), (Some(36), Some(30)), "{results}");
        let tiers = results["by_tier"].as_array().cloned().unwrap_or_default();
        assert!(tiers.iter().any(|t| t["answered"].is_i64()), "a tier big enough to show: {results}");
        let repeated = results["questions"][0]["question"]["copied_from"].clone();
        assert!(repeated.is_null(), "the closed wave is the first one: {results}");

        let council = app.browser_signed_in(&account(&seeded.council_email)).await;
        let (status, page) = council.get(&format!("/surveys/{}/results", seeded.survey_id)).await;
        assert_eq!(status, 200);
        assert!(page.contains("Bronze"), "results by tier: {page}");

        let treasurer = app.browser_signed_in(&account(&seeded.treasurer_email)).await;
        let (status, page) = treasurer.get("/members?status=lapsed").await;
        assert_eq!(status, 200);
        assert!(page.contains("lapsed"), "an organization lapsed after the surveys: {page}");
        let (status, _) = treasurer.get("/treasury").await;
        assert_eq!(status, 200);
    }
}
