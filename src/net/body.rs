//! The request body every service of [`serve`](super::serve) reads: hyper's body bounded in
//! size and in time, so that neither a huge nor a trickled body can hold a connection.

use std::future::Future;
use std::pin::Pin;
use std::task::{ready, Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use hyper::body::{Frame, Incoming, SizeHint};
use tokio::time::Sleep;

/// Why a request body could not be read in full.
#[derive(Debug, thiserror::Error)]
pub enum BodyError {
    #[error("request body larger than {limit} bytes")]
    TooLarge { limit: usize },
    #[error("request body not complete within {} ms", .timeout.as_millis())]
    TooSlow { timeout: Duration },
    #[error("reading the request body failed: {0}")]
    Read(#[from] hyper::Error),
}

/// A request body, bounded by [`ServerLimits`](super::ServerLimits)' `max_body` and
/// `body_timeout`. Collect it with `http_body_util::BodyExt::collect`.
pub struct Body {
    inner: Incoming,
    /// Bytes still allowed.
    left: usize,
    limit: usize,
    timeout: Duration,
    /// Armed the first time the body has to be waited for: a body that came with its
    /// header costs no timer.
    deadline: Option<Pin<Box<Sleep>>>,
    /// An error was returned; the body ends there.
    failed: bool,
}

impl Body {
    pub(super) fn new(inner: Incoming, limit: usize, timeout: Duration) -> Body {
        Body {
            inner,
            left: limit,
            limit,
            timeout,
            deadline: None,
            failed: false,
        }
    }

    fn fail(&mut self, e: BodyError) -> Poll<Option<Result<Frame<Bytes>, BodyError>>> {
        self.failed = true;
        Poll::Ready(Some(Err(e)))
    }
}

impl hyper::body::Body for Body {
    type Data = Bytes;
    type Error = BodyError;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, BodyError>>> {
        let this = &mut *self;
        if this.failed {
            return Poll::Ready(None);
        }
        // A declared length over the limit is refused before any of it is read.
        if this.left == this.limit && this.inner.size_hint().lower() > this.limit as u64 {
            let limit = this.limit;
            return this.fail(BodyError::TooLarge { limit });
        }
        match Pin::new(&mut this.inner).poll_frame(cx) {
            Poll::Ready(Some(Ok(frame))) => {
                if let Some(data) = frame.data_ref() {
                    if data.len() > this.left {
                        let limit = this.limit;
                        return this.fail(BodyError::TooLarge { limit });
                    }
                    this.left -= data.len();
                }
                Poll::Ready(Some(Ok(frame)))
            }
            Poll::Ready(Some(Err(e))) => this.fail(BodyError::Read(e)),
            Poll::Ready(None) => Poll::Ready(None),
            Poll::Pending => {
                let timeout = this.timeout;
                let deadline = this
                    .deadline
                    .get_or_insert_with(|| Box::pin(tokio::time::sleep(timeout)));
                ready!(deadline.as_mut().poll(cx));
                this.fail(BodyError::TooSlow { timeout })
            }
        }
    }

    fn is_end_stream(&self) -> bool {
        self.failed || self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}
