//! Reading `[faults]` and `[[faults.windows]]`: tables with a few fixed keys plus one rate
//! key per fault kind. The derive cannot take its field list from the catalogue, and
//! `#[serde(flatten)]` would lose `deny_unknown_fields` (and the key's line and column), so
//! these two tables read their keys here, failing as the derive does: an unknown or repeated
//! key stops the parse at that key, naming every accepted one.

use std::fmt;
use std::marker::PhantomData;
use std::sync::LazyLock;

use serde::de::{self, DeserializeSeed, Deserializer, MapAccess, Visitor};
use serde::Deserialize;

use super::{RawFaults, RawRates, RawWindow};
use crate::domain::FaultKind;

/// A table whose keys are fixed ones plus the rate keys.
trait RateTable: Default {
    /// The type's name, for "expected struct …" in type errors.
    const NAME: &'static str;
    /// Fixed keys listed before and after the rate keys in the accepted list.
    const BEFORE: &'static [&'static str];
    const AFTER: &'static [&'static str];

    /// Every accepted key, in the order the error message lists them.
    fn accepted() -> &'static [&'static str];

    fn rates(&mut self) -> &mut RawRates;

    /// Reads the value of fixed key `key` into the table.
    fn fixed<'de, A: MapAccess<'de>>(
        &mut self,
        key: &'static str,
        map: &mut A,
    ) -> Result<(), A::Error>;
}

/// `before`, the kinds' names, then `after`.
fn keys(before: &[&'static str], after: &[&'static str]) -> Vec<&'static str> {
    let rates = FaultKind::all().map(FaultKind::as_str);
    before
        .iter()
        .copied()
        .chain(rates)
        .chain(after.iter().copied())
        .collect()
}

impl RateTable for RawFaults {
    const NAME: &'static str = "RawFaults";
    const BEFORE: &'static [&'static str] = &[];
    const AFTER: &'static [&'static str] = &["latency", "windows", "targets", "requires_action"];

    fn accepted() -> &'static [&'static str] {
        static KEYS: LazyLock<Vec<&'static str>> =
            LazyLock::new(|| keys(RawFaults::BEFORE, RawFaults::AFTER));
        &KEYS
    }

    fn rates(&mut self) -> &mut RawRates {
        &mut self.rates
    }

    fn fixed<'de, A: MapAccess<'de>>(
        &mut self,
        key: &'static str,
        map: &mut A,
    ) -> Result<(), A::Error> {
        match key {
            "latency" => self.latency = map.next_value()?,
            "targets" => self.targets = map.next_value()?,
            "requires_action" => self.requires_action = map.next_value()?,
            _ => self.windows = map.next_value()?,
        }
        Ok(())
    }
}

impl RateTable for RawWindow {
    const NAME: &'static str = "RawWindow";
    const BEFORE: &'static [&'static str] = &["name", "start", "end"];
    const AFTER: &'static [&'static str] = &["latency"];

    fn accepted() -> &'static [&'static str] {
        static KEYS: LazyLock<Vec<&'static str>> =
            LazyLock::new(|| keys(RawWindow::BEFORE, RawWindow::AFTER));
        &KEYS
    }

    fn rates(&mut self) -> &mut RawRates {
        &mut self.rates
    }

    fn fixed<'de, A: MapAccess<'de>>(
        &mut self,
        key: &'static str,
        map: &mut A,
    ) -> Result<(), A::Error> {
        match key {
            "name" => self.name = map.next_value()?,
            "start" => self.start = map.next_value()?,
            "end" => self.end = map.next_value()?,
            _ => self.latency = map.next_value()?,
        }
        Ok(())
    }
}

/// One key of a rate table.
#[derive(Clone, Copy)]
enum Key {
    Rate(FaultKind),
    Fixed(&'static str),
}

impl Key {
    fn name(self) -> &'static str {
        match self {
            Key::Rate(kind) => kind.as_str(),
            Key::Fixed(key) => key,
        }
    }
}

/// Reads a key of table `T`; an unknown one fails here, so the error carries the key's
/// path and position as the derive's does.
struct KeySeed<T>(PhantomData<T>);

