//! Decoding of `application/x-www-form-urlencoded` bodies and query strings with Stripe's
//! nested names (`metadata[order_id]`, `expand[0]`, `expand[]`, brackets percent-encoded or
//! not). Pure: the dialects decide what the names mean.

use std::collections::BTreeMap;

/// A decoded value: text, or a hash of named (or indexed) values.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Value {
    Text(String),
    /// `name[key]=…` pairs; `name[]` appends under the next free index (`"0"`, `"1"`, …).
    Nested(BTreeMap<String, Value>),
}

/// Why a form could not be decoded.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum FormError {
    #[error("malformed parameter name '{name}': expected name, name[key] or name[]")]
    BadName { name: String },
    #[error("parameter '{name}' is given both as a value and as a hash (name[key])")]
    Conflict { name: String },
}

impl FormError {
    /// The parameter name the error is about.
    pub fn name(&self) -> &str {
        match self {
            FormError::BadName { name } | FormError::Conflict { name } => name,
        }
    }
}

/// A decoded form: the raw decoded pairs (for fingerprints) and the nested view.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Form {
    pairs: Vec<(String, String)>,
    root: BTreeMap<String, Value>,
}

impl Form {
    /// Decodes `input`; a repeated plain name keeps its last value.
    pub fn parse(input: &[u8]) -> Result<Form, FormError> {
        let mut form = Form::default();
        for (name, value) in form_urlencoded::parse(input) {
            let path = split_name(&name)?;
            insert(&mut form.root, &name, &path, value.to_string())?;
            form.pairs.push((name.into_owned(), value.into_owned()));
        }
        Ok(form)
    }

    /// Every decoded `(name, value)` pair in arrival order, names as sent (`expand[0]`).
    pub fn pairs(&self) -> &[(String, String)] {
        &self.pairs
    }

    /// The value under a top-level name.
    pub fn value(&self, name: &str) -> Option<&Value> {
        self.root.get(name)
    }

    /// The text under a top-level name; `None` when absent or nested.
    pub fn text(&self, name: &str) -> Option<&str> {
        match self.root.get(name) {
            Some(Value::Text(s)) => Some(s),
            _ => None,
        }
    }

    /// The entries of `name[index]` / `name[]` in index order (numeric indices compare as
    /// numbers, so `[10]` comes after `[9]`); nested entries are skipped.
    pub fn list(&self, name: &str) -> Vec<&str> {
        let Some(Value::Nested(map)) = self.root.get(name) else {
            return Vec::new();
        };
        let mut items: Vec<(Option<u64>, &str, &str)> = map
            .iter()
            .filter_map(|(k, v)| match v {
                Value::Text(s) => Some((k.parse().ok(), k.as_str(), s.as_str())),
                Value::Nested(_) => None,
            })
            .collect();
        // Numeric indices first, in numeric order; then other keys by name.
        items.sort_by(|a, b| match (a.0, b.0) {
            (Some(x), Some(y)) => x.cmp(&y),
            (Some(_), None) => std::cmp::Ordering::Less,
            (None, Some(_)) => std::cmp::Ordering::Greater,
            (None, None) => a.1.cmp(b.1),
        });
        items.into_iter().map(|(_, _, v)| v).collect()
    }
}

/// `a[b][]` → `["a", "b", ""]`.
fn split_name(name: &str) -> Result<Vec<&str>, FormError> {
    let bad = || FormError::BadName {
        name: name.to_string(),
    };
    let (head, mut rest) = match name.find('[') {
        Some(i) => (&name[..i], &name[i..]),
        None => (name, ""),
    };
    if head.is_empty() || head.contains(']') {
        return Err(bad());
    }
    let mut path = vec![head];
    while !rest.is_empty() {
        let inner = rest.strip_prefix('[').ok_or_else(bad)?;
        let close = inner.find(']').ok_or_else(bad)?;
        let seg = &inner[..close];
        if seg.contains('[') {
            return Err(bad());
        }
        path.push(seg);
        rest = &inner[close + 1..];
    }
    Ok(path)
}

