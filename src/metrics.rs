//! The Prometheus metrics batchprobe exposes, and their encoding.
//!
//! Names and labels here are a contract that dashboards, alert rules and other tools rely on.
//! No label ever carries a job id, URL, error text or secret: the label values are the slice
//! dimensions, the status code, the outcome and small closed sets. The exposition is the
//! Prometheus text format by default and OpenMetrics when the scraper asks for it.

use std::collections::{HashMap, HashSet};
use std::sync::Mutex;
use std::sync::atomic::AtomicU64;
use std::time::UNIX_EPOCH;

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::exemplar::HistogramWithExemplars;
use prometheus_client::metrics::family::{Family, MetricConstructor};
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;

use crate::config::Target;
use crate::discovery::JobPool;
use crate::outcome::Observation;
use crate::scheduler::SkipReason;
use crate::slice::SliceKey;

/// Labels of `batchprobe_requests_total`.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct RequestLabels {
    provider: String,
    operation: String,
    api_version: String,
    region: String,
    batch_size: String,
    code: String,
    outcome: String,
}

/// Labels of `batchprobe_request_duration_seconds`.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct DurationLabels {
    provider: String,
    operation: String,
    api_version: String,
    region: String,
    batch_size: String,
    outcome: String,
}

/// The five slice labels, for per-slice gauges and histograms.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct SliceLabels {
    provider: String,
    operation: String,
    api_version: String,
    region: String,
    batch_size: String,
}

impl From<&SliceKey> for SliceLabels {
    fn from(slice: &SliceKey) -> SliceLabels {
        SliceLabels {
            provider: slice.provider.clone(),
            operation: slice.operation.as_str().to_string(),
            api_version: slice.api_version.clone(),
            region: slice.region.clone(),
            batch_size: slice.batch_size.clone(),
        }
    }
}

/// Labels of `batchprobe_jobs_discovered`.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct JobLabels {
    provider: String,
    api_version: String,
    region: String,
    batch_size: String,
    state: String,
}

/// Labels of `batchprobe_checks_skipped_total`.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct SkipLabels {
    provider: String,
    reason: String,
}

/// Labels of `batchprobe_build_info`.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct BuildLabels {
    version: String,
}

/// The exemplar attached to a failed request's duration: its trace id.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct TraceLabels {
    trace_id: String,
}

/// Request duration buckets, in seconds. They reach past 120 s, because the provider's own
/// deadline answers 503 after about 60 s and the probe's default timeout is 120 s.
pub const DURATION_BUCKETS: [f64; 15] = [
    0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 20.0, 30.0, 45.0, 60.0, 90.0, 120.0, 180.0,
];

#[derive(Clone)]
struct DurationHistogram;

impl MetricConstructor<HistogramWithExemplars<TraceLabels>> for DurationHistogram {
    fn new_metric(&self) -> HistogramWithExemplars<TraceLabels> {
        HistogramWithExemplars::new(DURATION_BUCKETS.into_iter())
    }
}

#[derive(Clone)]
struct BytesHistogram;

impl MetricConstructor<Histogram> for BytesHistogram {
    fn new_metric(&self) -> Histogram {
        // 1 KiB to 4 GiB by factors of 4: result bodies of image jobs reach gigabytes.
        Histogram::new(exponential_buckets(1024.0, 4.0, 12))
    }
}

type F64Gauge = Gauge<f64, AtomicU64>;

/// The exposition format a scrape asked for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// Prometheus text format 0.0.4, the default.
    PrometheusText,
    /// OpenMetrics 1.0 text, with exemplars.
    OpenMetrics,
}

impl Format {
    /// Picks the format from an `Accept` header, as Prometheus negotiates it.
    pub fn from_accept(accept: Option<&str>) -> Format {
        match accept {
            Some(accept) if accept.contains("application/openmetrics-text") => Format::OpenMetrics,
            _ => Format::PrometheusText,
        }
    }

