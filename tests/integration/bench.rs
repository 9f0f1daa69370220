//! The shipped benchmarks run end to end at a small size: `steward bench web` (seed, serve, load every target
//! with wrk, sign-in burst, memory and disk) on each backend, and `steward bench mail` and `bench report`. They
//! check the bench still works as the app grows, not how fast it is: no timing is asserted.

use crate::backend_tests;
use crate::support::{pg_admin_url, steward_command, Backend};

/// The wrk the bench loads with: Debian's, which `scripts/test` and `scripts/bench` install.
fn wrk() -> String {
    let wrk = std::env::var("STEWARD_WRK").unwrap_or_else(|_| "wrk".into());
    let found = std::process::Command::new(&wrk).arg("--version").output().is_ok();
    assert!(found, "`{wrk}` is not installed: apt-get install wrk (scripts/test does), or set STEWARD_WRK");
    wrk
}

backend_tests! {
    async fn bench_web_seeds_serves_and_loads_every_target_without_errors(backend) {
        let dir = tempfile::tempdir().unwrap();
        let json = dir.path().join("bench.json");
        let backend_name = match backend {
            Backend::Sqlite => "sqlite",
            Backend::Postgres => "postgres",
        };
        let out = steward_command()
            .current_dir(dir.path())
            .args(["bench", "web", "--backend", backend_name, "--scale", "0.01", "--seconds", "1", "--clients", "2"])
            .arg("--postgres-url")
            .arg(pg_admin_url())
            .arg("--wrk")
            .arg(wrk())
            .arg("--json")
            .arg(&json)
            .env("RUST_LOG", "error")
            .output()
            .unwrap();
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert!(out.status.success(), "bench web failed:\n{stdout}\n{}", String::from_utf8_lossy(&out.stderr));
        let report: serde_json::Value = serde_json::from_slice(&std::fs::read(&json).unwrap()).unwrap();
        let result = &report["results"][0];
        assert_eq!(result["backend"], backend_name);
        let rows: std::collections::HashMap<String, i64> =
            serde_json::from_value(serde_json::Value::Object(
                result["rows"].as_array().unwrap().iter().map(|r| (r[0].as_str().unwrap().to_string(), r[1].clone())).collect(),
            ))
            .unwrap();
        assert_eq!(rows["members"], 10, "a hundredth of 1,000 organizations: {rows:?}");
        assert_eq!(rows["ledger_entries"], 1_000, "{rows:?}");
        let loads = result["loads"].as_array().unwrap();
        assert!(loads.len() >= 16, "every page, API read and the ceiling: {}", loads.len());
        for load in loads {
            assert!(load["requests"].as_u64().unwrap() > 0, "no request finished: {load}");
            assert_eq!(load["errors"], 0, "errors under load: {load}");
        }
        let burst = &result["sign_in"];
        assert!(burst["sign_ins"].as_u64().unwrap() > 0, "{burst}");
        assert_eq!(burst["errors"], 0, "{burst}");
        assert!(result["server_peak_bytes"].as_u64().unwrap() > 1_000_000, "{result}");
        assert!(result["database_bytes"].as_u64().unwrap() > 100_000, "{result}");
        assert!(result["in_process"].as_array().unwrap().len() >= 3, "{result}");
        println!("{stdout}");
    }
}

#[test]
fn bench_mail_and_report_deliver_everything_to_their_sink() {
    let dir = tempfile::tempdir().unwrap();
    let out = steward_command()
        .current_dir(dir.path())
        .args(["bench", "mail", "--messages", "300"])
        .env("RUST_LOG", "error")
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "bench mail failed:\n{stdout}\n{}", String::from_utf8_lossy(&out.stderr));
    assert!(stdout.contains("300"), "{stdout}");

    let out = steward_command()
        .current_dir(dir.path())
        .args(["bench", "report", "--organizations", "20", "--representatives", "2"])
        .env("RUST_LOG", "error")
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "bench report failed:\n{stdout}\n{}", String::from_utf8_lossy(&out.stderr));
    assert!(stdout.contains("40"), "20 organizations x 2 representatives = 40 emails:\n{stdout}");
}
