//! The pages in headless Chromium (Debian's `chromium`): each role signs in and does its main task, the main
//! pages pass axe-core (no serious or critical violation), fit a 360 px phone and break no CSP rule.
//! `tests/browser/run.mjs` drives the browser with playwright-core; `scripts/test` installs Chromium and the
//! npm packages. Each run saves screenshots of the main pages under `target/screenshots/<backend>/`, never into
//! the tracked tree: `scripts/screenshots` copies the SQLite run's into `docs/screenshots/` for the README.

use std::process::Command;

use crate::backend_tests;
use crate::support::TestApp;

backend_tests! {
    async fn every_role_does_its_main_task_in_a_real_browser(backend) {
        let root = env!("CARGO_MANIFEST_DIR");
        let chromium = std::env::var("STEWARD_CHROMIUM").unwrap_or_else(|_| "/usr/bin/chromium".into());
        assert!(
            std::path::Path::new(&chromium).exists(),
            "no Chromium at {chromium}: install Debian's chromium (scripts/test does), or set STEWARD_CHROMIUM"
        );
        assert!(
            std::path::Path::new(&format!("{root}/tests/browser/node_modules/playwright-core")).exists(),
            "tests/browser has no node_modules: run `npm ci` there (scripts/test does)"
        );
        let app = TestApp::spawn(backend).await;
        app.seed_demo().await;
        let failures = format!("{root}/target/browser-failures/{backend:?}");
        let _ = std::fs::remove_dir_all(&failures);
        let mut cmd = Command::new("node");
        cmd.arg(format!("{root}/tests/browser/run.mjs"))
            .env("BASE_URL", &app.address)
            .env("CHROMIUM", &chromium)
            .env("FAILURE_DIR", &failures);
        let screenshots = format!("{root}/target/screenshots/{backend:?}");
        let _ = std::fs::remove_dir_all(&screenshots);
        cmd.env("SCREENSHOT_DIR", &screenshots);
        let out = tokio::task::spawn_blocking(move || cmd.output()).await.unwrap().expect("run node");
        let stdout = String::from_utf8_lossy(&out.stdout);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(out.status.success(), "{stdout}\n{stderr}\nscreenshots of what failed: {failures}");
        println!("{stdout}");
    }
}
