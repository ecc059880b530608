//! Prometheus gauges for the verdict: the current scope, and each slice's error ratio and state.
//!
//! Registers into whatever registry the caller hands over, expected to be the `batchprobe`
//! sub-registry, so names here carry no prefix: `outage_scope` is scraped as
//! `batchprobe_outage_scope`. Probe counters and histograms live in [`crate::metrics`].

use std::collections::BTreeSet;
use std::sync::Mutex;
use std::sync::atomic::AtomicU64;

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::registry::Registry;

use super::{Scope, SliceReport, SliceState, Verdict};

/// Labels of `outage_scope`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, EncodeLabelSet)]
struct ScopeLabels {
    scope: &'static str,
}

/// Labels of `slice_error_ratio`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, EncodeLabelSet)]
struct SliceLabels {
    provider: String,
    operation: &'static str,
    api_version: String,
    region: String,
    batch_size: String,
}

/// Labels of `slice_state`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, EncodeLabelSet)]
struct SliceStateLabels {
    provider: String,
    operation: &'static str,
    api_version: String,
    region: String,
    batch_size: String,
    state: &'static str,
}

/// The verdict's gauges. Cheap to share behind an `Arc`; `update` takes `&self`.
#[derive(Debug)]
pub struct VerdictMetrics {
    outage_scope: Family<ScopeLabels, Gauge>,
    slice_error_ratio: Family<SliceLabels, Gauge<f64, AtomicU64>>,
    slice_state: Family<SliceStateLabels, Gauge>,
    /// Slices exported by the last update, so slices that left the window can be removed
    /// instead of freezing at their last value.
    exported: Mutex<BTreeSet<SliceLabels>>,
}

impl VerdictMetrics {
    /// Registers `outage_scope`, `slice_error_ratio` and `slice_state` into `registry`, which
    /// is expected to carry the `batchprobe` prefix.
    pub fn register(registry: &mut Registry) -> VerdictMetrics {
        let metrics = VerdictMetrics {
            outage_scope: Family::default(),
            slice_error_ratio: Family::default(),
            slice_state: Family::default(),
            exported: Mutex::new(BTreeSet::new()),
        };
        registry.register(
            "outage_scope",
            "The verdict on how far failures reach: 1 for the current scope, 0 for the others",
            metrics.outage_scope.clone(),
        );
        registry.register(
            "slice_error_ratio",
            "Failed over total requests of the slice within the verdict window",
            metrics.slice_error_ratio.clone(),
        );
        registry.register(
            "slice_state",
            "The verdict's state of the slice: 1 for the current state, 0 for the other two",
            metrics.slice_state.clone(),
        );

        // Every scope is present from the first scrape, before any verdict exists.
        for scope in Scope::ALL {
            metrics
                .outage_scope
                .get_or_create(&ScopeLabels {
                    scope: scope.as_str(),
                })
                .set(0);
        }
        metrics
    }

    /// Sets every gauge from `verdict` and removes slices it no longer reports.
    pub fn update(&self, verdict: &Verdict) {
        for scope in Scope::ALL {
            let value = i64::from(scope == verdict.scope);
            self.outage_scope
                .get_or_create(&ScopeLabels {
                    scope: scope.as_str(),
                })
                .set(value);
        }

        let mut exported = self
            .exported
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        let mut current = BTreeSet::new();
        for slice in &verdict.slices {
            let labels = slice_labels(slice);
            self.slice_error_ratio
                .get_or_create(&labels)
                .set(slice.error_ratio);
            for state in SliceState::ALL {
                let value = i64::from(state == slice.state);
                self.slice_state
                    .get_or_create(&state_labels(&labels, state))
                    .set(value);
            }
            current.insert(labels);
        }

        for gone in exported.difference(&current) {
            self.slice_error_ratio.remove(gone);
            for state in SliceState::ALL {
                self.slice_state.remove(&state_labels(gone, state));
            }
        }
        *exported = current;
    }
}

fn slice_labels(slice: &SliceReport) -> SliceLabels {
    SliceLabels {
        provider: slice.provider.clone(),
        operation: slice.operation.as_str(),
        api_version: slice.api_version.clone(),
        region: slice.region.clone(),
        batch_size: slice.batch_size.clone(),
    }
}

fn state_labels(slice: &SliceLabels, state: SliceState) -> SliceStateLabels {
    SliceStateLabels {
        provider: slice.provider.clone(),
        operation: slice.operation,
        api_version: slice.api_version.clone(),
        region: slice.region.clone(),
        batch_size: slice.batch_size.clone(),
        state: state.as_str(),
    }
}

#[cfg(test)]
mod tests {
    use std::time::{Duration, SystemTime};

    use prometheus_client::encoding::text::encode;

    use super::*;
    use crate::slice::SizeBuckets;
    use crate::verdict::synthetic::{self, Grid};
    use crate::verdict::{Evaluator, VerdictConfig};

    fn scrape(registry: &Registry) -> String {
        let mut text = String::new();
        encode(&mut text, registry).unwrap();
        text
    }

    #[test]
    fn every_scope_is_exported_before_the_first_verdict() {
        let mut registry = Registry::default();
        VerdictMetrics::register(registry.sub_registry_with_prefix("batchprobe"));
        let text = scrape(&registry);

        for scope in Scope::ALL {
            let line = format!("batchprobe_outage_scope{{scope=\"{}\"}} 0", scope.as_str());
            assert!(text.contains(&line), "missing {line} in\n{text}");
        }
    }

    #[test]
    fn gauges_follow_the_verdict_and_forget_departed_slices() {
        let mut registry = Registry::default();
        let metrics = VerdictMetrics::register(registry.sub_registry_with_prefix("batchprobe"));
        let buckets = SizeBuckets::default();
        let start = SystemTime::UNIX_EPOCH + Duration::from_secs(1_700_000_000);
        let mut evaluator = Evaluator::new(VerdictConfig::default(), buckets.clone());
        let grid = Grid::seed();
        for observation in synthetic::rounds(
            &grid,
            start,
            Duration::from_secs(30),
            20,
            synthetic::seed_outage,
        ) {
            evaluator.record(&observation);
        }

        let verdict = evaluator.evaluate(start + Duration::from_secs(600));
        metrics.update(&verdict);
        let text = scrape(&registry);
        assert!(
            text.contains("batchprobe_outage_scope{scope=\"batch_size\"} 1"),
            "{text}"
        );
        assert!(
            text.contains("batchprobe_outage_scope{scope=\"none\"} 0"),
            "{text}"
        );
        let failing = "batchprobe_slice_state{provider=\"gemini\",operation=\"get\",\
            api_version=\"v1beta\",region=\"europe-west4\",batch_size=\"11-100\",\
            state=\"failing\"} 1";
        assert!(text.contains(failing), "{text}");
        let ratio = "batchprobe_slice_error_ratio{provider=\"gemini\",operation=\"get\",\
            api_version=\"v1\",region=\"us-central1\",batch_size=\"101-500\"} 1.0";
        assert!(text.contains(ratio), "{text}");

        // An hour later the window is empty: every slice series disappears.
        let verdict = evaluator.evaluate(start + Duration::from_secs(3_600));
        metrics.update(&verdict);
        let text = scrape(&registry);
        assert!(
            text.contains("batchprobe_outage_scope{scope=\"none\"} 1"),
            "{text}"
        );
        assert!(!text.contains("batchprobe_slice_state{"), "{text}");
        assert!(!text.contains("batchprobe_slice_error_ratio{"), "{text}");
    }
}
