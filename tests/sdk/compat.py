"""stripe-python 16.x against a running paychaos provider (started by tests/sdk/run.sh).

Each check prints `ok - NAME` or `not ok - NAME: why`; the last line is `N passed, M failed`
and the exit code is 1 when any check failed. Environment: PAYCHAOS_URL (the provider's base
URL), PAYCHAOS_WEBHOOK_SECRET, PAYCHAOS_SINK (folder of captured webhook deliveries),
PAYCHAOS_ORDERS (JSON from examples/sdk_orders.rs: order ids meeting one fault on attempt 0).
"""

import glob
import json
import os
import sys
import time
import traceback
import urllib.error
import urllib.parse
import urllib.request

import stripe

URL = os.environ["PAYCHAOS_URL"]
SECRET = os.environ["PAYCHAOS_WEBHOOK_SECRET"]
SINK = os.environ["PAYCHAOS_SINK"]
ORDERS = json.loads(os.environ["PAYCHAOS_ORDERS"])["sdk-py-"]
API_KEY = "sk_test_paychaos_sdk"

CHECKS = []


def check(fn):
    CHECKS.append(fn)
    return fn


def expect(cond, what):
    if not cond:
        raise AssertionError(what)


def expect_eq(got, want, what):
    if got != want:
        raise AssertionError(f"{what}: got {got!r}, want {want!r}")


class Recording(stripe.RequestsClient):
    """Sees every attempt the SDK makes, retries included: (Idempotency-Key, status)."""

    def __init__(self):
        super().__init__()
        self.attempts = []

    def request(self, method, url, headers, post_data=None):
        key = (headers or {}).get("Idempotency-Key")
        try:
            body, status, rheaders = super().request(method, url, headers, post_data)
        except stripe.APIConnectionError:
            self.attempts.append((key, "connection error"))
            raise
        self.attempts.append((key, status))
        return body, status, rheaders


def client(retries=0, http=None):
    return stripe.StripeClient(
        API_KEY,
        base_addresses={"api": URL},
        max_network_retries=retries,
        http_client=http,
    )


def header(obj, name):
    return obj.last_response.headers.get(name)


def card(pm, **extra):
    params = {
        "amount": 1000,
        "currency": "usd",
        "payment_method": pm,
        "confirm": True,
        "automatic_payment_methods": {"enabled": True, "allow_redirects": "never"},
    }
    params.update(extra)
    return params


def card_error(params):
    try:
        client().v1.payment_intents.create(params)
    except stripe.CardError as e:
        return e
    raise AssertionError(f"no CardError for {params['payment_method']}")


STATE = {}


@check
def create_and_confirm_succeeds_with_expanded_charge():
    c = client()
    pi = c.v1.payment_intents.create(
        card("pm_card_visa", metadata={"note": "sdk"}, expand=["latest_charge"])
    )
    expect(isinstance(pi, stripe.PaymentIntent), f"a PaymentIntent, got {type(pi)}")
    expect_eq(pi.status, "succeeded", "status")
    expect_eq(pi.amount_received, 1000, "amount_received")
    expect_eq(pi.metadata["note"], "sdk", "metadata")
    expect_eq(pi.latest_charge.object, "charge", "expanded latest_charge")
    expect_eq(pi.latest_charge.outcome.type, "authorized", "charge outcome")
    expect(header(pi, "Request-Id").startswith("req_"), "Request-Id header")
    expect(header(pi, "Idempotent-Replayed") is None, "a fresh answer")
    got = c.v1.payment_intents.retrieve(pi.id)
    expect_eq(got.status, "succeeded", "retrieved status")
    STATE["paid"] = pi


@check
def create_without_confirm_then_update_and_confirm():
    c = client()
    pi = c.v1.payment_intents.create({"amount": 500, "currency": "usd"})
    expect_eq(pi.status, "requires_payment_method", "created without a method")
    pi = c.v1.payment_intents.update(
        pi.id, {"amount": 700, "metadata": {"step": "updated"}}
    )
    expect_eq((pi.amount, pi.metadata["step"]), (700, "updated"), "updated fields")
    pi = c.v1.payment_intents.update(pi.id, {"payment_method": "pm_card_mastercard"})
    expect_eq(pi.status, "requires_confirmation", "status with a method")
    pi = c.v1.payment_intents.confirm(pi.id)
    expect_eq((pi.status, pi.amount_received), ("succeeded", 700), "confirmed")
    try:
        c.v1.payment_intents.update(pi.id, {"amount": 900})
        raise AssertionError("amount updated after success")
    except stripe.InvalidRequestError as e:
        expect_eq(e.code, "payment_intent_unexpected_state", "error code")


