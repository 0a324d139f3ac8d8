use paychaos::report::html::{external_references, DATA_ID};

use crate::util::{run_toml, scenario_toml, ALL_FAULTS};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_run_writes_a_self_contained_html_report_with_its_charts() {
    // Arrange: the short template with every fault kind and a window in the middle.
    let faults = format!(
        "{ALL_FAULTS}\n[[faults.windows]]\nname = \"brownout\"\nstart = \"500ms\"\nend = \"1500ms\"\nserver_error = 0.5\n"
    );
    let toml = scenario_toml(7, &faults, "");

    // Act
    let run = run_toml(&toml).await;

    // Assert: the page is there, fetches nothing, and carries the run's timeline.
    let path = run.dir().join("report.html");
    let html = std::fs::read_to_string(&path).expect("report.html written");
    assert_eq!(external_references(&html), Vec::<String>::new());
    assert_eq!(html.matches("<svg").count(), 5, "five charts");
    assert!(
        html.contains(">\nbrownout\n</text>"),
        "window named on the charts"
    );
    let open = format!("<script type=\"application/json\" id=\"{DATA_ID}\">");
    let start = html.find(&open).expect("data block") + open.len();
    let end = start + html[start..].find("</script>").expect("data block closed");
    let data: serde_json::Value = serde_json::from_str(&html[start..end]).expect("data is JSON");
    assert_eq!(data["timeline"], run.json["timeline"]);
    let rows = run.json["timeline"].as_array().expect("timeline rows");
    assert_eq!(rows.len(), 2, "2 s of load");
    let planned: f64 = rows
        .iter()
        .map(|r| r["target_rate"].as_f64().unwrap())
        .sum();
    assert_eq!(planned, 100.0);
    assert_eq!(rows[1]["active_windows"][0], "brownout");
    assert_eq!(rows[0]["active_windows"][0], "brownout");
}

// ---- In a browser ------------------------------------------------------------------------
//
// Headless Chromium opens the page as a reader would, at 1280 × 800; a copy of the page
// with a probe script measures where the key elements are laid out (the report itself runs
// no script) and writes the result into the DOM that `--dump-dom` prints.

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

use crate::util::Setup;

const CHROMIUM: &str = "/usr/bin/chromium";

/// Measures each selector's first match against the first screen: `visible` when its box is
/// inside the viewport, else where it is (`absent`, `below 930`, ...).
const PROBE: &str = r##"<pre id="probe"></pre><script>
(function () {
  var vw = window.innerWidth, vh = window.innerHeight;
  function seen(sel) {
    var e = document.querySelector(sel);
    if (!e) return "absent";
    var r = e.getBoundingClientRect(), s = getComputedStyle(e);
    if (s.display === "none" || s.visibility === "hidden" || r.width === 0 || r.height === 0)
      return "hidden";
    if (r.top < 0 || r.left < 0 || r.right > vw || r.bottom > vh)
      return "outside " + Math.round(r.left) + "," + Math.round(r.top) + " " + Math.round(r.right) + "," + Math.round(r.bottom);
    return "visible";
  }
  var d = document.querySelector(".discrepancy"), c = document.querySelector("#failed-checks [data-check]");
  var out = {
    viewport: [vw, vh],
    verdict: seen("#verdict .verdict"),
    failed_check: seen("#failed-checks [data-check]"),
    failed_check_name: c ? c.getAttribute("data-check") : null,
    first_discrepancy: seen(".discrepancy > code"),
    first_discrepancy_check: d ? d.getAttribute("data-check") : null,
    first_discrepancy_story: seen(".discrepancy .chain > li"),
    discrepancies: document.querySelectorAll(".discrepancy").length
  };
  document.getElementById("probe").textContent = JSON.stringify(out);
})();
</script>
"##;

/// Chromium's common flags: no network of its own, a throwaway profile.
fn chromium(profile: &Path) -> Command {
    let mut c = Command::new(CHROMIUM);
    c.args([
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--hide-scrollbars",
        "--window-size=1280,800",
    ])
    .arg(format!("--user-data-dir={}", profile.display()))
    .stdin(Stdio::null())
    .stdout(Stdio::piped())
    .stderr(Stdio::piped());
    c
}

