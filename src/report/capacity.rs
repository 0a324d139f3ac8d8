//! A capacity run's answer: per step, the rate offered and achieved, p99 and success over
//! the judged part of the step (after `settle`), and whether it held the SLO; then the knee,
//! the highest step that held with every step below it holding, and the first that broke.
//! Success is told paid over checkouts the card did not decline (shed ones count as
//! failures). Pure: built from the checkout records, the provider truth, and the schedule
//! with its shed checkouts.

use std::collections::BTreeMap;
use std::time::Duration;

use hdrhistogram::Histogram;
use serde::{Deserialize, Serialize};

use crate::domain::{CheckoutAnswer, CheckoutRecord, OrderStatus};
use crate::load::{lag_histogram, ShedLog};
use crate::metrics::{histogram, Percentiles, SecondHistogram, MAX_US};
use crate::scenario::{step_count, CapacitySpec};
use crate::verify::VerifiedOrder;

/// Float slack for rate comparisons.
const EPS: f64 = 1e-9;

/// One step of a capacity run.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct CapacityStep {
    /// The offered rate, per second.
    pub rate: f64,
    /// The judged span, seconds from the load start (the step without its settling part).
    pub from_s: f64,
    pub to_s: f64,
    /// Checkouts the schedule planned in the span.
    pub planned: u64,
    /// Sent (not shed) in the span.
    pub sent: u64,
    pub shed: u64,
    /// `sent` over the span's length, per second.
    pub achieved_rate: f64,
    /// Checkout latency p99 over the sent ones, ms (`None`: none sent).
    pub p99_ms: Option<f64>,
    /// How late the generator sent them, p99 in ms, over the seconds the span touches.
    pub send_lag_p99_ms: Option<f64>,
    /// Checkouts the card did not decline, and of those the ones told paid.
    pub eligible: u64,
    pub paid: u64,
    /// `paid / eligible` (`None`: none eligible).
    pub success_rate: Option<f64>,
    /// The load ran through the whole span (an early stop leaves the last step partial).
    pub complete: bool,
    /// Complete, p99 within the SLO and success at or above it.
    pub held: bool,
}

impl CapacityStep {
    /// Whether the generator kept the step's schedule: nothing shed and at least 99 % of
    /// the planned checkouts sent.
    pub fn schedule_kept(&self) -> bool {
        self.shed == 0 && self.sent as f64 + EPS >= 0.99 * self.planned as f64
    }
}

/// The answer of a capacity run.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct CapacityReport {
    /// The SLO each step is judged against.
    pub slo_p99_ms: f64,
    pub slo_success_rate: f64,
    /// Step length and the part of it not judged, seconds.
    pub every_s: f64,
    pub settle_s: f64,
    pub max_rate: f64,
    /// Every step that started, in order.
    pub steps: Vec<CapacityStep>,
    /// The highest step that held with every step below it holding (`None`: the first broke).
    pub knee: Option<CapacityStep>,
    /// The first step that broke the SLO (`None`: none did).
    pub first_broken: Option<CapacityStep>,
    /// Every step up to `max_rate` held: the knee is at or above `max_rate`.
    pub held_at_max: bool,
    /// The run stopped once a step broke, without offering the steps above it.
    pub stopped_early: bool,
}

impl CapacityReport {
    /// One line: `knee 2500/s (p99 84.0 ms, success 99.95%); first broken 3000/s (…)`.
    pub fn answer(&self) -> String {
        let fig = |s: &CapacityStep| {
            format!(
                "{}/s (achieved {:.0}/s, p99 {}, success {})",
                super::gates::number(s.rate),
                s.achieved_rate,
                s.p99_ms.map_or("–".into(), |p| format!("{p:.1} ms")),
                s.success_rate
                    .map_or("–".into(), |r| format!("{:.2}%", r * 100.0))
            )
        };
        let knee = match &self.knee {
            Some(k) if self.held_at_max => {
                format!("held up to max_rate: {} (the knee is higher)", fig(k))
            }
            Some(k) => format!("knee {}", fig(k)),
            None => "no step held".to_string(),
        };
        match &self.first_broken {
            Some(b) => format!("{knee}; first broken {}", fig(b)),
            None => knee,
        }
    }
}

