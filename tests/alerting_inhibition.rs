//! The inhibition rules of alerts/alertmanager.example.yml, checked by a real Alertmanager on
//! 127.0.0.1: a widespread page silences the per-bucket and regional tickets of the same slice
//! family and nothing else; an own-side ticket silences the provider tickets of the same probe
//! instance and nothing else.
//!
//! Needs the Alertmanager binary (`prometheus-alertmanager`, Debian package
//! prometheus-alertmanager; or `alertmanager`).

mod support;

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use serde_json::{Value, json};

/// Stops the Alertmanager when the test ends, whether it passed or panicked.
struct Alertmanager {
    child: Child,
    port: u16,
    _storage: tempfile::TempDir,
}

impl Drop for Alertmanager {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A port that was free a moment ago on 127.0.0.1.
fn free_port() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1:0");
    listener.local_addr().expect("local address").port()
}

/// One HTTP/1.0 request to 127.0.0.1:port (so the answer comes unchunked, ended by the closed
/// connection); returns the status code and the body.
fn http(port: u16, method: &str, path: &str, body: Option<&Value>) -> (u16, String) {
    let mut stream = TcpStream::connect(("127.0.0.1", port)).expect("connect to Alertmanager");
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .expect("read timeout");
    let body = body.map(Value::to_string).unwrap_or_default();

    let request = format!(
        "{method} {path} HTTP/1.0\r\nHost: 127.0.0.1:{port}\r\nContent-Type: application/json\r\n\
         Content-Length: {}\r\n\r\n{body}",
        body.len()
    );
    stream
        .write_all(request.as_bytes())
        .expect("send the request");
    let mut response = String::new();
    stream
        .read_to_string(&mut response)
        .expect("read the response");

    let status = response
        .split(' ')
        .nth(1)
        .and_then(|code| code.parse().ok())
        .unwrap_or_else(|| panic!("not an HTTP response: {response}"));
    let body = response.split_once("\r\n\r\n").map_or("", |(_, body)| body);
    (status, body.trim().to_string())
}

fn start(config: &Path) -> Alertmanager {
    let storage = tempfile::tempdir().expect("storage dir");
    let port = free_port();

    let child = Command::new(support::alertmanager_binary())
        .arg(format!("--config.file={}", config.display()))
        .arg(format!("--storage.path={}", storage.path().display()))
        .arg(format!("--web.listen-address=127.0.0.1:{port}"))
        // No cluster: a lone Alertmanager on loopback.
        .arg("--cluster.listen-address=")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("start Alertmanager");
    let alertmanager = Alertmanager {
        child,
        port,
        _storage: storage,
    };

    // Wait for readiness, at most 30 s.
    for _ in 0..300 {
        let ready = TcpStream::connect(("127.0.0.1", port)).is_ok()
            && http(port, "GET", "/-/ready", None).0 == 200;
        if ready {
            return alertmanager;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    panic!("Alertmanager on 127.0.0.1:{port} did not become ready within 30 s");
}

fn alert(labels: Value) -> Value {
    json!({ "labels": labels, "annotations": { "summary": "test" } })
}

/// The state of every alert Alertmanager holds, by its `test_id` label.
fn states(port: u16) -> Vec<(String, String)> {
    let (status, body) = http(port, "GET", "/api/v2/alerts", None);
    assert_eq!(status, 200, "GET /api/v2/alerts: {body}");
    let alerts: Value = serde_json::from_str(&body).expect("the alert list is JSON");

    let mut out: Vec<(String, String)> = alerts
        .as_array()
        .expect("a list")
        .iter()
        .map(|a| {
            let id = a["labels"]["test_id"]
                .as_str()
                .unwrap_or_default()
                .to_string();
            let inhibited = a["status"]["inhibitedBy"]
                .as_array()
                .is_some_and(|by| !by.is_empty());
            (
                id,
                if inhibited { "inhibited" } else { "active" }.to_string(),
            )
        })
        .collect();
    out.sort();
    out
}

#[test]
fn inhibition_silences_exactly_what_the_source_alert_explains() {
    let example = Path::new(env!("CARGO_MANIFEST_DIR")).join("alerts/alertmanager.example.yml");
    let alertmanager = start(&example);

    let family = json!({
        "provider": "gemini", "operation": "get", "api_version": "v1beta", "batch_size": "11-100"
    });
    let with = |extra: Value| {
        let mut labels = family.clone();
        labels
            .as_object_mut()
            .unwrap()
            .extend(extra.as_object().unwrap().clone());
        alert(labels)
    };
    let alerts = json!([
        // The seed outage's page and the per-bucket ticket it explains.
        with(
            json!({"test_id": "1-widespread", "alertname": "BatchprobeWidespreadFailure",
                    "severity": "page", "scope": "widespread"})
        ),
        with(
            json!({"test_id": "2-bucket-same-family", "alertname": "BatchprobeBatchSizeFailure",
                    "severity": "ticket", "scope": "batch_size", "region": "eu",
                    "instance": "probe-eu:9464"})
        ),
        with(json!({"test_id": "3-slow-burn-same-family",
                    "alertname": "BatchprobeErrorBudgetBurnSlow", "severity": "ticket",
                    "scope": "error_budget"})),
        // Another bucket: not explained by the page.
        alert(
            json!({"test_id": "4-bucket-other-family", "alertname": "BatchprobeBatchSizeFailure",
                     "severity": "ticket", "scope": "batch_size", "provider": "gemini",
                     "operation": "get", "api_version": "v1beta", "batch_size": "501+",
                     "region": "eu", "instance": "probe-eu:9464"})
        ),
        // asia's own network is broken: its regional ticket is explained, us's is not.
        alert(
            json!({"test_id": "5-own-side", "alertname": "BatchprobeOwnSideFailure",
                     "severity": "ticket", "scope": "probe_local",
                     "instance": "probe-asia:9464"})
        ),
        alert(
            json!({"test_id": "6-regional-same-probe", "alertname": "BatchprobeRegionalFailure",
                     "severity": "ticket", "scope": "regional", "provider": "gemini",
                     "operation": "models", "api_version": "v1beta", "batch_size": "none",
                     "region": "asia", "instance": "probe-asia:9464"})
        ),
        alert(
            json!({"test_id": "7-regional-other-probe", "alertname": "BatchprobeRegionalFailure",
                     "severity": "ticket", "scope": "regional", "provider": "gemini",
                     "operation": "models", "api_version": "v1beta", "batch_size": "none",
                     "region": "us", "instance": "probe-us:9464"})
        ),
    ]);

    let (status, body) = http(alertmanager.port, "POST", "/api/v2/alerts", Some(&alerts));
    assert_eq!(status, 200, "POST /api/v2/alerts: {body}");

    let expected: Vec<(String, String)> = [
        ("1-widespread", "active"),
        ("2-bucket-same-family", "inhibited"),
        ("3-slow-burn-same-family", "inhibited"),
        ("4-bucket-other-family", "active"),
        ("5-own-side", "active"),
        ("6-regional-same-probe", "inhibited"),
        ("7-regional-other-probe", "active"),
    ]
    .iter()
    .map(|(id, state)| (id.to_string(), state.to_string()))
    .collect();
    assert_eq!(states(alertmanager.port), expected);
}
