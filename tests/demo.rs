//! `batchprobe demo` as a newcomer runs it: the seed outage in three regions, seen on the
//! terminal, on the status page and on the verdict API.

mod support;

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn demo_shows_the_seed_outage_everywhere() {
    let mut child = Command::new(env!("CARGO_BIN_EXE_batchprobe"))
        .args([
            "demo",
            "--listen",
            "127.0.0.1:0",
            "--duration",
            "30s",
            "--interval",
            "1s",
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let (lines_tx, lines_rx) = mpsc::channel();
    let stdout = child.stdout.take().unwrap();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            if lines_tx.send(line).is_err() {
                break;
            }
        }
    });

    // The status page address is printed first.
    let page = loop {
        let line = lines_rx
            .recv_timeout(Duration::from_secs(60))
            .expect("the demo starts");
        if let Some(url) = line.trim().strip_prefix("status page") {
            break url.trim().to_string();
        }
    };

    // While it runs, the API and the page agree with the terminal.
    let client = support::client();
    let verdict: serde_json::Value =
        support::eventually(Duration::from_secs(40), "batch_size", || {
            let client = client.clone();
            let url = format!("{page}api/v1/verdict");
            async move {
                let body = client.get(url).send().await.ok()?.text().await.ok()?;
                let verdict: serde_json::Value = serde_json::from_str(&body).ok()?;
                let buckets = verdict["explained_by"]["batch_size"].to_string();
                let settled = verdict["scope"] == "batch_size"
                    && verdict["provisional"] == false
                    && buckets.contains("11-100")
                    && buckets.contains("101-500");
                settled.then_some(verdict)
            }
        })
        .await;
    let headline = verdict["headline"].as_str().unwrap();
    assert!(
        headline.contains("11-100") && headline.contains("101-500"),
        "{headline}"
    );
    assert!(headline.contains("deadline"), "{headline}");
    let html = client
        .get(&page)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        html.contains("batch_size") || html.contains("batch size"),
        "the page names the scope"
    );
    assert!(html.contains("101-500"));

    let output: Vec<String> = lines_rx.iter().collect();
    assert!(child.wait().unwrap().success());
    let text = output.join("\n");
    let last_round = text.rsplit("── round").next().unwrap();
    for region in ["europe-west4", "us-central1", "asia-northeast1"] {
        for version in ["v1beta", "v1"] {
            for bucket in ["11-100", "101-500"] {
                let row = find_row(last_round, "get", bucket, version, region);
                assert!(row.contains(" 503 ") && row.ends_with("failing"), "{row}");
            }
            for (operation, bucket) in [
                ("get", "1-10"),
                ("get_state", "101-500"),
                ("list", "none"),
                ("models", "none"),
            ] {
                let row = find_row(last_round, operation, bucket, version, region);
                assert!(row.ends_with("healthy"), "{row}");
            }
        }
    }
    assert!(text.contains("final verdict: batch_size"), "{text}");
}

fn find_row<'a>(
    table: &'a str,
    operation: &str,
    bucket: &str,
    version: &str,
    region: &str,
) -> &'a str {
    table
        .lines()
        .find(|line| {
            let cells: Vec<&str> = line.split_whitespace().collect();
            cells.len() > 4
                && cells[0] == operation
                && cells[1] == bucket
                && cells[2] == version
                && cells[3] == region
        })
        .unwrap_or_else(|| panic!("no row {operation} {bucket} {version} {region} in\n{table}"))
}
