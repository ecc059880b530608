//! Traces over OTLP/HTTP: a receiver inside the test decodes what `batchprobe run` exports and
//! checks the spans, their attributes, the `traceparent` header the provider saw, the exemplar in
//! the OpenMetrics exposition, the flush at shutdown, and that no secret is among them.

mod support;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::routing::{get, post};
use opentelemetry_proto::tonic::collector::trace::v1::trace_service_server::{
    TraceService, TraceServiceServer,
};
use opentelemetry_proto::tonic::collector::trace::v1::{
    ExportTraceServiceRequest, ExportTraceServiceResponse,
};
use opentelemetry_proto::tonic::common::v1::any_value::Value;
use opentelemetry_proto::tonic::trace::v1::Span;
use prost::Message;
use support::{Process, eventually};

const KEY: &str = "AIzaOTLPCANARY0123456789";

#[derive(Default)]
struct Seen {
    exports: Vec<ExportTraceServiceRequest>,
    traceparents: Vec<String>,
    api_keys: Vec<String>,
    list_requests: usize,
}

type Shared = Arc<Mutex<Seen>>;

async fn receive(State(seen): State<Shared>, body: Bytes) -> StatusCode {
    let request = ExportTraceServiceRequest::decode(body).expect("OTLP/HTTP protobuf body");
    seen.lock().unwrap().exports.push(request);
    StatusCode::OK
}

/// A stand-in provider: list works, the models control answers 503.
async fn provider_list(State(seen): State<Shared>, headers: HeaderMap) -> (StatusCode, String) {
    record(&seen, &headers);
    seen.lock().unwrap().list_requests += 1;
    (StatusCode::OK, r#"{"operations":[]}"#.to_string())
}

async fn provider_models(State(seen): State<Shared>, headers: HeaderMap) -> (StatusCode, String) {
    record(&seen, &headers);
    let body = r#"{"error":{"code":503,"message":"unavailable","status":"UNAVAILABLE"}}"#;
    (StatusCode::SERVICE_UNAVAILABLE, body.to_string())
}

fn record(seen: &Shared, headers: &HeaderMap) {
    let mut seen = seen.lock().unwrap();
    if let Some(value) = headers.get("traceparent") {
        seen.traceparents.push(value.to_str().unwrap().to_string());
    }
    if let Some(value) = headers.get("x-goog-api-key") {
        seen.api_keys.push(value.to_str().unwrap().to_string());
    }
}

async fn serve(router: Router) -> std::net::SocketAddr {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, router).await.unwrap() });
    addr
}

/// A stand-in provider on loopback, recording into `seen`.
async fn provider(seen: &Shared) -> std::net::SocketAddr {
    serve(
        Router::new()
            .route("/v1beta/batches", get(provider_list))
            .route("/v1beta/models", get(provider_models))
            .with_state(seen.clone()),
    )
    .await
}

/// Starts `batchprobe run` probing `provider` every second, with `otel` in its environment.
/// Returns the process and the address of its HTTP server, once it answers.
async fn run_probe(
    dir: &std::path::Path,
    provider: std::net::SocketAddr,
    otel: &[(&str, &str)],
) -> (Process, std::net::SocketAddr) {
    let config = dir.join("probe.yml");
    std::fs::write(
        &config,
        format!(
            "region: europe-west4\ninterval: 1s\ntimeout: 5s\n\
             budget: {{ requests_per_minute: 600 }}\ntargets:\n  - name: t\n    provider: gemini\n    \
             base_url: http://{provider}\n    api_key: {{ env: OTLP_TEST_KEY }}\n    \
             operations: [list, models]\n"
        ),
    )
    .unwrap();
    let mut env = vec![("OTLP_TEST_KEY", KEY)];
    env.extend_from_slice(otel);
    support::run_probe(dir, "run", &config, &env).await
}

fn spans(seen: &Seen) -> Vec<Span> {
    seen.exports
        .iter()
        .flat_map(|e| &e.resource_spans)
        .flat_map(|r| &r.scope_spans)
        .flat_map(|s| s.spans.clone())
        .collect()
}

fn attribute(span: &Span, key: &str) -> Option<String> {
    let value = span
        .attributes
        .iter()
        .find(|a| a.key == key)?
        .value
        .as_ref()?
        .value
        .as_ref()?;
    Some(match value {
        Value::StringValue(s) => s.clone(),
        Value::IntValue(i) => i.to_string(),
        other => format!("{other:?}"),
    })
}

