//! The one accept loop: HTTP/1.1 connections served by hyper, each watched for the
//! [`ServerLimits`], all closed gracefully at shutdown, with a cap on how many are open.
//! Per-connection errors are logged, never returned; clients going away are not errors.
//! Each connection's service is built with its [`ResetHandle`](super::ResetHandle) (see `reset`).

use std::error::Error as StdError;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use hyper::service::Service;
use hyper::{Request, Response};
use hyper_util::rt::TokioIo;
use tokio::net::TcpListener;
use tokio::task::JoinSet;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use super::body::Body;
use super::limits::ServerLimits;
use super::reset::{ResetHandle, Resettable};
use super::watch::{Activity, Tracked, Watchdog, Watched};

/// How often the refusals at the connection cap are reported while they go on.
const REFUSED_REPORT_EVERY: Duration = Duration::from_secs(10);

/// Serves HTTP/1.1 on `listener` until `shutdown` is cancelled, then lets every open
/// connection finish its request in flight and returns once all are closed.
///
/// `make_service` builds each connection's service from the peer's address and the
/// connection's [`ResetHandle`] (handed once per connection, so no request pays for it). `name` starts
/// the log lines (`provider: connection error: …`). Connections beyond
/// `limits.max_connections` are accepted and closed at once.
pub async fn serve<M, S, B>(
    name: &'static str,
    listener: TcpListener,
    make_service: M,
    shutdown: CancellationToken,
    limits: ServerLimits,
) where
    M: Fn(SocketAddr, ResetHandle) -> S,
    S: Service<Request<Body>, Response = Response<B>> + Send + 'static,
    S::Future: Send + 'static,
    S::Error: Into<Box<dyn StdError + Send + Sync>>,
    B: hyper::body::Body + Send + 'static,
    B::Data: Send,
    B::Error: Into<Box<dyn StdError + Send + Sync>>,
{
    let mut builder = hyper::server::conn::http1::Builder::new();
    // The watchdog keeps the time; without it hyper would want a timer of its own.
    builder.header_read_timeout(None);
    let mut conns = JoinSet::new();
    let mut refusals = Refusals::default();
    loop {
        let accepted = tokio::select! {
            _ = shutdown.cancelled() => break,
            accepted = listener.accept() => accepted,
            Some(joined) = conns.join_next(), if !conns.is_empty() => {
                report_panic(name, joined);
                continue;
            }
        };
        let (stream, peer) = match accepted {
            Ok(a) => a,
            Err(e) => {
                tracing::warn!("{name}: accept failed: {e}");
                // Out of descriptors and the like: do not spin.
                tokio::time::sleep(Duration::from_millis(10)).await;
                continue;
            }
        };
        // Finished connections are counted out before the cap is checked.
        while let Some(joined) = conns.try_join_next() {
            report_panic(name, joined);
        }
        if conns.len() >= limits.max_connections {
            drop(stream);
            refusals.refused(name, limits.max_connections);
            continue;
        }
        refusals.accepted(name);
        let activity = Arc::new(Activity::new(Instant::now()));
        let _ = stream.set_nodelay(true);
        let (stream, reset) = Resettable::new(stream);
        let io = TokioIo::new(Watched::new(stream, Arc::clone(&activity)));
        let service = make_service(peer, reset);
        let service = Tracked::new(service, Arc::clone(&activity), &limits);
        let conn = builder.serve_connection(io, service);
        let watched = Watchdog::new(conn, shutdown.clone().cancelled_owned(), activity, limits);
        conns.spawn(async move {
            if let Some(Err(e)) = watched.await {
                if !is_quiet(&e) {
                    tracing::warn!("{name}: connection error: {e}");
                }
            }
        });
    }
    drop(listener);
    while let Some(joined) = conns.join_next().await {
        report_panic(name, joined);
    }
}

/// Counts the connections refused at the cap and reports them: at the first, then every
/// [`REFUSED_REPORT_EVERY`] while they go on, and once they stop.
#[derive(Default)]
struct Refusals {
    /// Refused since the last report, and when that report was made.
    unreported: u64,
    since: Option<Instant>,
}

