//! The provider's event log: every event created, retrievable by id and listed newest first
//! with cursor pagination (`limit`, `starting_after`, `ending_before`, type filters), as
//! `GET /v1/events` does; a bounded provider forgets the oldest. An event is kept as what
//! renders it again ([`Compact`]: its intent's number and version, its kind and request),
//! or, when that cannot be, as rendered. Pure: the rendering is the caller's.

use std::sync::Arc;

use bytes::Bytes;
use foldhash::{HashMap, HashMapExt};

use crate::provider::dialects::{ApiError, EventKind, EventMeta};
use crate::provider::index::IdIndex;
use crate::provider::webhooks::Event;

/// Stripe's default and largest page size.
pub const DEFAULT_LIMIT: usize = 10;
pub const MAX_LIMIT: usize = 100;

/// One page request of the event list.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EventQuery {
    /// 1..=100.
    pub limit: usize,
    /// Events older than this one (the next page, newest first).
    pub starting_after: Option<String>,
    /// Events newer than this one (the previous page).
    pub ending_before: Option<String>,
    /// Only these types (`payment_intent.*` matches by prefix); empty: every type.
    pub types: Vec<String>,
}

impl Default for EventQuery {
    fn default() -> EventQuery {
        EventQuery {
            limit: DEFAULT_LIMIT,
            starting_after: None,
            ending_before: None,
            types: Vec::new(),
        }
    }
}

/// One page of events, newest first, as rendered bodies.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EventPage {
    pub data: Vec<Bytes>,
    pub has_more: bool,
}

/// Stripe's event ids: `evt_` and 16 hex digits.
pub const COMPACT_ID_LEN: usize = 20;

/// What renders an event again, byte for byte: about a hundred bytes instead of the
/// kilobyte and a half of its body.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Compact {
    id: [u8; COMPACT_ID_LEN],
    pub event_type: &'static str,
    pub kind: EventKind,
    pub nth: u32,
    /// The intent's number in the ledger and the version the event was rendered from.
    pub intent: usize,
    pub version: u32,
    pub created: u64,
    pub seed: u64,
    /// The request's number (`req_…`); `None` for an automatic event (no request).
    pub request: Option<u64>,
    pub idempotency_key: Option<Box<str>>,
}

impl Compact {
    /// The record of `event`, rendered with `meta` from version `version` of intent number
    /// `intent`; `None` when its id or request id is not in the form the record keeps.
    pub fn of(
        event: &Event,
        meta: &EventMeta<'_>,
        event_type: &'static str,
        intent: usize,
        version: u32,
    ) -> Option<Compact> {
        let id: [u8; COMPACT_ID_LEN] = event.id.as_bytes().try_into().ok()?;
        let request = match meta.request_id {
            "" => None,
            r => Some(parse_request_id(r)?),
        };
        Some(Compact {
            id,
            event_type,
            kind: meta.kind,
            nth: meta.nth,
            intent,
            version,
            created: meta.created,
            seed: meta.seed,
            request,
            idempotency_key: meta.idempotency_key.map(Box::from),
        })
    }

    pub fn id(&self) -> &str {
        // Made from a `&str` in `of`.
        std::str::from_utf8(&self.id).unwrap_or("")
    }

    /// The request id the event names ("" for none).
    pub fn request_id(&self) -> String {
        self.request.map(request_id).unwrap_or_default()
    }
}

/// The id of request number `n`.
pub fn request_id(n: u64) -> String {
    format!("req_{n:014x}")
}

/// The number of a request id made by [`request_id`] (14 lower-case hex digits, which
/// numbers far more requests than a run makes); read without an allocation.
fn parse_request_id(id: &str) -> Option<u64> {
    let digits = id.strip_prefix("req_")?;
    let hex = |b: &u8| b.is_ascii_digit() || (b'a'..=b'f').contains(b);
    if digits.len() != 14 || !digits.as_bytes().iter().all(hex) {
        return None;
    }
    u64::from_str_radix(digits, 16).ok()
}

/// One logged event.
#[derive(Clone, Debug)]
pub enum Logged {
    /// As rendered: shared with the webhook dispatcher, which delivers the same event.
    Full(Arc<Event>),
    Compact(Compact),
}

impl Logged {
    pub fn id(&self) -> &str {
        match self {
            Logged::Full(e) => &e.id,
            Logged::Compact(c) => c.id(),
        }
    }

