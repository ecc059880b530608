//! Helpers shared by the simulator's integration tests: start a simulator on loopback port 0
//! from inline scenario YAML, and build an HTTP client. Included with `#[path]` by the
//! `simulator_*` tests; compiled on its own it holds no tests.

#![allow(dead_code)]

use std::time::Duration;

use batchprobe::secret::ApiKey;
use batchprobe::simulator::{self, RunningSimulator, Scenario, SimulatorOptions};

/// The key every test client sends.
pub const KEY: &str = "sim-test-key";

/// Seven jobs like the built-in scenarios', and no faults: the base of most test scenarios.
pub const JOBS: &str = "
jobs:
  - {id: seed-10-a, requests: 10}
  - {id: seed-10-b, requests: 10}
  - {id: seed-100-a, requests: 100}
  - {id: seed-100-b, requests: 100}
  - {id: seed-500-a, requests: 500}
  - {id: seed-500-b, requests: 500}
  - {id: seed-100-file, requests: 100, output: file}
";

/// Starts a simulator with one listener per region on 127.0.0.1:0.
pub async fn start(yaml: &str, regions: &[&str], api_key: Option<&str>) -> RunningSimulator {
    let scenario = Scenario::parse(yaml, "test scenario").expect("test scenario parses");
    start_scenario(scenario, regions, api_key).await
}

/// Starts a simulator for a parsed scenario, one listener per region on 127.0.0.1:0.
pub async fn start_scenario(
    scenario: Scenario,
    regions: &[&str],
    api_key: Option<&str>,
) -> RunningSimulator {
    let listeners = regions
        .iter()
        .map(|region| (region.to_string(), "127.0.0.1:0".parse().unwrap()))
        .collect();

    simulator::start(SimulatorOptions {
        listeners,
        scenario,
        api_key: api_key.map(ApiKey::new),
    })
    .await
    .expect("simulator starts")
}

/// A client with a bounded timeout and no connection reuse, so one test's broken connection
/// cannot leak into the next request.
pub fn client() -> reqwest::Client {
    client_with_timeout(Duration::from_secs(20))
}

/// A client whose requests give up after `timeout`.
pub fn client_with_timeout(timeout: Duration) -> reqwest::Client {
    // reqwest is built without a default TLS provider; plain HTTP still needs one installed.
    let _ = rustls::crypto::ring::default_provider().install_default();
    reqwest::Client::builder()
        .timeout(timeout)
        .pool_max_idle_per_host(0)
        .build()
        .expect("client builds")
}

/// `GET base + path` with the test key.
pub async fn get(sim: &RunningSimulator, region: &str, path: &str) -> reqwest::Response {
    let url = format!("{}{path}", sim.base_url(region).unwrap());
    client()
        .get(url)
        .header("x-goog-api-key", KEY)
        .send()
        .await
        .expect("request succeeds")
}

/// The status and the JSON body of `GET base + path`.
pub async fn get_json(
    sim: &RunningSimulator,
    region: &str,
    path: &str,
) -> (u16, serde_json::Value) {
    let response = get(sim, region, path).await;
    let status = response.status().as_u16();
    let bytes = response.bytes().await.expect("body arrives");
    let body = serde_json::from_slice(&bytes).expect("body is JSON");
    (status, body)
}

/// Asserts Google's error body shape with this code and status name.
pub fn assert_google_error(body: &serde_json::Value, code: u16, status: &str) {
    assert_eq!(body["error"]["code"], code, "{body}");
    assert_eq!(body["error"]["status"], status, "{body}");
    assert!(
        body["error"]["message"]
            .as_str()
            .is_some_and(|m| !m.is_empty()),
        "{body}"
    );
    assert_eq!(body.as_object().unwrap().len(), 1, "{body}");
    assert_eq!(body["error"].as_object().unwrap().len(), 3, "{body}");
}
