//! The start barrier of a sharded run, as k6-operator's starter does it: every shard calls
//! the coordinator when it is ready (`POST /ready?shard=I&count=N&t0=…`), the coordinator holds
//! each call until all N shards are ready, then answers all of them with one common start a
//! little ahead (its `lead`). Each answer also carries when the coordinator received the call
//! and when it answered, so each shard measures its clock against the coordinator's as NTP
//! does (offset = ((t1 − t0) + (t2 − t3)) / 2, negated to "this host minus coordinator") and
//! turns the common start into its own clock.

use std::collections::BTreeSet;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use http_body_util::Full;
use hyper::service::service_fn;
use hyper::{Method, Request, Response, StatusCode};
use serde::{Deserialize, Serialize};
use tokio::sync::watch;
use tokio_util::sync::CancellationToken;

use super::shard::{unix_ms, Start};
use crate::net::{Body, LoopbackUrl, Pool, ServerLimits};
use crate::scenario::Shard;

/// How long a shard keeps trying to reach a coordinator that is not listening yet.
const CONNECT_FOR: Duration = Duration::from_secs(60);
/// How long a shard waits for the others once its call is in.
const HOLD_FOR: Duration = Duration::from_secs(3600);

/// The coordinator's answer.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Answer {
    /// The common start, unix ns on the coordinator's clock.
    pub start_unix_ns: u64,
    /// When the coordinator received this call and when it answered, unix ns, its clock.
    pub received_unix_ns: u64,
    pub answered_unix_ns: u64,
}

fn now_ns() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_nanos()).unwrap_or(u64::MAX))
}

/// This host's clock minus the coordinator's, and the round trip without the hold, in ns,
/// from the four instants of one exchange (t0 sent, t3 received here).
pub fn offset_ns(t0: u64, a: &Answer, t3: u64) -> (i128, i128) {
    let (t0, t1, t2, t3) = (
        i128::from(t0),
        i128::from(a.received_unix_ns),
        i128::from(a.answered_unix_ns),
        i128::from(t3),
    );
    let coordinator_minus_here = ((t1 - t0) + (t2 - t3)) / 2;
    (-coordinator_minus_here, (t3 - t0) - (t2 - t1))
}

