//! Logs and traces.
//!
//! Logs are human-readable lines on stderr, or JSON with `--log-format json`, at the level from
//! `--log-level` or `RUST_LOG`. Traces go over OTLP when the standard variables ask for it
//! (`OTEL_EXPORTER_OTLP_ENDPOINT` or `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT`; protocol from
//! `OTEL_EXPORTER_OTLP_PROTOCOL`, `http/protobuf` by default or `grpc`; service name from
//! `OTEL_SERVICE_NAME`, `batchprobe` by default) and are off otherwise.
//!
//! Only batchprobe's own spans are exported: the exporter's HTTP and gRPC clients create spans
//! and events of their own, and exporting those would feed the exporter its own traffic.

use clap::ValueEnum;
use opentelemetry::trace::TracerProvider as _;
use opentelemetry_sdk::Resource;
use opentelemetry_sdk::propagation::TraceContextPropagator;
use opentelemetry_sdk::trace::SdkTracerProvider;
use tracing::Level;
use tracing_subscriber::filter::Targets;
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;
use tracing_subscriber::{EnvFilter, Layer};

/// How log lines are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum LogFormat {
    /// One human-readable line per event.
    Text,
    /// One JSON object per event, for log shippers.
    Json,
}

/// Keeps the trace exporter alive; [`Telemetry::shutdown`] flushes pending spans.
#[derive(Default)]
pub struct Telemetry {
    provider: Option<SdkTracerProvider>,
}

impl Telemetry {
    /// Whether spans are exported.
    pub fn exporting(&self) -> bool {
        self.provider.is_some()
    }

    /// Sends the spans still buffered and stops the exporter.
    pub fn shutdown(self) {
        if let Some(provider) = self.provider
            && let Err(err) = provider.shutdown()
        {
            eprintln!("warning: flushing traces failed: {err}");
        }
    }
}

/// Whether the environment asks for OTLP trace export.
pub fn otlp_requested() -> bool {
    [
        "OTEL_EXPORTER_OTLP_ENDPOINT",
        "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT",
    ]
    .iter()
    .any(|var| std::env::var_os(var).is_some_and(|v| !v.is_empty()))
        && std::env::var("OTEL_TRACES_EXPORTER").map_or(true, |v| v != "none")
}

/// Installs the global subscriber, and the OTLP exporter when requested. `level` wins over
/// `RUST_LOG`; without either, `info`. For the gRPC protocol this must run inside a tokio
/// runtime context.
pub fn init(format: LogFormat, level: Option<&str>) -> Telemetry {
    let filter = match level {
        Some(level) => EnvFilter::new(level),
        None => EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info")),
    };
    let logs = match format {
        LogFormat::Text => tracing_subscriber::fmt::layer()
            .with_writer(std::io::stderr)
            .boxed(),
        LogFormat::Json => tracing_subscriber::fmt::layer()
            .json()
            .with_writer(std::io::stderr)
            .boxed(),
    };

    let (provider, export_error) = if otlp_requested() {
        match tracer_provider() {
            Ok(provider) => (Some(provider), None),
            Err(err) => (None, Some(err)),
        }
    } else {
        (None, None)
    };
    let traces = provider.as_ref().map(|provider| {
        opentelemetry::global::set_text_map_propagator(TraceContextPropagator::new());
        tracing_opentelemetry::layer()
            .with_tracer(provider.tracer("batchprobe"))
            .with_filter(Targets::new().with_target("batchprobe", Level::TRACE))
    });

    // A second init (tests, embedding) keeps the first subscriber.
    let _ = tracing_subscriber::registry()
        .with(logs.with_filter(filter))
        .with(traces)
        .try_init();

    if let Some(err) = export_error {
        tracing::warn!(error = %err, "cannot export traces over OTLP; continuing without");
    }
    Telemetry { provider }
}

fn tracer_provider() -> Result<SdkTracerProvider, opentelemetry_otlp::ExporterBuildError> {
    crate::probe::install_crypto_provider();
    let exporter = opentelemetry_otlp::SpanExporter::builder().build()?;

    let mut resource = Resource::builder();
    if std::env::var_os("OTEL_SERVICE_NAME").is_none() {
        resource = resource.with_service_name("batchprobe");
    }
    Ok(SdkTracerProvider::builder()
        .with_batch_exporter(exporter)
        .with_resource(resource.build())
        .build())
}
