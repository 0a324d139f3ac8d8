//! Entry points for the fuzz targets in `fuzz/` (`cargo +nightly fuzz run <target>`): each
//! feeds arbitrary bytes to one parser of untrusted input and asserts what must hold for any
//! input. Not an API: it exists so that the targets reach private parsers (`doc(hidden)`).

use std::sync::OnceLock;

use crate::provider::control::plan;
use crate::provider::dialects::{self, Route};
use crate::provider::form::Form;
use crate::scenario::{Dialect, Scenario};
use crate::signature;

/// A scenario file: parse and validate; a refusal names at least one problem, each with a
/// message, and prints.
pub fn scenario(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if let Err(e) = Scenario::from_toml_str(text, "fuzz.toml") {
        assert!(!e.problems.is_empty(), "a refusal without a problem");
        assert!(e.problems.iter().all(|p| !p.message.is_empty()));
        let _ = e.to_string();
    }
}

/// A Stripe form body: the nested decoder over all of it; then, the first byte picking the
/// route, the Stripe dialect's decoder over the rest as the body and as the query string.
pub fn stripe_form(data: &[u8]) {
    if let Ok(form) = Form::parse(data) {
        let _ = form.pairs().len();
    }
    let Some((&pick, rest)) = data.split_first() else {
        return;
    };
    let id = || "pi_00000000c723aa02cf997e09".to_string();
    let routes = [
        Route::CreateIntent,
        Route::UpdateIntent(id()),
        Route::ConfirmIntent(id()),
        Route::CaptureIntent(id()),
        Route::CancelIntent(id()),
        Route::RetrieveIntent(id()),
        Route::SearchIntents,
        Route::CreateRefund,
        Route::ListEvents,
    ];
    let route = &routes[usize::from(pick) % routes.len()];
    let query = std::str::from_utf8(rest).ok();
    let path = "/v1/payment_intents";
    let _ = dialects::of(Dialect::Stripe).decode(route, path, query, rest, "whsec_fuzz");
}

/// A gateway request: the first byte picks pay, query or refund; the rest is the JSON body
/// (or the query string of a query). A signed request with the right key decodes as the
/// unsigned one does.
pub fn gateway(data: &[u8]) {
    let Some((&pick, body)) = data.split_first() else {
        return;
    };
    let (route, path) = match pick % 3 {
        0 => (Route::GatewayPay, crate::gateway::PAY_PATH),
        1 => (Route::GatewayQuery, crate::gateway::QUERY_PATH),
        _ => (Route::GatewayRefund, crate::gateway::REFUND_PATH),
    };
    let query = std::str::from_utf8(body).ok();
    let _ = dialects::of(Dialect::Gateway).decode(&route, path, query, body, "whsec_fuzz");
}

/// A `Stripe-Signature` header against a fixed body, and the gateway's `sign` and
/// `notify_time` checks over the same text; a header the signer makes always verifies.
pub fn signature(data: &[u8]) {
    let text = String::from_utf8_lossy(data);
    let body = b"{\"id\":\"evt_1\"}";
    // As the merchant calls it: the clock now, 300 s of tolerance; and with the check off.
    let _ = signature::verify(&text, body, "whsec_fuzz", 1_700_000_000, 300);
    let _ = signature::verify(&text, body, "whsec_fuzz", 1_700_000_000, 0);
    let pairs: Vec<(String, String)> = form_urlencoded::parse(data).into_owned().collect();
    let _ = signature::gateway_verify(&pairs, "whsec_fuzz");
    let _ = signature::parse_gateway_time(&text);
    let _ = signature::gateway_check_time(&text, 1_700_000_000, 300);
    if let Some(t) = data.get(..8) {
        let t = i64::from_le_bytes(t.try_into().unwrap_or_default()) / 4;
        let header = signature::header("whsec_fuzz", t, data);
        assert_eq!(
            signature::verify(&header, data, "whsec_fuzz", t, 300),
            Ok(()),
            "{header}"
        );
    }
}

/// A control API plan: as a PUT body, and as a PATCH merged into a plan with windows and
/// latencies. A plan accepted comes back from its own JSON unchanged.
pub fn plan_patch(data: &[u8]) {
    static IN_FORCE: OnceLock<serde_json::Value> = OnceLock::new();
    let in_force = IN_FORCE.get_or_init(|| {
        let chaos = plan::from_json(PLAN_IN_FORCE.as_bytes(), 7).expect("the base plan is valid");
        plan::to_json(&chaos)
    });
    let mut accepted = Vec::new();
    if let Ok(chaos) = plan::from_json(data, 7) {
        accepted.push(chaos);
    }
    if let Ok(patch) = serde_json::from_slice::<serde_json::Value>(data) {
        let mut merged = in_force.clone();
        plan::merge_patch(&mut merged, &patch);
        if let Ok(chaos) = plan::from_json(merged.to_string().as_bytes(), 7) {
            accepted.push(chaos);
        }
    }
    for chaos in accepted {
        let shown = plan::to_json(&chaos).to_string();
        let back = plan::from_json(shown.as_bytes(), 0).expect("an accepted plan reads back");
        assert_eq!(back.seed, chaos.seed, "{shown}");
        assert_eq!(back.plan, chaos.plan, "{shown}");
        assert_eq!(back.webhooks, chaos.webhooks, "{shown}");
    }
}

/// The plan a PATCH is merged into: a bit of everything.
const PLAN_IN_FORCE: &str = r#"{"faults":{"timeout":0.1,"insufficient_funds":0.2,
"latency":{"distribution":"uniform","min":"1ms","max":"10ms"},
"windows":[{"name":"a","start":"1s","end":"2.5s","server_error":0.5,
"latency":{"distribution":"fixed","value":"300ms"}},{"name":"b","start":"2s","end":"3s"}]},
"webhooks":{"duplicate":0.3,"drop_first":0.1,"drop_attempts":2,
"delay":0.2,"delay_latency":{"distribution":"exponential","mean":"50ms","max":"1s"}}}"#;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_entry_takes_empty_and_typical_input() {
        let inputs: [&[u8]; 5] = [
            b"",
            include_bytes!("../scenarios/smoke.toml"),
            b"amount=1000&currency=usd&metadata[order_id]=o&expand[]=latest_charge",
            br#"{"faults":{"windows":[{"start":"0s","end":"1s","timeout":1}]}}"#,
            b"t=1700000000,v1=00ff",
        ];
        for data in inputs {
            scenario(data);
            stripe_form(data);
            gateway(data);
            signature(data);
            plan_patch(data);
        }
    }
}
