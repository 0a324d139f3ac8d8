//! The discrepancies of `report.html`'s verification section: per failed check, the first
//! findings with the order, expected and observed values, and the causal chain as a list.

use crate::verify::Check;

use super::html::esc;
use super::markdown::SHOWN_PER_CHECK;
use super::RunReport;

/// The findings as HTML (empty when there are none), grouped by check in report order.
pub fn findings(r: &RunReport) -> String {
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
            "<h3>{check} ({})</h3>\n<ul class=\"findings\">\n",
            of.len()
        ));
        for d in of.iter().take(SHOWN_PER_CHECK) {
            h.push_str(&format!(
                "<li><code>{}</code>: expected {}; observed {}",
                esc(&d.order_id),
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
        h.push_str("</ul>\n");
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
        assert!(h.starts_with("<h3>double_charge (1)</h3>\n<ul class=\"findings\">\n<li><code>ord-r1-000010</code>: expected at most 1 charge; observed 2 charges"), "{h}");
        for line in [
            "<ol class=\"chain\">\n<li>71 ms told paid</li>\n",
            "<li>100 ms charge attempt 0 key ord-r1-000010:charge: charged (1000, pi_ord-r1-000010)</li>\n",
            "<li>110 ms charge attempt 1 key ord-r1-000010:charge: charged again (1000, pi_ord-r1-000010)</li>\n",
        ] {
            assert!(h.contains(line), "{line} in {h}");
        }
        assert!(
            h.contains("<li>final paid</li>\n<li>&lt;b&gt;</li>\n</ol>\n</li>\n</ul>\n"),
            "{h}"
        );
        assert_eq!(findings(&sample()), "", "nothing for a clean run");
    }
}
