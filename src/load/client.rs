//! The load generator's HTTP/1 client: it owns its connections (a pool of hyper `SendRequest`
//! handles over loopback `TcpStream`s, opened on demand, handed back after each exchange and
//! dropped on error) because hyper-util's pooled client costs a fifth of the throughput.
//! On top of it: one prepared checkout ([`Checkout`]) and the reads of final order states.

use std::collections::HashMap;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::client::conn::http1::SendRequest;
use hyper::header::{HeaderValue, CONTENT_TYPE, HOST};
use hyper::{Method, Request, Uri};
use hyper_util::rt::TokioIo;
use tokio::net::TcpStream;
use tokio::task::JoinSet;

use super::LoadPlan;
use crate::domain::{CheckoutAnswer, OrderSnapshot};
use crate::scenario::contract::{Contract, Template, Values};

/// Where a URL points: a loopback socket, its `Host` header and the request target.
#[derive(Clone, Debug)]
pub struct Target {
    pub addr: SocketAddr,
    pub host: HeaderValue,
    /// Origin-form request target (`/path?query`).
    pub path: Uri,
}

impl Target {
    /// Parses an `http://` URL on a loopback host (`127.0.0.1`, `[::1]` or `localhost`);
    /// the error says what is wrong, for the caller to wrap.
    pub fn parse(url: &str) -> Result<Target, String> {
        let uri: Uri = url.parse().map_err(|e| format!("is not a url ({e})"))?;
        if uri.scheme_str() != Some("http") {
            return Err("is not an http:// url".into());
        }
        let authority = uri.authority().ok_or("has no host")?;
        let host = authority.host();
        let ip: IpAddr = match host.trim_start_matches('[').trim_end_matches(']') {
            "localhost" => IpAddr::V4(Ipv4Addr::LOCALHOST),
            h => h
                .parse()
                .map_err(|_| format!("host '{host}' is not an ip address or localhost"))?,
        };
        if !ip.is_loopback() {
            return Err(format!("host '{host}' is not loopback"));
        }
        let path = uri
            .path_and_query()
            .map_or("/", |p| p.as_str())
            .parse()
            .map_err(|e| format!("has a bad path ({e})"))?;
        Ok(Target {
            addr: SocketAddr::new(ip, authority.port_u16().unwrap_or(80)),
            host: HeaderValue::from_str(authority.as_str()).map_err(|e| e.to_string())?,
            path,
        })
    }
}

/// A received answer, body read in full.
#[derive(Clone, Debug)]
pub struct Answer {
    pub status: u16,
    pub body: Bytes,
}

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
}

type Sender = SendRequest<Full<Bytes>>;

/// Connections to one merchant address.
#[derive(Debug)]
pub struct Client {
    addr: SocketAddr,
    host: HeaderValue,
    /// Idle connections; held only to push or pop one.
    idle: Mutex<Vec<Sender>>,
    max_idle: usize,
}

impl Client {
    /// A client for `addr` (sent `host` as `Host`) keeping up to `max_idle` idle connections.
    pub fn new(addr: SocketAddr, host: HeaderValue, max_idle: usize) -> Client {
        Client {
            addr,
            host,
            idle: Mutex::new(Vec::new()),
            max_idle,
        }
    }

    /// Sends one request and reads the whole answer, giving up after `timeout`.
    pub async fn send(
        &self,
        method: &Method,
        path: &Uri,
        body: Bytes,
        timeout: Duration,
    ) -> Result<Answer, ClientError> {
        tokio::time::timeout(timeout, self.exchange(method, path, body))
            .await
            .map_err(|_| ClientError::Timeout(timeout))?
    }

