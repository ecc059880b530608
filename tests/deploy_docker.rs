//! The container image recipe of deploy/docker/: the Dockerfile parses with BuildKit's own
//! parser (through the Python package `dockerfile`), builds with `--locked` in a Rust builder
//! stage, runs as a non-root user that matches the Kubernetes pod's, exposes the port the
//! other deployments use, has no HEALTHCHECK, and keeps build output out of its context.
//!
//! No Docker engine runs here, so the image itself is not built by the tests.

#[allow(
    dead_code,
    reason = "each deploy test uses a different part of the helpers"
)]
#[path = "deploy_support/support.rs"]
mod support;

use std::process::Command;

use serde_json::Value;

use support::{assert_success, repo_path, run};

/// The probe's port in every deployment.
const PORT: &str = "9464";

/// The Dockerfile's instructions as BuildKit parses them.
fn instructions() -> Vec<Value> {
    support::require_python_module("dockerfile", "dockerfile==3.4.0");
    let script = "import dockerfile, json, sys\n\
                  print(json.dumps([c._asdict() for c in dockerfile.parse_file(sys.argv[1])]))";

    let output = run(Command::new(support::python())
        .args(["-c", script])
        .arg(repo_path("deploy/docker/Dockerfile")));

    assert_success(&output, "parsing deploy/docker/Dockerfile");
    serde_json::from_slice(&output.stdout).expect("the parser prints JSON")
}

fn values(instruction: &Value) -> Vec<&str> {
    instruction["value"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap())
        .collect()
}

#[test]
fn builder_stage_builds_the_locked_release_binary() {
    let instructions = instructions();

    let from = values(&instructions[0]);
    assert_eq!(from[0], "rust:1-bookworm", "builder base image");
    let build = instructions
        .iter()
        .filter(|i| i["cmd"] == "RUN")
        .flat_map(values)
        .find(|run| run.contains("cargo build"))
        .expect("a RUN with cargo build");
    assert!(
        build.contains("--release") && build.contains("--locked"),
        "{build}"
    );
}

#[test]
fn runtime_stage_is_non_root_without_healthcheck() {
    let instructions = instructions();
    let last_from = instructions
        .iter()
        .rposition(|i| i["cmd"] == "FROM")
        .unwrap();
    assert!(last_from > 0, "the Dockerfile has a separate runtime stage");
    let runtime = &instructions[last_from..];
    let find = |cmd: &str| runtime.iter().rfind(|i| i["cmd"] == cmd);

    // No HEALTHCHECK anywhere: orchestrators probe /healthz themselves.
    assert!(instructions.iter().all(|i| i["cmd"] != "HEALTHCHECK"));

    // A numeric non-root user, the same uid the Kubernetes pod runs as.
    let user = values(find("USER").expect("USER in the runtime stage"))[0];
    let uid = user.split(':').next().unwrap();
    assert!(
        uid.parse::<u32>().is_ok_and(|uid| uid != 0),
        "USER {user} is not a non-root uid"
    );
    let deployment =
        std::fs::read_to_string(repo_path("deploy/kubernetes/base/deployment.yaml")).unwrap();
    assert!(
        deployment.contains(&format!("runAsUser: {uid}")),
        "pod uid differs from {uid}"
    );

    // The port, exposed and listened on.
    assert_eq!(values(find("EXPOSE").expect("EXPOSE")), [PORT]);
    let entrypoint = find("ENTRYPOINT").expect("ENTRYPOINT");
    assert_eq!(
        entrypoint["json"], true,
        "exec-form ENTRYPOINT, so signals reach the probe"
    );
    assert!(values(entrypoint)[0].ends_with("/batchprobe"));
    let cmd = values(find("CMD").expect("CMD"));
    assert_eq!(cmd[0], "run");
    assert!(cmd.contains(&format!("0.0.0.0:{PORT}").as_str()), "{cmd:?}");
}

#[test]
fn build_context_leaves_local_state_out() {
    let ignore = std::fs::read_to_string(repo_path("deploy/docker/Dockerfile.dockerignore"))
        .expect("deploy/docker/Dockerfile.dockerignore");
    let patterns: Vec<&str> = ignore.lines().filter(|l| !l.starts_with('#')).collect();

    for needed_out in ["target", ".git"] {
        assert!(
            patterns.contains(&needed_out),
            "{needed_out} is not ignored"
        );
    }
    for needed_in in ["src", "Cargo.toml", "Cargo.lock"] {
        assert!(
            !patterns.contains(&needed_in),
            "{needed_in} must stay in the context"
        );
    }
}

#[test]
fn lock_file_satisfies_the_manifest_for_a_locked_build() {
    // `cargo build --locked` in the image fails when Cargo.lock lags behind Cargo.toml. Cargo
    // resolves with the same flag here, offline; the host filter keeps it from wanting the
    // sources of other platforms' dependencies.
    let output = run(Command::new(env!("CARGO"))
        .args(["metadata", "--locked", "--offline", "--format-version", "1"])
        .args(["--filter-platform", "host-tuple", "--manifest-path"])
        .arg(repo_path("Cargo.toml")));

    assert_success(
        &output,
        "cargo metadata --locked (what the Dockerfile's build needs)",
    );
}
