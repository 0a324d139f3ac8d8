//! Provider API shapes. A dialect routes and decodes wire requests into neutral [`Call`]s,
//! and renders neutral [`Answer`]s and events in its provider's wire format; the ledger and
//! the idempotency store never see the wire. One folder per dialect (`stripe/`,
//! `gateway/`), each implementing the [`Dialect`] trait; [`of`] picks one.

pub mod gateway;
pub mod stripe;

use std::collections::BTreeMap;

use bytes::Bytes;
use hyper::header::{HeaderMap, HeaderValue};
use hyper::Method;

use crate::domain::card::RawCard;
use crate::domain::{Amount, PaymentOp};
use crate::provider::charges::Charge;
use crate::provider::events::{EventPage, EventQuery};
use crate::provider::form::FormError;
use crate::provider::idempotency::Fingerprint;
use crate::provider::ledger::{Intent, IntentStatus, Refund};
use crate::provider::webhooks::Event;
use crate::scenario::Dialect as ScenarioDialect;

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
    /// Stripe's `POST /v1/payment_methods` (a card from its raw number).
    CreatePaymentMethod,
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
            | Route::RetrieveEvent(_)
            | Route::CreatePaymentMethod => PaymentOp::Query,
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
    /// The request paid with a raw card number (`payment_method` is then the test payment
    /// method the number behaves as).
    pub card: Option<RawCard>,
    /// Where the customer's browser goes back after a redirect (a 3D Secure challenge).
    pub return_url: Option<String>,
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
    pub fn apply(&self, metadata: &mut crate::provider::metadata::Metadata) {
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
        /// As [`NewIntent::card`].
        card: Option<RawCard>,
        /// As [`NewIntent::return_url`].
        return_url: Option<String>,
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
    /// A payment method from a raw card number: it behaves as `payment_method`.
    CreatePaymentMethod {
        payment_method: String,
        card: RawCard,
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
    /// Shed at the provider's in-flight cap, before the request was read.
    #[error(
        "provider overloaded: {cap} requests in flight, the most it serves at once; retry later"
    )]
    Overloaded { cap: usize },
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
    /// A payment method created from a raw card number.
    PaymentMethod(Box<crate::provider::payment_methods::PaymentMethod>),
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
#[derive(Clone, Copy, Debug)]
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

/// One provider API shape, as the server and `exec` use it: route, authenticate and key a
/// request, decode it into a [`Call`], and put neutral answers back on its wire.
///
/// The provider maps the scenario's [`ScenarioDialect`] to its implementation once ([`of`]);
/// the implementations are unit structs behind a `&'static dyn Dialect`, so the request
/// path neither allocates nor matches on the dialect, and a new shape is one more folder
/// here and one arm in [`of`]. A virtual call per step costs nothing next to decoding and
/// rendering JSON.
pub trait Dialect: Send + Sync + std::fmt::Debug {
    /// The operation `method path` names, if the dialect serves it.
    fn route(&self, method: &Method, path: &str) -> Option<Route>;

    /// Checks the request's credentials from its headers, before routing.
    fn authenticate(&self, headers: &HeaderMap) -> Result<(), ApiError>;

    /// The header carrying the request's idempotency key, when `route` takes one there
    /// (the server checks its form and echoes it back).
    fn idempotency_key<'h>(&self, route: &Route, headers: &'h HeaderMap)
        -> Option<&'h HeaderValue>;

    /// Decodes a routed request's query string and body; `secret` checks request
    /// signatures where the dialect signs its requests.
    fn decode(
        &self,
        route: &Route,
        path: &str,
        query: Option<&str>,
        body: &[u8],
        secret: &str,
    ) -> Result<Decoded, ApiError>;

    /// Renders `answer`, and the event it creates when `event` says so (its `data.object`
    /// shares the rendering of the intent).
    fn render(&self, answer: &Answer, event: Option<EventMeta<'_>>) -> (Rendered, Option<Event>);

    /// The HTTP status `answer` is sent with.
    fn status(&self, answer: &Answer) -> u16;

    /// The name of an event kind when the dialect's events are rendered from their intent
    /// alone, byte for byte the same each time (so the provider may keep the intent's
    /// version instead of the bytes); `None` when they are not.
    fn rerendered_event_type(&self, _kind: EventKind) -> Option<&'static str> {
        None
    }

    /// The page the customer of intent `it`, held for them (`requires_action`), is sent to;
    /// `None` when there is none to serve. Stripe's: the 3D Secure challenge, only with a
    /// `return_url` (without one, Stripe.js would handle it).
    fn challenge_url(&self, base: &str, it: &Intent) -> Option<String> {
        it.return_url
            .is_some()
            .then(|| crate::provider::challenge::url(base, &it.id))
    }

    /// Where the browser goes once the customer's verdict is in: `return_url` with what the
    /// dialect appends (Stripe: the intent, its client secret and `redirect_status`; the
    /// gateway: signed trade parameters, keyed with `secret`).
    fn return_location(&self, it: &Intent, _secret: &str) -> Option<String> {
        crate::provider::challenge::return_location(it)
    }
}

/// The implementation of the scenario's dialect.
pub fn of(dialect: ScenarioDialect) -> &'static dyn Dialect {
    match dialect {
        ScenarioDialect::Stripe => &stripe::Stripe,
        ScenarioDialect::Gateway => &gateway::Gateway,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&'static str, &'static str)]) -> HeaderMap {
        pairs
            .iter()
            .map(|(k, v)| (k.parse().unwrap(), HeaderValue::from_static(v)))
            .collect()
    }

    #[test]
    fn stripe_wants_a_non_empty_api_key_and_the_gateway_none() {
        let stripe = of(ScenarioDialect::Stripe);
        let gateway = of(ScenarioDialect::Gateway);
        for (case, h, want) in [
            ("no header", headers(&[]), Err(ApiError::MissingApiKey)),
            (
                "empty bearer",
                headers(&[("authorization", "Bearer  ")]),
                Err(ApiError::InvalidApiKey {
                    header: "Bearer  ".into(),
                }),
            ),
            (
                "other scheme",
                headers(&[("authorization", "sk_test_1")]),
                Err(ApiError::InvalidApiKey {
                    header: "sk_test_1".into(),
                }),
            ),
            (
                "bearer",
                headers(&[("authorization", "Bearer sk_test_1")]),
                Ok(()),
            ),
            (
                "basic",
                headers(&[("authorization", "Basic sk_test_1:")]),
                Ok(()),
            ),
        ] {
            assert_eq!(stripe.authenticate(&h), want, "stripe, {case}");
            assert_eq!(gateway.authenticate(&h), Ok(()), "gateway, {case}");
        }
    }

    #[test]
    fn stripe_reads_the_key_header_on_writes_only_and_the_gateway_never() {
        let h = headers(&[("idempotency-key", "k1")]);
        let stripe = of(ScenarioDialect::Stripe);
        let gateway = of(ScenarioDialect::Gateway);
        for (route, write) in [
            (Route::CreateIntent, true),
            (Route::CaptureIntent("pi_1".into()), true),
            (Route::RetrieveIntent("pi_1".into()), false),
            (Route::ListEvents, false),
        ] {
            let got = stripe.idempotency_key(&route, &h).map(|v| v.as_bytes());
            assert_eq!(got, write.then_some(&b"k1"[..]), "stripe, {route:?}");
        }
        for route in [Route::GatewayPay, Route::GatewayRefund, Route::GatewayQuery] {
            assert!(
                gateway.idempotency_key(&route, &h).is_none(),
                "gateway, {route:?}"
            );
        }
    }
}
