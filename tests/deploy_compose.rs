//! The compose stack of deploy/compose/: the file validates against the official compose-spec
//! JSON schema (as vendored by check-jsonschema), without a Docker engine, and its parts fit
//! together: mounted files exist, each probe's config names its region and the simulator's
//! port for it, Prometheus scrapes every probe and loads the rules of alerts/, and Grafana's
//! provisioning points at the stack's Prometheus and the mounted dashboards.

#[allow(
    dead_code,
    reason = "each deploy test uses a different part of the helpers"
)]
#[path = "deploy_support/support.rs"]
mod support;

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::Value;

use support::{assert_success, repo_path, run, str_at, yaml_file};

fn compose_dir() -> PathBuf {
    repo_path("deploy/compose")
}

fn compose() -> Value {
    yaml_file(&compose_dir().join("compose.yaml"))
}

fn check_compose_schema(file: &Path) -> std::process::Output {
    support::require_python_module("check_jsonschema", "check-jsonschema==0.39.0");

    run(Command::new(support::python())
        .args([
            "-m",
            "check_jsonschema",
            "--builtin-schema",
            "vendor.compose-spec",
        ])
        .arg(file))
}

/// A service's bind mounts as (host path resolved against deploy/compose, container path).
fn bind_mounts(service: &Value) -> Vec<(PathBuf, String)> {
    let Some(volumes) = service["volumes"].as_array() else {
        return Vec::new();
    };
    volumes
        .iter()
        .filter_map(Value::as_str)
        .filter(|v| v.starts_with('.') || v.starts_with('/'))
        .map(|v| {
            let mut parts = v.split(':');
            let host = compose_dir().join(parts.next().unwrap());
            (
                host,
                parts
                    .next()
                    .expect("a bind mount names its target")
                    .to_string(),
            )
        })
        .collect()
}

