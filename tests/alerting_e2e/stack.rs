//! The processes of the end-to-end alerting test and their configs: `batchprobe simulate` with
//! three regions, one `batchprobe run` per region, a real Prometheus loading the shipped rules,
//! and a real Alertmanager loading the example config, all on free ports of 127.0.0.1.
//!
//! Two things are scaled so that the test takes minutes instead of hours, and nothing else:
//!
//! - every `for:` of `alerts/batchprobe.alerts.yml` is divided by [`FOR_DIVISOR`] (5m becomes
//!   10s, 10m becomes 20s), which keeps their order: the widespread page still fires before the
//!   per-bucket tickets it inhibits would. Expressions, windows, thresholds and labels stay as
//!   shipped, and `alerts/batchprobe.rules.yml` is loaded from the repository unchanged. Its
//!   15-minute and longer windows need no scaling: the whole run fits inside them, so they
//!   count every request the probes sent.
//! - in `alerts/alertmanager.example.yml`, `group_wait` and `group_interval` are shortened to
//!   [`GROUP_WAIT`] and [`GROUP_INTERVAL`] (a resolved notification waits for the next group
//!   interval, 5 minutes as shipped) and every webhook URL points at the test's receiver, with
//!   the receiver's name as the path. Routes, matchers, grouping and inhibition stay as shipped.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use serde_json::{Value, json};

use crate::support::{
    Process, alertmanager_binary, client, free_addr, get_json, logs_tail, probe_per_region,
    prometheus_alerts, prometheus_query, simulate, tool, wait_for_ok,
};

/// The probe regions, one simulator listener and one `batchprobe run` each.
pub const REGIONS: [&str; 3] = ["europe-west4", "us-central1", "asia-northeast1"];

/// Every alert's `for:` is divided by this.
pub const FOR_DIVISOR: u32 = 30;

/// Alertmanager's `group_wait` in the test, where the example's is longer.
pub const GROUP_WAIT: &str = "1s";

/// Alertmanager's `group_interval` in the test, where the example's is longer.
pub const GROUP_INTERVAL: &str = "2s";

/// Everything the test runs; dropping it kills every process, then removes the files.
pub struct Stack {
    /// The simulator's listener of each region, in [`REGIONS`] order.
    pub simulator_addrs: Vec<SocketAddr>,
    /// Prometheus' web address.
    pub prometheus: SocketAddr,
    /// Alertmanager's web address.
    pub alertmanager: SocketAddr,
    /// The alerts' `for:` durations as shipped and as loaded, for the test's output.
    pub scaled_for: Vec<(String, String, String)>,
    processes: Vec<Process>,
    dir: tempfile::TempDir,
}

impl Stack {
    /// Starts the simulator (healthy: the test switches the outage on), the probes, the
    /// Alertmanager (webhooks to `receiver`) and Prometheus, and waits until each answers.
    pub async fn start(receiver: SocketAddr) -> Stack {
        let dir = tempfile::tempdir().expect("a temp dir");
        let mut processes = Vec::new();

        // The simulator: one listener per region, no fault until the test puts one.
        let (simulator, simulator_addrs) = simulate(dir.path(), &REGIONS, "healthy").await;
        processes.push(simulator);

        // One probe per region, each against its region's listener.
        let (probes, probe_addrs) = probe_per_region(
            dir.path(),
            &REGIONS,
            &simulator_addrs,
            "alerting-e2e-key",
            probe_config,
        )
        .await;
        processes.extend(probes);

        // Alertmanager before Prometheus, so that the first alerts find it.
        let alertmanager = free_addr();
        let am_config = dir.path().join("alertmanager.yml");
        std::fs::write(&am_config, alertmanager_config(receiver)).unwrap();
        let am_storage = dir.path().join("alertmanager-data");
        let mut am = std::process::Command::new(alertmanager_binary());
        am.arg(format!("--config.file={}", am_config.display()))
            .arg(format!("--storage.path={}", am_storage.display()))
            .arg(format!("--web.listen-address={alertmanager}"))
            // A lone Alertmanager: no gossip port.
            .arg("--cluster.listen-address=")
            .stdin(Stdio::null());
        processes.push(Process::spawn(&mut am, dir.path(), "alertmanager"));
        wait_for_ok(&format!("http://{alertmanager}/-/ready"), STARTUP).await;

        // Prometheus with the shipped recording rules and the scaled alerting rules.
        let (alert_rules, scaled_for) = scaled_alert_rules();
        let alerts_file = dir.path().join("batchprobe.alerts.yml");
        std::fs::write(&alerts_file, alert_rules).unwrap();
        let rule_files = [repo_path("alerts/batchprobe.rules.yml"), alerts_file];
        let prom_config = dir.path().join("prometheus.yml");
        let config = prometheus_config(&probe_addrs, alertmanager, &rule_files);
        std::fs::write(&prom_config, config).unwrap();
        let prometheus = free_addr();
        let prom_storage = dir.path().join("prometheus-data");
        let mut prom = tool("prometheus");
        prom.arg(format!("--config.file={}", prom_config.display()))
            .arg(format!("--storage.tsdb.path={}", prom_storage.display()))
            .arg(format!("--web.listen-address={prometheus}"))
            .stdin(Stdio::null());
        processes.push(Process::spawn(&mut prom, dir.path(), "prometheus"));
        wait_for_ok(&format!("http://{prometheus}/-/ready"), STARTUP).await;

        Stack {
            simulator_addrs,
            prometheus,
            alertmanager,
            scaled_for,
            processes,
            dir,
        }
    }

