//! Every outcome class, produced against the simulator on loopback and classified by the real
//! HTTP prober.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use batchprobe::outcome::Outcome;
use batchprobe::probe::{BodyRead, DnsFailure, HttpProber};
use batchprobe::provider::Provider;
use batchprobe::provider::gemini::Gemini;
use batchprobe::secret::ApiKey;
use batchprobe::simulator::{self, RunningSimulator, Scenario, SimulatorOptions};
use batchprobe::slice::{Operation, SliceKey};

const JOBS: &str = "time_scale: 1.0\njobs:\n  - {id: small, requests: 10}\n  - {id: large, requests: 500, bytes_per_response: 4000}\n";

async fn simulator_with(faults: &str) -> RunningSimulator {
    let text = format!("{JOBS}faults:\n{faults}");
    let scenario = Scenario::parse(&text, "test").expect("test scenario parses");
    simulator::start(SimulatorOptions {
        listeners: vec![("test".to_string(), SocketAddr::from(([127, 0, 0, 1], 0)))],
        scenario,
        api_key: None,
    })
    .await
    .expect("simulator starts")
}

fn slice(operation: Operation) -> SliceKey {
    SliceKey {
        provider: "gemini".into(),
        operation,
        api_version: "v1beta".into(),
        region: "test".into(),
        batch_size: "101-500".into(),
    }
}

async fn probe_url(
    prober: &HttpProber,
    base_url: &str,
    operation: Operation,
    body_read: BodyRead,
) -> batchprobe::outcome::Observation {
    let provider = Gemini::new(base_url.parse().unwrap(), &ApiKey::new("test-key"));
    let request = provider.request(operation, "v1beta", Some("batches/large"));

    prober
        .send(
            &provider,
            slice(operation),
            request,
            Duration::from_secs(3),
            body_read,
        )
        .await
        .observation
}

async fn probe(sim: &RunningSimulator, operation: Operation) -> batchprobe::outcome::Observation {
    let prober = HttpProber::new().unwrap();
    probe_url(
        &prober,
        &sim.base_url("test").unwrap(),
        operation,
        BodyRead::Full,
    )
    .await
}

#[tokio::test]
async fn success() {
    let sim = simulator_with("  []\n").await;

    let get = probe(&sim, Operation::Get).await;
    let state = probe(&sim, Operation::GetState).await;
    let models = probe(&sim, Operation::Models).await;

    for observation in [&get, &state, &models] {
        assert_eq!(observation.outcome, Outcome::Success, "{observation:?}");
        assert_eq!(observation.status, Some(200));
    }
    assert!(
        get.response_bytes > state.response_bytes * 100,
        "fields= cuts the body"
    );
    sim.shutdown().await;
}

#[tokio::test]
async fn http_error_keeps_the_status() {
    let sim = simulator_with("  - {operations: [get], effect: {status: 503}}\n").await;

    let get = probe(&sim, Operation::Get).await;
    let state = probe(&sim, Operation::GetState).await;

    assert_eq!((get.outcome, get.status), (Outcome::HttpError, Some(503)));
    assert_eq!(get.code_label(), "503");
    assert_eq!(state.outcome, Outcome::Success);
    sim.shutdown().await;
}

#[tokio::test]
async fn retry_after_is_read_from_429_and_503() {
    let sim = simulator_with("  - {effect: {retry_after: {status: 429, after: 30s}}}\n").await;

    let list = probe(&sim, Operation::List).await;

    assert_eq!((list.outcome, list.status), (Outcome::HttpError, Some(429)));
    assert_eq!(list.retry_after, Some(Duration::from_secs(30)));
    sim.shutdown().await;
}

#[tokio::test]
async fn timeout_when_the_server_hangs() {
    let sim = simulator_with("  - {operations: [models], effect: hang}\n").await;

    let models = probe(&sim, Operation::Models).await;

    assert_eq!((models.outcome, models.status), (Outcome::Timeout, None));
    assert_eq!(models.code_label(), "0");
    sim.shutdown().await;
}

