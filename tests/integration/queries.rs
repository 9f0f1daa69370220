//! No N+1 queries: every main page and API read makes the same number of database queries for a small
//! foundation as for one with five times the rows. Queries are counted by a diesel instrumentation installed
//! for every connection this test process opens (nextest runs each test in its own process).

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Mutex;

use diesel::connection::{Instrumentation, InstrumentationEvent};
use diesel::prelude::*;
use steward::bench::seed::{self, SeedOptions};
use steward::db::schema::users;

use crate::backend_tests;
use crate::support::{Backend, TestApp};

static COUNTING: AtomicBool = AtomicBool::new(false);
static QUERIES: AtomicUsize = AtomicUsize::new(0);
static SEEN: Mutex<Vec<String>> = Mutex::new(Vec::new());

fn counting_instrumentation() -> Option<Box<dyn Instrumentation>> {
    Some(Box::new(|event: InstrumentationEvent<'_>| {
        if let InstrumentationEvent::StartQuery { query, .. } = event {
            if COUNTING.load(Ordering::SeqCst) {
                QUERIES.fetch_add(1, Ordering::SeqCst);
                if let Ok(mut seen) = SEEN.lock() {
                    seen.push(query.to_string().chars().take(160).collect());
                }
            }
        }
    }))
}

/// What one page or API read cost: (queries, their SQL).
type Counts = BTreeMap<String, (usize, Vec<String>)>;

async fn count_queries(backend: Backend, sizes: SeedOptions) -> Counts {
    diesel::connection::set_default_instrumentation(counting_instrumentation).expect("instrumentation");
    let app = TestApp::spawn(backend).await;
    let today = steward::db::now().date();
    let seeded = app.with_conn(move |conn| seed::seed(conn, &sizes, today).expect("seed")).await;
    let user = |email: String| async {
        app.with_conn(move |conn| {
            users::table.filter(users::email.eq(email)).select(users::id).first::<i64>(conn).expect("seeded user")
        })
        .await
    };
    let rep = user(seeded.representative_email.clone()).await;
    let treasurer = user(seeded.treasurer_email.clone()).await;
    let council = user(seeded.council_email.clone()).await;
    let admin = user(seeded.admin_email.clone()).await;
    let mut cookies = BTreeMap::new();
    let mut tokens = BTreeMap::new();
    for (name, id) in [("representative", rep), ("treasurer", treasurer), ("council", council), ("admin", admin)] {
        cookies.insert(name, app.session_for(id).await.0);
        tokens.insert(name, app.api_token_for(id).await);
    }
    let (survey, metric, slug) = (seeded.survey_id, seeded.metric_id, seeded.member_slug.clone());
    let pages: Vec<(&str, String)> = vec![
        ("representative", "/".into()),
        ("representative", format!("/members/{slug}")),
        ("representative", "/invoices".into()),
        ("representative", "/reports".into()),
        ("treasurer", "/".into()),
        ("treasurer", "/members".into()),
        ("treasurer", format!("/members/{slug}")),
        ("treasurer", "/ledger".into()),
        ("treasurer", "/invoices".into()),
        ("treasurer", "/treasury".into()),
        ("treasurer", "/budgets".into()),
        ("treasurer", "/initiatives".into()),
        ("treasurer", "/disbursements".into()),
        ("council", "/".into()),
        ("council", "/surveys".into()),
        ("council", format!("/surveys/{survey}/results")),
        ("council", "/metrics".into()),
        ("council", format!("/metrics/{metric}")),
        ("council", "/feedback/triage".into()),
        ("admin", "/".into()),
        ("admin", "/admin/users".into()),
        ("admin", "/admin/audit".into()),
    ];
    let api: Vec<(&str, String)> = vec![
        ("treasurer", "/api/v1/members".into()),
        ("treasurer", "/api/v1/ledger/entries".into()),
        ("treasurer", "/api/v1/ledger/balances".into()),
        ("treasurer", "/api/v1/treasury".into()),
        ("treasurer", "/api/v1/invoices".into()),
        ("treasurer", "/api/v1/initiatives".into()),
        ("treasurer", "/api/v1/disbursements".into()),
        ("council", format!("/api/v1/surveys/{survey}/results")),
        ("council", "/api/v1/metrics".into()),
        ("council", format!("/api/v1/metrics/{metric}")),
        ("representative", "/api/v1/invoices".into()),
        ("representative", "/api/v1/members".into()),
    ];
    let mut counts = Counts::new();
    for (who, path) in pages.iter().chain(api.iter()) {
        let request = |path: &str| {
            let req = app.client.get(app.url(path));
            if path.starts_with("/api/") {
                req.bearer_auth(&tokens[who])
            } else {
                req.header("Cookie", format!("steward_session={}", cookies[who]))
            }
        };
        // Once to warm what is cached (site settings), once counted.
        let warm = request(path).send().await.expect("GET");
        assert_eq!(warm.status(), 200, "{who} GET {path}");
        SEEN.lock().unwrap().clear();
        QUERIES.store(0, Ordering::SeqCst);
        COUNTING.store(true, Ordering::SeqCst);
        let res = request(path).send().await.expect("GET");
        let status = res.status();
        let _ = res.bytes().await;
        COUNTING.store(false, Ordering::SeqCst);
        assert_eq!(status, 200, "{who} GET {path}");
        // Keyed by the route, not this seed's ids, to compare with the other foundation.
        let route = path
            .replace(&format!("/{survey}/"), "/{survey}/")
            .replace(&format!("/{metric}"), "/{metric}")
            .replace(&format!("/{slug}"), "/{member}");
        counts.insert(format!("{who} GET {route}"), (QUERIES.load(Ordering::SeqCst), SEEN.lock().unwrap().clone()));
    }
    app.stop().await;
    counts
}

backend_tests! {
    async fn no_page_makes_more_queries_when_the_foundation_grows(backend) {
        // Both foundations have some of everything (a page may skip a query when there is nothing to look
        // up); the larger has five times the rows.
        let small = SeedOptions {
            organizations: 6,
            representatives: 2,
            fiscal_years: 2,
            ledger_entries: 300,
            initiatives: 10,
            metrics: 4,
            observations_per_metric: 10,
            surveys: 3,
            responses_per_survey: 12,
        };
        let large = SeedOptions {
            organizations: 30,
            representatives: 3,
            fiscal_years: 3,
            ledger_entries: 1_500,
            initiatives: 50,
            metrics: 20,
            observations_per_metric: 50,
            surveys: 6,
            responses_per_survey: 60,
        };
        let few = count_queries(backend, small).await;
        let many = count_queries(backend, large).await;
        let mut grew = Vec::new();
        for (what, (n_few, _)) in &few {
            let (n_many, queries) = &many[what];
            assert!(*n_few > 0, "{what}: no query counted (is the instrumentation installed?)");
            if n_many > n_few {
                grew.push(format!("{what}: {n_few} queries with few rows, {n_many} with five times as many:\n    {}", queries.join("\n    ")));
            }
        }
        assert!(grew.is_empty(), "queries grow with the rows (N+1):\n{}", grew.join("\n"));
        // And none is extravagant.
        for (what, (n, queries)) in &many {
            assert!(*n <= 40, "{what} makes {n} queries:\n    {}", queries.join("\n    "));
        }
    }
}
