//! `batchprobe once` and `batchprobe check-config` as a user runs them: tables, verdicts and exit
//! codes (0 healthy, 1 failures, 2 bad config).

mod support;

use std::net::SocketAddr;
use std::process::{Command, Output};

use batchprobe::simulator::{self, RunningSimulator, Scenario, SimulatorOptions};

async fn simulator(scenario: &str) -> RunningSimulator {
    simulator::start(SimulatorOptions {
        listeners: vec![("europe-west4".into(), SocketAddr::from(([127, 0, 0, 1], 0)))],
        scenario: Scenario::builtin(scenario).unwrap(),
        api_key: None,
    })
    .await
    .unwrap()
}

fn write_config(dir: &std::path::Path, base_url: &str) -> std::path::PathBuf {
    let key = dir.join("key");
    std::fs::write(&key, "once-test-key").unwrap();
    let path = dir.join("probe.yml");
    std::fs::write(
        &path,
        format!(
            "region: europe-west4\ntimeout: 10s\nbudget: {{ requests_per_minute: 6000 }}\n\
             verdict: {{ min_requests: 3 }}\ntargets:\n  - name: sim\n    provider: gemini\n    \
             base_url: {base_url}\n    api_key: {{ file: {} }}\n    \
             operations: [get, get_state, list, models]\n    \
             jobs:\n      discover: {{ max_jobs: 50, per_bucket: 2 }}\n",
            key.display()
        ),
    )
    .unwrap();
    path
}

/// Runs the binary on a blocking thread, so the in-process simulator keeps serving.
async fn batchprobe(args: Vec<String>) -> Output {
    tokio::task::spawn_blocking(move || {
        Command::new(env!("CARGO_BIN_EXE_batchprobe"))
            .args(args)
            .output()
            .unwrap()
    })
    .await
    .unwrap()
}

fn text(output: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn once_exits_zero_when_healthy() {
    let sim = simulator("healthy").await;
    let dir = tempfile::tempdir().unwrap();
    let config = write_config(dir.path(), &sim.base_url("europe-west4").unwrap());

    let output = batchprobe(vec![
        "once".into(),
        "--config".into(),
        config.display().to_string(),
    ])
    .await;

    let stdout = String::from_utf8_lossy(&output.stdout);
    assert_eq!(output.status.code(), Some(0), "{}", text(&output));
    assert!(stdout.contains("OPERATION"), "a table is printed: {stdout}");
    assert!(stdout.contains("verdict: none"), "{stdout}");
    sim.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn once_exits_one_with_the_verdict_during_the_seed_outage() {
    let sim = simulator("seed-outage").await;
    let dir = tempfile::tempdir().unwrap();
    let config = write_config(dir.path(), &sim.base_url("europe-west4").unwrap());

    let args = vec![
        "once".into(),
        "--config".into(),
        config.display().to_string(),
        "--rounds".into(),
        "4".into(),
    ];
    let output = batchprobe(args).await;

    let stdout = String::from_utf8_lossy(&output.stdout);
    assert_eq!(output.status.code(), Some(1), "{}", text(&output));
    let failing_get = stdout
        .lines()
        .filter(|l| l.starts_with("get ") && l.contains(" 503 ") && l.ends_with("failing"))
        .count();
    assert_eq!(
        failing_get, 2,
        "get 11-100 and 101-500 fail with 503:\n{stdout}"
    );
    assert!(stdout.contains("verdict: batch_size"), "{stdout}");
    sim.shutdown().await;
}

#[tokio::test]
async fn bad_configs_exit_two_and_name_the_key() {
    let dir = tempfile::tempdir().unwrap();
    let config = write_config(dir.path(), "http://127.0.0.1:9");
    let good = std::fs::read_to_string(&config).unwrap();
    std::fs::write(
        &config,
        good.replace("timeout: 10s", "timeout: 10s\nconcurency: 3"),
    )
    .unwrap();

    for command in ["once", "check-config"] {
        let mut args = vec![command.to_string()];
        if command == "once" {
            args.push("--config".into());
        }
        args.push(config.display().to_string());
        let output = batchprobe(args).await;

        assert_eq!(
            output.status.code(),
            Some(2),
            "{command}: {}",
            text(&output)
        );
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(
            stderr.contains("probe.yml:3:1") && stderr.contains("concurency"),
            "{stderr}"
        );
    }

    std::fs::write(&config, good).unwrap();
    let output = batchprobe(vec!["check-config".into(), config.display().to_string()]).await;
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert_eq!(output.status.code(), Some(0), "{}", text(&output));
    assert!(
        stdout.contains("target sim") && stdout.contains("key=<redacted>"),
        "{stdout}"
    );
    assert!(!stdout.contains("once-test-key"));
}
