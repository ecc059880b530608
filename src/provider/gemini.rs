//! The Gemini API (generativelanguage.googleapis.com): batch GET, partial GET with `fields=`,
//! list, the models control and result file download.
//!
//! The key travels in `x-goog-api-key`, never in the URL. Long-running operation bodies are read
//! the way Google writes them: `metadata.state`, `metadata.batchStats` with counts as strings,
//! results under `metadata.output` (and `response` once `done`).

use http::{HeaderMap, HeaderValue, Method};
use serde_json::Value;

use super::{DiscoveredJob, ListPage, ProbeRequest, Provider};
use crate::secret::ApiKey;
use crate::slice::Operation;

/// The partial-response mask of `get_state`: enough to read the state without the results.
pub const STATE_FIELDS: &str = "name,metadata.state,metadata.batchStats";

/// The state of a finished, successful batch.
pub const SUCCEEDED: &str = "BATCH_STATE_SUCCEEDED";

/// The Gemini API at one base URL, with one key.
pub struct Gemini {
    base_url: reqwest::Url,
    headers: HeaderMap,
}

impl Gemini {
    /// A provider for `base_url` that authenticates with `api_key`.
    pub fn new(base_url: reqwest::Url, api_key: &ApiKey) -> Gemini {
        let mut headers = HeaderMap::new();

        // A key that is not a valid header value is sent empty: the provider answers 401/403,
        // which the verdict reports as a credentials problem, instead of the probe failing.
        let mut key = HeaderValue::from_str(api_key.expose())
            .unwrap_or_else(|_| HeaderValue::from_static(""));
        key.set_sensitive(true);
        headers.insert("x-goog-api-key", key);

        Gemini { base_url, headers }
    }

    fn build(&self, path: &str, query: &[(&str, &str)], template: String) -> ProbeRequest {
        let mut url = self.base_url.clone();
        url.set_path(path);
        if !query.is_empty() {
            url.query_pairs_mut().extend_pairs(query);
        }

        ProbeRequest {
            method: Method::GET,
            url,
            url_template: template,
            headers: self.headers.clone(),
        }
    }
}

impl Provider for Gemini {
    fn label(&self) -> &'static str {
        "gemini"
    }

    fn request(&self, operation: Operation, api_version: &str, job: Option<&str>) -> ProbeRequest {
        let job = job.unwrap_or_default();
        match operation {
            Operation::Get => self.build(
                &format!("/{api_version}/{job}"),
                &[],
                format!("/{api_version}/batches/{{batch}}"),
            ),
            Operation::GetState => self.build(
                &format!("/{api_version}/{job}"),
                &[("fields", STATE_FIELDS)],
                format!("/{api_version}/batches/{{batch}}"),
            ),
            // Callers that know the target's configured page size use `list_page` directly.
            Operation::List => self.list_page(api_version, 10, None),
            Operation::Models => self.build(
                &format!("/{api_version}/models"),
                &[("pageSize", "1")],
                format!("/{api_version}/models"),
            ),
            Operation::Download => self.build(
                &format!("/download/{api_version}/{job}:download"),
                &[("alt", "media")],
                format!("/download/{api_version}/files/{{file}}:download"),
            ),
        }
    }

    fn list_page(
        &self,
        api_version: &str,
        page_size: u32,
        page_token: Option<&str>,
    ) -> ProbeRequest {
        let page_size = page_size.to_string();
        let mut query = vec![("pageSize", page_size.as_str())];
        if let Some(token) = page_token {
            query.push(("pageToken", token));
        }

        self.build(
            &format!("/{api_version}/batches"),
            &query,
            format!("/{api_version}/batches"),
        )
    }

    fn validate(&self, operation: Operation, body: &[u8]) -> Result<(), String> {
        if operation == Operation::Download {
            // Result files are JSON Lines; the first line must be an object.
            let first = body.split(|&b| b == b'\n').next().unwrap_or_default();
            return serde_json::from_slice::<serde_json::Map<String, Value>>(first)
                .map(drop)
                .map_err(|e| format!("result file is not JSON Lines: {e}"));
        }

        let value: Value =
            serde_json::from_slice(body).map_err(|e| format!("body is not JSON: {e}"))?;
        let object = value.as_object().ok_or("body is not a JSON object")?;

        match operation {
            Operation::Get => validate_job(&value, true),
            Operation::GetState => validate_job(&value, false),
            // An empty list is `{}`: the field is left out, as proto3 JSON does.
            Operation::List => match object.get("operations") {
                None | Some(Value::Array(_)) => Ok(()),
                Some(_) => Err("`operations` is not an array".to_string()),
            },
            Operation::Models => match object.get("models") {
                Some(Value::Array(models)) if !models.is_empty() => Ok(()),
                _ => Err("no `models` in the model list".to_string()),
            },
            Operation::Download => unreachable!("handled above"),
        }
    }

    fn parse_list(&self, body: &[u8]) -> Result<ListPage, String> {
        let value: Value =
            serde_json::from_slice(body).map_err(|e| format!("list body is not JSON: {e}"))?;

        let jobs = value
            .get("operations")
            .and_then(Value::as_array)
            .map(|items| items.iter().filter_map(read_job).collect())
            .unwrap_or_default();
        let next_page_token = value
            .get("nextPageToken")
            .and_then(Value::as_str)
            .filter(|token| !token.is_empty())
            .map(str::to_string);

        Ok(ListPage {
            jobs,
            next_page_token,
        })
    }

    fn is_succeeded(&self, job: &DiscoveredJob) -> bool {
        job.state == SUCCEEDED || job.state == "JOB_STATE_SUCCEEDED"
    }
}

