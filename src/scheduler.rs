//! When each check runs, and whether it may.
//!
//! Every check (target × operation × API version × job slot) runs in its own loop at its own
//! interval, first fired at a stable offset within the interval and then jittered, so checks do
//! not fire together. A check never overlaps itself: ticks that pass while it is still in flight
//! are skipped and counted. Before sending, a check passes its target's [`Gate`] (the
//! requests-per-minute budget and any `Retry-After` pause) and then waits for one of the global
//! concurrency permits. Every request sent ends in exactly one observation handed to the
//! [`Sink`]; every check that does not send is counted as skipped.
//!
//! The scheduler knows nothing of HTTP: it drives a [`Prober`], which tests replace with a fake
//! under tokio's paused clock.

mod budget;
mod check;

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use rand::Rng;
use tokio::sync::Semaphore;
use tokio::task::JoinSet;
use tokio::time::{Duration, Instant};
use tokio_util::sync::CancellationToken;

use crate::config::{Config, Target};
use crate::discovery::{JobPool, JobPools, collect_pages};
use crate::outcome::Observation;
use crate::provider::{DiscoveredJob, ListPage};
use crate::slice::{Operation, SliceKey};

pub use budget::{Gate, MAX_RETRY_AFTER, SkipReason};
pub use check::{Check, JobSelector, plan, planned_slices};

/// A boxed future, the return type of [`Prober`] methods.
pub type BoxFuture<T> = Pin<Box<dyn Future<Output = T> + Send + 'static>>;

/// One request the scheduler wants sent.
#[derive(Debug, Clone)]
pub struct Task {
    /// Index of the target in the config.
    pub target: usize,
    /// The API version.
    pub api_version: String,
    /// The job's resource name (for `download`, its result file), for per-job operations.
    pub job: Option<String>,
    /// The slice the result belongs to; its operation is the operation to send.
    pub slice: SliceKey,
}

/// Sends requests for the scheduler.
pub trait Prober: Send + Sync + 'static {
    /// Sends one probe request. Never fails: every end is an observation.
    fn probe(&self, task: Task) -> BoxFuture<Observation>;

    /// Fetches one page of a target's batch list, for discovery.
    fn list_page(
        &self,
        target: usize,
        api_version: String,
        page_token: Option<String>,
    ) -> BoxFuture<Result<ListPage, String>>;

    /// Whether a listed job is finished with results to fetch.
    fn is_succeeded(&self, target: usize, job: &DiscoveredJob) -> bool;
}

/// Receives what the scheduler saw.
pub trait Sink: Send + Sync + 'static {
    /// A probe request ended.
    fn observe(&self, observation: &Observation);

    /// A check did not send its request.
    fn skipped(&self, provider: &str, reason: SkipReason);

    /// Discovery refreshed the jobs of one (target, API version).
    fn discovered(&self, target: &Target, api_version: &str, pool: &JobPool);
}

/// Runs the checks of one config. A reload builds a new scheduler.
pub struct Scheduler {
    inner: Arc<Inner>,
}

struct Inner {
    config: Config,
    checks: Vec<Check>,
    gates: Vec<Gate>,
    permits: Semaphore,
    pools: JobPools,
    prober: Arc<dyn Prober>,
    sink: Arc<dyn Sink>,
    jitter: f64,
}

impl Scheduler {
    /// A scheduler for `config`, sending through `prober` and reporting to `sink`.
    pub fn new(config: Config, prober: Arc<dyn Prober>, sink: Arc<dyn Sink>) -> Scheduler {
        let checks = plan(&config);
        let gates = config
            .targets
            .iter()
            .map(|t| Gate::new(t.requests_per_minute))
            .collect();

        Scheduler {
            inner: Arc::new(Inner {
                permits: Semaphore::new(config.concurrency),
                config,
                checks,
                gates,
                pools: JobPools::default(),
                prober,
                sink,
                jitter: 0.05,
            }),
        }
    }

    /// Sets the jitter added to each tick, as a fraction of the interval (default 0.05).
    pub fn with_jitter(mut self, jitter: f64) -> Scheduler {
        Arc::get_mut(&mut self.inner)
            .expect("jitter is set before running")
            .jitter = jitter;
        self
    }

    /// The planned checks.
    pub fn checks(&self) -> &[Check] {
        &self.inner.checks
    }

    /// Runs discovery and every check until `cancel` fires. Then no check starts again, but
    /// requests already in flight finish and are recorded: a reload loses no observation.
    pub async fn run(&self, cancel: CancellationToken) {
        let mut tasks = JoinSet::new();

        for (target, api_version) in self.inner.discovery_targets() {
            let inner = self.inner.clone();
            let cancel = cancel.clone();
            // Discovery records no observation, so it may stop mid-request.
            tasks.spawn(async move {
                let discovery = inner.discovery_loop(target, api_version);
                cancel.run_until_cancelled(discovery).await;
            });
        }
        for check in self.inner.checks.clone() {
            let inner = self.inner.clone();
            let cancel = cancel.clone();
            tasks.spawn(async move { inner.check_loop(check, cancel).await });
        }

        while tasks.join_next().await.is_some() {}
    }

