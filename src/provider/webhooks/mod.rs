//! Outbound webhook delivery: each enqueued event gets its own task that applies the event's
//! chaos (delay, reorder, dropped first attempts, duplicate, and the attacker copies: forged,
//! stale, unsigned) and runs its deliveries; `delivery.rs` owns one delivery's attempt loop
//! and HTTP exchange, `forge.rs` builds the tampered copies, `reorder.rs` holds events back
//! behind later ones of their payment. Every attempt lands in one log, in send order. An
//! event says its wire [`Format`] (Stripe's signed JSON, or the gateway's signed form that only
//! the body `success` acknowledges), so one dispatcher, chaos and log serve both dialects.

mod delivery;
mod forge;
mod reorder;
#[cfg(test)]
mod tests;

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError, RwLock};
use std::time::{Duration, Instant};

use bytes::Bytes;
use tokio::sync::oneshot;
use tokio_util::sync::CancellationToken;

use crate::chaos::Chaos;
use crate::domain::WebhookAttempt;
use crate::net::{LoopbackUrl, Pools, UrlError};

pub use delivery::{DROPPED, GATEWAY_USER_AGENT, STALE_AGE_S, STRIPE_USER_AGENT};
pub use forge::{forged_id, unsigned_id, ForgeError};
pub use reorder::{REORDER_MAX_HOLD, REORDER_WAIT};

use delivery::{deliver, Delivery, Target};

/// One event to deliver, created by the provider when a payment settles.
#[derive(Clone, Debug)]
pub struct Event {
    pub id: String,
    /// `payment_intent.succeeded`, `payment_intent.payment_failed`, ...
    pub event_type: String,
    pub order_id: Option<String>,
    pub payment_id: Option<String>,
    /// Stripe: the event JSON exactly as it will be sent and signed. Gateway: the
    /// notification's form parameters, to which each attempt adds `notify_time`, `sign_type`
    /// and `sign`.
    pub body: Bytes,
    /// How the event goes on the wire and what acknowledges it.
    pub format: Format,
    /// Where this event goes instead of the configured URL (the gateway's per-trade
    /// `notify_url`); `None`: the configured one.
    pub url: Option<String>,
    /// The id webhook chaos decides this event by when it is not `id`: the id the event would
    /// have had if its order id carried no run id (the intent's `chaos_id`), so a seed gives
    /// an order's events the same chaos in every run.
    pub chaos_key: Option<String>,
}

impl Event {
    /// The key of this event's webhook chaos: [`Event::chaos_key`], or its id.
    pub fn chaos_key(&self) -> &str {
        self.chaos_key.as_deref().unwrap_or(&self.id)
    }
}

/// How an event is sent, signed and acknowledged.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Format {
    /// JSON body, `Stripe-Signature: t=…,v1=…` header; any 2xx acknowledges.
    #[default]
    Stripe,
    /// Form parameters signed in the body (`sign` = HMAC-SHA256 over the sorted parameters,
    /// `notify_time` the send time); only a 2xx whose body is exactly `success` acknowledges.
    Gateway,
}

/// Idle connections kept per webhook URL.
const MAX_IDLE: usize = 64;

/// Checks that `url` can receive webhooks: `http://` on loopback.
pub fn check_url(url: &str) -> Result<(), UrlError> {
    LoopbackUrl::parse(url).map(|_| ())
}

/// Where and how to deliver.
#[derive(Clone, Debug)]
pub struct WebhookConfig {
    /// `None`: events are recorded as created but nothing is sent.
    pub url: Option<String>,
    pub secret: String,
    pub retry: Vec<Duration>,
    pub timeout: Duration,
    pub origin: Instant,
    pub chaos: Chaos,
    /// Keep only the newest this many attempts in the log (a bounded provider); `None`: all.
    pub keep_attempts: Option<usize>,
}

/// Delivers events in the background; cheap to clone.
#[derive(Clone, Debug)]
pub struct Dispatcher {
    shared: Arc<Shared>,
}

