//! Scenarios: the jobs the simulator starts with, how created jobs behave, and the fault rules.
//!
//! A scenario is a YAML file or one of the built-in ones embedded from `scenarios/*.yaml`.
//! Unknown keys are errors that name the file, line and column. Every duration in a scenario is
//! in *scenario time* and is multiplied by `time_scale` before the simulator waits on it, so a
//! story told with Google's real 60 s deadline plays out in a second or two.

use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::faults::FaultRule;

/// The built-in scenarios, by name, with their YAML text.
const BUILTINS: &[(&str, &str)] = &[
    ("healthy", include_str!("scenarios/healthy.yaml")),
    ("seed-outage", include_str!("scenarios/seed-outage.yaml")),
    ("widespread", include_str!("scenarios/widespread.yaml")),
    ("region-down", include_str!("scenarios/region-down.yaml")),
    (
        "api-version-down",
        include_str!("scenarios/api-version-down.yaml"),
    ),
    ("get-only", include_str!("scenarios/get-only.yaml")),
    ("size-cliff", include_str!("scenarios/size-cliff.yaml")),
    ("refuse-all", include_str!("scenarios/refuse-all.yaml")),
    ("forbidden", include_str!("scenarios/forbidden.yaml")),
    ("quota", include_str!("scenarios/quota.yaml")),
    ("noise", include_str!("scenarios/noise.yaml")),
];

/// The names of the built-in scenarios, in the order `--help` lists them.
const BUILTIN_NAMES: &[&str] = &[
    "healthy",
    "seed-outage",
    "widespread",
    "region-down",
    "api-version-down",
    "get-only",
    "size-cliff",
    "refuse-all",
    "forbidden",
    "quota",
    "noise",
];

/// The state of a batch job, as scenario files spell it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum BatchState {
    /// Queued.
    Pending,
    /// Being processed.
    Running,
    /// Finished with results.
    Succeeded,
    /// Finished without results.
    Failed,
    /// Cancelled by its owner.
    Cancelled,
    /// Not finished in time.
    Expired,
}

impl BatchState {
    /// The wire spelling, e.g. `BATCH_STATE_SUCCEEDED`.
    pub fn wire_name(self) -> &'static str {
        match self {
            BatchState::Pending => "BATCH_STATE_PENDING",
            BatchState::Running => "BATCH_STATE_RUNNING",
            BatchState::Succeeded => "BATCH_STATE_SUCCEEDED",
            BatchState::Failed => "BATCH_STATE_FAILED",
            BatchState::Cancelled => "BATCH_STATE_CANCELLED",
            BatchState::Expired => "BATCH_STATE_EXPIRED",
        }
    }

    /// Whether the job is finished (`done: true` on the wire).
    pub fn is_terminal(self) -> bool {
        !matches!(self, BatchState::Pending | BatchState::Running)
    }
}

/// Where a finished job's results go.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OutputKind {
    /// In the job record itself (`inlinedResponses`), the way inline requests come back.
    #[default]
    Inline,
    /// In a JSONL file (`responsesFile`), served by the download endpoint.
    File,
}

/// What each synthetic response holds.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ContentKind {
    /// A text part of `bytes_per_response` characters.
    #[default]
    Text,
    /// An `inlineData` PNG part of `bytes_per_response` bytes (base64 on the wire).
    Image,
}

/// A job that exists from the start, in every region.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct JobSeed {
    /// The job id: the job is `batches/{id}`.
    pub id: String,
    /// How many requests the job holds (its batch size).
    pub requests: u64,
    /// The job's state; it never changes unless the job is cancelled or deleted.
    #[serde(default = "succeeded")]
    pub state: BatchState,
    /// Where its results are.
    #[serde(default)]
    pub output: OutputKind,
    /// Text or image responses.
    #[serde(default)]
    pub kind: ContentKind,
    /// Text characters or image bytes in each response.
    #[serde(default = "default_bytes_per_response")]
    pub bytes_per_response: usize,
    /// The model id, without `models/`.
    #[serde(default = "default_model")]
    pub model: String,
    /// The display name; the id when left out.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub display_name: Option<String>,
}

