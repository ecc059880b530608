//! From slice states to a scope: which dimensions separate the failing slices from the others,
//! what the failures have in common, and which of the nine scopes that adds up to.
//!
//! Reads summaries; keeps no state. The wording for people lives in `headline`.

use std::collections::{BTreeMap, BTreeSet};
use std::time::{Duration, SystemTime};

use crate::slice::{Operation, SizeBuckets, SliceKey};

use super::Scope;
use super::config::VerdictConfig;
use super::stats;
use super::window::{Cause, SliceState, SliceSummary, StateRules};

/// A label that slices differ by.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum Dimension {
    Provider,
    Operation,
    ApiVersion,
    Region,
    BatchSize,
}

impl Dimension {
    const ALL: [Dimension; 5] = [
        Dimension::Provider,
        Dimension::Operation,
        Dimension::ApiVersion,
        Dimension::Region,
        Dimension::BatchSize,
    ];

    /// The label name, as in metrics and `explained_by`.
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Dimension::Provider => "provider",
            Dimension::Operation => "operation",
            Dimension::ApiVersion => "api_version",
            Dimension::Region => "region",
            Dimension::BatchSize => "batch_size",
        }
    }

    fn value(self, key: &SliceKey) -> &str {
        match self {
            Dimension::Provider => &key.provider,
            Dimension::Operation => key.operation.as_str(),
            Dimension::ApiVersion => &key.api_version,
            Dimension::Region => &key.region,
            Dimension::BatchSize => &key.batch_size,
        }
    }
}

/// Everything the verdict concluded, before it is worded.
#[derive(Debug, Clone)]
pub(crate) struct Finding {
    pub(crate) scope: Scope,
    /// Dimension → the failing values, for every dimension that separates failing slices from
    /// comparable ones. Values are in display order.
    pub(crate) explained_by: BTreeMap<Dimension, Vec<String>>,
    /// Dimension → the values of comparable non-failing slices the restriction leaves out: the
    /// contrast ("get fails *while get_state is healthy*").
    pub(crate) contrast: BTreeMap<Dimension, Vec<String>>,
    /// True when no slice is healthy yet, so the failing slices were compared with slices whose
    /// state is still unknown.
    pub(crate) provisional: bool,
    /// How many slices are failing.
    pub(crate) failing_slices: usize,
    /// The most common failure among failing slices (`503`, `timeout`, ...) and its share.
    pub(crate) dominant_failure: Option<(String, f64)>,
    /// The cause of most failures in failing slices.
    pub(crate) dominant_cause: Option<Cause>,
    /// Median latency of failed requests in failing slices.
    pub(crate) failure_latency: Option<Duration>,
    /// Median latency of successful requests of the failing operations, in any slice.
    pub(crate) success_latency: Option<Duration>,
    /// Whether failures take long enough to look like a server-side deadline.
    pub(crate) slow_failures: bool,
    /// The first failed request among failing slices still in the window.
    pub(crate) first_failure_at: Option<SystemTime>,
    /// Regions seen in the window, in display order.
    pub(crate) regions_seen: Vec<String>,
    /// Whether the control operation is failing: one of its slices on its own, or its slices
    /// pooled over the providers, regions and API versions of the failing slices.
    pub(crate) control_failing: bool,
    /// Whether the control fails at the network level, by the same two measures.
    pub(crate) control_network: bool,
}

