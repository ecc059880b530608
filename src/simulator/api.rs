//! The request handler: turns a request into the healthy answer, looks for a fault, and carries
//! the fault out.
//!
//! Reads are answered before the fault lookup so rules can match on the size of the body that
//! would be served; mutations (`create`, `cancel`, `delete`) are looked up first and only happen
//! when no fault stops them. The API key is checked as part of the healthy answer, so faults
//! (which model the infrastructure in front of the service) apply before authentication.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::extract::{DefaultBodyLimit, Request, State};
use axum::response::Response;
use axum::routing::get;
use axum::{Extension, Router};
use bytes::Bytes;
use http::HeaderMap;
use serde_json::{Value, json};
use tokio_util::sync::CancellationToken;

use super::conn::{ConnContext, Ending, Takeover};
use super::faults::{Effect, FaultState, RequestFacts, scaled};
use super::field_mask::FieldMask;
use super::jobs::{Job, JobStore};
use super::models;
use super::routes::{Query, Route};
use super::scenario::{ContentKind, CreatedJobs, OutputKind, parse_fault_rules};
use super::wire::{Answer, JSON};
use crate::secret::ApiKey;

/// The largest request body accepted (the real service takes inline batches up to 20 MB).
const MAX_BODY: usize = 64 * 1024 * 1024;
/// `X-Server-Timeout` values from here on turn a deadline fault into 504 DEADLINE_EXCEEDED.
const DEADLINE_EXCEEDED_FROM_SECONDS: f64 = 3600.0;

/// State shared by every listener.
#[derive(Debug)]
pub(crate) struct Shared {
    /// Jobs per region.
    pub(crate) regions: HashMap<String, JobStore>,
    pub(crate) faults: FaultState,
    pub(crate) created_jobs: CreatedJobs,
    /// The one key accepted; any non-empty key when `None`.
    pub(crate) api_key: Option<ApiKey>,
    pub(crate) started: Instant,
    pub(crate) shutdown: CancellationToken,
}

/// The router every listener serves.
pub(crate) fn router(shared: Arc<Shared>) -> Router {
    Router::new()
        .route("/_simulator/faults", get(get_faults).put(put_faults))
        .fallback(api)
        .layer(DefaultBodyLimit::max(MAX_BODY))
        .with_state(shared)
}

async fn get_faults(State(sim): State<Arc<Shared>>) -> Response {
    let rules = sim.faults.rules();
    Answer::json(&json!({ "faults": rules.as_slice() })).into_response(Duration::ZERO)
}

async fn put_faults(State(sim): State<Arc<Shared>>, body: Bytes) -> Response {
    let text = String::from_utf8_lossy(&body);
    match parse_fault_rules(&text, "PUT /_simulator/faults") {
        Ok(rules) => {
            tracing::info!(rules = rules.len(), "simulator faults replaced");
            sim.faults.replace(rules);
            get_faults(State(sim)).await
        }
        Err(err) => Answer::error(400, &err.to_string()).into_response(Duration::ZERO),
    }
}

async fn api(
    State(sim): State<Arc<Shared>>,
    Extension(conn): Extension<ConnContext>,
    request: Request,
) -> Response {
    let started = Instant::now();
    let (parts, body) = request.into_parts();
    let Some(route) = Route::parse(&parts.method, parts.uri.path()) else {
        return Answer::error(404, "Method not found.").into_response(started.elapsed());
    };
    let query = Query::parse(parts.uri.query());
    let Ok(body) = axum::body::to_bytes(body, MAX_BODY).await else {
        return Answer::error(400, "The request body could not be read.")
            .into_response(started.elapsed());
    };
    let operation = route.operation(query.fields.is_some());
    let store = &sim.regions[&*conn.region];

    // Reads are answered now so rules can match on the body size.
    let read_answer = (!operation.is_mutation())
        .then(|| sim.answer(&route, &query, &body, &parts.headers, store));
    let facts = RequestFacts {
        operation,
        api_version: route.version(),
        region: &conn.region,
        listener: conn.listener,
        batch_size: batch_size(&route, &body, store),
        response_bytes: read_answer.as_ref().map(|answer| answer.body.len() as u64),
        elapsed: started.duration_since(sim.started),
    };
    let healthy = || {
        read_answer
            .clone()
            .unwrap_or_else(|| sim.answer(&route, &query, &body, &parts.headers, store))
    };

    let Some((label, rule)) = sim.faults.pick(&facts) else {
        return healthy().into_response(started.elapsed());
    };
    tracing::debug!(
        rule = %label,
        operation = operation.as_str(),
        region = %conn.region,
        api_version = route.version(),
        "simulator fault applies"
    );

    // Wait out the rule's delay and deadline, which the client may move with X-Server-Timeout.
    let scale = sim.faults.time_scale();
    let mut wait = rule
        .delay
        .map_or(Duration::ZERO, |delay| scaled(delay, scale));
    let mut effect = rule.effect.clone();
    if let Some(deadline) = rule.deadline {
        let requested = server_timeout(&parts.headers);
        wait += scaled(requested.map_or(deadline, Duration::from_secs_f64), scale);
        if requested.is_some_and(|seconds| seconds >= DEADLINE_EXCEEDED_FROM_SECONDS) {
            effect = Some(Effect::Status(504));
        }
    }
    if !sim.sleep(wait).await {
        return Answer::canonical_error(503).into_response(started.elapsed());
    }

    let takeover = match effect {
        None => return healthy().into_response(started.elapsed()),
        Some(Effect::Status(code)) => {
            return Answer::canonical_error(code).into_response(started.elapsed());
        }
        Some(Effect::RetryAfter { status, after }) => {
            let answer = Answer {
                retry_after: Some(after.as_secs()),
                ..Answer::canonical_error(status)
            };
            return answer.into_response(started.elapsed());
        }
        Some(Effect::DropOutput) => {
            return without_output(healthy()).into_response(started.elapsed());
        }
        Some(Effect::Hang) => Takeover::Hang,
        Some(Effect::Close) => Takeover::Close,
        Some(Effect::ResetMidBody) => partial(&healthy(), started, Ending::Reset),
        Some(Effect::TruncatedBody) => partial(&healthy(), started, Ending::Close),
    };

    // The connection task drops this handler as soon as it has the connection.
    conn.take_over(takeover);
    sim.shutdown.cancelled().await;
    Answer::canonical_error(503).into_response(started.elapsed())
}

