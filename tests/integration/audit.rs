//! The audit log as evidence, through the front door: the database refuses UPDATE and DELETE of events;
//! each event is chained to the one before it by a hash that `steward check` verifies, naming the first broken
//! link after an event is edited or deleted by hand; and an edit's event says what changed (old → new) and
//! from which address, on the audit page and in the API.

use diesel::connection::SimpleConnection;
use diesel::prelude::*;
use serde_json::{json, Value};
use steward::accounts::Role;
use steward::db::schema::audit_events;

use crate::backend_tests;
use crate::support::{Backend, TestApp};

fn check(url: &str) -> std::process::Output {
    crate::support::steward_command()
        .arg("check")
        .env("RUST_LOG", "error")
        .env("DATABASE_URL", url)
        .output()
        .expect("run steward check")
}

fn chain_line(out: &std::process::Output) -> String {
    String::from_utf8_lossy(&out.stdout).lines().find(|l| l.starts_with("audit-chain ")).unwrap_or_default().to_string()
}

async fn sql(app: &TestApp, statement: String) -> Result<(), String> {
    app.with_conn(move |c| c.batch_execute(&statement).map_err(|e| e.to_string())).await
}

async fn event_ids(app: &TestApp) -> Vec<i64> {
    app.with_conn(|c| audit_events::table.order(audit_events::id).select(audit_events::id).load(c).unwrap()).await
}

