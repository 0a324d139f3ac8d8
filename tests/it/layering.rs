//! The crate's modules depend on each other one way. The rule, read from every `src/**.rs`
//! file (unit tests under `#[cfg(test)]` and `tests.rs` files included: a test that reaches
//! up ties the parts together as much as code does):
//!
//! - Floors, bottom to top: `domain` ← `chaos` ← `scenario` ← `provider` | `merchant` |
//!   `load` ← `verify` | `report` | `progress` ← `run` ← `cli`. A module may name modules on
//!   lower floors, never on a higher one.
//! - Within a floor, modules never name each other, except `report`, which renders
//!   `verify`'s results (`verify` never names `report`).
//! - Leaves (`signature`, `gateway`, `net`, `metrics`, `alertmanager`) may be named from any floor and name
//!   no other module themselves.
//! - A new top-level module must be given a place in [`FLOORS`] or [`LEAVES`].
//!
//! An edge is any `crate::<module>` path: in `use` lines, grouped (`use crate::{a, b::c}`,
//! over several lines too) or inline in code. Comments and string literals are skipped.
//! `super::` paths stay inside their module and are not edges; `lib.rs` and `main.rs` only
//! declare and call modules.

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::path::{Path, PathBuf};

/// Floors from the bottom; a module may name modules on its own floor's predecessors.
const FLOORS: &[&[&str]] = &[
    &["domain"],
    &["chaos"],
    &["scenario"],
    &["provider", "merchant", "load"],
    &["verify", "report", "progress"],
    &["run", "fuzzing"],
    &["cli"],
];

/// Modules anyone may use; they use no module of the crate.
const LEAVES: &[&str] = &["signature", "gateway", "net", "metrics", "alertmanager"];

/// Edges allowed between modules of one floor: (from, to).
const SIDEWAYS: &[(&str, &str)] = &[("report", "verify")];

/// One `crate::<module>` path found in a file.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
struct Edge {
    /// The top-level module named.
    to: String,
    /// 1-based line of the module's name.
    line: usize,
}

/// Every `crate::<module>` edge in Rust source `text`.
fn edges(text: &str) -> Vec<Edge> {
    let code = blank_comments_and_strings(text);
    let bytes = code.as_bytes();
    let mut out = Vec::new();
    let mut from = 0;
    while let Some(i) = code[from..].find("crate::").map(|i| i + from) {
        from = i + "crate::".len();
        let preceded = i > 0 && {
            let c = bytes[i - 1];
            c.is_ascii_alphanumeric() || c == b'_'
        };
        if preceded {
            continue;
        }
        let rest = &code[from..];
        if rest.starts_with('{') {
            for (offset, name) in group_heads(rest) {
                out.push(edge(&code, from + offset, name));
            }
        } else {
            let name = ident(rest);
            if !name.is_empty() {
                out.push(edge(&code, from, name));
            }
        }
    }
    out
}

fn edge(code: &str, at: usize, name: &str) -> Edge {
    Edge {
        to: name.to_string(),
        line: code[..at].matches('\n').count() + 1,
    }
}

/// The leading identifier of `s`.
fn ident(s: &str) -> &str {
    let end = s
        .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
        .unwrap_or(s.len());
    &s[..end]
}

/// The first segment of each item of the `{...}` group `s` starts with, with its offset.
fn group_heads(s: &str) -> Vec<(usize, &str)> {
    let mut heads = Vec::new();
    let mut depth = 0;
    let mut item_start = true;
    for (i, c) in s.char_indices() {
        match c {
            '{' => {
                depth += 1;
                item_start = depth == 1;
            }
            '}' => {
                depth -= 1;
                if depth == 0 {
                    break;
                }
            }
            ',' if depth == 1 => item_start = true,
            c if item_start && depth == 1 && !c.is_whitespace() => {
                item_start = false;
                let name = ident(&s[i..]);
                if !name.is_empty() && name != "self" {
                    heads.push((i, name));
                }
            }
            _ => {}
        }
    }
    heads
}

