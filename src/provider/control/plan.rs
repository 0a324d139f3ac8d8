//! The fault plan as the control API reads and writes it: JSON with the scenario's key names
//! (`faults.*`, `webhooks.*` chaos keys, `seed`), durations as strings such as `"50ms"`.
//! Incoming plans go through the scenario's own checks; PATCH is a JSON merge patch
//! (RFC 7396) over the plan in force. Pure.

use std::time::Duration;

use serde::Deserialize;
use serde_json::{json, Map, Value};

use crate::chaos::{Chaos, Latency};
use crate::scenario::raw::{RawFaults, RawWebhooks};
use crate::scenario::validate::run_time_faults;
use crate::scenario::Problem;

/// The JSON a PUT carries; every key may be left out (the scenario's defaults apply, and
/// the seed in force stays).
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct WirePlan {
    seed: Option<u64>,
    faults: Option<RawFaults>,
    webhooks: Option<RawWebhooks>,
}

/// The plan in force, in the shape a PUT accepts back.
pub fn to_json(chaos: &Chaos) -> Value {
    let plan = &chaos.plan;
    let mut faults = Map::new();
    for (kind, rate) in plan.rates {
        faults.insert(kind.as_str().into(), json!(rate));
    }
    if let Some(l) = &plan.latency {
        faults.insert("latency".into(), latency(l));
    }
    let windows: Vec<Value> = plan
        .windows
        .iter()
        .map(|w| {
            let mut o = Map::new();
            o.insert("name".into(), json!(w.name));
            o.insert("start".into(), json!(duration_text(w.start)));
            o.insert("end".into(), json!(duration_text(w.end)));
            for (kind, rate) in w.rates {
                if let Some(r) = rate {
                    o.insert(kind.as_str().into(), json!(r));
                }
            }
            if let Some(l) = &w.latency {
                o.insert("latency".into(), latency(l));
            }
            Value::Object(o)
        })
        .collect();
    faults.insert("windows".into(), Value::Array(windows));
    // Only kinds that target more than the charge (the default), so a plan without targets
    // reads as it always did.
    let targets: Map<String, Value> = plan
        .targets
        .iter()
        .filter(|(_, t)| !t.is_charge_only())
        .map(|(kind, t)| (kind.as_str().to_string(), json!(t)))
        .collect();
    if !targets.is_empty() {
        faults.insert("targets".into(), Value::Object(targets));
    }
    let wh = &chaos.webhooks;
    let mut webhooks = Map::new();
    webhooks.insert("delay".into(), json!(wh.delay));
    if let Some(l) = &wh.delay_latency {
        webhooks.insert("delay_latency".into(), latency(l));
    }
    webhooks.insert("duplicate".into(), json!(wh.duplicate));
    webhooks.insert("reorder".into(), json!(wh.reorder));
    webhooks.insert("drop_first".into(), json!(wh.drop_first));
    // Shown even with drop_first off (where it does nothing), so that a plan read back, or
    // patched with drop_first on again, keeps it; a plan built in code may hold 0 there,
    // which no scenario can, and is left to the scenario's default.
    if wh.drop_first > 0.0 || wh.drop_attempts > 0 {
        webhooks.insert("drop_attempts".into(), json!(wh.drop_attempts));
    }
    webhooks.insert("forged".into(), json!(wh.forged));
    webhooks.insert("stale".into(), json!(wh.stale));
    webhooks.insert("unsigned".into(), json!(wh.unsigned));
    json!({ "seed": chaos.seed, "faults": faults, "webhooks": webhooks })
}

fn latency(l: &Latency) -> Value {
    match *l {
        Latency::Fixed { value } => json!({
            "distribution": "fixed",
            "value": duration_text(value),
        }),
        Latency::Uniform { min, max } => json!({
            "distribution": "uniform",
            "min": duration_text(min),
            "max": duration_text(max),
        }),
        Latency::Exponential { mean, max } => json!({
            "distribution": "exponential",
            "mean": duration_text(mean),
            "max": duration_text(max),
        }),
    }
}

/// A duration as the scenario writes it, exactly: `"2s"`, `"20.5s"`, `"50ms"`, `"1.25ms"`.
pub fn duration_text(d: Duration) -> String {
    let ns = d.as_nanos();
    if ns.is_multiple_of(1_000_000_000) {
        format!("{}s", ns / 1_000_000_000)
    } else if ns.is_multiple_of(1_000_000) && ns > 1_000_000_000 {
        let ms = format!("{:03}", ns / 1_000_000 % 1000);
        format!("{}.{}s", ns / 1_000_000_000, ms.trim_end_matches('0'))
    } else if ns.is_multiple_of(1_000_000) {
        format!("{}ms", ns / 1_000_000)
    } else {
        let frac = format!("{:06}", ns % 1_000_000);
        format!("{}.{}ms", ns / 1_000_000, frac.trim_end_matches('0'))
    }
}

