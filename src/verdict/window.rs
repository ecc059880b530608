//! The sliding window of one slice: the recent observations it keeps and the summary the verdict
//! reads from them (counts, Wilson interval, state, latencies, causes of failure).
//!
//! Owns per-slice bookkeeping only; comparing slices with each other is the job of `scope`.

use std::collections::{BTreeMap, VecDeque};
use std::time::{Duration, SystemTime};

use serde::{Deserialize, Serialize};

use crate::outcome::{Observation, Outcome};
use crate::slice::SliceKey;

use super::stats::{self, Interval};

/// What the window says about one slice.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SliceState {
    /// The lower bound of the error ratio's interval is above the failure threshold.
    Failing,
    /// The upper bound is below the failure threshold.
    Healthy,
    /// Too few requests, or an interval that straddles the threshold.
    Unknown,
}

impl SliceState {
    /// Every state, in the order the status page and metrics list them.
    pub const ALL: [SliceState; 3] = [
        SliceState::Failing,
        SliceState::Healthy,
        SliceState::Unknown,
    ];

    /// The label value.
    pub fn as_str(self) -> &'static str {
        match self {
            SliceState::Failing => "failing",
            SliceState::Healthy => "healthy",
            SliceState::Unknown => "unknown",
        }
    }
}

/// Why a failed request failed, coarse enough to say who should act.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub(crate) enum Cause {
    /// No HTTP response: DNS, connect, TLS or a timeout.
    Network,
    /// 401 or 403: the key or its permissions.
    Auth,
    /// 429: quota or rate limits.
    Quota,
    /// Any 5xx.
    Server,
    /// A 4xx other than 401, 403 and 429.
    Client,
    /// A response whose body broke off or was not what the operation promises, or a status
    /// outside the classes above.
    Other,
}

/// The part of an observation the window keeps.
#[derive(Debug, Clone)]
struct Sample {
    finished_at: SystemTime,
    outcome: Outcome,
    status: Option<u16>,
    duration: Duration,
}

impl Sample {
    fn is_failure(&self) -> bool {
        self.outcome != Outcome::Success || self.status.is_some_and(|s| s >= 500)
    }

    fn is_client_error(&self) -> bool {
        self.status
            .is_some_and(|s| (400..500).contains(&s) && s != 429)
    }

    fn cause(&self) -> Cause {
        if self.outcome.is_network_level() {
            return Cause::Network;
        }
        match self.status {
            Some(401 | 403) => Cause::Auth,
            Some(429) => Cause::Quota,
            Some(500..=599) => Cause::Server,
            Some(400..=499) => Cause::Client,
            _ => Cause::Other,
        }
    }

    /// The failure as people name it: the status code, or the outcome when the status was fine
    /// or never came.
    fn failure_label(&self) -> String {
        match self.status {
            Some(status) if !(200..300).contains(&status) => status.to_string(),
            _ => self.outcome.as_str().to_string(),
        }
    }
}

/// The observations of one slice inside the window, oldest first.
#[derive(Debug, Clone, Default)]
pub(crate) struct SliceWindow {
    samples: VecDeque<Sample>,
}

impl SliceWindow {
    /// Adds an observation, dropping the oldest ones beyond `max_samples`.
    pub(crate) fn push(&mut self, observation: &Observation, max_samples: usize) {
        let sample = Sample {
            finished_at: observation.finished_at,
            outcome: observation.outcome,
            status: observation.status,
            duration: observation.duration,
        };

        // Probes finish out of order when checks overlap; keep the deque sorted by time so
        // pruning can stop at the first sample inside the window.
        let position = self
            .samples
            .iter()
            .rposition(|s| s.finished_at <= sample.finished_at)
            .map_or(0, |p| p + 1);
        self.samples.insert(position, sample);

        while self.samples.len() > max_samples {
            self.samples.pop_front();
        }
    }

    /// Drops every observation that finished before `cutoff`.
    pub(crate) fn prune(&mut self, cutoff: SystemTime) {
        while self.samples.front().is_some_and(|s| s.finished_at < cutoff) {
            self.samples.pop_front();
        }
    }

    /// Whether nothing is left in the window.
    pub(crate) fn is_empty(&self) -> bool {
        self.samples.is_empty()
    }

    /// Counts and classifies what the window holds.
    pub(crate) fn summarize(&self, key: &SliceKey, rules: &StateRules) -> SliceSummary {
        let mut summary = SliceSummary {
            key: key.clone(),
            requests: self.samples.len() as u64,
            failures: 0,
            client_errors: 0,
            interval: Interval {
                low: 0.0,
                high: 1.0,
            },
            state: SliceState::Unknown,
            failure_durations: Vec::new(),
            success_durations: Vec::new(),
            causes: BTreeMap::new(),
            failure_labels: BTreeMap::new(),
            first_failure_at: None,
        };

        for sample in &self.samples {
            if sample.is_client_error() {
                summary.client_errors += 1;
            }
            if !sample.is_failure() {
                summary.success_durations.push(sample.duration);
                continue;
            }
            summary.failures += 1;
            summary.failure_durations.push(sample.duration);
            *summary.causes.entry(sample.cause()).or_default() += 1;
            *summary
                .failure_labels
                .entry(sample.failure_label())
                .or_default() += 1;
            summary.first_failure_at.get_or_insert(sample.finished_at);
        }

        summary.interval = stats::wilson(summary.failures, summary.requests, rules.z);
        // TODO: no hysteresis: a slice hovering at the threshold can flip between failing and
        // unknown from one evaluation to the next, and the scope and its `since` with it.
        summary.state = if summary.requests < rules.min_requests {
            SliceState::Unknown
        } else if summary.interval.low > rules.failure_threshold {
            SliceState::Failing
        } else if summary.interval.high < rules.failure_threshold {
            SliceState::Healthy
        } else {
            SliceState::Unknown
        };
        summary
    }
}