/// Classifies the summaries of every slice in the window.
pub(crate) fn classify(
    summaries: &[SliceSummary],
    config: &VerdictConfig,
    rules: &StateRules,
    buckets: &SizeBuckets,
) -> Finding {
    let failing: Vec<&SliceSummary> = summaries
        .iter()
        .filter(|s| s.state == SliceState::Failing)
        .collect();
    let regions_seen = sorted_values(
        Dimension::Region,
        summaries.iter().map(|s| s.key.region.clone()),
        buckets,
    );

    // Slices to contrast with: enough requests and a ratio under the threshold, whether or not
    // the interval is already narrow enough to call them healthy. Before any slice qualifies,
    // the younger ones with a ratio under the threshold stand in, and the finding says it is
    // provisional. A slice failing more often than the threshold never stands in: it is not
    // proven failing yet, but it is no evidence of health either.
    let looks_fine = |s: &&SliceSummary| {
        s.state != SliceState::Failing && s.error_ratio() <= config.failure_threshold
    };
    let mut comparisons: Vec<&SliceSummary> = summaries
        .iter()
        .filter(looks_fine)
        .filter(|s| s.requests >= config.min_requests)
        .collect();
    if comparisons.is_empty() {
        comparisons = summaries.iter().filter(looks_fine).collect();
    }
    // With nothing left to compare (everything fails or looks like it), the scope is firm, not
    // provisional.
    let provisional = !failing.is_empty()
        && !comparisons.is_empty()
        && !comparisons.iter().any(|s| s.state == SliceState::Healthy);

    let (explained_by, contrast) = separate(&failing, &comparisons, buckets);
    let (control_failing, control_network) = judge_control(summaries, &failing, config, rules);
    let mut finding = Finding {
        scope: Scope::None,
        explained_by,
        contrast,
        provisional,
        failing_slices: failing.len(),
        dominant_failure: None,
        dominant_cause: None,
        failure_latency: None,
        success_latency: None,
        slow_failures: false,
        first_failure_at: failing.iter().filter_map(|s| s.first_failure_at).min(),
        regions_seen,
        control_failing,
        control_network,
    };
    if failing.is_empty() {
        return finding;
    }

    describe_failures(&mut finding, &failing, summaries, config);
    finding.scope = choose_scope(&finding, &failing, config, buckets);
    finding
}

/// The smallest box (a set of values per dimension) holding every failing slice, and the
/// dimensions whose restriction keeps comparable slices out of it.
///
/// A dimension is listed when dropping its restriction would let more comparison slices into
/// the box: that restriction does work. When none does on its own (two restrictions each
/// suffice), every dimension that excludes some comparison value is listed instead.
fn separate(
    failing: &[&SliceSummary],
    comparisons: &[&SliceSummary],
    buckets: &SizeBuckets,
) -> (
    BTreeMap<Dimension, Vec<String>>,
    BTreeMap<Dimension, Vec<String>>,
) {
    let mut explained_by = BTreeMap::new();
    let mut contrast = BTreeMap::new();
    if failing.is_empty() {
        return (explained_by, contrast);
    }

    let boxed: BTreeMap<Dimension, BTreeSet<&str>> = Dimension::ALL
        .into_iter()
        .map(|d| (d, failing.iter().map(|s| d.value(&s.key)).collect()))
        .collect();
    let inside = |key: &SliceKey, skip: Option<Dimension>| {
        boxed
            .iter()
            .all(|(&d, values)| Some(d) == skip || values.contains(d.value(key)))
    };
    let intruders =
        |skip: Option<Dimension>| comparisons.iter().filter(|s| inside(&s.key, skip)).count();

    let baseline = intruders(None);
    let mut separating: Vec<Dimension> = Dimension::ALL
        .into_iter()
        .filter(|&d| intruders(Some(d)) > baseline)
        .collect();
    if separating.is_empty() {
        separating = Dimension::ALL
            .into_iter()
            .filter(|d| {
                comparisons
                    .iter()
                    .any(|s| !boxed[d].contains(d.value(&s.key)))
            })
            .collect();
    }

    for dimension in separating {
        let failing_values = boxed[&dimension].iter().map(|v| v.to_string());
        explained_by.insert(dimension, sorted_values(dimension, failing_values, buckets));

        let left_out = comparisons
            .iter()
            .filter(|s| inside(&s.key, Some(dimension)))
            .map(|s| dimension.value(&s.key))
            .filter(|v| !boxed[&dimension].contains(v))
            .map(str::to_string);
        contrast.insert(dimension, sorted_values(dimension, left_out, buckets));
    }
    (explained_by, contrast)
}

