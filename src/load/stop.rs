//! A capacity run's stop condition: judges each step from the [`LiveCounters`] as soon as
//! its answers are in (or waiting longer can no longer change the verdict) and cancels the
//! load at the first step that breaks the SLO, so the run does not offer rates already known
//! to be past the knee. The report judges every step again from the records; this only
//! decides when to stop.

use std::sync::Arc;
use std::time::Duration;

use tokio_util::sync::CancellationToken;

use super::live::{LiveCounters, Slice};
use crate::scenario::{step_count, CapacitySpec};

/// Float slack for rate comparisons.
const EPS: f64 = 1e-9;
/// How often the watcher looks at the counters.
const TICK: Duration = Duration::from_millis(50);

/// What the counters of one step say so far.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Verdict {
    Held,
    Broke,
    /// Answers still outstanding could change the verdict.
    Wait,
}

/// The SLO a step is judged against, and how long to wait for its stragglers.
#[derive(Clone, Copy, Debug)]
pub struct Slo {
    pub p99: Duration,
    pub success_rate: f64,
    /// After this long past the step's end, unanswered checkouts count as failed.
    pub give_up_after: Duration,
}

/// Judges a step's counts `since_end` after the step ended. The p99 holds when at most 1 %
/// of the sent checkouts took longer than the SLO (the counters' threshold); a checkout still
/// unanswered once the SLO has passed since the step's end is certainly over it. Success is
/// told paid over checkouts not declined by the card (shed ones included, as failures).
pub fn verdict(c: &Slice, since_end: Duration, slo: &Slo) -> Verdict {
    let sent = c.scheduled - c.shed;
    let unanswered = c.unanswered();
    let over = c.over + if since_end >= slo.p99 { unanswered } else { 0 };
    if over * 100 > sent {
        return Verdict::Broke;
    }
    let eligible = c.scheduled.saturating_sub(c.declined) as f64;
    let needed = slo.success_rate * eligible - EPS;
    if ((c.paid + unanswered) as f64) < needed {
        return Verdict::Broke; // even if every straggler is paid
    }
    let settled = unanswered == 0 || since_end >= slo.give_up_after;
    if !settled {
        return Verdict::Wait;
    }
    if (c.paid as f64) < needed {
        Verdict::Broke
    } else {
        Verdict::Held
    }
}

