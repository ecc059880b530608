//! Scheduler timing under tokio's paused clock, with a fake prober whose requests take a set
//! (virtual) time.

use std::path::Path;
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};

use super::*;
use crate::outcome::Outcome;

/// A prober that answers after `latency` of virtual time, optionally with a `Retry-After`.
struct FakeProber {
    latency: Duration,
    retry_after: Option<Duration>,
    in_flight: Arc<AtomicUsize>,
    max_in_flight: AtomicUsize,
    sent: Mutex<Vec<(Instant, Task)>>,
    list_pages: AtomicUsize,
}

impl FakeProber {
    fn new(latency: Duration) -> Arc<FakeProber> {
        Arc::new(FakeProber {
            latency,
            retry_after: None,
            in_flight: Arc::new(AtomicUsize::new(0)),
            max_in_flight: AtomicUsize::new(0),
            sent: Mutex::new(Vec::new()),
            list_pages: AtomicUsize::new(0),
        })
    }

    fn sent(&self) -> Vec<(Instant, Task)> {
        self.sent.lock().unwrap().clone()
    }
}

impl Prober for FakeProber {
    fn probe(&self, task: Task) -> BoxFuture<Observation> {
        self.sent
            .lock()
            .unwrap()
            .push((Instant::now(), task.clone()));
        let now_in_flight = self.in_flight.fetch_add(1, Ordering::SeqCst) + 1;
        self.max_in_flight
            .fetch_max(now_in_flight, Ordering::SeqCst);
        let latency = self.latency;
        let retry_after = self.retry_after;
        let in_flight = self.in_flight.clone();

        Box::pin(async move {
            tokio::time::sleep(latency).await;
            in_flight.fetch_sub(1, Ordering::SeqCst);
            Observation {
                slice: task.slice,
                outcome: Outcome::Success,
                status: Some(if retry_after.is_some() { 503 } else { 200 }),
                duration: latency,
                response_bytes: 10,
                finished_at: std::time::SystemTime::now(),
                retry_after,
                trace_id: None,
            }
        })
    }

    fn list_page(
        &self,
        _: usize,
        _: String,
        _: Option<String>,
    ) -> BoxFuture<Result<ListPage, String>> {
        self.list_pages.fetch_add(1, Ordering::SeqCst);
        let jobs = (0..3)
            .map(|i| DiscoveredJob {
                name: format!("batches/job-{i}"),
                state: "BATCH_STATE_SUCCEEDED".to_string(),
                size: Some(100),
                responses_file: None,
            })
            .collect();
        Box::pin(std::future::ready(Ok(ListPage {
            jobs,
            next_page_token: None,
        })))
    }

    fn is_succeeded(&self, _: usize, job: &DiscoveredJob) -> bool {
        job.state == "BATCH_STATE_SUCCEEDED"
    }
}

#[derive(Default)]
struct RecordingSink {
    observed: Mutex<Vec<Observation>>,
    skipped: Mutex<Vec<SkipReason>>,
}

impl Sink for RecordingSink {
    fn observe(&self, observation: &Observation) {
        self.observed.lock().unwrap().push(observation.clone());
    }

    fn skipped(&self, _: &str, reason: SkipReason) {
        self.skipped.lock().unwrap().push(reason);
    }

    fn discovered(&self, _: &Target, _: &str, _: &JobPool) {}
}

impl RecordingSink {
    fn skips(&self, reason: SkipReason) -> usize {
        self.skipped
            .lock()
            .unwrap()
            .iter()
            .filter(|&&r| r == reason)
            .count()
    }
}

fn config(extra_target: &str, top: &str) -> Config {
    let dir = tempfile::tempdir().unwrap();
    let key = dir.path().join("key");
    std::fs::write(&key, "k").unwrap();
    let text = format!(
        "{top}targets:\n  - name: t\n    provider: gemini\n    base_url: http://127.0.0.1:1\n    \
         api_key: {{ file: {} }}\n{extra_target}",
        key.display()
    );
    crate::config::parse(Path::new("test.yml"), &text).unwrap()
}

