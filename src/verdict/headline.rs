//! The headline: one sentence that says what is failing, how it fails and what to do about it.
//!
//! Only wording lives here; the decisions it words are made in `scope`.

use std::time::Duration;

use super::Scope;
use super::scope::{Dimension, Finding};
use super::window::Cause;

/// Counts about the whole window, for the sentences that have no failure to talk about.
pub(crate) struct WindowCounts {
    pub(crate) slices: usize,
    pub(crate) unknown_slices: usize,
    pub(crate) requests: u64,
    pub(crate) window: Duration,
}

/// Writes the headline for a finding.
pub(crate) fn write(finding: &Finding, counts: &WindowCounts) -> String {
    let sentence = match finding.scope {
        Scope::None => return quiet(counts),
        Scope::ProbeLocal => format!(
            "Requests fail at the network level ({}), the models control included: check this \
             probe's network path (DNS, proxy, firewall, egress) before blaming the provider.",
            failure(finding)
        ),
        Scope::Credentials => format!(
            "Requests are refused ({}) across {}: check the API key and the permissions of its \
             project.",
            failure(finding),
            plural(finding.failing_slices, "slice")
        ),
        Scope::Quota => format!(
            "Requests are throttled ({}) across {}: check the project's quota and lower the \
             probe rate.",
            failure(finding),
            plural(finding.failing_slices, "slice")
        ),
        Scope::BatchSize => format!(
            "{} while {}: fetch large jobs with fields= or submit smaller batches, and wait for \
             the provider.",
            what_fails(finding),
            healthy(
                finding,
                Dimension::BatchSize,
                ("batch size ", "batch sizes ")
            ),
        ),
        Scope::Operation => format!(
            "{} while {}: {}",
            what_fails(finding),
            healthy(finding, Dimension::Operation, ("", "")),
            operation_advice(finding)
        ),
        Scope::ApiVersion => format!(
            "{} while {}: switch to {} until the provider fixes it.",
            what_fails(finding),
            healthy(
                finding,
                Dimension::ApiVersion,
                ("API version ", "API versions ")
            ),
            first_healthy(finding, Dimension::ApiVersion, "a healthy API version"),
        ),
        Scope::Regional => format!(
            "{} while {}: route to {} or wait for the provider.",
            what_fails(finding),
            healthy(finding, Dimension::Region, ("region ", "regions ")),
            first_healthy(finding, Dimension::Region, "a healthy region"),
        ),
        Scope::Widespread => format!(
            "Provider-wide outage: {}{}: wait for the provider and follow its status page.",
            what_fails(finding).replacen("Requests", "requests", 1),
            if finding.control_failing {
                ", the models control included"
            } else {
                ""
            }
        ),
    };

    if finding.provisional {
        format!("Provisional, no slice is healthy yet. {sentence}")
    } else {
        sentence
    }
}

/// The sentence when no slice is failing.
fn quiet(counts: &WindowCounts) -> String {
    let window = humantime::format_duration(counts.window);
    if counts.slices == 0 {
        return format!("No probe results in the last {window} yet: nothing to judge.");
    }
    if counts.unknown_slices == 0 {
        return format!(
            "No slice is failing: {} and {} in the last {window} look healthy.",
            plural(counts.slices, "slice"),
            plural(counts.requests as usize, "request")
        );
    }
    let which = match (counts.unknown_slices, counts.slices) {
        (1, _) => "1 slice has".to_string(),
        (unknown, all) if unknown == all => format!("all {all} slices have"),
        (unknown, all) => format!("{unknown} of {all} slices have"),
    };
    format!(
        "No slice is failing in the last {window}; {which} too few requests or too mixed \
         results to judge yet."
    )
}

/// What fails and how, narrowed by every separating dimension: "get fails for batch size
/// 11-100 and 101-500 in all 3 regions (503 after a median 60 s, ...)".
fn what_fails(finding: &Finding) -> String {
    let values = |d: Dimension| finding.explained_by.get(&d);

    let (subject, verb) = match values(Dimension::Operation) {
        Some(ops) if ops.len() == 1 => (ops[0].clone(), "fails"),
        Some(ops) => (join(ops), "fail"),
        None => ("Requests".to_string(), "fail"),
    };
    let mut text = format!("{subject} {verb}");
    if let Some(buckets) = values(Dimension::BatchSize) {
        let noun = if buckets.len() == 1 {
            "batch size"
        } else {
            "batch sizes"
        };
        text.push_str(&format!(" for {noun} {}", join(buckets)));
    }
    if let Some(versions) = values(Dimension::ApiVersion) {
        text.push_str(&format!(" on {}", join(versions)));
    }
    if let Some(providers) = values(Dimension::Provider) {
        text.push_str(&format!(" at {}", join(providers)));
    }
    match values(Dimension::Region) {
        Some(regions) => text.push_str(&format!(" in {}", join(regions))),
        None if finding.regions_seen.len() > 1 => {
            text.push_str(&format!(" in all {} regions", finding.regions_seen.len()))
        }
        None => {}
    }
    format!("{text} ({})", failure(finding))
}

