//! The conventions of alerts/ that the tools do not check: every alert carries `severity`,
//! `scope` and the three annotations, its runbook link leads to a section of
//! docs/alerting.md, the unit tests of alerts/tests/ see every alert both firing and not
//! firing, recording rules are named `level:metric:operations`, and the availability
//! objective is written in one place.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use serde_json::Value;

fn repo_path(relative: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(relative)
}

fn read(path: &Path) -> String {
    std::fs::read_to_string(path)
        .unwrap_or_else(|err| panic!("cannot read {}: {err}", path.display()))
}

fn yaml(path: &Path) -> Value {
    serde_norway::from_str(&read(path))
        .unwrap_or_else(|err| panic!("{} is not valid YAML: {err}", path.display()))
}

/// Every rule of a rule file, across its groups.
fn rules(relative: &str) -> Vec<Value> {
    let file = yaml(&repo_path(relative));
    let groups = file["groups"].as_array().expect("a rule file has groups");

    groups
        .iter()
        .flat_map(|group| {
            group["rules"]
                .as_array()
                .expect("a group has rules")
                .clone()
        })
        .collect()
}

fn alerts() -> Vec<Value> {
    rules("alerts/batchprobe.alerts.yml")
}

fn text<'a>(value: &'a Value, key: &str) -> &'a str {
    value[key]
        .as_str()
        .unwrap_or_else(|| panic!("missing `{key}` in {value}"))
}

/// The anchor GitHub gives a markdown heading: lowercase, spaces to dashes, punctuation gone.
fn heading_anchor(heading: &str) -> String {
    heading
        .trim()
        .to_lowercase()
        .chars()
        .filter_map(|c| match c {
            ' ' => Some('-'),
            c if c.is_alphanumeric() || c == '-' || c == '_' => Some(c),
            _ => None,
        })
        .collect()
}

#[test]
fn every_alert_has_severity_scope_and_annotations() {
    for alert in alerts() {
        let name = text(&alert, "alert");
        let labels = &alert["labels"];
        let severity = text(labels, "severity");
        let scope = text(labels, "scope");

        // The watchdog is routed to a dead man's switch and must never page or open a ticket.
        if name == "BatchprobeWatchdog" {
            assert_eq!((severity, scope), ("none", "none"), "{name}");
        } else {
            assert!(
                ["page", "ticket"].contains(&severity),
                "{name}: severity {severity}"
            );
            assert!(
                !scope.is_empty() && scope != "none",
                "{name}: scope {scope}"
            );
        }
        for key in ["summary", "description", "runbook_url"] {
            assert!(
                !text(&alert["annotations"], key).trim().is_empty(),
                "{name}: {key}"
            );
        }
    }
}

#[test]
fn pages_are_for_widespread_failures_only() {
    for alert in alerts() {
        if alert["labels"]["severity"] == "page" {
            assert_eq!(alert["labels"]["scope"], "widespread", "{}", alert["alert"]);
        }
    }
}

#[test]
fn every_runbook_link_leads_to_a_section_of_the_alerting_doc() {
    let doc = read(&repo_path("docs/alerting.md"));
    let anchors: BTreeSet<String> = doc
        .lines()
        .filter_map(|line| line.strip_prefix('#'))
        .map(|heading| heading_anchor(heading.trim_start_matches('#')))
        .collect();

    for alert in alerts() {
        let url = text(&alert["annotations"], "runbook_url");
        let anchor = url
            .strip_prefix("docs/alerting.md#")
            .unwrap_or_else(|| panic!("{url} should point into docs/alerting.md"));

        assert!(
            anchors.contains(anchor),
            "no heading for #{anchor} in docs/alerting.md"
        );
        assert_eq!(
            anchor,
            text(&alert, "alert").to_lowercase(),
            "one section per alert"
        );
    }
}

#[test]
fn unit_tests_see_every_alert_firing_and_not_firing() {
    let mut firing = BTreeSet::new();
    let mut silent = BTreeSet::new();
    let dir = repo_path("alerts/tests");
    for entry in std::fs::read_dir(&dir).expect("list alerts/tests") {
        let file = yaml(&entry.expect("directory entry").path());
        for test in file["tests"].as_array().expect("a test file has tests") {
            for case in test["alert_rule_test"].as_array().into_iter().flatten() {
                let name = text(case, "alertname").to_string();
                match case["exp_alerts"].as_array() {
                    Some(expected) if !expected.is_empty() => firing.insert(name),
                    _ => silent.insert(name),
                };
            }
        }
    }

    for alert in alerts() {
        let name = text(&alert, "alert");
        assert!(firing.contains(name), "no unit test shows {name} firing");
        // The watchdog has no state in which it is silent.
        if name != "BatchprobeWatchdog" {
            assert!(
                silent.contains(name),
                "no unit test shows {name} not firing"
            );
        }
    }
}

#[test]
fn recording_rules_are_named_level_metric_operations() {
    for rule in rules("alerts/batchprobe.rules.yml") {
        let name = text(&rule, "record");
        let parts: Vec<&str> = name.split(':').collect();

        assert_eq!(parts.len(), 3, "{name} should read level:metric:operations");
        assert!(
            parts.iter().all(|part| !part.is_empty()),
            "{name} has an empty part"
        );
        // The `batchprobe` level holds the tuning constants; every other level names the
        // batchprobe metric it derives from.
        assert!(
            parts[0] == "batchprobe" || parts[1].starts_with("batchprobe_"),
            "{name} should name the batchprobe metric it derives from"
        );
    }
}

#[test]
fn availability_objective_is_written_in_one_place() {
    let objective: Vec<Value> = rules("alerts/batchprobe.rules.yml")
        .into_iter()
        .filter(|rule| rule["record"] == "batchprobe:availability_objective:ratio")
        .collect();
    assert_eq!(objective.len(), 1, "exactly one rule records the objective");
    let value = text(&objective[0], "expr");

    // Nothing else spells the objective's number or its budget: they read the recorded series.
    let number = value
        .trim()
        .trim_start_matches("vector(")
        .trim_end_matches(')');
    let objective_value: f64 = number.parse().expect("a numeric objective");
    let budget = format!("{}", ((1.0 - objective_value) * 1e6).round() / 1e6);
    for file in [
        "alerts/batchprobe.rules.yml",
        "alerts/batchprobe.alerts.yml",
    ] {
        for rule in rules(file) {
            let expr = text(&rule, "expr");
            if expr == value {
                continue;
            }
            assert!(
                !expr.contains(number),
                "{file}: `{expr}` repeats the objective"
            );
            assert!(
                !expr.contains(budget.as_str()),
                "{file}: `{expr}` repeats the budget"
            );
        }
    }
}