/// Parses and checks a whole plan; `seed` is kept when the plan names none. Every problem
/// found is returned, each at its key path (a malformed document stops at its first one).
pub fn from_json(body: &[u8], seed: u64) -> Result<Chaos, Vec<Problem>> {
    let de = &mut serde_json::Deserializer::from_slice(body);
    let wire: WirePlan = serde_path_to_error::deserialize(de).map_err(|err| {
        let path = err.path().to_string();
        let path = if path == "." { String::new() } else { path };
        let message = wire_message(&path, &err.inner().to_string());
        vec![Problem { path, message }]
    })?;
    let mut problems = Vec::new();
    let mut webhooks = wire.webhooks.unwrap_or_default();
    // Delivery settings belong to the dispatcher's configuration, fixed at start.
    let fixed = [
        (
            "secret",
            webhooks.secret.take().is_some(),
            "--webhook-secret",
        ),
        (
            "retry_schedule",
            webhooks.retry_schedule.take().is_some(),
            "--scenario",
        ),
        ("timeout", webhooks.timeout.take().is_some(), "--scenario"),
    ];
    for (key, given, how) in fixed {
        if given {
            problems.push(Problem {
                path: format!("webhooks.{key}"),
                message: format!(
                    "cannot be changed while the provider runs (set it at start with {how}); \
                     only the chaos keys can (delay, delay_latency, duplicate, \
                     reorder, drop_first, drop_attempts, forged, stale, unsigned)"
                ),
            });
        }
    }
    let faults = wire.faults.unwrap_or_default();
    match run_time_faults(&faults, &webhooks) {
        Ok((plan, chaos)) if problems.is_empty() => {
            Ok(Chaos::new(wire.seed.unwrap_or(seed), plan, chaos))
        }
        Ok(_) => Err(problems),
        Err(more) => {
            problems.extend(more);
            Err(problems)
        }
    }
}

/// A serde message in the words of the JSON and its keys: serde names Rust types (`expected
/// struct RawFaults`, `f64`), a client knows the plan's keys.
fn wire_message(path: &str, serde: &str) -> String {
    let mut message = serde
        .replace("expected f64", "expected a number")
        .replace("expected u64", "expected an integer >= 0")
        .replace("expected i64", "expected an integer")
        .replace("expected a sequence", "expected an array");
    const STRUCT: &str = "expected struct ";
    if let Some(at) = message.find(STRUCT) {
        let tail = &message[at + STRUCT.len()..];
        let name_len = tail
            .find(|c: char| !c.is_ascii_alphanumeric() && c != '_')
            .unwrap_or(tail.len());
        let mut rest = &tail[name_len..];
        // An array given for an object: serde's positional form is no form to suggest.
        if let Some(after) = rest.strip_prefix(" with ") {
            rest = after
                .find(" elements")
                .map_or(rest, |i| &after[i + " elements".len()..]);
        }
        message = format!("{}expected {}{rest}", &message[..at], object_form(path));
    }
    message
}

/// The object expected at `path` of a plan, with an example.
fn object_form(path: &str) -> &'static str {
    let last = path.rsplit('.').next().unwrap_or("");
    if path.is_empty() {
        r#"a JSON object with the keys "seed", "faults" and "webhooks", e.g. {"faults": {"timeout": 0.1}}"#
    } else if path == "faults" {
        r#"an object of fault rates, "latency" and "windows", e.g. {"timeout": 0.1}"#
    } else if path == "webhooks" {
        r#"an object of webhook chaos rates, e.g. {"duplicate": 0.1}"#
    } else if last == "latency" || last == "delay_latency" {
        r#"a latency object, e.g. {"distribution": "uniform", "min": "1ms", "max": "10ms"}"#
    } else if path.starts_with("faults.windows[") {
        r#"a window object, e.g. {"start": "2s", "end": "5s", "server_error": 0.5}"#
    } else {
        "a JSON object"
    }
}

/// Applies a JSON merge patch (RFC 7396): objects merge key by key, `null` removes a key,
/// anything else (arrays included) replaces.
pub fn merge_patch(target: &mut Value, patch: &Value) {
    let Value::Object(p) = patch else {
        *target = patch.clone();
        return;
    };
    if !target.is_object() {
        *target = Value::Object(Map::new());
    }
    if let Value::Object(t) = target {
        for (k, v) in p {
            if v.is_null() {
                t.remove(k);
            } else {
                merge_patch(t.entry(k.clone()).or_insert(Value::Null), v);
            }
        }
    }
}

