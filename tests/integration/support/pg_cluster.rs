//! A private PostgreSQL cluster for tests that stop, freeze or restart the database server: its own data
//! directory and port, so the shared server on :5432 is never touched. Debian's PostgreSQL 15 binaries
//! (`postgresql-15`; scripts/test installs `postgresql`), run as the `postgres` OS user when the tests run as
//! root (initdb refuses root). Stopped and removed when dropped, also when the test fails.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::{Duration, Instant};

use super::free_port;

pub struct PgCluster {
    pub port: u16,
    data: PathBuf,
    log: PathBuf,
    bin: PathBuf,
    dir: tempfile::TempDir,
}

/// Where the server binaries are: `STEWARD_TEST_PG_BIN`, else the newest of Debian's /usr/lib/postgresql/N/bin.
fn bin_dir() -> PathBuf {
    let newest_debian = || {
        let mut versions: Vec<(u32, PathBuf)> = std::fs::read_dir("/usr/lib/postgresql")
            .into_iter()
            .flatten()
            .flatten()
            .filter_map(|e| Some((e.file_name().to_str()?.parse().ok()?, e.path().join("bin"))))
            .collect();
        versions.sort();
        versions.pop().map(|(_, dir)| dir).unwrap_or_else(|| PathBuf::from("/usr/lib/postgresql/15/bin"))
    };
    let dir = std::env::var_os("STEWARD_TEST_PG_BIN").map(PathBuf::from).unwrap_or_else(newest_debian);
    assert!(
        dir.join("initdb").exists() && dir.join("pg_ctl").exists(),
        "no initdb/pg_ctl in {} (install Debian's postgresql: apt-get install postgresql; or set STEWARD_TEST_PG_BIN)",
        dir.display()
    );
    dir
}

fn is_root() -> bool {
    // The owner of our own /proc entry is the effective user.
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| s.lines().find(|l| l.starts_with("Uid:")).map(|l| l.split_whitespace().nth(2) == Some("0")))
        .unwrap_or(false)
}

impl PgCluster {
    /// initdb into a temporary directory (trust authentication) and start the server on a free port, with
    /// its unix socket in that directory.
    pub fn start() -> Self {
        let bin = bin_dir();
        let dir = tempfile::Builder::new().prefix("steward-pg-").tempdir().expect("temp dir");
        let data = dir.path().join("data");
        let log = dir.path().join("server.log");
        if is_root() {
            let chown = Command::new("chown").args(["postgres:postgres"]).arg(dir.path()).status().expect("chown");
            assert!(chown.success(), "chown of the cluster's directory to the postgres user failed");
        }
        let mut cluster = Self { port: free_port(), data, log, bin, dir };
        let initdb = cluster.run(
            "initdb",
            &["-D", &cluster.data_str(), "-A", "trust", "-U", "postgres", "-E", "UTF8", "--locale=C", "--no-sync"],
        );
        assert!(initdb.status.success(), "initdb failed: {}", String::from_utf8_lossy(&initdb.stderr));
        cluster.start_server();
        cluster
    }

    fn data_str(&self) -> String {
        self.data.to_string_lossy().into_owned()
    }

    /// Runs one of the server's programs, as the postgres user when we are root.
    fn run(&self, program: &str, args: &[&str]) -> Output {
        let path = self.bin.join(program);
        let mut command = if is_root() {
            let mut c = Command::new("runuser");
            c.args(["-u", "postgres", "--"]).arg(&path);
            c
        } else {
            Command::new(&path)
        };
        command.args(args).current_dir(self.dir.path()).output().unwrap_or_else(|e| panic!("run {program}: {e}"))
    }

    fn server_options(&self) -> String {
        // fsync off: the tests kill the server, never the machine; crash recovery still replays the WAL.
        format!(
            "-p {} -k {} -c listen_addresses=127.0.0.1 -c fsync=off -c max_connections=40",
            self.port,
            self.dir.path().display()
        )
    }

    fn start_server(&mut self) {
        let (data, log, options) = (self.data_str(), self.log.to_string_lossy().into_owned(), self.server_options());
        let out = self.run("pg_ctl", &["-D", &data, "-l", &log, "-o", &options, "-w", "-t", "30", "start"]);
        assert!(out.status.success(), "pg_ctl start failed: {}\n{}", String::from_utf8_lossy(&out.stderr), self.log());
    }

    /// `pg_ctl restart -m MODE` (`fast` or `immediate`), waiting until the server accepts connections.
    pub fn restart(&self, mode: &str) {
        let (data, log, options) = (self.data_str(), self.log.to_string_lossy().into_owned(), self.server_options());
        let out =
            self.run("pg_ctl", &["-D", &data, "-l", &log, "-o", &options, "-m", mode, "-w", "-t", "60", "restart"]);
        assert!(
            out.status.success(),
            "pg_ctl restart failed: {}\n{}",
            String::from_utf8_lossy(&out.stderr),
            self.log()
        );
    }

    /// A URL for database `name` over TCP.
    pub fn url(&self, name: &str) -> String {
        format!("postgres://postgres@127.0.0.1:{}/{name}", self.port)
    }

    /// The server's log so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// The postmaster's pid, from `postmaster.pid`.
    pub fn postmaster_pid(&self) -> Option<i32> {
        std::fs::read_to_string(self.data.join("postmaster.pid")).ok()?.lines().next()?.trim().parse().ok()
    }

    /// The postmaster and every process it started (backends, checkpointer, WAL writer...).
    pub fn pids(&self) -> Vec<i32> {
        let Some(postmaster) = self.postmaster_pid() else { return Vec::new() };
        let mut pids = vec![postmaster];
        for entry in std::fs::read_dir("/proc").into_iter().flatten().flatten() {
            let Some(pid) = entry.file_name().to_str().and_then(|n| n.parse::<i32>().ok()) else { continue };
            let Ok(stat) = std::fs::read_to_string(entry.path().join("stat")) else { continue };
            // After the command name (in parentheses, which may hold spaces): state, then the parent's pid.
            let parent =
                stat.rsplit_once(')').and_then(|(_, rest)| rest.split_whitespace().nth(1)?.parse::<i32>().ok());
            if parent == Some(postmaster) {
                pids.push(pid);
            }
        }
        pids
    }

    /// Sends `signal` (`STOP`, `CONT`...) to every process of the cluster; returns how many got it.
    pub fn signal_all(&self, signal: &str) -> usize {
        let pids = self.pids();
        for pid in &pids {
            let _ = Command::new("kill").args([&format!("-{signal}"), &pid.to_string()]).status();
        }
        pids.len()
    }

    /// Waits until the server accepts a connection (after a restart).
    pub fn wait_ready(&self, within: Duration) {
        let deadline = Instant::now() + within;
        loop {
            let ready = self.run("pg_isready", &["-h", "127.0.0.1", "-p", &self.port.to_string(), "-t", "1"]);
            if ready.status.success() {
                return;
            }
            assert!(Instant::now() < deadline, "the test cluster did not come back:\n{}", self.log());
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    pub fn data_dir(&self) -> &Path {
        &self.data
    }
}

impl Drop for PgCluster {
    fn drop(&mut self) {
        // A frozen server cannot stop: resume it first.
        self.signal_all("CONT");
        let data = self.data_str();
        let stopped = self.run("pg_ctl", &["-D", &data, "-m", "immediate", "-w", "-t", "20", "stop"]);
        if !stopped.status.success() {
            if let Some(pid) = self.postmaster_pid() {
                let _ = Command::new("kill").args(["-KILL", &pid.to_string()]).status();
            }
        }
    }
}