    async fn exchange(
        &self,
        method: &Method,
        path: &Uri,
        body: Bytes,
    ) -> Result<Answer, ClientError> {
        let mut req = Request::new(Full::new(body));
        *req.method_mut() = method.clone();
        *req.uri_mut() = path.clone();
        let h = req.headers_mut();
        h.insert(HOST, self.host.clone());
        h.insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));

        let (mut sender, resp) = match self.take_idle().await {
            Some(mut sender) => match sender.try_send_request(req).await {
                Ok(resp) => (sender, resp),
                // An idle connection the server closed meanwhile: the request was not
                // written, so sending it again on a fresh connection cannot double it.
                Err(mut e) => match e.take_message() {
                    Some(req) => {
                        let mut sender = self.connect().await?;
                        let resp = sender.send_request(req).await?;
                        (sender, resp)
                    }
                    None => return Err(e.into_error().into()),
                },
            },
            None => {
                let mut sender = self.connect().await?;
                let resp = sender.send_request(req).await?;
                (sender, resp)
            }
        };
        let status = resp.status().as_u16();
        let body = resp.into_body().collect().await?.to_bytes();
        // Wait out the dispatcher's turn-around so the next user finds it ready.
        if sender.ready().await.is_ok() {
            self.give_back(sender);
        }
        Ok(Answer { status, body })
    }

    /// An idle, ready connection, if one is left open.
    async fn take_idle(&self) -> Option<Sender> {
        loop {
            let mut sender = self.idle.lock().expect("idle pool lock").pop()?;
            if !sender.is_closed() && sender.ready().await.is_ok() {
                return Some(sender);
            }
        }
    }

    fn give_back(&self, sender: Sender) {
        let mut idle = self.idle.lock().expect("idle pool lock");
        if idle.len() < self.max_idle {
            idle.push(sender);
        }
    }

    async fn connect(&self) -> Result<Sender, ClientError> {
        let connect_err = |source| ClientError::Connect {
            addr: self.addr,
            source,
        };
        let stream = TcpStream::connect(self.addr).await.map_err(connect_err)?;
        stream.set_nodelay(true).map_err(connect_err)?;
        let (sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream)).await?;
        // The connection's errors surface through the requests on it; nothing to log here.
        tokio::spawn(async move {
            let _ = conn.await;
        });
        Ok(sender)
    }

    /// How many connections sit idle (for tests).
    #[cfg(test)]
    pub fn idle_len(&self) -> usize {
        self.idle.lock().expect("idle pool lock").len()
    }
}

/// Concurrent per-order reads in [`fetch_each`].
const FETCH_CONCURRENCY: usize = 32;

/// What every checkout task shares: the prepared request and how to read its answer.
pub struct Checkout {
    contract: Contract,
    /// The client and request line, or why the contract's checkout URL is unusable.
    target: Result<(Client, Method, Uri), String>,
    body: Template,
    currency: String,
    payment_method: String,
    timeout: Duration,
}

impl Checkout {
    /// Prepares the checkouts of `plan` against `contract`.
    pub fn new(plan: &LoadPlan, contract: &Contract) -> Checkout {
        let c = &contract.checkout;
        let target = Method::from_bytes(c.method.as_bytes())
            .map_err(|_| format!("checkout method '{}' is not an http method", c.method))
            .and_then(|m| {
                let t =
                    Target::parse(&c.url).map_err(|e| format!("checkout url '{}' {e}", c.url))?;
                Ok((Client::new(t.addr, t.host, plan.max_in_flight), m, t.path))
            });
        Checkout {
            contract: contract.clone(),
            target,
            body: Template::parse(&c.body),
            currency: plan.orders.currency.clone(),
            payment_method: plan.orders.payment_method.clone(),
            timeout: plan.request_timeout,
        }
    }

    /// Sends one checkout and reads its answer; every failure is an `Error` answer.
    pub async fn send(&self, order_id: &str, amount: u64) -> CheckoutAnswer {
        let (client, method, path) = match &self.target {
            Ok(t) => t,
            Err(detail) => {
                return CheckoutAnswer::Error {
                    detail: detail.clone(),
                }
            }
        };
        let body = self.body.render_json(&Values {
            order_id,
            amount,
            currency: &self.currency,
            payment_method: &self.payment_method,
        });
        match client
            .send(method, path, Bytes::from(body), self.timeout)
            .await
        {
            Ok(a) => self.contract.read_answer(a.status, &a.body),
            Err(e) => CheckoutAnswer::Error {
                detail: e.to_string(),
            },
        }
    }
}

/// One GET; `Ok(None)` on 404.
async fn get_json(
    client: &Client,
    url: &str,
    path: &Uri,
    timeout: Duration,
) -> Result<Option<serde_json::Value>, String> {
    let a = client
        .send(&Method::GET, path, Bytes::new(), timeout)
        .await
        .map_err(|e| format!("GET {url}: {e}"))?;
    match a.status {
        404 => Ok(None),
        200..=299 => serde_json::from_slice(&a.body)
            .map(Some)
            .map_err(|e| format!("GET {url}: answer is not json: {e}")),
        s => Err(format!("GET {url}: http {s}")),
    }
}

/// Reads the orders of `order_ids` from the bulk export at `url`.
pub async fn fetch_bulk(
    contract: &Contract,
    url: &str,
    order_ids: &[String],
) -> Result<Vec<OrderSnapshot>, String> {
    let o = &contract.orders;
    let t = Target::parse(url).map_err(|e| format!("orders bulk url '{url}' {e}"))?;
    let client = Client::new(t.addr, t.host, 1);
    let v = get_json(&client, url, &t.path, o.timeout)
        .await?
        .ok_or_else(|| format!("GET {url}: http 404"))?;
    let list = v
        .pointer(&o.list_pointer)
        .and_then(|l| l.as_array())
        .ok_or_else(|| format!("GET {url}: no array at {}", o.list_pointer))?;
    let mut known = HashMap::with_capacity(list.len());
    for (i, item) in list.iter().enumerate() {
        let s = contract
            .read_order(item)
            .map_err(|e| format!("GET {url}: order {i} at {}: {e}", o.list_pointer))?;
        known.insert(s.order_id.clone(), s);
    }
    Ok(order_ids.iter().filter_map(|id| known.remove(id)).collect())
}

