//! Every fault effect observed from the client side, and every way a rule matches.

#[path = "simulator_support.rs"]
mod support;

use std::time::{Duration, Instant};

use batchprobe::simulator::{Effect, FaultRule, Range, SimOperation};
use serde_json::Value;
use support::{JOBS, KEY, assert_google_error, client, client_with_timeout, get, get_json, start};

fn with_faults(faults: &str) -> String {
    format!("{JOBS}\nfaults:\n{faults}")
}

#[tokio::test]
async fn status_effect_answers_googles_error_body() {
    let sim = start(
        &with_faults("  - effect: {status: 503}"),
        &["default"],
        None,
    )
    .await;

    let (status, body) = get_json(&sim, "default", "/v1beta/batches/seed-10-a").await;

    assert_eq!(status, 503);
    assert_google_error(&body, 503, "UNAVAILABLE");
    sim.shutdown().await;
}

#[tokio::test]
async fn retry_after_effect_sends_the_header() {
    let faults = "  - effect: {retry_after: {status: 429, after: 30s}}";
    let sim = start(&with_faults(faults), &["default"], None).await;

    let response = get(&sim, "default", "/v1beta/models").await;

    assert_eq!(response.status().as_u16(), 429);
    assert_eq!(response.headers()["retry-after"], "30");
    let body: Value = serde_json::from_slice(&response.bytes().await.unwrap()).unwrap();
    assert_google_error(&body, 429, "RESOURCE_EXHAUSTED");
    sim.shutdown().await;
}

#[tokio::test]
async fn reset_mid_body_breaks_the_body_after_the_status() {
    let sim = start(
        &with_faults("  - effect: reset_mid_body"),
        &["default"],
        None,
    )
    .await;

    let response = get(&sim, "default", "/v1beta/batches/seed-100-a").await;
    let status = response.status().as_u16();
    let announced = response.content_length().unwrap();
    let body = response.bytes().await;

    assert_eq!(status, 200);
    assert!(announced > 10_000, "{announced}");
    let err = body.expect_err("the body must break off");
    println!("reset mid-body: {err:?}");
    sim.shutdown().await;
}

#[tokio::test]
async fn truncated_body_ends_before_content_length() {
    let sim = start(
        &with_faults("  - effect: truncated_body"),
        &["default"],
        None,
    )
    .await;
    let url = format!(
        "{}/v1beta/batches/seed-10-a",
        sim.base_url("default").unwrap()
    );

    let response = client()
        .get(url)
        .header("x-goog-api-key", KEY)
        .send()
        .await
        .unwrap();
    let status = response.status().as_u16();
    let body = response.bytes().await;

    assert_eq!(status, 200);
    let err = body.expect_err("the body must end early");
    println!("truncated body: {err:?}");
    sim.shutdown().await;
}

#[tokio::test]
async fn hang_never_answers() {
    let sim = start(&with_faults("  - effect: hang"), &["default"], None).await;
    let url = format!("{}/v1beta/models", sim.base_url("default").unwrap());

    let result = client_with_timeout(Duration::from_millis(300))
        .get(url)
        .header("x-goog-api-key", KEY)
        .send()
        .await;

    let err = result.expect_err("a hang must not answer");
    assert!(err.is_timeout(), "{err:?}");
    sim.shutdown().await;
}

#[tokio::test]
async fn close_drops_the_connection_before_any_response() {
    let sim = start(&with_faults("  - effect: close"), &["default"], None).await;
    let url = format!("{}/v1beta/models", sim.base_url("default").unwrap());

    let result = client().get(url).header("x-goog-api-key", KEY).send().await;

    let err = result.expect_err("a closed connection has no response");
    assert!(!err.is_timeout(), "{err:?}");
    assert!(err.status().is_none());
    sim.shutdown().await;
}