/// How jobs created through the API move and what they produce.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CreatedJobs {
    /// Time in `BATCH_STATE_PENDING` (scaled).
    #[serde(default = "default_pending_for", with = "humantime_serde")]
    pub pending_for: Duration,
    /// Then time in `BATCH_STATE_RUNNING` before `BATCH_STATE_SUCCEEDED` (scaled).
    #[serde(default = "default_running_for", with = "humantime_serde")]
    pub running_for: Duration,
    /// Characters of text in each response of a text job.
    #[serde(default = "default_bytes_per_response")]
    pub bytes_per_response: usize,
    /// Bytes of image in each response of an image job (a model whose name contains `image`,
    /// or requests that ask for the `IMAGE` modality).
    #[serde(default = "default_image_bytes")]
    pub image_bytes: usize,
}

impl Default for CreatedJobs {
    fn default() -> CreatedJobs {
        CreatedJobs {
            pending_for: default_pending_for(),
            running_for: default_running_for(),
            bytes_per_response: default_bytes_per_response(),
            image_bytes: default_image_bytes(),
        }
    }
}

/// A whole scenario, as written in its YAML file.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Scenario {
    /// The built-in name or the file path it was loaded from; not part of the file.
    #[serde(skip)]
    pub name: String,
    /// One or two sentences on what the scenario shows.
    #[serde(default)]
    pub description: String,
    /// Multiplies every duration in the scenario (delays, deadlines, windows, job schedule).
    #[serde(default = "default_time_scale")]
    pub time_scale: f64,
    /// Seed for the random numbers behind fault probabilities; a fresh one each start if left
    /// out.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub seed: Option<u64>,
    /// How jobs created through the API behave.
    #[serde(default)]
    pub created_jobs: CreatedJobs,
    /// Jobs that exist from the start, in every region.
    #[serde(default)]
    pub jobs: Vec<JobSeed>,
    /// Fault rules, tried in order; the first that matches and wins its roll applies.
    #[serde(default)]
    pub faults: Vec<FaultRule>,
}

fn succeeded() -> BatchState {
    BatchState::Succeeded
}
fn default_bytes_per_response() -> usize {
    400
}
fn default_image_bytes() -> usize {
    4096
}
fn default_model() -> String {
    "gemini-2.5-flash".to_string()
}
fn default_pending_for() -> Duration {
    Duration::from_secs(10)
}
fn default_running_for() -> Duration {
    Duration::from_secs(30)
}
fn default_time_scale() -> f64 {
    1.0
}

/// Why a scenario could not be loaded. Messages name the scenario and, for syntax errors, the
/// line and column.
#[derive(Debug, thiserror::Error)]
pub enum ScenarioError {
    /// Neither a built-in name nor an existing file.
    #[error("no built-in scenario or file named {name:?} (built-in scenarios: {known})")]
    Unknown {
        /// What was asked for.
        name: String,
        /// The built-in names, comma-separated.
        known: String,
    },
    /// The file exists but cannot be read.
    #[error("cannot read scenario file {path}")]
    Read {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
    /// The YAML is malformed or has unknown keys or wrong types.
    #[error("{source_name}:{line}:{column}: {message}")]
    Syntax {
        /// The file path or built-in name.
        source_name: String,
        /// The line, from 1 (0 when unknown).
        line: usize,
        /// The column, from 1 (0 when unknown).
        column: usize,
        /// What is wrong.
        message: String,
    },
    /// The YAML parses but a value makes no sense.
    #[error("{source_name}: {message}")]
    Invalid {
        /// The file path or built-in name.
        source_name: String,
        /// What is wrong.
        message: String,
    },
}

impl Scenario {
    /// The names of the built-in scenarios.
    pub fn builtin_names() -> &'static [&'static str] {
        BUILTIN_NAMES
    }

