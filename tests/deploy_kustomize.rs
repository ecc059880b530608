//! The Kubernetes manifests of deploy/kubernetes/: every overlay renders with kustomize, the
//! output passes an offline schema validator, the parts fit together (labels, ports, probes,
//! the key's Secret and path, each region's config), and the generated PrometheusRules and
//! dashboard ConfigMaps match alerts/ and dashboards/.
//!
//! Needs `kubectl` 1.27 or newer (kustomize v5: components and `labels`) and the Python
//! package kubernetes-validate, which carries the Kubernetes JSON schemas.

#[allow(
    dead_code,
    reason = "each deploy test uses a different part of the helpers"
)]
#[path = "deploy_support/support.rs"]
mod support;

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::Value;

use support::{assert_success, repo_path, run, run_with_stdin, str_at, yaml_documents};

/// The regions that have an overlay.
const REGIONS: [&str; 3] = ["europe-west4", "us-central1", "asia-northeast1"];

/// The kinds the offline validator has no schema for: the Prometheus Operator's CRDs. Every
/// other kind must be validated.
const CUSTOM_KINDS: [&str; 2] = ["PrometheusRule", "ServiceMonitor"];

fn kubectl() -> PathBuf {
    let kubectl = support::require_tool(
        "kubectl",
        "a kubectl of 1.27 or newer (kustomize v5); Debian bookworm's kubernetes-client (1.20) \
         is too old for components and `labels`",
    );

    // An old kubectl renders nothing useful and fails with an obscure kustomize error; say
    // what is wrong instead.
    let output = run(Command::new(&kubectl).args(["version", "--client", "-o", "json"]));
    assert_success(&output, "kubectl version --client");
    let version: Value = serde_json::from_slice(&output.stdout).expect("kubectl prints JSON");
    let kustomize = version["kustomizeVersion"].as_str().unwrap_or("none");
    assert!(
        kustomize.starts_with("v5"),
        "{} embeds kustomize {kustomize} (kubectl {}); kustomize v5 is needed: kubectl 1.27 \
         or newer",
        kubectl.display(),
        version["clientVersion"]["gitVersion"]
    );
    kubectl
}

/// Renders a kustomization folder below deploy/kubernetes/ into its documents.
fn render(relative: &str) -> Vec<Value> {
    let dir = repo_path("deploy/kubernetes").join(relative);
    let output = run(Command::new(kubectl()).arg("kustomize").arg(&dir));
    assert_success(&output, &format!("kubectl kustomize {}", dir.display()));

    let text = String::from_utf8(output.stdout).expect("kustomize prints UTF-8");
    yaml_documents(&text, &format!("kustomize output of {relative}"))
}

fn of_kind<'a>(documents: &'a [Value], kind: &str) -> Vec<&'a Value> {
    documents.iter().filter(|d| d["kind"] == kind).collect()
}

fn one_of_kind<'a>(documents: &'a [Value], kind: &str, source: &str) -> &'a Value {
    let found = of_kind(documents, kind);
    assert_eq!(found.len(), 1, "{source} should render exactly one {kind}");
    found[0]
}

/// Whether every label of `selector` is set, with the same value, in `labels`.
fn selects(selector: &Value, labels: &Value) -> bool {
    let selector = selector.as_object().expect("a selector is a map");
    !selector.is_empty()
        && selector
            .iter()
            .all(|(key, value)| labels.get(key) == Some(value))
}

#[test]
fn every_overlay_renders_documents_with_kind_and_name() {
    for overlay in REGIONS
        .iter()
        .map(|r| format!("overlays/{r}"))
        .chain(["overlays/central".into()])
    {
        let documents = render(&overlay);

        assert!(!documents.is_empty(), "{overlay} renders nothing");
        for document in &documents {
            for field in ["/apiVersion", "/kind", "/metadata/name"] {
                str_at(document, field, &overlay);
            }
        }
    }
}

