use crate::flaws::{exposes, exposing};
use crate::util::{
    assert_injected, assert_on_diagonal, assert_verified_clean, count, run_toml, Setup, ALL_FAULTS,
    ALL_FAULT_KINDS, WEBHOOK_CHAOS,
};

/// The confusion matrix's cells a correct merchant can reach: where it agrees with the
/// provider, and a late charge's decline that lands after the merchant gave its order up
/// (failed as provider trouble, as nothing was there to say otherwise).
const DIAGONAL: [(&str, &str); 8] = [
    ("charged", "paid"),
    ("refunded", "failed_provider_error"),
    ("declined_insufficient_funds", "failed_insufficient_funds"),
    ("declined_risk_blocked", "failed_risk_blocked"),
    ("declined_other", "failed_declined"),
    ("not_charged", "failed_provider_error"),
    ("declined_insufficient_funds", "failed_provider_error"),
    ("declined_risk_blocked", "failed_provider_error"),
];

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn correct_merchant_verifies_clean_on_the_gateway_under_every_fault_and_notification_chaos() {
    // Arrange: the gateway dialect, every fault kind, all notification chaos. A late charge
    // held 2 s lands while its order is still pending (settled by its notification or the
    // query) or after the merchant gave it up (refunded): both are on the diagonal.
    let toml = Setup {
        seed: 42,
        faults: ALL_FAULTS.into(),
        webhooks: WEBHOOK_CHAOS.into(),
        dialect: "gateway",
        ..Setup::default()
    }
    .toml();

    // Act
    let run = run_toml(&toml).await;
    let j = &run.json;

    // Assert: verification passed, every fault and chaos kind was met.
    assert_verified_clean(&run);
    assert_eq!(count(j, "/load/sent"), 100);
    assert_injected(j, &ALL_FAULT_KINDS);
    let wh = &j["webhooks"];
    for chaos in ["duplicated", "forged", "stale", "unsigned", "dropped"] {
        assert!(wh[chaos].as_u64().unwrap_or(0) > 0, "no {chaos}: {wh}");
    }
    assert_eq!(wh["forged_accepted"], 0, "{wh}");
    assert_eq!(wh["never_acknowledged"], 0, "{wh}");

    // Every order sits on the diagonal.
    assert_on_diagonal(j, &DIAGONAL, 100);
    assert!(
        count(j, "/outcomes/confusion/charged/paid") > 50,
        "{}",
        j["outcomes"]["confusion"]
    );
}

/// `flaws::exposing`'s scenario on the gateway.
fn on_gateway(faults: &str, webhooks: &str) -> Setup {
    Setup {
        dialect: "gateway",
        ..exposing(faults, webhooks)
    }
}

// The planted flaws that apply to a gateway integration are caught there by the same check
// (tests/it/flaws.rs runs each on Stripe). `new_key_on_retry` has no effect on the gateway:
// its key is the order's own out_trade_no. `last_event_wins` cannot show: a channel error
// notifies nothing, so no older failure can arrive after a success. Nor can the two
// metadata flaws: a gateway pay names its order by `out_trade_no`, always the order id.

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn gateway_retry_hard_declines_is_a_hard_decline_retried() {
    let faults = "insufficient_funds = 0.2\nrisk_block = 0.1";
    let n = exposes(
        "retry_hard_declines",
        "hard_decline_retried",
        on_gateway(faults, ""),
    )
    .await;
    assert!(n > 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn gateway_timeout_is_failure_is_a_lost_payment() {
    let setup = on_gateway("timeout_after_charge = 0.3", "");
    exposes("timeout_is_failure", "lost_payment", setup).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn gateway_ignore_webhooks_leaves_orders_stuck_pending() {
    let setup = Setup {
        drain: "4s",
        ..on_gateway("timeout_after_charge = 0.3", "")
    }
    .merchant("max_retries", "0")
    .merchant("reconcile_every", "\"60m\"");
    exposes("ignore_webhooks", "stuck_pending", setup).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn gateway_skip_signature_check_accepts_forged_stale_and_unsigned_notifications() {
    let chaos = "forged = 0.4\nstale = 0.4\nunsigned = 0.4";
    let setup = on_gateway("", chaos);
    exposes("skip_signature_check", "forged_accepted", setup).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn gateway_no_event_dedupe_applies_a_duplicate_notification_twice() {
    let setup = on_gateway("", "duplicate = 0.5");
    exposes("no_event_dedupe", "duplicate_applied", setup).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn gateway_generic_decline_message_is_a_wrong_reason() {
    let faults = "insufficient_funds = 0.2\nrisk_block = 0.1";
    exposes(
        "generic_decline_message",
        "wrong_reason",
        on_gateway(faults, ""),
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn gateway_no_refund_on_abandon_is_a_refund_owed() {
    let setup = Setup {
        hold: "6s",
        ..on_gateway("late_charge = 0.3", "")
    }
    .merchant("pending_grace", "\"300ms\"")
    .merchant("reconcile_every", "\"50ms\"");
    exposes("no_refund_on_abandon", "refund_owed", setup).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn gateway_new_key_on_retry_changes_nothing() {
    // The gateway's key is the out_trade_no: a merchant cannot send a retry under a new one
    // without naming another order, so the flawed reference merchant stays correct here.
    let toml = on_gateway("timeout_after_charge = 0.3", "")
        .merchant("flaws", "[\"new_key_on_retry\"]")
        .toml();
    let run = run_toml(&toml).await;
    assert_eq!(
        run.json["verification"]["passed"], true,
        "{}",
        run.json["verification"]["discrepancies"]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn gateway_crash_first_delivery_is_a_webhook_rejected() {
    // #9: each trade's first notification answered 500; its resend is taken.
    let n = exposes(
        "crash_first_delivery",
        "webhook_rejected",
        on_gateway("", ""),
    )
    .await;
    assert_eq!(n, 50);
}
