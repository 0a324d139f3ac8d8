//! Connection resets on request: a served connection whose service asks for it is closed
//! with an RST (`SO_LINGER` 0, then close) instead of the clean FIN close, so the client
//! sees `ECONNRESET`, as when a load balancer or a crashed peer drops a connection.
//!
//! How: every connection's socket is wrapped in a [`Resettable`], and the connection's
//! service is built with its [`ResetHandle`] (once per connection, not per request). A service that wants
//! the reset calls [`ResetHandle::reset`] and then fails the request (a service error ends
//! the connection without an answer); hyper drops the socket, and the wrapper sets linger 0
//! just before the close. Nothing is written on the socket after the flag is set, and the
//! flag costs nothing to a connection that never asks.

use std::io;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll};

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpStream;

/// Asks the connection a request came on to end with a reset. [`serve`](super::serve) hands
/// one to each connection's service as it builds it.
#[derive(Clone, Debug)]
pub struct ResetHandle(Arc<AtomicBool>);

impl ResetHandle {
    /// The connection closes with an RST when it ends; end it by failing the request.
    pub fn reset(&self) {
        self.0.store(true, Ordering::Release);
    }
}

/// A served socket that closes with an RST once its [`ResetHandle`] asked for it.
pub(super) struct Resettable {
    stream: TcpStream,
    flag: Arc<AtomicBool>,
}

impl Resettable {
    pub fn new(stream: TcpStream) -> (Resettable, ResetHandle) {
        let flag = Arc::new(AtomicBool::new(false));
        let handle = ResetHandle(Arc::clone(&flag));
        (Resettable { stream, flag }, handle)
    }
}

impl Drop for Resettable {
    fn drop(&mut self) {
        if self.flag.load(Ordering::Acquire) {
            // Linger 0: the close that follows discards what is unsent and sends an RST.
            if let Err(e) = self.stream.set_zero_linger() {
                tracing::debug!("could not set SO_LINGER 0 for a reset: {e}");
            }
        }
    }
}

impl AsyncRead for Resettable {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut self.stream).poll_read(cx, buf)
    }
}

impl AsyncWrite for Resettable {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.stream).poll_write(cx, buf)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.stream).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.stream.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.stream).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.stream).poll_shutdown(cx)
    }
}
