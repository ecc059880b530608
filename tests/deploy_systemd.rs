//! The systemd unit of deploy/systemd/: `systemd-analyze verify` accepts it without a warning,
//! `systemd-analyze security` rates its sandbox as exposed no more than a set level, and the
//! credential it loads is the file the example config reads the key from.
//!
//! Needs `systemd-analyze` (Debian package systemd), which runs here without systemd as PID 1.

#[allow(
    dead_code,
    reason = "each deploy test uses a different part of the helpers"
)]
#[path = "deploy_support/support.rs"]
mod support;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use support::{assert_success, repo_path, run, str_at};

const UNIT: &str = "batchprobe.service";

/// The highest exposure `systemd-analyze security` may report, in its tenths: 2.0 is the top
/// of its "OK" band.
const MAX_EXPOSURE: &str = "20";

fn systemd_analyze() -> PathBuf {
    support::require_tool("systemd-analyze", "apt-get install -y systemd")
}

fn unit_text() -> String {
    std::fs::read_to_string(repo_path("deploy/systemd").join(UNIT)).unwrap()
}

/// Writes `text` as batchprobe.service into `dir`, with ExecStart pointing at the binary that
/// cargo built, since verify checks that the program exists.
fn install_unit(dir: &Path, text: &str) -> PathBuf {
    let binary = env!("CARGO_BIN_EXE_batchprobe");
    let text = text.replace("/usr/local/bin/batchprobe", binary);
    assert!(
        text.contains(binary),
        "ExecStart does not run /usr/local/bin/batchprobe"
    );
    let path = dir.join(UNIT);
    std::fs::write(&path, text).unwrap();
    path
}

fn verify(unit: &Path) -> Output {
    run(Command::new(systemd_analyze()).arg("verify").arg(unit))
}

/// verify exits 0 on unknown keys and bad values; they only show up as lines naming the unit.
fn unit_warnings(output: &Output) -> Vec<String> {
    String::from_utf8_lossy(&output.stderr)
        .lines()
        .chain(String::from_utf8_lossy(&output.stdout).lines())
        .filter(|line| line.contains(UNIT))
        .map(str::to_string)
        .collect()
}

#[test]
fn unit_verifies_without_warnings() {
    let scratch = tempfile::tempdir().unwrap();
    let unit = install_unit(scratch.path(), &unit_text());

    let output = verify(&unit);

    assert_success(&output, "systemd-analyze verify");
    assert_eq!(
        unit_warnings(&output),
        Vec::<String>::new(),
        "systemd-analyze verify warned"
    );
}

#[test]
fn verify_reports_a_misspelt_directive() {
    // The check above must notice a directive systemd ignores, or it proves nothing.
    let text = unit_text().replace("ProtectSystem=strict", "ProtectSytem=strict");
    let scratch = tempfile::tempdir().unwrap();
    let unit = install_unit(scratch.path(), &text);

    let warnings = unit_warnings(&verify(&unit));

    assert!(
        warnings.iter().any(|w| w.contains("ProtectSytem")),
        "{warnings:?}"
    );
}

#[test]
fn sandbox_exposure_stays_in_the_ok_band() {
    let scratch = tempfile::tempdir().unwrap();
    let unit = install_unit(scratch.path(), &unit_text());

    let output = run(Command::new(systemd_analyze())
        .args(["security", "--offline=yes", "--no-pager"])
        .arg(format!("--threshold={MAX_EXPOSURE}"))
        .arg(&unit));

    assert_success(&output, "systemd-analyze security --offline");
    let report = String::from_utf8_lossy(&output.stdout);
    let overall = report
        .lines()
        .find(|l| l.contains("Overall exposure level"))
        .unwrap_or("");
    println!("{overall}");
}

#[test]
fn the_example_config_reads_the_loaded_credential() {
    let unit = unit_text();
    let credential = unit
        .lines()
        .find_map(|line| line.strip_prefix("LoadCredential="))
        .and_then(|value| value.split_once(':'))
        .map(|(name, _)| name)
        .expect("the unit loads a credential");

    let config_path = repo_path("deploy/systemd/config.yaml");
    let config = support::yaml_file(&config_path);
    let key_file = str_at(
        &config,
        "/targets/0/api_key/file",
        "deploy/systemd/config.yaml",
    );
    assert_eq!(key_file, format!("/run/credentials/{UNIT}/{credential}"));

    let text = std::fs::read_to_string(&config_path).unwrap();
    support::check_batchprobe_config(&text, "deploy/systemd/config.yaml");
    assert!(unit.contains("--config /etc/batchprobe/config.yaml"));
}