/// "503 after a median 60 s, which looks like a server-side deadline, not load shedding".
fn failure(finding: &Finding) -> String {
    let Some((label, share)) = &finding.dominant_failure else {
        return "errors".to_string();
    };
    let mut text = if *share >= 0.8 {
        label.clone()
    } else {
        format!("mostly {label}")
    };

    if let Some(latency) = finding.failure_latency {
        text.push_str(&format!(" after a median {}", seconds(latency)));
        let server = finding.dominant_cause == Some(Cause::Server);
        if finding.slow_failures && server {
            text.push_str(", which looks like a server-side deadline, not load shedding");
        } else if finding.slow_failures {
            text.push_str(", which looks like a deadline, not load shedding");
        } else if server {
            text.push_str(", quick enough to be load shedding");
        }
    }
    text
}

/// "batch size 1-10 is healthy" or "regions a and b are healthy"; "the rest is healthy" when
/// no comparable slice was left out.
fn healthy(finding: &Finding, dimension: Dimension, (one, many): (&str, &str)) -> String {
    // Before any slice is healthy, the contrast is only "not failing so far".
    let state = if finding.provisional {
        "not failing so far"
    } else {
        "healthy"
    };
    match finding.contrast.get(&dimension) {
        Some(values) if values.len() == 1 => format!("{one}{} is {state}", values[0]),
        Some(values) if !values.is_empty() => format!("{many}{} are {state}", join(values)),
        _ => format!("the rest is {state}"),
    }
}

/// The first healthy value of a dimension, to name where to go instead.
fn first_healthy(finding: &Finding, dimension: Dimension, fallback: &str) -> String {
    finding
        .contrast
        .get(&dimension)
        .and_then(|values| values.first())
        .cloned()
        .unwrap_or_else(|| fallback.to_string())
}

/// What to do when one operation fails: the state-only fetch is the way around a broken `get`.
fn operation_advice(finding: &Finding) -> String {
    let failing = finding.explained_by.get(&Dimension::Operation);
    let get_fails = failing.is_some_and(|ops| ops.iter().any(|op| op == "get"));
    let state_fails = failing.is_some_and(|ops| ops.iter().any(|op| op == "get_state"));
    if get_fails && !state_fails {
        "fetch jobs with fields= (as get_state does) and wait for the provider.".to_string()
    } else {
        "avoid the failing operation where you can and wait for the provider.".to_string()
    }
}

/// A latency the way people say it: "850 ms", "4.2 s", "60 s", "12 min".
pub(crate) fn seconds(duration: Duration) -> String {
    let secs = duration.as_secs_f64();
    if secs < 1.0 {
        format!("{} ms", duration.as_millis())
    } else if secs < 10.0 {
        format!("{secs:.1} s")
    } else if secs < 600.0 {
        format!("{secs:.0} s")
    } else {
        format!("{:.0} min", secs / 60.0)
    }
}

/// "a", "a and b", "a, b and c".
fn join(values: &[String]) -> String {
    match values {
        [] => String::new(),
        [one] => one.clone(),
        [rest @ .., last] => format!("{} and {last}", rest.join(", ")),
    }
}

/// "1 slice", "3 slices".
fn plural(count: usize, noun: &str) -> String {
    if count == 1 {
        format!("1 {noun}")
    } else {
        format!("{count} {noun}s")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lists_read_as_prose() {
        let values = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<Vec<_>>();

        assert_eq!(join(&values(&["get"])), "get");
        assert_eq!(join(&values(&["11-100", "101-500"])), "11-100 and 101-500");
        assert_eq!(join(&values(&["a", "b", "c"])), "a, b and c");
    }

    #[test]
    fn latencies_read_as_people_say_them() {
        assert_eq!(seconds(Duration::from_millis(850)), "850 ms");
        assert_eq!(seconds(Duration::from_millis(4200)), "4.2 s");
        assert_eq!(seconds(Duration::from_secs(60)), "60 s");
        assert_eq!(seconds(Duration::from_secs(720)), "12 min");
    }
}
