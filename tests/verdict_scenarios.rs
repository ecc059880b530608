//! The verdict scenario table, end to end: the simulator serves three regions, the real
//! scheduler and HTTP prober probe them round by round, and the verdict must name the scope of
//! each fault set within three rounds of the fault starting, then return to `none` once the
//! fault is gone and its failures have left the window.
//!
//! Time is virtual. Rounds are driven with [`Scheduler::run_round`], never with wall-clock
//! intervals, and a [`Sink`] stamps every observation with its round's virtual time before it
//! reaches the [`Evaluator`]; the verdict is evaluated at the end of each round. So the window
//! slides by exactly one round per round however long the requests took, and the only real
//! waits are the simulator's scaled deadlines (60 s of scenario time is 60 ms here).
//!
//! # The verdict settings, and why
//!
//! Every row probes 48 slices: 3 regions × 2 API versions × (`get` and `get_state` in three
//! batch size buckets, `list`, `models`). With `per_bucket: 2` a per-job slice gets 2 requests a
//! round, `list` and `models` get 1: 84 requests a round.
//!
//! - `window`: 4 rounds. A total fault must be named within 3 rounds while the window still
//!   holds a round from before it: a per-job slice then holds 6 failures in 8 requests.
//! - `min_requests`: 4, what the sparsest slices (`list`, `models`) hold in a full window, so
//!   every slice can be judged once its window is full and none while it is younger.
//! - `failure_threshold`: 0.35 and `confidence`: 0.95. The faults here fail every request they
//!   touch; the noise fails 2 %. At these settings a per-job slice is failing from 6 failures in
//!   8 (Wilson lower bound 0.41; 5 in 8 gives 0.31) and healthy at 0 in 8 (upper bound 0.32),
//!   so verdicts are firm, not provisional. A `list` or `models` slice is failing only at 4
//!   failures in 4 (3 in 4 gives 0.30).
//!
//! What that means for noise. A lone slice failing by chance names a scope, so the noise row's
//! false alarm rate is the chance that any slice ever reaches those counts. Computed exactly
//! (a Markov chain over each slice's window, 40 rounds of 2 % noise after a healthy window):
//! 5.8e-6 per `list`/`models` slice and 6e-8 per per-job slice, 7e-5 per run in all. The
//! sparse slices dominate: four failures in a row at 2 % is 1.6e-7, and there are 12 such
//! slices and 40 chances each.
//!
//! The same sparse slices set what the verdict itself must do. Three rounds of a total fault
//! give a `models` slice 3 failures in 4, not enough on its own; asking less of it (3 in 4, or
//! 3 in 3) raises the noise false alarm rate to 4e-3 and more per run, a flaky test. So the
//! verdict judges the control that `widespread` and `probe_local` need pooled over the
//! `models` slices of the regions and versions that fail (18 failures in 24 requests after
//! three rounds), and `list` and `models` slices at 3 failures in 4 do not stand in as the
//! healthy contrast; see `judge_control` and `classify` in `src/verdict/scope.rs`.
//!
//! Retry-After: the `quota` row answers 429 without it. A `Retry-After` pause is wall-clock
//! time in the scheduler's gate, so it would skip the following rounds altogether here; the
//! scheduler's own tests cover the pause.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime};

use batchprobe::config::{self, Target};
use batchprobe::discovery::JobPool;
use batchprobe::outcome::Observation;
use batchprobe::probe::HttpProber;
use batchprobe::scheduler::{Scheduler, Sink, SkipReason};
use batchprobe::service::HttpProbes;
use batchprobe::simulator::{self, RunningSimulator, Scenario, SimulatorOptions};
use batchprobe::verdict::{Evaluator, Scope, SliceState, Verdict};

/// The regions, in listener order: `us-central1` is the second listener.
const REGIONS: [&str; 3] = ["europe-west4", "us-central1", "asia-northeast1"];

/// Virtual time per round.
const ROUND: Duration = Duration::from_secs(60);

/// Rounds the verdict window covers.
const WINDOW_ROUNDS: u64 = 4;

/// Healthy rounds before a fault: one full window.
const HEALTHY_ROUNDS: u64 = WINDOW_ROUNDS;

/// Rounds within which the verdict must name a fault's scope.
const SETTLE_LIMIT: u64 = 3;

/// Rounds a fault lasts: the settle limit and one more to see the scope hold.
const FAULT_ROUNDS: u64 = SETTLE_LIMIT + 1;

/// Rounds of recovery: one window, after which none of the fault's requests is left in it.
const RECOVERY_ROUNDS: u64 = WINDOW_ROUNDS;

/// Rounds of 2 % noise: 40 × 84 = 3360 requests.
const NOISE_ROUNDS: u64 = 40;

