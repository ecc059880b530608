//! The config file: what it may say, how it is read, and the checked form the rest of the crate
//! runs on.
//!
//! [`ConfigFile`] and the section types beside it mirror the YAML one to one; their doc comments
//! are the reference for every key. Unknown keys are errors. [`load`] reads a file, reports
//! syntax and type errors with the file, line, column and key path, then [`Config::from_file`]
//! checks what serde cannot (unique names, valid URLs, readable keys) and resolves defaults.
//! A config that fails here never replaces a running one.

mod error;
mod file;

use std::path::Path;
use std::time::Duration;

use crate::secret::ApiKey;
use crate::slice::{Operation, SizeBuckets};
use crate::verdict::VerdictConfig;

pub use error::ConfigError;
pub use file::{
    BudgetSection, ConfigFile, DiscoverSection, JobName, JobsSection, ProviderKind, TargetSection,
};

/// A checked config, ready to run.
#[derive(Debug, Clone)]
pub struct Config {
    /// Where this probe stands; the region label of targets that do not set their own.
    pub region: String,
    /// The batch size buckets shared by every target.
    pub size_buckets: SizeBuckets,
    /// How many probe requests may be in flight at once, over all targets.
    pub concurrency: usize,
    /// How the verdict is computed.
    pub verdict: VerdictConfig,
    /// The targets, in config order.
    pub targets: Vec<Target>,
}

/// One provider endpoint to probe, with every default resolved and its key read.
#[derive(Debug, Clone)]
pub struct Target {
    /// The target's unique name.
    pub name: String,
    /// Which provider's wire format to speak.
    pub provider: ProviderKind,
    /// Scheme, host and optional port, without a trailing slash.
    pub base_url: reqwest::Url,
    /// The key sent in the provider's auth header.
    pub api_key: ApiKey,
    /// API versions probed, each as its own slice.
    pub api_versions: Vec<String>,
    /// Operations probed.
    pub operations: Vec<Operation>,
    /// The region label.
    pub region: String,
    /// Time between two runs of one check.
    pub interval: Duration,
    /// Longest a probe request may take, body included.
    pub timeout: Duration,
    /// Most requests this target may receive in any 60 s.
    pub requests_per_minute: u32,
    /// Most body bytes read before the connection is dropped; `None` reads whole bodies.
    pub body_limit: Option<u64>,
    /// `pageSize` of the `list` operation.
    pub list_page_size: u32,
    /// Job discovery, if enabled.
    pub discover: Option<DiscoverSection>,
    /// Jobs named in the config, with their sizes.
    pub jobs: Vec<JobName>,
}

/// Reads, parses and checks a config file.
pub fn load(path: &Path) -> Result<Config, ConfigError> {
    let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
        path: path.to_path_buf(),
        source,
    })?;

    parse(path, &text)
}

/// Parses and checks config text; `path` only names the source in errors.
pub fn parse(path: &Path, text: &str) -> Result<Config, ConfigError> {
    let file: ConfigFile =
        serde_norway::from_str(text).map_err(|err| ConfigError::syntax(path, err))?;

    Config::from_file(path, file)
}

impl Config {
    /// Checks a parsed file and resolves defaults and keys.
    pub fn from_file(path: &Path, file: ConfigFile) -> Result<Config, ConfigError> {
        let invalid = |key: String, message: String| ConfigError::Invalid {
            path: path.to_path_buf(),
            key,
            message,
        };

        let size_buckets = SizeBuckets::new(file.size_buckets.clone())
            .map_err(|message| invalid("size_buckets".to_string(), message))?;
        if file.targets.is_empty() {
            return Err(invalid(
                "targets".into(),
                "at least one target is needed".into(),
            ));
        }
        check_positive(file.interval, "interval").map_err(|m| invalid("interval".into(), m))?;
        check_positive(file.timeout, "timeout").map_err(|m| invalid("timeout".into(), m))?;
        if file.concurrency == 0 {
            return Err(invalid("concurrency".into(), "must be at least 1".into()));
        }
        file.verdict
            .validate()
            .map_err(|e| invalid("verdict".into(), e.to_string()))?;

        let mut targets = Vec::with_capacity(file.targets.len());
        for (index, section) in file.targets.iter().enumerate() {
            let key = format!("targets[{index}]");
            if targets.iter().any(|t: &Target| t.name == section.name) {
                return Err(invalid(
                    format!("{key}.name"),
                    format!("target name {:?} is used twice", section.name),
                ));
            }
            let target = Target::from_section(&file, section)
                .map_err(|(field, message)| invalid(format!("{key}.{field}"), message))?;
            targets.push(target);
        }

        Ok(Config {
            region: file.region,
            size_buckets,
            concurrency: file.concurrency,
            verdict: file.verdict,
            targets,
        })
    }
}