    /// A built-in scenario by name.
    pub fn builtin(name: &str) -> Result<Scenario, ScenarioError> {
        let Some((_, text)) = BUILTINS.iter().find(|(builtin, _)| *builtin == name) else {
            return Err(ScenarioError::Unknown {
                name: name.to_string(),
                known: BUILTIN_NAMES.join(", "),
            });
        };
        Scenario::parse(text, name)
    }

    /// A built-in scenario by name, or else a YAML file at that path.
    pub fn load(name_or_path: &str) -> Result<Scenario, ScenarioError> {
        if BUILTIN_NAMES.contains(&name_or_path) {
            return Scenario::builtin(name_or_path);
        }

        let path = Path::new(name_or_path);
        if !path.exists() {
            return Err(ScenarioError::Unknown {
                name: name_or_path.to_string(),
                known: BUILTIN_NAMES.join(", "),
            });
        }
        let text = std::fs::read_to_string(path).map_err(|source| ScenarioError::Read {
            path: path.to_path_buf(),
            source,
        })?;
        Scenario::parse(&text, &path.display().to_string())
    }

    /// Parses scenario YAML; `source_name` (a path or name) appears in error messages.
    pub fn parse(text: &str, source_name: &str) -> Result<Scenario, ScenarioError> {
        let mut scenario: Scenario = from_yaml(text, source_name)?;
        scenario.name = source_name.to_string();

        scenario
            .validate()
            .map_err(|message| ScenarioError::Invalid {
                source_name: source_name.to_string(),
                message,
            })?;
        Ok(scenario)
    }

    fn validate(&self) -> Result<(), String> {
        if !self.time_scale.is_finite() || self.time_scale <= 0.0 {
            return Err(format!(
                "time_scale {} must be a positive number",
                self.time_scale
            ));
        }
        for (index, job) in self.jobs.iter().enumerate() {
            if job.id.is_empty()
                || !job
                    .id
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '-')
            {
                return Err(format!(
                    "jobs[{index}]: id {:?} must be letters, digits and -",
                    job.id
                ));
            }
            if self.jobs[..index].iter().any(|other| other.id == job.id) {
                return Err(format!("jobs[{index}]: id {:?} appears twice", job.id));
            }
            if job.requests == 0 {
                return Err(format!("jobs[{index}]: a job needs at least one request"));
            }
        }
        validate_rules(&self.faults)
    }
}

/// Parses a fault rule list as sent to `PUT /_simulator/faults`: YAML or JSON, either a list of
/// rules or `{faults: [...]}`.
pub fn parse_fault_rules(text: &str, source_name: &str) -> Result<Vec<FaultRule>, ScenarioError> {
    #[derive(Deserialize)]
    #[serde(deny_unknown_fields)]
    struct Wrapped {
        faults: Vec<FaultRule>,
    }

    // Look at the top level first, so errors inside come from the right type.
    let top: serde_norway::Value = from_yaml(text, source_name)?;
    let rules = if top.is_mapping() {
        from_yaml::<Wrapped>(text, source_name)?.faults
    } else {
        from_yaml::<Vec<FaultRule>>(text, source_name)?
    };

    validate_rules(&rules).map_err(|message| ScenarioError::Invalid {
        source_name: source_name.to_string(),
        message,
    })?;
    Ok(rules)
}

fn validate_rules(rules: &[FaultRule]) -> Result<(), String> {
    for (index, rule) in rules.iter().enumerate() {
        rule.validate()
            .map_err(|message| format!("faults[{index}] ({}): {message}", rule.label(index)))?;
    }
    Ok(())
}

fn from_yaml<T: serde::de::DeserializeOwned>(
    text: &str,
    source_name: &str,
) -> Result<T, ScenarioError> {
    serde_norway::from_str(text).map_err(|err| {
        let (line, column) = err.location().map_or((0, 0), |at| (at.line(), at.column()));
        // The message repeats the position the prefix already gives.
        let message = err.to_string();
        let suffix = format!(" at line {line} column {column}");
        ScenarioError::Syntax {
            source_name: source_name.to_string(),
            line,
            column,
            message: message
                .strip_suffix(&suffix)
                .unwrap_or(&message)
                .to_string(),
        }
    })
}

#[cfg(test)]
mod tests;
