//! Member organizations and tiers through the front door: validation, history, ownership between two
//! organizations, representatives, CSV export and all-or-nothing import, and the API.

use diesel::prelude::*;
use serde_json::{json, Value};
use steward::accounts::Role;
use steward::db::schema;

use crate::backend_tests;
use crate::support::browser::Browser;
use crate::support::{TestApp, TestUser};

fn field_error<'a>(html: &'a str, field: &str) -> Option<&'a str> {
    let marker = format!("id=\"{field}-error\">");
    let at = html.find(&marker)? + marker.len();
    html[at..].split('<').next()
}

async fn treasurer(app: &TestApp) -> (TestUser, Browser) {
    let user = app.create_user("treasurer@example.org", &[Role::Treasurer], None).await;
    let b = app.browser_signed_in(&user).await;
    (user, b)
}

async fn add_tier(b: &Browser, name: &str, dues: &str) {
    b.get("/tiers/new").await;
    let res =
        b.post("/tiers/new", &[("name", name), ("annual_dues", dues), ("currency", "USD"), ("benefits", "")]).await;
    assert_eq!(res.status(), 303, "{}", res.text().await.unwrap());
}

async fn tier_id(app: &TestApp, name: &'static str) -> i64 {
    app.with_conn(move |conn| {
        schema::membership_tiers::table
            .filter(schema::membership_tiers::name.eq(name))
            .select(schema::membership_tiers::id)
            .first(conn)
            .unwrap()
    })
    .await
}

async fn count(app: &TestApp, table: &'static str) -> i64 {
    app.with_conn(move |conn| match table {
        "members" => schema::members::table.count().get_result(conn).unwrap(),
        "history" => schema::member_history::table.count().get_result(conn).unwrap(),
        _ => schema::membership_tiers::table.count().get_result(conn).unwrap(),
    })
    .await
}

