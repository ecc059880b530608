//! Helpers shared by the `deploy_*` tests: where the repository is, running outside tools with
//! a time limit and a clear message when one is missing, and reading YAML as JSON values.
//!
//! The tests install nothing. Each tool they need is named, with its install command, in the
//! panic message of the test that misses it (and in docs/deploy.md).

use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Output, Stdio};
use std::time::{Duration, Instant};

use serde::Deserialize;
use serde_json::Value;

/// The longest any one outside tool may run before the test gives up on it.
pub const TOOL_TIMEOUT: Duration = Duration::from_secs(120);

/// The repository's root folder.
pub fn repo_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// A path below the repository's root.
pub fn repo_path(relative: &str) -> PathBuf {
    repo_root().join(relative)
}

/// Finds `name` on `PATH`, or fails the test saying how to install it.
pub fn require_tool(name: &str, install: &str) -> PathBuf {
    let found = std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths)
            .map(|dir| dir.join(name))
            .find(|candidate| candidate.is_file())
    });

    found.unwrap_or_else(|| panic!("`{name}` is not on PATH; install it with: {install}"))
}

/// The Python interpreter the Python-based checkers run under: `$BATCHPROBE_PYTHON`, or
/// `python3` on `PATH`.
pub fn python() -> PathBuf {
    match std::env::var_os("BATCHPROBE_PYTHON") {
        Some(python) => PathBuf::from(python),
        None => require_tool("python3", "apt-get install -y python3"),
    }
}

/// Fails the test unless `python -c "import {module}"` works, naming the pip package.
pub fn require_python_module(module: &str, pip_package: &str) {
    let output = run(Command::new(python()).args(["-c", &format!("import {module}")]));

    assert!(
        output.status.success(),
        "the Python module `{module}` is missing for {}; install it with: \
         python3 -m pip install {pip_package}\n{}",
        python().display(),
        String::from_utf8_lossy(&output.stderr)
    );
}

/// Runs a command to its end with [`TOOL_TIMEOUT`], capturing stdout and stderr.
pub fn run(command: &mut Command) -> Output {
    run_with_stdin(command, None)
}

/// Like [`run`], with `stdin` written to the command's standard input.
pub fn run_with_stdin(command: &mut Command, stdin: Option<&[u8]>) -> Output {
    let description = format!("{command:?}");
    command
        .stdin(if stdin.is_some() {
            Stdio::piped()
        } else {
            Stdio::null()
        })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = command
        .spawn()
        .unwrap_or_else(|err| panic!("cannot start {description}: {err}"));

    // Feed stdin and drain both pipes on threads, so that a full pipe never blocks the child.
    if let Some(bytes) = stdin {
        let mut pipe = child.stdin.take().expect("stdin is piped");
        let bytes = bytes.to_vec();
        std::thread::spawn(move || std::io::Write::write_all(&mut pipe, &bytes));
    }
    let stdout = drain(child.stdout.take().expect("stdout is piped"));
    let stderr = drain(child.stderr.take().expect("stderr is piped"));

    let status = wait_bounded(&mut child, &description);

    Output {
        status,
        stdout: stdout.join().expect("stdout reader"),
        stderr: stderr.join().expect("stderr reader"),
    }
}

fn drain(mut pipe: impl Read + Send + 'static) -> std::thread::JoinHandle<Vec<u8>> {
    std::thread::spawn(move || {
        let mut bytes = Vec::new();
        let _ = pipe.read_to_end(&mut bytes);
        bytes
    })
}

