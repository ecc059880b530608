//! Every scope of the verdict from synthetic observations, plus the guards against noise, the
//! `since` bookkeeping and window pruning. Scenarios are scripted per slice and round with
//! `batchprobe::verdict::synthetic`.

use std::collections::BTreeMap;
use std::time::{Duration, SystemTime};

use batchprobe::outcome::Outcome;
use batchprobe::slice::{Operation, SizeBuckets, SliceKey};
use batchprobe::verdict::synthetic::{self, Grid, Reply};
use batchprobe::verdict::{Evaluator, Scope, SliceState, Verdict, VerdictConfig};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

const INTERVAL: Duration = Duration::from_secs(30);

fn start() -> SystemTime {
    SystemTime::UNIX_EPOCH + Duration::from_secs(1_760_000_000)
}

fn evaluator() -> Evaluator {
    Evaluator::new(VerdictConfig::default(), SizeBuckets::default())
}

/// Plays `rounds` rounds of `scenario` over `grid` and evaluates once after the last round.
fn play(grid: &Grid, rounds: u32, scenario: impl FnMut(&SliceKey, u32) -> Reply) -> Verdict {
    let mut evaluator = evaluator();
    for observation in synthetic::rounds(grid, start(), INTERVAL, rounds, scenario) {
        evaluator.record(&observation);
    }
    evaluator.evaluate(start() + INTERVAL * rounds)
}

fn ok(slice: &SliceKey) -> Reply {
    Reply::Ok(synthetic::healthy_latency(slice))
}

fn unavailable() -> Reply {
    Reply::Status(503, Duration::from_millis(200))
}

fn explained(pairs: &[(&str, &[&str])]) -> BTreeMap<String, Vec<String>> {
    pairs
        .iter()
        .map(|(dimension, values)| {
            let values = values.iter().map(|v| v.to_string()).collect();
            (dimension.to_string(), values)
        })
        .collect()
}

#[test]
fn seed_outage_is_batch_size_explained_by_get_and_two_buckets() {
    let verdict = play(&Grid::seed(), 20, synthetic::seed_outage);

    assert_eq!(verdict.scope, Scope::BatchSize, "{}", verdict.headline);
    assert_eq!(
        verdict.explained_by,
        explained(&[
            ("operation", &["get"]),
            ("batch_size", &["11-100", "101-500"])
        ])
    );
    assert_eq!(verdict.failing_slices, 2 * 3 * 2);
    assert_eq!(verdict.failure_latency_median_seconds, Some(60.0));
    assert_eq!(verdict.dominant_failure.as_deref(), Some("503"));
    assert!(verdict.looks_like_deadline);
    assert!(!verdict.provisional);
    for words in [
        "get",
        "11-100 and 101-500",
        "60 s",
        "server-side deadline",
        "fields=",
    ] {
        assert!(
            verdict.headline.contains(words),
            "{words:?} not in {}",
            verdict.headline
        );
    }
}

#[test]
fn a_healthy_larger_bucket_breaks_the_batch_size_pattern() {
    // Same outage, but jobs above 500 requests exist and work: size alone does not explain it.
    let verdict = play(
        &Grid::new(&SizeBuckets::default()),
        20,
        synthetic::seed_outage,
    );

    assert_eq!(verdict.scope, Scope::Operation, "{}", verdict.headline);
    assert_eq!(verdict.explained_by["batch_size"], ["11-100", "101-500"]);
}

#[test]
fn all_503_in_three_regions_is_widespread() {
    let verdict = play(&Grid::seed(), 20, |_, _| unavailable());

    assert_eq!(verdict.scope, Scope::Widespread, "{}", verdict.headline);
    assert!(verdict.explained_by.is_empty());
    assert!(
        verdict.headline.contains("all 3 regions"),
        "{}",
        verdict.headline
    );
    assert!(
        verdict.headline.contains("load shedding"),
        "{}",
        verdict.headline
    );
}

#[test]
fn one_region_failing_is_regional() {
    let verdict = play(&Grid::seed(), 20, |slice, _| {
        if slice.region == "europe-west4" {
            unavailable()
        } else {
            ok(slice)
        }
    });

    assert_eq!(verdict.scope, Scope::Regional, "{}", verdict.headline);
    assert_eq!(
        verdict.explained_by,
        explained(&[("region", &["europe-west4"])])
    );
    assert_eq!(
        verdict.contrast["region"],
        ["asia-northeast1", "us-central1"]
    );
}

