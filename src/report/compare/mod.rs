//! A run compared with a baseline run: per metric the base, the new value, the delta and a
//! verdict that allows for noise. Rates are compared with a two-proportion z-test at both
//! runs' sample sizes, latency percentiles with a relative tolerance above an absolute floor,
//! check counts strictly. A plan digest mismatch (the runs did not meet the same faults) is
//! reported first and marks the comparison, without hiding the rest. `view` reads the
//! figures from a report; `render` writes the comparison as Markdown and JSON.

pub mod render;
pub mod view;

use serde::Serialize;

use super::gates::{Bound, GateResult};
use super::{RunReport, Verdict};
pub use view::{load, LoadError, Loaded, ReportView};

/// The gate a run with `--baseline` adds: at most 0 metrics regressed.
pub const GATE: &str = "baseline";

/// |z| at or above which a rate difference is outside the noise: two-sided, 95 %.
pub const Z_95: f64 = 1.959_964;

/// How far latency may move before it counts.
#[derive(Clone, Copy, Debug, PartialEq, Serialize)]
pub struct Tolerance {
    /// A latency may grow by this fraction of the base value (0.10: 10 %) ...
    pub latency_relative: f64,
    /// ... or by this many ms, whichever is larger, so that µs of jitter on a fast
    /// merchant never read as a regression.
    pub latency_floor_ms: f64,
}

impl Default for Tolerance {
    fn default() -> Tolerance {
        Tolerance {
            latency_relative: 0.10,
            latency_floor_ms: 1.0,
        }
    }
}

/// One metric's verdict, and the whole comparison's.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Judgement {
    /// The same, or a difference inside the noise.
    Ok,
    Better,
    Regressed,
    /// Only one side has the figure (or it has no samples), so the two cannot be weighed.
    /// For the whole comparison: the plan digests differ and nothing regressed.
    Incomparable,
}

impl Judgement {
    pub fn as_str(self) -> &'static str {
        crate::domain::label(&self)
    }
}

/// How a metric is weighed.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Kind {
    /// A proportion of checkouts: a two-proportion z-test.
    Rate,
    /// A latency in ms: the relative tolerance above the absolute floor.
    Latency,
    /// A count of violations or failed checks: any increase regresses.
    Count,
}

/// One metric of the comparison.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Row {
    /// The metric's name: `success_rate`, `latency_ms.p99`, `checks.double_charge`, …
    pub metric: String,
    pub kind: Kind,
    /// `None` when that side does not have the metric.
    pub base: Option<f64>,
    pub new: Option<f64>,
    /// `new - base`, when both are there.
    pub delta: Option<f64>,
    /// A rate's sample size (its denominator) on each side; `None` for other kinds.
    pub base_n: Option<u64>,
    pub new_n: Option<u64>,
    pub verdict: Judgement,
    /// Why: `z = -2.41, outside ±1.96`, `within ±1.23 ms`, `not checked in base`.
    pub reason: String,
}

/// One side of the comparison, as the report says.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Side {
    pub source: String,
    pub scenario: String,
    pub seed: u64,
    pub schema_version: u32,
    /// The run's verdict (`None` in reports older than schema 3).
    pub verdict: Option<String>,
    /// `None` in reports older than plan digests.
    pub plan_digest: Option<String>,
}

/// A comparison of two runs.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Comparison {
    /// `regressed` when any metric regressed; else `incomparable` when the plan digests
    /// differ; else `better` when any metric improved; else `ok`.
    pub verdict: Judgement,
    /// `false` when the plan digests differ: the runs did not meet the same faults on the
    /// same orders (another scenario, seed or fault plan). `true` when they are equal or
    /// either report predates them (a note says so).
    pub comparable: bool,
    pub regressed: usize,
    pub better: usize,
    pub base: Side,
    pub new: Side,
    pub tolerance: Tolerance,
    /// What the reader must know before the table: the digest mismatch first.
    pub notes: Vec<String>,
    pub metrics: Vec<Row>,
}

