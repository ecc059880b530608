//! The built-in scenarios tell the stories their descriptions promise, seen from a client on
//! two regions and two API versions.

#[path = "simulator_support.rs"]
mod support;

use std::time::Instant;

use batchprobe::simulator::Scenario;
use support::{client, get, get_json, start_scenario};

const STATE_FIELDS: &str = "fields=name,metadata.state,metadata.batchStats";

async fn builtin(name: &str) -> batchprobe::simulator::RunningSimulator {
    let scenario = Scenario::builtin(name).unwrap();
    start_scenario(scenario, &["us", "eu"], None).await
}

async fn status(sim: &batchprobe::simulator::RunningSimulator, region: &str, path: &str) -> u16 {
    get(sim, region, path).await.status().as_u16()
}

#[tokio::test]
async fn healthy_serves_every_seeded_job() {
    let sim = builtin("healthy").await;

    for id in [
        "seed-10-a",
        "seed-10-b",
        "seed-100-a",
        "seed-100-b",
        "seed-500-a",
        "seed-500-b",
    ] {
        let started = Instant::now();
        let response = get(&sim, "eu", &format!("/v1beta/batches/{id}")).await;
        let code = response.status().as_u16();
        let bytes = response.bytes().await.unwrap().len();
        println!(
            "healthy GET {id}: {code}, {bytes} bytes in {:?}",
            started.elapsed()
        );
        assert_eq!(code, 200, "{id}");
    }
    sim.shutdown().await;
}

#[tokio::test]
async fn seed_outage_fails_whole_records_of_large_jobs_only() {
    let sim = builtin("seed-outage").await;

    // The failing GETs wait for the scaled deadline: run them side by side.
    let started = Instant::now();
    let failing = futures_util::future::join_all(
        ["us", "eu"]
            .into_iter()
            .flat_map(|region| {
                ["v1beta", "v1"].into_iter().flat_map(move |version| {
                    ["seed-100-a", "seed-500-b"]
                        .into_iter()
                        .map(move |id| (region, format!("/{version}/batches/{id}")))
                })
            })
            .map(|(region, path)| {
                let sim = &sim;
                async move { (path.clone(), get_json(sim, region, &path).await) }
            }),
    )
    .await;
    println!(
        "seed-outage: failing GETs answered within {:?}",
        started.elapsed()
    );

    for (path, (code, body)) in failing {
        assert_eq!(code, 503, "{path}");
        assert_eq!(body["error"]["status"], "UNAVAILABLE", "{path}");
    }
    for region in ["us", "eu"] {
        assert_eq!(status(&sim, region, "/v1beta/batches/seed-10-a").await, 200);
        assert_eq!(
            status(
                &sim,
                region,
                &format!("/v1beta/batches/seed-500-a?{STATE_FIELDS}")
            )
            .await,
            200
        );
        assert_eq!(
            status(&sim, region, "/v1beta/batches?pageSize=10").await,
            200
        );
        assert_eq!(status(&sim, region, "/v1/models?pageSize=1").await, 200);
        let file = "/download/v1beta/files/batch-seed-100-file:download?alt=media";
        assert_eq!(status(&sim, region, file).await, 200);
    }
    sim.shutdown().await;
}

#[tokio::test]
async fn widespread_forbidden_and_quota_fail_everything() {
    for (name, code) in [("widespread", 503), ("forbidden", 403), ("quota", 429)] {
        let sim = builtin(name).await;
        for region in ["us", "eu"] {
            assert_eq!(status(&sim, region, "/v1/models").await, code, "{name}");
            assert_eq!(
                status(&sim, region, "/v1beta/batches/seed-10-a").await,
                code,
                "{name}"
            );
        }
        if name == "quota" {
            let response = get(&sim, "us", "/v1beta/batches").await;
            assert_eq!(response.headers()["retry-after"], "30");
        }
        sim.shutdown().await;
    }
}

#[tokio::test]
async fn region_down_fails_the_second_listener() {
    let sim = builtin("region-down").await;

    assert_eq!(status(&sim, "us", "/v1beta/models").await, 200);
    assert_eq!(status(&sim, "eu", "/v1beta/models").await, 503);
    assert_eq!(status(&sim, "eu", "/v1/batches/seed-10-a").await, 503);
    sim.shutdown().await;
}

#[tokio::test]
async fn api_version_down_fails_v1beta_only() {
    let sim = builtin("api-version-down").await;

    assert_eq!(status(&sim, "us", "/v1beta/batches/seed-10-a").await, 503);
    assert_eq!(status(&sim, "us", "/v1/batches/seed-10-a").await, 200);
    assert_eq!(status(&sim, "eu", "/v1alpha/models").await, 200);
    sim.shutdown().await;
}

#[tokio::test]
async fn get_only_fails_whole_records_of_every_size() {
    let sim = builtin("get-only").await;

    let small = get_json(&sim, "us", "/v1beta/batches/seed-10-a");
    let state = status(
        &sim,
        "us",
        "/v1beta/batches/seed-10-a?fields=metadata.state",
    );
    let (small, state) = tokio::join!(small, state);

    assert_eq!(small.0, 503);
    assert_eq!(state, 200);
    sim.shutdown().await;
}

#[tokio::test]
async fn size_cliff_resets_large_bodies_whatever_the_count() {
    let sim = builtin("size-cliff").await;

    let image = get(&sim, "us", "/v1beta/batches/seed-10-image").await;
    assert_eq!(image.status().as_u16(), 200);
    let announced = image.content_length().unwrap();
    println!("size-cliff: 10-request image job announces {announced} bytes");
    assert!(image.bytes().await.is_err());

    let text = get(&sim, "us", "/v1beta/batches/seed-500-a").await;
    assert_eq!(text.status().as_u16(), 200);
    let bytes = text.bytes().await.unwrap().len();
    println!("size-cliff: 500-request text job is {bytes} bytes");
    assert!(bytes < 1024 * 1024);
    sim.shutdown().await;
}

#[tokio::test]
async fn refuse_all_closes_every_connection() {
    let sim = builtin("refuse-all").await;
    let url = format!("{}/v1beta/models", sim.base_url("eu").unwrap());

    let result = client()
        .get(url)
        .header("x-goog-api-key", support::KEY)
        .send()
        .await;

    assert!(result.is_err());
    sim.shutdown().await;
}

#[tokio::test]
async fn noise_is_mostly_healthy() {
    let sim = builtin("noise").await;
    let mut healthy = 0;

    for _ in 0..50 {
        let code = status(&sim, "us", "/v1beta/models").await;
        assert!(code == 200 || code == 503, "{code}");
        healthy += usize::from(code == 200);
    }

    println!("noise: {healthy} of 50 healthy");
    // At 2% the chance of fewer than 40 of 50 healthy is far below one in a billion.
    assert!(healthy >= 40, "{healthy}");
    sim.shutdown().await;
}
