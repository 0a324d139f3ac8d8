//! Recovery after each fault window, from per-second figures by intended send time: the
//! baseline before the window, the worst second during it, and how long after its end the
//! success rate (told paid over orders the card did not decline; shed and errors count as
//! failures) is back within the tolerance of the baseline and stays there for the hold
//! period. Pure functions over [`Seconds`]; the report calls [`windows`].

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::chaos::Window;
use crate::domain::{CheckoutAnswer, CheckoutRecord, LedgerEntry, OrderStatus, PaymentOp};
use crate::metrics::{second_histogram, Percentiles, SecondHistogram, MAX_US};
use crate::scenario::RecoverySpec;
use crate::verify::{Discrepancy, VerifiedOrder};

/// Float slack when comparing rates: 0.95 - 0.05 must admit 0.9.
const EPS: f64 = 1e-9;

/// One second of checkouts, by intended send time.
#[derive(Clone, Debug)]
pub struct SecondFigures {
    /// Checkouts (sent or shed) the card did not decline.
    pub eligible: u64,
    /// Of those, told paid at checkout.
    pub paid: u64,
    /// Latency of the sent checkouts, µs.
    pub latency: SecondHistogram,
}

impl Default for SecondFigures {
    fn default() -> Self {
        SecondFigures {
            eligible: 0,
            paid: 0,
            latency: second_histogram(),
        }
    }
}

impl SecondFigures {
    fn add(&mut self, o: &SecondFigures) {
        self.eligible += o.eligible;
        self.paid += o.paid;
        self.latency.add(&o.latency).expect("same bounds");
    }

    /// Paid over eligible; `None` without eligible checkouts.
    pub fn success(&self) -> Option<f64> {
        (self.eligible > 0).then(|| self.paid as f64 / self.eligible as f64)
    }

    /// p99 latency in ms; `None` without latencies.
    pub fn p99_ms(&self) -> Option<f64> {
        (!self.latency.is_empty()).then(|| Percentiles::of(&self.latency).p99)
    }
}

/// Seconds from the origin, each with its figures; seconds without checkouts are absent.
pub type Seconds = BTreeMap<u64, SecondFigures>;

/// Whether the card declined the order, by the provider's truth (orders it does not know
/// could have succeeded).
fn declined(orders: &BTreeMap<String, VerifiedOrder>, id: &str) -> bool {
    orders
        .get(id)
        .is_some_and(|o| o.truth.label().is_declined())
}

/// The per-second figures of a run: checkout records by intended second joined with each
/// order's provider truth. Shed checkouts have no record: the caller adds them as eligible.
pub fn per_second(
    checkouts: &[CheckoutRecord],
    orders: &BTreeMap<String, VerifiedOrder>,
) -> Seconds {
    let mut out = Seconds::new();
    for c in checkouts {
        let s = out.entry(c.intended_ms / 1000).or_default();
        s.latency
            .record(c.latency_us.clamp(1, MAX_US))
            .expect("value clamped into bounds");
        if declined(orders, &c.order_id) {
            continue;
        }
        s.eligible += 1;
        let paid = c.answer
            == CheckoutAnswer::Told {
                status: OrderStatus::Paid,
            };
        s.paid += u64::from(paid);
    }
    out
}

/// How a window ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum RecoveryStatus {
    /// Back within the tolerance of the baseline for the hold period.
    Recovered,
    /// Not back (for the hold period) before the load ended.
    NeverRecovered,
    /// No eligible checkout before the window: nothing to recover to.
    NoBaseline,
    /// The load was cut short (interrupted, or a capacity run stopped early) before the
    /// window ended, though its schedule went on past it: there was no time after it to
    /// measure, and a full run would have had some.
    NotReached,
    /// The window was still open when the load's schedule ended (or ended with it): it did
    /// not recover within the run, and no run of this scenario could show it recovering.
    WindowOpenAtEnd,
}

impl RecoveryStatus {
    /// The word used in reports (the serde name).
    pub fn as_str(self) -> &'static str {
        crate::domain::label(&self)
    }
}

