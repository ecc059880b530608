//! The `verdict:` section of the config file: how long the evidence window is, how sure the
//! verdict must be before it calls a slice failing, and when a failure counts as slow.
//!
//! This module only describes and validates settings; the evaluator reads them.

use std::time::Duration;

use serde::Deserialize;

/// Settings of the outage scope verdict. Every field has a default, so an empty section works.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct VerdictConfig {
    /// How far back the verdict looks, e.g. `15m`. Each slice keeps the observations that
    /// finished within this window. Size it so that every slice gets at least `min_requests`
    /// probes in it: with a check every 5 minutes, a 15 minute window holds only 3.
    #[serde(with = "humantime_serde")]
    pub window: Duration,

    /// A slice with fewer requests than this in the window is `unknown`, whatever they returned.
    /// Keeps one unlucky request out of three from naming an outage.
    pub min_requests: u64,

    /// Confidence of the two-sided Wilson score interval around each slice's error ratio, in
    /// (0, 1). At 0.95 the interval uses z = 1.96.
    pub confidence: f64,

    /// The error ratio that separates failing from healthy, in (0, 1). A slice is `failing` when
    /// the lower bound of its interval is above it and `healthy` when the upper bound is below.
    pub failure_threshold: f64,

    /// The share of failures, in (0, 1], that one cause needs before it names the scope:
    /// 401/403 for `credentials`, 429 for `quota`, network-level errors for `probe_local`.
    pub dominance: f64,

    /// Failures whose median latency reaches this look like a server-side deadline rather than
    /// load shedding, e.g. `20s`.
    #[serde(with = "humantime_serde")]
    pub slow_failure: Duration,

    /// Failures also look like a deadline when their median latency is at least this many times
    /// the median latency of successful requests of the same operations. Catches deadlines in
    /// setups that scale time down, such as the demo. `0` turns the relative test off.
    pub slow_failure_factor: f64,

    /// At most this many observations are kept per slice, newest first; older ones are dropped
    /// even inside the window. Bounds memory when a check runs far more often than expected.
    pub max_observations_per_slice: usize,
}

impl Default for VerdictConfig {
    fn default() -> VerdictConfig {
        VerdictConfig {
            window: Duration::from_secs(15 * 60),
            min_requests: 5,
            confidence: 0.95,
            failure_threshold: 0.2,
            dominance: 0.5,
            slow_failure: Duration::from_secs(20),
            slow_failure_factor: 5.0,
            max_observations_per_slice: 10_000,
        }
    }
}

/// A verdict setting outside its allowed range.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum VerdictConfigError {
    /// A ratio-like setting is not inside its interval.
    #[error("verdict.{field} must be {range}, got {value}")]
    OutOfRange {
        /// The config key under `verdict:`.
        field: &'static str,
        /// The allowed interval, as text.
        range: &'static str,
        /// The configured value.
        value: f64,
    },

    /// A setting that must be positive is zero.
    #[error("verdict.{field} must be greater than zero")]
    Zero {
        /// The config key under `verdict:`.
        field: &'static str,
    },
}

impl VerdictConfig {
    /// Checks every setting against its allowed range; the first offender is returned.
    pub fn validate(&self) -> Result<(), VerdictConfigError> {
        let open_unit = |field, value: f64| {
            if value > 0.0 && value < 1.0 {
                Ok(())
            } else {
                Err(VerdictConfigError::OutOfRange {
                    field,
                    range: "strictly between 0 and 1",
                    value,
                })
            }
        };
        open_unit("confidence", self.confidence)?;
        open_unit("failure_threshold", self.failure_threshold)?;

        if !(self.dominance > 0.0 && self.dominance <= 1.0) {
            return Err(VerdictConfigError::OutOfRange {
                field: "dominance",
                range: "above 0 and at most 1",
                value: self.dominance,
            });
        }
        if !(self.slow_failure_factor >= 0.0 && self.slow_failure_factor.is_finite()) {
            return Err(VerdictConfigError::OutOfRange {
                field: "slow_failure_factor",
                range: "a finite number of at least 0",
                value: self.slow_failure_factor,
            });
        }

        if self.window.is_zero() {
            return Err(VerdictConfigError::Zero { field: "window" });
        }
        if self.min_requests == 0 {
            return Err(VerdictConfigError::Zero {
                field: "min_requests",
            });
        }
        if self.max_observations_per_slice == 0 {
            return Err(VerdictConfigError::Zero {
                field: "max_observations_per_slice",
            });
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_valid() {
        assert_eq!(VerdictConfig::default().validate(), Ok(()));
    }

    #[test]
    fn empty_section_gives_defaults_and_durations_parse() {
        let empty: VerdictConfig = serde_norway::from_str("{}").unwrap();
        assert_eq!(empty, VerdictConfig::default());

        let set: VerdictConfig =
            serde_norway::from_str("window: 5m\nslow_failure: 1500ms\nmin_requests: 8\n").unwrap();
        assert_eq!(set.window, Duration::from_secs(300));
        assert_eq!(set.slow_failure, Duration::from_millis(1500));
        assert_eq!(set.min_requests, 8);
    }

    #[test]
    fn unknown_keys_are_rejected() {
        let result: Result<VerdictConfig, _> = serde_norway::from_str("windw: 5m\n");
        assert!(result.is_err());
    }

    #[test]
    fn out_of_range_settings_name_the_field() {
        let config = VerdictConfig {
            confidence: 1.0,
            ..VerdictConfig::default()
        };
        let message = config.validate().unwrap_err().to_string();
        assert!(message.contains("verdict.confidence"), "{message}");

        let config = VerdictConfig {
            min_requests: 0,
            ..VerdictConfig::default()
        };
        assert_eq!(
            config.validate(),
            Err(VerdictConfigError::Zero {
                field: "min_requests"
            })
        );
    }
}
