//! Sends one probe request and turns whatever happens into an [`Observation`].
//!
//! This is where network trouble becomes data: refused connections, failed name lookups, TLS
//! handshakes, timeouts, bodies cut mid-way and bodies of the wrong shape each map to one
//! [`Outcome`]. [`HttpProber::send`] cannot fail. By default a body is read only up to the
//! target's limit and the connection is then dropped, so a healthy gigabyte of results is not
//! downloaded on every check.

mod classify;
mod resolver;
mod span;

use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use futures_util::StreamExt;
use tracing::Instrument;

use crate::outcome::{Observation, Outcome};
use crate::provider::{ProbeRequest, Provider};
use crate::slice::{Operation, SliceKey};

pub use classify::classify_error;
pub use resolver::{DnsFailure, SystemResolver};

/// How much of a body to read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BodyRead {
    /// Read up to this many bytes, then drop the connection.
    Limit(u64),
    /// Read the whole body.
    Full,
}

/// What the prober learned beyond the observation: the body, when it was read whole.
#[derive(Debug)]
pub struct Response {
    /// The observation, always present.
    pub observation: Observation,
    /// The complete body, when the outcome is success and the body was read to its end.
    pub body: Option<bytes::Bytes>,
}

/// Sends probe requests with one shared HTTP client.
#[derive(Clone)]
pub struct HttpProber {
    client: reqwest::Client,
}

impl HttpProber {
    /// A prober that resolves names with the system resolver.
    pub fn new() -> Result<HttpProber, reqwest::Error> {
        HttpProber::with_resolver(Arc::new(SystemResolver))
    }

    /// A prober with its own name resolver, which tests use to produce lookup failures without
    /// asking a real DNS server.
    pub fn with_resolver(
        resolver: Arc<dyn reqwest::dns::Resolve>,
    ) -> Result<HttpProber, reqwest::Error> {
        install_crypto_provider();

        let client = reqwest::Client::builder()
            .user_agent(concat!("batchprobe/", env!("CARGO_PKG_VERSION")))
            .dns_resolver(resolver)
            // Redirects and connection reuse would hide what a fresh client sees; each probe
            // opens its own connection so a broken path shows up as a connect error.
            .redirect(reqwest::redirect::Policy::none())
            .pool_max_idle_per_host(0)
            .connect_timeout(Duration::from_secs(10))
            .build()?;

        Ok(HttpProber { client })
    }

    /// Sends `request` and reads the answer within `timeout`. Always returns an observation.
    pub async fn send(
        &self,
        provider: &dyn Provider,
        slice: SliceKey,
        request: ProbeRequest,
        timeout: Duration,
        body_read: BodyRead,
    ) -> Response {
        let span = span::request_span(&slice, &request);
        let mut headers = request.headers.clone();
        span::inject_trace_context(&span, &mut headers);
        let started = Instant::now();
        let operation = slice.operation;
        let mut status = None;
        let mut retry_after = None;
        let mut response_bytes = 0;

        let attempt = async {
            let builder = self
                .client
                .request(request.method.clone(), request.url.clone())
                .headers(headers);
            let response = builder
                .send()
                .await
                .map_err(|e| (classify_error(&e), None))?;

            status = Some(response.status().as_u16());
            retry_after = retry_after_of(&response);
            let success = response.status().is_success();

            let (body, complete) = read_body(response, body_read, &mut response_bytes).await?;
            if !success {
                return Err((Outcome::HttpError, None));
            }
            if complete {
                provider
                    .validate(operation, &body)
                    .map_err(|reason| (Outcome::InvalidBody, Some(reason)))?;
                return Ok(Some(body));
            }
            // A partial body can only be checked for its start.
            if !looks_like_json_start(&body, operation) {
                return Err((
                    Outcome::InvalidBody,
                    Some("body does not start as JSON".into()),
                ));
            }
            Ok(None)
        };

        let attempt = tokio::time::timeout(timeout, attempt).instrument(span.clone());
        let (outcome, body) = match attempt.await {
            Ok(Ok(body)) => (Outcome::Success, body),
            Ok(Err((outcome, reason))) => {
                if let Some(reason) = reason {
                    tracing::debug!(%slice, %reason, "probe body rejected");
                }
                (outcome, None)
            }
            Err(_) => (Outcome::Timeout, None),
        };

        let observation = Observation {
            slice,
            outcome,
            status,
            duration: started.elapsed(),
            response_bytes,
            finished_at: SystemTime::now(),
            retry_after,
            trace_id: span::trace_id(&span),
        };
        span::record_result(&span, &observation);
        Response { observation, body }
    }
}

