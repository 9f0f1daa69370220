//! Settings read once from the environment at start-up, validated as a whole.
//!
//! A bad value stops start-up with one line that names the variable. Secrets are wrapped so that `Debug`
//! never prints them.

use std::fmt;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

/// A value that must never reach a log line.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    pub fn new(value: impl Into<String>) -> Self {
        Self(value.into())
    }

    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret([redacted])")
    }
}

/// Where the data lives, decided by the scheme of `DATABASE_URL`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum DatabaseUrl {
    /// A file path (or `:memory:`), given as a bare path, `sqlite://PATH` or `sqlite:PATH`.
    Sqlite(String),
    /// A libpq connection URL, `postgres://` or `postgresql://`.
    Postgres(Secret),
}

impl DatabaseUrl {
    /// Reads a `DATABASE_URL` value; anything with an unknown scheme is refused rather than guessed at.
    pub fn parse(raw: &str) -> Result<Self, String> {
        let raw = raw.trim();
        if raw.is_empty() {
            return Err("is empty; use a file path, sqlite://PATH or postgres://USER@HOST/DB".into());
        }
        if raw.starts_with("postgres://") || raw.starts_with("postgresql://") {
            let rest = raw.split_once("://").map(|(_, rest)| rest).unwrap_or_default();
            if rest.is_empty() || rest.starts_with('/') && rest.len() == 1 {
                return Err("has no host or database after postgres://".into());
            }
            return Ok(Self::Postgres(Secret::new(raw)));
        }
        if let Some(path) = raw.strip_prefix("sqlite://").or_else(|| raw.strip_prefix("sqlite:")) {
            if path.is_empty() {
                return Err("has no file path after sqlite://".into());
            }
            return Ok(Self::Sqlite(path.to_string()));
        }
        if let Some((scheme, _)) = raw.split_once("://") {
            return Err(format!(
                "has the unsupported scheme '{scheme}'; use a file path, sqlite://PATH or postgres://USER@HOST/DB"
            ));
        }
        Ok(Self::Sqlite(raw.to_string()))
    }

    pub fn backend(&self) -> &'static str {
        match self {
            Self::Sqlite(_) => "sqlite",
            Self::Postgres(_) => "postgres",
        }
    }

    /// The URL with any password replaced, fit for a log line or an error message.
    pub fn redacted(&self) -> String {
        match self {
            Self::Sqlite(path) => format!("sqlite://{path}"),
            Self::Postgres(url) => redact_password(url.expose()),
        }
    }
}

fn redact_password(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_string();
    };
    let (authority, tail) = match rest.find('/') {
        Some(i) => rest.split_at(i),
        None => (rest, ""),
    };
    match authority.rsplit_once('@') {
        Some((userinfo, host)) => {
            let user = userinfo.split(':').next().unwrap_or_default();
            if userinfo.contains(':') {
                format!("{scheme}://{user}:***@{host}{tail}")
            } else {
                format!("{scheme}://{user}@{host}{tail}")
            }
        }
        None => url.to_string(),
    }
}

/// The key that signs links (unsubscribe), resolved at start: `STEWARD_SECRET_KEY` or the database's own.
#[derive(Clone, Debug)]
pub struct SigningKey(pub Secret);

impl SigningKey {
    /// HMAC-SHA256 of `message`, hex-encoded.
    pub fn sign(&self, message: &str) -> String {
        use hmac::{Hmac, Mac};
        let mut mac = <Hmac<sha2::Sha256> as Mac>::new_from_slice(self.0.expose().as_bytes())
            .expect("HMAC accepts keys of any length");
        mac.update(message.as_bytes());
        hex::encode(mac.finalize().into_bytes())
    }

    /// Whether `signature` is [`SigningKey::sign`] of `message`, compared in constant time.
    pub fn verify(&self, message: &str, signature: &str) -> bool {
        use subtle::ConstantTimeEq;
        let expected = self.sign(message);
        expected.len() == signature.len() && bool::from(expected.as_bytes().ct_eq(signature.as_bytes()))
    }
}

