//! Helpers shared by the integration tests that run the `batchprobe` binary: free loopback
//! ports, child processes that are killed when dropped, and waiting for a server to answer.

#![allow(dead_code)]

use std::net::{SocketAddr, TcpListener};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// A free port on 127.0.0.1: bound, read, released.
pub fn free_addr() -> SocketAddr {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
}

/// A child process killed on drop, its output captured to files.
pub struct Process {
    pub child: Child,
    pub stdout: std::path::PathBuf,
    pub stderr: std::path::PathBuf,
}

impl Process {
    /// Starts `command` with its output in files `{name}.stdout` and `{name}.stderr` under `dir`.
    pub fn spawn(command: &mut Command, dir: &Path, name: &str) -> Process {
        let stdout = dir.join(format!("{name}.stdout"));
        let stderr = dir.join(format!("{name}.stderr"));
        let child = command
            .stdin(Stdio::null())
            .stdout(std::fs::File::create(&stdout).unwrap())
            .stderr(std::fs::File::create(&stderr).unwrap())
            .spawn()
            .unwrap_or_else(|err| panic!("start {name}: {err}"));
        Process {
            child,
            stdout,
            stderr,
        }
    }

    /// Starts the `batchprobe` binary with `args`, output to files under `dir`.
    pub fn batchprobe(dir: &Path, name: &str, args: &[&str], env: &[(&str, &str)]) -> Process {
        let mut command = Command::new(env!("CARGO_BIN_EXE_batchprobe"));
        command.args(args).envs(env.iter().copied());
        Process::spawn(&mut command, dir, name)
    }

    /// Everything the process wrote so far.
    pub fn output(&self) -> String {
        let out = std::fs::read_to_string(&self.stdout).unwrap_or_default();
        let err = std::fs::read_to_string(&self.stderr).unwrap_or_default();
        format!("{out}{err}")
    }

    /// Sends a signal by number (e.g. 1 for SIGHUP).
    pub fn signal(&self, signal: i32) {
        let status = Command::new("kill")
            .arg(format!("-{signal}"))
            .arg(self.child.id().to_string())
            .status()
            .unwrap();
        assert!(status.success());
    }
}