/// Reads the body up to the limit. Returns the bytes and whether they are the whole body.
async fn read_body(
    response: reqwest::Response,
    body_read: BodyRead,
    counted: &mut u64,
) -> Result<(bytes::Bytes, bool), (Outcome, Option<String>)> {
    let limit = match body_read {
        BodyRead::Limit(limit) => limit,
        BodyRead::Full => u64::MAX,
    };
    let mut body = bytes::BytesMut::new();
    let mut stream = response.bytes_stream();

    while let Some(chunk) = stream.next().await {
        let chunk = chunk.map_err(|e| (classify_error(&e).for_body(), None))?;
        *counted += chunk.len() as u64;

        let room = limit.saturating_sub(body.len() as u64) as usize;
        body.extend_from_slice(&chunk[..chunk.len().min(room)]);
        if *counted > limit {
            // Dropping the stream closes the connection: the rest is not downloaded.
            return Ok((body.freeze(), false));
        }
    }
    Ok((body.freeze(), true))
}

impl Outcome {
    /// A transport error after the status line arrived is a broken body, whatever its cause,
    /// except a timeout.
    fn for_body(self) -> Outcome {
        match self {
            Outcome::Timeout => Outcome::Timeout,
            _ => Outcome::BodyError,
        }
    }
}

fn looks_like_json_start(body: &[u8], operation: Operation) -> bool {
    let first = body.iter().find(|b| !b.is_ascii_whitespace());
    match operation {
        Operation::Download => first.is_some(),
        _ => first == Some(&b'{'),
    }
}

/// `Retry-After` is honoured only where it means "come back later": on 429 and 503.
fn retry_after_of(response: &reqwest::Response) -> Option<Duration> {
    let status = response.status().as_u16();
    if status != 429 && status != 503 {
        return None;
    }

    let value = response
        .headers()
        .get(http::header::RETRY_AFTER)?
        .to_str()
        .ok()?;
    parse_retry_after(value, SystemTime::now())
}

/// Parses `Retry-After` as delay seconds or an HTTP date.
pub fn parse_retry_after(value: &str, now: SystemTime) -> Option<Duration> {
    let value = value.trim();
    if let Ok(seconds) = value.parse::<u64>() {
        return Some(Duration::from_secs(seconds));
    }

    let at = httpdate::parse_http_date(value).ok()?;
    Some(at.duration_since(now).unwrap_or(Duration::ZERO))
}

/// reqwest is built without a bundled crypto provider; ring is installed once, process-wide.
/// Anything in the process that builds its own `reqwest::Client` calls this first.
pub fn install_crypto_provider() {
    // An error means a provider is already installed, which is all that is needed.
    let _ = rustls::crypto::ring::default_provider().install_default();
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retry_after_reads_seconds_and_dates() {
        let now = SystemTime::UNIX_EPOCH + Duration::from_secs(1_000_000);
        let later = httpdate::fmt_http_date(now + Duration::from_secs(30));

        assert_eq!(
            parse_retry_after("120", now),
            Some(Duration::from_secs(120))
        );
        assert_eq!(
            parse_retry_after(&later, now),
            Some(Duration::from_secs(30))
        );
        assert_eq!(parse_retry_after("soon", now), None);
    }
}
