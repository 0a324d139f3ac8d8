//! The provider's HTTP side: served by `net::serve` (graceful shutdown on the token, the
//! server limits), and per request: authenticate, route and decode through the dialect, decide and
//! record under one short lock, then sleep, save the answer and send (or drop) it. Control
//! paths go to `control` first; an API request beyond the in-flight cap is shed (`overload`)
//! before all this; the request log hook, when set, sees every other answer or drop.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError, RwLock};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::header::{HeaderValue, CONTENT_TYPE};
use hyper::service::service_fn;
use hyper::{Request, Response, StatusCode};
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

use crate::chaos::{Chaos, FaultKind};
use crate::domain::{sizing, AttemptResult};
use crate::net::{self, BodyError, ServerLimits};
use crate::provider::challenge::{self, Stepped};
use crate::provider::control;
use crate::provider::dialects::{self, Answer, ApiError, Dialect, EventKind, EventMeta, Rendered};
use crate::provider::exec::{Ctx, Late, Plan, Reply, State};
use crate::provider::idempotency::MAX_KEY_LEN;
use crate::provider::overload::Admission;
use crate::provider::reqlog::{RequestHook, RequestLog};
use crate::provider::webhooks::Dispatcher;
use crate::provider::ProviderConfig;

/// State shared by every connection.
pub(crate) struct Shared {
    pub cfg: ProviderConfig,
    /// `cfg.dialect`'s implementation, looked up once.
    dialect: &'static dyn Dialect,
    /// Ledger and idempotency keys change together: one lock, held only to decide and record,
    /// never across an `.await`.
    state: Mutex<State>,
    pub dispatcher: Dispatcher,
    pub shutdown: CancellationToken,
    requests: AtomicU64,
    /// Late charges waiting for the end of their hold (see [`Reply::Late`]).
    pub late_pending: AtomicU64,
    /// The chaos in force: `cfg.chaos` at start, replaced whole by the control API. Read once
    /// per request (an `Arc` clone under an uncontended read lock, tens of ns), so one
    /// request's decisions all come from one plan; writes are rare (a person with curl).
    chaos: RwLock<Arc<Chaos>>,
    /// The request log; `None` (the embedded run) costs one branch per request.
    pub on_request: Option<RequestHook>,
    /// Bearer token the control paths require, when set.
    pub control_token: Option<String>,
    /// The in-flight cap on API requests, and the count of those shed beyond it.
    pub admission: Admission,
    /// `http://<listen address>`: where challenge pages are served.
    pub base: String,
    /// Challenge expiries not yet run (see `challenge::schedule_expiry`).
    pub challenges_pending: AtomicU64,
}

impl Shared {
    pub fn new(cfg: ProviderConfig, dispatcher: Dispatcher, shutdown: CancellationToken) -> Shared {
        let state = fresh_state(&cfg);
        let dialect = dialects::of(cfg.dialect);
        Shared {
            admission: Admission::new(cfg.max_in_flight, dialect),
            chaos: RwLock::new(Arc::new(cfg.chaos.clone())),
            dialect,
            cfg,
            state: Mutex::new(state),
            dispatcher,
            shutdown,
            requests: AtomicU64::new(0),
            late_pending: AtomicU64::new(0),
            on_request: None,
            control_token: None,
            base: String::new(),
            challenges_pending: AtomicU64::new(0),
        }
    }

    /// Renders and sends the event a challenge step created (listed by `GET /v1/events`).
    pub fn emit(&self, s: &Stepped, seed: u64) {
        let Some((kind, nth)) = s.event else {
            return;
        };
        let meta = EventMeta {
            kind,
            seed,
            // An automatic event (the customer's browser, or the expiry): no API request.
            request_id: "",
            idempotency_key: None,
            created: unix_now(),
            nth,
        };
        let answer = Answer::Intent(Box::new(s.intent.clone()));
        if let (_, Some(ev)) = self.dialect.render(&answer, Some(meta)) {
            let ev = Arc::new(ev);
            self.lock().log_event(&answer, &ev, Some(&meta));
            self.dispatcher.enqueue(ev);
        }
    }

    /// The chaos in force now.
    pub fn chaos(&self) -> Arc<Chaos> {
        Arc::clone(&self.chaos.read().unwrap_or_else(PoisonError::into_inner))
    }

    /// Replaces the chaos for requests and webhook events from now on; requests already
    /// decided keep theirs.
    pub fn replace_chaos(&self, chaos: Chaos) {
        self.dispatcher.set_chaos(chaos.clone());
        *self.chaos.write().unwrap_or_else(PoisonError::into_inner) = Arc::new(chaos);
    }

    /// The state; a panic elsewhere must not take the provider down with it.
    pub fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Requests answered or being answered so far (each got a request id).
    pub fn requests(&self) -> u64 {
        self.requests.load(Ordering::Relaxed)
    }

