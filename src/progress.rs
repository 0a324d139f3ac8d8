//! The live progress line on stderr while the load runs: elapsed of total, send rate, success
//! (told paid over answers the card did not decline), p99 of the latest answers, the fault
//! windows active now and the checkouts in flight. On a terminal it is redrawn in place
//! every 250 ms from figures of the last second; elsewhere (CI logs) it is a plain line every
//! 5 s with figures of those 5 s. Elapsed time never reads past the total (the last answers
//! come after the last send); the final line is whole and ends the line. After the load,
//! [`drain`] shows the drain phase the same way. Reads the load's [`LiveCounters`]; decides
//! nothing. The strings are pure functions of what is shown ([`render`], [`render_drain`],
//! [`frame`]), tested on their own.

use std::io::{IsTerminal, Write};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use tokio_util::sync::CancellationToken;

use crate::chaos::Window;
use crate::load::{LiveCounters, Totals};
use crate::metrics::Percentiles;

/// Redraw and figure intervals: (redraw, figures) on a terminal and elsewhere.
const TERMINAL: (Duration, Duration) = (Duration::from_millis(250), Duration::from_secs(1));
const PLAIN: (Duration, Duration) = (Duration::from_secs(5), Duration::from_secs(5));

/// Whether a progress line is drawn in place on the terminal now (no newline after it).
static LINE_OPEN: AtomicBool = AtomicBool::new(false);

/// Whether the terminal's current line is a half-drawn progress line: anything else written
/// to stderr should clear it first (`\r`, erase line), and the next redraw puts it back.
pub fn line_open() -> bool {
    LINE_OPEN.load(Ordering::Relaxed)
}

/// Marks the progress line as ended by someone else (a message that must start on a line of
/// its own, after Ctrl-C); returns whether one was open.
pub fn close_line() -> bool {
    LINE_OPEN.swap(false, Ordering::Relaxed)
}

/// How a line is written: redrawn in place on a terminal, or one whole line in a log.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    /// In place; `last` ends the line so that what follows starts on a new one.
    Terminal {
        last: bool,
    },
    Plain,
}

/// The bytes that show `text`: on a terminal, back to the line start, the text, erase the
/// rest of the old line (a longer earlier line leaves nothing behind), and a newline after
/// the last; in a log, `progress <text>` as a line.
pub fn frame(text: &str, mode: Mode) -> String {
    match mode {
        Mode::Terminal { last } => {
            format!("\r{text}\x1b[K{}", if last { "\n" } else { "" })
        }
        Mode::Plain => format!("progress {text}\n"),
    }
}

/// What one progress line shows.
#[derive(Clone, Debug, PartialEq)]
pub struct Line {
    pub elapsed: Duration,
    pub total: Duration,
    /// Sent per second over the last figures interval.
    pub rate: f64,
    /// Told paid over answers not declined by the card, over the last interval.
    pub success: Option<f64>,
    /// p99 of the answers of the last interval, ms.
    pub p99_ms: Option<f64>,
    pub in_flight: u64,
    pub windows: Vec<String>,
}

/// Renders a line: `[ 12.3/40.0 s] 412/s, success 99.1%, p99 23 ms, in flight 37, window peak-outage`.
/// Elapsed stops at the total: the load waits for its last answers after its last send.
pub fn render(l: &Line) -> String {
    let mut s = format!(
        "[{:>5.1}/{:.1} s] {:.0}/s, success {}, p99 {}, in flight {}",
        l.elapsed.min(l.total).as_secs_f64(),
        l.total.as_secs_f64(),
        l.rate,
        l.success
            .map_or("–".to_string(), |r| format!("{:.1}%", r * 100.0)),
        l.p99_ms.map_or("–".to_string(), |p| format!("{p:.0} ms")),
        l.in_flight
    );
    if !l.windows.is_empty() {
        let word = if l.windows.len() == 1 {
            "window"
        } else {
            "windows"
        };
        s.push_str(&format!(", {word} {}", l.windows.join(", ")));
    }
    s
}

