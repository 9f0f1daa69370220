//! Admin pages beyond accounts: the mail queue (with the audit trail of what admins did to it) and settings.

use diesel::prelude::*;
use steward::accounts::Role;
use steward::db::schema;

use crate::backend_tests;
use crate::support::TestApp;

backend_tests! {
    async fn numbers_and_dates_follow_the_foundation_and_times_the_viewer(backend) {
        let app = TestApp::spawn(backend).await;
        let admin = app.create_user("admin@example.org", &[Role::Admin], None).await;
        let treasurer = app.create_user("treasurer@example.org", &[Role::Treasurer], None).await;
        let t = treasurer.id;
        app.with_conn(move |c| {
            use steward::ledger::service as ledger;
            let year = ledger::create_year(c, t, "FY2025", "2025-01-01", "2025-12-31").unwrap();
            ledger::set_year_status(c, t, year.id, "open").unwrap();
            let input = ledger::AdjustmentInput {
                entry_date: "2025-03-09".into(),
                direction: "in".into(),
                amount: "1234567.89".into(),
                currency: "USD".into(),
                priority_id: None,
                memo: "grant".into(),
            };
            ledger::post_adjustment(c, t, &input).unwrap();
        })
        .await;
        let tb = app.browser_signed_in(&treasurer).await;
        let (_, page) = tb.get("/ledger").await;
        assert!(page.contains("USD 1,234,567.89") && page.contains("2025-03-09"), "international by default");

        let b = app.browser_signed_in(&admin).await;
        b.get("/admin/settings").await;
        let res = b.post("/admin/settings", &[("name", "Steward"), ("tagline", ""), ("locale", "tlh-KX")]).await;
        assert_eq!(res.status(), 422);
        assert!(res.text().await.unwrap().contains("id=\"locale-error\""));
        let res = b.post("/admin/settings", &[("name", "Steward"), ("tagline", ""), ("locale", "de-DE")]).await;
        assert_eq!(res.status(), 303);
        let (_, page) = tb.get("/ledger").await;
        assert!(page.contains("USD 1.234.567,89") && page.contains("09.03.2025"), "German numbers and dates");
        assert!(page.contains("value=\"2025") || page.contains("type=\"date\""), "date inputs stay ISO");

        // Times in the viewer's zone, chosen on the account page.
        tb.get("/account").await;
        let res = tb.post("/account/time-zone", &[("time_zone", "Mars/Olympus")]).await;
        assert_eq!(res.status(), 422);
        assert!(res.text().await.unwrap().contains("id=\"time_zone-error\""));
        assert_eq!(tb.post("/account/time-zone", &[("time_zone", "Asia/Tokyo")]).await.status(), 303);
        let (_, page) = tb.get("/account").await;
        assert!(page.contains(" JST<") && page.contains("<option selected>Asia/Tokyo</option>"), "sessions shown in Tokyo time");
        let (_, page) = b.get("/account").await;
        assert!(page.contains(" UTC<"), "another viewer keeps UTC");
    }

    async fn admins_see_the_mail_queue_and_retry_or_cancel_messages(backend) {
        let app = TestApp::spawn(backend).await;
        let admin = app.create_user("admin@example.org", &[Role::Admin], None).await;
        let b = app.browser_signed_in(&admin).await;
        b.get("/admin/users/invite").await;
        for who in ["one@example.org", "two@example.org"] {
            b.post("/admin/users/invite", &[("email", who), ("display_name", who), ("roles", "council")]).await;
        }
        let (status, page) = b.get("/admin/mail").await;
        assert_eq!(status, 200);
        assert!(page.contains("pending (2)") && page.contains("one@example.org") && page.contains("You are invited"));
        let ids: Vec<i64> = app.with_conn(|c| schema::outbox::table.order(schema::outbox::id).select(schema::outbox::id).load(c).unwrap()).await;
        // Cancel a pending one.
        assert_eq!(b.post(&format!("/admin/mail/{}/cancel", ids[0]), &[]).await.status(), 303);
        // One that died can be sent again; a pending one cannot be "retried", a cancelled one not cancelled.
        let dead = ids[1];
        app.with_conn(move |c| {
            diesel::update(schema::outbox::table.find(dead))
                .set((schema::outbox::status.eq("dead"), schema::outbox::attempts.eq(5), schema::outbox::last_error.eq("550 mailbox unavailable")))
                .execute(c)
                .unwrap()
        })
        .await;
        let (_, dead_page) = b.get("/admin/mail?status=dead").await;
        assert!(dead_page.contains("550 mailbox unavailable") && dead_page.contains("Send again"));
        assert_eq!(b.post(&format!("/admin/mail/{}/cancel", ids[0]), &[]).await.status(), 409);
        assert_eq!(b.post(&format!("/admin/mail/{dead}/retry"), &[]).await.status(), 303);
        let statuses: Vec<(String, i32)> = app.with_conn(|c| schema::outbox::table.order(schema::outbox::id).select((schema::outbox::status, schema::outbox::attempts)).load(c).unwrap()).await;
        assert_eq!(statuses, vec![("cancelled".to_string(), 0), ("pending".to_string(), 0)]);
        let (_, log) = b.get("/admin/audit?action=mail.").await;
        assert!(log.contains("mail.cancelled") && log.contains("mail.retried"));
        assert_eq!(b.post("/admin/mail/999999/retry", &[]).await.status(), 404);
        // Nobody but admins sees the queue.
        let treasurer = app.create_user("t@example.org", &[Role::Treasurer], None).await;
        assert_eq!(app.browser_signed_in(&treasurer).await.get("/admin/mail").await.0, 403);
    }
}
