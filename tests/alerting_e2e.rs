//! The whole alerting path on loopback: the simulator's seed outage in three regions, probed
//! by three `batchprobe run` instances, scraped by a real Prometheus that evaluates the shipped
//! rules, routed by a real Alertmanager with the example config to a webhook receiver in the
//! test. The outage is switched on after a healthy period and off again, so the test sees the
//! page arrive, the tickets it explains stay silent, every dashboard query answer, and the page
//! resolve. It prints how long each step took (`cargo test --test alerting_e2e -- --nocapture`).
//!
//! What is scaled to keep the run within minutes (every `for:` divided by 30, Alertmanager's
//! group timers) is described in `alerting_e2e/stack.rs`.
//!
//! Needs `prometheus` and the Alertmanager (Debian packages prometheus and
//! prometheus-alertmanager; scripts/install-test-deps.sh installs both).

mod support;

#[path = "alerting_e2e/dashboards.rs"]
mod dashboards;
#[path = "alerting_e2e/receiver.rs"]
mod receiver;
#[path = "alerting_e2e/stack.rs"]
mod stack;

use std::collections::BTreeSet;
use std::future::Future;
use std::time::{Duration, Instant};

use batchprobe::simulator::{FaultRule, Scenario};
use serde_json::Value;

use receiver::{Notification, Receiver};
use stack::{REGIONS, Stack};

const PAGE: &str = "batchprobe-page";
const TICKET: &str = "batchprobe-ticket";
const PROBE_OWNER: &str = "batchprobe-probe-owner";
const WATCHDOG: &str = "batchprobe-watchdog";
const WIDESPREAD: &str = "BatchprobeWidespreadFailure";

/// The seed outage's slice families (API version, batch size bucket) of `get`: jobs of more
/// than 10 requests, in both API versions.
fn outage_families() -> BTreeSet<(String, String)> {
    let mut families = BTreeSet::new();
    for api_version in ["v1beta", "v1"] {
        for batch_size in ["11-100", "101-500"] {
            families.insert((api_version.to_string(), batch_size.to_string()));
        }
    }
    families
}

fn label<'a>(alert: &'a Value, name: &str) -> &'a str {
    alert["labels"][name].as_str().unwrap_or_default()
}

/// The families of the `BatchprobeWidespreadFailure` alerts with this status in notifications.
fn widespread(notifications: &[Notification], status: &str) -> BTreeSet<(String, String)> {
    notifications
        .iter()
        .flat_map(Notification::alerts)
        .filter(|a| label(a, "alertname") == WIDESPREAD && a["status"] == status)
        .map(|a| {
            (
                label(a, "api_version").into(),
                label(a, "batch_size").into(),
            )
        })
        .collect()
}

/// A one-line summary per notification, for failure messages.
fn summary(notifications: &[Notification]) -> String {
    let mut out = String::new();
    for n in notifications {
        let alerts: Vec<String> = n
            .alerts()
            .map(|a| {
                let slice = [
                    "alertname",
                    "scope",
                    "operation",
                    "api_version",
                    "batch_size",
                    "region",
                ];
                let labels: Vec<&str> = slice.iter().map(|l| label(a, l)).collect();
                format!(
                    "{}={}",
                    labels.join("/"),
                    a["status"].as_str().unwrap_or("?")
                )
            })
            .collect();
        out.push_str(&format!("{} {}\n", n.receiver, alerts.join(", ")));
    }
    out
}