/// The command of a service as a list of strings, with `${VAR:-default}` left as written.
fn command(service: &Value) -> Vec<&str> {
    service["command"]
        .as_array()
        .map(|args| args.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default()
}

#[test]
fn compose_file_matches_the_compose_spec_schema() {
    let output = check_compose_schema(&compose_dir().join("compose.yaml"));

    assert_success(
        &output,
        "check-jsonschema --builtin-schema vendor.compose-spec",
    );
}

#[test]
fn schema_check_rejects_an_unknown_service_key() {
    // The same check must fail on a key the spec does not know, or it proves nothing.
    let text = std::fs::read_to_string(compose_dir().join("compose.yaml")).unwrap();
    let broken = text.replacen(
        "  simulator:\n",
        "  simulator:\n    restart_policy: always\n",
        1,
    );
    assert_ne!(
        broken, text,
        "the simulator service moved; update this test"
    );
    let scratch = tempfile::tempdir().unwrap();
    let file = scratch.path().join("compose.yaml");
    std::fs::write(&file, broken).unwrap();

    let output = check_compose_schema(&file);

    assert!(
        !output.status.success(),
        "an unknown service key passed the schema check"
    );
    assert!(String::from_utf8_lossy(&output.stdout).contains("restart_policy"));
}

#[test]
fn every_bind_mount_exists() {
    let compose = compose();

    for (name, service) in compose["services"].as_object().expect("services") {
        for (host, _) in bind_mounts(service) {
            assert!(
                host.exists(),
                "service {name} mounts {}, which is missing",
                host.display()
            );
        }
    }
}

#[test]
fn each_probe_watches_its_own_region_of_the_simulator() {
    let compose = compose();
    let services = compose["services"].as_object().expect("services");

    // The simulator's regions and ports, from its `--listen REGION=ADDR` arguments.
    let simulator = command(&services["simulator"]);
    assert_eq!(simulator.first(), Some(&"simulate"));
    let listens: BTreeMap<&str, &str> = simulator
        .windows(2)
        .filter(|pair| pair[0] == "--listen")
        .map(|pair| {
            let (region, addr) = pair[1].split_once('=').expect("REGION=ADDR");
            (region, addr.rsplit_once(':').expect("ADDR has a port").1)
        })
        .collect();
    assert_eq!(listens.len(), 3, "the simulator serves three regions");

    let probes: BTreeMap<&str, &Value> = services
        .iter()
        .filter_map(|(name, s)| name.strip_prefix("probe-").map(|region| (region, s)))
        .collect();
    assert_eq!(
        probes.keys().collect::<BTreeSet<_>>(),
        listens.keys().collect::<BTreeSet<_>>(),
        "one probe per simulated region"
    );

    for (region, service) in probes {
        let (config_path, _) = bind_mounts(service)
            .into_iter()
            .find(|(_, target)| target == "/etc/batchprobe/config.yaml")
            .unwrap_or_else(|| panic!("probe-{region} mounts no config"));
        let text = std::fs::read_to_string(&config_path).unwrap();
        let source = config_path.display().to_string();

        let checked_region = support::check_batchprobe_config(&text, &source);
        assert_eq!(checked_region, region, "{source}: region");

        let config = support::yaml_documents(&text, &source).remove(0);
        let base_url = str_at(&config, "/targets/0/base_url", &source);
        assert_eq!(
            base_url,
            format!("http://simulator:{}", listens[region]),
            "{source}"
        );
        assert_eq!(
            service["environment"]["GEMINI_API_KEY"]
                .as_str()
                .map(|v| !v.is_empty()),
            Some(true),
            "probe-{region} gets no key"
        );
    }
}

#[test]
fn prometheus_scrapes_every_probe_and_loads_the_rules() {
    let compose = compose();
    let services = compose["services"].as_object().expect("services");
    let prometheus = &services["prometheus"];
    let mounts = bind_mounts(prometheus);
    let (config, _) = mounts
        .iter()
        .find(|(_, target)| target == "/etc/prometheus/prometheus.yml")
        .expect("prometheus mounts its config");
    let (alerts_dir, alerts_target) = mounts
        .iter()
        .find(|(host, _)| host.ends_with("alerts"))
        .expect("prometheus mounts alerts/");

    // Every probe is a target, on the port it listens on.
    let scrape = yaml_file(config);
    let targets: BTreeSet<&str> = scrape["scrape_configs"]
        .as_array()
        .expect("scrape_configs")
        .iter()
        .filter(|job| job["job_name"] == "batchprobe")
        .flat_map(|job| job["static_configs"].as_array().unwrap())
        .flat_map(|c| c["targets"].as_array().unwrap())
        .filter_map(Value::as_str)
        .collect();
    let probes: BTreeSet<String> = services
        .keys()
        .filter(|name| name.starts_with("probe-"))
        .map(|name| format!("{name}:9464"))
        .collect();
    assert_eq!(
        targets,
        probes.iter().map(String::as_str).collect(),
        "scrape targets"
    );

    // promtool, on a copy whose rule paths point where the container would find alerts/.
    let promtool = support::require_tool("promtool", "apt-get install -y prometheus");
    let text = std::fs::read_to_string(config).unwrap();
    let local = text.replace(
        alerts_target.as_str(),
        &alerts_dir.canonicalize().unwrap().display().to_string(),
    );
    assert_ne!(local, text, "the rule_files do not use the alerts/ mount");
    let scratch = tempfile::tempdir().unwrap();
    let file = scratch.path().join("prometheus.yml");
    std::fs::write(&file, local).unwrap();

    let output = run(Command::new(promtool).args(["check", "config"]).arg(&file));

    assert_success(&output, "promtool check config (compose)");
    let expected = format!("{} rule files found", support::alert_rule_files().len());
    assert!(
        String::from_utf8_lossy(&output.stdout).contains(&expected),
        "promtool did not find every rule file of alerts/ ({expected}):\n{}",
        String::from_utf8_lossy(&output.stdout)
    );
}

#[test]
fn grafana_provisioning_points_at_the_stack() {
    let compose = compose();
    let services = compose["services"].as_object().expect("services");
    let grafana = &services["grafana"];
    let mounts = bind_mounts(grafana);

    // The data source is the stack's Prometheus on its container port.
    let datasources =
        yaml_file(&compose_dir().join("grafana/provisioning/datasources/prometheus.yaml"));
    let url = str_at(&datasources, "/datasources/0/url", "datasources");
    assert_eq!(url, "http://prometheus:9090");
    assert!(services.contains_key("prometheus"));
    assert!(
        command(&services["prometheus"])
            .iter()
            .all(|a| !a.starts_with("--web.listen-address"))
    );

    // The dashboards provider reads the folder where dashboards/ is mounted.
    let providers =
        yaml_file(&compose_dir().join("grafana/provisioning/dashboards/batchprobe.yaml"));
    let path = str_at(
        &providers,
        "/providers/0/options/path",
        "dashboard providers",
    );
    let (host, _) = mounts
        .iter()
        .find(|(_, target)| target == path)
        .unwrap_or_else(|| panic!("nothing is mounted at the provider's path {path}"));
    assert!(
        host.ends_with("dashboards"),
        "{} is mounted at {path}",
        host.display()
    );
    assert!(
        mounts
            .iter()
            .any(|(host, target)| host.ends_with("grafana/provisioning")
                && target == "/etc/grafana/provisioning"),
        "grafana does not mount the provisioning folder"
    );
}
