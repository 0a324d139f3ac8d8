//! One kept-alive HTTP/1.1 connection owned by one user: a [`Link`]. Where a [`Pool`]
//! (super::Pool) lends connections to whoever asks (a lock, a cap, a line), a link belongs
//! to one long-lived task that sends its exchanges one after another on it, so an exchange
//! costs no hand-over at all. It connects on first use, and again after its server closed it
//! or an exchange failed or timed out (that connection is closed at once, as the pool does).

use std::net::SocketAddr;
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::header::{HeaderValue, HOST, LOCATION};
use hyper::Request;

use super::client::{open, ClientError, Conn, Reply};

/// At most one open connection to one address, reused exchange after exchange.
pub struct Link {
    addr: SocketAddr,
    host: HeaderValue,
    conn: Option<Conn>,
    opened: u64,
}

impl std::fmt::Debug for Link {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Link")
            .field("addr", &self.addr)
            .field("open", &self.conn.is_some())
            .field("opened", &self.opened)
            .finish()
    }
}

impl Link {
    /// A link to `addr` sending `host` as `Host`; nothing is opened yet.
    pub fn new(addr: SocketAddr, host: HeaderValue) -> Link {
        Link {
            addr,
            host,
            conn: None,
            opened: 0,
        }
    }

    /// Connections this link has opened over its life.
    pub fn opened(&self) -> u64 {
        self.opened
    }

    /// Sends `req` (with this link's `Host`) and reads the whole answer, giving up after
    /// `timeout`. A request the kept connection could not take (its server closed it
    /// meanwhile: nothing was written) goes out on a new one, so it is never doubled.
    pub async fn send(
        &mut self,
        mut req: Request<Full<Bytes>>,
        timeout: Duration,
    ) -> Result<Reply, ClientError> {
        req.headers_mut().insert(HOST, self.host.clone());
        match tokio::time::timeout(timeout, self.exchange(req)).await {
            Ok(Ok(reply)) => Ok(reply),
            Ok(Err(e)) => {
                self.conn = None;
                Err(e)
            }
            Err(_) => {
                self.conn = None;
                Err(ClientError::Timeout(timeout))
            }
        }
    }

    async fn exchange(&mut self, mut req: Request<Full<Bytes>>) -> Result<Reply, ClientError> {
        let resp = loop {
            if let Some(conn) = self.conn.as_mut() {
                if !conn.sender.is_closed() && conn.sender.ready().await.is_ok() {
                    match conn.sender.try_send_request(req).await {
                        Ok(resp) => break resp,
                        Err(mut e) => match e.take_message() {
                            Some(unsent) => req = unsent,
                            None => return Err(e.into_error().into()),
                        },
                    }
                }
                self.conn = None;
                continue;
            }
            let fresh = self.connect().await?;
            let conn = self.conn.insert(fresh);
            break conn.sender.send_request(req).await?;
        };
        let status = resp.status();
        let location = if status.is_redirection() {
            resp.headers().get(LOCATION).cloned()
        } else {
            None
        };
        let body = resp.into_body().collect().await?.to_bytes();
        if self.conn.as_ref().is_some_and(|c| c.sender.is_closed()) {
            self.conn = None;
        }
        Ok(Reply {
            status,
            body,
            location,
        })
    }

    async fn connect(&mut self) -> Result<Conn, ClientError> {
        let conn = open(self.addr).await?;
        self.opened += 1;
        Ok(conn)
    }
}
