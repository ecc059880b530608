//! The HTTP server: `/metrics` for Prometheus, `/healthz`, `POST /-/reload`, the verdict as JSON
//! at `/api/v1/verdict`, and the status page at `/`.
//!
//! Paths and behaviour follow Prometheus' own servers and exporters: `/-/reload` accepts POST
//! and PUT, the metrics format is negotiated from `Accept`.

use std::sync::Arc;

use axum::Router;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::{get, post};
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

use crate::metrics::Format;
use crate::service::Service;

/// Builds the router over a running service.
pub fn router(service: Arc<Service>) -> Router {
    Router::new()
        .route("/", get(status_page))
        .route("/metrics", get(metrics))
        .route("/healthz", get(healthz))
        .route("/-/reload", post(reload).put(reload))
        .route("/api/v1/verdict", get(verdict))
        .with_state(service)
}

/// Serves until `shutdown` fires.
pub async fn serve(
    listener: TcpListener,
    service: Arc<Service>,
    shutdown: CancellationToken,
) -> std::io::Result<()> {
    if let Ok(addr) = listener.local_addr() {
        tracing::info!(%addr, "serving metrics, verdict and status page");
    }
    axum::serve(listener, router(service))
        .with_graceful_shutdown(async move { shutdown.cancelled().await })
        .await
}

async fn metrics(State(service): State<Arc<Service>>, headers: HeaderMap) -> Response {
    let accept = headers.get(header::ACCEPT).and_then(|v| v.to_str().ok());
    let format = Format::from_accept(accept);

    // The verdict gauges are brought up to date at scrape time.
    service.recorder().verdict();
    match service.recorder().metrics.encode(format) {
        Ok(text) => ([(header::CONTENT_TYPE, format.content_type())], text).into_response(),
        Err(_) => (StatusCode::INTERNAL_SERVER_ERROR, "cannot encode metrics\n").into_response(),
    }
}

async fn healthz() -> &'static str {
    "ok\n"
}

async fn reload(State(service): State<Arc<Service>>) -> Response {
    match service.reload().await {
        Ok(()) => (StatusCode::OK, "config reloaded\n").into_response(),
        Err(err) => (
            StatusCode::INTERNAL_SERVER_ERROR,
            format!("config reload failed, running config kept: {err}\n"),
        )
            .into_response(),
    }
}

async fn verdict(State(service): State<Arc<Service>>) -> Response {
    axum::Json(service.recorder().verdict()).into_response()
}

async fn status_page(State(service): State<Arc<Service>>) -> Html<String> {
    Html(crate::status_page::render(&service.recorder().verdict()))
}