    /// What every process wrote so far, for failure messages.
    pub fn logs(&self) -> String {
        logs_tail(&self.processes, self.dir.path(), 20)
    }

    /// Replaces the simulator's fault rules (shared by all its listeners); returns the rules in
    /// force as the simulator reports them on another listener.
    pub async fn put_faults(&self, faults: &Value) -> Value {
        let put = client()
            .put(format!(
                "http://{}/_simulator/faults",
                self.simulator_addrs[0]
            ))
            .header("content-type", "application/json")
            .body(json!({ "faults": faults }).to_string())
            .send()
            .await
            .expect("PUT /_simulator/faults");
        assert!(put.status().is_success(), "PUT faults: {}", put.status());

        let url = format!("http://{}/_simulator/faults", self.simulator_addrs[2]);
        get_json(url.parse().unwrap()).await["faults"].clone()
    }

    /// An instant PromQL query; panics when Prometheus refuses it.
    pub async fn query(&self, expr: &str) -> Vec<Value> {
        prometheus_query(self.prometheus, expr).await
    }

    /// The alerts Prometheus holds (pending and firing).
    pub async fn prometheus_alerts(&self) -> Vec<Value> {
        prometheus_alerts(self.prometheus).await
    }

    /// The alerts Alertmanager holds, with their `status.state` and `status.inhibitedBy`.
    pub async fn alertmanager_alerts(&self) -> Vec<Value> {
        let url = format!("http://{}/api/v2/alerts", self.alertmanager);
        let answer = get_json(url.parse().unwrap()).await;
        answer.as_array().cloned().unwrap_or_default()
    }
}

/// How long each process may take to answer after it starts.
const STARTUP: Duration = Duration::from_secs(30);

/// A path inside the repository.
pub fn repo_path(relative: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(relative)
}

/// A probe checking every second, so that a slice collects enough requests within seconds.
fn probe_config(region: &str, simulator: SocketAddr, key: &Path) -> String {
    format!(
        "region: {region}\ninterval: 1s\ntimeout: 10s\n\
         budget: {{ requests_per_minute: 6000 }}\nverdict: {{ window: 30s, min_requests: 3 }}\n\
         targets:\n  - name: gemini-{region}\n    provider: gemini\n    \
         base_url: http://{simulator}\n    api_key: {{ file: {key} }}\n    \
         api_versions: [v1beta, v1]\n    \
         operations: [get, get_state, list, models, download]\n    \
         jobs:\n      discover: {{ max_jobs: 50, per_bucket: 1, interval: 5s }}\n",
        key = key.display()
    )
}

