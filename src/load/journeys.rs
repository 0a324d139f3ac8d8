//! The customer simulator: what the customer of an order does when the checkout answer
//! sends the browser to a 3D Secure challenge (`redirect_url` through the contract). The
//! journey is drawn per order by its chaos key from streams of its own (`customer.journey`,
//! `customer.forged`), so no fault decision of any seed moves. The browser follows the
//! redirects as a browser does: a GET of the challenge page, a POST of the verdict, then a
//! GET of the `Location` it is sent to (the merchant's return page), each step timed from
//! its start, which is the end of the step before (the customer does not pause).

use std::time::{Duration, Instant};

use bytes::Bytes;
use http_body_util::Full;
use hyper::{Method, Request};
use serde::{Deserialize, Serialize};

use crate::chaos::key;
use crate::domain::CheckoutAnswer;
use crate::net::{LoopbackUrl, Pool, Reply};
use crate::scenario::contract::Contract;
use crate::scenario::customers::{CustomerSpec, Journey};

/// The journey of the order with chaos key `order_key`: the journey rates split `[0, 1)`
/// in [`Journey::ALL`] order.
pub fn journey(seed: u64, customers: &CustomerSpec, order_key: &str) -> Journey {
    let u = key::draw(seed, "customer.journey", &[order_key.as_bytes()]);
    let mut edge = 0.0;
    for j in Journey::ALL {
        edge += customers.rate(j);
        if u < edge {
            return j;
        }
    }
    // Rates summing to just under 1 leave a sliver: the first journey takes it.
    Journey::Completes
}

/// Whether the customer of `order_key` also loads the return page with a forged
/// `redirect_status=succeeded` before the challenge.
pub fn forges(seed: u64, customers: &CustomerSpec, order_key: &str) -> bool {
    customers.forged_returns > 0.0
        && key::draw(seed, "customer.forged", &[order_key.as_bytes()]) < customers.forged_returns
}

/// One step of a journey, in funnel order.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum JourneyStep {
    /// The challenge page loaded.
    ChallengeShown,
    /// The verdict (complete or fail) was posted and answered with a redirect.
    Verdict,
    /// The return page answered.
    Returned,
    /// A forged return page answered.
    ForgedReturn,
}

impl JourneyStep {
    pub const ALL: [JourneyStep; 4] = [
        JourneyStep::ChallengeShown,
        JourneyStep::Verdict,
        JourneyStep::Returned,
        JourneyStep::ForgedReturn,
    ];

    pub fn as_str(self) -> &'static str {
        crate::domain::label(&self)
    }
}

/// What one challenged order's customer did and was told.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct JourneyRecord {
    pub order_id: String,
    /// `completes`, `fails`, `abandons` or `never_returns`.
    pub journey: String,
    /// Steps done, each with its duration in µs, in the order done.
    pub steps: Vec<(JourneyStep, u64)>,
    /// What the return page told the customer (after the challenge), if it was reached.
    pub returned: Option<CheckoutAnswer>,
    /// What the forged return page told, if the customer forged one.
    pub forged: Option<CheckoutAnswer>,
    /// Why the journey stopped early (a step failed), if it did.
    pub error: Option<String>,
}

impl JourneyRecord {
    /// Whether the journey reached `step`.
    pub fn did(&self, step: JourneyStep) -> bool {
        self.steps.iter().any(|(s, _)| *s == step)
    }
}

/// A browser: one GET or POST at a time, a connection per request (challenged orders are
/// a share of the checkouts, and each talks to two hosts).
pub struct Browser<'a> {
    pub contract: &'a Contract,
    pub timeout: Duration,
}