#[test]
fn rendered_manifests_pass_the_offline_schema_validator() {
    support::require_python_module("kubernetes_validate", "kubernetes-validate==1.37.0");

    for overlay in REGIONS
        .iter()
        .map(|r| format!("overlays/{r}"))
        .chain(["overlays/central".into()])
    {
        let dir = repo_path("deploy/kubernetes").join(&overlay);
        let rendered = run(Command::new(kubectl()).arg("kustomize").arg(&dir));
        assert_success(&rendered, &format!("kubectl kustomize {overlay}"));

        // --strict rejects unknown fields too; 1.27 is the oldest Kubernetes these must suit.
        for version in ["1.27", "1.37"] {
            let output = run_with_stdin(
                Command::new(support::python()).args([
                    "-m",
                    "kubernetes_validate",
                    "--strict",
                    "--quiet",
                    "--kubernetes-version",
                    version,
                    "-",
                ]),
                Some(&rendered.stdout),
            );
            assert_success(
                &output,
                &format!("kubernetes-validate {version} on {overlay}"),
            );

            // A kind without a schema only warns; only the CRDs may be unchecked.
            let report = String::from_utf8_lossy(&output.stdout);
            for line in report.lines().filter(|line| line.starts_with("WARN")) {
                assert!(
                    CUSTOM_KINDS
                        .iter()
                        .any(|kind| line.contains(&format!("kind {kind} "))),
                    "{overlay}: a kind went unvalidated: {line}"
                );
            }
        }
    }
}

#[test]
fn the_validator_rejects_a_broken_deployment() {
    support::require_python_module("kubernetes_validate", "kubernetes-validate==1.37.0");

    // The same check as above must fail on a field Kubernetes does not know, or it proves
    // nothing.
    let mut documents = render("overlays/europe-west4");
    let deployment = documents
        .iter_mut()
        .find(|d| d["kind"] == "Deployment")
        .unwrap();
    deployment["spec"]["template"]["spec"]["containers"][0]["readOnlyRootFileSystem"] =
        Value::Bool(true);
    let stream: String = documents
        .iter()
        .map(|d| format!("---\n{}", serde_norway::to_string(d).unwrap()))
        .collect();

    let output = run_with_stdin(
        Command::new(support::python()).args(["-m", "kubernetes_validate", "--strict", "-"]),
        Some(stream.as_bytes()),
    );

    assert!(
        !output.status.success(),
        "a misspelt field passed kubernetes-validate"
    );
    assert!(String::from_utf8_lossy(&output.stdout).contains("readOnlyRootFileSystem"));
}

