//! Where fault windows overlap: one sweep over the windows' edges in time order, keeping the
//! active windows and, per fault kind, the active windows that set it, so each stretch between
//! two edges costs O(kinds × log n) and only a stretch that breaks a sum costs more (its
//! message). Before, every stretch scanned every window: 200 000 windows took minutes.

use std::collections::{BTreeSet, HashMap};
use std::time::Duration;

use enum_map::EnumMap;

use super::super::{show, Checker, SUM_SLACK};
use crate::chaos::{FaultKind, FaultPlan, Rates, Window};

/// How many overlapped windows a message lists by name before "and N more".
const NAMES_SHOWN: usize = 8;

impl Checker {
    /// Where windows overlap the later ones win per kind, which can push a sum over 1
    /// even when each window alone is fine: check every stretch covered by two or more.
    /// Overlaps involving a window that already has problems wait for it to be fixed. One
    /// set of windows is reported once, at its first stretch.
    pub(super) fn overlaps(&mut self, plan: &FaultPlan, kept: &[(usize, bool)]) {
        let windows = &plan.windows;
        // The sticky and the per-attempt kinds, summed apart (as `Checker::sums` does).
        let (sticky, attempt): (Vec<FaultKind>, Vec<FaultKind>) =
            FaultKind::all().partition(|k| k.is_sticky());
        let groups = [sticky, attempt];
        let n = windows.len();
        let mut by_start: Vec<usize> = (0..n).collect();
        by_start.sort_by_key(|&i| windows[i].start);
        let mut by_end: Vec<usize> = (0..n).collect();
        by_end.sort_by_key(|&i| windows[i].end);
        let mut edges: Vec<Duration> = windows.iter().flat_map(|w| [w.start, w.end]).collect();
        edges.sort_unstable();
        edges.dedup();
        let mut sweep = Sweep::default();
        let (mut opened, mut closed) = (0, 0);
        // Sets already judged, by their hash; only sets that break a sum are kept.
        let mut reported: HashMap<u64, Vec<Vec<usize>>> = HashMap::new();
        for pair in edges.windows(2) {
            let at = pair[0];
            // Opening first: a window ending here started earlier or here.
            while opened < n && windows[by_start[opened]].start <= at {
                sweep.open(by_start[opened], &windows[by_start[opened]], kept);
                opened += 1;
            }
            while closed < n && windows[by_end[closed]].end <= at {
                sweep.close(by_end[closed], &windows[by_end[closed]], kept);
                closed += 1;
            }
            if sweep.active.len() < 2 || sweep.unclean > 0 {
                continue;
            }
            let rates = sweep.rates(plan);
            if !groups.iter().any(|group| sweep.breaks(&rates, group)) {
                // The same set of windows gives the same rates: nothing to report later either.
                continue;
            }
            let active: Vec<usize> = sweep.active.iter().copied().collect();
            let sets = reported.entry(sweep.hash).or_default();
            if sets.contains(&active) {
                continue;
            }
            sets.push(active.clone());
            let mut names: Vec<String> = active
                .iter()
                .map(|&i| format!("faults.windows[{}]", kept[i].0))
                .collect();
            let last = names.pop().unwrap_or_default();
            if names.len() > NAMES_SHOWN {
                let more = names.len() - NAMES_SHOWN;
                names.truncate(NAMES_SHOWN);
                names.push(format!("and {more} more windows"));
            }
            let where_ = format!(
                " where it overlaps {} ({} to {})",
                names.join(", "),
                show(at),
                show(pair[1])
            );
            // Only two or more windows setting rates of a group can add up to something
            // that none of them has alone.
            let setters = |group: &[FaultKind]| {
                let sets = |w: &Window| group.iter().any(|&k| w.rate(k).is_some());
                active.iter().filter(|&&i| sets(&windows[i])).count() >= 2
            };
            self.sums(&last, &rates, &where_, setters);
        }
    }
}

/// The windows active between two edges.
#[derive(Default)]
struct Sweep {
    active: BTreeSet<usize>,
    /// Active windows that have problems of their own.
    unclean: usize,
    /// Per kind, the active windows setting it; the last one wins.
    setters: EnumMap<FaultKind, BTreeSet<usize>>,
    /// XOR of a mix of each active index: equal sets, equal hashes.
    hash: u64,
}

impl Sweep {
    fn open(&mut self, i: usize, w: &Window, kept: &[(usize, bool)]) {
        self.active.insert(i);
        self.unclean += usize::from(!kept[i].1);
        for kind in FaultKind::all() {
            if w.rate(kind).is_some() {
                self.setters[kind].insert(i);
            }
        }
        self.hash ^= mix(i);
    }

    fn close(&mut self, i: usize, w: &Window, kept: &[(usize, bool)]) {
        self.active.remove(&i);
        self.unclean -= usize::from(!kept[i].1);
        for kind in FaultKind::all() {
            if w.rate(kind).is_some() {
                self.setters[kind].remove(&i);
            }
        }
        self.hash ^= mix(i);
    }

    /// The rates in force (what `FaultPlan::rates_at` gives inside this stretch).
    fn rates(&self, plan: &FaultPlan) -> Rates {
        let mut r = plan.rates;
        for kind in FaultKind::all() {
            let last = self.setters[kind].last();
            if let Some(v) = last.and_then(|&i| plan.windows[i].rate(kind)) {
                r[kind] = v;
            }
        }
        r
    }

