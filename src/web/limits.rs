//! Limits on what a client may send, before any handler reads it: a body larger than the largest Steward
//! accepts is refused from its `Content-Length` alone (413, nothing read), a body sent without a length is cut
//! off once it passes that size, and a body that takes longer than the body timeout to arrive is cut off (408)
//! so that a client sending a byte at a time holds nothing for long. Each refusal closes the connection.
//!
//! Smaller per-route limits stay where the body is read: forms (`accounts::csrf`, `web::FormConfig`), JSON
//! (`web::JsonConfig`), uploads (`web::forms::read_upload`). The request head has its own timeout, actix's
//! `client_request_timeout`, set in `app::start`.

use std::cell::Cell;
use std::future::Future as _;
use std::pin::Pin;
use std::rc::Rc;
use std::task::{Context, Poll};
use std::time::Duration;

use actix_web::body::{BoxBody, MessageBody};
use actix_web::dev::{Payload, ServiceRequest, ServiceResponse};
use actix_web::error::PayloadError;
use actix_web::http::{header, ConnectionType};
use actix_web::middleware::Next;
use actix_web::web::{self, Bytes};
use actix_web::HttpMessage;
use futures_util::Stream;

use super::AppError;

/// How large and how slow a request body may be; given to the app as `web::Data<BodyLimits>`.
#[derive(Clone, Copy, Debug)]
pub struct BodyLimits {
    /// The largest body any route accepts.
    pub max_bytes: usize,
    /// The whole body must arrive within this long of the request head.
    pub timeout: Duration,
}

/// Why a body was cut off, noted by the stream for the middleware to answer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Cut {
    TooLarge,
    TooSlow,
}

pub async fn limit_body(
    mut req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<BoxBody>, actix_web::Error> {
    let Some(limits) = req.app_data::<web::Data<BodyLimits>>().map(|l| *l.get_ref()) else {
        return Ok(next.call(req).await?.map_into_boxed_body());
    };
    let declared = req.headers().get(header::CONTENT_LENGTH).and_then(|v| v.to_str().ok()).and_then(|v| v.parse().ok());
    if declared.is_some_and(|n: u64| n > limits.max_bytes as u64) {
        return Ok(closing(req.error_response(AppError::PayloadTooLarge)));
    }
    let cut = Rc::new(Cell::new(None));
    let inner = req.take_payload();
    let limited = Limited {
        inner,
        left: limits.max_bytes,
        deadline: Box::pin(actix_web::rt::time::sleep(limits.timeout)),
        cut: cut.clone(),
        finished: false,
    };
    req.set_payload(Payload::from(Box::pin(limited) as Pin<Box<dyn Stream<Item = Result<Bytes, PayloadError>>>>));
    let res = next.call(req).await?.map_into_boxed_body();
    // Whatever the handler made of the broken body, the client hears why, and the connection ends.
    Ok(match cut.get() {
        Some(Cut::TooLarge) => closing(res.into_response_error(AppError::PayloadTooLarge)),
        Some(Cut::TooSlow) => closing(res.into_response_error(AppError::RequestTimeout)),
        None => res,
    })
}

/// Replaces a response by an error response for the same request.
trait IntoResponseError {
    fn into_response_error(self, e: AppError) -> ServiceResponse<BoxBody>;
}

impl IntoResponseError for ServiceResponse<BoxBody> {
    fn into_response_error(self, e: AppError) -> ServiceResponse<BoxBody> {
        let (req, _) = self.into_parts();
        ServiceResponse::from_err(e, req)
    }
}

fn closing(mut res: ServiceResponse<BoxBody>) -> ServiceResponse<BoxBody> {
    res.response_mut().head_mut().set_connection_type(ConnectionType::Close);
    res
}

/// The request body, ending with an error once it passes the size limit or the deadline.
struct Limited<S> {
    inner: S,
    left: usize,
    deadline: Pin<Box<actix_web::rt::time::Sleep>>,
    cut: Rc<Cell<Option<Cut>>>,
    finished: bool,
}

impl<S> Stream for Limited<S>
where
    S: Stream<Item = Result<Bytes, PayloadError>> + Unpin,
{
    type Item = Result<Bytes, PayloadError>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        if self.finished {
            return Poll::Ready(None);
        }
        if self.deadline.as_mut().poll(cx).is_ready() {
            self.finished = true;
            self.cut.set(Some(Cut::TooSlow));
            let late = std::io::Error::new(std::io::ErrorKind::TimedOut, "the request body took too long");
            return Poll::Ready(Some(Err(PayloadError::Io(late))));
        }
        match Pin::new(&mut self.inner).poll_next(cx) {
            Poll::Ready(Some(Ok(chunk))) if chunk.len() > self.left => {
                self.finished = true;
                self.cut.set(Some(Cut::TooLarge));
                Poll::Ready(Some(Err(PayloadError::Overflow)))
            }
            Poll::Ready(Some(Ok(chunk))) => {
                self.left -= chunk.len();
                Poll::Ready(Some(Ok(chunk)))
            }
            other => other,
        }
    }
}
