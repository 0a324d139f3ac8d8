//! The provider's in-flight cap (`provider.max_in_flight`, `paychaos provider --max-in-flight`):
//! an API request beyond it is answered at once, before its body is read, with the dialect's
//! rate-limit answer and `Retry-After`, instead of waiting with the others without bound.
//! What it costs per request is two atomic operations; shed requests are counted (never
//! recorded in the ledger, as nothing was done) and a warning counts them every few seconds.

use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use bytes::Bytes;
use http_body_util::Full;
use hyper::header::{HeaderValue, CONTENT_TYPE, RETRY_AFTER};
use hyper::{Response, StatusCode};

use crate::provider::dialects::{Answer, ApiError, Dialect};

/// `Retry-After` on a shed answer, in seconds: the cap frees up as soon as requests finish,
/// so the shortest whole value.
pub const RETRY_AFTER_SECS: u64 = 1;

/// How often the shedding is reported while it goes on.
const WARN_EVERY: Duration = Duration::from_secs(10);

/// The cap, the requests in flight under it and the ones shed beyond it.
pub(crate) struct Admission {
    cap: usize,
    in_flight: AtomicUsize,
    shed: AtomicU64,
    /// The shed answer, rendered once: shedding must cost less than serving.
    status: StatusCode,
    body: Bytes,
    /// When the next warning may be printed, in ms from `since`.
    next_warn_ms: AtomicU64,
    since: Instant,
}

/// A request admitted under the cap; leaving the cap's count when dropped, on every path
/// (answered, dropped on purpose, or abandoned when its client hangs up).
pub(crate) struct Admitted<'a>(&'a AtomicUsize);

impl Drop for Admitted<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::AcqRel);
    }
}

impl Admission {
    /// At most `cap` requests in flight (at least 1), shed in `dialect`'s words.
    pub fn new(cap: usize, dialect: &dyn Dialect) -> Admission {
        let cap = cap.max(1);
        let (rendered, _) = dialect.render(&Answer::Error(ApiError::Overloaded { cap }), None);
        Admission {
            cap,
            in_flight: AtomicUsize::new(0),
            shed: AtomicU64::new(0),
            status: StatusCode::from_u16(rendered.status).unwrap_or(StatusCode::TOO_MANY_REQUESTS),
            body: rendered.body,
            next_warn_ms: AtomicU64::new(0),
            since: Instant::now(),
        }
    }

    /// Admits one more request, or counts it as shed (`None`) when `cap` are in flight.
    pub fn admit(&self) -> Option<Admitted<'_>> {
        let before = self.in_flight.fetch_add(1, Ordering::AcqRel);
        if before < self.cap {
            return Some(Admitted(&self.in_flight));
        }
        self.in_flight.fetch_sub(1, Ordering::AcqRel);
        let shed = self.shed.fetch_add(1, Ordering::Relaxed) + 1;
        self.warn(shed);
        None
    }

    /// The answer to a shed request.
    pub fn shed_response(&self, request_id: &str) -> Response<Full<Bytes>> {
        let mut resp = Response::new(Full::new(self.body.clone()));
        *resp.status_mut() = self.status;
        let h = resp.headers_mut();
        h.insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
        h.insert(RETRY_AFTER, HeaderValue::from(RETRY_AFTER_SECS));
        if let Ok(v) = HeaderValue::from_str(request_id) {
            h.insert("request-id", v);
        }
        resp
    }

    /// The cap.
    pub fn cap(&self) -> usize {
        self.cap
    }

    /// Requests in flight now.
    pub fn in_flight(&self) -> usize {
        self.in_flight.load(Ordering::Acquire)
    }

    /// Requests shed so far.
    pub fn shed(&self) -> u64 {
        self.shed.load(Ordering::Relaxed)
    }

    /// Warns at the first shed request, then at most every [`WARN_EVERY`] while shedding
    /// goes on; one request wins the slot, the others pay one load.
    fn warn(&self, shed: u64) {
        let now = u64::try_from(self.since.elapsed().as_millis()).unwrap_or(u64::MAX);
        let next = self.next_warn_ms.load(Ordering::Relaxed);
        if now < next {
            return;
        }
        let after = now.saturating_add(WARN_EVERY.as_millis() as u64);
        if self
            .next_warn_ms
            .compare_exchange(next, after, Ordering::Relaxed, Ordering::Relaxed)
            .is_ok()
        {
            tracing::warn!(
                "provider: {} requests in flight (the cap): {shed} request(s) shed so far, \
                 answered as rate limited with Retry-After",
                self.cap
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::provider::dialects::{gateway, stripe};

    #[test]
    fn admits_up_to_the_cap_sheds_beyond_and_admits_again_once_one_leaves() {
        let a = Admission::new(2, &stripe::Stripe);
        let first = a.admit().expect("1 of 2");
        let second = a.admit().expect("2 of 2");
        assert!(a.admit().is_none(), "a third is shed");
        assert_eq!((a.in_flight(), a.shed()), (2, 1));
        drop(first);
        let third = a.admit().expect("a place came free");
        assert!(a.admit().is_none());
        drop((second, third));
        assert_eq!((a.in_flight(), a.shed()), (0, 2));
    }

    #[test]
    fn a_cap_of_zero_is_taken_as_one() {
        let a = Admission::new(0, &stripe::Stripe);
        assert_eq!(a.cap(), 1);
        let _one = a.admit().expect("one is admitted");
        assert!(a.admit().is_none());
    }

    #[test]
    fn stripe_sheds_with_429_rate_limit_and_the_gateway_with_its_busy_code() {
        let s = Admission::new(1, &stripe::Stripe).shed_response("req_1");
        assert_eq!(s.status(), StatusCode::TOO_MANY_REQUESTS);
        assert_eq!(s.headers()[RETRY_AFTER], "1");
        assert_eq!(s.headers()["request-id"], "req_1");
        let g = Admission::new(1, &gateway::Gateway).shed_response("req_2");
        // The gateway answers every business result with 200 and a code, its busy one here.
        assert_eq!(g.status(), StatusCode::OK);
        assert_eq!(g.headers()[RETRY_AFTER], "1");
    }
}
