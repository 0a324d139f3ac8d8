//! `[alarm]`: a failure-rate alarm over a sliding window of the merchant's checkout answers.
//! Plain checked data: the report works out when such an alarm should fire and clear, the
//! reference merchant's monitor watches its own answers with the same rule.

use std::time::Duration;

use crate::domain::FailReason;

/// A failure-rate alarm: at each evaluation, the answers of the last `window` are counted;
/// with at least `min_sample` of them, the alarm fires once the share of failures reaches
/// `threshold`, and clears once it is below it again.
#[derive(Clone, Debug, PartialEq)]
pub struct AlarmSpec {
    /// The sliding window the failure rate is taken over.
    pub window: Duration,
    /// Fewer answers than this in the window change nothing (the alarm keeps its state).
    pub min_sample: u64,
    /// Failures over answers in the window at or above which the alarm fires (0..=1).
    pub threshold: f64,
    /// Which answers count as failures.
    pub failures: Failures,
    /// The reference merchant runs its own monitor and posts its alerts to the harness's
    /// alert receiver (default true; ignored for an external merchant).
    pub monitor: bool,
}

/// How often the alarm is evaluated (as a Prometheus rule is, every `evaluation_interval`).
pub const EVALUATE_EVERY: Duration = Duration::from_secs(1);

/// Which checkout answers count as failures for an alarm.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Failures {
    /// `"provider_trouble"`: told failed for provider trouble, or no usable answer at all.
    ProviderTrouble,
    /// `"all"`: every answer but paid and pending (declines of every kind included).
    All,
    /// A list of reason words: told failed with one of these reasons.
    Reasons(Vec<FailReason>),
}

impl Failures {
    /// The accepted forms, for an error message.
    pub const FORMS: &'static str = r#""provider_trouble", "all", or a list of reasons from "insufficient_funds", "risk_blocked", "provider_error", "declined""#;

    /// Whether an answer counts: `told` is the status the merchant told (`None`: no usable
    /// answer).
    pub fn counts(&self, told: Option<crate::domain::OrderStatus>) -> bool {
        use crate::domain::OrderStatus;
        match (self, told) {
            (_, Some(OrderStatus::Paid | OrderStatus::Pending)) => false,
            (Failures::ProviderTrouble | Failures::All, None) => true,
            (Failures::Reasons(_), None) => false,
            (Failures::ProviderTrouble, Some(OrderStatus::Failed(r))) => {
                r == FailReason::ProviderError
            }
            (Failures::All, Some(OrderStatus::Failed(_))) => true,
            (Failures::Reasons(rs), Some(OrderStatus::Failed(r))) => rs.contains(&r),
        }
    }

    /// The words as a scenario writes them, for the report.
    pub fn describe(&self) -> String {
        match self {
            Failures::ProviderTrouble => "provider_trouble".into(),
            Failures::All => "all".into(),
            Failures::Reasons(rs) => rs.iter().map(|r| r.as_str()).collect::<Vec<_>>().join(", "),
        }
    }
}