/// Requests per round: 3 targets × 2 versions × (2 per-job operations × 3 buckets × 2 slots +
/// `list` + `models`).
const REQUESTS_PER_ROUND: u64 = 3 * 2 * (2 * 3 * 2 + 2);

/// Jobs of 10, 100 and 500 requests, two of each so that both slots of a bucket have one.
/// A time scale of 0.001 turns the 60 s deadline of the faults into 60 ms.
const SCENARIO: &str = "\
time_scale: 0.001
jobs:
  - {id: seed-10-a, requests: 10, bytes_per_response: 16}
  - {id: seed-10-b, requests: 10, bytes_per_response: 16}
  - {id: seed-100-a, requests: 100, bytes_per_response: 16}
  - {id: seed-100-b, requests: 100, bytes_per_response: 16}
  - {id: seed-500-a, requests: 500, bytes_per_response: 16}
  - {id: seed-500-b, requests: 500, bytes_per_response: 16}
faults: []
";

/// One row of the table: a fault set and the scope it must produce.
struct Row {
    name: &'static str,
    /// Fault rules, as for `PUT /_simulator/faults`.
    faults: &'static str,
    expected: Scope,
}

const ROWS: &[Row] = &[
    Row {
        name: "seed outage: get of jobs over 10 requests, 503 at the deadline",
        faults: "- {operations: [get], batch_size: {min: 11}, deadline: 60s, effect: {status: 503}}",
        expected: Scope::BatchSize,
    },
    Row {
        name: "503 for everything in every region",
        faults: "- {effect: {status: 503}}",
        expected: Scope::Widespread,
    },
    Row {
        name: "one region down (us-central1, the second listener)",
        faults: "- {listeners: [2], effect: {status: 503}}",
        expected: Scope::Regional,
    },
    Row {
        name: "one API version down (v1beta)",
        faults: "- {api_versions: [v1beta], effect: {status: 503}}",
        expected: Scope::ApiVersion,
    },
    Row {
        name: "get fails at every size, get_state healthy",
        faults: "- {operations: [get], deadline: 60s, effect: {status: 503}}",
        expected: Scope::Operation,
    },
    Row {
        name: "every connection closed before a response",
        faults: "- {effect: close}",
        expected: Scope::ProbeLocal,
    },
    Row {
        name: "403 everywhere",
        faults: "- {effect: {status: 403}}",
        expected: Scope::Credentials,
    },
    Row {
        name: "429 everywhere",
        faults: "- {effect: {status: 429}}",
        expected: Scope::Quota,
    },
];

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
struct Bench {
    simulator: RunningSimulator,
    scheduler: Scheduler,
    clock: Arc<RoundClock>,
    /// Rounds run so far; round `r` ends at `epoch + r × ROUND`.
    round: u64,
    epoch: SystemTime,
    _dir: tempfile::TempDir,
}