impl Comparison {
    /// 1 when a metric regressed, else 0 (a digest mismatch alone is a warning).
    pub fn exit_code(&self) -> u8 {
        u8::from(self.verdict == Judgement::Regressed)
    }

    /// The metrics that regressed, by name.
    pub fn regressions(&self) -> Vec<&str> {
        self.metrics
            .iter()
            .filter(|r| r.verdict == Judgement::Regressed)
            .map(|r| r.metric.as_str())
            .collect()
    }

    /// The gate a run against a baseline adds: no metric regressed.
    pub fn gate(&self) -> GateResult {
        GateResult {
            name: GATE.to_string(),
            op: Bound::Max,
            threshold: 0.0,
            observed: self.regressed as f64,
            passed: self.regressed == 0,
            source: None,
            note: None,
        }
    }
}

/// Adds the baseline gate to `report` and settles its verdict again, as `build` does.
pub fn add_gate(report: &mut RunReport, cmp: &Comparison) {
    report.gates.push(cmp.gate());
    let verdict = Verdict::of(report.run.interrupted, report.passed());
    report.set_verdict(verdict);
}

/// Compares `new` with `base`.
pub fn compare(base: &Loaded, new: &Loaded, tol: Tolerance) -> Comparison {
    let (b, n) = (&base.view, &new.view);
    let mut metrics = rates(b, n);
    metrics.extend(latencies(b, n, tol));
    metrics.extend(counts(b, n));

    let mut notes = Vec::new();
    let (bd, nd) = (&b.faults.plan_digest, &n.faults.plan_digest);
    let comparable = bd.is_empty() || nd.is_empty() || bd == nd;
    if !comparable {
        notes.push(format!(
            "not comparable fault for fault: the plan digests differ (base {}, new {}): the runs \
             were planned with another scenario, seed or fault plan, so a difference below may \
             come from the faults met rather than from the merchant",
            short(bd),
            short(nd)
        ));
    } else if bd.is_empty() || nd.is_empty() {
        let which = if bd.is_empty() { "base" } else { "new" };
        notes.push(format!(
            "the {which} report carries no plan digest (schema 1): whether both runs met the \
             same faults cannot be told"
        ));
    }
    if b.scenario.name != n.scenario.name {
        notes.push(format!(
            "different scenarios: base '{}', new '{}'",
            b.scenario.name, n.scenario.name
        ));
    }
    if b.scenario.seed != n.scenario.seed {
        notes.push(format!(
            "different seeds: base {}, new {}",
            b.scenario.seed, n.scenario.seed
        ));
    }
    for (which, v) in [("base", b), ("new", n)] {
        match v.verdict.as_deref() {
            _ if v.run.interrupted => notes.push(format!(
                "the {which} run was interrupted: its figures cover only part of the load"
            )),
            Some("error") => notes.push(format!(
                "the {which} run ended in error (its merchant's final order states were \
                 unreadable): its success rates and checks mean little"
            )),
            _ => {}
        }
    }

    let regressed = count(&metrics, Judgement::Regressed);
    let better = count(&metrics, Judgement::Better);
    let verdict = if regressed > 0 {
        Judgement::Regressed
    } else if !comparable {
        Judgement::Incomparable
    } else if better > 0 {
        Judgement::Better
    } else {
        Judgement::Ok
    };
    Comparison {
        verdict,
        comparable,
        regressed,
        better,
        base: side(base),
        new: side(new),
        tolerance: tol,
        notes,
        metrics,
    }
}

fn count(rows: &[Row], j: Judgement) -> usize {
    rows.iter().filter(|r| r.verdict == j).count()
}

/// The first 12 hex digits: enough to tell two digests apart by eye.
fn short(digest: &str) -> &str {
    digest.get(..12).unwrap_or(digest)
}

