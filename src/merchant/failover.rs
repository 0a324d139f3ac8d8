//! What the reference merchant does when a channel's attempts end in provider trouble and a
//! backup channel is there: fail the order over only when the trouble surely charged
//! nothing (5xx, 429, a refusal before execution). An unknown outcome (a timeout, an answer
//! lost) may be money taken: the order is resolved on the channel that had it (a search for
//! its payments there; still unknown, it stays pending for the reconciler and the
//! channel's webhooks) and is never charged on a backup. The planted flaw
//! `failover_unknown_outcome` skips that and charges the backup at once.

use super::handlers::run_effect;
use super::provider_client::Attempts;
use super::reconcile::settlement_from_search;
use super::routing::Channel;
use super::Shared;
use crate::scenario::flaws::{Flaw, Flaws};

/// After one channel's attempts: settle the order from them, resolve it on this channel, or
/// try the next channel.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Next {
    Settle,
    ResolveHere,
    FailOver,
}

/// The decision after attempts `a` on a channel: `trouble` when they ended without a
/// definite answer, `more` when a later channel exists.
pub fn after_channel(a: &Attempts, trouble: bool, more: bool, flaws: Flaws) -> Next {
    if !trouble || !more {
        Next::Settle
    } else if a.saw_indeterminate && !flaws.has(Flaw::FailoverUnknownOutcome) {
        Next::ResolveHere
    } else {
        Next::FailOver
    }
}

/// Asks `ch` about `order_id` once: a payment (or a decline) found there settles the order;
/// otherwise it stays pending, to be settled by the channel's webhook or the reconciler.
pub(crate) async fn resolve_on(shared: &std::sync::Arc<Shared>, ch: &Channel, order_id: &str) {
    let Ok(found) = ch.api.search_by_order(order_id).await else {
        return;
    };
    if let Some(s) = settlement_from_search(&found) {
        let effect = shared.store.settle(order_id, &s);
        run_effect(shared, effect);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::merchant::provider_client::Answer;

    fn ended(last: Answer, saw_indeterminate: bool) -> Attempts {
        Attempts {
            last,
            saw_indeterminate,
            sent: 3,
        }
    }

    #[test]
    fn only_trouble_that_surely_charged_nothing_fails_over() {
        let ok = Flaws::NONE;
        let errors = ended(Answer::Retryable { status: 500 }, false);
        let unknown = ended(Answer::Indeterminate, true);
        let paid = ended(
            Answer::Succeeded {
                payment_id: "pi_1".into(),
            },
            true,
        );
        assert_eq!(after_channel(&errors, true, true, ok), Next::FailOver);
        assert_eq!(after_channel(&unknown, true, true, ok), Next::ResolveHere);
        assert_eq!(after_channel(&paid, false, true, ok), Next::Settle);
        assert_eq!(
            after_channel(&errors, true, false, ok),
            Next::Settle,
            "no channel left: the attempts settle the order as before"
        );
        let flawed = Flaws::NONE.with(Flaw::FailoverUnknownOutcome);
        assert_eq!(after_channel(&unknown, true, true, flawed), Next::FailOver);
        assert_eq!(after_channel(&unknown, true, false, flawed), Next::Settle);
    }
}