impl<'de, T: RateTable> DeserializeSeed<'de> for KeySeed<T> {
    type Value = Key;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<Key, D::Error> {
        deserializer.deserialize_identifier(self)
    }
}

impl<T: RateTable> Visitor<'_> for KeySeed<T> {
    type Value = Key;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("field identifier")
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<Key, E> {
        if let Some(kind) = FaultKind::parse(v) {
            return Ok(Key::Rate(kind));
        }
        let fixed = T::BEFORE.iter().chain(T::AFTER).copied().find(|k| *k == v);
        fixed
            .map(Key::Fixed)
            .ok_or_else(|| E::unknown_field(v, T::accepted()))
    }
}

struct TableVisitor<T>(PhantomData<T>);

impl<'de, T: RateTable> Visitor<'de> for TableVisitor<T> {
    type Value = T;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        write!(f, "struct {}", T::NAME)
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<T, A::Error> {
        let mut table = T::default();
        let mut seen: Vec<&'static str> = Vec::new();
        while let Some(key) = map.next_key_seed(KeySeed::<T>(PhantomData))? {
            if seen.contains(&key.name()) {
                return Err(de::Error::duplicate_field(key.name()));
            }
            seen.push(key.name());
            match key {
                Key::Rate(kind) => table.rates()[kind] = map.next_value()?,
                Key::Fixed(k) => table.fixed(k, &mut map)?,
            }
        }
        Ok(table)
    }
}

impl<'de> Deserialize<'de> for RawFaults {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_map(TableVisitor(PhantomData))
    }
}

impl<'de> Deserialize<'de> for RawWindow {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_map(TableVisitor(PhantomData))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scenario::raw::RawScenario;

    #[test]
    fn every_kind_is_a_key_of_the_base_plan_and_of_a_window() {
        for kind in FaultKind::all() {
            let text = format!(
                "[faults]\n{k} = 0.25\n[[faults.windows]]\nstart = \"1s\"\n{k} = 0.5\n",
                k = kind.as_str()
            );
            let s: RawScenario = toml::from_str(&text).unwrap();
            assert_eq!(s.faults.rates[kind], Some(0.25));
            assert_eq!(s.faults.windows[0].rates[kind], Some(0.5));
            let mut others = FaultKind::all().filter(|&k| k != kind);
            assert!(others.all(|k| s.faults.rates[k].is_none()));
        }
    }

    #[test]
    fn an_unknown_key_fails_at_the_key_naming_every_accepted_one() {
        let err = toml::from_str::<RawScenario>("[faults]\ntimout = 0.1\n").unwrap_err();
        assert_eq!(
            err.message(),
            "unknown field `timout`, expected one of `insufficient_funds`, `risk_block`, \
             `timeout`, `timeout_after_charge`, `server_error`, `rate_limit`, \
             `processing_error`, `late_charge`, `reset`, `latency`, `windows`, `targets`, \
             `requires_action`"
        );
        assert_eq!(err.span(), Some(9..15), "the key's position");
        let err = toml::from_str::<RawScenario>("[[faults.windows]]\nlatncy = {}\n").unwrap_err();
        assert!(
            err.message().starts_with(
                "unknown field `latncy`, expected one of `name`, `start`, `end`, \
                 `insufficient_funds`,"
            ),
            "{err}"
        );
        assert!(err.message().ends_with("`reset`, `latency`"), "{err}");
    }

    #[test]
    fn a_repeated_key_and_a_wrong_type_fail_as_the_derive_does() {
        let err = serde_json::from_str::<RawFaults>(r#"{"timeout":0.1,"timeout":0.2}"#)
            .unwrap_err()
            .to_string();
        assert!(err.starts_with("duplicate field `timeout`"), "{err}");
        let err = serde_json::from_str::<RawFaults>("3")
            .unwrap_err()
            .to_string();
        assert!(err.starts_with("invalid type: integer `3`, expected struct RawFaults"));
        let err = serde_json::from_str::<RawFaults>(r#"{"timeout":"x"}"#)
            .unwrap_err()
            .to_string();
        assert!(
            err.starts_with("invalid type: string \"x\", expected f64"),
            "{err}"
        );
    }
}
