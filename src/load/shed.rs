//! The checkouts the in-flight cap shed, kept as counts rather than a record each: runs of
//! consecutive schedule indexes. A shed checkout is never sent, so it has no answer, no
//! latency and nothing to verify; what the report needs of it is how many fell in a span of
//! intended send time, which the runs and the schedule's offsets give exactly. The runs are
//! separated by sent checkouts, so there are at most one more of them than checkouts sent:
//! shedding costs memory per checkout sent, never per checkout planned.

use std::time::Duration;

use super::Schedule;

/// A run of consecutive shed schedule indexes, with how many were shed before it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Run {
    first: u64,
    len: u64,
    before: u64,
}

/// Which checkouts of a schedule were shed, and when each was meant to be sent.
#[derive(Clone, Debug, Default)]
pub struct ShedLog {
    schedule: Schedule,
    /// The load start from the run origin: checkout `n` was intended at `base + offset(n)`.
    base: Duration,
    /// Sorted, disjoint and never adjacent.
    runs: Vec<Run>,
    total: u64,
}

impl ShedLog {
    /// An empty log of `schedule`, whose load started `base` after the run origin.
    pub fn new(schedule: Schedule, base: Duration) -> ShedLog {
        ShedLog {
            schedule,
            base,
            runs: Vec::new(),
            total: 0,
        }
    }

    /// The schedule the indexes refer to.
    pub fn schedule(&self) -> &Schedule {
        &self.schedule
    }

    /// Checkout `n` of the schedule was shed. Indexes come in increasing order (the driver
    /// walks the schedule); a repeated or earlier one is ignored.
    pub fn shed(&mut self, n: u64) {
        match self.runs.last_mut() {
            Some(r) if n < r.first + r.len => return,
            Some(r) if n == r.first + r.len => r.len += 1,
            _ => self.runs.push(Run {
                first: n,
                len: 1,
                before: self.total,
            }),
        }
        self.total += 1;
    }

    /// The shed schedule indexes, in order (one by one: for writing a shard's log out).
    pub fn indexes(&self) -> impl Iterator<Item = u64> + '_ {
        self.runs.iter().flat_map(|r| r.first..r.first + r.len)
    }

    /// The load start from the run origin.
    pub fn base(&self) -> Duration {
        self.base
    }

    /// How many checkouts were shed.
    pub fn total(&self) -> u64 {
        self.total
    }

    /// How many shed checkouts were intended within `[from_ms, to_ms)` ms of the run origin,
    /// each at its intended instant truncated to the millisecond (as a sent checkout's
    /// `CheckoutRecord::intended_ms`).
    pub fn between_ms(&self, from_ms: u64, to_ms: u64) -> u64 {
        if to_ms <= from_ms {
            return 0;
        }
        self.below(self.first_at_ms(to_ms)) - self.below(self.first_at_ms(from_ms))
    }

    /// Shed checkouts per second of intended time from the run origin (second `s` holds
    /// intended ms `[1000 s, 1000 s + 1000)`), only the seconds with any, in order.
    pub fn per_second(&self) -> Vec<(u64, u64)> {
        let (Some(first), Some(last)) = (self.runs.first(), self.runs.last()) else {
            return Vec::new();
        };
        let from = self.intended_ms(first.first) / 1000;
        let to = self.intended_ms(last.first + last.len - 1) / 1000;
        (from..=to)
            .filter_map(|s| {
                let n = self.between_ms(s * 1000, (s + 1) * 1000);
                (n > 0).then_some((s, n))
            })
            .collect()
    }

    /// Shed indexes below `n`.
    fn below(&self, n: u64) -> u64 {
        let i = self.runs.partition_point(|r| r.first < n);
        i.checked_sub(1).map_or(0, |i| {
            let r = &self.runs[i];
            r.before + (n - r.first).min(r.len)
        })
    }

    /// The first schedule index intended at or after `ms` from the run origin. Truncating
    /// to whole ms keeps the order, so it is the first whose `base + offset` is at least
    /// `ms` exactly.
    fn first_at_ms(&self, ms: u64) -> u64 {
        Duration::from_millis(ms)
            .checked_sub(self.base)
            .map_or(0, |t| self.schedule.due_before(t))
    }

    fn intended_ms(&self, n: u64) -> u64 {
        let at = self.base + self.schedule.offset(n).unwrap_or_default();
        u64::try_from(at.as_millis()).unwrap_or(u64::MAX)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::load::Stage;

    fn schedule() -> Schedule {
        // 30/s for 1 s, then a ramp 30 → 90/s over 2 s: offsets off the ms grid.
        Schedule::new(&[
            Stage {
                start_rate: 30.0,
                end_rate: 30.0,
                duration: Duration::from_secs(1),
            },
            Stage {
                start_rate: 30.0,
                end_rate: 90.0,
                duration: Duration::from_secs(2),
            },
        ])
    }

    fn log(base: Duration, shed: &[u64]) -> ShedLog {
        let mut l = ShedLog::new(schedule(), base);
        for &n in shed {
            l.shed(n);
        }
        l
    }

    #[test]
    fn runs_merge_consecutive_indexes_and_count_each_once() {
        let l = log(Duration::ZERO, &[3, 4, 5, 5, 2, 9, 10, 40]);
        assert_eq!(
            l.total(),
            6,
            "the repeated 5 and the late 2 are not counted"
        );
        assert_eq!(l.runs.len(), 3);
        assert_eq!(
            l.runs[1],
            Run {
                first: 9,
                len: 2,
                before: 3
            }
        );
    }

    #[test]
    fn counts_over_spans_agree_with_each_checkout_s_intended_ms() {
        // Every third index and a long run, under two bases (one not a whole ms).
        let shed: Vec<u64> = (0..150)
            .filter(|n| n % 3 == 0 || (60..100).contains(n))
            .collect();
        for base in [Duration::ZERO, Duration::from_micros(7_300)] {
            let l = log(base, &shed);
            let s = schedule();
            let ms = |n: u64| ((base + s.offset(n).unwrap()).as_millis()) as u64;
            let brute = |a: u64, b: u64| shed.iter().filter(|&&n| (a..b).contains(&ms(n))).count();
            for (a, b) in [
                (0, 1000),
                (1000, 2000),
                (250, 1750),
                (7, 8),
                (0, 10_000),
                (900, 900),
            ] {
                assert_eq!(
                    l.between_ms(a, b) as usize,
                    brute(a, b),
                    "{base:?} [{a}, {b})"
                );
            }
            let per = l.per_second();
            for &(sec, n) in &per {
                assert_eq!(n as usize, brute(sec * 1000, sec * 1000 + 1000));
            }
            assert_eq!(per.iter().map(|p| p.1).sum::<u64>(), l.total());
            assert_eq!(l.total() as usize, shed.len());
        }
    }

    #[test]
    fn an_empty_log_counts_nothing() {
        let l = ShedLog::default();
        assert_eq!((l.total(), l.between_ms(0, u64::MAX)), (0, 0));
        assert!(l.per_second().is_empty());
    }
}
