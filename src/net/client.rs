//! The one HTTP/1.1 client: a [`Pool`] of kept-alive connections to one loopback address,
//! shared by the load driver, the merchant's provider client and webhook delivery.
//!
//! It owns its connections (hyper `SendRequest` handles, each connection driven by a task of
//! its own) rather than using hyper-util's pooled client, which costs a fifth of the
//! throughput. A connection is taken for one exchange and handed back once the answer is read
//! in full; one that fails, times out or finds the pool full is closed at once. Idle ones
//! are kept newest first (so few stay warm) and closed after [`IDLE_TIMEOUT`].
//!
//! Three modes: unbounded ([`Pool::new`]: a new connection whenever none is idle, as the
//! merchant's and the webhooks' senders want), bounded ([`Pool::bounded`]: at most N
//! connections, an exchange that finds them all busy waits in line for one, see
//! `pool_limit.rs`) and one connection per exchange ([`Pool::per_request`]).

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::client::conn::http1::SendRequest;
use hyper::header::{HeaderValue, HOST};
use hyper::{Request, StatusCode};
use hyper_util::rt::TokioIo;
use tokio::net::TcpStream;
use tokio::task::AbortHandle;
use tokio::time::Instant;

use super::loopback::LoopbackUrl;
use super::pool_limit::{Limit, PoolStats};

/// How long an idle connection is kept: below the shortest idle timeout common servers
/// apply (5 s for Node's), so that a request never goes out on a connection its server is
/// closing at that moment.
pub const IDLE_TIMEOUT: Duration = Duration::from_secs(4);