/// Polls `check` every 500 ms until it returns `Some`; after `limit` fails with the
/// notifications so far and the processes' logs.
async fn wait<T, F, Fut>(
    stack: &Stack,
    receiver: &Receiver,
    limit: Duration,
    what: &str,
    mut check: F,
) -> T
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Option<T>>,
{
    let start = Instant::now();
    loop {
        if let Some(value) = check().await {
            return value;
        }
        if start.elapsed() > limit {
            panic!(
                "timed out after {limit:?} waiting for {what}\nnotifications:\n{}\n{}",
                summary(&receiver.notifications()),
                stack.logs()
            );
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}

/// Asserts that no ticket of any kind reached a receiver: the outage's per-bucket tickets are
/// inhibited by the page, and nothing else fails.
fn assert_no_tickets(receiver: &Receiver, when: &str) {
    for name in [TICKET, PROBE_OWNER] {
        let got = receiver.to(name);
        assert!(
            got.is_empty(),
            "{when}: {name} got notifications:\n{}",
            summary(&got)
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_seed_outage_pages_once_inhibits_its_tickets_and_resolves() {
    let receiver = Receiver::start().await;
    let stack = Stack::start(receiver.addr).await;
    let started = Instant::now();
    for (alert, shipped, scaled) in &stack.scaled_for {
        println!("scaled for: {alert} {shipped} -> {scaled}");
    }

    // A healthy period: every region's probe has several successful `get`s of every bucket
    // (3 buckets x 2 API versions x 3 regions) in Prometheus before the outage starts.
    let healthy_query =
        r#"count(batchprobe_requests_total{operation="get", outcome="success"} >= 5)"#;
    wait(
        &stack,
        &receiver,
        Duration::from_secs(90),
        "a healthy period",
        || async {
            let result = stack.query(healthy_query).await;
            let count = result.first()?["value"][1].as_str()?.parse::<f64>().ok()?;
            (count >= 18.0).then_some(())
        },
    )
    .await;
    let healthy_for = started.elapsed();
    assert!(receiver.to(PAGE).is_empty(), "a page before the outage");
    assert_no_tickets(&receiver, "before the outage");

    // The outage: the built-in seed-outage's fault rules, put on the running healthy
    // simulator, whose jobs are the seed outage's.
    let seed = Scenario::builtin("seed-outage").unwrap();
    let healthy = Scenario::builtin("healthy").unwrap();
    assert_eq!(
        healthy.jobs, seed.jobs,
        "the healthy scenario seeds other jobs"
    );
    assert_eq!(healthy.time_scale, seed.time_scale);
    let faults = serde_json::to_value(&seed.faults).unwrap();
    let in_force = stack.put_faults(&faults).await;
    let fault_start = Instant::now();
    let in_force: Vec<FaultRule> = serde_json::from_value(in_force).unwrap();
    assert_eq!(
        in_force, seed.faults,
        "the simulator holds other fault rules"
    );

    // The page: one BatchprobeWidespreadFailure per failing family reaches the page receiver.
    let expected = outage_families();
    let limit = Duration::from_secs(150);
    wait(&stack, &receiver, limit, "the widespread page", || async {
        (widespread(&receiver.to(PAGE), "firing") == expected).then_some(())
    })
    .await;
    let pages = receiver.to(PAGE);
    let first_page = pages[0].at - fault_start;
    let first_widespread = pages
        .iter()
        .find(|n| !widespread(std::slice::from_ref(n), "firing").is_empty())
        .unwrap()
        .at
        - fault_start;
    let all_widespread = (1..=pages.len())
        .find(|&n| widespread(&pages[..n], "firing") == expected)
        .map(|n| pages[n - 1].at - fault_start)
        .unwrap();

    // Every page is about the outage's families, says widespread, and went to the pager in
    // one group: the two buckets and two API versions in three regions page once.
    let group = serde_json::json!({ "provider": "gemini", "operation": "get" });
    for notification in &pages {
        assert_eq!(notification.body["receiver"], PAGE);
        assert_eq!(notification.body["groupLabels"], group, "one page group");
        for alert in notification.alerts() {
            let family = (
                label(alert, "api_version").into(),
                label(alert, "batch_size").into(),
            );
            assert_eq!(label(alert, "severity"), "page", "{alert}");
            assert_eq!(label(alert, "scope"), "widespread", "{alert}");
            assert_eq!(label(alert, "provider"), "gemini", "{alert}");
            assert_eq!(label(alert, "operation"), "get", "{alert}");
            assert!(expected.contains(&family), "a page for {family:?}: {alert}");

            // The annotations rendered: a template error would reach the pager as text.
            for key in ["summary", "description", "runbook_url"] {
                let text = alert["annotations"][key].as_str().unwrap_or_default();
                assert!(!text.is_empty(), "no {key}: {alert}");
                assert!(!text.contains("error expanding"), "{key}: {text}");
            }
        }
    }
    let summary_text = pages[pages.len() - 1]
        .alerts()
        .filter(|a| label(a, "alertname") == WIDESPREAD)
        .map(|a| a["annotations"]["summary"].as_str().unwrap().to_string())
        .next()
        .unwrap();
    println!("page summary: {summary_text}");

    // Each probe blamed the provider, not its own side: all three testify.
    let own_side = stack
        .query("instance:batchprobe_outage_scope_own_side:max")
        .await;
    assert_eq!(own_side.len(), REGIONS.len(), "{own_side:?}");
    for probe in &own_side {
        assert_eq!(
            probe["value"][1], "0",
            "a probe blames its own side: {probe}"
        );
    }
    let verdicts = stack.query("batchprobe_outage_scope == 1").await;
    let scopes: BTreeSet<&str> = verdicts
        .iter()
        .filter_map(|v| v["metric"]["scope"].as_str())
        .collect();
    println!("the probes' own verdicts during the outage: {scopes:?}");

    // The tickets it explains: Prometheus fires a per-bucket ticket for every failing slice of
    // every region; Alertmanager holds each one inhibited, and no ticket reaches a receiver.
    let mut tickets_expected = BTreeSet::new();
    for region in REGIONS {
        for (api_version, batch_size) in &expected {
            tickets_expected.insert((region.to_string(), api_version.clone(), batch_size.clone()));
        }
    }
    let firing_tickets = || async {
        let alerts = stack.prometheus_alerts().await;
        let firing: BTreeSet<_> = alerts
            .iter()
            .filter(|a| label(a, "alertname") == "BatchprobeBatchSizeFailure")
            .filter(|a| a["state"] == "firing")
            .map(|a| {
                let region = label(a, "region").to_string();
                (
                    region,
                    label(a, "api_version").into(),
                    label(a, "batch_size").into(),
                )
            })
            .collect();
        (firing == tickets_expected).then_some(())
    };
    let limit = Duration::from_secs(60);
    wait(
        &stack,
        &receiver,
        limit,
        "the per-bucket tickets firing",
        firing_tickets,
    )
    .await;
    let inhibited = || async {
        let alerts = stack.alertmanager_alerts().await;
        let tickets: Vec<&Value> = alerts
            .iter()
            .filter(|a| label(a, "alertname") == "BatchprobeBatchSizeFailure")
            .collect();
        let all_inhibited = tickets.iter().all(|a| {
            a["status"]["state"] == "suppressed"
                && a["status"]["inhibitedBy"]
                    .as_array()
                    .is_some_and(|by| !by.is_empty())
        });
        (tickets.len() == tickets_expected.len() && all_inhibited).then_some(())
    };
    let limit = Duration::from_secs(30);
    wait(
        &stack,
        &receiver,
        limit,
        "the tickets held as inhibited",
        inhibited,
    )
    .await;
    // Longer than the ticket routes' group wait and interval: an uninhibited ticket would be
    // sent by now.
    tokio::time::sleep(Duration::from_secs(5)).await;
    assert_no_tickets(&receiver, "during the outage");

    // The dashboards during the outage: every query answers with data, none may be empty.
    // Two would be empty outside an outage like this one: "Regions failing per slice family"
    // (`> 0`) when nothing fails, and "Skipped checks by reason" when no check is skipped;
    // here the failing `get`s take 1.5 s, longer than the 1 s interval, so checks overlap and
    // are skipped.
    let queries = dashboards::panel_queries();
    let mut problems = Vec::new();
    for query in &queries {
        if let Some(problem) = dashboards::problem(&stack, query).await {
            problems.push(format!("{}: {problem}\n  {}", query.name, query.expr));
        }
    }
    assert!(
        problems.is_empty(),
        "dashboard queries without data:\n{}",
        problems.join("\n")
    );
    for (variable, values) in dashboards::variable_values(&stack).await {
        assert!(!values.is_empty(), "{variable} offers no value");
        if variable.ends_with("$region") {
            let regions: BTreeSet<String> = REGIONS.iter().map(|r| r.to_string()).collect();
            assert_eq!(values, regions, "{variable}");
        }
    }

    // The end of the outage: the widespread page resolves.
    let in_force = stack.put_faults(&Value::Array(Vec::new())).await;
    let cleared = Instant::now();
    assert_eq!(in_force, Value::Array(Vec::new()));
    let limit = Duration::from_secs(150);
    let resolved_at = wait(&stack, &receiver, limit, "the page to resolve", || async {
        let after: Vec<Notification> = receiver
            .to(PAGE)
            .into_iter()
            .filter(|n| n.at > cleared)
            .collect();
        (1..=after.len())
            .find(|&n| widespread(&after[..n], "resolved") == expected)
            .map(|n| after[n - 1].at)
    })
    .await;
    let resolution = resolved_at - cleared;
    assert_no_tickets(&receiver, "after the outage");

    // The dead man's switch went through the same path.
    let limit = Duration::from_secs(90);
    wait(&stack, &receiver, limit, "the watchdog", || async {
        let alive = receiver
            .to(WATCHDOG)
            .iter()
            .flat_map(Notification::alerts)
            .any(|a| label(a, "alertname") == "BatchprobeWatchdog");
        alive.then_some(())
    })
    .await;

    println!(
        "healthy period before the fault (since Prometheus started): {:.1}s",
        healthy_for.as_secs_f64()
    );
    println!(
        "fault start -> first page (any alert): {:.1}s",
        first_page.as_secs_f64()
    );
    println!(
        "fault start -> {WIDESPREAD} delivered: first family {:.1}s, all {} families {:.1}s",
        first_widespread.as_secs_f64(),
        expected.len(),
        all_widespread.as_secs_f64()
    );
    println!(
        "faults cleared -> {WIDESPREAD} resolved for all families: {:.1}s",
        resolution.as_secs_f64()
    );
    println!(
        "dashboard queries run: {}; whole run after startup: {:.1}s",
        queries.len(),
        started.elapsed().as_secs_f64()
    );
}
