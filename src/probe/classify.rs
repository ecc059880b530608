//! Maps a transport error to its [`Outcome`] by looking at the typed errors in its source chain.

use std::error::Error as StdError;
use std::io;

use super::resolver::DnsFailure;
use crate::outcome::Outcome;

/// The outcome a failed request came to.
pub fn classify_error(err: &reqwest::Error) -> Outcome {
    if err.is_timeout() {
        return Outcome::Timeout;
    }

    let mut io_kind = None;
    for cause in causes(err) {
        if cause.is::<DnsFailure>() {
            return Outcome::DnsError;
        }
        if cause.is::<rustls::Error>() {
            return Outcome::TlsError;
        }
        if let Some(io_err) = cause.downcast_ref::<io::Error>() {
            io_kind.get_or_insert(io_err.kind());
        }
    }

    if err.is_body() || err.is_decode() {
        return Outcome::BodyError;
    }
    if io_kind == Some(io::ErrorKind::TimedOut) {
        return Outcome::Timeout;
    }
    // Refused, reset or closed before any response: the connection did not carry a request.
    Outcome::ConnectError
}

/// Every error in the source chain, including the errors that `io::Error`s wrap: tokio-rustls
/// reports a TLS failure as an `io::Error` around an `io::Error` around the `rustls::Error`, and
/// `io::Error::source` skips the wrapped error itself.
fn causes<'a>(err: &'a reqwest::Error) -> Vec<&'a (dyn StdError + 'static)> {
    let mut found = Vec::new();
    let mut next: Option<&'a (dyn StdError + 'static)> = Some(err);

    while let Some(cause) = next {
        found.push(cause);
        let wrapped = cause
            .downcast_ref::<io::Error>()
            .and_then(|io_err| io_err.get_ref())
            .map(|inner| inner as &(dyn StdError + 'static));
        next = wrapped.or_else(|| cause.source());
    }
    found
}
