//! The bench every row of the verdict scenario table runs on: a simulator with three regions, a
//! probe config with one target per region, the real scheduler and HTTP prober, and a sink that
//! puts each round's observations at the round's virtual time before the evaluator sees them.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use batchprobe::config::{self, Target};
use batchprobe::discovery::JobPool;
use batchprobe::outcome::Observation;
use batchprobe::probe::HttpProber;
use batchprobe::scheduler::{Scheduler, Sink, SkipReason};
use batchprobe::service::HttpProbes;
use batchprobe::simulator::{self, RunningSimulator, Scenario, SimulatorOptions};
use batchprobe::verdict::{Evaluator, Verdict};

/// The regions, in listener order: `us-central1` is the second listener.
const REGIONS: [&str; 3] = ["europe-west4", "us-central1", "asia-northeast1"];

/// Virtual time per round.
const ROUND: Duration = Duration::from_secs(60);

/// Rounds the verdict window covers.
pub const WINDOW_ROUNDS: u64 = 4;

/// Requests per round: 3 targets × 2 versions × (2 per-job operations × 3 buckets × 2 slots +
/// `list` + `models`).
const REQUESTS_PER_ROUND: u64 = 3 * 2 * (2 * 3 * 2 + 2);

/// Jobs of 10, 100 and 500 requests, two of each so that both slots of a bucket have one.
/// A time scale of 0.001 turns the 60 s deadline of the faults into 60 ms.
///
/// Results are in files, so job records stay small: the faults match on request counts, not
/// body sizes, and the debug-build simulator spends 20 to 30 ms of CPU building each GET of a
/// 500-request job with inline results, which made a round take about a second.
const SCENARIO: &str = "\
time_scale: 0.001
jobs:
  - {id: seed-10-a, requests: 10, output: file}
  - {id: seed-10-b, requests: 10, output: file}
  - {id: seed-100-a, requests: 100, output: file}
  - {id: seed-100-b, requests: 100, output: file}
  - {id: seed-500-a, requests: 500, output: file}
  - {id: seed-500-b, requests: 500, output: file}
faults: []
";

/// The sink of the scheduler under test: stamps each observation with the current round's
/// virtual time and records it in the evaluator, and counts what happened.
struct RoundClock {
    evaluator: Mutex<Evaluator>,
    /// When the observations of the current round finished, in virtual time.
    stamp: Mutex<SystemTime>,
    observed: AtomicU64,
    failed: AtomicU64,
    skipped: AtomicU64,
    /// Jobs found per (target, API version, bucket).
    discovered: Mutex<BTreeMap<(String, String, String), usize>>,
}

impl Sink for RoundClock {
    fn observe(&self, observation: &Observation) {
        let mut observation = observation.clone();
        observation.finished_at = *self.stamp.lock().unwrap();

        self.observed.fetch_add(1, Ordering::Relaxed);
        if observation.is_failure() {
            self.failed.fetch_add(1, Ordering::Relaxed);
        }
        self.evaluator.lock().unwrap().record(&observation);
    }

    fn skipped(&self, _provider: &str, _reason: SkipReason) {
        self.skipped.fetch_add(1, Ordering::Relaxed);
    }

    fn discovered(&self, target: &Target, api_version: &str, pool: &JobPool) {
        let mut discovered = self.discovered.lock().unwrap();
        for (bucket, jobs) in &pool.by_bucket {
            let key = (target.name.clone(), api_version.to_string(), bucket.clone());
            discovered.insert(key, jobs.len());
        }
    }
}

/// A simulator, a probe config against it, and the scheduler driving rounds.
pub struct Bench {
    simulator: RunningSimulator,
    scheduler: Scheduler,
    clock: Arc<RoundClock>,
    /// Rounds run so far; round `r` ends at `epoch + r × ROUND`.
    round: u64,
    epoch: SystemTime,
    _dir: tempfile::TempDir,
}

