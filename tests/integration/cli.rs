//! The `steward` command as an operator meets it: bad settings end with one clear line, `migrate` and
//! `demo` work, and SIGTERM lets an in-flight request finish.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use diesel::connection::SimpleConnection;

use crate::backend_tests;
use crate::support::{free_port, steward_bin, TestDb};

/// Runs `steward ARGS` with only the given environment (plus PATH) and quiet logs.
fn steward(args: &[&str], env: &[(&str, &str)]) -> Output {
    let mut cmd = crate::support::steward_command();
    cmd.args(args).env("RUST_LOG", "error");
    for (k, v) in env {
        cmd.env(k, v);
    }
    cmd.output().expect("run steward")
}

/// The process failed with exactly one line on stderr, which starts with `steward: VAR:`.
fn assert_one_line_error(out: &Output, var: &str) -> String {
    assert!(!out.status.success(), "expected failure, got {:?}", out.status);
    let stderr = String::from_utf8_lossy(&out.stderr);
    let lines: Vec<&str> = stderr.lines().filter(|l| !l.trim().is_empty()).collect();
    assert_eq!(lines.len(), 1, "expected one line, got:\n{stderr}");
    assert!(lines[0].starts_with(&format!("steward: {var}:")), "line does not name {var}: {}", lines[0]);
    assert!(!stderr.contains("panicked"), "{stderr}");
    lines[0].to_string()
}

fn wait_until_listening(port: u16) {
    let deadline = Instant::now() + Duration::from_secs(20);
    while TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(Instant::now() < deadline, "steward did not start listening on {port}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn http_get(port: u16, path: &str) -> String {
    let mut stream = TcpStream::connect(("127.0.0.1", port)).unwrap();
    write!(stream, "GET {path} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n").unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).unwrap();
    response
}

#[test]
fn malformed_database_url_is_one_line() {
    let line =
        assert_one_line_error(&steward(&["migrate"], &[("DATABASE_URL", "mysql://root@localhost/x")]), "DATABASE_URL");
    assert!(line.contains("'mysql'"), "{line}");
    assert_one_line_error(&steward(&["serve"], &[("DATABASE_URL", "sqlite://")]), "DATABASE_URL");
}

#[test]
fn unreachable_postgres_is_one_line_with_its_reason() {
    let port = free_port();
    let url = format!("postgres://steward:secret-pw@127.0.0.1:{port}/steward");
    let out = steward(&["serve"], &[("DATABASE_URL", url.as_str())]);
    let line = assert_one_line_error(&out, "DATABASE_URL");
    assert!(line.to_lowercase().contains("refused"), "the database's own reason is shown: {line}");
    assert!(!line.contains("secret-pw"), "the password is not printed: {line}");
}

#[test]
fn unwritable_sqlite_path_is_one_line() {
    let line = assert_one_line_error(
        &steward(&["migrate"], &[("DATABASE_URL", "/nonexistent-steward-dir/sub/steward.db")]),
        "DATABASE_URL",
    );
    assert!(line.contains("unable to open"), "{line}");
    let dir = tempfile::tempdir().unwrap();
    // A directory where the file should be.
    let out = steward(&["migrate"], &[("DATABASE_URL", dir.path().to_str().unwrap())]);
    assert_one_line_error(&out, "DATABASE_URL");
}

#[test]
fn other_bad_settings_name_their_variable() {
    let dir = tempfile::tempdir().unwrap();
    let db = format!("sqlite://{}/s.db", dir.path().display());
    for (var, value) in [
        ("STEWARD_BIND", "localhost-ish"),
        ("STEWARD_BASE_URL", "steward.example.org"),
        ("STEWARD_LOG_FORMAT", "yaml"),
        ("STEWARD_SMTP_URL", "mailto:x"),
        ("STEWARD_DB_POOL_SIZE", "lots"),
    ] {
        assert_one_line_error(&steward(&["serve"], &[("DATABASE_URL", db.as_str()), (var, value)]), var);
    }
}