@check
def insufficient_funds_raises_card_error():
    e = card_error(card("pm_card_chargeDeclinedInsufficientFunds"))
    expect_eq(e.http_status, 402, "status")
    expect_eq(e.code, "card_declined", "code")
    expect_eq(e.error.decline_code, "insufficient_funds", "decline_code")
    expect_eq(e.user_message, "Your card has insufficient funds.", "message")
    expect_eq(e.error.payment_intent.status, "requires_payment_method", "intent status")
    expect(e.request_id.startswith("req_"), "request id on the error")
    expect_eq(e.headers.get("Stripe-Should-Retry"), "false", "Stripe-Should-Retry")


@check
def radar_block_raises_fraudulent_and_the_charge_is_blocked():
    e = card_error(card("pm_card_radarBlock"))
    expect_eq(e.error.decline_code, "fraudulent", "decline_code")
    charge = client().v1.charges.retrieve(e.error.payment_intent.latest_charge)
    expect(isinstance(charge, stripe.Charge), "a Charge")
    expect_eq(charge.outcome.type, "blocked", "outcome.type")
    expect_eq((charge.status, charge.paid), ("failed", False), "charge status")


@check
def other_test_cards_decline_or_require_action_as_stripe():
    for pm, code, decline in [
        ("pm_card_chargeDeclined", "card_declined", "generic_decline"),
        ("pm_card_visa_chargeDeclined", "card_declined", "generic_decline"),
        ("pm_card_chargeDeclinedExpiredCard", "expired_card", "expired_card"),
        ("pm_card_chargeDeclinedIncorrectCvc", "incorrect_cvc", "incorrect_cvc"),
        ("pm_card_chargeDeclinedProcessingError", "processing_error", "processing_error"),
    ]:
        e = card_error(card(pm))
        expect_eq((e.code, e.error.decline_code), (code, decline), pm)
    pi = client().v1.payment_intents.create(card("pm_card_threeDSecure2Required"))
    expect_eq(pi.status, "requires_action", "3DS status")
    expect_eq(pi.next_action.type, "use_stripe_sdk", "next_action")


class NoRedirect(urllib.request.HTTPRedirectHandler):
    """A browser that stops at the redirect, to read where it points."""

    def redirect_request(self, *args, **kwargs):
        return None


def through_challenge(pi, verdict):
    """Loads the challenge page, posts the verdict; the redirect's status and Location."""
    url = pi.next_action.redirect_to_url.url
    with urllib.request.urlopen(url) as page:
        expect_eq(page.status, 200, "challenge page")
    req = urllib.request.Request(f"{url}/{verdict}", data=b"", method="POST")
    try:
        urllib.request.build_opener(NoRedirect).open(req)
    except urllib.error.HTTPError as e:
        return e.code, e.headers["Location"]
    raise AssertionError("the verdict did not redirect")