    pub fn event_type(&self) -> &str {
        match self {
            Logged::Full(e) => &e.event_type,
            Logged::Compact(c) => c.event_type,
        }
    }
}

/// Every event created (or the newest, once evicting), in creation order.
#[derive(Debug, Default)]
pub struct EventLog {
    events: Vec<Logged>,
    /// Events evicted before `events[0]`: event `i` (the number `by_id` holds) is
    /// `events[i - first]`.
    first: usize,
    /// Event numbers by event id (read from the events themselves).
    by_id: IdIndex,
    /// Events reserved so far per payment (its intent number) and kind: numbers repeats so
    /// ids stay unique. Counted in place per kind ([`kind_slot`]): no allocation.
    reserved: HashMap<usize, [u32; KINDS]>,
}

impl EventLog {
    pub fn new() -> EventLog {
        EventLog::default()
    }

    /// A log with room for `n` events before any of its structures grows.
    pub fn with_capacity(n: usize) -> EventLog {
        EventLog {
            events: Vec::with_capacity(n),
            first: 0,
            by_id: IdIndex::with_capacity(n),
            reserved: HashMap::with_capacity(n),
        }
    }

    /// How many events of `kind` for `payment_id` came before this one (0 for the first);
    /// called once per event, under the provider's lock, when the event is decided.
    pub fn reserve(&mut self, payment: usize, kind: EventKind) -> u32 {
        let n = &mut self.reserved.entry(payment).or_default()[kind_slot(kind)];
        *n += 1;
        *n - 1
    }

    /// Forgets the numbering of a payment the ledger no longer holds.
    pub fn forget_payment(&mut self, payment: usize) {
        self.reserved.remove(&payment);
    }

    /// Forgets the oldest events until at most `keep` are held, in batches of an eighth of
    /// `keep` (the list stays one slice at a small amortised cost). Returns how many went.
    pub fn evict(&mut self, keep: usize) -> usize {
        if self.events.len() <= keep.saturating_add(keep / 8) {
            return 0;
        }
        let excess = self.events.len() - keep;
        // Forgotten by the index while they are still there: the index reads ids from them.
        let (events, first) = (&self.events, self.first);
        for e in &events[..excess] {
            self.by_id.remove(e.id(), |i| events[i - first].id());
        }
        self.events.drain(..excess);
        self.first += excess;
        excess
    }

    /// Adds a created event as rendered; a second event with an id already logged replaces
    /// nothing.
    pub fn record(&mut self, event: impl Into<Arc<Event>>) {
        self.log(Logged::Full(event.into()));
    }

    /// Adds a created event as what renders it again; as [`EventLog::record`].
    pub fn record_compact(&mut self, event: Compact) {
        self.log(Logged::Compact(event));
    }

    fn log(&mut self, event: Logged) {
        if self.position(event.id()).is_some() {
            return;
        }
        let i = self.first + self.events.len();
        self.events.push(event);
        let (events, first) = (&self.events, self.first);
        self.by_id
            .insert(events[i - first].id(), i, |j| events[j - first].id());
    }

    /// The event with this id.
    pub fn get(&self, id: &str) -> Option<&Logged> {
        self.position(id).map(|at| &self.events[at])
    }

    /// Where the event with this id is in `events`.
    fn position(&self, id: &str) -> Option<usize> {
        let (events, first) = (&self.events, self.first);
        self.by_id
            .get(id, |i| events[i - first].id())
            .map(|i| i - first)
    }

    /// Every event, in creation order.
    pub fn all(&self) -> &[Logged] {
        &self.events
    }

    pub fn len(&self) -> usize {
        self.events.len()
    }

    pub fn is_empty(&self) -> bool {
        self.events.is_empty()
    }

