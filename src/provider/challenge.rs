//! 3D Secure challenges with a redirect: the page the provider serves at
//! `next_action.redirect_to_url.url` (`/_challenge/{intent}` on its API listener), what the
//! customer's verdict does to the intent (passed: the charge executes; failed: back to
//! `requires_payment_method` with `payment_intent_authentication_failure`), the redirect back
//! to the `return_url` with `payment_intent`, `payment_intent_client_secret` and
//! `redirect_status`, and the expiry that cancels an intent left waiting for its customer.
//! The `faults.requires_action` rate sends ordinary cards through the same challenge. The
//! gateway's cashier page is this flow too, in its own words (`dialects::gateway::cashier`).

use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http_body_util::Full;
use hyper::header::{HeaderValue, CACHE_CONTROL, CONTENT_TYPE, LOCATION};
use hyper::{Method, Request, Response, StatusCode};

use crate::domain::{AttemptResult, FailReason, PaymentOp};
use crate::net;
use crate::provider::cards::{self, DeclineCode, TestCard};
use crate::provider::dialects::gateway::cashier;
use crate::provider::dialects::{stripe, Answer, EventKind};
use crate::provider::exec::{Ctx, State};
use crate::provider::ledger::{Draft, Intent, IntentStatus};
use crate::provider::server::{ctx_now, Shared};

/// Where challenge pages are served, on the provider's API listener.
pub const PREFIX: &str = "/_challenge/";

/// The scenario's challenge settings.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct ChallengeConfig {
    /// `faults.requires_action`: the share of orders whose ordinary card needs
    /// authentication (the test cards that need it always do).
    pub requires_action: f64,
    /// `provider.challenge_expiry`: an intent still in `requires_action` this long after its
    /// challenge was shown is canceled (`cancellation_reason = automatic`).
    pub expiry: Duration,
}

/// Stripe leaves an unauthenticated intent open for much longer; a run must see its
/// abandoned challenges end within the drain.
pub const DEFAULT_EXPIRY: Duration = crate::scenario::customers::DEFAULT_CHALLENGE_EXPIRY;

impl Default for ChallengeConfig {
    fn default() -> ChallengeConfig {
        ChallengeConfig {
            requires_action: 0.0,
            expiry: DEFAULT_EXPIRY,
        }
    }
}

/// The card as the charge meets it: an ordinary card of an order the `requires_action` rate
/// picks needs authentication too.
pub(crate) fn forced(ctx: &Ctx, card: TestCard, order: Option<&str>) -> TestCard {
    match order {
        Some(o)
            if card == TestCard::Ordinary
                && ctx.chaos.requires_action(o, ctx.challenge.requires_action) =>
        {
            TestCard::RequiresAction
        }
        _ => card,
    }
}

/// The challenge page of intent `id`.
pub fn url(base: &str, id: &str) -> String {
    format!("{base}{PREFIX}{id}")
}

/// Whether `path` is a challenge page or one of its actions (the gateway's cashier page
/// included).
pub(crate) fn is_challenge_path(path: &str) -> bool {
    path.starts_with(PREFIX) || path.starts_with(crate::gateway::CASHIER_PATH)
}

/// The intent a challenge path names and the action after it (the gateway's cashier path
/// names its trade).
fn parse_path(path: &str) -> (String, Option<&str>) {
    if let Some(found) = cashier::parse_path(path) {
        return found;
    }
    let rest = path.strip_prefix(PREFIX).unwrap_or(path);
    match rest.split_once('/') {
        Some((id, a)) => (id.to_string(), Some(a)),
        None => (rest.to_string(), None),
    }
}

/// What a challenge step did: the intent after it, and the event it created.
#[derive(Debug)]
pub(crate) struct Stepped {
    pub intent: Intent,
    pub event: Option<(EventKind, u32)>,
}

