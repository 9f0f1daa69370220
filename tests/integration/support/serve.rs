//! `steward serve` as a child process, as an operator runs it: for tests that stop, freeze or starve what
//! the server depends on (its database, its disk, its SMTP server) and for the soak, which samples the
//! server's own memory.

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use super::free_port;

pub struct Serve {
    child: Child,
    pub base: String,
    log: PathBuf,
    _dir: tempfile::TempDir,
}

impl Serve {
    /// Starts `steward serve` on a free port against `database_url` (migrated already) with only these
    /// settings (and PATH) in its environment, and waits until `/healthz` answers.
    pub async fn start(database_url: &str, env: &[(&str, &str)]) -> Self {
        let dir = tempfile::tempdir().expect("temp dir");
        let port = free_port();
        let base = format!("http://127.0.0.1:{port}");
        let log = dir.path().join("serve.log");
        let out = std::fs::File::create(&log).expect("log file");
        let mut command = super::steward_command();
        command
            .arg("serve")
            .env("DATABASE_URL", database_url)
            .env("STEWARD_BIND", format!("127.0.0.1:{port}"))
            .env("STEWARD_BASE_URL", &base)
            .env("STEWARD_DATA_DIR", dir.path().join("data"))
            .env("STEWARD_SIGN_IN_PER_IP", "1000000")
            .env("RUST_LOG", "warn");
        for (k, v) in env {
            command.env(k, v);
        }
        let child = command
            .stdin(Stdio::null())
            .stdout(out.try_clone().expect("log file"))
            .stderr(out)
            .spawn()
            .expect("start steward serve");
        let serve = Self { child, base, log, _dir: dir };
        let client = reqwest::Client::new();
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let up = client.get(serve.url("/healthz")).timeout(Duration::from_secs(1)).send().await;
            if up.is_ok_and(|r| r.status() == 200) {
                return serve;
            }
            assert!(Instant::now() < deadline, "steward serve did not start:\n{}", serve.log());
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.base, path)
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Whether the process is still running.
    pub fn is_running(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(None))
    }

    /// The server's resident memory now (`VmRSS`), in KiB.
    pub fn rss_kib(&self) -> Option<u64> {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.pid())).ok()?;
        let line = status.lines().find(|l| l.starts_with("VmRSS:"))?;
        line.split_whitespace().nth(1)?.parse().ok()
    }

    /// The server's peak resident memory so far (`VmHWM`), in KiB.
    pub fn peak_kib(&self) -> Option<u64> {
        steward::bench::peak_memory_kib_of(&self.pid().to_string())
    }

    /// What the server wrote to stdout and stderr so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// Stops the server: SIGTERM, so it exits as in production (and a coverage build writes its profile), then
    /// SIGKILL if it has not exited within 10 seconds.
    pub fn stop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = Command::new("kill").arg("-TERM").arg(self.child.id().to_string()).status();
            let deadline = Instant::now() + Duration::from_secs(10);
            while Instant::now() < deadline {
                if let Ok(Some(_)) = self.child.try_wait() {
                    return;
                }
                std::thread::sleep(Duration::from_millis(50));
            }
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Serve {
    fn drop(&mut self) {
        self.stop();
    }
}
