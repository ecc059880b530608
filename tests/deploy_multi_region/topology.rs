//! The processes of the many-regions test and their configs, all on free ports of 127.0.0.1:
//! `batchprobe simulate` with one listener per region, one `batchprobe run` per region, one
//! Prometheus agent per region and the central Prometheus that receives their remote writes.
//!
//! The Prometheus configs are derived from the shipped examples, not written anew, so that the
//! test proves them:
//!
//! - each agent's config is `deploy/prometheus/agent.yml` with `europe-west4` replaced by the
//!   agent's region throughout, as the file tells an operator to do, and then only what a
//!   loopback test must change: the probe's address, the central server's write URL and a 1 s
//!   scrape interval (with a timeout that fits in it).
//! - the central config is `deploy/prometheus/prometheus.yml` with its `rule_files` patterns
//!   resolved against its own folder (as Prometheus does), a 1 s scrape and evaluation
//!   interval, and neither Alertmanager nor scrape targets: both name example hosts off
//!   loopback, and the series arrive by remote write only.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::deploy_support::{assert_success, repo_path, require_tool, run};
use crate::support::{
    Process, free_addr, logs_tail, probe_per_region, prometheus_alerts, prometheus_query, simulate,
    wait_for_ok,
};

/// The probe regions: one simulator listener, one probe and one agent each.
pub const REGIONS: [&str; 2] = ["europe-west4", "us-central1"];

/// The region that `deploy/prometheus/agent.yml` is written for.
const SHIPPED_REGION: &str = "europe-west4";

/// How long each process may take to answer after it starts.
const STARTUP: Duration = Duration::from_secs(30);

/// How Prometheus is installed, for the message of a test that misses it.
const INSTALL_PROMETHEUS: &str = "apt-get install -y prometheus (or scripts/install-test-deps.sh)";

/// Everything the test runs; dropping it kills every process, then removes the files.
pub struct Topology {
    /// The central Prometheus' web address.
    pub central: SocketAddr,
    /// When the last agent answered ready: from here on every series can flow to the centre.
    pub agents_ready: Instant,
    processes: Vec<Process>,
    dir: tempfile::TempDir,
}

impl Topology {
    /// Checks the derived configs with promtool, then starts the central Prometheus, the
    /// simulator with `scenario`, the probes and the agents, and waits until each answers.
    pub async fn start(scenario: &str) -> Topology {
        let promtool = require_tool("promtool", INSTALL_PROMETHEUS);
        let prometheus = require_tool("prometheus", INSTALL_PROMETHEUS);
        let dir = tempfile::tempdir().expect("a temp dir");
        let mut processes = Vec::new();

        // The central server first, so that the agents' first writes find it.
        let central = free_addr();
        let central_config = dir.path().join("central.yml");
        write_yaml(&central_config, &central_config_from_shipped());
        promtool_check(&promtool, &central_config, false);
        let mut command = Command::new(&prometheus);
        command
            .arg(format!("--config.file={}", central_config.display()))
            .arg(format!(
                "--storage.tsdb.path={}",
                dir.path().join("central-data").display()
            ))
            .arg(format!("--web.listen-address={central}"))
            .arg("--web.enable-remote-write-receiver");
        processes.push(Process::spawn(&mut command, dir.path(), "central"));
        wait_for_ok(&format!("http://{central}/-/ready"), STARTUP).await;

        // The simulator: one listener per region.
        let (simulator, simulator_addrs) = simulate(dir.path(), &REGIONS, scenario).await;
        processes.push(simulator);

        // One probe per region, each against its region's listener.
        let (probes, probe_addrs) = probe_per_region(
            dir.path(),
            &REGIONS,
            &simulator_addrs,
            "multi-region-test-key",
            probe_config,
        )
        .await;
        processes.extend(probes);

        // One agent per region, scraping its probe and writing to the centre.
        let mut agent_addrs = Vec::new();
        for (region, probe) in REGIONS.iter().zip(&probe_addrs) {
            let config = dir.path().join(format!("agent-{region}.yml"));
            write_yaml(&config, &agent_config_from_shipped(region, *probe, central));
            promtool_check(&promtool, &config, true);
            let addr = free_addr();
            let mut command = Command::new(&prometheus);
            command
                .arg("--enable-feature=agent")
                .arg(format!("--config.file={}", config.display()))
                .arg(format!(
                    "--storage.agent.path={}",
                    dir.path().join(format!("agent-{region}-data")).display()
                ))
                .arg(format!("--web.listen-address={addr}"));
            processes.push(Process::spawn(
                &mut command,
                dir.path(),
                &format!("agent-{region}"),
            ));
            agent_addrs.push(addr);
        }
        for addr in &agent_addrs {
            wait_for_ok(&format!("http://{addr}/-/ready"), STARTUP).await;
        }

        Topology {
            central,
            agents_ready: Instant::now(),
            processes,
            dir,
        }
    }

