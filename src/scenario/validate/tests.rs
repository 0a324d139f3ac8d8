//! Unit tests of scenario parsing and validation: the shipped scenarios, defaults, and one
//! test per kind of problem, asserting the key path and the accepted form in the message.

mod fault_rates;
mod merchant_chaos;

use super::*;
use crate::chaos::WebhookChaos;
use crate::chaos::{FaultKind, FaultPlan, Window};
use crate::scenario::WebhookSpec;
use crate::scenario::{RateStage, RecoverySpec};

const SMOKE: &str = include_str!("../../../scenarios/smoke.toml");
const PRESALE: &str = include_str!("../../../scenarios/presale.toml");
const GATEWAY: &str = include_str!("../../../scenarios/gateway.toml");

/// The smallest valid scenario: a constant 10/s for 1 s. Tests append tables to it.
pub(super) const MINIMAL: &str = r#"
name = "t"
[load]
profile = "constant"
rate = 10
duration = "1s"
"#;

fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

pub(super) fn secs(n: u64) -> Duration {
    Duration::from_secs(n)
}

pub(super) fn ok(text: &str) -> Scenario {
    from_toml_str(text, "t.toml").unwrap_or_else(|e| panic!("expected a valid scenario:\n{e}"))
}

/// The problems of an invalid scenario, as `path: message` lines.
pub(super) fn problems(text: &str) -> Vec<String> {
    match from_toml_str(text, "t.toml") {
        Ok(_) => panic!("expected problems, the scenario was accepted:\n{text}"),
        Err(e) => e
            .problems
            .iter()
            .map(|p| format!("{}: {}", p.path, p.message))
            .collect(),
    }
}

/// The problems of `MINIMAL` followed by `extra`.
pub(super) fn problems_with(extra: &str) -> Vec<String> {
    problems(&format!("{MINIMAL}{extra}"))
}

/// Asserts that exactly one problem sits at `path` and that it contains `needle`.
#[track_caller]
pub(super) fn assert_problem(all: &[String], path: &str, needle: &str) {
    let at: Vec<&String> = all
        .iter()
        .filter(|p| p.starts_with(&format!("{path}: ")))
        .collect();
    assert!(
        at.len() == 1 && at[0].contains(needle),
        "expected one problem at {path} containing {needle:?}, got:\n{}",
        all.join("\n")
    );
}

#[test]
fn smoke_scenario_is_valid_and_exercises_every_fault() {
    // Act
    let s = ok(SMOKE);
    // Assert
    assert_eq!((s.name.as_str(), s.seed), ("smoke", 42));
    assert_eq!(
        s.load.profile,
        Profile::Constant {
            rate: 40.0,
            duration: secs(10)
        }
    );
    for (kind, rate) in s.faults.rates {
        assert!(rate > 0.0, "{} is zero", kind.as_str());
    }
    assert!(s.faults.latency.is_some());
    let w = &s.faults.windows[0];
    assert_eq!((w.start, w.end), (secs(4), secs(6)));
    assert!(w.rate(FaultKind::ServerError).unwrap() > s.faults.rates[FaultKind::ServerError]);
    let c = &s.webhooks.chaos;
    assert!(c.delay > 0.0 && c.duplicate > 0.0 && c.forged > 0.0);
    let MerchantSpec::Reference(m) = &s.merchant else {
        panic!("smoke uses the reference merchant")
    };
    assert_eq!(m.provider_timeout, ms(500));
    assert_eq!((m.reconcile_every, m.pending_grace), (ms(300), secs(2)));
    assert_eq!(s.provider.hold, secs(1));
    assert_eq!(s.drain.timeout, secs(15));
    assert!(s.load.profile.duration() + s.drain.timeout < secs(30));
    assert_eq!(
        s.gates,
        GateSpec {
            success_rate_min: Some(0.9),
            p99_ms_max: Some(5000.0),
            shed_max: Some(0),
            verification: true,
            recovery_s_max: None,
            webhook_ack_p99_ms_max: None,
            alarm_delay_s_max: None,
            alarm_missed_max: None,
        }
    );
}

