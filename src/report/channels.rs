//! Payment channels in the report: for a run with backup providers, each channel's
//! checkouts routed, success and p99 latency (an order counts for the channel its last
//! charge request went to), checkouts routed per second (the timeline stacked by channel),
//! and for each fault window of the primary the failover time (window start → first
//! payment on a backup), the share of the window's orders the backups saved, and the
//! fail-back time (window end → first payment on the primary again). Absent (`None`) for a
//! run with one provider. The `failover_s` and `failback_s` gates are judged here.

use std::collections::HashMap;

use serde::{Deserialize, Serialize};

use super::gates::{Bound, GateResult};
use super::ReportInputs;
use crate::domain::{CheckoutRecord, FinalState, LedgerEntry, PaymentOp};
use crate::scenario::Scenario;

/// The `failover_s_max` gate's name.
pub const FAILOVER_S: &str = "failover_s";
/// The `failback_s_max` gate's name.
pub const FAILBACK_S: &str = "failback_s";

/// The channels section.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct ChannelsReport {
    /// In routing order: the primary first.
    pub channels: Vec<ChannelFigures>,
    /// Checkouts that reached no channel (every breaker open: failed fast).
    pub unrouted: u64,
    /// One entry per fault window of the primary, in scenario order.
    pub failovers: Vec<Failover>,
}

/// One channel's figures.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct ChannelFigures {
    pub name: String,
    /// `stripe` or `gateway`.
    pub dialect: String,
    /// Checkouts whose last charge request went to this channel.
    pub routed: u64,
    /// Of those, orders that ended paid.
    pub paid: u64,
    /// `paid / routed` (0 when none was routed).
    pub success_rate: f64,
    /// p99 checkout latency of the routed checkouts, ms (nearest rank; 0 when none).
    pub p99_ms: f64,
    /// Checkouts routed here per second of intended send time (the timeline's seconds).
    pub per_second: Vec<u64>,
}

/// Failover and fail-back around one fault window of the primary.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Failover {
    /// The window's name.
    pub window: String,
    pub start_s: f64,
    pub end_s: f64,
    /// From the window's start to the first payment on a backup inside the window; `None`
    /// when no backup took a payment in it.
    pub failover_s: Option<f64>,
    /// From the window's end to the first payment on the primary after it; `None` when the
    /// primary took none after the window.
    pub failback_s: Option<f64>,
    /// Checkouts intended inside the window that the card did not decline.
    pub orders: u64,
    /// Of those, orders paid with money on a backup.
    pub saved: u64,
    /// `saved / orders` (0 when there are none).
    pub saved_share: f64,
}

/// The channels section of a run with backups; `None` for one provider.
pub fn report(inp: &ReportInputs) -> Option<ChannelsReport> {
    let sc = inp.scenario;
    if sc.routing.backups.is_empty() {
        return None;
    }
    let ledger = inp.evidence.ledger;
    let routed_to = last_charge_channel(ledger);
    let dialects = std::iter::once(sc.provider.dialect)
        .chain(sc.routing.backups.iter().map(|b| b.provider.dialect));
    let mut channels: Vec<ChannelFigures> = sc
        .routing
        .names()
        .into_iter()
        .zip(dialects)
        .map(|(name, d)| ChannelFigures {
            name: name.to_string(),
            dialect: d.as_str().to_string(),
            ..ChannelFigures::default()
        })
        .collect();
    let mut latencies: Vec<Vec<u64>> = vec![Vec::new(); channels.len()];
    let mut unrouted = 0;
    for c in inp.evidence.checkouts {
        let Some(&ch) = routed_to.get(c.order_id.as_str()) else {
            unrouted += 1;
            continue;
        };
        let Some(f) = channels.get_mut(usize::from(ch)) else {
            continue;
        };
        f.routed += 1;
        if final_state(inp, c) == Some(FinalState::Paid) {
            f.paid += 1;
        }
        let second = (c.intended_ms / 1000) as usize;
        if f.per_second.len() <= second {
            f.per_second.resize(second + 1, 0);
        }
        f.per_second[second] += 1;
        latencies[usize::from(ch)].push(c.latency_us);
    }
    for (f, l) in channels.iter_mut().zip(&mut latencies) {
        f.success_rate = ratio(f.paid, f.routed);
        f.p99_ms = p99(l) as f64 / 1000.0;
    }
    let failovers = sc
        .faults
        .windows
        .iter()
        .map(|w| {
            failover(
                inp,
                &w.name,
                w.start.as_millis() as u64,
                w.end.as_millis() as u64,
            )
        })
        .collect();
    Some(ChannelsReport {
        channels,
        unrouted,
        failovers,
    })
}

/// The figures around one primary window `[start, end)` in run ms.
fn failover(inp: &ReportInputs, window: &str, start: u64, end: u64) -> Failover {
    let ledger = inp.evidence.ledger;
    let paid_at = |backup: bool, from: u64, until: u64| {
        ledger
            .iter()
            .filter(|e| e.op == PaymentOp::Charge && e.money_moved)
            .filter(|e| (e.channel > 0) == backup && (from..until).contains(&e.at_ms))
            .map(|e| e.at_ms)
            .min()
    };
    let secs = |ms: u64| ms as f64 / 1000.0;
    let failover_s = paid_at(true, start, end).map(|at| secs(at - start));
    let failback_s = paid_at(false, end, u64::MAX).map(|at| secs(at - end));
    let mut orders = 0;
    let mut saved = 0;
    for c in inp.evidence.checkouts {
        if !(start..end).contains(&c.intended_ms) {
            continue;
        }
        let Some(o) = inp.reconciliation.orders.get(&c.order_id) else {
            continue;
        };
        if o.truth.label().is_declined() {
            continue;
        }
        orders += 1;
        let on_backup = o.truth.charges_by_channel.iter().any(|(ch, _)| *ch > 0);
        if on_backup && o.final_state == FinalState::Paid {
            saved += 1;
        }
    }
    Failover {
        window: window.to_string(),
        start_s: secs(start),
        end_s: secs(end),
        failover_s,
        failback_s,
        orders,
        saved,
        saved_share: ratio(saved, orders),
    }
}

