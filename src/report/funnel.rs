//! The journey funnel of a run with 3D Secure challenges: checkouts → challenge (answered
//! with a redirect) → challenge shown → completed / failed / abandoned / never returned →
//! returned → fulfilled (final paid), the forged returns, the customers who paid again
//! with another card (and how many of those orders ended paid), and each step's latency.
//! Built from the customer simulator's journey and retry records and the final order
//! states; rendered in Markdown and HTML here. `None` (and no section) when no checkout met
//! a challenge and no customer paid again.

use std::collections::BTreeMap;
use std::io::{self, Write};

use serde::{Deserialize, Serialize};

use crate::domain::{OrderSnapshot, OrderStatus};
use crate::load::journeys::{JourneyRecord, JourneyStep};
use crate::load::retries::RetryRecord;

use super::RunReport;

/// The funnel, in `report.json` under `journeys`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Funnel {
    /// Checkouts sent.
    pub checkouts: u64,
    /// Checkouts answered with a challenge page to send the customer to.
    pub challenged: u64,
    /// Challenge pages the customer's browser loaded.
    pub challenge_shown: u64,
    /// Customers by journey (`completes`, `fails`, `abandons`, `never_returns`).
    pub journeys: BTreeMap<String, u64>,
    /// Customers who came back to the return page after the challenge.
    pub returned: u64,
    /// Challenged orders that ended paid.
    pub fulfilled: u64,
    /// Return pages loaded with forged success parameters.
    pub forged_returns: u64,
    /// Journeys cut short by a step that failed (an unreachable page, a missing redirect).
    pub errors: u64,
    /// Customers who paid the same order again with another card, by why (`declined`,
    /// `failed_challenge`, `no_return`).
    #[serde(default)]
    pub retries: BTreeMap<String, u64>,
    /// Orders paid again with another card that ended paid.
    #[serde(default)]
    pub retries_paid: u64,
    /// Per step: how many, and their latency from the step's start.
    pub steps: Vec<StepLatency>,
}

/// One journey step's latency, ms.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct StepLatency {
    pub step: String,
    pub count: u64,
    pub p50_ms: f64,
    pub p99_ms: f64,
    pub max_ms: f64,
}

/// The funnel of `journeys` and `retries` among `checkouts` sent, `orders` the final states.
pub fn build(
    journeys: &[JourneyRecord],
    retries: &[RetryRecord],
    checkouts: u64,
    orders: &[OrderSnapshot],
) -> Option<Funnel> {
    if journeys.is_empty() && retries.is_empty() {
        return None;
    }
    let paid: std::collections::HashSet<&str> = orders
        .iter()
        .filter(|o| o.status == OrderStatus::Paid)
        .map(|o| o.order_id.as_str())
        .collect();
    let mut by_journey = BTreeMap::new();
    let mut durations: BTreeMap<JourneyStep, Vec<u64>> = BTreeMap::new();
    for j in journeys {
        *by_journey.entry(j.journey.clone()).or_insert(0) += 1;
        for (s, us) in &j.steps {
            durations.entry(*s).or_default().push(*us);
        }
    }
    let count =
        |f: &dyn Fn(&JourneyRecord) -> bool| journeys.iter().filter(|j| f(j)).count() as u64;
    let mut by_cause = BTreeMap::new();
    for r in retries {
        *by_cause.entry(r.after.as_str().to_string()).or_insert(0) += 1;
    }
    let retry_us: Vec<u64> = retries.iter().map(|r| r.latency_us).collect();
    let steps = JourneyStep::ALL
        .iter()
        .map(|s| (s.as_str(), durations.remove(s)))
        .chain([(RETRY_STEP, Some(retry_us).filter(|v| !v.is_empty()))])
        .filter_map(|(s, v)| {
            let mut v = v?;
            v.sort_unstable();
            let at = |q: f64| v[((v.len() - 1) as f64 * q).round() as usize] as f64 / 1000.0;
            Some(StepLatency {
                step: s.to_string(),
                count: v.len() as u64,
                p50_ms: at(0.5),
                p99_ms: at(0.99),
                max_ms: at(1.0),
            })
        })
        .collect();
    Some(Funnel {
        checkouts,
        challenged: journeys.len() as u64,
        challenge_shown: count(&|j| j.did(JourneyStep::ChallengeShown)),
        journeys: by_journey,
        returned: count(&|j| j.did(JourneyStep::Returned)),
        fulfilled: count(&|j| paid.contains(j.order_id.as_str())),
        forged_returns: count(&|j| j.did(JourneyStep::ForgedReturn)),
        errors: count(&|j| j.error.is_some()),
        retries: by_cause,
        retries_paid: retries
            .iter()
            .filter(|r| paid.contains(r.order_id.as_str()))
            .count() as u64,
        steps,
    })
}

/// The step latency row of the second checkouts with another card.
const RETRY_STEP: &str = "retry_with_another_card";

