//! The watch kept on one served connection: what it is doing ([`Activity`]: waiting for a
//! request, reading a header, or busy with one), fed by its socket ([`Watched`]) and its
//! service ([`Tracked`]), and the [`Watchdog`] future that drives the connection and closes
//! it when a header is too slow, when it sat idle too long, or at shutdown (gracefully).
//!
//! Why not hyper's `header_read_timeout`: it boxes and registers a fresh timer for every
//! request and measures idle and header time as one. Here a connection has one timer, re-armed
//! only when it fires, and a request costs a clock read and a few uncontended atomics.
//! Shutdown and the timer are polled only when they wake (their own waker), not on every
//! wake of the connection: the shutdown token is shared by every connection, and polling it
//! takes its lock.

use std::future::Future;
use std::io;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicU8, Ordering};
use std::sync::Arc;
use std::task::{ready, Context, Poll, Wake, Waker};
use std::time::Duration;

use atomic_waker::AtomicWaker;
use hyper::body::Incoming;
use hyper::service::Service;
use hyper::{Request, Response};
use pin_project_lite::pin_project;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::time::{Instant, Sleep};
use tokio_util::sync::WaitForCancellationFutureOwned;

use super::body::Body;
use super::limits::ServerLimits;

/// Kept alive, waiting for the next request: no byte of it yet.
const WAITING: u8 = 0;
/// Reading a request header (or a new connection's first).
const HEADER: u8 = 1;
/// The service has the request.
const BUSY: u8 = 2;

/// What one connection is doing, and since when. Written and read by its own task only;
/// atomics because the parts that share it must be `Send`.
pub(super) struct Activity {
    phase: AtomicU8,
    /// When the phase began, in ms since `origin`.
    since_ms: AtomicU64,
    origin: Instant,
}

impl Activity {
    /// A connection accepted at `origin`: its first header is due from then.
    pub fn new(origin: Instant) -> Activity {
        Activity {
            phase: AtomicU8::new(HEADER),
            since_ms: AtomicU64::new(0),
            origin,
        }
    }

    fn mark(&self, phase: u8) {
        let ms = u64::try_from(self.origin.elapsed().as_millis()).unwrap_or(u64::MAX);
        self.since_ms.store(ms, Ordering::Relaxed);
        self.phase.store(phase, Ordering::Relaxed);
    }

    /// Bytes arrived: the first ones after an answer start the next header's clock.
    fn read_some(&self) {
        if self.phase.load(Ordering::Relaxed) == WAITING {
            self.mark(HEADER);
        }
    }

    fn busy(&self) {
        self.phase.store(BUSY, Ordering::Relaxed);
    }

    fn answered(&self) {
        self.mark(WAITING);
    }

    /// What to do when the timer fires at `now`.
    fn verdict(&self, now: Instant, limits: &ServerLimits) -> Verdict<Instant> {
        let since = Duration::from_millis(self.since_ms.load(Ordering::Relaxed));
        let at = now.saturating_duration_since(self.origin);
        verdict(self.phase.load(Ordering::Relaxed), since, at, limits).map_wait(|d| self.origin + d)
    }
}

/// What the watchdog does when its timer fires.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Verdict<T = Duration> {
    /// Nothing is due: look again at this moment.
    Wait(T),
    /// Idle past `idle_timeout`: close gracefully.
    Idle,
    /// A header past `header_timeout`: close now.
    Slow,
}

impl Verdict<Duration> {
    fn map_wait(self, f: impl FnOnce(Duration) -> Instant) -> Verdict<Instant> {
        match self {
            Verdict::Wait(d) => Verdict::Wait(f(d)),
            Verdict::Idle => Verdict::Idle,
            Verdict::Slow => Verdict::Slow,
        }
    }
}

