//! The Grafana dashboards of dashboards/: valid JSON that imports and provisions as it is (no
//! `__inputs`, a `datasource` variable, schema version 39 or newer), stable and unique uids,
//! every panel with a unit and at least one query, every variable it uses defined, every
//! metric it reads exported by batchprobe or recorded by alerts/, and every query accepted by
//! the real PromQL parser: the queries, variables substituted, are written as recording rules
//! and checked with `promtool check rules`.
//!
//! Needs `promtool` (Debian package prometheus).

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::{Value, json};
use support::grafana_references;

mod support;

/// Every dashboard file and the uid it must keep: links, bookmarks and provisioned copies
/// depend on it. A new dashboard adds its line here.
const DASHBOARDS: [(&str, &str); 2] = [
    ("batchprobe-overview.json", "batchprobe-overview"),
    ("batchprobe-slice.json", "batchprobe-slice"),
];

/// The variables every dashboard offers, besides `datasource`.
const SLICE_VARIABLES: [&str; 5] = [
    "provider",
    "region",
    "api_version",
    "operation",
    "batch_size",
];

/// The metrics batchprobe exports (histograms by their base name).
const EXPORTED_METRICS: [&str; 11] = [
    "batchprobe_requests_total",
    "batchprobe_request_duration_seconds",
    "batchprobe_response_bytes",
    "batchprobe_probe_success",
    "batchprobe_last_probe_timestamp_seconds",
    "batchprobe_jobs_discovered",
    "batchprobe_checks_skipped_total",
    "batchprobe_config_last_reload_successful",
    "batchprobe_build_info",
    "batchprobe_outage_scope",
    "batchprobe_slice_error_ratio",
];

/// The contract metric read as a slice state.
const SLICE_STATE_METRIC: &str = "batchprobe_slice_state";

/// Grafana's own variables a query may use, with a value that keeps PromQL valid.
const BUILTIN_VARIABLES: [(&str, &str); 5] = [
    ("__rate_interval", "1m"),
    ("__interval", "1m"),
    ("__range", "1h"),
    ("__range_s", "3600"),
    ("__interval_ms", "60000"),
];

fn repo_path(relative: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(relative)
}

fn load(file: &str) -> Value {
    let path = repo_path("dashboards").join(file);
    let text = std::fs::read_to_string(&path)
        .unwrap_or_else(|err| panic!("cannot read {}: {err}", path.display()));

    serde_json::from_str(&text).unwrap_or_else(|err| panic!("{file} is not valid JSON: {err}"))
}

fn dashboards() -> Vec<(&'static str, Value)> {
    DASHBOARDS
        .iter()
        .map(|(file, _)| (*file, load(file)))
        .collect()
}

/// Every panel, rows' nested panels included, rows themselves excluded.
fn panels(dashboard: &Value) -> Vec<&Value> {
    let mut out = Vec::new();
    for panel in dashboard["panels"]
        .as_array()
        .expect("a dashboard has panels")
    {
        if panel["type"] == "row" {
            out.extend(panel["panels"].as_array().into_iter().flatten());
        } else {
            out.push(panel);
        }
    }
    out
}

fn variables(dashboard: &Value) -> &Vec<Value> {
    dashboard["templating"]["list"]
        .as_array()
        .expect("a dashboard has templating.list")
}

/// The names of the variables a text refers to.
fn variable_references(text: &str) -> Vec<String> {
    grafana_references(text)
        .into_iter()
        .map(|(_, name)| name)
        .collect()
}

/// The query with every variable replaced by a value that keeps it valid PromQL.
fn substitute(expr: &str) -> String {
    let mut out = String::new();
    let mut copied = 0;
    for (range, name) in grafana_references(expr) {
        let value = BUILTIN_VARIABLES
            .iter()
            .find(|(builtin, _)| *builtin == name)
            .map_or("value", |(_, value)| value);
        out.push_str(&expr[copied..range.start]);
        out.push_str(value);
        copied = range.end;
    }
    out.push_str(&expr[copied..]);
    out
}

/// Every string anywhere in a JSON value.
fn strings(value: &Value) -> Vec<&str> {
    match value {
        Value::String(s) => vec![s.as_str()],
        Value::Array(items) => items.iter().flat_map(strings).collect(),
        Value::Object(map) => map.values().flat_map(strings).collect(),
        _ => Vec::new(),
    }
}

