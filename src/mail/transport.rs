//! Turning an outbox row into an email and handing it over: to an SMTP server through lettre's pooled
//! transport, or, without `STEWARD_SMTP_URL`, to `.eml` files under the data folder.

use std::path::PathBuf;

use lettre::message::header::{HeaderName, HeaderValue};
use lettre::message::{Mailbox, Message, MultiPart};
use lettre::transport::smtp::PoolConfig;
use lettre::{Address, AsyncSmtpTransport, AsyncTransport, Tokio1Executor};
use sha2::{Digest, Sha256};

use super::outbox::OutboxMessage;
use super::{unsubscribe, Category};
use crate::config::{Config, ConfigError, SigningKey, SmtpEndpoint};

/// Why a message was not handed over.
#[derive(Debug, thiserror::Error)]
pub enum SendError {
    /// Worth another try later: the server could not be reached, the connection broke or timed out, or it
    /// answered 4xx.
    #[error("{message}")]
    Temporary { message: String, code: Option<u16> },
    /// Will fail the same way again: the server answered 5xx, or the message cannot be built.
    #[error("{message}")]
    Permanent { message: String, code: Option<u16> },
}

impl SendError {
    /// The SMTP reply code, when the server gave one (fit for a log line; the text may name the recipient).
    pub fn code(&self) -> Option<u16> {
        match self {
            Self::Temporary { code, .. } | Self::Permanent { code, .. } => *code,
        }
    }

    fn from_smtp(e: &lettre::transport::smtp::Error) -> Self {
        let code = e.status().and_then(|c| c.to_string().parse().ok());
        let message = e.to_string();
        if e.is_permanent() {
            Self::Permanent { message, code }
        } else {
            Self::Temporary { message, code }
        }
    }
}

#[derive(Clone)]
enum Transport {
    Smtp { transport: AsyncSmtpTransport<Tokio1Executor>, host: String },
    Files(PathBuf),
}

/// Builds and hands over messages. Made once at start (the SMTP connection pool lives inside) and cloned
/// cheaply into each task.
#[derive(Clone)]
pub struct Mailer {
    transport: Transport,
    from: Mailbox,
    /// The right-hand side of Message-IDs: the host of `STEWARD_BASE_URL`.
    domain: String,
    base_url: String,
    key: SigningKey,
}

impl Mailer {
    /// The transport the configuration names. Must be called inside the async runtime (the SMTP pool starts a
    /// task of its own).
    pub fn from_config(config: &Config, key: SigningKey) -> Result<Self, ConfigError> {
        let from: Mailbox = config
            .mail_from
            .trim()
            .parse()
            .map_err(|e| ConfigError::new("STEWARD_MAIL_FROM", format!("is not an email address ({e})")))?;
        let transport = match &config.smtp_url {
            Some(url) => {
                let endpoint =
                    SmtpEndpoint::parse(url.expose()).map_err(|m| ConfigError::new("STEWARD_SMTP_URL", m))?;
                let transport = AsyncSmtpTransport::<Tokio1Executor>::from_url(endpoint.lettre_url.expose())
                    .map_err(|e| ConfigError::new("STEWARD_SMTP_URL", e.to_string()))?
                    .timeout(Some(config.mail.smtp_timeout))
                    .pool_config(PoolConfig::new().max_size(config.mail.concurrency))
                    .build();
                Transport::Smtp { transport, host: endpoint.host }
            }
            None => Transport::Files(config.data_dir.join("mail")),
        };
        Ok(Self { transport, from, domain: host_of(&config.base_url), base_url: config.base_url.clone(), key })
    }

    /// Where messages go, for the operator: the SMTP host or the folder.
    pub fn destination(&self) -> String {
        match &self.transport {
            Transport::Smtp { host, .. } => format!("the SMTP server at {host}"),
            Transport::Files(dir) => format!(".eml files in {}", dir.display()),
        }
    }