impl Drop for Process {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// An HTTP client for tests (the crate's reqwest needs its crypto provider installed first).
pub fn client() -> reqwest::Client {
    batchprobe::probe::install_crypto_provider();
    reqwest::Client::new()
}

/// Starts `batchprobe run --config CONFIG` on a free loopback port with `env`, its output in
/// files named `name` under `dir`, and waits until its `/healthz` answers. Returns the process
/// and the server's address.
pub async fn run_probe(
    dir: &Path,
    name: &str,
    config: &Path,
    env: &[(&str, &str)],
) -> (Process, SocketAddr) {
    let addr = free_addr();
    let args = [
        "run",
        "--config",
        config.to_str().unwrap(),
        "--listen",
        &addr.to_string(),
    ];

    let probe = Process::batchprobe(dir, name, &args, env);
    wait_for_ok(&format!("http://{addr}/healthz"), Duration::from_secs(20)).await;
    (probe, addr)
}

/// Starts `batchprobe simulate` with one listener per region on free loopback ports, playing
/// `scenario`, and waits until every listener answers. Returns the process and the listeners'
/// addresses in region order.
pub async fn simulate(dir: &Path, regions: &[&str], scenario: &str) -> (Process, Vec<SocketAddr>) {
    let addrs: Vec<SocketAddr> = regions.iter().map(|_| free_addr()).collect();
    let mut args = vec!["simulate".to_string()];
    for (region, addr) in regions.iter().zip(&addrs) {
        args.extend(["--listen".to_string(), format!("{region}={addr}")]);
    }
    args.extend(["--scenario".to_string(), scenario.to_string()]);
    let args: Vec<&str> = args.iter().map(String::as_str).collect();

    let simulator = Process::batchprobe(dir, "simulate", &args, &[]);
    for addr in &addrs {
        wait_for_ok(
            &format!("http://{addr}/_simulator/faults"),
            Duration::from_secs(30),
        )
        .await;
    }
    (simulator, addrs)
}

/// Starts one `batchprobe run` per region, each against its region's simulator listener, with
/// the config `probe_config(region, listener, key_file)` and a key file holding `key`. Returns
/// the processes and the probes' addresses in region order.
pub async fn probe_per_region(
    dir: &Path,
    regions: &[&str],
    listeners: &[SocketAddr],
    key: &str,
    probe_config: impl Fn(&str, SocketAddr, &Path) -> String,
) -> (Vec<Process>, Vec<SocketAddr>) {
    let key_file = dir.join("api-key");
    std::fs::write(&key_file, key).expect("write the key file");

    let mut processes = Vec::new();
    let mut addrs = Vec::new();
    for (region, listener) in regions.iter().zip(listeners) {
        let config = dir.join(format!("probe-{region}.yml"));
        std::fs::write(&config, probe_config(region, *listener, &key_file)).unwrap();
        let name = format!("probe-{region}");
        let (probe, addr) = run_probe(dir, &name, &config, &[]).await;
        processes.push(probe);
        addrs.push(addr);
    }
    (processes, addrs)
}

/// A GET whose answer is JSON, bounded by a timeout; panics with the URL on any failure.
pub async fn get_json(url: reqwest::Url) -> serde_json::Value {
    let response = client()
        .get(url.clone())
        .timeout(Duration::from_secs(10))
        .send()
        .await
        .unwrap_or_else(|err| panic!("GET {url}: {err}"));
    let text = response
        .text()
        .await
        .unwrap_or_else(|err| panic!("GET {url}: {err}"));
    serde_json::from_str(&text).unwrap_or_else(|err| panic!("GET {url}: not JSON ({err}): {text}"))
}

/// An instant PromQL query against the Prometheus at `server`; panics when it refuses it.
pub async fn prometheus_query(server: SocketAddr, expr: &str) -> Vec<serde_json::Value> {
    let url = reqwest::Url::parse_with_params(
        &format!("http://{server}/api/v1/query"),
        &[("query", expr)],
    )
    .unwrap();
    let answer = get_json(url).await;
    assert_eq!(answer["status"], "success", "{expr}: {answer}");
    answer["data"]["result"]
        .as_array()
        .cloned()
        .unwrap_or_default()
}

/// The alerts the Prometheus at `server` holds, pending and firing.
pub async fn prometheus_alerts(server: SocketAddr) -> Vec<serde_json::Value> {
    let url = format!("http://{server}/api/v1/alerts");
    let answer = get_json(url.parse().unwrap()).await;
    answer["data"]["alerts"]
        .as_array()
        .cloned()
        .unwrap_or_default()
}

/// Polls `url` until it answers 200 or `limit` passes.
pub async fn wait_for_ok(url: &str, limit: Duration) {
    let client = client();
    let start = Instant::now();
    while start.elapsed() < limit {
        if let Ok(response) = client.get(url).send().await
            && response.status().is_success()
        {
            return;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("{url} did not answer within {limit:?}");
}

/// Polls `check` every 200 ms until it returns `Some` or `limit` passes.
pub async fn eventually<T, F, Fut>(limit: Duration, what: &str, mut check: F) -> T
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Option<T>>,
{
    let start = Instant::now();
    loop {
        if let Some(value) = check().await {
            return value;
        }
        assert!(start.elapsed() < limit, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// The last `lines` lines each process wrote, and the folder holding their whole output: the
/// tail of a failure message.
pub fn logs_tail(processes: &[Process], dir: &Path, lines: usize) -> String {
    let mut out = String::new();
    for process in processes {
        let output = process.output();
        let tail: Vec<&str> = output.lines().rev().take(lines).collect();
        let name = process.stdout.file_stem().unwrap().to_string_lossy();
        out.push_str(&format!("--- {name} (last lines)\n"));
        for line in tail.into_iter().rev() {
            out.push_str(line);
            out.push('\n');
        }
    }
    out.push_str(&format!("(files in {})\n", dir.display()));
    out
}

/// The Alertmanager binary: Debian names it `prometheus-alertmanager`, upstream `alertmanager`.
pub fn alertmanager_binary() -> std::path::PathBuf {
    let path = std::env::var_os("PATH").unwrap_or_default();
    ["prometheus-alertmanager", "alertmanager"]
        .iter()
        .flat_map(|name| std::env::split_paths(&path).map(move |dir| dir.join(name)))
        .find(|candidate| candidate.is_file())
        .expect(
            "no Alertmanager binary (prometheus-alertmanager or alertmanager) on PATH: run \
             scripts/install-test-deps.sh or apt-get install -y prometheus-alertmanager",
        )
}

/// Where a text refers to Grafana variables: `$name`, `${name}`, `${name:format}`,
/// `${__data.fields.x}` and `[[name]]`, each with the byte range of the whole reference and the
/// variable's name (the part before the first `.` or `:`).
pub fn grafana_references(text: &str) -> Vec<(std::ops::Range<usize>, String)> {
    let mut found = Vec::new();
    let mut at = 0;
    while let Some(pos) = text[at..].find(['$', '[']).map(|p| p + at) {
        let tail = &text[pos..];
        let (name, len) = if let Some(braced) = tail.strip_prefix("${") {
            let end = braced.find('}').unwrap_or(braced.len());
            (&braced[..end], end + 3)
        } else if let Some(bracketed) = tail.strip_prefix("[[") {
            let end = bracketed.find("]]").unwrap_or(bracketed.len());
            (&bracketed[..end], end + 4)
        } else if let Some(plain) = tail.strip_prefix('$') {
            let end = plain
                .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
                .unwrap_or(plain.len());
            (&plain[..end], end + 1)
        } else {
            ("", 1)
        };

        let name = name.split([':', '.']).next().unwrap_or_default();
        if !name.is_empty() {
            found.push((pos..(pos + len).min(text.len()), name.to_string()));
        }
        at = pos + len.max(1);
        if at >= text.len() {
            break;
        }
    }
    found
}

/// Runs a tool that the test suite needs; a missing tool fails the test with how to get it.
pub fn tool(name: &str) -> Command {
    let found = Command::new("sh")
        .arg("-c")
        .arg(format!("command -v {name}"))
        .output()
        .map(|o| o.status.success())
        .unwrap_or(false);
    assert!(
        found,
        "{name} is not installed: run scripts/install-test-deps.sh (or scripts/test.sh)"
    );
    Command::new(name)
}
