//! Unit tests of job rendering, the life cycle and synthetic content.

use super::content::base64;
use super::*;

fn seed(requests: u64, output: OutputKind) -> JobSeed {
    JobSeed {
        id: "job-a".into(),
        requests,
        state: BatchState::Succeeded,
        output,
        kind: ContentKind::Text,
        bytes_per_response: 50,
        model: "gemini-2.5-flash".into(),
        display_name: None,
    }
}

#[test]
fn base64_matches_known_values() {
    assert_eq!(base64(b""), "");
    assert_eq!(base64(b"f"), "Zg==");
    assert_eq!(base64(b"fo"), "Zm8=");
    assert_eq!(base64(b"foo"), "Zm9v");
    assert_eq!(base64(b"foobar"), "Zm9vYmFy");
}

#[test]
fn finished_inline_job_has_results_in_both_places() {
    let job = Job::seeded(
        &seed(3, OutputKind::Inline),
        Instant::now(),
        SystemTime::now(),
    );

    let op = job.operation(Instant::now(), true);

    assert_eq!(op["done"], true);
    assert_eq!(op["metadata"]["batchStats"]["requestCount"], "3");
    assert_eq!(
        op["metadata"]["output"]["inlinedResponses"]["inlinedResponses"]
            .as_array()
            .unwrap()
            .len(),
        3
    );
    assert_eq!(
        op["response"]["inlinedResponses"],
        op["metadata"]["output"]["inlinedResponses"]
    );
    let text = &op["response"]["inlinedResponses"]["inlinedResponses"][0]["response"]["candidates"]
        [0]["content"]["parts"][0]["text"];
    assert_eq!(text.as_str().unwrap().len(), 50);
}

#[test]
fn list_items_leave_inline_results_out_but_keep_files() {
    let inline = Job::seeded(
        &seed(3, OutputKind::Inline),
        Instant::now(),
        SystemTime::now(),
    );
    let file = Job::seeded(
        &seed(3, OutputKind::File),
        Instant::now(),
        SystemTime::now(),
    );

    assert!(
        inline.operation(Instant::now(), false)["metadata"]
            .get("output")
            .is_none()
    );
    assert_eq!(
        file.operation(Instant::now(), false)["metadata"]["output"]["responsesFile"],
        "files/batch-job-a"
    );
    assert_eq!(
        file.results_file().iter().filter(|b| **b == b'\n').count(),
        3
    );
}

#[test]
fn created_job_moves_through_its_schedule_and_can_be_cancelled() {
    let job = Job::created(
        "gemini-2.5-flash".into(),
        "t".into(),
        vec![None, None],
        ContentKind::Text,
        10,
        Duration::from_secs(10),
        Duration::from_secs(10),
    );
    let start = job.created;

    assert_eq!(job.snapshot(start).state, BatchState::Pending);
    assert_eq!(
        job.snapshot(start + Duration::from_secs(15)).state,
        BatchState::Running
    );
    assert_eq!(
        job.snapshot(start + Duration::from_secs(25)).state,
        BatchState::Succeeded
    );
    let pending = job.operation(start, true);
    assert!(pending.get("done").is_none());
    assert_eq!(
        pending["metadata"]["batchStats"]["pendingRequestCount"],
        "2"
    );

    job.cancel(start + Duration::from_secs(1));

    assert_eq!(
        job.snapshot(start + Duration::from_secs(25)).state,
        BatchState::Cancelled
    );
}