/// The answer with a job record's results removed; answers that are not a JSON object pass.
fn without_output(answer: Answer) -> Answer {
    let Ok(serde_json::Value::Object(mut record)) = serde_json::from_slice(&answer.body) else {
        return answer;
    };

    record.remove("response");
    if let Some(serde_json::Value::Object(metadata)) = record.get_mut("metadata") {
        metadata.remove("output");
    }
    Answer {
        status: answer.status,
        ..Answer::json(&serde_json::Value::Object(record))
    }
}

fn partial(answer: &Answer, started: Instant, ending: Ending) -> Takeover {
    Takeover::Write {
        bytes: answer.partial_bytes(started.elapsed(), answer.body.len() / 2),
        ending,
    }
}

/// `X-Server-Timeout` in seconds, as the SDK sends it.
fn server_timeout(headers: &HeaderMap) -> Option<f64> {
    let value = headers.get("x-server-timeout")?.to_str().ok()?;
    value
        .trim()
        .parse::<f64>()
        .ok()
        .filter(|s| s.is_finite() && *s >= 0.0)
}

/// The request count a fault rule's `batch_size` compares with.
fn batch_size(route: &Route, body: &[u8], store: &JobStore) -> Option<u64> {
    if let Route::Create { .. } = route {
        let request: Value = serde_json::from_slice(body).ok()?;
        return inline_requests(&request).map(|requests| requests.len() as u64);
    }
    store.find(route.job_id()?).map(|job| job.request_count)
}

/// `batch.inputConfig.requests.requests`, in either spelling.
fn inline_requests(request: &Value) -> Option<&Vec<Value>> {
    let batch = request.get("batch")?;
    let input = batch
        .get("inputConfig")
        .or_else(|| batch.get("input_config"))?;
    input.get("requests")?.get("requests")?.as_array()
}

fn either<'a>(value: &'a Value, camel: &str, snake: &str) -> Option<&'a Value> {
    value.get(camel).or_else(|| value.get(snake))
}

fn not_found(what: &str) -> Answer {
    Answer::error(404, &format!("{what} not found."))
}

impl Shared {
    /// Sleeps unless shutdown comes first; whether the full time passed.
    async fn sleep(&self, wait: Duration) -> bool {
        if wait.is_zero() {
            return true;
        }
        tokio::select! {
            () = tokio::time::sleep(wait) => true,
            () = self.shutdown.cancelled() => false,
        }
    }

    /// The answer without faults: the API key check, then the call itself, then `fields`.
    fn answer(
        &self,
        route: &Route,
        query: &Query,
        body: &[u8],
        headers: &HeaderMap,
        store: &JobStore,
    ) -> Answer {
        if let Some(denied) = self.check_key(headers) {
            return denied;
        }

        let now = Instant::now();
        let answer = match route {
            Route::Get { id, .. } => match store.find(id) {
                Some(job) => Answer::json(&job.operation(now, true)),
                None => not_found(&format!("batches/{id}")),
            },
            Route::List { .. } => list(store, query, now),
            Route::Cancel { id, .. } => match store.find(id) {
                Some(job) => {
                    job.cancel(now);
                    Answer::json(&json!({}))
                }
                None => not_found(&format!("batches/{id}")),
            },
            Route::Delete { id, .. } => match store.remove(id) {
                true => Answer::json(&json!({})),
                false => not_found(&format!("batches/{id}")),
            },
            Route::Models { .. } => {
                models::list(query.page_size.as_deref(), query.page_token.as_deref())
            }
            Route::Model { model, .. } => models::get(model),
            Route::Download { file, .. } => download(store, route.job_id(), file, query, now),
            Route::Create { model, .. } => self.create(store, model, body),
        };

        match &query.fields {
            Some(fields) if answer.status.is_success() && answer.content_type == JSON => {
                apply_mask(answer, fields)
            }
            _ => answer,
        }
    }

