//! What the commands write to the terminal: whole lines on stdout or stderr whose write errors
//! are ignored (a closed pipe, as in `paychaos run … | head -n 1`, never panics, never stops
//! a run or its report), and the tracing subscriber that writes the library's log events to
//! stderr the same way, clearing a half-drawn progress line first. A message after Ctrl-C
//! starts on a line of its own, after the `^C` the terminal echoed.

use std::fmt;
use std::io::{self, IsTerminal, Write};

use tracing::{Event, Level, Subscriber};
use tracing_subscriber::filter::LevelFilter;
use tracing_subscriber::fmt::format::Writer;
use tracing_subscriber::fmt::{FmtContext, FormatEvent, FormatFields, MakeWriter};
use tracing_subscriber::registry::LookupSpan;

use crate::progress;

/// Writes `args` and a newline to stdout; a failed write is ignored.
pub fn out_line(args: fmt::Arguments<'_>) {
    let mut out = io::stdout().lock();
    let _ = out.write_fmt(args).and_then(|()| out.write_all(b"\n"));
    let _ = out.flush();
}

/// Writes `args` and a newline to stderr, after clearing a half-drawn progress line; a failed
/// write is ignored.
pub fn err_line(args: fmt::Arguments<'_>) {
    let mut line = args.to_string();
    line.push('\n');
    let _ = Stderr.write(line.as_bytes());
}

/// Writes `args` and a newline to stderr after a stop signal: the progress line (where the
/// terminal echoed `^C`) is ended and kept, or a bare `^C` at a line start is erased, so the
/// message starts on a line of its own; a failed write is ignored.
pub fn err_line_after_signal(args: fmt::Arguments<'_>) {
    let before = after_signal(io::stderr().is_terminal(), progress::close_line());
    let mut err = io::stderr().lock();
    let _ = writeln!(err, "{before}{args}");
    let _ = err.flush();
}

/// What goes before a message after a stop signal: on a terminal, a newline ending an open
/// progress line, else a return and erase over the echoed `^C`; nothing in a log.
fn after_signal(terminal: bool, line_open: bool) -> &'static str {
    match (terminal, line_open) {
        (false, _) => "",
        (true, true) => "\n",
        (true, false) => "\r\x1b[K",
    }
}

/// `println!` for the commands, with write errors ignored ([`out_line`]).
macro_rules! out {
    ($($arg:tt)*) => { $crate::cli::term::out_line(format_args!($($arg)*)) };
}

/// `eprintln!` for the commands, with write errors ignored ([`err_line`]).
macro_rules! say {
    ($($arg:tt)*) => { $crate::cli::term::err_line(format_args!($($arg)*)) };
}

pub(crate) use {out, say};

/// Sends the library's log events at `level` and above to stderr, one line each:
/// `<part>: [warning: |error: ]<message>`, where the part is the module that logged (the
/// run's own lines say `paychaos`). Does nothing when a subscriber is already set.
pub fn init_logging(level: LevelFilter) {
    use tracing_subscriber::layer::SubscriberExt;
    use tracing_subscriber::Layer;
    let lines = tracing_subscriber::fmt::layer()
        .event_format(Lines)
        .with_writer(Stderr)
        // Its own complaints would go to stderr by `eprintln!`, which panics on a closed pipe.
        .log_internal_errors(false)
        .with_filter(level);
    let _ = tracing::subscriber::set_global_default(tracing_subscriber::registry().with(lines));
}

/// stderr for log events: each event arrives as one write of a whole line, put after a
/// cleared progress line; errors are swallowed so that logging never fails.
#[derive(Clone, Copy)]
struct Stderr;

impl Write for Stderr {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let mut err = io::stderr().lock();
        if progress::line_open() {
            let _ = err.write_all(b"\r\x1b[K");
        }
        let _ = err.write_all(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        let _ = io::stderr().flush();
        Ok(())
    }
}

impl<'a> MakeWriter<'a> for Stderr {
    type Writer = Stderr;

    fn make_writer(&'a self) -> Stderr {
        Stderr
    }
}

/// The line format of log events (see [`init_logging`]).
struct Lines;

impl<S, N> FormatEvent<S, N> for Lines
where
    S: Subscriber + for<'a> LookupSpan<'a>,
    N: for<'a> FormatFields<'a> + 'static,
{
    fn format_event(
        &self,
        ctx: &FmtContext<'_, S, N>,
        mut writer: Writer<'_>,
        event: &Event<'_>,
    ) -> fmt::Result {
        let meta = event.metadata();
        write!(
            writer,
            "{}: {}",
            part(meta.target()),
            level_word(*meta.level())
        )?;
        ctx.field_format().format_fields(writer.by_ref(), event)?;
        writeln!(writer)
    }
}

/// Who a line is from: the top module under `paychaos` (`provider`, `merchant`, …), or
/// `paychaos` itself for the run and the commands; another crate by its name.
fn part(target: &str) -> &str {
    match target.strip_prefix("paychaos::") {
        Some(rest) => match rest.split("::").next() {
            Some("run" | "cli" | "progress") | None => "paychaos",
            Some(part) => part,
        },
        None => target.split("::").next().unwrap_or(target),
    }
}

/// What a level adds before the message; plain information adds nothing.
fn level_word(level: Level) -> &'static str {
    match level {
        Level::ERROR => "error: ",
        Level::WARN => "warning: ",
        Level::INFO => "",
        Level::DEBUG => "debug: ",
        Level::TRACE => "trace: ",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_line_names_the_part_that_logged_and_its_level() {
        assert_eq!(part("paychaos::run::harness"), "paychaos");
        assert_eq!(part("paychaos::cli"), "paychaos");
        assert_eq!(part("paychaos::provider::server"), "provider");
        assert_eq!(part("paychaos::merchant"), "merchant");
        assert_eq!(part("hyper::proto"), "hyper");
        assert_eq!(level_word(Level::WARN), "warning: ");
        assert_eq!(level_word(Level::INFO), "");
    }

    #[test]
    fn a_message_after_ctrl_c_starts_on_a_line_of_its_own() {
        assert_eq!(after_signal(true, true), "\n", "ends the progress line");
        assert_eq!(after_signal(true, false), "\r\x1b[K", "erases a bare ^C");
        assert_eq!(after_signal(false, true), "", "a log has no echo");
        assert_eq!(after_signal(false, false), "");
    }
}