/// State shared by the dispatcher handles and the delivery tasks.
#[derive(Debug)]
struct Shared {
    cfg: WebhookConfig,
    /// `None` when no URL is configured; an unusable URL fails every attempt with its error.
    target: Option<Result<Target, UrlError>>,
    /// Kept-alive connections per URL host (the configured one, and those events carry).
    pools: Pools,
    shutdown: CancellationToken,
    /// Captured at start so `enqueue` may be called from any thread.
    runtime: tokio::runtime::Handle,
    created: AtomicU64,
    /// Events whose deliveries are not all finished (delayed, in flight or awaiting a retry).
    pending: AtomicU64,
    /// Send-order ticket for each attempt.
    seq: AtomicU64,
    /// Finished attempts keyed by send ticket; a std mutex because it is never held across
    /// an await and each critical section is a push or an insert.
    log: Mutex<Vec<(u64, WebhookAttempt)>>,
    /// Attempts forgotten to keep the log within `cfg.keep_attempts`.
    evicted: AtomicU64,
    /// Finished attempts acknowledged, and the others (dropped ones included), for `/metrics`.
    acked: AtomicU64,
    failed: AtomicU64,
    /// Which events each payment has had, for reorder chaos (empty when it is off).
    order: reorder::Book,
    /// The chaos in force: `cfg.chaos` at start, replaced at run time by the control API.
    chaos: RwLock<Arc<Chaos>>,
}

impl Shared {
    /// Where `url` points, with the pool of connections to it.
    fn target_of(&self, url: &str) -> Result<Target, UrlError> {
        let url = LoopbackUrl::parse(url)?;
        Ok(Target {
            pool: self.pools.get(&url),
            url,
        })
    }

    /// The chaos in force now.
    fn chaos(&self) -> Arc<Chaos> {
        Arc::clone(&self.chaos.read().unwrap_or_else(PoisonError::into_inner))
    }

    /// Adds a finished attempt at its send-order place.
    fn record(&self, seq: u64, attempt: WebhookAttempt) {
        let outcome = if attempt.acknowledged() {
            &self.acked
        } else {
            &self.failed
        };
        outcome.fetch_add(1, Ordering::Relaxed);
        let mut log = self.log.lock().unwrap_or_else(|e| e.into_inner());
        let at = log.partition_point(|(s, _)| *s < seq);
        log.insert(at, (seq, attempt));
        // In batches of an eighth, so the log stays one Vec at a small amortised cost.
        if let Some(keep) = self.cfg.keep_attempts {
            if log.len() > keep.saturating_add(keep / 8) {
                let excess = log.len() - keep;
                log.drain(..excess);
                self.evicted.fetch_add(excess as u64, Ordering::Relaxed);
            }
        }
    }

    /// Sleeps for `d`; false when shutdown came first.
    async fn wait(&self, d: Duration) -> bool {
        if d.is_zero() {
            return !self.shutdown.is_cancelled();
        }
        tokio::select! {
            biased;
            _ = self.shutdown.cancelled() => false,
            _ = tokio::time::sleep(d) => true,
        }
    }
}

/// Counts one event as pending until dropped, so the count falls even if the task is
/// cancelled or dropped with the runtime.
struct PendingGuard(Arc<Shared>);

impl Drop for PendingGuard {
    fn drop(&mut self) {
        self.0.pending.fetch_sub(1, Ordering::AcqRel);
    }
}

impl Dispatcher {
    /// Starts delivering; deliveries stop when `shutdown` is cancelled.
    ///
    /// Must be called inside a tokio runtime: each event's deliveries run as a task on it.
    pub fn start(cfg: WebhookConfig, shutdown: CancellationToken) -> Dispatcher {
        let pools = Pools::new(MAX_IDLE);
        let target = cfg.url.as_deref().map(|url| {
            let url = LoopbackUrl::parse(url)?;
            Ok(Target {
                pool: pools.get(&url),
                url,
            })
        });
        if let Some(Err(e)) = &target {
            tracing::warn!("webhook url {e}; every delivery attempt will fail");
        }
        Dispatcher {
            shared: Arc::new(Shared {
                target,
                pools,
                shutdown,
                runtime: tokio::runtime::Handle::current(),
                created: AtomicU64::new(0),
                pending: AtomicU64::new(0),
                seq: AtomicU64::new(0),
                log: Mutex::new(Vec::new()),
                evicted: AtomicU64::new(0),
                acked: AtomicU64::new(0),
                failed: AtomicU64::new(0),
                order: reorder::Book::default(),
                chaos: RwLock::new(Arc::new(cfg.chaos.clone())),
                cfg,
            }),
        }
    }

