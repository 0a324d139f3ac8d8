//! `load.connections`: how many connections the load generator keeps to the merchant, or
//! one per checkout. Extends the parent's `Checker`.

use std::num::NonZeroUsize;

use super::Checker;
use crate::scenario::raw::RawConnections;
use crate::scenario::Connections;

/// Far above any useful pool on one machine (loopback has ~28 k ephemeral ports by default),
/// low enough that a typo is caught.
pub const MAX_CONNECTIONS: i64 = 65_535;

const FORM: &str = r#"a number of connections from 1 to 65535, "auto" or "per_checkout""#;

impl Checker {
    /// `load.connections`; `"auto"` when absent.
    pub(super) fn connections(&mut self, raw: Option<&RawConnections>) -> Connections {
        let path = "load.connections";
        match raw {
            None => Connections::Auto,
            Some(RawConnections::Integer(n)) => self
                .integer(path, *n, 1, MAX_CONNECTIONS)
                .and_then(|n| NonZeroUsize::new(usize::try_from(n).ok()?))
                .map_or(Connections::Auto, Connections::Fixed),
            Some(RawConnections::Text(t)) if t == "auto" => Connections::Auto,
            Some(RawConnections::Text(t)) if t == "per_checkout" => Connections::PerCheckout,
            Some(RawConnections::Text(t)) => {
                self.report(path, format!("expected {FORM}, got {t:?}"));
                Connections::Auto
            }
            Some(RawConnections::Other(v)) => {
                self.report(path, format!("expected {FORM}, got {v}"));
                Connections::Auto
            }
        }
    }
}