/// How the outbox is delivered. Every duration is read as `250ms`, `30s`, `5m` or `1h` (a bare number is
/// seconds), so tests can run retries in milliseconds.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MailSettings {
    /// Tries before a temporarily failing message is given up as dead.
    pub max_attempts: u32,
    /// Wait before the first retry; it doubles for each further one, up to `retry_max`, with jitter.
    pub retry_base: Duration,
    pub retry_max: Duration,
    /// How often an idle worker looks for due messages.
    pub poll_interval: Duration,
    /// How long a claimed message stays reserved for its worker; if the worker dies, another takes the message
    /// over after this.
    pub lease: Duration,
    /// Messages claimed at once.
    pub batch_size: u32,
    /// Messages one worker sends at the same time (and SMTP connections it keeps open).
    pub concurrency: u32,
    /// Limit for connecting to the SMTP server and for each command.
    pub smtp_timeout: Duration,
    /// Days a sent (or given up) message keeps its body; then only its recipient, subject and times remain.
    pub retention_days: u32,
}

impl Default for MailSettings {
    fn default() -> Self {
        Self {
            max_attempts: 12,
            retry_base: Duration::from_secs(30),
            retry_max: Duration::from_secs(3600),
            poll_interval: Duration::from_secs(2),
            lease: Duration::from_secs(300),
            batch_size: 50,
            concurrency: 8,
            smtp_timeout: Duration::from_secs(30),
            retention_days: 30,
        }
    }
}

impl MailSettings {
    /// The longest one message can take to send: connecting, the handshake and the commands of one message,
    /// each bounded by `smtp_timeout`. A worker starts a send only while its lease has this much time left.
    pub fn send_budget(&self) -> Duration {
        self.smtp_timeout * 4
    }
}

/// How Steward talks to the SMTP server named by `STEWARD_SMTP_URL`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SmtpTls {
    /// `smtps://`: TLS from the first byte.
    Wrapper,
    /// `smtp://`: STARTTLS, refusing a server that does not offer it.
    Required,
    /// `smtp://...?tls=opportunistic`, and the default for a server on the loopback interface: STARTTLS when
    /// offered.
    Opportunistic,
    /// `smtp://...?tls=none`: plain text, for a relay on a trusted network.
    None,
}

/// `STEWARD_SMTP_URL` taken apart: `smtp://` (STARTTLS) or `smtps://`, optional `user:password@`, host, port,
/// and `?tls=required|opportunistic|none` for `smtp://`.
#[derive(Clone, Debug)]
pub struct SmtpEndpoint {
    /// The URL in the form lettre reads (its `tls` query says what ours resolved to).
    pub lettre_url: Secret,
    pub tls: SmtpTls,
    /// The host, for log lines and messages (never the credentials).
    pub host: String,
}

