//! The versions of intents that answers and events are rendered from. A saved answer or a
//! logged event keeps the intent's number and version instead of its rendered bytes; the
//! intent is rendered again when the answer is replayed or the event is read. An intent
//! changed after something was rendered from it keeps its earlier state here, so that the
//! second rendering is byte for byte the first.

use super::{Intent, Ledger};

impl Ledger {
    /// Before intent `i` changes: keeps its current state if something renders from it,
    /// and numbers the next.
    pub(super) fn touch(&mut self, i: usize) {
        let k = i - self.first_intent;
        if std::mem::take(&mut self.pins[k]) {
            let it = &self.intents[k];
            self.history.insert((i, it.version), it.clone());
        }
        self.intents[k].version += 1;
    }

    /// Marks version `version` of intent `i` as rendered from, so that it is kept when the
    /// intent changes. False (nothing marked) when that version is gone: whoever asked must
    /// then keep its rendered bytes.
    pub fn pin(&mut self, i: usize, version: u32) -> bool {
        let Some(k) = i.checked_sub(self.first_intent) else {
            return false;
        };
        match self.intents.get(k) {
            Some(it) if it.version == version => {
                self.pins[k] = true;
                true
            }
            Some(_) => self.history.contains_key(&(i, version)),
            None => false,
        }
    }

    /// Intent `i` as it was at `version`, if that state is still known.
    pub fn version_of(&self, i: usize, version: u32) -> Option<&Intent> {
        let current = i
            .checked_sub(self.first_intent)
            .and_then(|k| self.intents.get(k))?;
        if current.version == version {
            return Some(current);
        }
        self.history.get(&(i, version))
    }

    /// The number of the oldest intent held (those before it were evicted).
    pub fn first_number(&self) -> usize {
        self.first_intent
    }

    /// The number of the intent with this id, if the ledger holds it.
    pub fn number_of(&self, id: &str) -> Option<usize> {
        self.index(id)
    }

    /// Earlier versions kept, for tests and the control index.
    pub fn versions_kept(&self) -> usize {
        self.history.len()
    }

    /// Forgets the kept versions of intents evicted (numbered before `first`).
    pub(super) fn forget_versions_before(&mut self, first: usize) {
        if !self.history.is_empty() {
            self.history.retain(|&(i, _), _| i >= first);
        }
    }
}
