//! Request limits through a raw socket, as an attacker sends them: huge bodies (with and without a length)
//! are refused with 413 at once while the process's memory stays flat, and clients that send their head or
//! body a byte at a time are cut off within the timeouts while other requests are served.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use steward::accounts::Role;

use crate::backend_tests;
use crate::support::TestApp;

const MB: usize = 1024 * 1024;

/// The resident memory of this process (the app runs in it), in kB.
fn rss_kb() -> usize {
    std::fs::read_to_string("/proc/self/status")
        .unwrap_or_default()
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or(0)
}

fn port_of(app: &TestApp) -> u16 {
    app.address.rsplit(':').next().and_then(|p| p.parse().ok()).unwrap()
}

/// What became of one oversized request.
struct Outcome {
    status: u16,
    /// From the first byte sent to the status line read.
    elapsed: Duration,
    /// Body bytes the server took before it answered and closed.
    sent: usize,
}

/// Sends `head` then up to `total` body bytes (chunked when `chunked`) from a small buffer in one thread,
/// and reads the answer's status line in another.
fn flood(port: u16, head: &str, total: usize, chunked: bool) -> Outcome {
    let stream = TcpStream::connect(("127.0.0.1", port)).unwrap();
    stream.set_read_timeout(Some(Duration::from_secs(15))).unwrap();
    let mut writer = stream.try_clone().unwrap();
    let sent = Arc::new(AtomicUsize::new(0));
    let stop = Arc::new(AtomicBool::new(false));
    let started = Instant::now();
    let head = head.to_string();
    let handle = {
        let (sent, stop) = (sent.clone(), stop.clone());
        std::thread::spawn(move || {
            if writer.write_all(head.as_bytes()).is_err() {
                return;
            }
            let block = vec![b'a'; 64 * 1024];
            while sent.load(Ordering::Relaxed) < total && !stop.load(Ordering::Relaxed) {
                let ok = if chunked {
                    writer.write_all(format!("{:x}\r\n", block.len()).as_bytes()).is_ok()
                        && writer.write_all(&block).is_ok()
                        && writer.write_all(b"\r\n").is_ok()
                } else {
                    writer.write_all(&block).is_ok()
                };
                if !ok {
                    return;
                }
                sent.fetch_add(block.len(), Ordering::Relaxed);
            }
        })
    };
    let mut reader = stream;
    let mut answer = Vec::new();
    let mut buf = [0u8; 4096];
    while !answer.windows(2).any(|w| w == b"\r\n") {
        match reader.read(&mut buf) {
            Ok(0) | Err(_) => break,
            Ok(n) => answer.extend_from_slice(&buf[..n]),
        }
    }
    let elapsed = started.elapsed();
    stop.store(true, Ordering::Relaxed);
    drop(reader);
    let _ = handle.join();
    let line = String::from_utf8_lossy(&answer).lines().next().unwrap_or_default().to_string();
    let status = line.split_whitespace().nth(1).and_then(|s| s.parse().ok()).unwrap_or(0);
    Outcome { status, elapsed, sent: sent.load(Ordering::Relaxed) }
}

fn head(method_path: &str, headers: &[(&str, String)], length: Option<usize>) -> String {
    let mut h = format!("{method_path} HTTP/1.1\r\nHost: 127.0.0.1\r\n");
    for (k, v) in headers {
        h.push_str(&format!("{k}: {v}\r\n"));
    }
    match length {
        Some(n) => h.push_str(&format!("Content-Length: {n}\r\n\r\n")),
        None => h.push_str("Transfer-Encoding: chunked\r\n\r\n"),
    }
    h
}

/// Whether `/healthz` answers within a second, on its own connection.
async fn healthy(app: &TestApp) -> bool {
    let res = app.client.get(app.url("/healthz")).timeout(Duration::from_secs(1)).send().await;
    res.map(|r| r.status() == 200).unwrap_or(false)
}

