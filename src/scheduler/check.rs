//! The plan of checks: one per target × operation × API version × job slot.

use std::hash::{DefaultHasher, Hash, Hasher};
use std::time::Duration;

use crate::config::{Config, Target};
use crate::slice::{NO_BATCH_SIZE, Operation, SizeBuckets, SliceKey};

/// Which job a per-job check fetches.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum JobSelector {
    /// The operation touches no job (`list`, `models`).
    NoJob,
    /// A job named in the config.
    Named {
        /// Its resource name.
        name: String,
        /// Its bucket label.
        bucket: String,
    },
    /// A slot among the discovered jobs of one bucket.
    Discovered {
        /// The bucket label.
        bucket: String,
        /// This check's slot, `0..per_bucket`.
        slot: u32,
        /// How many slots the bucket has.
        per_bucket: u32,
    },
}

impl JobSelector {
    /// The `batch_size` label of the check's slice.
    pub fn bucket(&self) -> &str {
        match self {
            JobSelector::NoJob => NO_BATCH_SIZE,
            JobSelector::Named { bucket, .. } | JobSelector::Discovered { bucket, .. } => bucket,
        }
    }
}

/// One recurring probe.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Check {
    /// Index of the target in the config.
    pub target: usize,
    /// The operation.
    pub operation: Operation,
    /// The API version.
    pub api_version: String,
    /// Which job, if any.
    pub job: JobSelector,
    /// Time between two runs.
    pub interval: Duration,
}

impl Check {
    /// The slice this check's results belong to; `target` is the check's target.
    pub fn slice(&self, target: &Target) -> SliceKey {
        SliceKey {
            provider: target.provider.as_str().to_string(),
            operation: self.operation,
            api_version: self.api_version.clone(),
            region: target.region.clone(),
            batch_size: self.job.bucket().to_string(),
        }
    }

    /// Where in its interval this check first fires: a stable hash of its identity, so that
    /// checks spread over the interval the same way on every start and do not fire together.
    pub fn offset(&self) -> Duration {
        let mut hasher = DefaultHasher::new();
        self.hash(&mut hasher);
        let fraction = (hasher.finish() % 10_000) as f64 / 10_000.0;
        self.interval.mul_f64(fraction)
    }
}

/// Every slice the config's checks report into.
pub fn planned_slices(config: &Config) -> std::collections::HashSet<SliceKey> {
    plan(config)
        .iter()
        .map(|check| check.slice(&config.targets[check.target]))
        .collect()
}

/// Every check the config asks for.
pub fn plan(config: &Config) -> Vec<Check> {
    let mut checks = Vec::new();

    for (index, target) in config.targets.iter().enumerate() {
        for api_version in &target.api_versions {
            for &operation in &target.operations {
                for job in selectors(operation, target, &config.size_buckets) {
                    checks.push(Check {
                        target: index,
                        operation,
                        api_version: api_version.clone(),
                        job,
                        interval: target.interval,
                    });
                }
            }
        }
    }
    checks
}

fn selectors(
    operation: Operation,
    target: &crate::config::Target,
    buckets: &SizeBuckets,
) -> Vec<JobSelector> {
    if !operation.is_per_job() {
        return vec![JobSelector::NoJob];
    }

    let mut selectors = Vec::new();
    // Result files are only known from discovery, so named jobs are not downloaded.
    if operation != Operation::Download {
        for job in &target.jobs {
            selectors.push(JobSelector::Named {
                name: job.name.clone(),
                bucket: buckets.label(job.size),
            });
        }
    }
    if let Some(discover) = &target.discover {
        for bucket in buckets.labels() {
            for slot in 0..discover.per_bucket {
                selectors.push(JobSelector::Discovered {
                    bucket: bucket.clone(),
                    slot,
                    per_bucket: discover.per_bucket,
                });
            }
        }
    }
    selectors
}