/// Renders the drain phase: `draining webhooks and reconciliation… 3 s (at most 10 s)`, in
/// whole seconds, never past the limit.
pub fn render_drain(elapsed: Duration, limit: Duration) -> String {
    format!(
        "draining webhooks and reconciliation… {} s (at most {} s)",
        elapsed.min(limit).as_secs(),
        limit.as_secs_f64().ceil() as u64
    )
}

/// The windows active at run time `at`, in scenario order.
pub fn active(windows: &[Window], at: Duration) -> Vec<String> {
    windows
        .iter()
        .filter(|w| w.contains(at))
        .map(|w| w.name.clone())
        .collect()
}

/// Figures of the interval between two totals, `dt` apart.
fn figures(before: &Totals, now: &Totals, dt: Duration) -> (f64, Option<f64>) {
    let secs = dt.as_secs_f64();
    let rate = if secs > 0.0 {
        now.sent.saturating_sub(before.sent) as f64 / secs
    } else {
        0.0
    };
    let answered = now.answered.saturating_sub(before.answered);
    let declined = now.declined.saturating_sub(before.declined);
    let eligible = answered.saturating_sub(declined);
    let paid = now.paid.saturating_sub(before.paid);
    let success = (eligible > 0).then(|| paid as f64 / eligible as f64);
    (rate, success)
}

/// Prints progress until `done` is cancelled, then a last line (ending the line on a
/// terminal). `total` is the schedule's length.
pub async fn run(
    live: Arc<LiveCounters>,
    total: Duration,
    windows: Vec<Window>,
    done: CancellationToken,
) {
    let terminal = std::io::stderr().is_terminal();
    let (redraw, every) = if terminal { TERMINAL } else { PLAIN };
    let started = tokio::time::Instant::now();
    let mut tick = tokio::time::interval(redraw);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
    tick.tick().await; // the first tick is immediate; nothing to show yet
    let mut last = (started, live.totals());
    let mut shown = Line {
        elapsed: Duration::ZERO,
        total,
        rate: 0.0,
        success: None,
        p99_ms: None,
        in_flight: 0,
        windows: Vec::new(),
    };
    // Figures every `per` redraws: counting ticks, not comparing instants that a tick may
    // reach a hair early.
    let per = (every.as_millis() / redraw.as_millis()).max(1);
    let mut ticks = 0u128;
    loop {
        let finished = tokio::select! {
            _ = done.cancelled() => true,
            _ = tick.tick() => false,
        };
        ticks += 1;
        let now = tokio::time::Instant::now();
        let totals = live.totals();
        if ticks.is_multiple_of(per) || finished {
            let (rate, success) = figures(&last.1, &totals, now - last.0);
            let recent = live.take_recent();
            shown.rate = rate;
            shown.success = success.or(shown.success);
            shown.p99_ms = (!recent.is_empty()).then(|| Percentiles::of(&recent).p99);
            last = (now, totals);
        }
        shown.elapsed = now - started;
        shown.in_flight = totals.in_flight();
        shown.windows = active(&windows, now - started);
        show(&render(&shown), terminal, finished);
        if finished {
            return;
        }
    }
}

/// Shows the drain phase until `done` is cancelled, then a last line (ending the line on a
/// terminal): redrawn in place on a terminal, a line every 5 s elsewhere.
pub async fn drain(limit: Duration, done: CancellationToken) {
    let terminal = std::io::stderr().is_terminal();
    let redraw = if terminal { TERMINAL.0 } else { PLAIN.0 };
    let started = tokio::time::Instant::now();
    let mut tick = tokio::time::interval(redraw);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
    loop {
        let finished = tokio::select! {
            _ = done.cancelled() => true,
            _ = tick.tick() => false,
        };
        // In a log, the phase is said once at its start and every interval, not at its end.
        if finished && !terminal {
            return;
        }
        show(&render_drain(started.elapsed(), limit), terminal, finished);
        if finished {
            return;
        }
    }
}

