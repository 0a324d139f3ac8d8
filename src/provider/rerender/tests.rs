//! Unit tests of the module, kept apart so the module stays readable.

use super::*;
use crate::chaos::Rates;
use crate::provider::dialects::{stripe, EventKind};
use crate::provider::events::{request_id, EventQuery};
use crate::provider::exec::{Plan, Reply};
use crate::provider::idempotency::{Begin, Fingerprint, Slot};
use crate::provider::tests::support::Bench;

/// A bench whose state renders compact records again, as an unbounded provider's does.
fn bench() -> Bench {
    let mut b = Bench::new(Rates::default());
    b.state.rerender = Some(&stripe::Stripe);
    b
}

/// What the server does with a fresh answer: renders it with its event, logs the event and
/// saves the answer. Returns the answer and the event as sent.
fn serve(b: &mut Bench, plan: &Plan, request: u64) -> (Rendered, Option<Arc<Event>>) {
    let Reply::Fresh(answer) = &plan.reply else {
        panic!("no fresh answer in {:?}", plan.reply);
    };
    let rid = request_id(request);
    let meta = plan.event.map(|kind| EventMeta {
        kind,
        seed: 42,
        request_id: &rid,
        idempotency_key: plan.save.as_deref(),
        created: 1_800_000_000,
        nth: plan.event_nth,
    });
    let (rendered, event) = stripe::render(answer, meta);
    let event = event.map(Arc::new);
    if let Some(ev) = &event {
        b.state.log_event(answer, ev, meta.as_ref());
    }
    if let Some(k) = &plan.save {
        assert!(b.state.save_answer(k, answer, &rendered));
    }
    (rendered, event)
}

fn intent_id(plan: &Plan) -> String {
    plan.reply_intent().id.clone()
}

impl Plan {
    fn reply_intent(&self) -> &Intent {
        match &self.reply {
            Reply::Fresh(a) => a.intent().expect("an intent"),
            other => panic!("no intent in {other:?}"),
        }
    }
}

fn replayed(plan: &Plan) -> (u16, Bytes) {
    match &plan.reply {
        Reply::Replay { status, body } => (*status, body.clone()),
        other => panic!("no replay in {other:?}"),
    }
}

#[test]
fn a_declined_then_paid_intent_renders_each_event_and_answer_as_first_sent() {
    let mut b = bench();
    let declined = b.pay("pm_card_chargeDeclined", "ord-000001", "k1");
    assert_eq!(declined.event, Some(EventKind::PaymentFailed));
    let (first, failed) = serve(&mut b, &declined, 1);
    let failed = failed.expect("a payment_failed event");
    assert_eq!(first.status, 402);
    let pi = intent_id(&declined);
    let paid = b.on(&pi, "confirm", "payment_method=pm_card_visa", "k2");
    assert_eq!(paid.event, Some(EventKind::Succeeded));
    let (second, succeeded) = serve(&mut b, &paid, 2);
    let succeeded = succeeded.expect("a succeeded event");

    // Both kept compact; the declined state kept aside since the intent changed after it.
    assert!(b
        .state
        .events
        .all()
        .iter()
        .all(|l| matches!(l, Logged::Compact(_))));
    assert_eq!(b.state.ledger.versions_kept(), 1);
    for ev in [&failed, &succeeded] {
        let again = b.state.event(&ev.id).expect("logged");
        assert_eq!(again.body, ev.body, "{} rendered again", ev.event_type);
        assert_eq!(
            (&again.order_id, &again.payment_id, again.chaos_key()),
            (&ev.order_id, &ev.payment_id, ev.chaos_key())
        );
    }
    let page = b
        .state
        .events
        .page(&EventQuery::default(), |l| b.state.event_body(l))
        .unwrap();
    assert_eq!(page.data, [succeeded.body.clone(), failed.body.clone()]);

    // Replays carry the bytes first sent, the decline's after the intent was paid.
    let again = b.pay("pm_card_chargeDeclined", "ord-000001", "k1");
    assert_eq!(replayed(&again), (402, first.body.clone()));
    let again = b.on(&pi, "confirm", "payment_method=pm_card_visa", "k2");
    assert_eq!(replayed(&again), (200, second.body.clone()));
}

#[test]
fn an_intent_changed_before_its_answer_is_saved_keeps_the_bytes() {
    let mut b = bench();
    let created = b.create("amount=1000&currency=usd", "k1");
    let pi = intent_id(&created);
    // Another request changes the intent between the decision and the save.
    b.on(&pi, "update", "description=later", "k2");
    let (rendered, _) = serve(&mut b, &created, 1);
    match b.state.keys.get("k1") {
        Some(Slot::Done {
            body: Saved::Bytes(body),
            ..
        }) => assert_eq!(body, &rendered.body),
        other => panic!("expected the bytes kept, got {other:?}"),
    }
    let fp = Fingerprint::of("/v1/payment_intents", &[]);
    assert!(matches!(
        b.state.keys.begin("k1", fp, "/v1/payment_intents"),
        Begin::ParamsMismatch | Begin::Replay { .. }
    ));
}

#[test]
fn without_rerendering_events_and_answers_are_kept_as_rendered() {
    let mut b = Bench::new(Rates::default());
    let plan = b.charge("ord-000001", Some("k1"));
    let (rendered, ev) = serve(&mut b, &plan, 7);
    let ev = ev.expect("an event");
    assert!(matches!(b.state.events.all(), [Logged::Full(_)]));
    assert!(matches!(
        b.state.keys.get("k1"),
        Some(Slot::Done {
            body: Saved::Bytes(_),
            ..
        })
    ));
    assert_eq!(b.state.event(&ev.id).unwrap().body, ev.body);
    assert_eq!(
        replayed(&b.charge("ord-000001", Some("k1"))).1,
        rendered.body
    );
}

#[test]
fn a_compact_event_is_a_small_fixed_record() {
    let mut b = bench();
    let plan = b.charge("ord-000001", Some("k1"));
    let (_, ev) = serve(&mut b, &plan, 3);
    let ev = ev.expect("an event");
    let Some(Logged::Compact(c)) = b.state.events.get(&ev.id) else {
        panic!("not compact");
    };
    assert_eq!(
        (c.id(), c.request_id().as_str()),
        (ev.id.as_str(), "req_00000000000003")
    );
    // An eighth of the body it stands for (862 bytes here), with no allocation but the key.
    assert!(std::mem::size_of::<Logged>() <= 112);
    assert!(std::mem::size_of::<Logged>() * 8 < ev.body.len());
    // An automatic event (no request) keeps none.
    let it = plan.reply_intent();
    let meta = EventMeta {
        kind: EventKind::Succeeded,
        seed: 42,
        request_id: "",
        idempotency_key: None,
        created: 1,
        nth: 1,
    };
    let c = Compact::of(&ev, &meta, "payment_intent.succeeded", 0, it.version).unwrap();
    assert_eq!((c.request, c.request_id().as_str()), (None, ""));
    let odd = EventMeta {
        request_id: "req_1",
        ..meta
    };
    assert!(Compact::of(&ev, &odd, "payment_intent.succeeded", 0, 0).is_none());
}
