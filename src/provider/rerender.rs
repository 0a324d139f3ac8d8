//! Saved answers and logged events kept as what renders them again instead of their bytes:
//! the intent's number and version (`ledger::versions`) and, for an event, its kind and
//! request. Deciding which can be kept so when they are saved, and rendering them again,
//! byte for byte the first rendering, when an answer is replayed or an event is read,
//! listed or resent. Only an unbounded provider whose dialect renders from the intent alone
//! does this (`State::rerender`): a bounded one forgets intents its records may still name.

use std::sync::Arc;

use bytes::Bytes;

use crate::provider::dialects::{Answer, ApiError, Dialect, EventMeta, Rendered};
use crate::provider::events::{Compact, Logged};
use crate::provider::exec::State;
use crate::provider::idempotency::Saved;
use crate::provider::ledger::{Intent, Ledger};
use crate::provider::webhooks::{Event, Format};

/// The intent an answer renders, and whether as a decline; `None` for any other answer
/// (its bytes are kept).
fn rendered_intent(answer: &Answer) -> Option<(&Intent, bool)> {
    match answer {
        Answer::Intent(it) => Some((it, false)),
        Answer::Declined(it) => Some((it, true)),
        _ => None,
    }
}

/// The body of a saved answer, rendered again when it was kept compact.
pub(crate) fn saved_body(ledger: &Ledger, dialect: &dyn Dialect, saved: &Saved) -> Bytes {
    match saved {
        Saved::Bytes(b) => b.clone(),
        Saved::Intent {
            intent,
            version,
            declined,
        } => {
            let answer = match ledger.version_of(*intent, *version) {
                Some(it) if *declined => Answer::Declined(Box::new(it.clone())),
                Some(it) => Answer::Intent(Box::new(it.clone())),
                // Unreachable while versions are kept for every pinned intent.
                None => Answer::Error(ApiError::ServerError),
            };
            dialect.render(&answer, None).0.body
        }
    }
}

impl State {
    /// Saves the answer of the request that began `key`: compact when it renders an intent
    /// whose version is still known, else its bytes. Returns as `keys.complete` does.
    pub fn save_answer(&mut self, key: &str, answer: &Answer, rendered: &Rendered) -> bool {
        let compact = self.rerender.and_then(|dialect| {
            let (it, declined) = rendered_intent(answer)?;
            let i = self.ledger.number_of(&it.id)?;
            if dialect.status(answer) != rendered.status || !self.ledger.pin(i, it.version) {
                return None;
            }
            let saved = Saved::Intent {
                intent: i,
                version: it.version,
                declined,
            };
            debug_assert_eq!(saved_body(&self.ledger, dialect, &saved), rendered.body);
            Some(saved)
        });
        let saved = compact.unwrap_or_else(|| Saved::Bytes(rendered.body.clone()));
        self.keys.complete(key, rendered.status, saved)
    }

    /// Logs an event rendered with `meta` around `answer`'s intent: compact when that
    /// intent's version is still known and the dialect renders events from it alone.
    pub fn log_event(&mut self, answer: &Answer, event: &Arc<Event>, meta: Option<&EventMeta>) {
        match self.compact_event(answer, event, meta) {
            Some(c) => self.events.record_compact(c),
            None => self.events.record(Arc::clone(event)),
        }
    }

    fn compact_event(
        &mut self,
        answer: &Answer,
        event: &Event,
        meta: Option<&EventMeta>,
    ) -> Option<Compact> {
        let dialect = self.rerender?;
        let meta = meta?;
        let it = answer.intent()?;
        let event_type = dialect.rerendered_event_type(meta.kind)?;
        if event.format != Format::Stripe || event.event_type != event_type {
            return None;
        }
        let i = self.ledger.number_of(&it.id)?;
        let c = Compact::of(event, meta, event_type, i, it.version)?;
        if !self.ledger.pin(i, it.version) {
            return None;
        }
        debug_assert_eq!(
            self.render_compact(&c).map(|e| e.body.clone()),
            Some(event.body.clone())
        );
        Some(c)
    }

    /// A compact event rendered again; `None` when its intent's version is unknown.
    fn render_compact(&self, c: &Compact) -> Option<Event> {
        let dialect = self.rerender?;
        let it = self.ledger.version_of(c.intent, c.version)?;
        let request_id = c.request_id();
        let meta = EventMeta {
            kind: c.kind,
            seed: c.seed,
            request_id: &request_id,
            idempotency_key: c.idempotency_key.as_deref(),
            created: c.created,
            nth: c.nth,
        };
        dialect
            .render(&Answer::Intent(Box::new(it.clone())), Some(meta))
            .1
    }

    /// A logged event as rendered.
    pub fn event_of(&self, logged: &Logged) -> Option<Arc<Event>> {
        match logged {
            Logged::Full(e) => Some(Arc::clone(e)),
            Logged::Compact(c) => self.render_compact(c).map(Arc::new),
        }
    }

    /// The body of a logged event (empty if it cannot be rendered, which a kept version
    /// rules out).
    pub fn event_body(&self, logged: &Logged) -> Bytes {
        match logged {
            Logged::Full(e) => e.body.clone(),
            Logged::Compact(c) => self.render_compact(c).map(|e| e.body).unwrap_or_default(),
        }
    }

    /// The event with this id, as rendered.
    pub fn event(&self, id: &str) -> Option<Arc<Event>> {
        self.events.get(id).and_then(|l| self.event_of(l))
    }

    /// Every event logged, as rendered, in creation order.
    pub fn all_events(&self) -> Vec<Arc<Event>> {
        self.events
            .all()
            .iter()
            .filter_map(|l| self.event_of(l))
            .collect()
    }

    /// The intent number a logged event is about, if the ledger holds it.
    pub fn event_intent(&self, logged: &Logged) -> Option<usize> {
        match logged {
            Logged::Full(e) => e
                .payment_id
                .as_deref()
                .and_then(|p| self.ledger.number_of(p)),
            Logged::Compact(c) => Some(c.intent),
        }
    }
}

#[cfg(test)]
mod tests;
