//! The head of `report.html`: the verdict, the run's identity, then what the one who must
//! debug a FAIL reads first: the failed gates, the failed checks (each linking to its
//! discrepancies), the schedule warnings and the notes on reading the figures (latency that
//! falls because a circuit breaker fails fast).

use super::super::RunReport;
use super::esc;

/// Orders that failed for provider trouble with no charge request ever reaching the
/// provider: what a merchant's circuit breaker failing fast leaves (the verifier's truth
/// `no_attempt`, the merchant's `failed_provider_error`).
pub fn fail_fast_orders(r: &RunReport) -> u64 {
    r.outcomes
        .confusion
        .get("no_attempt")
        .and_then(|row| row.get("failed_provider_error"))
        .copied()
        .unwrap_or(0)
}

pub(super) fn header(h: &mut String, r: &RunReport) {
    let verdict = r.verdict.headline();
    h.push_str(&format!(
        "<header id=\"verdict\" data-verdict=\"{verdict}\">\n<h1>paychaos: {} \
         <span class=\"verdict {verdict}\">{verdict}</span></h1>\n",
        esc(&r.scenario.name)
    ));
    let mut notes = vec![
        format!("seed {}", r.scenario.seed),
        format!("run {}", esc(&r.run.run_id)),
        format!("started {}", esc(&r.run.started_at)),
        format!("{:.1} s", r.run.duration_s),
        format!("{} load", esc(&r.load.profile)),
    ];
    if r.run.interrupted {
        notes.push("<b>interrupted</b>".into());
    }
    if let Some(a) = &r.run.aborted_by {
        notes.push(format!("<b>ABORTED by threshold</b>: {}", esc(a)));
    }
    if !r.run.drained {
        notes.push("<b>not drained</b> (the drain timed out)".into());
    }
    h.push_str(&format!("<p class=\"meta\">{}</p>\n", notes.join(" · ")));
    let failures = r.failures();
    if !failures.is_empty() {
        h.push_str("<ul class=\"failures\" id=\"failed-gates\">\n");
        for f in &failures {
            h.push_str(&format!("<li>{}</li>\n", esc(f)));
        }
        h.push_str("</ul>\n");
    }
    failed_checks(h, r);
    for hint in &r.verification.hints {
        h.push_str(&format!("<p class=\"bad hint\">Hint: {}</p>\n", esc(hint)));
    }
    if !r.warnings.is_empty() {
        h.push_str("<ul class=\"warnings\" id=\"warnings\">\n");
        for w in &r.warnings {
            h.push_str(&format!("<li>{}</li>\n", esc(w)));
        }
        h.push_str("</ul>\n");
    }
    let fast = fail_fast_orders(r);
    if fast > 0 {
        h.push_str(&format!(
            "<p class=\"warn\" id=\"fail-fast\" data-orders=\"{fast}\">{fast} orders failed fast: \
             no charge request reached the provider (a circuit breaker open, most likely). \
             Their quick answers pull the latency figures down while the success rate falls: \
             lower latency here is not a faster merchant.</p>\n"
        ));
    }
    h.push_str("</header>\n");
}

/// The failed checks with their violation counts, each a link to its discrepancies.
fn failed_checks(h: &mut String, r: &RunReport) {
    let failed: Vec<_> = r.verification.checks.iter().filter(|c| !c.passed).collect();
    if failed.is_empty() {
        return;
    }
    h.push_str("<p class=\"failed-checks\" id=\"failed-checks\">Failed checks: ");
    let items: Vec<String> = failed
        .iter()
        .map(|c| {
            let name = esc(&c.name);
            format!(
                "<a class=\"check\" data-check=\"{name}\" href=\"#check-{name}\">{name}</a> \
                 ({} violations)",
                c.violations
            )
        })
        .collect();
    h.push_str(&items.join(", "));
    h.push_str("</p>\n");
}