/// Reports `shard` ready to the coordinator at `url` and waits for the common start.
///
/// # Errors
/// An unusable URL, a coordinator that never answered, or one that refused the call.
pub async fn ready(url: &str, shard: Shard) -> Result<Start, String> {
    let base = LoopbackUrl::parse(url).map_err(|e| e.to_string())?;
    let pool = Pool::new(&base, 1);
    let path = base.path().path().trim_end_matches('/').to_string();
    let deadline = tokio::time::Instant::now() + CONNECT_FOR;
    let (t0, answer, t3) = loop {
        let t0 = now_ns();
        let req = Request::builder()
            .method(Method::POST)
            .uri(format!(
                "{path}/ready?shard={}&count={}&t0={t0}",
                shard.index, shard.count
            ))
            .body(Full::new(Bytes::new()))
            .map_err(|e| e.to_string())?;
        match pool.send(req, HOLD_FOR).await {
            Ok(reply) if reply.status == StatusCode::OK => {
                let t3 = now_ns();
                let a: Answer = serde_json::from_slice(&reply.body)
                    .map_err(|e| format!("unreadable answer: {e}"))?;
                break (t0, a, t3);
            }
            Ok(reply) => {
                return Err(format!(
                    "the coordinator refused shard {shard}: {} {}",
                    reply.status,
                    String::from_utf8_lossy(&reply.body).trim()
                ))
            }
            Err(e) if tokio::time::Instant::now() < deadline => {
                tracing::debug!("barrier not reachable yet: {e}");
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
            Err(e) => return Err(format!("no answer after {} s: {e}", CONNECT_FOR.as_secs())),
        }
    };
    let (offset, round_trip) = offset_ns(t0, &answer, t3);
    // The coordinator's start on this host's clock.
    let local_ns = i128::from(answer.start_unix_ns) + offset;
    let at = UNIX_EPOCH + Duration::from_nanos(u64::try_from(local_ns.max(0)).unwrap_or(0));
    let mut start = Start::at(at, "barrier");
    start.common_ns = Some(u128::from(answer.start_unix_ns));
    start.info.start_unix_ms = Some(unix_ms(at));
    start.info.clock_offset_ms = Some(offset as f64 / 1e6);
    start.info.round_trip_ms = Some(round_trip as f64 / 1e6);
    tracing::info!(
        "barrier: start at {} ms unix (this host's clock {:+.3} ms from the coordinator's)",
        unix_ms(at),
        offset as f64 / 1e6
    );
    Ok(start)
}

/// The coordinator's books.
struct Books {
    count: u64,
    lead: Duration,
    ready: Mutex<BTreeSet<u64>>,
    start: watch::Sender<Option<u64>>,
    answered: Mutex<u64>,
    done: CancellationToken,
}

fn text(status: StatusCode, body: String) -> Response<Full<Bytes>> {
    let mut r = Response::new(Full::new(Bytes::from(body)));
    *r.status_mut() = status;
    r
}

/// The value of `key` in a query string.
fn query(q: &str, key: &str) -> Option<u64> {
    q.split('&')
        .find_map(|kv| kv.strip_prefix(key)?.strip_prefix('='))
        .and_then(|v| v.parse().ok())
}

async fn answer(books: Arc<Books>, req: Request<Body>) -> Response<Full<Bytes>> {
    let received = now_ns();
    if req.method() != Method::POST || !req.uri().path().ends_with("/ready") {
        return text(
            StatusCode::NOT_FOUND,
            "only POST /ready?shard=I&count=N\n".into(),
        );
    }
    let q = req.uri().query().unwrap_or("");
    let (Some(index), Some(count)) = (query(q, "shard"), query(q, "count")) else {
        return text(
            StatusCode::BAD_REQUEST,
            "expected ?shard=I&count=N\n".into(),
        );
    };
    if count != books.count || index >= count {
        return text(
            StatusCode::CONFLICT,
            format!(
                "shard {index}/{count} does not belong to this barrier of {} shards\n",
                books.count
            ),
        );
    }
    {
        let mut ready = books.ready.lock().expect("not poisoned");
        if !ready.insert(index) {
            return text(
                StatusCode::CONFLICT,
                format!("shard {index}/{count} is ready twice: two shards were given one index\n"),
            );
        }
        tracing::info!(
            "barrier: shard {index}/{count} ready ({} of {count})",
            ready.len()
        );
        if ready.len() as u64 == books.count {
            let lead = u64::try_from(books.lead.as_nanos()).unwrap_or(u64::MAX);
            let _ = books.start.send(Some(now_ns().saturating_add(lead)));
        }
    }
    let mut rx = books.start.subscribe();
    let start = match rx.wait_for(Option::is_some).await {
        Ok(s) => s.expect("waited for"),
        Err(_) => return text(StatusCode::SERVICE_UNAVAILABLE, "barrier stopped\n".into()),
    };
    let a = Answer {
        start_unix_ns: start,
        received_unix_ns: received,
        answered_unix_ns: now_ns(),
    };
    let mut answered = books.answered.lock().expect("not poisoned");
    *answered += 1;
    if *answered == books.count {
        books.done.cancel();
    }
    text(
        StatusCode::OK,
        serde_json::to_string(&a).expect("plain data"),
    )
}

/// Serves the barrier of `count` shards on `listener` until every shard was answered (or
/// `shutdown`); the common start is `lead` after the last shard is ready.
pub async fn serve(
    listener: tokio::net::TcpListener,
    count: u64,
    lead: Duration,
    shutdown: CancellationToken,
) {
    let books = Arc::new(Books {
        count,
        lead,
        ready: Mutex::new(BTreeSet::new()),
        start: watch::channel(None).0,
        answered: Mutex::new(0),
        done: shutdown.clone(),
    });
    let make = move |_peer: SocketAddr, _reset| {
        let books = Arc::clone(&books);
        service_fn(move |req: Request<Body>| {
            let books = Arc::clone(&books);
            async move { Ok::<_, std::convert::Infallible>(answer(books, req).await) }
        })
    };
    crate::net::serve("barrier", listener, make, shutdown, ServerLimits::default()).await;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_offset_is_the_ntp_estimate_and_the_hold_leaves_the_round_trip() {
        // This host is 5 ms ahead; 1 ms each way; the coordinator held the call 300 ms.
        let ms = 1_000_000u64;
        let t0 = 1_000 * ms;
        let a = Answer {
            start_unix_ns: 2_000 * ms,
            received_unix_ns: t0 - 5 * ms + ms,
            answered_unix_ns: t0 - 5 * ms + ms + 300 * ms,
        };
        let t3 = t0 + 302 * ms;
        let (offset, rtt) = offset_ns(t0, &a, t3);
        assert_eq!(offset, i128::from(5 * ms));
        assert_eq!(rtt, i128::from(2 * ms));
    }

    #[tokio::test]
    async fn every_shard_gets_one_start_once_all_are_ready() {
        let listener = crate::net::listen("127.0.0.1:0".parse().unwrap()).unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let stop = CancellationToken::new();
        let served = tokio::spawn(serve(listener, 2, Duration::from_millis(50), stop.clone()));
        let a = tokio::spawn({
            let url = url.clone();
            async move { ready(&url, Shard::new(0, 2).unwrap()).await }
        });
        let b = tokio::spawn({
            let url = url.clone();
            async move { ready(&url, Shard::new(1, 2).unwrap()).await }
        });
        let (a, b) = (a.await.unwrap().unwrap(), b.await.unwrap().unwrap());
        // One clock: each offset estimate is off by at most half its round trip, so the two
        // starts differ by at most the sum of the halves (rounded to whole ms).
        let (sa, sb) = (a.info.start_unix_ms.unwrap(), b.info.start_unix_ms.unwrap());
        let bound = (a.info.round_trip_ms.unwrap() + b.info.round_trip_ms.unwrap()) / 2.0 + 2.0;
        assert!(
            (sa.abs_diff(sb) as f64) <= bound,
            "{sa} vs {sb} (bound {bound} ms)"
        );
        assert_eq!(a.info.how, "barrier");
        assert!(a.info.clock_offset_ms.is_some());
        served.await.unwrap();
        assert!(
            stop.is_cancelled(),
            "the barrier ends once every shard was answered"
        );
    }
}