    fn request_id(&self) -> String {
        let n = self.requests.fetch_add(1, Ordering::Relaxed);
        crate::provider::events::request_id(n)
    }

    /// Sleeps for `d`, cut short by shutdown.
    async fn pause(&self, d: Duration) {
        if d.is_zero() {
            return;
        }
        tokio::select! {
            _ = tokio::time::sleep(d) => {}
            _ = self.shutdown.cancelled() => {}
        }
    }
}

/// The records a provider starts (and resets) with: bounded by its retention, or sized for
/// the orders its run plans.
pub(crate) fn fresh_state(cfg: &ProviderConfig) -> State {
    let mut state = match cfg.retain {
        Some(r) => State::bounded(r),
        None => State::with_capacity(sizing::per_order(cfg.expected_orders)),
    };
    state.velocity = cfg.velocity.map(crate::provider::velocity::Velocity::new);
    // A bounded provider forgets intents its saved answers and events may still name.
    let dialect = dialects::of(cfg.dialect);
    state.rerender = cfg.retain.is_none().then_some(dialect);
    state.ledger.replica = cfg.replica;
    state
}

/// The service's error: end the connection without an answer (injected timeouts).
#[derive(Debug, thiserror::Error)]
#[error("connection dropped on purpose")]
pub(crate) struct Dropped;

/// What a listener serves.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Role {
    /// The provider's API; with `control`, also the control API under `/_paychaos/`.
    Api { control: bool },
    /// The control API alone (`--control ADDR`).
    Control,
}

/// Serves `role` on `listener` until shutdown, then waits for open connections to finish.
pub(crate) async fn run(
    listener: TcpListener,
    shared: Arc<Shared>,
    role: Role,
    limits: ServerLimits,
) {
    let shutdown = shared.shutdown.clone();
    // Numbers each connection (from 1) for the ledger: a later request on a connection proves
    // its client read the answer before (HTTP/1.1, one exchange at a time).
    let conns = AtomicU64::new(0);
    let make = move |peer: SocketAddr, reset: net::ResetHandle| {
        let shared = Arc::clone(&shared);
        let conn = conns.fetch_add(1, Ordering::Relaxed) + 1;
        service_fn(move |req| {
            serve_request(Arc::clone(&shared), peer, conn, role, reset.clone(), req)
        })
    };
    net::serve("provider", listener, make, shutdown, limits).await;
}

type Answered = Result<Response<Full<Bytes>>, Dropped>;

/// What the request log needs from the ledger entry of a request.
#[derive(Debug, Default)]
struct Note {
    fault: Option<FaultKind>,
    order_id: Option<String>,
    replayed: bool,
}

/// One request: to the control API or the dialect, then to the request log when one is set.
async fn serve_request(
    shared: Arc<Shared>,
    peer: SocketAddr,
    conn: u64,
    role: Role,
    reset: net::ResetHandle,
    req: Request<net::Body>,
) -> Answered {
    let to_control = match role {
        Role::Control => true,
        Role::Api { control } => control && control::is_control_path(req.uri().path()),
    };
    // Decided before anything is read or recorded: shedding must cost next to nothing, and
    // the count is left on every path out, an abandoned request's included. A shed request
    // is not logged one by one (the cap warns with a count instead).
    let _admitted = if to_control {
        None
    } else {
        match shared.admission.admit() {
            Some(a) => Some(a),
            None => return Ok(shared.admission.shed_response(&shared.request_id())),
        }
    };
    let Some(hook) = shared.on_request.clone() else {
        return if to_control {
            Ok(control::handle(&shared, peer, req).await)
        } else {
            handle(&shared, req, &reset, conn, None).await
        };
    };
    let (at, started) = (SystemTime::now(), Instant::now());
    let (method, path) = (req.method().to_string(), req.uri().path().to_string());
    let mut note = Note::default();
    let answered = if to_control {
        Ok(control::handle(&shared, peer, req).await)
    } else {
        handle(&shared, req, &reset, conn, Some(&mut note)).await
    };
    hook(&RequestLog {
        at,
        method,
        path,
        status: answered.as_ref().ok().map(|r| r.status().as_u16()),
        fault: note.fault,
        order_id: note.order_id,
        replayed: note.replayed,
        latency: started.elapsed(),
    });
    answered
}

