//! A comparison written out: a Markdown page (notes first, then one table row per metric)
//! and JSON (the [`Comparison`] as serde writes it, `compare_version` first), and both
//! files put in a report folder.

use std::io::{self, Write};
use std::path::{Path, PathBuf};

use serde::Serialize;

use super::{Comparison, Judgement, Kind, Row};
use crate::report::gates::number;

/// The Markdown file a run with `--baseline` leaves in its report folder.
pub const MD_FILE: &str = "compare.md";
/// The JSON file a run with `--baseline` leaves in its report folder.
pub const JSON_FILE: &str = "compare.json";

/// Version of the JSON shape below; it changes by the rules of the report's `schema_version`.
pub const COMPARE_VERSION: u32 = 1;

/// The comparison as Markdown.
pub fn markdown(c: &Comparison) -> String {
    let mut s = format!(
        "## paychaos compare: {}\n\n",
        c.verdict.as_str().to_ascii_uppercase()
    );
    for note in &c.notes {
        let note = match note.strip_prefix("not comparable fault for fault") {
            Some(rest) => format!("**Not comparable fault for fault**{rest}"),
            None => note.clone(),
        };
        s.push_str(&format!("> {note}\n>\n"));
    }
    if !c.notes.is_empty() {
        s.truncate(s.len() - 2);
        s.push('\n');
    }
    for (which, side) in [("base", &c.base), ("new", &c.new)] {
        s.push_str(&format!(
            "- {which}: `{}` ({}, seed {}{})\n",
            side.source,
            side.scenario,
            side.seed,
            side.verdict
                .as_deref()
                .map(|v| format!(", {v}"))
                .unwrap_or_default()
        ));
    }
    let regressions = c.regressions();
    let named = if regressions.is_empty() {
        String::new()
    } else {
        format!(" ({})", regressions.join(", "))
    };
    s.push_str(&format!(
        "\n{} regressed{named}, {} better, {} ok, {} incomparable.\n\n",
        c.regressed,
        c.better,
        super::count(&c.metrics, Judgement::Ok),
        super::count(&c.metrics, Judgement::Incomparable),
    ));
    s.push_str("| metric | base | new | delta | verdict | why |\n");
    s.push_str("| --- | --: | --: | --: | --- | --- |\n");
    for r in &c.metrics {
        let verdict = match r.verdict {
            Judgement::Regressed => "**regressed**",
            j => j.as_str(),
        };
        s.push_str(&format!(
            "| {} | {} | {} | {} | {verdict} | {} |\n",
            r.metric,
            value(r, r.base, r.base_n),
            value(r, r.new, r.new_n),
            delta(r),
            r.reason
        ));
    }
    s.push_str(&format!(
        "\nRates: two-proportion z-test at both runs' sample sizes, 95 % (|z| ≥ 1.96). \
         Latency: beyond {} % of the base or {} ms, whichever is larger. Counts: any increase.\n",
        number(c.tolerance.latency_relative * 100.0),
        number(c.tolerance.latency_floor_ms)
    ));
    s
}

fn value(r: &Row, v: Option<f64>, n: Option<u64>) -> String {
    let Some(v) = v else {
        return "—".into();
    };
    match (r.kind, n) {
        (Kind::Rate, Some(n)) => format!("{:.2} % of {n}", v * 100.0),
        _ => number(v),
    }
}

fn delta(r: &Row) -> String {
    let Some(d) = r.delta else {
        return "—".into();
    };
    let sign = if d > 0.0 { "+" } else { "" };
    match r.kind {
        Kind::Rate => format!("{sign}{:.2} pp", d * 100.0),
        Kind::Latency => match r.base.filter(|b| *b > 0.0) {
            Some(b) => {
                // `+ 0.0` turns the -0 of a change under half a percent into 0.
                let pct = (d / b * 100.0).round() + 0.0;
                let pct_sign = if pct > 0.0 { "+" } else { "" };
                format!("{sign}{} ({pct_sign}{} %)", number(d), number(pct))
            }
            None => format!("{sign}{}", number(d)),
        },
        Kind::Count => format!("{sign}{}", number(d)),
    }
}

/// The JSON document: `compare_version`, then the comparison's fields.
#[derive(Serialize)]
struct Doc<'a> {
    compare_version: u32,
    #[serde(flatten)]
    comparison: &'a Comparison,
}

/// The comparison as pretty-printed JSON with a trailing newline.
pub fn json(c: &Comparison) -> String {
    let doc = Doc {
        compare_version: COMPARE_VERSION,
        comparison: c,
    };
    let mut s = serde_json::to_string_pretty(&doc).expect("a comparison serialises");
    s.push('\n');
    s
}

/// Writes `compare.md` and `compare.json` into `dir`, each through a temporary file renamed
/// into place. Returns the paths written.
pub fn write_files(c: &Comparison, dir: &Path) -> Result<Vec<PathBuf>, (PathBuf, io::Error)> {
    let mut written = Vec::new();
    for (name, text) in [(MD_FILE, markdown(c)), (JSON_FILE, json(c))] {
        let path = dir.join(name);
        crate::report::write_atomically(&path, |w| w.write_all(text.as_bytes()))
            .map_err(|e| (path.clone(), e))?;
        written.push(path);
    }
    Ok(written)
}

/// Writes `text` to `path` through a temporary file renamed into place (`compare --out`).
pub fn write_file(path: &Path, text: &str) -> io::Result<()> {
    crate::report::write_atomically(path, |w| w.write_all(text.as_bytes()))
}