@check
def confirm_with_return_url_redirects_to_the_challenge_and_back():
    c = client()
    back = "http://127.0.0.1:9/return?order=sdk-py"
    # Create and confirm at once, then pass the challenge.
    pi = c.v1.payment_intents.create(
        {
            "amount": 1000,
            "currency": "usd",
            "payment_method": "pm_card_threeDSecure2Required",
            "confirm": True,
            "return_url": back,
        }
    )
    expect_eq(pi.status, "requires_action", "status")
    expect_eq(pi.next_action.type, "redirect_to_url", "next_action.type")
    expect_eq(pi.next_action.redirect_to_url.return_url, back, "return_url")
    code, location = through_challenge(pi, "complete")
    expect_eq(code, 303, "redirect status")
    q = urllib.parse.parse_qs(urllib.parse.urlparse(location).query)
    expect(location.startswith(back + "&"), f"location {location}")
    expect_eq(q["payment_intent"], [pi.id], "payment_intent")
    expect_eq(q["payment_intent_client_secret"], [pi.client_secret], "client secret")
    expect_eq(q["redirect_status"], ["succeeded"], "redirect_status")
    expect_eq(c.v1.payment_intents.retrieve(pi.id).status, "succeeded", "after passing")
    # Create, then confirm with the return_url, then fail the challenge.
    pi = c.v1.payment_intents.create({"amount": 1000, "currency": "usd"})
    pi = c.v1.payment_intents.confirm(
        pi.id, {"payment_method": "pm_card_authenticationRequired", "return_url": back}
    )
    expect_eq(pi.next_action.type, "redirect_to_url", "confirm next_action.type")
    code, location = through_challenge(pi, "fail")
    expect(location.endswith("redirect_status=failed"), f"location {location}")
    got = c.v1.payment_intents.retrieve(pi.id)
    expect_eq(got.status, "requires_payment_method", "after failing")
    expect_eq(
        got.last_payment_error.code, "payment_intent_authentication_failure", "error code"
    )


@check
def manual_capture_moves_the_money_at_capture():
    c = client()
    pi = c.v1.payment_intents.create(card("pm_card_visa", capture_method="manual"))
    expect_eq((pi.status, pi.amount_capturable), ("requires_capture", 1000), "authorised")
    try:
        c.v1.payment_intents.capture(pi.id, {"amount_to_capture": 1001})
        raise AssertionError("captured more than authorised")
    except stripe.InvalidRequestError as e:
        expect_eq(e.code, "amount_too_large", "over-capture code")
    pi = c.v1.payment_intents.capture(pi.id, {"amount_to_capture": 600})
    expect_eq((pi.status, pi.amount_received), ("succeeded", 600), "captured")
    charge = c.v1.charges.retrieve(pi.latest_charge)
    expect_eq((charge.captured, charge.amount_captured), (True, 600), "charge captured")
    try:
        c.v1.refunds.create({"payment_intent": pi.id, "amount": 601})
        raise AssertionError("refunded more than captured")
    except stripe.InvalidRequestError as e:
        expect_eq(e.code, "amount_too_large", "refund > captured")


@check
def cancel_and_the_unexpected_state_error():
    c = client()
    pi = c.v1.payment_intents.create(
        {"amount": 300, "currency": "usd", "payment_method": "pm_card_visa"}
    )
    pi = c.v1.payment_intents.cancel(pi.id, {"cancellation_reason": "requested_by_customer"})
    expect_eq((pi.status, pi.cancellation_reason), ("canceled", "requested_by_customer"), "canceled")
    try:
        c.v1.payment_intents.cancel(STATE["paid"].id)
        raise AssertionError("a succeeded intent was canceled")
    except stripe.InvalidRequestError as e:
        expect_eq(e.http_status, 400, "status")
        expect_eq(e.code, "payment_intent_unexpected_state", "code")
        expect("status of succeeded" in e.user_message, f"message: {e.user_message}")


@check
def refunds_full_partial_and_too_large():
    c = client()
    pi = c.v1.payment_intents.create(card("pm_card_visa"))
    part = c.v1.refunds.create({"payment_intent": pi.id, "amount": 400})
    expect(isinstance(part, stripe.Refund), "a Refund")
    expect_eq((part.amount, part.status), (400, "succeeded"), "partial refund")
    try:
        c.v1.refunds.create({"payment_intent": pi.id, "amount": 601})
        raise AssertionError("over-refund accepted")
    except stripe.InvalidRequestError as e:
        expect_eq(e.code, "amount_too_large", "code")
    rest = c.v1.refunds.create({"charge": pi.latest_charge})
    expect_eq((rest.amount, rest.payment_intent), (600, pi.id), "refund of the rest by charge")
    charge = c.v1.charges.retrieve(pi.latest_charge)
    expect_eq((charge.amount_refunded, charge.refunded), (1000, True), "charge refunded")


