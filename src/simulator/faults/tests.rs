//! Unit tests of rule validation, matching and the probability roll.

use super::*;

fn facts(operation: SimOperation) -> RequestFacts<'static> {
    RequestFacts {
        operation,
        api_version: "v1beta",
        region: "us",
        listener: 1,
        batch_size: Some(100),
        response_bytes: Some(5000),
        elapsed: Duration::from_secs(10),
    }
}

#[test]
fn empty_rule_matches_everything() {
    assert!(FaultRule::any().matches(&facts(SimOperation::List), 1.0));
}

#[test]
fn each_matcher_can_exclude() {
    let request = facts(SimOperation::Get);
    let mut rule = FaultRule::any();
    rule.operations = vec![SimOperation::GetState];
    assert!(!rule.matches(&request, 1.0));

    let mut rule = FaultRule::any();
    rule.api_versions = vec!["v1".into()];
    assert!(!rule.matches(&request, 1.0));

    let mut rule = FaultRule::any();
    rule.regions = vec!["eu".into()];
    assert!(!rule.matches(&request, 1.0));

    let mut rule = FaultRule::any();
    rule.listeners = vec![2];
    assert!(!rule.matches(&request, 1.0));

    let mut rule = FaultRule::any();
    rule.batch_size = Some(Range {
        min: Some(101),
        max: None,
    });
    assert!(!rule.matches(&request, 1.0));

    let mut rule = FaultRule::any();
    rule.response_bytes = Some(Range {
        min: None,
        max: Some(4999),
    });
    assert!(!rule.matches(&request, 1.0));
}

#[test]
fn size_matchers_skip_requests_without_sizes() {
    let mut request = facts(SimOperation::List);
    request.batch_size = None;
    request.response_bytes = None;
    let mut rule = FaultRule::any();
    rule.batch_size = Some(Range::default());
    assert!(!rule.matches(&request, 1.0));

    let mut rule = FaultRule::any();
    rule.response_bytes = Some(Range::default());
    assert!(!rule.matches(&request, 1.0));
}

#[test]
fn window_is_scaled() {
    let request = facts(SimOperation::Get);
    let mut rule = FaultRule::any();
    rule.after = Some(Duration::from_secs(100));
    assert!(!rule.matches(&request, 1.0));
    assert!(rule.matches(&request, 0.1));

    let mut rule = FaultRule::any();
    rule.until = Some(Duration::from_secs(100));
    assert!(rule.matches(&request, 1.0));
    assert!(!rule.matches(&request, 0.01));
}

#[test]
fn validation_rejects_nonsense() {
    let mut rule = FaultRule::any();
    rule.probability = 1.5;
    assert!(rule.validate().is_err());

    let mut rule = FaultRule::any();
    rule.effect = Some(Effect::Status(200));
    assert!(rule.validate().is_err());

    let mut rule = FaultRule::any();
    rule.batch_size = Some(Range {
        min: Some(5),
        max: Some(4),
    });
    assert!(rule.validate().is_err());

    let mut rule = FaultRule::any();
    rule.after = Some(Duration::from_secs(5));
    rule.until = Some(Duration::from_secs(5));
    assert!(rule.validate().is_err());

    assert!(FaultRule::any().validate().is_ok());
}

#[test]
fn seeded_probability_is_reproducible() {
    let mut rule = FaultRule::any();
    rule.probability = 0.5;
    let run = || {
        let state = FaultState::new(vec![rule.clone()], Some(7), 1.0);
        (0..64)
            .map(|_| state.pick(&facts(SimOperation::Get)).is_some())
            .collect::<Vec<_>>()
    };

    let first = run();

    assert_eq!(first, run());
    assert!(first.iter().any(|hit| *hit) && first.iter().any(|hit| !*hit));
}

#[test]
fn first_matching_rule_wins_and_losers_fall_through() {
    let mut never = FaultRule::any();
    never.name = Some("never".into());
    never.probability = 0.0;
    let mut first = FaultRule::any();
    first.name = Some("first".into());
    let mut second = FaultRule::any();
    second.name = Some("second".into());
    let state = FaultState::new(vec![never, first, second], Some(1), 1.0);

    let (label, _) = state.pick(&facts(SimOperation::Get)).unwrap();

    assert_eq!(label, "first");
}
