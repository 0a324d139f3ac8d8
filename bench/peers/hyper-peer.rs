//! A bare hyper 1.x HTTP/1 server on loopback that answers every request with one canned
//! JSON body (a payment intent; `{"orders":[]}` under `/orders`, so that paychaos can use it
//! as a trivial external merchant). It reads each request body, as any real server must, and
//! does nothing else: the floor a mock provider or a merchant is measured against.
//!
//! Usage: `bench-hyper-peer [ADDR]` (default `127.0.0.1:0`); prints
//! `listening on http://ADDR` once it accepts connections.

use std::convert::Infallible;
use std::io::Write;
use std::net::SocketAddr;

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Request, Response};
use hyper_util::rt::TokioIo;
use tokio::net::TcpSocket;

const INTENT: &[u8] = include_bytes!("intent.json");
const ORDERS: &[u8] = br#"{"orders":[]}"#;
/// The backlog paychaos's own listeners use, so that a stall overflows both alike.
const BACKLOG: u32 = 4096;

async fn answer(req: Request<Incoming>) -> Result<Response<Full<Bytes>>, Infallible> {
    let body = if req.uri().path().starts_with("/orders") {
        ORDERS
    } else {
        INTENT
    };
    // Read the request to its end: keep-alive needs it, and a real server parses it.
    let _ = req.into_body().collect().await;
    let mut res = Response::new(Full::new(Bytes::from_static(body)));
    res.headers_mut().insert(
        hyper::header::CONTENT_TYPE,
        hyper::header::HeaderValue::from_static("application/json"),
    );
    Ok(res)
}

fn main() {
    let arg = std::env::args().nth(1);
    let addr: SocketAddr = arg
        .as_deref()
        .unwrap_or("127.0.0.1:0")
        .parse()
        .expect("usage: bench-hyper-peer [127.0.0.1:PORT]");
    assert!(
        addr.ip().is_loopback(),
        "listen on loopback only, got {addr}"
    );
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("tokio runtime");
    rt.block_on(async move {
        let socket = TcpSocket::new_v4().expect("socket");
        socket.set_reuseaddr(true).expect("SO_REUSEADDR");
        socket.bind(addr).expect("bind");
        let listener = socket.listen(BACKLOG).expect("listen");
        let local = listener.local_addr().expect("local address");
        println!("listening on http://{local}");
        let _ = std::io::stdout().flush();
        loop {
            let Ok((stream, _)) = listener.accept().await else {
                continue;
            };
            let _ = stream.set_nodelay(true);
            tokio::spawn(async move {
                let _ = http1::Builder::new()
                    .serve_connection(TokioIo::new(stream), service_fn(answer))
                    .await;
            });
        }
    });
}