@check
def retry_after_an_injected_500_reuses_the_key_then_replays():
    order = ORDERS["server_error"]
    key = f"{order}:charge"
    params = card("pm_card_visa", metadata={"order_id": order})
    http = Recording()
    pi = client(retries=2, http=http).v1.payment_intents.create(
        params, {"idempotency_key": key}
    )
    expect_eq(http.attempts, [(key, 500), (key, 200)], "attempts (key, status)")
    expect_eq(pi.status, "succeeded", "status after the retry")
    # The injected 500 comes before the idempotency layer: nothing was saved, so the
    # SDK's retry executed; a later request with the key gets the saved answer.
    expect(header(pi, "Idempotent-Replayed") is None, "the retry executed fresh")
    again = client().v1.payment_intents.create(params, {"idempotency_key": key})
    expect_eq(again.id, pi.id, "same intent")
    expect_eq(header(again, "Idempotent-Replayed"), "true", "Idempotent-Replayed")


@check
def retry_after_a_lost_answer_gets_the_replay():
    order = ORDERS["answer_lost"]
    http = Recording()
    pi = client(retries=2, http=http).v1.payment_intents.create(
        card("pm_card_visa", metadata={"order_id": order})
    )
    keys = {k for k, _ in http.attempts}
    expect_eq([s for _, s in http.attempts], ["connection error", 200], "attempt outcomes")
    expect(len(keys) == 1 and None not in keys, f"one SDK-made key on every attempt: {keys}")
    expect_eq(header(pi, "Idempotent-Replayed"), "true", "the retry got the saved answer")
    expect_eq(pi.status, "succeeded", "status")
    expect_eq(pi.metadata["order_id"], order, "order")


@check
def a_reused_key_with_other_params_raises_idempotency_error():
    c = client()
    key = "sdk-py-mismatch"
    c.v1.payment_intents.create({"amount": 100, "currency": "usd"}, {"idempotency_key": key})
    try:
        c.v1.payment_intents.create({"amount": 200, "currency": "usd"}, {"idempotency_key": key})
        raise AssertionError("no IdempotencyError")
    except stripe.IdempotencyError as e:
        expect_eq(e.http_status, 400, "status")
        expect(key in e.user_message, f"message names the key: {e.user_message}")


@check
def events_list_paginates_and_retrieves():
    c = client()
    everything = [e.id for e in c.v1.events.list({"limit": 100}).auto_paging_iter()]
    expect(len(everything) >= 5, f"events so far: {len(everything)}")
    first = c.v1.events.list({"limit": 2})
    expect_eq((first.object, first.has_more, len(first.data)), ("list", True, 2), "first page")
    paged = [e.id for e in c.v1.events.list({"limit": 2}).auto_paging_iter()]
    expect_eq(paged, everything, "auto-pagination with starting_after")
    back = c.v1.events.list({"limit": 2, "ending_before": everything[3]})
    expect_eq([e.id for e in back.data], everything[1:3], "ending_before page")
    failed = c.v1.events.list({"type": "payment_intent.payment_failed", "limit": 100})
    expect(failed.data and all(e.type == "payment_intent.payment_failed" for e in failed.data), "type filter")
    one = c.v1.events.retrieve(everything[0])
    expect(isinstance(one, stripe.Event), "an Event")
    expect_eq(one.id, everything[0], "retrieved event")


def deliveries(pi_id, timeout=10.0):
    """(body, header) of every captured delivery about `pi_id`, waiting for a genuine one
    and a forged one to arrive."""
    deadline = time.time() + timeout
    while True:
        found = []
        for path in sorted(glob.glob(os.path.join(SINK, "*.body"))):
            with open(path, "rb") as f:
                body = f.read()
            if pi_id.encode() not in body:
                continue
            with open(path[: -len("body")] + "sig") as f:
                found.append((body.decode("utf-8"), f.read()))
        ids = [json.loads(b)["id"] for b, _ in found]
        genuine = any(not i.startswith("evt_forged_") for i in ids)
        forged = any(i.startswith("evt_forged_") for i in ids)
        if (genuine and forged) or time.time() > deadline:
            return found
        time.sleep(0.05)


