// stripe-node 23.x against a running paychaos provider (started by tests/sdk/run.sh).
//
// Each check prints `ok - NAME` or `not ok - NAME: why`; the last line is `N passed, M failed`
// and the exit code is 1 when any check failed. Environment: PAYCHAOS_URL, PAYCHAOS_WEBHOOK_SECRET,
// PAYCHAOS_SINK, PAYCHAOS_ORDERS (as for compat.py) and STRIPE_NODE_DIR (the npm prefix the
// `stripe` package was installed into).

import { createRequire } from 'node:module';
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';

const require = createRequire(join(process.env.STRIPE_NODE_DIR, 'noop.js'));
const Stripe = require('stripe');

const url = new URL(process.env.PAYCHAOS_URL);
const SECRET = process.env.PAYCHAOS_WEBHOOK_SECRET;
const SINK = process.env.PAYCHAOS_SINK;
const ORDERS = JSON.parse(process.env.PAYCHAOS_ORDERS)['sdk-node-'];

/** A client on the provider; `attempts` collects [Idempotency-Key, …] of every attempt. */
function client(maxNetworkRetries = 0) {
  const stripe = new Stripe('sk_test_paychaos_sdk', {
    host: url.hostname,
    port: Number(url.port),
    protocol: 'http',
    maxNetworkRetries,
  });
  stripe.attempts = [];
  // Emitted once per attempt, retries included.
  stripe.on('request', (e) => stripe.attempts.push(e.idempotency_key));
  return stripe;
}

function expect(cond, what) {
  if (!cond) throw new Error(what);
}

function expectEq(got, want, what) {
  const [g, w] = [JSON.stringify(got), JSON.stringify(want)];
  if (g !== w) throw new Error(`${what}: got ${g}, want ${w}`);
}

async function rejects(promise, what) {
  try {
    await promise;
  } catch (e) {
    return e;
  }
  throw new Error(`${what}: no error`);
}

const card = (pm, extra = {}) => ({
  amount: 1000,
  currency: 'usd',
  payment_method: pm,
  confirm: true,
  automatic_payment_methods: { enabled: true, allow_redirects: 'never' },
  ...extra,
});

const state = {};
const checks = [];
const check = (name, fn) => checks.push([name, fn]);

check('create_and_confirm_succeeds', async () => {
  const pi = await client().paymentIntents.create(card('pm_card_visa', { expand: ['latest_charge'] }));
  expectEq(pi.object, 'payment_intent', 'object');
  expectEq(pi.status, 'succeeded', 'status');
  expectEq(pi.latest_charge.outcome.type, 'authorized', 'expanded charge outcome');
  expect(pi.lastResponse.requestId.startsWith('req_'), 'requestId');
  state.paid = pi;
});

/** Loads the challenge page and posts `verdict`; the redirect answer, not followed. */
async function throughChallenge(pi, verdict) {
  const url = pi.next_action.redirect_to_url.url;
  expectEq((await fetch(url)).status, 200, 'challenge page');
  return fetch(`${url}/${verdict}`, { method: 'POST', redirect: 'manual' });
}

check('confirm_with_return_url_redirects_to_the_challenge_and_back', async () => {
  const stripe = client();
  const back = 'http://127.0.0.1:9/return?order=sdk-node';
  let pi = await stripe.paymentIntents.create({
    amount: 1000,
    currency: 'usd',
    payment_method: 'pm_card_threeDSecure2Required',
    confirm: true,
    return_url: back,
  });
  expectEq(pi.status, 'requires_action', 'status');
  expectEq(pi.next_action.type, 'redirect_to_url', 'next_action.type');
  expectEq(pi.next_action.redirect_to_url.return_url, back, 'return_url');
  let r = await throughChallenge(pi, 'complete');
  expectEq(r.status, 303, 'redirect status');
  const loc = new URL(r.headers.get('location'));
  expectEq(loc.searchParams.get('payment_intent'), pi.id, 'payment_intent');
  expectEq(loc.searchParams.get('payment_intent_client_secret'), pi.client_secret, 'secret');
  expectEq(loc.searchParams.get('redirect_status'), 'succeeded', 'redirect_status');
  expectEq((await stripe.paymentIntents.retrieve(pi.id)).status, 'succeeded', 'after passing');
  pi = await stripe.paymentIntents.create({ amount: 1000, currency: 'usd' });
  pi = await stripe.paymentIntents.confirm(pi.id, {
    payment_method: 'pm_card_authenticationRequired',
    return_url: back,
  });
  r = await throughChallenge(pi, 'fail');
  expect(r.headers.get('location').endsWith('redirect_status=failed'), 'failed redirect');
  const got = await stripe.paymentIntents.retrieve(pi.id);
  expectEq(got.status, 'requires_payment_method', 'after failing');
  expectEq(got.last_payment_error.code, 'payment_intent_authentication_failure', 'error code');
});