#[test]
fn each_region_overlay_runs_a_locked_down_probe_for_its_region() {
    let base_config = support::yaml_file(&repo_path("deploy/kubernetes/base/config.yaml"));

    for region in REGIONS {
        let source = format!("overlays/{region}");
        let documents = render(&source);
        let deployment = one_of_kind(&documents, "Deployment", &source);
        let pod = &deployment["spec"]["template"];
        let containers = pod["spec"]["containers"].as_array().expect("containers");
        assert_eq!(containers.len(), 1, "{source}: one container");
        let container = &containers[0];

        // Region: labels on the Deployment and its pods, and the config's `region`.
        for labels in [
            &deployment["metadata"]["labels"],
            &pod["metadata"]["labels"],
        ] {
            assert_eq!(
                labels["batchprobe/region"], region,
                "{source}: region label"
            );
        }
        let config_map = of_kind(&documents, "ConfigMap")
            .into_iter()
            .find(|c| str_at(c, "/metadata/name", &source).starts_with("batchprobe-config"))
            .unwrap_or_else(|| panic!("{source}: no batchprobe-config ConfigMap"));
        let config_text = str_at(config_map, "/data/config.yaml", &source);
        let checked_region = support::check_batchprobe_config(config_text, &source);
        assert_eq!(checked_region, region, "{source}: the config's region");

        // The regions' configs must not drift apart: equal to the base but for the region.
        let mut config = yaml_documents(config_text, &source).remove(0);
        config["region"] = base_config["region"].clone();
        assert_eq!(
            config, base_config,
            "{source}: config differs from base beyond `region`"
        );

        // Security: non-root, read-only root, no capabilities, no privilege escalation.
        assert_eq!(
            pod["spec"]["securityContext"]["runAsNonRoot"], true,
            "{source}"
        );
        let security = &container["securityContext"];
        assert_eq!(security["readOnlyRootFilesystem"], true, "{source}");
        assert_eq!(security["allowPrivilegeEscalation"], false, "{source}");
        assert_eq!(
            security["capabilities"]["drop"],
            serde_json::json!(["ALL"]),
            "{source}"
        );
        assert_eq!(
            pod["spec"]["automountServiceAccountToken"], false,
            "{source}"
        );
        for bound in ["requests", "limits"] {
            for resource in ["cpu", "memory"] {
                str_at(
                    container,
                    &format!("/resources/{bound}/{resource}"),
                    &source,
                );
            }
        }

        // Probes: /healthz on the container's named metrics port.
        let ports: BTreeSet<&str> = container["ports"]
            .as_array()
            .expect("container ports")
            .iter()
            .map(|p| str_at(p, "/name", &source))
            .collect();
        for probe in ["livenessProbe", "readinessProbe"] {
            assert_eq!(
                container[probe]["httpGet"]["path"], "/healthz",
                "{source}: {probe}"
            );
            let port = str_at(&container[probe], "/httpGet/port", &source);
            assert!(
                ports.contains(port),
                "{source}: {probe} uses unknown port {port}"
            );
        }

        // The Service reaches the pods on the named port; the ServiceMonitor scrapes it.
        let service = one_of_kind(&documents, "Service", &source);
        assert!(
            selects(&service["spec"]["selector"], &pod["metadata"]["labels"]),
            "{source}: the Service selects no probe pod"
        );
        let service_port = &service["spec"]["ports"][0];
        assert_eq!(
            service_port["name"], "metrics",
            "{source}: Service port name"
        );
        assert!(
            ports.contains(str_at(service_port, "/targetPort", &source)),
            "{source}"
        );
        let monitor = one_of_kind(&documents, "ServiceMonitor", &source);
        assert!(
            selects(
                &monitor["spec"]["selector"]["matchLabels"],
                &service["metadata"]["labels"]
            ),
            "{source}: the ServiceMonitor selects no Service"
        );
        assert_eq!(
            monitor["spec"]["endpoints"][0]["port"], "metrics",
            "{source}"
        );
        assert_eq!(
            monitor["metadata"]["namespace"],
            service["metadata"]["namespace"]
        );

        // The key: a Secret reference whose mount holds the file the config names, and no
        // Secret object committed.
        assert!(
            of_kind(&documents, "Secret").is_empty(),
            "{source}: renders a Secret"
        );
        let key_path = str_at(&config, "/targets/0/api_key/file", &source);
        assert!(
            mounted_secret_files(pod, container).contains(&PathBuf::from(key_path)),
            "{source}: the config reads {key_path}, which no Secret volume provides"
        );
    }
}

/// The files that the container's Secret volumes put in place.
fn mounted_secret_files(pod: &Value, container: &Value) -> Vec<PathBuf> {
    let mut files = Vec::new();
    for mount in container["volumeMounts"].as_array().expect("volume mounts") {
        let volume = pod["spec"]["volumes"]
            .as_array()
            .expect("volumes")
            .iter()
            .find(|v| v["name"] == mount["name"])
            .expect("every mount has a volume");
        let Some(items) = volume["secret"]["items"].as_array() else {
            continue;
        };
        let mount_path = Path::new(mount["mountPath"].as_str().expect("mountPath"));
        files.extend(
            items
                .iter()
                .map(|i| mount_path.join(i["path"].as_str().unwrap())),
        );
    }
    files
}