async fn run_for(scheduler: Scheduler, duration: Duration) {
    let cancel = CancellationToken::new();
    let stopper = cancel.clone();
    tokio::spawn(async move {
        tokio::time::sleep(duration).await;
        stopper.cancel();
    });
    scheduler.run(cancel).await;
}

#[tokio::test(start_paused = true)]
async fn each_check_runs_once_per_interval() {
    let config = config("    operations: [list, models]\n", "interval: 10s\n");
    let prober = FakeProber::new(Duration::from_millis(100));
    let sink = Arc::new(RecordingSink::default());
    let scheduler = Scheduler::new(config, prober.clone(), sink.clone()).with_jitter(0.0);

    run_for(scheduler, Duration::from_secs(100)).await;

    let sent = prober.sent();
    for operation in [Operation::List, Operation::Models] {
        let times: Vec<Instant> = sent
            .iter()
            .filter(|(_, t)| t.slice.operation == operation)
            .map(|(at, _)| *at)
            .collect();
        assert_eq!(
            times.len(),
            10,
            "{operation}: {} runs in 10 intervals",
            times.len()
        );
        for pair in times.windows(2) {
            assert_eq!(pair[1] - pair[0], Duration::from_secs(10));
        }
    }
    assert_eq!(sink.observed.lock().unwrap().len(), 20);
    assert_eq!(sink.skipped.lock().unwrap().len(), 0);
}

#[tokio::test(start_paused = true)]
async fn checks_are_spread_over_the_interval() {
    let config = config(
        "    api_versions: [v1beta, v1, v2, v3]\n    operations: [list, models]\n",
        "interval: 60s\n",
    );
    let prober = FakeProber::new(Duration::from_millis(1));
    let scheduler = Scheduler::new(config, prober.clone(), Arc::new(RecordingSink::default()));

    run_for(scheduler, Duration::from_secs(70)).await;

    let mut firsts = std::collections::HashMap::new();
    for (at, task) in prober.sent() {
        firsts
            .entry((task.api_version, task.slice.operation))
            .or_insert(at);
    }
    let mut instants: Vec<Instant> = firsts.into_values().collect();
    instants.sort();
    instants.dedup();
    assert_eq!(
        instants.len(),
        8,
        "eight checks first fire at eight different instants"
    );
}

#[tokio::test(start_paused = true)]
async fn a_slow_check_never_overlaps_itself() {
    let config = config(
        "    operations: [models]\n",
        "interval: 10s\ntimeout: 120s\n",
    );
    let prober = FakeProber::new(Duration::from_secs(25));
    let sink = Arc::new(RecordingSink::default());
    let scheduler = Scheduler::new(config, prober.clone(), sink.clone()).with_jitter(0.0);

    run_for(scheduler, Duration::from_secs(95)).await;

    assert_eq!(prober.max_in_flight.load(Ordering::SeqCst), 1);
    let sent = prober.sent();
    for pair in sent.windows(2) {
        assert!(pair[1].0 - pair[0].0 >= Duration::from_secs(25));
    }
    // Each 25 s run swallows two further ticks of 10 s.
    assert!(
        sink.skips(SkipReason::Overlap) >= 4,
        "{:?}",
        sink.skipped.lock().unwrap()
    );
}

#[tokio::test(start_paused = true)]
async fn the_budget_caps_requests_per_minute() {
    let config = config(
        "    api_versions: [a, b, c, d, e]\n    operations: [list, models]\n",
        "interval: 10s\nbudget: { requests_per_minute: 12 }\n",
    );
    let prober = FakeProber::new(Duration::from_millis(1));
    let sink = Arc::new(RecordingSink::default());
    let scheduler = Scheduler::new(config, prober.clone(), sink.clone());

    run_for(scheduler, Duration::from_secs(180)).await;

    let sent: Vec<Instant> = prober.sent().iter().map(|(at, _)| *at).collect();
    for (i, &at) in sent.iter().enumerate() {
        let in_window = sent[i..]
            .iter()
            .take_while(|&&t| t - at < Duration::from_secs(60))
            .count();
        assert!(in_window <= 12, "{in_window} requests within 60 s");
    }
    assert!(sink.skips(SkipReason::Budget) > 0);
    assert_eq!(
        sent.len(),
        sink.observed.lock().unwrap().len(),
        "every request sent is observed"
    );
}

