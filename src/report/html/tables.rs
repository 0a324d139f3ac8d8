//! The tables of `report.html` after the charts: recovery after each fault window, a
//! capacity run's steps, faults, webhooks, the verification checks and the gates. A section
//! that does not apply to the run is left out (no recovery without fault windows, no
//! capacity section on another profile, no webhook section when no event was created, no
//! gates section when the scenario sets none).

use super::super::gates::number;
use super::super::{GateResult, RecoveryStatus, RunReport};
use super::{esc, ms};

/// The recovery section: how fast the success rate and latency came back after each fault
/// window; empty when the scenario has none.
pub(super) fn recovery_section(r: &RunReport) -> String {
    if r.recovery.is_empty() {
        return String::new();
    }
    let mut h = String::from("<section id=\"recovery\">\n<h2>Recovery</h2>\n");
    h.push_str(
        "<p class=\"note\">Per fault window: success (over orders the card did not decline) and p99 \
         before it, the worst second during it, and the time after its end until success stays \
         within the tolerance of the baseline for the hold period.</p>\n<table>\n<thead><tr>\
         <th>window</th><th>span (s)</th><th>baseline success</th><th>baseline p99 (ms)</th>\
         <th>worst success</th><th>worst p99 (ms)</th><th>recovery</th>\
         <th>orders affected</th><th>ended correct</th></tr></thead>\n<tbody>\n",
    );
    let pct = |v: Option<f64>| v.map_or("–".to_string(), |x| format!("{:.2}%", x * 100.0));
    let ms = |v: Option<f64>| v.map_or("–".to_string(), |x| format!("{x:.1}"));
    for w in &r.recovery {
        let recovery = match (w.status, w.recovery_s) {
            (RecoveryStatus::Recovered, Some(s)) => format!("{} s", number(s)),
            (status, _) => status.as_str().replace('_', " "),
        };
        let class = if w.status == RecoveryStatus::Recovered {
            ""
        } else {
            " class=\"bad\""
        };
        h.push_str(&format!(
            "<tr><td>{}</td><td>{}–{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td>\
             <td{class}>{recovery}</td><td>{}</td><td>{}</td></tr>\n",
            esc(&w.name),
            number(w.start_s),
            number(w.end_s),
            pct(w.baseline_success_rate),
            ms(w.baseline_p99_ms),
            pct(w.worst_success_rate),
            ms(w.worst_p99_ms),
            w.orders_affected,
            w.orders_correct,
        ));
    }
    h.push_str("</tbody>\n</table>\n</section>\n");
    h
}

/// The steps of a capacity run and its knee; empty for other runs.
pub(super) fn capacity_section(r: &RunReport) -> String {
    let Some(c) = &r.capacity else {
        return String::new();
    };
    let mut h = format!(
        "<section id=\"capacity\">\n<h2>Capacity</h2>\n<p><strong>{}</strong></p>\n\
         <p class=\"note\">SLO: p99 ≤ {} ms and success ≥ {:.2}% over each step after its first {} s.</p>\n\
         <table>\n<thead><tr><th>rate (/s)</th><th>achieved (/s)</th><th>sent</th><th>shed</th>\
         <th>p99 (ms)</th><th>send lag p99 (ms)</th><th>success</th><th>result</th></tr></thead>\n<tbody>\n",
        esc(&c.answer()),
        number(c.slo_p99_ms),
        c.slo_success_rate * 100.0,
        number(c.settle_s),
    );
    for s in &c.steps {
        let result = match (s.held, s.complete) {
            (true, _) => "held",
            (false, false) => "partial",
            (false, true) => "broke",
        };
        let class = if s.held { "" } else { " class=\"bad\"" };
        h.push_str(&format!(
            "<tr><td>{}</td><td>{:.0}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td{class}>{result}</td></tr>\n",
            number(s.rate),
            s.achieved_rate,
            s.sent,
            s.shed,
            s.p99_ms.map_or("–".into(), |p| format!("{p:.1}")),
            s.send_lag_p99_ms.map_or("–".into(), |p| format!("{p:.1}")),
            s.success_rate.map_or("–".into(), |x| format!("{:.2}%", x * 100.0)),
        ));
    }
    h.push_str("</tbody>\n</table>\n</section>\n");
    h
}