backend_tests! {
    async fn audit_events_refuse_changes_and_check_names_the_first_broken_link(backend) {
        let app = TestApp::spawn(backend).await;
        // A few events through the services: invitations and role changes.
        let admin = app.create_user("admin@example.org", &[Role::Admin], None).await;
        let token = app.api_token_for(admin.id).await;
        let api = reqwest::Client::new();
        for i in 0..4 {
            let res = api
                .post(app.url("/api/v1/users"))
                .bearer_auth(&token)
                .json(&json!({"email": format!("person{i}@example.org"), "display_name": format!("Person {i}"),
                              "roles": ["council"]}))
                .send()
                .await
                .unwrap();
            assert_eq!(res.status(), 201, "{}", res.text().await.unwrap());
        }
        let ids = event_ids(&app).await;
        assert!(ids.len() >= 4, "{ids:?}");
        let url = app.test_db.url_string();
        let out = check(&url);
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stdout));
        assert!(chain_line(&out).ends_with(" ok"), "{}", chain_line(&out));

        // With the triggers in place, plain SQL cannot change or remove an event.
        let (middle, last) = (ids[ids.len() / 2], ids[ids.len() - 1]);
        let update = sql(&app, format!("UPDATE audit_events SET details = '{{}}' WHERE id = {middle}")).await;
        assert!(update.unwrap_err().contains("append-only"));
        let delete = sql(&app, format!("DELETE FROM audit_events WHERE id = {middle}")).await;
        assert!(delete.unwrap_err().contains("append-only"));
        assert_eq!(event_ids(&app).await, ids);

        // An attacker with the database drops the triggers and edits an event: check names it.
        let drop = match backend {
            Backend::Sqlite => "DROP TRIGGER audit_events_no_update; DROP TRIGGER audit_events_no_delete",
            Backend::Postgres => "DROP TRIGGER audit_events_append_only ON audit_events",
        };
        sql(&app, drop.to_string()).await.unwrap();
        sql(&app, format!("UPDATE audit_events SET ip = '10.9.8.7' WHERE id = {middle}")).await.unwrap();
        let out = check(&url);
        assert_eq!(out.status.code(), Some(1));
        let line = chain_line(&out);
        assert!(line.contains(&format!("chain broken at audit event {middle}")), "{line}");
        assert!(line.contains("trigger") && line.contains("missing"), "{line}");

        // Put back, the chain holds again (the hash covers exactly the content); a deleted event breaks the
        // link of the one after it.
        let original: Option<String> = app
            .with_conn(move |c| {
                audit_events::table.filter(audit_events::id.eq(middle + 1)).select(audit_events::ip).first(c).unwrap()
            })
            .await;
        let ip = original.map(|ip| format!("'{ip}'")).unwrap_or_else(|| "NULL".into());
        sql(&app, format!("UPDATE audit_events SET ip = {ip} WHERE id = {middle}")).await.unwrap();
        let line = chain_line(&check(&url));
        assert!(!line.contains("chain broken"), "restored: {line}");
        let removed = ids[1];
        sql(&app, format!("DELETE FROM audit_events WHERE id = {removed}")).await.unwrap();
        let line = chain_line(&check(&url));
        assert!(line.contains(&format!("chain broken at audit event {}", ids[2])), "{line}");
        // Removing the last event is not a broken link, but a chain with a gap in the middle still is.
        sql(&app, format!("DELETE FROM audit_events WHERE id = {last}")).await.unwrap();
        assert!(chain_line(&check(&url)).contains(&format!("chain broken at audit event {}", ids[2])));
    }

    async fn concurrent_writers_extend_one_chain(backend) {
        let app = TestApp::spawn(backend).await;
        let admin = app.create_user("admin@example.org", &[Role::Admin], None).await;
        let token = app.api_token_for(admin.id).await;
        // Sixteen invitations at once, each in its own transaction with its audit event.
        let mut handles = Vec::new();
        for i in 0..16 {
            let (url, token) = (app.url("/api/v1/users"), token.clone());
            handles.push(tokio::spawn(async move {
                reqwest::Client::new()
                    .post(url)
                    .bearer_auth(token)
                    .json(&json!({"email": format!("p{i}@example.org"), "display_name": format!("P {i}"),
                                  "roles": ["council"]}))
                    .send()
                    .await
                    .unwrap()
                    .status()
            }));
        }
        for handle in handles {
            assert_eq!(handle.await.unwrap(), 201);
        }
        let out = check(&app.test_db.url_string());
        let line = chain_line(&out);
        assert!(line.ends_with(" ok"), "one chain, no fork: {line}");
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stdout));
    }

    async fn renaming_an_organization_records_the_old_and_new_name_and_the_clients_address(backend) {
        let app = TestApp::spawn(backend).await;
        let treasurer = app.create_user("treasurer@example.org", &[Role::Treasurer], None).await;
        let admin = app.create_user("admin@example.org", &[Role::Admin], None).await;
        let member = app.create_member("acme", "Acme Widgets").await;
        let api = reqwest::Client::new();
        let token = app.api_token_for(treasurer.id).await;
        let admin_token = app.api_token_for(admin.id).await;
        let before = event_ids(&app).await.last().copied().unwrap_or(0);
        let res = api
            .patch(app.url(&format!("/api/v1/members/{member}")))
            .bearer_auth(&token)
            .json(&json!({"name": "Acme Gadgets & Co", "website": "https://acme.example"}))
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 200, "{}", res.text().await.unwrap());

        // The API: the event's details hold the changed fields with old and new values, and the address.
        let page: Value = api
            .get(app.url("/api/v1/audit-events?action=member.changed"))
            .bearer_auth(&admin_token)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        let event = &page["items"][0];
        assert_eq!(event["ip"], "127.0.0.1", "{event}");
        let details: Value = serde_json::from_str(event["details"].as_str().unwrap()).unwrap();
        assert_eq!(details["changes"]["name"], json!({"old": "Acme Widgets", "new": "Acme Gadgets & Co"}));
        assert_eq!(details["changes"]["website"], json!({"old": null, "new": "https://acme.example"}));
        assert!(details["changes"].get("slug").is_none(), "unchanged fields are left out: {details}");
        assert_eq!(event["hash"].as_str().map(str::len), Some(64), "{event}");

        // The page shows field: old → new.
        let b = app.browser_signed_in(&admin).await;
        let (status, html) = b.get("/admin/audit?action=member.changed").await;
        assert_eq!(status, 200);
        let shown = html.replace("&#38;", "&amp;");
        assert!(shown.contains("<strong>name</strong>: Acme Widgets → Acme Gadgets &amp; Co"), "{html}");
        assert!(shown.contains("<strong>website</strong>: (none) → https://acme.example"), "{html}");

        // Every event recorded while serving a request carries the client's address, also those whose service
        // was given none (here the member change; the sign-in passes its own).
        let recorded: Vec<(String, Option<String>)> = app
            .with_conn(move |c| {
                audit_events::table
                    .filter(audit_events::id.gt(before))
                    .select((audit_events::action, audit_events::ip))
                    .load(c)
                    .unwrap()
            })
            .await;
        assert!(recorded.iter().any(|(a, _)| a == "member.changed") && recorded.len() >= 2, "{recorded:?}");
        for (action, ip) in recorded {
            assert_eq!(ip.as_deref(), Some("127.0.0.1"), "{action}");
        }
    }
}
