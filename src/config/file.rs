//! The config file's shape, key by key. These doc comments are the config reference.
//!
//! ```yaml
//! region: europe-west4
//! interval: 60s
//! timeout: 120s
//! budget: { requests_per_minute: 60 }
//! size_buckets: [10, 100, 500]
//! targets:
//!   - name: gemini
//!     provider: gemini
//!     base_url: https://generativelanguage.googleapis.com
//!     api_key: { env: GEMINI_API_KEY }
//!     api_versions: [v1beta, v1]
//!     operations: [get, get_state, list, models]
//!     jobs:
//!       discover: { max_jobs: 200, per_bucket: 2 }
//!       names:
//!         - { name: batches/abc123, size: 500 }
//! ```

use std::time::Duration;

use serde::Deserialize;

use crate::secret::KeySource;
use crate::slice::Operation;
use crate::verdict::VerdictConfig;

/// The whole config file.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ConfigFile {
    /// This probe's vantage point, e.g. `europe-west4`: the `region` label of every target that
    /// does not set its own.
    #[serde(default = "default_region")]
    pub region: String,
    /// Time between two runs of the same check, unless a target sets its own. Each check is
    /// spread over the interval and jittered so checks do not fire together.
    #[serde(default = "default_interval", with = "humantime_serde")]
    pub interval: Duration,
    /// Longest a probe request may take, body read included. The provider's own deadline answers
    /// 503 after about 60 s, so the default of 120 s lets that answer arrive and be counted as a
    /// 503 rather than as a timeout.
    #[serde(default = "default_timeout", with = "humantime_serde")]
    pub timeout: Duration,
    /// The request budget per target, so that probing never eats the quota it measures.
    #[serde(default)]
    pub budget: BudgetSection,
    /// Upper bounds of the batch size buckets: `[10, 100, 500]` gives the labels `1-10`,
    /// `11-100`, `101-500` and `501+`.
    #[serde(default = "default_size_buckets")]
    pub size_buckets: Vec<u64>,
    /// Most probe requests in flight at once, over all targets.
    #[serde(default = "default_concurrency")]
    pub concurrency: usize,
    /// How the outage scope verdict is computed from the slices.
    #[serde(default)]
    pub verdict: VerdictConfig,
    /// The endpoints to probe.
    pub targets: Vec<TargetSection>,
}

/// A request budget.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BudgetSection {
    /// Hard cap on requests sent to one target in any 60 s, discovery included. A check that
    /// would exceed it is skipped and counted in `batchprobe_checks_skipped_total{reason="budget"}`.
    pub requests_per_minute: u32,
}

impl Default for BudgetSection {
    fn default() -> BudgetSection {
        BudgetSection {
            requests_per_minute: 60,
        }
    }
}

/// Which provider's API a target speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ProviderKind {
    /// The Gemini API (generativelanguage.googleapis.com) and its Batch API.
    Gemini,
}

impl ProviderKind {
    /// The `provider` label value.
    pub fn as_str(self) -> &'static str {
        match self {
            ProviderKind::Gemini => "gemini",
        }
    }
}

/// One endpoint to probe.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TargetSection {
    /// A unique name for this target, used in logs and errors (not a metric label).
    pub name: String,
    /// The provider's wire format.
    pub provider: ProviderKind,
    /// Scheme, host and optional port of the API, e.g.
    /// `https://generativelanguage.googleapis.com`. No path, query or credentials.
    pub base_url: String,
    /// Where the API key comes from: `{ env: VAR }` or `{ file: PATH }`. Read at start and at
    /// every reload; sent only in the `x-goog-api-key` header.
    pub api_key: KeySource,
    /// API versions to probe, each its own slice.
    #[serde(default = "default_api_versions")]
    pub api_versions: Vec<String>,
    /// Operations to probe: `get`, `get_state`, `list`, `models`, `download`.
    #[serde(default = "default_operations")]
    pub operations: Vec<Operation>,
    /// The region label for this target, overriding the top-level `region`; useful for regional
    /// endpoints.
    #[serde(default)]
    pub region: Option<String>,
    /// Time between two runs of one check for this target; defaults to the top-level `interval`.
    #[serde(default, with = "humantime_serde")]
    pub interval: Option<Duration>,
    /// Request timeout for this target; defaults to the top-level `timeout`.
    #[serde(default, with = "humantime_serde")]
    pub timeout: Option<Duration>,
    /// Request budget for this target; defaults to the top-level `budget`.
    #[serde(default)]
    pub budget: Option<BudgetSection>,
    /// Most body bytes read from a `get` or `download` before the connection is dropped: a healthy
    /// result body can be a gigabyte, and reading the status and the first bytes is enough to
    /// tell whether the provider serves it.
    #[serde(default = "default_body_limit")]
    pub body_limit_bytes: u64,
    /// Read whole bodies instead, whatever their size. Measures the full transfer, at its cost.
    #[serde(default)]
    pub full_body: bool,
    /// The `pageSize` sent by the `list` operation.
    #[serde(default = "default_list_page_size")]
    pub list_page_size: u32,
    /// Which jobs the per-job operations (`get`, `get_state`, `download`) fetch.
    #[serde(default)]
    pub jobs: JobsSection,
}

/// Job selection for per-job operations.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct JobsSection {
    /// Find finished jobs by paging through the batch list.
    #[serde(default)]
    pub discover: Option<DiscoverSection>,
    /// Jobs to probe by name, with their batch size.
    #[serde(default)]
    pub names: Vec<JobName>,
}

/// Job discovery: list the batches, keep the SUCCEEDED ones, bucket them by request count.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DiscoverSection {
    /// Most jobs read from the list, over all pages.
    #[serde(default = "default_max_jobs")]
    pub max_jobs: u32,
    /// Jobs of each batch size bucket fetched per round; each round rotates to the next ones.
    #[serde(default = "default_per_bucket")]
    pub per_bucket: u32,
    /// Time between two discoveries.
    #[serde(default = "default_discover_interval", with = "humantime_serde")]
    pub interval: Duration,
}

/// A job named in the config.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct JobName {
    /// The job's resource name, e.g. `batches/abc123`. Never used as a label.
    pub name: String,
    /// Its number of requests, which picks its batch size bucket.
    pub size: u64,
}

fn default_region() -> String {
    "unknown".to_string()
}

fn default_interval() -> Duration {
    Duration::from_secs(60)
}

fn default_timeout() -> Duration {
    Duration::from_secs(120)
}

fn default_size_buckets() -> Vec<u64> {
    vec![10, 100, 500]
}

fn default_concurrency() -> usize {
    16
}

fn default_api_versions() -> Vec<String> {
    vec!["v1beta".to_string()]
}

fn default_operations() -> Vec<Operation> {
    vec![
        Operation::Get,
        Operation::GetState,
        Operation::List,
        Operation::Models,
    ]
}

fn default_body_limit() -> u64 {
    64 * 1024
}

fn default_list_page_size() -> u32 {
    10
}

fn default_max_jobs() -> u32 {
    200
}

fn default_per_bucket() -> u32 {
    2
}

fn default_discover_interval() -> Duration {
    Duration::from_secs(600)
}
