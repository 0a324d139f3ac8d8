//! Provider API shapes. A dialect routes and decodes wire requests into neutral [`Call`]s,
//! and renders neutral [`Answer`]s and events in its provider's wire format; the ledger and
//! the idempotency store never see the wire. One folder per dialect (`stripe/`,
//! `gateway/`); the functions here dispatch on [`Dialect`].

pub mod gateway;
pub mod stripe;

use std::collections::BTreeMap;

use bytes::Bytes;
use hyper::Method;

use crate::domain::{Amount, PaymentOp};
use crate::provider::charges::Charge;
use crate::provider::events::{EventPage, EventQuery};
use crate::provider::form::FormError;
use crate::provider::idempotency::Fingerprint;
use crate::provider::ledger::{Intent, IntentStatus, Refund};
use crate::provider::webhooks::Event;
use crate::scenario::Dialect;

/// Which operation a request URL names.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Route {
    CreateIntent,
    ConfirmIntent(String),
    RetrieveIntent(String),
    SearchIntents,
    CreateRefund,
    UpdateIntent(String),
    CaptureIntent(String),
    CancelIntent(String),
    RetrieveCharge(String),
    ListEvents,
    RetrieveEvent(String),
    /// The gateway's `POST /gateway/pay`.
    GatewayPay,
    /// The gateway's `GET /gateway/query`.
    GatewayQuery,
    /// The gateway's `POST /gateway/refund`.
    GatewayRefund,
}

impl Route {
    /// The ledger operation this route records as (creating without confirming is a Charge
    /// that moves no money; a capture is the Charge that moves it; a cancel is recorded as a
    /// void, a Refund that moves no money; an update as a Query, as it moves none either).
    pub fn op(&self) -> PaymentOp {
        match self {
            Route::CreateIntent
            | Route::ConfirmIntent(_)
            | Route::CaptureIntent(_)
            | Route::GatewayPay => PaymentOp::Charge,
            Route::RetrieveIntent(_)
            | Route::SearchIntents
            | Route::GatewayQuery
            | Route::UpdateIntent(_)
            | Route::RetrieveCharge(_)
            | Route::ListEvents
            | Route::RetrieveEvent(_) => PaymentOp::Query,
            Route::CreateRefund | Route::CancelIntent(_) | Route::GatewayRefund => {
                PaymentOp::Refund
            }
        }
    }

    /// Whether the route changes state, so idempotency keys apply (reads ignore them).
    pub fn is_write(&self) -> bool {
        !matches!(
            self,
            Route::RetrieveIntent(_)
                | Route::SearchIntents
                | Route::RetrieveCharge(_)
                | Route::ListEvents
                | Route::RetrieveEvent(_)
                | Route::GatewayQuery
        )
    }
}

/// A payment intent to create.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct NewIntent {
    pub amount: Amount,
    pub currency: String,
    pub payment_method: Option<String>,
    /// Confirm at once (charge); only set together with a payment method.
    pub confirm: bool,
    pub metadata: BTreeMap<String, String>,
    pub capture_method: Option<String>,
    pub description: Option<String>,
    pub customer: Option<String>,
    pub payment_method_types: Vec<String>,
}

/// Changes to an intent (`None`: unchanged).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct IntentUpdate {
    pub amount: Option<Amount>,
    pub currency: Option<String>,
    pub payment_method: Option<String>,
    pub capture_method: Option<String>,
    pub description: Option<String>,
    pub customer: Option<String>,
    pub metadata: MetadataPatch,
}

impl IntentUpdate {
    /// Whether the update touches what may only change before confirmation.
    pub fn changes_payment(&self) -> bool {
        self.amount.is_some()
            || self.currency.is_some()
            || self.payment_method.is_some()
            || self.capture_method.is_some()
            || self.customer.is_some()
    }
}

/// How an update changes metadata: `metadata=` clears it, `metadata[k]=` unsets `k`,
/// `metadata[k]=v` sets it; other keys are kept.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct MetadataPatch {
    pub clear: bool,
    /// `None` unsets the key.
    pub set: BTreeMap<String, Option<String>>,
}

