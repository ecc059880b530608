//! The simulator's wire shapes, seen from an HTTP client on loopback: job life cycle, list
//! paging, field masks, models, downloads, API keys, errors, regions and the runtime fault
//! control.

#[path = "simulator_support.rs"]
mod support;

use serde_json::{Value, json};
use support::{JOBS, KEY, assert_google_error, client, get, get_json, start};

fn create_body(count: usize) -> Value {
    let requests: Vec<Value> = (0..count)
        .map(|i| {
            json!({
                "request": {"contents": [{"parts": [{"text": format!("question {i}")}], "role": "user"}]},
                "metadata": {"key": format!("my-{i}")}
            })
        })
        .collect();
    json!({"batch": {"displayName": "wire-test", "inputConfig": {"requests": {"requests": requests}}}})
}

async fn post(base: &str, path: &str, body: &Value) -> (u16, Value) {
    let response = client()
        .post(format!("{base}{path}"))
        .header("x-goog-api-key", KEY)
        .header("content-type", "application/json")
        .body(body.to_string())
        .send()
        .await
        .unwrap();
    let status = response.status().as_u16();
    (
        status,
        serde_json::from_slice(&response.bytes().await.unwrap()).unwrap(),
    )
}

async fn delete(base: &str, path: &str) -> (u16, Value) {
    let response = client()
        .delete(format!("{base}{path}"))
        .header("x-goog-api-key", KEY)
        .send()
        .await
        .unwrap();
    let status = response.status().as_u16();
    (
        status,
        serde_json::from_slice(&response.bytes().await.unwrap()).unwrap(),
    )
}

#[tokio::test]
async fn created_job_finishes_with_results_in_both_places() {
    let yaml = format!("created_jobs: {{pending_for: 0s, running_for: 0s}}\n{JOBS}");
    let sim = start(&yaml, &["default"], None).await;
    let base = sim.base_url("default").unwrap();

    let (status, created) = post(
        &base,
        "/v1beta/models/gemini-2.5-flash:batchGenerateContent",
        &create_body(3),
    )
    .await;
    let name = created["name"].as_str().unwrap().to_string();
    let (status_get, job) = get_json(&sim, "default", &format!("/v1beta/{name}")).await;

    assert_eq!(status, 200, "{created}");
    assert!(
        name.starts_with("batches/") && name.len() == "batches/".len() + 40,
        "{name}"
    );
    assert_eq!(created["metadata"]["name"], name);
    assert_eq!(status_get, 200);
    assert_eq!(job["done"], true);
    assert_eq!(job["metadata"]["state"], "BATCH_STATE_SUCCEEDED");
    assert_eq!(job["metadata"]["model"], "models/gemini-2.5-flash");
    assert_eq!(job["metadata"]["displayName"], "wire-test");
    assert_eq!(
        job["metadata"]["batchStats"],
        json!({"requestCount": "3", "successfulRequestCount": "3"})
    );
    assert!(
        job["metadata"]["@type"]
            .as_str()
            .unwrap()
            .ends_with("GenerateContentBatch")
    );
    assert!(
        job["response"]["@type"]
            .as_str()
            .unwrap()
            .ends_with("GenerateContentBatchOutput")
    );
    let inline = &job["metadata"]["output"]["inlinedResponses"]["inlinedResponses"];
    assert_eq!(inline.as_array().unwrap().len(), 3);
    assert_eq!(
        job["response"]["inlinedResponses"]["inlinedResponses"],
        *inline
    );
    assert_eq!(inline[2]["metadata"]["key"], "my-2");
    assert!(inline[0]["response"]["candidates"][0]["content"]["parts"][0]["text"].is_string());
    for field in ["createTime", "updateTime", "endTime"] {
        assert!(
            job["metadata"][field].as_str().unwrap().ends_with('Z'),
            "{field}"
        );
    }
    sim.shutdown().await;
}