impl State {
    /// The customer's verdict on the challenge of intent `id`: the charge executes (the
    /// card's sticky fate still applies to an ordinary card) or authentication fails.
    /// Recorded as a charge attempt. An intent no longer waiting is left as it is.
    pub(crate) fn finish_challenge(
        &mut self,
        ctx: &Ctx,
        id: &str,
        passed: bool,
    ) -> Option<Stepped> {
        let i = self.ledger.index(id)?;
        let it = self.ledger.at(i);
        if it.status != IntentStatus::RequiresAction {
            return Some(Stepped {
                intent: it.clone(),
                event: None,
            });
        }
        let order = it.order_id().map(str::to_string);
        let ordinary = cards::test_card(it.payment_method.as_deref()) == TestCard::Ordinary;
        let mut e = Draft::new(
            PaymentOp::Charge,
            order.clone(),
            Some(it.id.clone()),
            it.amount,
            it.currency.clone(),
        );
        e.card = crate::domain::card::fingerprint(it.payment_method.as_deref());
        e.attempt = order
            .as_deref()
            .map_or(0, |o| self.ledger.bump(o, PaymentOp::Charge));
        let sticky = order
            .as_deref()
            .filter(|_| ordinary && passed)
            .and_then(|o| ctx.chaos.sticky(o, ctx.at));
        let decline = if passed {
            sticky.map(|kind| {
                let reason = match kind {
                    crate::chaos::FaultKind::RiskBlock => FailReason::RiskBlocked,
                    _ => FailReason::InsufficientFunds,
                };
                (DeclineCode::from_reason(reason), reason)
            })
        } else {
            Some((DeclineCode::AuthenticationFailure, FailReason::Declined))
        };
        let it = self.ledger.settle_card(i, ctx.chaos.seed, decline).clone();
        let (kind, answer) = match decline {
            Some((_, reason)) => {
                e.fault = sticky;
                e.result = AttemptResult::Declined(reason);
                e.declined = Some(reason);
                (
                    EventKind::PaymentFailed,
                    Answer::Declined(Box::new(it.clone())),
                )
            }
            None if it.status == IntentStatus::RequiresCapture => {
                e.result = AttemptResult::Ok;
                let answer = Answer::Intent(Box::new(it.clone()));
                (EventKind::AmountCapturableUpdated, answer)
            }
            None => {
                e.result = AttemptResult::Ok;
                e.money_moved = true;
                (EventKind::Succeeded, Answer::Intent(Box::new(it.clone())))
            }
        };
        e.status = ctx.dialect.status(&answer);
        self.finish(ctx, e, false);
        let nth = self.reserve_event(&it.id, kind);
        Some(Stepped {
            intent: it,
            event: Some((kind, nth)),
        })
    }

    /// Cancels intent `id` if it is still waiting for its customer: recorded as a void that
    /// moves nothing, with a `payment_intent.canceled` event.
    pub(crate) fn expire_challenge(&mut self, ctx: &Ctx, id: &str) -> Option<Stepped> {
        let i = self.ledger.index(id)?;
        if self.ledger.at(i).status != IntentStatus::RequiresAction {
            return None;
        }
        let now = ctx.unix;
        let it = self.ledger.at_mut(i);
        it.status = IntentStatus::Canceled;
        it.canceled_at = Some(now);
        it.cancellation_reason = Some("automatic".into());
        let it = it.clone();
        let order = it.order_id().map(str::to_string);
        let mut e = Draft::new(
            PaymentOp::Refund,
            order.clone(),
            Some(it.id.clone()),
            0,
            it.currency.clone(),
        );
        e.attempt = order
            .as_deref()
            .map_or(0, |o| self.ledger.bump(o, PaymentOp::Refund));
        e.result = AttemptResult::Ok;
        e.status = ctx.dialect.status(&Answer::Intent(Box::new(it.clone())));
        self.finish(ctx, e, false);
        let nth = self.reserve_event(&it.id, EventKind::Canceled);
        Some(Stepped {
            intent: it,
            event: Some((EventKind::Canceled, nth)),
        })
    }
}

/// Starts the expiry of intent `id`'s challenge. Counted as pending until it has run, so a
/// run's drain waits for abandoned challenges to end; shutdown cuts it short.
pub(crate) fn schedule_expiry(shared: &Arc<Shared>, id: String) {
    let owned = Arc::clone(shared);
    owned.challenges_pending.fetch_add(1, Ordering::AcqRel);
    tokio::spawn(async move {
        let expiry = owned.cfg.challenge.expiry;
        tokio::select! {
            _ = tokio::time::sleep(expiry) => {
                let chaos = owned.chaos();
                let stepped = {
                    let mut st = owned.lock();
                    st.expire_challenge(&ctx_now(&owned, &chaos), &id)
                };
                if let Some(s) = stepped {
                    owned.emit(&s, chaos.seed);
                }
            }
            _ = owned.shutdown.cancelled() => {}
        }
        owned.challenges_pending.fetch_sub(1, Ordering::AcqRel);
    });
}