// Several threads: the test blocks on the child's exit while its receiver takes the last export.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn probe_requests_are_exported_as_client_spans() {
    let seen = Shared::default();
    let collector = serve(
        Router::new()
            .route("/v1/traces", post(receive))
            .with_state(seen.clone()),
    )
    .await;
    let provider = provider(&seen).await;
    let dir = tempfile::tempdir().unwrap();
    let endpoint = format!("http://{collector}");
    let (probe, addr) = run_probe(
        dir.path(),
        provider,
        &[
            ("OTEL_EXPORTER_OTLP_ENDPOINT", endpoint.as_str()),
            ("OTEL_SERVICE_NAME", "batchprobe-test"),
            // Nothing is exported before shutdown: the spans that arrive prove the final flush.
            ("OTEL_BSP_SCHEDULE_DELAY", "600000"),
        ],
    )
    .await;

    // Exemplars: the failed models requests carry their trace id in the OpenMetrics exposition.
    let client = support::client();
    let exemplar = eventually(Duration::from_secs(20), "an exemplar on a failure", || {
        let client = client.clone();
        async move {
            let text = client
                .get(format!("http://{addr}/metrics"))
                .header("accept", "application/openmetrics-text")
                .send()
                .await
                .ok()?
                .text()
                .await
                .ok()?;
            let line = text.lines().find(|l| {
                l.starts_with("batchprobe_request_duration_seconds_bucket")
                    && l.contains("operation=\"models\"")
                    && l.contains("# {trace_id=\"")
            })?;
            let id = line
                .split("trace_id=\"")
                .nth(1)?
                .split('"')
                .next()?
                .to_string();
            Some(id)
        }
    })
    .await;
    assert_eq!(
        seen.lock().unwrap().exports.len(),
        0,
        "the batch delay holds spans until shutdown"
    );

    // A few more rounds, so that spans of both operations are waiting in the exporter's queue.
    tokio::time::sleep(Duration::from_millis(2500)).await;
    probe.signal(15);
    let mut probe = probe;
    let status = probe.child.wait().unwrap();
    assert!(status.success(), "clean shutdown: {}", probe.output());
    let seen = seen.lock().unwrap();
    let spans = spans(&seen);
    assert!(!spans.is_empty(), "the shutdown flush delivered spans");

    let models: Vec<&Span> = spans
        .iter()
        .filter(|s| s.name == "GET /v1beta/models")
        .collect();
    let list: Vec<&Span> = spans
        .iter()
        .filter(|s| s.name == "GET /v1beta/batches")
        .collect();
    assert!(
        !models.is_empty() && !list.is_empty(),
        "{:?}",
        spans.iter().map(|s| &s.name).collect::<Vec<_>>()
    );
    for span in models.iter().chain(&list) {
        assert_eq!(span.kind, 3, "SPAN_KIND_CLIENT");
        assert_eq!(
            attribute(span, "http.request.method").as_deref(),
            Some("GET")
        );
        assert_eq!(
            attribute(span, "server.address").as_deref(),
            Some("127.0.0.1")
        );
        assert_eq!(
            attribute(span, "server.port"),
            Some(provider.port().to_string())
        );
        assert_eq!(
            attribute(span, "batchprobe.region").as_deref(),
            Some("europe-west4")
        );
        assert_eq!(
            attribute(span, "batchprobe.batch_size").as_deref(),
            Some("none")
        );
        assert_eq!(
            attribute(span, "batchprobe.api_version").as_deref(),
            Some("v1beta")
        );
        assert!(
            attribute(span, "url.full").is_none(),
            "no full URL: it can carry job ids"
        );
    }
    assert_eq!(
        attribute(models[0], "http.response.status_code").as_deref(),
        Some("503")
    );
    assert_eq!(attribute(models[0], "error.type").as_deref(), Some("503"));
    assert_eq!(
        models[0].status.as_ref().map(|s| s.code),
        Some(2),
        "STATUS_CODE_ERROR"
    );
    assert_eq!(
        attribute(list[0], "http.response.status_code").as_deref(),
        Some("200")
    );
    assert!(attribute(list[0], "error.type").is_none());

    // The provider saw W3C trace context, and every request it saw was exported: nothing was
    // lost at shutdown.
    let exported: Vec<String> = spans.iter().map(|s| hex(&s.trace_id)).collect();
    assert!(!seen.traceparents.is_empty());
    for header in &seen.traceparents {
        let trace_id = header.split('-').nth(1).unwrap();
        assert!(
            exported.iter().any(|id| id == trace_id),
            "{header} not among exported traces"
        );
    }
    assert!(
        exported.contains(&exemplar),
        "the exemplar names an exported trace"
    );

    // Only batchprobe's own spans, none from the exporter's HTTP client.
    let scopes: Vec<&str> = seen
        .exports
        .iter()
        .flat_map(|e| &e.resource_spans)
        .flat_map(|r| &r.scope_spans)
        .filter_map(|s| s.scope.as_ref().map(|scope| scope.name.as_str()))
        .collect();
    assert!(
        scopes.iter().all(|&name| name == "batchprobe"),
        "{scopes:?}"
    );
    assert!(
        spans.iter().all(|s| s.name.starts_with("GET /")),
        "only probe spans are exported"
    );
    let service = seen.exports[0].resource_spans[0].resource.as_ref().unwrap();
    assert!(
        format!("{service:?}").contains("batchprobe-test"),
        "OTEL_SERVICE_NAME is honoured"
    );

    assert!(
        seen.api_keys.iter().all(|k| k == KEY),
        "the key was sent to the provider"
    );
    assert!(
        !format!("{:?}", seen.exports).contains(KEY),
        "no secret in any exported span"
    );
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// An OTLP/gRPC receiver: keeps every export request.
#[derive(Clone, Default)]
struct GrpcReceiver {
    exports: Arc<Mutex<Vec<ExportTraceServiceRequest>>>,
}

