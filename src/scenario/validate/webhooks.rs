//! `[webhooks]`: the signing secret, the retry schedule, the delivery timeout and the
//! webhook chaos rates, with the rule that a dropped first attempt still has a retry left.
//! Extends the parent's `Checker`.

use std::time::Duration;

use super::super::raw::RawScenario;
use super::super::{Dialect, WebhookSpec};
use super::*;
use crate::chaos::WebhookChaos;

impl Checker {
    pub(super) fn webhooks(
        &mut self,
        raw: &RawScenario,
        seed: u64,
        dialect: Dialect,
    ) -> WebhookSpec {
        let w = &raw.webhooks;
        let secret = w
            .secret
            .clone()
            .unwrap_or_else(|| format!("whsec_paychaos_{seed}"));
        if !crate::signature::valid_secret(&secret) {
            // The secret itself is not echoed: it is a credential, even a test one.
            let form = crate::signature::SECRET_FORM;
            self.report("webhooks.secret", format!("expected {form}"));
        }
        let retry_schedule: Vec<Duration> = match &w.retry_schedule {
            None => match dialect {
                Dialect::Stripe => &DEFAULT_RETRY_SCHEDULE_MS[..],
                Dialect::Gateway => &GATEWAY_RETRY_SCHEDULE_MS[..],
            }
            .iter()
            .map(|&ms| Duration::from_millis(ms))
            .collect(),
            Some(list) => list
                .iter()
                .enumerate()
                .map(|(i, d)| {
                    let path = format!("webhooks.retry_schedule[{i}]");
                    self.duration(&path, Some(d), None, Floor::Zero)
                        .map_or(Duration::ZERO, |d| d.value)
                })
                .collect(),
        };
        let timeout = self
            .duration(
                "webhooks.timeout",
                w.timeout.as_ref(),
                Some(DEFAULT_WEBHOOK_TIMEOUT),
                Floor::Positive,
            )
            .map_or(DEFAULT_WEBHOOK_TIMEOUT, |d| d.value);
        let delay_latency = match &w.delay_latency {
            None => Some(DEFAULT_DELAY_LATENCY),
            Some(l) => self.latency("webhooks.delay_latency", l),
        };
        let prob = |c: &mut Self, key: &str, v| {
            c.probability(&format!("webhooks.{key}"), v).unwrap_or(0.0)
        };
        let drop_attempts = self
            .integer(
                "webhooks.drop_attempts",
                w.drop_attempts.unwrap_or(DEFAULT_DROP_ATTEMPTS),
                1,
                i64::from(u32::MAX),
            )
            .map_or(1, |n| n as u32);
        let chaos = WebhookChaos {
            delay: prob(self, "delay", w.delay),
            delay_latency,
            duplicate: prob(self, "duplicate", w.duplicate),
            forged: prob(self, "forged", w.forged),
            reorder: prob(self, "reorder", w.reorder),
            drop_first: prob(self, "drop_first", w.drop_first),
            drop_attempts,
            stale: prob(self, "stale", w.stale),
            unsigned: prob(self, "unsigned", w.unsigned),
        };
        // "Delivered only on retry": a dropped event must still have a retry left.
        if chaos.drop_first > 0.0 && drop_attempts as usize > retry_schedule.len() {
            let path = if w.drop_attempts.is_some() {
                "webhooks.drop_attempts"
            } else {
                "webhooks.drop_first"
            };
            self.report(
                path,
                format!(
                    "dropping the first {drop_attempts} attempt(s) needs at least as many \
                     retries, but webhooks.retry_schedule has {}: expected drop_attempts <= {}",
                    retry_schedule.len(),
                    retry_schedule.len()
                ),
            );
        }
        WebhookSpec {
            secret,
            chaos,
            retry_schedule,
            timeout,
        }
    }
}
