//! The alerting files of alerts/ checked by the real Prometheus and Alertmanager tools:
//! `promtool check rules`, the `promtool test rules` unit tests of alerts/tests/,
//! `amtool check-config` of the example Alertmanager config and the routing cases of
//! alerts/test-routes.sh.
//!
//! Needs `promtool` (Debian package prometheus) and `amtool` (Debian package
//! prometheus-alertmanager); a missing tool fails the test with the command that installs it.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// The rule files, recording rules first because the alerts read them.
const RULE_FILES: [&str; 2] = [
    "alerts/batchprobe.rules.yml",
    "alerts/batchprobe.alerts.yml",
];

fn repo_path(relative: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(relative)
}

/// The full path of `tool` on PATH; panics with the install command when it is missing.
fn require_tool(tool: &str, install: &str) -> PathBuf {
    let path = std::env::var_os("PATH").unwrap_or_default();

    std::env::split_paths(&path)
        .map(|dir| dir.join(tool))
        .find(|candidate| candidate.is_file())
        .unwrap_or_else(|| panic!("`{tool}` is not on PATH; install it with: {install}"))
}

fn run(command: &mut Command) -> Output {
    command
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .unwrap_or_else(|err| panic!("failed to start {command:?}: {err}"))
}

fn assert_success(output: &Output, what: &str) {
    assert!(
        output.status.success(),
        "{what} failed with {}\n--- stdout\n{}\n--- stderr\n{}",
        output.status,
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr),
    );
}

/// Every promtool unit test file of alerts/tests/, sorted.
fn unit_test_files() -> Vec<PathBuf> {
    let dir = repo_path("alerts/tests");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap_or_else(|err| panic!("cannot list {}: {err}", dir.display()))
        .map(|entry| entry.expect("directory entry").path())
        .filter(|path| path.extension().is_some_and(|ext| ext == "yml"))
        .collect();
    files.sort();
    files
}

#[test]
fn promtool_accepts_the_rule_files() {
    let promtool = require_tool("promtool", "apt-get install -y prometheus");

    let output = run(Command::new(promtool)
        .args(["check", "rules"])
        .args(RULE_FILES));

    assert_success(&output, "promtool check rules");
    let report = String::from_utf8_lossy(&output.stdout);
    assert_eq!(
        report.matches("SUCCESS").count(),
        RULE_FILES.len(),
        "{report}"
    );
}

#[test]
fn promtool_unit_tests_pass() {
    let promtool = require_tool("promtool", "apt-get install -y prometheus");
    let files = unit_test_files();
    assert!(
        files.len() >= 8,
        "expected the scenario files in alerts/tests, found {files:?}"
    );

    let output = run(Command::new(promtool).args(["test", "rules"]).args(&files));

    assert_success(&output, "promtool test rules alerts/tests/*.yml");
    let report = String::from_utf8_lossy(&output.stdout);
    assert_eq!(report.matches("SUCCESS").count(), files.len(), "{report}");
}

#[test]
fn amtool_accepts_the_example_alertmanager_config() {
    let amtool = require_tool("amtool", "apt-get install -y prometheus-alertmanager");

    let output = run(Command::new(amtool)
        .arg("check-config")
        .arg(repo_path("alerts/alertmanager.example.yml")));

    assert_success(
        &output,
        "amtool check-config alerts/alertmanager.example.yml",
    );
    let report = String::from_utf8_lossy(&output.stdout);
    assert!(
        report.contains("2 inhibit rules"),
        "both inhibit rules should load:\n{report}"
    );
}

#[test]
fn every_route_case_lands_on_its_receiver() {
    require_tool("amtool", "apt-get install -y prometheus-alertmanager");

    let output = run(Command::new("bash").arg(repo_path("alerts/test-routes.sh")));

    assert_success(&output, "alerts/test-routes.sh");
    let report = String::from_utf8_lossy(&output.stdout);
    assert!(report.contains(" 0 failed"), "{report}");
}

#[test]
fn route_script_reports_a_misrouted_alert() {
    require_tool("amtool", "apt-get install -y prometheus-alertmanager");
    let config = std::fs::read_to_string(repo_path("alerts/alertmanager.example.yml"))
        .expect("read the example Alertmanager config");

    // Send the pages to the ticket queue: the script must notice and fail.
    let broken = config.replace(
        "- receiver: batchprobe-page",
        "- receiver: batchprobe-ticket",
    );
    assert_ne!(
        broken, config,
        "the page route should exist in the example config"
    );
    let dir = tempfile::tempdir().expect("temp dir");
    let broken_path = dir.path().join("alertmanager.yml");
    std::fs::write(&broken_path, broken).expect("write the broken config");

    let output = run(Command::new("bash")
        .arg(repo_path("alerts/test-routes.sh"))
        .arg(&broken_path));

    assert!(
        !output.status.success(),
        "a misrouted page must fail the route script"
    );
    assert!(String::from_utf8_lossy(&output.stderr).contains("MISMATCH"));
}