/// One fault window's effect and recovery.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct WindowRecovery {
    pub name: String,
    /// Seconds from the load start.
    pub start_s: f64,
    pub end_s: f64,
    /// The baseline span actually used (whole seconds before the start, up to the configured
    /// length); 0 when the window starts in the first second.
    pub baseline_s: f64,
    /// Success over the baseline span; `None` without eligible checkouts there.
    pub baseline_success_rate: Option<f64>,
    pub baseline_p99_ms: Option<f64>,
    /// The lowest per-second success rate among the seconds the window touches.
    pub worst_success_rate: Option<f64>,
    /// The highest per-second p99 among those seconds.
    pub worst_p99_ms: Option<f64>,
    /// Success must be back at or above this (baseline minus `tolerance`) …
    pub threshold: Option<f64>,
    pub tolerance: f64,
    /// … for this many consecutive seconds (with eligible checkouts).
    pub hold_s: f64,
    pub status: RecoveryStatus,
    /// From the window's end to the start of the first second of the held recovery (0 when
    /// the load was healthy right away); resolution 1 s. `None` unless recovered.
    pub recovery_s: Option<f64>,
    /// Load observed after the window's end (what "never recovered" is measured over).
    pub observed_after_s: f64,
    /// Orders with a charge attempt at the provider during the window.
    pub orders_affected: u64,
    /// Of those, orders with no verification discrepancy after the drain.
    pub orders_correct: u64,
}

/// The recovery of one window over `seconds` of a load whose schedule ends at `load_end`;
/// order counts are left at 0 (see [`windows`]).
pub fn recover(
    seconds: &Seconds,
    window: &Window,
    spec: &RecoverySpec,
    load_end: Duration,
) -> WindowRecovery {
    let (ws, we) = (window.start.as_secs_f64(), window.end.as_secs_f64());
    // Baseline: whole seconds wholly before the start, at most `spec.baseline` of them.
    let b_end = ws.floor() as u64;
    let b_len = (spec.baseline.as_secs_f64().ceil() as u64).max(1);
    let b_start = b_end.saturating_sub(b_len);
    let mut baseline = SecondFigures::default();
    for (_, f) in seconds.range(b_start..b_end) {
        baseline.add(f);
    }
    let baseline_success = baseline.success();

    // During: every second the window touches.
    let during = seconds.range(ws.floor() as u64..we.ceil() as u64);
    let (mut worst_success, mut worst_p99): (Option<f64>, Option<f64>) = (None, None);
    for (_, f) in during {
        if let Some(s) = f.success() {
            worst_success = Some(worst_success.map_or(s, |w: f64| w.min(s)));
        }
        if let Some(p) = f.p99_ms() {
            worst_p99 = Some(worst_p99.map_or(p, |w: f64| w.max(p)));
        }
    }

    let last = seconds.keys().next_back().map_or(0.0, |&s| (s + 1) as f64);
    let observed_after_s = (last - we).max(0.0);
    let threshold = baseline_success.map(|b| (b - spec.tolerance).max(0.0));
    let (status, recovery_s) = match threshold {
        // Judged on the schedule, not on the seconds seen: an open window is a failure even
        // when the load was cut short before its planned end.
        _ if window.end >= load_end => (RecoveryStatus::WindowOpenAtEnd, None),
        _ if last <= we => (RecoveryStatus::NotReached, None),
        None => (RecoveryStatus::NoBaseline, None),
        Some(t) => match held_from(seconds, we.floor() as u64, t, spec) {
            Some(s) => (RecoveryStatus::Recovered, Some((s as f64 - we).max(0.0))),
            None => (RecoveryStatus::NeverRecovered, None),
        },
    };
    WindowRecovery {
        name: window.name.clone(),
        start_s: ws,
        end_s: we,
        baseline_s: (b_end - b_start) as f64,
        baseline_success_rate: baseline_success,
        baseline_p99_ms: baseline.p99_ms(),
        worst_success_rate: worst_success,
        worst_p99_ms: worst_p99,
        threshold,
        tolerance: spec.tolerance,
        hold_s: need_seconds(spec) as f64,
        status,
        recovery_s,
        observed_after_s,
        orders_affected: 0,
        orders_correct: 0,
    }
}

