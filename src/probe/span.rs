//! The span of one probe request, after OpenTelemetry's HTTP client conventions: named
//! `{method} {url.template}`, with the method, server address and port, URL template (never the
//! URL itself: it holds job ids), status code and error type, plus batchprobe's slice labels.

use http::HeaderMap;
use opentelemetry::trace::TraceContextExt;
use tracing::Span;
use tracing_opentelemetry::OpenTelemetrySpanExt;

use crate::outcome::{Observation, Outcome};
use crate::provider::ProbeRequest;
use crate::slice::SliceKey;

/// Opens the span of a probe request.
pub fn request_span(slice: &SliceKey, request: &ProbeRequest) -> Span {
    let method = request.method.as_str();
    let name = format!("{method} {}", request.url_template);

    tracing::info_span!(
        "probe request",
        otel.name = %name,
        otel.kind = "client",
        otel.status_code = tracing::field::Empty,
        http.request.method = %method,
        url.template = %request.url_template,
        server.address = request.url.host_str().unwrap_or_default(),
        server.port = request.url.port_or_known_default().unwrap_or_default(),
        http.response.status_code = tracing::field::Empty,
        error.type = tracing::field::Empty,
        batchprobe.provider = %slice.provider,
        batchprobe.operation = %slice.operation,
        batchprobe.api_version = %slice.api_version,
        batchprobe.region = %slice.region,
        batchprobe.batch_size = %slice.batch_size,
        batchprobe.outcome = tracing::field::Empty,
    )
}

/// Adds the W3C `traceparent` header of `span`, when traces are exported.
pub fn inject_trace_context(span: &Span, headers: &mut HeaderMap) {
    let context = span.context();
    opentelemetry::global::get_text_map_propagator(|propagator| {
        propagator.inject_context(&context, &mut opentelemetry_http::HeaderInjector(headers));
    });
}

/// The span's trace id as 32 hex digits, when traces are exported.
pub fn trace_id(span: &Span) -> Option<String> {
    let context = span.context();
    let span_context = context.span().span_context().clone();
    span_context
        .is_valid()
        .then(|| span_context.trace_id().to_string())
}

/// Records how the request ended.
pub fn record_result(span: &Span, observation: &Observation) {
    if let Some(status) = observation.status {
        span.record("http.response.status_code", status);
    }
    span.record("batchprobe.outcome", observation.outcome.as_str());

    if observation.is_failure() {
        // The conventions ask for the status code as text, or else the kind of error.
        let error_type = match (observation.outcome, observation.status) {
            (Outcome::HttpError, Some(status)) => status.to_string(),
            (outcome, _) => outcome.as_str().to_string(),
        };
        span.record("error.type", error_type.as_str());
        span.record("otel.status_code", "error");
    }
}
