//! The alarm drill in `report.md` and `report.html`: the rule, the comparison's figures, and
//! the events in time order (expected firing and clearing, alerts received), which the HTML
//! time charts also mark as vertical lines ([`marks`]).

use std::io::{self, Write};

use super::{AlarmReport, Episode};
use crate::report::gates::number;
use crate::report::html::esc;
use crate::report::RunReport;

/// What a mark on the time axis stands for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mark {
    ExpectedFire,
    ExpectedClear,
    ReceivedFire,
    ReceivedClear,
}

impl Mark {
    pub fn label(self) -> &'static str {
        match self {
            Mark::ExpectedFire => "alarm should fire",
            Mark::ExpectedClear => "alarm should clear",
            Mark::ReceivedFire => "alert received: firing",
            Mark::ReceivedClear => "alert received: resolved",
        }
    }
}

/// Every event of the drill, `(seconds from the origin, what)`, in time order.
pub fn marks(a: &AlarmReport) -> Vec<(f64, Mark)> {
    let mut out = Vec::new();
    let mut add = |e: &Episode, fire: Mark, clear: Mark| {
        out.push((e.fired_s, fire));
        if let Some(c) = e.cleared_s {
            out.push((c, clear));
        }
    };
    for x in &a.expected {
        add(&x.expected, Mark::ExpectedFire, Mark::ExpectedClear);
        if let Some(r) = &x.received {
            add(r, Mark::ReceivedFire, Mark::ReceivedClear);
        }
    }
    for r in &a.false_alarms {
        add(r, Mark::ReceivedFire, Mark::ReceivedClear);
    }
    out.sort_by(|x, y| x.0.total_cmp(&y.0));
    out
}

fn secs(v: Option<f64>) -> String {
    v.map_or("–".into(), |s| {
        format!("{} s", number((s * 1000.0).round() / 1000.0))
    })
}

fn rule(a: &AlarmReport) -> String {
    format!(
        "Fires when failures ({}) reach {}% of at least {} answers over {} s, evaluated every \
         second over intended send times; clears below it.",
        a.failures,
        number(a.threshold * 100.0),
        a.min_sample,
        number(a.window_s)
    )
}

/// The `## Failure-rate alarm` section, when the scenario drills one.
pub fn markdown(w: &mut impl Write, r: &RunReport) -> io::Result<()> {
    let Some(a) = &r.alarm else {
        return Ok(());
    };
    writeln!(w, "## Failure-rate alarm\n")?;
    writeln!(w, "{}\n", rule(a))?;
    writeln!(
        w,
        "| expected | missed | false alarms | detection delay max | clear delay max | alerts received |"
    )?;
    writeln!(w, "|--:|--:|--:|--:|--:|--:|")?;
    writeln!(
        w,
        "| {} | {} | {} | {} | {} | {} |\n",
        a.expected.len(),
        a.missed,
        a.false_alarms.len(),
        secs(a.delay_s_max),
        secs(a.clear_delay_s_max),
        a.alerts_received
    )?;
    let events = marks(a);
    if !events.is_empty() {
        writeln!(w, "Timeline (seconds from the load start):\n")?;
        for (t, m) in events {
            writeln!(w, "- {}: {}", secs(Some(t)), m.label())?;
        }
        writeln!(w)?;
    }
    Ok(())
}

/// The HTML alarm section, when the scenario drills one.
pub fn html(r: &RunReport) -> String {
    let Some(a) = &r.alarm else {
        return String::new();
    };
    let mut h = String::from("<section id=\"alarm\">\n<h2>Failure-rate alarm</h2>\n");
    h.push_str(&format!(
        "<p class=\"note\">{} The time charts mark each event.</p>\n",
        esc(&rule(a))
    ));
    h.push_str(
        "<table>\n<thead><tr><th>should fire</th><th>should clear</th><th>alert firing</th>\
         <th>alert resolved</th><th>detection delay</th><th>clear delay</th></tr></thead>\n<tbody>\n",
    );
    let at = |v: Option<f64>| secs(v);
    for x in &a.expected {
        let rec = x.received.as_ref();
        let class = if rec.is_none() { " class=\"bad\"" } else { "" };
        h.push_str(&format!(
            "<tr><td>{}</td><td>{}</td><td{class}>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>\n",
            at(Some(x.expected.fired_s)),
            at(x.expected.cleared_s),
            rec.map_or("missed".into(), |r| at(Some(r.fired_s))),
            at(rec.and_then(|r| r.cleared_s)),
            at(x.delay_s),
            at(x.clear_delay_s),
        ));
    }
    for f in &a.false_alarms {
        h.push_str(&format!(
            "<tr><td class=\"bad\">false alarm</td><td>–</td><td>{}</td><td>{}</td><td>–</td><td>–</td></tr>\n",
            at(Some(f.fired_s)),
            at(f.cleared_s)
        ));
    }
    h.push_str(&format!(
        "</tbody>\n</table>\n<p class=\"key\">{} expected, {} missed, {} false; {} alerts received</p>\n</section>\n",
        a.expected.len(),
        a.missed,
        a.false_alarms.len(),
        a.alerts_received
    ));
    h
}
