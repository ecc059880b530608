//! The many-regions topology of docs/deploy.md on loopback: the simulator's seed outage in two
//! regions, one `batchprobe run` per region, one Prometheus agent per region (derived from
//! `deploy/prometheus/agent.yml`) remote-writing to a central Prometheus (derived from
//! `deploy/prometheus/prometheus.yml`) that loads the shipped rules and alerts of `alerts/`.
//!
//! It proves that the series of both regions meet centrally, each with its region, its agent's
//! external label and its own instance, and that the cross-region recording rules evaluated
//! there count both regions: the outage's `get` of 101-500 requests fails in two regions of two,
//! while 1-10 fails in none, and the widespread page is pending or firing. It prints how long the
//! series took to arrive (`cargo test --test deploy_multi_region -- --nocapture`).
//!
//! Needs `prometheus` and `promtool` (Debian package prometheus; scripts/install-test-deps.sh
//! installs it).

mod support;

#[allow(
    dead_code,
    reason = "each deploy test uses a different part of the helpers"
)]
#[path = "deploy_support/support.rs"]
mod deploy_support;

#[path = "deploy_multi_region/topology.rs"]
mod topology;

use std::collections::{BTreeMap, BTreeSet};
use std::future::Future;
use std::time::{Duration, Instant};

use serde_json::Value;

use topology::{REGIONS, Topology};

/// The API versions every probe checks.
const API_VERSIONS: [&str; 2] = ["v1beta", "v1"];

/// The seed outage's failing bucket and a healthy one, as the rules name them.
const FAILING_BUCKET: &str = "101-500";
const HEALTHY_BUCKET: &str = "1-10";

/// Polls `check` every 500 ms until it returns `Some`; after `limit` fails with the last state
/// `check` described and the processes' logs.
async fn wait<T, F, Fut>(topology: &Topology, limit: Duration, what: &str, mut check: F) -> T
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, String>>,
{
    let start = Instant::now();
    loop {
        let last = match check().await {
            Ok(value) => return value,
            Err(last) => last,
        };
        if start.elapsed() > limit {
            panic!(
                "timed out after {limit:?} waiting for {what}\nlast seen: {last}\n{}",
                topology.logs()
            );
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}

fn label<'a>(sample: &'a Value, name: &str) -> &'a str {
    sample["metric"][name].as_str().unwrap_or_default()
}

fn number(sample: &Value) -> f64 {
    sample["value"][1]
        .as_str()
        .and_then(|v| v.parse().ok())
        .unwrap_or(f64::NAN)
}