/// The rule, on times since the connection's start: a header is due `header_timeout` after
/// its phase began, the next request `idle_timeout` after the last answer; a busy connection
/// is left to its service (its body has its own bound). The timer is only re-armed when it
/// fires, so it never waits longer than the shorter of the two timeouts: a phase that
/// begins in between is then looked at before its own deadline.
fn verdict(phase: u8, since: Duration, now: Duration, limits: &ServerLimits) -> Verdict {
    let next_look = now + check_every(limits);
    let (limit, expired) = match phase {
        WAITING => (limits.idle_timeout, Verdict::Idle),
        HEADER => (limits.header_timeout, Verdict::Slow),
        _ => return Verdict::Wait(next_look),
    };
    let due = since.saturating_add(limit);
    if now >= due {
        expired
    } else {
        Verdict::Wait(due.min(next_look))
    }
}

/// The longest the watchdog's timer waits.
fn check_every(limits: &ServerLimits) -> Duration {
    limits.header_timeout.min(limits.idle_timeout)
}

/// A connection's socket, telling its [`Activity`] when bytes arrive.
pub(super) struct Watched<T> {
    inner: T,
    activity: Arc<Activity>,
}

impl<T> Watched<T> {
    pub fn new(inner: T, activity: Arc<Activity>) -> Watched<T> {
        Watched { inner, activity }
    }
}

impl<T: AsyncRead + Unpin> AsyncRead for Watched<T> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let before = buf.filled().len();
        let this = &mut *self;
        ready!(Pin::new(&mut this.inner).poll_read(cx, buf))?;
        if buf.filled().len() > before {
            this.activity.read_some();
        }
        Poll::Ready(Ok(()))
    }
}

impl<T: AsyncWrite + Unpin> AsyncWrite for Watched<T> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.inner).poll_write(cx, buf)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.inner).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}

/// A connection's service: hands it the request with a bounded [`Body`] and tells the
/// [`Activity`] when it starts and when its answer is ready.
pub(super) struct Tracked<S> {
    inner: S,
    activity: Arc<Activity>,
    max_body: usize,
    body_timeout: Duration,
}

impl<S> Tracked<S> {
    pub fn new(inner: S, activity: Arc<Activity>, limits: &ServerLimits) -> Tracked<S> {
        Tracked {
            inner,
            activity,
            max_body: limits.max_body,
            body_timeout: limits.body_timeout,
        }
    }
}

impl<S, B> Service<Request<Incoming>> for Tracked<S>
where
    S: Service<Request<Body>, Response = Response<B>>,
{
    type Response = Response<B>;
    type Error = S::Error;
    type Future = Tracking<S::Future>;

    fn call(&self, req: Request<Incoming>) -> Self::Future {
        self.activity.busy();
        let req = req.map(|b| Body::new(b, self.max_body, self.body_timeout));
        Tracking {
            inner: self.inner.call(req),
            activity: Arc::clone(&self.activity),
        }
    }
}

pin_project! {
    /// A service's answer in the making; marks the connection as waiting once it is ready.
    pub(super) struct Tracking<F> {
        #[pin]
        inner: F,
        activity: Arc<Activity>,
    }
}

impl<F: Future> Future for Tracking<F> {
    type Output = F::Output;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<F::Output> {
        let this = self.project();
        let out = ready!(this.inner.poll(cx));
        this.activity.answered();
        Poll::Ready(out)
    }
}

/// A served connection that can be asked to finish its request in flight and close.
pub(super) trait Graceful: Future {
    fn graceful_shutdown(self: Pin<&mut Self>);
}

impl<I, S, B> Graceful for hyper::server::conn::http1::Connection<I, S>
where
    I: hyper::rt::Read + hyper::rt::Write + Unpin,
    S: hyper::service::HttpService<Incoming, ResBody = B>,
    S::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
    B: hyper::body::Body + 'static,
    B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    fn graceful_shutdown(self: Pin<&mut Self>) {
        hyper::server::conn::http1::Connection::graceful_shutdown(self);
    }
}

/// Wakes the connection's task and notes that the shutdown or the timer asked for it.
struct Side {
    woken: AtomicBool,
    task: AtomicWaker,
}

