//! `--set key.path=value`: scenario keys replaced from the command line before validation, so
//! that an override is checked with the same key paths and messages as the file. The value is
//! read as a TOML value (`200`, `0.05`, `"30s"`, `true`, `[1, 2]`); a bare word that is not
//! one (`30s`, `smoke-2`) is taken as a string, so a shell need not quote the quotes.

use toml_edit::{DocumentMut, Item, Table, Value};

use super::Problem;

/// What a bare word taken as a string may hold: letters, digits and `_ - . : / +`.
fn is_bare_word(s: &str) -> bool {
    !s.is_empty()
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || "_-.:/+".contains(c))
}

/// One step of an override's key path.
enum Step<'a> {
    Key(&'a str),
    Index(usize),
}

/// `faults.windows[0].rate` → `faults`, `windows`, `[0]`, `rate`; `None` when malformed.
fn steps(path: &str) -> Option<Vec<Step<'_>>> {
    let mut out = Vec::new();
    for part in path.split('.') {
        let (key, mut rest) = match part.find('[') {
            Some(i) => part.split_at(i),
            None => (part, ""),
        };
        let bare = |k: &str| {
            !k.is_empty()
                && k.chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
        };
        if !bare(key) {
            return None;
        }
        out.push(Step::Key(key));
        while !rest.is_empty() {
            let close = rest.find(']')?;
            let index = rest.get(1..close)?.parse().ok()?;
            out.push(Step::Index(index));
            rest = &rest[close + 1..];
            if !rest.is_empty() && !rest.starts_with('[') {
                return None;
            }
        }
    }
    Some(out)
}

/// Applies every `--set` argument to `text`; the new text, or every argument's problem.
pub fn apply(text: &str, sets: &[String]) -> Result<String, Vec<Problem>> {
    if sets.is_empty() {
        return Ok(text.to_string());
    }
    let mut doc: DocumentMut = match text.parse() {
        Ok(d) => d,
        // The file's own syntax error is reported by validation, as without --set.
        Err(_) => return Ok(text.to_string()),
    };
    let mut problems = Vec::new();
    for arg in sets {
        if let Err(message) = set_one(&mut doc, arg) {
            problems.push(Problem {
                path: String::new(),
                message: format!("--set {arg:?}: {message}"),
            });
        }
    }
    if problems.is_empty() {
        Ok(doc.to_string())
    } else {
        Err(problems)
    }
}

/// The key path of a `--set` argument, when it has one.
pub fn key_of(arg: &str) -> Option<&str> {
    arg.split_once('=').map(|(k, _)| k.trim())
}

fn set_one(doc: &mut DocumentMut, arg: &str) -> Result<(), String> {
    let Some((path, raw)) = arg.split_once('=') else {
        return Err("expected key.path=value, e.g. --set load.rate=200".into());
    };
    let path = path.trim();
    let raw = raw.trim();
    let steps = steps(path).ok_or_else(|| {
        format!(
            "{path:?} is not a key path: expected keys joined by \".\", an array's entry by \
             index, e.g. faults.windows[0].rate"
        )
    })?;
    let value: Value = match raw.parse::<Value>() {
        Ok(v) => v,
        Err(_) if is_bare_word(raw) => Value::from(raw),
        Err(_) => {
            return Err(format!(
                "{raw:?} is not a TOML value: expected a number, true/false, a quoted string, \
                 an array or an inline table (a bare word of letters, digits and _-.:/+ is \
                 taken as a string)"
            ))
        }
    };
    let (last, parents) = steps.split_last().expect("a path has a key");
    let Step::Key(last) = last else {
        return Err(format!(
            "{path:?} ends in an index: name the key inside the entry, e.g. {path}.rate"
        ));
    };
    let mut item: &mut Item = doc.as_item_mut();
    let mut shown = String::new();
    for (n, s) in parents.iter().enumerate() {
        item = match s {
            Step::Key(k) => {
                let t = item
                    .as_table_like_mut()
                    .ok_or_else(|| format!("{shown} is not a table"))?;
                if t.get(k).is_none() && matches!(parents.get(n + 1), Some(Step::Index(_))) {
                    let whole = join(&shown, k);
                    return Err(format!(
                        "{whole} has no entries in the scenario: an override replaces a key \
                         of an entry, it does not add one"
                    ));
                }
                if t.get(k).is_none() {
                    t.insert(k, Item::Table(Table::new()));
                }
                shown = join(&shown, k);
                t.get_mut(k).expect("just inserted")
            }
            Step::Index(i) => {
                let len = match &*item {
                    Item::ArrayOfTables(a) => a.len(),
                    Item::Value(Value::Array(a)) => a.len(),
                    _ => return Err(format!("{shown} is not an array")),
                };
                if *i >= len {
                    return Err(format!(
                        "{shown} has {len} entr{} in the scenario: index {i} is out of range",
                        if len == 1 { "y" } else { "ies" }
                    ));
                }
                shown = format!("{shown}[{i}]");
                item.get_mut(*i)
                    .ok_or_else(|| format!("{shown} is not a table"))?
            }
        };
    }
    let t = item
        .as_table_like_mut()
        .ok_or_else(|| format!("{shown} is not a table"))?;
    t.insert(last, Item::Value(value));
    Ok(())
}

