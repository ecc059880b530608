//! What one probe request came to: the closed set of outcomes and the observation that carries
//! it to metrics and to the verdict.
//!
//! A probe failure is data. Every request the scheduler sends ends in exactly one
//! [`Observation`], whatever happened on the wire; nothing here can fail.

use std::fmt;
use std::time::{Duration, SystemTime};

use serde::{Deserialize, Serialize};

use crate::slice::SliceKey;

/// How a probe request ended. The set is closed: dashboards and alerts rely on these values.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    /// A 2xx status and a body of the shape the operation promises.
    Success,
    /// Any non-2xx status; the code itself is a separate label.
    HttpError,
    /// No complete answer within the check's timeout.
    Timeout,
    /// The TCP connection could not be made (refused, unreachable, reset before a response).
    ConnectError,
    /// The host name did not resolve.
    DnsError,
    /// The TLS handshake failed.
    TlsError,
    /// The status arrived but the body broke off: reset or truncated mid-body.
    BodyError,
    /// The body arrived but is not what the operation promises, e.g. a SUCCEEDED job without
    /// output, or not JSON at all.
    InvalidBody,
}

impl Outcome {
    /// Every outcome, in a stable order.
    pub const ALL: [Outcome; 8] = [
        Outcome::Success,
        Outcome::HttpError,
        Outcome::Timeout,
        Outcome::ConnectError,
        Outcome::DnsError,
        Outcome::TlsError,
        Outcome::BodyError,
        Outcome::InvalidBody,
    ];

    /// The label value.
    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Success => "success",
            Outcome::HttpError => "http_error",
            Outcome::Timeout => "timeout",
            Outcome::ConnectError => "connect_error",
            Outcome::DnsError => "dns_error",
            Outcome::TlsError => "tls_error",
            Outcome::BodyError => "body_error",
            Outcome::InvalidBody => "invalid_body",
        }
    }

    /// Whether the request never got an HTTP response: the trouble lies on the network path.
    pub fn is_network_level(self) -> bool {
        matches!(
            self,
            Outcome::Timeout | Outcome::ConnectError | Outcome::DnsError | Outcome::TlsError
        )
    }
}

impl fmt::Display for Outcome {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The record of one probe request: which slice, how it ended, what it cost.
#[derive(Debug, Clone, PartialEq)]
pub struct Observation {
    /// The slice this request belongs to.
    pub slice: SliceKey,
    /// How the request ended.
    pub outcome: Outcome,
    /// The HTTP status, `None` when no response arrived.
    pub status: Option<u16>,
    /// From sending the request to the end of the body read (or the failure).
    pub duration: Duration,
    /// Body bytes read. A partial read counts what was read.
    pub response_bytes: u64,
    /// When the request finished.
    pub finished_at: SystemTime,
    /// A pause the provider asked for with `Retry-After` on a 429 or 503.
    pub retry_after: Option<Duration>,
    /// The trace id of the request's span, when tracing is exported; used for exemplars.
    pub trace_id: Option<String>,
}

impl Observation {
    /// The `code` label: the HTTP status as text, `"0"` when there was no response.
    pub fn code_label(&self) -> String {
        self.status
            .map_or_else(|| "0".to_string(), |s| s.to_string())
    }

    /// Whether this request counts as failed: any outcome but success, or a 5xx.
    pub fn is_failure(&self) -> bool {
        self.outcome != Outcome::Success || self.status.is_some_and(|s| s >= 500)
    }
}
