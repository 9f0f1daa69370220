//! Liveness and readiness.

use serde_json::Value;

use crate::backend_tests;
use crate::support::{Backend, TestApp};

backend_tests! {
    async fn healthz_answers_without_the_database(backend) {
        let app = TestApp::spawn(backend).await;
        let res = app.get("/healthz").await;
        assert_eq!(res.status(), 200);
        let body: Value = res.json().await.unwrap();
        assert_eq!(body["status"], "ok");
    }

    async fn readyz_is_ready_with_migrations_applied(backend) {
        let app = TestApp::spawn(backend).await;
        let res = app.get("/readyz").await;
        assert_eq!(res.status(), 200);
        let body: Value = res.json().await.unwrap();
        assert_eq!(body["status"], "ready");
        assert_eq!(body["pending_migrations"], 0);
        assert_eq!(body["database"], if backend == Backend::Sqlite { "sqlite" } else { "postgres" });
    }

    async fn readyz_fails_when_the_database_is_gone(backend) {
        let mut app = TestApp::spawn(backend).await;
        assert_eq!(app.get("/readyz").await.status(), 200);
        match app.test_db.sqlite_path() {
            Some(path) => {
                for suffix in ["", "-wal", "-shm"] {
                    let _ = std::fs::remove_file(format!("{}{suffix}", path.display()));
                }
            }
            None => app.test_db.drop_now(),
        }
        let res = app.get("/readyz").await;
        assert_eq!(res.status(), 503);
        let body: Value = res.json().await.unwrap();
        assert_eq!(body["status"], "unavailable");
        assert!(body["reason"].as_str().unwrap().len() > 5, "{body}");
        // Liveness does not depend on the database.
        assert_eq!(app.get("/healthz").await.status(), 200);
    }

    async fn readyz_reports_pending_migrations(backend) {
        let app = TestApp::spawn(backend).await;
        app.with_conn(|conn| steward::db::revert_all_migrations(conn).unwrap()).await;
        let res = app.get("/readyz").await;
        assert_eq!(res.status(), 503);
        let body: Value = res.json().await.unwrap();
        assert!(body["pending_migrations"].as_u64().unwrap() >= 1, "{body}");
    }
}
