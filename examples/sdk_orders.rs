//! Test support for `tests/sdk/run.sh`: prints, as JSON, order ids whose first charge
//! attempt meets a given transport fault and whose next attempts are clean, under a
//! scenario's seed and fault plan, so the SDK programs can rely on "a 500, then success"
//! without guessing. Usage: `sdk_orders SCENARIO PREFIX…` (one set of orders per prefix).

use std::process::ExitCode;
use std::time::Duration;

use paychaos::chaos::{Chaos, FaultKind};
use paychaos::scenario::Scenario;

/// Attempts after the first that must be clean: the SDK's retry and a manual resend.
const CLEAN_AFTER: u32 = 3;

/// The first `{prefix}{n}` whose attempt 0 meets `fault`, the next attempts none, and whose
/// card chaos leaves alone.
fn find(chaos: &Chaos, prefix: &str, fault: FaultKind) -> Option<String> {
    (0..100_000).map(|n| format!("{prefix}{n:06}")).find(|o| {
        chaos.sticky(o, Duration::ZERO).is_none()
            && chaos.attempt(o, 0, Duration::ZERO) == Some(fault)
            && (1..=CLEAN_AFTER).all(|a| chaos.attempt(o, a, Duration::ZERO).is_none())
    })
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let Some((file, prefixes)) = args.split_first().filter(|(_, p)| !p.is_empty()) else {
        eprintln!("usage: sdk_orders SCENARIO PREFIX...");
        return ExitCode::from(2);
    };
    let scenario = match Scenario::load(std::path::Path::new(file)) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("{e}");
            return ExitCode::from(2);
        }
    };
    let chaos = Chaos::new(
        scenario.seed,
        scenario.faults.clone(),
        scenario.webhooks.chaos.clone(),
    );
    let mut out = serde_json::Map::new();
    for prefix in prefixes {
        let mut set = serde_json::Map::new();
        for (name, fault) in [
            ("server_error", FaultKind::ServerError),
            ("answer_lost", FaultKind::TimeoutAfterCharge),
        ] {
            match find(&chaos, prefix, fault) {
                Some(o) => set.insert(name.into(), o.into()),
                None => {
                    eprintln!("no order {prefix}… meets {name} once under {file}: raise its rate");
                    return ExitCode::from(2);
                }
            };
        }
        out.insert(prefix.clone(), set.into());
    }
    println!("{}", serde_json::Value::Object(out));
    ExitCode::SUCCESS
}