/// A job record must name its state; a SUCCEEDED one must also carry its output, unless the body
/// was cut to the state by `fields=`.
fn validate_job(value: &Value, expect_output: bool) -> Result<(), String> {
    let metadata = value
        .get("metadata")
        .ok_or("job record has no `metadata`")?;
    let state = metadata
        .get("state")
        .and_then(Value::as_str)
        .ok_or("job record has no `metadata.state`")?;

    if expect_output && state == SUCCEEDED {
        let output = metadata.get("output").or_else(|| value.get("response"));
        let has_results = output.is_some_and(|o| {
            o.get("inlinedResponses").is_some() || o.get("responsesFile").is_some()
        });
        if !has_results {
            return Err("SUCCEEDED job carries no output".to_string());
        }
    }
    Ok(())
}

fn read_job(item: &Value) -> Option<DiscoveredJob> {
    let metadata = item.get("metadata")?;
    let name = item
        .get("name")
        .or_else(|| metadata.get("name"))
        .and_then(Value::as_str)?
        .to_string();
    let state = metadata
        .get("state")
        .and_then(Value::as_str)
        .unwrap_or("")
        .to_string();

    // Counts are int64 and so arrive as strings in proto3 JSON; accept numbers as well.
    let size = metadata
        .get("batchStats")
        .and_then(|s| s.get("requestCount"))
        .and_then(|c| {
            c.as_str()
                .and_then(|s| s.parse().ok())
                .or_else(|| c.as_u64())
        });
    let responses_file = metadata
        .get("output")
        .and_then(|o| o.get("responsesFile"))
        .and_then(Value::as_str)
        .map(str::to_string);

    Some(DiscoveredJob {
        name,
        state,
        size,
        responses_file,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn gemini() -> Gemini {
        Gemini::new(
            "http://127.0.0.1:9".parse().unwrap(),
            &ApiKey::new("k-secret"),
        )
    }

    #[test]
    fn requests_keep_the_key_out_of_the_url() {
        let provider = gemini();

        let get = provider.request(Operation::Get, "v1beta", Some("batches/abc"));
        let state = provider.request(Operation::GetState, "v1", Some("batches/abc"));
        let download = provider.request(Operation::Download, "v1beta", Some("files/f1"));

        assert_eq!(get.url.as_str(), "http://127.0.0.1:9/v1beta/batches/abc");
        assert_eq!(get.url_template, "/v1beta/batches/{batch}");
        assert!(
            state
                .url
                .as_str()
                .contains("fields=name%2Cmetadata.state%2Cmetadata.batchStats")
        );
        assert_eq!(
            download.url.as_str(),
            "http://127.0.0.1:9/download/v1beta/files/f1:download?alt=media"
        );
        for request in [get, state, download] {
            assert!(!request.url.as_str().contains("k-secret"));
            assert!(request.headers["x-goog-api-key"].is_sensitive());
            assert!(!format!("{request:?}").contains("k-secret"));
        }
    }

    #[test]
    fn succeeded_job_without_output_is_invalid() {
        let provider = gemini();
        let bare = br#"{"name":"batches/a","metadata":{"state":"BATCH_STATE_SUCCEEDED"}}"#;
        let full = br#"{"name":"batches/a","metadata":{"state":"BATCH_STATE_SUCCEEDED",
            "output":{"inlinedResponses":{"inlinedResponses":[]}}},"done":true}"#;

        assert!(provider.validate(Operation::Get, bare).is_err());
        assert!(provider.validate(Operation::GetState, bare).is_ok());
        assert!(provider.validate(Operation::Get, full).is_ok());
        assert!(provider.validate(Operation::Get, b"<html>").is_err());
        assert!(provider.validate(Operation::List, b"{}").is_ok());
        assert!(provider.validate(Operation::Models, b"{}").is_err());
    }

    #[test]
    fn list_pages_are_read() {
        let body = br#"{"operations":[
            {"name":"batches/a","metadata":{"state":"BATCH_STATE_SUCCEEDED",
             "batchStats":{"requestCount":"500","successfulRequestCount":"500"}}},
            {"name":"batches/b","metadata":{"state":"BATCH_STATE_RUNNING",
             "batchStats":{"requestCount":"10"}}}],
            "nextPageToken":"t2"}"#;

        let page = gemini().parse_list(body).unwrap();

        assert_eq!(page.jobs.len(), 2);
        assert_eq!(page.jobs[0].size, Some(500));
        assert!(gemini().is_succeeded(&page.jobs[0]));
        assert!(!gemini().is_succeeded(&page.jobs[1]));
        assert_eq!(page.next_page_token.as_deref(), Some("t2"));
    }
}
