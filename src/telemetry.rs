//! Logging: tracing to stderr, human-readable or JSON, and one span per request carrying its id.

use actix_web::body::MessageBody;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::HttpMessage;
use tracing::Span;
use tracing_actix_web::{RequestId, RootSpanBuilder};
use tracing_subscriber::field::MakeExt;
use tracing_subscriber::fmt::{format, FormatFields};
use tracing_subscriber::EnvFilter;

use crate::config::LogFormat;

/// Installs the global subscriber once; later calls (tests) are ignored.
pub fn init(format: LogFormat) {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info,actix_server=warn"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()));
    let _ = match format {
        LogFormat::Human => builder.with_target(false).fmt_fields(human_fields()).try_init(),
        LogFormat::Json => builder.json().flatten_event(true).with_current_span(true).with_span_list(false).try_init(),
    };
}

/// How the human format writes fields: `name=value`, the message bare, separated by spaces; and in every
/// value, line breaks and other control characters escaped as JSON escapes them (`\n`, `\u001b`), so that
/// no value (a CSP report's blocked URI, a name, an error from a client) can end the line and forge another.
pub fn human_fields() -> impl for<'w> FormatFields<'w> + Send + Sync + 'static {
    format::debug_fn(|writer, field, value| {
        let text = escape_controls(&format!("{value:?}"));
        match field.name() {
            "message" => write!(writer, "{text}"),
            name => write!(writer, "{name}={text}"),
        }
    })
    .delimited(" ")
}

/// `text` with control characters (and the Unicode line and paragraph separators) written as escapes.
pub fn escape_controls(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if c.is_control() || c == '\u{2028}' || c == '\u{2029}' => {
                out.push_str(&format!("\\u{:04x}", u32::from(c)));
            }
            c => out.push(c),
        }
    }
    out
}

/// The request span: its id, method, and on completion the matched route pattern (never the raw path or
/// query, which may hold a token) and the status.
pub struct RequestSpan;

impl RootSpanBuilder for RequestSpan {
    fn on_request_start(request: &ServiceRequest) -> Span {
        let request_id = request.extensions().get::<RequestId>().map(|id| id.to_string()).unwrap_or_default();
        tracing::info_span!(
            "request",
            request_id = %request_id,
            method = %request.method(),
            route = tracing::field::Empty,
            status = tracing::field::Empty,
        )
    }

    fn on_request_end<B: MessageBody>(span: Span, outcome: &Result<ServiceResponse<B>, actix_web::Error>) {
        let status = match outcome {
            Ok(res) => {
                let route = res.request().match_pattern().unwrap_or_else(|| "(unmatched)".into());
                span.record("route", route.as_str());
                res.status().as_u16()
            }
            Err(e) => e.as_response_error().status_code().as_u16(),
        };
        span.record("status", status);
        span.in_scope(|| tracing::info!("request finished"));
    }
}

#[cfg(test)]
mod tests {
    use std::io::Write;
    use std::sync::{Arc, Mutex};

    use super::{escape_controls, human_fields};

    #[derive(Clone, Default)]
    struct Captured(Arc<Mutex<Vec<u8>>>);

    impl Write for Captured {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.0.lock().map_err(|_| std::io::Error::other("poisoned"))?.extend_from_slice(buf);
            Ok(buf.len())
        }

        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn a_logged_value_cannot_forge_a_line_in_the_human_format() {
        let captured = Captured::default();
        let writer = captured.clone();
        let subscriber = tracing_subscriber::fmt()
            .with_writer(move || writer.clone())
            .with_ansi(false)
            .with_target(false)
            .fmt_fields(human_fields())
            .finish();
        let forged = "https://x.example\n2026-12-03T00:00:00Z  INFO request finished status=200\r\u{1b}[2J";
        tracing::subscriber::with_default(subscriber, || {
            let span = tracing::info_span!("request", request_id = %"id\nforged");
            let _inside = span.enter();
            tracing::warn!(directive = %"script-src", blocked = %forged, "content security policy violation");
        });
        let out = String::from_utf8(captured.0.lock().unwrap().clone()).unwrap();
        assert_eq!(out.lines().count(), 1, "one event, one line: {out:?}");
        assert!(
            out.contains(
                "blocked=https://x.example\\n2026-12-03T00:00:00Z  INFO request finished status=200\\r\\u001b[2J"
            ),
            "{out}"
        );
        assert!(out.contains("request_id=id\\nforged"), "span fields are escaped too: {out}");
        assert!(
            out.contains("WARN") && out.contains("content security policy violation directive=script-src"),
            "{out}"
        );
        assert_eq!(escape_controls("a\u{0}b\u{2028}c"), "a\\u0000b\\u2028c");
    }
}