    /// The email for an outbox row: multipart text and HTML, a Message-ID derived from the idempotency key (so a
    /// message tried again after a crash is recognisably the same one), and for bulk mail to an account the
    /// RFC 8058 one-click unsubscribe headers.
    pub fn compose(&self, m: &OutboxMessage) -> Result<Message, SendError> {
        let permanent = |message: String| SendError::Permanent { message, code: None };
        let address: Address =
            m.to_address.trim().parse().map_err(|e| permanent(format!("the recipient address is not valid ({e})")))?;
        let to = Mailbox::new(m.to_name.clone().filter(|n| !n.trim().is_empty()), address);
        let mut builder = Message::builder()
            .from(self.from.clone())
            .to(to)
            .subject(m.subject.as_str())
            .message_id(Some(message_id(&m.idempotency_key, &self.domain)))
            .raw_header(HeaderValue::new(HeaderName::new_from_ascii_str("Auto-Submitted"), "auto-generated".into()));
        let category = Category::parse(&m.category);
        if let (Some(category), Some(user_id)) = (category.filter(|c| c.is_bulk()), m.user_id) {
            let url = unsubscribe::unsubscribe_url(&self.key, &self.base_url, user_id, category);
            builder = builder
                .raw_header(HeaderValue::new(HeaderName::new_from_ascii_str("List-Unsubscribe"), format!("<{url}>")))
                .raw_header(HeaderValue::new(
                    HeaderName::new_from_ascii_str("List-Unsubscribe-Post"),
                    "List-Unsubscribe=One-Click".into(),
                ));
        }
        builder
            .multipart(MultiPart::alternative_plain_html(m.body_text.clone(), m.body_html.clone()))
            .map_err(|e| permanent(format!("the message cannot be built ({e})")))
    }

    /// Hands one message over. Does not time out as a whole: the SMTP transport bounds connecting and every
    /// command by `STEWARD_SMTP_TIMEOUT` (cutting a send short would return a half-used connection to the pool).
    pub async fn send(&self, m: &OutboxMessage) -> Result<(), SendError> {
        let message = self.compose(m)?;
        match &self.transport {
            Transport::Smtp { transport, .. } => {
                transport.send(message).await.map(drop).map_err(|e| SendError::from_smtp(&e))
            }
            Transport::Files(dir) => {
                let target = dir.clone();
                // The same message always lands in the same file, so a second try replaces the first.
                let name = format!("{:06}-{}.eml", m.id, &key_hash(&m.idempotency_key)[..12]);
                let bytes = message.formatted();
                let temporary = |message: String| SendError::Temporary { message, code: None };
                match tokio::task::spawn_blocking(move || write_atomically(&target, &name, &bytes)).await {
                    Ok(Ok(())) => Ok(()),
                    Ok(Err(e)) => Err(temporary(format!("cannot write to {}: {e}", dir.display()))),
                    Err(e) => Err(temporary(format!("the file writer stopped: {e}"))),
                }
            }
        }
    }

    /// Closes pooled SMTP connections politely (QUIT); for shutdown.
    pub async fn shutdown(&self) {
        if let Transport::Smtp { transport, .. } = &self.transport {
            transport.shutdown().await;
        }
    }
}

fn write_atomically(dir: &std::path::Path, name: &str, bytes: &[u8]) -> std::io::Result<()> {
    std::fs::create_dir_all(dir)?;
    let partial = dir.join(format!(".{name}.partial"));
    std::fs::write(&partial, bytes)?;
    std::fs::rename(&partial, dir.join(name))
}

fn key_hash(idempotency_key: &str) -> String {
    hex::encode(Sha256::digest(idempotency_key.as_bytes()))
}

/// `<HASH@HOST>`: the same idempotency key always gives the same Message-ID, so the recipient's software can
/// tell a message tried again after a crash from a new one.
pub fn message_id(idempotency_key: &str, domain: &str) -> String {
    format!("<{}@{domain}>", &key_hash(idempotency_key)[..32])
}

/// The host of a base URL like `https://steward.example.org:8443/path`: `steward.example.org`.
fn host_of(base_url: &str) -> String {
    let rest = base_url.split_once("://").map_or(base_url, |(_, rest)| rest);
    let authority = rest.split(['/', '?', '#']).next().unwrap_or_default();
    let authority = authority.rsplit_once('@').map_or(authority, |(_, host)| host);
    let host = if authority.starts_with('[') {
        authority.split_inclusive(']').next().unwrap_or(authority)
    } else {
        authority.split(':').next().unwrap_or(authority)
    };
    if host.is_empty() {
        "localhost".into()
    } else {
        host.to_ascii_lowercase()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn message_ids_follow_the_key() {
        let a = message_id("report:2026-Q3:user:42", "steward.example.org");
        assert_eq!(a, message_id("report:2026-Q3:user:42", "steward.example.org"));
        assert_ne!(a, message_id("report:2026-Q3:user:43", "steward.example.org"));
        assert!(a.starts_with('<') && a.ends_with("@steward.example.org>"), "{a}");
        assert_eq!(a.len(), 1 + 32 + 1 + "steward.example.org".len() + 1);
    }

    #[test]
    fn hosts_of_base_urls() {
        assert_eq!(host_of("https://Steward.Example.org"), "steward.example.org");
        assert_eq!(host_of("http://127.0.0.1:8080"), "127.0.0.1");
        assert_eq!(host_of("https://steward.example.org:8443/foundation/"), "steward.example.org");
        assert_eq!(host_of("http://[::1]:8080"), "[::1]");
        assert_eq!(host_of("http://"), "localhost");
    }
}
