//! The outage scope verdict: turns a stream of [`Observation`]s into one answer to "is it us,
//! one batch size, one operation, one API version, one region, or everyone?".
//!
//! The [`Evaluator`] keeps a sliding window per slice (`window`), gives each slice a state from
//! the Wilson score interval of its error ratio (`stats`), compares failing slices with the
//! others to find the dimensions that separate them (`scope`) and words the result as a
//! headline (`headline`). [`metrics::VerdictMetrics`] exports the result to Prometheus. The
//! statistics and each scope are explained for operators in `docs/verdict.md`.
//!
//! It does not probe, schedule or serve anything: callers feed it observations and ask for a
//! [`Verdict`] when they need one. The status page renders a verdict; see
//! [`crate::status_page`].

mod config;
mod headline;
pub mod metrics;
mod scope;
mod stats;
pub mod synthetic;
mod window;

use std::collections::BTreeMap;
use std::fmt;
use std::time::{Duration, SystemTime};

use serde::{Deserialize, Serialize};

use crate::outcome::Observation;
use crate::slice::{Operation, SizeBuckets, SliceKey};

pub use config::{VerdictConfig, VerdictConfigError};
pub use metrics::VerdictMetrics;
pub use stats::{Interval, normal_quantile, wilson, z_for_confidence};
pub use window::SliceState;

use headline::WindowCounts;
use window::{SliceSummary, SliceWindow, StateRules};

/// How far an outage reaches, from nothing to everyone.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Scope {
    /// No slice is failing.
    None,
    /// Network-level failures that hit the control operation too: this probe's network path.
    ProbeLocal,
    /// 401/403 dominate: the API key or its permissions.
    Credentials,
    /// 429 dominates: quota or rate limits.
    Quota,
    /// Only the larger batch size buckets fail; smaller ones are healthy.
    BatchSize,
    /// Only some operations fail, e.g. `get` while `get_state`, `list` and `models` work.
    Operation,
    /// Only some API versions fail.
    ApiVersion,
    /// Only some regions fail while others are healthy.
    Regional,
    /// Failures across every region, or across operations including the control.
    Widespread,
}

impl Scope {
    /// Every scope, from the narrowest cause to the widest.
    pub const ALL: [Scope; 9] = [
        Scope::None,
        Scope::ProbeLocal,
        Scope::Credentials,
        Scope::Quota,
        Scope::BatchSize,
        Scope::Operation,
        Scope::ApiVersion,
        Scope::Regional,
        Scope::Widespread,
    ];

    /// The label value, in snake_case.
    pub fn as_str(self) -> &'static str {
        match self {
            Scope::None => "none",
            Scope::ProbeLocal => "probe_local",
            Scope::Credentials => "credentials",
            Scope::Quota => "quota",
            Scope::BatchSize => "batch_size",
            Scope::Operation => "operation",
            Scope::ApiVersion => "api_version",
            Scope::Regional => "regional",
            Scope::Widespread => "widespread",
        }
    }

    /// Parses the label value back; `None` for anything else.
    pub fn from_label(label: &str) -> Option<Scope> {
        Scope::ALL.into_iter().find(|scope| scope.as_str() == label)
    }
}

impl fmt::Display for Scope {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The numbers behind one slice's state, as served by the verdict API and the status page.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SliceReport {
    /// The provider family.
    pub provider: String,
    /// The operation probed.
    pub operation: Operation,
    /// The API version.
    pub api_version: String,
    /// The region label.
    pub region: String,
    /// The batch size bucket label, or `none`.
    pub batch_size: String,
    /// Requests in the window.
    pub requests: u64,
    /// Failed requests in the window, client errors included.
    pub failures: u64,
    /// 4xx responses other than 429 in the window; also counted in `failures`.
    pub client_errors: u64,
    /// `failures / requests`.
    pub error_ratio: f64,
    /// Lower bound of the Wilson score interval of the error ratio.
    pub wilson_low: f64,
    /// Upper bound of the Wilson score interval of the error ratio.
    pub wilson_high: f64,
    /// The slice's state.
    pub state: SliceState,
    /// Median latency of the failed requests in seconds, `None` without failures.
    pub failure_latency_median_seconds: Option<f64>,
    /// The most common failure (`503`, `timeout`, ...), `None` without failures.
    pub dominant_failure: Option<String>,
}

