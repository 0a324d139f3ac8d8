//! The reconciler: every `reconcile_every`, asks the provider (search by order id) about each
//! pending order whose checkout has finished, and settles it: succeeded → paid, declined →
//! failed(reason), nothing found past `pending_grace` → failed/provider_error. Search errors
//! leave the order for the next round. Stops when the shutdown token is cancelled.

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::Semaphore;
use tokio::task::JoinSet;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use super::handlers::run_effect;
use super::provider_client::{FoundIntent, IntentState};
use super::store::Settlement;
use super::Shared;
use crate::domain::FailReason;

/// Searches in flight at once, so a backlog of pending orders does not flood the provider.
const CONCURRENCY: usize = 16;

/// Runs rounds until `shutdown` is cancelled (a round in progress is abandoned).
pub(crate) async fn run(shared: Arc<Shared>, shutdown: CancellationToken) {
    // A zero interval would spin; a millisecond is already far more often than useful.
    let every = shared
        .cfg
        .reference
        .reconcile_every
        .max(Duration::from_millis(1));
    loop {
        tokio::select! {
            _ = shutdown.cancelled() => return,
            _ = tokio::time::sleep(every) => {}
        }
        tokio::select! {
            _ = shutdown.cancelled() => return,
            _ = round(&shared) => {}
        }
    }
}

/// Asks about every order due now.
async fn round(shared: &Arc<Shared>) {
    let due = shared.store.to_reconcile(Instant::now());
    let permits = Arc::new(Semaphore::new(CONCURRENCY));
    let mut set = JoinSet::new();
    for (order_id, age) in due {
        if super::returns::waits_for_return(shared, &order_id) {
            continue;
        }
        let Ok(permit) = permits.clone().acquire_owned().await else {
            break;
        };
        let s = shared.clone();
        set.spawn(async move {
            let _permit = permit;
            check_order(&s, &order_id, age).await;
        });
    }
    while set.join_next().await.is_some() {}
}

async fn check_order(shared: &Arc<Shared>, order_id: &str, age: Duration) {
    // A failed search says nothing about the payment: ask again next round.
    let Ok(found) = super::routing::search_everywhere(&shared.channels, order_id).await else {
        return;
    };
    if let Some(s) = verdict(&found, age, shared.cfg.reference.pending_grace) {
        let effect = shared.store.settle(order_id, &s);
        run_effect(shared, effect);
    }
}

/// What the provider's intents for one order settle: any success wins (the order was
/// paid), else a decline; `None` when nothing is settled.
pub fn settlement_from_search(found: &[FoundIntent]) -> Option<Settlement> {
    if let Some(ok) = found.iter().find(|i| i.state == IntentState::Succeeded) {
        return Some(Settlement::Paid {
            payment_id: ok.id.clone(),
        });
    }
    found.iter().find_map(|i| match i.state {
        IntentState::Declined(reason) => Some(Settlement::Failed(reason)),
        _ => None,
    })
}