/// Injected faults per kind; left out when the run injected none and has no windows.
pub(super) fn faults_section(h: &mut String, r: &RunReport) {
    let f = &r.faults;
    if f.windows.is_empty() && f.injected.iter().all(|(_, n)| *n == 0) && f.overload.shed == 0 {
        return;
    }
    h.push_str("<section id=\"faults\">\n<h2>Faults</h2>\n<table>\n<thead><tr><th>kind</th><th>injected</th><th>orders hit</th></tr></thead>\n<tbody>\n");
    for (kind, n) in f.injected.iter() {
        let hit = f.orders_hit.get(kind).copied().unwrap_or(0);
        h.push_str(&format!(
            "<tr><td>{}</td><td>{n}</td><td>{hit}</td></tr>\n",
            esc(kind)
        ));
    }
    h.push_str("</tbody>\n</table>\n");
    h.push_str(&format!(
        "<p>provider shed (overload): <strong>{}</strong> requests beyond its {} in flight, \
         answered as rate limited before any work (not in the ledger)</p>\n</section>\n",
        f.overload.shed, f.overload.max_in_flight
    ));
}

/// Webhook delivery figures; left out when the provider created no event.
pub(super) fn webhooks_section(h: &mut String, r: &RunReport) {
    let w = &r.webhooks;
    if w.events == 0 && w.sent == 0 {
        return;
    }
    let rows = [
        ("events created", w.events.to_string()),
        ("delivery attempts", w.sent.to_string()),
        ("events acknowledged", w.delivered.to_string()),
        ("retries", w.retried.to_string()),
        ("duplicated", w.duplicated.to_string()),
        ("forged", w.forged.to_string()),
        ("forged accepted", w.forged_accepted.to_string()),
        ("never acknowledged", w.never_acknowledged.to_string()),
        (
            "ack latency p50 / p99 / max",
            format!(
                "{} / {} / {} ms",
                ms(w.ack_latency_ms.p50),
                ms(w.ack_latency_ms.p99),
                ms(w.ack_latency_ms.max)
            ),
        ),
        ("endpoint (genuine deliveries)", esc(&w.endpoint.line())),
    ];
    h.push_str("<section id=\"webhooks\">\n<h2>Webhooks</h2>\n<table>\n<tbody>\n");
    for (name, value) in rows {
        h.push_str(&format!("<tr><td>{name}</td><td>{value}</td></tr>\n"));
    }
    h.push_str("</tbody>\n</table>\n</section>\n");
}

/// The checks and their results (the discrepancies are under the verdict).
pub(super) fn verification_section(h: &mut String, r: &RunReport) {
    let v = &r.verification;
    h.push_str("<section id=\"verification\">\n<h2>Verification</h2>\n");
    let found = match v.discrepancies.len() {
        0 => "No discrepancies.".to_string(),
        n => format!("{n} discrepancies, listed under the verdict."),
    };
    h.push_str(&format!("<p class=\"note\">{found}</p>\n"));
    h.push_str("<table>\n<thead><tr><th>check</th><th class=\"text\">invariant</th><th>violations</th><th>result</th></tr></thead>\n<tbody>\n");
    for c in &v.checks {
        let name = esc(&c.name);
        let (class, word) = if c.passed {
            ("ok", "pass")
        } else {
            ("bad", "FAIL")
        };
        h.push_str(&format!(
            "<tr data-check=\"{name}\"><td>{name}</td><td class=\"text\">{}</td><td>{}</td><td class=\"{class}\">{word}</td></tr>\n",
            esc(&c.invariant),
            c.violations
        ));
    }
    h.push_str("</tbody>\n</table>\n");
    h.push_str("</section>\n");
}

/// Each gate against its threshold; left out when the scenario sets none.
pub(super) fn gates_section(h: &mut String, gates: &[GateResult]) {
    if gates.is_empty() {
        return;
    }
    h.push_str("<section id=\"gates\">\n<h2>Gates</h2>\n");
    h.push_str("<table>\n<thead><tr><th>gate</th><th>threshold</th><th>observed</th><th>result</th></tr></thead>\n<tbody>\n");
    for g in gates {
        let (class, word) = if g.passed {
            ("ok", "pass")
        } else {
            ("bad", "FAIL")
        };
        h.push_str(&format!(
            "<tr data-gate=\"{0}\"><td>{0}</td><td>{1}</td><td>{2}</td><td class=\"{class}\">{word}</td></tr>\n",
            esc(&g.label()),
            esc(&g.threshold_text()),
            esc(&g.observed_text())
        ));
    }
    h.push_str("</tbody>\n</table>\n</section>\n");
}