check('insufficient_funds_raises_card_error', async () => {
  const e = await rejects(
    client().paymentIntents.create(card('pm_card_chargeDeclinedInsufficientFunds')),
    'insufficient funds',
  );
  expect(e instanceof Stripe.errors.StripeCardError, `a StripeCardError, got ${e.type}`);
  expectEq([e.statusCode, e.code, e.decline_code], [402, 'card_declined', 'insufficient_funds'], 'error');
  expectEq(e.payment_intent.status, 'requires_payment_method', 'intent status');
  expect(e.requestId.startsWith('req_'), 'requestId');
});

check('radar_block_raises_fraudulent_and_the_charge_is_blocked', async () => {
  const stripe = client();
  const e = await rejects(stripe.paymentIntents.create(card('pm_card_radarBlock')), 'radar block');
  expect(e instanceof Stripe.errors.StripeCardError, `a StripeCardError, got ${e.type}`);
  expectEq(e.decline_code, 'fraudulent', 'decline_code');
  const charge = await stripe.charges.retrieve(e.payment_intent.latest_charge);
  expectEq([charge.object, charge.outcome.type, charge.paid], ['charge', 'blocked', false], 'charge');
});

check('retry_after_an_injected_500_reuses_the_key_then_replays', async () => {
  const order = ORDERS.server_error;
  const key = `${order}:charge`;
  const params = card('pm_card_visa', { metadata: { order_id: order } });
  const stripe = client(2);
  const pi = await stripe.paymentIntents.create(params, { idempotencyKey: key });
  expectEq(stripe.attempts, [key, key], 'keys of the attempts');
  expectEq(pi.status, 'succeeded', 'status after the retry');
  // Injected before the idempotency layer: nothing saved, the retry executed.
  expectEq(pi.lastResponse.headers['idempotent-replayed'], undefined, 'the retry executed fresh');
  const again = await client().paymentIntents.create(params, { idempotencyKey: key });
  expectEq(again.id, pi.id, 'same intent');
  expectEq(again.lastResponse.headers['idempotent-replayed'], 'true', 'Idempotent-Replayed');
});

check('retry_after_a_lost_answer_gets_the_replay', async () => {
  const order = ORDERS.answer_lost;
  const stripe = client(2);
  const pi = await stripe.paymentIntents.create(card('pm_card_visa', { metadata: { order_id: order } }));
  expectEq(stripe.attempts.length, 2, 'attempts');
  expect(stripe.attempts[0] && stripe.attempts[0] === stripe.attempts[1], `same SDK key: ${stripe.attempts}`);
  expect(stripe.attempts[0].startsWith('stripe-node-retry-'), 'an SDK-made key');
  expectEq(pi.lastResponse.idempotencyKey, stripe.attempts[0], 'key of the answer');
  expectEq(pi.lastResponse.headers['idempotent-replayed'], 'true', 'the retry got the saved answer');
  expectEq(pi.status, 'succeeded', 'status');
});

check('a_reused_key_with_other_params_raises_idempotency_error', async () => {
  const stripe = client();
  const key = 'sdk-node-mismatch';
  await stripe.paymentIntents.create({ amount: 100, currency: 'usd' }, { idempotencyKey: key });
  const e = await rejects(
    stripe.paymentIntents.create({ amount: 200, currency: 'usd' }, { idempotencyKey: key }),
    'mismatched key',
  );
  expect(e instanceof Stripe.errors.StripeIdempotencyError, `a StripeIdempotencyError, got ${e.type}`);
  expectEq(e.statusCode, 400, 'status');
});