#[tokio::test]
async fn pending_job_can_be_cancelled_then_deleted() {
    let yaml = format!("created_jobs: {{pending_for: 1h}}\n{JOBS}");
    let sim = start(&yaml, &["default"], None).await;
    let base = sim.base_url("default").unwrap();

    // snake_case request spelling, as some clients send it.
    let body = json!({"batch": {"display_name": "snake", "input_config": {"requests": {"requests": [
        {"request": {"contents": [{"parts": [{"text": "hi"}]}]}}
    ]}}}});
    let (_, created) = post(
        &base,
        "/v1/models/gemini-2.5-flash:batchGenerateContent",
        &body,
    )
    .await;
    let name = created["name"].as_str().unwrap().to_string();

    assert_eq!(created["metadata"]["state"], "BATCH_STATE_PENDING");
    assert!(created.get("done").is_none(), "{created}");
    assert_eq!(
        created["metadata"]["batchStats"],
        json!({"requestCount": "1", "pendingRequestCount": "1"})
    );
    assert_eq!(created["metadata"]["displayName"], "snake");

    let (status, cancelled) = post(&base, &format!("/v1/{name}:cancel"), &json!({})).await;
    let (_, job) = get_json(&sim, "default", &format!("/v1/{name}")).await;

    assert_eq!((status, cancelled), (200, json!({})));
    assert_eq!(job["metadata"]["state"], "BATCH_STATE_CANCELLED");
    assert_eq!(job["done"], true);

    let (status, deleted) = delete(&base, &format!("/v1/{name}")).await;
    let (status_after, missing) = get_json(&sim, "default", &format!("/v1/{name}")).await;

    assert_eq!((status, deleted), (200, json!({})));
    assert_eq!(status_after, 404);
    assert_google_error(&missing, 404, "NOT_FOUND");
    sim.shutdown().await;
}

#[tokio::test]
async fn list_pages_through_every_job_without_inline_results() {
    let sim = start(JOBS, &["default"], None).await;
    let mut names = Vec::new();
    let mut token: Option<String> = None;

    for _ in 0..10 {
        let query = token
            .as_ref()
            .map_or(String::new(), |t| format!("&pageToken={t}"));
        let (status, page) = get_json(
            &sim,
            "default",
            &format!("/v1beta/batches?pageSize=3{query}"),
        )
        .await;
        assert_eq!(status, 200);
        let operations = page["operations"].as_array().unwrap();
        assert!(operations.len() <= 3);
        for operation in operations {
            assert!(
                operation["metadata"]["output"]
                    .get("inlinedResponses")
                    .is_none(),
                "{operation}"
            );
            names.push(operation["name"].as_str().unwrap().to_string());
        }
        token = page["nextPageToken"].as_str().map(str::to_string);
        if token.is_none() {
            break;
        }
    }

    assert_eq!(names.len(), 7, "{names:?}");
    assert!(names.contains(&"batches/seed-500-b".to_string()));
    let (status, bad) = get_json(&sim, "default", "/v1beta/batches?pageToken=garbage").await;
    assert_eq!(status, 400);
    assert_google_error(&bad, 400, "INVALID_ARGUMENT");
    sim.shutdown().await;
}

#[tokio::test]
async fn fields_mask_returns_only_state_and_counts() {
    let sim = start(JOBS, &["default"], None).await;

    let full = get(&sim, "default", "/v1beta/batches/seed-500-a")
        .await
        .bytes()
        .await
        .unwrap();
    let (status, partial) = get_json(
        &sim,
        "default",
        "/v1beta/batches/seed-500-a?fields=name,metadata.state,metadata.batchStats",
    )
    .await;

    assert_eq!(status, 200);
    assert_eq!(
        partial,
        json!({
            "name": "batches/seed-500-a",
            "metadata": {
                "state": "BATCH_STATE_SUCCEEDED",
                "batchStats": {"requestCount": "500", "successfulRequestCount": "500"}
            }
        })
    );
    println!(
        "seed-500-a: full body {} bytes, partial {} bytes",
        full.len(),
        partial.to_string().len()
    );
    assert!(full.len() > 100 * partial.to_string().len());
    sim.shutdown().await;
}

#[tokio::test]
async fn models_and_download() {
    let sim = start(JOBS, &["default"], None).await;

    let (status, page) = get_json(&sim, "default", "/v1beta/models?pageSize=1").await;
    assert_eq!(status, 200);
    assert_eq!(page["models"].as_array().unwrap().len(), 1);
    assert!(page["nextPageToken"].is_string());
    let (status, model) = get_json(&sim, "default", "/v1beta/models/gemini-2.5-flash").await;
    assert_eq!(status, 200);
    assert_eq!(model["name"], "models/gemini-2.5-flash");

    let (_, job) = get_json(&sim, "default", "/v1beta/batches/seed-100-file").await;
    let file = job["metadata"]["output"]["responsesFile"]
        .as_str()
        .unwrap()
        .to_string();
    assert_eq!(job["response"]["responsesFile"], file.as_str());
    let response = get(
        &sim,
        "default",
        &format!("/download/v1beta/{file}:download?alt=media"),
    )
    .await;
    assert_eq!(response.status().as_u16(), 200);
    let text = response.text().await.unwrap();
    let lines: Vec<Value> = text
        .lines()
        .map(|line| serde_json::from_str(line).unwrap())
        .collect();
    assert_eq!(lines.len(), 100);
    assert!(lines[0]["response"]["candidates"].is_array());

    let (status, _) = get_json(
        &sim,
        "default",
        "/download/v1beta/files/batch-seed-10-a:download?alt=media",
    )
    .await;
    assert_eq!(status, 404, "an inline job has no results file");
    sim.shutdown().await;
}