async fn handle(
    shared: &Arc<Shared>,
    req: Request<net::Body>,
    reset: &net::ResetHandle,
    conn: u64,
    note: Option<&mut Note>,
) -> Answered {
    if challenge::is_challenge_path(req.uri().path()) {
        return Ok(challenge::serve(shared, &req));
    }
    let request_id = shared.request_id();
    let dialect = shared.dialect;
    let (parts, body) = req.into_parts();
    let send = |answer: Answer| -> Answered {
        let (r, _) = dialect.render(&answer, None);
        Ok(response(r, &request_id, false, None))
    };
    if let Err(e) = dialect.authenticate(&parts.headers) {
        return send(Answer::Error(e));
    }
    let path = parts.uri.path();
    let Some(route) = dialect.route(&parts.method, path) else {
        return send(Answer::Error(ApiError::UnknownRoute {
            method: parts.method.to_string(),
            path: path.to_string(),
        }));
    };
    let body = match body.collect().await {
        Ok(b) => b.to_bytes(),
        Err(BodyError::TooLarge { limit }) => {
            return send(Answer::Error(ApiError::BodyTooLarge { limit }));
        }
        // Too slow, or the client went away mid-body: the connection is closed unanswered.
        Err(_) => return Err(Dropped),
    };
    let key_header = dialect.idempotency_key(&route, &parts.headers);
    let key = key_header
        .and_then(|v| v.to_str().ok())
        .filter(|k| !k.is_empty());
    let decoded = match (key_header, key) {
        (Some(h), None) => Err(ApiError::InvalidParam {
            param: "Idempotency-Key".into(),
            expected: "non-empty visible ASCII",
            got: String::from_utf8_lossy(h.as_bytes()).into_owned(),
        }),
        (_, Some(k)) if k.len() > MAX_KEY_LEN => Err(ApiError::KeyTooLong { len: k.len() }),
        _ => {
            let secret = &shared.cfg.webhook_secret;
            dialect.decode(&route, path, parts.uri.query(), &body, secret)
        }
    };

    let chaos = shared.chaos();
    let (plan, unanswered) = {
        let mut st = shared.lock();
        // This request's ledger entry, if it made one, is the one recorded after `before`.
        let before = st.ledger.entries().len();
        let ctx = ctx_now(shared, &chaos);
        let plan = match decoded {
            Ok(d) => st.apply(&ctx, d, key),
            Err(e) => st.refuse(&ctx, route.op(), e),
        };
        if !plan.latency.is_zero() {
            st.ledger.delay_answer(before, plan.latency);
        }
        st.ledger.note_connection(before, conn);
        let entry = st.ledger.entries().get(before);
        if let (Some(note), Some(e)) = (note, entry) {
            note.fault = e.fault;
            note.order_id.clone_from(&e.order_id);
            note.replayed = e.result == AttemptResult::Replayed;
        }
        let unanswered = Unanswered {
            shared,
            seq: entry.map(|e| e.seq),
        };
        (plan, unanswered)
    };
    if plan.event == Some(EventKind::RequiresAction) {
        if let Reply::Fresh(Answer::Intent(it)) = &plan.reply {
            if it.challenge_url.is_some() {
                challenge::schedule_expiry(shared, it.id.clone());
            }
        }
    }
    if plan.reply == Reply::Reset {
        // The connection closes with an RST once this error has ended it (see `net`).
        reset.reset();
        return Err(Dropped);
    }
    let answered = respond(shared, plan, chaos.seed, &request_id, key, key_header).await;
    if answered.is_ok() {
        unanswered.disarm();
    }
    answered
}

/// The moment and the run, as `exec` needs them, under the chaos in force.
pub(crate) fn ctx_now<'a>(shared: &'a Shared, chaos: &'a Chaos) -> Ctx<'a> {
    Ctx {
        chaos,
        dialect: shared.dialect,
        at: Instant::now().saturating_duration_since(shared.cfg.origin),
        unix: unix_now(),
        base: &shared.base,
        challenge: shared.cfg.challenge,
    }
}

/// Executes a late charge at the end of its hold: records it, saves its answer under its
/// key and sends its event. Nobody is waiting for the answer any more.
fn run_late(shared: &Shared, late: Late, request_id: &str, key: Option<&str>) {
    let chaos = shared.chaos();
    let plan = {
        let mut st = shared.lock();
        st.execute_late(&ctx_now(shared, &chaos), late)
    };
    let Reply::Fresh(answer) = plan.reply else {
        return;
    };
    let meta = plan.event.map(|kind| EventMeta {
        kind,
        seed: chaos.seed,
        request_id,
        idempotency_key: key,
        created: unix_now(),
        nth: plan.event_nth,
    });
    let (rendered, event) = shared.dialect.render(&answer, meta);
    if let Some(k) = plan.save {
        shared.lock().save_answer(&k, &answer, &rendered);
    }
    if let Some(ev) = event {
        // Listed by `GET /v1/events` (and resendable) like the events of answered requests.
        let ev = Arc::new(ev);
        shared.lock().log_event(&answer, &ev, meta.as_ref());
        shared.dispatcher.enqueue(ev);
    }
}