/// Problems as the control API answers them.
pub fn problems_json(problems: &[Problem]) -> Value {
    let list: Vec<Value> = problems
        .iter()
        .map(|p| json!({ "path": p.path, "message": p.message }))
        .collect();
    json!({ "error": "invalid fault plan", "problems": list })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::chaos::{rates_of, FaultKind, FaultPlan, WebhookChaos, Window};
    use crate::scenario::validate::parse_duration;
    use enum_map::EnumMap;

    fn sample() -> Chaos {
        let mut rates = EnumMap::default();
        rates[FaultKind::ServerError] = Some(0.5);
        Chaos::new(
            7,
            FaultPlan {
                rates: rates_of([
                    (FaultKind::InsufficientFunds, 0.1),
                    (FaultKind::Timeout, 0.05),
                ]),
                latency: Some(Latency::Uniform {
                    min: Duration::from_millis(1),
                    max: Duration::from_micros(12_500),
                }),
                windows: vec![Window {
                    name: "outage".into(),
                    start: Duration::from_secs(10),
                    end: Duration::from_millis(20_500),
                    rates,
                    latency: Some(Latency::Fixed {
                        value: Duration::from_millis(300),
                    }),
                }],
                targets: EnumMap::from_fn(|k: FaultKind| {
                    if k == FaultKind::Timeout {
                        k.targetable()
                    } else {
                        crate::chaos::Targets::CHARGE
                    }
                }),
            },
            WebhookChaos {
                delay: 0.2,
                delay_latency: Some(Latency::Exponential {
                    mean: Duration::from_millis(50),
                    max: Duration::from_secs(1),
                }),
                duplicate: 0.3,
                forged: 0.1,
                reorder: 0.2,
                drop_first: 0.1,
                drop_attempts: 1,
                stale: 0.05,
                unsigned: 0.05,
            },
        )
    }

    #[test]
    fn the_plan_round_trips_through_its_json() {
        let c = sample();
        let text = to_json(&c).to_string();
        let back = from_json(text.as_bytes(), 99).unwrap();
        assert_eq!(back.seed, 7, "the plan names its seed");
        assert_eq!(back.plan, c.plan);
        assert_eq!(back.webhooks, c.webhooks);
    }

    #[test]
    fn drop_attempts_survive_drop_first_switched_off_and_on_again() {
        // The plan_patch fuzz target's read-back check failed on `{"webhooks":{"drop_first":0}}`:
        // drop_attempts was left out of the JSON while drop_first was 0, so it fell back to
        // the default.
        let mut c = sample();
        c.webhooks.drop_attempts = 3;
        c.webhooks.drop_first = 0.0;
        let back = from_json(to_json(&c).to_string().as_bytes(), 1).unwrap();
        assert_eq!(back.webhooks, c.webhooks);
        let mut v = to_json(&back);
        merge_patch(&mut v, &json!({"webhooks": {"drop_first": 0.5}}));
        let on = from_json(v.to_string().as_bytes(), 1).unwrap();
        assert_eq!(on.webhooks.drop_attempts, 3);
    }

    #[test]
    fn json_uses_the_scenario_key_names_and_duration_strings() {
        let v = to_json(&sample());
        assert_eq!(v["faults"]["insufficient_funds"], 0.1);
        assert_eq!(v["faults"]["rate_limit"], 0.0);
        assert_eq!(v["faults"]["latency"]["max"], "12.5ms");
        let w = &v["faults"]["windows"][0];
        assert_eq!(
            (w["start"].as_str(), w["end"].as_str()),
            (Some("10s"), Some("20.5s"))
        );
        assert_eq!(w["server_error"], 0.5);
        let t = &v["faults"]["targets"];
        assert_eq!(
            t["timeout"],
            json!(["charge", "refund", "query", "capture"])
        );
        assert!(
            t.get("server_error").is_none(),
            "only kinds beyond the charge"
        );
        assert!(w.get("timeout").is_none(), "only the rates a window sets");
        assert_eq!(
            v["webhooks"]["delay_latency"]["distribution"],
            "exponential"
        );
    }

    #[test]
    fn duration_text_is_exact_and_parses_back() {
        for ns in [
            0,
            1,
            1_500,
            2_000_000,
            1_250_000,
            3_000_000_000,
            1_500_000_000,
            61_001_000_000,
        ] {
            let d = Duration::from_nanos(ns);
            let text = duration_text(d);
            assert_eq!(parse_duration(&text), Some(d), "{text}");
        }
        assert_eq!(duration_text(Duration::from_millis(1500)), "1.5s");
        assert_eq!(duration_text(Duration::from_millis(1005)), "1.005s");
        assert_eq!(duration_text(Duration::from_millis(999)), "999ms");
        assert_eq!(duration_text(Duration::from_micros(1250)), "1.25ms");
    }

    #[test]
    fn a_plan_without_a_seed_keeps_the_one_in_force_and_defaults_the_rest() {
        let c = from_json(br#"{"faults":{"insufficient_funds":1.0}}"#, 42).unwrap();
        assert_eq!(c.seed, 42);
        assert_eq!(c.plan.rates[FaultKind::InsufficientFunds], 1.0);
        assert_eq!(c.plan.rates[FaultKind::Timeout], 0.0);
        assert_eq!(c.webhooks.duplicate, 0.0);
        assert!(c.webhooks.delay_latency.is_some(), "the scenario's default");
        assert_eq!(from_json(b"{}", 3).unwrap().plan, FaultPlan::default());
    }

    #[test]
    fn every_semantic_problem_is_listed_with_its_key_path() {
        let body = br#"{"faults":{"timeout":1.5,"server_error":0.7,"rate_limit":0.6,
            "windows":[{"name":"w","start":"5s","end":"1s"}],
            "latency":{"distribution":"fixed","value":"fast"}},
            "webhooks":{"secret":"whsec_x","duplicate":-1}}"#;
        let problems = from_json(body, 1).unwrap_err();
        let paths: Vec<&str> = problems.iter().map(|p| p.path.as_str()).collect();
        for want in [
            "webhooks.secret",
            "faults.timeout",
            "faults",
            "faults.latency.value",
            "faults.windows[0].end",
            "webhooks.duplicate",
        ] {
            assert!(paths.contains(&want), "{want} missing from {problems:?}");
        }
    }

    #[test]
    fn a_malformed_document_names_the_key_that_broke_it() {
        let p = from_json(br#"{"faults":{"timout":0.1}}"#, 1).unwrap_err();
        assert_eq!(p.len(), 1);
        assert!(p[0].path.starts_with("faults"), "{p:?}");
        assert!(p[0].message.contains("unknown field `timout`"), "{p:?}");
        let p = from_json(br#"{"faults":{"timeout":"high"}}"#, 1).unwrap_err();
        assert_eq!(p[0].path, "faults.timeout");
        assert!(p[0].message.contains("expected a number"), "{p:?}");
        let p = from_json(b"not json", 1).unwrap_err();
        assert_eq!(p[0].path, "");
    }

    #[test]
    fn type_errors_name_the_json_form_not_a_rust_type() {
        // #11: `expected struct WirePlan` reached the client.
        for (body, path, form) in [
            (&b"[]"[..], "", r#"a JSON object with the keys "seed""#),
            (b"7", "", r#"a JSON object with the keys "seed""#),
            (br#"{"faults":1}"#, "faults", r#"{"timeout": 0.1}"#),
            (
                br#"{"faults":{"windows":[1]}}"#,
                "faults.windows[0]",
                r#""start": "2s""#,
            ),
            (
                br#"{"faults":{"windows":1}}"#,
                "faults.windows",
                "expected an array",
            ),
            (
                br#"{"faults":{"latency":"x"}}"#,
                "faults.latency",
                r#""distribution": "uniform""#,
            ),
            (br#"{"webhooks":[]}"#, "webhooks", r#"{"duplicate": 0.1}"#),
            (
                br#"{"webhooks":{"drop_attempts":1.5}}"#,
                "webhooks.drop_attempts",
                "expected an integer",
            ),
        ] {
            let p = from_json(body, 1).unwrap_err();
            let shown = String::from_utf8_lossy(body);
            assert_eq!(p[0].path, path, "{shown}");
            assert!(p[0].message.contains(form), "{shown}: {p:?}");
            for rust in ["struct", "Raw", "WirePlan", "i64", "f64", "elements"] {
                assert!(!p[0].message.contains(rust), "{shown}: {p:?}");
            }
        }
    }

    #[test]
    fn merge_patch_merges_objects_removes_nulls_and_replaces_the_rest() {
        let mut v = json!({"a": {"b": 1, "c": 2}, "l": [1, 2], "k": 1});
        merge_patch(
            &mut v,
            &json!({"a": {"b": 5, "c": null}, "l": [3], "n": {"x": 1}}),
        );
        assert_eq!(v, json!({"a": {"b": 5}, "l": [3], "k": 1, "n": {"x": 1}}));
    }
}