impl Browser<'_> {
    async fn fetch(&self, method: Method, url: &str) -> Result<Reply, String> {
        let parsed = LoopbackUrl::parse(url).map_err(|e| e.to_string())?;
        let req = Request::builder()
            .method(method)
            .uri(parsed.path().clone())
            .body(Full::new(Bytes::new()))
            .map_err(|e| e.to_string())?;
        Pool::per_request(&parsed)
            .send(req, self.timeout)
            .await
            .map_err(|e| format!("{url}: {e}"))
    }

    /// Reads a return page through the contract, as a checkout answer.
    async fn return_page(&self, url: &str) -> Result<CheckoutAnswer, String> {
        let r = self.fetch(Method::GET, url).await?;
        Ok(self.contract.read_answer(r.status.as_u16(), &r.body))
    }

    /// Runs `journey` from the challenge page at `url`; `forged_return` is the merchant's
    /// return page with forged success parameters, loaded first when given.
    pub async fn run(
        &self,
        order_id: &str,
        url: &str,
        journey: Journey,
        forged_return: Option<String>,
    ) -> JourneyRecord {
        let mut rec = JourneyRecord {
            order_id: order_id.to_string(),
            journey: journey.as_str().to_string(),
            steps: Vec::new(),
            returned: None,
            forged: None,
            error: None,
        };
        if let Err(e) = self.steps(url, journey, forged_return, &mut rec).await {
            rec.error = Some(e);
        }
        rec
    }

    async fn steps(
        &self,
        url: &str,
        journey: Journey,
        forged_return: Option<String>,
        rec: &mut JourneyRecord,
    ) -> Result<(), String> {
        if let Some(forged) = forged_return {
            let t = Instant::now();
            let told = self.return_page(&forged).await?;
            rec.steps.push((JourneyStep::ForgedReturn, micros(t)));
            rec.forged = Some(told);
        }
        let t = Instant::now();
        let page = self.fetch(Method::GET, url).await?;
        if !page.status.is_success() {
            return Err(format!("challenge page {url}: status {}", page.status));
        }
        rec.steps.push((JourneyStep::ChallengeShown, micros(t)));
        let verdict = match journey {
            Journey::Abandons => return Ok(()),
            Journey::Completes | Journey::NeverReturns => "complete",
            Journey::Fails => "fail",
        };
        let t = Instant::now();
        let answer = self
            .fetch(Method::POST, &format!("{url}/{verdict}"))
            .await?;
        rec.steps.push((JourneyStep::Verdict, micros(t)));
        if journey == Journey::NeverReturns {
            return Ok(());
        }
        let location = answer
            .location
            .as_ref()
            .and_then(|l| l.to_str().ok())
            .ok_or_else(|| {
                format!(
                    "challenge verdict {url}: no redirect (status {})",
                    answer.status
                )
            })?
            .to_string();
        let t = Instant::now();
        let told = self.return_page(&location).await?;
        rec.steps.push((JourneyStep::Returned, micros(t)));
        rec.returned = Some(told);
        Ok(())
    }
}

/// The merchant's return page of an order as a forger writes it: the challenge page's
/// intent id, and `redirect_status=succeeded` (a gateway cashier's: see `cashier`). `return_base` is the checkout URL's origin;
/// the path is the reference merchant's (`/return/{order_id}`).
pub fn forged_return(checkout_url: &str, order_id: &str, challenge_url: &str) -> Option<String> {
    let origin_end = checkout_url
        .strip_prefix("http://")
        .and_then(|rest| rest.find('/'))
        .map_or(checkout_url.len(), |i| i + "http://".len());
    let origin = &checkout_url[..origin_end];
    if let Some(cashier) = super::cashier::forged_return(origin, order_id, challenge_url) {
        return Some(cashier);
    }
    let intent = challenge_url.rsplit('/').next()?;
    Some(format!(
        "{origin}/return/{order_id}?payment_intent={intent}&redirect_status=succeeded"
    ))
}

fn micros(t: Instant) -> u64 {
    u64::try_from(t.elapsed().as_micros()).unwrap_or(u64::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scenario::customers::DEFAULT_CUSTOMERS;

    #[test]
    fn journeys_follow_their_rates_and_the_seed() {
        let c = CustomerSpec {
            completes: 0.25,
            fails: 0.25,
            abandons: 0.25,
            never_returns: 0.25,
            ..DEFAULT_CUSTOMERS
        };
        let mut counts = std::collections::BTreeMap::new();
        for n in 0..400 {
            let k = format!("ord-{n:06}");
            let j = journey(7, &c, &k);
            assert_eq!(
                j,
                journey(7, &c, &k),
                "the same seed and order, the same journey"
            );
            *counts.entry(j).or_insert(0) += 1;
        }
        for j in Journey::ALL {
            assert!((60..=140).contains(&counts[&j]), "{j:?}: {counts:?}");
        }
        let only = CustomerSpec {
            completes: 0.0,
            fails: 0.0,
            abandons: 1.0,
            never_returns: 0.0,
            ..DEFAULT_CUSTOMERS
        };
        assert!((0..50).all(|n| journey(7, &only, &format!("ord-{n:06}")) == Journey::Abandons));
    }

    #[test]
    fn forged_returns_follow_their_rate() {
        let none = DEFAULT_CUSTOMERS;
        assert!((0..100).all(|n| !forges(1, &none, &format!("ord-{n:06}"))));
        let all = CustomerSpec {
            forged_returns: 1.0,
            ..DEFAULT_CUSTOMERS
        };
        assert!((0..100).all(|n| forges(1, &all, &format!("ord-{n:06}"))));
    }

    #[test]
    fn a_forged_return_names_the_challenged_intent_and_success() {
        let url = forged_return(
            "http://127.0.0.1:8080/checkout",
            "ord-x-000001",
            "http://127.0.0.1:9/_challenge/pi_123",
        );
        assert_eq!(
            url.as_deref(),
            Some("http://127.0.0.1:8080/return/ord-x-000001?payment_intent=pi_123&redirect_status=succeeded")
        );
    }
}
