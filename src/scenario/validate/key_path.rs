//! The key path of the value at a byte offset of a TOML text, for the structural errors the
//! TOML parser reports without one (an integer beyond 64 bits stops the whole parse).

use std::ops::Range;

use toml_edit::{ImDocument, Item, Table, Value};

/// `orders.amount_max` for the bare value (a number) starting where `span` starts, in the
/// form of serde's key paths (`faults.windows[0].start`); `None` when the text does not parse
/// with that value replaced by `0`, or no value starts there. (The parser's span of a number
/// it cannot hold covers its first character only.)
pub(super) fn key_path_at(text: &str, span: Range<usize>) -> Option<String> {
    let start = span.start;
    let tail = text.get(start..)?;
    let len = tail
        .find(|c: char| c.is_whitespace() || matches!(c, ',' | ']' | '}' | '#'))
        .unwrap_or(tail.len());
    if len == 0 {
        return None;
    }
    // Padded to the same length, so that every other span stays where it was.
    let mut patched = String::with_capacity(text.len());
    patched.push_str(&text[..start]);
    patched.push('0');
    patched.extend(std::iter::repeat_n(' ', len - 1));
    patched.push_str(&tail[len..]);
    let doc = ImDocument::parse(patched).ok()?;
    in_table(doc.as_table(), start, "")
}

fn join(path: &str, key: &str) -> String {
    if path.is_empty() {
        key.to_string()
    } else {
        format!("{path}.{key}")
    }
}

fn in_table(table: &Table, at: usize, path: &str) -> Option<String> {
    table.iter().find_map(|(key, item)| {
        let path = join(path, key);
        match item {
            Item::Value(v) => in_value(v, at, path),
            Item::Table(t) => in_table(t, at, &path),
            Item::ArrayOfTables(list) => list
                .iter()
                .enumerate()
                .find_map(|(i, t)| in_table(t, at, &format!("{path}[{i}]"))),
            Item::None => None,
        }
    })
}

fn in_value(value: &Value, at: usize, path: String) -> Option<String> {
    if value.span().is_some_and(|s| s.start == at) {
        return Some(path);
    }
    match value {
        Value::Array(list) => list
            .iter()
            .enumerate()
            .find_map(|(i, v)| in_value(v, at, format!("{path}[{i}]"))),
        Value::InlineTable(t) => t
            .iter()
            .find_map(|(key, v)| in_value(v, at, join(&path, key))),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// As the parser reports it: the span of the first character.
    fn at(text: &str, needle: &str) -> Option<String> {
        let start = text.find(needle).unwrap();
        key_path_at(text, start..start + 1)
    }

    #[test]
    fn the_value_is_found_in_tables_arrays_and_inline_tables() {
        let big = "18446744073709551615";
        let text = format!("name = \"x\"\n[orders]\namount_max = {big}\n");
        assert_eq!(at(&text, big).as_deref(), Some("orders.amount_max"));
        let text = format!(
            "[[faults.windows]]\nstart = \"1s\"\n[[faults.windows]]\nlatency = {{ distribution = \"fixed\", value = {big} }}\n"
        );
        assert_eq!(
            at(&text, big).as_deref(),
            Some("faults.windows[1].latency.value")
        );
        let text = format!("[webhooks]\nretry_schedule = [1, {big}]\n");
        assert_eq!(
            at(&text, big).as_deref(),
            Some("webhooks.retry_schedule[1]")
        );
        let text = format!("orders.amount_min = {big}\n");
        assert_eq!(at(&text, big).as_deref(), Some("orders.amount_min"));
    }

    #[test]
    fn no_path_when_the_text_is_broken_elsewhere_or_nothing_sits_there() {
        assert_eq!(at("a = 1\nb = [\n", "1"), None);
        assert_eq!(
            key_path_at("a = 1\n", 5..5),
            None,
            "nothing starts at the line end"
        );
        assert_eq!(key_path_at("a = 1\n", 2..3), None, "the `=` is no value");
        assert_eq!(key_path_at("a = 1", 99..100), None);
    }
}
