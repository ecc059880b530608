//! The official google-genai Python SDK against the simulator: proof that the fake is faithful
//! enough for the real client to create, get, list, cancel and delete batch jobs.
//!
//! Needs a Python with `google-genai` installed: `BATCHPROBE_PYTHON`, or else `.venv/bin/python`
//! in the repository root (scripts/test.sh creates it). Without one the test fails and says so.

#[path = "simulator_support.rs"]
mod support;

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use support::{JOBS, KEY, start};

/// How long the script may run before the test gives up on it.
const SCRIPT_LIMIT: Duration = Duration::from_secs(120);

fn python() -> PathBuf {
    let python = std::env::var_os("BATCHPROBE_PYTHON").map_or_else(
        || Path::new(env!("CARGO_MANIFEST_DIR")).join(".venv/bin/python"),
        PathBuf::from,
    );
    let import = std::process::Command::new(&python)
        .args(["-c", "import google.genai"])
        .output();
    match import {
        Ok(output) if output.status.success() => python,
        Ok(output) => panic!(
            "{} cannot import google.genai ({}): run scripts/test.sh, which installs the \
             google-genai SDK into .venv, or point BATCHPROBE_PYTHON at a Python that has it",
            python.display(),
            String::from_utf8_lossy(&output.stderr).trim()
        ),
        Err(err) => panic!(
            "no Python at {} ({err}): run scripts/test.sh, which creates .venv with the \
             google-genai SDK, or set BATCHPROBE_PYTHON",
            python.display()
        ),
    }
}

#[tokio::test]
async fn official_sdk_creates_gets_lists_cancels_and_deletes() {
    let python = python();
    let yaml =
        format!("time_scale: 1\ncreated_jobs: {{pending_for: 300ms, running_for: 300ms}}\n{JOBS}");
    let sim = start(&yaml, &["default"], Some(KEY)).await;
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/sdk/genai_batch.py");

    let child = tokio::process::Command::new(&python)
        .arg(&script)
        .env("BATCHPROBE_SIM_BASE_URL", sim.base_url("default").unwrap())
        .env("BATCHPROBE_SIM_API_KEY", KEY)
        .env_remove("GOOGLE_API_KEY")
        .env_remove("GEMINI_API_KEY")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .expect("the SDK script starts");
    let output = tokio::time::timeout(SCRIPT_LIMIT, child.wait_with_output())
        .await
        .expect("the SDK script finishes in time")
        .expect("the SDK script runs");
    sim.shutdown().await;

    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    println!("{stdout}");
    assert!(
        output.status.success(),
        "SDK script failed:\n{stdout}\n{stderr}"
    );
    assert!(stdout.contains("checks passed"), "{stdout}");
}
