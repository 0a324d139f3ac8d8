//! A distributed run on one machine: one provider served alone (`--state-out`), the reference
//! merchant served alone, three load shards with a common `--start-at`, all on 127.0.0.1,
//! then `paychaos merge`. The merged run must be the single run: its counts and plan digest,
//! its histograms the sum of the shards', verification clean; a planted flaw must be caught
//! in the merged report, and a threshold every shard passes alone but the merged data fails
//! must fail. The provider URL and the list of provider state folders are parameters, so
//! that replicas behind a load balancer can stand in for the one provider.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdout, Command, Stdio};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use paychaos::metrics::serial::RecorderData;
use paychaos::metrics::{Percentiles, Recorder};

use crate::util::{count, report_json, run_toml};

const SHARDS: u64 = 3;
const SECRET: &str = "whsec_it_shards";

fn paychaos() -> Command {
    Command::new(env!("CARGO_BIN_EXE_paychaos"))
}

pub(crate) use crate::util::free_port;

/// A served process, killed when dropped (also when a test panics).
pub(crate) struct Served {
    child: Child,
    _stdout: BufReader<ChildStdout>,
    pub(crate) first_line: String,
}

impl Served {
    pub(crate) fn start(args: &[&str]) -> Served {
        let mut child = paychaos()
            .args(args)
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("paychaos starts");
        let mut stdout = BufReader::new(child.stdout.take().unwrap());
        let mut line = String::new();
        stdout.read_line(&mut line).expect("its first line");
        Served {
            child,
            _stdout: stdout,
            first_line: line.trim().to_string(),
        }
    }

    /// Stops it as Kubernetes does (SIGTERM) and waits for its exit.
    fn terminate(mut self) -> std::process::ExitStatus {
        let pid = self.child.id().to_string();
        let sent = Command::new("kill").args(["-TERM", &pid]).status().unwrap();
        assert!(sent.success());
        self.child.wait().unwrap()
    }
}

