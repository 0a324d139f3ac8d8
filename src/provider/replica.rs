//! Provider replicas (`paychaos provider --replica K/N`): which replica a process is, and the
//! mark it puts in the ids it mints so that a load balancer can send every later request for
//! an object to the replica that holds it. Replica K writes `pi_rK_…`, `ch_rK_…` and `re_rK_…`
//! (the gateway's trade number `TrK_…` follows from the intent id); an unmarked id belongs to
//! a provider that is not a replica. Fault decisions never read the mark: they are keyed by
//! order and attempt, so every replica decides the same for the same order.

use std::fmt;
use std::str::FromStr;

/// The accepted form of `--replica`, for messages.
pub const REPLICA_FORM: &str =
    "K/N with N from 1 to 1024 replicas and K from 0 to N-1 (e.g. 0/2; a StatefulSet's ordinal)";

/// The most replicas one set may have: far beyond any sizing, small enough that a mistyped
/// count is caught.
const MAX_REPLICAS: u32 = 1024;

/// Replica `index` of `count`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Replica {
    pub index: u32,
    pub count: u32,
}

/// A `--replica` value that is not `K/N`.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("'{text}' is not a replica (accepted: {REPLICA_FORM})")]
pub struct ReplicaError {
    pub text: String,
}

impl FromStr for Replica {
    type Err = ReplicaError;

    fn from_str(text: &str) -> Result<Replica, ReplicaError> {
        let fail = || ReplicaError {
            text: text.to_string(),
        };
        let (k, n) = text.split_once('/').ok_or_else(fail)?;
        let digits = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
        if !digits(k) || !digits(n) {
            return Err(fail());
        }
        let (index, count): (u32, u32) = (
            k.parse().map_err(|_| fail())?,
            n.parse().map_err(|_| fail())?,
        );
        if count == 0 || count > MAX_REPLICAS || index >= count {
            return Err(fail());
        }
        Ok(Replica { index, count })
    }
}

impl fmt::Display for Replica {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.index, self.count)
    }
}

impl Replica {
    /// `id` (`pi_…`) with this replica's mark after its prefix (`pi_r1_…`).
    pub fn mark(&self, id: &str) -> String {
        match id.split_once('_') {
            Some((prefix, rest)) => format!("{prefix}_r{}_{rest}", self.index),
            None => format!("r{}_{id}", self.index),
        }
    }
}

/// `id` marked by `replica`, or unchanged when there is none.
pub fn marked(replica: Option<Replica>, id: String) -> String {
    match replica {
        Some(r) => r.mark(&id),
        None => id,
    }
}

/// The replica that minted `id` (`pi_r1_…` → 1), `None` for an unmarked id.
pub fn owner(id: &str) -> Option<u32> {
    let (_, rest) = id.split_once('_')?;
    let rest = rest.strip_prefix('r')?;
    let (n, tail) = rest.split_once('_')?;
    if n.is_empty() || n.len() > 4 || !n.bytes().all(|b| b.is_ascii_digit()) || tail.is_empty() {
        return None;
    }
    n.parse().ok()
}

/// `id` without a replica's mark (`pi_r1_ab` → `pi_ab`): the id webhook chaos knows the
/// object by, so that a seed gives its events the same chaos on every replica.
pub fn unmarked(id: &str) -> String {
    owner(id)
        .and_then(|_| {
            let (prefix, rest) = id.split_once('_')?;
            let (_, tail) = rest.split_once('_')?;
            Some(format!("{prefix}_{tail}"))
        })
        .unwrap_or_else(|| id.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn replicas_parse_as_index_of_count() {
        assert_eq!("0/2".parse(), Ok(Replica { index: 0, count: 2 }));
        assert_eq!("3/4".parse(), Ok(Replica { index: 3, count: 4 }));
        assert_eq!("0/1".parse(), Ok(Replica { index: 0, count: 1 }));
        for bad in [
            "2/2", "0/0", "1", "-1/2", "a/2", "1/b", "/2", "1/", "0/2000", " 0/2",
        ] {
            let err = bad.parse::<Replica>().unwrap_err().to_string();
            assert!(
                err.starts_with(&format!("'{bad}' is not a replica")),
                "{err}"
            );
            assert!(
                err.ends_with(&format!("(accepted: {REPLICA_FORM})")),
                "{err}"
            );
        }
    }

    #[test]
    fn marks_name_their_replica_and_come_off_again() {
        let r = Replica { index: 1, count: 2 };
        assert_eq!(r.mark("pi_00ab"), "pi_r1_00ab");
        assert_eq!(r.mark("ch_ff"), "ch_r1_ff");
        assert_eq!(owner("pi_r1_00ab"), Some(1));
        assert_eq!(owner("re_r12_9"), Some(12));
        for unmarked_id in ["pi_00ab", "pi_r_ab", "pi_rx_ab", "pi_r1_", "pi", "pi_r1"] {
            assert_eq!(owner(unmarked_id), None, "{unmarked_id}");
        }
        assert_eq!(unmarked("pi_r1_00ab"), "pi_00ab");
        assert_eq!(unmarked("pi_00ab"), "pi_00ab");
        assert_eq!(marked(None, "pi_1".into()), "pi_1");
        assert_eq!(marked(Some(r), "pi_1".into()), "pi_r1_1");
    }
}
