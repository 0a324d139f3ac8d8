//! The cap of a bounded [`Pool`](super::Pool): at most N exchanges at once, so at most N
//! connections open, with the waits for a free one served first come, first served and
//! counted ([`PoolStats`]).
//!
//! A permit is one connection's worth of room. An exchange holds one from before it takes
//! (or opens) a connection until it has handed that connection back or closed it; so the
//! connections in use plus the idle ones never exceed N. tokio's semaphore is fair: a permit
//! freed while others wait goes to the longest waiting, and `try_acquire` never jumps them.

use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::time::Duration;

use tokio::sync::{Semaphore, SemaphorePermit, TryAcquireError};
use tokio::time::Instant;

use super::client::ClientError;

/// What a bounded pool's cap did over its life.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct PoolStats {
    /// The cap: connections at most.
    pub connections: usize,
    /// Exchanges that found every connection busy and waited for one.
    pub waited: u64,
    /// Of those, the ones that gave up (no connection free within their bound).
    pub gave_up: u64,
    /// Their waits summed, and the longest, µs.
    pub wait_total_us: u64,
    pub wait_max_us: u64,
    /// Exchanges that held a connection, and how long they held it, summed (µs): the mean
    /// is the time a connection is busy per exchange, the `W` of Little's law.
    pub exchanges: u64,
    pub held_total_us: u64,
}

impl PoolStats {
    /// Adds what another pool (or another user of the same cap) did to these figures; the cap
    /// itself is the caller's to add or keep, as the pools are separate or shared.
    pub fn absorb(&mut self, other: &PoolStats) {
        self.waited += other.waited;
        self.gave_up += other.gave_up;
        self.wait_total_us += other.wait_total_us;
        self.wait_max_us = self.wait_max_us.max(other.wait_max_us);
        self.exchanges += other.exchanges;
        self.held_total_us += other.held_total_us;
    }
}

#[derive(Debug)]
pub(super) struct Limit {
    permits: Semaphore,
    connections: usize,
    waited: AtomicU64,
    gave_up: AtomicU64,
    wait_total_us: AtomicU64,
    wait_max_us: AtomicU64,
    exchanges: AtomicU64,
    held_total_us: AtomicU64,
    /// Exchanges waiting right now (tests await this instead of sleeping).
    waiting: AtomicU64,
}

fn micros(d: Duration) -> u64 {
    u64::try_from(d.as_micros()).unwrap_or(u64::MAX)
}

impl Limit {
    pub(super) fn new(connections: usize) -> Limit {
        Limit {
            permits: Semaphore::new(connections),
            connections,
            waited: AtomicU64::new(0),
            gave_up: AtomicU64::new(0),
            wait_total_us: AtomicU64::new(0),
            wait_max_us: AtomicU64::new(0),
            exchanges: AtomicU64::new(0),
            held_total_us: AtomicU64::new(0),
            waiting: AtomicU64::new(0),
        }
    }

    pub(super) fn connections(&self) -> usize {
        self.connections
    }

    /// A permit, at once when one is free, else after waiting in line for up to `bound`.
    pub(super) async fn acquire(
        &self,
        bound: Duration,
    ) -> Result<SemaphorePermit<'_>, ClientError> {
        match self.permits.try_acquire() {
            Ok(p) => return Ok(p),
            Err(TryAcquireError::NoPermits) => {}
            Err(TryAcquireError::Closed) => unreachable!("the pool never closes its semaphore"),
        }
        let since = Instant::now();
        self.waiting.fetch_add(1, Relaxed);
        let got = tokio::time::timeout(bound, self.permits.acquire()).await;
        self.waiting.fetch_sub(1, Relaxed);
        let waited = micros(since.elapsed());
        self.waited.fetch_add(1, Relaxed);
        self.wait_total_us.fetch_add(waited, Relaxed);
        self.wait_max_us.fetch_max(waited, Relaxed);
        match got {
            Ok(p) => Ok(p.expect("the pool never closes its semaphore")),
            Err(_) => {
                self.gave_up.fetch_add(1, Relaxed);
                Err(ClientError::NoConnection {
                    connections: self.connections,
                    waited: bound,
                })
            }
        }
    }

    /// One exchange held a connection for `held`.
    pub(super) fn held(&self, held: Duration) {
        self.exchanges.fetch_add(1, Relaxed);
        self.held_total_us.fetch_add(micros(held), Relaxed);
    }

    pub(super) fn waiting(&self) -> u64 {
        self.waiting.load(Relaxed)
    }

    pub(super) fn stats(&self) -> PoolStats {
        PoolStats {
            connections: self.connections,
            waited: self.waited.load(Relaxed),
            gave_up: self.gave_up.load(Relaxed),
            wait_total_us: self.wait_total_us.load(Relaxed),
            wait_max_us: self.wait_max_us.load(Relaxed),
            exchanges: self.exchanges.load(Relaxed),
            held_total_us: self.held_total_us.load(Relaxed),
        }
    }
}
