//! Order ids and the run id inside them. The load generator names the `n`-th checkout of a run
//! `ord-<run id>-<n, six digits or more>` (`ord-k3f9x2ab-000042`), so that a merchant whose
//! database outlives the run never meets an id twice. Chaos knows the order by its sequence
//! number alone, through its **chaos key** `ord-<n, six digits or more>` (the id orders had
//! before run ids), so the same seed gives the same order the same faults in every run.

use std::borrow::Cow;
use std::fmt::{self, Write as _};

use serde::{Deserialize, Serialize};

/// What every order id of the harness starts with.
pub const ORDER_ID_PREFIX: &str = "ord-";

/// Digits of the sequence number at the least: `000042`.
const SEQUENCE_DIGITS: usize = 6;

/// The longest run id accepted: short enough to keep order ids within the gateway's 64
/// characters of `out_trade_no` whatever the sequence number.
pub const RUN_ID_MAX_LEN: usize = 16;

/// The letters of a derived run id.
const ALPHABET: &[u8; 36] = b"0123456789abcdefghijklmnopqrstuvwxyz";

/// Characters of a derived run id: 36⁸ ≈ 2.8·10¹², so two runs meet the same id about once
/// in a trillion pairs.
const DERIVED_LEN: usize = 8;

/// The id of one run, inside every order id it sends: 1 to [`RUN_ID_MAX_LEN`] lowercase ASCII
/// letters and digits.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct RunId(String);

/// A run id given that breaks the rule of [`RunId`].
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("expected 1 to {RUN_ID_MAX_LEN} lowercase letters and digits (a-z, 0-9), got {0:?}")]
pub struct RunIdError(pub String);