    /// Queues an event for delivery (returns at once).
    pub fn enqueue(&self, event: impl Into<Arc<Event>>) {
        let event = event.into();
        let shared = &self.shared;
        let n = shared.created.fetch_add(1, Ordering::Relaxed);
        let nowhere = shared.target.is_none() && event.url.is_none();
        if nowhere || shared.shutdown.is_cancelled() {
            return;
        }
        // Noted here, in creation order, so that an earlier event held back can tell which
        // events of its payment came after it.
        // The plan in force, which the control API may have changed since the start.
        if shared.chaos().webhooks.reorder > 0.0 {
            if let Some(p) = &event.payment_id {
                shared.order.created(p, n);
            }
        }
        // Counted before spawning, so `idle()` is false as soon as `enqueue` returns.
        shared.pending.fetch_add(1, Ordering::AcqRel);
        let guard = PendingGuard(Arc::clone(shared));
        shared.runtime.spawn(async move {
            run_event(&guard.0, event, n).await;
            drop(guard);
        });
    }

    /// Every delivery attempt so far, in send order.
    pub fn log(&self) -> Vec<WebhookAttempt> {
        let log = self.shared.log.lock().unwrap_or_else(|e| e.into_inner());
        log.iter().map(|(_, a)| a.clone()).collect()
    }

    /// Every delivery attempt so far, in send order, moved out of the log (which is empty
    /// after): the end of a run reads it once, without a copy.
    pub fn take_log(&self) -> Vec<WebhookAttempt> {
        let log = std::mem::take(&mut *self.shared.log.lock().unwrap_or_else(|e| e.into_inner()));
        log.into_iter().map(|(_, a)| a).collect()
    }

    /// How many attempts the log holds now.
    pub fn log_len(&self) -> usize {
        self.shared
            .log
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .len()
    }

    /// Attempts forgotten so far to keep the log within its bound.
    pub fn evicted(&self) -> u64 {
        self.shared.evicted.load(Ordering::Relaxed)
    }

    /// Attempts started so far (every copy and retry, dropped ones included), then those
    /// finished acknowledged and not.
    pub fn attempt_counts(&self) -> (u64, u64, u64) {
        let get = |a: &AtomicU64| a.load(Ordering::Relaxed);
        let s = &self.shared;
        (get(&s.seq), get(&s.acked), get(&s.failed))
    }

    /// Events enqueued so far.
    pub fn created(&self) -> u64 {
        self.shared.created.load(Ordering::Relaxed)
    }

    /// Whether no delivery is waiting, delayed, in flight or due for a retry.
    pub fn idle(&self) -> bool {
        self.shared.pending.load(Ordering::Acquire) == 0
    }
}

