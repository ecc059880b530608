//! The example Prometheus configs of deploy/prometheus/: promtool accepts the central server's
//! config, finds every rule file of alerts/ through its rule_files and accepts them, and
//! accepts the regional agent's config in agent mode.
//!
//! Needs `promtool` (Debian package prometheus).

#[allow(
    dead_code,
    reason = "each deploy test uses a different part of the helpers"
)]
#[path = "deploy_support/support.rs"]
mod support;

use std::process::Command;

use support::{assert_success, repo_path, run};

#[test]
fn central_config_loads_every_rule_file_of_alerts() {
    let promtool = support::require_tool("promtool", "apt-get install -y prometheus");

    let output = run(Command::new(promtool)
        .args(["check", "config"])
        .arg(repo_path("deploy/prometheus/prometheus.yml")));

    assert_success(
        &output,
        "promtool check config deploy/prometheus/prometheus.yml",
    );
    let report = String::from_utf8_lossy(&output.stdout);
    for (file, _) in support::alert_rule_files() {
        assert!(
            report.contains(&format!("alerts/{file}")),
            "{file} not loaded:\n{report}"
        );
    }
}

#[test]
fn regional_agent_config_is_valid_in_agent_mode() {
    let promtool = support::require_tool("promtool", "apt-get install -y prometheus");
    let agent = repo_path("deploy/prometheus/agent.yml");

    let output = run(Command::new(promtool)
        .args(["check", "config", "--agent"])
        .arg(&agent));
    assert_success(
        &output,
        "promtool check config --agent deploy/prometheus/agent.yml",
    );

    // The agent's part in the multi-region setup: it names itself with an external label and
    // forwards everything; rules and alerts belong to the central server.
    let config = support::yaml_file(&agent);
    assert!(config.get("rule_files").is_none() && config.get("alerting").is_none());
    assert!(
        config["global"]["external_labels"]
            .as_object()
            .is_some_and(|l| !l.is_empty())
    );
    assert!(
        config["remote_write"]
            .as_array()
            .is_some_and(|w| !w.is_empty())
    );

    // The rules match series by (instance, job) across regions: a loopback address as the
    // instance would be the same in every region's agent.
    for job in config["scrape_configs"].as_array().unwrap() {
        for static_config in job["static_configs"].as_array().unwrap() {
            let instance = static_config["labels"]["instance"].as_str().unwrap_or("");
            assert!(
                !instance.is_empty(),
                "agent target without its own instance label"
            );
        }
    }
}