    /// One page of the list, newest first, each event's body as `body` renders it.
    pub fn page(
        &self,
        q: &EventQuery,
        body: impl Fn(&Logged) -> Bytes,
    ) -> Result<EventPage, ApiError> {
        let cursor = |param: &'static str, id: &str| {
            self.position(id).ok_or_else(|| ApiError::NoSuchObject {
                object: "event",
                id: id.to_string(),
                param: Some(param),
            })
        };
        let wanted = |i: &usize| type_matches(&q.types, self.events[*i].event_type());
        let limit = q.limit.clamp(1, MAX_LIMIT);
        let (picked, has_more): (Vec<usize>, bool) = match (&q.starting_after, &q.ending_before) {
            (Some(_), Some(_)) => {
                return Err(ApiError::ExclusiveParams {
                    first: "starting_after",
                    second: "ending_before",
                })
            }
            (None, Some(before)) => {
                // The `limit` events just newer than the cursor, shown newest first.
                let at = cursor("ending_before", before)?;
                let mut newer = (at + 1..self.events.len()).filter(wanted);
                let mut page: Vec<usize> = newer.by_ref().take(limit).collect();
                let more = newer.next().is_some();
                page.reverse();
                (page, more)
            }
            (after, None) => {
                let end = match after {
                    Some(id) => cursor("starting_after", id)?,
                    None => self.events.len(),
                };
                let mut older = (0..end).rev().filter(wanted);
                let page: Vec<usize> = older.by_ref().take(limit).collect();
                (page, older.next().is_some())
            }
        };
        Ok(EventPage {
            data: picked.into_iter().map(|i| body(&self.events[i])).collect(),
            has_more,
        })
    }
}

/// How many event kinds there are.
const KINDS: usize = 5;

/// Where `kind` is counted in a payment's [`EventLog::reserve`] counts.
fn kind_slot(kind: EventKind) -> usize {
    match kind {
        EventKind::Succeeded => 0,
        EventKind::PaymentFailed => 1,
        EventKind::RequiresAction => 2,
        EventKind::AmountCapturableUpdated => 3,
        EventKind::Canceled => 4,
    }
}