impl MetadataPatch {
    /// Applies the patch to `metadata`.
    pub fn apply(&self, metadata: &mut BTreeMap<String, String>) {
        if self.clear {
            metadata.clear();
        }
        for (k, v) in &self.set {
            match v {
                Some(v) => metadata.insert(k.clone(), v.clone()),
                None => metadata.remove(k),
            };
        }
    }
}

/// A refund to create.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct NewRefund {
    /// The intent to refund; empty when only `charge` names it (exec resolves it).
    pub payment_intent: String,
    /// The charge to refund, when named instead of (or besides) the intent.
    pub charge: Option<String>,
    /// `None`: whatever is left.
    pub amount: Option<Amount>,
    pub reason: Option<String>,
    pub metadata: BTreeMap<String, String>,
}

/// A decoded request, whatever the dialect.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Call {
    CreateIntent(NewIntent),
    ConfirmIntent {
        id: String,
        payment_method: Option<String>,
    },
    RetrieveIntent {
        id: String,
    },
    /// Intents whose `metadata[key]` equals `value`.
    SearchIntents {
        key: String,
        value: String,
    },
    CreateRefund(NewRefund),
    UpdateIntent {
        id: String,
        update: IntentUpdate,
    },
    CaptureIntent {
        id: String,
        /// `None`: all that is capturable.
        amount_to_capture: Option<Amount>,
    },
    CancelIntent {
        id: String,
        reason: Option<String>,
    },
    RetrieveCharge {
        id: String,
    },
    ListEvents(EventQuery),
    RetrieveEvent {
        id: String,
    },
    /// A charge by the merchant's natural key, `metadata[order_id]` (the gateway's
    /// `out_trade_no`): the order's trade is paid again if a soft decline left it open,
    /// answered as it stands if it is settled, created and paid if there is none.
    Pay(NewIntent),
}

/// A decoded request with the fingerprint its idempotency key is checked against.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Decoded {
    pub call: Call,
    pub fingerprint: Fingerprint,
    /// The endpoint path, as idempotency keys are scoped to it.
    pub endpoint: String,
    /// Fields to expand in the answer (`expand[]=latest_charge`).
    pub expand: Vec<String>,
    /// An idempotency key carried by the request itself (the gateway's refund
    /// `out_request_no`); an `Idempotency-Key` header wins over it.
    pub key: Option<String>,
}

/// A refused request, in neutral terms; the dialect words it.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ApiError {
    #[error("no api key: expected header 'Authorization: Bearer sk_test_…'")]
    MissingApiKey,
    #[error("malformed authorization header '{header}': expected 'Bearer sk_test_…'")]
    InvalidApiKey { header: String },
    #[error("unrecognized request url {method} {path}")]
    UnknownRoute { method: String, path: String },
    #[error("request body larger than {limit} bytes")]
    BodyTooLarge { limit: usize },
    #[error("form: {0}")]
    Form(#[from] FormError),
    #[error("missing required parameter '{param}'")]
    MissingParam { param: String },
    #[error("invalid parameter '{param}': expected {expected}, got '{got}'")]
    InvalidParam {
        param: String,
        expected: &'static str,
        got: String,
    },
    #[error("idempotency key of {len} characters: at most 255 are accepted")]
    KeyTooLong { len: usize },
    #[error("no such payment intent '{id}'")]
    NoSuchIntent { id: String },
    #[error("no such {object} '{id}'")]
    NoSuchObject {
        object: &'static str,
        id: String,
        /// The parameter that named it; `None` when the URL did.
        param: Option<&'static str>,
    },
    #[error("parameters '{first}' and '{second}' cannot be given together")]
    ExclusiveParams {
        first: &'static str,
        second: &'static str,
    },
    #[error("capture of {amount} exceeds the {capturable} capturable")]
    CaptureTooLarge { amount: Amount, capturable: Amount },
    #[error("parameter '{param}' names no known payment intent: '{id}'")]
    UnknownIntentParam { param: String, id: String },
    #[error("cannot {action} payment intent '{id}' in status {status:?}")]
    UnexpectedState {
        id: String,
        status: IntentStatus,
        action: &'static str,
    },
    #[error("payment intent '{id}' is already fully refunded")]
    AlreadyRefunded { id: String },
    #[error("refund of {amount} exceeds the {remaining} left to refund")]
    RefundTooLarge { amount: Amount, remaining: Amount },
    #[error("idempotency key '{key}' was first used with other parameters")]
    IdempotencyParams { key: String },
    #[error("idempotency key '{key}' was first used on {first}, not {now}")]
    IdempotencyEndpoint {
        key: String,
        first: String,
        now: String,
    },
    #[error("idempotency key '{key}' is in use by a request still executing")]
    KeyInUse { key: String },
    #[error("injected server error")]
    ServerError,
    #[error("injected rate limit")]
    RateLimited,
}