backend_tests! {
    async fn port_in_use_is_one_line(backend) {
        let test_db = TestDb::empty(backend);
        let taken = TcpListener::bind("127.0.0.1:0").unwrap();
        let bind = taken.local_addr().unwrap().to_string();
        let url = test_db.url_string();
        let out = tokio::task::spawn_blocking(move || {
            steward(&["serve"], &[("DATABASE_URL", url.as_str()), ("STEWARD_BIND", bind.as_str())])
        })
        .await
        .unwrap();
        let line = assert_one_line_error(&out, "STEWARD_BIND");
        assert!(line.to_lowercase().contains("in use"), "{line}");
    }

    async fn failing_migration_is_one_line_and_changes_nothing(backend) {
        let test_db = TestDb::empty(backend);
        // A table in the way of the first migration.
        let db = test_db.connect();
        db.get().unwrap().batch_execute("CREATE TABLE settings (something TEXT)").unwrap();
        let url = test_db.url_string();
        let out = tokio::task::spawn_blocking(move || steward(&["migrate"], &[("DATABASE_URL", url.as_str())]))
            .await
            .unwrap();
        let line = assert_one_line_error(&out, "DATABASE_URL");
        assert!(line.contains("migration failed"), "{line}");
        assert!(steward::db::pending_migration_count(&mut db.get().unwrap()).unwrap() >= 1);
    }

    async fn migrate_applies_then_has_nothing_to_do(backend) {
        let test_db = TestDb::empty(backend);
        let url = test_db.url_string();
        let (first, second) = tokio::task::spawn_blocking(move || {
            (steward(&["migrate"], &[("DATABASE_URL", url.as_str())]), steward(&["migrate"], &[("DATABASE_URL", url.as_str())]))
        })
        .await
        .unwrap();
        assert!(first.status.success(), "{}", String::from_utf8_lossy(&first.stderr));
        let said = String::from_utf8_lossy(&first.stdout).to_string();
        assert!(!said.starts_with("0 "), "{said}");
        assert!(String::from_utf8_lossy(&second.stdout).starts_with("0 migration(s)"));
    }

    async fn sigterm_lets_an_in_flight_request_finish(backend) {
        let test_db = TestDb::empty(backend);
        let url = test_db.url_string();
        tokio::task::spawn_blocking(move || {
            let port = free_port();
            let bind = format!("127.0.0.1:{port}");
            let mut child = Command::new(steward_bin())
                .arg("serve")
                .env("DATABASE_URL", &url)
                .env("STEWARD_BIND", &bind)
                .env("RUST_LOG", "warn")
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .unwrap();
            wait_until_listening(port);

            // A request whose body is still arriving when the signal comes.
            let body = r#"{"csp-report":{"violated-directive":"img-src","blocked-uri":"https://cdn.example"}}"#;
            let (first, rest) = body.split_at(20);
            let mut stream = TcpStream::connect(("127.0.0.1", port)).unwrap();
            write!(
                stream,
                "POST /csp-report HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/csp-report\r\n\
                 Content-Length: {}\r\nConnection: close\r\n\r\n{first}",
                body.len()
            )
            .unwrap();
            stream.flush().unwrap();
            std::thread::sleep(Duration::from_millis(300));
            let killed = Command::new("kill").args(["-TERM", &child.id().to_string()]).status().unwrap();
            assert!(killed.success());
            std::thread::sleep(Duration::from_millis(500));
            stream.write_all(rest.as_bytes()).unwrap();
            stream.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
            let mut response = String::new();
            let _ = stream.read_to_string(&mut response);
            assert!(response.starts_with("HTTP/1.1 204"), "in-flight request was cut: {response:?}");

            let deadline = Instant::now() + Duration::from_secs(20);
            let status = loop {
                if let Some(status) = child.try_wait().unwrap() {
                    break status;
                }
                assert!(Instant::now() < deadline, "steward did not stop after SIGTERM");
                std::thread::sleep(Duration::from_millis(50));
            };
            assert!(status.success(), "graceful stop exits 0, got {status:?}");
        })
        .await
        .unwrap();
    }
}

#[test]
fn demo_serves_the_demo_foundation() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("demo.db");
    let port = free_port();
    let mut child = Command::new(steward_bin())
        .args(["demo", "--db", db.to_str().unwrap(), "--bind", &format!("127.0.0.1:{port}")])
        .env("RUST_LOG", "warn")
        .env("STEWARD_DATA_DIR", dir.path().join("data"))
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    wait_until_listening(port);
    let page = http_get(port, "/");
    let _ = child.kill();
    let out = child.wait_with_output().unwrap();
    assert!(page.starts_with("HTTP/1.1 200"), "{page}");
    assert!(page.contains("Open Notebook Foundation") && page.contains("Grow contributor capacity"));
    let said = String::from_utf8_lossy(&out.stdout);
    assert!(said.contains(&format!("http://127.0.0.1:{port}")), "the demo prints its address: {said}");
}