/// The reconciler's decision for a pending order of age `age`.
pub fn verdict(found: &[FoundIntent], age: Duration, grace: Duration) -> Option<Settlement> {
    settlement_from_search(found).or_else(|| {
        // Nothing at the provider, long after the last attempt: it never charged.
        (found.is_empty() && age >= grace).then_some(Settlement::Failed(FailReason::ProviderError))
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::merchant::testkit::{self, intent};
    use serde_json::json;
    use wiremock::matchers::{method, path};
    use wiremock::{Mock, MockServer, ResponseTemplate};

    fn found(id: &str, state: IntentState) -> FoundIntent {
        FoundIntent {
            id: id.to_string(),
            state,
        }
    }

    const GRACE: Duration = Duration::from_secs(10);

    #[test]
    fn the_verdict_follows_what_the_search_found_and_the_grace() {
        let declined = |id, reason| found(id, IntentState::Declined(reason));
        for (case, f, age, want) in [
            (
                "a success wins over an earlier decline",
                vec![
                    declined("pi_a", FailReason::InsufficientFunds),
                    found("pi_b", IntentState::Succeeded),
                ],
                Duration::ZERO,
                Some(Settlement::Paid {
                    payment_id: "pi_b".into(),
                }),
            ),
            (
                "a decline alone fails with its reason",
                vec![declined("pi_a", FailReason::RiskBlocked)],
                Duration::ZERO,
                Some(Settlement::Failed(FailReason::RiskBlocked)),
            ),
            (
                "nothing found within the grace waits",
                vec![],
                Duration::from_secs(9),
                None,
            ),
            (
                "nothing found after the grace fails",
                vec![],
                GRACE,
                Some(Settlement::Failed(FailReason::ProviderError)),
            ),
            (
                "an unsettled intent keeps the order pending",
                vec![found("pi_a", IntentState::Open)],
                Duration::from_secs(99),
                None,
            ),
        ] {
            assert_eq!(verdict(&f, age, GRACE), want, "{case}");
        }
    }

    fn search_result(data: serde_json::Value) -> ResponseTemplate {
        ResponseTemplate::new(200).set_body_json(json!({"object":"search_result",
            "url":"/v1/payment_intents/search","has_more":false,"data":data}))
    }

    /// A wiremock provider whose charges never answer in time and whose search answers
    /// `search`.
    async fn timing_out_then_searched(search: ResponseTemplate) -> MockServer {
        let server = MockServer::start().await;
        Mock::given(method("POST"))
            .and(path("/v1/payment_intents"))
            .respond_with(ResponseTemplate::new(200).set_delay(Duration::from_secs(2)))
            .mount(&server)
            .await;
        Mock::given(method("GET"))
            .and(path("/v1/payment_intents/search"))
            .respond_with(search)
            .mount(&server)
            .await;
        server
    }

    #[tokio::test]
    async fn timed_out_order_is_pending_then_settled_paid_by_search() {
        // Arrange: charges never answer in time; the search finds the succeeded intent.
        let server =
            timing_out_then_searched(search_result(json!([intent("pi_found", "ord-000020")])))
                .await;
        let m = testkit::start(testkit::config(&server.uri())).await;

        // Act
        let (status, answer) = m.checkout("ord-000020").await;

        // Assert
        assert_eq!((status, answer["status"].as_str()), (202, Some("pending")));
        let order = m.wait_for("ord-000020", "paid").await;
        assert_eq!(order["fulfilments"], 1);
        let searches: Vec<_> = server
            .received_requests()
            .await
            .unwrap()
            .into_iter()
            .filter(|r| r.url.path() == "/v1/payment_intents/search")
            .collect();
        let q = searches[0]
            .url
            .query_pairs()
            .find(|(k, _)| k == "query")
            .map(|(_, v)| v.into_owned());
        assert_eq!(q.as_deref(), Some("metadata['order_id']:'ord-000020'"));
        m.stop().await;
    }

    #[tokio::test]
    async fn nothing_found_after_the_grace_fails_as_provider_error() {
        let server = timing_out_then_searched(search_result(json!([]))).await;
        let mut cfg = testkit::config(&server.uri());
        cfg.reference.max_retries = 0;
        cfg.reference.pending_grace = Duration::from_millis(50);
        let m = testkit::start(cfg).await;

        m.checkout("ord-000021").await;
        let order = m.wait_for("ord-000021", "failed").await;

        assert_eq!(order["reason"], "provider_error");
        m.stop().await;
    }

    #[tokio::test]
    async fn search_errors_leave_the_order_pending() {
        let server = timing_out_then_searched(ResponseTemplate::new(500)).await;
        let mut cfg = testkit::config(&server.uri());
        cfg.reference.max_retries = 0;
        cfg.reference.pending_grace = Duration::ZERO;
        let m = testkit::start(cfg).await;
        m.checkout("ord-000022").await;

        // Wait until the reconciler has asked (and failed) a few times, then look.
        let mut asked = 0;
        for _ in 0..300 {
            asked = server
                .received_requests()
                .await
                .unwrap()
                .iter()
                .filter(|r| r.url.path() == "/v1/payment_intents/search")
                .count();
            if asked >= 3 {
                break;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        assert!(asked >= 3, "the reconciler asked only {asked} times");
        let (_, order) = m.order("ord-000022").await;
        assert_eq!(order["status"], "pending");
        m.stop().await;
    }
}
