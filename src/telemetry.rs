//! Logs and traces: a `tracing` subscriber writing human-readable or JSON lines to stderr, with
//! the level from `--log-level` or `RUST_LOG`.
//!
//! TODO: export spans over OTLP (`tracing-opentelemetry`) when `OTEL_EXPORTER_OTLP_*` is set;
//! until then a request's trace exists only as debug log lines.

use clap::ValueEnum;
use tracing_subscriber::EnvFilter;

/// How log lines are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum LogFormat {
    /// One human-readable line per event.
    Text,
    /// One JSON object per event, for log shippers.
    Json,
}

/// Installs the global subscriber. `level` wins over `RUST_LOG`; without either, `info`.
pub fn init(format: LogFormat, level: Option<&str>) {
    let filter = match level {
        Some(level) => EnvFilter::new(level),
        None => EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info")),
    };
    let builder = tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr);

    // A second init (tests, embedding) keeps the first subscriber.
    let _ = match format {
        LogFormat::Text => builder.try_init(),
        LogFormat::Json => builder.json().try_init(),
    };
}
