//! Fault rules: which requests go wrong, and how.
//!
//! A [`FaultRule`] matches on what the simulator knows about a request (operation, API version,
//! region, listener, batch size, response size, time since start) and carries at most one
//! [`Effect`]. Rules are tried in order; the first that matches and wins its probability roll
//! decides the answer. This module owns the rule syntax, its validation and the matching; the
//! effects themselves are carried out by the request handler and the connection layer.

use std::fmt;
use std::sync::{Arc, Mutex, PoisonError, RwLock};
use std::time::Duration;

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde::de::{self, MapAccess, Visitor};
use serde::{Deserialize, Deserializer, Serialize};

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

/// What a matching rule does to the request.
///
/// Written as a bare name for the effects without parameters (`hang`) and as a one-key map for
/// the others (`{status: 503}`); JSON uses the same shapes.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Effect {
    /// Answer this HTTP status with Google's error body, e.g. `{status: 503}`.
    Status(u16),
    /// Answer a status with Google's error body and a `Retry-After` header in whole seconds.
    /// The header value is sent as written: it is not multiplied by the time scale.
    RetryAfter {
        /// The HTTP status, usually 429 or 503.
        status: u16,
        /// The pause the client is asked to take.
        #[serde(with = "humantime_serde")]
        after: Duration,
    },
    /// Send the status line, the headers and half of the body, then reset the connection.
    ResetMidBody,
    /// Announce the full `Content-Length`, send half of the body, then close the connection.
    TruncatedBody,
    /// Never answer; the connection stays open until the client gives up.
    Hang,
    /// Read the request, then close the connection before any response.
    Close,
}

const EFFECT_NAMES: &[&str] = &[
    "status",
    "retry_after",
    "reset_mid_body",
    "truncated_body",
    "hang",
    "close",
];

impl<'de> Deserialize<'de> for Effect {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Effect, D::Error> {
        deserializer.deserialize_any(EffectVisitor)
    }
}

/// Reads the two shapes an effect has; serde's own enum support would want YAML tags.
struct EffectVisitor;