/// Why an exchange gave no answer.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    #[error("timeout after {} ms", .0.as_millis())]
    Timeout(Duration),
    #[error("cannot connect to {addr}: {source}")]
    Connect {
        addr: SocketAddr,
        source: std::io::Error,
    },
    #[error("http error: {0}")]
    Http(#[from] hyper::Error),
    #[error("the request could not be built: {0}")]
    Request(#[from] hyper::http::Error),
    /// A bounded pool's connections all stayed busy for as long as the exchange may wait.
    #[error("no connection free within {} ms (all {connections} busy)", .waited.as_millis())]
    NoConnection {
        connections: usize,
        waited: Duration,
    },
}

/// A received answer, its body read in full.
#[derive(Clone, Debug)]
pub struct Reply {
    pub status: StatusCode,
    pub body: Bytes,
    /// `Location` of a redirect (3xx) answer; `None` otherwise.
    pub location: Option<HeaderValue>,
}

/// Kept-alive connections to one address.
#[derive(Debug)]
pub struct Pool {
    addr: SocketAddr,
    host: HeaderValue,
    /// Idle connections, oldest first; held only to push or pop one.
    idle: Mutex<VecDeque<Idle>>,
    max_idle: usize,
    idle_timeout: Duration,
    /// Set for a bounded pool: the cap on connections and the line waiting for one.
    limit: Option<Limit>,
}

/// One connection: its sender and the task that drives it, ended when the handle is dropped
/// (so that a timed-out or surplus connection closes its socket at once).
#[derive(Debug)]
pub(super) struct Conn {
    pub(super) sender: SendRequest<Full<Bytes>>,
    task: AbortHandle,
}

impl Drop for Conn {
    fn drop(&mut self) {
        self.task.abort();
    }
}

#[derive(Debug)]
struct Idle {
    conn: Conn,
    /// When its last exchange started (a little before it went idle).
    since: Instant,
}

impl Pool {
    /// A pool for the address of `url`, sending its authority as `Host`, keeping up to
    /// `max_idle` idle connections.
    pub fn new(url: &LoopbackUrl, max_idle: usize) -> Pool {
        Pool::to(url.addr(), url.host().clone(), max_idle)
    }

    /// A pool for `addr`, sending `host` as `Host`.
    pub fn to(addr: SocketAddr, host: HeaderValue, max_idle: usize) -> Pool {
        Pool {
            addr,
            host,
            idle: Mutex::new(VecDeque::new()),
            max_idle,
            idle_timeout: IDLE_TIMEOUT,
            limit: None,
        }
    }

    /// A pool for the address of `url` that never has more than `connections` open: an
    /// exchange that finds them all busy waits for one, first come first served.
    pub fn bounded(url: &LoopbackUrl, connections: usize) -> Pool {
        let connections = connections.max(1);
        Pool {
            limit: Some(Limit::new(connections)),
            ..Pool::new(url, connections)
        }
    }

    /// A pool for the address of `url` that opens a new connection for every exchange and
    /// closes it after the answer (no connection is ever reused).
    pub fn per_request(url: &LoopbackUrl) -> Pool {
        Pool::new(url, 0)
    }

    /// What the cap of a bounded pool did so far; `None` for an unbounded pool.
    pub fn stats(&self) -> Option<PoolStats> {
        self.limit.as_ref().map(Limit::stats)
    }

    /// Exchanges waiting for a connection of a bounded pool right now.
    pub fn waiting(&self) -> u64 {
        self.limit.as_ref().map_or(0, Limit::waiting)
    }

    /// The cap of a bounded pool.
    pub fn connections(&self) -> Option<usize> {
        self.limit.as_ref().map(Limit::connections)
    }

    /// Keeps idle connections for `idle` instead of [`IDLE_TIMEOUT`].
    pub fn with_idle_timeout(mut self, idle: Duration) -> Pool {
        self.idle_timeout = idle;
        self
    }

    /// The address connected to.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The `Host` header sent.
    pub fn host(&self) -> &HeaderValue {
        &self.host
    }

    /// Sends `req` (with this pool's `Host`) and reads the whole answer, giving up after
    /// `timeout`. A request that an idle connection could not take (closed by its server
    /// meanwhile: the request was not written) goes out on another, so it is never doubled.
    ///
    /// In a bounded pool the `timeout` starts once the exchange holds a connection, so the
    /// server gets the whole of it however long the wait in line was; the wait itself is
    /// bounded by `timeout` too ([`ClientError::NoConnection`] past it).
    pub async fn send(
        &self,
        mut req: Request<Full<Bytes>>,
        timeout: Duration,
    ) -> Result<Reply, ClientError> {
        req.headers_mut().insert(HOST, self.host.clone());
        // Held until the connection is handed back or closed: dropped last.
        let _permit = match &self.limit {
            Some(limit) => Some(limit.acquire(timeout).await?),
            None => None,
        };
        let start = Instant::now();
        let answer = tokio::time::timeout_at(start + timeout, self.exchange(req, start)).await;
        if let Some(limit) = &self.limit {
            // A timed-out exchange held its connection too: all of its timeout.
            limit.held(start.elapsed());
        }
        answer.map_err(|_| ClientError::Timeout(timeout))?
    }

    async fn exchange(
        &self,
        mut req: Request<Full<Bytes>>,
        start: Instant,
    ) -> Result<Reply, ClientError> {
        let (conn, resp) = loop {
            let Some(mut conn) = self.take_idle(start).await else {
                let mut conn = self.connect().await?;
                let resp = conn.sender.send_request(req).await?;
                break (conn, resp);
            };
            match conn.sender.try_send_request(req).await {
                Ok(resp) => break (conn, resp),
                Err(mut e) => match e.take_message() {
                    Some(unsent) => req = unsent,
                    None => return Err(e.into_error().into()),
                },
            }
        };
        let status = resp.status();
        // Read only off redirects: a browser-like client follows them, nothing else does.
        let location = if status.is_redirection() {
            resp.headers().get(hyper::header::LOCATION).cloned()
        } else {
            None
        };
        let body = resp.into_body().collect().await?.to_bytes();
        // Handed back at once: the caller has its answer, and the next user waits for the
        // connection's turn-around (usually over by then) in `take_idle`.
        if !conn.sender.is_closed() {
            self.give_back(conn, start);
        }
        Ok(Reply {
            status,
            body,
            location,
        })
    }

    fn lock(&self) -> MutexGuard<'_, VecDeque<Idle>> {
        self.idle.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The newest idle connection that is still open and ready, if any.
    async fn take_idle(&self, now: Instant) -> Option<Conn> {
        loop {
            let Idle { mut conn, since } = self.lock().pop_back()?;
            let fresh = now.saturating_duration_since(since) < self.idle_timeout;
            if fresh && !conn.sender.is_closed() && conn.sender.ready().await.is_ok() {
                return Some(conn);
            }
        }
    }

    fn give_back(&self, conn: Conn, since: Instant) {
        let mut idle = self.lock();
        // The oldest are the first to expire: drop those that have, so no socket lingers.
        while idle
            .front()
            .is_some_and(|i| since.saturating_duration_since(i.since) >= self.idle_timeout)
        {
            idle.pop_front();
        }
        if idle.len() < self.max_idle {
            idle.push_back(Idle { conn, since });
        }
    }

    async fn connect(&self) -> Result<Conn, ClientError> {
        open(self.addr).await
    }

    /// How many connections sit idle.
    pub fn idle_len(&self) -> usize {
        self.lock().len()
    }
}

/// Opens one HTTP/1.1 connection to `addr` (no Nagle delay), driven by a task of its own.
pub(super) async fn open(addr: SocketAddr) -> Result<Conn, ClientError> {
    let connect_err = |source| ClientError::Connect { addr, source };
    let stream = TcpStream::connect(addr).await.map_err(connect_err)?;
    stream.set_nodelay(true).map_err(connect_err)?;
    let (sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream)).await?;
    // The connection's errors surface through the requests on it; nothing to log here.
    let task = tokio::spawn(async move {
        let _ = conn.await;
    })
    .abort_handle();
    Ok(Conn { sender, task })
}

