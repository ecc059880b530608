//! The onset of faults that reach the control, where the control is sent less often than the
//! batch operations: regression tests for the control judged slice by slice and for failing
//! slices standing in as the healthy contrast.

use std::time::{Duration, SystemTime};

use crate::outcome::Outcome;
use crate::slice::SizeBuckets;
use crate::verdict::synthetic::{self, Grid, Reply};
use crate::verdict::{Evaluator, Scope, Verdict, VerdictConfig};

const INTERVAL: Duration = Duration::from_secs(60);

/// Rounds in the default 15 minute window.
const WINDOW_ROUNDS: u32 = 15;

/// A full window of healthy rounds, then `fault` for every request, evaluated after each fault
/// round. Per-job slices get two requests a round (two job slots, as with `per_bucket: 2`),
/// `list` and `models` one: the control holds half the evidence of a per-job slice.
fn onset(fault: Reply, fault_rounds: u32) -> Vec<Verdict> {
    let grid = Grid::seed();
    let mut evaluator = Evaluator::new(VerdictConfig::default(), SizeBuckets::default());
    let start = SystemTime::UNIX_EPOCH + Duration::from_secs(1_760_000_000);
    let mut verdicts = Vec::new();

    for round in 0..WINDOW_ROUNDS + fault_rounds {
        let finished_at = start + INTERVAL * round;
        for slice in grid.slices() {
            let reply = if round < WINDOW_ROUNDS {
                Reply::Ok(synthetic::healthy_latency(&slice))
            } else {
                fault
            };
            let sends = if slice.operation.is_per_job() { 2 } else { 1 };
            for _ in 0..sends {
                evaluator.record(&synthetic::observation(&slice, reply, finished_at));
            }
        }
        if round >= WINDOW_ROUNDS {
            verdicts.push(evaluator.evaluate(finished_at));
        }
    }
    verdicts
}

/// The scopes named, in order, and the first verdict with a failing slice.
fn first_failing(verdicts: &[Verdict]) -> (&Verdict, Vec<Scope>) {
    let scopes = verdicts.iter().map(|v| v.scope).collect();
    let first = verdicts
        .iter()
        .find(|v| v.failing_slices > 0)
        .expect("some slice fails");
    (first, scopes)
}

#[test]
fn a_sparse_control_does_not_narrow_a_widespread_onset_to_operation() {
    let verdicts = onset(Reply::Status(503, Duration::from_millis(40)), 10);
    let (first, scopes) = first_failing(&verdicts);

    // With 12 of 30 failing, every per-job slice fails while each control slice (6 of 15)
    // does not yet: judged slice by slice, this round read "get and get_state fail while list
    // and models are not failing so far".
    assert!(
        scopes
            .iter()
            .all(|s| *s == Scope::None || *s == Scope::Widespread),
        "{scopes:?}"
    );
    assert_eq!(first.scope, Scope::Widespread, "{}", first.headline);
    assert!(!first.provisional, "{}", first.headline);
    assert!(first.explained_by.is_empty(), "{:?}", first.explained_by);
    assert!(
        first.headline.contains("the models control included"),
        "{}",
        first.headline
    );
}

#[test]
fn a_sparse_control_failing_at_the_network_level_is_probe_local_from_the_onset() {
    let refused = Reply::Network(Outcome::ConnectError, Duration::from_millis(3));
    let verdicts = onset(refused, 10);
    let (first, scopes) = first_failing(&verdicts);

    assert!(
        scopes
            .iter()
            .all(|s| *s == Scope::None || *s == Scope::ProbeLocal),
        "{scopes:?}"
    );
    assert_eq!(first.scope, Scope::ProbeLocal, "{}", first.headline);
    assert!(!first.provisional, "{}", first.headline);
}
