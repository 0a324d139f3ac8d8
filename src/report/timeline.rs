//! The report's chart data: the per-second timeline (planned and achieved rate, success rate,
//! latency, shed, in flight, fault windows), the latency percentile spectrum and the fault
//! windows' spans. Built once from the recorder, the checkout records, the verifier's truth
//! and the schedule; the writers only draw it.

use std::time::Duration;

use hdrhistogram::Histogram;
use serde::{Deserialize, Serialize};

use crate::chaos::Window;
use crate::domain::{CheckoutAnswer, CheckoutRecord, OrderStatus};
use crate::load::Schedule;
use crate::metrics::{Percentiles, Recorder};
use crate::verify::Reconciliation;

/// One second of the load, `[second, second + 1)` from the load start, by intended send time.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct TimelineRow {
    pub second: u64,
    /// Checkouts the schedule planned to send in this second (per second).
    pub target_rate: f64,
    /// Checkouts sent (not shed) in this second (per second).
    pub achieved_rate: f64,
    pub sent: u64,
    pub shed: u64,
    /// Checkout answers by label, for the checkouts sent in this second.
    pub paid: u64,
    pub failed: u64,
    pub pending: u64,
    pub errors: u64,
    /// Checkouts told `paid` over the checkouts sent in this second that could succeed (the
    /// card did not decline them, by the provider's ledger); errors count as failures.
    /// `null` when no such checkout was sent.
    pub success_rate: Option<f64>,
    pub p50_ms: f64,
    pub p99_ms: f64,
    /// Checkouts sent but not yet answered at the end of this second.
    pub in_flight: u64,
    /// Fault windows active at any moment of this second, in scenario order.
    pub active_windows: Vec<String>,
}

/// A fault window's span, in seconds from the load start (for shading the charts).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct WindowSpan {
    pub name: String,
    pub start_s: f64,
    /// Exclusive.
    pub end_s: f64,
}

/// One point of the latency percentile spectrum.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct SpectrumPoint {
    /// 0 to 99.99.
    pub percentile: f64,
    pub ms: f64,
}

/// Checkouts the schedule plans to send in each second from the load start, in order, up to
/// the second of the last one (what `target_rate` shows). Counted from the stages in closed
/// form, second by second: the cost follows the load's length, never its planned count.
pub fn planned_per_second(schedule: &Schedule) -> Vec<u64> {
    let last = schedule
        .planned()
        .checked_sub(1)
        .and_then(|n| schedule.offset(n));
    let Some(last) = last else {
        return Vec::new();
    };
    let mut before = 0;
    (1..=last.as_secs() + 1)
        .map(|s| {
            let due = schedule.due_before(Duration::from_secs(s));
            let n = due - before;
            before = due;
            n
        })
        .collect()
}

/// The spans of the scenario's fault windows.
pub fn window_spans(windows: &[Window]) -> Vec<WindowSpan> {
    windows
        .iter()
        .map(|w| WindowSpan {
            name: w.name.clone(),
            start_s: w.start.as_secs_f64(),
            end_s: w.end.as_secs_f64(),
        })
        .collect()
}

/// What [`timeline`] reads.
pub struct TimelineInputs<'a> {
    pub recorder: &'a Recorder,
    pub checkouts: &'a [CheckoutRecord],
    pub reconciliation: &'a Reconciliation,
    pub windows: &'a [Window],
    pub planned_per_second: &'a [u64],
    /// An interrupted load shows only the seconds it reached, not the rest of the plan.
    pub interrupted: bool,
}