#[test]
fn one_api_version_failing_is_api_version() {
    let verdict = play(&Grid::seed(), 20, |slice, _| {
        if slice.api_version == "v1beta" {
            unavailable()
        } else {
            ok(slice)
        }
    });

    assert_eq!(verdict.scope, Scope::ApiVersion, "{}", verdict.headline);
    assert_eq!(
        verdict.explained_by,
        explained(&[("api_version", &["v1beta"])])
    );
    assert!(
        verdict.headline.contains("v1 is healthy"),
        "{}",
        verdict.headline
    );
}

#[test]
fn get_failing_at_every_size_with_get_state_healthy_is_operation() {
    let verdict = play(&Grid::seed(), 20, |slice, _| {
        if slice.operation == Operation::Get {
            unavailable()
        } else {
            ok(slice)
        }
    });

    assert_eq!(verdict.scope, Scope::Operation, "{}", verdict.headline);
    assert_eq!(verdict.explained_by, explained(&[("operation", &["get"])]));
    assert!(
        verdict.headline.contains("get_state"),
        "{}",
        verdict.headline
    );
}

#[test]
fn connect_errors_everywhere_including_models_are_probe_local() {
    let refused = Reply::Network(Outcome::ConnectError, Duration::from_millis(3));
    let verdict = play(&Grid::seed(), 20, |_, _| refused);

    assert_eq!(verdict.scope, Scope::ProbeLocal, "{}", verdict.headline);
    assert!(
        verdict.headline.contains("network path"),
        "{}",
        verdict.headline
    );
}

#[test]
fn timeouts_on_large_jobs_only_are_not_probe_local() {
    // The client gives up before the server's deadline: network-level, but the control works.
    let verdict = play(&Grid::seed(), 20, |slice, _| {
        let large = matches!(slice.batch_size.as_str(), "11-100" | "101-500");
        if slice.operation == Operation::Get && large {
            Reply::Network(Outcome::Timeout, Duration::from_secs(30))
        } else {
            ok(slice)
        }
    });

    assert_eq!(verdict.scope, Scope::BatchSize, "{}", verdict.headline);
    assert_eq!(verdict.dominant_failure.as_deref(), Some("timeout"));
}

#[test]
fn forbidden_everywhere_is_credentials() {
    let verdict = play(&Grid::seed(), 20, |_, _| {
        Reply::Status(403, Duration::from_millis(80))
    });

    assert_eq!(verdict.scope, Scope::Credentials, "{}", verdict.headline);
    assert!(verdict.headline.contains("API key"), "{}", verdict.headline);
    assert!(verdict.slices.iter().all(|s| s.client_errors == s.requests));
}

#[test]
fn throttled_everywhere_is_quota() {
    let verdict = play(&Grid::seed(), 20, |_, _| {
        Reply::Status(429, Duration::from_millis(80))
    });

    assert_eq!(verdict.scope, Scope::Quota, "{}", verdict.headline);
    assert!(verdict.headline.contains("quota"), "{}", verdict.headline);
    assert!(verdict.slices.iter().all(|s| s.client_errors == 0));
}

#[test]
fn two_percent_noise_over_a_long_run_never_yields_a_verdict() {
    let grid = Grid::new(&SizeBuckets::default());
    let slices = grid.slices();
    let mut rng = StdRng::seed_from_u64(0x5eed);
    let mut evaluator = evaluator();
    let mut observed = 0;
    let mut worst_ratio: f64 = 0.0;

    let mut round = 0;
    while observed < 20_000 {
        let finished_at = start() + INTERVAL * round;
        for slice in &slices {
            let reply = if rng.random_bool(0.02) {
                unavailable()
            } else {
                ok(slice)
            };
            evaluator.record(&synthetic::observation(slice, reply, finished_at));
            observed += 1;
        }

        let verdict = evaluator.evaluate(finished_at);
        assert_eq!(
            verdict.scope,
            Scope::None,
            "round {round}: {}",
            verdict.headline
        );
        for slice in &verdict.slices {
            worst_ratio = worst_ratio.max(slice.error_ratio);
        }
        round += 1;
    }

    // The noise did reach individual slices; the verdict held anyway.
    assert!(
        worst_ratio > 0.05,
        "noise too weak to test anything: {worst_ratio}"
    );
}

