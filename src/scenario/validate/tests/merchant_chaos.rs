//! Scenario checks for the merchant's flaws and circuit breaker and for the fault and
//! webhook chaos keys added after the first release (helpers shared with `tests`).

use super::{ok, secs, MINIMAL};
use crate::chaos::FaultKind;
use crate::scenario::validate::*;

#[test]
fn merchant_flaws_are_parsed_and_unknown_or_repeated_names_reported() {
    let s = ok(&format!(
        "{MINIMAL}[merchant]\nflaws = [\"ignore_webhooks\", \"last_event_wins\"]\n"
    ));
    let MerchantSpec::Reference(m) = &s.merchant else {
        panic!("reference merchant expected")
    };
    let on: Vec<Flaw> = m.flaws.iter().collect();
    assert_eq!(on, [Flaw::IgnoreWebhooks, Flaw::LastEventWins]);

    let e = from_toml_str(
        &format!("{MINIMAL}[merchant]\nflaws = [\"no_dedupe\", \"ignore_webhooks\", \"ignore_webhooks\"]\n"),
        "t.toml",
    )
    .unwrap_err();
    let paths: Vec<&str> = e.problems.iter().map(|p| p.path.as_str()).collect();
    assert_eq!(paths, ["merchant.flaws[0]", "merchant.flaws[2]"]);
    assert!(
        e.problems[0].message.contains("unknown flaw \"no_dedupe\"")
            && e.problems[0].message.contains("\"no_event_dedupe\""),
        "{e}"
    );
    assert!(e.problems[1].message.contains("listed twice"), "{e}");
}

#[test]
fn new_fault_rates_and_webhook_chaos_keys_are_read() {
    let s = ok(&format!(
        "{MINIMAL}[faults]\nprocessing_error = 0.2\nlate_charge = 0.1\n\
         [[faults.windows]]\nstart = \"0s\"\nend = \"1s\"\nlate_charge = 0.5\n\
         [webhooks]\nreorder = 0.3\ndrop_first = 0.4\ndrop_attempts = 2\nstale = 0.1\nunsigned = 0.2\n"
    ));
    assert_eq!(s.faults.rates[FaultKind::ProcessingError], 0.2);
    assert_eq!(s.faults.rates[FaultKind::LateCharge], 0.1);
    assert_eq!(s.faults.windows[0].rate(FaultKind::LateCharge), Some(0.5));
    let c = &s.webhooks.chaos;
    assert_eq!(
        (
            c.reorder,
            c.drop_first,
            c.drop_attempts,
            c.stale,
            c.unsigned
        ),
        (0.3, 0.4, 2, 0.1, 0.2)
    );
}

#[test]
fn per_attempt_sums_include_the_new_kinds() {
    let e = from_toml_str(
        &format!("{MINIMAL}[faults]\ntimeout = 0.6\nprocessing_error = 0.3\nlate_charge = 0.2\n"),
        "t.toml",
    )
    .unwrap_err();
    assert_eq!(e.problems.len(), 1, "{e}");
    assert!(e.problems[0].message.contains("late_charge"), "{e}");
}

#[test]
fn dropped_attempts_need_as_many_retries() {
    let e = from_toml_str(
        &format!(
            "{MINIMAL}[webhooks]\nretry_schedule = [\"10ms\"]\ndrop_first = 0.5\ndrop_attempts = 2\n"
        ),
        "t.toml",
    )
    .unwrap_err();
    assert_eq!(e.problems[0].path, "webhooks.drop_attempts");
    assert!(
        e.problems[0]
            .message
            .contains("expected drop_attempts <= 1"),
        "{e}"
    );
    let e = from_toml_str(
        &format!("{MINIMAL}[webhooks]\ndrop_attempts = 0\n"),
        "t.toml",
    )
    .unwrap_err();
    assert_eq!(e.problems[0].path, "webhooks.drop_attempts");
}

#[test]
fn circuit_breaker_is_off_by_default_and_checked_when_on() {
    let off = ok(MINIMAL);
    let MerchantSpec::Reference(m) = &off.merchant else {
        panic!("reference merchant expected")
    };
    assert_eq!(m.breaker, None);

    let on = ok(&format!(
        "{MINIMAL}[merchant]\nbreaker_failures = 5\nbreaker_cooldown = \"2s\"\n"
    ));
    let MerchantSpec::Reference(m) = &on.merchant else {
        panic!("reference merchant expected")
    };
    assert_eq!(
        m.breaker,
        Some(crate::scenario::BreakerConfig {
            failures: 5,
            cooldown: secs(2)
        })
    );

    let e = from_toml_str(
        &format!("{MINIMAL}[merchant]\nbreaker_failures = 0\n"),
        "t.toml",
    )
    .unwrap_err();
    assert_eq!(e.problems[0].path, "merchant.breaker_failures", "{e}");
    let e = from_toml_str(
        &format!("{MINIMAL}[merchant]\nbreaker_cooldown = \"2s\"\n"),
        "t.toml",
    )
    .unwrap_err();
    assert_eq!(e.problems[0].path, "merchant.breaker_cooldown", "{e}");
    assert!(e.problems[0].message.contains("breaker_failures"), "{e}");
}