/// One row per second from 0 to the last second that was planned or saw a checkout.
pub fn timeline(inp: &TimelineInputs) -> Vec<TimelineRow> {
    let recorded = inp
        .recorder
        .timeline
        .seconds
        .keys()
        .next_back()
        .map_or(0, |s| s + 1);
    let planned = if inp.interrupted {
        0
    } else {
        inp.planned_per_second.len() as u64
    };
    let len = recorded.max(planned);
    let n = usize::try_from(len).unwrap_or(usize::MAX);

    // Success per second, from the checkout records and the provider's truth.
    let (mut paid_ok, mut could) = (vec![0u64; n], vec![0u64; n]);
    let mut starts = vec![0i64; n + 1];
    for c in inp.checkouts {
        let s = usize::try_from(c.intended_ms / 1000).unwrap_or(usize::MAX);
        let declined = inp
            .reconciliation
            .orders
            .get(&c.order_id)
            .is_some_and(|o| o.truth.label().is_declined());
        if s < n && !declined {
            could[s] += 1;
            if c.answer
                == (CheckoutAnswer::Told {
                    status: OrderStatus::Paid,
                })
            {
                paid_ok[s] += 1;
            }
        }
        // In flight at the end of second k, the instant (k+1) s, when sent at or before it
        // and answered after it: k in [ceil(start) - 1, ceil(end) - 1), in µs.
        let start_us = c.intended_ms.saturating_mul(1000);
        let end_us = start_us.saturating_add(c.latency_us);
        let first = start_us.div_ceil(1_000_000).saturating_sub(1);
        let past = end_us.div_ceil(1_000_000).saturating_sub(1);
        let (first, past) = (clamp(first, n), clamp(past, n));
        if first < past {
            starts[first] += 1;
            starts[past] -= 1;
        }
    }

    let mut in_flight = 0i64;
    (0..len)
        .map(|second| {
            let i = second as usize;
            in_flight += starts[i];
            let rec = inp.recorder.timeline.seconds.get(&second);
            let p = rec.map(|s| Percentiles::of(&s.latency)).unwrap_or_default();
            let field = |f: fn(&crate::metrics::Second) -> u64| rec.map_or(0, f);
            let sent = field(|s| s.sent);
            let from = Duration::from_secs(second);
            let to = Duration::from_secs(second + 1);
            TimelineRow {
                second,
                target_rate: inp.planned_per_second.get(i).copied().unwrap_or(0) as f64,
                achieved_rate: sent as f64,
                sent,
                shed: field(|s| s.shed),
                paid: field(|s| s.paid),
                failed: field(|s| s.failed),
                pending: field(|s| s.pending),
                errors: field(|s| s.errors),
                success_rate: (could[i] > 0).then(|| paid_ok[i] as f64 / could[i] as f64),
                p50_ms: p.p50,
                p99_ms: p.p99,
                in_flight: in_flight.max(0) as u64,
                active_windows: inp
                    .windows
                    .iter()
                    .filter(|w| w.start < to && w.end > from)
                    .map(|w| w.name.clone())
                    .collect(),
            }
        })
        .collect()
}

fn clamp(v: u64, n: usize) -> usize {
    usize::try_from(v).unwrap_or(usize::MAX).min(n)
}

/// Steps per decade of the spectrum's x axis, `log10(1 / (1 - q))`.
const SPECTRUM_STEPS: u32 = 10;
/// Decades shown: up to p99.99.
const SPECTRUM_DECADES: u32 = 4;