#[tonic::async_trait]
impl TraceService for GrpcReceiver {
    async fn export(
        &self,
        request: tonic::Request<ExportTraceServiceRequest>,
    ) -> Result<tonic::Response<ExportTraceServiceResponse>, tonic::Status> {
        self.exports.lock().unwrap().push(request.into_inner());
        Ok(tonic::Response::new(ExportTraceServiceResponse::default()))
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn grpc_is_the_other_protocol() {
    let receiver = GrpcReceiver::default();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let collector = listener.local_addr().unwrap();
    let service = TraceServiceServer::new(receiver.clone());
    tokio::spawn(async move {
        tonic::transport::Server::builder()
            .add_service(service)
            .serve_with_incoming(tokio_stream_of(listener))
            .await
            .unwrap();
    });
    let seen = Shared::default();
    let provider = provider(&seen).await;
    let dir = tempfile::tempdir().unwrap();
    let endpoint = format!("http://{collector}");
    let (probe, _) = run_probe(
        dir.path(),
        provider,
        &[
            ("OTEL_EXPORTER_OTLP_ENDPOINT", endpoint.as_str()),
            ("OTEL_EXPORTER_OTLP_PROTOCOL", "grpc"),
        ],
    )
    .await;
    eventually(Duration::from_secs(20), "probe requests", || async {
        (seen.lock().unwrap().traceparents.len() >= 3).then_some(())
    })
    .await;

    probe.signal(15);
    let mut probe = probe;
    assert!(
        probe.child.wait().unwrap().success(),
        "clean shutdown: {}",
        probe.output()
    );
    let exports = receiver.exports.lock().unwrap();
    let names: Vec<String> = exports
        .iter()
        .flat_map(|e| &e.resource_spans)
        .flat_map(|r| &r.scope_spans)
        .flat_map(|s| s.spans.iter().map(|span| span.name.clone()))
        .collect();
    assert!(names.iter().any(|n| n == "GET /v1beta/models"), "{names:?}");
    assert!(names.iter().all(|n| n.starts_with("GET /")), "{names:?}");
    assert!(!format!("{exports:?}").contains(KEY));
}

/// tonic serves from a stream of accepted connections; this makes one from a bound listener, so
/// the test knows the port before the server starts.
fn tokio_stream_of(
    listener: tokio::net::TcpListener,
) -> impl futures_util::Stream<Item = std::io::Result<tokio::net::TcpStream>> {
    futures_util::stream::unfold(listener, |listener| async move {
        let accepted = listener.accept().await.map(|(stream, _)| stream);
        Some((accepted, listener))
    })
}