/// What the provider answers, in neutral terms.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Answer {
    /// The intent as it stands (created, retrieved, charged). Boxed: it dwarfs the rest.
    Intent(Box<Intent>),
    /// The charge was declined; the intent carries the decline in `last_error`.
    Declined(Box<Intent>),
    Search(Vec<Intent>),
    Refund(Refund),
    Error(ApiError),
    /// An intent with its latest charge expanded in place of the charge id.
    IntentWithCharge(Box<Intent>, Box<Charge>),
    Charge(Box<Charge>),
    /// A page of the event list.
    Events(EventPage),
    /// One event as rendered when it was created.
    Event(Bytes),
}

impl Answer {
    /// The intent the answer shows, if any.
    pub fn intent(&self) -> Option<&Intent> {
        match self {
            Answer::Intent(it) | Answer::Declined(it) | Answer::IntentWithCharge(it, _) => Some(it),
            _ => None,
        }
    }
}

/// Which event an execution creates.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum EventKind {
    Succeeded,
    PaymentFailed,
    /// The card needs authentication.
    RequiresAction,
    /// Authorised for a manual capture.
    AmountCapturableUpdated,
    Canceled,
}

/// What an event records about the request that caused it.
#[derive(Clone, Debug)]
pub struct EventMeta<'a> {
    pub kind: EventKind,
    pub seed: u64,
    pub request_id: &'a str,
    pub idempotency_key: Option<&'a str>,
    /// Unix seconds.
    pub created: u64,
    /// Events of this kind for this intent before this one (0 for the first): a repeat
    /// gets an id of its own.
    pub nth: u32,
}

/// An answer on the wire.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Rendered {
    pub status: u16,
    pub body: Bytes,
    /// A hint for the client's retry logic (`Stripe-Should-Retry`), when the dialect has one.
    pub should_retry: Option<bool>,
}

/// The operation `method path` names, if the dialect knows it.
pub fn route(dialect: Dialect, method: &Method, path: &str) -> Option<Route> {
    match dialect {
        Dialect::Stripe => stripe::route(method, path),
        Dialect::Gateway => gateway::route(method, path),
    }
}

/// Decodes a routed request's query string and body; `secret` checks the gateway's
/// request signatures (Stripe authenticates by API key instead).
pub fn decode(
    dialect: Dialect,
    route: &Route,
    path: &str,
    query: Option<&str>,
    body: &[u8],
    secret: &str,
) -> Result<Decoded, ApiError> {
    match dialect {
        Dialect::Stripe => stripe::decode(route, path, query, body),
        Dialect::Gateway => gateway::decode(route, path, query, body, secret),
    }
}

/// The HTTP status `answer` is sent with.
pub fn status(dialect: Dialect, answer: &Answer) -> u16 {
    match dialect {
        Dialect::Stripe => stripe::status(answer),
        Dialect::Gateway => gateway::status(answer),
    }
}

/// Renders `answer`, and the event it creates when `event` says so (its `data.object`
/// shares the rendering of the intent).
pub fn render(
    dialect: Dialect,
    answer: &Answer,
    event: Option<EventMeta<'_>>,
) -> (Rendered, Option<Event>) {
    match dialect {
        Dialect::Stripe => stripe::render(answer, event),
        Dialect::Gateway => gateway::render(answer, event),
    }
}