/// Serves a challenge path: `GET /_challenge/{id}` shows the page; `GET` or `POST` of
/// `/_challenge/{id}/complete` or `/fail` carries out the customer's verdict, then sends the
/// browser back to the intent's `return_url` (303).
pub(crate) fn serve(shared: &Arc<Shared>, req: &Request<net::Body>) -> Response<Full<Bytes>> {
    let (id, action) = parse_path(req.uri().path());
    let id = id.as_str();
    let get = req.method() == Method::GET;
    let post = req.method() == Method::POST;
    let passed = match action {
        None if get => return page(shared, id),
        Some("complete") if get || post => true,
        Some("fail") if get || post => false,
        _ => {
            return html(
                StatusCode::NOT_FOUND,
                "<p>No such challenge page.</p>".into(),
            )
        }
    };
    let chaos = shared.chaos();
    let stepped = {
        let mut st = shared.lock();
        st.finish_challenge(&ctx_now(shared, &chaos), id, passed)
    };
    let Some(s) = stepped else {
        return html(StatusCode::NOT_FOUND, format!("<p>No payment {id}.</p>"));
    };
    shared.emit(&s, chaos.seed);
    let dialect = crate::provider::dialects::of(shared.cfg.dialect);
    match dialect.return_location(&s.intent, &shared.cfg.webhook_secret) {
        Some(location) => {
            let mut resp = html(StatusCode::SEE_OTHER, String::new());
            if let Ok(v) = HeaderValue::from_str(&location) {
                resp.headers_mut().insert(LOCATION, v);
            }
            resp
        }
        None => html(
            StatusCode::OK,
            format!("<p>Payment {id}: {}.</p>", s.intent.status.as_str()),
        ),
    }
}

/// `redirect_status` as Stripe sets it: `succeeded` once the money moved (or is
/// authorised), `failed` otherwise.
fn redirect_status(it: &Intent) -> &'static str {
    match it.status {
        IntentStatus::Succeeded | IntentStatus::RequiresCapture => "succeeded",
        _ => "failed",
    }
}

/// `return_url` with the intent's id, client secret and `redirect_status` appended.
pub(crate) fn return_location(it: &Intent) -> Option<String> {
    let back = it.return_url.as_deref()?;
    let sep = if back.contains('?') { '&' } else { '?' };
    Some(format!(
        "{back}{sep}payment_intent={}&payment_intent_client_secret={}&redirect_status={}",
        it.id,
        stripe::client_secret(&it.id),
        redirect_status(it)
    ))
}

/// The challenge page: the amount and two links, as a bank's authentication page offers.
fn page(shared: &Shared, id: &str) -> Response<Full<Bytes>> {
    let found = shared.lock().ledger.intent(id).cloned();
    let Some(it) = found else {
        return html(StatusCode::NOT_FOUND, format!("<p>No payment {id}.</p>"));
    };
    if it.status != IntentStatus::RequiresAction {
        let body = format!("<p>Payment {id} is {}.</p>", it.status.as_str());
        return html(StatusCode::GONE, body);
    }
    if shared.cfg.dialect == crate::scenario::Dialect::Gateway {
        return html(StatusCode::OK, cashier::page_body(&it));
    }
    let body = format!(
        "<h1>Authenticate your payment</h1><p>{} {} to the merchant.</p>\
         <form method=\"post\" action=\"{PREFIX}{id}/complete\"><button>Complete authentication</button></form>\
         <form method=\"post\" action=\"{PREFIX}{id}/fail\"><button>Fail authentication</button></form>",
        it.amount,
        it.currency.to_uppercase()
    );
    html(StatusCode::OK, body)
}

fn html(status: StatusCode, body: String) -> Response<Full<Bytes>> {
    let page = format!("<!doctype html><title>3D Secure</title>{body}");
    let mut resp = Response::new(Full::new(Bytes::from(page)));
    *resp.status_mut() = status;
    let h = resp.headers_mut();
    h.insert(
        CONTENT_TYPE,
        HeaderValue::from_static("text/html; charset=utf-8"),
    );
    h.insert(CACHE_CONTROL, HeaderValue::from_static("no-store"));
    resp
}

#[cfg(test)]
mod tests;