#[test]
fn prometheus_rules_match_the_rule_files_of_alerts() {
    let documents = render("overlays/central");
    let rules = of_kind(&documents, "PrometheusRule");

    let rule_files = support::alert_rule_files();
    assert_eq!(
        rules.len(),
        rule_files.len(),
        "one PrometheusRule per rule file of alerts/; run deploy/kubernetes/generate-prometheusrule.sh"
    );
    for (file, groups) in &rule_files {
        let stem = file.rsplit_once('.').unwrap().0.replace('.', "-");
        let rule = rules
            .iter()
            .find(|r| r["metadata"]["name"] == stem.as_str())
            .unwrap_or_else(|| panic!("no PrometheusRule {stem} for alerts/{file}"));

        assert!(
            rule["spec"] == *groups,
            "the PrometheusRule {stem} differs from alerts/{file}; run \
             deploy/kubernetes/generate-prometheusrule.sh"
        );
    }
}

#[test]
fn dashboard_config_maps_match_dashboards() {
    let documents = render("overlays/central");
    let config_maps: Vec<&Value> = of_kind(&documents, "ConfigMap")
        .into_iter()
        .filter(|c| c["metadata"]["labels"]["grafana_dashboard"] == "1")
        .collect();

    let mut dashboards: Vec<PathBuf> = std::fs::read_dir(repo_path("dashboards"))
        .map(|dir| dir.map(|e| e.unwrap().path()).collect())
        .unwrap_or_default();
    dashboards.retain(|p| p.extension().is_some_and(|e| e == "json"));
    assert_eq!(
        config_maps.len(),
        dashboards.len(),
        "one ConfigMap per dashboards/*.json; run deploy/kubernetes/sync-dashboards.sh"
    );
    for dashboard in dashboards {
        let file = dashboard
            .file_name()
            .unwrap()
            .to_string_lossy()
            .into_owned();
        let expected = std::fs::read_to_string(&dashboard).unwrap();

        let found = config_maps
            .iter()
            .any(|c| c["data"][&file] == expected.as_str());
        assert!(
            found,
            "no ConfigMap holds dashboards/{file} as it is; run deploy/kubernetes/sync-dashboards.sh"
        );
    }
}

#[test]
fn generated_files_are_what_the_scripts_write_now() {
    // Run both scripts on a copy of the inputs and compare byte for byte, so that a stale
    // header or a kustomization that forgot a file fails as well as a changed rule.
    let scratch = tempfile::tempdir().expect("temp dir");
    let copy = scratch.path();
    copy_tree(
        &repo_path("deploy/kubernetes"),
        &copy.join("deploy/kubernetes"),
    );
    copy_tree(&repo_path("alerts"), &copy.join("alerts"));
    if repo_path("dashboards").is_dir() {
        copy_tree(&repo_path("dashboards"), &copy.join("dashboards"));
    }

    for script in ["generate-prometheusrule.sh", "sync-dashboards.sh"] {
        let output = run(Command::new("sh").arg(copy.join("deploy/kubernetes").join(script)));
        assert_success(&output, script);
    }

    for component in ["prometheus-rules", "dashboards"] {
        let relative = format!("deploy/kubernetes/components/{component}");
        let committed = list_files(&repo_path(&relative));
        let regenerated = list_files(&copy.join(&relative));
        assert_eq!(
            committed.keys().collect::<Vec<_>>(),
            regenerated.keys().collect::<Vec<_>>(),
            "{relative}: files differ from what the scripts generate now"
        );
        for (name, bytes) in &committed {
            assert!(
                regenerated[name] == *bytes,
                "{relative}/{name} is stale; run deploy/kubernetes/generate-prometheusrule.sh \
                 and deploy/kubernetes/sync-dashboards.sh"
            );
        }
    }
}

fn copy_tree(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            copy_tree(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), target).unwrap();
        }
    }
}

fn list_files(dir: &Path) -> std::collections::BTreeMap<String, Vec<u8>> {
    std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap())
        .filter(|e| e.file_type().unwrap().is_file())
        .map(|e| {
            (
                e.file_name().to_string_lossy().into_owned(),
                std::fs::read(e.path()).unwrap(),
            )
        })
        .collect()
}
