//! An index from an object's id to its number, holding only the numbers: the id is read
//! back from the object itself (the intent, the charge, the event) when a lookup or a
//! growth needs it, so each entry costs 8 bytes and a control byte instead of a second copy
//! of the id (24 bytes of `String` and its allocation) beside the number. Kept per payment
//! for the whole run.

use std::hash::BuildHasher;

use hashbrown::HashTable;

/// Numbers of objects, found by their id.
#[derive(Clone, Default)]
pub struct IdIndex {
    table: HashTable<usize>,
    hasher: foldhash::fast::FixedState,
}

impl std::fmt::Debug for IdIndex {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "IdIndex({} ids)", self.table.len())
    }
}

impl IdIndex {
    /// An index with room for `n` ids before it grows.
    pub fn with_capacity(n: usize) -> IdIndex {
        IdIndex {
            table: HashTable::with_capacity(n),
            hasher: foldhash::fast::FixedState::default(),
        }
    }

    fn hash(&self, id: &str) -> u64 {
        self.hasher.hash_one(id)
    }

    /// The number of the object whose id (as `id_of` gives it) is `id`.
    pub fn get<'a>(&self, id: &str, id_of: impl Fn(usize) -> &'a str) -> Option<usize> {
        self.table.find(self.hash(id), |&n| id_of(n) == id).copied()
    }

    /// Files object `n` under `id`, which no object in the index has.
    pub fn insert<'a>(&mut self, id: &str, n: usize, id_of: impl Fn(usize) -> &'a str) {
        let hash = self.hash(id);
        let IdIndex { table, hasher } = self;
        table.insert_unique(hash, n, |&m| hasher.hash_one(id_of(m)));
    }

    /// Forgets `id`; returns the number it had.
    pub fn remove<'a>(&mut self, id: &str, id_of: impl Fn(usize) -> &'a str) -> Option<usize> {
        match self.table.find_entry(self.hash(id), |&n| id_of(n) == id) {
            Ok(e) => Some(e.remove().0),
            Err(_) => None,
        }
    }

    pub fn len(&self) -> usize {
        self.table.len()
    }

    pub fn is_empty(&self) -> bool {
        self.table.is_empty()
    }

    /// Ids it holds before it must grow.
    pub fn capacity(&self) -> usize {
        self.table.capacity()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_inserts_and_forgets_by_the_objects_own_ids() {
        let ids: Vec<String> = (0..1000).map(|i| format!("pi_{i:024x}")).collect();
        let id_of = |n: usize| ids[n].as_str();
        let mut ix = IdIndex::with_capacity(10);
        for (n, id) in ids.iter().enumerate() {
            ix.insert(id, n, id_of);
        }
        assert_eq!(
            ix.len(),
            1000,
            "grew past its first capacity, rehashing from the ids"
        );
        assert!(ids
            .iter()
            .enumerate()
            .all(|(n, id)| ix.get(id, id_of) == Some(n)));
        assert_eq!(ix.get("pi_nope", id_of), None);
        assert_eq!(ix.remove(&ids[7], id_of), Some(7));
        assert_eq!(ix.remove(&ids[7], id_of), None);
        assert_eq!(ix.get(&ids[7], id_of), None);
        assert_eq!(ix.get(&ids[8], id_of), Some(8));
        assert_eq!(ix.len(), 999);
    }

    #[test]
    fn an_entry_is_a_number_not_a_copy_of_the_id() {
        assert_eq!(std::mem::size_of::<usize>(), 8);
        let ix = IdIndex::with_capacity(1 << 12);
        assert!(ix.capacity() >= 1 << 12);
        assert!(ix.is_empty());
    }
}
