//! Payment channels: the providers of one run. `[provider]` and `[faults]` describe the one
//! provider of a plain run (the primary, named `primary`); `[[providers]]` lists several,
//! each with its own fault plan, in routing order: the first is the primary, the others are
//! backups the reference merchant fails over to, in order. The primary's settings stay in
//! `Scenario::provider` and `Scenario::faults`, so everything that knows one provider reads
//! the primary unchanged; [`Routing`] adds the name and the backups.

use crate::chaos::FaultPlan;

use super::ProviderSpec;

/// The name of the primary when the scenario has one `[provider]`.
pub const PRIMARY: &str = "primary";

/// The most providers one run may declare (channel numbers fit a byte with room to spare).
pub const MAX_PROVIDERS: usize = 8;

/// The channels beyond the primary, and the primary's name.
#[derive(Clone, Debug, PartialEq)]
pub struct Routing {
    /// The primary's name (`providers[0].name`, or [`PRIMARY`]).
    pub primary: String,
    /// Backups in failover order (`providers[1..]`); empty for a one-provider run.
    pub backups: Vec<Channel>,
    /// `[gates] failover_s_max`: the longest time from the start of a primary fault window
    /// to the first payment on a backup, seconds.
    pub failover_s_max: Option<f64>,
    /// `[gates] failback_s_max`: the longest time from the end of a primary fault window to
    /// the first payment on the primary again, seconds.
    pub failback_s_max: Option<f64>,
}

impl Default for Routing {
    fn default() -> Routing {
        Routing {
            primary: PRIMARY.to_string(),
            backups: Vec::new(),
            failover_s_max: None,
            failback_s_max: None,
        }
    }
}

impl Routing {
    /// Every channel's name, in routing order (index = `LedgerEntry::channel`).
    pub fn names(&self) -> Vec<&str> {
        std::iter::once(self.primary.as_str())
            .chain(self.backups.iter().map(|b| b.name.as_str()))
            .collect()
    }
}

/// One backup provider: its name, its settings and its own fault plan.
#[derive(Clone, Debug, PartialEq)]
pub struct Channel {
    pub name: String,
    pub provider: ProviderSpec,
    pub faults: FaultPlan,
}

/// The seed of channel `index`'s chaos: the scenario's own for the primary (so a run with
/// one provider, and the primary of a run with several, keep every decision a seed ever
/// meant), and the scenario's seed keyed by the channel's name for a backup, so that its
/// faults, payment ids and event ids are its own and reproducible.
pub fn channel_seed(seed: u64, index: usize, name: &str) -> u64 {
    if index == 0 {
        seed
    } else {
        crate::chaos::key::hash(seed, "channel", &[name.as_bytes()])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_primary_keeps_the_seed_and_each_backup_gets_its_own() {
        assert_eq!(channel_seed(42, 0, "stripe-main"), 42);
        let a = channel_seed(42, 1, "backup-a");
        assert_ne!(a, 42);
        assert_eq!(a, channel_seed(42, 2, "backup-a"), "keyed by the name");
        assert_ne!(a, channel_seed(42, 1, "backup-b"));
        assert_ne!(a, channel_seed(43, 1, "backup-a"));
    }
}