impl RunId {
    /// Checks a run id given by hand (`[load] run_id`).
    ///
    /// # Errors
    /// Empty, too long, or a character outside `a-z0-9`.
    pub fn new(id: &str) -> Result<RunId, RunIdError> {
        let ok = !id.is_empty()
            && id.len() <= RUN_ID_MAX_LEN
            && id
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit());
        if ok {
            Ok(RunId(id.to_string()))
        } else {
            Err(RunIdError(id.to_string()))
        }
    }

    /// A run id derived from the run's start (`unix_nanos`), the process id and how many runs
    /// this process started before (`nth`): no randomness, and unique across processes and
    /// within one. Eight characters of `a-z0-9`.
    pub fn derive(unix_nanos: u128, pid: u32, nth: u64) -> RunId {
        let lo = unix_nanos as u64;
        let hi = (unix_nanos >> 64) as u64;
        let mut x = mix(lo ^ mix(hi ^ mix((u64::from(pid) << 32) ^ nth)));
        let mut id = String::with_capacity(DERIVED_LEN);
        for _ in 0..DERIVED_LEN {
            id.push(char::from(ALPHABET[(x % 36) as usize]));
            x /= 36;
        }
        RunId(id)
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for RunId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl TryFrom<String> for RunId {
    type Error = RunIdError;
    fn try_from(s: String) -> Result<RunId, RunIdError> {
        RunId::new(&s)
    }
}

impl From<RunId> for String {
    fn from(r: RunId) -> String {
        r.0
    }
}

/// SplitMix64's finaliser: every input bit moves every output bit.
fn mix(mut x: u64) -> u64 {
    x = x.wrapping_add(0x9e37_79b9_7f4a_7c15);
    x = (x ^ (x >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    x ^ (x >> 31)
}

/// Appends the id of the `n`-th checkout of run `run` to `buf`: `ord-<run>-000042` (more
/// digits past a million).
pub fn write_order_id(run: &RunId, n: u64, buf: &mut String) {
    let _ = write!(buf, "{ORDER_ID_PREFIX}{run}-{n:0SEQUENCE_DIGITS$}");
}

/// Appends the chaos key of the `n`-th checkout of any run to `buf`: `ord-000042`.
pub fn write_chaos_key(n: u64, buf: &mut String) {
    let _ = write!(buf, "{ORDER_ID_PREFIX}{n:0SEQUENCE_DIGITS$}");
}

/// The sequence number of an order id the harness wrote, read from the id's tail: the id is
/// `ord-`, a run id (as [`RunId`] allows), `-`, then six or more ASCII digits. `None` for any
/// other id, a chaos key `ord-000042` included.
pub fn sequence(order_id: &str) -> Option<u64> {
    let rest = order_id.strip_prefix(ORDER_ID_PREFIX)?;
    let (run, digits) = rest.rsplit_once('-')?;
    let run_ok = RunId::new(run).is_ok();
    let digits_ok = digits.len() >= SEQUENCE_DIGITS && digits.bytes().all(|b| b.is_ascii_digit());
    if run_ok && digits_ok {
        digits.parse().ok()
    } else {
        None
    }
}

/// The key chaos decides `order_id` by: `ord-<n:06>` for an id the harness wrote with
/// sequence number `n` ([`sequence`]), so the run id never moves a fault; any other id
/// (one without a run id, or a merchant's own) is its own key.
pub fn chaos_key(order_id: &str) -> Cow<'_, str> {
    match sequence(order_id) {
        Some(n) => {
            let mut key = String::with_capacity(ORDER_ID_PREFIX.len() + SEQUENCE_DIGITS);
            write_chaos_key(n, &mut key);
            Cow::Owned(key)
        }
        None => Cow::Borrowed(order_id),
    }
}

/// `text` with every occurrence of `order_id` replaced by its chaos key: what an idempotency
/// key derived from the order id (`ord-…:charge`) would have been without the run id.
pub fn with_chaos_key<'a>(text: &'a str, order_id: &str) -> Cow<'a, str> {
    match chaos_key(order_id) {
        Cow::Owned(key) if !order_id.is_empty() && text.contains(order_id) => {
            Cow::Owned(text.replace(order_id, &key))
        }
        _ => Cow::Borrowed(text),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(s: &str) -> RunId {
        RunId::new(s).unwrap()
    }

    #[test]
    fn ids_carry_the_run_and_keys_the_sequence_alone() {
        let mut id = String::new();
        write_order_id(&run("k3f9x2ab"), 42, &mut id);
        assert_eq!(id, "ord-k3f9x2ab-000042");
        let mut key = String::new();
        write_chaos_key(42, &mut key);
        assert_eq!(key, "ord-000042");
        assert_eq!(sequence(&id), Some(42));
        assert_eq!(chaos_key(&id), "ord-000042");
        let mut big = String::new();
        write_order_id(&run("a"), 1_234_567, &mut big);
        assert_eq!(big, "ord-a-1234567");
        assert_eq!(chaos_key(&big), "ord-1234567");
    }

    #[test]
    fn other_ids_are_their_own_keys() {
        // The ids of runs before run ids, short test ids, merchants' own ids.
        for id in [
            "ord-000042",
            "ord-1",
            "ord-a-42",
            "ord-A-000042",
            "ord--000042",
            "ord-a-00004x",
            "order-a-000042",
            "x",
            "",
        ] {
            assert_eq!(sequence(id), None, "{id}");
            assert!(matches!(chaos_key(id), Cow::Borrowed(k) if k == id), "{id}");
        }
    }

    #[test]
    fn keys_derived_from_the_order_id_lose_the_run_id() {
        let id = "ord-b7-000003";
        assert_eq!(
            with_chaos_key("ord-b7-000003:charge", id),
            "ord-000003:charge"
        );
        assert_eq!(with_chaos_key("my-own-key", id), "my-own-key");
        assert_eq!(
            with_chaos_key("ord-000003:charge", "ord-000003"),
            "ord-000003:charge"
        );
    }

    #[test]
    fn run_ids_are_checked() {
        assert!(RunId::new("abc123").is_ok());
        assert!(RunId::new(&"a".repeat(RUN_ID_MAX_LEN)).is_ok());
        for bad in [
            "",
            "ABC",
            "a-b",
            "a_b",
            "é",
            &"a".repeat(RUN_ID_MAX_LEN + 1),
        ] {
            let e = RunId::new(bad).unwrap_err();
            assert!(
                e.to_string().contains("lowercase letters and digits"),
                "{e}"
            );
        }
        let back: RunId = serde_json::from_str("\"r1\"").unwrap();
        assert_eq!(back, run("r1"));
        assert!(serde_json::from_str::<RunId>("\"R1\"").is_err());
    }

    #[test]
    fn derived_run_ids_differ_by_time_process_and_count() {
        let a = RunId::derive(1_700_000_000_000_000_000, 100, 0);
        assert_eq!(a.as_str().len(), DERIVED_LEN);
        assert!(
            RunId::new(a.as_str()).is_ok(),
            "a derived id passes the rule"
        );
        assert_eq!(a, RunId::derive(1_700_000_000_000_000_000, 100, 0));
        assert_ne!(a, RunId::derive(1_700_000_000_000_000_001, 100, 0));
        assert_ne!(a, RunId::derive(1_700_000_000_000_000_000, 101, 0));
        assert_ne!(a, RunId::derive(1_700_000_000_000_000_000, 100, 1));
        let mut id = String::new();
        write_order_id(&a, 7, &mut id);
        assert_eq!(sequence(&id), Some(7));
    }
}
