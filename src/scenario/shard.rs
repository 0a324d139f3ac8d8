//! Which part of the one schedule a run sends: shard `index` of `count` sends the orders
//! whose schedule index is ≡ `index` (mod `count`), so the union of the `count` shards is the
//! single run's schedule, order for order. Plain data: `[shard]` keys and `--shard I/N`.

use std::fmt;

/// Shard `index` of `count` (`0/1`: the whole schedule, the default).
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Shard {
    pub index: u64,
    pub count: u64,
}

impl Default for Shard {
    fn default() -> Self {
        Shard::WHOLE
    }
}

/// The form `--shard` takes, for messages.
pub const SHARD_FORM: &str = "I/N with 0 <= I < N, e.g. 0/3 (shard I of N, counted from 0)";

impl Shard {
    /// The whole schedule.
    pub const WHOLE: Shard = Shard { index: 0, count: 1 };

    /// `index/count`, checked.
    ///
    /// # Errors
    /// `count` is 0 or `index` is not below it.
    pub fn new(index: u64, count: u64) -> Result<Shard, String> {
        if count == 0 || index >= count {
            return Err(format!("expected {SHARD_FORM}, got {index}/{count}"));
        }
        Ok(Shard { index, count })
    }

    /// Parses `I/N` (`--shard 1/3`).
    ///
    /// # Errors
    /// Not of the form, or `I` not below `N`.
    pub fn parse(text: &str) -> Result<Shard, String> {
        let bad = || format!("expected {SHARD_FORM}, got {text:?}");
        let (i, n) = text.trim().split_once('/').ok_or_else(bad)?;
        let i: u64 = i.trim().parse().map_err(|_| bad())?;
        let n: u64 = n.trim().parse().map_err(|_| bad())?;
        Shard::new(i, n).map_err(|_| bad())
    }

    /// Whether this is one shard of several.
    pub fn is_part(self) -> bool {
        self.count > 1
    }

    /// Whether the schedule's `n`-th order is this shard's.
    pub fn includes(self, n: u64) -> bool {
        n % self.count == self.index
    }

    /// The schedule indexes below `planned` this shard sends, in order.
    pub fn indexes(self, planned: u64) -> impl Iterator<Item = u64> {
        (self.index..planned).step_by(usize::try_from(self.count).unwrap_or(usize::MAX))
    }

    /// How many of the first `planned` orders are this shard's.
    pub fn planned_of(self, planned: u64) -> u64 {
        if planned <= self.index {
            0
        } else {
            (planned - self.index).div_ceil(self.count)
        }
    }
}

impl fmt::Display for Shard {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.index, self.count)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_shards_of_a_schedule_are_disjoint_and_cover_it() {
        for count in 1..=5u64 {
            let mut seen = vec![0u32; 103];
            for index in 0..count {
                let s = Shard::new(index, count).unwrap();
                let mine: Vec<u64> = s.indexes(103).collect();
                assert_eq!(mine.len() as u64, s.planned_of(103), "{s}");
                assert!(mine.iter().all(|&n| s.includes(n)), "{s}");
                for n in mine {
                    seen[n as usize] += 1;
                }
            }
            assert!(seen.iter().all(|&c| c == 1), "count {count}: {seen:?}");
        }
        assert_eq!(Shard::new(4, 5).unwrap().planned_of(3), 0);
    }

    #[test]
    fn the_form_is_index_slash_count() {
        assert_eq!(Shard::parse("1/3"), Ok(Shard { index: 1, count: 3 }));
        for bad in ["3/3", "1", "a/3", "0/0", "-1/3"] {
            let e = Shard::parse(bad).unwrap_err();
            assert!(e.contains("I/N") && e.contains(bad), "{e}");
        }
    }
}