    /// Runs every check once, now, after one discovery pass when `discover` is set. Used by
    /// `batchprobe once`, which calls it once per round.
    pub async fn run_round(&self, round: u64, discover: bool) {
        if discover {
            let passes = self
                .inner
                .discovery_targets()
                .into_iter()
                .map(|(target, version)| {
                    let inner = self.inner.clone();
                    async move { inner.discover(target, &version).await }
                });
            futures_util::future::join_all(passes).await;
        }

        let runs = self
            .inner
            .checks
            .iter()
            .map(|check| self.inner.run_check(check, round));
        futures_util::future::join_all(runs).await;
    }
}

impl Inner {
    fn discovery_targets(&self) -> Vec<(usize, String)> {
        let mut pairs = Vec::new();
        for (index, target) in self.config.targets.iter().enumerate() {
            let per_job = target.operations.iter().any(|op| op.is_per_job());
            if target.discover.is_some() && per_job {
                pairs.extend(target.api_versions.iter().map(|v| (index, v.clone())));
            }
        }
        pairs
    }

    async fn check_loop(&self, check: Check, cancel: CancellationToken) {
        let provider = self.config.targets[check.target].provider.as_str();
        let mut tick = Instant::now() + check.offset();
        let mut round = 0;

        loop {
            let jitter = check
                .interval
                .mul_f64(rand::rng().random_range(0.0..=self.jitter));
            let wait = tokio::time::sleep_until(tick + jitter);
            if cancel.run_until_cancelled(wait).await.is_none() {
                return;
            }

            self.run_check(&check, round).await;
            round += 1;

            // Ticks that passed while this run was in flight are skipped, not queued.
            tick += check.interval;
            while tick <= Instant::now() {
                self.sink.skipped(provider, SkipReason::Overlap);
                tick += check.interval;
            }
        }
    }

    async fn run_check(&self, check: &Check, round: u64) {
        let target = &self.config.targets[check.target];

        let Some(job) = self.select_job(check, round) else {
            return;
        };
        if let Err(reason) = self.gates[check.target].try_admit(Instant::now()) {
            self.sink.skipped(target.provider.as_str(), reason);
            return;
        }
        let _permit = self
            .permits
            .acquire()
            .await
            .expect("permits are never closed");

        let task = Task {
            target: check.target,
            api_version: check.api_version.clone(),
            job,
            slice: check.slice(target),
        };
        let observation = self.prober.probe(task).await;

        if let Some(delay) = observation.retry_after {
            tracing::info!(target = %target.name, delay = ?delay, "provider asked to retry later");
            self.gates[check.target].pause(Instant::now(), delay);
        }
        self.sink.observe(&observation);
    }

    /// The job for this run: `Some(None)` for operations without a job, `None` when discovery
    /// has not found one for the check's slot.
    fn select_job(&self, check: &Check, round: u64) -> Option<Option<String>> {
        match &check.job {
            JobSelector::NoJob => Some(None),
            JobSelector::Named { name, .. } => Some(Some(name.clone())),
            JobSelector::Discovered {
                bucket,
                slot,
                per_bucket,
            } => self
                .pools
                .with_pool(check.target, &check.api_version, |pool| {
                    let job = pool.pick(bucket, *slot, *per_bucket, round)?;
                    match check.operation {
                        Operation::Download => job.responses_file.clone(),
                        _ => Some(job.name.clone()),
                    }
                })
                .flatten()
                .map(Some),
        }
    }

    async fn discovery_loop(&self, target: usize, api_version: String) {
        let interval = self.config.targets[target]
            .discover
            .as_ref()
            .map_or(Duration::from_secs(600), |d| d.interval);

        loop {
            self.discover(target, &api_version).await;
            tokio::time::sleep(interval).await;
        }
    }

    async fn discover(&self, target_index: usize, api_version: &str) {
        let target = &self.config.targets[target_index];
        let Some(discover) = &target.discover else {
            return;
        };

        let fetched = collect_pages(discover.max_jobs, |token| async move {
            self.wait_for_budget(target_index).await;
            let _permit = self
                .permits
                .acquire()
                .await
                .expect("permits are never closed");
            self.prober
                .list_page(target_index, api_version.to_string(), token)
                .await
        })
        .await;

        match fetched {
            Ok(jobs) => {
                let pool = JobPool::from_jobs(&jobs, &self.config.size_buckets, |job| {
                    self.prober.is_succeeded(target_index, job)
                });
                tracing::debug!(target = %target.name, api_version, jobs = jobs.len(), "jobs discovered");
                self.sink.discovered(target, api_version, &pool);
                self.pools.replace(target_index, api_version, pool);
            }
            Err(reason) => {
                // The previous pool stays: a failed list must not stop the per-job checks.
                tracing::warn!(target = %target.name, api_version, %reason, "job discovery failed");
            }
        }
    }

    /// Discovery waits for room in the budget instead of skipping: it runs rarely and the
    /// per-job checks depend on it.
    async fn wait_for_budget(&self, target: usize) {
        let gate = &self.gates[target];
        while gate.try_admit(Instant::now()).is_err() {
            tokio::time::sleep_until(gate.next_room(Instant::now())).await;
        }
    }
}

#[cfg(test)]
mod tests;
