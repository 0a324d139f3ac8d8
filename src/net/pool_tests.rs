//! The bounded and per-request pools against a loopback server that counts the connections
//! it accepts and holds every answer until the test opens its gate: the assertions are on
//! counts and orders, which the gate decides, never on how long anything took.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use http_body_util::Full;
use hyper::service::service_fn;
use hyper::{Request, Response};
use hyper_util::rt::TokioIo;
use tokio::net::TcpListener;
use tokio::sync::{mpsc, watch};
use tokio::task::JoinSet;

use super::{ClientError, LoopbackUrl, Pool};

/// Far beyond anything a gate-held test waits for; only a hang reaches it.
const LONG: Duration = Duration::from_secs(60);

/// A server on 127.0.0.1:0 that answers 200 with the request's path once the gate opens.
struct Held {
    url: LoopbackUrl,
    accepted: Arc<AtomicUsize>,
    /// Paths in the order they arrived.
    arrived: Arc<Mutex<Vec<String>>>,
    /// One message per request as it arrives.
    arrivals: mpsc::UnboundedReceiver<()>,
    gate: watch::Sender<bool>,
}

impl Held {
    async fn start() -> Held {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url =
            LoopbackUrl::parse(&format!("http://{}", listener.local_addr().unwrap())).unwrap();
        let accepted = Arc::new(AtomicUsize::new(0));
        let arrived = Arc::new(Mutex::new(Vec::new()));
        let (tx, arrivals) = mpsc::unbounded_channel();
        let (gate, open) = watch::channel(false);
        let (acc, arr) = (Arc::clone(&accepted), Arc::clone(&arrived));
        tokio::spawn(async move {
            loop {
                let (stream, _) = listener.accept().await.unwrap();
                acc.fetch_add(1, Ordering::SeqCst);
                let (arr, tx, open) = (Arc::clone(&arr), tx.clone(), open.clone());
                tokio::spawn(async move {
                    let service = service_fn(move |req: Request<hyper::body::Incoming>| {
                        let (arr, tx, mut open) = (Arc::clone(&arr), tx.clone(), open.clone());
                        async move {
                            let path = req.uri().path().to_string();
                            arr.lock().unwrap().push(path.clone());
                            let _ = tx.send(());
                            let _ = open.wait_for(|o| *o).await;
                            Ok::<_, hyper::Error>(Response::new(Full::new(Bytes::from(path))))
                        }
                    });
                    let _ = hyper::server::conn::http1::Builder::new()
                        .serve_connection(TokioIo::new(stream), service)
                        .await;
                });
            }
        });
        Held {
            url,
            accepted,
            arrived,
            arrivals,
            gate,
        }
    }

    async fn arrivals(&mut self, n: usize) {
        for _ in 0..n {
            self.arrivals.recv().await.unwrap();
        }
    }

    fn accepted(&self) -> usize {
        self.accepted.load(Ordering::SeqCst)
    }

    fn open(&self) {
        self.gate.send_replace(true);
    }
}

fn get(path: &str) -> Request<Full<Bytes>> {
    let mut req = Request::new(Full::new(Bytes::new()));
    *req.uri_mut() = path.parse().unwrap();
    req
}

fn spawn_send(tasks: &mut JoinSet<Result<Bytes, ClientError>>, pool: &Arc<Pool>, path: &str) {
    let (pool, req) = (Arc::clone(pool), get(path));
    tasks.spawn(async move { pool.send(req, LONG).await.map(|r| r.body) });
}

/// Lets the spawned senders run until `n` of them wait in line.
async fn until_waiting(pool: &Pool, n: u64) {
    while pool.waiting() < n {
        tokio::task::yield_now().await;
    }
}

#[tokio::test]
async fn a_bounded_pool_never_opens_more_than_its_cap() {
    let mut server = Held::start().await;
    let pool = Arc::new(Pool::bounded(&server.url, 3));
    let mut tasks = JoinSet::new();
    for i in 0..20 {
        spawn_send(&mut tasks, &pool, &format!("/{i}"));
    }
    server.arrivals(3).await;
    until_waiting(&pool, 17).await;
    assert_eq!(
        server.accepted(),
        3,
        "three connections, each holding an answer"
    );
    server.open();
    while let Some(r) = tasks.join_next().await {
        r.unwrap().unwrap();
    }
    assert_eq!(server.accepted(), 3, "the waiters reused them");
    assert_eq!(server.arrived.lock().unwrap().len(), 20);
    let stats = pool.stats().unwrap();
    assert_eq!(
        (
            stats.connections,
            stats.waited,
            stats.gave_up,
            stats.exchanges
        ),
        (3, 17, 0, 20)
    );
    assert!(stats.wait_max_us <= stats.wait_total_us);
}

#[tokio::test]
async fn waiters_are_served_in_the_order_they_came() {
    let mut server = Held::start().await;
    let pool = Arc::new(Pool::bounded(&server.url, 1));
    let mut tasks = JoinSet::new();
    spawn_send(&mut tasks, &pool, "/first");
    server.arrivals(1).await;
    for (k, path) in ["/b", "/c", "/d", "/e"].into_iter().enumerate() {
        spawn_send(&mut tasks, &pool, path);
        until_waiting(&pool, k as u64 + 1).await;
    }
    server.open();
    while let Some(r) = tasks.join_next().await {
        r.unwrap().unwrap();
    }
    assert_eq!(
        *server.arrived.lock().unwrap(),
        ["/first", "/b", "/c", "/d", "/e"]
    );
    assert_eq!(server.accepted(), 1);
}

#[tokio::test]
async fn a_waiter_gives_up_after_its_bound_and_says_so() {
    let mut server = Held::start().await;
    let pool = Arc::new(Pool::bounded(&server.url, 1));
    let mut tasks = JoinSet::new();
    spawn_send(&mut tasks, &pool, "/held");
    server.arrivals(1).await;
    let err = pool
        .send(get("/late"), Duration::from_millis(50))
        .await
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        "no connection free within 50 ms (all 1 busy)"
    );
    server.open();
    tasks.join_next().await.unwrap().unwrap().unwrap();
    let stats = pool.stats().unwrap();
    assert_eq!((stats.waited, stats.gave_up, stats.exchanges), (1, 1, 1));
}

#[tokio::test]
async fn a_per_request_pool_opens_one_connection_per_exchange() {
    let server = Held::start().await;
    server.open();
    let pool = Pool::per_request(&server.url);
    for i in 0..4 {
        let r = pool.send(get(&format!("/{i}")), LONG).await.unwrap();
        assert_eq!(r.body, format!("/{i}"));
    }
    assert_eq!(server.accepted(), 4);
    assert_eq!(pool.idle_len(), 0);
    assert_eq!(pool.stats(), None, "no cap, nothing counted");
}
