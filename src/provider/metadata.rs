//! An object's `metadata`: the few key-value pairs a merchant attaches to a payment, kept
//! as one small sorted vector rather than a `BTreeMap`, whose first node alone takes about
//! 550 bytes for the one `order_id` pair a payment usually carries. Kept per intent and per
//! charge for the whole run, so its size is paid per payment; the API mirrors the map's.

use std::collections::BTreeMap;

use serde::ser::{Serialize, SerializeMap, Serializer};

/// Key-value pairs, sorted by key, each key once.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Metadata(Vec<(String, String)>);

impl Metadata {
    pub fn new() -> Metadata {
        Metadata::default()
    }

    fn find(&self, key: &str) -> Result<usize, usize> {
        self.0.binary_search_by(|(k, _)| k.as_str().cmp(key))
    }

    /// The value of `key`.
    pub fn get(&self, key: &str) -> Option<&String> {
        self.find(key).ok().map(|i| &self.0[i].1)
    }

    pub fn contains_key(&self, key: &str) -> bool {
        self.find(key).is_ok()
    }

    /// Sets `key` to `value`; returns the value it had.
    pub fn insert(&mut self, key: String, value: String) -> Option<String> {
        match self.find(&key) {
            Ok(i) => Some(std::mem::replace(&mut self.0[i].1, value)),
            Err(i) => {
                self.0.insert(i, (key, value));
                None
            }
        }
    }

    /// Unsets `key`; returns the value it had.
    pub fn remove(&mut self, key: &str) -> Option<String> {
        self.find(key).ok().map(|i| self.0.remove(i).1)
    }

    pub fn clear(&mut self) {
        self.0.clear();
    }

    pub fn len(&self) -> usize {
        self.0.len()
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The pairs in key order, as a map iterates.
    pub fn iter(&self) -> impl Iterator<Item = (&String, &String)> {
        self.0.iter().map(|(k, v)| (k, v))
    }
}

impl From<BTreeMap<String, String>> for Metadata {
    fn from(map: BTreeMap<String, String>) -> Metadata {
        // A map iterates in key order: the vector is sorted as it is built, and exact.
        let mut pairs = Vec::with_capacity(map.len());
        pairs.extend(map);
        Metadata(pairs)
    }
}

impl<const N: usize> From<[(String, String); N]> for Metadata {
    fn from(pairs: [(String, String); N]) -> Metadata {
        Metadata::from(BTreeMap::from(pairs))
    }
}

impl std::ops::Index<&str> for Metadata {
    type Output = String;

    fn index(&self, key: &str) -> &String {
        self.get(key)
            .unwrap_or_else(|| panic!("no metadata key {key:?}"))
    }
}

impl Serialize for Metadata {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut map = s.serialize_map(Some(self.0.len()))?;
        for (k, v) in &self.0 {
            map.serialize_entry(k, v)?;
        }
        map.end()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pairs(list: &[(&str, &str)]) -> BTreeMap<String, String> {
        list.iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn behaves_as_the_map_it_replaces() {
        let mut map = pairs(&[("order_id", "ord-1"), ("b", "2")]);
        let mut m = Metadata::from(map.clone());
        for (k, v) in [("a", "1"), ("order_id", "ord-2"), ("zz", "3")] {
            assert_eq!(m.insert(k.into(), v.into()), map.insert(k.into(), v.into()));
        }
        assert_eq!(m.remove("b"), map.remove("b"));
        assert_eq!(m.remove("nope"), map.remove("nope"));
        let got: Vec<_> = m.iter().collect();
        let want: Vec<_> = map.iter().collect();
        assert_eq!(got, want, "same pairs, in key order");
        assert_eq!(m.get("order_id"), map.get("order_id"));
        assert_eq!(m["zz"], "3");
        assert!(m.contains_key("a") && !m.contains_key("b"));
        assert_eq!(
            serde_json::to_string(&m).unwrap(),
            serde_json::to_string(&map).unwrap(),
            "serialised as the map was"
        );
        m.clear();
        assert!(m.is_empty());
        assert_eq!(m.len(), 0);
    }

    #[test]
    fn one_pair_costs_one_small_allocation_beside_its_strings() {
        // The vector's header, inline in its intent or charge, is the map's size...
        assert_eq!(
            std::mem::size_of::<Metadata>(),
            std::mem::size_of::<BTreeMap<String, String>>()
        );
        // ...and one pair takes 48 bytes on the heap, where the map's first node takes
        // room for eleven.
        let m = Metadata::from(pairs(&[("order_id", "ord-1")]));
        assert_eq!(m.0.capacity(), 1);
        assert_eq!(std::mem::size_of::<(String, String)>(), 48);
    }
}