@check
def webhook_signatures_verify_and_forgeries_fail():
    pi = STATE["paid"]
    found = deliveries(pi.id)
    genuine = [(b, h) for b, h in found if not json.loads(b)["id"].startswith("evt_forged_")]
    forged = [(b, h) for b, h in found if json.loads(b)["id"].startswith("evt_forged_")]
    expect(genuine and forged, f"deliveries for {pi.id}: {len(genuine)} genuine, {len(forged)} forged")
    body, sig = genuine[0]
    event = stripe.Webhook.construct_event(body, sig, SECRET)
    expect_eq(event.type, "payment_intent.succeeded", "event type")
    expect_eq(event.data.object.id, pi.id, "event's intent")
    tampered = body.replace('"amount":1000', '"amount":1', 1)
    expect(tampered != body, "tampered payload differs")
    for name, (b, h) in [("tampered payload", (tampered, sig)), ("paychaos forgery", forged[0])]:
        try:
            stripe.Webhook.construct_event(b, h, SECRET)
            raise AssertionError(f"{name} accepted")
        except stripe.SignatureVerificationError:
            pass


def control(method, path, body=None):
    """One request to the provider's control API: parsed JSON, or NDJSON lines parsed."""
    data = None if body is None else json.dumps(body).encode()
    # State changes need a JSON content type (urllib would send a form type).
    headers = {} if method == "GET" else {"Content-Type": "application/json"}
    req = urllib.request.Request(URL + path, data=data, method=method, headers=headers)
    with urllib.request.urlopen(req, timeout=10) as r:
        text = r.read().decode()
        if r.headers.get_content_type() == "application/x-ndjson":
            return [json.loads(line) for line in text.splitlines()]
        return json.loads(text)


@check
def faults_switched_through_the_control_api_and_an_event_resent():
    order = "sdk-py-control-1"
    saved = control("GET", "/_paychaos/faults")
    try:
        # Transport faults off too, so the decline is the first answer.
        on = {"insufficient_funds": 1.0, "server_error": 0, "timeout_after_charge": 0}
        control("PATCH", "/_paychaos/faults", {"faults": on})
        e = card_error(card("pm_card_visa", metadata={"order_id": order}))
        expect_eq(e.error.decline_code, "insufficient_funds", "decline with the fault on")
        control("PATCH", "/_paychaos/faults", {"faults": {"insufficient_funds": 0}})
        pi = client().v1.payment_intents.create(card("pm_card_visa", metadata={"order_id": order}))
        expect_eq(pi.status, "succeeded", "the same order with the fault off")
    finally:
        control("PUT", "/_paychaos/faults", saved)
    expect_eq(control("GET", "/_paychaos/faults"), saved, "the plan restored")
    rows = control("GET", f"/_paychaos/ledger?order_id={order}")
    got = [(r["fault"], r["status"]) for r in rows]
    expect_eq(got, [("insufficient_funds", 402), (None, 200)], "ledger of the order")
    events = control("GET", f"/_paychaos/events?order_id={order}")
    failed = [ev["id"] for ev in events if ev["type"] == "payment_intent.payment_failed"]
    expect_eq(len(failed), 1, "one payment_failed event")
    resent = control("POST", f"/_paychaos/events/{failed[0]}/resend")
    expect_eq(resent, {"resent": failed[0]}, "resend answer")
    deadline = time.time() + 10
    while True:
        same = [ev for ev in control("GET", f"/_paychaos/events?order_id={order}") if ev["id"] == failed[0]]
        if same[0]["attempts"] >= 2 or time.time() > deadline:
            break
        time.sleep(0.05)
    expect_eq((same[0]["attempts"], same[0]["acknowledged"]), (2, True), "deliveries after resend")


@check
def global_style_configuration_works():
    stripe.api_key = API_KEY
    stripe.api_base = URL
    pi = stripe.PaymentIntent.create(**card("pm_card_visa"))
    expect_eq(pi.status, "succeeded", "status")
    got = stripe.PaymentIntent.retrieve(pi.id)
    expect_eq(got.id, pi.id, "retrieve")


def main():
    passed = failed = 0
    for fn in CHECKS:
        try:
            fn()
            print(f"ok - py: {fn.__name__}")
            passed += 1
        except Exception as e:  # every failure is reported, the rest still run
            print(f"not ok - py: {fn.__name__}: {type(e).__name__}: {e}")
            traceback.print_exc(limit=3, file=sys.stderr)
            failed += 1
    print(f"{passed} passed, {failed} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