/// The metric names a query reads: identifiers followed by `{`, `[` or a space-free end that
/// start with a metric prefix of batchprobe.
fn metric_names(expr: &str) -> BTreeSet<String> {
    expr.split(|c: char| !(c.is_ascii_alphanumeric() || c == '_' || c == ':'))
        .filter(|word| {
            word.starts_with("batchprobe_")
                || word.starts_with("slice:")
                || word.starts_with("all_regions:")
                || word.starts_with("instance:")
                || word.starts_with("batchprobe:")
        })
        .map(str::to_string)
        .collect()
}

/// The names recorded by alerts/batchprobe.rules.yml.
fn recorded_names() -> BTreeSet<String> {
    let path = repo_path("alerts/batchprobe.rules.yml");
    let text = std::fs::read_to_string(&path).expect("read the recording rules");
    let rules: Value = serde_norway::from_str(&text).expect("the recording rules are YAML");

    rules["groups"]
        .as_array()
        .expect("groups")
        .iter()
        .flat_map(|group| group["rules"].as_array().expect("rules").iter())
        .filter_map(|rule| rule["record"].as_str().map(str::to_string))
        .collect()
}

#[test]
fn uids_are_stable_and_unique() {
    let files: BTreeSet<String> = std::fs::read_dir(repo_path("dashboards"))
        .expect("list dashboards/")
        .map(|entry| {
            entry
                .expect("entry")
                .file_name()
                .to_string_lossy()
                .into_owned()
        })
        .filter(|name| name.ends_with(".json"))
        .collect();
    let known: BTreeSet<String> = DASHBOARDS.iter().map(|(f, _)| f.to_string()).collect();
    assert_eq!(
        files, known,
        "every dashboard file needs its fixed uid in DASHBOARDS"
    );

    let mut uids = BTreeSet::new();
    for (file, uid) in DASHBOARDS {
        assert_eq!(load(file)["uid"], uid, "{file} changed its uid");
        assert!(uids.insert(uid), "uid {uid} used twice");
    }
}

#[test]
fn dashboards_import_and_provision_as_they_are() {
    for (file, dashboard) in dashboards() {
        assert!(
            dashboard.get("__inputs").is_none(),
            "{file}: __inputs needs an import step"
        );
        assert!(
            dashboard["id"].is_null(),
            "{file}: a fixed numeric id breaks provisioning"
        );
        let schema = dashboard["schemaVersion"].as_u64().expect("schemaVersion");
        assert!(
            schema >= 39,
            "{file}: schemaVersion {schema} is older than 39"
        );
        assert!(
            dashboard["title"].as_str().is_some_and(|t| !t.is_empty()),
            "{file}: title"
        );
    }
}

#[test]
fn variables_are_defined_as_label_values_of_the_datasource() {
    for (file, dashboard) in dashboards() {
        let by_name: BTreeMap<&str, &Value> = variables(&dashboard)
            .iter()
            .map(|v| (v["name"].as_str().expect("variable name"), v))
            .collect();

        let datasource = by_name.get("datasource").expect("a datasource variable");
        assert_eq!(datasource["type"], "datasource", "{file}");
        assert_eq!(datasource["query"], "prometheus", "{file}");

        for name in SLICE_VARIABLES {
            let variable = by_name
                .get(name)
                .unwrap_or_else(|| panic!("{file}: no ${name}"));
            assert_eq!(variable["type"], "query", "{file}: ${name}");
            assert_eq!(
                variable["datasource"]["uid"], "${datasource}",
                "{file}: ${name}"
            );
            let query = variable["query"].as_str().expect("a label_values query");
            assert!(
                query.starts_with("label_values(") && query.ends_with(&format!(", {name})")),
                "{file}: ${name} should be label_values(..., {name}), is {query}"
            );
        }
    }
}

#[test]
fn every_panel_has_a_unit_queries_and_the_datasource_variable() {
    for (file, dashboard) in dashboards() {
        let mut ids = BTreeSet::new();
        for panel in panels(&dashboard) {
            let title = panel["title"].as_str().unwrap_or("untitled");
            assert!(
                ids.insert(panel["id"].as_u64().expect("a panel id")),
                "{file}: {title} id"
            );

            let unit = panel["fieldConfig"]["defaults"]["unit"]
                .as_str()
                .unwrap_or_default();
            assert!(!unit.is_empty(), "{file}: panel {title} has no unit");
            assert_eq!(
                panel["datasource"]["uid"], "${datasource}",
                "{file}: {title}"
            );

            let targets = panel["targets"].as_array().expect("targets");
            assert!(!targets.is_empty(), "{file}: panel {title} has no query");
            let mut ref_ids = BTreeSet::new();
            for target in targets {
                let expr = target["expr"].as_str().unwrap_or_default();
                assert!(
                    !expr.trim().is_empty(),
                    "{file}: {title} has an empty query"
                );
                assert!(
                    ref_ids.insert(target["refId"].as_str()),
                    "{file}: {title} refIds"
                );
                assert_eq!(
                    target["datasource"]["uid"], "${datasource}",
                    "{file}: {title}"
                );
            }
        }
    }
}