/// `text` with comments, string literals and char literals replaced by spaces (newlines
/// kept, so offsets and line numbers stay).
fn blank_comments_and_strings(text: &str) -> String {
    let chars: Vec<char> = text.chars().collect();
    let mut out = String::with_capacity(text.len());
    let mut i = 0;
    let blank = |out: &mut String, c: char| out.push(if c == '\n' { '\n' } else { ' ' });
    while i < chars.len() {
        let c = chars[i];
        let next = chars.get(i + 1).copied();
        if c == '/' && next == Some('/') {
            while i < chars.len() && chars[i] != '\n' {
                blank(&mut out, chars[i]);
                i += 1;
            }
        } else if c == '/' && next == Some('*') {
            let mut depth = 0;
            while i < chars.len() {
                if chars[i] == '/' && chars.get(i + 1) == Some(&'*') {
                    depth += 1;
                } else if chars[i] == '*' && chars.get(i + 1) == Some(&'/') {
                    depth -= 1;
                    if depth == 0 {
                        out.push_str("  ");
                        i += 2;
                        break;
                    }
                }
                blank(&mut out, chars[i]);
                i += 1;
            }
        } else if c == 'r' && matches!(next, Some('#') | Some('"')) && !ident_char(&chars, i) {
            // A raw string: r"..." or r#"..."#, as many hashes closing as opening.
            let mut j = i + 1;
            while chars.get(j) == Some(&'#') {
                j += 1;
            }
            if chars.get(j) != Some(&'"') {
                out.push(c);
                i += 1;
                continue;
            }
            let hashes = j - i - 1;
            let mut k = j + 1;
            while k < chars.len() {
                if chars[k] == '"' && (0..hashes).all(|h| chars.get(k + 1 + h) == Some(&'#')) {
                    k += 1 + hashes;
                    break;
                }
                k += 1;
            }
            for &ch in &chars[i..k.min(chars.len())] {
                blank(&mut out, ch);
            }
            i = k;
        } else if c == '"' {
            blank(&mut out, c);
            i += 1;
            while i < chars.len() && chars[i] != '"' {
                let step = if chars[i] == '\\' { 2 } else { 1 };
                for &ch in &chars[i..(i + step).min(chars.len())] {
                    blank(&mut out, ch);
                }
                i += step;
            }
            if i < chars.len() {
                blank(&mut out, chars[i]);
                i += 1;
            }
        } else if c == '\'' {
            // A char literal ('x', '\n', '"'), or a lifetime ('a), which is left as it is.
            let end = if next == Some('\\') {
                (i + 2..chars.len()).find(|&k| chars[k] == '\'')
            } else if chars.get(i + 2) == Some(&'\'') {
                Some(i + 2)
            } else {
                None
            };
            match end {
                Some(end) => {
                    for &ch in &chars[i..=end] {
                        blank(&mut out, ch);
                    }
                    i = end + 1;
                }
                None => {
                    out.push(c);
                    i += 1;
                }
            }
        } else {
            out.push(c);
            i += 1;
        }
    }
    out
}

/// Whether the char before `i` continues an identifier (so `r` at `i` is not a prefix).
fn ident_char(chars: &[char], i: usize) -> bool {
    i > 0 && (chars[i - 1].is_alphanumeric() || chars[i - 1] == '_')
}

/// Why the edge `from` → `to` breaks the rule, if it does.
fn violation(from: &str, to: &str) -> Option<String> {
    if from == to {
        return None;
    }
    let floor = |m: &str| FLOORS.iter().position(|f| f.contains(&m));
    let leaf = |m: &str| LEAVES.contains(&m);
    let place = |m: &str| -> Result<(), String> {
        if leaf(m) || floor(m).is_some() {
            Ok(())
        } else {
            Err(format!(
                "`{m}` has no place in the order: add it to FLOORS or LEAVES"
            ))
        }
    };
    if let Err(e) = place(from).and_then(|()| place(to)) {
        return Some(e);
    }
    if leaf(from) {
        return Some(format!("`{from}` is a leaf and may not use `{to}`"));
    }
    if leaf(to) {
        return None;
    }
    let (f, t) = (floor(from)?, floor(to)?);
    if t > f {
        Some(format!("`{from}` may not use `{to}`, which is above it"))
    } else if t == f && !SIDEWAYS.contains(&(from, to)) {
        Some(format!(
            "`{from}` may not use `{to}`, which is beside it on the same floor"
        ))
    } else {
        None
    }
}

