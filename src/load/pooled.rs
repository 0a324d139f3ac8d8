//! The driver of a bounded pool: the pacer puts each checkout in the [`DueLine`] when it is
//! due, and one long-lived worker per connection (its own [`Link`]) takes them, oldest
//! first, sends, reads the answer and keeps it in books of its own. No task, channel send or
//! allocation of an order id per checkout on the common path: a checkout is its schedule
//! index until the run ends, when the records are built. An answer that sends the customer to
//! a challenge, or lets them pay again with another card, hands that follow-up to a task of
//! its own (the rare path); the checkout counts as finished when the follow-up has.
//!
//! A checkout that finds every connection busy waits in line from its intended instant: its
//! latency counts the wait, it gives up with no connection once it has waited the request
//! timeout, and the waits are the pool's figures ([`PoolStats`]).

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use tokio::sync::Notify;
use tokio::task::JoinHandle;
use tokio::time::Instant;

use super::due::{DueLine, Job, Put};
use super::journeys::JourneyRecord;
use super::retries::RetryRecord;
use super::{
    card_testers, order_amount, order_id, outcome, record_lag, unanswered, Checkout, Drive, Driven,
    LiveCounters, LoadResult, ShedLog, DRAIN_GRACE,
};
use crate::domain::order_id::{write_chaos_key, write_order_id};
use crate::domain::{CheckoutAnswer, CheckoutRecord, RunId};
use crate::metrics::Recorder;
use crate::net::link::Link;
use crate::net::{ClientError, PoolStats};
use crate::scenario::OrderSpec;

/// A checkout's answer as a worker keeps it: the record is built from it at the end.
struct Answered {
    n: u64,
    latency_us: u64,
    answer: CheckoutAnswer,
}

/// What one worker did.
#[derive(Default)]
struct WorkerBooks {
    answered: Vec<Answered>,
    stats: PoolStats,
}

/// What the pacer and the workers share.
struct Shared {
    checkout: Arc<Checkout>,
    line: DueLine,
    /// Checkouts finished (answered, follow-up included, or given up on).
    finished: AtomicU64,
    /// The checkouts sent, once the pacer is done (`u64::MAX` before): the worker that
    /// finishes the last one wakes the pacer.
    target: AtomicU64,
    all_done: Notify,
    live: Option<Arc<LiveCounters>>,
    run_id: RunId,
    seed: u64,
    orders: OrderSpec,
    honest: bool,
    follow_ups: Mutex<(Vec<JourneyRecord>, Vec<RetryRecord>)>,
}

impl Shared {
    fn finish(&self, offset: Duration, answer: &CheckoutAnswer, latency_us: u64) {
        if let Some(live) = &self.live {
            live.on_answer(offset, answer, latency_us);
        }
        let done = self.finished.fetch_add(1, Ordering::AcqRel) + 1;
        if done == self.target.load(Ordering::Acquire) {
            self.all_done.notify_one();
        }
    }
}

fn micros(d: Duration) -> u64 {
    u64::try_from(d.as_micros()).unwrap_or(u64::MAX)
}