/// The settings that turn counts into a state.
#[derive(Debug, Clone, Copy)]
pub(crate) struct StateRules {
    /// The normal quantile of the interval.
    pub(crate) z: f64,
    /// Fewer requests than this leave the slice unknown.
    pub(crate) min_requests: u64,
    /// The error ratio the interval is compared with.
    pub(crate) failure_threshold: f64,
}

/// One slice's window, counted.
#[derive(Debug, Clone)]
pub(crate) struct SliceSummary {
    pub(crate) key: SliceKey,
    pub(crate) requests: u64,
    pub(crate) failures: u64,
    pub(crate) client_errors: u64,
    pub(crate) interval: Interval,
    pub(crate) state: SliceState,
    pub(crate) failure_durations: Vec<Duration>,
    pub(crate) success_durations: Vec<Duration>,
    pub(crate) causes: BTreeMap<Cause, u64>,
    pub(crate) failure_labels: BTreeMap<String, u64>,
    pub(crate) first_failure_at: Option<SystemTime>,
}

impl SliceSummary {
    /// Failures over requests, 0 without requests.
    pub(crate) fn error_ratio(&self) -> f64 {
        if self.requests == 0 {
            0.0
        } else {
            self.failures as f64 / self.requests as f64
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::slice::Operation;

    fn key() -> SliceKey {
        SliceKey {
            provider: "gemini".to_string(),
            operation: Operation::Get,
            api_version: "v1beta".to_string(),
            region: "eu".to_string(),
            batch_size: "11-100".to_string(),
        }
    }

    fn observation(secs: u64, outcome: Outcome, status: Option<u16>) -> Observation {
        Observation {
            slice: key(),
            outcome,
            status,
            duration: Duration::from_millis(300),
            response_bytes: 0,
            finished_at: SystemTime::UNIX_EPOCH + Duration::from_secs(secs),
            retry_after: None,
            trace_id: None,
        }
    }

    const RULES: StateRules = StateRules {
        z: 1.959_963_984_540_054,
        min_requests: 5,
        failure_threshold: 0.2,
    };

    fn summary_of(pattern: &[(Outcome, Option<u16>)]) -> SliceSummary {
        let mut window = SliceWindow::default();
        for (i, &(outcome, status)) in pattern.iter().enumerate() {
            window.push(&observation(i as u64, outcome, status), 1000);
        }
        window.summarize(&key(), &RULES)
    }

    const OK: (Outcome, Option<u16>) = (Outcome::Success, Some(200));
    const UNAVAILABLE: (Outcome, Option<u16>) = (Outcome::HttpError, Some(503));

    #[test]
    fn state_moves_from_unknown_to_failing_and_to_healthy() {
        assert_eq!(summary_of(&[UNAVAILABLE; 4]).state, SliceState::Unknown);
        assert_eq!(summary_of(&[UNAVAILABLE; 5]).state, SliceState::Failing);
        assert_eq!(summary_of(&[OK; 5]).state, SliceState::Unknown);
        assert_eq!(summary_of(&[OK; 16]).state, SliceState::Healthy);

        let mut straddling = vec![OK; 8];
        straddling.extend([UNAVAILABLE; 2]);
        assert_eq!(summary_of(&straddling).state, SliceState::Unknown);
    }

    #[test]
    fn client_errors_count_as_failures_too() {
        let summary = summary_of(&[
            (Outcome::HttpError, Some(404)),
            (Outcome::HttpError, Some(429)),
            (Outcome::HttpError, Some(403)),
            OK,
        ]);

        assert_eq!(summary.failures, 3);
        assert_eq!(summary.client_errors, 2);
        assert_eq!(summary.causes.get(&Cause::Quota), Some(&1));
        assert_eq!(summary.causes.get(&Cause::Auth), Some(&1));
        assert_eq!(summary.failure_labels.get("404"), Some(&1));
    }

    #[test]
    fn failure_labels_use_the_outcome_without_a_bad_status() {
        let summary = summary_of(&[(Outcome::Timeout, None), (Outcome::InvalidBody, Some(200))]);

        assert_eq!(summary.failure_labels.get("timeout"), Some(&1));
        assert_eq!(summary.failure_labels.get("invalid_body"), Some(&1));
        assert_eq!(summary.causes.get(&Cause::Network), Some(&1));
        assert_eq!(summary.causes.get(&Cause::Other), Some(&1));
    }

    #[test]
    fn out_of_order_observations_are_pruned_by_time() {
        let mut window = SliceWindow::default();
        window.push(&observation(10, Outcome::Success, Some(200)), 1000);
        window.push(&observation(5, Outcome::Success, Some(200)), 1000);
        window.push(&observation(20, Outcome::Success, Some(200)), 1000);

        window.prune(SystemTime::UNIX_EPOCH + Duration::from_secs(8));
        assert_eq!(window.summarize(&key(), &RULES).requests, 2);

        window.prune(SystemTime::UNIX_EPOCH + Duration::from_secs(21));
        assert!(window.is_empty());
    }

    #[test]
    fn the_cap_keeps_the_newest_observations() {
        let mut window = SliceWindow::default();
        for secs in 0..10 {
            window.push(&observation(secs, Outcome::Success, Some(200)), 4);
        }

        window.prune(SystemTime::UNIX_EPOCH + Duration::from_secs(6));
        assert_eq!(window.summarize(&key(), &RULES).requests, 4);
    }
}