/// A cross-region recording rule's values for `get`, by (api version, batch size).
async fn get_families(topology: &Topology, rule: &str) -> BTreeMap<Family, f64> {
    let expr = format!(r#"{rule}{{provider="gemini", operation="get"}}"#);
    topology
        .query(&expr)
        .await
        .iter()
        .map(|sample| {
            let family = (label(sample, "api_version"), label(sample, "batch_size"));
            ((family.0.to_string(), family.1.to_string()), number(sample))
        })
        .collect()
}

/// A slice family of `get`: (API version, batch size bucket).
type Family = (String, String);

/// What the test expects per family: (family, regions reporting, regions failing). Per API
/// version, every region reports the failing and the healthy bucket; the failing one fails in
/// every region, the healthy one in none.
fn expected_counts() -> Vec<(Family, f64, f64)> {
    let regions = REGIONS.len() as f64;
    let mut expected = Vec::new();
    for api_version in API_VERSIONS {
        for (bucket, failing) in [(FAILING_BUCKET, regions), (HEALTHY_BUCKET, 0.0)] {
            let family = (api_version.to_string(), bucket.to_string());
            expected.push((family, regions, failing));
        }
    }
    expected
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn regional_agents_remote_write_and_central_rules_count_both_regions() {
    let started = Instant::now();
    let topology = Topology::start("seed-outage").await;
    let startup = started.elapsed();

    // The raw series of both regions reach the central server, each through its own agent:
    // its region label, the agent's external label and the instance the agent gives it.
    let by_origin = r#"count by (region, prometheus, instance, job) (batchprobe_requests_total)"#;
    let origins = wait(
        &topology,
        Duration::from_secs(60),
        "batchprobe_requests_total of both regions at the central server",
        || async {
            let samples = topology.query(by_origin).await;
            let regions: BTreeSet<&str> = samples.iter().map(|s| label(s, "region")).collect();
            if regions.len() == REGIONS.len() {
                Ok(samples)
            } else {
                Err(format!("{samples:?}"))
            }
        },
    )
    .await;
    let both_visible = topology.agents_ready.elapsed();
    let mut seen: Vec<(String, String, String, String)> = origins
        .iter()
        .map(|s| {
            let labels = ["region", "prometheus", "instance", "job"].map(|l| label(s, l));
            labels.map(str::to_string).into()
        })
        .collect();
    seen.sort();
    let mut expected: Vec<(String, String, String, String)> = REGIONS
        .iter()
        .map(|region| {
            let external = topology::agent_external_labels(region);
            let prometheus = external["prometheus"].as_str().expect("the agent's name");
            (
                region.to_string(),
                prometheus.to_string(),
                topology::agent_instance(region),
                "batchprobe".to_string(),
            )
        })
        .collect();
    expected.sort();
    assert_eq!(
        seen, expected,
        "(region, prometheus, instance, job) of the raw series at the central server"
    );
    // Told apart as docs/deploy.md asks: every agent has its own name, every probe its own
    // instance.
    let names: BTreeSet<&str> = expected.iter().map(|e| e.1.as_str()).collect();
    assert_eq!(names.len(), REGIONS.len(), "agents share a name: {names:?}");
    let instances: BTreeSet<&str> = expected.iter().map(|e| e.2.as_str()).collect();
    assert_eq!(
        instances.len(),
        REGIONS.len(),
        "probes share an instance: {instances:?}"
    );

    // The cross-region rules at the central server see both regions: the outage's bucket
    // fails in every region, the healthy bucket is reported by every region and fails in none.
    let expected = expected_counts();
    wait(
        &topology,
        Duration::from_secs(90),
        "the cross-region rules to count both regions",
        || async {
            let reporting =
                get_families(&topology, "all_regions:batchprobe_regions_reporting:count").await;
            let failing =
                get_families(&topology, "all_regions:batchprobe_regions_failing:count").await;
            let counted = expected.iter().all(|(family, regions, failed)| {
                reporting.get(family) == Some(regions) && failing.get(family) == Some(failed)
            });
            if counted {
                Ok(())
            } else {
                Err(format!("reporting {reporting:?}, failing {failing:?}"))
            }
        },
    )
    .await;
    let rules_counted = topology.agents_ready.elapsed();

    // The widespread page built on those counts is pending (or firing) at the centre for the
    // outage's bucket, and for no healthy bucket.
    let widespread = wait(
        &topology,
        Duration::from_secs(30),
        "BatchprobeWidespreadFailure pending for get 101-500 in both API versions",
        || async {
            let alerts = topology.alerts().await;
            let pages: BTreeSet<(String, String)> = alerts
                .iter()
                .filter(|a| a["labels"]["alertname"] == "BatchprobeWidespreadFailure")
                .filter(|a| a["labels"]["operation"] == "get")
                .map(|a| {
                    let l = |name: &str| a["labels"][name].as_str().unwrap_or_default();
                    (l("api_version").to_string(), l("batch_size").to_string())
                })
                .collect();
            let outage = API_VERSIONS
                .iter()
                .all(|v| pages.contains(&(v.to_string(), FAILING_BUCKET.to_string())));
            if outage {
                Ok(pages)
            } else {
                Err(format!("{pages:?}"))
            }
        },
    )
    .await;
    assert!(
        widespread
            .iter()
            .all(|(_, bucket)| bucket != HEALTHY_BUCKET),
        "a widespread page for the healthy bucket: {widespread:?}"
    );

    println!(
        "startup (central, simulator, {} probes, {} agents ready): {:.1}s",
        REGIONS.len(),
        REGIONS.len(),
        startup.as_secs_f64()
    );
    println!(
        "agents ready -> raw series of both regions queryable centrally: {:.1}s",
        both_visible.as_secs_f64()
    );
    println!(
        "agents ready -> all_regions rules count {} of {} regions failing get {FAILING_BUCKET}: \
         {:.1}s",
        REGIONS.len(),
        REGIONS.len(),
        rules_counted.as_secs_f64()
    );
    println!(
        "widespread pages pending or firing at the centre: {widespread:?}; whole test {:.1}s",
        started.elapsed().as_secs_f64()
    );
}