/// The gates of `sc.routing` over the channels section: the slowest failover and fail-back
/// against their maximum. A window with no failover (or no fail-back) fails its gate, its
/// observed value then the time watched after the window's start (or end), a lower bound.
pub fn gates(sc: &Scenario, report: Option<&ChannelsReport>, load_s: f64) -> Vec<GateResult> {
    let Some(r) = report else {
        return Vec::new();
    };
    let worst = |f: &dyn Fn(&Failover) -> f64| r.failovers.iter().map(f).fold(0.0, f64::max);
    let mut out = Vec::new();
    if let Some(max) = sc.routing.failover_s_max {
        let observed = worst(&|w| w.failover_s.unwrap_or((load_s - w.start_s).max(0.0)));
        let mut g = GateResult::new(FAILOVER_S, Bound::Max, max, observed);
        if r.failovers.iter().any(|w| w.failover_s.is_none()) {
            g.passed = false;
        }
        out.push(g);
    }
    if let Some(max) = sc.routing.failback_s_max {
        let observed = worst(&|w| w.failback_s.unwrap_or((load_s - w.end_s).max(0.0)));
        let mut g = GateResult::new(FAILBACK_S, Bound::Max, max, observed);
        if r.failovers.iter().any(|w| w.failback_s.is_none()) {
            g.passed = false;
        }
        out.push(g);
    }
    out
}

/// The slowest of `figure` over the primary's windows, for a threshold; no data without
/// backups or windows, or when a window had no `what` (`failover`, `fail-back`).
pub fn slowest(
    r: &super::RunReport,
    figure: impl Fn(&Failover) -> Option<f64>,
    what: &str,
) -> Result<f64, String> {
    let Some(c) = r.channels.as_ref().filter(|c| !c.failovers.is_empty()) else {
        return Err("the run has no backup provider and primary fault window".into());
    };
    c.failovers
        .iter()
        .try_fold(0.0, |worst: f64, w| match figure(w) {
            Some(s) => Ok(worst.max(s)),
            None => Err(format!("no {what} around the fault window '{}'", w.window)),
        })
}

/// Each order's channel: that of its last charge request (the ledger is in `seq` order).
fn last_charge_channel(ledger: &[LedgerEntry]) -> HashMap<&str, u8> {
    let mut out = HashMap::new();
    for e in ledger.iter().filter(|e| e.op == PaymentOp::Charge) {
        if let Some(id) = e.order_id.as_deref() {
            out.insert(id, e.channel);
        }
    }
    out
}

fn final_state(inp: &ReportInputs, c: &CheckoutRecord) -> Option<FinalState> {
    inp.reconciliation
        .orders
        .get(&c.order_id)
        .map(|o| o.final_state)
}

fn ratio(n: u64, d: u64) -> f64 {
    if d == 0 {
        0.0
    } else {
        n as f64 / d as f64
    }
}

/// Nearest-rank p99 of `values` in µs (sorts them); 0 when empty.
fn p99(values: &mut [u64]) -> u64 {
    if values.is_empty() {
        return 0;
    }
    values.sort_unstable();
    let rank = ((values.len() as f64) * 0.99).ceil() as usize;
    values[rank.clamp(1, values.len()) - 1]
}

/// The Markdown section `## Payment channels`, after recovery; nothing without backups.
pub fn markdown(w: &mut impl std::io::Write, r: &super::RunReport) -> std::io::Result<()> {
    let Some(c) = &r.channels else {
        return Ok(());
    };
    let n = super::gates::number;
    writeln!(w, "## Payment channels\n")?;
    writeln!(
        w,
        "In routing order (the primary first). An order counts for the channel its last charge \
         request went to.\n"
    )?;
    writeln!(
        w,
        "| channel | dialect | routed | paid | success | p99 ms |"
    )?;
    writeln!(w, "|---|---|--:|--:|--:|--:|")?;
    for ch in &c.channels {
        writeln!(
            w,
            "| {} | {} | {} | {} | {} | {:.1} |",
            super::markdown::cell(&ch.name),
            ch.dialect,
            ch.routed,
            ch.paid,
            super::markdown::percent(ch.success_rate),
            ch.p99_ms
        )?;
    }
    if c.unrouted > 0 {
        writeln!(
            w,
            "\n{} checkout(s) reached no channel (every breaker open).",
            c.unrouted
        )?;
    }
    if !c.failovers.is_empty() {
        let secs =
            |v: Option<f64>| v.map_or_else(|| "**none**".to_string(), |s| format!("{} s", n(s)));
        writeln!(
            w,
            "\n| primary window | span s | failover | saved by backups | fail-back |"
        )?;
        writeln!(w, "|---|---|--:|--:|--:|")?;
        for f in &c.failovers {
            writeln!(
                w,
                "| {} | {}–{} | {} | {} of {} ({}) | {} |",
                super::markdown::cell(&f.window),
                n(f.start_s),
                n(f.end_s),
                secs(f.failover_s),
                f.saved,
                f.orders,
                super::markdown::percent(f.saved_share),
                secs(f.failback_s)
            )?;
        }
    }
    writeln!(w)
}

#[cfg(test)]
#[path = "channels_tests.rs"]
mod tests;