/// Histograms summed into one (µs, empty when there are none).
pub fn merged<'a>(hs: impl Iterator<Item = &'a SecondHistogram>) -> SecondHistogram {
    let mut all = lag_histogram();
    for h in hs {
        all.add(h).expect("lag histograms share their bounds");
    }
    all
}

/// Builds the capacity answer. `shed` holds the schedule the steps were planned from and the
/// checkouts it shed; `send_lag` is the generator's lag by intended second;
/// `ran_for` is how far into the schedule the load got (its whole length unless stopped or
/// interrupted): steps whose judged part starts later are left out, and the one it stopped
/// in is incomplete.
pub fn build(
    spec: &CapacitySpec,
    checkouts: &[CheckoutRecord],
    orders: &BTreeMap<String, VerifiedOrder>,
    shed: &ShedLog,
    send_lag: &BTreeMap<u64, SecondHistogram>,
    ran_for: Duration,
    stopped_early: bool,
) -> CapacityReport {
    let n = step_count(spec.start, spec.step, spec.max_rate) as usize;
    let every_ms = spec.every.as_millis().max(1) as u64;
    let settle_ms = spec.settle.as_millis() as u64;
    let schedule = shed.schedule();
    // Per step: sent, shed, eligible, paid, latencies (by intended ms from the run origin).
    let mut acc: Vec<(u64, u64, u64, u64, Histogram<u64>)> = (0..n as u64)
        .map(|i| {
            let from = i * every_ms + settle_ms;
            // A shed checkout could have succeeded (the card never saw it): eligible.
            let shed = shed.between_ms(from, (i + 1) * every_ms);
            (0, shed, shed, 0, histogram())
        })
        .collect();
    for c in checkouts {
        let i = (c.intended_ms / every_ms) as usize;
        if i >= n || c.intended_ms - i as u64 * every_ms < settle_ms {
            continue;
        }
        let a = &mut acc[i];
        a.0 += 1;
        a.4.record(c.latency_us.clamp(1, MAX_US))
            .expect("value clamped into bounds");
        if orders
            .get(&c.order_id)
            .is_some_and(|o| o.truth.label().is_declined())
        {
            continue;
        }
        a.2 += 1;
        let paid = c.answer
            == CheckoutAnswer::Told {
                status: OrderStatus::Paid,
            };
        a.3 += u64::from(paid);
    }
    let mut steps = Vec::new();
    for (i, (sent, shed, eligible, paid, lat)) in acc.into_iter().enumerate() {
        let start = spec.every * i as u32;
        let (from, to) = (start + spec.settle, start + spec.every);
        if from >= ran_for {
            break; // nothing of it was judged
        }
        // An incomplete step planned only what was due before the stop.
        let planned = schedule
            .planned_before(to.min(ran_for))
            .saturating_sub(schedule.planned_before(from));
        let len = (to.min(ran_for).max(from) - from).as_secs_f64();
        let lag = merged(
            send_lag
                .range(from.as_secs()..to.as_secs_f64().ceil() as u64)
                .map(|(_, h)| h),
        );
        let mut step = CapacityStep {
            rate: spec.start + spec.step * i as f64,
            from_s: from.as_secs_f64(),
            to_s: to.as_secs_f64(),
            planned,
            sent,
            shed,
            achieved_rate: if len > 0.0 { sent as f64 / len } else { 0.0 },
            p99_ms: (!lat.is_empty()).then(|| Percentiles::of(&lat).p99),
            send_lag_p99_ms: (!lag.is_empty()).then(|| Percentiles::of(&lag).p99),
            eligible,
            paid,
            success_rate: (eligible > 0).then(|| paid as f64 / eligible as f64),
            // Ran to its end; a generator running behind may have left a few unsent, which
            // the schedule warnings report.
            complete: to <= ran_for,
            held: false,
        };
        step.held = holds(&step, spec.p99_ms, spec.success_rate);
        steps.push(step);
    }
    let (knee, first_broken) = knee(&steps);
    let held_at_max = first_broken.is_none() && steps.len() == n && steps.iter().all(|s| s.held);
    CapacityReport {
        slo_p99_ms: spec.p99_ms,
        slo_success_rate: spec.success_rate,
        every_s: spec.every.as_secs_f64(),
        settle_s: spec.settle.as_secs_f64(),
        max_rate: spec.max_rate,
        steps,
        knee,
        first_broken,
        held_at_max,
        stopped_early,
    }
}

