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
