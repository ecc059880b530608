//! Fault rules: which requests go wrong, and how.
//!
//! A [`FaultRule`] matches on what the simulator knows about a request (operation, API version,
//! region, listener, batch size, response size, time since start) and carries at most one
//! [`Effect`]. Rules are tried in order; the first that matches and wins its probability roll
//! decides the answer. This module owns the rule syntax, its validation and the matching; the
//! effects themselves are carried out by the request handler and the connection layer.

use std::sync::{Arc, Mutex, PoisonError, RwLock};
use std::time::Duration;

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde::{Deserialize, Serialize};

mod effect;

pub use effect::Effect;

/// Every kind of request the simulator answers, as fault rules name them.
///
/// The first five are the probe's operations ([`crate::slice::Operation`]); `create`, `cancel`
/// and `delete` exist so tests can break the job life cycle too.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SimOperation {
    /// `GET {version}/batches/{id}` without `fields`: the whole job record.
    Get,
    /// `GET {version}/batches/{id}?fields=...`: a partial job record.
    GetState,
    /// `GET {version}/batches`.
    List,
    /// `GET {version}/models` and `GET {version}/models/{model}`.
    Models,
    /// `GET download/{version}/files/{id}:download?alt=media`.
    Download,
    /// `POST {version}/models/{model}:batchGenerateContent`.
    Create,
    /// `POST {version}/batches/{id}:cancel`.
    Cancel,
    /// `DELETE {version}/batches/{id}`.
    Delete,
}

impl SimOperation {
    /// The spelling used in scenario files and logs.
    pub fn as_str(self) -> &'static str {
        match self {
            SimOperation::Get => "get",
            SimOperation::GetState => "get_state",
            SimOperation::List => "list",
            SimOperation::Models => "models",
            SimOperation::Download => "download",
            SimOperation::Create => "create",
            SimOperation::Cancel => "cancel",
            SimOperation::Delete => "delete",
        }
    }

    /// Whether the operation changes the simulator's jobs. Faults on these are decided before
    /// the change, so a rule that answers an error leaves the jobs as they were.
    pub fn is_mutation(self) -> bool {
        matches!(
            self,
            SimOperation::Create | SimOperation::Cancel | SimOperation::Delete
        )
    }
}

impl From<crate::slice::Operation> for SimOperation {
    fn from(operation: crate::slice::Operation) -> SimOperation {
        use crate::slice::Operation;
        match operation {
            Operation::Get => SimOperation::Get,
            Operation::GetState => SimOperation::GetState,
            Operation::List => SimOperation::List,
            Operation::Models => SimOperation::Models,
            Operation::Download => SimOperation::Download,
        }
    }
}

/// An inclusive range of numbers; a missing bound is open.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Range {
    /// The smallest value that matches.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min: Option<u64>,
    /// The largest value that matches.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max: Option<u64>,
}

impl Range {
    /// Whether `value` lies within the range.
    pub fn contains(&self, value: u64) -> bool {
        self.min.is_none_or(|min| value >= min) && self.max.is_none_or(|max| value <= max)
    }
}

/// One fault rule. Every matcher left out matches everything.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FaultRule {
    /// A label for logs and `GET /_simulator/faults`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Operations the rule applies to.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub operations: Vec<SimOperation>,
    /// API versions (the first path segment, e.g. `v1beta`) the rule applies to.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub api_versions: Vec<String>,
    /// Region names (the listener a request arrived on) the rule applies to.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub regions: Vec<String>,
    /// Listener positions, counted from 1 in the order the listeners were given. Lets a
    /// built-in scenario name "the second region" whatever it is called.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub listeners: Vec<usize>,
    /// The job's request count (for `create`, the number of requests sent). When set, requests
    /// that touch no job (`list`, `models`, unknown ids) never match.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub batch_size: Option<Range>,
    /// Bytes of the body a healthy answer would have. When set, mutations (`create`,
    /// `cancel`, `delete`), whose body is not known beforehand, never match.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub response_bytes: Option<Range>,
    /// The rule applies from this long after the simulator started (scaled).
    #[serde(
        default,
        with = "humantime_serde",
        skip_serializing_if = "Option::is_none"
    )]
    pub after: Option<Duration>,
    /// The rule applies until this long after the simulator started (scaled).
    #[serde(
        default,
        with = "humantime_serde",
        skip_serializing_if = "Option::is_none"
    )]
    pub until: Option<Duration>,
    /// The chance, from 0 to 1, that a matching request is affected. A request that loses the
    /// roll goes on to the next rule.
    #[serde(default = "always")]
    pub probability: f64,
    /// A pause before the effect (or before the healthy answer when there is no effect),
    /// scaled.
    #[serde(
        default,
        with = "humantime_serde",
        skip_serializing_if = "Option::is_none"
    )]
    pub delay: Option<Duration>,
    /// A server-side deadline, scaled: the effect comes after this long. A request header
    /// `X-Server-Timeout: N` moves it to N seconds (scaled), and N >= 3600 turns the answer into
    /// 504 DEADLINE_EXCEEDED.
    #[serde(
        default,
        with = "humantime_serde",
        skip_serializing_if = "Option::is_none"
    )]
    pub deadline: Option<Duration>,
    /// What happens; without an effect the rule only adds latency.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub effect: Option<Effect>,
}

fn always() -> f64 {
    1.0
}

