//! The simulator's batch jobs: their life cycle and how they look on the wire.
//!
//! Each region keeps its own [`JobStore`]; seeded jobs are copied into every region, created
//! jobs live only where they were created. A job renders itself as the long-running operation
//! object Google returns (`name`, `metadata`, `done`, `response`), with inline results in both
//! `metadata.output` and `response`, counts as strings and zero counts left out. Synthetic
//! results are generated once per job and kept.

use std::sync::{Arc, Mutex, OnceLock, PoisonError};
use std::time::{Duration, Instant, SystemTime};

use serde_json::{Value, json};

use super::scenario::{BatchState, ContentKind, JobSeed, OutputKind};

mod content;

use content::{random_id, synthetic_png_base64, synthetic_text};

/// `@type` of the operation's metadata.
const BATCH_TYPE: &str =
    "type.googleapis.com/google.ai.generativelanguage.v1main.GenerateContentBatch";
/// `@type` of the operation's response.
const OUTPUT_TYPE: &str =
    "type.googleapis.com/google.ai.generativelanguage.v1main.GenerateContentBatchOutput";

/// How a job's state moves.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Progress {
    /// A seeded job: always in this state.
    Fixed(BatchState),
    /// A created job: pending, then running, then succeeded (real-time durations).
    Scheduled {
        pending_for: Duration,
        running_for: Duration,
    },
}

/// One batch job.
#[derive(Debug)]
pub(crate) struct Job {
    pub(crate) id: String,
    /// The model id without `models/`.
    pub(crate) model: String,
    pub(crate) display_name: String,
    pub(crate) request_count: u64,
    pub(crate) output: OutputKind,
    pub(crate) content: ContentKind,
    pub(crate) bytes_per_response: usize,
    /// The `metadata` each request carried, echoed on its response.
    pub(crate) request_metadata: Vec<Option<Value>>,
    pub(crate) create_time: SystemTime,
    pub(crate) created: Instant,
    pub(crate) progress: Progress,
    /// Set when the job was cancelled before it finished.
    cancelled: Mutex<Option<Instant>>,
    results: OnceLock<Arc<Vec<Value>>>,
}

/// A job's state at one moment, with the times that go with it.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Snapshot {
    pub(crate) state: BatchState,
    pub(crate) update_time: SystemTime,
    pub(crate) end_time: Option<SystemTime>,
}

impl Job {
    /// A job from the scenario, created an hour before `now` and finished ten minutes later.
    pub(crate) fn seeded(seed: &JobSeed, now: Instant, wall: SystemTime) -> Job {
        let age = Duration::from_secs(3600);
        Job {
            id: seed.id.clone(),
            model: seed.model.clone(),
            display_name: seed.display_name.clone().unwrap_or_else(|| seed.id.clone()),
            request_count: seed.requests,
            output: seed.output,
            content: seed.kind,
            bytes_per_response: seed.bytes_per_response,
            request_metadata: Vec::new(),
            create_time: wall - age,
            created: now.checked_sub(age).unwrap_or(now),
            progress: Progress::Fixed(seed.state),
            cancelled: Mutex::new(None),
            results: OnceLock::new(),
        }
    }

    /// A job created through the API now.
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn created(
        model: String,
        display_name: String,
        request_metadata: Vec<Option<Value>>,
        content: ContentKind,
        bytes_per_response: usize,
        pending_for: Duration,
        running_for: Duration,
    ) -> Job {
        Job {
            id: random_id(),
            model,
            display_name,
            request_count: request_metadata.len() as u64,
            output: OutputKind::Inline,
            content,
            bytes_per_response,
            request_metadata,
            create_time: SystemTime::now(),
            created: Instant::now(),
            progress: Progress::Scheduled {
                pending_for,
                running_for,
            },
            cancelled: Mutex::new(None),
            results: OnceLock::new(),
        }
    }

    /// The state at `now`.
    pub(crate) fn snapshot(&self, now: Instant) -> Snapshot {
        let wall_at = |at: Instant| self.create_time + at.saturating_duration_since(self.created);

        if let Some(at) = *self
            .cancelled
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
        {
            return Snapshot {
                state: BatchState::Cancelled,
                update_time: wall_at(at),
                end_time: Some(wall_at(at)),
            };
        }
        match self.progress {
            Progress::Fixed(state) => {
                let changed = self.create_time + Duration::from_secs(600);
                Snapshot {
                    state,
                    update_time: if state == BatchState::Pending {
                        self.create_time
                    } else {
                        changed
                    },
                    end_time: state.is_terminal().then_some(changed),
                }
            }
            Progress::Scheduled {
                pending_for,
                running_for,
            } => {
                let started = self.created + pending_for;
                let finished = started + running_for;
                if now < started {
                    Snapshot {
                        state: BatchState::Pending,
                        update_time: self.create_time,
                        end_time: None,
                    }
                } else if now < finished {
                    Snapshot {
                        state: BatchState::Running,
                        update_time: wall_at(started),
                        end_time: None,
                    }
                } else {
                    Snapshot {
                        state: BatchState::Succeeded,
                        update_time: wall_at(finished),
                        end_time: Some(wall_at(finished)),
                    }
                }
            }
        }
    }

    /// Cancels the job if it has not finished; a finished job stays as it is.
    pub(crate) fn cancel(&self, now: Instant) {
        if self.snapshot(now).state.is_terminal() {
            return;
        }
        *self
            .cancelled
            .lock()
            .unwrap_or_else(PoisonError::into_inner) = Some(now);
    }

    /// `files/{id}` of the results file, for jobs with file output.
    pub(crate) fn responses_file(&self) -> String {
        format!("files/batch-{}", self.id)
    }

