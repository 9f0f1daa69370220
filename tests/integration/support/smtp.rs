//! A real SMTP server for tests: aiosmtpd (Debian's python3-aiosmtpd) writing every message it accepts
//! into a Maildir that the test reads; optionally one that misbehaves on purpose (`smtp_faults.py`).

use std::net::TcpStream;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub struct SmtpServer {
    pub port: u16,
    pub maildir: PathBuf,
    faults: Option<Faults>,
    child: Option<Child>,
    _dir: tempfile::TempDir,
}

/// How a faulty server misbehaves (`support/smtp_faults.py`). It always refuses recipients `reject@...` with 550.
#[derive(Clone, Copy, Debug, Default)]
pub struct Faults {
    /// Answer 451 to the first this many tries of each message.
    pub tempfail: u32,
    /// Wait this long after a message's data before accepting it.
    pub delay: Duration,
}

/// One message as the server received it.
#[derive(Debug, Clone)]
pub struct ReceivedMail {
    pub raw: String,
}

impl ReceivedMail {
    /// The first value of a header, unfolded.
    pub fn header(&self, name: &str) -> Option<String> {
        let head = self.raw.split("\r\n\r\n").next().unwrap_or(&self.raw);
        let head = head.split("\n\n").next().unwrap_or(head);
        let mut value: Option<String> = None;
        for line in head.lines() {
            if let Some(v) = value.as_mut() {
                if line.starts_with([' ', '\t']) {
                    v.push(' ');
                    v.push_str(line.trim());
                    continue;
                }
                break;
            }
            if let Some((k, v)) = line.split_once(':') {
                if k.eq_ignore_ascii_case(name) {
                    value = Some(v.trim().to_string());
                }
            }
        }
        value
    }
}

fn python() -> &'static str {
    // Debian's interpreter has python3-aiosmtpd; a pyenv shim earlier on PATH may not.
    if std::path::Path::new("/usr/bin/python3").exists() {
        "/usr/bin/python3"
    } else {
        "python3"
    }
}

impl SmtpServer {
    /// Starts a server on a free port and waits until it accepts connections.
    pub fn start() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let maildir = dir.path().join("maildir");
        let port = super::free_port();
        let mut server = Self { port, maildir, faults: None, child: None, _dir: dir };
        server.restart();
        server
    }

    /// Starts a server that misbehaves as `faults` says.
    pub fn start_faulty(faults: Faults) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let maildir = dir.path().join("maildir");
        let port = super::free_port();
        let mut server = Self { port, maildir, faults: Some(faults), child: None, _dir: dir };
        server.restart();
        server
    }

    /// Starts the server process again on the same port and Maildir (after [`SmtpServer::stop`]).
    pub fn restart(&mut self) {
        let mut command = Command::new(python());
        match self.faults {
            None => command.args([
                "-m",
                "aiosmtpd",
                "-n",
                "-l",
                &format!("127.0.0.1:{}", self.port),
                "-c",
                "aiosmtpd.handlers.Mailbox",
            ]),
            Some(faults) => command
                .arg(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/integration/support/smtp_faults.py"))
                .args(["--port", &self.port.to_string(), "--tempfail", &faults.tempfail.to_string()])
                .args(["--delay", &format!("{:.3}", faults.delay.as_secs_f64()), "--maildir"]),
        };
        let child = command
            .arg(&self.maildir)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start aiosmtpd (install python3-aiosmtpd; scripts/test does)");
        self.child = Some(child);
        let deadline = Instant::now() + Duration::from_secs(10);
        while TcpStream::connect(("127.0.0.1", self.port)).is_err() {
            assert!(Instant::now() < deadline, "aiosmtpd did not start listening on port {}", self.port);
            std::thread::sleep(Duration::from_millis(25));
        }
    }

    /// Stops the server process; connections are refused until [`SmtpServer::restart`].
    pub fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    pub fn url(&self) -> String {
        format!("smtp://127.0.0.1:{}", self.port)
    }

    /// Every message received so far, oldest first.
    pub fn messages(&self) -> Vec<ReceivedMail> {
        let mut files: Vec<(std::time::SystemTime, PathBuf)> = ["new", "cur"]
            .iter()
            .flat_map(|sub| std::fs::read_dir(self.maildir.join(sub)).into_iter().flatten())
            .filter_map(|e| e.ok())
            .map(|e| (e.metadata().and_then(|m| m.modified()).unwrap_or(std::time::UNIX_EPOCH), e.path()))
            .collect();
        files.sort();
        files.into_iter().filter_map(|(_, p)| std::fs::read_to_string(p).ok()).map(|raw| ReceivedMail { raw }).collect()
    }

    /// How many copies of each Message-ID arrived.
    pub fn copies_by_message_id(&self) -> std::collections::BTreeMap<String, usize> {
        let mut copies = std::collections::BTreeMap::new();
        for message in self.messages() {
            *copies.entry(message.header("Message-ID").unwrap_or_default()).or_insert(0) += 1;
        }
        copies
    }

    /// Waits until at least `count` messages have arrived.
    pub async fn wait_for(&self, count: usize, within: Duration) -> Vec<ReceivedMail> {
        let deadline = Instant::now() + within;
        loop {
            let messages = self.messages();
            if messages.len() >= count || Instant::now() >= deadline {
                return messages;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}

impl Drop for SmtpServer {
    fn drop(&mut self) {
        self.stop();
    }
}