    /// Whether `group` sums over 1 with two or more active windows setting it.
    fn breaks(&self, rates: &Rates, group: &[FaultKind]) -> bool {
        let mut setting: BTreeSet<usize> = BTreeSet::new();
        for &k in group {
            // Two are enough to know.
            setting.extend(self.setters[k].iter().take(2));
        }
        let sum: f64 = group.iter().map(|&k| rates[k]).sum();
        setting.len() >= 2 && sum > 1.0 + SUM_SLACK
    }
}

/// SplitMix64 of `i`: spreads indices over 64 bits for [`Sweep::hash`].
fn mix(i: usize) -> u64 {
    let mut z = (i as u64).wrapping_add(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scenario::validate::Problem;

    /// The check as it was (every stretch scans every window), kept as the reference.
    fn reference(plan: &FaultPlan, kept: &[(usize, bool)]) -> Vec<Problem> {
        let mut check = Checker::default();
        let mut edges: Vec<Duration> = plan.windows.iter().flat_map(|w| [w.start, w.end]).collect();
        edges.sort();
        edges.dedup();
        let mut seen: Vec<Vec<usize>> = Vec::new();
        for pair in edges.windows(2) {
            let active: Vec<usize> = (0..plan.windows.len())
                .filter(|&i| plan.windows[i].contains(pair[0]))
                .collect();
            let clean = active.iter().all(|&i| kept[i].1);
            if active.len() < 2 || !clean || seen.contains(&active) {
                continue;
            }
            let mut names: Vec<String> = active
                .iter()
                .map(|&i| format!("faults.windows[{}]", kept[i].0))
                .collect();
            let last = names.pop().unwrap_or_default();
            let where_ = format!(
                " where it overlaps {} ({} to {})",
                names.join(", "),
                show(pair[0]),
                show(pair[1])
            );
            let setters = |group: &[FaultKind]| {
                let sets = |w: &Window| group.iter().any(|&k| w.rate(k).is_some());
                active.iter().filter(|&&i| sets(&plan.windows[i])).count() >= 2
            };
            check.sums(&last, &plan.rates_at(pair[0]), &where_, setters);
            seen.push(active);
        }
        check.problems
    }

    fn window(start: u64, end: u64, rates: &[(FaultKind, f64)]) -> Window {
        let mut r = EnumMap::default();
        for &(k, v) in rates {
            r[k] = Some(v);
        }
        Window {
            name: String::new(),
            start: Duration::from_secs(start),
            end: Duration::from_secs(end),
            rates: r,
            latency: None,
        }
    }

    #[test]
    fn the_sweep_reports_what_the_scan_of_every_window_did() {
        use FaultKind::*;
        // A seeded family of plans: nested, chained, repeated and disjoint windows, with
        // rates that break sums alone, together or not at all, and some unclean windows.
        let mut state = 7u64;
        let mut next = |m: u64| {
            state = mix(state as usize);
            state % m
        };
        let kinds = [
            Timeout,
            ServerError,
            RateLimit,
            InsufficientFunds,
            RiskBlock,
        ];
        let values = [0.1, 0.3, 0.5, 0.6, 0.9];
        let mut reported = 0;
        for _ in 0..400 {
            let n = 2 + next(7) as usize;
            let windows: Vec<Window> = (0..n)
                .map(|_| {
                    let start = next(6);
                    let end = start + 1 + next(5);
                    let rates: Vec<(FaultKind, f64)> = (0..next(3))
                        .map(|_| (kinds[next(5) as usize], values[next(5) as usize]))
                        .collect();
                    window(start, end, &rates)
                })
                .collect();
            let kept: Vec<(usize, bool)> = (0..n).map(|i| (i + 1, next(10) > 0)).collect();
            let mut plan = FaultPlan {
                windows,
                ..FaultPlan::default()
            };
            plan.rates[Timeout] = values[next(3) as usize] / 2.0;
            let mut check = Checker::default();
            check.overlaps(&plan, &kept);
            assert_eq!(check.problems, reference(&plan, &kept), "{plan:#?}");
            reported += check.problems.len();
        }
        assert!(
            reported > 50,
            "the family breaks sums often enough: {reported}"
        );
    }

    #[test]
    fn a_long_list_of_overlapped_windows_is_named_in_part() {
        let windows: Vec<Window> = (0..20)
            .map(|_| window(0, 10, &[(FaultKind::Timeout, 0.6)]))
            .collect();
        let kept: Vec<(usize, bool)> = (0..20).map(|i| (i, true)).collect();
        let plan = FaultPlan {
            windows,
            ..FaultPlan::default()
        };
        let mut check = Checker::default();
        check.overlaps(&plan, &kept);
        // Later windows win per kind: 0.6 alone, within 1.
        assert!(check.problems.is_empty());
        let mut plan = plan;
        plan.windows[19] = window(0, 10, &[(FaultKind::ServerError, 0.6)]);
        check.overlaps(&plan, &kept);
        assert_eq!(check.problems.len(), 1, "{:?}", check.problems);
        let p = &check.problems[0];
        assert_eq!(p.path, "faults.windows[19]");
        assert!(
            p.message
                .contains("faults.windows[7], and 11 more windows (0s to 10s)"),
            "{p:?}"
        );
    }
}
