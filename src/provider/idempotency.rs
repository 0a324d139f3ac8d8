//! The idempotency store: key → in flight, or done with the saved answer. Decides replay,
//! parameter or endpoint mismatch and in-flight conflicts; pure (no I/O, no clock), the
//! caller holds it under the provider's lock. Keys are kept for the whole run, or, when the
//! store is bounded (a standalone provider's retention), the newest ones.

use std::collections::VecDeque;

use bytes::Bytes;
use foldhash::{HashMap, HashMapExt};

use crate::chaos::key;

/// Stripe's limit on an idempotency key's length.
pub const MAX_KEY_LEN: usize = 255;

/// A digest of a request's parameters and endpoint, compared when a key is reused.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Fingerprint(u64);

impl Fingerprint {
    /// The fingerprint of `endpoint` and the decoded `(name, value)` pairs, whatever their
    /// order.
    pub fn of(endpoint: &str, pairs: &[(String, String)]) -> Fingerprint {
        let mut sorted: Vec<&(String, String)> = pairs.iter().collect();
        sorted.sort();
        let mut parts: Vec<&[u8]> = Vec::with_capacity(1 + 2 * sorted.len());
        parts.push(endpoint.as_bytes());
        for (k, v) in sorted {
            parts.push(k.as_bytes());
            parts.push(v.as_bytes());
        }
        // Length-prefixed parts: `a=bc` and `ab=c` differ.
        Fingerprint(key::hash(0, "idempotency", &parts))
    }
}

/// The endpoint a key was first used on. The creates are constant paths, kept without an
/// allocation; a path naming an object (`/v1/payment_intents/pi_…/confirm`) is kept whole.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Endpoint {
    Constant(&'static str),
    Path(Box<str>),
}

/// Endpoints that name no object: most keys are used on one of them.
const CONSTANT_ENDPOINTS: [&str; 5] = [
    "/v1/payment_intents",
    "/v1/refunds",
    "/v1/payment_methods",
    "/gateway/pay",
    "/gateway/refund",
];

impl Endpoint {
    pub fn of(path: &str) -> Endpoint {
        match CONSTANT_ENDPOINTS.iter().find(|c| **c == path) {
            Some(c) => Endpoint::Constant(c),
            None => Endpoint::Path(path.into()),
        }
    }

    pub fn as_str(&self) -> &str {
        match self {
            Endpoint::Constant(c) => c,
            Endpoint::Path(p) => p,
        }
    }
}

/// A saved answer's body: its bytes, or the intent state it renders (see
/// `ledger::versions`), which the dialect renders again to the same bytes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Saved {
    Bytes(Bytes),
    /// The intent number `intent` at `version`, as `Answer::Intent` (or `Answer::Declined`).
    Intent {
        intent: usize,
        version: u32,
        declined: bool,
    },
}

impl From<Bytes> for Saved {
    fn from(b: Bytes) -> Saved {
        Saved::Bytes(b)
    }
}

/// What a key holds.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Slot {
    /// The first request with this key is still executing.
    InFlight {
        fingerprint: Fingerprint,
        endpoint: Endpoint,
    },
    /// The first request finished; its answer is saved for replays.
    Done {
        fingerprint: Fingerprint,
        endpoint: Endpoint,
        status: u16,
        body: Saved,
    },
}

/// The store's verdict on a request that carries a key.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Begin {
    /// First use: the key is now in flight; execute, then `complete` (or `abort`).
    Fresh,
    /// Same key, same parameters, answered before: send this again.
    Replay { status: u16, body: Saved },
    /// Same key, first used on another endpoint.
    EndpointMismatch { first: String },
    /// Same key and endpoint, other parameters.
    ParamsMismatch,
    /// Same key and parameters, the first request is still executing.
    InFlight,
}

