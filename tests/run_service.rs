//! `batchprobe run` against the simulator: the metric contract, `promtool check metrics`,
//! OpenMetrics negotiation, the verdict API and config reloads by HTTP and SIGHUP.

mod support;

use std::io::Write;
use std::net::SocketAddr;
use std::process::Stdio;
use std::time::Duration;

use batchprobe::simulator::{self, RunningSimulator, Scenario, SimulatorOptions};
use support::{eventually, run_probe, tool};

async fn seed_outage() -> RunningSimulator {
    simulator::start(SimulatorOptions {
        listeners: vec![("europe-west4".into(), SocketAddr::from(([127, 0, 0, 1], 0)))],
        scenario: Scenario::builtin("seed-outage").unwrap(),
        api_key: None,
    })
    .await
    .unwrap()
}

fn config(base_url: &str, key_file: &std::path::Path, interval: &str) -> String {
    format!(
        "region: europe-west4\ninterval: {interval}\ntimeout: 10s\n\
         budget: {{ requests_per_minute: 6000 }}\nverdict: {{ window: 1m, min_requests: 3 }}\n\
         targets:\n  - name: sim\n    provider: gemini\n    base_url: {base_url}\n    \
         api_key: {{ file: {key} }}\n    api_versions: [v1beta, v1]\n    \
         operations: [get, get_state, list, models, download]\n    \
         jobs:\n      discover: {{ max_jobs: 50, per_bucket: 1, interval: 10s }}\n",
        key = key_file.display()
    )
}

async fn scrape(addr: SocketAddr, accept: Option<&str>) -> (String, String) {
    let mut request = support::client().get(format!("http://{addr}/metrics"));
    if let Some(accept) = accept {
        request = request.header("accept", accept);
    }
    let response = request.send().await.unwrap();
    let content_type = response.headers()["content-type"]
        .to_str()
        .unwrap()
        .to_string();
    (content_type, response.text().await.unwrap())
}

/// Whether the exposition has a last-result gauge for `api_version`.
fn has_gauge(text: &str, api_version: &str) -> bool {
    text.lines().any(|l| {
        l.starts_with("batchprobe_probe_success{")
            && l.contains(&format!("api_version=\"{api_version}\""))
    })
}

const CONTRACT: [&str; 12] = [
    "batchprobe_requests_total{",
    "batchprobe_request_duration_seconds_bucket{",
    "batchprobe_response_bytes_bucket{",
    "batchprobe_probe_success{",
    "batchprobe_last_probe_timestamp_seconds{",
    "batchprobe_jobs_discovered{",
    "batchprobe_config_last_reload_successful 1",
    "batchprobe_build_info{version=",
    "batchprobe_outage_scope{scope=\"widespread\"}",
    "batchprobe_slice_error_ratio{",
    "batchprobe_slice_state{",
    "# TYPE batchprobe_checks_skipped_total counter",
];

