//! Pure pacing: when the n-th request of a list of stages is meant to be sent. Each stage's
//! rate is linear, r(t) = a + (b-a)t/T, so its count is N(t) = a t + (b-a) t²/(2T); the n-th
//! request goes out where the running count reaches n. No clocks here: the driver adds offsets
//! to its load start.

use std::time::Duration;

use super::Stage;

/// Slack for float sums: a count of 49.999999999 is 50 requests, not 49.
const EPS: f64 = 1e-9;

/// One stage with its place in the whole schedule.
#[derive(Clone, Copy, Debug)]
struct Span {
    /// Seconds from the load start to the stage start.
    start: f64,
    /// Stage length in seconds.
    len: f64,
    /// Rate at the start (per second).
    a: f64,
    /// Rate change per second (b-a)/T.
    slope: f64,
    /// Requests planned before this stage (not rounded).
    before: f64,
}

/// The send offsets of a list of stages.
#[derive(Clone, Debug, Default)]
pub struct Schedule {
    spans: Vec<Span>,
    planned: u64,
    duration: Duration,
}

impl Schedule {
    /// Builds the schedule of `stages`, in order. Negative or non-finite rates count as 0.
    pub fn new(stages: &[Stage]) -> Schedule {
        let rate = |r: f64| if r.is_finite() { r.max(0.0) } else { 0.0 };
        let mut spans = Vec::with_capacity(stages.len());
        let (mut start, mut before) = (0.0, 0.0);
        let mut duration = Duration::ZERO;
        for s in stages {
            let len = s.duration.as_secs_f64();
            duration += s.duration;
            let (a, b) = (rate(s.start_rate), rate(s.end_rate));
            let count = (a + b) / 2.0 * len;
            let slope = if len > 0.0 { (b - a) / len } else { 0.0 };
            if count > 0.0 {
                spans.push(Span {
                    start,
                    len,
                    a,
                    slope,
                    before,
                });
            }
            start += len;
            before += count;
        }
        Schedule {
            spans,
            planned: (before + EPS).floor() as u64,
            duration,
        }
    }

    /// How many requests the stages plan: the floor of the rate's integral.
    pub fn planned(&self) -> u64 {
        self.planned
    }

    /// Total length of the stages.
    pub fn duration(&self) -> Duration {
        self.duration
    }

    /// How many requests are due strictly before offset `t` (all of them past the end).
    pub fn planned_before(&self, t: Duration) -> u64 {
        let t = t.as_secs_f64();
        // The last stage that starts before t; a steps profile has thousands, so search.
        let i = self.spans.partition_point(|s| s.start < t);
        let count = i.checked_sub(1).map_or(0.0, |i| {
            let span = &self.spans[i];
            let dt = (t - span.start).min(span.len);
            span.before + span.a * dt + span.slope * dt * dt / 2.0
        });
        // Request n is due at N⁻¹(n), so those before t are n < N(t).
        ((count - EPS).ceil().max(0.0) as u64).min(self.planned)
    }

    /// How many requests have an [`offset`](Self::offset) strictly before `t`: the closed
    /// form of [`planned_before`](Self::planned_before), then nudged by a step or two where
    /// float rounding puts a request on the other side of `t` from its computed offset, so
    /// that counts over spans of time agree exactly with the offsets the driver sends at.
    pub fn due_before(&self, t: Duration) -> u64 {
        let mut n = self.planned_before(t);
        while n > 0 && self.offset(n - 1).is_some_and(|o| o >= t) {
            n -= 1;
        }
        while self.offset(n).is_some_and(|o| o < t) {
            n += 1;
        }
        n
    }

    /// The intended send offset of request `n` (0-based) from the load start, or `None` past
    /// the planned count.
    pub fn offset(&self, n: u64) -> Option<Duration> {
        if n >= self.planned {
            return None;
        }
        let target = n as f64;
        // The last stage whose count range starts at or before n (`before` never decreases).
        let i = self.spans.partition_point(|s| s.before <= target + EPS);
        let span = self.spans.get(i.saturating_sub(1))?;
        let m = (target - span.before).max(0.0);
        Some(Duration::from_secs_f64(span.start + solve(span, m)))
    }
}