/// Fills in what the failed requests have in common: cause, code and latency.
fn describe_failures(
    finding: &mut Finding,
    failing: &[&SliceSummary],
    all: &[SliceSummary],
    config: &VerdictConfig,
) {
    let total: u64 = failing.iter().map(|s| s.failures).sum();

    let mut causes: BTreeMap<Cause, u64> = BTreeMap::new();
    let mut labels: BTreeMap<&str, u64> = BTreeMap::new();
    for summary in failing {
        for (&cause, &count) in &summary.causes {
            *causes.entry(cause).or_default() += count;
        }
        for (label, &count) in &summary.failure_labels {
            *labels.entry(label).or_default() += count;
        }
    }
    // Ties go to the first in order, which keeps the verdict stable across evaluations.
    finding.dominant_cause = most_common(&causes).map(|(cause, _)| cause);
    finding.dominant_failure = most_common(&labels)
        .map(|(label, count)| (label.to_string(), count as f64 / total.max(1) as f64));

    let mut failure_durations: Vec<Duration> = failing
        .iter()
        .flat_map(|s| s.failure_durations.iter().copied())
        .collect();
    finding.failure_latency = stats::median(&mut failure_durations);

    let failing_operations: BTreeSet<Operation> = failing.iter().map(|s| s.key.operation).collect();
    let mut success_durations: Vec<Duration> = all
        .iter()
        .filter(|s| failing_operations.contains(&s.key.operation))
        .flat_map(|s| s.success_durations.iter().copied())
        .collect();
    finding.success_latency = stats::median(&mut success_durations);

    finding.slow_failures = finding.failure_latency.is_some_and(|failure| {
        let absolute = failure >= config.slow_failure;
        let relative = config.slow_failure_factor > 0.0
            && finding.success_latency.is_some_and(|ok| {
                failure.as_secs_f64() >= config.slow_failure_factor * ok.as_secs_f64()
            });
        absolute || relative
    });
}

/// Picks the scope: a dominant cause first, then the most specific separating dimension.
fn choose_scope(
    finding: &Finding,
    failing: &[&SliceSummary],
    config: &VerdictConfig,
    buckets: &SizeBuckets,
) -> Scope {
    let explains = |d: Dimension| finding.explained_by.contains_key(&d);

    // A cause that dominates the failures names the scope whatever their shape.
    match finding.dominant_cause {
        Some(Cause::Auth) if dominates(failing, Cause::Auth, config) => return Scope::Credentials,
        Some(Cause::Quota) if dominates(failing, Cause::Quota, config) => return Scope::Quota,
        _ => {}
    }

    // Network-level failures are only ours when the control fails the same way and no healthy
    // region or version shows the path works elsewhere.
    let network = finding.dominant_cause == Some(Cause::Network)
        && dominates(failing, Cause::Network, config);
    if network
        && finding.control_network
        && !explains(Dimension::Region)
        && !explains(Dimension::ApiVersion)
    {
        return Scope::ProbeLocal;
    }

    // The control failing together with batch operations, in every region and version, means
    // the fault is not about batches. The control failing alone is just one more operation.
    let batch_operation_failing = failing.iter().any(|s| !s.key.operation.is_control());
    if finding.control_failing
        && batch_operation_failing
        && !explains(Dimension::Region)
        && !explains(Dimension::ApiVersion)
    {
        return Scope::Widespread;
    }

    if explains(Dimension::BatchSize) && larger_buckets_fail(finding, failing, buckets) {
        return Scope::BatchSize;
    }
    if explains(Dimension::Operation) && !(finding.control_failing && batch_operation_failing) {
        return Scope::Operation;
    }
    if explains(Dimension::ApiVersion) {
        return Scope::ApiVersion;
    }
    if explains(Dimension::Region) {
        return Scope::Regional;
    }
    // A batch size bucket in the middle, or a control-only fault, is still confined.
    if explains(Dimension::BatchSize) {
        return Scope::BatchSize;
    }
    if explains(Dimension::Operation) {
        return Scope::Operation;
    }
    Scope::Widespread
}

