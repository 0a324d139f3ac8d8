//! Scenario checks for `load.connections`: a count, `"auto"` or `"per_checkout"`, in plain
//! and capacity runs, every bad value named at its key path.

use std::num::NonZeroUsize;

use super::tests::{assert_problem, ok, problems, MINIMAL};
use crate::scenario::Connections;

fn with(value: &str) -> String {
    MINIMAL.replace("rate = 10", &format!("rate = 10\nconnections = {value}"))
}

#[test]
fn connections_default_to_auto_and_take_a_count_or_a_word() {
    assert_eq!(ok(MINIMAL).load.connections, Connections::Auto);
    assert_eq!(ok(&with("\"auto\"")).load.connections, Connections::Auto);
    assert_eq!(
        ok(&with("\"per_checkout\"")).load.connections,
        Connections::PerCheckout
    );
    assert_eq!(
        ok(&with("16")).load.connections,
        Connections::Fixed(NonZeroUsize::new(16).unwrap())
    );
    let cap = ok(
        "name = \"cap\"\n[load]\nconnections = 8\n[capacity]\nstart = 100\n\
                  step = 100\nevery = \"2s\"\nmax_rate = 300\np99_ms = 250\nsuccess_rate = 0.99\n",
    );
    assert_eq!(
        cap.load.connections,
        Connections::Fixed(NonZeroUsize::new(8).unwrap())
    );
}

#[test]
fn bad_connections_are_named_with_the_accepted_forms() {
    let form = r#"a number of connections from 1 to 65535, "auto" or "per_checkout""#;
    for (value, shown) in [
        ("0", "must be greater than 0, got 0"),
        ("-3", "must be greater than 0, got -3"),
        ("70000", "must be at most 65535, got 70000"),
        ("\"many\"", &format!("expected {form}, got \"many\"")),
        ("2.5", &format!("expected {form}, got 2.5")),
        ("true", &format!("expected {form}, got true")),
    ] {
        assert_problem(&problems(&with(value)), "load.connections", shown);
    }
}