#[test]
fn one_failure_out_of_three_is_no_verdict() {
    let slice = &Grid::seed().slices()[0];
    let mut evaluator = evaluator();
    for (i, reply) in [unavailable(), ok(slice), ok(slice)]
        .into_iter()
        .enumerate()
    {
        let at = start() + INTERVAL * i as u32;
        evaluator.record(&synthetic::observation(slice, reply, at));
    }

    let verdict = evaluator.evaluate(start() + INTERVAL * 3);
    assert_eq!(verdict.scope, Scope::None, "{}", verdict.headline);
    assert_eq!(verdict.slices[0].state, SliceState::Unknown);
}

#[test]
fn since_holds_while_the_scope_holds_and_resets_when_it_changes() {
    let grid = Grid::seed();
    let mut evaluator = evaluator();
    let mut verdicts = Vec::new();

    // 20 rounds of the seed outage, then 40 rounds of recovery (20 minutes, beyond the window).
    let outage = synthetic::rounds(&grid, start(), INTERVAL, 20, synthetic::seed_outage);
    let recovery_start = start() + INTERVAL * 20;
    let recovery = synthetic::rounds(&grid, recovery_start, INTERVAL, 40, |s, _| ok(s));
    let per_round = grid.slices().len();
    for round in outage.chunks(per_round).chain(recovery.chunks(per_round)) {
        for observation in round {
            evaluator.record(observation);
        }
        verdicts.push(evaluator.evaluate(round[0].finished_at));
    }

    let first_batch = verdicts
        .iter()
        .position(|v| v.scope == Scope::BatchSize)
        .unwrap();
    let batch_since = &verdicts[first_batch].since;
    assert_eq!(batch_since, &verdicts[first_batch].evaluated_at);
    assert_eq!(&verdicts[19].since, batch_since);
    assert_eq!(verdicts[19].scope, Scope::BatchSize);

    let last = verdicts.last().unwrap();
    assert_eq!(last.scope, Scope::None, "{}", last.headline);
    assert!(last.since > *batch_since, "{} vs {batch_since}", last.since);
    assert_eq!(last.failing_slices, 0);
}

#[test]
fn the_window_forgets_old_observations() {
    let grid = Grid::seed();
    let mut evaluator = evaluator();
    for observation in synthetic::rounds(&grid, start(), INTERVAL, 20, |_, _| unavailable()) {
        evaluator.record(&observation);
    }
    let end = start() + INTERVAL * 19;

    let verdict = evaluator.evaluate(end);
    assert_eq!(verdict.scope, Scope::Widespread);
    assert!(verdict.slices.iter().all(|s| s.requests == 20));

    // Ten minutes and a bit later only the last 10 rounds remain in the 15 minute window.
    let verdict = evaluator.evaluate(end + Duration::from_secs(615));
    assert!(
        verdict.slices.iter().all(|s| s.requests == 10),
        "{:?}",
        verdict.slices[0]
    );

    let verdict = evaluator.evaluate(end + Duration::from_secs(901));
    assert_eq!(verdict.scope, Scope::None);
    assert!(verdict.slices.is_empty());
    assert!(
        verdict.headline.contains("No probe results"),
        "{}",
        verdict.headline
    );
}

#[test]
fn a_reloaded_config_changes_the_judgement_but_keeps_the_windows() {
    let grid = Grid::seed();
    let mut evaluator = evaluator();
    for observation in synthetic::rounds(&grid, start(), INTERVAL, 3, synthetic::seed_outage) {
        evaluator.record(&observation);
    }
    let now = start() + INTERVAL * 3;
    assert_eq!(evaluator.evaluate(now).scope, Scope::None);

    let eager = VerdictConfig {
        min_requests: 3,
        ..VerdictConfig::default()
    };
    evaluator.set_config(eager, SizeBuckets::default());
    let verdict = evaluator.evaluate(now);
    assert_eq!(verdict.failing_slices, 12, "{}", verdict.headline);
    assert!(
        verdict.provisional,
        "no slice can be healthy after three requests"
    );
    assert!(
        verdict.headline.starts_with("Provisional"),
        "{}",
        verdict.headline
    );
}