backend_tests! {
    async fn huge_bodies_are_refused_at_once_without_growing_memory(backend) {
        let app = TestApp::spawn(backend).await;
        let staff = app.create_user("staff@limits.test", &[Role::Treasurer, Role::Council], None).await;
        let (cookie, csrf) = app.session_for(staff.id).await;
        let token = app.api_token_for(staff.id).await;
        let port = port_of(&app);
        let session = ("Cookie", format!("steward_session={cookie}"));
        let bearer = ("Authorization", format!("Bearer {token}"));
        let form = ("Content-Type", "application/x-www-form-urlencoded".to_string());
        let json = ("Content-Type", "application/json".to_string());
        let multipart = ("Content-Type", "multipart/form-data; boundary=XyZ".to_string());
        // Warm up: the first requests allocate the server's pools and caches.
        for _ in 0..3 {
            assert!(healthy(&app).await);
            let _ = flood(port, &head("POST /api/v1/members", &[bearer.clone(), json.clone()], Some(10)), 10, false);
        }
        let before = rss_kb();
        let cases: Vec<(&str, String, usize, bool, u16)> = vec![
            ("50 MB form", head("POST /sign-in", std::slice::from_ref(&form), Some(50 * MB)), 50 * MB, false, 413),
            ("50 MB form, no length", head("POST /sign-in", std::slice::from_ref(&form), None), 50 * MB, true, 413),
            ("50 MB JSON", head("POST /api/v1/members", &[bearer.clone(), json.clone()], Some(50 * MB)), 50 * MB, false, 413),
            ("50 MB JSON, no length", head("POST /api/v1/members", &[bearer.clone(), json.clone()], None), 50 * MB, true, 413),
            ("2 MB JSON", head("POST /api/v1/members", &[bearer.clone(), json.clone()], Some(2 * MB)), 2 * MB, false, 413),
            (
                "50 MB members import",
                head(&format!("POST /members/import?_csrf={csrf}"), &[session.clone(), multipart.clone()], Some(50 * MB)),
                50 * MB,
                false,
                413,
            ),
            (
                "50 MB members import, no length",
                head(&format!("POST /members/import?_csrf={csrf}"), &[session.clone(), multipart.clone()], None),
                50 * MB,
                true,
                413,
            ),
            (
                "50 MB metrics import, no length",
                head(&format!("POST /metrics/import?_csrf={csrf}"), &[session.clone(), multipart.clone()], None),
                50 * MB,
                true,
                413,
            ),
        ];
        let mut report = Vec::new();
        for (name, h, total, chunked, want) in cases {
            // A multipart body that is one endless file field.
            let h = if h.contains("multipart") {
                format!(
                    "{h}{}",
                    if chunked {
                        let part = "--XyZ\r\nContent-Disposition: form-data; name=\"file\"; filename=\"x.csv\"\r\n\r\n";
                        format!("{:x}\r\n{part}\r\n", part.len())
                    } else {
                        "--XyZ\r\nContent-Disposition: form-data; name=\"file\"; filename=\"x.csv\"\r\n\r\n".to_string()
                    }
                )
            } else {
                h
            };
            let out = tokio::task::spawn_blocking(move || flood(port, &h, total, chunked)).await.unwrap();
            assert_eq!(out.status, want, "{name}");
            assert!(out.elapsed < Duration::from_secs(3), "{name} took {:?}", out.elapsed);
            assert!(out.sent < 40 * MB, "{name}: the server read {} bytes", out.sent);
            assert!(healthy(&app).await, "still serving after {name}");
            report.push(format!("{name}: {} in {:.0?} after {} KB", out.status, out.elapsed, out.sent / 1024));
        }
        let after = rss_kb();
        let grown = after.saturating_sub(before);
        eprintln!("limits ({backend:?}): VmRSS {before} kB -> {after} kB (+{grown} kB)\n  {}", report.join("\n  "));
        assert!(grown < 16 * 1024, "memory grew by {grown} kB");
    }

    async fn slow_clients_are_cut_off_while_others_are_served(backend) {
        let app = TestApp::spawn_with(backend, |c| c.body_timeout = Duration::from_secs(2)).await;
        let staff = app.create_user("staff@slow.test", &[Role::Treasurer], None).await;
        let token = app.api_token_for(staff.id).await;
        let port = port_of(&app);

        // Headers a byte at a time (slowloris): cut off by the head timeout.
        let slow_head = tokio::task::spawn_blocking(move || {
            // The clock starts before the connection exists, so it never starts after the server's does.
            let started = Instant::now();
            let mut s = TcpStream::connect(("127.0.0.1", port)).unwrap();
            s.set_read_timeout(Some(Duration::from_millis(300))).unwrap();
            let text = b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa";
            for byte in text.iter().cycle() {
                if s.write_all(&[*byte]).is_err() {
                    break;
                }
                let mut buf = [0u8; 512];
                match s.read(&mut buf) {
                    Ok(0) => break,
                    Ok(_) => break,
                    Err(e) if e.kind() == std::io::ErrorKind::WouldBlock || e.kind() == std::io::ErrorKind::TimedOut => {}
                    Err(_) => break,
                }
                if started.elapsed() > Duration::from_secs(20) {
                    break;
                }
            }
            started.elapsed()
        });
        // A body a byte at a time, on the API and on a form: cut off by the body timeout with 408.
        let slow_body = |path: &'static str, headers: String| {
            tokio::task::spawn_blocking(move || {
                let mut s = TcpStream::connect(("127.0.0.1", port)).unwrap();
                s.set_read_timeout(Some(Duration::from_millis(200))).unwrap();
                let started = Instant::now();
                write!(s, "POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\n{headers}Content-Length: 100000\r\n\r\n").unwrap();
                let mut answer = Vec::new();
                loop {
                    let _ = s.write_all(b"a");
                    let mut buf = [0u8; 1024];
                    match s.read(&mut buf) {
                        Ok(0) => break,
                        Ok(n) => {
                            answer.extend_from_slice(&buf[..n]);
                            if answer.windows(2).any(|w| w == b"\r\n") {
                                break;
                            }
                        }
                        Err(e) if e.kind() == std::io::ErrorKind::WouldBlock || e.kind() == std::io::ErrorKind::TimedOut => {}
                        Err(_) => break,
                    }
                    if started.elapsed() > Duration::from_secs(20) {
                        break;
                    }
                }
                let line = String::from_utf8_lossy(&answer).lines().next().unwrap_or_default().to_string();
                (line, started.elapsed())
            })
        };
        let api = slow_body("/api/v1/members", format!("Authorization: Bearer {token}\r\nContent-Type: application/json\r\n"));
        let form = slow_body("/sign-in", "Content-Type: application/x-www-form-urlencoded\r\n".to_string());

        // Meanwhile everyone else is served.
        let mut served = 0;
        let mut slowest = Duration::ZERO;
        let watch = Instant::now();
        while watch.elapsed() < Duration::from_secs(4) {
            let t = Instant::now();
            assert!(healthy(&app).await, "a normal request waited behind the slow clients");
            slowest = slowest.max(t.elapsed());
            served += 1;
            tokio::time::sleep(Duration::from_millis(100)).await;
        }

        let (api_line, api_time) = api.await.unwrap();
        let (form_line, form_time) = form.await.unwrap();
        let head_time = slow_head.await.unwrap();
        eprintln!(
            "slow clients ({backend:?}): head cut after {head_time:.1?} (timeout {:?}); API body {api_line:?} after \
             {api_time:.1?}, form body {form_line:?} after {form_time:.1?} (timeout 2s); {served} other requests \
             served meanwhile, slowest {slowest:.0?}",
            steward::app::HEAD_TIMEOUT
        );
        assert!(api_line.contains(" 408 "), "{api_line}");
        assert!(form_line.contains(" 408 "), "{form_line}");
        for t in [api_time, form_time] {
            assert!(t >= Duration::from_millis(1900) && t < Duration::from_secs(4), "{t:?}");
        }
        // actix-web sets the head deadline from a clock it refreshes every 500 ms, so the cut can come up to that
        // much before the timeout; a busy machine adds scheduling delay on top. The point is that the slow head is
        // cut by the head timeout, not at once and not never.
        assert!(
            head_time >= steward::app::HEAD_TIMEOUT - Duration::from_millis(1000)
                && head_time < steward::app::HEAD_TIMEOUT + Duration::from_secs(3),
            "{head_time:?}"
        );
        assert!(served >= 10, "{served}");
    }
}