fn side(l: &Loaded) -> Side {
    let v = &l.view;
    Side {
        source: l.source.display().to_string(),
        scenario: v.scenario.name.clone(),
        seed: v.scenario.seed,
        schema_version: v.schema_version,
        verdict: v.verdict.clone(),
        plan_digest: Some(v.faults.plan_digest.clone()).filter(|d| !d.is_empty()),
    }
}

/// Successes `k` in a sample of `n`.
struct Proportion {
    k: u64,
    n: u64,
}

fn rates(b: &ReportView, n: &ReportView) -> Vec<Row> {
    // Offered checkouts are the verified orders and the shed ones, as in the report's rates.
    let success = |v: &ReportView| Proportion {
        k: v.paid(),
        n: v.orders() + v.load.shed,
    };
    let eligible = |v: &ReportView| Proportion {
        k: v.paid_eligible(),
        n: v.eligible() + v.load.shed,
    };
    let errors = |v: &ReportView| Proportion {
        k: v.load.errors,
        n: v.load.sent,
    };
    let shed = |v: &ReportView| Proportion {
        k: v.load.shed,
        n: v.load.sent + v.load.shed,
    };
    vec![
        rate("success_rate", success(b), success(n), true),
        rate("success_rate_eligible", eligible(b), eligible(n), true),
        rate("error_rate", errors(b), errors(n), false),
        rate("shed_rate", shed(b), shed(n), false),
    ]
}

/// A two-proportion z-test with the pooled proportion, two-sided at 95 %.
fn rate(metric: &str, b: Proportion, n: Proportion, higher_is_better: bool) -> Row {
    let value = |p: &Proportion| (p.n > 0).then(|| p.k as f64 / p.n as f64);
    let (bv, nv) = (value(&b), value(&n));
    let mut row = Row {
        metric: metric.to_string(),
        kind: Kind::Rate,
        base: bv,
        new: nv,
        delta: bv.zip(nv).map(|(b, n)| n - b),
        base_n: Some(b.n),
        new_n: Some(n.n),
        verdict: Judgement::Incomparable,
        reason: String::new(),
    };
    let (Some(p1), Some(p2)) = (bv, nv) else {
        let which = if b.n == 0 { "base" } else { "new" };
        row.reason = format!("no checkouts in {which}");
        return row;
    };
    let pooled = (b.k + n.k) as f64 / (b.n + n.n) as f64;
    let se = (pooled * (1.0 - pooled) * (1.0 / b.n as f64 + 1.0 / n.n as f64)).sqrt();
    // A pooled proportion of 0 or 1 means both sides are all or nothing: equal.
    let z = if se > 0.0 { (p2 - p1) / se } else { 0.0 };
    let worse = if higher_is_better { z < 0.0 } else { z > 0.0 };
    (row.verdict, row.reason) = if z.abs() < Z_95 {
        (Judgement::Ok, format!("z = {z:.2}, within ±1.96"))
    } else if worse {
        (Judgement::Regressed, format!("z = {z:.2}, outside ±1.96"))
    } else {
        (Judgement::Better, format!("z = {z:.2}, outside ±1.96"))
    };
    row
}

fn latencies(b: &ReportView, n: &ReportView, tol: Tolerance) -> Vec<Row> {
    // A report with no checkout sent has no latency (its figures read 0 ms): that side is
    // missing, never fast; a new run that sent nothing where the base did has regressed.
    let (bl, nl) = (&b.latency_ms, &n.latency_ms);
    let (bs, ns) = (b.load.sent > 0, n.load.sent > 0);
    let row = |metric: &str, base: f64, new: f64| {
        let mut r = latency(metric, bs.then_some(base), ns.then_some(new), tol);
        if bs && !ns {
            r.verdict = Judgement::Regressed;
            r.reason = "the new run sent no checkout".to_string();
        }
        r
    };
    let mut rows = vec![
        row("latency_ms.p50", bl.p50, nl.p50),
        row("latency_ms.p90", bl.p90, nl.p90),
        row("latency_ms.p99", bl.p99, nl.p99),
        row("latency_ms.max", bl.max, nl.max),
    ];
    // The webhook endpoint's figures exist only where webhooks were sent.
    let ack = |v: &ReportView| {
        let e = &v.webhooks.endpoint;
        (e.attempts > 0).then_some(e.ack_latency_ms.p99)
    };
    if ack(b).is_some() || ack(n).is_some() {
        let mut row = latency("webhook_ack_ms.p99", ack(b), ack(n), tol);
        if row.verdict == Judgement::Incomparable {
            let which = if ack(b).is_none() { "base" } else { "new" };
            row.reason = format!("no webhook deliveries in {which}");
        }
        rows.push(row);
    }
    rows
}