/// Runs Chromium to its end, killed past a generous limit (a hung browser fails the test
/// instead of hanging it); returns its stdout.
fn finish(mut cmd: Command) -> String {
    let child = cmd.spawn().expect("chromium starts");
    let id = child.id();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let _ = tx.send(child.wait_with_output());
    });
    let limit = Duration::from_secs(120);
    let out = match rx.recv_timeout(limit) {
        Ok(out) => out.expect("chromium runs"),
        Err(_) => {
            let _ = Command::new("kill").arg(id.to_string()).status();
            panic!("chromium still running after {limit:?}");
        }
    };
    assert!(
        out.status.success(),
        "chromium failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// What the probe measured on `report.html` in `dir`, and a screenshot of the first screen
/// saved beside it under `tmp` as `<name>.png`.
fn in_browser(dir: &Path, tmp: &Path, name: &str) -> serde_json::Value {
    let html = std::fs::read_to_string(dir.join("report.html")).expect("report.html written");
    let probed = tmp.join(format!("{name}-probed.html"));
    let at = html.rfind("</body>").expect("page has a body");
    std::fs::write(&probed, format!("{}{PROBE}{}", &html[..at], &html[at..])).unwrap();

    let shot = tmp.join(format!("{name}.png"));
    let mut cmd = chromium(&tmp.join(format!("{name}-profile-shot")));
    cmd.arg(format!("--screenshot={}", shot.display()))
        .arg(format!("file://{}", dir.join("report.html").display()));
    finish(cmd);
    let png = std::fs::read(&shot).expect("screenshot written");
    assert!(png.starts_with(b"\x89PNG"), "a PNG screenshot");
    println!("screenshot of the {name} report: {}", shot.display());

    let mut cmd = chromium(&tmp.join(format!("{name}-profile-dom")));
    cmd.arg("--dump-dom")
        .arg(format!("file://{}", probed.display()));
    let dom = finish(cmd);
    let open = "<pre id=\"probe\">";
    let start = dom.find(open).expect("probe in the DOM") + open.len();
    let end = start + dom[start..].find("</pre>").expect("probe closed");
    serde_json::from_str(&dom[start..end])
        .unwrap_or_else(|e| panic!("probe result {:?}: {e}", &dom[start..end]))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn in_chromium_a_failed_check_and_its_first_discrepancy_are_on_the_first_screen() {
    if !Path::new(CHROMIUM).exists() {
        println!(
            "SKIPPED: {CHROMIUM} not found; install Chromium (apt-get install chromium) to \
             check report.html in a browser"
        );
        return;
    }
    // Arrange: a merchant that tells every decline as a generic one fails one check; the
    // correct merchant passes.
    let failing = Setup {
        faults: "insufficient_funds = 0.5".into(),
        ..Setup::default()
    }
    .merchant("flaws", "[\"generic_decline_message\"]");
    let fail = run_toml(&failing.toml()).await;
    let pass = run_toml(&Setup::default().toml()).await;
    assert_eq!(fail.json["verdict"], "fail");
    assert_eq!(pass.json["verdict"], "pass");
    let tmp = tempfile::tempdir().unwrap();

    // Act
    let f = in_browser(fail.dir(), tmp.path(), "fail");
    let p = in_browser(pass.dir(), tmp.path(), "pass");

    // Assert: on the FAIL page's first screen, the verdict, the failed check and the first
    // discrepancy of that check with the start of its story.
    assert_eq!(f["viewport"][0], 1280, "{f}");
    assert_eq!(f["verdict"], "visible", "{f}");
    assert_eq!(f["failed_check"], "visible", "{f}");
    assert_eq!(f["failed_check_name"], "wrong_reason", "{f}");
    assert_eq!(f["first_discrepancy"], "visible", "{f}");
    assert_eq!(f["first_discrepancy_check"], "wrong_reason", "{f}");
    assert_eq!(f["first_discrepancy_story"], "visible", "{f}");
    // The PASS page: its verdict on the first screen, nothing failed.
    assert_eq!(p["verdict"], "visible", "{p}");
    assert_eq!(p["failed_check"], "absent", "{p}");
    assert_eq!(p["first_discrepancy"], "absent", "{p}");
    assert_eq!(p["discrepancies"], 0, "{p}");
}