#[tokio::test]
async fn connect_error_when_the_connection_closes_before_a_response() {
    let sim = simulator_with("  - {effect: close}\n").await;

    let list = probe(&sim, Operation::List).await;

    assert_eq!((list.outcome, list.status), (Outcome::ConnectError, None));
    sim.shutdown().await;
}

#[tokio::test]
async fn connect_error_when_nothing_listens() {
    // Bind then drop a listener: its port is free and refuses connections.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let prober = HttpProber::new().unwrap();

    let list = probe_url(
        &prober,
        &format!("http://127.0.0.1:{port}"),
        Operation::List,
        BodyRead::Full,
    )
    .await;

    assert_eq!((list.outcome, list.status), (Outcome::ConnectError, None));
}

#[tokio::test]
async fn tls_error_when_https_meets_plain_http() {
    let sim = simulator_with("  []\n").await;
    let https = sim.base_url("test").unwrap().replace("http://", "https://");
    let prober = HttpProber::new().unwrap();

    let list = probe_url(&prober, &https, Operation::List, BodyRead::Full).await;

    assert_eq!((list.outcome, list.status), (Outcome::TlsError, None));
    sim.shutdown().await;
}

/// Resolves nothing: stands in for a DNS server that does not know the name, without sending
/// a query off this machine.
struct NoSuchHost;

impl reqwest::dns::Resolve for NoSuchHost {
    fn resolve(&self, name: reqwest::dns::Name) -> reqwest::dns::Resolving {
        let host = name.as_str().to_string();
        Box::pin(async move {
            let source = std::io::Error::new(std::io::ErrorKind::NotFound, "no such host");
            Err(Box::new(DnsFailure { host, source }) as _)
        })
    }
}

#[tokio::test]
async fn dns_error_when_the_name_does_not_resolve() {
    let prober = HttpProber::with_resolver(Arc::new(NoSuchHost)).unwrap();

    let list = probe_url(
        &prober,
        "http://gemini.invalid",
        Operation::List,
        BodyRead::Full,
    )
    .await;

    assert_eq!((list.outcome, list.status), (Outcome::DnsError, None));
}

#[tokio::test]
async fn body_error_on_reset_and_truncation() {
    let reset = simulator_with("  - {operations: [get], effect: reset_mid_body}\n").await;
    let truncated = simulator_with("  - {operations: [get], effect: truncated_body}\n").await;

    for sim in [reset, truncated] {
        let get = probe(&sim, Operation::Get).await;
        assert_eq!(
            (get.outcome, get.status),
            (Outcome::BodyError, Some(200)),
            "{get:?}"
        );
        assert!(get.response_bytes > 0, "part of the body arrived");
        sim.shutdown().await;
    }
}

#[tokio::test]
async fn invalid_body_when_a_succeeded_job_lost_its_output() {
    let sim = simulator_with("  - {operations: [get, get_state], effect: drop_output}\n").await;

    let get = probe(&sim, Operation::Get).await;
    let state = probe(&sim, Operation::GetState).await;

    assert_eq!(
        (get.outcome, get.status),
        (Outcome::InvalidBody, Some(200)),
        "{get:?}"
    );
    assert!(get.is_failure());
    // The state mask never carried the output, so its answer is still well formed.
    assert_eq!(state.outcome, Outcome::Success);
    sim.shutdown().await;
}

#[tokio::test]
async fn a_body_limit_stops_reading_without_failing() {
    let sim = simulator_with("  []\n").await;
    let prober = HttpProber::new().unwrap();
    let base = sim.base_url("test").unwrap();

    let limited = probe_url(&prober, &base, Operation::Get, BodyRead::Limit(1024)).await;
    let full = probe_url(&prober, &base, Operation::Get, BodyRead::Full).await;

    assert_eq!(limited.outcome, Outcome::Success);
    assert!(
        limited.response_bytes < full.response_bytes,
        "{limited:?} vs {full:?}"
    );
    sim.shutdown().await;
}
