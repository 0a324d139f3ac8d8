//! The figures a comparison reads from a report: deserialised from a `report.json` of any
//! schema version up to this build's (keys added since are ignored, keys older versions
//! lacked default), or taken from a report in memory. Reading names the file and, for a
//! report that is not one, the key path at fault.

use std::fs;
use std::io;
use std::path::{Path, PathBuf};

use serde::Deserialize;

use crate::report::{OrderedMap, RunReport, SCHEMA_VERSION};
use crate::verify::TruthLabel;

/// What `compare` reads of one report.
#[derive(Clone, Debug, PartialEq, Deserialize)]
pub struct ReportView {
    pub schema_version: u32,
    /// `pass`, `fail`, `interrupted` or `error` (schema 3 on; `None` before).
    #[serde(default)]
    pub verdict: Option<String>,
    pub scenario: ScenarioView,
    #[serde(default)]
    pub run: RunView,
    pub load: LoadView,
    pub latency_ms: LatencyView,
    pub outcomes: OutcomesView,
    #[serde(default)]
    pub faults: FaultsView,
    #[serde(default)]
    pub webhooks: WebhooksView,
    pub verification: VerificationView,
}

#[derive(Clone, Debug, PartialEq, Deserialize)]
pub struct ScenarioView {
    pub name: String,
    pub seed: u64,
}

#[derive(Clone, Debug, Default, PartialEq, Deserialize)]
pub struct RunView {
    #[serde(default)]
    pub interrupted: bool,
}

#[derive(Clone, Debug, PartialEq, Deserialize)]
pub struct LoadView {
    pub sent: u64,
    pub shed: u64,
    pub errors: u64,
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Deserialize)]
pub struct LatencyView {
    pub p50: f64,
    pub p90: f64,
    pub p99: f64,
    pub max: f64,
}

#[derive(Clone, Debug, PartialEq, Deserialize)]
pub struct OutcomesView {
    /// Provider truth → final state → orders: the exact counts behind the success rates.
    pub confusion: OrderedMap<OrderedMap<u64>>,
}

#[derive(Clone, Debug, Default, PartialEq, Deserialize)]
pub struct FaultsView {
    /// Empty in reports from before plan digests (schema 1).
    #[serde(default)]
    pub plan_digest: String,
}

#[derive(Clone, Debug, Default, PartialEq, Deserialize)]
pub struct WebhooksView {
    #[serde(default)]
    pub endpoint: EndpointView,
}

#[derive(Clone, Debug, Default, PartialEq, Deserialize)]
pub struct EndpointView {
    /// Genuine delivery attempts sent to the merchant (0: no webhook figures).
    #[serde(default)]
    pub attempts: u64,
    #[serde(default)]
    pub ack_latency_ms: EndpointLatencyView,
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Deserialize)]
pub struct EndpointLatencyView {
    #[serde(default)]
    pub p99: f64,
}

#[derive(Clone, Debug, PartialEq, Deserialize)]
pub struct VerificationView {
    pub checks: Vec<CheckView>,
}

#[derive(Clone, Debug, PartialEq, Deserialize)]
pub struct CheckView {
    pub name: String,
    pub passed: bool,
    pub violations: u64,
}

impl ReportView {
    /// The view of a report in memory (the run that just ended).
    pub fn of(r: &RunReport) -> ReportView {
        ReportView {
            schema_version: r.schema_version,
            verdict: Some(r.verdict.as_str().to_string()),
            scenario: ScenarioView {
                name: r.scenario.name.clone(),
                seed: r.scenario.seed,
            },
            run: RunView {
                interrupted: r.run.interrupted,
            },
            load: LoadView {
                sent: r.load.sent,
                shed: r.load.shed,
                errors: r.load.errors,
            },
            latency_ms: LatencyView {
                p50: r.latency_ms.p50,
                p90: r.latency_ms.p90,
                p99: r.latency_ms.p99,
                max: r.latency_ms.max,
            },
            outcomes: OutcomesView {
                confusion: r.outcomes.confusion.clone(),
            },
            faults: FaultsView {
                plan_digest: r.faults.plan_digest.clone(),
            },
            webhooks: WebhooksView {
                endpoint: EndpointView {
                    attempts: r.webhooks.endpoint.attempts,
                    ack_latency_ms: EndpointLatencyView {
                        p99: r.webhooks.endpoint.ack_latency_ms.p99,
                    },
                },
            },
            verification: VerificationView {
                checks: r
                    .verification
                    .checks
                    .iter()
                    .map(|c| CheckView {
                        name: c.name.clone(),
                        passed: c.passed,
                        violations: c.violations,
                    })
                    .collect(),
            },
        }
    }

    /// Orders the run verified (the confusion matrix's total).
    pub fn orders(&self) -> u64 {
        self.confusion_sum(|_| true, |_| true)
    }

    /// Orders whose card did not decline them (unknown truth labels count as eligible).
    pub fn eligible(&self) -> u64 {
        self.confusion_sum(|t| !declined(t), |_| true)
    }

