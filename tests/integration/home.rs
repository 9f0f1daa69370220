//! The home page after sign-in shows each role what needs it, from the demo foundation's real data.

use crate::backend_tests;
use crate::support::{TestApp, TestUser};

fn demo_user(email: &str) -> TestUser {
    TestUser { id: 0, email: email.into(), password: steward::demo::DEMO_PASSWORD.into() }
}

backend_tests! {
    async fn each_role_sees_its_next_steps_on_the_home_page(backend) {
        let app = TestApp::spawn(backend).await;
        app.seed_demo().await;
        let (_, public) = crate::support::browser::Browser::new(&app.address).get("/").await;
        assert!(public.contains("What we fund") && !public.contains("Welcome,"), "the public sees the foundation");

        let rep = app.browser_signed_in(&demo_user("rep@demo.steward.invalid")).await;
        let (status, page) = rep.get("/").await;
        assert_eq!(status, 200);
        assert!(page.contains("Quanta Labs") && page.contains("Member survey (2026-H2)") && page.contains("waiting for your answer"), "{page}");
        assert!(!page.contains("For the council") && !page.contains("Disbursements waiting"), "only the rep's own sections");

        let treasurer = app.browser_signed_in(&demo_user("treasurer@demo.steward.invalid")).await;
        let (_, page) = treasurer.get("/").await;
        assert!(page.contains("The foundation holds") && page.contains("To approve:") && page.contains("Budget use in FY2026"), "{page}");
        assert!(page.contains("overdue invoices"));

        let council = app.browser_signed_in(&demo_user("council@demo.steward.invalid")).await;
        let (_, page) = council.get("/").await;
        assert!(page.contains("Metrics that need attention") && page.contains("off track"), "{page}");
        assert!(page.contains("Fuzzing of notebook parsers"), "a proposal waits for the council");

        let admin = app.browser_signed_in(&demo_user("admin@demo.steward.invalid")).await;
        let (_, page) = admin.get("/").await;
        assert!(page.contains("Mail:") && page.contains("Recent events"), "{page}");
        assert!(!page.contains("The foundation holds"));
    }
}