/// Idempotency keys and their slots.
#[derive(Debug, Default)]
pub struct IdempotencyStore {
    /// Each slot with the number of the `begin` that made it.
    slots: HashMap<String, (u64, Slot)>,
    /// Keys in the order they were made, only when bounded: what [`evict`](Self::evict)
    /// forgets first. A key aborted and made again has two places; the older is stale.
    made: Option<VecDeque<(u64, String)>>,
    born: u64,
}

impl IdempotencyStore {
    pub fn new() -> IdempotencyStore {
        IdempotencyStore::default()
    }

    /// A store with room for `n` keys before its map grows.
    pub fn with_capacity(n: usize) -> IdempotencyStore {
        IdempotencyStore {
            slots: HashMap::with_capacity(n),
            made: None,
            born: 0,
        }
    }

    /// A store that remembers the order keys came in, so that [`evict`](Self::evict) can
    /// forget the oldest.
    pub fn bounded(n: usize) -> IdempotencyStore {
        IdempotencyStore {
            made: Some(VecDeque::with_capacity(n)),
            ..IdempotencyStore::with_capacity(n)
        }
    }

    /// Forgets the oldest keys until at most `keep` are held (a bounded store only; others
    /// keep every key). Returns how many went.
    pub fn evict(&mut self, keep: usize) -> usize {
        let Some(made) = &mut self.made else {
            return 0;
        };
        let mut gone = 0;
        while self.slots.len() > keep {
            let Some((born, key)) = made.pop_front() else {
                break;
            };
            if self.slots.get(&key).is_some_and(|(b, _)| *b == born) {
                self.slots.remove(&key);
                gone += 1;
            }
        }
        gone
    }

    /// Checks `key` for a request to `endpoint` with `fingerprint`, and marks it in flight
    /// when it is new.
    pub fn begin(&mut self, key: &str, fingerprint: Fingerprint, endpoint: &str) -> Begin {
        let Some((_, slot)) = self.slots.get(key) else {
            self.born += 1;
            if let Some(made) = &mut self.made {
                made.push_back((self.born, key.to_string()));
            }
            self.slots.insert(
                key.to_string(),
                (
                    self.born,
                    Slot::InFlight {
                        fingerprint,
                        endpoint: Endpoint::of(endpoint),
                    },
                ),
            );
            return Begin::Fresh;
        };
        let (first_fp, first_endpoint) = match slot {
            Slot::InFlight {
                fingerprint,
                endpoint,
            }
            | Slot::Done {
                fingerprint,
                endpoint,
                ..
            } => (*fingerprint, endpoint),
        };
        if first_endpoint.as_str() != endpoint {
            return Begin::EndpointMismatch {
                first: first_endpoint.as_str().to_string(),
            };
        }
        if first_fp != fingerprint {
            return Begin::ParamsMismatch;
        }
        match slot {
            Slot::InFlight { .. } => Begin::InFlight,
            Slot::Done { status, body, .. } => Begin::Replay {
                status: *status,
                body: body.clone(),
            },
        }
    }

    /// Saves the answer of the request that began `key`. Returns false (and changes
    /// nothing) unless the key is in flight.
    pub fn complete(&mut self, key: &str, status: u16, body: impl Into<Saved>) -> bool {
        let Some((_, slot)) = self.slots.get_mut(key) else {
            return false;
        };
        let Slot::InFlight {
            fingerprint,
            endpoint,
        } = slot
        else {
            return false;
        };
        *slot = Slot::Done {
            fingerprint: *fingerprint,
            endpoint: std::mem::replace(endpoint, Endpoint::Constant("")),
            status,
            body: body.into(),
        };
        true
    }

    /// Forgets an in-flight key whose request ended before execution, so a retry runs
    /// afresh. Returns false (and changes nothing) unless the key is in flight.
    pub fn abort(&mut self, key: &str) -> bool {
        if matches!(self.slots.get(key), Some((_, Slot::InFlight { .. }))) {
            self.slots.remove(key);
            true
        } else {
            false
        }
    }