/// All deliveries of one event: the genuine one (after the chaos delay and any reorder
/// hold), then, once its first attempt is over, the duplicate and the attacker copies
/// alongside its retries. `n` is the event's creation number.
async fn run_event(shared: &Shared, event: Arc<Event>, n: u64) {
    let enqueued = Instant::now();
    let decision = shared.chaos().webhook(event.chaos_key());
    let delay_ms = u64::try_from(decision.delay.as_millis()).unwrap_or(u64::MAX);
    if !shared.wait(decision.delay).await {
        return;
    }
    let payment = event.payment_id.as_deref().filter(|_| decision.reorder);
    let reordered = match payment {
        Some(p) => match reorder::hold(shared, p, n, enqueued).await {
            Some(r) => r,
            None => return, // shutdown
        },
        None => false,
    };
    // The event's own URL wins over the configured one; `enqueue` sends nothing without either.
    let target = match (&event.url, &shared.target) {
        (Some(url), _) => shared.target_of(url),
        (None, Some(t)) => t.clone(),
        (None, None) => return,
    };
    // The delay belongs to the event, so every delivery of it carries `delay_ms`.
    let genuine = Delivery {
        target,
        format: event.format,
        event_id: event.id.clone(),
        event_type: event.event_type.clone(),
        order_id: event.order_id.clone(),
        payment_id: event.payment_id.clone(),
        body: event.body.clone(),
        secret: shared.cfg.secret.clone(),
        duplicate: false,
        forged: false,
        stale: false,
        unsigned: false,
        reordered,
        delay_ms,
        drop: decision.drop,
        retry: true,
    };
    // Copies are never dropped and never retried unless said otherwise.
    let copy = Delivery {
        drop: 0,
        ..genuine.clone()
    };
    let (first_done, first_over) = oneshot::channel();
    let followers = async {
        // Dropped unsent when shutdown stopped the genuine delivery before its first attempt.
        if first_over.await.is_err() {
            return;
        }
        let duplicate = async {
            if decision.duplicate {
                let d = Delivery {
                    duplicate: true,
                    ..copy.clone()
                };
                deliver(shared, &d, None).await;
            }
        };
        let forged = async {
            if !decision.forged {
                return;
            }
            match forge::forge(&event, &shared.cfg.secret) {
                Ok(f) => {
                    let d = Delivery {
                        event_id: f.event_id,
                        body: f.body,
                        secret: f.secret,
                        forged: true,
                        retry: false,
                        ..copy.clone()
                    };
                    deliver(shared, &d, None).await;
                }
                Err(e) => tracing::warn!("webhooks: no forged copy sent: {e}"),
            }
        };
        // A replay of the genuine request whose signature is too old to be accepted.
        let stale = async {
            if decision.stale {
                let d = Delivery {
                    stale: true,
                    retry: false,
                    ..copy.clone()
                };
                deliver(shared, &d, None).await;
            }
        };
        let unsigned = async {
            if !decision.unsigned {
                return;
            }
            match forge::unsigned_copy(&event) {
                Ok((event_id, body)) => {
                    let d = Delivery {
                        event_id,
                        body,
                        unsigned: true,
                        retry: false,
                        ..copy.clone()
                    };
                    deliver(shared, &d, None).await;
                }
                Err(e) => tracing::warn!("webhooks: no unsigned copy sent: {e}"),
            }
        };
        tokio::join!(duplicate, forged, stale, unsigned);
    };
    let genuine_run = async {
        deliver(shared, &genuine, Some(first_done)).await;
        // Delivered (or given up on): earlier events of the payment held back may follow.
        if let Some(p) = event.payment_id.as_deref() {
            // The plan in force, which the control API may have changed since the start.
            if shared.chaos().webhooks.reorder > 0.0 {
                shared.order.delivered(p, n);
            }
        }
    };
    tokio::join!(genuine_run, followers);
}

/// Why an event could not be resent.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ResendError {
    #[error("no webhook url is configured: start the provider with --webhook-url")]
    NoUrl,
    #[error("the provider is shutting down")]
    ShuttingDown,
}

// Run-time control (`paychaos provider`'s control API): kept apart from the delivery path.
impl Dispatcher {
    /// Replaces the chaos applied to events enqueued from now on.
    pub fn set_chaos(&self, chaos: Chaos) {
        let mut live = self
            .shared
            .chaos
            .write()
            .unwrap_or_else(PoisonError::into_inner);
        *live = Arc::new(chaos);
    }

    /// Delivers `event` once more as a fresh delivery with its own retries, logged like the
    /// others (attempts from 0, not a duplicate). No chaos applies: a resend is asked for.
    pub fn resend(&self, event: impl Into<Arc<Event>>) -> Result<(), ResendError> {
        let event = event.into();
        let shared = &self.shared;
        // The event's own URL (a gateway trade's notify_url) wins over the configured one.
        let target = match (&event.url, &shared.target) {
            (Some(url), _) => shared.target_of(url),
            (None, Some(t)) => t.clone(),
            (None, None) => return Err(ResendError::NoUrl),
        };
        if shared.shutdown.is_cancelled() {
            return Err(ResendError::ShuttingDown);
        }
        shared.pending.fetch_add(1, Ordering::AcqRel);
        let guard = PendingGuard(Arc::clone(shared));
        shared.runtime.spawn(async move {
            let d = Delivery {
                target,
                format: event.format,
                secret: guard.0.cfg.secret.clone(),
                event_id: event.id.clone(),
                event_type: event.event_type.clone(),
                order_id: event.order_id.clone(),
                payment_id: event.payment_id.clone(),
                body: event.body.clone(),
                duplicate: false,
                forged: false,
                stale: false,
                unsigned: false,
                reordered: false,
                delay_ms: 0,
                drop: 0,
                retry: true,
            };
            deliver(&guard.0, &d, None).await;
            drop(guard);
        });
        Ok(())
    }

    /// Forgets every attempt logged and the count of events created. Deliveries under way
    /// carry on: their later attempts land in the emptied log.
    pub fn reset(&self) {
        let mut log = self.shared.log.lock().unwrap_or_else(|e| e.into_inner());
        log.clear();
        self.shared.created.store(0, Ordering::Relaxed);
    }
}
