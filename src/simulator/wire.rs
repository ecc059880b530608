//! Google's wire conventions the simulator copies: the error body, canonical status names, the
//! headers every answer carries, and the raw bytes of a response head for answers that break
//! off mid-way.

use std::time::Duration;

use axum::body::Body;
use axum::response::Response;
use bytes::Bytes;
use http::{HeaderValue, StatusCode, header};
use serde_json::json;

/// A complete answer before it is sent: status, body and the few headers that vary.
#[derive(Debug, Clone)]
pub(crate) struct Answer {
    pub(crate) status: StatusCode,
    pub(crate) body: Bytes,
    pub(crate) content_type: &'static str,
    /// Whole seconds for a `Retry-After` header.
    pub(crate) retry_after: Option<u64>,
}

/// The content type of every JSON answer.
pub(crate) const JSON: &str = "application/json; charset=UTF-8";

impl Answer {
    /// A 200 with a JSON body.
    pub(crate) fn json(value: &serde_json::Value) -> Answer {
        Answer {
            status: StatusCode::OK,
            body: Bytes::from(serde_json::to_vec(value).expect("a JSON value always serializes")),
            content_type: JSON,
            retry_after: None,
        }
    }

    /// Google's error body for `code`, with its canonical status name and `message`.
    pub(crate) fn error(code: u16, message: &str) -> Answer {
        let body = json!({
            "error": { "code": code, "message": message, "status": status_name(code) }
        });
        Answer {
            status: StatusCode::from_u16(code).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR),
            ..Answer::json(&body)
        }
    }

    /// Google's error body for `code` with the message the real service uses for it.
    pub(crate) fn canonical_error(code: u16) -> Answer {
        Answer::error(code, default_message(code))
    }

    /// The axum response, with the headers every answer carries.
    pub(crate) fn into_response(self, elapsed: Duration) -> Response {
        let mut response = Response::new(Body::from(self.body));
        *response.status_mut() = self.status;
        let headers = response.headers_mut();
        headers.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static(self.content_type),
        );
        headers.insert("server-timing", server_timing(elapsed));
        headers.insert(
            header::VARY,
            HeaderValue::from_static("Origin, X-Origin, Referer"),
        );
        headers.insert(
            header::SERVER,
            HeaderValue::from_static("scaffolding on HTTPServer2"),
        );
        headers.insert(
            "x-content-type-options",
            HeaderValue::from_static("nosniff"),
        );
        if let Some(seconds) = self.retry_after {
            headers.insert(header::RETRY_AFTER, HeaderValue::from(seconds));
        }
        response
    }

    /// The status line, headers and the first `body_bytes` bytes of the body, with a
    /// `Content-Length` that announces the whole body.
    pub(crate) fn partial_bytes(&self, elapsed: Duration, body_bytes: usize) -> Bytes {
        let reason = self.status.canonical_reason().unwrap_or("Unknown");
        let mut head = format!(
            "HTTP/1.1 {} {reason}\r\ncontent-type: {}\r\ncontent-length: {}\r\n\
             server-timing: {}\r\ndate: {}\r\nserver: scaffolding on HTTPServer2\r\n\r\n",
            self.status.as_u16(),
            self.content_type,
            self.body.len(),
            server_timing(elapsed).to_str().unwrap_or_default(),
            httpdate::fmt_http_date(std::time::SystemTime::now()),
        )
        .into_bytes();
        head.extend_from_slice(&self.body[..body_bytes.min(self.body.len())]);
        Bytes::from(head)
    }
}

fn server_timing(elapsed: Duration) -> HeaderValue {
    HeaderValue::from_str(&format!("gfet4t7; dur={}", elapsed.as_millis()))
        .expect("digits are a valid header value")
}

/// The canonical status name Google puts in `error.status` for an HTTP code.
pub(crate) fn status_name(code: u16) -> &'static str {
    match code {
        400 => "INVALID_ARGUMENT",
        401 => "UNAUTHENTICATED",
        403 => "PERMISSION_DENIED",
        404 => "NOT_FOUND",
        409 => "ABORTED",
        412 => "FAILED_PRECONDITION",
        416 => "OUT_OF_RANGE",
        429 => "RESOURCE_EXHAUSTED",
        499 => "CANCELLED",
        500 => "INTERNAL",
        501 => "NOT_IMPLEMENTED",
        503 => "UNAVAILABLE",
        504 => "DEADLINE_EXCEEDED",
        _ if code < 500 => "FAILED_PRECONDITION",
        _ => "UNKNOWN",
    }
}

fn default_message(code: u16) -> &'static str {
    match code {
        400 => "Request contains an invalid argument.",
        401 => "Request had invalid authentication credentials.",
        403 => "The caller does not have permission",
        404 => "Requested entity was not found.",
        429 => "Resource has been exhausted (e.g. check quota).",
        500 => "An internal error has occurred. Please retry or report the problem.",
        501 => "Method not implemented.",
        503 => "The service is currently unavailable.",
        504 => "Deadline expired before operation could complete.",
        _ => "The request failed.",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn error_body_has_googles_shape() {
        let answer = Answer::canonical_error(503);

        let body: serde_json::Value = serde_json::from_slice(&answer.body).unwrap();

        assert_eq!(answer.status, StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(
            body,
            json!({"error": {"code": 503, "message": "The service is currently unavailable.", "status": "UNAVAILABLE"}})
        );
    }

    #[test]
    fn partial_bytes_announce_the_whole_body() {
        let answer = Answer::json(&json!({"name": "batches/abc"}));

        let bytes = answer.partial_bytes(Duration::from_millis(12), 5);

        let text = String::from_utf8(bytes.to_vec()).unwrap();
        assert!(text.starts_with("HTTP/1.1 200 OK\r\n"));
        assert!(text.contains(&format!("content-length: {}\r\n", answer.body.len())));
        assert!(text.contains("server-timing: gfet4t7; dur=12\r\n"));
        assert!(text.ends_with("\r\n\r\n{\"nam"));
    }
}
