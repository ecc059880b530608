//! Every query of the Grafana dashboards in dashboards/, its variables substituted the way
//! Grafana would, run against the test's Prometheus; and every variable's `label_values`
//! query, asked through Prometheus' label values API.

use std::collections::BTreeSet;

use serde_json::Value;

use crate::stack::{Stack, repo_path};
use crate::support::{get_json, grafana_references};

/// Grafana's `$__rate_interval` with its default 15 s datasource scrape interval (4 × 15 s).
const RATE_INTERVAL: &str = "1m";

/// How far back range panels look, and their step.
const RANGE_SECONDS: u64 = 60;
const STEP_SECONDS: u64 = 5;

/// The value a single-value variable takes on the slice dashboard: a slice of the seed outage.
pub const SLICE: [(&str, &str); 5] = [
    ("provider", "gemini"),
    ("region", "europe-west4"),
    ("api_version", "v1beta"),
    ("operation", "get"),
    ("batch_size", "101-500"),
];

/// One panel query.
#[derive(Debug)]
pub struct PanelQuery {
    /// `file: panel title (refId)`, for messages.
    pub name: String,
    /// The query with its variables substituted.
    pub expr: String,
    /// Whether Grafana runs it as an instant query.
    pub instant: bool,
}

/// Every dashboard file, parsed.
fn dashboards() -> Vec<(String, Value)> {
    let dir = repo_path("dashboards");
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .expect("list dashboards/")
        .map(|entry| entry.unwrap().path())
        .filter(|path| path.extension().is_some_and(|ext| ext == "json"))
        .collect();
    files.sort();
    assert!(!files.is_empty(), "no dashboard in {}", dir.display());

    files
        .into_iter()
        .map(|path| {
            let text = std::fs::read_to_string(&path).unwrap();
            let name = path.file_name().unwrap().to_string_lossy().into_owned();
            let dashboard = serde_json::from_str(&text).expect("a dashboard is JSON");
            (name, dashboard)
        })
        .collect()
}

/// The value Grafana puts in place of `$name` on this dashboard: the "All" value of a variable
/// that offers it, else the seed outage slice's value, else Grafana's own built-in.
fn value_of(dashboard: &Value, name: &str) -> String {
    if name == "__rate_interval" || name == "__interval" {
        return RATE_INTERVAL.to_string();
    }
    let variable = dashboard["templating"]["list"]
        .as_array()
        .into_iter()
        .flatten()
        .find(|v| v["name"] == name)
        .unwrap_or_else(|| panic!("${name} is not a variable of {}", dashboard["uid"]));

    if variable["includeAll"] == true {
        return variable["allValue"].as_str().unwrap_or(".*").to_string();
    }
    SLICE
        .iter()
        .find(|(slice_name, _)| *slice_name == name)
        .map(|(_, value)| value.to_string())
        .unwrap_or_else(|| panic!("no test value for ${name}"))
}

/// `text` with `$name`, `${name}`, `${name:format}` and `[[name]]` replaced.
fn substitute(dashboard: &Value, text: &str) -> String {
    let mut out = String::new();
    let mut copied = 0;
    for (range, name) in grafana_references(text) {
        out.push_str(&text[copied..range.start]);
        out.push_str(&value_of(dashboard, &name));
        copied = range.end;
    }
    out.push_str(&text[copied..]);
    out
}

/// Every panel query of every dashboard, rows' panels included.
pub fn panel_queries() -> Vec<PanelQuery> {
    let mut out = Vec::new();
    for (file, dashboard) in dashboards() {
        let top = dashboard["panels"].as_array().expect("panels");
        let panels = top.iter().flat_map(|panel| {
            if panel["type"] == "row" {
                panel["panels"].as_array().cloned().unwrap_or_default()
            } else {
                vec![panel.clone()]
            }
        });
        for panel in panels {
            for target in panel["targets"].as_array().into_iter().flatten() {
                let expr = target["expr"].as_str().expect("a PromQL expr");
                out.push(PanelQuery {
                    name: format!("{file}: {} ({})", panel["title"], target["refId"]),
                    expr: substitute(&dashboard, expr),
                    instant: target["instant"] == true,
                });
            }
        }
    }
    out
}

/// Runs one panel query the way Grafana would (instant or over the last minute); returns
/// why it shows nothing, or `None` when it returned at least one series with a number.
pub async fn problem(stack: &Stack, query: &PanelQuery) -> Option<String> {
    let base = format!("http://{}/api/v1/", stack.prometheus);
    let end = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let url = if query.instant {
        reqwest::Url::parse_with_params(&format!("{base}query"), &[("query", &query.expr)])
    } else {
        let start = (end - RANGE_SECONDS).to_string();
        let params = [
            ("query", query.expr.clone()),
            ("start", start),
            ("end", end.to_string()),
            ("step", STEP_SECONDS.to_string()),
        ];
        reqwest::Url::parse_with_params(&format!("{base}query_range"), &params)
    }
    .unwrap();

    let answer = get_json(url).await;
    if answer["status"] != "success" {
        return Some(format!("refused: {answer}"));
    }
    let series = answer["data"]["result"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    if series.is_empty() {
        return Some("no series".into());
    }

    // An instant vector has `value`, a matrix `values`; a number is finite, not NaN.
    let numbers = series.iter().flat_map(|s| {
        let mut samples: Vec<&Value> = s["values"].as_array().into_iter().flatten().collect();
        samples.extend(s.get("value"));
        samples
            .into_iter()
            .filter_map(|sample| sample[1].as_str()?.parse::<f64>().ok())
            .collect::<Vec<_>>()
    });
    let finite = numbers.filter(|v| v.is_finite()).count();
    (finite == 0).then(|| format!("{} series, none with a number", series.len()))
}

/// Every dashboard variable (`label_values(selector, label)`), substituted: the values
/// Prometheus offers for it.
pub async fn variable_values(stack: &Stack) -> Vec<(String, BTreeSet<String>)> {
    let mut out = Vec::new();
    for (file, dashboard) in dashboards() {
        for variable in dashboard["templating"]["list"]
            .as_array()
            .expect("templating")
        {
            let query = variable["query"].as_str().unwrap_or_default();
            let Some(inner) = query.strip_prefix("label_values(") else {
                continue;
            };
            let inner = inner.trim_end_matches(')');
            let (selector, label) = inner
                .rsplit_once(',')
                .expect("label_values(selector, label)");
            let selector = substitute(&dashboard, selector.trim());

            let url = reqwest::Url::parse_with_params(
                &format!(
                    "http://{}/api/v1/label/{}/values",
                    stack.prometheus,
                    label.trim()
                ),
                &[("match[]", selector.as_str())],
            )
            .unwrap();
            let answer = get_json(url).await;
            assert_eq!(answer["status"], "success", "{file} ${query}: {answer}");
            let values = answer["data"].as_array().expect("values").iter();
            let values = values.filter_map(Value::as_str).map(str::to_string);
            let name = format!("{file} ${}", variable["name"].as_str().unwrap());
            out.push((name, values.collect()));
        }
    }
    out
}
