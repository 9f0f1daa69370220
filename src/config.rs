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
    pub log_format: LogFormat,
    pub pool_size: u32,
    /// How long a request waits for a database connection before it gets 503.
    pub pool_timeout: Duration,
    /// A session ends after this long without a request.
    pub session_idle: Duration,
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
            let u = url.expose();
            if !(u.starts_with("smtp://") || u.starts_with("smtps://")) {
                return Err(ConfigError::new("STEWARD_SMTP_URL", "must start with smtp:// or smtps://"));
            }
        }

        let mail_from = get("STEWARD_MAIL_FROM").unwrap_or_else(|| "Steward <steward@localhost>".into());
        if !mail_from.contains('@') || mail_from.contains(['\r', '\n']) {
            return Err(ConfigError::new("STEWARD_MAIL_FROM", format!("'{mail_from}' is not an email address")));
        }

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

        Ok(Self {
            database_url,
            bind,
            base_url,
            data_dir,
            secret_key,
            smtp_url,
            mail_from,
            log_format,
            pool_size,
            pool_timeout,
            session_idle,
        })
    }

    /// Whether people reach Steward over https (secure cookies, HSTS).
    pub fn is_https(&self) -> bool {
        self.base_url.starts_with("https://")
    }
}

fn parse_number(
    get: &impl Fn(&str) -> Option<String>,
    var: &'static str,
    default: u32,
    min: u32,
    max: u32,
) -> Result<u32, ConfigError> {
    match get(var) {
        None => Ok(default),
        Some(raw) => match raw.trim().parse::<u32>() {
            Ok(n) if (min..=max).contains(&n) => Ok(n),
            _ => Err(ConfigError::new(var, format!("'{raw}' is not a whole number from {min} to {max}"))),
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
}
