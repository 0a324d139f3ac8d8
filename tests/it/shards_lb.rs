//! The distributed run of `shards.rs` with the provider as two replicas behind the shipped
//! nginx configuration: `paychaos provider --replica K/2 --state-out DIR_K`, each given the
//! scenario file and the shards' start, every payment request of the merchant sent through
//! nginx, then `paychaos merge --provider-state DIR_0 --provider-state DIR_1`. Fault
//! decisions are keyed by order and attempt, never by replica, so the merged run must be the
//! single run exactly as with one provider. SKIPPED without nginx.

use std::path::{Path, PathBuf};

use paychaos::report::shard_file::ProviderState;

use crate::lb::{Balancer, Lb};
use crate::shards::{assert_merged_is_the_single_run, distributed, free_port, Served};

/// Replica `k` of 2 on a port of its own, its state written into `state`; its address.
fn replica(k: usize, state: &Path, webhook_url: &str, file: &Path, start_at: &str) -> Served {
    Served::start(&[
        "provider",
        "--listen",
        "127.0.0.1:0",
        "--replica",
        &format!("{k}/2"),
        "--scenario",
        file.to_str().unwrap(),
        "--webhook-url",
        webhook_url,
        "--state-out",
        state.to_str().unwrap(),
        "--start-at",
        start_at,
        "--quiet",
    ])
}

fn address(p: &Served) -> String {
    p.first_line
        .strip_prefix("paychaos provider listening on http://")
        .and_then(|rest| rest.split_whitespace().next())
        .unwrap_or_else(|| panic!("the replica said {:?}", p.first_line))
        .to_string()
}

#[test]
fn three_shards_and_two_replicas_behind_nginx_merge_into_the_single_run() {
    // Arrange
    let Some(program) = Lb::Nginx.installed() else {
        return;
    };
    let states = [tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap()];
    let state_dirs: Vec<PathBuf> = states.iter().map(|t| t.path().to_path_buf()).collect();
    let port = free_port();

    // Act: the replicas, then nginx in front of them on the port the merchant pays at.
    let d = distributed(
        &[],
        &format!("http://127.0.0.1:{port}"),
        &state_dirs,
        |webhook_url, file, start_at| {
            let replicas: Vec<Served> = state_dirs
                .iter()
                .enumerate()
                .map(|(k, dir)| replica(k, dir, webhook_url, file, start_at))
                .collect();
            let addrs: Vec<String> = replicas.iter().map(address).collect();
            let front = Balancer::start(Lb::Nginx, &program, port, &addrs);
            (replicas, front)
        },
    );

    // Assert: the merged run is the single run, as with one provider.
    assert_merged_is_the_single_run(&d);
    // Both replicas served: each ledger holds intents, and only intents it minted.
    for (k, dir) in state_dirs.iter().enumerate() {
        let read = ProviderState::read_dir(dir).unwrap();
        assert_eq!(read.len(), 1, "{}", dir.display());
        let ledger = &read[0].ledger;
        assert!(!ledger.is_empty(), "replica {k} owns no intent");
        let mark = format!("pi_r{k}_");
        for e in ledger {
            if let Some(id) = &e.payment_id {
                assert!(id.starts_with(&mark), "replica {k} recorded {id}");
            }
        }
    }
}