/// Pools for every address a client sends to, made on first use; for senders whose URL
/// varies (a gateway notification carries its own).
#[derive(Debug)]
pub struct Pools {
    pools: Mutex<Vec<Arc<Pool>>>,
    max_idle: usize,
}

impl Pools {
    /// Pools keeping up to `max_idle` idle connections each.
    pub fn new(max_idle: usize) -> Pools {
        Pools {
            pools: Mutex::new(Vec::new()),
            max_idle,
        }
    }

    /// The pool for `url`'s address and host.
    pub fn get(&self, url: &LoopbackUrl) -> Arc<Pool> {
        let mut pools = self.pools.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(p) = pools
            .iter()
            .find(|p| p.addr == url.addr() && p.host == url.host())
        {
            return Arc::clone(p);
        }
        let p = Arc::new(Pool::new(url, self.max_idle));
        pools.push(Arc::clone(&p));
        p
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    use hyper::Method;
    use wiremock::matchers::{method, path};
    use wiremock::{Mock, MockServer, ResponseTemplate};

    fn post(path: &str) -> Request<Full<Bytes>> {
        let mut req = Request::new(Full::new(Bytes::new()));
        *req.method_mut() = Method::POST;
        *req.uri_mut() = path.parse().unwrap();
        req
    }

    #[tokio::test]
    async fn connections_are_reused_and_timeouts_reported() {
        let server = MockServer::start().await;
        Mock::given(method("POST"))
            .and(path("/fast"))
            .respond_with(ResponseTemplate::new(202).set_body_string("ok"))
            .mount(&server)
            .await;
        Mock::given(method("POST"))
            .and(path("/slow"))
            .respond_with(ResponseTemplate::new(200).set_delay(Duration::from_secs(2)))
            .mount(&server)
            .await;
        let url = LoopbackUrl::parse(&server.uri()).unwrap();
        let pool = Pool::new(&url, 4);
        let second = Duration::from_secs(5);
        for _ in 0..3 {
            let r = pool.send(post("/fast"), second).await.unwrap();
            assert_eq!((r.status.as_u16(), &r.body[..]), (202, &b"ok"[..]));
            assert_eq!(pool.idle_len(), 1, "one connection serves them in turn");
        }
        let err = pool
            .send(post("/slow"), Duration::from_millis(100))
            .await
            .unwrap_err();
        assert_eq!(err.to_string(), "timeout after 100 ms");
        assert_eq!(pool.idle_len(), 0, "a timed-out connection is dropped");
        let received = server.received_requests().await.unwrap();
        assert!(received.iter().all(|r| r.headers["host"] == url.host()));
    }

    #[tokio::test]
    async fn refused_connections_are_errors() {
        // Bind then drop a listener so the port is (very likely) closed.
        let addr = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap();
        let pool = Pool::to(addr, HeaderValue::from_static("x"), 1);
        let err = pool
            .send(post("/"), Duration::from_secs(5))
            .await
            .unwrap_err();
        assert!(matches!(err, ClientError::Connect { .. }), "{err}");
    }

    #[tokio::test]
    async fn one_pool_per_address_and_host() {
        let pools = Pools::new(2);
        let a = LoopbackUrl::parse("http://127.0.0.1:9/x").unwrap();
        let b = LoopbackUrl::parse("http://127.0.0.1:9/y?z=1").unwrap();
        let c = LoopbackUrl::parse("http://localhost:9/x").unwrap();
        assert!(Arc::ptr_eq(&pools.get(&a), &pools.get(&b)));
        assert!(!Arc::ptr_eq(&pools.get(&a), &pools.get(&c)), "another Host");
    }
}