#[test]
fn presale_scenario_is_a_ramp_with_an_outage_at_the_peak() {
    let s = ok(PRESALE);
    assert_eq!(s.name, "presale");
    assert_eq!(
        s.load.profile,
        Profile::Stages(vec![
            RateStage {
                from: 10.0,
                to: 80.0,
                duration: secs(20)
            },
            RateStage {
                from: 80.0,
                to: 80.0,
                duration: secs(20)
            },
        ])
    );
    let w = &s.faults.windows[0];
    assert_eq!((w.start, w.end), (secs(22), secs(27)));
    // Recovery is measured after the outage, with time at the peak left to do it in.
    assert_eq!(s.gates.recovery_s_max, Some(5.0));
    assert!(s.load.profile.duration() - w.end >= s.recovery.hold + secs(5));
    assert_eq!(w.rate(FaultKind::ServerError), Some(0.8));
    assert_eq!(w.latency, Some(Latency::Fixed { value: ms(200) }));
    assert_eq!(
        s.faults.latency,
        Some(Latency::Exponential {
            mean: ms(20),
            max: ms(500)
        })
    );
    assert!(s.webhooks.chaos.forged > 0.0);
}

#[test]
fn minimal_scenario_gets_every_default() {
    let s = ok(MINIMAL);
    let expected = Scenario {
        name: "t".into(),
        seed: 1,
        load: LoadSpec {
            profile: Profile::Constant {
                rate: 10.0,
                duration: secs(1),
            },
            max_in_flight: NonZeroUsize::new(1024).unwrap(),
            connections: crate::scenario::Connections::Auto,
            request_timeout: secs(10),
            run_id: None,
        },
        orders: OrderSpec {
            amount_min: 500,
            amount_max: 50_000,
            currency: "usd".into(),
            payment_method: "pm_card_visa".into(),
        },
        provider: ProviderSpec {
            dialect: Dialect::Stripe,
            hold: secs(2),
            listen: ([127, 0, 0, 1], 0).into(),
            max_in_flight: crate::scenario::defaults::PROVIDER_MAX_IN_FLIGHT,
            external: None,
        },
        faults: FaultPlan::default(),
        routing: crate::scenario::channels::Routing::default(),
        webhooks: WebhookSpec {
            secret: "whsec_paychaos_1".into(),
            chaos: WebhookChaos {
                delay: 0.0,
                delay_latency: Some(Latency::Uniform {
                    min: ms(10),
                    max: ms(500),
                }),
                duplicate: 0.0,
                forged: 0.0,
                reorder: 0.0,
                drop_first: 0.0,
                drop_attempts: 1,
                stale: 0.0,
                unsigned: 0.0,
            },
            retry_schedule: vec![ms(100), ms(300), secs(1), secs(2), secs(4)],
            timeout: secs(2),
        },
        merchant: MerchantSpec::Reference(ReferenceSpec {
            provider_timeout: secs(1),
            max_retries: 3,
            retry_backoff: ms(100),
            reconcile_every: secs(1),
            pending_grace: secs(5),
            flaws: Flaws::NONE,
            breaker: None,
        }),
        drain: DrainSpec { timeout: secs(30) },
        capacity: None,
        recovery: RecoverySpec {
            tolerance: 0.05,
            hold: secs(3),
            baseline: secs(10),
        },
        thresholds: Vec::new(),
        alarm: None,
        overrides: Vec::new(),
        card_testing: Default::default(),
        shard: crate::scenario::Shard::WHOLE,
        journeys: Default::default(),
        gates: GateSpec {
            success_rate_min: None,
            p99_ms_max: None,
            shed_max: None,
            verification: true,
            recovery_s_max: None,
            webhook_ack_p99_ms_max: None,
            alarm_delay_s_max: None,
            alarm_missed_max: None,
        },
    };
    assert_eq!(s, expected);
}

#[test]
fn default_secret_and_window_name_follow_seed_and_index() {
    let text = MINIMAL.replace("name = \"t\"", "name = \"t\"\nseed = 9");
    let s = ok(&format!(
        "{text}[[faults.windows]]\nstart = \"0s\"\nend = \"1s\"\n\
         [[faults.windows]]\nstart = \"0.5s\"\nend = \"1s\"\ntimeout = 0.5\n"
    ));
    assert_eq!(s.webhooks.secret, "whsec_paychaos_9");
    let names: Vec<&str> = s.faults.windows.iter().map(|w| w.name.as_str()).collect();
    assert_eq!(names, ["window-0", "window-1"]);
    let mut rates = enum_map::EnumMap::default();
    rates[FaultKind::Timeout] = Some(0.5);
    assert_eq!(
        s.faults.windows[1],
        Window {
            name: "window-1".into(),
            start: ms(500),
            end: secs(1),
            rates,
            latency: None,
        }
    );
}

