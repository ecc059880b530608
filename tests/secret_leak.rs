//! A unique API key is planted and every output batchprobe produces is searched for it: logs at
//! trace level, both metric formats, the verdict API, the status page, reload errors,
//! `check-config`, `once`, and the simulator's own logs.

mod support;

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use support::{Process, eventually, free_addr, wait_for_ok};

fn unique_key() -> String {
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_nanos();
    format!("AIzaLEAKCANARY{nanos:x}{}", std::process::id())
}

fn config(base_url: &str) -> String {
    format!(
        "region: europe-west4\ninterval: 1s\ntimeout: 10s\n\
         budget: {{ requests_per_minute: 6000 }}\n\
         targets:\n  - name: sim\n    provider: gemini\n    base_url: {base_url}\n    \
         api_key: {{ env: LEAK_TEST_KEY }}\n    api_versions: [v1beta]\n    \
         operations: [get, get_state, list, models, download]\n    \
         jobs:\n      discover: {{ max_jobs: 50, per_bucket: 1, interval: 5s }}\n"
    )
}

#[tokio::test]
async fn the_key_appears_in_no_output() {
    let key = unique_key();
    let dir = tempfile::tempdir().unwrap();
    let env = [("LEAK_TEST_KEY", key.as_str()), ("RUST_LOG", "trace")];

    // The simulator accepts only this key, so successes prove the key was sent.
    let sim_addr = free_addr();
    let simulator = Process::batchprobe(
        dir.path(),
        "simulate",
        &[
            "--log-level",
            "trace",
            "simulate",
            "--listen",
            &format!("europe-west4={sim_addr}"),
            "--scenario",
            "seed-outage",
            "--api-key-env",
            "LEAK_TEST_KEY",
        ],
        &env,
    );
    let base_url = format!("http://{sim_addr}");
    wait_for_port(sim_addr).await;

    let config_path = dir.path().join("probe.yml");
    std::fs::write(&config_path, config(&base_url)).unwrap();
    let addr = free_addr();
    let probe = Process::batchprobe(
        dir.path(),
        "run",
        &[
            "--log-level",
            "trace",
            "run",
            "--config",
            config_path.to_str().unwrap(),
            "--listen",
            &addr.to_string(),
        ],
        &env,
    );
    wait_for_ok(&format!("http://{addr}/healthz"), Duration::from_secs(20)).await;
    let client = support::client();
    let get = |path: &'static str, accept: &'static str| {
        let client = client.clone();
        async move {
            let response = client
                .get(format!("http://{addr}{path}"))
                .header("accept", accept)
                .send()
                .await
                .unwrap();
            response.text().await.unwrap()
        }
    };

    let metrics = eventually(
        Duration::from_secs(30),
        "authenticated successes",
        || async {
            let text = get("/metrics", "text/plain").await;
            let ok = text.lines().any(|l| {
                l.starts_with("batchprobe_requests_total{")
                    && l.contains("operation=\"list\"")
                    && l.contains("code=\"200\"")
            });
            ok.then_some(text)
        },
    )
    .await;
    let mut outputs = vec![
        ("metrics", metrics),
        (
            "openmetrics",
            get("/metrics", "application/openmetrics-text").await,
        ),
        ("verdict", get("/api/v1/verdict", "application/json").await),
        ("status page", get("/", "text/html").await),
    ];

    // A wrong key at the simulator: its error must not echo either key.
    let wrong = client
        .get(format!("{base_url}/v1beta/batches"))
        .header("x-goog-api-key", format!("{key}-wrong"))
        .send()
        .await
        .unwrap();
    assert!(wrong.status().is_client_error());
    outputs.push(("simulator error body", wrong.text().await.unwrap()));

    // A reload that fails because the key variable is gone still names no key.
    std::fs::write(
        &config_path,
        config(&base_url).replace("LEAK_TEST_KEY", "LEAK_TEST_UNSET"),
    )
    .unwrap();
    let reload = client
        .post(format!("http://{addr}/-/reload"))
        .send()
        .await
        .unwrap();
    assert_eq!(reload.status(), 500);
    outputs.push(("reload error", reload.text().await.unwrap()));
    std::fs::write(&config_path, config(&base_url)).unwrap();

    let check = std::process::Command::new(env!("CARGO_BIN_EXE_batchprobe"))
        .args([
            "--log-level",
            "trace",
            "check-config",
            config_path.to_str().unwrap(),
        ])
        .envs(env)
        .output()
        .unwrap();
    assert!(check.status.success());
    outputs.push(("check-config", format!("{check:?}")));
    let once = std::process::Command::new(env!("CARGO_BIN_EXE_batchprobe"))
        .args([
            "--log-level",
            "trace",
            "--log-format",
            "json",
            "once",
            "--config",
        ])
        .arg(&config_path)
        .envs(env)
        .output()
        .unwrap();
    assert_eq!(
        once.status.code(),
        Some(1),
        "the seed outage makes once fail"
    );
    outputs.push(("once", format!("{once:?}")));

    drop(probe);
    drop(simulator);
    for name in ["run", "simulate"] {
        for stream in ["stdout", "stderr"] {
            let path = dir.path().join(format!("{name}.{stream}"));
            outputs.push((name, std::fs::read_to_string(path).unwrap()));
        }
    }

    let logged: usize = outputs.iter().map(|(_, text)| text.len()).sum();
    assert!(
        logged > 10_000,
        "trace logging produced output to search ({logged} bytes)"
    );
    for (name, text) in &outputs {
        assert!(!text.contains(&key), "{name} contains the API key");
    }
}

async fn wait_for_port(addr: std::net::SocketAddr) {
    eventually(
        Duration::from_secs(20),
        "the simulator to listen",
        || async { tokio::net::TcpStream::connect(addr).await.ok().map(drop) },
    )
    .await;
}