    /// The slot of `key`, if any.
    pub fn get(&self, key: &str) -> Option<&Slot> {
        self.slots.get(key).map(|(_, slot)| slot)
    }

    /// How many keys are stored.
    pub fn len(&self) -> usize {
        self.slots.len()
    }

    pub fn is_empty(&self) -> bool {
        self.slots.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const EP: &str = "/v1/payment_intents";

    fn pairs(list: &[(&str, &str)]) -> Vec<(String, String)> {
        list.iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    fn fp(list: &[(&str, &str)]) -> Fingerprint {
        Fingerprint::of(EP, &pairs(list))
    }

    #[test]
    fn fingerprint_ignores_order_but_not_values_names_or_endpoint() {
        let a = fp(&[("amount", "100"), ("currency", "usd")]);
        assert_eq!(a, fp(&[("currency", "usd"), ("amount", "100")]));
        assert_ne!(a, fp(&[("amount", "101"), ("currency", "usd")]));
        assert_ne!(a, fp(&[("amount", "100")]));
        assert_ne!(
            fp(&[("ab", "c")]),
            fp(&[("a", "bc")]),
            "name/value boundary matters"
        );
        assert_ne!(
            a,
            Fingerprint::of(
                "/v1/refunds",
                &pairs(&[("amount", "100"), ("currency", "usd")])
            )
        );
    }

    #[test]
    fn first_use_is_fresh_and_in_flight() {
        let mut s = IdempotencyStore::new();
        let f = fp(&[("amount", "100")]);
        assert_eq!(s.begin("k1", f, EP), Begin::Fresh);
        assert!(matches!(s.get("k1"), Some(Slot::InFlight { .. })));
        assert_eq!(s.len(), 1);
    }

    #[test]
    fn reuse_while_executing_is_in_flight() {
        let mut s = IdempotencyStore::new();
        let f = fp(&[("amount", "100")]);
        s.begin("k1", f, EP);
        assert_eq!(s.begin("k1", f, EP), Begin::InFlight);
        assert_eq!(s.begin("k1", f, EP), Begin::InFlight, "still in flight");
    }

    #[test]
    fn completed_answer_is_replayed_byte_for_byte() {
        let mut s = IdempotencyStore::new();
        let f = fp(&[("amount", "100")]);
        s.begin("k1", f, EP);
        assert!(s.complete("k1", 402, Bytes::from_static(b"{\"error\":{}}")));
        for _ in 0..2 {
            assert_eq!(
                s.begin("k1", f, EP),
                Begin::Replay {
                    status: 402,
                    body: Bytes::from_static(b"{\"error\":{}}").into()
                }
            );
        }
    }

    #[test]
    fn first_answer_wins_over_a_second_complete() {
        let mut s = IdempotencyStore::new();
        let f = fp(&[]);
        s.begin("k", f, EP);
        assert!(s.complete("k", 200, Bytes::from_static(b"first")));
        assert!(!s.complete("k", 500, Bytes::from_static(b"second")));
        assert_eq!(
            s.begin("k", f, EP),
            Begin::Replay {
                status: 200,
                body: Bytes::from_static(b"first").into()
            }
        );
    }

    #[test]
    fn other_params_with_the_same_key_mismatch_in_flight_or_done() {
        let mut s = IdempotencyStore::new();
        s.begin("k", fp(&[("amount", "100")]), EP);
        assert_eq!(
            s.begin("k", fp(&[("amount", "200")]), EP),
            Begin::ParamsMismatch
        );
        s.complete("k", 200, Bytes::new());
        assert_eq!(
            s.begin("k", fp(&[("amount", "200")]), EP),
            Begin::ParamsMismatch
        );
        assert!(
            matches!(
                s.begin("k", fp(&[("amount", "100")]), EP),
                Begin::Replay { .. }
            ),
            "a mismatch does not disturb the saved answer"
        );
    }

    #[test]
    fn another_endpoint_with_the_same_key_names_the_first() {
        let mut s = IdempotencyStore::new();
        s.begin("k", fp(&[]), EP);
        let other = Fingerprint::of("/v1/refunds", &[]);
        assert_eq!(
            s.begin("k", other, "/v1/refunds"),
            Begin::EndpointMismatch { first: EP.into() }
        );
    }

    #[test]
    fn an_endpoint_naming_an_object_is_kept_and_compared_whole() {
        let confirm = "/v1/payment_intents/pi_1/confirm";
        assert_eq!(Endpoint::of(EP), Endpoint::Constant(EP));
        assert_eq!(Endpoint::of(confirm), Endpoint::Path(confirm.into()));
        let mut s = IdempotencyStore::new();
        s.begin("k", fp(&[]), confirm);
        let other = "/v1/payment_intents/pi_2/confirm";
        assert_eq!(
            s.begin("k", fp(&[]), other),
            Begin::EndpointMismatch {
                first: confirm.into()
            }
        );
        assert!(s.complete("k", 200, Bytes::from_static(b"{}")));
        assert_eq!(
            s.begin("k", fp(&[]), confirm),
            Begin::Replay {
                status: 200,
                body: Bytes::from_static(b"{}").into()
            }
        );
    }

    #[test]
    fn abort_frees_an_in_flight_key_but_not_a_done_one() {
        let mut s = IdempotencyStore::new();
        let f = fp(&[]);
        s.begin("k", f, EP);
        assert!(s.abort("k"));
        assert!(s.is_empty());
        assert_eq!(s.begin("k", f, EP), Begin::Fresh, "retry runs afresh");
        s.complete("k", 200, Bytes::new());
        assert!(!s.abort("k"), "a saved answer is kept");
        assert!(matches!(s.begin("k", f, EP), Begin::Replay { .. }));
    }

    #[test]
    fn complete_or_abort_of_an_unknown_key_changes_nothing() {
        let mut s = IdempotencyStore::new();
        assert!(!s.complete("nope", 200, Bytes::new()));
        assert!(!s.abort("nope"));
        assert!(s.is_empty());
    }

    #[test]
    fn a_sized_store_does_not_grow_below_its_hint() {
        let n = 3000;
        let mut s = IdempotencyStore::with_capacity(n);
        let before = s.slots.capacity();
        for i in 0..n {
            let k = format!("key-{i}");
            s.begin(&k, fp(&[]), EP);
            s.complete(&k, 200, Bytes::new());
        }
        assert_eq!(s.slots.capacity(), before);
    }

    #[test]
    fn a_bounded_store_forgets_the_oldest_keys_and_others_none() {
        let (n, k) = (40, 25);
        let mut s = IdempotencyStore::bounded(n);
        let mut gone = 0;
        for i in 0..n + k {
            let key = format!("key-{i}");
            s.begin(&key, fp(&[]), EP);
            s.complete(&key, 200, Bytes::new());
            gone += s.evict(n);
        }
        assert_eq!((s.len(), gone), (n, k));
        assert_eq!(s.begin("key-0", fp(&[]), EP), Begin::Fresh, "forgotten");
        let newest = format!("key-{}", n + k - 1);
        assert!(matches!(
            s.begin(&newest, fp(&[]), EP),
            Begin::Replay { .. }
        ));
        s.abort("key-0");
        s.begin("key-0", fp(&[]), EP);
        let mut unbounded = IdempotencyStore::new();
        unbounded.begin("a", fp(&[]), EP);
        assert_eq!(unbounded.evict(0), 0, "unbounded keeps every key");
    }

    #[test]
    fn keys_are_independent() {
        let mut s = IdempotencyStore::new();
        let f = fp(&[]);
        s.begin("a", f, EP);
        assert_eq!(s.begin("b", f, EP), Begin::Fresh);
        s.complete("a", 200, Bytes::new());
        assert_eq!(s.begin("b", f, EP), Begin::InFlight);
    }
}