#[test]
fn every_variable_used_is_defined() {
    for (file, dashboard) in dashboards() {
        let defined: BTreeSet<&str> = variables(&dashboard)
            .iter()
            .filter_map(|v| v["name"].as_str())
            .collect();

        for text in strings(&dashboard) {
            for name in variable_references(text) {
                // Grafana's own: $__rate_interval, ${__data.fields.x}, ${__url_time_range}...
                let builtin = name.starts_with("__");
                assert!(
                    builtin || defined.contains(name.as_str()),
                    "{file}: ${name} in {text}"
                );
            }
        }
    }
}

#[test]
fn every_metric_read_is_exported_or_recorded() {
    let recorded = recorded_names();
    for (file, dashboard) in dashboards() {
        for panel in panels(&dashboard) {
            for target in panel["targets"].as_array().expect("targets") {
                let expr = target["expr"].as_str().unwrap_or_default();
                for name in metric_names(expr) {
                    let base = ["_bucket", "_sum", "_count"]
                        .iter()
                        .find_map(|suffix| name.strip_suffix(suffix))
                        .unwrap_or(&name);
                    let known = EXPORTED_METRICS.contains(&base)
                        || name == SLICE_STATE_METRIC
                        || recorded.contains(&name);
                    assert!(
                        known,
                        "{file}: {} reads unknown metric {name}",
                        panel["title"]
                    );
                }
            }
        }
    }
}

#[test]
fn every_query_parses_as_promql() {
    let promtool = std::env::split_paths(&std::env::var_os("PATH").unwrap_or_default())
        .map(|dir| dir.join("promtool"))
        .find(|path| path.is_file())
        .expect("`promtool` is not on PATH; install it with: apt-get install -y prometheus");

    // Each query becomes a recording rule named after its dashboard, panel and refId.
    let mut groups = Vec::new();
    let mut count = 0;
    for (file, dashboard) in dashboards() {
        let stem = file.trim_end_matches(".json").replace('-', "_");
        let mut rules = Vec::new();
        for panel in panels(&dashboard) {
            for target in panel["targets"].as_array().expect("targets") {
                let record = format!(
                    "dashboard:{stem}_panel_{}:{}",
                    panel["id"],
                    target["refId"].as_str().unwrap_or("X")
                );
                let expr = substitute(target["expr"].as_str().unwrap_or_default());
                rules.push(json!({ "record": record, "expr": expr }));
            }
        }

        // A variable's label_values(selector, label) holds a selector that must parse too.
        for variable in variables(&dashboard) {
            let query = variable["query"].as_str().unwrap_or_default();
            if let Some(inner) = query.strip_prefix("label_values(") {
                let selector = inner.rsplit_once(',').map_or(inner, |(s, _)| s);
                let record = format!(
                    "dashboard:{stem}_variable:{}",
                    variable["name"].as_str().unwrap()
                );
                rules.push(json!({ "record": record, "expr": substitute(selector) }));
            }
        }
        count += rules.len();
        groups.push(json!({ "name": stem, "rules": rules }));
    }
    let dir = tempfile::tempdir().expect("temp dir");
    let rule_file = dir.path().join("dashboard-queries.yml");
    let yaml = serde_norway::to_string(&json!({ "groups": groups })).expect("serialize rules");
    std::fs::write(&rule_file, yaml).expect("write the rule file");

    let output = Command::new(promtool)
        .args(["check", "rules"])
        .arg(&rule_file)
        .output()
        .expect("run promtool");

    let report = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "promtool rejects a dashboard query:\n{report}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(
        report.contains(&format!("SUCCESS: {count} rules found")),
        "{report}"
    );
}

#[test]
fn substitution_keeps_queries_valid() {
    let expr =
        r#"sum by (code) (rate(x{region=~"$region", op="${operation:regex}"}[$__rate_interval]))"#;

    assert_eq!(
        substitute(expr),
        r#"sum by (code) (rate(x{region=~"value", op="value"}[1m]))"#
    );
    assert_eq!(
        variable_references("${__data.fields.region}&var-x=$provider [[batch_size]]"),
        ["__data", "provider", "batch_size"]
    );
}