#[tokio::test]
async fn rules_match_by_operation_and_api_version() {
    let faults = "
  - operations: [get]
    api_versions: [v1beta]
    effect: {status: 503}";
    let sim = start(&with_faults(faults), &["default"], None).await;

    let get_v1beta = get_json(&sim, "default", "/v1beta/batches/seed-10-a")
        .await
        .0;
    let get_v1 = get_json(&sim, "default", "/v1/batches/seed-10-a").await.0;
    let state_v1beta = get_json(
        &sim,
        "default",
        "/v1beta/batches/seed-10-a?fields=metadata.state",
    )
    .await
    .0;
    let list_v1beta = get_json(&sim, "default", "/v1beta/batches").await.0;

    assert_eq!(
        (get_v1beta, get_v1, state_v1beta, list_v1beta),
        (503, 200, 200, 200)
    );
    sim.shutdown().await;
}

#[tokio::test]
async fn rules_match_by_region_and_listener_position() {
    let faults = "
  - regions: [eu]
    effect: {status: 403}
  - listeners: [3]
    effect: {status: 500}";
    let sim = start(&with_faults(faults), &["us", "eu", "asia"], None).await;

    assert_eq!(get_json(&sim, "us", "/v1beta/models").await.0, 200);
    assert_eq!(get_json(&sim, "eu", "/v1beta/models").await.0, 403);
    assert_eq!(get_json(&sim, "asia", "/v1beta/models").await.0, 500);
    sim.shutdown().await;
}

#[tokio::test]
async fn rules_match_by_batch_size_and_response_size() {
    let faults = "
  - batch_size: {min: 11, max: 100}
    effect: {status: 503}
  - response_bytes: {min: 200000}
    effect: {status: 500}";
    let sim = start(&with_faults(faults), &["default"], None).await;

    assert_eq!(
        get_json(&sim, "default", "/v1beta/batches/seed-10-a")
            .await
            .0,
        200
    );
    assert_eq!(
        get_json(&sim, "default", "/v1beta/batches/seed-100-a")
            .await
            .0,
        503
    );
    // 500 requests are outside the size range but their body is past the size cliff.
    assert_eq!(
        get_json(&sim, "default", "/v1beta/batches/seed-500-a")
            .await
            .0,
        500
    );
    // The partial GET of the same job is small, and list and models touch no job.
    let state = "/v1beta/batches/seed-500-a?fields=name,metadata.state,metadata.batchStats";
    assert_eq!(get_json(&sim, "default", state).await.0, 200);
    assert_eq!(get_json(&sim, "default", "/v1beta/batches").await.0, 200);
    sim.shutdown().await;
}

#[tokio::test]
async fn rules_match_by_time_window() {
    let faults = "
  - until: 400ms
    effect: {status: 503}
  - after: 1h
    effect: {status: 500}";
    let sim = start(
        &format!("time_scale: 1\n{}", with_faults(faults)),
        &["default"],
        None,
    )
    .await;
    let started = Instant::now();

    let early = get_json(&sim, "default", "/v1beta/models").await.0;
    tokio::time::sleep(Duration::from_millis(400).saturating_sub(started.elapsed())).await;
    let late = get_json(&sim, "default", "/v1beta/models").await.0;

    assert_eq!((early, late), (503, 200));
    sim.shutdown().await;
}

#[tokio::test]
async fn probability_zero_never_and_one_always() {
    let faults = "
  - operations: [models]
    probability: 0
    effect: {status: 500}
  - operations: [list]
    probability: 1
    effect: {status: 503}";
    let sim = start(&with_faults(faults), &["default"], None).await;

    for _ in 0..5 {
        assert_eq!(get_json(&sim, "default", "/v1beta/models").await.0, 200);
        assert_eq!(get_json(&sim, "default", "/v1beta/batches").await.0, 503);
    }
    sim.shutdown().await;
}

#[tokio::test]
async fn seeded_probability_repeats_across_runs() {
    let yaml = format!(
        "seed: 11\n{}",
        with_faults("  - probability: 0.5\n    effect: {status: 503}")
    );
    let mut runs = Vec::new();
    for _ in 0..2 {
        let sim = start(&yaml, &["default"], None).await;
        let mut statuses = Vec::new();
        for _ in 0..16 {
            statuses.push(get_json(&sim, "default", "/v1beta/models").await.0);
        }
        sim.shutdown().await;
        runs.push(statuses);
    }

    assert_eq!(runs[0], runs[1]);
    assert!(
        runs[0].contains(&200) && runs[0].contains(&503),
        "{:?}",
        runs[0]
    );
}

