//! The defaults of the scenario keys that the command line offers too: the reference
//! merchant's `[merchant]` settings, `provider.dialect` and `provider.max_in_flight`. Validation fills them in and
//! `paychaos merchant` shows and uses them, so a scenario and the flags never drift apart.
//! The defaults of every other key live in `validate`.

use std::num::NonZeroUsize;
use std::time::Duration;

use super::flaws::Flaws;
use super::{Dialect, ReferenceSpec};

/// `provider.dialect` (and `paychaos merchant --dialect`).
pub const DIALECT: Dialect = Dialect::Stripe;

/// `provider.max_in_flight` (and `paychaos provider --max-in-flight`): four times the
/// generator's default `load.max_in_flight` (1024), so that a run's checkouts, the
/// merchant's retries and reconciliation reads never reach it, and well under the
/// servers' connection cap (10 000), so that overload is answered, not refused.
pub const PROVIDER_MAX_IN_FLIGHT: NonZeroUsize = match NonZeroUsize::new(4096) {
    Some(n) => n,
    None => unreachable!(),
};

/// `[merchant]` of the reference merchant when a key is left out: the correct merchant
/// (no flaws), no circuit breaker.
pub const REFERENCE: ReferenceSpec = ReferenceSpec {
    provider_timeout: Duration::from_secs(1),
    max_retries: 3,
    retry_backoff: Duration::from_millis(100),
    reconcile_every: Duration::from_secs(1),
    pending_grace: Duration::from_secs(5),
    flaws: Flaws::NONE,
    breaker: None,
};

/// `merchant.breaker_cooldown` once `merchant.breaker_failures` switches the breaker on.
pub const BREAKER_COOLDOWN: Duration = Duration::from_secs(3);
