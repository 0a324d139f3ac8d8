//! Scenario text → [`RawScenario`] with every structural problem at once: TOML syntax (which
//! alone stops the parse), unknown keys (with the nearest accepted key suggested) and values
//! of the wrong type, each at its key path, line and column. The typed parse stops at the
//! first such key; the key is then taken out of the document and the parse tried again, so
//! that every other key is still read and its value checked by the parent module.

use std::ops::Range;

use serde_path_to_error::Segment;
use toml_edit::{ImDocument, Item};

use super::Problem;
use crate::scenario::raw::RawScenario;

/// Structural problems reported before giving up: beyond this the file is hardly a scenario,
/// and each one costs a parse of the whole document.
pub(super) const MAX_STRUCTURAL: usize = 50;

/// What parsing found.
#[derive(Debug)]
pub(super) struct Parsed {
    /// The scenario without the keys reported; `None` when the text cannot be read as one.
    pub raw: Option<RawScenario>,
    /// Structural problems, in file order.
    pub problems: Vec<Problem>,
    /// Key paths taken out of the document. A value check must not report them again, e.g.
    /// as a required key that is missing.
    pub removed: Vec<String>,
}

impl Parsed {
    /// Whether `path` is, or lies under, a key already reported and taken out.
    pub fn covers(&self, path: &str) -> bool {
        self.removed.iter().any(|r| {
            path.strip_prefix(r.as_str())
                .is_some_and(|rest| rest.is_empty() || rest.starts_with(['.', '[']))
        })
    }
}

/// One step of a key path.
#[derive(Clone, Debug)]
enum Step {
    Key(String),
    Index(usize),
}

/// Parses `text`, reporting every unknown or mistyped key (see the module doc).
pub(super) fn parse(text: &str) -> Parsed {
    let doc = match ImDocument::parse(text) {
        Ok(doc) => doc,
        Err(e) => {
            // An integer beyond 64 bits stops the parser before any key path is known: find
            // the key whose value holds the error.
            let path = e.span().and_then(|s| super::key_path::key_path_at(text, s));
            return Parsed {
                raw: None,
                problems: vec![problem(
                    text,
                    path.unwrap_or_default(),
                    e.message(),
                    e.span(),
                )],
                removed: Vec::new(),
            };
        }
    };
    let mut working = doc.clone().into_mut();
    let mut found: Vec<(usize, Problem)> = Vec::new();
    let mut removed = Vec::new();
    let raw = loop {
        let de = toml_edit::de::Deserializer::from(working.clone());
        let err = match serde_path_to_error::deserialize::<_, RawScenario>(de) {
            Ok(raw) => break Some(raw),
            Err(err) => err,
        };
        let steps: Option<Vec<Step>> = err
            .path()
            .iter()
            .map(|s| match s {
                Segment::Map { key } => Some(Step::Key(key.clone())),
                Segment::Seq { index } => Some(Step::Index(*index)),
                _ => None,
            })
            .collect();
        let steps = steps.unwrap_or_default();
        let message = err.inner().message();
        let unknown = unknown_field(message);
        // The key itself for an unknown key, as the typed parse of the text points at it;
        // the value for a wrong type.
        let span = locate(doc.as_item(), &steps, unknown.is_some()).or(err.inner().span());
        let mut p = problem(text, show(&steps), message, span.clone());
        if let Some(near) = unknown.and_then(|(field, accepted)| nearest(field, &accepted)) {
            p.message.push_str(&format!("; did you mean `{near}`?"));
        }
        found.push((span.map_or(usize::MAX, |s| s.start), p));
        // An element of an array takes its whole array out: taking the element alone would
        // renumber the ones after it, and their paths with them.
        let Some(last_key) = steps.iter().rposition(|s| matches!(s, Step::Key(_))) else {
            break None;
        };
        let key = &steps[..=last_key];
        if found.len() >= MAX_STRUCTURAL || !take_out(working.as_item_mut(), key) {
            break None;
        }
        removed.push(show(key));
    };
    // Found in the parse's order (alphabetical within a table); reported in the file's.
    found.sort_by_key(|(at, _)| *at);
    let mut problems: Vec<Problem> = found.into_iter().map(|(_, p)| p).collect();
    if raw.is_none() && problems.len() >= MAX_STRUCTURAL {
        problems.push(Problem {
            path: String::new(),
            message: format!(
                "stopped after {MAX_STRUCTURAL} unknown or mistyped keys: fix these first"
            ),
        });
    }
    Parsed {
        raw,
        problems,
        removed,
    }
}

/// A problem at `path` from a TOML or serde message, at the line and column of `span`.
fn problem(text: &str, path: String, message: &str, span: Option<Range<usize>>) -> Problem {
    // serde names Rust types; a scenario author thinks in TOML types.
    let mut message = message
        .trim()
        .replace('\n', "; ")
        .replace("expected f64", "expected a number")
        .replace("expected i64", "expected an integer")
        .replace("expected a sequence", "expected an array")
        .replace(
            "number too large to fit in target type",
            super::INTEGER_RANGE,
        )
        .replace(
            "number too small to fit in target type",
            super::INTEGER_RANGE,
        );
    if let Some(span) = span {
        let (line, column) = line_column(text, span.start);
        message.push_str(&format!(" (at line {line}, column {column})"));
    }
    Problem { path, message }
}