fn join(a: &str, b: &str) -> String {
    if a.is_empty() {
        b.to_string()
    } else {
        format!("{a}.{b}")
    }
}

#[cfg(test)]
mod tests {
    use std::io::Write;

    use crate::scenario::Scenario;

    const FILE: &str = r#"
name = "t"
seed = 1
[load]
profile = "constant"
rate = 10
duration = "2s"
[faults]
[[faults.windows]]
name = "w"
start = "1s"
end = "2s"
server_error = 0.5
"#;

    fn load(sets: &[&str]) -> Result<Scenario, Vec<String>> {
        let mut f = tempfile::NamedTempFile::new().unwrap();
        f.write_all(FILE.as_bytes()).unwrap();
        let sets: Vec<String> = sets.iter().map(|s| s.to_string()).collect();
        Scenario::load_with(f.path(), &sets).map_err(|e| {
            e.problems
                .iter()
                .map(|p| format!("{}: {}", p.path, p.message))
                .collect()
        })
    }

    #[test]
    fn overrides_replace_keys_and_change_the_plan() {
        let base = load(&[]).unwrap();
        let s = load(&[
            "seed=7",
            "load.rate=25",
            "load.duration=4s",
            "faults.windows[0].server_error=0.25",
            "gates.p99_ms_max=300",
        ])
        .unwrap();
        assert_eq!(s.seed, 7);
        assert_eq!(s.load.profile.duration(), std::time::Duration::from_secs(4));
        assert_eq!(s.gates.p99_ms_max, Some(300.0));
        assert_ne!(s.faults.windows, base.faults.windows);
        assert_eq!(s.overrides.len(), 5);
    }

    #[test]
    fn bad_overrides_name_their_argument_and_the_accepted_form() {
        let e = load(&["nope"]).unwrap_err();
        assert_eq!(
            e,
            [": --set \"nope\": expected key.path=value, e.g. --set load.rate=200"]
        );
        let e = load(&["faults.windows[3].server_error=0.1"]).unwrap_err();
        assert!(
            e[0].contains("faults.windows has 1 entry in the scenario: index 3 is out of range"),
            "{e:?}"
        );
        let e = load(&["load.rate=[1,"]).unwrap_err();
        assert!(e[0].contains("is not a TOML value"), "{e:?}");
        let e = load(&["gates.p99_ms_maxx=3", "load.rate=fast"]).unwrap_err();
        assert_eq!(e.len(), 2, "{e:?}");
        // In the file's order: [load] comes before [gates].
        assert!(
            e[1].starts_with("gates.p99_ms_maxx: unknown field")
                && e[1]
                    .ends_with("; did you mean `p99_ms_max`? (from --set \"gates.p99_ms_maxx=3\")"),
            "{}",
            e[1]
        );
        assert_eq!(
            e[0],
            "load.rate: invalid type: string \"fast\", expected a number (from --set \"load.rate=fast\")"
        );
    }
}