backend_tests! {
    async fn tiers_refuse_bad_money_and_can_only_be_retired_once_used(backend) {
        let app = TestApp::spawn(backend).await;
        let (_, b) = treasurer(&app).await;
        b.get("/tiers/new").await;
        for (dues, currency, field, says) in [
            ("-5", "USD", "annual_dues", "negative"),
            ("12.345", "USD", "annual_dues", "2 decimal places"),
            ("100.5", "JPY", "annual_dues", "no fractions"),
            ("lots", "USD", "annual_dues", "not an amount"),
            ("100", "DOGE", "currency", "not a currency"),
        ] {
            let res = b.post("/tiers/new", &[("name", "Gold"), ("annual_dues", dues), ("currency", currency)]).await;
            assert_eq!(res.status(), 422, "{dues} {currency}");
            let html = res.text().await.unwrap();
            assert!(field_error(&html, field).unwrap_or_default().contains(says), "{dues} {currency}: {html:.0}");
        }
        assert_eq!(count(&app, "tiers").await, 0, "nothing written on bad input");
        add_tier(&b, "Gold", "25,000.00").await;
        let res = b.post("/tiers/new", &[("name", "Gold"), ("annual_dues", "1"), ("currency", "USD")]).await;
        assert_eq!(res.status(), 422, "duplicate name");
        let (_, page) = b.get("/tiers").await;
        assert!(page.contains("USD 25,000.00"));
        let gold = tier_id(&app, "Gold").await;

        b.get("/members/new").await;
        let res = b.post("/members/new", &[("name", "Acme"), ("slug", "acme"), ("tier", &gold.to_string()), ("status", "active"), ("joined_on", "2026-01-15")]).await;
        assert_eq!(res.status(), 303);
        assert_eq!(b.post(&format!("/tiers/{gold}/delete"), &[("confirm", "yes")]).await.status(), 409, "a tier in use is not deleted");
        assert_eq!(b.post(&format!("/tiers/{gold}/retire"), &[]).await.status(), 303);
        let res = b.post("/members/new", &[("name", "Beta"), ("slug", "beta"), ("tier", &gold.to_string()), ("status", "active"), ("joined_on", "2026-02-01")]).await;
        assert_eq!(res.status(), 422);
        assert!(field_error(&res.text().await.unwrap(), "tier").unwrap().contains("retired"));
        // Members already on it keep it.
        let (_, acme) = b.get("/members/acme").await;
        assert!(acme.contains("Gold"));
        add_tier(&b, "Unused", "10").await;
        let unused = tier_id(&app, "Unused").await;
        assert_eq!(b.post(&format!("/tiers/{unused}/delete"), &[("confirm", "yes")]).await.status(), 303);
        assert_eq!(count(&app, "tiers").await, 1);
    }

    async fn organizations_are_checked_and_keep_a_dated_history(backend) {
        let app = TestApp::spawn(backend).await;
        let (_, b) = treasurer(&app).await;
        add_tier(&b, "Silver", "10000").await;
        add_tier(&b, "Gold", "25000").await;
        let (silver, gold) = (tier_id(&app, "Silver").await.to_string(), tier_id(&app, "Gold").await.to_string());
        b.get("/members/new").await;
        let good = [("name", "Acme Corp"), ("slug", "acme"), ("tier", silver.as_str()), ("status", "active"), ("joined_on", "2026-03-01"), ("renews_on", "2027-03-01"), ("website", "https://acme.example"), ("country", "de")];
        for (field, value, says) in [
            ("renews_on", "2026-02-01", "after the joining date"),
            ("joined_on", "01/03/2026", "not a date"),
            ("website", "acme.example", "https://"),
            ("country", "Germany", "two-letter"),
            ("slug", "Acme Corp!", "lower-case"),
            ("slug", "new", "reserved"),
            ("tier", "", "needs a tier"),
            ("status", "zombie", "not a status"),
        ] {
            let mut fields: Vec<(&str, &str)> = good.iter().filter(|(k, _)| *k != field).cloned().collect();
            fields.push((field, value));
            let res = b.post("/members/new", &fields).await;
            assert_eq!(res.status(), 422, "{field}={value}");
            let html = res.text().await.unwrap();
            assert!(field_error(&html, field).unwrap_or_default().contains(says), "{field}={value}");
            assert!(html.contains("Acme Corp"), "entered values are kept");
        }
        assert_eq!(count(&app, "members").await, 0);
        let res = b.post("/members/new", &good).await;
        assert_eq!(res.status(), 303);
        assert_eq!(b.post("/members/new", &good).await.status(), 422, "duplicate slug");
        let (_, page) = b.get("/members/acme").await;
        assert!(page.contains("Acme Corp") && page.contains("Silver") && page.contains("DE"));

        b.get("/members/acme/edit").await;
        let mut changed: Vec<(&str, &str)> = good.iter().filter(|(k, _)| *k != "tier").cloned().collect();
        changed.push(("tier", gold.as_str()));
        assert_eq!(b.post("/members/acme/edit", &changed).await.status(), 303);
        let mut lapsed: Vec<(&str, &str)> = changed.iter().filter(|(k, _)| *k != "status").cloned().collect();
        lapsed.push(("status", "lapsed"));
        assert_eq!(b.post("/members/acme/edit", &lapsed).await.status(), 303);
        assert_eq!(count(&app, "history").await, 3, "created, tier change, status change");
        let (_, page) = b.get("/members/acme").await;
        assert!(page.contains("History") && page.contains("lapsed"));
        let (_, list) = b.get("/members?status=lapsed").await;
        assert!(list.contains("Acme Corp"));
        let (_, list) = b.get("/members?status=active").await;
        assert!(!list.contains("Acme Corp"));
    }

    async fn a_representative_sees_and_edits_only_their_own_organization(backend) {
        let app = TestApp::spawn(backend).await;
        let (_, t) = treasurer(&app).await;
        add_tier(&t, "Silver", "10000").await;
        let silver = tier_id(&app, "Silver").await.to_string();
        t.get("/members/new").await;
        for (name, slug) in [("Alpha Org", "alpha"), ("Beta Org", "beta")] {
            let res = t.post("/members/new", &[("name", name), ("slug", slug), ("tier", &silver), ("status", "active"), ("joined_on", "2026-01-01"), ("notes", "secret note")]).await;
            assert_eq!(res.status(), 303);
        }
        let ids: Vec<i64> = app.with_conn(|conn| schema::members::table.order(schema::members::slug).select(schema::members::id).load(conn).unwrap()).await;
        let (alpha, beta) = (ids[0], ids[1]);
        let rep = app.create_user("rep@alpha.example", &[Role::MemberRep], Some(alpha)).await;
        let b = app.browser_signed_in(&rep).await;

        let (status, own) = b.get("/members/alpha").await;
        assert_eq!(status, 200);
        assert!(!own.contains("secret note"), "notes are for the treasurer and council");
        let res = b.client.get(b.url("/my-organization")).send().await.unwrap();
        assert_eq!(Browser::location(&res), "/members/alpha");
        for path in ["/members/beta", "/members/beta/edit", "/members"] {
            let (status, _) = b.get(path).await;
            assert!(status == 404 || status == 403, "{path} answered {status}");
        }
        b.get("/members/alpha/edit").await;
        let res = b.post("/members/beta/edit", &[("name", "Hijacked"), ("website", ""), ("country", "")]).await;
        assert_eq!(res.status(), 404);
        let res = b.post("/members/beta/representatives", &[("email", "mole@example.org"), ("display_name", "Mole")]).await;
        assert_eq!(res.status(), 404);
        // Their own profile, yes; the status, tier and notes stay the treasurer's.
        let res = b.post("/members/alpha/edit", &[("name", "Alpha Organization"), ("website", "https://alpha.example"), ("country", "NL"), ("status", "former"), ("notes", "")]).await;
        assert_eq!(res.status(), 303);
        let (status, notes, name): (String, String, String) = app.with_conn(move |conn| {
            schema::members::table.find(alpha).select((schema::members::status, schema::members::notes, schema::members::name)).first(conn).unwrap()
        }).await;
        assert_eq!((status.as_str(), notes.as_str(), name.as_str()), ("active", "secret note", "Alpha Organization"));
        let beta_name: String = app.with_conn(move |conn| schema::members::table.find(beta).select(schema::members::name).first(conn).unwrap()).await;
        assert_eq!(beta_name, "Beta Org");

        // A representative invites a colleague to their own organization.
        b.get("/members/alpha").await;
        let res = b.post("/members/alpha/representatives", &[("email", "colleague@alpha.example"), ("display_name", "Colleague")]).await;
        assert_eq!(res.status(), 303);
        assert_eq!(app.outbox().await.iter().filter(|(to, _, _)| to == "colleague@alpha.example").count(), 1);

        // The API draws the same line.
        let token = app.api_token_for(rep.id).await;
        let api = reqwest::Client::new();
        let list: Value = api.get(app.url("/api/v1/members")).bearer_auth(&token).send().await.unwrap().json().await.unwrap();
        assert_eq!(list["total"], 1);
        assert_eq!(list["items"][0]["slug"], "alpha");
        assert!(list["items"][0].get("notes").is_none());
        assert_eq!(api.get(app.url(&format!("/api/v1/members/{beta}"))).bearer_auth(&token).send().await.unwrap().status(), 404);
        let res = api.patch(app.url(&format!("/api/v1/members/{beta}"))).bearer_auth(&token).json(&json!({"name": "Nope"})).send().await.unwrap();
        assert_eq!(res.status(), 404);
        let res = api.patch(app.url(&format!("/api/v1/members/{alpha}"))).bearer_auth(&token).json(&json!({"status": "former"})).send().await.unwrap();
        assert_eq!(res.status(), 403, "a representative cannot change the status");
        let res = api.patch(app.url(&format!("/api/v1/members/{alpha}"))).bearer_auth(&token).json(&json!({"website": "https://alpha.example/about"})).send().await.unwrap();
        assert_eq!(res.status(), 200);
    }

    async fn csv_export_neutralizes_formulas_and_import_is_all_or_nothing(backend) {
        let app = TestApp::spawn(backend).await;
        let (user, t) = treasurer(&app).await;
        add_tier(&t, "Silver", "10000").await;
        t.get("/members/new").await;
        t.post("/members/new", &[("name", "=HYPERLINK(\"http://evil.example\")"), ("slug", "evil"), ("status", "prospective")]).await;
        let csv = t.client.get(t.url("/members/export.csv")).send().await.unwrap();
        assert!(csv.headers()["content-type"].to_str().unwrap().starts_with("text/csv"));
        let csv = csv.text().await.unwrap();
        assert!(csv.starts_with("name,slug,tier,status,joined_on,renews_on,website,country"));
        assert!(csv.contains("'=HYPERLINK"), "{csv}");

        let token = app.api_token_for(user.id).await;
        let _ = token;
        let upload = |body: String| {
            let b = &t;
            async move {
                let (_, page) = b.get("/members/import").await;
                let csrf = crate::support::browser::csrf_of(&page).unwrap();
                let form = reqwest::multipart::Form::new().part("file", reqwest::multipart::Part::text(body).file_name("members.csv"));
                b.client.post(b.url(&format!("/members/import?_csrf={csrf}"))).multipart(form).send().await.unwrap()
            }
        };
        let res = upload("organization,slug\nAcme,acme\n".into()).await;
        assert_eq!(res.status(), 422);
        assert!(res.text().await.unwrap().contains("The header must be exactly"));
        let bad = "name,slug,tier,status,joined_on,renews_on,website,country\n\
                   Good One,good-one,Silver,active,2026-01-01,2027-01-01,,US\n\
                   Bad Date,bad-date,Silver,active,2026-13-01,,,\n\
                   Twin,good-one,,prospective,,,,\n\
                   No Tier,no-tier,Platinum,active,2026-01-01,2025-01-01,,\n";
        let res = upload(bad.into()).await;
        assert_eq!(res.status(), 422);
        let html = res.text().await.unwrap();
        for needle in ["<td>3</td><td>joined_on</td>", "<td>4</td><td>slug</td>", "<td>5</td><td>tier</td>", "<td>5</td><td>renews_on</td>"] {
            assert!(html.contains(needle), "missing problem {needle}");
        }
        assert_eq!(count(&app, "members").await, 1, "nothing imported from a file with a bad row");
        let mut good = String::from("name,slug,tier,status,joined_on,renews_on,website,country\n");
        for i in 0..30 {
            good.push_str(&format!("Org {i:02},org-{i:02},Silver,active,2026-01-{:02},2027-01-01,https://org{i}.example,US\n", i % 28 + 1));
        }
        let res = upload(good).await;
        assert_eq!(res.status(), 303);
        assert_eq!(count(&app, "members").await, 31);
        // Lists page through 25 at a time, and search works.
        let (_, first) = t.get("/members?sort=name").await;
        assert!(first.contains("Page 1 of 2"));
        let (_, second) = t.get("/members?sort=name&page=2").await;
        assert!(second.contains("Org 29") || second.contains("Org 2"));
        let (_, found) = t.get("/members?q=org%2007").await;
        assert!(found.contains("Org 07") && !found.contains("Org 08"));
    }

    async fn the_api_creates_and_changes_members_for_the_treasurer(backend) {
        let app = TestApp::spawn(backend).await;
        let (user, _) = treasurer(&app).await;
        let council = app.create_user("council@example.org", &[Role::Council], None).await;
        let token = app.api_token_for(user.id).await;
        let api = reqwest::Client::new();
        let tier: Value = api.post(app.url("/api/v1/tiers")).bearer_auth(&token)
            .json(&json!({"name": "Gold", "annual_dues": "25000", "currency": "eur"})).send().await.unwrap().json().await.unwrap();
        assert_eq!(tier["annual_dues_minor"], 2_500_000);
        assert_eq!(tier["currency"], "EUR");
        let res = api.post(app.url("/api/v1/members")).bearer_auth(&token)
            .json(&json!({"name": "", "slug": "x y", "status": "active"})).send().await.unwrap();
        assert_eq!(res.status(), 422);
        assert_eq!(res.headers()["content-type"], "application/problem+json");
        let problem: Value = res.json().await.unwrap();
        let fields: Vec<&str> = problem["errors"].as_array().unwrap().iter().map(|e| e["field"].as_str().unwrap()).collect();
        for f in ["name", "slug", "tier", "joined_on"] {
            assert!(fields.contains(&f), "{f} missing in {problem}");
        }
        let res = api.post(app.url("/api/v1/members")).bearer_auth(&token)
            .json(&json!({"name": "Acme", "slug": "acme", "status": "active", "tier_id": tier["id"], "joined_on": "2026-05-01", "notes": "pays late"}))
            .send().await.unwrap();
        assert_eq!(res.status(), 201);
        let created: Value = res.json().await.unwrap();
        assert_eq!(created["tier"], "Gold");
        assert_eq!(created["notes"], "pays late");
        let id = created["id"].as_i64().unwrap();
        let res = api.patch(app.url(&format!("/api/v1/members/{id}"))).bearer_auth(&token).json(&json!({"renews_on": "2026-04-01"})).send().await.unwrap();
        assert_eq!(res.status(), 422, "renewal before joining");
        let res = api.patch(app.url(&format!("/api/v1/members/{id}"))).bearer_auth(&token).json(&json!({"unknown": 1})).send().await.unwrap();
        assert_eq!(res.status(), 400);
        let council_token = app.api_token_for(council.id).await;
        let res = api.patch(app.url(&format!("/api/v1/members/{id}"))).bearer_auth(&council_token).json(&json!({"name": "X"})).send().await.unwrap();
        assert_eq!(res.status(), 403);
        let seen: Value = api.get(app.url(&format!("/api/v1/members/{id}"))).bearer_auth(&council_token).send().await.unwrap().json().await.unwrap();
        assert_eq!(seen["notes"], "pays late", "council reads the notes");
    }
}