#[tokio::test]
async fn api_key_is_required_and_exact_when_configured() {
    let sim = start(JOBS, &["default"], Some("the-one-key")).await;
    let url = format!("{}/v1beta/models", sim.base_url("default").unwrap());
    let send = |key: Option<&'static str>| {
        let mut request = client().get(&url);
        if let Some(key) = key {
            request = request.header("x-goog-api-key", key);
        }
        async move {
            let response = request.send().await.unwrap();
            let status = response.status().as_u16();
            let body: Value = serde_json::from_slice(&response.bytes().await.unwrap()).unwrap();
            (status, body)
        }
    };

    let (missing_status, missing) = send(None).await;
    let (wrong_status, wrong) = send(Some("not-the-key")).await;
    let (right_status, _) = send(Some("the-one-key")).await;

    assert_eq!(missing_status, 403);
    assert_google_error(&missing, 403, "PERMISSION_DENIED");
    assert_eq!(wrong_status, 400);
    assert_google_error(&wrong, 400, "INVALID_ARGUMENT");
    assert!(!wrong.to_string().contains("not-the-key"));
    assert_eq!(right_status, 200);
    sim.shutdown().await;
}

#[tokio::test]
async fn every_answer_has_server_timing_and_unknown_paths_are_google_errors() {
    let sim = start(JOBS, &["default"], None).await;

    for path in [
        "/v1beta/models",
        "/v1beta/nothing-here",
        "/v1beta/batches/missing",
    ] {
        let response = get(&sim, "default", path).await;
        let timing = response.headers()["server-timing"]
            .to_str()
            .unwrap()
            .to_string();
        assert!(timing.starts_with("gfet4t7; dur="), "{path}: {timing}");
    }
    let (status, body) = get_json(&sim, "default", "/v1beta/nothing-here").await;
    assert_eq!(status, 404);
    assert_google_error(&body, 404, "NOT_FOUND");
    sim.shutdown().await;
}

#[tokio::test]
async fn regions_share_seeds_but_not_created_jobs() {
    let sim = start(JOBS, &["us", "eu"], None).await;
    let us = sim.base_url("us").unwrap();

    let (_, created) = post(
        &us,
        "/v1beta/models/gemini-2.5-flash:batchGenerateContent",
        &create_body(1),
    )
    .await;
    let name = created["name"].as_str().unwrap();

    assert_eq!(sim.regions(), ["us", "eu"]);
    assert_ne!(sim.addr("us"), sim.addr("eu"));
    assert_eq!(
        get_json(&sim, "us", &format!("/v1beta/{name}")).await.0,
        200
    );
    assert_eq!(
        get_json(&sim, "eu", &format!("/v1beta/{name}")).await.0,
        404
    );
    assert_eq!(
        get_json(&sim, "eu", "/v1beta/batches/seed-10-a").await.0,
        200
    );
    sim.shutdown().await;
}

#[tokio::test]
async fn faults_can_be_replaced_over_http() {
    let sim = start(JOBS, &["default"], None).await;
    let url = format!("{}/_simulator/faults", sim.base_url("default").unwrap());

    let put = client()
        .put(&url)
        .body("- name: models-down\n  operations: [models]\n  effect: {status: 500}\n")
        .send()
        .await
        .unwrap();
    assert_eq!(put.status().as_u16(), 200);
    let listed: Value = serde_json::from_slice(
        &client()
            .get(&url)
            .send()
            .await
            .unwrap()
            .bytes()
            .await
            .unwrap(),
    )
    .unwrap();
    let (status, body) = get_json(&sim, "default", "/v1beta/models").await;

    assert_eq!(listed["faults"][0]["name"], "models-down");
    assert_eq!(listed["faults"][0]["effect"], json!({"status": 500}));
    assert_eq!(status, 500);
    assert_google_error(&body, 500, "INTERNAL");
    assert_eq!(sim.faults().len(), 1);

    let bad = client()
        .put(&url)
        .body("- operations: [get]\n  efect: hang\n")
        .send()
        .await
        .unwrap();
    let status = bad.status().as_u16();
    let body: Value = serde_json::from_slice(&bad.bytes().await.unwrap()).unwrap();
    assert_eq!(status, 400);
    assert!(
        body["error"]["message"].as_str().unwrap().contains(":2:"),
        "{body}"
    );

    let cleared = client().put(&url).body("[]").send().await.unwrap();
    assert_eq!(cleared.status().as_u16(), 200);
    assert_eq!(get_json(&sim, "default", "/v1beta/models").await.0, 200);
    sim.shutdown().await;
}