fn insert(
    map: &mut BTreeMap<String, Value>,
    name: &str,
    path: &[&str],
    value: String,
) -> Result<(), FormError> {
    let conflict = || FormError::Conflict {
        name: name.to_string(),
    };
    let key = match path[0] {
        "" => map.len().to_string(),
        k => k.to_string(),
    };
    if path.len() == 1 {
        if let Some(Value::Nested(_)) = map.get(&key) {
            return Err(conflict());
        }
        map.insert(key, Value::Text(value));
        return Ok(());
    }
    match map
        .entry(key)
        .or_insert_with(|| Value::Nested(BTreeMap::new()))
    {
        Value::Nested(inner) => insert(inner, name, &path[1..], value),
        Value::Text(_) => Err(conflict()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(s: &str) -> Form {
        Form::parse(s.as_bytes()).expect("valid form")
    }

    #[test]
    fn plain_pairs_are_decoded_with_plus_and_percent() {
        let f = parse("amount=1000&currency=usd&description=a+b%26c");
        assert_eq!(f.text("amount"), Some("1000"));
        assert_eq!(f.text("description"), Some("a b&c"));
        assert_eq!(f.text("missing"), None);
        assert_eq!(f.pairs().len(), 3);
    }

    #[test]
    fn nested_hash_keys_are_grouped() {
        let f = parse("metadata[order_id]=ord-000001&metadata[note]=x&automatic_payment_methods[enabled]=true");
        let Some(Value::Nested(m)) = f.value("metadata") else {
            panic!("metadata is a hash");
        };
        assert_eq!(m.get("order_id"), Some(&Value::Text("ord-000001".into())));
        assert_eq!(m.len(), 2);
        assert_eq!(f.text("metadata"), None, "a hash is not text");
    }

    #[test]
    fn percent_encoded_brackets_mean_the_same_as_literal_ones() {
        let a = parse("expand%5B0%5D=latest_charge&metadata%5Border_id%5D=o1");
        let b = parse("expand[0]=latest_charge&metadata[order_id]=o1");
        assert_eq!(a.list("expand"), vec!["latest_charge"]);
        assert_eq!(a.value("metadata"), b.value("metadata"));
        assert_eq!(a.pairs(), b.pairs(), "pairs carry the decoded names");
    }

    #[test]
    fn indexed_and_appended_lists_keep_their_order() {
        let f = parse("expand[]=a&expand[]=b&expand[]=c");
        assert_eq!(f.list("expand"), vec!["a", "b", "c"]);
        let mut s = String::new();
        for i in (0..12).rev() {
            s.push_str(&format!("x[{i}]=v{i}&"));
        }
        let f = parse(&s);
        let expected: Vec<String> = (0..12).map(|i| format!("v{i}")).collect();
        assert_eq!(f.list("x"), expected, "numeric indices sort as numbers");
    }

    #[test]
    fn deeper_nesting_is_kept() {
        let f = parse("a[b][c]=1&a[b][d]=2");
        let Some(Value::Nested(a)) = f.value("a") else {
            panic!("a is a hash");
        };
        let Some(Value::Nested(b)) = a.get("b") else {
            panic!("a[b] is a hash");
        };
        assert_eq!(b.len(), 2);
    }

    #[test]
    fn a_repeated_plain_name_keeps_the_last_value() {
        assert_eq!(parse("a=1&a=2").text("a"), Some("2"));
    }

    #[test]
    fn empty_input_gives_an_empty_form() {
        assert_eq!(parse(""), Form::default());
    }

    #[test]
    fn malformed_names_are_refused_with_the_name() {
        for bad in ["a[b=1", "[a]=1", "=1", "a]b=1", "a[b]c=1", "a[b[c]]=1"] {
            let err = Form::parse(bad.as_bytes()).expect_err(bad);
            assert!(matches!(err, FormError::BadName { .. }), "{bad}: {err}");
        }
        let err = Form::parse(b"a[b=1").unwrap_err();
        assert_eq!(err.name(), "a[b");
        assert!(err
            .to_string()
            .contains("expected name, name[key] or name[]"));
    }

    #[test]
    fn a_name_used_as_value_and_hash_is_a_conflict() {
        for bad in ["a=1&a[b]=2", "a[b]=2&a=1", "a[b]=1&a[b][c]=2"] {
            let err = Form::parse(bad.as_bytes()).expect_err(bad);
            assert!(matches!(err, FormError::Conflict { .. }), "{bad}: {err}");
        }
    }
}
