//! Config parsing: the documented example, and errors that name the file, line, column and key.

use std::path::Path;

use super::*;

const EXAMPLE: &str = r#"
region: europe-west4            # this probe's vantage point; default region label
interval: 60s
timeout: 120s
budget:
  requests_per_minute: 60
size_buckets: [10, 100, 500]
targets:
  - name: gemini
    provider: gemini
    base_url: https://generativelanguage.googleapis.com
    api_key: { env: BATCHPROBE_CONFIG_TEST_KEY }
    api_versions: [v1beta, v1]
    operations: [get, get_state, list, models]
    region: europe-west4
    jobs:
      discover: { max_jobs: 200, per_bucket: 2 }
      names:
        - { name: batches/abc123, size: 500 }
"#;

fn parse_example(text: &str) -> Result<Config, ConfigError> {
    parse(Path::new("probe.yml"), text)
}

#[test]
fn example_from_the_docs_loads() {
    let dir = tempfile::tempdir().unwrap();
    let key = dir.path().join("key");
    std::fs::write(&key, "secret-value\n").unwrap();
    let text = EXAMPLE.replace(
        "{ env: BATCHPROBE_CONFIG_TEST_KEY }",
        &format!("{{ file: {} }}", key.display()),
    );

    let config = parse_example(&text).unwrap();

    let target = &config.targets[0];
    assert_eq!(config.region, "europe-west4");
    assert_eq!(target.api_versions, ["v1beta", "v1"]);
    assert_eq!(target.operations.len(), 4);
    assert_eq!(target.timeout, Duration::from_secs(120));
    assert_eq!(target.requests_per_minute, 60);
    assert_eq!(target.jobs[0].size, 500);
    assert_eq!(target.discover.as_ref().unwrap().per_bucket, 2);
    assert_eq!(target.api_key.expose(), "secret-value");
    assert_eq!(target.body_limit, Some(64 * 1024));
}

#[test]
fn unknown_key_names_file_line_column_and_key() {
    let text = "targets:\n  - name: g\n    provider: gemini\n    base_url: http://x\n    \
                api_key: { env: X }\n    intervall: 5s\n";

    let err = parse_example(text).unwrap_err().to_string();

    assert!(err.starts_with("probe.yml:6:5: "), "{err}");
    assert!(err.contains("targets[0]"), "{err}");
    assert!(err.contains("intervall"), "{err}");
}

#[test]
fn bad_duration_names_the_key() {
    let text = "interval: soon\ntargets: []\n";

    let err = parse_example(text).unwrap_err().to_string();

    assert!(err.contains("probe.yml:1:"), "{err}");
    assert!(err.contains("interval"), "{err}");
}

#[test]
fn missing_key_variable_is_an_error_naming_target_and_variable() {
    let text = "targets:\n  - name: g\n    provider: gemini\n    base_url: http://x\n    \
                api_key: { env: BATCHPROBE_SURELY_UNSET_VARIABLE }\n";

    let err = parse_example(text).unwrap_err().to_string();

    assert!(err.contains("targets[0].api_key"), "{err}");
    assert!(err.contains("BATCHPROBE_SURELY_UNSET_VARIABLE"), "{err}");
}

#[test]
fn semantic_errors_name_the_key() {
    let dir = tempfile::tempdir().unwrap();
    let key = dir.path().join("key");
    std::fs::write(&key, "k").unwrap();
    let target = |extra: &str| {
        format!(
            "targets:\n  - name: g\n    provider: gemini\n    base_url: http://127.0.0.1:1\n    \
             api_key: {{ file: {} }}\n{extra}",
            key.display()
        )
    };

    let cases = [
        ("    api_versions: []\n", "targets[0].api_versions"),
        (
            "    api_versions: [\"v1/../x\"]\n",
            "targets[0].api_versions",
        ),
        ("    interval: 0s\n", "targets[0].interval"),
        (
            "    budget: { requests_per_minute: 0 }\n",
            "targets[0].budget.requests_per_minute",
        ),
    ];
    for (extra, key_path) in cases {
        let err = parse_example(&target(extra)).unwrap_err().to_string();
        assert!(err.contains(key_path), "{extra:?} gave {err}");
    }

    let url_with_key = target("").replace("http://127.0.0.1:1", "http://127.0.0.1:1/?key=abc");
    let err = parse_example(&url_with_key).unwrap_err().to_string();
    assert!(err.contains("targets[0].base_url"), "{err}");

    let twice = format!("{}{}", target(""), &target("")["targets:\n".len()..]);
    let err = parse_example(&twice).unwrap_err().to_string();
    assert!(err.contains("targets[1].name"), "{err}");

    let buckets = format!("size_buckets: [100, 10]\n{}", target(""));
    let err = parse_example(&buckets).unwrap_err().to_string();
    assert!(err.contains("size_buckets"), "{err}");
}
