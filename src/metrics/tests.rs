//! The metric contract as encoded text, both exposition formats, and format negotiation.

use std::time::{Duration, SystemTime};

use super::*;
use crate::outcome::Outcome;
use crate::slice::Operation;

fn observation(outcome: Outcome, status: Option<u16>) -> Observation {
    Observation {
        slice: SliceKey {
            provider: "gemini".into(),
            operation: Operation::Get,
            api_version: "v1beta".into(),
            region: "europe-west4".into(),
            batch_size: "101-500".into(),
        },
        outcome,
        status,
        duration: Duration::from_secs(60),
        response_bytes: 180,
        finished_at: SystemTime::UNIX_EPOCH + Duration::from_secs(1_700_000_000),
        retry_after: None,
        trace_id: Some("4bf92f3577b34da6a3ce929d0e0e4736".into()),
    }
}

#[test]
fn requests_carry_code_and_outcome() {
    let metrics = Metrics::new();

    metrics.observe(&observation(Outcome::HttpError, Some(503)));
    metrics.observe(&observation(Outcome::ConnectError, None));
    let text = metrics.encode(Format::PrometheusText).unwrap();

    assert!(text.contains(
        "batchprobe_requests_total{provider=\"gemini\",operation=\"get\",api_version=\"v1beta\",\
         region=\"europe-west4\",batch_size=\"101-500\",code=\"503\",outcome=\"http_error\"} 1"
    ), "{text}");
    assert!(
        text.contains("code=\"0\",outcome=\"connect_error\"} 1"),
        "{text}"
    );
    assert!(text.contains("batchprobe_probe_success{"), "{text}");
    assert!(text.contains("} 0\n"), "last probe failed: {text}");
    assert!(
        text.contains("batchprobe_last_probe_timestamp_seconds{"),
        "{text}"
    );
    assert!(
        text.contains("le=\"180\""),
        "duration buckets reach past 120 s: {text}"
    );
    assert!(text.contains("batchprobe_build_info{version=\""), "{text}");
    assert!(!text.contains("# EOF"), "Prometheus text has no EOF marker");
}

#[test]
fn openmetrics_carries_exemplars_of_failures() {
    let metrics = Metrics::new();

    metrics.observe(&observation(Outcome::HttpError, Some(503)));
    let text = metrics.encode(Format::OpenMetrics).unwrap();

    assert!(text.ends_with("# EOF\n"));
    assert!(
        text.contains("trace_id=\"4bf92f3577b34da6a3ce929d0e0e4736\""),
        "{text}"
    );
}

#[test]
fn format_follows_accept() {
    let prometheus = "application/openmetrics-text;version=1.0.0,text/plain;version=0.0.4;q=0.5";

    assert_eq!(Format::from_accept(Some(prometheus)), Format::OpenMetrics);
    assert_eq!(
        Format::from_accept(Some("text/plain")),
        Format::PrometheusText
    );
    assert_eq!(Format::from_accept(None), Format::PrometheusText);
}

#[test]
fn retained_slices_keep_their_gauges_and_the_others_go() {
    let metrics = Metrics::new();
    let kept = observation(Outcome::Success, Some(200));
    let mut dropped = kept.clone();
    dropped.slice.api_version = "v1".into();
    metrics.observe(&kept);
    metrics.observe(&dropped);

    metrics.retain_slices(&[kept.slice.clone()].into_iter().collect());
    let text = metrics.encode(Format::PrometheusText).unwrap();

    let gauges = |version: &str| {
        text.lines()
            .filter(|l| {
                (l.starts_with("batchprobe_probe_success{")
                    || l.starts_with("batchprobe_last_probe_timestamp_seconds{"))
                    && l.contains(&format!("api_version=\"{version}\""))
            })
            .count()
    };
    assert_eq!(gauges("v1beta"), 2, "{text}");
    assert_eq!(gauges("v1"), 0, "{text}");
    assert!(
        text.contains(
            "batchprobe_requests_total{provider=\"gemini\",operation=\"get\",api_version=\"v1\""
        ),
        "counters stay"
    );
}