#[test]
fn scaled_down_deadlines_are_recognised_relative_to_healthy_requests() {
    // The demo compresses time: failures after 3 s are slow next to 0.4 s successes.
    let verdict = play(&Grid::seed(), 20, |slice, _| {
        if slice.operation == Operation::Get && slice.batch_size == "101-500" {
            Reply::Status(503, Duration::from_secs(3))
        } else {
            Reply::Ok(Duration::from_millis(400))
        }
    });

    assert_eq!(verdict.scope, Scope::BatchSize, "{}", verdict.headline);
    assert!(verdict.looks_like_deadline);
    assert!(verdict.headline.contains("3.0 s"), "{}", verdict.headline);
}

#[test]
fn verdicts_round_trip_through_json() {
    let verdict = play(&Grid::seed(), 20, synthetic::seed_outage);

    let json = serde_json::to_value(&verdict).unwrap();
    assert_eq!(json["scope"], "batch_size");
    assert_eq!(json["slices"][0]["state"], "healthy");
    let back: Verdict = serde_json::from_value(json).unwrap();
    assert_eq!(back, verdict);
}

#[test]
fn scope_labels_are_snake_case_and_round_trip() {
    let labels: Vec<&str> = Scope::ALL.iter().map(|s| s.as_str()).collect();
    assert_eq!(
        labels,
        [
            "none",
            "probe_local",
            "credentials",
            "quota",
            "batch_size",
            "operation",
            "api_version",
            "regional",
            "widespread"
        ]
    );
    for scope in Scope::ALL {
        assert_eq!(Scope::from_label(scope.as_str()), Some(scope));
    }
}

#[test]
fn the_control_failing_alone_is_operation_not_widespread() {
    let verdict = play(&Grid::seed(), 20, |slice, _| {
        if slice.operation == Operation::Models {
            unavailable()
        } else {
            ok(slice)
        }
    });

    assert_eq!(verdict.scope, Scope::Operation, "{}", verdict.headline);
    assert_eq!(
        verdict.explained_by,
        explained(&[("operation", &["models"])])
    );
}

#[test]
fn one_operation_in_one_region_lists_both_dimensions() {
    let verdict = play(&Grid::seed(), 20, |slice, _| {
        let here = slice.region == "us-central1" && slice.operation == Operation::Get;
        if here { unavailable() } else { ok(slice) }
    });

    assert_eq!(verdict.scope, Scope::Operation, "{}", verdict.headline);
    assert_eq!(
        verdict.explained_by,
        explained(&[("operation", &["get"]), ("region", &["us-central1"])])
    );
    assert!(
        verdict.headline.contains("in us-central1"),
        "{}",
        verdict.headline
    );
}

#[test]
fn a_middle_bucket_alone_is_still_batch_size() {
    // Every operation has the bucket (a grid with get_state only would have no contrast).
    let mut grid = Grid::seed();
    grid.operations = vec![Operation::GetState, Operation::List];
    let verdict = play(&grid, 20, |slice, _| {
        if slice.batch_size == "11-100" {
            unavailable()
        } else {
            ok(slice)
        }
    });

    assert_eq!(verdict.scope, Scope::BatchSize, "{}", verdict.headline);
    assert_eq!(
        verdict.explained_by,
        explained(&[("batch_size", &["11-100"])])
    );
    assert_eq!(verdict.contrast["batch_size"], ["1-10", "101-500"]);
}

#[test]
fn a_slice_recovers_from_failing_to_healthy_as_the_window_slides() {
    let grid = Grid::seed();
    let mut evaluator = evaluator();
    let failing_for = 20;
    let scenario = |slice: &SliceKey, round: u32| {
        if round < failing_for {
            unavailable()
        } else {
            ok(slice)
        }
    };
    let states = |verdict: &Verdict| {
        verdict
            .slices
            .iter()
            .map(|s| s.state)
            .collect::<std::collections::BTreeSet<_>>()
    };

    let observations = synthetic::rounds(&grid, start(), INTERVAL, 70, scenario);
    let per_round = grid.slices().len();
    let mut seen = Vec::new();
    for round in observations.chunks(per_round) {
        for observation in round {
            evaluator.record(observation);
        }
        let verdict = evaluator.evaluate(round[0].finished_at);
        let only = states(&verdict);
        if only.len() == 1 {
            let state = *only.iter().next().unwrap();
            if seen.last() != Some(&state) {
                seen.push(state);
            }
        }
    }

    // Unknown at first, failing, unknown while the window mixes both, healthy at the end.
    assert_eq!(
        seen,
        [
            SliceState::Unknown,
            SliceState::Failing,
            SliceState::Unknown,
            SliceState::Healthy
        ]
    );
}