    /// The `Content-Type` of the answer.
    pub fn content_type(self) -> &'static str {
        match self {
            Format::PrometheusText => "text/plain; version=0.0.4; charset=utf-8",
            Format::OpenMetrics => "application/openmetrics-text; version=1.0.0; charset=utf-8",
        }
    }
}

/// Every metric batchprobe exposes, in one registry.
pub struct Metrics {
    registry: Registry,
    requests: Family<RequestLabels, Counter>,
    durations: Family<DurationLabels, HistogramWithExemplars<TraceLabels>, DurationHistogram>,
    response_bytes: Family<SliceLabels, Histogram, BytesHistogram>,
    probe_success: Family<SliceLabels, Gauge>,
    last_probe: Family<SliceLabels, F64Gauge>,
    jobs_discovered: Family<JobLabels, Gauge>,
    checks_skipped: Family<SkipLabels, Counter>,
    reload_successful: Gauge,
    /// Slices with last-result gauges, so that a reload can drop those it no longer probes.
    slices: Mutex<HashSet<SliceKey>>,
    /// The discovery series last set per (provider, api_version, region), so a refresh can zero
    /// buckets and states that disappeared.
    discovered_keys: Mutex<HashMap<(String, String, String), Vec<JobLabels>>>,
    /// The verdict's gauges.
    pub verdict: crate::verdict::VerdictMetrics,
}

impl Metrics {
    /// Registers every metric.
    pub fn new() -> Metrics {
        let mut registry = Registry::default();
        let batchprobe = registry.sub_registry_with_prefix("batchprobe");

        let requests = Family::default();
        batchprobe.register(
            "requests",
            "Probe requests sent, by slice, status code and outcome",
            requests.clone(),
        );
        let durations = Family::new_with_constructor(DurationHistogram);
        batchprobe.register(
            "request_duration_seconds",
            "Time from sending a probe request to the end of its body read or failure",
            durations.clone(),
        );
        let response_bytes = Family::new_with_constructor(BytesHistogram);
        batchprobe.register(
            "response_bytes",
            "Body bytes read per probe request",
            response_bytes.clone(),
        );
        let probe_success = Family::default();
        batchprobe.register(
            "probe_success",
            "Whether the last probe of the slice succeeded (1) or failed (0)",
            probe_success.clone(),
        );
        let last_probe = Family::default();
        batchprobe.register(
            "last_probe_timestamp_seconds",
            "Unix time the last probe of the slice finished",
            last_probe.clone(),
        );
        let jobs_discovered = Family::default();
        batchprobe.register(
            "jobs_discovered",
            "Jobs seen by the last discovery, by batch size bucket and state",
            jobs_discovered.clone(),
        );
        let checks_skipped = Family::default();
        batchprobe.register(
            "checks_skipped",
            "Checks that did not send their request, by reason",
            checks_skipped.clone(),
        );
        let reload_successful = Gauge::default();
        batchprobe.register(
            "config_last_reload_successful",
            "Whether the last config load or reload succeeded",
            reload_successful.clone(),
        );
        let build_info = Family::<BuildLabels, Gauge>::default();
        batchprobe.register(
            "build_info",
            "batchprobe's version; always 1",
            build_info.clone(),
        );
        build_info
            .get_or_create(&BuildLabels {
                version: env!("CARGO_PKG_VERSION").to_string(),
            })
            .set(1);
        let verdict = crate::verdict::VerdictMetrics::register(batchprobe);

        Metrics {
            registry,
            requests,
            durations,
            response_bytes,
            probe_success,
            last_probe,
            jobs_discovered,
            checks_skipped,
            reload_successful,
            slices: Mutex::new(HashSet::new()),
            discovered_keys: Mutex::new(HashMap::new()),
            verdict,
        }
    }

