//! The driver of the connection-per-checkout mode: one spawned task per checkout, each
//! opening its own connection, reporting back to the driver task, which alone keeps the
//! books. A connection storm costs a connect per checkout anyway; the task is not what
//! matters there.

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::mpsc;

use super::journeys::JourneyRecord;
use super::retries::RetryRecord;
use super::{
    card_testers, chaos_key, order_amount, order_id, outcome, record_lag, unanswered, Drive,
    Driven, LiveCounters, LoadResult, ShedLog, DRAIN_GRACE,
};
use crate::domain::CheckoutRecord;
use crate::metrics::Recorder;

/// A finished checkout, sent back to the driver task, which alone records.
struct Done {
    slot: usize,
    offset: Duration,
    record: CheckoutRecord,
    journey: Option<JourneyRecord>,
    retry: Option<RetryRecord>,
}

/// A sent checkout's place in the books: its schedule index until its answer comes.
enum Slot {
    Waiting(u64),
    Done(CheckoutRecord),
}

/// The driver task's books: one slot per sent checkout, one recorder.
struct Books {
    records: Vec<Slot>,
    recorder: Recorder,
    finished: usize,
    live: Option<Arc<LiveCounters>>,
    journeys: Vec<JourneyRecord>,
    retries: Vec<RetryRecord>,
}

impl Books {
    fn finish(&mut self, d: Done) {
        if let Some(live) = &self.live {
            live.on_answer(d.offset, &d.record.answer, d.record.latency_us);
        }
        self.recorder.record(
            d.offset.as_secs(),
            outcome(&d.record.answer),
            d.record.latency_us,
        );
        self.records[d.slot] = Slot::Done(d.record);
        self.journeys.extend(d.journey);
        self.retries.extend(d.retry);
        self.finished += 1;
    }
}

/// Drives `d`'s schedule, one spawned task per checkout.
pub(super) async fn drive(d: Drive<'_>) -> Driven {
    let Drive {
        plan,
        schedule,
        shared,
        load_start,
        base,
        shutdown,
        live,
        honest,
    } = d;
    let (tx, mut rx) = mpsc::unbounded_channel::<Done>();
    let mut shed = ShedLog::new(schedule.clone(), base);
    let mut books = Books {
        records: Vec::new(),
        recorder: Recorder::default(),
        finished: 0,
        live,
        journeys: Vec::new(),
        retries: Vec::new(),
    };
    let mut send_lag = Default::default();
    let mut spawned = 0usize;
    let mut interrupted = false;
    let mut last_send = Duration::ZERO;
    let mut behind = 0u64;
    let sleep = tokio::time::sleep_until(load_start);
    tokio::pin!(sleep);

    for n in plan.shard.indexes(schedule.planned()) {
        let offset = schedule.offset(n).expect("n is below the planned count");
        let intended = load_start + offset;
        if intended > tokio::time::Instant::now() {
            // Record answers while waiting, so the books stay small and in-flight is exact.
            sleep.as_mut().reset(intended);
            loop {
                tokio::select! {
                    biased;
                    _ = shutdown.cancelled() => {
                        interrupted = true;
                        break;
                    }
                    _ = &mut sleep => break,
                    Some(done) = rx.recv() => books.finish(done),
                }
            }
        } else {
            interrupted = shutdown.is_cancelled();
            // Running behind: let the spawned checkouts run now and then, even on a
            // single-threaded runtime.
            behind += 1;
            if behind.is_multiple_of(64) {
                tokio::task::yield_now().await;
            }
        }
        if interrupted {
            break;
        }
        while let Ok(done) = rx.try_recv() {
            books.finish(done);
        }

        let second = offset.as_secs();
        last_send = load_start.elapsed();
        if spawned - books.finished >= plan.max_in_flight {
            if let Some(live) = &books.live {
                live.on_shed(offset);
            }
            books.recorder.record_shed(second);
            shed.shed(n);
            continue;
        }
        let id = order_id(&plan.run_id, n);
        let amount = order_amount(plan.seed, &plan.orders, &chaos_key(n));
        let intended_ms = u64::try_from((base + offset).as_millis()).unwrap_or(u64::MAX);
        let slot = books.records.len();
        if let Some(live) = &books.live {
            live.on_sent(offset);
        }
        record_lag(&mut send_lag, second, intended);
        books.recorder.record_sent(second);
        books.records.push(Slot::Waiting(n));
        spawned += 1;
        let (shared, tx) = (Arc::clone(&shared), tx.clone());
        tokio::spawn(async move {
            // Among testers, an honest customer is named too: one customer and address
            // each, so the merchant's limits can be seen to leave them alone.
            let identity = honest.then(|| card_testers::honest_identity(n));
            let client = identity.as_ref().map(|(c, a)| (c.as_str(), a.as_str()));
            let (answer, redirect) = match client {
                Some(client) => {
                    let method = shared.payment_method();
                    shared.send_as(&id, amount, method, Some(client)).await
                }
                None => shared.send(&id, amount).await,
            };
            let latency_us = u64::try_from(intended.elapsed().as_micros()).unwrap_or(u64::MAX);
            // The customer's journey starts when the checkout answer arrives.
            let journey = match redirect {
                Some(url) => Some(shared.journey(&id, &chaos_key(n), &url).await),
                None => None,
            };
            let key = chaos_key(n);
            let retry = shared
                .retry(&id, amount, &key, &answer, journey.as_ref(), client)
                .await;
            // The driver may have stopped waiting (drain bound); then the record is lost
            // to it and already marked as unanswered.
            let _ = tx.send(Done {
                slot,
                offset,
                record: CheckoutRecord {
                    order_id: id,
                    amount,
                    intended_ms,
                    latency_us,
                    answer,
                },
                journey,
                retry,
            });
        });
    }
    let elapsed = if interrupted {
        load_start.elapsed()
    } else {
        last_send
    };

    drop(tx);
    let bound = plan.request_timeout;
    let deadline = tokio::time::Instant::now() + bound + DRAIN_GRACE;
    while books.finished < spawned {
        tokio::select! {
            done = rx.recv() => match done {
                Some(done) => books.finish(done),
                None => break, // a task ended without reporting (it panicked)
            },
            _ = tokio::time::sleep_until(deadline) => break,
        }
    }
    // Every sent checkout is accounted for: one that never reported is an error.
    let mut records = Vec::with_capacity(books.records.len());
    for slot in books.records {
        records.push(match slot {
            Slot::Done(record) => record,
            Slot::Waiting(n) => {
                unanswered(plan, &schedule, load_start, base, n, &mut books.recorder)
            }
        });
    }
    Driven {
        result: LoadResult {
            records,
            shed,
            recorder: books.recorder,
            elapsed,
            interrupted,
            send_lag,
            pool: shared.pool_stats(),
            journeys: books.journeys,
            retries: books.retries,
        },
        deadline,
        bound,
    }
}
