//! The discrepancies of `report.html`, right under the verdict: per failed check, the first
//! findings with the order, expected and observed values, and the order's story (its causal
//! chain, from `report::chain`) as a list. Left out when verification found nothing.

use crate::verify::Check;

use super::super::markdown::SHOWN_PER_CHECK;
use super::super::RunReport;
use super::esc;

/// The discrepancies section (empty when there are none), grouped by check in report order.
pub(super) fn section(r: &RunReport) -> String {
    let body = findings(r);
    if body.is_empty() {
        return body;
    }
    let n = r.verification.discrepancies.len();
    format!(
        "<section id=\"discrepancies\">\n<h2>Discrepancies ({n})</h2>\n<p class=\"note\">Each with \
         the events that show it (every one in report.json, every order's whole story in \
         history.jsonl).</p>\n{body}</section>\n"
    )
}

/// The findings as HTML (empty when there are none), grouped by check in report order.
pub(super) fn findings(r: &RunReport) -> String {
    let mut h = String::new();
    for check in Check::ALL {
        let of: Vec<_> = r
            .verification
            .discrepancies
            .iter()
            .filter(|d| d.check == check)
            .collect();
        if of.is_empty() {
            continue;
        }
        h.push_str(&format!(
            "<div class=\"check-findings\" id=\"check-{check}\" data-check=\"{check}\">\n\
             <h3>{check} ({})</h3>\n<ul class=\"findings\">\n",
            of.len()
        ));
        for d in of.iter().take(SHOWN_PER_CHECK) {
            let order = esc(&d.order_id);
            h.push_str(&format!(
                "<li class=\"discrepancy\" data-check=\"{check}\" data-order=\"{order}\">\
                 <code>{order}</code>: expected {}; observed {}",
                esc(&d.expected),
                esc(&d.observed)
            ));
            if !d.chain.is_empty() {
                h.push_str("\n<ol class=\"chain\">\n");
                for line in &d.chain {
                    h.push_str(&format!("<li>{}</li>\n", esc(line)));
                }
                h.push_str("</ol>\n");
            }
            h.push_str("</li>\n");
        }
        if of.len() > SHOWN_PER_CHECK {
            h.push_str(&format!(
                "<li>… and {} more in report.json</li>\n",
                of.len() - SHOWN_PER_CHECK
            ));
        }
        h.push_str("</ul>\n</div>\n");
    }
    h
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::{AttemptResult, OrderStatus};
    use crate::report::tests::{report_with, sample, sample_set};

    #[test]
    fn each_finding_shows_its_order_values_and_chain_escaped() {
        // Arrange: one order charged twice.
        let mut s = sample_set();
        let id = "ord-r1-000010";
        s.charge(id, AttemptResult::Ok)
            .charge(id, AttemptResult::Ok)
            .told_status(id, OrderStatus::Paid)
            .final_state(id, OrderStatus::Paid, 1);
        let mut r = report_with(&s, sample().scenario_gates());
        r.verification.discrepancies[0].chain.push("<b>".into());

        // Act
        let h = findings(&r);

        // Assert
        assert!(h.starts_with("<div class=\"check-findings\" id=\"check-double_charge\" data-check=\"double_charge\">\n<h3>double_charge (1)</h3>\n<ul class=\"findings\">\n<li class=\"discrepancy\" data-check=\"double_charge\" data-order=\"ord-r1-000010\"><code>ord-r1-000010</code>: expected at most 1 charge; observed 2 charges"), "{h}");
        for line in [
            "<ol class=\"chain\">\n<li>71 ms told paid</li>\n",
            "<li>100 ms charge attempt 0 key ord-r1-000010:charge: charged (1000, pi_ord-r1-000010)</li>\n",
            "<li>110 ms charge attempt 1 key ord-r1-000010:charge: charged again (1000, pi_ord-r1-000010)</li>\n",
        ] {
            assert!(h.contains(line), "{line} in {h}");
        }
        assert!(
            h.contains("<li>final paid</li>\n<li>&lt;b&gt;</li>\n</ol>\n</li>\n</ul>\n</div>\n"),
            "{h}"
        );
        assert!(
            section(&r).starts_with("<section id=\"discrepancies\">\n<h2>Discrepancies (1)</h2>")
        );
        assert_eq!(findings(&sample()), "", "nothing for a clean run");
        assert_eq!(section(&sample()), "", "no section for a clean run");
    }
}
