//! The compact containers behind the merchant's books, kept per order for the whole run:
//! the orders themselves, densely in arrival order and found by id through an index that
//! holds only their numbers (the id is stored once, in the order); the webhook event ids
//! already seen, as numbers when they have the provider's `evt_<16 hex digits>` shape; and
//! currency codes kept inline. None of them changes what the books decide: each lookup finds
//! exactly what a map keyed by the full string would.

use std::fmt;
use std::hash::BuildHasher;

use foldhash::{HashSet, HashSetExt};
use hashbrown::HashTable;

use super::Order;

/// Every order, in the order checkouts created them, found by id.
#[derive(Default)]
pub(super) struct Orders {
    list: Vec<Order>,
    /// Positions in `list`, hashed by the order's id (read back from the order).
    index: HashTable<u32>,
    hasher: foldhash::fast::FixedState,
}

impl Orders {
    /// Room for `n` orders before either part grows. The list is reserved, not touched: only
    /// the orders that come cost memory.
    pub fn with_capacity(n: usize) -> Orders {
        Orders {
            list: Vec::with_capacity(n),
            index: HashTable::with_capacity(n),
            hasher: foldhash::fast::FixedState::default(),
        }
    }

    /// Where the order `id` is in arrival order.
    pub fn position(&self, id: &str) -> Option<usize> {
        let list = &self.list;
        self.index
            .find(self.hasher.hash_one(id), |&n| {
                list[n as usize].order_id == id
            })
            .map(|&n| n as usize)
    }

    /// The order at `position`.
    pub fn at(&self, position: usize) -> &Order {
        &self.list[position]
    }

    pub fn get(&self, id: &str) -> Option<&Order> {
        self.position(id).map(|n| &self.list[n])
    }

    pub fn get_mut(&mut self, id: &str) -> Option<&mut Order> {
        self.position(id).map(|n| &mut self.list[n])
    }

    /// Adds `order`, whose id no order has yet (the caller looked it up first).
    pub fn insert_new(&mut self, order: Order) {
        let n = u32::try_from(self.list.len()).expect("fewer than 2^32 orders in one run");
        let hash = self.hasher.hash_one(order.order_id.as_str());
        self.list.push(order);
        let Orders {
            list,
            index,
            hasher,
        } = self;
        index.insert_unique(hash, n, |&m| {
            hasher.hash_one(list[m as usize].order_id.as_str())
        });
    }

    pub fn iter(&self) -> std::slice::Iter<'_, Order> {
        self.list.iter()
    }

    pub fn len(&self) -> usize {
        self.list.len()
    }

    /// How many orders fit before the list or the index grows.
    #[cfg(test)]
    pub fn capacity(&self) -> usize {
        self.list.capacity().min(self.index.capacity())
    }
}

/// Webhook event ids, each recorded once.
#[derive(Default)]
pub(super) struct EventIds {
    /// Ids of the provider's own shape, as the number their hex digits spell.
    numeric: HashSet<u64>,
    /// Any other id, as sent.
    other: HashSet<String>,
}

impl EventIds {
    /// Room for `n` ids of the provider's shape.
    pub fn with_capacity(n: usize) -> EventIds {
        EventIds {
            numeric: HashSet::with_capacity(n),
            other: HashSet::default(),
        }
    }

    /// Records `id`; `false` when it was recorded before.
    pub fn insert(&mut self, id: &str) -> bool {
        match numeric_event_id(id) {
            Some(n) => self.numeric.insert(n),
            None => self.other.insert(id.to_string()),
        }
    }

    #[cfg(test)]
    pub fn capacity(&self) -> usize {
        self.numeric.capacity()
    }
}

/// The number of an `evt_` id of exactly 16 lower-case hex digits (the provider's
/// `evt_{:016x}`). Only that one spelling maps to a number, so two ids share a number only
/// when they are the same string.
fn numeric_event_id(id: &str) -> Option<u64> {
    let hex = id.strip_prefix("evt_")?;
    let canonical = hex.len() == 16 && hex.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'));
    canonical
        .then(|| u64::from_str_radix(hex, 16).ok())
        .flatten()
}

/// A currency code: inline when it has at most [`INLINE`] bytes and no NUL byte (every ISO
/// code), so that an order costs no allocation for it; on the heap otherwise.
#[derive(Clone, PartialEq, Eq)]
pub struct Currency(Repr);

const INLINE: usize = 8;

#[derive(Clone, PartialEq, Eq)]
enum Repr {
    /// The bytes, padded with NUL.
    Inline([u8; INLINE]),
    // A thin pointer (`Box<str>` is two words), so that the whole code stays two words.
    #[allow(clippy::box_collection)]
    Heap(Box<String>),
}

impl Currency {
    pub fn as_str(&self) -> &str {
        match &self.0 {
            Repr::Inline(b) => {
                let len = b.iter().position(|&c| c == 0).unwrap_or(INLINE);
                // Built from a `&str` cut at a character boundary (the whole of it).
                std::str::from_utf8(&b[..len]).unwrap_or_default()
            }
            Repr::Heap(s) => s,
        }
    }
}

impl From<&str> for Currency {
    fn from(s: &str) -> Currency {
        if s.len() <= INLINE && !s.as_bytes().contains(&0) {
            let mut b = [0u8; INLINE];
            b[..s.len()].copy_from_slice(s.as_bytes());
            Currency(Repr::Inline(b))
        } else {
            Currency(Repr::Heap(Box::new(s.to_string())))
        }
    }
}

impl PartialEq<str> for Currency {
    fn eq(&self, other: &str) -> bool {
        self.as_str() == other
    }
}

impl fmt::Display for Currency {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl fmt::Debug for Currency {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self.as_str(), f)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_providers_own_spelling_of_an_event_id_becomes_a_number() {
        assert_eq!(numeric_event_id("evt_00000000000000ff"), Some(255));
        assert_eq!(numeric_event_id("evt_ffffffffffffffff"), Some(u64::MAX));
        for other in [
            "evt_00000000000000FF",
            "evt_ff",
            "evt_000000000000000ff",
            "evt_+0000000000000ff",
            "xvt_00000000000000ff",
            "evt_x",
        ] {
            assert_eq!(numeric_event_id(other), None, "{other}");
        }
    }

    #[test]
    fn event_ids_of_either_shape_are_seen_once_and_never_confused() {
        let mut ids = EventIds::with_capacity(4);
        assert!(ids.insert("evt_00000000000000ff"));
        assert!(!ids.insert("evt_00000000000000ff"));
        // Same digits, another spelling: another id.
        assert!(ids.insert("evt_00000000000000FF"));
        assert!(!ids.insert("evt_00000000000000FF"));
        assert!(ids.insert("evt_ff"));
        assert!(!ids.insert("evt_ff"));
    }

    #[test]
    fn a_currency_reads_back_as_given_inline_or_not() {
        for s in ["usd", "", "abcdefgh", "abcdefghi", "a\0b", "é€"] {
            let c = Currency::from(s);
            assert_eq!(c.as_str(), s);
            assert!(c == *s);
            assert_eq!(c.to_string(), s);
        }
        assert_ne!(Currency::from("usd"), Currency::from("eur"));
        assert_eq!(std::mem::size_of::<Currency>(), 16);
    }
}