#[test]
fn exponential_max_defaults_to_twenty_means() {
    let s = ok(&format!(
        "{MINIMAL}[faults]\nlatency = {{ distribution = \"exponential\", mean = \"20ms\" }}\n"
    ));
    assert_eq!(
        s.faults.latency,
        Some(Latency::Exponential {
            mean: ms(20),
            max: ms(400)
        })
    );
}

#[test]
fn durations_take_ms_s_and_m_with_decimals() {
    let cases = [
        ("500ms", Some(ms(500))),
        ("10s", Some(secs(10))),
        ("2m", Some(secs(120))),
        ("1.5s", Some(ms(1500))),
        ("0.1s", Some(ms(100))),
        ("0.25m", Some(secs(15))),
        ("0ms", Some(Duration::ZERO)),
        ("ten", None),
        ("10", None),
        ("10h", None),
        ("10 s", None),
        ("-1s", None),
        (".5s", None),
        ("1.s", None),
        ("1.2.3s", None),
        ("s", None),
        ("", None),
        ("99999999999999999999m", None),
    ];
    for (text, expected) in cases {
        assert_eq!(parse_duration(text), expected, "{text:?}");
    }
}

#[test]
fn bad_durations_name_the_accepted_form() {
    let text = MINIMAL
        .replace("\"1s\"", "\"ten\"")
        .replace("rate = 10", "rate = 10\nrequest_timeout = 5");
    // The window is not checked against the bad load duration.
    let all = problems(&format!(
        "{text}[drain]\ntimeout = 2.5\n[[faults.windows]]\nstart = \"2s\"\nend = \"3s\"\n"
    ));
    let form = r#"expected a duration such as "500ms", "10s" or "2m""#;
    assert_problem(&all, "load.duration", &format!(r#"{form}, got "ten""#));
    assert_problem(&all, "load.request_timeout", "got the number 5");
    assert_problem(&all, "load.request_timeout", "a number is not a duration");
    assert_problem(&all, "drain.timeout", "got the number 2.5");
    assert_eq!(all.len(), 3, "{all:?}");
}

#[test]
fn a_run_id_may_be_pinned_and_is_checked() {
    let with = |id: &str| MINIMAL.replace("rate = 10", &format!("rate = 10\nrun_id = {id:?}"));
    assert_eq!(
        ok(&with("ci42")).load.run_id.map(|r| r.to_string()),
        Some("ci42".into())
    );
    assert_eq!(
        ok(MINIMAL).load.run_id,
        None,
        "derived per run when not given"
    );
    let all = problems(&with("CI-42"));
    assert_problem(
        &all,
        "load.run_id",
        r#"expected 1 to 16 lowercase letters and digits (a-z, 0-9), got "CI-42""#,
    );
    assert_eq!(all.len(), 1, "{all:?}");
}

#[test]
fn zero_durations_are_rejected_where_they_must_be_positive() {
    let all = problems_with(
        "[merchant]\nprovider_timeout = \"0s\"\nretry_backoff = \"0s\"\npending_grace = \"0ms\"\n\
         [webhooks]\ntimeout = \"0ms\"\nretry_schedule = [\"0ms\", \"soon\"]\n",
    );
    assert_problem(
        &all,
        "merchant.provider_timeout",
        "must be greater than 0, got 0s",
    );
    assert_problem(&all, "webhooks.timeout", "must be greater than 0, got 0ms");
    assert_problem(&all, "webhooks.retry_schedule[1]", r#"got "soon""#);
    assert_eq!(
        all.len(),
        3,
        "zero backoff, grace and retry wait are fine: {all:?}"
    );
}

#[test]
fn missing_required_keys_are_named() {
    let all = problems("seed = 3\n[load]\nprofile = \"constant\"\n");
    assert_problem(&all, "name", "required key is missing");
    assert_problem(&all, "load.duration", "required key is missing");
    assert_problem(&all, "load.rate", "required key is missing");
    assert_eq!(all.len(), 3, "{all:?}");

    let all = problems("name = \"t\"\n");
    assert_eq!(
        all,
        [
            "load: required table is missing: expected [load] with profile, duration and rate \
          (profile \"constant\"), or another profile with its keys, or a [capacity] table"
        ]
    );

    let all = problems("name = \"t\"\n[load]\nduration = \"1s\"\n");
    assert_problem(
        &all,
        "load.profile",
        r#"expected "constant", "ramp", "steps", "spike" or "stages""#,
    );
}

#[test]
fn name_must_be_usable_as_a_folder() {
    let all = problems(&MINIMAL.replace("name = \"t\"", "name = \"../etc passwd\""));
    assert_problem(&all, "name", r#"letters, digits, "_" and "-""#);
    assert_problem(&all, "name", r#"got "../etc passwd""#);
    let all = problems(&MINIMAL.replace("name = \"t\"", "name = \"\""));
    assert_problem(&all, "name", r#"got """#);
}

#[test]
fn rate_keys_belong_to_their_profile() {
    let all = problems(&MINIMAL.replace("rate = 10", "rate = 10\nfrom = 1\nto = 5"));
    assert_problem(&all, "load.from", r#"not allowed with profile "constant""#);
    assert_problem(&all, "load.to", r#"to belongs to profile "ramp""#);

    let ramp = MINIMAL.replace("\"constant\"", "\"ramp\"");
    let all = problems(&ramp);
    assert_problem(&all, "load.rate", r#"not allowed with profile "ramp""#);
    assert_problem(&all, "load.from", "required key is missing");
    assert_problem(&all, "load.to", "required key is missing");

    let s = ok(&ramp.replace("rate = 10", "from = 0\nto = 5"));
    assert_eq!(
        s.load.profile,
        Profile::Ramp {
            from: 0.0,
            to: 5.0,
            duration: secs(1)
        }
    );
    let all = problems(&ramp.replace("rate = 10", "from = -1\nto = 0"));
    assert_problem(&all, "load.from", "must be a number >= 0, got -1");
    assert_problem(&all, "load.to", "must be a number greater than 0, got 0");
}

#[test]
fn unknown_profile_lists_the_accepted_ones() {
    let all = problems(&MINIMAL.replace("\"constant\"", "\"burst\""));
    assert_eq!(
        all,
        [r#"load.profile: expected "constant", "ramp", "steps", "spike" or "stages", got "burst""#]
    );
}

#[test]
fn numbers_out_of_range_are_reported() {
    let text = MINIMAL
        .replace("name = \"t\"", "name = \"t\"\nseed = -1")
        .replace("rate = 10", "rate = 0\nmax_in_flight = 0");
    let all = problems(&format!(
        "{text}[orders]\namount_min = 0\n[merchant]\nmax_retries = -2\n\
         [gates]\nsuccess_rate_min = 1.2\np99_ms_max = -5\nshed_max = -1\n"
    ));
    assert_problem(&all, "seed", "must be >= 0, got -1");
    assert_problem(&all, "load.rate", "must be a number greater than 0, got 0");
    assert_problem(&all, "load.max_in_flight", "must be greater than 0, got 0");
    assert_problem(&all, "orders.amount_min", "must be greater than 0, got 0");
    assert_problem(&all, "merchant.max_retries", "must be >= 0, got -2");
    assert_problem(
        &all,
        "gates.success_rate_min",
        "must be within 0.0..=1.0, got 1.2",
    );
    assert_problem(&all, "gates.p99_ms_max", "greater than 0, got -5");
    assert_problem(&all, "gates.shed_max", "must be >= 0, got -1");
    assert_eq!(all.len(), 8, "{all:?}");
}

#[test]
fn orders_are_checked() {
    let all =
        problems_with("[orders]\namount_max = 100\ncurrency = \"USD\"\npayment_method = \"\"\n");
    assert_problem(
        &all,
        "orders.amount_max",
        "must be >= amount_min (500, the default), got 100",
    );
    assert_problem(
        &all,
        "orders.currency",
        r#"three lower-case letters such as "usd", got "USD""#,
    );
    assert_problem(&all, "orders.payment_method", "must not be empty");
}

#[test]
fn only_known_dialect_and_merchant_kind_are_accepted() {
    let all = problems_with("[provider]\ndialect = \"adyen\"\n[merchant]\nkind = \"remote\"\n");
    assert_problem(
        &all,
        "provider.dialect",
        r#"expected "stripe" or "gateway", got "adyen""#,
    );
    assert_problem(&all, "merchant.kind", r#"expected "reference""#);
}

#[test]
fn provider_max_in_flight_defaults_and_refuses_what_is_not_a_positive_integer() {
    assert_eq!(
        ok(MINIMAL).provider.max_in_flight,
        crate::scenario::defaults::PROVIDER_MAX_IN_FLIGHT
    );
    let set = ok(&format!("{MINIMAL}[provider]\nmax_in_flight = 16\n"));
    assert_eq!(set.provider.max_in_flight.get(), 16);
    for (bad, says) in [
        ("0", "must be greater than 0, got 0"),
        ("-3", "must be greater than 0, got -3"),
    ] {
        let all = problems_with(&format!(
            "[provider]\nmax_in_flight = {bad}\nhold = \"0s\"\n"
        ));
        assert_problem(&all, "provider.max_in_flight", says);
        // Reported with the other problems of the scenario, at once.
        assert_problem(&all, "provider.hold", "must be greater than 0");
    }
    let all = problems_with("[provider]\nmax_in_flight = \"many\"\n");
    assert!(
        all.iter()
            .any(|p| p.contains("max_in_flight") && p.contains("integer")),
        "{all:?}"
    );
}

#[test]
fn gateway_scenario_is_the_smoke_workload_on_the_gateway() {
    let (smoke, gw) = (ok(SMOKE), ok(GATEWAY));
    assert_eq!(gw.provider.dialect, Dialect::Gateway);
    assert_eq!(gw.provider.hold, smoke.provider.hold);
    assert_eq!((&gw.load, &gw.orders), (&smoke.load, &smoke.orders));
    assert_eq!(gw.faults, smoke.faults, "the same fault plan");
    assert_eq!(gw.webhooks.chaos, smoke.webhooks.chaos);
    assert_eq!(gw.webhooks.timeout, smoke.webhooks.timeout);
    assert_eq!(
        (&gw.merchant, &gw.drain, &gw.gates),
        (&smoke.merchant, &smoke.drain, &smoke.gates)
    );
    assert_eq!(
        gw.webhooks.retry_schedule.len(),
        7,
        "the gateway's own schedule"
    );
}

#[test]
fn gateway_dialect_defaults_to_alipays_schedule_compressed() {
    let s = ok(&format!("{MINIMAL}[provider]\ndialect = \"gateway\"\n"));
    assert_eq!(s.provider.dialect, Dialect::Gateway);
    // 4m, 10m, 10m, 1h, 2h, 6h, 15h divided by 6000.
    let want: Vec<Duration> = [40, 100, 100, 600, 1200, 3600, 9000].map(ms).to_vec();
    assert_eq!(s.webhooks.retry_schedule, want);
    let own = ok(&format!(
        "{MINIMAL}[provider]\ndialect = \"gateway\"\n[webhooks]\nretry_schedule = [\"5ms\"]\n"
    ));
    assert_eq!(
        own.webhooks.retry_schedule,
        vec![ms(5)],
        "the scenario overrides it"
    );
    let stripe = ok(MINIMAL);
    assert_eq!(stripe.provider.dialect, Dialect::Stripe);
    assert_eq!(stripe.webhooks.retry_schedule.len(), 5);
}

#[test]
fn hold_must_exceed_the_merchant_timeout() {
    let all =
        problems_with("[provider]\nhold = \"500ms\"\n[merchant]\nprovider_timeout = \"0.5s\"\n");
    assert_eq!(
        all,
        [
            "provider.hold: must exceed merchant.provider_timeout (0.5s) so that timeout faults \
          time the merchant out, got 500ms"
        ]
    );
    let all = problems_with("[provider]\nhold = \"1s\"\n");
    assert_problem(&all, "provider.hold", "(1s, the default)");
}

#[test]
fn webhook_secret_must_look_like_a_signing_secret() {
    let all = problems_with("[webhooks]\nsecret = \"hunter2\"\n");
    assert_eq!(
        all,
        [
            r#"webhooks.secret: expected "whsec_" and at least 1 more character, e.g. "whsec_paychaos""#
        ]
    );
    // #11: the prefix alone, an empty key, was accepted.
    let all = problems_with("[webhooks]\nsecret = \"whsec_\"\n");
    assert_problem(
        &all,
        "webhooks.secret",
        r#"expected "whsec_" and at least 1 more"#,
    );
}

#[test]
fn an_integer_beyond_64_bits_is_reported_at_its_key() {
    // #11: "number too large to fit in target type", with no key path.
    let all = problems_with("[orders]\namount_max = 18446744073709551615\n");
    assert_eq!(
        all,
        ["orders.amount_max: expected an integer within -9223372036854775808..=9223372036854775807 \
          (TOML integers are 64-bit) (at line 8, column 14)"]
    );
    let all = problems_with("[webhooks]\ndrop_attempts = -99999999999999999999\n");
    assert_problem(&all, "webhooks.drop_attempts", "expected an integer within");
}

#[test]
fn several_problems_are_reported_together_in_file_order() {
    let text = r#"
name = "bad name"
[load]
profile = "ramp"
rate = 5
to = 10
duration = "ten"
[faults]
timeout = 1.5
[[faults.windows]]
start = "4s"
end = "3s"
[gates]
success_rate_min = 2
"#;
    let err = from_toml_str(text, "bad.toml").unwrap_err();
    let paths: Vec<&str> = err.problems.iter().map(|p| p.path.as_str()).collect();
    assert_eq!(
        paths,
        [
            "name",
            "load.duration",
            "load.rate",
            "load.from",
            "faults.timeout",
            "faults.windows[0].end",
            "gates.success_rate_min",
        ]
    );
    // Display: one problem per line, each `<origin>: <path>: <message>`.
    let shown = err.to_string();
    assert_eq!(shown.lines().count(), 7);
    assert!(shown
        .lines()
        .all(|l| l.starts_with("bad.toml: ") && !l.ends_with('\n')));
    assert!(shown.contains("bad.toml: faults.timeout: must be within 0.0..=1.0, got 1.5"));
}

#[test]
fn unknown_key_is_named_with_path_and_position() {
    let err = from_toml_str(
        &format!("{MINIMAL}[merchant]\nkindd = \"reference\"\n"),
        "s.toml",
    )
    .unwrap_err();
    assert_eq!(err.problems.len(), 1);
    let p = &err.problems[0];
    assert_eq!(p.path, "merchant.kindd");
    assert!(
        p.message
            .starts_with("unknown field `kindd`, expected one of `kind`"),
        "{p:?}"
    );
    assert!(
        p.message
            .ends_with("(at line 8, column 1); did you mean `kind`?"),
        "{p:?}"
    );
    assert!(err
        .to_string()
        .starts_with("s.toml: merchant.kindd: unknown field"));
}

#[test]
fn wrong_types_are_reported_with_path_and_position() {
    let all = problems(&MINIMAL.replace("rate = 10", "rate = \"fast\""));
    assert_eq!(
        all,
        [r#"load.rate: invalid type: string "fast", expected a number (at line 5, column 8)"#]
    );
    let all = problems_with("[[faults.windows]]\nstart = \"0s\"\nend = true\n");
    assert_problem(&all, "faults.windows[0].end", "expected a duration string");
    let all = problems_with("[webhooks]\nretry_schedule = \"1s\"\n");
    assert_problem(&all, "webhooks.retry_schedule", "expected an array");
}

#[test]
fn syntax_errors_carry_line_and_column() {
    let err = from_toml_str("name = \"t\"\n[load\n", "s.toml").unwrap_err();
    assert_eq!(err.problems.len(), 1);
    assert_eq!(err.problems[0].path, "");
    assert!(
        err.problems[0].message.contains("(at line 2, column"),
        "{err}"
    );
    assert!(
        err.to_string().starts_with("s.toml: invalid table header"),
        "{err}"
    );
}

#[test]
fn the_webhook_ack_gate_is_a_positive_number_of_milliseconds() {
    let s = ok(&format!("{MINIMAL}[gates]\nwebhook_ack_p99_ms_max = 250\n"));
    assert_eq!(s.gates.webhook_ack_p99_ms_max, Some(250.0));
    assert_eq!(ok(MINIMAL).gates.webhook_ack_p99_ms_max, None);
    let all = problems_with("[gates]\nwebhook_ack_p99_ms_max = 0\n");
    assert_problem(
        &all,
        "gates.webhook_ack_p99_ms_max",
        "must be a number greater than 0, got 0",
    );
}
