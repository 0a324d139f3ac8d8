//! `[[providers]]` validation: the list becomes the primary and its backups in order, each
//! with its own faults; every problem of an entry names its index; names and addresses are
//! unique; the list and `[provider]` / `[faults]` do not mix.

use super::tests::{assert_problem, ok, problems_with, MINIMAL};
use crate::domain::FaultKind;
use crate::scenario::Dialect;

const TWO: &str = r#"
[[providers]]
name = "main"
dialect = "stripe"
[providers.faults]
server_error = 0.1
[[providers.faults.windows]]
name = "down"
start = "0.2s"
end = "0.5s"
server_error = 1.0

[[providers]]
name = "backup"
dialect = "gateway"
hold = "3s"
"#;

#[test]
fn the_first_provider_is_the_primary_and_the_rest_are_backups_in_order() {
    let s = ok(&format!("{MINIMAL}{TWO}"));
    assert_eq!(s.routing.primary, "main");
    assert_eq!(s.provider.dialect, Dialect::Stripe);
    assert_eq!(s.faults.rates[FaultKind::ServerError], 0.1);
    assert_eq!(s.faults.windows[0].name, "down");
    assert_eq!(s.routing.backups.len(), 1);
    let b = &s.routing.backups[0];
    assert_eq!(
        (b.name.as_str(), b.provider.dialect),
        ("backup", Dialect::Gateway)
    );
    assert_eq!(b.provider.hold, std::time::Duration::from_secs(3));
    assert!(b.faults.windows.is_empty() && b.faults.rates[FaultKind::ServerError] == 0.0);
    assert_eq!(s.routing.names(), ["main", "backup"]);
}

#[test]
fn one_provider_section_means_the_primary_alone() {
    let s = ok(MINIMAL);
    assert_eq!(s.routing.primary, "primary");
    assert!(s.routing.backups.is_empty());
}

#[test]
fn an_entrys_problems_carry_its_index() {
    let text = TWO
        .replace("dialect = \"gateway\"", "dialect = \"paypal\"")
        .replace("end = \"0.5s\"", "end = \"0.1s\"")
        .replace("server_error = 0.1", "server_error = 1.5");
    let all = problems_with(&text);
    assert_problem(
        &all,
        "providers[1].dialect",
        "expected \"stripe\" or \"gateway\"",
    );
    assert_problem(&all, "providers[0].faults.server_error", "");
    assert_problem(&all, "providers[0].faults.windows[0].end", "");
}

#[test]
fn names_are_required_and_unique_and_addresses_unique() {
    let text = TWO.replace(
        "name = \"backup\"",
        "name = \"main\"\nlisten = \"127.0.0.1:12111\"",
    ) + "[[providers]]\nlisten = \"127.0.0.1:12111\"\n";
    let all = problems_with(&text);
    assert_problem(
        &all,
        "providers[1].name",
        "\"main\" is providers[0]'s name too",
    );
    assert_problem(&all, "providers[2].name", "required key is missing");
    assert_problem(&all, "providers[2].listen", "providers[1]'s address too");
}

#[test]
fn the_list_does_not_mix_with_provider_and_faults() {
    let text = format!("[provider]\nhold = \"1s\"\n[faults]\ntimeout = 0.1\n{TWO}");
    let all = problems_with(&text);
    assert_problem(&all, "provider", "not with [[providers]]");
    assert_problem(&all, "faults", "not with [[providers]]");
}

#[test]
fn the_channel_gates_need_a_backup_and_a_primary_window() {
    let all = problems_with("[gates]\nfailover_s_max = 2\nfailback_s_max = -1\n");
    assert_problem(
        &all,
        "gates.failover_s_max",
        "needs two or more [[providers]]",
    );
    assert_problem(&all, "gates.failback_s_max", "");
    let s = ok(&format!(
        "{MINIMAL}{TWO}[gates]\nfailover_s_max = 2\nfailback_s_max = 5\n"
    ));
    assert_eq!(
        (s.routing.failover_s_max, s.routing.failback_s_max),
        (Some(2.0), Some(5.0))
    );
}