impl Drop for Served {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The scenario every part reads: 60 checkouts over 2 s with declines and provider errors,
/// paid at the provider at `provider_url`, through the merchant at `merchant`.
fn scenario(provider_url: &str, merchant: &str) -> String {
    format!(
        r#"
name = "it-shards"
seed = 7

[load]
profile = "constant"
rate = 30
duration = "2s"
max_in_flight = 1000
request_timeout = "10s"

[provider]
kind = "external"
url = "{provider_url}"

[faults]
insufficient_funds = 0.2
risk_block = 0.1
server_error = 0.1

[webhooks]
secret = "{SECRET}"
retry_schedule = ["50ms", "100ms"]
timeout = "1s"

[merchant]
kind = "external"
webhook_url = "http://{merchant}/webhooks/stripe"

[merchant.checkout]
url = "http://{merchant}/checkout"

[merchant.orders]
order_url = "http://{merchant}/orders/{{{{order_id}}}}"

[drain]
timeout = "10s"

[[thresholds]]
metric = "sent"
op = "<="
value = 45
"#
    )
}

/// The merchant served alone against the provider at `provider_url`, with `flaws`.
fn merchant(provider_url: &str, flaws: &[&str]) -> (Served, String) {
    let mut args = vec![
        "merchant",
        "--provider-url",
        provider_url,
        "--webhook-secret",
        SECRET,
        "--listen",
        "127.0.0.1:0",
        // Long enough that a provider slowed by a busy machine never times the merchant out:
        // no fault of this scenario holds a request, so no retry is timing's doing.
        "--provider-timeout",
        "5s",
        "--max-retries",
        "3",
        "--retry-backoff",
        "10ms",
        "--reconcile-every",
        "100ms",
        "--pending-grace",
        "1s",
    ];
    for f in flaws {
        args.extend(["--flaw", f]);
    }
    let m = Served::start(&args);
    let addr = m
        .first_line
        .strip_prefix("paychaos merchant: listening on http://")
        .unwrap_or_else(|| panic!("merchant said {:?}", m.first_line))
        .to_string();
    (m, addr)
}

/// What one distributed run left.
pub(crate) struct Distributed {
    _tmp: tempfile::TempDir,
    shard_dirs: Vec<PathBuf>,
    merged: PathBuf,
    merge_code: Option<i32>,
    shard_codes: Vec<Option<i32>>,
}

/// Runs the shards against the provider(s) at `provider_url`, whose state folders are
/// `state_dirs`, then merges. `start_providers` starts them (given the merchant's webhook
/// URL, the scenario file and the common start) and hands back what stops them, and what
/// must serve as long as they do (a load balancer in front: kept until they stopped).
pub(crate) fn distributed<K>(
    flaws: &[&str],
    provider_url: &str,
    state_dirs: &[PathBuf],
    start_providers: impl Fn(&str, &Path, &str) -> (Vec<Served>, K),
) -> Distributed {
    let tmp = tempfile::tempdir().unwrap();
    let (merchant, maddr) = merchant(provider_url, flaws);
    let file = tmp.path().join("scenario.toml");
    std::fs::write(&file, scenario(provider_url, &maddr)).unwrap();
    // A common start a little ahead: every process is up by then on a busy machine too; a
    // shard that is late still sends its whole part (the open loop catches up).
    let start = SystemTime::now().duration_since(UNIX_EPOCH).unwrap() + Duration::from_secs(3);
    let start_at = format!("{:.3}", start.as_secs_f64());
    let (providers, _front) =
        start_providers(&format!("http://{maddr}/webhooks/stripe"), &file, &start_at);

    let shard_dirs: Vec<PathBuf> = (0..SHARDS)
        .map(|i| tmp.path().join(format!("shard-{i}")))
        .collect();
    let children: Vec<Child> = (0..SHARDS)
        .map(|i| {
            paychaos()
                .arg("run")
                .arg(&file)
                .args(["--shard", &format!("{i}/{SHARDS}"), "--start-at", &start_at])
                .arg("--out")
                .arg(&shard_dirs[i as usize])
                .arg("--quiet")
                .stdout(Stdio::null())
                .spawn()
                .unwrap()
        })
        .collect();
    let shard_codes = children
        .into_iter()
        .map(|mut c| c.wait().unwrap().code())
        .collect();
    for p in providers {
        let status = p.terminate();
        assert!(
            status.success(),
            "the provider stops cleanly on SIGTERM: {status}"
        );
    }
    let merged = tmp.path().join("merged");
    let mut merge = paychaos();
    merge
        .arg("merge")
        .args(&shard_dirs)
        .arg("--out")
        .arg(&merged);
    for d in state_dirs {
        merge.arg("--provider-state").arg(d);
    }
    let out = merge.output().unwrap();
    assert!(
        merged.join("report.json").exists(),
        "merge wrote no report: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    drop(merchant);
    Distributed {
        _tmp: tmp,
        shard_dirs,
        merged,
        merge_code: out.status.code(),
        shard_codes,
    }
}

/// One provider process on `port`, its state written into `state`.
fn one_provider(port: u16, state: PathBuf) -> impl Fn(&str, &Path, &str) -> (Vec<Served>, ()) {
    move |webhook_url, file, start_at| {
        let listen = format!("127.0.0.1:{port}");
        let p = Served::start(&[
            "provider",
            "--listen",
            &listen,
            "--scenario",
            file.to_str().unwrap(),
            "--webhook-url",
            webhook_url,
            "--state-out",
            state.to_str().unwrap(),
            "--start-at",
            start_at,
            "--quiet",
        ]);
        assert!(p.first_line.contains("listening on"), "{}", p.first_line);
        (vec![p], ())
    }
}

fn run_with_one_provider(flaws: &[&str]) -> Distributed {
    let port = free_port();
    let state = tempfile::tempdir().unwrap().keep();
    distributed(
        flaws,
        &format!("http://127.0.0.1:{port}"),
        std::slice::from_ref(&state),
        one_provider(port, state.clone()),
    )
}

/// The shards' recorders added up, read from their shard files.
fn summed_recorder(dirs: &[PathBuf]) -> Recorder {
    let mut sum = Recorder::default();
    for d in dirs {
        let text = std::fs::read_to_string(d.join("shard.json")).unwrap();
        let v: serde_json::Value = serde_json::from_str(&text).unwrap();
        let data: RecorderData = serde_json::from_value(v["recorder"].clone()).unwrap();
        sum.merge(&data.recorder().unwrap());
    }
    sum
}

#[test]
fn three_shards_and_a_provider_served_alone_merge_into_the_single_run() {
    let d = run_with_one_provider(&[]);
    assert_merged_is_the_single_run(&d);
}

/// What the seed decides of a distributed run without flaws: each shard's part, the single
/// run's counts and plan digest, histograms that are the shards' sum, clean verification,
/// and the `sent <= 45` threshold failed on the merged figures only.
pub(crate) fn assert_merged_is_the_single_run(d: &Distributed) {
    let merged = report_json(&d.merged);

    // The single run of the same schedule, everything in one process.
    let single_toml = scenario("http://127.0.0.1:1", "127.0.0.1:1");
    let single_toml = single_toml
        .replace("kind = \"external\"\nurl = \"http://127.0.0.1:1\"\n", "")
        .split("[merchant]")
        .next()
        .unwrap()
        .to_string()
        + "[drain]\ntimeout = \"10s\"\n";
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let single = rt.block_on(run_toml(&single_toml));

    // Assert: each shard ran its part and passed its own threshold (20 sent ≤ 45).
    assert_eq!(d.shard_codes, vec![Some(0); SHARDS as usize]);
    for dir in &d.shard_dirs {
        let j = report_json(dir);
        assert_eq!(count(&j, "/load/sent"), 20, "{}", dir.display());
        assert_eq!(j["run"]["shards"][0]["how"], "at");
    }
    // Counts and the plan digest are the single run's.
    for key in ["/load/planned", "/load/sent", "/load/shed"] {
        assert_eq!(count(&merged, key), count(&single.json, key), "{key}");
    }
    assert_eq!(count(&merged, "/load/sent"), 60);
    assert_eq!(
        merged["faults"]["plan_digest"],
        single.json["faults"]["plan_digest"]
    );
    // The same orders met the same business faults: decisions are keyed by order index.
    for kind in ["insufficient_funds", "risk_block"] {
        let key = format!("/faults/orders_hit/{kind}");
        assert_eq!(count(&merged, &key), count(&single.json, &key), "{key}");
    }
    // The merged histograms are the sum of the shards'.
    let sum = summed_recorder(&d.shard_dirs);
    let p = Percentiles::of(&sum.all);
    let read: Percentiles = serde_json::from_value(merged["latency_ms"].clone()).unwrap();
    assert_eq!(read, p);
    let per_second: Vec<u64> = merged["timeline"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["sent"].as_u64().unwrap())
        .collect();
    let summed: Vec<u64> = sum.timeline.seconds.values().map(|s| s.sent).collect();
    assert_eq!(per_second, summed);
    // Verification is clean on the merged data.
    assert_eq!(
        merged["verification"]["passed"], true,
        "{:#}",
        merged["verification"]
    );
    assert!(!merged["verification"]["checks"]
        .as_array()
        .unwrap()
        .is_empty());
    // The threshold every shard passed alone fails on the merged figures.
    let sent_gate = merged["gates"]
        .as_array()
        .unwrap()
        .iter()
        .find(|g| g["name"] == "sent")
        .unwrap_or_else(|| panic!("no sent gate: {:#}", merged["gates"]));
    assert_eq!(sent_gate["passed"], false, "{sent_gate}");
    assert_eq!(merged["verdict"], "fail");
    assert_eq!(d.merge_code, Some(1));
    assert_eq!(merged["run"]["shards"].as_array().unwrap().len(), 3);
}

#[test]
fn a_flaw_of_the_merchant_served_alone_is_caught_in_the_merged_report() {
    let d = run_with_one_provider(&["generic_decline_message"]);
    let merged = report_json(&d.merged);
    let wrong = merged["verification"]["checks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["name"] == "wrong_reason")
        .unwrap()
        .clone();
    assert_eq!(wrong["passed"], false, "{wrong}");
    assert!(wrong["violations"].as_u64().unwrap() > 0);
    assert_eq!(d.merge_code, Some(1));
}

#[test]
fn shards_that_do_not_belong_together_are_refused() {
    // Two report folders of one shard index, and a folder that is no shard at all.
    let tmp = tempfile::tempdir().unwrap();
    let out = paychaos()
        .arg("merge")
        .arg(tmp.path())
        .arg("--out")
        .arg(tmp.path().join("m"))
        .arg("--provider-state")
        .arg(tmp.path())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("shard.json"), "{err}");
    assert!(!tmp.path().join("m").exists(), "nothing half-written");
}

#[test]
fn shards_started_by_the_barrier_share_the_run_and_report_their_clock() {
    // Arrange: a coordinator for two shards; each shard with a provider and merchant of its
    // own (the barrier's part is the start, whatever the shards drive).
    let barrier = Served::start(&[
        "barrier",
        "--shards",
        "2",
        "--listen",
        "127.0.0.1:0",
        "--lead",
        "500ms",
    ]);
    let url = barrier
        .first_line
        .strip_prefix("paychaos barrier: listening on ")
        .and_then(|l| l.split(' ').next())
        .unwrap_or_else(|| panic!("barrier said {:?}", barrier.first_line))
        .to_string();
    let tmp = tempfile::tempdir().unwrap();
    let file = tmp.path().join("s.toml");
    std::fs::write(
        &file,
        "name = \"it-barrier\"\nseed = 3\n[load]\nprofile = \"constant\"\nrate = 10\nduration = \"1s\"\n",
    )
    .unwrap();

    // Act
    let children: Vec<(PathBuf, Child)> = (0..2)
        .map(|i| {
            let out = tmp.path().join(format!("shard-{i}"));
            let child = paychaos()
                .arg("run")
                .arg(&file)
                .args(["--shard", &format!("{i}/2"), "--barrier", &url, "--quiet"])
                .arg("--out")
                .arg(&out)
                .stdout(Stdio::null())
                .spawn()
                .unwrap();
            (out, child)
        })
        .collect();
    let reports: Vec<serde_json::Value> = children
        .into_iter()
        .map(|(out, mut c)| {
            assert_eq!(c.wait().unwrap().code(), Some(0), "{}", out.display());
            report_json(&out)
        })
        .collect();
    let mut barrier = barrier;
    let ended = barrier.child.wait().unwrap();

    // Assert: one run id, one start (within the offset estimates' error), a measured offset.
    assert!(
        ended.success(),
        "the barrier exits once both shards were answered"
    );
    assert_eq!(reports[0]["run"]["run_id"], reports[1]["run"]["run_id"]);
    let rows: Vec<&serde_json::Value> = reports.iter().map(|r| &r["run"]["shards"][0]).collect();
    for r in &rows {
        assert_eq!(r["how"], "barrier", "{r}");
        assert!(
            r["clock_offset_ms"].is_number() && r["round_trip_ms"].is_number(),
            "{r}"
        );
    }
    assert_eq!(
        count(&reports[0], "/load/sent") + count(&reports[1], "/load/sent"),
        10
    );
}