/// `faults.windows[0].end`, as serde_path_to_error prints a path.
fn show(steps: &[Step]) -> String {
    let mut out = String::new();
    for s in steps {
        match s {
            Step::Key(k) if out.is_empty() => out.push_str(k),
            Step::Key(k) => {
                out.push('.');
                out.push_str(k);
            }
            Step::Index(i) => out.push_str(&format!("[{i}]")),
        }
    }
    out
}

/// The item one step below `item`.
fn child<'a>(item: &'a Item, step: &Step) -> Option<&'a Item> {
    match step {
        Step::Key(k) => item.get(k.as_str()),
        Step::Index(i) => item.get(*i),
    }
}

/// Where the key (`key_span`) or the value at `steps` sits in the original text.
fn locate(root: &Item, steps: &[Step], key_span: bool) -> Option<Range<usize>> {
    let (last, parents) = steps.split_last()?;
    let mut item = root;
    for s in parents {
        item = child(item, s)?;
    }
    match last {
        Step::Key(k) => {
            let (key, value) = item.as_table_like()?.get_key_value(k)?;
            if key_span {
                key.span()
            } else {
                value.span()
            }
        }
        Step::Index(_) => child(item, last)?.span(),
    }
}

/// Removes the key at `steps` (ending in a key) from the document; `false` if it is not there.
fn take_out(root: &mut Item, steps: &[Step]) -> bool {
    let Some((Step::Key(key), parents)) = steps.split_last() else {
        return false;
    };
    let mut item = root;
    for s in parents {
        let next = match s {
            Step::Key(k) => item.get_mut(k.as_str()),
            Step::Index(i) => item.get_mut(*i),
        };
        let Some(next) = next else { return false };
        item = next;
    }
    item.as_table_like_mut()
        .is_some_and(|t| t.remove(key).is_some())
}

/// The field and the accepted ones of serde's "unknown field `x`, expected one of `a`, `b`"
/// (also "expected `a`", "expected `a` or `b`", "there are no fields").
fn unknown_field(message: &str) -> Option<(&str, Vec<&str>)> {
    let rest = message.strip_prefix("unknown field `")?;
    let (field, rest) = rest.split_once('`')?;
    let accepted = rest.split('`').skip(1).step_by(2).collect();
    Some((field, accepted))
}

/// The accepted key closest to `field` by edit distance (a swap of two letters counts once),
/// if it is close enough to be a typo: at most a third of its letters, and at least one.
fn nearest<'a>(field: &str, accepted: &[&'a str]) -> Option<&'a str> {
    let field = field.to_ascii_lowercase();
    accepted
        .iter()
        .map(|&a| (strsim::damerau_levenshtein(&field, a), a))
        .filter(|&(d, a)| d <= (field.len().max(a.len()) / 3).max(1))
        .min_by_key(|&(d, _)| d)
        .map(|(_, a)| a)
}

/// 1-based line and column (in characters) of byte `offset`.
fn line_column(text: &str, offset: usize) -> (usize, usize) {
    let before = text.get(..offset.min(text.len())).unwrap_or(text);
    let line = before.matches('\n').count() + 1;
    let column = before.rsplit('\n').next().unwrap_or("").chars().count() + 1;
    (line, column)
}

#[cfg(test)]
mod tests {
    use super::super::from_toml_str;
    use super::super::tests::{assert_problem, problems, problems_with, MINIMAL};
    use super::*;

    #[test]
    fn serde_s_unknown_field_messages_give_the_field_and_the_accepted_keys() {
        let m = "unknown field `timout`, expected one of `timeout`, `hold`, `rate_limit`";
        assert_eq!(
            unknown_field(m),
            Some(("timout", vec!["timeout", "hold", "rate_limit"]))
        );
        assert_eq!(
            unknown_field("unknown field `x`, expected `a` or `b`"),
            Some(("x", vec!["a", "b"]))
        );
        assert_eq!(
            unknown_field("unknown field `x`, there are no fields"),
            Some(("x", vec![]))
        );
        assert_eq!(
            unknown_field("invalid type: string \"x\", expected f64"),
            None
        );
    }

    #[test]
    fn a_typo_gets_the_nearest_key_and_a_stranger_gets_none() {
        let keys = ["timeout", "server_error", "rate_limit", "latency", "kind"];
        assert_eq!(nearest("server_eror", &keys), Some("server_error"));
        assert_eq!(
            nearest("timoeut", &keys),
            Some("timeout"),
            "a swap is one edit"
        );
        assert_eq!(nearest("Latency", &keys), Some("latency"));
        assert_eq!(nearest("kindd", &keys), Some("kind"));
        assert_eq!(nearest("colour", &keys), None);
        assert_eq!(nearest("rt", &keys), None);
        assert_eq!(nearest("x", &[]), None);
    }

