//! Synthetic observations for tests, examples and screenshots of the verdict: a grid of slices
//! like a real deployment probes, and rounds of replies scripted per slice.
//!
//! Nothing here sends a request; a scenario is a function from slice and round to a [`Reply`].
//! The seed outage (`get` of large jobs failing with 503 after a minute) is built in because
//! every layer above the verdict wants to show it.

use std::time::{Duration, SystemTime};

use crate::outcome::{Observation, Outcome};
use crate::slice::{NO_BATCH_SIZE, Operation, SizeBuckets, SliceKey};

/// The slices a probe would cover: every operation in every region and API version, per-job
/// operations once per batch size bucket.
#[derive(Debug, Clone)]
pub struct Grid {
    /// The provider label.
    pub provider: String,
    /// Region labels.
    pub regions: Vec<String>,
    /// API versions.
    pub api_versions: Vec<String>,
    /// Operations probed.
    pub operations: Vec<Operation>,
    /// Batch size bucket labels for per-job operations.
    pub batch_sizes: Vec<String>,
}

impl Grid {
    /// Three regions, two API versions, `get`, `get_state`, `list` and `models`, and every
    /// bucket of `buckets`.
    pub fn new(buckets: &SizeBuckets) -> Grid {
        let strings = |values: &[&str]| values.iter().map(|v| v.to_string()).collect();
        Grid {
            provider: "gemini".to_string(),
            regions: strings(&["us-central1", "europe-west4", "asia-northeast1"]),
            api_versions: strings(&["v1beta", "v1"]),
            operations: vec![
                Operation::Get,
                Operation::GetState,
                Operation::List,
                Operation::Models,
            ],
            batch_sizes: buckets.labels(),
        }
    }

    /// The grid of the seed deployment: like [`Grid::new`] with the default buckets, but no job
    /// has more than 500 requests, so the `501+` bucket is never probed.
    pub fn seed() -> Grid {
        let mut grid = Grid::new(&SizeBuckets::default());
        grid.batch_sizes.retain(|label| label != "501+");
        grid
    }

    /// Every slice of the grid.
    pub fn slices(&self) -> Vec<SliceKey> {
        let mut slices = Vec::new();
        for region in &self.regions {
            for api_version in &self.api_versions {
                for &operation in &self.operations {
                    let sizes: Vec<&str> = if operation.is_per_job() {
                        self.batch_sizes.iter().map(String::as_str).collect()
                    } else {
                        vec![NO_BATCH_SIZE]
                    };
                    for batch_size in sizes {
                        slices.push(SliceKey {
                            provider: self.provider.clone(),
                            operation,
                            api_version: api_version.clone(),
                            region: region.clone(),
                            batch_size: batch_size.to_string(),
                        });
                    }
                }
            }
        }
        slices
    }
}

/// How a scripted request ends.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Reply {
    /// 200 with a good body after this long.
    Ok(Duration),
    /// An HTTP error status after this long.
    Status(u16, Duration),
    /// No response: a network-level outcome after this long.
    Network(Outcome, Duration),
}

/// One observation of `slice` that finished at `finished_at`.
pub fn observation(slice: &SliceKey, reply: Reply, finished_at: SystemTime) -> Observation {
    let (outcome, status, duration) = match reply {
        Reply::Ok(duration) => (Outcome::Success, Some(200), duration),
        Reply::Status(status, duration) => (Outcome::HttpError, Some(status), duration),
        Reply::Network(outcome, duration) => (outcome, None, duration),
    };
    Observation {
        slice: slice.clone(),
        outcome,
        status,
        duration,
        response_bytes: if outcome == Outcome::Success { 2048 } else { 0 },
        finished_at,
        retry_after: None,
        trace_id: None,
    }
}

/// `rounds` rounds, one observation per slice each, `interval` apart from `start`. Round `r`
/// finishes at `start + r × interval`.
pub fn rounds(
    grid: &Grid,
    start: SystemTime,
    interval: Duration,
    rounds: u32,
    mut reply: impl FnMut(&SliceKey, u32) -> Reply,
) -> Vec<Observation> {
    let slices = grid.slices();
    let mut observations = Vec::with_capacity(slices.len() * rounds as usize);
    for round in 0..rounds {
        let finished_at = start + interval * round;
        for slice in &slices {
            observations.push(observation(slice, reply(slice, round), finished_at));
        }
    }
    observations
}

/// A plausible latency for a successful request of `slice`: larger jobs take longer to fetch.
pub fn healthy_latency(slice: &SliceKey) -> Duration {
    let millis = match (slice.operation, slice.batch_size.as_str()) {
        (Operation::Get, "1-10") => 420,
        (Operation::Get, "11-100") => 1_300,
        (Operation::Get, "101-500") => 4_800,
        (Operation::Get, _) => 9_500,
        (Operation::GetState, _) => 240,
        (Operation::List, _) => 380,
        (Operation::Models, _) => 150,
        (Operation::Download, _) => 2_000,
    };
    Duration::from_millis(millis)
}

/// The seed outage: `GET batches/{id}` of jobs with 11 to 500 requests fails with 503 after
/// about a minute in every region and version; everything else answers normally.
pub fn seed_outage(slice: &SliceKey, _round: u32) -> Reply {
    let large = matches!(slice.batch_size.as_str(), "11-100" | "101-500");
    if slice.operation == Operation::Get && large {
        Reply::Status(503, Duration::from_millis(60_000))
    } else {
        Reply::Ok(healthy_latency(slice))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn grid_covers_per_job_operations_per_bucket() {
        let grid = Grid::new(&SizeBuckets::default());
        let slices = grid.slices();

        // 3 regions × 2 versions × (2 per-job operations × 4 buckets + list + models).
        assert_eq!(slices.len(), 3 * 2 * (2 * 4 + 2));
        assert!(
            slices
                .iter()
                .all(|s| s.operation.is_per_job() != (s.batch_size == "none"))
        );
    }

    #[test]
    fn rounds_space_observations_by_the_interval() {
        let grid = Grid::new(&SizeBuckets::default());
        let start = SystemTime::UNIX_EPOCH;
        let observations = rounds(&grid, start, Duration::from_secs(30), 3, seed_outage);

        assert_eq!(observations.len(), 3 * grid.slices().len());
        assert_eq!(
            observations.last().unwrap().finished_at,
            start + Duration::from_secs(60)
        );
        assert!(observations.iter().any(|o| o.status == Some(503)));
    }
}