impl SliceReport {
    /// The slice's labels as a key.
    pub fn key(&self) -> SliceKey {
        SliceKey {
            provider: self.provider.clone(),
            operation: self.operation,
            api_version: self.api_version.clone(),
            region: self.region.clone(),
            batch_size: self.batch_size.clone(),
        }
    }
}

/// The answer: how far the outage reaches, since when, why the verdict thinks so, and every
/// slice's numbers.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Verdict {
    /// How far the outage reaches.
    pub scope: Scope,
    /// The first evaluation that reached this scope, RFC 3339. Kept while the scope holds.
    pub since: String,
    /// One sentence a person can act on.
    pub headline: String,
    /// For every dimension that separates failing slices from healthy ones, the failing
    /// values, e.g. `operation: [get]`, `batch_size: [11-100, 101-500]`.
    pub explained_by: BTreeMap<String, Vec<String>>,
    /// For the same dimensions, the values of comparable slices that are not failing, e.g.
    /// `batch_size: [1-10]`.
    pub contrast: BTreeMap<String, Vec<String>>,
    /// True when no slice is healthy yet, so the scope rests on slices still unknown.
    pub provisional: bool,
    /// How many slices are failing.
    pub failing_slices: usize,
    /// The most common failure among failing slices: a status code or an outcome.
    pub dominant_failure: Option<String>,
    /// Median latency of failed requests in failing slices, in seconds.
    pub failure_latency_median_seconds: Option<f64>,
    /// Median latency of successful requests of the failing operations, in seconds.
    pub success_latency_median_seconds: Option<f64>,
    /// Whether failures take long enough to look like a server-side deadline.
    pub looks_like_deadline: bool,
    /// The oldest failed request in a failing slice still in the window, RFC 3339.
    pub first_failure_at: Option<String>,
    /// Requests in the window, over all slices.
    pub requests: u64,
    /// Every slice with requests in the window.
    pub slices: Vec<SliceReport>,
    /// When this verdict was made, RFC 3339.
    pub evaluated_at: String,
    /// The window length, in seconds.
    pub window_seconds: f64,
    /// The failure threshold the states were judged against.
    pub failure_threshold: f64,
    /// The confidence of the Wilson intervals.
    pub confidence: f64,
}

/// Keeps the window of every slice and turns it into a [`Verdict`] on demand.
#[derive(Debug)]
pub struct Evaluator {
    config: VerdictConfig,
    buckets: SizeBuckets,
    rules: StateRules,
    windows: BTreeMap<SliceKey, SliceWindow>,
    current: Option<(Scope, SystemTime)>,
}

impl Evaluator {
    /// An evaluator with empty windows. Validate the config first: an out-of-range confidence
    /// falls back to 0.95 rather than producing nonsense.
    pub fn new(config: VerdictConfig, buckets: SizeBuckets) -> Evaluator {
        Evaluator {
            rules: rules_for(&config),
            config,
            buckets,
            windows: BTreeMap::new(),
            current: None,
        }
    }

    /// Adds one probe result to its slice's window.
    pub fn record(&mut self, observation: &Observation) {
        let window = self.windows.entry(observation.slice.clone()).or_default();
        window.push(observation, self.config.max_observations_per_slice);

        // Prune here too, so memory stays bounded even if nobody evaluates for a while.
        if let Some(cutoff) = observation.finished_at.checked_sub(self.config.window) {
            window.prune(cutoff);
        }
    }

