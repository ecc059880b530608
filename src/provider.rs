//! What each provider's API looks like on the wire: the request for each operation, the auth
//! header, what a good answer body is, and how the batch list is read for discovery.
//!
//! The probe and the scheduler speak only to [`Provider`]; adding Vertex AI, OpenAI or Anthropic
//! batch APIs means one more implementation here, not changes elsewhere. Nothing in this module
//! sends a request.

pub mod gemini;

use http::{HeaderMap, Method};

use crate::config::ProviderKind;
use crate::slice::Operation;

/// A request ready to send, with the key already in its header.
#[derive(Clone)]
pub struct ProbeRequest {
    /// HTTP method.
    pub method: Method,
    /// The full URL. It never carries a secret.
    pub url: reqwest::Url,
    /// The URL with ids replaced by placeholders, e.g. `/v1beta/batches/{batch}`; safe for spans
    /// and logs.
    pub url_template: String,
    /// Headers, the auth header included (marked sensitive).
    pub headers: HeaderMap,
}

impl std::fmt::Debug for ProbeRequest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Headers are left out: one of them is the key.
        f.debug_struct("ProbeRequest")
            .field("method", &self.method)
            .field("url_template", &self.url_template)
            .finish_non_exhaustive()
    }
}

/// A job found by discovery.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DiscoveredJob {
    /// The resource name, e.g. `batches/abc123`.
    pub name: String,
    /// Its state as the provider spells it, e.g. `BATCH_STATE_SUCCEEDED`.
    pub state: String,
    /// Its number of requests, when the provider reports it.
    pub size: Option<u64>,
    /// The result file's resource name, when results went to a file.
    pub responses_file: Option<String>,
}

/// One page of the batch list.
#[derive(Debug, Clone, Default)]
pub struct ListPage {
    /// The jobs on this page.
    pub jobs: Vec<DiscoveredJob>,
    /// The token for the next page, `None` on the last.
    pub next_page_token: Option<String>,
}

/// A provider's wire format.
pub trait Provider: Send + Sync {
    /// The `provider` label value.
    fn label(&self) -> &'static str;

    /// The request for `operation` on `api_version`; `job` is the job for per-job operations
    /// (for `download`, its result file) and `None` otherwise.
    fn request(&self, operation: Operation, api_version: &str, job: Option<&str>) -> ProbeRequest;

    /// The request for one page of the batch list, for discovery.
    fn list_page(
        &self,
        api_version: &str,
        page_size: u32,
        page_token: Option<&str>,
    ) -> ProbeRequest;

    /// Checks a complete answer body for `operation`: `Err` says what is missing.
    fn validate(&self, operation: Operation, body: &[u8]) -> Result<(), String>;

    /// Reads one page of the batch list.
    fn parse_list(&self, body: &[u8]) -> Result<ListPage, String>;

    /// Whether a discovered job is finished and has results worth fetching.
    fn is_succeeded(&self, job: &DiscoveredJob) -> bool;
}

/// Builds the provider for a target.
pub fn for_target(
    kind: ProviderKind,
    base_url: &reqwest::Url,
    api_key: &crate::secret::ApiKey,
) -> Box<dyn Provider> {
    match kind {
        ProviderKind::Gemini => Box::new(gemini::Gemini::new(base_url.clone(), api_key)),
    }
}