impl Bench {
    /// Starts the simulator on loopback, healthy, and a scheduler probing it. No round runs yet.
    pub async fn start() -> Bench {
        let scenario = Scenario::parse(SCENARIO, "verdict-scenarios").unwrap();
        let listeners = REGIONS
            .iter()
            .map(|region| (region.to_string(), SocketAddr::from(([127, 0, 0, 1], 0))))
            .collect();
        let simulator = simulator::start(SimulatorOptions {
            listeners,
            scenario,
            api_key: None,
        })
        .await
        .expect("the simulator starts on loopback");

        let dir = tempfile::tempdir().unwrap();
        let key = dir.path().join("key");
        std::fs::write(&key, "verdict-scenarios-key").unwrap();
        let path = dir.path().join("probe.yml");
        let config = config::parse(&path, &config_text(&simulator, &key)).unwrap();
        assert_eq!(config.verdict.window, ROUND * WINDOW_ROUNDS as u32);

        let clock = Arc::new(RoundClock {
            evaluator: Mutex::new(Evaluator::new(
                config.verdict.clone(),
                config.size_buckets.clone(),
            )),
            stamp: Mutex::new(SystemTime::UNIX_EPOCH),
            observed: AtomicU64::new(0),
            failed: AtomicU64::new(0),
            skipped: AtomicU64::new(0),
            discovered: Mutex::new(BTreeMap::new()),
        });
        let probes = Arc::new(HttpProbes::new(&config, HttpProber::new().unwrap()));
        let scheduler = Scheduler::new(config.clone(), probes, clock.clone());

        Bench {
            simulator,
            scheduler,
            clock,
            round: 0,
            epoch: SystemTime::UNIX_EPOCH + Duration::from_secs(1_760_000_000),
            _dir: dir,
        }
    }

    /// Checks that discovery found both jobs of every bucket for every target and version.
    fn check_discovery(&self) {
        let discovered = self.clock.discovered.lock().unwrap();
        for region in REGIONS {
            for version in ["v1beta", "v1"] {
                for bucket in ["1-10", "11-100", "101-500"] {
                    let key = (region.to_string(), version.to_string(), bucket.to_string());
                    assert_eq!(discovered.get(&key), Some(&2), "jobs of {key:?}");
                }
            }
        }
    }

    /// Runs every check once and judges the window at the end of the round.
    pub async fn round(&mut self) -> Verdict {
        self.round += 1;
        let end = self.epoch + ROUND * self.round as u32;
        *self.clock.stamp.lock().unwrap() = end - ROUND / 2;
        let before = self.clock.observed.load(Ordering::Relaxed);

        // The first round discovers the jobs; later rounds rotate through them.
        let discover = self.round == 1;
        self.scheduler.run_round(self.round, discover).await;
        if discover {
            self.check_discovery();
        }

        let sent = self.clock.observed.load(Ordering::Relaxed) - before;
        assert_eq!(sent, REQUESTS_PER_ROUND, "requests in round {}", self.round);
        assert_eq!(
            self.clock.skipped.load(Ordering::Relaxed),
            0,
            "skipped checks"
        );
        self.clock.evaluator.lock().unwrap().evaluate(end)
    }

    /// Replaces the simulator's fault rules; `[]` clears them.
    pub fn set_faults(&self, yaml: &str) {
        let rules = simulator::parse_fault_rules(yaml, "verdict-scenarios").unwrap();
        self.simulator.set_faults(rules);
    }

    /// Rounds run so far.
    pub fn rounds(&self) -> u64 {
        self.round
    }

    /// Requests sent so far, and how many of them failed.
    pub fn requests(&self) -> (u64, u64) {
        let observed = self.clock.observed.load(Ordering::Relaxed);
        (observed, self.clock.failed.load(Ordering::Relaxed))
    }

    /// Stops the simulator.
    pub async fn shutdown(self) {
        self.simulator.shutdown().await;
    }
}

/// Three targets, one per region, each probing `get`, `get_state`, `list` and `models` in two
/// API versions with two discovered jobs per batch size bucket.
fn config_text(simulator: &RunningSimulator, key: &Path) -> String {
    let mut text = format!(
        "region: europe-west4\n\
         timeout: 10s\n\
         concurrency: 128\n\
         budget: {{ requests_per_minute: 100000 }}\n\
         verdict: {{ window: {window}s, min_requests: 4, confidence: 0.95, \
         failure_threshold: 0.35 }}\n\
         targets:\n",
        window = ROUND.as_secs() * WINDOW_ROUNDS,
    );
    for region in REGIONS {
        text.push_str(&format!(
            "  - name: {region}\n    provider: gemini\n    region: {region}\n    \
             base_url: {url}\n    api_key: {{ file: {key} }}\n    \
             api_versions: [v1beta, v1]\n    operations: [get, get_state, list, models]\n    \
             jobs:\n      discover: {{ max_jobs: 50, per_bucket: 2 }}\n",
            url = simulator.base_url(region).unwrap(),
            key = key.display(),
        ));
    }
    text
}