/// Whether a step held the SLO: complete, p99 at most `p99_ms`, success at least
/// `success_rate`. A step with nothing sent or nothing eligible has nothing that broke.
pub fn holds(step: &CapacityStep, p99_ms: f64, success_rate: f64) -> bool {
    step.complete
        && step.p99_ms.is_none_or(|p| p <= p99_ms)
        && step.success_rate.is_none_or(|s| s + EPS >= success_rate)
}

/// The knee (the last complete step that held before the first that broke) and the first
/// complete step that broke. Incomplete steps decide nothing.
pub fn knee(steps: &[CapacityStep]) -> (Option<CapacityStep>, Option<CapacityStep>) {
    let mut last_held = None;
    for s in steps.iter().filter(|s| s.complete) {
        if !s.held {
            return (last_held, Some(s.clone()));
        }
        last_held = Some(s.clone());
    }
    (last_held, None)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::load::{Schedule, Stage};

    fn step(rate: f64, p99: f64, success: f64, complete: bool) -> CapacityStep {
        let mut s = CapacityStep {
            rate,
            from_s: 0.0,
            to_s: 1.0,
            planned: 100,
            sent: 100,
            shed: 0,
            achieved_rate: rate,
            p99_ms: Some(p99),
            send_lag_p99_ms: Some(1.0),
            eligible: 100,
            paid: (success * 100.0).round() as u64,
            success_rate: Some(success),
            complete,
            held: false,
        };
        s.held = holds(&s, 250.0, 0.99);
        s
    }

    #[test]
    fn the_knee_is_the_last_step_held_before_the_first_broken() {
        let steps = [
            step(100.0, 20.0, 1.0, true),
            step(200.0, 40.0, 0.995, true),
            step(300.0, 400.0, 1.0, true),
            // Holding again above a broken step does not move the knee.
            step(400.0, 30.0, 1.0, true),
        ];
        let (knee, broken) = knee(&steps);
        assert_eq!(knee.unwrap().rate, 200.0);
        assert_eq!(broken.unwrap().rate, 300.0);
    }

    #[test]
    fn success_below_the_slo_breaks_a_step_even_when_fast() {
        let steps = [step(100.0, 20.0, 1.0, true), step(200.0, 20.0, 0.98, true)];
        assert!(!steps[1].held);
        let (knee, broken) = knee(&steps);
        assert_eq!((knee.unwrap().rate, broken.unwrap().rate), (100.0, 200.0));
    }

    #[test]
    fn a_first_step_that_breaks_leaves_no_knee() {
        let (knee, broken) = knee(&[step(100.0, 900.0, 1.0, true)]);
        assert!(knee.is_none());
        assert_eq!(broken.unwrap().rate, 100.0);
    }

    #[test]
    fn every_step_held_means_no_broken_step_and_incomplete_ones_decide_nothing() {
        let steps = [
            step(100.0, 20.0, 1.0, true),
            step(200.0, 20.0, 1.0, true),
            step(300.0, 9000.0, 0.1, false),
        ];
        assert!(!steps[2].held, "an incomplete step never holds");
        let (knee, broken) = knee(&steps);
        assert_eq!(knee.unwrap().rate, 200.0);
        assert!(broken.is_none());
    }

    #[test]
    fn exactly_at_the_slo_holds() {
        assert!(step(100.0, 250.0, 0.99, true).held);
        let mut empty = step(0.0, 0.0, 0.0, true);
        empty.p99_ms = None;
        empty.success_rate = None;
        assert!(holds(&empty, 250.0, 0.99), "an idle step broke nothing");
    }

    fn record(n: u64, at_ms: u64, latency_ms: u64, answer: CheckoutAnswer) -> CheckoutRecord {
        CheckoutRecord {
            order_id: format!("ord-{n:06}"),
            amount: 100,
            intended_ms: at_ms,
            latency_us: latency_ms * 1000,
            answer,
        }
    }

    fn paid() -> CheckoutAnswer {
        CheckoutAnswer::Told {
            status: OrderStatus::Paid,
        }
    }

    #[test]
    fn build_judges_each_step_after_its_settling_part() {
        // Arrange: steps of 10/s and 20/s, 1 s each, the first 500 ms not judged. Step 0 is
        // fast and paid; step 1 is slow in its judged half and one is shed there.
        let spec = CapacitySpec {
            start: 10.0,
            step: 10.0,
            every: Duration::from_secs(1),
            max_rate: 20.0,
            settle: Duration::from_millis(500),
            p99_ms: 100.0,
            success_rate: 0.9,
        };
        let stages = [10.0, 20.0].map(|r| Stage {
            start_rate: r,
            end_rate: r,
            duration: Duration::from_secs(1),
        });
        let mut shed = ShedLog::new(Schedule::new(&stages), Duration::ZERO);
        let mut recs = Vec::new();
        for k in 0..10 {
            // Slow answers in step 0's settling part are ignored.
            let lat = if k < 5 { 900 } else { 10 };
            recs.push(record(k, k * 100, lat, paid()));
        }
        for k in 0..20 {
            if k == 19 {
                // Intended at 1950 ms, in step 1's judged half.
                shed.shed(10 + k);
                continue;
            }
            let lat = if k < 10 { 10 } else { 500 };
            recs.push(record(10 + k, 1000 + k * 50, lat, paid()));
        }

        // Act
        let r = build(
            &spec,
            &recs,
            &BTreeMap::new(),
            &shed,
            &BTreeMap::new(),
            Duration::from_secs(2),
            false,
        );

        // Assert
        assert_eq!(r.steps.len(), 2);
        let (a, b) = (&r.steps[0], &r.steps[1]);
        assert_eq!((a.planned, a.sent, a.shed), (5, 5, 0));
        assert!((a.p99_ms.unwrap() - 10.0).abs() < 0.1);
        assert!(a.held && a.schedule_kept());
        assert_eq!(
            (b.planned, b.sent, b.shed, b.eligible, b.paid),
            (10, 9, 1, 10, 9)
        );
        assert_eq!(b.achieved_rate, 18.0);
        assert!(!b.held, "p99 500 ms is over 100");
        assert!(!b.schedule_kept());
        assert_eq!(r.knee.as_ref().unwrap().rate, 10.0);
        assert_eq!(r.first_broken.as_ref().unwrap().rate, 20.0);
        assert!(!r.held_at_max);
        assert!(
            r.answer()
                .starts_with("knee 10/s (achieved 10/s, p99 10.0 ms"),
            "{}",
            r.answer()
        );
        assert!(r.answer().contains("; first broken 20/s"), "{}", r.answer());
    }

    #[test]
    fn build_leaves_out_steps_after_an_early_stop() {
        let spec = CapacitySpec {
            start: 10.0,
            step: 10.0,
            every: Duration::from_secs(1),
            max_rate: 50.0,
            settle: Duration::ZERO,
            p99_ms: 100.0,
            success_rate: 0.9,
        };
        let stages: Vec<Stage> = (1..=5)
            .map(|i| Stage {
                start_rate: 10.0 * f64::from(i),
                end_rate: 10.0 * f64::from(i),
                duration: Duration::from_secs(1),
            })
            .collect();
        let shed = ShedLog::new(Schedule::new(&stages), Duration::ZERO);
        let recs: Vec<CheckoutRecord> = (0..10)
            .map(|k| record(k, k * 100, 5, paid()))
            .chain((0..5).map(|k| record(10 + k, 1000 + k * 50, 5, paid())))
            .collect();
        let r = build(
            &spec,
            &recs,
            &BTreeMap::new(),
            &shed,
            &BTreeMap::new(),
            Duration::from_millis(1250),
            true,
        );
        assert_eq!(r.steps.len(), 2, "steps 3..5 were never judged");
        assert!(r.steps[0].complete && !r.steps[1].complete);
        assert_eq!(r.knee.unwrap().rate, 10.0);
        assert!(r.first_broken.is_none() && !r.held_at_max && r.stopped_early);
    }
}