/// Worker `i`: takes due checkouts until the line closes, on its own connection.
async fn worker(i: usize, s: Arc<Shared>, mut link: Link) -> WorkerBooks {
    let mut books = WorkerBooks::default();
    let (mut id, mut key) = (String::new(), String::new());
    let timeout = s.checkout.timeout();
    let mut done = false;
    while let Some(job) = s.line.take(i, done).await {
        done = true;
        let start = Instant::now();
        let waited = start.saturating_duration_since(job.due);
        if job.waited {
            let us = micros(waited);
            books.stats.waited += 1;
            books.stats.wait_total_us += us;
            books.stats.wait_max_us = books.stats.wait_max_us.max(us);
        }
        id.clear();
        write_order_id(&s.run_id, job.n, &mut id);
        key.clear();
        write_chaos_key(job.n, &mut key);
        let amount = order_amount(s.seed, &s.orders, &key);
        // Among testers, an honest customer is named too (as in the spawned mode).
        let identity = s.honest.then(|| card_testers::honest_identity(job.n));
        let client = identity.as_ref().map(|(c, a)| (c.as_str(), a.as_str()));
        let (answer, redirect) = if job.waited && waited >= timeout {
            books.stats.gave_up += 1;
            let e = ClientError::NoConnection {
                connections: s.line.size(),
                waited: timeout,
            };
            let detail = e.to_string();
            (CheckoutAnswer::Error { detail }, None)
        } else {
            let method = s.checkout.payment_method();
            match s.checkout.request(&id, amount, method, client) {
                Ok(req) => {
                    let reply = link.send(req, timeout).await;
                    books.stats.exchanges += 1;
                    books.stats.held_total_us += micros(start.elapsed());
                    s.checkout.read(reply)
                }
                Err(detail) => {
                    let detail = detail.to_string();
                    (CheckoutAnswer::Error { detail }, None)
                }
            }
        };
        let latency_us = micros(job.due.elapsed());
        if redirect.is_some() || s.checkout.may_retry(&answer, &key) {
            let (s, answer, id, key) = (Arc::clone(&s), answer.clone(), id.clone(), key.clone());
            tokio::spawn(async move {
                let client = identity.as_ref().map(|(c, a)| (c.as_str(), a.as_str()));
                let c = &s.checkout;
                // The customer's journey starts when the checkout answer arrives.
                let journey = match redirect {
                    Some(url) => Some(c.journey(&id, &key, &url).await),
                    None => None,
                };
                let retry = c
                    .retry(&id, amount, &key, &answer, journey.as_ref(), client)
                    .await;
                {
                    let mut f = s.follow_ups.lock().unwrap_or_else(PoisonError::into_inner);
                    f.0.extend(journey);
                    f.1.extend(retry);
                }
                s.finish(job.offset, &answer, latency_us);
            });
        } else {
            s.finish(job.offset, &answer, latency_us);
        }
        books.answered.push(Answered {
            n: job.n,
            latency_us,
            answer,
        });
    }
    books
}