    /// Counts one probe request.
    pub fn observe(&self, observation: &Observation) {
        let slice = &observation.slice;
        let labels = SliceLabels::from(slice);
        let outcome = observation.outcome.as_str().to_string();

        self.requests
            .get_or_create(&RequestLabels {
                provider: labels.provider.clone(),
                operation: labels.operation.clone(),
                api_version: labels.api_version.clone(),
                region: labels.region.clone(),
                batch_size: labels.batch_size.clone(),
                code: observation.code_label(),
                outcome: outcome.clone(),
            })
            .inc();

        // Exemplars point from a slow or failed bucket to the trace of one such request.
        let exemplar = observation
            .trace_id
            .as_ref()
            .filter(|_| observation.is_failure())
            .map(|id| TraceLabels {
                trace_id: id.clone(),
            });
        self.durations
            .get_or_create(&DurationLabels {
                provider: labels.provider.clone(),
                operation: labels.operation.clone(),
                api_version: labels.api_version.clone(),
                region: labels.region.clone(),
                batch_size: labels.batch_size.clone(),
                outcome,
            })
            .observe(observation.duration.as_secs_f64(), exemplar, None);

        self.response_bytes
            .get_or_create(&labels)
            .observe(observation.response_bytes as f64);
        self.probe_success
            .get_or_create(&labels)
            .set(i64::from(!observation.is_failure()));
        let finished = observation
            .finished_at
            .duration_since(UNIX_EPOCH)
            .unwrap_or_default();
        self.last_probe
            .get_or_create(&labels)
            .set(finished.as_secs_f64());

        let mut slices = self.slices.lock().expect("metrics lock poisoned");
        if !slices.contains(slice) {
            slices.insert(slice.clone());
        }
    }

    /// Counts a skipped check.
    pub fn skipped(&self, provider: &str, reason: SkipReason) {
        self.checks_skipped
            .get_or_create(&SkipLabels {
                provider: provider.to_string(),
                reason: reason.as_str().to_string(),
            })
            .inc();
    }

    /// Sets the discovery gauges of one (target, API version).
    pub fn discovered(&self, target: &Target, api_version: &str, pool: &JobPool) {
        let provider = target.provider.as_str().to_string();
        let key = (
            provider.clone(),
            api_version.to_string(),
            target.region.clone(),
        );
        let mut keys = self.discovered_keys.lock().expect("metrics lock poisoned");

        for old in keys.remove(&key).unwrap_or_default() {
            self.jobs_discovered.get_or_create(&old).set(0);
        }
        let mut current = Vec::new();
        for ((bucket, state), count) in &pool.counts {
            let labels = JobLabels {
                provider: provider.clone(),
                api_version: api_version.to_string(),
                region: target.region.clone(),
                batch_size: bucket.clone(),
                state: state.clone(),
            };
            self.jobs_discovered
                .get_or_create(&labels)
                .set(*count as i64);
            current.push(labels);
        }
        keys.insert(key, current);
    }

    /// Records whether the last config load or reload worked.
    pub fn set_reload_successful(&self, successful: bool) {
        self.reload_successful.set(i64::from(successful));
    }

    /// Drops the last-result gauges of slices outside `planned`: after a reload they would
    /// stand still forever and look like a probe that stopped. Counters and histograms stay:
    /// they must never go backwards.
    pub fn retain_slices(&self, planned: &HashSet<SliceKey>) {
        let mut slices = self.slices.lock().expect("metrics lock poisoned");
        slices.retain(|slice| {
            if planned.contains(slice) {
                return true;
            }
            let labels = SliceLabels::from(slice);
            self.probe_success.remove(&labels);
            self.last_probe.remove(&labels);
            false
        });
    }

    /// Encodes every metric in `format`.
    pub fn encode(&self, format: Format) -> Result<String, std::fmt::Error> {
        let mut text = String::new();
        match format {
            Format::PrometheusText => {
                prometheus_client::encoding::prometheus_text::encode(&mut text, &self.registry)?
            }
            Format::OpenMetrics => {
                prometheus_client::encoding::text::encode(&mut text, &self.registry)?
            }
        }
        Ok(text)
    }
}

impl Default for Metrics {
    fn default() -> Metrics {
        Metrics::new()
    }
}

#[cfg(test)]
mod tests;