/// Carries out a plan outside the lock: render, enqueue the event, sleep, save, send or drop.
async fn respond(
    shared: &Arc<Shared>,
    plan: Plan,
    seed: u64,
    request_id: &str,
    key: Option<&str>,
    key_header: Option<&HeaderValue>,
) -> Answered {
    let Plan {
        reply,
        latency,
        lost,
        mut save,
        event,
        event_nth,
    } = plan;
    let (rendered, replayed) = match reply {
        // Carried out by `handle`, which holds the connection's reset handle.
        Reply::Reset => return Err(Dropped),
        Reply::Drop => {
            shared.pause(shared.cfg.hold).await;
            return Err(Dropped);
        }
        Reply::Late(late) => {
            // The execution must not depend on this connection: the client has usually hung
            // up long before the hold ends, and hyper may then drop this future.
            let owned = Arc::clone(shared);
            let (request_id, key) = (request_id.to_string(), key.map(str::to_string));
            owned.late_pending.fetch_add(1, Ordering::AcqRel);
            tokio::spawn(async move {
                owned.pause(owned.cfg.hold).await;
                run_late(&owned, *late, &request_id, key.as_deref());
                owned.late_pending.fetch_sub(1, Ordering::AcqRel);
            });
            shared.pause(shared.cfg.hold).await;
            return Err(Dropped);
        }
        Reply::Replay { status, body } => (
            Rendered {
                status,
                body,
                should_retry: None,
            },
            true,
        ),
        Reply::Fresh(answer) => {
            let meta = event.map(|kind| EventMeta {
                kind,
                seed,
                request_id,
                idempotency_key: key,
                created: unix_now(),
                nth: event_nth,
            });
            let (rendered, event) = shared.dialect.render(&answer, meta);
            // With no latency to wait, the answer is saved under its key in the same lock
            // as its event is listed: one acquisition after the decision, not two.
            let save_now = save.take_if(|_| latency.is_zero());
            let event = event.map(Arc::new);
            if event.is_some() || save_now.is_some() {
                let mut st = shared.lock();
                if let Some(ev) = &event {
                    // Listed by `GET /v1/events` before the answer goes out.
                    st.log_event(&answer, ev, meta.as_ref());
                }
                if let Some(k) = save_now {
                    st.save_answer(&k, &answer, &rendered);
                }
            }
            if let Some(ev) = event {
                shared.dispatcher.enqueue(ev);
            }
            (rendered, false)
        }
    };
    // Saved even if the client hangs up during the latency: the charge has happened.
    let guard = save.map(|key| SaveOnDrop {
        shared,
        key,
        status: rendered.status,
        body: rendered.body.clone(),
    });
    shared.pause(latency).await;
    drop(guard);
    if lost {
        shared.pause(shared.cfg.hold).await;
        return Err(Dropped);
    }
    Ok(response(rendered, request_id, replayed, key_header))
}

/// Marks a request's ledger entry as never answered unless disarmed: dropped while the
/// request waited (its client hung up, on its own timeout, during the latency or the hold)
/// or ended without an answer. The verifier must know what the client heard.
struct Unanswered<'a> {
    shared: &'a Shared,
    seq: Option<u64>,
}

impl Unanswered<'_> {
    /// The answer was handed over for sending.
    fn disarm(mut self) {
        self.seq = None;
    }
}

impl Drop for Unanswered<'_> {
    fn drop(&mut self) {
        if let Some(seq) = self.seq {
            self.shared.lock().ledger.mark_unanswered(seq);
        }
    }
}

/// Saves an executed answer under its idempotency key when dropped.
struct SaveOnDrop<'a> {
    shared: &'a Shared,
    key: String,
    status: u16,
    body: Bytes,
}

impl Drop for SaveOnDrop<'_> {
    fn drop(&mut self) {
        let body = std::mem::take(&mut self.body);
        self.shared
            .lock()
            .keys
            .complete(&self.key, self.status, body);
    }
}

fn response(
    r: Rendered,
    request_id: &str,
    replayed: bool,
    key: Option<&HeaderValue>,
) -> Response<Full<Bytes>> {
    let mut resp = Response::new(Full::new(r.body));
    *resp.status_mut() =
        StatusCode::from_u16(r.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let h = resp.headers_mut();
    h.insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    if let Ok(v) = HeaderValue::from_str(request_id) {
        h.insert("request-id", v);
    }
    if let Some(k) = key {
        h.insert("idempotency-key", k.clone());
    }
    if replayed {
        h.insert("idempotent-replayed", HeaderValue::from_static("true"));
    }
    if let Some(retry) = r.should_retry {
        let v = if retry { "true" } else { "false" };
        h.insert("stripe-should-retry", HeaderValue::from_static(v));
    }
    resp
}

fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}