check('capture_cancel_and_refund_limits', async () => {
  const stripe = client();
  let pi = await stripe.paymentIntents.create(card('pm_card_visa', { capture_method: 'manual' }));
  expectEq(pi.status, 'requires_capture', 'authorised');
  pi = await stripe.paymentIntents.capture(pi.id, { amount_to_capture: 500 });
  expectEq([pi.status, pi.amount_received], ['succeeded', 500], 'captured');
  const over = await rejects(stripe.refunds.create({ payment_intent: pi.id, amount: 501 }), 'over-refund');
  expect(over instanceof Stripe.errors.StripeInvalidRequestError, `invalid request, got ${over.type}`);
  expectEq(over.code, 'amount_too_large', 'code');
  const refund = await stripe.refunds.create({ payment_intent: pi.id });
  expectEq([refund.object, refund.amount], ['refund', 500], 'refund of all captured');
  const cancel = await rejects(stripe.paymentIntents.cancel(pi.id), 'cancel of a succeeded intent');
  expectEq([cancel.statusCode, cancel.code], [400, 'payment_intent_unexpected_state'], 'cancel error');
  const open = await stripe.paymentIntents.create({ amount: 50, currency: 'usd' });
  const canceled = await stripe.paymentIntents.cancel(open.id);
  expectEq(canceled.status, 'canceled', 'canceled');
});

check('events_list_auto_paginates', async () => {
  const stripe = client();
  const all = (await stripe.events.list({ limit: 100 })).data.map((e) => e.id);
  const paged = [];
  for await (const e of stripe.events.list({ limit: 3 })) paged.push(e.id);
  expectEq(paged, all, 'autoPagingEach with starting_after');
  const one = await stripe.events.retrieve(all[0]);
  expectEq([one.object, one.id], ['event', all[0]], 'retrieved');
});

function deliveries(piId) {
  const out = [];
  for (const f of readdirSync(SINK).filter((f) => f.endsWith('.body'))) {
    const body = readFileSync(join(SINK, f));
    if (!body.includes(piId)) continue;
    out.push([body.toString('utf8'), readFileSync(join(SINK, f.replace(/body$/, 'sig')), 'utf8')]);
  }
  return out;
}

check('webhook_signatures_verify_and_forgeries_fail', async () => {
  const stripe = client();
  const pi = state.paid;
  let found = [];
  const forgedId = (b) => JSON.parse(b).id.startsWith('evt_forged_');
  for (let i = 0; i < 200; i++) {
    found = deliveries(pi.id);
    if (found.some(([b]) => forgedId(b)) && found.some(([b]) => !forgedId(b))) break;
    await new Promise((r) => setTimeout(r, 50));
  }
  const genuine = found.filter(([b]) => !forgedId(b));
  const forged = found.filter(([b]) => forgedId(b));
  expect(genuine.length && forged.length, `deliveries: ${genuine.length} genuine, ${forged.length} forged`);
  const [body, sig] = genuine[0];
  const event = stripe.webhooks.constructEvent(body, sig, SECRET);
  expectEq([event.type, event.data.object.id], ['payment_intent.succeeded', pi.id], 'event');
  const tampered = body.replace('"amount":1000', '"amount":1');
  expect(tampered !== body, 'tampered payload differs');
  for (const [name, [b, h]] of [['tampered payload', [tampered, sig]], ['paychaos forgery', forged[0]]]) {
    const e = await rejects(Promise.resolve().then(() => stripe.webhooks.constructEvent(b, h, SECRET)), name);
    expect(e instanceof Stripe.errors.StripeSignatureVerificationError, `${name}: ${e.type}`);
  }
});

let passed = 0;
let failed = 0;
for (const [name, fn] of checks) {
  try {
    await fn();
    console.log(`ok - node: ${name}`);
    passed++;
  } catch (e) {
    console.log(`not ok - node: ${name}: ${e.message}`);
    failed++;
  }
}
console.log(`${passed} passed, ${failed} failed`);
process.exit(failed ? 1 : 0);