/// The first second from `from` on that starts `hold` consecutive healthy seconds (success
/// at or above `threshold`). Seconds without eligible checkouts neither count nor break the
/// run: they say nothing about health.
fn held_from(seconds: &Seconds, from: u64, threshold: f64, spec: &RecoverySpec) -> Option<u64> {
    let need = need_seconds(spec);
    let mut run: Option<(u64, u64)> = None;
    for (&s, f) in seconds.range(from..) {
        let Some(success) = f.success() else { continue };
        if success + EPS >= threshold {
            let (start, len) = run.map_or((s, 1), |(start, len)| (start, len + 1));
            if len >= need {
                return Some(start);
            }
            run = Some((start, len));
        } else {
            run = None;
        }
    }
    None
}

/// The hold period in whole seconds (at least one).
fn need_seconds(spec: &RecoverySpec) -> u64 {
    (spec.hold.as_secs_f64().ceil() as u64).max(1)
}

/// Every window's recovery in a load whose schedule ends at `load_end`, with the orders it
/// affected (a charge attempt reached the provider during it) and how many of them ended
/// correct (no discrepancy).
pub fn windows(
    seconds: &Seconds,
    windows: &[Window],
    spec: &RecoverySpec,
    load_end: Duration,
    ledger: &[LedgerEntry],
    discrepancies: &[Discrepancy],
) -> Vec<WindowRecovery> {
    let wrong: BTreeSet<&str> = discrepancies.iter().map(|d| d.order_id.as_str()).collect();
    windows
        .iter()
        .map(|w| {
            let (from, to) = (w.start.as_millis(), w.end.as_millis());
            let affected: BTreeSet<&str> = ledger
                .iter()
                .filter(|e| e.op == PaymentOp::Charge)
                .filter(|e| (from..to).contains(&u128::from(e.at_ms)))
                .filter_map(|e| e.order_id.as_deref())
                .collect();
            let correct = affected.iter().filter(|id| !wrong.contains(*id)).count();
            WindowRecovery {
                orders_affected: affected.len() as u64,
                orders_correct: correct as u64,
                ..recover(seconds, w, spec, load_end)
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A load planned well past every window of these tests.
    const PLANNED: Duration = Duration::from_secs(3600);

    fn secs(n: u64) -> Duration {
        Duration::from_secs(n)
    }

    fn spec() -> RecoverySpec {
        RecoverySpec {
            tolerance: 0.05,
            hold: Duration::from_secs(3),
            baseline: Duration::from_secs(10),
        }
    }

    fn window(start_ms: u64, end_ms: u64) -> Window {
        Window {
            name: "outage".into(),
            start: Duration::from_millis(start_ms),
            end: Duration::from_millis(end_ms),
            rates: Default::default(),
            latency: None,
        }
    }

    /// A hand-made timeline: one `(paid %, p99 ms)` per second from 0, 100 eligible orders
    /// each (`None`: a second with no checkouts at all).
    fn timeline(secs: &[Option<(u64, u64)>]) -> Seconds {
        let mut out = Seconds::new();
        for (i, s) in secs.iter().enumerate() {
            let Some((paid, p99)) = *s else { continue };
            let mut f = SecondFigures {
                eligible: 100,
                paid,
                ..SecondFigures::default()
            };
            // 99 fast answers and one at the p99 mark keep p99 at `p99` ms.
            f.latency.record_n(1000, 98).unwrap();
            f.latency.record_n(p99 * 1000, 2).unwrap();
            out.insert(i as u64, f);
        }
        out
    }

    fn healthy(n: usize) -> Vec<Option<(u64, u64)>> {
        vec![Some((99, 20)); n]
    }

    #[test]
    fn recovers_after_the_seconds_it_takes_to_hold_within_tolerance() {
        // Arrange: 10 s healthy at 99 %, outage 10..13 s at 40 %, two slow seconds at 80 %
        // and 93 % (below 94 %), then healthy.
        let mut t = healthy(10);
        t.extend([Some((40, 900)), Some((35, 1200)), Some((50, 800))]);
        t.extend([Some((80, 300)), Some((93, 100))]);
        t.extend(healthy(5));

        // Act
        let r = recover(&timeline(&t), &window(10_000, 13_000), &spec(), PLANNED);

        // Assert
        assert_eq!(r.status, RecoveryStatus::Recovered);
        assert_eq!(r.baseline_s, 10.0);
        assert_eq!(r.baseline_success_rate, Some(0.99));
        assert!((r.baseline_p99_ms.unwrap() - 20.0).abs() < 0.1);
        assert!((r.threshold.unwrap() - 0.94).abs() < 1e-9);
        assert_eq!(r.worst_success_rate, Some(0.35));
        // Per-second latencies are read to 1 % (metrics::SecondHistogram).
        assert!((r.worst_p99_ms.unwrap() - 1200.0).abs() <= 12.0);
        assert_eq!(
            r.recovery_s,
            Some(2.0),
            "seconds 13 and 14 were still below"
        );
        assert_eq!(r.observed_after_s, 7.0);
    }

    #[test]
    fn exactly_baseline_minus_tolerance_counts_as_recovered_immediately() {
        let mut t = healthy(5);
        t.push(Some((10, 50)));
        t.extend(vec![Some((94, 20)); 3]);
        let r = recover(&timeline(&t), &window(5_000, 6_000), &spec(), PLANNED);
        assert_eq!(r.recovery_s, Some(0.0));
        assert_eq!(r.baseline_s, 5.0, "only five seconds were available");
    }

    #[test]
    fn a_dip_inside_the_hold_period_restarts_it() {
        let mut t = healthy(5);
        t.push(Some((0, 50)));
        t.extend([Some((99, 20)), Some((99, 20)), Some((50, 20))]);
        t.extend(healthy(3));
        let r = recover(&timeline(&t), &window(5_000, 6_000), &spec(), PLANNED);
        assert_eq!(r.recovery_s, Some(3.0), "held from second 9, not 6");
    }

    #[test]
    fn a_window_that_never_gets_back_says_so() {
        let mut t = healthy(10);
        t.extend(vec![Some((20, 2000)); 2]);
        t.extend([
            Some((99, 20)),
            Some((99, 20)),
            Some((60, 20)),
            Some((70, 20)),
        ]);
        let r = recover(&timeline(&t), &window(10_000, 12_000), &spec(), PLANNED);
        assert_eq!(r.status, RecoveryStatus::NeverRecovered);
        assert_eq!(r.recovery_s, None);
        assert_eq!(r.observed_after_s, 4.0);
    }

    #[test]
    fn a_window_the_load_never_got_past_is_not_reached() {
        // The load is cut short inside the window, its schedule going on past it: nothing
        // after it to measure, which is neither recovered nor never recovered.
        let mut t = healthy(8);
        t.extend(vec![Some((30, 500)); 2]);
        let r = recover(&timeline(&t), &window(8_000, 10_000), &spec(), PLANNED);
        assert_eq!(r.status, RecoveryStatus::NotReached);
        assert_eq!(r.recovery_s, None);
        assert_eq!(r.observed_after_s, 0.0);
        assert_eq!(r.worst_success_rate, Some(0.3));
    }

    #[test]
    fn a_window_open_when_the_schedule_ends_did_not_recover() {
        // The same seconds, the schedule ending at 10 s: the window (8..20 s, or 8..10 s,
        // ending with the load) had no time after it in any run of the scenario (#9).
        let mut t = healthy(8);
        t.extend(vec![Some((30, 500)); 2]);
        for end in [20_000, 10_000] {
            let r = recover(&timeline(&t), &window(8_000, end), &spec(), secs(10));
            assert_eq!(r.status, RecoveryStatus::WindowOpenAtEnd, "end {end} ms");
            assert_eq!(r.recovery_s, None);
            assert_eq!(r.worst_success_rate, Some(0.3));
        }
        // Closing a second before the schedule's end is a window like any other.
        let r = recover(&timeline(&t), &window(8_000, 9_000), &spec(), secs(10));
        assert_eq!(r.status, RecoveryStatus::NeverRecovered);
        let mut t = healthy(6);
        t.push(Some((30, 500)));
        t.extend(healthy(3));
        let r = recover(&timeline(&t), &window(6_000, 7_000), &spec(), secs(10));
        assert_eq!(r.status, RecoveryStatus::Recovered);
    }

    #[test]
    fn a_window_from_the_start_has_no_baseline() {
        let t = healthy(6);
        let r = recover(&timeline(&t), &window(0, 2_000), &spec(), PLANNED);
        assert_eq!(r.status, RecoveryStatus::NoBaseline);
        assert_eq!((r.baseline_success_rate, r.threshold), (None, None));
        assert_eq!(r.baseline_s, 0.0);
        // A window starting mid-second 0 has no whole second before it either.
        let r = recover(&timeline(&t), &window(500, 2_000), &spec(), PLANNED);
        assert_eq!(r.status, RecoveryStatus::NoBaseline);
    }

    #[test]
    fn quiet_seconds_neither_count_nor_break_the_hold() {
        let mut t = healthy(5);
        t.push(Some((0, 50)));
        t.extend([Some((99, 20)), None, Some((99, 20)), None, Some((99, 20))]);
        let r = recover(&timeline(&t), &window(5_000, 6_000), &spec(), PLANNED);
        assert_eq!(
            r.recovery_s,
            Some(0.0),
            "6, 8 and 10 are three healthy seconds"
        );
        let mut short = healthy(5);
        short.extend([Some((0, 50)), Some((99, 20)), None, Some((99, 20))]);
        let r = recover(&timeline(&short), &window(5_000, 6_000), &spec(), PLANNED);
        assert_eq!(r.status, RecoveryStatus::NeverRecovered, "only two");
    }

    #[test]
    fn a_mid_second_end_measures_from_the_end_itself() {
        // The window ends at 6.5 s. Second 6, partly inside it, is still bad: the held
        // recovery starts at 7 s, 0.5 s after the end.
        let mut t = healthy(5);
        t.extend([Some((0, 50)), Some((0, 50))]);
        t.extend(healthy(4));
        let r = recover(&timeline(&t), &window(5_000, 6_500), &spec(), PLANNED);
        assert_eq!(r.recovery_s, Some(0.5));
        // Had second 6 been healthy already, there is nothing to wait for.
        let mut t = healthy(5);
        t.push(Some((0, 50)));
        t.extend(healthy(4));
        let r = recover(&timeline(&t), &window(5_000, 6_500), &spec(), PLANNED);
        assert_eq!(r.recovery_s, Some(0.0));
    }

    #[test]
    fn per_second_joins_answers_with_the_provider_truth() {
        use crate::report::tests::sample_set;
        use crate::verify::reconcile;
        let s = sample_set();
        let rec = reconcile(&s.evidence());
        let secs = per_second(&s.checkouts, &rec.orders);
        let all: u64 = secs.values().map(|f| f.eligible).sum();
        let declined = rec
            .orders
            .values()
            .filter(|o| o.truth.label().is_declined())
            .count() as u64;
        // Every sent checkout minus those the card declined.
        assert_eq!(all, s.checkouts.len() as u64 - declined);
        let paid: u64 = secs.values().map(|f| f.paid).sum();
        let told_paid = s
            .checkouts
            .iter()
            .filter(|c| {
                c.answer
                    == CheckoutAnswer::Told {
                        status: OrderStatus::Paid,
                    }
            })
            .count() as u64;
        assert_eq!(paid, told_paid);
        let sent = s.checkouts.len() as u64;
        assert_eq!(secs.values().map(|f| f.latency.len()).sum::<u64>(), sent);
    }
}