impl Bench {
    async fn start() -> Bench {
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
    async fn round(&mut self) -> Verdict {
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

    fn set_faults(&self, yaml: &str) {
        let rules = simulator::parse_fault_rules(yaml, "verdict-scenarios").unwrap();
        self.simulator.set_faults(rules);
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

/// What one row did, round by round.
struct RowRun {
    /// The scope after each healthy, fault and recovery round.
    healthy: Vec<Scope>,
    fault: Vec<Scope>,
    recovery: Vec<Scope>,
    /// The headline when the expected scope was first named.
    headline: Option<String>,
    /// Whether a verdict naming the expected scope was provisional.
    provisional: bool,
}

impl RowRun {
    /// The fault round (from 1) from which the scope stayed the expected one to the end.
    fn settled(&self, expected: Scope) -> Option<u64> {
        let held = self
            .fault
            .iter()
            .rev()
            .take_while(|s| **s == expected)
            .count();
        (held > 0).then(|| (self.fault.len() - held + 1) as u64)
    }

    /// The recovery round (from 1) from which the scope stayed `none`.
    fn recovered(&self) -> Option<u64> {
        let held = self
            .recovery
            .iter()
            .rev()
            .take_while(|s| **s == Scope::None)
            .count();
        (held > 0).then(|| (self.recovery.len() - held + 1) as u64)
    }

    /// Every way this run breaks the table's rules.
    fn problems(&self, expected: Scope) -> Vec<String> {
        let mut problems = Vec::new();
        if self.healthy.iter().any(|s| *s != Scope::None) {
            problems.push(format!("named a scope while healthy: {:?}", self.healthy));
        }
        match self.settled(expected) {
            Some(round) if round <= SETTLE_LIMIT => {}
            _ => problems.push(format!(
                "not settled on {expected} within {SETTLE_LIMIT} rounds: {:?}",
                self.fault
            )),
        }
        // A full window of healthy slices came first, so the verdict has its contrast.
        if self.provisional {
            problems.push(format!("named {expected} only provisionally"));
        }
        // On the way in and out, only `none` and the expected scope may be named.
        let stray = |scopes: &[Scope]| scopes.iter().any(|s| *s != Scope::None && *s != expected);
        if stray(&self.fault) || stray(&self.recovery) {
            problems.push(format!(
                "named another scope: fault {:?}, recovery {:?}",
                self.fault, self.recovery
            ));
        }
        match self.recovered() {
            Some(round) if round <= WINDOW_ROUNDS => {}
            _ => problems.push(format!(
                "not back to none within the {WINDOW_ROUNDS}-round window: {:?}",
                self.recovery
            )),
        }
        problems
    }
}

async fn play(row: &Row) -> RowRun {
    let mut bench = Bench::start().await;
    let mut run = RowRun {
        healthy: Vec::new(),
        fault: Vec::new(),
        recovery: Vec::new(),
        headline: None,
        provisional: false,
    };

    for _ in 0..HEALTHY_ROUNDS {
        run.healthy.push(bench.round().await.scope);
    }

    bench.set_faults(row.faults);
    for _ in 0..FAULT_ROUNDS {
        let verdict = bench.round().await;
        if verdict.scope == row.expected {
            run.headline.get_or_insert(verdict.headline.clone());
            run.provisional |= verdict.provisional;
        }
        run.fault.push(verdict.scope);
    }

    bench.set_faults("[]");
    for _ in 0..RECOVERY_ROUNDS {
        run.recovery.push(bench.round().await.scope);
    }

    bench.simulator.shutdown().await;
    run
}

fn labels(scopes: &[Scope]) -> String {
    let labels: Vec<&str> = scopes.iter().map(|s| s.as_str()).collect();
    labels.join(" ")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_fault_set_settles_on_its_scope_and_recovers() {
    let started = Instant::now();
    let mut failures = Vec::new();

    println!(
        "{:<62} {:<12} {:>7} {:>9}  fault rounds | recovery rounds",
        "row", "scope", "settled", "recovered"
    );
    for row in ROWS {
        let run = play(row).await;

        let round = |r: Option<u64>| r.map_or("never".to_string(), |r| r.to_string());
        println!(
            "{:<62} {:<12} {:>7} {:>9}  {} | {}",
            row.name,
            row.expected.as_str(),
            round(run.settled(row.expected)),
            round(run.recovered()),
            labels(&run.fault),
            labels(&run.recovery),
        );
        if let Some(headline) = &run.headline {
            println!("    {headline}");
        }
        for problem in run.problems(row.expected) {
            failures.push(format!("{}: {problem}", row.name));
        }
    }
    println!("table played in {:.1?}", started.elapsed());

    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_percent_noise_never_names_a_scope() {
    let started = Instant::now();
    let mut bench = Bench::start().await;
    for _ in 0..HEALTHY_ROUNDS {
        assert_eq!(bench.round().await.scope, Scope::None);
    }
    let healthy_requests = bench.clock.observed.load(Ordering::Relaxed);

    bench.set_faults("- {probability: 0.02, effect: {status: 503}}");
    let mut alarms = Vec::new();
    let mut worst_ratio: f64 = 0.0;
    let mut healthy_slices = usize::MAX;
    for _ in 0..NOISE_ROUNDS {
        let verdict = bench.round().await;
        if verdict.scope != Scope::None {
            alarms.push(format!(
                "round {}: {} ({} failing): {}",
                bench.round, verdict.scope, verdict.failing_slices, verdict.headline
            ));
        }
        for slice in &verdict.slices {
            worst_ratio = worst_ratio.max(slice.error_ratio);
        }
        let healthy = verdict
            .slices
            .iter()
            .filter(|s| s.state == SliceState::Healthy)
            .count();
        healthy_slices = healthy_slices.min(healthy);
    }

    let requests = bench.clock.observed.load(Ordering::Relaxed) - healthy_requests;
    let failed = bench.clock.failed.load(Ordering::Relaxed);
    println!(
        "noise: {requests} requests over {NOISE_ROUNDS} rounds, {failed} failed ({:.2} %), \
         worst slice error ratio in a window {:.0} %, fewest healthy slices {healthy_slices}, \
         played in {:.1?}",
        100.0 * failed as f64 / requests as f64,
        100.0 * worst_ratio,
        started.elapsed()
    );
    bench.simulator.shutdown().await;

    assert!(
        alarms.is_empty(),
        "noise named a scope:\n{}",
        alarms.join("\n")
    );
    assert!(requests >= 3000, "only {requests} requests");
    // 2 % of 3360 is 67 (standard deviation 8): fewer than 20 means the noise was not on.
    assert!(failed >= 20, "only {failed} of {requests} requests failed");
    assert!(
        worst_ratio >= 0.25,
        "the noise never reached a slice: {worst_ratio}"
    );
}
