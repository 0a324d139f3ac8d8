//! The channel gates over hand-made figures: a failover within the maximum passes, a slow
//! one or a window without any fails, naming the figure.

use super::*;

fn scenario(gates: &str) -> Scenario {
    let text = format!(
        "name = \"t\"\n[load]\nprofile = \"constant\"\nrate = 1\nduration = \"10s\"\n\
         [[providers]]\nname = \"a\"\n[[providers.faults.windows]]\nstart = \"2s\"\nend = \"4s\"\n\
         server_error = 1.0\n[[providers]]\nname = \"b\"\n[gates]\n{gates}"
    );
    Scenario::from_toml_str(&text, "t").unwrap()
}

fn figures(failover_s: Option<f64>, failback_s: Option<f64>) -> ChannelsReport {
    ChannelsReport {
        failovers: vec![Failover {
            window: "down".into(),
            start_s: 2.0,
            end_s: 4.0,
            failover_s,
            failback_s,
            ..Failover::default()
        }],
        ..ChannelsReport::default()
    }
}

#[test]
fn failover_and_failback_gates_judge_the_slowest_window() {
    let sc = scenario("failover_s_max = 1\nfailback_s_max = 2");
    let ok = gates(&sc, Some(&figures(Some(0.4), Some(1.5))), 10.0);
    assert_eq!(ok.len(), 2);
    assert!(ok.iter().all(|g| g.passed), "{ok:?}");
    assert_eq!((ok[0].name.as_str(), ok[0].observed), (FAILOVER_S, 0.4));

    let slow = gates(&sc, Some(&figures(Some(1.5), Some(1.0))), 10.0);
    assert!(!slow[0].passed && slow[1].passed, "{slow:?}");
}

#[test]
fn a_window_without_failover_fails_the_gate_with_the_time_watched() {
    let sc = scenario("failover_s_max = 100\nfailback_s_max = 100");
    let g = gates(&sc, Some(&figures(None, None)), 10.0);
    assert!(g.iter().all(|g| !g.passed), "{g:?}");
    assert_eq!(
        g[0].observed, 8.0,
        "watched from the window's start to the load's end"
    );
    assert_eq!(g[1].observed, 6.0);
}

#[test]
fn no_gates_without_keys_or_channels() {
    assert!(gates(&scenario(""), Some(&figures(None, None)), 10.0).is_empty());
    let sc = scenario("failover_s_max = 1");
    assert!(gates(&sc, None, 10.0).is_empty());
}