    /// The operation object. `with_results` puts inline results in (a GET of one job); list
    /// items leave them out.
    pub(crate) fn operation(&self, now: Instant, with_results: bool) -> Value {
        let snapshot = self.snapshot(now);
        let name = format!("batches/{}", self.id);

        let mut metadata = json!({
            "@type": BATCH_TYPE,
            "model": format!("models/{}", self.model),
            "displayName": self.display_name,
            "createTime": timestamp(self.create_time),
            "updateTime": timestamp(snapshot.update_time),
            "batchStats": self.batch_stats(snapshot.state),
            "state": snapshot.state.wire_name(),
            "name": name,
        });
        if let Some(end) = snapshot.end_time {
            metadata["endTime"] = json!(timestamp(end));
        }
        let mut operation = json!({ "name": name });

        if snapshot.state == BatchState::Succeeded {
            let output = match self.output {
                OutputKind::File => Some(json!({ "responsesFile": self.responses_file() })),
                OutputKind::Inline if with_results => Some(json!({
                    "inlinedResponses": { "inlinedResponses": self.inline_results().as_slice() }
                })),
                OutputKind::Inline => None,
            };
            let mut response = json!({ "@type": OUTPUT_TYPE });
            if let Some(output) = output {
                for (key, value) in output.as_object().into_iter().flatten() {
                    response[key] = value.clone();
                }
                metadata["output"] = output;
            }
            operation["response"] = response;
        }
        if snapshot.state == BatchState::Failed {
            // TODO: what the real service reports for a failed batch is not documented; this
            // follows the generic long-running operation shape.
            operation["error"] = json!({ "code": 13, "message": "Batch processing failed." });
        }
        operation["metadata"] = metadata;
        if snapshot.state.is_terminal() {
            operation["done"] = json!(true);
        }
        operation
    }

    fn batch_stats(&self, state: BatchState) -> Value {
        let count = self.request_count.to_string();
        let key = match state {
            BatchState::Succeeded => "successfulRequestCount",
            BatchState::Failed => "failedRequestCount",
            _ => "pendingRequestCount",
        };
        json!({ "requestCount": count, key: count })
    }

    /// One `InlinedResponse` per request, generated on first use.
    pub(crate) fn inline_results(&self) -> Arc<Vec<Value>> {
        self.results
            .get_or_init(|| {
                let results = (0..self.request_count as usize)
                    .map(|index| {
                        let metadata = self
                            .request_metadata
                            .get(index)
                            .cloned()
                            .flatten()
                            .unwrap_or_else(|| json!({ "key": format!("request-{index}") }));
                        json!({ "response": self.response(index), "metadata": metadata })
                    })
                    .collect();
                Arc::new(results)
            })
            .clone()
    }

    /// The results file: one `{"key", "response"}` line per request.
    pub(crate) fn results_file(&self) -> Vec<u8> {
        let mut out = Vec::new();
        for (index, result) in self.inline_results().iter().enumerate() {
            let key = result["metadata"]["key"]
                .as_str()
                .map_or_else(|| format!("request-{index}"), str::to_string);
            let line = json!({ "key": key, "response": result["response"] });
            serde_json::to_writer(&mut out, &line).expect("a JSON value always serializes");
            out.push(b'\n');
        }
        out
    }

    /// A synthetic `GenerateContentResponse` for request `index`.
    fn response(&self, index: usize) -> Value {
        let part = match self.content {
            ContentKind::Text => json!({ "text": synthetic_text(index, self.bytes_per_response) }),
            ContentKind::Image => json!({
                "inlineData": { "mimeType": "image/png", "data": synthetic_png_base64(index, self.bytes_per_response) }
            }),
        };
        let candidates_tokens = (self.bytes_per_response / 4).max(1);
        json!({
            "candidates": [{
                "content": { "parts": [part], "role": "model" },
                "finishReason": "STOP",
                "index": 0
            }],
            "usageMetadata": {
                "promptTokenCount": 8,
                "candidatesTokenCount": candidates_tokens,
                "totalTokenCount": 8 + candidates_tokens
            },
            "modelVersion": self.model,
            "responseId": format!("sim-{}-{index}", self.id)
        })
    }
}

/// The jobs of one region, newest first.
#[derive(Debug, Default)]
pub(crate) struct JobStore {
    jobs: Mutex<Vec<Arc<Job>>>,
}

impl JobStore {
    pub(crate) fn insert(&self, job: Job) -> Arc<Job> {
        let job = Arc::new(job);
        self.lock().insert(0, job.clone());
        job
    }

    pub(crate) fn find(&self, id: &str) -> Option<Arc<Job>> {
        self.lock().iter().find(|job| job.id == id).cloned()
    }

    /// Removes a job; whether it was there.
    pub(crate) fn remove(&self, id: &str) -> bool {
        let mut jobs = self.lock();
        let before = jobs.len();
        jobs.retain(|job| job.id != id);
        jobs.len() != before
    }

    /// The jobs from `offset` on, at most `limit`, and whether more follow.
    pub(crate) fn page(&self, offset: usize, limit: usize) -> (Vec<Arc<Job>>, bool) {
        let jobs = self.lock();
        let page: Vec<_> = jobs.iter().skip(offset).take(limit).cloned().collect();
        let more = offset + page.len() < jobs.len();
        (page, more)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Vec<Arc<Job>>> {
        self.jobs.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// RFC 3339 with nanoseconds, `Z`-normalised, as Google writes timestamps.
pub(crate) fn timestamp(time: SystemTime) -> String {
    humantime::format_rfc3339_nanos(time).to_string()
}

#[cfg(test)]
mod tests;
