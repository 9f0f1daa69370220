//! The pages and the HTTP frame around them: layout, errors in both forms, security headers, assets, the
//! OpenAPI document and its docs page.

use serde_json::Value;
use steward::funding::service::{create_priority, PriorityInput};

use crate::backend_tests;
use crate::support::TestApp;

const SECURITY_HEADERS: &[&str] =
    &["content-security-policy", "x-content-type-options", "referrer-policy", "x-frame-options", "x-request-id"];

backend_tests! {
    async fn home_page_shows_the_foundation_and_its_priorities(backend) {
        let app = TestApp::spawn(backend).await;
        app.seed_demo().await;
        let res = app.get("/").await;
        assert_eq!(res.status(), 200);
        assert!(res.headers()["content-type"].to_str().unwrap().starts_with("text/html"));
        let html = res.text().await.unwrap();
        assert!(html.contains("Open Notebook Foundation"));
        for title in ["Grow contributor capacity", "Reliability, security and consistency of the software", "Develop the foundation"] {
            assert!(html.contains(title), "home page lacks {title}");
        }
        assert!(html.contains("<main id=\"main\""), "landmark missing");
    }

    async fn priorities_page_lists_key_outcomes_in_order(backend) {
        let app = TestApp::spawn(backend).await;
        app.seed_demo().await;
        let html = app.get("/priorities").await.text().await.unwrap();
        let coverage = html.find("Higher test coverage of key repositories").expect("outcome shown");
        let releases = html.find("More frequent minor releases").expect("outcome shown");
        assert!(coverage < releases, "outcomes out of order");
        assert!(html.find("Grow contributor capacity").unwrap() < html.find("Develop the foundation").unwrap());
    }

    async fn empty_foundation_says_what_to_do(backend) {
        let app = TestApp::spawn(backend).await;
        let html = app.get("/").await.text().await.unwrap();
        assert!(html.contains("No funding priorities are set up yet"));
    }

    async fn text_is_escaped_in_pages(backend) {
        let app = TestApp::spawn(backend).await;
        app.with_conn(|conn| {
            create_priority(conn, steward::audit::Actor::Cli, &PriorityInput {
                title: "<script>alert(1)</script> & more".into(),
                slug: "xss".into(),
                summary: "<img src=x onerror=alert(2)>".into(),
                outcomes: vec!["<b>bold</b>".into()],
            })
            .unwrap()
        })
        .await;
        let html = app.get("/priorities").await.text().await.unwrap();
        assert!(!html.contains("<script>alert(1)"));
        assert!(!html.contains("<img src=x"));
        assert!(!html.contains("<b>bold</b>"));
        // askama writes numeric character references.
        assert!(html.contains("&#60;script&#62;alert(1)&#60;/script&#62; &#38; more"), "{html}");
    }

    async fn unknown_page_is_an_html_404_with_a_request_id(backend) {
        let app = TestApp::spawn(backend).await;
        let res = app.get("/no-such-page").await;
        assert_eq!(res.status(), 404);
        assert!(res.headers()["content-type"].to_str().unwrap().starts_with("text/html"));
        let request_id = res.headers()["x-request-id"].to_str().unwrap().to_string();
        let html = res.text().await.unwrap();
        assert!(html.contains("Not found"));
        assert!(html.contains(&request_id), "the page quotes the request id");
    }

    async fn unknown_api_path_is_problem_json(backend) {
        let app = TestApp::spawn(backend).await;
        let res = app.get("/api/v1/no-such-thing").await;
        assert_eq!(res.status(), 404);
        assert_eq!(res.headers()["content-type"], "application/problem+json");
        let body: Value = res.json().await.unwrap();
        assert_eq!(body["status"], 404);
        assert_eq!(body["instance"], "/api/v1/no-such-thing");
        assert!(body["title"].is_string() && body["detail"].is_string() && body["request_id"].is_string());
    }

    async fn every_response_carries_security_headers(backend) {
        let app = TestApp::spawn(backend).await;
        for path in ["/", "/healthz", "/no-such-page", "/api/v1/openapi.json", "/api/v1/nothing"] {
            let res = app.get(path).await;
            for name in SECURITY_HEADERS {
                assert!(res.headers().contains_key(*name), "{path} lacks {name}");
            }
            let csp = res.headers()["content-security-policy"].to_str().unwrap();
            assert!(csp.contains("frame-ancestors 'none'") && !csp.contains("unsafe-inline"), "{csp}");
            assert!(!res.headers().contains_key("strict-transport-security"), "no HSTS over plain http");
        }
    }

    async fn https_base_url_turns_on_hsts(backend) {
        let app = TestApp::spawn_with(backend, |c| c.base_url = "https://steward.example.org".into()).await;
        let res = app.get("/healthz").await;
        assert!(res.headers()["strict-transport-security"].to_str().unwrap().contains("max-age="));
    }

    async fn stylesheet_is_served_with_a_long_cache(backend) {
        let app = TestApp::spawn(backend).await;
        let html = app.get("/").await.text().await.unwrap();
        let start = html.find("/static/steward.").expect("stylesheet link");
        let href: String = html[start..].chars().take_while(|c| *c != '"').collect();
        let res = app.get(&href).await;
        assert_eq!(res.status(), 200);
        assert!(res.headers()["content-type"].to_str().unwrap().starts_with("text/css"));
        assert!(res.headers()["cache-control"].to_str().unwrap().contains("immutable"));
        assert!(res.text().await.unwrap().contains(":focus-visible"));
        assert_eq!(app.get("/static/steward.00000000.css").await.status(), 404);
    }

    async fn openapi_document_describes_the_api(backend) {
        let app = TestApp::spawn(backend).await;
        let res = app.get("/api/v1/openapi.json").await;
        assert_eq!(res.status(), 200);
        let doc: Value = res.json().await.unwrap();
        assert!(doc["openapi"].as_str().unwrap().starts_with("3."));
        for path in ["/healthz", "/readyz", "/api/v1/openapi.json"] {
            assert!(doc["paths"][path]["get"].is_object(), "{path} missing from the document");
        }
        assert!(doc["components"]["schemas"]["Problem"].is_object());
        // Every API route the app serves is in the document, with its method.
        let missing: Vec<String> = steward::app::route_table()
            .into_iter()
            .filter(|r| r.path.starts_with("/api/v1/"))
            .filter(|r| !doc["paths"][r.path][r.method.as_str().to_lowercase()].is_object())
            .map(|r| format!("{} {}", r.method, r.path))
            .collect();
        assert!(missing.is_empty(), "API routes missing from the OpenAPI document: {missing:?}");
        let html = app.get("/api/docs").await.text().await.unwrap();
        assert!(html.contains("/readyz") && html.contains("Steward API"));
    }

    async fn compressed_when_the_client_asks(backend) {
        let app = TestApp::spawn(backend).await;
        app.seed_demo().await;
        let res = app.client.get(app.url("/priorities")).header("accept-encoding", "gzip").send().await.unwrap();
        assert_eq!(res.headers()["content-encoding"], "gzip");
    }

    async fn csp_reports_are_accepted(backend) {
        let app = TestApp::spawn(backend).await;
        let report = r#"{"csp-report":{"violated-directive":"script-src","blocked-uri":"https://evil.example/x.js?token=1"}}"#;
        let res = app.client.post(app.url("/csp-report")).header("content-type", "application/csp-report")
            .body(report).send().await.unwrap();
        assert_eq!(res.status(), 204);
        let res = app.client.post(app.url("/csp-report")).body(vec![b'x'; 64 * 1024]).send().await.unwrap();
        assert_eq!(res.status(), 413);
    }
}