/// `alerts/batchprobe.alerts.yml` with every `for:` divided by [`FOR_DIVISOR`]; also returns
/// (alert, shipped `for`, scaled `for`) for each alert that has one.
fn scaled_alert_rules() -> (String, Vec<(String, String, String)>) {
    let path = repo_path("alerts/batchprobe.alerts.yml");
    let text = std::fs::read_to_string(&path).expect("read the alerting rules");
    let mut rules: Value = serde_norway::from_str(&text).expect("the alerting rules are YAML");

    let mut scaled = Vec::new();
    for group in rules["groups"].as_array_mut().expect("groups") {
        for rule in group["rules"].as_array_mut().expect("rules") {
            let Some(shipped) = rule.get("for").and_then(Value::as_str).map(str::to_string) else {
                continue;
            };
            let duration = humantime::parse_duration(&shipped)
                .unwrap_or_else(|err| panic!("for: {shipped}: {err}"));
            let short = prometheus_duration(duration / FOR_DIVISOR);
            rule["for"] = Value::String(short.clone());
            let alert = rule["alert"].as_str().unwrap_or_default().to_string();
            scaled.push((alert, shipped, short));
        }
    }

    let yaml = serde_norway::to_string(&rules).expect("serialize the rules");
    (yaml, scaled)
}

/// A duration as Prometheus writes it: whole seconds, or else milliseconds.
fn prometheus_duration(duration: Duration) -> String {
    let millis = duration.as_millis();
    if millis.is_multiple_of(1000) {
        format!("{}s", millis / 1000)
    } else {
        format!("{millis}ms")
    }
}

/// `alerts/alertmanager.example.yml` with short group timers and every webhook pointing at
/// `receiver`, at the path `/{receiver name}`.
fn alertmanager_config(receiver: SocketAddr) -> String {
    let path = repo_path("alerts/alertmanager.example.yml");
    let text = std::fs::read_to_string(&path).expect("read the Alertmanager example");
    let mut config: Value = serde_norway::from_str(&text).expect("the example is YAML");

    shorten_timers(&mut config["route"]);

    for entry in config["receivers"].as_array_mut().expect("receivers") {
        let name = entry["name"].as_str().expect("receiver name").to_string();
        let receiver_config = entry.as_object_mut().unwrap();
        for key in receiver_config.keys() {
            // Anything but a webhook could notify outside loopback.
            assert!(
                key == "name" || key == "webhook_configs",
                "receiver {name} has {key}; the test only redirects webhooks"
            );
        }
        let webhooks = receiver_config
            .get_mut("webhook_configs")
            .and_then(Value::as_array_mut)
            .unwrap_or_else(|| panic!("receiver {name} has no webhook"));
        for webhook in webhooks {
            webhook["url"] = Value::String(format!("http://{receiver}/{name}"));
        }
    }

    serde_norway::to_string(&config).expect("serialize the Alertmanager config")
}

/// Sets `group_wait` and `group_interval` of a route and its children to the test's, where
/// they are longer.
fn shorten_timers(route: &mut Value) {
    for (key, short) in [
        ("group_wait", GROUP_WAIT),
        ("group_interval", GROUP_INTERVAL),
    ] {
        let longer = route
            .get(key)
            .and_then(Value::as_str)
            .map(|d| humantime::parse_duration(d).expect("a route duration"))
            .is_some_and(|d| d > humantime::parse_duration(short).unwrap());
        if longer {
            route[key] = Value::String(short.to_string());
        }
    }
    if let Some(children) = route.get_mut("routes").and_then(Value::as_array_mut) {
        children.iter_mut().for_each(shorten_timers);
    }
}

/// Scrapes and evaluates every second; every probe keeps its own `instance` (its address).
fn prometheus_config(probes: &[SocketAddr], alertmanager: SocketAddr, rules: &[PathBuf]) -> String {
    let targets: Vec<String> = probes.iter().map(SocketAddr::to_string).collect();
    let config = json!({
        "global": { "scrape_interval": "1s", "evaluation_interval": "1s" },
        "rule_files": rules.iter().map(|p| p.display().to_string()).collect::<Vec<_>>(),
        "alerting": {
            "alertmanagers": [{ "static_configs": [{ "targets": [alertmanager.to_string()] }] }]
        },
        "scrape_configs": [{
            "job_name": "batchprobe",
            "static_configs": [{ "targets": targets }]
        }]
    });
    serde_norway::to_string(&config).expect("serialize prometheus.yml")
}