impl Target {
    /// Resolves one target section; errors are `(field, message)` for the caller to place.
    fn from_section(
        file: &ConfigFile,
        section: &TargetSection,
    ) -> Result<Target, (String, String)> {
        let err = |field: &str, message: String| (field.to_string(), message);

        if section.name.trim().is_empty() {
            return Err(err("name", "must not be empty".into()));
        }
        let base_url =
            reqwest::Url::parse(section.base_url.trim_end_matches('/')).map_err(|e| {
                err(
                    "base_url",
                    format!("{:?} is not a URL: {e}", section.base_url),
                )
            })?;
        if !matches!(base_url.scheme(), "http" | "https") {
            return Err(err("base_url", "must be an http:// or https:// URL".into()));
        }
        if base_url.query().is_some() || !base_url.username().is_empty() {
            return Err(err(
                "base_url",
                "must not carry a query or credentials: the key goes in api_key".into(),
            ));
        }
        if section.api_versions.is_empty() {
            return Err(err(
                "api_versions",
                "at least one API version is needed".into(),
            ));
        }
        if let Some(bad) = section.api_versions.iter().find(|v| !is_path_segment(v)) {
            return Err(err(
                "api_versions",
                format!("{bad:?} is not a plain path segment"),
            ));
        }
        if section.operations.is_empty() {
            return Err(err("operations", "at least one operation is needed".into()));
        }

        let interval = section.interval.unwrap_or(file.interval);
        let timeout = section.timeout.unwrap_or(file.timeout);
        check_positive(interval, "interval").map_err(|m| err("interval", m))?;
        check_positive(timeout, "timeout").map_err(|m| err("timeout", m))?;
        let budget = section.budget.as_ref().unwrap_or(&file.budget);
        if budget.requests_per_minute == 0 {
            return Err(err(
                "budget.requests_per_minute",
                "must be at least 1".into(),
            ));
        }
        if let Some(discover) = &section.jobs.discover
            && (discover.max_jobs == 0 || discover.per_bucket == 0)
        {
            return Err(err(
                "jobs.discover",
                "max_jobs and per_bucket must be at least 1".into(),
            ));
        }
        let api_key = section
            .api_key
            .load()
            .map_err(|e| err("api_key", e.to_string()))?;

        Ok(Target {
            name: section.name.clone(),
            provider: section.provider,
            base_url,
            api_key,
            api_versions: section.api_versions.clone(),
            operations: section.operations.clone(),
            region: section
                .region
                .clone()
                .unwrap_or_else(|| file.region.clone()),
            interval,
            timeout,
            requests_per_minute: budget.requests_per_minute,
            body_limit: (!section.full_body).then_some(section.body_limit_bytes),
            list_page_size: section.list_page_size,
            discover: section.jobs.discover.clone(),
            jobs: section.jobs.names.clone(),
        })
    }
}

fn check_positive(duration: Duration, what: &str) -> Result<(), String> {
    if duration.is_zero() {
        return Err(format!("{what} must be longer than zero"));
    }
    Ok(())
}

/// API versions go into URL paths verbatim, so they must not smuggle in `/`, `?` or `..`.
fn is_path_segment(value: &str) -> bool {
    !value.is_empty()
        && value != "."
        && value != ".."
        && value
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_' || c == '.')
}

#[cfg(test)]
mod tests;