/// Whether the control operation fails, and whether at the network level: `(failing,
/// network)`.
///
/// A control slice failing on its own counts. So do the control slices taken together, over
/// the providers, regions and API versions of the failing slices, judged by the same interval,
/// threshold and `min_requests` as one slice. The control is sent once per region and API
/// version while per-job operations are sent once per job slot, so its slices hold the fewest
/// requests and are the last to be failing on their own: judged slice by slice, a control that
/// fails with everything else would lag behind the batch operations, and the verdict would
/// call the onset of a provider-wide outage or of a local network fault `operation`. Pooling
/// asks the question the scope needs ("does the control fail where the batch operations
/// fail?") without making a lone control slice any easier to fail on noise.
fn judge_control(
    summaries: &[SliceSummary],
    failing: &[&SliceSummary],
    config: &VerdictConfig,
    rules: &StateRules,
) -> (bool, bool) {
    let failing_alone = failing.iter().any(|s| s.key.operation.is_control());
    let network_alone = failing
        .iter()
        .any(|s| s.key.operation.is_control() && dominates(&[s], Cause::Network, config));

    // The control slices that share a provider, a region and an API version with some failing
    // slice: where the batch operations fail.
    const WHERE: [Dimension; 3] = [
        Dimension::Provider,
        Dimension::Region,
        Dimension::ApiVersion,
    ];
    let where_failing = |key: &SliceKey| {
        WHERE
            .iter()
            .all(|d| failing.iter().any(|s| d.value(&s.key) == d.value(key)))
    };
    let control: Vec<&SliceSummary> = summaries
        .iter()
        .filter(|s| s.key.operation.is_control() && where_failing(&s.key))
        .collect();
    let requests: u64 = control.iter().map(|s| s.requests).sum();
    let failures: u64 = control.iter().map(|s| s.failures).sum();
    let pooled_failing = requests >= rules.min_requests
        && stats::wilson(failures, requests, rules.z).low > rules.failure_threshold;
    let pooled_network = pooled_failing && dominates(&control, Cause::Network, config);

    let failing = failing_alone || pooled_failing;
    let network = network_alone || pooled_network;
    (failing, network)
}

/// Whether `cause` accounts for at least the configured share of the slices' failures.
fn dominates(slices: &[&SliceSummary], cause: Cause, config: &VerdictConfig) -> bool {
    let total: u64 = slices.iter().map(|s| s.failures).sum();
    let matching: u64 = slices.iter().filter_map(|s| s.causes.get(&cause)).sum();
    total > 0 && matching as f64 >= config.dominance * total as f64
}

/// Whether every failing bucket is larger than every bucket left out as healthy.
fn larger_buckets_fail(
    finding: &Finding,
    failing: &[&SliceSummary],
    buckets: &SizeBuckets,
) -> bool {
    let failing_ranks: Option<Vec<usize>> = failing
        .iter()
        .map(|s| buckets.rank(&s.key.batch_size))
        .collect();
    let Some(smallest_failing) = failing_ranks.and_then(|ranks| ranks.into_iter().min()) else {
        return false;
    };

    let healthy_ranks: Vec<usize> = finding
        .contrast
        .get(&Dimension::BatchSize)
        .into_iter()
        .flatten()
        .filter_map(|label| buckets.rank(label))
        .collect();
    !healthy_ranks.is_empty() && healthy_ranks.iter().all(|&rank| rank < smallest_failing)
}

/// The key with the highest count; the first such key on ties.
fn most_common<K: Copy + Ord>(counts: &BTreeMap<K, u64>) -> Option<(K, u64)> {
    counts
        .iter()
        .fold(None, |best: Option<(K, u64)>, (&key, &count)| match best {
            Some((_, top)) if top >= count => best,
            _ => Some((key, count)),
        })
}

/// Distinct values in the order people expect: operations as listed in [`Operation::ALL`],
/// batch size buckets smallest first with `none` last, anything else alphabetically.
pub(crate) fn sorted_values(
    dimension: Dimension,
    values: impl Iterator<Item = String>,
    buckets: &SizeBuckets,
) -> Vec<String> {
    let distinct: BTreeSet<String> = values.collect();
    let mut sorted: Vec<String> = distinct.into_iter().collect();
    match dimension {
        Dimension::Operation => sorted.sort_by_key(|v| {
            Operation::from_label(v)
                .and_then(|op| Operation::ALL.iter().position(|&o| o == op))
                .unwrap_or(usize::MAX)
        }),
        Dimension::BatchSize => sorted.sort_by_key(|v| buckets.rank(v).unwrap_or(usize::MAX)),
        _ => {}
    }
    sorted
}

#[cfg(test)]
mod tests;