impl Wake for Side {
    fn wake(self: Arc<Self>) {
        self.wake_by_ref();
    }

    fn wake_by_ref(self: &Arc<Self>) {
        self.woken.store(true, Ordering::Release);
        self.task.wake();
    }
}

pin_project! {
    /// Drives a connection; `None` when the watchdog closed it (slow header, or still open
    /// after a graceful close was asked for and a header timeout passed).
    pub(super) struct Watchdog<C> {
        #[pin]
        conn: C,
        #[pin]
        cancelled: WaitForCancellationFutureOwned,
        #[pin]
        timer: Sleep,
        side: Arc<Side>,
        activity: Arc<Activity>,
        limits: ServerLimits,
        closing: bool,
    }
}

impl<C: Graceful> Watchdog<C> {
    pub fn new(
        conn: C,
        cancelled: WaitForCancellationFutureOwned,
        activity: Arc<Activity>,
        limits: ServerLimits,
    ) -> Watchdog<C> {
        let first = activity.origin + check_every(&limits);
        Watchdog {
            conn,
            cancelled,
            timer: tokio::time::sleep_until(first),
            side: Arc::new(Side {
                // Polled once at the start, to register the side wakers.
                woken: AtomicBool::new(true),
                task: AtomicWaker::new(),
            }),
            activity,
            limits,
            closing: false,
        }
    }
}

impl<C: Graceful> Future for Watchdog<C> {
    type Output = Option<C::Output>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let mut this = self.project();
        this.side.task.register(cx.waker());
        if this.side.woken.swap(false, Ordering::AcqRel) {
            let waker = Waker::from(Arc::clone(this.side));
            let mut side = Context::from_waker(&waker);
            if !*this.closing && this.cancelled.as_mut().poll(&mut side).is_ready() {
                *this.closing = true;
                this.conn.as_mut().graceful_shutdown();
            }
            while this.timer.as_mut().poll(&mut side).is_ready() {
                let now = Instant::now();
                match this.activity.verdict(now, this.limits) {
                    Verdict::Wait(at) => this.timer.as_mut().reset(at),
                    Verdict::Slow => return Poll::Ready(None),
                    // Graceful first: an answer may still be on its way out. A connection
                    // that does not close then (bytes of a header it never finishes) is
                    // closed a header timeout later.
                    Verdict::Idle if !*this.closing => {
                        *this.closing = true;
                        this.conn.as_mut().graceful_shutdown();
                        this.timer.as_mut().reset(now + this.limits.header_timeout);
                    }
                    Verdict::Idle => return Poll::Ready(None),
                }
            }
        }
        this.conn.poll(cx).map(Some)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(secs: u64) -> Duration {
        Duration::from_secs(secs)
    }

    #[test]
    fn headers_idle_connections_and_busy_ones_each_have_their_rule() {
        let limits = ServerLimits {
            header_timeout: s(10),
            idle_timeout: s(120),
            ..ServerLimits::DEFAULT
        };
        for (phase, since, now, want) in [
            // A new connection (header phase from 0) must send its header within 10 s.
            (HEADER, 0, 3, Verdict::Wait(s(10))),
            (HEADER, 0, 10, Verdict::Slow),
            // A later header: 10 s from its first byte.
            (HEADER, 200, 205, Verdict::Wait(s(210))),
            (HEADER, 200, 211, Verdict::Slow),
            // Kept alive: 120 s from the last answer, looked at every 10 s (the shorter
            // timeout) meanwhile, in case a header starts.
            (WAITING, 50, 60, Verdict::Wait(s(70))),
            (WAITING, 50, 165, Verdict::Wait(s(170))),
            (WAITING, 50, 170, Verdict::Idle),
            // Busy: the service's business; look again 10 s later.
            (BUSY, 0, 500, Verdict::Wait(s(510))),
        ] {
            assert_eq!(
                verdict(phase, s(since), s(now), &limits),
                want,
                "phase {phase}, since {since}, now {now}"
            );
        }
    }
}