impl FaultRule {
    /// A rule that matches every request and has no effect; a base for building rules in code.
    pub fn any() -> FaultRule {
        FaultRule {
            name: None,
            operations: Vec::new(),
            api_versions: Vec::new(),
            regions: Vec::new(),
            listeners: Vec::new(),
            batch_size: None,
            response_bytes: None,
            after: None,
            until: None,
            probability: 1.0,
            delay: None,
            deadline: None,
            effect: None,
        }
    }

    /// Checks values serde cannot: probability, status codes, range and window order.
    pub fn validate(&self) -> Result<(), String> {
        if !(0.0..=1.0).contains(&self.probability) {
            return Err(format!(
                "probability {} is not between 0 and 1",
                self.probability
            ));
        }
        let status = match &self.effect {
            Some(Effect::Status(status)) => Some(*status),
            Some(Effect::RetryAfter { status, .. }) => Some(*status),
            _ => None,
        };
        if let Some(status) = status
            && !(400..=599).contains(&status)
        {
            return Err(format!(
                "status {status} is not an HTTP error status (400-599)"
            ));
        }
        for (what, range) in [
            ("batch_size", &self.batch_size),
            ("response_bytes", &self.response_bytes),
        ] {
            if let Some(Range {
                min: Some(min),
                max: Some(max),
            }) = range
                && min > max
            {
                return Err(format!("{what}: min {min} is larger than max {max}"));
            }
        }
        if let (Some(after), Some(until)) = (self.after, self.until)
            && after >= until
        {
            return Err("`after` must come before `until`".to_string());
        }
        if self.listeners.contains(&0) {
            return Err("listeners are counted from 1".to_string());
        }
        Ok(())
    }

    /// Whether the rule applies to a request, before the probability roll.
    pub fn matches(&self, request: &RequestFacts<'_>, time_scale: f64) -> bool {
        let listed =
            |list: &[String], value: &str| list.is_empty() || list.iter().any(|v| v == value);

        if !self.operations.is_empty() && !self.operations.contains(&request.operation) {
            return false;
        }
        if !listed(&self.api_versions, request.api_version)
            || !listed(&self.regions, request.region)
        {
            return false;
        }
        if !self.listeners.is_empty() && !self.listeners.contains(&request.listener) {
            return false;
        }
        if let Some(range) = self.batch_size
            && !request.batch_size.is_some_and(|size| range.contains(size))
        {
            return false;
        }
        if let Some(range) = self.response_bytes
            && !request
                .response_bytes
                .is_some_and(|bytes| range.contains(bytes))
        {
            return false;
        }

        // The window is written in scenario time, the clock runs in real time.
        let after = self.after.map(|d| scaled(d, time_scale));
        let until = self.until.map(|d| scaled(d, time_scale));
        after.is_none_or(|after| request.elapsed >= after)
            && until.is_none_or(|until| request.elapsed < until)
    }

    /// The rule's label for logs: its name, or its position when unnamed.
    pub fn label(&self, index: usize) -> String {
        self.name
            .clone()
            .unwrap_or_else(|| format!("#{}", index + 1))
    }
}

/// What the simulator knows about a request when it looks for a fault.
#[derive(Debug, Clone, Copy)]
pub struct RequestFacts<'a> {
    /// The operation.
    pub operation: SimOperation,
    /// The API version path segment.
    pub api_version: &'a str,
    /// The region of the listener the request arrived on.
    pub region: &'a str,
    /// The position of that listener, from 1.
    pub listener: usize,
    /// The request count of the job concerned, if any.
    pub batch_size: Option<u64>,
    /// The size of the healthy body, when known before answering.
    pub response_bytes: Option<u64>,
    /// Real time since the simulator started.
    pub elapsed: Duration,
}

/// A duration in scenario time turned into real time.
pub fn scaled(duration: Duration, time_scale: f64) -> Duration {
    duration.mul_f64(time_scale)
}

/// The live rule list and the random numbers behind `probability`, shared by all listeners.
#[derive(Debug)]
pub(crate) struct FaultState {
    rules: RwLock<Arc<Vec<FaultRule>>>,
    rng: Mutex<StdRng>,
    time_scale: f64,
}

impl FaultState {
    pub(crate) fn new(rules: Vec<FaultRule>, seed: Option<u64>, time_scale: f64) -> FaultState {
        let rng = match seed {
            Some(seed) => StdRng::seed_from_u64(seed),
            None => StdRng::from_os_rng(),
        };
        FaultState {
            rules: RwLock::new(Arc::new(rules)),
            rng: Mutex::new(rng),
            time_scale,
        }
    }

    pub(crate) fn time_scale(&self) -> f64 {
        self.time_scale
    }

    pub(crate) fn rules(&self) -> Arc<Vec<FaultRule>> {
        self.rules
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    pub(crate) fn replace(&self, rules: Vec<FaultRule>) {
        *self.rules.write().unwrap_or_else(PoisonError::into_inner) = Arc::new(rules);
    }

    /// The first rule that matches and wins its roll, with its label.
    pub(crate) fn pick(&self, request: &RequestFacts<'_>) -> Option<(String, FaultRule)> {
        let rules = self.rules();
        for (index, rule) in rules.iter().enumerate() {
            if !rule.matches(request, self.time_scale) || !self.roll(rule.probability) {
                continue;
            }
            return Some((rule.label(index), rule.clone()));
        }
        None
    }

    fn roll(&self, probability: f64) -> bool {
        if probability >= 1.0 {
            return true;
        }
        if probability <= 0.0 {
            return false;
        }
        let mut rng = self.rng.lock().unwrap_or_else(PoisonError::into_inner);
        rng.random_bool(probability)
    }
}

#[cfg(test)]
mod tests;