/// Latency at percentiles spread evenly on HdrHistogram's `1 / (1 - q)` log axis, from p0 to
/// p99.99 (empty when nothing was recorded).
pub fn spectrum(h: &Histogram<u64>) -> Vec<SpectrumPoint> {
    if h.is_empty() {
        return Vec::new();
    }
    (0..=SPECTRUM_STEPS * SPECTRUM_DECADES)
        .map(|i| {
            let x = f64::from(i) / f64::from(SPECTRUM_STEPS);
            let q = 1.0 - 10f64.powf(-x);
            // Four decimals is what the axis can show; it also keeps the JSON short.
            let percentile = (q * 100.0 * 10_000.0).round() / 10_000.0;
            SpectrumPoint {
                percentile,
                ms: h.value_at_quantile(q) as f64 / 1000.0,
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::load::Stage;
    use crate::metrics::{histogram, Outcome};
    use crate::report::tests::{recorder, sample_set};
    use crate::verify::reconcile;

    fn window(name: &str, start_ms: u64, end_ms: u64) -> Window {
        Window {
            name: name.into(),
            start: Duration::from_millis(start_ms),
            end: Duration::from_millis(end_ms),
            rates: Default::default(),
            latency: None,
        }
    }

    fn record(
        id: &str,
        intended_ms: u64,
        latency_ms: u64,
        answer: CheckoutAnswer,
    ) -> CheckoutRecord {
        CheckoutRecord {
            order_id: id.into(),
            amount: 1000,
            intended_ms,
            latency_us: latency_ms * 1000,
            answer,
        }
    }

    /// The count per second as the driver meets the checkouts: one step per planned one.
    fn planned_per_second_by_walking(schedule: &Schedule) -> Vec<u64> {
        let mut out: Vec<u64> = Vec::new();
        for n in 0..schedule.planned() {
            let Some(at) = schedule.offset(n) else { break };
            let s = usize::try_from(at.as_secs()).unwrap_or(usize::MAX);
            if s >= out.len() {
                out.resize(s + 1, 0);
            }
            out[s] += 1;
        }
        out
    }

    #[test]
    fn planned_per_second_in_closed_form_counts_as_walking_the_schedule_does() {
        use crate::load::stages;
        use crate::scenario::{Profile, RateStage};
        let secs = Duration::from_secs;
        let ms = Duration::from_millis;
        let stage = |from, to, duration| RateStage { from, to, duration };
        let table = [
            Profile::Constant {
                rate: 10.0,
                duration: secs(3),
            },
            Profile::Constant {
                rate: 1.0 / 3.0,
                duration: secs(10),
            },
            Profile::Constant {
                rate: 997.0,
                duration: ms(2_345),
            },
            Profile::Ramp {
                from: 0.0,
                to: 200.0,
                duration: secs(7),
            },
            Profile::Ramp {
                from: 150.0,
                to: 3.0,
                duration: ms(4_500),
            },
            Profile::Ramp {
                from: 0.5,
                to: 0.7,
                duration: secs(9),
            },
            Profile::Steps {
                start: 0.0,
                step: 10.0,
                every: secs(1),
                until: 50.0,
            },
            Profile::Steps {
                start: 0.1,
                step: 0.1,
                every: ms(1_500),
                until: 0.9,
            },
            Profile::Steps {
                start: 33.0,
                step: 7.0,
                every: ms(700),
                until: 90.0,
            },
            Profile::Spike {
                base: 20.0,
                peak: 300.0,
                at: secs(2),
                length: ms(500),
                duration: secs(5),
            },
            Profile::Spike {
                base: 0.0,
                peak: 40.0,
                at: ms(1_250),
                length: ms(250),
                duration: secs(3),
            },
            Profile::Stages(vec![
                stage(10.0, 80.0, secs(3)),
                stage(0.0, 0.0, ms(1_700)),
                stage(80.0, 80.0, ms(300)),
                stage(80.0, 1.0, secs(2)),
            ]),
        ];
        for p in table {
            let s = Schedule::new(&stages(&p));
            let want = planned_per_second_by_walking(&s);
            assert_eq!(planned_per_second(&s), want, "{p:?}");
            assert_eq!(want.iter().sum::<u64>(), s.planned(), "{p:?}");
        }
        assert!(planned_per_second(&Schedule::new(&[])).is_empty());
    }

    #[test]
    fn planned_per_second_of_a_plan_at_the_ceiling_is_computed_not_walked() {
        // 1 M/s for 50 s, the documented ceilings: 50 M checkouts, 50 counts.
        let s = Schedule::new(&[Stage {
            start_rate: 1_000_000.0,
            end_rate: 1_000_000.0,
            duration: Duration::from_secs(50),
        }]);
        assert_eq!(s.planned(), 50_000_000);
        assert_eq!(planned_per_second(&s), vec![1_000_000; 50]);
        // A ramp from 0 to 1 M/s over 100 s: 50 M as well, N(t) = 5000 t².
        let s = Schedule::new(&[Stage {
            start_rate: 0.0,
            end_rate: 1_000_000.0,
            duration: Duration::from_secs(100),
        }]);
        let per = planned_per_second(&s);
        assert_eq!(per.len(), 100);
        assert_eq!(per.iter().sum::<u64>(), 50_000_000);
        assert_eq!((per[0], per[1], per[99]), (5_000, 15_000, 995_000));
    }

    #[test]
    fn planned_per_second_follows_a_ramp() {
        let s = Schedule::new(&[Stage {
            start_rate: 0.0,
            end_rate: 20.0,
            duration: Duration::from_secs(2),
        }]);
        let per = planned_per_second(&s);
        // N(t) = 5 t²: 5 requests in the first second, 15 in the second.
        assert_eq!(per, [5, 15]);
        assert_eq!(per.iter().sum::<u64>(), s.planned());
    }

    #[test]
    fn in_flight_counts_checkouts_open_at_each_second_end() {
        let s = sample_set();
        let evidence = s.evidence();
        let rec = reconcile(&evidence);
        let recorder = Recorder::default();
        let told = |status| CheckoutAnswer::Told { status };
        let checkouts = [
            // Open across the ends of seconds 0, 1 and 2.
            record("ord-a", 500, 2600, told(OrderStatus::Paid)),
            // Answered before the end of its second.
            record("ord-b", 100, 300, told(OrderStatus::Paid)),
            // Sent exactly at the end of second 0, answered in second 1.
            record("ord-c", 1000, 200, told(OrderStatus::Paid)),
        ];
        let rows = timeline(&TimelineInputs {
            recorder: &recorder,
            checkouts: &checkouts,
            reconciliation: &rec,
            windows: &[],
            planned_per_second: &[2, 2, 0, 0],
            interrupted: false,
        });
        let open: Vec<u64> = rows.iter().map(|r| r.in_flight).collect();
        assert_eq!(open, [2, 1, 1, 0]);
    }

    #[test]
    fn success_rate_leaves_out_card_declines_and_is_null_without_traffic() {
        // The clean set: second 0 holds every order; two declined by the card.
        let s = sample_set();
        let evidence = s.evidence();
        let rec = reconcile(&evidence);
        let recorder = recorder(&s);
        let rows = timeline(&TimelineInputs {
            recorder: &recorder,
            checkouts: &s.checkouts,
            reconciliation: &rec,
            windows: &[],
            planned_per_second: &[7, 3],
            interrupted: false,
        });
        assert_eq!(rows.len(), 2, "planned seconds show even without traffic");
        // One told paid at checkout of the four the card did not decline.
        assert_eq!(rows[0].success_rate, Some(0.25));
        assert_eq!(rows[1].success_rate, None);
        assert_eq!(rows[0].target_rate, 7.0);
        assert_eq!(rows[0].achieved_rate, 6.0);
        assert_eq!(rows[1].target_rate, 3.0);
        assert_eq!(rows[1].achieved_rate, 0.0);
    }

    #[test]
    fn an_interrupted_load_stops_at_the_last_recorded_second() {
        let mut recorder = Recorder::default();
        recorder.record_sent(1);
        recorder.record(1, Outcome::Paid, 5_000);
        let s = sample_set();
        let rec = reconcile(&s.evidence());
        let rows = timeline(&TimelineInputs {
            recorder: &recorder,
            checkouts: &[],
            reconciliation: &rec,
            windows: &[],
            planned_per_second: &[10, 10, 10, 10],
            interrupted: true,
        });
        assert_eq!(rows.len(), 2);
        assert_eq!(rows[1].sent, 1);
        // Per-second latencies are read to 1 % (metrics::SecondHistogram).
        assert!((rows[1].p50_ms - 5.0).abs() <= 0.05, "{}", rows[1].p50_ms);
    }

    #[test]
    fn active_windows_cover_every_second_they_touch() {
        let s = sample_set();
        let rec = reconcile(&s.evidence());
        let windows = [window("outage", 1500, 3000), window("slow", 0, 1000)];
        let rows = timeline(&TimelineInputs {
            recorder: &Recorder::default(),
            checkouts: &[],
            reconciliation: &rec,
            windows: &windows,
            planned_per_second: &[1, 1, 1, 1],
            interrupted: false,
        });
        let names: Vec<Vec<String>> = rows.iter().map(|r| r.active_windows.clone()).collect();
        assert_eq!(
            names,
            [
                vec!["slow".to_string()],
                vec!["outage".to_string()],
                vec!["outage".to_string()],
                vec![],
            ]
        );
        let spans = window_spans(&windows);
        assert_eq!(spans[0].start_s, 1.5);
        assert_eq!(spans[0].end_s, 3.0);
    }

    #[test]
    fn spectrum_runs_from_the_minimum_to_p99_99_on_a_log_axis() {
        let mut h = histogram();
        for ms in 1..=1000u64 {
            h.record(ms * 1000).unwrap();
        }
        let sp = spectrum(&h);
        assert_eq!(sp.len(), 41);
        assert_eq!(sp[0].percentile, 0.0);
        assert!((sp[0].ms - 1.0).abs() < 0.01);
        assert_eq!(sp[10].percentile, 90.0);
        assert!((sp[10].ms - 900.0).abs() < 1.0, "{}", sp[10].ms);
        assert_eq!(sp[20].percentile, 99.0);
        assert_eq!(sp[40].percentile, 99.99);
        assert!(sp.windows(2).all(|w| w[0].ms <= w[1].ms));
        assert!(spectrum(&histogram()).is_empty());
    }
}