/// The time within `span` at which its count reaches `m`: the root of a t + k t²/2 = m.
/// Written as 2m / (a + √(a² + 2km)) so one formula is stable for k > 0, k < 0, k = 0
/// (t = m/a) and a = 0 (t = √(2m/k)) without cancelling terms.
fn solve(span: &Span, m: f64) -> f64 {
    if m <= 0.0 {
        return 0.0;
    }
    let disc = (span.a * span.a + 2.0 * span.slope * m).max(0.0);
    let denom = span.a + disc.sqrt();
    if denom <= 0.0 {
        return span.len;
    }
    (2.0 * m / denom).min(span.len)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stage(a: f64, b: f64, secs: f64) -> Stage {
        Stage {
            start_rate: a,
            end_rate: b,
            duration: Duration::from_secs_f64(secs),
        }
    }

    fn offsets_ms(s: &Schedule) -> Vec<f64> {
        (0..s.planned())
            .map(|n| s.offset(n).unwrap().as_secs_f64() * 1000.0)
            .collect()
    }

    fn close(a: f64, b: f64) -> bool {
        (a - b).abs() < 1e-6
    }

    #[test]
    fn constant_rate_is_evenly_spaced_from_zero() {
        let s = Schedule::new(&[stage(10.0, 10.0, 1.0)]);
        assert_eq!(s.planned(), 10);
        let got = offsets_ms(&s);
        for (n, ms) in got.iter().enumerate() {
            assert!(close(*ms, n as f64 * 100.0), "request {n} at {ms} ms");
        }
        assert_eq!(s.offset(10), None);
    }

    #[test]
    fn planned_count_is_the_floor_of_the_integral() {
        let table = [
            (vec![stage(10.0, 10.0, 1.0)], 10),
            (vec![stage(0.0, 10.0, 10.0)], 50),
            (vec![stage(10.0, 0.0, 10.0)], 50),
            (vec![stage(3.0, 3.0, 0.5)], 1),
            (vec![stage(1.0, 2.0, 1.0)], 1),
            (vec![stage(0.0, 0.0, 10.0)], 0),
            (vec![stage(5.0, 5.0, 0.0)], 0),
            (vec![], 0),
            (vec![stage(-5.0, -5.0, 3.0)], 0),
            (vec![stage(20.0, 20.0, 2.0)], 40),
            (vec![stage(0.1, 0.1, 10.0)], 1),
            (vec![stage(1000.0, 1000.0, 60.0)], 60_000),
            // 1/3 per second over 3 s sums to 0.999…; it is one request.
            (vec![stage(1.0 / 3.0, 1.0 / 3.0, 3.0)], 1),
        ];
        for (stages, want) in table {
            assert_eq!(Schedule::new(&stages).planned(), want, "{stages:?}");
        }
    }

    #[test]
    fn ramp_from_zero_starts_at_zero_and_spacing_shrinks() {
        let s = Schedule::new(&[stage(0.0, 10.0, 10.0)]);
        assert_eq!(s.planned(), 50);
        let got = offsets_ms(&s);
        assert_eq!(got[0], 0.0);
        // N(t) = t²/2, so request n is at √(2n) s.
        for (n, ms) in got.iter().enumerate() {
            assert!(close(*ms, (2.0 * n as f64).sqrt() * 1000.0), "{n}: {ms}");
        }
        for w in got.windows(3) {
            assert!(w[2] - w[1] < w[1] - w[0], "spacing must shrink: {w:?}");
        }
        assert!(*got.last().unwrap() < 10_000.0);
    }

    #[test]
    fn ramp_down_spacing_grows() {
        let s = Schedule::new(&[stage(10.0, 0.0, 10.0)]);
        assert_eq!(s.planned(), 50);
        let got = offsets_ms(&s);
        assert_eq!(got[0], 0.0);
        assert!(close(got[1], (10.0 - 98f64.sqrt()) * 1000.0), "{}", got[1]);
        for w in got.windows(3) {
            assert!(w[2] - w[1] > w[1] - w[0], "spacing must grow: {w:?}");
        }
    }

    #[test]
    fn ramp_between_nonzero_rates_solves_the_quadratic() {
        // r(t) = 10 + 10t over 1 s: N(t) = 10t + 5t²; 15 requests.
        let s = Schedule::new(&[stage(10.0, 20.0, 1.0)]);
        assert_eq!(s.planned(), 15);
        for n in 0..15u64 {
            let t = s.offset(n).unwrap().as_secs_f64();
            assert!(close(10.0 * t + 5.0 * t * t, n as f64), "{n} at {t}");
        }
    }

    #[test]
    fn stages_chain_without_gaps() {
        // 1 s at 10/s, then a 2 s ramp 10→30 (40 requests), then 1 s at 5/s.
        let s = Schedule::new(&[
            stage(10.0, 10.0, 1.0),
            stage(10.0, 30.0, 2.0),
            stage(5.0, 5.0, 1.0),
        ]);
        assert_eq!(s.planned(), 55);
        assert_eq!(s.duration(), Duration::from_secs(4));
        let got = offsets_ms(&s);
        assert!(close(got[9], 900.0));
        assert!(close(got[10], 1000.0), "second stage starts on time");
        // In the ramp: 10t + 5t² = 20 → t = √5 - 1.
        assert!(
            close(got[30], (1.0 + 5f64.sqrt() - 1.0) * 1000.0),
            "{}",
            got[30]
        );
        assert!(close(got[50], 3000.0), "third stage starts on time");
        assert!(close(got[54], 3800.0));
        assert!(got.windows(2).all(|w| w[0] < w[1]), "offsets increase");
    }

    #[test]
    fn planned_before_counts_requests_due_strictly_earlier() {
        let s = Schedule::new(&[
            stage(10.0, 10.0, 1.0),
            stage(0.0, 0.0, 1.0),
            stage(0.0, 10.0, 2.0),
        ]);
        assert_eq!(s.planned(), 20);
        let at = |ms: u64| s.planned_before(Duration::from_millis(ms));
        assert_eq!(at(0), 0);
        assert_eq!(at(1), 1, "request 0 is due at 0");
        assert_eq!(at(100), 1, "request 1 is due at exactly 100 ms");
        assert_eq!(at(101), 2);
        assert_eq!(at(1500), 10, "nothing during the idle stage");
        // In the ramp N = 10 + 2.5 t²: 1 s in, 12.5 requests are due.
        assert_eq!(at(3000), 13);
        assert_eq!(at(60_000), 20);
        for n in 0..s.planned() {
            let t = s.offset(n).unwrap();
            assert_eq!(s.planned_before(t), n, "request {n} at {t:?}");
        }
    }

    #[test]
    fn due_before_counts_exactly_the_offsets_before_t() {
        let schedules = [
            Schedule::new(&[
                stage(10.0, 10.0, 1.0),
                stage(0.0, 0.0, 1.0),
                stage(0.0, 10.0, 2.0),
            ]),
            Schedule::new(&[stage(1.0 / 3.0, 1.0 / 3.0, 9.0), stage(7.0, 0.3, 3.3)]),
            Schedule::new(&[stage(997.0, 13.0, 0.7)]),
            // Many short steps, as a steps profile has: searched, not scanned.
            Schedule::new(
                &(0..2000)
                    .map(|i| stage(f64::from(i % 7), f64::from(i % 7), 0.01))
                    .collect::<Vec<_>>(),
            ),
        ];
        for s in &schedules {
            let offsets: Vec<Duration> = (0..s.planned()).map(|n| s.offset(n).unwrap()).collect();
            let brute = |t: Duration| offsets.iter().filter(|&&o| o < t).count() as u64;
            let ns = Duration::from_nanos(1);
            for &o in &offsets {
                for t in [o.saturating_sub(ns), o, o + ns] {
                    assert_eq!(s.due_before(t), brute(t), "at {t:?}");
                }
            }
            for ms in (0..5000).step_by(37) {
                let t = Duration::from_millis(ms);
                assert_eq!(s.due_before(t), brute(t), "at {t:?}");
            }
        }
    }

    #[test]
    fn an_idle_stage_shifts_the_next_one() {
        let s = Schedule::new(&[stage(0.0, 0.0, 2.0), stage(2.0, 2.0, 1.0)]);
        assert_eq!(offsets_ms(&s), vec![2000.0, 2500.0]);
    }

    #[test]
    fn fractional_counts_carry_across_stages() {
        // 0.5 + 0.5 requests: one in all, at the start.
        let s = Schedule::new(&[stage(1.0, 1.0, 0.5), stage(1.0, 1.0, 0.5)]);
        assert_eq!(s.planned(), 1);
        assert_eq!(offsets_ms(&s), vec![0.0]);
    }
}