/// The funnel's rows: label and count, in funnel order.
fn rows(f: &Funnel) -> Vec<(String, u64)> {
    let mut rows = vec![
        ("checkouts".to_string(), f.checkouts),
        ("challenged (redirect answered)".to_string(), f.challenged),
        ("challenge shown".to_string(), f.challenge_shown),
    ];
    for (j, n) in &f.journeys {
        rows.push((format!("journey {j}"), *n));
    }
    rows.push(("returned to the merchant".to_string(), f.returned));
    rows.push(("fulfilled (final paid)".to_string(), f.fulfilled));
    rows.push(("forged returns".to_string(), f.forged_returns));
    if f.errors > 0 {
        rows.push(("journeys cut short by an error".to_string(), f.errors));
    }
    for (cause, n) in &f.retries {
        rows.push((format!("paid again with another card ({cause})"), *n));
    }
    if !f.retries.is_empty() {
        rows.push(("paid again and fulfilled".to_string(), f.retries_paid));
    }
    rows
}

/// The `## Customer journeys` section; nothing without challenges.
pub fn markdown(w: &mut impl Write, r: &RunReport) -> io::Result<()> {
    let Some(f) = &r.journeys else {
        return Ok(());
    };
    writeln!(w, "## Customer journeys\n")?;
    writeln!(w, "| step | orders |\n| --- | ---: |")?;
    for (label, n) in rows(f) {
        writeln!(w, "| {label} | {n} |")?;
    }
    writeln!(w)?;
    writeln!(
        w,
        "| step latency | count | p50 ms | p99 ms | max ms |\n| --- | ---: | ---: | ---: | ---: |"
    )?;
    for s in &f.steps {
        writeln!(
            w,
            "| {} | {} | {:.1} | {:.1} | {:.1} |",
            s.step, s.count, s.p50_ms, s.p99_ms, s.max_ms
        )?;
    }
    writeln!(w)
}

/// The HTML section; empty without challenges. Every value is a number or a fixed word.
pub fn html_section(r: &RunReport) -> String {
    let Some(f) = &r.journeys else {
        return String::new();
    };
    let mut h = String::from(
        "<section id=\"journeys\">\n<h2>Customer journeys</h2>\n<table>\n\
         <thead><tr><th>step</th><th>orders</th></tr></thead>\n<tbody>\n",
    );
    for (label, n) in rows(f) {
        h.push_str(&format!("<tr><td>{label}</td><td>{n}</td></tr>\n"));
    }
    h.push_str(
        "</tbody>\n</table>\n<table>\n<thead><tr><th>step latency</th><th>count</th>\
         <th>p50 (ms)</th><th>p99 (ms)</th><th>max (ms)</th></tr></thead>\n<tbody>\n",
    );
    for s in &f.steps {
        h.push_str(&format!(
            "<tr><td>{}</td><td>{}</td><td>{:.1}</td><td>{:.1}</td><td>{:.1}</td></tr>\n",
            s.step, s.count, s.p50_ms, s.p99_ms, s.max_ms
        ));
    }
    h.push_str("</tbody>\n</table>\n</section>\n");
    h
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::CheckoutAnswer;
    use crate::load::retries::RetryCause;

    fn j(order: &str, journey: &str, steps: &[JourneyStep]) -> JourneyRecord {
        JourneyRecord {
            order_id: order.into(),
            journey: journey.into(),
            steps: steps.iter().map(|s| (*s, 2_000)).collect(),
            returned: Some(CheckoutAnswer::Told {
                status: OrderStatus::Paid,
            }),
            forged: None,
            error: None,
        }
    }

    #[test]
    fn the_funnel_counts_each_step_and_the_paid_challenged_orders() {
        use JourneyStep as S;
        let journeys = [
            j(
                "o1",
                "completes",
                &[S::ChallengeShown, S::Verdict, S::Returned],
            ),
            j("o2", "abandons", &[S::ChallengeShown]),
            j("o3", "never_returns", &[S::ChallengeShown, S::Verdict]),
        ];
        let paid = |id: &str| OrderSnapshot {
            order_id: id.into(),
            status: OrderStatus::Paid,
            fulfilments: Some(1),
        };
        let retry = |order: &str, after| RetryRecord {
            order_id: order.into(),
            after,
            payment_method: "pm_card_amex".into(),
            answer: CheckoutAnswer::Told {
                status: OrderStatus::Paid,
            },
            latency_us: 4_000,
        };
        let retries = [
            retry("o3", RetryCause::NoReturn),
            retry("o8", RetryCause::Declined),
        ];
        let orders = [paid("o1"), paid("o3"), paid("o9")];
        let f = build(&journeys, &retries, 10, &orders).unwrap();
        assert_eq!(
            (
                f.checkouts,
                f.challenged,
                f.challenge_shown,
                f.returned,
                f.fulfilled
            ),
            (10, 3, 3, 1, 2)
        );
        assert_eq!(f.journeys["abandons"], 1);
        assert_eq!(f.steps[0].step, "challenge_shown");
        assert_eq!((f.steps[0].count, f.steps[0].p99_ms), (3, 2.0));
        assert_eq!(f.retries["no_return"], 1);
        assert_eq!(f.retries["declined"], 1);
        assert_eq!(f.retries_paid, 1);
        let last = f.steps.last().unwrap();
        assert_eq!((last.step.as_str(), last.count), (RETRY_STEP, 2));
        assert!(build(&[], &[], 10, &[]).is_none());
        let only_retries = build(&[], &retries[1..], 10, &[]).unwrap();
        assert_eq!((only_retries.challenged, only_retries.retries_paid), (0, 0));
    }
}
