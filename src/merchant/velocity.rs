//! The reference merchant's own limits against card testing (`[merchant.velocity]`): per
//! customer (`X-Customer-Id`) and per client address (the first `X-Forwarded-For` entry),
//! checked before the provider is called. A checkout past a limit is refused at once with
//! the next step in words, recorded as failed (`risk_blocked`: the merchant's risk control),
//! and never reaches the provider. A checkout without either header is not counted, and
//! every honest customer is counted under its own name and address only, so testers cannot
//! push one out. The planted flaw `no_velocity_limit` skips the check.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use bytes::Bytes;
use http_body_util::Full;
use hyper::{HeaderMap, Response, StatusCode};
use serde_json::json;

use super::handlers::{json_response, CheckoutRequest};
use super::Shared;
use crate::domain::{FailReason, OrderStatus};
use crate::scenario::flaws::Flaw;

use crate::scenario::card_testers::{card_fingerprint, Limit, Trail, VelocityRules};

/// The header naming the customer behind a checkout.
pub const CUSTOMER_HEADER: &str = "x-customer-id";
/// The header carrying the customer's client address (first entry).
pub const ADDRESS_HEADER: &str = "x-forwarded-for";

/// Who is paying, as the checkout said: forwarded to the provider as
/// `metadata[customer_id]` and `metadata[client_ip]`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Client {
    pub customer: Option<String>,
    pub address: Option<String>,
}

impl Client {
    /// Reads the two headers; a value that is not printable ASCII is ignored.
    pub fn of(headers: &HeaderMap) -> Client {
        let text = |name: &str| {
            headers
                .get(name)
                .and_then(|v| v.to_str().ok())
                .map(str::trim)
                .filter(|v| !v.is_empty() && v.len() <= 200)
        };
        Client {
            customer: text(CUSTOMER_HEADER).map(str::to_string),
            address: text(ADDRESS_HEADER)
                .and_then(|v| v.split(',').next())
                .map(|v| v.trim().to_string())
                .filter(|v| !v.is_empty()),
        }
    }

    fn is_anonymous(&self) -> bool {
        self.customer.is_none() && self.address.is_none()
    }
}

/// One admitted attempt, to mark declined once its answer is known.
#[derive(Clone, Copy, Debug)]
pub struct Ticket {
    at: Duration,
    card: u64,
}

#[derive(Default)]
struct Trails {
    customers: HashMap<String, Trail>,
    addresses: HashMap<String, Trail>,
    /// Keys added since the last sweep of idle ones.
    new_keys: usize,
}

/// Idle trails are swept after this many new keys: one-off customers do not pile up.
const SWEEP_EVERY: usize = 4096;

/// The limits and the recent attempts per customer and per address.
pub struct Limiter {
    rules: VelocityRules,
    start: Instant,
    trails: Mutex<Trails>,
}

/// What the customer is told when a limit refuses the checkout.
pub const REFUSAL: &str = "Too many payment attempts from your account or network in a short \
    time: for your security this payment was not sent and nothing was charged. Please wait a \
    few minutes before trying again, or use another payment method.";

impl Limiter {
    pub fn new(rules: VelocityRules) -> Limiter {
        Limiter {
            rules,
            start: Instant::now(),
            trails: Mutex::new(Trails::default()),
        }
    }

    /// Judges a checkout of `client` paying with `payment_method` and records it (refused
    /// ones too: a tester who keeps trying stays refused). `Err` names the limit passed.
    pub fn admit(&self, client: &Client, payment_method: &str) -> Result<Option<Ticket>, Limit> {
        if client.is_anonymous() {
            return Ok(None);
        }
        let at = self.start.elapsed();
        let card = card_fingerprint(payment_method);
        let mut t = self.trails.lock().unwrap_or_else(|e| e.into_inner());
        let Trails {
            customers,
            addresses,
            new_keys,
        } = &mut *t;
        let mut tripped = None;
        for (map, key) in [(customers, &client.customer), (addresses, &client.address)] {
            let Some(key) = key else { continue };
            let trail = match map.get_mut(key) {
                Some(trail) => trail,
                None => {
                    *new_keys += 1;
                    map.entry(key.clone()).or_default()
                }
            };
            tripped = tripped.or(self.rules.judge(trail, at, card));
            trail.record(at, card, false);
        }
        if t.new_keys >= SWEEP_EVERY {
            let window = self.rules.window;
            let live = |tr: &mut Trail| tr.last().is_some_and(|l| at.saturating_sub(l) < window);
            t.customers.retain(|_, tr| live(tr));
            t.addresses.retain(|_, tr| live(tr));
            t.new_keys = 0;
        }
        match tripped {
            Some(limit) => Err(limit),
            None => Ok(Some(Ticket { at, card })),
        }
    }