impl SmtpEndpoint {
    pub fn parse(raw: &str) -> Result<Self, String> {
        let mut url = url::Url::parse(raw.trim()).map_err(|e| format!("is not a URL ({e})"))?;
        let scheme = url.scheme().to_string();
        if scheme != "smtp" && scheme != "smtps" {
            return Err("must start with smtp:// or smtps://".into());
        }
        let host = match url.host() {
            Some(url::Host::Domain(d)) if !d.is_empty() => d.to_string(),
            Some(url::Host::Ipv4(ip)) => ip.to_string(),
            Some(url::Host::Ipv6(ip)) => format!("[{ip}]"),
            _ => return Err("has no host".into()),
        };
        // smtp:// is not a scheme the url crate knows, so an IPv4 address arrives as a domain.
        let loopback = match url.host() {
            Some(url::Host::Domain(d)) => {
                d.eq_ignore_ascii_case("localhost") || d.parse::<std::net::IpAddr>().is_ok_and(|ip| ip.is_loopback())
            }
            Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
            Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
            None => false,
        };
        let asked: Vec<String> = url.query_pairs().filter(|(k, _)| k == "tls").map(|(_, v)| v.into_owned()).collect();
        if url.query_pairs().any(|(k, _)| k != "tls") {
            return Err("has a query parameter other than tls".into());
        }
        let tls = match (scheme.as_str(), asked.first().map(String::as_str), asked.len()) {
            (_, _, n) if n > 1 => return Err("names tls more than once".into()),
            ("smtps", None, _) => SmtpTls::Wrapper,
            ("smtps", Some(_), _) => return Err("takes no tls parameter with smtps:// (it is always TLS)".into()),
            ("smtp", None, _) if loopback => SmtpTls::Opportunistic,
            ("smtp", None, _) => SmtpTls::Required,
            ("smtp", Some("required"), _) => SmtpTls::Required,
            ("smtp", Some("opportunistic"), _) => SmtpTls::Opportunistic,
            ("smtp", Some("none"), _) => SmtpTls::None,
            (_, Some(other), _) => {
                return Err(format!("has tls={other}; use tls=required, tls=opportunistic or tls=none"))
            }
            _ => return Err("must start with smtp:// or smtps://".into()),
        };
        match tls {
            SmtpTls::Wrapper | SmtpTls::None => url.set_query(None),
            SmtpTls::Required => url.set_query(Some("tls=required")),
            SmtpTls::Opportunistic => url.set_query(Some("tls=opportunistic")),
        }
        Ok(Self { lettre_url: Secret::new(url.to_string()), tls, host })
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LogFormat {
    Human,
    Json,
}

/// Everything Steward reads from its environment.
#[derive(Clone, Debug)]
pub struct Config {
    pub database_url: DatabaseUrl,
    pub bind: SocketAddr,
    /// The public address people use, e.g. `https://steward.example.org`; https turns on secure cookies and HSTS.
    pub base_url: String,
    /// Where files the service writes live (mail as .eml without SMTP, exports).
    pub data_dir: PathBuf,
    /// Signs links that must not be forged (unsubscribe). Unset: a key generated once and kept in the database,
    /// shared by every instance on that database.
    pub secret_key: Option<Secret>,
    pub smtp_url: Option<Secret>,
    pub mail_from: String,
    pub mail: MailSettings,
    pub log_format: LogFormat,
    pub pool_size: u32,
    /// How long a request waits for the database (for a connection, and for each piece of work on it) before
    /// it gets 503.
    pub pool_timeout: Duration,
    /// A session ends after this long without a request.
    pub session_idle: Duration,
    /// Password sign-ins one client address may try per 15 minutes (a shared office NAT may need more).
    pub sign_in_per_ip: u32,
    /// A request's body must arrive within this long of its head (slow clients are cut off).
    pub body_timeout: Duration,
    /// The GitHub REST API the community-health collector reads (GitHub Enterprise: its `/api/v3`).
    pub github_api_url: String,
    /// The token it reads with; unset, only public data and a low rate limit.
    pub github_token: Option<Secret>,
}

pub const DEFAULT_GITHUB_API_URL: &str = "https://api.github.com";

/// An http(s) API base URL without a trailing slash.
pub fn check_api_url(raw: &str) -> Result<String, String> {
    let url = raw.trim().trim_end_matches('/').to_string();
    match url.strip_prefix("https://").or_else(|| url.strip_prefix("http://")) {
        Some(host) if !host.is_empty() && !host.contains(char::is_whitespace) => Ok(url),
        _ => Err(format!("'{url}' is not an http:// or https:// address")),
    }
}

/// A setting that cannot be used, named by its environment variable.
#[derive(Debug, thiserror::Error)]
#[error("{var}: {message}")]
pub struct ConfigError {
    pub var: &'static str,
    pub message: String,
}

impl ConfigError {
    pub fn new(var: &'static str, message: impl Into<String>) -> Self {
        Self { var, message: message.into() }
    }
}

pub const DEFAULT_DATABASE_URL: &str = "sqlite://steward.db";
pub const DEFAULT_BIND: &str = "127.0.0.1:8080";

impl Config {
    /// Reads the process environment.
    pub fn from_env() -> Result<Self, ConfigError> {
        Self::from_lookup(|name| std::env::var(name).ok())
    }

    /// Reads settings through `lookup`, so tests and the demo can supply their own.
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let get = |name: &str| lookup(name).filter(|v| !v.trim().is_empty());

        let database_url = DatabaseUrl::parse(&get("DATABASE_URL").unwrap_or_else(|| DEFAULT_DATABASE_URL.into()))
            .map_err(|m| ConfigError::new("DATABASE_URL", m))?;

        let bind_raw = get("STEWARD_BIND").unwrap_or_else(|| DEFAULT_BIND.into());
        let bind: SocketAddr = bind_raw.trim().parse().map_err(|_| {
            ConfigError::new("STEWARD_BIND", format!("'{bind_raw}' is not an address like 127.0.0.1:8080"))
        })?;

        let base_url = match get("STEWARD_BASE_URL") {
            Some(url) => {
                let url = url.trim().trim_end_matches('/').to_string();
                let rest = url.strip_prefix("https://").or_else(|| url.strip_prefix("http://"));
                match rest {
                    Some(host) if !host.is_empty() && !host.contains(char::is_whitespace) => url,
                    _ => {
                        return Err(ConfigError::new(
                            "STEWARD_BASE_URL",
                            format!("'{url}' is not an http:// or https:// address"),
                        ))
                    }
                }
            }
            None => format!("http://{bind}"),
        };

        let data_dir = PathBuf::from(get("STEWARD_DATA_DIR").unwrap_or_else(|| "steward-data".into()));

        let secret_key = get("STEWARD_SECRET_KEY").map(Secret::new);
        if secret_key.as_ref().is_some_and(|k| k.expose().len() < 32) {
            return Err(ConfigError::new("STEWARD_SECRET_KEY", "must be at least 32 characters"));
        }

        let smtp_url = get("STEWARD_SMTP_URL").map(Secret::new);
        if let Some(url) = &smtp_url {
            SmtpEndpoint::parse(url.expose()).map_err(|m| ConfigError::new("STEWARD_SMTP_URL", m))?;
        }

        let mail_from = get("STEWARD_MAIL_FROM").unwrap_or_else(|| "Steward <steward@localhost>".into());
        if mail_from.contains(['\r', '\n']) || mail_from.trim().parse::<lettre::message::Mailbox>().is_err() {
            return Err(ConfigError::new(
                "STEWARD_MAIL_FROM",
                format!("'{mail_from}' is not an email address like Steward <steward@example.org>"),
            ));
        }
        let mail = mail_settings(&get)?;

        let log_format = match get("STEWARD_LOG_FORMAT").as_deref().map(str::trim) {
            None | Some("human") => LogFormat::Human,
            Some("json") => LogFormat::Json,
            Some(other) => {
                return Err(ConfigError::new("STEWARD_LOG_FORMAT", format!("'{other}' is neither human nor json")))
            }
        };

        let pool_size = parse_number(&get, "STEWARD_DB_POOL_SIZE", 10, 1, 200)?;
        let pool_timeout = Duration::from_secs(parse_number(&get, "STEWARD_DB_TIMEOUT_SECONDS", 5, 1, 300)?.into());
        let session_idle =
            Duration::from_secs(60 * u64::from(parse_number(&get, "STEWARD_SESSION_IDLE_MINUTES", 30, 1, 24 * 60)?));
        let sign_in_per_ip = parse_number(&get, "STEWARD_SIGN_IN_PER_IP", 30, 1, 1_000_000)?;

        let body_timeout = parse_duration(
            &get,
            "STEWARD_BODY_TIMEOUT",
            Duration::from_secs(60),
            Duration::from_millis(100),
            Duration::from_secs(3600),
        )?;

        let github_api_url =
            check_api_url(&get("STEWARD_GITHUB_API_URL").unwrap_or_else(|| DEFAULT_GITHUB_API_URL.into()))
                .map_err(|m| ConfigError::new("STEWARD_GITHUB_API_URL", m))?;
        let github_token = get("STEWARD_GITHUB_TOKEN").map(|t| Secret::new(t.trim()));

        Ok(Self {
            database_url,
            bind,
            base_url,
            data_dir,
            secret_key,
            smtp_url,
            mail_from,
            mail,
            log_format,
            pool_size,
            pool_timeout,
            session_idle,
            sign_in_per_ip,
            body_timeout,
            github_api_url,
            github_token,
        })
    }

    /// Whether people reach Steward over https (secure cookies, HSTS).
    pub fn is_https(&self) -> bool {
        self.base_url.starts_with("https://")
    }
}

fn mail_settings(get: &impl Fn(&str) -> Option<String>) -> Result<MailSettings, ConfigError> {
    let d = MailSettings::default();
    let ms = Duration::from_millis;
    let settings = MailSettings {
        max_attempts: parse_number(get, "STEWARD_MAIL_MAX_ATTEMPTS", d.max_attempts, 1, 100)?,
        retry_base: parse_duration(get, "STEWARD_MAIL_RETRY_BASE", d.retry_base, ms(1), ms(86_400_000))?,
        retry_max: parse_duration(get, "STEWARD_MAIL_RETRY_MAX", d.retry_max, ms(1), ms(7 * 86_400_000))?,
        poll_interval: parse_duration(get, "STEWARD_MAIL_POLL_INTERVAL", d.poll_interval, ms(10), ms(3_600_000))?,
        lease: parse_duration(get, "STEWARD_MAIL_LEASE", d.lease, ms(100), ms(86_400_000))?,
        batch_size: parse_number(get, "STEWARD_MAIL_BATCH_SIZE", d.batch_size, 1, 1000)?,
        concurrency: parse_number(get, "STEWARD_MAIL_CONCURRENCY", d.concurrency, 1, 64)?,
        smtp_timeout: parse_duration(get, "STEWARD_SMTP_TIMEOUT", d.smtp_timeout, ms(10), ms(600_000))?,
        retention_days: parse_number(get, "STEWARD_MAIL_RETENTION_DAYS", d.retention_days, 1, 3650)?,
    };
    if settings.retry_max < settings.retry_base {
        return Err(ConfigError::new("STEWARD_MAIL_RETRY_MAX", "must not be shorter than STEWARD_MAIL_RETRY_BASE"));
    }
    if settings.lease <= settings.send_budget() {
        return Err(ConfigError::new(
            "STEWARD_MAIL_LEASE",
            format!(
                "must be longer than four times STEWARD_SMTP_TIMEOUT ({} ms), the longest one send may take",
                settings.send_budget().as_millis()
            ),
        ));
    }
    Ok(settings)
}

/// Reads `250ms`, `30s`, `5m`, `1h`; a bare number is seconds.
pub fn parse_duration_text(raw: &str) -> Option<Duration> {
    let raw = raw.trim();
    let split = raw.find(|c: char| !c.is_ascii_digit()).unwrap_or(raw.len());
    let (number, unit) = raw.split_at(split);
    let n: u64 = number.parse().ok()?;
    let millis = match unit.trim() {
        "ms" => Some(n),
        "" | "s" => n.checked_mul(1000),
        "m" => n.checked_mul(60_000),
        "h" => n.checked_mul(3_600_000),
        _ => None,
    }?;
    Some(Duration::from_millis(millis))
}

fn parse_duration(
    get: &impl Fn(&str) -> Option<String>,
    var: &'static str,
    default: Duration,
    min: Duration,
    max: Duration,
) -> Result<Duration, ConfigError> {
    parse_in_range(get, var, (default, min, max), parse_duration_text, || {
        format!("a duration like 250ms, 30s, 5m or 1h from {} ms to {} ms", min.as_millis(), max.as_millis())
    })
}

fn parse_number(
    get: &impl Fn(&str) -> Option<String>,
    var: &'static str,
    default: u32,
    min: u32,
    max: u32,
) -> Result<u32, ConfigError> {
    parse_in_range(
        get,
        var,
        (default, min, max),
        |raw| raw.trim().parse().ok(),
        || format!("a whole number from {min} to {max}"),
    )
}

/// `var`'s value read by `parse`, or `default` when unset; a value outside `min..=max` names the variable and
/// what it should be.
fn parse_in_range<T: PartialOrd>(
    get: &impl Fn(&str) -> Option<String>,
    var: &'static str,
    (default, min, max): (T, T, T),
    parse: impl Fn(&str) -> Option<T>,
    expected: impl Fn() -> String,
) -> Result<T, ConfigError> {
    match get(var) {
        None => Ok(default),
        Some(raw) => match parse(&raw) {
            Some(value) if (min..=max).contains(&value) => Ok(value),
            _ => Err(ConfigError::new(var, format!("'{raw}' is not {}", expected()))),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(vars: &[(&str, &str)]) -> Result<Config, ConfigError> {
        let vars: Vec<(String, String)> = vars.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
        Config::from_lookup(move |name| vars.iter().find(|(k, _)| k == name).map(|(_, v)| v.clone()))
    }

    #[test]
    fn database_url_schemes() {
        assert_eq!(DatabaseUrl::parse("a.db").unwrap(), DatabaseUrl::Sqlite("a.db".into()));
        assert_eq!(DatabaseUrl::parse("sqlite:///tmp/a.db").unwrap(), DatabaseUrl::Sqlite("/tmp/a.db".into()));
        assert_eq!(DatabaseUrl::parse("sqlite:a.db").unwrap(), DatabaseUrl::Sqlite("a.db".into()));
        assert_eq!(DatabaseUrl::parse("postgres://u@h/d").unwrap().backend(), "postgres");
        assert_eq!(DatabaseUrl::parse("postgresql://u@h/d").unwrap().backend(), "postgres");
        assert!(DatabaseUrl::parse("mysql://u@h/d").unwrap_err().contains("'mysql'"));
        assert!(DatabaseUrl::parse("sqlite://").is_err());
        assert!(DatabaseUrl::parse("postgres://").is_err());
        assert!(DatabaseUrl::parse("  ").is_err());
    }

    #[test]
    fn passwords_are_redacted() {
        let url = DatabaseUrl::parse("postgres://app:hunter2@db.internal:5432/steward").unwrap();
        assert_eq!(url.redacted(), "postgres://app:***@db.internal:5432/steward");
        assert!(!format!("{url:?}").contains("hunter2"));
    }

    #[test]
    fn defaults_and_errors_name_the_variable() {
        let c = config(&[]).unwrap();
        assert_eq!(c.bind.to_string(), DEFAULT_BIND);
        assert_eq!(c.base_url, "http://127.0.0.1:8080");
        assert!(!c.is_https());
        assert_eq!(config(&[("STEWARD_BIND", "nope")]).unwrap_err().var, "STEWARD_BIND");
        assert_eq!(config(&[("STEWARD_BASE_URL", "ftp://x")]).unwrap_err().var, "STEWARD_BASE_URL");
        assert_eq!(config(&[("STEWARD_LOG_FORMAT", "xml")]).unwrap_err().var, "STEWARD_LOG_FORMAT");
        assert_eq!(config(&[("STEWARD_DB_POOL_SIZE", "0")]).unwrap_err().var, "STEWARD_DB_POOL_SIZE");
        assert_eq!(config(&[("STEWARD_SMTP_URL", "http://x")]).unwrap_err().var, "STEWARD_SMTP_URL");
        assert!(config(&[("STEWARD_BASE_URL", "https://steward.example.org/")]).unwrap().is_https());
    }

    #[test]
    fn durations() {
        assert_eq!(parse_duration_text("250ms"), Some(Duration::from_millis(250)));
        assert_eq!(parse_duration_text("30s"), Some(Duration::from_secs(30)));
        assert_eq!(parse_duration_text("45"), Some(Duration::from_secs(45)));
        assert_eq!(parse_duration_text("5m"), Some(Duration::from_secs(300)));
        assert_eq!(parse_duration_text(" 2h "), Some(Duration::from_secs(7200)));
        for bad in ["", "ms", "1.5s", "-1s", "3 days", "10x"] {
            assert_eq!(parse_duration_text(bad), None, "{bad}");
        }
    }

    #[test]
    fn mail_settings_are_checked_together() {
        let c = config(&[]).unwrap();
        assert_eq!(c.mail, MailSettings::default());
        let c = config(&[("STEWARD_MAIL_RETRY_BASE", "5ms"), ("STEWARD_MAIL_RETRY_MAX", "50ms")]).unwrap();
        assert_eq!(c.mail.retry_base, Duration::from_millis(5));
        assert_eq!(config(&[("STEWARD_MAIL_RETRY_BASE", "soon")]).unwrap_err().var, "STEWARD_MAIL_RETRY_BASE");
        assert_eq!(
            config(&[("STEWARD_MAIL_RETRY_BASE", "2m"), ("STEWARD_MAIL_RETRY_MAX", "1m")]).unwrap_err().var,
            "STEWARD_MAIL_RETRY_MAX"
        );
        assert_eq!(config(&[("STEWARD_MAIL_LEASE", "1m")]).unwrap_err().var, "STEWARD_MAIL_LEASE");
        assert_eq!(config(&[("STEWARD_MAIL_MAX_ATTEMPTS", "0")]).unwrap_err().var, "STEWARD_MAIL_MAX_ATTEMPTS");
        assert_eq!(config(&[("STEWARD_MAIL_FROM", "nobody")]).unwrap_err().var, "STEWARD_MAIL_FROM");
    }

    #[test]
    fn smtp_urls() {
        let e = SmtpEndpoint::parse("smtp://mail.example.org:587").unwrap();
        assert_eq!((e.tls, e.host.as_str()), (SmtpTls::Required, "mail.example.org"));
        assert!(e.lettre_url.expose().ends_with("?tls=required"));
        assert_eq!(SmtpEndpoint::parse("smtps://u:p%40ss@mail.example.org").unwrap().tls, SmtpTls::Wrapper);
        assert_eq!(SmtpEndpoint::parse("smtp://127.0.0.1:2525").unwrap().tls, SmtpTls::Opportunistic);
        assert_eq!(SmtpEndpoint::parse("smtp://localhost").unwrap().tls, SmtpTls::Opportunistic);
        let plain = SmtpEndpoint::parse("smtp://relay.internal?tls=none").unwrap();
        assert_eq!(plain.tls, SmtpTls::None);
        assert!(!plain.lettre_url.expose().contains('?'));
        assert_eq!(SmtpEndpoint::parse("smtp://x.org?tls=opportunistic").unwrap().tls, SmtpTls::Opportunistic);
        for bad in ["http://x.org", "smtp://", "smtp://x.org?tls=maybe", "smtps://x.org?tls=none", "smtp://x.org?a=b"] {
            assert!(SmtpEndpoint::parse(bad).is_err(), "{bad}");
        }
        let err = config(&[("STEWARD_SMTP_URL", "smtp://user:hunter2@x.org?tls=bad")]).unwrap_err();
        assert!(!err.to_string().contains("hunter2"), "{err}");
    }
}