/// Watches the steps of `spec` from `started` (the load start) until one breaks (cancels
/// `stop` and returns its index), every step held, or `done` is cancelled (the load ended).
pub async fn watch(
    live: Arc<LiveCounters>,
    spec: CapacitySpec,
    request_timeout: Duration,
    started: tokio::time::Instant,
    stop: CancellationToken,
    done: CancellationToken,
) -> Option<usize> {
    let slo = Slo {
        p99: Duration::from_secs_f64(spec.p99_ms / 1000.0),
        success_rate: spec.success_rate,
        give_up_after: request_timeout + Duration::from_secs(1),
    };
    let n = step_count(spec.start, spec.step, spec.max_rate) as usize;
    let mut i = 0usize;
    let mut tick = tokio::time::interval(TICK);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
    while i < n {
        tokio::select! {
            _ = done.cancelled() => return None,
            _ = tick.tick() => {}
        }
        while i < n {
            let end = spec.every * (i as u32 + 1);
            let Some(since_end) = started.elapsed().checked_sub(end) else {
                break;
            };
            let counts = live.span(spec.every * i as u32 + spec.settle, end);
            match verdict(&counts, since_end, &slo) {
                Verdict::Held => i += 1,
                Verdict::Broke => {
                    stop.cancel();
                    return Some(i);
                }
                Verdict::Wait => break,
            }
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::{CheckoutAnswer, OrderStatus};

    fn ms(n: u64) -> Duration {
        Duration::from_millis(n)
    }

    fn slo() -> Slo {
        Slo {
            p99: ms(250),
            success_rate: 0.99,
            give_up_after: ms(5000),
        }
    }

    fn counts(scheduled: u64, answered: u64, paid: u64, over: u64) -> Slice {
        Slice {
            scheduled,
            shed: 0,
            answered,
            paid,
            declined: 0,
            over,
        }
    }

    #[test]
    fn a_step_with_every_answer_in_and_within_the_slo_held() {
        assert_eq!(
            verdict(&counts(200, 200, 199, 2), ms(0), &slo()),
            Verdict::Held
        );
    }

    #[test]
    fn more_than_one_percent_slow_breaks_as_soon_as_it_is_seen() {
        assert_eq!(
            verdict(&counts(200, 150, 150, 3), ms(0), &slo()),
            Verdict::Broke
        );
    }

    #[test]
    fn stragglers_past_the_slo_count_as_slow() {
        let c = counts(200, 197, 197, 0);
        assert_eq!(
            verdict(&c, ms(100), &slo()),
            Verdict::Wait,
            "they may still be fast"
        );
        assert_eq!(
            verdict(&c, ms(250), &slo()),
            Verdict::Broke,
            "3 of 200 are over"
        );
        let c = counts(200, 198, 198, 0);
        assert_eq!(
            verdict(&c, ms(300), &slo()),
            Verdict::Wait,
            "2 slow of 200 is within p99; their success is still unknown"
        );
        assert_eq!(
            verdict(&c, ms(5000), &slo()),
            Verdict::Held,
            "given up: 198/200 ≥ 0.99"
        );
    }

    #[test]
    fn success_breaks_once_no_straggler_can_save_it() {
        // 196 paid of 200 eligible: even 2 more paid would be 0.99 only with both.
        let c = counts(200, 198, 196, 0);
        assert_eq!(verdict(&c, ms(0), &slo()), Verdict::Wait);
        let c = counts(200, 199, 196, 0);
        assert_eq!(verdict(&c, ms(0), &slo()), Verdict::Broke);
    }

    #[test]
    fn declines_do_not_count_and_shed_checkouts_do() {
        let mut c = counts(100, 100, 90, 0);
        c.declined = 10;
        assert_eq!(
            verdict(&c, ms(0), &slo()),
            Verdict::Held,
            "90 of 90 eligible"
        );
        let mut c = counts(100, 98, 98, 0);
        c.shed = 2;
        assert_eq!(
            verdict(&c, ms(0), &slo()),
            Verdict::Broke,
            "98 of 100: shed ones failed"
        );
        assert_eq!(
            verdict(&Slice::default(), ms(0), &slo()),
            Verdict::Held,
            "an idle step"
        );
    }

    // Paused clock: the watcher's timers advance virtually, so the elapsed bound below is
    // exact, not a wall-clock guess.
    #[tokio::test(start_paused = true)]
    async fn watch_stops_the_load_at_the_first_step_that_breaks() {
        // Arrange: steps of 200 ms, all counted before the watch starts; step 0 answers
        // fast, step 1 has one slow answer in three, step 2 is never reached.
        let live = Arc::new(LiveCounters::with_threshold(Some(ms(100))));
        let spec = CapacitySpec {
            start: 10.0,
            step: 10.0,
            every: ms(200),
            max_rate: 50.0,
            settle: Duration::ZERO,
            p99_ms: 100.0,
            success_rate: 0.9,
        };
        let paid = CheckoutAnswer::Told {
            status: OrderStatus::Paid,
        };
        for k in 0..10 {
            live.on_sent(ms(k * 20));
            live.on_answer(ms(k * 20), &paid, 5_000);
        }
        for k in 0..20 {
            live.on_sent(ms(200 + k * 10));
            let lat = if k % 3 == 0 { 400_000 } else { 5_000 };
            live.on_answer(ms(200 + k * 10), &paid, lat);
        }
        let (stop, done) = (CancellationToken::new(), CancellationToken::new());
        let started = tokio::time::Instant::now();

        // Act
        let broke = watch(
            Arc::clone(&live),
            spec,
            Duration::from_secs(5),
            started,
            stop.clone(),
            done,
        )
        .await;

        // Assert
        assert_eq!(broke, Some(1));
        assert!(stop.is_cancelled());
        assert!(started.elapsed() >= ms(400), "judged only after its end");
    }

    #[tokio::test]
    async fn watch_ends_without_stopping_when_the_load_ends() {
        let live = Arc::new(LiveCounters::default());
        let spec = CapacitySpec {
            start: 10.0,
            step: 10.0,
            every: Duration::from_secs(600),
            max_rate: 20.0,
            settle: Duration::ZERO,
            p99_ms: 100.0,
            success_rate: 0.9,
        };
        let (stop, done) = (CancellationToken::new(), CancellationToken::new());
        let end = done.clone();
        tokio::spawn(async move {
            tokio::time::sleep(ms(100)).await;
            end.cancel();
        });
        let got = watch(
            live,
            spec,
            Duration::from_secs(5),
            tokio::time::Instant::now(),
            stop.clone(),
            done,
        )
        .await;
        assert_eq!(got, None);
        assert!(!stop.is_cancelled());
    }
}