    /// Missing key: 403, wrong key: 400, as the real service answers.
    fn check_key(&self, headers: &HeaderMap) -> Option<Answer> {
        let sent = headers
            .get("x-goog-api-key")
            .and_then(|value| value.to_str().ok())
            .map(str::trim)
            .unwrap_or_default();
        if sent.is_empty() {
            return Some(Answer::error(
                403,
                "Method doesn't allow unregistered callers (callers without established \
                 identity). Please use API Key or other form of API consumer identity to call \
                 this API.",
            ));
        }
        match &self.api_key {
            Some(key) if !same_bytes(key.expose().as_bytes(), sent.as_bytes()) => Some(
                Answer::error(400, "API key not valid. Please pass a valid API key."),
            ),
            _ => None,
        }
    }

    fn create(&self, store: &JobStore, model: &str, body: &[u8]) -> Answer {
        let Ok(request) = serde_json::from_slice::<Value>(body) else {
            return Answer::error(400, "Invalid JSON payload received.");
        };
        let Some(requests) = inline_requests(&request) else {
            // TODO: file input (`inputConfig.fileName`) is not simulated; only inline requests.
            return Answer::error(400, "batch.inputConfig.requests.requests is required.");
        };
        if requests.is_empty() {
            return Answer::error(400, "A batch needs at least one request.");
        }

        let batch = &request["batch"];
        let display_name = either(batch, "displayName", "display_name")
            .and_then(Value::as_str)
            .unwrap_or("batch")
            .to_string();
        let metadata = requests
            .iter()
            .map(|item| item.get("metadata").cloned())
            .collect();
        let wants_image = model.contains("image") || requests.iter().any(asks_for_image);
        let (content, bytes) = match wants_image {
            true => (ContentKind::Image, self.created_jobs.image_bytes),
            false => (ContentKind::Text, self.created_jobs.bytes_per_response),
        };
        let scale = self.faults.time_scale();
        let job = Job::created(
            model.to_string(),
            display_name,
            metadata,
            content,
            bytes,
            scaled(self.created_jobs.pending_for, scale),
            scaled(self.created_jobs.running_for, scale),
        );

        let job = store.insert(job);
        tracing::debug!(job = %job.id, requests = job.request_count, "simulator created a batch");
        Answer::json(&job.operation(Instant::now(), true))
    }
}

/// Whether an inline request asks for the `IMAGE` response modality.
fn asks_for_image(item: &Value) -> bool {
    let Some(config) = item
        .get("request")
        .and_then(|request| either(request, "generationConfig", "generation_config"))
    else {
        return false;
    };
    either(config, "responseModalities", "response_modalities")
        .and_then(Value::as_array)
        .is_some_and(|modalities| modalities.iter().any(|m| m.as_str() == Some("IMAGE")))
}

fn list(store: &JobStore, query: &Query, now: Instant) -> Answer {
    let (offset, size) = match models::page(query.page_size.as_deref(), query.page_token.as_deref())
    {
        Ok(page) => page,
        Err(answer) => return answer,
    };

    let (jobs, more) = store.page(offset, size);
    let operations: Vec<Value> = jobs.iter().map(|job| job.operation(now, false)).collect();
    let mut body = json!({ "operations": operations });
    if more {
        body["nextPageToken"] = json!(models::page_token_for(offset + size));
    }
    Answer::json(&body)
}

fn download(
    store: &JobStore,
    job_id: Option<&str>,
    file: &str,
    query: &Query,
    now: Instant,
) -> Answer {
    if query.alt.as_deref() != Some("media") {
        return Answer::error(400, "Only alt=media downloads are supported.");
    }
    let job = job_id.and_then(|id| store.find(id));
    let ready = job.filter(|job| {
        job.output == OutputKind::File
            && job.snapshot(now).state == super::scenario::BatchState::Succeeded
    });
    match ready {
        Some(job) => Answer {
            content_type: "application/octet-stream",
            ..Answer::json(&Value::Null)
        }
        .with_body(job.results_file()),
        None => not_found(&format!("files/{file}")),
    }
}

// TODO: the mask is applied to the whole record after it is built and serialized, so a
// `fields=` GET of a large inline job costs the simulator as much CPU as the full GET.
fn apply_mask(answer: Answer, fields: &str) -> Answer {
    let mask = match FieldMask::parse(fields) {
        Ok(mask) => mask,
        Err(problem) => {
            return Answer::error(400, &format!("Invalid field mask {fields:?}: {problem}"));
        }
    };
    match serde_json::from_slice::<Value>(&answer.body) {
        Ok(value) => Answer::json(&mask.apply(&value)),
        Err(_) => answer,
    }
}

/// Compares without stopping at the first difference.
fn same_bytes(expected: &[u8], sent: &[u8]) -> bool {
    expected.len() == sent.len()
        && expected
            .iter()
            .zip(sent)
            .fold(0u8, |acc, (a, b)| acc | (a ^ b))
            == 0
}

impl Answer {
    fn with_body(mut self, body: Vec<u8>) -> Answer {
        self.body = Bytes::from(body);
        self
    }
}
