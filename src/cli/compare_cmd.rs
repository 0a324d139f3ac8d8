//! `paychaos compare BASE NEW`, and the reading of `run --baseline`: the flags, the reading of
//! both reports (every bad one named, exit 2) and where the comparison goes. The verdicts
//! are `report::compare`'s.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::{Args, ValueEnum};

use super::term::{out, say};
use crate::report::compare::{self, render, Tolerance};
use crate::run::Baseline;

/// How far latency may move before it counts (`compare`, `run --baseline`).
#[derive(Clone, Copy, Debug, Args)]
pub struct ToleranceArgs {
    /// Latency percentiles may grow by this many percent of the base value before they
    /// regress (or, below the floor, by the floor).
    #[arg(long, value_name = "PCT", default_value = "10", value_parser = percent)]
    pub latency_tolerance: f64,
    /// Latency may always move by this many ms, so that µs of jitter are never a regression.
    #[arg(long, value_name = "MS", default_value = "1", value_parser = non_negative)]
    pub latency_floor_ms: f64,
}

impl ToleranceArgs {
    pub fn tolerance(self) -> Tolerance {
        Tolerance {
            latency_relative: self.latency_tolerance / 100.0,
            latency_floor_ms: self.latency_floor_ms,
        }
    }
}

/// What `compare` writes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum Format {
    /// A Markdown table, one row per metric.
    #[value(name = "md", alias = "markdown")]
    Markdown,
    /// The comparison as JSON (`compare_version` 1).
    Json,
}

#[derive(Debug, Args)]
pub struct CompareArgs {
    /// The baseline: a report folder or its report.json.
    base: PathBuf,
    /// The run to judge: a report folder or its report.json.
    new: PathBuf,
    /// Output format.
    #[arg(long, value_name = "FORMAT", default_value = "md")]
    format: Format,
    /// Write the comparison to FILE instead of stdout.
    #[arg(long, value_name = "FILE")]
    out: Option<PathBuf>,
    #[command(flatten)]
    tolerance: ToleranceArgs,
}

/// Runs `paychaos compare`: exit 1 when a metric regressed, 0 otherwise, 2 on bad input.
pub fn run(args: CompareArgs) -> ExitCode {
    // Both are read before either is judged, so that two bad inputs are named at once.
    let (base, new) = (compare::load(&args.base), compare::load(&args.new));
    let (base, new) = match (base, new) {
        (Ok(b), Ok(n)) => (b, n),
        (b, n) => {
            for e in [b.err(), n.err()].into_iter().flatten() {
                say!("error: {e}");
            }
            return ExitCode::from(2);
        }
    };
    let c = compare::compare(&base, &new, args.tolerance.tolerance());
    let text = match args.format {
        Format::Markdown => render::markdown(&c),
        Format::Json => render::json(&c),
    };
    match &args.out {
        None => out!("{}", text.trim_end()),
        Some(path) => {
            if let Err(e) = write_out(path, &text) {
                say!(
                    "error: cannot write the comparison to {} (--out): {e}",
                    path.display()
                );
                return ExitCode::from(2);
            }
            say!(
                "paychaos: compare: {} ({})",
                c.verdict.as_str(),
                path.display()
            );
        }
    }
    ExitCode::from(c.exit_code())
}

fn write_out(path: &Path, text: &str) -> std::io::Result<()> {
    if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
        std::fs::create_dir_all(parent)?;
    }
    render::write_file(path, text)
}

/// Reads `run --baseline PATH` before the run starts; a bad one is printed and ends the
/// command with exit 2.
pub fn baseline(path: &Path, tolerance: ToleranceArgs) -> Result<Baseline, ExitCode> {
    match compare::load(path) {
        Ok(report) => Ok(Baseline {
            report,
            tolerance: tolerance.tolerance(),
        }),
        Err(e) => {
            say!("error: --baseline {e}");
            Err(ExitCode::from(2))
        }
    }
}

/// What a finished run with `--baseline` prints after its summary.
pub fn print(c: &compare::Comparison, dir: &Path) {
    out!("{}", render::markdown(c).trim_end());
    out!(
        "comparison: {} and {}",
        dir.join(render::MD_FILE).display(),
        dir.join(render::JSON_FILE).display()
    );
}

fn number(s: &str) -> Result<f64, String> {
    match s.trim().parse::<f64>() {
        Ok(x) if x.is_finite() && x >= 0.0 => Ok(x),
        _ => Err(format!("expected a number of 0 or more, got '{s}'")),
    }
}

/// `10`, `10%` or `2.5`: percent.
fn percent(s: &str) -> Result<f64, String> {
    number(s.trim().strip_suffix('%').unwrap_or(s))
        .map_err(|_| format!("expected a percentage of 0 or more, such as 10 or 10%, got '{s}'"))
}

fn non_negative(s: &str) -> Result<f64, String> {
    number(s)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tolerances_read_percent_and_ms() {
        assert_eq!(percent("10"), Ok(10.0));
        assert_eq!(percent("12.5%"), Ok(12.5));
        assert_eq!(
            percent("-3"),
            Err("expected a percentage of 0 or more, such as 10 or 10%, got '-3'".into())
        );
        assert!(percent("ten").is_err());
        assert_eq!(non_negative("0.5"), Ok(0.5));
        assert!(non_negative("NaN").is_err());
        let t = ToleranceArgs {
            latency_tolerance: 10.0,
            latency_floor_ms: 1.0,
        }
        .tolerance();
        assert_eq!(t, Tolerance::default());
    }
}