/// Reads the orders of `order_ids` one GET each through the URL `template`.
pub async fn fetch_each(
    contract: &Contract,
    template: &str,
    order_ids: &[String],
) -> Result<Vec<OrderSnapshot>, String> {
    let template = Template::parse(template);
    let contract = Arc::new(contract.clone());
    let mut client: Option<Arc<Client>> = None;
    let mut tasks = JoinSet::new();
    let mut found = Vec::new();
    let mut next = 0;
    loop {
        while tasks.len() < FETCH_CONCURRENCY && next < order_ids.len() {
            let id = order_ids[next].clone();
            let url = template.render_url(&Values {
                order_id: &id,
                amount: 0,
                currency: "",
                payment_method: "",
            });
            let t = Target::parse(&url).map_err(|e| format!("order url '{url}' {e}"))?;
            let c = match &client {
                Some(c) => Arc::clone(c),
                None => Arc::clone(client.insert(Arc::new(Client::new(
                    t.addr,
                    t.host.clone(),
                    FETCH_CONCURRENCY,
                )))),
            };
            let contract = Arc::clone(&contract);
            let index = next;
            tasks.spawn(async move {
                let timeout = contract.orders.timeout;
                let Some(v) = get_json(&c, &url, &t.path, timeout).await? else {
                    return Ok(None);
                };
                let s = contract
                    .read_order(&v)
                    .map_err(|e| format!("GET {url}: {e}"))?;
                if s.order_id != id {
                    return Err(format!(
                        "GET {url}: answers for order '{}' at {}",
                        s.order_id, contract.orders.id_pointer
                    ));
                }
                Ok(Some((index, s)))
            });
            next += 1;
        }
        let Some(joined) = tasks.join_next().await else {
            break;
        };
        match joined {
            Ok(Ok(Some(s))) => found.push(s),
            Ok(Ok(None)) => {}
            Ok(Err(e)) => return Err(e),
            Err(e) => return Err(format!("order read task failed: {e}")),
        }
    }
    found.sort_unstable_by_key(|(i, _)| *i);
    Ok(found.into_iter().map(|(_, s)| s).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    use wiremock::matchers::{method, path};
    use wiremock::{Mock, MockServer, ResponseTemplate};

    #[test]
    fn targets_must_be_loopback_http() {
        let t = Target::parse("http://127.0.0.1:8080/checkout?x=1").unwrap();
        assert_eq!(t.addr, "127.0.0.1:8080".parse().unwrap());
        assert_eq!(t.host, "127.0.0.1:8080");
        assert_eq!(t.path, "/checkout?x=1");
        let t = Target::parse("http://localhost").unwrap();
        assert_eq!(t.addr, "127.0.0.1:80".parse().unwrap());
        assert_eq!(t.path, "/");
        assert_eq!(
            Target::parse("http://[::1]:9/").unwrap().addr,
            "[::1]:9".parse().unwrap()
        );
        for (url, why) in [
            ("https://127.0.0.1/x", "http://"),
            ("http://10.0.0.1/x", "not loopback"),
            ("http://example.com/x", "not an ip address"),
            ("/checkout", "http://"),
            ("not a url at all", "not a url"),
        ] {
            let err = Target::parse(url).unwrap_err();
            assert!(err.contains(why), "{url}: {err}");
        }
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
        let t = Target::parse(&format!("{}/fast", server.uri())).unwrap();
        let client = Client::new(t.addr, t.host.clone(), 4);
        let second = Duration::from_secs(5);
        for _ in 0..3 {
            let a = client
                .send(&Method::POST, &t.path, Bytes::new(), second)
                .await
                .unwrap();
            assert_eq!((a.status, &a.body[..]), (202, &b"ok"[..]));
            assert_eq!(client.idle_len(), 1, "one connection serves them in turn");
        }
        let slow: Uri = "/slow".parse().unwrap();
        let err = client
            .send(
                &Method::POST,
                &slow,
                Bytes::new(),
                Duration::from_millis(100),
            )
            .await
            .unwrap_err();
        assert_eq!(err.to_string(), "timeout after 100 ms");
        assert_eq!(client.idle_len(), 0, "a timed-out connection is dropped");
    }

    #[tokio::test]
    async fn refused_connections_are_errors() {
        // Bind then drop a listener so the port is (very likely) closed.
        let addr = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap();
        let client = Client::new(addr, HeaderValue::from_static("x"), 1);
        let err = client
            .send(
                &Method::GET,
                &Uri::from_static("/"),
                Bytes::new(),
                Duration::from_secs(5),
            )
            .await
            .unwrap_err();
        assert!(matches!(err, ClientError::Connect { .. }), "{err}");
    }
}