/// Regressed when the new value exceeds the base by more than the allowance
/// `max(relative × base, floor)`; better when it is below by more than that.
fn latency(metric: &str, b: Option<f64>, n: Option<f64>, tol: Tolerance) -> Row {
    let mut row = Row {
        metric: metric.to_string(),
        kind: Kind::Latency,
        base: b,
        new: n,
        delta: b.zip(n).map(|(b, n)| n - b),
        base_n: None,
        new_n: None,
        verdict: Judgement::Incomparable,
        reason: String::new(),
    };
    let (Some(b), Some(delta)) = (b, row.delta) else {
        return row;
    };
    let allowed = (b * tol.latency_relative).max(tol.latency_floor_ms);
    // To the µs the histograms record.
    let within = format!(
        "±{} ms",
        super::gates::number((allowed * 1e3).round() / 1e3)
    );
    (row.verdict, row.reason) = if delta > allowed {
        (Judgement::Regressed, format!("beyond {within}"))
    } else if -delta > allowed {
        (Judgement::Better, format!("beyond {within}"))
    } else {
        (Judgement::Ok, format!("within {within}"))
    };
    row
}

fn counts(b: &ReportView, n: &ReportView) -> Vec<Row> {
    let failed = |v: &ReportView| v.verification.checks.iter().filter(|c| !c.passed).count();
    let mut rows = vec![strict(
        "failed_checks",
        Some(failed(b) as u64),
        Some(failed(n) as u64),
    )];
    let violations = |v: &ReportView, name: &str| {
        v.verification
            .checks
            .iter()
            .find(|c| c.name == name)
            .map(|c| c.violations)
    };
    // Base order, then checks only the new run has.
    let mut names: Vec<&str> = b
        .verification
        .checks
        .iter()
        .map(|c| c.name.as_str())
        .collect();
    for c in &n.verification.checks {
        if !names.contains(&c.name.as_str()) {
            names.push(&c.name);
        }
    }
    for name in names {
        let mut row = strict(
            &format!("checks.{name}"),
            violations(b, name),
            violations(n, name),
        );
        if row.verdict == Judgement::Incomparable {
            let which = if row.base.is_none() { "base" } else { "new" };
            row.reason = format!("not checked in {which}");
        }
        rows.push(row);
    }
    rows
}

/// Any increase regresses, any decrease improves.
fn strict(metric: &str, b: Option<u64>, n: Option<u64>) -> Row {
    let (bf, nf) = (b.map(|x| x as f64), n.map(|x| x as f64));
    let (verdict, reason) = match b.zip(n) {
        None => (Judgement::Incomparable, String::new()),
        Some((b, n)) if n > b => (Judgement::Regressed, "any increase regresses".into()),
        Some((b, n)) if n < b => (Judgement::Better, "fewer".into()),
        Some(_) => (Judgement::Ok, "equal".into()),
    };
    Row {
        metric: metric.to_string(),
        kind: Kind::Count,
        base: bf,
        new: nf,
        delta: bf.zip(nf).map(|(b, n)| n - b),
        base_n: None,
        new_n: None,
        verdict,
        reason,
    }
}

#[cfg(test)]
mod tests;