/// Every `.rs` file under `dir`, sorted.
fn rust_files(dir: &Path) -> Vec<PathBuf> {
    let mut files = Vec::new();
    let mut todo = vec![dir.to_path_buf()];
    while let Some(d) = todo.pop() {
        for entry in fs::read_dir(&d).unwrap_or_else(|e| panic!("{}: {e}", d.display())) {
            let path = entry.unwrap().path();
            if path.is_dir() {
                todo.push(path);
            } else if path.extension().is_some_and(|e| e == "rs") {
                files.push(path);
            }
        }
    }
    files.sort();
    files
}

/// The top-level module a file under `src` belongs to; `None` for `lib.rs` and `main.rs`.
fn module_of(src: &Path, file: &Path) -> Option<String> {
    let rel = file.strip_prefix(src).unwrap();
    let first = rel.components().next()?.as_os_str().to_str()?;
    let name = first.strip_suffix(".rs").unwrap_or(first);
    (!matches!(name, "lib" | "main")).then(|| name.to_string())
}

/// (file relative to the package, module, edge) for every edge in `src`.
fn all_edges() -> Vec<(String, String, Edge)> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let src = root.join("src");
    let mut out = Vec::new();
    for file in rust_files(&src) {
        let Some(module) = module_of(&src, &file) else {
            continue;
        };
        let text = fs::read_to_string(&file).unwrap();
        let shown = file.strip_prefix(root).unwrap().display().to_string();
        for e in edges(&text) {
            out.push((shown.clone(), module.clone(), e));
        }
    }
    out
}

#[test]
fn module_dependencies_point_one_way() {
    let edges = all_edges();
    assert!(
        edges.len() > 100,
        "the scan found only {} edges: is it reading src/?",
        edges.len()
    );
    let problems: Vec<String> = edges
        .iter()
        .filter_map(|(file, from, e)| {
            violation(from, &e.to).map(|why| format!("{file}:{}: {why}", e.line))
        })
        .collect();
    assert!(
        problems.is_empty(),
        "{} import(s) against the module order (see tests/it/layering.rs):\n{}",
        problems.len(),
        problems.join("\n")
    );
}

#[test]
fn the_scan_finds_grouped_and_inline_paths_and_skips_comments_and_strings() {
    let text = "use crate::chaos::Chaos;\n\
                use crate::{\n    domain::{A, B},\n    self,\n    load::x,\n};\n\
                // use crate::report;\n\
                let s = \"crate::run\"; let c = '\"'; let r = r#\"crate::cli\"#;\n\
                fn f<'a>(x: &'a str) { crate::verify::check(x); pub(crate) fn g() {} }\n\
                /* crate::provider */ let y = b'\\''; mycrate::merchant::z();\n";
    let found: Vec<(String, usize)> = edges(text).into_iter().map(|e| (e.to, e.line)).collect();
    let want = [("chaos", 1), ("domain", 3), ("load", 5), ("verify", 9)];
    let want: Vec<(String, usize)> = want.iter().map(|(m, l)| (m.to_string(), *l)).collect();
    assert_eq!(found, want);
}

#[test]
fn the_rule_refuses_up_sideways_and_leaf_edges_and_unplaced_modules() {
    assert_eq!(violation("load", "domain"), None);
    assert_eq!(
        violation("scenario", "net"),
        None,
        "leaves serve every floor"
    );
    assert_eq!(violation("report", "verify"), None);
    assert_eq!(violation("run", "progress"), None);
    let refused = [
        ("scenario", "load", "above it"),
        ("domain", "chaos", "above it"),
        ("provider", "merchant", "beside it"),
        ("load", "provider", "beside it"),
        ("verify", "report", "beside it"),
        ("net", "domain", "leaf"),
        ("metrics", "net", "leaf"),
        ("widgets", "domain", "no place"),
    ];
    for (from, to, why) in refused {
        let got = violation(from, to).unwrap_or_default();
        assert!(got.contains(why), "{from} -> {to}: {got:?}");
    }
}

/// Prints the import graph, one line per module: the modules it names.
/// `cargo test --test it layering::import_graph -- --ignored --nocapture`
#[test]
#[ignore = "prints the graph; run by hand"]
fn import_graph() {
    let mut graph: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for (_, from, e) in all_edges() {
        if from != e.to {
            graph.entry(from).or_default().insert(e.to);
        }
    }
    for (from, to) in graph {
        let to: Vec<String> = to.into_iter().collect();
        println!("{from}: {}", to.join(" "));
    }
}