#[tokio::test]
async fn deadline_follows_x_server_timeout_and_becomes_504_past_an_hour() {
    let faults = "
  - operations: [get]
    deadline: 60s
    effect: {status: 503}";
    // 60 s of scenario time is 6 ms here, an hour 360 ms.
    let sim = start(
        &format!("time_scale: 0.0001\n{}", with_faults(faults)),
        &["default"],
        None,
    )
    .await;
    let url = format!(
        "{}/v1beta/batches/seed-100-a",
        sim.base_url("default").unwrap()
    );
    let send = |timeout: Option<&'static str>| {
        let mut request = client().get(&url).header("x-goog-api-key", KEY);
        if let Some(timeout) = timeout {
            request = request.header("X-Server-Timeout", timeout);
        }
        async move {
            let response = request.send().await.unwrap();
            let status = response.status().as_u16();
            let body: Value = serde_json::from_slice(&response.bytes().await.unwrap()).unwrap();
            (status, body)
        }
    };

    let (default_status, default_body) = send(None).await;
    let (short_status, _) = send(Some("120")).await;
    let started = Instant::now();
    let (long_status, long_body) = send(Some("3600")).await;
    println!(
        "X-Server-Timeout 3600 answered after {:?}",
        started.elapsed()
    );

    assert_eq!(default_status, 503);
    assert_google_error(&default_body, 503, "UNAVAILABLE");
    assert_eq!(short_status, 503);
    assert_eq!(long_status, 504);
    assert_google_error(&long_body, 504, "DEADLINE_EXCEEDED");
    sim.shutdown().await;
}

#[tokio::test]
async fn a_faulted_create_creates_nothing() {
    let sim = start(
        &with_faults("  - operations: [create]\n    effect: {status: 503}"),
        &["default"],
        None,
    )
    .await;
    let url = format!(
        "{}/v1beta/models/gemini-2.5-flash:batchGenerateContent",
        sim.base_url("default").unwrap()
    );
    let body = r#"{"batch": {"inputConfig": {"requests": {"requests": [{"request": {"contents": []}}]}}}}"#;

    let response = client()
        .post(url)
        .header("x-goog-api-key", KEY)
        .body(body)
        .send()
        .await
        .unwrap();
    let (_, list) = get_json(&sim, "default", "/v1beta/batches?pageSize=100").await;

    assert_eq!(response.status().as_u16(), 503);
    assert_eq!(list["operations"].as_array().unwrap().len(), 7);
    sim.shutdown().await;
}

#[tokio::test]
async fn set_faults_changes_behaviour_without_restart() {
    let sim = start(JOBS, &["default"], None).await;
    assert_eq!(
        get_json(&sim, "default", "/v1beta/batches/seed-10-a")
            .await
            .0,
        200
    );

    let mut rule = FaultRule::any();
    rule.operations = vec![SimOperation::Get];
    rule.batch_size = Some(Range {
        min: Some(1),
        max: Some(10),
    });
    rule.effect = Some(Effect::Status(504));
    sim.set_faults(vec![rule]);

    let (status, body) = get_json(&sim, "default", "/v1beta/batches/seed-10-a").await;
    assert_eq!(status, 504);
    assert_google_error(&body, 504, "DEADLINE_EXCEEDED");
    assert_eq!(
        get_json(&sim, "default", "/v1beta/batches/seed-100-a")
            .await
            .0,
        200
    );

    sim.set_faults(Vec::new());
    assert_eq!(
        get_json(&sim, "default", "/v1beta/batches/seed-10-a")
            .await
            .0,
        200
    );
    sim.shutdown().await;
}

#[tokio::test]
async fn delay_without_effect_answers_healthy() {
    let sim = start(
        &format!("time_scale: 1\n{}", with_faults("  - delay: 50ms")),
        &["default"],
        None,
    )
    .await;

    let response = get(&sim, "default", "/v1beta/models").await;

    assert_eq!(response.status().as_u16(), 200);
    let timing = response.headers()["server-timing"]
        .to_str()
        .unwrap()
        .to_string();
    println!("delayed answer: {timing}");
    sim.shutdown().await;
}
