//! The alert receiver: an HTTP listener on loopback that takes Prometheus Alertmanager's
//! webhook notifications (`POST`, JSON, version "4"), so that the merchant's own monitoring,
//! or an Alertmanager routing it, can point at the run. Each alert is kept with its arrival
//! time from the run's origin for the report's comparison with the expected alarm.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Instant;

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::service::service_fn;
use hyper::{Method, Request, Response, StatusCode};
use tokio_util::sync::CancellationToken;

use crate::alertmanager::{self, Received};
use crate::net::{Body, ServerLimits};

/// The path the receiver is printed with (any path is accepted, as `webhook_config.url`
/// names a whole URL).
pub const PATH: &str = "/alerts";

/// At most this many alerts are kept: a sender in a loop must not grow the run's memory
/// without bound; later ones are counted and answered, not kept.
pub const MAX_KEPT: usize = 10_000;

/// A running receiver: its URL and what it took in.
#[derive(Clone, Debug)]
pub struct Receiver {
    pub url: String,
    kept: Arc<Mutex<Vec<(Instant, Received)>>>,
}

impl Receiver {
    /// The alerts received so far, in arrival order, timed from `origin` (the run's time
    /// zero, which is set after the receiver starts: an external merchant is told its URL
    /// before the run begins).
    pub fn received(&self, origin: Instant) -> Vec<Received> {
        let kept = self.kept.lock().expect("not poisoned");
        kept.iter()
            .map(|(at, r)| Received {
                at_ms: at.saturating_duration_since(origin).as_millis() as u64,
                ..r.clone()
            })
            .collect()
    }
}

/// The answer to one request; a notification's alerts are pushed into `kept`.
fn answer(
    method: &Method,
    body: Result<Bytes, String>,
    kept: &Mutex<Vec<(Instant, Received)>>,
) -> (StatusCode, String) {
    if method != Method::POST {
        return (
            StatusCode::METHOD_NOT_ALLOWED,
            "POST an Alertmanager webhook notification (JSON, version \"4\")\n".into(),
        );
    }
    let body = match body {
        Ok(b) => b,
        Err(e) => {
            return (
                StatusCode::BAD_REQUEST,
                format!("cannot read the body: {e}\n"),
            )
        }
    };
    match alertmanager::parse(&body) {
        Ok(n) => {
            let now = Instant::now();
            let mut k = kept.lock().expect("not poisoned");
            let room = MAX_KEPT.saturating_sub(k.len());
            k.extend(n.received(0).take(room).map(|r| (now, r)));
            (StatusCode::OK, "ok\n".into())
        }
        Err(e) => (StatusCode::BAD_REQUEST, format!("{e}\n")),
    }
}

/// Binds `127.0.0.1:0` and serves until `shutdown`.
pub fn start(shutdown: CancellationToken) -> std::io::Result<Receiver> {
    let listener = crate::net::listen(SocketAddr::from(([127, 0, 0, 1], 0)))?;
    let bound = listener.local_addr()?;
    let kept = Arc::new(Mutex::new(Vec::new()));
    let shared = Arc::clone(&kept);
    let make = move |_peer, _reset| {
        let kept = Arc::clone(&shared);
        service_fn(move |req: Request<Body>| {
            let kept = Arc::clone(&kept);
            async move {
                let method = req.method().clone();
                let body = req
                    .into_body()
                    .collect()
                    .await
                    .map(|c| c.to_bytes())
                    .map_err(|e| e.to_string());
                let (status, text) = answer(&method, body, &kept);
                let mut r = Response::new(Full::new(Bytes::from(text)));
                *r.status_mut() = status;
                Ok::<_, std::convert::Infallible>(r)
            }
        })
    };
    tokio::spawn(crate::net::serve(
        "alerts",
        listener,
        make,
        shutdown,
        ServerLimits::default(),
    ));
    Ok(Receiver {
        url: format!("http://{bound}{PATH}"),
        kept,
    })
}

#[cfg(test)]
mod tests;
