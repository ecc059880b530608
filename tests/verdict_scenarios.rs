//! The verdict scenario table, end to end: the simulator serves three regions, the real
//! scheduler and HTTP prober probe them round by round, and the verdict must name the scope of
//! each fault set within three rounds of the fault starting, then return to `none` once the
//! fault is gone and its failures have left the window.
//!
//! Time is virtual. Rounds are driven with `Scheduler::run_round`, never with wall-clock
//! intervals, and the scheduler's `Sink` stamps every observation with its round's virtual time
//! before it reaches the verdict's `Evaluator`, which is evaluated at the end of each round. So the window
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
//!   every slice can be judged once its window is full, and none on fewer requests.
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

#[path = "verdict_scenarios/bench.rs"]
mod bench;

use std::time::Instant;

use batchprobe::verdict::{Scope, SliceState};
use bench::{Bench, WINDOW_ROUNDS};

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

    bench.shutdown().await;
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
    let (healthy_requests, _) = bench.requests();

    bench.set_faults("- {probability: 0.02, effect: {status: 503}}");
    let mut alarms = Vec::new();
    let mut worst_ratio: f64 = 0.0;
    let mut healthy_slices = usize::MAX;
    for _ in 0..NOISE_ROUNDS {
        let verdict = bench.round().await;
        if verdict.scope != Scope::None {
            alarms.push(format!(
                "round {}: {} ({} failing): {}",
                bench.rounds(),
                verdict.scope,
                verdict.failing_slices,
                verdict.headline
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

    let (all_requests, failed) = bench.requests();
    let requests = all_requests - healthy_requests;
    println!(
        "noise: {requests} requests over {NOISE_ROUNDS} rounds, {failed} failed ({:.2} %), \
         worst slice error ratio in a window {:.0} %, fewest healthy slices {healthy_slices}, \
         played in {:.1?}",
        100.0 * failed as f64 / requests as f64,
        100.0 * worst_ratio,
        started.elapsed()
    );
    bench.shutdown().await;

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