    #[test]
    fn a_path_prints_as_serde_path_to_error_prints_it() {
        let steps = [
            Step::Key("faults".into()),
            Step::Key("windows".into()),
            Step::Index(1),
            Step::Key("end".into()),
        ];
        assert_eq!(show(&steps), "faults.windows[1].end");
    }

    #[test]
    fn a_removed_key_covers_itself_and_what_lies_under_it_only() {
        let p = Parsed {
            raw: None,
            problems: Vec::new(),
            removed: vec!["load.stages".into(), "name".into()],
        };
        for path in [
            "load.stages",
            "load.stages[0].rate",
            "load.stages.x",
            "name",
        ] {
            assert!(p.covers(path), "{path}");
        }
        for path in ["load.stagesx", "load", "load.rate", "names"] {
            assert!(!p.covers(path), "{path}");
        }
    }

    /// #9: an unknown key stopped validation, hiding every problem after it.
    #[test]
    fn an_unknown_key_hides_no_other_problem() {
        // Arrange: a typo in [faults], a negative rate and a duration with a space.
        let text = "name = \"t\"\n[load]\nprofile = \"constant\"\nrate = -5\nduration = \"1s\"\n\
                    [provider]\nhold = \"2 s\"\n[faults]\nserver_eror = 0.3\n";

        // Act
        let all = problems(text);

        // Assert: all three, the typo with the key it meant.
        assert_eq!(all.len(), 3, "{all:#?}");
        assert_problem(
            &all,
            "faults.server_eror",
            "unknown field `server_eror`, expected one of `insufficient_funds`,",
        );
        assert!(
            all[0].ends_with("(at line 9, column 1); did you mean `server_error`?"),
            "{all:#?}"
        );
        assert_problem(&all, "load.rate", "must be a number greater than 0, got -5");
        assert_problem(&all, "provider.hold", "got \"2 s\"");
    }

    #[test]
    fn every_unknown_and_mistyped_key_is_reported_in_file_order() {
        // Arrange: unknown keys in a table, an inline table, an array of tables and at the top,
        // a wrong type at the top and in an array, and a value problem after them all.
        let text = r#"nme = "t"
name = "t"
seed = "one"
[load]
profile = "constant"
rate = 10
duration = "1s"
[faults.latency]
distribution = "fixed"
valu = "1ms"
[[faults.windows]]
start = "0s"
end = "1s"
latncy = {}
[webhooks]
retry_schedule = ["1s", true, 3]
colour = "red"
[gates]
success_rate_min = 2
"#;

        // Act
        let err = from_toml_str(text, "s.toml").unwrap_err();

        // Assert
        let paths: Vec<&str> = err.problems.iter().map(|p| p.path.as_str()).collect();
        assert_eq!(
            paths,
            [
                "nme",
                "seed",
                "faults.latency.valu",
                "faults.windows[0].latncy",
                "webhooks.retry_schedule[1]",
                "webhooks.colour",
                "faults.latency.value",
                "gates.success_rate_min",
            ],
            "{err}"
        );
        let shown = err.to_string();
        let lines: Vec<&str> = shown.lines().collect();
        assert!(
            lines[0].starts_with("s.toml: nme: unknown field `nme`, expected one of `name`,")
                && lines[0].ends_with("(at line 1, column 1); did you mean `name`?"),
            "{shown}"
        );
        assert_eq!(
            lines[1],
            "s.toml: seed: invalid type: string \"one\", expected an integer (at line 3, column 8)"
        );
        assert!(
            lines[2].ends_with("(at line 10, column 1); did you mean `value`?"),
            "{shown}"
        );
        assert!(
            lines[3].contains("(at line 14, column 1); did you mean `latency`?"),
            "{shown}"
        );
        assert!(lines[4].contains("invalid type: boolean `true`"), "{shown}");
        assert!(lines[4].ends_with("(at line 16, column 25)"), "{shown}");
        assert!(
            lines[5].ends_with("(at line 17, column 1)"),
            "no key is near `colour`: {shown}"
        );
        // The latency table without its misspelt key lacks `value`: a problem of its own.
        assert!(
            lines[6].contains("faults.latency.value: required"),
            "{shown}"
        );
        assert!(
            lines[7].ends_with("must be within 0.0..=1.0, got 2"),
            "{shown}"
        );
    }

    #[test]
    fn a_mistyped_required_key_is_not_also_reported_missing() {
        let all = problems(&MINIMAL.replace("name = \"t\"", "name = 5"));
        assert_eq!(
            all,
            ["name: invalid type: integer `5`, expected a string (at line 2, column 8)"]
        );
        let all = problems_with("[load.x]\n");
        assert_eq!(all.len(), 1, "{all:?}");
        assert!(all[0].starts_with("load.x: unknown field `x`"), "{all:?}");
    }
}
