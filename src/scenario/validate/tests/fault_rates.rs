//! Scenario checks for fault rates, their sums, fault windows and latency tables: each
//! problem named at its key path (helpers shared with `tests`).

use super::*;

#[test]
fn rates_out_of_range_are_reported_with_their_paths() {
    let all = problems_with(
        "[faults]\ntimeout = 1.5\nrisk_block = -0.1\nserver_error = nan\n\
         [webhooks]\nduplicate = 2\n",
    );
    assert_problem(&all, "faults.timeout", "must be within 0.0..=1.0, got 1.5");
    assert_problem(&all, "faults.risk_block", "got -0.1");
    assert_problem(&all, "faults.server_error", "got NaN");
    assert_problem(
        &all,
        "webhooks.duplicate",
        "must be within 0.0..=1.0, got 2",
    );
    assert_eq!(
        all.len(),
        4,
        "an out-of-range rate does not also fail its sum: {all:?}"
    );
}

#[test]
fn rate_sums_over_one_are_reported() {
    let all = problems_with(
        "[faults]\ninsufficient_funds = 0.7\nrisk_block = 0.5\n\
         timeout = 0.3\ntimeout_after_charge = 0.3\nserver_error = 0.3\nrate_limit = 0.2\n\
         [[faults.windows]]\nstart = \"0s\"\nend = \"1s\"\nrisk_block = 0.1\n",
    );
    // The window fixes the sticky sum and leaves the per-attempt one to the base report.
    assert_eq!(
        all,
        [
            "faults: insufficient_funds + risk_block must sum to at most 1.0, got 1.2",
            "faults: timeout + timeout_after_charge + server_error + rate_limit + \
             processing_error + late_charge + reset must sum to at most 1.0, got 1.1",
        ]
    );
    // Exactly 1 is allowed, even when float rounding lands a hair above it.
    ok(&format!(
        "{MINIMAL}[faults]\ntimeout = 0.1\nserver_error = 0.2\nrate_limit = 0.7\n"
    ));
}

#[test]
fn window_sums_apply_the_overrides_to_the_base_rates() {
    let all = problems_with(
        "[faults]\ntimeout = 0.3\nserver_error = 0.1\n\
         [[faults.windows]]\nstart = \"0s\"\nend = \"1s\"\nserver_error = 0.5\n\
         [[faults.windows]]\nstart = \"0s\"\nend = \"1s\"\nserver_error = 0.8\n",
    );
    assert_eq!(
        all,
        [
            "faults.windows[1]: timeout + timeout_after_charge + server_error + rate_limit + \
             processing_error + late_charge + reset must sum to at most 1.0 inside the window (its rates over the base rates), got 1.1"
        ]
    );
}

#[test]
fn overlapping_windows_are_checked_together() {
    let all = problems_with(
        "[[faults.windows]]\nname = \"a\"\nstart = \"0s\"\nend = \"600ms\"\ntimeout = 0.6\n\
         [[faults.windows]]\nname = \"b\"\nstart = \"400ms\"\nend = \"1s\"\nrate_limit = 0.6\n",
    );
    assert_eq!(
        all,
        [
            "faults.windows[1]: timeout + timeout_after_charge + server_error + rate_limit + \
             processing_error + late_charge + reset must sum to at most 1.0 where it overlaps faults.windows[0] (400ms to 600ms), got 1.2"
        ]
    );
}

#[test]
fn window_spans_are_checked() {
    let all = problems_with(
        "[[faults.windows]]\nstart = \"0s\"\nend = \"1s\"\n\
         [[faults.windows]]\nstart = \"4s\"\nend = \"3s\"\n\
         [[faults.windows]]\nend = \"1s\"\n\
         [[faults.windows]]\nname = \"window-0\"\nstart = \"2s\"\nend = \"3s\"\n",
    );
    assert_problem(
        &all,
        "faults.windows[1].end",
        "must be after start (4s), got 3s",
    );
    assert_problem(&all, "faults.windows[2].start", "required key is missing");
    assert_problem(
        &all,
        "faults.windows[3].name",
        "duplicate of faults.windows[0].name",
    );
    assert_problem(
        &all,
        "faults.windows[3].start",
        "must be before the end of the load (load.duration = 1s)",
    );
    assert_eq!(all.len(), 4, "{all:?}");
}

#[test]
fn latency_tables_are_checked() {
    let all = problems_with(
        "[faults]\nlatency = { distribution = \"uniform\", min = \"10ms\", max = \"1ms\" }\n\
         [[faults.windows]]\nstart = \"0s\"\nend = \"1s\"\n\
         latency = { distribution = \"fixed\", value = \"1ms\", mean = \"2ms\" }\n\
         [webhooks]\ndelay_latency = { distribution = \"normal\" }\n",
    );
    assert_problem(&all, "faults.latency.max", "must be >= min (10ms), got 1ms");
    assert_problem(
        &all,
        "faults.windows[0].latency.mean",
        r#"not allowed with distribution "fixed" (it takes value)"#,
    );
    assert_problem(
        &all,
        "webhooks.delay_latency.distribution",
        r#"expected "fixed", "uniform" or "exponential", got "normal""#,
    );
    assert_eq!(all.len(), 3, "{all:?}");

    let all = problems_with(
        "[faults]\nlatency = { distribution = \"exponential\", mean = \"0ms\", min = \"1ms\" }\n",
    );
    assert_problem(&all, "faults.latency.min", r#"(it takes mean and max)"#);
    assert_problem(&all, "faults.latency.mean", "must be greater than 0");
    let all = problems_with("[faults]\nlatency = { min = \"1ms\" }\n");
    assert_problem(
        &all,
        "faults.latency.distribution",
        "required key is missing",
    );
}