#[tokio::test(start_paused = true)]
async fn retry_after_pauses_the_target() {
    let config = config("    operations: [list]\n", "interval: 10s\n");
    let mut prober = FakeProber::new(Duration::from_millis(1));
    Arc::get_mut(&mut prober).unwrap().retry_after = Some(Duration::from_secs(35));
    let sink = Arc::new(RecordingSink::default());
    let scheduler = Scheduler::new(config, prober.clone(), sink.clone()).with_jitter(0.0);

    run_for(scheduler, Duration::from_secs(100)).await;

    let sent = prober.sent();
    for pair in sent.windows(2) {
        assert!(pair[1].0 - pair[0].0 >= Duration::from_secs(35));
    }
    assert!(sent.len() >= 2);
    assert!(sink.skips(SkipReason::RetryAfter) >= 3 * (sent.len() - 1));
}

#[tokio::test(start_paused = true)]
async fn concurrency_is_limited_globally() {
    let config = config(
        "    api_versions: [a, b, c, d, e, f]\n    operations: [list, models]\n",
        "interval: 10s\nconcurrency: 3\nbudget: { requests_per_minute: 1000 }\n",
    );
    let prober = FakeProber::new(Duration::from_secs(5));
    let scheduler = Scheduler::new(config, prober.clone(), Arc::new(RecordingSink::default()));

    scheduler.run_round(0, false).await;

    assert_eq!(prober.sent().len(), 12);
    assert_eq!(prober.max_in_flight.load(Ordering::SeqCst), 3);
}

#[tokio::test(start_paused = true)]
async fn discovered_jobs_rotate_per_round() {
    let config = config(
        "    operations: [get]\n    jobs:\n      discover: { max_jobs: 10, per_bucket: 2 }\n",
        "interval: 10s\n",
    );
    let prober = FakeProber::new(Duration::from_millis(1));
    let scheduler = Scheduler::new(config, prober.clone(), Arc::new(RecordingSink::default()));

    scheduler.run_round(0, true).await;
    scheduler.run_round(1, false).await;

    let jobs: Vec<String> = prober
        .sent()
        .iter()
        .filter_map(|(_, t)| t.job.clone())
        .collect();
    assert_eq!(prober.list_pages.load(Ordering::SeqCst), 1);
    assert_eq!(
        jobs.len(),
        4,
        "two slots in the one bucket that has jobs, two rounds"
    );
    let mut distinct = jobs.clone();
    distinct.sort();
    distinct.dedup();
    assert_eq!(distinct.len(), 3, "rotation reaches every job: {jobs:?}");
    assert!(
        prober
            .sent()
            .iter()
            .all(|(_, t)| t.slice.batch_size == "11-100")
    );
}

#[tokio::test(start_paused = true)]
async fn a_probe_in_flight_at_cancel_is_still_recorded() {
    let config = config("    operations: [models]\n", "interval: 10s\n");
    let prober = FakeProber::new(Duration::from_secs(30));
    let sink = Arc::new(RecordingSink::default());
    let scheduler = Scheduler::new(config, prober.clone(), sink.clone()).with_jitter(0.0);

    let cancel = CancellationToken::new();
    let stopper = cancel.clone();
    tokio::spawn(async move {
        tokio::time::sleep(Duration::from_secs(15)).await;
        stopper.cancel();
    });
    let started = Instant::now();
    scheduler.run(cancel).await;

    assert_eq!(prober.sent().len(), 1, "nothing starts after the cancel");
    assert_eq!(
        sink.observed.lock().unwrap().len(),
        1,
        "the request in flight was recorded"
    );
    assert!(
        started.elapsed() >= Duration::from_secs(30),
        "run waited for it"
    );
}
