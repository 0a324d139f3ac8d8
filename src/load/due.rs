//! The line of due checkouts between the pacer and the connection workers of a bounded pool:
//! the pacer puts each checkout in when it is due, a free worker takes the oldest. Workers
//! are started by the pacer as the line needs them, up to the pool's size, so a low rate
//! opens few connections; a worker that finds the line empty waits on a wake-up of its own,
//! and the newest idle one is woken first (few connections stay warm).
//!
//! A checkout put in while every worker is busy and none more may start waits for a
//! connection: it is marked so, for the pool's figures.

use std::collections::VecDeque;
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use tokio::sync::Notify;
use tokio::time::Instant;

/// One due checkout: its schedule index and when it was meant to leave.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Job {
    pub n: u64,
    /// From the load start.
    pub offset: Duration,
    pub due: Instant,
    /// Every connection was busy when it came due.
    pub waited: bool,
}

/// What [`DueLine::put`] asks of the pacer.
#[derive(Debug, PartialEq, Eq)]
pub enum Put {
    /// A worker will take it (an idle one was woken, or the busy ones will).
    Queued,
    /// Start worker number `i`: it takes the job.
    Start(usize),
}

#[derive(Debug, Default)]
struct State {
    jobs: VecDeque<Job>,
    /// Idle workers, the most recently idle last.
    idle: Vec<usize>,
    started: usize,
    /// Workers holding a checkout.
    busy: usize,
    closed: bool,
}

/// The line, for a pool of `size` workers.
#[derive(Debug)]
pub struct DueLine {
    state: Mutex<State>,
    wake: Vec<Notify>,
}

impl DueLine {
    pub fn new(size: usize) -> DueLine {
        let size = size.max(1);
        DueLine {
            state: Mutex::new(State::default()),
            wake: (0..size).map(|_| Notify::new()).collect(),
        }
    }

    /// Workers at most.
    pub fn size(&self) -> usize {
        self.wake.len()
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Puts a due checkout in line (marking it `waited` when no connection is free for it).
    pub fn put(&self, mut job: Job) -> Put {
        let mut s = self.lock();
        // The jobs already in line go to the free workers (idle, woken, or not started yet)
        // first.
        job.waited = s.jobs.len() >= self.size() - s.busy;
        s.jobs.push_back(job);
        if let Some(i) = s.idle.pop() {
            drop(s);
            self.wake[i].notify_one();
            return Put::Queued;
        }
        if s.started < self.size() {
            s.started += 1;
            return Put::Start(s.started - 1);
        }
        Put::Queued
    }

    /// The oldest due checkout, for worker `i`, waiting for one if none is; `None` once the
    /// line is closed. `done`: the worker is done with the checkout it took last.
    pub async fn take(&self, i: usize, mut done: bool) -> Option<Job> {
        loop {
            {
                let mut s = self.lock();
                if std::mem::take(&mut done) {
                    s.busy -= 1;
                }
                if s.closed {
                    return None;
                }
                if let Some(job) = s.jobs.pop_front() {
                    s.busy += 1;
                    return Some(job);
                }
                s.idle.push(i);
            }
            self.wake[i].notified().await;
        }
    }

    /// Ends the line: the checkouts still in it are dropped (never sent) and every worker's
    /// next [`DueLine::take`] is `None`.
    pub fn close(&self) {
        let idle = {
            let mut s = self.lock();
            s.closed = true;
            s.jobs.clear();
            std::mem::take(&mut s.idle)
        };
        for i in idle {
            self.wake[i].notify_one();
        }
    }

    /// Workers started so far.
    #[cfg(test)]
    pub fn started(&self) -> usize {
        self.lock().started
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn job(n: u64) -> Job {
        Job {
            n,
            offset: Duration::ZERO,
            due: Instant::now(),
            waited: false,
        }
    }

    #[tokio::test]
    async fn workers_start_as_needed_and_the_rest_wait_in_order() {
        let line = DueLine::new(2);
        assert_eq!(line.put(job(0)), Put::Start(0));
        assert_eq!(line.put(job(1)), Put::Start(1));
        assert_eq!(line.put(job(2)), Put::Queued, "the pool is full");
        let taken: Vec<Job> = vec![
            line.take(0, false).await.unwrap(),
            line.take(1, false).await.unwrap(),
            line.take(0, true).await.unwrap(),
        ];
        assert_eq!(taken.iter().map(|j| j.n).collect::<Vec<_>>(), [0, 1, 2]);
        assert_eq!(
            taken.iter().map(|j| j.waited).collect::<Vec<_>>(),
            [false, false, true],
            "only the third found both connections taken"
        );
        assert_eq!(line.started(), 2);
    }

    #[tokio::test]
    async fn an_idle_worker_is_woken_and_close_ends_every_worker() {
        let line = std::sync::Arc::new(DueLine::new(2));
        assert_eq!(line.put(job(0)), Put::Start(0));
        assert_eq!(line.take(0, false).await.unwrap().n, 0);
        let l = std::sync::Arc::clone(&line);
        let worker = tokio::spawn(async move {
            let mut got = Vec::new();
            // It holds job 0 from the take above.
            while let Some(j) = l.take(0, true).await {
                got.push((j.n, j.waited));
            }
            got
        });
        while line.lock().idle.is_empty() {
            tokio::task::yield_now().await;
        }
        // Worker 0 is idle: the next job is its, with no wait and no new worker.
        assert_eq!(line.put(job(1)), Put::Queued);
        while !line.lock().jobs.is_empty() {
            tokio::task::yield_now().await;
        }
        line.close();
        assert_eq!(worker.await.unwrap(), [(1, false)]);
        assert_eq!(line.started(), 1);
    }
}