    /// Drops observations older than the window before `now` and judges what is left.
    pub fn evaluate(&mut self, now: SystemTime) -> Verdict {
        let cutoff = now
            .checked_sub(self.config.window)
            .unwrap_or(SystemTime::UNIX_EPOCH);
        for window in self.windows.values_mut() {
            window.prune(cutoff);
        }
        self.windows.retain(|_, window| !window.is_empty());

        let mut summaries: Vec<SliceSummary> = self
            .windows
            .iter()
            .map(|(key, window)| window.summarize(key, &self.rules))
            .collect();
        summaries.sort_by_cached_key(|s| display_order(&s.key, &self.buckets));
        let finding = scope::classify(&summaries, &self.config, &self.rules, &self.buckets);

        // `since` survives as long as the scope does.
        let since = match self.current {
            Some((scope, since)) if scope == finding.scope => since,
            _ => now,
        };
        self.current = Some((finding.scope, since));

        let counts = WindowCounts {
            slices: summaries.len(),
            unknown_slices: summaries
                .iter()
                .filter(|s| s.state == SliceState::Unknown)
                .count(),
            requests: summaries.iter().map(|s| s.requests).sum(),
            window: self.config.window,
        };
        let dimension_map = |map: &BTreeMap<scope::Dimension, Vec<String>>| {
            map.iter()
                .map(|(d, v)| (d.as_str().to_string(), v.clone()))
                .collect()
        };
        Verdict {
            scope: finding.scope,
            since: rfc3339(since),
            headline: headline::write(&finding, &counts),
            explained_by: dimension_map(&finding.explained_by),
            contrast: dimension_map(&finding.contrast),
            provisional: finding.provisional,
            failing_slices: finding.failing_slices,
            dominant_failure: finding
                .dominant_failure
                .as_ref()
                .map(|(label, _)| label.clone()),
            failure_latency_median_seconds: finding.failure_latency.map(|d| d.as_secs_f64()),
            success_latency_median_seconds: finding.success_latency.map(|d| d.as_secs_f64()),
            looks_like_deadline: finding.slow_failures,
            first_failure_at: finding.first_failure_at.map(rfc3339),
            requests: counts.requests,
            slices: summaries.iter().map(report).collect(),
            evaluated_at: rfc3339(now),
            window_seconds: self.config.window.as_secs_f64(),
            failure_threshold: self.config.failure_threshold,
            confidence: effective_confidence(&self.config),
        }
    }

    /// Takes a reloaded config. Windows and `since` are kept; the next evaluation prunes to the
    /// new window and judges with the new thresholds.
    pub fn set_config(&mut self, config: VerdictConfig, buckets: SizeBuckets) {
        self.rules = rules_for(&config);
        self.config = config;
        self.buckets = buckets;
    }

    /// The config in force.
    pub fn config(&self) -> &VerdictConfig {
        &self.config
    }
}

/// The configured confidence, or the default when it lies outside (0, 1).
fn effective_confidence(config: &VerdictConfig) -> f64 {
    if config.confidence > 0.0 && config.confidence < 1.0 {
        config.confidence
    } else {
        VerdictConfig::default().confidence
    }
}

fn rules_for(config: &VerdictConfig) -> StateRules {
    StateRules {
        z: z_for_confidence(effective_confidence(config)),
        min_requests: config.min_requests,
        failure_threshold: config.failure_threshold,
    }
}

/// Slices in the order pages list them: provider, operation, API version, region, then batch
/// size smallest first.
fn display_order(key: &SliceKey, buckets: &SizeBuckets) -> impl Ord + use<> {
    let operation = Operation::ALL.iter().position(|&op| op == key.operation);
    let bucket = buckets.rank(&key.batch_size).unwrap_or(usize::MAX);
    (
        key.provider.clone(),
        operation,
        key.api_version.clone(),
        key.region.clone(),
        bucket,
        key.batch_size.clone(),
    )
}

fn report(summary: &SliceSummary) -> SliceReport {
    let mut failure_durations = summary.failure_durations.clone();
    let dominant_failure = summary
        .failure_labels
        .iter()
        .max_by(|a, b| a.1.cmp(b.1).then_with(|| b.0.cmp(a.0)))
        .map(|(label, _)| label.clone());
    SliceReport {
        provider: summary.key.provider.clone(),
        operation: summary.key.operation,
        api_version: summary.key.api_version.clone(),
        region: summary.key.region.clone(),
        batch_size: summary.key.batch_size.clone(),
        requests: summary.requests,
        failures: summary.failures,
        client_errors: summary.client_errors,
        error_ratio: summary.error_ratio(),
        wilson_low: summary.interval.low,
        wilson_high: summary.interval.high,
        state: summary.state,
        failure_latency_median_seconds: stats::median(&mut failure_durations)
            .map(|d: Duration| d.as_secs_f64()),
        dominant_failure,
    }
}

/// RFC 3339 in whole seconds, UTC.
fn rfc3339(time: SystemTime) -> String {
    humantime::format_rfc3339_seconds(time).to_string()
}