fn wait_bounded(child: &mut Child, description: &str) -> ExitStatus {
    let deadline = Instant::now() + TOOL_TIMEOUT;
    loop {
        if let Some(status) = child.try_wait().expect("wait for child") {
            return status;
        }
        if Instant::now() >= deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!("{description} did not finish within {TOOL_TIMEOUT:?}");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Fails the test with the command's output unless it exited with success.
pub fn assert_success(output: &Output, what: &str) {
    assert!(
        output.status.success(),
        "{what} failed ({}):\n--- stdout\n{}\n--- stderr\n{}",
        output.status,
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
}

/// Every document of a YAML stream, as JSON values; empty documents are dropped and YAML
/// merge keys (`<<: *anchor`) are resolved.
pub fn yaml_documents(text: &str, source: &str) -> Vec<Value> {
    serde_norway::Deserializer::from_str(text)
        .map(|document| {
            let mut value = serde_norway::Value::deserialize(document)
                .unwrap_or_else(|err| panic!("{source} is not valid YAML: {err}"));
            value
                .apply_merge()
                .unwrap_or_else(|err| panic!("{source}: bad merge key: {err}"));
            serde_json::to_value(value)
                .unwrap_or_else(|err| panic!("{source} does not map to JSON: {err}"))
        })
        .filter(|value| !value.is_null())
        .collect()
}

/// A single-document YAML file as a JSON value.
pub fn yaml_file(path: &Path) -> Value {
    let text = std::fs::read_to_string(path)
        .unwrap_or_else(|err| panic!("cannot read {}: {err}", path.display()));
    let mut documents = yaml_documents(&text, &path.display().to_string());

    assert_eq!(
        documents.len(),
        1,
        "{} should hold one YAML document",
        path.display()
    );
    documents.remove(0)
}

/// The string at a JSON pointer, or a failure naming what is missing.
pub fn str_at<'a>(value: &'a Value, pointer: &str, source: &str) -> &'a str {
    value
        .pointer(pointer)
        .and_then(Value::as_str)
        .unwrap_or_else(|| panic!("{source}: no string at {pointer}"))
}

/// The rule files of alerts/: the YAML files whose top-level key is `groups`, by file name.
pub fn alert_rule_files() -> Vec<(String, Value)> {
    let mut files: Vec<(String, Value)> = std::fs::read_dir(repo_path("alerts"))
        .expect("alerts/ exists")
        .map(|entry| entry.expect("read alerts/").path())
        .filter(|path| {
            matches!(
                path.extension().and_then(|e| e.to_str()),
                Some("yml" | "yaml")
            )
        })
        .map(|path| {
            let name = path.file_name().unwrap().to_string_lossy().into_owned();
            (name, yaml_file(&path))
        })
        .filter(|(_, value)| value.get("groups").is_some())
        .collect();

    files.sort_by(|a, b| a.0.cmp(&b.0));
    assert!(!files.is_empty(), "alerts/ holds no Prometheus rule file");
    files
}

/// Checks a batchprobe config file with the crate's own loader. Key sources are swapped for a
/// temporary key file first, since a deployment's key (an env var, a mounted secret, a systemd
/// credential) does not exist where the tests run. Returns the config's region.
pub fn check_batchprobe_config(text: &str, source: &str) -> String {
    let key_dir = tempfile::tempdir().expect("temp dir");
    let key_file = key_dir.path().join("key");
    std::fs::write(&key_file, "test-key\n").expect("write key");

    let mut config: serde_norway::Value = serde_norway::from_str(text)
        .unwrap_or_else(|err| panic!("{source} is not valid YAML: {err}"));
    let targets = config
        .get_mut("targets")
        .and_then(serde_norway::Value::as_sequence_mut)
        .unwrap_or_else(|| panic!("{source}: no targets list"));
    for target in targets {
        let key: serde_norway::Value =
            serde_norway::from_str(&format!("{{ file: {:?} }}", key_file.display().to_string()))
                .expect("key source");
        target["api_key"] = key;
    }
    let text = serde_norway::to_string(&config).expect("serialize config");

    let checked = batchprobe::config::parse(Path::new(source), &text)
        .unwrap_or_else(|err| panic!("{source} is not a valid batchprobe config: {err}"));
    checked.region
}