/// `payment_intent.succeeded` matches itself and `payment_intent.*`; no filter matches all.
fn type_matches(types: &[String], event_type: &str) -> bool {
    types.is_empty()
        || types.iter().any(|t| match t.strip_suffix('*') {
            Some(prefix) => event_type.starts_with(prefix),
            None => t == event_type,
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn event(n: usize, kind: &str) -> Event {
        Event {
            id: format!("evt_{n}"),
            event_type: kind.into(),
            order_id: None,
            payment_id: Some(format!("pi_{n}")),
            body: Bytes::from(format!("{{\"id\":\"evt_{n}\"}}")),
            format: crate::provider::webhooks::Format::Stripe,
            url: None,
            chaos_key: None,
        }
    }

    /// Events evt_0 … evt_{n-1}; odd ones are payment_failed.
    fn log(n: usize) -> EventLog {
        let mut l = EventLog::new();
        for i in 0..n {
            let kind = if i % 2 == 1 {
                "payment_intent.payment_failed"
            } else {
                "payment_intent.succeeded"
            };
            l.record(event(i, kind));
        }
        l
    }

    fn body(l: &Logged) -> Bytes {
        match l {
            Logged::Full(e) => e.body.clone(),
            Logged::Compact(c) => Bytes::from(format!("{{\"id\":\"{}\"}}", c.id())),
        }
    }

    impl EventLog {
        fn page_of(&self, q: &EventQuery) -> Result<EventPage, ApiError> {
            self.page(q, body)
        }
    }

    fn ids(p: &EventPage) -> Vec<String> {
        p.data
            .iter()
            .map(|b| {
                let v: serde_json::Value = serde_json::from_slice(b).unwrap();
                v["id"].as_str().unwrap().to_string()
            })
            .collect()
    }

    fn q(limit: usize, after: Option<&str>, before: Option<&str>) -> EventQuery {
        EventQuery {
            limit,
            starting_after: after.map(str::to_string),
            ending_before: before.map(str::to_string),
            types: vec![],
        }
    }

    #[test]
    fn first_page_is_newest_first_with_has_more() {
        let l = log(5);
        let p = l.page_of(&q(2, None, None)).unwrap();
        assert_eq!(ids(&p), ["evt_4", "evt_3"]);
        assert!(p.has_more);
        let all = l.page_of(&EventQuery::default()).unwrap();
        assert_eq!(all.data.len(), 5);
        assert!(!all.has_more);
    }

    #[test]
    fn starting_after_walks_to_the_oldest_and_ending_before_walks_back() {
        let l = log(5);
        let p = l.page_of(&q(2, Some("evt_3"), None)).unwrap();
        assert_eq!(
            (ids(&p), p.has_more),
            (vec!["evt_2".into(), "evt_1".into()], true)
        );
        let last = l.page_of(&q(2, Some("evt_1"), None)).unwrap();
        assert_eq!(
            (ids(&last), last.has_more),
            (vec!["evt_0".to_string()], false)
        );
        let back = l.page_of(&q(2, None, Some("evt_1"))).unwrap();
        assert_eq!(
            (ids(&back), back.has_more),
            (vec!["evt_3".into(), "evt_2".into()], true)
        );
        let top = l.page_of(&q(2, None, Some("evt_3"))).unwrap();
        assert_eq!(
            (ids(&top), top.has_more),
            (vec!["evt_4".to_string()], false)
        );
    }

    #[test]
    fn type_filters_match_exactly_or_by_prefix() {
        let l = log(5);
        let mut f = q(10, None, None);
        f.types = vec!["payment_intent.payment_failed".into()];
        assert_eq!(ids(&l.page_of(&f).unwrap()), ["evt_3", "evt_1"]);
        f.types = vec!["payment_intent.*".into()];
        assert_eq!(l.page_of(&f).unwrap().data.len(), 5);
        f.types = vec!["charge.*".into()];
        assert!(l.page_of(&f).unwrap().data.is_empty());
        // The cursor need not match the filter.
        f.types = vec!["payment_intent.succeeded".into()];
        f.starting_after = Some("evt_3".into());
        assert_eq!(ids(&l.page_of(&f).unwrap()), ["evt_2", "evt_0"]);
    }

    #[test]
    fn unknown_cursor_and_both_cursors_are_refused() {
        let l = log(2);
        assert_eq!(
            l.page_of(&q(2, Some("evt_9"), None)),
            Err(ApiError::NoSuchObject {
                object: "event",
                id: "evt_9".into(),
                param: Some("starting_after")
            })
        );
        assert!(matches!(
            l.page_of(&q(2, Some("evt_0"), Some("evt_1"))),
            Err(ApiError::ExclusiveParams { .. })
        ));
    }

    #[test]
    fn a_sized_log_does_not_grow_below_its_hint() {
        let n = 3000;
        let mut l = EventLog::with_capacity(n);
        let caps = |l: &EventLog| {
            [
                l.events.capacity(),
                l.by_id.capacity(),
                l.reserved.capacity(),
            ]
        };
        let before = caps(&l);
        for i in 0..n {
            l.reserve(i, EventKind::Succeeded);
            l.record(event(i, "payment_intent.succeeded"));
        }
        assert_eq!(caps(&l), before);
    }

    #[test]
    fn eviction_keeps_the_newest_events_listed_and_found() {
        let mut l = log(20);
        assert_eq!(l.evict(10), 10);
        assert_eq!((l.len(), l.by_id.len()), (10, 10));
        assert!(l.get("evt_9").is_none());
        assert_eq!(l.get("evt_10").unwrap().id(), "evt_10");
        let p = l.page_of(&q(3, Some("evt_12"), None)).unwrap();
        assert_eq!(
            (ids(&p), p.has_more),
            (vec!["evt_11".into(), "evt_10".into()], false)
        );
        let back = l.page_of(&q(2, None, Some("evt_17"))).unwrap();
        assert_eq!(ids(&back), ["evt_19", "evt_18"]);
        l.record(event(20, "payment_intent.succeeded"));
        assert_eq!(ids(&l.page_of(&q(1, None, None)).unwrap()), ["evt_20"]);
        assert_eq!(l.evict(10), 0, "under the batch slack");
        l.reserve(1, EventKind::Succeeded);
        l.forget_payment(1);
        assert_eq!(l.reserve(1, EventKind::Succeeded), 0);
        assert!(l.reserved.len() <= 1);
    }

    #[test]
    fn reserve_numbers_repeats_and_record_keeps_the_first_of_an_id() {
        let mut l = EventLog::new();
        assert_eq!(l.reserve(1, EventKind::PaymentFailed), 0);
        assert_eq!(l.reserve(1, EventKind::PaymentFailed), 1);
        assert_eq!(l.reserve(1, EventKind::Succeeded), 0);
        assert_eq!(l.reserve(2, EventKind::PaymentFailed), 0);
        l.record(event(1, "a"));
        let mut again = event(1, "b");
        again.body = Bytes::from_static(b"{}");
        l.record(again);
        assert_eq!(l.len(), 1);
        assert_eq!(l.get("evt_1").unwrap().event_type(), "a");
        assert!(l.get("evt_2").is_none());
    }
}
