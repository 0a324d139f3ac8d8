//! wiremock-rs on loopback answering every request with the bare hyper peer's canned JSON,
//! request recording off (what a test suite reaching for a mock server would run).
//!
//! Usage: `bench-wiremock-peer [ADDR]` (default `127.0.0.1:0`); prints
//! `listening on http://ADDR` once it accepts connections, then serves until killed.

use std::io::Write;
use std::net::SocketAddr;

use wiremock::matchers::any;
use wiremock::{Mock, MockServer, ResponseTemplate};

const INTENT: &[u8] = include_bytes!("intent.json");

#[tokio::main]
async fn main() {
    let arg = std::env::args().nth(1);
    let addr: SocketAddr = arg
        .as_deref()
        .unwrap_or("127.0.0.1:0")
        .parse()
        .expect("usage: bench-wiremock-peer [127.0.0.1:PORT]");
    assert!(
        addr.ip().is_loopback(),
        "listen on loopback only, got {addr}"
    );
    let listener = std::net::TcpListener::bind(addr).expect("bind");
    let server = MockServer::builder()
        .listener(listener)
        .disable_request_recording()
        .start()
        .await;
    Mock::given(any())
        .respond_with(ResponseTemplate::new(200).set_body_raw(INTENT, "application/json"))
        .mount(&server)
        .await;
    println!("listening on {}", server.uri());
    let _ = std::io::stdout().flush();
    std::future::pending::<()>().await;
}
