//! Raw `[card_testers]` and the `velocity` tables of `[provider]` and `[merchant]`, key for
//! key; checked in `validate/card_testers.rs`.

use serde::Deserialize;

use super::RawDuration;

/// `[card_testers]`.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawCardTesters {
    pub rate: Option<f64>,
    pub burst: Option<i64>,
    pub cards: Option<i64>,
    pub interval: Option<RawDuration>,
}

/// `[provider.velocity]` or `[merchant.velocity]`.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawVelocity {
    pub window: Option<RawDuration>,
    pub max_attempts: Option<i64>,
    pub max_cards: Option<i64>,
    pub max_declines: Option<i64>,
}