    /// The last lines every process wrote, for failure messages.
    pub fn logs(&self) -> String {
        logs_tail(&self.processes, self.dir.path(), 15)
    }

    /// An instant PromQL query on the central server; panics when it refuses the query.
    pub async fn query(&self, expr: &str) -> Vec<Value> {
        prometheus_query(self.central, expr).await
    }

    /// The alerts the central server holds (pending and firing).
    pub async fn alerts(&self) -> Vec<Value> {
        prometheus_alerts(self.central).await
    }
}

/// The central server's config: the shipped one, fed by remote write only, evaluating every
/// second.
fn central_config_from_shipped() -> Value {
    let shipped = repo_path("deploy/prometheus/prometheus.yml");
    let mut config = read_yaml(&shipped);

    // The rule files as the shipped config finds them: relative to its own folder.
    let folder = shipped.parent().unwrap();
    let rule_files = config["rule_files"]
        .as_array()
        .filter(|files| !files.is_empty())
        .expect("deploy/prometheus/prometheus.yml has rule_files")
        .iter()
        .map(|pattern| {
            let pattern = pattern.as_str().expect("a rule_files pattern");
            Value::String(folder.join(pattern).display().to_string())
        })
        .collect();
    config["rule_files"] = Value::Array(rule_files);

    config["global"]["scrape_interval"] = json!("1s");
    config["global"]["evaluation_interval"] = json!("1s");
    let object = config.as_object_mut().unwrap();
    object.remove("alerting");
    object.remove("scrape_configs");
    config
}

/// A region's agent config: the shipped one with its region replaced, scraping `probe` every
/// second and writing to `central`.
fn agent_config_from_shipped(region: &str, probe: SocketAddr, central: SocketAddr) -> Value {
    let shipped = repo_path("deploy/prometheus/agent.yml");
    let text = std::fs::read_to_string(&shipped).expect("read deploy/prometheus/agent.yml");
    let text = text.replace(SHIPPED_REGION, region);
    let mut config: Value = serde_norway::from_str(&text).expect("agent.yml is YAML");

    // The test's shape of the file: one job with one target, one remote write.
    let jobs = config["scrape_configs"]
        .as_array_mut()
        .expect("scrape_configs");
    assert_eq!(jobs.len(), 1, "agent.yml: one scrape job expected");
    let job = &mut jobs[0];
    let targets = job["static_configs"]
        .as_array_mut()
        .expect("static_configs");
    assert_eq!(targets.len(), 1, "agent.yml: one static config expected");
    targets[0]["targets"] = json!([probe.to_string()]);
    job["scrape_interval"] = json!("1s");
    job["scrape_timeout"] = json!("1s");
    config["global"]["scrape_interval"] = json!("1s");
    let writes = config["remote_write"].as_array_mut().expect("remote_write");
    assert_eq!(writes.len(), 1, "agent.yml: one remote write expected");
    writes[0]["url"] = json!(format!("http://{central}/api/v1/write"));

    config
}

/// The instance label the shipped agent config gives `region`'s probe.
pub fn agent_instance(region: &str) -> String {
    let config = agent_config_from_shipped(region, free_addr(), free_addr());
    config["scrape_configs"][0]["static_configs"][0]["labels"]["instance"]
        .as_str()
        .expect("agent.yml sets the probe's instance label")
        .to_string()
}

/// The external labels the shipped agent config gives `region`'s agent.
pub fn agent_external_labels(region: &str) -> Value {
    let config = agent_config_from_shipped(region, free_addr(), free_addr());
    config["global"]["external_labels"].clone()
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

/// Runs `promtool check config` (with `--agent` for an agent) on a derived config.
fn promtool_check(promtool: &Path, config: &Path, agent: bool) {
    let mut command = Command::new(promtool);
    command.args(["check", "config"]);
    if agent {
        command.arg("--agent");
    }
    let output = run(command.arg(config));
    let text = std::fs::read_to_string(config).unwrap_or_default();
    assert_success(
        &output,
        &format!("promtool check config on {}:\n{text}\n", config.display()),
    );
}

fn read_yaml(path: &Path) -> Value {
    let text = std::fs::read_to_string(path)
        .unwrap_or_else(|err| panic!("read {}: {err}", path.display()));
    serde_norway::from_str(&text).unwrap_or_else(|err| panic!("{}: {err}", path.display()))
}

fn write_yaml(path: &PathBuf, value: &Value) {
    let text = serde_norway::to_string(value).expect("serialize a config");
    std::fs::write(path, text).unwrap_or_else(|err| panic!("write {}: {err}", path.display()));
}