    /// Orders that ended paid.
    pub fn paid(&self) -> u64 {
        self.confusion_sum(|_| true, |s| s == "paid")
    }

    /// Orders that ended paid and that the card did not decline.
    pub fn paid_eligible(&self) -> u64 {
        self.confusion_sum(|t| !declined(t), |s| s == "paid")
    }

    fn confusion_sum(&self, truth: impl Fn(&str) -> bool, state: impl Fn(&str) -> bool) -> u64 {
        self.outcomes
            .confusion
            .iter()
            .filter(|(t, _)| truth(t))
            .flat_map(|(_, row)| row.iter())
            .filter(|(s, _)| state(s))
            .map(|(_, n)| *n)
            .sum()
    }
}

fn declined(truth: &str) -> bool {
    TruthLabel::parse(truth).is_some_and(TruthLabel::is_declined)
}

/// A report read for a comparison, with where it came from.
#[derive(Clone, Debug, PartialEq)]
pub struct Loaded {
    /// The file read (or, for the run that just ended, its report folder).
    pub source: PathBuf,
    pub view: ReportView,
}

impl Loaded {
    /// The run that just ended, written to `dir`.
    pub fn of_report(report: &RunReport, dir: &Path) -> Loaded {
        Loaded {
            source: dir.to_path_buf(),
            view: ReportView::of(report),
        }
    }
}

/// Why a report could not be read; each names the file or folder given.
#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    #[error("{}: no such file or folder (expected a report folder or its report.json)", .0.display())]
    Missing(PathBuf),
    #[error(
        "{}: no report.json in this folder (expected a report folder written by `paychaos run`, \
         or a report.json file)",
        .0.display()
    )]
    NoReport(PathBuf),
    #[error("{}: cannot read: {source}", path.display())]
    Read { path: PathBuf, source: io::Error },
    #[error("{}: not JSON: {source}", path.display())]
    NotJson {
        path: PathBuf,
        source: serde_json::Error,
    },
    #[error("{}: not a paychaos report: {detail}", path.display())]
    NotReport { path: PathBuf, detail: String },
    #[error(
        "{}: schema_version {found} is newer than this paychaos reads (at most {supported}): \
         compare it with the paychaos that wrote it, or a newer one",
        path.display()
    )]
    Newer {
        path: PathBuf,
        found: u64,
        supported: u32,
    },
}

/// Reads the report at `path`: a report folder (its `report.json`) or a `report.json` file.
pub fn load(path: &Path) -> Result<Loaded, LoadError> {
    let file = if path.is_dir() {
        let f = path.join("report.json");
        if !f.is_file() {
            return Err(LoadError::NoReport(path.to_path_buf()));
        }
        f
    } else if path.exists() {
        path.to_path_buf()
    } else {
        return Err(LoadError::Missing(path.to_path_buf()));
    };
    let text = fs::read(&file).map_err(|source| LoadError::Read {
        path: file.clone(),
        source,
    })?;
    let view = parse(&text).map_err(|e| e.at(&file))?;
    Ok(Loaded { source: file, view })
}

/// What is wrong with a document, before the file's name is put in front.
#[derive(Debug)]
pub enum ParseError {
    NotJson(serde_json::Error),
    NotReport(String),
    Newer(u64),
}

impl ParseError {
    fn at(self, path: &Path) -> LoadError {
        let path = path.to_path_buf();
        match self {
            ParseError::NotJson(source) => LoadError::NotJson { path, source },
            ParseError::NotReport(detail) => LoadError::NotReport { path, detail },
            ParseError::Newer(found) => LoadError::Newer {
                path,
                found,
                supported: SCHEMA_VERSION,
            },
        }
    }
}

/// Reads a report's figures from JSON text. The schema version is checked first, so that a
/// newer report is named as such rather than as a report with odd keys.
pub fn parse(text: &[u8]) -> Result<ReportView, ParseError> {
    let doc: serde_json::Value = serde_json::from_slice(text).map_err(ParseError::NotJson)?;
    let Some(obj) = doc.as_object() else {
        return Err(ParseError::NotReport(
            "expected a JSON object with `schema_version`".into(),
        ));
    };
    let version = match obj.get("schema_version") {
        None => {
            return Err(ParseError::NotReport(
                "schema_version: missing (a report.json written by `paychaos run` has it)".into(),
            ))
        }
        Some(v) => v.as_u64().ok_or_else(|| {
            ParseError::NotReport(format!("schema_version: expected a whole number, got {v}"))
        })?,
    };
    if version > u64::from(SCHEMA_VERSION) {
        return Err(ParseError::Newer(version));
    }
    // Read again from the text, not the tree, so maps keep the order the report gives them.
    let mut de = serde_json::Deserializer::from_slice(text);
    serde_path_to_error::deserialize(&mut de).map_err(|e| {
        let path = e.path().to_string();
        ParseError::NotReport(format!("{path}: {}", e.into_inner()))
    })
}