impl Refusals {
    fn refused(&mut self, name: &str, cap: usize) {
        self.unreported += 1;
        let now = Instant::now();
        match self.since {
            Some(at) if now.duration_since(at) < REFUSED_REPORT_EVERY => {}
            _ => {
                tracing::warn!(
                    "{name}: {cap} connections open (the cap): refused {} new connection(s)",
                    self.unreported
                );
                self.unreported = 0;
                self.since = Some(now);
            }
        }
    }

    fn accepted(&mut self, name: &str) {
        if self.since.take().is_some() && self.unreported > 0 {
            tracing::warn!(
                "{name}: accepting again, after refusing {} more connection(s)",
                self.unreported
            );
        }
        self.unreported = 0;
    }
}

fn report_panic(name: &str, joined: Result<(), tokio::task::JoinError>) {
    if let Err(e) = joined {
        if e.is_panic() {
            tracing::warn!("{name}: connection task panicked: {e}");
        }
    }
}

/// Errors that are no news: clients going away, timeouts, and services closing a connection
/// on purpose (a service error is how a service drops a connection without an answer).
fn is_quiet(e: &hyper::Error) -> bool {
    if e.is_incomplete_message() || e.is_canceled() || e.is_closed() || e.is_timeout() {
        return true;
    }
    if e.is_user() {
        return true;
    }
    let mut cur: Option<&(dyn StdError + 'static)> = e.source();
    while let Some(err) = cur {
        if let Some(io) = err.downcast_ref::<std::io::Error>() {
            use std::io::ErrorKind::*;
            if matches!(
                io.kind(),
                ConnectionReset | BrokenPipe | UnexpectedEof | NotConnected | ConnectionAborted
            ) {
                return true;
            }
        }
        cur = err.source();
    }
    false
}

/// A [`serve`] for tests on `127.0.0.1:0` ([`spawn_echo`]).
#[cfg(test)]
pub(super) struct Echo {
    pub addr: SocketAddr,
    pub shutdown: CancellationToken,
    pub task: tokio::task::JoinHandle<()>,
    /// Connections served so far.
    pub connections: Arc<std::sync::atomic::AtomicUsize>,
}

/// Starts [`serve`] on `127.0.0.1:0` with a service that answers `200 ok` to every request
/// after reading its body, or `413`/`408` when the body is too large or too slow.
#[cfg(test)]
pub(super) async fn spawn_echo(limits: ServerLimits) -> Echo {
    use std::sync::atomic::{AtomicUsize, Ordering};

    use bytes::Bytes;
    use http_body_util::{BodyExt, Full};
    use hyper::service::service_fn;

    let listener = super::listen("127.0.0.1:0".parse().unwrap()).unwrap();
    let addr = listener.local_addr().unwrap();
    let shutdown = CancellationToken::new();
    let connections = Arc::new(AtomicUsize::new(0));
    let counter = Arc::clone(&connections);
    let make = move |_peer, _reset| {
        counter.fetch_add(1, Ordering::Relaxed);
        service_fn(|req: Request<Body>| async move {
            let status = match req.into_body().collect().await {
                Ok(_) => 200,
                Err(super::BodyError::TooLarge { .. }) => 413,
                Err(super::BodyError::TooSlow { .. }) => 408,
                Err(super::BodyError::Read(_)) => 400,
            };
            let mut resp = Response::new(Full::new(Bytes::from_static(b"ok")));
            *resp.status_mut() = hyper::StatusCode::from_u16(status).unwrap();
            Ok::<_, std::convert::Infallible>(resp)
        })
    };
    let task = tokio::spawn(serve("test", listener, make, shutdown.clone(), limits));
    Echo {
        addr,
        shutdown,
        task,
        connections,
    }
}

#[cfg(test)]
impl Echo {
    /// Cancels the shutdown token and waits for the server to return.
    pub async fn stop(self) {
        self.shutdown.cancel();
        self.task.await.unwrap();
    }
}
