//! Unit tests of scenario parsing, validation and the built-in scenarios.

use super::*;
use crate::simulator::faults::Effect;

#[test]
fn every_builtin_parses_and_is_listed() {
    assert_eq!(BUILTINS.len(), BUILTIN_NAMES.len());
    for name in Scenario::builtin_names() {
        let scenario = Scenario::builtin(name).unwrap_or_else(|err| panic!("{name}: {err}"));
        assert_eq!(scenario.name, *name);
        assert!(
            !scenario.description.is_empty(),
            "{name} has no description"
        );
        assert!(!scenario.jobs.is_empty(), "{name} seeds no jobs");
    }
}

#[test]
fn seed_outage_scales_the_deadline_to_about_a_second_and_a_half() {
    let scenario = Scenario::builtin("seed-outage").unwrap();
    let rule = &scenario.faults[0];

    let real = rule.deadline.unwrap().mul_f64(scenario.time_scale);

    assert_eq!(rule.effect, Some(Effect::Status(503)));
    assert_eq!(real, Duration::from_millis(1500));
}

#[test]
fn unknown_key_names_file_line_and_column() {
    let text = "time_scale: 1\nfaults:\n  - operations: [get]\n    efect: hang\n";

    let err = Scenario::parse(text, "my.yaml").unwrap_err();

    let message = err.to_string();
    assert!(message.starts_with("my.yaml:4:"), "{message}");
    assert!(message.contains("efect"), "{message}");
}

#[test]
fn invalid_values_are_rejected() {
    let err = Scenario::parse("jobs: [{id: a, requests: 0}]", "x.yaml").unwrap_err();
    assert!(err.to_string().contains("at least one request"));

    let err = Scenario::parse("time_scale: 0", "x.yaml").unwrap_err();
    assert!(err.to_string().contains("time_scale"));

    let err = Scenario::parse("faults: [{probability: 2}]", "x.yaml").unwrap_err();
    assert!(err.to_string().contains("faults[0]"));
}

#[test]
fn effects_parse_in_both_forms() {
    let text = "- effect: hang\n- effect: {status: 503}\n- effect: {retry_after: {status: 429, after: 30s}}\n";

    let rules = parse_fault_rules(text, "body").unwrap();

    assert_eq!(rules[0].effect, Some(Effect::Hang));
    assert_eq!(rules[1].effect, Some(Effect::Status(503)));
    assert_eq!(
        rules[2].effect,
        Some(Effect::RetryAfter {
            status: 429,
            after: Duration::from_secs(30)
        })
    );
    let wrapped = parse_fault_rules("{\"faults\": [{\"effect\": \"close\"}]}", "body").unwrap();
    assert_eq!(wrapped[0].effect, Some(Effect::Close));
}

#[test]
fn unknown_name_lists_builtins() {
    let err = Scenario::load("surely-not-a-scenario").unwrap_err();

    assert!(err.to_string().contains("seed-outage"));
}

#[test]
fn documented_example_parses() {
    let doc = include_str!("../../../docs/simulator.md");
    let start = doc
        .find("```yaml\n")
        .expect("docs/simulator.md has a yaml example")
        + 8;
    let end = start + doc[start..].find("```").unwrap();

    let scenario = Scenario::parse(&doc[start..end], "docs/simulator.md").unwrap();

    assert_eq!(scenario.faults.len(), 2);
    assert_eq!(scenario.faults[0].until, Some(Duration::from_secs(600)));
}