/// Drives `d`'s schedule through a pool of `size` connection workers.
pub(super) async fn drive(d: Drive<'_>, size: usize) -> Driven {
    let Drive {
        plan,
        schedule,
        shared: checkout,
        load_start,
        base,
        shutdown,
        live,
        honest,
    } = d;
    let s = Arc::new(Shared {
        checkout: Arc::clone(&checkout),
        line: DueLine::new(size),
        finished: AtomicU64::new(0),
        target: AtomicU64::new(u64::MAX),
        all_done: Notify::new(),
        live,
        run_id: plan.run_id.clone(),
        seed: plan.seed,
        orders: plan.orders.clone(),
        honest,
        follow_ups: Mutex::new((Vec::new(), Vec::new())),
    });
    let mut workers: Vec<JoinHandle<WorkerBooks>> = Vec::new();
    let mut shed = ShedLog::new(schedule.clone(), base);
    let mut recorder = Recorder::default();
    let mut send_lag = Default::default();
    let mut sent = 0u64;
    let mut last_n = None;
    let mut interrupted = false;
    let mut last_send = Duration::ZERO;
    let mut behind = 0u64;
    let sleep = tokio::time::sleep_until(load_start);
    tokio::pin!(sleep);

    for n in plan.shard.indexes(schedule.planned()) {
        let offset = schedule.offset(n).expect("n is below the planned count");
        let intended = load_start + offset;
        if intended > Instant::now() {
            sleep.as_mut().reset(intended);
            tokio::select! {
                biased;
                _ = shutdown.cancelled() => interrupted = true,
                _ = &mut sleep => {}
            }
        } else {
            interrupted = shutdown.is_cancelled();
            behind += 1;
            if behind.is_multiple_of(256) {
                tokio::task::yield_now().await;
            }
        }
        if interrupted {
            break;
        }
        last_n = Some(n);
        let second = offset.as_secs();
        last_send = load_start.elapsed();
        let in_flight = sent - s.finished.load(Ordering::Acquire);
        if in_flight >= plan.max_in_flight as u64 {
            if let Some(live) = &s.live {
                live.on_shed(offset);
            }
            recorder.record_shed(second);
            shed.shed(n);
            continue;
        }
        if let Some(live) = &s.live {
            live.on_sent(offset);
        }
        record_lag(&mut send_lag, second, intended);
        recorder.record_sent(second);
        sent += 1;
        let job = Job {
            n,
            offset,
            due: intended,
            waited: false,
        };
        if let Put::Start(i) = s.line.put(job) {
            let link = checkout.link().expect("a bounded pool has a usable target");
            workers.push(tokio::spawn(worker(i, Arc::clone(&s), link)));
        }
    }
    let elapsed = if interrupted {
        load_start.elapsed()
    } else {
        last_send
    };

    // A checkout may wait up to its timeout for a connection, then have its whole timeout.
    let bound = plan.request_timeout * 2;
    let deadline = Instant::now() + bound + DRAIN_GRACE;
    s.target.store(sent, Ordering::Release);
    while s.finished.load(Ordering::Acquire) < sent {
        tokio::select! {
            _ = s.all_done.notified() => {}
            _ = tokio::time::sleep_until(deadline) => break,
        }
    }
    s.line.close();
    // Every exchange ends within the bound: a worker still busy past it has hung.
    let join_by = deadline.max(Instant::now()) + DRAIN_GRACE;
    let mut answered = Vec::with_capacity(usize::try_from(sent).unwrap_or(0));
    let mut stats = PoolStats {
        connections: size,
        ..PoolStats::default()
    };
    for w in workers {
        let abort = w.abort_handle();
        match tokio::time::timeout_at(join_by, w).await {
            Ok(Ok(books)) => {
                answered.extend(books.answered);
                stats.absorb(&books.stats);
            }
            Ok(Err(_)) => {} // it panicked: its checkouts are unanswered below
            Err(_) => abort.abort(),
        }
    }
    // The follow-ups and card testers go through the checkout's own pool.
    if let Some(other) = checkout.pool_stats() {
        stats.absorb(&other);
    }
    answered.sort_unstable_by_key(|a| a.n);

    let mut records = Vec::with_capacity(answered.len());
    let mut shed_ns = shed.indexes().peekable();
    let mut answers = answered.into_iter().peekable();
    let sent_ns = plan
        .shard
        .indexes(schedule.planned())
        .take_while(|n| last_n.is_some_and(|last| *n <= last));
    for n in sent_ns {
        if shed_ns.next_if_eq(&n).is_some() {
            continue;
        }
        let Some(a) = answers.next_if(|a| a.n == n) else {
            records.push(unanswered(
                plan,
                &schedule,
                load_start,
                base,
                n,
                &mut recorder,
            ));
            continue;
        };
        let offset = schedule.offset(n).unwrap_or_default();
        recorder.record(offset.as_secs(), outcome(&a.answer), a.latency_us);
        records.push(CheckoutRecord {
            order_id: order_id(&plan.run_id, n),
            amount: order_amount(plan.seed, &plan.orders, &super::chaos_key(n)),
            intended_ms: u64::try_from((base + offset).as_millis()).unwrap_or(u64::MAX),
            latency_us: a.latency_us,
            answer: a.answer,
        });
    }
    drop(shed_ns);
    let (journeys, retries) =
        std::mem::take(&mut *s.follow_ups.lock().unwrap_or_else(PoisonError::into_inner));
    Driven {
        result: LoadResult {
            records,
            shed,
            recorder,
            elapsed,
            interrupted,
            send_lag,
            pool: Some(stats),
            journeys,
            retries,
        },
        deadline,
        bound,
    }
}