#[tokio::test]
async fn run_exposes_the_metric_contract_and_promtool_accepts_it() {
    let sim = seed_outage().await;
    let dir = tempfile::tempdir().unwrap();
    let key = dir.path().join("key");
    std::fs::write(&key, "run-test-key").unwrap();
    let config_path = dir.path().join("probe.yml");
    std::fs::write(
        &config_path,
        config(&sim.base_url("europe-west4").unwrap(), &key, "1s"),
    )
    .unwrap();
    let (_probe, addr) = run_probe(dir.path(), "run", &config_path, &[]).await;

    // Wait until the large jobs' 503s (after the scaled 60 s deadline) have been counted.
    let text = eventually(
        Duration::from_secs(30),
        "503s on get for 101-500",
        || async {
            let (_, text) = scrape(addr, None).await;
            let has_503 = text.lines().any(|l| {
                l.starts_with("batchprobe_requests_total{")
                    && l.contains("operation=\"get\"")
                    && l.contains("batch_size=\"101-500\"")
                    && l.contains("code=\"503\"")
            });
            let has_download = text.contains("operation=\"download\"");
            (has_503 && has_download).then_some(text)
        },
    )
    .await;

    for needle in CONTRACT {
        assert!(text.contains(needle), "missing {needle:?} in\n{text}");
    }
    assert!(text.contains("operation=\"list\",api_version=\"v1\",region=\"europe-west4\",batch_size=\"none\",code=\"200\",outcome=\"success\""));
    assert!(text.contains("operation=\"get\",api_version=\"v1beta\",region=\"europe-west4\",batch_size=\"1-10\",code=\"200\",outcome=\"success\""));
    assert!(!text.contains("batches/"), "no job id in any label");
    assert!(!text.contains("127.0.0.1"), "no URL in any label");

    let mut promtool = tool("promtool")
        .args(["check", "metrics"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    promtool
        .stdin
        .take()
        .unwrap()
        .write_all(text.as_bytes())
        .unwrap();
    let checked = promtool.wait_with_output().unwrap();
    assert!(
        checked.status.success(),
        "promtool check metrics rejected the exposition:\n{}{}",
        String::from_utf8_lossy(&checked.stdout),
        String::from_utf8_lossy(&checked.stderr)
    );

    let (content_type, open_metrics) = scrape(
        addr,
        Some("application/openmetrics-text;version=1.0.0,text/plain;q=0.5"),
    )
    .await;
    assert!(
        content_type.starts_with("application/openmetrics-text"),
        "{content_type}"
    );
    assert!(open_metrics.ends_with("# EOF\n"));
    let (content_type, _) = scrape(addr, None).await;
    assert!(
        content_type.starts_with("text/plain; version=0.0.4"),
        "{content_type}"
    );

    sim.shutdown().await;
}

#[tokio::test]
async fn a_bad_reload_keeps_the_running_config() {
    let sim = seed_outage().await;
    let dir = tempfile::tempdir().unwrap();
    let key = dir.path().join("key");
    std::fs::write(&key, "run-test-key").unwrap();
    let config_path = dir.path().join("probe.yml");
    let good = config(&sim.base_url("europe-west4").unwrap(), &key, "1s");
    std::fs::write(&config_path, &good).unwrap();
    let (probe, addr) = run_probe(dir.path(), "reload", &config_path, &[]).await;
    let client = support::client();
    let reload = |client: reqwest::Client| async move {
        client
            .post(format!("http://{addr}/-/reload"))
            .send()
            .await
            .unwrap()
    };

    // A config with an unknown key is refused; the probe keeps probing with the old one.
    std::fs::write(
        &config_path,
        good.replace("timeout: 10s", "timeout: 10s\ntimout: 5s"),
    )
    .unwrap();
    let refused = reload(client.clone()).await;
    assert_eq!(refused.status(), 500);
    let why = refused.text().await.unwrap();
    assert!(
        why.contains("probe.yml:4:1") && why.contains("timout"),
        "{why}"
    );
    let (_, text) = scrape(addr, None).await;
    assert!(
        text.contains("batchprobe_config_last_reload_successful 0"),
        "{text}"
    );
    let requests = |text: &str| -> f64 {
        text.lines()
            .filter(|l| l.starts_with("batchprobe_requests_total{"))
            .map(|l| l.rsplit(' ').next().unwrap().parse::<f64>().unwrap())
            .sum()
    };
    let before = requests(&text);
    eventually(Duration::from_secs(20), "probing to go on", || async {
        let (_, text) = scrape(addr, None).await;
        (requests(&text) > before).then_some(())
    })
    .await;
    assert!(
        probe.output().contains("config reload failed"),
        "{}",
        probe.output()
    );

    // SIGHUP with the config fixed (one API version fewer) reloads it, once v1beta has results.
    eventually(Duration::from_secs(20), "v1beta results", || async {
        let (_, text) = scrape(addr, None).await;
        has_gauge(&text, "v1beta").then_some(())
    })
    .await;
    std::fs::write(&config_path, good.replace("[v1beta, v1]", "[v1]")).unwrap();
    probe.signal(1);
    eventually(Duration::from_secs(20), "the SIGHUP reload", || async {
        let (_, text) = scrape(addr, None).await;
        text.contains("batchprobe_config_last_reload_successful 1")
            .then_some(())
    })
    .await;
    assert!(
        probe.output().contains("config reloaded"),
        "{}",
        probe.output()
    );
    // The dropped version's last-result gauges go (once requests in flight have drained);
    // its counters stay.
    let text = eventually(Duration::from_secs(20), "v1beta gauges to go", || async {
        let (_, text) = scrape(addr, None).await;
        (!has_gauge(&text, "v1beta") && has_gauge(&text, "v1")).then_some(text)
    })
    .await;
    assert!(
        text.lines()
            .any(|l| l.starts_with("batchprobe_requests_total{") && l.contains("\"v1beta\"")),
        "{text}"
    );

    // And over HTTP.
    std::fs::write(&config_path, &good).unwrap();
    assert_eq!(reload(client.clone()).await.status(), 200);

    let body = client
        .get(format!("http://{addr}/api/v1/verdict"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let verdict: serde_json::Value = serde_json::from_str(&body).unwrap();
    for field in [
        "scope",
        "since",
        "headline",
        "explained_by",
        "slices",
        "evaluated_at",
    ] {
        assert!(
            verdict.get(field).is_some(),
            "verdict lacks {field}: {verdict}"
        );
    }
    sim.shutdown().await;
}