/// Writes one frame of `text` to stderr, keeping [`line_open`] true while a terminal line
/// is half drawn.
fn show(text: &str, terminal: bool, last: bool) {
    let mode = if terminal {
        Mode::Terminal { last }
    } else {
        Mode::Plain
    };
    let mut err = std::io::stderr().lock();
    // A failed write to stderr is not worth stopping a run for.
    let _ = err.write_all(frame(text, mode).as_bytes());
    let _ = err.flush();
    if terminal {
        LINE_OPEN.store(!last, Ordering::Relaxed);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn line() -> Line {
        Line {
            elapsed: Duration::from_millis(12_345),
            total: Duration::from_secs(40),
            rate: 412.4,
            success: Some(0.9912),
            p99_ms: Some(23.4),
            in_flight: 37,
            windows: vec![],
        }
    }

    #[test]
    fn a_line_shows_every_figure() {
        assert_eq!(
            render(&line()),
            "[ 12.3/40.0 s] 412/s, success 99.1%, p99 23 ms, in flight 37"
        );
    }

    #[test]
    fn unknown_figures_read_as_a_dash_and_windows_are_named() {
        let l = Line {
            success: None,
            p99_ms: None,
            windows: vec!["peak-outage".into()],
            ..line()
        };
        assert_eq!(
            render(&l),
            "[ 12.3/40.0 s] 412/s, success –, p99 –, in flight 37, window peak-outage"
        );
        let l = Line {
            windows: vec!["a".into(), "b".into()],
            ..line()
        };
        assert!(render(&l).ends_with(", windows a, b"));
    }

    #[test]
    fn elapsed_never_reads_past_the_total() {
        let l = Line {
            elapsed: Duration::from_millis(41_700),
            ..line()
        };
        assert!(render(&l).starts_with("[ 40.0/40.0 s] "), "{}", render(&l));
        let l = Line {
            elapsed: Duration::from_millis(39_960),
            ..line()
        };
        assert!(render(&l).starts_with("[ 40.0/40.0 s] "));
    }

    #[test]
    fn the_drain_phase_counts_whole_seconds_up_to_its_limit() {
        let limit = Duration::from_secs(10);
        assert_eq!(
            render_drain(Duration::from_millis(3_900), limit),
            "draining webhooks and reconciliation… 3 s (at most 10 s)"
        );
        assert_eq!(
            render_drain(Duration::from_secs(12), limit),
            "draining webhooks and reconciliation… 10 s (at most 10 s)"
        );
        assert!(
            render_drain(Duration::ZERO, Duration::from_millis(500)).ends_with("0 s (at most 1 s)")
        );
    }

    #[test]
    fn frames_redraw_in_place_and_the_last_ends_the_line() {
        let t = |last| Mode::Terminal { last };
        assert_eq!(frame("[ 1.0/2.0 s] x", t(false)), "\r[ 1.0/2.0 s] x\x1b[K");
        // A shorter last line erases what a longer one left, and ends with a newline.
        assert_eq!(frame("done", t(true)), "\rdone\x1b[K\n");
        assert_eq!(frame("done", Mode::Plain), "progress done\n");
        for mode in [t(true), Mode::Plain] {
            let f = frame("x", mode);
            assert!(f.ends_with('\n') && f.matches('\n').count() == 1, "{f:?}");
        }
    }

    #[test]
    fn interval_figures_come_from_the_difference_of_totals() {
        let before = Totals {
            sent: 100,
            shed: 0,
            answered: 90,
            paid: 80,
            pending: 0,
            declined: 5,
            errors: 0,
        };
        let now = Totals {
            sent: 300,
            answered: 290,
            paid: 270,
            declined: 10,
            ..before
        };
        let (rate, success) = figures(&before, &now, Duration::from_secs(2));
        assert_eq!(rate, 100.0);
        // 190 paid of 200 answered, 5 of them declined by the card.
        assert_eq!(success, Some(190.0 / 195.0));
        assert_eq!(figures(&now, &now, Duration::ZERO), (0.0, None));
    }

    #[test]
    fn active_windows_follow_run_time() {
        let w = |name: &str, a: u64, b: u64| Window {
            name: name.into(),
            start: Duration::from_secs(a),
            end: Duration::from_secs(b),
            rates: Default::default(),
            latency: None,
        };
        let ws = [w("a", 0, 5), w("b", 3, 8)];
        assert_eq!(active(&ws, Duration::from_secs(4)), ["a", "b"]);
        assert_eq!(active(&ws, Duration::from_secs(5)), ["b"]);
        assert!(active(&ws, Duration::from_secs(8)).is_empty());
    }
}