    /// Counts the admitted attempt as declined by the card.
    pub fn declined(&self, client: &Client, ticket: Ticket) {
        let mut t = self.trails.lock().unwrap_or_else(|e| e.into_inner());
        let Trails {
            customers,
            addresses,
            ..
        } = &mut *t;
        for (map, key) in [(customers, &client.customer), (addresses, &client.address)] {
            if let Some(trail) = key.as_ref().and_then(|k| map.get_mut(k)) {
                trail.mark_declined(ticket.at, ticket.card);
            }
        }
    }
}

/// The checkout's verdict: `Ok` to charge (with the ticket of a counted attempt), or the
/// limit it passed. A refused order is recorded as failed by the merchant's risk control,
/// so reading it back tells the same story as [`refusal`].
pub(crate) fn admit(shared: &Shared, r: &CheckoutRequest) -> Result<Option<Ticket>, Limit> {
    let Some(limiter) = &shared.limiter else {
        return Ok(None);
    };
    if shared.cfg.reference.flaws.has(Flaw::NoVelocityLimit) {
        return Ok(None);
    }
    let verdict = limiter.admit(&r.client, &r.payment_method);
    if verdict.is_err() {
        shared.store.give_up(&r.order_id, FailReason::RiskBlocked);
    }
    verdict
}

/// The answer to a checkout a limit refused: failed by risk control, the next step in words.
pub(crate) fn refusal(order_id: &str, limit: Limit) -> Response<Full<Bytes>> {
    let body = json!({
        "order_id": order_id,
        "status": "failed",
        "reason": FailReason::RiskBlocked.as_str(),
        "message": REFUSAL,
        "refused_by": "merchant_velocity_limit",
        "limit": limit.key(),
    });
    json_response(StatusCode::PAYMENT_REQUIRED, &body)
}

/// Counts a charged attempt's card decline against its customer and address.
pub(crate) fn settled(shared: &Shared, client: Option<(Client, Ticket)>, status: OrderStatus) {
    let (Some(limiter), Some((client, ticket))) = (&shared.limiter, client) else {
        return;
    };
    let card_declined = matches!(
        status,
        OrderStatus::Failed(
            FailReason::InsufficientFunds | FailReason::RiskBlocked | FailReason::Declined
        )
    );
    if card_declined {
        limiter.declined(&client, ticket);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn client(customer: &str, address: &str) -> Client {
        Client {
            customer: Some(customer.into()),
            address: Some(address.into()),
        }
    }

    fn limiter() -> Limiter {
        Limiter::new(VelocityRules {
            window: Duration::from_secs(600),
            max_attempts: Some(2),
            max_cards: None,
            max_declines: Some(1),
        })
    }

    #[test]
    fn headers_give_the_customer_and_the_first_forwarded_address() {
        let mut h = HeaderMap::new();
        h.insert(CUSTOMER_HEADER, "cus_1".parse().unwrap());
        h.insert(ADDRESS_HEADER, "198.18.0.7, 10.0.0.1".parse().unwrap());
        assert_eq!(Client::of(&h), client("cus_1", "198.18.0.7"));
        assert!(Client::of(&HeaderMap::new()).is_anonymous());
    }

    #[test]
    fn a_tester_is_refused_past_the_limit_and_an_honest_customer_is_not() {
        let l = limiter();
        let tester = client("cus_t", "198.18.0.1");
        assert!(l.admit(&tester, "pm_card_visa").is_ok());
        assert!(l.admit(&tester, "pm_card_mastercard").is_ok());
        assert_eq!(
            l.admit(&tester, "pm_card_amex").unwrap_err(),
            Limit::Attempts
        );
        assert!(l
            .admit(&client("cus_h", "10.0.0.1"), "pm_card_visa")
            .is_ok());
        assert!(l
            .admit(&Client::default(), "pm_card_visa")
            .unwrap()
            .is_none());
    }

    #[test]
    fn a_decline_counts_once_marked() {
        let l = limiter();
        let tester = client("cus_t", "198.18.0.1");
        let ticket = l.admit(&tester, "pm_card_chargeDeclined").unwrap().unwrap();
        l.declined(&tester, ticket);
        assert_eq!(
            l.admit(&tester, "pm_card_visa").unwrap_err(),
            Limit::Declines
        );
    }
}