impl<'de> Visitor<'de> for EffectVisitor {
    type Value = Effect;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(
            "an effect: hang, close, reset_mid_body, truncated_body, {status: CODE} or \
             {retry_after: {status: CODE, after: DURATION}}",
        )
    }

    fn visit_str<E: de::Error>(self, name: &str) -> Result<Effect, E> {
        match name {
            "reset_mid_body" => Ok(Effect::ResetMidBody),
            "truncated_body" => Ok(Effect::TruncatedBody),
            "hang" => Ok(Effect::Hang),
            "close" => Ok(Effect::Close),
            "status" | "retry_after" => Err(E::custom(format!(
                "`{name}` needs a value, e.g. {{{name}: ...}}"
            ))),
            other => Err(E::unknown_variant(other, EFFECT_NAMES)),
        }
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Effect, A::Error> {
        #[derive(Deserialize)]
        #[serde(deny_unknown_fields)]
        struct RetryAfter {
            status: u16,
            #[serde(with = "humantime_serde")]
            after: Duration,
        }

        let Some(name) = map.next_key::<String>()? else {
            return Err(de::Error::invalid_length(0, &self));
        };
        let effect = match name.as_str() {
            "status" => Effect::Status(map.next_value()?),
            "retry_after" => {
                let RetryAfter { status, after } = map.next_value()?;
                Effect::RetryAfter { status, after }
            }
            other => return Err(de::Error::unknown_variant(other, EFFECT_NAMES)),
        };
        if map.next_key::<String>()?.is_some() {
            return Err(de::Error::custom("an effect is a map with exactly one key"));
        }
        Ok(effect)
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
mod tests {
    use super::*;

    fn facts(operation: SimOperation) -> RequestFacts<'static> {
        RequestFacts {
            operation,
            api_version: "v1beta",
            region: "us",
            listener: 1,
            batch_size: Some(100),
            response_bytes: Some(5000),
            elapsed: Duration::from_secs(10),
        }
    }

    #[test]
    fn empty_rule_matches_everything() {
        assert!(FaultRule::any().matches(&facts(SimOperation::List), 1.0));
    }

    #[test]
    fn each_matcher_can_exclude() {
        let request = facts(SimOperation::Get);
        let mut rule = FaultRule::any();
        rule.operations = vec![SimOperation::GetState];
        assert!(!rule.matches(&request, 1.0));

        let mut rule = FaultRule::any();
        rule.api_versions = vec!["v1".into()];
        assert!(!rule.matches(&request, 1.0));

        let mut rule = FaultRule::any();
        rule.regions = vec!["eu".into()];
        assert!(!rule.matches(&request, 1.0));

        let mut rule = FaultRule::any();
        rule.listeners = vec![2];
        assert!(!rule.matches(&request, 1.0));

        let mut rule = FaultRule::any();
        rule.batch_size = Some(Range {
            min: Some(101),
            max: None,
        });
        assert!(!rule.matches(&request, 1.0));

        let mut rule = FaultRule::any();
        rule.response_bytes = Some(Range {
            min: None,
            max: Some(4999),
        });
        assert!(!rule.matches(&request, 1.0));
    }

    #[test]
    fn size_matchers_skip_requests_without_sizes() {
        let mut request = facts(SimOperation::List);
        request.batch_size = None;
        request.response_bytes = None;
        let mut rule = FaultRule::any();
        rule.batch_size = Some(Range::default());
        assert!(!rule.matches(&request, 1.0));

        let mut rule = FaultRule::any();
        rule.response_bytes = Some(Range::default());
        assert!(!rule.matches(&request, 1.0));
    }

    #[test]
    fn window_is_scaled() {
        let request = facts(SimOperation::Get);
        let mut rule = FaultRule::any();
        rule.after = Some(Duration::from_secs(100));
        assert!(!rule.matches(&request, 1.0));
        assert!(rule.matches(&request, 0.1));

        let mut rule = FaultRule::any();
        rule.until = Some(Duration::from_secs(100));
        assert!(rule.matches(&request, 1.0));
        assert!(!rule.matches(&request, 0.01));
    }

    #[test]
    fn validation_rejects_nonsense() {
        let mut rule = FaultRule::any();
        rule.probability = 1.5;
        assert!(rule.validate().is_err());

        let mut rule = FaultRule::any();
        rule.effect = Some(Effect::Status(200));
        assert!(rule.validate().is_err());

        let mut rule = FaultRule::any();
        rule.batch_size = Some(Range {
            min: Some(5),
            max: Some(4),
        });
        assert!(rule.validate().is_err());

        let mut rule = FaultRule::any();
        rule.after = Some(Duration::from_secs(5));
        rule.until = Some(Duration::from_secs(5));
        assert!(rule.validate().is_err());

        assert!(FaultRule::any().validate().is_ok());
    }

    #[test]
    fn seeded_probability_is_reproducible() {
        let mut rule = FaultRule::any();
        rule.probability = 0.5;
        let run = || {
            let state = FaultState::new(vec![rule.clone()], Some(7), 1.0);
            (0..64)
                .map(|_| state.pick(&facts(SimOperation::Get)).is_some())
                .collect::<Vec<_>>()
        };

        let first = run();

        assert_eq!(first, run());
        assert!(first.iter().any(|hit| *hit) && first.iter().any(|hit| !*hit));
    }

    #[test]
    fn first_matching_rule_wins_and_losers_fall_through() {
        let mut never = FaultRule::any();
        never.name = Some("never".into());
        never.probability = 0.0;
        let mut first = FaultRule::any();
        first.name = Some("first".into());
        let mut second = FaultRule::any();
        second.name = Some("second".into());
        let state = FaultState::new(vec![never, first, second], Some(1), 1.0);

        let (label, _) = state.pick(&facts(SimOperation::Get)).unwrap();

        assert_eq!(label, "first");
    }
}
